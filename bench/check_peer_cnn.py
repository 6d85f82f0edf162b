#!/usr/bin/env python3
"""Check that bench/peer_cnn.py's Conv2d lmos are modnorm's: a random
(16, 8, 3, 3) gradient dualized by `modnorm dualize --method ns5 --form direct`
under taps-3 (per tap) and rms-rms (flattened, the (16, 72) matrix) against
the peer's batched NS5. Prints the largest difference of each.

    /usr/bin/python3 bench/check_peer_cnn.py [--modnorm build/src/cli/modnorm]"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modnorm", default=os.path.join(HERE, "..", "build", "src", "cli", "modnorm"))
    args = ap.parse_args()
    import numpy as np
    import torch
    spec = importlib.util.spec_from_file_location("peer_cnn", os.path.join(HERE, "peer_cnn.py"))
    pc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pc)
    torch.manual_seed(1)
    g = torch.randn(16, 8, 3, 3)
    d_out, d_in, k, _ = g.shape
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "g.npy"), os.path.join(d, "o.npy")
        np.save(src, g.reshape(d_out, d_in * k * k).numpy().astype(np.float32))
        for norm, name in (("taps", "taps-3"), ("flat", "rms-rms")):
            subprocess.run([args.modnorm, "dualize", "--norm", name, "--method", "ns5", "--form",
                            "direct", src, dst], check=True)
            ours = np.load(dst).reshape(g.shape)
            if norm == "flat":
                p = pc.ns5_batched(torch, g.reshape(d_out, d_in * k * k)).reshape(g.shape)
                p = p * (d_out / d_in) ** 0.5 / k
            else:
                taps = g.permute(2, 3, 0, 1).reshape(k * k, d_out, d_in)
                p = pc.ns5_batched(torch, taps).reshape(k, k, d_out, d_in).permute(2, 3, 0, 1)
                p = p * (d_out / d_in) ** 0.5 / (k * k)
            diff = float(np.abs(ours - p.numpy()).max())
            worst = max(worst, diff)
            print(f"{norm}: max |modnorm - peer| = {diff:.3g} (max |lmo| "
                  f"{float(np.abs(ours).max()):.3g})")
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
