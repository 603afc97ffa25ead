# fastrnn._core_avx2: the kernels of _core.pyx, compiled with -mavx2 -mfma so
# the compiler vectorizes the per-step loops and the tanh 8 floats (4 doubles)
# at a time. Import it only where fastrnn._core._cpu_has_avx2_fma() is True.

include "_kernels.pxi"
include "_kernels_train.pxi"
include "_stepper.pxi"
