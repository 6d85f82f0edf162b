#!/usr/bin/env python3
"""Why the Gram form of the polar iteration restarts (src/duality/polar.c).

Runs each polynomial schedule three ways in float32 (direct form; Gram form
with no restart; Gram form restarting once the product of a^2 since the last
restart would pass GAIN/eps) and prints the max-abs error against the direct
form in float64, relative to the largest entry, on gradient-like inputs.
NumPy only; run with /usr/bin/python3 scripts/polar_gram_accuracy.py.
"""
import numpy as np

SCHEDULES = {
    "ns5": [(3.4445, -4.7750, 2.0315)] * 5,
    "polar-express": [(8.156554524902461, -22.48329292557795, 15.878769915207462),
                      (4.042929935166739, -2.808917465908714, 0.5000178451051316),
                      (3.8916678022926607, -2.772484153217685, 0.5060648178503393),
                      (3.285753657755655, -2.3681294933425376, 0.46449024233003106),
                      (2.3465413258596377, -1.7097828382687081, 0.42323551169305323)],
    "cubic": [(1.5, -0.5, 0.0)] * 20,
}
GAIN = 6e-4


def direct(X, sched):
    for a, b, c in sched:
        A = X @ X.T
        X = a * X + (b * A + c * (A @ A)) @ X
    return X


def gram(X, sched, limit):
    I = np.eye(X.shape[0], dtype=X.dtype)
    A, Q, gain, restarts = X @ X.T, I, 1.0, 0
    for a, b, c in sched:
        if gain > 1 and gain * a * a > limit:
            X, Q, gain, restarts = Q @ X, I, 1.0, restarts + 1
            A = X @ X.T
        gain *= a * a
        P = a * I + b * A + c * (A @ A)
        Q, A = P @ Q, P @ A @ P
    return Q @ X, restarts


def inputs(rng, m, n):
    yield "rank-3 + 1e-2 noise", rng.standard_normal((m, 3)) @ rng.standard_normal((3, n)) \
        + 1e-2 * rng.standard_normal((m, n))
    U, _ = np.linalg.qr(rng.standard_normal((m, m)))
    V, _ = np.linalg.qr(rng.standard_normal((n, m)))
    yield "1/k spectrum", (U / np.arange(1, m + 1)) @ V.T
    yield "1/k^2 spectrum", (U / np.arange(1, m + 1) ** 2) @ V.T
    yield "rank-1 + 1e-5 noise", rng.standard_normal((m, 1)) @ rng.standard_normal((1, n)) \
        + 1e-5 * rng.standard_normal((m, n))
    yield "gaussian", rng.standard_normal((m, n))


def main():
    rng = np.random.default_rng(0)
    eps = np.finfo(np.float32).eps
    print(f"{'method':14} {'input':20} {'direct':>8} {'no restart':>11} {'restarted':>10} restarts")
    for name, sched in SCHEDULES.items():
        for label, G in inputs(rng, 256, 1024):
            X64 = G / np.linalg.norm(G)
            X32 = X64.astype(np.float32)
            ref = direct(X64, sched)
            scale = np.abs(ref).max()
            err = lambda Y: np.abs(Y - ref).max() / scale
            never, _ = gram(X32, sched, np.inf)
            fixed, restarts = gram(X32, sched, GAIN / eps)
            print(f"{name:14} {label:20} {err(direct(X32, sched)):8.1e} {err(never):11.1e} "
                  f"{err(fixed):10.1e} {restarts}")


if __name__ == "__main__":
    main()
