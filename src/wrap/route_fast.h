// route_fast.h: the hot path of route.c, inline in every entry point. A call equal to this
// thread's last call that ran a kernel (same entry point, same argument values) is counted and
// handed to that kernel by a tail jump, with no validation, description or lookup. Anything
// else (a first call, another shape, a decline) goes to xw_route_slow() in route.c.
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

static inline uint64_t xw_bits_f64(double x) { uint64_t b; memcpy(&b, &x, sizeof b); return b; }
static inline uint64_t xw_bits_f32(float x) { uint32_t b; memcpy(&b, &x, sizeof b); return b; }
#define XW_BITS(x) _Generic((x), double: xw_bits_f64, float: xw_bits_f32)(x)

// True when the call equals this thread's last one (whose kernel is xw_last.kernel), the call
// counted; false otherwise, nothing counted. The slow path records a call only after every
// check and once its kernel ran, and the configuration does not change, so an equal call needs
// no checks.
static inline bool xw_route_hit(const xw_call_key *key)
{
    xw_last_call *r = &xw_last;
    const uint64_t diff = (key->w[0] ^ r->key.w[0]) | (key->w[1] ^ r->key.w[1]) |
                          (key->w[2] ^ r->key.w[2]) | (key->w[3] ^ r->key.w[3]) |
                          (key->w[4] ^ r->key.w[4]) | (key->w[5] ^ r->key.w[5]);
    if (XW_UNLIKELY(diff))
        return false;
    xw_bump(r->kernel_calls);
    xw_bump(r->sym_calls);
    return true;
}

#endif
