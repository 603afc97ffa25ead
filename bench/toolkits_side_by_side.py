"""fastrnn beside the recurrent estimators of aeon and sktime, on data shipped with aeon.

    python bench/toolkits_side_by_side.py [--seeds 3] [--threads 2]

Rows (held-out score and fit time; fastrnn over several seeds, mean and range):

* ItalyPowerDemand (1 channel, 24 steps; 67 train / 1029 test): fastrnn's
  aeon classifier at its defaults; sktime's SimpleRNNClassifierTorch at its
  defaults and with 64 units, batch 32, Adam and tanh (if sktime and torch are
  installed).
* BasicMotions (6 channels, 100 steps; 40 / 40): fastrnn and sktime's
  SimpleRNNClassifierTorch at their defaults.
* Covid3Month regression (1 channel, 84 steps; 140 / 61), RMSE: fastrnn's
  RNNRegressor at its defaults, and with ``autoscale=False`` (what the defaults
  were before autoscale); aeon's RecurrentRegressor (only when tensorflow is
  installed); predicting the training mean.

Everything is read from the data sets inside aeon (no download). Needs aeon;
sktime and torch are optional. Threads: fastrnn's and torch's limited to
``--threads``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import time
import warnings

import numpy as np


def _timed(make, X, y, Xt, score):
    est = make()
    # (Keras prints progress bars to stdout in predict: kept out of the table)
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        est.fit(X, y)
        elapsed = time.perf_counter() - t0
        predicted = est.predict(Xt)
    return score(predicted), elapsed


def _row(data, model, results, metric):
    s = np.array([r[0] for r in results])
    t = np.array([r[1] for r in results])
    if len(results) > 1:
        score = f"{s.mean():.3f} ({s.min():.3f}-{s.max():.3f})"
        fit = f"{t.mean():.2f} ({t.min():.2f}-{t.max():.2f})"
    else:
        score, fit = f"{s[0]:.3f}", f"{t[0]:.2f}"
    print(f"| {data} | {model} | {len(results)} | {metric} {score} | {fit} |", flush=True)


def _skipped(data, model, why):
    print(f"| {data} | {model} | - | skipped ({why}) | - |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="fastrnn seeds per row")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")

    import fastrnn
    from aeon.datasets import load_basic_motions, load_covid_3month, load_italy_power_demand
    from fastrnn.aeon import RNNClassifier, RNNRegressor

    have_torch = all(importlib.util.find_spec(m) for m in ("sktime", "torch"))
    if have_torch:
        import torch
        from sktime.classification.deep_learning.rnn import SimpleRNNClassifierTorch

        torch.set_num_threads(args.threads)
    seeds = range(args.seeds)
    print(f"fastrnn {fastrnn.__version__}, {args.threads} threads")
    print("| data | model | runs | held-out score | fit time, s |")
    print("| --- | --- | --- | --- | --- |")

    with fastrnn.threads(args.threads):
        for name, load, sk_configs in (
            ("ItalyPowerDemand", load_italy_power_demand,
             [("defaults", {}),
              ("64 units, batch 32, Adam, tanh",
               dict(hidden_dim=64, batch_size=32, optimizer="Adam",
                    activation_hidden="Tanh"))]),
            ("BasicMotions", load_basic_motions, [("defaults", {})]),
        ):
            X, y = load(split="train")
            Xt, yt = load(split="test")

            def accuracy(pred, yt=yt):
                return float(np.mean(pred == yt))

            _row(name, "fastrnn.aeon.RNNClassifier (defaults)",
                 [_timed(lambda s=s: RNNClassifier(random_state=s), X, y, Xt, accuracy)
                  for s in seeds], "accuracy")
            for label, kw in sk_configs:
                model = f"sktime SimpleRNNClassifierTorch ({label})"
                if not have_torch:
                    _skipped(name, model, "sktime or torch not installed")
                    continue
                _row(name, model, [_timed(lambda: SimpleRNNClassifierTorch(
                    random_state=0, **kw), X, y, Xt, accuracy)], "accuracy")

        X, y = load_covid_3month(split="train")
        Xt, yt = load_covid_3month(split="test")

        def rmse(pred):
            return float(np.sqrt(np.mean((pred - yt) ** 2)))

        name = "Covid3Month"
        _row(name, "fastrnn.aeon.RNNRegressor (defaults)",
             [_timed(lambda s=s: RNNRegressor(random_state=s), X, y, Xt, rmse)
              for s in seeds], "RMSE")
        _row(name, "fastrnn.aeon.RNNRegressor (autoscale=False)",
             [_timed(lambda s=s: RNNRegressor(random_state=s, autoscale=False), X, y, Xt,
                     rmse) for s in seeds], "RMSE")
        if importlib.util.find_spec("tensorflow"):
            from aeon.regression.deep_learning import RecurrentRegressor

            _row(name, "aeon RecurrentRegressor (defaults)",
                 [_timed(lambda: RecurrentRegressor(random_state=0), X, y, Xt, rmse)],
                 "RMSE")
        else:
            _skipped(name, "aeon RecurrentRegressor (defaults)", "tensorflow not installed")
        print(f"| {name} | training mean | - | RMSE {rmse(np.full(len(yt), y.mean())):.3f} "
              "| - |")


if __name__ == "__main__":
    main()
