"""Optimizers and gradient clipping (fastrnn.optim)."""

from __future__ import annotations

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
