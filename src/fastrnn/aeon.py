"""fastrnn's estimators as aeon time series classifiers and regressors.

:class:`RNNClassifier` and :class:`RNNRegressor` are aeon estimators
(``aeon.classification.BaseClassifier``, ``aeon.regression.BaseRegressor``):
they take aeon's collections (an array ``(n_cases, n_channels,
n_timepoints)``, or a list of ``(n_channels, n_timepoints_i)`` arrays of
unequal length), pass aeon's estimator checks, and work in aeon's tools
(benchmarking, pipelines). Each wraps a fastrnn estimator with
``output_steps="last"``. Needs aeon (``pip install fastrnn[aeon]``);
``import fastrnn`` does not import this module.
"""

from __future__ import annotations

try:
    from aeon.classification import BaseClassifier
    from aeon.regression import BaseRegressor
except ImportError as exc:  # pragma: no cover - tested in a separate environment
    from ._toolkits import missing_toolkit

    raise missing_toolkit("aeon") from exc

import fastrnn

from ._toolkits import PARAMS_DOC, TEST_PARAMS, RNNParams, to_sequences

__all__ = ["RNNClassifier", "RNNRegressor"]

_TAGS = {
    "capability:multivariate": True,
    "capability:unequal_length": True,
    "X_inner_type": ["numpy3D", "np-list"],
    "algorithm_type": "deeplearning",
    "python_dependencies": None,
}


class _Params(RNNParams):
    """RNNParams with the test parameters of aeon's estimator checks."""

    @classmethod
    def _get_test_params(cls, parameter_set="default"):
        """Parameters of the instances aeon's estimator checks build.

        Parameters
        ----------
        parameter_set : str, default="default"

        Returns
        -------
        dict or list of dict
        """
        if parameter_set == "results_comparison":
            return dict(TEST_PARAMS[0])
        return [dict(p) for p in TEST_PARAMS]


class RNNClassifier(_Params, BaseClassifier):
    """Vanilla (Elman) RNN time series classifier (fastrnn, as an aeon classifier).
    %(doc)s
    Examples
    --------
    >>> from aeon.datasets import load_italy_power_demand
    >>> from fastrnn.aeon import RNNClassifier
    >>> X, y = load_italy_power_demand(split="train")
    >>> clf = RNNClassifier(n_hidden=16, max_epochs=20, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    _fastrnn_class = fastrnn.RNNClassifier
    _tags = dict(_TAGS)

    def _predict_proba(self, X):
        X, lengths = to_sequences(X)
        # aeon's classes_ (the labels of y, sorted) are fastrnn's: the same columns
        return self.estimator_.predict_proba(X, lengths=lengths)


class RNNRegressor(_Params, BaseRegressor):
    """Vanilla (Elman) RNN time series regressor (fastrnn, as an aeon regressor).
    %(doc)s
    Examples
    --------
    >>> from aeon.datasets import load_covid_3month
    >>> from fastrnn.aeon import RNNRegressor
    >>> X, y = load_covid_3month(split="train")
    >>> reg = RNNRegressor(n_hidden=16, max_epochs=20, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _fastrnn_class = fastrnn.RNNRegressor
    _tags = dict(_TAGS)


for _cls in (RNNClassifier, RNNRegressor):
    _cls.__doc__ = _cls.__doc__ % {"doc": PARAMS_DOC % {"cls": _cls._fastrnn_class.__name__}}
