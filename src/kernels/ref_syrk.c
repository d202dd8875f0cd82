// ref_syrk.c: SYRK's triangle from a kernel's square: the arithmetic contract's epilogue in C
// over one triangle of C (the other never touched), and C = beta*C on one triangle. Calls
// ref_gemm.c's C = beta*C and the CPU detection below it.
#include <math.h>

#include "kernels.h"

// S holds s, the contract's chain of each element of op(A)op(A)^T, as a kernel with alpha class
// 1 (-1 for alpha -1: the chain of negated products) and beta 0 left it. The epilogue is
// ref_gemm.c's, by the classes of alpha and beta:
//   alpha +-1:  s | s + c | s - c | fma(beta, c, s)                 for beta 0 | 1 | -1 | other
//   alpha other: alpha*s | fma(alpha, s, c) | fma(alpha, s, -c) | fma(alpha, s, beta*c)
// so that each element of the triangle is the GEMM contract's with op(B) = op(A)^T.
// One loop over the triangle per scale-class pair (the class tests outside it, so that it
// vectorizes); E is the element's epilogue of s = sj[i] and c = cj[i].
#define XW_TRI_LOOP(T, E)                                                                             \
    for (int64_t j = 0; j < n; j++) {                                                              \
        const int64_t i0 = upper ? 0 : j, i1 = upper ? j + 1 : n;                                  \
        const T *sj = s + j * lds;                                                                 \
        T *cj = c + j * ldc;                                                                       \
        for (int64_t i = i0; i < i1; i++)                                                          \
            cj[i] = (E);                                                                           \
    }
#define XW_REF_SYRK_EPILOGUE(NAME, T, FMA, ATTR)                                                   \
    ATTR static void NAME(bool upper, int64_t n, T alpha, unsigned ac, T beta, unsigned bc,        \
                          const T *s, int64_t lds, T *c, int64_t ldc)                              \
    {                                                                                              \
        const bool any = ac == XW_SCALE_ANY;                                                       \
        switch (bc) {                                                                              \
        case XW_SCALE_ZERO:                                                                        \
            if (any)                                                                               \
                XW_TRI_LOOP(T, alpha * sj[i]) else XW_TRI_LOOP(T, sj[i]) break;                          \
        case XW_SCALE_ONE:                                                                         \
            if (any)                                                                               \
                XW_TRI_LOOP(T, FMA(alpha, sj[i], cj[i])) else XW_TRI_LOOP(T, sj[i] + cj[i]) break;       \
        case XW_SCALE_MINUS_ONE:                                                                   \
            if (any)                                                                               \
                XW_TRI_LOOP(T, FMA(alpha, sj[i], -cj[i])) else XW_TRI_LOOP(T, sj[i] - cj[i]) break;      \
        default:                                                                                   \
            if (any)                                                                               \
                XW_TRI_LOOP(T, FMA(alpha, sj[i], beta * cj[i]))                                       \
            else                                                                                   \
                XW_TRI_LOOP(T, FMA(beta, cj[i], sj[i]))                                               \
        }                                                                                          \
    }

#define FMA_ATTR __attribute__((target("fma")))
XW_REF_SYRK_EPILOGUE(dsyrk_fma, double, __builtin_fma, FMA_ATTR)
XW_REF_SYRK_EPILOGUE(ssyrk_fma, float, __builtin_fmaf, FMA_ATTR)
XW_REF_SYRK_EPILOGUE(dsyrk_libm, double, fma, )
XW_REF_SYRK_EPILOGUE(ssyrk_libm, float, fmaf, )

static bool has_fma(void)
{
    static _Atomic int known;  // 0 unknown, 1 no, 2 yes: a benign race, every thread finds the same
    int v = known;
    if (!v)
        known = v = xw_cpu_detect() != XW_TARGET_GENERIC ? 2 : 1;
    return v == 2;
}

void xw_ref_syrk_epilogue(xw_prec prec, bool upper, int64_t n, const void *alpha,
                          const void *beta, const void *s, int64_t lds, void *c, int64_t ldc)
{
    const unsigned ac = xw_scale_class(prec, alpha), bc = xw_scale_class(prec, beta);
    const bool f = has_fma();
    if (prec == XW_F64)
        (f ? dsyrk_fma : dsyrk_libm)(upper, n, *(const double *)alpha, ac, *(const double *)beta,
                                     bc, s, lds, c, ldc);
    else if (prec == XW_F32)
        (f ? ssyrk_fma : ssyrk_libm)(upper, n, *(const float *)alpha, ac, *(const float *)beta,
                                     bc, s, lds, c, ldc);
}

void xw_ref_scale_tri(xw_prec prec, bool upper, int64_t n, const void *beta, void *c, int64_t ldc)
{
    const size_t es = xw_prec_part_bytes(prec) * (xw_prec_complex(prec) ? 2 : 1);
    for (int64_t j = 0; j < n; j++) {
        const int64_t i0 = upper ? 0 : j, len = upper ? j + 1 : n - j;
        xw_ref_scale(prec, len, 1, beta, (char *)c + (size_t)(i0 + j * ldc) * es, ldc);
    }
}
