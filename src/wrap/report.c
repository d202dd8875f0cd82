// report.c: everything the library prints: the LIBXSMM_VERBOSE report at exit (stderr), a line
// per kernel created at level 3, the JSON statistics, one line per setting it cannot use (at
// init; a tuning file's BLAS is checked at the first call it routes), and the one fatal message.
#define _GNU_SOURCE  // program_invocation_name (errno.h)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "wrap.h"

static int verbosity(void) { return xw_cfg.verbosity; }

void xw_report_kernel_created(const xw_kernel *k)
{
    if (verbosity() < 3)
        return;
    char name[128];
    xw_kernel_name(k, name, sizeof name);
    fprintf(stderr, "xsmmwrap: kernel %u %s (%u bytes)\n", k->id, name, k->code_bytes);
}

void xw_report_no_blas(const char *symbol)
{
    fprintf(stderr,
            "xsmmwrap: no original BLAS provides %s for a call the wrapper does not serve; "
            "link or preload a BLAS library, or set XSMMWRAP_BLAS=/path/to/libblas.so\n",
            symbol);
    abort();
}

static double pct(uint64_t part, uint64_t whole) { return whole ? 100.0 * (double)part / (double)whole : 0.0; }

// The libraries that served the originals resolved so far (the first 8), each with its symbols.
typedef struct {
    char path[8][4096];
    xw_sym_set syms[8];
    int n;
} blas_objects;

static void read_blas_objects(blas_objects *o)
{
    o->n = xw_blas_objects(o->path, o->syms, (int)(sizeof o->syms / sizeof *o->syms));
}

// The symbols of object i, separated by ", ", each between quote characters.
static void print_blas_symbols(FILE *f, const blas_objects *o, int i, const char *quote)
{
    const char *sep = "";
    for (int s = 0; s < XW_SYM_COUNT; s++)
        if (xw_sym_set_has(&o->syms[i], s)) {
            fprintf(f, "%s%s%s%s", sep, quote, xw_sym_name((xw_sym)s), quote);
            sep = ", ";
        }
}

// Which BLAS got the calls passed on.
static void print_blas(FILE *f)
{
    static blas_objects o;  // (32 KiB of paths: not on the stack)
    read_blas_objects(&o);
    for (int i = 0; i < o.n; i++) {
        fprintf(f, "  %-18s %s (", i ? "" : "original library:", o.path[i]);
        print_blas_symbols(f, &o, i, "");
        fprintf(f, ")\n");
    }
}

// The tuning file, when one was read: in use (and how many calls followed it) or why not.
static void print_tune(FILE *f, const xsmmwrap_stats *st, const xw_stats_snapshot *s)
{
    xsmmwrap_config c;
    xw_tune_config(&c);
    if (c.tune_state == XSMMWRAP_TUNE_NONE)
        return;
    if (c.tune_state == XSMMWRAP_TUNE_IGNORED) {
        fprintf(f, "  tuning file:       %s: ignored (%s)\n", c.tune_file, c.tune_reason);
        return;
    }
    const uint64_t blas = s->route[XSMMWRAP_ROUTE_TUNED_BLAS];
    fprintf(f, "  tuning file:       %s (%lld descriptors, %lld routed otherwise): %llu calls followed it "
               "(%llu kernel, %llu original BLAS)\n", c.tune_file, (long long)c.tune_entries,
            (long long)c.tune_moved, (unsigned long long)st->tuned_calls,
            (unsigned long long)(st->tuned_calls - blas), (unsigned long long)blas);
}

static void print_summary(FILE *f, const xw_stats_snapshot *s)
{
    xsmmwrap_stats st;
    xsmmwrap_get_stats(&st);
    // Every count from the one snapshot, so that the three lines add up to the calls.
    uint64_t calls = 0;
    for (int r = 0; r < XSMMWRAP_ROUTE_COUNT; r++)
        calls += s->route[r];
    const uint64_t kernel = s->route[XSMMWRAP_ROUTE_JIT] + s->route[XSMMWRAP_ROUTE_PORTABLE];
    const uint64_t scale = s->route[XSMMWRAP_ROUTE_SCALE], original = calls - kernel - scale;
    fprintf(f, "xsmmwrap %s: target %s (cpu %s), kernels for M*N*K <= %lld\n", xsmmwrap_version(),
            xsmmwrap_target_name(xw_cfg.target), xsmmwrap_target_name(xw_cfg.cpu_target),
            (long long)xw_cfg.max_mnk);
    fprintf(f, "  calls intercepted: %llu\n", (unsigned long long)st.calls);
    if (st.family_calls[XSMMWRAP_FAMILY_GEMM] != st.calls) {
        // Other families: the lines below count products (a batch call has many).
        fprintf(f, "  products:          %llu:", (unsigned long long)calls);
        const char *sep = " ";
        for (int i = 0; i < XSMMWRAP_FAMILY_COUNT; i++) {
            if (!st.family_calls[i])
                continue;
            fprintf(f, "%s%s %llu", sep, xsmmwrap_family_name(i),
                    (unsigned long long)st.family_products[i]);
            if (i == XSMMWRAP_FAMILY_BATCH)
                fprintf(f, " in %llu calls", (unsigned long long)st.family_calls[i]);
            sep = ", ";
        }
        fputc('\n', f);
    }
    fprintf(f, "  kernel path:       %llu (%.1f%%): jit %llu, portable %llu\n",
            (unsigned long long)kernel, pct(kernel, calls),
            (unsigned long long)s->route[XSMMWRAP_ROUTE_JIT],
            (unsigned long long)s->route[XSMMWRAP_ROUTE_PORTABLE]);
    fprintf(f, "  scale (no kernel): %llu (%.1f%%)\n", (unsigned long long)scale,
            pct(scale, calls));
    fprintf(f, "  original BLAS:     %llu (%.1f%%)", (unsigned long long)original,
            pct(original, calls));
    const char *sep = ": ";
    for (int r = 0; r < XSMMWRAP_ROUTE_COUNT; r++) {
        if (xw_route_served((xsmmwrap_route)r) || !s->route[r])
            continue;
        fprintf(f, "%s%s %llu", sep, xsmmwrap_route_name(r), (unsigned long long)s->route[r]);
        sep = ", ";
    }
    fprintf(f, "\n");
    print_blas(f);
    print_tune(f, &st, s);
    fprintf(f, "  kernels:           %llu (%llu generated, %llu generation failures)\n",
            (unsigned long long)st.kernels, (unsigned long long)st.jit_kernels,
            (unsigned long long)st.jit_failures);
    fprintf(f, "  memory:            %.1f KiB (code %.1f KiB)\n", (double)st.memory_bytes / 1024.0,
            (double)st.code_bytes / 1024.0);
}

static void print_kernels(FILE *f, const xw_stats_snapshot *s)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < s->kernel_count; i++)
        total += s->kernel[i];
    fprintf(f, "  %-48s %12s %7s %10s\n", "kernel", "calls", "share", "GFLOP");
    const uint32_t n = xw_reg_count();
    for (uint32_t i = 0; i < n; i++) {
        xsmmwrap_kernel_info ki;
        const xw_kernel *k = xw_reg_at(i);
        xw_kernel_info(k, s, &ki);
        char name[128];
        xw_kernel_name(k, name, sizeof name);
        fprintf(f, "  %-48s %12llu %6.1f%% %10.3f%s\n", name, (unsigned long long)ki.calls,
                pct(ki.calls, total), ki.gflop, ki.tuned ? "  tuned" : "");
    }
}

// s as a JSON string: quotes, backslashes and control characters escaped.
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

// "tune": the tuning file and the calls that followed it.
static void json_tune(FILE *f, const xsmmwrap_stats *st, const xw_stats_snapshot *s)
{
    xsmmwrap_config c;
    xw_tune_config(&c);
    static const char *const states[] = { "none", "in use", "ignored" };
    fprintf(f, "  \"tune\": {\"file\": ");
    if (c.tune_file)
        json_string(f, c.tune_file);
    else
        fprintf(f, "null");
    fprintf(f, ", \"state\": \"%s\", \"reason\": ", states[c.tune_state]);
    json_string(f, c.tune_reason);
    fprintf(f, ", \"entries\": %lld, \"moved\": %lld, \"calls\": %llu, \"blas_calls\": %llu},\n",
            (long long)c.tune_entries, (long long)c.tune_moved, (unsigned long long)st->tuned_calls,
            (unsigned long long)s->route[XSMMWRAP_ROUTE_TUNED_BLAS]);
}

// "original_blas": the libraries behind the originals resolved, with their symbols.
static void json_blas(FILE *f)
{
    static blas_objects o;
    read_blas_objects(&o);
    fprintf(f, "  \"original_blas\": [");
    for (int i = 0; i < o.n; i++) {
        fprintf(f, "%s{\"path\": ", i ? ", " : "");
        json_string(f, o.path[i]);
        fprintf(f, ", \"symbols\": [");
        print_blas_symbols(f, &o, i, "\"");
        fprintf(f, "]}");
    }
    fprintf(f, "]");
}

// numpy's name of the element type: f64, f32, c128 (zgemm), c64 (cgemm).
static void precision_text(const xsmmwrap_kernel_info *k, char *out, size_t n)
{
    snprintf(out, n, "%c%d", k->is_complex ? 'c' : 'f', k->precision);
}

int xw_report_json(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return XSMMWRAP_EIO;
    xw_stats_snapshot s;
    xw_stats_read(&s);
    xsmmwrap_stats st;
    xsmmwrap_get_stats(&st);
    fprintf(f, "{\n  \"version\": \"%s\",\n  \"target\": \"%s\",\n  \"cpu_target\": \"%s\",\n",
            xsmmwrap_version(), xsmmwrap_target_name(xw_cfg.target),
            xsmmwrap_target_name(xw_cfg.cpu_target));
    fprintf(f, "  \"pid\": %ld,\n  \"program\": ", (long)getpid());
    json_string(f, program_invocation_name);
    fprintf(f, ",\n");
    fprintf(f, "  \"intercepted\": %llu,\n  \"calls\": %llu,\n  \"families\": {",
            (unsigned long long)st.intercepted, (unsigned long long)st.calls);
    for (int i = 0; i < XSMMWRAP_FAMILY_COUNT; i++)
        fprintf(f, "%s\"%s\": {\"calls\": %llu, \"products\": %llu}", i ? ", " : "",
                xsmmwrap_family_name(i), (unsigned long long)st.family_calls[i],
                (unsigned long long)st.family_products[i]);
    fprintf(f, "},\n  \"routes\": {");
    for (int r = 0; r < XSMMWRAP_ROUTE_COUNT; r++)
        fprintf(f, "%s\"%s\": %llu", r ? ", " : "", xsmmwrap_route_name(r), (unsigned long long)s.route[r]);
    fprintf(f, "},\n  \"symbols\": {");
    const char *sep = "";
    for (int i = 0; i < XW_SYM_COUNT; i++) {
        if (!s.sym[i])
            continue;
        fprintf(f, "%s\"%s\": %llu", sep, xw_sym_name((xw_sym)i), (unsigned long long)s.sym[i]);
        sep = ", ";
    }
    fprintf(f, "},\n  \"kernels\": [");
    const uint32_t n = xw_reg_count();
    for (uint32_t i = 0; i < n; i++) {
        xsmmwrap_kernel_info k;
        xw_kernel_info(xw_reg_at(i), &s, &k);
        char precision[8];
        precision_text(&k, precision, sizeof precision);
        fprintf(f,
                "%s\n    {\"precision\": \"%s\", \"trans_a\": \"%c\", \"trans_b\": \"%c\", "
                "\"m\": %lld, \"n\": %lld, \"k\": %lld, \"lda\": %lld, \"ldb\": %lld, \"ldc\": %lld, "
                "\"alpha\": \"%s\", \"beta\": \"%s\", \"jit\": %s, \"target\": \"%s\", "
                "\"code_bytes\": %llu, \"calls\": %llu, \"gflop\": %.6f, \"mb_max\": %d, "
                "\"nb_max\": %d, \"tuned\": %s}",
                i ? "," : "", precision, k.trans_a, k.trans_b, (long long)k.m, (long long)k.n,
                (long long)k.k, (long long)k.lda, (long long)k.ldb, (long long)k.ldc,
                xsmmwrap_scale_name(k.alpha_class), xsmmwrap_scale_name(k.beta_class), k.jit ? "true" : "false",
                k.jit ? xsmmwrap_target_name(k.target) : "portable",
                (unsigned long long)k.code_bytes, (unsigned long long)k.calls, k.gflop, k.mb_max,
                k.nb_max, k.tuned ? "true" : "false");
    }
    fprintf(f, "%s],\n  \"memory\": {\"code_bytes\": %llu, \"total_bytes\": %llu},\n", n ? "\n  " : "",
            (unsigned long long)st.code_bytes, (unsigned long long)st.memory_bytes);
    fprintf(f, "  \"jit_failures\": %llu,\n", (unsigned long long)st.jit_failures);
    json_tune(f, &st, &s);
    json_blas(f);
    fprintf(f, "\n}\n");
    xw_stats_free(&s);
    return fclose(f) == 0 ? XSMMWRAP_OK : XSMMWRAP_EIO;
}

// XSMMWRAP_STATS_JSON with each "%p" replaced by the process id, so that every process of a
// run (children, MPI ranks) writes its own file; false when it does not fit.
static bool stats_json_path(char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = xw_cfg.stats_json; *p; p++) {
        const int w = p[0] == '%' && p[1] == 'p' ? snprintf(out + o, n - o, "%ld", (long)getpid())
                                                 : snprintf(out + o, n - o, "%c", *p);
        if (w < 0 || (size_t)w >= n - o)
            return false;
        o += (size_t)w;
        p += p[0] == '%' && p[1] == 'p';
    }
    return true;
}

void xw_report_unusable(const char *name, const char *value, const char *why)
{
    fprintf(stderr, "xsmmwrap: %s=%s ignored: %s\n", name, value, why);
}

void xw_report_tune_ignored(const char *path, const char *why)
{
    fprintf(stderr, "xsmmwrap: tuning file %s ignored: %s; the default routing is used\n", path, why);
}

void xw_report_settings(void)
{
    if (xw_cfg.bad_name)
        fprintf(stderr, "xsmmwrap: %s=%s not understood, its default is used (see the README)\n",
                xw_cfg.bad_name, xw_cfg.bad_value);
    for (int i = 0; i < xw_cfg.nunusable; i++)
        xw_report_unusable(xw_cfg.unusable[i].name, xw_cfg.unusable[i].value, xw_cfg.unusable[i].why);
}

void xw_report_at_exit(void)
{
    xsmmwrap_stats st;
    xsmmwrap_get_stats(&st);
    if (st.calls == 0)  // (a child forked after the first call counts its own calls only)
        return;
    char path[4096];
    if (xw_cfg.stats_json && (!stats_json_path(path, sizeof path) || xw_report_json(path) != XSMMWRAP_OK))
        fprintf(stderr, "xsmmwrap: could not write %s\n", xw_cfg.stats_json);
    if (verbosity() == 0)
        return;
    xw_stats_snapshot s;
    xw_stats_read(&s);
    print_summary(stderr, &s);
    if (verbosity() >= 2 || verbosity() < 0)
        print_kernels(stderr, &s);
    xw_stats_free(&s);
}

// Runs at exit (or unload) only when the library was used: a process that never called GEMM
// prints nothing, writes nothing and initialises nothing.
__attribute__((destructor)) static void report_destructor(void)
{
    if (xw_initialized())
        xw_report_at_exit();
}
