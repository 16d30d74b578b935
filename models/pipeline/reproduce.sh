#!/bin/sh
# One command from scratch to the shipped zoo: test sample, every run (seeded, the step count the
# shipped run reached, on a step-based schedule), then export/quantize/evaluate/ship into models/.
# Usage: models/pipeline/reproduce.sh [methods...]     env: RUNS (run dir), SHIP=0 to only train and evaluate
set -eu
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-models/pipeline/runs/repro}
METHODS=${*:-"simclr vicreg byol dae supervised random"}
/usr/bin/python3 models/pipeline/make_sample.py > /dev/null
for m in $METHODS; do
  steps=$(/usr/bin/python3 -c "import json; print(json.load(open('models/pipeline/results.json'))['runs']['$m']['steps'] or 0)")
  if [ "$m" = random ]; then set --; else set -- --steps "$steps"; fi
  models/pipeline/torchrun.sh --nproc_per_node=1 --master_port=29533 models/pipeline/train.py \
    --method "$m" --runs-dir "$RUNS" "$@"
done
if [ "${SHIP:-1}" = 1 ]; then
  /usr/bin/python3 models/pipeline/ship.py --runs-dir "$RUNS" --methods $METHODS
else
  /usr/bin/python3 models/pipeline/ship.py --runs-dir "$RUNS" --methods $METHODS --no-write
fi
