"""Speed comparison: fastrnn against its NumPy reference and PyTorch.

Runs a grid of (batch, steps, features, hidden) sizes for the forward pass and
for a training step (forward + BPTT given dL/dh), in float32 and float64,
times each backend in the same process, and reports medians, GFLOP/s, the
machine's large-GEMM rate measured in the same run, and every ratio.

    python -m fastrnn.bench [--quick] [--json FILE] [--plot FILE.png] [--busy N] [--step]

Ratios are what to quote: absolute times drift on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from . import _threads, functional, reference

# (B, T, D, H): overhead-bound sizes first, GEMM-bound ones last.
GRID = [
    (1, 100, 8, 32),
    (16, 100, 32, 64),
    (32, 64, 65, 128),
    (64, 100, 128, 256),
    (32, 50, 256, 512),
    (16, 50, 512, 1024),
]
QUICK_GRID = GRID[:3]
BACKENDS = ("fastrnn", "reference", "torch")


@dataclass
class Result:
    shape: tuple[int, int, int, int]
    dtype: str
    mode: str  # "forward" or "train"
    backend: str
    seconds: float  # median of the timed repeats
    gflops: float


def flops(shape, mode: str) -> float:
    """Multiply-adds x 2 of the matrix products: 2*B*T*H*(D+H) forward, 3x that to train."""
    B, T, D, H = shape
    return (2.0 if mode == "forward" else 6.0) * B * T * H * (D + H)


def _timed_repeats(fn: Callable[[], object], min_time: float, max_repeat: int) -> list[float]:
    """Wall times of fn() over repeats adding up to about min_time seconds."""
    start = time.perf_counter()
    fn()
    times = [time.perf_counter() - start]
    repeat = int(min(max_repeat, max(5, min_time / max(times[0], 1e-9))))
    for _ in range(repeat - 1):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_time(fn: Callable[[], object], min_time: float = 0.2, max_repeat: int = 200) -> float:
    """Median wall time of fn() over repeats adding up to about min_time seconds."""
    fn()  # warm up (allocations, threads, torch's first-call set-up)
    return float(np.median(_timed_repeats(fn, min_time, max_repeat)))


# Seconds to wait before each timed block of median_times: longer than a
# BLAS thread pool keeps spinning after its last call (OpenBLAS's idle threads
# busy-wait for about 0.1 s; measured here, the next library's calls ran 2.3x
# slower for 0.05 s after a NumPy call and at full speed 0.1 s after it).
SETTLE_SECONDS = 0.15


def median_times(fns: dict[str, Callable[[], object]], min_time: float = 0.2,
                 rounds: int = 3, max_repeat: int = 200,
                 settle: float | None = None) -> dict[str, float]:
    """Median wall time of each of fns, timed in turn in `rounds` rounds of
    min_time / rounds seconds each, so that a slow spell of a shared machine
    falls on all of them rather than on one. Each round times one function
    for a while, not one call at a time, and starts after a pause of
    `settle` seconds (default SETTLE_SECONDS) and one untimed call: the
    thread pools of NumPy's BLAS, of PyTorch and of fastrnn keep spinning for
    a moment after a call, and would otherwise slow the next library's first
    calls."""
    settle = SETTLE_SECONDS if settle is None else settle
    for fn in fns.values():
        fn()  # warm up (allocations, threads, torch's first-call set-up)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            if settle > 0:
                time.sleep(settle)
            fn()
            times[name] += _timed_repeats(fn, min_time / rounds, max(1, max_repeat // rounds))
    return {name: float(np.median(t)) for name, t in times.items()}


def gemm_rate(dtype: str, n: int = 2048) -> float:
    """The machine's large square matrix-product rate in GFLOP/s (NumPy's BLAS)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    return 2.0 * n**3 / median_time(lambda: np.matmul(a, b, out=out), min_time=1.0) / 1e9


def make_problem(shape, dtype: str, seed: int = 0):
    """Inputs, weights (scaled so tanh neither saturates nor vanishes) and dL/dh."""
    B, T, D, H = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    W_xh = (rng.standard_normal((D, H)) / np.sqrt(max(D, 1))).astype(dtype)
    W_hh = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype)
    b = (0.1 * rng.standard_normal(H)).astype(dtype)
    dh = rng.standard_normal((B, T, H)).astype(dtype)
    return x, W_xh, W_hh, b, dh


def _numpy_like(module, x, W_xh, W_hh, b, dh):
    def forward():
        return module.forward(x, W_xh, W_hh, b)

    def train():
        h = module.forward(x, W_xh, W_hh, b)
        return module.backward(x, h, dh, W_xh, W_hh)

    return forward, train


def _torch_like(x, W_xh, W_hh, b, dh):
    import torch

    D, H = W_xh.shape
    rnn = torch.nn.RNN(D, H, batch_first=True)
    if x.dtype == np.float64:
        rnn = rnn.double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(W_xh.T.copy()))
        rnn.weight_hh_l0.copy_(torch.from_numpy(W_hh.T.copy()))
        rnn.bias_ih_l0.copy_(torch.from_numpy(b))
        rnn.bias_hh_l0.zero_()
    xt = torch.from_numpy(x)
    xg = xt.clone().requires_grad_(True)
    dht = torch.from_numpy(dh)

    def forward():
        with torch.no_grad():
            return rnn(xt)[0]

    def train():
        rnn.zero_grad(set_to_none=True)
        xg.grad = None
        out, _ = rnn(xg)
        out.backward(dht)
        return out

    return forward, train


def available_backends(requested=BACKENDS) -> list[str]:
    out = []
    for name in requested:
        if name == "torch":
            try:
                import torch
            except ImportError:
                continue
            torch.set_num_threads(os.cpu_count() or 1)
        out.append(name)
    return out


def run(grid=GRID, dtypes=("float32", "float64"), backends=BACKENDS,
        min_time: float = 0.2, progress: Callable[[str], None] | None = None,
        settle: float | None = None) -> list[Result]:
    """Time every (shape, dtype, mode, backend); backends not installed are skipped."""
    results = []
    names = available_backends(backends)
    for dtype in dtypes:
        for shape in grid:
            problem = make_problem(shape, dtype)
            by_backend = {}
            for name in names:
                if name == "fastrnn":
                    by_backend[name] = _numpy_like(functional, *problem)
                elif name == "reference":
                    by_backend[name] = _numpy_like(reference, *problem)
                else:
                    by_backend[name] = _torch_like(*problem)
            for i, mode in enumerate(("forward", "train")):
                fns = {name: pair[i] for name, pair in by_backend.items()}
                for name, seconds in median_times(fns, min_time=min_time, settle=settle).items():
                    results.append(Result(tuple(shape), dtype, mode, name, seconds,
                                          flops(shape, mode) / seconds / 1e9))
                    if progress:
                        progress(f"{dtype} {shape} {mode:7s} {name:9s} {seconds * 1e3:9.3f} ms")
    return results


def ratios(results: list[Result]) -> list[dict]:
    """One row per (dtype, shape, mode): times and the speed-ups of fastrnn."""
    by_key: dict = {}
    for r in results:
        by_key.setdefault((r.dtype, r.shape, r.mode), {})[r.backend] = r
    rows = []
    for (dtype, shape, mode), rs in by_key.items():
        fast = rs.get("fastrnn")
        row = {"dtype": dtype, "shape": shape, "mode": mode}
        for name, r in rs.items():
            row[f"{name}_ms"] = r.seconds * 1e3
        if fast is not None:
            row["fastrnn_gflops"] = fast.gflops
            for other in ("reference", "torch"):
                if other in rs:
                    row[f"vs_{other}"] = rs[other].seconds / fast.seconds
        rows.append(row)
    return rows


def format_table(rows: list[dict], gemm: dict[str, float]) -> str:
    lines = []
    for dtype in dict.fromkeys(r["dtype"] for r in rows):
        rate = gemm.get(dtype)
        lines.append(f"{dtype}: large-GEMM rate {rate:.1f} GFLOP/s" if rate else dtype)
        lines.append(f"{'B, T, D, H':>18} {'mode':7} {'fastrnn ms':>10} {'ref ms':>9} "
                     f"{'torch ms':>9} {'GFLOP/s':>8} {'%GEMM':>6} {'x ref':>6} {'x torch':>7}")
        for r in rows:
            if r["dtype"] != dtype:
                continue
            pct = 100 * r["fastrnn_gflops"] / rate if rate else float("nan")

            def fmt(key, spec):
                return format(r[key], spec) if key in r else "-"

            lines.append(
                f"{', '.join(map(str, r['shape'])):>18} {r['mode']:7} {fmt('fastrnn_ms', '10.3f')} "
                f"{fmt('reference_ms', '9.3f'):>9} {fmt('torch_ms', '9.3f'):>9} "
                f"{fmt('fastrnn_gflops', '8.1f')} {pct:6.0f} {fmt('vs_reference', '6.1f'):>6} "
                f"{fmt('vs_torch', '7.1f'):>7}"
            )
        lines.append("")
    return "\n".join(lines)


# The file types matplotlib 3 writes (FigureCanvasBase.get_supported_filetypes),
# for checking --plot up front when matplotlib is not installed.
PLOT_FORMATS = ("eps", "jpeg", "jpg", "pdf", "pgf", "png", "ps", "raw", "rgba", "svg",
                "svgz", "tif", "tiff", "webp")


def plot_formats() -> tuple[str, ...]:
    """The file extensions plot can write: matplotlib's, or PLOT_FORMATS
    without it."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return PLOT_FORMATS
    return tuple(sorted(FigureCanvasBase.get_supported_filetypes()))


def plot(rows: list[dict], path) -> None:
    """Bar chart of fastrnn's speed-ups (x reference, x torch) by shape, one
    panel per (dtype, mode), written to path (PNG, or any format matplotlib
    infers from the extension). Needs matplotlib; ImportError without it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI

    panels = list(dict.fromkeys((r["dtype"], r["mode"]) for r in rows))
    others = [o for o in ("reference", "torch") if any(f"vs_{o}" in r for r in rows)]
    fig = Figure(figsize=(5.5 * min(len(panels), 2), 3.6 * -(-len(panels) // 2)),
                 layout="constrained")
    FigureCanvasAgg(fig)
    ncols = min(len(panels), 2)
    nrows = -(-len(panels) // 2)
    width = 0.8 / max(len(others), 1)
    for i, (dtype, mode) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        sel = [r for r in rows if r["dtype"] == dtype and r["mode"] == mode]
        xs = np.arange(len(sel))
        for j, other in enumerate(others):
            vals = [r.get(f"vs_{other}", np.nan) for r in sel]
            ax.bar(xs + (j - (len(others) - 1) / 2) * width, vals, width,
                   label=f"vs {other}")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(xs, [",".join(map(str, r["shape"])) for r in sel], rotation=30,
                      fontsize=8)
        ax.set_title(f"{dtype}, {mode}", fontsize=10)
        ax.set_ylabel("fastrnn speed-up (x)")
        ax.set_xlabel("B, T, D, H")
        if others:
            ax.legend(fontsize=8)
    fig.suptitle("fastrnn bench: time of the other backend / time of fastrnn", fontsize=10)
    fig.savefig(path, dpi=100)


def machine_info() -> dict:
    info = {"python": sys.version.split()[0], "numpy": np.__version__,
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "kernels": functional.kernels.__name__,
            "max_threads": functional.get_num_threads(),
            "openmp_waits": _threads.OPENMP_WAITS,
            "threads_follow_load": _threads.ADAPT_TO_LOAD,
            "date": time.strftime("%Y-%m-%d")}
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


# --- a busy machine ---------------------------------------------------------

BUSY_LOOP = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


class BusyProcesses:
    """``with BusyProcesses(n):`` runs n busy-loop processes (each a Python
    loop that never sleeps, as a browser tab or a build would take a core),
    each ending by itself after `limit` seconds, and ended by process id when
    the block exits."""

    def __init__(self, n: int, limit: float = 900.0):
        self.n = n
        self.limit = limit
        self.procs: list = []

    def __enter__(self):
        import subprocess

        code = BUSY_LOOP.format(seconds=float(self.limit))
        for _ in range(self.n):
            self.procs.append(subprocess.Popen([sys.executable, "-c", code],
                                               stdin=subprocess.DEVNULL))
        time.sleep(0.2)  # let them reach their loops
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait()
        self.procs.clear()
        return False


def format_busy_table(quiet: list[Result], busy: list[Result], n_busy: int) -> str:
    """Each backend's training step with n_busy busy processes, as a multiple
    of its own quiet time, and fastrnn's speed-up under the same load."""
    q = {(r.dtype, r.shape, r.backend): r.seconds for r in quiet}
    b = {(r.dtype, r.shape, r.backend): r.seconds for r in busy}
    names = list(dict.fromkeys(r.backend for r in busy))
    lines = [f"training step with {n_busy} busy processes: time / quiet time "
             "(2 = a fair share of 2 cores against 2 busy processes), and fastrnn's "
             "speed-up under that load"]
    head = f"{'dtype':8} {'B, T, D, H':>18} " + " ".join(f"{n + ' x':>12}" for n in names)
    head += "".join(f" {'busy x ' + o:>14}" for o in names if o != "fastrnn")
    lines.append(head)
    for dtype, shape in dict.fromkeys((r.dtype, r.shape) for r in busy):
        row = f"{dtype:8} {', '.join(map(str, shape)):>18} "
        row += " ".join(f"{b[dtype, shape, n] / q[dtype, shape, n]:12.2f}" for n in names)
        for o in names:
            if o != "fastrnn":
                row += f" {b[dtype, shape, o] / b[dtype, shape, 'fastrnn']:14.1f}"
        lines.append(row)
    return "\n".join(lines) + "\n"


# --- the latency of one step ---------------------------------------------------

STEP_SHAPE = (256, 103)  # hidden units, symbols: the character model of `fastrnn train`


def step_latency(min_time: float = 0.5, backends=("fastrnn", "torch")) -> dict[str, float]:
    """Seconds per call to advance a character model (STEP_SHAPE) by one
    symbol and get its class probabilities: fastrnn's
    RNNClassifier.step(ids, state, return_proba=True), against PyTorch's
    RNNCell + Linear + softmax."""
    from ._sklearn import exception_class
    from .estimator import RNNClassifier

    H, V = STEP_SHAPE
    rng = np.random.default_rng(0)
    ids = rng.integers(0, V, size=(8, 40))
    model = RNNClassifier(n_hidden=H, max_epochs=1, random_state=0, n_symbols=V)
    with warnings.catch_warnings():  # one epoch on purpose: no ConvergenceWarning
        warnings.simplefilter("ignore", exception_class("ConvergenceWarning"))
        model.fit(ids, np.roll(ids, -1, axis=1) % V)
    fns = {}
    if "fastrnn" in backends:
        state = [model.start_state(1)]
        symbols = ids[0]

        def fastrnn_step(i=[0]):
            i[0] = (i[0] + 1) % len(symbols)
            p, state[0] = model.step(symbols[i[0]:i[0] + 1][None], state[0], return_proba=True)
            return p

        fns["fastrnn"] = fastrnn_step
    if "torch" in backends:
        try:
            import torch
        except ImportError:
            pass
        else:
            cell = torch.nn.RNNCell(V, H)
            linear = torch.nn.Linear(H, V)
            onehot = torch.eye(V)[:, None, :]  # (V, 1, V): one row per symbol
            h = [torch.zeros(1, H)]
            symbols = ids[0]

            def torch_step(i=[0]):
                i[0] = (i[0] + 1) % len(symbols)
                with torch.no_grad():
                    h[0] = cell(onehot[symbols[i[0]]], h[0])
                    return torch.softmax(linear(h[0]), dim=1)

            fns["torch"] = torch_step
    return median_times(fns, min_time=min_time, rounds=3, max_repeat=100000)


def format_step_table(times: dict[str, float]) -> str:
    H, V = STEP_SHAPE
    line = (f"one step with probabilities (H = {H}, {V} symbols): "
            + ", ".join(f"{name} {t * 1e6:.1f} us" for name, t in times.items()))
    if "fastrnn" in times and "torch" in times:
        line += f"; fastrnn {times['torch'] / times['fastrnn']:.1f}x faster than torch"
    return line + "\n"


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return n


def add_arguments(parser: argparse.ArgumentParser, seconds=float, seconds_or_zero=float) -> None:
    """The options of the harness (shared by this module's main and `fastrnn bench`);
    seconds and seconds_or_zero parse the time options (> 0 and >= 0)."""
    parser.add_argument("--quick", action="store_true", help="the three smallest sizes, float32 only")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="also plot the speed-ups (needs matplotlib)")
    parser.add_argument("--min-time", type=seconds, default=0.2, metavar="S",
                        help="seconds of repeats per measurement (default 0.2)")
    parser.add_argument("--settle", type=seconds_or_zero, default=SETTLE_SECONDS, metavar="S",
                        help="pause before each timed block, so the previous library's "
                             f"threads stop spinning (default {SETTLE_SECONDS})")
    parser.add_argument("--busy", type=_count, default=0, metavar="N",
                        help="also time the training steps with N busy-loop processes "
                             "running (started and ended here) and print each backend's "
                             "slowdown against its own quiet time")
    parser.add_argument("--step", action="store_true",
                        help="also time one step of a character model with probabilities "
                             "(RNNClassifier.step against PyTorch's RNNCell + Linear + softmax)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each measurement")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fastrnn bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def run_from_args(args: argparse.Namespace) -> int:
    """Run the grid, print the table, write the JSON and the plot that args ask for."""
    grid = QUICK_GRID if args.quick else GRID
    dtypes = ("float32",) if args.quick else ("float32", "float64")
    info = machine_info()
    print("fastrnn bench: " + ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    gemm = {dt: gemm_rate(dt) for dt in dtypes}
    progress = (lambda s: print(s, flush=True)) if args.verbose else None
    results = run(grid, dtypes, min_time=args.min_time, progress=progress, settle=args.settle)
    rows = ratios(results)
    print(format_table(rows, gemm))
    out = {"machine": info, "gemm_gflops": gemm, "rows": rows,
           "results": [asdict(r) for r in results]}
    if args.busy:
        quiet = [r for r in results if r.mode == "train"]
        with BusyProcesses(args.busy):
            busy = [r for r in run(grid, dtypes, min_time=args.min_time, progress=progress,
                                   settle=args.settle) if r.mode == "train"]
        print(format_busy_table(quiet, busy, args.busy))
        out["busy"] = {"processes": args.busy, "results": [asdict(r) for r in busy]}
    if args.step:
        times = step_latency(min_time=max(args.min_time, 0.3))
        print(format_step_table(times))
        out["step_seconds"] = times
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    if args.plot:
        try:
            plot(rows, args.plot)
        except ImportError:
            print(f"matplotlib is not installed: no plot written to {args.plot} "
                  "(pip install matplotlib)", file=sys.stderr)
        else:
            print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
