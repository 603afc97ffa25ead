"""Integer ids as inputs: x (B, T) of ids in 0..V-1 stands for the one-hot rows
of a (B, T, V) float x, and must give the same hidden states and gradients.

Covers fastrnn.forward/backward (every kernel build, on one thread and on
several, float32 and float64) and fastrnn.reference, with and
without lengths and h0 (shared and per sequence).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastrnn
from fastrnn import reference

B, T, V, H = 5, 7, 11, 6


def _one_hot(ids, V, dtype):
    return np.eye(V, dtype=dtype)[ids]


def _problem(dtype, h0_kind, with_lengths, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, size=(B, T))
    ids[0, :] = V - 1  # the last row of W_xh is reachable
    W_xh = rng.normal(0, 0.5, size=(V, H)).astype(dtype)
    W_hh = rng.normal(0, 0.4, size=(H, H)).astype(dtype)
    b = rng.normal(0, 0.1, size=H).astype(dtype)
    dh = rng.normal(size=(B, T, H)).astype(dtype)
    h0 = {"none": None, "shared": rng.normal(size=H).astype(dtype),
          "per_sequence": rng.normal(size=(B, H)).astype(dtype)}[h0_kind]
    lengths = None
    if with_lengths:
        lengths = rng.integers(1, T + 1, size=B)
        lengths[1] = 1
        lengths[2] = T
    return ids, W_xh, W_hh, b, dh, h0, lengths


def _tol(dtype):
    return {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}


@pytest.mark.parametrize("id_dtype", [np.int64, np.int32, np.uint8])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("h0_kind", ["none", "shared", "per_sequence"])
@pytest.mark.parametrize("module", ["fastrnn", "reference"])
def test_ids_match_one_hot(module, h0_kind, with_lengths, id_dtype, dtype, path):
    """Same h and gradients (dW_xh, dW_hh, db, dh0) from ids as from one-hot x;
    dx is None for ids. `path` runs the kernels on one thread and on several."""
    mod = fastrnn if module == "fastrnn" else reference
    ids, W_xh, W_hh, b, dh, h0, lengths = _problem(dtype, h0_kind, with_lengths)
    ids = ids.astype(id_dtype)
    x = _one_hot(ids, V, dtype)
    tol = _tol(dtype)

    h_ids = mod.forward(ids, W_xh, W_hh, b, h0, lengths=lengths)
    h_hot = mod.forward(x, W_xh, W_hh, b, h0, lengths=lengths)
    assert h_ids.dtype == dtype and h_ids.shape == (B, T, H)
    np.testing.assert_allclose(h_ids, h_hot, **tol)

    g_ids = mod.backward(ids, h_ids, dh, W_xh, W_hh, h0, lengths=lengths)
    g_hot = mod.backward(x, h_hot, dh, W_xh, W_hh, h0, lengths=lengths)
    assert g_ids.dx is None
    assert g_hot.dx is not None
    for name in ("dW_xh", "dW_hh", "db"):
        got, want = getattr(g_ids, name), getattr(g_hot, name)
        assert got.dtype == dtype, name
        np.testing.assert_allclose(got, want, err_msg=name, **tol)
    if h0 is None:
        assert g_ids.dh0 is None
    else:
        assert g_ids.dh0.shape == h0.shape
        np.testing.assert_allclose(g_ids.dh0, g_hot.dh0, **tol)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_ids_on_one_and_two_threads(n_threads, dtype, monkeypatch):
    """The same check with the thread count set here directly, not through
    conftest's fixture."""
    from fastrnn import functional

    monkeypatch.setattr(functional, "SEQUENCE_WORK_PER_THREAD", 0)
    monkeypatch.setattr(functional, "STEP_WORK_PER_THREAD", 0)
    with fastrnn.threads(n_threads):
        assert functional._n_threads(B, T, 0, H) == n_threads
        _check_ids_against_one_hot(dtype)


def _check_ids_against_one_hot(dtype):
    ids, W_xh, W_hh, b, dh, h0, lengths = _problem(dtype, "per_sequence", True, seed=7)
    x = _one_hot(ids, V, dtype)
    tol = _tol(dtype)
    h = fastrnn.forward(ids, W_xh, W_hh, b, h0, lengths=lengths)
    np.testing.assert_allclose(h, fastrnn.forward(x, W_xh, W_hh, b, h0, lengths=lengths), **tol)
    g = fastrnn.backward(ids, h, dh, W_xh, W_hh, h0, lengths=lengths)
    r = fastrnn.backward(x, h, dh, W_xh, W_hh, h0, lengths=lengths)
    for name in ("dW_xh", "dW_hh", "db", "dh0"):
        np.testing.assert_allclose(getattr(g, name), getattr(r, name), err_msg=name, **tol)


@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
def test_ids_compiled_matches_reference(with_lengths, dtype, path):
    """The compiled kernels and the NumPy reference agree on ids, with a
    repeated id (its dW_xh row sums the gradients of every step that used it)."""
    ids, W_xh, W_hh, b, dh, h0, lengths = _problem(dtype, "per_sequence", with_lengths, seed=3)
    ids[:, ::2] = 4  # many steps read the same row
    tol = _tol(dtype)
    h = fastrnn.forward(ids, W_xh, W_hh, b, h0, lengths=lengths)
    np.testing.assert_allclose(h, reference.forward(ids, W_xh, W_hh, b, h0, lengths=lengths),
                               **tol)
    g = fastrnn.backward(ids, h, dh, W_xh, W_hh, h0, lengths=lengths)
    r = reference.backward(ids, h, dh, W_xh, W_hh, h0, lengths=lengths)
    for name in ("dW_xh", "dW_hh", "db", "dh0"):
        np.testing.assert_allclose(getattr(g, name), getattr(r, name), err_msg=name, **tol)
    unused = np.setdiff1d(np.arange(V), ids if lengths is None else
                          np.concatenate([ids[i, :n] for i, n in enumerate(lengths)]))
    assert (g.dW_xh[unused] == 0).all()


def test_ids_gradient_by_finite_differences():
    """dW_xh from ids matches a central finite difference of a scalar loss."""
    dtype = np.float64
    ids, W_xh, W_hh, b, dh, h0, lengths = _problem(dtype, "shared", True, seed=5)

    def loss(W):
        return float((fastrnn.forward(ids, W, W_hh, b, h0, lengths=lengths) * dh).sum())

    h = fastrnn.forward(ids, W_xh, W_hh, b, h0, lengths=lengths)
    g = fastrnn.backward(ids, h, dh, W_xh, W_hh, h0, lengths=lengths)
    eps = 1e-6
    for i, j in [(int(ids[0, 0]), 0), (int(ids[3, 2]), 5), (0, 3)]:
        Wp, Wm = W_xh.copy(), W_xh.copy()
        Wp[i, j] += eps
        Wm[i, j] -= eps
        fd = (loss(Wp) - loss(Wm)) / (2 * eps)
        assert g.dW_xh[i, j] == pytest.approx(fd, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("module", ["fastrnn", "reference"])
@pytest.mark.parametrize("bad", [-1, V, V + 100])
def test_bad_ids_raise(module, bad, dtype):
    mod = fastrnn if module == "fastrnn" else reference
    ids, W_xh, W_hh, b, dh, h0, _ = _problem(dtype, "none", False)
    ids[2, 3] = bad
    with pytest.raises(ValueError, match=r"ids.*0\.\.10.*got " + str(bad)):
        mod.forward(ids, W_xh, W_hh, b)
    h = np.zeros((B, T, H), dtype)
    with pytest.raises(ValueError, match=r"ids.*0\.\.10"):
        mod.backward(ids, h, dh, W_xh, W_hh)


@pytest.mark.parametrize("bad", [2**63, 2**64 - 1])
def test_unsigned_ids_beyond_intp_are_named_as_given(bad, dtype):
    # (the private intp copy wraps them round to negative values)
    ids, W_xh, W_hh, b, dh, h0, _ = _problem(dtype, "none", False)
    big = ids.astype(np.uint64)
    big[2, 3] = bad
    with pytest.raises(ValueError, match=rf"ids.*0\.\.10.*got {bad}$"):
        fastrnn.forward(big, W_xh, W_hh, b)
