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

from ._validation import Gradients, check_args

__all__ = ["forward", "backward", "Gradients"]


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


def backward(x, h, dh, W_xh, W_hh, h0=None, *, activation="tanh", lengths=None):
    """Gradients of a loss L given h = forward(...) and dh = dL/dh (B, T, H).

    dh is ignored at padded steps, which take no gradient.
    """
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
        dx = da @ a.W_xh.T
    dW_hh = h_prev.reshape(B * T, H).T @ da_rows
    db = da_rows.sum(axis=0)
    if a.h0 is None:
        dh0 = None
    elif a.h0_shared:
        dh0 = carry.sum(axis=0)
    else:
        dh0 = carry
    return Gradients(dx, dW_xh, dW_hh, db, dh0)
