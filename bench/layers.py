"""Training step of stacked and bidirectional networks: fastrnn against
PyTorch's nn.RNN and the NumPy reference composition.

A training step is the forward pass of the whole network and BPTT given
dL/d(output) (float32), with every gradient (weights, biases, the input):

- "2 layers": ``nn.RNN(D, H, num_layers=2)``; fastrnn.functional.stacked_*
  with two unidirectional layers;
- "bidirectional": ``nn.RNN(D, H, bidirectional=True)``; one layer in both
  directions. fastrnn runs the two directions side by side on two Python
  threads, each with half the threads; the column "sequential" runs them one
  after the other on both threads (fastrnn._layers.CONCURRENT_DIRECTIONS
  off), and "x seq" is its time / fastrnn's.

Every backend is timed in the same run, in turns (fastrnn.bench.median_times),
the whole measurement repeated --repeat times; the table shows the medians.

    python bench/layers.py [--repeat 5] [--min-time 1.0] [--threads 2] [--json FILE]
                           [--network NAME ...] [--shape B,T,D,H ...]

On 2 x86-64 cores with AVX-512, otherwise idle (2026-12-03; torch 2.13.0+cpu;
the AVX-512 build; ``--repeat 3 --min-time 0.6``)::

    network               B, T, D, H fastrnn ms  seq. ms   ref ms torch ms  x seq  x ref x torch
    2 layers         32, 64, 65, 128       3.12        -    11.80    10.60      -   3.81    3.40
    2 layers       64, 100, 128, 256      28.37        -    71.22    47.00      -   2.53    1.66
    bidirectional    32, 64, 65, 128       3.48     3.73    10.50    10.33   1.07   3.00    2.97
    bidirectional  64, 100, 128, 256      26.09    28.68    63.15    43.57   1.08   2.43    1.66

At the larger size one pass of the kernels runs at 300-350 GFLOP/s, about
NumPy's own GEMM rate for a product of that size, so a stack of such
layers cannot be much faster than this. The two directions' bare passes
side by side took 22.3-22.5 ms in the same process: the bidirectional
layer's reversals, splits and joins of arrays and the checks of x and dy
add about 3 ms (5 ms before each direction did its own copies in its own
thread, beside the other direction's pass). On a busy machine the ratios
to PyTorch are larger (it slows down more).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import fastrnn
from fastrnn import _layers, functional, reference
from fastrnn.bench import machine_info, median_times

SHAPES = [(32, 64, 65, 128), (64, 100, 128, 256)]  # (B, T, D, H)
NETWORKS = {"2 layers": (2, False), "bidirectional": (1, True)}


def make_network(shape, n_layers, bidirectional, seed=0):
    """x, layers [l][d] = (W_xh, W_hh, b) and dL/d(output), float32."""
    B, T, D, H = shape
    rng = np.random.default_rng(seed)
    n_dir = 2 if bidirectional else 1
    layers, d_in = [], D
    for _ in range(n_layers):
        layers.append([(rng.standard_normal((d_in, H), np.float32) / np.float32(np.sqrt(d_in)),
                        rng.standard_normal((H, H), np.float32) / np.float32(np.sqrt(H)),
                        np.float32(0.1) * rng.standard_normal(H, np.float32))
                       for _ in range(n_dir)])
        d_in = H * n_dir
    x = rng.standard_normal((B, T, D), np.float32)
    dy = rng.standard_normal((B, T, H * n_dir), np.float32)
    return x, layers, dy


def numpy_step(module, x, layers, dy, bidirectional, concurrent=None):
    def step():
        if concurrent is not None:
            _layers.CONCURRENT_DIRECTIONS = concurrent
        out = module.stacked_forward(x, layers, bidirectional=bidirectional)
        return module.stacked_backward(out.cache, dy)
    return step


def torch_step(x, layers, dy, bidirectional):
    import torch

    B, T, D = x.shape
    H = layers[0][0][1].shape[0]
    rnn = torch.nn.RNN(D, H, num_layers=len(layers), batch_first=True,
                       bidirectional=bidirectional)
    with torch.no_grad():
        for l, layer in enumerate(layers):
            for d, (W_xh, W_hh, b) in enumerate(layer):
                sfx = f"l{l}" + ("_reverse" if d else "")
                getattr(rnn, f"weight_ih_{sfx}").copy_(torch.from_numpy(W_xh.T.copy()))
                getattr(rnn, f"weight_hh_{sfx}").copy_(torch.from_numpy(W_hh.T.copy()))
                getattr(rnn, f"bias_ih_{sfx}").copy_(torch.from_numpy(b))
                getattr(rnn, f"bias_hh_{sfx}").zero_()
    xg = torch.from_numpy(x).requires_grad_(True)
    dyt = torch.from_numpy(dy)

    def step():
        rnn.zero_grad(set_to_none=True)
        xg.grad = None
        out, _ = rnn(xg)
        out.backward(dyt)
        return out
    return step


def backends(shape, n_layers, bidirectional, with_torch):
    x, layers, dy = make_network(shape, n_layers, bidirectional)
    fns = {"fastrnn": numpy_step(functional, x, layers, dy, bidirectional, concurrent=True)}
    if bidirectional:
        fns["sequential"] = numpy_step(functional, x, layers, dy, bidirectional,
                                       concurrent=False)
    fns["reference"] = numpy_step(reference, x, layers, dy, bidirectional)
    if with_torch:
        fns["torch"] = torch_step(x, layers, dy, bidirectional)
    return fns


def run(repeat: int, min_time: float, with_torch: bool, networks=tuple(NETWORKS),
        shapes=tuple(SHAPES)) -> list[dict]:
    rows = []
    for name in networks:
        n_layers, bidirectional = NETWORKS[name]
        for shape in shapes:
            fns = backends(shape, n_layers, bidirectional, with_torch)
            runs = [median_times(fns, min_time=min_time) for _ in range(repeat)]
            row = {"network": name, "shape": shape}
            for backend in fns:
                times = [r[backend] for r in runs]
                row[f"{backend}_ms"] = 1e3 * float(np.median(times))
                # ratios per run, then their median: a slow spell of the shared
                # machine falls on every backend of one run
                row[f"x_{backend}"] = float(np.median(
                    [r[backend] / r["fastrnn"] for r in runs]))
            rows.append(row)
            print(format_row(row), flush=True)
    _layers.CONCURRENT_DIRECTIONS = True
    return rows


HEADER = (f"{'network':14} {'B, T, D, H':>17} {'fastrnn ms':>10} {'seq. ms':>8} "
          f"{'ref ms':>8} {'torch ms':>8} {'x seq':>6} {'x ref':>6} {'x torch':>7}")


def format_row(r: dict) -> str:
    def fmt(key, spec, width):
        return format(r[key], spec) if key in r else "-".rjust(width)

    return (f"{r['network']:14} {', '.join(map(str, r['shape'])):>17} "
            f"{fmt('fastrnn_ms', '10.2f', 10)} {fmt('sequential_ms', '8.2f', 8)} "
            f"{fmt('reference_ms', '8.2f', 8)} {fmt('torch_ms', '8.2f', 8)} "
            f"{fmt('x_sequential', '6.2f', 6)} {fmt('x_reference', '6.2f', 6)} "
            f"{fmt('x_torch', '7.2f', 7)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=1.0,
                        help="seconds of timed calls per backend in each repeat")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads of fastrnn and of PyTorch")
    parser.add_argument("--json", help="also write the rows and the machine to this file")
    parser.add_argument("--network", nargs="+", choices=list(NETWORKS), default=list(NETWORKS))
    parser.add_argument("--shape", nargs="+", default=[",".join(map(str, s)) for s in SHAPES],
                        help="B,T,D,H")
    args = parser.parse_args(argv)
    shapes = [tuple(int(v) for v in s.split(",")) for s in args.shape]
    try:
        import torch
    except ImportError:
        with_torch = False
    else:
        with_torch = True
        torch.set_num_threads(args.threads)
    print(f"training step (forward + BPTT), float32, {args.threads} threads, medians of "
          f"{args.repeat} runs; x ref, x torch: their time / fastrnn's")
    print(HEADER)
    with fastrnn.threads(args.threads):
        rows = run(args.repeat, args.min_time, with_torch, args.network, shapes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine_info(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
