# fastrnn kernels, part 2 of 4 (included by _kernels.pxi): the matrix
# products on packed panels, and the weight gradients' pass over dA.

# --- Matrix products on packed panels ---
#
# All products run here, on the kernels' own OpenMP threads (n_threads; one
# thread runs them inline), never in a BLAS library: a BLAS thread pool spins
# for a while after each call, and two pools spinning on the same cores stall
# each other at every step.
#
# B operands are packed into column panels of PANEL = 2 vectors (16 floats or
# 8 doubles; twice that in the AVX-512 build): the panel of columns
# [q, q + PANEL) of a K x N matrix holds its K rows of PANEL values in turn,
# contiguous and zero past column N. For a
# panel, blocks of 4 rows of A keep 8 vector accumulators in registers over
# the whole k loop: 2 vector loads of the panel and 4 scalar broadcasts of A
# feed 8 multiply-adds. A is read in place through a row stride and a k
# stride (the weight gradients' A^T is copied block by block: see _tn_tile).

cdef inline Py_ssize_t _lanes(const floating* p) noexcept nogil:
    """Elements per vector (p only selects the type)."""
    return FASTRNN_VECTOR_BYTES // sizeof(floating)


cdef inline Py_ssize_t _panels(Py_ssize_t N, const floating* p) noexcept nogil:
    """Number of panels that cover N columns (p only selects the type)."""
    return (N + 2 * _lanes(p) - 1) // (2 * _lanes(p))


cdef inline void _add_rows(floating* c, Py_ssize_t ldc, Py_ssize_t rows,
                           Py_ssize_t width, const floating* out) noexcept nogil:
    """c[r * ldc + j] += out[r * PANEL + j] for r < rows, j < width."""
    cdef Py_ssize_t panel = 2 * _lanes(c), r, j
    for r in range(rows):
        for j in range(width):
            c[r * ldc + j] += out[r * panel + j]


cdef void _pack_panel(const floating* W, Py_ssize_t rk, Py_ssize_t rj,
                      Py_ssize_t K, Py_ssize_t q, Py_ssize_t width,
                      floating* wp) noexcept nogil:
    """wp[k * PANEL + j] <- W(k, q + j) = W[k * rk + (q + j) * rj] for j <
    width, and 0 for width <= j < PANEL (k < K)."""
    cdef Py_ssize_t panel = 2 * _lanes(W), k, j
    cdef const floating* src
    for k in range(K):
        if rj == 1:         # rows of W: a contiguous copy, which vectorizes
            src = W + k * rk + q
            for j in range(width):
                wp[k * panel + j] = src[j]
        else:
            for j in range(width):
                wp[k * panel + j] = W[k * rk + (q + j) * rj]
        for j in range(width, panel):
            wp[k * panel + j] = 0


cdef void _pack(const floating* W, Py_ssize_t rk, Py_ssize_t rj,
                Py_ssize_t K, Py_ssize_t N, floating* Wp) noexcept nogil:
    """Wp <- every panel of the K x N matrix W(k, j) = W[k * rk + j * rj];
    the panel of columns [q, q + PANEL) starts at Wp + q * K."""
    cdef Py_ssize_t panel = 2 * _lanes(W), p
    for p in range(_panels(N, W)):
        _pack_panel(W, rk, rj, K, p * panel, min(panel, N - p * panel),
                    Wp + p * panel * K)


include "_register_blocks.pxi"


cdef inline void _rows4(const floating* a, Py_ssize_t ra, Py_ssize_t ka,
                        const floating* wp, Py_ssize_t K,
                        floating* c, Py_ssize_t ldc, Py_ssize_t width,
                        Py_ssize_t rows) noexcept nogil:
    """The register block (_register_blocks.pxi) for either precision."""
    if floating is float:
        _rows4_f(a, ra, ka, wp, K, rows, width, c, ldc)
    else:
        _rows4_d(a, ra, ka, wp, K, rows, width, c, ldc)


cdef inline void _row_panels(const floating* a, Py_ssize_t ka, const floating* Wp,
                             Py_ssize_t K, Py_ssize_t N, Py_ssize_t p0,
                             Py_ssize_t n, floating* c) noexcept nogil:
    """The row block (_register_blocks.pxi) for either precision."""
    if floating is float:
        _row_panels_f(a, ka, Wp, K, N, p0, n, c)
    else:
        _row_panels_d(a, ka, Wp, K, N, p0, n, c)


cdef void _panel_block(const floating* A, Py_ssize_t ra, Py_ssize_t ka,
                       const floating* wp, Py_ssize_t K,
                       floating* C, Py_ssize_t ldc, Py_ssize_t M,
                       Py_ssize_t width) noexcept nogil:
    """C[i * ldc + j] += sum over k of A[i * ra + k * ka] * wp[k * PANEL + j]
    for i < M, j < width: M rows of A times one packed panel."""
    cdef Py_ssize_t i = 0
    while i < M:
        _rows4(A + i * ra, ra, ka, wp, K, C + i * ldc, ldc, width, min(4, M - i))
        i += 4


cdef void _panels_product(const floating* A, Py_ssize_t ra, Py_ssize_t ka,
                          const floating* Wp, Py_ssize_t K,
                          floating* C, Py_ssize_t ldc, Py_ssize_t M,
                          Py_ssize_t N, Py_ssize_t p0, Py_ssize_t p1) noexcept nogil:
    """C[:, columns of panels p0 .. p1 - 1] += A (M x K, strides ra, ka) @ B,
    B (K x N) packed at Wp: by blocks of 4 rows, or for a single row, across
    4 panels at a time (1.4 to 2 times faster at M = 1; from M = 2 on, the
    row blocks, which read B once for all rows, are as fast or faster)."""
    cdef Py_ssize_t panel = 2 * _lanes(A), p
    if M != 1:
        for p in range(p0, p1):
            _panel_block(A, ra, ka, Wp + p * panel * K, K, C + p * panel, ldc, M,
                         min(panel, N - p * panel))
        return
    p = p0
    while p < p1:
        _row_panels(A, ka, Wp, K, N, p, min(4, p1 - p), C)
        p += 4


cdef enum:
    # Rows of A per parallel block in _gemm_packed: a block's rows stay in
    # cache while every panel of B passes them.
    ROW_BLOCK = 32
    # _gemm_tn's blocking: K in blocks of TN_DEPTH rows, whose panels of B
    # are packed together; C in tiles of TN_ROWS rows by a group of panels,
    # whose TN_DEPTH x TN_ROWS part of A is copied and stays in cache while
    # the tile's panels pass it.
    TN_DEPTH = 256
    TN_ROWS = 64


cdef void _gemm_row_block(const floating* A, Py_ssize_t lda, const floating* Bp,
                          floating* C, Py_ssize_t ldc,
                          Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                          const floating* c0, Py_ssize_t blk) noexcept nogil:
    """Rows [blk * ROW_BLOCK, (blk + 1) * ROW_BLOCK) of _gemm_packed."""
    cdef Py_ssize_t panel = 2 * _lanes(A), i0 = blk * ROW_BLOCK
    cdef Py_ssize_t rows = min(ROW_BLOCK, M - i0), i, p
    for i in range(i0, i0 + rows):
        if c0 != NULL:
            _copy(C + i * ldc, c0, N)
        else:
            _fill(C + i * ldc, N, <floating>0)
    for p in range(_panels(N, A)):
        _panel_block(A + i0 * lda, lda, 1, Bp + p * panel * K, K,
                     C + i0 * ldc + p * panel, ldc, rows, min(panel, N - p * panel))


cdef void _gemm_packed(const floating* A, Py_ssize_t lda, const floating* Bp,
                       floating* C, Py_ssize_t ldc,
                       Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                       const floating* c0, int n_threads) noexcept nogil:
    """C (M x N, row stride ldc) = c0 + A (M x K, row stride lda) @ B, with B
    packed by _pack and c0 one row (N,) added to every row of C, or NULL for
    none. Threads take blocks of ROW_BLOCK rows."""
    cdef Py_ssize_t n_blocks = (M + ROW_BLOCK - 1) // ROW_BLOCK
    cdef Py_ssize_t blk
    if n_threads == 1:      # no OpenMP region: its entry costs microseconds
        for blk in range(n_blocks):
            _gemm_row_block(A, lda, Bp, C, ldc, M, N, K, c0, blk)
    else:
        for blk in prange(n_blocks, num_threads=n_threads, schedule="static"):
            fastrnn_note_team()
            _gemm_row_block(A, lda, Bp, C, ldc, M, N, K, c0, blk)


cdef inline Py_ssize_t _tn_work_size(Py_ssize_t N, int n_threads,
                                     const floating* p) noexcept nogil:
    """Elements of _gemm_tn's work buffer (p selects the type): per thread,
    a block of B's panels and a block of A's tile."""
    return n_threads * (_panels(N, p) * 2 * _lanes(p) * TN_DEPTH + TN_ROWS * TN_DEPTH)


cdef inline Py_ssize_t _tn_group(Py_ssize_t M, Py_ssize_t N, int n_threads,
                                 const floating* p) noexcept nogil:
    """Panels per tile of an M x N weight gradient: all of them (the tile's
    copy of A then serves every panel), unless that leaves fewer than 2
    tiles per thread (p selects the type)."""
    cdef Py_ssize_t n_panels = _panels(N, p)
    cdef Py_ssize_t n_row_tiles = (M + TN_ROWS - 1) // TN_ROWS
    cdef Py_ssize_t n_groups = min(n_panels, max(1, (2 * n_threads + n_row_tiles - 1)
                                                 // n_row_tiles))
    return (n_panels + n_groups - 1) // n_groups


cdef inline Py_ssize_t _tn_tiles(Py_ssize_t M, Py_ssize_t N, Py_ssize_t group,
                                 const floating* p) noexcept nogil:
    """Tiles of an M x N weight gradient with `group` panels per tile."""
    return (M + TN_ROWS - 1) // TN_ROWS * ((_panels(N, p) + group - 1) // group)


cdef void _tn_tile(const floating* A, Py_ssize_t lda, Py_ssize_t T,
                   const floating* h0, const floating* Bp, Py_ssize_t k0,
                   Py_ssize_t kk, floating* C, Py_ssize_t ldc,
                   Py_ssize_t M, Py_ssize_t N, Py_ssize_t group, Py_ssize_t tile,
                   floating* Ap) noexcept nogil:
    """One tile of C += A'^T @ B over the kk rows k0 .. k0 + kk - 1, B's
    block packed at Bp (panel q at Bp + q * kk). With T == 0, row k of A' is
    row k of A (row stride lda). With T > 0, A' is H_prev of dW_hh = H_prev^T
    dA: A is h (B * T rows of lda = H) and row k of A' is the true
    predecessor of flat row k = (b, t): h row k - 1 for t > 0, and h0 row b
    (zeros when h0 is NULL) for t == 0, never the last row of sequence b - 1.
    The tile's columns of A' are copied first into Ap (TN_ROWS x TN_DEPTH
    elements), 4 at a time, each group with its kk rows of 4 in turn: the
    product then reads them in order, instead of one cache line (and, for
    large M, one page) per k."""
    cdef Py_ssize_t panel = 2 * _lanes(A), n_panels = _panels(N, A)
    cdef Py_ssize_t n_row_tiles = (M + TN_ROWS - 1) // TN_ROWS
    cdef Py_ssize_t i0 = (tile % n_row_tiles) * TN_ROWS
    cdef Py_ssize_t p0 = (tile // n_row_tiles) * group
    cdef Py_ssize_t rows = min(TN_ROWS, M - i0), p, g, k, r, i, t
    cdef const floating* src
    cdef floating* ap
    for g in range(0, rows, 4):
        ap = Ap + g * kk
        t = k0 % T if T > 0 else 0
        for k in range(kk):
            i = k0 + k
            if T == 0:
                src = A + i * lda + i0 + g
            elif t > 0:
                src = A + (i - 1) * lda + i0 + g
            elif h0 != NULL:
                src = h0 + (i // T) * lda + i0 + g
            else:
                src = NULL
            if T > 0:
                t = t + 1 if t + 1 < T else 0
            if src != NULL and g + 4 <= rows:
                for r in range(4):
                    ap[k * 4 + r] = src[r]
            else:           # zeros (no h0), or the last, partial group of rows
                for r in range(4):
                    ap[k * 4 + r] = src[r] if src != NULL and g + r < rows else 0
    for p in range(p0, min(p0 + group, n_panels)):
        for g in range(0, rows, 4):
            _rows4(Ap + g * kk, 1, 4, Bp + p * panel * kk, kk,
                   C + (i0 + g) * ldc + p * panel, ldc, min(panel, N - p * panel),
                   min(4, rows - g))


cdef void _gemm_tn_tiles(const floating* A, Py_ssize_t lda,
                         const floating* Bm, Py_ssize_t ldb,
                         floating* C, Py_ssize_t ldc,
                         Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                         Py_ssize_t group, Py_ssize_t t0, Py_ssize_t t1,
                         floating* work) noexcept nogil:
    """Tiles t0 .. t1 - 1 of _gemm_tn over all of K, with work (one thread's
    share of _tn_work_size) for the panels of B they use, block by block."""
    cdef Py_ssize_t panel = 2 * _lanes(A), n_panels = _panels(N, A)
    cdef Py_ssize_t n_row_tiles = (M + TN_ROWS - 1) // TN_ROWS
    cdef Py_ssize_t n_kb = (K + TN_DEPTH - 1) // TN_DEPTH, kb, kk, p, tile
    cdef Py_ssize_t p0 = (t0 // n_row_tiles) * group
    cdef Py_ssize_t p1 = min(((t1 - 1) // n_row_tiles + 1) * group, n_panels)
    cdef floating* Ap = work + n_panels * panel * TN_DEPTH
    for kb in range(n_kb):
        kk = min(TN_DEPTH, K - kb * TN_DEPTH)
        for p in range(p0, p1):
            _pack_panel(Bm + kb * TN_DEPTH * ldb, ldb, 1, kk, p * panel,
                        min(panel, N - p * panel), work + p * panel * kk)
        for tile in range(t0, t1):
            _tn_tile(A, lda, 0, NULL, work, kb * TN_DEPTH, kk, C, ldc, M, N, group,
                     tile, Ap)


cdef void _gemm_tn(const floating* A, Py_ssize_t lda,
                   const floating* Bm, Py_ssize_t ldb,
                   floating* C, Py_ssize_t ldc,
                   Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                   floating* work, int n_threads) noexcept nogil:
    """C (M x N) += A^T @ B for A (K x M, row stride lda) and B (K x N, row
    stride ldb): the readout's weight gradient, a sum over all K = B * T
    rows. work holds _tn_work_size(N, n_threads) elements. Each thread takes
    a contiguous share of C's tiles and runs the whole of K for them,
    packing the panels of B that they use into its own part of work: no
    thread waits for another until the end (a barrier per block of K costs
    a time slice whenever another process holds a core). Every tile is
    summed over K in block order by one thread: the results do not depend
    on the thread count."""
    cdef Py_ssize_t group = _tn_group(M, N, n_threads, A)
    cdef Py_ssize_t n_tiles = _tn_tiles(M, N, group, A)
    cdef Py_ssize_t share = _tn_work_size(N, 1, A), tid, team, t0, t1
    if M == 0:
        return
    if n_threads == 1:
        _gemm_tn_tiles(A, lda, Bm, ldb, C, ldc, M, N, K, group, 0, n_tiles, work)
        return
    with parallel(num_threads=n_threads):
        fastrnn_note_team()
        tid = threadid()
        team = fastrnn_team_threads()
        t0 = tid * n_tiles // team
        t1 = (tid + 1) * n_tiles // team
        if t0 < t1:
            _gemm_tn_tiles(A, lda, Bm, ldb, C, ldc, M, N, K, group, t0, t1,
                           work + tid * share)


# --- The gradients of the weights: one pass over dA ---
#
# After the reverse time loop, every weight gradient is a product with dA
# (B * T rows): dW_xh = X^T dA, dW_hh = H_prev^T dA, db = column sums of dA,
# and dX = dA W_xh^T. One pass over dA serves them all, block by block of
# TN_DEPTH rows. The threads split the columns of dA (its panels): each one
# packs its panels of every block into its own buffer (adding their column
# sums into db as it goes), then forms the tiles of dW_hh and dW_xh in those
# columns while the block is in cache, and a share of the block's row
# blocks of dX. No thread reads what another one writes, so no thread waits
# for another until the end: a barrier per block, where the threads met
# before, costs a time slice whenever another process holds a core. Each
# element is summed over the blocks in block order, by one thread: the
# results do not depend on the thread count.

cdef inline Py_ssize_t _grads_work_size(Py_ssize_t H, int n_threads,
                                        const floating* p) noexcept nogil:
    """Elements of _weight_grads' work buffer (p selects the type): per
    thread, a packed block of dA and a copy of A for _tn_tile."""
    return _tn_work_size(H, n_threads, p)


cdef void _pack_block_sums(const floating* da, Py_ssize_t H, Py_ssize_t kk,
                           Py_ssize_t p, floating* wp, floating* db) noexcept nogil:
    """Panel p of kk rows of dA (row stride H) into wp, and its column sums
    added to db, row after row (the order of a plain sum over the rows)."""
    cdef Py_ssize_t panel = 2 * _lanes(da), q = p * panel, k, j
    cdef Py_ssize_t width = min(panel, H - q)
    _pack_panel(da, H, 1, kk, q, width, wp)
    for k in range(kk):
        for j in range(width):
            db[q + j] += wp[k * panel + j]


cdef void _grads_share(const floating* x, const floating* h, const floating* h0,
                       const floating* da, const floating* W_xh_T_p, floating* dx,
                       floating* dW_xh, floating* dW_hh, floating* db,
                       Py_ssize_t B, Py_ssize_t T, Py_ssize_t D, Py_ssize_t H,
                       Py_ssize_t tid, Py_ssize_t team, floating* work) noexcept nogil:
    """Thread tid's share of _weight_grads among team threads: its panels of
    dA (and of db, dW_hh, dW_xh), and its part of each block's row blocks of
    dX; work is its _tn_work_size(H, 1) elements."""
    cdef Py_ssize_t panel = 2 * _lanes(h), n_panels = _panels(H, h)
    cdef Py_ssize_t group = (n_panels + team - 1) // team
    cdef Py_ssize_t p0 = min(tid * group, n_panels), p1 = min(p0 + group, n_panels)
    cdef Py_ssize_t n_rows = B * T, n_kb = (B * T + TN_DEPTH - 1) // TN_DEPTH
    cdef Py_ssize_t nrt_h = (H + TN_ROWS - 1) // TN_ROWS, nrt_x = (D + TN_ROWS - 1) // TN_ROWS
    cdef Py_ssize_t kb, k0, kk, p, r, n_rb
    cdef floating* Ap = work + n_panels * panel * TN_DEPTH
    cdef bint dense = x != NULL and D > 0
    for kb in range(n_kb):
        k0 = kb * TN_DEPTH
        kk = min(TN_DEPTH, n_rows - k0)
        if p0 < p1:
            for p in range(p0, p1):
                _pack_block_sums(da + k0 * H, H, kk, p, work + p * panel * kk, db)
            for r in range(nrt_h):  # dW_hh += H_prev^T dA, each row with its true h_{t-1}
                _tn_tile(h, H, T, h0, work, k0, kk, dW_hh, H, H, H, group,
                         r + tid * nrt_h, Ap)
            if dense:           # dW_xh += X^T dA
                for r in range(nrt_x):
                    _tn_tile(x, D, 0, NULL, work, k0, kk, dW_xh, H, D, H, group,
                             r + tid * nrt_x, Ap)
        if dense:               # dX = dA W_xh^T, this thread's row blocks of the block
            n_rb = (kk + ROW_BLOCK - 1) // ROW_BLOCK
            for r in range(tid * n_rb // team, (tid + 1) * n_rb // team):
                _gemm_row_block(da + k0 * H, H, W_xh_T_p, dx + k0 * D, D, kk, D, H, NULL, r)


cdef void _weight_grads(const floating* x, const floating* h, const floating* h0,
                        const floating* da, const floating* W_xh_T_p, floating* dx,
                        floating* dW_xh, floating* dW_hh, floating* db,
                        Py_ssize_t B, Py_ssize_t T, Py_ssize_t D, Py_ssize_t H,
                        floating* work, int n_threads) noexcept nogil:
    """db += column sums of dA and dW_hh += H_prev^T dA over the B * T flat
    rows of h and dA, where row (b, t) of H_prev is h_{t-1} of sequence b:
    row (b, t - 1) of h, or for t = 0 row b of h0 (zeros when h0 is NULL).
    With x (not NULL, D > 0) also dW_xh += X^T dA and dX = dA W_xh^T, W_xh^T
    packed at W_xh_T_p. work holds _grads_work_size(H, n_threads) elements."""
    cdef Py_ssize_t share = _tn_work_size(H, 1, h), tid
    if n_threads == 1:      # no OpenMP region: its entry costs microseconds
        _grads_share(x, h, h0, da, W_xh_T_p, dx, dW_xh, dW_hh, db, B, T, D, H, 0, 1, work)
        return
    with parallel(num_threads=n_threads):
        fastrnn_note_team()
        tid = threadid()
        _grads_share(x, h, h0, da, W_xh_T_p, dx, dW_xh, dW_hh, db, B, T, D, H, tid,
                     fastrnn_team_threads(), work + tid * share)
