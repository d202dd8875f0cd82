// cpu.c: which code the CPU can run. CPUID says what the core has; XGETBV says whether the OS
// saves the registers (an AVX-512 core under an OS that does not enable ZMM state must not get it).
// Read once per process: under a hypervisor each CPUID is a VM exit (7.2 us on the Xeon VM of
// docs/BENCHMARKS.md), and the library asks at start, again to check a tuning file, and in the
// portable kernel.
#include <cpuid.h>
#include <pthread.h>

#include "kernels.h"

static xw_cpu_id facts;
static pthread_once_t facts_once = PTHREAD_ONCE_INIT;

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

// The best target from leaves 1 and 7 (ecx of leaf 1, ebx of leaf 7; 0 when absent).
static xw_target target_of(unsigned c1, unsigned b7)
{
    const bool fma = c1 & (1u << 12), osxsave = c1 & (1u << 27), avx = c1 & (1u << 28);
    if (!(fma && osxsave && avx))
        return XW_TARGET_GENERIC;
    const uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6)  // XMM and YMM state
        return XW_TARGET_GENERIC;
    const bool avx2 = b7 & (1u << 5), avx512f = b7 & (1u << 16);
    if (!avx2)
        return XW_TARGET_GENERIC;
    if (avx512f && (xcr0 & 0xe6) == 0xe6)  // plus opmask, ZMM0-15 upper halves, ZMM16-31
        return XW_TARGET_AVX512;
    return XW_TARGET_AVX2;
}

// Three CPUIDs: leaf 0 (highest leaf, vendor), 1 (signature, features), 7 (extended features).
static void read_facts(void)
{
    unsigned max, a, b, c, d;
    __cpuid(0, max, b, c, d);
    memcpy(facts.vendor, &b, 4);
    memcpy(facts.vendor + 4, &d, 4);
    memcpy(facts.vendor + 8, &c, 4);
    if (max < 1)
        return;
    __cpuid(1, a, b, c, d);
    // SDM vol. 2A, CPUID leaf 01H: the extended family counts only when the family is 0FH, the
    // extended model when the family is 06H or 0FH (AMD: when the family is 0FH).
    const int family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    facts.family = family == 0xf ? family + (int)((a >> 20) & 0xff) : family;
    facts.model = family == 0xf || (family == 6 && strcmp(facts.vendor, "AuthenticAMD"))
                      ? model | (int)((a >> 12) & 0xf0) : model;
    facts.stepping = (int)(a & 0xf);
    const unsigned c1 = c;
    unsigned b7 = 0;
    if (max >= 7)
        __cpuid_count(7, 0, a, b7, c, d);
    facts.target = target_of(c1, b7);
}

xw_target xw_cpu_detect(void)
{
    pthread_once(&facts_once, read_facts);
    return facts.target;
}

void xw_cpu_identify(xw_cpu_id *out)
{
    pthread_once(&facts_once, read_facts);
    *out = facts;
}
