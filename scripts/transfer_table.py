#!/usr/bin/env python3
"""README's loss-vs-rate tables from a sweep folder: one row per value of the
swept parameter, one column per grid rate (seed-mean train loss, "diverged"
when any seed diverged, blank when not run), the best rate in bold, and the
summary's best grid rate with its refined vertex.

    scripts/transfer_table.py results/gpt-transfer/muon-width [LABEL]

Reads DIR/results.csv and DIR/summary.json as `modnorm sweep` writes them.
"""
import csv
import json
import math
import sys
from collections import defaultdict


def main():
    folder = sys.argv[1]
    label = sys.argv[2] if len(sys.argv) > 2 else None
    with open(f"{folder}/results.csv") as f:
        rows = list(csv.DictReader(f))
    param = next(iter(rows[0])) if rows else "width"
    runs = defaultdict(list)
    for r in rows:
        runs[(int(r[param]), float(r["lr"]))].append(r)
    values = sorted({v for v, _ in runs})
    rates = sorted({lr for _, lr in runs})
    with open(f"{folder}/summary.json") as f:
        summary = json.load(f)
    per = {p[param]: p for p in summary.get("per_" + param, [])}

    def cell(v, lr):
        rs = runs.get((v, lr))
        if not rs:
            return ""
        if any(r["diverged"] == "1" for r in rs):
            return "diverged"
        loss = sum(float(r["train_loss"]) for r in rs) / len(rs)
        text = f"{loss:.3f}"
        best = per.get(v, {}).get("best_lr")
        return f"**{text}**" if best is not None and math.isclose(best, lr) else text

    head = ["2^%d" % round(math.log2(lr)) for lr in rates]
    print(f"| {label or param} | " + " | ".join(head) + " | best (refined) | seeds |")
    print("|---" * (len(head) + 3) + "|")
    for v in values:
        p = per.get(v, {})
        best = p.get("best_lr")
        refined = p.get("best_lr_refined")
        b = "—" if best is None else "2^%d" % round(math.log2(best))
        if refined is not None:
            b += f" ({refined:.3g})"
        seeds = max(len(runs[(v, lr)]) for lr in rates if (v, lr) in runs)
        print(f"| {v} | " + " | ".join(cell(v, lr) for lr in rates) + f" | {b} | {seeds} |")


if __name__ == "__main__":
    main()
