#!/bin/sh
# From the Debian packages to the shipped RGB camera encoder and its camera-bench figures (seeded, step-scheduled).
# Usage: models/pipeline/reproduce_rgb.sh        env: RUNS (run dir)
# The shipped recipe, in two phases (as the shipped run went, minus its session breaks):
#   1. camera views, the --steps 6400 warmup-stable schedule stopped at step 5120, its last constant-LR step
#      (the state models/pipeline/checkpoints/rgb-vicreg-step5120-predecay.pt holds);
#   2. from that state, deployed views (--aug deployed) with a short linear decay over 5120-5720.
# The end step is checked against the shipped manifest's metrics.steps.
set -eu
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-models/pipeline/runs-rgb/repro}
PRE_STEPS=6400
PRE_STOP=5120
END=5720
DECAY=0.105
SHIPPED=$(/usr/bin/python3 -c "import json; print(json.load(open('models/rgb-cam-vicreg-int8.json'))['metrics']['steps'])")
[ "$SHIPPED" = "$END" ] || { echo "the shipped manifest says step $SHIPPED, this recipe ends at $END" >&2; exit 1; }
[ -f models/pipeline/runs-rgb/pool/pool.json ] || /usr/bin/python3 -W ignore models/pipeline/rgb_data.py build-pool
models/pipeline/torchrun.sh --nproc_per_node=1 --master_port=29535 models/pipeline/train_rgb.py \
  --method vicreg --runs-dir "$RUNS" --steps "$PRE_STEPS" --stop-at "$PRE_STOP"
OMP_WAIT_POLICY=PASSIVE models/pipeline/torchrun.sh --nproc_per_node=1 --master_port=29535 models/pipeline/train_rgb.py \
  --method vicreg --runs-dir "$RUNS" --run rgb-vicreg-deployed --aug deployed --threads 2 --steps "$END" \
  --decay-frac "$DECAY" --snapshot-every 100 --resume "$RUNS/rgb-vicreg/checkpoint-predecay.pt" --resume-changes aug,decay_frac
models/pipeline/torchrun.sh --nproc_per_node=1 --master_port=29535 models/pipeline/train_rgb.py \
  --method random --runs-dir "$RUNS"
ckpt=$RUNS/rgb-vicreg-deployed/encoder-step$(printf %06d "$END").pt
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
# Ship rule: a new default must also pass the example tests (16/16 each), not only the bench (see models/README.md).
node scripts/test.mjs test/browser/example-phone.test.ts test/browser/example-kiosk.test.ts
