// route_fast.h: the hot path of route.c, inline in every entry point. A call equal to this
// thread's last call that ran a kernel (same entry point, same argument values) is counted and
// handed to that kernel by a tail jump, with no validation, description or lookup. Anything
// else goes to the adapter's miss path, which first looks for the call among the thread's
// recent ones (xw_route_recent, here too), then goes to xw_route_slow() in route.c.
#ifndef XW_ROUTE_FAST_H
#define XW_ROUTE_FAST_H

#include <stdatomic.h>
#include <string.h>

#include "wrap.h"

#define XW_KEY_MARK (1ull << 63)
static inline uint64_t xw_pair(uint64_t lo, uint64_t hi) { return (uint32_t)lo | hi << 32; }

// Fortran entry: sizes by reference (32 or 64 bits), transposes as characters. False when a
// 64-bit size does not fit 32 bits (such calls have no key and always take the slow path).
static inline bool xw_key_f77(xw_call_key *key, xw_sym s, size_t isize, char ta, char tb,
                              int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb,
                              int64_t ldc, uint64_t alpha, uint64_t beta)
{
    if (isize > 4 && XW_UNLIKELY((uint64_t)(m | n | k | lda | ldb | ldc) >> 32))
        return false;
    key->w[0] = xw_pair((uint64_t)m, (uint32_t)n);
    key->w[1] = xw_pair((uint64_t)k, (uint32_t)lda);
    key->w[2] = xw_pair((uint64_t)ldb, (uint32_t)ldc);
    key->w[3] = (unsigned char)ta | (unsigned)(unsigned char)tb << 8 | (uint64_t)s << 16 | XW_KEY_MARK;
    key->w[4] = alpha;
    key->w[5] = beta;
    return true;
}

// CBLAS entry: layout and transposes as integers (their valid values fit 16 bits), sizes by value.
static inline bool xw_key_cblas(xw_call_key *key, xw_sym s, size_t isize, int order, int ta,
                                int tb, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb,
                                int64_t ldc, uint64_t alpha, uint64_t beta)
{
    if (XW_UNLIKELY(((unsigned)order | (unsigned)ta | (unsigned)tb) >> 16) ||
        (isize > 4 && XW_UNLIKELY((uint64_t)(m | n | k | lda | ldb | ldc) >> 32)))
        return false;
    key->w[0] = xw_pair((uint64_t)m, (uint32_t)n);
    key->w[1] = xw_pair((uint64_t)k, (uint32_t)lda);
    key->w[2] = xw_pair((uint64_t)ldb, (uint32_t)ldc);
    key->w[3] = (unsigned)order | (unsigned)ta << 16 | (uint64_t)(unsigned)tb << 32 |
                (uint64_t)s << 48 | XW_KEY_MARK;
    key->w[4] = alpha;
    key->w[5] = beta;
    return true;
}

// The key word of alpha or beta. The route decides by the scalar's scale class only, so any
// word the class follows from will do: a real scalar's bits, a complex float's two parts'
// bits. A complex double has 128: its real part's bits when its imaginary part is a zero of
// either sign (the class is then the real part's), else all ones, a NaN's bits (class "any",
// as the call's scalar is). So every complex call is keyed, and calls whose scalars differ
// only in nonzero imaginary parts share the kernel that reads alpha and beta at call time.
static inline uint64_t xw_bits_f64(double x) { uint64_t b; memcpy(&b, &x, sizeof b); return b; }
static inline uint64_t xw_bits_f32(float x) { uint32_t b; memcpy(&b, &x, sizeof b); return b; }
static inline uint64_t xw_key_c64(xw_c64 x)
{
    return xw_bits_f64(x.im) << 1 ? ~(uint64_t)0 : xw_bits_f64(x.re);
}
static inline uint64_t xw_key_c32(xw_c32 x) { return xw_bits_f32(x.re) | xw_bits_f32(x.im) << 32; }
static inline uint64_t xw_key_c64p(const xw_c64 *x) { return xw_key_c64(*x); }
static inline uint64_t xw_key_c32p(const xw_c32 *x) { return xw_key_c32(*x); }
// x: a Fortran entry's *alpha, or a CBLAS entry's alpha (a value, or a complex one's pointer).
#define XW_KEY_SCALAR(x)                                                                         \
    _Generic((x), double: xw_bits_f64, float: xw_bits_f32, xw_c64: xw_key_c64,                   \
             xw_c32: xw_key_c32, const xw_c64 *: xw_key_c64p, const xw_c32 *: xw_key_c32p)(x)

static inline bool xw_key_equal(const xw_call_key *a, const xw_call_key *b)
{
    return ((a->w[0] ^ b->w[0]) | (a->w[1] ^ b->w[1]) | (a->w[2] ^ b->w[2]) | (a->w[3] ^ b->w[3]) |
            (a->w[4] ^ b->w[4]) | (a->w[5] ^ b->w[5])) == 0;
}

// The slot of xw_recent a key lives in (multiplicative hash of all its words).
static inline unsigned xw_key_slot(const xw_call_key *k)
{
    const uint64_t x = k->w[0] ^ k->w[1] ^ k->w[2] ^ k->w[3] ^ k->w[4] ^ k->w[5];
    return (unsigned)((x * 0x9E3779B97F4A7C15ull) >> (64 - XW_RECENT_BITS));
}

// True when the call equals this thread's last one (whose kernel is xw_last.kernel), the call
// counted; false otherwise, nothing counted. The slow path records a call only after every
// check and once its kernel ran, and the configuration does not change, so an equal call needs
// no checks.
static inline bool xw_route_hit(const xw_call_key *key)
{
    xw_last_call *r = &xw_last;
    if (XW_UNLIKELY(!xw_key_equal(key, &r->key)))
        return false;
    xw_bump(r->kernel_calls);
    xw_bump(r->sym_calls);
    return true;
}

// The miss path's first check: the call is one of this thread's recent ones. Then it becomes
// the last (xw_last.kernel serves it) and is counted, as on the hit path.
static inline bool xw_route_recent(const xw_call_key *key)
{
    xw_recent_calls *t = xw_recent;
    if (!t)
        return false;
    const xw_last_call *r = &t->e[xw_key_slot(key)];
    if (!xw_key_equal(key, &r->key))
        return false;
    xw_last = *r;
    xw_bump(r->kernel_calls);
    xw_bump(r->sym_calls);
    return true;
}

#endif
