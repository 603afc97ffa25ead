"""Largest differences between fastrnn models and the PyTorch / Keras layers
they map to, in both directions, both dtypes and both activations.

    KERAS_BACKEND=torch python tools/interop_diffs.py

"out": fastrnn to the layers (``to_torch`` / ``to_keras``): the layers'
outputs against ``predict``, and their hidden states against
``fastrnn.forward``. "in": randomly initialized layers to fastrnn
(``from_torch`` / ``from_keras``): ``predict`` against the layers' outputs.
"round trip": the largest change of any weight after going out and back in
(0 means bit for bit). The problem: a regressor with D = 3 inputs, H = 32
units, 4 outputs, on 16 sequences of 50 steps of N(0, 1) inputs, W_hh
orthogonal times 0.9 (spectral norm 0.9).
"""

from __future__ import annotations

import os

import numpy as np

import fastrnn
from fastrnn import RNNRegressor

D, H, K, N, T = 3, 32, 4, 16, 50


def problem(dtype, activation, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(H, H)))
    model = RNNRegressor.from_weights(
        rng.normal(size=(D, H)) / np.sqrt(D), 0.9 * q,
        0.1 * rng.normal(size=H), rng.normal(size=(H, K)) / np.sqrt(H),
        0.1 * rng.normal(size=K), dtype=dtype, activation=activation)
    X = rng.normal(size=(N, T, D)).astype(dtype)
    return model, X


def numpy(tensor):
    if hasattr(tensor, "detach"):
        return tensor.detach().cpu().numpy()
    return np.asarray(tensor)


def max_diff(a, b):
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def weights_change(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    return max(max_diff(wa[k], wb[k]) for k in wa)


def torch_rows(dtype, activation):
    import torch

    model, X = problem(dtype, activation)
    rnn, linear = model.to_torch()
    with torch.no_grad():
        h = rnn(torch.from_numpy(X))[0]
        out = linear(h).numpy()
    h_f = fastrnn.forward(X, model.W_xh_, model.W_hh_, model.b_, activation=activation)
    rows = [("out", max_diff(out, model.predict(X)), max_diff(h.numpy(), h_f))]
    torch.manual_seed(0)
    tdtype = getattr(torch, dtype)
    rnn = torch.nn.RNN(D, H, nonlinearity=activation, batch_first=True, dtype=tdtype)
    linear = torch.nn.Linear(H, K, dtype=tdtype)
    back = RNNRegressor.from_torch(rnn, linear)
    with torch.no_grad():
        out = linear(rnn(torch.from_numpy(X))[0]).numpy()
    rows.append(("in", max_diff(back.predict(X), out), None))
    rows.append(("round trip", weights_change(RNNRegressor.from_torch(*model.to_torch()),
                                              model), None))
    return rows


def keras_rows(dtype, activation):
    import keras

    model, X = problem(dtype, activation)
    rnn, dense = model.to_keras()
    h = numpy(rnn(X))
    out = numpy(dense(h))
    h_f = fastrnn.forward(X, model.W_xh_, model.W_hh_, model.b_, activation=activation)
    rows = [("out", max_diff(out, model.predict(X)), max_diff(h, h_f))]
    keras.utils.set_random_seed(0)
    rnn = keras.layers.SimpleRNN(H, activation=activation, return_sequences=True,
                                 bias_initializer="random_normal", dtype=dtype)
    dense = keras.layers.Dense(K, bias_initializer="random_normal", dtype=dtype)
    out = numpy(dense(rnn(X)))
    back = RNNRegressor.from_keras(rnn, dense)
    rows.append(("in", max_diff(back.predict(X), out), None))
    rows.append(("round trip", weights_change(RNNRegressor.from_keras(*model.to_keras()),
                                              model), None))
    return rows


def main():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    print(f"{'library':8} {'dtype':8} {'act':5} {'direction':11} {'outputs':>10} "
          f"{'hidden':>10}")
    for name, rows_of in (("torch", torch_rows), ("keras", keras_rows)):
        try:
            __import__(name)
        except ImportError:
            print(f"{name}: not installed")
            continue
        for dtype in ("float64", "float32"):
            for activation in ("tanh", "relu"):
                for direction, out, hidden in rows_of(dtype, activation):
                    hid = "" if hidden is None else f"{hidden:10.2e}"
                    print(f"{name:8} {dtype:8} {activation:5} {direction:11} {out:10.2e} "
                          f"{hid:>10}")
    import keras
    print(f"(keras {keras.__version__}, backend {keras.backend.backend()})")


if __name__ == "__main__":
    main()
