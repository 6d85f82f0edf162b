#!/usr/bin/env bash
# Issue #15's must-show: modula's small GPT (width 128, 4 heads, 4 blocks,
# context 64, batch 12, 2000 steps) on the fortunes corpus, one run at a
# time: modular Muon at its default rate, AdamW (standard parametrization,
# 1/sqrt(d_head) attention) at the rates given, the add-one bigram, samples.
#
#   scripts/gpt_must_show.sh [RUN...]      RUN: muon, adam-LR (e.g. adam-0.002), bigram,
#                                          sample-NAME, attention-NAME; default: all
#
# Writes results/gpt/NAME.jsonl (train --json), NAME.time (wall and CPU
# seconds, the load average before and after: the machine is shared), NAME.st
# (checkpoints; not committed; a rerun of NAME replaces them, --overwrite),
# bigram.json, sample-NAME.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
M=${MODNORM:-build/src/cli/modnorm}
OUT=${OUT:-results/gpt}
THREADS=${THREADS:-1}
mkdir -p "$OUT"
COMMON=(--model gpt --data text --width 128 --depth 4 --set dhead=32 --context 64 --batch 12
        --steps 2000 --threads "$THREADS" --json)

train() {
  local name=$1; shift
  local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
  /usr/bin/time -f '%e %U %S' -o "$OUT/$name.cpu" \
    "$M" train "${COMMON[@]}" "$@" --checkpoint "$OUT/$name.st" --overwrite > "$OUT/$name.jsonl"
  read -r wall user sys < "$OUT/$name.cpu"
  rm -f "$OUT/$name.cpu"
  printf 'wall_seconds %s\ncpu_seconds %s\nload_before %s\nload_after %s\nthreads %s\nargs %s\n' \
    "$wall" "$(echo "$user + $sys" | bc)" "$load" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$THREADS" "$*" > "$OUT/$name.time"
  tail -1 "$OUT/$name.jsonl"
}

run() {
  case $1 in
    muon) train muon --opt muon ;;
    muon-rerun) train muon-rerun --opt muon ;;
    muon-wd-*) train "$1" --opt muon --wd "${1#muon-wd-}" ;;
    adam-*) train "$1" --opt adam --param sp --lr "${1#adam-}" ;;
    bigram) "$M" baseline --data text --json | tee "$OUT/bigram.json" ;;
    sample-*) "$M" sample --checkpoint "$OUT/${1#sample-}.st" --prompt "${PROMPT:-Q: What is }" \
                --tokens "${TOKENS:-600}" --temperature "${TEMPERATURE:-0.8}" --seed 1 \
                | tee "$OUT/$1.txt" ;;
    attention-*) "$M" attention --checkpoint "$OUT/${1#attention-}.st" --data text --json \
                   | tee "$OUT/$1.json" ;;
    *) echo "unknown run '$1'" >&2; exit 2 ;;
  esac
}

if (($# == 0)); then
  set -- bigram muon adam-0.001 adam-0.002 adam-0.004 adam-0.008 adam-0.016 muon-wd-0.03 \
    muon-wd-0.1 sample-muon attention-muon
fi
for r in "$@"; do run "$r"; done
