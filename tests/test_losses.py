"""Taught positions, readout and losses (fastrnn.losses)."""

from __future__ import annotations

import numpy as np
import pytest

from fastrnn import losses

# --------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------


def test_log_softmax_is_stable_for_huge_logits():
    z = np.array([[1e4, 0.0, -1e4], [1000.0, 1000.0, 1000.0], [-1e30, 0.0, 1.0]])
    out = losses.log_softmax(z)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[0], [0.0, -1e4, -2e4])
    np.testing.assert_allclose(out[1], np.log(1 / 3) * np.ones(3))
    np.testing.assert_allclose(np.exp(losses.log_softmax(z[:, :2] / 1e4)).sum(1), 1)
    np.testing.assert_allclose(losses.softmax(z), np.exp(out), atol=1e-300)
    # the naive formula overflows
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        naive = np.log(np.exp(z[0]) / np.exp(z[0]).sum())
    assert not np.isfinite(naive).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_value_and_gradient(dtype):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(7, 4)).astype(dtype) * 3
    logits[0] += 500  # would overflow exp without the shift
    y = rng.integers(0, 4, size=7)
    loss, grad = losses.SoftmaxCrossEntropy.loss_grad(logits.copy(), y, 0.5)
    z = logits.astype(np.float64)
    logp = z - z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    assert loss == pytest.approx(-logp[np.arange(7), y].sum(), rel=1e-5)
    expected = np.exp(logp)
    expected[np.arange(7), y] -= 1
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, 0.5 * expected, rtol=1e-4, atol=1e-6)


def test_losses_gradients_by_finite_differences():
    rng = np.random.default_rng(1)
    out = rng.normal(size=(5, 3))
    t_reg = rng.normal(size=(5, 3))
    t_clf = rng.integers(0, 3, size=5)
    for loss, t in ((losses.SquaredError, t_reg), (losses.SoftmaxCrossEntropy, t_clf)):
        _, g = loss.loss_grad(out.copy(), t, 1.0)
        num = np.zeros_like(out)
        for idx in np.ndindex(out.shape):
            e = np.zeros_like(out)
            e[idx] = 1e-6
            num[idx] = (loss.loss_grad(out + e, t, 1.0)[0]
                        - loss.loss_grad(out - e, t, 1.0)[0]) / 2e-6
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)
    # squared error: mean over the output dimensions of each taught output
    loss_sum, _ = losses.SquaredError.loss_grad(out.copy(), t_reg, 1.0)
    assert loss_sum == pytest.approx(((out - t_reg) ** 2).mean(axis=1).sum())


def test_taught_steps():
    L = np.array([5, 2, 3])
    steps, valid = losses.taught_steps("all", 5, L, 3)
    assert steps is None
    np.testing.assert_array_equal(valid.sum(1), L)
    assert losses.taught_steps("all", 5, None, 3) == (None, None)
    steps, valid = losses.taught_steps("last", 5, L, 3)
    np.testing.assert_array_equal(steps, [[4], [1], [2]])
    assert valid is None
    steps, _ = losses.taught_steps(2, 5, L, 3)
    np.testing.assert_array_equal(steps, [[3, 4], [0, 1], [1, 2]])
    steps, _ = losses.taught_steps(2, 5, None, 3)
    np.testing.assert_array_equal(steps, [[3, 4]] * 3)


def test_select_window_maps_targets_to_hidden_rows():
    L = np.array([5, 2, 3])
    Y = np.arange(3 * 5).reshape(3, 5)  # label = 5 * sequence + step
    _, valid = losses.taught_steps("all", 5, L, 3)
    for start, stop in ((0, 5), (0, 2), (2, 5), (4, 5)):
        rows, targets = losses.select_window(None, valid, Y, start, stop)
        w = stop - start
        if rows is None:
            rows = np.arange(3 * w)
        seq, step = rows // w, rows % w + start
        np.testing.assert_array_equal(targets, 5 * seq + step)
        assert (step < L[seq]).all()
        assert len(rows) == sum(max(0, min(stop, n) - start) for n in L)
    steps, _ = losses.taught_steps(2, 5, L, 3)
    Yk = np.array([[3, 4], [0, 1], [1, 2]]) + 5 * np.arange(3)[:, None]
    rows, targets = losses.select_window(steps, None, Yk, 1, 4)
    seq, step = rows // 3, rows % 3 + 1
    np.testing.assert_array_equal(targets, 5 * seq + step)
    np.testing.assert_array_equal(np.sort(targets), [3, 6, 11, 12])


def test_output_loss_scatters_gradients_to_taught_steps_only():
    rng = np.random.default_rng(2)
    h = rng.normal(size=(3, 4, 5))
    W, b = rng.normal(size=(5, 2)), rng.normal(size=2)
    rows = np.array([1, 6, 11])
    targets = rng.normal(size=(3, 2))
    loss_sum, dh, dW, db = losses.output_loss(h, rows, targets, W, b, losses.SquaredError,
                                              1 / 3)
    hs = h.reshape(12, 5)[rows]
    diff = hs @ W + b - targets
    assert loss_sum == pytest.approx((diff**2).mean(1).sum())
    mask = np.zeros(12, bool)
    mask[rows] = True
    assert (dh.reshape(12, 5)[~mask] == 0).all()
    np.testing.assert_allclose(dh.reshape(12, 5)[rows], (2 * diff / 6) @ W.T)
    np.testing.assert_allclose(dW, hs.T @ (2 * diff / 6))
    np.testing.assert_allclose(db, (2 * diff / 6).sum(0))
