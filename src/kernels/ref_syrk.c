// ref_syrk.c: SYRK's triangle from a kernel's square: the arithmetic contract's epilogue in C
// over one triangle of C (the other never touched), and C = beta*C on one triangle. Calls
// ref_gemm.c's C = beta*C and its FMA check.
#include <math.h>

#include "ref.h"

// S holds s, the contract's chain of each element of op(A)op(A)^T, as a kernel with alpha class
// 1 (-1 for alpha -1: the chain of negated products) and beta 0 left it. ref_gemm.c's epilogue
// (ref.h) over each column of the triangle makes each element the GEMM contract's with
// op(B) = op(A)^T.
#define XW_REF_SYRK_EPILOGUE(NAME, T, FMA, ATTR)                                                   \
    XW_REF_EPILOGUE(NAME##_column, T, FMA, ATTR)                                                   \
    ATTR static void NAME(bool upper, int64_t n, T alpha, unsigned ac, T beta, unsigned bc,        \
                          const T *s, int64_t lds, T *c, int64_t ldc)                              \
    {                                                                                              \
        for (int64_t j = 0; j < n; j++) {                                                          \
            const int64_t i0 = upper ? 0 : j, i1 = upper ? j + 1 : n;                              \
            NAME##_column(i1 - i0, alpha, ac, beta, bc, s + j * lds + i0, c + j * ldc + i0);       \
        }                                                                                          \
    }

XW_REF_SYRK_EPILOGUE(dsyrk_fma, double, __builtin_fma, XW_FMA_ATTR)
XW_REF_SYRK_EPILOGUE(ssyrk_fma, float, __builtin_fmaf, XW_FMA_ATTR)
XW_REF_SYRK_EPILOGUE(dsyrk_libm, double, fma, )
XW_REF_SYRK_EPILOGUE(ssyrk_libm, float, fmaf, )

void xw_ref_syrk_epilogue(xw_prec prec, bool upper, int64_t n, const void *alpha,
                          const void *beta, const void *s, int64_t lds, void *c, int64_t ldc)
{
    const unsigned ac = xw_scale_class(prec, alpha), bc = xw_scale_class(prec, beta);
    const bool f = xw_ref_has_fma();
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
