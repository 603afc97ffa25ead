# fastrnn kernels, part 3 of 4 (included by _kernels.pxi): the time loops,
# and the whole forward pass and BPTT on pointers (rnn_forward, rnn_backward:
# the cimport API of _core.pxd).

# --- The time loops ---
#
# Each step's product runs on W_hh (or W_hh^T) packed once per pass. Threads
# share the work in one of two ways:
# - From SPLIT_BATCH sequences on (unless the groups would be small and W_hh
#   large: see fastrnn_column_split_bytes), each thread takes a group of
#   whole sequences (with integer ids, it also looks up the group's input
#   projection) and runs the whole time loop on it alone: sequences do not
#   depend on each other, so there is no barrier at all, and a group's rows
#   of h (or da) stay in its core's cache. (Against the split by columns below:
#   1.4x faster time loops at B, H = 64, 256 on 2 threads.)
# - Otherwise, threads split every step by panels of columns and also apply
#   the activation (or its derivative) to their own columns, so a step needs
#   one barrier, at its end; with a static schedule each thread keeps the
#   same panels, and so the same part of the packed weights in its cache, at
#   every step.
# Either way each element is the same chain of multiply-adds as on one
# thread, so the results are the same bits.

# Groups of whole sequences read all of the packed W_hh at every step. Once
# W_hh is larger than a core's cache can keep (2 MB of cache per core on the
# machine measured) and a group has few rows to spend each read on, that
# stream from the shared cache rules the step: then the threads split each
# step by columns instead, so that each reads only its own panels, which
# stay in its core's cache. Measured on 2 cores, the training step's
# forward (backward) pass ran, by columns against by groups: B, T, D, H =
# 16, 50, 512, 1024: float32 1.42 (1.13) times as fast, float64 1.52
# (1.27); 24 sequences of 1024 units 1.16-1.23 (1.06-1.08); 16 of 512
# units in float64 (2 MB of weights) 1.32 (1.13); 16 of 640 in float32
# (1.6 MB) 1.10 (1.06). Even or worse below: 16 of 512 in float32 (1 MB)
# 1.08 (0.94), 32 of 768 0.99-1.03 (0.99-1.00); 32 of 512 and 64 of 256
# 0.70-0.94 (0.84-0.96). _set_column_split_bytes changes the size (tests,
# benchmarks; 0 splits by columns whenever groups would be small enough).
cdef Py_ssize_t fastrnn_column_split_bytes = 3 * 512 * 1024
cdef enum:
    COLUMN_SPLIT_MAX_ROWS = 12      # ... for groups of at most this many rows


cdef inline Py_ssize_t _group_rows(Py_ssize_t B, Py_ssize_t H, Py_ssize_t item_size,
                                   int n_threads) noexcept nogil:
    """Sequences per group when the threads split the batch; B (no split)
    on one thread, below SPLIT_BATCH sequences, or for small groups on large
    weights (see above), where they split each step by columns instead. A
    group is a multiple of 4 rows, whole register blocks, and there is one
    group per thread: each panel of the packed weights, once in cache,
    serves all of a group's rows at every step, so smaller groups would read
    the weights more often (for H = 1024, whose weights do not fit in a
    core's cache, two groups per thread made the training step 18% slower)."""
    cdef Py_ssize_t rows
    if n_threads < 2 or B < SPLIT_BATCH:
        return B
    rows = (B + n_threads - 1) // n_threads
    rows = (rows + 3) // 4 * 4
    if rows <= COLUMN_SPLIT_MAX_ROWS and H * H * item_size >= fastrnn_column_split_bytes:
        return B
    return rows


cdef void _lookup_projection(const Py_ssize_t* ids, const floating* W_xh,
                             const floating* b, floating* h, Py_ssize_t n_rows,
                             Py_ssize_t H) noexcept nogil:
    """h row i = b + W_xh row ids[i] for i < n_rows: the input projection of
    integer ids (one-hot rows of x), a row lookup."""
    cdef Py_ssize_t i
    for i in range(n_rows):
        _copy(h + i * H, b, H)
        _add(h + i * H, W_xh + ids[i] * H, H)


cdef void _forward_panels(const floating* W_hh_p, const floating* h0,
                          const Py_ssize_t* lengths, floating* h,
                          Py_ssize_t B, Py_ssize_t H, Py_ssize_t row_stride,
                          int activation, Py_ssize_t t, Py_ssize_t p0,
                          Py_ssize_t p1) noexcept nogil:
    """The columns of panels p0 .. p1 - 1 of step t: h_t = act(h_t + h_{t-1}
    @ W_hh), where h_t holds the input projection on entry; 0 at padded
    steps."""
    cdef Py_ssize_t panel = 2 * _lanes(h), q = p0 * panel
    cdef Py_ssize_t width = min(p1 * panel, H) - q, s
    cdef floating* h_t = h + t * H
    if t > 0:
        _panels_product(h_t - H, row_stride, 1, W_hh_p, H, h_t, row_stride, B, H, p0, p1)
    elif h0 != NULL:
        _panels_product(h0, H, 1, W_hh_p, H, h_t, row_stride, B, H, p0, p1)
    for s in range(B):
        if lengths != NULL and t >= lengths[s]:
            _fill(h_t + s * row_stride + q, width, <floating>0)
        else:
            _activate(h_t + s * row_stride + q, width, activation)


cdef void _forward_steps(const floating* W_hh_p, const floating* h0,
                         const Py_ssize_t* lengths, floating* h,
                         Py_ssize_t B, Py_ssize_t T, Py_ssize_t H,
                         Py_ssize_t row_stride, int activation,
                         int n_threads, const Py_ssize_t* ids, const floating* W_xh,
                         const floating* b) noexcept nogil:
    """The time loop of the forward pass, for B sequences whose rows hold
    the input projections on entry; or, with ids not NULL, whose rows the
    loop fills with the lookup projection first (each group its own rows)."""
    cdef Py_ssize_t n_panels = _panels(H, h), t, p, g, s0
    cdef Py_ssize_t rows = _group_rows(B, H, sizeof(floating), n_threads)
    if rows < B:            # threads take whole sequences: no barrier at all
        for g in prange((B + rows - 1) // rows, num_threads=n_threads,
                        schedule="dynamic"):
            fastrnn_note_team()
            s0 = g * rows
            _forward_steps(W_hh_p, NULL if h0 == NULL else h0 + s0 * H,
                           NULL if lengths == NULL else lengths + s0,
                           h + s0 * row_stride, min(rows, B - s0), T, H, row_stride,
                           activation, 1, NULL if ids == NULL else ids + s0 * T, W_xh, b)
        return
    if ids != NULL:         # (row stride T * H: the B sequences' rows are contiguous)
        _lookup_projection(ids, W_xh, b, h, B * T, H)
    if n_threads == 1:      # no OpenMP region: its entry costs microseconds
        for t in range(T):
            _forward_panels(W_hh_p, h0, lengths, h, B, H, row_stride, activation,
                            t, 0, n_panels)
        return
    t = 0                   # (set in the loop; initialized for the compiler)
    with parallel(num_threads=n_threads):
        fastrnn_note_team()
        for t in range(T):
            for p in prange(n_panels, schedule="static"):
                _forward_panels(W_hh_p, h0, lengths, h, B, H, row_stride, activation,
                                t, p, p + 1)
            fastrnn_barrier()       # all of h_t before step t + 1 reads it


cdef void _backward_panels(const floating* W_hh_T_p, const floating* h,
                           const floating* dh, const Py_ssize_t* lengths,
                           floating* da, Py_ssize_t B, Py_ssize_t T, Py_ssize_t H,
                           Py_ssize_t row_stride, int activation, Py_ssize_t t,
                           Py_ssize_t p0, Py_ssize_t p1) noexcept nogil:
    """The columns of panels p0 .. p1 - 1 of da_t = (dh_t + da_{t+1} @
    W_hh^T) * act'(a_t), 0 at padded steps."""
    cdef Py_ssize_t panel = 2 * _lanes(h), q = p0 * panel
    cdef Py_ssize_t width = min(p1 * panel, H) - q, s
    cdef floating* da_t = da + t * H
    for s in range(B):
        _copy(da_t + s * row_stride + q, dh + t * H + q + s * row_stride, width)
    if t + 1 < T:
        _panels_product(da_t + H, row_stride, 1, W_hh_T_p, H, da_t, row_stride, B, H,
                        p0, p1)
    for s in range(B):
        if lengths != NULL and t >= lengths[s]:
            _fill(da_t + s * row_stride + q, width, <floating>0)
        else:
            _times_act_grad(da_t + s * row_stride + q, h + t * H + q + s * row_stride,
                            width, activation)


cdef void _backward_steps(const floating* W_hh_T_p, const floating* h,
                          const floating* dh, const Py_ssize_t* lengths,
                          floating* da, floating* dh0,
                          Py_ssize_t B, Py_ssize_t T, Py_ssize_t H,
                          Py_ssize_t row_stride, int activation,
                          int n_threads) noexcept nogil:
    """The reverse time loop of BPTT: fills da with dL/da_t and, if dh0 is
    not NULL, dh0 with dL/dh_{-1} = da_0 @ W_hh^T."""
    cdef Py_ssize_t n_panels = _panels(H, h), t, p, g, s0
    cdef Py_ssize_t rows = _group_rows(B, H, sizeof(floating), n_threads)
    if rows < B:            # threads take whole sequences: no barrier at all
        for g in prange((B + rows - 1) // rows, num_threads=n_threads,
                        schedule="dynamic"):
            fastrnn_note_team()
            s0 = g * rows
            _backward_steps(W_hh_T_p, h + s0 * row_stride, dh + s0 * row_stride,
                            NULL if lengths == NULL else lengths + s0,
                            da + s0 * row_stride, NULL, min(rows, B - s0), T, H,
                            row_stride, activation, 1)
    elif n_threads == 1:    # no OpenMP region: its entry costs microseconds
        for t in range(T - 1, -1, -1):
            _backward_panels(W_hh_T_p, h, dh, lengths, da, B, T, H, row_stride,
                             activation, t, 0, n_panels)
    else:
        t = 0               # (set in the loop; initialized for the compiler)
        with parallel(num_threads=n_threads):
            fastrnn_note_team()
            for t in range(T - 1, -1, -1):
                for p in prange(n_panels, schedule="static"):
                    _backward_panels(W_hh_T_p, h, dh, lengths, da, B, T, H, row_stride,
                                     activation, t, p, p + 1)
                fastrnn_barrier()   # all of da_t before step t - 1 reads it
    if dh0 != NULL:
        _gemm_packed(da, row_stride, W_hh_T_p, dh0, H, B, H, H, NULL, n_threads)


cdef int rnn_forward(
        const floating* x, const Py_ssize_t* ids,
        const floating* W_xh, const floating* W_hh,
        const floating* b, const floating* h0, const Py_ssize_t* lengths,
        floating* h,
        Py_ssize_t B, Py_ssize_t T, Py_ssize_t D, Py_ssize_t H,
        int activation, int n_threads) noexcept nogil:
    cdef Py_ssize_t row_stride = T * H       # between sequences at one step
    cdef Py_ssize_t n_rows = B * T
    cdef Py_ssize_t panel = 2 * _lanes(h)
    cdef Py_ssize_t i
    cdef Py_ssize_t packed_H = _panels(H, h) * panel   # H rounded up to panels
    cdef floating* W_hh_p
    cdef floating* W_xh_p
    # W_hh and (for dense x) W_xh, packed: (H + D) x packed_H elements.
    W_hh_p = <floating*>PyMem_RawMalloc(
        (H + (0 if ids != NULL else D)) * packed_H * sizeof(floating))
    if W_hh_p == NULL:
        return -1
    W_xh_p = W_hh_p + H * packed_H
    _pack(W_hh, H, 1, H, H, W_hh_p)

    # Input projection of every (b, t) row at once: h = x @ W_xh + b; integer
    # ids stand for one-hot rows of x, so x @ W_xh is a row lookup, which the
    # time loop does (each thread for its own sequences).
    if ids == NULL:
        _pack(W_xh, H, 1, D, H, W_xh_p)
        _gemm_packed(x, D, W_xh_p, h, H, n_rows, H, D, b, n_threads)

    _forward_steps(W_hh_p, h0, lengths, h, B, T, H, row_stride, activation, n_threads,
                   ids, W_xh, b)
    PyMem_RawFree(W_hh_p)
    return 0


cdef int rnn_backward(
        const floating* x, const Py_ssize_t* ids,
        const floating* h, const floating* dh,
        const floating* W_xh, const floating* W_hh,
        const floating* h0, const Py_ssize_t* lengths,
        floating* da,
        floating* dx, floating* dW_xh, floating* dW_hh, floating* db,
        floating* dh0,
        Py_ssize_t B, Py_ssize_t T, Py_ssize_t D, Py_ssize_t H,
        int activation, int n_threads) noexcept nogil:
    """BPTT. da (B, T, H) is a work buffer; dh0 (B, H) may be NULL; dx may
    be NULL, and then dX = dA W_xh^T is not computed (a caller that needs
    no gradient of x spares B * T * D * H multiply-adds); with ids, dx is
    never written."""
    cdef Py_ssize_t row_stride = T * H
    cdef Py_ssize_t n_rows = B * T
    cdef Py_ssize_t panel = 2 * _lanes(h)
    cdef Py_ssize_t i
    cdef floating* W_hh_T_p
    cdef floating* W_xh_T_p
    cdef floating* tn_work
    # One allocation: W_hh^T (H x H) and, for dX, W_xh^T (H x D), packed,
    # then the work buffer of the weight-gradient products.
    cdef bint want_dx = ids == NULL and dx != NULL
    cdef Py_ssize_t packed_size = H * (_panels(H, h) + (_panels(D, h) if want_dx else 0)) * panel
    W_hh_T_p = <floating*>PyMem_RawMalloc(
        (packed_size + _grads_work_size(H, n_threads, h)) * sizeof(floating))
    if W_hh_T_p == NULL:
        return -1
    W_xh_T_p = W_hh_T_p + H * _panels(H, h) * panel
    tn_work = W_hh_T_p + packed_size
    _pack(W_hh, 1, H, H, H, W_hh_T_p)       # W_hh^T(k, j) = W_hh[j, k]

    _backward_steps(W_hh_T_p, h, dh, lengths, da, dh0, B, T, H,
                    row_stride, activation, n_threads)

    # Tied weights: each gradient is a sum over all B * T rows, all of them
    # products with dA, in one pass over it (_weight_grads).
    if ids != NULL:
        # one-hot rows: X^T @ dA adds each row of dA into the row of its id;
        # ids have no gradient (dx is not written)
        for i in range(D):
            _fill(dW_xh + i * H, H, <floating>0)
        for i in range(n_rows):
            _add(dW_xh + ids[i] * H, da + i * H, H)
    elif D > 0:
        _fill(dW_xh, D * H, <floating>0)
        if want_dx:
            _pack(W_xh, 1, H, H, D, W_xh_T_p)   # W_xh^T(k, j) = W_xh[j, k]
    _fill(db, H, <floating>0)
    _fill(dW_hh, H * H, <floating>0)
    # dW_hh = sum over (b, t) of h_{t-1}^T da_t: each row of dA meets its
    # true predecessor (h0 at t = 0) when _tn_tile copies the block, so no
    # pair is ever added and then taken away again (a difference of the
    # largest products, which would cancel catastrophically when the
    # activations grow).
    _weight_grads(x if ids == NULL else NULL, h, h0, da, W_xh_T_p,
                  dx if want_dx else NULL, dW_xh, dW_hh, db,
                  B, T, D, H, tn_work, n_threads)
    PyMem_RawFree(W_hh_T_p)
    return 0
