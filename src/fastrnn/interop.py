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
and so on; its layers must have one size) both ways, and onto a list of
Keras layers, each a ``SimpleRNN`` or a ``Bidirectional(SimpleRNN,
merge_mode="concat")``. A lone reversed SimpleRNN (``go_backwards=True``),
other nonlinearities and a readout with an activation (but a classifier's
softmax) are refused. A layer without
biases maps onto zero biases (which training then learns). Integer-id
inputs (``n_symbols``) are one-hot rows for the layers.

torch and keras are imported here only, when a function needs them: neither
is a dependency of fastrnn.
"""

from __future__ import annotations

import numpy as np

from . import _persist, _stack

__all__ = ["WeightsMixin", "to_torch", "torch_weights", "to_keras", "keras_weights",
           "keras_output_steps"]

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
        import importlib.util

        try:
            installed = importlib.util.find_spec("keras") is not None
        except (ImportError, ValueError):
            installed = False
        if installed:  # (but its backend is not)
            raise ImportError(
                f"keras is installed but could not be imported ({exc}): it needs its "
                "backend, TensorFlow by default; set KERAS_BACKEND=torch (or jax) to "
                "run it on an installed one"
            ) from exc
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
    """(SimpleRNN, Dense or None), built, computing model (see BaseRNN.to_keras);
    a list of SimpleRNN or Bidirectional(SimpleRNN) layers for a stacked or
    bidirectional model."""
    keras = _import_keras()
    _check_h0(model, allow_h0, "SimpleRNN")
    layout, d = model._layout(), model.__dict__
    dtype = model.W_xh_.dtype.name
    activation = model._check_param("activation")
    last = model._output_steps() == "last"
    layers = []
    for l, H in enumerate(layout.sizes):
        top = l == len(layout.sizes) - 1
        rnn = keras.layers.SimpleRNN(H, activation=activation, use_bias=True, dtype=dtype,
                                     return_sequences=not (top and last))
        if layout.n_dir == 2:
            rnn = keras.layers.Bidirectional(rnn, merge_mode="concat", dtype=dtype)
        rnn.build((None, None, d[f"W_xh{_stack.suffix(l, 0)}_"].shape[0]))
        directions = [rnn] if layout.n_dir == 1 else [rnn.forward_layer, rnn.backward_layer]
        for direction, layer in enumerate(directions):
            s = _stack.suffix(l, direction)
            layer.set_weights([d[f"W_xh{s}_"], d[f"W_hh{s}_"], d[f"b{s}_"]])
        layers.append(rnn)
    rnn = layers[0] if layout.single else layers
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


def _simple_rnn_arrays(simple_rnn, owner, what, backwards):
    """(W_xh, W_hh, b) and activation of one built SimpleRNN, which reads the
    sequences backwards exactly when backwards is True."""
    cfg = _keras_config(simple_rnn, owner, what, "SimpleRNN")
    if bool(cfg.get("go_backwards")) != backwards:
        if backwards:
            raise ValueError(f"{owner}: the backward layer of Bidirectional {what} has "
                             "go_backwards=False: it does not read the sequences backwards")
        raise ValueError(f"{owner}: SimpleRNN with go_backwards=True reads the sequences "
                         "backwards, which fastrnn's model does only as the backward "
                         "direction of a keras.layers.Bidirectional")
    activation = cfg.get("activation")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{owner}: SimpleRNN activation {activation!r} is not one of "
                         f"{ACTIVATIONS}")
    cell = simple_rnn.cell
    W_xh, W_hh = _keras_numpy(cell.kernel), _keras_numpy(cell.recurrent_kernel)
    b = _keras_numpy(cell.bias) if cell.bias is not None else np.zeros(W_hh.shape[0],
                                                                       W_hh.dtype)
    return (W_xh, W_hh, b), activation


def _keras_layer_arrays(layer, l, owner):
    """The arrays of layer l of a stack (a SimpleRNN or a Bidirectional of
    one), by from_weights' names, and its activation."""
    keras = _import_keras()
    where = "simple_rnn" if l is None else f"simple_rnn[{l}]"
    if isinstance(layer, keras.layers.Bidirectional):
        if not layer.built:
            raise ValueError(f"{owner}: the Bidirectional layer {where} is not built (it "
                             "has no weights yet): call it on an input, or build it, first")
        if layer.merge_mode != "concat":
            raise ValueError(f"{owner}: Bidirectional {where} with merge_mode="
                             f"{layer.merge_mode!r} does not map (fastrnn's layers put "
                             "the two directions side by side: merge_mode='concat')")
        directions = [layer.forward_layer, layer.backward_layer]
    else:
        directions = [layer]
    arrays, activations = {}, set()
    for d, rnn in enumerate(directions):
        w, activation = _simple_rnn_arrays(rnn, owner, where, backwards=d == 1)
        activations.add(activation)
        s = _stack.suffix(l or 0, d)
        arrays["W_xh" + s], arrays["W_hh" + s], arrays["b" + s] = w
    if len(activations) > 1:
        raise ValueError(f"{owner}: the directions of {where} have different activations "
                         f"{sorted(activations)}")
    return arrays, activations.pop(), len(directions)


def keras_weights(simple_rnn, dense, owner, softmax_ok):
    """from_weights' arrays and activation of a built SimpleRNN (or a
    Bidirectional of one, or a list of either: a stack) and Dense (or None);
    ValueError for what fastrnn's model cannot hold. softmax_ok: a Dense with
    a softmax activation gives logits (a classifier's)."""
    stack = isinstance(simple_rnn, (list, tuple))
    layers = list(simple_rnn) if stack else [simple_rnn]
    if not layers:
        raise ValueError(f"{owner}: simple_rnn is an empty list of layers")
    arrays, activations, directions = {}, set(), set()
    for l, layer in enumerate(layers):
        more, activation, n_dir = _keras_layer_arrays(layer, l if stack else None, owner)
        arrays.update(more)
        activations.add(activation)
        directions.add(n_dir)
    if len(activations) > 1 or len(directions) > 1:
        raise ValueError(f"{owner}: the layers of a stack must share one activation and "
                         "be all Bidirectional or none")
    activation = activations.pop()
    arrays.update(W_hy=None, b_y=None)
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


def keras_output_steps(simple_rnn):
    """The output_steps of the layers: "last" when the top layer returns only
    its last step (``return_sequences=False``, as to_keras builds it for
    ``output_steps="last"``), "all" otherwise."""
    top = simple_rnn[-1] if isinstance(simple_rnn, (list, tuple)) else simple_rnn
    return "all" if getattr(top, "return_sequences", True) else "last"


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
            ``W_hy``, ``b_y`` (the fitted attributes ``W_xh_``, ...); a stacked
            or bidirectional model's further layers and directions by their
            names (``W_hh_l1``, ``W_xh_reverse``, ...). A
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

        A stacked or bidirectional model gives a list of built layers in
        place of the SimpleRNN, one per layer: a ``SimpleRNN``, or for
        ``bidirectional=True`` a ``Bidirectional(SimpleRNN,
        merge_mode="concat")`` (``forward_layer`` holds ``W_xh_``, ...,
        ``backward_layer`` ``W_xh_reverse_``, ...). Put them in a model with
        ``keras.Sequential([keras.Input((None, n_features)), *layers, dense])``.

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
        or (classifier) softmax: its inputs are the logits. ``simple_rnn``
        may also be a ``Bidirectional`` of a SimpleRNN (``merge_mode="concat"``)
        or a list of layers, all SimpleRNN or all Bidirectional: a stacked or
        bidirectional model, as :meth:`to_keras` gives them. ``kwargs`` as
        in :meth:`from_torch`; without ``output_steps``, it is ``"last"``
        when the (top) layer has ``return_sequences=False`` (as
        :meth:`to_keras` gives a model with ``output_steps="last"``) and
        ``"all"`` otherwise.
        """
        owner = f"{cls.__name__}.from_keras"
        arrays, activation = keras_weights(
            simple_rnn, dense, owner, cls._estimator_type == "classifier")
        if "output_steps" not in kwargs:
            kwargs = dict(kwargs, output_steps=keras_output_steps(simple_rnn))
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
