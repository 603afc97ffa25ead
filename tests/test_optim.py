"""Optimizers and gradient clipping (fastrnn.optim)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastrnn import optim

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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_one_pass_kernel_gives_the_bits_of_the_numpy_steps(dtype):
    """C-contiguous float arrays take the kernels' one-pass update; arrays in
    another layout the NumPy steps. Same bits, step after step (the kernel
    rounds each product and sum as NumPy does, no fused multiply-add)."""
    rng = np.random.default_rng(0)
    shape = (37, 29)
    start = rng.standard_normal(shape).astype(dtype)
    fused = {"w": start.copy()}
    numpy_path = {"w": np.asfortranarray(start)}  # not C-contiguous: NumPy
    assert optim._fused(fused["w"], fused["w"], fused["w"], fused["w"])
    a, b = optim.Adam(3e-3), optim.Adam(3e-3)
    for _ in range(6):
        g = (rng.standard_normal(shape) * rng.choice([1e-6, 1.0, 1e3])).astype(dtype)
        a.step(fused, {"w": g.copy()})
        b.step(numpy_path, {"w": np.asfortranarray(g)})
        np.testing.assert_array_equal(fused["w"], numpy_path["w"])
        np.testing.assert_array_equal(a.state["w"]["m"], b.state["w"]["m"])
        np.testing.assert_array_equal(a.state["w"]["v"], b.state["w"]["v"])
    assert not np.array_equal(fused["w"], start)


@pytest.mark.parametrize("name", ["sgd", "adagrad", "adam"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("scale", [1.0, 0.37])
def test_checked_step_is_a_step_on_scaled_gradients(name, dtype, order, scale):
    """checked_step = copy to backup, g *= scale, step: the same bits, for the
    kernels' one-pass Adam (C order) and the NumPy steps (F order)."""
    rng = np.random.default_rng(1)
    shapes = {"W": (13, 11), "b": (11,)}
    start = {k: np.asarray(rng.standard_normal(s), dtype, order=order)
             for k, s in shapes.items()}
    plain = {k: v.copy(order="K") for k, v in start.items()}
    checked = {k: v.copy(order="K") for k, v in start.items()}
    backup = {k: np.empty_like(v) for k, v in start.items()}
    a, b = optim.make_optimizer(name, 3e-2), optim.make_optimizer(name, 3e-2)
    for _ in range(4):
        g = {k: np.asarray(rng.standard_normal(s) * 10, dtype, order=order)
             for k, s in shapes.items()}
        before = {k: v.copy() for k, v in checked.items()}
        scaled = {k: v.copy(order="K") for k, v in g.items()}
        for v in scaled.values():
            v *= scale
        a.step(plain, scaled)
        assert b.checked_step(checked, {k: v.copy(order="K") for k, v in g.items()},
                              backup, scale) is None
        for k in shapes:
            np.testing.assert_array_equal(checked[k], plain[k])
            np.testing.assert_array_equal(backup[k], before[k])
            for slot, arr in a.state[k].items():
                np.testing.assert_array_equal(b.state[k][slot], arr)
    assert a.n_steps == b.n_steps == 4
    assert not np.array_equal(checked["W"], start["W"])


@pytest.mark.parametrize("name", ["sgd", "adam"])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_checked_step_names_the_first_parameter_that_is_not_finite(name, order, bad):
    rng = np.random.default_rng(2)
    params = {k: np.asarray(rng.standard_normal((5, 4)), order=order) for k in "abc"}
    old = {k: v.copy() for k, v in params.items()}
    backup = {k: np.empty_like(v) for k, v in params.items()}
    grads = {k: np.asarray(rng.standard_normal((5, 4)), order=order) for k in "abc"}
    grads["b"][3, 1] = bad
    grads["c"][0, 0] = bad
    opt = optim.make_optimizer(name, 0.1)
    assert opt.checked_step(params, grads, backup, 1.0) == "b"
    for k in "abc":  # every parameter was backed up: the caller can undo all
        np.testing.assert_array_equal(backup[k], old[k])
    assert np.isfinite(params["a"]).all() and not np.isfinite(params["b"]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_of_squares_is_accumulated_in_double(dtype):
    rng = np.random.default_rng(3)
    for n in list(range(0, 40)) + [4095, 4097, 100_003]:
        f = (rng.standard_normal(n) * 3).astype(dtype)
        exact = math.fsum(float(v) ** 2 for v in f)
        assert optim.sum_of_squares(f) == pytest.approx(exact, rel=1e-13, abs=0)
    # float32 values whose squares overflow float32 but not double
    assert optim.sum_of_squares(np.full(8, 1e30, np.float32)) == pytest.approx(
        8 * float(np.float32(1e30)) ** 2, rel=1e-15)
    assert optim.sum_of_squares(np.array([1.0, np.nan], dtype)) != optim.sum_of_squares(
        np.array([1.0, np.nan], dtype))  # nan
    assert optim.sum_of_squares(np.array([1.0, -np.inf], dtype)) == np.inf
