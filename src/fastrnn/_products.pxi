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
    for i < M, j < width: M rows of A times one packed panel, in blocks of 4
    rows; in the AVX-512 build, blocks of 12 first (_block_rows), where each
    load of the panel serves 12 rows: the training step ran 1.04 to 1.31
    times as fast at every grid row from 16 sequences of 64 units on; and
    a block of 8 when 8 to 11 rows are left (groups of 32 rows: 12 + 12 +
    8), 1.03 to 1.07 at the rows with such groups. (With the AVX2 build's
    6-row blocks the row 16, 100, 32, 64 ran 0.89 to 0.94 times as fast and
    the others at most 1.05: that build keeps blocks of 4.)"""
    cdef Py_ssize_t i = 0
    if FASTRNN_TALL_ROWS == 12 and M >= 8:
        i = M // 12 * 12
        if M - i >= 8:      # and a block of 8 of the last 8 to 11 rows
            i += 8
        _block_rows(A, ra, ka, i, wp, 2 * _lanes(A), K, width, C, ldc, NULL, False)
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
    # The weight gradients' blocking (_gemm_tn, _weight_grads): K in blocks
    # of TN_DEPTH rows, each element summed over a block and then added to
    # C; _weight_grads' tiles of C are TN_ROWS rows by a group of panels,
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


# --- The readout's products: tall blocks ---
#
# The readout multiplies B * T rows by a narrow matrix: h (B * T, H) @ W_hy
# (H, V), dY (B * T, V) @ W_hy^T, and the weight gradient h^T dY (H, V) summed
# over all B * T rows. Their register blocks are tall (_block_rows: R = 12
# rows with 64-byte vectors, 6 with 32-byte ones, 4 in the baseline build,
# whose 16 128-bit registers hold no more), so that each panel load serves
# more multiply-adds than the 4-row block of the recurrence's per-step
# products. Every element is the same chain of multiply-adds in k order as
# in the 4-row blocks: the blocking does not change a bit.

cdef extern from *:
    """
    #if FASTRNN_VECTOR_BYTES == 64
    #define FASTRNN_TALL_ROWS 12
    #elif defined(__AVX__) && !defined(FASTRNN_PORTABLE_VECTORS)
    #define FASTRNN_TALL_ROWS 6
    #else
    #define FASTRNN_TALL_ROWS 4
    #endif
    #define FASTRNN_TN_GROUP (FASTRNN_TALL_ROWS == 12 ? 12 : 4)
    """
    enum:
        FASTRNN_TALL_ROWS
        # the rows of A' that _tn_tile copies together (a tall block of 12
        # in the AVX-512 build, where it measured faster; else 4)
        FASTRNN_TN_GROUP


cdef inline void _block_rows(const floating* a, Py_ssize_t ra, Py_ssize_t ka,
                             Py_ssize_t rows, const floating* w, Py_ssize_t ldw,
                             Py_ssize_t K, Py_ssize_t width, floating* c,
                             Py_ssize_t ldc, const floating* c0, bint trans_c) noexcept nogil:
    """c[i * ldc + j] += sum over k of A(i, k) * w[k * ldw + j] for i < rows,
    j < width, A(i, k) = a[i * ra + k * ka]; with c0 (a row of the width
    columns), c[i * ldc + j] = c0[j] + the sum instead; with trans_c, the
    sum is added to c[j * ldc + i]. Tall blocks of FASTRNN_TALL_ROWS rows,
    then (AVX-512) a block of 8 when 8 to 11 rows are left, then blocks of
    4; a width of one vector or less reads one vector of the panel (the
    half blocks)."""
    cdef Py_ssize_t i = 0, step = 1 if trans_c else ldc
    cdef bint half = width <= _lanes(a)
    if FASTRNN_TALL_ROWS > 4:
        while i + FASTRNN_TALL_ROWS <= rows:
            if floating is float:
                if FASTRNN_TALL_ROWS == 12:
                    if half:
                        _rows12h_f(a + i * ra, ra, ka, w, ldw, K, width, c + i * step, ldc, c0, trans_c)
                    else:
                        _rows12_f(a + i * ra, ra, ka, w, ldw, K, width, c + i * step, ldc, c0, trans_c)
                else:
                    if half:
                        _rows6h_f(a + i * ra, ra, ka, w, ldw, K, width, c + i * step, ldc, c0, trans_c)
                    else:
                        _rows6_f(a + i * ra, ra, ka, w, ldw, K, width, c + i * step, ldc, c0, trans_c)
            else:
                if FASTRNN_TALL_ROWS == 12:
                    if half:
                        _rows12h_d(a + i * ra, ra, ka, w, ldw, K, width, c + i * step, ldc, c0, trans_c)
                    else:
                        _rows12_d(a + i * ra, ra, ka, w, ldw, K, width, c + i * step, ldc, c0, trans_c)
                else:
                    if half:
                        _rows6h_d(a + i * ra, ra, ka, w, ldw, K, width, c + i * step, ldc, c0, trans_c)
                    else:
                        _rows6_d(a + i * ra, ra, ka, w, ldw, K, width, c + i * step, ldc, c0, trans_c)
            i += FASTRNN_TALL_ROWS
    if FASTRNN_TALL_ROWS == 12 and i + 8 <= rows:  # 8 of the last 8 to 11 rows
        if floating is float:
            if half:
                _rows8h_f(a + i * ra, ra, ka, w, ldw, K, width, c + i * step, ldc, c0, trans_c)
            else:
                _rows8_f(a + i * ra, ra, ka, w, ldw, K, width, c + i * step, ldc, c0, trans_c)
        else:
            if half:
                _rows8h_d(a + i * ra, ra, ka, w, ldw, K, width, c + i * step, ldc, c0, trans_c)
            else:
                _rows8_d(a + i * ra, ra, ka, w, ldw, K, width, c + i * step, ldc, c0, trans_c)
        i += 8
    while i < rows:
        if floating is float:
            if half:
                _rows4wh_f(a + i * ra, ra, ka, min(4, rows - i), w, ldw, K, width,
                           c + i * step, ldc, c0, trans_c)
            else:
                _rows4w_f(a + i * ra, ra, ka, min(4, rows - i), w, ldw, K, width,
                          c + i * step, ldc, c0, trans_c)
        else:
            if half:
                _rows4wh_d(a + i * ra, ra, ka, min(4, rows - i), w, ldw, K, width,
                           c + i * step, ldc, c0, trans_c)
            else:
                _rows4w_d(a + i * ra, ra, ka, min(4, rows - i), w, ldw, K, width,
                          c + i * step, ldc, c0, trans_c)
        i += 4


cdef void _tall_row_block(const floating* A, Py_ssize_t lda, const floating* Bp,
                          floating* C, Py_ssize_t ldc,
                          Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                          const floating* c0, Py_ssize_t blk) noexcept nogil:
    """Rows [blk * 4R, (blk + 1) * 4R) of _gemm_tall (R = FASTRNN_TALL_ROWS)."""
    cdef Py_ssize_t panel = 2 * _lanes(A), n_rows = 4 * FASTRNN_TALL_ROWS
    cdef Py_ssize_t i0 = blk * n_rows, rows = min(n_rows, M - i0), i, p, r
    cdef Py_ssize_t step = FASTRNN_TALL_ROWS
    for i in range(i0, i0 + rows):
        if c0 != NULL:
            _copy(C + i * ldc, c0, N)
        else:
            _fill(C + i * ldc, N, <floating>0)
    r = 0
    while r < rows:
        for p in range(_panels(N, A)):
            _block_rows(A + (i0 + r) * lda, lda, 1, min(step, rows - r), Bp + p * panel * K,
                        panel, K, min(panel, N - p * panel), C + (i0 + r) * ldc + p * panel,
                        ldc, NULL, False)
        r += step


cdef void _gemm_tall(const floating* A, Py_ssize_t lda, const floating* Bp,
                     floating* C, Py_ssize_t ldc,
                     Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                     const floating* c0, int n_threads) noexcept nogil:
    """_gemm_packed on tall blocks: C (M x N, row stride ldc) = c0 + A (M x
    K, row stride lda) @ B, B packed by _pack, c0 one row (N,) or NULL.
    Threads take blocks of 4 * FASTRNN_TALL_ROWS rows."""
    cdef Py_ssize_t n_rows = 4 * FASTRNN_TALL_ROWS
    cdef Py_ssize_t n_blocks = (M + n_rows - 1) // n_rows, blk
    if n_threads == 1:
        for blk in range(n_blocks):
            _tall_row_block(A, lda, Bp, C, ldc, M, N, K, c0, blk)
    else:
        for blk in prange(n_blocks, num_threads=n_threads, schedule="static"):
            fastrnn_note_team()
            _tall_row_block(A, lda, Bp, C, ldc, M, N, K, c0, blk)


cdef inline Py_ssize_t _tn_panel_work(int n_threads, const floating* p) noexcept nogil:
    """Elements of _gemm_tn's work buffer: per thread, one packed panel of
    TN_DEPTH rows (p selects the type)."""
    return n_threads * 2 * _lanes(p) * TN_DEPTH


cdef void _tn_panels(const floating* A, Py_ssize_t lda,
                     const floating* Bm, Py_ssize_t ldb,
                     floating* C, Py_ssize_t ldc,
                     Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                     Py_ssize_t p0, Py_ssize_t p1, floating* work) noexcept nogil:
    """Rows [p0 * PANEL, p1 * PANEL) of C += A^T B (see _gemm_tn), in blocks
    of TN_DEPTH rows of K: C^T = B^T A, with the rows of C^T (columns of B,
    read in place: consecutive in each row of B) in tall blocks and a panel
    of A's columns read in place (a partial last panel is packed into work
    first), each block stored transposed into C."""
    cdef Py_ssize_t panel = 2 * _lanes(A), n_kb = (K + TN_DEPTH - 1) // TN_DEPTH
    cdef Py_ssize_t kb, k0, kk, p, q, width
    for kb in range(n_kb):
        k0 = kb * TN_DEPTH
        kk = min(TN_DEPTH, K - k0)
        for p in range(p0, p1):
            q = p * panel
            width = min(panel, M - q)
            if width == panel:
                _block_rows(Bm + k0 * ldb, 1, ldb, N, A + k0 * lda + q, lda, kk, width,
                            C + q * ldc, ldc, NULL, True)
            else:
                _pack_panel(A + k0 * lda, lda, 1, kk, q, width, work)
                _block_rows(Bm + k0 * ldb, 1, ldb, N, work, panel, kk, width,
                            C + q * ldc, ldc, NULL, True)


cdef void _gemm_tn(const floating* A, Py_ssize_t lda,
                   const floating* Bm, Py_ssize_t ldb,
                   floating* C, Py_ssize_t ldc,
                   Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                   floating* work, int n_threads) noexcept nogil:
    """C (M x N) += A^T @ B for A (K x M, row stride lda) and B (K x N, row
    stride ldb): the readout's weight gradient, a sum over all K = B * T
    rows, in blocks of TN_DEPTH rows (each element: a chain of
    multiply-adds over a block in k order, added to C block after block).
    work holds _tn_panel_work(n_threads) elements. Each thread takes a
    contiguous share of C's panels of rows and runs the whole of K for them:
    no thread waits for another until the end, and every element is summed
    by one thread in the same order whatever the thread count."""
    cdef Py_ssize_t n_panels = _panels(M, A), share = _tn_panel_work(1, A)
    cdef Py_ssize_t tid, team
    if M == 0:
        return
    if n_threads == 1:
        _tn_panels(A, lda, Bm, ldb, C, ldc, M, N, K, 0, n_panels, work)
        return
    with parallel(num_threads=n_threads):
        fastrnn_note_team()
        tid = threadid()
        team = fastrnn_team_threads()
        _tn_panels(A, lda, Bm, ldb, C, ldc, M, N, K, tid * n_panels // team,
                   (tid + 1) * n_panels // team, work + tid * share)


cdef inline Py_ssize_t _tn_work_size(Py_ssize_t N, int n_threads,
                                     const floating* p) noexcept nogil:
    """Elements of _gemm_tn's work buffer (p selects the type): per thread,
    a block of B's panels and a block of A's tile."""
    cdef Py_ssize_t tile_rows = ((TN_ROWS + FASTRNN_TN_GROUP - 1) // FASTRNN_TN_GROUP
                                 * FASTRNN_TN_GROUP)    # whole groups of _tn_tile
    return n_threads * (_panels(N, p) * 2 * _lanes(p) * TN_DEPTH + tile_rows * TN_DEPTH)


cdef inline const floating* _tn_source(const floating* A, Py_ssize_t lda, Py_ssize_t T,
                                      const floating* h0, Py_ssize_t i, Py_ssize_t t,
                                      Py_ssize_t col) noexcept nogil:
    """Where row i of A' (see _tn_tile) starts at column col: t is i's step
    (i % T) when T > 0; NULL for a row of zeros."""
    if T == 0:
        return A + i * lda + col
    if t > 0:
        return A + (i - 1) * lda + col
    if h0 != NULL:
        return h0 + (i // T) * lda + col
    return NULL


cdef inline void _tn_copy_group(floating* ap, const floating* src, Py_ssize_t g,
                                Py_ssize_t rows) noexcept nogil:
    """ap[r] <- src[g + r] for r < FASTRNN_TN_GROUP, 0 past rows or where
    src is NULL."""
    cdef Py_ssize_t r
    if src != NULL and g + FASTRNN_TN_GROUP <= rows:
        if FASTRNN_TN_GROUP == 12:      # vector moves
            memcpy(ap, src + g, 12 * sizeof(floating))
        else:                           # (as fast as memcpy here, or faster)
            for r in range(FASTRNN_TN_GROUP):
                ap[r] = src[g + r]
    else:           # zeros (no h0), or the last, partial group of rows
        for r in range(FASTRNN_TN_GROUP):
            ap[r] = src[g + r] if src != NULL and g + r < rows else 0


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
    The tile's columns of A' are copied first into Ap (TN_ROWS rounded up
    to whole groups, x TN_DEPTH elements), FASTRNN_TN_GROUP at a time (12
    in the AVX-512 build, else 4; zeros past the last row), each group
    with its kk rows in turn: the product then reads them in order, instead
    of one cache line (and, for large M, one page) per k. A group of 12 is
    one tall block (_block_rows), where each load of a panel of B serves
    12 rows."""
    cdef Py_ssize_t panel = 2 * _lanes(A), n_panels = _panels(N, A)
    cdef Py_ssize_t n_row_tiles = (M + TN_ROWS - 1) // TN_ROWS
    cdef Py_ssize_t i0 = (tile % n_row_tiles) * TN_ROWS
    cdef Py_ssize_t p0 = (tile // n_row_tiles) * group
    cdef Py_ssize_t rows = min(TN_ROWS, M - i0), p, g, k, r, t, m
    cdef const floating* src
    if FASTRNN_TN_GROUP == 12:
        # row by row of A', each row's columns read once into the 6 groups
        # (the training step 1.01 to 1.12 times as fast as group by group
        # from 16 sequences on; with the AVX2 build's 16 groups of 4, float32
        # 0.92 to 0.99: the other builds copy group by group)
        t = k0 % T if T > 0 else 0
        for k in range(kk):
            src = _tn_source(A, lda, T, h0, k0 + k, t, i0)
            if T > 0:
                t = t + 1 if t + 1 < T else 0
            g = 0
            while g < rows:
                _tn_copy_group(Ap + g * kk + k * FASTRNN_TN_GROUP, src, g, rows)
                g += FASTRNN_TN_GROUP
    else:
        g = 0
        while g < rows:
            t = k0 % T if T > 0 else 0
            for k in range(kk):
                src = _tn_source(A, lda, T, h0, k0 + k, t, i0)
                if T > 0:
                    t = t + 1 if t + 1 < T else 0
                _tn_copy_group(Ap + g * kk + k * FASTRNN_TN_GROUP, src, g, rows)
            g += FASTRNN_TN_GROUP
    for p in range(p0, min(p0 + group, n_panels)):
        g = 0
        while g < rows:
            m = min(<Py_ssize_t>FASTRNN_TN_GROUP, rows - g)
            if m == 12:
                _block_rows(Ap + g * kk, 1, FASTRNN_TN_GROUP, m, Bp + p * panel * kk, panel,
                            kk, min(panel, N - p * panel), C + (i0 + g) * ldc + p * panel,
                            ldc, NULL, False)
            else:
                for r in range(0, m, 4):
                    _rows4(Ap + g * kk + r, 1, FASTRNN_TN_GROUP, Bp + p * panel * kk, kk,
                           C + (i0 + g + r) * ldc + p * panel, ldc,
                           min(panel, N - p * panel), min(4, m - r))
            g += FASTRNN_TN_GROUP


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
        if dense and dx != NULL:    # dX = dA W_xh^T, this thread's row blocks of the block
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
    With x (not NULL, D > 0) also dW_xh += X^T dA and, unless dx is NULL,
    dX = dA W_xh^T, W_xh^T packed at W_xh_T_p. work holds
    _grads_work_size(H, n_threads) elements."""
    cdef Py_ssize_t share = _tn_work_size(H, 1, h), tid
    if n_threads == 1:      # no OpenMP region: its entry costs microseconds
        _grads_share(x, h, h0, da, W_xh_T_p, dx, dW_xh, dW_hh, db, B, T, D, H, 0, 1, work)
        return
    with parallel(num_threads=n_threads):
        fastrnn_note_team()
        tid = threadid()
        _grads_share(x, h, h0, da, W_xh_T_p, dx, dW_xh, dW_hh, db, B, T, D, H, tid,
                     fastrnn_team_threads(), work + tid * share)
