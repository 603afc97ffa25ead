"""The readout's three products at a character model's shapes, quiet and
beside busy processes.

An estimator's training step multiplies the hidden states h (B*T, H) by the
readout W_hy (H, V) (plain), forms dW_hy = h^T dY (trans_a) and dh = dY
W_hy^T (trans_b). This times the three modes of ``fastrnn.functional.matmul``
and the classifier's whole readout in one call (``functional.readout_xent``:
the three products, the bias and the softmax cross-entropy with its
gradient; counted as the three products' FLOPs) in alternating rounds (so
that a slow spell falls on all of them), quiet and then beside ``--busy``
busy-loop processes, and prints a Markdown table of medians: GFLOP/s and
the share of the plain mode's rate.

    python bench/readout_products.py                  # 2048 x 256 by 256 x 103
    python bench/readout_products.py --rows 2048 --hidden 128 --outputs 65 --busy 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fastrnn import functional
from fastrnn.bench import BusyProcesses

MODES = ("plain", "trans_a", "trans_b", "readout_xent")
LABELS = {"plain": "`h @ W_hy` (plain)", "trans_a": "`h.T @ dY` (trans_a)",
          "trans_b": "`dY @ W_hy.T` (trans_b)",
          "readout_xent": "all three + softmax (`readout_xent`)"}
#: each mode's multiply-adds, in products of the shapes
PRODUCTS = {"plain": 1, "trans_a": 1, "trans_b": 1, "readout_xent": 3}


def measure(rows, hidden, outputs, dtype, rounds):
    """Median seconds of each mode over `rounds` alternating rounds."""
    rng = np.random.default_rng(0)
    h = rng.standard_normal((rows, hidden)).astype(dtype)
    W = rng.standard_normal((hidden, outputs)).astype(dtype)
    dY = rng.standard_normal((rows, outputs)).astype(dtype)
    # logits of a trained model's spread (h @ W with W standard normal would
    # put them hundreds apart: most probabilities, and their gradients times
    # 1 / rows, would be subnormal floats, slow in every product)
    W_y = (W / np.sqrt(hidden)).astype(dtype)
    b = np.zeros(outputs, dtype)
    y = rng.integers(0, outputs, rows)
    calls = {"plain": lambda: functional.matmul(h, W),
             "trans_a": lambda: functional.matmul(h, dY, trans_a=True),
             "trans_b": lambda: functional.matmul(dY, W, trans_b=True),
             "readout_xent": lambda: functional.readout_xent(h, W_y, b, y, 1.0 / rows)}
    modes = [m for m in MODES if m != "readout_xent" or hasattr(functional, m)]
    times = {m: [] for m in modes}
    for _ in range(rounds):
        for m in modes:
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
            if m not in q:  # a build without readout_xent
                continue
            f = flops * PRODUCTS[m]
            print(f"| {np.dtype(dtype).name} | {LABELS[m]} | {f / q[m] / 1e9:.0f} | "
                  f"{q['plain'] * PRODUCTS[m] / q[m]:.0%} | {f / b[m] / 1e9:.0f} | "
                  f"{b['plain'] * PRODUCTS[m] / b[m]:.0%} |")


if __name__ == "__main__":
    main()
