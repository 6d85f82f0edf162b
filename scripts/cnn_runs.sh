#!/bin/sh
# The README's CNN results (Results: "CNN on Fashion-MNIST"), one job at a
# time, single-threaded: the machine is 2 cores shared with other sessions.
#   scripts/cnn_runs.sh MODNORM OUT      (e.g. build/src/cli/modnorm results/cnn)
# (Run here in two parts: the sweeps first with --lrs up to 0.4, which put
# the best rate at the edge, then again up to 1.6 into the same directories,
# which trains only the new rates; the width sweep's first grid was replaced
# before it started.)
set -u
M=${1:-build/src/cli/modnorm}
OUT=${2:-results/cnn}
mkdir -p "$OUT"
export OMP_NUM_THREADS=1
log() { echo "$(date -u +%H:%M:%S) $*" >> "$OUT/runs.log"; }

# 1. the Muon run at its default rate (5 epochs, batch 128, lr 0.1, linear decay)
log "muon start"
"$M" train --model cnn --epochs 5 --threads 1 > "$OUT/muon_default_first.txt" 2>&1
log "muon done"

# 2. images/s against the PyTorch peer, alternating rounds
log "bench start"
/usr/bin/python3 bench/cnn_compare.py --modnorm "$M" --rounds 5 --steps 20 --threads 1 \
    > "$OUT/bench_muon.txt" 2>&1
log "bench done"

# 3. AdamW at five rates, the budget of the Muon run
for lr in 0.001 0.002 0.0005 0.004 0.008; do
    log "adam $lr start"
    /usr/bin/time -f "wall %e s" "$M" train --model cnn --threads 1 --opt adam --lr $lr --json \
        > "$OUT/adam_lr$lr.jsonl" 2> "$OUT/adam_lr$lr.err"
    log "adam $lr done"
done

# 4. per tap against flattened, each over seven rates (half an epoch)
for f in 0 1; do
    log "norms flat=$f start"
    "$M" sweep --model cnn --over width=32 --set flat=$f --lrs 0.025,0.05,0.1,0.2,0.4,0.8,1.6 \
        --steps 234 --out "$OUT/norm_flat$f" > "$OUT/norm_flat$f.txt" 2>&1
    log "norms flat=$f done"
done

# 5. channel-width sweep: 4 widths x 6 rates x 2 seeds
log "width sweep start"
"$M" sweep --model cnn --over width=4,8,16,32 --lrs 2^-4:2^1 --seeds 2 --steps 100 \
    --out "$OUT/width" > "$OUT/width.txt" 2>&1
log "width sweep done"

# 6. the Muon run again, by the final build, with --json; the bench again
log "muon (final build) start"
/usr/bin/time -f "wall %e s" "$M" train --model cnn --threads 1 --json \
    > "$OUT/muon_default.jsonl" 2> "$OUT/muon_default.err"
log "muon (final build) done"
/usr/bin/python3 bench/cnn_compare.py --modnorm "$M" --rounds 5 --steps 20 --threads 1 \
    > "$OUT/bench_muon_final.txt" 2>&1
