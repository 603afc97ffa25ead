"""The toolkit adapters without the toolkits: import guards and input conversion."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastrnn._toolkits import FORWARDED, RNNParams, to_sequences


def _run(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_import_fastrnn_imports_neither_adapter():
    out = _run("""
        import sys, fastrnn
        print(sorted(m for m in sys.modules
                     if m.split(".")[0] in ("aeon", "sktime") or m in ("fastrnn.aeon",
                                                                      "fastrnn.sktime")))
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("toolkit", ["aeon", "sktime"])
def test_adapter_without_its_toolkit_says_how_to_install_it(toolkit):
    out = _run(f"""
        import sys
        sys.modules["{toolkit}"] = None  # as if not installed
        try:
            import fastrnn.{toolkit}
        except ImportError as exc:
            print(exc)
    """)
    assert out.returncode == 0, out.stderr
    assert f"pip install fastrnn[{toolkit}]" in out.stdout


def test_forwarded_hyperparameters_are_fastrnns_and_the_adapters():
    import inspect

    import fastrnn

    own = inspect.signature(RNNParams.__init__).parameters
    assert [p for p in own if p != "self"] == list(FORWARDED)
    theirs = inspect.signature(fastrnn.RNNRegressor.__init__).parameters
    for name in FORWARDED:
        assert own[name].default == theirs[name].default, name


def test_equal_length_array_is_transposed():
    X = np.arange(24.0).reshape(2, 3, 4)  # (n_cases, n_channels, n_timepoints)
    out, lengths = to_sequences(X)
    assert lengths is None and out.shape == (2, 4, 3) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, X.transpose(0, 2, 1))
    out, _ = to_sequences(X[:, 0])  # (n_cases, n_timepoints): one channel
    np.testing.assert_array_equal(out[..., 0], X[:, 0])


def test_unequal_length_list_is_padded_with_lengths():
    X = [np.ones((2, 3)), 2 * np.ones((2, 5))]  # aeon's np-list: (n_channels, n_timepoints_i)
    out, lengths = to_sequences(X)
    assert out.shape == (2, 5, 2)
    np.testing.assert_array_equal(lengths, [3, 5])
    assert (out[0, 3:] == 0).all() and (out[0, :3] == 1).all() and (out[1] == 2).all()
    pd = pytest.importorskip("pandas")
    frames = [pd.DataFrame(np.ones((3, 2))), pd.DataFrame(np.ones((5, 2)))]  # sktime's df-list
    out2, lengths2 = to_sequences(frames)
    np.testing.assert_array_equal(lengths2, [3, 5])
    assert out2.shape == (2, 5, 2)


def test_series_with_different_channels_are_refused():
    with pytest.raises(ValueError, match="same number of channels"):
        to_sequences([np.ones((2, 3)), np.ones((3, 3))])
