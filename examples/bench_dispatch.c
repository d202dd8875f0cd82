// bench_dispatch.c: what it costs to reach a kernel: an empty call (reference), the original
// BLAS, generating a kernel (first call of a new shape), finding a generated one while cycling
// over many shapes, and finding it again for the same shape (the thread's last call). Linked
// with libxsmmwrap.a through ld --wrap=dgemm_: dgemm_ goes through the wrapper, __real_dgemm_
// to the system BLAS.
//
//   bench-dispatch [--json] [--seed S] [n [threads]]    (n distinct shapes, default 10000)
//
// The shapes are tiny (M, N, K <= 4) and made distinct by their leading dimensions, so that the
// multiply itself costs a few nanoseconds and the time is the way to the kernel. With several
// threads all of them ask for the same shapes at the same time: the contended worst case.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sample_util.h"
#include "xsmmwrap.h"

void __real_dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
                   const double *alpha, const double *a, const int *lda, const double *b,
                   const int *ldb, const double *beta, double *c, const int *ldc, size_t lta,
                   size_t ltb);

enum { MAX_MNK = 4, MIN_REPEAT = 200000, MAX_THREADS = 256 };

typedef struct {
    int m, n, k, lda, ldb, ldc;
} shape;

typedef enum { PH_EMPTY, PH_BLAS, PH_GENERATE, PH_UNCACHED, PH_CACHED, PH_COUNT } phase;
static const char *const phase_key[PH_COUNT] = { "empty", "blas", "generate", "dispatch_uncached",
                                                 "dispatch_cached" };
static const char *const phase_text[PH_COUNT] = {
    "empty function call (reference)",
    "original BLAS call, tiny shapes",
    "generate a kernel (first call of a shape)",
    "find a kernel, cycling over the shapes",
    "find a kernel, same shape again (cached)",
};

typedef struct {
    const shape *shapes;
    long n, repeat;
    int ld_max;
    pthread_barrier_t *barrier;
    sample_progress *progress;  // thread 0 only
    double ns[PH_COUNT];
} worker;

__attribute__((noinline)) static void empty_fn(const void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }
static void (*volatile empty_ptr)(const void *) = empty_fn;

static void blas_call(const shape *s, const double *a, const double *b, double *c)
{
    const double one = 1.0;
    __real_dgemm_("N", "N", &s->m, &s->n, &s->k, &one, a, &s->lda, b, &s->ldb, &one, c, &s->ldc, 1,
                  1);
}

static void wrap_call(const shape *s, const double *a, const double *b, double *c)
{
    sample_dgemm('N', 'N', s->m, s->n, s->k, 1.0, a, s->lda, b, s->ldb, 1.0, c, s->ldc);
}

static void tick(worker *w, long done, double total)
{
    if (w->progress && (done & 4095) == 0)
        sample_progress_update(w->progress, (double)done, total);
}

static void *run(void *arg)
{
    worker *w = arg;
    const size_t len = (size_t)w->ld_max * MAX_MNK;
    double *a = calloc(len, sizeof *a), *b = calloc(len, sizeof *b), *c = calloc(len, sizeof *c);
    if (!a || !b || !c)
        abort();
    for (size_t i = 0; i < len; i++) {
        a[i] = (double)(i % 3) - 1.0;
        b[i] = (double)(i % 5) - 2.0;
    }
    const long n = w->n, rep = w->repeat;
    for (int p = 0; p < PH_COUNT; p++) {
        // The empty call takes ~2 ns: ten times the calls keep its timing above the noise.
        const long calls = p == PH_GENERATE ? n : p == PH_EMPTY ? 10 * rep : rep;
        if (w->progress)
            sample_progress_label(w->progress, phase_key[p]);
        pthread_barrier_wait(w->barrier);
        const double t0 = sample_seconds();
        switch ((phase)p) {
        case PH_EMPTY:
            for (long i = 0; i < calls; i++)
                empty_ptr(a);
            break;
        case PH_BLAS:
            for (long i = 0, j = 0; i < calls; i++, j = j + 1 < n ? j + 1 : 0) {
                blas_call(&w->shapes[j], a, b, c);
                tick(w, i, (double)calls);
            }
            break;
        case PH_GENERATE:
            for (long i = 0; i < calls; i++) {
                wrap_call(&w->shapes[i], a, b, c);
                tick(w, i, (double)calls);
            }
            break;
        case PH_UNCACHED:
            for (long i = 0, j = 0; i < calls; i++, j = j + 1 < n ? j + 1 : 0) {
                wrap_call(&w->shapes[j], a, b, c);
                tick(w, i, (double)calls);
            }
            break;
        case PH_CACHED:
            for (long i = 0; i < calls; i++)
                wrap_call(&w->shapes[0], a, b, c);
            break;
        case PH_COUNT:
            break;
        }
        w->ns[p] = 1e9 * (sample_seconds() - t0) / (double)calls;
        if (w->progress)
            sample_progress_end(w->progress);
    }
    free(a);
    free(b);
    free(c);
    return NULL;
}

// n distinct shapes in random order: M, N, K in [1, MAX_MNK], each leading dimension its
// minimum plus up to ld_extra - 1.
static shape *make_shapes(long n, uint64_t seed, int *ld_max)
{
    int extra = 32;
    while ((double)MAX_MNK * MAX_MNK * MAX_MNK * extra * extra * extra < 4.0 * (double)n)
        extra *= 2;
    *ld_max = MAX_MNK + extra;
    size_t cap = 16;
    while (cap < 2 * (size_t)n)
        cap *= 2;
    uint64_t *seen = calloc(cap, sizeof *seen);
    shape *s = malloc((size_t)n * sizeof *s);
    if (!seen || !s)
        abort();
    sample_rng rng;
    sample_rng_seed(&rng, seed);
    for (long i = 0; i < n;) {
        shape t;
        t.m = sample_rng_int(&rng, 1, MAX_MNK);
        t.n = sample_rng_int(&rng, 1, MAX_MNK);
        t.k = sample_rng_int(&rng, 1, MAX_MNK);
        t.lda = t.m + sample_rng_int(&rng, 0, extra - 1);
        t.ldb = t.k + sample_rng_int(&rng, 0, extra - 1);
        t.ldc = t.m + sample_rng_int(&rng, 0, extra - 1);
        const uint64_t key = 1 + ((((uint64_t)t.m * 8 + (uint64_t)t.n) * 8 + (uint64_t)t.k) << 48 |
                                  (uint64_t)t.lda << 32 | (uint64_t)t.ldb << 16 | (uint64_t)t.ldc);
        size_t h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
        while (seen[h] && seen[h] != key)
            h = (h + 1) & (cap - 1);
        if (seen[h])
            continue;
        seen[h] = key;
        s[i++] = t;
    }
    free(seen);
    return s;
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--json] [--seed S] [n [threads]]\n", prog);
    return 2;
}

int main(int argc, char **argv)
{
    long n = 10000, nthreads = 1;
    uint64_t seed = 42;
    int json = 0, npos = 0;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], &end, 10);
            if (*end)
                return usage(argv[0]);
        } else if (npos < 2 && argv[i][0] != '-') {
            const long v = strtol(argv[i], &end, 10);
            if (*end || v < 1)
                return usage(argv[0]);
            *(npos++ ? &nthreads : &n) = v;
        } else {
            return usage(argv[0]);
        }
    }
    if (nthreads > MAX_THREADS || n > 100000000L)
        return usage(argv[0]);

    int ld_max;
    shape *shapes = make_shapes(n, seed, &ld_max);
    const long repeat = n > MIN_REPEAT ? n : MIN_REPEAT;
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
    worker *w = calloc((size_t)nthreads, sizeof *w);
    pthread_t *tid = calloc((size_t)nthreads, sizeof *tid);
    sample_progress progress;
    sample_progress_begin(&progress, "bench-dispatch");
    if (!w || !tid)
        abort();
    sample_wrapper_reset();
    for (long t = 0; t < nthreads; t++) {
        w[t] = (worker){ shapes, n, repeat, ld_max, &barrier, t ? NULL : &progress, { 0 } };
        if (t && pthread_create(&tid[t], NULL, run, &w[t]) != 0) {
            fprintf(stderr, "bench-dispatch: cannot start thread %ld\n", t);
            return 1;
        }
    }
    run(&w[0]);
    for (long t = 1; t < nthreads; t++)
        pthread_join(tid[t], NULL);

    double mean[PH_COUNT] = { 0 }, worst[PH_COUNT] = { 0 };
    for (int p = 0; p < PH_COUNT; p++) {
        for (long t = 0; t < nthreads; t++) {
            mean[p] += w[t].ns[p] / (double)nthreads;
            if (w[t].ns[p] > worst[p])
                worst[p] = w[t].ns[p];
        }
    }
    xsmmwrap_stats st;
    xsmmwrap_config cfg;
    xsmmwrap_get_stats(&st);
    xsmmwrap_get_config(&cfg);
    const uint64_t kernel_calls = st.by_route[XSMMWRAP_ROUTE_JIT] + st.by_route[XSMMWRAP_ROUTE_PORTABLE];

    if (json) {
        printf("{\"program\": \"bench-dispatch\", \"n\": %ld, \"threads\": %ld, \"seed\": %llu, "
               "\"repeat\": %ld, \"target\": \"%s\", \"blas_core\": ",
               n, nthreads, (unsigned long long)seed, repeat, xsmmwrap_target_name(cfg.target));
        sample_json_string(stdout, sample_blas_core());
        printf(", \"ns\": {");
        for (int p = 0; p < PH_COUNT; p++)
            printf("%s\"%s\": %.6g", p ? ", " : "", phase_key[p], mean[p]);
        printf("}, \"ns_max\": {");
        for (int p = 0; p < PH_COUNT; p++)
            printf("%s\"%s\": %.6g", p ? ", " : "", phase_key[p], worst[p]);
        printf("}, \"intercepted\": %llu, \"kernel_calls\": %llu, \"jit_calls\": %llu, "
               "\"kernels\": %llu, \"jit_kernels\": %llu, \"jit_failures\": %llu}\n",
               (unsigned long long)st.intercepted, (unsigned long long)kernel_calls,
               (unsigned long long)st.by_route[XSMMWRAP_ROUTE_JIT],
               (unsigned long long)st.kernels, (unsigned long long)st.jit_kernels,
               (unsigned long long)st.jit_failures);
    } else {
        printf("bench-dispatch: %ld distinct shapes (M,N,K <= %d), %ld thread(s), seed %llu, "
               "target %s\n",
               n, MAX_MNK, nthreads, (unsigned long long)seed, xsmmwrap_target_name(cfg.target));
        for (int p = 0; p < PH_COUNT; p++)
            printf("  %-44s %10.1f ns\n", phase_text[p], mean[p]);
        printf("  kernels: %llu (%llu generated), calls on the kernel path: %llu of %llu\n",
               (unsigned long long)st.kernels, (unsigned long long)st.jit_kernels,
               (unsigned long long)kernel_calls, (unsigned long long)st.intercepted);
    }
    pthread_barrier_destroy(&barrier);
    free(shapes);
    free(w);
    free(tid);
    if (kernel_calls != st.intercepted)
        fprintf(stderr, "bench-dispatch: %llu calls declined by the kernel path (registry full? "
                "raise XSMMWRAP_MAX_KERNELS)\n", (unsigned long long)(st.intercepted - kernel_calls));
    return 0;
}
