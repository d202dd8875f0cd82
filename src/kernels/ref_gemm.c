// ref_gemm.c: the portable kernel, plain C and obviously right. It serves CPUs without a JIT
// target, XSMMWRAP_JIT=0 and every descriptor the generators decline, and it is the arithmetic
// contract the generated kernels must match bit for bit (docs/ARCHITECTURE.md); its C = beta*C
// also serves the route's scale calls (alpha 0, K 0). Calls libm's fma() only where the CPU has
// no FMA instruction.
#include <math.h>

#include "ref.h"

// Rows of one column computed together: the chains of a block are independent, so the loop
// over them vectorizes, while each element keeps its own chain over k in order.
#define ROWS 64

// Invariant (BLAS): beta == 0 overwrites C without reading it, so NaN/Inf in C never leak;
// m == 0 or n == 0 touches nothing (alpha == 0 and k == 0 are xw_ref_scale's).
// Contract: s = +0; s = fma(+-a(i,p), b(p,j), s) for p = 0 .. k-1 (minus for alpha == -1);
// then the epilogue of the scale classes (XW_REF_EPILOGUE, ref.h, EPI here).
// (-ffp-contract=off for the library: no other product may be fused.)
#define XW_REF_GEMM(NAME, T, FMA, ATTR, EPI)                                                      \
    ATTR static void NAME(unsigned ta, unsigned tb, int64_t m, int64_t n, int64_t k, T alpha,    \
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
                EPI(ib, alpha, ac, beta, bc, s, cj + i0);                                        \
            }                                                                                    \
        }                                                                                        \
    }

// Complex (interleaved re, im). Contract: four chains over k in order from +0, on the values
// as stored (conjugation comes after):
//   P = sum ar*br,  Q = sum ai*br,  R = sum ar*bi,  S = sum ai*bi    (s = fma(x, y, s) each)
// then t = op(A)op(B)(i,j), each part one rounding (a minus sign exact):
//   neither conjugated: (P - S, Q + R)      A conjugated (ta C): (P + S, R - Q)
//   B conjugated:       (P + S, Q - R)      both:                (P - S, -(Q + R))
// then u = alpha*t: t, -t, or (fma(tr, ar, -(ti*ai)), fma(ti, ar, tr*ai)) for alpha other
// (ar, ai its parts); then C = u, u + c, u - c, or u + beta*c with beta*c formed like alpha*t,
// for beta 0, 1, -1, other. (In registers: acc1 = A*br is (P, Q), acc2 = A*bi is (R, S); t
// comes from acc1 and acc2 with its lanes swapped.)
#define XW_REF_ZGEMM(NAME, T, FMA, ATTR)                                                          \
    ATTR static void NAME(unsigned ta, unsigned tb, int64_t m, int64_t n, int64_t k,             \
                          const T *alpha, const T *a, int64_t lda, const T *b, int64_t ldb,      \
                          const T *beta, T *c, int64_t ldc, unsigned ac, unsigned bc)            \
    {                                                                                            \
        const bool ca = ta == XW_TRANS_C, cb = tb == XW_TRANS_C;                                 \
        for (int64_t j = 0; j < n; j++) {                                                        \
            T *cj = c + 2 * j * ldc;                                                             \
            for (int64_t i0 = 0; i0 < m; i0 += ROWS) {                                           \
                const int64_t ib = m - i0 < ROWS ? m - i0 : ROWS;                                \
                T P[ROWS], Q[ROWS], R[ROWS], S[ROWS];                                            \
                for (int64_t i = 0; i < ib; i++)                                                 \
                    P[i] = Q[i] = R[i] = S[i] = (T)0;                                            \
                for (int64_t p = 0; p < k; p++) {                                                \
                    const T *bp = b + 2 * (tb ? j + p * ldb : p + j * ldb);                      \
                    const T br = bp[0], bi = bp[1];                                              \
                    for (int64_t i = 0; i < ib; i++) {                                           \
                        const T *ap = a + 2 * (ta ? p + (i0 + i) * lda : i0 + i + p * lda);      \
                        P[i] = FMA(ap[0], br, P[i]);                                             \
                        Q[i] = FMA(ap[1], br, Q[i]);                                             \
                        R[i] = FMA(ap[0], bi, R[i]);                                             \
                        S[i] = FMA(ap[1], bi, S[i]);                                             \
                    }                                                                            \
                }                                                                                \
                T *ci = cj + 2 * i0;                                                             \
                for (int64_t i = 0; i < ib; i++) {                                               \
                    const T tr = ca == cb ? P[i] - S[i] : P[i] + S[i];                           \
                    const T ti = !ca && !cb ? Q[i] + R[i] : ca && !cb ? R[i] - Q[i]              \
                               : !ca ? Q[i] - R[i] : -(Q[i] + R[i]);                             \
                    T ur = tr, ui = ti;                                                          \
                    if (ac == XW_SCALE_MINUS_ONE) {                                              \
                        ur = -tr;                                                                \
                        ui = -ti;                                                                \
                    } else if (ac == XW_SCALE_ANY) {                                             \
                        ur = FMA(tr, alpha[0], -(ti * alpha[1]));                                \
                        ui = FMA(ti, alpha[0], tr * alpha[1]);                                   \
                    }                                                                            \
                    T *cc = ci + 2 * i;                                                          \
                    switch (bc) {                                                                \
                    case XW_SCALE_ZERO: cc[0] = ur; cc[1] = ui; break;                           \
                    case XW_SCALE_ONE: cc[0] = ur + cc[0]; cc[1] = ui + cc[1]; break;            \
                    case XW_SCALE_MINUS_ONE: cc[0] = ur - cc[0]; cc[1] = ui - cc[1]; break;      \
                    default: {                                                                   \
                        const T vr = FMA(cc[0], beta[0], -(cc[1] * beta[1]));                    \
                        const T vi = FMA(cc[1], beta[0], cc[0] * beta[1]);                       \
                        cc[0] = ur + vr;                                                         \
                        cc[1] = ui + vi;                                                         \
                    }                                                                            \
                    }                                                                            \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }

// Each with the FMA instruction and with libm's fma() (ref.h).
XW_REF_EPILOGUE(epi_d_fma, double, __builtin_fma, XW_FMA_ATTR)
XW_REF_EPILOGUE(epi_s_fma, float, __builtin_fmaf, XW_FMA_ATTR)
XW_REF_EPILOGUE(epi_d_libm, double, fma, )
XW_REF_EPILOGUE(epi_s_libm, float, fmaf, )
XW_REF_GEMM(ref_dgemm_fma, double, __builtin_fma, XW_FMA_ATTR, epi_d_fma)
XW_REF_GEMM(ref_sgemm_fma, float, __builtin_fmaf, XW_FMA_ATTR, epi_s_fma)
XW_REF_GEMM(ref_dgemm_libm, double, fma, , epi_d_libm)
XW_REF_GEMM(ref_sgemm_libm, float, fmaf, , epi_s_libm)
XW_REF_ZGEMM(ref_zgemm_fma, double, __builtin_fma, XW_FMA_ATTR)
XW_REF_ZGEMM(ref_cgemm_fma, float, __builtin_fmaf, XW_FMA_ATTR)
XW_REF_ZGEMM(ref_zgemm_libm, double, fma, )
XW_REF_ZGEMM(ref_cgemm_libm, float, fmaf, )

bool xw_ref_has_fma(void)
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

// Complex: beta 0 and 1 as above; any other beta times c as the contract forms beta*c (the
// complex epilogue above).
#define XW_REF_ZSCALE(NAME, T, FMA)                                                                \
    static void NAME(int64_t m, int64_t n, const T *beta, T *c, int64_t ldc, unsigned bc)          \
    {                                                                                              \
        if (bc == XW_SCALE_ONE || m == 0)                                                          \
            return;                                                                                \
        for (int64_t j = 0; j < n; j++) {                                                          \
            T *cj = c + 2 * j * ldc;                                                               \
            for (int64_t i = 0; i < 2 * m; i += 2) {                                               \
                if (bc == XW_SCALE_ZERO) {                                                         \
                    cj[i] = cj[i + 1] = (T)0;                                                      \
                } else {                                                                           \
                    const T vr = FMA(cj[i], beta[0], -(cj[i + 1] * beta[1]));                      \
                    const T vi = FMA(cj[i + 1], beta[0], cj[i] * beta[1]);                         \
                    cj[i] = vr;                                                                    \
                    cj[i + 1] = vi;                                                                \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

XW_REF_ZSCALE(ref_zscale, double, fma)
XW_REF_ZSCALE(ref_cscale, float, fmaf)

void xw_ref_scale(xw_prec prec, int64_t m, int64_t n, const void *beta, void *c, int64_t ldc)
{
    switch (prec) {
    case XW_F64: ref_dscale(m, n, *(const double *)beta, c, ldc); break;
    case XW_F32: ref_sscale(m, n, *(const float *)beta, c, ldc); break;
    case XW_C64: ref_zscale(m, n, beta, c, ldc, xw_scale_class(prec, beta)); break;
    case XW_C32: ref_cscale(m, n, beta, c, ldc, xw_scale_class(prec, beta)); break;
    }
}

void xw_ref_gemm(xw_prec prec, unsigned ta, unsigned tb, int64_t m, int64_t n, int64_t k,
                 const void *alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
                 const void *beta, void *c, int64_t ldc)
{
    const unsigned ac = xw_scale_class(prec, alpha), bc = xw_scale_class(prec, beta);
    if (ac == XW_SCALE_ZERO || k == 0) {
        xw_ref_scale(prec, m, n, beta, c, ldc);
        return;
    }
    const bool f = xw_ref_has_fma();
    switch (prec) {
    case XW_F64: {
        const double al = *(const double *)alpha, be = *(const double *)beta;
        (f ? ref_dgemm_fma : ref_dgemm_libm)(ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc, ac, bc);
        break;
    }
    case XW_F32: {
        const float al = *(const float *)alpha, be = *(const float *)beta;
        (f ? ref_sgemm_fma : ref_sgemm_libm)(ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc, ac, bc);
        break;
    }
    case XW_C64: (f ? ref_zgemm_fma : ref_zgemm_libm)(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ac, bc); break;
    case XW_C32: (f ? ref_cgemm_fma : ref_cgemm_libm)(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ac, bc); break;
    }
}

void xw_ref_kernel(const void *a, const void *b, void *c, const void *alpha, const void *beta,
                   const xw_desc *d)
{
    if (d->ta == XW_TRANS_DOT) {
        xw_ref_dot((xw_prec)d->prec, d->m, d->k, alpha, a, d->lda, b, d->ldb, beta, c, d->ldc);
        return;
    }
    xw_ref_gemm((xw_prec)d->prec, d->ta, d->tb, d->m, d->n, d->k, alpha, a, d->lda, b, d->ldb,
                beta, c, d->ldc);
}
