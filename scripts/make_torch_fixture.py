#!/usr/bin/env python3
"""PyTorch reference for tests/test_torch.c (tests/data/torch_*.npy).

Run from the repository root with Debian's python3 (torch 1.13, numpy):
    /usr/bin/python3 scripts/make_torch_fixture.py
The outputs are checked in; the tests never need Python.

A tiny MLP 6 -> 5 -> 4 -> 3 with ReLU and no bias, y = x W^T with W of shape
(d_out, d_in) (modnorm's Linear), batch 7, mean softmax cross-entropy. The
inputs and the initial weights are drawn in float32 (so that the C test starts
from exactly the same numbers); everything after that is float64.

Files (k = 1, 2, 3 is the layer in forward order; shapes (d_out, d_in)):
    torch_x.npy          (7, 6)  float32 inputs
    torch_labels.npy     (7,)    class ids as float64 (the reader has no ints)
    torch_hparams.npy    (5,)    eta_sgd, eta_muon, eta_adam, weight_decay, t_k
    torch_loss.npy       (1,)    the loss at the initial weights
    torch_w0_k.npy       float32 initial weights
    torch_grad_k.npy     gradient of the loss at the initial weights
    torch_sgd_k.npy      after one torch.optim.SGD step, lr = eta_sgd * t_k, momentum 0
    torch_muon_k.npy     after one Muon step as modnorm defines it (momentum 0):
                         w - eta_muon * t_k * sqrt(d_out/d_in) * U V^T, the exact
                         polar factor of the gradient on its range (float64 SVD;
                         singular values below 1e-10 * sigma_max count as zero --
                         the readout gradient has rank <= classes - 1 = 2)
    torch_adamw1_k.npy   after one torch.optim.AdamW step (betas 0.9, 0.999, eps 1e-8)
    torch_adamw3_k.npy   after three AdamW steps, gradients recomputed on the same batch

Here t_k = 1/3 is the modular target of each of the three equal-mass Linears.
The seed is the first one from SEED whose data is well conditioned for a
float32-vs-float64 comparison (see `well_conditioned`).
"""
import itertools
import os

import numpy as np
import torch

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
SEED = 20261123
DIMS = [6, 5, 4, 3]
BATCH = 7
ETA_SGD, ETA_MUON, ETA_ADAM, WD = 0.5, 0.5, 0.01, 0.5
T_K = 1.0 / 3.0
BETAS, EPS = (0.9, 0.999), 1e-8


def forward(x, ws):
    """Logits and the hidden pre-activations of the MLP."""
    pre = []
    h = x
    for k, w in enumerate(ws):
        h = h @ w.T
        if k < len(ws) - 1:
            pre.append(h)
            h = torch.relu(h)
    return h, pre


def loss_and_grads(x, y, ws):
    for w in ws:
        w.grad = None
    logits, pre = forward(x, ws)
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    return loss.item(), [w.grad.detach().clone() for w in ws], pre


def draw(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, DIMS[0], generator=g).float().double()
    y = torch.randint(0, DIMS[-1], (BATCH,), generator=g)
    ws = [(torch.randn(DIMS[k + 1], DIMS[k], generator=g) / DIMS[k] ** 0.5).float().double()
          for k in range(len(DIMS) - 1)]
    return x, y, ws


def polar_on_range(G):
    U, s, Vh = torch.linalg.svd(G, full_matrices=False)
    r = int((s > 1e-10 * s[0]).sum())
    return U[:, :r] @ Vh[:r, :], s


def well_conditioned(x, y, ws):
    """float32 must see the same ReLU pattern, the same gradient signs (Adam),
    and a well separated polar factor (Muon), over all three AdamW steps."""
    ws = [w.clone().requires_grad_(True) for w in ws]
    opt = torch.optim.AdamW(ws, lr=ETA_ADAM, betas=BETAS, eps=EPS, weight_decay=WD)
    for step in range(3):
        _, grads, pre = loss_and_grads(x, y, ws)
        for p in pre:
            if p.abs().min() < 1e-3 or (p > 0).sum(0).min() == 0:
                return False  # a pre-activation near 0, or a dead unit
        for g in grads:
            if g.abs().min() < 1e-3 * g.abs().max():
                return False  # Adam's g / |g| would amplify float32 rounding
        if step == 0:
            for k, g in enumerate(grads):
                _, s = polar_on_range(g)
                rank = 2 if k == len(grads) - 1 else min(g.shape)
                if s[rank - 1] < 0.02 * s[0] or (rank < len(s) and s[rank] > 1e-12 * s[0]):
                    return False
        opt.step()
    return True


def save(name, a):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(a))


def main():
    os.makedirs(OUT, exist_ok=True)
    for seed in itertools.count(SEED):
        x, y, ws0 = draw(seed)
        if well_conditioned(x, y, ws0):
            break

    save("torch_x.npy", x.numpy().astype(np.float32))
    save("torch_labels.npy", y.numpy().astype(np.float64))
    save("torch_hparams.npy", np.array([ETA_SGD, ETA_MUON, ETA_ADAM, WD, T_K]))
    for k, w in enumerate(ws0, 1):
        save(f"torch_w0_{k}.npy", w.numpy().astype(np.float32))

    ws = [w.clone().requires_grad_(True) for w in ws0]
    loss, grads, _ = loss_and_grads(x, y, ws)
    save("torch_loss.npy", np.array([loss]))
    for k, g in enumerate(grads, 1):
        save(f"torch_grad_{k}.npy", g.numpy())

    # (a) SGD with per-layer rate eta * t_k, momentum 0.
    opt = torch.optim.SGD(ws, lr=ETA_SGD * T_K, momentum=0)
    opt.step()
    for k, w in enumerate(ws, 1):
        save(f"torch_sgd_{k}.npy", w.detach().numpy())

    # (b) Muon as modnorm defines it, momentum 0, exact polar factor.
    for k, (w, g) in enumerate(zip(ws0, grads), 1):
        d_out, d_in = g.shape
        P, _ = polar_on_range(g)
        save(f"torch_muon_{k}.npy", (w - ETA_MUON * T_K * (d_out / d_in) ** 0.5 * P).numpy())

    # (c) AdamW: one step, then three steps on the same batch.
    ws = [w.clone().requires_grad_(True) for w in ws0]
    opt = torch.optim.AdamW(ws, lr=ETA_ADAM, betas=BETAS, eps=EPS, weight_decay=WD)
    for step in range(1, 4):
        loss_and_grads(x, y, ws)
        opt.step()
        if step in (1, 3):
            for k, w in enumerate(ws, 1):
                save(f"torch_adamw{step}_{k}.npy", w.detach().numpy())
    print(f"seed {seed}: loss {loss:.6f}; wrote torch_*.npy to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
