// kernels.h: the one header src/wrap includes from the kernel layer: descriptors, kernels,
// the registry, the portable kernel, CPU detection. Grouped by the file that implements it.
#ifndef XW_KERNELS_H
#define XW_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define XW_HIDDEN __attribute__((visibility("hidden")))

typedef enum { XW_OK = 0, XW_ERR_NOMEM, XW_ERR_RANGE, XW_ERR_UNSUPPORTED, XW_ERR_ENCODE } xw_status;

// Element types: real double and single (dgemm, sgemm), complex double and single (zgemm,
// cgemm: interleaved (re, im) pairs).
typedef enum { XW_F64 = 0, XW_F32 = 1, XW_C64 = 2, XW_C32 = 3 } xw_prec;
#define XW_PREC_COUNT 4
_Static_assert(XW_C32 + 1 == XW_PREC_COUNT, "XW_PREC_COUNT counts xw_prec");
static inline bool xw_prec_complex(unsigned p) { return p == XW_C64 || p == XW_C32; }
// Bytes of one real part (8 or 4); an element is twice that when complex.
static inline unsigned xw_prec_part_bytes(unsigned p) { return p == XW_F64 || p == XW_C64 ? 8 : 4; }

// Transposes in descriptors and in the portable kernel: op(X) = X, X^T, or X^H (complex only;
// a real 'C' is 'T'). XW_TRANS_DOT, for op(A) only, is GEMV T's form (real precisions): op(A) =
// A^T, y = C an m x 1 column with n 1 and tb N, and each element the dot contract's sum over
// k (xw_ref_dot, docs/ARCHITECTURE.md); ldb and ldc are then the increments of x and y.
enum { XW_TRANS_N = 0, XW_TRANS_T = 1, XW_TRANS_C = 2, XW_TRANS_DOT = 3 };
// The dot form's k, in bytes of x, that kernels are generated for (gen_dot.c unrolls it); the
// route passes longer ones on.
#define XW_DOT_BYTES_MAX 2048

// How alpha or beta enters the code: the first three are baked in, ANY is read at call time.
typedef enum { XW_SCALE_ONE = 0, XW_SCALE_MINUS_ONE = 1, XW_SCALE_ZERO = 2, XW_SCALE_ANY = 3 } xw_scale;
enum { XW_SCALE_COUNT = XW_SCALE_ANY + 1 };

// The scale classes' names indexed by xw_scale, the one table of them: the statistics, the
// tuning file and, through xsmmwrap_scale_name(), the Python package spell them so (a kernel's
// name writes -1 as "m1").
static inline const char *const *xw_scale_names(void)
{
    static const char *const names[XW_SCALE_COUNT] = { "1", "-1", "0", "any" };
    return names;
}

// Same numbering as xsmmwrap_target in include/xsmmwrap.h.
typedef enum { XW_TARGET_GENERIC = 0, XW_TARGET_AVX2 = 1, XW_TARGET_AVX512 = 2 } xw_target;

// The registry key: every field the generated code depends on. 32 bytes, no padding holes.
// Column-major view; ta/tb are XW_TRANS_N, _T or _C. The route builds it and the registry
// compares it as four 64-bit words (w): narrow stores followed by a wide load would stall store
// forwarding. (A repeated call never builds one: the wrap layer matches its raw arguments.)
typedef union {
    struct {
        uint32_t m, n, k;
        uint32_t lda, ldb, ldc;
        uint8_t prec, ta, tb, alpha, beta;
        // A plan for the generator (0: its cost model decides): at most mb_max vectors along M
        // and nb_max columns per tile, and the target to generate for (0: the registry's; else
        // an xw_target, never above the registry's). Tuning (xsmmwrap tune) sets them; equal
        // descriptors with other hints are other kernels. No hint changes an element's value
        // (the arithmetic contract, docs/ARCHITECTURE.md): only the speed.
        uint8_t mb_max, nb_max;
        uint8_t target;
    };
    uint64_t w[4];
} xw_desc;
_Static_assert(sizeof(xw_desc) == 32, "xw_desc is a packed 32-byte key");

// One calling convention for generated and portable kernels (SysV: rdi, rsi, rdx, rcx, r8, r9).
// alpha/beta point to a double or float; generated code ignores d.
typedef void (*xw_kernel_fn)(const void *a, const void *b, void *c, const void *alpha,
                             const void *beta, const xw_desc *d);

typedef struct {
    xw_desc desc;
    xw_kernel_fn fn;
    uint32_t id;         // creation order, dense from 0
    uint8_t jit;         // 1 when fn is generated code
    uint8_t target;      // xw_target of the code
    uint32_t code_bytes; // size of the generated code, 0 for the portable kernel
} xw_kernel;

static inline bool xw_desc_equal(const xw_desc *a, const xw_desc *b)
{
    return ((a->w[0] ^ b->w[0]) | (a->w[1] ^ b->w[1]) | (a->w[2] ^ b->w[2]) | (a->w[3] ^ b->w[3])) == 0;
}

// The descriptor's words from its fields (little-endian layout of the struct above).
static inline xw_desc xw_desc_make(uint32_t m, uint32_t n, uint32_t k, uint32_t lda, uint32_t ldb,
                                   uint32_t ldc, unsigned prec, unsigned ta, unsigned tb,
                                   unsigned alpha, unsigned beta)
{
    xw_desc d;
    d.w[0] = m | (uint64_t)n << 32;
    d.w[1] = k | (uint64_t)lda << 32;
    d.w[2] = ldb | (uint64_t)ldc << 32;
    d.w[3] = prec | ta << 8 | tb << 16 | alpha << 24 | (uint64_t)beta << 32;
    return d;
}

// Scale class from the bit pattern: exact, cheaper than floating-point compares, and -0.0 is 0.
// A complex value is 1 or -1 when its real part is and its imaginary part is a zero.
static inline unsigned xw_scale_class_real(xw_prec p, const void *v)
{
    if (p == XW_F64 || p == XW_C64) {
        uint64_t b;
        memcpy(&b, v, sizeof b);
        return b == 0x3FF0000000000000u ? XW_SCALE_ONE : b == 0xBFF0000000000000u ? XW_SCALE_MINUS_ONE
             : (b << 1) == 0 ? XW_SCALE_ZERO : XW_SCALE_ANY;
    }
    uint32_t b;
    memcpy(&b, v, sizeof b);
    return b == 0x3F800000u ? XW_SCALE_ONE : b == 0xBF800000u ? XW_SCALE_MINUS_ONE
         : (uint32_t)(b << 1) == 0 ? XW_SCALE_ZERO : XW_SCALE_ANY;
}

static inline unsigned xw_scale_class(xw_prec p, const void *v)
{
    const unsigned re = xw_scale_class_real(p, v);
    if (!xw_prec_complex(p))
        return re;
    const unsigned im = xw_scale_class_real(p, (const char *)v + xw_prec_part_bytes(p));
    return im == XW_SCALE_ZERO ? re : XW_SCALE_ANY;
}


// Functions in cpu.c
XW_HIDDEN xw_target xw_cpu_detect(void);  // best target the CPU and the OS support
// The CPU's identity as a tuning file records it: CPUID's vendor string, and family, model and
// stepping as Intel and AMD document them (extended fields added), with the best target.
typedef struct {
    char vendor[13];
    int family, model, stepping;
    xw_target target;
} xw_cpu_id;
XW_HIDDEN void xw_cpu_identify(xw_cpu_id *out);

// Functions in ref_gemm.c (the portable kernel)
// Column-major C = alpha*op(A)*op(B) + beta*C with BLAS semantics: beta == 0 never reads C,
// alpha == 0 never reads A or B, m, n or k == 0 handled; ta, tb XW_TRANS_*. Arguments must be
// valid. Its arithmetic is the contract every kernel keeps (docs/ARCHITECTURE.md).
XW_HIDDEN void xw_ref_gemm(xw_prec prec, unsigned ta, unsigned tb, int64_t m, int64_t n, int64_t k,
                           const void *alpha, const void *a, int64_t lda, const void *b,
                           int64_t ldb, const void *beta, void *c, int64_t ldc);
// The same behind the kernel calling convention (the dot form's too).
XW_HIDDEN void xw_ref_kernel(const void *a, const void *b, void *c, const void *alpha,
                             const void *beta, const xw_desc *d);
// Column-major C = beta*C (a GEMM with alpha == 0 or k == 0), with the same BLAS semantics:
// beta == 0 writes +0.0 without reading C, beta == 1 touches nothing. m, n >= 0, ldc >= m.
XW_HIDDEN void xw_ref_scale(xw_prec prec, int64_t m, int64_t n, const void *beta, void *c,
                            int64_t ldc);

// Functions in ref_dot.c (the dot form, real precisions)
// y = alpha*A^T x + beta*y, A k x m (lda), x and y with positive increments: each y(i) the
// dot contract's (L = 64 bytes / element lanes, each a chain over every L-th element of the
// column in order from +0, summed by halving), then the GEMM contract's epilogue. beta == 0
// never reads y; alpha 0 and k 0 are the route's (y = beta*y).
XW_HIDDEN void xw_ref_dot(xw_prec prec, int64_t m, int64_t k, const void *alpha, const void *a,
                          int64_t lda, const void *x, int64_t incx, const void *beta, void *y,
                          int64_t incy);

// Functions in ref_syrk.c (SYRK's triangle, real precisions)
// C's triangle (upper or lower, diagonal included) from s, the n x n square op(A)op(A)^T a
// kernel wrote with alpha class 1 (-1 when alpha is -1) and beta 0: the contract's epilogue of
// alpha's and beta's classes per element. beta 0 never reads C; the other triangle is never
// touched.
XW_HIDDEN void xw_ref_syrk_epilogue(xw_prec prec, bool upper, int64_t n, const void *alpha,
                                    const void *beta, const void *s, int64_t lds, void *c,
                                    int64_t ldc);
// C = beta*C on one triangle, as xw_ref_scale does it (beta 0 writes zeros without reading).
XW_HIDDEN void xw_ref_scale_tri(xw_prec prec, bool upper, int64_t n, const void *beta, void *c,
                                int64_t ldc);

// Functions in registry.c
typedef struct {
    uint32_t capacity;   // most kernels kept
    xw_target target;    // code generation target; GENERIC means portable kernels only
    bool trylock;        // return XW_REG_BUSY instead of waiting for the generation lock
    const char *dump_dir;// write each generated kernel's bytes there (NULL: no dump)
} xw_reg_params;

typedef enum {
    XW_REG_FOUND = 0,  // *out is an existing kernel
    XW_REG_CREATED,    // *out was made by this call
    XW_REG_FULL,       // no room: the caller declines
    XW_REG_BUSY,       // trylock and the lock was taken: the caller declines
} xw_reg_result;

XW_HIDDEN void xw_reg_init(const xw_reg_params *p);  // once, before any other call
XW_HIDDEN const xw_kernel *xw_reg_probe(const xw_desc *d);   // lock-free; NULL when absent
XW_HIDDEN xw_reg_result xw_reg_get(const xw_desc *d, const xw_kernel **out);
XW_HIDDEN uint32_t xw_reg_count(void);
XW_HIDDEN const xw_kernel *xw_reg_at(uint32_t i);  // i < xw_reg_count()
XW_HIDDEN uint64_t xw_reg_jit_failures(void);
// Memory held, each page once: the table, kernel records, the generator's buffer pages in use
// and the code memory allocated.
XW_HIDDEN size_t xw_reg_memory_bytes(void);
XW_HIDDEN size_t xw_reg_code_bytes(void);          // bytes of generated code
// Kernel name as in reports and dumps: "dgemm_avx2_nt_8x8x8_lda8_ldb8_ldc8_a1_b0"; the target
// is "portable" for the portable kernel.
XW_HIDDEN void xw_kernel_name(const xw_kernel *k, char *out, size_t n);

#endif
