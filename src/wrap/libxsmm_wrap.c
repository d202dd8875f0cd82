// libxsmm_wrap.c: the exported entry points of libxsmmwrap.so, one adapter per row of
// entry_list.h; each calls route.c (route_family.c) and, when declined, the original found by
// blas_find.c.
#define XW_EXPORT __attribute__((visibility("default")))
#include "adapters_family.h"

#define XW_ORIGINAL(name) xw_blas_get(XW_SYM_##name)
#define XW_ADAPTER(KIND, TYPE, name, PREC, T, I) XW_DEFINE_##KIND(name, name, PREC, T, I, XW_ORIGINAL)
XW_ALL_ADAPTERS
