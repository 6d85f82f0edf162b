#!/usr/bin/env bash
# Does training hold its accuracy with bf16 products (issue #16's speed
# lever, issue #18's rule: keep it only if accuracy holds)? Runs, at one
# thread each so that the numbers do not depend on the machine's load:
#   1. the quick start's main job (MLP 784-512-512-10, modular Muon,
#      polar-express, 5 epochs) for seeds 0-2 under every pair of
#      --precision (the polar iteration) and --net-precision (Linear's
#      forward and backward products);
#   2. the GPT of the transfer study (width 128, depth 4, head size 32,
#      1000 steps on the fortunes) at the rates around its optimum, fp32
#      against bf16 products, both precisions of the polar iteration.
# Each result is one JSON line ("precision", "net_precision", "seed", the
# final losses and accuracy) on stdout.
#   scripts/net_precision_accuracy.sh > results/precision/net-bf16.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
M=${MODNORM:-build/src/cli/modnorm}
OUT=${OUT:-results/precision/net-bf16}
mkdir -p "$OUT"
for seed in 0 1 2; do
  for p in fp32 bf16; do
    for np in fp32 bf16; do
      "$M" train --data fashion-mnist --model mlp --width 512 --depth 3 --opt muon --batch 128 \
        --epochs 5 --precision "$p" --net-precision "$np" --seed "$seed" --threads 1 --json |
        tail -1 | /usr/bin/python3 -c "import json,sys; r=json.loads(sys.stdin.read()); \
print(json.dumps(dict(job='mlp', precision='$p', net_precision='$np', seed=$seed, \
**{k: r[k] for k in ('test_acc','test_loss','train_loss') if k in r})))"
    done
  done
done
for p in fp32 bf16; do
  for np in fp32 bf16; do
    "$M" sweep --model gpt --data text --context 64 --set dhead=32 --batch 12 --steps 1000 \
      --opt muon --depth 4 --over width=128 --lrs 2^-4:2^-2 --seeds 1 --jobs 1 \
      --precision "$p" --net-precision "$np" --out "$OUT/gpt-$p-$np" >&2
    tail -n +2 "$OUT/gpt-$p-$np/results.csv" | while IFS=, read -r w lr s train test acc div; do
      echo "{\"job\": \"gpt\", \"precision\": \"$p\", \"net_precision\": \"$np\", \"lr\": $lr, \"seed\": $s, \"train_loss\": $train, \"test_loss\": $test}"
    done
  done
done
