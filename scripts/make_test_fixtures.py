#!/usr/bin/env python3
"""Reference values from NumPy for the C tests (tests/data/*.npy).

Run from the repository root with Debian's python3-numpy:
    /usr/bin/python3 scripts/make_test_fixtures.py
The outputs are checked in; the tests never need Python.
"""
import os

import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "tests", "data")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261122)

# Spectral references: a 9 x 4 float64 matrix, its polar factor, σ_max and nuclear norm.
G = rng.standard_normal((9, 4))
U, s, Vt = np.linalg.svd(G, full_matrices=False)
np.save(os.path.join(out, "svd_G.npy"), G)
np.save(os.path.join(out, "svd_polar.npy"), U @ Vt)
np.save(os.path.join(out, "svd_values.npy"), np.array([[s[0], s.sum()]]))

# .npy reader cases: float32, float64, 1-D, and the refused layouts.
np.save(os.path.join(out, "small_f4.npy"), np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5)
np.save(os.path.join(out, "small_f8.npy"), np.arange(6, dtype=np.float64).reshape(3, 2) / 7)
np.save(os.path.join(out, "vector_f4.npy"), np.array([1, -2, 3], dtype=np.float32))
np.save(os.path.join(out, "fortran_f4.npy"), np.asfortranarray(np.ones((2, 3), np.float32)))
np.save(os.path.join(out, "bigendian_f4.npy"), np.ones((2, 2), dtype=">f4"))
np.save(os.path.join(out, "int32.npy"), np.ones((2, 2), dtype=np.int32))
np.save(os.path.join(out, "cube_f4.npy"), np.ones((2, 2, 2), dtype=np.float32))
