# Build-time declarations of fastrnn._core_avx2: the same as _core.pxd.

include "_core.pxd"
