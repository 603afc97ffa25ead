"""Stacked and bidirectional networks (fastrnn.functional.stacked_forward /
stacked_backward) against PyTorch's nn.RNN(num_layers=L, bidirectional=...),
the NumPy reference composition and finite differences.

Errors are normwise: ``max|a - b| / max(max|b|, tiny)``, per array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import fastrnn
from fastrnn import functional, reference

TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}  # against torch
TOL_REFERENCE = 1e-12  # float64 kernels against the float64 reference
TOL_FD = 1e-7  # analytic gradients against central differences (float64)

# Which optional arguments a problem has: lengths, initial states (some None,
# some shared (H,), some per sequence), and dL/dh_n (the loss reads h_n).
VARIANTS = {
    "plain": dict(lengths=False, h0=False, dh_n=False),
    "lengths": dict(lengths=True, h0=False, dh_n=True),
    "h0": dict(lengths=False, h0=True, dh_n=True),
    "lengths-h0": dict(lengths=True, h0=True, dh_n=False),
}


def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)) if b.size else 0.0


@dataclass
class Stack:
    """One stacked problem; dy and dh_n are R and S in the loss
    sum(output * R) + sum_l,d sum(h_n[l][d] * S[l][d])."""

    x: np.ndarray
    layers: list
    h0: list | None
    lengths: np.ndarray | None
    activation: str
    bidirectional: bool
    dy: np.ndarray
    dh_n: list | None

    def run(self, api=functional, **kw):
        out = api.stacked_forward(self.x, self.layers, self.h0, activation=self.activation,
                                  lengths=self.lengths, bidirectional=self.bidirectional)
        return out, api.stacked_backward(out.cache, self.dy, self.dh_n, **kw)

    def astype(self, dtype):
        def cast(a):
            return a if a is None or a.dtype.kind != "f" else a.astype(dtype)

        def nested(n):
            return None if n is None else [[cast(a) for a in layer] for layer in n]

        layers = [[tuple(cast(w) for w in d) for d in layer] for layer in self.layers]
        return Stack(cast(self.x), layers, nested(self.h0), self.lengths, self.activation,
                     self.bidirectional, cast(self.dy), nested(self.dh_n))


def make_stack(seed, B, T, D, hidden, bidirectional, activation="tanh", variant="plain",
               ids=False):
    """Random float64 problem with len(hidden) layers of those sizes."""
    opts = VARIANTS[variant]
    rng = np.random.default_rng(seed)
    n_dir = 2 if bidirectional else 1
    x = rng.integers(0, D, size=(B, T)) if ids else rng.standard_normal((B, T, D))
    layers, d_in = [], D
    for H in hidden:
        layers.append([(0.7 * rng.standard_normal((d_in, H)) / np.sqrt(d_in),
                        rng.standard_normal((H, H)) / np.sqrt(H),
                        0.3 * rng.standard_normal(H)) for _ in range(n_dir)])
        d_in = H * n_dir
    kinds = [None, "shared", "per_seq"]
    h0 = None
    if opts["h0"]:
        h0 = [[{None: None, "shared": 0.5 * rng.standard_normal(H),
                "per_seq": 0.5 * rng.standard_normal((B, H))}[kinds[(l + 2 * d) % 3]]
               for d in range(n_dir)] for l, H in enumerate(hidden)]
    lengths = None
    if opts["lengths"]:
        lengths = rng.integers(1, T + 1, size=B)
        lengths[0] = T  # one full sequence, and at least one short one
        lengths[-1] = min(lengths[-1], max(1, T - 2))
        if ids:
            x[np.arange(T)[None, :] >= lengths[:, None]] = 0
        else:  # padding must never matter: fill it with large values
            x[np.arange(T)[None, :] >= lengths[:, None]] = 1e3
    dy = rng.standard_normal((B, T, hidden[-1] * n_dir))
    dh_n = None
    if opts["dh_n"]:
        dh_n = [[rng.standard_normal((B, H)) if (l + d) % 2 == 0 else None
                 for d in range(n_dir)] for l, H in enumerate(hidden)]
    return Stack(x, layers, h0, lengths, activation, bidirectional, dy, dh_n)


# --- PyTorch --------------------------------------------------------------


def torch_stack(torch, p):
    """(output, h_n [l][d], dx, grads [l][d] as (dW_xh, dW_hh, db, dh0))
    from torch.nn.RNN on problem p (all layers of one size)."""
    dtype = torch.float64 if p.x.dtype == np.float64 else torch.float32
    B, T, D = p.x.shape
    L, n_dir, H = len(p.layers), len(p.layers[0]), p.layers[0][0][1].shape[0]
    rnn = torch.nn.RNN(D, H, num_layers=L, nonlinearity=p.activation, batch_first=True,
                       bidirectional=p.bidirectional, dtype=dtype)
    rng = np.random.default_rng(1)

    def param(kind, l, d):
        return getattr(rnn, f"{kind}_l{l}" + ("_reverse" if d else ""))

    with torch.no_grad():
        for l, layer in enumerate(p.layers):
            for d, (W_xh, W_hh, b) in enumerate(layer):
                bias_ih = rng.standard_normal(H).astype(b.dtype)
                param("weight_ih", l, d).copy_(torch.from_numpy(W_xh.T.copy()))
                param("weight_hh", l, d).copy_(torch.from_numpy(W_hh.T.copy()))
                param("bias_ih", l, d).copy_(torch.from_numpy(bias_ih))
                param("bias_hh", l, d).copy_(torch.from_numpy(b - bias_ih))  # sum is b
    x_t = torch.tensor(p.x, requires_grad=True)
    leaves, hx = {}, None
    if p.h0 is not None:
        rows = []
        for l in range(L):
            for d in range(n_dir):
                h = p.h0[l][d]
                if h is None:
                    rows.append(torch.zeros(B, H, dtype=dtype))
                else:
                    leaves[l, d] = torch.tensor(h, requires_grad=True)
                    rows.append(leaves[l, d].expand(B, H))
        hx = torch.stack(rows)
    inp = x_t
    if p.lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(
            x_t, torch.as_tensor(p.lengths, dtype=torch.int64), batch_first=True,
            enforce_sorted=False)
    out, h_n = rnn(inp, hx)
    if p.lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    loss = (out * torch.from_numpy(p.dy)).sum()
    if p.dh_n is not None:
        for l in range(L):
            for d in range(n_dir):
                if p.dh_n[l][d] is not None:
                    loss = loss + (h_n[l * n_dir + d] * torch.from_numpy(p.dh_n[l][d])).sum()
    loss.backward()
    grads = [[(param("weight_ih", l, d).grad.numpy().T, param("weight_hh", l, d).grad.numpy().T,
               param("bias_ih", l, d).grad.numpy(),
               leaves[l, d].grad.numpy() if (l, d) in leaves else None)
              for d in range(n_dir)] for l in range(L)]
    h_n = h_n.detach().numpy()
    return (out.detach().numpy(), [[h_n[l * n_dir + d] for d in range(n_dir)] for l in range(L)],
            x_t.grad.numpy(), grads)


def assert_stack_close(out, g, want_out, want_h_n, want_dx, want_grads, tol):
    assert rel_err(out.output, want_out) <= tol
    assert g.dx.dtype == out.output.dtype
    assert rel_err(g.dx, want_dx) <= tol
    for l, layer in enumerate(want_grads):
        for d, want in enumerate(layer):
            assert rel_err(out.h_n[l][d], want_h_n[l][d]) <= tol, (l, d)
            got = g.layers[l][d]
            assert got.dx is None
            for name, a, b in zip(("dW_xh", "dW_hh", "db", "dh0"), got[1:], want):
                if b is None:
                    assert a is None, (l, d, name)
                else:
                    assert a.dtype == out.output.dtype
                    assert rel_err(a, b) <= tol, (l, d, name, rel_err(a, b))


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.torch
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_matches_torch(torch, path, dtype, n_layers, bidirectional, activation, variant):
    p = make_stack(n_layers, 9, 7, 4, [6] * n_layers, bidirectional, activation,
                   variant).astype(dtype)
    out, g = p.run()
    assert out.output.shape == (9, 7, 6 * (2 if bidirectional else 1))
    assert_stack_close(out, g, *torch_stack(torch, p), TOL[dtype])


@pytest.mark.torch
@pytest.mark.parametrize("B", [1, 3])
def test_matches_torch_small_batches(torch, path, B):
    """Batches below the kernels' whole-sequence split, bidirectional, padded."""
    p = make_stack(5, B, 6, 3, [4, 4], True, "tanh", "lengths-h0")
    out, g = p.run()
    assert_stack_close(out, g, *torch_stack(torch, p), TOL[np.dtype(np.float64)])


# --- the NumPy reference composition -------------------------------------


def assert_matches_reference(p, tol):
    ref_out, ref_g = p.run(reference)
    out, g = p.run()
    ref_grads = [[tuple(gr[1:]) for gr in layer] for layer in ref_g.layers]
    if ref_g.dx is None:  # integer ids
        assert g.dx is None
        ref_g = ref_g._replace(dx=np.zeros(1))
        g = g._replace(dx=np.zeros(1))
    assert_stack_close(out, g, ref_out.output, ref_out.h_n, ref_g.dx, ref_grads, tol)
    return out, g


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("hidden", [[5], [3, 7], [8, 2, 5]], ids=lambda h: "H" + "-".join(map(str, h)))
def test_layer_sizes_that_differ_match_reference(path, hidden, bidirectional, activation, variant):
    p = make_stack(len(hidden), 10, 6, 3, hidden, bidirectional, activation, variant)
    out, _ = assert_matches_reference(p, TOL_REFERENCE)
    assert out.output.shape == (10, 6, hidden[-1] * (2 if bidirectional else 1))
    assert [[h.shape for h in layer] for layer in out.h_n] == \
        [[(10, H)] * (2 if bidirectional else 1) for H in hidden]


@pytest.mark.parametrize("shape", [(1, 1, 1, [1]), (1, 1, 2, [1, 2]), (2, 5, 0, [3, 2]),
                                   (3, 2, 1, [2, 1, 2])], ids=str)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_edge_shapes_match_reference(path, shape, bidirectional):
    B, T, D, hidden = shape
    for variant in VARIANTS:
        p = make_stack(12, B, T, D, hidden, bidirectional, "tanh", variant)
        assert_matches_reference(p, TOL_REFERENCE)


def test_float32_matches_float64_reference(path):
    p = make_stack(3, 9, 8, 5, [6, 4], True, "tanh", "lengths-h0")
    want_out, want_g = p.run(reference)
    out, g = p.astype(np.float32).run()
    assert out.output.dtype == np.float32
    grads = [[tuple(gr[1:]) for gr in layer] for layer in want_g.layers]
    assert_stack_close(out, g, want_out.output, want_out.h_n, want_g.dx, grads, 1e-4)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_integer_ids_match_reference(path, bidirectional):
    p = make_stack(4, 9, 6, 5, [4, 3], bidirectional, "tanh", "lengths", ids=True)
    _, g = assert_matches_reference(p, TOL_REFERENCE)
    dense = Stack(np.eye(5)[p.x], p.layers, p.h0, p.lengths, p.activation, p.bidirectional,
                  p.dy, p.dh_n)
    out_d, g_d = dense.run()
    out, g = p.run()
    assert g.dx is None and rel_err(out.output, out_d.output) <= TOL_REFERENCE
    assert rel_err(g.layers[0][-1].dW_xh, g_d.layers[0][-1].dW_xh) <= TOL_REFERENCE


def test_padding_gives_zeros_and_never_matters(path):
    p = make_stack(6, 9, 7, 3, [4, 5], True, "tanh", "lengths-h0")
    out, g = p.run()
    padded = np.arange(7)[None, :] >= p.lengths[:, None]
    assert padded.any()
    assert (out.output[padded] == 0).all() and (g.dx[padded] == 0).all()
    x2 = p.x.copy()
    x2[padded] = -7.0
    dy2 = p.dy.copy()
    dy2[padded] = 1e6
    out2, g2 = Stack(x2, p.layers, p.h0, p.lengths, p.activation, True, dy2, p.dh_n).run()
    assert np.array_equal(out.output, out2.output) and np.array_equal(g.dx, g2.dx)
    for a, b in zip(sum(g.layers, []), sum(g2.layers, [])):
        assert all(u is None and v is None or np.array_equal(u, v) for u, v in zip(a, b))


def test_backward_direction_starts_at_each_sequences_last_step():
    """A one-layer bidirectional stack: the backward half is forward() on each
    sequence reversed within its length, read back in step order."""
    p = make_stack(7, 4, 6, 3, [5], True, "tanh", "lengths")
    out, _ = p.run()
    W_xh, W_hh, b = p.layers[0][1]
    for i, n in enumerate(p.lengths):
        h = fastrnn.forward(p.x[i:i + 1, :n][:, ::-1], W_xh, W_hh, b)[0, ::-1]
        np.testing.assert_allclose(out.output[i, :n, 5:], h, rtol=0, atol=1e-14)
        np.testing.assert_array_equal(out.h_n[0][1][i], out.output[i, 0, 5:])


def test_results_do_not_depend_on_threads(configure_kernels):
    p = make_stack(8, 12, 9, 4, [6, 6], True, "relu", "lengths-h0").astype(np.float32)
    runs = []
    for config in (("serial", "baseline"), ("threads", "baseline")):
        with configure_kernels(*config):
            out, g = p.run()
        runs.append([out.output, g.dx] + [a for gr in sum(g.layers, []) for a in gr[1:]
                                          if a is not None])
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("variant", ["lengths-h0", "h0"])
def test_concurrent_directions_give_the_same_bits(monkeypatch, configure_kernels, variant):
    """Both directions side by side on two Python threads, or one after the
    other: the same results, bit for bit, with sequences of several lengths
    and of all T steps (whose reversals take other paths); an error in the
    other thread is raised in the caller's."""
    from fastrnn import _layers

    p = make_stack(13, 16, 9, 5, [7, 6], True, "tanh", variant).astype(np.float32)
    runs = []
    for concurrent in (False, True):
        monkeypatch.setattr(_layers, "CONCURRENT_DIRECTIONS", concurrent)
        with configure_kernels("threads", "baseline"):
            out, g = p.run()
        runs.append([out.output, g.dx] + [a for gr in sum(g.layers, []) for a in gr[1:]
                                          if a is not None])
    for a, b in zip(*runs):
        assert np.array_equal(a, b)
    calls = []

    def failing(*args):
        calls.append(args)
        raise MemoryError("no memory in the forward direction")

    with fastrnn.threads(2):
        with pytest.raises(MemoryError, match="forward direction"):
            _layers._directions([lambda: failing(0), lambda: 1], pass_threads=2)
    assert calls == [(0,)]


@pytest.mark.parametrize("api", [functional, reference], ids=["fastrnn", "reference"])
@pytest.mark.parametrize("variant", ["plain", "lengths-h0"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_compute_dx_false_leaves_out_only_dx(path, api, variant, bidirectional):
    """stacked_backward(..., compute_dx=False): dx is None, every layer's
    gradients are the same bits (layer 1 still passes its input gradient
    down to layer 0); anything but a bool is refused."""
    p = make_stack(5, 6, 7, 4, [5, 3], bidirectional, "tanh", variant)
    _, full = p.run(api)
    _, part = p.run(api, compute_dx=False)
    assert full.dx is not None and part.dx is None
    for lf, lp in zip(full.layers, part.layers):
        for gf, gp in zip(lf, lp):
            for a, b in zip(gf, gp):
                assert (a is None and b is None) or np.array_equal(a, b)
    out = api.stacked_forward(p.x, p.layers, p.h0, lengths=p.lengths,
                              bidirectional=bidirectional)
    with pytest.raises(TypeError, match="compute_dx must be True or False"):
        api.stacked_backward(out.cache, p.dy, p.dh_n, compute_dx="no")


def test_cached_indices_are_read_only_and_checked_again():
    p = make_stack(14, 4, 5, 3, [2], True, "tanh", "lengths", ids=True)
    out = functional.stacked_forward(p.x, p.layers, lengths=p.lengths, bidirectional=True)
    lengths, ids = out.cache.args.lengths, out.cache.inputs[0][1]
    with pytest.raises(ValueError, match="read-only"):
        lengths[0] = 99
    for arr, value in ((lengths, 99), (ids, -1)):
        arr.flags.writeable = True
        keep = arr.flat[0]
        arr.flat[0] = value
        with pytest.raises(ValueError, match="lengths or ids were changed"):
            functional.stacked_backward(out.cache, out.output)
        arr.flat[0] = keep
    functional.stacked_backward(out.cache, out.output)


def test_caller_arrays_unchanged():
    p = make_stack(9, 3, 5, 2, [4], False, "tanh", "h0")
    p.dh_n = [[np.ones((3, 4))]]
    dy = p.dy.copy()
    p.run()
    assert np.array_equal(p.dy, dy)


@pytest.mark.parametrize("B, T", [(1, 1), (1, 3), (3, 1), (3, 4)])
@pytest.mark.parametrize("n_layers", [1, 2])
def test_caller_gradients_unchanged_bidirectional(B, T, n_layers):
    # the forward direction's share of dy, then dh_n added to it: a slice
    # of dy is C-contiguous when B * T == 1, which must not make it a view
    p = make_stack(11, B, T, 3, [4] * n_layers, True, "tanh", "h0")
    p.dh_n = [[np.ones((B, 4)), np.full((B, 4), 2.0)] for _ in range(n_layers)]
    dy = p.dy.copy()
    _, g1 = p.run()
    assert np.array_equal(p.dy, dy)
    _, g2 = p.run()
    for a, b in zip(g1.layers[-1], g2.layers[-1]):
        assert np.array_equal(a.db, b.db) and np.array_equal(a.dW_hh, b.dW_hh)


# --- finite differences ---------------------------------------------------


def _loss(p):
    out = functional.stacked_forward(p.x, p.layers, p.h0, activation=p.activation,
                                     lengths=p.lengths, bidirectional=p.bidirectional)
    total = float((out.output * p.dy).sum())
    for l, layer in enumerate(p.dh_n):
        for d, s in enumerate(layer):
            if s is not None:
                total += float((out.h_n[l][d] * s).sum())
    return total


def test_gradients_match_finite_differences():
    p = make_stack(10, 3, 4, 2, [3, 2], True, "tanh", "lengths-h0")
    p.dh_n = [[np.ones((3, 3)), None], [None, np.full((3, 2), -0.5)]]
    _, g = p.run()
    targets = [(p.x, g.dx)]
    for l, layer in enumerate(p.layers):
        for d, (W_xh, W_hh, b) in enumerate(layer):
            gr = g.layers[l][d]
            targets += [(W_xh, gr.dW_xh), (W_hh, gr.dW_hh), (b, gr.db)]
            if p.h0[l][d] is not None:
                targets.append((p.h0[l][d], gr.dh0))
    eps = 1e-6
    for array, grad in targets:
        numeric = np.empty_like(grad)
        for i in np.ndindex(array.shape):
            keep = array[i]
            array[i] = keep + eps
            up = _loss(p)
            array[i] = keep - eps
            down = _loss(p)
            array[i] = keep
            numeric[i] = (up - down) / (2 * eps)
        assert rel_err(grad, numeric) <= TOL_FD


# --- argument checks ------------------------------------------------------


def _good(bidirectional=True):
    return make_stack(11, 2, 3, 4, [3, 5], bidirectional, "tanh", "plain")


@pytest.mark.parametrize("api", [functional, reference], ids=["fastrnn", "reference"])
def test_errors(api):
    p = _good()
    with pytest.raises(ValueError, match=r"layers\[1\] must be a list of 2 direction"):
        api.stacked_forward(p.x, [p.layers[0], p.layers[1][:1]], bidirectional=True)
    with pytest.raises(ValueError, match=r"layers\[0\] must be a list of 1 direction"):
        api.stacked_forward(p.x, p.layers, bidirectional=False)
    with pytest.raises(TypeError, match="non-empty list"):
        api.stacked_forward(p.x, [], bidirectional=True)
    with pytest.raises(ValueError, match=r"layers\[1\]\[0\] W_xh must have shape \(6, 5\) "
                                         r"\(layer 0's n_hidden 3 x 2"):
        api.stacked_forward(p.x, [p.layers[0], _good(False).layers[1] * 2], bidirectional=True)
    with pytest.raises(ValueError, match=r"layers\[0\]\[0\] W_xh must have shape \(3, 3\)"):
        api.stacked_forward(p.x[:, :, :3], p.layers, bidirectional=True)
    mixed = [list(layer) for layer in p.layers]
    mixed[1][1] = (mixed[1][1][0], mixed[1][1][1].astype(np.float32), mixed[1][1][2])
    with pytest.raises(TypeError, match=r"layers\[1\]\[1\] W_hh has dtype float32, but the "
                                        "stack computes in float64"):
        api.stacked_forward(p.x, mixed, bidirectional=True)
    sizes = [list(layer) for layer in p.layers]
    sizes[0][1] = _good(False).layers[1][0]
    with pytest.raises(ValueError, match=r"both directions of a layer have one size"):
        api.stacked_forward(p.x, sizes, bidirectional=True)
    with pytest.raises(ValueError, match=r"h0 must be None or a list of 2 layer"):
        api.stacked_forward(p.x, p.layers, [np.zeros(3)], bidirectional=True)
    with pytest.raises(ValueError, match=r"h0\[1\]\[0\] must have shape \(5,\) \(shared\)"):
        api.stacked_forward(p.x, p.layers, [[None, None], [np.zeros(3), None]],
                            bidirectional=True)
    nan = [list(layer) for layer in p.layers]
    nan[0][0] = (nan[0][0][0], nan[0][0][1] * np.nan, nan[0][0][2])
    with pytest.raises(ValueError, match=r"layers\[0\]\[0\] W_hh contains NaN"):
        api.stacked_forward(p.x, nan, bidirectional=True)
    with pytest.raises(TypeError, match="bidirectional must be True or False"):
        api.stacked_forward(p.x, p.layers, bidirectional="yes")
    with pytest.raises(ValueError, match="lengths must lie in 1..3"):
        api.stacked_forward(p.x, p.layers, bidirectional=True, lengths=[4, 1])
    out = api.stacked_forward(p.x, p.layers, bidirectional=True)
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 3, 10\)"):
        api.stacked_backward(out.cache, np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match=r"dh_n\[0\]\[1\] must have shape \(2, 3\)"):
        api.stacked_backward(out.cache, out.output, [[None, np.zeros(3)], [None, None]])
    other = reference if api is functional else functional
    with pytest.raises(TypeError, match="cache must be the cache"):
        api.stacked_backward(other.stacked_forward(p.x, p.layers, bidirectional=True).cache,
                             out.output)
