"""The readout's products on tall register blocks (functional.matmul) and the
classifier's readout in one kernel call (functional.readout_xent): against
NumPy, and the same bits as the separate calls, for every thread count and
kernel build."""

from __future__ import annotations

import numpy as np
import pytest

import fastrnn
from fastrnn import functional, losses

from conftest import KERNEL_MODULES

# Row counts around the tall blocks (12 or 6 rows, parallel blocks of 4 of
# them) and column counts around the panels (16 or 32 floats, 8 or 16
# doubles), partial panels included.
SHAPES = [(1, 5, 3), (13, 7, 103), (47, 33, 65), (100, 256, 103), (97, 103, 256),
          (50, 20, 17), (25, 130, 1)]


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_tall_products_match_numpy(path, dtype, trans_a, trans_b, m, k, n):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    expected = (a.T.astype(np.float64) if trans_a else a) @ (b.T if trans_b else b)
    got = functional.matmul(a, b, trans_a=trans_a, trans_b=trans_b)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * k)


def _separate_calls(h, W, b, t, scale):
    """The readout with the separate calls that readout_xent replaces."""
    z = functional.matmul(h, W)
    z += b
    db = np.empty(W.shape[1], W.dtype)
    rows = np.empty(h.shape[0])
    loss = functional.softmax_xent(z, t, scale, db, rows)
    return (loss, z, functional.matmul(h, z, trans_a=True), db,
            functional.matmul(z, W, trans_b=True), rows)


def _problem(rng, dtype, M, H, V):
    h = np.tanh(rng.standard_normal((M, H))).astype(dtype)
    W = (rng.standard_normal((H, V)) / np.sqrt(H) * 2).astype(dtype)
    b = (rng.standard_normal(V) * 0.1).astype(dtype)
    return h, W, b, rng.integers(0, V, M)


@pytest.mark.parametrize("M, H, V", [(1, 1, 1), (1, 7, 3), (13, 5, 2), (64, 33, 103),
                                     (300, 256, 103), (97, 40, 65), (50, 64, 17)])
def test_readout_xent_gives_the_bits_of_the_separate_calls(path, dtype, M, H, V):
    rng = np.random.default_rng(M * 100 + H + V)
    h, W, b, t = _problem(rng, dtype, M, H, V)
    rows = np.empty(M)
    loss, dz, dW, db, dh = functional.readout_xent(h, W, b, t, 0.3, rows)
    ref = _separate_calls(h, W, b, t, 0.3)
    assert loss == ref[0]
    for got, want in zip((dz, dW, db, dh, rows), ref[1:]):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    # and the right values: float64 NumPy
    z = h.astype(np.float64) @ W + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(M), t]).sum(), rel=1e-4)
    p[np.arange(M), t] -= 1
    p *= 0.3
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(dW, h.T.astype(np.float64) @ p, rtol=tol, atol=tol)
    np.testing.assert_allclose(dh, p @ W.T.astype(np.float64), rtol=tol, atol=tol)
    np.testing.assert_allclose(db, p.sum(axis=0), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_readout_xent_does_not_depend_on_threads(dtype, monkeypatch):
    rng = np.random.default_rng(5)
    h, W, b, t = _problem(rng, dtype, 1000, 256, 103)
    monkeypatch.setattr(functional, "PRODUCT_WORK_PER_THREAD", 0)  # the limit, always
    results = []
    for n_threads in (1, 2, 3, 7):
        with fastrnn.threads(n_threads):
            results.append(functional.readout_xent(h, W, b, t, 1e-3))
            assert functional.last_team_size() == n_threads
    for r in results[1:]:
        assert r[0] == results[0][0]
        for got, want in zip(r[1:], results[0][1:]):
            np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(not {"avx2", "avx512"} <= set(KERNEL_MODULES),
                    reason="needs a CPU that runs both the AVX2 and the AVX-512 build")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_readout_xent_same_bits_in_the_avx2_and_avx512_builds(dtype, monkeypatch):
    rng = np.random.default_rng(6)
    h, W, b, t = _problem(rng, dtype, 333, 100, 103)
    out = {}
    for name in ("avx2", "avx512"):
        with monkeypatch.context() as m:
            m.setattr(functional, "kernels", KERNEL_MODULES[name])
            m.setattr(functional, "NARROW_COLUMNS", 0)
            out[name] = functional.readout_xent(h, W, b, t, 0.5)
    assert out["avx2"][0] == out["avx512"][0]
    for a, c in zip(out["avx2"][1:], out["avx512"][1:]):
        np.testing.assert_array_equal(a, c)


def test_readout_xent_refuses_bad_classes_and_shapes():
    h, W, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32), np.ones(5, np.float32)
    for bad in ([0, 1, 5], [-1, 0, 0]):
        with pytest.raises(ValueError, match="0..4"):
            functional.readout_xent(h, W, b, np.array(bad), 1.0)
    with pytest.raises(ValueError, match="inconsistent"):
        functional.readout_xent(h, W, b.astype(np.float64), np.zeros(3, int), 1.0)
    with pytest.raises(ValueError, match="inconsistent"):
        functional.readout_xent(h, W[:3], b, np.zeros(3, int), 1.0)


@pytest.mark.parametrize("taught", ["all", "some"])
def test_output_loss_of_a_classifier_is_the_separate_calls(path, dtype, taught):
    """output_loss takes the one-call readout for softmax cross-entropy: the
    same loss and gradients as the readout, the loss and the products."""
    rng = np.random.default_rng(7)
    B, T, H, V = 5, 9, 40, 11
    h = np.tanh(rng.standard_normal((B, T, H))).astype(dtype)
    W = (rng.standard_normal((H, V)) * 0.3).astype(dtype)
    b = (rng.standard_normal(V) * 0.1).astype(dtype)
    rows = None if taught == "all" else np.sort(rng.choice(B * T, 17, replace=False))
    n = B * T if rows is None else rows.size
    t = rng.integers(0, V, n)
    loss, dh, dW, db = losses.output_loss(h, rows, t, W, b, losses.SoftmaxCrossEntropy,
                                          1.0 / n)
    hs = h.reshape(B * T, H) if rows is None else h.reshape(B * T, H)[rows]
    ref = _separate_calls(np.ascontiguousarray(hs), W, b, t, 1.0 / n)
    assert loss == ref[0]
    np.testing.assert_array_equal(dW, ref[2])
    np.testing.assert_array_equal(db, ref[3])
    want = np.zeros((B * T, H), dtype)
    want[slice(None) if rows is None else rows] = ref[4]
    np.testing.assert_array_equal(dh.reshape(B * T, H), want)


def test_readout_xent_kernel_refuses_a_small_work_buffer():
    rng = np.random.default_rng(8)
    h, W, b, t = _problem(rng, np.float32, 20, 33, 7)
    kernels = functional.kernels
    need = kernels._readout_xent_work(33, 7, 1, False)
    out = [np.empty(s, np.float32) for s in ((20, 7), (33, 7), (7,), (20, 33))]
    with pytest.raises(ValueError, match="work buffer"):
        kernels._readout_xent["float"](h, W, b, t, np.float32(1.0), *out, np.empty(20),
                                       np.empty(need - 1, np.float32), 1)


def test_readout_xent_from_several_python_threads_at_once():
    """Each calling thread has its own work buffer: calls that run at the
    same time (the kernel releases the GIL) give the results of calls one
    after the other."""
    import threading
    rng = np.random.default_rng(9)
    problems = [_problem(rng, dtype, M, 64, 103) for dtype, M in
                ((np.float32, 500), (np.float64, 300), (np.float32, 77), (np.float64, 900))]
    want = [functional.readout_xent(h, W, b, t, 0.1) for h, W, b, t in problems]
    got, errors = {}, []

    def run(i):
        try:
            for _ in range(15):
                got[i] = functional.readout_xent(*problems[i], 0.1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(problems))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for i, w in enumerate(want):
        assert got[i][0] == w[0]
        for a, c in zip(got[i][1:], w[1:]):
            np.testing.assert_array_equal(a, c)
