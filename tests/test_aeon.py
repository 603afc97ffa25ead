"""fastrnn.aeon: aeon's estimator checks, and the adapters' input conversion.

Skipped when aeon is not installed (it has its own CI environment: .ci/run).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("aeon")

from aeon.datasets import load_basic_motions, load_covid_3month, load_italy_power_demand  # noqa: E402
from aeon.testing.estimator_checking import parametrize_with_checks  # noqa: E402

import fastrnn  # noqa: E402
from fastrnn.aeon import RNNClassifier, RNNRegressor  # noqa: E402

# aeon's checks that fastrnn's estimators are expected to fail, by check name
# (pytest.mark.xfail with the reason). None at present: all checks pass.
EXPECTED_FAILURES: dict[str, str] = {}

pytestmark = [
    # aeon and its dependencies warn about their own deprecations; fastrnn's
    # estimators warn ConvergenceWarning in the checks' two-epoch fits
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


def _name(check):
    func = getattr(check, "func", check)
    return func.__name__


@parametrize_with_checks([RNNClassifier, RNNRegressor])
def test_aeon_check(check):
    reason = EXPECTED_FAILURES.get(_name(check))
    if reason is not None:
        pytest.xfail(reason)
    check()


def _unequal(rng, n=12, channels=2):
    return [rng.normal(size=(channels, int(rng.integers(5, 11)))) for _ in range(n)]


def test_unequal_length_series_are_padded_and_given_their_lengths():
    rng = np.random.default_rng(0)
    X = _unequal(rng)
    y = np.array([s[0, -1] > 0 for s in X]).astype(int).astype(str)
    clf = RNNClassifier(n_hidden=8, max_epochs=5, random_state=0).fit(X, y)
    lengths = np.array([s.shape[1] for s in X])
    padded = np.zeros((len(X), lengths.max(), 2))
    for i, s in enumerate(X):
        padded[i, : s.shape[1]] = s.T
    ref = fastrnn.RNNClassifier(n_hidden=8, max_epochs=5, random_state=0,
                                output_steps="last").fit(padded, y, lengths=lengths)
    np.testing.assert_array_equal(clf.predict_proba(X),
                                  ref.predict_proba(padded, lengths=lengths))
    assert clf.get_tag("capability:unequal_length")


def test_multivariate_series_are_steps_of_channels():
    X, y = load_basic_motions(split="train")  # (40, 6, 100)
    reg_y = X[:, 2, -1]
    reg = RNNRegressor(n_hidden=8, max_epochs=3, random_state=0).fit(X, reg_y)
    ref = fastrnn.RNNRegressor(n_hidden=8, max_epochs=3, random_state=0,
                               output_steps="last").fit(X.transpose(0, 2, 1), reg_y)
    np.testing.assert_array_equal(reg.predict(X), ref.predict(X.transpose(0, 2, 1)))
    assert reg.estimator_.n_features_in_ == 6


def test_predict_proba_has_a_column_per_class_in_classes_order():
    X, y = load_basic_motions(split="train")
    clf = RNNClassifier(n_hidden=8, max_epochs=3, random_state=0).fit(X, y)
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert list(clf.classes_) == list(clf.estimator_.classes_)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X[:5]))


def test_italy_power_demand_held_out_accuracy():
    # shipped inside aeon: no download
    X, y = load_italy_power_demand(split="train")
    Xt, yt = load_italy_power_demand(split="test")
    clf = RNNClassifier(random_state=0).fit(X, y)
    assert clf.score(Xt, yt) >= 0.9


def test_covid_3month_regressor_beats_the_training_mean():
    X, y = load_covid_3month(split="train")
    Xt, yt = load_covid_3month(split="test")
    mean_rmse = np.sqrt(np.mean((yt - y.mean()) ** 2))
    for seed in (0, 1):
        reg = RNNRegressor(random_state=seed).fit(X, y)
        assert np.sqrt(np.mean((reg.predict(Xt) - yt) ** 2)) < mean_rmse


def test_docstring_examples_run():
    import doctest

    import fastrnn.aeon as module

    result = doctest.testmod(module, verbose=False)
    assert result.attempted >= 6 and result.failed == 0
