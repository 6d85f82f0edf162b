#!/usr/bin/env bash
# The sweep fixtures for the BLIS kernel set in use, into
# tests/data/study/ARCH/{sweep-muon,sweep-sgd}: the commands test_sweep.c
# runs, through the binary, keeping sweep.cfg, results.csv and summary.json.
#
#   scripts/make_sweep_fixtures.sh [BUILD]        (BUILD: default build)
#   BLIS_ARCH_TYPE=3 scripts/make_sweep_fixtures.sh   (BLIS's haswell kernels)
#
# Why per kernel set: another set sums each product in another order, and 30
# Muon steps at rates up to 2 amplify that rounding chaotically (5.8% in a
# row on zen3 against the skx fixture), so a sweep can only be checked to
# 1e-12 against a fixture made with its own kernels. The skx fixtures in
# tests/data/study/NAME are the originals, made before the CLI moved onto the
# library; tm_sweep_fixture (tests/testutil.c) picks the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
M=${1:-build}/src/cli/modnorm
arch=$("$M" bench gemm --n 64 --repeat 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["arch"])')
if [[ $arch == skx ]]; then
  echo "make_sweep_fixtures: skx is the originals' kernel set (tests/data/study/NAME); nothing to do" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fixture() {
  local name=$1; shift
  "$M" sweep "$@" --jobs 2 --out "$tmp/$name" > /dev/null 2> "$tmp/$name.log" \
    || { cat "$tmp/$name.log" >&2; exit 1; }
  mkdir -p "tests/data/study/$arch/$name"
  cp "$tmp/$name"/{sweep.cfg,results.csv,summary.json} "tests/data/study/$arch/$name/"
  echo "wrote tests/data/study/$arch/$name"
}
# The same arguments as sweep_fixture() in tests/test_sweep.c.
fixture sweep-muon --widths 32,64 --lrs 2^-4:2^1 --steps 30 --seeds 2
fixture sweep-sgd --widths 32,64 --depth 2 --opt sgd --lrs 2^-3:2^2 --steps 30 --seeds 1
