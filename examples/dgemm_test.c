// dgemm_test.c: calls dgemm_ in a loop and reports its speed; the program knows nothing of the
// wrapper. Built twice (against the system BLAS, and with ld --wrap=dgemm_ + libxsmmwrap.a) and
// run a third time under LD_PRELOAD by `xsmmwrap dgemm-test` and dgemm-test.sh.
//
//   dgemm-test [options] [nrepeat]
//   dgemm-test [options] m [n [k [lda [ldb [ldc [alpha [beta [nrepeat]]]]]]]]
//   options: --json (one JSON object on stdout), --out FILE (the m x n result, raw doubles in
//            column-major order; also $DGEMM_TEST_OUT)
//
// The operands hold small integers, so C = alpha*A*B + beta*C repeated nrepeat times is exact
// for alpha = beta = 1 and every correct GEMM gives the same bits.
#include <stdlib.h>
#include <string.h>

#include "sample_util.h"

typedef struct {
    int m, n, k, lda, ldb, ldc;
    double alpha, beta;
    long long nrepeat;
    int json;
    const char *out;
} options;

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--json] [--out FILE] [nrepeat]\n"
            "       %s [--json] [--out FILE] m [n [k [lda [ldb [ldc [alpha [beta [nrepeat]]]]]]]]\n",
            prog, prog);
    return 2;
}

static int parse_int(const char *s, long long lo, long long *out)
{
    char *end;
    const long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < lo)
        return 0;
    *out = v;
    return 1;
}

static int parse_real(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && !*end;
}

// About a second of the original BLAS at ~6 GFLOP/s, whatever the shape.
static long long default_repeat(const options *o)
{
    const double flop = 2.0 * o->m * o->n * (o->k ? o->k : 1);
    const double r = 6e9 / (flop > 1 ? flop : 1);
    return r < 1 ? 1 : r > 1e8 ? 100000000LL : (long long)r;
}

static int parse(int argc, char **argv, options *o)
{
    *o = (options){ 23, 23, 23, 23, 23, 23, 1.0, 1.0, 0, 0, getenv("DGEMM_TEST_OUT") };
    const char *pos[9];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            o->json = 1;
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            o->out = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 0;
        else if (npos < 9 && (argv[i][0] != '-' || (argv[i][1] >= '0' && argv[i][1] <= '9')))
            pos[npos++] = argv[i];
        else
            return 0;
    }
    long long v;
    if (npos == 1) {  // the repeat count alone
        if (!parse_int(pos[0], 1, &v))
            return 0;
        o->nrepeat = v;
        return 1;
    }
    // Each size defaults to the one it follows: n to m, k to m, lda to m, ldb to k, ldc to m.
    long long d[6] = { 23, -1, -1, -1, -1, -1 };
    for (int i = 0; i < npos && i < 6; i++)
        if (!parse_int(pos[i], 0, &d[i]))
            return 0;
    if (d[1] < 0) d[1] = d[0];
    if (d[2] < 0) d[2] = d[0];
    if (d[3] < 0) d[3] = d[0];
    if (d[4] < 0) d[4] = d[2];
    if (d[5] < 0) d[5] = d[0];
    for (int i = 0; i < 6; i++)
        if (d[i] > 100000)
            return 0;
    o->m = (int)d[0]; o->n = (int)d[1]; o->k = (int)d[2];
    o->lda = (int)d[3]; o->ldb = (int)d[4]; o->ldc = (int)d[5];
    if (o->lda < (o->m > 1 ? o->m : 1) || o->ldb < (o->k > 1 ? o->k : 1) ||
        o->ldc < (o->m > 1 ? o->m : 1)) {
        fprintf(stderr, "dgemm-test: need lda >= m, ldb >= k, ldc >= m (and >= 1)\n");
        return 0;
    }
    if (npos > 6 && !parse_real(pos[6], &o->alpha))
        return 0;
    if (npos > 7 && !parse_real(pos[7], &o->beta))
        return 0;
    if (npos > 8) {
        if (!parse_int(pos[8], 1, &v))
            return 0;
        o->nrepeat = v;
    }
    return 1;
}

static int write_result(const char *path, const double *c, int m, int n, int ldc)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = 1;
    for (int j = 0; j < n && ok; j++)
        ok = fwrite(c + (size_t)j * ldc, sizeof *c, (size_t)m, f) == (size_t)m;
    return fclose(f) == 0 && ok;
}

int main(int argc, char **argv)
{
    options o;
    if (!parse(argc, argv, &o))
        return usage(argv[0]);
    if (!o.nrepeat)
        o.nrepeat = default_repeat(&o);

    const size_t na = (size_t)o.lda * (o.k ? o.k : 1), nb = (size_t)o.ldb * (o.n ? o.n : 1);
    const size_t nc = (size_t)o.ldc * (o.n ? o.n : 1);
    double *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "dgemm-test: out of memory\n");
        return 1;
    }
    sample_rng rng;
    sample_rng_seed(&rng, 23);
    sample_fill_small_int(&rng, a, na);
    sample_fill_small_int(&rng, b, nb);
    sample_fill_small_int(&rng, c, nc);

    // Calls are made in chunks so that progress is checked rarely (a clock read per call would
    // cost a few percent at this size).
    sample_progress progress;
    sample_progress_begin(&progress, "dgemm-test");
    const long long chunk = 4096;
    const double t0 = sample_seconds();
    for (long long done = 0; done < o.nrepeat;) {
        const long long end = done + chunk < o.nrepeat ? done + chunk : o.nrepeat;
        for (; done < end; done++)
            sample_dgemm('N', 'N', o.m, o.n, o.k, o.alpha, a, o.lda, b, o.ldb, o.beta, c, o.ldc);
        sample_progress_update(&progress, (double)done, (double)o.nrepeat);
    }
    const double seconds = sample_seconds() - t0;
    sample_progress_end(&progress);

    double checksum = 0.0;
    for (int j = 0; j < o.n; j++)
        for (int i = 0; i < o.m; i++)
            checksum += c[i + (size_t)j * o.ldc];
    const double calls_per_s = seconds > 0 ? (double)o.nrepeat / seconds : 0.0;
    const double gflops = 2e-9 * o.m * o.n * o.k * calls_per_s;
    int status = 0;
    if (o.out && !write_result(o.out, c, o.m, o.n, o.ldc)) {
        fprintf(stderr, "dgemm-test: cannot write %s\n", o.out);
        status = 1;
    }

    if (o.json) {
        printf("{\"program\": \"dgemm-test\", \"m\": %d, \"n\": %d, \"k\": %d, \"lda\": %d, "
               "\"ldb\": %d, \"ldc\": %d, \"alpha\": %.17g, \"beta\": %.17g, \"nrepeat\": %lld, "
               "\"time_s\": %.9g, \"calls_per_s\": %.9g, \"gflops\": %.9g, \"checksum\": %.17g, "
               "\"blas_core\": ",
               o.m, o.n, o.k, o.lda, o.ldb, o.ldc, o.alpha, o.beta, o.nrepeat, seconds,
               calls_per_s, gflops, checksum);
        sample_json_string(stdout, sample_blas_core());
        printf(", \"wrapper\": ");
        sample_wrapper_json(stdout);
        printf("}\n");
    } else {
        printf("dgemm-test: m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g nrepeat=%lld\n",
               o.m, o.n, o.k, o.lda, o.ldb, o.ldc, o.alpha, o.beta, o.nrepeat);
        printf("time %.3f s, %.0f calls/s, %.2f GFLOP/s, checksum %.17g\n", seconds, calls_per_s,
               gflops, checksum);
        sample_wrapper_print(stdout);
    }
    free(a);
    free(b);
    free(c);
    return status;
}
