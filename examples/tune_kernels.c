// tune_kernels.c: the measuring program behind `xsmmwrap tune` (docs/TUNING.md). For each GEMM
// descriptor it is given, it times on one pinned core every candidate the wrapper could run
// for it: the generated kernel of each target the CPU supports, with the plans the generator's
// cost model finds close to its cheapest (xw_gen_choices), and the original BLAS, with the
// operands cached and streamed. It prints one JSON document on stdout (progress on stderr);
// the Python side picks the winners and writes the tuning file. The timing method is
// bench-kernels' (bench_timing.c). The registry, generator and BLAS identity are this build's
// (the `core` library is linked in), so they are the ones libxsmmwrap.so uses.
//
// Input, one descriptor a line on stdin: PREC TA TB M N K LDA LDB LDC ALPHA BETA, e.g.
// "f64 N N 23 23 23 23 23 23 1 0" (ALPHA and BETA are scale classes: 1, -1, 0, any).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/xsmmwrap.h"
#include "../src/kernels/jit.h"
#include "../src/wrap/wrap.h"
#include "bench_timing.h"
#include "sample_util.h"

#define MAX_CANDIDATES 24
#define MAX_DESCS 4096

static struct {
    bt_settings run;     // the measurement: loop time, rounds, streamed batch, CPU
    const char *blas;    // the original BLAS to dlopen
    double spread;       // plans modeled within (1 + spread) of the cheapest are candidates
    int plans;           // at most this many plans per target
} opt = { { 0.002, 20, (size_t)256 << 20, -1 }, NULL, 0.35, 4 };  // short loops: see docs/TUNING.md

// The original BLAS's GEMM under one of its names (bench_timing.h: bt_gemm_fn, or
// bt_gemm64_fn for ILP64 names).
static struct {
    void *handle;
    void *gemm[2];  // by xw_prec
    bool ilp64;
    const char *symbol;
    xw_blas_id id;
} blas;

static void die(const char *what)
{
    fprintf(stderr, "tune_kernels: %s\n", what);
    exit(1);
}

static void load_blas(void)
{
    blas.handle = dlopen(opt.blas, RTLD_NOW | RTLD_LOCAL);
    if (!blas.handle) {
        fprintf(stderr, "tune_kernels: cannot load the BLAS %s: %s\n", opt.blas, dlerror());
        exit(1);
    }
    // threadpoolctl's affixes: the plain names, then numpy's and scipy's wheels' (scipy_, 64_).
    static const struct { const char *d, *s; bool ilp64; } names[] = {
        { "dgemm_", "sgemm_", false }, { "scipy_dgemm_", "scipy_sgemm_", false },
        { "dgemm_64_", "sgemm_64_", true }, { "scipy_dgemm_64_", "scipy_sgemm_64_", true },
    };
    for (size_t i = 0; i < sizeof names / sizeof *names && !blas.gemm[0]; i++) {
        blas.gemm[XW_F64] = dlsym(blas.handle, names[i].d);
        blas.gemm[XW_F32] = dlsym(blas.handle, names[i].s);
        blas.ilp64 = names[i].ilp64;
        blas.symbol = names[i].d;
    }
    if (!blas.gemm[XW_F64])
        die("the BLAS has no dgemm_ (nor scipy_dgemm_, dgemm_64_, scipy_dgemm_64_)");
    xw_fn f;
    memcpy(&f, &blas.gemm[XW_F64], sizeof f);
    if (!xw_blas_identify(f, &blas.id))
        die("cannot tell which library the BLAS's dgemm_ is in");
    void (*set_threads)(int) = NULL;
    void *st = dlsym(blas.handle, "openblas_set_num_threads");
    memcpy(&set_threads, &st, sizeof st);
    if (set_threads)
        set_threads(1);  // one core, as the kernels
}

// One candidate: a kernel (the registry's, for a descriptor with hints) or the BLAS.
typedef struct {
    bool is_blas;
    xw_target target;
    xw_gen_choice plan;   // hints (0, 0: the cost model's own, the untuned kernel)
    double model_cost;
    const xw_kernel *kn;
    bool exact;           // gave the portable kernel's bits (kernels), or within rounding (BLAS)
    double cached, streamed;
} candidate;

typedef struct {
    xw_desc d;
    char ta, tb;
    double alpha, beta;  // the values timed for the scale classes
    float alpha_f, beta_f;
    size_t es, off_b, off_c, stride;  // a triple [A|B|C]
    char *base;
    size_t count, pos;
    int n;
    candidate c[MAX_CANDIDATES];
} tune_case;

static size_t round64(size_t x) { return (x + 63) / 64 * 64; }

static double class_value(int cls, bool is_alpha)
{
    return cls == XW_SCALE_ONE ? 1.0 : cls == XW_SCALE_MINUS_ONE ? -1.0 : cls == XW_SCALE_ZERO ? 0.0
           : is_alpha ? 0.5 : 0.7;
}

// bytes of operands of precision prec (bench_timing.c's values).
static void fill(void *p, size_t bytes, xw_prec prec, uint64_t seed)
{
    bt_fill(p, bytes / (prec == XW_F64 ? 8 : 4), prec == XW_F64, seed);
}

static void call_blas(const tune_case *tc, const void *a, const void *b, void *c)
{
    const xw_desc *d = &tc->d;
    const void *al = d->prec == XW_F64 ? (const void *)&tc->alpha : (const void *)&tc->alpha_f;
    const void *be = d->prec == XW_F64 ? (const void *)&tc->beta : (const void *)&tc->beta_f;
    if (blas.ilp64) {
        const int64_t m = d->m, n = d->n, k = d->k, lda = d->lda, ldb = d->ldb, ldc = d->ldc;
        ((bt_gemm64_fn *)blas.gemm[d->prec])(&tc->ta, &tc->tb, &m, &n, &k, al, a, &lda, b, &ldb, be, c, &ldc, 1, 1);
    } else {
        const int32_t m = (int32_t)d->m, n = (int32_t)d->n, k = (int32_t)d->k;
        const int32_t lda = (int32_t)d->lda, ldb = (int32_t)d->ldb, ldc = (int32_t)d->ldc;
        ((bt_gemm_fn *)blas.gemm[d->prec])(&tc->ta, &tc->tb, &m, &n, &k, al, a, &lda, b, &ldb, be, c, &ldc, 1, 1);
    }
}

// bench_timing's bt_run_fn: `reps` calls of candidate p, each on the next triple of the batch.
static double run(void *ctx, int p, size_t reps)
{
    tune_case *tc = ctx;
    const candidate *cd = &tc->c[p];
    const void *al = tc->d.prec == XW_F64 ? (const void *)&tc->alpha : (const void *)&tc->alpha_f;
    const void *be = tc->d.prec == XW_F64 ? (const void *)&tc->beta : (const void *)&tc->beta_f;
    size_t pos = tc->pos;
    const double t0 = bt_now();
    for (size_t r = 0; r < reps; r++) {
        char *t = tc->base + pos * tc->stride;
        if (cd->is_blas)
            call_blas(tc, t, t + tc->off_b, t + tc->off_c);
        else
            cd->kn->fn(t, t + tc->off_b, t + tc->off_c, al, be, &cd->kn->desc);
        if (++pos == tc->count)
            pos = 0;
    }
    const double dt = bt_now() - t0;
    tc->pos = pos;
    return dt;
}

// Every candidate once on the same fresh operands (the batch's have been written by earlier
// measurements), against the portable kernel: a kernel must give its bits exactly (the
// arithmetic contract: a plan or target changes no element), the BLAS agree within rounding.
static void check(tune_case *tc)
{
    const xw_desc *d = &tc->d;
    const size_t cbytes = (size_t)d->ldc * d->n * tc->es;
    char *c0 = malloc(cbytes), *ref = malloc(cbytes), *batch = tc->base;
    tc->base = aligned_alloc(64, tc->stride);
    if (!c0 || !ref || !tc->base)
        die("out of memory");
    fill(tc->base, tc->stride, (xw_prec)d->prec, d->m * 131u + d->n * 17u + d->k);
    char *a = tc->base, *b = tc->base + tc->off_b, *c = tc->base + tc->off_c;
    memcpy(c0, c, cbytes);
    memcpy(ref, c, cbytes);
    const void *al = d->prec == XW_F64 ? (const void *)&tc->alpha : (const void *)&tc->alpha_f;
    const void *be = d->prec == XW_F64 ? (const void *)&tc->beta : (const void *)&tc->beta_f;
    xw_ref_gemm((xw_prec)d->prec, d->ta, d->tb, d->m, d->n, d->k, al, a, d->lda, b, d->ldb, be, ref, d->ldc);
    double refmax = 0;
    for (size_t i = 0; i < cbytes / tc->es; i++)
        refmax = fmax(refmax, fabs(d->prec == XW_F64 ? ((double *)ref)[i] : ((float *)ref)[i]));
    for (int p = 0; p < tc->n; p++) {
        candidate *cd = &tc->c[p];
        memcpy(c, c0, cbytes);
        const size_t pos = tc->pos;
        tc->pos = 0;
        tc->count = 1;
        run(tc, p, 1);
        tc->pos = pos;
        if (!cd->is_blas) {
            cd->exact = memcmp(c, ref, cbytes) == 0;
        } else {
            double e = 0;
            for (size_t i = 0; i < cbytes / tc->es; i++) {
                const double x = d->prec == XW_F64 ? ((double *)c)[i] : ((float *)c)[i];
                const double r = d->prec == XW_F64 ? ((double *)ref)[i] : ((float *)ref)[i];
                e = fmax(e, isfinite(x) ? fabs(x - r) : INFINITY);
            }
            const double tol = (d->prec == XW_F64 ? 1e-12 : 1e-5) * (d->k + 1) * (refmax > 0 ? refmax : 1);
            cd->exact = e <= tol;
        }
    }
    free(tc->base);
    tc->base = batch;
    free(c0);
    free(ref);
}

// The candidates of one descriptor: per target, the cost model's own plan first (as no hints:
// the kernel the untuned wrapper makes), then the plans modeled within the spread; the BLAS last.
static void candidates(tune_case *tc, xw_target cpu)
{
    tc->n = 0;
    for (xw_target t = XW_TARGET_AVX2; t <= cpu; t++) {
        xw_gen_choice ch[64];
        const int nch = xw_gen_choices(&tc->d, t, ch, 64);
        for (int i = 0; i < nch && i < opt.plans && tc->n < MAX_CANDIDATES - 1; i++) {
            if (i > 0 && ch[i].cost > (1.0 + opt.spread) * ch[0].cost)
                break;
            xw_desc d = tc->d;
            d.target = (uint8_t)t;
            d.mb_max = i ? ch[i].mb_max : 0;
            d.nb_max = i ? ch[i].nb_max : 0;
            const xw_kernel *kn = NULL;
            const xw_reg_result r = xw_reg_get(&d, &kn);
            if ((r != XW_REG_FOUND && r != XW_REG_CREATED) || !kn->jit)
                continue;
            tc->c[tc->n++] = (candidate){ .target = t, .plan = ch[i], .model_cost = ch[i].cost, .kn = kn };
            tc->c[tc->n - 1].plan.mb_max = d.mb_max;
            tc->c[tc->n - 1].plan.nb_max = d.nb_max;
        }
    }
    tc->c[tc->n++] = (candidate){ .is_blas = true };
}


static bool parse_desc(const char *line, tune_case *tc)
{
    char prec[8], ta[4], tb[4], al[8], be[8];
    unsigned long long v[6];
    if (sscanf(line, "%7s %3s %3s %llu %llu %llu %llu %llu %llu %7s %7s", prec, ta, tb, &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], al, be) != 11)
        return false;
    int a = -1, b = -1;
    for (int i = 0; i < XW_SCALE_COUNT; i++) {
        a = strcmp(al, xw_scale_names()[i]) ? a : i;
        b = strcmp(be, xw_scale_names()[i]) ? b : i;
    }
    const bool f64 = !strcmp(prec, "f64");
    if ((!f64 && strcmp(prec, "f32")) || (strcmp(ta, "N") && strcmp(ta, "T")) || (strcmp(tb, "N") && strcmp(tb, "T")) ||
        a < 0 || a == XW_SCALE_ZERO || b < 0)
        return false;
    for (int i = 0; i < 6; i++)
        if (v[i] < 1 || v[i] > 4096)
            return false;
    memset(tc, 0, sizeof *tc);
    tc->ta = ta[0];
    tc->tb = tb[0];
    tc->d = xw_desc_make((uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2], (uint32_t)v[3], (uint32_t)v[4],
                         (uint32_t)v[5], f64 ? XW_F64 : XW_F32, ta[0] == 'T', tb[0] == 'T', (unsigned)a, (unsigned)b);
    const xw_desc *d = &tc->d;
    if (d->lda < (d->ta ? d->k : d->m) || d->ldb < (d->tb ? d->n : d->k) || d->ldc < d->m)
        return false;
    tc->alpha = class_value(a, true);
    tc->beta = class_value(b, false);
    tc->alpha_f = (float)tc->alpha;
    tc->beta_f = (float)tc->beta;
    tc->es = f64 ? 8 : 4;
    tc->off_b = round64((size_t)d->lda * (d->ta ? d->m : d->k) * tc->es);
    tc->off_c = tc->off_b + round64((size_t)d->ldb * (d->tb ? d->k : d->n) * tc->es);
    tc->stride = tc->off_c + round64((size_t)d->ldc * d->n * tc->es);
    return true;
}

static void json_string(const char *s) { sample_json_string(stdout, s); }

static void json_time(const char *key, double ns)
{
    if (isfinite(ns))
        printf(", \"%s\": %.6g", key, ns);
    else
        printf(", \"%s\": null", key);
}

static void print_case(const tune_case *tc, bool first)
{
    const xw_desc *d = &tc->d;
    printf("%s\n    {\"precision\": \"%s\", \"trans_a\": \"%c\", \"trans_b\": \"%c\", \"m\": %u, \"n\": %u, "
           "\"k\": %u, \"lda\": %u, \"ldb\": %u, \"ldc\": %u, \"alpha\": \"%s\", \"beta\": \"%s\", \"candidates\": [",
           first ? "" : ",", d->prec == XW_F64 ? "f64" : "f32", tc->ta, tc->tb, d->m, d->n, d->k, d->lda, d->ldb,
           d->ldc, xw_scale_names()[d->alpha], xw_scale_names()[d->beta]);
    for (int p = 0; p < tc->n; p++) {
        const candidate *cd = &tc->c[p];
        printf("%s\n      {", p ? "," : "");
        if (cd->is_blas) {
            printf("\"route\": \"blas\"");
        } else {
            char name[160];
            xw_kernel_name(cd->kn, name, sizeof name);
            printf("\"route\": \"kernel\", \"target\": \"%s\", \"mb_max\": %u, \"nb_max\": %u, \"model_cost\": %.6g, "
                   "\"kernel\": \"%s\", \"code_bytes\": %u", xw_target_text[cd->target], cd->plan.mb_max,
                   cd->plan.nb_max, cd->model_cost, name, cd->kn->code_bytes);
        }
        printf(", \"exact\": %s", cd->exact ? "true" : "false");
        json_time("cached_ns", cd->cached);
        json_time("streamed_ns", cd->streamed);
        printf("}");
    }
    printf("]}");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tune_kernels [--min-time S] [--repeats N] [--stream-mb MB] [--cpu N] [--blas LIB]\n"
               "                    [--spread X] [--plans N] < DESCRIPTORS\n"
               "Each input line: PREC TA TB M N K LDA LDB LDC ALPHA BETA (f64 N N 8 8 8 8 8 8 1 0).\n"
               "Prints one JSON document on stdout; progress on stderr.\n");
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (bt_option(&opt.run, a, v, usage)) {
            i++;
            continue;
        }
        if (!strcmp(a, "--blas"))
            opt.blas = v;
        else if (!strcmp(a, "--spread"))
            opt.spread = atof(v);
        else if (!strcmp(a, "--plans"))
            opt.plans = atoi(v);
        else {
            usage(stderr);
            exit(2);
        }
        i++;
    }
    if (opt.run.min_time <= 0 || opt.run.repeats < 1 || opt.plans < 1 || opt.spread < 0) {
        usage(stderr);
        exit(2);
    }
    if (opt.run.stream_bytes < ((size_t)8 << 20))
        opt.run.stream_bytes = (size_t)8 << 20;
    if (!opt.blas) {
        const char *env = getenv("XSMMWRAP_BLAS");
        opt.blas = env && *env ? env : "libblas.so.3";
    }
}

static tune_case cases[MAX_DESCS];

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    if (!bt_pin(&opt.run.cpu))
        fprintf(stderr, "tune_kernels: cannot pin to CPU %d: %s\n", opt.run.cpu, strerror(errno));
    xsmmwrap_config cfg;
    xsmmwrap_get_config(&cfg);  // this program's own registry: the environment's target
    load_blas();
    int n = 0;
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        if (line[strspn(line, " \t\r\n")] == 0)
            continue;
        if (n == MAX_DESCS || !parse_desc(line, &cases[n])) {
            fprintf(stderr, "tune_kernels: input line %d: %s", n + 1, line);
            return 2;
        }
        n++;
    }
    size_t most = 0;
    for (int i = 0; i < n; i++)
        most = cases[i].stride > most ? cases[i].stride : most;
    const size_t bytes = opt.run.stream_bytes > 8 * most ? opt.run.stream_bytes : 8 * most;
    char *big = aligned_alloc(64, round64(bytes));
    if (!big)
        die("out of memory");
    int filled = -1;  // the precision the batch holds
    const xw_target cpu = (xw_target)cfg.target;
    for (int i = 0; i < n; i++) {
        tune_case *tc = &cases[i];
        if (filled != tc->d.prec) {
            fill(big, bytes, (xw_prec)tc->d.prec, 7);
            filled = tc->d.prec;
        }
        candidates(tc, cpu);
        tc->base = big;
        check(tc);
        bool present[MAX_CANDIDATES];
        double ns[MAX_CANDIDATES];
        for (int p = 0; p < tc->n; p++)
            present[p] = tc->c[p].exact;
        tc->count = 1;  // cached: one triple, used by every call
        tc->pos = 0;
        bt_measure(run, tc, tc->n, present, opt.run.min_time, opt.run.repeats, ns);
        for (int p = 0; p < tc->n; p++)
            tc->c[p].cached = ns[p];
        tc->count = bytes / tc->stride;  // streamed: each call on the next triple of the batch
        bt_measure(run, tc, tc->n, present, opt.run.min_time, opt.run.repeats, ns);
        for (int p = 0; p < tc->n; p++)
            tc->c[p].streamed = ns[p];
        const xw_desc *d = &tc->d;
        fprintf(stderr, "tune_kernels: [%d/%d] %ux%ux%u %d candidates\n", i + 1, n, d->m, d->n, d->k, tc->n);
        for (int p = 0; p < tc->n; p++)
            if (!tc->c[p].exact)
                fprintf(stderr, "tune_kernels: WARNING %ux%ux%u candidate %d differs from the portable kernel: "
                                "left out\n", d->m, d->n, d->k, p);
    }
    free(big);

    xw_cpu_id id;
    xw_cpu_identify(&id);
    printf("{\n  \"schema\": \"xsmmwrap-tune-measure/1\",\n  \"library\": \"%s\",\n", xsmmwrap_version());
    printf("  \"cpu\": {\"vendor\": ");
    json_string(id.vendor);
    printf(", \"family\": %d, \"model\": %d, \"stepping\": %d, \"isa\": \"%s\"},\n", id.family, id.model,
           id.stepping, xw_target_text[id.target]);
    printf("  \"target\": \"%s\",\n  \"blas\": {\"path\": ", xw_target_text[cpu]);
    json_string(blas.id.path);
    printf(", \"bytes\": %lld, \"config\": ", blas.id.bytes);
    if (blas.id.config[0])
        json_string(blas.id.config);
    else
        printf("null");
    printf(", \"loaded\": ");
    json_string(opt.blas);
    printf(", \"symbol\": \"%s\"},\n", blas.symbol);
    printf("  \"measurement\": {\"pinned_cpu\": %d, \"min_time_s\": %.6g, \"repeats\": %d, \"stream_bytes\": %zu, "
           "\"blas_threads\": 1},\n", opt.run.cpu, opt.run.min_time, opt.run.repeats, bytes);
    printf("  \"descriptors\": [");
    for (int i = 0; i < n; i++)
        print_case(&cases[i], i == 0);
    printf("%s]\n}\n", n ? "\n  " : "");
    return 0;
}
