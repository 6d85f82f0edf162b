#!/usr/bin/env bash
# Install the benchmark peers (Debian): PyTorch, NumPy, and OpenBLAS for
# NumPy — without letting OpenBLAS take over the system's libblas/liblapack
# (modnorm's LAPACK calls keep the reference LAPACK on BLIS). compare.py
# points NumPy at OpenBLAS with LD_LIBRARY_PATH for the peer process only.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq python3-numpy python3-torch libopenblas0-pthread
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
update-alternatives --set "libblas.so.3-$arch" "/usr/lib/$arch/blis-openmp/libblas.so.3"
update-alternatives --set "liblapack.so.3-$arch" "/usr/lib/$arch/lapack/liblapack.so.3"
