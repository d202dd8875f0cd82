// test_threads.c: many threads calling dgemm_, sgemm_, zgemm_ and cgemm_ at once on a shared pool
// of descriptors (complex ones with conjugate transposes and complex scalars).
// Built twice (tests/c/meson.build): test_threads_preload, linked with the system BLAS only
// and run under LD_PRELOAD=libxsmmwrap.so, and test_threads, linked with libxsmmwrap.so itself
// (in-process, for the sanitizer build). Either way the wrapper's API is found with dlsym.
//
// Phase 1: after a barrier every thread calls the descriptors in the same order, so that each
// kernel is wanted by all threads at the same moment. Phase 2: random descriptors. The pool
// also holds calls with nothing to multiply (alpha = 0 or k = 0), which the wrapper serves
// without a kernel (route scale). Every result is checked against a naive loop (NaN planted in
// A and B when alpha is 0, in C when beta is 0; the ld padding of C must survive). All of this
// runs twice, by a second set of threads after the first has exited (they inherit its counter
// blocks). A monitor thread reads the statistics meanwhile. At the end: intercepted == calls
// made, one kernel per distinct descriptor used and no descriptor twice, each kernel's call
// count equal to the calls made with its descriptor, every scale call counted as such; with
// LIBXSMM_TRYLOCK=1 some kernel-path calls may have gone to the original BLAS (route
// lock_busy) instead, never a scale call.
//
//   test_threads [THREADS [CALLS_PER_THREAD]]     defaults 8 and 1500
#define _GNU_SOURCE
#include <complex.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsmmwrap.h"

#include "check.h"

#define WAVES 2  // rounds of threads, one after the other

// The wrapper's API, looked up at run time: the preloaded build is not linked with it.
static int (*p_get_config)(xsmmwrap_config *);
static int (*p_get_stats)(xsmmwrap_stats *);
static int (*p_symbol_count)(void);
static int (*p_symbol_get)(int, const char **, uint64_t *);
static int (*p_kernel_count)(void);
static int (*p_kernel_get)(int, xsmmwrap_kernel_info *);

static void *need(const char *name)
{
    void *p = dlsym(RTLD_DEFAULT, name);
    if (!p) {
        printf("%s not found: run under LD_PRELOAD=libxsmmwrap.so\n", name);
        exit(2);
    }
    return p;
}

static void load_api(void)
{
    *(void **)&p_get_config = need("xsmmwrap_get_config");
    *(void **)&p_get_stats = need("xsmmwrap_get_stats");
    *(void **)&p_symbol_count = need("xsmmwrap_symbol_count");
    *(void **)&p_symbol_get = need("xsmmwrap_symbol_get");
    *(void **)&p_kernel_count = need("xsmmwrap_kernel_count");
    *(void **)&p_kernel_get = need("xsmmwrap_kernel_get");
}

#define POOL 200        // descriptors that need a kernel: the first POOL of pool[]
#define SCALE_POOL 40   // then calls with nothing to multiply: no kernel, route scale
#define ALL (POOL + SCALE_POOL)
#define MAXD 40   // largest M, N, K
#define MAXLD (MAXD + 3)
#define PAD_VALUE 777.25

typedef struct {
    int prec;               // bits of the element: 64 or 32 real, 128 or 64 complex
    int cplx;               // 1: zgemm_ (prec 128), cgemm_ (prec 64)
    int ta, tb;             // 0 'N', 1 'T', 2 'C' (complex only)
    int m, n, k, lda, ldb, ldc;
    int alpha_class, beta_class;  // 1, -1, 0, 2 (any other value) as in xsmmwrap_kernel_info
} desc;

enum { P_D, P_S, P_Z, P_C, P_COUNT };  // dgemm_ sgemm_ zgemm_ cgemm_
static const char prec_letter[P_COUNT] = { 'd', 's', 'z', 'c' };
static int kind_of(const desc *d) { return d->cplx ? (d->prec == 128 ? P_Z : P_C) : d->prec == 64 ? P_D : P_S; }

static desc pool[ALL];
static _Atomic uint64_t desc_calls[ALL];
static _Atomic uint64_t calls_by[P_COUNT], calls_scale;
static atomic_int failures;
static atomic_bool workers_done;
static pthread_barrier_t start;
static int calls_per_thread = 1500;

static int same_desc(const desc *a, const desc *b)
{
    return a->prec == b->prec && a->cplx == b->cplx && a->ta == b->ta && a->tb == b->tb && a->m == b->m &&
           a->n == b->n && a->k == b->k && a->lda == b->lda && a->ldb == b->ldb &&
           a->ldc == b->ldc && a->alpha_class == b->alpha_class && a->beta_class == b->beta_class;
}

static int max1(int x) { return x > 1 ? x : 1; }

static void make_pool(void)
{
    uint64_t s = 12345;
    static const int classes[] = { 1, -1, 2, 0 };  // 0 last: not for the kernel descriptors
    for (int i = 0; i < ALL;) {
        const bool scale = i >= POOL, k0 = scale && i % 4 == 0;  // a quarter of them k = 0
        desc d;
        const int kind = (int)(check_rng(&s) % 10);  // d 5/10, s 2/10, z 2/10, c 1/10
        d.cplx = kind >= 7;
        d.prec = kind < 5 ? 64 : kind < 7 ? 32 : kind < 9 ? 128 : 64;
        d.ta = check_rnd_in(&s, 0, d.cplx ? 2 : 1);
        d.tb = check_rnd_in(&s, 0, d.cplx ? 2 : 1);
        d.m = check_rnd_in(&s, 1, MAXD);
        d.n = check_rnd_in(&s, 1, MAXD);
        d.k = k0 ? 0 : check_rnd_in(&s, 1, MAXD);
        d.lda = max1(d.ta ? d.k : d.m) + check_rnd_in(&s, 0, 1) * check_rnd_in(&s, 1, 3);
        d.ldb = max1(d.tb ? d.n : d.k) + check_rnd_in(&s, 0, 1) * check_rnd_in(&s, 1, 3);
        d.ldc = d.m + check_rnd_in(&s, 0, 1) * check_rnd_in(&s, 1, 3);
        d.alpha_class = k0 ? classes[check_rnd_in(&s, 0, 3)]
                        : scale ? 0 : classes[check_rnd_in(&s, 0, 2)];
        d.beta_class = classes[check_rnd_in(&s, 0, 3)];
        int dup = 0;
        for (int j = 0; j < i && !dup; j++)
            dup = same_desc(&pool[j], &d);
        if (!dup)
            pool[i++] = d;
    }
}

// A scalar of class cls (2: any other value); complex: an imaginary part too, a zero of
// either sign for the classes 1, -1 and 0, and for "any" sometimes another value.
static double complex scalar_of(int cls, int cplx, uint64_t *s)
{
    static const double any[] = { 0.37, 2.5, -0.5, 1.25 }, im_any[] = { 0.0, 0.75, -0.5, 1.5 };
    const double re = cls == 2 ? any[check_rnd_in(s, 0, 3)] : (double)cls;
    if (!cplx)
        return re;
    const double im = cls == 2 ? im_any[check_rnd_in(s, 0, 3)] : check_rnd_in(s, 0, 1) ? -0.0 : 0.0;
    return CMPLX(re, im);
}

// Buffers of doubles; a complex element takes two, (re, im).
#define BUF (2 * MAXLD * MAXLD)
typedef struct {
    int id;
    uint64_t seed;
    double a[BUF], b[BUF], c[BUF];
    double complex ref[MAXLD * MAXLD];
    double bnd[MAXLD * MAXLD];
    float af[BUF], bf[BUF], cf[BUF];
} worker;

static double complex elem(const double *v, int x, int cplx)
{
    return cplx ? CMPLX(v[2 * x], v[2 * x + 1]) : v[x];
}

// |re| + |im|: at least |x|, and no square root (the error bounds only need an upper bound).
static double mag1(double complex x) { return fabs(creal(x)) + fabs(cimag(x)); }

static void one_call(worker *w, int di)
{
    const desc *d = &pool[di];
    const int kind = kind_of(d), cplx = d->cplx, parts = cplx ? 2 : 1;
    const int single = kind == P_S || kind == P_C;
    uint64_t *s = &w->seed;
    double complex alpha = scalar_of(d->alpha_class, cplx, s);
    double complex beta = scalar_of(d->beta_class, cplx, s);
    const int na = d->lda * (d->ta ? d->m : d->k) * parts, nb = d->ldb * (d->tb ? d->k : d->n) * parts;
    const int nc = d->ldc * d->n * parts;
    for (int i = 0; i < na; i++)
        w->a[i] = alpha == 0.0 && i % 4 == 1 ? NAN : check_rnd_val(s);
    for (int i = 0; i < nb; i++)
        w->b[i] = alpha == 0.0 && i % 4 == 2 ? NAN : check_rnd_val(s);
    for (int j = 0; j < d->n; j++)
        for (int i = 0; i < d->ldc * parts; i++)
            w->c[j * d->ldc * parts + i] = i >= d->m * parts                    ? PAD_VALUE
                                         : beta == 0.0 && (i / parts + j) % 3 == 0 ? NAN
                                                                                 : check_rnd_val(s);
    if (single) {
        for (int i = 0; i < na; i++)
            w->a[i] = w->af[i] = (float)w->a[i];
        for (int i = 0; i < nb; i++)
            w->b[i] = w->bf[i] = (float)w->b[i];
        for (int i = 0; i < nc; i++)
            w->c[i] = w->cf[i] = (float)w->c[i];
        alpha = CMPLX((float)creal(alpha), (float)cimag(alpha));
        beta = CMPLX((float)creal(beta), (float)cimag(beta));
    }
    for (int j = 0; j < d->n; j++)
        for (int i = 0; i < d->m; i++) {
            double complex sum = 0.0;
            double mag = 0.0;
            for (int p = 0; p < d->k && alpha != 0.0; p++) {
                double complex x = elem(w->a, d->ta ? i * d->lda + p : p * d->lda + i, cplx);
                double complex y = elem(w->b, d->tb ? p * d->ldb + j : j * d->ldb + p, cplx);
                x = d->ta == 2 ? conj(x) : x;
                y = d->tb == 2 ? conj(y) : y;
                sum += x * y;
                mag += mag1(x) * mag1(y);
            }
            const double complex c0 = elem(w->c, j * d->ldc + i, cplx);
            w->ref[j * d->ldc + i] = alpha * sum + (beta == 0.0 ? 0.0 : beta * c0);
            w->bnd[j * d->ldc + i] = cabs(alpha) * mag + (beta == 0.0 ? 0.0 : cabs(beta) * cabs(c0));
        }
    // Either spelling of each transpose: 'n' and 'N' must share a kernel.
    static const char *const spell[3] = { "Nn", "Tt", "Cc" };
    const char ta = spell[d->ta][check_rng(s) & 1], tb = spell[d->tb][check_rng(s) & 1];
    const double al[2] = { creal(alpha), cimag(alpha) }, be[2] = { creal(beta), cimag(beta) };
    const float alf[2] = { (float)al[0], (float)al[1] }, bef[2] = { (float)be[0], (float)be[1] };
    const int *m = &d->m, *n = &d->n, *k = &d->k, *lda = &d->lda, *ldb = &d->ldb, *ldc = &d->ldc;
    switch (kind) {
    case P_D: dgemm_(&ta, &tb, m, n, k, al, w->a, lda, w->b, ldb, be, w->c, ldc, 1, 1); break;
    case P_S: sgemm_(&ta, &tb, m, n, k, alf, w->af, lda, w->bf, ldb, bef, w->cf, ldc, 1, 1); break;
    case P_Z: zgemm_(&ta, &tb, m, n, k, al, w->a, lda, w->b, ldb, be, w->c, ldc, 1, 1); break;
    default: cgemm_(&ta, &tb, m, n, k, alf, w->af, lda, w->bf, ldb, bef, w->cf, ldc, 1, 1); break;
    }
    if (single)
        for (int i = 0; i < nc; i++)
            w->c[i] = w->cf[i];
    atomic_fetch_add(&calls_by[kind], 1);
    atomic_fetch_add(&desc_calls[di], 1);
    if (di >= POOL)
        atomic_fetch_add(&calls_scale, 1);
    const double tol = (single ? 1e-5 : 1e-12) * (cplx ? 3 : 1);
    int bad = 0;
    for (int j = 0; j < d->n; j++)
        for (int i = 0; i < d->ldc; i++) {
            const int x = j * d->ldc + i;
            const double complex got = elem(w->c, x, cplx);
            if (i >= d->m)
                bad += creal(got) != PAD_VALUE || (cplx && cimag(got) != PAD_VALUE);
            else
                bad += !isfinite(creal(got)) || !isfinite(cimag(got)) ||
                       !(cabs(got - w->ref[x]) <= tol * w->bnd[x] + 1e-300);
        }
    if (bad && atomic_fetch_add(&failures, 1) < 20)
        printf("FAIL thread %d: %cgemm_ %c%c %dx%dx%d ld %d %d %d alpha %g%+gi beta %g%+gi: %d "
               "wrong\n",
               w->id, prec_letter[kind], ta, tb, d->m, d->n, d->k, d->lda, d->ldb, d->ldc,
               creal(alpha), cimag(alpha), creal(beta), cimag(beta), bad);
}

static void *work(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(&start);
    for (int i = 0; i < ALL; i++)
        one_call(w, i);
    for (int i = 0; i < calls_per_thread; i++)
        one_call(w, check_rnd_in(&w->seed, 0, ALL - 1));
    return NULL;
}

// Reads the statistics while the workers run: the counts never go down.
static void *monitor(void *arg)
{
    long *reads = arg;
    uint64_t last = 0;
    int last_kernels = 0;
    while (!atomic_load(&workers_done)) {
        xsmmwrap_stats st;
        p_get_stats(&st);
        const int kc = p_kernel_count();
        if (st.intercepted < last || kc < last_kernels) {
            atomic_fetch_add(&failures, 1);
            printf("FAIL monitor: intercepted %llu after %llu, kernels %d after %d\n",
                   (unsigned long long)st.intercepted, (unsigned long long)last, kc, last_kernels);
        }
        last = st.intercepted;
        last_kernels = kc;
        if (kc > 0) {
            xsmmwrap_kernel_info ki;
            if (p_kernel_get(kc - 1, &ki) != XSMMWRAP_OK || ki.m < 1) {
                atomic_fetch_add(&failures, 1);
                printf("FAIL monitor: kernel %d unreadable\n", kc - 1);
            }
        }
        (*reads)++;
    }
    return NULL;
}

static uint64_t sym_calls(const char *want)
{
    for (int i = 0; i < p_symbol_count(); i++) {
        const char *name;
        uint64_t calls;
        if (p_symbol_get(i, &name, &calls) == XSMMWRAP_OK && strcmp(name, want) == 0)
            return calls;
    }
    return UINT64_MAX;
}

int main(int argc, char **argv)
{
    int n_threads = argc > 1 ? atoi(argv[1]) : 8;
    if (argc > 2)
        calls_per_thread = atoi(argv[2]);
    if (n_threads < 1 || n_threads > 256 || calls_per_thread < 0) {
        fprintf(stderr, "usage: %s [THREADS [CALLS_PER_THREAD]]\n", argv[0]);
        return 2;
    }
    load_api();
    make_pool();
    xsmmwrap_config cfg;
    CHECK(p_get_config(&cfg) == XSMMWRAP_OK, "xsmmwrap_get_config");
    const char *tl = getenv("LIBXSMM_TRYLOCK");
    const int trylock = tl && atoi(tl) == 1;
    CHECK(cfg.trylock == trylock, "config trylock %d, LIBXSMM_TRYLOCK %s", cfg.trylock,
          tl ? tl : "unset");
    CHECK(cfg.max_mnk >= 4 * (int64_t)MAXD * MAXD * MAXD, "max_mnk %lld too low for this test",
          (long long)cfg.max_mnk);
    xsmmwrap_stats before;
    p_get_stats(&before);
    const int kernels_before = p_kernel_count();
    CHECK(before.intercepted == 0 && kernels_before == 0, "calls before the test: %llu, kernels %d",
          (unsigned long long)before.intercepted, kernels_before);

    worker *w = calloc((size_t)n_threads, sizeof *w);
    pthread_t *tid = calloc((size_t)n_threads, sizeof *tid);
    if (!w || !tid) {
        printf("out of memory\n");
        return 2;
    }
    long reads = 0;
    pthread_t mon;
    pthread_create(&mon, NULL, monitor, &reads);
    // Two waves: the second one's threads take over the counters the first one's left behind
    // at exit, while their counts must stay where they were.
    for (int wave = 0; wave < WAVES; wave++) {
        pthread_barrier_init(&start, NULL, (unsigned)n_threads);
        for (int t = 0; t < n_threads; t++) {
            w[t].id = t;
            w[t].seed = 1000u + (uint64_t)(wave * n_threads + t);
            if (pthread_create(&tid[t], NULL, work, &w[t]) != 0) {
                printf("pthread_create failed\n");
                return 2;
            }
        }
        for (int t = 0; t < n_threads; t++)
            pthread_join(tid[t], NULL);
        pthread_barrier_destroy(&start);
    }
    atomic_store(&workers_done, true);
    pthread_join(mon, NULL);

    const uint64_t total = (uint64_t)WAVES * n_threads * (ALL + (uint64_t)calls_per_thread);
    uint64_t made = 0;
    for (int p = 0; p < P_COUNT; p++)
        made += atomic_load(&calls_by[p]);
    CHECK(made == total, "calls made");
    CHECK(atomic_load(&failures) == 0, "%d wrong results or monitor failures", atomic_load(&failures));

    xsmmwrap_stats st;
    CHECK(p_get_stats(&st) == XSMMWRAP_OK, "xsmmwrap_get_stats");
    const uint64_t kernel_path = st.by_route[XSMMWRAP_ROUTE_JIT] + st.by_route[XSMMWRAP_ROUTE_PORTABLE];
    const uint64_t busy = st.by_route[XSMMWRAP_ROUTE_LOCK_BUSY];
    const uint64_t scale = st.by_route[XSMMWRAP_ROUTE_SCALE];
    CHECK(st.intercepted == total, "intercepted %llu, calls %llu", (unsigned long long)st.intercepted,
          (unsigned long long)total);
    for (int p = 0; p < P_COUNT; p++) {
        const char name[] = { prec_letter[p], 'g', 'e', 'm', 'm', '_', 0 };
        CHECK(atomic_load(&calls_by[p]) > 0, "no %s call made", name);
        CHECK(sym_calls(name) == atomic_load(&calls_by[p]), "%s counted %llu, made %llu", name,
              (unsigned long long)sym_calls(name), (unsigned long long)atomic_load(&calls_by[p]));
    }
    CHECK(scale == atomic_load(&calls_scale), "scale %llu, calls with nothing to multiply %llu",
          (unsigned long long)scale, (unsigned long long)atomic_load(&calls_scale));
    CHECK(kernel_path + busy + scale == total, "kernel path %llu + lock_busy %llu + scale %llu != %llu",
          (unsigned long long)kernel_path, (unsigned long long)busy, (unsigned long long)scale,
          (unsigned long long)total);
    if (!trylock)
        CHECK(busy == 0, "lock_busy %llu without LIBXSMM_TRYLOCK", (unsigned long long)busy);
    for (int r = 0; r < XSMMWRAP_ROUTE_COUNT; r++)
        if (r != XSMMWRAP_ROUTE_JIT && r != XSMMWRAP_ROUTE_PORTABLE && r != XSMMWRAP_ROUTE_SCALE &&
            r != XSMMWRAP_ROUTE_LOCK_BUSY)
            CHECK(st.by_route[r] == 0, "route %d: %llu calls", r, (unsigned long long)st.by_route[r]);

    // One kernel per distinct descriptor used, none twice, calls as made.
    int used = 0;
    for (int i = 0; i < POOL; i++)
        used += atomic_load(&desc_calls[i]) > 0;
    const int kc = p_kernel_count();
    if (trylock)
        CHECK(kc <= used && kc > 0, "%d kernels for %d descriptors", kc, used);
    else
        CHECK(kc == used, "%d kernels for %d descriptors", kc, used);
    CHECK((uint64_t)kc == st.kernels, "kernel_count %d, stats.kernels %llu", kc,
          (unsigned long long)st.kernels);
    static int seen[POOL];
    uint64_t kernel_calls = 0;
    int matched = 0;
    for (int i = 0; i < kc; i++) {
        xsmmwrap_kernel_info ki;
        if (p_kernel_get(i, &ki) != XSMMWRAP_OK) {
            CHECK(0, "xsmmwrap_kernel_get(%d)", i);
            continue;
        }
        const int ta = ki.trans_a == 'T' ? 1 : ki.trans_a == 'C' ? 2 : 0;
        const int tb = ki.trans_b == 'T' ? 1 : ki.trans_b == 'C' ? 2 : 0;
        const desc want = { ki.precision, ki.is_complex, ta, tb, (int)ki.m,
                            (int)ki.n, (int)ki.k, (int)ki.lda, (int)ki.ldb, (int)ki.ldc,
                            ki.alpha_class, ki.beta_class };
        int found = -1;
        for (int j = 0; j < POOL && found < 0; j++)
            if (same_desc(&pool[j], &want))
                found = j;
        if (found < 0) {
            CHECK(0, "kernel %d (%dx%dx%d) matches no descriptor", i, want.m, want.n, want.k);
            continue;
        }
        if (seen[found]++) {
            CHECK(0, "descriptor %d has a second kernel (%d)", found, i);
            continue;
        }
        matched++;
        kernel_calls += ki.calls;
        const uint64_t made = atomic_load(&desc_calls[found]);
        if (trylock)
            CHECK(ki.calls <= made, "kernel %d: %llu calls of %llu", i,
                  (unsigned long long)ki.calls, (unsigned long long)made);
        else
            CHECK(ki.calls == made, "kernel %d: %llu calls, %llu made", i,
                  (unsigned long long)ki.calls, (unsigned long long)made);
    }
    CHECK(matched == kc, "%d of %d kernels matched", matched, kc);
    CHECK(kernel_calls == kernel_path, "kernel calls %llu, kernel path %llu",
          (unsigned long long)kernel_calls, (unsigned long long)kernel_path);
    CHECK(reads > 0, "the monitor never read the statistics");

    printf("threads %d calls %llu descriptors %d kernels %d jit %llu scale %llu lock_busy %llu "
           "monitor_reads %ld\n",
           n_threads, (unsigned long long)total, used, kc, (unsigned long long)st.jit_kernels,
           (unsigned long long)scale, (unsigned long long)busy, reads);
    const int status = check_summary();
    free(w);
    free(tid);
    return status;
}
