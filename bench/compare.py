#!/usr/bin/env python3
"""Run modnorm's benchmarks and their peers alternately in one go and print
the ratios (peer time / modnorm time; > 1 means modnorm is faster).

    /usr/bin/python3 bench/compare.py [--rounds 5] [--build build] [--precision fp32|bf16]

--precision picks the modnorm run the ratios divide by ("modnorm"); the
other precision runs beside it ("mn fp32" / "mn bf16"). The peers include
the public Muon recipe in bfloat16 (PyTorch, "torch-bf16", NS5 and the Muon
step), whose matmuls run on oneDNN's bf16 kernels. For each benchmark the
last lines name the fastest peer and modnorm's median over its roofline
(bench dualize's roofline_ms: float32 flops at the run's sgemm rate, bf16
flops at its bf16 gemm rate).

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
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="modnorm's precision for the ratios (the other runs beside it)")
    args = ap.parse_args()
    mn = os.path.join(args.build, "src", "cli", "modnorm")
    other = "bf16" if args.precision == "fp32" else "fp32"
    cases = []
    for shape in ["1024x4096", "768x768"]:
        ours = [mn, "bench", "dualize", "--shape", shape, "--method", "ns5", "--threads", "2",
                "--json", "--no-error"]
        cases.append((f"NS5 {shape}", "ms_median", ours + ["--precision", args.precision],
                      {f"{lib} {t}t": [PY, os.path.join(HERE, "peer_ns5.py"), "--lib", lib,
                                       "--shape", shape, "--threads", str(t)]
                       for lib in ("numpy", "torch") for t in (1, 2)}))
        peers = cases[-1][3]
        peers["torch 1t+b2"] = [PY, os.path.join(HERE, "peer_ns5.py"), "--lib", "torch",
                                "--shape", shape, "--threads", "1", "--blas-threads", "2"]
        for t in (1, 2):
            peers[f"torch-bf16 {t}t"] = [PY, os.path.join(HERE, "peer_ns5.py"), "--lib", "torch",
                                         "--shape", shape, "--threads", str(t), "--dtype", "bf16"]
        peers[f"mn {other}"] = ours + ["--precision", other]
    # modnorm's own direct form beside the Gram form AUTO picks for wide shapes (fp32)
    cases[0][3]["mn fp32 direct"] = cases[0][2][:-2] + ["--precision", "fp32", "--form", "direct"]
    for opt in ("muon", "adam"):
        ours = [mn, "bench", "step", "--width", "1024", "--opt", opt, "--method", "ns5",
                "--threads", "2", "--json"]
        cases.append((f"{opt} step 784-1024-1024-10 b128", "ms_per_step",
                      ours + (["--precision", args.precision] if opt == "muon" else []),
                      {f"torch {t}t": [PY, os.path.join(HERE, "peer_step.py"), "--opt", opt,
                                       "--threads", str(t)] for t in (1, 2)}))
        peers = cases[-1][3]
        peers["torch 1t+b2"] = [PY, os.path.join(HERE, "peer_step.py"), "--opt", opt,
                                "--threads", "1", "--blas-threads", "2"]
        if opt == "muon":
            for t in (1, 2):
                peers[f"torch-bf16 {t}t"] = [PY, os.path.join(HERE, "peer_step.py"), "--opt",
                                             opt, "--threads", str(t), "--dtype", "bf16"]
            peers[f"mn {other}"] = ours + ["--precision", other]
    results, rooflines = {}, {}
    for r in range(args.rounds):
        for name, key, ours, peers in cases:
            out = run(ours)
            results.setdefault((name, "modnorm"), []).append(out[key])
            rooflines.setdefault(name, []).append(out.get("roofline_ms"))
            for peer, cmd in peers.items():
                env = None if peer.startswith("mn ") else peer_env()
                results.setdefault((name, peer), []).append(run(cmd, env)[key])
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(f"modnorm = --precision {args.precision}")
    print(f"{'benchmark':34} {'side':15} {'median ms':>10} {'min-max':>17} {'ratio':>7}")
    for name, _, _, peers in cases:
        ours = statistics.median(results[(name, "modnorm")])
        for side in ["modnorm"] + list(peers):
            v = results[(name, side)]
            med = statistics.median(v)
            ratio = med / ours
            print(f"{name:34} {side:15} {med:10.2f} {min(v):8.2f}-{max(v):8.2f} {ratio:7.2f}")
        outside = [p for p in peers if not p.startswith("mn ")]
        best = min(outside, key=lambda p: statistics.median(results[(name, p)]))
        print(f"{name:34} fastest peer: {best}, ratio {statistics.median(results[(name, best)]) / ours:.2f}")
        roof = [x for x in rooflines[name] if x]
        if roof:
            print(f"{name:34} modnorm / roofline: {ours / statistics.median(roof):.2f}")


if __name__ == "__main__":
    sys.exit(main())
