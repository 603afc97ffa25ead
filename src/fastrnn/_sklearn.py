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
import inspect
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


def module_getattr(module):
    """A module's ``__getattr__`` that gives the classes of EXCEPTIONS on first
    use, so that importing the module does not import scikit-learn."""
    def __getattr__(name):
        if name in EXCEPTIONS:
            return exception_class(name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    return __getattr__


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


def _request_setter(method):
    """``set_{method}_request``: keyword-only arguments, one per metadata of
    ROUTED[method], each UNCHANGED by default (scikit-learn reads the
    signature)."""
    names = ROUTED[method]

    def setter(self, **requests):
        unknown = sorted(set(requests) - set(names))
        if unknown:
            raise TypeError(f"set_{method}_request() got unexpected keyword arguments "
                            f"{unknown}; it takes {list(names)}")
        return self._set_request(method, {n: requests.get(n, UNCHANGED) for n in names})

    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=UNCHANGED)
               for n in names]
    setter.__signature__ = inspect.Signature(params)
    setter.__name__ = setter.__qualname__ = f"set_{method}_request"
    setter.__doc__ = _REQUEST_DOC.format(method=method, params=", ".join(names))
    return setter


for _method in RoutingMixin._routed_methods:
    setattr(RoutingMixin, f"set_{_method}_request", _request_setter(_method))


class ClassifierRoutingMixin(RoutingMixin):
    """RoutingMixin with the classifier's predict_proba and predict_log_proba."""

    _routed_methods = RoutingMixin._routed_methods + ("predict_proba", "predict_log_proba")
    set_predict_proba_request = _request_setter("predict_proba")
    set_predict_log_proba_request = _request_setter("predict_log_proba")
