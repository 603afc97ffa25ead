"""What the estimators take from scikit-learn when it is installed.

scikit-learn is optional, and importing it takes several times as long as
importing fastrnn, so nothing here imports it before it is needed:

* :func:`exception_class` builds fastrnn's ``NotFittedError``,
  ``ConvergenceWarning`` and ``DataConversionWarning`` on first use (a
  module-level ``__getattr__`` in :mod:`fastrnn` and :mod:`fastrnn.estimator`
  hands them out): subclasses of scikit-learn's classes of the same names
  when it can be imported, else of ``ValueError``/``AttributeError`` and
  ``UserWarning``. Each is built once per process, so ``except
  fastrnn.NotFittedError`` and ``except sklearn.exceptions.NotFittedError``
  both catch what fastrnn raises, and pickles of them load.
* :class:`RoutingMixin` is scikit-learn's metadata-routing protocol
  (``set_fit_request`` and friends, ``get_metadata_routing``) for estimators
  that do not derive from ``sklearn.base.BaseEstimator``: the requests are
  kept in scikit-learn's own ``MetadataRequest`` (which ``clone`` copies),
  built only when scikit-learn asks for it or when routing is enabled.

Internal interface of :mod:`fastrnn.estimator`, :mod:`fastrnn._base`,
:mod:`fastrnn._data` and :mod:`fastrnn._training`: the names without a
leading underscore.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings

__all__ = ["EXCEPTIONS", "exception_class", "warn", "routing_enabled", "ROUTED", "UNCHANGED",
           "RoutingMixin", "ClassifierRoutingMixin"]

#: the classes :func:`exception_class` builds, and their documentation
EXCEPTIONS = {
    "NotFittedError": (
        "The estimator is used before ``fit``.\n\n"
        "A subclass of ``sklearn.exceptions.NotFittedError`` when scikit-learn is\n"
        "installed; it is a ``ValueError`` and an ``AttributeError`` either way."),
    "ConvergenceWarning": (
        "``fit`` stopped at ``max_epochs`` before the ``tol`` rule said it converged.\n\n"
        "A subclass of ``sklearn.exceptions.ConvergenceWarning`` when scikit-learn\n"
        "is installed (so scikit-learn's filters for it apply), else of UserWarning."),
    "DataConversionWarning": (
        "A classifier's column-vector y was raveled.\n\n"
        "A subclass of ``sklearn.exceptions.DataConversionWarning`` when\n"
        "scikit-learn is installed, else of UserWarning."),
}


@functools.cache
def _classes():
    try:
        from sklearn import exceptions as sk
    except ImportError:
        bases = {"NotFittedError": (ValueError, AttributeError),
                 "ConvergenceWarning": (UserWarning,),
                 "DataConversionWarning": (UserWarning,)}
    else:
        bases = {name: (getattr(sk, name),) for name in EXCEPTIONS}
    classes = {}
    for name, doc in EXCEPTIONS.items():
        cls = type(name, bases[name], {"__doc__": doc, "__module__": "fastrnn"})
        cls.__qualname__ = name
        classes[name] = cls
    return classes


def exception_class(name):
    """fastrnn's exception or warning class ``name`` (a key of EXCEPTIONS)."""
    return _classes()[name]


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(name, message):
    """Warn with fastrnn's warning class ``name``, attributed to the first
    caller outside fastrnn (the user's line that called fit)."""
    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(exception_class(name)(message), stacklevel=level)


def routing_enabled():
    """Whether scikit-learn's metadata routing is on (it cannot be without
    scikit-learn imported, so this imports nothing)."""
    sk = sys.modules.get("sklearn")
    if sk is None or not hasattr(sk, "get_config"):
        return False
    return bool(sk.get_config().get("enable_metadata_routing", False))


# --------------------------------------------------------------------------
# Metadata routing
# --------------------------------------------------------------------------

#: scikit-learn's UNCHANGED marker (the same string): leave a request as it is
UNCHANGED = "$UNCHANGED$"

_FIT = ("lengths", "initial_state", "initial_state_mask", "target_mask", "sample_weight")
_PREDICT = ("lengths", "initial_state", "initial_state_mask")
#: the metadata each method can be routed, by method
ROUTED = {"fit": _FIT, "partial_fit": _FIT, "score": _FIT, "predict": _PREDICT,
          "predict_proba": _PREDICT, "predict_log_proba": _PREDICT}

_REQUEST_DOC = """Request metadata for ``{method}`` under scikit-learn's metadata routing.

        Only with routing enabled (``sklearn.set_config(enable_metadata_routing=True)``);
        a meta-estimator (``GridSearchCV``, ``cross_validate``, ``Pipeline``)
        then passes each metadata it is given to ``{method}`` only if it is
        requested here. Each argument is True (pass it), False (do not),
        None (an error if it is given: the default), a string (pass the
        metadata of that name as this argument), or left unchanged.

        Parameters
        ----------
        {params} : bool, None, str or UNCHANGED, optional

        Returns
        -------
        self
        """


class RoutingMixin:
    """scikit-learn's metadata-routing protocol (see the module docstring).

    A class's ``_routed_methods`` names the methods of :data:`ROUTED` it has."""

    _routed_methods = ("fit", "partial_fit", "score", "predict")

    def _set_request(self, method, requests):
        if not routing_enabled():
            raise RuntimeError(
                f"set_{method}_request is only available when scikit-learn's metadata "
                "routing is enabled: sklearn.set_config(enable_metadata_routing=True)")
        req = self._get_metadata_request()
        for name, alias in requests.items():
            if not (isinstance(alias, str) and alias == UNCHANGED):
                getattr(req, method).add_request(param=name, alias=alias)
        self._metadata_request = req
        return self

    def set_fit_request(self, *, lengths=UNCHANGED, initial_state=UNCHANGED,
                        initial_state_mask=UNCHANGED, target_mask=UNCHANGED,
                        sample_weight=UNCHANGED):
        return self._set_request("fit", dict(
            lengths=lengths, initial_state=initial_state,
            initial_state_mask=initial_state_mask, target_mask=target_mask,
            sample_weight=sample_weight))

    def set_partial_fit_request(self, *, lengths=UNCHANGED, initial_state=UNCHANGED,
                                initial_state_mask=UNCHANGED, target_mask=UNCHANGED,
                                sample_weight=UNCHANGED):
        return self._set_request("partial_fit", dict(
            lengths=lengths, initial_state=initial_state,
            initial_state_mask=initial_state_mask, target_mask=target_mask,
            sample_weight=sample_weight))

    def set_score_request(self, *, lengths=UNCHANGED, initial_state=UNCHANGED,
                          initial_state_mask=UNCHANGED, target_mask=UNCHANGED,
                          sample_weight=UNCHANGED):
        return self._set_request("score", dict(
            lengths=lengths, initial_state=initial_state,
            initial_state_mask=initial_state_mask, target_mask=target_mask,
            sample_weight=sample_weight))

    def set_predict_request(self, *, lengths=UNCHANGED, initial_state=UNCHANGED,
                            initial_state_mask=UNCHANGED):
        return self._set_request("predict", dict(
            lengths=lengths, initial_state=initial_state,
            initial_state_mask=initial_state_mask))

    def _get_metadata_request(self):
        """A copy of this estimator's requests: scikit-learn's MetadataRequest."""
        from sklearn.utils.metadata_routing import MetadataRequest, get_routing_for_object

        if hasattr(self, "_metadata_request"):
            return get_routing_for_object(self._metadata_request)
        req = MetadataRequest(owner=self)
        for method in self._routed_methods:
            for name in ROUTED[method]:
                getattr(req, method).add_request(param=name, alias=None)
        return req

    def get_metadata_routing(self):
        """The metadata this estimator's methods request (scikit-learn's protocol).

        Returns
        -------
        sklearn.utils.metadata_routing.MetadataRequest
        """
        return self._get_metadata_request()


for _method in ("fit", "partial_fit", "score", "predict"):
    getattr(RoutingMixin, f"set_{_method}_request").__doc__ = _REQUEST_DOC.format(
        method=_method, params=", ".join(ROUTED[_method]))


def set_predict_proba_request(self, *, lengths=UNCHANGED, initial_state=UNCHANGED,
                              initial_state_mask=UNCHANGED):
    return self._set_request("predict_proba", dict(
        lengths=lengths, initial_state=initial_state, initial_state_mask=initial_state_mask))


def set_predict_log_proba_request(self, *, lengths=UNCHANGED, initial_state=UNCHANGED,
                                  initial_state_mask=UNCHANGED):
    return self._set_request("predict_log_proba", dict(
        lengths=lengths, initial_state=initial_state, initial_state_mask=initial_state_mask))


for _f, _method in ((set_predict_proba_request, "predict_proba"),
                    (set_predict_log_proba_request, "predict_log_proba")):
    _f.__doc__ = _REQUEST_DOC.format(method=_method, params=", ".join(ROUTED[_method]))


class ClassifierRoutingMixin(RoutingMixin):
    """RoutingMixin with the classifier's predict_proba and predict_log_proba."""

    _routed_methods = RoutingMixin._routed_methods + ("predict_proba", "predict_log_proba")
    set_predict_proba_request = set_predict_proba_request
    set_predict_log_proba_request = set_predict_log_proba_request
