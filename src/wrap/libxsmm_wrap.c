// libxsmm_wrap.c: the exported GEMM entry points of libxsmmwrap.so, one adapter per row of
// entry_list.h; each calls route.c and, when declined, the original found by blas_find.c.
#define XW_EXPORT __attribute__((visibility("default")))
#include "adapters.h"

#define XW_ORIGINAL(name) xw_blas_get(XW_SYM_##name)
#define XW_F77(name, PREC, T, I) XW_DEFINE_F77(name, name, PREC, T, I, XW_ORIGINAL)
#define XW_CBLAS(name, PREC, T, I) XW_DEFINE_CBLAS(name, name, PREC, T, I, XW_ORIGINAL)
XW_F77_ENTRIES(XW_F77)
XW_CBLAS_ENTRIES(XW_CBLAS)
