"""A character model of ``fastrnn train`` in use: loading it from its file,
its held-out bits per character and sampling from it, all through the
estimator's public API (``fastrnn.load``, ``predict_proba``, ``step``)."""

from __future__ import annotations

import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from . import io as _io
from ._chartext import CLIError

__all__ = ["bits_per_char", "generate", "load_model"]


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
    x = np.empty((1, 1), dtype=np.intp)  # each step's input (step reads a copy)
    inv_temperature = 1 / temperature if temperature else 0.0
    for i in range(length):
        q = p[0, -1].astype(np.float64)
        if temperature == 0:
            c = int(q.argmax())
        else:
            # (q / max q) ** (1 / T): the largest weight is 1, so no
            # temperature makes them all underflow to 0
            cdf = np.cumsum(np.power(q / q.max(), inv_temperature))
            c = min(int(cdf.searchsorted(rng.random() * cdf[-1], side="right")),
                    len(cdf) - 1)
        out[i] = x[0, 0] = c
        p, h = model.step(x, h, return_proba=True)
    return out


def load_model(path, resume=False):
    """A character model written by 'fastrnn train', or CLIError. With resume,
    only a model that 'fastrnn train' can continue (one layer, a target at
    every step), and a note on stderr when the file holds no optimizer state
    (format 1)."""
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
            or model.n_features_in_ != len(classes)
            or (np.char.str_len(classes) != 1).any()):  # '' fits in '<U1' too
        raise CLIError(f"{path}: a fastrnn model, but not a character model written by "
                       "'fastrnn train'")
    layout = model._layout()
    if layout.n_dir == 2:
        raise CLIError(f"{path}: a bidirectional model, whose backward direction reads "
                       "the text from its end: it cannot generate text one character at "
                       "a time")
    if resume and not layout.single:
        raise CLIError(f"{path}: a model of {len(layout.sizes)} layers; 'fastrnn train "
                       "--resume' continues the one-layer models 'fastrnn train' writes")
    if resume and model.output_steps != "all":
        raise CLIError(f"{path}: a model with output_steps={model.output_steps!r}; 'fastrnn "
                       "train --resume' continues the models 'fastrnn train' writes, which "
                       "predict the next character at every step (output_steps='all')")
    for w in caught:
        if issubclass(w.category, _io.ModelFileWarning):
            if resume:
                print(f"note: {path} was written by an older fastrnn (model format 1) "
                      "without the optimizer state: training continues with a fresh "
                      "optimizer (the Adam moments start afresh)", file=sys.stderr)
        else:  # pragma: no cover - load warns of nothing else today
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model
