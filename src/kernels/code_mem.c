// code_mem.c: executable memory for generated kernels. A region is one memfd mapped twice, a
// read-write view to copy code in and a read+execute view to run it, so no mapping is ever
// writable and executable and kernels share pages. A region's file is sized once and stays
// sparse: its pages are allocated 64 KiB at a time, all at once (MADV_POPULATE_WRITE), because
// a page fault costs microseconds (several on a VM), more than generating a small kernel, and
// a kernel would otherwise take one in two. A page mapped in both views counts twice in the
// resident set (VmRSS), so the read-write view keeps only the pages still being written:
// the rest are dropped from it (a region's whole view once the next region starts). Regions
// double in size (1 MiB up to 64 MiB), so a few kernels cost little address space and many
// cost few syscalls. Without memfd: a private page per kernel, written, then mprotect'ed to
// read+execute. Calls only the OS.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jit.h"

#ifndef MADV_POPULATE_READ  // Linux 5.14; older kernels refuse them and pages fault as used
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define CHUNK_BYTES ((size_t)64 * 1024)          // pages are allocated this many at a time
#define REGION_FIRST ((size_t)1024 * 1024)       // the first region's size; each next one doubles
#define REGION_MOST ((size_t)64 * 1024 * 1024)   // ... up to this
#define CODE_ALIGN 64  // a kernel starts on its own cache line

static pthread_mutex_t code_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *region_rw, *region_rx;
static size_t region_size, region_used, region_ready;  // ready: bytes populated from the start
static size_t region_dropped;  // [0, dropped) of the read-write view has no page-table entries
static size_t next_region = REGION_FIRST;
// Written under code_lock, read by the statistics without it.
static _Atomic size_t mapped_total, used_total;
static bool memfd_broken;

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static bool map_region(size_t size)
{
    const int fd = memfd_create("xsmmwrap-code", MFD_CLOEXEC);
    if (fd < 0)
        return false;
    void *rw = MAP_FAILED, *rx = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0) {  // sparse: no memory until populated
        rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        rx = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    }
    close(fd);
    if (rw == MAP_FAILED || rx == MAP_FAILED) {
        if (rw != MAP_FAILED)
            munmap(rw, size);
        if (rx != MAP_FAILED)
            munmap(rx, size);
        return false;
    }
    // The previous region's tail is left unused: kernels are never moved or freed. Its
    // read-write view will not be written again: unmapped.
    if (region_rw)
        munmap(region_rw, region_size);
    region_rw = rw;
    region_rx = rx;
    region_size = size;
    region_used = region_ready = region_dropped = 0;
    return true;
}

static bool new_region(size_t at_least)
{
    const size_t need = round_up(at_least, CHUNK_BYTES);
    if (!map_region(need > next_region ? need : next_region) && !(need < next_region && map_region(need)))
        return false;  // (the second try: address space may be limited)
    if (next_region < REGION_MOST)
        next_region *= 2;
    return true;
}

// Makes [0, end) of the region ready: the chunks past region_ready are populated in one call.
static void populate(size_t end)
{
    if (end <= region_ready)
        return;
    const size_t to = round_up(end, CHUNK_BYTES) < region_size ? round_up(end, CHUNK_BYTES) : region_size;
    // Pages wholly written will not be written again: the read-write view's page-table entries
    // for them are dropped, so that each page of code is resident in one view, not two. On a
    // shared mapping MADV_DONTNEED only unmaps: the code stays in the memfd. (Where it fails,
    // mlock'ed memory, the pages stay counted twice, nothing else.) Once per chunk, not per
    // kernel: dropping entries flushes the TLBs of every CPU running one of our threads.
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t written = region_used / page * page;
    if (written > region_dropped) {
        (void)madvise(region_rw + region_dropped, written - region_dropped, MADV_DONTNEED);
        region_dropped = written;
    }
    // The new chunks are allocated through the read-write view and mapped in the read+execute
    // view at once, so that a kernel's first call takes no page fault and the resident set
    // shows the code memory from when it is allocated. On failure (old kernel, no memory now)
    // the pages fault in as they are used instead.
    (void)madvise(region_rw + region_ready, to - region_ready, MADV_POPULATE_WRITE);
    (void)madvise(region_rx + region_ready, to - region_ready, MADV_POPULATE_READ);
    mapped_total += to - region_ready;
    region_ready = to;
}

static void *install_private(const void *bytes, size_t n)
{
    const size_t size = round_up(n, (size_t)sysconf(_SC_PAGESIZE));
    uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    memcpy(p, bytes, n);
    if (mprotect(p, size, PROT_READ | PROT_EXEC) != 0) {
        munmap(p, size);
        return NULL;
    }
    mapped_total += size;
    return p;
}

void *xw_code_install(const void *bytes, size_t n)
{
    if (!n)
        return NULL;
    pthread_mutex_lock(&code_lock);
    void *x = NULL;
    if (!memfd_broken && (region_rw && region_used + n <= region_size ? true : new_region(n))) {
        populate(region_used + n);
        memcpy(region_rw + region_used, bytes, n);
        x = region_rx + region_used;
        region_used = round_up(region_used + n, CODE_ALIGN);
    } else {
        memfd_broken = true;
        x = install_private(bytes, n);
    }
    if (x)
        used_total += n;
    pthread_mutex_unlock(&code_lock);
    return x;
}

void xw_code_fork_prepare(void) { pthread_mutex_lock(&code_lock); }

void xw_code_fork_parent(void) { pthread_mutex_unlock(&code_lock); }

// The inherited regions stay mapped for execution (the parent's kernels in them serve the
// child too) but only the parent appends to them from now on: the child unmaps its read-write
// view and its next kernel starts a region of its own. Otherwise both would write new kernels
// at the same offsets of the same pages.
void xw_code_fork_child(void)
{
    if (region_rw)
        munmap(region_rw, region_size);
    region_rw = region_rx = NULL;
    region_size = region_used = region_ready = region_dropped = 0;
    pthread_mutex_unlock(&code_lock);
}

size_t xw_code_mapped_bytes(void) { return atomic_load_explicit(&mapped_total, memory_order_relaxed); }

size_t xw_code_used_bytes(void) { return atomic_load_explicit(&used_total, memory_order_relaxed); }
