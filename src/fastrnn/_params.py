"""The estimators' hyperparameters: a declarative table and the one loop that checks it.

:data:`PARAMETERS` maps each hyperparameter to the values it accepts (in the
spirit of scikit-learn's ``_parameter_constraints``); :func:`check_params`
checks an estimator's hyperparameters against it, in the table's order, and
returns the frozen :class:`Config` of one fit. A single value (``predict``'s
``output_steps``, a method's ``n_threads``) is checked by
:func:`check_param` against the same entry, so no rule is written twice.
:class:`ParamsMixin` is the scikit-learn protocol (``get_params``,
``set_params``, ``repr``, tags).

Internal interface of :mod:`fastrnn.estimator`, :mod:`fastrnn._data`,
:mod:`fastrnn._training` and :mod:`fastrnn._persist`: the names without a
leading underscore.
"""

from __future__ import annotations

import inspect
import math
import numbers
from dataclasses import dataclass, fields
from typing import Any, Callable, NamedTuple

import numpy as np

from ._validation import ACTIVATIONS, FLOAT_DTYPES
from .optim import OPTIMIZERS

__all__ = ["Config", "Rule", "PARAMETERS", "check_params", "check_param", "check_int",
           "param_error", "is_int", "is_real", "is_bool", "make_rng", "ParamsMixin"]


def is_int(v):
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_real(v):
    return isinstance(v, (numbers.Real, np.floating, np.integer)) and not isinstance(
        v, (bool, np.bool_)
    )


def is_bool(v):
    return isinstance(v, (bool, np.bool_))


def param_error(owner, name, expected, value):
    return ValueError(f"{owner}: {name} must be {expected}, got {value!r}")


class Rule(NamedTuple):
    """Values a hyperparameter accepts: ``accepts(value)`` says whether it is
    one, ``convert(value)`` gives what the Config holds, ``expected`` describes
    them in the error; ``message(owner, name, value)``, when set, is the whole
    error text instead."""

    expected: str
    accepts: Callable[[Any], bool]
    convert: Callable[[Any], Any] = lambda v: v
    message: Callable[[str, str, Any], str] | None = None


def integer(lo, none=False):
    """An integer >= lo (or None)."""
    return Rule(f"an integer >= {lo}",
                lambda v: (none and v is None) or (is_int(v) and v >= lo),
                lambda v: None if v is None else int(v))


def real(lo, hi=math.inf, *, lo_open=False, hi_open=True, expected, none=False):
    """A finite real number in the interval from lo to hi (or None)."""
    def accepts(v):
        if none and v is None:
            return True
        if not (is_real(v) and math.isfinite(float(v))):
            return False
        x = float(v)
        return (x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)
    return Rule(expected, accepts, lambda v: None if v is None else float(v))


def one_of(values):
    return Rule(f"one of {values}", lambda v: v in values)


BOOLEAN = Rule("True or False", is_bool, bool)


def _float_dtype(v):
    """v as float32 or float64, or None."""
    try:
        dt = np.dtype(v) if v is not None else None  # np.dtype(None) is float64
    except TypeError:
        return None
    return dt if dt is not None and any(dt == f for f in FLOAT_DTYPES) else None


def _layer_sizes(v):
    """n_hidden as a tuple of layer sizes, or None when it is not one."""
    if is_int(v):
        return (int(v),) if v >= 1 else None
    if isinstance(v, (tuple, list)) and v and all(is_int(h) and h >= 1 for h in v):
        return tuple(int(h) for h in v)
    return None


_OUTPUT_STEPS = Rule('"all", "last" or an int >= 1',
                     lambda v: v in ("all", "last") if isinstance(v, str)
                     else is_int(v) and v >= 1,
                     lambda v: v if isinstance(v, str) else int(v))

#: Every hyperparameter and the values it accepts, checked in this order (a
#: tuple of rules: each in turn). A class adds its own rules with
#: ``dict(PARAMETERS, name=...)`` (see RNNClassifier's readout).
PARAMETERS = {
    "activation": one_of(ACTIVATIONS),
    "output_steps": _OUTPUT_STEPS,
    "optimizer": one_of(tuple(OPTIMIZERS)),
    "clip_norm": real(0.0, lo_open=True, expected="None or a positive number", none=True),
    "bptt_steps": integer(1, none=True),
    "random_state": Rule("None, an int >= 0 or a numpy Generator/RandomState",
                         lambda v: v is None or (is_int(v) and v >= 0)
                         or isinstance(v, (np.random.Generator, np.random.RandomState))),
    "verbose": Rule("an integer >= 0", lambda v: (is_int(v) and v >= 0) or is_bool(v), int),
    "readout": BOOLEAN,
    "n_hidden": Rule("an integer >= 1, or a non-empty tuple of them (one per layer)",
                     lambda v: _layer_sizes(v) is not None, _layer_sizes),
    "bidirectional": BOOLEAN,
    "learn_initial_state": BOOLEAN,
    "learning_rate": real(0.0, lo_open=True, expected="a positive number"),
    "momentum": real(0.0, 1.0, expected="a number in [0, 1)"),
    "nesterov": BOOLEAN,
    "alpha": real(0.0, expected="a number >= 0"),
    "batch_size": integer(1),
    "max_epochs": integer(1),
    "early_stopping": BOOLEAN,
    "validation_fraction": real(0.0, 1.0, lo_open=True, expected="a number in (0, 1)"),
    "tol": real(0.0, expected="a number >= 0"),
    "n_iter_no_change": integer(1),
    "dtype": Rule('"float32" or "float64"', lambda v: _float_dtype(v) is not None,
                  _float_dtype),
    "n_symbols": integer(1, none=True),
    "warm_start": BOOLEAN,
    "n_threads": integer(1, none=True),
    "autoscale": BOOLEAN,
}


@dataclass(frozen=True)
class Config:
    """Validated hyperparameters of one fit (all but random_state)."""

    n_hidden: tuple  # the size of each layer (an int n_hidden is one layer)
    bidirectional: bool
    activation: str
    output_steps: object  # "all", "last" or int K
    readout: bool
    learn_initial_state: bool
    optimizer: str
    learning_rate: float
    momentum: float
    nesterov: bool
    alpha: float
    clip_norm: float | None
    batch_size: int
    max_epochs: int
    bptt_steps: int | None
    early_stopping: bool
    validation_fraction: float
    tol: float
    n_iter_no_change: int
    dtype: np.dtype
    n_symbols: int | None
    verbose: int
    warm_start: bool
    n_threads: int | None
    autoscale: bool


def check_param(owner, name, value, constraints=PARAMETERS):
    """value of hyperparameter name, checked and converted; ValueError otherwise."""
    rules = constraints[name]
    if isinstance(rules, Rule):
        rules = (rules,)
    for rule in rules:
        if not rule.accepts(value):
            if rule.message is not None:
                raise ValueError(rule.message(owner, name, value))
            raise param_error(owner, name, rule.expected, value)
        value = rule.convert(value)
    return value


def check_params(owner, params, constraints=PARAMETERS):
    """The Config of params (a dict with every name of constraints): each
    checked in the table's order; ValueError naming the first bad one."""
    checked = {name: check_param(owner, name, params[name], constraints)
               for name in constraints}
    return Config(**{f.name: checked[f.name] for f in fields(Config)})


def check_int(owner, name, v, lo):
    """An argument that must be an integer >= lo, as int."""
    return check_param(owner, name, v, {name: integer(lo)})


def make_rng(random_state):
    """A numpy Generator from None, an int, a Generator or a RandomState."""
    if random_state is None or is_int(random_state):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1, size=4))
    raise ValueError(  # pragma: no cover - checked in check_params
        f"random_state must be None, an int or a numpy Generator, got {random_state!r}"
    )


class ParamsMixin:
    """get_params/set_params/repr, compatible with ``sklearn.base.clone``.

    A class's ``_parameter_constraints`` is the table its hyperparameters are
    checked against (:meth:`_check_hyperparameters`)."""

    _estimator_type = None  # read by scikit-learn < 1.6
    _parameter_constraints = PARAMETERS

    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(
            p.name for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    @classmethod
    def _param_defaults(cls):
        return {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()}

    def _check_hyperparameters(self):
        """The Config of the current hyperparameters; ValueError naming the first bad one."""
        constraints = self._parameter_constraints
        params = {name: getattr(self, name) for name in constraints}
        return check_params(type(self).__name__, params, constraints)

    def _check_param(self, name):
        """The current value of one hyperparameter, checked and converted."""
        return check_param(type(self).__name__, name, getattr(self, name),
                           self._parameter_constraints)

    def get_params(self, deep=True):
        """Get the hyperparameters of this estimator.

        Parameters
        ----------
        deep : bool, default=True
            Ignored (there are no nested estimators); kept for scikit-learn.

        Returns
        -------
        dict
            Parameter names mapped to their values, as passed to ``__init__``.
        """
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set hyperparameters; they are validated in ``fit``.

        Returns
        -------
        self
        """
        names = self._get_param_names()
        for key, value in params.items():
            if key not in names:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {names!r}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self):
        defaults = self._param_defaults()
        parts = []
        for name in self._get_param_names():
            value = getattr(self, name)
            default = defaults.get(name, inspect.Parameter.empty)
            if value is default:
                continue
            try:
                same = type(value) is type(default) and bool(value == default)
            except (TypeError, ValueError):
                same = False
            if not same:
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __sklearn_tags__(self):
        # Only scikit-learn (>= 1.6) calls this, so it can import it.
        from sklearn.utils import (ClassifierTags, InputTags, RegressorTags, Tags,
                                   TargetTags)

        is_clf = self._estimator_type == "classifier"
        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=True, multi_output=not is_clf,
                                   single_output=True),
            input_tags=InputTags(two_d_array=False, three_d_array=True),
            classifier_tags=ClassifierTags() if is_clf else None,
            regressor_tags=None if is_clf else RegressorTags(),
        )

    def __sklearn_is_fitted__(self):
        return self._is_fitted()
