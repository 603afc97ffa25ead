"""fastrnn's estimators as sktime time series classifiers and regressors.

:class:`RNNClassifier` and :class:`RNNRegressor` are sktime estimators
(``sktime.classification.base.BaseClassifier``,
``sktime.regression.base.BaseRegressor``): they take any of sktime's panel
formats (``numpy3D`` arrays ``(n_instances, n_channels, n_timepoints)``,
``pd-multiindex`` frames, lists of data frames, unequal lengths included),
pass sktime's estimator checks and work in its tools (pipelines, tuning,
benchmarking). Each wraps a fastrnn estimator with ``output_steps="last"``.
Needs sktime (``pip install fastrnn[sktime]``); ``import fastrnn`` does not
import this module.
"""

from __future__ import annotations

try:
    from sktime.classification.base import BaseClassifier
    from sktime.regression.base import BaseRegressor
except ImportError as exc:  # pragma: no cover - tested in a separate environment
    from ._toolkits import missing_toolkit

    raise missing_toolkit("sktime") from exc

import fastrnn

from ._toolkits import PARAMS_DOC, TEST_PARAMS, RNNParams, to_sequences

__all__ = ["RNNClassifier", "RNNRegressor"]

_TAGS = {
    "authors": "fastrnn developers",
    "maintainers": "fastrnn developers",
    # numpy3D as it comes; any other panel (unequal lengths too) as a list of
    # (n_timepoints_i, n_channels) data frames
    "X_inner_mtype": ["df-list", "numpy3D"],
    "y_inner_mtype": "numpy1D",
    "capability:multivariate": True,
    "capability:unequal_length": True,
    "capability:missing_values": False,
    "capability:random_state": True,
    "property:randomness": "derandomized",
}


class _Params(RNNParams):
    """RNNParams with the test parameters of sktime's estimator checks."""

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Parameters of the instances sktime's estimator checks build.

        Parameters
        ----------
        parameter_set : str, default="default"

        Returns
        -------
        list of dict
        """
        return [dict(p) for p in TEST_PARAMS]


class RNNClassifier(_Params, BaseClassifier):
    """Vanilla (Elman) RNN time series classifier (fastrnn, as an sktime classifier).
    %(doc)s
    Examples
    --------
    >>> from sktime.datasets import load_unit_test
    >>> from fastrnn.sktime import RNNClassifier
    >>> X, y = load_unit_test(split="train", return_X_y=True)
    >>> clf = RNNClassifier(n_hidden=16, max_epochs=20, random_state=0).fit(X, y)
    >>> clf.predict_proba(X.iloc[:3]).shape
    (3, 2)
    """

    _fastrnn_class = fastrnn.RNNClassifier
    _tags = dict(_TAGS, **{"capability:predict_proba": True})

    def _predict_proba(self, X):
        # sktime's classes_ (the labels of y, sorted) are fastrnn's: the same columns
        X, lengths = to_sequences(X)
        return self.estimator_.predict_proba(X, lengths=lengths)


class RNNRegressor(_Params, BaseRegressor):
    """Vanilla (Elman) RNN time series regressor (fastrnn, as an sktime regressor).
    %(doc)s
    Examples
    --------
    >>> from sktime.datasets import load_unit_test
    >>> from fastrnn.sktime import RNNRegressor
    >>> X, _ = load_unit_test(split="train", return_X_y=True)
    >>> y = X.iloc[:, 0].apply(lambda s: s.iloc[-1]).to_numpy()  # each series' last value
    >>> reg = RNNRegressor(n_hidden=16, max_epochs=20, random_state=0).fit(X, y)
    >>> reg.predict(X.iloc[:3]).shape
    (3,)
    """

    _fastrnn_class = fastrnn.RNNRegressor
    _tags = dict(_TAGS)


for _cls in (RNNClassifier, RNNRegressor):
    _cls.__doc__ = _cls.__doc__ % {"doc": PARAMS_DOC % {"cls": _cls._fastrnn_class.__name__}}
