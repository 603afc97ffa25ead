"""The shipped type stubs of the kernel modules match what the modules export."""

import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("mypy")

ALLOWLIST = pathlib.Path(__file__).resolve().parents[1] / "tools" / "stubtest-allowlist.txt"


def test_stubtest_kernel_modules(tmp_path):
    from fastrnn import functional

    # the AVX2 build is imported only where this CPU runs it
    modules = [m.__name__ for m in functional.KERNEL_MODULES.values()]
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", *modules, "--allowlist", str(ALLOWLIST)],
        capture_output=True, text=True, cwd=tmp_path)  # mypy's cache goes to tmp_path
    assert proc.returncode == 0, proc.stdout + proc.stderr
