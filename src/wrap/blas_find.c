// blas_find.c: finds the original BLAS behind each intercepted name, once per symbol and
// thread-safely: XSMMWRAP_BLAS first, then dlsym(RTLD_NEXT), then every loaded object in load
// order (numpy's OpenBLAS is loaded RTLD_LOCAL, where RTLD_NEXT cannot see it). Never ourselves,
// nor an ILP64 OpenBLAS's unsuffixed names; interpose.c hands in the slots' own originals.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wrap.h"

#define XW_SYM_NAME(name, PREC, T, I) #name,
static const char *const sym_names[XW_SYM_COUNT] = {
    XW_ALL_ENTRIES(XW_SYM_NAME) "xsmmwrap_gemm",
};
#undef XW_SYM_NAME
#define XW_GEMV_OF(name, PREC, T, I) [XW_SYM_##name] = XW_FAM_GEMV,
#define XW_SYRK_OF(name, PREC, T, I) [XW_SYM_##name] = XW_FAM_SYRK,
#define XW_BATCH_OF(name, PREC, T, I) [XW_SYM_##name] = XW_FAM_BATCH,
static const uint8_t sym_families[XW_SYM_COUNT] = {  // GEMM (0) unless listed
    XW_GEMV_ENTRIES(XW_GEMV_OF) XW_SYRK_ENTRIES(XW_SYRK_OF) XW_BATCH_ENTRIES(XW_BATCH_OF)
};
#undef XW_GEMV_OF
#undef XW_SYRK_OF
#undef XW_BATCH_OF
_Static_assert(XW_FAM_GEMM == 0, "unlisted names are GEMM's");

static _Atomic(xw_fn) found[XW_SYM_COUNT];
// dl_iterate_phdr's count of objects ever loaded when a search for the symbol found nothing:
// the search is repeated only after the process has loaded something new.
static unsigned long long missed_at[XW_SYM_COUNT];
static pthread_mutex_t find_lock = PTHREAD_MUTEX_INITIALIZER;

const char *xw_sym_name(xw_sym s) { return (unsigned)s < XW_SYM_COUNT ? sym_names[s] : "?"; }

xw_family xw_sym_family(xw_sym s)
{
    return (unsigned)s < XW_SYM_COUNT ? (xw_family)sym_families[s] : XW_FAM_GEMM;
}

// The object whose segments hold address a: the name the loader gave it ("" for the main
// program) and its load address. By segment ranges, not dladdr: dladdr also looks for the
// nearest symbol, which in OpenBLAS's symbol table took 110-140 us (Xeon family 6 model 167).
typedef struct {
    uintptr_t addr, base;
    char name[4096];
    bool found;
} object_query;

static int find_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    object_query *q = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        const uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && q->addr >= lo && q->addr - lo < ph->p_memsz) {
            snprintf(q->name, sizeof q->name, "%s", info->dlpi_name ? info->dlpi_name : "");
            q->base = info->dlpi_addr;
            q->found = true;
            return 1;
        }
    }
    return 0;
}

static bool object_name(const void *a, object_query *q)
{
    *q = (object_query){ .addr = (uintptr_t)a };
    if (a)
        dl_iterate_phdr(find_object, q);
    return q->found;
}

static void *own_base(void)
{
    object_query self;
    return object_name((const void *)&own_base, &self) ? (void *)self.base : NULL;
}

// An OpenBLAS built with 64-bit integers (USE64BITINT) exports some names unsuffixed: Debian's
// libopenblas64 all of them, numpy's wheel (0.3.31) its ?gemm_batch* ones. Such a definition
// is not the original of an LP64 name: it would read 32-bit integers as 64-bit ones.
static bool ilp64_openblas(const char *object)
{
    static const char *const config[] = { "openblas_get_config", "openblas_get_config64_",
                                          "scipy_openblas_get_config",
                                          "scipy_openblas_get_config64_" };
    void *h = object ? dlopen(object, RTLD_LAZY | RTLD_NOLOAD) : NULL;
    bool wide = false;
    for (size_t i = 0; h && i < sizeof config / sizeof *config && !wide; i++) {
        void *f = dlsym(h, config[i]);
        const char *(*get)(void);
        memcpy(&get, &f, sizeof get);
        const char *text = f ? get() : NULL;
        wide = text && strstr(text, "USE64BITINT");
    }
    if (h)
        dlclose(h);
    return wide;
}

static bool lp64_name(const char *name)
{
    const size_t n = strlen(name);
    return n < 3 || strcmp(name + n - 3, "64_") != 0;
}

static xw_fn not_ours(void *addr, const char *name)
{
    object_query where;
    const bool known = addr && object_name(addr, &where);
    if (!addr || (known && (void *)where.base == own_base()))
        return NULL;
    if (known && lp64_name(name) && ilp64_openblas(where.name))
        return NULL;
    xw_fn f;
    memcpy(&f, &addr, sizeof f);  // POSIX: a dlsym result converts to a function pointer
    return f;
}

typedef struct {
    char *names[512];
    int count;
    void *self;
} object_list;

static int collect(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    object_list *l = data;
    if (l->count < 512 && info->dlpi_name && info->dlpi_name[0] && (void *)info->dlpi_addr != l->self)
        l->names[l->count++] = strdup(info->dlpi_name);
    return 0;
}

// dlopen is not called from inside dl_iterate_phdr's callback, which holds the loader's lock.
static xw_fn search_loaded(const char *name)
{
    object_list l = { .count = 0, .self = own_base() };
    dl_iterate_phdr(collect, &l);
    xw_fn f = NULL;
    for (int i = 0; i < l.count; i++) {
        void *h = f ? NULL : dlopen(l.names[i], RTLD_LAZY | RTLD_NOLOAD);
        if (h) {
            f = not_ours(dlsym(h, name), name);
            dlclose(h);
        }
        free(l.names[i]);
    }
    return f;
}

static void *named_lib;  // XSMMWRAP_BLAS, loaded at init (xw_blas_init)

static bool object_path(void *a, char out[4096]);
static void *address_of(xw_fn f);

static xw_fn resolve(const char *name)
{
    xw_fn f = named_lib ? not_ours(dlsym(named_lib, name), name) : NULL;
    if (f)
        return f;
    f = not_ours(dlsym(RTLD_NEXT, name), name);
    f = f ? f : search_loaded(name);
    // XSMMWRAP_BLAS named a library without this name, and another serves it: said once. (With
    // none, the abort's message names XSMMWRAP_BLAS.)
    static bool said;
    char path[4096];
    if (named_lib && f && !said && object_path(address_of(f), path)) {
        said = true;
        char why[4096 + 160];
        snprintf(why, sizeof why, "it has no %s (or it is this library): %s's serves it", name, path);
        xw_report_unusable("XSMMWRAP_BLAS", xw_cfg.blas_path, why);
    }
    return f;
}

static int read_adds(struct dl_phdr_info *info, size_t size, void *data)
{
    if (size >= offsetof(struct dl_phdr_info, dlpi_adds) + sizeof info->dlpi_adds)
        *(unsigned long long *)data = info->dlpi_adds;
    return 1;  // the counter is the same in every entry: the first is enough
}

static unsigned long long objects_loaded(void)
{
    unsigned long long adds = 0;
    dl_iterate_phdr(read_adds, &adds);
    return adds;
}

// fork(): held across it, so no child inherits it taken by a thread it does not have.
static void fork_lock(void) { pthread_mutex_lock(&find_lock); }
static void fork_unlock(void) { pthread_mutex_unlock(&find_lock); }

// XSMMWRAP_BLAS is loaded now, so that a name that loads nothing is said at once rather than
// silently passed over at the first call declined.
void xw_blas_init(void)
{
    pthread_atfork(fork_lock, fork_unlock, fork_unlock);
    if (xw_cfg.blas_path && !(named_lib = dlopen(xw_cfg.blas_path, RTLD_NOW | RTLD_LOCAL))) {
        const char *err = dlerror();
        char why[600];
        snprintf(why, sizeof why, "cannot be loaded (%s): the original BLAS is looked for as without it",
                 err ? err : "dlopen failed");
        xw_report_unusable("XSMMWRAP_BLAS", xw_cfg.blas_path, why);
    }
}

xw_fn xw_blas_try(xw_sym s)
{
    xw_fn f = atomic_load_explicit(&found[s], memory_order_acquire);
    if (XW_LIKELY(f != NULL))
        return f;
    xw_init();
    pthread_mutex_lock(&find_lock);
    f = atomic_load_explicit(&found[s], memory_order_relaxed);
    const unsigned long long adds = f ? 0 : objects_loaded();
    if (!f && (adds == 0 || adds != missed_at[s])) {
        f = resolve(sym_names[s]);
        atomic_store_explicit(&found[s], f, memory_order_release);
        missed_at[s] = f ? 0 : adds;
    }
    pthread_mutex_unlock(&find_lock);
    return f;
}

// interpose.c knows the original exactly: the value of the slot it redirects.
void xw_blas_set(xw_sym s, xw_fn f)
{
    pthread_mutex_lock(&find_lock);
    if (f && !atomic_load_explicit(&found[s], memory_order_relaxed))
        atomic_store_explicit(&found[s], f, memory_order_release);
    pthread_mutex_unlock(&find_lock);
}

xw_fn xw_blas_get(xw_sym s)
{
    xw_fn f = xw_blas_try(s);
    if (XW_UNLIKELY(!f))
        xw_report_no_blas(sym_names[s]);
    return f;
}

// The function's address as a data pointer (POSIX: they convert), for object_name.
static void *address_of(xw_fn f)
{
    void *p;
    memcpy(&p, &f, sizeof p);
    return p;
}

// The object holding address a, by its real path; false when there is none.
static bool object_path(void *a, char out[4096])
{
    object_query q;
    if (!object_name(a, &q))
        return false;
    // The main program comes without a path (its name "", or a bare name).
    const char *name = q.name[0] && strchr(q.name, '/') ? q.name : "/proc/self/exe";
    char real[PATH_MAX];
    snprintf(out, 4096, "%s", realpath(name, real) ? real : name);
    return true;
}

bool xw_blas_identify(xw_fn f, xw_blas_id *out)
{
    memset(out, 0, sizeof *out);
    object_query where;
    if (!f || !object_name(address_of(f), &where) || !object_path(address_of(f), out->path))
        return false;
    // Debian's libblas.so.3 of OpenBLAS defines dgemm_ itself and calls libopenblas.so.0: both
    // are that OpenBLAS, which identifies the BLAS by its own library and its account of itself.
    void *h = where.name[0] ? dlopen(where.name, RTLD_LAZY | RTLD_NOLOAD) : NULL;
    void *config = h ? dlsym(h, "openblas_get_config") : NULL;
    void *core = h ? dlsym(h, "openblas_get_corename") : NULL;
    void *blis = h ? dlsym(h, "bli_info_get_version_str") : NULL;
    if (config) {
        const char *(*get_config)(void), *(*get_core)(void) = NULL;
        memcpy(&get_config, &config, sizeof config);
        if (core)
            memcpy(&get_core, &core, sizeof core);
        snprintf(out->config, sizeof out->config, "%s; core %s", get_config(), get_core ? get_core() : "?");
        object_path(config, out->path);
    } else if (blis) {
        const char *(*get_version)(void);
        memcpy(&get_version, &blis, sizeof blis);
        snprintf(out->config, sizeof out->config, "BLIS %s", get_version());
        object_path(blis, out->path);
    }
    if (h)
        dlclose(h);
    struct stat st;
    out->bytes = stat(out->path, &st) == 0 ? (long long)st.st_size : -1;
    return true;
}

int xw_blas_objects(char (*out)[4096], xw_sym_set *symbols, int n)
{
    int count = 0;
    for (int s = 0; s < XW_SYM_COUNT; s++) {
        char here[4096];
        const xw_fn f = atomic_load_explicit(&found[s], memory_order_acquire);
        if (!f || !object_path(address_of(f), here))
            continue;
        int i = 0;
        while (i < count && strcmp(out[i], here))
            i++;
        if (i == count) {
            if (count == n)
                continue;
            memcpy(out[count], here, sizeof here);
            symbols[count++] = (xw_sym_set){ { 0 } };
        }
        symbols[i].w[s / 64] |= (uint64_t)1 << (s % 64);
    }
    return count;
}
