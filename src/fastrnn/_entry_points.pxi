# fastrnn kernels, part 4 of 4 (included by _kernels.pxi): the Python entry
# points (typed memoryviews in, one `with nogil:` each), the small calls that
# advance a few sequences by a few steps, and the test hooks.

# --- Python entry points: typed memoryviews in, one `with nogil:` each. ---

cdef inline const floating* _ptr2(const floating[:, ::1] a) noexcept nogil:
    return &a[0, 0] if a.shape[0] > 0 and a.shape[1] > 0 else NULL


cdef inline const floating* _ptr3(const floating[:, :, ::1] a) noexcept nogil:
    return &a[0, 0, 0] if a.shape[0] > 0 and a.shape[1] > 0 and a.shape[2] > 0 else NULL


def _forward(const floating[:, :, ::1] x, const Py_ssize_t[:, ::1] ids,
             const floating[:, ::1] W_xh,
             const floating[:, ::1] W_hh, const floating[::1] b,
             const floating[:, ::1] h0, const Py_ssize_t[::1] lengths,
             floating[:, :, ::1] h, int activation, int n_threads):
    """h <- forward pass (see rnn_forward). Either x (B, T, D) or ids (B, T)
    is given, the other is None; h0 and lengths may be None."""
    cdef const floating* x_p = NULL if x is None else _ptr3(x)
    cdef const Py_ssize_t* ids_p = NULL if ids is None else &ids[0, 0]
    cdef const floating* h0_p = NULL if h0 is None else &h0[0, 0]
    cdef const Py_ssize_t* len_p = NULL if lengths is None else &lengths[0]
    cdef Py_ssize_t B = h.shape[0], T = h.shape[1], H = h.shape[2]
    cdef Py_ssize_t D = W_xh.shape[0]
    cdef int status
    global fastrnn_team_size
    fastrnn_team_size = 1
    with nogil:
        status = rnn_forward(x_p, ids_p, _ptr2(W_xh), &W_hh[0, 0], &b[0], h0_p,
                             len_p, &h[0, 0, 0], B, T, D, H, activation, n_threads)
    if status != 0:
        raise MemoryError("no memory for the packed weights")


def _backward(const floating[:, :, ::1] x, const Py_ssize_t[:, ::1] ids,
              const floating[:, :, ::1] h,
              const floating[:, :, ::1] dh, const floating[:, ::1] W_xh,
              const floating[:, ::1] W_hh,
              const floating[:, ::1] h0, const Py_ssize_t[::1] lengths,
              floating[:, :, ::1] da, floating[:, :, ::1] dx, floating[:, ::1] dW_xh,
              floating[:, ::1] dW_hh, floating[::1] db, floating[:, ::1] dh0,
              int activation, int n_threads):
    """Gradients into dx, dW_xh, dW_hh, db and dh0 (see rnn_backward).
    Either x or ids is given (then dx is None); h0, lengths and dh0 may be
    None; da is a work buffer."""
    cdef const floating* x_p = NULL if x is None else _ptr3(x)
    cdef const Py_ssize_t* ids_p = NULL if ids is None else &ids[0, 0]
    cdef floating* dx_p = NULL if dx is None else <floating*>_ptr3(dx)
    cdef const floating* h0_p = NULL if h0 is None else &h0[0, 0]
    cdef const Py_ssize_t* len_p = NULL if lengths is None else &lengths[0]
    cdef floating* dh0_p = NULL if dh0 is None else &dh0[0, 0]
    cdef Py_ssize_t B = h.shape[0], T = h.shape[1], H = h.shape[2]
    cdef Py_ssize_t D = W_xh.shape[0]
    cdef int status
    global fastrnn_team_size
    fastrnn_team_size = 1
    with nogil:
        status = rnn_backward(x_p, ids_p, &h[0, 0, 0], &dh[0, 0, 0], _ptr2(W_xh),
                              &W_hh[0, 0], h0_p, len_p, &da[0, 0, 0],
                              dx_p, <floating*>_ptr2(dW_xh),
                              &dW_hh[0, 0], &db[0], dh0_p,
                              B, T, D, H, activation, n_threads)
    if status != 0:
        raise MemoryError("no memory for the packed weights")


def _matmul(const floating[:, ::1] a, const floating[:, ::1] b,
            floating[:, ::1] out, bint trans_a, bint trans_b, int n_threads):
    """out <- op(a) @ op(b) on the kernels' products and threads, where op
    transposes when asked (not both); shapes are checked by the caller."""
    cdef Py_ssize_t M = out.shape[0], N = out.shape[1]
    cdef Py_ssize_t K = a.shape[0] if trans_a else a.shape[1]
    cdef Py_ssize_t lda = a.shape[1], ldb = b.shape[1], size
    cdef floating* buf
    if trans_a and trans_b:
        raise ValueError("op(a) @ op(b) with both transposed is not supported")
    if M == 0 or N == 0:
        return
    if K == 0 or trans_a:   # _gemm_tn adds to out
        out[:, :] = 0
    if K == 0:
        return
    if trans_a:
        size = _tn_panel_work(n_threads, &out[0, 0])
    else:
        size = _panels(N, &out[0, 0]) * 2 * _lanes(&out[0, 0]) * K
    buf = <floating*>PyMem_RawMalloc(size * sizeof(floating))
    if buf == NULL:
        raise MemoryError("no memory for the packed operand")
    global fastrnn_team_size
    fastrnn_team_size = 1
    with nogil:
        if trans_a:
            _gemm_tn(&a[0, 0], lda, &b[0, 0], ldb, &out[0, 0], N, M, N, K, buf, n_threads)
        else:
            if trans_b:     # op(b)(k, j) = b[j, k]
                _pack(&b[0, 0], 1, ldb, K, N, buf)
            else:
                _pack(&b[0, 0], ldb, 1, K, N, buf)
            _gemm_tall(&a[0, 0], lda, buf, &out[0, 0], N, M, N, K, NULL, n_threads)
    PyMem_RawFree(buf)


# --- Small calls: a few sequences, a few steps ---
#
# A fitted model that advances a few sequences by a few steps (sampling a
# character model one symbol at a time) would spend most of a forward call
# packing W_hh, and the readout's call packing W_hy. _step_rows reads the
# weights in place instead, row by row: c += a @ W as axpys over W's rows,
# each row of products summed from zero in k order and then added to c:
# the same chain of multiply-adds per element as the packed products, so
# the results are the same bits as forward followed by the readout. It runs
# on the caller's thread; nothing is prepared, so the weights it reads are
# always the model's current ones.

cdef void _rows_times(const floating* a, Py_ssize_t ra, Py_ssize_t M, Py_ssize_t K,
                      const floating* W, Py_ssize_t N, floating* c, Py_ssize_t ldc,
                      floating* t) noexcept nogil:
    """c[i * ldc + j] += sum over k of a[i * ra + k] * W[k * N + j] for i < M,
    j < N, with W row-major and unpacked; t holds N elements of work. The
    columns go 64 at a time (8 vectors of floats, 16 of doubles: GCC keeps
    the fixed-size block in registers over the whole k loop), then the rest
    together."""
    cdef Py_ssize_t i, k, j, j0
    cdef floating ak
    cdef const floating* w
    cdef floating acc[64]
    for i in range(M):
        j0 = 0
        while j0 + 64 <= N:
            for j in range(64):
                acc[j] = 0
            w = W + j0
            for k in range(K):
                ak = a[i * ra + k]
                for j in range(64):
                    acc[j] += ak * w[j]
                w += N
            _add(c + i * ldc + j0, acc, 64)
            j0 += 64
        if j0 < N:
            for j in range(N - j0):
                t[j] = 0
            for k in range(K):
                ak = a[i * ra + k]
                w = W + k * N + j0
                for j in range(N - j0):
                    t[j] += ak * w[j]
            _add(c + i * ldc + j0, t, N - j0)


def _step_rows(const floating[:, :, ::1] x, const Py_ssize_t[:, ::1] ids,
               const floating[:, ::1] W_xh, const floating[:, ::1] W_hh,
               const floating[::1] b, const floating[:, ::1] h_prev,
               const floating[:, ::1] W_hy, const floating[::1] b_y,
               floating[:, ::1] h_work, floating[:, ::1] h_out,
               floating[:, :, ::1] y, floating[::1] t_work, int activation):
    """k steps of B sequences (k = y.shape[1]) from h_prev:
    h_t = act(b + x_t @ W_xh + h_{t-1} @ W_hh) (for ids: b + W_xh[id]) and
    y_t = b_y + h_t @ W_hy. Either x or ids is given. h_work (B, H) and
    t_work (max(H, N)) are work buffers; h_out (B, H) receives the last
    state. Shapes and ids are checked by the caller."""
    cdef Py_ssize_t B = h_out.shape[0], H = h_out.shape[1]
    cdef Py_ssize_t k = y.shape[1], N = y.shape[2], D = W_xh.shape[0]
    cdef Py_ssize_t t, s
    cdef const Py_ssize_t* id_p = NULL if ids is None else &ids[0, 0]
    cdef const floating* x_p = NULL if x is None or D == 0 else &x[0, 0, 0]
    cdef const floating* W_xh_p = _ptr2(W_xh)
    cdef const floating* prev
    cdef floating* cur
    cdef floating* bufs[2]
    if B == 0 or k == 0:
        return
    prev = &h_prev[0, 0]
    bufs[0] = &h_work[0, 0]
    bufs[1] = &h_out[0, 0]
    with nogil:
        for t in range(k):
            cur = bufs[1 - (k - 1 - t) % 2]     # the last step lands in h_out
            for s in range(B):
                _copy(cur + s * H, &b[0], H)
                if id_p != NULL:            # one-hot row: a row of W_xh
                    _add(cur + s * H, W_xh_p + id_p[s * k + t] * H, H)
            if x_p != NULL:
                _rows_times(x_p + t * D, k * D, B, D, W_xh_p, H, cur, H, &t_work[0])
            _rows_times(prev, H, B, H, &W_hh[0, 0], H, cur, H, &t_work[0])
            for s in range(B):
                _activate(cur + s * H, H, activation)
                _copy(&y[s, t, 0], &b_y[0], N)
            _rows_times(cur, H, B, H, &W_hy[0, 0], N, &y[0, t, 0], k * N, &t_work[0])
            prev = cur


def _omp_max_threads():
    """OpenMP's thread limit for this thread: omp_get_max_threads(), which
    OMP_NUM_THREADS and threadpoolctl set (1 when built without OpenMP)."""
    return fastrnn_omp_max_threads()


def _last_team_size():
    """Threads of the last parallel region a kernel call entered (1 when the
    last call ran inline on the caller's thread): a test hook."""
    return fastrnn_team_size


def _tanh_hook(floating[::1] values):
    """Apply the kernels' vectorized tanh in place (a test hook)."""
    cdef Py_ssize_t n = values.shape[0]
    if n == 0:
        return
    with nogil:
        _activate(&values[0], n, ACT_TANH)


# The kernels' constants for the Python side (fastrnn._validation and
# fastrnn.functional read them from here): defined once, in _core.pxd.
ACTIVATION_CODES = {"tanh": ACT_TANH, "relu": ACT_RELU}
SPLIT_BATCH_SEQUENCES = SPLIT_BATCH


def _all_finite(const floating[::1] values):
    """True when no value is NaN or +-inf (v * 0 is 0 exactly when v is finite).

    Eight independent lanes let the compiler vectorize the scan; unlike
    np.isfinite(a).all() it allocates nothing.
    """
    cdef floating lanes[8]
    cdef Py_ssize_t n = values.shape[0], i = 0, k
    cdef floating total = 0
    for k in range(8):
        lanes[k] = 0
    with nogil:
        while i + 8 <= n:
            for k in range(8):
                lanes[k] += values[i + k] * 0
            i += 8
        while i < n:
            total += values[i] * 0
            i += 1
        for k in range(8):
            total += lanes[k]
    return total == 0
