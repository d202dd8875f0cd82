// route.c: the one place that decides where a GEMM call goes (kernel path, C = beta*C, or the
// original BLAS) and counts why. Calls the registry and the portable kernel below it, stats,
// report and the original BLAS beside it.
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "route_fast.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static _Atomic bool initialized;

static void init_impl(void)
{
    xw_env_read(&xw_cfg);
    xw_report_settings();
    const xw_reg_params p = {
        .capacity = (uint32_t)xw_cfg.max_kernels,
        .target = xw_cfg.target,
        .trylock = xw_cfg.trylock,
        .dump_dir = xw_cfg.dump_dir,
    };
    xw_reg_init(&p);
    xw_blas_init();
    xw_tune_load();
    atomic_store(&initialized, true);
}

bool xw_initialized(void) { return atomic_load(&initialized); }

void xw_init(void)
{
    if (XW_UNLIKELY(!atomic_load_explicit(&initialized, memory_order_acquire)))
        pthread_once(&init_once, init_impl);
}

// Transpose character -> 1 + XW_TRANS_*; 0 marks an invalid one.
static const uint8_t trans_code[256] = {
    ['N'] = 1 + XW_TRANS_N, ['n'] = 1 + XW_TRANS_N, ['T'] = 1 + XW_TRANS_T,
    ['t'] = 1 + XW_TRANS_T, ['C'] = 1 + XW_TRANS_C, ['c'] = 1 + XW_TRANS_C,
};

// The XW_TRANS_* of a valid transpose character: 'C' is 'T' for real types.
static unsigned trans_of(xw_prec p, char t)
{
    const unsigned x = trans_code[(unsigned char)t] - 1u;
    return x == XW_TRANS_C && !xw_prec_complex(p) ? XW_TRANS_T : x;
}

// The descriptor of a call, before any validation; false when a transpose character is unknown
// or a size does not fit its field (negative, or 2^32 and above).
static bool describe(const xw_gemm_args *g, xw_desc *d)
{
    const uint64_t all = (uint64_t)(g->m | g->n | g->k | g->lda | g->ldb | g->ldc);
    if (XW_UNLIKELY(!trans_code[(unsigned char)g->ta] || !trans_code[(unsigned char)g->tb] ||
                    (all >> 32)))
        return false;
    *d = xw_desc_make((uint32_t)g->m, (uint32_t)g->n, (uint32_t)g->k, (uint32_t)g->lda,
                      (uint32_t)g->ldb, (uint32_t)g->ldc, g->prec,
                      g->dot ? XW_TRANS_DOT : trans_of(g->prec, g->ta),
                      trans_of(g->prec, g->tb), xw_scale_class(g->prec, g->alpha),
                      xw_scale_class(g->prec, g->beta));
    return true;
}

static inline int64_t max1(int64_t x) { return x > 1 ? x : 1; }

// The reference BLAS argument checks (xerbla positions 1-13), without reporting: an invalid call
// goes to the original BLAS untouched so that its own handler reports it.
static bool valid(const xw_gemm_args *g)
{
    const unsigned ta = trans_code[(unsigned char)g->ta], tb = trans_code[(unsigned char)g->tb];
    if (g->dot)  // (increments, not leading dimensions, in ldb and ldc)
        return g->m >= 0 && g->n == 1 && g->k >= 0 && g->lda >= max1(g->k) && g->ldb >= 1 && g->ldc >= 1;
    return ta && tb && g->m >= 0 && g->n >= 0 && g->k >= 0 &&
           g->lda >= max1(ta > 1 ? g->k : g->m) && g->ldb >= max1(tb > 1 ? g->n : g->k) &&
           g->ldc >= max1(g->m);
}

bool xw_route_valid(const xw_gemm_args *g) { return valid(g); }

// The full decision; on XSMMWRAP_ROUTE_JIT the call belongs on the kernel path with key *d.
static xsmmwrap_route decide(const xw_gemm_args *g, xw_desc *d)
{
    if (XW_UNLIKELY(xw_cfg.disabled))
        return XSMMWRAP_ROUTE_DISABLED;
    if (!valid(g))
        return XSMMWRAP_ROUTE_INVALID;
    // Nothing to multiply: C = beta*C is the wrapper's at any size, so that A and B are never
    // read, whatever the original does (OpenBLAS's AVX-512 kernels read them with alpha = 0,
    // and a NaN there reaches C: issue 11). No kernel is made for it.
    if (!g->m || !g->n || !g->k || xw_scale_class(g->prec, g->alpha) == XW_SCALE_ZERO)
        return XSMMWRAP_ROUTE_SCALE;
    // A tuning file's choice for this descriptor (tune.c), at any size it names: the original
    // BLAS, or a kernel with the plan measured fastest here. (*d is described once.)
    bool described = false;
    if (XW_UNLIKELY(atomic_load_explicit(&xw_tune_active, memory_order_relaxed)) && (described = describe(g, d))) {
        const xw_tune_choice t = xw_tune_choose(g->sym, d);
        if (t != XW_TUNE_UNNAMED)
            return t == XW_TUNE_BLAS ? XSMMWRAP_ROUTE_TUNED_BLAS : XSMMWRAP_ROUTE_JIT;
    }
    // Sizes are checked one by one first so that the product cannot overflow. The threshold
    // is in real multiply-adds: a complex one is four.
    const int64_t lim = xw_cfg.max_mnk;
    const double work = xw_prec_complex(g->prec) ? 4.0 : 1.0;
    if (g->m > lim || g->n > lim || g->k > lim ||
        work * (double)g->m * (double)g->n * (double)g->k > (double)lim)
        return XSMMWRAP_ROUTE_TOO_LARGE;
    if (!described && !describe(g, d))
        return XSMMWRAP_ROUTE_UNSUPPORTED;  // a leading dimension of 2^32 or more
    return XSMMWRAP_ROUTE_JIT;
}

const double xw_scale_f64[XW_SCALE_ANY] = { [XW_SCALE_ONE] = 1.0, [XW_SCALE_MINUS_ONE] = -1.0, [XW_SCALE_ZERO] = 0.0 };
const float xw_scale_f32[XW_SCALE_ANY] = { [XW_SCALE_ONE] = 1.0f, [XW_SCALE_MINUS_ONE] = -1.0f, [XW_SCALE_ZERO] = 0.0f };

void xw_run_f64(const xw_kernel *kn, const void *a, const void *b, void *c, double alpha, double beta)
{
    kn->fn(a, b, c, &alpha, &beta, &kn->desc);
}

void xw_run_f32(const xw_kernel *kn, const void *a, const void *b, void *c, float alpha, float beta)
{
    kn->fn(a, b, c, &alpha, &beta, &kn->desc);
}

_Thread_local xw_last_call xw_last __attribute__((tls_model("initial-exec")));
_Thread_local xw_recent_calls *xw_recent __attribute__((tls_model("initial-exec")));

void xw_route_count_kernel(xw_sym s, const xw_kernel *kn, uint64_t calls, uint64_t products,
                           const xw_call_key *key)
{
    _Atomic uint64_t *kc = xw_stats_kernel_counter(kn->id), *sc = xw_stats_sym_counter(s);
    if (XW_UNLIKELY(!kc || !sc))
        return;  // out of memory: the call runs uncounted
    xw_add(kc, products);
    xw_add(sc, calls);
    if (key) {
        xw_last = (xw_last_call){ .key = *key, .kernel = kn, .kernel_calls = kc, .sym_calls = sc };
        if (!xw_recent)  // (out of memory: only the last call is remembered)
            xw_recent = calloc(1, sizeof *xw_recent);
        if (xw_recent)
            xw_recent->e[xw_key_slot(key)] = xw_last;
    }
}

xsmmwrap_route xw_route_kernel(const xw_gemm_args *g, const xw_kernel **kn)
{
    xw_init();
    xw_desc d;
    const xsmmwrap_route r = decide(g, &d);
    if (r != XSMMWRAP_ROUTE_JIT)
        return r;
    const xw_reg_result got = xw_reg_get(&d, kn);
    if (got == XW_REG_FULL)
        return XSMMWRAP_ROUTE_FULL;
    if (got == XW_REG_BUSY)
        return XSMMWRAP_ROUTE_LOCK_BUSY;
    if (got == XW_REG_CREATED)
        xw_report_kernel_created(*kn);
    return XSMMWRAP_ROUTE_JIT;
}

// Decides, and runs and counts a call the wrapper serves itself; any other route comes back
// uncounted, for the caller to forward the call and count it as what ran. A call that ran a
// kernel becomes this thread's last and recent call under key (the hit path of route_fast.h).
static xsmmwrap_route serve(const xw_gemm_args *g, const xw_call_key *key)
{
    const xw_kernel *kn;
    const xsmmwrap_route r = xw_route_kernel(g, &kn);
    if (r == XSMMWRAP_ROUTE_SCALE) {
        // Not keyed for the hit path: rare, and it has no kernel to jump to.
        xw_ref_scale(g->prec, g->m, g->n, g->beta, g->c, g->ldc);
        xw_stats_count(g->sym, r);
        return r;
    }
    if (r != XSMMWRAP_ROUTE_JIT)
        return r;
    xw_route_count_kernel(g->sym, kn, 1, 1, key);
    kn->fn(g->a, g->b, g->c, g->alpha, g->beta, &kn->desc);
    return kn->jit ? XSMMWRAP_ROUTE_JIT : XSMMWRAP_ROUTE_PORTABLE;
}

bool xw_route_slow(const xw_gemm_args *g, const xw_call_key *key)
{
    const xsmmwrap_route r = serve(g, key);
    if (xw_route_served(r))
        return true;
    xw_stats_count(g->sym, r);
    return false;
}

static bool fits_int32(int64_t x) { return x >= INT32_MIN && x <= INT32_MAX; }

// A valid call the wrapper declined, given to the process's own dgemm_/sgemm_ (LP64); false
// when there is none, or a size or leading dimension does not fit its 32-bit integers.
static bool call_original_lp64(const xw_gemm_args *g)
{
    if (!fits_int32(g->m) || !fits_int32(g->n) || !fits_int32(g->k) || !fits_int32(g->lda) ||
        !fits_int32(g->ldb) || !fits_int32(g->ldc))
        return false;
    const xw_fn f = xw_blas_try(g->prec == XW_F64 ? XW_SYM_dgemm_ : XW_SYM_sgemm_);
    if (!f)
        return false;
    const int32_t m = (int32_t)g->m, n = (int32_t)g->n, k = (int32_t)g->k;
    const int32_t lda = (int32_t)g->lda, ldb = (int32_t)g->ldb, ldc = (int32_t)g->ldc;
    if (g->prec == XW_F64)
        ((xw_f77_dgemm__fn *)f)(&g->ta, &g->tb, &m, &n, &k, g->alpha, g->a, &lda, g->b, &ldb,
                                g->beta, g->c, &ldc, 1, 1);
    else
        ((xw_f77_sgemm__fn *)f)(&g->ta, &g->tb, &m, &n, &k, g->alpha, g->a, &lda, g->b, &ldb,
                                g->beta, g->c, &ldc, 1, 1);
    return true;
}

xsmmwrap_route xw_route_api(const xw_gemm_args *g)
{
    xsmmwrap_route r = serve(g, NULL);
    if (xw_route_served(r))
        return r;
    if (r == XSMMWRAP_ROUTE_DISABLED && !valid(g))
        r = XSMMWRAP_ROUTE_INVALID;  // the API answers invalid calls itself, disabled or not
    if (r != XSMMWRAP_ROUTE_INVALID && !call_original_lp64(g)) {
        // No original can take it: the portable kernel does, and is counted as what ran.
        xw_ref_gemm(g->prec, trans_of(g->prec, g->ta), trans_of(g->prec, g->tb), g->m, g->n,
                    g->k, g->alpha, g->a, g->lda, g->b, g->ldb, g->beta, g->c, g->ldc);
        r = XSMMWRAP_ROUTE_PORTABLE;
    }
    xw_stats_count(g->sym, r);
    return r;
}
