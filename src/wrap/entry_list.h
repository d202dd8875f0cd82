// entry_list.h: the only place that lists the exported GEMM names. Each row expands into a thin
// adapter (libxsmm_wrap.c, static_wrap.c), a symbol id and a name for the statistics.
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

#define XW_SYM_ENUM(name, prec, T, I) XW_SYM_##name,
typedef enum {
    XW_F77_ENTRIES(XW_SYM_ENUM)
    XW_CBLAS_ENTRIES(XW_SYM_ENUM)
    XW_SYM_API,   // xsmmwrap_gemm, the library's own entry
    XW_SYM_COUNT
} xw_sym;
#undef XW_SYM_ENUM

#endif
