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
import math
import os
import sys
from pathlib import Path

import numpy as np

from . import __version__, bench
from ._charmodel import generate, load_model
from ._chartext import (CLIError, decode, default_prime, default_text, encode, load_text,
                        unigram_entropy)
from ._trainrun import LEARNING_RATE, TrainRun

__all__ = ["main", "load_text", "default_text",
           "unigram_entropy", "CLIError"]



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
# Bounds far beyond what a machine holds (W_hh of MAX_HIDDEN units: 4 TiB in
# float32; MAX_LENGTH characters: 8 GB of ids), which keep absurd numbers
# from reaching NumPy as array sizes; below them, running out of memory is
# the one-line "out of memory" error.
MAX_HIDDEN = 1 << 20
MAX_LENGTH = 10**9
_hidden = _number(int, lambda v: 1 <= v <= MAX_HIDDEN, f"an integer from 1 to {MAX_HIDDEN}")
_length = _number(int, lambda v: 1 <= v <= MAX_LENGTH, f"an integer from 1 to {MAX_LENGTH}")
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
    t.add_argument("--hidden", type=_hidden, default=None, metavar="H",
                   help="hidden units (default 256; with --resume, the checkpoint's)")
    t.add_argument("--seq-len", type=_positive_int, default=None, metavar="T",
                   help="characters per truncated-BPTT window (default 32; with "
                        "--resume, the checkpoint's)")
    t.add_argument("--batch-size", type=_positive_int, default=None, metavar="B",
                   help="parallel streams of the text (default 32; with --resume, the "
                        "checkpoint's)")
    t.add_argument("--time-limit", type=_time_limit, default=None, metavar="S",
                   help="stop after S seconds of this run (default 60 without "
                        "--epochs or --max-chars, none with them; 0: none)")
    t.add_argument("--epochs", type=_positive_int, default=None, metavar="N",
                   help="stop after N passes over the training text in this run")
    t.add_argument("--max-chars", type=_positive_int, default=None, metavar="N",
                   help="stop after N characters of training in this run (at the end "
                        "of the training call that reaches N: about 256 characters of "
                        "each stream per call)")
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
    s.add_argument("--length", type=_length, default=500, metavar="N",
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
# train, sample, bench
# --------------------------------------------------------------------------

def cmd_train(args) -> int:
    return TrainRun(args).run()


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
        # (checked before the run: matplotlib names the format only when it saves)
        ext = os.path.splitext(args.plot)[1][1:].lower()
        formats = bench.plot_formats()
        if ext not in formats:
            what = f"unknown file type '.{ext}'" if ext else "no file extension"
            raise CLIError(f"--plot {args.plot}: {what}; the plot can be written as "
                           f"{', '.join(formats)}", 2)
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
        hint = {"train": " (try a smaller --hidden or --batch-size)",
                "sample": " (try a smaller --length)"}.get(args.command, "")
        print(f"fastrnn: error: out of memory{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
