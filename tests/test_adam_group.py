"""Adam over all parameters in one kernel call (functional.adam_update_group,
which optim.Adam takes): the bits of one adam_update per parameter, for
every thread count."""

from __future__ import annotations

import numpy as np
import pytest

import fastrnn
from fastrnn import functional, optim

SHAPES = [(37, 29), (0, 5), (256,), (3, 4, 5), (1,), (300, 7)]


def _state(rng, dtype, shapes):
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    return params, ms, vs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_group_update_gives_the_bits_of_one_update_each(dtype, n_threads, monkeypatch):
    monkeypatch.setattr(functional, "PRODUCT_WORK_PER_THREAD", 0)  # the limit, always
    rng = np.random.default_rng(0)
    one, m1, v1 = _state(rng, dtype, SHAPES)
    group = [p.copy() for p in one]
    m2, v2 = [m.copy() for m in m1], [v.copy() for v in v1]
    for step in range(1, 5):
        grads = [(rng.standard_normal(p.shape) * rng.choice([1e-6, 1.0, 1e3])).astype(dtype)
                 for p in one]
        consts = (0.9, 0.999, 1.0 / np.sqrt(1 - 0.999**step), 1e-8, 1e-3 / (1 - 0.9**step))
        for p, g, m, v in zip(one, grads, m1, v1):
            functional.adam_update(p, g, m, v, *consts)
        with fastrnn.threads(n_threads):
            functional.adam_update_group(list(zip(group, grads, m2, v2)), *consts)
        for a, b in zip(one + m1 + v1, group + m2 + v2):
            np.testing.assert_array_equal(a, b)


def test_group_update_takes_mixed_dtypes_and_a_parameter_given_twice():
    rng = np.random.default_rng(1)
    p32 = rng.standard_normal((5, 3)).astype(np.float32)
    p64 = rng.standard_normal(7)
    g32, g64 = np.ones_like(p32), np.ones_like(p64)
    m32, v32, m64, v64 = (np.zeros_like(a) for a in (p32, p32, p64, p64))
    want32, want64 = p32.copy(), p64.copy()
    wm32, wv32, wm64, wv64 = (np.zeros_like(a) for a in (p32, p32, p64, p64))
    consts = (0.9, 0.999, 1.0, 1e-8, 1e-2)
    # p32 twice: two updates in turn, as two adam_update calls make them
    functional.adam_update_group([(p32, g32, m32, v32), (p64, g64, m64, v64),
                                  (p32, g32, m32, v32)], *consts)
    for _ in range(2):
        functional.adam_update(want32, g32, wm32, wv32, *consts)
    functional.adam_update(want64, g64, wm64, wv64, *consts)
    for a, b in ((p32, want32), (m32, wm32), (v32, wv32), (p64, want64), (m64, wm64)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="inconsistent"):
        functional.adam_update_group([(p32, g64[:3], m32, v32)], *consts)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_steps_a_model_as_one_update_per_parameter(dtype):
    rng = np.random.default_rng(2)
    shapes = {"W_xh": (10, 64), "W_hh": (64, 64), "b": (64,), "W_hy": (64, 103),
              "b_y": (103,)}
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    manual = {k: p.copy() for k, p in params.items()}
    moments = {k: (np.zeros_like(p), np.zeros_like(p)) for k, p in params.items()}
    opt = optim.Adam(3e-3)
    for t in range(1, 4):
        grads = {k: rng.standard_normal(p.shape).astype(dtype) for k, p in params.items()}
        opt.step(params, grads)
        for k, g in grads.items():
            functional.adam_update(manual[k], g, *moments[k], 0.9, 0.999,
                                   1.0 / np.sqrt(1.0 - 0.999**t), 1e-8,
                                   3e-3 / (1.0 - 0.9**t))
    for k in params:
        np.testing.assert_array_equal(params[k], manual[k])
        np.testing.assert_array_equal(opt.state[k]["m"], moments[k][0])
        np.testing.assert_array_equal(opt.state[k]["v"], moments[k][1])
