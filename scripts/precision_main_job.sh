#!/usr/bin/env bash
# The quick start's main job at each precision, alternating fp32 and bf16
# for ROUNDS rounds (default 2), so a shared machine's slow and fast phases
# fall on both alike. Prints each run's result line and its wall/CPU time.
#   scripts/precision_main_job.sh [ROUNDS] > results/precision/mainjob.txt
set -euo pipefail
cd "$(dirname "$0")/.."
M=${MODNORM:-build/src/cli/modnorm}
date -u
for ((r = 1; r <= ${1:-2}; r++)); do
  for p in fp32 bf16; do
    echo "round $r precision $p load $(cut -d' ' -f1 /proc/loadavg)"
    /usr/bin/time -f "wall %e s user %U s" "$M" train --data fashion-mnist --model mlp \
      --width 512 --depth 3 --opt muon --batch 128 --epochs 5 --precision "$p" 2>&1 | tail -2
  done
done
