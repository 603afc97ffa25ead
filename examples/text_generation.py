"""Text generation: a character-level language model with the estimator API.

The text is read as integer character ids (a row lookup into W_xh_, no
one-hot arrays), cut into 32 parallel streams, and an RNNClassifier learns to
predict the next character at every step with truncated BPTT (``bptt_steps``:
the hidden state is carried from one 64-step window to the next). Then it
writes text one character at a time, feeding each sampled character back and
carrying the hidden state (``step(ids, state, return_proba=True)``).

The held-out score is bits per character on the last 5% of the text; the
baseline is the unigram entropy of that text (the best any model that ignores
context can do).

    python examples/text_generation.py [TEXT_FILE] [--quick] [--out-dir DIR] [--seed S]

Without TEXT_FILE it learns Python's bundled documentation (pydoc_data.topics).
Writes text_generation.json (bits/char, entropy) and text_generation.txt (the
samples) into --out-dir. ``fastrnn train`` is the full-featured version
(progress, checkpoints, Ctrl-C, --resume).
"""

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from fastrnn import RNNClassifier


def builtin_text():
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k].strip() for k in sorted(topics)) + "\n"


def bits_per_char(model, ids):
    """Cross-entropy in bits of predicting each character from the ones before it."""
    proba = model.predict_proba(ids[None, :-1])[0]  # (T - 1, V)
    p = proba[np.arange(ids.size - 1), ids[1:]]
    return float(-np.mean(np.log2(np.maximum(p, 1e-12))))


def unigram_entropy(ids):
    p = np.bincount(ids) / ids.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def sample(model, vocab, prime, length, temperature, rng):
    """prime + `length` characters drawn from softmax(log p / temperature)."""
    index = {c: i for i, c in enumerate(vocab)}
    ids = np.array([[index[c] for c in prime]])
    proba, h = model.step(ids, return_proba=True)  # read the prime; h: the state after it
    p = proba[0, -1]
    out = []
    for _ in range(length):
        logp = np.log(np.maximum(p.astype(np.float64), 1e-30)) / temperature
        q = np.exp(logp - logp.max())
        c = rng.choice(len(q), p=q / q.sum())
        out.append(vocab[c])
        proba, h = model.step(np.array([[c]]), h, return_proba=True)  # one more character
        p = proba[0, -1]
    return prime + "".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("text_file", nargs="?", help="UTF-8 text (default: pydoc topics)")
    parser.add_argument("--quick", action="store_true", help="a small model, a few seconds")
    parser.add_argument("--out-dir", default=".", help="where to write the results")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    text = (Path(args.text_file).read_text(encoding="utf-8") if args.text_file
            else builtin_text())
    if args.quick:
        text = text[:120_000]
        hidden, epochs = 32, 10
    else:
        hidden, epochs = 128, 3
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = np.array([index[c] for c in text], dtype=np.int64)

    n_val = max(2, len(ids) // 20)
    train, held_out = ids[:-n_val], ids[-n_val:]
    streams = 32
    L = (train.size - 1) // streams
    X = train[:streams * L].reshape(streams, L)        # integer ids: (streams, steps)
    y = train[1:streams * L + 1].reshape(streams, L)   # the next character's id

    model = RNNClassifier(n_hidden=hidden, output_steps="all", bptt_steps=64,
                          batch_size=streams, learning_rate=2e-3, alpha=0.0,
                          max_epochs=epochs, n_iter_no_change=epochs,
                          n_symbols=len(vocab), random_state=args.seed)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start

    bpc = bits_per_char(model, held_out)
    entropy = unigram_entropy(held_out[1:])
    rng = np.random.default_rng(args.seed)
    samples = {t: sample(model, vocab, "The ", 300 if not args.quick else 120, t, rng)
               for t in (0.5, 0.8, 1.0)}

    out_dir = Path(args.out_dir)
    with open(out_dir / "text_generation.txt", "w", encoding="utf-8") as f:
        for t, s in samples.items():
            f.write(f"--- temperature {t} ---\n{s}\n\n")
    result = {"example": "text_generation", "characters": len(text), "vocabulary": len(vocab),
              "n_hidden": hidden, "epochs": model.n_iter_, "train_seconds": seconds,
              "held_out_bits_per_char": bpc, "held_out_unigram_entropy": entropy,
              "uniform_bits_per_char": math.log2(len(vocab))}
    (out_dir / "text_generation.json").write_text(json.dumps(result, indent=1))
    print(f"text generation: {len(text):,} characters, {len(vocab)} distinct; "
          f"{model.n_iter_} epochs in {seconds:.1f} s")
    print(f"held-out {bpc:.2f} bits/char vs {entropy:.2f} for the unigram entropy "
          f"({math.log2(len(vocab)):.2f} for uniform guessing)")
    print(f"--- sample at temperature 0.8 ---\n{samples[0.8]}\n---")
    print(f"wrote {out_dir / 'text_generation.json'}, {out_dir / 'text_generation.txt'}")
    return result


if __name__ == "__main__":
    main()
