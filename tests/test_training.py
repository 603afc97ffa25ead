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
