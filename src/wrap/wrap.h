// wrap.h: the wrap layer's internal map (entry points -> route -> original BLAS, statistics,
// report, environment), grouped by the file that implements each part. Includes kernels.h only.
#ifndef XW_WRAP_H
#define XW_WRAP_H

#include <stdatomic.h>

#include "../../include/xsmmwrap.h"
#include "../kernels/kernels.h"

// Complex elements as BLAS stores them (Fortran COMPLEX*16 and COMPLEX, C99 double _Complex and
// float _Complex): the real part, then the imaginary part. The element types of XW_C64 and
// XW_C32 rows of entry_list.h.
typedef struct {
    double re, im;
} xw_c64;
typedef struct {
    float re, im;
} xw_c32;

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
    // GEMV T's dot form (XW_TRANS_DOT, route_family.c): ta 'T', n 1, ldb and ldc the
    // increments of x (B) and y (C).
    bool dot;
} xw_gemm_args;

// How CBLAS passes alpha and beta for element type T: a real scalar by value, a complex one by
// pointer (cblas.h: const void *alpha). XW_CBLAS_SCALAR(double) is double,
// XW_CBLAS_SCALAR(xw_c64) is const xw_c64 *.
typedef double xw_cblas_scalar_double;
typedef float xw_cblas_scalar_float;
typedef const xw_c64 *xw_cblas_scalar_xw_c64;
typedef const xw_c32 *xw_cblas_scalar_xw_c32;
#define XW_CBLAS_SCALAR(T) xw_cblas_scalar_##T

// The type of each exported name's original (Fortran: the hidden string lengths gfortran
// passes at the end; CBLAS: layout first, scalars as XW_CBLAS_SCALAR), xw_f77_dgemm__fn and so
// on.
#define XW_F77_TYPE(name, PREC, T, I)                                                            \
    typedef void xw_f77_##name##_fn(const char *, const char *, const I *, const I *, const I *, \
                                    const T *, const T *, const I *, const T *, const I *,       \
                                    const T *, T *, const I *, size_t, size_t);
#define XW_CBLAS_TYPE(name, PREC, T, I)                                                          \
    typedef void xw_cblas_##name##_fn(int, int, int, I, I, I, XW_CBLAS_SCALAR(T), const T *, I,  \
                                      const T *, I, XW_CBLAS_SCALAR(T), T *, I);
XW_F77_ENTRIES(XW_F77_TYPE)
XW_CBLAS_ENTRIES(XW_CBLAS_TYPE)
#undef XW_F77_TYPE
#undef XW_CBLAS_TYPE

// The originals of the other families (reference BLAS and MKL argument orders).
#define XW_GEMV_F77_TYPE(name, PREC, T, I)                                                       \
    typedef void xw_f77_##name##_fn(const char *, const I *, const I *, const T *, const T *,     \
                                    const I *, const T *, const I *, const T *, T *, const I *,  \
                                    size_t);
#define XW_GEMV_CBLAS_TYPE(name, PREC, T, I)                                                     \
    typedef void xw_cblas_##name##_fn(int, int, I, I, T, const T *, I, const T *, I, T, T *, I);
#define XW_SYRK_F77_TYPE(name, PREC, T, I)                                                       \
    typedef void xw_f77_##name##_fn(const char *, const char *, const I *, const I *, const T *,  \
                                    const T *, const I *, const T *, T *, const I *, size_t,     \
                                    size_t);
#define XW_SYRK_CBLAS_TYPE(name, PREC, T, I)                                                     \
    typedef void xw_cblas_##name##_fn(int, int, int, I, I, T, const T *, I, T, T *, I);
#define XW_BATCH_F77_TYPE(name, PREC, T, I)                                                      \
    typedef void xw_f77_##name##_fn(const char *, const char *, const I *, const I *, const I *,  \
                                    const T *, const T *const *, const I *, const T *const *,    \
                                    const I *, const T *, T *const *, const I *, const I *,      \
                                    const I *, size_t, size_t);
#define XW_BATCH_CBLAS_TYPE(name, PREC, T, I)                                                    \
    typedef void xw_cblas_##name##_fn(int, const int *, const int *, const I *, const I *,        \
                                      const I *, const T *, const T *const *, const I *,         \
                                      const T *const *, const I *, const T *, T *const *,        \
                                      const I *, I, const I *);
#define XW_STRIDED_F77_TYPE(name, PREC, T, I)                                                    \
    typedef void xw_f77_##name##_fn(const char *, const char *, const I *, const I *, const I *,  \
                                    const T *, const T *, const I *, const I *, const T *,       \
                                    const I *, const I *, const T *, T *, const I *, const I *,  \
                                    const I *, size_t, size_t);
#define XW_STRIDED_CBLAS_TYPE(name, PREC, T, I)                                                  \
    typedef void xw_cblas_##name##_fn(int, int, int, I, I, I, T, const T *, I, I, const T *, I,   \
                                      I, T, T *, I, I, I);
XW_GEMV_F77_ENTRIES(XW_GEMV_F77_TYPE)
XW_GEMV_CBLAS_ENTRIES(XW_GEMV_CBLAS_TYPE)
XW_SYRK_F77_ENTRIES(XW_SYRK_F77_TYPE)
XW_SYRK_CBLAS_ENTRIES(XW_SYRK_CBLAS_TYPE)
XW_BATCH_F77_ENTRIES(XW_BATCH_F77_TYPE)
XW_BATCH_CBLAS_ENTRIES(XW_BATCH_CBLAS_TYPE)
XW_STRIDED_F77_ENTRIES(XW_STRIDED_F77_TYPE)
XW_STRIDED_CBLAS_ENTRIES(XW_STRIDED_CBLAS_TYPE)
#undef XW_GEMV_F77_TYPE
#undef XW_GEMV_CBLAS_TYPE
#undef XW_SYRK_F77_TYPE
#undef XW_SYRK_CBLAS_TYPE
#undef XW_BATCH_F77_TYPE
#undef XW_BATCH_CBLAS_TYPE
#undef XW_STRIDED_F77_TYPE
#undef XW_STRIDED_CBLAS_TYPE

// The family of each exported name; xsmmwrap_family in include/xsmmwrap.h numbers them alike.
typedef enum { XW_FAM_GEMM = 0, XW_FAM_GEMV, XW_FAM_SYRK, XW_FAM_BATCH, XW_FAM_COUNT } xw_family;

// Functions in env.c: the configuration, read once from the environment.
typedef struct {
    int64_t max_mnk;
    double max_side;  // cbrt(max_mnk), the threshold's side: other families' limits scale with it
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
    const char *tune_path;   // XSMMWRAP_TUNE, else the default cache file when it exists; NULL: none
    char tune_default[4096]; // this CPU's default cache file, present or not ("" without a home)
    const char *bad_name, *bad_value;  // the first setting not understood (its default used)
    // Settings naming a file that cannot serve (XSMMWRAP_DUMP not a writable directory): the
    // setting is dropped and report.c names it at init.
    struct xw_unusable { const char *name, *value, *why; } unusable[2];
    int nunusable;
} xw_env;
XW_HIDDEN extern xw_env xw_cfg;
XW_HIDDEN void xw_env_read(xw_env *out);

// Functions in route.c (its hot path is inline in route_fast.h)
// A call's raw arguments as one entry point received them, packed into words that compare
// exactly: equal keys mean the same entry point with the same arguments, hence the same route
// and kernel. Bit 63 of w[3] is set in every key, so the empty record matches nothing.
typedef struct {
    uint64_t w[6];
} xw_call_key;

// A call that ran a kernel, and the counters it bumps. Each thread remembers its last such call
// (xw_last, which every adapter checks first) and XW_RECENT more by a hash of their keys
// (xw_recent, which the miss path checks before the full route: programs that take turns among
// a few shapes then skip the route too). route.c records them; stats.c drops them when the
// thread's counters are given up. The table is allocated at a thread's first kernel call: in
// static TLS it would be too large for a library loaded by dlopen().
typedef struct {
    xw_call_key key;
    const xw_kernel *kernel;
    _Atomic uint64_t *kernel_calls, *sym_calls;
} xw_last_call;
#define XW_RECENT_BITS 4
#define XW_RECENT (1 << XW_RECENT_BITS)
typedef struct {
    xw_last_call e[XW_RECENT];
} xw_recent_calls;
XW_HIDDEN extern _Thread_local xw_last_call xw_last __attribute__((tls_model("initial-exec")));
XW_HIDDEN extern _Thread_local xw_recent_calls *xw_recent __attribute__((tls_model("initial-exec")));

// The wrapper's own routes (a kernel, or C = beta*C); every other one is the original BLAS's.
static inline bool xw_route_served(xsmmwrap_route r)
{
    return r == XSMMWRAP_ROUTE_JIT || r == XSMMWRAP_ROUTE_PORTABLE || r == XSMMWRAP_ROUTE_SCALE;
}

XW_HIDDEN void xw_init(void);  // idempotent, thread-safe; every entry calls it through route
XW_HIDDEN bool xw_initialized(void);
// The full decision: serves the call (on the kernel path, or C = beta*C when there is nothing
// to multiply) and returns true, or counts why not and returns false: the caller then calls
// the original BLAS with its untouched arguments.
// A call that ran a kernel becomes this thread's last call under key (unless NULL).
XW_HIDDEN bool xw_route_slow(const xw_gemm_args *g, const xw_call_key *key);
// The same decision for xsmmwrap_gemm(), which has no caller's original to decline to: a
// declined valid call goes to the process's dgemm_/sgemm_ when it has one (counted under the
// reason), else to the portable kernel (counted as portable). Returns the route counted;
// XSMMWRAP_ROUTE_INVALID (even when disabled) means nothing ran.
XW_HIDDEN xsmmwrap_route xw_route_api(const xw_gemm_args *g);
// The decision for a call the wrapper may serve, without running or counting it: JIT with *kn
// the kernel (its jit field says generated or portable), SCALE (nothing to multiply: the
// caller does C = beta*C), or the reason it declines.
XW_HIDDEN xsmmwrap_route xw_route_kernel(const xw_gemm_args *g, const xw_kernel **kn);
XW_HIDDEN bool xw_route_valid(const xw_gemm_args *g);  // the reference BLAS argument checks
// Counts `products` products of symbol s on kernel kn (one call of s when calls is 1, none when
// 0: a batch counts its call once) and, with a key, makes it this thread's last and recent call.
XW_HIDDEN void xw_route_count_kernel(xw_sym s, const xw_kernel *kn, uint64_t calls,
                                     uint64_t products, const xw_call_key *key);
// Runs kernel kn with scalars passed by value (CBLAS), nothing counted.
XW_HIDDEN void xw_run_f64(const xw_kernel *kn, const void *a, const void *b, void *c, double alpha,
                          double beta);
XW_HIDDEN void xw_run_f32(const xw_kernel *kn, const void *a, const void *b, void *c, float alpha,
                          float beta);
// 1, -1 and 0 indexed by xw_scale (the classes before ANY are baked in): what a kernel with a
// baked-in scale class may be given.
XW_HIDDEN extern const double xw_scale_f64[XW_SCALE_ANY];
XW_HIDDEN extern const float xw_scale_f32[XW_SCALE_ANY];

// Functions in route_family.c: GEMV, SYRK and batches as GEMM calls through the one decision
// above. Each returns true when the wrapper served the call (counted), false when the caller
// must call the original with its untouched arguments (counted under the reason).
// GEMV in the column-major view (CBLAS row-major: m and n swapped, the transpose flipped).
typedef struct {
    xw_prec prec;
    char trans;
    int64_t m, n;
    const void *alpha, *a;
    int64_t lda;
    const void *x;
    int64_t incx;
    const void *beta;
    void *y;
    int64_t incy;
    xw_sym sym;
} xw_gemv_args;
XW_HIDDEN bool xw_route_gemv(const xw_gemv_args *v, const xw_call_key *key);
// SYRK in the column-major view (CBLAS row-major: uplo and the transpose flipped).
typedef struct {
    xw_prec prec;
    char uplo, trans;
    int64_t n, k;
    const void *alpha, *a;
    int64_t lda;
    const void *beta;
    void *c;
    int64_t ldc;
    xw_sym sym;
} xw_syrk_args;
XW_HIDDEN bool xw_route_syrk(const xw_syrk_args *s, const xw_call_key *key);
// A strided batch: count products g with A, B and C advanced by their strides (in elements).
typedef struct {
    xw_gemm_args g;
    int64_t stride_a, stride_b, stride_c, count;
} xw_strided_args;
XW_HIDDEN bool xw_route_strided(const xw_strided_args *s);
// A grouped batch as the caller passed it: per-group arrays of isize-byte integers, transposes
// as characters (Fortran) or CBLAS values (cblas, with its layout), per-group scalars, and
// pointer arrays with one entry per product, group after group. forward(v, group, first)
// passes one group, whose first product is pointer entry `first`, to the original.
typedef struct xw_batch_args xw_batch_args;
typedef void xw_batch_forward(const xw_batch_args *v, int64_t group, int64_t first);
struct xw_batch_args {
    xw_prec prec;
    bool cblas;
    int order;
    size_t isize;
    const void *ta, *tb, *m, *n, *k, *lda, *ldb, *ldc, *size;
    const void *alpha, *beta;
    const void *const *a, *const *b;
    void *const *c;
    int64_t groups;
    xw_sym sym;
    xw_batch_forward *forward;
};
XW_HIDDEN bool xw_route_batch(const xw_batch_args *v);
// This thread's scratch for SYRK's square (freed at its exit by stats.c).
XW_HIDDEN extern _Thread_local void *xw_scratch __attribute__((tls_model("initial-exec")));

// Functions in json.c: a strict JSON reader into a tree (for the tuning file).
typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jkind;
typedef struct jval {
    union {
        struct {
            double num;          // J_NUM
            long long i;         // J_NUM: the integer when `integral`; J_BOOL: 1 for true
        };
        char *str;               // J_STR
        struct {
            struct jval *items;  // J_ARR, J_OBJ: n values
            char **keys;         // J_OBJ: their keys
        };
    };
    uint32_t n;
    uint8_t kind;                // jkind
    bool integral;               // J_NUM: an integer (no fraction, no exponent) that fits `i`
    void *arena;                 // the document's (json.c): where all of the above lives
} jval;  // 32 bytes: a 24 KB tuning file has ~2200 of them, touched twice as it is read
#define XW_JSON_ERR_BYTES 512
#define XW_JSON_DEPTH_MAX 8  // the tuning file nests 5 deep
// The document in text[0..n) into *out (free with xw_json_free); false with the first error in
// err (XW_JSON_ERR_BYTES), *out then empty.
XW_HIDDEN bool xw_json_parse(const char *text, size_t n, jval *out, char *err);
XW_HIDDEN void xw_json_free(jval *v);

// Functions in tune.c: the tuning file (xsmmwrap tune), read once at init.
XW_HIDDEN void xw_tune_load(void);  // from init: reads xw_cfg.tune_path, checks CPU and version
XW_HIDDEN extern _Atomic bool xw_tune_active;  // a file is in use (may still fail its BLAS check)
typedef enum { XW_TUNE_UNNAMED = 0, XW_TUNE_KERNEL, XW_TUNE_BLAS } xw_tune_choice;
// The file's choice for descriptor *d (hints clear) of a call through symbol s: KERNEL sets
// d's hints (plan, target), BLAS sends the call to the original; UNNAMED when the file does
// not name d or does not apply to s's original BLAS (checked once per symbol).
XW_HIDDEN xw_tune_choice xw_tune_choose(xw_sym s, xw_desc *d);
XW_HIDDEN int xw_tune_names(const xw_desc *d);  // 1 when an in-use file names d (hints ignored)
XW_HIDDEN void xw_tune_config(xsmmwrap_config *out);  // the tune_* fields

// Functions in blas_find.c: the original BLAS, per symbol, resolved once.
XW_HIDDEN xw_fn xw_blas_get(xw_sym s);  // never NULL: aborts with a message when there is none
XW_HIDDEN xw_fn xw_blas_try(xw_sym s);  // NULL when there is none
XW_HIDDEN void xw_blas_init(void);  // once, from xw_init: the fork handler of the finder's lock
XW_HIDDEN void xw_blas_set(xw_sym s, xw_fn f);  // f is the original of s, unless one was found
XW_HIDDEN const char *xw_sym_name(xw_sym s);
XW_HIDDEN xw_family xw_sym_family(xw_sym s);  // xsmmwrap_gemm's XW_SYM_API is GEMM

// What a tuning file records of a BLAS: the library that implements it (the object defining
// openblas_get_config or bli_info_get_version_str when the one holding f reaches one, else that
// one) by its real path and size, and its own account of itself (OpenBLAS: config and core).
typedef struct {
    char path[4096];
    long long bytes;
    char config[512];  // "" when the library says nothing
} xw_blas_id;
XW_HIDDEN bool xw_blas_identify(xw_fn f, xw_blas_id *out);  // false when f is in no object
typedef struct {
    uint64_t w[(XW_SYM_COUNT + 63) / 64];
} xw_sym_set;  // a bit per xw_sym
static inline bool xw_sym_set_has(const xw_sym_set *t, int s) { return t->w[s / 64] >> (s % 64) & 1; }
// The objects that served the originals resolved so far: their paths, each once, into out
// (at most n); returns how many. symbols[i] gets the symbols the i-th serves.
XW_HIDDEN int xw_blas_objects(char (*out)[4096], xw_sym_set *symbols, int n);

// Functions in stats.c: per-thread counters, summed on read. Each thread owns the counters it
// alone writes (relaxed load + store, see xw_bump); a call that ran a kernel is counted per
// kernel only, and its route (jit or portable) derived on reading.
#define XW_NO_KERNEL UINT32_MAX
static inline void xw_bump(_Atomic uint64_t *x)
{
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + 1, memory_order_relaxed);
}
// This thread's counter of calls of symbol s, and of calls that ran kernel id; NULL when out of
// memory (the call then runs uncounted).
XW_HIDDEN _Atomic uint64_t *xw_stats_sym_counter(xw_sym s);
XW_HIDDEN _Atomic uint64_t *xw_stats_kernel_counter(uint32_t id);
// One call of symbol s that ran no kernel went route r.
XW_HIDDEN void xw_stats_count(xw_sym s, xsmmwrap_route r);
// Batches: `products` products that went route r without a kernel; and one call of batch
// symbol s with the products it counted in the routes.
XW_HIDDEN void xw_stats_route_add(xsmmwrap_route r, uint64_t products);
XW_HIDDEN void xw_stats_batch_call(xw_sym s, uint64_t products);
static inline void xw_add(_Atomic uint64_t *x, uint64_t n)
{
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + n, memory_order_relaxed);
}
typedef struct {
    uint64_t sym[XW_SYM_COUNT];
    uint64_t route[XSMMWRAP_ROUTE_COUNT];  // products (a GEMM, GEMV or SYRK call is one)
    uint64_t batch_products;
    uint64_t *kernel;    // kernel_count entries, owned by the snapshot
    uint32_t kernel_count;
} xw_stats_snapshot;
XW_HIDDEN int xw_stats_read(xw_stats_snapshot *out);  // since the last reset
XW_HIDDEN void xw_stats_free(xw_stats_snapshot *s);
XW_HIDDEN int xw_stats_reset(void);
XW_HIDDEN size_t xw_stats_memory_bytes(void);

// Functions in api.c: the public C API of include/xsmmwrap.h.
// Each xw_target's name as the statistics, the JSON report and the tuning file spell it
// (xsmmwrap_target_name's; the scale classes' are kernels.h's xw_scale_names()).
XW_HIDDEN extern const char *const xw_target_text[XSMMWRAP_TARGET_COUNT];
XW_HIDDEN void xw_kernel_info(const xw_kernel *k, const xw_stats_snapshot *s,
                              xsmmwrap_kernel_info *out);

// Functions in report.c: everything the library prints.
XW_HIDDEN void xw_report_kernel_created(const xw_kernel *k);
XW_HIDDEN void xw_report_no_blas(const char *symbol);  // then abort()
XW_HIDDEN int xw_report_json(const char *path);
XW_HIDDEN void xw_report_at_exit(void);
XW_HIDDEN void xw_report_settings(void);  // at init: a setting that was not understood
// A setting naming a file the library cannot use, dropped: one line on stderr.
XW_HIDDEN void xw_report_unusable(const char *name, const char *value, const char *why);
XW_HIDDEN void xw_report_tune_ignored(const char *path, const char *why);

#endif
