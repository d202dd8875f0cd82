// registry.c: descriptor -> kernel. Lookups are lock-free (a per-thread last hit, then an
// open-addressing table of pointers published with release stores); a miss takes one lock,
// so each descriptor gets exactly one kernel. Calls the generator, code memory, portable kernel.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit.h"

#define GEN_BUFFER_BYTES ((size_t)256 * 1024)  // largest kernel the generator may emit

static xw_reg_params params;
static _Atomic(xw_kernel *) *table;  // size: a power of two, at least twice the capacity
static uint32_t table_mask;
static xw_kernel **by_id;            // creation order
static _Atomic uint32_t count;
static _Atomic uint64_t jit_failures;  // written under reg_lock, read without it
static size_t entry_bytes;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
_Thread_local const xw_kernel *xw_reg_last_hit __attribute__((tls_model("initial-exec")));


static inline uint32_t hash(const xw_desc *d)
{
    uint64_t h = d->w[0] * 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 29) ^ d->w[1]) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 31) ^ d->w[2]) * 0x94D049BB133111EBull;
    h = (h ^ (h >> 30) ^ d->w[3]) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32);
}

// fork(): no lock may be inherited taken (by a thread the child does not have), so both are
// held across it, the registry's first as everywhere else.
static void fork_prepare(void)
{
    pthread_mutex_lock(&reg_lock);
    xw_code_fork_prepare();
}

static void fork_parent(void)
{
    xw_code_fork_parent();
    pthread_mutex_unlock(&reg_lock);
}

static void fork_child(void)
{
    xw_code_fork_child();
    pthread_mutex_unlock(&reg_lock);
}

void xw_reg_init(const xw_reg_params *p)
{
    params = *p;
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    uint32_t size = 16;
    while (size < 2 * (uint64_t)params.capacity)
        size *= 2;
    table = calloc(size, sizeof *table);
    by_id = calloc(params.capacity ? params.capacity : 1, sizeof *by_id);
    if (!table || !by_id) {
        free(table);
        free(by_id);
        table = NULL;
        by_id = NULL;
        params.capacity = 0;  // every call then declines as "registry full"
        size = 0;
    }
    table_mask = size ? size - 1 : 0;
}

static const xw_kernel *probe(const xw_desc *d)
{
    if (!table)
        return NULL;
    for (uint32_t i = hash(d) & table_mask;; i = (i + 1) & table_mask) {
        const xw_kernel *k = atomic_load_explicit(&table[i], memory_order_acquire);
        if (!k || xw_desc_equal(&k->desc, d))
            return k;
    }
}

const xw_kernel *xw_reg_probe(const xw_desc *d)
{
    const xw_kernel *k = probe(d);
    if (k)
        xw_reg_last_hit = k;
    return k;
}

void xw_kernel_name(const xw_kernel *k, char *out, size_t n)
{
    xw_gen_name(&k->desc, k->jit ? (xw_target)k->target : XW_TARGET_GENERIC, out, n);
}

static void dump(const xw_kernel *k, const void *code, size_t n)
{
    char name[160], path[4096];
    xw_kernel_name(k, name, sizeof name);
    snprintf(path, sizeof path, "%s/%s.bin", params.dump_dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(code, 1, n, f);
        fclose(f);
    }
}

// Generates code for k->desc; false leaves k on the portable kernel.
static bool generate(xw_kernel *k)
{
    static uint8_t *buf;  // used under reg_lock only
    if (!buf && !(buf = malloc(GEN_BUFFER_BYTES)))
        return false;
    xw_code c = { .buf = buf, .cap = GEN_BUFFER_BYTES, .len = 0, .err = XW_OK };
    size_t entry = 0;
    if (xw_gen_gemm(&k->desc, params.target, &c, &entry) != XW_OK || c.err != XW_OK)
        return false;
    uint8_t *x = xw_code_install(c.buf, c.len);
    if (!x)
        return false;
    k->jit = 1;
    k->target = (uint8_t)params.target;
    k->code_bytes = (uint32_t)c.len;
    // The generated function pointer comes from a data pointer into executable memory.
    void *entry_point = x + entry;
    memcpy(&k->fn, &entry_point, sizeof k->fn);
    if (params.dump_dir)
        dump(k, c.buf, c.len);
    return true;
}

xw_reg_result xw_reg_get(const xw_desc *d, const xw_kernel **out)
{
    if ((*out = xw_reg_lookup(d)))
        return XW_REG_FOUND;
    if (params.trylock) {
        if (pthread_mutex_trylock(&reg_lock) != 0)
            return XW_REG_BUSY;
    } else {
        pthread_mutex_lock(&reg_lock);
    }
    xw_reg_result r = XW_REG_FOUND;
    const xw_kernel *found = probe(d);
    if (!found) {
        const uint32_t n = atomic_load_explicit(&count, memory_order_relaxed);
        xw_kernel *k = n < params.capacity ? calloc(1, sizeof *k) : NULL;
        if (!k) {
            r = XW_REG_FULL;
        } else {
            k->desc = *d;
            k->id = n;
            k->fn = xw_ref_kernel;
            if (params.target != XW_TARGET_GENERIC && !generate(k))
                jit_failures++;
            entry_bytes += sizeof *k;
            uint32_t i = hash(d) & table_mask;
            while (atomic_load_explicit(&table[i], memory_order_relaxed))
                i = (i + 1) & table_mask;
            by_id[n] = k;
            atomic_store_explicit(&count, n + 1, memory_order_release);
            atomic_store_explicit(&table[i], k, memory_order_release);
            found = k;
            r = XW_REG_CREATED;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    if (found)
        xw_reg_last_hit = found;
    *out = found;
    return r;
}

uint32_t xw_reg_count(void) { return atomic_load_explicit(&count, memory_order_acquire); }

const xw_kernel *xw_reg_at(uint32_t i) { return by_id[i]; }

uint64_t xw_reg_jit_failures(void) { return atomic_load_explicit(&jit_failures, memory_order_relaxed); }

size_t xw_reg_memory_bytes(void)
{
    pthread_mutex_lock(&reg_lock);
    size_t n = (table_mask + 1) * sizeof *table + params.capacity * sizeof *by_id + entry_bytes;
    pthread_mutex_unlock(&reg_lock);
    return n + xw_code_mapped_bytes();
}

size_t xw_reg_code_bytes(void) { return xw_code_used_bytes(); }
