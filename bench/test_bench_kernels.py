"""Kernel benchmarks: fastrnn against its NumPy reference and PyTorch.

One timed call per test: backend x dtype x mode (forward, train = forward +
BPTT) x size, grouped by size and mode so pytest-benchmark prints the
backends side by side. Not part of the default test run:

    python -m pytest bench/test_bench_kernels.py --benchmark-only

For a table of ratios in one run, use ``python -m fastrnn.bench``.
"""

import numpy as np
import pytest

from fastrnn import bench as harness
from fastrnn import functional, reference

BACKENDS = ["fastrnn", "reference", "torch"]


def _functions(backend, problem):
    if backend == "fastrnn":
        return harness._numpy_like(functional, *problem)
    if backend == "reference":
        return harness._numpy_like(reference, *problem)
    pytest.importorskip("torch")
    harness.available_backends(["torch"])  # sets torch's thread count
    return harness._torch_like(*problem)


@pytest.mark.parametrize("shape", harness.GRID, ids=lambda s: "B{}-T{}-D{}-H{}".format(*s))
@pytest.mark.parametrize("mode", ["forward", "train"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_kernel_speed(benchmark, backend, dtype, mode, shape):
    problem = harness.make_problem(shape, dtype)
    forward, train = _functions(backend, problem)
    fn = forward if mode == "forward" else train
    benchmark.group = f"{mode} {dtype} B,T,D,H={shape}"
    benchmark.extra_info["gflop"] = harness.flops(shape, mode) / 1e9
    out = benchmark(fn)
    B, T, D, H = shape
    h = out if mode == "forward" else None
    if backend == "torch":
        h = out.detach().numpy() if h is not None else None
    elif mode == "train":
        assert out.dW_hh.shape == (H, H) and np.isfinite(out.dW_hh).all()
    if h is not None:
        assert h.shape == (B, T, H) and np.isfinite(h).all()
