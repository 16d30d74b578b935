#!/bin/sh
# From the Debian packages to the shipped RGB camera encoder and its camera-bench figures (seeded, step-scheduled).
# Usage: models/pipeline/reproduce_rgb.sh [STOP_AT]   env: RUNS (run dir), STEPS (schedule length)
# STOP_AT and STEPS default to the step the shipped manifest reports: one warmup-stable-decay schedule of that length,
# the one the shipped run followed (it was resumed at constant LR and given its final --steps before the decay began).
set -eu
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-models/pipeline/runs-rgb/repro}
SHIPPED=$(/usr/bin/python3 -c "import json; print(json.load(open('models/rgb-cam-vicreg-int8.json'))['metrics']['steps'])")
STEPS=${STEPS:-$SHIPPED}
STOP=${1:-$SHIPPED}
[ -f models/pipeline/runs-rgb/pool/pool.json ] || /usr/bin/python3 -W ignore models/pipeline/rgb_data.py build-pool
for m in vicreg random; do
  models/pipeline/torchrun.sh --nproc_per_node=1 --master_port=29535 models/pipeline/train_rgb.py \
    --method $m --runs-dir "$RUNS" --steps "$STEPS" --stop-at "$STOP"
done
ckpt=$(ls "$RUNS"/rgb-vicreg/encoder-step*.pt | tail -1)
/usr/bin/python3 -W ignore models/pipeline/ship_rgb.py "$ckpt"
/usr/bin/python3 models/pipeline/export.py "$RUNS/rgb-random/encoder.pt" --out "$RUNS/rgb-random/fp32.onnx"
/usr/bin/python3 models/pipeline/quantize.py "$RUNS/rgb-random/fp32.onnx" --out "$RUNS/rgb-random/int8.onnx"
[ -f bench/camera/.cache/camera-v1/meta.json ] || /usr/bin/python3 -W ignore bench/camera/build.py
/usr/bin/python3 -W ignore bench/camera/mobilenetv2_ref.py   # the pretrained reference, from node_modules/nsfwjs
node --import tsx bench/camera/run.ts --model "rgb-cam-random-fp32=$RUNS/rgb-random/fp32.onnx" \
  --model "rgb-cam-random-int8=$RUNS/rgb-random/int8.onnx" \
  --model "ref=bench/camera/.cache/mobilenetv2/mobilenetv2-nsfwjs-fp32.json" \
  --model "ref=bench/camera/.cache/mobilenetv2/mobilenetv2-nsfwjs-pm1-fp32.json"
/usr/bin/python3 -W ignore models/pipeline/ship_rgb.py "$ckpt" --metrics bench/camera/results.json --metrics-only
