"""autoscale: training on inputs and targets of about unit size, exactly undone
in the fitted weights, kept by save/load."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import fastrnn
from fastrnn import ModelFileError, RNNClassifier, RNNRegressor
from fastrnn import io as fio

WEIGHTS = ("W_xh_", "W_hh_", "b_", "W_hy_", "b_y_")


def _noisy(seed, n):
    """Inputs in the thousands, targets of a few hundredths plus noise (as in
    counts of cases and the rates they lead to)."""
    rng = np.random.default_rng(seed)
    X = 500.0 * np.abs(np.cumsum(rng.normal(size=(n, 20, 1)), axis=1))
    y = 0.05 * np.tanh(X[:, -1, 0] / 2000.0 - 1) + 0.01 * rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_autoscale_beats_the_mean_on_a_small_badly_scaled_noisy_set(seed):
    X, y = _noisy(0, 100)
    Xt, yt = _noisy(1, 200)
    mean_mse = np.mean((yt - y.mean()) ** 2)

    def mse(**kw):
        reg = RNNRegressor(n_hidden=16, output_steps="last", random_state=seed, **kw)
        return np.mean((reg.fit(X, y).predict(Xt) - yt) ** 2)

    assert mse() < 0.5 * mean_mse
    # the data as they are: saturated units, and the tol rule stops early
    assert mse(autoscale=False) > 0.9 * mean_mse


def test_scales_are_powers_of_two_far_from_unit_size_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 6, 3)) * np.array([1.0, 1000.0, 0.001])
    y = rng.normal(size=(30, 2)) * np.array([3.0, 0.01])
    reg = RNNRegressor(n_hidden=4, output_steps="last", max_epochs=1, random_state=0)
    reg.fit(X, y)
    np.testing.assert_array_equal(reg.input_scale_, [1.0, 1024.0, 2.0**-10])
    np.testing.assert_array_equal(reg.target_scale_, [1.0, 2.0**-7])
    off = RNNRegressor(n_hidden=4, output_steps="last", max_epochs=1, autoscale=False)
    off.fit(X, y)
    np.testing.assert_array_equal(off.input_scale_, np.ones(3))
    np.testing.assert_array_equal(off.target_scale_, np.ones(2))


def test_padded_steps_and_untaught_values_do_not_count():
    X = np.ones((4, 5, 1))
    X[:, 3:] = 1e6  # padding
    y = np.full((4, 5, 1), 0.001)
    mask = np.ones_like(y, dtype=bool)
    mask[:, 0] = False
    y[:, 0] = 1e6  # untaught
    reg = RNNRegressor(n_hidden=3, max_epochs=1, random_state=0)
    reg.fit(X, y, lengths=np.full(4, 3), target_mask=mask)
    np.testing.assert_array_equal(reg.input_scale_, [1.0])
    np.testing.assert_array_equal(reg.target_scale_, [2.0**-10])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_training_is_that_on_the_scaled_data_exactly(dtype):
    # The fitted weights are the scaled ones converted back: the same bits as
    # a fit on the data divided by the scales, predictions scaled back.
    X, y = _noisy(0, 40)
    kw = dict(n_hidden=8, output_steps="last", max_epochs=5, dtype=dtype, random_state=3)
    reg = RNNRegressor(**kw).fit(X, y)
    sx, sy = reg.input_scale_, reg.target_scale_
    assert sx[0] > 1 and sy[0] < 1
    ref = RNNRegressor(**kw, autoscale=False).fit(X / sx, y / sy)
    assert reg.loss_curve_ == ref.loss_curve_
    np.testing.assert_array_equal(reg.predict(X), ref.predict(X / sx) * sy[0])
    np.testing.assert_array_equal(reg.W_xh_, ref.W_xh_ / sx.astype(dtype)[:, None])
    np.testing.assert_array_equal(reg.W_hy_, ref.W_hy_ * sy.astype(dtype))
    # and partial_fit continues in the scaled space
    reg.partial_fit(X, y)
    ref.partial_fit(X / sx, y / sy)
    np.testing.assert_array_equal(reg.predict(X), ref.predict(X / sx) * sy[0])


def test_the_classifier_scales_its_inputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 8, 1))
    y = X[:, 0, 0] > 0
    clf = RNNClassifier(n_hidden=8, output_steps="last", max_epochs=3, random_state=0)
    clf.fit(1000 * X, y)
    np.testing.assert_array_equal(clf.input_scale_, [1024.0])
    assert not hasattr(clf, "target_scale_")
    ref = RNNClassifier(n_hidden=8, output_steps="last", max_epochs=3, random_state=0,
                        autoscale=False).fit(1000 * X / 1024, y)
    np.testing.assert_array_equal(clf.predict_proba(1000 * X),
                                  ref.predict_proba(1000 * X / 1024))


def test_targets_on_the_units_are_not_scaled():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 6, 2))
    y = 0.001 * np.tanh(X[:, -1, :1])
    reg = RNNRegressor(n_hidden=4, readout=False, output_steps="last", max_epochs=2)
    reg.fit(X, y)
    np.testing.assert_array_equal(reg.target_scale_, [1.0])


def test_integer_ids_are_not_scaled():
    X = np.random.default_rng(0).integers(0, 5, size=(10, 4))
    clf = RNNClassifier(n_hidden=3, output_steps="last", max_epochs=1).fit(X, X[:, 0] > 2)
    np.testing.assert_array_equal(clf.input_scale_, np.ones(5))


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_scales_survive_save_and_load(tmp_path, kind):
    X, y = _noisy(0, 40)
    if kind == "classifier":
        model = RNNClassifier(n_hidden=6, output_steps="last", max_epochs=3, random_state=0)
        y = y > np.median(y)
    else:
        model = RNNRegressor(n_hidden=6, output_steps="last", max_epochs=3, random_state=0)
    model.fit(X, y)
    model.save(tmp_path / "m.npz")
    loaded = fastrnn.load(tmp_path / "m.npz")
    assert loaded.autoscale is True
    for name in ("input_scale_", "target_scale_"):
        if hasattr(model, name):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
    # partial_fit continues the same way in both (the scales of the first fit)
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    for w in WEIGHTS:
        np.testing.assert_array_equal(getattr(loaded, w), getattr(model, w))


def _rewrite(src, dst, edit):
    with np.load(src, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    hyper = json.loads(str(members["hyperparameters"]))
    attrs = json.loads(str(members["attributes"]))
    edit(members, hyper, attrs)
    members["hyperparameters"] = np.array(json.dumps(hyper))
    members["attributes"] = np.array(json.dumps(attrs))
    with open(dst, "wb") as f:
        np.savez(f, **members)


def test_version_2_file_loads_without_scaling(tmp_path):
    # A file written before autoscale existed: the model trained on the data
    # as they were, and partial_fit goes on doing so.
    X, y = _noisy(0, 30)
    kw = dict(n_hidden=5, output_steps="last", max_epochs=2, random_state=0, autoscale=False)
    model = RNNRegressor(**kw).fit(X, y)
    model.save(tmp_path / "v3.npz")

    def as_version_2(members, hyper, attrs):
        members["format_version"] = np.array(2, dtype=np.int64)
        del hyper["autoscale"], attrs["input_scale_log2"], attrs["target_scale_log2"]

    _rewrite(tmp_path / "v3.npz", tmp_path / "v2.npz", as_version_2)
    old = fastrnn.load(tmp_path / "v2.npz")
    assert old.autoscale is False
    assert not hasattr(old, "input_scale_") and not hasattr(old, "target_scale_")
    np.testing.assert_array_equal(old.predict(X), model.predict(X))
    big = 1000 * y  # would be scaled by a fit from scratch with autoscale
    old.partial_fit(X, big)
    model.partial_fit(X, big)
    np.testing.assert_array_equal(old.predict(X), model.predict(X))


@pytest.mark.parametrize("bad", [[3, 1], "x", [0.5], [1000]])
def test_malformed_scales_are_refused(tmp_path, bad):
    X, y = _noisy(0, 20)
    RNNRegressor(n_hidden=3, output_steps="last", max_epochs=1).fit(X, y).save(
        tmp_path / "m.npz")

    def edit(members, hyper, attrs):
        attrs["input_scale_log2"] = bad

    _rewrite(tmp_path / "m.npz", tmp_path / "bad.npz", edit)
    with pytest.raises(ModelFileError, match="input_scale_log2"):
        fastrnn.load(tmp_path / "bad.npz")


def test_format_version_is_3():
    assert fio.FORMAT_VERSION == 3 and 2 in fio.READABLE_VERSIONS


def test_model_file_holds_the_exponents(tmp_path):
    X, y = _noisy(0, 20)
    RNNRegressor(n_hidden=3, output_steps="last", max_epochs=1).fit(X, y).save(
        tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as zf:
        attrs = json.loads(str(np.load(zf.open("attributes.npy"))))
    assert attrs["input_scale_log2"] == [int(np.log2(np.sqrt(np.mean(X ** 2))).round())]
    assert len(attrs["target_scale_log2"]) == 1
