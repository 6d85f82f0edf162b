#!/usr/bin/env python3
"""Muon step time of MLP 784-1024-1024-10 (batch 128): 2 MPI ranks x 1 BLIS
thread against 1 process x 2 threads, alternated round by round.

    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \\
        /usr/bin/python3 bench/mpi_step.py [--build build] [--rounds 5] [--steps 30]

Each run is `modnorm train --json --steps S --width 1024 --depth 3 --batch 128
--opt muon` on Fashion-MNIST; its ms_per_step (the fit loop's wall time over
its steps: batch, forward, backward, the solver step and, under MPI, every
collective; the evaluation after the loop is not in it) is one sample. The
ranks are bound to one core each (--bind-to core) with OMP_NUM_THREADS=1; the
single process runs unbound with 2 BLIS threads. Prints every round, the
medians, min-max and the ratio (> 1: the two ranks are faster)."""
import argparse
import json
import os
import statistics
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def ms_per_step(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    last = [line for line in out.splitlines() if line.startswith("{\"test_acc\"")][-1]
    return json.loads(last)["ms_per_step"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--passive", action="store_true",
                    help="OMP_WAIT_POLICY=passive for both (idle OpenMP threads sleep instead "
                         "of spinning: fairer on a machine shared with other jobs)")
    args = ap.parse_args()
    mn = os.path.join(args.build, "src", "cli", "modnorm")
    train = ["train", "--json", "--steps", str(args.steps), "--width", "1024", "--depth", "3",
             "--batch", "128", "--opt", "muon"]
    wait = {"OMP_WAIT_POLICY": "passive"} if args.passive else {}
    env = dict(os.environ, OMP_NUM_THREADS="1", **wait)
    one = [mn] + train + ["--threads", "2"]
    two = ["mpirun", "-np", "2", "--bind-to", "core", "-x", "OMP_NUM_THREADS"] + \
          (["-x", "OMP_WAIT_POLICY"] if args.passive else []) + [mn] + train + ["--threads", "1"]
    env_one = dict(os.environ, OMP_NUM_THREADS="2", **wait)
    a, b = [], []
    print("| round | 1 rank x 2 threads ms/step | 2 ranks x 1 thread ms/step |")
    print("|---|---|---|")
    for r in range(args.rounds):
        a.append(ms_per_step(one, env_one))
        b.append(ms_per_step(two, env))
        print(f"| {r + 1} | {a[-1]:.1f} | {b[-1]:.1f} |", flush=True)
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"| median | {ma:.1f} ({min(a):.1f}-{max(a):.1f}) | {mb:.1f} ({min(b):.1f}-{max(b):.1f}) |")
    print(f"ratio (1x2 / 2x1): {ma / mb:.2f}")


if __name__ == "__main__":
    main()
