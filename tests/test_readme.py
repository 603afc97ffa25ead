"""The README's Python examples run, and print what the text says they print."""

from __future__ import annotations

import os
import pathlib
import re

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text() if README.exists() else ""


def _section(title: str) -> str:
    start = TEXT.index(title)
    end = TEXT.find("\n## ", start + 1)
    return TEXT[start:] if end < 0 else TEXT[start:end]


def _blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


BLOCKS = _blocks(TEXT)
TEACHING = _blocks(_section("## Initial states and teaching signals")) if TEXT else []

pytestmark = pytest.mark.skipif(not TEXT, reason="README.md is not next to tests/")


def test_teaching_section_has_an_example_of_each_mode():
    code = "\n".join(TEACHING)
    for needle in ("learn_initial_state=True", "initial_state_mask=", "readout=False",
                   "output_steps=K", "target_mask=", ".step(", "X = np.zeros((n, T, 0))"):
        assert needle in code, needle


def _check_functional(ns, lines):
    # h is (B, T, H); dW_hh is the gradient of the tied weight, summed over
    # all steps: the reference's
    from fastrnn import reference

    B, T, H = ns["B"], ns["T"], ns["H"]
    assert ns["h"].shape == (B, T, H)
    want = reference.backward(ns["x"], ns["h"], ns["dh"], ns["W_xh"], ns["W_hh"])
    assert ns["grads"].dW_hh.shape == (H, H)
    np.testing.assert_allclose(ns["grads"].dW_hh, want.dW_hh, rtol=1e-4, atol=1e-3)


def _check_stacked(ns, lines):
    # the shapes printed, and the stack's results are the reference composition's
    from fastrnn import reference

    assert lines == ["(4, 20, 32) (4, 16)", "(4, 20, 8) (32, 32)"]
    want = reference.stacked_forward(ns["x"], ns["layers"], bidirectional=True,
                                     lengths=ns["lengths"])
    np.testing.assert_allclose(ns["out"].output, want.output, rtol=1e-5, atol=1e-5)
    want_g = reference.stacked_backward(want.cache, np.ones_like(want.output))
    np.testing.assert_allclose(ns["grads"].dx, want_g.dx, rtol=1e-4, atol=1e-4)


def _check_estimators(ns, lines):
    assert float(lines[0]) >= 0.95                           # R^2 of the regressor
    assert lines[1].startswith("['down' 'up'] (2, 2) ")      # classes_, proba's shape
    assert float(lines[1].split()[-1]) >= 0.9                # accuracy
    assert lines[2] == "True"                                # the loaded model agrees


def _check_stacked_estimators(ns, lines):
    single, both = (float(line.split()[-1]) for line in lines)
    assert lines[0].startswith("{'n_hidden': 23} 599 ")
    assert lines[1].startswith("{'n_hidden': 16, 'bidirectional': True} 609 ")
    assert single < 0.7 and both > 0.98                       # "0.594", "0.997"


def _check_learned_h0(ns, lines):
    assert ns["reg"].h0_.shape == (8,)
    assert float(lines[-1]) >= 0.95                          # "R^2 close to 1"


def _check_initial_state_input(ns, lines):
    assert float(lines[-1]) >= 0.95                          # "~1.0"


def _check_attractor(ns, lines):
    assert ns["final"].shape == (300, 3, 10)
    assert float(lines[-1]) < 0.1                            # "small"


def _check_target_mask(ns, lines):
    assert float(lines[-1]) >= 0.8                           # R^2 on every value


def _check_sampling(ns, lines):
    sample = lines[-1]
    assert len(sample) == 41 and set(sample) <= set(ns["chars"])
    assert "hello" in sample                                 # the text's words come back


def _check_from_weights(ns, lines):
    assert lines[0] == "(8, 20, 1) float64"
    assert lines[1].startswith("['a' 'b' 'c'] [")                 # classes_ sorted
    assert ns["clf"].W_hy_.shape == (16, 3)
    assert lines[2] == "True"                                    # get_weights round trip


def _check_torch_keras(ns, lines):
    assert float(lines[0]) < 1e-12                               # PyTorch, float64
    assert float(lines[1]) < 1e-5                                # Keras: float32 products
    assert lines[2] == "True"                                    # the weights come back


def _check_routing(ns, lines):
    assert lines[-1].startswith("{'n_hidden': 12}")              # the larger net wins
    assert float(lines[-1].split()[-1]) > 0.5                    # mean R^2 of the folds
    assert ns["grid"].best_estimator_.get_metadata_routing().fit.requests["lengths"]


def _check_aeon(ns, lines):
    assert float(lines[0]) >= 0.9                            # "about 0.97"
    rmse, mean = map(float, lines[1].split())
    assert rmse < mean                                       # beats the training mean


def _check_sktime(ns, lines):
    assert float(lines[-1]) >= 0.9                           # held-out accuracy


# Each README example states a result (printed, or in a comment): a marker of
# its code, and the check of what the text says.
CHECKS = {
    "grads = fastrnn.backward(x, h, dh, W_xh, W_hh)": _check_functional,
    "functional.stacked_backward(out.cache, np.ones_like(out.output))": _check_stacked,
    'clf.save("clf.npz")': _check_estimators,
    "dict(n_hidden=16, bidirectional=True)": _check_stacked_estimators,
    "print(reg.h0_)": _check_learned_h0,
    "clf.fit(X, y, initial_state=S, initial_state_mask=mask)": _check_initial_state_input,
    "net.fit(np.zeros((300, T, 0)), y, initial_state=S)": _check_attractor,
    "target_mask=taught": _check_target_mask,
    "clf.step(sym, state, return_proba=True)": _check_sampling,
    "GridSearchCV(est, {\"n_hidden\": [2, 12]}, cv=3).fit(X, y, lengths=L)": _check_routing,
    "RNNRegressor.from_weights(**reg.get_weights(), **reg.get_params())": _check_from_weights,
    "rnn, linear = reg.to_torch()": _check_torch_keras,
    "from fastrnn.aeon import": _check_aeon,
    "from fastrnn.sktime import": _check_sktime,
}

# Examples of an optional toolkit run where it is installed (.ci/run has an
# environment with them).
TOOLKITS = {"from fastrnn.aeon import": "aeon", "from fastrnn.sktime import": "sktime"}


def _check_of(code):
    found = [check for marker, check in CHECKS.items() if marker in code]
    assert len(found) == 1, f"README example without exactly one check:\n{code}"
    return found[0]


def test_every_check_has_its_example():
    for marker in CHECKS:
        assert sum(marker in code for code in BLOCKS) == 1, marker


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs_and_shows_what_the_text_says(index, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that save files write them here
    code = BLOCKS[index]
    check = _check_of(code)
    for module in ("torch", "keras"):  # optional: examples that use them need them
        if f"import {module}\n" in code:
            if module == "keras":  # as the example does, before Keras' first import
                monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "torch"))
            try:
                __import__(module)
            except ImportError as exc:  # missing, or Keras without its backend
                pytest.skip(f"{module} cannot be imported: {exc}")
    for marker, toolkit in TOOLKITS.items():
        if marker in code:
            pytest.importorskip(toolkit)
    ns = {}
    exec(compile(code, f"README.md example {index + 1}", "exec"), ns)
    lines = capsys.readouterr().out.splitlines()
    if code in TEACHING:
        assert lines  # every teaching example prints its result
    check(ns, lines)
