"""Declares and cythonizes the extension; all metadata lives in pyproject.toml."""

import os
import platform
import sys
import tempfile
import warnings

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext

DEBUG = os.environ.get("FASTRNN_CYTHON_DEBUG", "0") not in ("", "0")
# FASTRNN_SANITIZE=1 builds the kernels with AddressSanitizer and
# UndefinedBehaviorSanitizer (GCC or Clang): for tools/sanitize.sh, not for use.
SANITIZE = os.environ.get("FASTRNN_SANITIZE", "0") not in ("", "0")

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
}

# -O3 lets GCC vectorize the contiguous inner loops (packing, activations,
# the polynomial tanh); -fno-trapping-math lets it turn the clamps and
# the ReLU's comparisons into branch-free min/max/blend. No -ffast-math: the
# tanh relies on exact IEEE rounding (a round-to-integer trick), and
# finiteness must stay checkable.
GNU_LIKE = os.name != "nt"
link_args = []
if SANITIZE and not GNU_LIKE:
    sys.exit("fastrnn: FASTRNN_SANITIZE=1 needs GCC or Clang")
if not GNU_LIKE:
    compile_args = ["/O2"]
elif SANITIZE:
    # -O1 keeps the reports' stacks readable and the run fast enough; any
    # undefined behaviour stops the process like an ASan report does.
    compile_args = ["-O1", "-g", "-fno-omit-frame-pointer", "-Wno-psabi",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
    link_args = ["-fsanitize=address,undefined"]
elif DEBUG:
    compile_args = ["-O0", "-g"]
else:
    # -Wno-psabi: the baseline build's 32-byte vector helpers are static
    # inline, so the ABI note GCC gives about returning them does not apply.
    compile_args = ["-O3", "-fno-trapping-math", "-Wno-psabi"]



def openmp_flags():
    """Compile and link flags for OpenMP, or none when the compiler has no
    OpenMP (then the kernels' parallel loops run on one thread).
    FASTRNN_OPENMP=0 turns it off."""
    if os.environ.get("FASTRNN_OPENMP", "1") in ("", "0"):
        return [], []
    if not GNU_LIKE:
        return ["/openmp"], []
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler

    compiler = new_compiler()
    customize_compiler(compiler)
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "omp_check.c")
        with open(source, "w") as f:
            f.write("#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n")
        try:
            objects = compiler.compile([source], output_dir=tmp, extra_postargs=["-fopenmp"])
            compiler.link_executable(objects, os.path.join(tmp, "omp_check"),
                                     extra_postargs=["-fopenmp"])
        except Exception as exc:  # CompileError, LinkError
            warnings.warn(f"fastrnn: building without OpenMP (single-threaded kernels): {exc}")
            return [], []
    return ["-fopenmp"], ["-fopenmp"]


omp_compile, omp_link = openmp_flags()
compile_args = compile_args + omp_compile
link_args = link_args + omp_link
BUILD_KIND = " ".join(compile_args + ["|"] + link_args)
if SANITIZE:
    print("fastrnn: sanitizer build (AddressSanitizer + UndefinedBehaviorSanitizer): "
          "Python must preload libasan and libubsan, see README 'Sanitizer build'",
          file=sys.stderr)
else:
    print(f"fastrnn: {'debug' if DEBUG else 'optimized'} build: {' '.join(compile_args)}",
          file=sys.stderr)


class build_ext(_build_ext):
    """build_ext that recompiles everything when the flags differ from the
    last build in the same build directory (setuptools only compares file
    times, so a sanitizer build would otherwise reuse optimized objects, or
    the other way round)."""

    def run(self):
        stamp = os.path.join(self.build_temp, "fastrnn-build-flags")
        try:
            with open(stamp) as f:
                previous = f.read()
        except OSError:
            previous = None
        if previous != BUILD_KIND:
            self.force = True
        super().run()
        os.makedirs(self.build_temp, exist_ok=True)
        with open(stamp, "w") as f:
            f.write(BUILD_KIND)

extensions = [
    Extension(
        "fastrnn._core",
        ["src/fastrnn/_core.pyx"],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
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
            extra_link_args=link_args,
        )
    )

setup(
    cmdclass={"build_ext": build_ext},
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        include_path=["src"],
    ),
)
