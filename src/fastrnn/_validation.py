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

from ._core import ACTIVATION_CODES
from ._dispatch import kernels as _kernels

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
    """ValueError if the C-contiguous float32/float64 array holds NaN or inf:
    the kernels' scan, which allocates nothing and runs without the GIL."""
    if arr.size and not _kernels._all_finite(arr.reshape(-1)):
        raise ValueError(f"{name} contains NaN or inf")


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
            if bad < 0 and x_in.dtype.kind == "u":  # (an unsigned id above intp's range,
                bad = int(bad) + 2 ** (8 * ids.itemsize)  # which the copy wrapped round)
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


# --------------------------------------------------------------------------
# Stacked and bidirectional networks (fastrnn.functional.stacked_forward and
# fastrnn.reference.stacked_forward): every argument is checked once, here,
# and the passes of the layers then run on the checked arrays.
# --------------------------------------------------------------------------

DIRECTIONS = ("forward", "backward")


@dataclass
class StackArgs:
    """Checked, converted, C-contiguous arguments of a stacked forward pass."""

    dtype: np.dtype
    x: np.ndarray | None  # (B, T, D); None when the inputs are ids
    ids: np.ndarray | None  # (B, T) intp: one-hot rows of layer 0's input
    weights: list  # [layer][direction] -> (W_xh, W_hh, b)
    h0: list  # [layer][direction] -> (B, H_l) array (broadcast when shared) or None
    h0_shared: list  # [layer][direction] -> bool
    lengths: np.ndarray | None  # (B,) intp in 1..T, or None
    activation: str

    @property
    def batch_steps(self) -> tuple[int, int]:
        return self.ids.shape if self.x is None else self.x.shape[:2]

    @property
    def n_directions(self) -> int:
        return len(self.weights[0])

    @property
    def hidden(self) -> list[int]:
        """H_l of every layer."""
        return [layer[0][1].shape[0] for layer in self.weights]

    def last_steps(self) -> np.ndarray:
        """(B,) index of each sequence's last valid step."""
        B, T = self.batch_steps
        return np.full(B, T - 1, np.intp) if self.lengths is None else self.lengths - 1


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _stack_structure(layers: Any, n_dir: int) -> None:
    """TypeError/ValueError unless layers is a non-empty list of layers, each
    a list of n_dir (W_xh, W_hh, b) triples."""
    if not _is_sequence(layers) or len(layers) == 0:
        raise TypeError(
            "layers must be a non-empty list with one entry per layer, each a list of "
            f"(W_xh, W_hh, b) per direction; got {type(layers).__name__}"
            + (" of length 0" if _is_sequence(layers) else "")
        )
    for l, layer in enumerate(layers):
        what = "(forward, backward) for bidirectional=True" if n_dir == 2 else \
            "(forward,) for bidirectional=False"
        if not _is_sequence(layer) or len(layer) != n_dir:
            got = f"length {len(layer)}" if _is_sequence(layer) else type(layer).__name__
            raise ValueError(
                f"layers[{l}] must be a list of {n_dir} direction(s)' weights "
                f"{what}, got {got}"
            )
        for d, triple in enumerate(layer):
            if not _is_sequence(triple) or len(triple) != 3:
                raise ValueError(f"layers[{l}][{d}] must be a triple (W_xh, W_hh, b)")


def _stack_dtype(layers: Any) -> np.dtype:
    """The one dtype of every weight; TypeError naming the first that differs."""
    try:
        dtype = compute_dtype(layers[0][0][0], layers[0][0][1])
    except TypeError as exc:
        raise TypeError(f"layers[0][0] {exc}") from None
    for l, layer in enumerate(layers):
        for d, triple in enumerate(layer):
            for name, w in zip(("W_xh", "W_hh", "b"), triple):
                dt = np.asarray(w).dtype
                if dt.kind == "f" and not dt.isnative:
                    dt = dt.newbyteorder("=")
                if dt != dtype:
                    raise TypeError(
                        f"layers[{l}][{d}] {name} has dtype {dt}, but the stack computes in "
                        f"{dtype} (layers[0][0]'s weights): every weight and bias of a stack "
                        "must have that one dtype"
                    )
    return dtype


def _stack_weights(layers: Any, dtype: np.dtype, D: int | None, n_dir: int) -> list:
    """The weights as C-contiguous arrays, with every shape checked against
    the layer below: layer 0 takes D inputs (D None: integer ids, any number
    of rows), layer l > 0 the H_{l-1} * n_dir outputs of layer l - 1."""
    out = []
    for l, layer in enumerate(layers):
        converted = []
        for d, (W_xh, W_hh, b) in enumerate(layer):
            where = f"layers[{l}][{d}]"
            W_hh = _float_array(f"{where} W_hh", W_hh, dtype)
            if W_hh.ndim != 2 or W_hh.shape[0] != W_hh.shape[1] or W_hh.shape[0] < 1:
                raise ValueError(
                    f"{where} W_hh must be a square (n_hidden, n_hidden) matrix with "
                    f"n_hidden >= 1, got shape {_shape(W_hh.shape)}"
                )
            H = W_hh.shape[0]
            if d > 0 and H != converted[0][1].shape[0]:
                raise ValueError(
                    f"{where} has n_hidden {H}, but layers[{l}][0] has "
                    f"{converted[0][1].shape[0]}: both directions of a layer have one size"
                )
            W_xh = _float_array(f"{where} W_xh", W_xh, dtype)
            if l > 0:
                below = out[l - 1][0][1].shape[0]
                meaning = (f"(layer {l - 1}'s n_hidden {below} x {n_dir} direction(s), "
                           "n_hidden)")
                _check_shape(f"{where} W_xh", W_xh, (below * n_dir, H), meaning)
            elif D is not None:
                _check_shape(f"{where} W_xh", W_xh, (D, H), "(x's n_features, n_hidden)")
            elif W_xh.ndim != 2 or W_xh.shape[1] != H or (
                    d > 0 and W_xh.shape[0] != converted[0][0].shape[0]):
                raise ValueError(
                    f"{where} W_xh must have shape (vocabulary size, {H}) for integer ids x, "
                    "the same in both directions, got " + _shape(W_xh.shape)
                )
            b = _float_array(f"{where} b", b, dtype)
            _check_shape(f"{where} b", b, (H,), "(n_hidden,)")
            for name, arr in (("W_xh", W_xh), ("W_hh", W_hh), ("b", b)):
                _check_finite(f"{where} {name}", arr)
            converted.append((W_xh, W_hh, b))
        out.append(converted)
    return out


def _stack_states(name: str, states: Any, B: int, hidden: list[int], n_dir: int,
                  dtype: np.dtype, shared_ok: bool):
    """Nested [layer][direction] states (None or arrays) checked and converted:
    (states, shared flags), shared (H,) states broadcast to (B, H)."""
    L = len(hidden)
    if states is None:
        return [[None] * n_dir for _ in range(L)], [[False] * n_dir for _ in range(L)]
    if not _is_sequence(states) or len(states) != L or not all(
            _is_sequence(s) and len(s) == n_dir for s in states):
        raise ValueError(
            f"{name} must be None or a list of {L} layer(s), each a list of {n_dir} "
            "state(s) (None, or arrays) per direction, like the weights in layers"
        )
    arrays, shared = [], []
    for l, per_layer in enumerate(states):
        arrays.append([])
        shared.append([])
        for d, s in enumerate(per_layer):
            where = f"{name}[{l}][{d}]"
            if s is None:
                arrays[l].append(None)
                shared[l].append(False)
                continue
            s = _float_array(where, s, dtype)
            H = hidden[l]
            if s.shape != (B, H) and not (shared_ok and s.shape == (H,)):
                expect = f"{_shape((H,))} (shared) or " if shared_ok else ""
                raise ValueError(f"{where} must have shape {expect}{_shape((B, H))}, "
                                 f"got {_shape(s.shape)}")
            _check_finite(where, s)
            shared[l].append(s.shape == (H,))
            arrays[l].append(np.ascontiguousarray(np.broadcast_to(s, (B, H))))
    return arrays, shared


def check_flag(name: str, value: Any) -> bool:
    """value as a Python bool: True, False or a NumPy bool (TypeError otherwise)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_stack(x: Any, layers: Any, h0: Any, activation: Any, lengths: Any,
                bidirectional: Any) -> StackArgs:
    """Check and convert the arguments of a stacked forward pass."""
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if not isinstance(bidirectional, (bool, np.bool_)):
        raise TypeError(f"bidirectional must be True or False, got {bidirectional!r}")
    n_dir = 2 if bidirectional else 1
    _stack_structure(layers, n_dir)
    dtype = _stack_dtype(layers)
    W_xh0 = _float_array("layers[0][0] W_xh", layers[0][0][0], dtype)
    if W_xh0.ndim != 2:
        raise ValueError(f"layers[0][0] W_xh must be 2-D (n_features, n_hidden), got shape "
                         f"{_shape(W_xh0.shape)}")
    try:  # x, and W_xh0's rows against it (its columns against W_hh below)
        x, ids, shape = _check_x(x, W_xh0, W_xh0.shape[1], dtype)
    except ValueError as exc:
        if not str(exc).startswith("W_xh"):
            raise
        raise ValueError(f"layers[0][0] {exc}") from None
    B, T = shape[:2]
    if B < 1 or T < 1:
        raise ValueError(
            f"x must hold at least one sequence of at least one step, got shape {_shape(shape)}"
        )
    weights = _stack_weights(layers, dtype, None if x is None else shape[2], n_dir)
    if x is not None:
        _check_finite("x", x)
    hidden = [layer[0][1].shape[0] for layer in weights]
    h0, h0_shared = _stack_states("h0", h0, B, hidden, n_dir, dtype, shared_ok=True)
    return StackArgs(dtype, x, ids, weights, h0, h0_shared, _check_lengths(lengths, B, T),
                     activation)


def check_stack_gradients(s: StackArgs, dy: Any, dh_n: Any):
    """dy (B, T, H_top * n_dir) and dh_n (None, or [layer][direction] of None
    or (B, H_l)) for a stacked backward pass of the forward pass s."""
    B, T = s.batch_steps
    hidden, n_dir = s.hidden, s.n_directions
    dy = _float_array("dy", dy, s.dtype)
    _check_shape("dy", dy, (B, T, hidden[-1] * n_dir),
                 "(batch, steps, top n_hidden x directions)")
    _check_finite("dy", dy)
    dh_n, _ = _stack_states("dh_n", dh_n, B, hidden, n_dir, s.dtype, shared_ok=False)
    return dy, dh_n


class StackedOutput(NamedTuple):
    """What ``stacked_forward`` returns.

    output (B, T, H_top * n_directions): the top layer's hidden states, the
    forward direction's in ``[..., :H_top]`` and the backward direction's in
    ``[..., H_top:]``, 0 at padded steps; h_n: ``h_n[l][d]`` (B, H_l), the
    final state of layer l in direction d (forward: at each sequence's last
    valid step; backward: at step 0); cache: what ``stacked_backward`` of the
    same module needs (every layer's inputs and states).
    """

    output: np.ndarray
    h_n: list
    cache: Any


class StackedGradients(NamedTuple):
    """What ``stacked_backward`` returns.

    dx (B, T, D), None for integer ids x; layers: ``layers[l][d]`` is a
    :class:`Gradients` of layer l in direction d, with its dW_xh, dW_hh, db
    and dh0 (h0[l][d]'s shape, None where that state was None) and dx None
    (the input's gradient is the stack's dx).
    """

    dx: np.ndarray | None
    layers: list
