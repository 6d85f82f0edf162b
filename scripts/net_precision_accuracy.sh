#!/usr/bin/env bash
# Does training hold its accuracy with bf16 products (issue #16's speed
# lever, issue #18's rule: keep it only if accuracy holds)? Runs, at one
# thread each (JOBS at a time, default 2) so that the numbers do not depend
# on the machine's load:
#   mlp  the quick start's main job (MLP 784-512-512-10, modular Muon,
#        polar-express, 5 epochs) for seeds 0-2 under every pair of
#        --precision (the polar iteration) and --net-precision (Linear's
#        forward and backward products);
#   gpt  the GPT of the transfer study (width 128, depth 4, head size 32,
#        1000 steps on the fortunes) at the three rates around its optimum,
#        under the same four pairs.
# Prints one JSON line per run ("job", "precision", "net_precision", "seed",
# "lr" for the GPT, the final losses and accuracy), in a fixed order.
#   scripts/net_precision_accuracy.sh > results/precision/net-bf16.jsonl
#   PAIRS="fp32/fp32 bf16/bf16" SEEDS="3 4 5" GPT_LRS= scripts/net_precision_accuracy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export M=${MODNORM:-build/src/cli/modnorm}
export OUT=${OUT:-results/precision/net-bf16}
mkdir -p "$OUT"

one() { # JOB P NP SEED-or-LR
  local job=$1 p=$2 np=$3 x=$4 f="$OUT/$1-$2-$3-$4.json"
  [[ -s $f ]] && return 0 # done in an earlier call
  if [[ $job == mlp ]]; then
    "$M" train --data fashion-mnist --model mlp --width 512 --depth 3 --opt muon --batch 128 \
      --epochs 5 --precision "$p" --net-precision "$np" --seed "$x" --threads 1 --json |
      tail -1 >"$f.tmp"
  else
    "$M" train --model gpt --data text --context 64 --set dhead=32 --batch 12 --steps 1000 \
      --opt muon --width 128 --depth 4 --lr "$x" --seed 0 --precision "$p" \
      --net-precision "$np" --threads 1 --json | tail -1 >"$f.tmp"
  fi
  mv "$f.tmp" "$f"
}
export -f one

# PAIRS ("POLAR/NET ...") and SEEDS (of the main job) narrow or widen it;
# GPT_LRS="" leaves the GPT out.
PAIRS=${PAIRS:-fp32/fp32 fp32/bf16 bf16/fp32 bf16/bf16}
SEEDS=${SEEDS:-0 1 2}
GPT_LRS=${GPT_LRS-0.0625 0.125 0.25}
runs() {
  for pair in $PAIRS; do
    p=${pair%/*} np=${pair#*/}
    for s in $SEEDS; do echo "mlp $p $np $s"; done
    for lr in $GPT_LRS; do echo "gpt $p $np $lr"; done
  done
}
runs | xargs -P "${JOBS:-2}" -L 1 bash -c 'one "$@"' _
runs | while read -r job p np x; do
  /usr/bin/python3 -c "import json,sys
r = json.load(open(sys.argv[1]))
k = 'seed' if sys.argv[2] == 'mlp' else 'lr'
print(json.dumps({'job': sys.argv[2], 'precision': sys.argv[3], 'net_precision': sys.argv[4],
                  k: float(sys.argv[5]) if k == 'lr' else int(sys.argv[5]),
                  **{q: r[q] for q in ('test_acc', 'test_loss', 'train_loss') if q in r}}))" \
    "$OUT/$job-$p-$np-$x.json" "$job" "$p" "$np" "$x"
done
