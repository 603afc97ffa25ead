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
    """
    int fastrnn_cpu_has_avx2_fma() noexcept nogil


def _cpu_has_avx2_fma():
    """True when this CPU runs AVX2 and FMA code (fastrnn._core_avx2)."""
    return bool(fastrnn_cpu_has_avx2_fma())
