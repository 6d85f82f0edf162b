#!/usr/bin/env python3
"""Where a GPT training step's time goes: runs `modnorm bench step --model gpt`
under `perf record --call-graph dwarf` and splits the samples of the timed
steps (forward, loss, backward, solver step; not the network's
initialization nor the roofline's 1024^3 sgemm) by the module kernels they
fall in, inclusive of the BLIS calls below them. oneDNN's JIT kernels cannot
be unwound, so their samples (the float32 Linear products on AVX-512, every
bf16 product, the polar iteration's included) are one part of their own;
under --precision bf16 it also holds the bf16 roofline's eleven 1024^3
products, which run after the steps (about 1% of a 60-step profile). Shares of the step, so a
loaded machine changes them little (perf samples CPU time).

    /usr/bin/python3 bench/gpt_profile.py [--modnorm build/src/cli/modnorm] \
        [--width 128] [--steps 40] [-- EXTRA BENCH OPTIONS]

Prints one line per part (share of the step) and the step's total samples."""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# part -> functions whose inclusive samples it sums (each sample falls in one)
PARTS = [
    ("Linear products (forward, dW, dx)", ["linear_forward", "linear_backward"]),
    ("attention products (QKᵀ, AV and their gradients)",
     ["scores_forward", "scores_backward", "apply_forward", "apply_backward"]),
    ("softmax", ["softmax_forward", "softmax_backward"]),
    ("causal mask", ["mask_forward", "mask_backward"]),
    ("RoPE", ["rope_forward", "rope_backward"]),
    ("GELU", ["gelu_forward", "gelu_backward"]),
    ("residual scale and add", ["mul_forward", "mul_backward", "add_forward", "add_backward"]),
    ("Embed", ["embed_forward", "embed_backward"]),
    ("loss (softmax cross-entropy)", ["mn_loss_cross_entropy_threads"]),
    ("polar iterations (LMOs)", ["mn_solver_dualize_atom"]),
]
STEP = ["mn_graph_forward", "mn_graph_backward", "mn_solver_step",
        "mn_loss_cross_entropy_threads",
        "mn_network_zero_grad"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modnorm", default=os.path.join(HERE, "..", "build", "src", "cli", "modnorm"))
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("extra", nargs="*")
    args = ap.parse_args()
    cmd = [args.modnorm, "bench", "step", "--model", "gpt", "--width", str(args.width), "--set",
           "dhead=32", "--batch", "12", "--threads", "1", "--steps",
           str(args.steps)] + args.extra
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "perf.data")
        subprocess.run(["perf", "record", "-q", "-F", "999", "--call-graph", "dwarf,32768", "-o",
                        data, "--"] + cmd, check=True, stdout=subprocess.DEVNULL)
        rep = subprocess.run(["perf", "report", "-i", data, "--children", "--sort", "symbol",
                              "-g", "none", "--percent-limit", "0"], check=True,
                             capture_output=True, text=True).stdout
        dsos = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso",
                               "-g", "none", "--percent-limit", "0"], check=True,
                              capture_output=True, text=True).stdout
    # oneDNN's JIT kernels have no unwind tables: their samples end there and
    # reach no module kernel, so they are a part of their own
    jit = sum(float(m.group(1)) for m in
              (re.match(r"\s*([\d.]+)%\s+\[JIT\]", line) for line in dsos.splitlines()) if m)
    incl = {}
    for line in rep.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+[\d.]+%\s+\[.\]\s+(\S+)", line)
        if m:
            incl[m.group(2)] = incl.get(m.group(2), 0.0) + float(m.group(1))
    step = sum(incl.get(f, 0.0) for f in STEP) + jit
    print(" ".join(cmd))
    rest = step
    for name, fns in PARTS:
        share = sum(incl.get(f, 0.0) for f in fns)
        rest -= share
        print(f"{100 * share / step:5.1f}%  {name}")
    rest -= jit
    print(f"{100 * jit / step:5.1f}%  oneDNN's JIT kernels (float32 Linear on AVX-512, every bf16 "
          "product)")
    update = incl.get("mn_solver_step", 0.0) - incl.get("mn_solver_dualize_atom", 0.0)
    rest -= update
    print(f"{100 * update / step:5.1f}%  update outside the LMOs (momentum, weights)")
    print(f"{100 * rest / step:5.1f}%  the rest (graph bookkeeping, copies, zeroing)")
    print(f"(the step is {step:.1f}% of the process's samples)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
