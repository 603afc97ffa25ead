"""The readout's three products at a character model's shapes, quiet and
beside busy processes.

An estimator's training step multiplies the hidden states h (B*T, H) by the
readout W_hy (H, V) (plain), forms dW_hy = h^T dY (trans_a) and dh = dY
W_hy^T (trans_b). This times the three modes of ``fastrnn.functional.matmul``
in alternating rounds (so that a slow spell falls on all of them), quiet and
then beside ``--busy`` busy-loop processes, and prints a Markdown table of
medians: GFLOP/s and the share of the plain mode's rate.

    python bench/readout_products.py                  # 2048 x 256 by 256 x 103
    python bench/readout_products.py --rows 2048 --hidden 128 --outputs 65 --busy 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fastrnn import functional
from fastrnn.bench import BusyProcesses

MODES = ("plain", "trans_a", "trans_b")
LABELS = {"plain": "`h @ W_hy` (plain)", "trans_a": "`h.T @ dY` (trans_a)",
          "trans_b": "`dY @ W_hy.T` (trans_b)"}


def measure(rows, hidden, outputs, dtype, rounds):
    """Median seconds of each mode over `rounds` alternating rounds."""
    rng = np.random.default_rng(0)
    h = rng.standard_normal((rows, hidden)).astype(dtype)
    W = rng.standard_normal((hidden, outputs)).astype(dtype)
    dY = rng.standard_normal((rows, outputs)).astype(dtype)
    calls = {"plain": lambda: functional.matmul(h, W),
             "trans_a": lambda: functional.matmul(h, dY, trans_a=True),
             "trans_b": lambda: functional.matmul(dY, W, trans_b=True)}
    times = {m: [] for m in MODES}
    for _ in range(rounds):
        for m in MODES:
            t0 = time.perf_counter()
            calls[m]()
            times[m].append(time.perf_counter() - t0)
    return {m: float(np.median(t)) for m, t in times.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2048, help="B * T (default 2048)")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--outputs", type=int, default=103)
    p.add_argument("--busy", type=int, default=1, help="busy processes (default 1)")
    p.add_argument("--rounds", type=int, default=60)
    args = p.parse_args(argv)
    flops = 2.0 * args.rows * args.hidden * args.outputs
    results = {}
    for dtype in (np.float32, np.float64):
        functional.matmul(np.ones((4, 4), dtype), np.ones((4, 4), dtype))  # warm up
        results[dtype, "quiet"] = measure(args.rows, args.hidden, args.outputs, dtype,
                                          args.rounds)
    with BusyProcesses(args.busy):
        for dtype in (np.float32, np.float64):
            results[dtype, "busy"] = measure(args.rows, args.hidden, args.outputs, dtype,
                                             args.rounds)
    print(f"{args.rows} x {args.hidden} by {args.hidden} x {args.outputs}; medians of "
          f"{args.rounds} alternating rounds")
    print(f"| dtype | product | quiet GFLOP/s | vs plain | beside {args.busy} busy "
          f"process{'es' * (args.busy != 1)} | vs plain |")
    print("| --- | --- | --- | --- | --- | --- |")
    for dtype in (np.float32, np.float64):
        q, b = results[dtype, "quiet"], results[dtype, "busy"]
        for m in MODES:
            print(f"| {np.dtype(dtype).name} | {LABELS[m]} | {flops / q[m] / 1e9:.0f} | "
                  f"{q['plain'] / q[m]:.0%} | {flops / b[m] / 1e9:.0f} | "
                  f"{b['plain'] / b[m]:.0%} |")


if __name__ == "__main__":
    main()
