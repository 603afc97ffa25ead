"""Sine-wave forecasting: learn to continue a wave, then run the model on its own output.

Each sequence is ``a * sin(w * t + phi)`` with a random amplitude, frequency
and phase. An RNNRegressor is trained to predict the next value at every step
(``output_steps="all"``). To forecast, it reads the first `observe` steps of a
new wave, then feeds each prediction back as the next input, carrying its
hidden state between calls (``step(X, state)``). The baseline is persistence:
repeating the last observed value.

    python examples/sine_forecast.py [--quick] [--out-dir DIR] [--seed S]

Writes sine_forecast.json (forecast RMSE, baseline RMSE) and sine_forecast.csv
(the test waves and their forecasts) into --out-dir, and the plot
sine_forecast.png when matplotlib is installed (without it, only the numbers).
"""

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from fastrnn import RNNRegressor


def make_waves(n, T, rng):
    """(n, T) waves a * sin(w t + phi), a in [0.5, 1], w in [0.1, 0.3] rad/step."""
    a = rng.uniform(0.5, 1.0, size=(n, 1))
    w = rng.uniform(0.1, 0.3, size=(n, 1))
    phi = rng.uniform(0, 2 * np.pi, size=(n, 1))
    return a * np.sin(w * np.arange(T)[None] + phi)


def forecast(model, observed, horizon):
    """Read observed (n, T0), then predict `horizon` more steps, each from the last."""
    pred, h = model.step(observed[:, :, None])  # read the observed part; h: the state after it
    nxt = pred[:, -1]  # the model's next value after the observed part
    out = np.empty((observed.shape[0], horizon))
    for k in range(horizon):
        out[:, k] = nxt
        pred, h = model.step(nxt[:, None, None], h)  # one more step, from its own prediction
        nxt = pred[:, -1]
    return out


def write_plot(path, observed, truth, pred, n_show=3):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    fig = Figure(figsize=(9, 2.4 * n_show), layout="constrained")
    FigureCanvasAgg(fig)
    T0, K = observed.shape[1], truth.shape[1]
    for i in range(n_show):
        ax = fig.add_subplot(n_show, 1, i + 1)
        ax.plot(np.arange(T0), observed[i], color="black", label="observed")
        ax.plot(np.arange(T0, T0 + K), truth[i], color="gray", linestyle="--", label="truth")
        ax.plot(np.arange(T0, T0 + K), pred[i], color="tab:red", label="fastrnn forecast")
        ax.axvline(T0 - 0.5, color="gray", linewidth=0.5)
        if i == 0:
            ax.legend(loc="upper left", fontsize=8, ncols=3)
    ax.set_xlabel("step")
    fig.suptitle("RNNRegressor: next-step model run on its own predictions")
    fig.savefig(path, dpi=90)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small model, a few seconds")
    parser.add_argument("--out-dir", default=".", help="where to write the results")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.quick:
        n_train, T, hidden, epochs = 600, 80, 32, 30
    else:
        n_train, T, hidden, epochs = 1000, 100, 32, 40
    observe, horizon = 60, 40
    rng = np.random.default_rng(args.seed)
    waves = make_waves(n_train, T + 1, rng)
    X, y = waves[:, :-1, None], waves[:, 1:]

    model = RNNRegressor(n_hidden=hidden, output_steps="all", learning_rate=5e-3,
                         batch_size=32, max_epochs=epochs, n_iter_no_change=epochs,
                         random_state=args.seed)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start

    test = make_waves(200, observe + horizon, rng)
    observed, truth = test[:, :observe], test[:, observe:]
    pred = forecast(model, observed, horizon)
    rmse = float(np.sqrt(np.mean((pred - truth) ** 2)))
    persistence = float(np.sqrt(np.mean((observed[:, -1:] - truth) ** 2)))
    rmse_by_step = np.sqrt(np.mean((pred - truth) ** 2, axis=0))

    out_dir = Path(args.out_dir)
    with open(out_dir / "sine_forecast.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["wave", "step", "value", "kind"])
        for i in range(5):
            for t in range(observe):
                w.writerow([i, t, f"{observed[i, t]:.6f}", "observed"])
            for k in range(horizon):
                w.writerow([i, observe + k, f"{truth[i, k]:.6f}", "truth"])
                w.writerow([i, observe + k, f"{pred[i, k]:.6f}", "forecast"])
    plotted = write_plot(out_dir / "sine_forecast.png", observed, truth, pred)
    result = {"example": "sine_forecast", "train_waves": n_train, "n_hidden": hidden,
              "epochs": model.n_iter_, "train_seconds": seconds, "observe": observe,
              "horizon": horizon, "forecast_rmse": rmse, "persistence_rmse": persistence,
              "forecast_rmse_by_step": rmse_by_step.tolist(), "plot": plotted}
    (out_dir / "sine_forecast.json").write_text(json.dumps(result, indent=1))
    print(f"sine forecast, {horizon} steps ahead after {observe} observed: RMSE {rmse:.3f} "
          f"vs {persistence:.3f} for repeating the last value; trained {model.n_iter_} "
          f"epochs in {seconds:.1f} s")
    print(f"wrote {out_dir / 'sine_forecast.json'}, {out_dir / 'sine_forecast.csv'}"
          + (f", {out_dir / 'sine_forecast.png'}" if plotted else
             " (matplotlib is not installed: no plot, the numbers are in the CSV)"))
    return result


if __name__ == "__main__":
    main()
