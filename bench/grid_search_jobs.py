"""GridSearchCV over RNNRegressor with n_jobs = 1, 2 and -1 on this machine.

    python bench/grid_search_jobs.py [--rounds 3]

12 fits (4 settings x 3 folds) of a small regressor. joblib's process
workers set OpenMP's thread limit in each worker to their share of the
CPUs, which fastrnn's kernels follow, so parallel fits do not pile threads
on the same cores. Each n_jobs is timed in alternating rounds (the first
round includes starting joblib's workers) and the median is reported with
the speed-up over n_jobs=1.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from sklearn.model_selection import GridSearchCV

import fastrnn


def data(n=192, T=30, D=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T, D))
    y = np.cumsum(X[:, :, :1] * 0.3 + X[:, :, 1:2] * 0.1, axis=1)
    return X, y


def search(n_jobs, X, y):
    grid = {"n_hidden": [32, 64], "learning_rate": [0.003, 0.01]}
    gs = GridSearchCV(fastrnn.RNNRegressor(max_epochs=15, batch_size=16, random_state=0),
                      grid, cv=3, n_jobs=n_jobs)
    start = time.perf_counter()
    gs.fit(X, y)
    return time.perf_counter() - start, gs.best_score_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    X, y = data()
    times = {1: [], 2: [], -1: []}
    scores = {}
    for r in range(args.rounds):
        for n_jobs in times:
            t, score = search(n_jobs, X, y)
            times[n_jobs].append(t)
            scores[n_jobs] = score
            print(f"round {r + 1}: n_jobs={n_jobs:2d} {t:6.2f} s  best score {score:.6f}",
                  flush=True)
    base = statistics.median(times[1])
    for n_jobs, ts in times.items():
        med = statistics.median(ts)
        print(f"n_jobs={n_jobs:2d}: median {med:6.2f} s, {base / med:4.2f}x n_jobs=1 "
              f"(first round {ts[0]:.2f} s)")
    assert len({round(s, 12) for s in scores.values()}) == 1, scores  # same search


if __name__ == "__main__":
    main()
