"""The kernels' threads: results that do not depend on the thread count,
processes forked after the threads ran, the limits that set the count, and
fewer threads while other processes keep the CPUs busy."""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastrnn
from fastrnn import _threads, functional


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

    with fastrnn.threads(1):
        h1, g1 = run()
    monkeypatch.setattr(functional, "SEQUENCE_WORK_PER_THREAD", 0)
    monkeypatch.setattr(functional, "STEP_WORK_PER_THREAD", 0)
    with fastrnn.threads(n_threads):
        assert functional._n_threads(B, T, D, H, dtype) == n_threads
        hn, gn = run()
        assert functional.last_team_size() == n_threads
    np.testing.assert_array_equal(hn, h1)
    for name, got, want in zip(g1._fields, gn, g1):
        np.testing.assert_array_equal(got, want, err_msg=name)


FORKED = """
import multiprocessing as mp
import numpy as np
import fastrnn
from fastrnn import functional

functional.SEQUENCE_WORK_PER_THREAD = 0
functional.STEP_WORK_PER_THREAD = 0
limit = fastrnn.threads(2)
limit.__enter__()
rng = np.random.default_rng(0)
x = rng.standard_normal((8, 20, 4))
W_xh = rng.standard_normal((4, 64))
W_hh = rng.standard_normal((64, 64)) / 8
b = np.zeros(64)
h = fastrnn.forward(x, W_xh, W_hh, b)          # the parent runs 2 threads


def work(i):
    return fastrnn.get_num_threads(), float(np.abs(fastrnn.forward(x, W_xh, W_hh, b) - h).max())


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


# --- the thread limit follows the ecosystem's controls ----------------------

LIMITS = """
import json, os, sys
import numpy as np
import fastrnn
from fastrnn import functional

functional.SEQUENCE_WORK_PER_THREAD = 0      # any work takes every thread allowed
rng = np.random.default_rng(0)
x = rng.standard_normal((16, 5, 3))
W_xh, W_hh, b = rng.standard_normal((3, 24)), rng.standard_normal((24, 24)) / 5, np.zeros(24)


def used():
    fastrnn.forward(x, W_xh, W_hh, b)
    return [fastrnn.get_num_threads(), functional.last_team_size()]


out = {"default": used()}
with fastrnn.threads(3):
    out["threads(3)"] = used()
    with fastrnn.threads(1):
        out["nested threads(1)"] = used()
    out["back to threads(3)"] = used()
try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:
    pass
else:
    out["openmp seen"] = any(i["user_api"] == "openmp" for i in threadpool_info())
    with threadpool_limits(1, user_api="openmp"):
        out["threadpool_limits(1)"] = used()
    out["after threadpool_limits"] = used()
print(json.dumps(out))
"""


def _limits(tmp_path, **env):
    script = tmp_path / "limits.py"
    script.write_text(LIMITS)
    environ = {k: v for k, v in os.environ.items()
               if k not in ("OMP_NUM_THREADS", "FASTRNN_NUM_THREADS")}
    environ.update(env)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, env=environ)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_threads_context_manager_and_threadpoolctl(tmp_path):
    """fastrnn.threads(n) sets the count the kernels really run (more than
    the CPUs if asked), nests and restores; threadpoolctl sees the kernels'
    OpenMP runtime and its limit applies."""
    pytest.importorskip("threadpoolctl")
    out = _limits(tmp_path)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert out["default"] == [cpus, cpus]
    assert out["threads(3)"] == [3, 3]
    assert out["nested threads(1)"] == [1, 1]
    assert out["back to threads(3)"] == [3, 3]
    assert out["openmp seen"]
    assert out["threadpool_limits(1)"] == [1, 1]
    assert out["after threadpool_limits"] == [cpus, cpus]


def test_omp_num_threads_limits_the_kernels(tmp_path):
    out = _limits(tmp_path, OMP_NUM_THREADS="1")
    assert out["default"] == [1, 1]
    assert out["threads(3)"] == [3, 3]          # the explicit limit wins


def test_fastrnn_num_threads_wins_over_omp_num_threads(tmp_path):
    out = _limits(tmp_path, OMP_NUM_THREADS="1", FASTRNN_NUM_THREADS="2")
    assert out["default"] == [2, 2]
    assert out["threads(3)"] == [3, 3]


def test_threads_limit_is_per_python_thread():
    """A limit set in one Python thread does not leak into another."""
    import threading

    seen = []
    with fastrnn.threads(1):
        t = threading.Thread(target=lambda: seen.append(fastrnn.get_num_threads()))
        t.start()
        t.join()
        assert fastrnn.get_num_threads() == 1
    assert seen == [fastrnn.get_num_threads()]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, np.int64(0), np.bool_(True),
                                 np.float64(2.0)])
def test_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="positive integer"):
        with fastrnn.threads(bad):
            pass


@pytest.mark.parametrize("n", [np.int64(2), np.uint8(3), np.intp(1)])
def test_threads_takes_numpy_integers(n):
    with fastrnn.threads(n):
        assert fastrnn.get_num_threads() == int(n)
        assert type(fastrnn.get_num_threads()) is int


@pytest.mark.parametrize("n_threads", [1, 3])
def test_estimator_n_threads_sets_the_kernels_threads(monkeypatch, n_threads):
    """n_threads applies to the kernels an estimator's methods call, and the
    fitted weights are bit for bit those of any other count."""
    monkeypatch.setattr(functional, "SEQUENCE_WORK_PER_THREAD", 0)
    monkeypatch.setattr(functional, "PRODUCT_WORK_PER_THREAD", 0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 12, 3))
    y = X.sum(axis=2, keepdims=True).cumsum(axis=1) / 10

    def fitted(n):
        model = fastrnn.RNNRegressor(n_hidden=20, max_epochs=3, batch_size=16,
                                     random_state=0, n_threads=n).fit(X, y)
        return model

    model = fitted(n_threads)
    assert functional.last_team_size() == n_threads
    model.predict(X)
    assert functional.last_team_size() == n_threads
    other = fitted(2)
    for name in ("W_xh_", "W_hh_", "b_", "W_hy_", "b_y_"):
        np.testing.assert_array_equal(getattr(model, name), getattr(other, name))
    assert model.get_params()["n_threads"] == n_threads


@pytest.mark.parametrize("bad", [0, -2, 1.5, "two"])
def test_estimator_rejects_bad_n_threads(bad):
    X = np.zeros((4, 3, 2))
    with pytest.raises(ValueError, match="n_threads"):
        fastrnn.RNNRegressor(n_threads=bad).fit(X, X[:, :, :1])


WAITS = """
import os, sys
if sys.argv[1] == "sklearn first":
    import sklearn.utils._openmp_helpers  # loads GCC's OpenMP runtime before fastrnn
import fastrnn
from fastrnn import _threads
print(_threads.OPENMP_WAITS)
print("GOMP_SPINCOUNT" in os.environ)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="GCC's OpenMP runtime")
@pytest.mark.parametrize("case, env, expected", [
    ("plain", {}, f"short spins (GOMP_SPINCOUNT={_threads.SPIN_COUNT})"),
    ("plain", {"OMP_WAIT_POLICY": "active"}, "as set by OMP_WAIT_POLICY/GOMP_SPINCOUNT"),
    ("plain", {"GOMP_SPINCOUNT": "100"}, "as set by OMP_WAIT_POLICY/GOMP_SPINCOUNT"),
    ("sklearn first", {}, "as loaded before fastrnn"),
])
def test_openmp_waits_are_short_unless_set_or_loaded_before(tmp_path, case, env, expected):
    """fastrnn loads the OpenMP runtime with short spins, leaves the
    environment as it found it, and respects the user's own settings."""
    if case == "sklearn first":
        pytest.importorskip("sklearn")
    script = tmp_path / "waits.py"
    script.write_text(WAITS)
    environ = {k: v for k, v in os.environ.items()
               if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    environ.update(env)
    proc = subprocess.run([sys.executable, str(script), case], capture_output=True, text=True,
                          timeout=120, env=environ)
    assert proc.returncode == 0, proc.stderr
    waits, spin_left_set = proc.stdout.splitlines()
    assert waits == expected
    assert spin_left_set == str("GOMP_SPINCOUNT" in env)


# --- fewer threads while other processes keep the CPUs busy ------------------

@pytest.fixture
def adapting(monkeypatch):
    """Adaptation on, on a machine of 4 CPUs with the default limit, a fake
    clock (a new sample at every call) and fake samples of other work."""
    clock = iter(range(10**6))
    samples = []
    monkeypatch.setattr(_threads, "ADAPT_TO_LOAD", True)
    monkeypatch.setattr(_threads, "CPUS", 4)
    monkeypatch.setattr(_threads, "MACHINE_CPUS", 4)
    monkeypatch.setattr(_threads, "ENV_THREADS", None)
    monkeypatch.setattr(_threads, "_omp_max_threads", lambda: 4)
    monkeypatch.setattr(_threads, "_clock", lambda: next(clock) * 2 * _threads.LOAD_INTERVAL)
    monkeypatch.setattr(_threads, "_others_runnable", lambda: samples.pop(0))
    monkeypatch.setattr(_threads, "_load_samples", [])
    monkeypatch.setattr(_threads, "_load_sampled_at", -math.inf)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    return samples


SHORT = 10**6  # the multiply-adds of a short call


def _counts(samples, others, work=SHORT):
    samples.extend(others)
    return [_threads.threads_for(work, 1) for _ in others]


def test_threads_follow_other_processes(adapting):
    # three samples in a row must show other work; the smallest counts
    assert _counts(adapting, [2, 2, 2, 3, 1, 0, 3, 3]) == [4, 4, 2, 2, 3, 4, 4, 4]
    assert _counts(adapting, [5, 5]) == [1, 1]           # never fewer than one thread
    assert _threads.threads_for(SHORT, SHORT) == 1       # little work: one thread


def test_long_calls_keep_their_threads(adapting):
    long = _threads.LONG_CALL_WORK
    assert _counts(adapting, [3, 3, 3]) == [4, 4, 1]
    assert _counts(adapting, [3, 3], work=long) == [4, 4]
    assert _counts(adapting, [3], work=long - 1) == [1]
    assert _threads.threads_for(long, long // 2) == 2     # its own count stands


@pytest.mark.parametrize("control", ["threads", "FASTRNN_NUM_THREADS", "OMP_NUM_THREADS",
                                     "omp limit", "affinity"])
def test_explicit_limits_do_not_follow_the_load(adapting, monkeypatch, control):
    adapting.extend([3] * 10)
    if control == "FASTRNN_NUM_THREADS":
        monkeypatch.setattr(_threads, "ENV_THREADS", 4)
    elif control == "OMP_NUM_THREADS":
        monkeypatch.setenv("OMP_NUM_THREADS", "4")
    elif control == "omp limit":                          # threadpoolctl's, or joblib's
        monkeypatch.setattr(_threads, "_omp_max_threads", lambda: 3)
    elif control == "affinity":                           # 4 of the machine's 8 CPUs
        monkeypatch.setattr(_threads, "MACHINE_CPUS", 8)
    expected = 3 if control == "omp limit" else 4
    with fastrnn.threads(4) if control == "threads" else contextlib.nullcontext():
        assert [_threads.threads_for(SHORT, 1) for _ in range(5)] == [expected] * 5


def test_no_load_figures_turn_adaptation_off(adapting, monkeypatch):
    monkeypatch.setattr(_threads, "_others_runnable", lambda: None)
    assert _threads.threads_for(SHORT, 1) == 4
    assert _threads.ADAPT_TO_LOAD is False


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="Linux's /proc only")
def test_the_kernels_take_fewer_threads_beside_busy_processes(monkeypatch):
    """The real figures: beside busy-loop processes the kernels' teams shrink
    by their number (at least one thread), and this process's own running
    threads are not counted as others."""
    from fastrnn.bench import BusyProcesses

    monkeypatch.setattr(_threads, "ADAPT_TO_LOAD", True)
    monkeypatch.setattr(_threads, "_load_samples", [])
    monkeypatch.setattr(_threads, "_load_sampled_at", -math.inf)
    monkeypatch.setattr(functional, "SEQUENCE_WORK_PER_THREAD", 0)
    # (other tests' OpenMP limits, such as dask's OMP_NUM_THREADS=1, are not
    # this test's: the default limit, whatever OpenMP was last told)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(_threads, "_omp_max_threads", lambda: _threads.CPUS)
    if not _threads._default_limit() or _threads.MACHINE_CPUS != _threads.CPUS:
        pytest.skip("the default limit does not apply here")
    assert _threads._others_runnable() >= 0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 50, 8))
    W_xh, W_hh, b = rng.standard_normal((8, 32)), rng.standard_normal((32, 32)) / 8, np.zeros(32)
    expected = fastrnn.forward(x, W_xh, W_hh, b)
    with BusyProcesses(2, limit=30):
        time.sleep(0.3)
        teams = []
        deadline = time.perf_counter() + 5
        while time.perf_counter() < deadline and len(teams) < 20:
            np.testing.assert_array_equal(fastrnn.forward(x, W_xh, W_hh, b), expected)
            teams.append(functional.last_team_size())
            time.sleep(_threads.LOAD_INTERVAL)
    assert min(teams[LOAD_SAMPLES_SEEN:]) >= 1
    assert max(teams[LOAD_SAMPLES_SEEN:]) <= max(1, _threads.CPUS - 2), teams


LOAD_SAMPLES_SEEN = 4  # calls after which LOAD_SAMPLES samples are in
