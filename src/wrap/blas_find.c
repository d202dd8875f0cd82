// blas_find.c: finds the original BLAS behind each intercepted name, once per symbol and
// thread-safely: XSMMWRAP_BLAS first, then dlsym(RTLD_NEXT), then every loaded object in load
// order (numpy's OpenBLAS is loaded RTLD_LOCAL, where RTLD_NEXT cannot see it). Never ourselves.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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

static void *own_base(void)
{
    Dl_info self;
    return dladdr((void *)&own_base, &self) ? self.dli_fbase : NULL;
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
    Dl_info where;
    const bool known = addr && dladdr(addr, &where);
    if (!addr || (known && where.dli_fbase == own_base()))
        return NULL;
    if (known && lp64_name(name) && ilp64_openblas(where.dli_fname))
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

static xw_fn resolve(const char *name)
{
    if (xw_cfg.blas_path) {
        static void *lib;
        if (!lib)
            lib = dlopen(xw_cfg.blas_path, RTLD_NOW | RTLD_LOCAL);
        xw_fn f = lib ? not_ours(dlsym(lib, name), name) : NULL;
        if (f)
            return f;
    }
    xw_fn f = not_ours(dlsym(RTLD_NEXT, name), name);
    return f ? f : search_loaded(name);
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

void xw_blas_init(void) { pthread_atfork(fork_lock, fork_unlock, fork_unlock); }

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
