#!/usr/bin/env python3
"""Scaling of modnorm's NS5 polar iteration and training step on this machine.

    /usr/bin/python3 bench/scaling.py [--build build] [--threads 2] [--repeat 5]

Prints two Markdown tables for README: NS5 time for square n x n matrices
(n = 256 ... 4096) and 1:4 rectangles n x 4n, each with the form AUTO chose,
its flops, the rate and the time over the sgemm roofline, and the least-squares
exponent p of time ~ n^p over the sizes where the run is compute-bound
(n >= 1024; 3 is the flop count's); then the Muon and AdamW step time of the
MLP 784-W-W-10 (batch 128) against width W."""
import argparse
import math
import os

from compare import run  # modnorm's JSON line from a command

HERE = os.path.dirname(os.path.abspath(__file__))


def fit_exponent(ns, ts):
    xs, ys = [math.log(n) for n in ns], [math.log(t) for t in ts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    mn = os.path.join(args.build, "src", "cli", "modnorm")
    t = str(args.threads)
    print("| shape | form | GFLOP | ms (median) | GFLOP/s | ms / roofline |")
    print("|---|---|---|---|---|---|")
    for label, shape_of in (("n x n", lambda n: f"{n}x{n}"), ("n x 4n", lambda n: f"{n}x{4 * n}")):
        ns, ts = [], []
        for n in (256, 512, 1024, 2048, 4096):
            repeat = args.repeat if n <= 2048 else max(1, args.repeat // 2)
            r = run([mn, "bench", "dualize", "--shape", shape_of(n), "--method", "ns5",
                     "--threads", t, "--repeat", str(repeat), "--no-error", "--json"])
            gflop = r["gflops"] * r["ms_median"] * 1e-3
            print(f"| {r['shape']} | {r['form']} | {gflop:.1f} | {r['ms_median']:.1f} | "
                  f"{r['gflops']:.0f} | {r['ms_median'] / r['roofline_ms']:.2f} |", flush=True)
            if n >= 1024:
                ns.append(n)
                ts.append(r["ms_median"])
        print(f"| {label}: time ~ n^{fit_exponent(ns, ts):.2f} (n = 1024 ... 4096) | | | | | |")
    print()
    print("| width | Muon ms/step | update ms | roofline ms | AdamW ms/step | peak RSS MB (Muon) |")
    print("|---|---|---|---|---|---|")
    for w in (128, 256, 512, 1024, 2048):
        steps = "20" if w <= 1024 else "5"
        mu = run([mn, "bench", "step", "--width", str(w), "--opt", "muon", "--method", "ns5",
                  "--threads", t, "--steps", steps, "--json"])
        ad = run([mn, "bench", "step", "--width", str(w), "--opt", "adam", "--threads", t,
                  "--steps", "20", "--json"])
        print(f"| {w} | {mu['ms_per_step']:.1f} | {mu['ms_update']:.1f} | "
              f"{mu['roofline_ms']:.1f} | {ad['ms_per_step']:.2f} | {mu['peak_rss_mb']:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
