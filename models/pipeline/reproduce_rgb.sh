#!/bin/sh
# From the Debian packages to the shipped RGB camera encoder and its camera-bench figures (seeded, step-scheduled).
# Usage: models/pipeline/reproduce_rgb.sh [STOP_AT]   env: RUNS (run dir), STEPS (schedule length, default 3000)
# STOP_AT (default: the step the shipped manifest reports) stops the run where the shipped snapshot was taken.
set -eu
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-models/pipeline/runs-rgb/repro}
STEPS=${STEPS:-3000}
STOP=${1:-$(/usr/bin/python3 -c "import json; print(json.load(open('models/rgb-cam-vicreg-int8.json'))['metrics']['steps'])")}
[ -f models/pipeline/runs-rgb/pool/pool.json ] || /usr/bin/python3 -W ignore models/pipeline/rgb_data.py build-pool
for m in vicreg random; do
  models/pipeline/torchrun.sh --nproc_per_node=1 --master_port=29535 models/pipeline/train_rgb.py \
    --method $m --runs-dir "$RUNS" --steps "$STEPS" --stop-at "$STOP"
done
ckpt=$(ls "$RUNS"/rgb-vicreg/encoder-step*.pt | tail -1)
/usr/bin/python3 -W ignore models/pipeline/ship_rgb.py "$ckpt"
/usr/bin/python3 models/pipeline/export.py "$RUNS/rgb-random/encoder.pt" --out "$RUNS/rgb-random/fp32.onnx"
[ -f bench/camera/.cache/camera-v1/meta.json ] || /usr/bin/python3 -W ignore bench/camera/build.py
node --import tsx bench/camera/run.ts --model "rgb-cam-random-fp32=$RUNS/rgb-random/fp32.onnx"
/usr/bin/python3 -W ignore models/pipeline/ship_rgb.py "$ckpt" --metrics bench/camera/results.json --metrics-only
