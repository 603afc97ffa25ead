"""Readout, losses and their gradients for the estimators.

Everything that sits between the hidden states ``h`` (B, T, H) returned by
:func:`fastrnn.functional.forward` and a scalar loss lives here:

1. *Taught positions*: which steps of which sequence carry a target, given
   ``output_steps`` and the true ``lengths`` (:func:`taught_steps`), and which
   rows of a window's ``h.reshape(-1, H)`` they are (:func:`select_window`).
   Padded steps are never taught, so they carry no loss and no gradient.
2. *Readout*: ``out = h_t @ W_hy + b_y`` on the taught rows only
   (:func:`readout`), or, without a readout (``W_hy`` None), the activities
   of hidden units ``0..k-1`` themselves: teaching signals on the units.
3. *Loss*: mean squared error (:class:`SquaredError`), optionally on a
   subset of the output values (a target mask), or softmax cross-entropy
   with a stable log-softmax (:class:`SoftmaxCrossEntropy`).

:func:`output_loss` chains them and returns the loss and ``dL/dh`` in the
(B, T, H) layout that :func:`fastrnn.functional.backward` takes, plus the
readout's gradients. Losses are *sums* over taught outputs; the caller passes
``scale`` (1 / number of taught outputs) so that the gradients are those of
the mean without another pass over the data. :func:`r2_score` is the
regressor's score of its outputs.
"""

from __future__ import annotations

import math

import numpy as np

from . import functional

__all__ = [
    "taught_steps",
    "select_window",
    "readout",
    "log_softmax",
    "softmax",
    "SquaredError",
    "SoftmaxCrossEntropy",
    "output_loss",
    "r2_score",
]


# --------------------------------------------------------------------------
# Taught positions
# --------------------------------------------------------------------------

def taught_steps(output_steps, n_steps, lengths, n):
    """Steps that carry a target, for each of ``n`` sequences.

    Parameters
    ----------
    output_steps : "all", "last" or int K
        A target at every step, at the last step, or at the last K steps of
        each sequence (its *true* last steps when ``lengths`` is given).
    n_steps : int
        T, the padded length.
    lengths : None or int array (n,)
        True lengths in 1..T (already checked; K <= every length).
    n : int
        Number of sequences.

    Returns
    -------
    steps : None or intp array (n, S)
        Step index of each target; None for ``"all"`` (target s is step s).
    valid : None or bool array (n, S)
        False where a target slot is padding (only for ``"all"`` with
        ``lengths``); None when every slot is taught.
    """
    T = n_steps
    if output_steps == "all":
        if lengths is None:
            return None, None
        return None, np.arange(T)[None, :] < lengths[:, None]
    K = 1 if output_steps == "last" else int(output_steps)
    last = np.full(n, T, dtype=np.intp) if lengths is None else lengths.astype(np.intp)
    steps = (last - K)[:, None] + np.arange(K, dtype=np.intp)[None, :]
    return steps, None


def select_window(steps, valid, Y, start, stop):
    """Taught outputs of one window ``[start, stop)`` of a mini-batch.

    Parameters
    ----------
    steps, valid : as returned by :func:`taught_steps` (rows of the batch)
    Y : array (B, S, ...)
        Targets in the compact layout of ``steps`` (for ``"all"``, S = T).
    start, stop : int
        The window, in steps of the full sequences.

    Returns
    -------
    rows : None or intp array (N,)
        Rows of the window's ``h.reshape(-1, H)`` (B * (stop - start) rows)
        that carry a target, in the order of ``targets``; None when every row
        does (then ``targets`` is in row order).
    targets : array (N, ...)
    """
    w = stop - start
    if steps is None:  # "all": target slot s is step s
        if valid is None:
            Yw = Y if (start == 0 and stop == Y.shape[1]) else Y[:, start:stop]
            return None, Yw.reshape((-1,) + Y.shape[2:])
        mask = valid[:, start:stop]
        if mask.all():
            return None, Y[:, start:stop].reshape((-1,) + Y.shape[2:])
        return np.flatnonzero(mask), Y[:, start:stop][mask]
    inside = (steps >= start) & (steps < stop)
    if valid is not None:
        inside &= valid
    elif inside.all():  # every slot, in row order
        rows = np.arange(0, steps.shape[0] * w, w)[:, None] + (steps - start)
        return rows.ravel(), Y.reshape((-1,) + Y.shape[2:])
    bi, si = np.nonzero(inside)
    rows = bi * w + (steps[bi, si] - start)
    return rows, Y[bi, si]


# --------------------------------------------------------------------------
# Matrix products on the kernels
# --------------------------------------------------------------------------
# The readout's products run on the kernels' own products and threads
# (fastrnn.functional.matmul), not in NumPy's BLAS: when two thread pools
# alternate, as they do in every training step, the idle threads of one spin
# on the cores the other needs (training steps 2.6x slower were measured on 2
# cores).

def matmul(a, b):
    """``a @ b`` for 2-D a (m, k), b (k, n); C-contiguous result."""
    return functional.matmul(a, b)


def matmul_tn(a, b):
    """``a.T @ b`` for a (k, m), b (k, n)."""
    return functional.matmul(a, b, trans_a=True)


def matmul_nt(a, b):
    """``a @ b.T`` for a (m, k), b (n, k)."""
    return functional.matmul(a, b, trans_b=True)


# --------------------------------------------------------------------------
# Readout
# --------------------------------------------------------------------------

def readout(hs, W_hy, b_y, n_units=None):
    """Outputs of hidden states hs (N, H): the linear readout ``hs @ W_hy + b_y``;
    or, when ``W_hy`` is None, a copy of the activities of units ``0..n_units-1``."""
    if W_hy is None:
        return np.array(hs[:, :n_units], order="C", copy=True)
    out = matmul(hs, W_hy)
    out += b_y
    return out


# --------------------------------------------------------------------------
# Losses: loss_grad(out, targets, scale) -> (sum of losses, scale * dsum/dout)
# --------------------------------------------------------------------------

def log_softmax(z):
    """``log(softmax(z))`` along the last axis, computed stably.

    Subtracting the row maximum first keeps ``exp`` from overflowing: the
    result is exact for logits of any magnitude.
    """
    z = np.asarray(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(z):
    """Softmax along the last axis, computed stably."""
    z = np.asarray(z)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


class SquaredError:
    """Squared error, averaged over the output dimensions of each taught output.

    For one taught output with prediction ``p`` and target ``y`` (k values)
    the loss is ``mean((p - y) ** 2)``, so the mean over taught outputs is the
    mean squared error over every target value.
    """

    name = "squared_error"

    @staticmethod
    def loss_grad(out, targets, scale, mask=None, col_sums=None, row_losses=None):
        """Return ``(sum of losses, scale * d(sum)/d(out))``.

        ``out`` (N, k) is overwritten by the gradient. ``mask`` (N, k) bool,
        optional: only those values are taught (the others take no loss and no
        gradient); each output's loss is then the sum of its taught squared
        errors divided by k, so that dividing the sum by (taught values / k)
        gives the mean over taught values. ``col_sums`` (k,), optional,
        receives the column sums of the gradient; ``row_losses`` (N,) float64,
        optional, each output's loss.
        """
        k = out.shape[1]
        diff = np.subtract(out, targets, out=out)
        if mask is not None:
            diff *= mask
        flat = diff.ravel()
        loss_sum = float(np.dot(flat, flat)) / k
        if row_losses is not None:
            np.einsum("ij,ij->i", diff, diff, out=row_losses, dtype=np.float64)
            row_losses /= k
        diff *= 2.0 * scale / k
        if col_sums is not None:
            diff.sum(axis=0, out=col_sums)
        return loss_sum, diff


class SoftmaxCrossEntropy:
    """Softmax cross-entropy ``-log softmax(out)[y]`` with integer targets.

    The log-softmax is computed with the row maximum subtracted, so that
    logits of any size give finite losses and gradients
    ``softmax(out) - onehot(y)``.
    """

    name = "log_loss"

    @staticmethod
    def loss_grad(out, targets, scale, mask=None, col_sums=None, row_losses=None):
        """Return ``(sum of losses, scale * d(sum)/d(out))``.

        ``out`` (N, C) holds logits and is overwritten by the gradient;
        ``targets`` (N,) holds class indices. ``mask`` must be None (a target
        mask selects whole outputs, through ``rows``). ``col_sums`` (C,),
        optional, receives the column sums of the gradient; ``row_losses``
        (N,) float64, optional, each output's loss. One pass of the kernels
        over each row (the row maximum, the exponentials, their sum, the loss
        and the gradient), the sums in double.
        """
        if mask is not None:
            raise ValueError("SoftmaxCrossEntropy takes no value mask")
        out = np.ascontiguousarray(out)
        sums = col_sums if col_sums is not None else np.empty(out.shape[1], out.dtype)
        loss_sum = functional.softmax_xent(out, targets, scale, sums, row_losses)
        return loss_sum, out


def output_loss(h, rows, targets, W_hy, b_y, loss, scale, mask=None, row_scale=None,
                dh_zeros=None):
    """Readout and loss of one window, with gradients.

    Parameters
    ----------
    h : array (B, T, H)
        Hidden states of the window.
    rows, targets : as returned by :func:`select_window`
    W_hy, b_y : arrays (H, k), (k,), or None and None
        The readout; None: the outputs are hidden units ``0..k-1`` (k from
        ``targets``), whose loss gradient goes straight into ``dh``.
    loss : SquaredError or SoftmaxCrossEntropy
    scale : float
        Multiplies the gradients (1 / number of taught outputs for a mean).
    mask : None or bool array (N, k)
        Taught values of each taught output (:class:`SquaredError` only).
    row_scale : None or float64 array (N,)
        Sample weights: each taught output's loss and gradient are multiplied
        by its own factor.
    dh_zeros : None or C-contiguous array (B * T, H) of zeros, h's dtype
        Where dh goes when rows is not None: the taught rows are written into
        it and dh is a view of it (the caller sets them back to zero after
        using dh). None: dh is a new array. A buffer kept between training
        steps spares the allocation and first touch of a new (B, T, H)
        array of zeros at every step.

    Returns
    -------
    loss_sum : float
        Sum of the losses of the taught outputs (weighted by row_scale).
    dh : array (B, T, H), C-contiguous
        ``scale * d(loss_sum)/dh``; zero at steps without a target.
    dW_hy, db_y : arrays (H, k), (k,)
        ``scale * d(loss_sum)/dW_hy`` and ``/db_y``; None without a readout.
    """
    B, T, H = h.shape
    hflat = h.reshape(B * T, H)
    hs = hflat if rows is None else hflat[rows]
    if (loss is SoftmaxCrossEntropy and W_hy is not None and mask is None
            and row_scale is None and hs.shape[0] and _fused_readout(hs, W_hy, b_y)):
        # readout, loss and gradients in one kernel call: the same bits
        loss_sum, _, dW_hy, db_y, dhs = functional.readout_xent(
            hs, W_hy, b_y, targets, scale)
        return loss_sum, _scatter_rows(dhs, rows, B, T, H, dh_zeros), dW_hy, db_y
    k = targets.shape[1] if targets.ndim == 2 else None
    out = readout(hs, W_hy, b_y, k)
    db_y = None if W_hy is None else np.empty(out.shape[1], dtype=out.dtype)
    row_losses = None if row_scale is None else np.empty(out.shape[0])
    loss_sum, dout = loss.loss_grad(out, targets, scale, mask, db_y, row_losses)
    if row_scale is not None:  # sample weights, outside the loss functions
        if math.isfinite(loss_sum):
            loss_sum = float(np.dot(row_scale, row_losses))
        dout *= row_scale[:, None]
        if db_y is not None:
            dout.sum(axis=0, out=db_y)
    if W_hy is None:  # the outputs are units 0..k-1
        dW_hy = None
        if k == H:
            dhs = dout
        else:
            dhs = np.zeros((dout.shape[0], H), dtype=h.dtype)
            dhs[:, :k] = dout
    else:
        dW_hy = matmul_tn(hs, dout)
        dhs = matmul_nt(dout, W_hy)
    return loss_sum, _scatter_rows(dhs, rows, B, T, H, dh_zeros), dW_hy, db_y


def _fused_readout(hs, W_hy, b_y):
    """Whether functional.readout_xent applies: C-contiguous float32 or
    float64 arrays of one dtype (as the estimators' always are)."""
    return (hs.dtype == W_hy.dtype == b_y.dtype and hs.dtype in _FUSED_DTYPES
            and hs.flags.c_contiguous and W_hy.flags.c_contiguous
            and b_y.flags.c_contiguous and W_hy.shape[0] > 0 and W_hy.shape[1] > 0)


_FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _scatter_rows(dhs, rows, B, T, H, zeros=None):
    """dh (B, T, H): the rows' gradients dhs at their rows, zero elsewhere
    (in zeros, an array (B * T, H) of zeros, when given)."""
    if rows is None:
        return dhs.reshape(B, T, H)
    if zeros is not None:
        if zeros.shape != (B * T, H) or zeros.dtype != dhs.dtype \
                or not zeros.flags.c_contiguous:
            raise ValueError("output_loss: dh_zeros must be a C-contiguous "
                             f"({B * T}, {H}) array of {dhs.dtype}")
        zeros[rows] = dhs
        return zeros.reshape(B, T, H)
    dh = np.zeros((B * T, H), dtype=dhs.dtype)
    dh[rows] = dhs
    return dh.reshape(B, T, H)


# --------------------------------------------------------------------------
# Score
# --------------------------------------------------------------------------

def r2_score(y_true, y_pred, mask=None, weight=None):
    """R² of each output column, averaged (sklearn's r2_score, uniform_average).

    mask (N, k) bool, optional: each column's R² over its True entries only
    (columns without any are left out of the average). weight (N,), optional:
    each row's weight (sklearn's sample_weight)."""
    y_true = y_true.astype(np.float64)
    y_pred = y_pred.astype(np.float64)
    if mask is not None:
        cols = [j for j in range(y_true.shape[1]) if mask[:, j].any()]
        return float(np.mean([r2_score(y_true[mask[:, j], j][:, None],
                                  y_pred[mask[:, j], j][:, None],
                                  weight=None if weight is None else weight[mask[:, j]])
                              for j in cols]))
    if weight is None:
        ss_res = ((y_true - y_pred) ** 2).sum(axis=0)
        ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    else:
        w = weight[:, None]
        ss_res = (w * (y_true - y_pred) ** 2).sum(axis=0)
        mean = (w * y_true).sum(axis=0) / w.sum()
        ss_tot = (w * (y_true - mean) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                      np.where(ss_res > 0, 0.0, 1.0))
    return float(r2.mean())
