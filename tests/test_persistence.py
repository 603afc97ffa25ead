"""Model files: bounded loading of hostile files, atomic saves, and resuming
training exactly (optimizer and generator state in the file, the CLI's
carried hidden state in its progress file)."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import fastrnn
from fastrnn import ModelFileError, ModelFileWarning, RNNClassifier, RNNRegressor, _trainrun, cli
from fastrnn import io as fio
from fastrnn.optim import SGD, Adagrad, Adam, make_optimizer

WEIGHTS = ("W_xh_", "W_hh_", "b_", "h0_", "W_hy_", "b_y_")


def _data(n=20, T=12, D=3):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, T, D))
    return X, np.tanh(np.cumsum(X, axis=1))[:, :, :2]


def _assert_same_weights(a, b):
    stacked = sorted(k for k in vars(a) if k.startswith(("W_", "b_", "h0_")) and (
        "_l" in k or "_reverse" in k))
    for key in WEIGHTS + tuple(stacked):
        assert hasattr(a, key) == hasattr(b, key), key
        if hasattr(a, key):
            wa, wb = getattr(a, key), getattr(b, key)
            assert wa.dtype == wb.dtype
            np.testing.assert_array_equal(wa, wb, err_msg=key)


# ----------------------------------------------------------------------------
# 1. Optimizer state


@pytest.mark.parametrize("name", ["sgd", "adagrad", "adam"])
def test_optimizer_state_dict_round_trip(name):
    rng = np.random.default_rng(1)
    params = {"w": rng.normal(size=(3, 4)).astype(np.float32), "b": np.zeros(4, np.float32)}
    a = make_optimizer(name, 0.01, momentum=0.9, nesterov=True)
    for _ in range(3):
        a.step(params, {k: rng.normal(size=v.shape).astype(v.dtype)
                        for k, v in params.items()})
    b = make_optimizer(name, 0.5)
    b.load_state_dict(a.state_dict(), params)
    assert b.n_steps == 3 and b.learning_rate == 0.01
    p1 = {k: v.copy() for k, v in params.items()}
    p2 = {k: v.copy() for k, v in params.items()}
    g = {k: rng.normal(size=v.shape).astype(v.dtype) for k, v in params.items()}
    a.step(p1, g)
    b.step(p2, g)
    for k in params:
        np.testing.assert_array_equal(p1[k], p2[k])


def test_optimizer_load_state_dict_checks_everything():
    params = {"w": np.zeros((2, 2), np.float32)}
    good = Adam(0.1)
    good.step(params, {"w": np.ones((2, 2), np.float32)})
    state = good.state_dict()

    def changed(**kw):
        s = {**state, **kw}
        return s

    cases = [
        (changed(name="sgd"), "optimizer 'sgd'"),
        (changed(n_steps=-1), "n_steps"),
        (changed(n_steps=True), "n_steps"),
        (changed(hyperparameters={"learning_rate": 0.1}), "exactly the keys"),
        (changed(hyperparameters={**state["hyperparameters"], "beta2": 1.0}), "beta2"),
        (changed(hyperparameters={**state["hyperparameters"], "eps": float("nan")}), "eps"),
        (changed(state={"x": state["state"]["w"]}), "unknown parameter"),
        (changed(state={"w": {"velocity": np.zeros((2, 2), np.float32)}}), "slots"),
        (changed(state={"w": {"m": np.zeros((3, 2), np.float32)}}), "shape"),
        (changed(state={"w": {"m": np.zeros((2, 2), np.float64)}}), "dtype"),
        (changed(state={"w": {"m": np.full((2, 2), np.inf, np.float32)}}), "NaN or inf"),
        ({"name": "adam"}, "keys"),
    ]
    for bad, match in cases:
        opt = Adam(0.1)
        with pytest.raises(ValueError, match=match):
            opt.load_state_dict(bad, params)
        assert opt.n_steps == 0 and opt.state == {}  # nothing half-loaded
    assert SGD(0.1).slot_names == ("velocity",) and Adagrad(0.1).slot_names == ("sum_sq",)


# ----------------------------------------------------------------------------
# 2. Resume exactly: N calls == k calls + save + load + N - k calls


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "adagrad"])
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_partial_fit_resume_after_load_is_bit_identical(tmp_path, optimizer, kind, monkeypatch):
    monkeypatch.setenv("FASTRNN_NUM_THREADS", "1")
    X, y = _data()
    if kind == "classifier":
        cls, y, first = RNNClassifier, y[:, :, 0] > 0, {"classes": [False, True]}
    else:
        cls, first = RNNRegressor, {}
    kw = dict(n_hidden=5, optimizer=optimizer, batch_size=6, bptt_steps=4,
              learn_initial_state=True, random_state=3)
    N, k = 5, 2
    straight = cls(**kw)
    for i in range(N):
        straight.partial_fit(X, y, **(first if i == 0 else {}))
    resumed = cls(**kw)
    for i in range(k):
        resumed.partial_fit(X, y, **(first if i == 0 else {}))
    path = tmp_path / "m.npz"
    resumed.save(path)
    resumed = fastrnn.load(path)
    for _ in range(N - k):
        resumed.partial_fit(X, y)
    _assert_same_weights(straight, resumed)
    assert resumed.n_iter_ == N and resumed.loss_curve_ == straight.loss_curve_


def test_fit_save_load_partial_fit_is_bit_identical(tmp_path, monkeypatch):
    """fit (epochs, early stopping) then partial_fit: the same after a save and load,
    with a random_state that is a Generator (saved as None: the generator's state
    still travels)."""
    monkeypatch.setenv("FASTRNN_NUM_THREADS", "1")
    X, y = _data()
    kw = dict(n_hidden=4, max_epochs=3, batch_size=5, early_stopping=True)
    a = RNNRegressor(**kw, random_state=np.random.default_rng(5)).fit(X, y)
    b = RNNRegressor(**kw, random_state=np.random.default_rng(5)).fit(X, y)
    b.save(tmp_path / "m.npz")
    b = fastrnn.load(tmp_path / "m.npz")
    assert b.random_state is None
    for _ in range(2):
        a.partial_fit(X, y)
        b.partial_fit(X, y)
    _assert_same_weights(a, b)
    assert a.validation_scores_ == b.validation_scores_


# Every hyperparameter away from its default (activation, readout, output_steps,
# ids with n_symbols, early stopping ...): a load that drops or resets any of
# them shows in get_params, and in the training that follows.
_NOT_DEFAULT = dict(
    n_hidden=6, activation="relu", output_steps=2, learn_initial_state=True,
    learning_rate=0.004, momentum=0.5, nesterov=True, alpha=0.002, clip_norm=0.3,
    batch_size=5, max_epochs=4, bptt_steps=3, early_stopping=True,
    validation_fraction=0.25, tol=0.003, n_iter_no_change=2, dtype="float64",
    n_symbols=7, random_state=11, verbose=1, warm_start=True, n_threads=1, autoscale=False,
)


# the other side of the one pair that cannot both leave their defaults: a
# bidirectional stack (which trains on whole sequences: bptt_steps=None)
_NOT_DEFAULT_STACK = dict(_NOT_DEFAULT, n_hidden=(6, 4), bidirectional=True, bptt_steps=None)


def _not_default_model(kind, optimizer, stack=False):
    rng = np.random.default_rng(2)
    X = rng.integers(0, 7, size=(24, 9))
    kw = dict(_NOT_DEFAULT_STACK if stack else _NOT_DEFAULT, optimizer=optimizer)
    if kind == "classifier":
        return RNNClassifier(**kw), X, (X[:, -2:] + X[:, -3:-1]) % 3
    # readout=False teaches units 0..1 directly (ReLU: targets >= 0)
    y = np.stack([X[:, -2:] / 7.0, (X[:, -2:] > 3) * 0.5], axis=2)
    return RNNRegressor(**kw, readout=False), X, y


@pytest.mark.parametrize("stack", [False, True])
@pytest.mark.parametrize("optimizer", ["adam", "sgd", "adagrad"])
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_every_hyperparameter_survives_save_and_load(tmp_path, capsys, monkeypatch, kind,
                                                     optimizer, stack):
    monkeypatch.setenv("FASTRNN_NUM_THREADS", "1")
    model, X, y = _not_default_model(kind, optimizer, stack)
    params = model.get_params()
    defaults = type(model)().get_params()
    same = sorted(k for k in params if params[k] == defaults[k])
    # a classifier always has a readout; "adam" is the default optimizer;
    # bidirectional and bptt_steps leave their defaults in turn
    expected = ["bidirectional"] * (not stack) + ["bptt_steps"] * stack + [
        "optimizer"] * (optimizer == "adam") + ["readout"] * (kind == "classifier")
    assert same == sorted(expected), f"left at the default: {same}"
    model.fit(X, y)
    model.save(tmp_path / "m.npz")
    loaded = fastrnn.load(tmp_path / "m.npz")
    got = loaded.get_params()
    assert sorted(got) == sorted(params)
    for key, value in params.items():
        assert type(got[key]) is type(value) and got[key] == value, key
    _assert_same_weights(model, loaded)
    assert loaded._optimizer.state_dict()["hyperparameters"] == \
        model._optimizer.state_dict()["hyperparameters"]
    # one more partial_fit, then a warm-started fit (early stopping, tol,
    # n_iter_no_change, validation_fraction at work): the same bits
    for m in (model, loaded):
        m.partial_fit(X, y)
    _assert_same_weights(model, loaded)
    assert loaded.loss_curve_ == model.loss_curve_
    for m in (model, loaded):
        m.fit(X, y)
    _assert_same_weights(model, loaded)
    assert loaded.n_iter_ == model.n_iter_
    assert loaded.loss_curve_ == model.loss_curve_
    assert loaded.validation_scores_ == model.validation_scores_
    capsys.readouterr()  # verbose=1 printed the epochs


def _as_version_1(src, dst):
    """Rewrite a model file as format version 1 wrote it."""
    with np.load(src, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    attrs = json.loads(str(members["attributes"]))
    attrs["loss_curve_"] = members.pop("loss_curve_").tolist()
    val = members.pop("validation_scores_", None)
    attrs["validation_scores_"] = None if val is None else val.tolist()
    for key in ("optimizer", "random_generator", "loss_curve_length",
                "validation_scores_length"):
        del attrs[key]
    members = {k: v for k, v in members.items() if not k.startswith("optimizer.")}
    members["attributes"] = np.array(json.dumps(attrs))
    members["format_version"] = np.array(1, dtype=np.int64)
    with open(dst, "wb") as f:
        np.savez(f, **members)


def test_version_1_file_loads_with_a_note_and_a_fresh_optimizer(tmp_path):
    X, y = _data()
    model = RNNRegressor(n_hidden=4, max_epochs=2, random_state=0).fit(X, y)
    model.save(tmp_path / "v2.npz")
    _as_version_1(tmp_path / "v2.npz", tmp_path / "v1.npz")
    with pytest.warns(ModelFileWarning, match="version 1.*fresh optimizer"):
        old = fastrnn.load(tmp_path / "v1.npz")
    assert "_optimizer" not in old.__dict__ and old.loss_curve_ == model.loss_curve_
    _assert_same_weights(model, old)
    np.testing.assert_array_equal(old.predict(X), model.predict(X))
    old.partial_fit(X, y)  # trains, from a fresh optimizer
    assert old._optimizer.n_steps == 1


def test_saved_file_holds_the_optimizer_state(tmp_path):
    X, y = _data()
    model = RNNRegressor(n_hidden=4, max_epochs=2, random_state=0).fit(X, y)
    model.save(tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as zf:
        names = set(zf.namelist())
    assert {"optimizer.m.W_hh_.npy", "optimizer.v.W_hh_.npy", "loss_curve_.npy"} <= names
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        assert int(npz["format_version"]) == fio.FORMAT_VERSION
        attrs = json.loads(str(npz["attributes"]))
        np.testing.assert_array_equal(npz["optimizer.m.W_hh_"],
                                      model._optimizer.state["W_hh"]["m"])
    assert attrs["optimizer"]["name"] == "adam"
    assert attrs["optimizer"]["n_steps"] == model._optimizer.n_steps
    assert attrs["random_generator"]["bit_generator"] == "PCG64"


# ----------------------------------------------------------------------------
# 3. Hostile files: refused with ModelFileError, in bounded memory


@pytest.fixture(scope="module")
def base_members(tmp_path_factory):
    """The members of a small classifier's model file (.npy bytes by name)."""
    X, _ = _data()
    labels = np.array(["ant", "bee", "cat"])[np.arange(20 * 12).reshape(20, 12) % 3]
    path = tmp_path_factory.mktemp("base") / "base.npz"
    RNNClassifier(n_hidden=6, max_epochs=1, random_state=0).fit(X, labels).save(path)
    with zipfile.ZipFile(path) as zf:
        return {n[:-4]: zf.read(n) for n in zf.namelist()}


def _npy(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=True)
    return buf.getvalue()


def _npy_header(shape, descr="<f8"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _zeros_member(zf, name, nbytes, prefix=b""):
    """A deflated member of nbytes zeros (after prefix), written in chunks."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as f:
        f.write(prefix)
        chunk = bytes(1 << 20)
        left = nbytes
        while left > 0:
            f.write(chunk[:min(left, len(chunk))])
            left -= len(chunk)


def _write(path, members, extra=None):
    """members: name -> .npy bytes (None drops it); extra(zf) adds more."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            if data is not None:
                zf.writestr(name + ".npy", data)
        if extra is not None:
            extra(zf)


def _attrs(base, **changes):
    attrs = json.loads(str(np.load(io.BytesIO(base["attributes"]))))
    attrs.update(changes)
    return _npy(np.array(json.dumps(attrs)))


ZEROS = 64 << 20  # 64 MiB of zeros: 64 KiB compressed


def _hostile(base, name, path):
    """Build hostile file `name` at path; return the regex its error must match."""
    m = dict(base)
    W = np.load(io.BytesIO(base["W_hh_"]))
    if name == "extra zeros member":
        _write(path, m, lambda zf: _zeros_member(zf, "junk.npy", ZEROS))
        return r"unexpected members \['junk'\]"
    if name == "W_hh_ as zeros":
        del m["W_hh_"]
        _write(path, m, lambda zf: _zeros_member(zf, "W_hh_.npy", ZEROS))
        return r"W_hh_ must be float32 with shape \(6, 6\), got a member of"
    if name == "header 1e6 x 1e6":
        m["W_hh_"] = _npy_header((10**6, 10**6), "<f4")
        return _write(path, m) or r"W_hh_ must be float32 with shape \(6, 6\), got float32"
    if name == "consistent huge header, no data":
        hyper = json.loads(str(np.load(io.BytesIO(base["hyperparameters"]))))
        hyper["n_hidden"] = 40_000
        m["hyperparameters"] = _npy(np.array(json.dumps(hyper)))
        for key, shape in (("W_xh_", (3, 40_000)), ("W_hh_", (40_000, 40_000)),
                           ("b_", (40_000,)), ("W_hy_", (40_000, 3))):
            m[key] = _npy_header(shape, "<f4")
        m = {k: v for k, v in m.items() if not k.startswith("optimizer.")}
        m["attributes"] = _attrs(base, optimizer=None)
        return _write(path, m) or r"'W_xh_' holds 0 bytes of data; its header"
    if name == "deep JSON":
        m["attributes"] = _npy(np.array("[" * 100_000 + "]" * 100_000))
        return _write(path, m) or "nests its JSON too deeply"
    if name == "member that is not .npy":
        m["W_hh_"] = b"just some bytes, not an array" * 3
        return _write(path, m) or "'W_hh_' is not .npy data"
    if name == "pickled object array":
        m["classes_"] = _npy(np.array(["ant", "bee", "cat"], dtype=object))
        return _write(path, m) or "pickled objects"
    if name == "wrong dtype between members":
        m["W_hh_"] = _npy(W.astype(np.float64))
        return _write(path, m) or r"W_hh_ must be float32 with shape \(6, 6\), got float64"
    if name == "wrong shape between members":
        m["W_hy_"] = _npy(np.zeros((6, 4), np.float32))
        return _write(path, m) or r"W_hy_ must be float32 with shape \(6, 3\)"
    if name == "optimizer state of the wrong shape":
        m["optimizer.m.W_hh_"] = _npy(np.zeros((5, 6), np.float32))
        return _write(path, m) or r"optimizer.m.W_hh_ must be float32 with shape \(6, 6\)"
    if name == "optimizer slot not declared":
        m["optimizer.velocity.W_hh_"] = _npy(np.zeros((6, 6), np.float32))
        return _write(path, m) or "unexpected members"
    if name == "malformed optimizer":
        m["attributes"] = _attrs(base, optimizer={"name": "rmsprop"})
        return _write(path, m) or "attribute optimizer"
    if name == "malformed generator state":
        m["attributes"] = _attrs(base, random_generator={"bit_generator": "PCG64",
                                                         "state": {"state": "x"}})
        return _write(path, m) or "random_generator"
    if name == "NaN weights":
        m["W_hh_"] = _npy(np.full_like(W, np.nan))
        return _write(path, m) or "W_hh_ contains NaN"
    if name == "NaN optimizer state":
        m["optimizer.v.W_hh_"] = _npy(np.full_like(W, np.nan))
        return _write(path, m) or "optimizer state.*NaN or inf"
    if name == "truncated":
        good = path.with_suffix(".good")
        _write(good, m)
        data = good.read_bytes()
        path.write_bytes(data[:len(data) * 2 // 3])
        return "not an .npz archive, or a truncated one|truncated or corrupt"
    if name == "data cut short":
        m["W_hh_"] = base["W_hh_"][:-20]
        return _write(path, m) or r"holds \d+ bytes of data; its header"
    if name == "huge loss curve length":
        m["attributes"] = _attrs(base, loss_curve_length=10**12)
        return _write(path, m) or "loss_curve_ must be float64"
    if name == "oversized JSON":
        m["hyperparameters"] = _npy(np.array(" " * (fio.MAX_JSON_CHARS + 1)))
        return _write(path, m) or "must be a unicode string of at most"
    if name == "too many members":
        _write(path, m, lambda zf: [zf.writestr(f"x{i}.npy", b"")
                                    for i in range(fio.MAX_MEMBERS + 1)])
        return rf"has \d+ members; a fastrnn model file has at most {fio.MAX_MEMBERS}"
    if name == "bzip2 member":
        del m["W_hh_"]
        _write(path, m, lambda zf: zf.writestr("W_hh_.npy", base["W_hh_"],
                                               compress_type=zipfile.ZIP_BZIP2))
        return "compression method"
    raise AssertionError(name)


HOSTILE = ["extra zeros member", "W_hh_ as zeros", "header 1e6 x 1e6",
           "consistent huge header, no data", "deep JSON", "member that is not .npy",
           "pickled object array", "wrong dtype between members",
           "wrong shape between members", "optimizer state of the wrong shape",
           "optimizer slot not declared", "malformed optimizer", "malformed generator state",
           "NaN weights", "NaN optimizer state", "truncated", "data cut short",
           "huge loss curve length", "oversized JSON", "too many members", "bzip2 member"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_file_is_refused_in_bounded_memory(tmp_path, base_members, name):
    path = tmp_path / "hostile.npz"
    match = _hostile(base_members, name, path)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=match) as info:
            fastrnn.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert repr(str(path)) in str(info.value)  # names the file
    assert peak < 8 << 20, peak  # far below the 64 MiB or terabytes declared


def test_base_file_of_the_hostile_ones_loads(tmp_path, base_members):
    _write(tmp_path / "ok.npz", base_members)
    model = fastrnn.load(tmp_path / "ok.npz")
    assert model.classes_.tolist() == ["ant", "bee", "cat"]


def test_not_regular_files_are_refused(tmp_path):
    (tmp_path / "adir").mkdir()
    os.symlink(tmp_path / "loop_a", tmp_path / "loop_b")
    os.symlink(tmp_path / "loop_b", tmp_path / "loop_a")
    for name, match in (("adir", "is a directory"), ("loop_a", "symbolic-link loop")):
        with pytest.raises(ModelFileError, match=match):
            fastrnn.load(tmp_path / name)
    with pytest.raises(ModelFileError, match="no such file") as info:
        fastrnn.load(tmp_path / "missing.npz")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(ModelFileError, match="is a device"):
        fastrnn.load(os.devnull)


def test_not_seekable_file_object_is_refused():
    class Stream(io.RawIOBase):
        def readable(self):
            return True

        def seekable(self):
            return False

        def seek(self, *a):
            raise io.UnsupportedOperation("not seekable")

    with pytest.raises(ModelFileError, match="seekable"):
        fastrnn.load(Stream())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_blocking(tmp_path):
    """Nobody writes to the FIFO: a load that opened it for reading would hang."""
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    code = f"import fastrnn\ntry:\n    fastrnn.load({str(fifo)!r})\n" \
           "except fastrnn.ModelFileError as e:\n    print(e)\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60)
    assert "FIFO" in r.stdout, r.stderr
    r = subprocess.run([sys.executable, "-m", "fastrnn", "sample", str(fifo)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("fastrnn: error: ") and "FIFO" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_prints_one_line_for_hostile_files(tmp_path, base_members, capsys):
    for name in ("extra zeros member", "deep JSON", "header 1e6 x 1e6"):
        path = tmp_path / "h.npz"
        _hostile(base_members, name, path)
        status = cli.main(["sample", str(path)])
        err = capsys.readouterr().err
        assert status == 1
        assert err.startswith("fastrnn: error: cannot load the model: ")
        assert len(err.strip().splitlines()) == 1


def test_cli_names_a_symbolic_link_loop(tmp_path, capsys):
    os.symlink(tmp_path / "b.npz", tmp_path / "a.npz")
    os.symlink(tmp_path / "a.npz", tmp_path / "b.npz")
    assert cli.main(["sample", str(tmp_path / "a.npz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastrnn: error: ") and "symbolic-link loop" in err


# ----------------------------------------------------------------------------
# 4. Atomic saves


def _model():
    X, y = _data()
    return RNNRegressor(n_hidden=4, max_epochs=1, random_state=0).fit(X, y)


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_save_leaves_no_temp_and_the_old_file(tmp_path, monkeypatch, error):
    path = tmp_path / "m.npz"
    model = _model()
    model.save(path)
    before = path.read_bytes()
    real = np.savez

    def failing(f, **members):
        f.write(b"PK half a file")
        raise error

    monkeypatch.setattr(np, "savez", failing)
    with pytest.raises(type(error)):
        model.save(path)
    monkeypatch.setattr(np, "savez", real)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_save_fsyncs_the_file_and_the_directory(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}") if os.path.exists("/proc")
                      else fd)
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    _model().save(tmp_path / "m.npz")
    if os.path.exists("/proc"):
        assert synced[0].endswith(".m.npz.%d.%d.tmp" % (os.getpid(), threading.get_ident()))
        assert synced[1] == os.path.realpath(tmp_path)
    else:  # pragma: no cover
        assert len(synced) == 2


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_next_save_removes_stale_temps_of_dead_processes(tmp_path):
    path = tmp_path / "m.npz"
    dead = tmp_path / f".m.npz.{_dead_pid()}.tmp"
    alive = tmp_path / f".m.npz.{os.getppid()}.tmp"  # a live process: kept
    other = tmp_path / f".other.npz.{_dead_pid()}.tmp"  # another file's: kept
    dead_thread = tmp_path / f".m.npz.{_dead_pid()}.12345.tmp"  # a dead process's thread
    for p in (dead, alive, other, dead_thread):
        p.write_bytes(b"half")
    _model().save(path)
    assert not dead.exists() and not dead_thread.exists()
    assert alive.exists() and other.exists()
    fastrnn.load(path)


def test_threads_saving_the_same_path_at_once(tmp_path):
    """Each thread writes its own temporary file: the path always holds one
    whole model, never a mix, and no temporary file is left."""
    import threading as _threading

    path = tmp_path / "m.npz"
    X = np.random.default_rng(0).normal(size=(8, 5, 2))
    models = [fastrnn.RNNRegressor(n_hidden=n, max_epochs=1, random_state=0).fit(X, X)
              for n in (12, 20)]
    errors = []

    def save_many(model):
        try:
            for _ in range(20):
                model.save(path)
        except Exception as exc:  # pragma: no cover - the failure reported below
            errors.append(exc)

    threads = [_threading.Thread(target=save_many, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert fastrnn.load(path).n_hidden in (12, 20)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    import fastrnn
    X = np.random.default_rng(0).normal(size=(8, 5, 2))
    models = [fastrnn.RNNRegressor(n_hidden=n, max_epochs=1, random_state=0).fit(X, X)
              for n in (40, 60)]
    print("ready", flush=True)
    i = 0
    while True:
        models[i % 2].save(sys.argv[1])
        i += 1
""")


def test_sigkill_during_saves_leaves_a_loadable_model(tmp_path):
    path = tmp_path / "m.npz"
    _model().save(path)
    rng = np.random.default_rng(0)
    for _ in range(5):
        with subprocess.Popen([sys.executable, "-c", SAVER, str(path)],
                              stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout.readline() == "ready\n"
            time.sleep(rng.uniform(0.0, 0.2))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert fastrnn.load(path).n_hidden in (4, 40, 60)
    _model().save(path)  # the next save cleans up after the killed ones
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


# ----------------------------------------------------------------------------
# 5. The command line: Ctrl-C or a limit, --resume, the same bits


CLI_TEXT = ("The quick brown fox jumps over the lazy dog. A stitch in time saves "
            "nine.\n") * 60


def _train(*args, **kw):
    env = {**os.environ, "FASTRNN_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "fastrnn", "train", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env, **kw)


COMMON = ["--hidden", "16", "--seq-len", "8", "--batch-size", "4", "--seed", "0",
          "--sample-every", "0.05"]


def _progress(out):
    return json.loads(_trainrun.progress_path(out).read_text())


def test_cli_resume_after_a_limit_is_bit_identical(tmp_path):
    """--epochs 2 in one run == --max-chars k, then --resume for the rest
    (mid-epoch, with the carried state, samples and held-out scores in between)."""
    text = tmp_path / "t.txt"
    text.write_text(CLI_TEXT)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    r = _train(text, *COMMON, "--epochs", "2", "--out", a)
    assert r.returncode == 0, r.stderr
    total = _progress(a)["chars_seen"]
    r = _train(text, *COMMON, "--max-chars", "1500", "--out", b)
    assert r.returncode == 0, r.stderr
    info = _progress(b)
    assert 0 < info["call"] and info["carry"] is not None  # stopped mid-epoch
    r = _train(text, *COMMON, "--resume", "--max-chars", total - info["chars_seen"],
               "--out", b)
    assert r.returncode == 0, r.stderr
    assert _progress(b)["chars_seen"] == total
    ma, mb = fastrnn.load(a), fastrnn.load(b)
    _assert_same_weights(ma, mb)
    assert ma.n_iter_ == mb.n_iter_
    assert ma._optimizer.n_steps == mb._optimizer.n_steps


def test_cli_learning_rate_decays_and_its_base_survives_resume(tmp_path):
    """--learning-rate is the base of the decay by characters seen; the
    progress file keeps it, so a resume without the option continues the
    same schedule: the same bits as one run."""
    text = tmp_path / "t.txt"
    text.write_text(CLI_TEXT)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    r = _train(text, *COMMON, "--learning-rate", "0.01", "--epochs", "2", "--out", a)
    assert r.returncode == 0, r.stderr
    info = _progress(a)
    assert info["learning_rate"] == 0.01
    ma = fastrnn.load(a)
    assert 0.01 / math.sqrt(1 + info["chars_seen"] / _trainrun.LR_DECAY_CHARS) < ma.learning_rate
    assert ma.learning_rate < 0.01
    r = _train(text, *COMMON, "--learning-rate", "0.01", "--max-chars", "1500", "--out", b)
    assert r.returncode == 0, r.stderr
    r = _train(text, *COMMON, "--resume", "--max-chars",
               info["chars_seen"] - _progress(b)["chars_seen"], "--out", b)
    assert r.returncode == 0, r.stderr
    _assert_same_weights(ma, fastrnn.load(b))
    # the default base without the option
    r = _train(text, *COMMON, "--max-chars", "100", "--out", b)
    assert r.returncode == 0 and _progress(b)["learning_rate"] == cli.LEARNING_RATE


def test_cli_ctrl_c_and_resume_is_bit_identical(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(CLI_TEXT * 4)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    env = {**os.environ, "FASTRNN_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "fastrnn", "train", str(text), *COMMON,
            "--time-limit", "0", "--out", str(b)]
    with subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, env=env) as proc:
        try:
            while " | epoch " not in (line := proc.stderr.readline()):
                assert line, "training did not start"
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            rest = proc.stderr.read()
            assert proc.wait(timeout=60) == 130, rest
        finally:
            if proc.poll() is None:
                proc.kill()
    seen = _progress(b)["chars_seen"]
    extra = 3000
    r = _train(text, *COMMON, "--resume", "--max-chars", extra, "--out", b)
    assert r.returncode == 0, r.stderr
    r = _train(text, *COMMON, "--max-chars", seen + extra, "--out", a)
    assert r.returncode == 0, r.stderr
    assert _progress(a)["chars_seen"] == _progress(b)["chars_seen"]
    _assert_same_weights(fastrnn.load(a), fastrnn.load(b))


def test_cli_resume_of_a_version_1_model_notes_the_fresh_optimizer(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(CLI_TEXT)
    out = tmp_path / "m.npz"
    assert _train(text, *COMMON, "--max-chars", "1000", "--out", out).returncode == 0
    _as_version_1(out, out)
    r = _train(text, *COMMON, "--resume", "--max-chars", "1000", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "note: " in r.stderr and "Adam moments start afresh" in r.stderr
    assert "Warning" not in r.stderr


@pytest.mark.parametrize("value, kept", [(0.01, 0.01), (1, 1.0), (0, None), (-0.1, None),
                                         (True, None), ("0.01", None), (None, None)])
def test_progress_file_keeps_only_a_positive_finite_learning_rate(tmp_path, value, kept):
    from fastrnn._trainrun import PROGRESS_FORMAT, read_progress
    path = tmp_path / "m.progress.json"
    path.write_text(json.dumps({"format": PROGRESS_FORMAT, "learning_rate": value,
                                "chars_seen": 5}))
    state = read_progress(path)
    assert state["chars_seen"] == 5
    assert state.get("learning_rate") == kept


# --- save writes only what load reads --------------------------------------


@pytest.mark.parametrize("changed", [
    {"dtype": "float64"}, {"n_hidden": 8}, {"n_hidden": (4, 4)}, {"bidirectional": True},
    {"learn_initial_state": True}, {"readout": False}, {"n_symbols": 3}])
def test_save_refuses_hyperparameters_that_do_not_describe_the_weights(tmp_path, changed):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 5, 2))
    reg = RNNRegressor(n_hidden=4, max_epochs=1, random_state=0).fit(X, np.tanh(X[..., 0]))
    reg.set_params(**changed)
    path = tmp_path / "m.npz"
    key = next(iter(changed))
    with pytest.raises(ValueError, match=f"cannot save: RNNRegressor: .*{key}=.*differs "
                                         "from the fitted.*fit again, or set it back, "
                                         "before saving"):
        reg.save(path)
    assert not path.exists()
    if key == "n_symbols":
        reg.set_params(n_symbols=None)
    else:
        reg.fit(X, np.tanh(X[..., 0]))
    reg.save(path)
    assert np.array_equal(fastrnn.load(path).predict(X), reg.predict(X))


@pytest.mark.parametrize("changed", [{"activation": "relu"}, {"autoscale": False},
                                     {"output_steps": "last"}, {"max_epochs": 3}])
def test_save_keeps_hyperparameters_set_after_the_fit(tmp_path, changed):
    # (the weights stay as fitted; the file holds the model as it is now)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 5, 2)) * 1000
    reg = RNNRegressor(n_hidden=4, max_epochs=1, random_state=0).fit(X, X[..., 0])
    reg.set_params(**changed)
    reg.save(tmp_path / "m.npz")
    back = fastrnn.load(tmp_path / "m.npz")
    assert back.get_params() == reg.get_params()
    assert np.array_equal(back.predict(X), reg.predict(X))


def test_save_refuses_labels_a_model_file_cannot_hold(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(10, 3, 2))
    first = X[:, -1, 0] > 0
    for n, ok in ((1024, True), (1025, False)):
        clf = RNNClassifier(n_hidden=3, output_steps="last", max_epochs=1, random_state=0)
        clf.fit(X, np.where(first, "a" * n, "b"))
        path = tmp_path / f"{n}.npz"
        if ok:
            clf.save(path)
            assert np.array_equal(fastrnn.load(path).predict(X), clf.predict(X))
        else:
            with pytest.raises(ValueError, match="cannot save: classes_ holds labels of 1025 "
                                                 "characters; a model file holds labels of "
                                                 "at most 1024"):
                clf.save(path)
            assert not path.exists()
    clf.fit(X, np.where(first, b"a", b"b"))  # (bytes: fit and predict take them)
    with pytest.raises(ValueError, match=r"cannot save: classes_ has dtype \|S1: a model "
                                         "file holds labels that are numbers, booleans or "
                                         "strings"):
        clf.save(tmp_path / "bytes.npz")


def test_a_deep_bidirectional_model_with_adam_saves_and_loads(tmp_path):
    # 11 bidirectional layers, learned initial states and Adam's moments:
    # 276 arrays in the file
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4, 3, 2))
    reg = RNNRegressor(n_hidden=(2,) * 11, bidirectional=True, learn_initial_state=True,
                       max_epochs=1, random_state=0).fit(X, X[..., 0])
    reg.save(tmp_path / "deep.npz")
    with zipfile.ZipFile(tmp_path / "deep.npz") as z:
        assert len(z.namelist()) > 256
    assert np.array_equal(fastrnn.load(tmp_path / "deep.npz").predict(X), reg.predict(X))


def test_save_refuses_more_arrays_than_a_model_file_holds(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(4, 3, 2))
    reg = RNNRegressor(n_hidden=(2, 2), max_epochs=1, random_state=0).fit(X, X[..., 0])
    monkeypatch.setattr(fio, "MAX_MEMBERS", 12)
    with pytest.raises(ValueError, match="cannot save: the model has .* arrays; a fastrnn "
                                         "model file holds at most 12"):
        reg.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
