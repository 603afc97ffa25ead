# fastrnn._core: the kernels compiled for the baseline instruction set of the
# platform. Its cdef functions are the cimport API declared in _core.pxd.

include "_kernels.pxi"
include "_kernels_train.pxi"


cdef extern from *:
    """
    static int fastrnn_cpu_has_avx2_fma(void) {
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    #else
        return 0;
    #endif
    }

    /* What the AVX-512 build (fastrnn._core_avx512) compiles for: AVX-512 F,
     * DQ and VL with AVX2 and FMA. GCC's and Clang's check also asks the OS
     * whether it saves the 512-bit registers. */
    static int fastrnn_cpu_has_avx512(void) {
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return fastrnn_cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    #else
        return 0;
    #endif
    }
    """
    int fastrnn_cpu_has_avx2_fma() noexcept nogil
    int fastrnn_cpu_has_avx512() noexcept nogil


def _cpu_has_avx2_fma():
    """True when this CPU runs AVX2 and FMA code (fastrnn._core_avx2)."""
    return bool(fastrnn_cpu_has_avx2_fma())


def _cpu_has_avx512():
    """True when this CPU (and OS) runs the AVX-512 code of fastrnn._core_avx512."""
    return bool(fastrnn_cpu_has_avx512())
include "_stepper.pxi"
