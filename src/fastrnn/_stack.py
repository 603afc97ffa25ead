"""The estimators' networks of several layers or two directions.

An estimator's network is described by a :class:`Layout`: the size of each
layer (``n_hidden``, an int or a tuple) and the number of directions (2 with
``bidirectional=True``). A single forward layer is the plain network of
:func:`fastrnn.functional.forward`, whose fitted attributes keep their names
(``W_xh_``, ``W_hh_``, ``b_``, ``h0_``); every other layout runs on
:func:`fastrnn._layers.forward_checked` / ``backward_checked``, the work of
:func:`fastrnn.functional.stacked_forward` / ``stacked_backward``.

Names. Layer l in direction d owns ``W_xh``, ``W_hh``, ``b`` (and ``h0``
with learned initial states) with the suffix ``_l{l}`` for l > 0 and
``_reverse`` for the backward direction, as PyTorch names its weights
(``weight_hh_l1_reverse``): ``W_hh_``, ``W_hh_reverse_``, ``W_hh_l1_``,
``W_hh_l1_reverse_``. The readout ``W_hy_``, ``b_y_`` reads the top layer's
output, its directions side by side (``layout.top`` units).

The state. The network's state is every layer's hidden state in one vector
of ``layout.total`` units, layer by layer and, within a layer, forward
before backward: ``initial_state``, ``initial_state_mask``, the learned
initial states (``h0_``, ``h0_reverse_``, ``h0_l1_``, ...), ``start_state``
and ``step``'s ``state`` use it, so each works on a stack as on one layer.
It is PyTorch's ``h0`` (layers x directions, n, H) moved to (n, layers x
directions x H) when the layers have one size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from . import _layers
from ._validation import StackArgs

__all__ = ["Layout", "suffix", "is_param_attribute", "run_forward", "run_backward",
           "last_output", "move_last_gradient"]

_PARAM_ATTRIBUTE = re.compile(r"^(?:(?:W_xh|W_hh|b|h0)(?:_l[1-9][0-9]*)?(?:_reverse)?|W_hy|b_y)_$")


def suffix(l: int, d: int) -> str:
    """The name suffix of layer l in direction d (0 forward, 1 backward)."""
    return ("" if l == 0 else f"_l{l}") + ("_reverse" if d else "")


def is_param_attribute(name: str) -> bool:
    """Whether name is a fitted weight attribute of some layout (``W_hh_l2_``)."""
    return _PARAM_ATTRIBUTE.match(name) is not None


@dataclass(frozen=True)
class Layout:
    """Layer sizes and directions of a network."""

    sizes: tuple
    n_dir: int = 1

    @classmethod
    def from_config(cls, cfg) -> Layout:
        return cls(tuple(cfg.n_hidden), 2 if cfg.bidirectional else 1)

    @classmethod
    def of_fitted(cls, attrs: dict) -> Layout | None:
        """The layout of a fitted estimator's attributes (its ``__dict__``),
        None when it has no weights."""
        W = attrs.get("W_hh_")
        if W is None:
            return None
        sizes = [W.shape[0]]
        while f"W_hh_l{len(sizes)}_" in attrs:
            sizes.append(attrs[f"W_hh_l{len(sizes)}_"].shape[0])
        return cls(tuple(sizes), 2 if "W_hh_reverse_" in attrs else 1)

    @property
    def single(self) -> bool:
        """One forward layer: the plain network."""
        return len(self.sizes) == 1 and self.n_dir == 1

    @property
    def slots(self) -> list:
        """(layer, direction) of every pass, in the order of the state."""
        return [(l, d) for l in range(len(self.sizes)) for d in range(self.n_dir)]

    @property
    def total(self) -> int:
        """Units of the network's state (every layer and direction)."""
        return sum(self.sizes) * self.n_dir

    @property
    def top(self) -> int:
        """Units of the top layer's output (what the readout reads)."""
        return self.sizes[-1] * self.n_dir

    def input_width(self, l: int, n_features: int) -> int:
        """Features of layer l's input."""
        return n_features if l == 0 else self.sizes[l - 1] * self.n_dir

    def spans(self) -> list:
        """(start, stop) of each slot's units in the state."""
        spans, start = [], 0
        for l, _ in self.slots:
            spans.append((start, start + self.sizes[l]))
            start += self.sizes[l]
        return spans

    def param_names(self, readout: bool, learn_initial_state: bool) -> list:
        """The trainable arrays' names, in the order of the parameter dict."""
        sfx = [suffix(l, d) for l, d in self.slots]
        if self.single:  # (the order of the single layer's earlier releases)
            names = ["W_xh", "W_hh", "b"] + ["h0"] * learn_initial_state
        else:
            names = [f"{w}{s}" for s in sfx for w in ("W_xh", "W_hh", "b")]
            names += [f"h0{s}" for s in sfx] if learn_initial_state else []
        return names + (["W_hy", "b_y"] if readout else [])

    def shapes(self, n_features: int, n_outputs: int, readout: bool,
               learn_initial_state: bool) -> dict:
        """The shape of each trainable array, by name."""
        shapes = {}
        for l, d in self.slots:
            s, H = suffix(l, d), self.sizes[l]
            shapes[f"W_xh{s}"] = (self.input_width(l, n_features), H)
            shapes[f"W_hh{s}"] = (H, H)
            shapes[f"b{s}"] = (H,)
        if learn_initial_state:
            for l, d in self.slots:
                shapes[f"h0{suffix(l, d)}"] = (self.sizes[l],)
        if readout:
            shapes["W_hy"] = (self.top, n_outputs)
            shapes["b_y"] = (n_outputs,)
        return {name: shapes[name] for name in self.param_names(readout, learn_initial_state)}

    def describe(self) -> str:
        """The layout in the words of the hyperparameters."""
        sizes = self.sizes[0] if len(self.sizes) == 1 else self.sizes
        return f"n_hidden={sizes!r}, bidirectional={self.n_dir == 2}"

    def layers(self, params: dict) -> list:
        """[layer][direction] -> (W_xh, W_hh, b) of the parameter dict."""
        return [[(params[f"W_xh{suffix(l, d)}"], params[f"W_hh{suffix(l, d)}"],
                  params[f"b{suffix(l, d)}"]) for d in range(self.n_dir)]
                for l in range(len(self.sizes))]

    def learned_h0(self, params: dict):
        """The learned initial states as one state vector (total,), or None."""
        if "h0" not in params:
            return None
        return np.concatenate([params[f"h0{suffix(l, d)}"] for l, d in self.slots])

    def split(self, state):
        """A state (total,) or (B, total) as [layer][direction] C-contiguous
        parts ((H_l,) or (B, H_l)); None stays None."""
        parts = [[None] * self.n_dir for _ in self.sizes]
        if state is None:
            return parts
        for (l, d), (a, b) in zip(self.slots, self.spans()):
            parts[l][d] = np.ascontiguousarray(state[..., a:b])
        return parts

    def join(self, parts: list) -> np.ndarray:
        """[layer][direction] parts, each (B, H_l) or (H_l,), as one state."""
        return np.concatenate([parts[l][d] for l, d in self.slots], axis=-1)


def run_forward(layout: Layout, params: dict, x: np.ndarray, lengths, h0, activation: str,
                ws: _layers.Workspace | None = None):
    """The stack's forward pass on checked, C-contiguous data.

    x: float (B, T, D) or intp ids (B, T); lengths None or intp (B,); h0:
    None, the learned state (total,) shared by the batch, or (B, total).
    Returns the StackedOutput (output, h_n, cache) of
    :func:`fastrnn.functional.stacked_forward`; with a workspace ws, the
    output and cache are its arrays (see fastrnn._layers.Workspace)."""
    ids = x.ndim == 2
    B = x.shape[0]
    dtype = params["W_hh"].dtype
    shared = h0 is not None and h0.ndim == 1
    parts = layout.split(h0)
    h0s = [[None if p is None else np.ascontiguousarray(np.broadcast_to(p, (B, p.shape[-1])))
            for p in per_layer] for per_layer in parts]
    flags = [[shared and p is not None for p in per_layer] for per_layer in parts]
    args = StackArgs(dtype, None if ids else x, x if ids else None, layout.layers(params),
                     h0s, flags, lengths, activation)
    return _layers.forward_checked(args, ws)


def run_backward(layout: Layout, cache, dy: np.ndarray, ws: _layers.Workspace | None = None):
    """BPTT through the stack: (gradients by parameter name, without h0's,
    dh0 of the whole state: (total,) for a shared h0, (B, total), or None).
    ws: run_forward's workspace, or None."""
    g = _layers.backward_checked(cache, dy, [[None] * layout.n_dir for _ in layout.sizes],
                                 want_dx=False, ws=ws)  # no gradient of the data
    grads, dh0 = {}, []
    for l, d in layout.slots:
        s, gl = suffix(l, d), g.layers[l][d]
        grads[f"W_xh{s}"], grads[f"W_hh{s}"], grads[f"b{s}"] = gl.dW_xh, gl.dW_hh, gl.db
        dh0.append(gl.dh0)
    return grads, (None if dh0[0] is None else np.concatenate(dh0, axis=-1))


def last_output(out, lengths) -> tuple:
    """Where ``output_steps="last"`` reads a bidirectional top layer: the
    forward direction's state at each sequence's last step and the backward
    direction's at step 0 (PyTorch's final states), as the rows
    ``(arange(B), last)``. out (B, T, 2H) is changed in place: its backward
    half at the last steps takes the values of step 0. Returns (rows, last)
    for :func:`move_last_gradient`."""
    B, T, width = out.shape
    H = width // 2
    rows = np.arange(B)
    last = np.full(B, T - 1, np.intp) if lengths is None else lengths - 1
    out[rows, last, H:] = out[:, 0, H:]
    return rows, last


def move_last_gradient(dout, rows, last) -> None:
    """The gradient of :func:`last_output`'s values, in place: the backward
    half's gradient at the last steps goes to step 0."""
    H = dout.shape[2] // 2
    moved = dout[rows, last, H:]  # (a copy: fancy indexing)
    dout[rows, last, H:] = 0
    dout[:, 0, H:] += moved
