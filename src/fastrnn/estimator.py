"""Scikit-learn-style estimators on the Cython core: RNNRegressor, RNNClassifier.

This layer validates user data, builds mini-batches, runs epochs with early
stopping, and carries the hidden state from one truncated-BPTT window into the
next. The recurrence and its BPTT are :func:`fastrnn.functional.forward` and
:func:`fastrnn.functional.backward` (the only place they are implemented);
readout and losses are in :mod:`fastrnn.losses`, optimizers and clipping in
:mod:`fastrnn.optim`, the file format in :mod:`fastrnn.io`.

Two places connect the recurrence to the rest, so that the ways of feeding and
teaching the network slot in without touching the training loop:

* :meth:`_BaseRNN._batch_h0` builds the initial state of a mini-batch (zeros,
  the learned ``h0_``, the caller's ``initial_state``, or the two mixed unit
  by unit by ``initial_state_mask``), and :func:`fastrnn._data.h0_gradient` turns the
  per-sequence initial-state gradient of :func:`fastrnn.functional.backward`
  into ``h0_``'s (no kernel change: a masked h0 is an ordinary (B, H) h0);
* :func:`fastrnn.losses.select_window` + :func:`fastrnn.losses.output_loss`
  map hidden states to outputs (the readout, or hidden units 0..k-1 with
  ``readout=False``), targets (all, last or last-K steps, any subset with a
  ``target_mask``) and losses, and the loss gradient back to ``dL/dh``.

Integer-id inputs X (n, T) go to the functional layer as they are (a row
lookup into ``W_xh_``); :meth:`step` advances a fitted model chunk by chunk.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import _threads
from . import functional as _F
from . import _data, _persist, _training
from . import losses as _losses
from ._params import BOOLEAN, PARAMETERS, ParamsMixin, Rule, check_int, make_rng
from ._training import NonFiniteLossError
from ._validation import ACTIVATIONS

__all__ = [
    "RNNRegressor",
    "RNNClassifier",
    "load",
    "NotFittedError",
    "NonFiniteLossError",
]

# predict runs the recurrence over at most this many hidden-state values at once
_PREDICT_CHUNK_VALUES = 1 << 22


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit``.

    Subclasses both ValueError and AttributeError, like
    ``sklearn.exceptions.NotFittedError``.
    """


# --------------------------------------------------------------------------
# Data checks
# --------------------------------------------------------------------------



























def _r2(y_true, y_pred, mask=None):
    """R² of each output column, averaged (sklearn's r2_score, uniform_average).

    mask (N, k) bool, optional: each column's R² over its True entries only
    (columns without any are left out of the average)."""
    y_true = y_true.astype(np.float64)
    y_pred = y_pred.astype(np.float64)
    if mask is not None:
        cols = [j for j in range(y_true.shape[1]) if mask[:, j].any()]
        return float(np.mean([_r2(y_true[mask[:, j], j][:, None],
                                  y_pred[mask[:, j], j][:, None]) for j in cols]))
    ss_res = ((y_true - y_pred) ** 2).sum(axis=0)
    ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                      np.where(ss_res > 0, 0.0, 1.0))
    return float(r2.mean())




# --------------------------------------------------------------------------
# The estimators
# --------------------------------------------------------------------------

_PARAMS_DOC = """
    Parameters
    ----------
    n_hidden : int, default=64
        Number of hidden units H.
    activation : {"tanh", "relu"}, default="tanh"
        Nonlinearity of the recurrence ``h_t = act(x_t W_xh + h_{t-1} W_hh + b)``.
    output_steps : "all", "last" or int, default="all"
        Where the targets (teaching signals) are: one per step (y of shape
        %(all)s), one per sequence at its last true step (%(last)s), or at
        the last K true steps of each sequence (%(K)s). A ``target_mask``
        passed to fit/score teaches any subset of these.
    readout : bool, default=True
        True: the outputs are the linear readout ``h_t @ W_hy_ + b_y_``.
        False (regressor only): there is no readout; the targets are put on the
        hidden units themselves, y's k columns being the desired activities
        of units 0..k-1 (k <= n_hidden; k = n_hidden teaches every unit), and
        must lie in the activation's range (tanh: [-1, 1], relu: >= 0).
        ``RNNClassifier`` raises a ValueError in fit for False (its
        probabilities need the readout's logits).
    learn_initial_state : bool, default=False
        False: ``h_{-1}`` is zeros. True: it is a parameter ``h0_`` shared
        by all sequences, started from a small random guess (see Notes) and
        trained like any weight: BPTT carries the loss gradient back to the
        initial state of each training sequence, summed over the mini-batch
        (with truncated BPTT, from the first window only). An
        ``initial_state`` passed to fit/predict/score overrides it at the
        units it sets (all of them, or those of ``initial_state_mask``).
    optimizer : {"adam", "sgd", "adagrad"}, default="adam"
        Update rule (PyTorch's): Adam (beta1=0.9, beta2=0.999, eps=1e-8),
        SGD with ``momentum`` (and ``nesterov``), or Adagrad (eps=1e-10).
    learning_rate : float, default=0.001
        Step size of the optimizer.
    momentum : float in [0, 1), default=0.9
        Momentum of ``optimizer="sgd"``; ignored by the others.
    nesterov : bool, default=False
        Nesterov momentum for ``optimizer="sgd"``.
    alpha : float, default=0.0001
        L2 penalty: the objective of each mini-batch is its mean loss plus
        ``0.5 * alpha * (|W_xh|^2 + |W_hh|^2 + |W_hy|^2)`` (biases and ``h0_``
        are not penalized).
    clip_norm : float or None, default=5.0
        Before each update, all gradients are scaled together so that their
        global L2 norm is at most ``clip_norm`` (Pascanu et al., 2013; 5 is
        char-rnn's value). None turns clipping off.
    batch_size : int, default=32
        Sequences per mini-batch (clipped to the number of training sequences).
    max_epochs : int, default=100
        Maximum number of passes over the training data in ``fit``.
    bptt_steps : int or None, default=None
        Truncated BPTT: train in windows of this many steps, with one update per
        window, carrying each sequence's last hidden state (as a constant, no
        gradient flows through it) into the next window. None: full BPTT over
        the whole sequence.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the sequences, score them after each
        epoch (``validation_scores_``), stop when the score has not improved by
        ``tol`` for ``n_iter_no_change`` epochs, and restore the weights of the
        best epoch.
    validation_fraction : float in (0, 1), default=0.1
        Share of the sequences held out for early stopping.
    tol : float, default=0.0001
        Improvement threshold. Without early stopping, training stops when the
        training loss has not fallen by ``tol`` for ``n_iter_no_change``
        consecutive epochs (scikit-learn's MLP rule).
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    dtype : {"float32", "float64"}, default="float32"
        Computation dtype of the weights and data.
    n_symbols : int or None, default=None
        Vocabulary size V of integer-id inputs. An integer X of shape
        (n_sequences, n_steps) holds ids in 0..V-1 that stand for one-hot rows
        of an (n_sequences, n_steps, V) float X (computed as a row lookup into
        ``W_xh_``, so a large vocabulary costs no one-hot array); then
        ``n_features_in_`` is V. None: V is 1 + the largest id at a true step
        of the first ``fit``. Later ids outside 0..V-1 are a ValueError (ids at
        padded steps, beyond ``lengths``, are ignored). With float X it must
        be None or X's n_features.
    random_state : None, int or numpy.random.Generator, default=None
        Seeds initialization, the validation split and the shuffling of the
        mini-batches; an int makes ``fit`` reproducible bit for bit.
    verbose : int, default=0
        1: one line per epoch (loss, validation score, elapsed time,
        sequences/s); 2: also a progress bar within each epoch. To stdout.
    warm_start : bool, default=False
        Let ``fit`` start from the current weights (fresh optimizer state) and
        extend ``loss_curve_`` and ``n_iter_``.
    n_threads : int or None, default=None
        The most threads the kernels may use in this estimator's methods
        (:func:`fastrnn.threads` around each call). None: the default limit,
        which follows ``FASTRNN_NUM_THREADS``, ``OMP_NUM_THREADS``,
        ``threadpoolctl`` and the inner limits of joblib and dask workers.
        Results do not depend on it.
"""

_ATTRS_DOC = """
    Attributes
    ----------
    W_xh_, W_hh_, b_ : ndarray (n_features, n_hidden), (n_hidden, n_hidden), (n_hidden,)
        Recurrence weights (``h_t = act(x_t @ W_xh_ + h_{t-1} @ W_hh_ + b_)``).
    h0_ : ndarray (n_hidden,)
        Learned initial state; only with ``learn_initial_state=True``.
    W_hy_, b_y_ : ndarray (n_hidden, %(k)s), (%(k)s,)
        Readout ``y_t = h_t @ W_hy_ + b_y_``; absent with ``readout=False``.
    n_features_in_ : int
        Features per step of X; for integer ids, the vocabulary size V.
    n_outputs_ : int
        %(n_outputs)s
    loss_curve_ : list of float
        Training objective of each epoch: the mean loss over the epoch's taught
        outputs plus the L2 term at the end of the epoch.
    validation_scores_ : list of float or None
        Score of the held-out sequences after each epoch (early stopping only).
    best_validation_score_ : float or None
        Best of ``validation_scores_`` (early stopping only).
    best_loss_ : float or None
        Lowest ``loss_curve_`` value (without early stopping).
    n_iter_ : int
        Number of epochs run (``fit`` and ``partial_fit`` calls add up with
        ``warm_start`` / ``partial_fit``).%(extra)s

    Notes
    -----
    *Initialization.* ``W_xh_`` and ``W_hy_`` are Glorot-uniform
    (``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``), which keeps the
    variance of the activations and gradients about equal across the layer.
    For tanh, ``W_hh_`` is a random orthogonal matrix (Saxe et al., 2014): all
    its singular values are 1, so at the start the linearized recurrence
    neither amplifies nor shrinks the hidden state or the gradients that BPTT
    sends back through many steps (a spectral radius far above 1 makes them
    explode, far below 1 vanish). For relu, ``W_hh_`` is the identity (the
    IRNN of Le, Jaitly and Hinton, 2015), which makes the network start as an
    integrator of its inputs. Biases and ``b_y_`` start at zero. A learned
    ``h0_`` starts from a small random guess, ``U(-0.1, 0.1)`` for tanh and
    ``U(0, 0.1)`` for relu (in the activation's range), drawn after the other
    weights so that these do not depend on ``learn_initial_state``; a
    symmetric zero start would give every unit the same role at step 0.

    *Initial states.* Each unit of ``h_{-1}`` comes from ``initial_state``
    where it is given (where ``initial_state_mask`` is True, or everywhere
    without a mask), else from ``h0_``, else is 0. BPTT computes the gradient
    w.r.t. each sequence's initial state; ``h0_`` receives its sum over the
    mini-batch at the units that start from ``h0_``, the units set from
    ``initial_state`` pass none.

    *Teaching signals.* Targets may be on the readout or, with
    ``readout=False``, on hidden units 0..k-1 directly (e.g. desired final
    activities, or an attractor: the same pattern at the last K steps).
    ``target_mask`` selects any subset of steps (and, for the regressor, of
    output values) to teach.

    *Stepping.* :meth:`step` advances a fitted model by one step or a chunk
    and returns the new state; stepping through a sequence gives the same
    outputs as :meth:`predict` on the whole of it.

    *Loss.* Each update minimizes the mean loss over the taught outputs of its
    mini-batch (or truncated-BPTT window; for a regressor with a
    ``target_mask``, the mean squared error over its taught values) plus the
    L2 term; padded steps
    (beyond ``lengths``) are never taught. A window without taught outputs
    (e.g. an early window with ``output_steps="last"``) only carries the state.

    *Non-finite values.* If the loss, a gradient or an updated weight is not
    finite, training stops with :class:`NonFiniteLossError` and the estimator
    keeps its last finite weights.
"""


def _with_threads(method):
    """Run an estimator method under its n_threads limit (fastrnn.threads)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        n = self._check_param("n_threads")
        if n is None:
            return method(self, *args, **kwargs)
        with _threads.threads(n):
            return method(self, *args, **kwargs)
    return wrapper


class _BaseRNN(ParamsMixin):
    """Shared machinery of RNNRegressor and RNNClassifier."""

    _loss = None  # losses.SquaredError or losses.SoftmaxCrossEntropy

    def __init__(
        self,
        n_hidden=64,
        *,
        activation="tanh",
        output_steps="all",
        readout=True,
        learn_initial_state=False,
        optimizer="adam",
        learning_rate=0.001,
        momentum=0.9,
        nesterov=False,
        alpha=0.0001,
        clip_norm=5.0,
        batch_size=32,
        max_epochs=100,
        bptt_steps=None,
        early_stopping=False,
        validation_fraction=0.1,
        tol=0.0001,
        n_iter_no_change=10,
        dtype="float32",
        n_symbols=None,
        random_state=None,
        verbose=0,
        warm_start=False,
        n_threads=None,
    ):
        self.n_hidden = n_hidden
        self.activation = activation
        self.output_steps = output_steps
        self.readout = readout
        self.learn_initial_state = learn_initial_state
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
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
        self.n_symbols = n_symbols
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_threads = n_threads

    # ---------------------------------------------------------------- checks

    def _is_fitted(self):
        return hasattr(self, "W_hh_")

    def _check_fitted(self):
        if not self._is_fitted():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def _output_steps(self):
        """output_steps, validated (for predict/score, which need no other param)."""
        return self._check_param("output_steps")

    def _prepare_inputs(self, X, lengths, initial_state, initial_state_mask, dtype, H,
                        fitted, n_symbols=None):
        """Checked inputs, as a Batch without targets (see _data.prepare_inputs)."""
        return _data.prepare_inputs(type(self).__name__, X, lengths, initial_state,
                                    initial_state_mask, dtype, H, n_symbols=n_symbols,
                                    n_features=self.n_features_in_ if fitted else None)

    def _prepare(self, X, y, lengths, initial_state, initial_state_mask, target_mask, cfg,
                 *, fitted, classes=None):
        """Checked Batch for training (sets classes_ when fitting from scratch)."""
        data = self._prepare_inputs(X, lengths, initial_state, initial_state_mask, cfg.dtype,
                                    cfg.n_hidden, fitted, cfg.n_symbols)
        self._add_targets(data, y, target_mask, cfg.output_steps, cfg.dtype, fitted=fitted,
                          classes=classes)
        if not cfg.readout:
            _data.check_unit_targets(type(self).__name__, data, cfg.n_hidden, cfg.activation)
        return data

    def _add_targets(self, data, y, target_mask, output_steps, dtype, *, fitted,
                     classes=None, raw=False):
        """Check y (and target_mask) and set data.Y, steps, valid, vmask.

        raw: for score, a classifier's labels are kept as they are (not encoded).
        """
        def encode(y, n, T, lengths, valid, vmask):
            return self._encode_targets(y, n, T, lengths, output_steps, valid, dtype,
                                        fitted=fitted, classes=classes, vmask=vmask, raw=raw)
        return _data.add_targets(data, y, target_mask, output_steps, encode,
                                 multi_ok=self._estimator_type == "regressor")


    # ----------------------------------------------------------- parameters

    def _params(self):
        """The trainable arrays (the fitted attributes themselves), by name."""
        d = self.__dict__
        return {k: d[k + "_"] for k in _training.PARAM_NAMES if k + "_" in d}

    def _initialize(self, cfg, n_features, n_outputs, rng):
        """Draw the initial weights (see the class Notes) and reset the fit history."""
        params = _training.init_params(cfg, n_features, n_outputs, rng)
        for key in _training.PARAM_NAMES:
            if key in params:
                setattr(self, key + "_", params[key])
            else:
                self.__dict__.pop(key + "_", None)
        self.n_features_in_ = n_features
        self.n_outputs_ = n_outputs
        self.n_iter_ = 0
        self.loss_curve_ = []
        self.validation_scores_ = [] if cfg.early_stopping else None
        self.best_validation_score_ = None
        self.best_loss_ = None if cfg.early_stopping else math.inf
        self.__dict__.pop("_optimizer", None)

    def _check_continuation(self, cfg, X):
        """warm_start/partial_fit: the data and hyperparameters must fit the weights."""
        o = type(self).__name__
        if X is not None and X.ndim == 3 and X.shape[2] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[2]} features per step, but {o} was fitted with "
                f"{self.n_features_in_}"
            )
        if cfg.n_symbols is not None and cfg.n_symbols != self.n_features_in_:
            raise ValueError(
                f"{o}: n_symbols={cfg.n_symbols} differs from the fitted vocabulary size "
                f"n_features_in_={self.n_features_in_}; set warm_start=False to refit"
            )
        if cfg.n_hidden != self.W_hh_.shape[0]:
            raise ValueError(
                f"{o}: n_hidden={cfg.n_hidden} differs from the fitted weights "
                f"({self.W_hh_.shape[0]}); set warm_start=False to refit"
            )
        if cfg.dtype != self.W_hh_.dtype:
            raise ValueError(
                f"{o}: dtype={cfg.dtype.name} differs from the fitted weights "
                f"({self.W_hh_.dtype.name}); set warm_start=False to refit"
            )
        if cfg.learn_initial_state != hasattr(self, "h0_"):
            raise ValueError(
                f"{o}: learn_initial_state={cfg.learn_initial_state} differs from the "
                "fitted model; set warm_start=False to refit"
            )
        if cfg.readout != hasattr(self, "W_hy_"):
            raise ValueError(
                f"{o}: readout={cfg.readout} differs from the fitted model; set "
                "warm_start=False to refit"
            )

    # ------------------------------------------------ hidden states <-> outputs

    def _batch_h0(self, init, mask=None):
        """The initial state of a mini-batch, and where h0_'s gradient comes from.

        Each unit starts from the caller's per-sequence ``init`` (B, H) where
        ``mask`` (H,) is True (every unit when mask is None and init is
        given), else from the learned ``h0_`` (H,), else from zero. Returns
        ``(h0, free)`` as :func:`fastrnn._data.compose_h0`: h0 is None (zeros), h0_ itself
        (H,) (shared by the batch: the functional API returns its gradient
        summed over the batch) or (B, H); :func:`fastrnn._data.h0_gradient` turns
        backward's dh0 into h0_'s gradient.
        """
        base = self.__dict__.get("h0_")
        dt = self.W_hh_.dtype
        return _data.compose_h0(base, init, mask, dt)

    def _objective(self, X, y, *, lengths=None, initial_state=None, initial_state_mask=None,
                   target_mask=None):
        """Objective of one mini-batch (all of X, full BPTT) and its gradients.

        The training objective of a mini-batch: mean loss over the taught
        outputs plus ``0.5 * alpha * |W|^2``. For tests (finite differences):
        grads also holds ``"initial_state"``, the gradient w.r.t. the
        initial_state argument (n, H) (zero at units it does not set), when
        one is given.
        """
        self._check_fitted()
        cfg = self._check_hyperparameters()
        data = self._prepare(X, y, lengths, initial_state, initial_state_mask, target_mask,
                             cfg, fitted=True)
        return _training.Trainer(self._params(), self._loss, cfg).objective(data)

    # ----------------------------------------------------------------- training

    def _fit(self, X, y, lengths, initial_state, initial_state_mask, target_mask, *,
             incremental, classes=None):
        cfg = self._check_hyperparameters()
        fitted = self._is_fitted()
        cont = fitted and (incremental or cfg.warm_start)
        if cont:
            self._check_continuation(cfg, None)
            data = self._prepare(X, y, lengths, initial_state, initial_state_mask,
                                 target_mask, cfg, fitted=True)
            self._check_continuation(cfg, data.X)
            rng = self.__dict__.get("_rng") if incremental else None
            if rng is None:
                rng = make_rng(self.random_state)
        else:
            data = self._prepare(X, y, lengths, initial_state, initial_state_mask,
                                 target_mask, cfg, fitted=False, classes=classes)
            rng = make_rng(self.random_state)
            self._initialize(cfg, data.n_in, self._n_outputs_for(data), rng)
        self._rng = rng
        self._optimizer = _training.optimizer_for(cfg, self.__dict__.get("_optimizer"),
                                                  incremental)
        if cfg.early_stopping and not incremental:
            if self.validation_scores_ is None:
                self.validation_scores_ = []
            train, val = _training.split_validation(type(self).__name__, data,
                                                    self.validation_fraction, rng)
        else:
            train, val = data, None
        trainer = _training.Trainer(self._params(), self._loss, cfg, self._optimizer)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            _training.run_epochs(self, trainer, train, val, rng,
                                 1 if incremental else cfg.max_epochs, incremental,
                                 self._score_data)
        return self

    # ---------------------------------------------------------------- predict

    def _forward_outputs(self, data, output_steps, want_state):
        """Outputs at the taught slots of checked inputs (a Batch): out (n, S, k),
        valid (n, S) (None when every slot is a true step), final states."""
        X, lengths, init = data.X, data.lengths, data.init
        W_hh = self.W_hh_
        H = W_hh.shape[0]
        n, T = X.shape[:2]
        steps, valid = _losses.taught_steps(output_steps, T, lengths, n)
        S = T if steps is None else steps.shape[1]
        W_hy, b_y = self.__dict__.get("W_hy_"), self.__dict__.get("b_y_")
        k = self.n_outputs_
        out = np.empty((n, S, k), dtype=W_hh.dtype)
        h_last = np.empty((n, H), dtype=W_hh.dtype) if want_state else None
        chunk = max(1, min(n, _PREDICT_CHUNK_VALUES // (T * H)))
        activation = self._check_param("activation")
        for i in range(0, n, chunk):
            sl = slice(i, i + chunk)
            Lb = None if lengths is None else lengths[sl]
            h0, _ = self._batch_h0(None if init is None else init[sl], data.init_mask)
            h = _F.forward(X[sl], self.W_xh_, W_hh, self.b_, h0, activation=activation,
                           lengths=Lb)
            b = h.shape[0]
            if steps is None:
                hs = h.reshape(b * T, H)
            else:
                hs = h[np.arange(b)[:, None], steps[sl]].reshape(-1, H)
            out[sl] = _losses.readout(hs, W_hy, b_y, k).reshape(b, S, k)
            if want_state:
                h_last[sl] = h[:, -1] if Lb is None else h[np.arange(b), Lb - 1]
        return out, valid, h_last

    def _check_inputs(self, X, lengths, initial_state, initial_state_mask):
        """Checked inputs of a fitted model (predict, score, step)."""
        self._check_fitted()
        return self._prepare_inputs(X, lengths, initial_state, initial_state_mask,
                                    self.W_hh_.dtype, self.W_hh_.shape[0], True)

    def _predict_raw(self, X, lengths, initial_state, initial_state_mask, want_state,
                     output_steps=None):
        self._check_fitted()
        if output_steps is None:
            output_steps = self._output_steps()
        if lengths is None and initial_state is None and initial_state_mask is None:
            small = self._step_small(X, None)  # a few short sequences: no packing
            if small is not None and (isinstance(output_steps, str)
                                      or output_steps <= small[0].shape[1]):
                out, h_last = small
                n, T = out.shape[:2]
                steps, valid = _losses.taught_steps(output_steps, T, None, n)
                if steps is not None:
                    out = out[np.arange(n)[:, None], steps]
                return out, valid, (h_last if want_state else None)
        data = self._check_inputs(X, lengths, initial_state, initial_state_mask)
        return self._forward_outputs(data, output_steps, want_state)

    @staticmethod
    def _shape_output(out, output_steps):
        """(n, S, ...) -> the layout of y: (n, T, ...), (n, ...) or (n, K, ...)."""
        return out[:, 0] if output_steps == "last" else out

    def _score_data(self, data):
        """Score of checked Batch with targets (early stopping)."""
        out, _, _ = self._forward_outputs(data, self._output_steps(), False)
        return self._score_outputs(out, data.valid, data.Y, True, data.vmask)

    def _score(self, X, y, lengths, initial_state, initial_state_mask, target_mask):
        """score(): the taught outputs' score (see the subclasses)."""
        self._check_fitted()
        output_steps = self._output_steps()
        data = self._check_inputs(X, lengths, initial_state, initial_state_mask)
        self._add_targets(data, y, target_mask, output_steps, self.W_hh_.dtype, fitted=True,
                          raw=True)
        out, _, _ = self._forward_outputs(data, output_steps, False)
        return self._score_outputs(out, data.valid, data.Y, False, data.vmask)

    # ------------------------------------------------------------------ stepping

    @_with_threads
    def start_state(self, n_sequences, initial_state=None, initial_state_mask=None):
        """The hidden state the sequences start from, as :meth:`predict` builds it.

        Parameters
        ----------
        n_sequences : int
        initial_state, initial_state_mask : optional
            As in :meth:`fit`.

        Returns
        -------
        ndarray (n_sequences, n_hidden)
            Each unit from ``initial_state`` (the units of
            ``initial_state_mask``; all of them when it is None), else from the
            learned ``h0_``, else 0. Pass it to :meth:`step` as ``state``.
        """
        self._check_fitted()
        n = check_int(type(self).__name__, "n_sequences", n_sequences, 1)
        H, dt = self.W_hh_.shape[0], self.W_hh_.dtype
        mask = _data.check_initial_state_mask(initial_state_mask, H, initial_state is not None)
        init = _data.check_initial_state(initial_state, n, H, dt, mask)
        if mask is not None and mask.all():
            mask = None
        h0, _ = self._batch_h0(init, mask)
        if h0 is None:
            return np.zeros((n, H), dtype=dt)
        return np.array(np.broadcast_to(h0, (n, H)), dtype=dt, order="C")

    def _step_raw(self, X, state):
        """Outputs of every step of a chunk (n, k_steps, n_outputs) and the new state."""
        self._check_fitted()
        small = self._step_small(X, state)
        if small is not None:
            return small
        data = self._check_inputs(X, None, None, None)
        n = data.X.shape[0]
        if state is None:
            state = self.start_state(n)
        data.init = _data.check_initial_state(state, n, self.W_hh_.shape[0], self.W_hh_.dtype,
                                         name="state")
        out, _, h_last = self._forward_outputs(data, "all", True)
        return out, h_last

    def _step_small(self, X, state):
        """_step_raw's fast path for a few sequences and steps of a model with
        a readout: (out, new state), or None when the call is not such a call
        or anything in it needs the full checks (which then raise).

        Nothing is packed (the kernel reads the weights in place) and the
        weights' values are not scanned again: only their dtypes, shapes and
        layout, and the inputs and state, are checked here. Results are the
        same bits as the full path's."""
        W_hy = self.__dict__.get("W_hy_")
        W_hh = self.__dict__.get("W_hh_")
        if W_hy is None or W_hh is None or self.activation not in ACTIVATIONS:
            return None
        dt = W_hh.dtype
        H, (_, N) = W_hh.shape[0], W_hy.shape
        V = self.n_features_in_
        weights = ((self.W_xh_, (V, H)), (W_hh, (H, H)), (self.b_, (H,)), (W_hy, (H, N)),
                   (self.b_y_, (N,)))
        for w, shape in weights:
            if (not isinstance(w, np.ndarray) or w.dtype != dt or w.shape != shape
                    or not w.flags.c_contiguous):
                return None
        X = np.asarray(X)
        if X.ndim < 2 or X.shape[0] * X.shape[1] > _SMALL_STEP or 0 in X.shape[:2]:
            return None
        n, k = X.shape[:2]
        x = ids = None
        if X.dtype.kind in "iu" and X.ndim == 2:
            ids = np.array(X, dtype=np.intp, copy=True)  # checked and used: one private copy
            values = ids.ravel().tolist()  # (a few values: faster than two reductions)
            if min(values) < 0 or max(values) >= V:
                return None
        elif X.dtype.kind == "f" and X.ndim == 3 and X.shape[2] == V:
            x = np.array(X, dtype=dt, order="C", copy=True)
            if not _all_finite(x.reshape(-1)):
                return None
        else:
            return None
        if state is None:
            h0 = self.start_state(n)
        else:
            h0 = np.array(state, dtype=dt, order="C", copy=True) if np.ndim(state) == 2 else None
            if h0 is None or h0.shape != (n, H) or not _all_finite(h0.reshape(-1)):
                return None
        h_work = np.empty((n, H), dtype=dt)
        h_last = np.empty((n, H), dtype=dt)
        out = np.empty((n, k, N), dtype=dt)
        t_work = np.empty(max(H, N), dtype=dt)
        _step_rows(dt)(
            x, ids, self.W_xh_, W_hh, self.b_, h0, W_hy, self.b_y_, h_work, h_last, out,
            t_work, _F._ACTIVATION_CODES[self.activation])
        return out, h_last

    # ------------------------------------------------------------------- save

    def save(self, path):
        """Save the fitted model to an ``.npz`` file (read back with :func:`fastrnn.load`).

        The file holds a format version, the hyperparameters (JSON), the weights,
        the fitted attributes and ``classes_``, the optimizer's state (Adam's
        moments, SGD's velocity, Adagrad's sums, the step count) and the state of
        the random generator that shuffles the mini-batches, all as plain arrays:
        it is read with ``allow_pickle=False``, and ``partial_fit`` on the loaded
        model continues exactly as it would have on this one. A
        ``random_state`` that is not an int is saved as None.

        A path is written atomically: into a temporary file in the same
        directory, flushed to disk (``os.fsync``), renamed over ``path``, and
        the directory synced; on any failure the temporary file is removed and
        an existing file at ``path`` is left as it was.

        Parameters
        ----------
        path : str, path-like or writable binary file
            Written exactly there (no extension is added).
        """
        _persist.save(self, path)


class RNNRegressor(_BaseRNN):
    """Vanilla (Elman) RNN regressor trained with BPTT on mean squared error.

    ``h_t = act(x_t @ W_xh_ + h_{t-1} @ W_hh_ + b_)``, ``y_t = h_t @ W_hy_ + b_y_``
    (or, with ``readout=False``, ``y_t = h_t[:k]``: teaching signals on the
    units), trained on the mean squared error over every taught output value.
    The initial state ``h_{-1}`` is zeros, a learned ``h0_``, or given per
    sequence (input through the initial state, possibly for a subset of the
    units); :meth:`step` runs a fitted model step by step.
    %(params)s
    %(attrs)s
    Examples
    --------
    >>> import numpy as np
    >>> from fastrnn import RNNRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(64, 10, 1))
    >>> y = np.cumsum(X, axis=1) / 3          # a target at every step
    >>> model = RNNRegressor(n_hidden=16, max_epochs=5, random_state=0).fit(X, y)
    >>> model.predict(X).shape
    (64, 10, 1)
    """

    _loss = _losses.SquaredError
    _estimator_type = "regressor"
    _persist_hooks = _persist.REGRESSOR

    @_with_threads
    def fit(self, X, y, *, lengths=None, initial_state=None, initial_state_mask=None,
            target_mask=None):
        """Train from scratch (or from the current weights with ``warm_start``).

        Parameters
        ----------
        X : array-like (n_sequences, n_steps, n_features), or int (n_sequences, n_steps)
            Input sequences, padded to n_steps; n_features may be 0 (then the
            initial state is the only input). Or integer ids in 0..V-1 (see
            ``n_symbols``), one-hot rows of a (n, n_steps, V) input. A 3-D
            integer X is numeric input like a float one.
        y : array-like
            (n, n_steps, n_outputs) or (n, n_steps) for ``output_steps="all"``;
            (n, n_outputs) or (n,) for ``"last"``; (n, K, n_outputs) or (n, K)
            for an int K. Values at padded steps are ignored. With
            ``readout=False``, y's n_outputs columns are the desired activities
            of hidden units 0..n_outputs-1 (n_outputs <= n_hidden), which must
            lie in the activation's range (tanh: [-1, 1], relu: >= 0).
        lengths : array-like of int (n_sequences,), optional
            True length of each sequence (1..n_steps); padded steps carry no loss.
        initial_state : array-like (n_sequences, n_hidden), optional
            Initial activities of the units for each sequence (input through the
            initial state): ``h_{-1}``. Overrides ``h0_`` at the units it sets,
            which then take no gradient into ``h0_``.
        initial_state_mask : array-like of bool (n_hidden,), optional
            Only these units are set from ``initial_state`` (its other columns
            are ignored); the others start from ``h0_`` (or 0), and only they
            pass their gradient to ``h0_``. None: all units. Needs
            ``initial_state``.
        target_mask : array-like of bool, y's shape, optional
            Teach only the True entries of y (any subset of steps and output
            values); the others take no loss (they may hold NaN). The loss is
            the mean squared error over the taught values.

        Returns
        -------
        self
        """
        return self._fit(X, y, lengths, initial_state, initial_state_mask, target_mask,
                         incremental=False)

    @_with_threads
    def partial_fit(self, X, y, *, lengths=None, initial_state=None, initial_state_mask=None,
                    target_mask=None):
        """One epoch over (X, y), continuing from the current weights and optimizer state.

        Parameters and return value as in :meth:`fit`. Early stopping, ``tol``
        and ``max_epochs`` do not apply.
        """
        return self._fit(X, y, lengths, initial_state, initial_state_mask, target_mask,
                         incremental=True)

    @_with_threads
    def predict(self, X, *, lengths=None, initial_state=None, initial_state_mask=None,
                return_state=False):
        """Predict the taught outputs.

        Parameters
        ----------
        X, lengths, initial_state, initial_state_mask
            As in :meth:`fit`.
        return_state : bool, default=False
            Also return each sequence's hidden state at its last true step;
            passing it as ``initial_state`` with the next part of the sequences
            continues them exactly.

        Returns
        -------
        y_pred : ndarray
            Shaped like y in :meth:`fit` (without the output axis when y had
            none). Padded steps (``output_steps="all"``) hold 0. With
            ``readout=False``, the activities of units 0..n_outputs-1.
        final_state : ndarray (n_sequences, n_hidden)
            Only with ``return_state=True``.
        """
        out, valid, h_last = self._predict_raw(X, lengths, initial_state, initial_state_mask,
                                               return_state)
        if valid is not None:
            out[~valid] = 0
        if self._single_output_:
            out = out[..., 0]
        y = self._shape_output(out, self._output_steps())
        return (y, h_last) if return_state else y

    @_with_threads
    def step(self, X, state=None):
        """Advance the model by the steps of X, carrying the hidden state.

        ``state`` is the hidden state before X's first step; the returned
        state, after its last step, continues the sequences in the next call.
        Running a sequence chunk by chunk (or one step at a time) gives the
        same outputs as :meth:`predict` on the whole sequence.

        Parameters
        ----------
        X : array-like (n_sequences, k, n_features) or int ids (n_sequences, k)
            The next k >= 1 steps of every sequence (no padding).
        state : array-like (n_sequences, n_hidden), optional
            None: the start state, :meth:`start_state` (``h0_`` or zeros).

        Returns
        -------
        y_steps : ndarray (n_sequences, k, n_outputs), or (n_sequences, k)
            The output at every step of the chunk, whatever ``output_steps``
            is: what :meth:`predict` with ``output_steps="all"`` returns for
            those steps (no output axis when y had none in ``fit``). Where
            ``output_steps`` teaches a step, its output equals predict's.
        new_state : ndarray (n_sequences, n_hidden)
            The hidden state after the last step of the chunk.
        """
        out, h_last = self._step_raw(X, state)
        if self._single_output_:
            out = out[..., 0]
        return out, h_last

    @_with_threads
    def score(self, X, y, *, lengths=None, initial_state=None, initial_state_mask=None,
              target_mask=None):
        """Coefficient of determination R² over all taught outputs.

        Each output dimension's R² is computed over every taught step of every
        sequence (with ``target_mask``, over its taught values), and they are
        averaged (scikit-learn's ``r2_score``). Arguments as in :meth:`fit`.

        Returns
        -------
        float
        """
        return self._score(X, y, lengths, initial_state, initial_state_mask, target_mask)

    # -- regressor specifics

    def _n_outputs_for(self, data):
        return data.Y.shape[2]

    def _encode_targets(self, y, n, T, lengths, output_steps, valid, dtype, *, fitted,
                        classes=None, vmask=None, raw=False):
        Y, single = _data.regression_targets(
            type(self).__name__, y, n, T, lengths, output_steps, valid, vmask, dtype,
            n_outputs=self.n_outputs_ if fitted else None)
        if not fitted:
            self._single_output_ = single
        return Y

    def _score_outputs(self, out, valid, Y, encoded, vmask=None):
        k = out.shape[2]
        if valid is None:
            return _r2(Y.reshape(-1, k), out.reshape(-1, k))
        return _r2(Y[valid], out[valid], None if vmask is None else vmask[valid])



class RNNClassifier(_BaseRNN):
    """Vanilla (Elman) RNN classifier trained with BPTT on softmax cross-entropy.

    ``h_t = act(x_t @ W_xh_ + h_{t-1} @ W_hh_ + b_)``; the logits
    ``h_t @ W_hy_ + b_y_`` of each taught step give class probabilities by
    softmax, and training minimizes the mean cross-entropy (computed with a
    stable log-softmax). Labels may be any sortable values (strings too).
    Initial states, ``target_mask`` and :meth:`step` work as in
    :class:`RNNRegressor`; ``readout=False`` is not supported.
    %(params)s
    %(attrs)s
    Examples
    --------
    >>> import numpy as np
    >>> from fastrnn import RNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 12, 1))
    >>> y = np.where(X[:, 0, 0] > 0, "up", "down")   # remember the first step
    >>> clf = RNNClassifier(n_hidden=16, output_steps="last", max_epochs=5,
    ...                     random_state=0).fit(X, y)
    >>> clf.classes_.tolist()
    ['down', 'up']
    """

    _loss = _losses.SoftmaxCrossEntropy
    _estimator_type = "classifier"
    _persist_hooks = _persist.CLASSIFIER
    _parameter_constraints = dict(PARAMETERS, readout=(BOOLEAN, Rule(
        "True", bool, message=lambda owner, name, value: (
            f"{owner}: readout=False is not supported (class probabilities need the "
            "readout's logits); to teach the hidden units themselves, use "
            "RNNRegressor(readout=False) with the desired activities as y"))))

    @_with_threads
    def fit(self, X, y, *, lengths=None, initial_state=None, initial_state_mask=None,
            target_mask=None):
        """Train from scratch (or from the current weights with ``warm_start``).

        Parameters
        ----------
        X : array-like (n_sequences, n_steps, n_features), or int (n_sequences, n_steps)
            Input sequences, padded to n_steps; n_features may be 0 (then the
            initial state is the only input). Or integer ids in 0..V-1 (see
            ``n_symbols``), one-hot rows of a (n, n_steps, V) input. A 3-D
            integer X is numeric input like a float one.
        y : array-like of labels
            (n, n_steps) for ``output_steps="all"``, (n,) for ``"last"``,
            (n, K) for an int K. Labels at padded steps are ignored.
        lengths : array-like of int (n_sequences,), optional
            True length of each sequence (1..n_steps); padded steps carry no loss.
        initial_state : array-like (n_sequences, n_hidden), optional
            Initial activities of the units for each sequence (input through the
            initial state): ``h_{-1}``. Overrides ``h0_`` at the units it sets,
            which then take no gradient into ``h0_``.
        initial_state_mask : array-like of bool (n_hidden,), optional
            Only these units are set from ``initial_state`` (its other columns
            are ignored); the others start from ``h0_`` (or 0), and only they
            pass their gradient to ``h0_``. None: all units. Needs
            ``initial_state``.
        target_mask : array-like of bool, y's shape, optional
            Teach only the True entries of y (any subset of steps); the others
            take no loss and may hold any label.

        Returns
        -------
        self
        """
        return self._fit(X, y, lengths, initial_state, initial_state_mask, target_mask,
                         incremental=False)

    @_with_threads
    def partial_fit(self, X, y, classes=None, *, lengths=None, initial_state=None,
                    initial_state_mask=None, target_mask=None):
        """One epoch over (X, y), continuing from the current weights and optimizer state.

        Parameters
        ----------
        classes : array-like, optional
            All the labels that can occur; required on the first call.

        Other parameters and return value as in :meth:`fit`.
        """
        if not self._is_fitted():
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit "
                    "(all the labels that can occur)"
                )
            classes = _data.unique_labels(np.asarray(classes).ravel(), "classes")
        elif classes is not None:
            c = _data.unique_labels(np.asarray(classes).ravel(), "classes")
            if c.shape != self.classes_.shape or not np.array_equal(c, self.classes_):
                raise ValueError(
                    f"classes={c!r} differs from the classes of a previous call "
                    f"({self.classes_!r})"
                )
        return self._fit(X, y, lengths, initial_state, initial_state_mask, target_mask,
                         incremental=True, classes=classes)

    @_with_threads
    def predict_proba(self, X, *, lengths=None, initial_state=None, initial_state_mask=None,
                      return_state=False):
        """Class probabilities of the taught outputs.

        Parameters as in :meth:`predict`.

        Returns
        -------
        proba : ndarray
            (n, n_steps, n_classes), (n, n_classes) or (n, K, n_classes)
            following ``output_steps``, columns in the order of ``classes_``;
            rows of padded steps are 0.
        final_state : ndarray (n_sequences, n_hidden)
            Only with ``return_state=True`` (see :meth:`predict`).
        """
        out, valid, h_last = self._predict_raw(X, lengths, initial_state, initial_state_mask,
                                               return_state)
        proba = _losses.softmax(out)
        if valid is not None:
            proba[~valid] = 0
        proba = self._shape_output(proba, self._output_steps())
        return (proba, h_last) if return_state else proba

    @_with_threads
    def predict(self, X, *, lengths=None, initial_state=None, initial_state_mask=None,
                return_state=False):
        """Predicted labels of the taught outputs.

        Parameters
        ----------
        X, lengths, initial_state, initial_state_mask
            As in :meth:`fit`.
        return_state : bool, default=False
            Also return each sequence's hidden state at its last true step;
            passing it as ``initial_state`` continues the sequences exactly.

        Returns
        -------
        y_pred : ndarray
            (n, n_steps), (n,) or (n, K) labels from ``classes_``; padded
            steps hold ``classes_[0]``.
        final_state : ndarray (n_sequences, n_hidden)
            Only with ``return_state=True``.
        """
        out, valid, h_last = self._predict_raw(X, lengths, initial_state, initial_state_mask,
                                               return_state)
        idx = out.argmax(axis=2)
        if valid is not None:
            idx[~valid] = 0
        y = self.classes_[self._shape_output(idx, self._output_steps())]
        return (y, h_last) if return_state else y

    @_with_threads
    def step(self, X, state=None, *, return_proba=False):
        """Advance the model by the steps of X, carrying the hidden state.

        ``state`` is the hidden state before X's first step; the returned
        state, after its last step, continues the sequences in the next call
        (e.g. to sample a character model one symbol at a time). Running a
        sequence chunk by chunk (or one step at a time) gives the same outputs
        as :meth:`predict` / :meth:`predict_proba` on the whole sequence.

        Parameters
        ----------
        X : array-like (n_sequences, k, n_features) or int ids (n_sequences, k)
            The next k >= 1 steps of every sequence (no padding).
        state : array-like (n_sequences, n_hidden), optional
            None: the start state, :meth:`start_state` (``h0_`` or zeros).
        return_proba : bool, default=False
            Return class probabilities instead of labels.

        Returns
        -------
        y_steps : ndarray (n_sequences, k) of labels, or (n_sequences, k, n_classes)
            The prediction at every step of the chunk, whatever
            ``output_steps`` is: what predict (predict_proba) with
            ``output_steps="all"`` returns for those steps. Where
            ``output_steps`` teaches a step, it equals predict's.
        new_state : ndarray (n_sequences, n_hidden)
            The hidden state after the last step of the chunk.
        """
        out, h_last = self._step_raw(X, state)
        if return_proba:
            return _losses.softmax(out), h_last
        return self.classes_[out.argmax(axis=2)], h_last

    @_with_threads
    def score(self, X, y, *, lengths=None, initial_state=None, initial_state_mask=None,
              target_mask=None):
        """Accuracy over all taught outputs (every taught step of every sequence).

        Arguments as in :meth:`fit`; labels not in ``classes_`` count as errors.

        Returns
        -------
        float
        """
        return self._score(X, y, lengths, initial_state, initial_state_mask, target_mask)

    # -- classifier specifics

    def _n_outputs_for(self, data):
        return len(self.classes_)

    def _encode_targets(self, y, n, T, lengths, output_steps, valid, dtype, *, fitted,
                        classes=None, vmask=None, raw=False):
        if fitted:
            classes = self.classes_
        elif classes is not None and not raw:
            self.classes_ = classes
        codes, classes = _data.label_targets(y, n, T, lengths, output_steps, valid, classes,
                                             raw)
        if not fitted and not raw:
            self.classes_ = classes
        return codes

    def _score_outputs(self, out, valid, Y, encoded, vmask=None):
        idx = out.argmax(axis=2)
        if encoded:
            hit = idx == Y
        else:
            hit = _data.labels_equal(self.classes_[idx], Y)
        return float(hit.mean() if valid is None else hit[valid].mean())








for _cls, _shapes in (
    (RNNRegressor, {"all": "(n, T, n_outputs) or (n, T)", "last": "(n, n_outputs) or (n,)",
                    "K": "(n, K, n_outputs) or (n, K)"}),
    (RNNClassifier, {"all": "(n, T) of labels", "last": "(n,)", "K": "(n, K)"}),
):
    _k = "n_outputs" if _cls is RNNRegressor else "n_classes"
    _cls.__doc__ = _cls.__doc__ % {
        "params": _PARAMS_DOC % _shapes,
        "attrs": _ATTRS_DOC % {
            "k": _k,
            "n_outputs": ("Output values per target." if _cls is RNNRegressor
                          else "Number of classes (logits per target)."),
            "extra": ("" if _cls is RNNRegressor else
                      "\n    classes_ : ndarray (n_classes,)\n        The sorted class "
                      "labels seen in ``fit`` (or passed to ``partial_fit``)."),
        },
    }


# --------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------

_ESTIMATORS = {"RNNRegressor": RNNRegressor, "RNNClassifier": RNNClassifier}
# step() on at most this many (sequence, step) pairs reads the weights in
# place instead of packing them (_BaseRNN._step_small).
_SMALL_STEP = 32
_STEP_ROWS = {}


def _step_rows(dtype):
    """The kernels' _step_rows for dtype (the fused function's specialization,
    looked up once per kernel build)."""
    key = (_F.kernels, dtype)
    fn = _STEP_ROWS.get(key)
    if fn is None:
        fn = _STEP_ROWS[key] = _F.kernels._step_rows[_F._SPECIALIZATION[dtype]]
    return fn


def _all_finite(flat):
    """No NaN or inf in a small 1-D float array (the kernels' allocation-free scan)."""
    return _F.kernels._all_finite(flat) if flat.size else True

def load(path):
    """Load an estimator saved with ``save``.

    The file is read with ``allow_pickle=False``: nothing in it is unpickled.
    Everything is checked (the kind of file, format version, class,
    hyperparameters, the names, declared sizes, shapes and dtypes of the
    arrays, finiteness, classes, optimizer and generator state), and each
    array's size and ``.npy`` header are checked against what the model's own
    metadata implies before its data are read: loading any file takes about
    the memory of the arrays the model holds, plus a small constant, and a
    path that is not a regular file (a FIFO, a directory) is refused without
    blocking.

    Files of format version 1 (no optimizer state) load with a
    :class:`~fastrnn.ModelFileWarning`: ``partial_fit`` on them starts a
    fresh optimizer (Adam's moments, SGD's velocity) and shuffling.

    Parameters
    ----------
    path : str, path-like or readable, seekable binary file

    Returns
    -------
    RNNRegressor or RNNClassifier

    Raises
    ------
    ModelFileError
        A ``ValueError`` naming the file and the problem, for every file that
        cannot be loaded: missing or unreadable (then also a
        ``FileNotFoundError`` or ``PermissionError``), not a regular file,
        truncated or corrupt, not a fastrnn model, another format version,
        missing, unexpected, oversized or inconsistent contents.
    """
    return _persist.load(path, _ESTIMATORS, stacklevel=2)
