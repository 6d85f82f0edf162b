#!/usr/bin/env python3
"""Peer timing of the public NS5 polar iteration (Muon's quintic x 5) in
PyTorch or NumPy, float32, on a Gaussian M x N matrix; and (--dtype bf16,
PyTorch only) the public Muon recipe in bfloat16, as KellerJordan/Muon's
zeropower_via_newtonschulz5 writes it: X = G.bfloat16(), X / (norm + 1e-7),
transposed when rows > cols, every product and update in bf16 (PyTorch runs
bf16 matmuls on CPU through oneDNN; ONEDNN_VERBOSE=1 shows the kernels).

    /usr/bin/python3 bench/peer_ns5.py --lib torch|numpy --shape 1024x4096 \
        [--dtype fp32|bf16] [--threads T] [--repeat R]

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
    """NS5 on the last two dimensions of g (one matrix or a batch), in g's dtype."""
    x = g
    tall = x.shape[-2] > x.shape[-1]
    if tall:
        x = x.mT
    x = x / (torch.linalg.norm(x, dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        gram = x @ x.mT
        poly = B * gram + C * (gram @ gram)
        x = A * x + poly @ x
    return x.mT if tall else x


def ns5_torch_bf16(torch, g, steps=5):
    """KellerJordan/Muon's zeropower_via_newtonschulz5 (bf16), on the last two dimensions."""
    a, b, c = (3.4445, -4.7750, 2.0315)
    x = g.bfloat16()
    tall = g.size(-2) > g.size(-1)
    if tall:
        x = x.mT
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        A = x @ x.mT
        B = b * A + c * A @ A
        x = a * x + B @ x
    if tall:
        x = x.mT
    return x


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
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: the public Muon recipe in bfloat16 (PyTorch only)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="OpenBLAS's own pool (default: --threads); torch's best here is "
                         "--threads 1 --blas-threads 2, whose OpenMP threads do not spin "
                         "against OpenBLAS's")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if args.dtype == "bf16" and args.lib != "torch":
        ap.error("--dtype bf16 needs --lib torch (NumPy has no bfloat16)")
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
        ns5 = ns5_torch_bf16 if args.dtype == "bf16" else ns5_torch
        run = lambda: ns5(torch, gt)  # noqa: E731
        to_np = lambda x: x.float().numpy()  # noqa: E731
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
    print(json.dumps({"shape": args.shape, "method": "ns5", "lib": args.lib, "dtype": args.dtype,
                      "threads": args.threads, "blas_threads": blas_threads, "ms_median": 1e3 * times[len(times) // 2],
                      "ms_min": 1e3 * times[0], "ms_max": 1e3 * times[-1], "polar_err": err}))


if __name__ == "__main__":
    sys.exit(main())
