"""The kernels' threads: results that do not depend on the thread count, and
processes forked after the threads ran."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastrnn
from fastrnn import functional


# Fewer than 8 sequences: threads split each step by columns. From 8 on,
# they take groups of whole sequences (multiples of 4); with 2 or 3 threads
# B = 9 leaves a group of one sequence, B = 13 one of five.
@pytest.mark.parametrize("B, T, D, H", [(5, 60, 70, 147), (16, 20, 8, 64), (1, 30, 3, 33),
                                        (9, 10, 3, 20), (13, 25, 6, 40)])
@pytest.mark.parametrize("n_threads", [2, 3])
def test_results_do_not_depend_on_the_thread_count(monkeypatch, dtype, B, T, D, H, n_threads):
    """Each output element is one chain of multiply-adds in a fixed order,
    whichever thread computes it: the results are bit for bit those of one
    thread."""
    rng = np.random.default_rng(B * T + H)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    W_xh = (rng.standard_normal((D, H)) / np.sqrt(D)).astype(dtype)
    W_hh = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype)
    b = rng.standard_normal(H).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    dh = rng.standard_normal((B, T, H)).astype(dtype)
    lengths = rng.integers(1, T + 1, size=B)

    def run():
        h = fastrnn.forward(x, W_xh, W_hh, b, h0, lengths=lengths)
        return h, fastrnn.backward(x, h, dh, W_xh, W_hh, h0, lengths=lengths)

    monkeypatch.setattr(functional, "MAX_THREADS", 1)
    h1, g1 = run()
    monkeypatch.setattr(functional, "MAX_THREADS", n_threads)
    monkeypatch.setattr(functional, "SEQUENCE_WORK_PER_THREAD", 0)
    monkeypatch.setattr(functional, "STEP_WORK_PER_THREAD", 0)
    assert functional._n_threads(B, T, D, H, dtype) == n_threads
    hn, gn = run()
    np.testing.assert_array_equal(hn, h1)
    for name, got, want in zip(g1._fields, gn, g1):
        np.testing.assert_array_equal(got, want, err_msg=name)


FORKED = """
import multiprocessing as mp
import numpy as np
import fastrnn
from fastrnn import functional

functional.MAX_THREADS = 2
functional.SEQUENCE_WORK_PER_THREAD = 0
functional.STEP_WORK_PER_THREAD = 0
rng = np.random.default_rng(0)
x = rng.standard_normal((8, 20, 4))
W_xh = rng.standard_normal((4, 64))
W_hh = rng.standard_normal((64, 64)) / 8
b = np.zeros(64)
h = fastrnn.forward(x, W_xh, W_hh, b)          # the parent runs 2 threads


def work(i):
    return functional.MAX_THREADS, float(np.abs(fastrnn.forward(x, W_xh, W_hh, b) - h).max())


if __name__ == "__main__":
    with mp.get_context("fork").Pool(2) as pool:
        print(pool.map(work, range(4)))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork start method")
def test_processes_forked_after_threads_ran_run_on_one_thread(tmp_path):
    """GCC's OpenMP runtime hangs in a child forked after it ran threads;
    fastrnn's children run the kernels on one thread instead, correctly."""
    script = tmp_path / "forked.py"
    script.write_text(textwrap.dedent(FORKED))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str([(1, 0.0)] * 4)
