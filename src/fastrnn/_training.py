"""Training: initial weights, the epoch loop, truncated-BPTT windows, early
stopping, the optimizer step and progress output.

A :class:`Trainer` works on an explicit parameter set: a dict of the arrays
``W_xh``, ``W_hh``, ``b`` and, when the model has them, ``h0``, ``W_hy``,
``b_y`` (the estimator's fitted attributes themselves, updated in place),
and those of the further layers and directions of a stacked or
bidirectional network (named by :mod:`fastrnn._stack`). The recurrence and
its BPTT are :func:`fastrnn.functional.forward` and
:func:`fastrnn.functional.backward` (the stacks': :func:`fastrnn._stack.run_forward`
and ``run_backward``); readout and losses
:func:`fastrnn.losses.output_loss`; updates :mod:`fastrnn.optim`.

Internal interface of :mod:`fastrnn.estimator`: the names without a leading
underscore. :func:`run_epochs` updates the estimator's fit history
(``loss_curve_``, ``n_iter_``, ``validation_scores_``,
``best_validation_score_``, ``best_loss_``).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np

from . import functional as _F
from . import losses as _losses
from . import optim as _optim
from . import _layers, _stack
from ._data import Batch, compose_h0, h0_gradient
from ._sklearn import warn

__all__ = ["NonFiniteLossError", "H0_INIT_SCALE", "init_params", "Trainer",
           "Window", "windows", "split_validation", "optimizer_for", "run_epochs"]

#: a learned h0_ starts from U(-s, s) (tanh) or U(0, s) (relu)
H0_INIT_SCALE = 0.1


class NonFiniteLossError(FloatingPointError, ValueError):
    """Training produced a non-finite loss, gradient or weight.

    Raised by ``fit`` and ``partial_fit``, which then stop; the estimator
    keeps the last weights that were finite (those before the failing update),
    ``loss_curve_`` and ``n_iter_`` of the completed epochs. When the update
    made a weight non-finite, the optimizer's state (moments, velocities,
    step count) keeps that update: start again with ``fit`` rather than
    continuing with ``partial_fit``. Subclasses FloatingPointError and
    ValueError; ``fastrnn.NonFiniteLossError``.
    """


def init_params(cfg, n_features, n_outputs, rng):
    """Initial weights (see the estimators' Notes), by name: each layer and
    direction in turn (fastrnn._stack.Layout.slots), then the readout, then
    the learned initial states."""
    layout = _stack.Layout.from_config(cfg)
    k, dt = n_outputs, cfg.dtype

    def glorot(fan_in, fan_out):
        a = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=(fan_in, fan_out)).astype(dt)

    params = {}
    for l, d in layout.slots:
        s, H, D = _stack.suffix(l, d), layout.sizes[l], layout.input_width(l, n_features)
        params["W_xh" + s] = glorot(D, H) if D > 0 else np.zeros((0, H), dtype=dt)
        if cfg.activation == "tanh":
            q, r = np.linalg.qr(rng.standard_normal((H, H)))
            params["W_hh" + s] = (q * np.sign(np.diag(r))).astype(dt)  # Haar orthogonal
        else:
            params["W_hh" + s] = np.eye(H, dtype=dt)
        params["b" + s] = np.zeros(H, dtype=dt)
    if cfg.readout:
        params["W_hy"] = glorot(layout.top, k)
        params["b_y"] = np.zeros(k, dtype=dt)
    if cfg.learn_initial_state:  # drawn last: the other weights do not depend on them
        lo = -H0_INIT_SCALE if cfg.activation == "tanh" else 0.0
        for l, d in layout.slots:
            params["h0" + _stack.suffix(l, d)] = rng.uniform(
                lo, H0_INIT_SCALE, size=layout.sizes[l]).astype(dt)
    return params


def optimizer_for(cfg, current, incremental):
    """The optimizer of a fit: a fresh one, or (partial_fit with the same
    kind) current with its state kept and the current hyperparameters."""
    if not incremental or current is None or current.name != cfg.optimizer:
        return _optim.make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.momentum,
                                     cfg.nesterov)
    hp = {"learning_rate": cfg.learning_rate}
    if cfg.optimizer == "sgd":
        hp.update(momentum=cfg.momentum, nesterov=cfg.nesterov)
    current.set_hyperparameters(**hp)
    return current


def split_validation(owner, data, fraction, rng):
    """(train, validation) Batches: a random ceil(fraction * n) sequences held out
    (fraction: the validation_fraction hyperparameter as given). Each part
    must have a taught output of a sequence whose sample weight is > 0."""
    n = data.n
    n_val = math.ceil(float(fraction) * n)
    if n_val < 1 or n - n_val < 1:
        raise ValueError(
            f"{owner}: validation_fraction={fraction} "
            f"with {n} sequences leaves {n - n_val} for training and {n_val} for "
            "validation; both need at least one"
        )
    perm = rng.permutation(n)
    train, val = data.take(np.sort(perm[n_val:])), data.take(np.sort(perm[:n_val]))
    for part, name in ((train, "training"), (val, "validation")):
        if _taught_weight(part) == 0:
            raise ValueError(
                f"{owner}: early stopping drew {part.n} of the {n} sequences for "
                f"{name}, and none of them has a taught output with a sample_weight > 0, "
                f"so the {name} {'loss' if name == 'training' else 'score'} is undefined; "
                "give another random_state or validation_fraction, or early_stopping=False"
            )
    return train, val


def _taught_weight(batch):
    """The total sample weight of a Batch's sequences that have a taught output."""
    taught = np.ones(batch.n) if batch.valid is None else batch.valid.any(axis=1) * 1.0
    return float((taught if batch.weight is None else taught * batch.weight).sum())


# --------------------------------------------------------------------------
# truncated-BPTT windows
# --------------------------------------------------------------------------

@dataclass
class Window:
    """Steps [start, end) of the sequences of a batch that are still running."""

    start: int
    end: int
    x: np.ndarray  # the inputs of those steps, C-contiguous
    lengths: np.ndarray | None  # true steps in the window; None: all of them
    alive: np.ndarray | None  # rows of the batch in the window; None: all
    targets: Batch  # the batch, or its alive rows (for their targets)


def windows(batch, k):
    """The windows of truncated BPTT with k steps (one window of the whole
    sequences when k is None or >= T); stops when every sequence has ended."""
    X, L = batch.X, batch.lengths
    T = X.shape[1]
    if k is None or k >= T:
        yield Window(0, T, X, L, None, batch)
        return
    for s in range(0, T, k):
        e = min(s + k, T)
        w = e - s
        alive = None  # rows of the batch that still have steps in this window
        Lw = None
        sub = batch
        if L is not None:
            mask = L > s
            if not mask.any():  # every sequence of the batch has ended
                return
            if not mask.all():
                alive = np.flatnonzero(mask)

                def sub_rows(a):
                    return None if a is None else a[alive]
                sub = Batch(X=X, lengths=L[alive], Y=batch.Y[alive],
                            steps=sub_rows(batch.steps), valid=sub_rows(batch.valid),
                            vmask=sub_rows(batch.vmask), weight=sub_rows(batch.weight))
            Lw = np.minimum(sub.lengths - s, w)
            if (Lw == w).all():
                Lw = None
        x = X[:, s:e] if alive is None else X[alive, s:e]
        yield Window(s, e, np.ascontiguousarray(x), Lw, alive, sub)


def _select(sub, s, e):
    """The taught outputs of steps [s, e): rows, targets, value mask."""
    rows, targets = _losses.select_window(sub.steps, sub.valid, sub.Y, s, e)
    vmask = None
    if sub.vmask is not None:
        _, vmask = _losses.select_window(sub.steps, sub.valid, sub.vmask, s, e)
    return rows, targets, vmask


# --------------------------------------------------------------------------
# gradients and updates
# --------------------------------------------------------------------------

class Trainer:
    """Loss, gradients and updates of one parameter set.

    params: the arrays by name (fastrnn._stack.Layout.param_names: the
    fitted attributes' names without their "_"), updated in place; loss:
    losses.SquaredError or losses.SoftmaxCrossEntropy; optimizer: an
    optim.Optimizer (None to compute gradients only).
    """

    def __init__(self, params, loss, cfg, optimizer=None):
        self.params = params
        self.loss = loss
        self.cfg = cfg
        self.optimizer = optimizer
        self.backup = {k: np.empty_like(v) for k, v in params.items()}
        self.layout = _stack.Layout.from_config(cfg)
        self._dh_zeros = None  # see _zeros_for
        # a stack's large arrays, kept between windows (fastrnn._layers.Workspace)
        self._workspace = None if self.layout.single else _layers.Workspace()

    def _zeros_for(self, n_rows, width, dtype):
        """An (n_rows, width) array of zeros kept between windows, for the
        gradient of a window taught at some of its steps (losses.output_loss's
        dh_zeros): a new one of that size would cost an allocation and the
        first touch of its pages at every step. Whoever writes rows into it
        sets them back to zero."""
        z = self._dh_zeros
        if z is None or z.shape != (n_rows, width) or z.dtype != dtype:
            z = self._dh_zeros = np.zeros((n_rows, width), dtype=dtype)
        return z

    def batch_h0(self, init, mask=None):
        """The initial state of a batch and where h0's gradient comes from
        (see :func:`fastrnn._data.compose_h0`; a stack's state is every
        layer's, fastrnn._stack)."""
        p = self.params
        base = p.get("h0") if self.layout.single else self.layout.learned_h0(p)
        return compose_h0(base, init, mask, p["W_hh"].dtype)

    def penalty(self):
        """The L2 term ``0.5 * alpha * |W|^2`` (not biases, not h0)."""
        alpha = self.cfg.alpha
        if not alpha:
            return 0.0
        total = 0.0
        for w in self._penalized():
            total += _optim.sum_of_squares(w.ravel().astype(np.float64))
        return 0.5 * alpha * total

    def _penalized(self):
        p = self.params
        weights = [p[w + _stack.suffix(l, d)] for l, d in self.layout.slots
                   for w in ("W_xh", "W_hh")]
        return weights + ([p["W_hy"]] if "W_hy" in p else [])

    def loss_grad(self, x, lengths, h0, h0_free, rows, targets, vmask=None, want_dh0=False,
                  weight=None):
        """Forward, outputs, loss and BPTT of one window.

        h0, h0_free: as returned by :meth:`batch_h0` (h0_free None for a
        carried state). vmask: taught values of the taught outputs (N, k).
        weight: the sample weight of each sequence of the window (B,), or None.

        Returns (last, loss_sum, n_taught, grads): last (B, total) the final
        states (each sequence's at its last step of the window; a stack's
        every layer's, fastrnn._stack), and grads maps parameter names
        to the gradients of ``loss_sum / n_taught + L2 term``; grads is None
        when the window has no taught output. n_taught counts outputs (taught
        values / k with a value mask). With want_dh0, grads["initial_state"]
        is backward's dh0. With weights, each output's loss and count are
        multiplied by its sequence's weight (see :func:`_row_weights`).
        """
        p, alpha = self.params, self.cfg.alpha
        h, last, run = self._forward(x, lengths, h0)
        N = targets.shape[0]
        row_w = None
        if N and weight is not None:
            row_w, N = _row_weights(weight, rows, x.shape[1], vmask)
        elif N and vmask is not None:
            N = int(np.count_nonzero(vmask)) / vmask.shape[1]
        if N == 0:
            return last, 0.0, 0, None
        W_hy = p.get("W_hy")
        # a single layer's backward only reads dh: its zeros can be kept (a
        # stack's moves gradients within dh)
        zeros = None
        if rows is not None and self.layout.single:
            zeros = self._zeros_for(h.shape[0] * h.shape[1], h.shape[2], h.dtype)
        try:
            loss_sum, dh, dW_hy, db_y = _losses.output_loss(
                h, rows, targets, W_hy, p.get("b_y"), self.loss, 1.0 / N, vmask, row_w,
                zeros)
            if not math.isfinite(loss_sum):
                raise NonFiniteLossError(f"the training loss is not finite ({loss_sum})")
            # NaN or inf in h or dh makes the gradient norm non-finite, which apply()
            # refuses: the kernels need no scan for them.
            grads, dh0 = run(dh)
        finally:
            if zeros is not None:
                zeros[rows] = 0
        if dh0 is not None and h0.ndim == 1 and dh0.ndim == 2:
            dh0 = dh0.sum(axis=0)
        g_h0 = h0_gradient(dh0, h0_free)
        if g_h0 is not None:
            if self.layout.single:
                grads["h0"] = g_h0
            else:
                for (l, d), (a, b) in zip(self.layout.slots, self.layout.spans()):
                    grads["h0" + _stack.suffix(l, d)] = g_h0[a:b]
        if W_hy is not None:
            grads["W_hy"] = dW_hy
            grads["b_y"] = db_y
        if alpha:
            for l, d in self.layout.slots:
                for w in ("W_xh", "W_hh"):
                    grads[w + _stack.suffix(l, d)] += alpha * p[w + _stack.suffix(l, d)]
            if W_hy is not None:
                grads["W_hy"] += alpha * W_hy
        if want_dh0:
            grads["initial_state"] = dh0
        return last, loss_sum, N, grads

    def _forward(self, x, lengths, h0):
        """The forward pass of a window: (the readout's input (B, T, width),
        the final states (B, total), run: dL/d(readout input) -> (the
        recurrent weights' gradients by name, dh0))."""
        p, activation, layout = self.params, self.cfg.activation, self.layout
        B = x.shape[0]
        if layout.single:
            W_xh, W_hh = p["W_xh"], p["W_hh"]
            h0_rows = h0
            if h0 is not None and h0.ndim == 1:  # one learned h0_ for the whole batch
                h0_rows = np.ascontiguousarray(np.broadcast_to(h0, (B, h0.shape[0])))
            h = _F.trusted_forward(x, W_xh, W_hh, p["b"], h0_rows, activation, lengths)
            last = h[:, -1] if lengths is None else h[np.arange(B), lengths - 1]

            def run(dh):
                g = _F.trusted_backward(x, h, dh, W_xh, W_hh, h0_rows, activation, lengths,
                                        want_dx=False)  # no gradient of the data
                return {"W_xh": g.dW_xh, "W_hh": g.dW_hh, "b": g.db}, g.dh0
            return h, last, run
        ws = self._workspace
        out, h_n, cache = _stack.run_forward(layout, p, x, lengths, h0, activation, ws)
        last = layout.join(h_n)
        moved = None
        if layout.n_dir == 2 and self.cfg.output_steps == "last":
            moved = _stack.last_output(out, lengths)

        def run_stack(dh):
            if moved is not None:
                _stack.move_last_gradient(dh, *moved)
            return _stack.run_backward(layout, cache, dh, ws)
        return out, last, run_stack

    def objective(self, data):
        """Objective of one mini-batch (all of data, full BPTT) and its gradients,
        with ``"initial_state"``: the gradient w.r.t. data.init (zero at the
        units it does not set), when data has one."""
        data = data.take(np.arange(data.n))  # private copies, for the trusted kernels
        T = data.X.shape[1]
        rows, targets, vmask = _select(data, 0, T)
        h0, free = self.batch_h0(data.init, data.init_mask)
        _, loss_sum, N, grads = self.loss_grad(data.X, data.lengths, h0, free, rows, targets,
                                               vmask, want_dh0=data.init is not None,
                                               weight=data.weight)
        if data.init is not None:
            d = grads["initial_state"]
            grads["initial_state"] = d if data.init_mask is None else np.where(
                data.init_mask, d, 0)
        return loss_sum / N + self.penalty(), grads

    def apply(self, grads):
        """Clip, update in place, and undo the update if a weight turned non-finite."""
        params, backup = self.params, self.backup
        norm = _optim.grad_norm(grads.values())
        if not math.isfinite(norm):
            raise NonFiniteLossError(f"the gradient norm is not finite ({norm})")
        scale = _optim.clip_scale(norm, self.cfg.clip_norm)
        key = self.optimizer.checked_step(params, grads, backup, scale)
        if key is not None:
            for k in grads:
                np.copyto(params[k], backup[k])
            raise NonFiniteLossError(f"the update made {key}_ non-finite")

    def train_batch(self, batch):
        """Train on one mini-batch: one update, or one per truncated-BPTT window,
        each sequence's last hidden state in a window being the (constant)
        initial state of its next window. Returns (sum of losses, number of
        taught outputs, last states): the last states (B, H) are each
        sequence's hidden state at its last true step, as the window that
        reached it computed it (before that window's update): the state the
        next window of a longer sequence would start from."""
        total, count = 0.0, 0
        carry = None
        for w in windows(batch, self.cfg.bptt_steps):
            if w.start == 0:  # every sequence is alive in the first window
                h0, free = self.batch_h0(batch.init, batch.init_mask)
            else:  # a carried state: a constant, no gradient flows through it
                h0, free = (carry if w.alive is None else carry[w.alive]), None
            rows, targets, vmask = _select(w.targets, w.start, w.end)
            last, loss_sum, N, grads = self.loss_grad(w.x, w.lengths, h0, free, rows,
                                                      targets, vmask, weight=w.targets.weight)
            if grads is not None:
                self.apply(grads)
            total += loss_sum
            count += N
            if w.alive is None:
                carry = np.ascontiguousarray(last)
            else:
                carry[w.alive] = last
        return total, count, carry


def _row_weights(weight, rows, n_steps, vmask):
    """Sample weights of a window's taught outputs: (row_w, total).

    weight (B,): each sequence's weight; rows: the taught rows of the
    window's ``h.reshape(-1, H)`` (None: all B * n_steps rows, in order);
    vmask: taught values (N, k) or None. row_w (N,) is each output's weight,
    total the weighted count of taught outputs (sum of row_w, each output
    counted as its taught values / k under a value mask): a weight of 2
    counts an output as twice, exactly as if its sequence were given twice.
    """
    seq = np.repeat(np.arange(weight.shape[0]), n_steps) if rows is None else rows // n_steps
    row_w = weight[seq]
    if vmask is None:
        return row_w, float(row_w.sum())
    counts = np.count_nonzero(vmask, axis=1) / vmask.shape[1]
    return row_w, float(np.dot(row_w, counts))


# --------------------------------------------------------------------------
# epochs
# --------------------------------------------------------------------------

def _train_epoch(trainer, train, rng, owner, epoch, verbose):
    """One pass over the shuffled mini-batches: (sum of losses, taught outputs,
    last states (n, H) in the order of train's sequences)."""
    n = train.n
    bs = min(trainer.cfg.batch_size, n)
    n_batches = -(-n // bs)
    perm = rng.permutation(n)
    loss_total, count = 0.0, 0
    states = None
    bar = _ProgressBar(n_batches) if verbose >= 2 else None
    for j in range(n_batches):
        idx = perm[j * bs:(j + 1) * bs]
        batch = train.take(idx)
        try:
            loss_sum, N, last = trainer.train_batch(batch)
        except NonFiniteLossError as exc:
            if bar is not None:
                bar.close()
            raise NonFiniteLossError(
                f"{owner}: {exc} in epoch {epoch}, mini-batch {j + 1}. "
                "Training stopped; the estimator keeps its last finite weights. "
                "Lower learning_rate, turn clip_norm on (or lower it), or scale "
                "X and y."
            ) from None
        loss_total += loss_sum
        count += N
        if states is None:
            states = np.empty((n, last.shape[1]), dtype=last.dtype)
        states[idx] = last
        if bar is not None:
            bar.update(j + 1)
    if bar is not None:
        bar.close()
    return loss_total, count, states


def _update_no_improvement_count(est, cfg, early, loss, score, count):
    """The epochs without improvement after this one (scikit-learn's MLP rule);
    updates the best score or loss. Returns (count, improved best score)."""
    if early:
        count = count + 1 if score < est.best_validation_score_ + cfg.tol else 0
        if score > est.best_validation_score_:
            est.best_validation_score_ = score
            return count, True
        return count, False
    count = count + 1 if loss > est.best_loss_ - cfg.tol else 0
    if loss < est.best_loss_:
        est.best_loss_ = loss
    return count, False


def run_epochs(est, trainer, train, val, rng, n_epochs, incremental, score):
    """The epoch loop of fit (and the single epoch of partial_fit).

    score(val): the validation score (early stopping). The best epoch's
    weights are restored at the end with early stopping. A fit that runs all
    n_epochs without the ``tol`` rule stopping it warns (ConvergenceWarning)."""
    cfg = trainer.cfg
    params = trainer.params
    early = cfg.early_stopping and not incremental and val is not None
    best_params = None
    no_improvement = 0
    if not incremental:
        if early:
            est.best_validation_score_ = -math.inf
        else:
            est.best_loss_ = math.inf
    owner = type(est).__name__
    for _ in range(n_epochs):
        t0 = time.perf_counter()
        loss_total, count, states = _train_epoch(trainer, train, rng, owner,
                                                 est.n_iter_ + 1, cfg.verbose)
        if incremental:
            est.last_state_ = states
        loss = loss_total / (count if count > 0 else 1) + trainer.penalty()
        est.loss_curve_.append(loss)
        est.n_iter_ += 1
        stop = False
        val_score = None
        if early:
            val_score = score(val)
            est.validation_scores_.append(val_score)
        if not incremental:
            no_improvement, better = _update_no_improvement_count(
                est, cfg, early, loss, val_score, no_improvement)
            if better:
                best_params = {k: v.copy() for k, v in params.items()}
            stop = no_improvement > cfg.n_iter_no_change
        elif not cfg.early_stopping and (est.best_loss_ is None or loss < est.best_loss_):
            est.best_loss_ = loss  # (partial_fit: the lowest loss, as fit keeps it)
        if cfg.verbose >= 1:
            _print_epoch(est.n_iter_, loss, val_score, time.perf_counter() - t0, train.n,
                         stop, no_improvement)
        if stop:
            break
    else:
        if not incremental:
            _warn_unconverged(owner, cfg, early)
    if best_params is not None:
        for k, v in best_params.items():
            np.copyto(params[k], v)


def _warn_unconverged(owner, cfg, early):
    what = "validation score" if early else "training loss"
    warn("ConvergenceWarning",
         f"{owner}: max_epochs={cfg.max_epochs} reached and the optimization has not "
         f"converged yet (the {what} did not go n_iter_no_change={cfg.n_iter_no_change} "
         f"epochs without improving by tol={cfg.tol}); raise max_epochs or tol")


def _print_epoch(epoch, loss, score, elapsed, n, stop, no_improvement):
    line = f"Epoch {epoch}: loss = {loss:.6g}"
    if score is not None:
        line += f", validation score = {score:.6g}"
    rate = n / elapsed if elapsed > 0 else math.inf
    line += f", {elapsed:.2f} s, {rate:.0f} sequences/s"
    if stop:
        line += f" (no improvement for {no_improvement} epochs: stopping)"
    print(line, flush=True)


class _ProgressBar:
    """verbose=2: a one-line progress bar within an epoch, on stdout."""

    width = 30

    def __init__(self, total):
        self.total = total
        self.shown = -1
        self.t0 = time.perf_counter()

    def update(self, done):
        filled = self.width * done // self.total
        if filled == self.shown and done != self.total:
            return
        self.shown = filled
        bar = "=" * filled + ">" * (filled < self.width) + " " * (self.width - filled - 1)
        elapsed = time.perf_counter() - self.t0
        sys.stdout.write(f"\r[{bar}] {done}/{self.total} mini-batches, {elapsed:.1f} s")
        sys.stdout.flush()

    def close(self):
        sys.stdout.write("\r" + " " * (self.width + 48) + "\r")
        sys.stdout.flush()
