"""Try fastrnn.load and `fastrnn sample` on hostile model files.

    python tools/hostile_models.py [--quick] [--markdown]

Builds each file in a temporary directory (zip bombs are written in chunks and
take a few MB on disk), then for each runs, in a fresh subprocess,
``fastrnn.load(path)`` and ``python -m fastrnn sample path``, and reports the
exception (or the command's one error line), the child's peak resident memory
(VmHWM, or ru_maxrss where there is no /proc; it includes the interpreter,
NumPy and fastrnn: see the "import only" line) and the wall time. --quick
leaves out the 3 GiB bomb.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

TIMEOUT = 120
GiB = 1 << 30

LOAD = """
import resource, sys, time
import fastrnn
t = time.perf_counter()
try:
    fastrnn.load(sys.argv[1])
    result = "loaded"
except Exception as exc:
    result = f"{type(exc).__name__}: {exc}"
dt = time.perf_counter() - t
print(json.dumps({"result": result, "seconds": dt}))
"""


# The child's own peak RSS in MB: VmHWM (per process image, reset by exec);
# ru_maxrss would carry over the peak of the parent that forked it.
PEAK = """
def _peak():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def _npy(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=True)
    return buf.getvalue()


def _npy_header(shape, descr="<f4"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _zeros_member(zf, name, nbytes):
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    chunk = bytes(16 << 20)
    with zf.open(info, "w", force_zip64=True) as f:
        left = nbytes
        while left > 0:
            f.write(chunk[:min(left, len(chunk))])
            left -= len(chunk)


def _write(path, members, extra=None):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name + ".npy", data)
        if extra is not None:
            extra(zf)


def _base(d):
    """A small character model (as `fastrnn train` writes), member bytes by name."""
    from fastrnn import RNNClassifier

    text = "the quick brown fox jumps over the lazy dog. " * 20
    vocab = np.array(sorted(set(text)))
    ids = np.searchsorted(vocab, list(text)).reshape(20, -1)
    model = RNNClassifier(n_hidden=32, n_symbols=len(vocab), max_epochs=1, random_state=0)
    model.fit(ids[:, :-1], vocab[ids[:, 1:]])
    path = d / "good.npz"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        return path, {n[:-4]: zf.read(n) for n in zf.namelist()}


def build(d, quick):
    """(description, path) of each file tried."""
    good, base = _base(d)
    W = np.load(io.BytesIO(base["W_hh_"]))
    attrs = json.loads(str(np.load(io.BytesIO(base["attributes"]))))
    hyper = json.loads(str(np.load(io.BytesIO(base["hyperparameters"]))))
    files = [("a model written by save (control)", good)]
    from fastrnn import RNNRegressor

    X = np.zeros((2, 2, 1), np.float32)
    large = d / "large.npz"
    RNNRegressor(n_hidden=2048, max_epochs=1, random_state=0).fit(X, X).save(large)
    files.append(("a large model: n_hidden 2048, Adam (48 MiB of arrays; control)", large))

    def add(name, fname, members=None, extra=None, drop=()):
        m = {k: v for k, v in base.items() if k not in drop}
        m.update(members or {})
        path = d / fname
        _write(path, m, extra)
        files.append((name, path))

    add("extra member: 1 GiB of zeros (deflated)", "extra1g.npz",
        extra=lambda zf: _zeros_member(zf, "junk.npy", GiB))
    if not quick:
        add("extra member: 3 GiB of zeros (deflated)", "extra3g.npz",
            extra=lambda zf: _zeros_member(zf, "junk.npy", 3 * GiB))
    add("W_hh_ as 1 GiB of zeros (deflated)", "whh1g.npz", drop=("W_hh_",),
        extra=lambda zf: _zeros_member(zf, "W_hh_.npy", GiB))
    add("W_hh_ header: 10^6 x 10^6 float64", "huge_header.npz",
        {"W_hh_": _npy_header((10**6, 10**6), "<f8")})
    big = {"hyperparameters": _npy(np.array(json.dumps({**hyper, "n_hidden": 40_000}))),
           "attributes": _npy(np.array(json.dumps({**attrs, "optimizer": None})))}
    D = np.load(io.BytesIO(base["W_xh_"])).shape[0]
    for key, shape in (("W_xh_", (D, 40_000)),
                       ("W_hh_", (40_000, 40_000)), ("b_", (40_000,)),
                       ("W_hy_", (40_000, np.load(io.BytesIO(base["W_hy_"])).shape[1]))):
        big[key] = _npy_header(shape)
    add("n_hidden 40,000 and 40,000 x 40,000 headers, no data", "no_data.npz", big,
        drop=tuple(k for k in base if k.startswith("optimizer.")))
    add("attributes: JSON nested 10^5 deep", "deep_json.npz",
        {"attributes": _npy(np.array("[" * 100_000 + "]" * 100_000))})
    add("W_hh_ member is not .npy data", "not_npy.npz", {"W_hh_": b"plain bytes " * 10})
    add("classes_ as a pickled object array", "pickled.npz",
        {"classes_": _npy(np.array(list(np.load(io.BytesIO(base["classes_"]))),
                                   dtype=object))})
    add("W_hy_ of the wrong shape", "wrong_shape.npz",
        {"W_hy_": _npy(np.zeros((32, 3), np.float32))})
    add("W_hh_ float64 in a float32 model", "wrong_dtype.npz",
        {"W_hh_": _npy(W.astype(np.float64))})
    add("Adam moment of the wrong shape", "opt_shape.npz",
        {"optimizer.m.W_hh_": _npy(np.zeros((31, 32), np.float32))})
    add("NaN in W_hh_", "nan.npz", {"W_hh_": _npy(np.full_like(W, np.nan))})
    add("NaN in an Adam moment", "nan_opt.npz",
        {"optimizer.v.W_hh_": _npy(np.full_like(W, np.nan))})
    add("W_hh_ data cut short", "short.npz", {"W_hh_": base["W_hh_"][:-40]})
    data = good.read_bytes()
    for frac in (2, 3):
        p = d / f"truncated{frac}.npz"
        p.write_bytes(data[:len(data) * (frac - 1) // frac])
        files.append((f"truncated zip ({frac - 1}/{frac} of the file)", p))
    p = d / "text.npz"
    p.write_text("not a model\n")
    files.append(("a text file", p))
    fifo = d / "fifo.npz"
    os.mkfifo(fifo)
    files.append(("a FIFO (nobody writes to it)", fifo))
    (d / "adir.npz").mkdir()
    files.append(("a directory", d / "adir.npz"))
    os.symlink(d / "loop2.npz", d / "loop1.npz")
    os.symlink(d / "loop1.npz", d / "loop2.npz")
    files.append(("a symbolic-link loop", d / "loop1.npz"))
    files.append(("/dev/zero", Path("/dev/zero")))
    return files


def _run(args):
    """(stdout, stderr, seconds) of a child process (which prints its own peak RSS)."""
    t = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err = f"(killed after {TIMEOUT} s)".encode() + err
    dt = time.perf_counter() - t
    return out.decode(errors="replace"), err.decode(errors="replace"), dt


def _maxrss_wrap(code, *argv):
    """Run python code in a child that prints its own ru_maxrss (MB) last."""
    code = PEAK + "import json\n" + code + "\nprint('MAXRSS', _peak())\n"
    return [sys.executable, "-c", code, *map(str, argv)]


def _sample_cmd(path):
    """`fastrnn sample path` (cli.main, as the console script runs it), then its
    own peak RSS on stderr."""
    code = (PEAK + "import os, sys\n"
            "from fastrnn.cli import main\n"
            "status = main(['sample', sys.argv[1], '--length', '20'])\n"
            "print('MAXRSS', _peak(), file=sys.stderr)\n"
            "sys.stdout.flush(); sys.stderr.flush(); os._exit(status)\n")
    return [sys.executable, "-c", code, str(path)]


def _split_rss(text):
    lines, rss = [], None
    for line in text.splitlines():
        if line.startswith("MAXRSS "):
            rss = float(line.split()[1])
        elif line.strip():
            lines.append(line)
    return lines, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="leave out the 3 GiB bomb")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        files = build(d, args.quick)
        print(f"built {len(files)} files in {time.perf_counter() - t:.1f} s; "
              f"python {sys.version.split()[0]}, numpy {np.__version__}\n")
        out, err, dt = _run(_maxrss_wrap("import fastrnn"))
        base_rss = _split_rss(out)[1]
        print(f"import only (python + numpy + fastrnn): peak RSS {base_rss:.0f} MB\n")
        print("| file | size on disk | fastrnn.load | peak RSS | time | fastrnn sample "
              "(stderr) | peak RSS | time |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, path in files:
            size = path.stat().st_size if path.is_file() else 0
            out, err, _ = _run(_maxrss_wrap(LOAD, path))
            lines, rss = _split_rss(out)
            try:
                rec = json.loads(lines[0])
                result, secs = rec["result"], f"{rec['seconds']:.3f} s"
            except (IndexError, ValueError):
                result, secs = "child failed: " + " ".join(err.split())[-200:], "-"
            result = result.replace(str(d), "$TMP").replace("|", "\\|")
            s_out, s_err, s_dt = _run(_sample_cmd(path))
            s_lines, s_rss = _split_rss(s_err)
            line = (" / ".join(s_lines) or "(no error) " + s_out.strip()[:40])
            line = line.replace(str(d), "$TMP").replace("|", "\\|")
            fmt = (lambda v: "-" if v is None else f"{v:.0f} MB")
            print(f"| {name} | {size:,} B | {result} | {fmt(rss)} | {secs} | {line} | "
                  f"{fmt(s_rss)} | {s_dt:.2f} s |", flush=True)


if __name__ == "__main__":
    main()
