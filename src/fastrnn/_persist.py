"""Saving and loading fitted estimators (the contents of a model file).

:mod:`fastrnn.io` is the container (a bounded, pickle-free ``.npz`` with a
format version, the estimator's name, its hyperparameters and attributes as
JSON, and the arrays); this module decides what goes in it and checks
everything that comes out. What differs between the estimator classes is a
:class:`Hooks` object each class names in ``_persist_hooks``: no class tests.

A fitted estimator is also set up from weight arrays given in memory
(:func:`from_weights`, behind the estimators' ``from_weights``): the arrays
are checked as a file's are (shapes implied by the hyperparameters, dtype,
finiteness) and installed the same way (:func:`install`).

Internal interface of :mod:`fastrnn.estimator`: :func:`save`, :func:`load`,
:func:`from_weights`, :data:`REGRESSOR` and :data:`CLASSIFIER`. They use the estimators'
``get_params``, ``_get_param_names``, ``_param_defaults``,
``_check_hyperparameters``, ``_check_fitted``, ``_params``, and the fitted
attributes (``_optimizer``, ``_rng`` and ``_single_output_`` included).
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np

from . import _data, _stack
from . import io as _io
from . import optim as _optim
from ._params import check_int, check_param, is_int, is_real

__all__ = ["save", "load", "from_weights", "weight_shapes", "install", "Hooks", "REGRESSOR",
           "CLASSIFIER"]

# Hyperparameters added after the first files of format version 1 were written,
# and the value that gives the behaviour of a file written before each existed.
ADDED_PARAMS = {"n_symbols": None, "readout": True, "n_threads": None, "autoscale": False,
                "bidirectional": False}
# the exponents of input_scale_ and target_scale_ (powers of two) in a model file
MAX_SCALE_LOG2 = 256
# a classifier's string labels: at most 1024 characters each in a model file
MAX_LABEL_BYTES = 4 * 1024
# bit generators whose state is plain integers (JSON): default_rng's PCG64 and kin
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "SFC64")


# --------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------

def save(est, path):
    """Write a fitted estimator to path (see the estimators' ``save``)."""
    est._check_fitted()
    try:  # (the file holds these hyperparameters: they must describe its weights)
        est._check_continuation(est._check_hyperparameters(), None,
                                remedy="fit again, or set it back, before saving")
    except ValueError as exc:
        raise ValueError(f"cannot save: {exc}") from None
    hyper = {k: _jsonable(k, v) for k, v in est.get_params().items()}
    val = est.validation_scores_
    attrs = {
        "n_features_in_": int(est.n_features_in_),
        "n_outputs_": int(est.n_outputs_),
        "n_iter_": int(est.n_iter_),
        "loss_curve_length": len(est.loss_curve_),
        "validation_scores_length": None if val is None else len(val),
        "best_validation_score_": _float_or_none(est.best_validation_score_),
        "best_loss_": _float_or_none(est.best_loss_),
    }
    attrs["input_scale_log2"] = _scale_log2(est, "input_scale_")
    hooks = est._persist_hooks
    attrs.update(hooks.save_attrs(est))
    arrays = {k + "_": v for k, v in est._params().items()}
    arrays["loss_curve_"] = np.asarray(est.loss_curve_, dtype=np.float64).reshape(-1)
    if val is not None:
        arrays["validation_scores_"] = np.asarray(val, dtype=np.float64).reshape(-1)
    arrays.update(hooks.save_arrays(est))
    attrs["optimizer"] = None
    opt = est.__dict__.get("_optimizer")
    if opt is not None:
        state = opt.state_dict()
        attrs["optimizer"] = {
            "name": state["name"], "n_steps": int(state["n_steps"]),
            "hyperparameters": state["hyperparameters"],
            "slots": {key + "_": sorted(slots) for key, slots in state["state"].items()},
        }
        for key, slots in state["state"].items():
            for slot, arr in slots.items():
                arrays[f"optimizer.{slot}.{key}_"] = arr
    attrs["random_generator"] = _rng_state(est.__dict__.get("_rng"))
    _io.write_model(path, type(est).__name__, hyper, attrs, arrays)


def _scale_log2(est, name):
    """A fitted scale (powers of two) as its exponents, a JSON list of int
    (null: no such attribute)."""
    exps = est._scale_exponents(name)
    return None if exps is None else [int(e) for e in exps]


def _rng_state(rng):
    """The state of a numpy Generator as JSON data, or None (no generator, or
    one whose state is not plain integers: loading then draws a new one)."""
    if rng is None:
        return None
    state = rng.bit_generator.state
    if state.get("bit_generator") not in BIT_GENERATORS:
        return None
    return state


def _float_or_none(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _jsonable(name, v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (int, float)):
        return v
    if name == "n_hidden" and isinstance(v, (tuple, list)):  # layer sizes (checked in fit)
        return [_jsonable(name, h) for h in v]
    if name == "dtype":
        return np.dtype(v).name
    if name == "random_state":
        return None
    raise ValueError(f"cannot save hyperparameter {name}={v!r}: not JSON-serializable")


# --------------------------------------------------------------------------
# per-class contents
# --------------------------------------------------------------------------

class Hooks:
    """What an estimator class adds to the common contents of a model file.

    ``restore`` raises ValueError with the problem; :func:`load` adds the file.
    ``options`` are the class's own arguments of ``from_weights``."""

    options = ()

    def save_attrs(self, est):
        return {}

    def save_arrays(self, est):
        return {}

    def load_specs(self, k):
        """Arrays of the class (each required), by member name: ArraySpec."""
        return {}

    def restore(self, est, arrays, attrs, k):
        """Set the class's fitted attributes from the checked arrays and attributes."""

    def readout_from(self, owner, W_hy, b_y, H, options):
        """from_weights: the readout (float arrays, or None) in the fitted
        attributes' layout, W_hy (H, k) and b_y (k,), the number of outputs k
        and the class's own fitted attributes, from the class's own
        arguments ``options``. Shapes beyond what this needs are checked later."""
        raise NotImplementedError


class _RegressorHooks(Hooks):
    options = ("n_outputs",)

    def save_attrs(self, est):
        return {"single_output": bool(est._single_output_),
                "target_scale_log2": _scale_log2(est, "target_scale_")}

    def restore(self, est, arrays, attrs, k):
        single = attrs.get("single_output")
        if not isinstance(single, bool) or (single and k != 1):
            raise ValueError(f"attribute single_output must be a boolean (true only when "
                             f"n_outputs_ is 1), got {single!r}")
        est._single_output_ = single
        restore_scale(est, "target_scale_", attrs, k)

    def readout_from(self, owner, W_hy, b_y, H, options):
        n_outputs = options.get("n_outputs")
        if W_hy is None:  # the activities of units 0..k-1 are the outputs
            k = H if n_outputs is None else check_int(owner, "n_outputs", n_outputs, 1)
            if k > H:
                raise ValueError(f"{owner}: n_outputs={k} teaches more units than "
                                 f"n_hidden = {H} (readout=False)")
            return None, None, k, {"_single_output_": False}
        if n_outputs is not None:
            raise ValueError(f"{owner}: n_outputs is only for a model without a readout "
                             f"(W_hy=None); with one it is W_hy's number of columns")
        single = W_hy.ndim == 1  # (H,): one output, predict without the output axis
        if single:
            W_hy = W_hy.reshape(-1, 1)
            if b_y.shape == ():
                b_y = b_y.reshape(1)
        if W_hy.ndim != 2:
            raise ValueError(f"{owner}: W_hy must be 2-D (n_hidden, n_outputs) or 1-D "
                             f"(n_hidden,) for one output, got shape {W_hy.shape}")
        return W_hy, b_y, W_hy.shape[1], {"_single_output_": single}


def restore_scale(est, name, attrs, n):
    """Set a fitted scale from its exponents (attribute <name>log2: n ints);
    files without it (format version < 3: a model fitted before autoscale
    existed) leave the attribute unset: no scaling."""
    key = name + "log2"
    if key not in attrs:
        return
    exps = attrs[key]
    if (not isinstance(exps, list) or len(exps) != n
            or not all(is_int(e) and abs(e) <= MAX_SCALE_LOG2 for e in exps)):
        raise ValueError(f"attribute {key} must be a list of {n} integers in "
                         f"-{MAX_SCALE_LOG2}..{MAX_SCALE_LOG2}, got {_short(exps)}")
    est.__dict__[name] = np.ldexp(1.0, np.asarray(exps, dtype=np.int32))


def classes_problem(classes):
    """Why a model file cannot hold these classes_ (native dtype), or None."""
    if classes.dtype.kind == "U":
        if classes.dtype.itemsize > MAX_LABEL_BYTES:
            return (f"classes_ holds labels of {classes.dtype.itemsize // 4} characters; "
                    f"a model file holds labels of at most {MAX_LABEL_BYTES // 4}")
    elif classes.dtype.kind not in "biuf":
        return (f"classes_ has dtype {classes.dtype}: a model file holds labels that are "
                "numbers, booleans or strings")
    elif classes.dtype.itemsize > 16:
        return f"classes_ has dtype {classes.dtype}: numbers of at most 16 bytes"
    if classes.dtype.kind == "f" and not np.isfinite(classes).all():
        return "classes_ contains NaN or inf"
    return None


class _ClassifierHooks(Hooks):
    options = ("classes",)

    def save_attrs(self, est):
        return {"classes_dtype": "object" if est.classes_.dtype.kind == "O" else "native"}

    def save_arrays(self, est):
        c = est.classes_
        if c.dtype.kind == "O":
            if not all(isinstance(v, str) for v in c):
                raise ValueError(
                    "cannot save classes_ of mixed or non-string objects: a fastrnn model "
                    "file holds numbers, booleans or strings"
                )
            c = c.astype(str)
        problem = classes_problem(c)
        if problem:
            raise ValueError(f"cannot save: {problem}")
        return {"classes_": c}

    def load_specs(self, k):
        return {"classes_": _io.ArraySpec((k,), kinds="biufU", max_itemsize=MAX_LABEL_BYTES)}

    def restore(self, est, arrays, attrs, k):
        classes = arrays["classes_"]
        if classes.dtype.kind == "U":
            try:
                classes.tolist()
            except ValueError:
                raise ValueError("classes_ holds invalid unicode characters") from None
        problem = classes_problem(classes)
        if problem:
            raise ValueError(problem)
        if k > 1 and not (classes[1:] > classes[:-1]).all():
            raise ValueError("classes_ must be sorted and unique")
        kind = attrs.get("classes_dtype")
        if kind not in ("object", "native"):
            raise ValueError(
                f"attribute classes_dtype must be 'object' or 'native', got {kind!r}")
        if kind == "object":
            classes = classes.astype(object)
        est.classes_ = classes

    def readout_from(self, owner, W_hy, b_y, H, options):
        if W_hy is None:
            raise ValueError(f"{owner}: W_hy and b_y are required (the class probabilities "
                             "are the softmax of the readout's logits)")
        if options.get("classes") is None:
            raise TypeError(f"{owner}: classes is required (the label of each column of W_hy)")
        given = np.asarray(options["classes"]).ravel()
        classes, where = _data.check_classes(given, return_inverse=True)
        if len(classes) != len(given):
            raise ValueError(f"{owner}: classes must be distinct, got {_short(given.tolist())}")
        k = len(given)
        if W_hy.ndim != 2 or W_hy.shape[1] != k or b_y.shape != (k,):
            raise ValueError(
                f"{owner}: the readout must have one column per class: W_hy (n_hidden, {k}) "
                f"and b_y ({k},) for {k} classes, got {W_hy.shape} and {b_y.shape}")
        # column j holds the logits of given[j]: reorder them to sorted classes_
        W, b = np.empty_like(W_hy), np.empty_like(b_y)
        W[:, where], b[where] = W_hy, b_y
        return W, b, k, {"classes_": classes}


REGRESSOR = _RegressorHooks()
CLASSIFIER = _ClassifierHooks()


# --------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------

def load(path, estimators, stacklevel=2):
    """The estimator saved at path; estimators maps the names a file may hold
    to classes. Files of format version 1 load with a ModelFileWarning
    (stacklevel as for :func:`warnings.warn`, counted from the caller)."""
    with _io.ModelReader(path) as reader:
        est = _load_from(reader, estimators)
    if reader.version < 2:
        warnings.warn(
            f"{reader.where} has model format version 1, which holds no optimizer state: "
            "partial_fit on the loaded model starts a fresh optimizer (Adam's moments, "
            "SGD's velocity) and a fresh shuffling generator. Save it again to write "
            f"version {_io.FORMAT_VERSION}.", _io.ModelFileWarning, stacklevel=stacklevel + 1)
    return est


class _Attributes:
    """Typed reads of the file's attributes; errors name the file."""

    def __init__(self, reader):
        self.attrs = reader.attributes
        self.where = reader.where

    def bad(self, msg):
        return _io.ModelFileError(f"{self.where}: {msg}")

    def int(self, key, lo, allow_none=False):
        v = self.attrs.get(key)
        if v is None and allow_none:
            return None
        if not is_int(v) or v < lo:
            raise self.bad(f"attribute {key} must be an integer >= {lo}, got {v!r}")
        return int(v)

    def floats(self, key, allow_none):
        v = self.attrs.get(key)
        if v is None and allow_none:
            return None
        if not isinstance(v, list) or not all(is_real(x) for x in v):
            raise self.bad(f"attribute {key} must be a list of numbers, got {_short(v)}")
        return [float(x) for x in v]

    def float(self, key):
        v = self.attrs.get(key)
        if v is not None and not is_real(v):
            raise self.bad(f"attribute {key} must be a number or null, got {v!r}")
        return None if v is None else float(v)


def _load_from(reader, estimators):
    attrs = _Attributes(reader)
    bad = attrs.bad
    version = reader.version
    est, cfg = _new_estimator(reader, estimators, bad)
    hooks = est._persist_hooks
    D = attrs.int("n_features_in_", 0)
    k = attrs.int("n_outputs_", 1)
    shapes, specs = _array_specs(cfg, D, k, version, attrs, hooks)
    opt_info = reader.attributes.get("optimizer") if version >= 2 else None
    optimizer, slot_members = _optimizer_specs(opt_info, cfg, shapes, specs, bad)
    rng = None
    if version >= 2 and reader.attributes.get("random_generator") is not None:
        try:
            rng = _restore_rng(reader.attributes["random_generator"])
        except ValueError as exc:
            raise bad(f"attribute random_generator {exc}") from None

    for key in shapes:
        if key not in reader.names:
            raise bad(f"missing weight array {key!r}")
    for key in hooks.load_specs(k):
        if key not in reader.names:
            raise bad(f"missing {key}")
    arrays = reader.read_arrays(specs)

    weights = {}
    for key in shapes:
        arr = arrays[key]
        if not np.isfinite(arr).all():
            raise bad(f"{key} contains NaN or inf")
        weights[key] = arr
    try:
        restore_scale(est, "input_scale_", reader.attributes, D)
        hooks.restore(est, arrays, reader.attributes, k)
    except ValueError as exc:
        raise bad(str(exc)) from None
    _restore_history(est, attrs, arrays, version)
    if optimizer is not None:
        _restore_optimizer(optimizer, opt_info, slot_members, arrays, weights, bad)

    install(est, weights, D, k)
    if optimizer is not None:
        est._optimizer = optimizer
    if rng is not None:
        est._rng = rng
    return est


def _new_estimator(reader, estimators, bad):
    """The estimator with the file's hyperparameters, and their Config."""
    name, hyper = reader.estimator, reader.hyperparameters
    cls = estimators.get(name)
    if cls is None:
        raise bad(f"unknown estimator {name!r} (expected one of {sorted(estimators)})")
    expected = set(cls._get_param_names())
    # files written before a hyperparameter existed load with the value that
    # behaves as they did
    for key, value in ADDED_PARAMS.items():
        if key in expected and key not in hyper:
            hyper[key] = value
    if set(hyper) != expected:
        missing = sorted(expected - set(hyper))
        extra = sorted(set(hyper) - expected)
        raise bad(f"hyperparameters do not match {name}: missing {missing}, unknown {extra}")
    if isinstance(hyper.get("n_hidden"), list):  # a stack's layer sizes
        hyper["n_hidden"] = tuple(hyper["n_hidden"])
    est = cls(**hyper)
    try:
        cfg = est._check_hyperparameters()
    except (ValueError, TypeError) as exc:
        raise bad(f"invalid hyperparameters: {exc}") from None
    return est, cfg


def _array_specs(cfg, D, k, version, attrs, hooks):
    """The weights' shapes and the ArraySpec of every array the file must hold."""
    top = _stack.Layout.from_config(cfg).top
    if not cfg.readout and k > top:
        raise attrs.bad(f"n_outputs_ = {k} teaches more units than the top layer's "
                        f"output has ({top}; readout=False)")
    shapes = weight_shapes(cfg, D, k)
    specs = {key: _io.ArraySpec(shape, cfg.dtype) for key, shape in shapes.items()}
    f64 = np.dtype(np.float64)
    if version >= 2:
        n_loss = attrs.int("loss_curve_length", 0)
        n_val = attrs.int("validation_scores_length", 0, allow_none=True)
        specs["loss_curve_"] = _io.ArraySpec((n_loss,), f64)
        if n_val is not None:
            specs["validation_scores_"] = _io.ArraySpec((n_val,), f64)
    specs.update(hooks.load_specs(k))
    return shapes, specs


def weight_shapes(cfg, D, k):
    """The shape of each weight (fitted attribute) of a model with these
    hyperparameters, D features and k outputs."""
    shapes = _stack.Layout.from_config(cfg).shapes(D, k, cfg.readout, cfg.learn_initial_state)
    return {name + "_": shape for name, shape in shapes.items()}


def install(est, weights, D, k):
    """Make est a fitted model: its checked weights (by attribute name), D and k."""
    for key, arr in weights.items():
        setattr(est, key, arr)
    est.n_features_in_ = D
    est.n_outputs_ = k


def _optimizer_specs(opt_info, cfg, shapes, specs, bad):
    """A fresh optimizer for the saved state (None without one) and the
    members holding that state, {member: (parameter, slot)}; adds their
    ArraySpecs to specs."""
    if opt_info is None:
        return None, {}
    if (not isinstance(opt_info, dict)
            or set(opt_info) != {"name", "n_steps", "hyperparameters", "slots"}
            or opt_info["name"] not in _optim.OPTIMIZERS
            or not isinstance(opt_info["slots"], dict)):
        raise bad("attribute optimizer must be null or an object with name (one of "
                  f"{list(_optim.OPTIMIZERS)}), n_steps, hyperparameters and slots")
    optimizer = _optim.OPTIMIZERS[opt_info["name"]](cfg.learning_rate)
    slot_members = {}
    for key, slots in opt_info["slots"].items():
        if key not in shapes:
            raise bad(f"optimizer state for {key!r}, which is not a parameter of the model")
        if (not isinstance(slots, list) or len(set(map(str, slots))) != len(slots)
                or not set(slots) <= set(optimizer.slot_names)):
            raise bad(f"optimizer slots of {key} must be a list among "
                      f"{list(optimizer.slot_names)}, got {_short(slots)}")
        for slot in slots:
            member = f"optimizer.{slot}.{key}"
            slot_members[member] = (key[:-1], slot)
            specs[member] = _io.ArraySpec(shapes[key], cfg.dtype)
    return optimizer, slot_members


def _restore_history(est, attrs, arrays, version):
    """n_iter_, loss_curve_, validation_scores_ and the best scores."""
    est.n_iter_ = attrs.int("n_iter_", 0)
    if version >= 2:
        est.loss_curve_ = arrays["loss_curve_"].tolist()
        val = arrays.get("validation_scores_")
        est.validation_scores_ = None if val is None else val.tolist()
    else:
        est.loss_curve_ = attrs.floats("loss_curve_", False)
        est.validation_scores_ = attrs.floats("validation_scores_", True)
    est.best_validation_score_ = attrs.float("best_validation_score_")
    est.best_loss_ = attrs.float("best_loss_")
    if est.best_loss_ is None and not est.early_stopping:
        est.best_loss_ = math.inf  # (saved as null: JSON has no infinity)


def _restore_optimizer(optimizer, opt_info, slot_members, arrays, weights, bad):
    state = {key: {} for key in {p for p, _ in slot_members.values()}}
    for member, (key, slot) in slot_members.items():
        state[key][slot] = arrays[member]
    params = {key[:-1]: arr for key, arr in weights.items()}
    try:
        optimizer.load_state_dict(
            {"name": opt_info["name"], "n_steps": opt_info["n_steps"],
             "hyperparameters": opt_info["hyperparameters"], "state": state},
            params)
    except ValueError as exc:
        raise bad(f"optimizer state: {exc}") from None


def _restore_rng(state):
    """A Generator in the saved state; ValueError when the state is malformed."""
    if not isinstance(state, dict) or state.get("bit_generator") not in BIT_GENERATORS:
        raise ValueError(f"must be null or the state of one of {BIT_GENERATORS}")

    def plain(v):
        if isinstance(v, dict):
            return all(isinstance(k, str) and plain(x) for k, x in v.items())
        return isinstance(v, (int, str))

    if not plain(state):
        raise ValueError("must hold only integers")
    bg = getattr(np.random, state["bit_generator"])(0)
    try:
        bg.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ValueError(f"is not a valid generator state ({exc})") from None
    return np.random.Generator(bg)


# --------------------------------------------------------------------------
# from weight arrays
# --------------------------------------------------------------------------

# what each shape in weight_shapes stands for (the errors of from_weights)
_AXES = {"W_xh": "(n_features, n_hidden)", "W_hh": "(n_hidden, n_hidden)",
         "b": "(n_hidden,)", "h0": "(n_hidden,)", "W_hy": "(n_hidden, n_outputs)",
         "b_y": "(n_outputs,)"}
_STACK_AXES = {"W_xh": "(the layer's input width, its n_hidden)",
               "W_hh": "(its n_hidden, its n_hidden)", "b": "(its n_hidden,)",
               "h0": "(its n_hidden,)",
               "W_hy": "(the top layer's n_hidden x directions, n_outputs)",
               "b_y": "(n_outputs,)"}


def layer_arrays(params):
    """from_weights' keyword arguments split into the further layers' and
    directions' arrays (``W_hh_l1``, ``W_xh_reverse``, ...) and the
    hyperparameters."""
    arrays = {k: v for k, v in params.items() if _stack.is_param_attribute(k + "_")}
    return arrays, {k: v for k, v in params.items() if k not in arrays}


def _layout_of(owner, w):
    """The layout that the W_hh arrays given describe (ValueError when one is
    not square, or the layers or directions given have gaps)."""
    for key in (k for k in w if k.startswith("W_hh")):
        arr = w[key]
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise ValueError(f"{owner}: {key} must be a square matrix (n_hidden, n_hidden), "
                             f"got shape {arr.shape}")
    layers = 1
    while f"W_hh_l{layers}" in w:
        layers += 1
    n_dir = 2 if "W_hh_reverse" in w else 1
    layout = _stack.Layout(tuple(w["W_hh" + _stack.suffix(l, 0)].shape[0]
                                 for l in range(layers)), n_dir)
    expected = {f"{name}{_stack.suffix(l, d)}" for l, d in layout.slots
                for name in ("W_xh", "W_hh", "b")}
    given = {k for k in w if k[:1] in "Wb" and not k.startswith(("W_hy", "b_y"))}
    missing, extra = sorted(expected - given), sorted(given - expected)
    if missing or extra:
        raise ValueError(
            f"{owner}: the arrays given describe {len(layout.sizes)} layer(s) and "
            f"{n_dir} direction(s) (from the W_hh arrays), which need "
            f"{sorted(expected)}; missing {missing}, unexpected {extra}")
    return layout


def from_weights(cls, arrays, params, options, owner=None):
    """A fitted cls from weight arrays (see the estimators' ``from_weights``).

    arrays: {name: array-like or None} for W_xh, W_hh, b, h0, W_hy, b_y;
    params: hyperparameters (n_hidden, bidirectional, readout,
    learn_initial_state and dtype follow from the arrays unless given, and
    must agree with them) and the further layers' and directions' arrays,
    by their names (``W_hh_l1``, ``W_xh_reverse``, ...: fastrnn._stack);
    options: the class's own arguments (its hooks' ``options``, see
    :meth:`Hooks.readout_from`); owner: the method the errors name."""
    owner = owner or f"{cls.__name__}.from_weights"
    more, params = layer_arrays(params)
    arrays = {**arrays, **more}
    names = cls._get_param_names()
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise TypeError(f"{owner}() got unexpected keyword arguments {unknown}; the "
                        f"hyperparameters are {names}")
    given = {key: v for key, v in arrays.items() if v is not None}
    if (arrays["W_hy"] is None) != (arrays["b_y"] is None):
        raise ValueError(f"{owner}: W_hy and b_y go together (both None: no readout)")
    dtype = _weights_dtype(owner, given, params.get("dtype"))
    # private C-contiguous copies in the computation dtype
    w = {key: np.array(v, dtype=dtype, order="C", copy=True) for key, v in given.items()}
    if w["W_hh"].ndim != 2 or w["W_hh"].shape[0] != w["W_hh"].shape[1]:
        raise ValueError(f"{owner}: W_hh must be a square matrix (n_hidden, n_hidden), got "
                         f"shape {w['W_hh'].shape}")
    if w["W_xh"].ndim != 2:
        raise ValueError(f"{owner}: W_xh must be 2-D {_AXES['W_xh']}, got shape "
                         f"{w['W_xh'].shape}")
    layout = _layout_of(owner, w)
    D = w["W_xh"].shape[0]
    w["W_hy"], w["b_y"], k, fitted = cls._persist_hooks.readout_from(
        owner, w.get("W_hy"), w.get("b_y"), layout.top, options)
    learned = [f"h0{_stack.suffix(l, d)}" for l, d in layout.slots]
    stray = sorted(k for k in w if k.startswith("h0") and k not in learned)
    if stray:
        raise ValueError(f"{owner}: {stray} given, but the W_hh arrays describe "
                         f"{layout.describe()}, whose initial states are {learned}")
    if any(key in w for key in learned) and not all(key in w for key in learned):
        raise ValueError(f"{owner}: learned initial states go together: give all of "
                         f"{learned} or none")
    inferred = {"n_hidden": layout.sizes[0] if len(layout.sizes) == 1 else layout.sizes,
                "bidirectional": layout.n_dir == 2, "readout": w["W_hy"] is not None,
                "learn_initial_state": "h0" in w}
    for key, value in inferred.items():
        if key in params and _disagrees(params[key], value):
            raise ValueError(f"{owner}: {key}={params[key]!r} disagrees with the weights, "
                             f"which give {key}={value!r}")
    est = cls(**{**params, **inferred, "dtype": dtype.name})
    cfg = est._check_hyperparameters()
    if cfg.n_symbols is not None and cfg.n_symbols != D:
        raise ValueError(f"{owner}: n_symbols={cfg.n_symbols} disagrees with W_xh, whose "
                         f"{D} rows are the vocabulary")
    axes = _AXES if layout.single else _STACK_AXES
    weights = {}
    for key, shape in weight_shapes(cfg, D, k).items():
        name = key[:-1]
        arr = w[name]
        if arr.shape != shape:
            base = re.sub(r"(_l[0-9]+)?(_reverse)?$", "", name)
            raise ValueError(f"{owner}: {name} must have shape {shape} = {axes[base]} "
                             f"({layout.describe()} from the W_hh arrays, n_features = {D} "
                             f"from W_xh, n_outputs = {k}), got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{owner}: {name} contains NaN or inf")
        weights[key] = arr
    for key, value in fitted.items():
        setattr(est, key, value)
    est._reset_history(cfg)
    install(est, weights, D, k)
    est._install_scales(D, k)  # not trained here: no scaling
    return est


def _disagrees(given, inferred):
    """Whether a hyperparameter given to from_weights disagrees with the arrays."""
    if isinstance(inferred, tuple):
        return not (isinstance(given, (tuple, list)) and tuple(given) == inferred)
    return given != inferred


def _weights_dtype(owner, arrays, dtype):
    """The computation dtype: the dtype hyperparameter when given, else float32
    when no array is wider, else float64. TypeError for an array that is not float."""
    widest = 0
    for key, v in arrays.items():
        dt = np.asarray(v).dtype
        if dt.kind != "f":
            raise TypeError(f"{owner}: {key} must hold floats (float32 or float64), got "
                            f"dtype {dt}")
        widest = max(widest, dt.itemsize)
    if dtype is not None:
        return check_param(owner, "dtype", dtype)
    return np.dtype(np.float32 if widest <= 4 else np.float64)


def _short(v):
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."
