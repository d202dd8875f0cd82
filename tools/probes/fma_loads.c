/* Probe: how much of the FMA peak a GEMM k loop's loads leave on this core. Three loops of 24
 * independent zmm FMAs each: on registers only (the peak `bench kernels` measures), with the
 * ten loads of a 4-vector x 6-column tile's k step (4 vector loads of A, 6 broadcasts of B)
 * feeding them, and with the same ten loads into registers no FMA reads. Build and run on an
 * AVX-512 machine:
 *   gcc -O2 -mavx512f tools/probes/fma_loads.c -o probe && ./probe     (pins itself to CPU 1)
 * Measured on an Intel Xeon (family 6, model 167), two runs of three: 0.90-0.92 of the
 * register-only rate whether the loads feed the FMAs or not. A ZGEMM or DGEMM k loop cannot run
 * faster than that share of the peak here, whatever its schedule (docs/BENCHMARKS.md, complex
 * kernels). */
#include "probe.h"  // first: it sets _GNU_SOURCE

#include <stdio.h>

#define LOADS                                                                                       \
    "vmovupd (%1), %%zmm24\n vmovupd 64(%1), %%zmm25\n vmovupd 128(%1), %%zmm26\n"                  \
    "vmovupd 192(%1), %%zmm27\n"
#define BCAST(off, r) "vbroadcastsd " #off "(%1), %%zmm" #r "\n"

static double buf[512] __attribute__((aligned(64)));

static void loads_feeding(long n, double *p)
{
    __asm__ volatile("1:\n" LOADS
                     BCAST(256, 28) F(0, 24, 28) F(1, 25, 28) F(2, 26, 28) F(3, 27, 28)
                     BCAST(264, 29) F(4, 24, 29) F(5, 25, 29) F(6, 26, 29) F(7, 27, 29)
                     BCAST(272, 28) F(8, 24, 28) F(9, 25, 28) F(10, 26, 28) F(11, 27, 28)
                     BCAST(280, 29) F(12, 24, 29) F(13, 25, 29) F(14, 26, 29) F(15, 27, 29)
                     BCAST(288, 28) F(16, 24, 28) F(17, 25, 28) F(18, 26, 28) F(19, 27, 28)
                     BCAST(296, 29) F(20, 24, 29) F(21, 25, 29) F(22, 26, 29) F(23, 27, 29)
                     "dec %0\n jnz 1b\n"
                     : "+r"(n) : "r"(p) : CLOBBER);
}

static void loads_beside(long n, double *p)
{
    __asm__ volatile("vpxorq %%zmm30, %%zmm30, %%zmm30\n vpxorq %%zmm31, %%zmm31, %%zmm31\n"
                     "1:\n" LOADS BCAST(256, 28) BCAST(264, 29) BCAST(272, 28) BCAST(280, 29)
                     BCAST(288, 28) BCAST(296, 29) F24(30, 31) "dec %0\n jnz 1b\n"
                     : "+r"(n) : "r"(p) : CLOBBER);
}

static double best(void (*loop)(long, double *), long n)
{
    double b = 1e9;
    for (int r = 0; r < 20; r++) {
        const double t0 = now();
        loop(n, buf);
        const double t = now() - t0;
        b = t < b ? t : b;
    }
    return b;
}

int main(void)
{
    pin_cpu1();
    const long n = 200000;
    for (int run = 0; run < 3; run++) {
        const double r = best(registers_only, n), f = best(loads_feeding, n), b = best(loads_beside, n);
        printf("registers only %.1f GFLOP/s; loads feeding the FMAs %.3f of it, loads beside them %.3f\n",
               PEAK_FLOPS * (double)n / r * 1e-9, r / f, r / b);
    }
    return 0;
}
