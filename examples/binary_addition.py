"""Binary addition: learn the carry, then add numbers longer than any seen in training.

Two numbers are fed bit by bit, least significant first (two inputs per
step); at every step the RNNClassifier outputs the bit of the sum at that
position (``output_steps="all"``). The sum bit depends on the carry from all
the earlier steps, which the network has to keep in its hidden state. It is
trained on 8-bit numbers and tested on 8-bit and 24-bit ones.

Baseline: the XOR of the two input bits, the right sum bit wherever no carry
comes in (a little over half of the bits, and a whole sum only when no carry
happens at all).

    python examples/binary_addition.py [--quick] [--out-dir DIR] [--seed S]

Writes binary_addition.json (bit and whole-sum accuracies, model and baseline)
into --out-dir.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fastrnn import RNNClassifier


def make_data(n, bits, rng):
    """X (n, bits + 1, 2): the bits of a and b (LSB first, then a 0 step for
    the final carry); y (n, bits + 1): the bits of a + b."""
    a = rng.integers(0, 2**bits, size=n, dtype=np.int64)
    b = rng.integers(0, 2**bits, size=n, dtype=np.int64)
    pos = np.arange(bits + 1)
    X = np.stack([(a[:, None] >> pos) & 1, (b[:, None] >> pos) & 1], axis=2)
    y = ((a + b)[:, None] >> pos) & 1
    return X.astype(np.float64), y


def accuracies(pred, y):
    return float((pred == y).mean()), float((pred == y).all(axis=1).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, a few seconds")
    parser.add_argument("--out-dir", default=".", help="where to write the result")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    n_train, bits, epochs = (1000, 8, 40) if args.quick else (2000, 8, 60)
    rng = np.random.default_rng(args.seed)
    X, y = make_data(n_train, bits, rng)
    model = RNNClassifier(n_hidden=16, output_steps="all", learning_rate=0.01,
                          batch_size=32, max_epochs=epochs, n_iter_no_change=epochs,
                          random_state=args.seed)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start

    result = {"example": "binary_addition", "train_bits": bits, "train_sequences": n_train,
              "epochs": model.n_iter_, "train_seconds": seconds, "test": {}}
    lines = []
    for test_bits in (bits, 24):
        Xt, yt = make_data(1000, test_bits, rng)
        bit_acc, sum_acc = accuracies(model.predict(Xt), yt)
        xor = (Xt[:, :, 0].astype(int) ^ Xt[:, :, 1].astype(int))
        base_bit, base_sum = accuracies(xor, yt)
        result["test"][f"{test_bits}_bits"] = {
            "bit_accuracy": bit_acc, "sum_accuracy": sum_acc,
            "xor_bit_accuracy": base_bit, "xor_sum_accuracy": base_sum}
        lines.append(f"  {test_bits:2d}-bit numbers: {100 * sum_acc:5.1f}% of sums exact, "
                     f"{100 * bit_acc:5.1f}% of bits (XOR without carry: {100 * base_sum:4.1f}% "
                     f"of sums, {100 * base_bit:4.1f}% of bits)")
    out = Path(args.out_dir) / "binary_addition.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"binary addition, trained on {bits}-bit numbers ({model.n_iter_} epochs in "
          f"{seconds:.1f} s):")
    print("\n".join(lines))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
