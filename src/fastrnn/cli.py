"""The ``fastrnn`` command (also ``python -m fastrnn``).

    fastrnn train [TEXT_FILE] [--hidden 256] [--seq-len 32] [--batch-size 32]
                  [--time-limit 60] [--epochs N] [--max-chars N] [--out model.npz]
                  [--resume] [--seed S]
    fastrnn sample MODEL [--length 500] [--temperature 0.8] [--prime TEXT] [--seed S]
    fastrnn bench [--quick] [--json FILE] [--plot FILE.png]

``train`` fits a character-level language model: an :class:`~fastrnn.RNNClassifier`
that reads characters as integer ids and predicts the next character at every
step, trained with truncated BPTT over ``--batch-size`` parallel streams of the
text with the hidden state carried from window to window. Without a file it
trains on Python's own bundled documentation topics (``pydoc_data.topics``), so
it works offline on any Python installation.

The model file is the estimator's ``.npz`` (``fastrnn.load`` reads it); its
``classes_`` are the characters themselves, sorted, so character id ``i`` is
``classes_[i]``: the vocabulary travels inside the model. Where training
stopped (for ``--resume``: the position and the streams' hidden states) is
kept next to it in a small JSON file (``model.progress.json`` for
``model.npz``); both are written atomically. With the model's optimizer and
generator state, a stopped and resumed run ends with the weights of one
uninterrupted run, bit for bit.

Messages go to stderr (the progress bar, notes, errors); the samples and the
final report go to stdout. Every user error is one line, ``fastrnn: error:
...``, with exit status 2 for bad arguments and 1 for bad files; Ctrl-C during
``train`` saves a checkpoint and exits with status 130.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import __version__, bench
from . import io as _io
from ._chartext import (CLIError, decode, default_prime, default_text, encode, load_text,
                        unigram_entropy)
from ._trainrun import (PROGRESS_FORMAT, Interrupt, Progress, check_writable, decode_carry,
                        KernelRate, encode_carry, fmt_rate, fmt_secs, progress_path,
                        read_progress, text_digest)

__all__ = ["main", "load_text", "default_text", "generate", "bits_per_char",
           "unigram_entropy", "CLIError"]

# Held-out text: the last 5% of the text, at most this many characters (the
# evaluation runs the recurrence one step after another on a single stream).
HELD_OUT_FRACTION = 0.05
HELD_OUT_MAX = 50_000
MIN_TEXT = 20  # characters
# Hyperparameters of the character model that the command line does not expose.
LEARNING_RATE = 3e-3
# The learning rate decays with the characters seen (over all runs of a
# model, so a resumed run follows the same schedule as one run):
# learning_rate / sqrt(1 + chars_seen / LR_DECAY_CHARS).
LR_DECAY_CHARS = 2_000_000
CLIP_NORM = 5.0


# --------------------------------------------------------------------------
# Argument parsing
# --------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse, with errors on one line: ``fastrnn: error: ...`` and status 2."""

    def error(self, message):
        hint = f" (see '{self.prog} --help')"
        self.exit(2, f"fastrnn: error: {' '.join(message.split())}{hint}\n")


def _number(kind, test, what):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    parse.__name__ = what  # argparse names the type in some messages
    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_seed = _number(int, lambda v: 0 <= v < 2**63, "an integer >= 0")
_time_limit = _number(float, lambda v: math.isfinite(v) and v >= 0,
                      "a number of seconds >= 0 (0: no time limit)")
_positive_float = _number(float, lambda v: math.isfinite(v) and v > 0, "a positive number")
_non_negative_float = _number(float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0")
_temperature = _number(float, lambda v: math.isfinite(v) and v >= 0,
                       "a number >= 0 (0: always the most likely character)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fastrnn",
        description="Train a character-level RNN language model on a text, sample "
                    "from it, or benchmark the kernels.",
        epilog="Start with 'fastrnn train' (one minute on Python's bundled "
               "documentation), then 'fastrnn sample model.npz'.",
    )
    parser.add_argument("--version", action="version", version=f"fastrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{train,sample,bench}",
                                parser_class=_Parser)

    t = sub.add_parser(
        "train", help="train a character model on a text",
        description="Train a character-level language model: an RNNClassifier over "
                    "characters, truncated BPTT with the hidden state carried between "
                    "windows. Writes the model (--out, read by fastrnn.load and 'fastrnn "
                    "sample') and, next to it, NAME.progress.json (where training stopped). "
                    "Ctrl-C saves a checkpoint and stops; --resume continues.")
    t.add_argument("text_file", nargs="?", metavar="TEXT_FILE",
                   help="UTF-8 text to learn (default: Python's bundled documentation "
                        "topics, pydoc_data.topics)")
    t.add_argument("--hidden", type=_positive_int, default=None, metavar="H",
                   help="hidden units (default 256; with --resume, the checkpoint's)")
    t.add_argument("--seq-len", type=_positive_int, default=32, metavar="T",
                   help="characters per truncated-BPTT window (default 32)")
    t.add_argument("--batch-size", type=_positive_int, default=32, metavar="B",
                   help="parallel streams of the text (default 32)")
    t.add_argument("--time-limit", type=_time_limit, default=None, metavar="S",
                   help="stop after S seconds of this run (default 60 without "
                        "--epochs, none with it; 0: none)")
    t.add_argument("--epochs", type=_positive_int, default=None, metavar="N",
                   help="stop after N passes over the training text in this run")
    t.add_argument("--max-chars", type=_positive_int, default=None, metavar="N",
                   help="stop after N characters of training in this run (at the end "
                        "of the step that reaches N)")
    t.add_argument("--learning-rate", type=_positive_float, default=None, metavar="LR",
                   help=f"Adam's learning rate at the start (default {LEARNING_RATE:g}; "
                        "it decays as the model sees more characters; with --resume, "
                        "the checkpoint's)")
    t.add_argument("--out", default="model.npz", metavar="FILE",
                   help="model file to write (default model.npz)")
    t.add_argument("--resume", action="store_true",
                   help="continue training the model in --out")
    t.add_argument("--seed", type=_seed, default=None, metavar="S",
                   help="seed of the initial weights, the shuffling and the samples")
    t.add_argument("--sample-every", type=_positive_float, default=20.0, metavar="S",
                   help="print a short sample and the held-out bits/char every S "
                        "seconds (default 20)")
    t.add_argument("--profile", action="store_true",
                   help="also time the bare kernels (forward + backward of one window at "
                        "the same sizes) between training calls, and print their rate "
                        "beside the training rate")
    t.add_argument("--checkpoint-every", type=_positive_float, default=30.0, metavar="S",
                   help="save a checkpoint every S seconds (default 30)")

    s = sub.add_parser("sample", help="generate text from a trained model",
                       description="Generate text from a model written by 'fastrnn train'.")
    s.add_argument("model", metavar="MODEL", help="model file (.npz)")
    s.add_argument("--length", type=_positive_int, default=500, metavar="N",
                   help="characters to generate (default 500)")
    s.add_argument("--temperature", type=_temperature, default=0.8, metavar="T",
                   help="softmax temperature: lower is more conservative (default 0.8; "
                        "0: always the most likely character)")
    s.add_argument("--prime", default=None, metavar="TEXT",
                   help="text to start from (printed first; default: a newline)")
    s.add_argument("--seed", type=_seed, default=None, metavar="S",
                   help="random seed: the same seed prints the same text")

    b = sub.add_parser("bench", help="compare the speed with the NumPy reference and PyTorch",
                       description="Time fastrnn against its NumPy reference (and "
                                   "PyTorch, when installed) and print the ratios.")
    bench.add_arguments(b, seconds=_positive_float, seconds_or_zero=_non_negative_float)
    return parser


# --------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# The model: evaluation and sampling on its fitted weights
# --------------------------------------------------------------------------

def bits_per_char(model, ids: np.ndarray, chunk: int = 4096) -> float:
    """Mean cross-entropy in bits of predicting ids[t + 1] from ids[:t + 1],
    one stream from the model's start state: the model's public
    predict_proba over chunks of the text, the state carried from chunk to
    chunk (the same numbers as one call on the whole text)."""
    x = np.asarray(ids[:-1], dtype=np.intp)
    target = np.asarray(ids[1:], dtype=np.intp)
    state = None
    total = 0.0
    for s in range(0, x.size, chunk):
        p, state = model.predict_proba(x[None, s:s + chunk], initial_state=state,
                                       return_state=True)
        picked = p[0, np.arange(p.shape[1]), target[s:s + chunk]].astype(np.float64)
        # (a probability that underflowed to 0 counts as the smallest normal one)
        total -= np.log(np.maximum(picked, np.finfo(p.dtype).tiny)).sum()
    return total / target.size / math.log(2)


def generate(model, prime_ids, length: int, temperature: float,
             rng: np.random.Generator) -> np.ndarray:
    """Sample `length` character ids after the prime ids, one character at a
    time through the model's public step (which carries the hidden state);
    from the probabilities sharpened or flattened by the temperature
    (p ** (1 / temperature), normalized: softmax(logits / temperature)), or
    the most likely character for temperature 0."""
    prime = np.asarray(prime_ids, dtype=np.intp)[None]
    p, h = model.step(prime, return_proba=True)
    out = np.empty(length, dtype=np.intp)
    for i in range(length):
        q = p[0, -1].astype(np.float64)
        if temperature == 0:
            c = int(q.argmax())
        else:
            with np.errstate(divide="ignore"):
                z = np.log(q) / temperature
            w = np.exp(z - z.max())
            cdf = np.cumsum(w)
            c = min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")),
                    len(w) - 1)
        out[i] = c
        p, h = model.step(np.array([[c]], dtype=np.intp), h, return_proba=True)
    return out


def load_model(path, resume=False):
    """A character model written by 'fastrnn train', or CLIError. With resume,
    a note on stderr when the file holds no optimizer state (format 1)."""
    from .estimator import RNNClassifier, load

    if Path(path).is_dir():
        raise CLIError(f"{path}: is a directory, not a model file")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", _io.ModelFileWarning)
            model = load(path)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except PermissionError:
        raise CLIError(f"{path}: permission denied") from None
    except Exception as exc:  # noqa: BLE001 - every failure of load is one line
        msg = " ".join(str(exc).split()) or type(exc).__name__
        if repr(os.fspath(path)) in msg:
            raise CLIError(f"cannot load the model: {msg}") from None
        raise CLIError(f"cannot load the model {path}: {msg}") from None
    classes = getattr(model, "classes_", None)
    if (not isinstance(model, RNNClassifier) or classes is None
            or classes.dtype.kind != "U" or classes.dtype.itemsize != 4
            or model.n_features_in_ != len(classes)):
        raise CLIError(f"{path}: a fastrnn model, but not a character model written by "
                       "'fastrnn train'")
    for w in caught:
        if issubclass(w.category, _io.ModelFileWarning):
            if resume:
                print(f"note: {path} was written by an older fastrnn (model format 1) "
                      "without the optimizer state: training continues with a fresh "
                      "optimizer (the Adam moments start afresh)", file=sys.stderr)
        else:  # pragma: no cover - load warns of nothing else today
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model


# --------------------------------------------------------------------------
# Progress bar
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------


class _TrainRun:
    """One run of 'fastrnn train': the model, the text as parallel streams, the
    position in them (kept in the progress file for --resume) and the limits."""

    def __init__(self, args):
        self.args = args
        self.err = sys.stderr
        self.out = Path(args.out)
        check_writable(self.out)
        self.text, self.source = load_text(args.text_file)
        if len(self.text) < MIN_TEXT:
            raise CLIError(f"{self.source}: too short to learn from ({len(self.text)} "
                           f"characters; need at least {MIN_TEXT})")
        self.carry = None  # the hidden state carried into the next call
        self.model, self.vocab, state = self._open_model()
        self._make_streams()
        self._position(state)
        self._limits()
        self.prog = Progress(self.err)
        self.run_chars = 0
        self.smooth = None  # running mean of the training loss (nats)
        self.val_bpc = state.get("val_bits_per_char") if state else None
        self.kernel_rate = KernelRate() if args.profile else None

    def _open_model(self):
        """(model or None, vocabulary, progress state or None)."""
        args, out = self.args, self.out
        if not args.resume:
            if out.exists():
                print(f"note: {out} exists and will be replaced (--resume continues it "
                      "instead)", file=self.err)
            vocab = np.array(sorted(set(self.text)))
            if len(vocab) < 2:
                raise CLIError(f"{self.source}: the text needs at least two different "
                               "characters")
            return None, vocab, None
        if not out.exists():
            raise CLIError(f"--resume: {out} does not exist (train without --resume first, "
                           "or give the model file with --out)")
        model = load_model(out, resume=True)
        H = model.W_hh_.shape[0]
        if args.hidden is not None and args.hidden != H:
            raise CLIError(f"--hidden {args.hidden} differs from the {H} "
                           f"hidden units of the model in {out}; leave --hidden out to resume")
        return model, model.classes_, read_progress(progress_path(out))

    def _make_streams(self):
        """Held-out text at the end; the rest as `batch` parallel streams."""
        ids = encode(self.text, self.vocab)
        self.n = n = ids.size
        self.n_val = n_val = min(max(2, int(n * HELD_OUT_FRACTION)), HELD_OUT_MAX)
        train_ids, self.val_ids = ids[:n - n_val], ids[n - n_val:]
        self.seq_len = seq_len = min(self.args.seq_len, train_ids.size - 1)
        self.batch = batch = max(1, min(self.args.batch_size, (train_ids.size - 1) // seq_len))
        self.L = L = (train_ids.size - 1) // batch  # steps per stream and epoch
        self.X_all = train_ids[:batch * L].reshape(batch, L)
        # labels: the characters
        self.Y_all = self.vocab[train_ids[1:batch * L + 1]].reshape(batch, L)
        # One partial_fit call trains `per_call` windows of seq_len steps (truncated
        # BPTT inside the estimator, which carries the state from window to window);
        # the limits, Ctrl-C and the progress display are checked between calls.
        per_call = max(1, 256 // seq_len)
        self.chunk = per_call * seq_len
        self.starts = list(range(0, L, self.chunk))
        self.chars_per_epoch = batch * L

    def _position(self, state):
        """A new model at the start, or where the progress file says a resumed one stopped."""
        from .estimator import RNNClassifier

        self.base_lr = self.args.learning_rate or LEARNING_RATE
        if self.model is None:
            self.model = RNNClassifier(
                n_hidden=self.args.hidden or 256, output_steps="all", bptt_steps=self.seq_len,
                batch_size=self.batch, learning_rate=self.base_lr, clip_norm=CLIP_NORM,
                alpha=0.0, n_symbols=len(self.vocab), random_state=self.args.seed)
            self.chars_seen, self.epoch, self.call, self.sample_no = 0, 0, 0, 0
            return
        model, out = self.model, self.out
        model.set_params(bptt_steps=self.seq_len, batch_size=self.batch)
        if self.args.learning_rate is None and state and "learning_rate" in state:
            self.base_lr = state["learning_rate"]  # (checked by read_progress)
        same = (state is not None and state.get("text_sha256") == text_digest(self.text)
                and state.get("seq_len") == self.seq_len
                and state.get("batch_size") == self.batch)
        self.chars_seen = int(state.get("chars_seen", 0)) if state else 0
        self.epoch = int(state.get("epoch", 0)) if state else 0
        self.call = int(state.get("call", 0)) if same else 0
        self.sample_no = int(state.get("samples", 0)) if state else 0
        if self.call >= len(self.starts):
            self.epoch, self.call = self.epoch + 1, 0
        elif same and state.get("carry") is not None:
            if state.get("n_iter") == model.n_iter_:
                self.carry = decode_carry(state["carry"], model.W_hh_.dtype,
                                          (self.batch, model.n_hidden))
            if self.carry is None:
                print(f"note: {progress_path(out)} does not match the model in {out}; the "
                      "streams' hidden states start from zeros", file=self.err)
        where = (f"epoch {self.epoch + self.call / len(self.starts):.2f}" if same else
                 "the start of the text (other text or sizes than the checkpoint's)")
        print(f"resuming {out}: {self.chars_seen:,} characters seen so far; continuing at "
              f"{where}", file=self.err)

    def _limits(self):
        """The run's time and character limits, and the header line."""
        args = self.args
        time_limit = args.time_limit
        if time_limit is None:
            time_limit = 0.0 if args.epochs is not None or args.max_chars is not None else 60.0
        max_chars = args.epochs * self.chars_per_epoch if args.epochs is not None else None
        if args.max_chars is not None:
            max_chars = args.max_chars if max_chars is None else min(max_chars, args.max_chars)
        self.time_limit, self.max_chars = time_limit, max_chars
        self.val_entropy = unigram_entropy(self.val_ids[1:])
        limits = []
        if time_limit:
            limits.append(f"{time_limit:g} s")
        if args.epochs is not None:
            limits.append(f"{args.epochs} epoch{'s' * (args.epochs != 1)}")
        if args.max_chars is not None:
            limits.append(f"{args.max_chars:,} characters")
        batch, L = self.batch, self.L
        print(f"training a character model on {self.source}:\n"
              f"  {self.n:,} characters, {len(self.vocab)} distinct; {batch * L:,} for "
              f"training in {batch} streams, the last {self.n_val:,} held out\n"
              f"  hidden {self.model.n_hidden}, seq-len {self.seq_len}, batch {batch}; "
              + (f"stops after {' or '.join(limits)}; " if limits else "no limit; ")
              + "Ctrl-C saves and stops", file=self.err)

    def save(self):
        # Both files are written atomically (fsync'd temporary file, rename);
        # the model first: a progress file is never newer than its model.
        self.model.save(self.out)
        info = {"format": PROGRESS_FORMAT, "version": 1, "text": self.source,
                "text_sha256": text_digest(self.text), "seq_len": self.seq_len,
                "batch_size": self.batch, "epoch": self.epoch, "call": self.call,
                "chars_seen": self.chars_seen, "samples": self.sample_no,
                "val_bits_per_char": self.val_bpc, "unigram_entropy": self.val_entropy,
                "learning_rate": self.base_lr,
                "n_iter": self.model.n_iter_, "carry": encode_carry(self.carry)}
        data = json.dumps(info, indent=1).encode("utf-8")
        _io.atomic_write(progress_path(self.out), lambda f: f.write(data))

    def show_sample(self, title):
        self.sample_no += 1
        seed = self.args.seed
        srng = np.random.default_rng(None if seed is None else [seed, self.sample_no])
        vocab = self.vocab
        prime = default_prime(vocab)
        s = decode(vocab, generate(self.model, encode(prime, vocab), 200, 0.8, srng))
        self.prog.clear()
        print(f"--- {title} ---\n{prime.lstrip()}{s}\n", flush=True)

    def status(self, elapsed):
        run_chars, time_limit, max_chars = self.run_chars, self.time_limit, self.max_chars
        rate = run_chars / elapsed if elapsed > 0 else 0.0
        fracs, left = [], []
        if time_limit:
            fracs.append(elapsed / time_limit)
            left.append(time_limit - elapsed)
        if max_chars:
            fracs.append(run_chars / max_chars)
            left.append((max_chars - run_chars) / rate if rate > 0 else math.inf)
        parts = [self.prog.bar(max(fracs)) if fracs else f"{elapsed:.0f} s",
                 f"epoch {self.epoch + self.call / len(self.starts):.2f}"]
        if self.smooth is not None:
            parts.append(f"loss {self.smooth:.3f}")
            parts.append(f"{self.smooth / math.log(2):.2f} bits/char")
        if self.val_bpc is not None:
            parts.append(f"held-out {self.val_bpc:.2f}")
        parts.append(f"{fmt_rate(rate)} chars/s")
        if left:
            parts.append(f"{fmt_secs(min(left))} left")
        return " | ".join(parts)

    def step(self):
        """One partial_fit call on the next chunk of the streams; returns the
        characters it trained on."""
        model = self.model
        s = self.starts[self.call]
        e = min(s + self.chunk, self.L)
        X, Y = self.X_all[:, s:e], self.Y_all[:, s:e]
        carry = self.carry
        model.set_params(learning_rate=self.learning_rate())
        if not hasattr(model, "W_hh_"):
            model.partial_fit(X, Y, classes=self.vocab)
        else:
            model.partial_fit(X, Y, initial_state=carry)
        if self.kernel_rate is not None:
            self.kernel_rate.measure(model, X[:, :self.seq_len], carry)
        # The state carried into the next call: the streams' states at the
        # call's last step, as training computed them (exactly what one long
        # call would have carried into its next window).
        self.carry = model.last_state_
        loss = model.loss_curve_[-1]
        self.smooth = loss if self.smooth is None else 0.9 * self.smooth + 0.1 * loss
        done = self.batch * (e - s)
        self.chars_seen += done
        self.run_chars += done
        self.call += 1
        if self.call == len(self.starts):  # end of an epoch: the streams start again
            self.epoch, self.call, self.carry = self.epoch + 1, 0, None
        return done

    def learning_rate(self):
        """The learning rate of the next call: the base rate decayed by the
        characters the model has seen (LR_DECAY_CHARS)."""
        return self.base_lr / math.sqrt(1.0 + self.chars_seen / LR_DECAY_CHARS)

    def _done(self, elapsed, stop):
        """Whether the loop ends before the next call: interrupted or a limit reached."""
        if stop.requested:
            self.interrupted = True
            return True
        return bool(self.run_chars and (
            (self.time_limit and elapsed >= self.time_limit)
            or (self.max_chars is not None and self.run_chars >= self.max_chars)))

    def _loop(self, stop):
        """Train until a limit, Ctrl-C or the end; samples and checkpoints on the way."""
        args, started = self.args, self.started
        last_sample = last_ckpt = started
        while not self._done(self.elapsed(), stop):
            # (at least one call runs, whatever the limits)
            done = self.step()
            now = time.monotonic()
            if now - last_sample >= args.sample_every:
                self.val_bpc = bits_per_char(self.model, self.val_ids)
                self.show_sample(f"sample after {self.chars_seen:,} characters (held-out "
                                 f"{self.val_bpc:.2f} bits/char, unigram entropy "
                                 f"{self.val_entropy:.2f})")
                last_sample = time.monotonic()
            if now - last_ckpt >= args.checkpoint_every or self.run_chars == done:
                self.save()
                last_ckpt = time.monotonic()
            self.prog.update(self.status(self.elapsed()),
                             force=self.run_chars == done)

    def elapsed(self):
        """Seconds of this run, less the time --profile spends on the bare kernels."""
        spent = self.kernel_rate.seconds if self.kernel_rate is not None else 0.0
        return time.monotonic() - self.started - spent

    def run(self) -> int:
        self.started = time.monotonic()
        self.interrupted = False
        with Interrupt() as stop:
            try:
                self._loop(stop)
            except KeyboardInterrupt:  # a second Ctrl-C: stop now
                self.interrupted = True
            elapsed = self.elapsed()
            if not hasattr(self.model, "W_hh_"):  # stopped before the first step
                self.prog.clear()
                print("fastrnn: interrupted before training started; nothing saved",
                      file=self.err)
                return 130
            if not self.interrupted:
                self.val_bpc = bits_per_char(self.model, self.val_ids)
            self.save()
        self.prog.update(self.status(elapsed), force=True)
        self.prog.finish()
        return self._report(elapsed)

    def _report(self, elapsed) -> int:
        out, args, run_chars = self.out, self.args, self.run_chars
        rate = run_chars / elapsed if elapsed > 0 else 0.0
        if self.interrupted:
            print(f"interrupted: saved the model to {out} after {self.chars_seen:,} "
                  f"characters; continue with: fastrnn train --resume --out {out}"
                  + (f" {args.text_file}" if args.text_file else ""), file=self.err)
            return 130
        print(f"trained on {run_chars:,} characters in {elapsed:.1f} s ({fmt_rate(rate)} "
              f"chars/s; {self.chars_seen:,} in total, "
              f"{self.chars_seen / self.chars_per_epoch:.2f} epochs)")
        print(f"held-out bits/char: {self.val_bpc:.3f} (unigram entropy of the held-out "
              f"text: {self.val_entropy:.3f} bits/char)")
        print(f"saved the model to {out}; sample from it with: fastrnn sample {out}")
        if self.kernel_rate is not None:
            print(self.kernel_rate.report(run_chars, elapsed))
        self.show_sample("sample")
        return 0


def cmd_train(args) -> int:
    return _TrainRun(args).run()


# --------------------------------------------------------------------------
# sample, bench
# --------------------------------------------------------------------------

def cmd_sample(args) -> int:
    model = load_model(args.model)
    vocab = model.classes_
    prime = args.prime if args.prime is not None else default_prime(vocab)
    if prime == "":
        raise CLIError("--prime: give at least one character (or leave --prime out)", 2)
    try:
        prime_ids = encode(prime, vocab)
    except CLIError as exc:
        raise CLIError(f"--prime: {exc}", 2) from None
    rng = np.random.default_rng(args.seed)
    ids = generate(model, prime_ids, args.length, args.temperature, rng)
    shown = prime if args.prime is not None else prime.lstrip()
    sys.stdout.write(shown + decode(vocab, ids) + "\n")
    sys.stdout.flush()
    return 0


def _check_output_file(option: str, path: str) -> None:
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise CLIError(f"{option} {path}: is a directory", 2)
    if not parent.is_dir():
        raise CLIError(f"{option} {path}: directory {parent} does not exist", 2)
    if not os.access(parent, os.W_OK):
        raise CLIError(f"{option} {path}: cannot write in {parent}", 2)


def cmd_bench(args) -> int:
    if args.json:
        _check_output_file("--json", args.json)
    if args.plot:
        _check_output_file("--plot", args.plot)
    return bench.run_from_args(args)


def main(argv=None) -> int:
    """Entry point of the ``fastrnn`` console script and ``python -m fastrnn``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        print("fastrnn: error: give a command: train, sample or bench "
              "(see 'fastrnn --help')", file=sys.stderr)
        return 2
    from .estimator import NonFiniteLossError

    commands = {"train": cmd_train, "sample": cmd_sample, "bench": cmd_bench}
    try:
        return commands[args.command](args)
    except CLIError as exc:
        print(f"fastrnn: error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("\nfastrnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. fastrnn sample model.npz | head
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except NonFiniteLossError as exc:
        print(f"fastrnn: error: training diverged ({' '.join(str(exc).split())})",
              file=sys.stderr)
        return 1
    except MemoryError:
        print("fastrnn: error: out of memory (try a smaller --hidden or --batch-size)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
