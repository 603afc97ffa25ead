"""Plant known bugs in fastrnn one at a time and count how many the tests catch.

    python tools/mutate.py [--list] [--only NAME ...] [--jobs 1] [--timeout S]

Each mutation replaces one exact snippet of a source file (kernels, functional
layer, estimators, optimizers, model files) by a wrong one. The script copies
the repository (without .git and build/) into a temporary directory, builds
the extension there once, and then for each mutation: checks that its snippet
occurs exactly once in the pristine file (it stops with an error when the
source has moved), applies it, rebuilds the extension when a .pyx/.pxi file
changed, and runs the tests with PYTHONPATH at the copy's src:

1. first the test files most likely to catch it (`-x`, in the listed order);
2. only if they all pass, the rest of the suite (`-x`).

A mutation is *caught* when a test fails (or the run crashes or times out):
the verdict is the whole suite's, since step 1 runs a part of it. The copy's
file is restored (and the pristine extension put back) after each mutation,
whatever happens; the repository itself is never written. The table at the
end gives each mutation, caught or SURVIVED, and the first failing test.
The exit status is 1 when a mutation survived.

Not part of CI: it takes about 15-30 minutes (a kernel mutation rebuilds the
extension, about half a minute); run it before a release, and when a mutation
survives, add the test that catches it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = "src/fastrnn/"


@dataclasses.dataclass(frozen=True)
class Mutation:
    name: str
    file: str           # relative to the repository root
    old: str            # exact snippet, must occur once
    new: str
    description: str
    first: tuple = ()   # test files to run first


# The kernel source by concern (see _kernels.pxi).
P = PKG + "_primitives.pxi"
PR = PKG + "_products.pxi"
PA = PKG + "_passes.pxi"
E = PKG + "_entry_points.pxi"
RB = PKG + "_register_blocks.pxi.tp"
KERNEL_TESTS = ("tests/test_functional.py", "tests/test_kernel_edges.py",
                "tests/test_accuracy.py")

MUTATIONS = [
    # --- kernels -----------------------------------------------------------
    Mutation("relu-derivative", P,
             "g[j] = g[j] if hrow[j] > 0 else 0",
             "g[j] = g[j]",
             "BPTT drops the ReLU derivative", KERNEL_TESTS),
    Mutation("tanh-derivative", P,
             "g[j] = g[j] * (1 - hrow[j] * hrow[j])",
             "g[j] = g[j] * (1 - 0.5 * hrow[j] * hrow[j])",
             "BPTT uses 1 - h^2 / 2 as tanh's derivative", KERNEL_TESTS),
    Mutation("tanh-coefficient", P,
             "p = p * r + 1.0f / 120.0f;",
             "p = p * r + 1.0f / 100.0f;",
             "float32 tanh polynomial: 1/100 instead of 1/5!",
             ("tests/test_tanh.py",) + KERNEL_TESTS),
    Mutation("dW_hh-predecessor", PR,
             "    if t > 0:\n        return A + (i - 1) * lda + col",
             "    if t > 0 or i > 0:\n        return A + (i - 1) * lda + col",
             "dW_hh pairs step 0 with the previous sequence's last state, not h0",
             KERNEL_TESTS),
    Mutation("last-row-block", PR,
             "cdef Py_ssize_t n_blocks = (M + ROW_BLOCK - 1) // ROW_BLOCK",
             "cdef Py_ssize_t n_blocks = M // ROW_BLOCK",
             "products skip the last, partial block of rows", KERNEL_TESTS),
    Mutation("lengths-mask-forward", PA,
             "if lengths != NULL and t >= lengths[s]:\n            _fill(h_t",
             "if lengths != NULL and t > lengths[s]:\n            _fill(h_t",
             "forward runs one step past each sequence's length", KERNEL_TESTS),
    Mutation("lengths-mask-backward", PA,
             "if lengths != NULL and t >= lengths[s]:\n            _fill(da_t",
             "if lengths != NULL and t > lengths[s]:\n            _fill(da_t",
             "BPTT takes the gradient of the first padded step", KERNEL_TESTS),
    Mutation("ids-row-lookup", PA,
             "_add(h + i * H, W_xh + ids[i] * H, H)",
             "_add(h + i * H, W_xh + ids[i - (i > 0)] * H, H)",
             "integer ids: each row looks up the previous row's id",
             ("tests/test_ids.py",) + KERNEL_TESTS),
    Mutation("ids-gradient", PA,
             "_add(dW_xh + ids[i] * H, da + i * H, H)",
             "_add(dW_xh + ids[i // T * T] * H, da + i * H, H)",
             "integer ids: dW_xh adds every step into the sequence's first id",
             ("tests/test_ids.py",) + KERNEL_TESTS),
    Mutation("db-last-row", PR,
             "    for k in range(kk):\n        for j in range(width):\n            db[q + j]",
             "    for k in range(kk - 1):\n        for j in range(width):\n            db[q + j]",
             "db leaves out the last row of each block of dA", KERNEL_TESTS),
    Mutation("thread-split-groups", PA,
             'for g in prange((B + rows - 1) // rows, num_threads=n_threads,\n'
             '                        schedule="dynamic"):\n'
             '            fastrnn_note_team()\n'
             '            s0 = g * rows\n            _backward_steps',
             'for g in prange(B // rows, num_threads=n_threads,\n'
             '                        schedule="dynamic"):\n'
             '            fastrnn_note_team()\n'
             '            s0 = g * rows\n            _backward_steps',
             "threads taking whole sequences (B >= 8) skip the last, partial group in BPTT",
             ("tests/test_threads.py",) + KERNEL_TESTS),
    Mutation("grads-panel-share", PR,
             "cdef Py_ssize_t p0 = min(tid * group, n_panels), p1 = min(p0 + group, n_panels)",
             "cdef Py_ssize_t p0 = min(tid * group, n_panels), p1 = min(p0 + group - 1, n_panels)",
             "threads sharing the weight gradients each skip the last panel of their share",
             ("tests/test_threads.py",) + KERNEL_TESTS),
    Mutation("tn-tile-share", PR,
             "                   (tid + 1) * n_panels // team, work + tid * share)",
             "                   (tid + 1) * n_panels // team - (tid == 0), work + tid * share)",
             "matmul(trans_a) on threads: the first thread skips its last panel",
             ("tests/test_functional.py",)),
    Mutation("adam-moment-constant", PKG + "_kernels_train.pxi",
             "            t = gi * c1;",
             "            t = gi * c2;",
             "the one-pass Adam update weighs the first moment's gradient by 1 - beta2",
             ("tests/test_optim.py",)),
    Mutation("finite-scan-block-start", PKG + "_entry_points.pxi",
             "            for (j = 0; j < m; j++)                                            \\\\\n"
             "                bad |= !(ABS(x[i + j]) <= MAX);",
             "            for (j = 1; j < m; j++)                                            \\\\\n"
             "                bad |= !(ABS(x[i + j]) <= MAX);",
             "the finiteness scan skips the first value of each block",
             ("tests/test_validation.py",)),
    Mutation("adam-backup-skipped", PKG + "_kernels_train.pxi",
             "        if (backup != NULL)",
             "        if (0)",
             "the one-pass Adam update keeps no copy for the trainer's undo",
             ("tests/test_optim.py", "tests/test_training.py")),
    Mutation("adam-finite-check", PKG + "_kernels_train.pxi",
             "            bad += !(t - t == 0);",
             "            bad += 0;",
             "the one-pass Adam update never reports a parameter that is not finite",
             ("tests/test_optim.py", "tests/test_training.py")),
    # --- functional layer --------------------------------------------------
    Mutation("shared-h0-gradient-mean", PKG + "functional.py",
             "dh0 = dh0.sum(axis=0)",
             "dh0 = dh0.mean(axis=0)",
             "a shared h0's gradient is the batch mean, not the sum",
             ("tests/test_initial_states.py",) + KERNEL_TESTS),
    Mutation("shared-h0-broadcast", PKG + "_validation.py",
             "h0 = np.ascontiguousarray(np.broadcast_to(h0, (B, H)))",
             "h0 = np.concatenate([h0[None], np.zeros((B - 1, H), h0.dtype)])",
             "a shared h0 starts only the first sequence (the others from zeros)",
             ("tests/test_initial_states.py",) + KERNEL_TESTS),
    Mutation("stack-reversal-full-length", PKG + "_layers.py",
             "source = np.where(t <= last, last - t, t)",
             "source = np.broadcast_to(T - 1 - t, (B, T))",
             "the backward direction of a padded sequence starts in its padding",
             ("tests/test_layers.py",)),
    Mutation("stack-final-state-gradient-step", PKG + "_layers.py",
             "dh[np.arange(d_out.shape[0]), s.last_steps()] += dh_n[l][d]",
             "dh[np.arange(d_out.shape[0]), -1] += dh_n[l][d]",
             "dL/dh_n enters at the last step of the batch, not of each sequence",
             ("tests/test_layers.py",)),
    Mutation("index-private-copy", PKG + "_validation.py",
             'return np.array(arr, dtype=np.intp, order="C", copy=True)',
             'return np.asarray(arr, dtype=np.intp, order="C")',
             "ids/lengths: the caller's intp array itself reaches the kernels, not a copy",
             ("tests/test_validation.py", "tests/test_gil.py", "tests/test_ids.py")),
    Mutation("tanh-coefficient-24", P,
             "        p = p * r + 1.0f / 24.0f;",
             "        p = p * r + 1.0f / 25.0f;",
             "float32 tanh polynomial: 1/25 instead of 1/24 (an error of about 4e-6)",
             KERNEL_TESTS),
    Mutation("small-step-last-state", E,
             "cur = bufs[1 - (k - 1 - t) % 2]",
             "cur = bufs[(k - 1 - t) % 2]",
             "small calls: the state after the last step lands in the work buffer",
             ("tests/test_small_calls.py",)),
    Mutation("small-step-readout-bias", E,
             "_copy(y + (s * k + t) * N, b_y, N)",
             "_fill(y + (s * k + t) * N, N, <floating>0)",
             "small calls: the readout leaves out b_y",
             ("tests/test_small_calls.py",)),
    Mutation("register-block-fourth-row", RB,
             "r3 = min(3, rows - 1) * ra\n    cdef const {{T}}* w = wp",
             "r3 = min(2, rows - 1) * ra\n    cdef const {{T}}* w = wp",
             "the products' register block (both precisions) computes its "
             "fourth row from the third row of A", KERNEL_TESTS),
    Mutation("threads-context-ignored", PKG + "_threads.py",
             "    n = _LIMIT.get()\n    if n is not None:\n        return n\n",
             "    n = None\n",
             "fastrnn.threads(n) (and n_threads) has no effect on the kernels",
             ("tests/test_threads.py",)),
    # --- optimizers --------------------------------------------------------
    Mutation("adam-bias-correction", PKG + "optim.py",
             "self.learning_rate / (1.0 - b1**t), 1.0 / math.sqrt(1.0 - b2**t)",
             "self.learning_rate, 1.0 / math.sqrt(1.0 - b2**t)",
             "Adam without the first moment's bias correction",
             ("tests/test_optim.py", "tests/test_estimator.py")),
    Mutation("adam-second-bias-correction", PKG + "optim.py",
             "self.learning_rate / (1.0 - b1**t), 1.0 / math.sqrt(1.0 - b2**t)",
             "self.learning_rate / (1.0 - b1**t), 1.0",
             "Adam without the second moment's bias correction",
             ("tests/test_optim.py", "tests/test_estimator.py")),
    Mutation("sgd-nesterov", PKG + "optim.py",
             "p -= lr * (g + mu * v)",
             "p -= lr * (g + v)",
             "Nesterov momentum without the momentum factor",
             ("tests/test_optim.py", "tests/test_estimator.py")),
    # --- estimators --------------------------------------------------------
    Mutation("clip-never", PKG + "_training.py",
             "scale = _optim.clip_scale(norm, self.cfg.clip_norm)",
             "scale = 1.0",
             "gradients are never clipped",
             ("tests/test_estimator.py", "tests/test_optim.py")),
    Mutation("no-dx-skips-dW_xh", PKG + "_products.pxi",
             "    cdef bint dense = x != NULL and D > 0\n",
             "    cdef bint dense = x != NULL and D > 0 and dx != NULL\n",
             "BPTT without dX also leaves out the gradient of W_xh",
             ("tests/test_functional.py", "tests/test_estimator.py")),
    Mutation("workspace-one-states-array", PKG + "_layers.py",
             'out = _kept(ws, ("states", l, d), ',
             'out = _kept(ws, ("states", l, 0), ',
             "the kept arrays give both directions of a layer one array for their states",
             ("tests/test_stacked_estimators.py", "tests/test_training.py")),
    Mutation("bidirectional-whole-dx-unreversed", PKG + "_layers.py",
             "dx = g.dx[:, ::-1] if d == 1 and cache.reversal.whole else g.dx",
             "dx = g.dx",
             "the backward direction's input gradient is added in its own order of steps "
             "when no sequence is shorter than T",
             ("tests/test_layers.py",)),
    Mutation("workspace-one-dx-array", PKG + "_layers.py",
             'dx_out = _kept(ws, ("dx", l % 2, d, D), ',
             'dx_out = _kept(ws, ("dx", 0, d, D), ',
             "the kept arrays give every layer one array for dx, which the layer below "
             "overwrites while it reads it",
             ("tests/test_stacked_estimators.py",)),
    Mutation("kept-buffer-unchecked", PKG + "functional.py",
             "    if a.shape != shape or a.dtype != dtype or not a.flags.c_contiguous \\\n",
             "    if a.dtype != dtype or not a.flags.c_contiguous \\\n",
             "a kept buffer of another shape goes to the kernels",
             ("tests/test_functional.py",)),
    Mutation("kept-zeros-dirty", PKG + "_training.py",
             "            if zeros is not None:\n                zeros[rows] = 0\n",
             "            if zeros is not None:\n                pass\n",
             "the trainer's kept buffer for dh keeps the last window's rows",
             ("tests/test_training.py", "tests/test_estimator.py")),
    Mutation("l2-gradient", PKG + "_training.py",
             'for w in ("W_xh", "W_hh"):\n                    grads[w + _stack.suffix(l, d)] += alpha',
             'for w in ("W_xh",):\n                    grads[w + _stack.suffix(l, d)] += alpha',
             "the L2 penalty's gradient leaves out W_hh",
             ("tests/test_estimator.py",)),
    Mutation("h0-gradient-one-sequence", PKG + "_data.py",
             "    g = dh0.sum(axis=0)\n    g[~free] = 0",
             "    g = dh0[0].copy()\n    g[~free] = 0",
             "h0_'s gradient (masked initial states) from the first sequence only",
             ("tests/test_initial_states.py", "tests/test_estimator.py")),
    Mutation("classifier-target-mask", PKG + "_data.py",
             "slots = m if m.ndim == 2 else m.any(axis=2)",
             "slots = np.ones_like(m) if m.ndim == 2 else m.any(axis=2)",
             "the classifier ignores target_mask",
             ("tests/test_initial_states.py", "tests/test_estimator.py")),
    Mutation("early-stopping-restore", PKG + "_training.py",
             "    if best_params is not None:\n        for k, v in best_params.items():",
             "    if best_params is not None and False:\n        for k, v in best_params.items():",
             "early stopping keeps the last weights, not the best",
             ("tests/test_estimator.py",)),
    Mutation("early-stopping-patience", PKG + "_training.py",
             "stop = no_improvement > cfg.n_iter_no_change",
             "stop = no_improvement >= cfg.n_iter_no_change",
             "training stops one epoch early (n_iter_no_change epochs, not more)",
             ("tests/test_estimator.py",)),
    Mutation("tbptt-carry", PKG + "_training.py",
             "                carry[w.alive] = last",
             "                pass",
             "truncated BPTT: sequences still running do not carry their state on",
             ("tests/test_estimator.py",)),
    Mutation("sample-weight-count", PKG + "_training.py",
             "        return row_w, float(row_w.sum())",
             "        return row_w, float(row_w.size)",
             "sample weights scale the losses but not their count in the mean",
             ("tests/test_sample_weight.py",)),
    Mutation("sample-weight-window-rows", PKG + "_training.py",
             "vmask=sub_rows(batch.vmask), weight=sub_rows(batch.weight))",
             "vmask=sub_rows(batch.vmask), weight=batch.weight)",
             "truncated BPTT: once some sequences have ended, the weights of the "
             "others are taken from the wrong rows", ("tests/test_sample_weight.py",)),
    Mutation("convergence-warning-lost", PKG + "_training.py",
             "            _warn_unconverged(owner, cfg, early)",
             "            pass",
             "fit stops at max_epochs without a ConvergenceWarning",
             ("tests/test_estimator.py", "tests/test_estimator_sklearn.py")),
    # --- save / load -------------------------------------------------------
    Mutation("load-resets-clip-norm", PKG + "_persist.py",
             "    est = cls(**hyper)\n",
             "    est = cls(**{**hyper, \"clip_norm\": 5.0})\n",
             "load puts clip_norm back to its default",
             ("tests/test_persistence.py", "tests/test_estimator.py")),
    Mutation("load-resets-optimizer", PKG + "_persist.py",
             "    est = cls(**hyper)\n",
             "    est = cls(**{**hyper, \"optimizer\": \"adam\"})\n",
             "load puts optimizer back to its default (and keeps the saved state)",
             ("tests/test_persistence.py", "tests/test_estimator.py")),
    Mutation("save-drops-hyperparameter", PKG + "_persist.py",
             "hyper = {k: _jsonable(k, v) for k, v in est.get_params().items()}",
             "hyper = {k: _jsonable(k, v) for k, v in est.get_params().items()\n"
             "                 if k != \"n_iter_no_change\"}",
             "save leaves out n_iter_no_change",
             ("tests/test_persistence.py", "tests/test_estimator.py")),
    Mutation("optimizer-step-count", PKG + "_persist.py",
             '{"name": opt_info["name"], "n_steps": opt_info["n_steps"],',
             '{"name": opt_info["name"], "n_steps": 0,',
             "load restarts the optimizer's step count (Adam's bias correction)",
             ("tests/test_persistence.py",)),
    Mutation("optimizer-slots", PKG + "_persist.py",
             "        state[key][slot] = arrays[member]",
             "        state[key][slot] = arrays[member] * 0",
             "load zeroes the optimizer's moments and velocities",
             ("tests/test_persistence.py",)),
    Mutation("shuffling-state", PKG + "_persist.py",
             'attrs["random_generator"] = _rng_state(est.__dict__.get("_rng"))',
             'attrs["random_generator"] = None',
             "save leaves out the shuffling generator's state",
             ("tests/test_persistence.py",)),
    Mutation("atomic-save-cleanup", PKG + "io.py",
             "    except BaseException:\n        try:\n            os.unlink(tmp)",
             "    except BaseException:\n        try:\n            pass",
             "a failed save leaves its temporary file",
             ("tests/test_persistence.py",)),
    Mutation("atomic-save-fsync", PKG + "io.py",
             "            f.flush()\n            os.fsync(f.fileno())",
             "            f.flush()",
             "a save renames the file before it is on disk",
             ("tests/test_persistence.py",)),
    Mutation("refused-fit-kept", PKG + "_base.py",
             "            self.__dict__.clear()\n            self.__dict__.update(before)\n",
             "",
             "a refused fit leaves what it had changed of the model",
             ("tests/test_estimator.py",)),
    Mutation("predict-last-steps-unchecked", PKG + "_base.py",
             "        _data.check_last_steps(output_steps, T, lengths)\n",
             "",
             "predict takes the last K steps of sequences shorter than K",
             ("tests/test_estimator.py",)),
    Mutation("save-after-set-params", PKG + "_persist.py",
             "        raise ValueError(f\"cannot save: {exc}\") from None\n",
             "        pass\n",
             "save writes hyperparameters that do not describe the weights",
             ("tests/test_persistence.py",)),
    Mutation("stack-dy-view", PKG + "_layers.py",
             "dh = d_out[..., :H].copy()",
             "dh = np.ascontiguousarray(d_out[..., :H])",
             "the forward direction's share of dy is a view of the caller's dy when "
             "B * T == 1",
             ("tests/test_layers.py",)),
]


def _check_unique(src_root: Path, m: Mutation) -> str:
    text = (src_root / m.file).read_text()
    count = text.count(m.old)
    if count != 1:
        raise SystemExit(f"mutation {m.name}: its snippet occurs {count} times in {m.file} "
                         "(expected once): the source has moved, update tools/mutate.py")
    return text


def _copy_tree(dst: Path) -> None:
    ignore = shutil.ignore_patterns(".git", "build", "__pycache__", ".pytest_cache",
                                    ".hypothesis", ".benchmarks", "*.egg-info", "dist",
                                    ".venv", ".ci-venv", "*.so", "_core*.c", "*.html")
    shutil.copytree(ROOT, dst, ignore=ignore, dirs_exist_ok=True)


def _build(root: Path, log: Path) -> None:
    r = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=root,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log.write_text(r.stdout)
    if r.returncode != 0:
        raise RuntimeError(f"build failed, see {log}")


def _built_files(root: Path) -> list[Path]:
    return sorted((root / "src/fastrnn").glob("_core*.so")) + sorted(
        (root / "src/fastrnn").glob("_core*.pyd"))


_FAILED = re.compile(r"^(FAILED|ERROR) (\S+)", re.M)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _pytest(root: Path, args: list[str], timeout: float, env: dict) -> tuple[bool, str]:
    """(passed, first failing test or reason) of one pytest run in the copy."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p",
           "no:cacheprovider", "-rfE", *args]
    try:
        # SIGINT back to the default in the child (started in the background,
        # e.g. under nohup, it would inherit SIG_IGN, and the CLI's interrupt
        # tests would fail for that reason alone)
        r = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout,
                           preexec_fn=_default_sigint)
    except subprocess.TimeoutExpired:
        return False, f"(timeout after {timeout:.0f} s)"
    if r.returncode == 0:
        return True, ""
    if r.returncode == 5:  # no tests collected: not a catch
        return True, ""
    m = _FAILED.search(r.stdout)
    if m:
        return False, m.group(2)
    if r.returncode < 0:
        return False, f"(crash: signal {-r.returncode})"
    tail = r.stdout.strip().splitlines()[-1:] or [""]
    return False, f"(exit {r.returncode}: {tail[0][:60]})"


def run(mutations: list[Mutation], timeout: float) -> list[tuple[Mutation, str, str, float]]:
    # every snippet is checked against the repository before anything runs
    for m in mutations:
        _check_unique(ROOT, m)
    results = []
    with tempfile.TemporaryDirectory(prefix="fastrnn-mutate-") as tmp:
        root = Path(tmp) / "repo"
        _copy_tree(root)
        print(f"scratch copy: {root}; building the extension ...", flush=True)
        _build(root, Path(tmp) / "build-pristine.log")
        pristine_bin = Path(tmp) / "pristine-bin"
        pristine_bin.mkdir()
        for f in _built_files(root):
            shutil.copy2(f, pristine_bin / f.name)
        env = dict(os.environ)
        env["PYTHONPATH"] = str(root / "src") + os.pathsep + env.get("PYTHONPATH", "")
        env.pop("FASTRNN_NUM_THREADS", None)
        for i, m in enumerate(mutations, 1):
            t0 = time.perf_counter()
            target = root / m.file
            original = _check_unique(root, m)
            kernel = m.file.endswith((".pyx", ".pxi", ".pxd", ".pxi.tp"))
            print(f"[{i}/{len(mutations)}] {m.name}: {m.description}", flush=True)
            try:
                target.write_text(original.replace(m.old, m.new))
                verdict, where = "SURVIVED", ""
                try:
                    if kernel:
                        _build(root, Path(tmp) / f"build-{m.name}.log")
                except RuntimeError as exc:
                    verdict, where = "caught", f"(does not build: {exc})"
                else:
                    first = [t for t in m.first if (root / t).exists()]
                    passed, where = _pytest(root, first, timeout, env) if first else (True, "")
                    if passed:
                        rest = [a for t in first for a in ("--ignore", t)]
                        passed, where = _pytest(root, ["tests", *rest], timeout, env)
                    if not passed:
                        verdict = "caught"
            finally:
                target.write_text(original)
                if kernel:
                    for f in pristine_bin.iterdir():
                        shutil.copy2(f, root / "src/fastrnn" / f.name)
                    # the pristine build must look newer than the restored source
                    now = time.time()
                    for f in _built_files(root):
                        os.utime(f, (now, now))
            dt = time.perf_counter() - t0
            print(f"    {verdict} {where} ({dt:.0f} s)", flush=True)
            results.append((m, verdict, where, dt))
    return results


def _table(results) -> str:
    w = max(len(m.name) for m, *_ in results)
    lines = [f"{'mutation':<{w}}  verdict   first failing test", "-" * (w + 60)]
    for m, verdict, where, _ in results:
        lines.append(f"{m.name:<{w}}  {verdict:<8}  {where}")
    caught = sum(v == "caught" for _, v, _, _ in results)
    lines.append(f"\n{caught} of {len(results)} planted bugs caught")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="list the mutations and check them")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutations")
    ap.add_argument("--jobs", type=int, default=1, choices=[1],
                    help="mutations run one at a time (the tests use the threads)")
    ap.add_argument("--timeout", type=float, default=1800,
                    help="seconds for one pytest run before the mutation counts as caught")
    args = ap.parse_args(argv)
    mutations = MUTATIONS
    if args.only:
        names = {m.name for m in MUTATIONS}
        unknown = sorted(set(args.only) - names)
        if unknown:
            ap.error(f"unknown mutations {unknown}; see --list")
        mutations = [m for m in MUTATIONS if m.name in args.only]
    if args.list:
        for m in mutations:
            _check_unique(ROOT, m)
            print(f"{m.name:<28} {m.file:<28} {m.description}")
        return 0
    results = run(mutations, args.timeout)
    print()
    print(_table(results))
    return 0 if all(v == "caught" for _, v, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
