// sample_util.c: timers, progress, test data, checks and the wrapper's statistics for the
// sample programs. Calls libxsmmwrap's public API only (through dlsym unless linked statically).
#define _GNU_SOURCE
#include "sample_util.h"

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xsmmwrap.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define SAMPLE_HAVE_TSC 1
#else
#define SAMPLE_HAVE_TSC 0
#endif

double sample_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

uint64_t sample_cycles(void)
{
#if SAMPLE_HAVE_TSC
    return __rdtsc();
#else
    return 0;
#endif
}

int sample_has_cycles(void) { return SAMPLE_HAVE_TSC; }

// Progress waits 2 s before the first line so that short runs (and all runs whose stderr is a
// file or a pipe) print nothing extra; it then redraws one line at most four times a second.
// A driver running several variants names the current one in SAMPLE_PROGRESS_LABEL; tests
// shorten the wait with SAMPLE_PROGRESS_DELAY (seconds).
void sample_progress_label(sample_progress *p, const char *label)
{
    const char *prefix = getenv("SAMPLE_PROGRESS_LABEL");
    snprintf(p->label, sizeof p->label, "%s%s%s", prefix ? prefix : "", prefix ? ": " : "", label);
    p->since = sample_seconds();
}

void sample_progress_begin(sample_progress *p, const char *label)
{
    const char *delay = getenv("SAMPLE_PROGRESS_DELAY");
    sample_progress_label(p, label);
    p->delay = delay && *delay ? atof(delay) : 2.0;
    p->start = p->since;
    p->last = p->start - 1.0;
    p->tty = isatty(STDERR_FILENO);
    p->shown = 0;
}

void sample_progress_update(sample_progress *p, double done, double total)
{
    if (!p->tty)
        return;
    const double now = sample_seconds();
    if (now - p->start < p->delay || now - p->last < 0.25)
        return;
    p->last = now;
    p->shown = 1;
    const double frac = total > 0 ? done / total : 0.0;
    const double left = frac > 0 ? (now - p->since) * (1.0 - frac) / frac : 0.0;
    fprintf(stderr, "\r%s: %5.1f%% (%.0f s left)  ", p->label, 100.0 * frac, left);
    fflush(stderr);
}

void sample_progress_end(sample_progress *p)
{
    if (p->shown) {
        fprintf(stderr, "\r%*s\r", (int)strlen(p->label) + 30, "");
        fflush(stderr);
    }
    p->shown = 0;
}

void sample_rng_seed(sample_rng *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    if (!r->s)
        r->s = 1;
}

uint64_t sample_rng_next(sample_rng *r)  // xorshift64*
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

double sample_rng_uniform(sample_rng *r)
{
    return 2.0 * (double)(sample_rng_next(r) >> 11) * 0x1.0p-53 - 1.0;
}

int sample_rng_int(sample_rng *r, int lo, int hi)
{
    return lo + (int)(sample_rng_next(r) % (uint64_t)(hi - lo + 1));
}

void sample_fill_uniform(sample_rng *r, double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = sample_rng_uniform(r);
}

void sample_fill_small_int(sample_rng *r, double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (double)sample_rng_int(r, -2, 2);
}

double sample_rel_diff(const double *got, const double *ref, size_t n)
{
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs(got[i] - ref[i]);
        if (!(d <= diff))  // also catches NaN
            diff = isnan(d) ? INFINITY : d;
        if (fabs(ref[i]) > scale)
            scale = fabs(ref[i]);
    }
    return diff / (scale > 1e-300 ? scale : 1.0);
}

typedef int stats_fn(xsmmwrap_stats *);
typedef int reset_fn(void);

#ifdef SAMPLE_STATIC_WRAP
// Linked with libxsmmwrap.a (ld --wrap): the API is part of this program.
static stats_fn *find_stats(void) { return xsmmwrap_get_stats; }
static reset_fn *find_reset(void) { return xsmmwrap_reset_stats; }
#else
static void *find(const char *name) { return dlsym(RTLD_DEFAULT, name); }
static stats_fn *find_stats(void)
{
    stats_fn *f;
    void *p = find("xsmmwrap_get_stats");
    memcpy(&f, &p, sizeof f);  // POSIX: a dlsym result converts to a function pointer
    return f;
}
static reset_fn *find_reset(void)
{
    reset_fn *f;
    void *p = find("xsmmwrap_reset_stats");
    memcpy(&f, &p, sizeof f);
    return f;
}
#endif

void sample_wrapper_get(sample_wrapper_stats *out)
{
    memset(out, 0, sizeof *out);
    stats_fn *get = find_stats();
    xsmmwrap_stats s;
    if (!get || get(&s) != XSMMWRAP_OK)
        return;
    out->loaded = 1;
    out->intercepted = s.intercepted;
    out->jit_calls = s.by_route[XSMMWRAP_ROUTE_JIT];
    out->portable_calls = s.by_route[XSMMWRAP_ROUTE_PORTABLE];
    out->kernel_calls = out->jit_calls + out->portable_calls;
    out->kernels = s.kernels;
    out->jit_kernels = s.jit_kernels;
}

int sample_wrapper_reset(void)
{
    reset_fn *reset = find_reset();
    return reset ? reset() : -1;
}

void sample_wrapper_print(FILE *f)
{
    sample_wrapper_stats w;
    sample_wrapper_get(&w);
    if (!w.loaded) {
#ifdef SAMPLE_PEER_WRAP  // linked with another library's call wrapper
        fprintf(f, "wrapper: not loaded (linked with %s instead)\n", SAMPLE_PEER_WRAP);
#else
        fprintf(f, "wrapper: not loaded (run through `xsmmwrap run`)\n");
#endif
        return;
    }
    const double share = w.intercepted ? 100.0 * (double)w.kernel_calls / (double)w.intercepted : 0.0;
    fprintf(f,
            "wrapper: %llu GEMM calls intercepted, %.1f%% on the kernel path "
            "(jit %llu, portable %llu; %llu kernels, %llu generated)\n",
            (unsigned long long)w.intercepted, share, (unsigned long long)w.jit_calls,
            (unsigned long long)w.portable_calls, (unsigned long long)w.kernels,
            (unsigned long long)w.jit_kernels);
}

void sample_wrapper_print_stdout(void)
{
    sample_wrapper_print(stdout);
    fflush(stdout);
}

void sample_wrapper_json(FILE *f)
{
    sample_wrapper_stats w;
    sample_wrapper_get(&w);
    if (!w.loaded) {
        fprintf(f, "null");
        return;
    }
    fprintf(f,
            "{\"intercepted\": %llu, \"kernel_calls\": %llu, \"jit_calls\": %llu, "
            "\"portable_calls\": %llu, \"kernels\": %llu, \"jit_kernels\": %llu}",
            (unsigned long long)w.intercepted, (unsigned long long)w.kernel_calls,
            (unsigned long long)w.jit_calls, (unsigned long long)w.portable_calls,
            (unsigned long long)w.kernels, (unsigned long long)w.jit_kernels);
}

const char *sample_blas_core(void)
{
    typedef char *corename_fn(void);
    void *p = dlsym(RTLD_DEFAULT, "openblas_get_corename");
    if (!p)
        return NULL;
    corename_fn *f;
    memcpy(&f, &p, sizeof f);
    return f();
}

void sample_json_string(FILE *f, const char *s)
{
    if (!s) {
        fprintf(f, "null");
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        const unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}
