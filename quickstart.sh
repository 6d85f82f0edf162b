#!/usr/bin/env bash
# modnorm quick start: install what is missing (Debian/Ubuntu, apt-get),
# configure and build with Meson/Ninja, then
#   ./quickstart.sh         run the main job
#   ./quickstart.sh test    run the whole test suite (Check, via meson test)
set -euo pipefail
cd "$(dirname "$0")"

packages=(gcc g++ pkg-config meson ninja-build libblis-dev liblapacke-dev check zlib1g-dev libjansson-dev
          dataset-fashion-mnist fortunes valgrind libplplot-dev plplot-driver-cairo fonts-dejavu-core libdnnl-dev
          openmpi-bin libopenmpi-dev python3-numpy)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "quickstart: installing ${missing[*]}"
  sudo=""
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || { echo "quickstart: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build=${MODNORM_BUILD_DIR:-build}
if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" -Dtests=enabled --buildtype=release
fi
ninja -C "$build"

case "${1:-run}" in
  test)
    meson test -C "$build" --print-errorlogs --num-processes 2
    ;;
  run)
    # The main job: MLP 784-512-512-10 on Fashion-MNIST, modular Muon, batch
    # 128, 5 epochs, the default learning rate and schedule.
    "$build/src/cli/modnorm" train --data fashion-mnist --model mlp --width 512 --depth 3 \
      --opt muon --batch 128 --epochs 5
    ;;
  *)
    echo "usage: ./quickstart.sh [run|test]" >&2
    exit 2
    ;;
esac
