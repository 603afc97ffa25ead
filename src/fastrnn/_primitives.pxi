# fastrnn kernels, part 1 of 4 (included by _kernels.pxi): the primitives.
# The branch-free tanh, the activations and their derivatives on a row, the
# 32-byte vector types of the products, and the OpenMP helpers (barrier,
# thread limits, team size).

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
    /* Vectors of FASTRNN_VECTOR_BYTES bytes (32: 8 floats or 4 doubles; 64
     * in the AVX-512 build, which defines it) for the register blocks of
     * the products. With GCC and Clang they are vector-extension types,
     * which stay in registers (zmm with AVX-512, ymm with AVX2, xmm pairs on
     * the baseline build; acc + a * w becomes an FMA where the target has
     * one); elsewhere plain arrays. One type per precision: a single type
     * reinterpreted by each operation costs GCC extra register copies in
     * the hot loop. Each element of a product is the same chain of
     * multiply-adds whatever the width, so every width gives the same bits. */
    #include <string.h>
    #ifndef FASTRNN_VECTOR_BYTES
    #define FASTRNN_VECTOR_BYTES 32
    #endif
    enum {
        FASTRNN_LANES_F = FASTRNN_VECTOR_BYTES / 4,    /* floats per vector */
        FASTRNN_LANES_D = FASTRNN_VECTOR_BYTES / 8     /* doubles per vector */
    };
    #if (defined(__GNUC__) || defined(__clang__)) && !defined(FASTRNN_PORTABLE_VECTORS)
    typedef float fastrnn_vf __attribute__((vector_size(FASTRNN_VECTOR_BYTES)));
    typedef double fastrnn_vd __attribute__((vector_size(FASTRNN_VECTOR_BYTES)));
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
    typedef struct { float v[FASTRNN_LANES_F]; } fastrnn_vf;
    typedef struct { double v[FASTRNN_LANES_D]; } fastrnn_vd;
    static inline fastrnn_vf fastrnn_vzero_f(void) {
        fastrnn_vf z; memset(&z, 0, sizeof z); return z;
    }
    static inline fastrnn_vd fastrnn_vzero_d(void) {
        fastrnn_vd z; memset(&z, 0, sizeof z); return z;
    }
    /* Where the target has FMA, the multiply-add is fmaf/fma, one rounding,
     * as the vector extensions' acc + a * w compiles: whether GCC contracts
     * a plain acc += a * w in these loops depends on how it inlines and
     * vectorizes each copy, and products that must give the same bits
     * (a single row, or a row in a block of 4) then differed. */
    #if defined(__FMA__)
    #include <math.h>
    #define FASTRNN_MULADD_F(acc, a, w) fmaf((a), (w), (acc))
    #define FASTRNN_MULADD_D(acc, a, w) fma((a), (w), (acc))
    #else
    #define FASTRNN_MULADD_F(acc, a, w) ((acc) + (a) * (w))
    #define FASTRNN_MULADD_D(acc, a, w) ((acc) + (a) * (w))
    #endif
    static inline fastrnn_vf fastrnn_vfma_f(fastrnn_vf acc, float a, fastrnn_vf w) {
        int i;
        for (i = 0; i < FASTRNN_LANES_F; i++) acc.v[i] = FASTRNN_MULADD_F(acc.v[i], a, w.v[i]);
        return acc;
    }
    static inline fastrnn_vd fastrnn_vfma_d(fastrnn_vd acc, double a, fastrnn_vd w) {
        int i;
        for (i = 0; i < FASTRNN_LANES_D; i++) acc.v[i] = FASTRNN_MULADD_D(acc.v[i], a, w.v[i]);
        return acc;
    }
    static inline fastrnn_vf fastrnn_vadd_f(fastrnn_vf x, fastrnn_vf y) {
        int i; for (i = 0; i < FASTRNN_LANES_F; i++) x.v[i] += y.v[i]; return x;
    }
    static inline fastrnn_vd fastrnn_vadd_d(fastrnn_vd x, fastrnn_vd y) {
        int i; for (i = 0; i < FASTRNN_LANES_D; i++) x.v[i] += y.v[i]; return x;
    }
    #endif
    /* Unaligned vector loads and stores. */
    static inline fastrnn_vf fastrnn_vload_f(const float* p) {
        fastrnn_vf v; memcpy(&v, p, sizeof v); return v;
    }
    static inline fastrnn_vd fastrnn_vload_d(const double* p) {
        fastrnn_vd v; memcpy(&v, p, sizeof v); return v;
    }
    static inline void fastrnn_vstore_f(float* p, fastrnn_vf v) { memcpy(p, &v, sizeof v); }
    static inline void fastrnn_vstore_d(double* p, fastrnn_vd v) { memcpy(p, &v, sizeof v); }
    /* The first n (0 < n < lanes) elements at p in a vector, the other lanes
     * 0, reading nothing past p + n: a masked load with AVX-512 or AVX2
     * (the lanes left out are not read, so they cannot fault), else
     * element by element. */
    #if !defined(FASTRNN_PORTABLE_VECTORS) && defined(__GNUC__) \
        && defined(__AVX512F__) && FASTRNN_VECTOR_BYTES == 64
    #include <immintrin.h>
    static inline fastrnn_vf fastrnn_vload_part_f(const float* p, Py_ssize_t n) {
        __m512 v = _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
        fastrnn_vf r; memcpy(&r, &v, sizeof r); return r;
    }
    static inline fastrnn_vd fastrnn_vload_part_d(const double* p, Py_ssize_t n) {
        __m512d v = _mm512_maskz_loadu_pd((__mmask8)((1u << n) - 1u), p);
        fastrnn_vd r; memcpy(&r, &v, sizeof r); return r;
    }
    #elif !defined(FASTRNN_PORTABLE_VECTORS) && defined(__GNUC__) \
        && defined(__AVX2__) && FASTRNN_VECTOR_BYTES == 32
    #include <immintrin.h>
    static inline fastrnn_vf fastrnn_vload_part_f(const float* p, Py_ssize_t n) {
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 v = _mm256_maskload_ps(p, mask);
        fastrnn_vf r; memcpy(&r, &v, sizeof r); return r;
    }
    static inline fastrnn_vd fastrnn_vload_part_d(const double* p, Py_ssize_t n) {
        __m256i mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)n),
                                          _mm256_setr_epi64x(0, 1, 2, 3));
        __m256d v = _mm256_maskload_pd(p, mask);
        fastrnn_vd r; memcpy(&r, &v, sizeof r); return r;
    }
    #else
    static inline fastrnn_vf fastrnn_vload_part_f(const float* p, Py_ssize_t n) {
        float t[FASTRNN_LANES_F] = {0};
        Py_ssize_t i;
        for (i = 0; i < n; i++) t[i] = p[i];
        return fastrnn_vload_f(t);
    }
    static inline fastrnn_vd fastrnn_vload_part_d(const double* p, Py_ssize_t n) {
        double t[FASTRNN_LANES_D] = {0};
        Py_ssize_t i;
        for (i = 0; i < n; i++) t[i] = p[i];
        return fastrnn_vload_d(t);
    }
    #endif
    """
    enum:
        FASTRNN_VECTOR_BYTES
        FASTRNN_LANES_F
        FASTRNN_LANES_D
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
    fastrnn_vf fastrnn_vload_part_f(const float* p, Py_ssize_t n) noexcept nogil
    fastrnn_vd fastrnn_vload_part_d(const double* p, Py_ssize_t n) noexcept nogil


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
