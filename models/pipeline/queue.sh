#!/bin/sh
# Equal-budget comparison: every method trains for the same trained wall-clock, one after another.
# Usage: models/pipeline/queue.sh [minutes] [methods...]   (logs in models/pipeline/runs/<method>.log)
set -u
cd "$(dirname "$0")/../.."
MIN=${1:-8}
[ $# -gt 0 ] && shift
METHODS=${*:-"simclr vicreg byol dae supervised random"}
mkdir -p models/pipeline/runs
for m in $METHODS; do
  echo "$(date -u +%H:%M:%S) start $m" >> models/pipeline/runs/queue.log
  models/pipeline/torchrun.sh --nproc_per_node=1 --master_port=29531 models/pipeline/train.py \
    --method "$m" --budget-min "$MIN" > "models/pipeline/runs/$m.log" 2>&1
  echo "$(date -u +%H:%M:%S) end $m rc=$?" >> models/pipeline/runs/queue.log
done
