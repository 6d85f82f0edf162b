#!/usr/bin/env python3
"""Peer timing of one training step of modnorm's built-in CNN (examples/cnn.mn)
in PyTorch: the same network and the same optimizer.

Network, NCHW, no biases: (B, 784) seen as (B, 1, 28, 28) -> Conv2d(W, 3x3,
padding 1) -> ReLU -> MaxPool(2) -> Conv2d(2W, 3x3, padding 1) -> ReLU ->
MaxPool(2) -> Flatten -> Linear(hidden) -> ReLU -> Linear(10), softmax
cross-entropy on random inputs and labels.

Optimizer: modular Muon as modnorm defines it: EMA momentum m = 0.9 m + 0.1 g,
then w -= lr * t_k * lmo_k(m) with the targets t_k that `modnorm inspect
--model cnn` prints (1/16, 1/8, 1/4, 1/4: the convolutions sit before
MaxPools of sensitivity 2) and the lmos
  Linear            sqrt(d_out/d_in) * polar(m)
  Conv2d, per tap   (1/k^2) sqrt(d_out/d_in) * polar(m[:, :, i, j]), the k^2
                    taps as ONE batched NS5 on a (k^2, d_out, d_in) tensor
  Conv2d, flattened (1/k) sqrt(d_out/d_in) * polar(m.reshape(d_out, d_in*k^2))
with the NS5 polar iteration (Muon's quintic x 5; run modnorm with --method
ns5 to compare like with like). --opt adam runs torch.optim.AdamW instead.

    /usr/bin/python3 bench/peer_cnn.py [--opt muon|adam] [--norm taps|flat] \
        [--width 32] [--hidden 128] [--batch 128] [--threads T] [--steps N]

Prints one JSON line like `modnorm bench step --json`, with images_per_s."""
import argparse
import json
import math
import os
import resource
import sys
import time

from peer_ns5 import ns5_torch  # NS5 on a batch of matrices

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--opt", choices=["muon", "adam"], default="muon")
    ap.add_argument("--norm", choices=["taps", "flat"], default="taps")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    w = args.width
    nn = torch.nn
    model = nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, w, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(w, 2 * w, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * w * 49, args.hidden, bias=False), nn.ReLU(),
        nn.Linear(args.hidden, 10, bias=False))
    params = list(model.parameters())
    targets = [1 / 16, 1 / 8, 1 / 4, 1 / 4]  # modnorm inspect --model cnn
    x = torch.randn(args.batch, 784)
    y = torch.randint(0, 10, (args.batch,))
    if args.opt == "adam":
        opt = torch.optim.AdamW(params, lr=1e-3)
    else:
        momentum = [torch.zeros_like(p) for p in params]
        lr, beta = 0.1, 0.9

    def lmo(m):
        if m.dim() == 2:
            d_out, d_in = m.shape
            return math.sqrt(d_out / d_in) * ns5_torch(torch, m)
        d_out, d_in, k, _ = m.shape
        if args.norm == "flat":
            p = ns5_torch(torch, m.reshape(d_out, d_in * k * k)).reshape(m.shape)
            return math.sqrt(d_out / d_in) / k * p
        taps = m.permute(2, 3, 0, 1).reshape(k * k, d_out, d_in)  # (k^2, d_out, d_in)
        p = ns5_torch(torch, taps).reshape(k, k, d_out, d_in).permute(2, 3, 0, 1)
        return math.sqrt(d_out / d_in) / (k * k) * p

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        model.zero_grad(set_to_none=False)
        loss.backward()
        with torch.no_grad():
            if args.opt == "adam":
                opt.step()
            else:
                for p, m, t in zip(params, momentum, targets):
                    m.mul_(beta).add_(p.grad, alpha=1 - beta)
                    p.sub_(lr * t * lmo(m))

    step()  # warm-up
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"model": "cnn", "width": w, "hidden": args.hidden, "batch": args.batch,
                      "opt": args.opt, "norm": args.norm, "lib": "torch " + torch.__version__,
                      "threads": args.threads, "ms_per_step": 1e3 * med,
                      "ms_min": 1e3 * times[0], "ms_max": 1e3 * times[-1],
                      "images_per_s": args.batch / med, "peak_rss_mb": rss}))


if __name__ == "__main__":
    sys.exit(main())
