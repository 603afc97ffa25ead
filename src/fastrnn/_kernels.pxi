# fastrnn kernels: the Elman recurrence and its backpropagation through time.
#
# Included by _core.pyx (baseline instruction set, cimportable through
# _core.pxd) and by _core_avx2.pyx (the same source compiled for AVX2 + FMA;
# fastrnn.functional picks it when the CPU has both).
#
#   a_t = x_t @ W_xh + h_{t-1} @ W_hh + b        h_t = act(a_t)
#
# Layout (all C-contiguous, batch-first): x (B, T, D); h, dh and the work
# buffer da (B, T, H). Row (b, t) of a (B, T, H) array starts at
# (b * T + t) * H, so the B rows of step t form a matrix with row stride T * H
# and BLAS reads them in place, without copies.
#
# Structure (after thinc's LSTM kernels):
#   forward:  one GEMM projects the inputs of all B * T rows into h; each step
#             then adds only h_{t-1} @ W_hh and applies the activation.
#   backward: the reverse loop only forms da_t = (dh_t + da_{t+1} @ W_hh^T) *
#             act'(a_t); after it, one GEMM each gives dW_xh, dW_hh and dx,
#             and one column sum gives db (tied weights: sums over all steps).
#
# Three layers: `def _forward/_backward` take typed memoryviews from
# fastrnn.functional (which has checked every shape and value and allocated
# every buffer) and hold one `with nogil:` around the call; `rnn_forward/
# rnn_backward` (cimportable, see _core.pxd) work on pointers and sizes; the
# small inline helpers below do one step's work. Nothing here raises.

from cython cimport floating

from ._blas cimport gemm

cdef extern from *:
    """
    /* Branch-free tanh that GCC vectorizes: no libm call per element.
     *
     *   tanh(|x|) = -e / (2 + e),   e = expm1(-2|x|)  in (-1, 0]
     *
     * expm1(y) = 2^n * (expm1(r) + 1) - 1 with y = n ln2 + r, |r| <= ln2 / 2:
     * n is rounded with the 1.5 * 2^p trick, r is formed in two parts (Cody
     * and Waite), expm1(r) is a Taylor polynomial (error below half an ulp on
     * that interval) and 2^n is built from its exponent bits. Arguments are
     * clamped where tanh rounds to 1 (19.1 in double, 9.1 in single), so
     * 2^n never underflows. Needs IEEE round-to-nearest and no -ffast-math
     * (which could fold (y + C) - C).
     */
    #include <stdint.h>
    #include <string.h>
    #include <math.h>

    static inline double fastrnn_tanh_d(double x) {
        const double magic = 6755399441055744.0;      /* 1.5 * 2^52 */
        const double bias = 6755399441056767.0;       /* 1.5 * 2^52 + 1023 */
        const double log2e = 1.4426950408889634;
        const double ln2_hi = 6.93147180369123816490e-01;
        const double ln2_lo = 1.90821492927058770002e-10;
        double ax = fabs(x);
        double y, n, r, p, s, u, e;
        uint64_t bits;
        ax = ax > 19.1 ? 19.1 : ax;                    /* NaN stays NaN */
        y = -2.0 * ax;
        n = (y * log2e + magic) - magic;
        r = (y - n * ln2_hi) - n * ln2_lo;
        p = 1.0 / 6227020800.0;                        /* 1/13! */
        p = p * r + 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r * r + r;                             /* expm1(r) */
        u = n + bias;                                  /* low bits: n + 1023 */
        memcpy(&bits, &u, sizeof bits);
        bits <<= 52;
        memcpy(&s, &bits, sizeof s);                   /* s = 2^n */
        e = s * p + (s - 1.0);                         /* expm1(y) */
        return copysign(-e / (2.0 + e), x);
    }

    static inline float fastrnn_tanh_f(float x) {
        const float magic = 12582912.0f;               /* 1.5 * 2^23 */
        const float bias = 12583039.0f;                /* 1.5 * 2^23 + 127 */
        const float log2e = 1.44269504f;
        const float ln2_hi = 0.693145751953125f;
        const float ln2_lo = 1.428606765330187e-06f;
        float ax = fabsf(x);
        float y, n, r, p, s, u, e;
        uint32_t bits;
        ax = ax > 9.1f ? 9.1f : ax;
        y = -2.0f * ax;
        n = (y * log2e + magic) - magic;
        r = (y - n * ln2_hi) - n * ln2_lo;
        p = 1.0f / 362880.0f;                          /* 1/9! */
        p = p * r + 1.0f / 40320.0f;
        p = p * r + 1.0f / 5040.0f;
        p = p * r + 1.0f / 720.0f;
        p = p * r + 1.0f / 120.0f;
        p = p * r + 1.0f / 24.0f;
        p = p * r + 1.0f / 6.0f;
        p = p * r + 0.5f;
        p = p * r * r + r;
        u = n + bias;
        memcpy(&bits, &u, sizeof bits);
        bits <<= 23;
        memcpy(&s, &bits, sizeof s);
        e = s * p + (s - 1.0f);
        return copysignf(-e / (2.0f + e), x);
    }
    """
    double fastrnn_tanh_d(double x) noexcept nogil
    float fastrnn_tanh_f(float x) noexcept nogil


cdef inline floating _tanh(floating x) noexcept nogil:
    if floating is float:
        return fastrnn_tanh_f(x)
    else:
        return fastrnn_tanh_d(x)


cdef inline void _activate(floating* row, Py_ssize_t n, int activation) noexcept nogil:
    """row <- act(row), in place."""
    cdef Py_ssize_t j
    if activation == ACT_TANH:
        for j in range(n):
            row[j] = _tanh(row[j])
    else:
        for j in range(n):
            row[j] = 0 if row[j] < 0 else row[j]    # NaN stays NaN


cdef inline void _times_act_grad(floating* g, const floating* hrow, Py_ssize_t n,
                                 int activation) noexcept nogil:
    """g <- g * act'(a), with act' written through h = act(a)."""
    cdef Py_ssize_t j
    if activation == ACT_TANH:
        for j in range(n):
            g[j] = g[j] * (1 - hrow[j] * hrow[j])
    else:
        for j in range(n):
            g[j] = g[j] if hrow[j] > 0 else 0


cdef inline void _fill(floating* row, Py_ssize_t n, floating value) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        row[j] = value


cdef inline void _copy(floating* dst, const floating* src, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        dst[j] = src[j]


cdef inline void _add(floating* dst, const floating* src, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        dst[j] += src[j]


cdef inline void _row_block_product(const floating* a, const floating* w,
                                    Py_ssize_t H, floating* c,
                                    Py_ssize_t width) noexcept nogil:
    """c[:width] += a[:H] @ w[:H, :width], w with row stride H; width <= 32.
    (float32 only: see _step_product.)

    Called with a constant width, the two accumulator rows (even and odd k,
    for two independent chains of multiply-adds) stay in vector registers
    across the whole k loop, instead of going through memory at every k.
    """
    cdef floating acc0[32]
    cdef floating acc1[32]
    cdef Py_ssize_t k, jj
    cdef floating a0, a1
    cdef const floating* w0
    for jj in range(width):
        acc0[jj] = c[jj]
        acc1[jj] = 0
    k = 0
    while k + 2 <= H:
        a0 = a[k]
        a1 = a[k + 1]
        w0 = w + k * H
        for jj in range(width):
            acc0[jj] += a0 * w0[jj]
            acc1[jj] += a1 * w0[H + jj]
        k += 2
    if k < H:
        a0 = a[k]
        w0 = w + k * H
        for jj in range(width):
            acc0[jj] += a0 * w0[jj]
    for jj in range(width):
        c[jj] = acc0[jj] + acc1[jj]


cdef inline void _step_product(const floating* A, Py_ssize_t lda,
                               const floating* W, floating* C, Py_ssize_t ldc,
                               Py_ssize_t M, Py_ssize_t H, bint use_blas) noexcept nogil:
    """C (M x H, row stride ldc) += A (M x H, row stride lda) @ W (H x H).

    The one sequential product of a step. Large sizes call GEMM; small ones
    loop here, with no call overhead, in loops the compiler vectorizes. For
    float32, register-blocked: columns in blocks of 32, 16 and 8 whose
    accumulators stay in vector registers over the whole k loop. For float64,
    GCC vectorizes the same blocks badly (across k), so it keeps the plain
    axpy order: c[j] += a[k] * W[k, j] with j innermost.
    """
    cdef Py_ssize_t i, j, k
    cdef const floating* a
    cdef const floating* w
    cdef floating* c
    cdef floating aik
    if use_blas:
        gemm(False, False, M, H, H, <floating>1, A, lda, W, H, <floating>1, C, ldc)
        return
    for i in range(M):
        a = A + i * lda
        c = C + i * ldc
        if floating is double:
            for k in range(H):
                aik = a[k]
                w = W + k * H
                for j in range(H):
                    c[j] += aik * w[j]
        else:
            j = 0
            while j + 32 <= H:
                _row_block_product(a, W + j, H, c + j, 32)
                j += 32
            if j + 16 <= H:
                _row_block_product(a, W + j, H, c + j, 16)
                j += 16
            if j + 8 <= H:
                _row_block_product(a, W + j, H, c + j, 8)
                j += 8
            if j < H:
                _row_block_product(a, W + j, H, c + j, H - j)


cdef void _forward_steps(const floating* W_hh, const floating* h0,
                         const Py_ssize_t* lengths, floating* h,
                         Py_ssize_t B, Py_ssize_t T, Py_ssize_t H,
                         Py_ssize_t row_stride, int activation,
                         bint use_blas) noexcept nogil:
    """The time loop of the forward pass for B sequences whose rows hold the
    input projections on entry: h_t = act(h_t + h_{t-1} @ W_hh)."""
    cdef Py_ssize_t t, s
    cdef floating* h_t
    for t in range(T):
        h_t = h + t * H
        # a_t += h_{t-1} @ W_hh   (h_{-1} = h0, or zeros: nothing to add)
        if t > 0:
            _step_product(h_t - H, row_stride, W_hh, h_t, row_stride, B, H, use_blas)
        elif h0 != NULL:
            _step_product(h0, H, W_hh, h_t, row_stride, B, H, use_blas)
        # h_t = act(a_t); padded steps (t >= length) are 0
        for s in range(B):
            if lengths != NULL and t >= lengths[s]:
                _fill(h_t + s * row_stride, H, <floating>0)
            else:
                _activate(h_t + s * row_stride, H, activation)


cdef void _backward_steps(const floating* h, const floating* dh,
                          const floating* W_hh_T,
                          const Py_ssize_t* lengths, floating* da, floating* dh0,
                          Py_ssize_t B, Py_ssize_t T, Py_ssize_t H,
                          Py_ssize_t row_stride, int activation,
                          bint use_blas) noexcept nogil:
    """The reverse time loop of BPTT for B sequences: fills da with dL/da_t
    and, if dh0 is not NULL, dh0 with dL/dh_{-1}."""
    cdef Py_ssize_t t, s
    cdef floating* da_t
    cdef const floating* dh_t
    cdef const floating* h_t
    # On entry to step t, da_t holds dh_t + da_{t+1} @ W_hh^T.
    for s in range(B):
        _copy(da + s * row_stride + (T - 1) * H, dh + s * row_stride + (T - 1) * H, H)
    for t in range(T - 1, -1, -1):
        da_t = da + t * H
        h_t = h + t * H
        # da_t = (dh_t + da_{t+1} @ W_hh^T) * act'(a_t); 0 at padded steps
        for s in range(B):
            if lengths != NULL and t >= lengths[s]:
                _fill(da_t + s * row_stride, H, <floating>0)
            else:
                _times_act_grad(da_t + s * row_stride, h_t + s * row_stride, H,
                                activation)
        if t > 0:
            # da_{t-1} starts as dh_{t-1}, then += da_t @ W_hh^T
            dh_t = dh + (t - 1) * H
            for s in range(B):
                _copy(da_t - H + s * row_stride, dh_t + s * row_stride, H)
            _step_product(da_t, row_stride, W_hh_T, da_t - H, row_stride,
                          B, H, use_blas)
        elif dh0 != NULL:
            # dL/dh0 = da_0 @ W_hh^T
            for s in range(B):
                _fill(dh0 + s * H, H, <floating>0)
            _step_product(da_t, row_stride, W_hh_T, dh0, H, B, H, use_blas)


cdef void rnn_forward(
        const floating* x, const Py_ssize_t* ids,
        const floating* W_xh, const floating* W_hh,
        const floating* b, const floating* h0, const Py_ssize_t* lengths,
        floating* h,
        Py_ssize_t B, Py_ssize_t T, Py_ssize_t D, Py_ssize_t H,
        int activation, bint use_blas) noexcept nogil:
    cdef Py_ssize_t row_stride = T * H       # between sequences at one step
    cdef Py_ssize_t n_rows = B * T
    cdef Py_ssize_t i

    # Input projection of every (b, t) row at once: h = x @ W_xh + b, where
    # integer ids stand for one-hot rows of x, so x @ W_xh is a row lookup.
    for i in range(n_rows):
        _copy(h + i * H, b, H)
    if ids != NULL:
        for i in range(n_rows):
            _add(h + i * H, W_xh + ids[i] * H, H)
    else:
        gemm(False, False, n_rows, H, D, <floating>1, x, D, W_xh, H, <floating>1, h, H)

    _forward_steps(W_hh, h0, lengths, h, B, T, H, row_stride, activation, use_blas)


cdef void rnn_backward(
        const floating* x, const Py_ssize_t* ids,
        const floating* h, const floating* dh,
        const floating* W_xh, const floating* W_hh_T,
        const floating* h0, const Py_ssize_t* lengths,
        floating* da, floating* h_prev_fix,
        floating* dx, floating* dW_xh, floating* dW_hh, floating* db,
        floating* dh0,
        Py_ssize_t B, Py_ssize_t T, Py_ssize_t D, Py_ssize_t H,
        int activation, bint use_blas) noexcept nogil:
    """BPTT. da (B, T, H) and h_prev_fix (B, H) are work buffers; W_hh_T is
    W_hh transposed (C-contiguous), so that da_t @ W_hh^T is the same
    untransposed product as the forward step (faster in BLAS too); dh0
    (B, H) may be NULL; with ids, dx is not written (may be NULL)."""
    cdef Py_ssize_t row_stride = T * H
    cdef Py_ssize_t n_rows = B * T
    cdef Py_ssize_t i, s

    _backward_steps(h, dh, W_hh_T, lengths, da, dh0, B, T, H,
                    row_stride, activation, use_blas)

    # Tied weights: each gradient is a sum over all B * T rows, one product each.
    if ids != NULL:
        # one-hot rows: X^T @ dA adds each row of dA into the row of its id;
        # ids have no gradient (dx is not written)
        for i in range(D):
            _fill(dW_xh + i * H, H, <floating>0)
        for i in range(n_rows):
            _add(dW_xh + ids[i] * H, da + i * H, H)
    else:
        # dW_xh = X^T @ dA        (D x H)
        gemm(True, False, D, H, n_rows, <floating>1, x, D, da, H, <floating>0, dW_xh, H)
        # dX = dA @ W_xh^T        (B*T x D)
        gemm(False, True, n_rows, D, H, <floating>1, da, H, W_xh, H, <floating>0, dx, D)
    # db = column sums of dA
    _fill(db, H, <floating>0)
    for i in range(n_rows):
        _add(db, da + i * H, H)
    # dW_hh = sum over (b, t) of h_{t-1}^T da_t. Pairing flat row i of h with
    # flat row i + 1 of da covers every t >= 1 in one GEMM, but also pairs
    # h[b-1, T-1] with da[b, 0]; the second GEMM replaces those pairs with the
    # true h_{-1} = h0:  dW_hh += (h0 - h[b-1, T-1])^T @ da[:, 0].
    gemm(True, False, H, H, n_rows - 1, <floating>1, h, H, da + H, H,
         <floating>0, dW_hh, H)
    for s in range(B):
        if h0 != NULL:
            _copy(h_prev_fix + s * H, h0 + s * H, H)
        else:
            _fill(h_prev_fix + s * H, H, <floating>0)
        if s > 0:
            for i in range(H):
                h_prev_fix[s * H + i] -= h[(s - 1) * row_stride + (T - 1) * H + i]
    gemm(True, False, H, H, B, <floating>1, h_prev_fix, H, da, row_stride,
         <floating>1, dW_hh, H)


# --- Python entry points: typed memoryviews in, one `with nogil:` each. ---

cdef inline const floating* _ptr2(const floating[:, ::1] a) noexcept nogil:
    return &a[0, 0] if a.shape[0] > 0 and a.shape[1] > 0 else NULL


cdef inline const floating* _ptr3(const floating[:, :, ::1] a) noexcept nogil:
    return &a[0, 0, 0] if a.shape[0] > 0 and a.shape[1] > 0 and a.shape[2] > 0 else NULL


def _forward(const floating[:, :, ::1] x, const Py_ssize_t[:, ::1] ids,
             const floating[:, ::1] W_xh,
             const floating[:, ::1] W_hh, const floating[::1] b,
             const floating[:, ::1] h0, const Py_ssize_t[::1] lengths,
             floating[:, :, ::1] h, int activation, bint use_blas):
    """h <- forward pass (see rnn_forward). Either x (B, T, D) or ids (B, T)
    is given, the other is None; h0 and lengths may be None."""
    cdef const floating* x_p = NULL if x is None else _ptr3(x)
    cdef const Py_ssize_t* ids_p = NULL if ids is None else &ids[0, 0]
    cdef const floating* h0_p = NULL if h0 is None else &h0[0, 0]
    cdef const Py_ssize_t* len_p = NULL if lengths is None else &lengths[0]
    cdef Py_ssize_t B = h.shape[0], T = h.shape[1], H = h.shape[2]
    cdef Py_ssize_t D = W_xh.shape[0]
    with nogil:
        rnn_forward(x_p, ids_p, _ptr2(W_xh), &W_hh[0, 0], &b[0], h0_p, len_p,
                    &h[0, 0, 0], B, T, D, H, activation, use_blas)


def _backward(const floating[:, :, ::1] x, const Py_ssize_t[:, ::1] ids,
              const floating[:, :, ::1] h,
              const floating[:, :, ::1] dh, const floating[:, ::1] W_xh,
              const floating[:, ::1] W_hh_T,
              const floating[:, ::1] h0, const Py_ssize_t[::1] lengths,
              floating[:, :, ::1] da, floating[:, ::1] h_prev_fix,
              floating[:, :, ::1] dx, floating[:, ::1] dW_xh,
              floating[:, ::1] dW_hh, floating[::1] db, floating[:, ::1] dh0,
              int activation, bint use_blas):
    """Gradients into dx, dW_xh, dW_hh, db and dh0 (see rnn_backward).
    Either x or ids is given (then dx is None); h0, lengths and dh0 may be
    None; da and h_prev_fix are work buffers."""
    cdef const floating* x_p = NULL if x is None else _ptr3(x)
    cdef const Py_ssize_t* ids_p = NULL if ids is None else &ids[0, 0]
    cdef floating* dx_p = NULL if dx is None else <floating*>_ptr3(dx)
    cdef const floating* h0_p = NULL if h0 is None else &h0[0, 0]
    cdef const Py_ssize_t* len_p = NULL if lengths is None else &lengths[0]
    cdef floating* dh0_p = NULL if dh0 is None else &dh0[0, 0]
    cdef Py_ssize_t B = h.shape[0], T = h.shape[1], H = h.shape[2]
    cdef Py_ssize_t D = W_xh.shape[0]
    with nogil:
        rnn_backward(x_p, ids_p, &h[0, 0, 0], &dh[0, 0, 0], _ptr2(W_xh),
                     &W_hh_T[0, 0], h0_p, len_p, &da[0, 0, 0], &h_prev_fix[0, 0],
                     dx_p, <floating*>_ptr2(dW_xh), &dW_hh[0, 0], &db[0], dh0_p,
                     B, T, D, H, activation, use_blas)


def _tanh_hook(floating[::1] values):
    """Apply the kernels' vectorized tanh in place (a test hook)."""
    cdef Py_ssize_t n = values.shape[0]
    if n == 0:
        return
    with nogil:
        _activate(&values[0], n, ACT_TANH)


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
