"""The README's Python examples run, and print what the text says they print."""

from __future__ import annotations

import pathlib
import re

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


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that save files write them here
    code = BLOCKS[index]
    exec(compile(code, f"README.md example {index + 1}", "exec"), {})
    out = capsys.readouterr().out.split()
    if code in TEACHING:
        assert out  # every teaching example prints its result
        position = TEACHING.index(code)
        if position == 1:  # input through the initial state: accuracy ~1
            assert float(out[-1]) >= 0.95
        if position == 4:  # sampling: the text's words come back
            assert "hello" in " ".join(out)
