"""Stacked and bidirectional Elman RNNs on the kernels of fastrnn.functional.

The public entries are :func:`fastrnn.functional.stacked_forward` and
:func:`fastrnn.functional.stacked_backward`; this module holds their work.
Every argument is checked once (:func:`fastrnn._validation.check_stack`),
then each layer and direction is one call of the trusted kernel entries
(``functional.trusted_forward`` / ``trusted_backward``), which take whole
sequences on threads as a single layer does. No loop here runs over time.

Layer l's input is x for l = 0, else the output of layer l - 1: its forward
and backward directions' states side by side, (B, T, H_{l-1} * n_dir). The
backward direction reads each sequence from its own last valid step back to
step 0: it is the ordinary forward kernel run on the sequences reversed
within their lengths (``_Reversal``), padding left in place, where it stays
outside every sequence. Its states and gradients are reversed back the same
way. In BPTT, the gradient of layer l's input (the sum over its directions)
is the output gradient of layer l - 1.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from . import functional
from ._threads import get_num_threads, threads
from ._validation import (Gradients, StackArgs, StackedGradients, StackedOutput,
                          check_stack, check_stack_gradients)


class _Reversal:
    """Reverses each sequence of a batch within its own length.

    Step t of sequence b moves to step lengths[b] - 1 - t; padded steps stay.
    The map is its own inverse, so one row index serves both ways: a gather
    of the (B * T) rows of a batch-first array.
    """

    def __init__(self, lengths: np.ndarray | None, B: int, T: int):
        t = np.arange(T)
        self.whole = lengths is None
        if lengths is None:
            source = np.broadcast_to(T - 1 - t, (B, T))
        else:
            last = lengths[:, None] - 1
            source = np.where(t <= last, last - t, t)
        self.rows = (np.arange(B)[:, None] * T + source).reshape(-1)
        self.B, self.T = B, T

    def __call__(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """a (B, T[, n]) with its sequences reversed, as a new C-contiguous
        array, or in out (C-contiguous, a's shape and dtype)."""
        flat = a.reshape((self.B * self.T,) + a.shape[2:])  # D may be 0
        if out is None:
            return flat[self.rows].reshape(a.shape)
        np.take(flat, self.rows, axis=0, out=out.reshape(flat.shape), mode="clip")
        return out

    def columns(self, a: np.ndarray, start: int, stop: int,
                out: np.ndarray | None = None) -> np.ndarray:
        """a[..., start:stop] reversed, as a new C-contiguous array, or in out
        (C-contiguous (B, T, stop - start), a's dtype)."""
        flat = a.reshape(self.B * self.T, a.shape[2])
        if out is None:
            return flat[self.rows, start:stop].reshape(self.B, self.T, stop - start)
        if self.whole:  # every sequence of all T steps: a reversed view is faster
            np.copyto(out, a[:, ::-1, start:stop])
        else:
            out.reshape(self.B * self.T, stop - start)[...] = flat[self.rows, start:stop]
        return out

    def into_columns(self, out: np.ndarray, start: int, a: np.ndarray) -> None:
        """out[..., start:start + n] = a (B, T, n) reversed."""
        n = a.shape[2]
        if self.whole:  # every sequence of all T steps: a reversed view is faster
            np.copyto(out[:, ::-1, start:start + n], a)
            return
        flat = out.reshape(self.B * self.T, out.shape[2])
        flat[self.rows, start:start + n] = a.reshape(self.B * self.T, n)


class Workspace:
    """The large arrays of a stack's training step, kept from one step to
    the next by their owner (the estimators' trainer): each layer and
    direction's states, dL/da, dx and reversed copies, each layer's output.

    A layer's forward arrays stay for its backward pass; the backward
    pass's own arrays are shared by the layers of one size, so that a deep
    stack keeps about as much as its largest step holds at once (3
    bidirectional layers of 256 units, B, T = 64, 100, float32: a peak of
    204 MiB traced during partial_fit, against 192 MiB with new arrays and
    254 MiB with every layer's own).

    New arrays of that size at every step can cost more than copying them:
    depending on what the process allocated before, the C library may hand
    the freed memory back to the system at the end of every step, and then
    the next step's first touch of every page faults. Measured on 2 cores,
    an RNNRegressor step at B, T, D, H = 64, 100, 128, 256, bidirectional,
    float32, 4 alternating runs each: after a single-layer fit in the same
    process (about 3,000 page faults per step with new arrays), 38-41 ms
    with new arrays and 34-36.5 ms with kept ones; in a fresh process (no
    faults), 30-34 ms against 33-35 (new arrays freed one step are reused,
    still in cache, the next). Kept arrays make the step's time the same
    whatever came before, from a trainer's second step on: a trainer lives
    for one call of fit or partial_fit, so a partial_fit on one mini-batch
    takes new arrays at every call, and whether they fault in then depends
    on the allocator's history (2 layers of 128 units at B, T = 32, 64:
    about 870 faults per such call after one sequence of fits, none in
    another). An array is named by its role and place; asking for another
    shape or dtype replaces it. Whatever a step takes from a
    workspace must not outlive that step.
    """

    def __init__(self):
        self._arrays: dict = {}

    def array(self, key: tuple, shape: tuple, dtype) -> np.ndarray:
        """The kept C-contiguous array named key, of this shape and dtype
        (its values are whatever the last user left)."""
        a = self._arrays.get(key)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._arrays[key] = np.empty(shape, dtype)
        return a


def _kept(ws: Workspace | None, key: tuple, shape: tuple, dtype) -> np.ndarray | None:
    """ws's array named key, or None (the callee then makes a new one)."""
    return None if ws is None else ws.array(key, shape, dtype)


# A layer's two directions are independent: they run side by side on two
# Python threads (the kernels release the GIL), each on half the threads,
# when each direction's pass is large enough to take several threads on its
# own (fastrnn.functional._n_threads; below that, starting a thread costs
# more than a small pass). Measured on 2 cores shared with another process
# running a test suite (bench/layers.py's bidirectional layer, float32
# training step, 2 threads, medians of 7 alternating rounds): 11.1 ms
# instead of 13.5 ms at B, T, D, H = 32, 64, 65, 128 (1.22 to 1.25 times
# faster in two runs) and 1.05 times faster at 64, 100, 128, 256 (116-119
# ms instead of 122-125). Each direction on one thread needs no OpenMP
# barrier, which on a busy core waits for a thread that is not running.
# On the same cores otherwise idle (3 runs of bench/layers.py) it was
# neutral: side by side 5.4-5.6 ms against 5.4 one after the other, and
# 54-59 ms against 54-59 ms (per-run ratios 0.99 to 1.03).
CONCURRENT_DIRECTIONS = True


def _pass_threads(s: StackArgs, l: int, backward: bool) -> int:
    """The threads one direction's pass of layer l would take on its own."""
    B, T = s.batch_steps
    D, H = s.weights[l][0][0].shape
    if l == 0 and s.ids is not None:
        D = 0  # a row lookup (see functional._work_inputs)
    return functional._n_threads(B, T, D, H, s.dtype, backward=backward)


def _directions(calls: list, pass_threads: int) -> list:
    """The results of calls (one function per direction): side by side on
    two Python threads, each on half the threads, when CONCURRENT_DIRECTIONS
    and each pass would take pass_threads >= 2 threads on its own; otherwise
    one after the other, each on every thread. Results do not depend on the
    thread count."""
    n = get_num_threads()
    if not CONCURRENT_DIRECTIONS or len(calls) < 2 or n < 2 or pass_threads < 2:
        return [call() for call in calls]
    results: list = [None, None]
    errors: list = []

    def first():
        try:
            with threads(n - n // 2):
                results[0] = calls[0]()
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)

    worker = threading.Thread(target=first)
    worker.start()
    try:
        with threads(n // 2):
            results[1] = calls[1]()
    finally:
        worker.join()
    if errors:
        raise errors[0]
    return results


@dataclass
class StackedCache:
    """What stacked_backward needs from stacked_forward: the checked
    arguments, and for every layer and direction the input and the states in
    that direction's order of steps (reversed for the backward direction)."""

    args: StackArgs
    reversal: _Reversal | None  # None for a unidirectional stack
    inputs: list  # [layer][direction]: (B, T, D_l) floats, or (B, T) ids for layer 0
    states: list  # [layer][direction]: (B, T, H_l)


def _layer_forward(s: StackArgs, l: int, layer_input: np.ndarray, reversal,
                   ws: Workspace | None):
    """Run layer l in every direction on layer_input (reversed within each
    sequence for the backward direction): the input of each direction, its
    states in its own order of steps, and the layer's output (B, T, H_l *
    n_dir). Each direction reverses its input and writes its half of the
    output in its own call, so that with the directions side by side these
    copies run beside the other direction's work."""
    B, T = s.batch_steps
    inputs = [layer_input, None][:len(s.weights[l])]
    output = None
    if reversal is not None:
        H = s.weights[l][0][1].shape[0]
        output = _kept(ws, ("output", l), (B, T, 2 * H), s.dtype)
        if output is None:
            output = np.empty((B, T, 2 * H), dtype=s.dtype)

    def call(d, W_xh, W_hh, b):
        out = _kept(ws, ("states", l, d), (B, T, W_hh.shape[0]), s.dtype)

        def run():
            if d == 1:
                inputs[1] = reversal(layer_input, _kept(
                    ws, ("reversed input", l), layer_input.shape, layer_input.dtype))
            h = functional.trusted_forward(inputs[d], W_xh, W_hh, b, s.h0[l][d],
                                           s.activation, s.lengths, out)
            if output is not None:
                H = W_hh.shape[0]
                if d == 0:
                    output[..., :H] = h
                else:
                    reversal.into_columns(output, H, h)
            return h
        return run

    calls = [call(d, *w) for d, w in enumerate(s.weights[l])]
    states = _directions(calls, _pass_threads(s, l, backward=False))
    return inputs, states, (states[0] if output is None else output)


def stacked_forward(x, layers, h0=None, *, activation="tanh", lengths=None,
                    bidirectional=False) -> StackedOutput:
    """See :func:`fastrnn.functional.stacked_forward`."""
    s = check_stack(x, layers, h0, activation, lengths, bidirectional)
    out = forward_checked(s)
    for private in (s.lengths, *(out.cache.inputs[0] if s.ids is not None else ())):
        if private is not None:
            private.flags.writeable = False  # indices the kernels read again in BPTT
    return out


def forward_checked(s: StackArgs, ws: Workspace | None = None) -> StackedOutput:
    """stacked_forward on arguments already checked (a StackArgs, as
    check_stack makes it; the estimators build theirs from checked data).
    ws: where the large arrays go (see Workspace), or None for new ones."""
    B, T = s.batch_steps
    reversal = _Reversal(s.lengths, B, T) if s.n_directions == 2 else None
    layer_input = s.x if s.ids is None else s.ids
    all_inputs, all_states, h_n = [], [], []
    rows, last = np.arange(B), s.last_steps()
    for l in range(len(s.weights)):
        inputs, states, layer_input = _layer_forward(s, l, layer_input, reversal, ws)
        all_inputs.append(inputs)
        all_states.append(states)
        # the final state of each direction is at its own last step
        h_n.append([h[rows, last] for h in states])
    return StackedOutput(layer_input, h_n, StackedCache(s, reversal, all_inputs, all_states))


def _check_cache(cache) -> None:
    """The indices that a cache gives the kernels (lengths, ids) still in
    range: they are read-only, but reachable through the cache."""
    if not isinstance(cache, StackedCache):
        raise TypeError(
            "cache must be the cache returned by fastrnn.functional.stacked_forward, got "
            f"{type(cache).__module__}.{type(cache).__name__}"
        )
    s = cache.args
    B, T = s.batch_steps
    bad = s.lengths is not None and (s.lengths.shape != (B,) or s.lengths.min() < 1
                                     or s.lengths.max() > T)
    if s.ids is not None:
        V = s.weights[0][0][0].shape[0]
        bad = bad or any(ids.shape != (B, T) or ids.min() < 0 or ids.max() >= V
                         for ids in cache.inputs[0])
    if bad:
        raise ValueError("the cache's lengths or ids were changed after stacked_forward")


def _output_gradient(d_out: np.ndarray, l: int, d: int, cache: StackedCache, dh_n: list,
                     copy: bool, ws: Workspace | None) -> np.ndarray:
    """dL/d(states) of layer l in direction d, in that direction's order of
    steps, from the gradient of the layer's output and of its final states.
    copy: d_out is the caller's array, which must not change."""
    s, reversal = cache.args, cache.reversal
    if reversal is None:
        dh = d_out.copy() if copy and dh_n[l][0] is not None else d_out
    else:
        B, T, width = d_out.shape
        H = width // 2
        dh = _kept(ws, ("dh", d, H), (B, T, H), d_out.dtype)
        if d == 1:
            dh = reversal.columns(d_out, H, 2 * H, dh)
        elif dh is None:  # a copy: d_out may be the caller's (ascontiguousarray
            dh = d_out[..., :H].copy()  # would return a view of it when B * T == 1)
        else:
            np.copyto(dh, d_out[..., :H])
    if dh_n[l][d] is not None:  # h_n[l][d] is the state at this last step
        dh[np.arange(d_out.shape[0]), s.last_steps()] += dh_n[l][d]
    return dh


def _layer_backward(d_out: np.ndarray, l: int, cache: StackedCache, dh_n: list,
                    copy: bool, want_dx: bool = True, ws: Workspace | None = None):
    """BPTT through layer l in every direction: its Gradients per direction
    (dx None) and the gradient of its input (None for integer ids, or when
    not want_dx: then it is not computed). Each direction takes its part of
    the output's gradient, and the backward direction reverses its dx, in
    its own call (beside the other direction's work when they run side by
    side)."""
    s = cache.args
    B, T = s.batch_steps

    def call(d, W_xh, W_hh, _):
        D, H = W_xh.shape
        # (dL/da and dh live for one layer's pass: layers of one size share
        # them; dx becomes the gradient that the layer below reads while it
        # writes its own: two arrays, taken in turn)
        work = _kept(ws, ("da", d, H), (B, T, H), s.dtype)
        dx_out = None  # (integer ids have no gradient)
        if want_dx and cache.inputs[l][d].ndim == 3:
            dx_out = _kept(ws, ("dx", l % 2, d, D), (B, T, D), s.dtype)

        def run():
            dh = _output_gradient(d_out, l, d, cache, dh_n, copy, ws)
            g = functional.trusted_backward(
                cache.inputs[l][d], cache.states[l][d], dh, W_xh, W_hh, s.h0[l][d],
                s.activation, s.lengths, want_dx, work, dx_out)
            if d == 1 and g.dx is not None and not cache.reversal.whole:
                # back to the steps' own order (for whole sequences, the sum
                # below reads it through a reversed view instead)
                g = g._replace(dx=cache.reversal(
                    g.dx, _kept(ws, ("reversed dx", g.dx.shape[2]), g.dx.shape, g.dx.dtype)))
            return g
        return run

    grads, d_in = [], None
    calls = [call(d, *w) for d, w in enumerate(s.weights[l])]
    for d, g in enumerate(_directions(calls, _pass_threads(s, l, backward=True))):
        dh0 = g.dh0
        if dh0 is not None and s.h0_shared[l][d]:
            dh0 = dh0.sum(axis=0)
        grads.append(Gradients(None, g.dW_xh, g.dW_hh, g.db, dh0))
        if g.dx is not None:
            dx = g.dx[:, ::-1] if d == 1 and cache.reversal.whole else g.dx
            d_in = np.ascontiguousarray(dx) if d_in is None else np.add(d_in, dx, out=d_in)
    return grads, d_in


def stacked_backward(cache, dy, dh_n=None, compute_dx=True) -> StackedGradients:
    """See :func:`fastrnn.functional.stacked_backward`."""
    _check_cache(cache)
    dy, dh_n = check_stack_gradients(cache.args, dy, dh_n)
    return backward_checked(cache, dy, dh_n, want_dx=compute_dx)


def backward_checked(cache: StackedCache, dy: np.ndarray, dh_n: list,
                     want_dx: bool = True, ws: Workspace | None = None) -> StackedGradients:
    """stacked_backward on checked gradients: dy (B, T, H_top * n_dir)
    C-contiguous in the stack's dtype, which stays unchanged, and dh_n[l][d]
    None or (B, H_l) C-contiguous. want_dx False: the gradient of x is not
    computed (the result's dx is None); the layers above still pass theirs
    down. ws: where the large arrays go (see Workspace; the result's dx is
    then one of them), or None for new ones."""
    d_out, layer_grads = dy, []
    for l in range(len(cache.states) - 1, -1, -1):
        grads, d_out = _layer_backward(d_out, l, cache, dh_n, copy=d_out is dy,
                                       want_dx=want_dx or l > 0, ws=ws)
        layer_grads.append(grads)
    return StackedGradients(d_out, layer_grads[::-1])
