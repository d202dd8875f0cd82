/* probe.h: what the probes of this folder share: a clock, pinning to CPU 1 (the benchmarks'
 * core), and the register-only FMA peak as bench kernels takes it (24 independent zmm FMAs an
 * iteration, PEAK_FLOPS double-precision flops). Each probe is one .c file; this header sits
 * beside it, so `gcc ... tools/probes/NAME.c` finds it. */
#ifndef XW_PROBE_H
#define XW_PROBE_H
#define _GNU_SOURCE
#include <sched.h>
#include <time.h>

static inline double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline void pin_cpu1(void)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(1, &s);
    sched_setaffinity(0, sizeof s, &s);
}

// F(r, a, b): zmm r += zmm a * zmm b; F24: into zmm0..zmm23.
#define F(r, a, b) "vfmadd231pd %%zmm" #a ", %%zmm" #b ", %%zmm" #r "\n"
#define F24(a, b)                                                                                   \
    F(0, a, b) F(1, a, b) F(2, a, b) F(3, a, b) F(4, a, b) F(5, a, b) F(6, a, b) F(7, a, b)         \
    F(8, a, b) F(9, a, b) F(10, a, b) F(11, a, b) F(12, a, b) F(13, a, b) F(14, a, b) F(15, a, b)   \
    F(16, a, b) F(17, a, b) F(18, a, b) F(19, a, b) F(20, a, b) F(21, a, b) F(22, a, b) F(23, a, b)
#define CLOBBER "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", \
    "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18",     \
    "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28",     \
    "xmm29", "xmm30", "xmm31"
#define PEAK_FLOPS (24.0 * 16)  // an iteration of registers_only

// n iterations of 24 independent FMAs on registers only (p unused: the loops' common form).
static void registers_only(long n, double *p)
{
    __asm__ volatile("vpxorq %%zmm30, %%zmm30, %%zmm30\n vpxorq %%zmm31, %%zmm31, %%zmm31\n"
                     "1:\n" F24(30, 31) "dec %0\n jnz 1b\n"
                     : "+r"(n) : "r"(p) : CLOBBER);
}
#endif
