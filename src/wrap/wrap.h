// wrap.h: the wrap layer's internal map (entry points -> route -> original BLAS, statistics,
// report, environment), grouped by the file that implements each part. Includes kernels.h only.
#ifndef XW_WRAP_H
#define XW_WRAP_H

#include "../../include/xsmmwrap.h"
#include "../kernels/kernels.h"
#include "entry_list.h"

#define XW_LIKELY(x) __builtin_expect(!!(x), 1)
#define XW_UNLIKELY(x) __builtin_expect(!!(x), 0)

// Any function pointer; cast back to the exact type before calling.
typedef void (*xw_fn)(void);

// One GEMM call in the column-major view. ta/tb are the caller's characters ('N', 't', ...),
// not yet checked: validation is the route's job.
typedef struct {
    xw_prec prec;
    char ta, tb;
    int64_t m, n, k;
    const void *alpha;
    const void *a;
    int64_t lda;
    const void *b;
    int64_t ldb;
    const void *beta;
    void *c;
    int64_t ldc;
    xw_sym sym;
} xw_gemm_args;

// Functions in env.c: the configuration, read once from the environment.
typedef struct {
    int64_t max_mnk;
    int64_t max_kernels;
    bool disabled;
    bool jit;
    bool trylock;
    xw_target cpu_target;
    xw_target target;
    _Atomic int verbosity;  // also set at run time (xsmmwrap_set_verbosity)
    const char *stats_json;  // XSMMWRAP_STATS_JSON
    const char *dump_dir;    // XSMMWRAP_DUMP, or "." with a negative verbosity
    const char *blas_path;   // XSMMWRAP_BLAS
} xw_env;
XW_HIDDEN extern xw_env xw_cfg;
XW_HIDDEN void xw_env_read(xw_env *out);

// Functions in route.c (its hot path is inline in route_fast.h)
XW_HIDDEN void xw_init(void);  // idempotent, thread-safe; every entry calls it through route
XW_HIDDEN bool xw_initialized(void);
XW_HIDDEN extern _Atomic bool xw_fast_ok;  // initialised and not disabled
// The full decision: serves the call on the kernel path and returns true, or counts why not
// and returns false: the caller then calls the original BLAS with its untouched arguments.
XW_HIDDEN bool xw_route_slow(const xw_gemm_args *g);
XW_HIDDEN bool xw_route_slow_unpacked(xw_prec prec, char ta, char tb, int64_t m, int64_t n,
                                      int64_t k, const void *alpha, const void *a, int64_t lda,
                                      const void *b, int64_t ldb, const void *beta, void *c,
                                      int64_t ldc, xw_sym sym);
XW_HIDDEN xsmmwrap_route xw_route_check(const xw_gemm_args *g);  // the decision without the call

// Functions in blas_find.c: the original BLAS, per symbol, resolved once.
XW_HIDDEN xw_fn xw_blas_get(xw_sym s);  // never NULL: aborts with a message when there is none
XW_HIDDEN xw_fn xw_blas_try(xw_sym s);  // NULL when there is none
XW_HIDDEN void xw_blas_set(xw_sym s, xw_fn f);  // f is the original of s, unless one was found
XW_HIDDEN const char *xw_sym_name(xw_sym s);

// Functions in stats.c: per-thread counters, summed on read. Each thread owns a block it alone
// writes; the counting itself is inline (route_fast.h) and falls back to xw_stats_count_slow
// for a thread's first call or a kernel id whose chunk it has not counted yet.
#define XW_NO_KERNEL UINT32_MAX
#define XW_STATS_CHUNK 256
typedef struct xw_stats_block {
    _Atomic uint64_t sym[XW_SYM_COUNT];
    _Atomic uint64_t route[XSMMWRAP_ROUTE_COUNT];
    _Atomic(_Atomic uint64_t *) *chunks;  // xw_stats_nchunks pointers to XW_STATS_CHUNK counters
    struct xw_stats_block *next;
    bool live;
} xw_stats_block;
XW_HIDDEN extern _Thread_local xw_stats_block *xw_stats_mine __attribute__((tls_model("initial-exec")));
XW_HIDDEN extern uint32_t xw_stats_nchunks;
// One call of symbol s went route r (through kernel kernel_id, or XW_NO_KERNEL).
XW_HIDDEN void xw_stats_count_slow(xw_sym s, xsmmwrap_route r, uint32_t kernel_id);
typedef struct {
    uint64_t sym[XW_SYM_COUNT];
    uint64_t route[XSMMWRAP_ROUTE_COUNT];
    uint64_t *kernel;    // kernel_count entries, owned by the snapshot
    uint32_t kernel_count;
} xw_stats_snapshot;
XW_HIDDEN int xw_stats_read(xw_stats_snapshot *out);  // since the last reset
XW_HIDDEN void xw_stats_free(xw_stats_snapshot *s);
XW_HIDDEN int xw_stats_reset(void);
XW_HIDDEN size_t xw_stats_memory_bytes(void);

// Functions in api.c: the public C API of include/xsmmwrap.h.
XW_HIDDEN void xw_kernel_info(const xw_kernel *k, const xw_stats_snapshot *s,
                              xsmmwrap_kernel_info *out);

// Functions in report.c: everything the library prints.
XW_HIDDEN void xw_report_kernel_created(const xw_kernel *k);
XW_HIDDEN void xw_report_no_blas(const char *symbol);  // then abort()
XW_HIDDEN int xw_report_json(const char *path);
XW_HIDDEN void xw_report_at_exit(void);

#endif
