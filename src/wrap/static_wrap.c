// static_wrap.c: the __wrap_ entry points of libxsmmwrap.a for `ld --wrap=dgemm_` linking. The
// linker points __real_NAME at the program's own NAME; a name the program did not wrap leaves
// its weak __real_ reference NULL, and blas_find.c looks for the original instead.
#define XW_EXPORT
#include "adapters.h"

#define XW_REAL_DECL(name, PREC, T, I) extern void __real_##name(void) __attribute__((weak));
XW_F77_ENTRIES(XW_REAL_DECL)
XW_CBLAS_ENTRIES(XW_REAL_DECL)

#define XW_REAL(name) (__real_##name ? (xw_fn)__real_##name : xw_blas_get(XW_SYM_##name))
#define XW_F77(name, PREC, T, I) XW_DEFINE_F77(__wrap_##name, name, PREC, T, I, XW_REAL)
#define XW_CBLAS(name, PREC, T, I) XW_DEFINE_CBLAS(__wrap_##name, name, PREC, T, I, XW_REAL)
XW_F77_ENTRIES(XW_F77)
XW_CBLAS_ENTRIES(XW_CBLAS)
