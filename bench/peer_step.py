#!/usr/bin/env python3
"""Peer timing of one training step of the MLP 784-W-W-10 (no biases, ReLU,
batch B, softmax cross-entropy) in PyTorch: forward + backward + update, with
either modular Muon written out as modnorm defines it (EMA momentum, NS5 polar
factor, w -= lr * t_k * sqrt(d_out/d_in) * polar(m), t_k = 1/3) or
torch.optim.AdamW. --dtype bf16 runs Muon's NS5 as the public recipe does, in
bfloat16 (peer_ns5.ns5_torch_bf16; weights, gradients and momentum stay fp32).

    /usr/bin/python3 bench/peer_step.py --opt muon|adam [--width 1024] \
        [--batch 128] [--threads T] [--steps N] [--dtype fp32|bf16]

Prints one JSON line like `modnorm bench step --json`."""
import argparse
import json
import math
import os
import resource
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--opt", choices=["muon", "adam"], default="muon")
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="OpenBLAS's own pool (default: --threads); torch's best here is "
                         "--threads 1 --blas-threads 2, whose OpenMP threads do not spin "
                         "against OpenBLAS's")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32",
                    help="the Muon polar iteration's dtype (bf16: the public recipe)")
    args = ap.parse_args()
    # Torch's BLAS may be OpenBLAS (compare.py puts it first), which sizes its
    # own thread pool from these at load time, whatever set_num_threads says.
    blas_threads = args.blas_threads or args.threads
    os.environ["OPENBLAS_NUM_THREADS"] = str(blas_threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    from peer_ns5 import ns5_torch, ns5_torch_bf16

    polar = ns5_torch_bf16 if args.dtype == "bf16" else ns5_torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dims = [784] + [args.width] * (args.depth - 1) + [10]
    layers = []
    for i in range(args.depth):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1], bias=False))
        if i < args.depth - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    params = [p for p in model.parameters()]
    x = torch.randn(args.batch, 784)
    y = torch.randint(0, 10, (args.batch,))
    if args.opt == "adam":
        opt = torch.optim.AdamW(params, lr=1e-3)
    else:
        momentum = [torch.zeros_like(p) for p in params]
        lr, beta, target = 0.1, 0.9, 1.0 / args.depth

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        model.zero_grad(set_to_none=False)
        loss.backward()
        with torch.no_grad():
            if args.opt == "adam":
                opt.step()
            else:
                for p, m in zip(params, momentum):
                    m.mul_(beta).add_(p.grad, alpha=1 - beta)
                    d_out, d_in = p.shape
                    p.sub_(lr * target * math.sqrt(d_out / d_in) * polar(torch, m).to(p.dtype))

    step()  # warm-up
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"model": "mlp", "width": args.width, "depth": args.depth,
                      "batch": args.batch, "opt": args.opt, "lib": "torch", "dtype": args.dtype,
                      "threads": args.threads, "blas_threads": blas_threads, "ms_per_step": 1e3 * times[len(times) // 2],
                      "ms_min": 1e3 * times[0], "ms_max": 1e3 * times[-1], "peak_rss_mb": rss}))


if __name__ == "__main__":
    sys.exit(main())
