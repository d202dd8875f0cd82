// entry_list.h: the only place that lists the exported names (GEMM, GEMV, SYRK, batches). Each
// row expands into a thin adapter (XW_ALL_ADAPTERS: libxsmm_wrap.c, static_wrap.c), a symbol id
// and a name for the statistics; tools/entry_names.py reads the rows for the linker's version
// script, the archive's members and the tests (so keep their shape: X(name, ...) rows, and
// XW_FORMS_F77/XW_FORMS_CBLAS(X, base, ...) rows in `#define XW_..._ENTRIES(X)` lists).
// X(name, precision, element type, integer type). Complex elements are xw_c64 and xw_c32
// (wrap.h): (re, im) pairs, as BLAS stores them. Every complex name numpy 2.4 and scipy 1.17
// import (scipy_cblas_[zc]gemm64_, scipy_[zc]gemm_) or their bundled OpenBLAS builds export
// (scipy_[zc]gemm_64_, scipy_cblas_[zc]gemm) is here.
#ifndef XW_ENTRY_LIST_H
#define XW_ENTRY_LIST_H

// Fortran: column-major, arguments by reference, hidden string lengths at the end.
#define XW_F77_ENTRIES(X)                         \
    X(dgemm_, XW_F64, double, int32_t)            \
    X(sgemm_, XW_F32, float, int32_t)             \
    X(dgemm_64_, XW_F64, double, int64_t)         \
    X(sgemm_64_, XW_F32, float, int64_t)          \
    X(scipy_dgemm_, XW_F64, double, int32_t)      \
    X(scipy_sgemm_, XW_F32, float, int32_t)       \
    X(scipy_dgemm_64_, XW_F64, double, int64_t)   \
    X(scipy_sgemm_64_, XW_F32, float, int64_t)    \
    X(zgemm_, XW_C64, xw_c64, int32_t)            \
    X(cgemm_, XW_C32, xw_c32, int32_t)            \
    X(zgemm_64_, XW_C64, xw_c64, int64_t)         \
    X(cgemm_64_, XW_C32, xw_c32, int64_t)         \
    X(scipy_zgemm_, XW_C64, xw_c64, int32_t)      \
    X(scipy_cgemm_, XW_C32, xw_c32, int32_t)      \
    X(scipy_zgemm_64_, XW_C64, xw_c64, int64_t)   \
    X(scipy_cgemm_64_, XW_C32, xw_c32, int64_t)

// CBLAS: layout argument; real scalars by value, complex ones by pointer (XW_CBLAS_SCALAR).
#define XW_CBLAS_ENTRIES(X)                            \
    X(cblas_dgemm, XW_F64, double, int32_t)            \
    X(cblas_sgemm, XW_F32, float, int32_t)             \
    X(cblas_dgemm64_, XW_F64, double, int64_t)         \
    X(cblas_sgemm64_, XW_F32, float, int64_t)          \
    X(scipy_cblas_dgemm, XW_F64, double, int32_t)      \
    X(scipy_cblas_sgemm, XW_F32, float, int32_t)       \
    X(scipy_cblas_dgemm64_, XW_F64, double, int64_t)   \
    X(scipy_cblas_sgemm64_, XW_F32, float, int64_t)    \
    X(cblas_zgemm, XW_C64, xw_c64, int32_t)            \
    X(cblas_cgemm, XW_C32, xw_c32, int32_t)            \
    X(cblas_zgemm64_, XW_C64, xw_c64, int64_t)         \
    X(cblas_cgemm64_, XW_C32, xw_c32, int64_t)         \
    X(scipy_cblas_zgemm, XW_C64, xw_c64, int32_t)      \
    X(scipy_cblas_cgemm, XW_C32, xw_c32, int32_t)      \
    X(scipy_cblas_zgemm64_, XW_C64, xw_c64, int64_t)   \
    X(scipy_cblas_cgemm64_, XW_C32, xw_c32, int64_t)

// The other families, each a GEMM call or a sequence of them for the route (adapters_family.h).
// Rows as above. Four forms of each name, as GEMM has them: LP64, ILP64 (64_ or 64_ suffix),
// and scipy_ of both (the prefix numpy's and scipy's OpenBLAS wheels give their exports).
#define XW_FORMS_F77(X, base, PREC, T)                 \
    X(base##_, PREC, T, int32_t)                       \
    X(base##_64_, PREC, T, int64_t)                    \
    X(scipy_##base##_, PREC, T, int32_t)               \
    X(scipy_##base##_64_, PREC, T, int64_t)
#define XW_FORMS_CBLAS(X, base, PREC, T)               \
    X(cblas_##base, PREC, T, int32_t)                  \
    X(cblas_##base##64_, PREC, T, int64_t)             \
    X(scipy_cblas_##base, PREC, T, int32_t)            \
    X(scipy_cblas_##base##64_, PREC, T, int64_t)

// GEMV: y = alpha*op(A)*x + beta*y (Fortran: one hidden string length).
#define XW_GEMV_F77_ENTRIES(X) XW_FORMS_F77(X, dgemv, XW_F64, double) XW_FORMS_F77(X, sgemv, XW_F32, float)
#define XW_GEMV_CBLAS_ENTRIES(X) XW_FORMS_CBLAS(X, dgemv, XW_F64, double) XW_FORMS_CBLAS(X, sgemv, XW_F32, float)
// SYRK: C = alpha*op(A)*op(A)^T + beta*C on one triangle (two hidden lengths).
#define XW_SYRK_F77_ENTRIES(X) XW_FORMS_F77(X, dsyrk, XW_F64, double) XW_FORMS_F77(X, ssyrk, XW_F32, float)
#define XW_SYRK_CBLAS_ENTRIES(X) XW_FORMS_CBLAS(X, dsyrk, XW_F64, double) XW_FORMS_CBLAS(X, ssyrk, XW_F32, float)
// Batches with MKL's signatures (OpenBLAS 0.3.30 and later has the same): groups of products
// given by arrays of arguments and of pointers (?gemm_batch), and one group of products at
// fixed strides (?gemm_batch_strided).
#define XW_BATCH_F77_ENTRIES(X) XW_FORMS_F77(X, dgemm_batch, XW_F64, double) XW_FORMS_F77(X, sgemm_batch, XW_F32, float)
#define XW_BATCH_CBLAS_ENTRIES(X) XW_FORMS_CBLAS(X, dgemm_batch, XW_F64, double) XW_FORMS_CBLAS(X, sgemm_batch, XW_F32, float)
#define XW_STRIDED_F77_ENTRIES(X)                                                                 \
    XW_FORMS_F77(X, dgemm_batch_strided, XW_F64, double) XW_FORMS_F77(X, sgemm_batch_strided, XW_F32, float)
#define XW_STRIDED_CBLAS_ENTRIES(X)                                                               \
    XW_FORMS_CBLAS(X, dgemm_batch_strided, XW_F64, double)                                        \
    XW_FORMS_CBLAS(X, sgemm_batch_strided, XW_F32, float)

// Every exported name, by family (xw_sym_family() in blas_find.c).
#define XW_GEMM_ENTRIES(X) XW_F77_ENTRIES(X) XW_CBLAS_ENTRIES(X)
#define XW_GEMV_ENTRIES(X) XW_GEMV_F77_ENTRIES(X) XW_GEMV_CBLAS_ENTRIES(X)
#define XW_SYRK_ENTRIES(X) XW_SYRK_F77_ENTRIES(X) XW_SYRK_CBLAS_ENTRIES(X)
#define XW_BATCH_ENTRIES(X)                                                                       \
    XW_BATCH_F77_ENTRIES(X) XW_BATCH_CBLAS_ENTRIES(X) XW_STRIDED_F77_ENTRIES(X) XW_STRIDED_CBLAS_ENTRIES(X)
#define XW_ALL_ENTRIES(X) XW_GEMM_ENTRIES(X) XW_GEMV_ENTRIES(X) XW_SYRK_ENTRIES(X) XW_BATCH_ENTRIES(X)

#define XW_SYM_ENUM(name, prec, T, I) XW_SYM_##name,
typedef enum {
    XW_ALL_ENTRIES(XW_SYM_ENUM)
    XW_SYM_API,   // xsmmwrap_gemm, the library's own entry
    XW_SYM_COUNT
} xw_sym;
#undef XW_SYM_ENUM

#endif
