#!/bin/sh
# One command from scratch to the shipped zoo: test sample, every run in results.json (seeded, with its method, width,
# embedding size and the step count it reached, on a step-based schedule), then export/quantize/evaluate/ship into models/.
# Usage: models/pipeline/reproduce.sh [results.json keys...]     env: RUNS (run dir), SHIP=0 to only train and evaluate
set -eu
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-models/pipeline/runs/repro}
KEYS=${*:-$(/usr/bin/python3 -c "import json; print(' '.join(json.load(open('models/pipeline/results.json'))['runs']))")}
/usr/bin/python3 models/pipeline/make_sample.py > /dev/null
for k in $KEYS; do
  set -- $(/usr/bin/python3 -c "
import json; r = json.load(open('models/pipeline/results.json'))['runs']['$k']; c = r['config']
print(c['method'], c['width'], c['dim'], r['steps'] or 0)")
  method=$1 width=$2 dim=$3 steps=$4
  if [ "$method" = random ]; then extra=""; else extra="--steps $steps"; fi
  # The run directory is named after the results.json key: ship.py ships the SSL keys that are method names.
  models/pipeline/torchrun.sh --nproc_per_node=1 --master_port=29533 models/pipeline/train.py \
    --method "$method" --run "$k" --width "$width" --dim "$dim" --runs-dir "$RUNS" $extra
done
if [ "${SHIP:-1}" = 1 ]; then
  /usr/bin/python3 models/pipeline/ship.py --runs-dir "$RUNS" --methods $KEYS
else
  /usr/bin/python3 models/pipeline/ship.py --runs-dir "$RUNS" --methods $KEYS --no-write
fi
