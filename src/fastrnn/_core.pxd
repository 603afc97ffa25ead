# The cimport API of fastrnn's kernels, for Cython packages that embed them.
#
# All arrays are C-contiguous, batch-first, in float32 or float64 (`floating`):
#   x (B, T, D) or, instead, ids (B, T) in 0..D-1 standing for one-hot rows
#   of x (the other one NULL), h and dh (B, T, H), W_xh (D, H), W_hh (H, H), b (H,),
#   h0 (B, H) or NULL (zeros), lengths (B,) in 1..T or NULL (all T).
# rnn_backward's dh0 may be NULL (not wanted), and so may dx: then the
# gradient of x is not computed (with ids it never is).
# The caller checks every shape, value and size first: the kernels check
# nothing, never raise and never take the GIL. They run on n_threads OpenMP
# threads (1: inline, on the caller's thread; without OpenMP at build time,
# always inline). Both return 0, or -1 when they could not allocate their
# packed copy of the weights (about (D + H) x H elements), having written
# nothing.

from cython cimport floating

cdef enum Activation:
    ACT_TANH = 0
    ACT_RELU = 1

cdef enum:
    # From SPLIT_BATCH sequences on, n_threads threads take groups of whole
    # sequences; below it they split each step's product by columns and meet
    # after every step (fastrnn.functional counts threads by the same rule).
    # They also split by columns when the groups would hold at most 12
    # sequences and W_hh takes 1.5 MB or more (see _passes.pxi).
    SPLIT_BATCH = 8

cdef int rnn_forward(
    const floating* x, const Py_ssize_t* ids, const floating* W_xh, const floating* W_hh,
    const floating* b, const floating* h0, const Py_ssize_t* lengths,
    floating* h,
    Py_ssize_t B, Py_ssize_t T, Py_ssize_t D, Py_ssize_t H,
    int activation, int n_threads) noexcept nogil

cdef int rnn_backward(
    const floating* x, const Py_ssize_t* ids, const floating* h, const floating* dh,
    const floating* W_xh, const floating* W_hh,
    const floating* h0, const Py_ssize_t* lengths,
    floating* da,
    floating* dx, floating* dW_xh, floating* dW_hh, floating* db,
    floating* dh0,
    Py_ssize_t B, Py_ssize_t T, Py_ssize_t D, Py_ssize_t H,
    int activation, int n_threads) noexcept nogil
