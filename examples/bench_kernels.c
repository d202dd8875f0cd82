// bench_kernels.c: the kernel performance benchmark (issue 3). One run on one pinned core
// measures, per GEMM shape, five peers and prints everything as one JSON document on stdout
// (progress goes to stderr); `xsmmwrap bench kernels` runs it and prints the tables.
//
//   ours_kernel     our kernel alone: the function pointer from the registry (xw_reg_get),
//                   generated code when the generator made it, else the portable C kernel
//   ours_gemm       the whole interposed call: dgemm_/sgemm_ exported by libxsmmwrap.so
//                   (adapter, validation, descriptor, lookup, statistics, kernel)
//   blas            the original BLAS dgemm_/sgemm_ (system OpenBLAS, libopenblas.so.0)
//   libxsmm_kernel  LIBXSMM 1.17: the kernel from libxsmm_dmmdispatch, called directly
//   libxsmm_gemm    LIBXSMM 1.17: libxsmm_dgemm (dispatch + call, BLAS fallback)
//   ours_tuned, ours_control, ours_target  other instances of libxsmmwrap.so (--tune, --vs-target)
//
// Sections: DP NN alpha=1 beta=1 with cached and with streamed operands; transposes and a
// general alpha/beta for a few shapes; single precision for a few shapes; dispatch cost (find
// a known kernel, create a new one), memory of 1000 kernels (made through the registry, and
// made through dgemm_ and libxsmm_dgemm: the resident set a program sees grow), and the RSS
// cost of loading libxsmmwrap.so. --dispatch-only runs the dispatch and memory sections alone.
// --complex runs the complex section alone: ZGEMM and CGEMM cached, NN alpha = beta = 1 on a
// few shapes, then conjugations, a transpose and other scalars on two (peers: our kernel, the
// original zgemm_/cgemm_, and the interposed ones once libxsmmwrap.so exports them; % of peak
// counts 8*M*N*K real flops).
// The peak of the core is measured with a register-only FMA loop.
//
// The registry is the one linked into this program (the `core` static library): its kernels
// are the ones libxsmmwrap.so would make under the same environment. libxsmmwrap.so itself is
// dlopen'ed (RTLD_LOCAL) for the interposed call, so it keeps its own registry; the original
// BLAS is dlopen'ed too. LIBXSMM is linked statically when meson found libxsmm-dev
// (XW_BENCH_LIBXSMM); without it the LIBXSMM peers are reported as absent (null).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../include/xsmmwrap.h"
#include "../src/kernels/kernels.h"
#include "bench_timing.h"
#include "memory_shapes.h"
#include "sample_util.h"

#ifndef XW_BENCH_LIBXSMM
#define XW_BENCH_LIBXSMM 0
#endif
#if XW_BENCH_LIBXSMM
#include <libxsmm.h>
#include <libxsmm_version.h>
#endif

// ---------------------------------------------------------------------------------------------
// Options

typedef struct {
    int m, n, k;
} shape;

#define SHAPES_MAX 64  // --shapes: most shapes in one run
#define SHAPE_DIM_MAX 256

static struct {
    bool quick;
    bt_settings run;      // the measurement: loop time, rounds, streamed batch, CPU
    const char *lib;      // libxsmmwrap.so (NULL: $XSMMWRAP_LIBRARY, else ../libxsmmwrap.so)
    const char *blas;     // original BLAS to dlopen
    int kernels;          // distinct kernels for the dispatch/memory section (at most 1000)
    const char *tune;     // --tune FILE: a second instance of the library reads it (ours_tuned)
    const char *vs_target;  // --vs-target T: an instance started with XSMMWRAP_TARGET=T (ours_target)
    double recheck_below; // --recheck-below X: a case whose tuned dgemm_ takes more than 1/X
                          // of the faster of the untuned one (the control) and the BLAS is
                          // timed again
    bool dispatch_only;   // --dispatch-only: the dispatch and memory sections, nothing else
    bool complex_only;    // --complex: the complex section, nothing else
    bool families_only;   // --families-only: the GEMV and strided batch sections, nothing else
    const char *batch_blas;  // an OpenBLAS with dgemm_batch_strided_ (scipy_ prefixed or not)
    shape shapes[SHAPES_MAX];  // --shapes: only these, DP NN cached and streamed (no other section)
    int nshapes;               // 0: the standard shapes and every section
} opt = {
    .quick = false, .run = { .min_time = 0.05, .repeats = 10, .stream_bytes = (size_t)256 << 20, .cpu = -1 },
    .lib = NULL, .blas = "libopenblas.so.0", .kernels = 1000,
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_kernels [--quick] [--min-time S] [--repeats N] [--stream-mb MB]\n"
            "                     [--cpu N] [--lib LIBXSMMWRAP.so] [--blas LIBBLAS.so]\n"
            "                     [--shapes MxNxK[,MxNxK...] | --dispatch-only | --families-only]\n"
            "                     [--complex] [--batch-blas LIBOPENBLAS.so] [--tune FILE [--recheck-below X]]\n"
            "                     [--vs-target TARGET]\n"
            "Prints one JSON document on stdout; progress on stderr. --shapes measures only\n"
            "those shapes (DP, NN, alpha = beta = 1, cached and streamed; each size 1..%d).\n"
            "--dispatch-only measures only the dispatch cost and the memory of 1000 kernels.\n"
            "--complex measures only ZGEMM and CGEMM (cached; of --shapes when given).\n"
            "--tune FILE also times the dgemm_ of a second instance that read FILE;\n"
            "--recheck-below X times again, with three times the rounds, the real cases where\n"
            "it is below X times the faster of the untuned dgemm_ and the BLAS (both passes kept).\n"
            "--vs-target TARGET also times the dgemm_ of an instance started with\n"
            "XSMMWRAP_TARGET=TARGET, beside the control (an instance with the default target).\n",
            SHAPE_DIM_MAX);
}

// "MxNxK[,MxNxK...]" into opt.shapes; false on anything else.
static bool parse_shapes(const char *v)
{
    opt.nshapes = 0;
    for (const char *p = v;;) {
        int d[3];
        for (int i = 0; i < 3; i++) {
            char *end;
            const long x = strtol(p, &end, 10);
            if (end == p || x < 1 || x > SHAPE_DIM_MAX || (i < 2 && *end != 'x'))
                return false;
            d[i] = (int)x;
            p = end + (i < 2);
        }
        if (opt.nshapes == SHAPES_MAX)
            return false;
        opt.shapes[opt.nshapes++] = (shape){ d[0], d[1], d[2] };
        if (*p == '\0')
            return true;
        if (*p++ != ',')
            return false;
    }
}

static void parse_args(int argc, char **argv)
{
    bool min_time_set = false, repeats_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            opt.quick = true;
            continue;
        }
        if (!strcmp(a, "--dispatch-only")) {
            opt.dispatch_only = true;
            continue;
        }
        if (!strcmp(a, "--complex")) {
            opt.complex_only = true;
            continue;
        }
        if (!strcmp(a, "--families-only")) {
            opt.families_only = true;
            continue;
        }
        min_time_set |= !strcmp(a, "--min-time");
        repeats_set |= !strcmp(a, "--repeats");
        if (bt_option(&opt.run, a, v, usage)) {
            i++;
            continue;
        }
        if (!strcmp(a, "--lib"))
            opt.lib = v;
        else if (!strcmp(a, "--blas"))
            opt.blas = v;
        else if (!strcmp(a, "--batch-blas"))
            opt.batch_blas = v;
        else if (!strcmp(a, "--tune"))
            opt.tune = v;
        else if (!strcmp(a, "--vs-target"))
            opt.vs_target = v;
        else if (!strcmp(a, "--recheck-below"))
            opt.recheck_below = atof(v);
        else if (!strcmp(a, "--shapes")) {
            if (!parse_shapes(v)) {
                fprintf(stderr, "bench_kernels: --shapes %s: want MxNxK[,MxNxK...], each 1..%d\n", v,
                        SHAPE_DIM_MAX);
                exit(2);
            }
        } else {
            usage(stderr);
            exit(2);
        }
        i++;
    }
    if (opt.complex_only + opt.dispatch_only + opt.families_only > 1) {
        fprintf(stderr, "bench_kernels: --complex, --dispatch-only and --families-only exclude each other\n");
        exit(2);
    }
    if ((opt.dispatch_only || opt.families_only) && opt.nshapes) {
        fprintf(stderr, "bench_kernels: --shapes and --dispatch-only exclude each other\n");
        exit(2);
    }
    if (opt.quick) {
        if (!min_time_set)
            opt.run.min_time = 0.01;
        if (!repeats_set)
            opt.run.repeats = 6;
    }
    if (opt.run.min_time <= 0)
        opt.run.min_time = 0.1;
    if (opt.run.repeats < 1)
        opt.run.repeats = 1;
    if (opt.run.stream_bytes < ((size_t)8 << 20))
        opt.run.stream_bytes = (size_t)8 << 20;
}

// ---------------------------------------------------------------------------------------------
// Small utilities: time, RSS, JSON output

static double now(void) { return bt_now(); }

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// The resident set as /proc/self/status splits it: anonymous, file and shared memory (a memfd's
// pages are shared memory, counted once per mapping that has them in its page tables), in KiB.
typedef struct {
    long rss, anon, file, shmem;
} rss_split;

static rss_split rss_status(void)
{
    rss_split r = { -1, -1, -1, -1 };
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        long v;
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            r.rss = v;
        else if (sscanf(line, "RssAnon: %ld", &v) == 1)
            r.anon = v;
        else if (sscanf(line, "RssFile: %ld", &v) == 1)
            r.file = v;
        else if (sscanf(line, "RssShmem: %ld", &v) == 1)
            r.shmem = v;
    }
    if (f)
        fclose(f);
    return r;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_kernels: %s\n", what);
    exit(1);
}

static void *xalloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p)
        die("out of memory");
    return p;
}

// A minimal streaming JSON writer: containers on a stack, commas handled here.
static struct {
    int depth;
    bool first[32];
} js = { 0, { true } };

static void j_sep(const char *key)
{
    if (js.depth > 0) {
        if (!js.first[js.depth])
            putchar(',');
        js.first[js.depth] = false;
        putchar('\n');
        for (int i = 0; i < js.depth; i++)
            fputs("  ", stdout);
    }
    if (key)
        printf("\"%s\": ", key);
}
static void j_str(const char *key, const char *s)
{
    j_sep(key);
    sample_json_string(stdout, s);
}
static void j_num(const char *key, double v)
{
    j_sep(key);
    if (isfinite(v))
        printf("%.6g", v);
    else
        fputs("null", stdout);
}
static void j_int(const char *key, long long v)
{
    j_sep(key);
    printf("%lld", v);
}
static void j_bool(const char *key, bool v)
{
    j_sep(key);
    fputs(v ? "true" : "false", stdout);
}
static void j_null(const char *key)
{
    j_sep(key);
    fputs("null", stdout);
}
static void j_open(const char *key, char bracket)
{
    j_sep(key);
    putchar(bracket);
    js.first[++js.depth] = true;
}
static void j_close(char bracket)
{
    const bool empty = js.first[js.depth];
    js.depth--;
    if (!empty) {
        putchar('\n');
        for (int i = 0; i < js.depth; i++)
            fputs("  ", stdout);
    }
    putchar(bracket);
    if (js.depth == 0)
        putchar('\n');
}

// ---------------------------------------------------------------------------------------------
// The peers

enum {
    P_OURS_KERNEL, P_OURS_GEMM, P_BLAS, P_LIBXSMM_KERNEL, P_LIBXSMM_GEMM, P_OURS_TUNED, P_OURS_CONTROL,
    P_OURS_TARGET, P_COUNT
};
static const char *const peer_name[P_COUNT] = {
    "ours_kernel", "ours_gemm", "blas", "libxsmm_kernel", "libxsmm_gemm", "ours_tuned", "ours_control",
    "ours_target",
};

// Fortran GEMM (bench_timing.h), named by what a pointer holds; zgemm_ and cgemm_ take scalars
// and matrices of interleaved (re, im) pairs.
typedef bt_gemm_fn dgemm_fn;
typedef bt_gemm_fn sgemm_fn;
typedef bt_gemm_fn zgemm_fn;

static struct {
    void *handle;
    dgemm_fn *dgemm;
    sgemm_fn *sgemm;
    zgemm_fn *zgemm, *cgemm;  // NULL until the library exports them
    int (*get_config)(xsmmwrap_config *);
    int (*get_stats)(xsmmwrap_stats *);
    const char *(*version)(void);
    const char *(*route_name)(int);
    char path[PATH_MAX];
} wrap;

// --tune: a copy of libxsmmwrap.so loaded as a second instance, with XSMMWRAP_TUNE=FILE in the
// environment when it starts (the first one starts with XSMMWRAP_TUNE=0): the untuned and the
// tuned wrapper timed in the same run, interleaved. A third copy, loaded the same way without
// the file, is the control: the untuned wrapper loaded as the tuned one is, so that the two
// differ by the file alone (the first instance, loaded by path before them, is timed too).
// --vs-target: one more copy, started with XSMMWRAP_TARGET set, compared with the control.
typedef struct {
    void *handle;
    dgemm_fn *dgemm;
    sgemm_fn *sgemm;
    xsmmwrap_config cfg;
    bool in_use;
    int (*get_stats)(xsmmwrap_stats *);
} instance;
static instance tuned, control, other_target;
// The peers that are such copies, by peer (NULL: not a copy).
static instance *const copy_of[P_COUNT] = {
    [P_OURS_TUNED] = &tuned, [P_OURS_CONTROL] = &control, [P_OURS_TARGET] = &other_target,
};

static struct {
    void *handle;
    dgemm_fn *dgemm;
    sgemm_fn *sgemm;
    zgemm_fn *zgemm, *cgemm;
    char path[PATH_MAX];
    const char *corename;
    const char *config;
} blas;

static void *sym(void *h, const char *name)
{
    return h ? dlsym(h, name) : NULL;
}

// One benchmark case: a shape, transposes, scalars, the operands and every peer's callable.
typedef struct {
    int prec;  // 64 or 32: of each part when complex
    bool cx;   // complex (zgemm, cgemm): elements are (re, im) pairs
    char ta, tb;
    int m, n, k, lda, ldb, ldc;
    double alpha, beta;  // real scalars, and the real parts of complex ones (imaginary 0)
    float alpha_f, beta_f;
    double alpha_z[2], beta_z[2];
    float alpha_c[2], beta_c[2];
    // Operands: `count` triples [A|B|C], `stride` bytes apart; one triple when cached.
    char *base;
    size_t stride, off_b, off_c, count, pos;
    // Callables (NULL: the peer is absent for this case).
    const xw_kernel *ours;
#if XW_BENCH_LIBXSMM
    libxsmm_dmmfunction xd;
    libxsmm_smmfunction xs;
#endif
    bool has[P_COUNT];
} bench_case;

static size_t part_size(const bench_case *b) { return b->prec == 64 ? 8 : 4; }
static size_t elem_size(const bench_case *b) { return part_size(b) * (b->cx ? 2 : 1); }
static size_t round64(size_t x) { return (x + 63) / 64 * 64; }

// Sizes of A, B and C in elements (column-major, leading dimension times columns).
static size_t a_elems(const bench_case *b) { return (size_t)b->lda * (b->ta == 'N' ? b->k : b->m); }
static size_t b_elems(const bench_case *b) { return (size_t)b->ldb * (b->tb == 'N' ? b->n : b->k); }
static size_t c_elems(const bench_case *b) { return (size_t)b->ldc * b->n; }

static void layout(bench_case *b)
{
    const size_t es = elem_size(b);
    b->off_b = round64(a_elems(b) * es);
    b->off_c = b->off_b + round64(b_elems(b) * es);
    b->stride = b->off_c + round64(c_elems(b) * es);
}

// n operands (parts) of precision prec, 64 or 32 (bench_timing.c's values).
static void fill(void *p, size_t n, int prec, uint64_t seed) { bt_fill(p, n, prec == 64, seed); }

static xw_prec prec_of(const bench_case *b)
{
    return b->cx ? (b->prec == 64 ? XW_C64 : XW_C32) : b->prec == 64 ? XW_F64 : XW_F32;
}

static uint8_t trans_of(const bench_case *b, char t)
{
    return t == 'N' ? XW_TRANS_N : t == 'C' && b->cx ? XW_TRANS_C : XW_TRANS_T;
}

static xw_desc desc_of(const bench_case *b)
{
    const void *al = b->cx ? (const void *)b->alpha_z : (const void *)&b->alpha;
    const void *be = b->cx ? (const void *)b->beta_z : (const void *)&b->beta;
    const xw_prec scale_prec = b->cx ? XW_C64 : XW_F64;  // the class of the double values
    return (xw_desc){
        .m = (uint32_t)b->m, .n = (uint32_t)b->n, .k = (uint32_t)b->k,
        .lda = (uint32_t)b->lda, .ldb = (uint32_t)b->ldb, .ldc = (uint32_t)b->ldc,
        .prec = (uint8_t)prec_of(b), .ta = trans_of(b, b->ta), .tb = trans_of(b, b->tb),
        .alpha = (uint8_t)xw_scale_class(scale_prec, al), .beta = (uint8_t)xw_scale_class(scale_prec, be),
    };
}

#define LOOP(T, CALL)                                                                              \
    do {                                                                                           \
        size_t pos = bc->pos;                                                                      \
        for (size_t r = 0; r < reps; r++) {                                                        \
            char *p_ = bc->base + pos * bc->stride;                                                \
            const T *a = (const T *)p_;                                                            \
            const T *b = (const T *)(p_ + bc->off_b);                                              \
            T *c = (T *)(p_ + bc->off_c);                                                          \
            CALL;                                                                                  \
            if (++pos == bc->count)                                                                \
                pos = 0;                                                                           \
        }                                                                                          \
        bc->pos = pos;                                                                             \
    } while (0)

#if XW_BENCH_LIBXSMM
#define LIBXSMM_PEERS(T, P, AL, BE)                                                                \
    case P_LIBXSMM_KERNEL: {                                                                       \
        const libxsmm_##P##mmfunction f = bc->x##P;                                                \
        LOOP(T, f(a, b, c));                                                                       \
        break;                                                                                     \
    }                                                                                              \
    case P_LIBXSMM_GEMM:                                                                           \
        LOOP(T, libxsmm_##P##gemm(&ta, &tb, &m, &n, &k, &AL, a, &lda, b, &ldb, &BE, c, &ldc));     \
        break;
#else
#define LIBXSMM_PEERS(T, P, AL, BE)
#endif

// The timed loop of each peer for element type T (P: d or s), scalars AL and BE. The peers with
// dgemm_'s signature share one loop: the untuned and the tuned instance are compared through
// the same instructions at the same address, not through two copies aligned differently.
#define PEERS(T, P, AL, BE)                                                                        \
    switch (peer) {                                                                                \
    case P_OURS_KERNEL: {                                                                          \
        const xw_kernel_fn fn = bc->ours->fn;                                                      \
        const xw_desc *d = &bc->ours->desc;                                                        \
        LOOP(T, fn(a, b, c, &AL, &BE, d));                                                         \
        break;                                                                                     \
    }                                                                                              \
    case P_OURS_GEMM:                                                                              \
    case P_BLAS:                                                                                   \
    case P_OURS_TUNED:                                                                             \
    case P_OURS_CONTROL:                                                                           \
    case P_OURS_TARGET: {                                                                          \
        P##gemm_fn *const f = peer == P_OURS_GEMM ? wrap.P##gemm                                   \
                              : peer == P_BLAS    ? blas.P##gemm                                   \
                                                  : copy_of[peer]->P##gemm;                        \
        LOOP(T, f(&ta, &tb, &m, &n, &k, &AL, a, &lda, b, &ldb, &BE, c, &ldc, 1, 1));               \
        break;                                                                                     \
    }                                                                                              \
        LIBXSMM_PEERS(T, P, AL, BE)                                                                \
    default: break;                                                                                \
    }

// Complex: our kernel, the interposed zgemm_/cgemm_ and the original's (P: z or c; AL, BE
// arrays of two parts). LIBXSMM 1.17 has no complex GEMM.
#define ZPEERS(T, P, AL, BE)                                                                       \
    switch (peer) {                                                                                \
    case P_OURS_KERNEL: {                                                                          \
        const xw_kernel_fn fn = bc->ours->fn;                                                      \
        const xw_desc *d = &bc->ours->desc;                                                        \
        LOOP(T, fn(a, b, c, AL, BE, d));                                                           \
        break;                                                                                     \
    }                                                                                              \
    case P_OURS_GEMM: {                                                                            \
        zgemm_fn *const f = wrap.P##gemm;                                                          \
        LOOP(T, f(&ta, &tb, &m, &n, &k, AL, a, &lda, b, &ldb, BE, c, &ldc, 1, 1));                 \
        break;                                                                                     \
    }                                                                                              \
    case P_BLAS: {                                                                                 \
        zgemm_fn *const f = blas.P##gemm;                                                          \
        LOOP(T, f(&ta, &tb, &m, &n, &k, AL, a, &lda, b, &ldb, BE, c, &ldc, 1, 1));                 \
        break;                                                                                     \
    }                                                                                              \
    default: break;                                                                                \
    }

// Runs `reps` calls of one peer; returns the elapsed seconds (a bt_run_fn: ctx is the case).
static double run_peer(void *ctx, int peer, size_t reps)
{
    bench_case *bc = ctx;
    const char ta = bc->ta, tb = bc->tb;
    const int m = bc->m, n = bc->n, k = bc->k, lda = bc->lda, ldb = bc->ldb, ldc = bc->ldc;
    const double ad = bc->alpha, bd = bc->beta;
    const float as = bc->alpha_f, bs = bc->beta_f;
    const double t0 = now();
    if (bc->cx && bc->prec == 64)
        ZPEERS(double, z, bc->alpha_z, bc->beta_z)
    else if (bc->cx)
        ZPEERS(float, c, bc->alpha_c, bc->beta_c)
    else if (bc->prec == 64)
        PEERS(double, d, ad, bd)
    else
        PEERS(float, s, as, bs)
    return now() - t0;
}

// ---------------------------------------------------------------------------------------------
// Peak: a register-only FMA loop, 12 independent accumulators (covers 2 pipes x 4-5 cycles)

// The loop for one register kind R ("ymm" or "zmm") and its zeroing XOR: 14 registers zeroed,
// then 12 accumulators FMA'd per iteration from the same two sources.
#define FMA_ZERO(XOR, R, i) XOR " %%" R #i ", %%" R #i ", %%" R #i "\n\t"
#define FMA_STEP(R, i) "vfmadd231pd %%" R "12, %%" R "13, %%" R #i "\n\t"
#define FMA_LOOP(XOR, R)                                                                           \
    FMA_ZERO(XOR, R, 0) FMA_ZERO(XOR, R, 1) FMA_ZERO(XOR, R, 2) FMA_ZERO(XOR, R, 3)               \
    FMA_ZERO(XOR, R, 4) FMA_ZERO(XOR, R, 5) FMA_ZERO(XOR, R, 6) FMA_ZERO(XOR, R, 7)               \
    FMA_ZERO(XOR, R, 8) FMA_ZERO(XOR, R, 9) FMA_ZERO(XOR, R, 10) FMA_ZERO(XOR, R, 11)             \
    FMA_ZERO(XOR, R, 12) FMA_ZERO(XOR, R, 13)                                                      \
    ".p2align 5\n"                                                                                \
    "1:\n\t"                                                                                      \
    FMA_STEP(R, 0) FMA_STEP(R, 1) FMA_STEP(R, 2) FMA_STEP(R, 3) FMA_STEP(R, 4) FMA_STEP(R, 5)     \
    FMA_STEP(R, 6) FMA_STEP(R, 7) FMA_STEP(R, 8) FMA_STEP(R, 9) FMA_STEP(R, 10) FMA_STEP(R, 11)   \
    "dec %0\n\t"                                                                                  \
    "jnz 1b\n\t"                                                                                  \
    "vzeroupper\n\t"
#define FMA_CLOBBERS                                                                               \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",       \
        "xmm11", "xmm12", "xmm13", "cc"

static void fma_loop_ymm(uint64_t n) { __asm__ volatile(FMA_LOOP("vxorpd", "ymm") : "+r"(n) : : FMA_CLOBBERS); }

static void fma_loop_zmm(uint64_t n) { __asm__ volatile(FMA_LOOP("vpxorq", "zmm") : "+r"(n) : : FMA_CLOBBERS); }

// DP GFLOP/s of the loop: the best of 100 loops of about 1 ms each (0.1 s in all). Unlike the
// GEMM figures, the peak is taken from short loops: a loop the scheduler interrupted would
// understate it, and every % of peak with it.
#define PEAK_LOOP_S 1e-3
#define PEAK_LOOPS 100

// bench_timing's bt_run_fn: `reps` (at least 1) iterations of the loop, peer 1 zmm, 0 ymm.
static double fma_loop(void *ctx, int zmm, size_t reps)
{
    (void)ctx;
    const double t0 = now();
    zmm ? fma_loop_zmm(reps) : fma_loop_ymm(reps);
    return now() - t0;
}

static double peak_gflops(bool zmm)
{
    const double flops_per_iter = 12.0 * (zmm ? 8 : 4) * 2;
    const bool present[2] = { !zmm, zmm };
    double ns[2];
    bt_measure(fma_loop, NULL, 2, present, PEAK_LOOP_S, PEAK_LOOPS, ns);
    return flops_per_iter / ns[zmm];  // flops per ns: GFLOP/s
}

// ---------------------------------------------------------------------------------------------
// Setup: pinning, machine description, libraries

static void pin_cpu(void)
{
    if (!bt_pin(&opt.run.cpu))
        fprintf(stderr, "bench_kernels: cannot pin to CPU %d: %s\n", opt.run.cpu, strerror(errno));
}

static struct {
    char model[256];
    int family, model_number, stepping;
    bool avx2, fma, avx512f;
} cpu;

static void read_cpuinfo(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    bool have_model = false, have_flags = false;
    strcpy(cpu.model, "unknown");
    cpu.family = cpu.model_number = cpu.stepping = -1;
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *val = colon + 1;
        while (*val == ' ' || *val == '\t')
            val++;
        val[strcspn(val, "\n")] = 0;
        if (!have_model && !strncmp(line, "model name", 10)) {
            snprintf(cpu.model, sizeof cpu.model, "%s", val);
            have_model = true;
        } else if (cpu.family < 0 && !strncmp(line, "cpu family", 10)) {
            cpu.family = atoi(val);
        } else if (cpu.model_number < 0 && !strncmp(line, "model\t", 6)) {
            cpu.model_number = atoi(val);
        } else if (cpu.stepping < 0 && !strncmp(line, "stepping", 8)) {
            cpu.stepping = atoi(val);
        } else if (!have_flags && !strncmp(line, "flags", 5)) {
            char padded[8192];
            snprintf(padded, sizeof padded, " %s ", val);
            cpu.avx2 = strstr(padded, " avx2 ") != NULL;
            cpu.fma = strstr(padded, " fma ") != NULL;
            cpu.avx512f = strstr(padded, " avx512f ") != NULL;
            have_flags = true;
        }
    }
    if (f)
        fclose(f);
}

static bool cpu_has_fma(void) { return cpu.avx2 && cpu.fma; }

// libxsmmwrap.so: --lib, else $XSMMWRAP_LIBRARY, else ../libxsmmwrap.so next to this program
// (the package puts programs in xsmmwrap/bin, the build tree in build/examples).
static void find_library(void)
{
    const char *env = getenv("XSMMWRAP_LIBRARY");
    if (opt.lib) {
        snprintf(wrap.path, sizeof wrap.path, "%s", opt.lib);
    } else if (env && *env) {
        snprintf(wrap.path, sizeof wrap.path, "%s", env);
    } else {
        char exe[PATH_MAX - 32];
        const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0)
            die("cannot read /proc/self/exe; pass --lib");
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = 0;
        snprintf(wrap.path, sizeof wrap.path, "%s/../libxsmmwrap.so", exe);
    }
    char real[PATH_MAX];
    if (realpath(wrap.path, real))
        snprintf(wrap.path, sizeof wrap.path, "%s", real);
}

static void load_blas(void)
{
    blas.handle = dlopen(opt.blas, RTLD_NOW | RTLD_LOCAL);
    if (!blas.handle) {
        fprintf(stderr, "bench_kernels: no original BLAS (%s): %s\n", opt.blas, dlerror());
        return;
    }
    blas.dgemm = (dgemm_fn *)sym(blas.handle, "dgemm_");
    blas.sgemm = (sgemm_fn *)sym(blas.handle, "sgemm_");
    blas.zgemm = (zgemm_fn *)sym(blas.handle, "zgemm_");
    blas.cgemm = (zgemm_fn *)sym(blas.handle, "cgemm_");
    Dl_info info;
    if (blas.dgemm && dladdr((void *)blas.dgemm, &info) && info.dli_fname)
        snprintf(blas.path, sizeof blas.path, "%s", info.dli_fname);
    char *(*corename)(void) = (char *(*)(void))sym(blas.handle, "openblas_get_corename");
    char *(*config)(void) = (char *(*)(void))sym(blas.handle, "openblas_get_config");
    void (*set_threads)(int) = (void (*)(int))sym(blas.handle, "openblas_set_num_threads");
    if (set_threads)
        set_threads(1);  // one core: small GEMMs near 64^3 could otherwise use two threads
    blas.corename = corename ? corename() : NULL;
    blas.config = config ? config() : NULL;
}

// Another instance: a copy of the library (the loader would return the first for the same
// file), started with XSMMWRAP_TUNE=tune (a file, or "0") and, when target is not NULL,
// XSMMWRAP_TARGET=target; the copy is unlinked once mapped.
static void load_instance(instance *in, const char *tune, const char *target)
{
    char copy[] = "/tmp/xsmmwrap-bench-instance-XXXXXX.so";
    const int out = mkstemps(copy, 3);
    FILE *src = fopen(wrap.path, "rb");
    bool ok = out >= 0 && src;
    char buf[1 << 16];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, src)) > 0)
        ok = write(out, buf, n) == (ssize_t)n;
    if (src)
        fclose(src);
    if (out >= 0)
        close(out);
    setenv("XSMMWRAP_TUNE", tune, 1);
    const char *was = getenv("XSMMWRAP_TARGET");
    char *saved = was ? strdup(was) : NULL;  // setenv may free what getenv returned
    if (target)
        setenv("XSMMWRAP_TARGET", target, 1);
    in->handle = ok ? dlopen(copy, RTLD_NOW | RTLD_LOCAL) : NULL;
    unlink(copy);
    if (!in->handle) {
        fprintf(stderr, "bench_kernels: cannot load another libxsmmwrap.so\n");
        exit(1);
    }
    in->dgemm = (dgemm_fn *)sym(in->handle, "dgemm_");
    in->sgemm = (sgemm_fn *)sym(in->handle, "sgemm_");
    int (*get_config)(xsmmwrap_config *) = (int (*)(xsmmwrap_config *))sym(in->handle, "xsmmwrap_get_config");
    if (get_config)
        get_config(&in->cfg);  // reads XSMMWRAP_TUNE and XSMMWRAP_TARGET now
    if (target && saved)
        setenv("XSMMWRAP_TARGET", saved, 1);
    else if (target)
        unsetenv("XSMMWRAP_TARGET");
    free(saved);
    in->in_use = in->cfg.tune_state == XSMMWRAP_TUNE_IN_USE;
    in->get_stats = (int (*)(xsmmwrap_stats *))sym(in->handle, "xsmmwrap_get_stats");
}

// ---------------------------------------------------------------------------------------------
// The cases

static const xw_kernel *ours_kernel(const bench_case *bc)
{
    const xw_desc d = desc_of(bc);
    const xw_kernel *kn = NULL;
    const xw_reg_result r = xw_reg_get(&d, &kn);
    return r == XW_REG_FOUND || r == XW_REG_CREATED ? kn : NULL;
}

// Prepares every peer's callable for the case; absent peers get has[] = false.
static void bind_peers(bench_case *bc)
{
    bc->alpha_f = (float)bc->alpha;
    bc->beta_f = (float)bc->beta;
    for (int i = 0; i < 2; i++) {
        bc->alpha_c[i] = (float)bc->alpha_z[i];
        bc->beta_c[i] = (float)bc->beta_z[i];
    }
    bc->ours = ours_kernel(bc);
    bc->has[P_OURS_KERNEL] = bc->ours != NULL;
    if (bc->cx) {
        bc->has[P_OURS_GEMM] = (bc->prec == 64 ? wrap.zgemm : wrap.cgemm) != NULL;
        bc->has[P_BLAS] = (bc->prec == 64 ? blas.zgemm : blas.cgemm) != NULL;
        return;
    }
    bc->has[P_OURS_GEMM] = bc->prec == 64 ? wrap.dgemm != NULL : wrap.sgemm != NULL;
    bc->has[P_BLAS] = bc->prec == 64 ? blas.dgemm != NULL : blas.sgemm != NULL;
    for (int p = 0; p < P_COUNT; p++)
        if (copy_of[p])
            bc->has[p] = bc->prec == 64 ? copy_of[p]->dgemm != NULL : copy_of[p]->sgemm != NULL;
#if XW_BENCH_LIBXSMM
    const int flags = (bc->ta != 'N' ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) |
                      (bc->tb != 'N' ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
    const int prefetch = LIBXSMM_GEMM_PREFETCH_NONE;
    if (bc->prec == 64) {
        bc->xd = libxsmm_dmmdispatch(bc->m, bc->n, bc->k, &bc->lda, &bc->ldb, &bc->ldc, &bc->alpha,
                                     &bc->beta, &flags, &prefetch);
        bc->has[P_LIBXSMM_KERNEL] = bc->xd != NULL;
    } else {
        bc->xs = libxsmm_smmdispatch(bc->m, bc->n, bc->k, &bc->lda, &bc->ldb, &bc->ldc,
                                     &bc->alpha_f, &bc->beta_f, &flags, &prefetch);
        bc->has[P_LIBXSMM_KERNEL] = bc->xs != NULL;
    }
    // libxsmm_dgemm falls back to the BLAS it was linked with when it has no kernel.
    bc->has[P_LIBXSMM_GEMM] = true;
#endif
}

static void case_init(bench_case *bc, int prec, bool cx, char ta, char tb, int m, int n, int k,
                      double alpha, double beta)
{
    memset(bc, 0, sizeof *bc);
    bc->prec = prec;
    bc->cx = cx;
    bc->alpha_z[0] = alpha;
    bc->beta_z[0] = beta;
    bc->ta = ta;
    bc->tb = tb;
    bc->m = m;
    bc->n = n;
    bc->k = k;
    bc->lda = ta == 'N' ? m : k;
    bc->ldb = tb == 'N' ? k : n;
    bc->ldc = m;
    bc->alpha = alpha;
    bc->beta = beta;
    layout(bc);
    bind_peers(bc);
}

// Operands in cache: one triple, filled.
static char *case_cached(bench_case *bc)
{
    char *buf = xalloc(bc->stride);
    fill(buf, bc->stride / part_size(bc), bc->prec, (uint64_t)bc->m * 131 + bc->n * 17 + bc->k);
    bc->base = buf;
    bc->count = 1;
    bc->pos = 0;
    return buf;
}

// Runs each present peer once on the same inputs and compares with the portable kernel:
// the largest error relative to the largest reference element. -1 when the peer is absent.
static void check_peers(bench_case *bc, double err[P_COUNT], int *route, int *followed)
{
    const size_t es = part_size(bc), cn = c_elems(bc) * (bc->cx ? 2 : 1);  // parts
    char *c0 = xalloc(cn * es), *ref = xalloc(cn * es);
    char *c = bc->base + bc->off_c;
    memcpy(c0, c, cn * es);
    memcpy(ref, c, cn * es);
    const float as = bc->alpha_f, bs = bc->beta_f;
    const void *al = bc->prec == 64 ? (const void *)&bc->alpha : (const void *)&as;
    const void *be = bc->prec == 64 ? (const void *)&bc->beta : (const void *)&bs;
    if (bc->cx) {
        al = bc->prec == 64 ? (const void *)bc->alpha_z : (const void *)bc->alpha_c;
        be = bc->prec == 64 ? (const void *)bc->beta_z : (const void *)bc->beta_c;
    }
    xw_ref_gemm(prec_of(bc), trans_of(bc, bc->ta), trans_of(bc, bc->tb), bc->m, bc->n, bc->k,
                al, bc->base, bc->lda, bc->base + bc->off_b, bc->ldb, be, ref, bc->ldc);
    double refmax = 0;
    for (size_t i = 0; i < cn; i++) {
        const double r = bc->prec == 64 ? ((double *)ref)[i] : ((float *)ref)[i];
        refmax = fmax(refmax, fabs(r));
    }
    *route = *followed = -1;
    for (int p = 0; p < P_COUNT; p++) {
        err[p] = -1;
        if (!bc->has[p])
            continue;
        memcpy(c, c0, cn * es);
        // The route our dgemm_ took, and whether the tuned instance's call followed its file.
        int (*const get_stats)(xsmmwrap_stats *) = p == P_OURS_GEMM ? wrap.get_stats
                                                   : p == P_OURS_TUNED ? tuned.get_stats : NULL;
        xsmmwrap_stats before = { 0 }, after = { 0 };
        if (get_stats)
            get_stats(&before);
        const size_t saved = bc->pos;
        bc->pos = 0;
        run_peer(bc, p, 1);
        bc->pos = saved;
        if (get_stats) {
            get_stats(&after);
            for (int r = 0; r < XSMMWRAP_ROUTE_COUNT && p == P_OURS_GEMM; r++)
                if (after.by_route[r] != before.by_route[r])
                    *route = r;
            if (p == P_OURS_TUNED)
                *followed = after.tuned_calls != before.tuned_calls;
        }
        double e = 0;
        for (size_t i = 0; i < cn; i++) {
            const double x = bc->prec == 64 ? ((double *)c)[i] : ((float *)c)[i];
            const double r = bc->prec == 64 ? ((double *)ref)[i] : ((float *)ref)[i];
            e = fmax(e, isfinite(x) ? fabs(x - r) : INFINITY);
        }
        err[p] = e / (refmax > 0 ? refmax : 1);
    }
    memcpy(c, c0, cn * es);
    free(c0);
    free(ref);
}

// Real flops: a complex multiply-add is 8 (4 multiplies, 4 additions).
static double flops_of(const bench_case *bc) { return (bc->cx ? 8.0 : 2.0) * bc->m * bc->n * bc->k; }

// Measures every present peer (bench_timing.c): opt.run.repeats interleaved rounds, per peer the
// best loop in ns per call (NAN for an absent peer).
static void measure_peers(bench_case *bc, double ns[P_COUNT])
{
    bt_measure(run_peer, bc, P_COUNT, bc->has, opt.run.min_time, opt.run.repeats, ns);
}

// The peak is measured at the start, between the sections and at the end; the best of them is
// the figure (a busy machine only ever makes the loop slower).
static double peak_dp = NAN;  // GFLOP/s of this core, double precision
static bool peak_zmm;

static void update_peak(void)
{
    if (!(cpu_has_fma()))
        return;
    const double g = peak_gflops(peak_zmm);
    if (!(peak_dp >= g))
        peak_dp = g;
}

// One measured case of any section, kept until the document is printed.
typedef struct {
    bench_case bc;  // operands are gone by then: only the shape, scalars and peers are used
    const char *variant;
    double err[P_COUNT];
    int route;
    int tune_followed;  // the tuned instance's call followed its file: 1, 0, -1 no such peer
    double cached[P_COUNT];
    double streamed[P_COUNT];
    double cached_recheck[P_COUNT];    // --recheck-below: the second pass (NAN: none)
    double streamed_recheck[P_COUNT];
    long long batch;  // streamed: triples in the batch (0: not measured streamed)
} record;

static void record_init(record *r)
{
    memset(r, 0, sizeof *r);
    for (int p = 0; p < P_COUNT; p++)
        r->cached_recheck[p] = r->streamed_recheck[p] = NAN;
}

static void emit_timings(const char *key, const bench_case *bc, const double ns[P_COUNT])
{
    const double peak = bc->prec == 64 ? peak_dp : 2 * peak_dp;
    j_open(key, '{');
    for (int p = 0; p < P_COUNT; p++) {
        if (!isfinite(ns[p])) {
            j_null(peer_name[p]);
            continue;
        }
        const double gf = flops_of(bc) / ns[p];
        j_open(peer_name[p], '{');
        j_num("ns", ns[p]);
        j_num("gflops", gf);
        j_num("peak_pct", 100.0 * gf / peak);
        j_close('}');
    }
    j_close('}');
}

static void emit_record(const record *r)
{
    const bench_case *bc = &r->bc;
    j_open(NULL, '{');
    if (bc->cx)
        j_str("gemm", bc->prec == 64 ? "zgemm" : "cgemm");
    if (r->variant) {
        j_str("variant", r->variant);
        j_str("trans", (char[]){ bc->ta, bc->tb, 0 });
        j_num("alpha", bc->alpha);
        j_num("beta", bc->beta);
    }
    j_int("m", bc->m);
    j_int("n", bc->n);
    j_int("k", bc->k);
    j_num("flop", flops_of(bc));
    if (bc->ours) {
        j_bool("ours_jit", bc->ours->jit != 0);
        j_int("ours_code_bytes", bc->ours->code_bytes);
    } else {
        j_null("ours_jit");
        j_null("ours_code_bytes");
    }
    j_str("route", r->route >= 0 && wrap.route_name ? wrap.route_name(r->route) : NULL);
    j_bool("libxsmm_kernel_found", bc->has[P_LIBXSMM_KERNEL]);
    r->tune_followed < 0 ? j_null("tune_followed") : j_bool("tune_followed", r->tune_followed);
    j_open("max_rel_err", '{');
    for (int p = 0; p < P_COUNT; p++)
        r->err[p] >= 0 ? j_num(peer_name[p], r->err[p]) : j_null(peer_name[p]);
    j_close('}');
    emit_timings("cached", bc, r->cached);
    if (!isnan(r->cached_recheck[P_OURS_TUNED]))
        emit_timings("cached_recheck", bc, r->cached_recheck);
    if (r->batch > 0) {
        j_int("streamed_batch", r->batch);
        emit_timings("streamed", bc, r->streamed);
        if (!isnan(r->streamed_recheck[P_OURS_TUNED]))
            emit_timings("streamed_recheck", bc, r->streamed_recheck);
    }
    j_close('}');
}

static void warn_errors(const bench_case *bc, const double err[P_COUNT])
{
    const double tol = bc->prec == 64 ? 1e-12 * bc->k + 1e-13 : 1e-5 * bc->k + 1e-6;
    for (int p = 0; p < P_COUNT; p++)
        if (err[p] > tol || err[p] != err[p])
            fprintf(stderr, "bench_kernels: WARNING %s %c%c %dx%dx%d: relative error %.3g\n",
                    peer_name[p], bc->ta, bc->tb, bc->m, bc->n, bc->k, err[p]);
}

// One line on stderr per measured case: ns per call of our kernel, OpenBLAS, LIBXSMM's kernel.
static void progress(const record *r, const char *operands, const double ns[P_COUNT])
{
    const bench_case *bc = &r->bc;
    fprintf(stderr,
            "bench_kernels: %s %-14s %2dx%2dx%2d %-8s ns: ours %.1f blas %.1f libxsmm %.1f\n",
            bc->cx ? (bc->prec == 64 ? "z " : "c ") : bc->prec == 64 ? "dp" : "sp", r->variant ? r->variant : "NN", bc->m, bc->n, bc->k,
            operands, ns[P_OURS_KERNEL], ns[P_BLAS], ns[P_LIBXSMM_KERNEL]);
}

// --recheck-below: a case where the tuned dgemm_ fell below the target in the first pass is
// timed again, the peers of the comparison and the control only, three times the rounds, so
// that a shape is not called slower on one noisy pass (of 2 x 64 comparisons, the lowest draws
// the noise); both passes are printed. Leaves out[] NAN when the first pass was within target.
static void recheck_tuned(bench_case *bc, const double first[P_COUNT], double out[P_COUNT])
{
    for (int p = 0; p < P_COUNT; p++)
        out[p] = NAN;
    const double untuned = bc->has[P_OURS_CONTROL] ? first[P_OURS_CONTROL] : first[P_OURS_GEMM];
    const double ref = fmin(untuned, first[P_BLAS]);
    if (!(opt.recheck_below > 0) || !(first[P_OURS_TUNED] > 0) || ref / first[P_OURS_TUNED] >= opt.recheck_below)
        return;
    static const int compared[] = { P_OURS_GEMM, P_BLAS, P_OURS_TUNED, P_OURS_CONTROL };
    bool has[P_COUNT] = { false };
    for (size_t i = 0; i < sizeof compared / sizeof *compared; i++)
        has[compared[i]] = bc->has[compared[i]];
    bt_measure(run_peer, bc, P_COUNT, has, opt.run.min_time, 3 * opt.run.repeats, out);
}

// Sets up a case with cached operands, checks every peer against the portable kernel and
// times them (again under --recheck-below). The operands are freed; the record keeps the figures.
static void measure_cached(record *r, int prec, bool cx, const char *variant, char ta, char tb, int m,
                           int n, int k, double alpha, double beta)
{
    record_init(r);
    r->variant = variant;
    case_init(&r->bc, prec, cx, ta, tb, m, n, k, alpha, beta);
    char *buf = case_cached(&r->bc);
    check_peers(&r->bc, r->err, &r->route, &r->tune_followed);
    warn_errors(&r->bc, r->err);
    measure_peers(&r->bc, r->cached);
    recheck_tuned(&r->bc, r->cached, r->cached_recheck);
    free(buf);
    r->bc.base = NULL;
    progress(r, "cached", r->cached);
}

// ---------------------------------------------------------------------------------------------
// Sections

static const shape dp_shapes[] = {
    { 4, 4, 4 },    { 5, 5, 5 },    { 8, 8, 8 },    { 13, 13, 13 }, { 16, 16, 16 }, { 23, 23, 23 },
    { 24, 24, 24 }, { 32, 32, 32 }, { 48, 48, 48 }, { 64, 64, 64 }, { 5, 25, 5 },   { 25, 5, 5 },
    { 5, 5, 25 },   { 25, 25, 5 },  { 8, 64, 8 },   { 64, 8, 8 },   { 13, 5, 7 },
};
#define N_DP (sizeof dp_shapes / sizeof *dp_shapes)
static const shape *dp_list = dp_shapes;  // or --shapes
static size_t n_dp = N_DP;

static const shape variant_shapes[] = {
    { 8, 8, 8 }, { 13, 13, 13 }, { 23, 23, 23 }, { 32, 32, 32 },
};
#define N_VAR_SHAPES (sizeof variant_shapes / sizeof *variant_shapes)
static const struct {
    const char *name;
    char ta, tb;
    double alpha, beta;
} variants[] = {
    { "NN", 'N', 'N', 1.0, 1.0 },
    { "NT", 'N', 'T', 1.0, 1.0 },
    { "TN", 'T', 'N', 1.0, 1.0 },
    { "TT", 'T', 'T', 1.0, 1.0 },
    { "NN a=0.5 b=0.7", 'N', 'N', 0.5, 0.7 },
};
#define N_VARIANTS (sizeof variants / sizeof *variants)

static const shape sp_shapes[] = {
    { 8, 8, 8 }, { 13, 13, 13 }, { 16, 16, 16 }, { 32, 32, 32 }, { 64, 64, 64 },
};
#define N_SP (sizeof sp_shapes / sizeof *sp_shapes)

// Complex (--complex): ZGEMM and CGEMM NN alpha = beta = 1 on these shapes (or --shapes), then
// the other conjugations and transposes and general scalars on two of them.
static const shape cx_shapes[] = {
    { 4, 4, 4 }, { 8, 8, 8 }, { 13, 13, 13 }, { 16, 16, 16 }, { 23, 23, 23 }, { 32, 32, 32 },
};
static const shape cx_var_shapes[] = { { 8, 8, 8 }, { 23, 23, 23 } };
static const struct {
    const char *name;
    char ta, tb;
    double alpha, beta;  // real parts; the section adds imaginary parts to "any"
    bool any;
} cx_variants[] = {
    { "NC", 'N', 'C', 1.0, 1.0, false },  { "CN", 'C', 'N', 1.0, 1.0, false },
    { "CC", 'C', 'C', 1.0, 1.0, false },  { "TN", 'T', 'N', 1.0, 1.0, false },
    { "NN a=-1 b=0", 'N', 'N', -1.0, 0.0, false },
    { "NN a,b complex", 'N', 'N', 0.5, 0.7, true },
};
#define N_CX_VARIANTS (sizeof cx_variants / sizeof *cx_variants)
#define CX_RECORDS_MAX (2 * (SHAPES_MAX + 2 * N_CX_VARIANTS))

static record *dp_rec, var_rec[N_VAR_SHAPES * N_VARIANTS], sp_rec[N_SP];
static record cx_rec[CX_RECORDS_MAX];
static size_t n_cx;

static void section_dp(void)
{
    for (size_t i = 0; i < n_dp; i++)
        measure_cached(&dp_rec[i], 64, false, NULL, 'N', 'N', dp_list[i].m, dp_list[i].n, dp_list[i].k,
                       1.0, 1.0);
    update_peak();
    // Streamed: one batch far larger than the caches, walked through triple by triple; each
    // call gets the next A, B and C.
    char *big = xalloc(opt.run.stream_bytes);
    fill(big, opt.run.stream_bytes / 8, 64, 7);
    for (size_t i = 0; i < n_dp; i++) {
        record *r = &dp_rec[i];
        bench_case *bc = &r->bc;
        bc->base = big;
        bc->count = opt.run.stream_bytes / bc->stride;
        bc->pos = 0;
        r->batch = (long long)bc->count;
        measure_peers(bc, r->streamed);
        recheck_tuned(bc, r->streamed, r->streamed_recheck);
        bc->base = NULL;
        progress(r, "streamed", r->streamed);
    }
    free(big);
}

static void section_variants(void)
{
    for (size_t s = 0; s < N_VAR_SHAPES; s++)
        for (size_t v = 0; v < N_VARIANTS; v++)
            measure_cached(&var_rec[s * N_VARIANTS + v], 64, false, variants[v].name, variants[v].ta,
                           variants[v].tb, variant_shapes[s].m, variant_shapes[s].n,
                           variant_shapes[s].k, variants[v].alpha, variants[v].beta);
}

static void measure_complex(int prec, const char *variant, char ta, char tb, shape s, double alpha,
                            double beta, bool any)
{
    record *r = &cx_rec[n_cx++];
    record_init(r);
    r->variant = variant;
    bench_case *bc = &r->bc;
    case_init(bc, prec, true, ta, tb, s.m, s.n, s.k, alpha, beta);
    if (any) {  // (0.5 - 0.25i), (0.7 + 0.1i): class "any" with both parts
        bc->alpha_z[1] = -0.25;
        bc->beta_z[1] = 0.1;
        bind_peers(bc);
    }
    char *buf = case_cached(bc);
    check_peers(bc, r->err, &r->route, &r->tune_followed);
    warn_errors(bc, r->err);
    measure_peers(bc, r->cached);
    free(buf);
    bc->base = NULL;
    progress(r, "cached", r->cached);
}

static void section_complex(void)
{
    const shape *list = opt.nshapes ? opt.shapes : cx_shapes;
    const size_t n = opt.nshapes ? (size_t)opt.nshapes : sizeof cx_shapes / sizeof *cx_shapes;
    for (int prec = 64; prec >= 32; prec -= 32)
        for (size_t i = 0; i < n; i++)
            measure_complex(prec, NULL, 'N', 'N', list[i], 1.0, 1.0, false);
    if (opt.nshapes)
        return;
    for (int prec = 64; prec >= 32; prec -= 32)
        for (size_t s = 0; s < sizeof cx_var_shapes / sizeof *cx_var_shapes; s++)
            for (size_t v = 0; v < N_CX_VARIANTS; v++)
                measure_complex(prec, cx_variants[v].name, cx_variants[v].ta, cx_variants[v].tb,
                                cx_var_shapes[s], cx_variants[v].alpha, cx_variants[v].beta,
                                cx_variants[v].any);
}

static void section_sp(void)
{
    for (size_t s = 0; s < N_SP; s++)
        measure_cached(&sp_rec[s], 32, false, NULL, 'N', 'N', sp_shapes[s].m, sp_shapes[s].n,
                       sp_shapes[s].k, 1.0, 1.0);
}

// ---------------------------------------------------------------------------------------------
// GEMV and the strided batch (issue 15). Each peer is a loop of calls on cached operands; the
// peers of a case take turns, one loop each per round, and the best loop of opt.run.repeats counts.

typedef void dgemv_fn(const char *, const int *, const int *, const double *, const double *,
                      const int *, const double *, const int *, const double *, double *,
                      const int *, size_t);
typedef void dbatch_fn(const char *, const char *, const int *, const int *, const int *,
                       const double *, const double *, const int *, const int *, const double *,
                       const int *, const int *, const double *, double *, const int *,
                       const int *, const int *, size_t, size_t);

static struct {
    dgemv_fn *wrap_gemv, *blas_gemv;
    dbatch_fn *wrap_batch, *blas_batch;
    char blas_batch_path[PATH_MAX];
} fam;

enum { G_OURS_KERNEL, G_OURS_GEMV, G_BLAS, G_COUNT };
static const char *const gemv_peer[G_COUNT] = { "ours_kernel", "ours_gemv", "blas" };

typedef struct {
    char trans;
    int m, n;
    double *a, *x, *y;
    const xw_kernel *kn;  // the GEMM kernel of y = op(A)x: M x 1 x K
    double ns[G_COUNT];
    double max_err;
} gemv_case;

static double gemv_loop(void *ctx, int peer, size_t calls)
{
    gemv_case *g = ctx;
    const double one = 1.0;
    const int inc = 1;
    const double t0 = now();
    if (peer == G_OURS_KERNEL) {
        const xw_kernel_fn f = g->kn->fn;
        for (size_t i = 0; i < calls; i++)
            f(g->a, g->x, g->y, &one, &one, &g->kn->desc);
    } else {
        dgemv_fn *f = peer == G_OURS_GEMV ? fam.wrap_gemv : fam.blas_gemv;
        for (size_t i = 0; i < calls; i++)
            f(&g->trans, &g->m, &g->n, &one, g->a, &g->m, g->x, &inc, &one, g->y, &inc, 1);
    }
    return now() - t0;
}

static const shape gemv_shapes[] = { { 4, 4, 0 }, { 8, 8, 0 }, { 12, 12, 0 }, { 16, 16, 0 },
                                     { 24, 24, 0 }, { 32, 32, 0 }, { 8, 32, 0 }, { 32, 8, 0 },
                                     { 64, 64, 0 } };
#define N_GEMV (sizeof gemv_shapes / sizeof *gemv_shapes)
static gemv_case gemv_rec[2 * N_GEMV];

// y = A x (and A^T x), alpha = beta = 1, A m x n with lda = m, unit increments.
static void section_gemv(void)
{
    for (size_t i = 0; i < 2 * N_GEMV; i++) {
        gemv_case *g = &gemv_rec[i];
        const shape sh = gemv_shapes[i % N_GEMV];
        g->trans = i < N_GEMV ? 'N' : 'T';
        g->m = sh.m;
        g->n = sh.n;
        const int ly = g->trans == 'N' ? g->m : g->n, lx = g->trans == 'N' ? g->n : g->m;
        g->a = xalloc(sizeof(double) * (size_t)(g->m * g->n));
        g->x = xalloc(sizeof(double) * (size_t)lx);
        g->y = xalloc(sizeof(double) * (size_t)ly);
        fill(g->a, (size_t)(g->m * g->n), 64, 11 + i);
        fill(g->x, (size_t)lx, 64, 12 + i);
        // The kernel dgemv_ runs: GEMM's of y = Ax for N, the dot form's for T (increments 1).
        const bool t = g->trans == 'T';
        const xw_desc d = xw_desc_make((uint32_t)ly, 1, (uint32_t)lx, (uint32_t)g->m,
                                       t ? 1u : (uint32_t)lx, t ? 1u : (uint32_t)ly, XW_F64,
                                       t ? XW_TRANS_DOT : XW_TRANS_N, XW_TRANS_N, XW_SCALE_ONE,
                                       XW_SCALE_ONE);
        const xw_kernel *kn = NULL;
        const xw_reg_result r = xw_reg_get(&d, &kn);
        g->kn = r == XW_REG_FOUND || r == XW_REG_CREATED ? kn : NULL;
        // Check: our dgemv_ against OpenBLAS's on the same inputs (y = 0 + A x).
        g->max_err = NAN;
        if (fam.wrap_gemv && fam.blas_gemv) {
            double *y2 = xalloc(sizeof(double) * (size_t)ly);
            memset(g->y, 0, sizeof(double) * (size_t)ly);
            memset(y2, 0, sizeof(double) * (size_t)ly);
            const double one = 1.0;
            const int inc = 1;
            fam.wrap_gemv(&g->trans, &g->m, &g->n, &one, g->a, &g->m, g->x, &inc, &one, g->y, &inc, 1);
            fam.blas_gemv(&g->trans, &g->m, &g->n, &one, g->a, &g->m, g->x, &inc, &one, y2, &inc, 1);
            g->max_err = 0;
            for (int j = 0; j < ly; j++)
                g->max_err = fmax(g->max_err, fabs(g->y[j] - y2[j]) / (fabs(y2[j]) + 1e-300));
            free(y2);
        }
        const bool has[G_COUNT] = { g->kn != NULL, fam.wrap_gemv != NULL, fam.blas_gemv != NULL };
        bt_measure(gemv_loop, g, G_COUNT, has, opt.run.min_time, opt.run.repeats, g->ns);
        fprintf(stderr, "bench_kernels: gemv %c %dx%d: ours %.1f ns, OpenBLAS %.1f ns\n", g->trans,
                g->m, g->n, g->ns[G_OURS_GEMV], g->ns[G_BLAS]);
    }
}

enum { B_OURS_BATCH, B_OURS_CALLS, B_BLAS_BATCH, B_BLAS_CALLS, B_STREAM, B_COUNT };
static const char *const batch_peer[B_COUNT] = { "ours_batch", "ours_calls", "blas_batch",
                                                  "blas_calls", "stream_loop" };

typedef struct {
    int m, n, k, count;
    double *a, *b, *c;
    double ns[B_COUNT];  // per product
} batch_case;

// Reads A and B and reads and writes C once, product after product as a batch does: the pace
// of the memory for the batch's bytes when they come from beyond the caches. 16-byte
// vectors (unaligned: odd sizes), four sums apart so the loads, not the adds, set the pace.
typedef double v2d __attribute__((vector_size(16)));
static v2d sum_block(const double *p, size_t n, v2d s)
{
    v2d x, t[4] = { { 0, 0 }, { 0, 0 }, { 0, 0 }, { 0, 0 } };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 4; l++) {
            memcpy(&x, p + i + 2 * l, sizeof x);
            t[l] += x;
        }
    for (; i < n; i++)
        s[0] += p[i];
    return s + (t[0] + t[1]) + (t[2] + t[3]);
}

static void touch_batch(const batch_case *bc, double bump)
{
    const size_t sa = (size_t)bc->m * bc->k, sb = (size_t)bc->k * bc->n, sc = (size_t)bc->m * bc->n;
    v2d s = { 0, 0 }, x;
    for (size_t j = 0; j < (size_t)bc->count; j++) {
        if (j + 2 < (size_t)bc->count) {  // two products ahead, as a streaming kernel would
            for (size_t o = 0; o < sa; o += 8)
                __builtin_prefetch(bc->a + (j + 2) * sa + o);
            for (size_t o = 0; o < sb; o += 8)
                __builtin_prefetch(bc->b + (j + 2) * sb + o);
            for (size_t o = 0; o < sc; o += 8)
                __builtin_prefetch(bc->c + (j + 2) * sc + o, 1);
        }
        s = sum_block(bc->a + j * sa, sa, s);
        s = sum_block(bc->b + j * sb, sb, s);
        double *c = bc->c + j * sc;
        const v2d t = bump * s;
        size_t i = 0;
        for (; i + 2 <= sc; i += 2) {
            memcpy(&x, c + i, sizeof x);
            x += t;
            memcpy(c + i, &x, sizeof x);
        }
        for (; i < sc; i++)
            c[i] += t[0];
    }
}

// One loop of `calls` batches of count products (count single dgemm_ calls for the _calls peers).
static double batch_loop(void *ctx, int peer, size_t calls)
{
    batch_case *bc = ctx;
    const double one = 1.0;
    const int sa = bc->m * bc->k, sb = bc->k * bc->n, sc = bc->m * bc->n;
    const double t0 = now();
    for (size_t r = 0; r < calls; r++) {
        if (peer == B_STREAM) {
            touch_batch(bc, bc->c[0] * 1e-300);  // (C starts at zero: adds zero, not foldable)
        } else if (peer == B_OURS_BATCH || peer == B_BLAS_BATCH) {
            dbatch_fn *f = peer == B_OURS_BATCH ? fam.wrap_batch : fam.blas_batch;
            f("N", "N", &bc->m, &bc->n, &bc->k, &one, bc->a, &bc->m, &sa, bc->b, &bc->k, &sb, &one,
              bc->c, &bc->m, &sc, &bc->count, 1, 1);
        } else {
            dgemm_fn *f = peer == B_OURS_CALLS ? wrap.dgemm : blas.dgemm;
            for (int i = 0; i < bc->count; i++)
                f("N", "N", &bc->m, &bc->n, &bc->k, &one, bc->a + (size_t)i * sa, &bc->m,
                  bc->b + (size_t)i * sb, &bc->k, &one, bc->c + (size_t)i * sc, &bc->m, 1, 1);
        }
    }
    return now() - t0;
}

// The 10000 products (1.5 MiB a matrix at 8^3: from memory), and 1000 of 8^3, whose
// 1.5 MiB fit in a 2 MiB L2.
static const struct { shape s; int count; } batch_shapes[] = {
    { { 8, 8, 8 }, 10000 }, { { 8, 8, 8 }, 1000 }, { { 4, 4, 4 }, 10000 },
    { { 16, 16, 16 }, 10000 }, { { 5, 25, 5 }, 10000 },
};
#define N_BATCH (sizeof batch_shapes / sizeof *batch_shapes)
static batch_case batch_rec[N_BATCH];

// dgemm_batch_strided_ (NN, alpha = beta = 1, each product its own A, B and C, packed): the
// whole batch through our entry point and OpenBLAS's, the same products as single dgemm_
// calls through each, and the stream loop (touch_batch) beside them.
static void section_batch(void)
{
    for (size_t i = 0; i < N_BATCH; i++) {
        batch_case *bc = &batch_rec[i];
        bc->m = batch_shapes[i].s.m;
        bc->n = batch_shapes[i].s.n;
        bc->k = batch_shapes[i].s.k;
        bc->count = batch_shapes[i].count;
        const size_t na = (size_t)bc->m * bc->k * bc->count, nb = (size_t)bc->k * bc->n * bc->count;
        const size_t nc = (size_t)bc->m * bc->n * bc->count;
        bc->a = xalloc(sizeof(double) * na);
        bc->b = xalloc(sizeof(double) * nb);
        bc->c = xalloc(sizeof(double) * nc);
        fill(bc->a, na, 64, 21);
        fill(bc->b, nb, 64, 22);
        memset(bc->c, 0, sizeof(double) * nc);
        const bool has[B_COUNT] = { fam.wrap_batch != NULL, wrap.dgemm != NULL,
                                    fam.blas_batch != NULL, blas.dgemm != NULL, true };
        double per_batch[B_COUNT];
        bt_measure(batch_loop, bc, B_COUNT, has, opt.run.min_time, opt.run.repeats, per_batch);
        for (int p = 0; p < B_COUNT; p++)
            bc->ns[p] = per_batch[p] / bc->count;
        fprintf(stderr, "bench_kernels: batch %dx%dx%d x %d: ours %.1f ns/product\n", bc->m, bc->n,
                bc->k, bc->count, bc->ns[B_OURS_BATCH]);
        free(bc->a);
        free(bc->b);
        free(bc->c);
    }
}

static void j_ns(const char *key, double ns) { isfinite(ns) ? j_num(key, ns) : j_null(key); }

static void emit_families(void)
{
    j_open("gemv", '[');
    for (size_t i = 0; i < 2 * N_GEMV; i++) {
        const gemv_case *g = &gemv_rec[i];
        j_open(NULL, '{');
        j_str("trans", g->trans == 'N' ? "N" : "T");
        j_int("m", g->m);
        j_int("n", g->n);
        j_bool("ours_jit", g->kn && g->kn->jit);
        j_open("ns", '{');
        for (int p = 0; p < G_COUNT; p++)
            j_ns(gemv_peer[p], g->ns[p]);
        j_close('}');
        j_ns("max_rel_err", g->max_err);
        j_close('}');
    }
    j_close(']');
    j_open("batch", '{');
    j_str("blas_batch", fam.blas_batch ? fam.blas_batch_path : NULL);
    j_open("cases", '[');
    for (size_t i = 0; i < N_BATCH; i++) {
        const batch_case *bc = &batch_rec[i];
        j_open(NULL, '{');
        j_int("m", bc->m);
        j_int("n", bc->n);
        j_int("k", bc->k);
        j_int("count", bc->count);
        j_open("ns_per_product", '{');
        for (int p = 0; p < B_COUNT; p++)
            j_ns(batch_peer[p], bc->ns[p]);
        j_close('}');
        j_close('}');
    }
    j_close(']');
    j_close('}');
}

// Dispatch: the 1000 shapes {2,3,4,5,7,8,9,12,16,23}^3 (NN, alpha=1, beta=1, tight lds).
static const int dispatch_dims[10] = { 2, 3, 4, 5, 7, 8, 9, 12, 16, 23 };

static shape dispatch_shape(int i)
{
    return (shape){ dispatch_dims[i % 10], dispatch_dims[i / 10 % 10],
                    dispatch_dims[i / 100 % 10] };
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n == 0 ? NAN : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Our dispatch as a caller sees it: build the descriptor from the arguments, then look it up in
// the registry's table (what route.c does between validation and the call; a repeated call
// never gets here, the entry point's per-thread xw_last and xw_recent serve it before).
static inline const xw_kernel *ours_find(int m, int n, int k, const int *lda, const int *ldb,
                                         const int *ldc, const double *alpha, const double *beta)
{
    const xw_desc d = xw_desc_make((uint32_t)m, (uint32_t)n, (uint32_t)k, (uint32_t)*lda,
                                   (uint32_t)*ldb, (uint32_t)*ldc, XW_F64, 0, 0,
                                   xw_scale_class(XW_F64, alpha), xw_scale_class(XW_F64, beta));
    return xw_reg_probe(&d);
}

static volatile uintptr_t sink;

// The lookups timed: whose, over how many shapes, cycling or the same shape (index 0) each time.
typedef struct {
    bool libxsmm, cycle;
    int nshapes;
    int m[1000], n[1000], k[1000];
} find_case;

// bench_timing's bt_run_fn: `reps` lookups from the first shape on (one peer: ctx's).
static double find_loop(void *ctx, int peer, size_t reps)
{
    (void)peer;
    const find_case *fc = ctx;
    const int *m = fc->m, *n = fc->n, *k = fc->k;
    const bool libxsmm = fc->libxsmm, cycle = fc->cycle;
    const int nshapes = fc->nshapes;
    const double one = 1.0;
    uintptr_t acc = 0;
    int i = 0;
    const double t0 = now();
    for (size_t r = 0; r < reps; r++) {
        if (libxsmm) {
#if XW_BENCH_LIBXSMM
            const int flags = LIBXSMM_GEMM_FLAG_NONE, prefetch = LIBXSMM_GEMM_PREFETCH_NONE;
            libxsmm_dmmfunction f = libxsmm_dmmdispatch(m[i], n[i], k[i], &m[i], &k[i], &m[i], &one,
                                                        &one, &flags, &prefetch);
            uintptr_t u;
            memcpy(&u, &f, sizeof u);
            acc += u;
#endif
        } else {
            acc += (uintptr_t)ours_find(m[i], n[i], k[i], &m[i], &k[i], &m[i], &one, &one);
        }
        if (cycle && ++i == nshapes)
            i = 0;
    }
    const double t = now() - t0;
    sink = acc;
    return t;
}

// ns per lookup (bench_timing.c's method); cycle: walk over all n shapes, else the same shape.
static double time_find(bool libxsmm, int nshapes, bool cycle)
{
    static find_case fc;
    fc = (find_case){ .libxsmm = libxsmm, .cycle = cycle, .nshapes = nshapes };
    for (int i = 0; i < nshapes; i++) {
        const shape s = dispatch_shape(i);
        fc.m[i] = s.m, fc.n[i] = s.n, fc.k[i] = s.k;
    }
    const bool present = true;
    double ns;
    bt_measure(find_loop, &fc, 1, &present, opt.run.min_time, opt.run.repeats, &ns);
    return ns;
}

typedef struct {
    bool measured;
    double find_same_ns, find_cycle_ns, create_median_us, create_mean_us;
    int created_jit, created_portable, failed;
    long long memory_bytes, memory_delta, code_bytes, code_delta;  // ours
    long long reg_capacity, reg_size, reg_nbytes, reg_delta;       // LIBXSMM (-1: unknown)
    long rss_delta_kb;
} dispatch_result;

static dispatch_result disp_ours, disp_libxsmm;

static void create_stats(double *us, int n, dispatch_result *r)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += us[i];
    r->create_mean_us = n ? sum / n : NAN;
    r->create_median_us = median(us, n);
}

// Runs first, on this program's empty registry, so that all opt.kernels kernels are new.
static void section_dispatch(void)
{
    const int nk = opt.kernels;
    double *us = malloc(sizeof(double) * (size_t)nk);
    if (!us)
        die("out of memory");

    dispatch_result *r = &disp_ours;
    xsmmwrap_stats s0, s1;
    xsmmwrap_get_stats(&s0);
    long rss0 = rss_kb();
    for (int i = 0; i < nk; i++) {
        const shape s = dispatch_shape(i);
        const xw_desc d = {
            .m = (uint32_t)s.m, .n = (uint32_t)s.n, .k = (uint32_t)s.k,
            .lda = (uint32_t)s.m, .ldb = (uint32_t)s.k, .ldc = (uint32_t)s.m,
            .prec = XW_F64, .alpha = XW_SCALE_ONE, .beta = XW_SCALE_ONE,
        };
        const xw_kernel *kn = NULL;
        const double t0 = now();
        const xw_reg_result res = xw_reg_get(&d, &kn);
        us[i] = (now() - t0) * 1e6;
        if (res != XW_REG_CREATED && res != XW_REG_FOUND)
            r->failed++;
        else if (kn->jit)
            r->created_jit++;
        else
            r->created_portable++;
    }
    r->rss_delta_kb = rss_kb() - rss0;
    xsmmwrap_get_stats(&s1);
    create_stats(us, nk, r);
    r->memory_bytes = (long long)s1.memory_bytes;
    r->memory_delta = (long long)s1.memory_bytes - (long long)s0.memory_bytes;
    r->code_bytes = (long long)s1.code_bytes;
    r->code_delta = (long long)s1.code_bytes - (long long)s0.code_bytes;
    r->find_same_ns = time_find(false, nk, false);
    r->find_cycle_ns = time_find(false, nk, true);
    r->measured = true;
    fprintf(stderr, "bench_kernels: dispatch ours: create median %.2f us (%d jit), find %.1f ns\n",
            r->create_median_us, r->created_jit, r->find_same_ns);

#if XW_BENCH_LIBXSMM
    r = &disp_libxsmm;
    libxsmm_registry_info r0 = { 0 }, r1 = { 0 };
    libxsmm_init();
    const int reg0 = libxsmm_get_registry_info(&r0);
    rss0 = rss_kb();
    const double one = 1.0;
    const int flags = LIBXSMM_GEMM_FLAG_NONE, prefetch = LIBXSMM_GEMM_PREFETCH_NONE;
    for (int i = 0; i < nk; i++) {
        const shape s = dispatch_shape(i);
        const double t0 = now();
        libxsmm_dmmfunction f = libxsmm_dmmdispatch(s.m, s.n, s.k, &s.m, &s.k, &s.m, &one, &one,
                                                    &flags, &prefetch);
        us[i] = (now() - t0) * 1e6;
        if (f)
            r->created_jit++;
        else
            r->failed++;
    }
    r->rss_delta_kb = rss_kb() - rss0;
    const int reg1 = libxsmm_get_registry_info(&r1);
    create_stats(us, nk, r);
    if (reg0 == EXIT_SUCCESS && reg1 == EXIT_SUCCESS) {
        r->reg_capacity = (long long)r1.capacity;
        r->reg_size = (long long)r1.size;
        r->reg_nbytes = (long long)r1.nbytes;
        r->reg_delta = (long long)r1.nbytes - (long long)r0.nbytes;
    } else {
        r->reg_capacity = r->reg_size = r->reg_nbytes = r->reg_delta = -1;
    }
    r->find_same_ns = time_find(true, nk, false);
    r->find_cycle_ns = time_find(true, nk, true);
    r->measured = true;
    fprintf(stderr, "bench_kernels: dispatch libxsmm: create median %.2f us, find %.1f ns\n",
            r->create_median_us, r->find_same_ns);
#endif
    free(us);
}

static void j_bytes(const char *key, long long v)
{
    v >= 0 ? j_int(key, v) : j_null(key);
}

// Memory as a program sees it (issue 11): opt.kernels distinct shapes, each size one of ten
// spread over 4..32, NN, alpha = 1, beta = 0, tight leading dimensions, each made by its first
// call through the whole interposed dgemm_ (libxsmmwrap.so, its own registry) and through
// libxsmm_dgemm (LIBXSMM's dispatch and call). The resident set is read before and after;
// the operands are allocated and touched before. beta = 0: no shape of the dispatch section
// (beta = 1) nor the library's first call (4x4x4, beta = 1) is among them.
static const int memory_dims[10] = XW_MEMORY_DIMS;

static shape memory_shape(int i)
{
    return (shape){ memory_dims[i % 10], memory_dims[i / 10 % 10], memory_dims[i / 100 % 10] };
}

typedef struct {
    bool measured;
    rss_split before, after;
    double first_call_median_us;
    long long kernels_delta, jit_delta;       // ours: xsmmwrap_get_stats of libxsmmwrap.so
    long long memory_delta, code_delta;       // ours
    long long reg_delta_size, reg_delta_bytes;  // LIBXSMM: libxsmm_get_registry_info (-1: unknown)
} memory_result;

static memory_result mem_ours, mem_libxsmm;

static void section_memory(void)
{
    const int nk = opt.kernels;
    double *us = malloc(sizeof(double) * (size_t)nk);
    double *a = xalloc(32 * 32 * sizeof *a), *b = xalloc(32 * 32 * sizeof *b);
    double *c = xalloc(32 * 32 * sizeof *c);
    if (!us)
        die("out of memory");
    memset(us, 0, sizeof(double) * (size_t)nk);
    fill(a, 32 * 32, 64, 1);
    fill(b, 32 * 32, 64, 2);
    memset(c, 0, 32 * 32 * sizeof *c);
    const double one = 1.0, zero = 0.0;

    memory_result *r = &mem_ours;
    xsmmwrap_stats s0, s1;
    if (wrap.dgemm && wrap.get_stats && wrap.get_stats(&s0) == XSMMWRAP_OK) {
        r->before = rss_status();
        for (int i = 0; i < nk; i++) {
            const shape s = memory_shape(i);
            const double t0 = now();
            wrap.dgemm("N", "N", &s.m, &s.n, &s.k, &one, a, &s.m, b, &s.k, &zero, c, &s.m, 1, 1);
            us[i] = (now() - t0) * 1e6;
        }
        r->after = rss_status();
        wrap.get_stats(&s1);
        r->first_call_median_us = median(us, nk);
        r->kernels_delta = (long long)(s1.kernels - s0.kernels);
        r->jit_delta = (long long)(s1.jit_kernels - s0.jit_kernels);
        r->memory_delta = (long long)s1.memory_bytes - (long long)s0.memory_bytes;
        r->code_delta = (long long)s1.code_bytes - (long long)s0.code_bytes;
        r->measured = true;
        fprintf(stderr, "bench_kernels: memory ours: %d dgemm_ shapes, RSS +%ld KiB (%lld kernels)\n",
                nk, r->after.rss - r->before.rss, r->kernels_delta);
    }

#if XW_BENCH_LIBXSMM
    r = &mem_libxsmm;
    libxsmm_registry_info r0 = { 0 }, r1 = { 0 };
    const int reg0 = libxsmm_get_registry_info(&r0);
    r->before = rss_status();
    for (int i = 0; i < nk; i++) {
        const shape s = memory_shape(i);
        const double t0 = now();
        libxsmm_dgemm("N", "N", &s.m, &s.n, &s.k, &one, a, &s.m, b, &s.k, &zero, c, &s.m);
        us[i] = (now() - t0) * 1e6;
    }
    r->after = rss_status();
    const int reg1 = libxsmm_get_registry_info(&r1);
    r->first_call_median_us = median(us, nk);
    if (reg0 == EXIT_SUCCESS && reg1 == EXIT_SUCCESS) {
        r->reg_delta_size = (long long)r1.size - (long long)r0.size;
        r->reg_delta_bytes = (long long)r1.nbytes - (long long)r0.nbytes;
    } else {
        r->reg_delta_size = r->reg_delta_bytes = -1;
    }
    r->measured = true;
    fprintf(stderr, "bench_kernels: memory libxsmm: %d libxsmm_dgemm shapes, RSS +%ld KiB\n", nk,
            r->after.rss - r->before.rss);
#endif
    free(us);
    free(a);
    free(b);
    free(c);
}

static void j_rss(const memory_result *r)
{
    j_int("rss_delta_kb", r->after.rss - r->before.rss);
    j_int("rss_anon_delta_kb", r->after.anon - r->before.anon);
    j_int("rss_file_delta_kb", r->after.file - r->before.file);
    j_int("rss_shmem_delta_kb", r->after.shmem - r->before.shmem);
    j_num("first_call_median_us", r->first_call_median_us);
}

static void emit_memory(void)
{
    j_open("memory", '{');
    j_int("kernels", opt.kernels);
    j_str("shapes", "{4,7,10,13,16,20,23,26,29,32}^3, NN, alpha=1, beta=0, lda=m, ldb=k, ldc=m");
    j_str("ours_call", "dgemm_ of libxsmmwrap.so");
    j_str("libxsmm_call", "libxsmm_dgemm");
    const memory_result *r = &mem_ours;
    if (!r->measured) {
        j_null("ours");
    } else {
        j_open("ours", '{');
        j_rss(r);
        j_int("kernels_delta", r->kernels_delta);
        j_int("jit_delta", r->jit_delta);
        j_int("memory_delta_bytes", r->memory_delta);
        j_int("code_delta_bytes", r->code_delta);
        j_close('}');
    }
    r = &mem_libxsmm;
    if (!r->measured) {
        j_null("libxsmm");
    } else {
        j_open("libxsmm", '{');
        j_rss(r);
        j_bytes("registry_delta_size", r->reg_delta_size);
        j_bytes("registry_delta_bytes", r->reg_delta_bytes);
        j_close('}');
    }
    j_close('}');
}

static void emit_dispatch(void)
{
    j_open("dispatch", '{');
    j_int("kernels", opt.kernels);
    j_str("shapes", "{2,3,4,5,7,8,9,12,16,23}^3, NN, alpha=1, beta=1, lda=m, ldb=k, ldc=m");
    const dispatch_result *r = &disp_ours;
    j_open("ours", '{');
    j_num("find_same_ns", r->find_same_ns);
    j_num("find_cycle_ns", r->find_cycle_ns);
    j_num("create_median_us", r->create_median_us);
    j_num("create_mean_us", r->create_mean_us);
    j_int("created_jit", r->created_jit);
    j_int("created_portable", r->created_portable);
    j_int("failed", r->failed);
    j_int("memory_bytes", r->memory_bytes);
    j_int("memory_delta_bytes", r->memory_delta);
    j_int("code_bytes", r->code_bytes);
    j_int("code_delta_bytes", r->code_delta);
    j_int("rss_delta_kb", r->rss_delta_kb);
    j_close('}');
    r = &disp_libxsmm;
    if (!r->measured) {
        j_null("libxsmm");
    } else {
        j_open("libxsmm", '{');
        j_num("find_same_ns", r->find_same_ns);
        j_num("find_cycle_ns", r->find_cycle_ns);
        j_num("create_median_us", r->create_median_us);
        j_num("create_mean_us", r->create_mean_us);
        j_int("created", r->created_jit);
        j_int("failed", r->failed);
        j_bytes("registry_capacity", r->reg_capacity);
        j_bytes("registry_size", r->reg_size);
        j_bytes("registry_nbytes", r->reg_nbytes);
        j_bytes("registry_delta_bytes", r->reg_capacity >= 0 ? r->reg_delta : -1);
        j_int("rss_delta_kb", r->rss_delta_kb);
        j_close('}');
    }
    j_close('}');
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    pin_cpu();

    // RSS cost of loading libxsmmwrap.so (no GEMM call), then of its first call.
    find_library();
    struct stat st;
    const long long lib_bytes = stat(wrap.path, &st) == 0 ? (long long)st.st_size : -1;
    const long rss_before = rss_kb();
    if (opt.tune)
        setenv("XSMMWRAP_TUNE", "0", 1);  // the untuned wrapper, whatever the user's cache holds
    wrap.handle = dlopen(wrap.path, RTLD_NOW | RTLD_LOCAL);
    const long rss_loaded = rss_kb();
    if (!wrap.handle)
        fprintf(stderr, "bench_kernels: cannot load %s: %s\n", wrap.path, dlerror());
    wrap.dgemm = (dgemm_fn *)sym(wrap.handle, "dgemm_");
    wrap.sgemm = (sgemm_fn *)sym(wrap.handle, "sgemm_");
    wrap.zgemm = (zgemm_fn *)sym(wrap.handle, "zgemm_");
    wrap.cgemm = (zgemm_fn *)sym(wrap.handle, "cgemm_");
    wrap.get_config = (int (*)(xsmmwrap_config *))sym(wrap.handle, "xsmmwrap_get_config");
    wrap.get_stats = (int (*)(xsmmwrap_stats *))sym(wrap.handle, "xsmmwrap_get_stats");
    wrap.version = (const char *(*)(void))sym(wrap.handle, "xsmmwrap_version");
    wrap.route_name = (const char *(*)(int))sym(wrap.handle, "xsmmwrap_route_name");
    long rss_first_call = -1;
    if (wrap.dgemm) {
        double a[16] = { 0 }, b[16] = { 0 }, c[16] = { 0 }, one = 1.0;
        const int four = 4;
        wrap.dgemm("N", "N", &four, &four, &four, &one, a, &four, b, &four, &one, c, &four, 1, 1);
        rss_first_call = rss_kb();
    }

    load_blas();
    read_cpuinfo();
    fam.wrap_gemv = (dgemv_fn *)sym(wrap.handle, "dgemv_");
    fam.wrap_batch = (dbatch_fn *)sym(wrap.handle, "dgemm_batch_strided_");
    fam.blas_gemv = (dgemv_fn *)sym(blas.handle, "dgemv_");
    if (opt.batch_blas) {
        void *h = dlopen(opt.batch_blas, RTLD_NOW | RTLD_LOCAL);
        fam.blas_batch = (dbatch_fn *)sym(h, "scipy_dgemm_batch_strided_");
        if (!fam.blas_batch)
            fam.blas_batch = (dbatch_fn *)sym(h, "dgemm_batch_strided_");
        void (*threads)(int) = (void (*)(int))sym(h, "scipy_openblas_set_num_threads");
        if (threads)
            threads(1);
        snprintf(fam.blas_batch_path, sizeof fam.blas_batch_path, "%s", opt.batch_blas);
        if (!fam.blas_batch)
            fprintf(stderr, "bench_kernels: %s has no dgemm_batch_strided_\n", opt.batch_blas);
    }

    // This program's own registry (core): same environment, same kernels as the library's.
    xsmmwrap_config cfg;
    xsmmwrap_get_config(&cfg);
    if (opt.tune)  // after this program's own registry started (with XSMMWRAP_TUNE=0)
        load_instance(&tuned, opt.tune, NULL);
    if (opt.vs_target)
        load_instance(&other_target, "0", opt.vs_target);
    if (opt.tune || opt.vs_target)
        load_instance(&control, "0", NULL);
    xsmmwrap_config lib_cfg = cfg;
    if (wrap.get_config)
        wrap.get_config(&lib_cfg);
#if XW_BENCH_LIBXSMM
    libxsmm_init();
#endif

    peak_zmm = cfg.cpu_target == XSMMWRAP_TARGET_AVX512;
    update_peak();
    fprintf(stderr, "bench_kernels: peak %.1f GFLOP/s DP (%s) on CPU %d\n", peak_dp,
            peak_zmm ? "avx512" : "avx2", opt.run.cpu);

    // --shapes: those shapes' DP section only; --dispatch-only: dispatch and memory only;
    // --complex: the complex section only (of --shapes when given); --families-only: GEMV and
    // the strided batch only.
    const bool only = opt.dispatch_only || opt.complex_only || opt.families_only;
    const bool all = opt.nshapes == 0 && !only;
    const bool dispatch = opt.nshapes == 0 && !opt.complex_only && !opt.families_only;
    const bool families = all || opt.families_only;
    if (opt.complex_only) {
        n_dp = 0;
    } else if (opt.nshapes) {
        dp_list = opt.shapes;
        n_dp = (size_t)opt.nshapes;
    } else if (opt.dispatch_only || opt.families_only) {
        n_dp = 0;
    }
    dp_rec = calloc(n_dp ? n_dp : 1, sizeof *dp_rec);
    if (!dp_rec) {
        perror("bench_kernels");
        return 1;
    }
    if (dispatch) {
        section_memory();  // first: both registries are empty but for the library's first call
        section_dispatch();
    }
    if (!only)
        section_dp();
    if (families) {
        section_gemv();
        section_batch();
    }
    update_peak();
    if (all) {
        section_variants();
        section_sp();
    }
    if (opt.complex_only)
        section_complex();
    update_peak();
    fprintf(stderr, "bench_kernels: peak (best of the run) %.1f GFLOP/s DP\n", peak_dp);

    j_open(NULL, '{');
    j_str("schema", "xsmmwrap-bench-kernels/1");
    j_bool("quick", opt.quick);
    j_num("min_time_s", opt.run.min_time);
    j_int("repeats", opt.run.repeats);
    j_int("stream_bytes", (long long)opt.run.stream_bytes);
    j_open("sections", '[');
    if (opt.complex_only)
        j_str(NULL, "complex");
    else if (!opt.dispatch_only && !opt.families_only)
        j_str(NULL, "dp");
    if (families) {
        j_str(NULL, "gemv");
        j_str(NULL, "batch");
    }
    if (dispatch) {
        j_str(NULL, "dispatch");
        j_str(NULL, "memory");
    }
    if (all) {
        j_str(NULL, "variants");
        j_str(NULL, "sp");
    }
    j_close(']');
    j_open("peers", '[');
    for (int p = 0; p < P_COUNT; p++)
        j_str(NULL, peer_name[p]);
    j_close(']');

    j_open("machine", '{');
    j_str("cpu_model", cpu.model);
    j_int("cpu_family", cpu.family);
    j_int("cpu_model_number", cpu.model_number);
    j_int("cpu_stepping", cpu.stepping);
    j_int("cpus_online", sysconf(_SC_NPROCESSORS_ONLN));
    j_int("pinned_cpu", opt.run.cpu);
    j_bool("avx2", cpu.avx2);
    j_bool("fma", cpu.fma);
    j_bool("avx512f", cpu.avx512f);
    j_close('}');

    j_open("peak", '{');
    j_str("isa", cpu_has_fma() ? (peak_zmm ? "avx512" : "avx2") : NULL);
    j_str("method", "register-only loop, 12 independent vfmadd231pd chains; best 1 ms loop");
    j_num("dp_gflops", peak_dp);
    j_num("sp_gflops", 2 * peak_dp);
    // GHz if the core retires 2 FMA per cycle (Zen 2/3, Skylake and later).
    j_num("ghz_at_2_fma_per_cycle", peak_dp / (2.0 * (peak_zmm ? 8 : 4) * 2));
    j_close('}');

    j_open("xsmmwrap", '{');
    j_str("version", wrap.version ? wrap.version() : xsmmwrap_version());
    j_str("library", wrap.path);
    j_bool("library_loaded", wrap.handle != NULL);
    j_str("target", xsmmwrap_target_name(lib_cfg.target));
    j_str("cpu_target", xsmmwrap_target_name(lib_cfg.cpu_target));
    j_bool("jit_enabled", lib_cfg.jit != 0);
    j_int("max_mnk", lib_cfg.max_mnk);
    j_int("max_kernels", lib_cfg.max_kernels);
    j_close('}');

    j_open("tune", '{');
    j_str("file", opt.tune);
    j_bool("in_use", tuned.in_use);
    j_str("reason", opt.tune ? tuned.cfg.tune_reason : NULL);
    j_int("entries", opt.tune ? tuned.cfg.tune_entries : 0);
    j_close('}');

    j_open("vs_target", '{');
    j_str("requested", opt.vs_target);
    j_str("target", other_target.handle ? xsmmwrap_target_name(other_target.cfg.target) : NULL);
    j_str("control_target", control.handle ? xsmmwrap_target_name(control.cfg.target) : NULL);
    j_close('}');

    j_open("blas", '{');
    j_str("requested", opt.blas);
    j_str("path", blas.handle ? blas.path : NULL);
    j_str("openblas_corename", blas.corename);
    j_str("openblas_config", blas.config);
    j_close('}');

    j_open("libxsmm", '{');
#if XW_BENCH_LIBXSMM
    j_bool("present", true);
    j_str("version", LIBXSMM_CONFIG_VERSION);
    j_str("target", libxsmm_get_target_arch());
#else
    j_bool("present", false);
#endif
    j_close('}');

    j_open("load", '{');
    j_int("library_file_bytes", lib_bytes);
    j_int("rss_before_kb", rss_before);
    j_int("rss_after_dlopen_kb", rss_loaded);
    j_int("dlopen_rss_delta_kb", rss_loaded - rss_before);
    j_int("first_call_rss_delta_kb", rss_first_call >= 0 ? rss_first_call - rss_loaded : -1);
    j_close('}');

    if (dispatch) {
        emit_dispatch();
        emit_memory();
    }
    if (families)
        emit_families();
    j_open("dp", '[');
    for (size_t i = 0; i < n_dp; i++)
        emit_record(&dp_rec[i]);
    j_close(']');
    j_open("variants", '[');
    for (size_t i = 0; all && i < N_VAR_SHAPES * N_VARIANTS; i++)
        emit_record(&var_rec[i]);
    j_close(']');
    j_open("sp", '[');
    for (size_t i = 0; all && i < N_SP; i++)
        emit_record(&sp_rec[i]);
    j_close(']');
    if (opt.complex_only) {
        j_open("complex", '[');
        for (size_t i = 0; i < n_cx; i++)
            emit_record(&cx_rec[i]);
        j_close(']');
    }

    // Whether the kernels of this run were generated: counted over this program's registry.
    xsmmwrap_stats st_end;
    xsmmwrap_get_stats(&st_end);
    j_open("registry", '{');
    j_int("kernels", (long long)st_end.kernels);
    j_int("jit_kernels", (long long)st_end.jit_kernels);
    j_int("jit_failures", (long long)st_end.jit_failures);
    j_close('}');
    j_close('}');
    fflush(stdout);
    return 0;
}
