// test_static_wrap.c: the static archive under `ld --wrap=dgemm_,--wrap=sgemm_,--wrap=zgemm_,
// --wrap=cgemm_`. The program calls the four like any Fortran-style caller; the linker sends the
// calls to __wrap_dgemm_... in libxsmmwrap.a, whose declined calls reach the system BLAS through
// __real_dgemm_... Small products must be served on the kernel path, large ones by the original
// (route too_large; a complex call counts 4*M*N*K against the threshold), and calls with
// nothing to multiply (alpha = 0 or k = 0) by the wrapper at any size (route scale, A and B full
// of NaN): all equal to a naive loop (complex: conjugate transposes and complex scalars), and
// the statistics must say so call for call. Prints "N passed, M failed"; exit status 1 on any
// failure.
#include <complex.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsmmwrap.h"

#include "check.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double rnd(void) { return check_rnd_val(&rng); }

// alpha_im, beta_im: the imaginary parts in complex runs (real runs leave them out).
typedef struct {
    char ta, tb;
    int m, n, k, pa, pb, pc;  // pa/pb/pc: leading dimension minus the least valid one
    double alpha, beta, alpha_im, beta_im;
} gemm_case;

static int max1(int x) { return x > 1 ? x : 1; }
static int is_t(char t) { return t != 'N' && t != 'n'; }
static int is_complex(char prec) { return prec == 'z' || prec == 'c'; }

typedef enum { R_KERNEL, R_SCALE, R_TOO_LARGE, R_COUNT } route;

// Where a call of precision prec ('d', 's', 'z', 'c') must go: C = beta*C only is the wrapper's
// at any size, with no kernel; the threshold counts real multiply-adds (a complex one is four).
static route route_of(char prec, const gemm_case *g, int64_t max_mnk)
{
    const double alpha_im = is_complex(prec) ? g->alpha_im : 0.0;
    if ((g->alpha == 0.0 && alpha_im == 0.0) || !g->m || !g->n || !g->k)
        return R_SCALE;
    const int64_t work = (is_complex(prec) ? 4 : 1) * (int64_t)g->m * g->n * g->k;
    return work > max_mnk ? R_TOO_LARGE : R_KERNEL;
}

#define PAD_VALUE 777.25  // exact in float: the ld padding of C must keep it

// Element x of a matrix held as doubles: (re, im) pairs when complex.
static double complex elem(const double *v, size_t x, int cplx)
{
    return cplx ? v[2 * x] + I * v[2 * x + 1] : v[x];
}

// |re| + |im|: at least |x|, and no square root (the error bounds only need an upper bound).
static double mag1(double complex x) { return fabs(creal(x)) + fabs(cimag(x)); }

// Runs one case in precision prec through dgemm_, sgemm_, zgemm_ or cgemm_ and checks it
// against a naive loop in double (complex); NaN is planted where BLAS must not read (A, B when
// alpha = 0; C when beta = 0).
static void run_case(char prec, const gemm_case *g)
{
    const int cplx = is_complex(prec), parts = cplx ? 2 : 1;
    const int conj_a = cplx && (g->ta == 'C' || g->ta == 'c');
    const int conj_b = cplx && (g->tb == 'C' || g->tb == 'c');
    const double complex alpha = g->alpha + I * (cplx ? g->alpha_im : 0.0);
    const double complex beta = g->beta + I * (cplx ? g->beta_im : 0.0);
    const int ra = is_t(g->ta) ? g->k : g->m, ca = is_t(g->ta) ? g->m : g->k;
    const int rb = is_t(g->tb) ? g->n : g->k, cb = is_t(g->tb) ? g->k : g->n;
    const int lda = max1(ra) + g->pa, ldb = max1(rb) + g->pb, ldc = max1(g->m) + g->pc;
    const size_t na = (size_t)lda * (size_t)max1(ca) * parts;
    const size_t nb = (size_t)ldb * (size_t)max1(cb) * parts;
    const size_t nc = (size_t)ldc * (size_t)max1(g->n) * parts;
    double *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    double complex *ref = malloc(nc * sizeof *ref);
    double *bnd = malloc(nc * sizeof *bnd);
    float *af = malloc(na * sizeof *af), *bf = malloc(nb * sizeof *bf), *cf = malloc(nc * sizeof *cf);
    if (!a || !b || !c || !ref || !bnd || !af || !bf || !cf) {
        printf("out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < na; i++)
        a[i] = alpha == 0.0 && i % 3 == 0 ? NAN : rnd();
    for (size_t i = 0; i < nb; i++)
        b[i] = alpha == 0.0 && i % 3 == 1 ? NAN : rnd();
    for (size_t i = 0; i < nc; i++)
        c[i] = PAD_VALUE;
    for (int j = 0; j < g->n; j++)
        for (int i = 0; i < g->m * parts; i++)
            c[((size_t)j * ldc) * parts + i] = beta == 0.0 && (i + j) % 2 ? NAN : rnd();
    if (prec == 's' || prec == 'c') {  // the data as float, and the reference from exactly those
        for (size_t i = 0; i < na; i++)
            a[i] = af[i] = (float)a[i];
        for (size_t i = 0; i < nb; i++)
            b[i] = bf[i] = (float)b[i];
        for (size_t i = 0; i < nc; i++)
            c[i] = cf[i] = (float)c[i];
    }
    const double complex al = prec == 'c' ? (float)creal(alpha) + I * (float)cimag(alpha) : alpha;
    const double complex be = prec == 'c' ? (float)creal(beta) + I * (float)cimag(beta) : beta;
    // ref = alpha*op(A)*op(B) + beta*C, and bnd the magnitudes an error is relative to.
    for (int j = 0; j < g->n; j++)
        for (int i = 0; i < g->m; i++) {
            double complex s = 0.0;
            double mag = 0.0;
            for (int p = 0; p < g->k && alpha != 0.0; p++) {
                const size_t xa = is_t(g->ta) ? (size_t)i * lda + p : (size_t)p * lda + i;
                const size_t xb = is_t(g->tb) ? (size_t)p * ldb + j : (size_t)j * ldb + p;
                double complex x = elem(a, xa, cplx), y = elem(b, xb, cplx);
                x = conj_a ? conj(x) : x;
                y = conj_b ? conj(y) : y;
                s += x * y;
                mag += mag1(x) * mag1(y);
            }
            const size_t x = (size_t)j * ldc + i;
            const double complex c0 = elem(c, x, cplx);
            ref[x] = al * s + (beta == 0.0 ? 0.0 : be * c0);
            bnd[x] = cabs(al) * mag + (beta == 0.0 ? 0.0 : cabs(be) * cabs(c0));
        }

    const int m = g->m, n = g->n, k = g->k;
    const double alpha2[2] = { creal(al), cimag(al) }, beta2[2] = { creal(be), cimag(be) };
    const float alpha2f[2] = { (float)alpha2[0], (float)alpha2[1] };
    const float beta2f[2] = { (float)beta2[0], (float)beta2[1] };
    const char *ta = &g->ta, *tb = &g->tb;
    switch (prec) {
    case 'd': dgemm_(ta, tb, &m, &n, &k, alpha2, a, &lda, b, &ldb, beta2, c, &ldc, 1, 1); break;
    case 's': sgemm_(ta, tb, &m, &n, &k, alpha2f, af, &lda, bf, &ldb, beta2f, cf, &ldc, 1, 1); break;
    case 'z': zgemm_(ta, tb, &m, &n, &k, alpha2, a, &lda, b, &ldb, beta2, c, &ldc, 1, 1); break;
    default: cgemm_(ta, tb, &m, &n, &k, alpha2f, af, &lda, bf, &ldb, beta2f, cf, &ldc, 1, 1); break;
    }
    if (prec == 's' || prec == 'c')
        for (size_t i = 0; i < nc; i++)
            c[i] = cf[i];

    const double tol = prec == 'd' ? 1e-12 : prec == 'z' ? 3e-12 : prec == 's' ? 1e-5 : 3e-5;
    int bad = 0, pad_bad = 0;
    for (int j = 0; j < max1(n); j++)
        for (int i = 0; i < ldc; i++) {
            const size_t x = (size_t)j * ldc + i;
            if (i >= m || j >= n) {
                for (int q = 0; q < parts; q++)
                    pad_bad += c[x * parts + q] != PAD_VALUE;
                continue;
            }
            const double complex got = elem(c, x, cplx);
            const int finite = isfinite(creal(got)) && isfinite(cimag(got));
            bad += !finite || !(cabs(got - ref[x]) <= tol * bnd[x] + 1e-300);
        }
    CHECK(bad == 0,
          "%cgemm_ %c%c m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g%+gi beta=%g%+gi: %d wrong",
          prec, g->ta, g->tb, m, n, k, lda, ldb, ldc, creal(al), cimag(al), creal(be), cimag(be),
          bad);
    CHECK(pad_bad == 0, "%cgemm_ %dx%dx%d: %d padding elements of C changed", prec, m, n, k,
          pad_bad);
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

static const char precisions[] = "dszc";

// Runs every case of list in every precision; counts what each route must have got.
static void run_all(const gemm_case *list, int count, int64_t max_mnk, int routes[R_COUNT])
{
    for (const char *p = precisions; *p; p++)
        for (int i = 0; i < count; i++) {
            run_case(*p, &list[i]);
            routes[route_of(*p, &list[i], max_mnk)]++;
        }
}

// The statistics since the last reset against the calls of run_all: each name counted once per
// case, every call under its route.
static void check_counts(int count, const int routes[R_COUNT])
{
    xsmmwrap_stats st;
    CHECK(xsmmwrap_get_stats(&st) == XSMMWRAP_OK, "xsmmwrap_get_stats");
    const uint64_t kernel_path =
        st.by_route[XSMMWRAP_ROUTE_JIT] + st.by_route[XSMMWRAP_ROUTE_PORTABLE];
    const int calls = (int)(sizeof precisions - 1) * count;  // run_all: each case in each precision
    CHECK(st.intercepted == (uint64_t)calls, "intercepted %llu, want %d",
          (unsigned long long)st.intercepted, calls);
    CHECK(kernel_path == (uint64_t)routes[R_KERNEL], "kernel path %llu, want %d",
          (unsigned long long)kernel_path, routes[R_KERNEL]);
    CHECK(st.by_route[XSMMWRAP_ROUTE_SCALE] == (uint64_t)routes[R_SCALE], "scale %llu, want %d",
          (unsigned long long)st.by_route[XSMMWRAP_ROUTE_SCALE], routes[R_SCALE]);
    CHECK(st.by_route[XSMMWRAP_ROUTE_TOO_LARGE] == (uint64_t)routes[R_TOO_LARGE],
          "too_large %llu, want %d", (unsigned long long)st.by_route[XSMMWRAP_ROUTE_TOO_LARGE],
          routes[R_TOO_LARGE]);
    for (const char *p = precisions; *p; p++) {
        const char name[] = { *p, 'g', 'e', 'm', 'm', '_', 0 };
        CHECK(sym_calls(name) == (uint64_t)count, "%s calls", name);
    }
}

int main(void)
{
    static const gemm_case small[] = {
        { 'N', 'N', 8, 8, 8, 0, 0, 0, 1.0, 0.0, 0.0, 0.0 },
        { 'N', 'T', 5, 7, 3, 2, 1, 3, 1.0, 1.0, 0.0, 0.0 },
        { 'T', 'N', 13, 4, 9, 0, 5, 1, -1.0, 0.37, 0.0, -0.5 },
        { 'T', 'T', 23, 17, 11, 1, 0, 2, 0.37, -1.0, 1.5, 0.0 },
        { 'n', 't', 1, 1, 1, 0, 0, 0, 0.0, 0.0, 0.0, 0.0 },
        { 'C', 'c', 32, 32, 32, 4, 4, 4, 2.5, 1.0, -0.75, 0.0 },  // complex: 4*32^3 is a kernel's
        { 'C', 'N', 6, 9, 12, 0, 1, 0, 0.0, 0.5, 2.0, 0.25 },     // complex alpha 2i: a kernel
        { 'N', 'C', 10, 3, 7, 3, 0, 2, 1.0, 0.0, 0.0, 0.0 },
        { 'N', 'N', 64, 64, 64, 0, 0, 0, 1.0, 1.0, 0.0, 0.0 },    // real: 64^3, still a kernel
        { 'N', 'T', 3, 80, 40, 0, 0, 0, 0.0, -1.0, 0.0, 0.0 },
        { 'T', 'N', 5, 6, 0, 0, 0, 0, 1.0, 0.37, 0.0, 0.0 },      // k == 0: C = beta*C
    };
    static const gemm_case large[] = {
        { 'N', 'N', 65, 65, 65, 0, 0, 0, 1.0, 0.0, 0.0, 0.0 },
        { 'T', 'N', 100, 90, 80, 3, 0, 1, 0.37, 1.0, 0.0, 0.0 },
        { 'N', 'T', 2, 400, 400, 0, 2, 0, -1.0, 0.37, 0.0, 0.37 },
        { 'C', 'C', 65, 32, 32, 0, 1, 0, 0.5, 0.0, 0.5, 0.0 },   // real: a kernel; complex: not
        { 'T', 'T', 70, 70, 70, 1, 1, 1, 0.0, 0.0, 0.0, 0.0 },   // alpha = 0: scale, any size
        { 'N', 'C', 100, 90, 80, 0, 2, 1, 0.0, 1.0, 0.0, 0.0 },
        { 'C', 'N', 90, 100, 80, 2, 0, 0, 0.0, 0.37, 0.0, -1.0 },
        { 'N', 'N', 300, 200, 0, 0, 0, 3, 1.0, -1.0, 0.0, 0.0 },  // k = 0: scale
    };
    const int n_small = (int)(sizeof small / sizeof *small);
    const int n_large = (int)(sizeof large / sizeof *large);

    xsmmwrap_config cfg;
    CHECK(xsmmwrap_get_config(&cfg) == XSMMWRAP_OK, "xsmmwrap_get_config");
    CHECK(cfg.max_mnk == 64 * 64 * 64, "max_mnk %lld (run without XSMMWRAP_MAX_MNK)",
          (long long)cfg.max_mnk);
    CHECK(xsmmwrap_reset_stats() == XSMMWRAP_OK, "xsmmwrap_reset_stats");

    // Small products: on the kernel path, but for those with nothing to multiply (and the real
    // 64^3 one in complex, which is four times the threshold).
    int small_routes[R_COUNT] = { 0 };
    run_all(small, n_small, cfg.max_mnk, small_routes);
    CHECK(small_routes[R_KERNEL] == 28 && small_routes[R_SCALE] == 14 &&
              small_routes[R_TOO_LARGE] == 2,
          "small routes: %d kernel, %d scale, %d too large", small_routes[R_KERNEL],
          small_routes[R_SCALE], small_routes[R_TOO_LARGE]);
    check_counts(n_small, small_routes);
    // One kernel per small call that multiplies (C = beta*C needs none), none above the
    // threshold.
    const int kernels = xsmmwrap_kernel_count();
    CHECK(kernels == small_routes[R_KERNEL], "%d kernels, want %d", kernels,
          small_routes[R_KERNEL]);
    uint64_t kernel_calls = 0;
    int complex_kernels = 0;
    for (int i = 0; i < kernels; i++) {
        xsmmwrap_kernel_info ki;
        CHECK(xsmmwrap_kernel_get(i, &ki) == XSMMWRAP_OK, "xsmmwrap_kernel_get(%d)", i);
        CHECK(ki.calls == 1, "kernel %d: %llu calls", i, (unsigned long long)ki.calls);
        CHECK((ki.is_complex ? 4 : 1) * ki.m * ki.n * ki.k <= cfg.max_mnk,
              "kernel %d is %lldx%lldx%lld", i, (long long)ki.m, (long long)ki.n, (long long)ki.k);
        complex_kernels += ki.is_complex;
        kernel_calls += ki.calls;
    }
    CHECK(complex_kernels == 14, "%d complex kernels", complex_kernels);
    xsmmwrap_stats st;
    CHECK(xsmmwrap_get_stats(&st) == XSMMWRAP_OK, "xsmmwrap_get_stats");
    CHECK(kernel_calls == st.by_route[XSMMWRAP_ROUTE_JIT] + st.by_route[XSMMWRAP_ROUTE_PORTABLE],
          "kernel calls %llu", (unsigned long long)kernel_calls);

    // Large products: declined (too_large), computed by the system BLAS through __real_; those
    // with nothing to multiply served by the wrapper all the same.
    CHECK(xsmmwrap_reset_stats() == XSMMWRAP_OK, "xsmmwrap_reset_stats");
    int large_routes[R_COUNT] = { 0 };
    run_all(large, n_large, cfg.max_mnk, large_routes);
    CHECK(large_routes[R_KERNEL] == 2 && large_routes[R_SCALE] == 16 &&
              large_routes[R_TOO_LARGE] == 14,
          "large routes: %d kernel, %d scale, %d too large", large_routes[R_KERNEL],
          large_routes[R_SCALE], large_routes[R_TOO_LARGE]);
    check_counts(n_large, large_routes);
    CHECK(xsmmwrap_kernel_count() == kernels + large_routes[R_KERNEL], "large calls made kernels");

    return check_summary();
}
