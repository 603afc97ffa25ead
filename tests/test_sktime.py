"""fastrnn.sktime: sktime's estimator checks, and the adapters' input conversion.

Skipped when sktime is not installed (it has its own CI environment: .ci/run).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sktime")

import pandas as pd  # noqa: E402  (sktime needs it)

from sktime.datasets import load_basic_motions, load_italy_power_demand  # noqa: E402
from sktime.utils.estimator_checks import check_estimator  # noqa: E402

import fastrnn  # noqa: E402
from fastrnn.sktime import RNNClassifier, RNNRegressor  # noqa: E402

# sktime's checks that fastrnn's estimators are expected to fail, by check
# name, with the reason. None at present: all checks pass.
EXPECTED_FAILURES: dict[str, str] = {}

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


@pytest.mark.parametrize("cls", [RNNClassifier, RNNRegressor])
def test_sktime_check_estimator(cls):
    results = check_estimator(cls, raise_exceptions=False)
    assert len(results) > 100  # the whole suite ran (every check, both parameter sets)
    failed = {name: str(result)[:300] for name, result in results.items()
              if result != "PASSED" and name.split("[")[0] not in EXPECTED_FAILURES}
    assert not failed


def _multiindex(series):
    """A pd-multiindex panel of (n_timepoints_i, n_channels) arrays."""
    frames = [pd.DataFrame(s, columns=[f"c{j}" for j in range(s.shape[1])])
              .assign(instance=i, time=range(len(s))) for i, s in enumerate(series)]
    return pd.concat(frames).set_index(["instance", "time"])


def test_unequal_length_series_are_padded_and_given_their_lengths():
    rng = np.random.default_rng(0)
    series = [rng.normal(size=(int(rng.integers(5, 11)), 2)) for _ in range(12)]
    X = _multiindex(series)
    y = np.array([s[-1, 0] for s in series])
    reg = RNNRegressor(n_hidden=8, max_epochs=5, random_state=0).fit(X, y)
    lengths = np.array([len(s) for s in series])
    padded = np.zeros((len(series), lengths.max(), 2))
    for i, s in enumerate(series):
        padded[i, : len(s)] = s
    ref = fastrnn.RNNRegressor(n_hidden=8, max_epochs=5, random_state=0,
                               output_steps="last").fit(padded, y, lengths=lengths)
    np.testing.assert_array_equal(reg.predict(X), ref.predict(padded, lengths=lengths))


def test_multivariate_numpy3d_and_predict_proba():
    X, y = load_basic_motions(split="train", return_type="numpy3D")  # (40, 6, 100)
    clf = RNNClassifier(n_hidden=8, max_epochs=3, random_state=0).fit(X, y)
    ref = fastrnn.RNNClassifier(n_hidden=8, max_epochs=3, random_state=0,
                                output_steps="last").fit(X.transpose(0, 2, 1), y)
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, 4)
    np.testing.assert_array_equal(proba, ref.predict_proba(X[:5].transpose(0, 2, 1)))
    np.testing.assert_array_equal(clf.classes_, ref.classes_)


def test_italy_power_demand_held_out_accuracy():
    X, y = load_italy_power_demand(split="train", return_type="numpy3D")
    Xt, yt = load_italy_power_demand(split="test", return_type="numpy3D")
    clf = RNNClassifier(random_state=0).fit(X, y)
    assert np.mean(clf.predict(Xt) == yt) >= 0.9


def test_docstring_examples_run():
    import doctest

    import fastrnn.sktime as module

    result = doctest.testmod(module, verbose=False)
    assert result.attempted >= 6 and result.failed == 0
