// fake_blas.c: a stand-in original BLAS for tests/c/test_api.c, loaded with dlopen() partway
// through. Its dgemm_/sgemm_ compute nothing: they fill the m x n block of C with FAKE_VALUE
// and count the call, so that the test sees which calls the original ran.
#include <stddef.h>
#include <stdint.h>

#define FAKE_VALUE 42.0

__attribute__((visibility("default"))) int fake_blas_calls;

#define FAKE_GEMM(NAME, T)                                                                       \
    __attribute__((visibility("default"))) void NAME(                                            \
        const char *ta, const char *tb, const int32_t *m, const int32_t *n, const int32_t *k,    \
        const T *alpha, const T *a, const int32_t *lda, const T *b, const int32_t *ldb,          \
        const T *beta, T *c, const int32_t *ldc, size_t lta, size_t ltb)                         \
    {                                                                                            \
        (void)ta, (void)tb, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb;        \
        (void)beta, (void)lta, (void)ltb;                                                        \
        fake_blas_calls++;                                                                       \
        for (int32_t j = 0; j < *n; j++)                                                         \
            for (int32_t i = 0; i < *m; i++)                                                     \
                c[(size_t)j * (size_t)*ldc + (size_t)i] = (T)FAKE_VALUE;                         \
    }

FAKE_GEMM(dgemm_, double)
FAKE_GEMM(sgemm_, float)
