#!/usr/bin/env python3
"""Muon step time with small atoms dualized side by side (the default plan)
against one at a time (--serial-atoms), alternating in one run.

    /usr/bin/python3 bench/side_by_side.py [--build build] [--threads 2] [--rounds 5]

For each MLP 784-W-...-W-10 (batch 128) in CONFIGS, runs `modnorm bench step`
with each schedule alternately, `rounds` times, and prints a Markdown table of
the median step and update times (min-max of the per-run medians) and the
ratio serial / side by side."""
import argparse
import os
import statistics

from compare import run  # modnorm's JSON line from a command

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = [(128, 3), (128, 6), (256, 3), (256, 6), (384, 6), (512, 3), (512, 6), (1024, 3)]


def step(mn, width, depth, threads, serial):
    cmd = [mn, "bench", "step", "--model", "mlp", "--width", str(width), "--depth", str(depth),
           "--batch", "128", "--opt", "muon", "--steps", "20", "--threads", str(threads), "--json"]
    return run(cmd + (["--serial-atoms"] if serial else []))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    mn = os.path.join(args.build, "src", "cli", "modnorm")
    print("| width | depth | serial ms (update) | side by side ms (update) | serial / side by side |")
    print("|---|---|---|---|---|")
    for width, depth in CONFIGS:
        runs = {True: [], False: []}
        for _ in range(args.rounds):
            for serial in (True, False):
                runs[serial].append(step(mn, width, depth, args.threads, serial))
        med = {s: statistics.median(r["ms_per_step"] for r in runs[s]) for s in runs}
        upd = {s: statistics.median(r["ms_update"] for r in runs[s]) for s in runs}
        span = {s: (min(r["ms_per_step"] for r in runs[s]), max(r["ms_per_step"] for r in runs[s]))
                for s in runs}
        cell = lambda s: f"{med[s]:.2f} ({upd[s]:.2f}; {span[s][0]:.2f}-{span[s][1]:.2f})"
        print(f"| {width} | {depth} | {cell(True)} | {cell(False)} | {med[True] / med[False]:.2f}x |",
              flush=True)


if __name__ == "__main__":
    main()
