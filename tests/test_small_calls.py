"""Small calls of fitted models (a few sequences, a few steps): step and
predict read the weights in place instead of packing them, through the
model's stepper, with the same results, bit for bit, as the full path."""

from __future__ import annotations

import re

import numpy as np
import pytest

import fastrnn
from fastrnn import _base, functional


def _fitted(kind, dtype, activation, ids, learn_initial_state=False):
    rng = np.random.default_rng(3)
    if ids:
        X = rng.integers(0, 9, size=(12, 7))
        D = 9
    else:
        X = rng.standard_normal((12, 7, 4))
        D = 4
    if kind == "classifier":
        y = (X if ids else (X.sum(axis=2) > 0)).astype(int) % 3
        model = fastrnn.RNNClassifier(n_hidden=37, max_epochs=2, random_state=0,
                                      dtype=dtype, activation=activation,
                                      learn_initial_state=learn_initial_state)
    else:
        y = rng.standard_normal((12, 7, 2))
        model = fastrnn.RNNRegressor(n_hidden=37, max_epochs=2, random_state=0,
                                     dtype=dtype, activation=activation,
                                     learn_initial_state=learn_initial_state)
    return model.fit(X, y), X, D


def _full_path(monkeypatch):
    monkeypatch.setattr(_base, "SMALL_STEP", 0)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("ids", [True, False], ids=["ids", "dense"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_small_steps_and_predictions_equal_the_full_path(kernels, dtype, kind, ids,
                                                         activation, monkeypatch):
    model, X, _ = _fitted(kind, dtype.name, activation, ids, learn_initial_state=True)
    chunk = X[:3, :4]
    state = np.random.default_rng(0).standard_normal((3, 37))
    fast = [model.step(chunk, state), model.step(chunk), model.predict(X[:2])]
    if kind == "classifier":
        fast += [model.step(chunk, state, return_proba=True), model.predict_proba(X[:2, :5])]
    assert model._step_small(chunk, state) is not None  # the fast path ran
    _full_path(monkeypatch)
    assert model._step_small(chunk, state) is None
    full = [model.step(chunk, state), model.step(chunk), model.predict(X[:2])]
    if kind == "classifier":
        full += [model.step(chunk, state, return_proba=True), model.predict_proba(X[:2, :5])]
    for a, b in zip(fast, full):
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_array_equal(u, v)


def test_one_step_at_a_time_equals_predict_proba_on_the_whole_sequence():
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    seq = X[:1]
    whole = model.predict_proba(seq)               # 7 steps: the fast path too
    state, probs = None, []
    for t in range(seq.shape[1]):
        p, state = model.step(seq[:, t:t + 1], state, return_proba=True)
        probs.append(p[:, 0])
    np.testing.assert_array_equal(np.stack(probs, axis=1), whole)


def test_step_sees_weights_changed_in_place():
    """Nothing is packed or copied: an edited weight matrix takes effect at
    the next step."""
    model, X, _ = _fitted("regressor", "float64", "tanh", ids=True)
    before, _ = model.step(X[:1, :2])
    model.W_hh_[:] = 0
    after, _ = model.step(X[:1, :2])
    assert not np.array_equal(before, after)
    h = np.tanh(model.b_ + model.W_xh_[X[0, 1]])   # W_hh = 0: each state from its input
    np.testing.assert_allclose(after[0, 1], h @ model.W_hy_ + model.b_y_, rtol=1e-12)


@pytest.mark.parametrize("bad, match", [
    (np.array([[0, 99]]), "integer ids"),
    (np.array([[-1]]), "integer ids"),
    (np.full((1, 2, 9), np.nan), "NaN"),
    (np.zeros((1, 2, 3)), "features"),
])
def test_bad_small_inputs_get_the_full_checks(bad, match):
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    with pytest.raises(ValueError, match=match):
        model.step(bad)


def test_bad_state_gets_the_full_checks():
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    with pytest.raises(ValueError, match="state"):
        model.step(X[:1, :1], np.full((1, 37), np.inf))
    with pytest.raises(ValueError, match="state"):
        model.step(X[:1, :1], np.zeros((2, 37)))


def _full_step(model, X, state, monkeypatch, **kw):
    with monkeypatch.context() as m:
        _full_path(m)
        return model.step(X, state, **kw)


def test_the_stepper_is_built_once_and_again_when_a_weight_is_replaced(monkeypatch):
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    state = model.start_state(1)
    model.step(X[:1, :1], state)
    stepper = model.__dict__["_stepper"]
    model.step(X[:1, :2], state)
    assert model.__dict__["_stepper"] is stepper            # kept
    for name in ("W_xh_", "W_hh_", "b_", "W_hy_", "b_y_"):
        setattr(model, name, getattr(model, name) * 0.5)      # a new array
        fast = model.step(X[:1, :3], state, return_proba=True)
        assert model.__dict__["_stepper"] is not stepper      # built again
        stepper = model.__dict__["_stepper"]
        assert getattr(stepper, name.rstrip("_")) is getattr(model, name)
        full = _full_step(model, X[:1, :3], state, monkeypatch, return_proba=True)
        for a, b in zip(fast, full):
            np.testing.assert_array_equal(a, b)
    model.set_params(activation="relu")
    fast = model.step(X[:1, :3], state, return_proba=True)
    assert model.__dict__["_stepper"].activation_name == "relu"
    full = _full_step(model, X[:1, :3], state, monkeypatch, return_proba=True)
    for a, b in zip(fast, full):
        np.testing.assert_array_equal(a, b)


def test_refit_replaces_the_stepper():
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    before, _ = model.step(X[:2, :3], return_proba=True)
    model.set_params(n_hidden=5).fit(X, X % 3)
    after, state = model.step(X[:2, :3], return_proba=True)
    assert state.shape == (2, 5) and model.__dict__["_stepper"].H == 5
    np.testing.assert_array_equal(after, model.predict_proba(X[:2, :3]).astype(np.float32))
    assert not np.array_equal(before, after)


def test_predict_leaves_the_attributes_as_they_were():
    model, X, _ = _fitted("classifier", "float64", "tanh", ids=True)
    before = dict(model.__dict__)
    assert model._step_small(X[:2, :3], None, keep=False) is not None
    model.predict(X[:2, :3])                        # the small path
    assert model.__dict__.keys() == before.keys()


def test_a_model_that_stepped_pickles_and_copies(tmp_path):
    import copy
    import pickle

    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    expected = model.step(X[:2, :4], return_proba=True)
    for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert "_stepper" not in other.__dict__
        got = other.step(X[:2, :4], return_proba=True)
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)
    model.save(tmp_path / "m.npz")
    got = fastrnn.load(tmp_path / "m.npz").step(X[:2, :4], return_proba=True)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("int_dtype", ["int8", "uint8", "int16", "uint16", "int32",
                                       "uint32", "int64", "uint64"])
def test_ids_of_any_integer_dtype(int_dtype):
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    state = model.start_state(2)
    expected = model.step(X[:2, :4].astype(np.intp), state, return_proba=True)
    ids = X[:2, :4].astype(int_dtype)
    assert model._step_small(ids, state) is not None
    got = model.step(ids, state, return_proba=True)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    bad = ids.copy()
    bad[1, 2] = np.iinfo(int_dtype).max                  # 127 .. 2**64 - 1: past 9 symbols
    with pytest.raises(ValueError, match="integer ids"):
        model.step(bad, state)
    if np.iinfo(int_dtype).min < 0:
        bad[1, 2] = -1
        with pytest.raises(ValueError, match="integer ids"):
            model.step(bad, state)


@pytest.mark.parametrize("model_dtype", ["float32", "float64"])
@pytest.mark.parametrize("input_dtype", ["float32", "float64"])
def test_dense_input_and_state_of_either_float_dtype(model_dtype, input_dtype,
                                                     monkeypatch):
    """Converted to the model's dtype as the full path converts them, and the
    fast path takes them (not contiguous ones either)."""
    model, X, _ = _fitted("regressor", model_dtype, "tanh", ids=False)
    x = X.astype(input_dtype)[:3, 1:6:2]                  # not C-contiguous
    state = np.random.default_rng(1).standard_normal((3, 37)).astype(input_dtype)
    assert not x.flags.c_contiguous
    assert model._step_small(x, state) is not None
    assert model._step_small(x, state[:, ::-1]) is not None
    fast = model.step(x, state)
    full = _full_step(model, x, state, monkeypatch)
    for a, b in zip(fast, full):
        assert a.dtype == np.dtype(model_dtype)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [
    np.array([[1.5, 2.0]]),                                  # floats as ids
    np.array([[True, False]]),
    np.array([["a", "b"]]),
    np.array([[1, 2]], dtype=object),
    np.array([["2026-12-02"]], dtype="datetime64[D]"),
    [[1, 2]],                                                # a list: converted, then fast
])
def test_inputs_the_stepper_does_not_take_go_the_full_path(bad, monkeypatch):
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    state = model.start_state(1)
    if isinstance(bad, np.ndarray):
        assert model._step_small(bad, state) is None
    else:
        assert model._step_small(bad, state) is not None
    try:
        expected = _full_step(model, bad, state, monkeypatch)
    except (ValueError, TypeError) as exc:
        with pytest.raises(type(exc), match=re.escape(str(exc)[:40])):
            model.step(bad, state)
    else:
        for a, b in zip(model.step(bad, state), expected):
            np.testing.assert_array_equal(a, b)


def test_stepper_refuses_weights_it_cannot_hold(kernels):
    f4, f8 = np.zeros((3, 3), np.float32), np.zeros((3, 3), np.float64)
    b4 = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="one dtype"):
        kernels._Stepper(f4, f8, b4, f4, b4, "tanh", 0)
    with pytest.raises(ValueError, match=r"W_hh \(H, H\)"):
        kernels._Stepper(f4, np.zeros((3, 2), np.float32), b4, f4, b4, "tanh", 0)
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels._Stepper(f4, np.zeros((3, 6), np.float32)[:, ::2], b4, f4, b4, "tanh", 0)
    with pytest.raises(ValueError, match="H, N > 0"):
        kernels._Stepper(f4, f4, b4, np.zeros((3, 0), np.float32), b4[:0], "tanh", 0)


@pytest.mark.parametrize("name, shape", [("W_hh_", (4, 4)), ("W_hy_", (37, 1)),
                                         ("b_y_", (2,))])
def test_a_weight_resized_in_place_goes_the_full_path(name, shape):
    """resize(refcheck=False) ignores the stepper's reference: each call takes
    the weights' buffers again and sends a changed shape to the checked
    path, which refuses it (the kernels never read past the new array)."""
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    state = model.start_state(1)
    model.step(X[:1, :2], state)
    stepper = model.__dict__["_stepper"]
    getattr(model, name).resize(shape, refcheck=False)
    assert stepper.holds(model.__dict__)                 # the same arrays ...
    assert model._step_small(X[:1, :2], state) is None   # ... but not their shapes
    with pytest.raises(ValueError):
        model.step(X[:1, :2], state)


def test_no_stepper_without_units_or_outputs():
    model, X, _ = _fitted("regressor", "float64", "tanh", ids=True)
    model = type(model).from_weights(model.W_xh_, model.W_hh_, model.b_,
                                     W_hy=model.W_hy_[:, :0], b_y=model.b_y_[:0])
    assert model._ready_stepper() is None
    out, state = model.step(X[:1, :2])
    assert out.shape == (1, 2, 0) and state.shape == (1, 37)
    assert model.predict(X[:1, :2]).shape[:2] == (1, 2)


def test_step_with_an_activation_of_a_str_subclass(monkeypatch):
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    model.set_params(activation=np.array(["tanh", "relu"])[1])   # numpy.str_
    assert model._step_small(X[:1, :2], model.start_state(1)) is not None
    fast = model.step(X[:1, :2], return_proba=True)
    full = _full_step(model, X[:1, :2], None, monkeypatch, return_proba=True)
    for a, b in zip(fast, full):
        np.testing.assert_array_equal(a, b)


def test_a_large_predict_does_not_prepare_a_small_call(monkeypatch):
    model, X, _ = _fitted("classifier", "float32", "tanh", ids=True)
    calls = []
    monkeypatch.setattr(type(model), "start_state",
                        lambda self, n, *a: calls.append(n) or np.zeros((n, 37), np.float32))
    model.predict(np.zeros((4000, 2), dtype=int))
    assert 4000 not in calls


def test_softmax_kernel_against_numpy(kernels, dtype):
    rng = np.random.default_rng(5)
    z = (rng.standard_normal((4, 3, 103)) * 30).astype(dtype)
    z[0, 0] = 0
    z[1, 1, 7] = 500 if dtype == np.float64 else 80     # one dominant logit
    got = functional.softmax(z)
    assert got.dtype == dtype and got.shape == z.shape
    e = np.exp(z.astype(np.float64) - z.max(axis=-1, keepdims=True))
    expected = e / e.sum(axis=-1, keepdims=True)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, expected, rtol=tol, atol=1e-30)
    np.testing.assert_allclose(got.sum(axis=-1), 1, rtol=tol)
    np.testing.assert_array_equal(got[0, 0], np.full(103, got[0, 0, 0]))
    with pytest.raises(ValueError, match="float32 or float64"):
        functional.softmax(z.astype(np.int64))
