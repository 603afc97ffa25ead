"""The bookkeeping of a ``fastrnn train`` run: the progress display, the
progress file next to the model (position and carried hidden states, for
``--resume``), the output check and Ctrl-C handling."""

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

from ._chartext import CLIError

__all__ = ["PROGRESS_FORMAT", "Progress", "fmt_rate", "fmt_secs", "progress_path",
           "check_writable", "Interrupt", "text_digest", "read_progress", "encode_carry",
           "decode_carry", "KernelRate"]

PROGRESS_FORMAT = "fastrnn train progress"
MAX_PROGRESS_BYTES = 1 << 24


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


def check_writable(out: Path) -> None:
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise CLIError(f"--out {out}: is a directory")
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
    # Only well-formed values count; anything else is as if it were missing.
    ints = ("chars_seen", "epoch", "call", "samples", "seq_len", "batch_size", "n_iter")
    clean = {k: state[k] for k in ints
             if isinstance(state.get(k), int) and not isinstance(state[k], bool)
             and state[k] >= 0}
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
