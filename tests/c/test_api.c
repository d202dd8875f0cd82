// test_api.c: xsmmwrap_gemm() goes through the route once, and its statistics count what ran.
// Linked with libxsmmwrap.so and no BLAS. Phase 1 has no original in the process: a call the
// route declines (too large, a leading dimension beyond 32 bits) runs the portable kernel and
// is counted as portable. Phase 2 loads a fake BLAS (fake_blas.c, FAKE_BLAS_PATH) whose
// dgemm_/sgemm_ fill C with 42: declined calls then reach it and are counted under their
// reason, unless their sizes do not fit its 32-bit integers. Kernel-path and C = beta*C calls
// never reach it; invalid calls return XSMMWRAP_EINVAL and write nothing. Under
// XSMMWRAP_DISABLE=1 (tests/test_api.py runs both) every valid call is declined as disabled.
// After every call the per-route counts must equal the calls of each kind made so far.
// Prints "N passed, M failed"; exit status 1 on any failure.
#define _GNU_SOURCE  // RTLD_DEFAULT, dladdr
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsmmwrap.h"

#include "check.h"

#define FAKE_VALUE 42.0  // what fake_blas.c writes

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t want[XSMMWRAP_ROUTE_COUNT];  // calls made per route, as they should be counted
static uint64_t want_kernel;                 // of those on jit/portable, the ones a kernel ran
static int disabled;
static int *fake_calls;                      // fake_blas.c's counter, once loaded

typedef struct {
    int prec;
    char ta, tb;
    int64_t m, n, k, lda, ldb, ldc;
    double alpha, beta;
} call;

// KERNEL and SCALE are the wrapper's; DECLINED goes to an original when there is one (for
// `reason`), FALLBACK never can (a size beyond 32 bits); INVALID is refused.
enum kind { KERNEL, SCALE, DECLINED, FALLBACK, INVALID };

// The route a call of this kind is counted under, and whether a registry kernel ran it.
static xsmmwrap_route route_of(enum kind what, xsmmwrap_route reason, int *kernel)
{
    *kernel = 0;
    if (what == INVALID)
        return XSMMWRAP_ROUTE_INVALID;  // before anything else, disabled or not
    if (disabled && what != FALLBACK) {  // declined first: the original's, if there is one
        what = DECLINED;
        reason = XSMMWRAP_ROUTE_DISABLED;
    }
    switch (what) {
    case KERNEL: *kernel = 1; return XSMMWRAP_ROUTE_JIT;  // or portable: compared as a sum
    case SCALE: return XSMMWRAP_ROUTE_SCALE;
    case DECLINED: return fake_calls ? reason : XSMMWRAP_ROUTE_PORTABLE;
    default: return XSMMWRAP_ROUTE_PORTABLE;
    }
}

static uint64_t kernel_calls(void)
{
    uint64_t n = 0;
    for (int i = 0; i < xsmmwrap_kernel_count(); i++) {
        xsmmwrap_kernel_info ki;
        if (xsmmwrap_kernel_get(i, &ki) == XSMMWRAP_OK)
            n += ki.calls;
    }
    return n;
}

static void check_counts(const char *what)
{
    xsmmwrap_stats st;
    CHECK(xsmmwrap_get_stats(&st) == XSMMWRAP_OK, "xsmmwrap_get_stats");
    uint64_t total = 0;
    for (int r = 0; r < XSMMWRAP_ROUTE_COUNT; r++) {
        total += want[r];
        if (r == XSMMWRAP_ROUTE_JIT || r == XSMMWRAP_ROUTE_PORTABLE)
            continue;
        CHECK(st.by_route[r] == want[r], "%s: route %s counted %llu, made %llu", what,
              xsmmwrap_route_name(r), (unsigned long long)st.by_route[r],
              (unsigned long long)want[r]);
    }
    const uint64_t path = st.by_route[XSMMWRAP_ROUTE_JIT] + st.by_route[XSMMWRAP_ROUTE_PORTABLE];
    CHECK(path == want[XSMMWRAP_ROUTE_JIT] + want[XSMMWRAP_ROUTE_PORTABLE],
          "%s: jit + portable counted %llu, made %llu", what, (unsigned long long)path,
          (unsigned long long)(want[XSMMWRAP_ROUTE_JIT] + want[XSMMWRAP_ROUTE_PORTABLE]));
    CHECK(kernel_calls() == want_kernel, "%s: registry kernels ran %llu calls, want %llu", what,
          (unsigned long long)kernel_calls(), (unsigned long long)want_kernel);
    CHECK(st.intercepted == total, "%s: intercepted %llu, made %llu", what,
          (unsigned long long)st.intercepted, (unsigned long long)total);
    const char *name;
    uint64_t calls = 0;
    for (int i = 0; i < xsmmwrap_symbol_count(); i++)
        if (xsmmwrap_symbol_get(i, &name, &calls) == XSMMWRAP_OK && strcmp(name, "xsmmwrap_gemm") == 0)
            break;
    CHECK(calls == total, "%s: xsmmwrap_gemm counted %llu, made %llu", what,
          (unsigned long long)calls, (unsigned long long)total);
}

static int is_t(char t) { return t != 'N' && t != 'n'; }

// Makes the call of the given kind and checks its result and the counts. A and B hold NaN
// when alpha is 0, C holds NaN when beta is 0. Buffers are sized from the leading dimensions
// (for a leading dimension beyond 32 bits only its first column or row is ever touched).
static void run(const char *what, enum kind kind, xsmmwrap_route reason, const call *g)
{
    const int64_t ca = is_t(g->ta) ? g->m : g->k, cb = is_t(g->tb) ? g->k : g->n;
    const int64_t ra = is_t(g->ta) ? g->k : g->m, rb = is_t(g->tb) ? g->n : g->k;
    const size_t na = (size_t)(ca > 1 ? g->lda * (ca - 1) + ra : ra) + 1;
    const size_t nb = (size_t)(cb > 1 ? g->ldb * (cb - 1) + rb : rb) + 1;
    const size_t nc = (size_t)(g->n > 1 ? g->ldc * (g->n - 1) + g->m : g->m) + 1;
    double *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    double *c0 = malloc(nc * sizeof *c0);
    float *af = malloc(na * sizeof *af), *bf = malloc(nb * sizeof *bf), *cf = malloc(nc * sizeof *cf);
    if (!a || !b || !c || !c0 || !af || !bf || !cf) {
        printf("out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < na; i++)
        af[i] = (float)(a[i] = g->alpha == 0.0 && i % 3 == 0 ? NAN : check_rnd_val(&rng));
    for (size_t i = 0; i < nb; i++)
        bf[i] = (float)(b[i] = g->alpha == 0.0 && i % 3 == 1 ? NAN : check_rnd_val(&rng));
    for (size_t i = 0; i < nc; i++)
        cf[i] = (float)(c[i] = c0[i] = g->beta == 0.0 && i % 2 ? NAN : check_rnd_val(&rng));
    if (g->prec == 32)
        for (size_t i = 0; i < nc; i++)
            c0[i] = cf[i];
    const int fake_before = fake_calls ? *fake_calls : 0;
    int rc;
    if (g->prec == 64) {
        rc = xsmmwrap_gemm(64, g->ta, g->tb, g->m, g->n, g->k, &g->alpha, a, g->lda, b, g->ldb,
                           &g->beta, c, g->ldc);
    } else {
        const float al = (float)g->alpha, be = (float)g->beta;
        rc = xsmmwrap_gemm(32, g->ta, g->tb, g->m, g->n, g->k, &al, af, g->lda, bf, g->ldb, &be,
                           cf, g->ldc);
        for (size_t i = 0; i < nc; i++)
            c[i] = cf[i];
    }
    int kernel;
    const xsmmwrap_route r = route_of(kind, reason, &kernel);
    want[r]++;
    want_kernel += (uint64_t)kernel;
    const int by_fake = r == XSMMWRAP_ROUTE_DISABLED || r == XSMMWRAP_ROUTE_TOO_LARGE;
    CHECK(rc == (kind == INVALID ? XSMMWRAP_EINVAL : XSMMWRAP_OK), "%s: status %d", what, rc);
    CHECK((fake_calls ? *fake_calls : 0) == fake_before + by_fake, "%s: the fake BLAS ran %d calls, want %d",
          what, (fake_calls ? *fake_calls : 0) - fake_before, by_fake);

    // C against alpha*op(A)*op(B) + beta*C (FAKE_VALUE where the fake BLAS ran, C untouched
    // when invalid), the ld padding kept.
    const double tol = g->prec == 64 ? 1e-12 : 1e-5;
    int bad = 0;
    for (int64_t j = 0; j < g->n; j++)
        for (int64_t i = 0; i < g->ldc && (j < g->n - 1 || i < g->m); i++) {
            const size_t x = (size_t)(j * g->ldc + i);
            double ref = c0[x], bnd = 0.0;
            if (i < g->m && kind != INVALID && by_fake) {
                ref = FAKE_VALUE;
            } else if (i < g->m && kind != INVALID) {
                double s = 0.0;
                for (int64_t p = 0; p < g->k && g->alpha != 0.0; p++) {
                    const double ap = g->prec == 64 ? a[is_t(g->ta) ? i * g->lda + p : p * g->lda + i]
                                                    : af[is_t(g->ta) ? i * g->lda + p : p * g->lda + i];
                    const double bp = g->prec == 64 ? b[is_t(g->tb) ? p * g->ldb + j : j * g->ldb + p]
                                                    : bf[is_t(g->tb) ? p * g->ldb + j : j * g->ldb + p];
                    s += ap * bp;
                    bnd += fabs(ap * bp);
                }
                ref = g->alpha * s + (g->beta == 0.0 ? 0.0 : g->beta * c0[x]);
                bnd = fabs(g->alpha) * bnd + (g->beta == 0.0 ? 0.0 : fabs(g->beta * c0[x]));
            }
            bad += !(fabs(c[x] - ref) <= tol * bnd) && !(isnan(ref) && isnan(c[x]));
        }
    CHECK(bad == 0, "%s: %d elements of C wrong", what, bad);
    check_counts(what);
    free(a), free(b), free(c), free(c0), free(af), free(bf), free(cf);
}

// Every kind of call once (twice for precision), in the current process state.
static void run_all(const char *phase)
{
    const int64_t big = ((int64_t)1 << 32) + 1;
    char what[128];
#define RUN(name, kind, reason, ...)                                                     \
    do {                                                                                 \
        snprintf(what, sizeof what, "%s: %s", phase, name);                              \
        run(what, kind, reason, &(call){ __VA_ARGS__ });                                 \
    } while (0)
    const xsmmwrap_route none = XSMMWRAP_ROUTE_COUNT;
    RUN("kernel", KERNEL, none, 64, 'N', 'T', 8, 8, 8, 8, 8, 8, 1.0, 0.0);
    RUN("kernel f32", KERNEL, none, 32, 'T', 'N', 5, 6, 7, 7, 7, 5, 0.37, 1.0);
    RUN("scale alpha 0", SCALE, none, 64, 'N', 'N', 8, 8, 8, 8, 8, 8, 0.0, 0.0);
    RUN("scale alpha 0 too large", SCALE, none, 64, 'T', 'N', 80, 70, 90, 90, 90, 80, 0.0, -1.0);
    RUN("scale k 0", SCALE, none, 32, 'N', 'N', 10, 12, 0, 10, 1, 11, 1.0, 0.37);
    RUN("too large", DECLINED, XSMMWRAP_ROUTE_TOO_LARGE, 64, 'N', 'N', 70, 70, 70, 70, 70, 70,
        1.0, 0.5);
    RUN("too large f32", DECLINED, XSMMWRAP_ROUTE_TOO_LARGE, 32, 'T', 'T', 65, 66, 67, 67, 66,
        65, -1.0, 0.0);
    // ld beyond 32 bits: neither a kernel's nor an LP64 original's (one column of A is read).
    RUN("lda > 2^32", FALLBACK, none, 64, 'N', 'N', 3, 2, 1, big, 1, 3, 0.37, 1.0);
    RUN("invalid transa", INVALID, none, 64, 'X', 'N', 4, 4, 4, 4, 4, 4, 1.0, 0.0);
    RUN("invalid ldc", INVALID, none, 32, 'N', 'N', 4, 4, 4, 4, 4, 3, 0.0, 1.0);
#undef RUN
}

int main(void)
{
    xsmmwrap_config cfg;
    CHECK(xsmmwrap_get_config(&cfg) == XSMMWRAP_OK, "xsmmwrap_get_config");
    disabled = cfg.disabled;
    CHECK(cfg.max_mnk == 64 * 64 * 64, "max_mnk %lld (run without XSMMWRAP_MAX_MNK)",
          (long long)cfg.max_mnk);
    // The only dgemm_ in the process is the wrapper's own entry point.
    Dl_info mine, found;
    void *own = dlsym(RTLD_DEFAULT, "dgemm_");
    CHECK(own && dladdr(own, &found) && dladdr((void *)&xsmmwrap_gemm, &mine) &&
              found.dli_fbase == mine.dli_fbase,
          "a dgemm_ other than the wrapper's is in the process before the fake");
    check_counts("start");

    // No original: declined calls run the portable kernel. (Too large is a fallback here.)
    fake_calls = NULL;
    run_all("no original");

    void *h = dlopen(FAKE_BLAS_PATH, RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL, "dlopen %s: %s", FAKE_BLAS_PATH, dlerror());
    if (!h)
        return check_summary();
    fake_calls = dlsym(h, "fake_blas_calls");
    CHECK(fake_calls != NULL, "fake_blas_calls not found");
    if (fake_calls)
        run_all("fake original");
    return check_summary();
}
