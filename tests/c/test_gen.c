// test_gen.c: checks the GEMM code generators. For each descriptor of a list (all M,N,K in
// 1..12, random shapes up to 32, larger ones up to 64, every transpose, alpha/beta class,
// padded leading dimensions, f64 and f32) it generates a kernel, disassembles it with objdump
// (no "(bad)", kernel starts on instruction boundaries, no EVEX in AVX2 code, no EVEX xmm/ymm
// in AVX-512 code), and, when the CPU has the ISA, runs it on random data: the result must
// equal the portable kernel's bit for bit (the arithmetic contract; NaN matches any NaN) and
// be within rounding of a long double triple loop. Operands end right before a PROT_NONE page,
// so reading past them faults; NaN sits in C when beta is 0; C's padding rows must survive.
// Descriptors with nothing to multiply (alpha 0, M, N or K 0) must be declined cleanly: the
// route scales C itself.
//
//   test_gen [avx2|avx512] [quick]   correctness (default: both targets); exit 1 on failure
//   test_gen bench [avx512] [f32] [nn|nt|tn|tt]   ns/call and GFLOP/s of a few square kernels,
//                                    alpha = beta = 1, cached operands, vs a naive C loop (DP NN)
//   test_gen emit avx2|avx512 DIR    writes a corpus of kernels for tests/test_jit.py's emulator
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "jit.h"
#include "../../examples/memory_shapes.h"

#define CODE_CAP ((size_t)256 * 1024)  // the registry's generation buffer
#define OPERAND_BYTES ((size_t)1 << 20)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)  // splitmix64
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static int rnd_in(int lo, int hi) { return lo + (int)(rnd() % (uint64_t)(hi - lo + 1)); }
static double rnd_val(void) { return (double)(rnd() >> 11) / 9007199254740992.0 * 2.0 - 1.0; }
static double exact_val(void)
{
    static const double v[] = { 0.0, -0.0, 1.0, -1.0, 0.5, -2.0 };
    return v[rnd() % 6];
}

// ---- Operand memory: each matrix ends right before an inaccessible page.
typedef struct {
    uint8_t *base;  // OPERAND_BYTES readable, then a PROT_NONE page
} guarded;

static guarded guarded_new(void)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *p = mmap(NULL, OPERAND_BYTES + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p + OPERAND_BYTES, page, PROT_NONE) != 0) {
        perror("mmap");
        exit(2);
    }
    return (guarded){ p };
}
static void *guarded_place(guarded g, size_t bytes) { return g.base + OPERAND_BYTES - bytes; }

// ---- Executable copy of a kernel (own mapping, so each case can be unmapped).
typedef struct {
    void *mem;
    size_t size;
    xw_kernel_fn fn;
} exec_code;

static bool exec_install(exec_code *x, const uint8_t *code, size_t n, size_t entry)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    x->size = (n + page - 1) / page * page;
    x->mem = mmap(NULL, x->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (x->mem == MAP_FAILED) return false;
    memcpy(x->mem, code, n);
    if (mprotect(x->mem, x->size, PROT_READ | PROT_EXEC) != 0) return false;
    void *ep = (uint8_t *)x->mem + entry;
    memcpy(&x->fn, &ep, sizeof x->fn);
    return true;
}
static void exec_free(exec_code *x) { munmap(x->mem, x->size); }

// ---- Disassembly in batches: kernels (from their entry) are concatenated into one file.
typedef struct {
    uint8_t *bytes;
    size_t len, cap;
    size_t starts[4096];
    char names[4096][128];
    int n;
    xw_target t;
} dis_batch;

static bool have_objdump;
static long dis_checked, dis_failed;

static void dis_flush(dis_batch *b)
{
    if (!b->n) return;
    char path[] = "/tmp/test_gen_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, b->bytes, b->len) != (ssize_t)b->len) {
        perror("tmp");
        exit(2);
    }
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "objdump -D -b binary -m i386:x86-64 -M intel --insn-width=16 %s", path);
    FILE *f = popen(cmd, "r");
    if (!f) { perror("popen"); exit(2); }
    uint8_t *is_start = calloc(b->len + 1, 1);
    char line[512];
    long bad = 0;
    size_t cur = 0;
    int cur_k = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long addr;
        char *t1 = strchr(line, '\t');
        if (!t1 || sscanf(line, " %lx:", &addr) != 1 || addr >= b->len) continue;
        char *t2 = strchr(t1 + 1, '\t');
        is_start[addr] = 1;
        cur = addr;
        while (cur_k + 1 < b->n && b->starts[cur_k + 1] <= cur) cur_k++;
        const bool evex = strncmp(t1 + 1, "62 ", 3) == 0;
        const char *why = NULL;
        if (strstr(line, "(bad)") || !t2) why = "undecodable";
        else if (evex && b->t == XW_TARGET_AVX2) why = "EVEX in AVX2 code";
        else if (evex && (strstr(t2, "xmm") || strstr(t2, "ymm"))) why = "EVEX xmm/ymm needs AVX512VL";
        if (why) {
            if (bad++ < 5) printf("DISASM %s: %s at +%lx: %s", b->names[cur_k], why, addr - b->starts[cur_k], line);
            dis_failed++;
        }
    }
    pclose(f);
    remove(path);
    for (int i = 0; i < b->n; i++) {
        if (!is_start[b->starts[i]]) {
            printf("DISASM %s: kernel start is not an instruction boundary\n", b->names[i]);
            dis_failed++;
        }
    }
    dis_checked += b->n;
    free(is_start);
    b->n = 0;
    b->len = 0;
}

static void dis_add(dis_batch *b, const uint8_t *code, size_t n, const char *name)
{
    if (!have_objdump) return;
    if (b->n == 4096 || b->len + n > b->cap) dis_flush(b);
    if (b->len + n > b->cap) {
        b->cap = b->len + n + ((size_t)4 << 20);
        b->bytes = realloc(b->bytes, b->cap);
        if (!b->bytes) exit(2);
    }
    memcpy(b->bytes + b->len, code, n);
    b->starts[b->n] = b->len;
    snprintf(b->names[b->n], sizeof b->names[b->n], "%s", name);
    b->n++;
    b->len += n;
}

// A kernel that faults (reads past an operand, bad code) is reported and the run goes on.
static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_sig;
static void on_fault(int sig)
{
    fault_sig = sig;
    siglongjmp(fault_jmp, 1);
}

// ---- One case.
typedef struct {
    guarded ga, gb, gc;
    uint8_t *code;
    dis_batch dis;
    bool run;    // the CPU has the ISA
    size_t cap;  // code buffer size for this case (0: CODE_CAP)
    long passed, failed, declined, skipped;
    double worst;  // largest error / tolerance seen
} ctx;

// A kernel just generated: its status checked, its code queued for disassembly; false when
// the case ends there (a failure, counted; or no ISA to run it: counted as passed).
static bool generated(ctx *x, const char *name, xw_status st, const xw_code *c, size_t entry)
{
    if (st != XW_OK || c->err != XW_OK || entry >= c->len) {
        printf("FAIL %s: generator status %d, code status %d\n", name, (int)st, (int)c->err);
        x->failed++;
        return false;
    }
    dis_add(&x->dis, c->buf + entry, c->len - entry, name);
    if (!x->run) {
        x->skipped++;
        x->passed++;
        return false;
    }
    return true;
}

// Installs c's kernel, runs it once on the operands into cm under the fault handler and removes
// it, then the portable kernel into ref; false (said and counted) when a signal stopped it.
static bool run_both(const xw_code *c, size_t entry, const char *name, const void *a, const void *b, void *cm,
                     void *ref, const void *alpha, const void *beta, const xw_desc *d, long *failed)
{
    exec_code ex;
    if (!exec_install(&ex, c->buf, c->len, entry)) {
        perror("install");
        exit(2);
    }
    if (sigsetjmp(fault_jmp, 1)) {
        printf("FAIL %s: signal %d while running the kernel\n", name, (int)fault_sig);
        exec_free(&ex);
        (*failed)++;
        return false;
    }
    ex.fn(a, b, cm, alpha, beta, d);
    exec_free(&ex);
    xw_ref_kernel(a, b, ref, alpha, beta, d);
    return true;
}

static double scale_value(uint8_t s)
{
    switch (s) {
    case XW_SCALE_ONE: return 1.0;
    case XW_SCALE_MINUS_ONE: return -1.0;
    case XW_SCALE_ZERO: return 0.0;
    default: {
        double v = 0.25 + rnd_val() * rnd_val() * 2;  // away from 0, 1 and -1
        return rnd() & 1 ? v : -v - 0.5;
    }
    }
}

// A scalar of class s as (re, im); real scalars have im 0. A complex 1, -1 or 0 has an
// imaginary zero of either sign; "any" is sometimes real, purely imaginary, or has the real
// part of a class of its own (1 + 0.5i is "any").
static void scalar(uint8_t s, bool cx, double v[2])
{
    v[0] = scale_value(s);
    v[1] = 0.0;
    if (!cx)
        return;
    if (s != XW_SCALE_ANY) {
        v[1] = rnd() & 1 ? -0.0 : 0.0;
        return;
    }
    switch (rnd() % 5) {
    case 0: break;
    case 1: v[0] = 0.0; v[1] = scale_value(XW_SCALE_ANY); break;
    case 2: v[0] = rnd() & 1 ? 1.0 : -1.0; v[1] = scale_value(XW_SCALE_ANY); break;
    default: v[1] = scale_value(XW_SCALE_ANY);
    }
}

static size_t span(size_t rows, size_t cols, size_t ld) { return rows && cols ? (cols - 1) * ld + rows : 0; }

#define GET(p, i, f64) ((f64) ? (long double)((const double *)(p))[i] : (long double)((const float *)(p))[i])
static void put(void *p, size_t i, double v, bool f64)
{
    if (f64) ((double *)p)[i] = v;
    else ((float *)p)[i] = (float)v;
}

// Element (re, im) of a matrix of u parts per element (u = 1: im 0), conjugated when conj.
static void elem(const void *p, size_t i, int u, bool f64, bool conj, long double e[2])
{
    e[0] = GET(p, u * i, f64);
    e[1] = u == 2 ? GET(p, u * i + 1, f64) * (conj ? -1 : 1) : 0;
}

static void run_case(ctx *x, xw_target t, xw_desc d)
{
    char name[128];
    xw_gen_name(&d, t, name, sizeof name);
    xw_code c = { .buf = x->code, .cap = x->cap ? x->cap : CODE_CAP, .len = 0, .err = XW_OK };
    size_t entry = 0;
    xw_status st = xw_gen_gemm(&d, t, &c, &entry);
    if (d.alpha == XW_SCALE_ZERO || !d.m || !d.n || !d.k) {  // nothing to multiply
        if (st != XW_ERR_UNSUPPORTED || c.err != XW_OK || c.len != 0) {
            printf("FAIL %s: not declined cleanly (status %d, code status %d, %zu bytes)\n", name, (int)st,
                   (int)c.err, c.len);
            x->failed++;
        } else {
            x->passed++;
        }
        return;
    }
    if (st == XW_ERR_UNSUPPORTED && x->cap) {  // a small buffer may decline, cleanly
        if (c.err != XW_OK || c.len != 0) {
            printf("FAIL %s: declined with code status %d and %zu bytes left\n", name, (int)c.err, c.len);
            x->failed++;
        }
        return;
    }
    if (st == XW_ERR_UNSUPPORTED) {
        printf("DECLINED %s\n", name);
        x->declined++;
        return;
    }
    if (!generated(x, name, st, &c, entry))
        return;

    // Sizes in parts (u per element: 2 for complex, interleaved re, im).
    const bool f64 = d.prec == XW_F64 || d.prec == XW_C64, cx = xw_prec_complex(d.prec);
    const int u = cx ? 2 : 1;
    const size_t es = f64 ? 8 : 4;
    const size_t sa = u * (d.ta ? span(d.k, d.m, d.lda) : span(d.m, d.k, d.lda));
    const size_t sb = u * (d.tb ? span(d.n, d.k, d.ldb) : span(d.k, d.n, d.ldb));
    const size_t sc = u * span(d.m, d.n, d.ldc), ldc = u * (size_t)d.ldc;
    if ((sa + 1) * es > OPERAND_BYTES || (sb + 1) * es > OPERAND_BYTES || (sc + 1) * es > OPERAND_BYTES) {
        printf("SKIP %s: operands too large for the test\n", name);
        return;
    }
    void *a = guarded_place(x->ga, sa * es), *b = guarded_place(x->gb, sb * es), *cm = guarded_place(x->gc, sc * es);
    const bool beta0 = d.beta == XW_SCALE_ZERO;
    // One case in four draws from a few exact values, zeros of both signs among them: sums
    // and products then come out exactly zero, where the order and form of each operation
    // show in the sign (x - y against x + (-y) is the same; 0 - t against -t is not).
    const bool exact = rnd() % 4 == 0;
    for (size_t i = 0; i < sa; i++) put(a, i, exact ? exact_val() : rnd_val(), f64);
    for (size_t i = 0; i < sb; i++) put(b, i, exact ? exact_val() : rnd_val(), f64);
    const double pad = 12345.0;  // rows m..ldc-1 of C must stay as they are
    for (size_t j = 0; j < d.n; j++)
        for (size_t i = 0; i < ldc && j * ldc + i < sc; i++)
            put(cm, j * ldc + i, i >= u * d.m ? pad : beta0 ? NAN : exact ? exact_val() : rnd_val(), f64);
    long double *c0 = malloc((sc + 1) * sizeof *c0);
    for (size_t i = 0; i < sc; i++) c0[i] = GET(cm, i, f64);
    void *cref = malloc((sc + 1) * es);  // the portable kernel's result on the same C
    memcpy(cref, cm, sc * es);
    double alpha[2], beta[2];
    scalar(d.alpha, cx, alpha);
    scalar(d.beta, cx, beta);
    const float alpha_f[2] = { (float)alpha[0], (float)alpha[1] }, beta_f[2] = { (float)beta[0], (float)beta[1] };
    if (xw_scale_class((xw_prec)d.prec, f64 ? (const void *)alpha : alpha_f) != d.alpha
        || xw_scale_class((xw_prec)d.prec, f64 ? (const void *)beta : beta_f) != d.beta) {
        printf("FAIL %s: the test's scalars are not of the descriptor's classes\n", name);
        x->failed++;
        free(c0);
        free(cref);
        return;
    }

    const void *alpha_p = f64 ? (const void *)alpha : (const void *)alpha_f;
    const void *beta_p = f64 ? (const void *)beta : (const void *)beta_f;
    if (!run_both(&c, entry, name, a, b, cm, cref, alpha_p, beta_p, &d, &x->failed)) {
        free(c0);
        free(cref);
        return;
    }
    int differ = 0;
    for (size_t i = 0; i < sc; i++) {
        const long double g = GET(cm, i, f64), r = GET(cref, i, f64);
        const bool same = f64 ? !memcmp((double *)cm + i, (double *)cref + i, 8) : !memcmp((float *)cm + i, (float *)cref + i, 4);
        if (!same && !(isnan(g) && isnan(r)) && differ++ < 3)
            printf("FAIL %s: C[%zu] = %.17Lg (%La), the portable kernel gives %.17Lg (%La)\n", name, i, g, g, r, r);
    }
    free(cref);
    if (differ) {
        free(c0);
        x->failed++;
        return;
    }

    // Within rounding of a long double triple loop (each part against the magnitudes summed).
    const long double al[2] = { f64 ? alpha[0] : alpha_f[0], f64 ? alpha[1] : alpha_f[1] };
    const long double be[2] = { f64 ? beta[0] : beta_f[0], f64 ? beta[1] : beta_f[1] };
    const double tol = (f64 ? 1e-15 : 1e-6) * (d.k + 2 + 2 * cx);
    const bool ca = d.ta == XW_TRANS_C, cb = d.tb == XW_TRANS_C;
    int bad = 0;
    for (size_t j = 0; j < d.n; j++) {
        for (size_t i = 0; i < ldc && j * ldc + i < sc; i++) {
            const size_t ci = j * ldc + i;
            const long double got = GET(cm, ci, f64);
            long double want, mag;
            const size_t row = i / u;
            const int part = (int)(i % u);
            if (row >= d.m) {
                want = pad;
                mag = 0;
            } else {
                long double s[2] = { 0, 0 }, sabs = 0;
                for (size_t p = 0; p < d.k; p++) {
                    long double av[2], bv[2];
                    elem(a, d.ta ? p + row * d.lda : row + p * d.lda, u, f64, ca, av);
                    elem(b, d.tb ? j + p * d.ldb : p + j * d.ldb, u, f64, cb, bv);
                    s[0] += av[0] * bv[0] - av[1] * bv[1];
                    s[1] += av[0] * bv[1] + av[1] * bv[0];
                    sabs += (fabsl(av[0]) + fabsl(av[1])) * (fabsl(bv[0]) + fabsl(bv[1]));
                }
                const size_t c0i = j * ldc + u * row;
                const long double cr = c0[c0i], cim = u == 2 ? c0[c0i + 1] : 0;
                const long double ws[2] = { al[0] * s[0] - al[1] * s[1], al[0] * s[1] + al[1] * s[0] };
                const long double wc[2] = { be[0] * cr - be[1] * cim, be[0] * cim + be[1] * cr };
                want = ws[part] + (beta0 ? 0 : wc[part]);
                mag = (fabsl(al[0]) + fabsl(al[1])) * sabs
                      + (beta0 ? 0 : (fabsl(be[0]) + fabsl(be[1])) * (fabsl(cr) + fabsl(cim)));
            }
            const long double err = fabsl(got - want);
            const double ratio = mag > 0 ? (double)(err / (mag * tol)) : (err == 0 ? 0 : INFINITY);
            if (!(ratio <= 1.0)) {  // also catches NaN
                if (bad++ < 3)
                    printf("FAIL %s: C(%zu,%zu)%s = %.17Lg, want %.17Lg (alpha %g%+gi beta %g%+gi)\n", name, row, j,
                           cx ? (part ? ".im" : ".re") : "", got, want, alpha[0], alpha[1], beta[0], beta[1]);
            } else if (ratio > x->worst) {
                x->worst = ratio;
            }
        }
    }
    free(c0);
    if (bad) x->failed++;
    else x->passed++;
}

// Runs d with each of the first n plan choices as its tuning hints.
static void run_hinted(ctx *x, xw_target t, xw_desc d, const xw_gen_choice *ch, int n)
{
    for (int i = 0; i < n; i++) {
        d.mb_max = ch[i].mb_max;
        d.nb_max = ch[i].nb_max;
        run_case(x, t, d);
    }
}

// ---- The case list.
static xw_desc mk(xw_prec prec, int ta, int tb, int m, int n, int k, int pa, int pb, int pc, int al, int be)
{
    xw_desc d;
    memset(&d, 0, sizeof d);
    d.m = (uint32_t)m;
    d.n = (uint32_t)n;
    d.k = (uint32_t)k;
    const int ra = ta ? k : m, rb = tb ? n : k;
    d.lda = (uint32_t)((ra > 0 ? ra : 1) + pa);
    d.ldb = (uint32_t)((rb > 0 ? rb : 1) + pb);
    d.ldc = (uint32_t)((m > 0 ? m : 1) + pc);
    d.prec = (uint8_t)prec;
    d.ta = (uint8_t)ta;
    d.tb = (uint8_t)tb;
    d.alpha = (uint8_t)al;
    d.beta = (uint8_t)be;
    return d;
}

// The dot form (XW_TRANS_DOT, GEMV T): y = alpha*A^T x + beta*y, A k x m with lda, x and y at
// their increments. The kernel against the portable one bit for bit (y's gaps included, which
// must keep their values), and within rounding of a long double sum.
static void run_dot(ctx *x, xw_target t, xw_prec prec, int m, int k, int pa, int incx, int incy, int al, int be)
{
    xw_desc d = mk(prec, XW_TRANS_DOT, XW_TRANS_N, m, 1, k, pa, 0, 0, al, be);
    d.ldb = (uint32_t)incx;
    d.ldc = (uint32_t)incy;
    char name[128];
    xw_gen_name(&d, t, name, sizeof name);
    xw_code c = { .buf = x->code, .cap = CODE_CAP, .len = 0, .err = XW_OK };
    size_t entry = 0;
    const xw_status st = xw_gen_gemm(&d, t, &c, &entry);
    if (!generated(x, name, st, &c, entry))
        return;
    const bool f64 = prec == XW_F64;
    const size_t es = f64 ? 8 : 4, sa = span((size_t)k, (size_t)m, d.lda);
    const size_t sx = (size_t)(k - 1) * (size_t)incx + 1, sy = (size_t)(m - 1) * (size_t)incy + 1;
    void *a = guarded_place(x->ga, sa * es), *xv = guarded_place(x->gb, sx * es), *y = guarded_place(x->gc, sy * es);
    const bool exact = rnd() % 4 == 0, beta0 = be == XW_SCALE_ZERO;
    for (size_t i = 0; i < sa; i++) put(a, i, exact ? exact_val() : rnd_val(), f64);
    for (size_t i = 0; i < sx; i++) put(xv, i, i % (size_t)incx ? NAN : exact ? exact_val() : rnd_val(), f64);
    for (size_t i = 0; i < sy; i++)
        put(y, i, i % (size_t)incy ? 12345.0 : beta0 ? NAN : exact ? exact_val() : rnd_val(), f64);
    long double *y0 = malloc(sy * sizeof *y0);
    void *yref = malloc(sy * es);
    for (size_t i = 0; i < sy; i++) y0[i] = GET(y, i, f64);
    memcpy(yref, y, sy * es);
    double alpha[2], beta[2];
    scalar((uint8_t)al, false, alpha);
    scalar((uint8_t)be, false, beta);
    const float alpha_f = (float)alpha[0], beta_f = (float)beta[0];
    const void *alpha_p = f64 ? (const void *)alpha : &alpha_f, *beta_p = f64 ? (const void *)beta : &beta_f;
    if (!run_both(&c, entry, name, a, xv, y, yref, alpha_p, beta_p, &d, &x->failed)) {
        free(y0);
        free(yref);
        return;
    }
    int bad = 0;
    const long double al_ = f64 ? alpha[0] : alpha_f, be_ = f64 ? beta[0] : beta_f;
    const double tol = (f64 ? 1e-15 : 1e-6) * (k + 2);
    for (size_t i = 0; i < sy; i++) {
        const long double g = GET(y, i, f64), r = GET(yref, i, f64);
        if (memcmp((char *)y + i * es, (char *)yref + i * es, es) && !(isnan(g) && isnan(r))) {
            if (bad++ < 3)
                printf("FAIL %s: y[%zu] = %.17Lg (%La), the portable kernel gives %.17Lg (%La)\n", name, i, g, g, r, r);
            continue;
        }
        if (i % (size_t)incy) {
            if (g != 12345.0 && bad++ < 3)
                printf("FAIL %s: y's gap at %zu overwritten\n", name, i);
            continue;
        }
        const size_t row = i / (size_t)incy;
        long double s = 0, mag = 0;
        for (int p = 0; p < k; p++) {
            const long double av = GET(a, row * d.lda + (size_t)p, f64), xp = GET(xv, (size_t)p * (size_t)incx, f64);
            s += av * xp;
            mag += fabsl(av * xp);
        }
        const long double want = al_ * s + (beta0 ? 0 : be_ * y0[i]);
        mag = fabsl(al_) * mag + (beta0 ? 0 : fabsl(be_ * y0[i]));
        const long double err = fabsl(g - want);
        if (!(err <= mag * tol) && bad++ < 3)
            printf("FAIL %s: y(%zu) = %.17Lg, want %.17Lg\n", name, row, g, want);
    }
    free(y0);
    free(yref);
    if (bad) x->failed++;
    else x->passed++;
}

static void run_dots(ctx *x, xw_target t, bool quick)
{
    // Every m in 1..20 against k in 1..40 (both chunk widths' tails), classes rotating.
    for (int m = 1; m <= 20; m++)
        for (int k = 1; k <= 40; k++) {
            if (quick && (m + k) % 4) continue;
            const int prec = (m + k) & 1;
            run_dot(x, t, prec, m, k, 0, 1, 1, XW_SCALE_ONE, XW_SCALE_ONE);
            run_dot(x, t, prec ^ 1, m, k, rnd() % 3 ? 0 : rnd_in(1, 9), rnd() % 3 ? 1 : rnd_in(2, 5),
                    rnd() % 3 ? 1 : rnd_in(2, 5), (m * 3 + k) % 4 == 2 ? XW_SCALE_ANY : (m * 3 + k) % 4, rnd_in(0, 3));
        }
    // Every class pair on a few shapes; larger ones up to the limit (k 256 doubles' bytes).
    static const int shapes[][2] = { { 1, 1 }, { 8, 8 }, { 24, 24 }, { 32, 32 }, { 9, 17 }, { 64, 64 }, { 3, 200 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int prec = 0; prec < 2; prec++)
            for (int al = 0; al < 4; al++)
                for (int be = 0; be < 4; be++)
                    if (al != XW_SCALE_ZERO)
                        run_dot(x, t, prec, shapes[s][0], shapes[s][1], rnd_in(0, 3), rnd() & 1 ? 1 : 3,
                                rnd() & 1 ? 1 : 2, al, be);
    for (int i = 0; i < (quick ? 40 : 400); i++) {
        const int prec = (int)(rnd() & 1);
        run_dot(x, t, prec, rnd_in(1, 100), rnd_in(1, prec ? 512 : 256), rnd() % 2 ? 0 : rnd_in(1, 30),
                rnd() % 3 ? 1 : rnd_in(2, 7), rnd() % 3 ? 1 : rnd_in(2, 7), rnd() % 4 ? XW_SCALE_ANY : XW_SCALE_ONE,
                rnd_in(0, 3));
    }
    // Beyond the limit, or complex: declined, the buffer clean.
    const xw_desc no[] = { mk(XW_F64, XW_TRANS_DOT, 0, 4, 1, 257, 0, 0, 0, 0, 0),
                           mk(XW_F32, XW_TRANS_DOT, 0, 4, 1, 513, 0, 0, 0, 0, 0),
                           mk(XW_C64, XW_TRANS_DOT, 0, 4, 1, 4, 0, 0, 0, 0, 0),
                           mk(XW_F64, XW_TRANS_DOT, 0, 4, 2, 4, 0, 0, 0, 0, 0) };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        xw_code c = { .buf = x->code, .cap = CODE_CAP, .len = 0, .err = XW_OK };
        size_t entry = 0;
        if (xw_gen_gemm(&no[i], t, &c, &entry) != XW_ERR_UNSUPPORTED || c.len || c.err) {
            printf("FAIL dot descriptor %zu not declined cleanly\n", i);
            x->failed++;
        }
    }
}

// The contract's promise (docs/ARCHITECTURE.md), through generated complex kernels: every
// m x n product (m, n in 1..S, the same K, operands and leading dimensions S) equals the same
// elements of the S x S one bit for bit, and leaves the rest of C as it was. Each kernel also
// equals the portable kernel (run_case), whose loops cannot depend on the shape; this checks the
// promise itself, whatever plan, remainder vector or packing each shape gets.
#define SHAPE_S 20
static void shape_contract(ctx *x, xw_target t, bool quick)
{
    static const int pairs[][2] = { { 0, 0 }, { 2, 0 }, { 0, 2 }, { 2, 2 }, { 1, 1 }, { 2, 1 } };
    const int K = 13;
    for (int prec = XW_C64; prec <= XW_C32; prec++)
        for (size_t q = 0; q < sizeof pairs / sizeof pairs[0]; q++) {
            if (quick && q % 3) continue;
            const bool f64 = prec == XW_C64;
            const size_t es = f64 ? 8 : 4, parts = 2 * SHAPE_S * (SHAPE_S > K ? SHAPE_S : K);
            void *a = guarded_place(x->ga, parts * es), *b = guarded_place(x->gb, parts * es);
            void *c0 = malloc(2 * SHAPE_S * SHAPE_S * es), *full = malloc(2 * SHAPE_S * SHAPE_S * es);
            void *cm = guarded_place(x->gc, 2 * SHAPE_S * SHAPE_S * es);
            for (size_t i = 0; i < parts; i++) {
                put(a, i, rnd_val(), f64);
                put(b, i, rnd_val(), f64);
            }
            for (size_t i = 0; i < 2 * SHAPE_S * SHAPE_S; i++) put(c0, i, rnd_val(), f64);
            const double alpha[2] = { 0.75, -0.5 }, beta[2] = { 1.25, 0.25 };
            const float alpha_f[2] = { 0.75f, -0.5f }, beta_f[2] = { 1.25f, 0.25f };
            long bad = 0, run = 0;
            for (int m = SHAPE_S; m >= 1 && !bad; m--)
                for (int n = SHAPE_S; n >= 1 && !bad; n--) {
                    if (m != SHAPE_S && n != SHAPE_S && quick && (m * 7 + n) % 5) continue;
                    xw_desc d = mk(prec, pairs[q][0], pairs[q][1], m, n, K, 0, 0, 0, XW_SCALE_ANY, XW_SCALE_ANY);
                    d.lda = d.ldb = d.ldc = SHAPE_S;
                    xw_code c = { .buf = x->code, .cap = CODE_CAP, .len = 0, .err = XW_OK };
                    size_t entry = 0;
                    exec_code ex;
                    if (xw_gen_gemm(&d, t, &c, &entry) != XW_OK || !exec_install(&ex, c.buf, c.len, entry)) {
                        bad++;
                        break;
                    }
                    memcpy(cm, c0, 2 * SHAPE_S * SHAPE_S * es);
                    ex.fn(a, b, cm, f64 ? (const void *)alpha : alpha_f, f64 ? (const void *)beta : beta_f, &d);
                    exec_free(&ex);
                    run++;
                    if (m == SHAPE_S && n == SHAPE_S) {
                        memcpy(full, cm, 2 * SHAPE_S * SHAPE_S * es);
                        continue;
                    }
                    for (int j = 0; j < SHAPE_S; j++)
                        for (int i = 0; i < 2 * SHAPE_S; i++) {
                            const size_t at_ = (size_t)j * 2 * SHAPE_S + (size_t)i;
                            const void *want = i < 2 * m && j < n ? full : c0;
                            if (!memcmp((char *)cm + at_ * es, (const char *)want + at_ * es, es) || bad++ >= 3)
                                continue;
                            printf("FAIL shape contract %s %c%c: %dx%dx%d C part %d of column %d differs from the %s\n",
                                   prec == XW_C64 ? "zgemm" : "cgemm", "ntc"[pairs[q][0]], "ntc"[pairs[q][1]], m, n,
                                   K, i, j, want == full ? "20x20 product" : "untouched C");
                        }
                }
            if (bad) x->failed++;
            else x->passed += run;
            free(c0);
            free(full);
        }
}

// Complex (zgemm, cgemm): the transpose pairs NN .. CC as tr = 3*ta + tb (N 0, T 1, C 2).
static void run_complex(ctx *x, xw_target t, bool quick)
{
    if (x->run)
        shape_contract(x, t, quick);
    // All of 1..12 cubed, pairs rotating, both precisions; one case plain, one random.
    for (int m = 1; m <= 12; m++)
        for (int n = 1; n <= 12; n++)
            for (int k = 1; k <= 12; k++) {
                if (quick && (m + n + k) % 5) continue;
                for (int prec = XW_C64; prec <= XW_C32; prec++) {
                    const int tr = (m + 2 * n + 3 * k + prec) % 9;
                    run_case(x, t, mk(prec, tr / 3, tr % 3, m, n, k, 0, 0, 0, XW_SCALE_ONE, XW_SCALE_ONE));
                    run_case(x, t, mk(prec, rnd_in(0, 2), rnd_in(0, 2), m, n, k, rnd_in(0, 3), rnd_in(0, 3),
                                      rnd_in(0, 3), rnd_in(0, 3), rnd_in(0, 3)));
                }
            }
    // Every transpose pair and alpha/beta class on a few shapes.
    static const int shapes[][3] = { { 1, 1, 1 }, { 3, 5, 7 }, { 4, 4, 4 }, { 8, 8, 8 }, { 13, 7, 5 },
                                     { 7, 9, 33 }, { 5, 15, 2 }, { 16, 16, 16 }, { 23, 23, 23 }, { 9, 1, 20 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int prec = XW_C64; prec <= XW_C32; prec++)
            for (int tr = 0; tr < 9; tr++)
                for (int al = 0; al < 4; al++)
                    for (int be = 0; be < 4; be++) {
                        if (quick && (al + be + tr + (int)s) % 3) continue;
                        run_case(x, t, mk(prec, tr / 3, tr % 3, shapes[s][0], shapes[s][1], shapes[s][2],
                                          (int)(rnd() % 3), (int)(rnd() % 3), (int)(rnd() % 3), al, be));
                    }
    // Random shapes up to 32, everything random.
    for (int i = 0; i < (quick ? 300 : 3000); i++)
        run_case(x, t, mk(rnd_in(XW_C64, XW_C32), rnd_in(0, 2), rnd_in(0, 2), rnd_in(1, 32), rnd_in(1, 32),
                          rnd_in(1, 32), rnd() % 4 ? 0 : rnd_in(1, 9), rnd() % 4 ? 0 : rnd_in(1, 9),
                          rnd() % 4 ? 0 : rnd_in(1, 9), rnd_in(0, 3), rnd_in(0, 3)));
    // Larger shapes up to 64.
    static const int big[][3] = { { 64, 64, 64 }, { 48, 50, 64 }, { 33, 64, 17 }, { 64, 1, 64 }, { 1, 64, 64 },
                                  { 63, 63, 63 }, { 57, 41, 64 }, { 64, 64, 1 }, { 40, 64, 3 } };
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
        for (int prec = XW_C64; prec <= XW_C32; prec++)
            for (int tr = 0; tr < 9; tr++) {
                if (quick && tr % 4) continue;
                run_case(x, t, mk(prec, tr / 3, tr % 3, big[s][0], big[s][1], big[s][2], 0, 0, 0, XW_SCALE_ONE,
                                  XW_SCALE_ONE));
                run_case(x, t, mk(prec, tr / 3, tr % 3, big[s][0], big[s][1], big[s][2], rnd_in(0, 5), rnd_in(0, 5),
                                  rnd_in(0, 5), rnd_in(0, 3), rnd_in(0, 3)));
            }
    // Every plan the cost model weighs keeps the contract.
    static const int tuned[][3] = { { 13, 13, 13 }, { 16, 16, 16 }, { 5, 25, 5 }, { 23, 8, 33 }, { 3, 30, 7 } };
    for (size_t s = 0; s < sizeof tuned / sizeof tuned[0]; s++)
        for (int prec = XW_C64; prec <= XW_C32; prec++) {
            const xw_desc d = mk(prec, (int)(s % 3), (int)((s + 1) % 3), tuned[s][0], tuned[s][1], tuned[s][2],
                                 (int)(s % 3), 0, 1, XW_SCALE_ANY, XW_SCALE_ANY);
            xw_gen_choice ch[64];
            const int nch = xw_gen_choices(&d, t, ch, 64);
            if (nch <= 0) {
                printf("FAIL choices %ux%ux%u prec %d: none\n", d.m, d.n, d.k, prec);
                x->failed++;
            }
            run_hinted(x, t, d, ch, nch < (quick ? 3 : 12) ? nch : (quick ? 3 : 12));
        }
    // Small code buffers: loops, or a clean decline.
    static const size_t caps[] = { 64, 512, 2048, 6000, 20000 };
    for (size_t s = 0; s < sizeof caps / sizeof caps[0]; s++) {
        x->cap = caps[s];
        for (size_t b = 0; b < sizeof big / sizeof big[0]; b++)
            run_case(x, t, mk(XW_C64 + (int)(b & 1), (int)(s % 3), (int)(b % 3), big[b][0], big[b][1], big[b][2], 1,
                              0, 2, rnd_in(1, 3), rnd_in(0, 3)));
    }
    x->cap = 0;
    // Declined cleanly or made: complex garbage, and real descriptors with a 'C' transpose.
    for (int i = 0; i < (quick ? 200 : 2000); i++) {
        xw_desc d = mk(rnd_in(0, 3), rnd_in(0, 3), rnd_in(0, 3), rnd_in(0, 6000), rnd_in(0, 6000), rnd_in(0, 6000),
                       0, 0, 0, rnd_in(0, 3), rnd_in(0, 3));
        if (rnd() & 1) d.lda = (uint32_t)rnd();
        if (rnd() & 1) d.ldb = (uint32_t)rnd();
        if (rnd() & 1) d.ldc = (uint32_t)rnd();
        xw_code c = { .buf = x->code, .cap = CODE_CAP, .len = 0, .err = XW_OK };
        size_t entry = 0;
        const xw_status st = xw_gen_gemm(&d, t, &c, &entry);
        const bool must_decline = d.ta > 2 || d.tb > 2 || (!xw_prec_complex(d.prec) && (d.ta > 1 || d.tb > 1));
        if (!(st == XW_ERR_UNSUPPORTED && c.err == XW_OK && c.len == 0) && (must_decline || st != XW_OK || c.err)) {
            printf("FAIL complex fuzz %u x %u x %u ld %u %u %u prec %u ta %u tb %u: status %d code %d\n", d.m, d.n,
                   d.k, d.lda, d.ldb, d.ldc, d.prec, d.ta, d.tb, (int)st, (int)c.err);
            x->failed++;
        }
    }
}

// Code memory (issue 11): the 1000 kernels of bench-kernels' memory section (XW_MEMORY_DIMS)
// average at most 4.5 KiB of code, so that with the registry's own ~0.2 KiB a kernel the
// library's resident growth stays under half of LIBXSMM 1.17's for the same shapes (9.5 KiB a
// kernel: docs/BENCHMARKS.md). Generated bytes do not depend on the CPU.
static void code_budget(ctx *x, xw_target t)
{
    static const int dims[10] = XW_MEMORY_DIMS;
    size_t total = 0;
    for (int i = 0; i < 1000; i++) {
        const xw_desc d = mk(XW_F64, 0, 0, dims[i / 100], dims[i / 10 % 10], dims[i % 10], 0, 0, 0, XW_SCALE_ONE,
                             XW_SCALE_ZERO);
        xw_code c = { .buf = x->code, .cap = CODE_CAP, .len = 0, .err = XW_OK };
        size_t entry;
        if (xw_gen_gemm(&d, t, &c, &entry) != XW_OK) {
            printf("FAIL memory benchmark shape %dx%dx%d not generated\n", d.m, d.n, d.k);
            x->failed++;
        }
        total += c.len;
    }
    const double mean = (double)total / 1000.0;
    printf("%s: 1000 kernels of the memory benchmark, %.0f bytes of code each on average (budget 4608)\n",
           t == XW_TARGET_AVX2 ? "avx2" : "avx512", mean);
    if (mean <= 4608.0) {
        x->passed++;
    } else {
        x->failed++;
        printf("FAIL code of the memory benchmark's kernels over budget\n");
    }
}

static void run_target(ctx *x, xw_target t, bool quick)
{
    x->dis.t = t;
    // All of 1..12 cubed, transposes rotating, both precisions; one case plain, one random.
    for (int m = 1; m <= 12; m++)
        for (int n = 1; n <= 12; n++)
            for (int k = 1; k <= 12; k++) {
                if (quick && (m + n + k) % 5) continue;
                for (int prec = 0; prec < 2; prec++) {
                    const int tr = (m + 2 * n + 3 * k + prec) % 4;
                    run_case(x, t, mk(prec, tr & 1, tr >> 1, m, n, k, 0, 0, 0, XW_SCALE_ONE, XW_SCALE_ONE));
                    run_case(x, t, mk(prec, (int)(rnd() & 1), (int)(rnd() & 1), m, n, k, rnd_in(0, 3),
                                      rnd_in(0, 3), rnd_in(0, 3), rnd_in(0, 3), rnd_in(0, 3)));
                }
            }
    // Every transpose and alpha/beta class on a few shapes.
    static const int shapes[][3] = { { 1, 1, 1 }, { 3, 5, 7 }, { 4, 4, 4 }, { 8, 8, 8 }, { 13, 7, 5 },
                                     { 17, 9, 33 }, { 5, 31, 2 }, { 32, 32, 32 }, { 9, 1, 20 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int prec = 0; prec < 2; prec++)
            for (int tr = 0; tr < 4; tr++)
                for (int al = 0; al < 4; al++)
                    for (int be = 0; be < 4; be++)
                        run_case(x, t, mk(prec, tr & 1, tr >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                                          (int)(rnd() % 3), (int)(rnd() % 3), (int)(rnd() % 3), al, be));
    // Random shapes up to 32, everything random.
    for (int i = 0; i < (quick ? 300 : 3000); i++)
        run_case(x, t, mk(rnd() & 1, (int)(rnd() & 1), (int)(rnd() & 1), rnd_in(1, 32), rnd_in(1, 32),
                          rnd_in(1, 32), rnd() % 4 ? 0 : rnd_in(1, 9), rnd() % 4 ? 0 : rnd_in(1, 9),
                          rnd() % 4 ? 0 : rnd_in(1, 9), rnd_in(0, 3), rnd_in(0, 3)));
    // k == 0 (C = beta*C) and empty shapes.
    for (int be = 0; be < 4; be++)
        for (int prec = 0; prec < 2; prec++) {
            run_case(x, t, mk(prec, 0, 0, 7, 5, 0, 2, 0, 3, XW_SCALE_ANY, be));
            run_case(x, t, mk(prec, 1, 1, 40, 30, 0, 0, 0, 1, XW_SCALE_ONE, be));
        }
    run_case(x, t, mk(XW_F64, 0, 0, 0, 5, 3, 0, 0, 0, XW_SCALE_ONE, XW_SCALE_ONE));
    run_case(x, t, mk(XW_F32, 0, 0, 5, 0, 3, 0, 0, 0, XW_SCALE_ONE, XW_SCALE_ONE));
    // Larger shapes up to 64.
    static const int big[][3] = { { 64, 64, 64 }, { 48, 50, 64 }, { 33, 64, 17 }, { 64, 1, 64 }, { 1, 64, 64 },
                                  { 63, 63, 63 }, { 57, 41, 64 }, { 64, 64, 1 }, { 40, 64, 3 } };
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
        for (int prec = 0; prec < 2; prec++)
            for (int tr = 0; tr < 4; tr++) {
                if (quick && tr % 3) continue;
                run_case(x, t, mk(prec, tr & 1, tr >> 1, big[s][0], big[s][1], big[s][2], 0, 0, 0, XW_SCALE_ONE,
                                  XW_SCALE_ONE));
                run_case(x, t, mk(prec, tr & 1, tr >> 1, big[s][0], big[s][1], big[s][2], rnd_in(0, 5),
                                  rnd_in(0, 5), rnd_in(0, 5), rnd_in(0, 3), rnd_in(0, 3)));
            }
    // Plans asked for (tuning hints): every choice the cost model weighs makes a kernel that
    // keeps the contract, and its cheapest choice as hints gives the very kernel it picks alone.
    static const int tuned[][3] = { { 13, 13, 13 }, { 64, 64, 64 }, { 5, 25, 5 }, { 23, 8, 33 }, { 4, 64, 26 },
                                    { 9, 40, 46 }, { 1, 17, 30 } };
    for (size_t s = 0; s < sizeof tuned / sizeof tuned[0]; s++)
        for (int prec = 0; prec < 2; prec++) {
            const xw_desc d = mk(prec, (int)(s & 1), 0, tuned[s][0], tuned[s][1], tuned[s][2], (int)(s % 3), 0, 1,
                                 XW_SCALE_ANY, XW_SCALE_ONE);
            xw_gen_choice ch[64];
            const int nch = xw_gen_choices(&d, t, ch, 64);
            bool sorted = nch > 0, same = false;
            for (int i = 1; i < nch; i++)
                sorted &= ch[i - 1].cost <= ch[i].cost;
            if (nch > 0) {
                static uint8_t auto_code[CODE_CAP];
                xw_code c0 = { .buf = auto_code, .cap = CODE_CAP, .len = 0, .err = XW_OK };
                xw_code c1 = { .buf = x->code, .cap = CODE_CAP, .len = 0, .err = XW_OK };
                xw_desc h = d;
                h.mb_max = ch[0].mb_max;
                h.nb_max = ch[0].nb_max;
                size_t e0, e1;
                same = xw_gen_gemm(&d, t, &c0, &e0) == XW_OK && xw_gen_gemm(&h, t, &c1, &e1) == XW_OK
                       && c0.len == c1.len && e0 == e1 && !memcmp(c0.buf, c1.buf, c0.len);
            }
            if (!sorted || !same) {
                printf("FAIL choices %ux%ux%u prec %d: %d choices, sorted %d, cheapest as hints same code %d\n", d.m,
                       d.n, d.k, prec, nch, sorted, same);
                x->failed++;
            }
            run_hinted(x, t, d, ch, nch < (quick ? 3 : 8) ? nch : (quick ? 3 : 8));
        }
    // Small code buffers: the generator falls back to loops, or declines leaving c clean.
    static const size_t caps[] = { 64, 512, 2048, 6000, 20000 };
    for (size_t s = 0; s < sizeof caps / sizeof caps[0]; s++) {
        x->cap = caps[s];
        for (size_t b = 0; b < sizeof big / sizeof big[0]; b++)
            run_case(x, t, mk((int)(b & 1), (int)(s & 1), (int)(b & 1), big[b][0], big[b][1], big[b][2], 1, 0, 2,
                              rnd_in(0, 3), rnd_in(0, 3)));
        run_case(x, t, mk(XW_F64, 0, 0, 64, 64, 0, 0, 0, 0, XW_SCALE_ONE, XW_SCALE_ANY));
    }
    x->cap = 0;
    // Descriptors the generator must decline or handle without misbehaving (generation only).
    for (int i = 0; i < (quick ? 200 : 2000); i++) {
        xw_desc d = mk(rnd() & 1, (int)(rnd() & 1), (int)(rnd() & 1), rnd_in(0, 6000), rnd_in(0, 6000),
                       rnd_in(0, 6000), 0, 0, 0, rnd_in(0, 3), rnd_in(0, 3));
        if (rnd() & 1) d.lda = (uint32_t)rnd();
        if (rnd() & 1) d.ldb = (uint32_t)rnd();
        if (rnd() & 1) d.ldc = (uint32_t)rnd();
        if (!(rnd() % 8)) d.prec = (uint8_t)rnd();
        xw_code c = { .buf = x->code, .cap = CODE_CAP, .len = 0, .err = XW_OK };
        size_t entry = 0;
        const xw_status st = xw_gen_gemm(&d, t, &c, &entry);
        if (!(st == XW_ERR_UNSUPPORTED && c.err == XW_OK && c.len == 0) && !(st == XW_OK && c.err == XW_OK)) {
            printf("FAIL fuzz %u x %u x %u ld %u %u %u prec %u: status %d code %d\n", d.m, d.n, d.k, d.lda, d.ldb,
                   d.ldc, d.prec, (int)st, (int)c.err);
            x->failed++;
        }
    }
    run_complex(x, t, quick);
    run_dots(x, t, quick);
    dis_flush(&x->dis);
}

// ---- Corpus for tests/test_jit.py, which runs AVX-512 kernels in an instruction emulator on
// CPUs without AVX-512: DIR/manifest.txt lists "file entry prec ta tb m n k lda ldb ldc alpha
// beta" (the descriptor's numbers), DIR/<i>.bin holds each whole code buffer (constant data
// first). Real kernels first, then complex ones.
// The corpus's descriptors (the same list on every run: rnd() starts from its seed); returns
// how many.
#define CORPUS_MAX 2000
static int corpus_list(xw_desc list[CORPUS_MAX])
{
    int n = 0;
    // M below a zmm and not a power of two: 5x13x9 and 11x8x8 (SP) take AVX-512's k1-masked
    // vector (enough work per column), 6x2x3 its VEX body.
    static const int shapes[][4] = { { 8, 4, 5, 0 }, { 19, 3, 7, 0 }, { 4, 5, 6, 0 }, { 8, 3, 2, 1 }, { 1, 7, 9, 1 },
                                     { 21, 2, 3, 1 }, { 5, 13, 9, 0 }, { 11, 8, 8, 1 }, { 6, 2, 3, 0 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int tr = 0; tr < 4; tr++)
            for (int al = 0; al < 3; al++)
                for (int be = 0; be < 4; be++)
                    list[n++] = mk(shapes[s][3], tr & 1, tr >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                                   (int)(rnd() % 3), (int)(rnd() % 3), (int)(rnd() % 3),
                                   al == 2 ? XW_SCALE_ANY : al, be);
    static const int alphas[] = { XW_SCALE_ONE, XW_SCALE_MINUS_ONE, XW_SCALE_ANY };
    for (int i = 0; i < 300; i++)
        list[n++] = mk(rnd() & 1, (int)(rnd() & 1), (int)(rnd() & 1), rnd_in(1, 40), rnd_in(1, 40), rnd_in(1, 40),
                       rnd() % 4 ? 0 : rnd_in(1, 9), rnd() % 4 ? 0 : rnd_in(1, 9), rnd() % 4 ? 0 : rnd_in(1, 9),
                       alphas[rnd() % 3], rnd_in(0, 3));
    static const int big[][6] = { { 64, 64, 64, 0, 0, 0 }, { 64, 64, 64, 1, 1, 0 }, { 48, 50, 64, 0, 0, 1 },
                                  { 33, 64, 17, 1, 1, 1 }, { 64, 9, 64, 1, 0, 0 }, { 40, 30, 1, 0, 0, 0 },
                                  { 28, 7, 40, 0, 0, 0 } };  // (op(A) requested in a loop at entry)
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
        list[n++] = mk(big[s][3], big[s][4], big[s][5], big[s][0], big[s][1], big[s][2], 1, 2, 3, XW_SCALE_ANY,
                       XW_SCALE_ANY);
    // Complex (prec 2 zgemm, 3 cgemm; transposes N 0, T 1, C 2): each shape (M below a zmm,
    // a zmm and a remainder, several tiles) with every transpose pair and scale class.
    static const int zshapes[][4] = { { 4, 3, 5, XW_C64 }, { 3, 2, 4, XW_C64 }, { 9, 5, 3, XW_C64 },
                                      { 5, 3, 4, XW_C32 }, { 8, 4, 2, XW_C32 }, { 19, 2, 3, XW_C32 },
                                      { 3, 6, 9, XW_C64 } };
    for (size_t s = 0; s < sizeof zshapes / sizeof zshapes[0]; s++)
        for (int tr = 0; tr < 9; tr++)
            for (int al = 0; al < 3; al++)
                for (int be = 0; be < 4; be++)
                    list[n++] = mk(zshapes[s][3], tr / 3, tr % 3, zshapes[s][0], zshapes[s][1], zshapes[s][2],
                                   (int)(rnd() % 3), (int)(rnd() % 3), (int)(rnd() % 3),
                                   al == 2 ? XW_SCALE_ANY : al, be);
    for (int i = 0; i < 150; i++)
        list[n++] = mk(rnd_in(XW_C64, XW_C32), rnd_in(0, 2), rnd_in(0, 2), rnd_in(1, 24), rnd_in(1, 16),
                       rnd_in(1, 24), rnd() % 4 ? 0 : rnd_in(1, 9), rnd() % 4 ? 0 : rnd_in(1, 9),
                       rnd() % 4 ? 0 : rnd_in(1, 9), alphas[rnd() % 3], rnd_in(0, 3));
    static const int zbig[][6] = { { 32, 32, 32, 0, 0, XW_C64 }, { 23, 23, 23, 2, 1, XW_C64 },
                                   { 16, 40, 24, 1, 2, XW_C32 }, { 33, 17, 9, 2, 2, XW_C32 } };
    for (size_t s = 0; s < sizeof zbig / sizeof zbig[0]; s++)
        list[n++] = mk(zbig[s][5], zbig[s][3], zbig[s][4], zbig[s][0], zbig[s][1], zbig[s][2], 1, 2, 3, XW_SCALE_ANY,
                       XW_SCALE_ANY);
    // The dot form (GEMV T: ta 3, ldb and ldc the increments of x and y): tails of both chunk
    // widths, a group loop, increments, every class pair on one shape.
    static const int dshapes[][6] = { { 1, 1, 0, 1, 1, 0 }, { 3, 5, 1, 1, 1, 1 }, { 9, 13, 0, 2, 1, 0 },
                                      { 17, 20, 1, 1, 3, 1 }, { 8, 8, 0, 1, 1, 0 }, { 20, 33, 0, 3, 2, 1 },
                                      { 5, 70, 2, 1, 1, 0 }, { 16, 32, 0, 1, 1, 1 }, { 8, 13, 2, 1, 1, 1 },
                                      { 24, 20, 1, 2, 1, 0 } };  // m, k, pad of lda, incx, incy, prec
    for (size_t s = 0; s < sizeof dshapes / sizeof dshapes[0]; s++)
        for (int al = 0; al < 3; al++)
            for (int be = 0; be < 4; be++) {
                if (s > 1 && (al + be + (int)s) % 3) continue;
                xw_desc d = mk(dshapes[s][5], XW_TRANS_DOT, XW_TRANS_N, dshapes[s][0], 1, dshapes[s][1],
                               dshapes[s][2], 0, 0, al == 2 ? XW_SCALE_ANY : al, be);
                d.ldb = (uint32_t)dshapes[s][3];
                d.ldc = (uint32_t)dshapes[s][4];
                list[n++] = d;
            }
    return n;
}

static int emit_corpus(xw_target t, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *man = fopen(path, "w");
    if (!man) { perror(path); return 2; }
    uint8_t *code = malloc(CODE_CAP);
    static xw_desc list[CORPUS_MAX];
    const int n = corpus_list(list);
    int written = 0;
    for (int i = 0; i < n; i++) {
        xw_code c = { .buf = code, .cap = CODE_CAP, .len = 0, .err = XW_OK };
        size_t entry = 0;
        if (xw_gen_gemm(&list[i], t, &c, &entry) != XW_OK) continue;
        snprintf(path, sizeof path, "%s/%d.bin", dir, i);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(code, 1, c.len, f) != c.len) { perror(path); return 2; }
        fclose(f);
        const xw_desc *d = &list[i];
        fprintf(man, "%d.bin %zu %u %u %u %u %u %u %u %u %u %u %u\n", i, entry, d->prec, d->ta, d->tb, d->m, d->n,
                d->k, d->lda, d->ldb, d->ldc, d->alpha, d->beta);
        written++;
    }
    fclose(man);
    free(code);
    printf("%d kernels written to %s\n", written, dir);
    return written == n ? 0 : 1;
}

// ---- Benchmark: DP NN alpha=1 beta=1, cached operands.
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

__attribute__((noinline)) static void naive_dgemm(int m, int n, int k, const double *a, int lda, const double *b,
                                                  int ldb, double *c, int ldc)
{
    for (int j = 0; j < n; j++)
        for (int p = 0; p < k; p++) {
            const double bv = b[p + j * ldb];
            for (int i = 0; i < m; i++)
                c[i + j * ldc] += a[i + p * lda] * bv;
        }
}

// Kernel creation: the corpus's kernels generated (not run), best of 30 rounds, per kernel. The
// generator's speed is part of a first call's cost.
static int gen_time(xw_target t)
{
    static xw_desc list[CORPUS_MAX];
    const int n = corpus_list(list);
    uint8_t *code = malloc(CODE_CAP);
    double best = INFINITY, bytes = 0;
    for (int round = 0; round < 30; round++) {
        const double t0 = now_ns();
        bytes = 0;
        for (int i = 0; i < n; i++) {
            xw_code c = { .buf = code, .cap = CODE_CAP, .len = 0, .err = XW_OK };
            size_t entry;
            if (xw_gen_gemm(&list[i], t, &c, &entry) != XW_OK) { printf("%d: generation failed\n", i); return 1; }
            bytes += (double)c.len;
        }
        best = fmin(best, now_ns() - t0);
    }
    printf("%s: %d kernels, %.0f bytes: %.0f ns per kernel (best of 30 rounds)\n",
           t == XW_TARGET_AVX512 ? "avx512" : "avx2", n, bytes, best / n);
    free(code);
    return 0;
}

static int bench(xw_target t, xw_prec prec, int ta, int tb)
{
    static const int all_sizes[] = { 4, 8, 16, 23, 32, 64 };
    const int *sizes = all_sizes;
    int nsizes = 6;
    const char *env = getenv("TEST_GEN_BENCH_SIZES");  // e.g. "5,7,9"
    int custom[16];
    if (env) {
        nsizes = 0;
        for (const char *q = env; *q && nsizes < 16; q = *q ? q + 1 : q) {
            custom[nsizes++] = (int)strtol(q, (char **)&q, 10);
        }
        sizes = custom;
    }
    uint8_t *code = malloc(CODE_CAP);
    printf("%-8s %10s %10s %10s %10s %8s\n", "shape", "jit ns", "jit GF/s", "C ns", "C GF/s", "bytes");
    for (int s = 0; s < nsizes; s++) {
        const int z = sizes[s];
        if (z < 1 || z > 64) continue;
        xw_desc d = mk(prec, ta, tb, z, z, z, 0, 0, 0, XW_SCALE_ONE, XW_SCALE_ONE);
        xw_code c = { .buf = code, .cap = CODE_CAP, .len = 0, .err = XW_OK };
        size_t entry;
        if (xw_gen_gemm(&d, t, &c, &entry) != XW_OK) { printf("%d: generation failed\n", z); return 1; }
        exec_code ex;
        if (!exec_install(&ex, c.buf, c.len, entry)) return 1;
        double *a = aligned_alloc(64, 64 * 64 * 8), *b = aligned_alloc(64, 64 * 64 * 8), *cm = aligned_alloc(64, 64 * 64 * 8);
        for (int i = 0; i < 64 * 64; i++) {
            a[i] = rnd_val();
            b[i] = rnd_val();
            cm[i] = 0;
        }
        const double one = 1.0, flops = 2.0 * z * z * z;
        const float onef = 1.0f;
        const void *al = prec == XW_F64 ? (const void *)&one : (const void *)&onef;
        const long reps = (long)(2e7 / flops) + 10;
        double best_jit = INFINITY, best_c = INFINITY;  // best of many short runs: other load only slows
        for (int trial = 0; trial < 40; trial++) {
            double t0 = now_ns();
            for (long r = 0; r < reps; r++) ex.fn(a, b, cm, al, al, &d);
            double t1 = now_ns();
            for (long r = 0; r < reps; r++) naive_dgemm(z, z, z, a, z, b, z, cm, z);
            double t2 = now_ns();
            best_jit = fmin(best_jit, (t1 - t0) / reps);
            best_c = fmin(best_c, (t2 - t1) / reps);
        }
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%dx%d", z, z, z);
        printf("%-8s %10.1f %10.2f %10.1f %10.2f %8zu\n", shape, best_jit, flops / best_jit, best_c, flops / best_c,
               c.len - entry);
        exec_free(&ex);
        free(a);
        free(b);
        free(cm);
    }
    free(code);
    return 0;
}

int main(int argc, char **argv)
{
    bool want[3] = { false, true, true }, quick = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "avx2")) { want[XW_TARGET_AVX512] = false; }
        else if (!strcmp(argv[i], "avx512")) { want[XW_TARGET_AVX2] = false; }
        else if (!strcmp(argv[i], "quick")) quick = true;
        else if (!strcmp(argv[i], "gentime"))
            return gen_time(i + 1 < argc && !strcmp(argv[i + 1], "avx512") ? XW_TARGET_AVX512 : XW_TARGET_AVX2);
        else if (!strcmp(argv[i], "emit") && i + 2 < argc)
            return emit_corpus(!strcmp(argv[i + 1], "avx512") ? XW_TARGET_AVX512 : XW_TARGET_AVX2, argv[i + 2]);
        else if (!strcmp(argv[i], "bench")) {
            xw_target t = XW_TARGET_AVX2;
            xw_prec prec = XW_F64;
            int ta = 0, tb = 0;
            for (int j = i + 1; j < argc; j++) {
                if (!strcmp(argv[j], "avx512")) t = XW_TARGET_AVX512;
                if (!strcmp(argv[j], "f32")) prec = XW_F32;
                if (strlen(argv[j]) == 2 && strchr("nt", argv[j][0]) && strchr("nt", argv[j][1])) {
                    ta = argv[j][0] == 't';
                    tb = argv[j][1] == 't';
                }
            }
            return bench(t, prec, ta, tb);
        }
        else { fprintf(stderr, "usage: %s [avx2|avx512] [quick] | bench [avx512] | gentime [avx512] | emit avx2|avx512 DIR\n", argv[0]); return 2; }
    }
    have_objdump = system("objdump --version >/dev/null 2>&1") == 0;
    if (!have_objdump) printf("objdump not found: disassembly checks skipped\n");
    __builtin_cpu_init();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    long passed = 0, failed = 0;
    for (int t = XW_TARGET_AVX2; t <= XW_TARGET_AVX512; t++) {
        if (!want[t]) continue;
        ctx x;
        memset(&x, 0, sizeof x);
        x.ga = guarded_new();
        x.gb = guarded_new();
        x.gc = guarded_new();
        x.code = malloc(CODE_CAP);
        x.run = t == XW_TARGET_AVX2 ? __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                                    : __builtin_cpu_supports("avx512f");
        const long dis_failed0 = dis_failed, dis_checked0 = dis_checked;
        run_target(&x, (xw_target)t, quick);
        code_budget(&x, (xw_target)t);
        const char *tn = t == XW_TARGET_AVX2 ? "avx2" : "avx512";
        x.failed += dis_failed - dis_failed0;  // counted per bad instruction or kernel start
        printf("%s: %ld generated, %ld disassembled (%ld disassembly problems), %ld executed, worst error %.3f of "
               "tolerance, %ld declined\n",
               tn, x.passed + x.failed - (dis_failed - dis_failed0), dis_checked - dis_checked0, dis_failed - dis_failed0,
               x.passed + x.failed - x.skipped - (dis_failed - dis_failed0), x.worst, x.declined);
        if (x.skipped)
            printf("%s: %ld executions SKIPPED: this CPU lacks %s (generated and disassembled only)\n", tn, x.skipped,
                   tn);
        passed += x.passed;
        failed += x.failed + x.declined;
        free(x.code);
        free(x.dis.bytes);
    }
    printf("%ld passed, %ld failed\n", passed, failed);
    return failed ? 1 : 0;
}
