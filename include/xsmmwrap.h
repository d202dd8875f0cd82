/* xsmmwrap.h: the public C API of libxsmmwrap, the GEMM call wrapper.
 *
 * The library intercepts the BLAS GEMM entry points of a program (dgemm_, sgemm_, zgemm_,
 * cgemm_, cblas_dgemm... and their ILP64 and scipy_ forms), and GEMV, SYRK and the batch
 * interfaces, and serves small products with generated code. This header is for
 * programs and tools that want to look inside: statistics, kernels, configuration, and a
 * direct GEMM call. The Python package binds the block between XSMMWRAP_CDEF_BEGIN and
 * XSMMWRAP_CDEF_END with cffi, so that block is plain C: no macros, no includes.
 */
#ifndef XSMMWRAP_H
#define XSMMWRAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* XSMMWRAP_CDEF_BEGIN */

/** Status codes returned by the functions below; 0 is success. */
typedef enum xsmmwrap_status {
    XSMMWRAP_OK = 0,
    XSMMWRAP_EINVAL = 1,    /**< an argument is invalid (as BLAS would report it) */
    XSMMWRAP_ERANGE = 2,    /**< an index is out of range */
    XSMMWRAP_EIO = 3,       /**< a file could not be written */
    XSMMWRAP_ENOMEM = 4,    /**< out of memory */
    XSMMWRAP_STATUS_COUNT = 5
} xsmmwrap_status;

/** Where a call went. The first three are the wrapper's own (a kernel, or no kernel needed),
 *  the rest the original BLAS with the reason the wrapper did not serve it. */
typedef enum xsmmwrap_route {
    XSMMWRAP_ROUTE_JIT = 0,        /**< generated machine code */
    XSMMWRAP_ROUTE_PORTABLE = 1,   /**< the portable C kernel */
    XSMMWRAP_ROUTE_SCALE = 2,      /**< alpha = 0, K = 0, M = 0 or N = 0: C = beta*C by the
                                        wrapper at any size, A and B never read */
    XSMMWRAP_ROUTE_TOO_LARGE = 3,  /**< M*N*K above the threshold (XSMMWRAP_MAX_MNK; complex:
                                        4*M*N*K) */
    XSMMWRAP_ROUTE_UNSUPPORTED = 4,/**< a shape or stride the kernel path does not handle */
    XSMMWRAP_ROUTE_INVALID = 5,    /**< invalid arguments: the original BLAS reports them */
    XSMMWRAP_ROUTE_DISABLED = 6,   /**< XSMMWRAP_DISABLE=1 */
    XSMMWRAP_ROUTE_FULL = 7,       /**< the kernel registry is full (XSMMWRAP_MAX_KERNELS) */
    XSMMWRAP_ROUTE_LOCK_BUSY = 8,  /**< LIBXSMM_TRYLOCK=1 and another thread was generating */
    XSMMWRAP_ROUTE_TUNED_BLAS = 9, /**< the tuning file (XSMMWRAP_TUNE) measured the original
                                        BLAS faster for this call's descriptor */
    XSMMWRAP_ROUTE_COUNT = 10
} xsmmwrap_route;

/** What became of the tuning file (XSMMWRAP_TUNE, or the default cache file). */
typedef enum xsmmwrap_tune_state {
    XSMMWRAP_TUNE_NONE = 0,        /**< no file: XSMMWRAP_TUNE=0, or unset with no cache file */
    XSMMWRAP_TUNE_IN_USE = 1,      /**< read, made for this CPU, library and BLAS */
    XSMMWRAP_TUNE_IGNORED = 2      /**< not used (tune_reason says why): default routing */
} xsmmwrap_tune_state;

/** Code generation targets. */
typedef enum xsmmwrap_target {
    XSMMWRAP_TARGET_GENERIC = 0,   /**< portable C kernel only */
    XSMMWRAP_TARGET_AVX2 = 1,      /**< AVX2 + FMA generated code */
    XSMMWRAP_TARGET_AVX512 = 2,    /**< AVX-512F generated code */
    XSMMWRAP_TARGET_COUNT = 3
} xsmmwrap_target;

/** The families of entry points: GEMM, GEMV, SYRK, and the batches (?gemm_batch and
 *  ?gemm_batch_strided). A GEMM, GEMV or SYRK call is one product; a batch call is as many
 *  products as it names. */
typedef enum xsmmwrap_family {
    XSMMWRAP_FAMILY_GEMM = 0,
    XSMMWRAP_FAMILY_GEMV = 1,
    XSMMWRAP_FAMILY_SYRK = 2,
    XSMMWRAP_FAMILY_BATCH = 3,
    XSMMWRAP_FAMILY_COUNT = 4
} xsmmwrap_family;

/** Counters summed over all threads since load or the last xsmmwrap_reset_stats(). Routes count
 *  products: a GEMM, GEMV or SYRK call is one, a batch call counts each of its products under
 *  the route that product took (a batch the wrapper declines whole: the products it names, at
 *  least one). */
typedef struct xsmmwrap_stats {
    uint64_t intercepted;                  /**< products that reached the wrapper: the sum of
                                                by_route (the calls, when only GEMM was called) */
    uint64_t by_route[10];                 /**< indexed by xsmmwrap_route (COUNT entries) */
    uint64_t kernels;                      /**< kernels in the registry (not reset) */
    uint64_t jit_kernels;                  /**< of which generated code (not reset) */
    uint64_t jit_failures;                 /**< generations that fell back to the portable kernel */
    uint64_t code_bytes;                   /**< bytes of generated code (not reset) */
    uint64_t memory_bytes;                 /**< memory held, each page once: code, registry,
                                                generator buffer, statistics (docs/REPORT.md) */
    double kernel_gflop;                   /**< floating-point work done on the kernel path
                                                (a complex multiply-add counts 8) */
    uint64_t calls;                        /**< calls of the entry points (xsmmwrap_gemm too) */
    uint64_t family_calls[4];              /**< calls per xsmmwrap_family (COUNT entries) */
    uint64_t family_products[4];           /**< products per xsmmwrap_family; they add up to
                                                intercepted */
    uint64_t tuned_calls;                  /**< calls the tuning file routed otherwise than the
                                                defaults: by_route[TUNED_BLAS] + the calls of
                                                tuned kernels */
} xsmmwrap_stats;

/** One kernel of the registry, with its call counts. */
typedef struct xsmmwrap_kernel_info {
    int precision;          /**< bits of the element type: 64 or 32 real (dgemm, sgemm), 128 or
                                 64 complex (zgemm, cgemm) */
    int is_complex;         /**< 1 for complex elements (zgemm, cgemm), else 0 */
    char trans_a;           /**< 'N', 'T' or 'C' (conjugate transpose, complex only), in the
                                 column-major view; 'D' for a transposed GEMV's kernel (op(A) =
                                 A^T, each element a dot product: docs/ARCHITECTURE.md), whose
                                 ldb and ldc are the increments of x and y */
    char trans_b;
    int64_t m, n, k;
    int64_t lda, ldb, ldc;
    int alpha_class;        /**< 1, -1, 0, or 2 for any other value */
    int beta_class;         /**< 1, -1, 0, or 2 for any other value */
    int jit;                /**< 1 if generated code, 0 if the portable kernel */
    int target;             /**< xsmmwrap_target the code was made for */
    uint64_t code_bytes;    /**< size of the generated code (0 for the portable kernel) */
    uint64_t calls;         /**< calls since the last reset */
    double gflop;           /**< work done since the last reset */
    int tuned;              /**< 1 when the tuning file chose it over the default routing */
    int mb_max, nb_max;     /**< the plan asked for (tile limits; 0: the cost model's) */
} xsmmwrap_kernel_info;

/** The configuration in effect, read once from the environment at first use. */
typedef struct xsmmwrap_config {
    int64_t max_mnk;        /**< XSMMWRAP_MAX_MNK: largest M*N*K served by a kernel, in real
                                 multiply-adds (a complex call's 4*M*N*K) */
    int64_t max_kernels;    /**< XSMMWRAP_MAX_KERNELS: registry capacity */
    int disabled;           /**< XSMMWRAP_DISABLE */
    int jit;                /**< XSMMWRAP_JIT (0 = portable kernel only) */
    int target;             /**< xsmmwrap_target in use (after LIBXSMM_TARGET / XSMMWRAP_TARGET) */
    int cpu_target;         /**< best xsmmwrap_target the CPU and OS support */
    int trylock;            /**< LIBXSMM_TRYLOCK */
    int verbosity;          /**< LIBXSMM_VERBOSE / XSMMWRAP_VERBOSE */
    const char *tune_file;  /**< the tuning file read (XSMMWRAP_TUNE, else the default cache
                                 file when it exists); NULL when none */
    int tune_state;         /**< xsmmwrap_tune_state */
    const char *tune_reason;/**< why the file is ignored ("" otherwise) */
    int64_t tune_entries;   /**< descriptors the file names (0 unless in use) */
    int64_t tune_moved;     /**< of those, the ones whose choice differs from the default
                                 routing here: only their calls are routed by the file */
    const char *tune_default; /**< this CPU's default cache file, present or not
                                   ($XDG_CACHE_HOME/xsmmwrap/tune-....json) */
} xsmmwrap_config;

/** Version string of the library, e.g. "0.1.0". */
const char *xsmmwrap_version(void);

/** Message for a status code (never NULL). */
const char *xsmmwrap_strerror(int status);

/** Name of a route ("jit", "portable", "too_large", ...), NULL when out of range. */
const char *xsmmwrap_route_name(int route);

/** Name of a family ("gemm", "gemv", "syrk", "batch"), NULL when out of range. */
const char *xsmmwrap_family_name(int family);

/** Name of a target ("generic", "avx2", "avx512"), NULL when out of range. */
const char *xsmmwrap_target_name(int target);

/** Name of a scale class as xsmmwrap_kernel_info numbers it (1, -1, 0, 2): "1", "-1", "0",
 *  "any" (the statistics' and the tuning file's spelling); NULL when out of range. */
const char *xsmmwrap_scale_name(int scale_class);

/** Fill *out with the configuration in effect. */
int xsmmwrap_get_config(xsmmwrap_config *out);

/** Current verbosity (see LIBXSMM_VERBOSE). */
int xsmmwrap_get_verbosity(void);

/** Change the verbosity at run time; it decides what is printed at exit. */
int xsmmwrap_set_verbosity(int level);

/** Fill *out with the statistics summed over all threads. */
int xsmmwrap_get_stats(xsmmwrap_stats *out);

/** Zero the call counters (kernels stay in the registry). */
int xsmmwrap_reset_stats(void);

/** Number of exported symbols the library counts calls for (every family, xsmmwrap_gemm). */
int xsmmwrap_symbol_count(void);

/** Name of symbol i and its call count since the last reset. */
int xsmmwrap_symbol_get(int i, const char **name, uint64_t *calls);

/** Number of kernels in the registry. */
int xsmmwrap_kernel_count(void);

/** Fill *out with kernel i (0 <= i < xsmmwrap_kernel_count()), in creation order. */
int xsmmwrap_kernel_get(int i, xsmmwrap_kernel_info *out);

/** Write the statistics as JSON to path (the format of XSMMWRAP_STATS_JSON). */
int xsmmwrap_write_json(const char *path);

/** Column-major GEMM, C = alpha*op(A)*op(B) + beta*C, through the wrapper's routing.
 *  precision is 64 or 32; alpha/beta point to a double or float accordingly. Valid calls the
 *  wrapper declines go to the process's dgemm_/sgemm_ when it has one and the sizes fit its
 *  32-bit integers (counted under the reason), else to the portable kernel (counted as
 *  portable). Returns XSMMWRAP_EINVAL for arguments BLAS would reject (counted as invalid,
 *  nothing written). */
int xsmmwrap_gemm(int precision, char trans_a, char trans_b, int64_t m, int64_t n, int64_t k,
                  const void *alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
                  const void *beta, void *c, int64_t ldc);

/** Redirect the GEMM calls of every object already loaded in the process to this library,
 *  without LD_PRELOAD: each PLT/GOT slot or function pointer in data (R_X86_64_JUMP_SLOT,
 *  GLOB_DAT, 64) naming one of the exported GEMM names gets this library's entry point; the
 *  value it held becomes the original that declined calls go to. Objects that define such a
 *  name (the BLAS libraries) and this library are left alone. Call it again after loading more
 *  objects: it only looks at objects not seen yet (cheap when nothing was loaded). Slots that
 *  cannot be redirected are listed by xsmmwrap_skip_get(). Thread-safe; other threads may call
 *  GEMM meanwhile. Returns XSMMWRAP_EINVAL where unsupported (not x86-64, or not the shared
 *  libxsmmwrap.so, e.g. libxsmmwrap.a linked into another object), XSMMWRAP_ENOMEM when out
 *  of memory. */
int xsmmwrap_enable(void);

/** Undo xsmmwrap_enable(): every redirected slot of an object still loaded that still holds
 *  this library's address gets its saved value back. Function pointers copied from a slot in
 *  the meantime keep pointing here (and keep working). Returns XSMMWRAP_EIO when a slot could
 *  not be written back. */
int xsmmwrap_disable(void);

/** 1 between xsmmwrap_enable() and xsmmwrap_disable(), else 0. */
int xsmmwrap_enabled(void);

/** Number of slots redirected now. */
int xsmmwrap_patch_count(void);

/** Slot i (0 <= i < xsmmwrap_patch_count()): the path of the object it belongs to and the GEMM
 *  name it was bound to. The strings stay valid for the life of the process. */
int xsmmwrap_patch_get(int i, const char **object, const char **symbol);

/** Number of slots naming a GEMM entry that xsmmwrap_enable() found but could not redirect,
 *  since the last xsmmwrap_disable(). */
int xsmmwrap_skip_count(void);

/** Skipped slot i: the object's path and why (beginning with the symbol name). The strings
 *  stay valid for the life of the process. */
int xsmmwrap_skip_get(int i, const char **object, const char **reason);

/* XSMMWRAP_CDEF_END */

/* The cdef block is plain C, so the lengths of by_route and the family arrays are written as
 * numbers there: the library's build (C11) checks them against the counts of their enums. */
#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(((xsmmwrap_stats *)0)->by_route) / sizeof(uint64_t) == XSMMWRAP_ROUTE_COUNT,
               "xsmmwrap_stats.by_route has one entry per route");
_Static_assert(sizeof(((xsmmwrap_stats *)0)->family_calls) / sizeof(uint64_t) ==
                   XSMMWRAP_FAMILY_COUNT, "xsmmwrap_stats.family_calls has one entry per family");
_Static_assert(sizeof(((xsmmwrap_stats *)0)->family_products) / sizeof(uint64_t) ==
                   XSMMWRAP_FAMILY_COUNT, "xsmmwrap_stats.family_products has one entry per family");
#endif

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
