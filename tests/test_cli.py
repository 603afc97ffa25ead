"""The fastrnn command line: train, sample, bench, errors, Ctrl-C and --resume.

Most tests call ``fastrnn.cli.main(argv)`` in the test process; the ones about
what a user sees from the real command (exit status, no traceback, Ctrl-C)
run ``python -m fastrnn`` in a subprocess.
"""

from __future__ import annotations

import collections
import io
import json
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest

import fastrnn
from fastrnn import _charmodel, _chartext, _trainrun, bench, cli

TEXT = (
    "The quick brown fox jumps over the lazy dog. A stitch in time saves nine.\n"
    "She sells sea shells by the sea shore; the shells she sells are sea shells.\n"
    "To be, or not to be, that is the question.\n"
) * 40


def run_cli(*args, timeout=120, **kw):
    """`python -m fastrnn args...` in a subprocess: CompletedProcess with text output."""
    return subprocess.run([sys.executable, "-m", "fastrnn", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, **kw)


def main_out(capsys, *args):
    """cli.main in this process: (status, stdout, stderr)."""
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, expected_status=None):
    assert status != 0
    if expected_status is not None:
        assert status == expected_status
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fastrnn: error: "), err


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, text_file):
    """A small character model trained on TEXT by `fastrnn train`."""
    out = tmp_path_factory.mktemp("model") / "small.npz"
    status = cli.main(["train", str(text_file), "--hidden", "24", "--seq-len", "16",
                       "--batch-size", "8", "--epochs", "3", "--seed", "0", "--out", str(out)])
    assert status == 0
    return out


# ----------------------------------------------------------------------------
# 1. The main job: train on the built-in text, progress, samples, bits/char


def _unigram_bits(text):
    counts = collections.Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def test_train_default_text_end_to_end(tmp_path):
    """`fastrnn train` with no file learns the built-in text: progress lines,
    samples, a loadable model, and held-out bits/char well below the unigram
    entropy of the held-out text (computed here independently)."""
    out = tmp_path / "model.npz"
    r = run_cli("train", "--hidden", "64", "--epochs", "1", "--seed", "0",
                "--sample-every", "0.2", "--out", out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    # progress: bar, loss, bits/char, speed and time left (plain lines: no TTY)
    progress = [ln for ln in r.stderr.splitlines() if ln.startswith("[")]
    assert progress, r.stderr
    assert re.search(r"\d+% \| epoch [\d.]+ \| loss [\d.]+ \| [\d.]+ bits/char \|.*"
                     r"[\d.]+k? chars/s \| .* left$", progress[-1]), progress[-1]
    # a sample during training and one at the end
    assert r.stdout.count("--- sample") >= 2
    m = re.search(r"held-out bits/char: ([\d.]+) \(unigram entropy of the held-out text: "
                  r"([\d.]+) bits/char\)", r.stdout)
    assert m, r.stdout
    bpc, entropy = float(m.group(1)), float(m.group(2))

    text = cli.default_text()
    n_val = min(max(2, int(len(text) * _trainrun.HELD_OUT_FRACTION)), _trainrun.HELD_OUT_MAX)
    held_out = text[-n_val:]
    assert entropy == pytest.approx(_unigram_bits(held_out[1:]), abs=1e-3)
    assert entropy > 4.0
    assert bpc < entropy - 0.75, (bpc, entropy)

    model = fastrnn.load(out)  # the model file is the estimator's .npz
    assert isinstance(model, fastrnn.RNNClassifier)
    assert "".join(model.classes_.tolist()) == "".join(sorted(set(text)))
    assert model.n_features_in_ == len(model.classes_)
    # the reported number is the model's: recompute it from the saved weights
    ids = cli.encode(held_out, model.classes_)
    assert _charmodel.bits_per_char(model, ids) == pytest.approx(bpc, abs=2e-3)
    progress_info = json.loads(_trainrun.progress_path(out).read_text())
    assert progress_info["epoch"] == 1 and progress_info["chars_seen"] > 400_000


def test_default_text_is_builtin():
    text = cli.default_text()
    assert len(text) > 200_000
    assert "assert" in text and "lambda" in text
    assert cli.default_text() == text  # fixed order


def test_bits_per_char_of_a_uniform_model_is_log2_vocabulary():
    """bits_per_char is the cross-entropy in bits: a model with zero readout
    predicts the uniform distribution, log2(V) bits for every character."""
    V, H = 13, 4
    ids = np.arange(50) % V
    model = fastrnn.RNNClassifier(H, output_steps="all", max_epochs=1, random_state=0)
    model.fit(ids[None, :-1], ids[None, 1:])
    model.W_hy_[...] = 0
    model.b_y_[...] = 0
    assert _charmodel.bits_per_char(model, ids) == pytest.approx(math.log2(V), rel=1e-6)
    assert cli.unigram_entropy(ids[1:]) <= math.log2(V) + 1e-12


@pytest.mark.parametrize("chunk", [7, 4096])
def test_bits_per_char_is_the_cross_entropy_of_one_stream(chunk):
    """Chunks carry the state: the same number as a log-softmax over one
    forward pass of the whole text, computed here in float64."""
    rng = np.random.default_rng(3)
    V, H = 9, 5
    ids = rng.integers(0, V, 60)
    model = fastrnn.RNNClassifier(H, output_steps="all", max_epochs=3, dtype="float64",
                                  learn_initial_state=True, random_state=0)
    model.fit(ids[None, :-1], ids[None, 1:])
    h = fastrnn.forward(ids[None, :-1], model.W_xh_, model.W_hh_, model.b_,
                        model.h0_)[0]
    z = h @ model.W_hy_ + model.b_y_
    logp = z - z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    expected = -logp[np.arange(59), ids[1:]].mean() / math.log(2)
    assert _charmodel.bits_per_char(model, ids, chunk=chunk) == pytest.approx(expected, rel=1e-12)


def test_train_profile_prints_the_kernels_rate_beside_the_main_job(capsys, tmp_path,
                                                                    text_file):
    out = tmp_path / "m.npz"
    status, stdout, err = main_out(capsys, "train", text_file, "--hidden", "8",
                                   "--seq-len", "8", "--batch-size", "4", "--epochs", "1",
                                   "--seed", "1", "--out", out, "--profile")
    assert status == 0, err
    line = [ln for ln in stdout.splitlines() if ln.startswith("profile:")]
    assert len(line) == 1
    rates = re.findall(r"([\d.]+)k? chars/s", line[0])
    assert len(rates) == 2 and all(float(r) > 0 for r in rates)
    assert re.search(r"runs at \d+% of the kernels' rate", line[0])
    # without --profile, no such line
    status, stdout, err = main_out(capsys, "train", text_file, "--hidden", "8",
                                   "--seq-len", "8", "--batch-size", "4", "--epochs", "1",
                                   "--seed", "1", "--out", out)
    assert status == 0 and "profile:" not in stdout


def test_train_on_a_file_writes_a_character_model(capsys, tmp_path, text_file):
    out = tmp_path / "m.npz"
    status, stdout, err = main_out(capsys, "train", text_file, "--hidden", "16",
                                   "--seq-len", "8", "--batch-size", "4", "--epochs", "1",
                                   "--seed", "1", "--out", out)
    assert status == 0, err
    model = _charmodel.load_model(out)
    assert "".join(model.classes_) == "".join(sorted(set(TEXT)))
    assert model.n_hidden == 16 and model.bptt_steps == 8
    assert f"saved the model to {out}" in stdout
    assert "held-out bits/char" in stdout


def test_short_text_shrinks_batch_and_window(capsys, tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("abcabcabcabcabcabcabcabcabcabc", encoding="utf-8")
    out = tmp_path / "m.npz"
    status, _, err = main_out(capsys, "train", path, "--epochs", "2", "--hidden", "8",
                              "--out", out)
    assert status == 0, err
    assert _charmodel.load_model(out).n_iter_ >= 2


# ----------------------------------------------------------------------------
# 2. Ctrl-C saves a loadable checkpoint; --resume continues


def _reader(stream, q):
    for line in iter(stream.readline, ""):
        q.put(line)
    q.put(None)


def test_ctrl_c_saves_checkpoint_and_resume_continues(tmp_path, text_file):
    out = tmp_path / "ck.npz"
    args = [sys.executable, "-m", "fastrnn", "train", str(text_file), "--hidden", "32",
            "--seq-len", "16", "--batch-size", "8", "--time-limit", "0", "--seed", "3",
            "--checkpoint-every", "1000", "--out", str(out)]
    with subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True) as proc:
        status, seen = _interrupt_when_training(proc)
    err = "".join(seen)
    assert status == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert f"saved the model to {out}" in err
    assert "--resume" in err
    assert not list(tmp_path.glob(".*tmp"))  # the atomic write left no temporary file

    first = fastrnn.load(out)
    info = json.loads(_trainrun.progress_path(out).read_text())
    assert first.n_iter_ >= 1 and info["chars_seen"] > 0

    r = run_cli("train", text_file, "--resume", "--epochs", "1", "--out", out)
    assert r.returncode == 0, r.stderr
    assert f"resuming {out}: {info['chars_seen']:,} characters seen" in r.stderr
    second = fastrnn.load(out)
    info2 = json.loads(_trainrun.progress_path(out).read_text())
    assert second.n_iter_ > first.n_iter_
    assert info2["chars_seen"] > info["chars_seen"]
    assert info2["epoch"] == info["epoch"] + 1
    assert second.n_hidden == 32 and second.random_state == 3
    np.testing.assert_array_equal(second.classes_, first.classes_)
    assert not np.array_equal(second.W_hh_, first.W_hh_)


def _interrupt_when_training(proc):
    """Wait for the first progress line on proc's stderr, send SIGINT, and
    return (exit status, stderr lines)."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stderr, lines), daemon=True).start()
    seen = []
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for the first progress line: training has started
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "".join(seen)
            seen.append(line)
            if " | epoch " in line:  # "12 s | epoch 0.25 | loss ..." (no limit)
                break
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    while (line := lines.get(timeout=10)) is not None:
        seen.append(line)
    return status, seen


def test_resume_rejects_other_hidden_size_and_unknown_characters(capsys, tmp_path,
                                                                  model_file, text_file):
    out = tmp_path / "m.npz"
    shutil.copy(model_file, out)
    status, _, err = main_out(capsys, "train", text_file, "--resume", "--hidden", "99",
                              "--out", out)
    assert_one_line_error(status, err)
    assert "--hidden 99 differs" in err
    other = tmp_path / "other.txt"
    other.write_text(TEXT + "Zebra ünïcode\n", encoding="utf-8")
    status, _, err = main_out(capsys, "train", other, "--resume", "--out", out)
    assert_one_line_error(status, err)
    assert "'ü' (U+00FC)" in err


@pytest.mark.parametrize("key", ["chars_seen", "epoch", "call", "samples", "n_iter"])
def test_resume_with_a_count_out_of_range_in_the_progress_file(capsys, tmp_path, model_file,
                                                               text_file, key):
    """A count that no run reaches (JSON's integers have no bound) counts as
    missing, as any other damaged value does; not an OverflowError."""
    out = tmp_path / "m.npz"
    shutil.copy(model_file, out)
    info = json.loads(_trainrun.progress_path(model_file).read_text())
    assert _trainrun.read_progress(_trainrun.progress_path(model_file))[key] == info[key]
    info[key] = 10**400
    _trainrun.progress_path(out).write_text(json.dumps(info))
    assert key not in _trainrun.read_progress(_trainrun.progress_path(out))
    status, _, err = main_out(capsys, "train", text_file, "--resume", "--out", out,
                              "--seq-len", "16", "--batch-size", "8", "--max-chars", "1",
                              "--seed", "0")
    assert status == 0, err
    assert f"resuming {out}: " in err and "Traceback" not in err
    info2 = json.loads(_trainrun.progress_path(out).read_text())
    assert info2[key] < 2**63


def test_resume_takes_the_sizes_of_the_checkpoint(capsys, tmp_path, model_file, text_file):
    # model_file was trained with --seq-len 16 --batch-size 8: a resume that
    # leaves them out continues at its position with those sizes
    out = tmp_path / "m.npz"
    shutil.copy(model_file, out)
    shutil.copy(_trainrun.progress_path(model_file), _trainrun.progress_path(out))
    status, stdout, err = main_out(capsys, "train", text_file, "--resume", "--out", out,
                                   "--max-chars", "1", "--seed", "0")
    assert status == 0, err
    assert "seq-len 16, batch 8" in err
    assert re.search(r"continuing at epoch \d", err) and "start of the text" not in err
    assert _charmodel.load_model(out).bptt_steps == 16
    # given sizes win: other sizes than the checkpoint's start at the text's start
    status, stdout, err = main_out(capsys, "train", text_file, "--resume", "--out", out,
                                   "--seq-len", "8", "--max-chars", "1", "--seed", "0")
    assert status == 0, err
    assert "seq-len 8, batch 8" in err and "the start of the text" in err


def test_interrupt_handler_first_sets_flag_second_raises():
    before = signal.getsignal(signal.SIGINT)  # default, or ignored in a background job
    with _trainrun.Interrupt() as stop:
        assert signal.getsignal(signal.SIGINT) == stop._handle
        stop._handle(signal.SIGINT, None)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            stop._handle(signal.SIGINT, None)
    assert signal.getsignal(signal.SIGINT) is before  # restored


# ----------------------------------------------------------------------------
# 3. fastrnn sample: the same seed prints the same text


def test_sample_same_seed_same_text(model_file):
    a = run_cli("sample", model_file, "--seed", "7", "--length", "300")
    b = run_cli("sample", model_file, "--seed", "7", "--length", "300")
    c = run_cli("sample", model_file, "--seed", "8", "--length", "300")
    assert a.returncode == b.returncode == c.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    assert a.stdout != c.stdout
    assert len(a.stdout) == 301  # 300 characters and a newline (the default prime is "\n")
    assert set(a.stdout) <= set(TEXT)


def test_sample_prime_temperature_and_length(capsys, model_file):
    status, out, _ = main_out(capsys, "sample", model_file, "--prime", "The quick",
                              "--length", "40", "--seed", "1", "--temperature", "0.5")
    assert status == 0
    assert out.startswith("The quick") and len(out) == len("The quick") + 40 + 1
    # temperature 0 is deterministic without a seed: the most likely character
    g1 = main_out(capsys, "sample", model_file, "--prime", "She ", "--temperature", "0",
                  "--length", "60")
    g2 = main_out(capsys, "sample", model_file, "--prime", "She ", "--temperature", "0",
                  "--length", "60")
    assert g1 == g2 and g1[0] == 0


def test_out_of_memory_names_the_options_of_the_command(capsys, monkeypatch, model_file,
                                                       text_file, tmp_path):
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cli, "generate", no_memory)
    status, _, err = main_out(capsys, "sample", model_file, "--length", "1000000000")
    assert_one_line_error(status, err, 1)
    assert err == "fastrnn: error: out of memory (try a smaller --length)\n"
    monkeypatch.setattr(_trainrun.TrainRun, "run", no_memory)
    status, _, err = main_out(capsys, "train", text_file, "--out", tmp_path / "m.npz")
    assert status == 1 and "Traceback" not in err  # (after the header lines)
    assert err.endswith("fastrnn: error: out of memory (try a smaller --hidden or "
                        "--batch-size)\n")


def test_generate_follows_the_model_distribution():
    """A model whose readout ignores the state samples from softmax(b_y / T)."""
    V, H = 4, 3
    model = fastrnn.RNNClassifier(H)
    model.W_xh_ = np.zeros((V, H))
    model.W_hh_ = np.zeros((H, H))
    model.b_ = np.zeros(H)
    model.W_hy_ = np.zeros((H, V))
    model.b_y_ = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    model.n_features_in_ = model.n_outputs_ = V   # what fit and load set
    model.classes_ = np.arange(V)
    ids = _charmodel.generate(model, [0], 10000, 1.0, np.random.default_rng(0))
    freq = np.bincount(ids, minlength=V) / ids.size
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.02)
    cold = _charmodel.generate(model, [0], 5000, 0.5, np.random.default_rng(1))
    p = np.array([0.1, 0.2, 0.3, 0.4]) ** 2
    np.testing.assert_allclose(np.bincount(cold, minlength=V) / cold.size, p / p.sum(),
                               atol=0.02)
    assert (_charmodel.generate(model, [0], 10, 0.0, np.random.default_rng(0)) == 3).all()


# ----------------------------------------------------------------------------
# 4. Bad input: one line, non-zero status, no traceback


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, model_file):
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.txt").write_bytes(b"")
    (d / "blank.txt").write_bytes(b" \n\t\n")
    (d / "binary.dat").write_bytes(bytes(range(256)) * 8)
    (d / "latin1.txt").write_bytes("Gr\xfc\xdfe aus K\xf6ln, caf\xe9".encode("latin-1") * 20)
    (d / "tiny.txt").write_text("abc", encoding="utf-8")
    (d / "one_char.txt").write_text("a" * 100, encoding="utf-8")
    (d / "notes.npz").write_text("this is not a model\n", encoding="utf-8")
    data = model_file.read_bytes()
    (d / "truncated.npz").write_bytes(data[: len(data) // 2])
    np.savez(d / "arrays.npz", a=np.arange(3))
    with zipfile.ZipFile(d / "garbage.npz", "w") as z:
        z.writestr("x.npy", b"not an npy")
    X = np.random.default_rng(0).normal(size=(8, 5, 2))
    fastrnn.RNNRegressor(4, max_epochs=1).fit(X, X[:, :, 0]).save(d / "regressor.npz")
    ids = np.random.default_rng(1).integers(0, 3, size=(6, 8))  # character models
    chars = np.array(list("abc"))
    for name, layout in (("bidirectional", dict(n_hidden=4, bidirectional=True)),
                         ("stacked", dict(n_hidden=(4, 3)))):
        fastrnn.RNNClassifier(**layout, n_symbols=3, max_epochs=1).fit(
            ids, chars[(ids + 1) % 3]).save(d / f"{name}.npz")
    for output_steps, y in (("last", chars[(ids[:, -1] + 1) % 3]),
                            (2, chars[(ids[:, -2:] + 1) % 3])):
        fastrnn.RNNClassifier(4, n_symbols=3, output_steps=output_steps, max_epochs=1).fit(
            ids, y).save(d / f"steps_{output_steps}.npz")
    empty = np.array(["", "a", "b"])  # '<U1', but '' is no character
    fastrnn.RNNClassifier(4, n_symbols=3, max_epochs=1).fit(ids, empty[ids]).save(
        d / "empty_class.npz")
    (d / "adir").mkdir()
    (d / "adir_model.progress.json").mkdir()
    return d


BAD_TRAIN = {
    "missing file": (["train", "{d}/nosuch.txt"], 1, "no such file"),
    "empty file": (["train", "{d}/empty.txt"], 1, "empty"),
    "blank file": (["train", "{d}/blank.txt"], 1, "white space"),
    "binary file": (["train", "{d}/binary.dat"], 1, "binary"),
    "non-UTF-8 file": (["train", "{d}/latin1.txt"], 1, "not UTF-8"),
    "directory": (["train", "{d}/adir"], 1, "directory"),
    "too short": (["train", "{d}/tiny.txt"], 1, "too short"),
    "one character": (["train", "{d}/one_char.txt"], 1, "two different characters"),
    "zero hidden": (["train", "--hidden", "0"], 2, "--hidden"),
    "negative hidden": (["train", "--hidden", "-4"], 2, "--hidden"),
    "non-numeric hidden": (["train", "--hidden", "many"], 2, "--hidden"),
    "fractional hidden": (["train", "--hidden", "2.5"], 2, "--hidden"),
    "huge hidden": (["train", "--hidden", "10000000000000000000000"], 2,
                    "--hidden: expected an integer from 1 to 1048576"),
    "zero seq-len": (["train", "--seq-len", "0"], 2, "--seq-len"),
    "bad batch-size": (["train", "--batch-size", "x"], 2, "--batch-size"),
    "negative time-limit": (["train", "--time-limit", "-1"], 2, "--time-limit"),
    "nan time-limit": (["train", "--time-limit", "nan"], 2, "--time-limit"),
    "zero epochs": (["train", "--epochs", "0"], 2, "--epochs"),
    "negative seed": (["train", "--seed", "-1"], 2, "--seed"),
    "unknown option": (["train", "--hiden", "3"], 2, "unrecognized"),
    "resume without model": (["train", "--resume", "--out", "{d}/none.npz"], 1, "--resume"),
    "resume a stacked model": (["train", "{d}/one_char.txt", "--resume", "--out",
                                "{d}/stacked.npz"], 1, "a model of 2 layers"),
    "resume a model with a class that is no character": (
        ["train", "{d}/one_char.txt", "--resume", "--out", "{d}/empty_class.npz"], 1,
        "not a character model"),
    "resume a last-step model": (["train", "{d}/one_char.txt", "--resume", "--out",
                                  "{d}/steps_last.npz"], 1, "output_steps='last'"),
    "resume a last-2-steps model": (["train", "{d}/one_char.txt", "--resume", "--out",
                                     "{d}/steps_2.npz"], 1, "output_steps=2"),
    "out in missing directory": (["train", "--out", "{d}/no/dir/m.npz"], 1, "does not exist"),
    "out is a directory": (["train", "--out", "{d}/adir"], 1, "directory"),
    "progress file is a directory": (["train", "--out", "{d}/adir_model.npz"], 1,
                                     "its progress file {d}/adir_model.progress.json is a "
                                     "directory"),
    "no command": ([], 2, "command"),
    "unknown command": (["fit"], 2, "invalid choice"),
}
BAD_SAMPLE = {
    "missing model": (["sample", "{d}/nosuch.npz"], 1, "no such file"),
    "text file as model": (["sample", "{d}/notes.npz"], 1, "model"),
    "truncated model": (["sample", "{d}/truncated.npz"], 1, "model"),
    "npz that is not a model": (["sample", "{d}/arrays.npz"], 1, "model"),
    "zip of garbage": (["sample", "{d}/garbage.npz"], 1, "model"),
    "regressor": (["sample", "{d}/regressor.npz"], 1, "not a character model"),
    "a class that is no character": (["sample", "{d}/empty_class.npz"], 1,
                                     "not a character model"),
    "bidirectional model": (["sample", "{d}/bidirectional.npz"], 1,
                            "cannot generate text one character at a time"),
    "directory as model": (["sample", "{d}/adir"], 1, "directory"),
    "zero length": (["sample", "{m}", "--length", "0"], 2, "--length"),
    "huge length": (["sample", "{m}", "--length", "100000000000000000000"], 2,
                    "--length: expected an integer from 1 to 1000000000"),
    "negative temperature": (["sample", "{m}", "--temperature", "-0.5"], 2, "--temperature"),
    "infinite temperature": (["sample", "{m}", "--temperature", "inf"], 2, "--temperature"),
    "text temperature": (["sample", "{m}", "--temperature", "hot"], 2, "--temperature"),
    "unknown prime characters": (["sample", "{m}", "--prime", "日本"], 2, "U+65E5"),
    "empty prime": (["sample", "{m}", "--prime", ""], 2, "--prime"),
    "prime with a byte that is not UTF-8": (["sample", "{m}", "--prime", "ab\udcff"], 2,
                                            "--prime: not UTF-8 text (byte 0xff at character 2)"),
    "prime with a lone surrogate": (["sample", "{m}", "--prime", "\ud800"], 2,
                                    "--prime: not valid text"),
    "missing argument": (["sample"], 2, "MODEL"),
    "bench json in missing directory": (["bench", "--json", "{d}/no/b.json"], 2, "--json"),
    "bench bad min-time": (["bench", "--min-time", "0"], 2, "--min-time"),
    "bench negative settle": (["bench", "--settle", "-1"], 2, "--settle"),
    "bench infinite settle": (["bench", "--settle", "inf"], 2, "--settle"),
    "bench negative busy": (["bench", "--busy", "-1"], 2, "--busy"),
    "bench text busy": (["bench", "--busy", "two"], 2, "--busy"),
}


@pytest.mark.parametrize("case", list(BAD_TRAIN) + list(BAD_SAMPLE))
def test_bad_input_is_one_line_error(case, capsys, bad_files, model_file):
    args, expected_status, needle = {**BAD_TRAIN, **BAD_SAMPLE}[case]
    args = [a.format(d=bad_files, m=model_file) for a in args]
    needle = needle.format(d=bad_files)
    try:
        status = cli.main(args)
    except SystemExit as exc:  # argparse
        status = exc.code
    out, err = capsys.readouterr()
    assert_one_line_error(status, err, expected_status)
    assert needle in err
    assert out == ""


def test_bad_input_from_the_real_command(bad_files, model_file):
    """The installed command itself: one line on stderr, status, no traceback."""
    for args, status in ((["train", bad_files / "latin1.txt"], 1),
                         (["train", "--hidden", "0"], 2),
                         (["sample", bad_files / "truncated.npz"], 1),
                         (["sample", model_file, "--prime", os.fsdecode(b"a\xff")], 2)):
        r = run_cli(*args)
        assert r.returncode == status
        assert "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stderr.startswith("fastrnn: error: ")
        assert r.stdout == ""


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_unreadable_files(capsys, tmp_path, model_file):
    t = tmp_path / "secret.txt"
    t.write_text(TEXT)
    m = tmp_path / "secret.npz"
    shutil.copy(model_file, m)
    t.chmod(0)
    m.chmod(0)
    for args in (["train", t], ["sample", m]):
        status, _, err = main_out(capsys, *args)
        assert_one_line_error(status, err, 1)
        assert "permission denied" in err


def test_permission_denied_is_one_line(capsys, monkeypatch, tmp_path, model_file):
    """The same errors as test_unreadable_files, simulated (that test cannot run as root)."""
    import fastrnn.estimator

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    t = tmp_path / "t.txt"
    t.write_text(TEXT)
    monkeypatch.setattr(_chartext, "_open_regular", denied)
    monkeypatch.setattr(fastrnn.estimator, "load", denied)
    for args in (["train", t], ["sample", model_file]):
        status, _, err = main_out(capsys, *args)
        assert_one_line_error(status, err, 1)
        assert "permission denied" in err


def test_out_that_is_the_text_file_is_refused(capsys, tmp_path):
    """--out (or its progress file) naming the text file, by the same name or
    another one, is refused before anything is written: the text stays."""
    text = tmp_path / "notes.txt"
    text.write_text(TEXT, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    os.link(text, tmp_path / "linked.txt")
    cases = [(text, text, "is the text file"),
             (text, tmp_path / "sub" / ".." / "notes.txt", "is the text file"),
             (text, tmp_path / "linked.txt", "is the text file"),
             (tmp_path / "notes.progress.json", tmp_path / "notes.npz", "its progress file")]
    _trainrun.progress_path(tmp_path / "notes.npz").write_text(TEXT, encoding="utf-8")
    for text_file, out, needle in cases:
        for resume in ([], ["--resume"]):
            before = text_file.read_bytes()
            status, _, err = main_out(capsys, "train", text_file, "--out", out, "--hidden", "4",
                                      "--max-chars", "1", *resume)
            assert_one_line_error(status, err, 1)
            assert f"--out {out}: {needle}" in err and "give another --out" in err
            assert text_file.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "linked.txt", "notes.progress.json", "notes.txt", "sub"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_text_file_that_is_not_a_regular_file(capsys, tmp_path):
    """A FIFO is refused at once (not read until its writer ends, which may be
    never), and so is a device (not read until memory runs out)."""
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    r = run_cli("train", fifo, "--out", tmp_path / "m.npz", timeout=30)
    assert_one_line_error(r.returncode, r.stderr, 1)
    assert f"{fifo}: is a FIFO (named pipe), not a text file" in r.stderr
    if os.path.exists(os.devnull):
        status, _, err = main_out(capsys, "train", os.devnull, "--out", tmp_path / "m.npz")
        assert_one_line_error(status, err, 1)
        assert f"{os.devnull}: is a device, not a text file" in err
    assert not (tmp_path / "m.npz").exists()


def test_load_text_accepts_utf8_with_bom_and_non_ascii(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes("\ufeffGrüße aus Köln — 日本語\n".encode("utf-8"))
    text, name = cli.load_text(str(p))
    assert text == "Grüße aus Köln — 日本語\n" and name == str(p)


# ----------------------------------------------------------------------------
# python -m fastrnn == fastrnn; bench; progress display


def test_python_m_fastrnn_is_the_console_script():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"fastrnn {fastrnn.__version__}"
    h = run_cli("--help")
    assert h.returncode == 0 and all(c in h.stdout for c in ("train", "sample", "bench"))
    exe = shutil.which("fastrnn")
    if exe is None:
        pytest.skip("the fastrnn console script is not on PATH (package not installed?)")
    s = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert s.returncode == 0 and s.stdout == h.stdout


@pytest.fixture
def tiny_bench(monkeypatch):
    """fastrnn bench on one tiny size, with a stub for the GEMM-rate measurement."""
    monkeypatch.setattr(bench, "QUICK_GRID", [(2, 5, 3, 4)])
    monkeypatch.setattr(bench, "gemm_rate", lambda dtype, n=2048: 10.0)


def test_bench_writes_json(capsys, tmp_path, tiny_bench):
    j = tmp_path / "b.json"
    status, out, err = main_out(capsys, "bench", "--quick", "--min-time", "0.001", "--settle", "0", "--json", j)
    assert status == 0, err
    assert "x ref" in out and "2, 5, 3, 4" in out
    data = json.loads(j.read_text())
    backends = {r["backend"] for r in data["results"]}
    assert {"fastrnn", "reference"} <= backends
    try:
        import torch  # noqa: F401
    except ImportError:
        assert "torch" not in backends
    else:
        assert "torch" in backends  # the PyTorch column when it is installed
        assert all("vs_torch" in row for row in data["rows"])
    assert {row["mode"] for row in data["rows"]} == {"forward", "train"}
    assert all(row["fastrnn_ms"] > 0 for row in data["rows"])


def test_bench_busy_and_step(capsys, tmp_path, tiny_bench, monkeypatch):
    """--busy N times the training steps again beside N busy-loop processes,
    which it ends; --step times one step of a character model."""
    monkeypatch.setattr(bench, "STEP_SHAPE", (8, 5))
    started = []
    real_enter = bench.BusyProcesses.__enter__

    def enter(self):
        out = real_enter(self)
        started.extend(self.procs)
        assert all(p.poll() is None for p in self.procs)  # running
        return out

    monkeypatch.setattr(bench.BusyProcesses, "__enter__", enter)
    j = tmp_path / "b.json"
    status, out, err = main_out(capsys, "bench", "--quick", "--min-time", "0.001", "--settle",
                                "0", "--busy", "2", "--step", "--json", j)
    assert status == 0, err
    assert len(started) == 2 and all(p.poll() is not None for p in started)  # ended
    assert "training step with 2 busy processes" in out
    assert "one step with probabilities" in out
    data = json.loads(j.read_text())
    assert data["busy"]["processes"] == 2
    assert {r["mode"] for r in data["busy"]["results"]} == {"train"}
    assert data["step_seconds"]["fastrnn"] > 0


def test_bench_plot(capsys, tmp_path, tiny_bench):
    import matplotlib  # noqa: F401  (in the test extra: this branch always runs)
    png = tmp_path / "b.PNG"  # (the extension in any case)
    status, out, err = main_out(capsys, "bench", "--quick", "--min-time", "0.001", "--settle", "0",
                                "--plot", png)
    assert status == 0, err
    assert f"plot written to {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("matplotlib", ["installed", "missing"])
@pytest.mark.parametrize("name, needle", [("b.xyz", "unknown file type '.xyz'"),
                                          ("plot", "no file extension")])
def test_bench_plot_checks_the_file_type_first(capsys, tmp_path, monkeypatch, matplotlib,
                                               name, needle):
    """An extension matplotlib cannot write (or none, which it would turn into
    .png) is an error before the benchmark runs, with or without matplotlib."""
    if matplotlib == "missing":
        for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
            monkeypatch.delitem(sys.modules, mod)
        monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    monkeypatch.setattr(bench, "run_from_args", lambda args: pytest.fail("the run started"))
    path = tmp_path / name
    status, out, err = main_out(capsys, "bench", "--quick", "--plot", path)
    assert_one_line_error(status, err, 2)
    assert f"--plot {path}: {needle}; the plot can be written as" in err
    assert "png, ps" in err and "pdf" in err and "svg" in err
    assert out == "" and not path.exists()
    assert "PNG" not in bench.plot_formats() and "png" in bench.plot_formats()


def test_bench_plot_without_matplotlib(capsys, tmp_path, tiny_bench, monkeypatch):
    """Without matplotlib the table is still printed and the status is 0."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    png = tmp_path / "b.png"
    status, out, err = main_out(capsys, "bench", "--quick", "--min-time", "0.001", "--settle", "0",
                                "--plot", png)
    assert status == 0
    assert "x ref" in out
    assert "matplotlib is not installed" in err
    assert not png.exists()


def test_bench_times_the_backends_in_turns(monkeypatch):
    """median_times: each function warmed up once, then timed in blocks, the
    blocks of the functions alternating round after round; each block comes
    after a pause and one untimed call."""
    calls = []
    clock = iter(range(10**6))
    monkeypatch.setattr(bench.time, "perf_counter", lambda: float(next(clock)))
    monkeypatch.setattr(bench.time, "sleep", lambda s: calls.append(f"sleep {s}"))
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    # every call takes 1 "second" on the fake clock: a block is one untimed
    # call and 5 timed repeats
    medians = bench.median_times(fns, min_time=6.0, rounds=3, settle=0.25)
    assert medians == {"a": 1.0, "b": 1.0}
    block = ["a"] * 6, ["b"] * 6
    assert calls == ["a", "b"] + (["sleep 0.25", *block[0], "sleep 0.25", *block[1]]) * 3
    calls.clear()
    bench.median_times(fns, min_time=6.0, rounds=1, settle=0)
    assert calls == ["a", "b"] + ["a"] * 7 + ["b"] * 7       # 6 timed; no pause


def test_bench_pauses_by_default(monkeypatch):
    slept = []
    monkeypatch.setattr(bench.time, "sleep", slept.append)
    bench.median_times({"a": lambda: None}, min_time=0.001, rounds=2)
    assert slept == [bench.SETTLE_SECONDS] * 2 and bench.SETTLE_SECONDS >= 0.1


class _FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_redraws_in_place_on_a_terminal():
    s = _FakeTTY()
    p = _trainrun.Progress(s, redraw=0.0)
    p.update("[#...] 10% | loss 4.000")
    p.update("[##..] 20% | loss 3.9")
    p.clear()
    v = s.getvalue()
    assert "\n" not in v
    assert v.count("\r") == 4
    assert "\r[##..] 20% | loss 3.9  " in v  # padded over the longer previous line
    p.update("[###.] 30%")
    p.finish()  # the last bar stays, the line is ended
    assert s.getvalue().endswith("\r[###.] 30%\n")


def test_progress_redraws_at_most_every_redraw_seconds(monkeypatch):
    s = _FakeTTY()
    p = _trainrun.Progress(s, redraw=0.1)
    clock = iter([0.0, 0.05, 0.2, 0.21])
    monkeypatch.setattr(_trainrun.time, "monotonic", lambda: next(clock))
    p.update("a")
    p.update("b")  # 0.05 s later: skipped
    p.update("c")
    p.update("d", force=True)
    assert s.getvalue().replace(" ", "") == "\ra\rc\rd"


def test_progress_prints_lines_when_not_a_terminal(monkeypatch):
    s = io.StringIO()
    p = _trainrun.Progress(s, every=5.0)
    clock = iter([0.0, 1.0, 6.0, 7.0, 8.0])
    monkeypatch.setattr(_trainrun.time, "monotonic", lambda: next(clock))
    p.update("a")            # first line: shown
    p.update("b")            # 1 s later: skipped
    p.update("c")            # 6 s: shown
    p.update("c", force=True)  # same text again: not repeated
    p.update("d", force=True)  # forced
    assert s.getvalue() == "a\nc\nd\n"
    assert "\r" not in s.getvalue()


def test_sample_from_a_stacked_character_model(bad_files, capsys):
    # step carries every layer's state, so a stack samples as one layer does
    assert cli.main(["sample", str(bad_files / "stacked.npz"), "--length", "30",
                     "--seed", "0", "--prime", "ab"]) == 0
    out = capsys.readouterr().out
    assert len(out.rstrip("\n")) >= 30 and set(out.strip()) <= set("abc")


@pytest.mark.parametrize("output_steps", ["last", 2])
def test_sample_from_a_model_with_targets_at_the_last_steps(bad_files, capsys, output_steps):
    # step gives the readout at every step, whatever steps the model was trained on;
    # only train --resume refuses such a model
    assert cli.main(["sample", str(bad_files / f"steps_{output_steps}.npz"), "--length", "30",
                     "--seed", "0", "--prime", "ab"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ab") and len(out) == 2 + 30 + 1 and set(out.strip()) <= set("abc")
