"""Declares and cythonizes the extension; all metadata lives in pyproject.toml."""

import os
import sys
import tempfile
import warnings

from Cython import Tempita
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext
from setuptools.errors import CompileError, LinkError

DEBUG = os.environ.get("FASTRNN_CYTHON_DEBUG", "0") not in ("", "0")
# FASTRNN_SANITIZE=1 builds the kernels with AddressSanitizer and
# UndefinedBehaviorSanitizer (GCC or Clang): for tools/sanitize.sh, not for use.
SANITIZE = os.environ.get("FASTRNN_SANITIZE", "0") not in ("", "0")
# FASTRNN_PORTABLE=1 makes GCC and Clang compile the kernels' plain-C vector
# type (arrays in structs), the one that compilers without vector extensions
# (MSVC) build: for tools/portable.sh, which tests that code path.
PORTABLE = os.environ.get("FASTRNN_PORTABLE", "0") not in ("", "0")
# FASTRNN_OPENMP: "1" (default) uses OpenMP when the compiler has it and
# otherwise builds single-threaded kernels (and says so); "0" builds them
# without OpenMP; "require" stops the build when OpenMP is not found.
OPENMP = os.environ.get("FASTRNN_OPENMP", "1").strip().lower()

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
}


def base_flags(msvc):
    """The compile and link flags of this kind of build, before OpenMP."""
    if msvc:
        if SANITIZE:
            sys.exit("fastrnn: FASTRNN_SANITIZE=1 needs GCC or Clang")
        return ["/O2"], []
    if SANITIZE:
        # -O1 keeps the reports' stacks readable and the run fast enough; any
        # undefined behaviour stops the process like an ASan report does.
        return (["-O1", "-g", "-fno-omit-frame-pointer", "-Wno-psabi",
                 "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"],
                ["-fsanitize=address,undefined"])
    if DEBUG:
        return ["-O0", "-g"], []
    # -O3 lets GCC vectorize the contiguous inner loops (packing, activations,
    # the polynomial tanh); -fno-trapping-math lets it turn the clamps and
    # the ReLU's comparisons into branch-free min/max/blend. No -ffast-math:
    # the tanh relies on exact IEEE rounding (a round-to-integer trick), and
    # finiteness must stay checkable. -g0 overrides the -g of Python's own
    # CFLAGS: no debug information in the modules users install.
    # -fno-math-errno: nothing reads errno, and with it GCC vectorizes the
    # square roots of the Adam update (sqrt is correctly rounded either way).
    # -Wno-psabi: the baseline build's 32-byte vector helpers are static
    # inline, so the ABI note GCC gives about returning them does not apply.
    return ["-O3", "-fno-trapping-math", "-fno-math-errno", "-Wno-psabi", "-g0"], []


def openmp_candidates(msvc):
    """(compile flags, link flags) to try for OpenMP, in order."""
    if msvc:
        return [(["/openmp"], [])]
    candidates = [(["-fopenmp"], ["-fopenmp"])]
    if sys.platform == "darwin":
        # Apple's clang has no -fopenmp of its own: its preprocessor takes
        # the pragmas, and the runtime is LLVM's libomp (Homebrew's, or
        # wherever FASTRNN_LIBOMP_PREFIX points).
        prefixes = [os.environ.get("FASTRNN_LIBOMP_PREFIX", ""),
                    "/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"]
        for prefix in prefixes:
            if prefix and os.path.isdir(prefix):
                candidates.append((["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"],
                                   [f"-L{prefix}/lib", "-lomp"]))
        candidates.append((["-Xpreprocessor", "-fopenmp"], ["-lomp"]))
    return candidates


OPENMP_CHECK = "#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n"

# Builds only for an x86-64 target whose compiler takes AVX2 and FMA (a
# universal2 or arm64 build on an x86-64 host fails on #error).
AVX2_CHECK = """\
#if !defined(__x86_64__) && !defined(_M_X64)
#error "not an x86-64 target"
#endif
#include <immintrin.h>
__m256 fastrnn_avx2_check(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
"""
AVX2_FLAGS = ["-mavx2", "-mfma"]
# The AVX-512 build: 64-byte vectors in the products (FASTRNN_VECTOR_BYTES),
# and 512-bit vectors preferred where GCC vectorizes a loop by itself.
AVX512_CHECK = AVX2_CHECK + """\
__m512 fastrnn_avx512_check(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
"""
AVX512_FLAGS = AVX2_FLAGS + ["-mavx512f", "-mavx512dq", "-mavx512vl",
                             "-mprefer-vector-width=512"]
AVX512_MACROS = [("FASTRNN_VECTOR_BYTES", "64")]


class build_ext(_build_ext):
    """Chooses the flags with the compiler that builds the extensions (and
    its target, not the host): OpenMP by a test program, the AVX2 module by
    a test compile. Recompiles everything when the flags differ from the
    last build in the same build directory (setuptools only compares file
    times, so a sanitizer build would otherwise reuse optimized objects, or
    the other way round)."""

    def _compiles(self, tmp, name, source, compile_args, link_args=None):
        path = os.path.join(tmp, name + ".c")
        with open(path, "w") as f:
            f.write(source)
        try:
            objects = self.compiler.compile([path], output_dir=tmp,
                                            extra_postargs=compile_args)
            if link_args is not None:
                self.compiler.link_executable(objects, name, output_dir=tmp,
                                              extra_postargs=link_args)
        except (CompileError, LinkError):
            return False
        return True

    def _choose_flags(self):
        msvc = self.compiler.compiler_type == "msvc"
        compile_args, link_args = base_flags(msvc)
        macros = []
        if PORTABLE:
            macros.append(("FASTRNN_PORTABLE_VECTORS", "1"))
        omp_compile, omp_link, avx2, avx512 = [], [], False, False
        with tempfile.TemporaryDirectory() as tmp:
            if OPENMP not in ("", "0"):
                for c_args, l_args in openmp_candidates(msvc):
                    if self._compiles(tmp, "omp_check", OPENMP_CHECK,
                                      compile_args + c_args, link_args + l_args):
                        omp_compile, omp_link = c_args, l_args
                        break
            # MSVC: fastrnn._core's CPU check needs GCC or Clang, so an AVX2
            # module would never be chosen there.
            if not msvc:
                avx2 = self._compiles(tmp, "avx2_check", AVX2_CHECK,
                                      compile_args + AVX2_FLAGS)
                avx512 = avx2 and self._compiles(tmp, "avx512_check", AVX512_CHECK,
                                                 compile_args + AVX512_FLAGS)
        kind = "sanitizer" if SANITIZE else "debug" if DEBUG else "optimized"
        print(f"fastrnn: {kind} build: {' '.join(compile_args)}", file=sys.stderr)
        if SANITIZE:
            print("fastrnn: AddressSanitizer + UndefinedBehaviorSanitizer: Python must "
                  "preload libasan and libubsan, see README 'Sanitizer build'",
                  file=sys.stderr)
        if PORTABLE:
            print("fastrnn: portable vector code (FASTRNN_PORTABLE_VECTORS): "
                  "plain-C vectors instead of the compiler's vector extensions",
                  file=sys.stderr)
        if omp_compile:
            print(f"fastrnn: OpenMP: {' '.join(omp_compile + ['|'] + omp_link)}",
                  file=sys.stderr)
        elif OPENMP in ("", "0"):
            print("fastrnn: OpenMP off (FASTRNN_OPENMP=0): the kernels run on one thread",
                  file=sys.stderr)
        else:
            message = ("fastrnn: no OpenMP found for this compiler: building "
                       "single-threaded kernels (the kernels run on one thread)")
            if OPENMP == "require":
                sys.exit(message + "; FASTRNN_OPENMP=require")
            print(message, file=sys.stderr)
            warnings.warn(message)
        print("fastrnn: kernel builds: baseline" + (" + AVX2/FMA" if avx2 else
              " only (the target is not x86-64, or the compiler takes no -mavx2 -mfma)")
              + (" + AVX-512" if avx512 else ""), file=sys.stderr)
        builds = {"fastrnn._core": ([], []), "fastrnn._core_avx2": (AVX2_FLAGS, [])}
        if avx512:
            builds["fastrnn._core_avx512"] = (AVX512_FLAGS, AVX512_MACROS)
        if not avx2:
            del builds["fastrnn._core_avx2"]
        return compile_args + omp_compile, link_args + omp_link, macros, builds

    def build_extensions(self):
        compile_args, link_args, macros, builds = self._choose_flags()
        self.extensions = [e for e in self.extensions if e.name in builds]
        for ext in self.extensions:
            extra, extra_macros = builds[ext.name]
            ext.extra_compile_args = compile_args + extra
            ext.extra_link_args = link_args
            ext.define_macros = list(macros) + extra_macros
        build_kind = repr([(e.name, e.extra_compile_args, e.extra_link_args,
                            e.define_macros) for e in self.extensions])
        stamp = os.path.join(self.build_temp, "fastrnn-build-flags")
        try:
            with open(stamp) as f:
                previous = f.read()
        except OSError:
            previous = None
        if previous != build_kind:
            self.force = True
        super().build_extensions()
        os.makedirs(self.build_temp, exist_ok=True)
        with open(stamp, "w") as f:
            f.write(build_kind)


def render_templates(directory="src/fastrnn"):
    """Renders each NAME.pxi.tp of the kernels into NAME.pxi (Tempita, as
    Cython ships it), writing only when the text changes so that cythonize,
    which compares file times, recompiles only after a template edit."""
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".pxi.tp"):
            continue
        source = os.path.join(directory, name)
        with open(source, encoding="utf-8") as f:
            text = Tempita.sub(f.read())
        target = source[: -len(".tp")]
        try:
            with open(target, encoding="utf-8") as f:
                if f.read() == text:
                    continue
        except OSError:
            pass
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)


render_templates()

# The same kernels are built a second time for AVX2 + FMA and a third for
# AVX-512 where the target is x86-64 (build_ext drops those modules
# elsewhere); the functional layer imports each only on CPUs that run it, so
# the wheel still runs on any x86-64 CPU.
extensions = [
    Extension("fastrnn._core", ["src/fastrnn/_core.pyx"]),
    Extension("fastrnn._core_avx2", ["src/fastrnn/_core_avx2.pyx"]),
    Extension("fastrnn._core_avx512", ["src/fastrnn/_core_avx512.pyx"]),
]

setup(
    cmdclass={"build_ext": build_ext},
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        include_path=["src"],
    ),
)
