"""Shared fixtures: the compiled kernel builds, the kernels' two ways to run
(one thread, or several with OpenMP) and the two dtypes.

Every test that runs the compiled kernels should take ``path`` (and, where the
float32 kernels matter, ``dtype``) so that each branch of the fused-type
kernels is exercised: {serial, threads} x {float32, float64}, in every kernel
build this machine runs (``path`` depends on ``kernels``).
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest

import fastrnn
from fastrnn import _threads, functional

# Thread counts that follow the machine's load (fastrnn._threads.ADAPT_TO_LOAD)
# would make the counts the tests observe depend on what else runs: off for
# the suite and for the processes it starts; tests/test_threads.py turns it
# on where it tests it.
_threads.ADAPT_TO_LOAD = False
os.environ["FASTRNN_ADAPT_THREADS"] = "0"

# The compiled kernel modules this CPU runs, by name ("baseline", and "avx2" and
# "avx512" where built and supported); fastrnn.functional calls `functional.kernels`.
KERNEL_MODULES = dict(getattr(functional, "KERNEL_MODULES", None) or {"baseline": functional._core})

# How the kernels run: the thread limit (fastrnn.threads) and settings of
# fastrnn.functional, for one thread, or for three threads at any B and H
# (more threads than this machine may have: OpenMP runs them all, and each
# must get a share of every product).
_PATHS = {
    "serial": (1, {}),
    "threads": (3, {"SEQUENCE_WORK_PER_THREAD": 0, "STEP_WORK_PER_THREAD": 0,
                    "PRODUCT_WORK_PER_THREAD": 0}),
}


def pytest_configure(config):
    # When a hypothesis test fails, hypothesis' pytest plugin imports libcst to
    # suggest a patch; libcst 1.0 warns on import through mypy_extensions, and
    # filterwarnings = error turns that into an INTERNALERROR that hides the
    # failure. Later filters take precedence over the "error" one.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning",
    )


@contextlib.contextmanager
def _configured(path, build):
    """Make fastrnn.functional use one kernel build and one path, then restore it."""
    n_threads, values = _PATHS[path]
    values = dict(values)
    if len(KERNEL_MODULES) > 1:
        values["kernels"] = KERNEL_MODULES[build]
        values["NARROW_COLUMNS"] = 0  # the chosen build at every size
    saved = {name: getattr(functional, name) for name in values}  # AttributeError if gone
    try:
        for name, value in values.items():
            setattr(functional, name, value)
        with fastrnn.threads(n_threads):
            yield
    finally:
        for name, value in saved.items():
            setattr(functional, name, value)


@pytest.fixture(scope="session")
def kernel_configs():
    """Every (path, build) pair, for tests that draw one per hypothesis example;
    use them with the `configure_kernels` context manager."""
    return [(p, b) for p in _PATHS for b in sorted(KERNEL_MODULES)]


@pytest.fixture(scope="session")
def configure_kernels():
    """Context manager factory: ``with configure_kernels(path, build): ...``."""
    return _configured


@pytest.fixture(params=sorted(KERNEL_MODULES))
def kernels(request, monkeypatch):
    """The kernel module fastrnn.forward/backward call (one per build)."""
    module = KERNEL_MODULES[request.param]
    if len(KERNEL_MODULES) > 1:
        # Without this attribute the fixture could not choose a build.
        assert hasattr(functional, "kernels"), "fastrnn.functional.kernels is gone"
        monkeypatch.setattr(functional, "kernels", module)
        monkeypatch.setattr(functional, "NARROW_COLUMNS", 0)  # this build at every size
    return module


@pytest.fixture(params=list(_PATHS))
def path(request, monkeypatch, kernels):
    """How the compiled kernels run: "serial" (one thread) or "threads" (three)."""
    n_threads, values = _PATHS[request.param]
    for name, value in values.items():
        monkeypatch.setattr(functional, name, value)  # raises if functional lost it
    with fastrnn.threads(n_threads):
        yield request.param


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    """A computation dtype of the kernels."""
    return np.dtype(request.param)
