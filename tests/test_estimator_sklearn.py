"""The estimators inside scikit-learn's tools (skipped without scikit-learn)."""

from __future__ import annotations

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone, is_classifier, is_regressor  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402

from fastrnn import NotFittedError, RNNClassifier, RNNRegressor  # noqa: E402


def filter_task(n, T, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, T))
    y = np.zeros_like(x)
    y[:, 1:] += x[:, :-1]
    y[:, 2:] += 0.5 * x[:, :-2]
    return x[:, :, None], y[:, :, None]


def first_symbol_task(n, T, seed):
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 3, size=n)
    X = np.zeros((n, T, 4))
    X[np.arange(n), 0, c] = 1.0
    X[:, :, 3] = rng.normal(0, 1, size=(n, T))
    return X, np.array(["red", "green", "blue"])[c]


def test_tags():
    assert is_regressor(RNNRegressor())
    assert not is_classifier(RNNRegressor())
    assert is_classifier(RNNClassifier())
    tags = RNNRegressor().__sklearn_tags__()
    assert tags.input_tags.three_d_array and not tags.input_tags.two_d_array
    assert tags.target_tags.required


def test_clone():
    X, y = filter_task(40, 8, 0)
    est = RNNRegressor(n_hidden=5, learning_rate=0.02, bptt_steps=3,
                       random_state=np.random.default_rng(1), max_epochs=2)
    est.fit(X, y)
    fresh = clone(est)
    assert type(fresh) is RNNRegressor
    for key, value in est.get_params().items():
        if key != "random_state":
            assert fresh.get_params()[key] == value
    assert isinstance(fresh.random_state, np.random.Generator)
    assert not hasattr(fresh, "W_hh_")
    with pytest.raises(NotFittedError):
        fresh.predict(X)
    check_is_fitted(est)
    with pytest.raises(sklearn.exceptions.NotFittedError):
        check_is_fitted(fresh)
    # an int random_state: the clone refits to the same weights
    a = RNNRegressor(n_hidden=5, max_epochs=2, random_state=3).fit(X, y)
    b = clone(a).fit(X, y)
    np.testing.assert_array_equal(a.W_hh_, b.W_hh_)


def test_grid_search_over_n_hidden_and_learning_rate():
    X, y = filter_task(120, 10, 1)
    grid = GridSearchCV(
        RNNRegressor(max_epochs=8, random_state=0),
        {"n_hidden": [2, 12], "learning_rate": [1e-4, 0.02]},
        cv=KFold(3, shuffle=True, random_state=0),
    )
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    assert grid.best_params_ == {"n_hidden": 12, "learning_rate": 0.02}
    assert grid.best_estimator_.n_hidden == 12
    assert grid.best_estimator_.W_hh_.shape == (12, 12)
    Xt, yt = filter_task(60, 10, 2)
    assert grid.score(Xt, yt) > 0.8
    assert grid.predict(Xt).shape == yt.shape


def test_cross_val_score_classifier():
    X, y = first_symbol_task(240, 12, 3)
    clf = RNNClassifier(n_hidden=12, output_steps="last", learning_rate=0.02,
                        max_epochs=12, random_state=0)
    scores = cross_val_score(clf, X, y, cv=3)  # stratified folds: a classifier
    assert scores.shape == (3,)
    assert scores.min() > 0.8  # chance is 1/3


def test_cross_val_score_regressor_with_lengths_routed_as_fit_params():
    X, y = filter_task(90, 10, 4)
    lengths = np.random.default_rng(0).integers(5, 11, size=90)
    reg = RNNRegressor(n_hidden=8, learning_rate=0.02, max_epochs=10, random_state=0)
    scores = cross_val_score(reg, X, y, cv=3, params={"lengths": lengths})
    assert np.isfinite(scores).all() and scores.min() > 0.5


def _scale(X):
    return X * 0.5


def test_pipeline_last_step():
    X, y = filter_task(150, 10, 5)
    pipe = Pipeline([
        ("scale", FunctionTransformer(_scale)),
        ("rnn", RNNRegressor(n_hidden=12, learning_rate=0.02, max_epochs=12, random_state=0)),
    ])
    pipe.fit(X, 0.5 * y)
    Xt, yt = filter_task(50, 10, 6)
    assert pipe.score(Xt, 0.5 * yt) > 0.8
    np.testing.assert_array_equal(pipe.predict(Xt), pipe[-1].predict(_scale(Xt)))
    # fit parameters reach the last step, and so do set_params and clone
    lengths = np.full(150, 10)
    lengths[:10] = 4
    pipe.set_params(rnn__max_epochs=2).fit(X, y, rnn__lengths=lengths)
    assert pipe[-1].n_iter_ == 2
    assert clone(pipe)[-1].get_params()["max_epochs"] == 2
    grid = GridSearchCV(pipe, {"rnn__n_hidden": [3, 6]}, cv=2).fit(X, y)
    assert grid.best_estimator_[-1].n_hidden in (3, 6)
