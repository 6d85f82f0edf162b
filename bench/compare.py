#!/usr/bin/env python3
"""Run modnorm's benchmarks and their peers alternately in one go and print
the ratios (peer time / modnorm time; > 1 means modnorm is faster).

    /usr/bin/python3 bench/compare.py [--rounds 5] [--build build]

Every side gets both cores' worth of choice: modnorm runs with --threads 2,
each peer at 1 and 2 threads (both are measured), and PyTorch also with one
intra-op thread over a 2-thread OpenBLAS ("1t+b2"), its fastest setting here:
with 2 of each, OpenMP's spinning threads compete with OpenBLAS's. Each round runs
every command once, in alternation, so that machine noise hits all sides
alike; medians over rounds are reported with their min-max.

NumPy runs on OpenBLAS (bench/setup_peers.sh installs it without making it the
system BLAS; LD_LIBRARY_PATH selects it here) with OPENBLAS_CORETYPE=SkylakeX
on AVX-512 CPUs: OpenBLAS 0.3.21 detects this CPU as "Prescott" and runs its
generic kernels 4x slower, which would flatter modnorm."""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"


OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"


def peer_env():
    env = dict(os.environ)
    if os.path.isdir(OPENBLAS_DIR):
        env["LD_LIBRARY_PATH"] = OPENBLAS_DIR
    with open("/proc/cpuinfo") as f:
        if "avx512f" in f.read():
            env["OPENBLAS_CORETYPE"] = "SkylakeX"
    env.pop("OPENBLAS_L2_SIZE", None)
    return env


def run(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    args = ap.parse_args()
    mn = os.path.join(args.build, "src", "cli", "modnorm")
    cases = []
    for shape in ["1024x4096", "768x768"]:
        cases.append((f"NS5 {shape}", "ms_median",
                      [mn, "bench", "dualize", "--shape", shape, "--method", "ns5",
                       "--threads", "2", "--json"],
                      {f"{lib} {t}t": [PY, os.path.join(HERE, "peer_ns5.py"), "--lib", lib,
                                       "--shape", shape, "--threads", str(t)]
                       for lib in ("numpy", "torch") for t in (1, 2)}))
        cases[-1][3]["torch 1t+b2"] = [PY, os.path.join(HERE, "peer_ns5.py"), "--lib", "torch",
                                       "--shape", shape, "--threads", "1", "--blas-threads", "2"]
    # modnorm's own direct form beside the Gram form AUTO picks for wide shapes
    cases[0][3]["mn direct"] = cases[0][2] + ["--form", "direct"]
    for opt in ("muon", "adam"):
        cases.append((f"{opt} step 784-1024-1024-10 b128", "ms_per_step",
                      [mn, "bench", "step", "--width", "1024", "--opt", opt,
                       "--method", "ns5", "--threads", "2", "--json"],
                      {f"torch {t}t": [PY, os.path.join(HERE, "peer_step.py"), "--opt", opt,
                                       "--threads", str(t)] for t in (1, 2)}))
        cases[-1][3]["torch 1t+b2"] = [PY, os.path.join(HERE, "peer_step.py"), "--opt", opt,
                                       "--threads", "1", "--blas-threads", "2"]
    results = {}
    for r in range(args.rounds):
        for name, key, ours, peers in cases:
            results.setdefault((name, "modnorm"), []).append(run(ours)[key])
            for peer, cmd in peers.items():
                results.setdefault((name, peer), []).append(run(cmd, peer_env())[key])
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(f"{'benchmark':34} {'side':12} {'median ms':>10} {'min-max':>17} {'ratio':>7}")
    for name, _, _, peers in cases:
        ours = statistics.median(results[(name, "modnorm")])
        for side in ["modnorm"] + list(peers):
            v = results[(name, side)]
            med = statistics.median(v)
            ratio = med / ours
            print(f"{name:34} {side:12} {med:10.2f} {min(v):8.2f}-{max(v):8.2f} {ratio:7.2f}")


if __name__ == "__main__":
    sys.exit(main())
