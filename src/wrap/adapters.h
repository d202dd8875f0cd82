// adapters.h: the two adapter templates behind every exported GEMM name. Each describes its
// call for the route; when the route declines, the original BLAS gets the caller's own
// arguments untouched (so its error handler answers invalid ones exactly).
// ORIG(name) is an expression giving the original's address as xw_fn.
#ifndef XW_ADAPTERS_H
#define XW_ADAPTERS_H

#include "route_fast.h"

// Every adapter is a hit path (this thread's last kernel serves the call: a tail jump into it)
// and a miss path: a function of the same signature, out of line so that the hit path carries
// none of its work, which tries the thread's recent calls, then runs the full route and, when
// it declines, the original. Real and complex names share both: T is the element type
// (double, float, xw_c64, xw_c32), alpha and beta reach kernels by pointer either way.

// The hidden string lengths gfortran passes are accepted and passed on. The original's type,
// xw_f77_<name>_fn, is declared in wrap.h.
#define XW_DEFINE_F77(EXPORT, name, PREC, T, I, ORIG)                                            \
    __attribute__((noinline)) static void xw_miss_##EXPORT(                                      \
        const char *ta, const char *tb, const I *m, const I *n, const I *k, const T *alpha,      \
        const T *a, const I *lda, const T *b, const I *ldb, const T *beta, T *c, const I *ldc,   \
        size_t lta, size_t ltb)                                                                  \
    {                                                                                            \
        xw_call_key key;                                                                         \
        const bool keyed = xw_key_f77(&key, XW_SYM_##name, sizeof(I), *ta, *tb, *m, *n, *k,      \
                                      *lda, *ldb, *ldc, XW_KEY_SCALAR(*alpha),                   \
                                      XW_KEY_SCALAR(*beta));                                     \
        if (keyed && xw_route_recent(&key)) {                                                    \
            const xw_kernel *kn = xw_last.kernel;                                                \
            kn->fn(a, b, c, alpha, beta, &kn->desc);                                             \
            return;                                                                              \
        }                                                                                        \
        const xw_gemm_args g = { PREC, *ta, *tb, *m, *n, *k, alpha, a, *lda, b, *ldb,            \
                                 beta, c, *ldc, XW_SYM_##name, false };                          \
        if (!xw_route_slow(&g, keyed ? &key : NULL))                                             \
            ((xw_f77_##name##_fn *)ORIG(name))(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c,  \
                                               ldc, lta, ltb);                                   \
    }                                                                                            \
    XW_EXPORT void EXPORT(const char *ta, const char *tb, const I *m, const I *n, const I *k,     \
                          const T *alpha, const T *a, const I *lda, const T *b, const I *ldb,    \
                          const T *beta, T *c, const I *ldc, size_t lta, size_t ltb)             \
    {                                                                                            \
        xw_call_key key;                                                                         \
        if (XW_LIKELY(xw_key_f77(&key, XW_SYM_##name, sizeof(I), *ta, *tb, *m, *n, *k, *lda,     \
                                 *ldb, *ldc, XW_KEY_SCALAR(*alpha), XW_KEY_SCALAR(*beta)) &&     \
                      xw_route_hit(&key))) {                                                     \
            const xw_kernel *kn = xw_last.kernel;                                                \
            kn->fn(a, b, c, alpha, beta, &kn->desc);                                             \
            return;                                                                              \
        }                                                                                        \
        xw_miss_##EXPORT(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, lta, ltb);        \
    }

// CBLAS layouts (cblas.h values).
enum { XW_CBLAS_ROW_MAJOR = 101, XW_CBLAS_COL_MAJOR = 102 };

static inline char xw_cblas_trans(int t)
{
    return t == 111 ? 'N' : t == 112 ? 'T' : t == 113 ? 'C' : '?';  // '?' fails validation
}

// Row-major C = op(A)op(B) is column-major C' = op(B)'op(A)': swap the operands, their
// transposes and leading dimensions, and M with N. A transpose keeps its kind: with X' the
// column-major view of a row-major X, op(X)' is X', X'^T or X'^H for X, X^T or X^H, so a
// conjugate transpose stays one. An unknown layout becomes an invalid call.
static inline xw_gemm_args xw_cblas_args(xw_prec prec, xw_sym sym, int order, int ta, int tb,
                                         int64_t m, int64_t n, int64_t k, const void *alpha,
                                         const void *a, int64_t lda, const void *b, int64_t ldb,
                                         const void *beta, void *c, int64_t ldc)
{
    if (order == XW_CBLAS_ROW_MAJOR)
        return (xw_gemm_args){ prec, xw_cblas_trans(tb), xw_cblas_trans(ta), n, m, k, alpha,
                               b, ldb, a, lda, beta, c, ldc, sym, false };
    const char bad = order == XW_CBLAS_COL_MAJOR ? 0 : '?';
    return (xw_gemm_args){ prec, bad ? bad : xw_cblas_trans(ta), xw_cblas_trans(tb), m, n, k,
                           alpha, a, lda, b, ldb, beta, c, ldc, sym, false };
}

// CBLAS passes real alpha and beta by value, and a kernel takes pointers. A kernel whose scale
// classes are baked in gets pointers to constants of the same value, so no local's address
// escapes and the jump stays a tail jump; a kernel that reads them at call time is called
// through xw_run_f64/xw_run_f32. Complex ones come by pointer and go on as they came.
// xw_cblas_run_<T> runs kernel kn on them; xw_cblas_ptr_<T> the address of its scalars.
__attribute__((always_inline)) static inline void
xw_cblas_run_double(const xw_kernel *kn, const void *x, const void *y, void *c, double alpha,
                    double beta)
{
    const unsigned ac = kn->desc.alpha, bc = kn->desc.beta;
    if (XW_LIKELY(ac != XW_SCALE_ANY && bc != XW_SCALE_ANY))
        kn->fn(x, y, c, &xw_scale_f64[ac], &xw_scale_f64[bc], &kn->desc);
    else
        xw_run_f64(kn, x, y, c, alpha, beta);
}
__attribute__((always_inline)) static inline void
xw_cblas_run_float(const xw_kernel *kn, const void *x, const void *y, void *c, float alpha,
                   float beta)
{
    const unsigned ac = kn->desc.alpha, bc = kn->desc.beta;
    if (XW_LIKELY(ac != XW_SCALE_ANY && bc != XW_SCALE_ANY))
        kn->fn(x, y, c, &xw_scale_f32[ac], &xw_scale_f32[bc], &kn->desc);
    else
        xw_run_f32(kn, x, y, c, alpha, beta);
}
__attribute__((always_inline)) static inline void
xw_cblas_run_xw_c64(const xw_kernel *kn, const void *x, const void *y, void *c,
                    const xw_c64 *alpha, const xw_c64 *beta)
{
    kn->fn(x, y, c, alpha, beta, &kn->desc);
}
__attribute__((always_inline)) static inline void
xw_cblas_run_xw_c32(const xw_kernel *kn, const void *x, const void *y, void *c,
                    const xw_c32 *alpha, const xw_c32 *beta)
{
    kn->fn(x, y, c, alpha, beta, &kn->desc);
}
static inline const void *xw_cblas_ptr_double(const double *s) { return s; }
static inline const void *xw_cblas_ptr_float(const float *s) { return s; }
static inline const void *xw_cblas_ptr_xw_c64(const xw_c64 *const *s) { return *s; }
static inline const void *xw_cblas_ptr_xw_c32(const xw_c32 *const *s) { return *s; }

// XW_CBLAS_RUN_LAST runs xw_last.kernel on the adapter's arguments (row-major: A and B swapped).
// The original's type, xw_cblas_<name>_fn, is in wrap.h.
#define XW_CBLAS_RUN_LAST(T)                                                                     \
    do {                                                                                         \
        const bool row = order == XW_CBLAS_ROW_MAJOR;                                            \
        xw_cblas_run_##T(xw_last.kernel, row ? b : a, row ? a : b, c, alpha, beta);              \
    } while (0)
#define XW_DEFINE_CBLAS(EXPORT, name, PREC, T, I, ORIG)                                          \
    __attribute__((noinline)) static void xw_miss_##EXPORT(                                      \
        int order, int ta, int tb, I m, I n, I k, XW_CBLAS_SCALAR(T) alpha, const T *a, I lda,   \
        const T *b, I ldb, XW_CBLAS_SCALAR(T) beta, T *c, I ldc)                                 \
    {                                                                                            \
        xw_call_key key;                                                                         \
        const bool keyed = xw_key_cblas(&key, XW_SYM_##name, sizeof(I), order, ta, tb, m, n, k,  \
                                        lda, ldb, ldc, XW_KEY_SCALAR(alpha),                     \
                                        XW_KEY_SCALAR(beta));                                    \
        if (keyed && xw_route_recent(&key)) {                                                    \
            XW_CBLAS_RUN_LAST(T);                                                                \
            return;                                                                              \
        }                                                                                        \
        const xw_gemm_args g = xw_cblas_args(PREC, XW_SYM_##name, order, ta, tb, m, n, k,        \
                                             xw_cblas_ptr_##T(&alpha), a, lda, b, ldb,           \
                                             xw_cblas_ptr_##T(&beta), c, ldc);                   \
        if (!xw_route_slow(&g, keyed ? &key : NULL))                                             \
            ((xw_cblas_##name##_fn *)ORIG(name))(order, ta, tb, m, n, k, alpha, a, lda, b, ldb,  \
                                                 beta, c, ldc);                                  \
    }                                                                                            \
    XW_EXPORT void EXPORT(int order, int ta, int tb, I m, I n, I k, XW_CBLAS_SCALAR(T) alpha,    \
                          const T *a, I lda, const T *b, I ldb, XW_CBLAS_SCALAR(T) beta, T *c,   \
                          I ldc)                                                                 \
    {                                                                                            \
        xw_call_key key;                                                                         \
        if (XW_LIKELY(xw_key_cblas(&key, XW_SYM_##name, sizeof(I), order, ta, tb, m, n, k, lda,  \
                                   ldb, ldc, XW_KEY_SCALAR(alpha), XW_KEY_SCALAR(beta)) &&       \
                      xw_route_hit(&key))) {                                                     \
            XW_CBLAS_RUN_LAST(T);                                                                \
            return;                                                                              \
        }                                                                                        \
        xw_miss_##EXPORT(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);           \
    }

#endif
