# fastrnn kernels: the stepper, a fitted model's weights held ready for its
# small calls (step, and predict on a few short sequences). Included last by
# _core.pyx, _core_avx2.pyx and _core_avx512.pyx.
#
# Sampling a character model calls step once per symbol, and at that size
# the work is a few microseconds of multiply-adds: what a call costs around
# them decides its speed. A _Stepper holds the model's weight arrays, whose
# layout it checked when the model built it; each call takes their buffers
# (which only confirms their shapes: an array resized in place since sends
# the call to the checked path), checks its own input and state, which it
# copies first and checks on the copy (another thread may write the
# caller's arrays meanwhile), runs _step_core on the caller's thread
# without the GIL and, when asked, the softmax of each output in place.
# Nothing is packed: the weights are read in place, so values written into
# them take effect at the next call. The model compares the weight arrays
# it has with the ones held (holds) and builds a new stepper when any was
# replaced.

from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE,
                             PyBuffer_Release, PyObject_GetBuffer)

cimport cython

import numpy as _np

cdef object _np_empty = _np.empty
cdef object _np_float32 = _np.dtype(_np.float32)
cdef object _np_float64 = _np.dtype(_np.float64)


cdef int _float_code(const Py_buffer* view) noexcept:
    """4 or 8 for a buffer of native float32 or float64 values, else 0."""
    cdef const char* f = view.format
    if f == NULL:
        return 0
    if f[0] == b'@' or f[0] == b'=':
        f += 1
    if f[0] == b'f' and f[1] == 0 and view.itemsize == 4:
        return 4
    if f[0] == b'd' and f[1] == 0 and view.itemsize == 8:
        return 8
    return 0


cdef int _int_code(const Py_buffer* view) noexcept:
    """For a buffer of native integers: their size in bytes, negative when
    they are unsigned; else 0."""
    cdef const char* f = view.format
    if f == NULL:
        return 0
    if f[0] == b'@' or f[0] == b'=':
        f += 1
    if f[0] == 0 or f[1] != 0:
        return 0
    if f[0] in b"bhilq":
        return <int>view.itemsize
    if f[0] in b"BHILQ":
        return -<int>view.itemsize
    return 0


cdef int _copy_ids(const void* src, int code, Py_ssize_t n, Py_ssize_t* dst,
                   Py_ssize_t limit) noexcept nogil:
    """dst <- the n integers of src (as _int_code describes them); 0 when
    every copied id lies in 0..limit-1, else -1. The check reads the copy."""
    cdef Py_ssize_t i
    for i in range(n):
        if code == 1:
            dst[i] = (<const signed char*>src)[i]
        elif code == 2:
            dst[i] = (<const short*>src)[i]
        elif code == 4:
            dst[i] = (<const int*>src)[i]
        elif code == 8:
            dst[i] = <Py_ssize_t>(<const long long*>src)[i]
        elif code == -1:
            dst[i] = (<const unsigned char*>src)[i]
        elif code == -2:
            dst[i] = (<const unsigned short*>src)[i]
        elif code == -4:
            dst[i] = (<const unsigned int*>src)[i]
        else:       # unsigned 64-bit: past PY_SSIZE_T_MAX it turns negative
            dst[i] = <Py_ssize_t>(<const unsigned long long*>src)[i]
    for i in range(n):
        if dst[i] < 0 or dst[i] >= limit:
            return -1
    return 0


cdef bint _copy_finite(const void* src, int code, Py_ssize_t n, floating* dst) noexcept nogil:
    """dst <- the n float32 (code 4) or float64 (code 8) values of src,
    rounded to dst's type as NumPy's astype rounds; True when every copied
    value is finite."""
    cdef Py_ssize_t i
    cdef floating total = 0
    if code == 4:
        for i in range(n):
            dst[i] = <floating>(<const float*>src)[i]
    else:
        for i in range(n):
            dst[i] = <floating>(<const double*>src)[i]
    for i in range(n):
        total += dst[i] * 0     # 0 for a finite value, NaN for NaN or +-inf
    return total == 0


cdef int _take_weights(_Stepper st, Py_buffer* views) except -2:
    """views[0..4] <- the buffers of st's W_xh, W_hh, b, W_hy and b_y; 0 when
    they are C-contiguous arrays of one float dtype with consistent shapes,
    the shapes and dtype st was built with (set in st on its first call:
    D, H, N and the item size), else -1 with no buffer held."""
    cdef int i, held = 0, size
    cdef int ndims[5]
    cdef bint ok
    cdef Py_ssize_t D = 0, H = 0, N = 0
    ndims[:] = [2, 2, 1, 2, 1]
    arrays = (st.W_xh, st.W_hh, st.b, st.W_hy, st.b_y)
    try:
        for i in range(5):
            PyObject_GetBuffer(arrays[i], &views[i], PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
            held += 1
    except (BufferError, TypeError, ValueError):
        for i in range(held):
            PyBuffer_Release(&views[i])
        return -1
    size = _float_code(&views[0])
    ok = size != 0
    for i in range(5):
        ok = ok and _float_code(&views[i]) == size and views[i].ndim == ndims[i]
    if ok:
        D, H, N = views[0].shape[0], views[0].shape[1], views[3].shape[1]
        ok = (H > 0 and N > 0 and views[1].shape[0] == H and views[1].shape[1] == H
              and views[2].shape[0] == H and views[3].shape[0] == H and views[4].shape[0] == N)
    if ok and st._size == 0:                # the first call: the model's sizes
        st._size, st.D, st.H, st.N = size, D, H, N
        st.dtype = _np_float32 if size == 4 else _np_float64
    if not ok or size != st._size or D != st.D or H != st.H or N != st.N:
        for i in range(5):
            PyBuffer_Release(&views[i])
        return -1
    return 0


@cython.auto_pickle(False)        # (never pickled: the model drops it, see BaseRNN)
cdef class _Stepper:
    """A fitted single-layer model with a readout, ready for its small calls
    (see the comment above). Built from C-contiguous arrays of one float
    dtype: W_xh (D, H), W_hh (H, H), b (H,), W_hy (H, N), b_y (N,), with H
    and N > 0, the activation's name and its code; ValueError for anything
    else."""

    cdef readonly object W_xh, W_hh, b, W_hy, b_y, dtype
    cdef readonly object activation_name
    cdef readonly int activation
    cdef readonly Py_ssize_t D, H, N
    cdef int _size

    def __cinit__(self, W_xh, W_hh, b, W_hy, b_y, activation_name, int activation):
        cdef Py_buffer views[5]
        cdef int i
        self.W_xh, self.W_hh, self.b, self.W_hy, self.b_y = W_xh, W_hh, b, W_hy, b_y
        self.activation_name, self.activation = activation_name, activation
        self._size = 0
        if _take_weights(self, views) != 0:
            raise ValueError("_Stepper: the weights must be C-contiguous float32 or float64 "
                             "arrays of one dtype, W_xh (D, H), W_hh (H, H), b (H,), "
                             "W_hy (H, N) and b_y (N,) with H, N > 0")
        for i in range(5):
            PyBuffer_Release(&views[i])

    def holds(self, dict d):
        """True when d (the model's attributes) holds these very arrays as
        W_xh_, W_hh_, b_, W_hy_ and b_y_, and this activation's name."""
        return (d.get("W_hh_") is self.W_hh and d.get("W_xh_") is self.W_xh
                and d.get("b_") is self.b and d.get("W_hy_") is self.W_hy
                and d.get("b_y_") is self.b_y and d.get("activation") == self.activation_name)

    def run(self, X, state, Py_ssize_t max_rows, bint proba):
        """(y, new_state) for k >= 1 steps of n >= 1 sequences with n * k <=
        max_rows: X NumPy int ids (n, k) in 0..D-1 or floats (n, k, D),
        state NumPy floats (n, H), both C-contiguous, float32 or float64
        (converted to the weights' dtype) and finite; y (n, k, N) holds the
        readout of each step (its softmax with proba), new_state the state
        after the last step. None when the call is anything else, or when a
        weight array no longer has the shape it was built with (resized
        in place): the caller's checked path then takes it, and raises what
        is wrong."""
        cdef Py_buffer xv, sv
        cdef Py_buffer views[5]
        cdef int code, state_code, i
        try:
            PyObject_GetBuffer(X, &xv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
        except (BufferError, TypeError, ValueError):  # (not a buffer of numbers)
            return None
        try:
            if xv.ndim == 2:
                code = _int_code(&xv)
            elif xv.ndim == 3 and xv.shape[2] == self.D:
                code = _float_code(&xv)
            else:
                code = 0
            if (code == 0 or xv.shape[0] == 0 or xv.shape[1] == 0
                    or xv.shape[0] > max_rows // xv.shape[1]):
                return None
            try:
                PyObject_GetBuffer(state, &sv, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
            except (BufferError, TypeError, ValueError):  # (not a buffer of numbers)
                return None
            try:
                state_code = _float_code(&sv)
                if (state_code == 0 or sv.ndim != 2 or sv.shape[0] != xv.shape[0]
                        or sv.shape[1] != self.H or _take_weights(self, views) != 0):
                    return None
                try:
                    if self._size == 4:
                        return _stepper_run(self, <float*>NULL, views, &xv, code, &sv,
                                            state_code, proba)
                    return _stepper_run(self, <double*>NULL, views, &xv, code, &sv,
                                        state_code, proba)
                finally:
                    for i in range(5):
                        PyBuffer_Release(&views[i])
            finally:
                PyBuffer_Release(&sv)
        finally:
            PyBuffer_Release(&xv)


cdef object _stepper_run(_Stepper st, floating* kind, const Py_buffer* views,
                         const Py_buffer* xv, int code, const Py_buffer* sv, int state_code,
                         bint proba):
    """_Stepper.run for weights (views, checked) of kind's type, once the
    buffers' formats and shapes are checked: copies and checks the input
    and state, then runs the steps into new arrays."""
    cdef Py_ssize_t n = xv.shape[0], k = xv.shape[1], D = st.D, H = st.H, N = st.N
    cdef Py_ssize_t i, n_x = n * k * D if xv.ndim == 3 else 0
    cdef Py_ssize_t n_ids = 0 if xv.ndim == 3 else n * k
    cdef Py_buffer yv, hv
    cdef void* block
    cdef floating* prev
    cdef floating* h_work
    cdef floating* x = NULL
    cdef Py_ssize_t* ids = NULL
    cdef bint ok
    # one block: the ids' copy (first, for its alignment), the state's copy,
    # h_work and the input's copy
    block = PyMem_RawMalloc(n_ids * sizeof(Py_ssize_t)
                            + (2 * n * H + n_x) * sizeof(floating))
    if block == NULL:
        raise MemoryError("no memory for a step's work")
    try:
        prev = <floating*>(<Py_ssize_t*>block + n_ids)
        h_work = prev + n * H
        if n_ids == 0:
            x = h_work + n * H
            ok = _copy_finite(xv.buf, code, n_x, x)
        else:
            ids = <Py_ssize_t*>block
            ok = _copy_ids(xv.buf, code, n_ids, ids, D) == 0
        if not ok or not _copy_finite(sv.buf, state_code, n * H, prev):
            return None
        y = _np_empty((n, k, N), st.dtype)
        h_out = _np_empty((n, H), st.dtype)
        PyObject_GetBuffer(y, &yv, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE)
        try:
            PyObject_GetBuffer(h_out, &hv, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE)
            try:
                with nogil:
                    _step_core(x, ids, <const floating*>views[0].buf,
                               <const floating*>views[1].buf,
                               <const floating*>views[2].buf, prev,
                               <const floating*>views[3].buf,
                               <const floating*>views[4].buf, h_work,
                               <floating*>hv.buf, <floating*>yv.buf, n, k, D, H, N,
                               st.activation)
                    if proba:
                        for i in range(n * k):
                            _softmax_row(<floating*>yv.buf + i * N, N)
            finally:
                PyBuffer_Release(&hv)
        finally:
            PyBuffer_Release(&yv)
        return y, h_out
    finally:
        PyMem_RawFree(block)
