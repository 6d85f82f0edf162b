#!/usr/bin/env python3
"""A model of data-parallel Muon in modnorm on P machines: bytes per rank and
step, and time per step, for MLP 784-W-...-W-10 (batch 128).

    /usr/bin/python3 bench/mpi_model.py                 # the numbers measured below
    /usr/bin/python3 bench/mpi_model.py --measure       # measure them again here first
    /usr/bin/python3 bench/mpi_model.py --depth 34      # 32 hidden 1024x1024 matrices

What a step does (src/optim/sharded.c): every atom (whole matrix) has one
owner, assigned greedily by polar cost (largest first, to the least-loaded
rank); the gradients are reduce-scattered and the new weights all-gathered
in blocks of max_r n_r floats (n_r: the floats rank r owns). The model:

  bytes per rank = 2(P-1) * max_r n_r * 4        (ring reduce-scatter + all-gather)
                 = 2(P-1)/P * N * 4              when the shares are equal
  t_comm  = bytes / bandwidth + 2(P-1) * latency
  t_polar = max_r sum of the polar times of r's matrices
            >= the largest single matrix's polar time (the floor: a matrix is
               never split, so no P goes below it)
  t_fb    = forward + backward of B/P rows = t_fb(B) * (B/P)/B
  t_step  = t_fb + t_comm + t_polar              (no overlap assumed)

The numbers it rests on (the defaults; --measure replaces them by this
machine's): polar-express on each matrix shape at 1 BLIS thread, median of 3
(`modnorm bench dualize --shape MxN --method polar-express --threads 1
--no-error --repeat 3 --json`), and forward + backward of batch 128 at 1
thread (`modnorm bench step --width W --depth D --threads 1 --json`: ms_per_step
- ms_update). The network: 100 Gb/s per machine (12.5e9 bytes/s, no
protocol overhead) and 5 us per ring round (an assumption for RDMA-class
interconnects). One rank per machine, one BLIS thread per rank: a real
machine's cores would shrink t_polar and t_fb alike; t_comm would not."""
import argparse
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))

# Measured on an idle machine (AMD EPYC, AVX-512, 2 cores, load average 1.4),
# 2026-12-01 04:23 UTC, fp32, polar-express, 1 thread: the medians of `bench
# dualize`, and forward + backward of batch 128 = bench step's ms per step -
# its update (results/mpi/model-s7.txt, made by --measure).
MEASURED_POLAR_MS = {(1024, 784): 117.6, (1024, 1024): 262.4, (10, 1024): 0.1}
MEASURED_FB_MS = {3: 20.0}


def matrices(d_in, width, depth, d_out):
    if depth == 1:
        return [(d_out, d_in)]
    return [(width, d_in)] + [(width, width)] * (depth - 2) + [(d_out, width)]


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def owners(costs, ranks):
    """The library's greedy assignment: largest first, to the least-loaded rank."""
    order = sorted(range(len(costs)), key=lambda k: (-costs[k], k))
    load, own = [0.0] * ranks, [0] * len(costs)
    for k in order:
        r = min(range(ranks), key=lambda i: (load[i], i))
        own[k] = r
        load[r] += costs[k]
    return own


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--gbps", type=float, default=100.0, help="network, Gb/s per machine")
    ap.add_argument("--latency-us", type=float, default=5.0, help="per ring round")
    ap.add_argument("--ranks", default="2,8,16,32,64")
    ap.add_argument("--measure", action="store_true", help="measure the inputs here first")
    args = ap.parse_args()
    mn = os.path.join(args.build, "src", "cli", "modnorm")
    mats = matrices(784, args.width, args.depth, 10)
    polar = dict(MEASURED_POLAR_MS)
    fb_by_depth = dict(MEASURED_FB_MS)
    if args.measure or any(polar.get(s) is None for s in set(mats)):
        for s in sorted(set(mats)):
            r = run_json([mn, "bench", "dualize", "--shape", f"{s[0]}x{s[1]}", "--method",
                          "polar-express", "--threads", "1", "--no-error", "--repeat", "3",
                          "--json"])
            polar[s] = r["ms_median"]
    if args.measure or fb_by_depth.get(3) is None:
        r = run_json([mn, "bench", "step", "--width", str(args.width), "--depth", "3",
                      "--batch", str(args.batch), "--threads", "1", "--steps", "3", "--json"])
        fb_by_depth[3] = r["ms_per_step"] - r["ms_update"]
    # forward + backward scales with the matrices' sizes (the products' flops)
    size3 = sum(a * b for a, b in matrices(784, args.width, 3, 10))
    fb = fb_by_depth[3] * sum(a * b for a, b in mats) / size3
    n = sum(a * b for a, b in mats)
    costs = [polar[s] for s in mats]
    bw = args.gbps * 1e9 / 8
    print(f"Inputs: {len(mats)} matrices, N = {n} floats; polar-express at 1 thread: " +
          ", ".join(f"{a}x{b} {polar[(a, b)]:.1f} ms" for a, b in sorted(set(mats))) +
          f"; forward+backward of batch {args.batch} at 1 thread: {fb:.1f} ms; "
          f"{args.gbps:g} Gb/s, {args.latency_us:g} us per ring round.")
    print(f"One machine (1 thread): {fb + sum(costs):.1f} ms per step.\n")
    print("| machines P | max_r n_r (floats) | MB per rank and step | equal shares would be MB "
          "| comm ms | polar ms (floor) | fwd+bwd ms | step ms | speedup |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p in (int(x) for x in args.ranks.split(",")):
        own = owners(costs, p)
        share = [0] * p
        work = [0.0] * p
        for k, r in enumerate(own):
            share[r] += mats[k][0] * mats[k][1]
            work[r] += costs[k]
        block = max(share)
        byts = 2 * (p - 1) * block * 4
        equal = 2 * (p - 1) / p * n * 4
        t_comm = 1e3 * byts / bw + 2 * (p - 1) * args.latency_us * 1e-3
        t_polar = max(work)
        t_fb = fb * (args.batch / p) / args.batch
        step = t_fb + t_comm + t_polar
        print(f"| {p} | {block} | {byts / 1e6:.1f} | {equal / 1e6:.1f} | {t_comm:.2f} | "
              f"{t_polar:.1f} ({max(costs):.1f}) | {t_fb:.2f} | {step:.1f} | "
              f"{(fb + sum(costs)) / step:.2f}x |")


if __name__ == "__main__":
    main()
