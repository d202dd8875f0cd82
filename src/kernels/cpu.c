// cpu.c: which code the CPU can run. CPUID says what the core has; XGETBV says whether the OS
// saves the registers (an AVX-512 core under an OS that does not enable ZMM state must not get it).
#include <cpuid.h>

#include "kernels.h"

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

xw_target xw_cpu_detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return XW_TARGET_GENERIC;
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
    if (!(fma && osxsave && avx))
        return XW_TARGET_GENERIC;
    const uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6)  // XMM and YMM state
        return XW_TARGET_GENERIC;
    if (__get_cpuid_max(0, NULL) < 7)
        return XW_TARGET_GENERIC;
    __cpuid_count(7, 0, a, b, c, d);
    const bool avx2 = b & (1u << 5), avx512f = b & (1u << 16);
    if (!avx2)
        return XW_TARGET_GENERIC;
    if (avx512f && (xcr0 & 0xe6) == 0xe6)  // plus opmask, ZMM0-15 upper halves, ZMM16-31
        return XW_TARGET_AVX512;
    return XW_TARGET_AVX2;
}

void xw_cpu_identify(xw_cpu_id *out)
{
    unsigned a = 0, b = 0, c = 0, d = 0;
    *out = (xw_cpu_id){ .target = xw_cpu_detect() };
    if (__get_cpuid(0, &a, &b, &c, &d)) {
        memcpy(out->vendor, &b, 4);
        memcpy(out->vendor + 4, &d, 4);
        memcpy(out->vendor + 8, &c, 4);
    }
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    // SDM vol. 2A, CPUID leaf 01H: the extended family counts only when the family is 0FH, the
    // extended model when the family is 06H or 0FH (AMD: when the family is 0FH).
    const int family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    out->family = family == 0xf ? family + (int)((a >> 20) & 0xff) : family;
    out->model = family == 0xf || (family == 6 && strcmp(out->vendor, "AuthenticAMD"))
                     ? model | (int)((a >> 12) & 0xf0) : model;
    out->stepping = (int)(a & 0xf);
}
