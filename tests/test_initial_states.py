"""Learnable initial states, input through initial states, teaching signals on
the units, target masks and stepping (the estimators' "ways of feeding and
teaching a recurrent network").

Sections follow the issue's "Must show" list:
1. gradients w.r.t. shared, per-sequence and masked initial states
   (finite differences and PyTorch autograd);
2. a learned ``h0_`` beats a zero start where the initial state matters;
3. a task taught only through initial states;
4. an attractor taught on the units (``readout=False``, ``output_steps=K``);
5. stepping equals whole-sequence ``predict``.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

import fastrnn
from fastrnn import RNNClassifier, RNNRegressor
from fastrnn._data import compose_h0, h0_gradient

FD_EPS = 1e-6
FD_TOL = 1e-7  # central differences of float64 losses of size ~1
TORCH_TOL = 1e-10


# --------------------------------------------------------------------------
# 1. Gradients w.r.t. initial states
# --------------------------------------------------------------------------

def _problem(seed, B=4, T=5, D=3, H=5, with_lengths=True):
    rng = np.random.default_rng(seed)
    p = dict(
        x=rng.normal(size=(B, T, D)),
        W_xh=rng.normal(size=(D, H)) * 0.5,
        W_hh=rng.normal(size=(H, H)) * 0.4,
        b=rng.normal(size=H) * 0.1,
        R=rng.normal(size=(B, T, H)),  # loss = sum(R * h)
        lengths=np.array([T, 2, T - 1, 1])[:B] if with_lengths else None,
        h0_shared=rng.normal(size=H) * 0.5,
        h0_per_seq=rng.normal(size=(B, H)) * 0.5,
        mask=np.arange(H) % 2 == 0,
    )
    return p


def _loss(p, h0, activation):
    h = fastrnn.forward(p["x"], p["W_xh"], p["W_hh"], p["b"], h0, activation=activation,
                        lengths=p["lengths"])
    return float((p["R"] * h).sum()), h


def _gradients(p, kind, activation):
    """Analytic gradients w.r.t. the initial-state arrays of `kind`, by name."""
    if kind == "shared":
        h0 = p["h0_shared"]
    elif kind == "per_sequence":
        h0 = p["h0_per_seq"]
    else:
        h0, free = compose_h0(p["h0_shared"], p["h0_per_seq"], p["mask"], np.float64)
    _, h = _loss(p, h0, activation)
    g = fastrnn.backward(p["x"], h, p["R"], p["W_xh"], p["W_hh"], h0, activation=activation,
                         lengths=p["lengths"])
    assert g.dh0.shape == h0.shape
    if kind == "shared":
        return {"h0_shared": g.dh0}
    if kind == "per_sequence":
        return {"h0_per_seq": g.dh0}
    return {"h0_shared": h0_gradient(g.dh0, free),
            "h0_per_seq": np.where(p["mask"], g.dh0, 0.0)}


def _masked_loss(p, activation):
    h0 = np.where(p["mask"], p["h0_per_seq"], p["h0_shared"])
    return _loss(p, h0, activation)[0]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("kind", ["shared", "per_sequence", "masked"])
def test_initial_state_gradients_match_finite_differences(kind, activation):
    p = _problem(0)
    grads = _gradients(p, kind, activation)
    for name, g in grads.items():
        arr = p[name]
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            vals = []
            for sign in (1, -1):
                arr[i] = old + sign * FD_EPS
                if kind == "masked":
                    vals.append(_masked_loss(p, activation))
                else:
                    vals.append(_loss(p, arr, activation)[0])
            arr[i] = old
            num[i] = (vals[0] - vals[1]) / (2 * FD_EPS)
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=FD_TOL, err_msg=name)
        assert np.abs(g).max() > 1e-2, name  # not trivially zero
    if kind == "masked":
        # units set from the per-sequence states pass no gradient to the shared h0,
        # and the per-sequence states take none at the other units
        assert (grads["h0_shared"][p["mask"]] == 0).all()
        assert (grads["h0_per_seq"][:, ~p["mask"]] == 0).all()
    if kind == "shared":
        # the gradient of a shared h0 is the sum of the per-sequence gradients
        per_seq = _gradients({**p, "h0_per_seq": np.tile(p["h0_shared"], (4, 1))},
                             "per_sequence", activation)["h0_per_seq"]
        np.testing.assert_allclose(grads["h0_shared"], per_seq.sum(0), rtol=1e-12, atol=1e-14)


def _torch_forward(torch, p, h0, activation):
    """h (B, T, H) of the same RNN, written with torch ops (zero at padded steps)."""
    act = torch.tanh if activation == "tanh" else torch.relu
    x = torch.from_numpy(p["x"])
    W_xh, W_hh, b = (torch.from_numpy(p[k]) for k in ("W_xh", "W_hh", "b"))
    B, T, _ = p["x"].shape
    h = h0.expand(B, -1) if h0.dim() == 1 else h0
    L = p["lengths"] if p["lengths"] is not None else np.full(B, T)
    hs = []
    for t in range(T):
        h = act(x[:, t] @ W_xh + h @ W_hh + b)
        hs.append(h * torch.from_numpy((t < L).astype(np.float64))[:, None])
    return torch.stack(hs, dim=1)


@pytest.mark.torch
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("kind", ["shared", "per_sequence", "masked"])
def test_initial_state_gradients_match_torch_autograd(kind, activation):
    torch = pytest.importorskip("torch")
    p = _problem(1)
    grads = _gradients(p, kind, activation)
    shared = torch.tensor(p["h0_shared"], requires_grad=True)  # leaf tensors
    per_seq = torch.tensor(p["h0_per_seq"], requires_grad=True)
    if kind == "shared":
        h0 = shared
    elif kind == "per_sequence":
        h0 = per_seq
    else:
        h0 = torch.where(torch.from_numpy(p["mask"]), per_seq, shared.expand_as(per_seq))
    h = _torch_forward(torch, p, h0, activation)
    ours_h = _loss(p, h0.detach().numpy(), activation)[1]
    np.testing.assert_allclose(h.detach().numpy(), ours_h, rtol=TORCH_TOL, atol=TORCH_TOL)
    (h * torch.from_numpy(p["R"])).sum().backward()
    expected = {"h0_shared": shared.grad, "h0_per_seq": per_seq.grad}
    for name, g in grads.items():
        np.testing.assert_allclose(g, expected[name].numpy(), rtol=TORCH_TOL, atol=TORCH_TOL,
                                   err_msg=name)


def _masked_model(seed=2, readout=True):
    rng = np.random.default_rng(seed)
    n, T, D, H = 5, 6, 2, 4
    X = rng.normal(size=(n, T, D))
    y = rng.uniform(-0.9, 0.9, size=(n, T, 2))
    S = rng.normal(size=(n, H)) * 0.7
    mask = np.array([True, False, True, False])
    tmask = rng.random(size=y.shape) < 0.6
    reg = RNNRegressor(n_hidden=H, learn_initial_state=True, readout=readout, max_epochs=2,
                       learning_rate=0.05, alpha=0.01, dtype="float64", random_state=0)
    reg.fit(X, y, initial_state=S, initial_state_mask=mask, target_mask=tmask)
    return reg, X, y, S, mask, tmask


@pytest.mark.parametrize("readout", [True, False])
def test_estimator_gradients_wrt_learned_and_masked_initial_states(readout):
    reg, X, y, S, mask, tmask = _masked_model(readout=readout)
    kw = dict(initial_state=S, initial_state_mask=mask, target_mask=tmask)
    _, grads = reg._objective(X, y, **kw)
    names = ["W_xh", "W_hh", "b", "h0"] + (["W_hy", "b_y"] if readout else [])
    assert set(grads) == set(names) | {"initial_state"}
    arrays = {name: getattr(reg, name + "_") for name in names}
    arrays["initial_state"] = S
    for name, arr in arrays.items():
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + FD_EPS
            fp, _ = reg._objective(X, y, **kw)
            arr[i] = old - FD_EPS
            fm, _ = reg._objective(X, y, **kw)
            arr[i] = old
            num[i] = (fp - fm) / (2 * FD_EPS)
        np.testing.assert_allclose(grads[name], num, rtol=1e-6, atol=1e-9, err_msg=name)
    assert (grads["h0"][mask] == 0).all() and (np.abs(grads["h0"][~mask]) > 1e-4).all()
    assert (grads["initial_state"][:, ~mask] == 0).all()


@pytest.mark.torch
def test_estimator_initial_state_gradients_match_torch_autograd():
    torch = pytest.importorskip("torch")
    reg, X, y, S, mask, tmask = _masked_model(readout=True)
    _, grads = reg._objective(X, y, initial_state=S, initial_state_mask=mask,
                              target_mask=tmask)
    h0 = torch.tensor(reg.h0_, requires_grad=True)
    init = torch.tensor(S, requires_grad=True)
    start = torch.where(torch.from_numpy(mask), init, h0.expand_as(init))
    p = dict(x=X, W_xh=reg.W_xh_, W_hh=reg.W_hh_, b=reg.b_, lengths=None)
    h = _torch_forward(torch, p, start, "tanh")
    out = h @ torch.from_numpy(reg.W_hy_) + torch.from_numpy(reg.b_y_)
    m = torch.from_numpy(tmask.astype(np.float64))
    loss = (((out - torch.from_numpy(y)) ** 2) * m).sum() / m.sum()
    loss = loss + 0.5 * reg.alpha * sum(float((w ** 2).sum())
                                        for w in (reg.W_xh_, reg.W_hh_, reg.W_hy_))
    loss.backward()
    np.testing.assert_allclose(grads["h0"], h0.grad.numpy(), rtol=TORCH_TOL, atol=TORCH_TOL)
    np.testing.assert_allclose(grads["initial_state"], init.grad.numpy(), rtol=TORCH_TOL,
                               atol=TORCH_TOL)


# --------------------------------------------------------------------------
# 2. Learned initial state
# --------------------------------------------------------------------------

def test_learned_h0_starts_from_a_small_random_guess():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(10, 4, 2))
    y = rng.normal(size=(10, 4))
    kw = dict(n_hidden=16, max_epochs=1, learning_rate=1e-12, dtype="float64", random_state=0)
    tanh = RNNRegressor(learn_initial_state=True, **kw).fit(X, y)
    assert np.abs(tanh.h0_).max() <= 0.1 and tanh.h0_.std() > 0.02
    assert (tanh.h0_ > 0).any() and (tanh.h0_ < 0).any()
    relu = RNNRegressor(learn_initial_state=True, activation="relu", **kw).fit(X, y)
    assert (relu.h0_ >= 0).all() and relu.h0_.max() <= 0.1 and relu.h0_.std() > 0.01
    # the other weights do not depend on learn_initial_state (up to the tiny update)
    zero = RNNRegressor(**kw).fit(X, y)
    for name in ("W_xh_", "W_hh_", "b_", "W_hy_", "b_y_"):
        np.testing.assert_allclose(getattr(tanh, name), getattr(zero, name), atol=1e-10)
    assert not hasattr(zero, "h0_")
    # predict starts from h0_
    h = fastrnn.forward(X, tanh.W_xh_, tanh.W_hh_, tanh.b_, tanh.h0_)
    np.testing.assert_allclose(tanh.predict(X), (h @ tanh.W_hy_ + tanh.b_y_)[..., 0],
                               rtol=1e-12)


def _teacher_task(seed, n=128, T=8, D=2, H=6):
    """Targets: the hidden states of a teacher RNN (b = 0) that starts from a
    fixed, saturated-ish state h0 (+-0.9). A student of the same size can
    follow them exactly only with that initial state: from a zero start, the
    bias would have to stand in for h0 @ W_hh at the first step and be 0 later."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(H, H)))
    W_hh = 0.9 * q
    W_xh = rng.normal(size=(D, H)) * 0.5
    h0 = rng.choice([-1.0, 1.0], size=H) * 0.9
    X = rng.uniform(-1, 1, size=(n, T, D))
    Y = fastrnn.forward(X, W_xh, W_hh, np.zeros(H), h0)
    return X, Y, h0


def test_learned_initial_state_beats_a_zero_start():
    X, Y, teacher_h0 = _teacher_task(0)
    kw = dict(n_hidden=6, readout=False, learning_rate=0.02, max_epochs=200, alpha=0.0,
              n_iter_no_change=1000, batch_size=32, dtype="float64", random_state=0)
    start = RNNRegressor(learn_initial_state=True, **{**kw, "max_epochs": 1,
                                                     "learning_rate": 1e-12}).fit(X, Y).h0_
    learned = RNNRegressor(learn_initial_state=True, **kw).fit(X, Y)
    zero = RNNRegressor(learn_initial_state=False, **kw).fit(X, Y)
    # h0_ moved far from its small random start ...
    assert np.abs(learned.h0_ - start).max() > 0.5
    # ... to the teacher's initial state
    np.testing.assert_allclose(learned.h0_, teacher_h0, atol=0.05)
    # and the loss is far lower than from a zero start (both measured the same way)
    mse_learned = np.mean((learned.predict(X) - Y) ** 2)
    mse_zero = np.mean((zero.predict(X) - Y) ** 2)
    assert mse_learned < 1e-3
    assert mse_learned < 0.1 * mse_zero
    assert learned.loss_curve_[-1] < 0.1 * zero.loss_curve_[-1]


def test_truncated_bptt_sends_the_first_windows_gradient_to_h0():
    rng = np.random.default_rng(4)
    n, T, k = 6, 9, 4
    X = rng.normal(size=(n, T, 2))
    y = rng.normal(size=(n, T, 1))
    kw = dict(n_hidden=5, learn_initial_state=True, optimizer="sgd", momentum=0.0,
              learning_rate=0.1, alpha=0.0, clip_norm=None, batch_size=n, dtype="float64",
              random_state=0)
    before = RNNRegressor(max_epochs=1, **{**kw, "learning_rate": 1e-300}).fit(X, y)
    h0_start = before.h0_.copy()
    _, grads = before._objective(X[:, :k], y[:, :k])  # the first window, start weights
    after = RNNRegressor(max_epochs=1, bptt_steps=k, **kw).fit(X, y)
    np.testing.assert_allclose(after.h0_, h0_start - 0.1 * grads["h0"], rtol=1e-12,
                               atol=1e-14)


# --------------------------------------------------------------------------
# 3. Input through the initial state
# --------------------------------------------------------------------------

def test_initial_state_mask_sets_only_those_units():
    rng = np.random.default_rng(5)
    n, T, H = 6, 5, 4
    X = rng.normal(size=(n, T, 2))
    y = rng.normal(size=(n, T))
    reg = RNNRegressor(n_hidden=H, learn_initial_state=True, max_epochs=2, learning_rate=0.05,
                       dtype="float64", random_state=0).fit(X, y)
    S = rng.normal(size=(n, H))
    mask = np.array([False, True, True, False])
    start = np.where(mask, S, reg.h0_)
    h = fastrnn.forward(X, reg.W_xh_, reg.W_hh_, reg.b_, start)
    expected = (h @ reg.W_hy_ + reg.b_y_)[..., 0]
    np.testing.assert_allclose(reg.predict(X, initial_state=S, initial_state_mask=mask),
                               expected, rtol=1e-12)
    # the columns the mask leaves out are ignored (they may even be NaN)
    S_nan = S.copy()
    S_nan[:, ~mask] = np.nan
    np.testing.assert_allclose(reg.predict(X, initial_state=S_nan, initial_state_mask=mask),
                               expected, rtol=1e-12)
    # an all-True mask is the plain initial_state; start_state builds the same start
    np.testing.assert_array_equal(
        reg.predict(X, initial_state=S, initial_state_mask=np.ones(H, bool)),
        reg.predict(X, initial_state=S))
    np.testing.assert_array_equal(reg.start_state(n, S, mask), start)
    np.testing.assert_array_equal(reg.start_state(n), np.tile(reg.h0_, (n, 1)))
    # without a learned h0_, the other units start from zero
    plain = RNNRegressor(n_hidden=H, max_epochs=1, dtype="float64", random_state=0).fit(X, y)
    np.testing.assert_array_equal(plain.start_state(n, S, mask), np.where(mask, S, 0.0))
    h = fastrnn.forward(X, plain.W_xh_, plain.W_hh_, plain.b_, np.where(mask, S, 0.0))
    np.testing.assert_allclose(plain.predict(X, initial_state=S, initial_state_mask=mask),
                               (h @ plain.W_hy_ + plain.b_y_)[..., 0], rtol=1e-12)
    assert reg.score(X, y, initial_state=S, initial_state_mask=mask) == pytest.approx(
        1 - ((expected - y) ** 2).sum() / ((y - y.mean()) ** 2).sum(), rel=1e-10)


def test_units_set_from_initial_state_take_no_h0_gradient():
    rng = np.random.default_rng(6)
    n, T, H = 32, 4, 6
    X = rng.normal(size=(n, T, 1))
    y = rng.normal(size=(n, T))
    S = rng.normal(size=(n, H))
    mask = np.array([True, True, False, False, True, False])
    kw = dict(n_hidden=H, learn_initial_state=True, learning_rate=0.05, dtype="float64",
              random_state=0)
    start = RNNRegressor(max_epochs=1, **{**kw, "learning_rate": 1e-300}).fit(
        X, y, initial_state=S, initial_state_mask=mask).h0_
    reg = RNNRegressor(max_epochs=5, **kw).fit(X, y, initial_state=S, initial_state_mask=mask)
    np.testing.assert_array_equal(reg.h0_[mask], start[mask])
    assert (np.abs(reg.h0_[~mask] - start[~mask]) > 1e-3).all()
    # with initial_state on every unit, h0_ takes no gradient at all
    full = RNNRegressor(max_epochs=5, **kw).fit(X, y, initial_state=S)
    np.testing.assert_array_equal(full.h0_, start)


def test_a_task_taught_only_through_initial_states():
    """No input features; initial_state sets units 0..4 to a random +-1
    pattern (the other units start from the learned h0_); the label at the
    last 2 of 6 steps is an XOR-like function of three of the bits."""
    H, m, T, K = 16, 5, 6, 2
    mask = np.arange(H) < m

    def task(n, rng):
        P = rng.choice([-1.0, 1.0], size=(n, m))
        S = np.full((n, H), np.nan)  # ignored outside the mask
        S[:, :m] = P
        label = 2 * (P[:, 0] == P[:, 1]) + (P[:, 2] > 0)
        return np.zeros((n, T, 0)), S, np.repeat(label[:, None], K, axis=1)

    rng = np.random.default_rng(7)
    X, S, y = task(400, rng)
    Xt, St, yt = task(300, rng)
    clf = RNNClassifier(n_hidden=H, output_steps=K, learn_initial_state=True,
                        learning_rate=0.02, max_epochs=40, batch_size=32, random_state=0)
    clf.fit(X, y, initial_state=S, initial_state_mask=mask)
    assert clf.n_features_in_ == 0 and clf.W_xh_.shape == (0, H)
    assert clf.score(Xt, yt, initial_state=St, initial_state_mask=mask) >= 0.95
    # the information is in the initial state only: without it, about chance
    chance = np.bincount(yt.ravel()).max() / yt.size
    assert clf.score(Xt, yt) <= chance + 0.05
    assert chance < 0.4


def test_initial_state_mask_errors():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(4, 3, 1))
    y = rng.normal(size=(4, 3))
    S = rng.normal(size=(4, 3))
    reg = RNNRegressor(n_hidden=3, max_epochs=1)
    with pytest.raises(ValueError, match="initial_state_mask was given without initial_state"):
        reg.fit(X, y, initial_state_mask=np.ones(3, bool))
    with pytest.raises(ValueError, match=r"initial_state_mask must have shape \(3,\)"):
        reg.fit(X, y, initial_state=S, initial_state_mask=np.ones(4, bool))
    with pytest.raises(ValueError, match="initial_state_mask must be a boolean"):
        reg.fit(X, y, initial_state=S, initial_state_mask=np.ones(3))
    bad = S.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="initial_state contains NaN or inf at a unit of"):
        reg.fit(X, y, initial_state=bad, initial_state_mask=np.array([True, False, False]))
    reg.fit(X, y, initial_state=bad, initial_state_mask=np.array([False, True, True]))
    with pytest.raises(ValueError, match="initial_state_mask was given without"):
        reg.predict(X, initial_state_mask=np.ones(3, bool))
    with pytest.raises(ValueError, match="initial_state_mask must have shape"):
        reg.start_state(4, S, np.ones(2, bool))


# --------------------------------------------------------------------------
# 4. Teaching signals on the units (readout=False)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("output_steps,shape,k", [("all", (7, 5, 2), 2), ("last", (7, 2), 2),
                                                  (2, (7, 2, 2), 2), ("all", (7, 5), 1)])
def test_readout_false_outputs_are_the_first_units(output_steps, shape, k):
    rng = np.random.default_rng(9)
    X = rng.normal(size=(7, 5, 3))
    L = np.array([5, 3, 4, 5, 2, 5, 3])
    y = rng.uniform(-0.9, 0.9, size=shape)
    reg = RNNRegressor(n_hidden=4, readout=False, output_steps=output_steps, max_epochs=3,
                       learning_rate=0.05, dtype="float64", random_state=0).fit(X, y, lengths=L)
    assert not hasattr(reg, "W_hy_") and not hasattr(reg, "b_y_")
    assert reg.n_outputs_ == k
    h = fastrnn.forward(X, reg.W_xh_, reg.W_hh_, reg.b_, lengths=L)
    valid = np.arange(5)[None] < L[:, None]
    if output_steps == "all":
        units, taught = h[..., :k], valid
    elif output_steps == "last":
        units, taught = h[np.arange(7), L - 1, :k], np.ones(7, bool)
    else:
        units = np.stack([h[i, L[i] - 2:L[i], :k] for i in range(7)])
        taught = np.ones((7, 2), bool)
    pred = reg.predict(X, lengths=L)
    assert pred.shape == y.shape
    np.testing.assert_allclose(pred, units.reshape(y.shape), rtol=1e-12)
    # the objective is the MSE of those units over the taught steps (+ L2)
    obj, grads = reg._objective(X, y, lengths=L)
    sq = ((units - y.reshape(units.shape)) ** 2)[taught]
    l2 = 0.5 * reg.alpha * ((reg.W_xh_ ** 2).sum() + (reg.W_hh_ ** 2).sum())
    assert obj == pytest.approx(sq.mean() + l2, rel=1e-12)
    assert set(grads) == {"W_xh", "W_hh", "b"}


def test_readout_false_checks_targets():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(5, 4, 2))
    ok = rng.uniform(-1, 1, size=(5, 4, 3))
    with pytest.raises(ValueError, match=r"teach hidden units 0\.\.4, but n_hidden is 3"):
        RNNRegressor(n_hidden=3, readout=False, max_epochs=1).fit(
            X, rng.uniform(-1, 1, size=(5, 4, 5)))
    RNNRegressor(n_hidden=3, readout=False, max_epochs=1).fit(X, ok)  # k = n_hidden
    bad = ok.copy()
    bad[2, 1, 0] = 1.5
    with pytest.raises(ValueError, match=r"activation='tanh' must lie in \[-1, 1\]; got 1\.5"):
        RNNRegressor(n_hidden=3, readout=False, max_epochs=1).fit(X, bad)
    # outside the range but not taught (target_mask): fine
    tm = np.ones(bad.shape, bool)
    tm[2, 1, 0] = False
    RNNRegressor(n_hidden=3, readout=False, max_epochs=1).fit(X, bad, target_mask=tm)
    with pytest.raises(ValueError, match=r"activation='relu' must lie in >= 0; got -0\.5"):
        RNNRegressor(n_hidden=3, readout=False, activation="relu", max_epochs=1).fit(
            X, np.full((5, 4, 3), -0.5))
    RNNRegressor(n_hidden=3, readout=False, activation="relu", max_epochs=1).fit(
        X, np.full((5, 4, 3), 2.5))
    clf = RNNClassifier(readout=False, max_epochs=1)
    assert clf.get_params()["readout"] is False
    with pytest.raises(ValueError, match="RNNClassifier: readout=False is not supported"):
        clf.fit(X, rng.integers(0, 2, size=(5, 4)))
    with pytest.raises(ValueError, match="readout must be True or False"):
        RNNRegressor(readout="no", max_epochs=1).fit(X, ok)


def test_attractor_taught_on_the_units():
    """Three +-0.8 patterns on all 10 units; from a noisy copy of one of them
    as the initial state (no inputs), the units must show the pattern at the
    last K = 3 of 6 steps. They settle on it, and stay there long after."""
    H, T, K = 10, 6, 3
    rng = np.random.default_rng(2)
    P = rng.choice([-0.8, 0.8], size=(3, H))

    def task(n):
        c = rng.integers(0, 3, size=n)
        S = P[c] + rng.normal(0, 0.3, size=(n, H))
        return np.zeros((n, T, 0)), S, np.repeat(P[c][:, None, :], K, axis=1)

    X, S, Y = task(300)
    reg = RNNRegressor(n_hidden=H, readout=False, output_steps=K, learning_rate=0.02,
                       max_epochs=150, n_iter_no_change=1000, batch_size=32,
                       dtype="float64", random_state=2).fit(X, Y, initial_state=S)
    Xt, St, Yt = task(300)
    start_err = np.abs(St - Yt[:, 0]).max(axis=1)
    assert np.mean(start_err < 0.15) < 0.05  # the starts are far from the patterns
    pred = reg.predict(Xt, initial_state=St)
    settled = np.abs(pred - Yt).max(axis=(1, 2)) < 0.15
    assert settled.mean() >= 0.95
    # run 5 times longer than trained: still on the pattern at every later step
    out, _ = reg.step(np.zeros((300, 5 * T, 0)), St)
    np.testing.assert_allclose(out[:, T - K:T], pred, rtol=1e-12)
    stays = np.abs(out[:, T - K:] - Yt[:, :1]).max(axis=(1, 2)) < 0.15
    assert stays.mean() >= 0.95


def test_readout_false_save_load_and_warm_start(tmp_path):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(6, 4, 2))
    y = rng.uniform(-0.9, 0.9, size=(6, 2, 3))
    reg = RNNRegressor(n_hidden=5, readout=False, output_steps=2, learn_initial_state=True,
                       max_epochs=2, dtype="float64", random_state=0).fit(X, y)
    path = tmp_path / "units.npz"
    reg.save(path)
    with np.load(path, allow_pickle=False) as npz:
        assert "W_hy_.npy" not in npz.zip.namelist() and "h0_.npy" in npz.zip.namelist()
    loaded = fastrnn.load(path)
    assert loaded.readout is False
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    np.testing.assert_array_equal(loaded.h0_, reg.h0_)
    loaded.partial_fit(X, y)  # continues without a readout
    assert not hasattr(loaded, "W_hy_")
    clone = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(clone.predict(X), reg.predict(X))
    with pytest.raises(ValueError, match="readout=True differs from the fitted model"):
        reg.set_params(warm_start=True, readout=True).fit(X, y)


# --------------------------------------------------------------------------
# Target masks
# --------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [RNNRegressor, RNNClassifier])
def test_target_mask_on_the_last_step_equals_output_steps_last(cls):
    rng = np.random.default_rng(12)
    n, T = 12, 6
    X = rng.normal(size=(n, T, 2))
    L = rng.integers(2, T + 1, size=n)
    if cls is RNNRegressor:
        y_last = rng.normal(size=(n, 2))
        y_all = np.full((n, T, 2), np.nan)  # untaught entries may be NaN
    else:
        y_last = rng.integers(0, 3, size=n)
        y_all = np.full((n, T), -1)  # untaught labels are ignored
    y_all[np.arange(n), L - 1] = y_last
    tm = np.zeros(y_all.shape, bool)
    tm[np.arange(n), L - 1] = True
    kw = dict(n_hidden=5, max_epochs=3, batch_size=5, learning_rate=0.05, bptt_steps=4,
              dtype="float64", random_state=0)
    last = cls(output_steps="last", **kw).fit(X, y_last, lengths=L)
    masked = cls(output_steps="all", **kw).fit(X, y_all, lengths=L, target_mask=tm)
    for name in ("W_xh_", "W_hh_", "b_", "W_hy_", "b_y_"):
        np.testing.assert_allclose(getattr(masked, name), getattr(last, name), rtol=1e-12,
                                   atol=1e-14, err_msg=name)
    np.testing.assert_allclose(masked.loss_curve_, last.loss_curve_, rtol=1e-12)
    assert masked.score(X, y_all, lengths=L, target_mask=tm) == pytest.approx(
        last.score(X, y_last, lengths=L), rel=1e-12)


def test_target_mask_on_values_is_the_mse_over_taught_values():
    rng = np.random.default_rng(13)
    n, T, k = 8, 5, 3
    X = rng.normal(size=(n, T, 2))
    y = rng.normal(size=(n, T, k))
    tm = rng.random(size=y.shape) < 0.5
    y_nan = np.where(tm, y, np.nan)
    reg = RNNRegressor(n_hidden=4, max_epochs=2, alpha=0.0, dtype="float64",
                       random_state=0).fit(X, y_nan, target_mask=tm)
    obj, _ = reg._objective(X, y_nan, target_mask=tm)
    pred = reg.predict(X)
    assert obj == pytest.approx(np.mean((pred - y)[tm] ** 2), rel=1e-12)
    # R² of each column over its taught values
    r2 = [1 - ((pred - y)[..., j][tm[..., j]] ** 2).sum()
          / ((y[..., j][tm[..., j]] - y[..., j][tm[..., j]].mean()) ** 2).sum()
          for j in range(k)]
    assert reg.score(X, y_nan, target_mask=tm) == pytest.approx(np.mean(r2), rel=1e-10)
    # an all-True mask is no mask
    kw = dict(n_hidden=4, max_epochs=2, bptt_steps=2, dtype="float64", random_state=0)
    a = RNNRegressor(**kw).fit(X, y, target_mask=np.ones(y.shape, bool))
    b = RNNRegressor(**kw).fit(X, y)
    np.testing.assert_allclose(a.W_hh_, b.W_hh_, rtol=1e-12, atol=1e-14)


def test_target_mask_errors():
    rng = np.random.default_rng(14)
    X = rng.normal(size=(4, 3, 1))
    y = rng.normal(size=(4, 3))
    reg = RNNRegressor(n_hidden=3, max_epochs=1)
    with pytest.raises(ValueError, match=r"target_mask must have y's shape \(4, 3\)"):
        reg.fit(X, y, target_mask=np.ones((4, 3, 1), bool))
    with pytest.raises(ValueError, match="target_mask must be a boolean array"):
        reg.fit(X, y, target_mask=np.ones((4, 3)))
    bad = y.copy()
    bad[0, 0] = np.nan
    tm = np.ones((4, 3), bool)
    with pytest.raises(ValueError, match="y contains NaN or inf at a taught step"):
        reg.fit(X, bad, target_mask=tm)
    tm[0, 0] = False
    reg.fit(X, bad, target_mask=tm)
    with pytest.raises(ValueError, match="target_mask teaches no target"):
        reg.fit(X, y, target_mask=np.zeros((4, 3), bool))
    with pytest.raises(ValueError, match="target_mask teaches no target"):
        reg.score(X, y, target_mask=np.zeros((4, 3), bool))


# --------------------------------------------------------------------------
# 5. Stepping
# --------------------------------------------------------------------------

def _step_through(est, X, state, chunk, **kw):
    outs = []
    for s in range(0, X.shape[1], chunk):
        out, state = est.step(X[:, s:s + chunk], state, **kw)
        outs.append(out)
    return np.concatenate(outs, axis=1), state


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-5)])
@pytest.mark.parametrize("chunk", [1, 3])
@pytest.mark.parametrize("output_steps", ["all", "last", 2])
def test_stepping_equals_predict(output_steps, chunk, dtype, tol):
    rng = np.random.default_rng(15)
    n, T, H = 5, 7, 6
    X = rng.normal(size=(n, T, 2))
    shape = {"all": (n, T, 2), "last": (n, 2), 2: (n, 2, 2)}[output_steps]
    reg = RNNRegressor(n_hidden=H, output_steps=output_steps, learn_initial_state=True,
                       max_epochs=2, learning_rate=0.05, dtype=dtype, random_state=0)
    reg.fit(X, rng.normal(size=shape))
    steps, state = _step_through(reg, X, None, chunk)
    assert steps.shape == (n, T, 2) and steps.dtype == np.dtype(dtype)
    pred, final = reg.predict(X, return_state=True)
    taught = {"all": slice(None), "last": -1, 2: slice(T - 2, None)}[output_steps]
    np.testing.assert_allclose(steps[:, taught], pred, rtol=tol, atol=tol)
    np.testing.assert_allclose(state, final, rtol=tol, atol=tol)
    # with an initial state on some of the units
    S = rng.normal(size=(n, H))
    mask = np.arange(H) < 3
    steps, _ = _step_through(reg, X, reg.start_state(n, S, mask), chunk)
    np.testing.assert_allclose(steps[:, taught],
                               reg.predict(X, initial_state=S, initial_state_mask=mask),
                               rtol=tol, atol=tol)


@pytest.mark.parametrize("chunk", [1, 4])
def test_classifier_stepping_with_ids_equals_predict(chunk):
    rng = np.random.default_rng(16)
    n, T, V = 6, 8, 5
    ids = rng.integers(0, V, size=(n, T))
    y = rng.integers(0, 3, size=(n, T))
    clf = RNNClassifier(n_hidden=7, max_epochs=3, learning_rate=0.05, dtype="float64",
                        random_state=0).fit(ids, y)
    proba, state = _step_through(clf, ids, None, chunk, return_proba=True)
    full, final = clf.predict_proba(ids, return_state=True)
    np.testing.assert_allclose(proba, full, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(state, final, rtol=1e-12)
    labels, _ = _step_through(clf, ids, None, chunk)
    np.testing.assert_array_equal(labels, clf.predict(ids))
    # readout=False regressor, single output: (n, k) per chunk
    reg = RNNRegressor(n_hidden=4, readout=False, max_epochs=1, dtype="float64",
                       random_state=0).fit(ids, rng.uniform(-0.5, 0.5, size=(n, T)))
    out, _ = _step_through(reg, ids, None, chunk)
    np.testing.assert_allclose(out, reg.predict(ids), rtol=1e-12)


def test_step_errors():
    rng = np.random.default_rng(17)
    X = rng.normal(size=(3, 4, 2))
    reg = RNNRegressor(n_hidden=3, max_epochs=1)
    with pytest.raises(fastrnn.NotFittedError):
        reg.step(X)
    reg.fit(X, rng.normal(size=(3, 4)))
    with pytest.raises(ValueError, match=r"state must have shape \(3, 3\)"):
        reg.step(X, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="state contains NaN"):
        reg.step(X, np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="X has 1 features, but RNNRegressor is expecting 2"):
        reg.step(X[:, :, :1])
    with pytest.raises(ValueError, match="n_sequences must be an integer >= 1"):
        reg.start_state(0)


# --------------------------------------------------------------------------
# Saving the new hyperparameters
# --------------------------------------------------------------------------

def test_save_load_round_trip_with_learned_h0_and_masked_inputs():
    rng = np.random.default_rng(18)
    X = rng.normal(size=(5, 4, 0))
    S = rng.normal(size=(5, 6))
    mask = np.arange(6) < 2
    y = rng.integers(0, 2, size=5)
    clf = RNNClassifier(n_hidden=6, output_steps="last", learn_initial_state=True,
                        max_epochs=2, dtype="float64", random_state=0)
    clf.fit(X, y, initial_state=S, initial_state_mask=mask)
    buf = io.BytesIO()
    clf.save(buf)
    buf.seek(0)
    loaded = fastrnn.load(buf)
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(
        loaded.predict_proba(X, initial_state=S, initial_state_mask=mask),
        clf.predict_proba(X, initial_state=S, initial_state_mask=mask))
