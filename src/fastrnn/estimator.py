"""Scikit-learn-style estimators on the Cython core: RNNRegressor, RNNClassifier.

This module holds the public classes, their documentation and :func:`load`.
Hyperparameters are checked in :mod:`fastrnn._params`, data in
:mod:`fastrnn._data`; :mod:`fastrnn._training` runs the epochs (truncated-BPTT
windows, early stopping, the optimizer step) and :mod:`fastrnn._persist`
saves and loads. The recurrence and its BPTT are
:func:`fastrnn.functional.forward` and :func:`fastrnn.functional.backward`;
readout and losses are in :mod:`fastrnn.losses`, optimizers and clipping in
:mod:`fastrnn.optim`, the file format in :mod:`fastrnn.io`.

The machinery both classes share is :class:`fastrnn._base.BaseRNN`; each
class adds its loss, its targets (values or labels), its score and what its
model file holds.
"""

from __future__ import annotations

import numpy as np

from . import _data, _persist, _sklearn
from . import losses as _losses
from ._base import BaseRNN, with_threads
from ._params import BOOLEAN, PARAMETERS, Rule
from ._training import NonFiniteLossError

__all__ = [
    "RNNRegressor",
    "RNNClassifier",
    "load",
    "NotFittedError",
    "ConvergenceWarning",
    "DataConversionWarning",
    "NonFiniteLossError",
]


def __getattr__(name):
    # built on first use: see fastrnn._sklearn.exception_class
    if name in _sklearn.EXCEPTIONS:
        return _sklearn.exception_class(name)
    raise AttributeError(f"module 'fastrnn.estimator' has no attribute {name!r}")


# --------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------

def _r2(y_true, y_pred, mask=None, weight=None):
    """R² of each output column, averaged (sklearn's r2_score, uniform_average).

    mask (N, k) bool, optional: each column's R² over its True entries only
    (columns without any are left out of the average). weight (N,), optional:
    each row's weight (sklearn's sample_weight)."""
    y_true = y_true.astype(np.float64)
    y_pred = y_pred.astype(np.float64)
    if mask is not None:
        cols = [j for j in range(y_true.shape[1]) if mask[:, j].any()]
        return float(np.mean([_r2(y_true[mask[:, j], j][:, None],
                                  y_pred[mask[:, j], j][:, None],
                                  weight=None if weight is None else weight[mask[:, j]])
                              for j in cols]))
    if weight is None:
        ss_res = ((y_true - y_pred) ** 2).sum(axis=0)
        ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    else:
        w = weight[:, None]
        ss_res = (w * (y_true - y_pred) ** 2).sum(axis=0)
        mean = (w * y_true).sum(axis=0) / w.sum()
        ss_tot = (w * (y_true - mean) ** 2).sum(axis=0)
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
    autoscale : bool, default=True
        Train on data of about unit size. A fit from scratch measures the
        root mean square r of each input feature (over the true steps) and,
        for a regressor with a readout, of each target column (over the
        taught values); where r is far from 1 (``log2 r`` rounds to an
        integer e outside -2..2: r < 0.18 or r > 5.7), training sees that
        column divided by ``2**e`` (``input_scale_``, ``target_scale_``).
        The initial weights and the optimizer's steps are made for unit-sized
        data: inputs in the thousands saturate tanh from the first step, and
        targets of a few hundredths stop the ``tol`` rule (and meet an L2
        penalty larger than their loss) before anything is learned. The
        fitted weights are those of the unscaled data (the scaled ones
        converted back, exactly: the scales are powers of two), so predict
        and the model's equations do not involve the scales; warm starts and
        ``partial_fit`` keep the scales of the first fit. False: train on the
        data as they are (as scikit-learn's MLP estimators do).
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
        ``warm_start`` / ``partial_fit``).
    input_scale_ : ndarray of float64 (n_features,)
        The power of two each input feature was divided by in training
        (see ``autoscale``; 1: not scaled). Not used by predict.%(target_scale)s
    last_state_ : ndarray (n_sequences, n_hidden)
        Set by ``partial_fit`` (``fit`` removes it; not saved by ``save``):
        each sequence's hidden state at its last true step, as training
        computed it (with truncated BPTT, by the window that reached that
        step, before its update). It is the state the next window would have
        started from: ``partial_fit(X2, y2, initial_state=last_state_)`` on
        the continuations X2 of the same sequences trains exactly as one
        ``partial_fit`` on the joined sequences would, window for window
        (when ``bptt_steps`` divides X's steps and the mini-batches are the
        same). This is how a long stream is trained in pieces.%(extra)s

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


class RNNRegressor(BaseRNN):
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

    @with_threads
    def fit(self, X, y, *, lengths=None, initial_state=None, initial_state_mask=None,
            target_mask=None, sample_weight=None):
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
        sample_weight : array-like of float (n_sequences,), optional
            One weight >= 0 per sequence (not all 0): the loss of each of its
            taught outputs counts that many times, so 2 is the same as giving
            the sequence twice and 0 as leaving it out. None: all 1.

        Returns
        -------
        self
        """
        return self._fit(X, y, lengths, initial_state, initial_state_mask, target_mask,
                         incremental=False, sample_weight=sample_weight)

    @with_threads
    def partial_fit(self, X, y, *, lengths=None, initial_state=None, initial_state_mask=None,
                    target_mask=None, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights and optimizer state.

        Parameters and return value as in :meth:`fit`. Early stopping, ``tol``
        and ``max_epochs`` do not apply (nor the ConvergenceWarning).
        """
        return self._fit(X, y, lengths, initial_state, initial_state_mask, target_mask,
                         incremental=True, sample_weight=sample_weight)

    @with_threads
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
        y_pred : ndarray of float64
            Shaped like y in :meth:`fit` (without the output axis when y had
            none). Padded steps (``output_steps="all"``) hold 0. With
            ``readout=False``, the activities of units 0..n_outputs-1.
            Computed in ``dtype``, returned as float64 (exactly: every
            float32 is a float64), as scikit-learn's regressors return.
        final_state : ndarray (n_sequences, n_hidden)
            Only with ``return_state=True``.
        """
        out, valid, h_last = self._predict_raw(X, lengths, initial_state, initial_state_mask,
                                               return_state)
        if valid is not None:
            out[~valid] = 0
        if self._single_output_:
            out = out[..., 0]
        y = self._shape_output(out, self._output_steps()).astype(np.float64, copy=False)
        return (y, h_last) if return_state else y

    @with_threads
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

    @with_threads
    def score(self, X, y, *, lengths=None, initial_state=None, initial_state_mask=None,
              target_mask=None, sample_weight=None):
        """Coefficient of determination R² over all taught outputs.

        Each output dimension's R² is computed over every taught step of every
        sequence (with ``target_mask``, over its taught values), and they are
        averaged (scikit-learn's ``r2_score``). Arguments as in :meth:`fit`;
        with ``sample_weight``, each taught output weighs its sequence's
        weight (``r2_score``'s ``sample_weight``).

        Returns
        -------
        float
        """
        return self._score(X, y, lengths, initial_state, initial_state_mask, target_mask,
                           sample_weight)

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

    def _score_outputs(self, out, valid, Y, encoded, vmask=None, weight=None):
        k = out.shape[2]
        w = None if weight is None else np.broadcast_to(weight[:, None], out.shape[:2])
        if valid is None:
            return _r2(Y.reshape(-1, k), out.reshape(-1, k), None,
                       None if w is None else w.reshape(-1))
        return _r2(Y[valid], out[valid], None if vmask is None else vmask[valid],
                   None if w is None else w[valid])


class RNNClassifier(_sklearn.ClassifierRoutingMixin, BaseRNN):
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

    @with_threads
    def fit(self, X, y, *, lengths=None, initial_state=None, initial_state_mask=None,
            target_mask=None, sample_weight=None):
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
        sample_weight : array-like of float (n_sequences,), optional
            One weight >= 0 per sequence (not all 0): the loss of each of its
            taught outputs counts that many times, so 2 is the same as giving
            the sequence twice and 0 as leaving it out. None: all 1.

        Returns
        -------
        self
        """
        return self._fit(X, y, lengths, initial_state, initial_state_mask, target_mask,
                         incremental=False, sample_weight=sample_weight)

    @with_threads
    def partial_fit(self, X, y, classes=None, *, lengths=None, initial_state=None,
                    initial_state_mask=None, target_mask=None, sample_weight=None):
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
                         incremental=True, classes=classes, sample_weight=sample_weight)

    @with_threads
    def predict_proba(self, X, *, lengths=None, initial_state=None, initial_state_mask=None,
                      return_state=False):
        """Class probabilities of the taught outputs.

        Parameters as in :meth:`predict`.

        Returns
        -------
        proba : ndarray of float64
            (n, n_steps, n_classes), (n, n_classes) or (n, K, n_classes)
            following ``output_steps``, columns in the order of ``classes_``;
            rows of padded steps are 0. Computed in ``dtype``, returned as
            float64.
        final_state : ndarray (n_sequences, n_hidden)
            Only with ``return_state=True`` (see :meth:`predict`).
        """
        out, valid, h_last = self._predict_raw(X, lengths, initial_state, initial_state_mask,
                                               return_state)
        proba = _losses.softmax(out)
        if valid is not None:
            proba[~valid] = 0
        proba = self._shape_output(proba, self._output_steps()).astype(np.float64, copy=False)
        return (proba, h_last) if return_state else proba

    @with_threads
    def predict_log_proba(self, X, *, lengths=None, initial_state=None,
                          initial_state_mask=None, return_state=False):
        """Logarithm of the class probabilities of the taught outputs.

        Computed with a stable log-softmax of the logits (not as
        ``log(predict_proba)``, which underflows to -inf for improbable
        classes). Parameters as in :meth:`predict`.

        Returns
        -------
        log_proba : ndarray of float64
            Shaped as :meth:`predict_proba`'s result; rows of padded steps are
            -inf (the log of its 0).
        final_state : ndarray (n_sequences, n_hidden)
            Only with ``return_state=True``.
        """
        out, valid, h_last = self._predict_raw(X, lengths, initial_state, initial_state_mask,
                                               return_state)
        log_proba = _losses.log_softmax(out.astype(np.float64))
        if valid is not None:
            log_proba[~valid] = -np.inf
        log_proba = self._shape_output(log_proba, self._output_steps())
        return (log_proba, h_last) if return_state else log_proba

    @with_threads
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

    @with_threads
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

    @with_threads
    def score(self, X, y, *, lengths=None, initial_state=None, initial_state_mask=None,
              target_mask=None, sample_weight=None):
        """Accuracy over all taught outputs (every taught step of every sequence).

        Arguments as in :meth:`fit`; labels not in ``classes_`` count as errors.
        With ``sample_weight``, each taught output weighs its sequence's weight.

        Returns
        -------
        float
        """
        return self._score(X, y, lengths, initial_state, initial_state_mask, target_mask,
                           sample_weight)

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

    def _score_outputs(self, out, valid, Y, encoded, vmask=None, weight=None):
        idx = out.argmax(axis=2)
        if encoded:
            hit = idx == Y
        else:
            hit = _data.labels_equal(self.classes_[idx], Y)
        if weight is not None:
            w = np.broadcast_to(weight[:, None], hit.shape)
            if valid is not None:
                hit, w = hit[valid], w[valid]
            return float(np.sum(w * hit) / np.sum(w))
        return float(hit.mean() if valid is None else hit[valid].mean())


for _cls, _shapes in (
    (RNNRegressor, {"all": "(n, T, n_outputs) or (n, T)", "last": "(n, n_outputs) or (n,)",
                    "K": "(n, K, n_outputs) or (n, K)"}),
    (RNNClassifier, {"all": "(n, T) of labels", "last": "(n,)", "K": "(n, K)"}),
):
    _k = "n_outputs" if _cls is RNNRegressor else "n_classes"
    _reg = _cls is RNNRegressor
    _cls.__doc__ = _cls.__doc__ % {
        "params": _PARAMS_DOC % _shapes,
        "attrs": _ATTRS_DOC % {
            "k": _k,
            "target_scale": ("\n    target_scale_ : ndarray of float64 (n_outputs,)\n"
                             "        The power of two each target column was divided by "
                             "in training\n        (see ``autoscale``; 1: not scaled)."
                             if _reg else ""),
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
