#!/usr/bin/env bash
# The training fixtures for the kernels in use, into tests/data/study/SET/:
# sweep-muon and sweep-sgd (sweep.cfg, results.csv, summary.json) and
# coord-muon and coord-adam (coord.csv, stdout.txt), made by the commands
# test_sweep.c runs, through the binary.
#
#   scripts/make_sweep_fixtures.sh [BUILD]        (BUILD: default build)
#   BLIS_ARCH_TYPE=3 scripts/make_sweep_fixtures.sh   (BLIS's haswell kernels)
#
# SET is BLIS's kernel set, with "-onednn" after it where oneDNN runs a
# float32 network's Linear products (`bench gemm --json`'s linear_fp32):
# tm_kernel_set in tests/testutil.c. Why per set: another set sums each
# product in another order, and 30 Muon steps at rates up to 2 amplify that
# rounding chaotically (5.8% in a row on zen3 against the skx fixture), so a
# run can only be checked to 1e-12 against a fixture made with its own
# kernels. The originals in tests/data/study/NAME were made with BLIS's skx
# kernels alone (a build without oneDNN), before the CLI moved onto the
# library; tm_fixture_dir (tests/testutil.c) picks the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
M=${1:-build}/src/cli/modnorm
set_name=$("$M" bench gemm --n 64 --repeat 1 --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j["arch"] + ("-onednn" if j["linear_fp32"].startswith("oneDNN") else ""))')
if [[ $set_name == skx ]]; then
  echo "make_sweep_fixtures: skx alone is the originals' kernel set (tests/data/study/NAME); nothing to do" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=tests/data/study/$set_name
sweep() {
  local name=$1; shift
  "$M" sweep "$@" --jobs 2 --out "$tmp/$name" > /dev/null 2> "$tmp/$name.log" \
    || { cat "$tmp/$name.log" >&2; exit 1; }
  mkdir -p "$out/$name"
  cp "$tmp/$name"/{sweep.cfg,results.csv,summary.json} "$out/$name/"
  echo "wrote $out/$name"
}
coord() {
  local name=$1; shift
  "$M" coordcheck "$@" --out "$tmp/$name" > "$tmp/$name.stdout" 2> "$tmp/$name.log" \
    || { cat "$tmp/$name.log" >&2; exit 1; }
  mkdir -p "$out/$name"
  cp "$tmp/$name/coord.csv" "$out/$name/"
  cp "$tmp/$name.stdout" "$out/$name/stdout.txt"
  echo "wrote $out/$name"
}
# The same arguments as sweep_fixture() and coord_fixture() in tests/test_sweep.c.
sweep sweep-muon --widths 32,64 --lrs 2^-4:2^1 --steps 30 --seeds 2
sweep sweep-sgd --widths 32,64 --depth 2 --opt sgd --lrs 2^-3:2^2 --steps 30 --seeds 1
coord coord-muon --widths 32,64,128 --opt muon --steps 5
coord coord-adam --over width=32,64,128 --opt adam --param sp --depth 4 --steps 3
