"""The scripts in examples/: each runs (with --quick), writes its result file
into --out-dir, and beats its trivial baseline. The full-size runs are `slow`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib  # noqa: F401  (in the test extra: the PNG branches always run)
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, out_dir, *args, block_matplotlib=False, timeout=300):
    script = EXAMPLES / name
    assert script.exists(), script
    if block_matplotlib:  # run it as if matplotlib were not installed
        code = ("import runpy, sys; sys.modules['matplotlib'] = None; "
                f"sys.argv = {[str(script), *map(str, args)]!r}; "
                f"runpy.run_path({str(script)!r}, run_name='__main__')")
        cmd = [sys.executable, "-c", code]
    else:
        cmd = [sys.executable, str(script), *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=timeout, cwd=out_dir)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return r


def check_adding(d):
    res = json.loads((d / "adding_problem.json").read_text())
    assert res["baseline_mse"] == pytest.approx(1 / 6, rel=0.15)  # Var(U + U) = 1/6
    assert res["test_mse"] < 0.3 * res["baseline_mse"], res
    return res


def check_sine(d, plot):
    res = json.loads((d / "sine_forecast.json").read_text())
    assert res["forecast_rmse"] < 0.8 * res["persistence_rmse"], res
    rows = (d / "sine_forecast.csv").read_text().splitlines()
    assert rows[0] == "wave,step,value,kind" and len(rows) > 100
    assert res["plot"] is plot
    assert (d / "sine_forecast.png").exists() is plot
    if plot:
        assert (d / "sine_forecast.png").read_bytes()[:4] == b"\x89PNG"
    return res


def check_binary(d):
    res = json.loads((d / "binary_addition.json").read_text())
    for key in ("8_bits", "24_bits"):
        t = res["test"][key]
        assert t["bit_accuracy"] > 0.95, res
        assert t["sum_accuracy"] > t["xor_sum_accuracy"] + 0.5, res
    return res


def check_text(d):
    res = json.loads((d / "text_generation.json").read_text())
    assert res["held_out_bits_per_char"] < res["held_out_unigram_entropy"] - 0.4, res
    samples = (d / "text_generation.txt").read_text(encoding="utf-8")
    assert samples.count("--- temperature") == 3 and "The " in samples
    return res


def test_adding_problem(tmp_path):
    r = run_example("adding_problem.py", tmp_path, "--quick", "--out-dir", tmp_path)
    check_adding(tmp_path)
    assert "adding_problem.json" in r.stdout


def test_sine_forecast(tmp_path):
    run_example("sine_forecast.py", tmp_path, "--quick", "--out-dir", tmp_path)
    check_sine(tmp_path, plot=True)


def test_sine_forecast_without_matplotlib(tmp_path):
    r = run_example("sine_forecast.py", tmp_path, "--quick", "--out-dir", tmp_path,
                    block_matplotlib=True)
    check_sine(tmp_path, plot=False)
    assert "matplotlib is not installed" in r.stdout


def test_binary_addition(tmp_path):
    run_example("binary_addition.py", tmp_path, "--quick", "--out-dir", tmp_path)
    check_binary(tmp_path)


def test_text_generation(tmp_path):
    run_example("text_generation.py", tmp_path, "--quick", "--out-dir", tmp_path)
    check_text(tmp_path)


def test_examples_write_into_the_current_directory_by_default(tmp_path):
    run_example("binary_addition.py", tmp_path, "--quick")
    assert (tmp_path / "binary_addition.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["adding_problem.py", "sine_forecast.py",
                                  "binary_addition.py", "text_generation.py"])
def test_full_size_example(name, tmp_path):
    run_example(name, tmp_path, "--out-dir", tmp_path)
    {"adding_problem.py": check_adding,
     "sine_forecast.py": lambda d: check_sine(d, plot=True),
     "binary_addition.py": check_binary,
     "text_generation.py": check_text}[name](tmp_path)
