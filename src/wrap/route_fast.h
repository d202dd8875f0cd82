// route_fast.h: the hot path of route.c, inline in every entry point so that a call's arguments
// stay in registers: describe the call, look its kernel up, run it, count it. Anything else
// (a first call, a miss, a decline) goes to xw_route_slow() in route.c.
#ifndef XW_ROUTE_FAST_H
#define XW_ROUTE_FAST_H

#include <stdatomic.h>
#include <string.h>

#include "wrap.h"

// Transpose character -> 1 + transposed ('C' is 'T' for real types); 0 marks an invalid one.
XW_HIDDEN extern const uint8_t xw_trans_code[256];

// The descriptor of a call, before any validation; false when a transpose character is unknown
// or a size does not fit its field (negative, or 2^32 and above).
static inline bool xw_describe(const xw_gemm_args *g, xw_desc *d)
{
    const unsigned ta = xw_trans_code[(unsigned char)g->ta], tb = xw_trans_code[(unsigned char)g->tb];
    const uint64_t all = (uint64_t)(g->m | g->n | g->k | g->lda | g->ldb | g->ldc);
    if (XW_UNLIKELY(!ta || !tb || (all >> 32)))
        return false;
    *d = xw_desc_make((uint32_t)g->m, (uint32_t)g->n, (uint32_t)g->k, (uint32_t)g->lda,
                      (uint32_t)g->ldb, (uint32_t)g->ldc, g->prec, ta - 1, tb - 1,
                      xw_scale_class(g->prec, g->alpha), xw_scale_class(g->prec, g->beta));
    return true;
}

static inline void xw_bump(_Atomic uint64_t *x)
{
    // Only the owning thread writes: a load and a store, no locked read-modify-write.
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + 1, memory_order_relaxed);
}

static inline void xw_stats_count(xw_sym s, xsmmwrap_route r, uint32_t id)
{
    xw_stats_block *b = xw_stats_mine;
    _Atomic uint64_t *chunk;
    if (XW_UNLIKELY(!b || id == XW_NO_KERNEL || id / XW_STATS_CHUNK >= xw_stats_nchunks) ||
        XW_UNLIKELY(!(chunk = atomic_load_explicit(&b->chunks[id / XW_STATS_CHUNK],
                                                   memory_order_relaxed)))) {
        xw_stats_count_slow(s, r, id);
        return;
    }
    xw_bump(&b->sym[s]);
    xw_bump(&b->route[r]);
    xw_bump(&chunk[id % XW_STATS_CHUNK]);
}

// Serves the call on the kernel path (true), or returns false after counting why not: the
// caller then calls the original BLAS with its own, untouched arguments. A descriptor that has
// a kernel was valid and small when the kernel was made, and the configuration does not
// change, so a hit needs no further checks.
static inline bool xw_route(const xw_gemm_args *g)
{
    xw_desc d;
    const xw_kernel *kn;
    if (XW_LIKELY(atomic_load_explicit(&xw_fast_ok, memory_order_acquire) && xw_describe(g, &d) &&
                  (kn = xw_reg_lookup(&d)))) {
        kn->fn(g->a, g->b, g->c, g->alpha, g->beta, &kn->desc);
        xw_stats_count(g->sym, kn->jit ? XSMMWRAP_ROUTE_JIT : XSMMWRAP_ROUTE_PORTABLE, kn->id);
        return true;
    }
    // Passed by value so that g never escapes here and the compiler keeps it in registers.
    return xw_route_slow_unpacked(g->prec, g->ta, g->tb, g->m, g->n, g->k, g->alpha, g->a, g->lda,
                                  g->b, g->ldb, g->beta, g->c, g->ldc, g->sym);
}

#endif
