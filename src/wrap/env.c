// env.c: every environment variable the library reads, in one place, read once at init.
// Calls cpu.c to know what the CPU offers before honouring a requested target.
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wrap.h"

XW_HIDDEN xw_env xw_cfg;

static const char *bad_name, *bad_value;  // the first setting not understood

// The value of variable a, else of b (LIBXSMM's name); its name in *name.
static const char *env_named(const char *a, const char *b, const char **name)
{
    const char *v = getenv(a);
    *name = a;
    if (v && *v)
        return v;
    v = b ? getenv(b) : NULL;
    *name = b;
    return v && *v ? v : NULL;
}

static const char *env_first(const char *a, const char *b)
{
    const char *name;
    return env_named(a, b, &name);
}

static void not_understood(const char *name, const char *value)
{
    if (!bad_name) {
        bad_name = name;
        bad_value = value;
    }
}

static int64_t env_int(const char *a, const char *b, int64_t dflt, int64_t lo, int64_t hi)
{
    const char *name;
    const char *v = env_named(a, b, &name);
    if (!v)
        return dflt;
    char *end;
    long long x = strtoll(v, &end, 0);
    while (*end == ' ' || *end == '\t' || *end == '\n')
        end++;
    if (end == v || *end) {
        not_understood(name, v);
        return dflt;
    }
    return x < lo ? lo : x > hi ? hi : x;
}

// A request for a target the CPU lacks is lowered to what it has: running AVX-512 code on an
// AVX2 machine would fault, which is never what the user asked for.
static xw_target env_target(xw_target cpu)
{
    const char *name;
    const char *v = env_named("XSMMWRAP_TARGET", "LIBXSMM_TARGET", &name);
    if (!v)
        return cpu;
    // LIBXSMM's names too: older ISAs than AVX2 have no generator, so they mean the portable kernel.
    static const struct { const char *name; xw_target target; } names[] = {
        { "generic", XW_TARGET_GENERIC }, { "none", XW_TARGET_GENERIC }, { "0", XW_TARGET_GENERIC },
        { "sse", XW_TARGET_GENERIC }, { "sse3", XW_TARGET_GENERIC }, { "sse4", XW_TARGET_GENERIC },
        { "wsm", XW_TARGET_GENERIC }, { "avx", XW_TARGET_GENERIC }, { "snb", XW_TARGET_GENERIC },
        { "avx2", XW_TARGET_AVX2 }, { "hsw", XW_TARGET_AVX2 },
        { "avx512", XW_TARGET_AVX512 }, { "skx", XW_TARGET_AVX512 }, { "clx", XW_TARGET_AVX512 },
        { "cpx", XW_TARGET_AVX512 }, { "spr", XW_TARGET_AVX512 }, { "knl", XW_TARGET_AVX512 },
    };
    xw_target want = cpu;
    size_t i = 0;
    while (i < sizeof names / sizeof *names && strcasecmp(v, names[i].name))
        i++;
    if (i < sizeof names / sizeof *names)
        want = names[i].target;
    else
        not_understood(name, v);
    return want < cpu ? want : cpu;
}

static void unusable(xw_env *e, const char *name, const char *value, const char *why)
{
    if (e->nunusable < (int)(sizeof e->unusable / sizeof *e->unusable))
        e->unusable[e->nunusable++] = (struct xw_unusable){ name, value, why };
}

// XSMMWRAP_DUMP must be a directory we can write: otherwise nothing would be dumped, silently.
static const char *dump_dir(xw_env *e, const char *dir)
{
    struct stat st;
    const char *why = stat(dir, &st) != 0        ? "no such directory: no kernel is dumped"
                      : !S_ISDIR(st.st_mode)     ? "not a directory: no kernel is dumped"
                      : access(dir, W_OK | X_OK) ? "a directory this process cannot write: no kernel is dumped"
                                                 : NULL;
    if (!why)
        return dir;
    unusable(e, "XSMMWRAP_DUMP", dir, why);
    return NULL;
}

// The per-user cache file of this CPU: $XDG_CACHE_HOME (else $HOME/.cache)/xsmmwrap/ named by
// the CPU's identity, so that a home shared by machines of several kinds (a cluster's) keeps
// one file per kind and each machine finds its own. docs/TUNING.md.
static void tune_default(char *out, size_t n)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    xw_cpu_id id;
    xw_cpu_identify(&id);
    const char *isa = id.target == XW_TARGET_AVX512 ? "avx512" : id.target == XW_TARGET_AVX2 ? "avx2" : "generic";
    int w = -1;
    if (xdg && xdg[0] == '/')  // the XDG specification: a relative path is to be ignored
        w = snprintf(out, n, "%s/xsmmwrap/tune-%s-%d-%d-%d-%s.json", xdg, id.vendor, id.family, id.model,
                     id.stepping, isa);
    else if (home && *home)
        w = snprintf(out, n, "%s/.cache/xsmmwrap/tune-%s-%d-%d-%d-%s.json", home, id.vendor, id.family,
                     id.model, id.stepping, isa);
    if (w < 0 || (size_t)w >= n)
        out[0] = 0;
}

void xw_env_read(xw_env *out)
{
    static xw_env e;  // static: tune_default is large, and the strings stay for the process
    e.nunusable = 0;
    e.max_mnk = env_int("XSMMWRAP_MAX_MNK", NULL, 64 * 64 * 64, 0, INT64_MAX);
    e.max_side = cbrt((double)e.max_mnk);  // once: cbrt() per call cost a forwarded GEMV ~35 ns
    e.max_kernels = env_int("XSMMWRAP_MAX_KERNELS", NULL, 16384, 0, 1 << 24);
    e.disabled = env_int("XSMMWRAP_DISABLE", NULL, 0, 0, 1) != 0;
    e.jit = env_int("XSMMWRAP_JIT", NULL, 1, 0, 1) != 0;
    e.trylock = env_int("XSMMWRAP_TRYLOCK", "LIBXSMM_TRYLOCK", 0, 0, 1) != 0;
    e.cpu_target = xw_cpu_detect();
    e.target = e.jit ? env_target(e.cpu_target) : XW_TARGET_GENERIC;
    e.verbosity = (int)env_int("XSMMWRAP_VERBOSE", "LIBXSMM_VERBOSE", 0, -1000, 1000);
    e.stats_json = env_first("XSMMWRAP_STATS_JSON", NULL);
    e.dump_dir = env_first("XSMMWRAP_DUMP", NULL);
    if (!e.dump_dir && e.verbosity < 0)
        e.dump_dir = ".";
    if (e.dump_dir)
        e.dump_dir = dump_dir(&e, e.dump_dir);
    e.blas_path = env_first("XSMMWRAP_BLAS", NULL);
    // XSMMWRAP_TUNE: a file, or 0 for none; unset, the default cache file when there is one.
    tune_default(e.tune_default, sizeof e.tune_default);
    e.tune_path = env_first("XSMMWRAP_TUNE", NULL);
    if (e.tune_path && !strcmp(e.tune_path, "0"))
        e.tune_path = NULL;
    else if (!e.tune_path && e.tune_default[0] && access(e.tune_default, F_OK) == 0)
        e.tune_path = e.tune_default;
    e.bad_name = bad_name;
    e.bad_value = bad_value;
    *out = e;
}
