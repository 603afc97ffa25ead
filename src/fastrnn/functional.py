"""The Elman RNN forward pass and BPTT on the Cython kernels.

``forward`` and ``backward`` check and convert their arguments, allocate every
output and work buffer, pick the float32 or float64 kernel and the number of
threads, then make one kernel call that runs without the GIL.
:mod:`fastrnn.reference` has the same functions in plain NumPy.
"""

from __future__ import annotations

import threading

import numpy as np

from ._dispatch import KERNEL_MODULES, _core, kernels
from ._threads import get_num_threads, threads, threads_for
from ._validation import (ACTIVATION_CODES, Gradients, StackedGradients, StackedOutput,
                          check_args, check_flag)


# The AVX-512 build's panels are 32 floats (16 doubles) wide. For products of
# fewer columns than this (H in forward/backward, N in matmul) its wider
# panels are mostly padding and its calls cost a few microseconds more: on 2
# cores of a Xeon with AVX-512, forward + backward of one sequence ran at
# 0.84-0.94 times the AVX2 build's speed for H = 16 and 32, 1.0 for H = 48,
# 1.06-1.11 for H = 64. Such calls run on the AVX2 build, which gives the
# same bits; 0 turns this off (the tests do, to run each build at every size).
NARROW_COLUMNS = 48


def _kernels_for(n_columns):
    """The kernels for a product of n_columns output columns (see above)."""
    global _last_kernels
    chosen = kernels
    if n_columns < NARROW_COLUMNS and kernels is KERNEL_MODULES.get("avx512"):
        chosen = KERNEL_MODULES.get("avx2", kernels)
    _last_kernels = chosen
    return chosen


_last_kernels = kernels


def last_team_size() -> int:
    """Threads of the last forward, backward or matmul call's parallel region
    (1 when it ran inline), read from the build that ran it: for tests."""
    return _last_kernels._last_team_size()

__all__ = ["forward", "backward", "stacked_forward", "stacked_backward", "matmul",
           "Gradients", "StackedOutput", "StackedGradients", "threads", "get_num_threads"]

# The float32 and float64 specializations of the fused kernels, picked by the
# computation dtype (explicitly: with integer ids, x is None and cannot tell).
_SPECIALIZATION = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}



# How the kernels use threads, up to the limit of fastrnn._threads
# (fastrnn.threads, FASTRNN_NUM_THREADS, OpenMP's limit, the CPUs). With at
# least SPLIT_BATCH sequences they give each thread whole sequences (the
# time loops then need no barrier at all, see _group_rows in the kernels):
# one more thread per SEQUENCE_WORK_PER_THREAD multiply-adds of the whole
# pass (B * T * H * (D + H) forward, 4 times as many needed backward, whose
# products over all steps meet at more barriers). With fewer sequences they
# split each step's product by columns and meet at a barrier after every
# step, which pays only when a step has enough work: one more thread per
# STEP_WORK_PER_THREAD multiply-adds of the step product (B * H * H).
# float64 counts twice; a work of 0 per thread means always as many threads
# as the limit allows. Tests set them to 0 to cover several threads.
SPLIT_BATCH = _core.SPLIT_BATCH_SEQUENCES  # the kernels' own limit (_core.pxd)
SEQUENCE_WORK_PER_THREAD = 1 << 19
STEP_WORK_PER_THREAD = 1 << 16
_WORK_WEIGHT = {np.dtype(np.float32): 1, np.dtype(np.float64): 2}


def _n_threads(B: int, T: int, D: int, H: int, dtype=np.dtype(np.float32),
               backward: bool = False) -> int:
    """Threads for a forward (or backward) pass of B sequences of T steps,
    D inputs (0 for integer ids: a row lookup) and H units."""
    weight = _WORK_WEIGHT[np.dtype(dtype)]
    if B >= SPLIT_BATCH:
        return threads_for(B * T * H * (D + H) * weight,
                            SEQUENCE_WORK_PER_THREAD * (4 if backward else 1))
    return threads_for(B * H * H * weight, STEP_WORK_PER_THREAD)


# A single product (the estimators' readout) takes one more thread per
# PRODUCT_WORK_PER_THREAD multiply-adds (float64 counts twice; 0: as many
# as the limit allows), up to the limit.
PRODUCT_WORK_PER_THREAD = 1 << 18


def matmul(a, b, *, trans_a=False, trans_b=False):
    """``op(a) @ op(b)`` on the kernels' own products and threads, for 2-D
    float32 or float64 arrays of one dtype; ``op`` transposes when asked
    (not both).

    The estimators' readout uses it rather than NumPy's matmul: NumPy's BLAS
    keeps its own thread pool, whose idle threads spin for a while after each
    call on the cores the kernels' threads need at every step.
    """
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"matmul takes 2-D arrays, got {a.ndim}-D and {b.ndim}-D")
    if a.dtype != b.dtype or a.dtype not in _SPECIALIZATION:
        raise TypeError(f"matmul takes two float32 or two float64 arrays, got {a.dtype} and {b.dtype}")
    if trans_a and trans_b:
        raise ValueError("matmul cannot transpose both operands")
    m, k = a.shape[::-1] if trans_a else a.shape
    k_b, n = b.shape[::-1] if trans_b else b.shape
    if k != k_b:
        raise ValueError(f"matmul: op(a) is {m} x {k} but op(b) is {k_b} x {n}")
    out = np.empty((m, n), dtype=a.dtype)
    n_threads = threads_for(m * n * k * _WORK_WEIGHT[a.dtype], PRODUCT_WORK_PER_THREAD)
    _kernels_for(n)._matmul[_SPECIALIZATION[a.dtype]](a, b, out, trans_a, trans_b,
                                                      n_threads)
    return out


def readout_xent(h, W_hy, b_y, targets, scale, row_losses=None):
    """The readout and softmax cross-entropy of a classifier's window in one
    kernel call (internal interface of :mod:`fastrnn.losses`): logits
    ``h @ W_hy + b_y`` of h (M, H), their loss against class indices
    targets (M,) in 0..V-1 and its gradients. Returns ``(loss_sum, dz, dW_hy,
    db_y, dh)``: dz (M, V) = scale * (softmax - onehot), dW_hy = h^T dz,
    db_y its column sums, dh = dz @ W_hy^T; row_losses (M,) float64,
    optional, receives each row's loss. The same bits as :func:`matmul`
    (plus b_y), :func:`softmax_xent` and :func:`matmul` with trans_a and
    trans_b. h, W_hy, b_y: C-contiguous, one float dtype (checked here, with
    the indices' range, on a private copy of them)."""
    M, H = h.shape
    V = W_hy.shape[1]
    dt = W_hy.dtype
    targets = np.array(targets, dtype=np.intp, order="C", copy=True)
    if row_losses is None:
        row_losses = np.empty(M)
    if (h.ndim != 2 or W_hy.shape != (H, V) or b_y.shape != (V,) or dt not in _SPECIALIZATION
            or h.dtype != dt or b_y.dtype != dt or targets.shape != (M,)
            or row_losses.shape != (M,) or row_losses.dtype != np.float64
            or not (h.flags.c_contiguous and W_hy.flags.c_contiguous
                    and b_y.flags.c_contiguous)):
        raise ValueError("readout_xent: inconsistent arguments")
    if M == 0 or H == 0 or V == 0:
        raise ValueError("readout_xent: needs rows, hidden units and classes")
    if int(targets.min()) < 0 or int(targets.max()) >= V:
        raise ValueError(f"readout_xent: class indices must lie in 0..{V - 1}")
    z = np.empty((M, V), dtype=dt)
    dW = np.empty((H, V), dtype=dt)
    db = np.empty(V, dtype=dt)
    dh = np.empty((M, H), dtype=dt)
    n_threads = threads_for(3 * M * H * V * _WORK_WEIGHT[dt], PRODUCT_WORK_PER_THREAD)
    chosen = _kernels_for(V)
    work = _work_buffer(dt, chosen._readout_xent_work(H, V, n_threads, dt == np.float64))
    loss_sum = chosen._readout_xent[_SPECIALIZATION[dt]](
        h, W_hy, b_y, targets, dt.type(scale), z, dW, db, dh, row_losses, work, n_threads)
    return loss_sum, z, dW, db, dh


# readout_xent's work buffers, one per calling thread and dtype, kept between
# calls: a new buffer of some hundred kB per call costs the page faults of
# its first use (measured: 4 times as many page faults per training window,
# and slower windows).
_WORK = threading.local()


def _work_buffer(dtype, size):
    """This thread's work buffer of at least size elements of dtype (its
    contents are not kept: one kernel call at a time uses it)."""
    buffers = _WORK.__dict__.setdefault("buffers", {})
    buf = buffers.get(dtype)
    if buf is None or buf.size < size:
        buf = buffers[dtype] = np.empty(size, dtype)
    return buf


# --------------------------------------------------------------------------
# Internal interface of fastrnn._training: arrays the caller already checked
# --------------------------------------------------------------------------
# The estimators train on private, C-contiguous copies of checked data (ids
# in range, lengths in 1..T, finite floats) and on their own weights, window
# after window. forward/backward would check all of it again and copy ids
# and lengths at every window; these entries take the arrays as they are.
# Only what decides memory is compared, at the cost of a few tuple
# comparisons: the shapes against each other (the kernels' typed arguments
# refuse a wrong dtype or layout). Ids and lengths must be the caller's own
# checked copies. Nothing scans for NaN or inf: the trainer detects
# divergence itself, from the loss, the gradient norm and the updated
# weights.

def _trusted_shapes(x, W_xh, W_hh, h0, lengths):
    """(B, T, D, H, ids?) after comparing the shapes that decide memory."""
    H = W_hh.shape[0]
    D = W_xh.shape[0]
    ids = x.ndim == 2
    B, T = x.shape[:2]
    if (W_hh.shape != (H, H) or W_xh.shape != (D, H) or (not ids and x.shape[2] != D)
            or (h0 is not None and h0.shape != (B, H))
            or (lengths is not None and lengths.shape != (B,))):
        raise ValueError("trusted_forward/backward: inconsistent shapes")
    return B, T, D, H, ids


def _buffer(a, shape, dtype, name):
    """a, a caller's array that a kernel will fill, after checking what
    decides memory; a new array when a is None."""
    if a is None:
        return np.empty(shape, dtype=dtype)
    if a.shape != shape or a.dtype != dtype or not a.flags.c_contiguous \
            or not a.flags.writeable:
        raise ValueError(f"{name} must be a writeable C-contiguous {shape} array of {dtype}")
    return a


def trusted_forward(x, W_xh, W_hh, b, h0, activation, lengths, out=None):
    """:func:`forward` on checked arrays (see above): x float (B, T, D) or
    intp ids (B, T); h0 None or (B, H); lengths None or intp (B,). out:
    where h goes (a kept buffer; it must not overlap the arguments), or None
    for a new array."""
    B, T, D, H, ids = _trusted_shapes(x, W_xh, W_hh, h0, lengths)
    if b.shape != (H,):
        raise ValueError("trusted_forward: inconsistent shapes")
    dt = W_hh.dtype
    h = _buffer(out, (B, T, H), dt, "out")
    _kernels_for(H)._forward[_SPECIALIZATION[dt]](
        None if ids else x, x if ids else None, W_xh, W_hh, b, h0, lengths, h,
        ACTIVATION_CODES[activation], _n_threads(B, T, 0 if ids else D, H, dt))
    return h


def trusted_backward(x, h, dh, W_xh, W_hh, h0, activation, lengths, want_dx=True,
                     work=None, dx_out=None):
    """:func:`backward` on checked arrays (see above), with h0 None or (B, H):
    dh0 comes back per sequence. want_dx False: dx comes back None, not
    computed (the estimators need no gradient of their data: B * T * D * H
    multiply-adds fewer, the other gradients the same bits). work (B, T, H)
    and dx_out (B, T, D): kept buffers for the kernel's dL/da and for dx
    (they must not overlap the arguments), or None for new arrays."""
    B, T, D, H, ids = _trusted_shapes(x, W_xh, W_hh, h0, lengths)
    if h.shape != (B, T, H) or dh.shape != (B, T, H):
        raise ValueError("trusted_backward: inconsistent shapes")
    dt = W_hh.dtype
    da = _buffer(work, (B, T, H), dt, "work")
    dx = None if ids or not want_dx else _buffer(dx_out, (B, T, D), dt, "dx_out")
    dW_xh = np.empty((D, H), dtype=dt)
    dW_hh = np.empty((H, H), dtype=dt)
    db = np.empty(H, dtype=dt)
    dh0 = None if h0 is None else np.empty((B, H), dtype=dt)
    _kernels_for(H)._backward[_SPECIALIZATION[dt]](
        None if ids else x, x if ids else None, h, dh, W_xh, W_hh, h0, lengths,
        da, dx, dW_xh, dW_hh, db, dh0, ACTIVATION_CODES[activation],
        _n_threads(B, T, 0 if ids else D, H, dt, backward=True))
    return Gradients(dx, dW_xh, dW_hh, db, dh0)


# Internal interface of fastrnn.losses and fastrnn.optim: one pass each where
# NumPy needs several (see _kernels_train.pxi). Both check what decides
# memory (dtypes, layouts, lengths, the class indices' range).

def softmax_xent(z, targets, scale, col_sums, row_losses=None):
    """Softmax cross-entropy of logits z (N, C), C-contiguous float32/float64,
    with class indices targets (N,) in 0..C-1: z <- scale * (softmax(z) -
    onehot(targets)) in place, col_sums (C,) <- its column sums, row_losses
    (N,) float64 (optional) <- each row's loss; returns the sum of -log
    softmax(z)[target] over the rows (a Python float). The indices are
    checked on a private copy, which the kernel then reads: another thread
    that writes the caller's array meanwhile cannot move its writes."""
    N, C = z.shape
    targets = np.array(targets, dtype=np.intp, order="C", copy=True)
    if row_losses is None:
        row_losses = np.empty(N)
    if (targets.shape != (N,) or col_sums.shape != (C,) or row_losses.shape != (N,)
            or row_losses.dtype != np.float64 or z.dtype not in _SPECIALIZATION
            or col_sums.dtype != z.dtype):
        raise ValueError("softmax_xent: inconsistent arguments")
    if N == 0:
        col_sums[...] = 0
        return 0.0
    if int(targets.min()) < 0 or int(targets.max()) >= C:
        raise ValueError(f"softmax_xent: class indices must lie in 0..{C - 1}")
    n_threads = threads_for(N * C * 8 * _WORK_WEIGHT[z.dtype], PRODUCT_WORK_PER_THREAD)
    return kernels._softmax_xent[_SPECIALIZATION[z.dtype]](
        z, targets, z.dtype.type(scale), col_sums, row_losses, n_threads)


def softmax(z):
    """Softmax along the last axis of a float32 or float64 array z, as a new
    C-contiguous array of z's dtype: the probabilities behind
    softmax_xent's gradient (the kernels' exponential, sums in double), the
    same bits as a fitted model's stepper gives (the estimators'
    predict_proba and step)."""
    z = np.array(z, order="C", copy=True)
    if z.dtype not in _SPECIALIZATION or z.ndim == 0:
        raise ValueError(f"softmax takes an array of float32 or float64 rows, got {z.dtype} "
                         f"with {z.ndim} dimensions")
    if z.size:
        kernels._softmax_rows[_SPECIALIZATION[z.dtype]](z.reshape(-1, z.shape[-1]))
    return z


def adam_update(p, g, m, v, beta1, beta2, inv_sqrt_bc2, eps, step_size, scale=1.0,
                backup=None):
    """One Adam update in place of p and its moments m, v from gradient
    ``g * scale`` (see :class:`fastrnn.optim.Adam`): C-contiguous arrays of
    one shape and dtype. backup (None, or such an array) receives p's values
    before the update. Returns the number of updated values that are not
    finite."""
    if not (p.shape == g.shape == m.shape == v.shape
            and p.dtype == g.dtype == m.dtype == v.dtype and p.dtype in _SPECIALIZATION
            and p.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous
            and (backup is None or (backup.shape == p.shape and backup.dtype == p.dtype
                                    and backup.flags.c_contiguous
                                    and not np.may_share_memory(backup, p)))):
        raise ValueError("adam_update: inconsistent arguments")
    return kernels._adam[_SPECIALIZATION[p.dtype]](
        p.reshape(-1), np.ascontiguousarray(g).reshape(-1), m.reshape(-1), v.reshape(-1),
        None if backup is None else backup.reshape(-1), scale, beta1, beta2, inv_sqrt_bc2,
        eps, step_size)


def sum_squares(x):
    """``sum(x ** 2)`` of a float32 or float64 array as a Python float,
    accumulated in double (a float32 array's sum cannot overflow)."""
    if x.dtype not in _SPECIALIZATION:
        raise ValueError(f"sum_squares: float32 or float64, got {x.dtype}")
    return kernels._sum_squares[_SPECIALIZATION[x.dtype]](np.ascontiguousarray(x).reshape(-1))


def _work_inputs(a) -> int:
    """D for the thread rule: 0 for integer ids, whose projection is a lookup."""
    return 0 if a.ids is not None else a.shape[2]


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
    _kernels_for(H)._forward[_SPECIALIZATION[a.dtype]](
        a.x, a.ids, a.W_xh, a.W_hh, a.b, a.h0, a.lengths, h,
        ACTIVATION_CODES[activation], _n_threads(B, T, _work_inputs(a), H, a.dtype))
    return h


def backward(x, h, dh, W_xh, W_hh, h0=None, *, activation="tanh", lengths=None,
             compute_dx=True):
    """Backpropagation through time.

    Given ``h = forward(x, W_xh, W_hh, b, h0, ...)`` and ``dh = dL/dh``
    (B, T, H), returns the gradients of L. The gradient of each tied weight is
    the sum of the gradients of its copies at every step. dh is ignored at
    padded steps, which take no gradient. Arguments and errors as in
    :func:`forward` (b is not needed: h already holds its effect).
    ``compute_dx=False`` skips the gradient of x (dx comes back None), which
    a loop that trains on data needs no more than PyTorch does for an input
    that does not require a gradient: B * T * D * H multiply-adds fewer, the
    other gradients the same bits.

    Returns
    -------
    Gradients
        Named tuple ``(dx, dW_xh, dW_hh, db, dh0)``; dh0 has h0's shape
        ((H,) summed over the batch for a shared h0) and is None when h0 is;
        dx is None for integer ids x and with ``compute_dx=False``.
    """
    compute_dx = check_flag("compute_dx", compute_dx)
    a = check_args(x, W_xh, W_hh, None, h0, activation, lengths, h, dh, backward=True)
    B, T, D, H = a.shape
    dt = a.dtype
    da = np.empty((B, T, H), dtype=dt)  # work: dL/da_t for every step
    dx = None if a.ids is not None or not compute_dx else np.empty((B, T, D), dtype=dt)
    dW_xh = np.empty((D, H), dtype=dt)
    dW_hh = np.empty((H, H), dtype=dt)
    db = np.empty(H, dtype=dt)
    dh0 = None if a.h0 is None else np.empty((B, H), dtype=dt)
    _kernels_for(H)._backward[_SPECIALIZATION[a.dtype]](
        a.x, a.ids, a.h, a.dh, a.W_xh, a.W_hh, a.h0, a.lengths,
        da, dx, dW_xh, dW_hh, db, dh0,
        ACTIVATION_CODES[activation],
        _n_threads(B, T, _work_inputs(a), H, a.dtype, backward=True))
    if dh0 is not None and a.h0_shared:
        dh0 = dh0.sum(axis=0)
    return Gradients(dx, dW_xh, dW_hh, db, dh0)


def stacked_forward(x, layers, h0=None, *, activation="tanh", lengths=None,
                    bidirectional=False) -> StackedOutput:
    """A stack of Elman RNN layers, each run forward or in both directions,
    as PyTorch's ``nn.RNN(num_layers=L, bidirectional=...)``.

    Layer 0 reads x; layer l > 0 reads the states of layer l - 1, its two
    directions' side by side. The backward direction runs each sequence from
    its last valid step back to step 0.

    Parameters
    ----------
    x : array (B, T, D), or integer ids (B, T)
        As in :func:`forward`.
    layers : list of L layers, each a list of ``(W_xh, W_hh, b)`` per direction
        ``layers[l][0]`` is the forward direction, ``layers[l][1]`` the
        backward one (bidirectional only). W_xh is (D, H_0) for layer 0 and
        (H_{l-1} * n_dir, H_l) above it; W_hh (H_l, H_l), b (H_l,). Sizes may
        differ between layers, not between the directions of one. Every
        weight and bias has the one computation dtype, float32 or float64.
    h0 : None, or a list of L lists of n_dir initial states
        ``h0[l][d]``: None (zeros), (H_l,) shared by the batch, or (B, H_l).
    activation : {"tanh", "relu"}
    lengths : None or int array (B,) with values in 1..T
    bidirectional : bool
        n_dir = 2 when True, else 1.

    Returns
    -------
    StackedOutput
        ``(output, h_n, cache)``: output (B, T, H_{L-1} * n_dir), the top
        layer's states ([forward, backward] on the last axis, 0 at padded
        steps); ``h_n[l][d]`` (B, H_l), each direction's final state (the
        forward one at each sequence's last valid step, the backward one at
        step 0), so that ``np.stack(sum(h_n, []))`` is PyTorch's h_n when
        the sizes agree; cache for :func:`stacked_backward`. In a
        one-direction stack, output is the top layer's states that the cache
        holds (as :func:`forward`'s h is what :func:`backward` is given):
        change a copy of it, not output itself, before
        :func:`stacked_backward`.

    Raises
    ------
    TypeError, ValueError
        As :func:`forward`, naming the layer and direction; also for layers
        whose sizes do not chain or whose count of directions is not n_dir,
        and for weights of mixed dtypes.
    """
    return _layers.stacked_forward(x, layers, h0, activation=activation,
                                   lengths=lengths, bidirectional=bidirectional)


def stacked_backward(cache, dy, dh_n=None, *, compute_dx=True) -> StackedGradients:
    """Backpropagation through time through a stack of layers.

    Parameters
    ----------
    cache : the cache of ``stacked_forward(...)``
    dy : array (B, T, H_{L-1} * n_dir)
        dL/d(output); ignored at padded steps.
    dh_n : None, or a list of L lists of n_dir arrays (B, H_l) or None
        dL/d(h_n), when the loss also reads the final states.
    compute_dx : bool
        False: the gradient of x is not computed (as for :func:`backward`);
        the layers above layer 0 still pass theirs down.

    Returns
    -------
    StackedGradients
        ``(dx, layers)``: dx (B, T, D) (None for integer ids x and with
        ``compute_dx=False``);
        ``layers[l][d]`` the :class:`Gradients` of that layer and direction
        (dW_xh, dW_hh, db, and dh0 in h0[l][d]'s shape or None; its dx is
        None).
    """
    return _layers.stacked_backward(cache, dy, dh_n, check_flag("compute_dx", compute_dx))


from . import _layers  # noqa: E402  (it calls trusted_forward/backward above)
