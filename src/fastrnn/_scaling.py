"""Automatic scaling (``autoscale``): training on inputs and targets of about unit size.

The initial weights (Glorot, orthogonal) and the optimizers' step sizes assume
inputs and targets of about unit size. Inputs in the thousands saturate tanh
from the first step (every unit is +-1: the network can only memorize), and
targets of a few hundredths make the absolute ``tol`` rule stop training
before it has learned anything (and the L2 penalty outweigh the loss). So a
fit from scratch measures each input feature's and each target column's root
mean square r (over true steps and taught values) and, when r is far from 1
(``log2 r`` rounds to an integer e outside -2..2), trains on that column
divided by ``2**e``.

Training runs on the scaled data with weights in the scaled space: ``W_xh``'s
row of a scaled feature multiplied by its scale, the readout's column of a
scaled target divided by its scale. The fitted attributes always hold the
weights of the unscaled data (converted back after each training run), so
predict, step, save and the model's equations never see the scales. Scales
are powers of two: both conversions are exact (no rounding), and
``partial_fit`` / ``warm_start`` continue exactly where a run stopped (the
optimizer's state lives in the scaled space; the scales of the first fit are
kept).

Internal interface of :mod:`fastrnn._base` and :mod:`fastrnn._persist`: the
names without a leading underscore.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LEAVE", "exponents", "input_exponents", "target_exponents", "Scaled"]

#: columns whose log2 RMS rounds to an integer in -LEAVE..LEAVE are not scaled
LEAVE = 2


def exponents(sum_sq, count):
    """The base-2 exponent of each column's scale (0: unscaled), as a list of int."""
    out = []
    for s, c in zip(np.asarray(sum_sq, dtype=np.float64).tolist(),
                    np.asarray(count, dtype=np.float64).tolist()):
        e = 0
        if c > 0 and s > 0 and np.isfinite(s):
            e = int(np.round(0.5 * np.log2(s / c)))
        out.append(0 if -LEAVE <= e <= LEAVE else e)
    return out


def input_exponents(data):
    """Exponents of the input features (true steps only); zeros for integer ids."""
    X = data.X
    if X.ndim != 3:
        return [0] * int(data.n_in)
    sq = np.square(X, dtype=np.float64)
    if data.lengths is None:
        return exponents(sq.sum(axis=(0, 1)), np.full(X.shape[2], X.shape[0] * X.shape[1]))
    true = np.arange(X.shape[1])[None, :] < data.lengths[:, None]
    return exponents(sq[true].sum(axis=0), np.full(X.shape[2], int(true.sum())))


def target_exponents(data):
    """Exponents of the target columns (taught values only)."""
    Y = data.Y
    taught = np.ones(Y.shape, dtype=bool) if data.vmask is None else data.vmask.copy()
    if data.valid is not None:
        taught &= data.valid[:, :, None]
    sq = np.where(taught, np.square(np.where(taught, Y, 0), dtype=np.float64), 0.0)
    return exponents(sq.sum(axis=(0, 1)), taught.sum(axis=(0, 1)))


def _scales(exps, dtype):
    return np.ldexp(np.ones(len(exps), dtype=dtype), np.asarray(exps, dtype=np.int32))


class Scaled:
    """The scaled data of a training run, and the weights' conversions.

    ``x_exp`` and ``y_exp`` (lists of int, or None: no scaling) are the
    exponents of the input features and of the readout's targets."""

    def __init__(self, x_exp, y_exp):
        self.x_exp = x_exp if x_exp is not None and any(x_exp) else None
        self.y_exp = y_exp if y_exp is not None and any(y_exp) else None

    def __bool__(self):
        return self.x_exp is not None or self.y_exp is not None

    def data(self, data):
        """data (a Batch) with X and Y divided by their scales: new arrays, the
        caller's are not changed."""
        if self.x_exp is not None:
            data.X = data.X / _scales(self.x_exp, data.X.dtype)
        if self.y_exp is not None:
            data.Y = data.Y / _scales(self.y_exp, data.Y.dtype)
        return data

    def to_training(self, params):
        """The weights of unscaled data -> of the scaled data (in place, exact)."""
        self._convert(params, 1)

    def to_model(self, params):
        """The weights of the scaled data -> of unscaled data (in place, exact)."""
        self._convert(params, -1)

    def _convert(self, params, sign):
        if self.x_exp is not None:  # the first layer's input weights, each direction's
            for key in ("W_xh", "W_xh_reverse"):
                if key in params:
                    W = params[key]
                    W *= _scales([sign * e for e in self.x_exp], W.dtype)[:, None]
        if self.y_exp is not None:
            for key in ("W_hy", "b_y"):
                if key in params:
                    params[key] *= _scales([-sign * e for e in self.y_exp], params[key].dtype)
