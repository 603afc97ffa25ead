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



@pytest.mark.parametrize("loss", [losses.SquaredError, losses.SoftmaxCrossEntropy])
def test_output_loss_into_a_kept_buffer_of_zeros(loss):
    rng = np.random.default_rng(3)
    h = rng.normal(size=(3, 4, 5))
    W, b = rng.normal(size=(5, 2)), rng.normal(size=2)
    rows = np.array([2, 7, 8])
    targets = (rng.integers(0, 2, size=3) if loss is losses.SoftmaxCrossEntropy
               else rng.normal(size=(3, 2)))
    expected = losses.output_loss(h, rows, targets, W, b, loss, 1 / 3)
    zeros = np.zeros((12, 5))
    got = losses.output_loss(h, rows, targets, W, b, loss, 1 / 3, dh_zeros=zeros)
    assert got[0] == expected[0]
    for a, e in zip(got[1:], expected[1:]):
        np.testing.assert_array_equal(a, e)
    assert np.shares_memory(got[1], zeros)  # dh is the buffer, its rows written
    for bad in (np.zeros((12, 4)), np.zeros((12, 5), np.float32), np.zeros((5, 12)).T):
        with pytest.raises(ValueError, match="dh_zeros"):
            losses.output_loss(h, rows, targets, W, b, loss, 1 / 3, dh_zeros=bad)

# ------------------------------------------------- the kernels' fused pass

def _xent_float64(z, t, scale):
    """Loss sum, gradient and column sums in float64 NumPy."""
    z = z.astype(np.float64)
    lp = z - z.max(axis=1, keepdims=True)
    lp -= np.log(np.exp(lp).sum(axis=1, keepdims=True))
    g = np.exp(lp)
    g[np.arange(len(t)), t] -= 1
    g *= scale
    return -lp[np.arange(len(t)), t].sum(), g, g.sum(axis=0)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("spread", [0.1, 3.0, 80.0, 1e4])
def test_softmax_xent_kernel_matches_float64(dtype, tol, spread):
    """The one-pass kernel (its own exp for non-positive arguments, sums in
    double) against float64 NumPy, over logits from flat to far apart (where
    most exponentials underflow)."""
    from fastrnn import functional
    rng = np.random.default_rng(int(spread))
    N, C = 301, 103
    z = (rng.standard_normal((N, C)) * spread).astype(dtype)
    t = rng.integers(0, C, N)
    loss, g, cs = _xent_float64(z, t, 0.37)
    out = z.copy()
    sums = np.empty(C, dtype)
    rows = np.empty(N)
    got = functional.softmax_xent(out, t.astype(np.int32), 0.37, sums, rows)
    assert got == pytest.approx(loss, rel=tol * 10, abs=tol * N)
    assert got == pytest.approx(rows.sum(), rel=1e-15)
    zd = z.astype(np.float64)
    lp = zd - zd.max(axis=1, keepdims=True)
    lp -= np.log(np.exp(lp).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(rows, -lp[np.arange(N), t], rtol=tol * 10, atol=tol * 10)
    np.testing.assert_allclose(out, g, rtol=0, atol=tol * 0.37)
    np.testing.assert_allclose(sums, cs, rtol=0, atol=tol * N * 0.37)


def test_softmax_xent_kernel_does_not_depend_on_threads():
    import fastrnn
    from fastrnn import functional
    rng = np.random.default_rng(1)
    z = rng.standard_normal((2000, 37)).astype(np.float32) * 4
    t = rng.integers(0, 37, 2000).astype(np.intp)
    results = []
    for n in (1, 2):
        with fastrnn.threads(n):
            out, sums = z.copy(), np.empty(37, np.float32)
            results.append((functional.softmax_xent(out, t, 0.5, sums), out, sums))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])
    np.testing.assert_array_equal(results[0][2], results[1][2])


def test_softmax_xent_kernel_refuses_bad_classes_and_spreads_nan():
    from fastrnn import functional
    z = np.zeros((3, 4), np.float32)
    for bad in ([0, 1, 4], [-1, 0, 0]):
        with pytest.raises(ValueError, match="0..3"):
            functional.softmax_xent(z.copy(), np.array(bad, np.intp), 1.0,
                                    np.empty(4, np.float32))
    z[1, 2] = np.nan
    assert np.isnan(functional.softmax_xent(z, np.array([0, 1, 2], np.intp), 1.0,
                                            np.empty(4, np.float32)))
    z = np.array([[np.inf, 0.0]], np.float32)
    assert not np.isfinite(functional.softmax_xent(z, np.array([1], np.intp), 1.0,
                                                   np.empty(2, np.float32)))


def test_squared_error_row_losses_sum_to_the_loss():
    rng = np.random.default_rng(2)
    out = rng.standard_normal((9, 3)).astype(np.float32)
    y = rng.standard_normal((9, 3)).astype(np.float32)
    mask = rng.random((9, 3)) < 0.6
    rows = np.empty(9)
    loss_sum, _ = losses.SquaredError.loss_grad(out.copy(), y, 1.0, mask, None, rows)
    d = (out.astype(np.float64) - y) * mask
    np.testing.assert_allclose(rows, (d * d).sum(axis=1) / 3, rtol=1e-6)
    assert loss_sum == pytest.approx(rows.sum(), rel=1e-6)
