// bad_args.c: one invalid GEMM call per invocation, made against the BLAS the program is linked
// with (no wrapper linked in). tests/test_bad_args.py runs every case plain and under
// LD_PRELOAD=libxsmmwrap.so: the wrapper must hand invalid calls to the original untouched, so
// that the original's own error handler answers them with the same output and exit status
// (reference BLAS's xerbla stops the process, OpenBLAS's prints and returns).
//
//   bad_args --list               the case names, one a line
//   bad_args CASE [ALPHA [PREC]]  makes that call (alpha 1.5 unless given) through dgemm_ or
//                                 cblas_dgemm (PREC d, the default) or zgemm_ or cblas_zgemm
//                                 (PREC z: alpha is ALPHA + 0.5i unless ALPHA is 0, beta
//                                 0.5 - 0.25i), then prints "returned" and C's contents in hex
//
// Built twice (tests/c/meson.build): bad_args_openblas against libopenblas.so.0 and
// bad_args_refblas against the reference BLAS (/usr/lib/x86_64-linux-gnu/blas/libblas.so.3,
// found through the executable's run path, ahead of the libblas.so.3 alternative).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The Fortran and CBLAS prototypes, declared here with plain ints so that invalid enum values
// can be passed (cblas.h is not included).
void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b,
            const int *ldb, const double *beta, double *c, const int *ldc, size_t lta,
            size_t ltb);
void cblas_dgemm(int order, int ta, int tb, int m, int n, int k, double alpha, const double *a,
                 int lda, const double *b, int ldb, double beta, double *c, int ldc);
// Complex: (re, im) pairs; CBLAS takes alpha and beta by pointer.
void zgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b,
            const int *ldb, const double *beta, double *c, const int *ldc, size_t lta,
            size_t ltb);
void cblas_zgemm(int order, int ta, int tb, int m, int n, int k, const void *alpha,
                 const void *a, int lda, const void *b, int ldb, const void *beta, void *c,
                 int ldc);

enum { ROW = 101, COL = 102, NT = 111, TR = 112, CT = 113, CN = 114 };

typedef struct {
    const char *name;
    int cblas;             // 0: dgemm_ (zgemm_), 1: cblas_dgemm (cblas_zgemm)
    int order;             // cblas only
    char fta, ftb;         // dgemm_ transposes
    int cta, ctb;          // cblas transposes
    int m, n, k, lda, ldb, ldc;
} bad_case;

// For (m, n, k) = (4, 5, 6) the least valid leading dimensions are (4, 6, 4) column-major,
// no transposes; (6, 5, 5) row-major. Each case spoils one argument.
static const bad_case cases[] = {
    { "f77_transa_X", 0, 0, 'X', 'N', 0, 0, 4, 5, 6, 4, 6, 4 },
    { "f77_transb_X", 0, 0, 'N', 'X', 0, 0, 4, 5, 6, 4, 6, 4 },
    { "f77_transa_R", 0, 0, 'R', 'N', 0, 0, 4, 5, 6, 4, 6, 4 },  // OpenBLAS takes 'R' as 'N'
    { "f77_transb_0", 0, 0, 'N', '\0', 0, 0, 4, 5, 6, 4, 6, 4 },
    { "f77_m_negative", 0, 0, 'N', 'N', 0, 0, -1, 5, 6, 4, 6, 4 },
    { "f77_n_negative", 0, 0, 'N', 'N', 0, 0, 4, -3, 6, 4, 6, 4 },
    { "f77_k_negative", 0, 0, 'N', 'N', 0, 0, 4, 5, -2, 4, 6, 4 },
    { "f77_lda_small", 0, 0, 'N', 'N', 0, 0, 4, 5, 6, 3, 6, 4 },
    { "f77_lda_small_trans", 0, 0, 'T', 'N', 0, 0, 4, 5, 6, 4, 6, 4 },  // needs lda >= k
    { "f77_lda_small_conj", 0, 0, 'C', 'N', 0, 0, 4, 5, 6, 4, 6, 4 },   // the same for 'C'
    { "f77_ldb_small", 0, 0, 'N', 'N', 0, 0, 4, 5, 6, 4, 5, 4 },
    { "f77_ldb_small_trans", 0, 0, 'N', 'T', 0, 0, 4, 5, 6, 4, 4, 4 },  // needs ldb >= n
    { "f77_ldc_small", 0, 0, 'N', 'N', 0, 0, 4, 5, 6, 4, 6, 3 },
    { "f77_lda_zero_m_zero", 0, 0, 'N', 'N', 0, 0, 0, 5, 6, 0, 6, 1 },
    { "f77_two_errors", 0, 0, 'X', 'N', 0, 0, -1, 5, 6, 4, 6, 4 },  // the first one is reported
    { "cblas_order_bad", 1, 100, 0, 0, NT, NT, 4, 5, 6, 4, 6, 4 },
    { "cblas_order_zero", 1, 0, 0, 0, NT, NT, 4, 5, 6, 4, 6, 4 },
    { "cblas_transa_bad", 1, COL, 0, 0, 110, NT, 4, 5, 6, 4, 6, 4 },
    { "cblas_transb_bad", 1, COL, 0, 0, NT, 'N', 4, 5, 6, 4, 6, 4 },
    { "cblas_transa_bad_row", 1, ROW, 0, 0, 99, NT, 4, 5, 6, 6, 5, 5 },
    { "cblas_transa_conjnotrans", 1, COL, 0, 0, CN, NT, 4, 5, 6, 4, 6, 4 },  // OpenBLAS: 'N'
    { "cblas_m_negative", 1, COL, 0, 0, NT, NT, -1, 5, 6, 4, 6, 4 },
    { "cblas_n_negative_row", 1, ROW, 0, 0, NT, NT, 4, -1, 6, 6, 5, 5 },
    { "cblas_k_negative", 1, COL, 0, 0, NT, TR, 4, 5, -1, 4, 5, 4 },
    { "cblas_lda_small", 1, COL, 0, 0, NT, NT, 4, 5, 6, 3, 6, 4 },
    { "cblas_lda_small_row", 1, ROW, 0, 0, NT, NT, 4, 5, 6, 5, 5, 5 },
    { "cblas_ldb_small_row", 1, ROW, 0, 0, NT, NT, 4, 5, 6, 6, 4, 5 },
    { "cblas_ldb_small_row_trans", 1, ROW, 0, 0, NT, CT, 4, 5, 6, 6, 5, 5 },  // needs ldb >= k
    { "cblas_ldc_small", 1, COL, 0, 0, NT, NT, 4, 5, 6, 4, 6, 3 },
    { "cblas_ldc_small_row", 1, ROW, 0, 0, NT, NT, 4, 5, 6, 6, 5, 4 },
};

int main(int argc, char **argv)
{
    const int n_cases = (int)(sizeof cases / sizeof *cases);
    if (argc < 2 || argc > 4 || (argc == 4 && strcmp(argv[3], "d") && strcmp(argv[3], "z"))) {
        fprintf(stderr, "usage: %s --list | CASE [ALPHA [d|z]]\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < n_cases; i++)
            printf("%s\n", cases[i].name);
        return 0;
    }
    const bad_case *t = NULL;
    for (int i = 0; i < n_cases; i++)
        if (strcmp(argv[1], cases[i].name) == 0)
            t = &cases[i];
    if (!t) {
        fprintf(stderr, "unknown case %s\n", argv[1]);
        return 2;
    }
    // Buffers large enough for any of the shapes above, whatever a BLAS makes of them (doubles:
    // complex elements take two).
    enum { N = 512 };
    static double a[N], b[N], c[N];
    for (int i = 0; i < N; i++) {
        a[i] = 0.25 * (i % 7) - 0.5;
        b[i] = 0.125 * (i % 5) + 0.25;
        c[i] = 1.0 + 0.0625 * (i % 11);
    }
    // alpha = 0 too: an invalid call is the original's to report, with nothing to multiply or not.
    const double alpha = argc > 2 ? strtod(argv[2], NULL) : 1.5, beta = 0.5;
    const int complex = argc > 3 && argv[3][0] == 'z';
    const double alpha2[2] = { alpha, alpha == 0.0 ? 0.0 : 0.5 }, beta2[2] = { beta, -0.25 };
    printf("case %s alpha %g%s\n", t->name, alpha, complex ? " complex" : "");
    fflush(stdout);
    if (complex && t->cblas) {
        cblas_zgemm(t->order, t->cta, t->ctb, t->m, t->n, t->k, alpha2, a, t->lda, b, t->ldb,
                    beta2, c, t->ldc);
    } else if (complex) {
        zgemm_(&t->fta, &t->ftb, &t->m, &t->n, &t->k, alpha2, a, &t->lda, b, &t->ldb, beta2, c,
               &t->ldc, 1, 1);
    } else if (t->cblas) {
        cblas_dgemm(t->order, t->cta, t->ctb, t->m, t->n, t->k, alpha, a, t->lda, b, t->ldb, beta,
                    c, t->ldc);
    } else {
        dgemm_(&t->fta, &t->ftb, &t->m, &t->n, &t->k, &alpha, a, &t->lda, b, &t->ldb, &beta, c,
               &t->ldc, 1, 1);
    }
    printf("returned\n");
    for (int i = 0; i < (complex ? 80 : 40); i++)  // the part of C any of the shapes could touch
        printf("%a%c", c[i], i % 8 == 7 ? '\n' : ' ');
    return 0;
}
