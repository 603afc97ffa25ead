"""The Elman RNN and its backpropagation through time in plain NumPy.

Same functions, signatures and results as :mod:`fastrnn.functional`, written
to be read: this is the oracle of the tests and the baseline of the
benchmarks. The structure matches the Cython kernels: the input projection of
all steps is one product before the time loop, the reverse loop only forms
each step's gradient at the pre-activation, and the gradients of the tied
weights are summed over all steps with one product each after it.

Notation (batch-first): x (B, T, D), h (B, T, H), W_xh (D, H), W_hh (H, H)::

    a_t = x_t @ W_xh + h_{t-1} @ W_hh + b,    h_t = act(a_t),    h_{-1} = h0
"""

from __future__ import annotations

import numpy as np

from ._validation import (Gradients, StackedGradients, StackedOutput, check_args,
                          check_flag, check_stack, check_stack_gradients)

__all__ = ["forward", "backward", "stacked_forward", "stacked_backward", "Gradients",
           "StackedOutput", "StackedGradients"]


def _valid_steps(lengths, B, T):
    """(B, T) booleans: True where step t is inside sequence b."""
    if lengths is None:
        return np.ones((B, T), dtype=bool)
    return np.arange(T)[None, :] < lengths[:, None]


def forward(x, W_xh, W_hh, b, h0=None, *, activation="tanh", lengths=None):
    """Hidden states h (B, T, H) of the Elman RNN; 0 at padded steps.

    x is (B, T, D) floats, or (B, T) integer ids standing for one-hot rows.
    """
    a = check_args(x, W_xh, W_hh, b, h0, activation, lengths)
    B, T, D, H = a.shape
    act = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0))
    valid = _valid_steps(a.lengths, B, T)

    if a.ids is not None:
        h = a.W_xh[a.ids] + a.b  # ids: one-hot rows, so x @ W_xh picks rows
    else:
        h = a.x @ a.W_xh + a.b  # input projection of every step at once
    h_prev = a.h0 if a.h0 is not None else np.zeros((B, H), a.dtype)
    for t in range(T):
        h[:, t] = np.where(valid[:, t, None], act(h[:, t] + h_prev @ a.W_hh), 0)
        h_prev = h[:, t]
    return h


def backward(x, h, dh, W_xh, W_hh, h0=None, *, activation="tanh", lengths=None,
             compute_dx=True):
    """Gradients of a loss L given h = forward(...) and dh = dL/dh (B, T, H).

    dh is ignored at padded steps, which take no gradient. compute_dx=False:
    dx is not computed (None).
    """
    compute_dx = check_flag("compute_dx", compute_dx)
    a = check_args(x, W_xh, W_hh, None, h0, activation, lengths, h, dh, backward=True)
    B, T, D, H = a.shape
    h, dh = a.h, a.dh
    valid = _valid_steps(a.lengths, B, T)
    if activation == "tanh":
        act_grad = 1 - h * h  # tanh'(a) = 1 - tanh(a)^2
    else:
        act_grad = (h > 0).astype(a.dtype)

    # Reverse loop: da_t = dL/da_t, through h_t's direct gradient and through
    # h_t's use at step t + 1.
    da = np.empty_like(h)
    carry = np.zeros((B, H), a.dtype)  # da_{t+1} @ W_hh^T
    for t in range(T - 1, -1, -1):
        da[:, t] = np.where(valid[:, t, None], (dh[:, t] + carry) * act_grad[:, t], 0)
        carry = da[:, t] @ a.W_hh.T
    # carry is now dL/dh_{-1}

    # Tied weights: each gradient is the sum of the gradients of its T copies.
    h0_full = a.h0 if a.h0 is not None else np.zeros((B, H), a.dtype)
    h_prev = np.concatenate([h0_full[:, None], h[:, :-1]], axis=1)  # h_{t-1}
    da_rows = da.reshape(B * T, H)
    if a.ids is not None:  # one-hot rows: each da row adds into its id's row
        dW_xh = np.zeros_like(a.W_xh)
        np.add.at(dW_xh, a.ids.reshape(-1), da_rows)
        dx = None  # ids have no gradient
    else:
        dW_xh = a.x.reshape(B * T, D).T @ da_rows
        dx = da @ a.W_xh.T if compute_dx else None
    dW_hh = h_prev.reshape(B * T, H).T @ da_rows
    db = da_rows.sum(axis=0)
    if a.h0 is None:
        dh0 = None
    elif a.h0_shared:
        dh0 = carry.sum(axis=0)
    else:
        dh0 = carry
    return Gradients(dx, dW_xh, dW_hh, db, dh0)


# --------------------------------------------------------------------------
# Stacked and bidirectional networks: layers of forward() and backward().
# Layer l > 0 reads [forward states, backward states] of layer l - 1; the
# backward direction is forward() on each sequence reversed within its length.
# --------------------------------------------------------------------------

def _reversed(a, lengths):
    """a (B, T, ...) with each sequence's valid steps in reverse order; padded
    steps stay where they are."""
    out = a.copy()
    for i in range(a.shape[0]):
        n = a.shape[1] if lengths is None else lengths[i]
        out[i, :n] = a[i, :n][::-1]
    return out


class _StackCache:
    """What stacked_backward needs: the checked arguments, every layer's input
    (in natural step order) and every direction's states (in its own)."""

    def __init__(self, args, inputs, states):
        self.args, self.inputs, self.states = args, inputs, states


def stacked_forward(x, layers, h0=None, *, activation="tanh", lengths=None,
                    bidirectional=False):
    """Top layer's states (B, T, H_top * n_dir), final states h_n[l][d] and a
    cache for stacked_backward: see fastrnn.functional.stacked_forward."""
    s = check_stack(x, layers, h0, activation, lengths, bidirectional)
    B, T = s.batch_steps
    last = s.last_steps()
    layer_input = s.x if s.ids is None else s.ids
    inputs, states, h_n = [], [], []
    for l, weights in enumerate(s.weights):
        inputs.append(layer_input)
        states.append([])
        h_n.append([])
        outputs = []
        for d, (W_xh, W_hh, b) in enumerate(weights):
            seq = layer_input if d == 0 else _reversed(layer_input, s.lengths)
            h = forward(seq, W_xh, W_hh, b, s.h0[l][d], activation=activation,
                        lengths=s.lengths)
            states[l].append(h)
            h_n[l].append(h[np.arange(B), last])
            outputs.append(h if d == 0 else _reversed(h, s.lengths))
        layer_input = np.concatenate(outputs, axis=2)
    return StackedOutput(layer_input, h_n, _StackCache(s, inputs, states))


def stacked_backward(cache, dy, dh_n=None, *, compute_dx=True):
    """dx and every layer's and direction's Gradients: see
    fastrnn.functional.stacked_backward."""
    compute_dx = check_flag("compute_dx", compute_dx)
    if not isinstance(cache, _StackCache):
        raise TypeError("cache must be the cache returned by "
                        "fastrnn.reference.stacked_forward")
    s = cache.args
    dy, dh_n = check_stack_gradients(s, dy, dh_n)
    B = dy.shape[0]
    last = s.last_steps()
    d_out, grads = dy, []
    for l in range(len(s.weights) - 1, -1, -1):
        H = s.hidden[l]
        layer_grads, d_in = [], 0
        for d, (W_xh, W_hh, _) in enumerate(s.weights[l]):
            dh = d_out[..., d * H:(d + 1) * H].copy()
            seq = cache.inputs[l]
            if d == 1:
                dh, seq = _reversed(dh, s.lengths), _reversed(seq, s.lengths)
            if dh_n[l][d] is not None:
                dh[np.arange(B), last] += dh_n[l][d]  # the final state's step
            g = backward(seq, cache.states[l][d], dh, W_xh, W_hh, s.h0[l][d],
                         activation=s.activation, lengths=s.lengths,
                         compute_dx=compute_dx or l > 0)
            dh0 = g.dh0.sum(axis=0) if s.h0_shared[l][d] else g.dh0
            layer_grads.append(Gradients(None, g.dW_xh, g.dW_hh, g.db, dh0))
            if g.dx is not None:
                d_in = d_in + (g.dx if d == 0 else _reversed(g.dx, s.lengths))
        grads.append(layer_grads)
        d_out = None if (s.ids is not None or not compute_dx) and l == 0 else d_in
    return StackedGradients(d_out, grads[::-1])
