"""Same-run A/B of two builds of fastrnn: the training step (forward + BPTT)
of the bench grid, timed in alternating processes.

    python bench/ab_compare.py A_DIR B_DIR [--rounds 3] [--min-time 0.4] [--quick]
                               [--env-a NAME=VALUE ...] [--env-b NAME=VALUE ...]

A_DIR and B_DIR are directories from which ``import fastrnn`` takes each
build (for a built source tree, its ``src``; for another commit, a copy of its
``src/fastrnn`` with the extension modules built in place). Each round runs A
then B in fresh processes, so that a slow spell of a shared machine falls on
both; the medians over the rounds and B's speed relative to A are printed.
Environment variables (FASTRNN_NUM_THREADS, GOMP_SPINCOUNT, ...) apply to
both; --env-a and --env-b set one side's only, so that one tree can be
compared with itself under another setting, for example its AVX2 build
against its AVX-512 build:

    python bench/ab_compare.py src src --env-a FASTRNN_KERNELS=avx2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, sys
import fastrnn
from fastrnn import bench
grid = bench.QUICK_GRID if sys.argv[2] == "quick" else bench.GRID
out = {"file": fastrnn.__file__}
for dtype in ("float32",) if sys.argv[2] == "quick" else ("float32", "float64"):
    for shape in grid:
        x, W_xh, W_hh, b, dh = bench.make_problem(shape, dtype)
        def train():
            h = fastrnn.forward(x, W_xh, W_hh, b)
            return fastrnn.backward(x, h, dh, W_xh, W_hh)
        key = dtype + " " + ", ".join(map(str, shape))
        out[key] = bench.median_time(train, min_time=float(sys.argv[1]))
print(json.dumps(out))
"""


def run(directory, min_time, quick, extra_env=()):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(directory))
    env.update(extra_env)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(min_time),
                           "quick" if quick else "full"],
                          capture_output=True, text=True, env=env, cwd="/")
    if proc.returncode != 0:
        raise SystemExit(f"{directory}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def _assignment(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.4)
    parser.add_argument("--quick", action="store_true", help="the three smallest rows, float32")
    for side in ("a", "b"):
        parser.add_argument(f"--env-{side}", action="append", default=[], metavar="NAME=VALUE",
                            type=_assignment, help=f"an environment variable for {side.upper()} only")
    args = parser.parse_args(argv)
    results = {"a": [], "b": []}
    for _ in range(args.rounds):
        for side in ("a", "b"):
            results[side].append(run(getattr(args, side), args.min_time, args.quick,
                                     getattr(args, f"env_{side}")))
    for side in ("a", "b"):
        settings = " ".join(f"{k}={v}" for k, v in getattr(args, f"env_{side}"))
        print(f"{side.upper()}: {results[side][0]['file']} {settings}".rstrip())
    print(f"{'training step':28} {'A ms':>9} {'B ms':>9} {'B speed / A':>12}")
    for key in results["a"][0]:
        if key == "file":
            continue
        a = statistics.median(r[key] for r in results["a"])
        b = statistics.median(r[key] for r in results["b"])
        print(f"{key:28} {a * 1e3:9.3f} {b * 1e3:9.3f} {a / b:12.3f}")


if __name__ == "__main__":
    main()
