"""The character model of ``fastrnn train`` in PyTorch, for comparison.

The same text, vocabulary, streams and held-out split as ``fastrnn train``
(its own functions prepare them), and the same model and training: one-hot
characters into ``nn.RNN`` (tanh) and ``nn.Linear`` to the next character,
Adam, gradient norm clipped at 5, truncated BPTT over ``--seq-len``
characters with each stream's hidden state carried from window to window;
then the held-out bits/char, one stream from a zero state, as ``fastrnn
train`` reports it.

    python bench/char_model_torch.py --time-limit 60 --seq-len 64 --learning-rate 2e-3
    python bench/char_model_torch.py TEXT_FILE --time-limit 15

Needs PyTorch (not a dependency of fastrnn). Prints the characters trained
on, the rate and the held-out bits/char.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from fastrnn._chartext import encode, load_text
from fastrnn._trainrun import HELD_OUT_FRACTION, HELD_OUT_MAX


def _split(text, batch, seq_len):
    vocab = np.array(sorted(set(text)))
    ids = encode(text, vocab)
    n = ids.size
    n_val = min(max(2, int(n * HELD_OUT_FRACTION)), HELD_OUT_MAX)
    train, val = ids[:n - n_val], ids[n - n_val:]
    seq_len = min(seq_len, train.size - 1)
    batch = max(1, min(batch, (train.size - 1) // seq_len))
    L = (train.size - 1) // batch
    X = train[:batch * L].reshape(batch, L)
    Y = train[1:batch * L + 1].reshape(batch, L)
    return vocab, X, Y, val, seq_len


def main(argv=None):
    import torch
    from torch import nn

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("text_file", nargs="?")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    text, source = load_text(args.text_file)
    vocab, X, Y, val, T = _split(text, args.batch_size, args.seq_len)
    V, H = len(vocab), args.hidden
    rnn = nn.RNN(V, H, batch_first=True)
    head = nn.Linear(H, V)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=args.learning_rate)
    eye = torch.eye(V)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    B, L = X.shape
    chars, start, h, s = 0, time.perf_counter(), None, 0
    while time.perf_counter() - start < args.time_limit:
        if s + T > L:
            s, h = 0, None  # the end of an epoch: the streams start again
        x = eye[Xt[:, s:s + T]]
        out, h_last = rnn(x, h)
        loss = nn.functional.cross_entropy(head(out).reshape(-1, V), Yt[:, s:s + T].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        h = h_last.detach()
        s += T
        chars += B * T
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        out, _ = rnn(eye[torch.from_numpy(val[:-1])][None])
        logp = torch.log_softmax(head(out[0]).double(), dim=1)
        nll = -logp[torch.arange(val.size - 1), torch.from_numpy(val[1:])].mean().item()
    print(f"PyTorch {torch.__version__} on {source}: {chars:,} characters in {elapsed:.1f} s "
          f"({chars / elapsed / 1e3:.1f}k chars/s), hidden {H}, seq-len {T}, batch {B}, "
          f"learning rate {args.learning_rate:g}")
    print(f"held-out bits/char: {nll / math.log(2):.3f}")


if __name__ == "__main__":
    main()
