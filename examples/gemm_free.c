// gemm_free.c: a dgemm_ whose product costs nothing, preloaded into a workload by `xsmmwrap
// bench workloads` to measure the program's time outside GEMM: the ceiling of what any GEMM,
// ours included, can gain for it. Keeps what BLAS does with C when alpha = 0 (C := beta*C,
// beta = 0 writes zeros) so that the program's later arithmetic sees finite numbers and runs as
// it would; its answers are wrong by design, and it checks no argument.
#include <stddef.h>

// Exported: the project builds with hidden visibility.
__attribute__((visibility("default"))) void dgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b,
            const int *ldb, const double *beta, double *c, const int *ldc);

void dgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b,
            const int *ldb, const double *beta, double *c, const int *ldc)
{
    (void)transa, (void)transb, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb;
    const double s = *beta;
    if (s == 1.0)
        return;
    for (int j = 0; j < *n; j++) {
        double *col = c + (ptrdiff_t)j * *ldc;
        for (int i = 0; i < *m; i++)
            col[i] = s == 0.0 ? 0.0 : s * col[i];
    }
}
