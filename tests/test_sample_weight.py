"""Sample weights: one weight per sequence, exact in the loss and its gradient.

A weight of 2 must be the same objective and gradient as giving the sequence
twice, a weight of 0 the same as leaving it out; integer weights the same as
repeating each sequence that many times (up to rounding: the sums run in
another order).
"""

from __future__ import annotations

import numpy as np
import pytest

from fastrnn import RNNClassifier, RNNRegressor


def regression(n=9, T=6, D=2, k=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, D))
    y = np.stack([np.cumsum(X[:, :, 0], axis=1) / 3, np.tanh(X.sum(axis=2))], axis=2)[..., :k]
    return X, y, rng.integers(2, T + 1, size=n)


def labels(n=9, T=6, D=2, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, D))
    return X, (np.cumsum(X[:, :, 0], axis=1) > 0).astype(int) + (X[:, :, 1] > 1), \
        rng.integers(2, T + 1, size=n)


def fitted(cls, X, y, **kw):
    params = dict(n_hidden=5, max_epochs=1, dtype="float64", random_state=0,
                  learn_initial_state=True, alpha=0.01)
    params.update(kw)
    return cls(**params).fit(X, y)


def assert_same_objective(a, b):
    (la, ga), (lb, gb) = a, b
    np.testing.assert_allclose(la, lb, rtol=1e-12)
    assert ga.keys() == gb.keys()
    for key in ga:
        np.testing.assert_allclose(ga[key], gb[key], rtol=1e-10, atol=1e-14, err_msg=key)


CASES = {
    "regressor, all steps": (RNNRegressor, regression, {}),
    "regressor, last step": (RNNRegressor, regression, {"output_steps": "last"}),
    "regressor, last 2, no readout": (RNNRegressor, regression,
                                      {"output_steps": 2, "readout": False}),
    "classifier, all steps": (RNNClassifier, labels, {}),
    "classifier, last 2": (RNNClassifier, labels, {"output_steps": 2}),
}


def _targets(y, kw):
    steps = kw.get("output_steps", "all")
    if steps == "last":
        return y[:, -1]
    if steps == "all":
        return y
    return y[:, -steps:]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
def test_weight_two_is_a_duplicate_and_zero_is_absent(case, with_lengths):
    cls, make, kw = CASES[case]
    X, y, lengths = make()
    if kw.get("readout") is False:
        y = np.tanh(y)
    if kw.get("output_steps") not in (None, "all"):
        lengths = np.maximum(lengths, 2)
    y = _targets(y, kw)
    L = lengths if with_lengths else None
    est = fitted(cls, X, y, **kw)
    w = np.ones(len(X))
    w[2], w[5] = 2.0, 0.0
    weighted = est._objective(X, y, lengths=L, sample_weight=w)
    keep = [i for i in range(len(X)) if i != 5] + [2]
    repeated = est._objective(X[keep], y[keep], lengths=None if L is None else L[keep])
    assert_same_objective(weighted, repeated)


def test_integer_weights_are_repetitions_with_target_mask_and_initial_state():
    X, y, lengths = regression(n=7, k=2)
    rng = np.random.default_rng(3)
    mask = rng.random(y.shape) < 0.6
    init = rng.normal(size=(7, 5))
    unit_mask = np.array([True, False, True, False, False])
    est = fitted(RNNRegressor, X, y)
    w = np.array([1, 3, 0, 2, 1, 1, 4], dtype=float)
    rep = np.repeat(np.arange(7), w.astype(int))
    a = est._objective(X, y, lengths=lengths, target_mask=mask, initial_state=init,
                       initial_state_mask=unit_mask, sample_weight=w)
    b = est._objective(X[rep], y[rep], lengths=lengths[rep], target_mask=mask[rep],
                       initial_state=init[rep], initial_state_mask=unit_mask)
    (la, ga), (lb, gb) = a, b
    np.testing.assert_allclose(la, lb, rtol=1e-12)
    for key in ("W_xh", "W_hh", "b", "h0", "W_hy", "b_y"):
        np.testing.assert_allclose(ga[key], gb[key], rtol=1e-10, atol=1e-14, err_msg=key)


def test_unit_weights_change_nothing_and_scale_does_not_matter():
    X, y, lengths = regression()
    est = fitted(RNNRegressor, X, y)
    plain = est._objective(X, y, lengths=lengths)
    assert_same_objective(est._objective(X, y, lengths=lengths, sample_weight=np.ones(9)),
                          plain)
    assert_same_objective(est._objective(X, y, lengths=lengths, sample_weight=2.5), plain)
    w = np.random.default_rng(0).uniform(0.1, 3, size=9)
    assert_same_objective(est._objective(X, y, lengths=lengths, sample_weight=w),
                          est._objective(X, y, lengths=lengths, sample_weight=7 * w))


def test_full_batch_fit_with_weights_equals_fit_on_repeated_sequences():
    X, y, lengths = regression(n=8)
    w = np.array([1, 2, 0, 1, 3, 1, 1, 2], dtype=float)
    rep = np.repeat(np.arange(8), w.astype(int))
    kw = dict(n_hidden=6, max_epochs=15, batch_size=100, dtype="float64", random_state=0,
              learning_rate=0.01, bptt_steps=4)
    a = RNNRegressor(**kw).fit(X, y, lengths=lengths, sample_weight=w)
    b = RNNRegressor(**kw).fit(X[rep], y[rep], lengths=lengths[rep])
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(a.W_hh_, b.W_hh_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(a.predict(X, lengths=lengths), b.predict(X, lengths=lengths),
                               rtol=1e-8, atol=1e-12)
    # partial_fit too
    c = RNNRegressor(**kw).partial_fit(X, y, lengths=lengths, sample_weight=w)
    d = RNNRegressor(**kw).partial_fit(X[rep], y[rep], lengths=lengths[rep])
    np.testing.assert_allclose(c.W_xh_, d.W_xh_, rtol=1e-9, atol=1e-12)


def test_weights_steer_the_fit():
    # inputs that tell nothing: the best constant is the weighted mean of y
    X = np.zeros((40, 4, 1))
    y = np.where(np.arange(40) < 20, 1.0, -1.0)
    w = np.where(np.arange(40) < 20, 9.0, 1.0)
    kw = dict(n_hidden=4, output_steps="last", max_epochs=600, learning_rate=0.01,
              batch_size=40, random_state=0, tol=0, alpha=0)
    reg = RNNRegressor(**kw).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(reg.predict(X), 0.8, atol=0.05)  # (loss 0.366, min 0.36)
    np.testing.assert_allclose(RNNRegressor(**kw).fit(X, y).predict(X), 0.0, atol=0.05)


def test_weighted_scores():
    X, y, lengths = regression(n=12, k=1)
    y = y[..., 0]
    reg = RNNRegressor(n_hidden=4, max_epochs=3, random_state=0).fit(X, y)
    w = np.array([1, 2, 0, 1, 3, 1, 1, 2, 0, 1, 1, 5], dtype=float)
    rep = np.repeat(np.arange(12), w.astype(int))
    assert reg.score(X, y, lengths=lengths, sample_weight=w) == pytest.approx(
        reg.score(X[rep], y[rep], lengths=lengths[rep]), rel=1e-9)
    assert reg.score(X, y, sample_weight=np.ones(12)) == pytest.approx(reg.score(X, y),
                                                                       rel=1e-12)
    Xc, yc, Lc = labels(n=12)
    clf = RNNClassifier(n_hidden=4, max_epochs=3, random_state=0).fit(Xc, yc)
    assert clf.score(Xc, yc, lengths=Lc, sample_weight=w) == pytest.approx(
        clf.score(Xc[rep], yc[rep], lengths=Lc[rep]), rel=1e-12)


def test_early_stopping_validation_score_is_weighted():
    X, y, _ = regression(n=30, k=1)
    kw = dict(n_hidden=4, max_epochs=3, early_stopping=True, validation_fraction=0.3,
              random_state=0)
    a = RNNRegressor(**kw).fit(X, y[..., 0], sample_weight=np.ones(30))
    b = RNNRegressor(**kw).fit(X, y[..., 0])
    np.testing.assert_allclose(a.validation_scores_, b.validation_scores_, rtol=1e-6)


@pytest.mark.parametrize("bad, match", [
    (np.ones(8), r"sample_weight must have shape \(9,\)"),
    (np.ones((9, 1)), r"sample_weight must have shape \(9,\)"),
    (np.r_[np.ones(8), -1.0], r"sample_weight must be >= 0, got sample_weight\[8\] = -1"),
    (np.r_[np.ones(8), np.nan], "sample_weight contains NaN"),
    (np.zeros(9), "sample_weight is zero for every sequence"),
    (np.full(9, "a"), "sample_weight must be numeric"),
])
def test_bad_sample_weight(bad, match):
    X, y, _ = regression()
    reg = RNNRegressor(n_hidden=3, max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=match):
        reg.fit(X, y, sample_weight=bad)
    reg.fit(X, y)
    with pytest.raises(ValueError, match=match):
        reg.partial_fit(X, y, sample_weight=bad)
    with pytest.raises(ValueError, match=match):
        reg.score(X, y, sample_weight=bad)
