#!/usr/bin/env python3
"""Peer timing of the public NS5 polar iteration (Muon's quintic x 5) in
PyTorch or NumPy, float32, on a Gaussian M x N matrix.

    /usr/bin/python3 bench/peer_ns5.py --lib torch|numpy --shape 1024x4096 \
        [--threads T] [--repeat R]

Prints one JSON line like `modnorm bench dualize --json`. Thread counts:
torch.set_num_threads(T); for NumPy set OPENBLAS_NUM_THREADS before the
import (this script does it from --threads)."""
import argparse
import json
import os
import sys
import time

A, B, C = 3.4445, -4.7750, 2.0315


def ns5_torch(torch, g, steps=5):
    x = g
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    x = x / (torch.linalg.norm(x) + 1e-7)
    for _ in range(steps):
        gram = x @ x.T
        poly = B * gram + C * (gram @ gram)
        x = A * x + poly @ x
    return x.T if tall else x


def ns5_numpy(np, g, steps=5):
    x = g
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    x = x / (np.linalg.norm(x) + np.float32(1e-7))
    for _ in range(steps):
        gram = x @ x.T
        poly = np.float32(B) * gram + np.float32(C) * (gram @ gram)
        x = np.float32(A) * x + poly @ x
    return x.T if tall else x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", choices=["torch", "numpy"], required=True)
    ap.add_argument("--shape", default="1024x4096")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="OpenBLAS's own pool (default: --threads); torch's best here is "
                         "--threads 1 --blas-threads 2, whose OpenMP threads do not spin "
                         "against OpenBLAS's")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    m, n = (int(v) for v in args.shape.split("x"))
    blas_threads = args.blas_threads or args.threads
    os.environ["OPENBLAS_NUM_THREADS"] = str(blas_threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import numpy as np

    rng = np.random.default_rng(7)
    g = rng.standard_normal((m, n)).astype(np.float32)
    if args.lib == "torch":
        import torch

        torch.set_num_threads(args.threads)
        gt = torch.from_numpy(g)
        run = lambda: ns5_torch(torch, gt)  # noqa: E731
        to_np = lambda x: x.numpy()  # noqa: E731
    else:
        run = lambda: ns5_numpy(np, g)  # noqa: E731
        to_np = lambda x: x  # noqa: E731
    out = run()  # warm-up
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
    times.sort()
    u, _, vt = np.linalg.svd(g.astype(np.float64), full_matrices=False)
    p = u @ vt
    err = float(np.linalg.norm(to_np(out) - p) / np.linalg.norm(p))
    print(json.dumps({"shape": args.shape, "method": "ns5", "lib": args.lib,
                      "threads": args.threads, "blas_threads": blas_threads, "ms_median": 1e3 * times[len(times) // 2],
                      "ms_min": 1e3 * times[0], "ms_max": 1e3 * times[-1], "polar_err": err}))


if __name__ == "__main__":
    sys.exit(main())
