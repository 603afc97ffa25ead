# Row-major wrappers around SciPy's Fortran BLAS (build-time only; not shipped).
#
# SciPy's cython_blas is column-major and checks nothing. A row-major product
# C = op(A) @ op(B) is the column-major product C^T = op(B)^T @ op(A)^T, so each
# wrapper swaps the operands and keeps the transpose flags: callers never
# transpose. Callers check shapes; these wrappers only guard the degenerate
# sizes Fortran BLAS rejects (a zero dimension, a leading dimension of 0).

from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm

# The one integer type of every BLAS argument. SciPy < 1.18 exports only the
# LP64 (`int`) interface; with SciPy >= 1.18 this can become its `blas_int`.
ctypedef int blas_int


cdef inline void gemm(bint trans_a, bint trans_b,
                      Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      floating alpha, const floating* a, Py_ssize_t lda,
                      const floating* b, Py_ssize_t ldb,
                      floating beta, floating* c, Py_ssize_t ldc) noexcept nogil:
    """C (m x n, row stride ldc) = alpha * op(A) @ op(B) + beta * C, row-major."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef blas_int bm = <blas_int>m, bn = <blas_int>n, bk = <blas_int>k
    cdef blas_int blda = <blas_int>lda, bldb = <blas_int>ldb, bldc = <blas_int>ldc
    cdef Py_ssize_t i, j
    if m <= 0 or n <= 0:
        return
    if k <= 0:
        # op(A) @ op(B) is zero: only the beta * C part remains.
        for i in range(m):
            for j in range(n):
                c[i * ldc + j] = 0 if beta == 0 else beta * c[i * ldc + j]
        return
    if floating is float:
        sgemm(&tb, &ta, &bn, &bm, &bk, &alpha, <float*>b, &bldb,
              <float*>a, &blda, &beta, c, &bldc)
    else:
        dgemm(&tb, &ta, &bn, &bm, &bk, &alpha, <double*>b, &bldb,
              <double*>a, &blda, &beta, c, &bldc)
