"""What the aeon and sktime estimators share: their hyperparameters and the
conversion of a collection of series to fastrnn's input.

aeon and sktime hold a collection of ``n_cases`` series as an array
``(n_cases, n_channels, n_timepoints)`` or, when the series differ in length,
as a list of ``(n_channels, n_timepoints_i)`` arrays (aeon) or of
``(n_timepoints_i, n_channels)`` data frames (sktime). fastrnn takes
``(n, T, D)`` (steps before features) and the true lengths of padded
sequences. Neither toolkit is imported here.

Internal interface of :mod:`fastrnn.aeon` and :mod:`fastrnn.sktime`: the names
without a leading underscore.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FORWARDED", "RNNParams", "PARAMS_DOC", "TEST_PARAMS", "to_sequences",
           "missing_toolkit"]

#: the hyperparameters passed on to fastrnn's estimators (those of RNNParams)
FORWARDED = ("n_hidden", "bidirectional", "activation", "learn_initial_state", "optimizer",
             "learning_rate", "alpha", "clip_norm", "batch_size", "max_epochs", "bptt_steps",
             "early_stopping", "validation_fraction", "tol", "n_iter_no_change", "dtype",
             "autoscale", "random_state", "verbose", "n_threads")

PARAMS_DOC = """
    The network reads each series step by step (the channels of a time point
    are the features of a step) and predicts from its hidden state at the
    last time point: a fastrnn estimator with ``output_steps="last"``. Series
    of unequal length are padded and passed with their lengths (padding is
    never read).

    Parameters
    ----------
    n_hidden : int or tuple of int, default=64
        Number of hidden units; a tuple stacks layers, one size per layer.
    bidirectional : bool, default=False
        Also read each series backwards (from its last time point to its
        first); the prediction reads the forward direction's last state and
        the backward direction's first, as PyTorch's final states.
    activation : {"tanh", "relu"}, default="tanh"
        Nonlinearity of the recurrence.
    learn_initial_state : bool, default=False
        Learn the initial hidden state (else zeros).
    optimizer : {"adam", "sgd", "adagrad"}, default="adam"
        Update rule.
    learning_rate : float, default=0.001
        Step size of the optimizer.
    alpha : float, default=0.0001
        L2 penalty on the weights.
    clip_norm : float or None, default=5.0
        Global L2 norm the gradients are clipped to (None: no clipping).
    batch_size : int, default=32
        Series per mini-batch.
    max_epochs : int, default=100
        Maximum number of passes over the training data.
    bptt_steps : int or None, default=None
        Truncated BPTT window (None: full BPTT).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the series and stop when their
        score stops improving (the best epoch's weights are kept).
    validation_fraction : float, default=0.1
        Share of the series held out for early stopping.
    tol : float, default=0.0001
        Improvement threshold of the stopping rules.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    dtype : {"float32", "float64"}, default="float32"
        Computation dtype.
    autoscale : bool, default=True
        Train on data of about unit size (series far from it are divided by
        a power of two; see fastrnn's estimators).
    random_state : None or int, default=None
        Seed of the initialization, the validation split and the shuffling;
        an int makes fit reproducible bit for bit.
    verbose : int, default=0
        1: one line per epoch.
    n_threads : int or None, default=None
        The most threads the kernels may use (None: fastrnn's default limit).

    Attributes
    ----------
    estimator_ : fastrnn.%(cls)s
        The fitted fastrnn estimator (``output_steps="last"``).
"""


#: the instances the toolkits' estimator checks build: small and quick (the
#: checks set random_state where they need it)
TEST_PARAMS = [{"n_hidden": (4, 3), "bidirectional": True, "max_epochs": 2, "batch_size": 4,
                "random_state": 0},
               {"n_hidden": 4, "max_epochs": 2, "batch_size": 4, "random_state": 0,
                "activation": "relu", "learn_initial_state": True, "bptt_steps": 3,
                "dtype": "float64"}]


class RNNParams:
    """The hyperparameters of the toolkit estimators: ``__init__`` stores
    them (and calls the toolkit base class's), :meth:`_make_estimator` builds
    the fastrnn estimator from them, and `_fit` and `_predict` run it."""

    _fastrnn_class = None  # fastrnn.RNNClassifier or fastrnn.RNNRegressor

    def __init__(self, n_hidden=64, *, bidirectional=False, activation="tanh",
                 learn_initial_state=False, optimizer="adam", learning_rate=0.001,
                 alpha=0.0001, clip_norm=5.0, batch_size=32, max_epochs=100,
                 bptt_steps=None, early_stopping=False, validation_fraction=0.1, tol=0.0001,
                 n_iter_no_change=10, dtype="float32", autoscale=True, random_state=None,
                 verbose=0, n_threads=None):
        self.n_hidden = n_hidden
        self.bidirectional = bidirectional
        self.activation = activation
        self.learn_initial_state = learn_initial_state
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.alpha = alpha
        self.clip_norm = clip_norm
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.bptt_steps = bptt_steps
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype
        self.autoscale = autoscale
        self.random_state = random_state
        self.verbose = verbose
        self.n_threads = n_threads
        super().__init__()

    def _make_estimator(self):
        params = {name: getattr(self, name) for name in FORWARDED}
        return self._fastrnn_class(output_steps="last", **params)

    # The toolkits' base classes call these (both name them so) after their
    # own checks and conversions.
    def _fit(self, X, y):
        X, lengths = to_sequences(X)
        self.estimator_ = self._make_estimator().fit(X, y, lengths=lengths)
        return self

    def _predict(self, X):
        X, lengths = to_sequences(X)
        return self.estimator_.predict(X, lengths=lengths)


def to_sequences(X):
    """fastrnn's (X, lengths) of a collection: X (n, T, D) float, padded with
    zeros to the longest series, and lengths (n,) (None when all are T).

    X: an array (n_cases, n_channels, n_timepoints); a list of arrays
    (n_channels, n_timepoints_i); or a list of data frames or arrays
    (n_timepoints_i, n_channels) when ``time_first`` series are given as
    pandas objects (sktime's df-list)."""
    if isinstance(X, np.ndarray):
        if X.ndim == 2:  # (n_cases, n_timepoints): one channel
            X = X[:, None, :]
        return np.ascontiguousarray(np.swapaxes(X, 1, 2), dtype=_float(X)), None
    series = [_steps_first(s) for s in X]
    if not series:
        raise ValueError("the collection holds no series")
    lengths = np.array([s.shape[0] for s in series], dtype=np.intp)
    D = series[0].shape[1]
    if any(s.shape[1] != D for s in series):
        raise ValueError("the series of a collection must have the same number of channels")
    dt = np.result_type(*[_float(s) for s in series])
    out = np.zeros((len(series), int(lengths.max()), D), dtype=dt)
    for i, s in enumerate(series):
        out[i, : s.shape[0]] = s
    return out, (None if (lengths == lengths[0]).all() else lengths)


def _steps_first(s):
    """One series as (n_timepoints, n_channels): a data frame is already so
    (rows are time points); an array is (n_channels, n_timepoints)."""
    if hasattr(s, "to_numpy"):
        a = s.to_numpy()
        return a[:, None] if a.ndim == 1 else a
    a = np.asarray(s)
    return a[:, None] if a.ndim == 1 else a.T


def _float(a):
    return a.dtype if a.dtype in (np.float32, np.float64) else np.float64


def missing_toolkit(name):
    """The ImportError of fastrnn.<name> without the toolkit installed."""
    return ImportError(f"fastrnn.{name} needs {name}, which is not installed: "
                       f"pip install fastrnn[{name}]")
