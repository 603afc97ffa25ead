"""scikit-learn's own estimator checks (skipped without scikit-learn).

The estimators take 3-D X (n_sequences, n_steps, n_features) and say so in
their tags, so scikit-learn runs almost none of its checks on them as they
are (they are run too, below). Most of its checks feed 2-D tabular X
(n_samples, n_features); to run those, the test-only adapters
``RNNRegressor2D`` and ``RNNClassifier2D`` read such an X as n sequences of
one step, ``X[:, None, :]``, and pass everything else to the estimator
unchanged (1-D or sparse X, y, None, the keyword arguments). They check
nothing themselves: every error the checks look for comes from the
estimator. ``output_steps="last"`` makes y one target per sequence, as the
checks' y is.

``EXPECTED_FAILED`` lists the only checks that fail, each with the reason:
what 3-D sequence input makes impossible, nothing else.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import SkipTestWarning  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastrnn import RNNClassifier, RNNRegressor  # noqa: E402


def one_step_sequences(X):
    """2-D X (n, d) as n sequences of one step (n, 1, d); anything else as it is."""
    if X is None or type(X).__module__.startswith("scipy.sparse"):
        return X
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError):
        return X
    return arr[:, None, :] if arr.ndim == 2 else X


class _OneStep:
    """Reads 2-D X as sequences of one step in every method that takes X."""

    def fit(self, X, y, *, sample_weight=None, **kwargs):
        return super().fit(one_step_sequences(X), y, sample_weight=sample_weight, **kwargs)

    def partial_fit(self, X, y, *args, sample_weight=None, **kwargs):
        return super().partial_fit(one_step_sequences(X), y, *args,
                                   sample_weight=sample_weight, **kwargs)

    def predict(self, X, **kwargs):
        return super().predict(one_step_sequences(X), **kwargs)

    def score(self, X, y, *, sample_weight=None, **kwargs):
        return super().score(one_step_sequences(X), y, sample_weight=sample_weight, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.three_d_array = False
        return tags


class RNNRegressor2D(_OneStep, RNNRegressor):
    """RNNRegressor on 2-D X read as sequences of one step (tests only)."""


class RNNClassifier2D(_OneStep, RNNClassifier):
    """RNNClassifier on 2-D X read as sequences of one step (tests only)."""

    def predict_proba(self, X, **kwargs):
        return super().predict_proba(one_step_sequences(X), **kwargs)

    def predict_log_proba(self, X, **kwargs):
        return super().predict_log_proba(one_step_sequences(X), **kwargs)


# float64: check_sample_weight_equivalence_on_dense_data compares a weighted
# fit with one on repeated rows to rtol 1e-7; the two sum the same terms in a
# different order, which float32 rounding shows.
_SETTINGS = dict(n_hidden=16, output_steps="last", learning_rate=0.01, max_epochs=60,
                 dtype="float64", random_state=0)

_ZERO_FEATURES = (
    "X with zero features per step is valid sequence input (the initial state is "
    "then the only input: initial_state or learn_initial_state), so fit does not "
    "refuse it")

#: The checks that fail, and why; everything else passes.
EXPECTED_FAILED = {
    "RNNRegressor2D": {"check_estimators_empty_data_messages": _ZERO_FEATURES},
    "RNNClassifier2D": {"check_estimators_empty_data_messages": _ZERO_FEATURES},
}

# (and a stacked bidirectional network, whose n_hidden is a tuple)
_STACKED = dict(_SETTINGS, n_hidden=(8, 6), bidirectional=True)

ESTIMATORS = [RNNRegressor2D(**_SETTINGS), RNNClassifier2D(**_SETTINGS),
              RNNRegressor2D(**_STACKED), RNNClassifier2D(**_STACKED),
              RNNRegressor(n_hidden=8, max_epochs=5, random_state=0),
              RNNClassifier(n_hidden=8, max_epochs=5, random_state=0)]


def _expected_failed(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


# scikit-learn warns that the estimators do not derive from its BaseEstimator
# (they follow its protocol instead: see the README, "scikit-learn"), and that
# it runs only its API checks on 3-D input.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Estimator .* does not inherit from `sklearn.base")
    warnings.filterwarnings("ignore", category=SkipTestWarning)
    _checks = parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed)


@_checks
def test_sklearn_check(estimator, check):
    check(estimator)
