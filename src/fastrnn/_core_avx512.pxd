# Build-time declarations of fastrnn._core_avx512: the same as _core.pxd.

include "_core.pxd"
