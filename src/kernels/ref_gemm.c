// ref_gemm.c: the portable kernel, plain C and obviously right. It serves CPUs without a JIT
// target, XSMMWRAP_JIT=0 and every descriptor the generators decline. Calls nothing.
#include "kernels.h"

// Invariant (BLAS): beta == 0 overwrites C without reading it, so NaN/Inf in C never leak;
// alpha == 0 (or k == 0) reads neither A nor B; m == 0 or n == 0 touches nothing.
#define XW_REF_GEMM(NAME, T)                                                                       \
    static void NAME(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T *a,      \
                     int64_t lda, const T *b, int64_t ldb, T beta, T *c, int64_t ldc)             \
    {                                                                                              \
        for (int64_t j = 0; j < n; j++) {                                                          \
            T *cj = c + j * ldc;                                                                   \
            if (beta == (T)0)                                                                      \
                for (int64_t i = 0; i < m; i++)                                                    \
                    cj[i] = (T)0;                                                                  \
            else if (beta != (T)1)                                                                 \
                for (int64_t i = 0; i < m; i++)                                                    \
                    cj[i] *= beta;                                                                 \
            if (alpha == (T)0)                                                                     \
                continue;                                                                          \
            for (int64_t p = 0; p < k; p++) {                                                      \
                const T bpj = alpha * (tb ? b[j + p * ldb] : b[p + j * ldb]);                      \
                if (!ta) {                                                                         \
                    const T *ap = a + p * lda;                                                     \
                    for (int64_t i = 0; i < m; i++)                                                \
                        cj[i] += ap[i] * bpj;                                                      \
                } else {                                                                           \
                    for (int64_t i = 0; i < m; i++)                                                \
                        cj[i] += a[p + i * lda] * bpj;                                             \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

XW_REF_GEMM(ref_dgemm, double)
XW_REF_GEMM(ref_sgemm, float)

void xw_ref_gemm(xw_prec prec, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                 const void *alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
                 const void *beta, void *c, int64_t ldc)
{
    if (prec == XW_F64)
        ref_dgemm(ta, tb, m, n, k, *(const double *)alpha, a, lda, b, ldb, *(const double *)beta,
                  c, ldc);
    else
        ref_sgemm(ta, tb, m, n, k, *(const float *)alpha, a, lda, b, ldb, *(const float *)beta,
                  c, ldc);
}

void xw_ref_kernel(const void *a, const void *b, void *c, const void *alpha, const void *beta,
                   const xw_desc *d)
{
    xw_ref_gemm((xw_prec)d->prec, d->ta, d->tb, d->m, d->n, d->k, alpha, a, d->lda, b, d->ldb,
                beta, c, d->ldc);
}

// C = beta*C, the whole of a GEMM with alpha == 0 or k == 0, as reference BLAS does it: beta
// == 0 (either sign) stores +0.0 without reading C, beta == 1 neither reads nor writes it, any
// other beta is one multiply per element (so -1 flips the sign of a zero, and NaN stays NaN).
// m == 0 returns before any pointer arithmetic: C may then be a null pointer.
#define XW_REF_SCALE(NAME, T)                                                                      \
    static void NAME(int64_t m, int64_t n, T beta, T *c, int64_t ldc)                              \
    {                                                                                              \
        if (beta == (T)1 || m == 0)                                                                \
            return;                                                                                \
        for (int64_t j = 0; j < n; j++) {                                                          \
            T *cj = c + j * ldc;                                                                   \
            if (beta == (T)0)                                                                      \
                for (int64_t i = 0; i < m; i++)                                                    \
                    cj[i] = (T)0;                                                                  \
            else                                                                                   \
                for (int64_t i = 0; i < m; i++)                                                    \
                    cj[i] *= beta;                                                                 \
        }                                                                                          \
    }

XW_REF_SCALE(ref_dscale, double)
XW_REF_SCALE(ref_sscale, float)

void xw_ref_scale(xw_prec prec, int64_t m, int64_t n, const void *beta, void *c, int64_t ldc)
{
    if (prec == XW_F64)
        ref_dscale(m, n, *(const double *)beta, c, ldc);
    else
        ref_sscale(m, n, *(const float *)beta, c, ldc);
}
