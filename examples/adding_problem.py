"""The adding problem: remember two marked numbers across a long sequence.

Each input sequence has T steps of two features: a random number in [0, 1) and
a marker that is 1 at exactly two steps (one in each half) and 0 elsewhere.
The target, read at the last step, is the sum of the two marked numbers
(Hochreiter & Schmidhuber, 1997). Predicting the mean, 1.0, whatever the
input gives a mean squared error of about 1/6: that is the baseline to beat.
A ReLU RNN whose recurrent matrix starts at the identity (Le, Jaitly &
Hinton, 2015; ``activation="relu"`` in fastrnn) solves it.

    python examples/adding_problem.py [--quick] [--out-dir DIR] [--seed S]

Writes adding_problem.json (test MSE, baseline MSE, settings) into --out-dir.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fastrnn import RNNRegressor


def make_data(n, T, rng):
    """X (n, T, 2): numbers and markers; y (n,): the sum of the two marked numbers."""
    X = np.zeros((n, T, 2))
    X[:, :, 0] = rng.uniform(0, 1, size=(n, T))
    first = rng.integers(0, T // 2, size=n)
    second = rng.integers(T // 2, T, size=n)
    X[np.arange(n), first, 1] = 1
    X[np.arange(n), second, 1] = 1
    y = X[np.arange(n), first, 0] + X[np.arange(n), second, 0]
    return X, y


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short sequences, a few seconds")
    parser.add_argument("--out-dir", default=".", help="where to write the result")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.quick:
        T, n_train, hidden, epochs = 20, 2000, 32, 8
    else:
        T, n_train, hidden, epochs = 50, 4000, 64, 10
    rng = np.random.default_rng(args.seed)
    X, y = make_data(n_train, T, rng)
    X_test, y_test = make_data(1000, T, rng)

    model = RNNRegressor(n_hidden=hidden, activation="relu", output_steps="last",
                         learning_rate=1e-3, batch_size=32, max_epochs=epochs,
                         n_iter_no_change=epochs, random_state=args.seed)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start

    mse = float(np.mean((model.predict(X_test) - y_test) ** 2))
    baseline = float(np.mean((1.0 - y_test) ** 2))  # always predict the mean sum
    result = {"example": "adding_problem", "steps": T, "train_sequences": n_train,
              "n_hidden": hidden, "epochs": model.n_iter_, "train_seconds": seconds,
              "test_mse": mse, "baseline_mse": baseline,
              "loss_curve": model.loss_curve_}
    out = Path(args.out_dir) / "adding_problem.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"adding problem, {T} steps: test MSE {mse:.4f} vs {baseline:.4f} for always "
          f"predicting 1.0 ({baseline / mse:.0f}x lower), {model.n_iter_} epochs in "
          f"{seconds:.1f} s")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
