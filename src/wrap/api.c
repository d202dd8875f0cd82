// api.c: the public C API of include/xsmmwrap.h over route, stats, registry and report, and its
// name tables (routes, families, targets), which the report and tune.c spell too.
#include <string.h>

#include "wrap.h"

#define XW_API __attribute__((visibility("default")))

static const char *const status_text[] = {
    "success",
    "invalid argument",
    "index out of range",
    "file could not be written",
    "out of memory",
};
_Static_assert(sizeof status_text / sizeof *status_text == XSMMWRAP_STATUS_COUNT, "status table");

static const char *const route_text[] = {
    "jit", "portable", "scale", "too_large", "unsupported", "invalid", "disabled", "registry_full",
    "lock_busy", "tuned_blas",
};
_Static_assert(sizeof route_text / sizeof *route_text == XSMMWRAP_ROUTE_COUNT, "route table");

static const char *const family_text[] = { "gemm", "gemv", "syrk", "batch" };
_Static_assert(sizeof family_text / sizeof *family_text == XSMMWRAP_FAMILY_COUNT, "family table");
_Static_assert((int)XW_FAM_COUNT == (int)XSMMWRAP_FAMILY_COUNT, "families numbered alike");

const char *const xw_target_text[] = { "generic", "avx2", "avx512" };
_Static_assert(sizeof xw_target_text / sizeof *xw_target_text == XSMMWRAP_TARGET_COUNT, "target table");
// kernels.h's xw_target is numbered as xsmmwrap_target: a kernel's target is reported as it is.
_Static_assert(XW_TARGET_GENERIC == (int)XSMMWRAP_TARGET_GENERIC && XW_TARGET_AVX2 == (int)XSMMWRAP_TARGET_AVX2 &&
                   XW_TARGET_AVX512 == (int)XSMMWRAP_TARGET_AVX512 && XW_TARGET_AVX512 + 1 == XSMMWRAP_TARGET_COUNT,
               "targets numbered alike");

XW_API const char *xsmmwrap_version(void) { return XSMMWRAP_VERSION; }

XW_API const char *xsmmwrap_strerror(int status)
{
    return status >= 0 && status < XSMMWRAP_STATUS_COUNT ? status_text[status] : "unknown status";
}

XW_API const char *xsmmwrap_route_name(int route)
{
    return route >= 0 && route < XSMMWRAP_ROUTE_COUNT ? route_text[route] : NULL;
}

XW_API const char *xsmmwrap_family_name(int family)
{
    return family >= 0 && family < XSMMWRAP_FAMILY_COUNT ? family_text[family] : NULL;
}

XW_API const char *xsmmwrap_target_name(int target)
{
    return target >= 0 && target < XSMMWRAP_TARGET_COUNT ? xw_target_text[target] : NULL;
}

XW_API int xsmmwrap_get_config(xsmmwrap_config *out)
{
    if (!out)
        return XSMMWRAP_EINVAL;
    xw_init();
    *out = (xsmmwrap_config){
        .max_mnk = xw_cfg.max_mnk, .max_kernels = xw_cfg.max_kernels,
        .disabled = xw_cfg.disabled, .jit = xw_cfg.jit, .target = (int)xw_cfg.target,
        .cpu_target = (int)xw_cfg.cpu_target, .trylock = xw_cfg.trylock,
        .verbosity = xw_cfg.verbosity,
    };
    xw_tune_config(out);
    return XSMMWRAP_OK;
}

XW_API int xsmmwrap_get_verbosity(void)
{
    xw_init();
    return xw_cfg.verbosity;
}

XW_API int xsmmwrap_set_verbosity(int level)
{
    xw_init();
    xw_cfg.verbosity = level;
    return XSMMWRAP_OK;
}

// A real multiply-add is two floating-point operations, a complex one eight.
static double kernel_gflop(const xw_desc *d, uint64_t calls)
{
    return (xw_prec_complex(d->prec) ? 8e-9 : 2e-9) * d->m * d->n * d->k * (double)calls;
}

XW_API int xsmmwrap_get_stats(xsmmwrap_stats *out)
{
    if (!out)
        return XSMMWRAP_EINVAL;
    xw_init();
    xw_stats_snapshot s;
    xw_stats_read(&s);
    memset(out, 0, sizeof *out);
    for (int r = 0; r < XSMMWRAP_ROUTE_COUNT; r++) {
        out->by_route[r] = s.route[r];
        out->intercepted += s.route[r];
    }
    const uint32_t n = xw_reg_count();
    for (uint32_t i = 0; i < n; i++) {
        const xw_kernel *k = xw_reg_at(i);
        out->jit_kernels += k->jit;
        if (i < s.kernel_count) {
            out->kernel_gflop += kernel_gflop(&k->desc, s.kernel[i]);
            out->tuned_calls += xw_tune_names(&k->desc) ? s.kernel[i] : 0;
        }
    }
    for (int i = 0; i < XW_SYM_COUNT; i++) {
        out->calls += s.sym[i];
        out->family_calls[xw_sym_family((xw_sym)i)] += s.sym[i];
    }
    for (int f = 0; f < XSMMWRAP_FAMILY_COUNT; f++)  // one product a call, but for batches
        out->family_products[f] = f == XSMMWRAP_FAMILY_BATCH ? s.batch_products : out->family_calls[f];
    out->tuned_calls += s.route[XSMMWRAP_ROUTE_TUNED_BLAS];
    out->kernels = n;
    out->jit_failures = xw_reg_jit_failures();
    out->code_bytes = xw_reg_code_bytes();
    out->memory_bytes = xw_reg_memory_bytes() + xw_stats_memory_bytes();
    xw_stats_free(&s);
    return XSMMWRAP_OK;
}

XW_API int xsmmwrap_reset_stats(void)
{
    xw_init();
    return xw_stats_reset();
}

XW_API int xsmmwrap_symbol_count(void) { return XW_SYM_COUNT; }

XW_API int xsmmwrap_symbol_get(int i, const char **name, uint64_t *calls)
{
    if (i < 0 || i >= XW_SYM_COUNT)
        return XSMMWRAP_ERANGE;
    xw_init();
    if (name)
        *name = xw_sym_name((xw_sym)i);
    if (calls) {
        xw_stats_snapshot s;
        xw_stats_read(&s);
        *calls = s.sym[i];
        xw_stats_free(&s);
    }
    return XSMMWRAP_OK;
}

XW_API int xsmmwrap_kernel_count(void)
{
    xw_init();
    return (int)xw_reg_count();
}

static int scale_number(uint8_t s)
{
    return s == XW_SCALE_ONE ? 1 : s == XW_SCALE_MINUS_ONE ? -1 : s == XW_SCALE_ZERO ? 0 : 2;
}

XW_API const char *xsmmwrap_scale_name(int scale_class)
{
    for (uint8_t s = 0; s < XW_SCALE_COUNT; s++)
        if (scale_number(s) == scale_class)
            return xw_scale_names()[s];
    return NULL;
}

void xw_kernel_info(const xw_kernel *k, const xw_stats_snapshot *s, xsmmwrap_kernel_info *out)
{
    const xw_desc *d = &k->desc;
    const uint64_t calls = k->id < s->kernel_count ? s->kernel[k->id] : 0;
    static const int bits[XW_PREC_COUNT] = {
        [XW_F64] = 64, [XW_F32] = 32, [XW_C64] = 128, [XW_C32] = 64,
    };
    static const char trans[] = { [XW_TRANS_N] = 'N', [XW_TRANS_T] = 'T', [XW_TRANS_C] = 'C', [XW_TRANS_DOT] = 'D' };
    *out = (xsmmwrap_kernel_info){
        .precision = bits[d->prec], .is_complex = xw_prec_complex(d->prec),
        .trans_a = trans[d->ta], .trans_b = trans[d->tb],
        .m = d->m, .n = d->n, .k = d->k, .lda = d->lda, .ldb = d->ldb, .ldc = d->ldc,
        .alpha_class = scale_number(d->alpha), .beta_class = scale_number(d->beta),
        .jit = k->jit, .target = k->target, .code_bytes = k->code_bytes,
        .calls = calls, .gflop = kernel_gflop(d, calls),
        .tuned = xw_tune_names(d), .mb_max = d->mb_max, .nb_max = d->nb_max,
    };
}

XW_API int xsmmwrap_kernel_get(int i, xsmmwrap_kernel_info *out)
{
    xw_init();
    if (!out)
        return XSMMWRAP_EINVAL;
    if (i < 0 || (uint32_t)i >= xw_reg_count())
        return XSMMWRAP_ERANGE;
    xw_stats_snapshot s;
    xw_stats_read(&s);
    xw_kernel_info(xw_reg_at((uint32_t)i), &s, out);
    xw_stats_free(&s);
    return XSMMWRAP_OK;
}

XW_API int xsmmwrap_write_json(const char *path)
{
    if (!path)
        return XSMMWRAP_EINVAL;
    xw_init();
    return xw_report_json(path);
}

XW_API int xsmmwrap_gemm(int precision, char trans_a, char trans_b, int64_t m, int64_t n, int64_t k,
                         const void *alpha, const void *a, int64_t lda, const void *b, int64_t ldb,
                         const void *beta, void *c, int64_t ldc)
{
    if ((precision != 64 && precision != 32) || !alpha || !beta)
        return XSMMWRAP_EINVAL;
    const xw_gemm_args g = { precision == 64 ? XW_F64 : XW_F32, trans_a, trans_b, m, n, k,
                             alpha, a, lda, b, ldb, beta, c, ldc, XW_SYM_API, false };
    return xw_route_api(&g) == XSMMWRAP_ROUTE_INVALID ? XSMMWRAP_EINVAL : XSMMWRAP_OK;
}
