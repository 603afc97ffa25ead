"""How many threads the kernels may use.

The limit for a kernel call follows the ecosystem's controls, most specific
first:

1. ``fastrnn.threads(n)`` around the call (the estimators' ``n_threads``
   uses it), for the current thread or task (a :mod:`contextvars` variable);
2. the environment variable ``FASTRNN_NUM_THREADS`` (read at import);
3. OpenMP's own limit, ``omp_get_max_threads()``: ``OMP_NUM_THREADS``,
   ``threadpoolctl.threadpool_limits`` and the inner limits that joblib's
   workers and dask's set (as scikit-learn's OpenMP code reads it);
4. the CPUs this process may run on.

The kernels then take as many threads as the work of a call pays for, up to
that limit (:func:`fastrnn.functional._n_threads`), and under the default
limit no more than the CPUs that other processes leave idle
(``ADAPT_TO_LOAD``, below).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
import os
import time
from typing import Iterator

__all__ = ["threads", "get_num_threads"]

_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "fastrnn_threads", default=None)


def _check_count(name: str, value) -> int:
    # (numbers.Integral: Python's int and NumPy's integer types, not bool)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


def _env_threads() -> int | None:
    """FASTRNN_NUM_THREADS as a positive int, or None when unset or empty."""
    value = os.environ.get("FASTRNN_NUM_THREADS", "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"FASTRNN_NUM_THREADS must be a positive integer, not {value!r}")
    return n


def _cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


ENV_THREADS = _env_threads()
CPUS = _cpus()
MACHINE_CPUS = os.cpu_count() or 1

# How long a waiting OpenMP thread spins before it sleeps. GCC's runtime
# spins 300,000 times by default (milliseconds): on cores shared with other
# processes, a thread that waits at a barrier, or for the next kernel call,
# burns the time slices that the thread it waits for (or the Python thread
# about to call) needs. Measured on 2 cores, fastrnn train beside 2 busy
# processes ran at 25% of its quiet speed with the default, 37-39% with
# 10,000 spins and 39-54% with 3,000 (a fair share is 50%). Fewer spins
# cost quiet speed: a thread that sleeps between two calls may wake on the
# calling thread's core, and with 3,000 or 6,000 spins small calls (B, T,
# D, H = 16, 100, 32, 64) timed after a pause ran up to 3 times slower,
# with 10,000 rarely and by less. fastrnn sets it for its own loading of
# the runtime only, and only when neither OMP_WAIT_POLICY nor
# GOMP_SPINCOUNT is set; if another module loaded GCC's OpenMP runtime
# first, that runtime keeps its settings (OPENMP_WAITS says which happened).
SPIN_COUNT = 10000


def _openmp_already_loaded() -> bool:
    try:
        with open("/proc/self/maps") as f:
            return "libgomp" in f.read()
    except OSError:  # not Linux
        return False


def _load_kernels_with_short_spins() -> str:
    """Import the kernels (which load the OpenMP runtime) with GOMP_SPINCOUNT
    set to SPIN_COUNT, then restore the environment: what fastrnn's OpenMP
    waits do ("short spins", "as set by OMP_WAIT_POLICY/GOMP_SPINCOUNT", or
    "as loaded before fastrnn")."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return "as set by OMP_WAIT_POLICY/GOMP_SPINCOUNT"
    if _openmp_already_loaded():
        return "as loaded before fastrnn"
    os.environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)
    try:
        from . import _core  # noqa: F401  (the runtime reads GOMP_SPINCOUNT as it loads)
    except ImportError:  # no build: fastrnn.functional says how to build
        return "not loaded"
    finally:
        del os.environ["GOMP_SPINCOUNT"]
    return f"short spins (GOMP_SPINCOUNT={SPIN_COUNT})"


OPENMP_WAITS = _load_kernels_with_short_spins()

# GCC's OpenMP runtime cannot start threads again in a child process forked
# after it has run threads (the child hangs). A child forked then runs the
# kernels on one thread, whatever was asked: on one thread they take no
# OpenMP path at all.
_threads_used = False
_forked_child = False


def _after_fork_in_child() -> None:
    global _forked_child
    if _threads_used:
        _forked_child = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


try:
    from ._core import _omp_max_threads
except ImportError:  # no build: fastrnn.functional says how to build
    def _omp_max_threads() -> int:
        return 1


def get_num_threads() -> int:
    """The most threads the next kernel call from this thread may use.

    See :func:`threads` for the order of the controls. Under the default
    limit (the CPUs), a call takes fewer while other processes keep CPUs
    busy (on Linux; ``FASTRNN_ADAPT_THREADS=0`` turns that off).
    """
    if _forked_child:
        return 1
    n = _LIMIT.get()
    if n is not None:
        return n
    if ENV_THREADS is not None:
        return ENV_THREADS
    return max(1, min(CPUS, _omp_max_threads()))


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Run the kernel calls inside the ``with`` block on at most ``n`` threads.

    The limit holds for the current thread (and asyncio task) only, and nests.
    It takes precedence over ``FASTRNN_NUM_THREADS``, which takes precedence
    over OpenMP's limit (``OMP_NUM_THREADS``, ``threadpoolctl``, the inner
    limits of joblib and dask workers), which is capped by the CPUs this
    process may use. ``n`` may exceed the number of CPUs (the kernels then run
    that many threads); ``None`` restores the default inside the block.
    Results never depend on the number of threads.

    Examples
    --------
    >>> import fastrnn
    >>> with fastrnn.threads(1):
    ...     fastrnn.get_num_threads()
    1
    """
    if n is not None:
        n = _check_count("the number of threads", n)
    token = _LIMIT.set(n)
    try:
        yield
    finally:
        _LIMIT.reset(token)


# Cores shared with other processes. Measured on 2 cores, a float32 training
# step at B, T, D, H = 32, 64, 65, 128 took 2.2 times its quiet time (on 2
# threads) beside one busy-loop process and 2.6-2.8 times beside two, but
# 1.5-1.6 times on 1 thread in both cases; `fastrnn train` beside two ran at
# 40% of its quiet rate on 2 threads, 46% on 1. A thread that loses its
# core holds up the others at every meeting point (a barrier, the end of a
# pass), so a team larger than the idle cores is slower than a smaller one.
# Where the default limit applies (no fastrnn.threads, FASTRNN_NUM_THREADS,
# OMP_NUM_THREADS or threadpoolctl limit below the CPUs), a call therefore
# takes at most the CPUs that other processes leave: CPUS less the tasks of
# other processes that are running or waiting to run, at least 1. That
# count is Linux's (/proc/loadavg's runnable tasks less this process's own,
# from /proc/self/task), sampled at most every LOAD_INTERVAL seconds, and
# the smallest of the last LOAD_SAMPLES samples is used: a reduction needs
# that many samples in a row that all show other work, so a short-lived
# process does not cost a quiet machine its threads, while a return to the
# full count takes one sample. Only where the process may run on every CPU
# of the machine (otherwise the machine-wide count says nothing of its own
# CPUs), and not in a forked child. FASTRNN_ADAPT_THREADS=0 (read at import)
# or ADAPT_TO_LOAD = False turns it off.
#
# Only short calls lose threads: one of at least LONG_CALL_WORK multiply-adds
# (float64 counting twice) keeps them. Its threads work apart for many
# scheduler slices (whole sequences each), so they lose little at the end
# of the pass, and a team of n beside k busy processes gets n / (n + k) of
# the CPUs where one thread gets 1 / (1 + k). Beside two busy processes, a
# float32 training step took on 1 and on 2 threads, over its quiet time on 2:
# 1.56 and 2.83 times at B, T, D, H = 32, 64, 65, 128 (50 million
# multiply-adds a pass); 2.12 and 2.02 at 32, 64, 1, 256 (134 million);
# 2.46 and 2.16 at 64, 64, 128, 256 (403 million); 2.72 and 2.04 at 64, 100,
# 128, 256 (629 million); 2.51 and 2.07 at 16, 50, 512, 1024 (1258 million)
# (python bench/busy_threads.py float32 2 B,T,D,H ...).
ADAPT_TO_LOAD = os.environ.get("FASTRNN_ADAPT_THREADS", "1").strip() != "0"
LOAD_INTERVAL = 0.05
LOAD_SAMPLES = 3
LONG_CALL_WORK = 1 << 28
_clock = time.monotonic
_load_samples: list[int] = []
_load_sampled_at = -math.inf


def _others_runnable() -> int | None:
    """Tasks of other processes that are running or waiting for a CPU now
    (/proc/loadavg's runnable count less this process's running threads), or
    None where Linux's /proc does not tell."""
    try:
        with open("/proc/loadavg", "rb") as f:
            runnable = int(f.read().split()[3].split(b"/")[0])
        ours = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                    stat = f.read()
            except OSError:  # the thread has ended
                continue
            end = stat.rfind(b")")  # the state follows the command name in parentheses
            ours += stat[end + 2:end + 3] == b"R"
    except (OSError, ValueError, IndexError):
        return None
    return max(0, runnable - ours)


def _load_limit(limit: int) -> int:
    """limit, or fewer threads while other processes keep CPUs busy (see above)."""
    global _load_sampled_at, ADAPT_TO_LOAD
    now = _clock()
    if now - _load_sampled_at >= LOAD_INTERVAL:
        _load_sampled_at = now
        others = _others_runnable()
        if others is None:  # not Linux: never adapt
            ADAPT_TO_LOAD = False
            return limit
        _load_samples.append(others)
        del _load_samples[:-LOAD_SAMPLES]
    if len(_load_samples) < LOAD_SAMPLES:
        return limit
    return max(1, min(limit, CPUS - min(_load_samples)))


def _default_limit() -> bool:
    """Whether the limit of the next call is the default one (the CPUs)."""
    return (_LIMIT.get() is None and ENV_THREADS is None and not _forked_child
            and "OMP_NUM_THREADS" not in os.environ and _omp_max_threads() >= CPUS)


def threads_for(work: int, work_per_thread: int) -> int:
    """One thread per work_per_thread multiply-adds (0: as many as allowed),
    from 1 up to get_num_threads(); for a call of fewer than LONG_CALL_WORK
    multiply-adds, up to the CPUs that other processes leave idle where the
    default limit applies (see ADAPT_TO_LOAD)."""
    global _threads_used
    limit = get_num_threads()
    n = limit if work_per_thread <= 0 else max(1, min(limit, work // work_per_thread))
    if (n > 1 and work < LONG_CALL_WORK and ADAPT_TO_LOAD and MACHINE_CPUS == CPUS
            and _default_limit()):
        n = _load_limit(n)
    if n > 1:
        _threads_used = True
    return int(n)
