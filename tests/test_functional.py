"""The compiled forward pass and BPTT against the NumPy reference, PyTorch and
finite differences, on one thread and on several (``path``) and both dtypes.

Errors are normwise: ``max|a - b| / max(max|b|, scale, tiny)``. Elementwise
tolerances are meaningless where blocked products reorder sums that cancel. ``scale`` is
the same sum taken over the magnitudes of its terms (see ``summand_scales``):
where a gradient entry is a sum that cancels (a single hidden unit makes
dW_hh, db and a shared dh0 scalars), its rounding error is relative to the
terms, not to the small result. A wrong term is still an O(1) error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastrnn
from fastrnn import Gradients, _threads, functional, reference

ACTIVATIONS = ("tanh", "relu")
H0_KINDS = ("none", "shared", "per_seq")
GRAD_NAMES = Gradients._fields  # dx, dW_xh, dW_hh, db, dh0

# Tolerances (normwise relative).
TOL_REFERENCE = 1e-12  # float64 kernels vs the NumPy reference
TOL_TORCH = 1e-10  # float64 kernels vs torch.nn.RNN
# float32 kernels vs the float64 result on the same float32 values: at most
# FLOAT32_FACTOR times NumPy's own float32 error on that problem (the
# reference run in float32), floored at one float32 epsilon. Measured over
# 400 random problems across every blocking boundary (blocked_problems'
# ranges, both builds, 1 and 2 threads, both activations, h0 forms and
# lengths): the kernels' error was at most 3.4 times NumPy's for h (worst
# 1.0e-6 absolute) and 2.3 times for the gradients (worst 4.1e-7).
FLOAT32_FACTOR = 10
EPS32 = float(np.finfo(np.float32).eps)
TOL_FD = 1e-7  # analytic gradients vs central differences (float64)

# Small shapes (B, T, D, H): batch, steps, features (0 allowed), hidden units.
# The last one has B >= 8: there threads take groups of whole sequences.
EDGE_SHAPES = [(1, 1, 1, 1), (1, 1, 0, 1), (3, 4, 0, 2), (2, 5, 3, 1), (9, 3, 2, 5)]

HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    # The `path` fixture is function-scoped on purpose: it sets one module
    # global that stays the same for every example.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


# --- problems -------------------------------------------------------------


@dataclass
class Problem:
    """One forward/backward problem; dh is also R in the loss sum(h * R)."""

    x: np.ndarray
    W_xh: np.ndarray
    W_hh: np.ndarray
    b: np.ndarray
    h0: np.ndarray | None
    lengths: np.ndarray | None
    dh: np.ndarray
    activation: str

    @property
    def shape(self):
        B, T = self.x.shape[:2]
        return B, T, self.W_xh.shape[0], self.W_hh.shape[0]

    @property
    def ids(self):
        """x holds integer ids (B, T) standing for one-hot rows of W_xh."""
        return self.x.ndim == 2

    def x_dense(self):
        """x as (B, T, D) floats (one-hot rows for ids)."""
        return np.eye(self.shape[2])[self.x] if self.ids else self.x

    def astype(self, dtype):
        def cast(a):
            return None if a is None or a.dtype.kind != "f" else a.astype(dtype)

        return replace(self, x=self.x if self.ids else cast(self.x), W_xh=cast(self.W_xh), W_hh=cast(self.W_hh),
                       b=cast(self.b), h0=cast(self.h0), dh=cast(self.dh))

    def forward(self, api=fastrnn):
        return api.forward(self.x, self.W_xh, self.W_hh, self.b, self.h0,
                           activation=self.activation, lengths=self.lengths)

    def backward(self, h, api=fastrnn):
        return api.backward(self.x, h, self.dh, self.W_xh, self.W_hh, self.h0,
                            activation=self.activation, lengths=self.lengths)

    def valid(self):
        """(B, T) booleans: step t is inside sequence b."""
        B, T, _, _ = self.shape
        if self.lengths is None:
            return np.ones((B, T), dtype=bool)
        return np.arange(T)[None, :] < np.asarray(self.lengths)[:, None]

    def h0_full(self):
        B, _, _, H = self.shape
        if self.h0 is None:
            return np.zeros((B, H))
        return np.broadcast_to(self.h0, (B, H))


def make_problem(seed, B, T, D, H, activation="tanh", h0_kind="none", with_lengths=False,
                 ids=False):
    """Random float64 problem, scaled so that neither tanh saturates nor relu
    blows up; with ids, x holds (B, T) integer ids in 0..D-1 (D >= 1)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, D, size=(B, T)) if ids else rng.standard_normal((B, T, D))
    W_xh = 0.5 * rng.standard_normal((D, H)) / np.sqrt(max(D, 1))
    W_hh = rng.standard_normal((H, H)) / np.sqrt(H)
    b = 0.5 * rng.standard_normal(H)
    h0 = {
        "none": None,
        "shared": 0.5 * rng.standard_normal(H),
        "per_seq": 0.5 * rng.standard_normal((B, H)),
    }[h0_kind]
    lengths = None
    if with_lengths:
        lengths = rng.integers(1, T + 1, size=B)
        if T > 1:  # at least one padded sequence
            lengths[rng.integers(B)] = rng.integers(1, T)
    dh = rng.standard_normal((B, T, H))  # nonzero at padded steps too: must be ignored
    return Problem(x, W_xh, W_hh, b, h0, lengths, dh, activation)


@st.composite
def problems(draw):
    B = draw(st.integers(1, 12))     # from 8 on, threads split the batch
    T = draw(st.integers(1, 6))
    D = draw(st.integers(0, 7))
    H = draw(st.integers(1, 7))
    return make_problem(
        draw(st.integers(0, 2**32 - 1)), B, T, D, H,
        activation=draw(st.sampled_from(ACTIVATIONS)),
        h0_kind=draw(st.sampled_from(H0_KINDS)),
        with_lengths=draw(st.booleans()),
    )


@st.composite
def blocked_problems(draw):
    """Shapes across every blocking boundary of the kernels: several panels
    (16 floats or 8 doubles each) and partial groups of 4 panels (H to 70),
    B on both sides of the sequence split (8) and B * T past the 256-row
    depth blocks and 32-row blocks of the weight gradients, D across their
    64-row tiles (and 0), and integer ids."""
    B = draw(st.integers(1, 17))
    T = draw(st.integers(1, 40))
    ids = draw(st.booleans())
    D = draw(st.integers(1, 70) if ids else st.one_of(st.just(0), st.integers(1, 70)))
    H = draw(st.integers(1, 70))
    return make_problem(
        draw(st.integers(0, 2**32 - 1)), B, T, D, H,
        activation=draw(st.sampled_from(ACTIVATIONS)),
        h0_kind=draw(st.sampled_from(H0_KINDS)),
        with_lengths=draw(st.booleans()),
        ids=ids,
    )


def edge_cases():
    return pytest.mark.parametrize(
        "shape,activation,h0_kind,with_lengths",
        [(s, a, k, w) for s in EDGE_SHAPES for a in ACTIVATIONS for k in H0_KINDS
         for w in (False, True)],
    )


# --- comparisons ----------------------------------------------------------


def rel_err(actual, expected, scale=None):
    """max|actual - expected| / max(max|expected|, max|scale|, tiny)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    if expected.size == 0:
        return 0.0
    denom = np.abs(expected).max()
    if scale is not None:
        denom = max(denom, np.abs(scale).max())
    return float(np.abs(actual - expected).max() / max(denom, np.finfo(np.float64).tiny))


def summand_scales(p, h):
    """Each gradient's sum over the magnitudes of its terms (a Gradients tuple).

    dL/da (B, T, H) comes from the reference: its dx is dL/da @ W_xh^T, so
    with x of width H and W_xh = I it is dL/da itself.
    """
    B, T, D, H = p.shape
    da = np.abs(reference.backward(np.zeros((B, T, H)), h, p.dh, np.eye(H), p.W_hh, p.h0,
                                   activation=p.activation, lengths=p.lengths).dx)
    h_prev = np.concatenate([p.h0_full()[:, None], h[:, :-1]], axis=1)
    rows = da.reshape(B * T, H)
    dh0 = None
    if p.h0 is not None:
        dh0 = da[:, 0] @ np.abs(p.W_hh).T
        if p.h0.ndim == 1:
            dh0 = dh0.sum(axis=0)
    return Gradients(
        dx=da @ np.abs(p.W_xh).T,
        dW_xh=np.abs(p.x_dense()).reshape(B * T, D).T @ rows,
        dW_hh=np.abs(h_prev).reshape(B * T, H).T @ rows,
        db=rows.sum(axis=0),
        dh0=dh0,
    )


def assert_grads_close(actual, expected, tol, scales=None, skip=()):
    assert isinstance(actual, Gradients)
    assert (actual.dh0 is None) == (expected.dh0 is None)
    for name in GRAD_NAMES:
        a, e = getattr(actual, name), getattr(expected, name)
        if name in skip or e is None:
            continue
        assert a.shape == e.shape, name
        s = None if scales is None else getattr(scales, name)
        err = rel_err(a, e, s)
        assert err <= tol, f"{name}: normwise error {err:.3g} > {tol:g}"


def assert_padding_zero(p, h, grads=None):
    """h is exactly 0 at padded steps, and so is dx."""
    pad = ~p.valid()
    assert not h[pad].any()
    if grads is not None and grads.dx is not None:
        assert not grads.dx[pad].any()


# --- PyTorch --------------------------------------------------------------


@pytest.fixture
def torch():
    """PyTorch; the test is skipped without it."""
    return pytest.importorskip("torch")


def torch_rnn(torch, p, seed=0):
    """h and Gradients from torch.nn.RNN (float64) on problem p, plus bias_hh's gradient.

    D = 0 is emulated with one zero input feature: dx and dW_xh are then
    returned with torch's (B, T, 1) and (1, H) shapes and must not be compared.
    """
    B, T, D, H = p.shape
    D_in = max(D, 1)
    x = p.x if D > 0 else np.zeros((B, T, 1))
    W_xh = p.W_xh if D > 0 else np.zeros((1, H))
    rnn = torch.nn.RNN(D_in, H, nonlinearity=p.activation, batch_first=True,
                       dtype=torch.float64)
    bias_ih = np.random.default_rng(seed).standard_normal(H)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(W_xh.T)))
        rnn.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(p.W_hh.T)))
        rnn.bias_ih_l0.copy_(torch.from_numpy(bias_ih))
        rnn.bias_hh_l0.copy_(torch.from_numpy(p.b - bias_ih))  # sum is b
    x_t = torch.tensor(x, requires_grad=True)
    h0_t = hx = None
    if p.h0 is not None:
        h0_t = torch.tensor(p.h0, requires_grad=True)  # leaf: (H,) or (B, H)
        hx = h0_t.expand(B, H).unsqueeze(0).contiguous()  # (num_layers, B, H)
    if p.lengths is None:
        out, _ = rnn(x_t, hx)
    else:
        utils = torch.nn.utils.rnn
        packed = utils.pack_padded_sequence(x_t, torch.as_tensor(p.lengths, dtype=torch.int64),
                                            batch_first=True, enforce_sorted=False)
        out, _ = rnn(packed, hx)
        out, _ = utils.pad_packed_sequence(out, batch_first=True, total_length=T)
    (out * torch.from_numpy(p.dh)).sum().backward()
    grads = Gradients(
        dx=x_t.grad.numpy(),
        dW_xh=rnn.weight_ih_l0.grad.numpy().T,
        dW_hh=rnn.weight_hh_l0.grad.numpy().T,
        db=rnn.bias_ih_l0.grad.numpy(),
        dh0=None if h0_t is None else h0_t.grad.numpy(),
    )
    return out.detach().numpy(), grads, rnn.bias_hh_l0.grad.numpy()


# --- checks shared by the hypothesis and the explicit tests ---------------


def check_against_reference(p):
    """float64 kernels == reference to TOL_REFERENCE; backward on the same h."""
    h_ref = p.forward(reference)
    h = p.forward()
    assert h.dtype == np.float64 and h.shape == h_ref.shape
    assert rel_err(h, h_ref) <= TOL_REFERENCE
    assert_padding_zero(p, h)
    # Same h for both: a forward rounding difference must not be amplified
    # (through 1 - h^2) into the comparison of the BPTT kernels.
    g_ref = p.backward(h_ref, reference)
    g = p.backward(h_ref)
    assert all(a is None or a.dtype == np.float64 for a in g)
    assert_grads_close(g, g_ref, TOL_REFERENCE, summand_scales(p, h_ref))
    assert_padding_zero(p, h, g)


def check_against_torch(torch, p):
    """float64 kernels, forward then backward, == torch.nn.RNN to TOL_TORCH."""
    h_t, g_t, db_hh = torch_rnn(torch, p)
    h = p.forward()
    g = p.backward(h)
    assert rel_err(h, h_t) <= TOL_TORCH
    assert_padding_zero(p, h, g)
    scales = summand_scales(p, p.forward(reference))
    D = p.shape[2]
    skip = () if D > 0 else ("dx", "dW_xh")
    assert_grads_close(g, g_t, TOL_TORCH, scales, skip=skip)
    # b = bias_ih + bias_hh: both biases take the gradient db.
    assert rel_err(g.db, db_hh, scales.db) <= TOL_TORCH
    if D == 0:
        assert g.dx.shape == p.x.shape and g.dW_xh.shape == p.W_xh.shape


def check_float32(p):
    """float32 kernels against the float64 result on the same (float32)
    values: within FLOAT32_FACTOR times NumPy's own float32 error there."""
    p32 = p.astype(np.float32)
    p64 = p32.astype(np.float64)  # exactly the float32 values
    h64 = p64.forward(reference)
    h = p32.forward()
    assert h.dtype == np.float32
    _assert_float32_close("h", h, p32.forward(reference), h64)
    # Backward on the same h for all three (h64 rounded to float32): a
    # forward rounding difference must not be amplified through act'.
    h_in = h64.astype(np.float32)
    g = p32.backward(h_in)
    assert all(a is None or a.dtype == np.float32 for a in g)
    g_np = p32.backward(h_in, reference)
    g64 = p64.backward(h_in.astype(np.float64), reference)
    scales = summand_scales(p64, h64)
    assert (g.dh0 is None) == (g64.dh0 is None) and (g.dx is None) == (g64.dx is None)
    for name in GRAD_NAMES:
        if getattr(g64, name) is not None:
            _assert_float32_close(name, getattr(g, name), getattr(g_np, name),
                                  getattr(g64, name), getattr(scales, name))
    assert_padding_zero(p, h, g)


def _assert_float32_close(name, actual, numpy32, exact, scale=None):
    err = rel_err(actual, exact, scale)
    tol = FLOAT32_FACTOR * max(rel_err(numpy32, exact, scale), EPS32)
    assert err <= tol, f"{name}: float32 normwise error {err:.3g} > {tol:.3g}"


def check_in_dtype(p, dtype):
    """check_float32 for float32, check_against_reference for float64."""
    if dtype == np.float32:
        check_float32(p)
    else:
        check_against_reference(p)


# --- 1. float64 against the reference and PyTorch -------------------------


@HYPOTHESIS
@given(p=problems())
def test_float64_matches_reference(path, p):
    check_against_reference(p)


@edge_cases()
def test_float64_matches_reference_edge_shapes(path, shape, activation, h0_kind, with_lengths):
    check_against_reference(make_problem(1, *shape, activation, h0_kind, with_lengths))


@pytest.mark.torch
@HYPOTHESIS
@given(p=problems())
def test_float64_matches_torch(torch, path, p):
    check_against_torch(torch, p)


@pytest.mark.torch
@edge_cases()
def test_float64_matches_torch_edge_shapes(torch, path, shape, activation, h0_kind, with_lengths):
    check_against_torch(torch, make_problem(2, *shape, activation, h0_kind, with_lengths))


@pytest.mark.parametrize("H", [1, 8, 16, 17, 33, 49, 64, 65, 80, 130])
def test_one_sequence_across_panel_groups(path, dtype, H):
    """B = 1 takes the one-row kernel, 4 panels (16 floats or 8 doubles
    each) at a time: every count of panels in the last group, whole and
    partial panels."""
    p = make_problem(17, 1, 9, 3, H, "tanh", "per_seq", with_lengths=False)
    check_in_dtype(p, dtype)


@pytest.mark.parametrize("B, T, D, H", [
    (5, 60, 70, 147),   # B*T = 300 rows: 10 row blocks of 32 and 2 blocks of K
    (3, 100, 130, 20),  # D = 130 > 2 row tiles of dW_xh, 300 rows of K
    (7, 40, 3, 137),    # H = 137: 9 (float32) or 18 (float64) panels, partial
    (9, 40, 70, 147),   # B >= 8: threads take groups of sequences (8 + 1 or
                        # 4 + 4 + 1); 360 rows of K: a depth block and a rest
])
def test_sizes_across_every_product_block(path, dtype, B, T, D, H):
    """Sizes that cross every blocking boundary of the kernels' products:
    row blocks of the input projection and dx (32 rows), depth blocks of
    the weight gradients (256 rows of K) and their row tiles (64 rows of C),
    each with a remainder, and partial panels."""
    p = make_problem(13, B, T, D, H, "tanh", "per_seq", with_lengths=True)
    check_in_dtype(p, dtype)


@HYPOTHESIS
@given(p=blocked_problems())
def test_float64_matches_reference_across_blocks(path, p):
    check_against_reference(p)


# --- 2. float32 against float64 -------------------------------------------


@HYPOTHESIS
@given(p=blocked_problems())
def test_float32_matches_float64_across_blocks(path, p):
    check_float32(p)



@HYPOTHESIS
@given(p=problems())
def test_float32_matches_float64(path, p):
    check_float32(p)


@edge_cases()
def test_float32_matches_float64_edge_shapes(path, shape, activation, h0_kind, with_lengths):
    check_float32(make_problem(3, *shape, activation, h0_kind, with_lengths))


# --- hidden sizes past the vector widths ----------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("H", [8, 9, 16, 24, 31, 32, 33, 57, 64])
def test_hidden_sizes_across_vector_blocks(path, dtype, activation, H):
    """H beyond the small sizes above: whole and partial panels (16 floats or
    8 doubles wide) and row blocks of 1 to 4 sequences, in both dtypes."""
    p = make_problem(11, 3, 4, 5, H, activation, "per_seq", with_lengths=True)
    check_in_dtype(p, dtype)


# --- groups of sequences or columns, by the size of the weights ----------


@pytest.mark.parametrize("ids", [False, True])
@pytest.mark.parametrize("B", [8, 16, 24, 25])
def test_column_split_for_large_weights_gives_the_same_bits(kernels, dtype, B, ids,
                                                           monkeypatch):
    """From a size of W_hh on (fastrnn_column_split_bytes), threads whose
    groups would hold at most 12 sequences split each step by columns
    instead: the same bits as groups of sequences and as one thread. The
    size is set to 0 (always) and to the largest value (never) here, so that
    small problems take either path."""
    for name in ("SEQUENCE_WORK_PER_THREAD", "STEP_WORK_PER_THREAD", "PRODUCT_WORK_PER_THREAD"):
        monkeypatch.setattr(functional, name, 0)  # every thread the limit allows
    p = make_problem(7, B, 9, 5, 37, "tanh", "per_seq", with_lengths=True, ids=ids)
    x = p.x if ids else p.x.astype(dtype)
    args = [a.astype(dtype) for a in (p.W_xh, p.W_hh, p.b)]
    h0, dh = p.h0.astype(dtype), p.dh.astype(dtype)

    def run(n_threads, split_bytes):
        old = kernels._set_column_split_bytes(split_bytes)
        try:
            with fastrnn.threads(n_threads):
                h = fastrnn.forward(x, *args, h0, lengths=p.lengths)
                g = fastrnn.backward(x, h, dh, args[0], args[1], h0, lengths=p.lengths)
                assert kernels._last_team_size() == n_threads
        finally:
            kernels._set_column_split_bytes(old)
        return [h] + [a for a in g if a is not None]

    never = 1 << 62
    serial = run(1, never)
    for n_threads, split_bytes in [(2, never), (2, 0), (3, 0)]:
        for a, e in zip(run(n_threads, split_bytes), serial):
            np.testing.assert_array_equal(a, e)
    default = kernels._set_column_split_bytes(5)
    assert kernels._set_column_split_bytes(default) == 5  # (and restored)
    with pytest.raises(ValueError, match=">= 0"):
        kernels._set_column_split_bytes(-1)
    assert kernels._set_column_split_bytes(default) == default


# --- BPTT without the gradient of x (the estimators' call) ---------------


@pytest.mark.parametrize("B, T, D, H", [(1, 1, 1, 1), (5, 9, 7, 33), (20, 6, 70, 40)])
@pytest.mark.parametrize("h0_kind", ["none", "per_seq"])
def test_backward_without_dx_gives_the_other_gradients_bits(path, dtype, B, T, D, H,
                                                            h0_kind):
    """trusted_backward(want_dx=False), as the estimators call it, skips dX =
    dA W_xh^T: dx comes back None and every other gradient is the same bits
    as with dx."""
    p = make_problem(11, B, T, D, H, "tanh", h0_kind, with_lengths=True)
    x, W_xh, W_hh, b, dh = (a.astype(dtype) for a in (p.x, p.W_xh, p.W_hh, p.b, p.dh))
    h0 = None if p.h0 is None else p.h0.astype(dtype)
    h = functional.trusted_forward(x, W_xh, W_hh, b, h0, "tanh", p.lengths)
    full = functional.trusted_backward(x, h, dh, W_xh, W_hh, h0, "tanh", p.lengths)
    part = functional.trusted_backward(x, h, dh, W_xh, W_hh, h0, "tanh", p.lengths,
                                       want_dx=False)
    assert full.dx is not None and part.dx is None
    assert np.abs(full.dx).max() > 0
    for name in ("dW_xh", "dW_hh", "db", "dh0"):
        a, e = getattr(part, name), getattr(full, name)
        if e is None:
            assert a is None and h0 is None
        else:
            np.testing.assert_array_equal(a, e, err_msg=name)


@pytest.mark.parametrize("api", [functional, reference], ids=["fastrnn", "reference"])
@pytest.mark.parametrize("ids", [False, True])
@pytest.mark.parametrize("h0_kind", ["none", "shared", "per_seq"])
def test_backward_compute_dx_false_leaves_out_only_dx(path, dtype, api, ids, h0_kind):
    """backward(..., compute_dx=False): dx is None and every other gradient
    is the same bits as with dx; compute_dx takes only a bool."""
    p = make_problem(12, 9, 7, 6, 35, "tanh", h0_kind, with_lengths=True, ids=ids)
    x = p.x if ids else p.x.astype(dtype)
    W_xh, W_hh, b, dh = (a.astype(dtype) for a in (p.W_xh, p.W_hh, p.b, p.dh))
    h0 = None if p.h0 is None else p.h0.astype(dtype)
    h = api.forward(x, W_xh, W_hh, b, h0, lengths=p.lengths)
    full = api.backward(x, h, dh, W_xh, W_hh, h0, lengths=p.lengths)
    part = api.backward(x, h, dh, W_xh, W_hh, h0, lengths=p.lengths, compute_dx=False)
    assert part.dx is None and (full.dx is None) == ids
    for name in ("dW_xh", "dW_hh", "db", "dh0"):
        a, e = getattr(part, name), getattr(full, name)
        assert (a is None and e is None) or np.array_equal(a, e), name
    for bad in (None, 1, "False", np.array([True])):
        with pytest.raises(TypeError, match="compute_dx must be True or False"):
            api.backward(x, h, dh, W_xh, W_hh, h0, lengths=p.lengths, compute_dx=bad)
    assert api.backward(x, h, dh, W_xh, W_hh, h0, lengths=p.lengths,
                        compute_dx=np.bool_(False)).dx is None


def test_trusted_calls_check_the_buffers_they_fill():
    """trusted_forward(out=) and trusted_backward(work=, dx_out=) write into
    the caller's arrays only after checking their shape, dtype, layout and
    writeability (a kept buffer of another window's shape would otherwise
    be overrun); a good buffer is filled and returned."""
    p = make_problem(3, 4, 5, 3, 6)
    x, W_xh, W_hh, b, dh = (a.astype(np.float32) for a in (p.x, p.W_xh, p.W_hh, p.b, p.dh))
    want_h = functional.trusted_forward(x, W_xh, W_hh, b, None, "tanh", None)
    want = functional.trusted_backward(x, want_h, dh, W_xh, W_hh, None, "tanh", None)
    read_only = np.empty((4, 5, 6), np.float32)
    read_only.flags.writeable = False
    bad = {
        "shape": np.empty((4, 4, 6), np.float32),
        "dtype": np.empty((4, 5, 6), np.float64),
        "layout": np.empty((4, 5, 12), np.float32)[..., ::2],
        "read-only": read_only,
    }
    for why, buf in bad.items():
        with pytest.raises(ValueError, match="out must be"):
            functional.trusted_forward(x, W_xh, W_hh, b, None, "tanh", None, out=buf)
        with pytest.raises(ValueError, match="work must be"):
            functional.trusted_backward(x, want_h, dh, W_xh, W_hh, None, "tanh", None,
                                        work=buf)
    with pytest.raises(ValueError, match="dx_out must be"):
        functional.trusted_backward(x, want_h, dh, W_xh, W_hh, None, "tanh", None,
                                    dx_out=np.empty((4, 5, 6), np.float32))
    out, work, dx_out = (np.full(s, np.nan, np.float32) for s in ((4, 5, 6), (4, 5, 6),
                                                                   (4, 5, 3)))
    h = functional.trusted_forward(x, W_xh, W_hh, b, None, "tanh", None, out=out)
    assert h is out
    np.testing.assert_array_equal(h, want_h)
    g = functional.trusted_backward(x, h, dh, W_xh, W_hh, None, "tanh", None, work=work,
                                    dx_out=dx_out)
    assert g.dx is dx_out
    for a, e in zip(g, want):
        assert (a is None and e is None) or np.array_equal(a, e)


# --- the paths and the fixture that picks them ----------------------------


def test_path_fixture_selects_threads(path):
    for B, H in [(1, 1), (5, 7), (64, 64)]:
        assert functional._n_threads(B, 1, 1, H) == (1 if path == "serial" else 3)


def test_thread_count_grows_with_step_work(monkeypatch):
    """Fewer than SPLIT_BATCH sequences: threads split each step, so the
    count follows the step product B * H * H."""
    monkeypatch.setattr(functional, "STEP_WORK_PER_THREAD", 1000)
    monkeypatch.setattr(functional, "SEQUENCE_WORK_PER_THREAD", 10**9)  # not used below 8
    assert functional.SPLIT_BATCH == 8
    with fastrnn.threads(4):
        assert functional._n_threads(1, 50, 9, 10) == 1         # 100 multiply-adds a step
        assert functional._n_threads(7, 50, 9, 10) == 1         # 700
        assert functional._n_threads(5, 1, 9, 20) == 2          # 2000, whatever T and D
        assert functional._n_threads(5, 1, 9, 15, np.float64) == 2   # 1125, counted twice
        assert functional._n_threads(7, 1, 1, 100) == 4         # capped by the limit


def test_thread_count_grows_with_sequence_work(monkeypatch):
    """From SPLIT_BATCH sequences on, threads take whole sequences: the count
    follows the work of the whole pass, B * T * H * (D + H), and backward
    needs 4 times as much per thread."""
    monkeypatch.setattr(functional, "STEP_WORK_PER_THREAD", 1)     # not used from 8 on
    monkeypatch.setattr(functional, "SEQUENCE_WORK_PER_THREAD", 1000)
    with fastrnn.threads(4):
        assert functional._n_threads(8, 1, 1, 2) == 1            # 8 * 1 * 2 * 3 = 48
        assert functional._n_threads(8, 5, 2, 5) == 1            # 8 * 5 * 5 * 7 = 1400, ...
        assert functional._n_threads(8, 5, 2, 5, np.float64) == 2    # ... counted twice
        assert functional._n_threads(10, 10, 0, 5) == 2          # 2500
        assert functional._n_threads(10, 20, 0, 5) == 4          # 5000: capped by the limit
        assert functional._n_threads(10, 20, 0, 5, backward=True) == 1   # 5000 // 4000
        assert functional._n_threads(10, 100, 0, 5, backward=True) == 4  # 25000 // 4000 = 6


@pytest.mark.parametrize("value, expected", [("3", 3), (" 1 ", 1), ("", None)])
def test_num_threads_environment_variable(monkeypatch, value, expected):
    monkeypatch.setenv("FASTRNN_NUM_THREADS", value)
    assert _threads._env_threads() == expected


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_num_threads_environment_variable_rejects_bad_values(monkeypatch, value):
    monkeypatch.setenv("FASTRNN_NUM_THREADS", value)
    with pytest.raises(ValueError, match="FASTRNN_NUM_THREADS"):
        _threads._env_threads()


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_paths_agree(path, monkeypatch, dtype, activation):
    """Each way to run against one thread, in float32 too."""
    p = make_problem(4, 5, 6, 3, 37, activation, "per_seq", with_lengths=True).astype(dtype)
    h = p.forward()
    g = p.backward(h)
    with fastrnn.threads(1):
        h_serial = p.forward()
        g_serial = p.backward(h_serial)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert rel_err(h, h_serial) <= tol
    assert_grads_close(g, g_serial, tol)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_default_threshold_large_problem(dtype, activation):
    """Sizes with the default thread settings, without the fixture."""
    B, H = 64, 64
    p = make_problem(5, B, 4, 5, H, activation, "shared", with_lengths=True)
    h_ref = p.forward(reference)
    g_ref = p.backward(h_ref, reference)
    if dtype == np.float32:
        check_float32(p)
        return
    h = p.forward()
    g = p.backward(h)
    assert rel_err(h, h_ref) <= 1e-11
    assert_grads_close(g, g_ref, 1e-11, summand_scales(p, h_ref))


# --- semantics --------------------------------------------------------------


def test_dh_ignored_at_padded_steps(path, dtype):
    p = make_problem(6, 4, 5, 3, 4, "tanh", "per_seq", with_lengths=True).astype(dtype)
    h = p.forward()
    g = p.backward(h)
    pad = ~p.valid()
    assert pad.any()
    dh = p.dh.copy()
    dh[pad] = 1e3
    g2 = replace(p, dh=dh).backward(h)
    for a, c in zip(g, g2):
        np.testing.assert_array_equal(a, c)


def test_full_lengths_equal_no_lengths(path, dtype):
    p = make_problem(7, 3, 4, 2, 5, "relu", "shared").astype(dtype)
    q = replace(p, lengths=np.full(3, 4))
    h_p, h_q = p.forward(), q.forward()
    np.testing.assert_array_equal(h_p, h_q)
    for a, c in zip(p.backward(h_p), q.backward(h_q)):
        np.testing.assert_array_equal(a, c)


def test_shared_h0_is_broadcast_and_its_gradient_summed(path, dtype):
    p = make_problem(8, 3, 4, 2, 5, "tanh", "shared", with_lengths=True).astype(dtype)
    q = replace(p, h0=np.tile(p.h0, (3, 1)))
    h_p, h_q = p.forward(), q.forward()
    np.testing.assert_array_equal(h_p, h_q)
    g_p, g_q = p.backward(h_p), q.backward(h_q)
    assert g_p.dh0.shape == (5,) and g_q.dh0.shape == (3, 5)
    tol = 1e-5 if dtype == np.float32 else 1e-14
    assert rel_err(g_p.dh0, g_q.dh0.sum(axis=0)) <= tol
    for name in ("dx", "dW_xh", "dW_hh", "db"):
        np.testing.assert_array_equal(getattr(g_p, name), getattr(g_q, name))


def test_zero_features(path, dtype):
    """D = 0: the input adds nothing; dx and dW_xh are empty."""
    p = make_problem(9, 2, 3, 0, 4, "tanh", "per_seq").astype(dtype)
    h = p.forward()
    g = p.backward(h)
    assert g.dx.shape == (2, 3, 0) and g.dW_xh.shape == (0, 4)
    assert g.dx.dtype == dtype and g.dW_xh.dtype == dtype
    # The same network with one all-zero input feature.
    q = replace(p, x=np.zeros((2, 3, 1), dtype), W_xh=np.ones((1, 4), dtype))
    h_q = q.forward()
    np.testing.assert_array_equal(h, h_q)
    g_q = q.backward(h_q)
    for name in ("dW_hh", "db", "dh0"):
        np.testing.assert_array_equal(getattr(g, name), getattr(g_q, name))


def test_backward_does_not_modify_inputs(path, dtype):
    p = make_problem(10, 3, 4, 2, 5, "tanh", "per_seq", with_lengths=True).astype(dtype)
    h = p.forward()
    arrays = [p.x, h, p.dh, p.W_xh, p.W_hh, p.b, p.h0, p.lengths]
    copies = [a.copy() for a in arrays]
    p.backward(h)
    p.forward()
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)


# --- 3. finite differences ------------------------------------------------


def fd_problem(activation, h0_kind, with_lengths, margin=1e-3):
    """Tiny problem whose pre-activations all stay `margin` away from relu's kink."""
    for seed in range(100):
        p = make_problem(seed, 3, 3, 2, 3, activation, h0_kind, with_lengths)
        if activation == "tanh":
            return p
        h = p.forward(reference)
        h_prev = np.concatenate([p.h0_full()[:, None], h[:, :-1]], axis=1)
        a = p.x @ p.W_xh + h_prev @ p.W_hh + p.b
        if np.abs(a[p.valid()]).min() > margin:
            return p
    raise AssertionError("no seed keeps relu's pre-activations off 0")  # pragma: no cover


def numerical_gradients(p, api, eps=1e-6):
    """Central differences of L = sum(h * R), R = p.dh, for every parameter."""

    def loss():
        return float(np.sum(p.forward(api) * p.dh))

    def grad(arr):
        g = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = loss()
            arr[idx] = old - eps
            down = loss()
            arr[idx] = old
            g[idx] = (up - down) / (2 * eps)
        return g

    return Gradients(grad(p.x), grad(p.W_xh), grad(p.W_hh), grad(p.b),
                     None if p.h0 is None else grad(p.h0))


def check_fd(p, api):
    g = p.backward(p.forward(api), api)
    g_fd = numerical_gradients(p, api)
    assert_grads_close(g, g_fd, TOL_FD)


@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("h0_kind", H0_KINDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_finite_differences_compiled(path, activation, h0_kind, with_lengths):
    check_fd(fd_problem(activation, h0_kind, with_lengths), fastrnn)


@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("h0_kind", H0_KINDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_finite_differences_reference(activation, h0_kind, with_lengths):
    check_fd(fd_problem(activation, h0_kind, with_lengths), reference)


def test_finite_differences_can_fail(path):
    """The check is not vacuous: a gradient 1% off fails it."""
    p = fd_problem("tanh", "per_seq", True)
    g = p.backward(p.forward())
    wrong = g._replace(dW_hh=g.dW_hh * 1.01)
    with pytest.raises(AssertionError, match="dW_hh"):
        assert_grads_close(wrong, numerical_gradients(p, fastrnn), TOL_FD)


# --- matmul: the kernels' products for the estimators' readout -------------


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (5, 3, 17), (70, 300, 20), (33, 9, 150),
                                     (4, 0, 6), (0, 5, 3)])
def test_matmul_matches_numpy(path, dtype, trans_a, trans_b, m, k, n):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    expected = (a.T if trans_a else a) @ (b.T if trans_b else b)
    got = functional.matmul(a, b, trans_a=trans_a, trans_b=trans_b)
    assert got.shape == (m, n) and got.dtype == dtype and got.flags.c_contiguous
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * max(k, 1))


@pytest.mark.parametrize("m, k, n", [(300, 600, 150), (256, 2048, 103), (70, 300, 20)])
def test_matmul_trans_a_same_bits_for_every_thread_count(dtype, m, k, n, monkeypatch):
    """Each thread sums its own tiles of C over every block of K, in block
    order: the bits do not depend on how many threads share the tiles."""
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((k, m)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    results = []
    monkeypatch.setattr(functional, "PRODUCT_WORK_PER_THREAD", 0)  # the limit, always
    for n_threads in (1, 2, 3, 7):
        with fastrnn.threads(n_threads):
            results.append(functional.matmul(a, b, trans_a=True))
            assert functional.last_team_size() == n_threads
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(results[0], a.T @ b, rtol=tol, atol=tol * k)


def test_matmul_takes_strided_views():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((8, 12))[:, ::2]
    b = rng.standard_normal((6, 5))
    np.testing.assert_allclose(functional.matmul(a, b), a @ b, rtol=1e-12)


@pytest.mark.parametrize("a, b, kw, error, match", [
    (np.ones((2, 3)), np.ones(3), {}, ValueError, "2-D"),
    (np.ones((2, 3)), np.ones((3, 2), np.float32), {}, TypeError, "float32 or two float64"),
    (np.ones((2, 3), int), np.ones((3, 2), int), {}, TypeError, "float32 or two float64"),
    (np.ones((2, 3)), np.ones((4, 2)), {}, ValueError, "2 x 3 but op"),
    (np.ones((3, 2)), np.ones((2, 3)), {"trans_a": True, "trans_b": True}, ValueError, "both"),
])
def test_matmul_rejects_bad_arguments(a, b, kw, error, match):
    with pytest.raises(error, match=match):
        functional.matmul(a, b, **kw)
