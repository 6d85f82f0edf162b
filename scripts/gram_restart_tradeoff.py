#!/usr/bin/env python3
"""What the Gram form's restart buys (src/duality/polar.c), measured with
modnorm itself: the Frobenius and max-entry deviation of the Gram form from
the direct form, with and without restarts, on gradient-like k x 4k inputs.

    cp -r . /tmp/norestart && cd /tmp/norestart &&
      sed -i 's/^#define RESTART_GAIN .*/#define RESTART_GAIN 1e300/' src/duality/polar.c &&
      meson setup b --buildtype=release -Dtests=disabled && ninja -C b src/cli/modnorm
    /usr/bin/python3 scripts/gram_restart_tradeoff.py --no-restart /tmp/norestart/b/src/cli/modnorm \\
        [--modnorm build/src/cli/modnorm] [--methods ns5,polar-express,you6] [--sizes 256,512,1024,2048]

Prints one Markdown row per size, input and method: deviation of the
restarted Gram form (modnorm's) and of the unrestarted one from the direct
form, as ‖X − D‖_F / ‖D‖_F and max |X − D| / max |D|. Inputs come from
scripts/polar_gram_accuracy.py (Gaussian omitted: no form deviates there)."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from polar_gram_accuracy import inputs  # noqa: E402


def dualize(binary, method, form, src, dst):
    subprocess.run([binary, "dualize", "--norm", "spectral", "--method", method, "--form", form,
                    "--threads", "2", src, dst], check=True)
    return np.load(dst).astype(np.float64)


def deviation(X, D):
    return np.linalg.norm(X - D) / np.linalg.norm(D), np.abs(X - D).max() / np.abs(D).max()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modnorm", default=os.path.join(HERE, "..", "build", "src", "cli", "modnorm"))
    ap.add_argument("--no-restart", required=True, help="a modnorm built with RESTART_GAIN 1e300")
    ap.add_argument("--methods", default="ns5,polar-express,you6")
    ap.add_argument("--sizes", default="256,512,1024,2048")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    src, dst = os.path.join(tmp, "g.npy"), os.path.join(tmp, "x.npy")
    print("| k x 4k | input | method | restarted: Frobenius | max-entry "
          "| no restart: Frobenius | max-entry |")
    print("|---|---|---|---|---|---|---|")
    for k in map(int, args.sizes.split(",")):
        rng = np.random.default_rng(1)
        for label, G in inputs(rng, k, 4 * k):
            if label == "gaussian":
                continue
            np.save(src, (G / np.linalg.norm(G)).astype(np.float32))
            for method in args.methods.split(","):
                D = dualize(args.modnorm, method, "direct", src, dst)
                r = deviation(dualize(args.modnorm, method, "gram", src, dst), D)
                n = deviation(dualize(args.no_restart, method, "gram", src, dst), D)
                print(f"| {k}x{4 * k} | {label} | {method} | {r[0]:.1e} | {r[1]:.1e} "
                      f"| {n[0]:.1e} | {n[1]:.1e} |", flush=True)


if __name__ == "__main__":
    main()
