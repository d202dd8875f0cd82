// stats.c: call counters without a shared cache line on the hot path. Each thread owns a block
// it alone writes (relaxed load + store, no read-modify-write); readers sum the live blocks and
// what exited threads left. A reset records a baseline instead of writing other threads' blocks.
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "wrap.h"

#define CHUNK XW_STATS_CHUNK

typedef xw_stats_block block;

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t exit_key;
static block *blocks;        // every block ever made, live or free for reuse
uint32_t xw_stats_nchunks;   // from the registry capacity, fixed at first use
static size_t stats_bytes;
static xw_stats_snapshot retired, baseline;  // counts of exited threads; counts at last reset
_Thread_local block *xw_stats_mine __attribute__((tls_model("initial-exec")));

static inline void bump(_Atomic uint64_t *x)
{
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + 1, memory_order_relaxed);
}

static void ensure_kernels(xw_stats_snapshot *s, uint32_t n)
{
    if (s->kernel_count >= n)
        return;
    uint64_t *k = realloc(s->kernel, n * sizeof *k);
    if (!k)
        return;
    memset(k + s->kernel_count, 0, (n - s->kernel_count) * sizeof *k);
    s->kernel = k;
    s->kernel_count = n;
}

// Adds (sign 1) or subtracts (sign -1) block b's counts into s. Called with stats_lock held.
static void add_block(xw_stats_snapshot *s, block *b)
{
    for (int i = 0; i < XW_SYM_COUNT; i++)
        s->sym[i] += atomic_load_explicit(&b->sym[i], memory_order_relaxed);
    for (int i = 0; i < XSMMWRAP_ROUTE_COUNT; i++)
        s->route[i] += atomic_load_explicit(&b->route[i], memory_order_relaxed);
    for (uint32_t c = 0; c < xw_stats_nchunks; c++) {
        _Atomic uint64_t *ch = atomic_load_explicit(&b->chunks[c], memory_order_acquire);
        if (!ch)
            continue;
        ensure_kernels(s, (c + 1) * CHUNK);
        if (s->kernel_count < (c + 1) * CHUNK)
            return;
        for (uint32_t i = 0; i < CHUNK; i++)
            s->kernel[c * CHUNK + i] += atomic_load_explicit(&ch[i], memory_order_relaxed);
    }
}

static void clear_block(block *b)
{
    for (int i = 0; i < XW_SYM_COUNT; i++)
        atomic_store_explicit(&b->sym[i], 0, memory_order_relaxed);
    for (int i = 0; i < XSMMWRAP_ROUTE_COUNT; i++)
        atomic_store_explicit(&b->route[i], 0, memory_order_relaxed);
    for (uint32_t c = 0; c < xw_stats_nchunks; c++) {
        _Atomic uint64_t *ch = atomic_load_explicit(&b->chunks[c], memory_order_relaxed);
        for (uint32_t i = 0; ch && i < CHUNK; i++)
            atomic_store_explicit(&ch[i], 0, memory_order_relaxed);
    }
}

// A thread that exits leaves its counts in `retired` and its block for the next new thread.
static void thread_exit(void *p)
{
    block *b = p;
    pthread_mutex_lock(&stats_lock);
    add_block(&retired, b);
    clear_block(b);
    b->live = false;
    pthread_mutex_unlock(&stats_lock);
    xw_stats_mine = NULL;
}

static void make_key(void) { pthread_key_create(&exit_key, thread_exit); }

static block *adopt_block(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_key);
    pthread_mutex_lock(&stats_lock);
    if (!xw_stats_nchunks)
        xw_stats_nchunks = (uint32_t)((xw_cfg.max_kernels + CHUNK - 1) / CHUNK) + 1;
    block *b = blocks;
    while (b && b->live)
        b = b->next;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (b)
            b->chunks = calloc(xw_stats_nchunks, sizeof *b->chunks);
        if (!b || !b->chunks) {
            free(b);
            pthread_mutex_unlock(&stats_lock);
            return NULL;
        }
        stats_bytes += sizeof *b + xw_stats_nchunks * sizeof *b->chunks;
        b->next = blocks;
        blocks = b;
    }
    b->live = true;
    pthread_mutex_unlock(&stats_lock);
    pthread_setspecific(exit_key, b);
    xw_stats_mine = b;
    return b;
}

static _Atomic uint64_t *new_chunk(block *b, uint32_t c)
{
    _Atomic uint64_t *ch = calloc(CHUNK, sizeof *ch);
    if (!ch)
        return NULL;
    pthread_mutex_lock(&stats_lock);
    stats_bytes += CHUNK * sizeof *ch;
    pthread_mutex_unlock(&stats_lock);
    atomic_store_explicit(&b->chunks[c], ch, memory_order_release);
    return ch;
}

void xw_stats_count_slow(xw_sym s, xsmmwrap_route r, uint32_t id)
{
    block *b = xw_stats_mine;
    if (XW_UNLIKELY(!b) && !(b = adopt_block()))
        return;  // out of memory: the call still runs, uncounted
    bump(&b->sym[s]);
    bump(&b->route[r]);
    const uint32_t c = id / CHUNK;
    if (id == XW_NO_KERNEL || XW_UNLIKELY(c >= xw_stats_nchunks))
        return;
    _Atomic uint64_t *ch = atomic_load_explicit(&b->chunks[c], memory_order_relaxed);
    if (XW_UNLIKELY(!ch) && !(ch = new_chunk(b, c)))
        return;
    bump(&ch[id % CHUNK]);
}

static void sum_all(xw_stats_snapshot *s)
{
    memset(s, 0, sizeof *s);
    memcpy(s->sym, retired.sym, sizeof s->sym);
    memcpy(s->route, retired.route, sizeof s->route);
    ensure_kernels(s, retired.kernel_count);
    if (retired.kernel_count && s->kernel)
        memcpy(s->kernel, retired.kernel, retired.kernel_count * sizeof *s->kernel);
    for (block *b = blocks; b; b = b->next)
        if (b->live)
            add_block(s, b);
}

int xw_stats_read(xw_stats_snapshot *out)
{
    pthread_mutex_lock(&stats_lock);
    sum_all(out);
    for (int i = 0; i < XW_SYM_COUNT; i++)
        out->sym[i] -= baseline.sym[i];
    for (int i = 0; i < XSMMWRAP_ROUTE_COUNT; i++)
        out->route[i] -= baseline.route[i];
    for (uint32_t i = 0; i < out->kernel_count && i < baseline.kernel_count; i++)
        out->kernel[i] -= baseline.kernel[i];
    pthread_mutex_unlock(&stats_lock);
    return XSMMWRAP_OK;
}

void xw_stats_free(xw_stats_snapshot *s)
{
    free(s->kernel);
    s->kernel = NULL;
    s->kernel_count = 0;
}

int xw_stats_reset(void)
{
    pthread_mutex_lock(&stats_lock);
    xw_stats_free(&baseline);
    sum_all(&baseline);
    pthread_mutex_unlock(&stats_lock);
    return XSMMWRAP_OK;
}

size_t xw_stats_memory_bytes(void)
{
    pthread_mutex_lock(&stats_lock);
    size_t n = stats_bytes;
    pthread_mutex_unlock(&stats_lock);
    return n;
}
