"""The Elman RNN forward pass and BPTT on the Cython kernels.

``forward`` and ``backward`` check and convert their arguments, allocate every
output and work buffer, pick the float32 or float64 kernel and the small-size
or BLAS path, then make one kernel call that runs without the GIL.
:mod:`fastrnn.reference` has the same functions in plain NumPy.
"""

from __future__ import annotations

import os

import numpy as np

from ._validation import Gradients, check_args

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "fastrnn's compiled extension fastrnn._core could not be imported "
        f"({exc}). Install the package with `pip install .` from the source "
        "tree, or for development `pip install -e . --no-build-isolation` and "
        "`python setup.py build_ext --inplace` after each .pyx change."
    ) from exc


def _kernel_modules() -> dict:
    """The compiled kernel modules this machine can run, by instruction set."""
    modules = {"baseline": _core}
    if _core._cpu_has_avx2_fma():
        try:
            from . import _core_avx2
        except ImportError:  # not built on this platform
            pass
        else:
            modules["avx2"] = _core_avx2
    return modules


KERNEL_MODULES = _kernel_modules()
# The kernels forward/backward call: the fastest this CPU runs, unless
# FASTRNN_BASELINE_KERNELS=1 asks for the baseline build.
if os.environ.get("FASTRNN_BASELINE_KERNELS", "0") not in ("", "0"):
    kernels = _core
else:
    kernels = KERNEL_MODULES.get("avx2", _core)

__all__ = ["forward", "backward", "Gradients"]

_ACTIVATION_CODES = {"tanh": 0, "relu": 1}
# The float32 and float64 specializations of the fused kernels, picked by the
# computation dtype (explicitly: with integer ids, x is None and cannot tell).
_SPECIALIZATION = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

# The per-step product h_{t-1} @ W_hh (B x H times H x H) goes to BLAS when
# its multiply-adds, B * H * H, reach this threshold; below, the kernels' own
# vectorized loop, with no call overhead, is faster. float64 counts 16 times:
# its loop is not register-blocked, and BLAS wins from B * H * H ~ 2**14.
# Set from timings of both paths on a 2-core AVX2 machine (loop vs BLAS, one
# forward + backward, float32): B,H = 16,64: 1.91 vs 2.16 ms; 8,128: 2.39 vs
# 2.98 ms; 16,128: 4.61 vs 4.29 ms; 32,128: 9.2 vs 4.0 ms. Tests change it to
# cover both paths.
BLAS_MIN_STEP_WORK = 1 << 18
_WORK_WEIGHT = {np.dtype(np.float32): 1, np.dtype(np.float64): 16}


def _use_blas(B: int, H: int, dtype=np.dtype(np.float32)) -> bool:
    return B * H * H * _WORK_WEIGHT[np.dtype(dtype)] >= BLAS_MIN_STEP_WORK


def forward(x, W_xh, W_hh, b, h0=None, *, activation="tanh", lengths=None):
    """Hidden states of a vanilla (Elman) RNN.

    ``h_t = act(x_t @ W_xh + h_{t-1} @ W_hh + b)`` with ``h_{-1} = h0``.

    Parameters
    ----------
    x : array (B, T, D), or integer array (B, T)
        Input sequences, batch-first. D may be 0 (no input at any step).
        Integer ids (B, T) in 0..V-1 stand for one-hot rows of a (B, T, V)
        x (V = W_xh.shape[0]): the input projection is a row lookup into
        W_xh, so a large vocabulary costs no one-hot array.
    W_xh, W_hh, b : arrays (D, H), (H, H), (H,)
        Parameters, shared by all steps. The weights' dtype (float32 or
        float64) is the computation dtype; other float arrays are converted.
    h0 : None, array (H,) or (B, H)
        Initial state: zeros, one vector for the whole batch, or one per
        sequence.
    activation : {"tanh", "relu"}
    lengths : None or int array (B,) with values in 1..T
        True length of each padded sequence.

    Returns
    -------
    h : ndarray (B, T, H)
        Hidden states; 0 at padded steps.

    Raises
    ------
    TypeError
        For arrays that are not floating point (weights: not float32/float64),
        or integer-free lengths.
    ValueError
        For wrong shapes, NaN or inf, lengths outside 1..T, an unknown
        activation.
    """
    a = check_args(x, W_xh, W_hh, b, h0, activation, lengths)
    B, T, D, H = a.shape
    h = np.empty((B, T, H), dtype=a.dtype)
    use_blas = _use_blas(B, H, a.dtype)
    kernels._forward[_SPECIALIZATION[a.dtype]](
        a.x, a.ids, a.W_xh, a.W_hh, a.b, a.h0, a.lengths, h,
        _ACTIVATION_CODES[activation], use_blas)
    return h


def backward(x, h, dh, W_xh, W_hh, h0=None, *, activation="tanh", lengths=None):
    """Backpropagation through time.

    Given ``h = forward(x, W_xh, W_hh, b, h0, ...)`` and ``dh = dL/dh``
    (B, T, H), returns the gradients of L. The gradient of each tied weight is
    the sum of the gradients of its copies at every step. dh is ignored at
    padded steps, which take no gradient. Arguments and errors as in
    :func:`forward` (b is not needed: h already holds its effect).

    Returns
    -------
    Gradients
        Named tuple ``(dx, dW_xh, dW_hh, db, dh0)``; dh0 has h0's shape
        ((H,) summed over the batch for a shared h0) and is None when h0 is;
        dx is None for integer ids x.
    """
    a = check_args(x, W_xh, W_hh, None, h0, activation, lengths, h, dh, backward=True)
    B, T, D, H = a.shape
    dt = a.dtype
    da = np.empty((B, T, H), dtype=dt)  # work: dL/da_t for every step
    h_prev_fix = np.empty((B, H), dtype=dt)  # work: see rnn_backward
    dx = None if a.ids is not None else np.empty((B, T, D), dtype=dt)
    dW_xh = np.empty((D, H), dtype=dt)
    dW_hh = np.empty((H, H), dtype=dt)
    db = np.empty(H, dtype=dt)
    dh0 = None if a.h0 is None else np.empty((B, H), dtype=dt)
    use_blas = _use_blas(B, H, a.dtype)
    W_hh_T = np.ascontiguousarray(a.W_hh.T)  # da_t @ W_hh^T as an untransposed product
    kernels._backward[_SPECIALIZATION[a.dtype]](
        a.x, a.ids, a.h, a.dh, a.W_xh, W_hh_T, a.h0, a.lengths,
        da, h_prev_fix, dx, dW_xh, dW_hh, db, dh0,
        _ACTIVATION_CODES[activation], use_blas)
    if dh0 is not None and a.h0_shared:
        dh0 = dh0.sum(axis=0)
    return Gradients(dx, dW_xh, dW_hh, db, dh0)
