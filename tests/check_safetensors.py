#!/usr/bin/env python3
"""An independent safetensors reader (struct + json + numpy only; the
`safetensors` package is not installed here): it checks the layout rules the
safetensors library enforces, loads every tensor with numpy, and checks the
modnorm checkpoint's own invariants. Exit 0 if the file passes, 1 with a
message otherwise. Usage: check_safetensors.py FILE [--quiet] [--npy DIR]; with --npy, every
tensor must equal DIR/NAME.npy (as `modnorm export` writes it) in dtype,
shape and bits."""
import json
import struct
import sys
import zlib

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "U64": "<u8", "U8": "u1",
          "F16": "<f2", "BF16": None, "I32": "<i4", "I8": "i1", "BOOL": "?"}


def fail(msg):
    print("check_safetensors: " + msg, file=sys.stderr)
    sys.exit(1)


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        fail("duplicate key in the header")
    return dict(pairs)


def read(path):
    data = open(path, "rb").read()
    if len(data) < 8:
        fail("shorter than 8 bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if n > 100_000_000:
        fail("header length %d over the library's 100 MB limit" % n)
    if 8 + n > len(data):
        fail("header runs past the end")
    if n % 8:
        fail("header length %d: the data does not start 8-byte aligned" % n)
    text = data[8:8 + n].decode("utf-8")
    if not text.startswith("{"):
        fail("header does not start with '{'")
    if text.rstrip(" ") != text.rstrip():
        fail("header padded with something other than spaces")
    header = json.loads(text, object_pairs_hook=no_duplicates)
    meta = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        fail("__metadata__ is not a string -> string map")
    body = data[8 + n:]
    entries = []
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail("%s: keys %s" % (name, sorted(info)))
        dt = DTYPES.get(info["dtype"])
        if dt is None:
            fail("%s: dtype %s" % (name, info["dtype"]))
        shape = info["shape"]
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            fail("%s: shape %r" % (name, shape))
        b, e = info["data_offsets"]
        size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dt).itemsize
        if e - b != size:
            fail("%s: offsets [%d, %d] for %d bytes" % (name, b, e, size))
        entries.append((b, e, name, dt, shape))
    # The order in the header is the order of the data (modnorm writes it so).
    if [x[0] for x in entries] != sorted(x[0] for x in entries):
        fail("tensors are not in header order in the data")
    at = 0
    for b, e, name, _, _ in sorted(entries):
        if b != at:
            fail("%s: begins at %d, previous ended at %d (gap or overlap)" % (name, b, at))
        at = e
    if at != len(body):
        fail("data section is %d bytes, tensors cover %d" % (len(body), at))
    if "crc32" in meta and int(meta["crc32"], 16) != zlib.crc32(body):
        fail("crc32 %s does not match %08x" % (meta["crc32"], zlib.crc32(body)))
    tensors = {name: np.frombuffer(body[b:e], dtype=dt).reshape(shape)
               for b, e, name, dt, shape in entries}
    return meta, tensors


def main():
    path = sys.argv[1]
    meta, t = read(path)
    if meta.get("format") == "modnorm-checkpoint":
        settings = json.loads(meta["settings"])
        step = int(meta["step"])
        if int(t["optim.step"]) != step or t["fit.losses"].shape != (step,):
            fail("optim.step / fit.losses disagree with the metadata's step %d" % step)
        perm = t["data.permutation"]
        if sorted(perm.tolist()) != list(range(len(perm))):
            fail("data.permutation is not a permutation")
        if json.loads(meta["data"])["n"] != len(perm):
            fail("data.permutation's length is not the data's n")
        for name, a in t.items():
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                fail("%s has non-finite entries" % name)
        weights = [k for k in t if k.startswith("model.")]
        for w in weights:
            m = "optim." + w[len("model."):-len(".weight")] + ".momentum"
            if t[m].shape != t[w].shape:
                fail("%s and %s differ in shape" % (w, m))
        if "--quiet" not in sys.argv:
            print("%s: %d tensors, step %d of %d, opt %s; %s" % (
                path, len(t), step, settings["total_steps"], settings["opt"],
                ", ".join("%s %s" % (k, list(t[k].shape)) for k in weights)))
    if "--npy" in sys.argv:
        out = sys.argv[sys.argv.index("--npy") + 1]
        for name, a in t.items():
            b = np.load("%s/%s.npy" % (out, name))
            if b.dtype != a.dtype or b.shape != a.shape or b.tobytes() != a.tobytes():
                fail("%s.npy differs from the checkpoint's %s" % (name, name))
        if json.load(open(out + "/metadata.json")) != meta:
            fail("metadata.json differs from __metadata__")
        if "--quiet" not in sys.argv:
            print("%d tensors equal their .npy files" % len(t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
