/* Probe: the share of the FMA peak a ZGEMM tile reaches on this core when nothing else is in
 * its way. One tile (MV vectors of 4 complex doubles by NC columns, 2*MV*NC zmm accumulators)
 * over K steps, then the complex contract's epilogue for alpha = beta = 1 (a swap, a fused
 * add-subtract and the addition of C per vector, docs/ARCHITECTURE.md), repeated on the same
 * few kilobytes of A, B and C: no edge tiles, no prefetches, no call, operands in L1 from the
 * second repetition on. A generated kernel can only do worse. Build and run on an AVX-512 machine:
 *   gcc -O3 -mavx512f -mfma tools/probes/complex_tile.c -o probe && ./probe   (pins to CPU 1)
 * Measured on an Intel Xeon (family 6, model 167), docs/BENCHMARKS.md (complex kernels). */
#include "probe.h"  // first: it sets _GNU_SOURCE

#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>

// A: K steps of MV vectors (interleaved re, im); B: column j's k-th element at 2*(k + j*K).
#define TILE(MV, NC)                                                                                \
    __attribute__((noinline)) static void tile_##MV##x##NC(const double *a, const double *b,      \
                                                           double *c, int k, long reps)           \
    {                                                                                               \
        for (long r = 0; r < reps; r++) {                                                           \
            __asm__ volatile("" : "+r"(c) : : "memory"); /* a new C each time: nothing hoisted */  \
            __m512d pq[MV * NC], rs[MV * NC];                                                       \
            for (int i = 0; i < MV * NC; i++)                                                       \
                pq[i] = rs[i] = _mm512_setzero_pd();                                                \
            for (int p = 0; p < k; p++) {                                                           \
                __m512d av[MV];                                                                     \
                for (int v = 0; v < MV; v++)                                                        \
                    av[v] = _mm512_loadu_pd(a + 8 * (p * MV + v));                                  \
                for (int j = 0; j < NC; j++) {                                                      \
                    const __m512d br = _mm512_set1_pd(b[2 * (p + j * k)]);                          \
                    const __m512d bi = _mm512_set1_pd(b[2 * (p + j * k) + 1]);                      \
                    for (int v = 0; v < MV; v++) {                                                  \
                        pq[j * MV + v] = _mm512_fmadd_pd(av[v], br, pq[j * MV + v]);                \
                        rs[j * MV + v] = _mm512_fmadd_pd(av[v], bi, rs[j * MV + v]);                \
                    }                                                                               \
                }                                                                                   \
            }                                                                                       \
            for (int i = 0; i < MV * NC; i++) {                                                     \
                const __m512d t = _mm512_fmaddsub_pd(_mm512_set1_pd(1.0), pq[i],                    \
                                                     _mm512_permute_pd(rs[i], 0x55));               \
                _mm512_storeu_pd(c + 8 * i, _mm512_add_pd(t, _mm512_loadu_pd(c + 8 * i)));          \
            }                                                                                       \
        }                                                                                           \
    }
TILE(4, 3)
TILE(3, 4)
TILE(2, 6)
TILE(1, 12)

typedef void tile_fn(const double *, const double *, double *, int, long);
static const struct {
    int mv, nc;
    tile_fn *fn;
} tiles[] = { { 4, 3, tile_4x3 }, { 3, 4, tile_3x4 }, { 2, 6, tile_2x6 }, { 1, 12, tile_1x12 } };

int main(void)
{
    pin_cpu1();
    enum { KMAX = 64 };
    double *a = aligned_alloc(64, 8 * 8 * 4 * KMAX), *b = aligned_alloc(64, 8 * 2 * 12 * KMAX),
           *c = aligned_alloc(64, 8 * 8 * 12);
    for (int i = 0; i < 8 * 4 * KMAX; i++)
        a[i] = 1e-3;
    for (int i = 0; i < 2 * 12 * KMAX; i++)
        b[i] = 1e-3;
    for (int i = 0; i < 8 * 12; i++)
        c[i] = 0;
    const int ks[] = { 16, 23, 32, 64 };
    enum { NK = sizeof ks / sizeof *ks, NT = sizeof tiles / sizeof *tiles };
    // Each tile is timed beside the peak loop, in turns, and set against the best peak of the
    // whole run: a share taken while the host slowed the core down is not overstated.
    double peak = 0, gflops[2][NK][NT];
    for (int run = 0; run < 2; run++)
        for (int ki = 0; ki < NK; ki++)
            for (int ti = 0; ti < NT; ti++) {
                const int k = ks[ki];
                const long np = 50000, nt = 200000 / k;
                double bp = 1e9, bt = 1e9;
                for (int r = 0; r < 20; r++) {
                    double t0 = now();
                    registers_only(np, a);
                    const double tp = now() - t0;
                    t0 = now();
                    tiles[ti].fn(a, b, c, k, nt);
                    const double tt = now() - t0;
                    bp = tp < bp ? tp : bp;
                    bt = tt < bt ? tt : bt;
                }
                const double p = PEAK_FLOPS * (double)np / bp * 1e-9;
                peak = p > peak ? p : peak;
                gflops[run][ki][ti] = 32.0 * tiles[ti].mv * tiles[ti].nc * k * (double)nt / bt * 1e-9;
            }
    printf("peak %.1f GFLOP/s DP; %% of it, two runs:\n", peak);
    for (int ki = 0; ki < NK; ki++) {
        printf("K = %2d:", ks[ki]);
        for (int ti = 0; ti < NT; ti++)
            printf("  %dx%-2d %4.1f/%4.1f%%", tiles[ti].mv, tiles[ti].nc,
                   100 * gflops[0][ki][ti] / peak, 100 * gflops[1][ki][ti] / peak);
        printf("\n");
    }
    free(a);
    free(b);
    free(c);
    return 0;
}
