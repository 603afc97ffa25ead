"""Random forward/backward problems against fastrnn.reference, invalid inputs,
and the thread races on ids and lengths, in every kernel build and on one and
two threads.

Meant to run under the sanitizer build (tools/sanitize.sh), where an
out-of-bounds access or undefined behaviour in the kernels stops the process
with a report; it runs on any build. Exits 1 on any mismatch, on a call that
raises what it should not, or on a race that a kernel lost; prints the seed so
that a failure can be replayed with --seed.

    python tools/fuzz_kernels.py [--seconds 30] [--problems N] [--seed S]
                                 [--race-seconds 0.3] [--no-races]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time

import numpy as np

import fastrnn
from fastrnn import functional, reference

# Normwise relative error allowed against the NumPy reference.
TOLERANCE = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
# Sizes at and around the kernels' blocking: 16-float / 8-double panels,
# blocks of 4 rows, 8 sequences (threads take whole sequences from there on),
# 256-row slabs of the weight-gradient products.
H_CHOICES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 47, 48, 49, 63, 64, 65, 70]
B_CHOICES = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 20]


# --- kernel configurations: build x threads, as tests/conftest.py does ---

def configs():
    """(name, settings of fastrnn.functional) for every build and 1 or 2 threads."""
    out = []
    for build, module in sorted(functional.KERNEL_MODULES.items()):
        out.append((f"{build}/1 thread", {"kernels": module, "n_threads": 1}))
        out.append((f"{build}/2 threads", {
            "kernels": module, "n_threads": 2, "SEQUENCE_WORK_PER_THREAD": 0,
            "STEP_WORK_PER_THREAD": 0, "PRODUCT_WORK_PER_THREAD": 0}))
    return out


@contextlib.contextmanager
def configured(settings):
    """The kernels run as settings say: n_threads through fastrnn.threads,
    the rest as attributes of fastrnn.functional."""
    settings = dict(settings)
    n_threads = settings.pop("n_threads")
    saved = {name: getattr(functional, name) for name in settings}  # AttributeError if gone
    try:
        for name, value in settings.items():
            setattr(functional, name, value)
        with fastrnn.threads(n_threads):
            yield
    finally:
        for name, value in saved.items():
            setattr(functional, name, value)


# --- random problems ---

def layout(rng, a):
    """An array equal to a: C-contiguous, Fortran-ordered, strided (every
    other element along an axis) or with a negative stride along an axis."""
    a = np.asarray(a)
    kind = rng.choice(["C", "C", "F", "step", "negative"]) if a.ndim else "C"
    if kind == "C":
        return np.ascontiguousarray(a)
    if kind == "F":
        return np.asfortranarray(a)
    axis = int(rng.integers(a.ndim))
    index = [slice(None)] * a.ndim
    if kind == "step":
        shape = list(a.shape)
        shape[axis] = 2 * shape[axis]
        big = np.zeros(shape, a.dtype)
        index[axis] = slice(None, None, 2)
        big[tuple(index)] = a
        return big[tuple(index)]
    index[axis] = slice(None, None, -1)
    return np.ascontiguousarray(a[tuple(index)])[tuple(index)]  # e.g. x[:, ::-1]


def random_problem(rng):
    """Keyword arguments of forward (plus dh) and a description."""
    dtype = np.dtype(rng.choice([np.float32, np.float64]))
    other = np.dtype(np.float64 if dtype == np.float32 else np.float32)
    B = int(rng.choice(B_CHOICES))
    T = int(rng.integers(1, 80)) if rng.random() < 0.25 else int(rng.integers(1, 20))
    H = int(rng.choice(H_CHOICES))
    ids = rng.random() < 0.3
    if ids:
        D = int(rng.integers(1, 60))  # the vocabulary
        x = rng.integers(0, D, size=(B, T)).astype(rng.choice([np.intp, np.int32, np.uint16]))
    else:
        D = 0 if rng.random() < 0.1 else int(rng.integers(1, 40))
        x = rng.normal(0, 1, (B, T, D)).astype(other if rng.random() < 0.2 else dtype)
    scale = rng.choice([0.5, 0.9, 1.2])
    W_xh = rng.normal(0, 1 / np.sqrt(max(D, 1)), (D, H)).astype(dtype)
    W_hh = rng.normal(0, scale / np.sqrt(H), (H, H)).astype(dtype)
    b = rng.normal(0, 0.2, H).astype(dtype)
    h0_kind = rng.choice(["none", "shared", "per sequence"])
    h0 = {"none": None, "shared": rng.normal(0, 0.5, H),
          "per sequence": rng.normal(0, 0.5, (B, H))}[h0_kind]
    if h0 is not None:
        h0 = h0.astype(other if rng.random() < 0.2 else dtype)
    lengths = None
    if rng.random() < 0.5:
        lengths = rng.integers(1, T + 1, B).astype(rng.choice([np.intp, np.int32, np.int8 if T < 128 else np.int16]))
    args = dict(x=x, W_xh=W_xh, W_hh=W_hh, b=b, h0=h0,
                activation=str(rng.choice(["tanh", "relu"])), lengths=lengths)
    args = {k: layout(rng, v) if isinstance(v, np.ndarray) else v for k, v in args.items()}
    dh = layout(rng, rng.normal(0, 1, (B, T, H)).astype(dtype))
    what = (f"{dtype} B={B} T={T} D={D} H={H} {'ids' if ids else 'dense'} "
            f"h0={h0_kind} lengths={'none' if lengths is None else 'random'} "
            f"{args['activation']}")
    return args, dh, what


def error(got, want, scale=None):
    """Normwise relative error (absolute below a norm of 1e-3).

    For a sum, the norm of its terms' magnitudes (scale) is the yardstick when
    it is larger: a sum whose terms cancel is only known to that precision,
    by the reference as by the kernels.
    """
    if got is None or want is None:
        return 0.0 if got is None and want is None else np.inf
    if got.shape != want.shape:
        return np.inf
    diff = np.linalg.norm((got.astype(np.float64) - want).ravel())
    denom = max(np.linalg.norm(want.astype(np.float64).ravel()), 1e-3)
    if scale is not None:
        denom = max(denom, float(np.linalg.norm(scale.ravel())))
    return float(diff / denom)


def summand_scales(args, h, dh):
    """Each output's sum over the magnitudes of its terms (None for h).

    dL/da comes from the reference in float64: its dx is dL/da @ W_xh^T, so
    with x of width H and W_xh = I it is dL/da itself.
    """
    x, W_xh, W_hh, h0 = args["x"], args["W_xh"], args["W_hh"], args["h0"]
    B, T = x.shape[:2]
    H = W_hh.shape[0]
    f8 = np.float64
    da = np.abs(reference.backward(
        np.zeros((B, T, H)), h.astype(f8), dh.astype(f8), np.eye(H), W_hh.astype(f8),
        None if h0 is None else h0.astype(f8), activation=args["activation"],
        lengths=args["lengths"]).dx)
    rows = da.reshape(B * T, H)
    h0_full = np.zeros((B, H)) if h0 is None else np.broadcast_to(np.abs(h0.astype(f8)), (B, H))
    h_prev = np.concatenate([h0_full[:, None], np.abs(h.astype(f8))[:, :-1]], axis=1)
    if x.ndim == 2:  # ids: each row of dL/da adds into its id's row
        dx = None
        dW_xh = np.zeros(W_xh.shape)
        np.add.at(dW_xh, np.asarray(x).reshape(-1).astype(np.intp), rows)
    else:
        dx = da @ np.abs(W_xh.astype(f8)).T
        dW_xh = np.abs(x.astype(f8)).reshape(B * T, x.shape[2]).T @ rows
    dh0 = None
    if h0 is not None:
        dh0 = da[:, 0] @ np.abs(W_hh.astype(f8)).T
        if h0.ndim == 1:
            dh0 = dh0.sum(axis=0)
    return (None, dx, dW_xh, h_prev.reshape(B * T, H).T @ rows, rows.sum(axis=0), dh0)


def results(args, dh, ref_h):
    """forward and backward of the current configuration."""
    h = fastrnn.forward(**args)
    grads = fastrnn.backward(args["x"], ref_h, dh, args["W_xh"], args["W_hh"], args["h0"],
                             activation=args["activation"], lengths=args["lengths"])
    return (h,) + tuple(grads)


NAMES = ("h", "dx", "dW_xh", "dW_hh", "db", "dh0")


# --- invalid inputs: each must be a ValueError or TypeError ---

def invalid_variants(rng, args, dh):
    """(description, forward kwargs or None, backward kwargs or None)."""
    x, W_xh = args["x"], args["W_xh"]
    B, T = x.shape[:2]
    D, H = W_xh.shape
    out = []

    def fwd(what, **changes):
        out.append((what, {**args, **changes}, "forward"))

    def bwd(what, **changes):
        kw = dict(x=x, h=np.zeros((B, T, H)), dh=dh, W_xh=W_xh, W_hh=args["W_hh"],
                  h0=args["h0"], activation=args["activation"], lengths=args["lengths"])
        out.append((what, {**kw, **changes}, "backward"))

    if x.dtype.kind in "iu":
        fwd("id = V", x=np.where(np.arange(T) == T - 1, D, x))
        fwd("id = -1", x=np.where(np.arange(T) == 0, -1, x.astype(np.int64)))
        bwd("id = V + 3", x=np.where(np.arange(T) == T - 1, D + 3, x))
        fwd("3-D integer x", x=x[..., None])
        fwd("W_xh with H + 1 columns", W_xh=np.zeros((D, H + 1)))
    else:
        bad = np.array(x, dtype=np.float64)
        if bad.size:
            bad.flat[int(rng.integers(bad.size))] = rng.choice([np.nan, np.inf, -np.inf])
            fwd("non-finite x", x=bad)
            bwd("non-finite x", x=bad)
        fwd("2-D float x", x=np.zeros((B, T)))
        fwd("W_xh with D + 1 rows", W_xh=np.zeros((D + 1, H)))
        fwd("complex x", x=np.zeros((B, T, D), complex))
    fwd("empty batch", x=x[:0])
    fwd("no steps", x=x[:, :0])
    fwd("lengths 0", lengths=np.full(B, 0))
    fwd("lengths T + 1", lengths=np.full(B, T + 1))
    bwd("lengths T + 1", lengths=np.full(B, T + 1))
    fwd("lengths (B + 1,)", lengths=np.ones(B + 1, int))
    fwd("float lengths", lengths=np.ones(B))
    fwd("h0 (B + 1, H)", h0=np.zeros((B + 1, H)))
    fwd("h0 (H + 1,)", h0=np.zeros(H + 1))
    fwd("integer W_hh", W_hh=np.zeros((H, H), int))
    fwd("W_hh (H, H + 1)", W_hh=np.zeros((H, H + 1)))
    fwd("b (H + 1,)", b=np.zeros(H + 1))
    fwd("NaN in W_hh", W_hh=np.full((H, H), np.nan))
    fwd("activation sigmoid", activation="sigmoid")
    bwd("dh (B, T + 1, H)", dh=np.zeros((B, T + 1, H)))
    bwd("h (B, T, H + 1)", h=np.zeros((B, T, H + 1)))
    bwd("inf in dh", dh=np.full((B, T, H), np.inf))
    return out


def check_invalid(rng, args, dh):
    """The number of invalid calls made; raises AssertionError on a wrong outcome."""
    variants = invalid_variants(rng, args, dh)
    for what, kw, function in variants:
        try:
            getattr(fastrnn, function)(**kw)
        except (ValueError, TypeError):
            continue
        except Exception as exc:
            raise AssertionError(f"{function} with {what}: {exc!r}, not a ValueError/TypeError")
        raise AssertionError(f"{function} with {what}: no error")
    return len(variants)


# --- races: another thread changes an id or a length during the call ---

def _flipping(arr, index, legal, illegal, stop):
    k = 0
    while not stop.is_set():
        arr[index] = legal
        time.sleep(0.0007)
        arr[index] = illegal[k % len(illegal)]
        time.sleep(0.0003)
        k += 1
    arr[index] = legal


def race(call, arr, index, legal, illegal, expected, seconds):
    """(completed, refused, wrong, other errors) of calls made for `seconds`
    while another thread flips arr[index] between legal and illegal values."""
    stop = threading.Event()
    flipper = threading.Thread(target=_flipping, args=(arr, index, legal, illegal, stop))
    completed = refused = wrong = 0
    others = []
    flipper.start()
    try:
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds or (
                not (completed and refused) and elapsed < 4 * seconds):
            try:
                got = call()
            except ValueError:
                refused += 1
                continue
            except Exception as exc:
                others.append(repr(exc))
                continue
            completed += 1
            got = tuple(got) if isinstance(got, tuple) else (got,)
            if not all((g is None and e is None) or np.array_equal(g, e)
                       for g, e in zip(got, expected)):
                wrong += 1
    finally:
        stop.set()
        flipper.join()
    return completed, refused, wrong, others


def races(seconds, rng):
    """The races of tests/test_races.py; yields (name, counts). The illegal
    ids are just past W_xh's rows and just before them, where the sanitizer
    sees an access at once, and a few rows past."""
    V, H, B, T = 50, 32, 16, 2000
    W_xh = rng.normal(0, 0.3, (V, H))
    W_hh = rng.normal(0, 0.3 / np.sqrt(H), (H, H))
    b = rng.normal(0, 0.1, H)
    x = rng.integers(0, V, size=(B, T)).astype(np.intp)
    x[-1, -1] = 0
    dh = rng.normal(0, 1, (B, T, H))
    lengths = rng.integers(1, T + 1, B).astype(np.intp)
    lengths[-1] = T // 2
    h = fastrnn.forward(x, W_xh, W_hh, b)
    hl = fastrnn.forward(x, W_xh, W_hh, b, lengths=lengths)
    cases = [
        ("lengths/forward", lambda: fastrnn.forward(x, W_xh, W_hh, b, lengths=lengths),
         lengths, -1, T // 2, [0, T + 5], (hl,)),
        ("lengths/backward", lambda: fastrnn.backward(x, hl, dh, W_xh, W_hh, lengths=lengths),
         lengths, -1, T // 2, [0, T + 5],
         tuple(fastrnn.backward(x, hl, dh, W_xh, W_hh, lengths=lengths))),
        ("ids/forward", lambda: fastrnn.forward(x, W_xh, W_hh, b),
         x, (-1, -1), 0, [V, -1, V + 3], (h,)),
        ("ids/backward", lambda: fastrnn.backward(x, h, dh, W_xh, W_hh),
         x, (-1, -1), 0, [V, -1, V + 3], tuple(fastrnn.backward(x, h, dh, W_xh, W_hh))),
    ]
    for name, call, arr, index, legal, illegal, expected in cases:
        yield name, race(call, arr, index, legal, illegal, expected, seconds)


# --- main ---

def sanitizer_loaded() -> str:
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return "unknown"
    found = [name for name in ("libasan", "libubsan") if name in maps]
    return " + ".join(found) if found else "no"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="time for the random problems (default 30)")
    parser.add_argument("--problems", type=int, default=None,
                        help="stop after this many random problems")
    parser.add_argument("--seed", type=int, default=None, help="default: from the clock")
    parser.add_argument("--race-seconds", type=float, default=0.3,
                        help="time for each race in each configuration (default 0.3)")
    parser.add_argument("--no-races", action="store_true", help="skip the races")
    opts = parser.parse_args(argv)
    seed = opts.seed if opts.seed is not None else int(time.time() * 1000) % 2**32
    print(f"fuzz_kernels: seed {seed} (replay with --seed {seed})")
    print(f"fastrnn from {os.path.dirname(fastrnn.__file__)}; sanitizer runtime loaded: "
          f"{sanitizer_loaded()}; builds: {', '.join(sorted(functional.KERNEL_MODULES))}")
    sys.stdout.flush()
    rng = np.random.default_rng(seed)
    all_configs = configs()
    runs = {name: 0 for name, _ in all_configs}
    worst = {}  # (config, dtype, output) -> max error
    failures = []
    n_invalid = 0
    n_problems = 0
    deadline = time.perf_counter() + opts.seconds
    while time.perf_counter() < deadline and (opts.problems is None or n_problems < opts.problems):
        args, dh, what = random_problem(rng)
        n_problems += 1
        ref_h = reference.forward(**args)
        ref_g = reference.backward(args["x"], ref_h, dh, args["W_xh"], args["W_hh"], args["h0"],
                                   activation=args["activation"], lengths=args["lengths"])
        want = (ref_h,) + tuple(ref_g)
        scales = summand_scales(args, ref_h, dh)
        dtype = args["W_hh"].dtype
        by_build = {}
        for name, settings in all_configs:
            with configured(settings):
                try:
                    got = results(args, dh, ref_h)
                except Exception as exc:
                    failures.append(f"{name}: {what}: {exc!r}")
                    continue
            runs[name] += 1
            for out, g, w, s in zip(NAMES, got, want, scales):
                err = error(g, w, s)
                key = (name, str(dtype), out)
                worst[key] = max(worst.get(key, 0.0), err)
                if not err <= TOLERANCE[dtype]:
                    failures.append(f"{name}: {what}: {out} error {err:.3g}")
            build = name.split("/")[0]
            if build in by_build:  # threads never change a result
                for out, g, first in zip(NAMES, got, by_build[build]):
                    if not ((g is None and first is None) or np.array_equal(g, first)):
                        failures.append(f"{name}: {what}: {out} differs from 1 thread")
            else:
                by_build[build] = got
        name, settings = all_configs[n_problems % len(all_configs)]
        with configured(settings):
            try:
                n_invalid += check_invalid(rng, args, dh)
            except AssertionError as exc:
                failures.append(f"{name}: {what}: {exc}")
        if len(failures) > 20:
            break

    print(f"random problems: {n_problems} ({opts.seconds:g} s budget), each in every configuration")
    for name, _ in all_configs:
        errs = "  ".join(
            f"{dt}: " + " ".join(f"{out} {worst.get((name, dt, out), 0.0):.1e}"
                                 for out in NAMES)
            for dt in ("float32", "float64"))
        print(f"  {name:18s} {runs[name]:5d} runs  max error  {errs}")
    print(f"invalid inputs: {n_invalid} calls, each a ValueError or TypeError")
    sys.stdout.flush()

    if not opts.no_races:
        print(f"races ({opts.race_seconds:g} s each; completed calls must equal the legal result):")
        for name, settings in all_configs:
            with configured(settings):
                for case, (completed, refused, wrong, others) in races(opts.race_seconds, rng):
                    status = "ok" if not wrong and not others else "FAILED"
                    print(f"  {name:18s} {case:17s} completed {completed:4d}  refused {refused:4d}"
                          f"  wrong {wrong:4d}  other errors {len(others)}  {status}")
                    sys.stdout.flush()
                    if status != "ok":
                        detail = f"; {others[0]}" if others else ""
                        failures.append(f"{name}: race {case}: {wrong} wrong of "
                                        f"{completed} completed{detail}")
    for failure in failures[:20]:
        print("FAILED", failure)
    print(f"fuzz_kernels: {'FAILED' if failures else 'clean'} (seed {seed})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
