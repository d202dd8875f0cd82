// route.c: the one place that decides where a GEMM call goes (kernel path or original BLAS) and
// counts why. Calls the registry and the portable kernel below it, stats and report beside it.
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "wrap.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static _Atomic bool initialized;

static void init_impl(void)
{
    xw_env_read(&xw_cfg);
    const xw_reg_params p = {
        .capacity = (uint32_t)xw_cfg.max_kernels,
        .target = xw_cfg.target,
        .trylock = xw_cfg.trylock,
        .dump_dir = xw_cfg.dump_dir,
    };
    xw_reg_init(&p);
    atomic_store(&initialized, true);
}

bool xw_initialized(void) { return atomic_load(&initialized); }

void xw_init(void)
{
    if (XW_UNLIKELY(!atomic_load_explicit(&initialized, memory_order_acquire)))
        pthread_once(&init_once, init_impl);
}

static inline bool trans_of(char t, uint8_t *tr)
{
    switch (t) {
    case 'N': case 'n': *tr = 0; return true;
    case 'T': case 't': case 'C': case 'c': *tr = 1; return true;  // 'C' is 'T' for real types
    default: return false;
    }
}

static inline int64_t max1(int64_t x) { return x > 1 ? x : 1; }

// The reference BLAS argument checks (xerbla positions 1-13), without reporting: an invalid call
// goes to the original BLAS untouched so that its own handler reports it.
static inline bool valid(const xw_gemm_args *g, uint8_t *ta, uint8_t *tb)
{
    return trans_of(g->ta, ta) && trans_of(g->tb, tb) && g->m >= 0 && g->n >= 0 && g->k >= 0 &&
           g->lda >= max1(*ta ? g->k : g->m) && g->ldb >= max1(*tb ? g->n : g->k) &&
           g->ldc >= max1(g->m);
}

static inline xw_scale scale_of(xw_prec p, const void *v)
{
    return xw_scale_of_f64(p == XW_F64 ? *(const double *)v : (double)*(const float *)v);
}

// Decides without calling; on XSMMWRAP_ROUTE_JIT it fills *d (the kernel path's key).
static inline xsmmwrap_route decide(const xw_gemm_args *g, xw_desc *d)
{
    uint8_t ta, tb;
    if (XW_UNLIKELY(xw_cfg.disabled))
        return XSMMWRAP_ROUTE_DISABLED;
    if (XW_UNLIKELY(!valid(g, &ta, &tb)))
        return XSMMWRAP_ROUTE_INVALID;
    // Sizes are checked one by one first so that the product cannot overflow.
    const int64_t lim = xw_cfg.max_mnk;
    if (g->m > lim || g->n > lim || g->k > lim ||
        (g->m && g->n && g->k && (double)g->m * (double)g->n * (double)g->k > (double)lim))
        return XSMMWRAP_ROUTE_TOO_LARGE;
    if (XW_UNLIKELY((g->lda | g->ldb | g->ldc) > (int64_t)UINT32_MAX))
        return XSMMWRAP_ROUTE_UNSUPPORTED;
    *d = (xw_desc){
        .m = (uint32_t)g->m, .n = (uint32_t)g->n, .k = (uint32_t)g->k,
        .lda = (uint32_t)g->lda, .ldb = (uint32_t)g->ldb, .ldc = (uint32_t)g->ldc,
        .prec = (uint8_t)g->prec, .ta = ta, .tb = tb,
        .alpha = (uint8_t)scale_of(g->prec, g->alpha),
        .beta = (uint8_t)scale_of(g->prec, g->beta),
    };
    return XSMMWRAP_ROUTE_JIT;
}

xsmmwrap_route xw_route_check(const xw_gemm_args *g)
{
    xw_init();
    xw_desc d;
    return decide(g, &d);
}

bool xw_route_call(const xw_gemm_args *g)
{
    xw_init();
    xw_desc d;
    xsmmwrap_route r = decide(g, &d);
    if (XW_LIKELY(r == XSMMWRAP_ROUTE_JIT)) {
        if (XW_UNLIKELY(d.m == 0 || d.n == 0 || d.k == 0)) {
            // Nothing to multiply: BLAS scales C by beta (or returns); no kernel is kept for it.
            xw_ref_gemm((xw_prec)d.prec, d.ta, d.tb, d.m, d.n, d.k, g->alpha, g->a, d.lda, g->b,
                        d.ldb, g->beta, g->c, d.ldc);
            xw_stats_count(g->sym, XSMMWRAP_ROUTE_PORTABLE);
            return true;
        }
        const xw_kernel *kn = xw_reg_lookup(&d);
        if (XW_UNLIKELY(!kn)) {
            switch (xw_reg_get(&d, &kn)) {
            case XW_REG_FOUND: break;
            case XW_REG_CREATED: xw_report_kernel_created(kn); break;
            case XW_REG_FULL: r = XSMMWRAP_ROUTE_FULL; break;
            case XW_REG_BUSY: r = XSMMWRAP_ROUTE_LOCK_BUSY; break;
            }
        }
        if (XW_LIKELY(r == XSMMWRAP_ROUTE_JIT)) {
            kn->fn(g->a, g->b, g->c, g->alpha, g->beta, &kn->desc);
            xw_stats_count(g->sym, kn->jit ? XSMMWRAP_ROUTE_JIT : XSMMWRAP_ROUTE_PORTABLE);
            xw_stats_kernel(kn->id);
            return true;
        }
    }
    xw_stats_count(g->sym, r);
    return false;
}
