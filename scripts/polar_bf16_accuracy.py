#!/usr/bin/env python3
"""Why modnorm's bf16 polar iteration keeps the iterate and the linear term
in float32, and why AUTO takes the direct form in bf16 (src/duality/polar_bf16.c).

Simulates bf16 products in NumPy (operands rounded to bf16, nearest even;
float32 accumulation) for four evaluations of each schedule and prints their
deviation from the float32 direct form (Frobenius relative / max-entry
relative to the largest entry) on gradient-like and other inputs:

  modnorm   X <- a*X + bf16(b*A + c*A2) @ bf16(X), A = bf16(X) bf16(X)^T,
            A2 = bf16(A) bf16(A); X and a*X in float32 (what modnorm runs)
  folded    X <- bf16(a*I + b*A + c*A2) @ bf16(X) (the linear term rounded too)
  pytorch   every tensor bf16, as the public Muon recipe (X.bfloat16(), each
            op's result rounded)
  gram      modnorm's Gram form with S = X0 X0^T, Q X0 (restarts, end) in bf16
            and the k x k recursion in float32

NumPy only: /usr/bin/python3 scripts/polar_bf16_accuracy.py [M N]
(default 256 1024; 768 768 and 1024 4096 take longer).
"""
import sys

import numpy as np

f32 = np.float32
SCHEDULES = {
    "ns5": [(3.4445, -4.7750, 2.0315)] * 5,
    "polar-express": [(8.156554524902461, -22.48329292557795, 15.878769915207462),
                      (4.042929935166739, -2.808917465908714, 0.5000178451051316),
                      (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
                      (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
                      (2.3465413258596377, -1.7097828382687081, 0.42323551169305323)],
    "you6": [(3955 / 1024, -8306 / 1024, 5008 / 1024), (3735 / 1024, -6681 / 1024, 3463 / 1024),
             (3799 / 1024, -6499 / 1024, 3211 / 1024), (4019 / 1024, -6385 / 1024, 2906 / 1024),
             (2677 / 1024, -3029 / 1024, 1162 / 1024), (2172 / 1024, -1833 / 1024, 682 / 1024)],
    "cubic": [(1.5, -0.5, 0.0)] * 20,
}
SLACK = {"polar-express": 1.02}
GAIN = 6e-4  # polar.c's RESTART_GAIN


def bf(x):
    """Round float32 to bf16 (nearest even), returned as float32."""
    u = np.ascontiguousarray(x, dtype=f32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(f32)


def direct32(X, sched):
    for a, b, c in sched:
        A = X @ X.T
        X = f32(a) * X + (f32(b) * A + f32(c) * (A @ A)) @ X
    return X


def modnorm(X, sched):
    for a, b, c in sched:
        Xb = bf(X)
        A = Xb @ Xb.T
        Ab = bf(A)
        X = f32(a) * X + bf(f32(b) * A + f32(c) * (Ab @ Ab)) @ Xb
    return X


def folded(X, sched):
    eye = np.eye(X.shape[0], dtype=f32)
    for a, b, c in sched:
        Xb = bf(X)
        A = Xb @ Xb.T
        Ab = bf(A)
        X = bf(f32(a) * eye + f32(b) * A + f32(c) * (Ab @ Ab)) @ Xb
    return X


def pytorch(X, sched):
    X = bf(X)
    for a, b, c in sched:
        A = bf(X @ X.T)
        B = bf(bf(f32(b) * A) + bf(f32(c) * bf(A @ A)))
        X = bf(bf(f32(a) * X) + bf(B @ X))
    return X


def gram(X, sched):
    limit = GAIN / 2.0 ** -23
    eye = np.eye(X.shape[0], dtype=f32)
    X = bf(X)
    A, Q, gain = X @ X.T, eye, 1.0
    for a, b, c in sched:
        if gain > 1 and gain * a * a > limit:
            X, Q, gain = bf(bf(Q) @ X), eye, 1.0
            A = X @ X.T
        gain *= a * a
        P = f32(a) * eye + f32(b) * A + f32(c) * (A @ A)
        Q, A = P @ Q, P @ A @ P
    return bf(Q) @ X


def inputs(rng, m, n):
    yield "rank-3 + 1e-2 noise", rng.standard_normal((m, 3)) @ rng.standard_normal((3, n)) \
        + 1e-2 * rng.standard_normal((m, n))
    yield "rank-1 + 1e-5 noise", rng.standard_normal((m, 1)) @ rng.standard_normal((1, n)) \
        + 1e-5 * rng.standard_normal((m, n))
    U, _ = np.linalg.qr(rng.standard_normal((m, m)))
    V, _ = np.linalg.qr(rng.standard_normal((n, m)))
    yield "1/k spectrum", (U / np.arange(1, m + 1)) @ V.T
    yield "gaussian", rng.standard_normal((m, n))


def main():
    m, n = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (256, 1024)
    rng = np.random.default_rng(0)
    ways = {"modnorm": modnorm, "folded": folded, "pytorch": pytorch, "gram": gram}
    print(f"{m}x{n}; deviation from the float32 direct form: Frobenius / max-entry")
    print(f"{'method':14} {'input':20} " + " ".join(f"{w:>17}" for w in ways))
    for name, sched in SCHEDULES.items():
        for label, G in inputs(rng, m, n):
            X0 = (G / (SLACK.get(name, 1.0) * np.linalg.norm(G))).astype(f32)
            ref = direct32(X0, sched)
            cells = []
            for way in ways.values():
                Y = way(X0, sched)
                fro = np.linalg.norm(Y - ref) / np.linalg.norm(ref)
                top = np.abs(Y - ref).max() / np.abs(ref).max()
                cells.append(f"{fro:8.1e}/{top:8.1e}")
            print(f"{name:14} {label:20} " + " ".join(cells), flush=True)


if __name__ == "__main__":
    main()
