#!/usr/bin/env python3
"""Compare two builds of modnorm on the same benchmark, alternating them in
one run so that machine noise hits both alike (a refactor must not slow the
step down):

    /usr/bin/python3 bench/builds.py OLD/modnorm NEW/modnorm [--rounds 7] \\
        [-- bench step --width 512 --opt muon --threads 2]

Prints the median and min-max of each side's ms_per_step (or ms_median for
`bench dualize`) and the ratio old/new (> 1: the new build is faster)."""
import argparse
import statistics
import sys

from compare import run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=7)
    argv = sys.argv[1:]
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    a = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    bench = rest or ["bench", "step", "--width", "512", "--opt", "muon", "--threads", "2"]
    if "--json" not in bench:
        bench = bench + ["--json"]
    times = {"old": [], "new": []}
    for r in range(a.rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        for side in order:
            out = run([getattr(a, side)] + bench)
            times[side].append(out.get("ms_per_step", out.get("ms_median")))
    print(" ".join(bench))
    for side in ("old", "new"):
        v = times[side]
        print(f"{side:4} median {statistics.median(v):8.3f} ms  min-max "
              f"{min(v):.3f}-{max(v):.3f}  ({len(v)} rounds)")
    print(f"ratio old/new {statistics.median(times['old']) / statistics.median(times['new']):.3f}")


if __name__ == "__main__":
    sys.exit(main())
