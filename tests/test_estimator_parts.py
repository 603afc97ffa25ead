"""The estimators' pieces: taught positions, readout and losses
(fastrnn.losses), optimizers and clipping (fastrnn.optim)."""

from __future__ import annotations

import numpy as np
import pytest

from fastrnn import losses, optim

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


# --------------------------------------------------------------------------
# optim
# --------------------------------------------------------------------------


def test_clip_grad_norm():
    g = [np.array([3.0, 0.0]), np.array([[0.0, 4.0]])]
    assert optim.clip_grad_norm(g, 10.0) == 5.0
    np.testing.assert_array_equal(g[0], [3.0, 0.0])  # below the threshold: untouched
    assert optim.clip_grad_norm(g, 1.0) == 5.0
    np.testing.assert_allclose(g[0], [0.6, 0.0])
    np.testing.assert_allclose(g[1], [[0.0, 0.8]])
    assert optim.clip_grad_norm(g, None) == pytest.approx(1.0)
    # float32 squares overflow; the norm is still right, and the clip applies
    big = [np.full(4, 1e20, np.float32)]
    assert optim.clip_grad_norm(big, 1.0) == pytest.approx(2e20, rel=1e-6)
    np.testing.assert_allclose(big[0], 0.5, rtol=1e-6)
    bad = [np.array([1.0, np.nan])]
    assert np.isnan(optim.clip_grad_norm(bad, 1.0))
    assert optim.clip_grad_norm([np.array([np.inf])], 1.0) == np.inf


def _numpy_reference(name, p, grads, lr, **kw):
    """The textbook update rules, step by step."""
    p = p.copy()
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        if name == "sgd":
            mu = kw["momentum"]
            m = mu * m + g
            p -= lr * (g + mu * m if kw["nesterov"] else m)
        elif name == "adagrad":
            v += g * g
            p -= lr * g / (np.sqrt(v) + 1e-10)
        else:
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            mhat, vhat = m / (1 - 0.9**t), v / (1 - 0.999**t)
            p -= lr * mhat / (np.sqrt(vhat) + 1e-8)
    return p


OPT_CASES = [
    ("sgd", dict(momentum=0.0, nesterov=False)),
    ("sgd", dict(momentum=0.9, nesterov=False)),
    ("sgd", dict(momentum=0.9, nesterov=True)),
    ("adagrad", {}),
    ("adam", {}),
]


@pytest.mark.parametrize("name,kw", OPT_CASES, ids=lambda c: str(c))
def test_optimizer_update_rules(name, kw):
    rng = np.random.default_rng(3)
    p0 = rng.normal(size=(3, 2))
    grads = [rng.normal(size=(3, 2)) for _ in range(5)]
    opt = optim.make_optimizer(name, 0.1, **kw) if kw else optim.make_optimizer(name, 0.1)
    p = {"w": p0.copy()}
    for g in grads:
        opt.step(p, {"w": g.copy()})
    assert opt.n_steps == 5
    np.testing.assert_allclose(p["w"], _numpy_reference(name, p0, grads, 0.1, **kw),
                               rtol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("name,kw", OPT_CASES, ids=lambda c: str(c))
def test_optimizers_match_pytorch(name, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    shapes = [(4, 3), (3,)]
    p0 = [rng.normal(size=s) for s in shapes]
    grads = [[rng.normal(size=s) for s in shapes] for _ in range(6)]
    tp = [torch.tensor(p, requires_grad=True) for p in p0]
    if name == "sgd":
        topt = torch.optim.SGD(tp, lr=0.05, momentum=kw["momentum"], nesterov=kw["nesterov"])
        opt = optim.SGD(0.05, **kw)
    elif name == "adagrad":
        topt = torch.optim.Adagrad(tp, lr=0.05)
        opt = optim.Adagrad(0.05)
    else:
        topt = torch.optim.Adam(tp, lr=0.05)
        opt = optim.Adam(0.05)
    params = {str(i): p.copy() for i, p in enumerate(p0)}
    for gs in grads:
        for t, g in zip(tp, gs):
            t.grad = torch.tensor(g)
        topt.step()
        opt.step(params, {str(i): g.copy() for i, g in enumerate(gs)})
    for i, t in enumerate(tp):
        np.testing.assert_allclose(params[str(i)], t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_optimizer_keeps_state_and_changes_learning_rate():
    opt = optim.SGD(1.0, momentum=0.5)
    p = {"w": np.zeros(1)}
    opt.step(p, {"w": np.ones(1)})
    assert p["w"][0] == -1.0
    opt.set_hyperparameters(learning_rate=2.0)
    opt.step(p, {"w": np.ones(1)})  # v = 0.5 * 1 + 1 = 1.5
    assert p["w"][0] == -4.0
    with pytest.raises(ValueError, match="optimizer must be one of"):
        optim.make_optimizer("rmsprop", 0.1)


def test_optimizer_preserves_float32():
    for name in ("sgd", "adagrad", "adam"):
        opt = optim.make_optimizer(name, 0.1)
        p = {"w": np.ones(3, np.float32)}
        opt.step(p, {"w": np.full(3, 0.5, np.float32)})
        assert p["w"].dtype == np.float32
        assert opt.state and all(a.dtype == np.float32 for s in opt.state.values()
                                 for a in s.values())
