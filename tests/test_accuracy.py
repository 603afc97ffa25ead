"""Accuracy of the weight gradients when activations grow.

In a ReLU network whose weights are large, h and dL/da grow along the
sequence, and the largest products of dW_hh = sum_t h_{t-1}^T da_t pair the
last steps of a sequence. The kernels must pair each row of dA with its true
predecessor (h0 at the first step), never add a product of the wrong pair and
subtract it again: that difference of large numbers cancels catastrophically.
The errors here are measured against a computation in extended precision on
the same (rounded) inputs, and must stay within a small factor of the
reference's error, on every kernel build and thread count.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastrnn
from fastrnn import reference

EXACT = np.longdouble  # 80-bit on x86-64; where it is only double, eps bounds below


def _exact_grads(x, h, dh, W_xh, W_hh, h0, lengths):
    """dW_hh, dW_xh and db by BPTT in EXACT precision on the given inputs."""
    B, T, H = h.shape
    h, dh, W_hh = h.astype(EXACT), dh.astype(EXACT), W_hh.astype(EXACT)
    valid = np.ones((B, T), bool) if lengths is None else np.arange(T) < lengths[:, None]
    g = (h > 0).astype(EXACT) * valid[:, :, None]
    da = np.zeros_like(h)
    carry = np.zeros((B, H), EXACT)
    for t in range(T - 1, -1, -1):
        da[:, t] = (dh[:, t] + carry) * g[:, t]
        carry = da[:, t] @ W_hh.T
    if h0 is None:
        first = np.zeros((B, H), EXACT)
    else:
        first = np.broadcast_to(np.asarray(h0, EXACT), (B, H))
    h_prev = np.concatenate([first[:, None], h[:, :-1]], axis=1)
    dW_hh = np.einsum("bti,btj->ij", h_prev, da)
    if x.ndim == 2:  # ids
        dW_xh = np.zeros((W_xh.shape[0], H), EXACT)
        np.add.at(dW_xh, x.reshape(-1), da.reshape(-1, H))
    else:
        dW_xh = np.einsum("bti,btj->ij", x.astype(EXACT), da)
    return dW_hh, dW_xh, da.sum(axis=(0, 1))


def _rel(a, exact):
    return float(np.linalg.norm((a.astype(EXACT) - exact).astype(np.float64))
                 / np.linalg.norm(exact.astype(np.float64)))


def _growing_problem(seed, dtype, B, T, ids, h0_form, with_lengths):
    rng = np.random.default_rng(seed)
    D, H = 13, 31
    if ids:
        x = rng.integers(0, D, size=(B, T))
    else:
        x = rng.standard_normal((B, T, D)).astype(dtype)
    W_xh = (3 * rng.standard_normal((D, H)) / np.sqrt(D)).astype(dtype)
    W_hh = (3 * rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype)
    b = (0.1 * rng.standard_normal(H)).astype(dtype)
    h0 = {None: None, "shared": rng.uniform(0, 2, H).astype(dtype),
          "per-sequence": rng.uniform(0, 2, (B, H)).astype(dtype)}[h0_form]
    lengths = rng.integers(1, T + 1, size=B) if with_lengths else None
    h = reference.forward(x, W_xh, W_hh, b, h0, activation="relu", lengths=lengths)
    dh = rng.standard_normal((B, T, H)).astype(dtype)
    return x, W_xh, W_hh, h0, lengths, h, dh


# (B, T): the size of the report, and one whose B * T rows cross several
# 256-row blocks of the weight-gradient pass with the sequence split at B >= 8
@pytest.mark.parametrize("B, T", [(9, 16), (12, 40)])
@pytest.mark.parametrize("ids", [True, False], ids=["ids", "dense"])
@pytest.mark.parametrize("h0_form", [None, "shared", "per-sequence"])
def test_weight_gradients_of_growing_relu_networks(path, dtype, B, T, ids, h0_form):
    eps = float(np.finfo(dtype).eps)
    for seed in range(6):
        x, W_xh, W_hh, h0, lengths, h, dh = _growing_problem(
            seed, dtype, B, T, ids, h0_form, with_lengths=seed % 2 == 1)
        exact = _exact_grads(x, h, dh, W_xh, W_hh, h0, lengths)
        got = fastrnn.backward(x, h, dh, W_xh, W_hh, h0, activation="relu", lengths=lengths)
        ref = reference.backward(x, h, dh, W_xh, W_hh, h0, activation="relu",
                                 lengths=lengths)
        for name, e in zip(("dW_hh", "dW_xh", "db"), exact):
            err = _rel(getattr(got, name), e)
            ref_err = _rel(getattr(ref, name), e)
            assert err <= 20 * max(ref_err, eps), (
                f"seed {seed}: {name} relative error {err:.2e}, reference {ref_err:.2e}")
