"""dW_hh on growing ReLU networks: the kernels' relative error against BPTT in
extended precision on the same inputs, next to NumPy's reference and to the
sum of one-sequence calls.

    python tools/dw_hh_accuracy.py [--threads N] [--seeds S]

The problem: B = 9 sequences of T = 16 integer ids (V = 13), H = 31 ReLU
units, W_xh and W_hh = 3 N(0, 1) / sqrt(fan-in), b = 0.1 N(0, 1), dL/dh
N(0, 1). Activations and their gradients grow along each sequence, so the
largest products of dW_hh pair the last steps of a sequence: an error in
which rows are paired, or a difference of large sums, shows at once.
"""

from __future__ import annotations

import argparse

import numpy as np

import fastrnn
from fastrnn import functional, reference


def exact_dW_hh(h, dh, W_hh):
    """dW_hh by BPTT in long double (ReLU, h0 = 0) on the given inputs."""
    L = np.longdouble
    B, T, H = h.shape
    h, dh, W = h.astype(L), dh.astype(L), W_hh.astype(L)
    g = (h > 0).astype(L)
    da = np.zeros_like(h)
    carry = np.zeros((B, H), L)
    for t in range(T - 1, -1, -1):
        da[:, t] = (dh[:, t] + carry) * g[:, t]
        carry = da[:, t] @ W.T
    h_prev = np.concatenate([np.zeros((B, 1, H), L), h[:, :-1]], axis=1)
    return np.einsum("bti,btj->ij", h_prev, da)


def problem(seed, dtype):
    rng = np.random.default_rng(seed)
    B, T, V, H = 9, 16, 13, 31
    x = rng.integers(0, V, size=(B, T))
    W_xh = (3 * rng.standard_normal((V, H)) / np.sqrt(V)).astype(dtype)
    W_hh = (3 * rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype)
    b = (0.1 * rng.standard_normal(H)).astype(dtype)
    h = reference.forward(x, W_xh, W_hh, b, activation="relu")
    dh = rng.standard_normal((B, T, H)).astype(dtype)
    return x, W_xh, W_hh, h, dh


def rel(a, exact):
    diff = (a.astype(np.longdouble) - exact).astype(np.float64)
    return float(np.linalg.norm(diff) / np.linalg.norm(exact.astype(np.float64)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args(argv)
    if args.threads > 1:  # every product on every thread, whatever its size
        functional.SEQUENCE_WORK_PER_THREAD = functional.STEP_WORK_PER_THREAD = 0
    print(f"{'build':9}{'dtype':8}{'fastrnn':>22}{'reference':>22}{'per-sequence sum':>22}"
          f"{'worst fastrnn/reference':>25}")
    functional.NARROW_COLUMNS = 0  # each build at every size
    with fastrnn.threads(args.threads):
        for build, module in sorted(functional.KERNEL_MODULES.items()):
            functional.kernels = module
            for dtype in (np.float32, np.float64):
                rows = []
                for seed in range(args.seeds):
                    x, W_xh, W_hh, h, dh = problem(seed, dtype)
                    exact = exact_dW_hh(h, dh, W_hh)
                    got = fastrnn.backward(x, h, dh, W_xh, W_hh, activation="relu").dW_hh
                    ref = reference.backward(x, h, dh, W_xh, W_hh, activation="relu").dW_hh
                    per = sum(fastrnn.backward(x[i:i + 1], h[i:i + 1], dh[i:i + 1], W_xh, W_hh,
                                               activation="relu").dW_hh for i in range(len(x)))
                    rows.append((rel(got, exact), rel(ref, exact), rel(per, exact)))
                a = np.array(rows)

                def span(c):
                    return f"{a[:, c].min():.1e} .. {a[:, c].max():.1e}"

                print(f"{build:9}{np.dtype(dtype).name:8}{span(0):>22}{span(1):>22}{span(2):>22}"
                      f"{np.max(a[:, 0] / a[:, 1]):>25.2f}")


if __name__ == "__main__":
    main()
