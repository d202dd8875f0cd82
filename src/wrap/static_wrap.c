// static_wrap.c: the __wrap_ entry points of libxsmmwrap.a for `ld --wrap=dgemm_` linking.
// Meson compiles this file once per exported name with -DXW_WANT_<name>=1, so each __wrap_
// function is its own archive member: the linker pulls it in only when the program wraps that
// name, and its strong __real_ reference then keeps the program's BLAS linked (a weak one would
// let --as-needed drop it).
#define XW_EXPORT
#include "adapters_family.h"

// XW_IS_ONE(x) is 1 when x expands to 1, else 0 (a defined-or-not test usable inside macros).
#define XW_ARG2(a, b, ...) b
#define XW_PLACEHOLDER_1 0,
#define XW_IS_ONE(x) XW_IS_ONE_(x)
#define XW_IS_ONE_(x) XW_IS_ONE__(XW_PLACEHOLDER_##x)
#define XW_IS_ONE__(p) XW_ARG2(p 1, 0, ~)
#define XW_CAT(a, b) XW_CAT_(a, b)
#define XW_CAT_(a, b) a##b
#define XW_IF_1(...) __VA_ARGS__
#define XW_IF_0(...)
#define XW_WHEN_WANTED(name) XW_CAT(XW_IF_, XW_IS_ONE(XW_WANT_##name))

#define XW_REAL(name) __real_##name
#define XW_ADAPTER(KIND, TYPE, name, PREC, T, I)                                  \
    XW_WHEN_WANTED(name)(extern xw_##TYPE##_##name##_fn __real_##name;             \
                         XW_DEFINE_##KIND(__wrap_##name, name, PREC, T, I, XW_REAL))
XW_ALL_ADAPTERS
