// route_family.c: GEMV, SYRK and the batches as GEMM calls. Each maps its call onto GEMM
// arguments and goes through route.c's one decision and the registry (no second route); what
// it declines is counted under the reason and left to the caller's original. Calls route.c,
// the portable layer (C = beta*C, SYRK's epilogue) and stats.
#include <stdlib.h>
#include <string.h>

#include "adapters.h"

// Transpose character -> 1 + transposed, 0 for an invalid one (route.c's table).
static const uint8_t trans_code[256] = {
    ['N'] = 1, ['n'] = 1, ['T'] = 2, ['t'] = 2, ['C'] = 2, ['c'] = 2,
};

static inline int64_t max1(int64_t x) { return x > 1 ? x : 1; }
static inline int64_t abs64(int64_t x) { return x < 0 ? -x : x; }
static size_t elem_bytes(xw_prec p) { return xw_prec_part_bytes(p) * (xw_prec_complex(p) ? 2u : 1u); }

// ---------------------------------------------------------------------------------------------
// GEMV: y = alpha*op(A)*x + beta*y, op(A) M x K (M = m, K = n; transposed M = n, K = m).

// The reference BLAS argument checks (xerbla positions 1, 2, 3, 6, 8, 11).
static bool gemv_valid(const xw_gemv_args *v)
{
    return trans_code[(unsigned char)v->trans] && v->m >= 0 && v->n >= 0 &&
           v->lda >= max1(v->m) && v->incx != 0 && v->incy != 0;
}

// The GEMM call a GEMV is (positive increments). A real transposed one (numpy's matrix @
// vector on a C-ordered matrix) takes the dot form: y(i) a dot product over column i of A,
// contiguous, in the lanes of a 64-byte vector (ref_dot.c's contract), x and y at their
// increments; the GEMM contract's one chain per element would read A^T across its rows, which
// OpenBLAS's dot products outran past 16 x 16 (docs/BENCHMARKS.md). Otherwise, y contiguous:
// y = op(A)x, C = y of M x 1, B = x of K x 1 (x strided: a 1 x K row with ld incx, taken
// transposed); else y^T = x^T op(A)^T: C = y^T, a 1 x M row with ldc incy, A = x^T (1 x K, lda
// incx), B = op(A)^T. Element i is the chain of fma(a(i,p), x(p), s) either way (fma's
// product commutes), so both forms give the contract's bits (tests/test_families.py checks
// them against dgemm_, and the dot form against the increments).
static bool gemv_dot(const xw_gemv_args *v, bool t) { return t && !xw_prec_complex(v->prec); }

static xw_gemm_args gemv_as_gemm(const xw_gemv_args *v, bool t, int64_t m, int64_t k)
{
    if (gemv_dot(v, t))
        return (xw_gemm_args){ v->prec, 'T', 'N', m, 1, k, v->alpha, v->a, v->lda, v->x, v->incx,
                               v->beta, v->y, v->incy, v->sym, true };
    if (v->incy == 1)
        return (xw_gemm_args){ v->prec, t ? 'T' : 'N', v->incx == 1 ? 'N' : 'T', m, 1, k,
                               v->alpha, v->a, v->lda, v->x, v->incx == 1 ? max1(k) : v->incx,
                               v->beta, v->y, max1(m), v->sym, false };
    return (xw_gemm_args){ v->prec, 'N', t ? 'N' : 'T', 1, m, k, v->alpha, v->x, v->incx,
                           v->a, v->lda, v->beta, v->y, v->incy, v->sym, false };
}

// Transposed GEMVs served: real ones up to XW_DOT_BYTES_MAX bytes of x (the dot form's
// kernels unroll k); complex ones (the GEMM contract's transposed-A plan) up to side^2/16
// elements of A (256 at the default threshold, side 64), scaled with the threshold.
static bool gemv_t_too_large(const xw_gemv_args *v, int64_t m, int64_t k)
{
    if (gemv_dot(v, true))
        return (double)k * xw_prec_part_bytes(v->prec) > XW_DOT_BYTES_MAX;
    return (double)m * (double)k > xw_cfg.max_side * xw_cfg.max_side / 16.0;
}

bool xw_route_gemv(const xw_gemv_args *v, const xw_call_key *key)
{
    xw_init();
    xsmmwrap_route r;
    if (XW_UNLIKELY(xw_cfg.disabled)) {
        r = XSMMWRAP_ROUTE_DISABLED;
    } else if (!gemv_valid(v)) {
        r = XSMMWRAP_ROUTE_INVALID;
    } else {
        const bool t = trans_code[(unsigned char)v->trans] == 2;
        const int64_t m = t ? v->n : v->m, k = t ? v->m : v->n;
        // BLAS does nothing when A is empty (unlike GEMM with K = 0, y is not scaled), and only
        // y = beta*y when alpha is 0: A and x never read, beta 0 writes zeros without reading
        // y. The elements of y are the same whatever the sign of incy.
        if (!v->m || !v->n || xw_scale_class(v->prec, v->alpha) == XW_SCALE_ZERO) {
            if (v->m && v->n)
                xw_ref_scale(v->prec, 1, m, v->beta, v->y, abs64(v->incy));
            xw_stats_count(v->sym, XSMMWRAP_ROUTE_SCALE);
            return true;
        }
        if (t && gemv_t_too_large(v, m, k)) {
            r = XSMMWRAP_ROUTE_TOO_LARGE;
        } else if (v->incx > 0 && v->incy > 0) {
            const xw_gemm_args g = gemv_as_gemm(v, t, m, k);
            return xw_route_slow(&g, key);  // counts, under v->sym
        } else {
            r = XSMMWRAP_ROUTE_UNSUPPORTED;  // negative increments: the original's
        }
    }
    xw_stats_count(v->sym, r);
    return false;
}

// ---------------------------------------------------------------------------------------------
// SYRK: C = alpha*op(A)*op(A)^T + beta*C on one triangle, op(A) n x k.

static bool syrk_valid(const xw_syrk_args *s)
{
    const char u = s->uplo;
    const unsigned t = trans_code[(unsigned char)s->trans];
    return (u == 'U' || u == 'u' || u == 'L' || u == 'l') && t && s->n >= 0 && s->k >= 0 &&
           s->lda >= max1(t == 2 ? s->k : s->n) && s->ldc >= max1(s->n);
}

// This thread's scratch: a header with its size, the square after it (freed by stats.c when
// the thread exits). It only grows, so a call served before finds room again.
_Thread_local void *xw_scratch __attribute__((tls_model("initial-exec")));
enum { SCRATCH_HEAD = 64 };

static void *scratch(size_t bytes)
{
    size_t *have = xw_scratch;
    if (XW_LIKELY(have && *have >= bytes))
        return (char *)have + SCRATCH_HEAD;
    size_t *p = realloc(have, SCRATCH_HEAD + bytes);
    if (!p)
        return NULL;  // (the old block stays, and stays ours)
    *p = bytes;
    xw_scratch = p;
    return (char *)p + SCRATCH_HEAD;
}

// The kernel (alpha class 1, or -1 for alpha -1; beta 0) writes the square op(A)op(A)^T into
// scratch, and the contract's epilogue puts the triangle into C: each element of the triangle
// is the GEMM contract's with op(B) = op(A)^T, and the other triangle is never read or written.
static void syrk_run(const xw_syrk_args *s, const xw_kernel *kn, void *sq)
{
    const unsigned ac = xw_scale_class(s->prec, s->alpha) == XW_SCALE_MINUS_ONE
                            ? XW_SCALE_MINUS_ONE : XW_SCALE_ONE;
    const void *unit = s->prec == XW_F64 ? (const void *)&xw_scale_f64[ac] : &xw_scale_f32[ac];
    const void *zero = s->prec == XW_F64 ? (const void *)&xw_scale_f64[XW_SCALE_ZERO]
                                         : &xw_scale_f32[XW_SCALE_ZERO];
    kn->fn(s->a, s->a, sq, unit, zero, &kn->desc);
    xw_ref_syrk_epilogue(s->prec, s->uplo == 'U' || s->uplo == 'u', s->n, s->alpha, s->beta, sq,
                         s->n, s->c, s->ldc);
}

// Where the square stops paying, measured against OpenBLAS 0.3.21's dsyrk_ (SkylakeX kernels;
// Xeon family 6 model 167, docs/BENCHMARKS.md): n up to 48 gains 1.2x to 3.9x at every k of the
// threshold, n 56 and 64 gain 0.94x to 1.4x (the square's twice the work catches up). With A
// transposed, K above 128 meets the generator's slow plan for a transposed A of long K (TN
// 8x8x160: 7 us, 8x8x128: 0.56 us). Both limits scale with the size threshold's side (64 at
// the default XSMMWRAP_MAX_MNK), so that raising it serves more, as it does for GEMM.
static bool syrk_too_large(const xw_syrk_args *s)
{
    const double side = xw_cfg.max_side;
    return (double)s->n > 0.75 * side ||
           (trans_code[(unsigned char)s->trans] == 2 && (double)s->k > 2.0 * side);
}

bool xw_route_syrk(const xw_syrk_args *s, const xw_call_key *key)
{
    if (key && (xw_route_hit(key) || xw_route_recent(key))) {
        // Served before by this thread with these arguments: its scratch has room.
        syrk_run(s, xw_last.kernel, scratch((size_t)(s->n * s->n) * elem_bytes(s->prec)));
        return true;
    }
    xw_init();
    xsmmwrap_route r;
    if (XW_UNLIKELY(xw_cfg.disabled)) {
        r = XSMMWRAP_ROUTE_DISABLED;
    } else if (!syrk_valid(s)) {
        r = XSMMWRAP_ROUTE_INVALID;
    } else if (!s->n || !s->k || xw_scale_class(s->prec, s->alpha) == XW_SCALE_ZERO) {
        // Nothing to multiply: the triangle is beta*C (n = 0: nothing at all), A never read.
        xw_ref_scale_tri(s->prec, s->uplo == 'U' || s->uplo == 'u', s->n, s->beta, s->c, s->ldc);
        xw_stats_count(s->sym, XSMMWRAP_ROUTE_SCALE);
        return true;
    } else if (syrk_too_large(s)) {
        r = XSMMWRAP_ROUTE_TOO_LARGE;
    } else {
        const bool t = trans_code[(unsigned char)s->trans] == 2;
        const unsigned ac = xw_scale_class(s->prec, s->alpha) == XW_SCALE_MINUS_ONE
                                ? XW_SCALE_MINUS_ONE : XW_SCALE_ONE;
        const void *unit = s->prec == XW_F64 ? (const void *)&xw_scale_f64[ac] : &xw_scale_f32[ac];
        const void *zero = s->prec == XW_F64 ? (const void *)&xw_scale_f64[XW_SCALE_ZERO]
                                             : &xw_scale_f32[XW_SCALE_ZERO];
        const xw_gemm_args g = { s->prec, t ? 'T' : 'N', t ? 'N' : 'T', s->n, s->n, s->k, unit,
                                 s->a, s->lda, s->a, s->lda, zero, NULL, s->n, s->sym, false };
        const xw_kernel *kn;
        r = xw_route_kernel(&g, &kn);
        if (r == XSMMWRAP_ROUTE_JIT) {
            void *sq = scratch((size_t)(s->n * s->n) * elem_bytes(s->prec));
            if (sq) {
                xw_route_count_kernel(s->sym, kn, 1, 1, key);
                syrk_run(s, kn, sq);
                return true;
            }
            r = XSMMWRAP_ROUTE_UNSUPPORTED;  // out of memory for the scratch
        }
    }
    xw_stats_count(s->sym, r);
    return false;
}

// ---------------------------------------------------------------------------------------------
// Batches. The statistics count each call once under its symbol and each product under the
// route it took; a call passed on whole counts one product when invalid (it computes nothing),
// the products it names when disabled (at least one).

bool xw_route_strided(const xw_strided_args *s)
{
    const xw_gemm_args *g = &s->g;
    const uint64_t named = s->count > 0 ? (uint64_t)s->count : 0;
    const xw_kernel *kn = NULL;
    xsmmwrap_route r = xw_route_kernel(g, &kn);  // (xw_init first)
    if (r != XSMMWRAP_ROUTE_DISABLED && s->count < 0)
        r = XSMMWRAP_ROUTE_INVALID;
    if (r == XSMMWRAP_ROUTE_DISABLED || r == XSMMWRAP_ROUTE_INVALID) {
        const uint64_t n = r == XSMMWRAP_ROUTE_INVALID || !named ? 1 : named;
        xw_stats_route_add(r, n);
        xw_stats_batch_call(g->sym, n);
        return false;
    }
    if (s->stride_a < 0 || s->stride_b < 0 || s->stride_c < 0)
        r = XSMMWRAP_ROUTE_UNSUPPORTED;
    const size_t es = elem_bytes(g->prec);
    const ptrdiff_t da = (ptrdiff_t)((size_t)s->stride_a * es);
    const ptrdiff_t db = (ptrdiff_t)((size_t)s->stride_b * es);
    const ptrdiff_t dc = (ptrdiff_t)((size_t)s->stride_c * es);
    if (named && r == XSMMWRAP_ROUTE_SCALE) {
        char *c = g->c;
        for (uint64_t i = 0; i < named; i++, c += dc)
            xw_ref_scale(g->prec, g->m, g->n, g->beta, c, g->ldc);
    } else if (named && r == XSMMWRAP_ROUTE_JIT) {
        // One decision and one kernel for the whole batch; products may share A or B (stride
        // 0), and C blocks that overlap are the caller's undefined behaviour, as in BLAS.
        xw_route_count_kernel(g->sym, kn, 0, named, NULL);
        const xw_kernel_fn fn = kn->fn;
        const xw_desc *d = &kn->desc;
        const char *a = g->a, *b = g->b;
        char *c = g->c;
        for (uint64_t i = 0; i < named; i++, a += da, b += db, c += dc)
            fn(a, b, c, g->alpha, g->beta, d);
    } else if (named) {
        xw_stats_route_add(r, named);
        xw_stats_batch_call(g->sym, named);
        return false;
    }
    if (r != XSMMWRAP_ROUTE_JIT)
        xw_stats_route_add(XSMMWRAP_ROUTE_SCALE, named);
    xw_stats_batch_call(g->sym, named);
    return true;
}

static int64_t entry(const void *array, size_t isize, int64_t i)
{
    return isize == 8 ? ((const int64_t *)array)[i] : ((const int32_t *)array)[i];
}

// Group g of a grouped batch as one GEMM call in the column-major view, its pointers left out
// (each product has its own: xw_route_batch swaps A's and B's for row-major CBLAS).
static xw_gemm_args group_args(const xw_batch_args *v, int64_t g)
{
    const size_t es = elem_bytes(v->prec), is = v->isize;
    const void *alpha = (const char *)v->alpha + (size_t)g * es;
    const void *beta = (const char *)v->beta + (size_t)g * es;
    const int64_t m = entry(v->m, is, g), n = entry(v->n, is, g), k = entry(v->k, is, g);
    const int64_t lda = entry(v->lda, is, g), ldb = entry(v->ldb, is, g);
    const int64_t ldc = entry(v->ldc, is, g);
    if (v->cblas)
        return xw_cblas_args(v->prec, v->sym, v->order, ((const int *)v->ta)[g],
                             ((const int *)v->tb)[g], m, n, k, alpha, NULL, lda, NULL, ldb, beta,
                             NULL, ldc);
    return (xw_gemm_args){ v->prec, ((const char *)v->ta)[g], ((const char *)v->tb)[g], m, n, k,
                           alpha, NULL, lda, NULL, ldb, beta, NULL, ldc, v->sym, false };
}

bool xw_route_batch(const xw_batch_args *v)
{
    xw_init();
    // Every group is checked before anything runs: an invalid call goes to the original whole,
    // as it came, for its own error handler (OpenBLAS and MKL compute nothing then).
    uint64_t named = 0;
    bool ok = v->groups >= 0;
    for (int64_t g = 0; ok && g < v->groups; g++) {
        const int64_t size = entry(v->size, v->isize, g);
        const xw_gemm_args ga = group_args(v, g);
        ok = size >= 0 && xw_route_valid(&ga);
        named += size > 0 ? (uint64_t)size : 0;
    }
    if (XW_UNLIKELY(xw_cfg.disabled) || !ok) {
        const xsmmwrap_route r = xw_cfg.disabled ? XSMMWRAP_ROUTE_DISABLED : XSMMWRAP_ROUTE_INVALID;
        const uint64_t n = r == XSMMWRAP_ROUTE_INVALID || !named ? 1 : named;
        xw_stats_route_add(r, n);
        xw_stats_batch_call(v->sym, n);
        return false;
    }
    const bool row = v->cblas && v->order == XW_CBLAS_ROW_MAJOR;
    const void *const *pa = row ? v->b : v->a, *const *pb = row ? v->a : v->b;
    int64_t first = 0;
    for (int64_t g = 0; g < v->groups; g++) {
        const int64_t size = entry(v->size, v->isize, g);
        if (!size)
            continue;
        const xw_gemm_args ga = group_args(v, g);
        const xw_kernel *kn;
        const xsmmwrap_route r = xw_route_kernel(&ga, &kn);  // one decision per group
        if (r == XSMMWRAP_ROUTE_JIT) {
            xw_route_count_kernel(v->sym, kn, 0, (uint64_t)size, NULL);
            const xw_kernel_fn fn = kn->fn;
            for (int64_t j = first; j < first + size; j++)
                fn(pa[j], pb[j], v->c[j], ga.alpha, ga.beta, &kn->desc);
        } else if (r == XSMMWRAP_ROUTE_SCALE) {
            for (int64_t j = first; j < first + size; j++)
                xw_ref_scale(v->prec, ga.m, ga.n, ga.beta, v->c[j], ga.ldc);
            xw_stats_route_add(r, (uint64_t)size);
        } else {
            v->forward(v, g, first);  // that group alone, to the original's batch symbol
            xw_stats_route_add(r, (uint64_t)size);
        }
        first += size;
    }
    xw_stats_batch_call(v->sym, named);
    return true;
}
