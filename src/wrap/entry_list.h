// entry_list.h: the only place that lists the exported GEMM names. Each row expands into a thin
// adapter (libxsmm_wrap.c, static_wrap.c), a symbol id and a name for the statistics.
// X(name, precision, element type, integer type)
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
    X(scipy_sgemm_64_, XW_F32, float, int64_t)

// CBLAS: layout argument, scalars by value.
#define XW_CBLAS_ENTRIES(X)                            \
    X(cblas_dgemm, XW_F64, double, int32_t)            \
    X(cblas_sgemm, XW_F32, float, int32_t)             \
    X(cblas_dgemm64_, XW_F64, double, int64_t)         \
    X(cblas_sgemm64_, XW_F32, float, int64_t)          \
    X(scipy_cblas_dgemm, XW_F64, double, int32_t)      \
    X(scipy_cblas_sgemm, XW_F32, float, int32_t)       \
    X(scipy_cblas_dgemm64_, XW_F64, double, int64_t)   \
    X(scipy_cblas_sgemm64_, XW_F32, float, int64_t)

#define XW_SYM_ENUM(name, prec, T, I) XW_SYM_##name,
typedef enum {
    XW_F77_ENTRIES(XW_SYM_ENUM)
    XW_CBLAS_ENTRIES(XW_SYM_ENUM)
    XW_SYM_API,   // xsmmwrap_gemm, the library's own entry
    XW_SYM_COUNT
} xw_sym;
#undef XW_SYM_ENUM

#endif
