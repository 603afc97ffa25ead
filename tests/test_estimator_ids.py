"""Integer-id inputs in the estimators: X of shape (n, T) holding ids in 0..V-1
stands for the one-hot float X of shape (n, T, V)."""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest

import fastrnn
from fastrnn import RNNClassifier, RNNRegressor

WEIGHTS = ("W_xh_", "W_hh_", "b_", "W_hy_", "b_y_")


def _ids_task(seed=0, n=30, T=9, V=6, pad=True):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, size=(n, T))
    L = rng.integers(4, T + 1, size=n) if pad else None
    onehot = np.eye(V)[ids]
    if pad:
        # garbage at padded steps: out-of-range ids, NaN one-hot rows
        padded = np.arange(T)[None, :] >= L[:, None]
        ids = np.where(padded, -7, ids)
        onehot[padded] = np.nan
    return rng, ids, onehot, L


def _assert_same_weights(a, b, names=WEIGHTS):
    for name in names:
        wa, wb = getattr(a, name), getattr(b, name)
        assert wa.shape == wb.shape, name
        np.testing.assert_allclose(wa, wb, rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("output_steps", ["all", "last", 3])
@pytest.mark.parametrize("bptt_steps", [None, 4])
def test_classifier_ids_equal_one_hot(output_steps, bptt_steps):
    rng, ids, onehot, L = _ids_task(1)
    n, T = ids.shape
    shape = {"all": (n, T), "last": (n,), 3: (n, 3)}[output_steps]
    y = rng.integers(0, 3, size=shape)
    kw = dict(n_hidden=7, output_steps=output_steps, bptt_steps=bptt_steps,
              learn_initial_state=True, max_epochs=3, batch_size=8, learning_rate=0.05,
              dtype="float64", random_state=0)
    a = RNNClassifier(**kw).fit(ids, y, lengths=L)
    b = RNNClassifier(**kw).fit(onehot, y, lengths=L)
    assert a.n_features_in_ == b.n_features_in_ == 6
    assert a.W_xh_.shape == (6, 7)
    assert not np.allclose(a.W_xh_, RNNClassifier(**{**kw, "max_epochs": 1}).fit(
        ids, y, lengths=L).W_xh_)  # training moved the input weights
    _assert_same_weights(a, b, WEIGHTS + ("h0_",))
    assert a.loss_curve_ == pytest.approx(b.loss_curve_, rel=1e-12)
    np.testing.assert_allclose(a.predict_proba(ids, lengths=L),
                               b.predict_proba(onehot, lengths=L), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(a.predict(ids, lengths=L), b.predict(onehot, lengths=L))
    assert a.score(ids, y, lengths=L) == b.score(onehot, y, lengths=L)
    # a model fitted on ids takes the one-hot X, and the other way round
    np.testing.assert_allclose(a.predict_proba(onehot, lengths=L),
                               b.predict_proba(ids, lengths=L), rtol=1e-12, atol=1e-14)


def test_regressor_ids_equal_one_hot_with_partial_fit_and_early_stopping():
    rng, ids, onehot, L = _ids_task(2, pad=False)
    y = np.cumsum(rng.normal(size=ids.shape + (2,)), axis=1) / 4
    kw = dict(n_hidden=5, max_epochs=4, batch_size=8, early_stopping=True,
              validation_fraction=0.2, n_iter_no_change=50, dtype="float64", random_state=3)
    a = RNNRegressor(**kw).fit(ids, y)
    b = RNNRegressor(**kw).fit(onehot, y)
    _assert_same_weights(a, b)
    assert a.validation_scores_ == pytest.approx(b.validation_scores_, rel=1e-12)
    a.partial_fit(ids, y)
    b.partial_fit(onehot, y)
    _assert_same_weights(a, b)
    np.testing.assert_allclose(a.predict(ids), b.predict(onehot), rtol=1e-12, atol=1e-14)
    assert a.score(ids, y) == pytest.approx(b.score(onehot, y), rel=1e-12)


def test_ids_with_return_state_and_initial_state():
    rng, ids, onehot, _ = _ids_task(3, pad=False)
    y = rng.normal(size=ids.shape)
    reg = RNNRegressor(n_hidden=6, max_epochs=2, dtype="float64", random_state=0)
    reg.fit(ids, y)
    full, h_full = reg.predict(ids, return_state=True)
    first, h1 = reg.predict(ids[:, :4], return_state=True)
    second, h2 = reg.predict(ids[:, 4:], initial_state=h1, return_state=True)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), full, rtol=1e-13)
    np.testing.assert_allclose(h2, h_full, rtol=1e-13)
    S = rng.normal(size=(ids.shape[0], 6))
    np.testing.assert_allclose(reg.predict(ids, initial_state=S),
                               reg.predict(onehot, initial_state=S), rtol=1e-13)


def test_ids_learn_a_character_model_with_truncated_bptt():
    text = "hello world, fast rnn! " * 40
    chars = sorted(set(text))
    codes = np.array([chars.index(c) for c in text])
    T = 64
    starts = np.arange(0, len(codes) - T - 1, 7)
    x_ids = np.stack([codes[s:s + T] for s in starts])
    y = np.stack([codes[s + 1:s + T + 1] for s in starts])
    clf = RNNClassifier(n_hidden=24, bptt_steps=8, learning_rate=0.02, max_epochs=25,
                        batch_size=16, n_symbols=len(chars), random_state=0).fit(x_ids, y)
    assert clf.n_features_in_ == len(chars)
    assert np.mean(y == np.bincount(y.ravel()).argmax()) < 0.2
    assert clf.score(x_ids, y) > 0.9


def test_n_symbols_sets_the_vocabulary():
    rng = np.random.default_rng(4)
    ids = rng.integers(0, 3, size=(10, 5))
    y = rng.normal(size=(10, 5))
    reg = RNNRegressor(n_hidden=4, n_symbols=8, max_epochs=1, random_state=0).fit(ids, y)
    assert reg.n_symbols == 8
    assert reg.n_features_in_ == 8 and reg.W_xh_.shape == (8, 4)
    reg.predict(np.full((2, 3), 7))  # every id below n_symbols is valid later
    auto = RNNRegressor(n_hidden=4, max_epochs=1, random_state=0).fit(ids, y)
    assert auto.n_features_in_ == ids.max() + 1 == 3
    assert auto.n_symbols is None  # stored unchanged


def test_unsigned_ids_beyond_intp_raise_and_may_pad():
    rng = np.random.default_rng(6)
    ids = rng.integers(0, 4, size=(10, 5)).astype(np.uint64)
    y = rng.integers(0, 2, size=10)
    clf = RNNClassifier(n_hidden=4, output_steps="last", max_epochs=1, random_state=0)
    padded = ids.copy()
    padded[0, 4] = 2**64 - 1  # at a padded step: anything goes
    clf.fit(padded, y, lengths=[4] + [5] * 9)
    assert clf.n_features_in_ == 4
    with pytest.raises(ValueError, match=r"X holds integer ids.*0\.\.3.*got X\[0, 4\] = "
                                         r"9223372036854775807 or more"):
        clf.predict(padded)


def test_out_of_range_ids_raise():
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 4, size=(10, 5))
    y = rng.integers(0, 2, size=10)
    clf = RNNClassifier(n_hidden=4, output_steps="last", max_epochs=1, random_state=0)
    clf.fit(ids, y)
    assert clf.n_features_in_ == 4
    bad = ids.copy()
    bad[2, 3] = 4
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(ValueError, match=r"X holds integer ids.*0\.\.3.*X\[2, 3\] = 4"):
            method(bad)
    with pytest.raises(ValueError, match=r"X holds integer ids.*0\.\.3"):
        clf.score(bad, y)
    with pytest.raises(ValueError, match=r"X holds integer ids.*0\.\.3"):
        clf.partial_fit(bad, y)
    neg = ids.copy()
    neg[0, 0] = -1
    with pytest.raises(ValueError, match=r"X holds integer ids.*got X\[0, 0\] = -1"):
        clf.predict(neg)
    with pytest.raises(ValueError, match=r"X holds integer ids.*got X\[0, 0\] = -1"):
        RNNClassifier(n_hidden=4, output_steps="last", max_epochs=1).fit(neg, y)
    with pytest.raises(ValueError, match=r"X holds integer ids.*0\.\.2 \(n_symbols=3\)"):
        RNNClassifier(n_hidden=4, output_steps="last", max_epochs=1, n_symbols=3).fit(ids, y)
    # out-of-range ids at padded steps are ignored
    L = np.full(10, 5)
    L[2] = 3
    clf.predict(bad, lengths=L)


@pytest.mark.parametrize("value", [0, -1, 2.5, "3", True])
def test_invalid_n_symbols_raises_in_fit(value):
    ids = np.zeros((4, 3), dtype=int)
    reg = RNNRegressor(n_symbols=value, max_epochs=1)
    assert reg.get_params()["n_symbols"] is value
    with pytest.raises(ValueError, match="n_symbols"):
        reg.fit(ids, np.zeros((4, 3)))


def test_n_symbols_with_float_X_and_warm_start():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(6, 4, 3))
    y = rng.normal(size=(6, 4))
    RNNRegressor(n_hidden=3, n_symbols=3, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="n_symbols=5.*got 3"):
        RNNRegressor(n_hidden=3, n_symbols=5, max_epochs=1).fit(X, y)
    reg = RNNRegressor(n_hidden=3, max_epochs=1, random_state=0).fit(
        rng.integers(0, 4, size=(6, 4)), y)
    reg.set_params(warm_start=True, n_symbols=6)
    with pytest.raises(ValueError, match="n_symbols=6 differs"):
        reg.fit(rng.integers(0, 4, size=(6, 4)), y)


def test_integer_3d_X_stays_numeric():
    rng = np.random.default_rng(7)
    Xi = rng.integers(-2, 3, size=(8, 5, 2))
    y = rng.normal(size=(8, 5))
    kw = dict(n_hidden=4, max_epochs=2, dtype="float64", random_state=0)
    a = RNNRegressor(**kw).fit(Xi, y)
    b = RNNRegressor(**kw).fit(Xi.astype(float), y)
    assert a.n_features_in_ == 2
    _assert_same_weights(a, b)
    # 2-D floats are still an error with a hint
    with pytest.raises(ValueError, match="3-D.*integer array of ids"):
        a.predict(rng.normal(size=(8, 5)))
    # a float model is given ids of the wrong vocabulary
    with pytest.raises(ValueError, match=r"X holds integer ids.*0\.\.1"):
        a.predict(np.full((2, 3), 2))


def test_save_load_and_pickle_round_trip_with_ids(tmp_path):
    rng, ids, onehot, L = _ids_task(8)
    y = rng.integers(0, 3, size=ids.shape)
    clf = RNNClassifier(n_hidden=5, n_symbols=9, max_epochs=2, dtype="float64",
                        random_state=0).fit(ids, y, lengths=L)
    expected = clf.predict_proba(ids, lengths=L)
    path = tmp_path / "ids.npz"
    clf.save(path)
    loaded = fastrnn.load(path)
    assert loaded.n_symbols == 9 and loaded.n_features_in_ == 9
    np.testing.assert_array_equal(loaded.predict_proba(ids, lengths=L), expected)
    with pytest.raises(ValueError, match=r"0\.\.8"):
        loaded.predict(np.full((1, 2), 9))
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict_proba(ids, lengths=L), expected)
    # a model file written before n_symbols existed loads with n_symbols=None
    buf = io.BytesIO()
    clf.save(buf)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    hyper = json.loads(str(members["hyperparameters"]))
    del hyper["n_symbols"]
    members["hyperparameters"] = np.array(json.dumps(hyper))
    old = tmp_path / "old.npz"
    with open(old, "wb") as f:
        np.savez(f, **members)
    assert fastrnn.load(old).n_symbols is None
