// test_static_wrap.c: the static archive under `ld --wrap=dgemm_,--wrap=sgemm_`. The program
// calls dgemm_ and sgemm_ like any Fortran-style caller; the linker sends the calls to
// __wrap_dgemm_ / __wrap_sgemm_ in libxsmmwrap.a, whose declined calls reach the system BLAS
// through __real_dgemm_ / __real_sgemm_. Small products must be served on the kernel path,
// large ones by the original (route too_large), and calls with nothing to multiply (alpha = 0
// or k = 0) by the wrapper at any size (route scale, A and B full of NaN): all equal to a naive
// loop, and the statistics must say so call for call. Prints "N passed, M failed"; exit
// status 1 on any failure.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsmmwrap.h"

#include "check.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double rnd(void) { return check_rnd_val(&rng); }

typedef struct {
    char ta, tb;
    int m, n, k, pa, pb, pc;  // pa/pb/pc: leading dimension minus the least valid one
    double alpha, beta;
} gemm_case;

static int max1(int x) { return x > 1 ? x : 1; }
static int is_t(char t) { return t != 'N' && t != 'n'; }
// C = beta*C only: the wrapper's at any size, with no kernel.
static int is_scale(const gemm_case *g) { return g->alpha == 0.0 || !g->m || !g->n || !g->k; }

#define PAD_VALUE 777.25  // exact in float: the ld padding of C must keep it

// Runs one case in precision 64 or 32 through dgemm_/sgemm_ and checks it against a naive
// loop in double; NaN is planted where BLAS must not read (A, B when alpha = 0; C when
// beta = 0).
static void run_case(int prec, const gemm_case *g)
{
    const int ra = is_t(g->ta) ? g->k : g->m, ca = is_t(g->ta) ? g->m : g->k;
    const int rb = is_t(g->tb) ? g->n : g->k, cb = is_t(g->tb) ? g->k : g->n;
    const int lda = max1(ra) + g->pa, ldb = max1(rb) + g->pb, ldc = max1(g->m) + g->pc;
    const size_t na = (size_t)lda * (size_t)max1(ca), nb = (size_t)ldb * (size_t)max1(cb);
    const size_t nc = (size_t)ldc * (size_t)max1(g->n);
    double *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    double *ref = malloc(nc * sizeof *ref), *bnd = malloc(nc * sizeof *bnd);
    float *af = malloc(na * sizeof *af), *bf = malloc(nb * sizeof *bf), *cf = malloc(nc * sizeof *cf);
    if (!a || !b || !c || !ref || !bnd || !af || !bf || !cf) {
        printf("out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < na; i++)
        a[i] = g->alpha == 0.0 && i % 3 == 0 ? NAN : rnd();
    for (size_t i = 0; i < nb; i++)
        b[i] = g->alpha == 0.0 && i % 3 == 1 ? NAN : rnd();
    for (size_t i = 0; i < nc; i++)
        c[i] = PAD_VALUE;
    for (int j = 0; j < g->n; j++)
        for (int i = 0; i < g->m; i++)
            c[(size_t)j * ldc + i] = g->beta == 0.0 && (i + j) % 2 ? NAN : rnd();
    if (prec == 32) {  // the data as float, and the reference from exactly those values
        for (size_t i = 0; i < na; i++)
            a[i] = af[i] = (float)a[i];
        for (size_t i = 0; i < nb; i++)
            b[i] = bf[i] = (float)b[i];
        for (size_t i = 0; i < nc; i++)
            c[i] = cf[i] = (float)c[i];
    }
    // ref = alpha*op(A)*op(B) + beta*C, and bnd the magnitudes an error is relative to.
    memcpy(ref, c, nc * sizeof *ref);
    for (int j = 0; j < g->n; j++)
        for (int i = 0; i < g->m; i++) {
            double s = 0.0, mag = 0.0;
            for (int p = 0; p < g->k && g->alpha != 0.0; p++) {
                const double x = is_t(g->ta) ? a[(size_t)i * lda + p] : a[(size_t)p * lda + i];
                const double y = is_t(g->tb) ? b[(size_t)p * ldb + j] : b[(size_t)j * ldb + p];
                s += x * y;
                mag += fabs(x * y);
            }
            const size_t x = (size_t)j * ldc + i;
            const double c0 = ref[x];
            ref[x] = g->alpha * s + (g->beta == 0.0 ? 0.0 : g->beta * c0);
            bnd[x] = fabs(g->alpha) * mag + (g->beta == 0.0 ? 0.0 : fabs(g->beta * c0));
        }

    const int m = g->m, n = g->n, k = g->k;
    if (prec == 64) {
        dgemm_(&g->ta, &g->tb, &m, &n, &k, &g->alpha, a, &lda, b, &ldb, &g->beta, c, &ldc, 1, 1);
    } else {
        const float al = (float)g->alpha, be = (float)g->beta;
        sgemm_(&g->ta, &g->tb, &m, &n, &k, &al, af, &lda, bf, &ldb, &be, cf, &ldc, 1, 1);
        for (size_t i = 0; i < nc; i++)
            c[i] = cf[i];
    }

    const double tol = prec == 64 ? 1e-12 : 1e-5;
    int bad = 0, pad_bad = 0;
    for (int j = 0; j < max1(n); j++)
        for (int i = 0; i < ldc; i++) {
            const size_t x = (size_t)j * ldc + i;
            if (i >= m || j >= n) {
                pad_bad += c[x] != PAD_VALUE;
                continue;
            }
            if (!isfinite(c[x]) || !(fabs(c[x] - ref[x]) <= tol * bnd[x] + 1e-300))
                bad++;
        }
    CHECK(bad == 0, "%cgemm_ %c%c m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g: %d wrong",
          prec == 64 ? 'd' : 's', g->ta, g->tb, m, n, k, lda, ldb, ldc, g->alpha, g->beta, bad);
    CHECK(pad_bad == 0, "%cgemm_ %dx%dx%d: %d padding elements of C changed",
          prec == 64 ? 'd' : 's', m, n, k, pad_bad);
    free(a), free(b), free(c), free(ref), free(bnd), free(af), free(bf), free(cf);
}

static uint64_t sym_calls(const char *want)
{
    for (int i = 0; i < xsmmwrap_symbol_count(); i++) {
        const char *name;
        uint64_t calls;
        if (xsmmwrap_symbol_get(i, &name, &calls) == XSMMWRAP_OK && strcmp(name, want) == 0)
            return calls;
    }
    printf("symbol %s not listed\n", want);
    check_failed++;
    return UINT64_MAX;
}

int main(void)
{
    static const gemm_case small[] = {
        { 'N', 'N', 8, 8, 8, 0, 0, 0, 1.0, 0.0 },
        { 'N', 'T', 5, 7, 3, 2, 1, 3, 1.0, 1.0 },
        { 'T', 'N', 13, 4, 9, 0, 5, 1, -1.0, 0.37 },
        { 'T', 'T', 23, 17, 11, 1, 0, 2, 0.37, -1.0 },
        { 'n', 't', 1, 1, 1, 0, 0, 0, 0.0, 0.0 },
        { 'C', 'c', 32, 32, 32, 4, 4, 4, 2.5, 1.0 },
        { 'N', 'N', 64, 64, 64, 0, 0, 0, 1.0, 1.0 },   // M*N*K == 64^3: still a kernel
        { 'N', 'T', 3, 80, 40, 0, 0, 0, 0.0, -1.0 },
        { 'T', 'N', 5, 6, 0, 0, 0, 0, 1.0, 0.37 },     // k == 0: C = beta*C
    };
    static const gemm_case large[] = {
        { 'N', 'N', 65, 65, 65, 0, 0, 0, 1.0, 0.0 },
        { 'T', 'N', 100, 90, 80, 3, 0, 1, 0.37, 1.0 },
        { 'N', 'T', 2, 400, 400, 0, 2, 0, -1.0, 0.37 },
        { 'T', 'T', 70, 70, 70, 1, 1, 1, 0.0, 0.0 },   // alpha = 0: scale, whatever the size
        { 'N', 'T', 100, 90, 80, 0, 2, 1, 0.0, 1.0 },
        { 'T', 'N', 90, 100, 80, 2, 0, 0, 0.0, 0.37 },
        { 'N', 'N', 300, 200, 0, 0, 0, 3, 1.0, -1.0 },  // k = 0: scale
    };
    const int n_small = (int)(sizeof small / sizeof *small);
    const int n_large = (int)(sizeof large / sizeof *large);
    int small_scale = 0, large_scale = 0;
    for (int i = 0; i < n_small; i++)
        small_scale += is_scale(&small[i]);
    for (int i = 0; i < n_large; i++)
        large_scale += is_scale(&large[i]);
    CHECK(small_scale == 3 && large_scale == 4, "scale cases: %d small, %d large", small_scale,
          large_scale);

    xsmmwrap_config cfg;
    CHECK(xsmmwrap_get_config(&cfg) == XSMMWRAP_OK, "xsmmwrap_get_config");
    CHECK(cfg.max_mnk == 64 * 64 * 64, "max_mnk %lld (run without XSMMWRAP_MAX_MNK)",
          (long long)cfg.max_mnk);
    CHECK(xsmmwrap_reset_stats() == XSMMWRAP_OK, "xsmmwrap_reset_stats");

    // Small products: on the kernel path, but for those with nothing to multiply.
    for (int prec = 64; prec >= 32; prec -= 32)
        for (int i = 0; i < n_small; i++)
            run_case(prec, &small[i]);
    xsmmwrap_stats st;
    CHECK(xsmmwrap_get_stats(&st) == XSMMWRAP_OK, "xsmmwrap_get_stats");
    const uint64_t kernel_path = st.by_route[XSMMWRAP_ROUTE_JIT] + st.by_route[XSMMWRAP_ROUTE_PORTABLE];
    CHECK(st.intercepted == 2u * n_small, "intercepted %llu, want %d",
          (unsigned long long)st.intercepted, 2 * n_small);
    CHECK(kernel_path == 2u * (n_small - small_scale), "kernel path %llu, want %d",
          (unsigned long long)kernel_path, 2 * (n_small - small_scale));
    CHECK(st.by_route[XSMMWRAP_ROUTE_SCALE] == 2u * small_scale, "scale %llu, want %d",
          (unsigned long long)st.by_route[XSMMWRAP_ROUTE_SCALE], 2 * small_scale);
    CHECK(st.by_route[XSMMWRAP_ROUTE_TOO_LARGE] == 0, "too_large %llu after small calls only",
          (unsigned long long)st.by_route[XSMMWRAP_ROUTE_TOO_LARGE]);
    CHECK(sym_calls("dgemm_") == (uint64_t)n_small, "dgemm_ calls");
    CHECK(sym_calls("sgemm_") == (uint64_t)n_small, "sgemm_ calls");
    // One kernel per small case that multiplies (C = beta*C needs none).
    const int kernels = xsmmwrap_kernel_count();
    CHECK(kernels == 2 * (n_small - small_scale), "%d kernels, want %d", kernels,
          2 * (n_small - small_scale));
    uint64_t kernel_calls = 0;
    for (int i = 0; i < kernels; i++) {
        xsmmwrap_kernel_info ki;
        CHECK(xsmmwrap_kernel_get(i, &ki) == XSMMWRAP_OK, "xsmmwrap_kernel_get(%d)", i);
        CHECK(ki.calls == 1, "kernel %d: %llu calls", i, (unsigned long long)ki.calls);
        CHECK(ki.m * ki.n * ki.k <= cfg.max_mnk, "kernel %d is %lldx%lldx%lld", i,
              (long long)ki.m, (long long)ki.n, (long long)ki.k);
        kernel_calls += ki.calls;
    }
    CHECK(kernel_calls == kernel_path, "kernel calls %llu", (unsigned long long)kernel_calls);

    // Large products: declined (too_large), computed by the system BLAS through __real_; those
    // with nothing to multiply served by the wrapper all the same.
    CHECK(xsmmwrap_reset_stats() == XSMMWRAP_OK, "xsmmwrap_reset_stats");
    for (int prec = 64; prec >= 32; prec -= 32)
        for (int i = 0; i < n_large; i++)
            run_case(prec, &large[i]);
    CHECK(xsmmwrap_get_stats(&st) == XSMMWRAP_OK, "xsmmwrap_get_stats");
    CHECK(st.intercepted == 2u * n_large, "intercepted %llu, want %d",
          (unsigned long long)st.intercepted, 2 * n_large);
    CHECK(st.by_route[XSMMWRAP_ROUTE_TOO_LARGE] == 2u * (n_large - large_scale),
          "too_large %llu, want %d", (unsigned long long)st.by_route[XSMMWRAP_ROUTE_TOO_LARGE],
          2 * (n_large - large_scale));
    CHECK(st.by_route[XSMMWRAP_ROUTE_SCALE] == 2u * large_scale, "scale %llu, want %d",
          (unsigned long long)st.by_route[XSMMWRAP_ROUTE_SCALE], 2 * large_scale);
    CHECK(sym_calls("dgemm_") == (uint64_t)n_large, "dgemm_ calls");
    CHECK(sym_calls("sgemm_") == (uint64_t)n_large, "sgemm_ calls");
    CHECK(xsmmwrap_kernel_count() == kernels, "large calls made kernels");

    return check_summary();
}
