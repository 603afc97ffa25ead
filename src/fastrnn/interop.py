"""Weights in and out: PyTorch's ``nn.RNN`` + ``nn.Linear``, Keras' ``SimpleRNN`` + ``Dense``.

The estimators' ``get_weights``, ``to_torch``, ``to_keras``, ``from_torch``
and ``from_keras`` (:class:`WeightsMixin`) call these functions. The layers compute the same model:

=====================  ===========================  ==========================
fastrnn                PyTorch                      Keras 3
=====================  ===========================  ==========================
``W_xh_`` (D, H)       ``rnn.weight_ih_l0.T``       ``simple_rnn.cell.kernel``
``W_hh_`` (H, H)       ``rnn.weight_hh_l0.T``       ``cell.recurrent_kernel``
``b_`` (H,)            ``bias_ih_l0 + bias_hh_l0``  ``cell.bias``
``activation``         ``nonlinearity``             ``activation``
``W_hy_`` (H, k)       ``linear.weight.T``          ``dense.kernel``
``b_y_`` (k,)          ``linear.bias``              ``dense.bias``
=====================  ===========================  ==========================

What does not map: neither layer holds an initial state, so a learned
``h0_`` is refused on the way out unless ``allow_h0=True`` (the layers then
start from zeros unless given ``model.start_state(n)``); on the way in,
``h0`` is an argument of ``from_torch``/``from_keras``. A stacked or
bidirectional model maps onto ``nn.RNN(num_layers=L, bidirectional=...)``
(layer l, direction d: ``W_xh_l1_reverse_`` is ``weight_ih_l1_reverse.T``,
and so on; its layers must have one size) both ways; Keras' stacks are not
mapped (a single SimpleRNN only). Reversed layers, other nonlinearities and
a readout with an activation (but a classifier's softmax) are refused. A layer without
biases maps onto zero biases (which training then learns). Integer-id
inputs (``n_symbols``) are one-hot rows for the layers.

torch and keras are imported here only, when a function needs them: neither
is a dependency of fastrnn.
"""

from __future__ import annotations

import numpy as np

from . import _persist, _stack

__all__ = ["WeightsMixin", "to_torch", "torch_weights", "to_keras", "keras_weights"]

ACTIVATIONS = ("tanh", "relu")


def _import_torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "this needs PyTorch, which fastrnn does not depend on: pip install torch"
        ) from exc
    return torch


def _import_keras():
    try:
        import keras
    except ImportError as exc:
        raise ImportError(
            "this needs Keras 3, which fastrnn does not depend on: pip install keras "
            "(with KERAS_BACKEND=torch it runs on PyTorch, without TensorFlow)"
        ) from exc
    if int(keras.__version__.split(".")[0]) < 3:
        raise ImportError(f"this needs Keras 3, found keras {keras.__version__}")
    return keras


def _check_h0(model, allow_h0, where):
    model._check_fitted()
    if "h0_" in model.__dict__ and not allow_h0 and not model._layout().single:
        raise ValueError(
            f"{type(model).__name__} has learned initial states (h0_, h0_reverse_, "
            f"h0_l1_, ...), which {where} has no slot for: pass allow_h0=True, and give "
            "the layer the model's start state as its initial state (see to_torch)")
    if "h0_" in model.__dict__ and not allow_h0:
        raise ValueError(
            f"{type(model).__name__} has a learned initial state h0_, which {where} has no "
            "slot for: pass allow_h0=True, and give the layer model.start_state(n) as its "
            "initial state (it starts from zeros otherwise)")


# --------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------

def _torch_suffix(l, d):
    """PyTorch's name suffix of layer l, direction d (``_l1_reverse``)."""
    return f"_l{l}" + ("_reverse" if d else "")


def to_torch(model, allow_h0=False):
    """(nn.RNN, nn.Linear or None) computing model (see BaseRNN.to_torch)."""
    torch = _import_torch()
    _check_h0(model, allow_h0, "nn.RNN")
    layout = model._layout()
    if len(set(layout.sizes)) > 1:
        raise ValueError(
            f"{type(model).__name__} has layers of {list(layout.sizes)} units; nn.RNN's "
            "layers all have one hidden_size")
    W_hh = model.W_hh_
    dtype = torch.float64 if W_hh.dtype == np.float64 else torch.float32
    D, H = model.W_xh_.shape
    rnn = torch.nn.RNN(D, H, num_layers=len(layout.sizes),
                       nonlinearity=model._check_param("activation"), bias=True,
                       batch_first=True, bidirectional=layout.n_dir == 2, dtype=dtype)
    linear = None
    d = model.__dict__
    with torch.no_grad():
        for l, direction in layout.slots:
            ours, theirs = _stack.suffix(l, direction), _torch_suffix(l, direction)
            getattr(rnn, "weight_ih" + theirs).copy_(torch.from_numpy(d[f"W_xh{ours}_"].T.copy()))
            getattr(rnn, "weight_hh" + theirs).copy_(torch.from_numpy(d[f"W_hh{ours}_"].T.copy()))
            getattr(rnn, "bias_ih" + theirs).copy_(torch.from_numpy(d[f"b{ours}_"]))
            getattr(rnn, "bias_hh" + theirs).zero_()
        if "W_hy_" in model.__dict__:
            H, k = model.W_hy_.shape
            linear = torch.nn.Linear(H, k, bias=True, dtype=dtype)
            linear.weight.copy_(torch.from_numpy(model.W_hy_.T.copy()))
            linear.bias.copy_(torch.from_numpy(model.b_y_))
    return rnn, linear


def _numpy(tensor):
    """A parameter as a NumPy array (float16 and bfloat16 widened to float32)."""
    torch = _import_torch()
    t = tensor.detach().cpu()
    if t.dtype not in (torch.float32, torch.float64):
        t = t.float()
    return t.numpy().copy()


def torch_weights(rnn, linear, owner):
    """from_weights' arrays (W_xh, W_hh, b, W_hy, b_y) and activation of nn.RNN
    and nn.Linear (or None); ValueError for what fastrnn's model cannot hold."""
    torch = _import_torch()
    if not isinstance(rnn, torch.nn.RNN):
        raise ValueError(f"{owner}: rnn must be a torch.nn.RNN (an Elman RNN), got "
                         f"{type(rnn).__name__}")
    if getattr(rnn, "proj_size", 0):
        raise ValueError(f"{owner}: nn.RNN with proj_size={rnn.proj_size!r} does not map "
                         "onto fastrnn's model (proj_size=0)")
    if rnn.nonlinearity not in ACTIVATIONS:
        raise ValueError(f"{owner}: nonlinearity={rnn.nonlinearity!r} is not one of "
                         f"{ACTIVATIONS}")
    arrays = dict(W_hy=None, b_y=None)
    for l in range(rnn.num_layers):
        for d in range(2 if rnn.bidirectional else 1):
            ours, theirs = _stack.suffix(l, d), _torch_suffix(l, d)
            W_hh = _numpy(getattr(rnn, "weight_hh" + theirs)).T
            arrays["W_xh" + ours] = _numpy(getattr(rnn, "weight_ih" + theirs)).T
            arrays["W_hh" + ours] = W_hh
            if rnn.bias:
                arrays["b" + ours] = (_numpy(getattr(rnn, "bias_ih" + theirs))
                                      + _numpy(getattr(rnn, "bias_hh" + theirs)))
            else:
                arrays["b" + ours] = np.zeros(W_hh.shape[0], dtype=W_hh.dtype)
    if linear is not None:
        if not isinstance(linear, torch.nn.Linear):
            raise ValueError(f"{owner}: linear must be a torch.nn.Linear or None, got "
                             f"{type(linear).__name__}")
        arrays["W_hy"] = _numpy(linear.weight).T
        arrays["b_y"] = (_numpy(linear.bias) if linear.bias is not None
                         else np.zeros(linear.out_features, dtype=arrays["W_hy"].dtype))
    return arrays, rnn.nonlinearity


# --------------------------------------------------------------------------
# Keras
# --------------------------------------------------------------------------

def to_keras(model, allow_h0=False):
    """(SimpleRNN, Dense or None), built, computing model (see BaseRNN.to_keras)."""
    keras = _import_keras()
    _check_h0(model, allow_h0, "SimpleRNN")
    W_xh = model.W_xh_
    dtype = W_xh.dtype.name
    D, H = W_xh.shape
    rnn = keras.layers.SimpleRNN(H, activation=model._check_param("activation"),
                                 use_bias=True, dtype=dtype,
                                 return_sequences=model._output_steps() != "last")
    rnn.build((None, None, D))
    rnn.set_weights([W_xh, model.W_hh_, model.b_])
    dense = None
    if "W_hy_" in model.__dict__:
        H, k = model.W_hy_.shape
        dense = keras.layers.Dense(k, use_bias=True, dtype=dtype)
        dense.build((None, H))
        dense.set_weights([model.W_hy_, model.b_y_])
    return rnn, dense


def _keras_numpy(variable):
    """A Keras variable (or tensor) as a NumPy array, on any backend (without
    Layer.get_weights, which warns under NumPy 2 on the PyTorch backend)."""
    value = getattr(variable, "value", variable)
    if hasattr(value, "detach"):  # a torch tensor
        return _numpy(value)
    return np.array(value)


def _keras_config(layer, owner, what, cls_name):
    keras = _import_keras()
    cls = getattr(keras.layers, cls_name)
    if not isinstance(layer, cls):
        raise ValueError(f"{owner}: {what} must be a keras.layers.{cls_name}, got "
                         f"{type(layer).__name__}")
    if not layer.built:
        raise ValueError(f"{owner}: the {cls_name} layer is not built (it has no weights "
                         "yet): call it on an input, or build it, first")
    return layer.get_config()


def keras_weights(simple_rnn, dense, owner, softmax_ok):
    """from_weights' arrays and activation of a built SimpleRNN and Dense (or
    None); ValueError for what fastrnn's model cannot hold. softmax_ok: a
    Dense with a softmax activation gives logits (a classifier's)."""
    cfg = _keras_config(simple_rnn, owner, "simple_rnn", "SimpleRNN")
    if cfg.get("go_backwards"):
        raise ValueError(f"{owner}: SimpleRNN with go_backwards=True reads the sequences "
                         "backwards, which fastrnn's model does not")
    activation = cfg.get("activation")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{owner}: SimpleRNN activation {activation!r} is not one of "
                         f"{ACTIVATIONS}")
    cell = simple_rnn.cell
    W_xh, W_hh = _keras_numpy(cell.kernel), _keras_numpy(cell.recurrent_kernel)
    b = _keras_numpy(cell.bias) if cell.bias is not None else np.zeros(W_hh.shape[0],
                                                                       W_hh.dtype)
    arrays = dict(W_xh=W_xh, W_hh=W_hh, b=b, W_hy=None, b_y=None)
    if dense is not None:
        dcfg = _keras_config(dense, owner, "dense", "Dense")
        allowed = ("linear", "softmax") if softmax_ok else ("linear",)
        if dcfg.get("activation") not in allowed:
            raise ValueError(f"{owner}: a Dense readout with activation "
                             f"{dcfg.get('activation')!r} does not map (allowed: {allowed})")
        W_hy = arrays["W_hy"] = _keras_numpy(dense.kernel)
        arrays["b_y"] = (_keras_numpy(dense.bias) if dense.bias is not None
                         else np.zeros(W_hy.shape[1], W_hy.dtype))
    return arrays, activation


class WeightsMixin:
    """The estimators' weights in and out (a base of fastrnn's estimators,
    which give ``_check_fitted``, ``_params``, ``_persist_hooks``,
    ``_estimator_type`` and ``from_weights``)."""

    def get_weights(self):
        """The weights, as copies, in the form ``from_weights`` takes them.

        Returns
        -------
        dict
            ``W_xh``, ``W_hh``, ``b`` and, when the model has them, ``h0`` and
            ``W_hy``, ``b_y`` (the fitted attributes ``W_xh_``, ...). A
            regressor fitted with a y without an output axis gives W_hy as
            (n_hidden,) and b_y as a 0-d array, so that
            ``type(model).from_weights(**model.get_weights(),
            **model.get_params())`` predicts the same values in the same shape
            (add ``classes=model.classes_`` for a classifier; without a
            readout, add ``n_outputs=model.n_outputs_``, and predict keeps
            its output axis).
        """
        self._check_fitted()
        weights = {k: v.copy() for k, v in self._params().items()}
        if self.__dict__.get("_single_output_") and "W_hy" in weights:
            weights["W_hy"], weights["b_y"] = weights["W_hy"][:, 0], weights["b_y"].reshape(())
        return weights

    def to_torch(self, *, allow_h0=False):
        """The model as PyTorch modules: ``(nn.RNN, nn.Linear)``.

        ``linear(rnn(x)[0])`` on a float tensor ``x`` (n, T, n_features)
        (batch first; one-hot rows for integer ids) gives the outputs at
        every step, as :meth:`predict` does with ``output_steps="all"``
        (a classifier's logits, in the order of ``classes_``). The modules
        have the model's dtype, ``nonlinearity`` its activation, and
        ``bias_hh_l0 = 0`` (``bias_ih_l0`` holds ``b_``). Without a readout,
        ``linear`` is None and the outputs are ``rnn(x)[0][..., :n_outputs_]``.

        A stacked or bidirectional model gives ``nn.RNN(num_layers=L,
        bidirectional=...)``, its weights named as the model's with
        PyTorch's words (``W_hh_l1_reverse_`` is ``weight_hh_l1_reverse.T``);
        its layers must have one size. ``output_steps="last"`` of a
        bidirectional model reads ``torch.cat([h_n[-2], h_n[-1]], 1)``.

        Parameters
        ----------
        allow_h0 : bool, default=False
            nn.RNN holds no initial state: a model with a learned ``h0_``
            raises a ValueError unless this is True. The modules then start
            from zeros unless given ``torch.as_tensor(model.start_state(n))[None]``
            as ``rnn``'s second argument (for L layers and directions of H
            units, ``start_state(n).reshape(n, -1, H).transpose(1, 0, 2)``).

        Raises
        ------
        ImportError
            When PyTorch is not installed (fastrnn does not depend on it).
        """
        return to_torch(self, allow_h0)

    @classmethod
    def from_torch(cls, rnn, linear=None, **kwargs):
        """A fitted estimator from PyTorch's ``nn.RNN`` and ``nn.Linear``.

        ``W_xh = rnn.weight_ih_l0.T``, ``W_hh = rnn.weight_hh_l0.T``,
        ``b = bias_ih_l0 + bias_hh_l0``, ``activation = rnn.nonlinearity``,
        ``W_hy = linear.weight.T``, ``b_y = linear.bias`` (zeros for modules
        without biases); ``linear`` None: no readout (regressor only).
        A stacked (num_layers > 1) or bidirectional RNN gives a stacked or
        bidirectional model (``weight_ih_l1_reverse.T`` is ``W_xh_l1_reverse_``).
        ``kwargs`` go to :meth:`from_weights` (``classes`` for a classifier,
        ``h0`` (and for a stack ``h0_reverse``, ``h0_l1``, ...),
        hyperparameters; the dtype is the modules').
        """
        owner = f"{cls.__name__}.from_torch"
        arrays, activation = torch_weights(rnn, linear, owner)
        return cls._from_layers(arrays, activation, kwargs, owner)

    def to_keras(self, *, allow_h0=False):
        """The model as built Keras 3 layers: ``(SimpleRNN, Dense)``.

        ``dense(simple_rnn(x))`` on x (n, T, n_features) gives what
        :meth:`predict` does (SimpleRNN has ``return_sequences=True``, but
        False for ``output_steps="last"``; for an int K, keep the last K
        steps); a classifier's Dense gives logits (no activation), in the
        order of ``classes_``. Put them in a model with
        ``keras.Sequential([keras.Input((None, n_features)), simple_rnn, dense])``.
        The layers have the model's dtype. Without a readout, ``dense`` is
        None. ``allow_h0`` as in :meth:`to_torch`: with a learned ``h0_``,
        call ``simple_rnn(x, initial_state=model.start_state(n))``.

        Raises
        ------
        ImportError
            When Keras 3 is not installed (fastrnn does not depend on it).
        """
        return to_keras(self, allow_h0)

    @classmethod
    def from_keras(cls, simple_rnn, dense=None, **kwargs):
        """A fitted estimator from built Keras ``SimpleRNN`` and ``Dense`` layers.

        ``W_xh``, ``W_hh``, ``b`` are the SimpleRNN's ``kernel``,
        ``recurrent_kernel`` and ``bias``, ``W_hy``, ``b_y`` the Dense's
        ``kernel`` and ``bias`` (zeros for layers without biases); ``dense``
        None: no readout (regressor only). The Dense must have no activation,
        or (classifier) softmax: its inputs are the logits. ``kwargs`` as in
        :meth:`from_torch`.
        """
        owner = f"{cls.__name__}.from_keras"
        arrays, activation = keras_weights(
            simple_rnn, dense, owner, cls._estimator_type == "classifier")
        return cls._from_layers(arrays, activation, kwargs, owner)

    @classmethod
    def _from_layers(cls, arrays, activation, kwargs, owner):
        """from_weights of the layers' arrays, with kwargs as from_weights takes them."""
        if kwargs.get("activation", activation) != activation:
            raise ValueError(f"{owner}: activation={kwargs['activation']!r} disagrees with "
                             f"the layer's {activation!r}")
        overlap = sorted(set(arrays) & set(kwargs))
        if overlap:
            raise TypeError(f"{owner}() got weights {overlap} that come from the layers")
        params = dict(kwargs, activation=activation)
        options = {key: params.pop(key, None) for key in cls._persist_hooks.options}
        arrays["h0"] = params.pop("h0", None)
        return _persist.from_weights(cls, arrays, params, options, owner)
