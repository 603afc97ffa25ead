"""The kernel builds: which one fastrnn.functional uses, and that the AVX2 and
AVX-512 builds (32- and 64-byte vectors) give the same bits."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from fastrnn import functional

KERNEL_MODULES = functional.KERNEL_MODULES


def _run(fn, module, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(functional, "kernels", module)
        m.setattr(functional, "NARROW_COLUMNS", 0)  # this build at every size
        return fn()


def _problem(rng, dtype, B, T, D, H, lengths):
    x = rng.standard_normal((B, T, D)).astype(dtype)
    W_xh = (rng.standard_normal((D, H)) / np.sqrt(max(D, 1))).astype(dtype)
    W_hh = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype)
    b = rng.standard_normal(H).astype(dtype) * 0.1
    h0 = rng.standard_normal((B, H)).astype(dtype) * 0.5
    L = rng.integers(1, T + 1, size=B) if lengths else None
    dh = rng.standard_normal((B, T, H)).astype(dtype)
    return x, W_xh, W_hh, b, h0, L, dh


@pytest.mark.skipif(not {"avx2", "avx512"} <= set(KERNEL_MODULES),
                    reason="needs a CPU that runs both the AVX2 and the AVX-512 build")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B, T, D, H", [(1, 7, 3, 1), (1, 9, 5, 33), (3, 6, 17, 16),
                                        (8, 5, 9, 31), (13, 4, 40, 100), (9, 3, 7, 257)])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_avx2_and_avx512_builds_give_the_same_bits(monkeypatch, dtype, B, T, D, H, activation):
    rng = np.random.default_rng(B * 1000 + H)
    x, W_xh, W_hh, b, h0, L, dh = _problem(rng, dtype, B, T, D, H, lengths=B > 1)
    out = {}
    for name in ("avx2", "avx512"):
        def work():
            h = functional.forward(x, W_xh, W_hh, b, h0, activation=activation, lengths=L)
            g = functional.backward(x, h, dh, W_xh, W_hh, h0, activation=activation,
                                    lengths=L)
            a = h.reshape(B * T, H)
            products = [functional.matmul(a, W_hh),
                        functional.matmul(a, dh.reshape(B * T, H), trans_a=True),
                        functional.matmul(dh.reshape(B * T, H), W_xh, trans_b=True)]
            return [h, *g, *products]
        out[name] = _run(work, KERNEL_MODULES[name], monkeypatch)
    for i, (a, c) in enumerate(zip(out["avx2"], out["avx512"])):
        assert a.dtype == c.dtype and a.shape == c.shape
        np.testing.assert_array_equal(a, c, err_msg=f"output {i}")


def _kernels_in_subprocess(env_updates):
    env = {k: v for k, v in os.environ.items()
           if k not in ("FASTRNN_KERNELS", "FASTRNN_BASELINE_KERNELS")}
    env.update(env_updates)
    return subprocess.run(
        [sys.executable, "-c",
         "from fastrnn import functional; print(functional.kernels.__name__)"],
        env=env, capture_output=True, text=True, timeout=120)


def test_the_widest_build_is_the_default():
    r = _kernels_in_subprocess({})
    assert r.returncode == 0, r.stderr
    widest = next(n for n in ("avx512", "avx2", "baseline") if n in KERNEL_MODULES)
    assert r.stdout.strip() == KERNEL_MODULES[widest].__name__


@pytest.mark.parametrize("name", sorted(KERNEL_MODULES))
def test_fastrnn_kernels_chooses_a_build(name):
    r = _kernels_in_subprocess({"FASTRNN_KERNELS": name.upper()})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == KERNEL_MODULES[name].__name__


@pytest.mark.parametrize("value", ["1", "true", "Yes"])
def test_baseline_kernels_variable_still_chooses_the_baseline(value):
    r = _kernels_in_subprocess({"FASTRNN_BASELINE_KERNELS": value})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "fastrnn._core"


@pytest.mark.parametrize("value", ["0", "false", "off", ""])
def test_baseline_kernels_variable_off_keeps_the_default(value):
    r = _kernels_in_subprocess({"FASTRNN_BASELINE_KERNELS": value})
    assert r.returncode == 0, r.stderr
    widest = next(n for n in ("avx512", "avx2", "baseline") if n in KERNEL_MODULES)
    assert r.stdout.strip() == KERNEL_MODULES[widest].__name__


def test_baseline_kernels_variable_refuses_other_values():
    r = _kernels_in_subprocess({"FASTRNN_BASELINE_KERNELS": "maybe"})
    assert r.returncode != 0
    assert "FASTRNN_BASELINE_KERNELS='maybe'" in r.stderr


def test_fastrnn_kernels_refuses_a_build_this_machine_does_not_run():
    r = _kernels_in_subprocess({"FASTRNN_KERNELS": "sse9"})
    assert r.returncode != 0
    assert "FASTRNN_KERNELS='sse9'" in r.stderr and "baseline" in r.stderr


@pytest.mark.skipif(not {"avx2", "avx512"} <= set(KERNEL_MODULES),
                    reason="needs a CPU that runs both the AVX2 and the AVX-512 build")
def test_narrow_products_run_on_the_avx2_build(monkeypatch):
    calls = []

    class Recorder:
        def __init__(self, name):
            self.name, self.module = name, KERNEL_MODULES[name]

        def __getattr__(self, attr):
            calls.append((self.name, attr))
            return getattr(self.module, attr)

    monkeypatch.setattr(functional, "KERNEL_MODULES",
                        {n: Recorder(n) for n in KERNEL_MODULES})
    monkeypatch.setattr(functional, "kernels", functional.KERNEL_MODULES["avx512"])
    rng = np.random.default_rng(0)
    for H, build in ((functional.NARROW_COLUMNS - 1, "avx2"),
                     (functional.NARROW_COLUMNS, "avx512")):
        calls.clear()
        x, W_xh, W_hh, b, h0, L, dh = _problem(rng, np.float32, 2, 3, 4, H, lengths=False)
        h = functional.forward(x, W_xh, W_hh, b)
        functional.backward(x, h, dh, W_xh, W_hh)
        functional.matmul(h.reshape(6, H), W_hh)
        assert calls == [(build, "_forward"), (build, "_backward"), (build, "_matmul")]
