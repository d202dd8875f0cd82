// sample_util.h: what the sample programs share: timers, progress on a terminal, deterministic
// test data, result checks, and a look at the wrapper's statistics when it is in the process.
#ifndef SAMPLE_UTIL_H
#define SAMPLE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// The Fortran BLAS entry point as gfortran calls it: the two hidden string lengths at the end.
void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b, const int *ldb,
            const double *beta, double *c, const int *ldc, size_t lta, size_t ltb);

// One column-major DGEMM call with values instead of pointers.
static inline void sample_dgemm(char ta, char tb, int m, int n, int k, double alpha,
                                const double *a, int lda, const double *b, int ldb, double beta,
                                double *c, int ldc)
{
    dgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc, 1, 1);
}

double sample_seconds(void);   // monotonic wall clock
uint64_t sample_cycles(void);  // time-stamp counter (x86-64), else 0
int sample_has_cycles(void);

// Progress on stderr, only when stderr is a terminal and the work has run for more than 2 s.
typedef struct {
    char label[96];
    double start, since, last, delay;  // since: the current label's start
    int tty, shown;
} sample_progress;

void sample_progress_begin(sample_progress *p, const char *label);
void sample_progress_label(sample_progress *p, const char *label);  // rename, keep the clock
void sample_progress_update(sample_progress *p, double done, double total);
void sample_progress_end(sample_progress *p);

// Deterministic data: a small xorshift generator.
typedef struct {
    uint64_t s;
} sample_rng;

void sample_rng_seed(sample_rng *r, uint64_t seed);
uint64_t sample_rng_next(sample_rng *r);
double sample_rng_uniform(sample_rng *r);           // in [-1, 1)
int sample_rng_int(sample_rng *r, int lo, int hi);  // in [lo, hi]
void sample_fill_uniform(sample_rng *r, double *x, size_t n);
// Small integers in [-2, 2]: every product and sum of them is exact in double precision, so
// any correct GEMM gives the same bits and two runs can be compared exactly.
void sample_fill_small_int(sample_rng *r, double *x, size_t n);

// max |got - ref| / max(|ref|, tiny) over n values.
double sample_rel_diff(const double *got, const double *ref, size_t n);

// The wrapper's view of this process: from xsmmwrap_get_stats, found with dlsym when the
// library is preloaded or called directly when this program was linked with libxsmmwrap.a.
typedef struct {
    int loaded;
    uint64_t intercepted, kernel_calls, jit_calls, portable_calls, kernels, jit_kernels;
} sample_wrapper_stats;

void sample_wrapper_get(sample_wrapper_stats *out);
void sample_wrapper_print(FILE *f);       // one line: share of calls on the kernel path
void sample_wrapper_print_stdout(void);   // the same to stdout (called from Fortran)
void sample_wrapper_json(FILE *f);        // a JSON object, or null when the wrapper is absent
int sample_wrapper_reset(void);           // zero the wrapper's counters when it is there

// The OpenBLAS core in use (openblas_get_corename), or NULL for another BLAS.
const char *sample_blas_core(void);
// A JSON string (quoted, escaped) or null.
void sample_json_string(FILE *f, const char *s);

#endif
