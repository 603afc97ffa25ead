"""The readout's products on tall register blocks (functional.matmul), against
NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from fastrnn import functional

# Row counts around the tall blocks (12 or 6 rows, parallel blocks of 4 of
# them) and column counts around the panels (16 or 32 floats, 8 or 16
# doubles), partial panels included.
SHAPES = [(1, 5, 3), (13, 7, 103), (47, 33, 65), (100, 256, 103), (97, 103, 256),
          (50, 20, 17), (25, 130, 1)]


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_tall_products_match_numpy(path, dtype, trans_a, trans_b, m, k, n):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    expected = (a.T.astype(np.float64) if trans_a else a) @ (b.T if trans_b else b)
    got = functional.matmul(a, b, trans_a=trans_a, trans_b=trans_b)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * k)
