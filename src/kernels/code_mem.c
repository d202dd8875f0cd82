// code_mem.c: executable memory for generated kernels. An arena is one memfd mapped twice, a
// read-write view to copy code in and a read+execute view to run it, so no mapping is ever
// writable and executable and kernels share pages. Without memfd: a private page per kernel,
// written, then mprotect'ed to read+execute. Calls only the OS.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jit.h"

#define ARENA_BYTES ((size_t)64 * 1024)
#define CODE_ALIGN 64  // a kernel starts on its own cache line

static pthread_mutex_t code_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *arena_rw, *arena_rx;
static size_t arena_size, arena_used;
// Written under code_lock, read by the statistics without it.
static _Atomic size_t mapped_total, used_total;
static bool memfd_broken;

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static bool new_arena(size_t at_least)
{
    const size_t size = round_up(at_least > ARENA_BYTES ? at_least : ARENA_BYTES, ARENA_BYTES);
    const int fd = memfd_create("xsmmwrap-code", MFD_CLOEXEC);
    if (fd < 0)
        return false;
    void *rw = MAP_FAILED, *rx = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0) {
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
    // The previous arena's tail is left unused: kernels are never moved or freed.
    arena_rw = rw;
    arena_rx = rx;
    arena_size = size;
    arena_used = 0;
    mapped_total += size;
    return true;
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
    if (!memfd_broken && (arena_rw && arena_used + n <= arena_size ? true : new_arena(n))) {
        memcpy(arena_rw + arena_used, bytes, n);
        x = arena_rx + arena_used;
        arena_used = round_up(arena_used + n, CODE_ALIGN);
    } else {
        memfd_broken = true;
        x = install_private(bytes, n);
    }
    if (x)
        used_total += n;
    pthread_mutex_unlock(&code_lock);
    return x;
}

size_t xw_code_mapped_bytes(void) { return atomic_load_explicit(&mapped_total, memory_order_relaxed); }

size_t xw_code_used_bytes(void) { return atomic_load_explicit(&used_total, memory_order_relaxed); }
