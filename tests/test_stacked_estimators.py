"""RNNRegressor / RNNClassifier with several layers (``n_hidden=(H0, H1, ...)``)
and both directions (``bidirectional=True``).

The oracles: PyTorch's ``nn.RNN(num_layers=L, bidirectional=...)`` with the
estimator's weights copied in (outputs, final states, every gradient of the
training objective), central differences of the objective (without torch),
and the NumPy reference composition (``fastrnn.reference.stacked_forward``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fastrnn
from fastrnn import RNNClassifier, RNNRegressor, functional, reference
from fastrnn._stack import Layout, suffix

TOL = {"float64": 1e-10, "float32": 1e-4}  # against torch, normwise
FD_EPS = 1e-6

LAYOUTS = {
    "2-layers": dict(n_hidden=(5, 4), bidirectional=False),
    "bidirectional": dict(n_hidden=4, bidirectional=True),
    "2-layers-bidirectional": dict(n_hidden=(4, 3), bidirectional=True),
}


def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)) if b.size else 0.0


def _data(seed=0, n=7, T=6, D=3, k=2, lengths=True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, D))
    y = rng.normal(size=(n, T, k))
    L = rng.integers(1, T + 1, size=n) if lengths else None
    if L is not None:
        L[0] = T
    return X, y, L


def _targets(y, output_steps, L):
    """y (n, T, k) in the layout of output_steps."""
    n, T = y.shape[:2]
    if output_steps == "all":
        return y
    last = np.full(n, T - 1) if L is None else L - 1
    if output_steps == "last":
        return y[np.arange(n), last]
    return y[:, :output_steps]


def _fitted(layout, output_steps="all", learn=True, dtype="float64", readout=True, seed=0,
            **kw):
    X, y, L = _data(seed)
    yy = _targets(y if readout else np.tanh(y), output_steps, L)
    reg = RNNRegressor(**LAYOUTS[layout], output_steps=output_steps, learn_initial_state=learn,
                       readout=readout, max_epochs=2, learning_rate=0.05, dtype=dtype,
                       random_state=seed, autoscale=False, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, yy, lengths=L)
    return reg, X, yy, L


# --------------------------------------------------------------------------
# the fitted attributes and their shapes
# --------------------------------------------------------------------------

def test_fitted_attributes_are_named_as_pytorch_names_its_weights():
    reg, X, _, _ = _fitted("2-layers-bidirectional")
    D = X.shape[2]
    shapes = {k: v.shape for k, v in reg.get_weights().items()}
    assert shapes == {
        "W_xh": (D, 4), "W_hh": (4, 4), "b": (4,),
        "W_xh_reverse": (D, 4), "W_hh_reverse": (4, 4), "b_reverse": (4,),
        "W_xh_l1": (8, 3), "W_hh_l1": (3, 3), "b_l1": (3,),
        "W_xh_l1_reverse": (8, 3), "W_hh_l1_reverse": (3, 3), "b_l1_reverse": (3,),
        "h0": (4,), "h0_reverse": (4,), "h0_l1": (3,), "h0_l1_reverse": (3,),
        "W_hy": (6, 2), "b_y": (2,)}
    assert reg.start_state(3).shape == (3, 4 + 4 + 3 + 3)


def test_a_refit_with_another_layout_drops_the_old_layers_weights():
    reg, X, y, L = _fitted("2-layers-bidirectional")
    reg.set_params(n_hidden=6, bidirectional=False, learn_initial_state=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y, lengths=L)
    assert sorted(reg.get_weights()) == ["W_hh", "W_hy", "W_xh", "b", "b_y"]
    assert not any(k.endswith("_reverse_") or "_l1" in k for k in vars(reg))


@pytest.mark.parametrize("bad", [(), (4, 0), [3, 2.0], (True,), "4", 0])
def test_bad_layer_sizes_are_refused(bad):
    X, y, _ = _data()
    with pytest.raises(ValueError, match="n_hidden must be an integer >= 1, or a non-empty"):
        RNNRegressor(n_hidden=bad).fit(X, y)


def test_bidirectional_must_be_a_bool():
    X, y, _ = _data()
    with pytest.raises(ValueError, match="bidirectional must be True or False"):
        RNNRegressor(bidirectional="yes").fit(X, y)


# --------------------------------------------------------------------------
# outputs against the reference composition
# --------------------------------------------------------------------------

def _reference_outputs(reg, X, L, initial_state=None, output_steps="all"):
    """What predict must return, composed from fastrnn.reference."""
    layout = Layout.of_fitted(vars(reg))
    params = {k[:-1]: v for k, v in vars(reg).items() if k[:-1] in reg.get_weights()}
    state = initial_state
    if state is None and "h0" in params:
        state = layout.learned_h0(params)
    h0 = layout.split(None if state is None else np.broadcast_to(state, (X.shape[0],
                                                                      layout.total)))
    out, h_n, _ = reference.stacked_forward(X, layout.layers(params), h0, lengths=L,
                                            bidirectional=layout.n_dir == 2)
    n, T = X.shape[:2]
    last = np.full(n, T - 1) if L is None else L - 1
    if output_steps == "last":
        top = np.concatenate(h_n[-1], axis=-1)  # forward at the last step, backward at 0
        return top @ reg.W_hy_ + reg.b_y_
    y = out @ reg.W_hy_ + reg.b_y_
    if output_steps == "all":
        return y  # (compared at the true steps)
    steps = (last[:, None] - np.arange(output_steps)[::-1][None, :])
    return y[np.arange(n)[:, None], steps]


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("output_steps", ["all", "last", 2])
def test_predict_matches_the_reference_composition(layout, output_steps):
    reg, X, _, L = _fitted(layout, output_steps)
    got = reg.predict(X, lengths=L)
    want = _reference_outputs(reg, X, L, output_steps=output_steps)
    if output_steps == "all":
        valid = np.arange(X.shape[1])[None, :] < L[:, None]
        got, want = got[valid], want[valid]
    assert rel_err(got, want) < 1e-12


def test_bidirectional_last_output_reads_the_backward_state_at_step_0():
    # PyTorch's h_n: the backward direction's final state is its state at
    # step 0 (after reading the whole sequence), not at the last step
    reg, X, _, L = _fitted("bidirectional", "last")
    H = 4
    p = reg.get_weights()
    out, h_n, _ = functional.stacked_forward(
        X, [[(p["W_xh"], p["W_hh"], p["b"]), (p["W_xh_reverse"], p["W_hh_reverse"],
                                              p["b_reverse"])]],
        [[p["h0"], p["h0_reverse"]]], lengths=L, bidirectional=True)
    np.testing.assert_array_equal(h_n[0][1], out[:, 0, H:])
    want = np.concatenate([h_n[0][0], h_n[0][1]], axis=1) @ reg.W_hy_ + reg.b_y_
    np.testing.assert_allclose(reg.predict(X, lengths=L), want, rtol=1e-12, atol=1e-14)


def test_initial_state_is_every_layers_state_layer_by_layer():
    reg, X, _, L = _fitted("2-layers-bidirectional", learn=False)
    rng = np.random.default_rng(1)
    S = rng.normal(size=(X.shape[0], 14)) * 0.5
    got = reg.predict(X, lengths=L, initial_state=S)
    want = _reference_outputs(reg, X, L, initial_state=S)
    valid = np.arange(X.shape[1])[None, :] < L[:, None]
    assert rel_err(got[valid], want[valid]) < 1e-12
    mask = np.zeros(14, bool)
    mask[[0, 5, 9, 13]] = True
    start = np.where(mask, S, 0.0)
    got = reg.predict(X, lengths=L, initial_state=S, initial_state_mask=mask)
    want = _reference_outputs(reg, X, L, initial_state=start)
    assert rel_err(got[valid], want[valid]) < 1e-12


# --------------------------------------------------------------------------
# gradients: central differences of the objective (no torch needed)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("case", ["all-learned", "last-masked-state", "units-weighted"])
def test_objective_gradients_match_central_differences(layout, case):
    output_steps = {"all-learned": "all", "last-masked-state": "last", "units-weighted": 2}[case]
    readout = case != "units-weighted"
    reg, X, y, L = _fitted(layout, output_steps, learn=True, readout=readout)
    total = Layout.of_fitted(vars(reg)).total
    kw = dict(lengths=L)
    rng = np.random.default_rng(4)
    if case == "last-masked-state":
        kw["initial_state"] = rng.normal(size=(X.shape[0], total)) * 0.3
        kw["initial_state_mask"] = rng.random(total) < 0.5
    if case == "units-weighted":
        kw["sample_weight"] = rng.uniform(0.5, 2.0, size=X.shape[0])
        y = np.tanh(y) * 0.9
    _, grads = reg._objective(X, y, **kw)
    weights = reg.get_weights()
    assert set(grads) == set(weights) | ({"initial_state"} if "initial_state" in kw else set())
    for name in weights:
        arr = getattr(reg, name + "_")
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + FD_EPS
            fp, _ = reg._objective(X, y, **kw)
            arr[i] = old - FD_EPS
            fm, _ = reg._objective(X, y, **kw)
            arr[i] = old
            num[i] = (fp - fm) / (2 * FD_EPS)
        np.testing.assert_allclose(grads[name], num, rtol=1e-6, atol=1e-9, err_msg=name)
    if "initial_state_mask" in kw:
        mask = kw["initial_state_mask"]
        assert (grads["initial_state"][:, ~mask] == 0).all()
        h0 = np.concatenate([grads["h0" + suffix(l, d)]
                             for l, d in Layout.of_fitted(vars(reg)).slots])
        assert (h0[mask] == 0).all()


# --------------------------------------------------------------------------
# PyTorch's nn.RNN(num_layers, bidirectional) as the outside oracle
# --------------------------------------------------------------------------

def _torch_rnn(torch, reg, dtype):
    layout = Layout.of_fitted(vars(reg))
    H = layout.sizes[0]
    assert set(layout.sizes) == {H}
    tdt = getattr(torch, dtype)
    rnn = torch.nn.RNN(reg.n_features_in_, H, num_layers=len(layout.sizes),
                       bidirectional=layout.n_dir == 2, batch_first=True, dtype=tdt)
    with torch.no_grad():
        for l, d in layout.slots:
            s, ts = suffix(l, d), f"_l{l}" + ("_reverse" if d else "")
            getattr(rnn, "weight_ih" + ts).copy_(torch.from_numpy(getattr(reg, f"W_xh{s}_").T))
            getattr(rnn, "weight_hh" + ts).copy_(torch.from_numpy(getattr(reg, f"W_hh{s}_").T))
            getattr(rnn, "bias_ih" + ts).copy_(torch.from_numpy(getattr(reg, f"b{s}_")))
            getattr(rnn, "bias_hh" + ts).zero_()
    return rnn, layout


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layout", ["2-layers-equal", "bidirectional", "3-layers-bidirectional"])
@pytest.mark.parametrize("output_steps", ["all", "last"])
@pytest.mark.parametrize("lengths", [False, True])
def test_objective_and_outputs_match_torch(dtype, layout, output_steps, lengths):
    """Outputs, final states and every gradient of the objective (mean squared
    error over the taught outputs + L2 term) against nn.RNN with packed
    sequences and a learned initial state per layer and direction."""
    torch = pytest.importorskip("torch")
    spec = {"2-layers-equal": dict(n_hidden=(5, 5), bidirectional=False),
            "bidirectional": dict(n_hidden=5, bidirectional=True),
            "3-layers-bidirectional": dict(n_hidden=(4, 4, 4), bidirectional=True)}[layout]
    X, y, L = _data(3, n=6, T=7, lengths=lengths)
    yy = _targets(y, output_steps, L)
    reg = RNNRegressor(**spec, output_steps=output_steps, learn_initial_state=True,
                       max_epochs=1, learning_rate=0.05, alpha=1e-3, dtype=dtype,
                       random_state=1, autoscale=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, yy, lengths=L)
    loss, grads = reg._objective(X, yy, lengths=L)

    rnn, lay = _torch_rnn(torch, reg, dtype)
    tdt = getattr(torch, dtype)
    n, T = X.shape[:2]
    h0 = {s: torch.tensor(getattr(reg, f"h0{s}_"), requires_grad=True)
          for s in (suffix(l, d) for l, d in lay.slots)}
    start = torch.stack([h0[suffix(l, d)].expand(n, -1) for l, d in lay.slots])
    x = torch.tensor(X, dtype=tdt)
    if L is None:
        out, h_n = rnn(x, start)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(L), batch_first=True,
                                                         enforce_sorted=False)
        out, h_n = rnn(packed, start)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    W_hy = torch.tensor(reg.W_hy_, requires_grad=True)
    b_y = torch.tensor(reg.b_y_, requires_grad=True)
    Y = torch.tensor(yy, dtype=tdt)
    if output_steps == "last":
        top = torch.cat([h_n[-lay.n_dir + d] for d in range(lay.n_dir)], dim=1)
        sq = ((top @ W_hy + b_y - Y) ** 2).sum(dim=1)
        mean = sq.mean()
    else:
        valid = torch.ones(n, T, dtype=torch.bool) if L is None else \
            torch.arange(T)[None, :] < torch.tensor(L)[:, None]
        sq = ((out @ W_hy + b_y - Y) ** 2).sum(dim=2)
        mean = sq[valid].sum() / valid.sum()
    k = yy.shape[-1]
    penalty = sum((p ** 2).sum() for name, p in rnn.named_parameters() if "weight" in name)
    objective = mean / k + 0.5 * reg.alpha * (penalty + (W_hy ** 2).sum())
    objective.backward()
    tol = TOL[dtype]
    value = float(objective.detach())
    assert abs(loss - value) <= tol * abs(value)
    # outputs and final states, as predict and the functional stack give them
    if output_steps == "all":
        pred = reg.predict(X, lengths=L)
        want = (out @ W_hy + b_y).detach().numpy()
        v = valid.numpy()
        assert rel_err(pred[v], want[v]) < tol
    else:
        assert rel_err(reg.predict(X, lengths=L), (top @ W_hy + b_y).detach().numpy()) < tol
    for l, d in lay.slots:
        s, ts = suffix(l, d), f"_l{l}" + ("_reverse" if d else "")
        for ours, theirs, tr in (("W_xh", "weight_ih", True), ("W_hh", "weight_hh", True),
                                 ("b", "bias_ih", False)):
            g = getattr(rnn, theirs + ts).grad.numpy()
            assert rel_err(grads[ours + s], g.T if tr else g) < tol, ours + s
        assert rel_err(grads["h0" + s], h0[s].grad.numpy()) < tol, "h0" + s
    assert rel_err(grads["W_hy"], W_hy.grad.numpy()) < tol
    assert rel_err(grads["b_y"], b_y.grad.numpy()) < tol


# --------------------------------------------------------------------------
# truncated BPTT, partial_fit, step, save/load, from_weights
# --------------------------------------------------------------------------

def test_truncated_bptt_carries_every_layers_state():
    # updates of 1e-300 leave the weights as they were: the last states of
    # partial_fit's windows must then be the final states of one pass over
    # the whole sequences, which they are only if every layer's state is
    # carried from window to window
    X, y, _ = _data(5, n=4, T=9, lengths=False)
    kw = dict(n_hidden=(5, 3), learn_initial_state=True, optimizer="sgd", momentum=0.0,
              alpha=0.0, clip_norm=None, batch_size=4, dtype="float64", random_state=0,
              autoscale=False)
    reg = RNNRegressor(learning_rate=1e-300, bptt_steps=4, **kw)
    reg.partial_fit(X, y)
    start = RNNRegressor(learning_rate=1e-300, **kw)
    start.partial_fit(X[:, :1], y[:, :1])  # the same initial weights, nearly untrained
    for k in reg.get_weights():  # (zero biases move by about 1e-300)
        np.testing.assert_allclose(getattr(reg, k + "_"), getattr(start, k + "_"), rtol=0,
                                   atol=1e-290)
    layout = Layout.of_fitted(vars(reg))
    p = reg.get_weights()
    _, h_n, _ = functional.stacked_forward(X, layout.layers(p),
                                        layout.split(layout.learned_h0(p)))
    np.testing.assert_allclose(reg.last_state_, layout.join(h_n), rtol=1e-13, atol=1e-15)


def test_bidirectional_refuses_truncated_bptt_and_step():
    X, y, _ = _data()
    with pytest.raises(ValueError, match="bptt_steps=3 with bidirectional=True"):
        RNNRegressor(n_hidden=4, bidirectional=True, bptt_steps=3).fit(X, y)
    reg, X, _, _ = _fitted("bidirectional")
    with pytest.raises(ValueError, match="cannot run step by step; call predict"):
        reg.step(X[:, :2])


def test_step_of_a_stack_continues_from_every_layers_state():
    reg, X, _, _ = _fitted("2-layers", learn=True)
    full = reg.predict(X)
    a, state = reg.step(X[:, :2])
    assert state.shape == (X.shape[0], 9)
    b, _ = reg.step(X[:, 2:], state)
    np.testing.assert_allclose(np.concatenate([a, b], axis=1), full, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_save_load_round_trip_continues_training_identically(layout, tmp_path):
    reg, X, y, L = _fitted(layout, "last", dtype="float32")
    path = tmp_path / "m.npz"
    reg.save(path)
    back = fastrnn.load(path)
    assert back.get_params() == reg.get_params()
    for k, v in reg.get_weights().items():
        np.testing.assert_array_equal(getattr(back, k + "_"), v)
    np.testing.assert_array_equal(back.predict(X, lengths=L), reg.predict(X, lengths=L))
    reg.partial_fit(X, y, lengths=L)
    back.partial_fit(X, y, lengths=L)
    for k, v in reg.get_weights().items():
        np.testing.assert_array_equal(getattr(back, k + "_"), v, err_msg=k)


def test_from_weights_round_trip_and_errors():
    reg, X, _, L = _fitted("2-layers-bidirectional", "all")
    w = reg.get_weights()
    back = RNNRegressor.from_weights(**w)
    assert back.n_hidden == (4, 3) and back.bidirectional is True
    np.testing.assert_array_equal(back.predict(X, lengths=L), reg.predict(X, lengths=L))
    missing = dict(w)
    del missing["b_l1_reverse"]
    with pytest.raises(ValueError, match=r"missing \['b_l1_reverse'\]"):
        RNNRegressor.from_weights(**missing)
    wrong = dict(w, W_xh_l1=w["W_xh_l1"][:4])
    with pytest.raises(ValueError, match=r"W_xh_l1 must have shape \(8, 3\)"):
        RNNRegressor.from_weights(**wrong)
    with pytest.raises(ValueError, match="bidirectional=False disagrees"):
        RNNRegressor.from_weights(**w, bidirectional=False)
    some = {k: v for k, v in w.items() if k != "h0_l1"}
    with pytest.raises(ValueError, match="learned initial states go together"):
        RNNRegressor.from_weights(**some)
    with pytest.raises(ValueError, match=r"\['h0_l2'\] given, but the W_hh arrays describe "
                                         r"n_hidden=\(4, 3\), bidirectional=True"):
        RNNRegressor.from_weights(**w, h0_l2=np.zeros(3))
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['W_hh_l1_reversed'\]"):
        RNNRegressor.from_weights(**w, W_hh_l1_reversed=np.eye(3))


def test_continuing_with_another_layout_is_refused():
    reg, X, y, L = _fitted("2-layers")
    reg.set_params(n_hidden=(5, 3))
    with pytest.raises(ValueError, match=r"n_hidden=\(5, 3\), bidirectional=False differs "
                                         r"from the fitted weights \(n_hidden=\(5, 4\)"):
        reg.partial_fit(X, y, lengths=L)


def test_readout_false_teaches_the_top_layers_output():
    X, y, L = _data(2)
    target = np.tanh(y[..., :1]) * 0.8
    reg = RNNRegressor(n_hidden=(6, 3), bidirectional=True, readout=False, max_epochs=3,
                       dtype="float64", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, target, lengths=L)
    layout = Layout.of_fitted(vars(reg))
    p = reg.get_weights()
    out, _, _ = functional.stacked_forward(X, layout.layers(p), lengths=L, bidirectional=True)
    valid = np.arange(X.shape[1])[None, :] < L[:, None]
    np.testing.assert_allclose(reg.predict(X, lengths=L)[valid], out[..., :1][valid],
                               rtol=1e-12)
    with pytest.raises(ValueError, match="the top layer's output has 6 units"):
        RNNRegressor(n_hidden=(6, 3), bidirectional=True, readout=False).fit(
            X, np.zeros(X.shape[:2] + (7,)))


def test_stacked_classifier_learns_a_task_that_needs_the_future():
    # the label of each step is the sign of the next step's input: only the
    # backward direction sees it
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 12, 1))
    y = np.concatenate([X[:, 1:, 0] > 0, np.zeros((200, 1), bool)], axis=1)
    kw = dict(max_epochs=40, learning_rate=0.02, random_state=0, batch_size=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fwd = RNNClassifier(n_hidden=8, **kw).fit(X[:150], y[:150])
        bi = RNNClassifier(n_hidden=8, bidirectional=True, **kw).fit(X[:150], y[:150])
    assert bi.score(X[150:], y[150:]) > 0.95
    assert fwd.score(X[150:], y[150:]) < 0.7


# --------------------------------------------------------------------------
# inputs: ids, no features, autoscale
# --------------------------------------------------------------------------

def test_integer_ids_and_inputs_without_features_feed_the_first_layer():
    rng = np.random.default_rng(6)
    ids = rng.integers(0, 5, size=(12, 7))
    onehot = np.eye(5)[ids]
    y = (ids % 2).astype(float)
    kw = dict(n_hidden=(6, 4), bidirectional=True, max_epochs=2, dtype="float64",
              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = RNNRegressor(n_symbols=5, **kw).fit(ids, y)
        b = RNNRegressor(autoscale=False, **kw).fit(onehot, y)
    np.testing.assert_allclose(a.predict(ids), b.predict(onehot), rtol=1e-10, atol=1e-12)
    S = rng.normal(size=(12, 20)) * 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = RNNRegressor(learn_initial_state=True, **kw).fit(np.zeros((12, 7, 0)), y,
                                                             initial_state=S)
    assert c.W_xh_.shape == (0, 6) and c.W_xh_l1_.shape == (12, 4)
    assert np.isfinite(c.predict(np.zeros((12, 7, 0)), initial_state=S)).all()


def test_autoscale_converts_both_directions_input_weights():
    # inputs about 1024 times too large train on the data divided by
    # input_scale_ (powers of two, exact): the fit of those data without
    # scaling, with every first-layer W_xh (forward and reverse) divided by
    # the scales
    X, y, L = _data(7)
    kw = dict(n_hidden=(4, 3), bidirectional=True, max_epochs=3, dtype="float64",
              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scaled = RNNRegressor(autoscale=True, **kw).fit(X * 1024, y, lengths=L)
        s = scaled.input_scale_
        assert (s >= 256).all()
        plain = RNNRegressor(autoscale=False, **kw).fit(X * 1024 / s, y, lengths=L)
    for k, v in plain.get_weights().items():
        want = v / s[:, None] if k in ("W_xh", "W_xh_reverse") else v
        np.testing.assert_array_equal(getattr(scaled, k + "_"), want, err_msg=k)
    np.testing.assert_allclose(scaled.predict(X * 1024, lengths=L),
                               plain.predict(X * 1024 / s, lengths=L), rtol=1e-12)


KEPT_LAYOUTS = dict(LAYOUTS, **{
    "3-equal-layers": dict(n_hidden=(5, 5, 5), bidirectional=False),
    "3-equal-layers-bidirectional": dict(n_hidden=(4, 4, 4), bidirectional=True),
})


@pytest.mark.parametrize("layout", list(KEPT_LAYOUTS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kept_arrays_of_a_training_step_give_the_bits_of_new_ones(layout, dtype, monkeypatch):
    """The trainer keeps a stack's large arrays from one step to the next
    (fastrnn._layers.Workspace), the backward pass's shared by layers of one
    size: fits with them are the same bits as fits with new arrays at every
    step, through windows and batches of changing shapes (a smaller last
    batch; truncated BPTT where it applies, whose later windows hold fewer
    sequences) and sequences of several lengths."""
    from fastrnn import _layers

    X, y, lengths = _data(seed=3, n=11, T=9)
    kw = dict(KEPT_LAYOUTS[layout], dtype=dtype, batch_size=4, max_epochs=3, random_state=0,
              learn_initial_state=True)
    if not kw["bidirectional"]:
        kw["bptt_steps"] = 4

    taken = []
    array = _layers.Workspace.array

    def spy(self, key, shape, dtype):
        taken.append(key)
        return array(self, key, shape, dtype)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkeypatch.setattr(_layers.Workspace, "array", spy)
        kept = RNNRegressor(**kw).fit(X, y, lengths=lengths)
        assert taken  # the kept arrays were used
        monkeypatch.setattr(_layers, "Workspace", lambda: None)
        new = RNNRegressor(**kw).fit(X, y, lengths=lengths)
    for name, value in vars(new).items():
        if name.endswith("_") and isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(kept, name), value, err_msg=name)
    np.testing.assert_array_equal(kept.predict(X, lengths=lengths), new.predict(X, lengths=lengths))
