#!/usr/bin/env bash
# Issue #16's transfer protocol: does the best learning rate of the GPT
# (`--model gpt`, head size 32, batch 12, context 64, 1000 steps, the fortunes)
# move with width (64 … 512 at 4 blocks) and with depth (2 … 16 blocks at
# width 128)? Modular Muon on rates 2^-6 … 2^0, and the control, AdamW in
# standard parametrization (`--opt adam --param sp`: PyTorch's init, scores
# 1/√d_head) on a grid extended downward to 2^-10 (its optimum lies below 2^-6).
#
#   scripts/gpt_transfer.sh [PHASE...]     PHASE: 1 2 3 4 summary (default: all, in order)
#
# Every step is a `modnorm sweep … --jobs 2` into results/gpt-transfer/NAME/
# (muon-width, muon-depth, adam-width, adam-depth), which trains only the runs
# its results.csv lacks: rerun the script (or a phase) after a stop and it
# resumes, losing at most the two runs in flight. The order puts the cheapest
# complete studies first:
#   1  one seed: widths 64, 128, 256 and depths 2, 4, 8 (Muon, then AdamW
#      on 2^-10 … 2^-4)
#   2  one seed: width 512 on the 4 rates around width 256's optimum (and
#      2 more below or above while its best is at the edge), depth 16
#   3  seeds 1 and 2 at every width <= 256 and every depth (the depth study is
#      at width 128)
#   4  AdamW's rates 2^-3 … 2^0 (the rest of the protocol's grid; expected to
#      diverge, so last)
#   summary  `sweep --no-run` over everything present: DIR/summary.json,
#      summary.txt (the table), loss_vs_lr.png/.svg
# A summary runs after each phase too.
#
# Depth 4 at width 128 is the same run in both studies (same model, data,
# settings, rate and seed): the depth study takes those rows from the width
# study instead of training them again. Its sweep.cfg is the width study's
# with `depth=4` replaced by `width=128`, written before its first run, so a
# setting that differed would be refused by the sweep, not mixed in.
#
# Pausing (the machine's cores are shared with timing measurements):
#   pkill -STOP -f 'modnorm sweep'   and later   pkill -CONT -f 'modnorm sweep'
# stop and continue the training processes; this script only waits for them.
set -euo pipefail
cd "$(dirname "$0")/.."
M=${MODNORM:-build/src/cli/modnorm}
OUT=${OUT:-results/gpt-transfer}
JOBS=${JOBS:-2}
mkdir -p "$OUT"

# STEPS, WIDTHS, DEPTHS and the grids can be set from the environment for a smoke test.
COMMON=(--model gpt --data text --context 64 --set dhead=32 --batch 12 --steps "${STEPS:-1000}")
MUON=(--opt muon)
ADAM=(--opt adam --param sp)
MUON_LRS=${MUON_LRS:-2^-6:2^0}
ADAM_LRS_LOW=${ADAM_LRS_LOW:-2^-10:2^-4}   # phases 1-3: around AdamW's optimum
ADAM_LRS=${ADAM_LRS:-2^-12:2^0}            # the whole grid (phase 4 adds 2^-3 … 2^0;
                                           # 2^-12, 2^-11 only where width 512 needs them)
ADAM_LRS_HIGH=${ADAM_LRS_HIGH:-2^-3:2^0}
WIDTHS=${WIDTHS:-64,128,256}
DEPTHS=${DEPTHS:-2,4,8}

log() { printf '%s %s\n' "$(date -u +%FT%TZ)" "$*" | tee -a "$OUT/run.log" >&2; }

# sweep NAME STUDY(width|depth) VALUES LRS SEEDS OPT-ARGS…
sweep() {
  local name=$1 study=$2 values=$3 lrs=$4 seeds=$5; shift 5
  local fixed=(--depth 4)
  [[ $study == depth ]] && fixed=(--width 128)
  local t0=$SECONDS
  log "start $name: --over $study=$values --lrs $lrs --seeds $seeds $*"
  "$M" sweep "${COMMON[@]}" "$@" "${fixed[@]}" --over "$study=$values" --lrs "$lrs" \
    --seeds "$seeds" --jobs "$JOBS" --out "$OUT/$name" > "$OUT/$name.last.txt" 2>> "$OUT/$name.log"
  log "done  $name: --over $study=$values --lrs $lrs --seeds $seeds ($((SECONDS - t0)) s wall)"
}

# The width study's width-128 rows as the depth study's depth-4 rows (those
# the depth study lacks), and its sweep.cfg, before the depth study runs.
share_depth4() {
  local src=$OUT/$1-width dst=$OUT/$1-depth
  [[ -f $src/results.csv && -f $src/sweep.cfg ]] || return 0
  mkdir -p "$dst"
  if [[ ! -f $dst/sweep.cfg ]]; then
    sed 's/^depth=4$/width=128/' "$src/sweep.cfg" > "$dst/sweep.cfg"
  fi
  [[ -f $dst/results.csv ]] || echo 'depth,lr,seed,train_loss,test_loss,test_acc,diverged' \
    > "$dst/results.csv"
  local before; before=$(wc -l < "$dst/results.csv")
  awk -F, 'NR == FNR { if (FNR > 1) have[$1 "," $2 "," $3] = 1; next }
           FNR > 1 && $1 == 128 && !(("4," $2 "," $3) in have) { $1 = 4; print }' OFS=, \
    "$dst/results.csv" "$src/results.csv" >> "$dst/results.csv"
  log "share $1: $(( $(wc -l < "$dst/results.csv") - before )) width-128 rows -> depth 4"
}

# The 4 grid rates around the optimum of width 256 (of the largest width
# with one, up to 256): best/4 … 2·best, or best/2 … 4·best when the
# parabola's vertex lies above the grid point.
rates_512() {
  python3 - "$OUT/$1-width/summary.json" <<'EOF'
import json, math, sys
s = json.load(open(sys.argv[1]))
pts = [p for p in s["per_width"] if p["width"] <= 256 and p["best_lr"] is not None]
p = max(pts, key=lambda p: p["width"])
e = round(math.log2(p["best_lr"]))
up = p["best_lr_refined"] is not None and p["best_lr_refined"] > p["best_lr"]
lo = e - 1 if up else e - 2
print(",".join("2^%d" % k for k in range(lo, lo + 4)))
EOF
}

# extend_512 NAME LRS OPT-ARGS…: while width 512's best rate is the lowest
# (highest) it was run at, two more rates below (above) it, at most twice:
# every best rate inside its grid. LRS: the whole grid, for the summary.
extend_512() {
  local name=$1 lrs=$2; shift 2
  local more
  for _ in 1 2; do
    summary "$name" width 512 "$lrs" 3 "$@"
    more=$(python3 - "$OUT/$name/summary.json" "$OUT/$name/results.csv" <<'EOF'
import csv, json, math, sys
s = json.load(open(sys.argv[1]))
p = [p for p in s["per_width"] if p["width"] == 512 and p["best_lr"] is not None]
tried = [float(r["lr"]) for r in csv.DictReader(open(sys.argv[2])) if r["width"] == "512"]
if p and p[0]["at_edge"] and tried:
    e = round(math.log2(p[0]["best_lr"]))
    if p[0]["best_lr"] <= min(tried):
        print("2^%d,2^%d" % (e - 2, e - 1))
    elif p[0]["best_lr"] >= max(tried):
        print("2^%d,2^%d" % (e + 1, e + 2))
EOF
)
    [[ -n $more ]] || return 0
    sweep "$name" width 512 "$more" 1 "$@"
  done
}

# summary NAME STUDY VALUES LRS SEEDS OPT-ARGS…: the table and plots of what is there.
summary() {
  local name=$1 study=$2 values=$3 lrs=$4 seeds=$5; shift 5
  [[ -f $OUT/$name/results.csv ]] || return 0
  local fixed=(--depth 4)
  [[ $study == depth ]] && fixed=(--width 128)
  "$M" sweep "${COMMON[@]}" "$@" "${fixed[@]}" --over "$study=$values" --lrs "$lrs" \
    --seeds "$seeds" --no-run --out "$OUT/$name" > "$OUT/$name/summary.txt" 2>&1 || true
  log "summary $name: $(tail -n +1 "$OUT/$name/summary.txt" | grep -m1 '^slope' || echo none)"
}

summaries() {
  summary muon-width width "$WIDTHS,512" "$MUON_LRS" 3 "${MUON[@]}"
  summary muon-depth depth "$DEPTHS,16" "$MUON_LRS" 3 "${MUON[@]}"
  summary adam-width width "$WIDTHS,512" "$ADAM_LRS" 3 "${ADAM[@]}"
  summary adam-depth depth "$DEPTHS,16" "$ADAM_LRS" 3 "${ADAM[@]}"
}

phase() {
  case $1 in
    1)
      sweep muon-width width "$WIDTHS" "$MUON_LRS" 1 "${MUON[@]}"
      share_depth4 muon
      sweep muon-depth depth "$DEPTHS" "$MUON_LRS" 1 "${MUON[@]}"
      sweep adam-width width "$WIDTHS" "$ADAM_LRS_LOW" 1 "${ADAM[@]}"
      share_depth4 adam
      sweep adam-depth depth "$DEPTHS" "$ADAM_LRS_LOW" 1 "${ADAM[@]}"
      ;;
    2)
      summary muon-width width "$WIDTHS" "$MUON_LRS" 3 "${MUON[@]}"
      sweep muon-width width 512 "$(rates_512 muon)" 1 "${MUON[@]}"
      extend_512 muon-width "$MUON_LRS" "${MUON[@]}"
      sweep muon-depth depth 16 "$MUON_LRS" 1 "${MUON[@]}"
      summary adam-width width "$WIDTHS" "$ADAM_LRS" 3 "${ADAM[@]}"
      sweep adam-width width 512 "$(rates_512 adam)" 1 "${ADAM[@]}"
      extend_512 adam-width "$ADAM_LRS" "${ADAM[@]}"
      sweep adam-depth depth 16 "$ADAM_LRS_LOW" 1 "${ADAM[@]}"
      ;;
    3)
      sweep muon-width width "$WIDTHS" "$MUON_LRS" 3 "${MUON[@]}"
      share_depth4 muon
      sweep muon-depth depth "$DEPTHS,16" "$MUON_LRS" 3 "${MUON[@]}"
      sweep adam-width width "$WIDTHS" "$ADAM_LRS_LOW" 3 "${ADAM[@]}"
      share_depth4 adam
      sweep adam-depth depth "$DEPTHS,16" "$ADAM_LRS_LOW" 3 "${ADAM[@]}"
      ;;
    4)
      sweep adam-width width "$WIDTHS" "$ADAM_LRS_HIGH" 3 "${ADAM[@]}"
      share_depth4 adam
      sweep adam-depth depth "$DEPTHS,16" "$ADAM_LRS_HIGH" 3 "${ADAM[@]}"
      ;;
    summary) ;;
    *) echo "unknown phase '$1'" >&2; exit 2 ;;
  esac
  summaries
}

(($# == 0)) && set -- 1 2 3 4
log "gpt_transfer.sh $* (pid $$, $M)"
for p in "$@"; do phase "$p"; done
log "gpt_transfer.sh $* finished"
