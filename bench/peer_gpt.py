#!/usr/bin/env python3
"""Peer timing of one training step of modnorm's built-in GPT (examples/gpt.mn)
in PyTorch: the same model and the same optimizer, written out here.

Model (scripts/make_torch_gpt_fixture.py is the float64 original), tokens
(B, T), no biases, no normalization layer:
    x = E[:, tokens]                          Embed, E is (d, vocab)
    per block, a = 1/(2·blocks):
        q, k, v = x Wq^T, x Wk^T, x Wv^T       heads (B, T, h, dh), dh = d/h
        q, k = rope(q), rope(k)                pairs (x_j, x_{j+dh/2}) rotated by
                                               t·10000^(-2j/dh)
        A = softmax(mask(q·k / dh)); o = (A v) / 3, heads merged
        x = (1 - a)·x + a·(o Wo^T)
        x = (1 - a)·x + a·(gelu(x W1^T) / 1.1289041451851545) W2^T    (erf GELU)
    logits = x Wr^T; mean cross-entropy over every position.

Optimizer: modular Muon as modnorm runs it (`modnorm bench step --model gpt
--method ns5`): m = 0.9 m + 0.1 g, w -= lr·t_k·lmo_k(m), lr 0.1, the targets
t_k that `modnorm inspect --model gpt` prints (Embed and readout 1/7, V Q K
5/7, Wo W1 W2 5/21), and the lmos
    Linear (rms-rms)  sqrt(d_out/d_in)·polar(m), NS5 (Muon's quintic x 5) on
                      every Linear of one shape as ONE batched iteration; X0 =
                      m / (‖m‖_F + 1e-7) as Muon's recipe writes it, where
                      modnorm divides by ‖m‖_F alone (a step differs by up to
                      2e-3 on an atom whose momentum is ~1e-4 in norm, the
                      first steps' Q and K; by under 1e-3 on the others)
    Embed (l1-rms)    each token's column scaled to RMS 1 (sqrt(d)·m_j/‖m_j‖),
                      a zero column stays 0
--dtype bf16 runs the NS5 in bfloat16 as torch.optim.Muon / KellerJordan's
zeropower_via_newtonschulz5 does (weights, gradients, momentum fp32).
--amp runs forward and backward under torch.autocast("cpu", bfloat16),
PyTorch's own mixed-precision recipe: every F.linear and matmul (attention
included) on bf16 operands, fp32 weights; the peer of `modnorm bench step
--net-precision bf16`.
Subnormals are flushed (torch.set_flush_denormal(True)), as modnorm's training
and bench flush them: the saturated softmax of a trained GPT makes many.

    /usr/bin/python3 bench/peer_gpt.py [--width 128] [--depth 4] [--heads W/32] \
        [--batch 12] [--context 64] [--vocab 256] [--threads T] [--blas-threads N] \
        [--steps N] [--dtype fp32|bf16] [--amp] [--init DIR]

--init DIR starts from `modnorm bench step --model gpt --npy DIR`'s weights
and batch (w0.npy, tokens.npy, labels.npy) and adds every step's loss to
the output (bench/check_peer_gpt.py compares them with DIR/losses.npy).
Prints one JSON line like `modnorm bench step --json`, with tokens_per_s."""
import argparse
import json
import math
import os
import resource
import sys
import time

from peer_ns5 import ns5_torch, ns5_torch_bf16  # the NS5 peers, fp32 and bf16

GELU_MAX_SLOPE = 1.1289041451851545


def shapes(width, depth, vocab):
    """(kind, d_out, d_in, target) of every atom in modnorm's order."""
    s = [("embed", width, vocab, 1 / 7)]
    for _ in range(depth):
        s += [("linear", width, width, 5 / 7)] * 3  # V, Q, K
        s += [("linear", width, width, 5 / 21), ("linear", 4 * width, width, 5 / 21),
              ("linear", width, 4 * width, 5 / 21)]  # Wo, W1, W2
    return s + [("linear", vocab, width, 1 / 7)]


class GPT:
    def __init__(self, torch, width, depth, heads, context, vocab, w0=None):
        self.torch, self.F = torch, torch.nn.functional
        self.d, self.L, self.h, self.dh = width, depth, heads, width // heads
        self.atoms = shapes(width, depth, vocab)
        ws = []
        at = 0
        for kind, d_out, d_in, _ in self.atoms:
            if w0 is not None:
                w = w0[at:at + d_out * d_in].reshape(d_out, d_in).clone()
                at += d_out * d_in
            else:
                w = torch.randn(d_out, d_in)
                if kind == "embed":  # columns of RMS 1, as modnorm's init
                    w = w / w.norm(dim=0, keepdim=True) * math.sqrt(d_out)
                else:  # orthogonal x sqrt(d_out/d_in), as modnorm's init
                    u, _, vh = torch.linalg.svd(w, full_matrices=False)
                    w = (u @ vh) * math.sqrt(d_out / d_in)
            if kind == "embed":
                w = w.T  # stored (vocab, d): rows are tokens, as F.embedding reads them
            ws.append(w.contiguous().requires_grad_(True))
        self.params = ws
        half = self.dh // 2
        t = torch.arange(context, dtype=torch.float64)[:, None]
        theta = t * 10000.0 ** (-2.0 * torch.arange(half, dtype=torch.float64) / self.dh)
        self.cos = torch.cos(theta).float()[None, :, None, :]  # (1, T, 1, half)
        self.sin = torch.sin(theta).float()[None, :, None, :]
        self.mask = torch.triu(torch.full((context, context), float("-inf")), diagonal=1)

    def rope(self, x, T):
        half = self.dh // 2
        c, s = self.cos[:, :T], self.sin[:, :T]
        x1, x2 = x[..., :half], x[..., half:]
        return self.torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)

    def forward(self, tokens):
        torch, F = self.torch, self.F
        B, T = tokens.shape
        ws = self.params
        x = F.embedding(tokens, ws[0])  # (B, T, d)
        a = 1.0 / (2 * self.L)
        mask = self.mask[:T, :T]
        for l in range(self.L):
            Wv, Wq, Wk, Wo, W1, W2 = ws[1 + 6 * l: 7 + 6 * l]
            v = F.linear(x, Wv).view(B, T, self.h, self.dh).transpose(1, 2)
            q = self.rope(F.linear(x, Wq).view(B, T, self.h, self.dh), T).transpose(1, 2)
            k = self.rope(F.linear(x, Wk).view(B, T, self.h, self.dh), T).transpose(1, 2)
            s = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / self.dh) + mask
            o = torch.matmul(torch.softmax(s, dim=-1), v) * (1.0 / 3)
            o = o.transpose(1, 2).reshape(B, T, self.d)
            x = (1 - a) * x + a * F.linear(o, Wo)
            m = F.gelu(F.linear(x, W1)) * (1.0 / GELU_MAX_SLOPE)
            x = (1 - a) * x + a * F.linear(m, W2)
        return F.linear(x, ws[-1])


class ModularMuon:
    def __init__(self, torch, model, lr=0.1, beta=0.9, dtype="fp32"):
        self.torch, self.model, self.lr, self.beta = torch, model, lr, beta
        self.polar = ns5_torch_bf16 if dtype == "bf16" else ns5_torch
        self.momentum = [torch.zeros_like(p) for p in model.params]
        groups = {}  # the Linears of one shape: one batched NS5
        for i, (kind, d_out, d_in, _) in enumerate(model.atoms):
            if kind == "linear":
                groups.setdefault((d_out, d_in), []).append(i)
        self.groups = list(groups.items())

    def step(self):
        torch, lr, beta = self.torch, self.lr, self.beta
        ps, ms, atoms = self.model.params, self.momentum, self.model.atoms
        with torch.no_grad():
            for p, m in zip(ps, ms):
                m.mul_(beta).add_(p.grad, alpha=1 - beta)
            # Embed: rows of the stored (vocab, d) are its columns
            m = ms[0]
            n = m.norm(dim=1, keepdim=True)
            scale = torch.where(n > 0, math.sqrt(m.shape[1]) / torch.where(n > 0, n, 1), 0)
            ps[0].sub_(lr * atoms[0][3] * (m * scale))
            for (d_out, d_in), idx in self.groups:
                P = self.polar(torch, torch.stack([ms[i] for i in idx]))
                for j, i in enumerate(idx):
                    ps[i].sub_(P[j].to(ps[i].dtype), alpha=lr * atoms[i][3] *
                               math.sqrt(d_out / d_in))


def load_init(torch, path):
    import numpy as np
    w0 = torch.from_numpy(np.load(os.path.join(path, "w0.npy")).astype(np.float32).reshape(-1))
    tokens = torch.from_numpy(np.load(os.path.join(path, "tokens.npy"))).long()
    labels = torch.from_numpy(np.load(os.path.join(path, "labels.npy")).reshape(-1)).long()
    return w0, tokens, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--heads", type=int, default=None, help="default: width / 32")
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="OpenBLAS's own pool, when torch runs on OpenBLAS (default: --threads)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32",
                    help="the NS5 polar iteration's dtype (bf16: torch.optim.Muon's)")
    ap.add_argument("--amp", action="store_true",
                    help="forward and backward under torch.autocast(cpu, bfloat16)")
    ap.add_argument("--init", default=None, help="modnorm bench step --npy DIR")
    args = ap.parse_args()
    heads = args.heads or max(1, args.width // 32)
    blas_threads = args.blas_threads or args.threads
    os.environ["OPENBLAS_NUM_THREADS"] = str(blas_threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    w0 = None
    if args.init:
        w0, tokens, labels = load_init(torch, args.init)
        args.batch, args.context = tokens.shape
    else:
        tokens = torch.randint(0, args.vocab, (args.batch, args.context))
        labels = torch.randint(0, args.vocab, (args.batch * args.context,))
    model = GPT(torch, args.width, args.depth, heads, args.context, args.vocab, w0)
    opt = ModularMuon(torch, model, lr=args.lr, dtype=args.dtype)
    losses = []

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.amp):
            logits = model.forward(tokens)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, args.vocab).float(),
                                                     labels)
        for p in model.params:
            p.grad = None
        loss.backward()
        opt.step()
        losses.append(loss.item())

    step()  # warm-up
    times, cpu = [], []
    for _ in range(args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    times.sort()
    cpu.sort()
    med = times[len(times) // 2]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out = {"model": "gpt", "width": args.width, "depth": args.depth, "heads": heads,
           "batch": args.batch, "context": args.context, "vocab": args.vocab, "opt": "muon",
           "method": "ns5", "dtype": args.dtype, "amp": args.amp, "lib": "torch " + torch.__version__,
           "threads": args.threads, "blas_threads": blas_threads, "ms_per_step": 1e3 * med,
           "ms_min": 1e3 * times[0], "ms_max": 1e3 * times[-1],
           "cpu_ms_per_step": 1e3 * cpu[len(cpu) // 2], "tokens_per_s": args.batch * args.context / med, "peak_rss_mb": rss,
           "loss_first": losses[0], "loss_last": losses[-1]}
    if args.init:
        out["losses"] = losses
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
