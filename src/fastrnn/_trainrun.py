"""One run of ``fastrnn train`` (:class:`TrainRun`: the model, the text as
parallel streams, the position in them and the limits) and its bookkeeping:
the progress display, the progress file next to the model (position and
carried hidden states, for ``--resume``), the output check and Ctrl-C
handling."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

from . import io as _io
from ._charmodel import bits_per_char, generate, load_model
from ._chartext import (CLIError, decode, default_prime, encode, load_text,
                        unigram_entropy)

__all__ = ["PROGRESS_FORMAT", "Progress", "fmt_rate", "fmt_secs", "progress_path",
           "check_writable", "check_not_text", "Interrupt", "text_digest", "read_progress",
           "encode_carry", "decode_carry", "KernelRate", "TrainRun"]

PROGRESS_FORMAT = "fastrnn train progress"
MAX_PROGRESS_BYTES = 1 << 24

# Held-out text: the last 5% of the text, at most this many characters (the
# evaluation runs the recurrence one step after another on a single stream).
HELD_OUT_FRACTION = 0.05
HELD_OUT_MAX = 50_000
MIN_TEXT = 20  # characters
# Hyperparameters of the character model that the command line does not expose.
LEARNING_RATE = 3e-3
SEQ_LEN = 32  # --seq-len's default (with --resume: the checkpoint's)
BATCH_SIZE = 32  # --batch-size's default (with --resume: the checkpoint's)
# The learning rate decays with the characters seen (over all runs of a
# model, so a resumed run follows the same schedule as one run):
# learning_rate / sqrt(1 + chars_seen / LR_DECAY_CHARS).
LR_DECAY_CHARS = 2_000_000
CLIP_NORM = 5.0


class Progress:
    """A one-line progress display on a stream (stderr): redrawn in place with
    \\r on a terminal (at most every `redraw` seconds), one line every `every`
    seconds otherwise."""

    def __init__(self, stream=None, every: float = 5.0, width: int = 24, redraw: float = 0.1):
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.every = every  # seconds between lines when not a terminal
        self.redraw = redraw  # seconds between redraws on a terminal
        self.width = width
        self.last = -math.inf
        self.shown = 0  # length of the line drawn in place
        self.last_text = None

    def bar(self, fraction: float) -> str:
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(self.width * fraction))
        return "[" + "#" * filled + "." * (self.width - filled) + f"] {100 * fraction:3.0f}%"

    def update(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            if not force and now - self.last < self.redraw:
                return
            self.last = now
            pad = max(0, self.shown - len(text))
            self.stream.write("\r" + text + " " * pad)
            self.shown = len(text)
            self.stream.flush()
        elif (force or now - self.last >= self.every) and text != self.last_text:
            self.stream.write(text + "\n")
            self.stream.flush()
            self.last = now
            self.last_text = text

    def finish(self) -> None:
        """Leave the last line drawn on a terminal in place and end it."""
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = 0

    def clear(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\r" + " " * self.shown + "\r")
            self.stream.flush()
            self.shown = 0


def fmt_rate(chars_per_s: float) -> str:
    return f"{chars_per_s / 1e3:.1f}k" if chars_per_s >= 1e3 else f"{chars_per_s:.0f}"


def fmt_secs(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = max(0, int(round(s)))
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"


def progress_path(out: Path) -> Path:
    """Where 'fastrnn train' keeps its position for --resume, next to the model."""
    return out.with_name(out.stem + ".progress.json")


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # (one of them does not exist)
        return False


def check_not_text(out: Path, text_file) -> None:
    """CLIError when the model file out or its progress file is the text
    file (the same file under any name): training would overwrite the text."""
    if text_file is None:
        return
    if _same_file(out, text_file):
        raise CLIError(f"--out {out}: is the text file {text_file} itself (training "
                       "would replace it with the model); give another --out")
    if _same_file(progress_path(out), text_file):
        raise CLIError(f"--out {out}: its progress file {progress_path(out)} is the text "
                       f"file {text_file} (training would replace it); give another --out")


def check_writable(out: Path) -> None:
    """CLIError unless the model file out and its progress file can be written."""
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise CLIError(f"--out {out}: is a directory")
    if progress_path(out).is_dir():
        raise CLIError(f"--out {out}: its progress file {progress_path(out)} is a directory")
    if not parent.is_dir():
        raise CLIError(f"--out {out}: directory {parent} does not exist")
    probe = parent / f".{out.name}.{os.getpid()}.probe"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CLIError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


class Interrupt:
    """SIGINT handler for the training loop: the first Ctrl-C asks the loop to
    stop after the current step (it then saves); a second one interrupts."""

    def __init__(self):
        self.requested = False
        self.previous = None

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: Ctrl-C raises KeyboardInterrupt
            self.previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_progress(path: Path) -> dict | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_PROGRESS_BYTES:
            return None
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(state, dict) or state.get("format") != PROGRESS_FORMAT:
        return None
    # Only well-formed values count; anything else is as if it were missing
    # (a count beyond int64, which no run reaches, too: JSON's integers have
    # no bound, and floats made of them overflow).
    ints = ("chars_seen", "epoch", "call", "samples", "seq_len", "batch_size", "n_iter")
    clean = {k: state[k] for k in ints
             if isinstance(state.get(k), int) and not isinstance(state[k], bool)
             and 0 <= state[k] < 2**63}
    if isinstance(state.get("text_sha256"), str):
        clean["text_sha256"] = state["text_sha256"]
    bpc = state.get("val_bits_per_char")
    if isinstance(bpc, (int, float)) and not isinstance(bpc, bool) and math.isfinite(bpc):
        clean["val_bits_per_char"] = float(bpc)
    lr = state.get("learning_rate")
    if (isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr)
            and lr > 0):
        clean["learning_rate"] = float(lr)
    if isinstance(state.get("carry"), dict):
        clean["carry"] = state["carry"]
    return clean


def encode_carry(carry) -> dict | None:
    """The hidden state carried into the next call, exactly, as JSON data."""
    if carry is None:
        return None
    c = np.ascontiguousarray(carry, dtype=carry.dtype.newbyteorder("<"))
    return {"dtype": carry.dtype.name, "shape": list(carry.shape),
            "base64": base64.b64encode(c.tobytes()).decode("ascii")}


def decode_carry(data, dtype, shape):
    """The carried state saved by encode_carry, or None when it does not fit."""
    try:
        if data.get("dtype") != np.dtype(dtype).name or data.get("shape") != list(shape):
            return None
        raw = base64.b64decode(data["base64"], validate=True)
        le = np.dtype(dtype).newbyteorder("<")
        if len(raw) != math.prod(shape) * le.itemsize:
            return None
        carry = np.frombuffer(raw, dtype=le).astype(dtype).reshape(shape)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None
    return carry if np.isfinite(carry).all() else None



class KernelRate:
    """The bare kernels' training rate beside the main job's (``fastrnn train
    --profile``): after each training call, one forward + backward window of
    the public :func:`fastrnn.forward` / :func:`fastrnn.backward` at the run's
    sizes (the call's first window of ids, the model's current weights, its
    carried state), timed. Interleaved so that both rates see the same load;
    the run's clock leaves this time out."""

    def __init__(self):
        self.seconds = 0.0
        self.chars = 0
        self._dh = None

    def measure(self, model, ids, h0):
        from . import functional

        ids = np.ascontiguousarray(ids)
        W_xh, W_hh, b = model.W_xh_, model.W_hh_, model.b_
        shape = ids.shape + (W_hh.shape[0],)
        if self._dh is None or self._dh.shape != shape:
            self._dh = np.full(shape, 1e-3, dtype=W_hh.dtype)
        start = time.perf_counter()
        h = functional.forward(ids, W_xh, W_hh, b, h0, activation=model.activation)
        functional.backward(ids, h, self._dh, W_xh, W_hh, h0, activation=model.activation)
        self.seconds += time.perf_counter() - start
        self.chars += ids.size

    def report(self, run_chars, elapsed):
        """The two rates and their ratio, one line."""
        if not self.seconds or not elapsed:
            return "profile: no complete training call to compare"
        bare = self.chars / self.seconds
        main = run_chars / elapsed
        return (f"profile: the main job {fmt_rate(main)} chars/s; the bare kernels "
                f"(forward + backward, same sizes) {fmt_rate(bare)} chars/s, measured "
                f"between its calls: the main job runs at {main / bare:.0%} of the "
                f"kernels' rate")


class TrainRun:
    """One run of 'fastrnn train': the model, the text as parallel streams, the
    position in them (kept in the progress file for --resume) and the limits."""

    def __init__(self, args):
        self.args = args
        self.err = sys.stderr
        self.out = Path(args.out)
        check_writable(self.out)
        check_not_text(self.out, args.text_file)
        self.text, self.source = load_text(args.text_file)
        if len(self.text) < MIN_TEXT:
            raise CLIError(f"{self.source}: too short to learn from ({len(self.text)} "
                           f"characters; need at least {MIN_TEXT})")
        self.carry = None  # the hidden state carried into the next call
        self.model, self.vocab, state = self._open_model()
        self._make_streams(*self._sizes(state))
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

    def _sizes(self, state):
        """(--seq-len, --batch-size): as given; else, resuming, the
        checkpoint's (from its progress file); else the defaults."""
        sizes = []
        for key, default in (("seq_len", SEQ_LEN), ("batch_size", BATCH_SIZE)):
            value = getattr(self.args, key)
            if value is None:
                value = (state or {}).get(key) or default  # (checked by read_progress)
            sizes.append(value)
        return sizes

    def _make_streams(self, seq_len, batch):
        """Held-out text at the end; the rest as `batch` parallel streams of
        windows of seq_len (both made smaller for a short text)."""
        ids = encode(self.text, self.vocab)
        self.n = n = ids.size
        self.n_val = n_val = min(max(2, int(n * HELD_OUT_FRACTION)), HELD_OUT_MAX)
        train_ids, self.val_ids = ids[:n - n_val], ids[n - n_val:]
        self.seq_len = seq_len = min(seq_len, train_ids.size - 1)
        self.batch = batch = max(1, min(batch, (train_ids.size - 1) // seq_len))
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
