"""The estimators beyond one machine, on dask (optional: ``pip install fastrnn[dask]``).

Sequences are independent of each other and a fitted model's weights are
small, so a model goes to every worker and each worker runs its own chunk of
sequences:

* :func:`predict_blocks`: a fitted estimator's ``predict``,
  ``predict_proba`` or ``predict_log_proba`` over a dask array of sequences
  chunked along the sequences, one task per chunk; the result is a dask
  array equal to the method on the whole array.
* :class:`FlatSequences`: dask-ml's ``Incremental`` streams 2-D blocks
  (n_samples, n_features) through ``partial_fit``; this wrapper reads each
  row of such a block as one flattened sequence (``n_steps * n_features``
  values) and hands the estimator the 3-D sequences.

Hyperparameter search needs nothing from here: ``GridSearchCV`` under
``joblib.parallel_backend("dask")`` runs its fits on the workers, and each
worker's kernels take the thread limit dask sets for it.

Only :func:`predict_blocks` imports dask (when it is called); importing this
module imports neither dask nor scikit-learn.
"""

from __future__ import annotations

import copy

import numpy as np

from ._sklearn import exception_class

__all__ = ["predict_blocks", "FlatSequences"]

_METHODS = ("predict", "predict_proba", "predict_log_proba")


def _call(estimator, method, X, lengths=None):
    if lengths is None:
        return getattr(estimator, method)(X)
    return getattr(estimator, method)(X, lengths=lengths)


def predict_blocks(estimator, X, *, lengths=None, method="predict"):
    """Run a fitted estimator over a dask array of sequences, chunk by chunk.

    Parameters
    ----------
    estimator : fitted RNNRegressor or RNNClassifier
        Sent once to each worker that runs a chunk (its weights are small).
    X : dask array (n_sequences, n_steps, n_features), or int ids (n_sequences, n_steps)
        Chunked along the sequences (other axes are joined into one chunk).
    lengths : dask or NumPy array of int (n_sequences,), optional
        True length of each sequence, split as X's chunks.
    method : {"predict", "predict_proba", "predict_log_proba"}, default="predict"

    Returns
    -------
    dask array
        ``getattr(estimator, method)(X, lengths=lengths)`` as a lazy dask
        array, chunked as X along the sequences; ``.compute()`` gives the
        same values as the method on the whole array in memory.
    """
    import dask
    import dask.array as da

    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    X = da.asarray(X)
    if X.ndim not in (2, 3):
        raise ValueError(
            f"X must be a 3-D dask array of sequences (or 2-D integer ids), got {X.ndim}-D")
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    # the shape of one sequence's output and its dtype (this also raises
    # NotFittedError, or the method's error for X's shape, before any task runs)
    probe = getattr(estimator, method)(np.zeros((1,) + X.shape[1:], dtype=X.dtype))
    x_blocks = X.to_delayed().ravel()
    if lengths is not None:
        lengths = da.asarray(lengths)
        if lengths.shape != X.shape[:1]:
            raise ValueError(f"lengths must have shape ({X.shape[0]},), got {lengths.shape}")
        l_blocks = lengths.rechunk((X.chunks[0],)).to_delayed().ravel()
    model = dask.delayed(estimator, pure=True)
    blocks = []
    for i, (block, n) in enumerate(zip(x_blocks, X.chunks[0])):
        out = dask.delayed(_call, pure=True)(model, method, block,
                                             None if lengths is None else l_blocks[i])
        blocks.append(da.from_delayed(out, shape=(n,) + probe.shape[1:], dtype=probe.dtype))
    return da.concatenate(blocks, axis=0)


class FlatSequences:
    """A sequence estimator on 2-D X whose rows are flattened sequences.

    dask-ml's ``Incremental`` (and other tools for tabular data) hand an
    estimator 2-D blocks (n_samples, n_features). Flatten the sequences to
    ``X.reshape(n_sequences, n_steps * n_features)`` and wrap the estimator:
    each method reshapes X back to (n_sequences, n_steps, n_features) and
    calls the estimator's method of the same name with the other arguments
    unchanged. ``Incremental(FlatSequences(RNNRegressor(...), n_steps=T))``
    then trains on a dask array larger than memory, one block at a time.

    Parameters
    ----------
    estimator : RNNRegressor or RNNClassifier
        The estimator to train (a copy is fitted, as ``estimator_``).
    n_steps : int
        Steps per sequence T; each row of X holds T * n_features values, step
        by step (row i is ``X3d[i].ravel()``).

    Attributes
    ----------
    estimator_ : RNNRegressor or RNNClassifier
        The fitted copy of ``estimator``.

    Notes
    -----
    Arguments that have one entry per sequence (``lengths``,
    ``sample_weight``) are passed as they are: ``Incremental`` passes the
    same keyword arguments to every block, so with it, give y one target
    per sequence (1-D y: dask-ml splits only 1-D targets) and leave them out.
    """

    def __init__(self, estimator, n_steps):
        self.estimator = estimator
        self.n_steps = n_steps

    # -- the scikit-learn protocol (get_params, set_params, tags)

    def get_params(self, deep=True):
        """The wrapper's parameters (and, with deep, the estimator's as ``estimator__name``)."""
        params = {"estimator": self.estimator, "n_steps": self.n_steps}
        if deep:
            for key, value in self.estimator.get_params().items():
                params["estimator__" + key] = value
        return params

    def set_params(self, **params):
        """Set parameters (``estimator__name`` sets the estimator's); returns self."""
        inner = {k[len("estimator__"):]: v for k, v in params.items()
                 if k.startswith("estimator__")}
        for key, value in params.items():
            if key.startswith("estimator__"):
                continue
            if key not in ("estimator", "n_steps"):
                raise ValueError(f"Invalid parameter {key!r} for FlatSequences")
            setattr(self, key, value)
        if inner:
            self.estimator.set_params(**inner)
        return self

    @property
    def _estimator_type(self):
        return getattr(self.estimator, "_estimator_type", None)

    def __sklearn_tags__(self):
        tags = copy.deepcopy(self.estimator.__sklearn_tags__())
        tags.input_tags.two_d_array = True
        tags.input_tags.three_d_array = False
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "estimator_")

    def __repr__(self):
        return f"FlatSequences({self.estimator!r}, n_steps={self.n_steps!r})"

    # -- the estimator's methods on sequences

    def sequences(self, X):
        """2-D X (n, n_steps * n_features) as (n, n_steps, n_features)."""
        X = np.asarray(X)
        T = self.n_steps
        if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
            raise ValueError(f"FlatSequences: n_steps must be an integer >= 1, got {T!r}")
        if X.ndim != 2 or X.shape[1] % T:
            raise ValueError(
                f"FlatSequences: X must be 2-D with a multiple of n_steps={T} columns "
                f"(n_steps * n_features), got shape {X.shape}")
        return X.reshape(X.shape[0], T, X.shape[1] // T)

    def fit(self, X, y, **kwargs):
        """Fit a fresh copy of the estimator on the sequences of X; returns self."""
        self.estimator_ = _fresh(self.estimator).fit(self.sequences(X), y, **kwargs)
        return self

    def partial_fit(self, X, y, **kwargs):
        """One ``partial_fit`` of the fitted copy (a fresh one on the first call)."""
        if not hasattr(self, "estimator_"):
            self.estimator_ = _fresh(self.estimator)
        self.estimator_.partial_fit(self.sequences(X), y, **kwargs)
        return self

    def predict(self, X, **kwargs):
        """The estimator's ``predict`` on the sequences of X."""
        return self._fitted().predict(self.sequences(X), **kwargs)

    def predict_proba(self, X, **kwargs):
        """The classifier's ``predict_proba`` on the sequences of X."""
        return self._fitted().predict_proba(self.sequences(X), **kwargs)

    def predict_log_proba(self, X, **kwargs):
        """The classifier's ``predict_log_proba`` on the sequences of X."""
        return self._fitted().predict_log_proba(self.sequences(X), **kwargs)

    def score(self, X, y, **kwargs):
        """The estimator's ``score`` on the sequences of X."""
        return self._fitted().score(self.sequences(X), y, **kwargs)

    @property
    def classes_(self):
        """The fitted classifier's ``classes_``."""
        return self._fitted().classes_

    def _fitted(self):
        est = self.__dict__.get("estimator_")
        if est is None:
            raise exception_class("NotFittedError")(
                "This FlatSequences instance is not fitted yet. Call 'fit' or "
                "'partial_fit' before using it.")
        return est


def _fresh(estimator):
    """An unfitted copy of estimator with deep-copied hyperparameters (as
    scikit-learn's clone makes)."""
    return type(estimator)(**copy.deepcopy(estimator.get_params()))
