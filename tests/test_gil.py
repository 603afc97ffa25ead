"""The kernels release the GIL for the whole call: shown by a deterministic
probe, without timing anything.

The probe (``gil_probe``) sets a 100 s switch interval, so that a thread holding
the GIL keeps it until it blocks or releases it explicitly. A worker thread
sets ``in_call`` and makes the call; the main thread, once ``Thread.start``
returns, counts while ``in_call`` is set.

- If the call releases the GIL, the main thread runs during the call and sees
  ``in_call`` set: it counts to the cap. Even if the call ended first, the
  worker could not clear the flag: that needs the GIL, which the main thread
  keeps (100 s interval) until it blocks in ``join``.
- If the call holds the GIL, the main thread (woken by ``start``'s event but
  waiting for the GIL) runs only after the worker has cleared the flag and
  exited: the count is 0.

The calls take a few tenths of a second, so that the main thread, woken when
the worker drops the GIL, surely takes it before the call ends (a call of
microseconds could end, and take the GIL back, before the main thread wakes).
The negative control (``sum(range(...))``, which holds the GIL) shows that the
probe does fail; ``time.sleep`` is the positive control.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

import fastrnn
from fastrnn import functional

KERNEL_MODULES = dict(getattr(functional, "KERNEL_MODULES", None) or {"baseline": functional._core})
COUNT_CAP = 10_000

pytestmark = pytest.mark.skipif(
    hasattr(sys, "_is_gil_enabled") and not sys._is_gil_enabled(),
    reason="no GIL in this (free-threaded) interpreter",
)


def gil_probe(func, *args):
    """COUNT_CAP if func(*args), run in a worker thread, let the main thread
    run while it was in progress; 0 if it held the GIL throughout."""
    state = {"in_call": False, "error": None}

    def worker():
        state["in_call"] = True
        try:
            func(*args)
        except BaseException as exc:  # pragma: no cover - reported below
            state["error"] = exc
        state["in_call"] = False

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(100)
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        n = 0
        while state["in_call"] and n < COUNT_CAP:
            n += 1
        thread.join()
    finally:
        sys.setswitchinterval(old_interval)
    if state["error"] is not None:
        raise state["error"]
    return n


class _Recorder:
    """Stands in for a kernel entry point: records its arguments (and the
    fused-type index, for calls like ``module._forward[double](...)``), then
    calls the real one."""

    def __init__(self, real):
        self.real = real
        self.calls = []
        self.index = None

    def __getitem__(self, index):
        self.index = index
        return self

    def __call__(self, *args):
        self.calls.append(args)
        real = self.real if self.index is None else self.real[self.index]
        return real(*args)


def captured_kernel_call(monkeypatch, module, entry, call):
    """Run call() (a public function that calls `module.<entry>` once) and
    return its result, the kernel function and the arguments it was given:
    checked, converted, allocated buffers, ready for a direct call."""
    recorder = _Recorder(getattr(module, entry))
    with monkeypatch.context() as m:
        m.setattr(module, entry, recorder)
        result = call()
    assert len(recorder.calls) == 1
    func = recorder.real if recorder.index is None else recorder.real[recorder.index]
    return result, func, recorder.calls[0]


def problem(dtype):
    """A forward + backward problem of about a tenth of a second or more each."""
    rng = np.random.default_rng(0)
    B, T, D, H = 2, 4000, 8, 256
    x = rng.standard_normal((B, T, D)).astype(dtype)
    W_xh = (rng.standard_normal((D, H)) / np.sqrt(D)).astype(dtype)
    W_hh = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype)
    b = np.zeros(H, dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    dh = rng.standard_normal((B, T, H)).astype(dtype)
    return x, W_xh, W_hh, b, h0, dh


def check_probe_recomputes(func, args, outputs):
    """Probe func(*args) with its output buffers (`outputs`, filled by the
    captured call) blanked: they must be filled again, by the probed call."""
    buffers = [a for a in args if any(a is o for o in outputs)]
    assert len(buffers) == len(outputs)
    expected = [b.copy() for b in buffers]
    for buf in buffers:
        buf.fill(np.nan)
    assert gil_probe(func, *args) == COUNT_CAP
    for buf, exp in zip(buffers, expected):
        np.testing.assert_array_equal(buf, exp)


@pytest.mark.parametrize("path", ["serial", "threads"], indirect=True)
def test_forward_releases_gil(monkeypatch, path, kernels):
    """`kernels` (conftest) is the kernel module forward calls."""
    x, W_xh, W_hh, b, h0, dh = problem(np.float64)
    h, func, args = captured_kernel_call(
        monkeypatch, kernels, "_forward", lambda: fastrnn.forward(x, W_xh, W_hh, b, h0))
    check_probe_recomputes(func, args, [h])


@pytest.mark.parametrize("path", ["serial", "threads"], indirect=True)
def test_backward_releases_gil(monkeypatch, path, kernels):
    x, W_xh, W_hh, b, h0, dh = problem(np.float64)
    h = np.tanh(dh)  # any h in (-1, 1) will do for timing
    grads, func, args = captured_kernel_call(
        monkeypatch, kernels, "_backward", lambda: fastrnn.backward(x, h, dh, W_xh, W_hh, h0))
    check_probe_recomputes(func, args, [grads.dx, grads.dW_xh, grads.dW_hh, grads.db, grads.dh0])


def test_probe_detects_a_call_that_holds_the_gil():
    """Negative control: a C call that keeps the GIL gives a count of 0."""
    assert gil_probe(sum, range(3_000_000)) == 0


def test_probe_detects_a_call_that_releases_the_gil():
    """Positive control."""
    assert gil_probe(time.sleep, 0.05) == COUNT_CAP
