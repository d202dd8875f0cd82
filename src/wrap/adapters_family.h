// adapters_family.h: the adapter templates of GEMV, SYRK and the batches, beside the GEMM ones
// of adapters.h. Each describes its call for route_family.c, which serves it as GEMM calls
// through the one decision of route.c; when the route declines, the original gets the
// caller's own arguments untouched. ORIG(name) is an expression giving the original as xw_fn.
#ifndef XW_ADAPTERS_FAMILY_H
#define XW_ADAPTERS_FAMILY_H

#include "adapters.h"

// GEMV has a hit path as GEMM does (a matrix-vector product is a few nanoseconds of work):
// its kernel is the dot form's (real, transposed) or the GEMM kernel of y = op(A)x when incy
// is 1, taking A, x, y; else the GEMM kernel of y^T = x^T op(A)^T, taking x, A, y
// (route_family.c). The transpose and incy are part of the key, so equal keys agree.
static inline bool xw_gemv_a_first(const xw_kernel *kn, int64_t incy)
{
    return incy == 1 || kn->desc.ta == XW_TRANS_DOT;
}
#define XW_DEFINE_GEMV_F77(EXPORT, name, PREC, T, I, ORIG)                                       \
    __attribute__((noinline)) static void xw_miss_##EXPORT(                                      \
        const char *tr, const I *m, const I *n, const T *alpha, const T *a, const I *lda,        \
        const T *x, const I *incx, const T *beta, T *y, const I *incy, size_t ltr)               \
    {                                                                                            \
        xw_call_key key;                                                                         \
        const bool keyed = xw_key_f77(&key, XW_SYM_##name, sizeof(I), *tr, 0, *m, *n, 0, *lda,   \
                                      *incx, *incy, XW_KEY_SCALAR(*alpha), XW_KEY_SCALAR(*beta));            \
        if (keyed && xw_route_recent(&key)) {                                                    \
            const xw_kernel *kn = xw_last.kernel;                                                \
            const bool af = xw_gemv_a_first(kn, *incy);                                          \
            kn->fn(af ? (const void *)a : x, af ? (const void *)x : a, y, alpha, beta, &kn->desc); \
            return;                                                                              \
        }                                                                                        \
        const xw_gemv_args v = { PREC, *tr, *m, *n, alpha, a, *lda, x, *incx, beta, y, *incy,    \
                                 XW_SYM_##name };                                                \
        if (!xw_route_gemv(&v, keyed ? &key : NULL))                                             \
            ((xw_f77_##name##_fn *)ORIG(name))(tr, m, n, alpha, a, lda, x, incx, beta, y, incy,  \
                                               ltr);                                             \
    }                                                                                            \
    XW_EXPORT void EXPORT(const char *tr, const I *m, const I *n, const T *alpha, const T *a,    \
                          const I *lda, const T *x, const I *incx, const T *beta, T *y,          \
                          const I *incy, size_t ltr)                                             \
    {                                                                                            \
        xw_call_key key;                                                                         \
        if (XW_LIKELY(xw_key_f77(&key, XW_SYM_##name, sizeof(I), *tr, 0, *m, *n, 0, *lda, *incx, \
                                 *incy, XW_KEY_SCALAR(*alpha), XW_KEY_SCALAR(*beta)) &&                      \
                      xw_route_hit(&key))) {                                                     \
            const xw_kernel *kn = xw_last.kernel;                                                \
            if (xw_gemv_a_first(kn, *incy))                                                      \
                kn->fn(a, x, y, alpha, beta, &kn->desc);                                         \
            else                                                                                 \
                kn->fn(x, a, y, alpha, beta, &kn->desc);                                         \
            return;                                                                              \
        }                                                                                        \
        xw_miss_##EXPORT(tr, m, n, alpha, a, lda, x, incx, beta, y, incy, ltr);                  \
    }

// Row-major y = op(A)x is column-major y = op(A^T)x: m and n swapped, the transpose flipped.
// An unknown layout or transpose becomes an invalid call.
static inline xw_gemv_args xw_cblas_gemv_args(xw_prec prec, xw_sym sym, int order, int trans,
                                              int64_t m, int64_t n, const void *alpha,
                                              const void *a, int64_t lda, const void *x,
                                              int64_t incx, const void *beta, void *y,
                                              int64_t incy)
{
    const char t = xw_cblas_trans(trans);
    if (order == XW_CBLAS_ROW_MAJOR)
        return (xw_gemv_args){ prec, t == '?' ? '?' : t == 'N' ? 'T' : 'N', n, m, alpha, a, lda,
                               x, incx, beta, y, incy, sym };
    return (xw_gemv_args){ prec, order == XW_CBLAS_COL_MAJOR ? t : '?', m, n, alpha, a, lda, x,
                           incx, beta, y, incy, sym };
}

// As XW_CBLAS_RUN_LAST: xw_last.kernel on the adapter's GEMV arguments.
#define XW_CBLAS_GEMV_RUN_LAST(T)                                                                \
    xw_cblas_run_##T(xw_last.kernel,                                                             \
                     xw_gemv_a_first(xw_last.kernel, incy) ? (const void *)a : (const void *)x,  \
                     xw_gemv_a_first(xw_last.kernel, incy) ? (const void *)x : (const void *)a,  \
                     y, alpha, beta)
#define XW_DEFINE_GEMV_CBLAS(EXPORT, name, PREC, T, I, ORIG)                                     \
    __attribute__((noinline)) static void xw_miss_##EXPORT(int order, int tr, I m, I n, T alpha, \
                                                           const T *a, I lda, const T *x,        \
                                                           I incx, T beta, T *y, I incy)         \
    {                                                                                            \
        xw_call_key key;                                                                         \
        const bool keyed = xw_key_cblas(&key, XW_SYM_##name, sizeof(I), order, tr, 0, m, n, 0,   \
                                        lda, incx, incy, XW_KEY_SCALAR(alpha), XW_KEY_SCALAR(beta));         \
        if (keyed && xw_route_recent(&key)) {                                                    \
            XW_CBLAS_GEMV_RUN_LAST(T);                                                           \
            return;                                                                              \
        }                                                                                        \
        const xw_gemv_args v = xw_cblas_gemv_args(PREC, XW_SYM_##name, order, tr, m, n, &alpha,  \
                                                  a, lda, x, incx, &beta, y, incy);              \
        if (!xw_route_gemv(&v, keyed ? &key : NULL))                                             \
            ((xw_cblas_##name##_fn *)ORIG(name))(order, tr, m, n, alpha, a, lda, x, incx, beta,  \
                                                 y, incy);                                       \
    }                                                                                            \
    XW_EXPORT void EXPORT(int order, int tr, I m, I n, T alpha, const T *a, I lda, const T *x,   \
                          I incx, T beta, T *y, I incy)                                          \
    {                                                                                            \
        xw_call_key key;                                                                         \
        if (XW_LIKELY(xw_key_cblas(&key, XW_SYM_##name, sizeof(I), order, tr, 0, m, n, 0, lda,   \
                                   incx, incy, XW_KEY_SCALAR(alpha), XW_KEY_SCALAR(beta)) &&                 \
                      xw_route_hit(&key))) {                                                     \
            XW_CBLAS_GEMV_RUN_LAST(T);                                                           \
            return;                                                                              \
        }                                                                                        \
        xw_miss_##EXPORT(order, tr, m, n, alpha, a, lda, x, incx, beta, y, incy);                \
    }

// SYRK: the route checks the thread's last and recent calls itself (a SYRK call runs its
// kernel into scratch and an epilogue after it, out of line either way).
#define XW_DEFINE_SYRK_F77(EXPORT, name, PREC, T, I, ORIG)                                       \
    XW_EXPORT void EXPORT(const char *uplo, const char *tr, const I *n, const I *k,              \
                          const T *alpha, const T *a, const I *lda, const T *beta, T *c,         \
                          const I *ldc, size_t lu, size_t lt)                                    \
    {                                                                                            \
        xw_call_key key;                                                                         \
        const bool keyed = xw_key_f77(&key, XW_SYM_##name, sizeof(I), *uplo, *tr, *n, 0, *k,     \
                                      *lda, 0, *ldc, XW_KEY_SCALAR(*alpha), XW_KEY_SCALAR(*beta));           \
        const xw_syrk_args s = { PREC, *uplo, *tr, *n, *k, alpha, a, *lda, beta, c, *ldc,        \
                                 XW_SYM_##name };                                                \
        if (!xw_route_syrk(&s, keyed ? &key : NULL))                                             \
            ((xw_f77_##name##_fn *)ORIG(name))(uplo, tr, n, k, alpha, a, lda, beta, c, ldc, lu,  \
                                               lt);                                              \
    }

// CBLAS uplo values (cblas.h).
enum { XW_CBLAS_UPPER = 121, XW_CBLAS_LOWER = 122 };

// Row-major C is column-major C^T, and (op(A)op(A)^T)^T is itself: the triangle and the
// transpose flip.
static inline xw_syrk_args xw_cblas_syrk_args(xw_prec prec, xw_sym sym, int order, int uplo,
                                              int trans, int64_t n, int64_t k, const void *alpha,
                                              const void *a, int64_t lda, const void *beta,
                                              void *c, int64_t ldc)
{
    const bool row = order == XW_CBLAS_ROW_MAJOR;
    const char t = xw_cblas_trans(trans);
    char u = uplo == XW_CBLAS_UPPER ? 'U' : uplo == XW_CBLAS_LOWER ? 'L' : '?';
    char tt = t;
    if (row && u != '?')
        u = u == 'U' ? 'L' : 'U';
    if (row && t != '?')
        tt = t == 'N' ? 'T' : 'N';
    if (!row && order != XW_CBLAS_COL_MAJOR)
        u = '?';
    return (xw_syrk_args){ prec, u, tt, n, k, alpha, a, lda, beta, c, ldc, sym };
}

#define XW_DEFINE_SYRK_CBLAS(EXPORT, name, PREC, T, I, ORIG)                                     \
    XW_EXPORT void EXPORT(int order, int uplo, int tr, I n, I k, T alpha, const T *a, I lda,     \
                          T beta, T *c, I ldc)                                                   \
    {                                                                                            \
        xw_call_key key;                                                                         \
        const bool keyed = xw_key_cblas(&key, XW_SYM_##name, sizeof(I), order, tr, uplo, n, 0, k, \
                                        lda, 0, ldc, XW_KEY_SCALAR(alpha), XW_KEY_SCALAR(beta));             \
        const xw_syrk_args s = xw_cblas_syrk_args(PREC, XW_SYM_##name, order, uplo, tr, n, k,    \
                                                  &alpha, a, lda, &beta, c, ldc);                \
        if (!xw_route_syrk(&s, keyed ? &key : NULL))                                             \
            ((xw_cblas_##name##_fn *)ORIG(name))(order, uplo, tr, n, k, alpha, a, lda, beta, c,  \
                                                 ldc);                                           \
    }

// Strided batch: one group, so either the route serves it all or the original gets it all.
#define XW_DEFINE_STRIDED_F77(EXPORT, name, PREC, T, I, ORIG)                                    \
    XW_EXPORT void EXPORT(const char *ta, const char *tb, const I *m, const I *n, const I *k,    \
                          const T *alpha, const T *a, const I *lda, const I *sa, const T *b,     \
                          const I *ldb, const I *sb, const T *beta, T *c, const I *ldc,          \
                          const I *sc, const I *count, size_t lta, size_t ltb)                   \
    {                                                                                            \
        const xw_strided_args s = { { PREC, *ta, *tb, *m, *n, *k, alpha, a, *lda, b, *ldb, beta, \
                                      c, *ldc, XW_SYM_##name, false },                           \
                                    *sa, *sb, *sc, *count };                                     \
        if (!xw_route_strided(&s))                                                               \
            ((xw_f77_##name##_fn *)ORIG(name))(ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb,   \
                                               beta, c, ldc, sc, count, lta, ltb);               \
    }

// Row-major: as for GEMM, A and B swap places, with their strides.
#define XW_DEFINE_STRIDED_CBLAS(EXPORT, name, PREC, T, I, ORIG)                                  \
    XW_EXPORT void EXPORT(int order, int ta, int tb, I m, I n, I k, T alpha, const T *a, I lda,  \
                          I sa, const T *b, I ldb, I sb, T beta, T *c, I ldc, I sc, I count)     \
    {                                                                                            \
        const bool row = order == XW_CBLAS_ROW_MAJOR;                                            \
        const xw_strided_args s = { xw_cblas_args(PREC, XW_SYM_##name, order, ta, tb, m, n, k,   \
                                                  &alpha, a, lda, b, ldb, &beta, c, ldc),        \
                                    row ? sb : sa, row ? sa : sb, sc, count };                   \
        if (!xw_route_strided(&s))                                                               \
            ((xw_cblas_##name##_fn *)ORIG(name))(order, ta, tb, m, n, k, alpha, a, lda, sa, b,   \
                                                 ldb, sb, beta, c, ldc, sc, count);              \
    }

// Grouped batch: the route serves group by group and gives each group it declines to the
// original as a batch of that one group (xw_fwd_: the caller's arrays from that group on,
// group count 1); a call it declines whole (invalid, disabled) goes to the original as it came.
#define XW_DEFINE_BATCH_F77(EXPORT, name, PREC, T, I, ORIG)                                      \
    static void xw_fwd_##EXPORT(const xw_batch_args *v, int64_t g, int64_t first)                \
    {                                                                                            \
        const I one = 1;                                                                         \
        ((xw_f77_##name##_fn *)ORIG(name))(                                                      \
            (const char *)v->ta + g, (const char *)v->tb + g, (const I *)v->m + g,               \
            (const I *)v->n + g, (const I *)v->k + g, (const T *)v->alpha + g,                   \
            (const T *const *)v->a + first, (const I *)v->lda + g,                               \
            (const T *const *)v->b + first, (const I *)v->ldb + g, (const T *)v->beta + g,       \
            (T *const *)v->c + first, (const I *)v->ldc + g, &one, (const I *)v->size + g, 1,    \
            1);                                                                                  \
    }                                                                                            \
    XW_EXPORT void EXPORT(const char *ta, const char *tb, const I *m, const I *n, const I *k,    \
                          const T *alpha, const T *const *a, const I *lda, const T *const *b,    \
                          const I *ldb, const T *beta, T *const *c, const I *ldc,                \
                          const I *groups, const I *size, size_t lta, size_t ltb)                \
    {                                                                                            \
        const xw_batch_args v = { PREC, false, 0, sizeof(I), ta, tb, m, n, k, lda, ldb, ldc,     \
                                  size, alpha, beta, (const void *const *)a,                     \
                                  (const void *const *)b, (void *const *)c, *groups,             \
                                  XW_SYM_##name, xw_fwd_##EXPORT };                              \
        if (!xw_route_batch(&v))                                                                 \
            ((xw_f77_##name##_fn *)ORIG(name))(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c,  \
                                               ldc, groups, size, lta, ltb);                     \
    }

#define XW_DEFINE_BATCH_CBLAS(EXPORT, name, PREC, T, I, ORIG)                                    \
    static void xw_fwd_##EXPORT(const xw_batch_args *v, int64_t g, int64_t first)                \
    {                                                                                            \
        ((xw_cblas_##name##_fn *)ORIG(name))(                                                    \
            v->order, (const int *)v->ta + g, (const int *)v->tb + g, (const I *)v->m + g,       \
            (const I *)v->n + g, (const I *)v->k + g, (const T *)v->alpha + g,                   \
            (const T *const *)v->a + first, (const I *)v->lda + g,                               \
            (const T *const *)v->b + first, (const I *)v->ldb + g, (const T *)v->beta + g,       \
            (T *const *)v->c + first, (const I *)v->ldc + g, 1, (const I *)v->size + g);         \
    }                                                                                            \
    XW_EXPORT void EXPORT(int order, const int *ta, const int *tb, const I *m, const I *n,       \
                          const I *k, const T *alpha, const T *const *a, const I *lda,           \
                          const T *const *b, const I *ldb, const T *beta, T *const *c,           \
                          const I *ldc, I groups, const I *size)                                 \
    {                                                                                            \
        const xw_batch_args v = { PREC, true, order, sizeof(I), ta, tb, m, n, k, lda, ldb, ldc,  \
                                  size, alpha, beta, (const void *const *)a,                     \
                                  (const void *const *)b, (void *const *)c, groups,              \
                                  XW_SYM_##name, xw_fwd_##EXPORT };                              \
        if (!xw_route_batch(&v))                                                                 \
            ((xw_cblas_##name##_fn *)ORIG(name))(order, ta, tb, m, n, k, alpha, a, lda, b, ldb,  \
                                                 beta, c, ldc, groups, size);                    \
    }

// Every row of entry_list.h as an adapter, in the list's order: the two files that define entry
// points (libxsmm_wrap.c: the .so's names; static_wrap.c: the archive's __wrap_ names) each
// define XW_ADAPTER(KIND, TYPE, name, PREC, T, I) and expand XW_ALL_ADAPTERS once. KIND names
// the XW_DEFINE_<KIND> template, TYPE the form of the original's type (xw_<TYPE>_<name>_fn).
#define XW_ADAPT_F77(name, PREC, T, I) XW_ADAPTER(F77, f77, name, PREC, T, I)
#define XW_ADAPT_CBLAS(name, PREC, T, I) XW_ADAPTER(CBLAS, cblas, name, PREC, T, I)
#define XW_ADAPT_GEMV_F77(name, PREC, T, I) XW_ADAPTER(GEMV_F77, f77, name, PREC, T, I)
#define XW_ADAPT_GEMV_CBLAS(name, PREC, T, I) XW_ADAPTER(GEMV_CBLAS, cblas, name, PREC, T, I)
#define XW_ADAPT_SYRK_F77(name, PREC, T, I) XW_ADAPTER(SYRK_F77, f77, name, PREC, T, I)
#define XW_ADAPT_SYRK_CBLAS(name, PREC, T, I) XW_ADAPTER(SYRK_CBLAS, cblas, name, PREC, T, I)
#define XW_ADAPT_BATCH_F77(name, PREC, T, I) XW_ADAPTER(BATCH_F77, f77, name, PREC, T, I)
#define XW_ADAPT_BATCH_CBLAS(name, PREC, T, I) XW_ADAPTER(BATCH_CBLAS, cblas, name, PREC, T, I)
#define XW_ADAPT_STRIDED_F77(name, PREC, T, I) XW_ADAPTER(STRIDED_F77, f77, name, PREC, T, I)
#define XW_ADAPT_STRIDED_CBLAS(name, PREC, T, I) XW_ADAPTER(STRIDED_CBLAS, cblas, name, PREC, T, I)
#define XW_ALL_ADAPTERS                                                                          \
    XW_F77_ENTRIES(XW_ADAPT_F77)                                                                 \
    XW_CBLAS_ENTRIES(XW_ADAPT_CBLAS)                                                             \
    XW_GEMV_F77_ENTRIES(XW_ADAPT_GEMV_F77)                                                       \
    XW_GEMV_CBLAS_ENTRIES(XW_ADAPT_GEMV_CBLAS)                                                   \
    XW_SYRK_F77_ENTRIES(XW_ADAPT_SYRK_F77)                                                       \
    XW_SYRK_CBLAS_ENTRIES(XW_ADAPT_SYRK_CBLAS)                                                   \
    XW_BATCH_F77_ENTRIES(XW_ADAPT_BATCH_F77)                                                     \
    XW_BATCH_CBLAS_ENTRIES(XW_ADAPT_BATCH_CBLAS)                                                 \
    XW_STRIDED_F77_ENTRIES(XW_ADAPT_STRIDED_F77)                                                 \
    XW_STRIDED_CBLAS_ENTRIES(XW_ADAPT_STRIDED_CBLAS)

#endif
