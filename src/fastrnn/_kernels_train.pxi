# fastrnn kernels, the training step around the recurrence: the softmax
# cross-entropy of the readout's logits with its gradient, the sums of
# squares behind the gradient's norm, and the Adam update. Included after
# _kernels.pxi by _core.pyx, _core_avx2.pyx and _core_avx512.pyx.
#
# Each is one pass where NumPy needs several over the same array: the loss
# and its gradient over the (B * T, C) logits (NumPy: max, subtract, exp,
# sum, divide, pick, scale and the column sums), the update over each
# parameter (NumPy: eleven, and the trainer's copy for undoing it, its
# clipping and its finiteness check).

from libc.math cimport log

cdef extern from *:
    """
    /* exp(y) for y <= 0, branch-free so that GCC vectorizes a loop of it
     * (the method of fastrnn_tanh_*: y = n ln2 + r, |r| <= ln2 / 2, a Taylor
     * polynomial of exp(r) - 1, 2^n from its exponent bits). Arguments below
     * -87 (float) or -708 (double) are clamped there, where exp is below the
     * smallest normal number: the result is then that tiny number instead
     * of a subnormal or 0, which no softmax sum or gradient can tell from
     * 0. NaN stays NaN. */
    static inline double fastrnn_exp_nonpos_d(double y) {
        const double magic = 6755399441055744.0;      /* 1.5 * 2^52 */
        const double bias = 6755399441056767.0;       /* 1.5 * 2^52 + 1023 */
        const double log2e = 1.4426950408889634;
        const double ln2_hi = 6.93147180369123816490e-01;
        const double ln2_lo = 1.90821492927058770002e-10;
        double n, r, p, s, u;
        uint64_t bits;
        y = y < -708.0 ? -708.0 : y;
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
        p = p * r * r + r;                             /* exp(r) - 1 */
        u = n + bias;
        memcpy(&bits, &u, sizeof bits);
        bits <<= 52;
        memcpy(&s, &bits, sizeof s);                   /* 2^n */
        return s * p + s;
    }

    static inline float fastrnn_exp_nonpos_f(float y) {
        const float magic = 12582912.0f;               /* 1.5 * 2^23 */
        const float bias = 12583039.0f;                /* 1.5 * 2^23 + 127 */
        const float log2e = 1.44269504f;
        const float ln2_hi = 0.693145751953125f;
        const float ln2_lo = 1.428606765330187e-06f;
        float n, r, p, s, u;
        uint32_t bits;
        y = y < -87.0f ? -87.0f : y;
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
        return s * p + s;
    }

    /* One Adam update of n parameters, in the order and the precision of
     * optim.Adam's NumPy steps (each product and sum rounded to the
     * parameters' type): the same bits. GCC would otherwise fuse a product
     * and a sum into one multiply-add, rounded once. (Vectorized: the build
     * passes -fno-math-errno, so sqrt needs no errno branch.) The gradient
     * is used as g[i] * scale (the clipping factor; 1 leaves it as it is),
     * each old parameter is first copied to backup (unless NULL), and the
     * result is the number of updated parameters that are not finite
     * (p - p is 0 only for a finite p): the trainer's undo and its check,
     * in the same pass. */
    #if defined(__GNUC__) && !defined(__clang__)
    #define FASTRNN_NO_FMA __attribute__((optimize("fp-contract=off")))
    #else
    #define FASTRNN_NO_FMA
    #endif
    #define FASTRNN_ADAM(NAME, T, SQRT)                                        \\
    static FASTRNN_NO_FMA Py_ssize_t NAME(T* p, const T* g, T* m, T* v,        \\
                                    T* backup, Py_ssize_t n, T scale,          \\
                                    T b1, T c1, T b2, T c2, T inv_sqrt_bc2,    \\
                                    T eps, T step_size) {                      \\
        Py_ssize_t i, bad = 0;                                                 \\
        if (backup != NULL)                                                    \\
            memcpy(backup, p, (size_t)n * sizeof(T));                          \\
        for (i = 0; i < n; i++) {                                              \\
            T gi = g[i] * scale, t;                                            \\
            T mi = m[i] * b1;                                                  \\
            t = gi * c1;                                                       \\
            mi = mi + t;                                                       \\
            T vi = v[i] * b2;                                                  \\
            t = gi * gi;                                                       \\
            t = t * c2;                                                        \\
            vi = vi + t;                                                       \\
            t = SQRT(vi);                                                      \\
            t = t * inv_sqrt_bc2;                                              \\
            t = t + eps;                                                       \\
            t = mi / t;                                                        \\
            t = t * step_size;                                                 \\
            m[i] = mi;                                                         \\
            v[i] = vi;                                                         \\
            t = p[i] - t;                                                      \\
            p[i] = t;                                                          \\
            bad += !(t - t == 0);                                              \\
        }                                                                      \\
        return bad;                                                            \\
    }
    FASTRNN_ADAM(fastrnn_adam_f, float, sqrtf)
    FASTRNN_ADAM(fastrnn_adam_d, double, sqrt)

    /* sum(x[i]^2) in double, in 8 running sums (a loop GCC vectorizes without
     * reassociating; no multiply-add, so every build gives the same bits):
     * a float32 square is exact in double, so a float32 array's sum cannot
     * overflow. */
    #define FASTRNN_SUMSQ(NAME, T)                                             \\
    static FASTRNN_NO_FMA double NAME(const T* x, Py_ssize_t n) {              \\
        double s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, t;                             \\
        Py_ssize_t i, j;                                                       \\
        for (i = 0; i + 8 <= n; i += 8)                                        \\
            for (j = 0; j < 8; j++) {                                          \\
                t = (double)x[i + j];                                          \\
                s[j] += t * t;                                                 \\
            }                                                                  \\
        for (; i < n; i++) {                                                   \\
            t = (double)x[i];                                                  \\
            s[0] += t * t;                                                     \\
        }                                                                      \\
        return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); \\
    }
    FASTRNN_SUMSQ(fastrnn_sumsq_f, float)
    FASTRNN_SUMSQ(fastrnn_sumsq_d, double)
    """
    double fastrnn_exp_nonpos_d(double y) noexcept nogil
    float fastrnn_exp_nonpos_f(float y) noexcept nogil
    Py_ssize_t fastrnn_adam_f(float* p, const float* g, float* m, float* v, float* backup,
                              Py_ssize_t n, float scale, float b1, float c1, float b2,
                              float c2, float inv_sqrt_bc2, float eps,
                              float step_size) noexcept nogil
    Py_ssize_t fastrnn_adam_d(double* p, const double* g, double* m, double* v,
                              double* backup, Py_ssize_t n, double scale, double b1,
                              double c1, double b2, double c2, double inv_sqrt_bc2,
                              double eps, double step_size) noexcept nogil
    double fastrnn_sumsq_f(const float* x, Py_ssize_t n) noexcept nogil
    double fastrnn_sumsq_d(const double* x, Py_ssize_t n) noexcept nogil


cdef inline floating _exp_nonpos(floating y) noexcept nogil:
    if floating is float:
        return fastrnn_exp_nonpos_f(y)
    else:
        return fastrnn_exp_nonpos_d(y)


cdef inline floating _row_max(const floating* z, Py_ssize_t C) noexcept nogil:
    """The largest of C >= 1 values, four lanes (a NaN among them propagates
    through the sums that follow, not through this maximum)."""
    cdef floating m0 = z[0], m1 = z[0], m2 = z[0], m3 = z[0]
    cdef Py_ssize_t j = 0
    while j + 4 <= C:
        m0 = z[j] if z[j] > m0 else m0
        m1 = z[j + 1] if z[j + 1] > m1 else m1
        m2 = z[j + 2] if z[j + 2] > m2 else m2
        m3 = z[j + 3] if z[j + 3] > m3 else m3
        j += 4
    while j < C:
        m0 = z[j] if z[j] > m0 else m0
        j += 1
    return max(max(m0, m1), max(m2, m3))


cdef inline double _exp_sum(floating* z, Py_ssize_t C, floating mx) noexcept nogil:
    """z <- exp(z - mx) in place; returns their sum, in double, four lanes."""
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t j
    for j in range(C):          # vectorized: the exponentials in place
        z[j] = _exp_nonpos(z[j] - mx)
    j = 0
    while j + 4 <= C:
        s0 += z[j]
        s1 += z[j + 1]
        s2 += z[j + 2]
        s3 += z[j + 3]
        j += 4
    while j < C:
        s0 += z[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


cdef double _xent_row(floating* z, Py_ssize_t C, Py_ssize_t y, floating scale) noexcept nogil:
    """Row z of C logits <- scale * (softmax(z) - onehot(y)); returns
    -log softmax(z)[y] = log(sum exp(z - max)) - (z[y] - max)."""
    cdef floating mx = _row_max(z, C)
    cdef floating zy = z[y] - mx
    cdef double total = _exp_sum(z, C, mx)
    cdef floating inv = <floating>(1.0 / total) * scale
    cdef Py_ssize_t j
    for j in range(C):
        z[j] = z[j] * inv
    z[y] -= scale
    return log(total) - zy


cdef void _softmax_row(floating* z, Py_ssize_t C) noexcept nogil:
    """Row z of C >= 1 logits <- softmax(z): with scale 1, the
    probabilities of _xent_row's gradient, the same bits."""
    cdef floating mx = _row_max(z, C)
    cdef double total = _exp_sum(z, C, mx)
    cdef floating inv = <floating>(1.0 / total)
    cdef Py_ssize_t j
    for j in range(C):
        z[j] = z[j] * inv


def _softmax_rows(floating[:, ::1] z):
    """Each row of z (N, C), C >= 1 (checked by the caller) <- its softmax, in place."""
    cdef Py_ssize_t N = z.shape[0], C = z.shape[1], i
    with nogil:
        for i in range(N):
            _softmax_row(&z[i, 0], C)


def _softmax_xent(floating[:, ::1] z, const Py_ssize_t[::1] targets, floating scale,
                  floating[::1] col_sums, double[::1] row_losses, int n_threads):
    """Softmax cross-entropy of N rows of logits z (N, C) with class indices
    targets (N,) in 0..C-1 (checked by the caller, on its own copy): z <-
    scale * (softmax(z) - onehot(targets)) in place, col_sums (C,) <- the
    column sums of that gradient (summed in double, in row order),
    row_losses (N,) <- each row's -log softmax(z)[target]; returns their sum
    (in double, in row order). Rows are independent: threads take blocks of
    them; the sums do not depend on the thread count."""
    cdef Py_ssize_t N = z.shape[0], C = z.shape[1], i, j
    cdef double total = 0
    cdef double* acc
    if C == 0:
        raise ValueError("no classes")
    acc = <double*>PyMem_RawMalloc(C * sizeof(double))
    if acc == NULL:
        raise MemoryError("no memory for the column sums")
    global fastrnn_team_size
    fastrnn_team_size = 1
    with nogil:
        if n_threads == 1 or N < 2:
            for i in range(N):
                row_losses[i] = _xent_row(&z[i, 0], C, targets[i], scale)
        else:
            for i in prange(N, num_threads=n_threads, schedule="static"):
                fastrnn_note_team()
                row_losses[i] = _xent_row(&z[i, 0], C, targets[i], scale)
        for j in range(C):
            acc[j] = 0
        for i in range(N):
            total += row_losses[i]
            for j in range(C):  # vectorized across the columns
                acc[j] += z[i, j]
        for j in range(C):
            col_sums[j] = <floating>acc[j]
    PyMem_RawFree(acc)
    return total


def _adam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
          floating[::1] backup, double scale, double beta1, double beta2,
          double inv_sqrt_bc2, double eps, double step_size):
    """One Adam update of parameters p from gradients g * scale, moments m
    and v updated in place (all of one length, checked by the caller), with
    the NumPy steps of optim.Adam: each constant rounded to the parameters'
    type, then ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``p -= step_size * m / (sqrt(v) * inv_sqrt_bc2 + eps)``. backup (None,
    or p's length) receives the parameters before the update. Returns the
    number of updated parameters that are not finite."""
    cdef Py_ssize_t n = p.shape[0], bad
    cdef floating* keep = NULL
    if n == 0:
        return 0
    if backup is not None:
        keep = &backup[0]
    with nogil:
        if floating is float:
            bad = fastrnn_adam_f(&p[0], &g[0], &m[0], &v[0], keep, n, <float>scale,
                                 <float>beta1, <float>(1.0 - beta1), <float>beta2,
                                 <float>(1.0 - beta2), <float>inv_sqrt_bc2, <float>eps,
                                 <float>step_size)
        else:
            bad = fastrnn_adam_d(&p[0], &g[0], &m[0], &v[0], keep, n, scale, beta1,
                                 1.0 - beta1, beta2, 1.0 - beta2, inv_sqrt_bc2, eps,
                                 step_size)
    return bad


def _sum_squares(const floating[::1] x):
    """sum(x ** 2) in double (8 running sums)."""
    cdef Py_ssize_t n = x.shape[0]
    cdef double s
    if n == 0:
        return 0.0
    with nogil:
        if floating is float:
            s = fastrnn_sumsq_f(&x[0], n)
        else:
            s = fastrnn_sumsq_d(&x[0], n)
    return s
