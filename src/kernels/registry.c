// registry.c: descriptor -> kernel. Lookups are lock-free (an open-addressing table of pointers
// published with release stores; the wrap layer's per-thread caches of calls sit in front); a
// miss takes one lock, so each descriptor gets exactly one kernel. Memory grows with the kernels
// made, not with the capacity: the table doubles, records come in slabs. Calls the generator,
// code memory, portable kernel.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jit.h"

#define GEN_BUFFER_BYTES ((size_t)256 * 1024)  // largest kernel the generator may emit
#define SLAB_KERNELS 256  // kernel records are allocated this many at a time
#define TABLE_FIRST 512   // slots of the first table (a page); each next one has twice as many
#define TABLE_LOAD 16     // a table holds at most slots / TABLE_LOAD kernels

// The table: open addressing, linear probing, over a power-of-two array of kernel pointers.
// Sparse, because a lookup that probes a second slot takes a mispredicted branch: the
// dispatch benchmark's lookup cycling over 1000 kernels took 6.1 ns with the table 1/32 full,
// 6.4 at 1/16, 6.7 at 1/8, 7.1 at 1/4 (Xeon family 6 model 167). A full table is replaced by one twice its size, and
// the old one's pages are dropped (MADV_DONTNEED) but stay mapped: a lock-free reader may still
// be probing it, and there it reads either a kernel (kernels never move or go) or zero, which
// ends its probe as a miss; its caller then goes to xw_reg_get, which probes the new table
// under the lock. The table's address (a page boundary) and log2 of its slots share one word,
// so that a reader gets both with one load.
typedef _Atomic(xw_kernel *) reg_slot;

static inline reg_slot *table_slots(uintptr_t t) { return (reg_slot *)(t & ~(uintptr_t)63); }
static inline uint32_t table_mask(uintptr_t t) { return (uint32_t)(((uint64_t)1 << (t & 63)) - 1); }

static xw_reg_params params;
static _Atomic uintptr_t table;  // 0 until the first kernel
static xw_kernel **slabs;       // kernel i is slabs[i / SLAB_KERNELS][i % SLAB_KERNELS]
static _Atomic uint32_t count;
static _Atomic uint64_t jit_failures;  // written under reg_lock, read without it
static size_t held_bytes;       // the table, slabs and the slab list; under reg_lock
static uint8_t *gen_buf;        // the generator's output; used under reg_lock only
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;


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
    const size_t nslabs = ((size_t)params.capacity + SLAB_KERNELS - 1) / SLAB_KERNELS;
    slabs = calloc(nslabs ? nslabs : 1, sizeof *slabs);
    if (!slabs)
        params.capacity = 0;  // every call then declines as "registry full"
    else
        held_bytes = (nslabs ? nslabs : 1) * sizeof *slabs;
}

static const xw_kernel *probe(const xw_desc *d)
{
    const uintptr_t t = atomic_load_explicit(&table, memory_order_acquire);
    if (!t)
        return NULL;
    reg_slot *const slot = table_slots(t);
    const uint32_t mask = table_mask(t);
    for (uint32_t i = hash(d) & mask;; i = (i + 1) & mask) {
        const xw_kernel *k = atomic_load_explicit(&slot[i], memory_order_acquire);
        if (!k || xw_desc_equal(&k->desc, d))
            return k;
    }
}

// Puts k in the first empty slot of its probe sequence in table t; readers may be probing it.
static void place(uintptr_t t, xw_kernel *k)
{
    reg_slot *const slot = table_slots(t);
    const uint32_t mask = table_mask(t);
    uint32_t i = hash(&k->desc) & mask;
    while (atomic_load_explicit(&slot[i], memory_order_relaxed))
        i = (i + 1) & mask;
    atomic_store_explicit(&slot[i], k, memory_order_release);
}

// Makes room for kernel n (the n kernels before it are in the table); false when out of memory.
static bool table_room(uint32_t n)
{
    const uintptr_t t = atomic_load_explicit(&table, memory_order_relaxed);
    const uint64_t slots = t ? (uint64_t)table_mask(t) + 1 : 0;
    if (TABLE_LOAD * ((uint64_t)n + 1) <= slots)
        return true;
    const unsigned bits = t ? (unsigned)(t & 63) + 1 : (unsigned)__builtin_ctz(TABLE_FIRST);
    if (bits > 32)
        return false;
    const size_t bytes = ((size_t)1 << bits) * sizeof(reg_slot);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    const uintptr_t bigger = (uintptr_t)p | bits;
    for (uint32_t i = 0; i < n; i++)
        place(bigger, &slabs[i / SLAB_KERNELS][i % SLAB_KERNELS]);
    atomic_store_explicit(&table, bigger, memory_order_release);
    if (t)
        (void)madvise(table_slots(t), slots * sizeof(reg_slot), MADV_DONTNEED);
    held_bytes += bytes - slots * sizeof(reg_slot);
    return true;
}

// The record of kernel n, zeroed; NULL when out of memory.
static xw_kernel *new_record(uint32_t n)
{
    xw_kernel **slab = &slabs[n / SLAB_KERNELS];
    if (!*slab) {
        if (!(*slab = calloc(SLAB_KERNELS, sizeof **slab)))
            return NULL;
        held_bytes += SLAB_KERNELS * sizeof **slab;
    }
    return &(*slab)[n % SLAB_KERNELS];
}

const xw_kernel *xw_reg_probe(const xw_desc *d) { return probe(d); }

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

static xw_target target_of(const xw_desc *d)
{
    return d->target && d->target <= params.target ? (xw_target)d->target : params.target;
}

// Generates code for k->desc; false leaves k on the portable kernel.
static bool generate(xw_kernel *k)
{
    // Mapped rather than allocated: page-aligned, so that xw_reg_memory_bytes can count the
    // pages the generator has touched (the largest kernel's, not the whole buffer).
    if (!gen_buf) {
        void *p = mmap(NULL, GEN_BUFFER_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (p == MAP_FAILED)
            return false;
        gen_buf = p;
    }
    xw_code c = { .buf = gen_buf, .cap = GEN_BUFFER_BYTES, .len = 0, .err = XW_OK };
    size_t entry = 0;
    // A descriptor may name a lower target than the registry's (tuning); never a higher one.
    const xw_target t = target_of(&k->desc);
    if (xw_gen_gemm(&k->desc, t, &c, &entry) != XW_OK || c.err != XW_OK)
        return false;
    uint8_t *x = xw_code_install(c.buf, c.len);
    if (!x)
        return false;
    k->jit = 1;
    k->target = (uint8_t)t;
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
    if ((*out = probe(d)))
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
        // Room in the table first: a kernel is generated only when it can be kept.
        const uint32_t n = atomic_load_explicit(&count, memory_order_relaxed);
        xw_kernel *k = n < params.capacity && table_room(n) ? new_record(n) : NULL;
        if (!k) {
            r = XW_REG_FULL;
        } else {
            k->desc = *d;
            k->id = n;
            k->fn = xw_ref_kernel;
            if (params.target != XW_TARGET_GENERIC && !generate(k))
                jit_failures++;
            atomic_store_explicit(&count, n + 1, memory_order_release);
            place(atomic_load_explicit(&table, memory_order_relaxed), k);
            found = k;
            r = XW_REG_CREATED;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    *out = found;
    return r;
}

uint32_t xw_reg_count(void) { return atomic_load_explicit(&count, memory_order_acquire); }

const xw_kernel *xw_reg_at(uint32_t i) { return &slabs[i / SLAB_KERNELS][i % SLAB_KERNELS]; }

uint64_t xw_reg_jit_failures(void) { return atomic_load_explicit(&jit_failures, memory_order_relaxed); }

// The generator's buffer pages that are resident (mincore): those it has written.
static size_t gen_buf_resident(void)
{
    if (!gen_buf)
        return 0;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = GEN_BUFFER_BYTES / page;
    unsigned char in_core[GEN_BUFFER_BYTES / 4096];
    if (pages > sizeof in_core || mincore(gen_buf, GEN_BUFFER_BYTES, in_core) != 0)
        return GEN_BUFFER_BYTES;  // cannot tell: all of it
    size_t n = 0;
    for (size_t i = 0; i < pages; i++)
        n += in_core[i] & 1;  // the other bits are reserved
    return n * page;
}

size_t xw_reg_memory_bytes(void)
{
    pthread_mutex_lock(&reg_lock);
    size_t n = held_bytes + gen_buf_resident();
    pthread_mutex_unlock(&reg_lock);
    return n + xw_code_mapped_bytes();
}

size_t xw_reg_code_bytes(void) { return xw_code_used_bytes(); }
