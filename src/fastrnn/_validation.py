"""Argument checks shared by :mod:`fastrnn.functional` and :mod:`fastrnn.reference`.

Everything a kernel could trip over is caught here, with an error that names
the argument, what was expected and what was given: with bounds checks off, a
bad shape or index in the kernels would be memory corruption, not an exception.

The kernels run without the GIL, so other Python threads may write the
caller's arrays during a call. Integer arrays (ids, lengths), which decide the
memory the kernels touch, are copied first and the copy is checked and used.
Float arrays are read in place (a copy would cost a pass over x, h and dh):
no float value ever becomes an index or a size, so a concurrent write can
change the numbers a call returns, but never where the kernels read or write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ._core import ACTIVATION_CODES, _all_finite

# The activations, and their codes in the kernels (ACTIVATION_CODES: the enum
# of _core.pxd, exported by the extension).
ACTIVATIONS = tuple(ACTIVATION_CODES)
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass
class Args:
    """Checked, converted, C-contiguous arguments of forward/backward."""

    dtype: np.dtype
    x: np.ndarray | None  # (B, T, D); None when the inputs are ids
    ids: np.ndarray | None  # (B, T) intp in 0..D-1: one-hot rows of x, given by index
    W_xh: np.ndarray  # (D, H)
    W_hh: np.ndarray  # (H, H)
    b: np.ndarray | None  # (H,); None for backward, which does not need it
    h0: np.ndarray | None  # (B, H), broadcast from (H,) when shared; None for zeros
    h0_shared: bool  # h0 was given as one (H,) vector for the whole batch
    lengths: np.ndarray | None  # (B,) intp in 1..T; None when every sequence has T steps
    activation: str
    h: np.ndarray | None = None  # backward only
    dh: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int, int, int]:
        D, H = self.W_xh.shape
        B, T = self.ids.shape if self.x is None else self.x.shape[:2]
        return B, T, D, H


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _float_array(name: str, value: Any, dtype: np.dtype) -> np.ndarray:
    """`value` as a C-contiguous array of `dtype`; TypeError if it is not floating point."""
    arr = np.asarray(value)
    if arr.dtype.kind != "f":
        raise TypeError(
            f"{name} must be a floating-point array, got dtype {arr.dtype}"
        )
    return np.asarray(arr, dtype=dtype, order="C")  # keeps 0-D arrays 0-D


def _private_index_copy(arr: np.ndarray) -> np.ndarray:
    """A new C-contiguous intp copy of an integer array, owned by this call.

    Integer arrays (ids, lengths) decide which memory the kernels touch, so
    they are checked and then used as this one private copy: another thread
    that writes the caller's array after the check cannot make the kernels
    read or write out of bounds. (Integers above intp's range were refused
    by the caller's dtype; np.array casts unsigned 64-bit values that do not
    fit to negative ones, which the range check then refuses.)
    """
    return np.array(arr, dtype=np.intp, order="C", copy=True)


def _check_shape(name: str, arr: np.ndarray, expected: tuple[int, ...], meaning: str) -> None:
    if arr.shape != expected:
        raise ValueError(
            f"{name} must have shape {_shape(expected)} {meaning}, got {_shape(arr.shape)}"
        )


def _check_finite(name: str, arr: np.ndarray) -> None:
    """ValueError if the C-contiguous float32/float64 array holds NaN or inf.

    Small arrays use the kernels' allocation-free scan (a NumPy ufunc call
    costs more than the scan); large ones np.isfinite, which is faster there.
    """
    if arr.size <= _SMALL:
        finite = _all_finite(arr.reshape(-1)) if arr.size else True
    else:
        finite = bool(np.isfinite(arr).all())
    if not finite:
        raise ValueError(f"{name} contains NaN or inf")


_SMALL = 4096


def compute_dtype(W_xh: Any, W_hh: Any) -> np.dtype:
    """The computation dtype: that of the weights (float64 if they differ)."""
    dtypes = []
    for name, w in (("W_xh", W_xh), ("W_hh", W_hh)):
        dt = np.asarray(w).dtype
        if dt.kind == "f" and not dt.isnative:
            dt = dt.newbyteorder("=")  # the same values in this machine's byte order
        if dt not in FLOAT_DTYPES:
            raise TypeError(f"{name} must be float32 or float64, got dtype {dt}")
        dtypes.append(dt)
    return dtypes[0] if dtypes[0] == dtypes[1] else np.dtype(np.float64)


def _check_x(x: Any, W_xh: np.ndarray, H: int, dtype: np.dtype):
    """x as (float x, None) or integer ids as (None, a private intp copy), and
    its (B, T[, D]) shape; W_xh's shape checked against it."""
    x_in = np.asarray(x)
    if x_in.dtype.kind in "iu" and x_in.ndim == 2:
        # integer ids (B, T): x's one-hot rows, given by index into W_xh's rows
        if W_xh.ndim != 2 or W_xh.shape[1] != H:
            raise ValueError(
                f"W_xh must have shape (vocabulary size, {H}) for integer ids x, "
                f"got {_shape(W_xh.shape)}"
            )
        D = W_xh.shape[0]
        B, T = x_in.shape
        # The kernels index W_xh's rows with these ids while the GIL is
        # released: check a private copy and pass that copy, never the
        # caller's array, which another thread may change after the check.
        ids = _private_index_copy(x_in)
        if B >= 1 and T >= 1 and (ids.min() < 0 or ids.max() >= D):
            bad = ids[(ids < 0) | (ids >= D)].flat[0]
            raise ValueError(
                f"x holds integer ids, which must lie in 0..{D - 1} (W_xh's rows), got {bad}"
            )
        return None, ids, ids.shape
    if x_in.dtype.kind in "iu":
        raise TypeError(
            f"x must be a floating-point array (batch, steps, features) or integer ids "
            f"(batch, steps), got dtype {x_in.dtype} with shape {_shape(x_in.shape)}"
        )
    x = _float_array("x", x_in, dtype)
    if x.ndim != 3:
        raise ValueError(
            f"x must be 3-D (batch, steps, features), got {x.ndim}-D with shape "
            f"{_shape(x.shape)}"
        )
    B, T, D = x.shape
    _check_shape("W_xh", W_xh, (D, H), "(x's n_features, n_hidden)")
    return x, None, x.shape


def _check_h0(h0: Any, B: int, H: int, dtype: np.dtype):
    """h0 as an array (or None) and whether it is one (H,) vector shared by the batch."""
    h0_shared = False
    if h0 is not None:
        h0 = _float_array("h0", h0, dtype)
        if h0.shape == (H,):
            h0_shared = True
        elif h0.shape != (B, H):
            raise ValueError(
                f"h0 must have shape {_shape((H,))} (shared) or {_shape((B, H))} "
                f"(one per sequence), got {_shape(h0.shape)}"
            )
    return h0, h0_shared


def _check_lengths(lengths: Any, B: int, T: int):
    """lengths as a private intp copy in 1..T, or None when absent or all T."""
    if lengths is not None:
        lengths = np.asarray(lengths)
        if lengths.dtype.kind not in "iu":
            raise TypeError(f"lengths must be an integer array, got dtype {lengths.dtype}")
        _check_shape("lengths", lengths, (B,), "(batch,)")
        lengths = _private_index_copy(lengths)  # checked and used: the same private values
        if lengths.min() < 1 or lengths.max() > T:
            bad = lengths[(lengths < 1) | (lengths > T)][0]
            raise ValueError(f"lengths must lie in 1..{T} (x's n_steps), got {bad}")
        if (lengths == T).all():
            lengths = None
    return lengths


def check_args(
    x: Any,
    W_xh: Any,
    W_hh: Any,
    b: Any,
    h0: Any,
    activation: Any,
    lengths: Any,
    h: Any = None,
    dh: Any = None,
    *,
    backward: bool = False,
) -> Args:
    """Check and convert the arguments of forward (or, with backward=True, of backward)."""
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    dtype = compute_dtype(W_xh, W_hh)
    W_hh = _float_array("W_hh", W_hh, dtype)
    if W_hh.ndim != 2 or W_hh.shape[0] != W_hh.shape[1] or W_hh.shape[0] < 1:
        raise ValueError(
            f"W_hh must be a square (n_hidden, n_hidden) matrix with n_hidden >= 1, "
            f"got shape {_shape(W_hh.shape)}"
        )
    H = W_hh.shape[0]
    W_xh = _float_array("W_xh", W_xh, dtype)

    x, ids, shape = _check_x(x, W_xh, H, dtype)
    B, T = shape[:2]
    if B < 1 or T < 1:
        raise ValueError(
            f"x must hold at least one sequence of at least one step, got shape {_shape(shape)}"
        )
    if not backward:
        b = _float_array("b", b, dtype)
        _check_shape("b", b, (H,), "(n_hidden,)")

    h0, h0_shared = _check_h0(h0, B, H, dtype)
    lengths = _check_lengths(lengths, B, T)

    if backward:
        h = _float_array("h", h, dtype)
        _check_shape("h", h, (B, T, H), "(batch, steps, n_hidden)")
        dh = _float_array("dh", dh, dtype)
        _check_shape("dh", dh, (B, T, H), "(batch, steps, n_hidden)")

    named = [("W_xh", W_xh), ("W_hh", W_hh)]
    if x is not None:
        named.insert(0, ("x", x))
    if not backward:
        named.append(("b", b))
    if h0 is not None:
        named.append(("h0", h0))
    if backward:
        named += [("h", h), ("dh", dh)]
    for name, arr in named:
        _check_finite(name, arr)

    if h0_shared:
        h0 = np.ascontiguousarray(np.broadcast_to(h0, (B, H)))
    return Args(dtype, x, ids, W_xh, W_hh, None if backward else b, h0, h0_shared,
                lengths, activation, h, dh)


class Gradients(NamedTuple):
    """Gradients of the loss returned by ``backward``.

    dx (B, T, D), dW_xh (D, H), dW_hh (H, H), db (H,), and dh0 with the shape
    h0 was given in: (H,) summed over the batch for a shared h0, (B, H) for one
    per sequence, None when h0 was None (zeros are not a parameter). dx is
    None when x was given as integer ids (they have no gradient).
    """

    dx: np.ndarray
    dW_xh: np.ndarray
    dW_hh: np.ndarray
    db: np.ndarray
    dh0: np.ndarray | None
