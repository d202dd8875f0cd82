// ref_gemm.c: the portable kernel, plain C and obviously right. It serves CPUs without a JIT
// target, XSMMWRAP_JIT=0 and every descriptor the generators decline, and it is the arithmetic
// contract the generated kernels must match bit for bit (docs/ARCHITECTURE.md); its C = beta*C
// also serves the route's scale calls (alpha 0, K 0). Calls libm's fma() only where the CPU has
// no FMA instruction.
#include <math.h>

#include "kernels.h"

// Rows of one column computed together: the chains of a block are independent, so the loop
// over them vectorizes, while each element keeps its own chain over k in order.
#define ROWS 64

// Invariant (BLAS): beta == 0 overwrites C without reading it, so NaN/Inf in C never leak;
// m == 0 or n == 0 touches nothing (alpha == 0 and k == 0 are xw_ref_scale's).
// Contract: s = +0; s = fma(+-a(i,p), b(p,j), s) for p = 0 .. k-1 (minus for alpha == -1);
// then the epilogue of the scale class:
//   alpha +-1:  s | s + c | s - c | fma(beta, c, s)                 for beta 0 | 1 | -1 | other
//   alpha other: alpha*s | fma(alpha, s, c) | fma(alpha, s, -c) | fma(alpha, s, beta*c)
// (-ffp-contract=off for the library: no other product may be fused.)
#define XW_REF_GEMM(NAME, T, FMA, ATTR)                                                           \
    ATTR static void NAME(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha,            \
                          const T *a, int64_t lda, const T *b, int64_t ldb, T beta, T *c,        \
                          int64_t ldc, unsigned ac, unsigned bc)                                 \
    {                                                                                            \
        for (int64_t j = 0; j < n; j++) {                                                        \
            T *cj = c + j * ldc;                                                                 \
            for (int64_t i0 = 0; i0 < m; i0 += ROWS) {                                           \
                const int64_t ib = m - i0 < ROWS ? m - i0 : ROWS;                                \
                T s[ROWS];                                                                       \
                for (int64_t i = 0; i < ib; i++)                                                 \
                    s[i] = (T)0;                                                                 \
                for (int64_t p = 0; p < k; p++) {                                                \
                    T bpj = tb ? b[j + p * ldb] : b[p + j * ldb];                                \
                    if (ac == XW_SCALE_MINUS_ONE)                                                \
                        bpj = -bpj;  /* fma(a, -b, s) is fma(-a, b, s): exact */                 \
                    if (!ta) {                                                                   \
                        const T *ap = a + p * lda + i0;                                          \
                        for (int64_t i = 0; i < ib; i++)                                         \
                            s[i] = FMA(ap[i], bpj, s[i]);                                        \
                    } else {                                                                     \
                        for (int64_t i = 0; i < ib; i++)                                         \
                            s[i] = FMA(a[p + (i0 + i) * lda], bpj, s[i]);                        \
                    }                                                                            \
                }                                                                                \
                T *ci = cj + i0;                                                                 \
                const bool any = ac == XW_SCALE_ANY;                                             \
                for (int64_t i = 0; i < ib; i++) {                                               \
                    switch (bc) {                                                                \
                    case XW_SCALE_ZERO: ci[i] = any ? alpha * s[i] : s[i]; break;                \
                    case XW_SCALE_ONE: ci[i] = any ? FMA(alpha, s[i], ci[i]) : s[i] + ci[i]; break; \
                    case XW_SCALE_MINUS_ONE:                                                     \
                        ci[i] = any ? FMA(alpha, s[i], -ci[i]) : s[i] - ci[i];                   \
                        break;                                                                   \
                    default:                                                                     \
                        ci[i] = any ? FMA(alpha, s[i], beta * ci[i]) : FMA(beta, ci[i], s[i]);   \
                    }                                                                            \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }

// With the FMA instruction (every CPU with a JIT target has it) the chains vectorize; without
// it libm's fma() gives the same correctly rounded results, slowly.
#define FMA_ATTR __attribute__((target("fma")))
XW_REF_GEMM(ref_dgemm_fma, double, __builtin_fma, FMA_ATTR)
XW_REF_GEMM(ref_sgemm_fma, float, __builtin_fmaf, FMA_ATTR)
XW_REF_GEMM(ref_dgemm_libm, double, fma, )
XW_REF_GEMM(ref_sgemm_libm, float, fmaf, )

static bool has_fma(void)
{
    static _Atomic int known;  // 0 unknown, 1 no, 2 yes: a benign race, every thread finds the same
    int v = known;
    if (!v)
        known = v = xw_cpu_detect() != XW_TARGET_GENERIC ? 2 : 1;  // AVX2 and FMA, OS-enabled
    return v == 2;
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

void xw_ref_gemm(xw_prec prec, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                 const void *alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
                 const void *beta, void *c, int64_t ldc)
{
    const unsigned ac = xw_scale_class(prec, alpha), bc = xw_scale_class(prec, beta);
    if (ac == XW_SCALE_ZERO || k == 0) {
        xw_ref_scale(prec, m, n, beta, c, ldc);
        return;
    }
    if (prec == XW_F64) {
        const double al = *(const double *)alpha, be = *(const double *)beta;
        (has_fma() ? ref_dgemm_fma : ref_dgemm_libm)(ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc, ac, bc);
    } else {
        const float al = *(const float *)alpha, be = *(const float *)beta;
        (has_fma() ? ref_sgemm_fma : ref_sgemm_libm)(ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc, ac, bc);
    }
}

void xw_ref_kernel(const void *a, const void *b, void *c, const void *alpha, const void *beta,
                   const xw_desc *d)
{
    xw_ref_gemm((xw_prec)d->prec, d->ta, d->tb, d->m, d->n, d->k, alpha, a, d->lda, b, d->ldb,
                beta, c, d->ldc);
}
