"""The machinery RNNRegressor and RNNClassifier share (:class:`BaseRNN`).

Each job is delegated: hyperparameters to :mod:`fastrnn._params`, data checks
to :mod:`fastrnn._data`, epochs, windows and updates to
:mod:`fastrnn._training`, save/load to :mod:`fastrnn._persist`; what is left
here is the order of the steps of ``fit``/``partial_fit``, running a fitted
model (predict, score, step: the recurrence in chunks, and a fast path for
small calls that reads the weights in place) and the thread limit of each
public method (:func:`with_threads`). The public classes and their
documentation are in :mod:`fastrnn.estimator`, which subclasses BaseRNN
and fills in the per-class parts (``_loss``, ``_estimator_type``,
``_persist_hooks``, ``_n_outputs_for``, ``_encode_targets``,
``_score_outputs``).

Two places connect the recurrence to the rest, so that the ways of feeding and
teaching the network slot in without touching the training loop:

* :meth:`BaseRNN._batch_h0` builds the initial state of a mini-batch (zeros,
  the learned ``h0_``, the caller's ``initial_state``, or the two mixed unit
  by unit by ``initial_state_mask``), and :func:`fastrnn._data.h0_gradient`
  turns the per-sequence initial-state gradient of
  :func:`fastrnn.functional.backward` into ``h0_``'s (no kernel change: a
  masked h0 is an ordinary (B, H) h0);
* :func:`fastrnn.losses.select_window` + :func:`fastrnn.losses.output_loss`
  map hidden states to outputs (the readout, or hidden units 0..k-1 with
  ``readout=False``), targets (all, last or last-K steps, any subset with a
  ``target_mask``) and losses, and the loss gradient back to ``dL/dh``.

Integer-id inputs X (n, T) go to the functional layer as they are (a row
lookup into ``W_xh_``); :meth:`BaseRNN.step` advances a fitted model chunk by chunk.

Internal interface of :mod:`fastrnn.estimator`: :class:`BaseRNN`,
:func:`with_threads`.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import _data, _persist, _scaling, _stack, _threads, _training
from .interop import WeightsMixin
from ._sklearn import RoutingMixin, exception_class
from . import functional as _F
from . import losses as _losses
from . import optim as _optim
from ._params import ParamsMixin, check_int, make_rng
from ._validation import ACTIVATION_CODES

__all__ = ["BaseRNN", "with_threads", "SMALL_STEP"]

# predict runs the recurrence over at most this many hidden-state values at once
PREDICT_CHUNK_VALUES = 1 << 22
# step() (and predict) on at most this many (sequence, step) pairs reads
# the weights in place instead of packing them, through the model's stepper
# (BaseRNN._step_small).
SMALL_STEP = 32


def with_threads(method):
    """Run an estimator method under its n_threads limit (fastrnn.threads)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.n_threads is None:  # (the common case first: a small call's time)
            return method(self, *args, **kwargs)
        n = self._check_param("n_threads")
        with _threads.threads(n):
            return method(self, *args, **kwargs)
    return wrapper


class BaseRNN(ParamsMixin, RoutingMixin, WeightsMixin):
    """Shared machinery of RNNRegressor and RNNClassifier."""

    _loss = None  # losses.SquaredError or losses.SoftmaxCrossEntropy

    def __init__(
        self,
        n_hidden=64,
        *,
        bidirectional=False,
        activation="tanh",
        output_steps="all",
        readout=True,
        learn_initial_state=False,
        optimizer="adam",
        learning_rate=0.001,
        momentum=_optim.DEFAULT_MOMENTUM,
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
        autoscale=True,
    ):
        self.n_hidden = n_hidden
        self.bidirectional = bidirectional
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
        self.autoscale = autoscale

    # ---------------------------------------------------------------- checks

    def _is_fitted(self):
        return hasattr(self, "W_hh_")

    def _layout(self):
        """The fitted network's layout (fastrnn._stack.Layout)."""
        return _stack.Layout.of_fitted(self.__dict__)

    def _check_fitted(self):
        if not self._is_fitted():
            raise exception_class("NotFittedError")(
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
                 *, fitted, classes=None, sample_weight=None):
        """Checked Batch for training (sets classes_ when fitting from scratch)."""
        layout = _stack.Layout.from_config(cfg)
        data = self._prepare_inputs(X, lengths, initial_state, initial_state_mask, cfg.dtype,
                                    layout.total, fitted, cfg.n_symbols)
        self._add_targets(data, y, target_mask, cfg.output_steps, cfg.dtype, fitted=fitted,
                          classes=classes)
        data.weight = _data.check_sample_weight(sample_weight, data.n)
        if not cfg.readout:
            _data.check_unit_targets(type(self).__name__, data, layout.top, cfg.activation,
                                     stacked=not layout.single)
        return data

    def _add_targets(self, data, y, target_mask, output_steps, dtype, *, fitted,
                     classes=None, raw=False):
        """Check y (and target_mask) and set data.Y, steps, valid, vmask.

        raw: for score, a classifier's labels are kept as they are (not encoded).
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None")
        def encode(y, n, T, lengths, valid, vmask):
            return self._encode_targets(y, n, T, lengths, output_steps, valid, dtype,
                                        fitted=fitted, classes=classes, vmask=vmask, raw=raw)
        return _data.add_targets(data, y, target_mask, output_steps, encode,
                                 multi_ok=self._estimator_type == "regressor")


    # ----------------------------------------------------------- parameters

    def _params(self):
        """The trainable arrays (the fitted attributes themselves), by name
        (fastrnn._stack names them)."""
        d = self.__dict__
        layout = _stack.Layout.of_fitted(d)
        if layout is None:
            return {}
        names = layout.param_names("W_hy_" in d, "h0_" in d)
        return {k: d[k + "_"] for k in names}

    def _initialize(self, cfg, n_features, n_outputs, rng):
        """Draw the initial weights (see the class Notes) and reset the fit history."""
        params = _training.init_params(cfg, n_features, n_outputs, rng)
        for key in [k for k in self.__dict__ if _stack.is_param_attribute(k)]:
            del self.__dict__[key]  # (an earlier fit's, of another layout)
        self.__dict__.pop("_stepper", None)  # (it holds the earlier weights)
        for key, value in params.items():
            setattr(self, key + "_", value)
        self.n_features_in_ = n_features
        self.n_outputs_ = n_outputs
        self._reset_history(cfg)

    def _reset_history(self, cfg):
        """The fit history of a model that has not been trained (no optimizer state)."""
        self.n_iter_ = 0
        self.loss_curve_ = []
        self.validation_scores_ = [] if cfg.early_stopping else None
        self.best_validation_score_ = None
        self.best_loss_ = None if cfg.early_stopping else math.inf
        self.__dict__.pop("_optimizer", None)

    def _check_continuation(self, cfg, X, remedy="set warm_start=False to refit"):
        """warm_start/partial_fit (and save): the data and hyperparameters must
        fit the weights; remedy ends the message."""
        o = type(self).__name__
        if X is not None and X.ndim == 3 and X.shape[2] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[2]} features, but {o} is expecting {self.n_features_in_} "
                "features as input (features per step, as in fit)"
            )
        if cfg.n_symbols is not None and cfg.n_symbols != self.n_features_in_:
            raise ValueError(
                f"{o}: n_symbols={cfg.n_symbols} differs from the fitted vocabulary size "
                f"n_features_in_={self.n_features_in_}; {remedy}"
            )
        layout, fitted = _stack.Layout.from_config(cfg), self._layout()
        if layout != fitted:
            raise ValueError(
                f"{o}: {layout.describe()} differs from the fitted weights "
                f"({fitted.describe()}); {remedy}"
            )
        if cfg.dtype != self.W_hh_.dtype:
            raise ValueError(
                f"{o}: dtype={cfg.dtype.name} differs from the fitted weights "
                f"({self.W_hh_.dtype.name}); {remedy}"
            )
        if cfg.learn_initial_state != hasattr(self, "h0_"):
            raise ValueError(
                f"{o}: learn_initial_state={cfg.learn_initial_state} differs from the "
                f"fitted model; {remedy}"
            )
        if cfg.readout != hasattr(self, "W_hy_"):
            raise ValueError(
                f"{o}: readout={cfg.readout} differs from the fitted model; {remedy}"
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
        d = self.__dict__
        base = d.get("h0_")
        if base is not None and ("W_hh_l1_" in d or "W_hh_reverse_" in d):
            base = self._layout().learned_h0(self._params())
        return _data.compose_h0(base, init, mask, self.W_hh_.dtype)

    def _objective(self, X, y, *, lengths=None, initial_state=None, initial_state_mask=None,
                   target_mask=None, sample_weight=None):
        """Objective of one mini-batch (all of X, full BPTT) and its gradients.

        The training objective of a mini-batch: mean loss over the taught
        outputs plus ``0.5 * alpha * |W|^2``. For tests (finite differences):
        grads also holds ``"initial_state"``, the gradient w.r.t. the
        initial_state argument (n, H) (zero at units it does not set), when
        one is given. With sample_weight, the loss of each taught output is
        weighted by its sequence's weight and the mean is over the weights.
        """
        self._check_fitted()
        cfg = self._check_hyperparameters()
        data = self._prepare(X, y, lengths, initial_state, initial_state_mask, target_mask,
                             cfg, fitted=True, sample_weight=sample_weight)
        return _training.Trainer(self._params(), self._loss, cfg).objective(data)

    # ----------------------------------------------------------------- training

    def _fit(self, X, y, lengths, initial_state, initial_state_mask, target_mask, *,
             incremental, classes=None, sample_weight=None):
        cfg = self._check_hyperparameters()
        if cfg.bidirectional and cfg.bptt_steps is not None:
            raise ValueError(
                f"{type(self).__name__}: bptt_steps={cfg.bptt_steps} with "
                "bidirectional=True: truncated BPTT carries the state forward from window "
                "to window, but the backward direction starts at each sequence's end; "
                "use bptt_steps=None")
        fitted = self._is_fitted()
        cont = fitted and (incremental or cfg.warm_start)
        # A refused fit leaves the model as it was: until the epochs start,
        # attributes are only replaced (no array is changed in place), so
        # putting the earlier ones back undoes it.
        before = dict(self.__dict__)
        try:
            if cont:
                self._check_continuation(cfg, None)
                data = self._prepare(X, y, lengths, initial_state, initial_state_mask,
                                     target_mask, cfg, fitted=True,
                                     sample_weight=sample_weight)
                self._check_continuation(cfg, data.X)
                rng = self.__dict__.get("_rng") if incremental else None
                if rng is None:
                    rng = make_rng(self.random_state)
            else:
                data = self._prepare(X, y, lengths, initial_state, initial_state_mask,
                                     target_mask, cfg, fitted=False, classes=classes,
                                     sample_weight=sample_weight)
                rng = make_rng(self.random_state)
                self._initialize(cfg, data.n_in, self._n_outputs_for(data), rng)
                self._set_scales(cfg, data)
            scaled = _scaling.Scaled(self._scale_exponents("input_scale_"),
                                     self._scale_exponents("target_scale_"))
            if scaled:
                data = scaled.data(data)
            if cfg.early_stopping and not incremental:
                if self.validation_scores_ is None:
                    self.validation_scores_ = []
                train, val = _training.split_validation(type(self).__name__, data,
                                                        self.validation_fraction, rng)
            else:
                train, val = data, None
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        self._rng = rng
        if not incremental:
            self.__dict__.pop("last_state_", None)  # partial_fit's alone
        self._optimizer = _training.optimizer_for(cfg, self.__dict__.get("_optimizer"),
                                                  incremental)
        if scaled and cont:  # (fresh weights are drawn for the scaled data)
            scaled.to_training(self._params())
        try:
            trainer = _training.Trainer(self._params(), self._loss, cfg, self._optimizer)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore",
                             under="ignore"):
                _training.run_epochs(self, trainer, train, val, rng,
                                     1 if incremental else cfg.max_epochs, incremental,
                                     self._score_data)
        finally:
            if scaled:
                scaled.to_model(self._params())
        return self

    def _set_scales(self, cfg, data):
        """input_scale_ (and a regressor's target_scale_) of a fit from scratch
        (see autoscale; fastrnn._scaling)."""
        regressor = self._estimator_type == "regressor"
        self._install_scales(
            data.n_in, self.n_outputs_,
            _scaling.input_exponents(data) if cfg.autoscale else None,
            _scaling.target_exponents(data) if cfg.autoscale and cfg.readout and regressor
            else None)

    def _install_scales(self, n_in, n_out, x_exp=None, y_exp=None):
        """input_scale_ (and a regressor's target_scale_) from base-2 exponents
        (None: all 0, no scaling): a fit from scratch's, or from_weights' 1s."""
        x_exp = [0] * n_in if x_exp is None else x_exp
        self.input_scale_ = np.ldexp(1.0, np.asarray(x_exp, dtype=np.int32))
        if self._estimator_type == "regressor":
            y_exp = [0] * n_out if y_exp is None else y_exp
            self.target_scale_ = np.ldexp(1.0, np.asarray(y_exp, dtype=np.int32))

    def _scale_exponents(self, name):
        """The base-2 exponents of a fitted scale attribute (None without one)."""
        scale = self.__dict__.get(name)
        if scale is None:
            return None
        return (np.frexp(scale)[1] - 1).tolist()

    # ---------------------------------------------------------------- predict

    def _forward_outputs(self, data, output_steps, want_state):
        """Outputs at the taught slots of checked inputs (a Batch): out (n, S, k),
        valid (n, S) (None when every slot is a true step), final states."""
        X, lengths, init = data.X, data.lengths, data.init
        W_hh = self.W_hh_
        layout = self._layout()
        n, T = X.shape[:2]
        _data.check_last_steps(output_steps, T, lengths)
        steps, valid = _losses.taught_steps(output_steps, T, lengths, n)
        S = T if steps is None else steps.shape[1]
        W_hy, b_y = self.__dict__.get("W_hy_"), self.__dict__.get("b_y_")
        k = self.n_outputs_
        out = np.empty((n, S, k), dtype=W_hh.dtype)
        h_last = np.empty((n, layout.total), dtype=W_hh.dtype) if want_state else None
        chunk = max(1, min(n, PREDICT_CHUNK_VALUES // (T * layout.total)))
        activation = self._check_param("activation")
        last_mode = output_steps == "last" and layout.n_dir == 2
        for i in range(0, n, chunk):
            sl = slice(i, i + chunk)
            Lb = None if lengths is None else lengths[sl]
            h0, _ = self._batch_h0(None if init is None else init[sl], data.init_mask)
            if layout.single:
                h = _F.forward(X[sl], self.W_xh_, W_hh, self.b_, h0, activation=activation,
                               lengths=Lb)
                b = h.shape[0]
                last = (h[:, -1] if Lb is None else h[np.arange(b), Lb - 1]) if want_state \
                    else None
            else:
                h, h_n, _ = _F.stacked_forward(
                    X[sl], layout.layers(self._params()), layout.split(h0),
                    activation=activation, lengths=Lb, bidirectional=layout.n_dir == 2)
                b = h.shape[0]
                last = layout.join(h_n) if want_state else None
                if last_mode:
                    _stack.last_output(h, Lb)
            width = h.shape[2]
            if steps is None:
                hs = h.reshape(b * T, width)
            else:
                hs = h[np.arange(b)[:, None], steps[sl]].reshape(-1, width)
            out[sl] = _losses.readout(hs, W_hy, b_y, k).reshape(b, S, k)
            if want_state:
                h_last[sl] = last
        return out, valid, h_last

    def _check_inputs(self, X, lengths, initial_state, initial_state_mask):
        """Checked inputs of a fitted model (predict, score, step)."""
        self._check_fitted()
        return self._prepare_inputs(X, lengths, initial_state, initial_state_mask,
                                    self.W_hh_.dtype, self._layout().total, True)

    def _predict_raw(self, X, lengths, initial_state, initial_state_mask, want_state,
                     output_steps=None):
        self._check_fitted()
        if output_steps is None:
            output_steps = self._output_steps()
        if lengths is None and initial_state is None and initial_state_mask is None:
            small = self._step_small(X, None, keep=False)  # a few short sequences
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
        return self._score_outputs(out, data.valid, data.Y, True, data.vmask, data.weight)

    def _score(self, X, y, lengths, initial_state, initial_state_mask, target_mask,
               sample_weight=None):
        """score(): the taught outputs' score (see the subclasses)."""
        self._check_fitted()
        output_steps = self._output_steps()
        data = self._check_inputs(X, lengths, initial_state, initial_state_mask)
        self._add_targets(data, y, target_mask, output_steps, self.W_hh_.dtype, fitted=True,
                          raw=True)
        weight = _data.check_sample_weight(sample_weight, data.n)
        out, _, _ = self._forward_outputs(data, output_steps, False)
        return self._score_outputs(out, data.valid, data.Y, False, data.vmask, weight)

    # ------------------------------------------------------------------ stepping

    @with_threads
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
        H, dt = self._layout().total, self.W_hh_.dtype
        mask = _data.check_initial_state_mask(initial_state_mask, H, initial_state is not None)
        init = _data.check_initial_state(initial_state, n, H, dt, mask)
        if mask is not None and mask.all():
            mask = None
        h0, _ = self._batch_h0(init, mask)
        if h0 is None:
            return np.zeros((n, H), dtype=dt)
        return np.array(np.broadcast_to(h0, (n, H)), dtype=dt, order="C")

    def _step_raw(self, X, state, proba=False):
        """Outputs of every step of a chunk (n, k_steps, n_outputs), their
        softmax with proba, and the new state."""
        small = self._step_small(X, state, proba)
        if small is not None:
            return small
        self._check_fitted()
        layout = self._layout()
        if layout.n_dir == 2:
            raise ValueError(
                f"{type(self).__name__}.step: a bidirectional model's backward direction "
                "reads each sequence from its end, so it cannot run step by step; call "
                "predict on whole sequences")
        data = self._check_inputs(X, None, None, None)
        n = data.X.shape[0]
        if state is None:
            state = self.start_state(n)
        data.init = _data.check_initial_state(state, n, layout.total, self.W_hh_.dtype,
                                              name="state")
        out, _, h_last = self._forward_outputs(data, "all", True)
        return (_F.softmax(out) if proba else out), h_last

    def _step_small(self, X, state, proba=False, keep=True):
        """_step_raw's fast path for a few sequences and steps of a model with
        a readout (the model's stepper): (out, new state), or None when the
        call is not such a call or anything in it needs the full checks
        (which then raise). The results are the same bits as the full
        path's. keep=False (predict) builds a missing stepper for this call
        only: predict leaves the model's attributes as they were."""
        d = self.__dict__
        stepper = d.get("_stepper")
        if (stepper is None or type(stepper) is not _F.kernels._Stepper
                or not stepper.holds(d)):
            stepper = self._ready_stepper(keep)
            if stepper is None:
                return None
        if type(X) is not np.ndarray:
            try:
                X = np.asarray(X)
            except (TypeError, ValueError):  # ragged: the full checks explain it
                return None
        if X.ndim < 2 or not 0 < X.shape[0] * X.shape[1] <= SMALL_STEP:
            return None  # (before anything is converted or allocated for it)
        if not X.flags.c_contiguous:
            X = np.ascontiguousarray(X)
        if state is None:
            state = self.start_state(X.shape[0])
        elif type(state) is not np.ndarray or not state.flags.c_contiguous:
            state = np.ascontiguousarray(state)
        return stepper.run(X, state, SMALL_STEP, proba)

    def _ready_stepper(self, keep=True):
        """A new kernels' _Stepper holding this model's weights, for its small
        calls, kept (with keep) in ``_stepper``, where _step_small finds it while it
        holds the model's weight arrays and activation (it is built again
        when one was replaced; a value written into a weight array takes
        effect at the next call: the weights are read in place). None for
        a model that has none: not fitted, no readout, several layers or
        directions, no units or outputs, or weights that are not
        C-contiguous arrays of one float dtype of the fitted shapes.

        Only the weights' dtypes, shapes and layout are checked here, when
        the stepper is built; their values were checked when they were set
        or fitted."""
        d = self.__dict__
        if keep:
            d.pop("_stepper", None)
        activation = d.get("activation")
        code = ACTIVATION_CODES.get(activation) if isinstance(activation, str) else None
        weights = [d.get(name) for name in ("W_xh_", "W_hh_", "b_", "W_hy_", "b_y_")]
        if (code is None or "W_hh_l1_" in d or "W_hh_reverse_" in d  # (one forward layer)
                or not all(isinstance(w, np.ndarray) for w in weights)
                or weights[0].shape[:1] != (d.get("n_features_in_"),)):
            return None
        try:  # (the stepper checks the dtypes, shapes and layout)
            stepper = _F.kernels._Stepper(*weights, activation, code)
        except ValueError:
            return None
        if keep:
            d["_stepper"] = stepper
        return stepper

    def __getstate__(self):
        # (the stepper is a kernel object: rebuilt at the next small call, not pickled)
        state = self.__dict__.copy()
        state.pop("_stepper", None)
        return state

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
