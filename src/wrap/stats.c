// stats.c: call counters without a shared cache line on the hot path. Each thread owns a block
// it alone writes (relaxed load + store, no read-modify-write); readers sum the live blocks and
// what exited threads left. A reset records a baseline instead of writing other threads' blocks.
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "wrap.h"

#define CHUNK 256  // kernel counters are allocated per thread in chunks of this many

typedef struct block {
    _Atomic uint64_t sym[XW_SYM_COUNT];
    _Atomic uint64_t route[XSMMWRAP_ROUTE_COUNT];
    _Atomic(_Atomic uint64_t *) *chunks;  // nchunks pointers to CHUNK counters
    struct block *next;
    bool live;
} block;

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t exit_key;
static block *blocks;        // every block ever made, live or free for reuse
static uint32_t nchunks;     // from the registry capacity, fixed at first use
static size_t stats_bytes;
static xw_stats_snapshot retired, baseline;  // counts of exited threads; counts at last reset
static _Thread_local block *mine_tls __attribute__((tls_model("initial-exec")));

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
    for (uint32_t c = 0; c < nchunks; c++) {
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
    for (uint32_t c = 0; c < nchunks; c++) {
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
    mine_tls = NULL;
    memset(&xw_last, 0, sizeof xw_last);  // they point into b
    free(xw_recent);
    xw_recent = NULL;
}

// fork(): the lock is held across it, so that no child inherits it taken by a thread it does
// not have. A child's statistics are its own calls: they start from a baseline of everything
// counted at the fork (so a run's processes add up, `xsmmwrap run --json`); the blocks of the
// threads the child does not have stay, their counts inside that baseline.
static void fork_lock(void) { pthread_mutex_lock(&stats_lock); }
static void fork_unlock(void) { pthread_mutex_unlock(&stats_lock); }

static void fork_child(void)
{
    pthread_mutex_unlock(&stats_lock);
    xw_stats_reset();
}

static void init_once(void)
{
    pthread_key_create(&exit_key, thread_exit);
    pthread_atfork(fork_lock, fork_unlock, fork_child);
}

// Every function that takes stats_lock calls this first.
static void stats_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
}

static block *adopt_block(void)
{
    stats_init();
    pthread_mutex_lock(&stats_lock);
    if (!nchunks)
        nchunks = (uint32_t)((xw_cfg.max_kernels + CHUNK - 1) / CHUNK) + 1;
    block *b = blocks;
    while (b && b->live)
        b = b->next;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (b)
            b->chunks = calloc(nchunks, sizeof *b->chunks);
        if (!b || !b->chunks) {
            free(b);
            pthread_mutex_unlock(&stats_lock);
            return NULL;
        }
        stats_bytes += sizeof *b + nchunks * sizeof *b->chunks;
        b->next = blocks;
        blocks = b;
    }
    b->live = true;
    pthread_mutex_unlock(&stats_lock);
    pthread_setspecific(exit_key, b);
    mine_tls = b;
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

static inline block *mine(void)
{
    block *b = mine_tls;
    return XW_LIKELY(b) ? b : adopt_block();
}

_Atomic uint64_t *xw_stats_sym_counter(xw_sym s)
{
    block *b = mine();
    return b ? &b->sym[s] : NULL;
}

_Atomic uint64_t *xw_stats_kernel_counter(uint32_t id)
{
    block *b = mine();
    const uint32_t c = id / CHUNK;
    if (!b || XW_UNLIKELY(c >= nchunks))
        return NULL;
    _Atomic uint64_t *ch = atomic_load_explicit(&b->chunks[c], memory_order_relaxed);
    if (XW_UNLIKELY(!ch) && !(ch = new_chunk(b, c)))
        return NULL;
    return &ch[id % CHUNK];
}

void xw_stats_count(xw_sym s, xsmmwrap_route r)
{
    block *b = mine();
    if (!b)
        return;  // out of memory: the call still runs, uncounted
    xw_bump(&b->sym[s]);
    xw_bump(&b->route[r]);
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
    stats_init();
    pthread_mutex_lock(&stats_lock);
    sum_all(out);
    for (int i = 0; i < XW_SYM_COUNT; i++)
        out->sym[i] -= baseline.sym[i];
    for (int i = 0; i < XSMMWRAP_ROUTE_COUNT; i++)
        out->route[i] -= baseline.route[i];
    for (uint32_t i = 0; i < out->kernel_count && i < baseline.kernel_count; i++)
        out->kernel[i] -= baseline.kernel[i];
    pthread_mutex_unlock(&stats_lock);
    // Calls that ran a kernel are counted per kernel only; their routes follow from the kernels.
    const uint32_t nk = xw_reg_count();
    for (uint32_t i = 0; i < out->kernel_count && i < nk; i++)
        out->route[xw_reg_at(i)->jit ? XSMMWRAP_ROUTE_JIT : XSMMWRAP_ROUTE_PORTABLE] += out->kernel[i];
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
    stats_init();
    pthread_mutex_lock(&stats_lock);
    xw_stats_free(&baseline);
    sum_all(&baseline);
    pthread_mutex_unlock(&stats_lock);
    return XSMMWRAP_OK;
}

size_t xw_stats_memory_bytes(void)
{
    stats_init();
    pthread_mutex_lock(&stats_lock);
    size_t n = stats_bytes;
    pthread_mutex_unlock(&stats_lock);
    return n;
}
