#!/usr/bin/env python3
"""Check that bench/peer_gpt.py trains modnorm's GPT as modnorm does: `modnorm
bench step --model gpt --method ns5 --npy DIR` writes its initial weights,
its batch and the loss of every step (the warm-up's first); the peer starts
from the same weights on the same batch (--init DIR) and its losses must
match within --rtol (default 1e-4 relative; float32 on both sides, and the
kernels round differently: GELU, the polar iteration's order). The first loss
compares the forward alone; the later ones every Muon step before them. Runs
the peer in fp32 and in bf16 NS5 (bf16, whose products round to 8 bits, against --rtol-bf16, default 5e-3).

    /usr/bin/python3 bench/check_peer_gpt.py [--modnorm build/src/cli/modnorm] \
        [--width 64] [--steps 5]"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modnorm", default=os.path.join(HERE, "..", "build", "src", "cli", "modnorm"))
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--context", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--rtol-bf16", type=float, default=5e-3)
    args = ap.parse_args()
    import numpy as np
    heads = max(1, args.width // 32)
    worst = {}
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([args.modnorm, "bench", "step", "--model", "gpt", "--width",
                        str(args.width), "--depth", str(args.depth), "--set", "dhead=32",
                        "--batch", str(args.batch), "--context", str(args.context), "--steps",
                        str(args.steps), "--method", "ns5", "--threads", "1", "--npy", d],
                       check=True, capture_output=True)
        ours = np.load(os.path.join(d, "losses.npy")).reshape(-1)
        for dtype in ("fp32", "bf16"):
            out = subprocess.run([sys.executable, os.path.join(HERE, "peer_gpt.py"), "--width",
                                  str(args.width), "--depth", str(args.depth), "--heads",
                                  str(heads), "--steps", str(args.steps), "--dtype", dtype,
                                  "--init", d], check=True, capture_output=True, text=True)
            peer = np.array(json.loads(out.stdout.strip().splitlines()[-1])["losses"])
            rel = np.abs(peer - ours) / np.abs(ours)
            worst[dtype] = float(rel.max())
            print(f"{dtype} NS5: " + ", ".join(f"{a:.5f}/{b:.5f}" for a, b in zip(ours, peer))
                  + f" (modnorm/peer); largest relative difference {rel.max():.2e}")
    ok = worst["fp32"] < args.rtol and worst["bf16"] < args.rtol_bf16
    print(f"{'OK' if ok else 'FAIL'}: fp32 {worst['fp32']:.2e} < {args.rtol:g}, "
          f"bf16 {worst['bf16']:.2e} < {args.rtol_bf16:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
