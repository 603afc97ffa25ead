"""Train fixed-seed models and write (or compare) their weights bit for bit.

    python tools/bit_identity.py write OUT.npz
    python tools/bit_identity.py compare OUT.npz

Covers fit, a partial_fit sequence, truncated BPTT and early stopping, for
RNNRegressor and RNNClassifier, on dense and integer-id inputs, with the
three optimizers, a learned and a masked initial state, lengths and a
target mask; records the weights, loss curves and optimizer state.
"""

from __future__ import annotations

import sys

import numpy as np

import fastrnn


def data(kind, ids, seed=0, n=24, T=9):
    rng = np.random.default_rng(seed)
    if ids:
        X = rng.integers(0, 7, size=(n, T))
        s = (X % 3).astype(float) - 1.0
    else:
        X = rng.standard_normal((n, T, 3))
        s = X.sum(axis=2)
    if kind == "classifier":
        y = (np.cumsum(s, axis=1) > 0).astype(int) + (s > 1)
    else:
        y = np.stack([np.cumsum(s, axis=1) / 5, np.tanh(s)], axis=2)
    lengths = rng.integers(T // 2, T + 1, size=n)
    return X, y, lengths


def model(kind, **kw):
    cls = fastrnn.RNNClassifier if kind == "classifier" else fastrnn.RNNRegressor
    base = dict(n_hidden=11, max_epochs=4, batch_size=5, random_state=0)
    base.update(kw)
    return cls(**base)


def record(out, name, est):
    for key in ("W_xh_", "W_hh_", "b_", "h0_", "W_hy_", "b_y_"):
        if hasattr(est, key):
            out[f"{name}/{key}"] = getattr(est, key)
    out[f"{name}/loss_curve_"] = np.asarray(est.loss_curve_, dtype=np.float64)
    if est.validation_scores_ is not None:
        out[f"{name}/validation_scores_"] = np.asarray(est.validation_scores_)
    opt = est.__dict__.get("_optimizer")
    if opt is not None:
        state = opt.state_dict()
        out[f"{name}/opt.n_steps"] = np.asarray(state["n_steps"])
        for key, slots in state["state"].items():
            for slot, arr in slots.items():
                out[f"{name}/opt.{slot}.{key}"] = arr


def run():
    out = {}
    for kind in ("regressor", "classifier"):
        for ids in (False, True):
            X, y, lengths = data(kind, ids)
            tag = f"{kind}-{'ids' if ids else 'dense'}"
            record(out, f"{tag}/fit", model(kind).fit(X, y))
            record(out, f"{tag}/fit-lengths-sgd",
                   model(kind, optimizer="sgd", learning_rate=0.05, nesterov=True)
                   .fit(X, y, lengths=lengths))
            record(out, f"{tag}/bptt",
                   model(kind, bptt_steps=3, optimizer="adagrad", learning_rate=0.05)
                   .fit(X, y, lengths=lengths))
            record(out, f"{tag}/bptt-last",
                   model(kind, bptt_steps=4, output_steps="last")
                   .fit(X, y[:, -1], lengths=None))
            record(out, f"{tag}/early",
                   model(kind, early_stopping=True, max_epochs=6, n_iter_no_change=2,
                         learn_initial_state=True).fit(X, y, lengths=lengths))
            m = model(kind, learn_initial_state=True, output_steps=3)
            init = np.random.default_rng(5).uniform(-0.5, 0.5, size=(len(X), 11))
            mask = np.arange(11) % 2 == 0
            m.fit(X, y[:, -3:], initial_state=init, initial_state_mask=mask)
            record(out, f"{tag}/init-mask", m)
            p = model(kind)
            extra = {"classes": np.unique(y)} if kind == "classifier" else {}
            for i in range(3):
                sl = slice(8 * i, 8 * i + 8)
                p.partial_fit(X[sl], y[sl], lengths=lengths[sl], **extra)
            p.set_params(learning_rate=0.01)
            p.partial_fit(X, y, **extra)
            record(out, f"{tag}/partial", p)
            tm = np.random.default_rng(7).random(np.shape(y)) < 0.6
            record(out, f"{tag}/target-mask", model(kind).fit(X, y, target_mask=tm))
    return out


def main(argv):
    mode, path = argv
    got = run()
    if mode == "write":
        np.savez(path, **got)
        print(f"wrote {len(got)} arrays to {path}")
        return 0
    with np.load(path, allow_pickle=False) as ref:
        ref = {k: ref[k] for k in ref.files}
    bad = sorted(set(ref) ^ set(got))
    for key in sorted(set(ref) & set(got)):
        a, b = ref[key], got[key]
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            bad.append(key)
    print(f"{len(got)} arrays compared with {path}: "
          + ("all bit-identical" if not bad else f"{len(bad)} differ: {bad[:10]}"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
