"""Integer arrays that another Python thread changes while forward/backward run.

The kernels run without the GIL, so what they read must be private to the
call (DESIGN.md, "Threads"): ids and lengths are range-checked, and the
kernels must read exactly the checked values, not the caller's array, which
another thread may change between the check and the kernel's read. A thread
here flips one id (or one length) between a legal and an illegal value while
the main thread calls forward and backward in a loop: every call that
completes must equal the result for the legal value, and every other call
must be refused with a ValueError.

The changed entry is the last one (x[-1, -1], lengths[-1]): the kernels read
it last, after the flipping thread has had its chance to run.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import fastrnn

V, H, B, T = 50, 32, 16, 2000
SECONDS = 0.5  # per test: a few hundred calls


def _flipping(arr, index, legal, illegal, stop):
    """Thread body: arr[index] is legal 70% of the time, illegal 30%."""
    k = 0
    while not stop.is_set():
        arr[index] = legal
        time.sleep(0.0007)
        arr[index] = illegal[k % len(illegal)]
        time.sleep(0.0003)
        k += 1
    arr[index] = legal


def _race(call, arr, index, legal, illegal, expected):
    """Calls `call()` for SECONDS while another thread flips arr[index];
    returns the counts of completed, refused and wrong calls, and the other
    exceptions raised."""
    stop = threading.Event()
    flipper = threading.Thread(target=_flipping, args=(arr, index, legal, illegal, stop))
    completed = refused = wrong = 0
    others = []
    flipper.start()
    try:
        start = time.perf_counter()
        # SECONDS, and on a slow machine up to 4 * SECONDS until both a
        # completed and a refused call were seen.
        while (elapsed := time.perf_counter() - start) < SECONDS or (
                not (completed and refused) and elapsed < 4 * SECONDS):
            try:
                result = call()
            except ValueError:
                refused += 1
                continue
            except Exception as exc:  # any other error is a failure
                others.append(repr(exc))
                continue
            completed += 1
            if not all((r is None and e is None) or np.array_equal(r, e)
                       for r, e in zip(_parts(result), _parts(expected))):
                wrong += 1
    finally:
        stop.set()
        flipper.join()
    return completed, refused, wrong, others


def _parts(result):
    """The arrays of a result: h, or the fields of Gradients."""
    return tuple(result) if isinstance(result, tuple) else (result,)


@pytest.fixture
def problem():
    # One kernel thread: the race is between the calling thread and another
    # Python thread; one thread keeps each call short on a busy machine.
    with fastrnn.threads(1):
        yield _problem()


def _problem():
    rng = np.random.default_rng(0)
    W_xh = rng.normal(0, 0.3, (V, H))
    W_hh = rng.normal(0, 0.3 / np.sqrt(H), (H, H))
    b = rng.normal(0, 0.1, H)
    x = rng.integers(0, V, size=(B, T)).astype(np.intp)  # C-contiguous intp: no copy needed
    x[-1, -1] = 0
    dh = rng.normal(0, 1, (B, T, H))
    lengths = rng.integers(1, T + 1, B).astype(np.intp)
    lengths[-1] = T // 2
    return W_xh, W_hh, b, x, dh, lengths


@pytest.mark.parametrize("function", ["forward", "backward"])
def test_ids_changed_by_another_thread(problem, function):
    W_xh, W_hh, b, x, dh, _ = problem
    h = fastrnn.forward(x, W_xh, W_hh, b)
    if function == "forward":
        expected = h
        call = lambda: fastrnn.forward(x, W_xh, W_hh, b)  # noqa: E731
    else:
        expected = fastrnn.backward(x, h, dh, W_xh, W_hh)
        call = lambda: fastrnn.backward(x, h, dh, W_xh, W_hh)  # noqa: E731
    completed, refused, wrong, others = _race(call, x, (-1, -1), 0, [V + 3], expected)
    assert wrong == 0, f"{wrong} of {completed} completed calls read an unchecked id"
    assert not others, f"{len(others)} calls raised neither a result nor ValueError: {others[0]}"
    assert completed > 0 and refused > 0, (completed, refused)  # the race ran both ways


@pytest.mark.parametrize("function", ["forward", "backward"])
def test_lengths_changed_by_another_thread(problem, function):
    W_xh, W_hh, b, x, dh, lengths = problem
    h = fastrnn.forward(x, W_xh, W_hh, b, lengths=lengths)
    if function == "forward":
        expected = h
        call = lambda: fastrnn.forward(x, W_xh, W_hh, b, lengths=lengths)  # noqa: E731
    else:
        expected = fastrnn.backward(x, h, dh, W_xh, W_hh, lengths=lengths)
        call = lambda: fastrnn.backward(x, h, dh, W_xh, W_hh, lengths=lengths)  # noqa: E731
    completed, refused, wrong, others = _race(call, lengths, -1, T // 2, [0, T + 5], expected)
    assert wrong == 0, f"{wrong} of {completed} completed calls read an unchecked length"
    assert not others, f"{len(others)} calls raised neither a result nor ValueError: {others[0]}"
    assert completed > 0 and refused > 0, (completed, refused)


def test_step_ids_changed_by_another_thread(problem):
    """A fitted model's small calls (its stepper) run the kernel on their own
    copy of the ids too. (The copy and its check are made with the GIL held,
    so this flipping thread cannot write between them; what it can catch is
    a kernel that reads the caller's array while the GIL is released.)"""
    rng = np.random.default_rng(1)
    ids = rng.integers(0, V, size=(6, 32))
    model = fastrnn.RNNClassifier(n_hidden=H, max_epochs=1, n_symbols=V,
                                  random_state=0).fit(ids, ids % 3)
    x = ids[:1, :32].astype(np.intp)                 # a small call: the stepper
    x[-1, -1] = 0
    state = model.start_state(1)
    assert model._step_small(x, state) is not None
    expected = model.step(x, state, return_proba=True)
    call = lambda: model.step(x, state, return_proba=True)  # noqa: E731
    completed, refused, wrong, others = _race(call, x, (-1, -1), 0, [V + 3, -1], expected)
    assert wrong == 0, f"{wrong} of {completed} completed calls read an unchecked id"
    assert not others, f"{len(others)} calls raised neither a result nor ValueError: {others[0]}"
    assert completed > 0 and refused > 0, (completed, refused)
