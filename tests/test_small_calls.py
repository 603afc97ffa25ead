"""Small calls of fitted models (a few sequences, a few steps): step and
predict read the weights in place instead of packing them, with the same
results, bit for bit, as the full path."""

from __future__ import annotations

import numpy as np
import pytest

import fastrnn
from fastrnn import _base


def _fitted(kind, dtype, activation, ids, learn_initial_state=False):
    rng = np.random.default_rng(3)
    if ids:
        X = rng.integers(0, 9, size=(12, 7))
        D = 9
    else:
        X = rng.standard_normal((12, 7, 4))
        D = 4
    if kind == "classifier":
        y = (X if ids else (X.sum(axis=2) > 0)).astype(int) % 3
        model = fastrnn.RNNClassifier(n_hidden=37, max_epochs=2, random_state=0,
                                      dtype=dtype, activation=activation,
                                      learn_initial_state=learn_initial_state)
    else:
        y = rng.standard_normal((12, 7, 2))
        model = fastrnn.RNNRegressor(n_hidden=37, max_epochs=2, random_state=0,
                                     dtype=dtype, activation=activation,
                                     learn_initial_state=learn_initial_state)
    return model.fit(X, y), X, D


def _full_path(monkeypatch):
    monkeypatch.setattr(_base, "SMALL_STEP", 0)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("ids", [True, False], ids=["ids", "dense"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_small_steps_and_predictions_equal_the_full_path(kernels, dtype, kind, ids,
                                                         activation, monkeypatch):
    model, X, _ = _fitted(kind, dtype.name, activation, ids, learn_initial_state=True)
    chunk = X[:3, :4]
    state = np.random.default_rng(0).standard_normal((3, 37))
    fast = [model.step(chunk, state), model.step(chunk), model.predict(X[:2])]
    if kind == "classifier":
        fast += [model.step(chunk, state, return_proba=True), model.predict_proba(X[:2, :5])]
    assert model._step_small(chunk, state) is not None  # the fast path ran
    _full_path(monkeypatch)
    assert model._step_small(chunk, state) is None
    full = [model.step(chunk, state), model.step(chunk), model.predict(X[:2])]
    if kind == "classifier":
        full += [model.step(chunk, state, return_proba=True), model.predict_proba(X[:2, :5])]
    for a, b in zip(fast, full):
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_array_equal(u, v)


def test_one_step_at_a_time_equals_predict_proba_on_the_whole_sequence():
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    seq = X[:1]
    whole = model.predict_proba(seq)               # 7 steps: the fast path too
    state, probs = None, []
    for t in range(seq.shape[1]):
        p, state = model.step(seq[:, t:t + 1], state, return_proba=True)
        probs.append(p[:, 0])
    np.testing.assert_array_equal(np.stack(probs, axis=1), whole)


def test_step_sees_weights_changed_in_place():
    """Nothing is prepared or cached: an edited weight matrix takes effect at
    the next step."""
    model, X, _ = _fitted("regressor", "float64", "tanh", ids=True)
    before, _ = model.step(X[:1, :2])
    model.W_hh_[:] = 0
    after, _ = model.step(X[:1, :2])
    assert not np.array_equal(before, after)
    h = np.tanh(model.b_ + model.W_xh_[X[0, 1]])   # W_hh = 0: each state from its input
    np.testing.assert_allclose(after[0, 1], h @ model.W_hy_ + model.b_y_, rtol=1e-12)


@pytest.mark.parametrize("bad, match", [
    (np.array([[0, 99]]), "integer ids"),
    (np.array([[-1]]), "integer ids"),
    (np.full((1, 2, 9), np.nan), "NaN"),
    (np.zeros((1, 2, 3)), "features"),
])
def test_bad_small_inputs_get_the_full_checks(bad, match):
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    with pytest.raises(ValueError, match=match):
        model.step(bad)


def test_bad_state_gets_the_full_checks():
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    with pytest.raises(ValueError, match="state"):
        model.step(X[:1, :1], np.full((1, 37), np.inf))
    with pytest.raises(ValueError, match="state"):
        model.step(X[:1, :1], np.zeros((2, 37)))
