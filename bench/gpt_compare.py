#!/usr/bin/env python3
"""Tokens per second of one training step of the built-in GPT (examples/gpt.mn),
modnorm against its PyTorch peer (bench/peer_gpt.py) with the NS5 polar
iteration in fp32 and in bf16, alternating: each round runs every side at
every thread setting once, so that a shared machine's slow and fast phases
fall on all sides alike. Modular Muon on both sides, NS5 (modnorm
--method ns5), constant learning rate, one fixed random batch.

    /usr/bin/python3 bench/gpt_compare.py [--modnorm build/src/cli/modnorm] \
        [--widths 128,512] [--rounds 5] [--steps 20] [--threads 1,2] \
        [--batch 12] [--context 64] [--depth 4] [--mn-precision fp32] [--mn-bf16] \
        [--mn-net-bf16]

Heads are width/32 at every width (head size 32: 4 heads at 128, 16 at 512).
Sides: modnorm (its polar in --mn-precision; --mn-bf16 adds it in bf16 as
"modnorm-bf16"; --mn-net-bf16 adds "modnorm-allbf16", the polar iteration and
Linear's forward and backward products in bf16, and its peer "torch-amp",
torch's bf16 NS5 with forward and backward under torch.autocast bf16), torch with fp32 NS5, torch with
bf16 NS5 (torch.optim.Muon's), each at every --threads (modnorm --threads T;
torch set_num_threads(T) on OpenBLAS with T threads, as bench/compare.py runs
it, and torch's best setting there, one intra-op thread over a 2-thread
OpenBLAS, "1t+b2"). Prints every round's lines, then per width each side's median tokens/s
(min-max) at each thread count, its best thread count, and the ratios of
modnorm's best to each peer's best and to the faster peer."""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare import peer_env, run  # noqa: E402  (OpenBLAS for the peer, SkylakeX kernels)


PEER_ARGS = {"fp32": ["--dtype", "fp32"], "bf16": ["--dtype", "bf16"],
             "amp": ["--dtype", "bf16", "--amp"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modnorm", default=os.path.join(HERE, "..", "build", "src", "cli", "modnorm"))
    ap.add_argument("--widths", default="128,512")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--mn-precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--mn-bf16", action="store_true",
                    help="also modnorm with its polar iteration in bf16 (--precision bf16)")
    ap.add_argument("--mn-net-bf16", action="store_true",
                    help="also modnorm with every product in bf16: the polar iteration's and "
                         "Linear's forward and backward (--precision bf16 --net-precision bf16)")
    args = ap.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    print(json.dumps({"load_before": load_before}), flush=True)
    summary = []
    # torch-amp: the bf16 recipe with forward and backward under autocast too,
    # the peer of modnorm-allbf16
    peer_dtypes = ("fp32", "bf16") + (("amp",) if args.mn_net_bf16 else ())
    for w in widths:
        heads = max(1, w // 32)
        steps = args.steps if w <= 256 else max(3, args.steps // 4)
        sides = {}
        for t in threads:
            sides[f"modnorm {t}t"] = (
                [args.modnorm, "bench", "step", "--model", "gpt", "--width", str(w), "--depth",
                 str(args.depth), "--set", "dhead=32", "--batch", str(args.batch),
                 "--context", str(args.context), "--steps", str(steps), "--threads", str(t),
                 "--method", "ns5", "--precision", args.mn_precision, "--json"],
                dict(os.environ, OMP_NUM_THREADS=str(t)))
            if args.mn_bf16:
                sides[f"modnorm-bf16 {t}t"] = (
                    sides[f"modnorm {t}t"][0][:-3] + ["--precision", "bf16", "--json"],
                    sides[f"modnorm {t}t"][1])
            if args.mn_net_bf16:
                sides[f"modnorm-allbf16 {t}t"] = (
                    sides[f"modnorm {t}t"][0][:-3] + ["--precision", "bf16", "--net-precision",
                                                      "bf16", "--json"],
                    sides[f"modnorm {t}t"][1])
            for dt in peer_dtypes:
                sides[f"torch-{dt} {t}t"] = (
                    [sys.executable, os.path.join(HERE, "peer_gpt.py"), "--width", str(w),
                     "--depth", str(args.depth), "--heads", str(heads), "--batch",
                     str(args.batch), "--context", str(args.context), "--steps", str(steps),
                     "--threads", str(t)] + PEER_ARGS[dt], peer_env())
        if max(threads) >= 2:  # torch's best setting in bench/compare.py: 1 thread + 2 BLAS
            for dt in peer_dtypes:
                sides[f"torch-{dt} 1t+b2"] = (
                    [sys.executable, os.path.join(HERE, "peer_gpt.py"), "--width", str(w),
                     "--depth", str(args.depth), "--heads", str(heads), "--batch",
                     str(args.batch), "--context", str(args.context), "--steps", str(steps),
                     "--threads", "1", "--blas-threads", "2"] + PEER_ARGS[dt], peer_env())
        got = {name: [] for name in sides}
        for r in range(args.rounds):
            for name, (cmd, env) in sides.items():
                out = run(cmd, env)
                got[name].append(out["tokens_per_s"])
                print(json.dumps({"width": w, "round": r, "side": name,
                                  "tokens_per_s": out["tokens_per_s"],
                                  "ms_per_step": out["ms_per_step"],
                                  "cpu_ms_per_step": out.get("cpu_ms_per_step"),
                                  "loss_last": out.get("loss_last")}), flush=True)
        med = {name: statistics.median(v) for name, v in got.items()}
        best = {}
        for side in ("modnorm", "modnorm-bf16", "modnorm-allbf16", "torch-fp32", "torch-bf16",
                     "torch-amp"):
            names = [n for n in med if n.startswith(side + " ")]
            if names:
                best[side] = max(names, key=lambda n: med[n])
        print(f"\nGPT width {w} ({heads} heads of 32), depth {args.depth}, batch {args.batch} x "
              f"{args.context} tokens, {args.rounds} alternating rounds of {steps} steps; "
              f"median tokens/s (min-max):")
        for name in sides:
            v = got[name]
            mark = " (best)" if name in best.values() else ""
            print(f"  {name:16s} {med[name]:9.0f}  ({min(v):.0f}-{max(v):.0f}){mark}")
        m = med[best["modnorm"]]
        fp32, bf16 = med[best["torch-fp32"]], med[best["torch-bf16"]]
        amp = med[best["torch-amp"]] if "torch-amp" in best else 0.0
        line = {"width": w, "modnorm": best["modnorm"], "modnorm_tokens_per_s": m,
                "torch_fp32": best["torch-fp32"], "torch_fp32_tokens_per_s": fp32,
                "torch_bf16": best["torch-bf16"], "torch_bf16_tokens_per_s": bf16,
                "ratio_fp32": m / fp32, "ratio_bf16": m / bf16,
                "ratio_faster_peer": m / max(fp32, bf16)}
        print(f"  ratio modnorm/torch-fp32 {m / fp32:.2f}, modnorm/torch-bf16 {m / bf16:.2f}, "
              f"against the faster peer {m / max(fp32, bf16):.2f}")
        if "modnorm-bf16" in best:
            mb = med[best["modnorm-bf16"]]
            line["modnorm_bf16"] = best["modnorm-bf16"]
            line["modnorm_bf16_tokens_per_s"] = mb
            print(f"  modnorm with bf16 polar: {mb / bf16:.2f} x torch-bf16, "
                  f"{mb / max(fp32, bf16):.2f} x the faster peer")
        if "modnorm-allbf16" in best:
            ma = med[best["modnorm-allbf16"]]
            line["modnorm_allbf16"] = best["modnorm-allbf16"]
            line["modnorm_allbf16_tokens_per_s"] = ma
            line["torch_amp"] = best["torch-amp"]
            line["torch_amp_tokens_per_s"] = amp
            line["ratio_allbf16_fastest_peer"] = ma / max(fp32, bf16, amp)
            print(f"  modnorm with every product in bf16: {ma / amp:.2f} x torch-amp, "
                  f"{ma / max(fp32, bf16, amp):.2f} x the fastest peer")
        summary.append(line)
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    print(json.dumps({"summary": summary, "load_before": load_before, "load_after": load_after}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
