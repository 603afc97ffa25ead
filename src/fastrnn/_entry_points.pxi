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


# --- The readout of a classifier's training window, in one call ---
#
# logits z = b_y + h @ W_hy, the softmax cross-entropy's gradient dz =
# scale * (softmax(z) - onehot(y)) in place of z, dW_hy = h^T dz, db_y =
# column sums of dz and dh = dz @ W_hy^T: what fastrnn.losses.output_loss
# does with three matmul calls and the softmax kernel, the same bits, in one
# parallel region. Each thread takes a share of blocks of rows and, while
# a block is in cache, forms its logits, their gradient and its rows of dh;
# after one barrier, each forms its share of dW_hy's panels of rows (over
# all rows, in blocks of TN_DEPTH, as _gemm_tn does) and of db_y's columns
# (summed in double in row order, as _softmax_xent does). The rows' loss
# and gradient are _xent_row's, from _kernels_train.pxi, which every kernel
# module includes after this file.

cdef double _xent_row_v(floating* z, Py_ssize_t C, Py_ssize_t y,
                        floating scale) noexcept nogil:
    """_xent_row (_kernels_train.pxi) on whole vectors, the same bits: the
    row maximum over 16 lanes (a maximum does not depend on the order; the
    sign of a zero maximum changes no result), the exponentials 16 at a
    time (a last partial group through a buffer, where _xent_row takes them
    one by one), then _xent_row's sums, scaling and loss as they are."""
    cdef floating m[16]
    cdef floating t[16]
    cdef floating mx, zy, inv
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0, total
    cdef Py_ssize_t j = 0, l, n
    for l in range(16):
        m[l] = z[0]
    while j + 16 <= C:          # the row maximum (NaN propagates through the sums)
        for l in range(16):
            m[l] = z[j + l] if z[j + l] > m[l] else m[l]
        j += 16
    while j < C:
        m[0] = z[j] if z[j] > m[0] else m[0]
        j += 1
    mx = m[0]
    for l in range(1, 16):
        mx = m[l] if m[l] > mx else mx
    zy = z[y] - mx
    j = 0
    while j + 16 <= C:          # the exponentials in place
        for l in range(16):
            z[j + l] = _exp_nonpos(z[j + l] - mx)
        j += 16
    if j < C:
        n = C - j
        for l in range(16):
            t[l] = mx
        for l in range(n):
            t[l] = z[j + l]
        for l in range(16):
            t[l] = _exp_nonpos(t[l] - mx)
        for l in range(n):
            z[j + l] = t[l]
    j = 0
    while j + 4 <= C:           # their sum in double, four lanes
        s0 += z[j]
        s1 += z[j + 1]
        s2 += z[j + 2]
        s3 += z[j + 3]
        j += 4
    while j < C:
        s0 += z[j]
        j += 1
    total = (s0 + s1) + (s2 + s3)
    inv = <floating>(1.0 / total) * scale
    for j in range(C):
        z[j] = z[j] * inv
    z[y] -= scale
    return log(total) - zy


cdef void _readout_rows(const floating* h, const floating* Wp, const floating* WTp,
                        const floating* b_y, const floating* zeros,
                        const Py_ssize_t* targets, floating scale,
                        floating* z, floating* dh, double* row_losses,
                        Py_ssize_t M, Py_ssize_t H, Py_ssize_t V,
                        Py_ssize_t i0, Py_ssize_t rows) noexcept nogil:
    """Rows [i0, i0 + rows) of _readout_xent's logits, their gradient, their
    losses and their rows of dh; W_hy packed at Wp (K = H, N = V), W_hy^T
    at WTp (K = V, N = H), zeros: H zeros. The products store b_y + the sum
    and 0 + the sum: the bits of a row set to b_y (or 0) and then added to."""
    cdef Py_ssize_t panel = 2 * _lanes(h), i, p, r, n
    cdef Py_ssize_t step = FASTRNN_TALL_ROWS
    r = 0
    while r < rows:             # z = b_y + h @ W_hy
        n = min(step, rows - r)
        for p in range(_panels(V, h)):
            _block_rows(h + (i0 + r) * H, H, 1, n, Wp + p * panel * H, panel, H,
                        min(panel, V - p * panel), z + (i0 + r) * V + p * panel, V,
                        b_y + p * panel, False)
        r += step
    for i in range(i0, i0 + rows):
        row_losses[i] = _xent_row_v(z + i * V, V, targets[i], scale)
    r = 0
    while r < rows:             # dh = dz @ W_hy^T
        n = min(step, rows - r)
        for p in range(_panels(H, h)):
            _block_rows(z + (i0 + r) * V, V, 1, n, WTp + p * panel * V, panel, V,
                        min(panel, H - p * panel), dh + (i0 + r) * H + p * panel, H,
                        zeros + p * panel, False)
        r += step


cdef void _readout_share(const floating* h, const floating* Wp, const floating* WTp,
                         const floating* b_y, const floating* zeros,
                         const Py_ssize_t* targets, floating scale,
                         floating* z, floating* dW, floating* db, floating* dh,
                         double* row_losses, double* acc,
                         Py_ssize_t M, Py_ssize_t H, Py_ssize_t V,
                         Py_ssize_t tid, Py_ssize_t team, floating* work) noexcept nogil:
    """Thread tid's share of _readout_xent among team threads; work: its
    _tn_panel_work(1) elements."""
    cdef Py_ssize_t n_rows = 4 * FASTRNN_TALL_ROWS
    cdef Py_ssize_t n_blocks = (M + n_rows - 1) // n_rows, n_panels = _panels(H, h)
    cdef Py_ssize_t blk, i, j, j0 = tid * V // team, j1 = (tid + 1) * V // team
    for blk in range(tid * n_blocks // team, (tid + 1) * n_blocks // team):
        _readout_rows(h, Wp, WTp, b_y, zeros, targets, scale, z, dh, row_losses, M, H, V,
                      blk * n_rows, min(n_rows, M - blk * n_rows))
    if team > 1:
        fastrnn_barrier()
    # dW_hy = h^T dz
    _tn_panels(h, H, z, V, dW, V, H, V, M, tid * n_panels // team,
               (tid + 1) * n_panels // team, work)
    for j in range(j0, j1):     # db_y: column sums of dz
        acc[j] = 0
    for i in range(M):
        for j in range(j0, j1):
            acc[j] += z[i * V + j]
    for j in range(j0, j1):
        db[j] = <floating>acc[j]


cdef Py_ssize_t _readout_work_size(Py_ssize_t H, Py_ssize_t V, int n_threads,
                                   const floating* p) noexcept nogil:
    """Elements of _readout_xent's work buffer (p selects the type): W_hy
    and W_hy^T packed, a row of zeros and a work panel per thread."""
    cdef Py_ssize_t panel = 2 * _lanes(p)
    return (_panels(V, p) * panel * H + _panels(H, p) * panel * V + H
            + _tn_panel_work(n_threads, p))


def _readout_xent_work(Py_ssize_t H, Py_ssize_t V, int n_threads, bint double):
    """Elements of _readout_xent's work buffer for float64 (double) or float32."""
    cdef double d = 0
    cdef float f = 0
    return _readout_work_size(H, V, n_threads, &d) if double else \
        _readout_work_size(H, V, n_threads, &f)


def _readout_xent(const floating[:, ::1] h, const floating[:, ::1] W_hy,
                  const floating[::1] b_y, const Py_ssize_t[::1] targets, floating scale,
                  floating[:, ::1] z, floating[:, ::1] dW, floating[::1] db,
                  floating[:, ::1] dh, double[::1] row_losses, floating[::1] work,
                  int n_threads):
    """The readout and softmax cross-entropy of M rows h (M, H) with class
    indices targets (M,) in 0..V-1 (checked by the caller, on its own copy):
    z (M, V) <- scale * (softmax(b_y + h @ W_hy) - onehot(targets)), dW (H,
    V) <- h^T z, db (V,) <- column sums of z, dh (M, H) <- z @ W_hy^T,
    row_losses (M,) <- each row's -log softmax[target]; returns their sum (in
    double, in row order). work: _readout_xent_work(H, V, n_threads)
    elements (a buffer the caller keeps: a new one per call would cost the
    page faults of its first use). M, H and V are positive; shapes are
    checked by the caller. The same bits as the three products and
    _softmax_xent, for every thread count."""
    cdef Py_ssize_t M = h.shape[0], H = h.shape[1], V = W_hy.shape[1], i
    cdef Py_ssize_t panel = 2 * _lanes(&h[0, 0])
    cdef Py_ssize_t n_wp = _panels(V, &h[0, 0]) * panel * H
    cdef Py_ssize_t n_wtp = _panels(H, &h[0, 0]) * panel * V
    cdef Py_ssize_t share = _tn_panel_work(1, &h[0, 0]), tid
    cdef double total = 0
    cdef floating* buf
    cdef double* acc
    if work.shape[0] < _readout_work_size(H, V, n_threads, &h[0, 0]):
        raise ValueError("_readout_xent: work buffer too small")
    buf = &work[0]
    acc = <double*>PyMem_RawMalloc(V * sizeof(double))
    if acc == NULL:
        raise MemoryError("no memory for the column sums")
    global fastrnn_team_size
    fastrnn_team_size = 1
    with nogil:
        _pack(&W_hy[0, 0], V, 1, H, V, buf)             # W_hy: K = H, N = V
        _pack(&W_hy[0, 0], 1, V, V, H, buf + n_wp)      # W_hy^T: K = V, N = H
        _fill(buf + n_wp + n_wtp, H, <floating>0)       # a row of zeros
        _fill(&dW[0, 0], H * V, <floating>0)
        if n_threads == 1:
            _readout_share(&h[0, 0], buf, buf + n_wp, &b_y[0], buf + n_wp + n_wtp,
                           &targets[0], scale, &z[0, 0], &dW[0, 0], &db[0], &dh[0, 0],
                           &row_losses[0], acc, M, H, V, 0, 1, buf + n_wp + n_wtp + H)
        else:
            with parallel(num_threads=n_threads):
                fastrnn_note_team()
                tid = threadid()
                _readout_share(&h[0, 0], buf, buf + n_wp, &b_y[0], buf + n_wp + n_wtp,
                               &targets[0], scale, &z[0, 0], &dW[0, 0], &db[0], &dh[0, 0],
                               &row_losses[0], acc, M, H, V, tid, fastrnn_team_threads(),
                               buf + n_wp + n_wtp + H + tid * share)
        for i in range(M):
            total += row_losses[i]
    PyMem_RawFree(acc)
    return total


# --- Small calls: a few sequences, a few steps ---
#
# A fitted model that advances a few sequences by a few steps (sampling a
# character model one symbol at a time) would spend most of a forward call
# packing W_hh, and the readout's call packing W_hy. _step_core reads the
# weights in place instead, row by row: c += a @ W as axpys over W's rows,
# each row of products summed from zero in k order and then added to c:
# the same chain of multiply-adds per element as the packed products, so
# the results are the same bits as forward followed by the readout. It runs
# on the caller's thread, for the model's _Stepper (_stepper.pxi).

cdef void _rows_times(const floating* a, Py_ssize_t ra, Py_ssize_t M, Py_ssize_t K,
                      const floating* W, Py_ssize_t N, floating* c,
                      Py_ssize_t ldc) noexcept nogil:
    """c[i * ldc + j] += sum over k of a[i * ra + k] * W[k * N + j] for i < M,
    j < N, with W row-major and unpacked: each row of A by the in-place row
    blocks (_register_blocks.pxi), 8 vectors of columns at a time, then 4,
    2, 1 and the last columns."""
    cdef Py_ssize_t i, j0, L = _lanes(W)
    cdef const floating* ai
    cdef floating* ci
    for i in range(M):
        ai, ci, j0 = a + i * ra, c + i * ldc, 0
        while j0 + 8 * L <= N:
            if floating is float:
                _row_in_place8_f(ai, K, W + j0, N, ci + j0)
            else:
                _row_in_place8_d(ai, K, W + j0, N, ci + j0)
            j0 += 8 * L
        if j0 + 4 * L <= N:
            if floating is float:
                _row_in_place4_f(ai, K, W + j0, N, ci + j0)
            else:
                _row_in_place4_d(ai, K, W + j0, N, ci + j0)
            j0 += 4 * L
        if j0 + 2 * L <= N:
            if floating is float:
                _row_in_place2_f(ai, K, W + j0, N, ci + j0)
            else:
                _row_in_place2_d(ai, K, W + j0, N, ci + j0)
            j0 += 2 * L
        if j0 + L <= N:
            if floating is float:
                _row_in_place1_f(ai, K, W + j0, N, ci + j0)
            else:
                _row_in_place1_d(ai, K, W + j0, N, ci + j0)
            j0 += L
        if j0 < N:
            if floating is float:
                _row_in_place_tail_f(ai, K, W + j0, N, N - j0, ci + j0)
            else:
                _row_in_place_tail_d(ai, K, W + j0, N, N - j0, ci + j0)


cdef void _step_core(const floating* x, const Py_ssize_t* ids, const floating* W_xh,
                     const floating* W_hh, const floating* b, const floating* h_prev,
                     const floating* W_hy, const floating* b_y, floating* h_work,
                     floating* h_out, floating* y, Py_ssize_t B,
                     Py_ssize_t k, Py_ssize_t D, Py_ssize_t H, Py_ssize_t N,
                     int activation) noexcept nogil:
    """k >= 1 steps of B >= 1 sequences from h_prev (B, H):
    h_t = act(b + x_t @ W_xh + h_{t-1} @ W_hh) (for ids (B, k): b + W_xh[id])
    and y_t = b_y + h_t @ W_hy into y (B, k, N). Either x (B, k, D) or ids
    is given (x may be NULL with D = 0); h_work (B, H) is work; h_out
    (B, H) receives the last state."""
    cdef Py_ssize_t t, s
    cdef const floating* prev = h_prev
    cdef floating* cur
    cdef floating* bufs[2]
    bufs[0] = h_work
    bufs[1] = h_out
    for t in range(k):
        cur = bufs[1 - (k - 1 - t) % 2]     # the last step lands in h_out
        for s in range(B):
            _copy(cur + s * H, b, H)
            if ids != NULL:                 # one-hot row: a row of W_xh
                _add(cur + s * H, W_xh + ids[s * k + t] * H, H)
        if x != NULL and D > 0:
            _rows_times(x + t * D, k * D, B, D, W_xh, H, cur, H)
        _rows_times(prev, H, B, H, W_hh, H, cur, H)
        for s in range(B):
            _activate(cur + s * H, H, activation)
            _copy(y + (s * k + t) * N, b_y, N)
        _rows_times(cur, H, B, H, W_hy, N, y + t * N, k * N)
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


def _set_column_split_bytes(Py_ssize_t n_bytes):
    """Set the size of W_hh from which the time loops split each step by
    columns whatever the batch (see _passes.pxi); returns the previous one."""
    global fastrnn_column_split_bytes
    cdef Py_ssize_t old = fastrnn_column_split_bytes
    if n_bytes < 0:
        raise ValueError("n_bytes must be >= 0")
    fastrnn_column_split_bytes = n_bytes
    return old


cdef extern from *:
    """
    #include <float.h>
    #include <math.h>
    /* 1 when none of x[0..n) is NaN or +-inf (|x| <= MAX is false exactly
     * for those), else 0. Blocks of 4096 values, each a branch-free loop that
     * GCC vectorizes (comparisons ORed together): a value that is not finite
     * ends the scan at the end of its block. */
    #define FASTRNN_ALL_FINITE(NAME, T, ABS, MAX)                              \\
    static int NAME(const T* x, Py_ssize_t n) {                                \\
        Py_ssize_t i, j, m;                                                    \\
        for (i = 0; i < n; i += m) {                                           \\
            int bad = 0;                                                       \\
            m = n - i < 4096 ? n - i : 4096;                                   \\
            for (j = 0; j < m; j++)                                            \\
                bad |= !(ABS(x[i + j]) <= MAX);                                \\
            if (bad)                                                           \\
                return 0;                                                      \\
        }                                                                      \\
        return 1;                                                              \\
    }
    FASTRNN_ALL_FINITE(fastrnn_all_finite_f, float, fabsf, FLT_MAX)
    FASTRNN_ALL_FINITE(fastrnn_all_finite_d, double, fabs, DBL_MAX)
    """
    int fastrnn_all_finite_f(const float* x, Py_ssize_t n) noexcept nogil
    int fastrnn_all_finite_d(const double* x, Py_ssize_t n) noexcept nogil


def _all_finite(const floating[::1] values):
    """True when no value is NaN or +-inf: one allocation-free, vectorized
    scan, without the GIL."""
    cdef Py_ssize_t n = values.shape[0]
    cdef int ok
    if n == 0:
        return True
    with nogil:
        if floating is float:
            ok = fastrnn_all_finite_f(&values[0], n)
        else:
            ok = fastrnn_all_finite_d(&values[0], n)
    return ok != 0
