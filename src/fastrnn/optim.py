"""First-order optimizers and global gradient-norm clipping.

Each optimizer updates a dict of parameter arrays in place from a dict of
gradients with the same keys, and keeps its state (velocities, accumulators,
moments, step count) between calls, so that ``partial_fit`` continues where
the last call stopped; ``state_dict()`` / ``load_state_dict()`` take that
state out and put it back (the model file saves it). The update rules are
PyTorch's (``torch.optim.SGD``, ``Adagrad``, ``Adam`` with default options),
which the tests check.
"""

from __future__ import annotations

import math

import numpy as np

from . import functional

__all__ = ["SGD", "Adagrad", "Adam", "make_optimizer", "clip_grad_norm", "clip_scale",
           "grad_norm", "sum_of_squares", "OPTIMIZERS", "DEFAULT_MOMENTUM"]


class Optimizer:
    """Base class: ``step(params, grads)`` updates ``params`` in place."""

    name = ""
    #: the hyperparameters (attributes) that state_dict() records
    hyperparameter_names = ("learning_rate",)
    #: the state arrays the optimizer may keep per parameter
    slot_names = ()

    def __init__(self, learning_rate):
        self.learning_rate = float(learning_rate)
        self.n_steps = 0
        self.state = {}

    def _slot(self, key, param, slot):
        """A zero-initialized state array of param's shape, created on first use."""
        state = self.state.setdefault(key, {})
        arr = state.get(slot)
        if arr is None:
            arr = state[slot] = np.zeros_like(param)
        return arr

    def _scratch(self, key, param):
        """A work array of param's shape (not state: not kept when pickled)."""
        scratch = self.__dict__.setdefault("_work", {})
        arr = scratch.get(key)
        if arr is None or arr.shape != param.shape or arr.dtype != param.dtype:
            arr = scratch[key] = np.empty_like(param)
        return arr

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_work", None)
        return state

    def step(self, params, grads):
        """Update every ``params[key]`` in place from ``grads[key]``."""
        self.n_steps += 1
        for key, g in grads.items():
            self._update(key, params[key], g)

    def checked_step(self, params, grads, backup, scale=1.0):
        """:meth:`step` on the gradients ``grads[key] * scale`` (the arrays of
        grads may be scaled in place), after copying each ``params[key]`` to
        ``backup[key]`` (an array of its shape and dtype). Returns the first
        key whose parameter has a value that is not finite after the update,
        or None: the caller can then restore every parameter from backup.
        (NumPy's warnings for such values are silenced: the result says it.)"""
        for key in grads:
            np.copyto(backup[key], params[key])
        with np.errstate(all="ignore"):
            if scale != 1.0:
                for g in grads.values():
                    g *= scale
            self.step(params, grads)
        for key in grads:
            if not np.isfinite(params[key]).all():
                return key
        return None

    def _update(self, key, p, g):  # pragma: no cover - abstract
        raise NotImplementedError

    def set_hyperparameters(self, **kwargs):
        """Change hyperparameters (e.g. the learning rate) and keep the state."""
        for name, value in kwargs.items():
            setattr(self, name, value)

    def state_dict(self):
        """Everything needed to continue exactly: a dict with ``name``,
        ``n_steps``, ``hyperparameters`` (a dict) and ``state`` (``{key: {slot:
        array}}``, copies)."""
        return {
            "name": self.name,
            "n_steps": self.n_steps,
            "hyperparameters": {k: getattr(self, k) for k in self.hyperparameter_names},
            "state": {key: {slot: arr.copy() for slot, arr in slots.items()}
                      for key, slots in self.state.items()},
        }

    def load_state_dict(self, state, params=None):
        """Restore what :meth:`state_dict` returned, after checking all of it.

        Parameters
        ----------
        state : dict
        params : dict of str to ndarray, optional
            The parameters the state belongs to: every state array must then
            be for one of them, with its shape and dtype.

        Raises
        ------
        ValueError
            Saying what does not fit (another optimizer, a missing or unknown
            hyperparameter or slot, a wrong shape or dtype, a value that is
            not finite).
        """
        o = type(self).__name__
        if not isinstance(state, dict) or set(state) != {"name", "n_steps",
                                                         "hyperparameters", "state"}:
            raise ValueError(f"{o} state must be a dict with keys name, n_steps, "
                             "hyperparameters and state")
        if state["name"] != self.name:
            raise ValueError(f"{o}: the state is of optimizer {state['name']!r}, "
                             f"not {self.name!r}")
        n_steps = state["n_steps"]
        if not isinstance(n_steps, (int, np.integer)) or isinstance(n_steps, bool) \
                or n_steps < 0:
            raise ValueError(f"{o}: n_steps must be an integer >= 0, got {n_steps!r}")
        hyper = state["hyperparameters"]
        if not isinstance(hyper, dict) or set(hyper) != set(self.hyperparameter_names):
            raise ValueError(f"{o}: hyperparameters must have exactly the keys "
                             f"{list(self.hyperparameter_names)}")
        checked = {}
        for k, v in hyper.items():
            if k == "nesterov":
                if not isinstance(v, (bool, np.bool_)):
                    raise ValueError(f"{o}: nesterov must be a boolean, got {v!r}")
                checked[k] = bool(v)
                continue
            if (isinstance(v, bool) or not isinstance(v, (int, float, np.integer,
                                                           np.floating))
                    or not math.isfinite(v) or v < 0):
                raise ValueError(f"{o}: {k} must be a finite number >= 0, got {v!r}")
            if k in ("beta1", "beta2", "momentum") and v >= 1:
                raise ValueError(f"{o}: {k} must be < 1, got {v!r}")
            checked[k] = float(v)
        slots = state["state"]
        if not isinstance(slots, dict):
            raise ValueError(f"{o}: state must be a dict of dicts of arrays")
        new = {}
        for key, per in slots.items():
            if params is not None and key not in params:
                raise ValueError(f"{o}: state for unknown parameter {key!r}")
            if not isinstance(per, dict) or not set(per) <= set(self.slot_names):
                raise ValueError(f"{o}: the state of {key!r} must have slots among "
                                 f"{list(self.slot_names)}")
            new[key] = {}
            for slot, arr in per.items():
                if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
                    raise ValueError(f"{o}: state {slot} of {key!r} must be a float array")
                if params is not None and (arr.shape != params[key].shape
                                           or arr.dtype != params[key].dtype):
                    raise ValueError(
                        f"{o}: state {slot} of {key!r} has dtype {arr.dtype} and shape "
                        f"{arr.shape}; the parameter has {params[key].dtype} and "
                        f"{params[key].shape}")
                if not np.isfinite(arr).all():
                    raise ValueError(f"{o}: state {slot} of {key!r} contains NaN or inf")
                new[key][slot] = np.array(arr, order="C", copy=True)
        for k, v in checked.items():
            setattr(self, k, v)
        self.n_steps = int(n_steps)
        self.state = new


class SGD(Optimizer):
    """Stochastic gradient descent with (optionally Nesterov) momentum.

    ``v = momentum * v + g``; then ``p -= lr * v``, or with Nesterov
    ``p -= lr * (g + momentum * v)``. ``momentum=0`` is plain SGD.
    """

    name = "sgd"
    hyperparameter_names = ("learning_rate", "momentum", "nesterov")
    slot_names = ("velocity",)

    def __init__(self, learning_rate, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _update(self, key, p, g):
        lr, mu = self.learning_rate, self.momentum
        if mu == 0.0:
            p -= lr * g
            return
        v = self._slot(key, p, "velocity")
        v *= mu
        v += g
        if self.nesterov:
            p -= lr * (g + mu * v)
        else:
            p -= lr * v


class Adagrad(Optimizer):
    """Adagrad: ``G += g**2``; ``p -= lr * g / (sqrt(G) + eps)``."""

    name = "adagrad"
    hyperparameter_names = ("learning_rate", "eps")
    slot_names = ("sum_sq",)

    def __init__(self, learning_rate, eps=1e-10):
        super().__init__(learning_rate)
        self.eps = float(eps)

    def _update(self, key, p, g):
        G = self._slot(key, p, "sum_sq")
        tmp = self._scratch(key, p)
        np.multiply(g, g, out=tmp)
        G += tmp
        np.sqrt(G, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        tmp *= self.learning_rate
        p -= tmp


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias-corrected moments.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``,
    ``p -= lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)``.
    """

    name = "adam"
    hyperparameter_names = ("learning_rate", "beta1", "beta2", "eps")
    slot_names = ("m", "v")

    def __init__(self, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(learning_rate)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = float(eps)

    def _constants(self):
        """(beta1, beta2, step size, 1 / sqrt(second moment's bias correction))
        of the next step, which it counts."""
        self.n_steps += 1
        t = self.n_steps
        b1, b2 = self.beta1, self.beta2
        return b1, b2, self.learning_rate / (1.0 - b1**t), 1.0 / math.sqrt(1.0 - b2**t)

    def step(self, params, grads):
        self._steps(params, grads, None, 1.0)

    def checked_step(self, params, grads, backup, scale=1.0):
        # The fused kernel copies, scales, updates and checks in one pass per
        # parameter, with the bits of the steps of the base class.
        return self._steps(params, grads, backup, scale)

    def _steps(self, params, grads, backup, scale):
        """One update of every parameter from grads * scale, after copying it
        to backup (unless None, and then nothing is checked); the first key
        whose parameter is no longer finite, or None."""
        b1, b2, step_size, inv_sqrt_bc2 = self._constants()
        bad = None
        for key, g in grads.items():
            p = params[key]
            keep = None if backup is None else backup[key]
            m = self._slot(key, p, "m")
            v = self._slot(key, p, "v")
            if _fused(p, g, m, v) and (keep is None or _fused(p, keep)):
                # the same steps in one pass, the same bits
                n_bad = functional.adam_update(p, g, m, v, b1, b2, inv_sqrt_bc2, self.eps,
                                               step_size, scale, keep)
            else:
                if keep is not None:
                    np.copyto(keep, p)
                with np.errstate(all="ignore" if keep is not None else None):
                    if scale != 1.0:
                        g *= scale
                    self._numpy_update(key, p, g, m, v, b1, b2, inv_sqrt_bc2, step_size)
                n_bad = keep is not None and not np.isfinite(p).all()
            if keep is not None and n_bad and bad is None:
                bad = key
        return bad

    def _numpy_update(self, key, p, g, m, v, b1, b2, inv_sqrt_bc2, step_size):
        tmp = self._scratch(key, p)
        # in place, with one scratch array: no allocation per step
        m *= b1
        np.multiply(g, 1.0 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp *= inv_sqrt_bc2
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= step_size
        p -= tmp


def _fused(*arrays):
    """Whether the kernels' one-pass update applies: C-contiguous float32 or
    float64 arrays of one dtype and shape (as the estimators' always are)."""
    p = arrays[0]
    return p.dtype in _FUSED_DTYPES and all(
        a.dtype == p.dtype and a.shape == p.shape and a.flags.c_contiguous for a in arrays)


_FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "adam": Adam}
#: SGD's momentum in make_optimizer and the estimators (the SGD class's own
#: default is 0: plain SGD)
DEFAULT_MOMENTUM = 0.9


def make_optimizer(name, learning_rate, momentum=DEFAULT_MOMENTUM, nesterov=False):
    """The optimizer called ``name`` (a key of OPTIMIZERS) with ``learning_rate``;
    ``momentum`` and ``nesterov`` go to the optimizers that have them (SGD)."""
    cls = OPTIMIZERS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}, got {name!r}")
    options = {"momentum": momentum, "nesterov": nesterov}
    return cls(learning_rate,
               **{k: v for k, v in options.items() if k in cls.hyperparameter_names})


def sum_of_squares(f):
    """``f @ f`` for a 1-D float array, as a Python float: float32 and float64
    in the kernels, in double (a float32 sum cannot overflow), other types in
    NumPy's own loops rather than its BLAS, whose thread pool would spin next
    to the kernels' threads (see :mod:`fastrnn.losses`); overflows to inf
    without a warning."""
    if not f.size:
        return 0.0
    if f.dtype in _FUSED_DTYPES:
        return functional.sum_squares(f)
    with np.errstate(over="ignore"):
        return float(np.einsum("i,i->", f, f))


def clip_scale(norm, max_norm):
    """The factor that brings a global gradient norm down to max_norm: 1.0
    when max_norm is None, the norm is not finite or not above max_norm."""
    if max_norm is not None and math.isfinite(norm) and norm > max_norm:
        return max_norm / norm
    return 1.0


def grad_norm(grads):
    """The global L2 norm of an iterable of gradient arrays (``sqrt`` of the
    sum of squares of every entry): inf or nan when one is not finite."""
    grads = list(grads)
    sq = sum(sum_of_squares(g.ravel()) for g in grads)
    if not math.isfinite(sq):
        # a sum of squares of a type narrower than double can overflow:
        # redo them in float64, which only fails for gradients that are not
        # finite themselves (or whose squares overflow double).
        sq = sum(sum_of_squares(g.ravel().astype(np.float64)) for g in grads)
    return math.sqrt(sq) if math.isfinite(sq) else sq


def clip_grad_norm(grads, max_norm):
    """Scale all gradients together so that their global L2 norm is <= max_norm.

    Parameters
    ----------
    grads : iterable of arrays
        Modified in place.
    max_norm : float or None
        None only measures the norm.

    Returns
    -------
    float
        The global norm before clipping (``sqrt`` of the sum of squares of every
        entry); inf or nan when a gradient is not finite, and then nothing is
        scaled.
    """
    grads = list(grads)
    norm = grad_norm(grads)
    scale = clip_scale(norm, max_norm)
    if scale != 1.0:
        for g in grads:
            g *= scale
    return norm
