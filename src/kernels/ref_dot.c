// ref_dot.c: the dot form's arithmetic contract (GEMV T: y = alpha*A^T x + beta*y), plain C.
// GEMM's contract gives each element one chain over k; A^T's elements of one k step lie lda
// apart, so a kernel keeping it must transpose A, and loses to a dot product past 16 x 16.
// Here an element is a sum over the contiguous column of A instead, in the lanes of one 64-byte
// vector: what AVX-512 does with one zmm and AVX2 with two ymm, bit for bit, whatever m, lda,
// the increments or the target. Calls ref_gemm.c's FMA check.
#include <math.h>

#include "ref.h"

#define ROWS 64

// Contract, for y(i) with L = 64 / sizeof(T) lanes:
//   s_l = +0; s_l = fma(+-a(p, i), x(p), s_l) for p = l, l + L, l + 2L, ... < k in order
//         (minus for alpha == -1);
//   h = L/2, L/4, ..., 1: s_l = s_l + s_(l+h) for l < h; the sum is s_0;
// then the epilogue of the scale classes (ref.h) with y(i) as c. No lane sum is ever -0 (each
// starts at +0 and rounds to nearest), so a kernel may leave out the products of lanes past k.
#define XW_REF_DOT(NAME, T, FMA, ATTR, EPI)                                                        \
    XW_REF_EPILOGUE(EPI, T, FMA, ATTR)                                                             \
    ATTR static void NAME(int64_t m, int64_t k, T alpha, const T *a, int64_t lda, const T *x,      \
                          int64_t incx, T beta, T *y, int64_t incy, unsigned ac, unsigned bc)      \
    {                                                                                              \
        enum { L = 64 / sizeof(T) };                                                               \
        for (int64_t i0 = 0; i0 < m; i0 += ROWS) {                                                 \
            const int64_t ib = m - i0 < ROWS ? m - i0 : ROWS;                                      \
            T s[ROWS], t[ROWS];                                                                    \
            for (int64_t i = 0; i < ib; i++) {                                                     \
                const T *ai = a + (i0 + i) * lda;                                                  \
                T lane[L];                                                                         \
                for (int l = 0; l < L; l++)                                                        \
                    lane[l] = (T)0;                                                                \
                for (int64_t p = 0; p < k; p++) {                                                  \
                    const T xp = ac == XW_SCALE_MINUS_ONE ? -x[p * incx] : x[p * incx];            \
                    lane[p % L] = FMA(ai[p], xp, lane[p % L]);                                     \
                }                                                                                  \
                for (int h = L / 2; h >= 1; h /= 2)                                                \
                    for (int l = 0; l < h; l++)                                                    \
                        lane[l] = lane[l] + lane[l + h];                                           \
                s[i] = lane[0];                                                                    \
                t[i] = bc == XW_SCALE_ZERO ? (T)0 : y[(i0 + i) * incy];                            \
            }                                                                                      \
            EPI(ib, alpha, ac, beta, bc, s, t);                                                    \
            for (int64_t i = 0; i < ib; i++)                                                       \
                y[(i0 + i) * incy] = t[i];                                                         \
        }                                                                                          \
    }

XW_REF_DOT(ref_ddot_fma, double, __builtin_fma, XW_FMA_ATTR, epi_d_fma)
XW_REF_DOT(ref_sdot_fma, float, __builtin_fmaf, XW_FMA_ATTR, epi_s_fma)
XW_REF_DOT(ref_ddot_libm, double, fma, , epi_d_libm)
XW_REF_DOT(ref_sdot_libm, float, fmaf, , epi_s_libm)

void xw_ref_dot(xw_prec prec, int64_t m, int64_t k, const void *alpha, const void *a, int64_t lda,
                const void *x, int64_t incx, const void *beta, void *y, int64_t incy)
{
    const unsigned ac = xw_scale_class(prec, alpha), bc = xw_scale_class(prec, beta);
    const bool f = xw_ref_has_fma();
    if (prec == XW_F64) {
        const double al = *(const double *)alpha, be = *(const double *)beta;
        (f ? ref_ddot_fma : ref_ddot_libm)(m, k, al, a, lda, x, incx, be, y, incy, ac, bc);
    } else {
        const float al = *(const float *)alpha, be = *(const float *)beta;
        (f ? ref_sdot_fma : ref_sdot_libm)(m, k, al, a, lda, x, incx, be, y, incy, ac, bc);
    }
}
