// adapters.h: the two adapter templates behind every exported GEMM name. Each fills one
// xw_gemm_args and calls the route; when the route declines, the original BLAS gets the
// caller's own arguments untouched (so its error handler answers invalid ones exactly).
// ORIG(name) is an expression giving the original's address as xw_fn.
#ifndef XW_ADAPTERS_H
#define XW_ADAPTERS_H

#include "route_fast.h"

// The hidden string lengths gfortran passes are accepted and passed on.
// The original's type; declared once per name before XW_DEFINE_F77 uses it.
#define XW_F77_TYPE(name, PREC, T, I)                                                            \
    typedef void xw_f77_##name##_fn(const char *, const char *, const I *, const I *, const I *, \
                                    const T *, const T *, const I *, const T *, const I *,       \
                                    const T *, T *, const I *, size_t, size_t);
#define XW_DEFINE_F77(EXPORT, name, PREC, T, I, ORIG)                                            \
    XW_EXPORT void EXPORT(const char *ta, const char *tb, const I *m, const I *n, const I *k,     \
                          const T *alpha, const T *a, const I *lda, const T *b, const I *ldb,    \
                          const T *beta, T *c, const I *ldc, size_t lta, size_t ltb)             \
    {                                                                                            \
        const xw_gemm_args g = { PREC, *ta, *tb, *m, *n, *k, alpha, a, *lda, b, *ldb,            \
                                 beta, c, *ldc, XW_SYM_##name };                                 \
        if (!xw_route(&g))                                                                  \
            ((xw_f77_##name##_fn *)ORIG(name))(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c,  \
                                               ldc, lta, ltb);                                   \
    }

// CBLAS layouts and transposes (cblas.h values).
enum { XW_CBLAS_ROW_MAJOR = 101, XW_CBLAS_COL_MAJOR = 102 };

static inline char xw_cblas_trans(int t)
{
    return t == 111 ? 'N' : t == 112 ? 'T' : t == 113 ? 'C' : '?';  // '?' fails validation
}

// Row-major C = op(A)op(B) is column-major C' = op(B)'op(A)': swap the operands, their
// transposes and leading dimensions, and M with N. An unknown layout becomes an invalid call.
static inline xw_gemm_args xw_cblas_args(xw_prec prec, xw_sym sym, int order, int ta, int tb,
                                         int64_t m, int64_t n, int64_t k, const void *alpha,
                                         const void *a, int64_t lda, const void *b, int64_t ldb,
                                         const void *beta, void *c, int64_t ldc)
{
    if (order == XW_CBLAS_ROW_MAJOR)
        return (xw_gemm_args){ prec, xw_cblas_trans(tb), xw_cblas_trans(ta), n, m, k, alpha,
                               b, ldb, a, lda, beta, c, ldc, sym };
    const char bad = order == XW_CBLAS_COL_MAJOR ? 0 : '?';
    return (xw_gemm_args){ prec, bad ? bad : xw_cblas_trans(ta), xw_cblas_trans(tb), m, n, k,
                           alpha, a, lda, b, ldb, beta, c, ldc, sym };
}

#define XW_CBLAS_TYPE(name, PREC, T, I)                                                          \
    typedef void xw_cblas_##name##_fn(int, int, int, I, I, I, T, const T *, I, const T *, I, T,  \
                                      T *, I);
#define XW_DEFINE_CBLAS(EXPORT, name, PREC, T, I, ORIG)                                          \
    XW_EXPORT void EXPORT(int order, int ta, int tb, I m, I n, I k, T alpha, const T *a, I lda,  \
                          const T *b, I ldb, T beta, T *c, I ldc)                                \
    {                                                                                            \
        const xw_gemm_args g = xw_cblas_args(PREC, XW_SYM_##name, order, ta, tb, m, n, k,        \
                                             &alpha, a, lda, b, ldb, &beta, c, ldc);             \
        if (!xw_route(&g))                                                                  \
            ((xw_cblas_##name##_fn *)ORIG(name))(order, ta, tb, m, n, k, alpha, a, lda, b, ldb,  \
                                                 beta, c, ldc);                                  \
    }

#endif
