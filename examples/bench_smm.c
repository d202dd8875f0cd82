// bench_smm.c: the SMM streaming cases: a batch of small multiplications C += A*B with some
// operands streamed from memory and the others kept in cache. Calls dgemm_ of the system BLAS,
// so the same program measures the original BLAS (run plain) and the wrapper (LD_PRELOAD).
//
//   bench-smm [--json] [--size MB] [--repeat R] [case [m [n [k]]]]
//
// case: 0 = (A,B,C) streamed (batched), 1 = (A,B) streamed with C in cache, 2 = (A,C) with B in
// cache, 3 = (B,C) with A in cache, 4 = nothing streamed; -1 or "all" runs the five (default).
// If only m is given, n and k take its value. --size is the memory of the batch (default 256
// MB); --repeat the passes over it (default: enough for about 2 GFLOP, at most 1e6 calls).
//
// Reported per case: GFLOP/s (2*M*N*K per multiplication), the memory bandwidth of the streamed
// operands (not for the cached case), the duration, and the pseudo-performance in FLOPS per
// time-stamp-counter cycle with the SMM formula 2*M*N*K - M*N. The operands hold small integers,
// so the checksums of two correct runs are equal bit for bit.
#include <stdlib.h>
#include <string.h>

#include "sample_util.h"

typedef struct {
    const char *name;
    int stream_a, stream_b, stream_c;
} smm_case;

static const smm_case cases[] = {
    { "batched (A,B,C)", 1, 1, 1 },
    { "streamed (A,B), C cached", 1, 1, 0 },
    { "streamed (A,C), B cached", 1, 0, 1 },
    { "streamed (B,C), A cached", 0, 1, 1 },
    { "cached (nothing streamed)", 0, 0, 0 },
};
enum { NCASES = sizeof cases / sizeof *cases };

typedef struct {
    double seconds, gflops, bandwidth, flops_per_cycle, checksum;
    int have_cycles;
} smm_result;

typedef struct {
    int m, n, k;
    size_t batch;
    long repeat;
    double *a, *b, *c, *c_cached;
} smm_work;

static smm_result run_case(const smm_work *w, int id)
{
    const smm_case *cs = &cases[id];
    const int m = w->m, n = w->n, k = w->k;
    const size_t asz = (size_t)m * k, bsz = (size_t)k * n, csz = (size_t)m * n;
    memset(w->c, 0, w->batch * csz * sizeof *w->c);
    memset(w->c_cached, 0, csz * sizeof *w->c_cached);

    char label[64];
    snprintf(label, sizeof label, "bench-smm case %d", id);
    sample_progress progress;
    sample_progress_begin(&progress, label);
    const double total = (double)w->repeat * (double)w->batch;
    const uint64_t c0 = sample_cycles();
    const double t0 = sample_seconds();
    for (long r = 0; r < w->repeat; r++) {
        for (size_t i = 0; i < w->batch; i++) {
            const double *ai = cs->stream_a ? w->a + i * asz : w->a;
            const double *bi = cs->stream_b ? w->b + i * bsz : w->b;
            double *ci = cs->stream_c ? w->c + i * csz : w->c_cached;
            sample_dgemm('N', 'N', m, n, k, 1.0, ai, m, bi, k, 1.0, ci, m);
            if ((i & 4095) == 4095)
                sample_progress_update(&progress, (double)r * (double)w->batch + (double)i, total);
        }
    }
    smm_result res;
    res.seconds = sample_seconds() - t0;
    const uint64_t cycles = sample_cycles() - c0;
    sample_progress_end(&progress);

    const double calls = total;
    const double bytes = calls * sizeof(double) *
                         (double)((cs->stream_a ? asz : 0) + (cs->stream_b ? bsz : 0) +
                                  (cs->stream_c ? 2 * csz : 0));  // C is read and written
    res.gflops = res.seconds > 0 ? 2e-9 * (double)m * n * k * calls / res.seconds : 0.0;
    res.bandwidth = res.seconds > 0 && bytes > 0 ? 1e-9 * bytes / res.seconds : -1.0;
    res.have_cycles = sample_has_cycles() && cycles > 0;
    res.flops_per_cycle =
        res.have_cycles ? (2.0 * m * n * k - (double)m * n) * calls / (double)cycles : -1.0;
    const double *cres = cs->stream_c ? w->c : w->c_cached;
    const size_t ncres = cs->stream_c ? w->batch * csz : csz;
    res.checksum = 0.0;
    for (size_t i = 0; i < ncres; i++)
        res.checksum += cres[i];
    return res;
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--json] [--size MB] [--repeat R] [case [m [n [k]]]]\n", prog);
    return 2;
}

static void print_number(double x) { x < 0 ? printf("null") : printf("%.6g", x); }

int main(int argc, char **argv)
{
    int json = 0, npos = 0, which = -1;
    long dims[3] = { 23, -1, -1 };
    double size_mb = 256.0;
    long repeat = 0;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            size_mb = strtod(argv[++i], &end);
            if (*end || !(size_mb > 0))
                return usage(argv[0]);
        } else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
            repeat = strtol(argv[++i], &end, 10);
            if (*end || repeat < 1)
                return usage(argv[0]);
        } else if (npos == 0 && (!strcmp(argv[i], "all") || !strcmp(argv[i], "-1"))) {
            npos++;
        } else if (npos < 4 && argv[i][0] != '-') {
            const long v = strtol(argv[i], &end, 10);
            if (*end || v < (npos ? 1 : 0) || v > (npos ? 4096 : NCASES - 1))
                return usage(argv[0]);
            if (npos == 0)
                which = (int)v;
            else
                dims[npos - 1] = v;
            npos++;
        } else {
            return usage(argv[0]);
        }
    }
    smm_work w;
    w.m = (int)dims[0];
    w.n = (int)(dims[1] > 0 ? dims[1] : dims[0]);
    w.k = (int)(dims[2] > 0 ? dims[2] : dims[0]);
    const size_t asz = (size_t)w.m * w.k, bsz = (size_t)w.k * w.n, csz = (size_t)w.m * w.n;
    const double triple = (double)(asz + bsz + csz) * sizeof(double);
    const double batch = size_mb * 1048576.0 / triple;
    w.batch = batch < 1 ? 1 : (size_t)batch;
    const double flop = 2.0 * w.m * w.n * w.k;
    if (!repeat) {
        const double want = 2e9 / (flop * (double)w.batch), most = 1e6 / (double)w.batch;
        repeat = (long)(want < most ? want + 0.5 : most);
        repeat = repeat < 1 ? 1 : repeat;
    }
    w.repeat = repeat;
    w.a = malloc(w.batch * asz * sizeof *w.a);
    w.b = malloc(w.batch * bsz * sizeof *w.b);
    w.c = malloc(w.batch * csz * sizeof *w.c);
    w.c_cached = malloc(csz * sizeof *w.c_cached);
    if (!w.a || !w.b || !w.c || !w.c_cached) {
        fprintf(stderr, "bench-smm: cannot allocate %.1f MB\n", size_mb);
        return 1;
    }
    sample_rng rng;
    sample_rng_seed(&rng, 7);
    sample_fill_small_int(&rng, w.a, w.batch * asz);
    sample_fill_small_int(&rng, w.b, w.batch * bsz);

    const int first = which < 0 ? 0 : which, last = which < 0 ? NCASES - 1 : which;
    smm_result res[NCASES];
    if (!json)
        printf("m=%d n=%d k=%d size=%zu memory=%.1f MB (DP), %ld pass(es)\n", w.m, w.n, w.k, w.batch,
               (double)w.batch * triple / 1048576.0, w.repeat);
    for (int id = first; id <= last; id++) {
        if (!json) {
            printf("\n%c%s...\n", cases[id].name[0] - 'a' + 'A', cases[id].name + 1);
            fflush(stdout);
        }
        res[id] = run_case(&w, id);
        if (json)
            continue;
        if (res[id].have_cycles)
            printf("  pseudo-perf.: %.1f FLOPS/cycle\n", res[id].flops_per_cycle);
        printf("  performance: %.1f GFLOPS/s\n", res[id].gflops);
        if (res[id].bandwidth >= 0)
            printf("  bandwidth: %.1f GB/s\n", res[id].bandwidth);
        printf("  duration: %.0f ms\n  checksum: %.17g\n", 1e3 * res[id].seconds, res[id].checksum);
    }
    if (json) {
        printf("{\"program\": \"bench-smm\", \"m\": %d, \"n\": %d, \"k\": %d, \"batch\": %zu, "
               "\"repeat\": %ld, \"size_mb\": %.6g, \"blas_core\": ",
               w.m, w.n, w.k, w.batch, w.repeat, (double)w.batch * triple / 1048576.0);
        sample_json_string(stdout, sample_blas_core());
        printf(", \"wrapper\": ");
        sample_wrapper_json(stdout);
        printf(", \"cases\": [");
        for (int id = first; id <= last; id++) {
            printf("%s\n  {\"case\": %d, \"name\": \"%s\", \"streamed\": \"%s%s%s\", "
                   "\"duration_s\": %.9g, \"gflops\": %.9g, \"bandwidth_gbs\": ",
                   id > first ? "," : "", id, cases[id].name, cases[id].stream_a ? "A" : "",
                   cases[id].stream_b ? "B" : "", cases[id].stream_c ? "C" : "", res[id].seconds,
                   res[id].gflops);
            print_number(res[id].bandwidth);
            printf(", \"flops_per_cycle\": ");
            print_number(res[id].flops_per_cycle);
            printf(", \"checksum\": %.17g}", res[id].checksum);
        }
        printf("\n]}\n");
    } else {
        printf("\n");
        sample_wrapper_print(stdout);
        const char *core = sample_blas_core();
        printf("BLAS: %s\nFinished\n", core ? core : "not OpenBLAS");
    }
    free(w.a);
    free(w.b);
    free(w.c);
    free(w.c_cached);
    return 0;
}
