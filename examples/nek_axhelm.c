// nek_axhelm.c: the Nek5000-style tensor-product operators that spend their time in small
// GEMMs: axhelm (the Helmholtz operator w = D^T G D u + h2 B u on n x n x n spectral elements)
// and a restriction between element sizes (GLL interpolation from n to nr points per direction,
// as in multigrid). Each element operation is a few dgemm_ calls of shapes (n, n^2, n), (n, n, n)
// and (n^2, n, n); the answer is checked against plain loops, and the restriction of a
// polynomial field against its exact values.
//
//   nek-axhelm [nelt [nrepeat [n [nr]]]]     (defaults 256 elements, 20 repetitions, 8 -> 6)
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample_util.h"

// Gauss-Lobatto-Legendre nodes and weights (Newton on the Chebyshev-Gauss-Lobatto points) and
// the differentiation matrix d[i + j*np] = l_j'(x_i), after Canuto et al., Spectral Methods.
static double legendre(int deg, double x, double *dprev)
{
    double p0 = 1.0, p1 = x;
    if (deg == 0) {
        *dprev = 0.0;
        return 1.0;
    }
    for (int k = 2; k <= deg; k++) {
        const double p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = p2;
    }
    *dprev = p0;  // P_{deg-1}(x)
    return p1;
}

static void gll(int np, double *x, double *w, double *d)
{
    const int deg = np - 1;
    for (int i = 0; i < np; i++) {
        double xi = -cos(3.14159265358979323846 * i / deg), prev;
        for (int it = 0; it < 100; it++) {
            const double p = legendre(deg, xi, &prev);
            const double step = (xi * p - prev) / (np * p);
            xi -= step;
            if (fabs(step) < 1e-16)
                break;
        }
        x[i] = xi;
        const double p = legendre(deg, xi, &prev);
        w[i] = 2.0 / (deg * np * p * p);
    }
    for (int j = 0; j < np; j++) {
        for (int i = 0; i < np; i++) {
            double prev;
            const double pi = legendre(deg, x[i], &prev), pj = legendre(deg, x[j], &prev);
            d[i + j * np] = i != j ? pi / (pj * (x[i] - x[j]))
                          : i == 0 ? -deg * (deg + 1) / 4.0
                          : i == deg ? deg * (deg + 1) / 4.0 : 0.0;
        }
    }
}

// jm[i + j*nr] = l_j(y_i): the Lagrange basis of the n nodes x at the nr nodes y.
static void interpolation(int n, const double *x, int nr, const double *y, double *jm)
{
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < n; j++) {
            double l = 1.0;
            for (int q = 0; q < n; q++)
                if (q != j)
                    l *= (y[i] - x[q]) / (x[j] - x[q]);
            jm[i + j * nr] = l;
        }
}

typedef struct {
    int n;
    const double *d;          // n x n
    const double *g;          // 6 geometric factors per point: g11 g12 g13 g22 g23 g33
    const double *bm;         // mass per point
    double h2;
    double *ur, *us, *ut;     // n^3 scratch each
} axhelm_ctx;

// w = Dr^T (g11 ur + g12 us + g13 ut) + Ds^T (...) + Dt^T (...) + h2 B u for one element,
// with ur = Dr u (along i), us = Ds u (along j), ut = Dt u (along k); u is u[i + n j + n^2 k].
static void axhelm_gemm(const axhelm_ctx *c, const double *u, double *w)
{
    const int n = c->n, n2 = n * n, n3 = n2 * n;
    double *ur = c->ur, *us = c->us, *ut = c->ut;
    sample_dgemm('N', 'N', n, n2, n, 1.0, c->d, n, u, n, 0.0, ur, n);
    for (int k = 0; k < n; k++)
        sample_dgemm('N', 'T', n, n, n, 1.0, u + k * n2, n, c->d, n, 0.0, us + k * n2, n);
    sample_dgemm('N', 'T', n2, n, n, 1.0, u, n2, c->d, n, 0.0, ut, n2);
    for (int p = 0; p < n3; p++) {
        const double *g = c->g + 6 * p, r = ur[p], s = us[p], t = ut[p];
        ur[p] = g[0] * r + g[1] * s + g[2] * t;
        us[p] = g[1] * r + g[3] * s + g[4] * t;
        ut[p] = g[2] * r + g[4] * s + g[5] * t;
    }
    sample_dgemm('T', 'N', n, n2, n, 1.0, c->d, n, ur, n, 0.0, w, n);
    for (int k = 0; k < n; k++)
        sample_dgemm('N', 'N', n, n, n, 1.0, us + k * n2, n, c->d, n, 1.0, w + k * n2, n);
    sample_dgemm('N', 'N', n2, n, n, 1.0, ut, n2, c->d, n, 1.0, w, n2);
    for (int p = 0; p < n3; p++)
        w[p] += c->h2 * c->bm[p] * u[p];
}

static void axhelm_loops(const axhelm_ctx *c, const double *u, double *w)
{
    const int n = c->n, n2 = n * n;
    const double *d = c->d;
    double *wr = c->ur, *ws = c->us, *wt = c->ut;
    for (int k = 0; k < n; k++)
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) {
                double r = 0, s = 0, t = 0;
                for (int l = 0; l < n; l++) {
                    r += d[i + l * n] * u[l + j * n + k * n2];
                    s += d[j + l * n] * u[i + l * n + k * n2];
                    t += d[k + l * n] * u[i + j * n + l * n2];
                }
                const int p = i + j * n + k * n2;
                const double *g = c->g + 6 * p;
                wr[p] = g[0] * r + g[1] * s + g[2] * t;
                ws[p] = g[1] * r + g[3] * s + g[4] * t;
                wt[p] = g[2] * r + g[4] * s + g[5] * t;
            }
    for (int k = 0; k < n; k++)
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) {
                double sum = 0;
                for (int l = 0; l < n; l++)
                    sum += d[l + i * n] * wr[l + j * n + k * n2] +
                           d[l + j * n] * ws[i + l * n + k * n2] +
                           d[l + k * n] * wt[i + j * n + l * n2];
                const int p = i + j * n + k * n2;
                w[p] = sum + c->h2 * c->bm[p] * u[p];
            }
}

// v = (J x J x J) u for one element: u is n^3, v is nr^3, jm is nr x n; t1, t2 scratch.
static void restrict_gemm(int n, int nr, const double *jm, const double *u, double *v, double *t1,
                          double *t2)
{
    const int n2 = n * n;
    sample_dgemm('N', 'N', nr, n2, n, 1.0, jm, nr, u, n, 0.0, t1, nr);  // t1: nr x n x n
    for (int k = 0; k < n; k++)                                         // t2: nr x nr x n
        sample_dgemm('N', 'T', nr, nr, n, 1.0, t1 + k * nr * n, nr, jm, nr, 0.0, t2 + k * nr * nr,
                     nr);
    sample_dgemm('N', 'T', nr * nr, nr, n, 1.0, t2, nr * nr, jm, nr, 0.0, v, nr * nr);
}

static void restrict_loops(int n, int nr, const double *jm, const double *u, double *v)
{
    for (int c = 0; c < nr; c++)
        for (int b = 0; b < nr; b++)
            for (int a = 0; a < nr; a++) {
                double sum = 0;
                for (int k = 0; k < n; k++)
                    for (int j = 0; j < n; j++)
                        for (int i = 0; i < n; i++)
                            sum += jm[a + i * nr] * jm[b + j * nr] * jm[c + k * nr] *
                                   u[i + j * n + k * n * n];
                v[a + b * nr + c * nr * nr] = sum;
            }
}

// A polynomial of degree n-1 in each direction, which n-point interpolation reproduces exactly.
static double poly(int n, double x, double y, double z, double shift)
{
    return pow(x + shift, n - 1) * pow(0.5 * y - shift, n - 2) * (z * z - shift * z + 0.25);
}

int main(int argc, char **argv)
{
    long arg[4] = { 256, 20, 8, 6 };
    for (int i = 1; i < argc && i <= 4; i++) {
        char *end;
        arg[i - 1] = strtol(argv[i], &end, 10);
        if (*end || arg[i - 1] < 1 || (i >= 3 && (arg[i - 1] < 3 || arg[i - 1] > 32))) {
            fprintf(stderr, "usage: %s [nelt [nrepeat [n [nr]]]]  (3 <= n, nr <= 32)\n", argv[0]);
            return 2;
        }
    }
    if (argc > 5) {
        fprintf(stderr, "usage: %s [nelt [nrepeat [n [nr]]]]\n", argv[0]);
        return 2;
    }
    const long nelt = arg[0], nrepeat = arg[1];
    const int n = (int)arg[2], nr = (int)arg[3], n3 = n * n * n, nr3 = nr * nr * nr;

    double *x = malloc(n * sizeof *x), *wq = malloc(n * sizeof *wq), *d = malloc(n * n * sizeof *d);
    double *y = malloc(nr * sizeof *y), *wr = malloc(nr * sizeof *wr);
    double *dr = malloc(nr * nr * sizeof *dr), *jm = malloc(nr * n * sizeof *jm);
    double *u = malloc(nelt * n3 * sizeof *u), *w = malloc(nelt * n3 * sizeof *w);
    double *wref = malloc(n3 * sizeof *wref), *g = malloc(6 * nelt * n3 * sizeof *g);
    double *bm = malloc(nelt * n3 * sizeof *bm), *scratch = malloc(3 * n3 * sizeof *scratch);
    double *up = malloc(nelt * n3 * sizeof *up), *v = malloc(nelt * nr3 * sizeof *v);
    double *vref = malloc(nr3 * sizeof *vref), *t1 = malloc(nr * n * n * sizeof *t1);
    double *t2 = malloc(nr * nr * n * sizeof *t2);
    if (!x || !wq || !d || !y || !wr || !dr || !jm || !u || !w || !wref || !g || !bm ||
        !scratch || !up || !v || !vref || !t1 || !t2) {
        fprintf(stderr, "nek-axhelm: out of memory\n");
        return 1;
    }
    gll(n, x, wq, d);
    gll(nr, y, wr, dr);
    interpolation(n, x, nr, y, jm);

    // Fields and geometry: a symmetric positive definite G per point (a deformed element's
    // metric times the quadrature weights), mass B = weights, random u; polynomial fields up.
    sample_rng rng;
    sample_rng_seed(&rng, 5);
    sample_fill_uniform(&rng, u, (size_t)nelt * n3);
    for (long e = 0; e < nelt; e++)
        for (int k = 0; k < n; k++)
            for (int j = 0; j < n; j++)
                for (int i = 0; i < n; i++) {
                    const size_t p = (size_t)e * n3 + i + (size_t)j * n + (size_t)k * n * n;
                    const double wt = wq[i] * wq[j] * wq[k];
                    double *gp = g + 6 * p;
                    gp[0] = wt * (1.5 + 0.25 * sample_rng_uniform(&rng));
                    gp[3] = wt * (1.5 + 0.25 * sample_rng_uniform(&rng));
                    gp[5] = wt * (1.5 + 0.25 * sample_rng_uniform(&rng));
                    gp[1] = wt * 0.2 * sample_rng_uniform(&rng);
                    gp[2] = wt * 0.2 * sample_rng_uniform(&rng);
                    gp[4] = wt * 0.2 * sample_rng_uniform(&rng);
                    bm[p] = wt;
                    up[p] = poly(n, x[i], x[j], x[k], 0.1 + 0.001 * (double)(e % 97));
                }
    const axhelm_ctx base = { n, d, NULL, NULL, 0.3, scratch, scratch + n3, scratch + 2 * n3 };

    sample_progress progress;
    sample_progress_begin(&progress, "nek-axhelm");
    double t_ax = 0.0, t_rs = 0.0;
    for (long r = 0; r < nrepeat; r++) {
        double t0 = sample_seconds();
        for (long e = 0; e < nelt; e++) {
            axhelm_ctx c = base;
            c.g = g + 6 * (size_t)e * n3;
            c.bm = bm + (size_t)e * n3;
            axhelm_gemm(&c, u + (size_t)e * n3, w + (size_t)e * n3);
        }
        t_ax += sample_seconds() - t0;
        t0 = sample_seconds();
        for (long e = 0; e < nelt; e++)
            restrict_gemm(n, nr, jm, up + (size_t)e * n3, v + (size_t)e * nr3, t1, t2);
        t_rs += sample_seconds() - t0;
        sample_progress_update(&progress, (double)(r + 1), (double)nrepeat);
    }
    sample_progress_end(&progress);

    // Checks: every element against the loops; the restriction also against the exact values.
    double err_ax = 0.0, err_rs = 0.0, err_exact = 0.0;
    for (long e = 0; e < nelt; e++) {
        axhelm_ctx c = base;
        c.g = g + 6 * (size_t)e * n3;
        c.bm = bm + (size_t)e * n3;
        axhelm_loops(&c, u + (size_t)e * n3, wref);
        double diff = sample_rel_diff(w + (size_t)e * n3, wref, (size_t)n3);
        err_ax = diff > err_ax ? diff : err_ax;
        restrict_loops(n, nr, jm, up + (size_t)e * n3, vref);
        diff = sample_rel_diff(v + (size_t)e * nr3, vref, (size_t)nr3);
        err_rs = diff > err_rs ? diff : err_rs;
        for (int k = 0; k < nr; k++)
            for (int j = 0; j < nr; j++)
                for (int i = 0; i < nr; i++)
                    vref[i + j * nr + k * nr * nr] =
                        poly(n, y[i], y[j], y[k], 0.1 + 0.001 * (double)(e % 97));
        diff = sample_rel_diff(v + (size_t)e * nr3, vref, (size_t)nr3);
        err_exact = diff > err_exact ? diff : err_exact;
    }
    // Rounding only: a relative 1e-12 per term of the longest sum (k = n, three directions).
    const double tol = 1e-12 * 3 * n;
    const int ok = err_ax <= tol && err_rs <= tol && err_exact <= 1e3 * tol;

    const double calls = (double)nrepeat * (double)nelt * (double)(2 * (n + 2) + (n + 2));
    const double flop_ax = 6.0 * 2.0 * n * n * n * (double)n;
    const double flop_rs = 2.0 * nr * n * n * (double)n + 2.0 * nr * nr * n * (double)n +
                           2.0 * nr * nr * nr * (double)n;
    const double total = t_ax + t_rs;
    printf("nek-axhelm: %ld elements of %dx%dx%d, restriction to %dx%dx%d, %ld repetitions, "
           "%.0f dgemm calls\n",
           nelt, n, n, n, nr, nr, nr, nrepeat, calls);
    printf("axhelm      %8.1f ms  %6.2f GFLOP/s  max rel. error vs loops %.2e\n", 1e3 * t_ax,
           t_ax > 0 ? 1e-9 * flop_ax * (double)nelt * (double)nrepeat / t_ax : 0.0, err_ax);
    printf("restriction %8.1f ms  %6.2f GFLOP/s  max rel. error vs loops %.2e, vs exact %.2e\n",
           1e3 * t_rs, t_rs > 0 ? 1e-9 * flop_rs * (double)nelt * (double)nrepeat / t_rs : 0.0,
           err_rs, err_exact);
    printf("time %.1f ms  %s\n", 1e3 * total, ok ? "ok" : "WRONG");
    sample_wrapper_print(stdout);

    free(x); free(wq); free(d); free(y); free(wr); free(dr); free(jm); free(u); free(w);
    free(wref); free(g); free(bm); free(scratch); free(up); free(v); free(vref); free(t1);
    free(t2);
    return ok ? 0 : 1;
}
