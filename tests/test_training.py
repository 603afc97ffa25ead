"""The training pieces (fastrnn._training): truncated-BPTT windows, initial
weights, the validation split."""

from __future__ import annotations

import numpy as np

from fastrnn import RNNRegressor
from fastrnn._data import Batch
from fastrnn._training import init_params, split_validation, windows


def _batch(lengths, T=7):
    n = len(lengths)
    X = np.arange(n * T * 2, dtype=np.float64).reshape(n, T, 2)
    return Batch(X=X, lengths=np.array(lengths, dtype=np.intp), Y=np.zeros((n, T, 1)))


def test_full_bptt_is_one_window_of_the_batch_itself():
    b = _batch([7, 3])
    for k in (None, 7, 50):
        (w,) = list(windows(b, k))
        assert (w.start, w.end) == (0, 7) and w.x is b.X and w.alive is None
        assert w.targets is b


def test_windows_follow_the_sequences_that_are_still_running():
    b = _batch([7, 3, 5])
    ws = list(windows(b, 3))
    assert [(w.start, w.end) for w in ws] == [(0, 3), (3, 6), (6, 7)]
    assert ws[0].alive is None and ws[0].lengths is None
    np.testing.assert_array_equal(ws[1].alive, [0, 2])
    np.testing.assert_array_equal(ws[1].lengths, [3, 2])
    np.testing.assert_array_equal(ws[1].x, b.X[[0, 2], 3:6])
    assert ws[1].x.flags.c_contiguous
    np.testing.assert_array_equal(ws[2].alive, [0])
    assert ws[2].lengths is None  # the one running sequence fills the window


def test_windows_stop_when_every_sequence_has_ended():
    b = _batch([2, 2])
    assert [(w.start, w.end) for w in windows(b, 2)] == [(0, 2)]


def test_init_params_are_those_of_fit():
    X = np.random.default_rng(0).standard_normal((6, 4, 3))
    y = X.sum(axis=2)
    est = RNNRegressor(n_hidden=5, max_epochs=1, learn_initial_state=True, random_state=3)
    cfg = est._check_hyperparameters()
    params = init_params(cfg, 3, 1, np.random.default_rng(3))
    assert set(params) == {"W_xh", "W_hh", "b", "W_hy", "b_y", "h0"}
    np.testing.assert_allclose(params["W_hh"] @ params["W_hh"].T, np.eye(5), atol=1e-6)
    assert 0 < np.abs(params["h0"]).max() <= 0.1
    est.fit(X, y)  # fit draws the same weights first, then trains them
    assert est.W_xh_.shape == params["W_xh"].shape


def test_split_validation_holds_out_a_sorted_random_share():
    b = Batch(X=np.arange(10 * 3).reshape(10, 3, 1).astype(float), Y=np.zeros((10, 3, 1)))
    train, val = split_validation("Est", b, 0.25, np.random.default_rng(0))
    assert train.n == 7 and val.n == 3
    seen = np.concatenate([train.X[:, 0, 0], val.X[:, 0, 0]]) / 3
    assert sorted(seen) == list(range(10))
    assert (np.diff(val.X[:, 0, 0]) > 0).all()


# ---------------------------------------------------------------- last_state_

def _stream(n=3, T=48, D=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T, D))
    y = np.cumsum(X[..., :1], axis=1) * 0.1
    return X, y


def _model(**kw):
    kw = {"n_hidden": 6, "output_steps": "all", "bptt_steps": 16, "batch_size": 3,
          "dtype": "float64", "random_state": 0, **kw}
    return RNNRegressor(**kw)


def test_last_state_continues_a_stream_as_one_call_would():
    X, y = _stream()
    whole = _model().partial_fit(X, y)
    parts = _model().partial_fit(X[:, :32], y[:, :32])
    assert parts.last_state_.shape == (3, 6)
    parts.partial_fit(X[:, 32:], y[:, 32:], initial_state=parts.last_state_)
    cold = _model().partial_fit(X[:, :32], y[:, :32])
    cold.partial_fit(X[:, 32:], y[:, 32:])  # the continuation from zeros instead
    for name in ("W_xh_", "W_hh_", "b_", "W_hy_", "b_y_"):
        # (equal up to the order of sums over the sequences, which the
        # shuffling of each call changes)
        np.testing.assert_allclose(getattr(parts, name), getattr(whole, name),
                                   rtol=1e-10, atol=1e-12)
    assert not np.allclose(cold.W_hh_, whole.W_hh_, rtol=1e-6, atol=0)
    np.testing.assert_allclose(parts.last_state_, whole.last_state_, rtol=1e-10, atol=1e-12)


def test_last_state_is_each_sequence_state_at_its_last_true_step():
    from fastrnn import functional
    X, y = _stream(n=5, T=20)
    lengths = np.array([20, 7, 16, 1, 17])
    for batch_size in (5, 2):  # one mini-batch, or shuffled into three
        # (a step too small to change a weight: the states are the forward pass's)
        m = _model(optimizer="sgd", learning_rate=1e-300, bptt_steps=8,
                   batch_size=batch_size)
        m.partial_fit(X, y, lengths=lengths)
        h = functional.forward(X, m.W_xh_, m.W_hh_, m.b_, lengths=lengths)
        np.testing.assert_allclose(m.last_state_, h[np.arange(5), lengths - 1],
                                   rtol=1e-12, atol=1e-14)


def test_fit_removes_last_state_and_save_does_not_keep_it(tmp_path):
    import fastrnn
    X, y = _stream()
    m = _model(max_epochs=1).partial_fit(X, y)
    m.save(tmp_path / "m.npz")
    assert not hasattr(fastrnn.load(tmp_path / "m.npz"), "last_state_")
    m.fit(X, y)
    assert not hasattr(m, "last_state_")


def test_the_kept_gradient_buffer_is_zero_again_after_each_window():
    """A regressor taught at its last steps writes dh's taught rows into a
    buffer it keeps between windows: each window's gradients are those of a
    fresh trainer (no rows left over), the buffer is zero after the window,
    also when the loss is not finite."""
    import pytest

    from fastrnn import _training
    from fastrnn._training import NonFiniteLossError, Trainer

    rng = np.random.default_rng(4)
    X = rng.normal(size=(6, 9, 3))
    y = rng.normal(size=(6, 2))
    m = RNNRegressor(n_hidden=5, output_steps="last", batch_size=3, random_state=0,
                     max_epochs=1).fit(X, y)
    cfg = m._check_hyperparameters()
    data = m._prepare(X, y, None, None, None, None, cfg, fitted=True)
    kept = Trainer(m._params(), m._loss, cfg)

    def grads(trainer, idx):
        batch = data.take(idx)
        w = next(iter(windows(batch, None)))
        rows, targets, vmask = _training._select(w.targets, w.start, w.end)
        h0, free = trainer.batch_h0(batch.init, batch.init_mask)
        return trainer.loss_grad(w.x, w.lengths, h0, free, rows, targets, vmask)[3]

    for idx in ([0, 1, 2], [3, 4, 5], [5, 0, 2]):
        got = grads(kept, np.array(idx))
        assert kept._dh_zeros is not None and not kept._dh_zeros.any()
        fresh = grads(Trainer(m._params(), m._loss, cfg), np.array(idx))
        for k in fresh:
            np.testing.assert_array_equal(got[k], fresh[k])
    bad = data.take(np.array([0, 1, 2]))
    bad.Y[...] = np.inf
    w = next(iter(windows(bad, None)))
    rows, targets, vmask = _training._select(w.targets, w.start, w.end)
    h0, free = kept.batch_h0(bad.init, bad.init_mask)
    with pytest.raises(NonFiniteLossError):
        kept.loss_grad(w.x, w.lengths, h0, free, rows, targets, vmask)
    assert not kept._dh_zeros.any()


def test_training_asks_the_kernels_for_no_gradient_of_the_data(monkeypatch):
    """The estimators never use dL/dx: every BPTT call of a fit (one layer,
    a stack, both directions) skips it, and the stacked pass still hands
    the upper layers' input gradients down."""
    from fastrnn import functional

    calls = []
    original = functional.trusted_backward

    def spy(*args, **kwargs):
        g = original(*args, **kwargs)
        calls.append((args[1].shape, g.dx is None))
        return g

    monkeypatch.setattr(functional, "trusted_backward", spy)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 6, 3)), rng.standard_normal(12)
    for kw in ({"n_hidden": 5}, {"n_hidden": (5, 4)}, {"n_hidden": 5, "bidirectional": True}):
        calls.clear()
        RNNRegressor(**kw, output_steps="last", max_epochs=2, batch_size=4,
                     random_state=0).fit(X, y)
        layer0 = [no_dx for shape, no_dx in calls if shape[2] == 5]
        assert layer0 and all(layer0), kw
        layer1 = [no_dx for shape, no_dx in calls if shape[2] == 4]
        assert not any(layer1)  # layer 1 passes dL/d(layer 0's output) down
        assert bool(layer1) == (kw["n_hidden"] == (5, 4))
