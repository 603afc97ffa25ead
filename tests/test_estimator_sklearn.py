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


# ------------------------------------------------------- scikit-learn's classes

def test_exceptions_and_warnings_are_scikit_learns():
    import fastrnn
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning

    assert issubclass(fastrnn.NotFittedError, sklearn.exceptions.NotFittedError)
    assert issubclass(fastrnn.NotFittedError, ValueError)
    assert issubclass(fastrnn.ConvergenceWarning, ConvergenceWarning)
    assert issubclass(fastrnn.DataConversionWarning, DataConversionWarning)
    X, y = filter_task(10, 4, 0)
    with pytest.raises(sklearn.exceptions.NotFittedError, match="not fitted yet"):
        RNNRegressor().predict(X)
    with pytest.warns(ConvergenceWarning, match="max_epochs=2 reached"):
        RNNRegressor(n_hidden=3, max_epochs=2).fit(X, y)


def test_classifier_refuses_continuous_labels():
    X, _ = filter_task(30, 4, 0)
    y = np.linspace(0, 1, 30)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        RNNClassifier(output_steps="last", max_epochs=1).fit(X, y)
    # floats with integral values are labels
    clf = RNNClassifier(output_steps="last", max_epochs=1).fit(X, (y > 0.5).astype(float))
    assert clf.classes_.tolist() == [0.0, 1.0]


def test_classifier_ravels_a_column_vector_y():
    from sklearn.exceptions import DataConversionWarning

    X, labels = first_symbol_task(30, 4, 0)
    kw = dict(n_hidden=4, output_steps="last", max_epochs=2, random_state=0)
    with pytest.warns(DataConversionWarning, match="A column-vector y was passed"):
        a = RNNClassifier(**kw).fit(X, labels[:, None])
    b = RNNClassifier(**kw).fit(X, labels)
    np.testing.assert_array_equal(a.W_hh_, b.W_hh_)
    with pytest.warns(DataConversionWarning, match="a 2d array was expected"):
        RNNClassifier(**dict(kw, output_steps="all")).fit(
            X, np.repeat(labels[:, None, None], 4, axis=1))


# ------------------------------------------------------------ metadata routing

@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def test_grid_search_routes_lengths_with_routing_enabled(routing):
    X, y = filter_task(90, 10, 4)
    L = np.random.default_rng(0).integers(5, 11, size=90)
    est = RNNRegressor(n_hidden=8, learning_rate=0.02, max_epochs=6, random_state=0)
    with pytest.raises(sklearn.exceptions.UnsetMetadataPassedError, match="lengths"):
        GridSearchCV(est, {"n_hidden": [4, 8]}, cv=3).fit(X, y, lengths=L)
    est.set_fit_request(lengths=True).set_score_request(lengths=True)
    grid = GridSearchCV(est, {"n_hidden": [4, 8]}, cv=KFold(3)).fit(X, y, lengths=L)
    # the folds' fits and scores got their own rows of L
    for i, (train, test) in enumerate(KFold(3).split(X)):
        fold = clone(est).set_params(**grid.best_params_).fit(X[train], y[train],
                                                              lengths=L[train])
        assert grid.cv_results_[f"split{i}_test_score"][grid.best_index_] == fold.score(
            X[test], y[test], lengths=L[test])
    assert grid.best_estimator_.get_metadata_routing().fit.requests["lengths"] is True


def test_cross_validate_routes_sample_weight_and_lengths(routing):
    from sklearn.model_selection import cross_validate

    X, y = filter_task(60, 8, 5)
    L = np.random.default_rng(1).integers(4, 9, size=60)
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=60)
    est = RNNRegressor(n_hidden=6, max_epochs=4, random_state=0)
    est.set_fit_request(lengths=True, sample_weight=True)
    est.set_score_request(lengths=True, sample_weight=True)
    res = cross_validate(est, X, y, cv=KFold(2), params={"lengths": L, "sample_weight": w})
    train, test = next(iter(KFold(2).split(X)))
    fold = clone(est).fit(X[train], y[train], lengths=L[train], sample_weight=w[train])
    assert res["test_score"][0] == fold.score(X[test], y[test], lengths=L[test],
                                              sample_weight=w[test])


def test_pipeline_routes_to_the_classifier(routing):
    X, labels = first_symbol_task(60, 6, 6)
    L = np.full(60, 6)
    L[:20] = 3
    clf = RNNClassifier(n_hidden=6, output_steps="last", max_epochs=3, random_state=0)
    clf.set_fit_request(lengths=True).set_predict_proba_request(lengths=True)
    clf.set_predict_log_proba_request(lengths=True).set_predict_request(lengths="L")
    pipe = Pipeline([("scale", FunctionTransformer(_scale)), ("rnn", clf)])
    pipe.fit(X, labels, lengths=L)
    direct = clone(clf).fit(_scale(X), labels, lengths=L)
    np.testing.assert_array_equal(pipe.predict_proba(X, lengths=L),
                                  direct.predict_proba(_scale(X), lengths=L))
    np.testing.assert_array_equal(pipe.predict_log_proba(X, lengths=L),
                                  direct.predict_log_proba(_scale(X), lengths=L))
    np.testing.assert_array_equal(pipe.predict(X, L=L), direct.predict(_scale(X), lengths=L))


def test_requests_survive_clone_and_need_routing():
    est = RNNRegressor()
    with pytest.raises(RuntimeError, match="enable_metadata_routing=True"):
        est.set_fit_request(lengths=True)
    with sklearn.config_context(enable_metadata_routing=True):
        est.set_fit_request(lengths=True, initial_state=False, target_mask="mask")
        with pytest.raises(TypeError, match="unexpected keyword"):
            est.set_predict_request(target_mask=True)
        copy = clone(est)
        req = copy.get_metadata_routing()
        assert req.fit.requests["lengths"] is True
        assert req.fit.requests["initial_state"] is False
        assert req.fit.requests["target_mask"] == "mask"
        assert req.score.requests["sample_weight"] is None
        est.set_partial_fit_request(sample_weight=True)
        assert est.get_metadata_routing().partial_fit.requests["sample_weight"] is True
        assert est.get_metadata_routing().fit.requests["lengths"] is True  # kept
        assert not hasattr(RNNRegressor(), "set_predict_proba_request")


@pytest.mark.parametrize("cls", [RNNRegressor, RNNClassifier])
def test_request_setters_have_the_routed_metadata_as_their_signature(cls):
    # scikit-learn reads each setter's signature to know what it may route
    import inspect

    from fastrnn._sklearn import ROUTED, UNCHANGED

    for method in cls._routed_methods:
        setter = getattr(cls, f"set_{method}_request")
        params = list(inspect.signature(setter).parameters.values())[1:]
        assert [p.name for p in params] == list(ROUTED[method])
        assert all(p.kind is p.KEYWORD_ONLY and p.default == UNCHANGED for p in params)
        assert setter.__name__ == f"set_{method}_request"
        assert f"``{method}``" in setter.__doc__
