// libxsmm_wrap.c: the exported entry points of libxsmmwrap.so, one adapter per row of
// entry_list.h; each calls route.c (route_family.c) and, when declined, the original found by
// blas_find.c.
#define XW_EXPORT __attribute__((visibility("default")))
#include "adapters_family.h"

#define XW_ORIGINAL(name) xw_blas_get(XW_SYM_##name)
#define XW_ADAPTER(KIND, name, PREC, T, I) XW_DEFINE_##KIND(name, name, PREC, T, I, XW_ORIGINAL)
#define XW_F77(name, PREC, T, I) XW_ADAPTER(F77, name, PREC, T, I)
#define XW_CBLAS(name, PREC, T, I) XW_ADAPTER(CBLAS, name, PREC, T, I)
#define XW_GEMV_F77(name, PREC, T, I) XW_ADAPTER(GEMV_F77, name, PREC, T, I)
#define XW_GEMV_CBLAS(name, PREC, T, I) XW_ADAPTER(GEMV_CBLAS, name, PREC, T, I)
#define XW_SYRK_F77(name, PREC, T, I) XW_ADAPTER(SYRK_F77, name, PREC, T, I)
#define XW_SYRK_CBLAS(name, PREC, T, I) XW_ADAPTER(SYRK_CBLAS, name, PREC, T, I)
#define XW_BATCH_F77(name, PREC, T, I) XW_ADAPTER(BATCH_F77, name, PREC, T, I)
#define XW_BATCH_CBLAS(name, PREC, T, I) XW_ADAPTER(BATCH_CBLAS, name, PREC, T, I)
#define XW_STRIDED_F77(name, PREC, T, I) XW_ADAPTER(STRIDED_F77, name, PREC, T, I)
#define XW_STRIDED_CBLAS(name, PREC, T, I) XW_ADAPTER(STRIDED_CBLAS, name, PREC, T, I)
XW_F77_ENTRIES(XW_F77)
XW_CBLAS_ENTRIES(XW_CBLAS)
XW_GEMV_F77_ENTRIES(XW_GEMV_F77)
XW_GEMV_CBLAS_ENTRIES(XW_GEMV_CBLAS)
XW_SYRK_F77_ENTRIES(XW_SYRK_F77)
XW_SYRK_CBLAS_ENTRIES(XW_SYRK_CBLAS)
XW_BATCH_F77_ENTRIES(XW_BATCH_F77)
XW_BATCH_CBLAS_ENTRIES(XW_BATCH_CBLAS)
XW_STRIDED_F77_ENTRIES(XW_STRIDED_F77)
XW_STRIDED_CBLAS_ENTRIES(XW_STRIDED_CBLAS)
