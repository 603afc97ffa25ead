"""Weights in and out of PyTorch (nn.RNN + nn.Linear) and Keras 3 (SimpleRNN + Dense).

Tolerances. float64: fastrnn and PyTorch compute the same sums in another
order, so the outputs agree to a few ulps (1e-12 here). float32, and Keras
in either dtype (Keras 3.15 on the PyTorch backend computes the matrix
products of float64 layers in float32): each pre-activation is a sum of
D + H + 1 terms, whose rounding differs by at most about (D + H + 1) * eps
(eps = 2**-24) of the sum of their magnitudes; tanh and relu do not enlarge
a difference, and the recurrence with a contracting W_hh (spectral norm
below 1 here) at most adds those of the T steps. :func:`f32_tol` is that
bound, about 1e-4 for the problems below, where the differences measured
are below 1e-6 (tools/interop_diffs.py). Round trips through the layers'
weights are exact.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import fastrnn
from fastrnn import RNNClassifier, RNNRegressor

D, H, K, N, T = 3, 8, 4, 5, 9
EPS32 = 2.0 ** -24


def f32_tol(X, model):
    """The float32 rounding bound of the module docstring for inputs X."""
    scale = (np.abs(X).max() * np.abs(model.W_xh_).sum(axis=0).max()
             + np.abs(model.W_hh_).sum(axis=0).max() + np.abs(model.b_).max())
    out = 1.0 if "W_hy_" not in model.__dict__ else np.abs(model.W_hy_).sum(axis=0).max()
    return X.shape[1] * (D + H + 1) * EPS32 * scale * max(out, 1.0)


def tolerance(dtype, X, model):
    return 1e-12 if dtype == "float64" else f32_tol(X, model)


def weights(seed=0, activation="tanh", h0=False):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(H, H)))
    w = dict(W_xh=rng.normal(size=(D, H)) / np.sqrt(D),
             W_hh=0.9 * q,
             b=0.1 * rng.normal(size=H), W_hy=rng.normal(size=(H, K)) / np.sqrt(H),
             b_y=0.1 * rng.normal(size=K))
    if h0:
        w["h0"] = rng.uniform(0, 0.5, size=H)
    return w


def model_of(kind, dtype, activation="tanh", h0=False, **params):
    w = weights(activation=activation, h0=h0)
    if kind == "classifier":
        return RNNClassifier.from_weights(**w, classes=["a", "b", "c", "d"], dtype=dtype,
                                          activation=activation, **params)
    return RNNRegressor.from_weights(**w, dtype=dtype, activation=activation, **params)


def inputs(dtype, seed=1):
    return np.random.default_rng(seed).normal(size=(N, T, D)).astype(dtype)


def outputs(model, X):
    """The model's raw outputs at every step: values, or a classifier's logits."""
    out = model.predict(X) if model._estimator_type == "regressor" else np.log(
        model.predict_proba(X))
    return out


def assert_same_outputs(model, X, got, tol):
    """got: the layers' outputs (values, or logits in the order of classes_)."""
    if model._estimator_type == "regressor":
        np.testing.assert_allclose(got, model.predict(X), rtol=0, atol=tol)
    else:
        np.testing.assert_array_equal(model.classes_[got.argmax(-1)], model.predict(X))
        logp = got - np.log(np.exp(got - got.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
            - got.max(-1, keepdims=True)
        np.testing.assert_allclose(logp, model.predict_log_proba(X), rtol=0, atol=2 * tol)


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert wa.keys() == wb.keys()
    for key in wa:
        assert wa[key].dtype == wb[key].dtype
        np.testing.assert_array_equal(wa[key], wb[key], err_msg=key)


KINDS = ["regressor", "classifier"]
DTYPES = ["float64", "float32"]
ACTIVATIONS = ["tanh", "relu"]


# --------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def torch_run(torch, rnn, linear, X, hx=None):
    with torch.no_grad():
        h = rnn(torch.from_numpy(X), hx)[0]
        return h.numpy(), (None if linear is None else linear(h).numpy())


@pytest.mark.torch
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_to_torch_computes_the_model(torch, kind, dtype, activation):
    model = model_of(kind, dtype, activation)
    X = inputs(dtype)
    rnn, linear = model.to_torch()
    tdtype = getattr(torch, dtype)
    assert rnn.weight_hh_l0.dtype == tdtype and linear.weight.dtype == tdtype
    assert rnn.nonlinearity == activation and rnn.batch_first
    h, out = torch_run(torch, rnn, linear, X)
    tol = tolerance(dtype, X, model)
    h_fastrnn = fastrnn.forward(X, model.W_xh_, model.W_hh_, model.b_, activation=activation)
    np.testing.assert_allclose(h, h_fastrnn, rtol=0, atol=tol)
    assert_same_outputs(model, X, out, tol)
    back = type(model).from_torch(rnn, linear, **(
        {"classes": model.classes_} if kind == "classifier" else {}))
    assert_same_weights(back, model)  # b = bias_ih + 0 exactly
    assert back.activation == activation


def random_torch(torch, dtype, activation, k=K, seed=0, **kwargs):
    torch.manual_seed(seed)
    tdtype = getattr(torch, dtype)
    rnn = torch.nn.RNN(D, H, nonlinearity=activation, batch_first=True, dtype=tdtype, **kwargs)
    linear = torch.nn.Linear(H, k, dtype=tdtype)
    return rnn, linear


@pytest.mark.torch
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_from_torch_computes_the_modules(torch, kind, dtype, activation):
    rnn, linear = random_torch(torch, dtype, activation)
    X = inputs(dtype)
    if kind == "classifier":
        model = RNNClassifier.from_torch(rnn, linear, classes=[3, 1, 2, 0])
        order = np.argsort([3, 1, 2, 0])
    else:
        model = RNNRegressor.from_torch(rnn, linear)
        order = np.arange(K)
    assert model.dtype == dtype and model.activation == activation and model.n_hidden == H
    h, out = torch_run(torch, rnn, linear, X)
    tol = tolerance(dtype, X, model)
    np.testing.assert_allclose(
        h, fastrnn.forward(X, model.W_xh_, model.W_hh_, model.b_, activation=activation),
        rtol=0, atol=tol)
    assert_same_outputs(model, X, out[..., order], tol)
    # and back: the same modules' computation (the biases summed into bias_ih)
    rnn2, linear2 = model.to_torch()
    if kind == "regressor":
        _, out2 = torch_run(torch, rnn2, linear2, X)
        np.testing.assert_allclose(out2, out, rtol=0, atol=tol)


@pytest.mark.torch
def test_torch_output_steps_initial_state_and_no_readout(torch):
    X = inputs("float64")
    last = model_of("regressor", "float64", output_steps="last")
    rnn, linear = last.to_torch()
    np.testing.assert_allclose(torch_run(torch, rnn, linear, X)[1][:, -1], last.predict(X),
                               atol=1e-12)
    with_h0 = model_of("regressor", "float64", h0=True)
    with pytest.raises(ValueError, match="learned initial state h0_.*allow_h0=True"):
        with_h0.to_torch()
    rnn, linear = with_h0.to_torch(allow_h0=True)
    hx = torch.as_tensor(with_h0.start_state(N))[None]
    np.testing.assert_allclose(torch_run(torch, rnn, linear, X, hx)[1], with_h0.predict(X),
                               atol=1e-12)
    back = RNNRegressor.from_torch(rnn, linear, h0=with_h0.h0_)
    assert_same_weights(back, with_h0)
    w = weights()
    units = RNNRegressor.from_weights(w["W_xh"], w["W_hh"], w["b"], n_outputs=3)
    rnn, linear = units.to_torch()
    assert linear is None
    np.testing.assert_allclose(torch_run(torch, rnn, None, X)[0][..., :3], units.predict(X),
                               atol=1e-12)
    assert RNNRegressor.from_torch(rnn).n_outputs_ == H


@pytest.mark.torch
def test_torch_modules_without_biases_map_onto_zeros(torch):
    torch.manual_seed(0)
    rnn = torch.nn.RNN(D, H, bias=False, batch_first=True, dtype=torch.float64)
    linear = torch.nn.Linear(H, 1, bias=False, dtype=torch.float64)
    model = RNNRegressor.from_torch(rnn, linear)
    assert not model.b_.any() and not model.b_y_.any()
    X = inputs("float64")
    np.testing.assert_allclose(model.predict(X), torch_run(torch, rnn, linear, X)[1],
                               atol=1e-12)


@pytest.mark.torch
def test_what_does_not_map_onto_torch_is_refused(torch):
    rnn, linear = random_torch(torch, "float64", "tanh")
    refused = [
        # (a bidirectional RNN maps, but its readout must read both directions)
        (dict(rnn=torch.nn.RNN(D, H, bidirectional=True, dtype=torch.float64)),
         r"W_hy must have shape \(16, 4\)"),
        (dict(rnn=torch.nn.LSTM(D, H)), "rnn must be a torch.nn.RNN.*LSTM"),
        (dict(rnn=torch.nn.RNNCell(D, H)), "rnn must be a torch.nn.RNN.*RNNCell"),
        (dict(linear=torch.nn.ReLU()), "linear must be a torch.nn.Linear"),
        (dict(linear=torch.nn.Linear(H + 1, K, dtype=torch.float64)),
         r"W_hy must have shape \(8, 4\).*got \(9, 4\)"),
    ]
    for change, match in refused:
        args = dict(dict(rnn=rnn, linear=linear), **change)
        with pytest.raises(ValueError, match=r"RNNRegressor\.from_torch: " + match):
            RNNRegressor.from_torch(**args)
    with pytest.raises(ValueError, match="activation='relu' disagrees"):
        RNNRegressor.from_torch(rnn, linear, activation="relu")
    with pytest.raises(TypeError, match="come from the layers"):
        RNNRegressor.from_torch(rnn, linear, b=np.zeros(H))
    model = RNNClassifier.from_torch(rnn, linear, classes=list("abcd"))
    model.partial_fit(inputs("float64"), np.full((N, T), "a"))  # trains on
    assert model.n_iter_ == 1


@pytest.mark.torch
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_stacked_and_bidirectional_rnns_map_both_ways(torch, num_layers, bidirectional):
    n_dir = 2 if bidirectional else 1
    torch.manual_seed(num_layers)
    rnn = torch.nn.RNN(D, H, num_layers=num_layers, bidirectional=bidirectional,
                       batch_first=True, dtype=torch.float64)
    linear = torch.nn.Linear(H * n_dir, K, dtype=torch.float64)
    model = RNNRegressor.from_torch(rnn, linear)
    assert model.bidirectional is bidirectional
    assert model.n_hidden == (H if num_layers == 1 else (H,) * num_layers)
    X = inputs("float64")
    h, out = torch_run(torch, rnn, linear, X)
    np.testing.assert_allclose(model.predict(X), out, rtol=0, atol=1e-12)
    # a learned state for every layer and direction, as nn.RNN's h0
    with_h0 = RNNRegressor(**model.get_params()).set_params(learn_initial_state=True,
                                                            max_epochs=2, random_state=0)
    with_h0.fit(X, out)
    with pytest.raises(ValueError, match="allow_h0=True"):
        with_h0.to_torch()
    rnn2, linear2 = with_h0.to_torch(allow_h0=True)
    hx = torch.as_tensor(with_h0.start_state(N).reshape(N, -1, H).transpose(1, 0, 2).copy())
    _, out2 = torch_run(torch, rnn2, linear2, X, hx)
    np.testing.assert_allclose(with_h0.predict(X), out2, rtol=0, atol=1e-12)
    h0 = {k: v for k, v in with_h0.get_weights().items() if k.startswith("h0")}
    back = RNNRegressor.from_torch(rnn2, linear2, **h0)
    for k, v in with_h0.get_weights().items():
        np.testing.assert_array_equal(getattr(back, k + "_"), v, err_msg=k)


def test_readme_does_not_list_stacks_or_directions_as_refused():
    """The README's list of what does not map matches the functions: stacks
    and bidirectional layers map both ways (the test above and
    test_stacked_and_bidirectional_models_map_onto_keras_layers)."""
    import pathlib
    import re

    readme = pathlib.Path(__file__).resolve().parents[1] / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not next to tests/")
    text = readme.read_text(encoding="utf-8")
    refused = re.search(r"^- \*\*Refused\*\*.*?(?=^- |^$)", text, re.M | re.S).group()
    assert "num_layers" not in refused and "`bidirectional`" not in refused, refused
    assert "go_backwards" in refused and "merge_mode" in refused
    assert "- **Stacks and both directions.**" in text


@pytest.mark.torch
def test_stack_of_unequal_layers_does_not_map_onto_one_nn_rnn(torch):
    w = weights()
    model = RNNRegressor.from_weights(w["W_xh"], w["W_hh"], w["b"], n_outputs=2,
                                      W_xh_l1=np.zeros((H, 3)), W_hh_l1=np.eye(3),
                                      b_l1=np.zeros(3))
    assert model.n_hidden == (H, 3)
    with pytest.raises(ValueError, match=r"layers of \[8, 3\] units; nn.RNN's layers"):
        model.to_torch()


# --------------------------------------------------------------------------
# Keras
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keras():
    # Keras reads its backend once, at its first import in the process:
    # PyTorch here unless KERAS_BACKEND names another. If another module
    # imported Keras first, its backend stays; these tests compare through
    # NumPy and hold on any backend. A Keras whose backend cannot be imported
    # is skipped like a missing one.
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError as exc:
        pytest.skip(f"keras cannot be imported: {exc}")
    if int(keras.__version__.split(".")[0]) < 3:
        pytest.skip(f"needs Keras 3, found {keras.__version__}")
    return keras


def numpy(tensor):
    """A backend's tensor as an ndarray (keras.ops.convert_to_numpy warns with
    NumPy 2 on the PyTorch backend)."""
    if hasattr(tensor, "detach"):
        return tensor.detach().cpu().numpy()
    return np.asarray(tensor)


def keras_run(keras, rnn, dense, X, initial_state=None):
    h = rnn(X) if initial_state is None else rnn(X, initial_state=initial_state)
    return numpy(h), (None if dense is None else numpy(dense(h)))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.keras
def test_to_keras_computes_the_model(keras, kind, dtype, activation):
    model = model_of(kind, dtype, activation)
    X = inputs(dtype)
    rnn, dense = model.to_keras()
    assert rnn.dtype == dtype and dense.dtype == dtype and rnn.return_sequences
    h, out = keras_run(keras, rnn, dense, X)
    tol = f32_tol(X, model)  # float64 too: see the module docstring
    np.testing.assert_allclose(
        h, fastrnn.forward(X, model.W_xh_, model.W_hh_, model.b_, activation=activation),
        rtol=0, atol=tol)
    assert_same_outputs(model, X, out, tol)
    back = type(model).from_keras(rnn, dense, **(
        {"classes": model.classes_} if kind == "classifier" else {}))
    assert_same_weights(back, model)
    assert back.activation == activation


def random_keras(keras, dtype, activation, k=K, dense_activation=None, **kwargs):
    keras.utils.set_random_seed(0)
    rnn = keras.layers.SimpleRNN(H, activation=activation, return_sequences=True,
                                 bias_initializer="random_normal", dtype=dtype, **kwargs)
    dense = keras.layers.Dense(k, activation=dense_activation,
                               bias_initializer="random_normal", dtype=dtype)
    rnn.build((None, None, D))
    dense.build((None, H))
    return rnn, dense


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.keras
def test_from_keras_computes_the_layers(keras, kind, dtype, activation):
    rnn, dense = random_keras(keras, dtype, activation,
                              dense_activation="softmax" if kind == "classifier" else None)
    X = inputs(dtype)
    if kind == "classifier":
        model = RNNClassifier.from_keras(rnn, dense, classes=[0, 1, 2, 3])
    else:
        model = RNNRegressor.from_keras(rnn, dense)
    assert model.dtype == dtype and model.activation == activation
    h, out = keras_run(keras, rnn, dense, X)
    tol = f32_tol(X, model)
    np.testing.assert_allclose(
        h, fastrnn.forward(X, model.W_xh_, model.W_hh_, model.b_, activation=activation),
        rtol=0, atol=tol)
    if kind == "classifier":  # the softmax's probabilities
        np.testing.assert_allclose(model.predict_proba(X), out, rtol=0, atol=tol)
    else:
        assert_same_outputs(model, X, out, tol)
    rnn2, dense2 = model.to_keras()
    for a, b in ((rnn, rnn2), (dense, dense2)):
        for wa, wb in zip(a.weights, b.weights):
            np.testing.assert_array_equal(numpy(wa.value), numpy(wb.value))


@pytest.mark.keras
def test_keras_output_steps_initial_state_and_no_readout(keras):
    X = inputs("float64")
    last = model_of("regressor", "float64", output_steps="last")
    rnn, dense = last.to_keras()
    assert not rnn.return_sequences
    model = keras.Sequential([keras.Input((None, D), dtype="float64"), rnn, dense])
    got = numpy(model(X))
    np.testing.assert_allclose(got, last.predict(X), atol=f32_tol(X, last))
    # back: output_steps from return_sequences, unless given
    back = RNNRegressor.from_keras(rnn, dense)
    assert back.output_steps == "last"
    np.testing.assert_array_equal(back.predict(X), last.predict(X))
    assert RNNRegressor.from_keras(rnn, dense, output_steps="all").output_steps == "all"
    clf = model_of("classifier", "float64", output_steps="last")
    assert RNNClassifier.from_keras(*clf.to_keras(), classes=clf.classes_).output_steps == "last"
    assert RNNRegressor.from_keras(*model_of("regressor", "float64").to_keras()).output_steps \
        == "all"
    with_h0 = model_of("regressor", "float64", h0=True)
    with pytest.raises(ValueError, match="learned initial state h0_.*allow_h0=True"):
        with_h0.to_keras()
    rnn, dense = with_h0.to_keras(allow_h0=True)
    out = keras_run(keras, rnn, dense, X, initial_state=with_h0.start_state(N))[1]
    np.testing.assert_allclose(out, with_h0.predict(X), atol=f32_tol(X, with_h0))
    w = weights()
    units = RNNRegressor.from_weights(w["W_xh"], w["W_hh"], w["b"], n_outputs=3)
    rnn, dense = units.to_keras()
    assert dense is None
    assert RNNRegressor.from_keras(rnn, n_outputs=3).n_outputs_ == 3


@pytest.mark.keras
def test_what_does_not_map_onto_keras_is_refused(keras):
    rnn, dense = random_keras(keras, "float64", "tanh")
    owner = r"RNNRegressor\.from_keras: "
    with pytest.raises(ValueError, match=owner + "SimpleRNN activation 'sigmoid'"):
        RNNRegressor.from_keras(random_keras(keras, "float64", "sigmoid")[0], dense)
    with pytest.raises(ValueError, match=owner + "SimpleRNN with go_backwards=True"):
        RNNRegressor.from_keras(random_keras(keras, "float64", "tanh", go_backwards=True)[0])
    with pytest.raises(ValueError, match=owner + "the SimpleRNN layer is not built"):
        RNNRegressor.from_keras(keras.layers.SimpleRNN(H))
    with pytest.raises(ValueError, match=owner + "simple_rnn must be a keras.layers.SimpleRNN"):
        RNNRegressor.from_keras(keras.layers.LSTM(H), dense)
    softmax = random_keras(keras, "float64", "tanh", dense_activation="softmax")[1]
    with pytest.raises(ValueError, match=owner + "a Dense readout with activation 'softmax'"):
        RNNRegressor.from_keras(rnn, softmax)
    relu = random_keras(keras, "float64", "tanh", dense_activation="relu")[1]
    with pytest.raises(ValueError, match="activation 'relu' does not map"):
        RNNClassifier.from_keras(rnn, relu, classes=[0, 1, 2, 3])


# --------------------------------------------------------------------------
# Without the frameworks
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name, call", [
    ("torch", lambda m: m.to_torch()),
    ("keras", lambda m: m.to_keras()),
    ("torch", lambda m: RNNRegressor.from_torch(None)),
    ("keras", lambda m: RNNRegressor.from_keras(None)),
])
def test_a_missing_framework_is_an_import_error_that_says_so(monkeypatch, name, call):
    monkeypatch.setitem(sys.modules, name, None)  # import fails
    with pytest.raises(ImportError, match="fastrnn does not depend on.*pip install torch"
                       if name == "torch" else "needs Keras 3.*pip install keras"):
        call(model_of("regressor", "float64"))


def test_keras_without_its_backend_is_an_import_error_that_says_so(monkeypatch):
    import importlib.util

    monkeypatch.setitem(sys.modules, "keras", None)  # import fails: as without TensorFlow
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "keras" else find_spec(name, *a))
    with pytest.raises(ImportError, match="keras is installed but could not be imported.*"
                                          "set KERAS_BACKEND=torch"):
        model_of("regressor", "float64").to_keras()


def test_importing_fastrnn_imports_neither_framework():
    import subprocess

    code = ("import sys, fastrnn, fastrnn.interop; "
            "print('torch' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.keras
@pytest.mark.parametrize("output_steps", ["all", "last"])
@pytest.mark.parametrize("layout", [dict(n_hidden=(H, 5)), dict(n_hidden=H, bidirectional=True),
                                    dict(n_hidden=(H, 5), bidirectional=True)])
def test_stacked_and_bidirectional_models_map_onto_keras_layers(keras, layout, output_steps):
    X = inputs("float64")
    y = np.cumsum(X, axis=1)[..., :2]
    if output_steps == "last":
        y = y[:, -1]
    model = RNNRegressor(**layout, output_steps=output_steps, max_epochs=2, dtype="float64",
                         random_state=0).fit(X, y)
    layers, dense = model.to_keras()
    n_dir = 2 if model.bidirectional else 1
    assert len(layers) == len(np.atleast_1d(model.n_hidden))
    assert all(isinstance(layer, keras.layers.Bidirectional) == (n_dir == 2)
               for layer in layers)
    net = keras.Sequential([keras.Input((None, D), dtype="float64"), *layers, dense])
    # float32 products in Keras' float64 (see the module docstring), per layer
    tol = len(layers) * f32_tol(X, model)
    np.testing.assert_allclose(numpy(net(X)), model.predict(X), rtol=0, atol=tol)
    back = RNNRegressor.from_keras(layers, dense, output_steps=output_steps)
    for k, v in model.get_weights().items():
        np.testing.assert_array_equal(getattr(back, k + "_"), v, err_msg=k)
    assert RNNRegressor.from_keras(layers, dense).output_steps == output_steps


@pytest.mark.keras
def test_what_does_not_map_onto_a_keras_stack_is_refused(keras):
    def built(layer, width=D):
        layer.build((None, None, width))
        return layer

    SimpleRNN, Bidirectional = keras.layers.SimpleRNN, keras.layers.Bidirectional
    refused = [
        (built(Bidirectional(SimpleRNN(H), merge_mode="sum")), "merge_mode='sum'"),
        (built(SimpleRNN(H, go_backwards=True)), "go_backwards=True"),
        ([built(SimpleRNN(H)), built(Bidirectional(SimpleRNN(H)), H)],
         "all Bidirectional or none"),
        ([built(SimpleRNN(H)), built(SimpleRNN(H, activation="relu"), H)],
         "one activation"),
        ([], "empty list"),
    ]
    for layers, match in refused:
        with pytest.raises(ValueError, match=match):
            RNNRegressor.from_keras(layers, n_outputs=1)
