"""Which compiled build of the kernels runs: the widest instruction set this
CPU has (AVX-512, AVX2 + FMA, or the baseline build), unless FASTRNN_KERNELS
names another. :mod:`fastrnn.functional` calls ``kernels``; the other
modules that call the kernels directly take it from here.
"""

from __future__ import annotations

import os

from . import _threads  # noqa: F401  (loads the OpenMP runtime with fastrnn's waits first)

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "fastrnn's compiled extension fastrnn._core could not be imported "
        f"({exc}). Install the package with `pip install .` from the source "
        "tree, or for development `pip install -e . --no-build-isolation` and "
        "`python setup.py build_ext --inplace` after each .pyx change."
    ) from exc


def _kernel_modules() -> dict:
    """The compiled kernel modules this machine can run, by instruction set."""
    modules = {"baseline": _core}
    if _core._cpu_has_avx2_fma():
        try:
            from . import _core_avx2
        except ImportError:  # not built on this platform
            pass
        else:
            modules["avx2"] = _core_avx2
    if _core._cpu_has_avx512():
        try:
            from . import _core_avx512
        except ImportError:  # not built on this platform
            pass
        else:
            modules["avx512"] = _core_avx512
    return modules


def _chosen_kernels(modules: dict):
    """The kernels forward/backward call: the widest build this CPU runs
    (avx512, avx2, baseline), unless FASTRNN_KERNELS names one of the
    builds it runs (FASTRNN_BASELINE_KERNELS=1 is FASTRNN_KERNELS=baseline)."""
    name = os.environ.get("FASTRNN_KERNELS", "").strip().lower()
    baseline = os.environ.get("FASTRNN_BASELINE_KERNELS", "").strip().lower()
    if baseline not in ("", "0", "1", "false", "true", "no", "yes", "off", "on"):
        raise ImportError(f"FASTRNN_BASELINE_KERNELS={baseline!r}: give 1 (or true, yes, "
                          "on) for the baseline build, 0 (or false, no, off) or nothing "
                          "for the default")
    if not name and baseline in ("1", "true", "yes", "on"):
        name = "baseline"
    if name:
        if name not in modules:
            raise ImportError(f"FASTRNN_KERNELS={name!r}: this machine runs the kernel "
                              f"builds {sorted(modules)}")
        return modules[name]
    for name in ("avx512", "avx2", "baseline"):
        if name in modules:
            return modules[name]


KERNEL_MODULES = _kernel_modules()
kernels = _chosen_kernels(KERNEL_MODULES)
