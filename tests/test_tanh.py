"""The kernels' vectorized tanh (``_tanh_hook``) against np.tanh, in every
kernel build and both dtypes.

Errors are relative to tanh of the exact (float64) input: at most
TOL[dtype], a few units of rounding (float64: 2^-53 = 1.1e-16; float32:
2^-24 = 6e-8).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastrnn
from fastrnn import functional

KERNEL_MODULES = dict(getattr(functional, "KERNEL_MODULES", None) or {"baseline": functional._core})
TOL = {np.dtype(np.float64): 1e-15, np.dtype(np.float32): 3e-7}


@pytest.fixture(params=sorted(KERNEL_MODULES))
def hook(request):
    """The build's in-place tanh of a contiguous 1-D float32/float64 array."""
    return KERNEL_MODULES[request.param]._tanh_hook


def apply(hook, values, dtype):
    """tanh of a contiguous copy of `values` in `dtype`."""
    out = np.array(values, dtype=dtype)
    hook(out)
    return out


def rel_err(y, x):
    """Elementwise |y - tanh(x)| / |tanh(x)| against float64 tanh of x."""
    exact = np.tanh(x.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.abs(y.astype(np.float64) - exact) / np.abs(exact)
    return np.where(exact == 0, np.abs(y), err)


def test_dense_grid(hook, dtype):
    x = np.linspace(-25, 25, 200_001).astype(dtype)
    y = apply(hook, x, dtype)
    assert y.dtype == dtype
    assert rel_err(y, x).max() <= TOL[dtype]
    assert (np.diff(y) >= 0).all()  # monotonic non-decreasing
    assert np.abs(y).max() <= 1


def test_small_to_large_magnitudes(hook, dtype):
    """Log-spaced from the smallest subnormal up: tanh(x) ~ x at the bottom."""
    finfo = np.finfo(dtype)
    x = np.geomspace(float(finfo.smallest_subnormal), 30, 100_001).astype(dtype)
    x = np.concatenate([-x[::-1], x])
    y = apply(hook, x, dtype)
    assert rel_err(y, x).max() <= TOL[dtype]
    assert (np.diff(y) >= 0).all()


def test_odd_symmetry(hook, dtype):
    x = np.linspace(0, 25, 100_003).astype(dtype)
    np.testing.assert_array_equal(apply(hook, -x, dtype), -apply(hook, x, dtype))


def test_signed_zero(hook, dtype):
    y = apply(hook, [0.0, -0.0], dtype)
    assert (y == 0).all()
    assert list(np.signbit(y)) == [False, True]


def test_tiny_and_subnormal_values_are_exact(hook, dtype):
    """Below sqrt(eps), tanh(x) rounds to x: subnormals must not flush to 0."""
    finfo = np.finfo(dtype)
    tiny = np.array([finfo.smallest_subnormal, 3 * finfo.smallest_subnormal,
                     finfo.smallest_normal / 2, finfo.smallest_normal, 1e-30, 1e-20],
                    dtype=dtype)
    tiny = tiny[tiny > 0]
    for x in (tiny, -tiny):
        np.testing.assert_array_equal(apply(hook, x, dtype), x)


def test_large_values_are_exactly_one(hook, dtype):
    finfo = np.finfo(dtype)
    x = np.array([19.1, 20, 25, 100, 1e10, 1e30, finfo.max, np.inf], dtype=dtype)
    if dtype == np.float32:
        x = np.concatenate([x, np.array([9.1, 10], dtype)])
    np.testing.assert_array_equal(apply(hook, x, dtype), np.ones_like(x))
    np.testing.assert_array_equal(apply(hook, -x, dtype), -np.ones_like(x))
    # ... as the correctly rounded tanh is (np.tanh in float32 is not, at 9.1)
    np.testing.assert_array_equal(np.tanh(x.astype(np.float64)).astype(dtype), np.ones_like(x))


def test_every_length_and_offset(hook, dtype):
    """Vector loops and their remainders: each length and start offset gives
    the same values as one element at a time, and touches nothing else."""
    rng = np.random.default_rng(0)
    values = (4 * rng.standard_normal(80)).astype(dtype)
    one_by_one = np.array([apply(hook, values[i:i + 1], dtype)[0] for i in range(values.size)])
    for n in range(0, 40):
        for offset in range(0, 5):
            buf = values.copy()
            view = buf[offset:offset + n]  # contiguous, unaligned for offset > 0
            hook(view)
            np.testing.assert_array_equal(view, one_by_one[offset:offset + n])
            np.testing.assert_array_equal(buf[:offset], values[:offset])
            np.testing.assert_array_equal(buf[offset + n:], values[offset + n:])


def test_nan_propagates(hook, dtype):
    values = np.array([np.nan, 0.5, -np.nan, 30.0] * 5, dtype=dtype)
    hook(values)
    assert np.isnan(values[0::4]).all() and np.isnan(values[2::4]).all()
    np.testing.assert_allclose(values[1::4], np.tanh(dtype.type(0.5)), rtol=1e-6)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_overflow_inside_the_recurrence_gives_nan_like_the_reference(activation):
    # finite inputs whose pre-activations overflow; the kernels must not hide a NaN
    args = (np.ones((1, 2, 1)), np.array([[1e308, 1e308]]),
            np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([1e308, 1e308]))
    h = fastrnn.forward(*args, activation=activation)
    with np.errstate(over="ignore", invalid="ignore"):  # NumPy warns, the kernels do not
        expected = fastrnn.reference.forward(*args, activation=activation)
    np.testing.assert_array_equal(np.isnan(h), np.isnan(expected))
    if activation == "relu":  # step 0 is inf, so step 1 is inf - inf
        assert np.isnan(h[0, 1]).all()
