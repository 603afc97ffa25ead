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
# and the products read them in place, without copies.
#
# Structure (after thinc's LSTM kernels):
#   forward:  one product projects the inputs of all B * T rows into h; each
#             step then adds only h_{t-1} @ W_hh and applies the activation.
#   backward: the reverse loop only forms da_t = (dh_t + da_{t+1} @ W_hh^T) *
#             act'(a_t); after it, one pass over dA gives dW_xh, dW_hh, dx
#             (products) and db (a column sum): tied weights, sums over all
#             steps.
#
# Three layers: `def _forward/_backward` take typed memoryviews from
# fastrnn.functional (which has checked every shape and value and allocated
# every buffer) and hold one `with nogil:` around the call; `rnn_forward/
# rnn_backward` (cimportable, see _core.pxd) work on pointers and sizes; the
# helpers below do the products and one step's work. The cdef functions never
# raise: rnn_forward/rnn_backward return -1 when they cannot allocate.

from cython cimport floating

from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc

from cython.parallel cimport parallel, prange, threadid

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


cdef extern from *:
    """
    /* 32-byte vectors, 8 floats or 4 doubles, for the register blocks of the
     * products. With GCC and Clang they are vector-extension types, which
     * stay in registers (ymm with AVX2, xmm pairs on the baseline build;
     * acc + a * w becomes an FMA where the target has one); elsewhere plain
     * arrays. One type per precision: a single 32-byte type reinterpreted
     * by each operation costs GCC extra register copies in the hot loop. */
    #include <string.h>
    #if (defined(__GNUC__) || defined(__clang__)) && !defined(FASTRNN_PORTABLE_VECTORS)
    typedef float fastrnn_vf __attribute__((vector_size(32)));
    typedef double fastrnn_vd __attribute__((vector_size(32)));
    static inline fastrnn_vf fastrnn_vzero_f(void) { fastrnn_vf v = {0}; return v; }
    static inline fastrnn_vd fastrnn_vzero_d(void) { fastrnn_vd v = {0}; return v; }
    static inline fastrnn_vf fastrnn_vfma_f(fastrnn_vf acc, float a, fastrnn_vf w) {
        return acc + a * w;
    }
    static inline fastrnn_vd fastrnn_vfma_d(fastrnn_vd acc, double a, fastrnn_vd w) {
        return acc + a * w;
    }
    static inline fastrnn_vf fastrnn_vadd_f(fastrnn_vf x, fastrnn_vf y) { return x + y; }
    static inline fastrnn_vd fastrnn_vadd_d(fastrnn_vd x, fastrnn_vd y) { return x + y; }
    #else
    typedef struct { float v[8]; } fastrnn_vf;
    typedef struct { double v[4]; } fastrnn_vd;
    static inline fastrnn_vf fastrnn_vzero_f(void) {
        fastrnn_vf z; memset(&z, 0, sizeof z); return z;
    }
    static inline fastrnn_vd fastrnn_vzero_d(void) {
        fastrnn_vd z; memset(&z, 0, sizeof z); return z;
    }
    static inline fastrnn_vf fastrnn_vfma_f(fastrnn_vf acc, float a, fastrnn_vf w) {
        int i; for (i = 0; i < 8; i++) acc.v[i] += a * w.v[i]; return acc;
    }
    static inline fastrnn_vd fastrnn_vfma_d(fastrnn_vd acc, double a, fastrnn_vd w) {
        int i; for (i = 0; i < 4; i++) acc.v[i] += a * w.v[i]; return acc;
    }
    static inline fastrnn_vf fastrnn_vadd_f(fastrnn_vf x, fastrnn_vf y) {
        int i; for (i = 0; i < 8; i++) x.v[i] += y.v[i]; return x;
    }
    static inline fastrnn_vd fastrnn_vadd_d(fastrnn_vd x, fastrnn_vd y) {
        int i; for (i = 0; i < 4; i++) x.v[i] += y.v[i]; return x;
    }
    #endif
    /* Unaligned 32-byte loads and stores. */
    static inline fastrnn_vf fastrnn_vload_f(const float* p) {
        fastrnn_vf v; memcpy(&v, p, sizeof v); return v;
    }
    static inline fastrnn_vd fastrnn_vload_d(const double* p) {
        fastrnn_vd v; memcpy(&v, p, sizeof v); return v;
    }
    static inline void fastrnn_vstore_f(float* p, fastrnn_vf v) { memcpy(p, &v, sizeof v); }
    static inline void fastrnn_vstore_d(double* p, fastrnn_vd v) { memcpy(p, &v, sizeof v); }
    """
    ctypedef struct fastrnn_vf:
        pass
    ctypedef struct fastrnn_vd:
        pass
    fastrnn_vf fastrnn_vzero_f() noexcept nogil
    fastrnn_vd fastrnn_vzero_d() noexcept nogil
    fastrnn_vf fastrnn_vfma_f(fastrnn_vf acc, float a, fastrnn_vf w) noexcept nogil
    fastrnn_vd fastrnn_vfma_d(fastrnn_vd acc, double a, fastrnn_vd w) noexcept nogil
    fastrnn_vf fastrnn_vadd_f(fastrnn_vf x, fastrnn_vf y) noexcept nogil
    fastrnn_vd fastrnn_vadd_d(fastrnn_vd x, fastrnn_vd y) noexcept nogil
    fastrnn_vf fastrnn_vload_f(const float* p) noexcept nogil
    fastrnn_vd fastrnn_vload_d(const double* p) noexcept nogil
    void fastrnn_vstore_f(float* p, fastrnn_vf v) noexcept nogil
    void fastrnn_vstore_d(double* p, fastrnn_vd v) noexcept nogil


cdef extern from *:
    """
    /* A barrier for the threads of the enclosing parallel region. Cython
     * gives a prange inside a `with parallel()` block no barrier of its own
     * (`omp for nowait`), so the time loops, whose steps depend on each
     * other, call this after each step. Nothing without OpenMP. */
    static inline void fastrnn_barrier(void) {
    #ifdef _OPENMP
        #pragma omp barrier
    #endif
    }

    /* OpenMP's limit for a new parallel region of this thread (what
     * OMP_NUM_THREADS and threadpoolctl set), 1 without OpenMP. */
    #ifdef _OPENMP
    #include <omp.h>
    #endif
    static int fastrnn_omp_max_threads(void) {
    #ifdef _OPENMP
        return omp_get_max_threads();
    #else
        return 1;
    #endif
    }

    /* The size of the team of the last parallel region a kernel entered
     * (1 when it ran inline): what tests read to see the thread count the
     * kernels really used. Thread 0 of each region writes it. */
    /* The number of threads of the current team (1 without OpenMP). */
    static inline int fastrnn_team_threads(void) {
    #ifdef _OPENMP
        return omp_get_num_threads();
    #else
        return 1;
    #endif
    }

    static int fastrnn_team_size = 1;
    static inline void fastrnn_note_team(void) {
    #ifdef _OPENMP
        if (omp_get_thread_num() == 0)
            fastrnn_team_size = omp_get_num_threads();
    #endif
    }
    """
    void fastrnn_barrier() noexcept nogil
    int fastrnn_omp_max_threads() noexcept nogil
    int fastrnn_team_size
    void fastrnn_note_team() noexcept nogil
    int fastrnn_team_threads() noexcept nogil


# --- Matrix products on packed panels ---
#
# All products run here, on the kernels' own OpenMP threads (n_threads; one
# thread runs them inline), never in a BLAS library: a BLAS thread pool spins
# for a while after each call, and two pools spinning on the same cores stall
# each other at every step.
#
# B operands are packed into column panels of PANEL = 2 vectors (16 floats or
# 8 doubles): the panel of columns [q, q + PANEL) of a K x N matrix holds its
# K rows of PANEL values in turn, contiguous and zero past column N. For a
# panel, blocks of 4 rows of A keep 8 vector accumulators in registers over
# the whole k loop: 2 vector loads of the panel and 4 scalar broadcasts of A
# feed 8 multiply-adds. A is read in place through a row stride and a k
# stride (the weight gradients' A^T is copied block by block: see _tn_tile).

cdef inline Py_ssize_t _lanes(const floating* p) noexcept nogil:
    """Elements per 32-byte vector (p only selects the type)."""
    return 32 // sizeof(floating)


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


# The register block: c[r * ldc + j] += sum over k of a[r * ra + k * ka] *
# wp[k * PANEL + j] for r < rows (1 to 4) and j < width, one version per
# precision (each with its own vector type; _rows4 picks one). With fewer
# than 4 rows the last row is computed again in place of the missing ones
# and not stored: every element is one chain of multiply-adds in k order
# whatever the blocking, so results do not depend on M, on padding rows or
# on the number of threads.

cdef inline void _rows4_f(const float* a, Py_ssize_t ra, Py_ssize_t ka,
                          const float* wp, Py_ssize_t K, Py_ssize_t rows,
                          Py_ssize_t width, float* c, Py_ssize_t ldc) noexcept nogil:
    """The block for float32."""
    cdef Py_ssize_t k, o = 0
    cdef Py_ssize_t r1 = min(1, rows - 1) * ra, r2 = min(2, rows - 1) * ra
    cdef Py_ssize_t r3 = min(3, rows - 1) * ra
    cdef const float* w = wp
    cdef fastrnn_vf w0, w1
    cdef fastrnn_vf c00 = fastrnn_vzero_f(), c01 = fastrnn_vzero_f()
    cdef fastrnn_vf c10 = fastrnn_vzero_f(), c11 = fastrnn_vzero_f()
    cdef fastrnn_vf c20 = fastrnn_vzero_f(), c21 = fastrnn_vzero_f()
    cdef fastrnn_vf c30 = fastrnn_vzero_f(), c31 = fastrnn_vzero_f()
    for k in range(K):
        w0 = fastrnn_vload_f(w)
        w1 = fastrnn_vload_f(w + 8)
        c00 = fastrnn_vfma_f(c00, a[o], w0)
        c01 = fastrnn_vfma_f(c01, a[o], w1)
        c10 = fastrnn_vfma_f(c10, a[o + r1], w0)
        c11 = fastrnn_vfma_f(c11, a[o + r1], w1)
        c20 = fastrnn_vfma_f(c20, a[o + r2], w0)
        c21 = fastrnn_vfma_f(c21, a[o + r2], w1)
        c30 = fastrnn_vfma_f(c30, a[o + r3], w0)
        c31 = fastrnn_vfma_f(c31, a[o + r3], w1)
        w += 16
        o += ka
    cdef float out[64]
    if rows == 4 and width == 16:      # the whole block: straight into c
        fastrnn_vstore_f(c, fastrnn_vadd_f(fastrnn_vload_f(c), c00))
        fastrnn_vstore_f(c + 8, fastrnn_vadd_f(fastrnn_vload_f(c + 8), c01))
        c += ldc
        fastrnn_vstore_f(c, fastrnn_vadd_f(fastrnn_vload_f(c), c10))
        fastrnn_vstore_f(c + 8, fastrnn_vadd_f(fastrnn_vload_f(c + 8), c11))
        c += ldc
        fastrnn_vstore_f(c, fastrnn_vadd_f(fastrnn_vload_f(c), c20))
        fastrnn_vstore_f(c + 8, fastrnn_vadd_f(fastrnn_vload_f(c + 8), c21))
        c += ldc
        fastrnn_vstore_f(c, fastrnn_vadd_f(fastrnn_vload_f(c), c30))
        fastrnn_vstore_f(c + 8, fastrnn_vadd_f(fastrnn_vload_f(c + 8), c31))
    else:                               # an edge: through a buffer
        fastrnn_vstore_f(out, c00)
        fastrnn_vstore_f(out + 8, c01)
        fastrnn_vstore_f(out + 16, c10)
        fastrnn_vstore_f(out + 24, c11)
        fastrnn_vstore_f(out + 32, c20)
        fastrnn_vstore_f(out + 40, c21)
        fastrnn_vstore_f(out + 48, c30)
        fastrnn_vstore_f(out + 56, c31)
        _add_rows(c, ldc, rows, width, out)


cdef inline void _rows4_d(const double* a, Py_ssize_t ra, Py_ssize_t ka,
                          const double* wp, Py_ssize_t K, Py_ssize_t rows,
                          Py_ssize_t width, double* c, Py_ssize_t ldc) noexcept nogil:
    """The block for float64."""
    cdef Py_ssize_t k, o = 0
    cdef Py_ssize_t r1 = min(1, rows - 1) * ra, r2 = min(2, rows - 1) * ra
    cdef Py_ssize_t r3 = min(3, rows - 1) * ra
    cdef const double* w = wp
    cdef fastrnn_vd w0, w1
    cdef fastrnn_vd c00 = fastrnn_vzero_d(), c01 = fastrnn_vzero_d()
    cdef fastrnn_vd c10 = fastrnn_vzero_d(), c11 = fastrnn_vzero_d()
    cdef fastrnn_vd c20 = fastrnn_vzero_d(), c21 = fastrnn_vzero_d()
    cdef fastrnn_vd c30 = fastrnn_vzero_d(), c31 = fastrnn_vzero_d()
    for k in range(K):
        w0 = fastrnn_vload_d(w)
        w1 = fastrnn_vload_d(w + 4)
        c00 = fastrnn_vfma_d(c00, a[o], w0)
        c01 = fastrnn_vfma_d(c01, a[o], w1)
        c10 = fastrnn_vfma_d(c10, a[o + r1], w0)
        c11 = fastrnn_vfma_d(c11, a[o + r1], w1)
        c20 = fastrnn_vfma_d(c20, a[o + r2], w0)
        c21 = fastrnn_vfma_d(c21, a[o + r2], w1)
        c30 = fastrnn_vfma_d(c30, a[o + r3], w0)
        c31 = fastrnn_vfma_d(c31, a[o + r3], w1)
        w += 8
        o += ka
    cdef double out[32]
    if rows == 4 and width == 8:      # the whole block: straight into c
        fastrnn_vstore_d(c, fastrnn_vadd_d(fastrnn_vload_d(c), c00))
        fastrnn_vstore_d(c + 4, fastrnn_vadd_d(fastrnn_vload_d(c + 4), c01))
        c += ldc
        fastrnn_vstore_d(c, fastrnn_vadd_d(fastrnn_vload_d(c), c10))
        fastrnn_vstore_d(c + 4, fastrnn_vadd_d(fastrnn_vload_d(c + 4), c11))
        c += ldc
        fastrnn_vstore_d(c, fastrnn_vadd_d(fastrnn_vload_d(c), c20))
        fastrnn_vstore_d(c + 4, fastrnn_vadd_d(fastrnn_vload_d(c + 4), c21))
        c += ldc
        fastrnn_vstore_d(c, fastrnn_vadd_d(fastrnn_vload_d(c), c30))
        fastrnn_vstore_d(c + 4, fastrnn_vadd_d(fastrnn_vload_d(c + 4), c31))
    else:                               # an edge: through a buffer
        fastrnn_vstore_d(out, c00)
        fastrnn_vstore_d(out + 4, c01)
        fastrnn_vstore_d(out + 8, c10)
        fastrnn_vstore_d(out + 12, c11)
        fastrnn_vstore_d(out + 16, c20)
        fastrnn_vstore_d(out + 20, c21)
        fastrnn_vstore_d(out + 24, c30)
        fastrnn_vstore_d(out + 28, c31)
        _add_rows(c, ldc, rows, width, out)


cdef inline void _rows4(const floating* a, Py_ssize_t ra, Py_ssize_t ka,
                        const floating* wp, Py_ssize_t K,
                        floating* c, Py_ssize_t ldc, Py_ssize_t width,
                        Py_ssize_t rows) noexcept nogil:
    """The register block (see above) for either precision."""
    if floating is float:
        _rows4_f(a, ra, ka, wp, K, rows, width, c, ldc)
    else:
        _rows4_d(a, ra, ka, wp, K, rows, width, c, ldc)


# One row across up to 4 panels: for a single row, the register block above
# would spend 3 of 4 multiply-adds on copies of it. Here the 8 accumulators
# hold 4 panels of the row instead; each element is still one chain of
# multiply-adds in k order, so the results are the same bits.

cdef inline void _row_panels_f(const float* a, Py_ssize_t ka, const float* Wp,
                               Py_ssize_t K, Py_ssize_t N, Py_ssize_t p0,
                               Py_ssize_t n, float* c) noexcept nogil:
    """c[j] += sum over k of a[k * ka] * B[k, j] for the columns of panels
    p0 .. p0 + n - 1 (n from 1 to 4) of B, packed at Wp; float32."""
    cdef Py_ssize_t k, j, q, o = 0
    cdef const float* w0 = Wp + p0 * 16 * K
    cdef const float* w1 = Wp + (p0 + min(1, n - 1)) * 16 * K
    cdef const float* w2 = Wp + (p0 + min(2, n - 1)) * 16 * K
    cdef const float* w3 = Wp + (p0 + min(3, n - 1)) * 16 * K
    cdef float x
    cdef float out[64]
    cdef fastrnn_vf c00 = fastrnn_vzero_f(), c01 = fastrnn_vzero_f()
    cdef fastrnn_vf c10 = fastrnn_vzero_f(), c11 = fastrnn_vzero_f()
    cdef fastrnn_vf c20 = fastrnn_vzero_f(), c21 = fastrnn_vzero_f()
    cdef fastrnn_vf c30 = fastrnn_vzero_f(), c31 = fastrnn_vzero_f()
    for k in range(K):
        x = a[o]
        c00 = fastrnn_vfma_f(c00, x, fastrnn_vload_f(w0))
        c01 = fastrnn_vfma_f(c01, x, fastrnn_vload_f(w0 + 8))
        c10 = fastrnn_vfma_f(c10, x, fastrnn_vload_f(w1))
        c11 = fastrnn_vfma_f(c11, x, fastrnn_vload_f(w1 + 8))
        c20 = fastrnn_vfma_f(c20, x, fastrnn_vload_f(w2))
        c21 = fastrnn_vfma_f(c21, x, fastrnn_vload_f(w2 + 8))
        c30 = fastrnn_vfma_f(c30, x, fastrnn_vload_f(w3))
        c31 = fastrnn_vfma_f(c31, x, fastrnn_vload_f(w3 + 8))
        w0 += 16
        w1 += 16
        w2 += 16
        w3 += 16
        o += ka
    fastrnn_vstore_f(out, c00)
    fastrnn_vstore_f(out + 8, c01)
    fastrnn_vstore_f(out + 16, c10)
    fastrnn_vstore_f(out + 24, c11)
    fastrnn_vstore_f(out + 32, c20)
    fastrnn_vstore_f(out + 40, c21)
    fastrnn_vstore_f(out + 48, c30)
    fastrnn_vstore_f(out + 56, c31)
    for j in range(n):
        q = (p0 + j) * 16
        _add_rows(c + q, 0, 1, min(16, N - q), out + j * 16)


cdef inline void _row_panels_d(const double* a, Py_ssize_t ka, const double* Wp,
                               Py_ssize_t K, Py_ssize_t N, Py_ssize_t p0,
                               Py_ssize_t n, double* c) noexcept nogil:
    """_row_panels_f for float64 (panels of 8 columns)."""
    cdef Py_ssize_t k, j, q, o = 0
    cdef const double* w0 = Wp + p0 * 8 * K
    cdef const double* w1 = Wp + (p0 + min(1, n - 1)) * 8 * K
    cdef const double* w2 = Wp + (p0 + min(2, n - 1)) * 8 * K
    cdef const double* w3 = Wp + (p0 + min(3, n - 1)) * 8 * K
    cdef double x
    cdef double out[32]
    cdef fastrnn_vd c00 = fastrnn_vzero_d(), c01 = fastrnn_vzero_d()
    cdef fastrnn_vd c10 = fastrnn_vzero_d(), c11 = fastrnn_vzero_d()
    cdef fastrnn_vd c20 = fastrnn_vzero_d(), c21 = fastrnn_vzero_d()
    cdef fastrnn_vd c30 = fastrnn_vzero_d(), c31 = fastrnn_vzero_d()
    for k in range(K):
        x = a[o]
        c00 = fastrnn_vfma_d(c00, x, fastrnn_vload_d(w0))
        c01 = fastrnn_vfma_d(c01, x, fastrnn_vload_d(w0 + 4))
        c10 = fastrnn_vfma_d(c10, x, fastrnn_vload_d(w1))
        c11 = fastrnn_vfma_d(c11, x, fastrnn_vload_d(w1 + 4))
        c20 = fastrnn_vfma_d(c20, x, fastrnn_vload_d(w2))
        c21 = fastrnn_vfma_d(c21, x, fastrnn_vload_d(w2 + 4))
        c30 = fastrnn_vfma_d(c30, x, fastrnn_vload_d(w3))
        c31 = fastrnn_vfma_d(c31, x, fastrnn_vload_d(w3 + 4))
        w0 += 8
        w1 += 8
        w2 += 8
        w3 += 8
        o += ka
    fastrnn_vstore_d(out, c00)
    fastrnn_vstore_d(out + 4, c01)
    fastrnn_vstore_d(out + 8, c10)
    fastrnn_vstore_d(out + 12, c11)
    fastrnn_vstore_d(out + 16, c20)
    fastrnn_vstore_d(out + 20, c21)
    fastrnn_vstore_d(out + 24, c30)
    fastrnn_vstore_d(out + 28, c31)
    for j in range(n):
        q = (p0 + j) * 8
        _add_rows(c + q, 0, 1, min(8, N - q), out + j * 8)


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
        if floating is float:
            _row_panels_f(A, ka, Wp, K, N, p, min(4, p1 - p), C)
        else:
            _row_panels_d(A, ka, Wp, K, N, p, min(4, p1 - p), C)
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


# --- The time loops ---
#
# Each step's product runs on W_hh (or W_hh^T) packed once per pass. Threads
# share the work in one of two ways:
# - From SPLIT_BATCH sequences on, each thread takes a group of whole
#   sequences (with integer ids, it also looks up the group's input
#   projection) and runs the whole time loop on it alone: sequences do not
#   depend on each other, so there is no barrier at all, and a group's rows
#   of h (or da) stay in its core's cache. (Against the split by columns below:
#   1.4x faster time loops at B, H = 64, 256 on 2 threads.)
# - With fewer, threads split every step by panels of columns and also apply
#   the activation (or its derivative) to their own columns, so a step needs
#   one barrier, at its end; with a static schedule each thread keeps the
#   same panels, and so the same part of the packed weights in its cache, at
#   every step.
# Either way each element is the same chain of multiply-adds as on one
# thread, so the results are the same bits.

cdef inline Py_ssize_t _group_rows(Py_ssize_t B, int n_threads) noexcept nogil:
    """Sequences per group when the threads split the batch; B (no split)
    on one thread, or below SPLIT_BATCH sequences, where they split each
    step by columns instead. A group is a multiple of 4 rows, whole register
    blocks, and there is one group per thread: each panel of the packed
    weights, once in cache, serves all of a group's rows at every step, so
    smaller groups would read the weights more often (for H = 1024, whose
    weights do not fit in a core's cache, two groups per thread made the
    training step 18% slower)."""
    cdef Py_ssize_t rows
    if n_threads < 2 or B < SPLIT_BATCH:
        return B
    rows = (B + n_threads - 1) // n_threads
    return (rows + 3) // 4 * 4


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
    cdef Py_ssize_t rows = _group_rows(B, n_threads)
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
    cdef Py_ssize_t rows = _group_rows(B, n_threads)
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
    """BPTT. da (B, T, H) is a work buffer; dh0 (B, H) may be NULL; with
    ids, dx is not written (may be NULL)."""
    cdef Py_ssize_t row_stride = T * H
    cdef Py_ssize_t n_rows = B * T
    cdef Py_ssize_t panel = 2 * _lanes(h)
    cdef Py_ssize_t i
    cdef floating* W_hh_T_p
    cdef floating* W_xh_T_p
    cdef floating* tn_work
    # One allocation: W_hh^T (H x H) and, for dense x, W_xh^T (H x D),
    # packed, then the work buffer of the weight-gradient products.
    cdef Py_ssize_t packed_size = H * (_panels(H, h) + (0 if ids != NULL else _panels(D, h))) * panel
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
        _pack(W_xh, 1, H, H, D, W_xh_T_p)       # W_xh^T(k, j) = W_xh[j, k]
    _fill(db, H, <floating>0)
    _fill(dW_hh, H * H, <floating>0)
    # dW_hh = sum over (b, t) of h_{t-1}^T da_t: each row of dA meets its
    # true predecessor (h0 at t = 0) when _tn_tile copies the block, so no
    # pair is ever added and then taken away again (a difference of the
    # largest products, which would cancel catastrophically when the
    # activations grow).
    _weight_grads(x if ids == NULL else NULL, h, h0, da, W_xh_T_p, dx, dW_xh, dW_hh, db,
                  B, T, D, H, tn_work, n_threads)
    PyMem_RawFree(W_hh_T_p)
    return 0


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
        size = _tn_work_size(N, n_threads, &out[0, 0])
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
            _gemm_packed(&a[0, 0], lda, buf, &out[0, 0], N, M, N, K, NULL, n_threads)
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
