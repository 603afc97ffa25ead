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

from . import _data, _docs, _persist, _sklearn
from . import functional as _F
from . import losses as _losses
from ._base import BaseRNN, with_threads
from ._params import BOOLEAN, PARAMETERS, Rule
from ._training import NonFiniteLossError

__all__ = ["RNNRegressor", "RNNClassifier", "load", "NotFittedError", "ConvergenceWarning",
           "DataConversionWarning", "NonFiniteLossError"]


# built on first use: see fastrnn._sklearn.module_getattr
__getattr__ = _sklearn.module_getattr(__name__)


# --------------------------------------------------------------------------
# The estimators
# --------------------------------------------------------------------------

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

    @classmethod
    def from_weights(cls, W_xh, W_hh, b, W_hy=None, b_y=None, *, h0=None, n_outputs=None,
                     **params):
        """A fitted regressor from its weights, without training.

        ``h_t = act(x_t @ W_xh + h_{t-1} @ W_hh + b)`` from ``h_{-1} = h0``
        (zeros when None), ``y_t = h_t @ W_hy + b_y``. The model (with an
        empty fit history: ``n_iter_ = 0``) predicts, scores, steps and saves
        as a fitted one, and ``partial_fit`` trains it on with a fresh
        optimizer. :meth:`get_weights` gives the arrays back in this form.
        Errors name the array: a ValueError for a shape that does not fit
        (expected and actual), NaN or inf, or a hyperparameter that is invalid
        or disagrees with the arrays; a TypeError for an array that does not
        hold floats, or an unknown keyword.

        Parameters
        ----------
        W_xh, W_hh, b : array-like (n_features, n_hidden), (n_hidden, n_hidden), (n_hidden,)
        W_hy, b_y : array-like (n_hidden, n_outputs), (n_outputs,), or None
            The readout. A 1-D W_hy (n_hidden,) with a b_y of shape () or (1,)
            is one output, which predict returns without an output axis (as
            after ``fit`` with such a y). Both None: no readout
            (``readout=False``): the outputs are units 0..n_outputs-1 (with an axis).
        h0 : array-like (n_hidden,), optional
            A learned initial state ``h0_`` (``learn_initial_state=True``).
        n_outputs : int, optional
            Without a readout, how many units are outputs (default: all).
        **params
            Hyperparameters. ``n_hidden``, ``readout`` and
            ``learn_initial_state`` follow from the arrays (when given, they
            must agree with them). ``dtype`` defaults to float32 when no array
            is wider, else float64; the arrays are copied in that dtype.

        Returns
        -------
        RNNRegressor
        """
        return _persist.from_weights(
            cls, dict(W_xh=W_xh, W_hh=W_hh, b=b, h0=h0, W_hy=W_hy, b_y=b_y), params,
            {"n_outputs": n_outputs})

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
            return _losses.r2_score(Y.reshape(-1, k), out.reshape(-1, k), None,
                       None if w is None else w.reshape(-1))
        return _losses.r2_score(Y[valid], out[valid], None if vmask is None else vmask[valid],
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

    @classmethod
    def from_weights(cls, W_xh, W_hh, b, W_hy, b_y, *, classes, h0=None, **params):
        """A fitted classifier from its weights, without training.

        As :meth:`RNNRegressor.from_weights`, with a readout whose outputs are
        the logits of the classes. :meth:`get_weights` gives the arrays back.

        Parameters
        ----------
        W_xh, W_hh, b, h0, **params
            As in :meth:`RNNRegressor.from_weights`.
        W_hy, b_y : array-like (n_hidden, n_classes), (n_classes,)
            The readout: column j holds the logits of ``classes[j]``.
        classes : array-like (n_classes,)
            The label of each column, distinct, in any order: ``classes_``
            is them sorted, and the columns are reordered with them.

        Returns
        -------
        RNNClassifier
        """
        return _persist.from_weights(
            cls, dict(W_xh=W_xh, W_hh=W_hh, b=b, h0=h0, W_hy=W_hy, b_y=b_y), params,
            {"classes": classes})

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
            classes = _data.check_classes(classes)
        elif classes is not None:
            c = _data.check_classes(classes)
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
        proba = _F.softmax(out)
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
        out, h_last = self._step_raw(X, state, return_proba)
        if return_proba:
            return out, h_last
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
        "params": _docs.PARAMS_DOC % _shapes,
        "attrs": _docs.ATTRS_DOC % {
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
