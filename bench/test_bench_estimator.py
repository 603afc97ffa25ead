"""The estimators' overhead per training mini-batch, against the bare kernels.

One training step of an estimator (batch gather, forward, readout and loss,
BPTT, L2, clipping, optimizer update, finiteness checks) against the bare
``fastrnn.forward`` + ``fastrnn.backward`` calls on the same shapes: B, T, D,
H = 32, 64, 65, 128, float32. Not part of the default test run:

    python -m pytest bench/test_bench_estimator.py --benchmark-only -q

Each estimator test also times the two alternately in the same process and
records ``overhead = step / kernels - 1`` (best of many runs of each) in
``extra_info`` and on stdout (``-s``). Nothing here asserts on time. The
estimators need no gradient of their data, so their BPTT skips dX = dA
W_xh^T (B * T * D * H multiply-adds, a ninth of the kernels' work here);
the tests therefore also time the kernels doing just the estimator's work
(``functional.trusted_forward`` + ``trusted_backward(want_dx=False)``, no
argument checks) and report the overhead over those as well.

* ``regressor-last``: one output per sequence, so the readout costs nothing:
  the overhead is the estimator's Python work per mini-batch.
* ``classifier-all``: a character model, a 65-way softmax at every step: the
  overhead also holds the readout's three (B*T, H) x (H, 65) products and
  the softmax, which are model computation, not Python overhead. The test
  times that readout + loss alone too and reports the overhead without it.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import fastrnn
from fastrnn import RNNClassifier, RNNRegressor, _training, functional, losses

B, T, D, H = 32, 64, 65, 128
SHAPE = f"B={B} T={T} D={D} H={H} float32"


def _kernel_call(rng, want_dx=True):
    """fastrnn.forward + fastrnn.backward; or, want_dx False, the kernels
    as the estimators call them: no argument checks and no gradient of x
    (functional.trusted_forward / trusted_backward(want_dx=False))."""
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    W_xh = (rng.standard_normal((D, H)) * 0.1).astype(np.float32)
    W_hh = np.linalg.qr(rng.standard_normal((H, H)))[0].astype(np.float32)
    b = np.zeros(H, np.float32)
    dh = (rng.standard_normal((B, T, H)) * 0.01).astype(np.float32)

    def call():
        h = fastrnn.forward(x, W_xh, W_hh, b)
        return fastrnn.backward(x, h, dh, W_xh, W_hh)

    def trusted():
        h = functional.trusted_forward(x, W_xh, W_hh, b, None, "tanh", None)
        return functional.trusted_backward(x, h, dh, W_xh, W_hh, None, "tanh", None,
                                           want_dx=False)

    return call if want_dx else trusted


def _estimator_step(kind, rng):
    """One training step of an estimator, and its readout + loss alone."""
    n = 4 * B
    if kind == "regressor-last":
        X = rng.standard_normal((n, T, D))
        y = rng.standard_normal(n)
        est = RNNRegressor(n_hidden=H, output_steps="last", batch_size=B, random_state=0)
        est.partial_fit(X, y)
    else:
        ids = rng.integers(0, D, size=(n, T + 1))
        X = np.eye(D)[ids[:, :-1]]
        y = ids[:, 1:]
        est = RNNClassifier(n_hidden=H, batch_size=B, random_state=0)
        est.partial_fit(X, y, classes=np.arange(D))
    cfg = est._check_hyperparameters()
    data = est._prepare(X, y, None, None, None, None, cfg, fitted=True)
    trainer = _training.Trainer(est._params(), est._loss, cfg, est._optimizer)
    idx = rng.permutation(n)[:B]

    def step():
        return trainer.train_batch(data.take(idx))

    batch = data.take(idx)
    rows, targets = losses.select_window(batch.steps, batch.valid, batch.Y, 0, T)
    h = fastrnn.forward(batch.X, est.W_xh_, est.W_hh_, est.b_)

    def readout():
        return losses.output_loss(h, rows, targets, est.W_hy_, est.b_y_, est._loss,
                                  1.0 / len(targets))

    return step, readout


def _best(fn, repeat):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@pytest.mark.benchmark(group=SHAPE)
def test_kernels_forward_backward(benchmark):
    call = _kernel_call(np.random.default_rng(0))
    grads = benchmark(call)
    assert grads.dW_hh.shape == (H, H)


@pytest.mark.benchmark(group=SHAPE)
@pytest.mark.parametrize("kind", ["regressor-last", "classifier-all"])
def test_estimator_training_step(benchmark, kind):
    rng = np.random.default_rng(0)
    kernels = _kernel_call(rng)
    step, readout = _estimator_step(kind, rng)
    loss_sum, n_taught, _ = benchmark(step)
    assert np.isfinite(loss_sum) and n_taught == (B if kind == "regressor-last" else B * T)

    trusted = _kernel_call(np.random.default_rng(1), want_dx=False)

    # The ratios: all four timed alternately, best of many, in this process.
    for _ in range(3):
        kernels()
        trusted()
        step()
    t_kernel = t_trusted = t_step = t_readout = np.inf
    for _ in range(20):
        t_kernel = min(t_kernel, _best(kernels, 3))
        t_trusted = min(t_trusted, _best(trusted, 3))
        t_step = min(t_step, _best(step, 3))
        t_readout = min(t_readout, _best(readout, 3))
    overhead = t_step / t_kernel - 1.0
    python = (t_step - t_kernel - t_readout) / t_kernel
    # against the kernels doing the estimator's own work (no dx, no checks)
    overhead_same = t_step / t_trusted - 1.0
    python_same = (t_step - t_trusted - t_readout) / t_trusted
    benchmark.extra_info.update(
        kernels_ms=round(t_kernel * 1e3, 3),
        kernels_without_dx_ms=round(t_trusted * 1e3, 3),
        step_ms=round(t_step * 1e3, 3),
        readout_loss_ms=round(t_readout * 1e3, 3),
        overhead=round(overhead, 4),
        python_overhead=round(python, 4),
        overhead_without_dx=round(overhead_same, 4),
        python_overhead_without_dx=round(python_same, 4),
    )
    print(f"\n{kind}: kernels {t_kernel * 1e3:.3f} ms, estimator step {t_step * 1e3:.3f} ms "
          f"(readout + loss {t_readout * 1e3:.3f} ms): step / kernels - 1 = {overhead:+.1%}; "
          f"without the readout's computation {python:+.1%}"
          f"\n{kind}: kernels without dx or checks {t_trusted * 1e3:.3f} ms: "
          f"step / them - 1 = {overhead_same:+.1%}; without the readout's computation "
          f"{python_same:+.1%}")
