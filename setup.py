"""Declares and cythonizes the extension; all metadata lives in pyproject.toml."""

import os

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
# product and the polynomial tanh). No -ffast-math: the tanh relies on exact
# IEEE rounding (a round-to-integer trick), and finiteness must stay checkable.
if os.name == "nt":
    compile_args = ["/O2"]
else:
    compile_args = ["-O3"] if not DEBUG else ["-O0", "-g"]

extensions = [
    Extension(
        "fastrnn._core",
        ["src/fastrnn/_core.pyx"],
        extra_compile_args=compile_args,
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        include_path=["src"],
    ),
)
