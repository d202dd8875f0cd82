// cp2k_stack.c: a CP2K/DBCSR-style stack of small block products. A block-sparse product is
// processed as stacks of (a, b, c) block indices of one shape each, C[c] += A[a] * B[b]
// (beta = 1), one dgemm_ per entry; the blocks are the sizes of basis-set blocks (23, 13, 7, 5
// and their mixes). The answer is checked against plain loops in the same order.
//
//   cp2k-stack [nentries [nrepeat]]     (defaults 20000 entries per stack, 5 repetitions)
#include <stdlib.h>
#include <string.h>

#include "sample_util.h"

typedef struct {
    int m, n, k;
} block_shape;

static const block_shape shapes[] = {
    { 23, 23, 23 }, { 13, 5, 7 }, { 5, 7, 13 }, { 7, 13, 5 }, { 13, 13, 13 }, { 5, 5, 5 },
};
enum { NSHAPES = sizeof shapes / sizeof *shapes, NBLK_A = 64, NBLK_B = 64, NBLK_C = 32 };

typedef struct {
    block_shape s;
    double *a, *b, *c, *cref;  // pools of blocks, column-major, tight leading dimensions
    int (*entry)[3];           // (a, b, c) block indices
    long nentries;
} stack;

static void process(const stack *st)
{
    const int m = st->s.m, n = st->s.n, k = st->s.k;
    const size_t as = (size_t)m * k, bs = (size_t)k * n, cs = (size_t)m * n;
    for (long e = 0; e < st->nentries; e++) {
        const int *x = st->entry[e];
        sample_dgemm('N', 'N', m, n, k, 1.0, st->a + x[0] * as, m, st->b + x[1] * bs, k, 1.0,
                     st->c + x[2] * cs, m);
    }
}

static void process_loops(const stack *st)
{
    const int m = st->s.m, n = st->s.n, k = st->s.k;
    const size_t as = (size_t)m * k, bs = (size_t)k * n, cs = (size_t)m * n;
    for (long e = 0; e < st->nentries; e++) {
        const int *x = st->entry[e];
        const double *a = st->a + x[0] * as, *b = st->b + x[1] * bs;
        double *c = st->cref + x[2] * cs;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double sum = 0.0;
                for (int l = 0; l < k; l++)
                    sum += a[i + l * m] * b[l + j * k];
                c[i + j * m] += sum;
            }
    }
}

int main(int argc, char **argv)
{
    long nentries = 20000, nrepeat = 5;
    for (int i = 1; i < argc; i++) {
        char *end;
        const long v = strtol(argv[i], &end, 10);
        if (i > 2 || *end || v < 1) {
            fprintf(stderr, "usage: %s [nentries [nrepeat]]\n", argv[0]);
            return 2;
        }
        *(i == 1 ? &nentries : &nrepeat) = v;
    }

    sample_rng rng;
    sample_rng_seed(&rng, 2);
    stack st[NSHAPES];
    double flop = 0.0;
    for (int s = 0; s < NSHAPES; s++) {
        const block_shape b = shapes[s];
        st[s].s = b;
        st[s].nentries = nentries;
        st[s].a = malloc((size_t)NBLK_A * b.m * b.k * sizeof(double));
        st[s].b = malloc((size_t)NBLK_B * b.k * b.n * sizeof(double));
        st[s].c = malloc((size_t)NBLK_C * b.m * b.n * sizeof(double));
        st[s].cref = calloc((size_t)NBLK_C * b.m * b.n, sizeof(double));
        st[s].entry = malloc((size_t)nentries * sizeof *st[s].entry);
        if (!st[s].a || !st[s].b || !st[s].c || !st[s].cref || !st[s].entry) {
            fprintf(stderr, "cp2k-stack: out of memory\n");
            return 1;
        }
        sample_fill_uniform(&rng, st[s].a, (size_t)NBLK_A * b.m * b.k);
        sample_fill_uniform(&rng, st[s].b, (size_t)NBLK_B * b.k * b.n);
        for (long e = 0; e < nentries; e++) {
            st[s].entry[e][0] = sample_rng_int(&rng, 0, NBLK_A - 1);
            st[s].entry[e][1] = sample_rng_int(&rng, 0, NBLK_B - 1);
            st[s].entry[e][2] = sample_rng_int(&rng, 0, NBLK_C - 1);
        }
        flop += 2.0 * b.m * b.n * b.k * (double)nentries;
    }

    // Each repetition starts from C = 0, so that every one computes the same answer.
    sample_progress progress;
    sample_progress_begin(&progress, "cp2k-stack");
    double seconds = 0.0;
    for (long r = 0; r < nrepeat; r++) {
        for (int s = 0; s < NSHAPES; s++)
            memset(st[s].c, 0, (size_t)NBLK_C * st[s].s.m * st[s].s.n * sizeof(double));
        const double t0 = sample_seconds();
        for (int s = 0; s < NSHAPES; s++)
            process(&st[s]);
        seconds += sample_seconds() - t0;
        sample_progress_update(&progress, (double)(r + 1), (double)nrepeat);
    }
    sample_progress_end(&progress);

    printf("cp2k-stack: %d stacks of %ld entries, %ld repetitions, %.0f dgemm calls\n", NSHAPES,
           nentries, nrepeat, (double)NSHAPES * (double)nentries * (double)nrepeat);
    int ok = 1;
    for (int s = 0; s < NSHAPES; s++) {
        process_loops(&st[s]);
        const block_shape b = st[s].s;
        const double err = sample_rel_diff(st[s].c, st[s].cref, (size_t)NBLK_C * b.m * b.n);
        const int good = err <= 1e-12 * b.k;  // rounding only: relative 1e-12 per term
        ok &= good;
        printf("  stack %2dx%2dx%2d  max rel. error vs loops %.2e  %s\n", b.m, b.n, b.k, err,
               good ? "ok" : "WRONG");
        free(st[s].a);
        free(st[s].b);
        free(st[s].c);
        free(st[s].cref);
        free(st[s].entry);
    }
    printf("time %.1f ms  %.2f GFLOP/s  %s\n", 1e3 * seconds,
           seconds > 0 ? 1e-9 * flop * (double)nrepeat / seconds : 0.0, ok ? "ok" : "WRONG");
    sample_wrapper_print(stdout);
    return ok ? 0 : 1;
}
