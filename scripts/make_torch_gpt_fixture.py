#!/usr/bin/env python3
"""PyTorch float64 reference for the GPT of examples/gpt.mn (tests/test_attention.c,
tests/data/torch_gpt_*.npy).

Run from the repository root with Debian's python3 (torch 1.13, numpy):
    /usr/bin/python3 scripts/make_torch_gpt_fixture.py
The outputs are checked in; the tests never need Python.

The model, written out here independently of modnorm's modules (width 8, 2 heads of
4, 2 blocks, context 8, vocabulary 11, batch 4 sequences of 8 tokens):
    x = E[:, tokens]                                  token Embed, E is (d, vocab)
    per block, a = 1/(2·blocks):
        q, k, v = x Wq^T, x Wk^T, x Wv^T  split into heads (B, T, h, dh)
        q, k = rope(q), rope(k)   pairs (x_j, x_{j+dh/2}) rotated by t·10000^(-2j/dh)
        s = q·k / dh, masked to s ≤ t; A = softmax(s); o = (A v) / 3, heads merged
        x = (1 - a)·x + a·(o Wo^T)
        x = (1 - a)·x + a·(gelu(x W1^T) / 1.1289041451851545) W2^T   (erf GELU)
    logits = x Wr^T; loss = mean cross-entropy over every position.
Atoms in modnorm's forward order: E, then per block V, Q, K, Wo, W1, W2, then Wr.

One Muon step as modnorm defines it (momentum 0, exact polar factor, learning rate
eta): w_k - eta·t_k·lmo_k(g_k), with
    Linear (rms-rms): lmo = sqrt(d_out/d_in)·U V^T (float64 SVD, singular values
        below 1e-10·sigma_max dropped: the readout gradient has rank <= vocab - 1)
    Embed (l1-rms): each column g_j·sqrt(d)/||g_j||_2, a zero column (a token not in
        the batch) stays 0
and the targets t_k of the modular dualize derived by hand (tests/test_attention.c):
    E 1/7, readout 1/7, V Q K 5/7, Wo W1 W2 5/21.

Files (weights are each atom's matrix as its norm sees it, (d_out, d_in), row-major,
concatenated in atom order into one vector):
    torch_gpt_tokens.npy   (4, 8) float32 token ids
    torch_gpt_labels.npy   (32,)  next-token ids as float64 (the reader has no ints)
    torch_gpt_hparams.npy  (6,)   eta, width, blocks, heads, context, vocab
    torch_gpt_loss.npy     (1,)   the loss at the initial weights
    torch_gpt_w0.npy       float32 initial weights
    torch_gpt_grad.npy     the gradient of the loss at w0
    torch_gpt_muon.npy     the weights after one Muon step
The seed is the first from SEED whose gradients are well conditioned for a
float32-vs-float64 comparison of the polar factors (see `well_conditioned`).
"""
import itertools
import math
import os

import numpy as np
import torch

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
SEED = 20261130
WIDTH, BLOCKS, HEADS, CONTEXT, VOCAB = 8, 2, 2, 8, 11
B, T = 4, 8
DH = WIDTH // HEADS
ETA = 0.5
GELU_MAX_SLOPE = 1.1289041451851545


def shapes():
    """(d_out, d_in) of every atom, in modnorm's forward order, and its kind."""
    s = [("embed", WIDTH, VOCAB)]
    for _ in range(BLOCKS):
        s += [("linear", WIDTH, WIDTH)] * 4  # V, Q, K, Wo
        s += [("linear", 4 * WIDTH, WIDTH), ("linear", WIDTH, 4 * WIDTH)]
    s.append(("linear", VOCAB, WIDTH))
    return s


def targets():
    t = [1 / 7]
    for _ in range(BLOCKS):
        t += [5 / 7, 5 / 7, 5 / 7, 5 / 21, 5 / 21, 5 / 21]
    return t + [1 / 7]


def rope(x):
    """x (B, T, h, dh): half-split pairs rotated by t·10000^(-2j/dh)."""
    half = DH // 2
    t = torch.arange(x.shape[1], dtype=torch.float64)[:, None]
    theta = t * 10000.0 ** (-2.0 * torch.arange(half, dtype=torch.float64) / DH)
    c, s = torch.cos(theta)[None, :, None, :], torch.sin(theta)[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)


def forward(tokens, ws):
    E = ws[0]
    x = E.T[tokens]  # (B, T, d)
    a = 1.0 / (2 * BLOCKS)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    for l in range(BLOCKS):
        Wv, Wq, Wk, Wo, W1, W2 = ws[1 + 6 * l: 7 + 6 * l]
        heads = lambda W: (x @ W.T).view(B, T, HEADS, DH)
        v, q, k = heads(Wv), rope(heads(Wq)), rope(heads(Wk))
        s = torch.einsum("bthd,bshd->bhts", q, k) / DH
        A = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        o = torch.einsum("bhts,bshd->bthd", A, v) / 3
        x = (1 - a) * x + a * (o.reshape(B, T, WIDTH) @ Wo.T)
        m = torch.nn.functional.gelu(x @ W1.T) / GELU_MAX_SLOPE
        x = (1 - a) * x + a * (m @ W2.T)
    return x @ ws[-1].T


def loss_and_grads(tokens, labels, ws):
    ws = [w.clone().requires_grad_(True) for w in ws]
    logits = forward(tokens, ws)
    loss = torch.nn.functional.cross_entropy(logits.reshape(B * T, VOCAB), labels)
    loss.backward()
    return loss.item(), [w.grad.detach().clone() for w in ws]


def polar_on_range(G):
    U, s, Vh = torch.linalg.svd(G, full_matrices=False)
    r = int((s > 1e-10 * s[0]).sum())
    return U[:, :r] @ Vh[:r, :], s, r


def lmo(kind, G):
    if kind == "embed":
        n = G.norm(dim=0, keepdim=True)
        return torch.where(n > 0, G * math.sqrt(G.shape[0]) / torch.where(n > 0, n, 1.0),
                           torch.zeros_like(G))
    P, _, _ = polar_on_range(G)
    return math.sqrt(G.shape[0] / G.shape[1]) * P


def draw(seed):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, VOCAB, (B, T + 1), generator=g)
    ws = []
    for kind, d_out, d_in in shapes():
        w = torch.randn(d_out, d_in, generator=g)
        if kind == "embed":  # columns of RMS 1, as modnorm's init
            w = w / w.norm(dim=0, keepdim=True) * math.sqrt(d_out)
        else:  # orthogonal x sqrt(d_out/d_in), as modnorm's init
            P, _, _ = polar_on_range(w)
            w = P * math.sqrt(d_out / d_in)
        ws.append(w.float().double())
    return tokens[:, :T], tokens[:, 1:].reshape(-1), ws


def well_conditioned(ws, grads):
    """Every Linear gradient's kept singular values within 50x of its largest
    (a float32 gradient's rounding, ~1e-7 of it, then moves the polar factor by
    about 5e-6), a clear gap to any dropped ones, and no Embed column of a
    present token near zero. Small square gradients are often worse (the first
    seeds reach 1e-4): the search takes about 150 seeds."""
    for (kind, _, _), g in zip(shapes(), grads):
        if kind == "embed":
            n = g.norm(dim=0)
            if ((n > 0) & (n < 1e-3 * n.max())).any():
                return False
            continue
        _, s, r = polar_on_range(g)
        if s[r - 1] < 0.02 * s[0] or (r < len(s) and s[r] > 1e-12 * s[0]):
            return False
    return True


def save(name, a):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(a))


def flat(ws):
    return torch.cat([w.reshape(-1) for w in ws]).numpy()


def main():
    os.makedirs(OUT, exist_ok=True)
    for seed in itertools.count(SEED):
        tokens, labels, ws0 = draw(seed)
        loss, grads = loss_and_grads(tokens, labels, ws0)
        if well_conditioned(ws0, grads):
            break
    step = [w - ETA * t * lmo(kind, g)
            for (kind, _, _), t, w, g in zip(shapes(), targets(), ws0, grads)]
    save("torch_gpt_tokens.npy", tokens.numpy().astype(np.float32))
    save("torch_gpt_labels.npy", labels.numpy().astype(np.float64))
    save("torch_gpt_hparams.npy", np.array([ETA, WIDTH, BLOCKS, HEADS, CONTEXT, VOCAB],
                                           dtype=np.float64))
    save("torch_gpt_loss.npy", np.array([loss]))
    save("torch_gpt_w0.npy", flat(ws0).astype(np.float32))
    save("torch_gpt_grad.npy", flat(grads))
    save("torch_gpt_muon.npy", flat(step))
    print(f"seed {seed}: loss {loss:.6f}; wrote torch_gpt_*.npy to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
