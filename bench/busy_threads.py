"""The training step on 1 and on 2 threads, quiet and beside 2 busy processes.

Whether a call should keep its threads when other processes keep the CPUs
busy (see LONG_CALL_WORK in fastrnn/_threads.py): fastrnn.forward +
fastrnn.backward timed with explicit thread counts (so the load-following
rule does not choose), quiet and then inside BusyProcesses(2), and printed
as the time over the quiet time on 2 threads.

    python bench/busy_threads.py [float32|float64] [SECONDS] [B,T,D,H ...]
"""

from __future__ import annotations

import sys
import time

import numpy as np

import fastrnn
from fastrnn.bench import BusyProcesses

ROWS = [(32, 64, 65, 128), (64, 100, 128, 256), (32, 50, 256, 512), (16, 50, 512, 1024)]


def training_step(B, T, D, H, dtype, rng):
    x = rng.standard_normal((B, T, D)).astype(dtype)
    W_xh = (rng.standard_normal((D, H)) / np.sqrt(D)).astype(dtype)
    W_hh = np.linalg.qr(rng.standard_normal((H, H)))[0].astype(dtype)
    b = np.zeros(H, dtype)
    dh = (rng.standard_normal((B, T, H)) * 0.01).astype(dtype)

    def call():
        h = fastrnn.forward(x, W_xh, W_hh, b)
        fastrnn.backward(x, h, dh, W_xh, W_hh)

    return call


def median_time(call, n_threads, seconds):
    with fastrnn.threads(n_threads):
        call()
        times = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv):
    dtype = np.dtype(argv[0] if argv else "float32")
    window = float(argv[1]) if len(argv) > 1 else 2.0
    rows = [tuple(int(v) for v in r.split(",")) for r in argv[2:]] or ROWS
    rng = np.random.default_rng(0)
    calls = {r: training_step(*r, dtype, rng) for r in rows}
    quiet = {(r, n): median_time(calls[r], n, window / 2) for r in rows for n in (1, 2)}
    busy = {}
    with BusyProcesses(2):
        time.sleep(0.5)
        for _ in range(2):  # two rounds, so that a slow spell falls on both counts
            for r in rows:
                for n in (1, 2):
                    busy.setdefault((r, n), []).append(median_time(calls[r], n, window / 2))
    print(f"{dtype}, beside 2 busy processes: time / quiet time on 2 threads")
    for r in rows:
        q = quiet[(r, 2)]
        b1, b2 = np.median(busy[(r, 1)]), np.median(busy[(r, 2)])
        print(f"{str(r):22s} quiet {quiet[(r, 1)] * 1e3:8.2f} ms on 1 thread, {q * 1e3:8.2f} on 2"
              f" | busy: 1 thread {b1 / q:5.2f}, 2 threads {b2 / q:5.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
