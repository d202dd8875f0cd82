// check.h: what the C test programs share: pass/fail counting with a printf-style message, a
// seeded generator (splitmix64) and the Fortran GEMM prototypes (real and complex). Each
// program prints "N passed, M failed" (check_summary), which the pytest wrappers read.
#ifndef XW_TEST_CHECK_H
#define XW_TEST_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (cond) {                                        \
            check_passed++;                                \
        } else {                                           \
            check_failed++;                                \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);    \
            printf(__VA_ARGS__);                           \
            printf("\n");                                  \
        }                                                  \
    } while (0)

// Prints the summary line; the exit status for main.
static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

static inline uint64_t check_rng(uint64_t *s)  // splitmix64
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline int check_rnd_in(uint64_t *s, int lo, int hi)  // uniform in [lo, hi]
{
    return lo + (int)(check_rng(s) % (uint64_t)(hi - lo + 1));
}
static inline double check_rnd_val(uint64_t *s)  // uniform in [-1, 1)
{
    return (double)(check_rng(s) >> 11) / 4503599627370496.0 - 1.0;
}

void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b,
            const int *ldb, const double *beta, double *c, const int *ldc, size_t lta,
            size_t ltb);
void sgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const float *alpha, const float *a, const int *lda, const float *b, const int *ldb,
            const float *beta, float *c, const int *ldc, size_t lta, size_t ltb);
// Complex: elements, alpha and beta are (re, im) pairs of double (zgemm_) or float (cgemm_).
void zgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b,
            const int *ldb, const double *beta, double *c, const int *ldc, size_t lta,
            size_t ltb);
void cgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const float *alpha, const float *a, const int *lda, const float *b, const int *ldb,
            const float *beta, float *c, const int *ldc, size_t lta, size_t ltb);

#endif
