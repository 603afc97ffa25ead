"""Checks of the data an estimator is given, and the batch container.

Inputs X (float sequences or integer ids), lengths, initial states and their
mask, targets (values or labels, in every layout ``output_steps`` allows) and
target masks are checked here, once, with errors that name the argument and
what was expected; what passes is a :class:`Batch`: the arrays the training
loop and predict use, C-contiguous in the computation dtype.

Internal interface of :mod:`fastrnn.estimator` and :mod:`fastrnn._training`:
the names without a leading underscore.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import losses as _losses
from ._sklearn import warn

__all__ = ["Batch", "numeric_array", "check_X", "check_sample_weight", "check_ids", "check_lengths", "finite_X",
           "check_initial_state_mask", "check_initial_state", "compose_h0", "h0_gradient",
           "target_layout", "target_mask_layout", "prepare_inputs", "add_targets",
           "check_unit_targets", "regression_targets", "label_targets", "unique_labels",
           "encode_labels", "labels_equal"]


# ------------------------------------------------------------------ inputs

def _shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _is_sparse(value):
    """A SciPy sparse matrix or array (told without importing SciPy)."""
    return type(value).__module__.startswith("scipy.sparse")


def numeric_array(name, value):
    """value as a numeric (bool/int/float) ndarray.

    TypeError for sparse input and for object arrays whose values are not
    numbers (a dict, a list), ValueError for everything else that is not
    numeric (strings, complex numbers, ragged nesting)."""
    if _is_sparse(value):
        raise TypeError(
            f"{name} is a sparse {type(value).__name__}: sparse input is not supported; "
            f"pass a dense array ({name}.toarray())")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{name} must be a numeric array (pad variable-length sequences and pass "
            f"lengths=); it could not be converted: {exc}"
        ) from exc
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except TypeError as exc:
            raise TypeError(f"{name} must be numeric, got non-numeric values ({exc})") from exc
        except ValueError as exc:
            raise ValueError(f"{name} must be numeric, got non-numeric values ({exc})") from exc
    elif arr.dtype.kind == "c":
        raise ValueError(f"{name} must be numeric and real: Complex data not supported")
    elif arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    return arr


def _is_ids(arr):
    """X given as integer ids (n, T): one-hot rows of an (n, T, V) input."""
    return arr.ndim == 2 and arr.dtype.kind in "iu"


def check_X(X, dtype, n_features=None, owner=""):
    """X as a C-contiguous array: (n, T, D) in the computation dtype, or integer
    ids (n, T) as intp (their range is checked by :func:`check_ids`)."""
    arr = numeric_array("X", X)
    if _is_ids(arr):
        n, T = arr.shape
        if n < 1 or T < 1:
            raise ValueError(
                f"X must hold at least one sequence of at least one step, got shape "
                f"{_shape(arr.shape)}"
            )
        if arr.dtype.kind == "u" and arr.dtype.itemsize >= np.dtype(np.intp).itemsize:
            # (intp would wrap ids above its range round to negative ones: they
            # become its largest value, as far out of any vocabulary)
            arr = np.minimum(arr, np.iinfo(np.intp).max)
        return np.ascontiguousarray(arr, dtype=np.intp)
    if arr.ndim != 3:
        hint = ""
        if arr.ndim < 2:
            hint = (". Reshape your data: one sequence of one feature per step is "
                    "X[None, :, None], one step of several features X[None, None, :]")
        elif arr.ndim == 2:
            hint = (" (for one feature per step, use X[:, :, None]; for one sequence, "
                    "X[None]; integer ids (n_sequences, n_steps) need an integer dtype)")
        raise ValueError(
            "X must be a 3-D array (n_sequences, n_steps, n_features) or a 2-D integer "
            f"array of ids (n_sequences, n_steps), got a {arr.ndim}-D array of shape "
            f"{_shape(arr.shape)}{hint}"
        )
    n, T, D = arr.shape
    if n < 1 or T < 1:
        raise ValueError(
            f"X must hold at least one sequence of at least one step, got shape {_shape(arr.shape)}"
        )
    if n_features is not None and D != n_features:
        raise ValueError(
            f"X has {D} features, but {owner} is expecting {n_features} features as "
            "input (features per step, as in fit)"
        )
    return np.ascontiguousarray(arr, dtype=dtype)


def check_ids(X, lengths, V, why):
    """Integer ids X (n, T) must lie in 0..V-1 at the true steps; ids at padded
    steps may be anything (a copy with 0 there is returned when they are not).

    why: where V comes from, for the error message.
    """
    bad = (X < 0) | (X >= V)
    if not bad.any():
        return X
    if lengths is not None:
        valid = np.arange(X.shape[1])[None, :] < lengths[:, None]
        if not (bad & valid).any():
            return np.where(valid, X, 0).astype(np.intp)
        bad &= valid
    i, t = np.argwhere(bad)[0]
    more = " or more" if X[i, t] == np.iinfo(np.intp).max else ""
    raise ValueError(
        f"X holds integer ids, which must lie in 0..{V - 1} ({why}), got X[{i}, {t}] = "
        f"{X[i, t]}{more}"
    )


def check_lengths(lengths, n, T):
    """lengths as intp (n,) in 1..T, or None when absent or all equal to T."""
    if lengths is None:
        return None
    arr = np.asarray(lengths)
    if arr.dtype.kind == "f" and np.isfinite(arr).all() and (arr == np.round(arr)).all():
        arr = arr.astype(np.intp)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"lengths must hold integers, got an array of dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(
            f"lengths must have shape ({n},) (one per sequence of X), got {_shape(arr.shape)}"
        )
    bad = (arr < 1) | (arr > T)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"lengths must lie in 1..{T} (X's n_steps), got lengths[{i}] = {arr[i]}"
        )
    arr = arr.astype(np.intp)
    return None if (arr == T).all() else arr


def check_sample_weight(sample_weight, n):
    """sample_weight as float64 (n,): one finite weight >= 0 per sequence, not
    all zero; a scalar is the same weight for every sequence. None stays None."""
    if sample_weight is None:
        return None
    arr = numeric_array("sample_weight", sample_weight)
    if arr.ndim == 0:
        arr = np.full(n, arr, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(
            f"sample_weight must have shape ({n},) (one weight per sequence of X), "
            f"got {_shape(arr.shape)}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("sample_weight contains NaN or inf")
    if (arr < 0).any():
        i = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"sample_weight must be >= 0, got sample_weight[{i}] = {arr[i]}")
    if not arr.any():
        raise ValueError("sample_weight is zero for every sequence: it must contain at "
                         "least one non-zero weight")
    return arr


def finite_X(X, lengths):
    """Check X is finite at the true steps; zero (a copy of) padded steps that are not."""
    if X.ndim == 2 or np.isfinite(X).all():  # integer ids are finite
        return X
    finite_steps = np.isfinite(X).all(axis=2)
    if lengths is not None:
        valid = np.arange(X.shape[1])[None, :] < lengths[:, None]
        if (finite_steps | ~valid).all():
            return np.where(valid[:, :, None], X, 0).astype(X.dtype)
    i, t = np.argwhere(~finite_steps)[0]
    raise ValueError(f"X contains NaN or inf (first at sequence {i}, step {t})")


def check_initial_state_mask(mask, H, have_state):
    """initial_state_mask as a bool (H,) array, or None when absent."""
    if mask is None:
        return None
    arr = np.asarray(mask)
    if arr.dtype.kind != "b":
        raise ValueError(
            f"initial_state_mask must be a boolean array of shape ({H},) (which units "
            f"initial_state sets), got an array of dtype {arr.dtype}"
        )
    if arr.shape != (H,):
        raise ValueError(
            f"initial_state_mask must have shape ({H},) (n_hidden,), got {_shape(arr.shape)}"
        )
    if not have_state:
        raise ValueError(
            "initial_state_mask was given without initial_state (it selects the units "
            "that initial_state sets)"
        )
    return np.ascontiguousarray(arr)


def check_initial_state(initial_state, n, H, dtype, mask=None, name="initial_state"):
    """initial_state as a C-contiguous (n, H) array; it must be finite at the
    units mask sets (all units when mask is None); the others are ignored."""
    if initial_state is None:
        return None
    arr = numeric_array(name, initial_state)
    if arr.shape != (n, H):
        raise ValueError(
            f"{name} must have shape ({n}, {H}) (n_sequences, n_hidden), "
            f"got {_shape(arr.shape)}"
        )
    used = arr if mask is None else arr[:, mask]
    if not np.isfinite(used).all():
        raise ValueError(f"{name} contains NaN or inf"
                         + ("" if mask is None else " at a unit of initial_state_mask"))
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if mask is not None and not np.isfinite(arr).all():
        arr = np.where(mask, arr, 0).astype(dtype)
    return arr


def compose_h0(base, init, mask, dtype):
    """The initial state of a batch and where h0_'s gradient comes from.

    base : None (zeros) or the learned h0_ (H,)
    init : None or per-sequence initial states (B, H)
    mask : None or bool (H,): units set from init (the others from base)

    Returns (h0, free): h0 for :func:`fastrnn.functional.forward` (None, (H,)
    or (B, H)); free tells :func:`h0_gradient` how h0_'s gradient follows from
    backward's dh0: None (h0_ is not used), True (h0 is h0_ itself), or a bool
    (H,) array of the units that start from h0_.
    """
    if init is None:
        return base, (None if base is None else True)
    if mask is None:
        return init, None
    if base is None:
        return np.where(mask, init, 0).astype(dtype), None
    return np.where(mask, init, base).astype(dtype), ~mask


def h0_gradient(dh0, free):
    """Gradient of the learned h0_ (H,) from backward's dh0 (see compose_h0):
    dh0 itself for a shared h0_, else the per-sequence dh0 (B, H) summed over
    the batch at the units that start from h0_ (the units set from
    initial_state take none). None when h0_ is not used."""
    if free is None:
        return None
    if free is True:
        return dh0
    g = dh0.sum(axis=0)
    g[~free] = 0
    return g


# ----------------------------------------------------------------- targets

def check_last_steps(output_steps, T, lengths):
    """Refuse an int output_steps K longer than X's T steps or than a
    sequence's true length (its last K steps would not exist)."""
    if isinstance(output_steps, str):
        return
    K = output_steps
    if K > T:
        raise ValueError(
            f"output_steps={K} asks for the last {K} steps, but X has only {T} steps"
        )
    if lengths is not None and (lengths < K).any():
        i = int(np.flatnonzero(lengths < K)[0])
        raise ValueError(
            f"output_steps={K} asks for the last {K} steps of each sequence, but "
            f"lengths[{i}] = {lengths[i]}"
        )


def target_layout(y, n, T, lengths, output_steps, *, multi_ok, name="y"):
    """Check y's shape against output_steps; return it as (n, S, ...) and whether
    it had no output axis (single output).

    multi_ok: regressors accept an optional trailing n_outputs axis.
    """
    if output_steps == "all":
        lead, what = (n, T), f"a target at each of X's {T} steps"
    elif output_steps == "last":
        lead, what = (n,), "one target per sequence"
    else:
        K = output_steps
        check_last_steps(K, T, lengths)
        lead, what = (n, K), f"targets at the last {K} steps"
    shapes = [_shape(lead)]
    if multi_ok:
        shapes.insert(0, _shape(lead + ("n_outputs",)))
    ndim_single = len(lead)
    ok_ndim = (ndim_single, ndim_single + 1) if multi_ok else (ndim_single,)
    if y.ndim not in ok_ndim or y.shape[: len(lead)] != lead:
        if y.ndim >= 1 and y.shape[0] != n:
            raise ValueError(
                f"{name} has {y.shape[0]} sequences but X has {n}"
            )
        raise ValueError(
            f"{name} must have shape {' or '.join(shapes)} for output_steps="
            f"{output_steps!r} ({what}), got {_shape(y.shape)}"
        )
    single = y.ndim == ndim_single
    if output_steps == "last":
        y = y[:, None]
    if multi_ok and single:
        y = y[..., None]
    return y, single


def target_mask_layout(target_mask, y_shape, output_steps, multi_ok):
    """target_mask (y's shape, bool) in y's compact layout: (n, S) for a
    classifier, (n, S, k) for a regressor (see target_layout)."""
    m = np.asarray(target_mask)
    if m.dtype.kind != "b":
        raise ValueError(
            f"target_mask must be a boolean array of y's shape, got dtype {m.dtype}"
        )
    if m.shape != tuple(y_shape):
        raise ValueError(
            f"target_mask must have y's shape {_shape(tuple(y_shape))}, got {_shape(m.shape)}"
        )
    if output_steps == "last":
        m = m[:, None]
    if multi_ok and m.ndim == 2:
        m = m[..., None]
    return m



@dataclass(kw_only=True)
class Batch:
    """Checked data: inputs, and targets in the compact layout of
    :func:`fastrnn.losses.taught_steps` (S slots per sequence). Built by keyword."""

    X: np.ndarray  # (n, T, D) C-contiguous, computation dtype; or ids (n, T) intp
    lengths: np.ndarray | None = None  # (n,) intp, None when all are T
    init: np.ndarray | None = None  # (n, H) initial states, or None
    Y: np.ndarray | None = None  # (n, S, k) values or (n, S) class indices
    steps: np.ndarray | None = None  # (n, S) step of each slot; None for "all"
    valid: np.ndarray | None = None  # (n, S) slot is taught; None when all are
    n_in: int | None = None  # rows of W_xh: D, or the vocabulary size V of ids
    init_mask: np.ndarray | None = None  # (H,) units set from init; None: all
    vmask: np.ndarray | None = None  # (n, S, k) taught values; None: all of a taught slot
    weight: np.ndarray | None = None  # (n,) float64 sample weights; None: all 1

    @property
    def n(self):
        return self.X.shape[0]

    def take(self, idx):
        """The sequences idx (a new, C-contiguous copy)."""
        def sub(a):
            return None if a is None else a[idx]
        return Batch(X=self.X[idx], lengths=sub(self.lengths), init=sub(self.init),
                     Y=sub(self.Y), steps=sub(self.steps), valid=sub(self.valid),
                     n_in=self.n_in, init_mask=self.init_mask, vmask=sub(self.vmask),
                     weight=sub(self.weight))


# ------------------------------------------------------------ a whole call

def prepare_inputs(owner, X, lengths, initial_state, initial_state_mask, dtype, H, *,
                   n_features=None, n_symbols=None):
    """Checked inputs, as a Batch without targets.

    n_features: n_features_in_ of a fitted model (None before the first fit).
    Integer ids X must lie in 0..V-1 with V = n_features when fitted, else
    n_symbols, else 1 + the largest id (at a true step).
    """
    fitted = n_features is not None
    X = check_X(X, dtype, n_features, owner)
    n, T = X.shape[:2]
    lengths = check_lengths(lengths, n, T)
    if X.ndim == 2:
        if fitted:
            V, why = n_features, (
                f"the vocabulary size n_features_in_={n_features} of the "
                "fitted model")
        elif n_symbols is not None:
            V, why = n_symbols, f"n_symbols={n_symbols}"
        else:  # first fit without n_symbols: V = 1 + the largest id at a true step
            true = X if lengths is None else X[np.arange(T)[None, :] < lengths[:, None]]
            V = 1 + max(int(true.max()), 0)
            why = "with n_symbols=None the vocabulary is 0..max(X)"
        X = check_ids(X, lengths, V, why)
    else:
        X = finite_X(X, lengths)
        V = X.shape[2]
        if not fitted and n_symbols is not None and V != n_symbols:
            raise ValueError(
                f"{owner}: n_symbols={n_symbols} is the vocabulary size "
                f"of integer ids X; float X must then have {n_symbols} features per "
                f"step (one-hot), got {V}"
            )
    mask = check_initial_state_mask(initial_state_mask, H, initial_state is not None)
    init = check_initial_state(initial_state, n, H, dtype, mask)
    if mask is not None and mask.all():
        mask = None  # every unit from initial_state
    return Batch(X=X, lengths=lengths, init=init, n_in=V, init_mask=mask)


def add_targets(data, y, target_mask, output_steps, encode, *, multi_ok):
    """Check y (and target_mask) and set data.Y, steps, valid, vmask.

    encode(y, n, T, lengths, valid, vmask): y checked and encoded as data.Y
    (:func:`regression_targets` or :func:`label_targets`). multi_ok: y may have
    an output axis (regressors).
    """
    n, T = data.X.shape[:2]
    lengths = data.lengths
    steps, valid = _losses.taught_steps(output_steps, T, lengths, n)
    vmask = None
    if target_mask is not None:
        target_layout(np.asarray(y), n, T, lengths, output_steps,  # y's shape first
                      multi_ok=multi_ok)
        m = target_mask_layout(target_mask, np.shape(y), output_steps, multi_ok)
        slots = m if m.ndim == 2 else m.any(axis=2)
        valid = slots if valid is None else valid & slots
        if not valid.any():
            raise ValueError(
                "target_mask teaches no target (it is False everywhere, or True only "
                "at padded steps)"
            )
        if m.ndim == 3 and not (m | ~valid[:, :, None]).all():
            vmask = np.ascontiguousarray(m & valid[:, :, None])
    data.Y = encode(y, n, T, lengths, valid, vmask)
    data.steps, data.valid, data.vmask = steps, valid, vmask
    return data


def check_unit_targets(owner, data, n_hidden, activation, stacked=False):
    """readout=False: y's k columns teach units 0..k-1, within act's range.
    n_hidden: the units of the top layer's output (its directions side by
    side when stacked is True)."""
    k, H = data.Y.shape[2], n_hidden
    if k > H:
        where = (f"the top layer's output has {H} units" if stacked
                 else f"n_hidden is {H}")
        raise ValueError(
            f"{owner}: with readout=False, y's {k} outputs per target teach hidden units "
            f"0..{k - 1}, but {where}"
        )
    taught = data.Y
    if data.vmask is not None:
        taught = data.Y[data.vmask]
    elif data.valid is not None:
        taught = data.Y[data.valid]
    lo, hi, rng = (-1.0, 1.0, "[-1, 1]") if activation == "tanh" else (0.0, math.inf, ">= 0")
    bad = (taught < lo) | (taught > hi)
    if bad.any():
        raise ValueError(
            f"{owner}: with readout=False, y holds desired activities of the hidden units, "
            f"which for activation={activation!r} must lie in {rng}; got "
            f"{float(taught[bad].flat[0])!r}"
        )


def regression_targets(owner, y, n, T, lengths, output_steps, valid, vmask, dtype,
                       n_outputs=None):
    """A regressor's y as (n, S, k) values (0 where not taught and not finite),
    and whether y had no output axis. n_outputs: the fitted model's, or None."""
    arr = numeric_array("y", y)
    Y, single = target_layout(arr, n, T, lengths, output_steps, multi_ok=True)
    if Y.shape[2] == 0:
        raise ValueError(f"y has 0 outputs per target (shape {_shape(arr.shape)}); "
                         "a regressor needs at least one")
    if n_outputs is not None and Y.shape[2] != n_outputs:
        raise ValueError(
            f"y has {Y.shape[2]} outputs per target, but {owner} "
            f"was fitted with {n_outputs}"
        )
    Y = np.ascontiguousarray(Y, dtype=dtype)
    taught = vmask if vmask is not None else valid
    values = Y if taught is None else Y[taught]
    if not np.isfinite(values).all():
        raise ValueError("y contains NaN or inf at a taught step")
    if taught is not None and not np.isfinite(Y).all():
        if taught.ndim == 2:
            taught = taught[:, :, None]
        Y = np.where(taught, Y, 0).astype(dtype)
    return Y, single


def label_targets(y, n, T, lengths, output_steps, valid, classes=None, raw=False):
    """A classifier's labels y as (n, S) indices into classes (0 where not
    taught), and the classes: the sorted taught labels when classes is None.

    raw: the labels as they are (n, S), not encoded (for score), and classes.
    """
    labels, _ = target_layout(_column_to_1d(y, n, output_steps), n, T, lengths, output_steps,
                              multi_ok=False)
    if raw:
        return labels, classes
    taught = labels if valid is None else labels[valid]
    if taught.dtype.kind == "c":
        raise ValueError("y must hold labels: Complex data not supported")
    if taught.dtype.kind == "f":
        if not np.isfinite(taught).all():
            raise ValueError("y contains NaN or inf labels")
        if classes is None and (taught != np.round(taught)).any():
            raise ValueError(
                "Unknown label type: continuous. A classifier takes discrete labels "
                "(integers, strings, or floats with integral values), got float values "
                "such as " + repr(float(taught[taught != np.round(taught)][0]))
                + "; for continuous targets use RNNRegressor")
    if classes is None:
        classes, inv = unique_labels(taught, "y", return_inverse=True)
    else:
        inv = encode_labels(taught, classes)
    codes = np.zeros(labels.shape, dtype=np.intp)
    if valid is None:
        codes[...] = inv.reshape(labels.shape)
    else:
        codes[valid] = inv
    return codes, classes


def _column_to_1d(y, n, output_steps):
    """A classifier's y with a trailing axis of size 1 that its layout has no
    room for ((n, 1) for output_steps="last"), raveled with a DataConversionWarning
    as scikit-learn's classifiers do."""
    y = np.asarray(y)
    ndim = 1 if output_steps == "last" else 2
    if y.ndim == ndim + 1 and y.shape[-1] == 1 and y.shape[0] == n:
        warn("DataConversionWarning",
             f"A column-vector y was passed when a {ndim}d array was expected. Please "
             f"change the shape of y to {_shape(y.shape[:-1])}, for example using ravel().")
        y = y[..., 0]
    return y


# ------------------------------------------------------------------ labels

def check_classes(classes, return_inverse=False):
    """The sorted distinct labels of a ``classes`` argument (and, with
    return_inverse, where each given one went), refusing what fit refuses
    in y: complex numbers, NaN and inf."""
    given = np.asarray(classes).ravel()
    if given.dtype.kind == "c":
        raise ValueError("classes must hold labels: Complex data not supported")
    if given.dtype.kind == "f" and not np.isfinite(given).all():
        raise ValueError(f"classes contains NaN or inf labels: {given.tolist()[:10]}")
    return unique_labels(given, "classes", return_inverse)


def unique_labels(taught, name, return_inverse=False):
    try:
        res = np.unique(taught, return_inverse=return_inverse)
    except TypeError as exc:
        raise ValueError(
            f"{name} holds labels that cannot be sorted together (mixed types?): {exc}"
        ) from exc
    if return_inverse:
        return res[0], res[1].reshape(-1)
    return res


def encode_labels(taught, classes):
    """Indices of labels in classes (sorted); ValueError for unknown labels."""
    try:
        pos = np.searchsorted(classes, taught)
    except TypeError as exc:
        raise ValueError(f"y's labels are not comparable with classes_ ({exc})") from exc
    pos = np.clip(pos, 0, len(classes) - 1)
    ok = labels_equal(classes[pos], taught)
    if not ok.all():
        unknown = np.unique(np.asarray(taught)[~ok])[:5]
        raise ValueError(
            f"y contains labels {unknown.tolist()} that are not in classes_ "
            f"{classes.tolist()}"
        )
    return pos.reshape(-1)


def labels_equal(a, b):
    eq = np.asarray(a) == np.asarray(b)
    if np.ndim(eq) == 0:  # numpy could not compare elementwise
        return np.zeros(np.shape(b), dtype=bool)
    return eq

