"""Declares and cythonizes the extension; all metadata lives in pyproject.toml."""

import os
import platform
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("FASTRNN_CYTHON_DEBUG", "0") not in ("", "0")

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
}

# -O3 lets GCC vectorize the contiguous inner loops (the small-size recurrent
# product, the polynomial tanh); -fno-trapping-math lets it turn the clamps and
# the ReLU's comparisons into branch-free min/max/blend. No -ffast-math: the
# tanh relies on exact IEEE rounding (a round-to-integer trick), and
# finiteness must stay checkable.
GNU_LIKE = os.name != "nt"
if not GNU_LIKE:
    compile_args = ["/O2"]
elif DEBUG:
    compile_args = ["-O0", "-g"]
else:
    compile_args = ["-O3", "-fno-trapping-math"]

extensions = [
    Extension(
        "fastrnn._core",
        ["src/fastrnn/_core.pyx"],
        extra_compile_args=compile_args,
    ),
]
# On x86-64 the same kernels are built a second time for AVX2 + FMA; the
# functional layer imports that module only on CPUs that have both, so the
# wheel still runs on any x86-64 CPU.
if GNU_LIKE and platform.machine().lower() in ("x86_64", "amd64") and sys.maxsize > 2**32:
    extensions.append(
        Extension(
            "fastrnn._core_avx2",
            ["src/fastrnn/_core_avx2.pyx"],
            extra_compile_args=compile_args + ["-mavx2", "-mfma"],
        )
    )

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        include_path=["src"],
    ),
)
