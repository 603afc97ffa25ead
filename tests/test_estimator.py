"""RNNRegressor and RNNClassifier: learning, reproducibility, gradients,
truncated BPTT, state continuation, persistence, stability and errors.

Tasks are small (tens of hidden units, hundreds of sequences) so that the
module runs in well under a minute; the hidden sizes keep B * H * H small.
"""

from __future__ import annotations

import copy
import io
import math
import pickle
import zipfile

import numpy as np
import pytest

import fastrnn
from fastrnn import NotFittedError, RNNClassifier, RNNRegressor, _training, reference
from fastrnn.estimator import NonFiniteLossError
from fastrnn.io import FORMAT_VERSION

WEIGHTS = ("W_xh_", "W_hh_", "b_", "W_hy_", "b_y_")


# --------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------

def memory_task(n, T, rng, C=4):
    """Remember which of C symbols was shown at step 0, through T - 1 steps of
    noise on another input, and name it at the end."""
    c = rng.integers(0, C, size=n)
    X = np.zeros((n, T, C + 1))
    X[np.arange(n), 0, c] = 1.0
    X[:, :, C] = rng.normal(0.0, 1.0, size=(n, T))
    return X, c


def frequency_task(n, T, rng):
    """Name the frequency of a noisy sine with a random phase."""
    c = rng.integers(0, 3, size=n)
    f = np.array([2.0, 4.0, 6.0])[c]
    t = np.arange(T)
    phase = rng.uniform(0, 2 * np.pi, size=n)
    X = np.sin(2 * np.pi * f[:, None] * t[None] / T + phase[:, None])
    X += rng.normal(0, 0.3, size=(n, T))
    return X[:, :, None], np.array(["low", "mid", "high"])[c]


def filter_task(n, T, rng):
    """y_t = x_{t-1} + 0.5 x_{t-2}: a target at every step, from past inputs only."""
    x = rng.uniform(-1, 1, size=(n, T))
    y = np.zeros_like(x)
    y[:, 1:] += x[:, :-1]
    y[:, 2:] += 0.5 * x[:, :-2]
    return x[:, :, None], y[:, :, None]


def sign_of_sum_task(n, T, rng, pad_value=3.0):
    """Is the sum of a variable-length sequence positive? Padding holds garbage."""
    L = rng.integers(3, T + 1, size=n)
    X = rng.uniform(-1, 1, size=(n, T, 1))
    valid = np.arange(T)[None] < L[:, None]
    X[~valid] = pad_value
    s = np.where(valid[:, :, None], X, 0).sum(axis=(1, 2))
    return X, (s > 0).astype(int), L


def running_mean_task(n, T, rng):
    """y_t = mean of the last three true inputs; variable lengths, NaN targets
    and garbage inputs at padded steps."""
    L = rng.integers(4, T + 1, size=n)
    x = rng.uniform(-1, 1, size=(n, T))
    y = np.zeros_like(x)
    for lag in range(3):
        y[:, lag:] += x[:, : T - lag] / 3
    valid = np.arange(T)[None] < L[:, None]
    x[~valid] = 5.0
    y[~valid] = np.nan
    return x[:, :, None], y, L


def small_regression(seed=0, n=24, T=6, D=3, k=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, D))
    y = np.tanh(np.cumsum(X[:, :, :k], axis=1) / 2)
    return X, y


def majority_accuracy(y_train, y_test):
    values, counts = np.unique(y_train, return_counts=True)
    return float(np.mean(y_test == values[np.argmax(counts)]))


# --------------------------------------------------------------------------
# 1. Learning real sequence tasks
# --------------------------------------------------------------------------

def test_learns_long_range_memory():
    rng = np.random.default_rng(0)
    X, y = memory_task(600, 40, rng)
    Xt, yt = memory_task(300, 40, rng)
    clf = RNNClassifier(n_hidden=16, output_steps="last", learning_rate=0.01,
                        max_epochs=30, dtype="float64", random_state=0).fit(X, y)
    baseline = majority_accuracy(y, yt)
    assert baseline < 0.35
    assert clf.score(Xt, yt) > 0.95


def test_learns_many_to_one_classification_with_string_labels():
    rng = np.random.default_rng(1)
    X, y = frequency_task(400, 24, rng)
    Xt, yt = frequency_task(300, 24, rng)
    clf = RNNClassifier(n_hidden=16, output_steps="last", learning_rate=0.01,
                        max_epochs=20, random_state=0).fit(X, y)
    assert clf.classes_.tolist() == ["high", "low", "mid"]
    assert majority_accuracy(y, yt) < 0.4
    assert clf.score(Xt, yt) > 0.9
    proba = clf.predict_proba(Xt)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(Xt), clf.classes_[proba.argmax(axis=1)])


def test_learns_sequence_to_sequence_regression():
    rng = np.random.default_rng(2)
    X, y = filter_task(400, 20, rng)
    Xt, yt = filter_task(200, 20, rng)
    reg = RNNRegressor(n_hidden=16, learning_rate=0.01, max_epochs=20,
                       random_state=0).fit(X, y)
    # Baselines: the mean (R² = 0) and the best linear map of the current input
    # (the target depends on past inputs only, so it explains nothing).
    A = np.c_[X.reshape(-1, 1), np.ones(X.size)]
    coef = np.linalg.lstsq(A, y.reshape(-1), rcond=None)[0]
    At = np.c_[Xt.reshape(-1, 1), np.ones(Xt.size)]
    resid = yt.reshape(-1) - At @ coef
    r2_linear = 1 - (resid**2).sum() / ((yt - yt.mean()) ** 2).sum()
    assert r2_linear < 0.05
    assert reg.score(Xt, yt) > 0.95
    assert reg.predict(Xt).shape == yt.shape


def test_learns_variable_length_task_and_ignores_padding():
    rng = np.random.default_rng(3)
    X, y, L = sign_of_sum_task(600, 20, rng)
    Xt, yt, Lt = sign_of_sum_task(300, 20, rng)
    clf = RNNClassifier(n_hidden=16, output_steps="last", learning_rate=0.01,
                        max_epochs=25, dtype="float64", random_state=0).fit(X, y, lengths=L)
    assert majority_accuracy(y, yt) < 0.6
    assert clf.score(Xt, yt, lengths=Lt) > 0.88
    # Padded steps are not read: other garbage (even NaN) there changes nothing.
    valid = np.arange(20)[None] < Lt[:, None]
    X2 = Xt.copy()
    X2[~valid] = -100.0
    X3 = Xt.copy()
    X3[~valid] = np.nan
    p = clf.predict_proba(Xt, lengths=Lt)
    np.testing.assert_array_equal(clf.predict_proba(X2, lengths=Lt), p)
    np.testing.assert_array_equal(clf.predict_proba(X3, lengths=Lt), p)


def test_learns_variable_length_sequence_to_sequence():
    rng = np.random.default_rng(4)
    X, y, L = running_mean_task(300, 16, rng)
    Xt, yt, Lt = running_mean_task(200, 16, rng)
    reg = RNNRegressor(n_hidden=16, learning_rate=0.01, max_epochs=25,
                       random_state=0).fit(X, y, lengths=L)
    assert np.isfinite(reg.loss_curve_).all()
    assert reg.score(Xt, yt, lengths=Lt) > 0.9
    pred = reg.predict(Xt, lengths=Lt)
    assert pred.shape == yt.shape
    valid = np.arange(16)[None] < Lt[:, None]
    assert (pred[~valid] == 0).all()


def test_truncated_bptt_learns_character_model():
    # Next-character prediction on a periodic text, trained in windows of 8
    # steps of sequences of 64 steps, as char-rnn does.
    text = "hello world, fast rnn! " * 40
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text])
    V, T = len(chars), 64
    starts = np.arange(0, len(ids) - T - 1, 7)
    x_ids = np.stack([ids[s:s + T] for s in starts])
    y = np.stack([ids[s + 1:s + T + 1] for s in starts])
    X = np.eye(V)[x_ids]
    clf = RNNClassifier(n_hidden=24, bptt_steps=8, learning_rate=0.02, max_epochs=25,
                        batch_size=16, random_state=0).fit(X, y)
    baseline = np.mean(y == np.bincount(y.ravel()).argmax())
    assert baseline < 0.2
    assert clf.score(X, y) > 0.9


# --------------------------------------------------------------------------
# Truncated BPTT: exact semantics
# --------------------------------------------------------------------------

def _manual_tbptt_epoch(params, X, Y, L, k, output_steps, lr, alpha):
    """One epoch, one mini-batch, plain SGD, written with fastrnn.reference:
    windows of k steps, each with its own update, the last hidden state of
    each sequence in a window being the constant h0 of its next window."""
    W_xh, W_hh, b, W_hy, b_y = (params[name].copy() for name in WEIGHTS)
    n, T, _ = X.shape
    carry = np.zeros((n, W_hh.shape[0]))
    for s in range(0, T, k):
        e = min(s + k, T)
        alive = np.flatnonzero(L > s)
        Lw = np.minimum(L[alive] - s, e - s)
        x = X[alive, s:e]
        h0 = None if s == 0 else carry[alive]
        h = reference.forward(x, W_xh, W_hh, b, h0, lengths=Lw)
        # taught (row, step within window) pairs and their targets
        taught = []
        for r, i in enumerate(alive):
            if output_steps == "all":
                steps = range(L[i])
                targets = Y[i, :L[i]]
            else:  # "last"
                steps = [L[i] - 1]
                targets = Y[i][None]
            for t, target in zip(steps, targets):
                if s <= t < e:
                    taught.append((r, t - s, target))
        if taught:
            N = len(taught)
            dh = np.zeros_like(h)
            dW_hy = np.zeros_like(W_hy)
            db_y = np.zeros_like(b_y)
            for r, t, target in taught:
                out = h[r, t] @ W_hy + b_y
                dout = 2 * (out - target) / (N * W_hy.shape[1])
                dh[r, t] += W_hy @ dout
                dW_hy += np.outer(h[r, t], dout)
                db_y += dout
            g = reference.backward(x, h, dh, W_xh, W_hh, h0, lengths=Lw)
            grads = [g.dW_xh + alpha * W_xh, g.dW_hh + alpha * W_hh, g.db,
                     dW_hy + alpha * W_hy, db_y]
            for p, gr in zip((W_xh, W_hh, b, W_hy, b_y), grads):
                p -= lr * gr
        carry[alive] = h[np.arange(len(alive)), Lw - 1]
    return dict(zip(WEIGHTS, (W_xh, W_hh, b, W_hy, b_y)))


@pytest.mark.parametrize("output_steps", ["all", "last"])
@pytest.mark.parametrize("k", [1, 3, 4])
def test_truncated_bptt_matches_manual_windows(output_steps, k):
    rng = np.random.default_rng(5)
    n, T = 6, 10
    X = rng.normal(size=(n, T, 2))
    L = np.array([10, 3, 7, 4, 9, 1])
    Y = rng.normal(size=(n, T, 2)) if output_steps == "all" else rng.normal(size=(n, 2))
    reg = RNNRegressor(n_hidden=5, output_steps=output_steps, optimizer="sgd", momentum=0.0,
                       learning_rate=0.1, alpha=0.01, clip_norm=None, batch_size=n,
                       max_epochs=1, bptt_steps=k, dtype="float64", random_state=0)
    reg.fit(X, Y, lengths=L)
    before = {name: getattr(reg, name).copy() for name in WEIGHTS}
    reg.set_params(warm_start=True).fit(X, Y, lengths=L)
    expected = _manual_tbptt_epoch(before, X, Y, L, k, output_steps, 0.1, 0.01)
    for name in WEIGHTS:
        np.testing.assert_allclose(getattr(reg, name), expected[name], rtol=1e-10,
                                   atol=1e-12, err_msg=name)


def test_bptt_window_covering_the_sequence_is_full_bptt():
    X, y = small_regression()
    kw = dict(n_hidden=6, max_epochs=3, batch_size=8, dtype="float64", random_state=0)
    full = RNNRegressor(**kw).fit(X, y)
    window = RNNRegressor(bptt_steps=6, **kw).fit(X, y)
    longer = RNNRegressor(bptt_steps=100, **kw).fit(X, y)
    for name in WEIGHTS:
        np.testing.assert_array_equal(getattr(window, name), getattr(full, name))
        np.testing.assert_array_equal(getattr(longer, name), getattr(full, name))
    short = RNNRegressor(bptt_steps=2, **kw).fit(X, y)
    assert not np.array_equal(short.W_hh_, full.W_hh_)


def test_truncated_bptt_window_after_every_sequence_of_the_batch_ended():
    # Windows at steps 6.. and 9.. of T = 10 hold no true step of any sequence
    # (all lengths <= 5): they are skipped, not run on an empty batch.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(8, 10, 2))
    L = rng.integers(1, 6, size=8)
    y = rng.integers(0, 2, size=8)
    kw = dict(n_hidden=4, output_steps="last", max_epochs=2, batch_size=4, dtype="float64",
              random_state=0)
    windows = RNNClassifier(bptt_steps=3, **kw).fit(X, y, lengths=L)
    short = RNNClassifier(bptt_steps=3, **kw).fit(X[:, :5], y, lengths=L)
    for name in WEIGHTS:
        np.testing.assert_array_equal(getattr(windows, name), getattr(short, name))


# --------------------------------------------------------------------------
# 3. Reproducibility
# --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_random_state_gives_identical_weights(dtype):
    rng = np.random.default_rng(6)
    X, y, L = sign_of_sum_task(80, 12, rng)
    kw = dict(n_hidden=8, output_steps="last", max_epochs=4, batch_size=16,
              learn_initial_state=True, early_stopping=True, n_iter_no_change=50,
              bptt_steps=5, dtype=dtype)
    a = RNNClassifier(random_state=42, **kw).fit(X, y, lengths=L)
    b = RNNClassifier(random_state=42, **kw).fit(X, y, lengths=L)
    c = RNNClassifier(random_state=43, **kw).fit(X, y, lengths=L)
    for name in WEIGHTS + ("h0_",):
        wa, wb = getattr(a, name), getattr(b, name)
        assert wa.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(wa, wb)
    assert a.loss_curve_ == b.loss_curve_
    assert a.validation_scores_ == b.validation_scores_
    assert not np.array_equal(a.W_hh_, c.W_hh_)
    assert not np.array_equal(a.W_hy_, c.W_hy_)


def test_float32_and_float64_start_from_the_same_weights():
    X, y = small_regression()
    a = RNNRegressor(n_hidden=5, max_epochs=1, learning_rate=1e-12, dtype="float32",
                     random_state=3).fit(X, y)
    b = RNNRegressor(n_hidden=5, max_epochs=1, learning_rate=1e-12, dtype="float64",
                     random_state=3).fit(X, y)
    for name in WEIGHTS:
        assert getattr(a, name).dtype == np.float32
        assert getattr(b, name).dtype == np.float64
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=1e-6)
    # predictions come back as float64 whatever the computation dtype; the
    # float32 model's are float32 values (computed in float32, upcast exactly)
    pa = a.predict(X)
    assert pa.dtype == np.float64 and b.predict(X).dtype == np.float64
    np.testing.assert_array_equal(pa.astype(np.float32), pa)


def test_initialization_is_documented_scheme():
    X, y = small_regression(D=3, k=2)
    tanh = RNNRegressor(n_hidden=7, max_epochs=1, learning_rate=1e-12, dtype="float64",
                        random_state=0).fit(X, y)
    # orthogonal W_hh: all singular values 1, spectral radius 1
    np.testing.assert_allclose(np.linalg.svd(tanh.W_hh_, compute_uv=False), 1.0, atol=1e-9)
    assert np.abs(tanh.W_xh_).max() <= np.sqrt(6 / (3 + 7)) + 1e-9
    assert np.abs(tanh.W_hy_).max() <= np.sqrt(6 / (7 + 2)) + 1e-9
    relu = RNNRegressor(n_hidden=7, activation="relu", max_epochs=1, learning_rate=1e-12,
                        dtype="float64", random_state=0).fit(X, y)
    np.testing.assert_allclose(relu.W_hh_, np.eye(7), atol=1e-9)
    np.testing.assert_allclose(relu.b_, 0, atol=1e-9)


# --------------------------------------------------------------------------
# 4. Gradient of the whole model
# --------------------------------------------------------------------------

def _numeric_gradient(est, X, y, lengths, name, eps=1e-6):
    p = getattr(est, name + "_")
    num = np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        old = p[idx]
        p[idx] = old + eps
        fp, _ = est._objective(X, y, lengths=lengths)
        p[idx] = old - eps
        fm, _ = est._objective(X, y, lengths=lengths)
        p[idx] = old
        num[idx] = (fp - fm) / (2 * eps)
    return num


GRAD_CASES = [
    (RNNRegressor, "all"),
    (RNNRegressor, 2),
    (RNNRegressor, "last"),
    (RNNClassifier, "last"),
    (RNNClassifier, "all"),
]


@pytest.mark.parametrize("cls,output_steps", GRAD_CASES,
                         ids=[f"{c.__name__}-{s}" for c, s in GRAD_CASES])
def test_model_gradient_matches_finite_differences(cls, output_steps):
    rng = np.random.default_rng(7)
    n, T, D, H = 5, 7, 3, 4
    X = rng.normal(size=(n, T, D))
    L = np.array([7, 3, 5, 2, 6])
    if cls is RNNRegressor:
        shape = {"all": (n, T, 2), "last": (n, 2), 2: (n, 2, 2)}[output_steps]
        y = rng.normal(size=shape)
    else:
        shape = {"all": (n, T), "last": (n,)}[output_steps]
        y = rng.choice(np.array(["a", "b", "c"]), size=shape)
        y.flat[:3] = ["a", "b", "c"]
    est = cls(n_hidden=H, output_steps=output_steps, learn_initial_state=True, alpha=0.3,
              learning_rate=0.05, max_epochs=2, dtype="float64", random_state=0)
    est.fit(X, y, lengths=L)  # trained weights: h0_ and the biases are not 0
    assert np.abs(est.h0_).min() > 0
    _, grads = est._objective(X, y, lengths=L)
    assert set(grads) == {"W_xh", "W_hh", "b", "h0", "W_hy", "b_y"}
    for name, g in grads.items():
        num = _numeric_gradient(est, X, y, L, name)
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8, err_msg=name)


def test_training_step_uses_the_checked_gradient():
    # One full-batch SGD step without momentum or clipping moves every weight
    # by -learning_rate * the gradient that the finite-difference test checks.
    X, y = small_regression()
    reg = RNNRegressor(n_hidden=5, optimizer="sgd", momentum=0.0, learning_rate=0.05,
                       clip_norm=None, alpha=0.1, batch_size=len(X), max_epochs=1,
                       dtype="float64", random_state=0).fit(X, y)
    before = {name: getattr(reg, name).copy() for name in WEIGHTS}
    loss, grads = reg._objective(X, y)
    reg.set_params(warm_start=True).fit(X, y)
    for name in WEIGHTS:
        np.testing.assert_allclose(getattr(reg, name),
                                   before[name] - 0.05 * grads[name[:-1]], rtol=1e-12,
                                   atol=1e-14)
    # loss_curve_ is the epoch's mean loss plus the L2 term at the end of it
    assert reg.loss_curve_[-1] < loss


# --------------------------------------------------------------------------
# output_steps, lengths, initial states
# --------------------------------------------------------------------------

def _manual_outputs(est, X, lengths=None, h0=None):
    h = fastrnn.forward(X, est.W_xh_, est.W_hh_, est.b_, h0, activation=est.activation,
                        lengths=lengths)
    return h, h @ est.W_hy_ + est.b_y_


def test_predict_is_the_readout_of_the_functional_forward():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(9, 8, 3))
    L = rng.integers(3, 9, size=9)
    y = rng.normal(size=(9, 8, 2))
    reg = RNNRegressor(n_hidden=6, max_epochs=2, dtype="float64", random_state=0)
    reg.fit(X, y, lengths=L)
    h, out = _manual_outputs(reg, X, L)
    valid = np.arange(8)[None] < L[:, None]
    expected = np.where(valid[:, :, None], out, 0)
    np.testing.assert_allclose(reg.predict(X, lengths=L), expected, rtol=1e-12)
    for K in (1, 3):
        reg_k = RNNRegressor(n_hidden=6, output_steps=K, max_epochs=1, dtype="float64",
                             random_state=0).fit(X, rng.normal(size=(9, K, 2)), lengths=L)
        _, out = _manual_outputs(reg_k, X, L)
        # the last K *true* steps of each sequence
        exp = np.stack([out[i, L[i] - K:L[i]] for i in range(9)])
        np.testing.assert_allclose(reg_k.predict(X, lengths=L), exp, rtol=1e-12)
    reg_last = RNNRegressor(n_hidden=6, output_steps="last", max_epochs=1, dtype="float64",
                            random_state=0).fit(X, rng.normal(size=9), lengths=L)
    _, out = _manual_outputs(reg_last, X, L)
    pred = reg_last.predict(X, lengths=L)
    assert pred.shape == (9,)
    np.testing.assert_allclose(pred, out[np.arange(9), L - 1, 0], rtol=1e-12)


@pytest.mark.parametrize("cls", [RNNRegressor, RNNClassifier])
def test_output_shapes_follow_output_steps(cls):
    rng = np.random.default_rng(9)
    n, T = 10, 6
    X = rng.normal(size=(n, T, 2))
    for steps, shape in (("all", (n, T)), ("last", (n,)), (3, (n, 3))):
        if cls is RNNRegressor:
            targets = [rng.normal(size=shape), rng.normal(size=shape + (2,))]
        else:
            targets = [rng.integers(0, 3, size=shape)]
        for y in targets:
            est = cls(n_hidden=4, output_steps=steps, max_epochs=1, random_state=0).fit(X, y)
            assert est.predict(X).shape == y.shape
            if cls is RNNClassifier:
                assert est.predict_proba(X).shape == shape + (3,)
                assert est.n_outputs_ == 3


def test_return_state_continues_the_sequence():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(7, 12, 2))
    y = rng.normal(size=(7, 12, 1))
    reg = RNNRegressor(n_hidden=6, max_epochs=2, learn_initial_state=True,
                       dtype="float64", random_state=0).fit(X, y)
    full, h_full = reg.predict(X, return_state=True)
    first, h_first = reg.predict(X[:, :5], return_state=True)
    second, h_second = reg.predict(X[:, 5:], initial_state=h_first, return_state=True)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), full,
                               rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h_second, h_full, rtol=1e-13, atol=1e-15)
    # with lengths in the first part, the state is taken at each true end
    L1 = np.array([5, 3, 4, 5, 1, 2, 5])
    _, h_a = reg.predict(X[:, :5], lengths=L1, return_state=True)
    for i in range(7):
        _, h_i = reg.predict(X[i:i + 1, :L1[i]], return_state=True)
        np.testing.assert_allclose(h_a[i], h_i[0], rtol=1e-13, atol=1e-15)
    # the classifier, with output_steps="last"
    clf = RNNClassifier(n_hidden=6, output_steps="last", max_epochs=2, dtype="float64",
                        random_state=0).fit(X, np.arange(7) % 2)
    p_full = clf.predict_proba(X)
    _, h = clf.predict_proba(X[:, :8], return_state=True)
    p2 = clf.predict_proba(X[:, 8:], initial_state=h)
    np.testing.assert_allclose(p2, p_full, rtol=1e-12)


def test_initial_state_carries_the_input():
    # No inputs at all (D = 0): the target is read from the initial state.
    rng = np.random.default_rng(11)
    n, T, H = 200, 5, 8
    S = rng.uniform(-1, 1, size=(n, H))
    X = np.zeros((n, T, 0))
    y = np.repeat(S[:, :2, None], T, axis=2).transpose(0, 2, 1)  # (n, T, 2)
    reg = RNNRegressor(n_hidden=H, learning_rate=0.01, max_epochs=40, random_state=0)
    reg.fit(X, y, initial_state=S)
    assert reg.W_xh_.shape == (0, H)
    assert reg.score(X, y, initial_state=S) > 0.9
    assert reg.score(X, y) < 0.1  # zero initial states: no information


def test_learned_initial_state():
    # Without inputs, a learned h0 lets the model output a fixed pattern.
    n, T = 40, 6
    X = np.zeros((n, T, 0))
    y = np.tile(np.sin(np.arange(T))[None, :, None], (n, 1, 1))
    reg = RNNRegressor(n_hidden=8, learn_initial_state=True, learning_rate=0.03,
                       max_epochs=150, batch_size=n, random_state=0).fit(X, y)
    assert reg.h0_.shape == (8,)
    assert np.abs(reg.h0_).max() > 0.1
    assert reg.score(X, y) > 0.99
    _, out = _manual_outputs(reg, X, h0=reg.h0_)
    np.testing.assert_allclose(reg.predict(X), out, rtol=1e-5, atol=1e-6)
    plain = RNNRegressor(n_hidden=8, random_state=0, max_epochs=1).fit(X, y)
    assert not hasattr(plain, "h0_")


# --------------------------------------------------------------------------
# Optimizers, clipping, L2, partial_fit, warm_start, early stopping
# --------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer,kw", [
    ("sgd", dict(momentum=0.0, learning_rate=0.1)),
    ("sgd", dict(momentum=0.9, learning_rate=0.02)),
    ("sgd", dict(momentum=0.9, nesterov=True, learning_rate=0.02)),
    ("adagrad", dict(learning_rate=0.05)),
    ("adam", dict(learning_rate=0.01)),
])
def test_every_optimizer_trains(optimizer, kw):
    rng = np.random.default_rng(12)
    X, y = filter_task(200, 12, rng)
    reg = RNNRegressor(n_hidden=12, optimizer=optimizer, max_epochs=15, random_state=0,
                       **kw).fit(X, y)
    assert reg.loss_curve_[-1] < 0.3 * reg.loss_curve_[0]
    assert reg.score(X, y) > 0.7


def test_l2_penalty_shrinks_weights():
    X, y = small_regression()
    kw = dict(n_hidden=6, max_epochs=30, learning_rate=0.01, dtype="float64", random_state=0)
    free = RNNRegressor(alpha=0.0, **kw).fit(X, y)
    tied = RNNRegressor(alpha=1.0, **kw).fit(X, y)
    for name in ("W_xh_", "W_hh_", "W_hy_"):
        assert np.linalg.norm(getattr(tied, name)) < 0.8 * np.linalg.norm(getattr(free, name))


def test_partial_fit_keeps_optimizer_state():
    X, y = small_regression()
    kw = dict(n_hidden=5, batch_size=len(X), learning_rate=0.05, dtype="float64",
              random_state=0, tol=0.0, n_iter_no_change=100)
    fitted = RNNRegressor(max_epochs=2, **kw).fit(X, y)
    inc = RNNRegressor(**kw)
    inc.partial_fit(X, y)
    opt = inc._optimizer
    assert opt.n_steps == 1
    inc.partial_fit(X, y)
    assert inc._optimizer is opt and opt.n_steps == 2
    assert inc.n_iter_ == 2 and len(inc.loss_curve_) == 2
    for name in WEIGHTS:
        np.testing.assert_array_equal(getattr(inc, name), getattr(fitted, name))
    # a fresh optimizer for the second pass (Adam's bias correction restarts)
    # would have given other weights
    fresh = RNNRegressor(**kw)
    fresh.partial_fit(X, y)
    del fresh._optimizer
    fresh.partial_fit(X, y)
    assert not np.array_equal(fresh.W_hh_, fitted.W_hh_)


def test_partial_fit_classifier_classes():
    rng = np.random.default_rng(13)
    X, y = memory_task(60, 6, rng, C=3)
    labels = np.array(["x", "y", "z"])[y]
    clf = RNNClassifier(n_hidden=6, output_steps="last", random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, labels)
    clf.partial_fit(X[:30], labels[:30], classes=["z", "y", "x", "w"])
    assert clf.classes_.tolist() == ["w", "x", "y", "z"]
    assert clf.W_hy_.shape == (6, 4)
    clf.partial_fit(X[30:], labels[30:])
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:2], np.array(["x", "q"]))
    with pytest.raises(ValueError, match="differs from the classes"):
        clf.partial_fit(X[:2], labels[:2], classes=["x", "y"])


def test_warm_start_continues_from_the_current_weights():
    rng = np.random.default_rng(14)
    X, y = filter_task(100, 10, rng)
    kw = dict(n_hidden=8, learning_rate=0.01, random_state=0, tol=0.0)
    reg = RNNRegressor(max_epochs=5, **kw).fit(X, y)
    w = reg.W_hh_.copy()
    reg.set_params(warm_start=True, max_epochs=3).fit(X, y)
    assert reg.n_iter_ == 8 and len(reg.loss_curve_) == 8
    assert not np.array_equal(reg.W_hh_, w)
    # it went on from there: its first new epoch is better than a fresh model's
    fresh = RNNRegressor(max_epochs=3, **kw).fit(X, y)
    assert reg.loss_curve_[5] < fresh.loss_curve_[0]
    # without warm_start, fit starts over
    again = RNNRegressor(max_epochs=3, **kw)
    again.fit(X, y)
    again.fit(X, y)
    assert again.n_iter_ == 3
    np.testing.assert_array_equal(again.W_hh_, fresh.W_hh_)
    with pytest.raises(ValueError, match="n_hidden"):
        reg.set_params(n_hidden=9).fit(X, y)


def test_early_stopping_restores_the_best_weights(monkeypatch):
    # A tiny noisy training set and a large learning rate: the validation
    # score peaks early and then falls.
    rng = np.random.default_rng(15)
    X, y = filter_task(60, 10, rng)
    y = y + rng.normal(0, 0.5, size=y.shape)
    kw = dict(n_hidden=16, learning_rate=0.05, batch_size=8, early_stopping=True,
              validation_fraction=0.3, n_iter_no_change=4, tol=0.0, max_epochs=100,
              dtype="float64", random_state=0)
    splits = []
    original = _training.split_validation

    def spy(*args):
        train, val = original(*args)
        splits.append(val)
        return train, val

    monkeypatch.setattr(_training, "split_validation", spy)
    reg = RNNRegressor(**kw).fit(X, y)
    scores = reg.validation_scores_
    assert len(scores) == reg.n_iter_ < 100  # stopped early
    best = int(np.argmax(scores))
    assert reg.best_validation_score_ == scores[best]
    assert best < reg.n_iter_ - 1 and scores[-1] < scores[best]
    # the restored weights are those of the best epoch ...
    assert reg._score_data(splits[0]) == pytest.approx(scores[best], abs=1e-12)
    # ... the very weights a run stopped right after that epoch ends with
    short = RNNRegressor(**dict(kw, max_epochs=best + 1)).fit(X, y)
    for name in WEIGHTS:
        np.testing.assert_array_equal(getattr(reg, name), getattr(short, name))


def test_best_loss_is_the_lowest_loss_after_partial_fit_too(tmp_path):
    X, y = small_regression()
    reg = RNNRegressor(n_hidden=4, learning_rate=0.01, random_state=0)
    for _ in range(3):
        reg.partial_fit(X, y)
        assert reg.best_loss_ == min(reg.loss_curve_)
    reg = RNNRegressor(n_hidden=4, learning_rate=0.01, max_epochs=2, random_state=0).fit(X, y)
    for _ in range(4):
        reg.partial_fit(X, y)
    assert reg.best_loss_ == min(reg.loss_curve_) and len(reg.loss_curve_) == 6
    # a model that has not been trained: inf, also after save and load
    fresh = RNNRegressor.from_weights(reg.W_xh_, reg.W_hh_, reg.b_, reg.W_hy_, reg.b_y_)
    assert fresh.best_loss_ == math.inf
    fresh.save(tmp_path / "m.npz")
    assert fastrnn.load(tmp_path / "m.npz").best_loss_ == math.inf
    # with early stopping it stays None (the validation score is kept instead)
    es = RNNRegressor(n_hidden=4, early_stopping=True, max_epochs=2, random_state=0).fit(X, y)
    es.partial_fit(X, y)
    assert es.best_loss_ is None
    es.save(tmp_path / "es.npz")
    assert fastrnn.load(tmp_path / "es.npz").best_loss_ is None


def test_best_scores_are_those_since_the_last_fit():
    X, y = small_regression()
    es = RNNRegressor(n_hidden=4, max_epochs=4, early_stopping=True, random_state=0).fit(X, y)
    n = len(es.validation_scores_)
    es.set_params(warm_start=True, max_epochs=2).fit(X, y)
    assert len(es.validation_scores_) == n + 2
    assert es.best_validation_score_ == max(es.validation_scores_[n:])
    reg = RNNRegressor(n_hidden=4, max_epochs=4, random_state=0).fit(X, y)
    n = len(reg.loss_curve_)
    reg.set_params(warm_start=True, max_epochs=2).fit(X, 3 * y)
    reg.partial_fit(X, 3 * y)
    assert reg.best_loss_ == min(reg.loss_curve_[n:])


def test_tol_and_n_iter_no_change_on_the_training_loss():
    X, y = small_regression()
    # No epoch improves by 1e9: stop once n_iter_no_change epochs in a row
    # have not improved (scikit-learn's count: the first epoch improves on inf).
    reg = RNNRegressor(n_hidden=4, tol=1e9, n_iter_no_change=3, max_epochs=50,
                       random_state=0).fit(X, y)
    assert reg.n_iter_ == 5
    assert reg.best_loss_ == min(reg.loss_curve_)
    assert reg.validation_scores_ is None
    reg = RNNRegressor(n_hidden=4, tol=0.0, n_iter_no_change=3, max_epochs=7,
                       learning_rate=0.001, random_state=0).fit(X, y)
    assert reg.n_iter_ == 7


def test_clip_norm_bounds_the_update():
    # With plain SGD, one update moves the weights by at most lr * clip_norm.
    X, y = small_regression()
    y = 100 * y  # large errors, large gradients
    reg = RNNRegressor(n_hidden=5, optimizer="sgd", momentum=0.0, learning_rate=0.1,
                       clip_norm=0.5, alpha=0.0, batch_size=len(X), max_epochs=1,
                       dtype="float64", random_state=0, autoscale=False).fit(X, y)
    before = {n: getattr(reg, n).copy() for n in WEIGHTS}
    _, grads = reg._objective(X, y)
    norm = np.sqrt(sum((g**2).sum() for g in grads.values()))
    assert norm > 10
    reg.set_params(warm_start=True).fit(X, y)
    step = np.sqrt(sum(((getattr(reg, n) - before[n]) ** 2).sum() for n in WEIGHTS))
    assert step == pytest.approx(0.1 * 0.5, rel=1e-9)


def test_adam_first_update_moves_each_weight_by_the_learning_rate():
    # Adam's bias-corrected first step is lr * g / (|g| + eps'): every weight
    # with a gradient moves by the learning rate (without the corrections it
    # would move by lr / 10 or by lr * 31.6).
    X, y = small_regression()
    lr = 0.01
    reg = RNNRegressor(n_hidden=5, optimizer="adam", learning_rate=lr, alpha=0.0,
                       batch_size=len(X), max_epochs=1, dtype="float64",
                       random_state=0)
    reg.partial_fit(X, y)  # one mini-batch: one update, from the initial weights
    init = RNNRegressor(**dict(reg.get_params(), learning_rate=1e-300)).fit(X, y)
    for name in WEIGHTS:
        moved = np.abs(getattr(reg, name) - getattr(init, name))
        assert moved.max() == pytest.approx(lr, rel=1e-3), name
    # and it trains: a few epochs of Adam fit the task
    reg.set_params(max_epochs=60, learning_rate=0.02).fit(X, y)
    assert reg.score(X, y) > 0.8


def test_classifier_learns_only_from_the_taught_steps():
    # The label at each step is the sign of the input, but at the untaught
    # steps y holds the opposite label: a classifier that honours target_mask
    # learns the rule; one that read every step would see a coin toss.
    rng = np.random.default_rng(4)
    X = rng.choice([-1.0, 1.0], size=(128, 8, 1))
    truth = (X[:, :, 0] > 0).astype(int)
    taught = rng.random(truth.shape) < 0.5
    y = np.where(taught, truth, 1 - truth)
    clf = RNNClassifier(n_hidden=8, learning_rate=0.02, max_epochs=20, batch_size=16,
                        random_state=0).fit(X, y, target_mask=taught)
    assert clf.score(X, truth) > 0.95
    assert clf.score(X, y, target_mask=taught) > 0.95


# --------------------------------------------------------------------------
# 6. Stability
# --------------------------------------------------------------------------

def _unstable_model(clip_norm):
    # A large learning rate for SGD with momentum, and recurrent weights with
    # spectral radius 3 (a chaotic recurrence whose gradients explode).
    rng = np.random.default_rng(16)
    X, y = filter_task(256, 30, rng)
    reg = RNNRegressor(n_hidden=16, optimizer="sgd", momentum=0.9, learning_rate=0.01,
                       max_epochs=1, clip_norm=clip_norm, random_state=0).fit(X, y)
    reg.W_hh_ *= 3.0
    reg.set_params(warm_start=True, learning_rate=0.2, max_epochs=40, tol=0.0)
    return reg, X, y


def test_unstable_setup_trains_with_clipping():
    reg, X, y = _unstable_model(clip_norm=0.25)
    reg.fit(X, y)
    assert reg.n_iter_ == 41
    assert np.isfinite(reg.loss_curve_).all()
    for name in WEIGHTS:
        assert np.isfinite(getattr(reg, name)).all()
    assert max(reg.loss_curve_) > 2 * np.var(y)  # it was unstable ...
    assert reg.score(X, y) > 0.5  # ... and still learned


def test_divergence_stops_with_clear_error_and_keeps_finite_weights():
    reg, X, y = _unstable_model(clip_norm=None)  # the same run without clipping,
    # and with larger steps: at 0.2 whether this chaotic run overflows within
    # 40 epochs or settles at a huge finite loss depends on rounding (it did
    # change with the order of a sum in the kernels); at 1.0 it overflows.
    reg.set_params(learning_rate=1.0)
    with pytest.raises(NonFiniteLossError, match=r"not finite.*epoch \d+, mini-batch \d+"):
        reg.fit(X, y)
    assert 1 <= reg.n_iter_ < 41
    assert len(reg.loss_curve_) == reg.n_iter_
    assert np.isfinite(reg.loss_curve_).all()
    for name in WEIGHTS:
        assert np.isfinite(getattr(reg, name)).all()
    assert reg.predict(X[:4]).shape == (4, 30, 1)
    assert issubclass(NonFiniteLossError, FloatingPointError)
    assert issubclass(NonFiniteLossError, ValueError)
    assert fastrnn.NonFiniteLossError is NonFiniteLossError
    assert "NonFiniteLossError" in fastrnn.__all__


def test_update_that_overflows_is_undone():
    X, y = small_regression()
    reg = RNNRegressor(n_hidden=5, optimizer="sgd", momentum=0.0, clip_norm=1.0,
                       max_epochs=1, random_state=0).fit(X, y)
    before = {n: getattr(reg, n).copy() for n in WEIGHTS}
    reg.set_params(warm_start=True, learning_rate=1e300)
    with pytest.raises(NonFiniteLossError, match="non-finite.*epoch 2, mini-batch 1"):
        reg.fit(X, y)
    for name in WEIGHTS:
        np.testing.assert_array_equal(getattr(reg, name), before[name])
    assert reg.n_iter_ == 1


# --------------------------------------------------------------------------
# 5. Persistence
# --------------------------------------------------------------------------

def _fitted_models():
    rng = np.random.default_rng(17)
    X, y = small_regression(n=20, T=5, D=2, k=2)
    reg = RNNRegressor(n_hidden=4, max_epochs=2, learn_initial_state=True, random_state=0)
    reg.fit(X, y)
    reg1 = RNNRegressor(n_hidden=4, output_steps=2, max_epochs=2, dtype="float64",
                        early_stopping=True, random_state=np.int64(1))
    reg1.fit(X, y[:, -2:, 0])
    labels = np.array(["cat", "dog", "emu"])[rng.integers(0, 3, size=(20, 5))]
    clf = RNNClassifier(n_hidden=4, max_epochs=2, random_state=0).fit(X, labels)
    clf_obj = RNNClassifier(n_hidden=4, output_steps="last", max_epochs=2,
                            random_state=np.random.default_rng(0))
    clf_obj.fit(X, np.array(["no", "yes"] * 10, dtype=object))
    clf_int = RNNClassifier(n_hidden=4, output_steps="last", max_epochs=2, bptt_steps=2,
                            activation="relu", random_state=0)
    clf_int.fit(X, np.arange(20) % 3 * 10)
    return X, [reg, reg1, clf, clf_obj, clf_int]


def _assert_same_model(a, b, X, saved=True):
    assert type(a) is type(b)
    pa, pb = a.get_params(), b.get_params()
    for key in pa:
        if not saved and key == "random_state":
            assert type(pa[key]) is type(pb[key])
        elif key == "random_state" and not isinstance(pa[key], (int, np.integer)):
            assert pb[key] is None
        elif key == "dtype":
            assert np.dtype(pa[key]) == np.dtype(pb[key])
        else:
            assert pa[key] == pb[key], key
    for name in WEIGHTS + ("h0_",):
        if hasattr(a, name):
            wa, wb = getattr(a, name), getattr(b, name)
            assert wa.dtype == wb.dtype
            np.testing.assert_array_equal(wa, wb)
        else:
            assert not hasattr(b, name)
    for attr in ("n_iter_", "loss_curve_", "validation_scores_", "n_features_in_",
                 "n_outputs_"):
        assert getattr(a, attr) == getattr(b, attr), attr
    pred_a, pred_b = a.predict(X), b.predict(X)
    assert pred_a.dtype == pred_b.dtype
    np.testing.assert_array_equal(pred_a, pred_b)
    if isinstance(a, RNNClassifier):
        assert a.classes_.dtype == b.classes_.dtype
        np.testing.assert_array_equal(a.classes_, b.classes_)
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_save_load_predict_is_identical(tmp_path):
    X, models = _fitted_models()
    for i, model in enumerate(models):
        path = tmp_path / f"model{i}.npz"
        model.save(path)
        loaded = fastrnn.load(path)
        _assert_same_model(model, loaded, X)
        loaded_str = fastrnn.load(str(path))
        _assert_same_model(model, loaded_str, X)
    # to and from file objects too, without adding an extension
    buf = io.BytesIO()
    models[2].save(buf)
    buf.seek(0)
    _assert_same_model(models[2], fastrnn.load(buf), X)
    models[0].save(tmp_path / "noext")
    assert (tmp_path / "noext").exists()


def test_loaded_model_can_continue_training(tmp_path):
    X, models = _fitted_models()
    models[0].save(tmp_path / "m.npz")
    loaded = fastrnn.load(tmp_path / "m.npz")
    y = np.tanh(np.cumsum(X[:, :, :2], axis=1) / 2)
    loaded.partial_fit(X, y)
    assert loaded.n_iter_ == models[0].n_iter_ + 1


def test_pickle_and_deepcopy():
    X, models = _fitted_models()
    for model in models:
        _assert_same_model(model, pickle.loads(pickle.dumps(model)), X, saved=False)
        clone = copy.deepcopy(model)
        _assert_same_model(model, clone, X, saved=False)
        clone.W_hh_ += 1
        assert not np.array_equal(clone.W_hh_, model.W_hh_)
    unfitted = pickle.loads(pickle.dumps(RNNRegressor(n_hidden=3, alpha=0.5)))
    assert unfitted.get_params() == RNNRegressor(n_hidden=3, alpha=0.5).get_params()


def _rewrite(src, dst, **changes):
    with np.load(src, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    for key, value in changes.items():
        if value is None:
            del members[key]
        else:
            members[key] = value
    with open(dst, "wb") as f:
        np.savez(f, **members)


@pytest.fixture
def saved(tmp_path):
    _, models = _fitted_models()
    path = tmp_path / "model.npz"
    models[2].save(path)
    return path


def test_load_truncated_file(saved, tmp_path):
    data = saved.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 100, 3):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated or corrupt|not an .npz|not a fastrnn"):
            fastrnn.load(bad)


def test_load_wrong_format_version(saved, tmp_path):
    bad = tmp_path / "v2.npz"
    _rewrite(saved, bad, format_version=np.array(FORMAT_VERSION + 1))
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}"):
        fastrnn.load(bad)


def test_load_non_fastrnn_npz(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.arange(3.0))
    with pytest.raises(ValueError, match="not a fastrnn model file"):
        fastrnn.load(path)
    npy = tmp_path / "single.npy"
    np.save(npy, np.arange(3.0))
    with pytest.raises(ValueError, match="not a fastrnn model file"):
        fastrnn.load(npy)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a fastrnn model file"):
        fastrnn.load(text)
    with pytest.raises(FileNotFoundError):
        fastrnn.load(tmp_path / "missing.npz")


_UNPICKLED = []


def _record_unpickling():
    _UNPICKLED.append(True)
    return "pwned"


class _Payload:
    def __reduce__(self):
        return (_record_unpickling, ())


def test_load_never_unpickles(saved, tmp_path):
    payload = np.array([_Payload()], dtype=object)
    bad = tmp_path / "pickled.npz"
    _rewrite(saved, bad, classes_=payload)
    assert pickle.loads(pickle.dumps(_Payload())) == "pwned"  # the payload works ...
    _UNPICKLED.clear()
    with pytest.raises(ValueError, match="pickled objects"):
        fastrnn.load(bad)
    assert not _UNPICKLED  # ... but load never ran it
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(ValueError, match="not a fastrnn model file"):
        fastrnn.load(raw)
    assert not _UNPICKLED


@pytest.mark.parametrize("change,match", [
    (dict(W_hh_=np.zeros((3, 3), np.float32)), "W_hh_ must be float32 with shape"),
    (dict(W_xh_=None), "missing weight array 'W_xh_'"),
    (dict(b_y_=np.full(3, np.nan, np.float32)), "b_y_ contains NaN"),
    (dict(classes_=np.array(["b", "a", "c"])), "sorted"),
    (dict(classes_=None), "missing classes_"),
    (dict(estimator=np.array("RNNSomething")), "unknown estimator"),
    (dict(hyperparameters=np.array('{"n_hidden": 4}')), "hyperparameters do not match"),
    (dict(hyperparameters=np.array("{not json")), "not valid JSON"),
    (dict(attributes=np.array('{"n_features_in_": -1}')), "n_features_in_"),
    (dict(extra=np.zeros(2)), "unexpected members"),
    (dict(fastrnn=np.array("something else")), "bad 'fastrnn' marker"),
    (dict(hyperparameters=None), "lacks the 'hyperparameters' member"),
])
def test_load_rejects_inconsistent_contents(saved, tmp_path, change, match):
    bad = tmp_path / "bad.npz"
    _rewrite(saved, bad, **change)
    with pytest.raises(ValueError, match=match):
        fastrnn.load(bad)


def test_load_rejects_invalid_hyperparameters(saved, tmp_path):
    import json

    with np.load(saved) as npz:
        hyper = json.loads(str(npz["hyperparameters"]))
    hyper["n_hidden"] = -4
    bad = tmp_path / "bad.npz"
    _rewrite(saved, bad, hyperparameters=np.array(json.dumps(hyper)))
    with pytest.raises(ValueError, match="invalid hyperparameters.*n_hidden"):
        fastrnn.load(bad)


def test_saved_file_is_a_plain_npz(saved):
    with zipfile.ZipFile(saved) as zf:
        names = set(zf.namelist())
    assert {"fastrnn.npy", "format_version.npy", "hyperparameters.npy", "W_hh_.npy",
            "classes_.npy"} <= names
    with np.load(saved, allow_pickle=False) as npz:
        assert int(npz["format_version"]) == FORMAT_VERSION
        assert npz["classes_"].dtype.kind == "U"


def test_save_before_fit_and_unsavable_classes(tmp_path):
    with pytest.raises(NotFittedError):
        RNNRegressor().save(tmp_path / "x.npz")
    X, y = small_regression()
    clf = RNNClassifier(n_hidden=3, output_steps="last", max_epochs=1, random_state=0)
    clf.fit(X, np.array([(1, 2), (3, 4)] * 12, dtype=object)[:, 0])
    clf.classes_ = np.array([1, "a"], dtype=object)
    with pytest.raises(ValueError, match="cannot save classes_"):
        clf.save(tmp_path / "x.npz")


# --------------------------------------------------------------------------
# verbose
# --------------------------------------------------------------------------

def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = small_regression()
    RNNRegressor(n_hidden=4, max_epochs=3, verbose=1, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines, 1):
        assert line.startswith(f"Epoch {i}: loss = ")
        assert " s, " in line and "sequences/s" in line
    RNNRegressor(n_hidden=4, max_epochs=2, verbose=1, early_stopping=True,
                 random_state=0).fit(X, y)
    assert "validation score = " in capsys.readouterr().out
    RNNRegressor(n_hidden=4, max_epochs=2, verbose=0, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_verbose_2_shows_a_progress_bar(capsys):
    X, y = small_regression(n=40)
    RNNRegressor(n_hidden=4, max_epochs=2, batch_size=4, verbose=2, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "\r[" in out and "10/10 mini-batches" in out
    assert out.count("Epoch ") == 2


# --------------------------------------------------------------------------
# Parameters and errors
# --------------------------------------------------------------------------

def test_get_params_set_params_and_repr():
    est = RNNRegressor(n_hidden=7, learning_rate=0.1)
    params = est.get_params()
    assert params["n_hidden"] == 7 and params["learning_rate"] == 0.1
    assert set(params) == set(RNNClassifier().get_params())
    copy_ = type(est)(**params)
    assert copy_.get_params() == params
    assert est.set_params(alpha=0.5, bptt_steps=4) is est
    assert est.alpha == 0.5 and est.bptt_steps == 4
    with pytest.raises(ValueError, match="Invalid parameter 'n_layers'"):
        est.set_params(n_layers=2)
    assert repr(est) == "RNNRegressor(alpha=0.5, bptt_steps=4, learning_rate=0.1, n_hidden=7)"
    assert repr(RNNClassifier()) == "RNNClassifier()"


@pytest.mark.parametrize("method", ["predict", "score", "predict_proba"])
def test_not_fitted_error(method):
    X = np.zeros((2, 3, 1))
    for cls in (RNNRegressor, RNNClassifier):
        est = cls()
        if not hasattr(est, method):
            continue
        args = (X, np.zeros((2, 3))) if method == "score" else (X,)
        with pytest.raises(NotFittedError, match="not fitted yet"):
            getattr(est, method)(*args)
    assert issubclass(NotFittedError, ValueError)
    assert issubclass(NotFittedError, AttributeError)


BAD_PARAMS = [
    ("n_hidden", 0), ("n_hidden", 2.5), ("n_hidden", True),
    ("activation", "sigmoid"),
    ("output_steps", "first"), ("output_steps", 0), ("output_steps", 1.5),
    ("learn_initial_state", "yes"),
    ("optimizer", "rmsprop"),
    ("learning_rate", 0.0), ("learning_rate", -1), ("learning_rate", float("nan")),
    ("momentum", 1.0), ("momentum", -0.1),
    ("nesterov", 1),
    ("alpha", -1e-3), ("alpha", float("inf")),
    ("clip_norm", 0.0), ("clip_norm", "5"),
    ("batch_size", 0),
    ("max_epochs", 0),
    ("bptt_steps", 0),
    ("early_stopping", None),
    ("validation_fraction", 0.0), ("validation_fraction", 1.0),
    ("tol", -1.0),
    ("n_iter_no_change", 0),
    ("dtype", "float16"), ("dtype", "int32"), ("dtype", "banana"),
    ("random_state", -1), ("random_state", "seed"),
    ("verbose", -1),
    ("warm_start", "no"),
]


@pytest.mark.parametrize("name,value", BAD_PARAMS, ids=[f"{n}={v!r}" for n, v in BAD_PARAMS])
def test_invalid_hyperparameters_raise_in_fit(name, value):
    X, y = small_regression()
    est = RNNRegressor(**{name: value})  # stored unchanged ...
    assert est.get_params()[name] is value
    with pytest.raises(ValueError, match=rf"RNNRegressor: {name} must be"):
        est.fit(X, y)  # ... and rejected by fit, by name
    clf = RNNClassifier(output_steps="last").set_params(**{name: value})
    if name != "output_steps":
        with pytest.raises(ValueError, match=rf"RNNClassifier: {name} must be"):
            clf.fit(X, np.arange(len(X)) % 2)


def test_validation_fraction_too_small_for_the_data():
    X, y = small_regression(n=3)
    with pytest.raises(ValueError, match="validation_fraction"):
        RNNRegressor(early_stopping=True, validation_fraction=0.9).fit(X, y)


def test_bad_X():
    X, y = small_regression(n=6, T=4, D=2, k=1)
    reg = RNNRegressor(n_hidden=3, max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"3-D.*2-D array of shape \(6, 4\).*X\[:, :, None\]"):
        reg.fit(X[:, :, 0], y)
    with pytest.raises(ValueError, match="3-D.*4-D"):
        reg.fit(X[..., None], y)
    with pytest.raises(ValueError, match="X must be numeric"):
        reg.fit(X.astype(str), y)
    with pytest.raises(ValueError, match="X must be numeric"):
        reg.fit(np.array([[["a"]]], dtype=object), y[:1])
    with pytest.raises(ValueError, match="X must be numeric"):
        reg.fit(X.astype(complex), y)
    with pytest.raises(ValueError, match="could not be converted"):
        reg.fit([[[1.0], [2.0]], [[1.0]]], y[:2])
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[2, 1, 0] = bad
        with pytest.raises(ValueError, match=r"X contains NaN or inf \(first at sequence 2, step 1\)"):
            reg.fit(Xb, y)
    with pytest.raises(ValueError, match="at least one sequence"):
        reg.fit(X[:, :0], y[:, :0])
    reg.fit(X.astype(int), y)  # integer input is numeric
    assert reg.W_xh_.dtype == np.float32
    with pytest.raises(ValueError, match="X has 3 features, but RNNRegressor is expecting 2 "
                                         "features as input"):
        reg.predict(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="X contains NaN"):
        reg.predict(np.full((2, 4, 2), np.nan))


@pytest.mark.parametrize("est", [
    RNNRegressor(n_hidden=3, output_steps=3, max_epochs=1, random_state=0),
    RNNClassifier(n_hidden=3, output_steps=3, max_epochs=1, random_state=0)])
def test_predict_refuses_more_last_steps_than_a_sequence_has(est):
    # (the last K steps of a shorter sequence would be steps before its first)
    rng = np.random.default_rng(19)
    X = rng.normal(size=(6, 5, 2))
    est.fit(X, rng.integers(0, 2, size=(6, 3)))
    methods = [est.predict] + ([est.predict_proba] if hasattr(est, "predict_proba") else [])
    for method in methods:
        for n in (1, 6):  # (a few short sequences take the small calls' path)
            with pytest.raises(ValueError, match="output_steps=3 asks for the last 3 "
                                                 "steps, but X has only 2"):
                method(X[:n, :2])
        with pytest.raises(ValueError, match=r"lengths\[1\] = 2"):
            method(X, lengths=[5, 2, 5, 3, 5, 5])
        assert method(X, lengths=[5, 3, 5, 3, 5, 5]).shape[:2] == (6, 3)
    with pytest.raises(ValueError, match=r"lengths\[1\] = 2"):
        est.score(X, rng.integers(0, 2, size=(6, 3)), lengths=[5, 2, 5, 3, 5, 5])


@pytest.mark.parametrize("Est", [RNNRegressor, RNNClassifier])
def test_ragged_sequences_are_refused_with_a_hint(Est):
    rng = np.random.default_rng(20)
    X = rng.normal(size=(20, 5, 2))
    est = Est(n_hidden=4, max_epochs=1, random_state=0).fit(X, (X[..., 0] > 0).astype(int))
    hint = r"X must be a numeric array \(pad variable-length sequences and pass lengths=\)"
    small = [[[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0]]]  # (the small calls' path)
    large = [[[1.0, 2.0]] * 40, [[1.0, 2.0]] * 39]
    methods = [est.predict, est.step] + ([est.predict_proba] if Est is RNNClassifier else [])
    for method in methods:
        for X_bad in (small, large):
            with pytest.raises(ValueError, match=hint):
                method(X_bad)
    with pytest.raises(ValueError, match=hint):
        Est(n_hidden=4, max_epochs=1).fit(large, [[0] * 40, [1] * 39])


def _fitted_state(est):
    """Every attribute of a fitted estimator (arrays copied), and its predictions."""
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v)
             for k, v in vars(est).items() if k not in ("_stepper", "_rng", "_optimizer")}
    return state, est.predict(np.random.default_rng(5).normal(size=(7, 5, 2)) * 1000)


def _assert_same_state(a, b):
    assert a[0].keys() == b[0].keys()
    for k, v in a[0].items():
        if isinstance(v, np.ndarray):
            assert np.array_equal(v, b[0][k]) and v.dtype == b[0][k].dtype, k
        else:
            assert v == b[0][k] or (v != v and b[0][k] != b[0][k]), k
    assert np.array_equal(a[1], b[1])


@pytest.mark.parametrize("case", ["warm-start-scaled", "refit-early-stopping",
                                  "refit-classes", "refit-single-output",
                                  "refit-unsplittable-weights"])
def test_a_refused_fit_leaves_the_model_as_it_was(case):
    rng = np.random.default_rng(21)
    X = rng.normal(size=(20, 5, 2)) * 1000  # (autoscale: inputs scaled by 2**-10)
    if case == "refit-classes":
        est = RNNClassifier(n_hidden=4, output_steps="last", max_epochs=2, random_state=0)
        est.fit(X, np.where(X[:, 0, 0] > 0, "a", "b"))
    elif case == "refit-single-output":
        est = RNNRegressor(n_hidden=4, output_steps="last", max_epochs=2, random_state=0)
        est.fit(X, rng.normal(size=(20, 1)))
    else:
        est = RNNRegressor(n_hidden=4, max_epochs=2, random_state=0)
        est.fit(X, rng.normal(size=(20, 5)))
    assert est.input_scale_[0] != 1
    before = _fitted_state(est)
    with pytest.raises(ValueError):
        if case == "warm-start-scaled":  # one sequence: nothing to hold out
            est.set_params(warm_start=True, early_stopping=True).fit(X[:1], X[:1, :, 0])
        elif case == "refit-early-stopping":
            est.set_params(early_stopping=True).fit(X[:1], X[:1, :, 0])
        elif case == "refit-classes":
            est.fit(X, np.array(list("cdefg") * 4), sample_weight=-np.ones(20))
        elif case == "refit-single-output":
            est.fit(X, rng.normal(size=20), sample_weight=np.zeros(20))
        else:  # (the validation part gets only sequences of weight 0)
            weight = np.zeros(20)
            weight[0] = 1.0
            est.set_params(early_stopping=True, validation_fraction=0.5,
                           random_state=1).fit(X, X[:, :, 0], sample_weight=weight)
    est.set_params(warm_start=False, early_stopping=False, validation_fraction=0.1,
                   random_state=0)
    _assert_same_state(before, _fitted_state(est))


def test_early_stopping_needs_weight_on_both_parts():
    rng = np.random.default_rng(22)
    X = rng.normal(size=(20, 5, 2))
    weight = np.zeros(20)
    weight[:2] = 1.0
    clf = RNNClassifier(n_hidden=3, max_epochs=2, early_stopping=True,
                        validation_fraction=0.2)
    refused = 0
    for seed in range(8):  # some splits hold out only sequences of weight 0
        clf.set_params(random_state=seed)
        try:
            clf.fit(X, (X[..., 0] > 0).astype(int), sample_weight=weight)
        except ValueError as e:
            assert "none of them has a taught output with a sample_weight > 0" in str(e)
            refused += 1
        else:
            assert all(np.isfinite(clf.validation_scores_))
    assert 0 < refused < 8


@pytest.mark.parametrize("bad", [[0.0, 1.0, np.nan], [0.0, np.inf], [1j, 2j]])
def test_partial_fit_refuses_classes_that_fit_refuses_in_y(bad):
    rng = np.random.default_rng(23)
    X = rng.normal(size=(6, 4, 2))
    clf = RNNClassifier(n_hidden=3, output_steps="last", random_state=0)
    with pytest.raises(ValueError, match="NaN or inf labels|Complex data not supported"):
        clf.partial_fit(X, np.zeros(6), classes=bad)
    assert not hasattr(clf, "classes_")
    with pytest.raises(ValueError, match="NaN or inf labels|Complex data not supported"):
        RNNClassifier.from_weights(np.zeros((2, 3)), np.zeros((3, 3)), np.zeros(3),
                                   np.zeros((3, len(bad))), np.zeros(len(bad)), classes=bad)


def test_bad_y():
    rng = np.random.default_rng(18)
    X = rng.normal(size=(6, 4, 2))
    reg = RNNRegressor(n_hidden=3, max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"y must have shape \(6, 4, n_outputs\) or \(6, 4\) "
                                         r"for output_steps='all'.*got \(6, 5\)"):
        reg.fit(X, np.zeros((6, 5)))
    with pytest.raises(ValueError, match="y has 5 sequences but X has 6"):
        reg.fit(X, np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"output_steps='last'.*got \(6, 4, 1\)"):
        reg.set_params(output_steps="last").fit(X, np.zeros((6, 4, 1)))
    with pytest.raises(ValueError, match=r"output_steps=2.*got \(6, 3\)"):
        reg.set_params(output_steps=2).fit(X, np.zeros((6, 3)))
    with pytest.raises(ValueError, match="output_steps=5 asks for the last 5 steps, but X has only 4"):
        reg.set_params(output_steps=5).fit(X, np.zeros((6, 5)))
    with pytest.raises(ValueError, match=r"lengths\[1\] = 2"):
        reg.set_params(output_steps=3).fit(X, np.zeros((6, 3)), lengths=[4, 2, 4, 4, 4, 4])
    with pytest.raises(ValueError, match="y contains NaN or inf"):
        reg.set_params(output_steps="all").fit(X, np.full((6, 4), np.nan))
    with pytest.raises(ValueError, match=r"y has 0 outputs per target \(shape \(6, 4, 0\)\)"):
        reg.fit(X, np.zeros((6, 4, 0)))
    assert not hasattr(reg, "W_hh_")
    with pytest.raises(ValueError, match="y must be numeric"):
        reg.fit(X, np.full((6, 4), "a"))
    reg.fit(X, np.zeros((6, 4, 2)))
    with pytest.raises(ValueError, match="y has 1 outputs per target, but RNNRegressor was fitted with 2"):
        reg.score(X, np.zeros((6, 4)))
    clf = RNNClassifier(n_hidden=3, output_steps="last", max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"y must have shape \(6,\) for output_steps='last'"):
        clf.fit(X, np.zeros((6, 2)))
    with pytest.raises(ValueError, match="NaN or inf labels"):
        clf.fit(X, np.array([0, 1, np.nan, 0, 1, 0]))
    with pytest.raises(ValueError, match="cannot be sorted together"):
        clf.fit(X, np.array([0, "a", 1, 0, 1, 0], dtype=object))


def test_bad_lengths_and_initial_state():
    X, y = small_regression(n=4, T=5, D=2, k=1)
    reg = RNNRegressor(n_hidden=3, max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match=r"lengths must lie in 1\.\.5 \(X's n_steps\), got lengths\[1\] = 0"):
        reg.fit(X, y, lengths=[5, 0, 3, 2])
    with pytest.raises(ValueError, match=r"lengths\[3\] = 6"):
        reg.fit(X, y, lengths=[5, 1, 3, 6])
    with pytest.raises(ValueError, match=r"lengths must have shape \(4,\)"):
        reg.fit(X, y, lengths=[5, 1, 3])
    with pytest.raises(ValueError, match="lengths must hold integers"):
        reg.fit(X, y, lengths=[5, 1.5, 3, 2])
    reg.fit(X, y, lengths=np.array([5.0, 1.0, 3.0, 2.0]))  # integral floats are fine
    with pytest.raises(ValueError, match=r"initial_state must have shape \(4, 3\)"):
        reg.fit(X, y, initial_state=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="initial_state contains NaN"):
        reg.predict(X, initial_state=np.full((4, 3), np.nan))


def test_nan_padding_is_allowed_but_not_nan_data():
    X, y = small_regression(n=4, T=5, D=2, k=1)
    L = np.array([5, 2, 3, 4])
    Xp = X.copy()
    yp = y.copy()
    for i, n in enumerate(L):
        Xp[i, n:] = np.nan
        yp[i, n:] = np.inf
    a = RNNRegressor(n_hidden=3, max_epochs=2, dtype="float64", random_state=0)
    a.fit(Xp, yp, lengths=L)
    b = RNNRegressor(n_hidden=3, max_epochs=2, dtype="float64", random_state=0)
    b.fit(np.nan_to_num(Xp), np.nan_to_num(yp, posinf=0.0), lengths=L)
    np.testing.assert_array_equal(a.W_hh_, b.W_hh_)
    with pytest.raises(ValueError, match="X contains NaN"):
        a.fit(Xp, yp)  # without lengths, these steps are data


def test_score_definitions():
    rng = np.random.default_rng(19)
    X = rng.normal(size=(12, 5, 2))
    L = rng.integers(2, 6, size=12)
    y = rng.normal(size=(12, 5, 2))
    reg = RNNRegressor(n_hidden=4, max_epochs=2, dtype="float64", random_state=0)
    reg.fit(X, y, lengths=L)
    pred = reg.predict(X, lengths=L)
    valid = np.arange(5)[None] < L[:, None]
    yt, yp = y[valid], pred[valid]
    r2 = np.mean(1 - ((yt - yp) ** 2).sum(0) / ((yt - yt.mean(0)) ** 2).sum(0))
    assert reg.score(X, y, lengths=L) == pytest.approx(r2, rel=1e-12)
    labels = rng.choice(np.array(["u", "v"]), size=(12, 5))
    clf = RNNClassifier(n_hidden=4, max_epochs=2, random_state=0).fit(X, labels, lengths=L)
    acc = np.mean(clf.predict(X, lengths=L)[valid] == labels[valid])
    assert clf.score(X, labels, lengths=L) == pytest.approx(acc)
    # labels never seen in fit simply count as errors
    other = np.where(valid, "w", labels)
    assert clf.score(X, other, lengths=L) == 0.0
    proba = clf.predict_proba(X, lengths=L)
    np.testing.assert_allclose(proba[valid].sum(-1), 1, rtol=1e-5)
    assert (proba[~valid] == 0).all()


def test_predict_log_proba_is_the_log_of_predict_proba():
    rng = np.random.default_rng(40)
    X = rng.normal(size=(12, 5, 2))
    y = (np.cumsum(X[:, :, 0], axis=1) > 0).astype(int)
    lengths = rng.integers(2, 6, size=12)
    clf = RNNClassifier(n_hidden=4, max_epochs=2, random_state=0).fit(X, y, lengths=lengths)
    proba = clf.predict_proba(X, lengths=lengths)
    log_proba, state = clf.predict_log_proba(X, lengths=lengths, return_state=True)
    assert log_proba.dtype == np.float64 and log_proba.shape == proba.shape
    valid = np.arange(5)[None, :] < lengths[:, None]
    np.testing.assert_allclose(np.exp(log_proba[valid]), proba[valid], rtol=1e-6)
    assert np.isneginf(log_proba[~valid]).all()
    np.testing.assert_array_equal(state, clf.predict(X, lengths=lengths, return_state=True)[1])
    # stable where log(predict_proba) underflows
    big = clf.set_params(output_steps="last")
    big.W_hy_ *= 1e4
    assert np.isfinite(big.predict_log_proba(X)).all()


def test_convergence_warning_only_when_max_epochs_stops_the_fit():
    import warnings

    rng = np.random.default_rng(41)
    X = rng.normal(size=(16, 4, 1))
    y = np.cumsum(X[..., 0], axis=1) / 3
    with pytest.warns(fastrnn.ConvergenceWarning, match="max_epochs=3 reached.*training loss"):
        RNNRegressor(n_hidden=3, max_epochs=3, random_state=0).fit(X, y)
    with pytest.warns(fastrnn.ConvergenceWarning, match="validation score"):
        RNNRegressor(n_hidden=3, max_epochs=3, early_stopping=True, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastrnn.ConvergenceWarning)
        # tol large: after the first epoch the loss never improves by tol, and
        # the rule stops the fit after n_iter_no_change + 1 more epochs: 4,
        # also when that is max_epochs itself
        for max_epochs in (50, 4):
            reg = RNNRegressor(n_hidden=3, max_epochs=max_epochs, tol=10.0,
                               n_iter_no_change=2, random_state=0).fit(X, y)
            assert reg.n_iter_ == 4
        reg.partial_fit(X, y)  # partial_fit never warns


def test_importing_fastrnn_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = ("import sys, numpy as np, fastrnn\n"
            "X = np.zeros((4, 3, 1)); y = np.zeros((4, 3))\n"
            "r = fastrnn.RNNRegressor(n_hidden=2, max_epochs=20, tol=10.0, n_iter_no_change=1)\n"
            "r.fit(X, y).predict(X)\n"
            "print('sklearn' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_errors_in_scikit_learns_words():
    X, y = small_regression(n=6, T=4, D=2, k=1)
    reg = RNNRegressor(n_hidden=3, max_epochs=1, random_state=0)
    with pytest.raises(ValueError, match="Complex data not supported"):
        reg.fit(X.astype(complex), y)
    bad = X.astype(object)
    bad[0, 0, 0] = {"foo": "bar"}
    with pytest.raises(TypeError, match="X must be numeric.*argument must be a string or a"):
        reg.fit(bad, y)
    reg.fit(X.astype(object), y)  # numbers in an object array are numbers
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        reg.fit(X, None)
    with pytest.raises(ValueError, match=r"got a 1-D array of shape \(2,\). Reshape your data"):
        reg.predict(X[0, 0])
    with pytest.raises(ValueError, match="X has 1 features, but RNNRegressor is expecting 2 "
                                         "features as input"):
        reg.score(X[:, :, :1], y)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        RNNClassifier(max_epochs=1).fit(X, np.linspace(0, 1, 24).reshape(6, 4))


def test_sparse_input_is_refused_by_name():
    sparse = pytest.importorskip("scipy.sparse")
    reg = RNNRegressor(n_hidden=3, max_epochs=1)
    with pytest.raises(TypeError, match="sparse input is not supported"):
        reg.fit(sparse.csr_matrix(np.ones((4, 3))), np.zeros(4))


def test_without_scikit_learn():
    import subprocess
    import sys

    # sys.modules["sklearn"] = None makes every import of scikit-learn fail
    code = """
import sys, warnings
sys.modules["sklearn"] = None
import numpy as np, fastrnn, fastrnn.dask
assert fastrnn.NotFittedError.__mro__[1:3] == (ValueError, AttributeError)
assert fastrnn.ConvergenceWarning.__mro__[1] is UserWarning
X = np.zeros((4, 3, 1)); y = np.zeros((4, 3))
try:
    fastrnn.RNNRegressor().predict(X)
except fastrnn.NotFittedError as exc:
    print("NotFittedError:", exc)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fastrnn.RNNRegressor(n_hidden=2, max_epochs=2).fit(X, y, sample_weight=[1, 2, 0, 1])
print([w.category.__name__ for w in caught])
try:
    fastrnn.RNNRegressor().set_fit_request(lengths=True)
except RuntimeError as exc:
    print("RuntimeError:", exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0].startswith("NotFittedError: This RNNRegressor instance is not fitted yet")
    assert out[1] == "['ConvergenceWarning']"
    assert out[2].startswith("RuntimeError: set_fit_request is only available when")
