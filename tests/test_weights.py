"""Fitted estimators from weight arrays (``from_weights``) and back (``get_weights``)."""

from __future__ import annotations

import numpy as np
import pytest

import fastrnn
from fastrnn import RNNClassifier, RNNRegressor, reference

D, H, K = 3, 6, 2


def arrays(dtype=np.float64, seed=0, h0=False):
    rng = np.random.default_rng(seed)
    w = dict(W_xh=rng.normal(size=(D, H)), W_hh=0.4 * rng.normal(size=(H, H)) / np.sqrt(H),
             b=0.1 * rng.normal(size=H), W_hy=rng.normal(size=(H, K)),
             b_y=rng.normal(size=K))
    if h0:
        w["h0"] = rng.uniform(-0.5, 0.5, size=H)
    return {k: v.astype(dtype) for k, v in w.items()}


def data(n=5, T=7, seed=1):
    return np.random.default_rng(seed).normal(size=(n, T, D))


def expected_outputs(w, X, activation="tanh"):
    """The model's outputs at every step, in NumPy (the reference recurrence)."""
    h = reference.forward(X, w["W_xh"], w["W_hh"], w["b"], w.get("h0"), activation=activation)
    return h @ w["W_hy"] + w["b_y"]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("with_h0", [False, True])
def test_regressor_predicts_the_model_of_its_weights(activation, with_h0):
    w = arrays(h0=with_h0)
    X = data()
    model = RNNRegressor.from_weights(**w, activation=activation)
    assert model.n_features_in_ == D and model.n_outputs_ == K and model.n_iter_ == 0
    assert model.n_hidden == H and model.dtype == "float64"
    assert model.learn_initial_state is with_h0 and model.readout is True
    want = expected_outputs(w, X, activation)
    np.testing.assert_allclose(model.predict(X), want, rtol=0, atol=1e-12)
    y, state = model.step(X[:, :3])
    np.testing.assert_allclose(y, want[:, :3], rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.step(X[:, 3:], state)[0], want[:, 3:], rtol=0, atol=1e-12)
    assert model.score(X, want) == pytest.approx(1.0, abs=1e-12)


def test_dtype_follows_the_arrays_unless_given():
    assert RNNRegressor.from_weights(**arrays(np.float32)).W_hh_.dtype == np.float32
    mixed = dict(arrays(np.float32), b=arrays()["b"])           # one float64 array: float64
    assert RNNRegressor.from_weights(**mixed).dtype == "float64"
    model = RNNRegressor.from_weights(**arrays(), dtype="float32")
    assert model.dtype == "float32"
    assert all(v.dtype == np.float32 for v in model.get_weights().values())


def test_arrays_are_copied():
    w = arrays()
    model = RNNRegressor.from_weights(**w)
    before = model.predict(data())
    w["W_hh"][...] = 0
    out = model.get_weights()
    out["W_xh"][...] = 0
    np.testing.assert_array_equal(model.predict(data()), before)


def test_one_output_without_an_output_axis():
    w = arrays()
    model = RNNRegressor.from_weights(w["W_xh"], w["W_hh"], w["b"], w["W_hy"][:, 0],
                                      w["b_y"][0])
    X = data()
    assert model.predict(X).shape == (5, 7)
    np.testing.assert_allclose(model.predict(X), expected_outputs(w, X)[..., 0], atol=1e-12)
    got = model.get_weights()
    assert got["W_hy"].shape == (H,) and got["b_y"].shape == ()
    # (H, 1) keeps the axis
    keep = RNNRegressor.from_weights(w["W_xh"], w["W_hh"], w["b"], w["W_hy"][:, :1],
                                     w["b_y"][:1])
    assert keep.predict(X).shape == (5, 7, 1)


def test_without_a_readout_the_units_are_the_outputs():
    w = arrays()
    X = data()
    h = reference.forward(X, w["W_xh"], w["W_hh"], w["b"])
    model = RNNRegressor.from_weights(w["W_xh"], w["W_hh"], w["b"], n_outputs=2)
    assert model.readout is False
    np.testing.assert_allclose(model.predict(X), h[..., :2], atol=1e-12)
    every = RNNRegressor.from_weights(w["W_xh"], w["W_hh"], w["b"])
    assert every.n_outputs_ == H


@pytest.mark.parametrize("output_steps", ["all", "last", 3])
def test_get_weights_round_trip_of_fitted_models(output_steps):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 6, D))
    yr = X.cumsum(axis=1)[..., 0]
    yc = np.where(X[..., 0] > 0, "up", "down")
    if output_steps == "last":
        yr, yc = yr[:, -1], yc[:, -1]
    elif output_steps == 3:
        yr, yc = yr[:, -3:], yc[:, -3:]
    fits = [
        (RNNRegressor(n_hidden=5, max_epochs=2, learn_initial_state=True, random_state=0,
                      output_steps=output_steps).fit(X, yr), {}),
        (RNNRegressor(n_hidden=5, max_epochs=2, readout=False, random_state=0,
                      output_steps=output_steps).fit(X, np.tanh(yr)), "n_outputs"),
        (RNNClassifier(n_hidden=5, max_epochs=2, random_state=0,
                       output_steps=output_steps).fit(X, yc), "classes"),
    ]
    for model, extra in fits:
        kwargs = {"n_outputs": model.n_outputs_} if extra == "n_outputs" else (
            {"classes": model.classes_} if extra == "classes" else {})
        copy = type(model).from_weights(**model.get_weights(), **kwargs, **model.get_params())
        assert copy.get_params() == model.get_params()
        want = model.predict(X)
        if extra == "n_outputs":  # without a readout, the output axis stays
            want = want[..., None]
        np.testing.assert_array_equal(copy.predict(X), want)
        for key, value in model.get_weights().items():
            np.testing.assert_array_equal(copy.get_weights()[key], value)


def test_classifier_classes_in_any_order():
    w = arrays()
    X = data()
    logits = expected_outputs(w, X)                 # column j: classes[j]
    clf = RNNClassifier.from_weights(**w, classes=["yes", "no"])
    assert clf.classes_.tolist() == ["no", "yes"]
    np.testing.assert_array_equal(clf.predict(X), np.array(["yes", "no"])[logits.argmax(-1)])
    proba = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), proba[..., ::-1], atol=1e-12)


def test_save_load_and_continue_training(tmp_path):
    w = arrays(h0=True)
    X = data(n=16)
    y = np.sin(X[..., :K])
    model = RNNRegressor.from_weights(**w, random_state=0, batch_size=4)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = fastrnn.load(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    for est in (model, loaded):  # weights given, not trained here: not scaled
        np.testing.assert_array_equal(est.input_scale_, np.ones(X.shape[2]))
        np.testing.assert_array_equal(est.target_scale_, np.ones(K))
    before = model.score(X, y)
    for est in (model, loaded):
        for _ in range(3):
            est.partial_fit(X, y)
        assert est.n_iter_ == 3 and len(est.loss_curve_) == 3
    # the same start, the same generator seed, the same fresh optimizer: the same training
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert model.score(X, y) > before
    assert not np.array_equal(model.W_hh_, w["W_hh"])
    clf = RNNClassifier.from_weights(**arrays(), classes=[0, 1], random_state=0)
    clf.partial_fit(X, (X[..., 0] > 0).astype(int))  # fitted: no classes needed
    assert clf.n_iter_ == 1


def test_fit_starts_over_and_warm_start_continues():
    w = arrays()
    X, y = data(n=8), np.zeros((8, 7, K))
    warm = RNNRegressor.from_weights(**w, warm_start=True, max_epochs=1).fit(X, y)
    assert warm.n_iter_ == 1
    fresh = RNNRegressor.from_weights(**w, max_epochs=1, random_state=0).fit(X, y)
    assert fresh.n_iter_ == 1
    assert not np.allclose(fresh.W_xh_, w["W_xh"], atol=0.05)  # initialized anew


def _bad(**changes):
    w = arrays()
    w.update(changes)
    return w


@pytest.mark.parametrize("changes, match", [
    (dict(W_xh=np.ones(H)), r"W_xh must be 2-D \(n_features, n_hidden\), got shape \(6,\)"),
    (dict(W_xh=np.ones((D, H + 1))),
     r"W_xh must have shape \(3, 6\) = \(n_features, n_hidden\).*got \(3, 7\)"),
    (dict(W_hh=np.ones((H, H + 1))), r"W_hh must be a square matrix.*got shape \(6, 7\)"),
    (dict(b=np.ones(H - 1)), r"b must have shape \(6,\) = \(n_hidden,\).*got \(5,\)"),
    (dict(h0=np.ones((1, H))), r"h0 must have shape \(6,\).*got \(1, 6\)"),
    (dict(W_hy=np.ones((H + 1, K))),
     r"W_hy must have shape \(6, 2\) = \(n_hidden, n_outputs\).*got \(7, 2\)"),
    (dict(b_y=np.ones(K + 1)), r"b_y must have shape \(2,\) = \(n_outputs,\).*got \(3,\)"),
    (dict(W_hy=np.ones((2, 3, 4))), r"W_hy must be 2-D"),
    (dict(b_y=None), "W_hy and b_y go together"),
    (dict(W_hh=np.full((H, H), np.nan)), "W_hh contains NaN or inf"),
    (dict(b_y=np.array([0, np.inf])), "b_y contains NaN or inf"),
])
def test_bad_arrays_are_named(changes, match):
    with pytest.raises(ValueError, match=r"RNNRegressor\.from_weights: " + match):
        RNNRegressor.from_weights(**_bad(**changes))


def test_bad_types_and_hyperparameters():
    with pytest.raises(TypeError, match="W_hh must hold floats.*int64"):
        RNNRegressor.from_weights(**_bad(W_hh=np.eye(H, dtype=np.int64)))
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['n_hiden'\]"):
        RNNRegressor.from_weights(**arrays(), n_hiden=6)
    with pytest.raises(ValueError, match="n_hidden=5 disagrees with the weights.*n_hidden=6"):
        RNNRegressor.from_weights(**arrays(), n_hidden=5)
    with pytest.raises(ValueError, match="learn_initial_state=True disagrees"):
        RNNRegressor.from_weights(**arrays(), learn_initial_state=True)
    with pytest.raises(ValueError, match="activation must be one of"):
        RNNRegressor.from_weights(**arrays(), activation="sigmoid")
    with pytest.raises(ValueError, match="n_symbols=4 disagrees with W_xh"):
        RNNRegressor.from_weights(**arrays(), n_symbols=4)
    w = arrays()
    with pytest.raises(ValueError, match="n_outputs=7 teaches more units than n_hidden = 6"):
        RNNRegressor.from_weights(w["W_xh"], w["W_hh"], w["b"], n_outputs=7)
    with pytest.raises(ValueError, match="n_outputs is only for a model without a readout"):
        RNNRegressor.from_weights(**w, n_outputs=2)


def test_bad_classifier_readouts():
    w = arrays()
    with pytest.raises(ValueError, match=r"one column per class: W_hy \(n_hidden, 3\)"):
        RNNClassifier.from_weights(**w, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="classes must be distinct"):
        RNNClassifier.from_weights(**w, classes=[1, 1])
    with pytest.raises(ValueError, match="W_hy and b_y are required"):
        RNNClassifier.from_weights(w["W_xh"], w["W_hh"], w["b"], None, None, classes=[0, 1])
    with pytest.raises(TypeError, match="classes"):
        RNNClassifier.from_weights(**w)


def test_integer_ids_use_the_rows_of_W_xh():
    w = arrays()
    ids = np.random.default_rng(3).integers(0, D, size=(4, 5))
    model = RNNRegressor.from_weights(**w, n_symbols=D)
    np.testing.assert_allclose(model.predict(ids), expected_outputs(w, np.eye(D)[ids]),
                               atol=1e-12)


def test_get_weights_needs_a_fitted_model():
    with pytest.raises(fastrnn.NotFittedError):
        RNNRegressor().get_weights()
