# fastrnn._core_avx512: the kernels of _core.pyx, compiled for AVX-512
# (-mavx512f -mavx512dq -mavx512vl, FMA) with 64-byte vectors
# (FASTRNN_VECTOR_BYTES = 64): the products' panels and register blocks are
# twice as wide, and the compiler vectorizes the per-step loops and the
# tanh 16 floats (8 doubles) at a time. The results are the same bits as
# fastrnn._core_avx2's. Import it only where
# fastrnn._core._cpu_has_avx512() is True.

include "_kernels.pxi"
include "_kernels_train.pxi"
include "_stepper.pxi"
