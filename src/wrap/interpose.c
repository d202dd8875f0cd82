// interpose.c: xsmmwrap_enable(), interposition inside a running process without LD_PRELOAD.
//
// A call from a shared object to dgemm_ goes through a slot the dynamic loader filled: a PLT
// slot (R_X86_64_JUMP_SLOT), a GOT entry read by -fno-plt code (R_X86_64_GLOB_DAT) or a
// function pointer in data (R_X86_64_64). Storing our entry point's address there redirects
// that object's calls; the value the slot held is the original, handed to blas_find.c so that
// declined calls reach exactly the function the object was bound to. Objects that define one
// of our names (the BLAS providers) are left alone: their internal calls would come back to
// us. disable() writes the saved values back. x86-64 only (the relocation types).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wrap.h"

#define XW_API __attribute__((visibility("default")))
#define N_ENTRY ((int)XW_SYM_API)  // the exported GEMM names (XW_SYM_API is not one)

typedef struct {  // one loaded object, as dl_iterate_phdr shows it
    uintptr_t base;    // l_addr
    const char *name;  // dlpi_name, interned ("" for the main program)
    const ElfW(Phdr) *phdr;
    int phnum;
} dso;

typedef struct {
    uintptr_t *slot;
    uintptr_t old, ours;
    uintptr_t base;      // of the object, to tell later whether it is still loaded
    const char *object;  // display name, interned
    xw_sym sym;
} patch;

typedef struct {
    const char *object, *reason;  // interned
} skip;

// Growable arrays; all state is guarded by `lock`.
#define VEC(T) struct { T *v; int n, cap; }
static VEC(patch) patches;
static VEC(skip) skips;
static VEC(dso) scanned;  // objects looked at since enable: a new pass skips them
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int enabled_flag;
static unsigned long long last_adds, last_subs;  // dl_iterate_phdr's load/unload counters
static uintptr_t ours[XW_SYM_COUNT];             // our exported entry points (0: none)

// fork(): `lock` is held across it, so no child inherits it taken (enable() holds it while it
// scans and patches). Registered after the original-BLAS finder's handler (xw_init), so that
// `lock` is taken before the finder's lock, as enable() takes them.
static void fork_lock(void) { pthread_mutex_lock(&lock); }
static void fork_unlock(void) { pthread_mutex_unlock(&lock); }

static void register_fork(void)
{
    xw_init();
    pthread_atfork(fork_lock, fork_unlock, fork_unlock);
}

static void take_lock(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_fork);
    pthread_mutex_lock(&lock);
}

static bool grow(void **v, int *cap, int n, size_t size)
{
    if (n < *cap)
        return true;
    int c = *cap ? 2 * *cap : 16;
    void *p = realloc(*v, (size_t)c * size);
    if (!p)
        return false;
    *v = p;
    *cap = c;
    return true;
}
#define PUSH(vec, ...)                                                     \
    (grow((void **)&(vec).v, &(vec).cap, (vec).n, sizeof *(vec).v)         \
         ? ((vec).v[(vec).n++] = (__VA_ARGS__), true) : false)

// Strings handed out by the API stay valid for the life of the process: object names and
// reasons are few, so they are interned and never freed.
typedef struct str_node {
    struct str_node *next;
    char s[];
} str_node;
static str_node *pool;

static const char *intern(const char *s)
{
    for (str_node *n = pool; n; n = n->next)
        if (!strcmp(n->s, s))
            return n->s;
    size_t len = strlen(s) + 1;
    str_node *n = malloc(sizeof *n + len);
    if (!n)
        return NULL;
    memcpy(n->s, s, len);
    n->next = pool;
    pool = n;
    return n->s;
}

static const char *display_name(const char *name)
{
    if (name[0])
        return name;
    static char exe[4096];  // the main program has an empty name in the loader's list
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = 0;
    return exe[0] ? exe : "(main program)";
}

// Bytes of o's image from addr to the end of its segment (0 when addr is outside): every
// address read below is checked against it, so an odd object is skipped, never a crash.
static size_t room_at(const dso *o, uintptr_t addr)
{
    for (int i = 0; i < o->phnum; i++) {
        const ElfW(Phdr) *p = &o->phdr[i];
        uintptr_t lo = o->base + p->p_vaddr;
        if (p->p_type == PT_LOAD && addr >= lo && addr - lo < p->p_memsz)
            return p->p_memsz - (addr - lo);
    }
    return 0;
}

static bool contains(const dso *o, uintptr_t addr, size_t len)
{
    size_t room = room_at(o, addr);
    return room && len <= room;
}

static void add_skip(const dso *o, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    skip s = { intern(display_name(o->name)), intern(text) };
    for (int i = 0; s.object && s.reason && i < skips.n; i++)
        if (skips.v[i].object == s.object && skips.v[i].reason == s.reason)
            return;
    if (s.object && s.reason)
        PUSH(skips, s);
}

typedef VEC(dso) dso_list;
typedef struct {
    dso_list *list;
    unsigned long long adds, subs;
    bool oom;
} collect_ctx;

// Runs under the loader's lock: copies, and calls nothing that may take that lock (dlopen).
static int collect(struct dl_phdr_info *info, size_t size, void *data)
{
    collect_ctx *c = data;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        c->adds = info->dlpi_adds;
        c->subs = info->dlpi_subs;
    }
    const char *name = intern(info->dlpi_name ? info->dlpi_name : "");
    if (!name || !PUSH(*c->list, (dso){ info->dlpi_addr, name, info->dlpi_phdr,
                                           info->dlpi_phnum }))
        c->oom = true;
    return 0;
}

// Only the counters, from the first object: iteration stops there.
static int counters(struct dl_phdr_info *info, size_t size, void *data)
{
    collect_ctx *c = data;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        c->adds = info->dlpi_adds;
        c->subs = info->dlpi_subs;
    }
    return 1;
}

static const dso *find_object(const dso_list *l, uintptr_t addr)
{
    for (int i = 0; i < l->n; i++)
        if (room_at(&l->v[i], addr))
            return &l->v[i];
    return NULL;
}

// A handle on o, which keeps it loaded while we read and write it; NULL for the vDSO or when
// the name now stands for another object.
static void *open_object(const dso *o)
{
    void *h = o->name[0] ? dlopen(o->name, RTLD_LAZY | RTLD_NOLOAD) : dlopen(NULL, RTLD_LAZY);
    struct link_map *lm = NULL;
    if (h && (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm || lm->l_addr != o->base)) {
        dlclose(h);
        h = NULL;
    }
    return h;
}

// The protections of the mappings, read once per pass from /proc/self/maps (a read costs about
// a millisecond); our own mprotect calls put back what they found.
typedef struct {
    uintptr_t lo, hi;
    int prot;
} mapping;
typedef struct {
    mapping *v;
    int n, cap;
    bool read, failed;
} maps;

static void maps_read(maps *m)
{
    m->read = true;
    FILE *f = fopen("/proc/self/maps", "re");
    m->failed = !f;
    char line[512];
    bool line_start = true;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perm[5];
        if (line_start && sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) == 3) {
            int prot = (perm[0] == 'r' ? PROT_READ : 0) | (perm[1] == 'w' ? PROT_WRITE : 0) |
                       (perm[2] == 'x' ? PROT_EXEC : 0);
            if (!PUSH(*m, (mapping){ lo, hi, prot })) {
                m->failed = true;
                break;
            }
        }
        line_start = strchr(line, '\n') != NULL;  // else a long path goes on in the next read
    }
    if (f)
        fclose(f);
}

// Protection of the page at addr, -1 when unmapped. Without /proc: what the loader leaves,
// RELRO read-only and the rest of a writable segment writable.
static int page_prot(maps *m, uintptr_t addr, bool in_relro)
{
    if (!m->read)
        maps_read(m);
    if (m->failed)
        return in_relro ? PROT_READ : PROT_READ | PROT_WRITE;
    for (int i = 0; i < m->n; i++)
        if (addr >= m->v[i].lo && addr < m->v[i].hi)
            return m->v[i].prot;
    return -1;
}

// One aligned 8-byte store: a thread calling through the slot sees the old or the new value.
// Slots under RELRO (all of them with -z now) are read-only: open the page, store, close it.
static const char *store_slot(maps *m, uintptr_t *slot, uintptr_t value, bool in_relro)
{
    if ((uintptr_t)slot % sizeof *slot)
        return "misaligned slot";
    int prot = page_prot(m, (uintptr_t)slot, in_relro);
    if (prot < 0)
        return "slot not mapped";
    if (prot & PROT_WRITE) {
        __atomic_store_n(slot, value, __ATOMIC_RELEASE);
        return NULL;
    }
    uintptr_t page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    void *page = (void *)((uintptr_t)slot & ~(page_size - 1));
    if (mprotect(page, page_size, prot | PROT_WRITE) != 0)
        return strerror(errno);
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    mprotect(page, page_size, prot);  // cannot fail on the range it just changed
    return NULL;
}

static bool in_relro(const dso *o, uintptr_t addr)
{
    for (int i = 0; i < o->phnum; i++) {
        uintptr_t lo = o->base + o->phdr[i].p_vaddr;
        if (o->phdr[i].p_type == PT_GNU_RELRO && addr >= lo && addr - lo < o->phdr[i].p_memsz)
            return true;
    }
    return false;
}

static bool is_entry(const char *name, xw_sym *s)
{
    if (!strstr(name, "gemm"))
        return false;
    for (int i = 0; i < N_ENTRY; i++)
        if (!strcmp(name, xw_sym_name((xw_sym)i))) {
            *s = (xw_sym)i;
            return ours[i] != 0;
        }
    return false;
}

// The function a slot of o must keep reaching once we are in between, or 0 (with a skip).
static uintptr_t original_of(const dso_list *all, const dso *o, void *h, uintptr_t value,
                             xw_sym s, bool jump_slot)
{
    const char *name = xw_sym_name(s);
    if (jump_slot && room_at(o, value)) {
        // Lazy binding not done yet: the slot points back into o's PLT. Look the name up in
        // o's scope, as the loader will.
        uintptr_t def = (uintptr_t)dlsym(h, name);
        if (def && def != ours[s] && !room_at(o, def))
            return def;
        add_skip(o, "%s: unresolved lazy PLT slot, and no definition in its scope", name);
        return 0;
    }
    // The value must be a definition of the name: a canonical PLT entry of a non-PIE program
    // would lead back through the program's own (redirected) slot to us.
    const dso *def_obj = find_object(all, value);
    void *dh = def_obj ? open_object(def_obj) : NULL;
    uintptr_t def = dh ? (uintptr_t)dlsym(dh, name) : 0;
    if (dh)
        dlclose(dh);
    if (def == value)
        return value;
    add_skip(o, "%s: bound to an address in %s that is not a definition of the name", name,
             def_obj ? display_name(def_obj->name) : "no loaded object");
    return 0;
}

static xw_fn as_fn(uintptr_t p)
{
    xw_fn f;
    memcpy(&f, &p, sizeof f);
    return f;
}

// Redirects one slot of o bound to s; false only when out of memory.
static bool redirect(const dso_list *all, const dso *o, void *h, maps *m, uintptr_t *slot,
                     xw_sym s, bool jump_slot)
{
    const char *name = xw_sym_name(s);
    if (!contains(o, (uintptr_t)slot, sizeof *slot)) {
        add_skip(o, "%s: relocation outside the object", name);
        return true;
    }
    uintptr_t value = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!value || value == ours[s])
        return true;  // weak and unbound, or ours already (preloaded, or redirected before)
    for (int i = 0; i < patches.n; i++)
        if (patches.v[i].slot == slot)
            return true;  // redirected, then rewritten by someone else: theirs now
    uintptr_t orig = original_of(all, o, h, value, s, jump_slot);
    if (!orig)
        return true;
    xw_blas_set(s, as_fn(orig));
    xw_fn used = xw_blas_try(s);
    if (used != as_fn(orig)) {
        // One entry point per name can forward to one original only.
        Dl_info di = { 0 };
        dladdr((void *)used, &di);
        add_skip(o, "%s: declined calls would go to %s, not to the function this object is "
                    "bound to", name, di.dli_fname ? di.dli_fname : "?");
        return true;
    }
    patch p = { slot, value, ours[s], o->base, intern(display_name(o->name)), s };
    if (!p.object || !grow((void **)&patches.v, &patches.cap, patches.n, sizeof p))
        return false;
    const char *err = store_slot(m, slot, ours[s], in_relro(o, (uintptr_t)slot));
    if (err)
        add_skip(o, "%s: cannot write the slot: %s", name, err);
    else
        patches.v[patches.n++] = p;
    return true;
}

static int patch_object(const dso_list *all, const dso *o, maps *m)
{
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < o->phnum; i++)
        if (o->phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(o->base + o->phdr[i].p_vaddr);
    void *h = dyn ? open_object(o) : NULL;
    if (!h)
        return XSMMWRAP_OK;  // static, the vDSO, or unloaded meanwhile: nothing to patch

    // glibc stores absolute addresses in the dynamic section, other loaders leave offsets.
    uintptr_t symtab = 0, strtab = 0, strsz = 0, rel[2] = { 0 }, relsz[2] = { 0 };
    bool rela = true;
    size_t relaent = sizeof(ElfW(Rela));
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        uintptr_t p = d->d_un.d_ptr < o->base ? o->base + d->d_un.d_ptr : d->d_un.d_ptr;
        switch (d->d_tag) {
        case DT_SYMTAB: symtab = p; break;
        case DT_STRTAB: strtab = p; break;
        case DT_STRSZ: strsz = d->d_un.d_val; break;
        case DT_JMPREL: rel[0] = p; break;
        case DT_PLTRELSZ: relsz[0] = d->d_un.d_val; break;
        case DT_PLTREL: rela = d->d_un.d_val == DT_RELA; break;
        case DT_RELA: rel[1] = p; break;
        case DT_RELASZ: relsz[1] = d->d_un.d_val; break;
        case DT_RELAENT: relaent = d->d_un.d_val; break;
        default: break;
        }
    }
    bool ok = true, provider = false;
    size_t sym_count = symtab ? room_at(o, symtab) / sizeof(ElfW(Sym)) : 0;  // a bound
    if (!rela || relaent != sizeof(ElfW(Rela)) || !strtab || !contains(o, strtab, strsz))
        sym_count = 0;  // nothing we can read: no relocation matches
    // Pass 0 only decides whether o is a provider; pass 1 redirects.
    for (int pass = 0; pass < 2 && !provider && ok && sym_count; pass++) {
        for (int t = 0; t < 2 && ok; t++) {
            const ElfW(Rela) *r = (const ElfW(Rela) *)rel[t];
            size_t n = rel[t] && contains(o, rel[t], relsz[t]) ? relsz[t] / sizeof *r : 0;
            for (size_t i = 0; i < n && ok; i++) {
                unsigned type = ELF64_R_TYPE(r[i].r_info), symi = ELF64_R_SYM(r[i].r_info);
                if (!symi || symi >= sym_count ||
                    (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT &&
                     (type != R_X86_64_64 || r[i].r_addend != 0)))
                    continue;
                const ElfW(Sym) *sym = (const ElfW(Sym) *)symtab + symi;
                const char *name = (const char *)strtab + sym->st_name;
                xw_sym s;
                if (sym->st_name >= strsz || !memchr("dszc", *name, 4) ||
                    !memchr(name, 0, strsz - sym->st_name) || !is_entry(name, &s))
                    continue;
                if (pass == 0) {
                    uintptr_t def = (uintptr_t)dlsym(h, name);
                    provider = sym->st_shndx != SHN_UNDEF || (def && room_at(o, def));
                    if (provider)
                        break;
                } else {
                    ok = redirect(all, o, h, m, (uintptr_t *)(o->base + r[i].r_offset), s,
                                  type == R_X86_64_JUMP_SLOT);
                }
            }
            if (provider)
                break;
        }
    }
    dlclose(h);
    return ok ? XSMMWRAP_OK : XSMMWRAP_ENOMEM;
}

// Our own entry points, from our own symbol table: a plain reference would bind to whichever
// dgemm_ comes first in the global scope. Only in libxsmmwrap.so (its soname says so): linked
// from libxsmmwrap.a into a program (the --wrap form), the program's dgemm_ is the real one.
static bool find_ours(void)
{
    Dl_info self;
    if (!dladdr((void *)&find_ours, &self) || !self.dli_fname)
        return false;
    void *h = dlopen(self.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    struct link_map *lm = NULL;
    if (!h || dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm) {
        if (h)
            dlclose(h);
        return false;
    }
    uintptr_t strtab = 0, soname = UINTPTR_MAX;
    for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
        if (d->d_tag == DT_STRTAB)
            strtab = d->d_un.d_ptr < lm->l_addr ? lm->l_addr + d->d_un.d_ptr : d->d_un.d_ptr;
        if (d->d_tag == DT_SONAME)
            soname = d->d_un.d_val;
    }
    bool any = false;
    bool shared = strtab && soname != UINTPTR_MAX &&
                  !strncmp((const char *)strtab + soname, "libxsmmwrap", 11);
    for (int i = 0; shared && i < N_ENTRY; i++) {
        void *p = dlsym(h, xw_sym_name((xw_sym)i));
        Dl_info where;
        if (p && dladdr(p, &where) && where.dli_fbase == self.dli_fbase) {
            ours[i] = (uintptr_t)p;
            any = true;
        }
    }
    dlclose(h);
    return any;
}

static bool same_object(const dso *a, uintptr_t base, const char *display)
{
    return a->base == base && !strcmp(display_name(a->name), display);
}

XW_API int xsmmwrap_enable(void)
{
    xw_init();
    take_lock();
    dso_list all = { 0 };
    collect_ctx c = { &all, 0, 0, false };
    maps m = { 0 };
    int rc = XSMMWRAP_OK;
    static int have_ours = -1;
    if (have_ours < 0)
        have_ours = find_ours();
#ifndef __x86_64__
    have_ours = 0;
#endif
    if (!have_ours) {
        rc = XSMMWRAP_EINVAL;  // not the shared library, or not x86-64
        goto out;
    }
    dl_iterate_phdr(counters, &c);
    if (atomic_load(&enabled_flag) && c.adds && c.adds == last_adds && c.subs == last_subs)
        goto out;  // nothing loaded since the last pass: the common case after an import
    dl_iterate_phdr(collect, &c);
    if (c.oom) {
        rc = XSMMWRAP_ENOMEM;
        goto out;
    }
    if (c.subs != last_subs) {
        // Something was unloaded: its slots are gone, and another object may sit where it was.
        int keep = 0;
        for (int i = 0; i < patches.n; i++)
            for (int k = 0; k < all.n; k++)
                if (same_object(&all.v[k], patches.v[i].base, patches.v[i].object)) {
                    patches.v[keep++] = patches.v[i];
                    break;
                }
        patches.n = keep;
        scanned.n = 0;
    }
    for (int i = 0; i < all.n && rc == XSMMWRAP_OK; i++) {
        const dso *o = &all.v[i];
        bool seen = room_at(o, (uintptr_t)&xsmmwrap_enable) != 0;  // ourselves
        for (int k = 0; k < scanned.n && !seen; k++)
            seen = scanned.v[k].base == o->base && scanned.v[k].name == o->name;
        if (seen)
            continue;
        rc = patch_object(&all, o, &m);
        if (rc == XSMMWRAP_OK && !PUSH(scanned, *o))
            rc = XSMMWRAP_ENOMEM;
    }
    last_adds = c.adds;
    last_subs = c.subs;
    atomic_store(&enabled_flag, 1);
out:
    free(all.v);
    free(m.v);
    pthread_mutex_unlock(&lock);
    return rc;
}

XW_API int xsmmwrap_disable(void)
{
    take_lock();
    dso_list all = { 0 };
    collect_ctx c = { &all, 0, 0, false };
    maps m = { 0 };
    dl_iterate_phdr(collect, &c);
    int rc = c.oom ? XSMMWRAP_ENOMEM : XSMMWRAP_OK;
    for (int i = 0; i < patches.n && !c.oom; i++) {
        const patch *p = &patches.v[i];
        // Only a slot of an object still loaded that still holds our value: anything else
        // has been unloaded or rewritten by someone else since.
        const dso *o = find_object(&all, (uintptr_t)p->slot);
        if (!o || !same_object(o, p->base, p->object) ||
            __atomic_load_n(p->slot, __ATOMIC_ACQUIRE) != p->ours)
            continue;
        if (store_slot(&m, p->slot, p->old, in_relro(o, (uintptr_t)p->slot)))
            rc = XSMMWRAP_EIO;
    }
    if (!c.oom) {
        patches.n = skips.n = scanned.n = 0;
        atomic_store(&enabled_flag, 0);
    }
    free(all.v);
    free(m.v);
    pthread_mutex_unlock(&lock);
    return rc;
}

XW_API int xsmmwrap_enabled(void) { return atomic_load(&enabled_flag); }

static int count_of(const int *n)
{
    take_lock();
    int value = *n;
    pthread_mutex_unlock(&lock);
    return value;
}

XW_API int xsmmwrap_patch_count(void) { return count_of(&patches.n); }
XW_API int xsmmwrap_skip_count(void) { return count_of(&skips.n); }

XW_API int xsmmwrap_patch_get(int i, const char **object, const char **symbol)
{
    if (!object || !symbol)
        return XSMMWRAP_EINVAL;
    take_lock();
    int rc = i >= 0 && i < patches.n ? XSMMWRAP_OK : XSMMWRAP_ERANGE;
    if (rc == XSMMWRAP_OK) {
        *object = patches.v[i].object;
        *symbol = xw_sym_name(patches.v[i].sym);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

XW_API int xsmmwrap_skip_get(int i, const char **object, const char **reason)
{
    if (!object || !reason)
        return XSMMWRAP_EINVAL;
    take_lock();
    int rc = i >= 0 && i < skips.n ? XSMMWRAP_OK : XSMMWRAP_ERANGE;
    if (rc == XSMMWRAP_OK) {
        *object = skips.v[i].object;
        *reason = skips.v[i].reason;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}
