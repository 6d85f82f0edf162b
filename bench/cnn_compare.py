#!/usr/bin/env python3
"""Images per second of one training step of the built-in CNN (examples/cnn.mn),
modnorm against its PyTorch peer (bench/peer_cnn.py), alternating: each round
runs `modnorm bench step --model cnn --method ns5` and then the peer with the
same width, batch, threads, optimizer and conv norm, so that a shared
machine's slow and fast phases fall on both sides alike.

    /usr/bin/python3 bench/cnn_compare.py [--modnorm build/src/cli/modnorm] \
        [--rounds 5] [--steps 20] [--threads 1] [--batch 128] [--opt muon|adam] \
        [--norm taps|flat]

Prints every round's two JSON lines, then the medians over the rounds and
their ratio (> 1: modnorm faster)."""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare import peer_env, run  # noqa: E402  (OpenBLAS for the peer, SkylakeX kernels)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modnorm", default=os.path.join(HERE, "..", "build", "src", "cli", "modnorm"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--opt", choices=["muon", "adam"], default="muon")
    ap.add_argument("--norm", choices=["taps", "flat"], default="taps")
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    peer_env_t = dict(peer_env(), OMP_NUM_THREADS=str(args.threads),
                      OPENBLAS_NUM_THREADS=str(args.threads))
    ours = [args.modnorm, "bench", "step", "--model", "cnn", "--width", str(args.width),
            "--batch", str(args.batch), "--steps", str(args.steps), "--threads",
            str(args.threads), "--opt", args.opt, "--method", "ns5", "--json"]
    if args.norm == "flat":
        ours += ["--set", "flat=1"]
    peer = [sys.executable, os.path.join(HERE, "peer_cnn.py"), "--opt", args.opt, "--norm",
            args.norm, "--width", str(args.width), "--batch", str(args.batch), "--steps",
            str(args.steps), "--threads", str(args.threads)]
    a, b = [], []
    for r in range(args.rounds):
        m = run(ours, env)
        p = run(peer, peer_env_t)
        print(json.dumps({"round": r, "modnorm": m, "torch": p}), flush=True)
        a.append(m["images_per_s"])
        b.append(p["images_per_s"])
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"CNN width {args.width} batch {args.batch}, {args.opt} ({args.norm}), "
          f"{args.threads} thread(s), {args.rounds} alternating rounds of {args.steps} steps: "
          f"modnorm {ma:.0f} images/s (min {min(a):.0f}, max {max(a):.0f}), "
          f"PyTorch {mb:.0f} images/s (min {min(b):.0f}, max {max(b):.0f}), "
          f"ratio {ma / mb:.2f}")


if __name__ == "__main__":
    sys.exit(main())
