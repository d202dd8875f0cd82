// test_x86_enc.c: checks the x86-64 encoder against objdump. Every case emits one instruction
// into one buffer and names the Intel-syntax text objdump must print for it; the buffer is
// disassembled once and each case is found again by its offset (same start, same length).
// Error cases run apart: they must set the expected error and emit nothing.
// Prints each mismatch and a final "N passed, M failed"; exits non-zero on any failure.
// OBJDUMP in the environment overrides the disassembler (default: objdump on PATH).
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "x86_enc.h"

// ---- Case bookkeeping.
enum { ANY = -1 };
typedef struct {
    size_t off, end;
    int line, len, evex;  // len: expected bytes (0: any); evex: 1 must be EVEX, 0 must not, ANY
    char *src, *expect;
} tcase;

static uint8_t mainbuf[1 << 16];
static xw_code code = { mainbuf, sizeof mainbuf, 0, XW_OK };
static xw_code *const c = &code;
static tcase *cases;
static size_t ncases, cases_cap;
static int passed, failed;

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d) abort();
    return memcpy(d, s, n);
}

static void mismatch(int line, const char *src, const char *expect, const char *got)
{
    printf("FAIL line %d: %s\n  expected: %s\n  got:      %s\n", line, src, expect, got);
    failed++;
}

static void add_case(size_t off, int line, const char *src, int len, int evex, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (c->err != XW_OK || c->len == off) {
        char got[64];
        snprintf(got, sizeof got, "nothing emitted, err %d", (int)c->err);
        mismatch(line, src, text, got);
        c->err = XW_OK;
        c->len = off;
        return;
    }
    if (ncases == cases_cap) {
        cases_cap = cases_cap ? 2 * cases_cap : 256;
        cases = realloc(cases, cases_cap * sizeof *cases);
        if (!cases) abort();
    }
    cases[ncases++] = (tcase){ off, c->len, line, len, evex, dupstr(src), dupstr(text) };
}

// CASE(nbytes, evex, call, fmt, ...): nbytes 0 and evex ANY when they do not matter.
#define CASE(nbytes, evex, call, ...)                                     \
    do {                                                                  \
        size_t off_ = c->len;                                             \
        call;                                                             \
        add_case(off_, __LINE__, #call, (nbytes), (evex), __VA_ARGS__);   \
    } while (0)
#define EXPECT(call, ...) CASE(0, ANY, call, __VA_ARGS__)

// ---- Text helpers.
static const char *const g64[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                     "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15" };
static const char *const g32[16] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                                     "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d" };
static const char *const vlname[3] = { "xmm", "ymm", "zmm" };
static const char *const ptrname[3] = { "XMMWORD", "YMMWORD", "ZMMWORD" };
static const char *const insn_name[] = {
#define XW_INSN(name, form, minvl, pp, map, wvex, wevex, opcode, tuple) #name,
#include "x86_insn.def"
#undef XW_INSN
};

static char *ring(void)
{
    static char bufs[16][96];
    static unsigned k;
    return bufs[k++ & 15];
}

// Mnemonic as objdump prints it: lower case; the VEX form of VPXORQ is vpxor; a row's "_I"
// (the imm8 form of a mnemonic with two rows) is not part of it.
static const char *mn(xw_insn op, bool evex)
{
    char *s = ring();
    size_t i = 0;
    for (const char *p = insn_name[op]; *p && *p != '_'; p++) s[i++] = (char)tolower((unsigned char)*p);
    s[i] = 0;
    if (op == XW_VPXORQ && !evex) s[i - 1] = 0;
    return s;
}

static const char *vr(xw_vl vl, int r)
{
    char *s = ring();
    snprintf(s, 96, "%s%d", vlname[vl], r);
    return s;
}

static const char *hex(int64_t v)  // objdump's "+0x10" / "-0x10"
{
    char *s = ring();
    snprintf(s, 96, v < 0 ? "-0x%" PRIx64 : "+0x%" PRIx64, v < 0 ? (uint64_t)-v : (uint64_t)v);
    return s;
}

// A memory operand as objdump prints it (not RIP): "[base+disp]"; a zero displacement shows as
// +0x0 when it is encoded (rbp/r13 base).
static const char *memtxt(xw_mem m)
{
    char *s = ring();
    int n = snprintf(s, 96, "[%s", g64[m.base.n]);
    if (m.disp != 0 || (m.base.n & 7) == 5) n += snprintf(s + n, 96 - (size_t)n, "%s", hex(m.disp));
    snprintf(s + n, 96 - (size_t)n, "]");
    return s;
}

// Bytes of ModRM + SIB + disp the shortest encoding takes for m (disp8 scaled by n).
static int mem_len(xw_mem m, int n)
{
    bool sib = (m.base.n & 7) == 4;
    int d = (m.disp == 0 && (m.base.n & 7) != 5) ? 0 : (m.disp % n == 0 && m.disp / n >= -128 && m.disp / n <= 127) ? 1 : 4;
    return 1 + sib + d;
}

static bool vex_ok(xw_vl vl, int a, int b, int d) { return vl != XW_ZMM && a < 16 && b < 16 && d < 16; }

static const xw_evex K1Z = { XW_K1, true, false };

// ---- Vector cases.
static void vector_register_cases(void)
{
    // Every register in every position, every length: a VEX pattern (0-15) and a full one (0-31).
    static const xw_insn full[] = { XW_VFMADD231PD, XW_VMULPS, XW_VPXORQ };
    for (size_t k = 0; k < sizeof full / sizeof *full; k++)
        for (int vl = XW_XMM; vl <= XW_ZMM; vl++) {
            for (int i = 0; i < 16; i++) {
                int d = i, a = (i + 5) % 16, b = (i + 10) % 16;
                bool ev = !vex_ok((xw_vl)vl, d, a, b);
                CASE(0, ev, xw_x86_vop_rrr(c, full[k], (xw_vl)vl, xw_v(d), xw_v(a), xw_v(b)), "%s %s,%s,%s",
                     mn(full[k], ev), vr((xw_vl)vl, d), vr((xw_vl)vl, a), vr((xw_vl)vl, b));
            }
            for (int i = 0; i < 32; i++) {
                int d = i, a = (i + 11) % 32, b = (i + 22) % 32;
                bool ev = !vex_ok((xw_vl)vl, d, a, b);
                CASE(0, ev, xw_x86_vop_rrr(c, full[k], (xw_vl)vl, xw_v(d), xw_v(a), xw_v(b)), "%s %s,%s,%s",
                     mn(full[k], ev), vr((xw_vl)vl, d), vr((xw_vl)vl, a), vr((xw_vl)vl, b));
            }
        }
    // The other three-operand rows, a few register triples each.
    static const xw_insn rest[] = { XW_VFMADD231PS, XW_VFNMADD231PD, XW_VFNMADD231PS, XW_VFMADD213PD,
                                    XW_VFMADD213PS, XW_VFMSUB213PD, XW_VFMSUB213PS, XW_VMULPD, XW_VADDPD,
                                    XW_VADDPS, XW_VSUBPD, XW_VSUBPS, XW_VUNPCKLPD, XW_VUNPCKHPD,
                                    XW_VUNPCKLPS, XW_VUNPCKHPS, XW_VFMADDSUB132PD, XW_VFMADDSUB132PS,
                                    XW_VFMSUBADD132PD, XW_VFMSUBADD132PS, XW_VFMSUBADD231PD, XW_VFMSUBADD231PS };
    static const int trip[][3] = { { 1, 2, 3 }, { 9, 10, 11 }, { 17, 25, 31 } };
    for (size_t k = 0; k < sizeof rest / sizeof *rest; k++)
        for (int vl = XW_XMM; vl <= XW_ZMM; vl++)
            for (int t = 0; t < 3; t++) {
                int d = trip[t][0], a = trip[t][1], b = trip[t][2];
                bool ev = !vex_ok((xw_vl)vl, d, a, b);
                CASE(0, ev, xw_x86_vop_rrr(c, rest[k], (xw_vl)vl, xw_v(d), xw_v(a), xw_v(b)), "%s %s,%s,%s",
                     mn(rest[k], ev), vr((xw_vl)vl, d), vr((xw_vl)vl, a), vr((xw_vl)vl, b));
            }
    // EVEX-only rows pick EVEX even for xmm/ymm 0-15.
    CASE(7, 1, xw_x86_vop_rrri(c, XW_VALIGNQ, XW_YMM, xw_v(3), xw_v(4), xw_v(5), 0x1), "valignq ymm3,ymm4,ymm5,0x1");
    CASE(7, 1, xw_x86_vop_rrri(c, XW_VALIGND, XW_XMM, xw_v(0), xw_v(1), xw_v(2), 0x3), "valignd xmm0,xmm1,xmm2,0x3");
    CASE(7, 1, xw_x86_vop_rrri(c, XW_VSHUFF64X2, XW_ZMM, xw_v(1), xw_v(2), xw_v(3), 0x44), "vshuff64x2 zmm1,zmm2,zmm3,0x44");
    CASE(7, 1, xw_x86_vop_rrri(c, XW_VSHUFF64X2, XW_ZMM, xw_v(17), xw_v(9), xw_v(30), 0xdd), "vshuff64x2 zmm17,zmm9,zmm30,0xdd");
    // VEX 2-byte form only for map 0F, W0 and no B/X extension; R fits in both.
    CASE(4, 0, xw_x86_vop_rrr(c, XW_VMULPS, XW_YMM, xw_v(1), xw_v(2), xw_v(3)), "vmulps ymm1,ymm2,ymm3");
    CASE(4, 0, xw_x86_vop_rrr(c, XW_VMULPS, XW_YMM, xw_v(8), xw_v(12), xw_v(3)), "vmulps ymm8,ymm12,ymm3");
    CASE(5, 0, xw_x86_vop_rrr(c, XW_VMULPS, XW_YMM, xw_v(1), xw_v(2), xw_v(8)), "vmulps ymm1,ymm2,ymm8");
    CASE(5, 0, xw_x86_vop_rrr(c, XW_VFMADD231PD, XW_XMM, xw_v(1), xw_v(2), xw_v(3)), "vfmadd231pd xmm1,xmm2,xmm3");
    CASE(6, 1, xw_x86_vop_rrr(c, XW_VMULPS, XW_YMM, xw_v(16), xw_v(2), xw_v(3)), "vmulps ymm16,ymm2,ymm3");
    CASE(4, 0, xw_x86_vop_rrr(c, XW_VPXORQ, XW_XMM, xw_v(0), xw_v(0), xw_v(0)), "vpxor xmm0,xmm0,xmm0");
    CASE(6, 1, xw_x86_vop_rrr(c, XW_VPXORQ, XW_ZMM, xw_v(0), xw_v(0), xw_v(0)), "vpxorq zmm0,zmm0,zmm0");

    // imm8 forms.
    CASE(5, 0, xw_x86_vop_rrri(c, XW_VSHUFPS, XW_YMM, xw_v(0), xw_v(1), xw_v(2), 0x5), "vshufps ymm0,ymm1,ymm2,0x5");
    CASE(7, 1, xw_x86_vop_rrri(c, XW_VSHUFPS, XW_ZMM, xw_v(20), xw_v(1), xw_v(29), 0xaa), "vshufps zmm20,zmm1,zmm29,0xaa");
    CASE(6, 0, xw_x86_vop_rrri(c, XW_VSHUFPS, XW_YMM, xw_v(8), xw_v(1), xw_v(12), 0xee), "vshufps ymm8,ymm1,ymm12,0xee");
    CASE(5, 0, xw_x86_vop_rrri(c, XW_VSHUFPS, XW_XMM, xw_v(9), xw_v(10), xw_v(7), 0x44), "vshufps xmm9,xmm10,xmm7,0x44");
    CASE(6, 0, xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, xw_v(0), xw_v(1), xw_v(2), 0x20), "vperm2f128 ymm0,ymm1,ymm2,0x20");
    CASE(6, 0, xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, xw_v(8), xw_v(9), xw_v(15), 0x31), "vperm2f128 ymm8,ymm9,ymm15,0x31");
    CASE(7, 1, xw_x86_vop_rrri(c, XW_VALIGNQ, XW_ZMM, xw_v(2), xw_v(17), xw_v(17), 0x3), "valignq zmm2,zmm17,zmm17,0x3");
    CASE(7, 1, xw_x86_vop_rrri(c, XW_VALIGND, XW_ZMM, xw_v(31), xw_v(8), xw_v(8), 0xb), "valignd zmm31,zmm8,zmm8,0xb");

    // Two registers and an imm8 (no vvvv: 1111b), each length, registers 0-7, 8-15, 16-31.
    static const xw_insn rri[] = { XW_VPERMILPD_I, XW_VPERMILPS_I };
    static const int pair[][2] = { { 0, 1 }, { 3, 12 }, { 9, 2 }, { 14, 15 }, { 17, 4 }, { 5, 30 }, { 31, 16 } };
    for (size_t k = 0; k < sizeof rri / sizeof *rri; k++)
        for (int vl = XW_XMM; vl <= XW_ZMM; vl++)
            for (int t = 0; t < 7; t++) {
                const int d = pair[t][0], a = pair[t][1];
                const uint8_t imm = k ? 0xb1 : 0x55;  // swaps each (re, im) pair
                bool ev = !vex_ok((xw_vl)vl, d, a, 0);
                CASE(ev ? 7 : 6, ev, xw_x86_vop_rri(c, rri[k], (xw_vl)vl, xw_v(d), xw_v(a), imm), "%s %s,%s,0x%x",
                     mn(rri[k], ev), vr((xw_vl)vl, d), vr((xw_vl)vl, a), imm);
            }
    CASE(6, 0, xw_x86_vop_rri(c, XW_VPERMILPD_I, XW_YMM, xw_v(1), xw_v(2), 0x5), "vpermilpd ymm1,ymm2,0x5");
    CASE(6, 0, xw_x86_vop_rri(c, XW_VPERMILPS_I, XW_XMM, xw_v(8), xw_v(9), 0xb1), "vpermilps xmm8,xmm9,0xb1");

    // Two-operand register forms.
    CASE(4, 0, xw_x86_vop_rr(c, XW_VMOVUPD, XW_YMM, xw_v(1), xw_v(2)), "vmovupd ymm1,ymm2");
    CASE(6, 1, xw_x86_vop_rr(c, XW_VMOVUPD, XW_ZMM, xw_v(1), xw_v(2)), "vmovupd zmm1,zmm2");
    CASE(6, 1, xw_x86_vop_rr(c, XW_VMOVUPS, XW_XMM, xw_v(31), xw_v(15)), "vmovups xmm31,xmm15");
    CASE(6, 1, xw_x86_vop_rr(c, XW_VMOVUPS, XW_ZMM, xw_v(8), xw_v(24)), "vmovups zmm8,zmm24");
    CASE(5, 0, xw_x86_vop_rr(c, XW_VBROADCASTSD, XW_YMM, xw_v(0), xw_v(1)), "vbroadcastsd ymm0,xmm1");
    CASE(6, 1, xw_x86_vop_rr(c, XW_VBROADCASTSD, XW_ZMM, xw_v(20), xw_v(3)), "vbroadcastsd zmm20,xmm3");
    CASE(5, 0, xw_x86_vop_rr(c, XW_VBROADCASTSS, XW_XMM, xw_v(11), xw_v(12)), "vbroadcastss xmm11,xmm12");
}

static void vector_memory_cases(void)
{
    static const int32_t vex_disps[] = { 0, 8, -8, 0x7f, 0x80, -0x80, -0x81, 0x12345, -0x12345 };
    static const int32_t evex_disps[] = { 0, 8, 0x40, -0x40, 0x41, 0x1fc0, 0x2000, -0x2000, -0x2040 };
    // Every base register, VEX (ymm) and EVEX (zmm, N = 64) displacement sizes.
    for (int base = 0; base < 16; base++) {
        for (size_t k = 0; k < sizeof vex_disps / sizeof *vex_disps; k++) {
            xw_mem m = xw_mem_at(xw_r(base), vex_disps[k]);
            int d = (base + (int)k) % 16, a = (base * 3 + (int)k) % 16;
            CASE(4 + mem_len(m, 1), 0, xw_x86_vop_rrm(c, XW_VFMADD231PD, XW_YMM, xw_v(d), xw_v(a), m, xw_plain),
                 "vfmadd231pd ymm%d,ymm%d,YMMWORD PTR %s", d, a, memtxt(m));
        }
        for (size_t k = 0; k < sizeof evex_disps / sizeof *evex_disps; k++) {
            xw_mem m = xw_mem_at(xw_r(base), evex_disps[k]);
            int d = (base * 2 + (int)k) % 32, a = (base + 16 + (int)k) % 32;
            CASE(5 + mem_len(m, 64), 1, xw_x86_vop_rrm(c, XW_VFMADD231PD, XW_ZMM, xw_v(d), xw_v(a), m, xw_plain),
                 "vfmadd231pd zmm%d,zmm%d,ZMMWORD PTR %s", d, a, memtxt(m));
        }
    }
    // VMASKMOV loads (VEX only, memory only): the mask is vvvv.
    CASE(6, 0, xw_x86_vop_rrm(c, XW_VMASKMOVPD, XW_YMM, xw_v(1), xw_v(2), xw_mem_at(XW_RDI, 0x20), xw_plain),
         "vmaskmovpd ymm1,ymm2,YMMWORD PTR [rdi+0x20]");
    CASE(7, 0, xw_x86_vop_rrm(c, XW_VMASKMOVPS, XW_YMM, xw_v(9), xw_v(11), xw_mem_at(XW_R12, 0x40), xw_plain),
         "vmaskmovps ymm9,ymm11,YMMWORD PTR [r12+0x40]");
    CASE(6, 0, xw_x86_vop_rrm(c, XW_VMASKMOVPD, XW_XMM, xw_v(3), xw_v(4), xw_mem_at(XW_RSI, 8), xw_plain),
         "vmaskmovpd xmm3,xmm4,XMMWORD PTR [rsi+0x8]");
    // rsp/r12 bases take a SIB byte (no index).
    CASE(5, 0, xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(0), xw_mem_at(XW_RSP, 0), xw_plain), "vmovupd ymm0,YMMWORD PTR [rsp]");
    CASE(7, 0, xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(0), xw_mem_at(XW_R12, 0x40), xw_plain), "vmovupd ymm0,YMMWORD PTR [r12+0x40]");
    CASE(8, 1, xw_x86_vstore(c, XW_VMOVUPS, XW_ZMM, xw_mem_at(XW_R12, 0x40), xw_v(20), XW_K0), "vmovups ZMMWORD PTR [r12+0x40],zmm20");

    // EVEX compressed disp8 boundaries: N is the vector for full rows, the element otherwise.
    CASE(7, 1, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x40), xw_plain), "vmovupd zmm0,ZMMWORD PTR [rdi+0x40]");
    CASE(10, 1, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x41), xw_plain), "vmovupd zmm0,ZMMWORD PTR [rdi+0x41]");
    CASE(10, 1, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x20), xw_plain), "vmovupd zmm0,ZMMWORD PTR [rdi+0x20]");
    CASE(7, 1, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x1fc0), xw_plain), "vmovupd zmm0,ZMMWORD PTR [rdi+0x1fc0]");
    CASE(10, 1, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x2000), xw_plain), "vmovupd zmm0,ZMMWORD PTR [rdi+0x2000]");
    CASE(7, 1, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, -0x2000), xw_plain), "vmovupd zmm0,ZMMWORD PTR [rdi-0x2000]");
    CASE(10, 1, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, -0x2040), xw_plain), "vmovupd zmm0,ZMMWORD PTR [rdi-0x2040]");
    CASE(7, 1, xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(16), xw_mem_at(XW_RDI, 0x20), xw_plain), "vmovupd ymm16,YMMWORD PTR [rdi+0x20]");
    CASE(10, 1, xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(16), xw_mem_at(XW_RDI, 0x10), xw_plain), "vmovupd ymm16,YMMWORD PTR [rdi+0x10]");
    CASE(7, 1, xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(16), xw_mem_at(XW_RDI, 0xfe0), xw_plain), "vmovupd ymm16,YMMWORD PTR [rdi+0xfe0]");
    CASE(10, 1, xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(16), xw_mem_at(XW_RDI, 0x1000), xw_plain), "vmovupd ymm16,YMMWORD PTR [rdi+0x1000]");
    CASE(7, 1, xw_x86_vload(c, XW_VMOVUPS, XW_XMM, xw_v(16), xw_mem_at(XW_RDI, 0x10), xw_plain), "vmovups xmm16,XMMWORD PTR [rdi+0x10]");
    CASE(10, 1, xw_x86_vload(c, XW_VMOVUPS, XW_XMM, xw_v(16), xw_mem_at(XW_RDI, 0x8), xw_plain), "vmovups xmm16,XMMWORD PTR [rdi+0x8]");
    CASE(7, 1, xw_x86_vload(c, XW_VMOVUPS, XW_XMM, xw_v(16), xw_mem_at(XW_RDI, 0x7f0), xw_plain), "vmovups xmm16,XMMWORD PTR [rdi+0x7f0]");
    CASE(10, 1, xw_x86_vload(c, XW_VMOVUPS, XW_XMM, xw_v(16), xw_mem_at(XW_RDI, 0x800), xw_plain), "vmovups xmm16,XMMWORD PTR [rdi+0x800]");
    CASE(7, 1, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(1), xw_mem_at(XW_RBP, 0), xw_plain), "vmovupd zmm1,ZMMWORD PTR [rbp+0x0]");
    CASE(7, 1, xw_x86_vload(c, XW_VMOVUPS, XW_ZMM, xw_v(1), xw_mem_at(XW_R13, 0), xw_plain), "vmovups zmm1,ZMMWORD PTR [r13+0x0]");
    CASE(7, 1, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(1), xw_mem_at(XW_R12, 0), xw_plain), "vmovupd zmm1,ZMMWORD PTR [r12]");
    CASE(8, 1, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(1), xw_mem_at(XW_RSP, 0x40), xw_plain), "vmovupd zmm1,ZMMWORD PTR [rsp+0x40]");
    CASE(11, 1, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(1), xw_mem_at(XW_RSP, 0x48), xw_plain), "vmovupd zmm1,ZMMWORD PTR [rsp+0x48]");
    // Broadcasts (T1S): N is the element; VEX has no disp scaling.
    CASE(7, 1, xw_x86_vload(c, XW_VBROADCASTSD, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x8), xw_plain), "vbroadcastsd zmm0,QWORD PTR [rdi+0x8]");
    CASE(7, 1, xw_x86_vload(c, XW_VBROADCASTSD, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x3f8), xw_plain), "vbroadcastsd zmm0,QWORD PTR [rdi+0x3f8]");
    CASE(10, 1, xw_x86_vload(c, XW_VBROADCASTSD, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x400), xw_plain), "vbroadcastsd zmm0,QWORD PTR [rdi+0x400]");
    CASE(7, 1, xw_x86_vload(c, XW_VBROADCASTSD, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, -0x400), xw_plain), "vbroadcastsd zmm0,QWORD PTR [rdi-0x400]");
    CASE(10, 1, xw_x86_vload(c, XW_VBROADCASTSD, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x4), xw_plain), "vbroadcastsd zmm0,QWORD PTR [rdi+0x4]");
    CASE(7, 1, xw_x86_vload(c, XW_VBROADCASTSD, XW_YMM, xw_v(31), xw_mem_at(XW_R8, 0x10), xw_plain), "vbroadcastsd ymm31,QWORD PTR [r8+0x10]");
    CASE(6, 0, xw_x86_vload(c, XW_VBROADCASTSD, XW_YMM, xw_v(2), xw_mem_at(XW_RSI, 0x10), xw_plain), "vbroadcastsd ymm2,QWORD PTR [rsi+0x10]");
    CASE(9, 0, xw_x86_vload(c, XW_VBROADCASTSD, XW_YMM, xw_v(2), xw_mem_at(XW_RSI, 0x100), xw_plain), "vbroadcastsd ymm2,QWORD PTR [rsi+0x100]");
    CASE(7, 1, xw_x86_vload(c, XW_VBROADCASTSS, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x4), xw_plain), "vbroadcastss zmm0,DWORD PTR [rdi+0x4]");
    CASE(7, 1, xw_x86_vload(c, XW_VBROADCASTSS, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x1fc), xw_plain), "vbroadcastss zmm0,DWORD PTR [rdi+0x1fc]");
    CASE(10, 1, xw_x86_vload(c, XW_VBROADCASTSS, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x200), xw_plain), "vbroadcastss zmm0,DWORD PTR [rdi+0x200]");
    CASE(10, 1, xw_x86_vload(c, XW_VBROADCASTSS, XW_ZMM, xw_v(0), xw_mem_at(XW_RDI, 0x6), xw_plain), "vbroadcastss zmm0,DWORD PTR [rdi+0x6]");
    CASE(5, 0, xw_x86_vload(c, XW_VBROADCASTSS, XW_XMM, xw_v(3), xw_mem_at(XW_RDX, 0), xw_plain), "vbroadcastss xmm3,DWORD PTR [rdx]");
    // Scalar moves (T1S).
    CASE(4, 0, xw_x86_vload(c, XW_VMOVSD, XW_XMM, xw_v(0), xw_mem_at(XW_RDI, 0), xw_plain), "vmovsd xmm0,QWORD PTR [rdi]");
    CASE(7, 1, xw_x86_vload(c, XW_VMOVSD, XW_XMM, xw_v(16), xw_mem_at(XW_RDI, 0x8), xw_plain), "vmovsd xmm16,QWORD PTR [rdi+0x8]");
    CASE(10, 1, xw_x86_vload(c, XW_VMOVSD, XW_XMM, xw_v(16), xw_mem_at(XW_RDI, 0x4), xw_plain), "vmovsd xmm16,QWORD PTR [rdi+0x4]");
    CASE(7, 1, xw_x86_vload(c, XW_VMOVSS, XW_XMM, xw_v(16), xw_mem_at(XW_RDI, 0x4), xw_plain), "vmovss xmm16,DWORD PTR [rdi+0x4]");
    CASE(5, 0, xw_x86_vstore(c, XW_VMOVSD, XW_XMM, xw_mem_at(XW_R9, 0), xw_v(9), XW_K0), "vmovsd QWORD PTR [r9],xmm9");
    CASE(6, 1, xw_x86_vstore(c, XW_VMOVSD, XW_XMM, xw_mem_at(XW_RDI, 0), xw_v(17), XW_K0), "vmovsd QWORD PTR [rdi],xmm17");
    CASE(7, 1, xw_x86_vstore(c, XW_VMOVSS, XW_XMM, xw_mem_at(XW_RDI, 0x8), xw_v(1), XW_K2), "vmovss DWORD PTR [rdi+0x8]{k2},xmm1");
    CASE(6, 1, xw_x86_vload(c, XW_VMOVSD, XW_XMM, xw_v(1), xw_mem_at(XW_RDI, 0), K1Z), "vmovsd xmm1{k1}{z},QWORD PTR [rdi]");

    // Masks and zeroing.
    for (int k = 1; k < 8; k++) {
        xw_evex e = { (xw_kreg)k, k & 1, false };
        CASE(7, 1, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(k * 4), xw_mem_at(XW_RSI, 0x40), e),
             "vmovupd zmm%d{k%d}%s,ZMMWORD PTR [rsi+0x40]", k * 4, k, k & 1 ? "{z}" : "");
        CASE(6, 1, xw_x86_vstore(c, XW_VMOVUPD, XW_ZMM, xw_mem_at(XW_RDX, 0), xw_v(k * 4 + 1), (xw_kreg)k),
             "vmovupd ZMMWORD PTR [rdx]{k%d},zmm%d", k, k * 4 + 1);
        CASE(6, 1, xw_x86_vop_rrm(c, XW_VADDPD, (xw_vl)(k % 3), xw_v(1), xw_v(2), xw_mem_at(XW_RDI, 0), e),
             "vaddpd %s{k%d}%s,%s,%s PTR [rdi]", vr((xw_vl)(k % 3), 1), k, k & 1 ? "{z}" : "", vr((xw_vl)(k % 3), 2), ptrname[k % 3]);
    }
    CASE(6, 1, xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(3), xw_mem_at(XW_RDI, 0), (xw_evex){ XW_K2, true, false }),
         "vmovupd ymm3{k2}{z},YMMWORD PTR [rdi]");
    CASE(6, 1, xw_x86_vload(c, XW_VMOVUPS, XW_XMM, xw_v(3), xw_mem_at(XW_RDI, 0), (xw_evex){ XW_K7, false, false }),
         "vmovups xmm3{k7},XMMWORD PTR [rdi]");
    CASE(7, 1, xw_x86_vstore(c, XW_VMOVUPS, XW_YMM, xw_mem_at(XW_RDI, 0x20), xw_v(17), XW_K0), "vmovups YMMWORD PTR [rdi+0x20],ymm17");
    CASE(4, 0, xw_x86_vstore(c, XW_VMOVUPD, XW_YMM, xw_mem_at(XW_RDI, 0), xw_v(1), XW_K0), "vmovupd YMMWORD PTR [rdi],ymm1");
    CASE(5, 0, xw_x86_vstore(c, XW_VMOVUPD, XW_YMM, xw_mem_at(XW_R10, 0), xw_v(1), XW_K0), "vmovupd YMMWORD PTR [r10],ymm1");
    CASE(6, 1, xw_x86_vstore(c, XW_VMOVUPS, XW_ZMM, xw_mem_at(XW_RAX, 0), xw_v(1), XW_K3), "vmovups ZMMWORD PTR [rax]{k3},zmm1");

    // Embedded broadcast {1toN}: N = vector / element; disp8 scaled by the element.
    static const struct { xw_insn op; xw_vl vl; const char *size, *n; } bc[] = {
        { XW_VFMADD231PD, XW_ZMM, "QWORD", "1to8" },  { XW_VFMADD231PD, XW_YMM, "QWORD", "1to4" },
        { XW_VFMADD231PD, XW_XMM, "QWORD", "1to2" },  { XW_VFMADD231PS, XW_ZMM, "DWORD", "1to16" },
        { XW_VFMADD231PS, XW_YMM, "DWORD", "1to8" },  { XW_VFMADD231PS, XW_XMM, "DWORD", "1to4" },
        { XW_VMULPD, XW_ZMM, "QWORD", "1to8" },       { XW_VFNMADD231PS, XW_ZMM, "DWORD", "1to16" },
        { XW_VPXORQ, XW_ZMM, "QWORD", "1to8" },       { XW_VADDPS, XW_YMM, "DWORD", "1to8" },
        { XW_VFMADD213PD, XW_ZMM, "QWORD", "1to8" },  { XW_VFMSUB213PS, XW_ZMM, "DWORD", "1to16" },
    };
    for (size_t k = 0; k < sizeof bc / sizeof *bc; k++) {
        xw_evex e = { XW_K0, false, true };
        int el = bc[k].size[0] == 'Q' ? 8 : 4;
        CASE(7, 1, xw_x86_vop_rrm(c, bc[k].op, bc[k].vl, xw_v(1), xw_v(2), xw_mem_at(XW_RDI, el), e), "%s %s,%s,%s PTR [rdi+0x%x]{%s}",
             mn(bc[k].op, true), vr(bc[k].vl, 1), vr(bc[k].vl, 2), bc[k].size, el, bc[k].n);
        CASE(7, 1, xw_x86_vop_rrm(c, bc[k].op, bc[k].vl, xw_v(1), xw_v(2), xw_mem_at(XW_RDI, el * 127), e), "%s %s,%s,%s PTR [rdi+0x%x]{%s}",
             mn(bc[k].op, true), vr(bc[k].vl, 1), vr(bc[k].vl, 2), bc[k].size, el * 127, bc[k].n);
        CASE(10, 1, xw_x86_vop_rrm(c, bc[k].op, bc[k].vl, xw_v(1), xw_v(2), xw_mem_at(XW_RDI, el * 128), e), "%s %s,%s,%s PTR [rdi+0x%x]{%s}",
             mn(bc[k].op, true), vr(bc[k].vl, 1), vr(bc[k].vl, 2), bc[k].size, el * 128, bc[k].n);
        CASE(10, 1, xw_x86_vop_rrm(c, bc[k].op, bc[k].vl, xw_v(1), xw_v(2), xw_mem_at(XW_RDI, el / 2), e), "%s %s,%s,%s PTR [rdi+0x%x]{%s}",
             mn(bc[k].op, true), vr(bc[k].vl, 1), vr(bc[k].vl, 2), bc[k].size, el / 2, bc[k].n);
    }
    CASE(7, 1, xw_x86_vop_rrm(c, XW_VFMADD231PD, XW_ZMM, xw_v(1), xw_v(2), xw_mem_at(XW_RDI, 8), (xw_evex){ XW_K1, true, true }),
         "vfmadd231pd zmm1{k1}{z},zmm2,QWORD PTR [rdi+0x8]{1to8}");
    CASE(8, 1, xw_x86_vop_rrm(c, XW_VFMADD231PD, XW_ZMM, xw_v(31), xw_v(16), xw_mem_at(XW_R12, -8), (xw_evex){ XW_K0, false, true }),
         "vfmadd231pd zmm31,zmm16,QWORD PTR [r12-0x8]{1to8}");

    // kmovw k, r32: every mask and every GPR.
    for (int i = 0; i < 16; i++)
        CASE(i < 8 ? 4 : 5, 0, xw_x86_kmovw(c, (xw_kreg)(i % 8), xw_r(i)), "kmovw k%d,%s", i % 8, g32[i]);
    for (int k = 0; k < 8; k++)
        CASE(0, 0, xw_x86_kmovw(c, (xw_kreg)k, xw_r(15 - k)), "kmovw k%d,%s", k, g32[15 - k]);
}

// RIP-relative: the operand is an offset into the buffer; objdump prints rip+rel and, after
// '#', the absolute target, which must be that offset.
static void rip_case(int line, const char *src, size_t off, int len, int evex, const char *prefix, int32_t target, const char *suffix)
{
    int64_t rel = (int64_t)target - (int64_t)(off + (size_t)len);
    add_case(off, line, src, len, evex, "%s[rip+0x%" PRIx64 "]%s # 0x%" PRIx64, prefix, (uint64_t)rel, suffix, (uint64_t)target);
}
#define RIP(nbytes, evex, call, prefix, target, suffix)                                 \
    do {                                                                                \
        size_t o_ = c->len;                                                             \
        call;                                                                           \
        rip_case(__LINE__, #call, o_, nbytes, evex, prefix, target, suffix);            \
    } while (0)

static void rip_cases(void)
{
    int32_t here = (int32_t)c->len;
    int32_t targets[] = { 0, here - 0x40, here + 0x10, here + 0x1000, 0x7000 };
    for (size_t k = 0; k < sizeof targets / sizeof *targets; k++) {
        int32_t t = targets[k];
        RIP(8, 0, xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(0), xw_mem_rip(t), xw_plain), "vmovupd ymm0,YMMWORD PTR ", t, "");
        RIP(9, 0, xw_x86_vload(c, XW_VBROADCASTSD, XW_YMM, xw_v(9), xw_mem_rip(t), xw_plain), "vbroadcastsd ymm9,QWORD PTR ", t, "");
        RIP(10, 1, xw_x86_vop_rrm(c, XW_VFMADD231PD, XW_ZMM, xw_v(1), xw_v(2), xw_mem_rip(t), (xw_evex){ XW_K0, false, true }),
            "vfmadd231pd zmm1,zmm2,QWORD PTR ", t, "{1to8}");
        RIP(10, 1, xw_x86_vstore(c, XW_VMOVUPS, XW_ZMM, xw_mem_rip(t), xw_v(30), XW_K1), "vmovups ZMMWORD PTR ", t, "{k1},zmm30");
        RIP(7, ANY, xw_x86_lea(c, XW_RAX, xw_mem_rip(t)), "lea rax,", t, "");
        RIP(7, ANY, xw_x86_prefetch(c, XW_PREFETCHT0, xw_mem_rip(t)), "prefetcht0 BYTE PTR ", t, "");
    }
}

// ---- General-purpose cases.
static void gpr_cases(void)
{
    for (int i = 0; i < 16; i++) {
        int s = (i * 5 + 3) % 16, d = (i * 7 + 2) % 16;
        CASE(3, ANY, xw_x86_mov_rr(c, xw_r(i), xw_r(s)), "mov %s,%s", g64[i], g64[s]);
        CASE(3, ANY, xw_x86_mov_rr(c, xw_r(d), xw_r(i)), "mov %s,%s", g64[d], g64[i]);
        static const int32_t disps[] = { 0, 0x8, -0x80, 0x80, 0x100000 };
        xw_mem m = xw_mem_at(xw_r(i), disps[i % 5]);
        CASE(2 + mem_len(m, 1), ANY, xw_x86_lea(c, xw_r(s), m), "lea %s,%s", g64[s], memtxt(m));
        CASE(i < 8 ? 1 : 2, ANY, xw_x86_push(c, xw_r(i)), "push %s", g64[i]);
        CASE(i < 8 ? 1 : 2, ANY, xw_x86_pop(c, xw_r(i)), "pop %s", g64[i]);
    }
    CASE(5, ANY, xw_x86_lea(c, XW_RSP, xw_mem_at(XW_RSP, -8)), "lea rsp,[rsp-0x8]");

    static const char *const alu_name[] = { "add", "sub", "cmp", "and", "or", "xor" };
    static const int32_t imms[] = { 1, 0x7f, 0x80, -0x80, -0x81, 0x12345678, INT32_MIN, 0 };
    const xw_gpr alu_regs[] = { XW_RAX, XW_RCX, XW_RSP, XW_RBP, XW_R8, XW_R12, XW_R15 };
    for (int op = XW_ADD; op <= XW_XOR; op++) {
        for (int k = 0; k < 8; k++) {
            xw_gpr r = alu_regs[(op + k) % 7];
            bool i8 = imms[k] >= -128 && imms[k] <= 127;
            CASE(i8 ? 4 : 7, ANY, xw_x86_alu_ri(c, (xw_alu)op, r, imms[k]), "%s %s,0x%" PRIx64, alu_name[op], g64[r.n],
                 (uint64_t)(int64_t)imms[k]);
        }
    }

    // mov r, imm: zero-extending imm32, sign-extending imm32, or movabs.
    static const struct { int64_t imm; int len; const char *fmt; } mi[] = {
        { 0, 5, "mov %s,0x0" },
        { 1, 5, "mov %s,0x1" },
        { 0x7fffffff, 5, "mov %s,0x7fffffff" },
        { 0x80000000, 5, "mov %s,0x80000000" },
        { 0xffffffff, 5, "mov %s,0xffffffff" },
        { 0x100000000, 10, "movabs %s,0x100000000" },
        { -1, 7, "mov %s,0xffffffffffffffff" },
        { INT32_MIN, 7, "mov %s,0xffffffff80000000" },
        { (int64_t)INT32_MIN - 1, 10, "movabs %s,0xffffffff7fffffff" },
        { INT64_MAX, 10, "movabs %s,0x7fffffffffffffff" },
        { INT64_MIN, 10, "movabs %s,0x8000000000000000" },
    };
    for (size_t k = 0; k < sizeof mi / sizeof *mi; k++)
        for (int r = 0; r < 16; r += 5) {  // rax, rbp, r10, r15
            bool narrow = mi[k].len == 5;
            int len = mi[k].len + (narrow && r >= 8);
            CASE(len, ANY, xw_x86_mov_ri(c, xw_r(r), mi[k].imm), mi[k].fmt, narrow ? g32[r] : g64[r]);
        }

    static const char *const pf_name[] = { "prefetcht0", "prefetcht1", "prefetcht2", "prefetchnta" };
    for (int h = 0; h < 4; h++)
        for (int b = h; b < 16; b += 4) {
            xw_mem m = xw_mem_at(xw_r(b), 0x40 * h);
            CASE(2 + mem_len(m, 1) + (b >= 8), ANY, xw_x86_prefetch(c, (xw_prefetch)h, m), "%s BYTE PTR %s", pf_name[h], memtxt(m));
        }
    CASE(3, ANY, xw_x86_vzeroupper(c), "vzeroupper");
    CASE(1, ANY, xw_x86_ret(c), "ret");
}

// ---- Jumps.
// Pads to offset end with one-byte instructions that are not cases (push rax).
static void fill(size_t end)
{
    while (c->len < end && c->err == XW_OK) xw_x86_push(c, XW_RAX);
}

static void jump_cases(void)
{
    static const char *const jname[] = { "jne", "je", "jl", "jge", "jmp" };
    // Backward rel8 at the -128 boundary and rel32 one byte past it, for every condition.
    for (int cc = XW_JNZ; cc <= XW_JMP; cc++) {
        size_t top = xw_x86_here(c);
        CASE(4, ANY, xw_x86_alu_ri(c, XW_SUB, XW_RCX, 1), "sub rcx,0x1");
        CASE(2, ANY, xw_x86_jcc_to(c, (xw_cond)cc, top), "%s 0x%zx", jname[cc], top);
        fill(top + 126);
        CASE(2, ANY, xw_x86_jcc_to(c, (xw_cond)cc, top), "%s 0x%zx", jname[cc], top);  // rel8 = -128
        size_t top2 = xw_x86_here(c);
        fill(top2 + 127);
        CASE(cc == XW_JMP ? 5 : 6, ANY, xw_x86_jcc_to(c, (xw_cond)cc, top2), "%s 0x%zx", jname[cc], top2);  // -129
    }
    size_t top = xw_x86_here(c);
    fill(top + 0x300);
    CASE(6, ANY, xw_x86_jcc_to(c, XW_JL, top), "jl 0x%zx", top);
    size_t ahead = c->len + 0x10;
    CASE(2, ANY, xw_x86_jcc_to(c, XW_JGE, ahead), "jge 0x%zx", ahead);  // forward, target known
    for (int i = 0; i < 4; i++) EXPECT(xw_x86_alu_ri(c, XW_XOR, XW_RAX, 1), "xor rax,0x1");
}

// ---- Error cases: a fresh buffer; the call must set want and leave the buffer untouched.
static void check_err(int line, const char *src, const xw_code *e, const uint8_t *b, size_t n, xw_status want)
{
    bool untouched = true;
    for (size_t i = 0; i < n; i++) untouched = untouched && b[i] == 0xAA;
    if (e->err == want && e->len == 0 && untouched) {
        passed++;
        return;
    }
    char exp[64], got[96];
    snprintf(exp, sizeof exp, "err %d, nothing emitted", (int)want);
    snprintf(got, sizeof got, "err %d, len %zu, buffer %s", (int)e->err, e->len, untouched ? "untouched" : "written");
    mismatch(line, src, exp, got);
}
#define EXPECT_ERR(want, ...)                                               \
    do {                                                                    \
        uint8_t b_[64];                                                     \
        memset(b_, 0xAA, sizeof b_);                                        \
        xw_code e_ = { b_, 48, 0, XW_OK };                                  \
        xw_code *c = &e_;                                                   \
        __VA_ARGS__;                                                        \
        check_err(__LINE__, #__VA_ARGS__, &e_, b_, sizeof b_, want);        \
    } while (0)

static void check(int line, const char *what, bool ok)
{
    if (ok)
        passed++;
    else
        mismatch(line, what, "true", "false");
}
#define CHECK(cond) check(__LINE__, #cond, (cond))

// Emitters for the room check: each must fail cleanly with any cap below its length.
static void r_vex(xw_code *c) { xw_x86_vop_rrr(c, XW_VFMADD231PD, XW_YMM, xw_v(1), xw_v(2), xw_v(3)); }
static void r_evex(xw_code *c) { xw_x86_vop_rrm(c, XW_VADDPD, XW_ZMM, xw_v(1), xw_v(2), xw_mem_at(XW_R12, 0x1234), xw_plain); }
static void r_rip(xw_code *c) { xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(1), xw_mem_rip(0x100), xw_plain); }
static void r_store(xw_code *c) { xw_x86_vstore(c, XW_VMOVUPD, XW_ZMM, xw_mem_at(XW_RDI, 0x1000), xw_v(1), XW_K1); }
static void r_rrri(xw_code *c) { xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, xw_v(1), xw_v(2), xw_v(3), 0x20); }
static void r_rri(xw_code *c) { xw_x86_vop_rri(c, XW_VPERMILPD_I, XW_ZMM, xw_v(17), xw_v(2), 0x55); }
static void r_rr(xw_code *c) { xw_x86_vop_rr(c, XW_VMOVUPD, XW_ZMM, xw_v(1), xw_v(2)); }
static void r_kmov(xw_code *c) { xw_x86_kmovw(c, XW_K1, XW_R9); }
static void r_movabs(xw_code *c) { xw_x86_mov_ri(c, XW_R9, INT64_MIN); }
static void r_movrr(xw_code *c) { xw_x86_mov_rr(c, XW_R9, XW_RBP); }
static void r_lea(xw_code *c) { xw_x86_lea(c, XW_RAX, xw_mem_at(XW_RSP, 8)); }
static void r_alu(xw_code *c) { xw_x86_alu_ri(c, XW_CMP, XW_R12, 0x1000); }
static void r_push(xw_code *c) { xw_x86_push(c, XW_R12); }
static void r_pf(xw_code *c) { xw_x86_prefetch(c, XW_PREFETCHT1, xw_mem_at(XW_R13, 0)); }
static void r_vzu(xw_code *c) { xw_x86_vzeroupper(c); }
static void r_ret(xw_code *c) { xw_x86_ret(c); }
static void r_jcc(xw_code *c) { xw_x86_jcc_to(c, XW_JNZ, 0); }
static void r_data(xw_code *c) { (void)xw_x86_data(c, "abcdefgh", 8, 1); }

static void error_cases(void)
{
    // Impossible requests.
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrri(c, XW_VPERM2F128, XW_ZMM, xw_v(1), xw_v(2), xw_v(3), 0));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, xw_v(1), xw_v(2), xw_v(16), 0));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrri(c, XW_VPERM2F128, XW_XMM, xw_v(1), xw_v(2), xw_v(3), 0));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vload(c, XW_VBROADCASTSD, XW_XMM, xw_v(1), xw_mem_at(XW_RDI, 0), xw_plain));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(1), xw_mem_at(XW_NOREG, 0), xw_plain));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_lea(c, XW_RAX, xw_mem_at(XW_NOREG, 8)));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_lea(c, XW_RIP, xw_mem_at(XW_RAX, 8)));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_alu_ri(c, (xw_alu)6, XW_RAX, 1));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vload(c, XW_VMOVUPD, XW_ZMM, xw_v(1), xw_mem_at(XW_RDI, 0), (xw_evex){ XW_K0, false, true }));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vload(c, XW_VBROADCASTSD, XW_ZMM, xw_v(1), xw_mem_at(XW_RDI, 0), (xw_evex){ XW_K0, false, true }));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrm(c, XW_VADDPD, XW_ZMM, xw_v(1), xw_v(2), xw_mem_at(XW_RDI, 0), (xw_evex){ XW_K0, true, false }));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrm(c, XW_VADDPD, XW_ZMM, xw_v(1), xw_v(2), xw_mem_at(XW_RDI, 0), (xw_evex){ (xw_kreg)8, false, false }));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrr(c, XW_VADDPD, XW_ZMM, xw_v(32), xw_v(2), xw_v(3)));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrr(c, XW_VADDPD, (xw_vl)3, xw_v(1), xw_v(2), xw_v(3)));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrr(c, XW_INSN_COUNT, XW_YMM, xw_v(1), xw_v(2), xw_v(3)));
    // VMASKMOV has no register form, and no EVEX one.
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrr(c, XW_VMASKMOVPD, XW_YMM, xw_v(1), xw_v(2), xw_v(3)));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrm(c, XW_VMASKMOVPS, XW_ZMM, xw_v(1), xw_v(2), xw_mem_at(XW_RDI, 0), xw_plain));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrm(c, XW_VMASKMOVPD, XW_YMM, xw_v(17), xw_v(2), xw_mem_at(XW_RDI, 0), xw_plain));
    // An operation in the wrong operand form.
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrr(c, XW_VMOVUPD, XW_YMM, xw_v(1), xw_v(2), xw_v(3)));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrr(c, XW_VSHUFPS, XW_YMM, xw_v(1), xw_v(2), xw_v(3)));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vload(c, XW_VFMADD231PD, XW_YMM, xw_v(1), xw_mem_at(XW_RDI, 0), xw_plain));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vstore(c, XW_VBROADCASTSD, XW_YMM, xw_mem_at(XW_RDI, 0), xw_v(1), XW_K0));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rr(c, XW_VMOVSD, XW_XMM, xw_v(1), xw_v(2)));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrri(c, XW_VADDPD, XW_YMM, xw_v(1), xw_v(2), xw_v(3), 0));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rri(c, XW_VSHUFPS, XW_YMM, xw_v(1), xw_v(2), 0));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrri(c, XW_VPERMILPD_I, XW_YMM, xw_v(1), xw_v(2), xw_v(3), 0));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rrr(c, XW_VPERMILPS_I, XW_YMM, xw_v(1), xw_v(2), xw_v(3)));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vop_rri(c, XW_VPERMILPD_I, XW_ZMM, xw_v(32), xw_v(2), 0));
    // GPR operands out of range.
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_push(c, XW_RIP));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_pop(c, XW_NOREG));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_mov_rr(c, XW_RAX, XW_NOREG));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_mov_ri(c, XW_RIP, 1));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_alu_ri(c, XW_ADD, XW_RIP, 1));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_kmovw(c, XW_K1, XW_RIP));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_kmovw(c, (xw_kreg)8, XW_RAX));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_prefetch(c, (xw_prefetch)4, xw_mem_at(XW_RDI, 0)));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_jcc_to(c, (xw_cond)5, 0));
    EXPECT_ERR(XW_ERR_ENCODE, (void)xw_x86_data(c, "x", 1, 3));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(1), xw_mem_rip(INT32_MIN), xw_plain));  // rel32 overflow
    // No room: nothing written, NOMEM; the first error sticks over later calls.
    EXPECT_ERR(XW_ERR_NOMEM, e_.cap = 4, (void)xw_x86_data(c, "abcdefgh", 8, 1));
    EXPECT_ERR(XW_ERR_NOMEM, e_.cap = 4, xw_x86_vop_rrr(c, XW_VFMADD231PD, XW_YMM, xw_v(1), xw_v(2), xw_v(3)), xw_x86_ret(c));
    EXPECT_ERR(XW_ERR_ENCODE, xw_x86_push(c, XW_RIP), xw_x86_ret(c), e_.cap = 0, xw_x86_ret(c));
    EXPECT_ERR(XW_ERR_NOMEM, e_.cap = 0, xw_x86_ret(c), xw_x86_push(c, XW_RIP), xw_x86_ret(c));

    // Every emitter against every cap below its length, also with the buffer partly used.
    static void (*const room[])(xw_code *) = { r_vex, r_evex, r_rip, r_store, r_rrri, r_rri, r_rr, r_kmov, r_movabs, r_movrr,
                                               r_lea, r_alu, r_push, r_pf, r_vzu, r_ret, r_jcc, r_data };
    for (size_t k = 0; k < sizeof room / sizeof *room; k++) {
        uint8_t b[40];
        xw_code e = { b, 32, 0, XW_OK };
        room[k](&e);
        size_t need = e.len;
        bool ok = e.err == XW_OK && need > 0;
        for (size_t used = 0; used <= 3; used += 3)
            for (size_t cap = used; cap < used + need; cap++) {
                memset(b, 0xAA, sizeof b);
                e = (xw_code){ b, cap, used, XW_OK };
                room[k](&e);
                for (size_t i = 0; i < sizeof b; i++) ok = ok && b[i] == 0xAA;
                ok = ok && e.err == XW_ERR_NOMEM && e.len == used;
                e = (xw_code){ b, used + need, used, XW_OK };
                room[k](&e);
                ok = ok && e.err == XW_OK && e.len == used + need;
            }
        char what[64];
        snprintf(what, sizeof what, "room check before writing, emitter #%zu", k);
        check(__LINE__, what, ok);
    }

    // xw_x86_data: int3 padding to the alignment, bytes copied, their offset returned.
    {
        uint8_t b[64];
        memset(b, 0, sizeof b);
        xw_code e = { b, sizeof b, 0, XW_OK };
        xw_x86_ret(&e);
        xw_x86_ret(&e);
        xw_x86_ret(&e);
        static const uint8_t d[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
        size_t at = xw_x86_data(&e, d, sizeof d, 8);
        CHECK(at == 8 && e.len == 16 && e.err == XW_OK);
        CHECK(b[3] == 0xCC && b[4] == 0xCC && b[7] == 0xCC && memcmp(b + 8, d, 8) == 0);
        CHECK(xw_x86_data(&e, d, 3, 1) == 16 && e.len == 19);
        CHECK(xw_x86_data(&e, d, 2, 0) == 19 && e.len == 21);
        CHECK(xw_x86_data(&e, d, 0, 32) == 32 && e.len == 32 && b[31] == 0xCC);
        CHECK(xw_x86_data(&e, d, 8, 64) == 0 && e.err == XW_ERR_NOMEM && e.len == 32);
    }
}

// ---- Disassemble the main buffer once and compare.
static void normalize(char *s)  // collapse blanks; "X PTR [m]{1toN}" becomes "X BCST [m]"
{
    char *w = s;
    bool space = true;
    for (char *r = s; *r; r++) {
        if (isspace((unsigned char)*r)) {
            if (!space) *w++ = ' ';
            space = true;
        } else {
            *w++ = *r;
            space = false;
        }
    }
    while (w > s && w[-1] == ' ') w--;
    *w = 0;
    char *b = strstr(s, "{1to");
    if (b) {
        char *e = strchr(b, '}');
        char *p = strstr(s, " PTR [");
        if (e && p && p < b) {
            memmove(b, e + 1, strlen(e + 1) + 1);
            memmove(p + 5, p + 4, strlen(p + 4) + 1);  // " PTR" -> " BCST"
            memcpy(p + 1, "BCST", 4);
        }
    }
}


// ---- Prepared instructions (xw_x86_vprep, xw_x86_vp_*) must write exactly what the general
// emitter of the same form writes, error included, for every row, length, decoration, register
// and a spread of bases and displacements; also at the end of a nearly full buffer.
static void prepared_cases(void)
{
    static uint8_t b1[64], b2[64];
    static const xw_evex decos[] = { { XW_K0, false, false }, { XW_K1, false, false }, { XW_K1, true, false },
                                     { XW_K0, false, true },  { XW_K3, true, true },   { XW_K0, true, false } };
    static const int32_t disps[] = { 0, 8, -8, 64, 96, 127 * 8, 128 * 8, 1024, -4096, 0x12345678, 3 };
    static const unsigned regs[] = { 0, 1, 7, 8, 15, 16, 23, 31, 32 };
    const xw_gpr bases[] = { XW_RAX, XW_RSP, XW_RBP, XW_RSI, XW_RDI, XW_R8, XW_R12, XW_R13, XW_R15, XW_RIP, XW_NOREG };
    long n = 0, bad = 0;
    for (int form = XW_VP_RRR; form <= XW_VP_STORE; form++)
        for (int op = 0; op < XW_INSN_COUNT; op++)
            for (int vl = 0; vl <= XW_ZMM; vl++)
                for (size_t di = 0; di < sizeof decos / sizeof decos[0]; di++) {
                    const xw_vprep pr = xw_x86_vprep((xw_vp_form)form, (xw_insn)op, (xw_vl)vl, decos[di]);
                    const xw_evex e = form == XW_VP_RRR ? xw_plain : decos[di];
                    for (size_t ri = 0; ri < sizeof regs / sizeof regs[0]; ri++)
                        for (size_t si = 0; si < sizeof regs / sizeof regs[0]; si++)
                            for (size_t bi = 0; bi < sizeof bases / sizeof bases[0]; bi++)
                                for (size_t k = 0; k < sizeof disps / sizeof disps[0]; k++)
                                    for (size_t room = 16; room <= 64; room += 48) {
                                        const unsigned r = regs[ri], s1 = regs[si], s2 = regs[(ri + si) % 9];
                                        const xw_gpr base = bases[bi];
                                        const int32_t d = disps[k];
                                        if (form == XW_VP_RRR && (bi || k)) continue;
                                        xw_code x = { b1, room, 0, XW_OK }, y = { b2, room, 0, XW_OK };
                                        memset(b1, 0xAA, sizeof b1);
                                        memset(b2, 0xAA, sizeof b2);
                                        switch (form) {
                                        case XW_VP_RRR:
                                            xw_x86_vp_rrr(&x, &pr, xw_v(r), xw_v(s1), xw_v(s2));
                                            xw_x86_vop_rrr(&y, (xw_insn)op, (xw_vl)vl, xw_v(r), xw_v(s1), xw_v(s2));
                                            break;
                                        case XW_VP_RRM:
                                            xw_x86_vp_rrm(&x, &pr, xw_v(r), xw_v(s1), base, d);
                                            xw_x86_vop_rrm(&y, (xw_insn)op, (xw_vl)vl, xw_v(r), xw_v(s1), xw_mem_at(base, d), e);
                                            break;
                                        case XW_VP_LOAD:
                                            xw_x86_vp_load(&x, &pr, xw_v(r), base, d);
                                            xw_x86_vload(&y, (xw_insn)op, (xw_vl)vl, xw_v(r), xw_mem_at(base, d), e);
                                            break;
                                        default:
                                            xw_x86_vp_store(&x, &pr, base, d, xw_v(r));
                                            xw_x86_vstore(&y, (xw_insn)op, (xw_vl)vl, xw_mem_at(base, d), xw_v(r), e.mask);
                                            break;
                                        }
                                        n++;
                                        if (x.len != y.len || x.err != y.err || memcmp(b1, b2, sizeof b1)) {
                                            if (bad++ < 10)
                                                printf("FAIL prepared form %d %s vl %d deco %zu regs %u %u %u base %d disp %d: "
                                                       "%zu bytes err %d, general %zu bytes err %d\n",
                                                       form, insn_name[op], vl, di, r, s1, s2, (int)base.n, (int)d, x.len,
                                                       (int)x.err, y.len, (int)y.err);
                                        }
                                    }
                }
    // A preparation used with another form's emitter is an encoding error, nothing written.
    const xw_vprep ld = xw_x86_vprep(XW_VP_LOAD, XW_VMOVUPD, XW_YMM, xw_plain);
    const xw_vprep rr = xw_x86_vprep(XW_VP_RRR, XW_VADDPD, XW_YMM, xw_plain);
    // A form with no memory operand prepared and given one: also an error (VSHUFPS has an imm8).
    const xw_vprep shuf = xw_x86_vprep(XW_VP_RRRI, XW_VSHUFPS, XW_YMM, xw_plain);
    for (int k = 0; k < 5; k++) {
        xw_code x = { b1, sizeof b1, 0, XW_OK };
        if (k == 4) xw_x86_vp_mem(&x, &shuf, XW_VP_RRRI, xw_v(1), xw_v(2), XW_RAX, 0);
        if (k == 0) xw_x86_vp_store(&x, &ld, XW_RAX, 0, xw_v(1));
        if (k == 1) xw_x86_vp_rrm(&x, &ld, xw_v(1), xw_v(2), XW_RAX, 0);
        if (k == 2) xw_x86_vp_rrr(&x, &ld, xw_v(1), xw_v(2), xw_v(3));
        if (k == 3) xw_x86_vp_load(&x, &rr, xw_v(1), XW_RAX, 0);
        n++;
        if (x.len != 0 || x.err != XW_ERR_ENCODE) {
            bad++;
            printf("FAIL prepared form mismatch %d: %zu bytes err %d\n", k, x.len, (int)x.err);
        }
    }
    if (bad) failed++; else passed++;
    printf("prepared instructions: %ld compared, %ld differ\n", n, bad);
}

static int compare(void)
{
    char path[] = "/tmp/test_x86_enc_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, mainbuf, c->len) != (ssize_t)c->len) {
        perror("temp file");
        return -1;
    }
    close(fd);
    const char *od = getenv("OBJDUMP");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s -D -b binary -m i386:x86-64 -M intel --no-show-raw-insn %s", od && *od ? od : "objdump", path);
    FILE *p = popen(cmd, "r");
    if (!p) {
        perror("popen objdump");
        return -1;
    }
    char **text = calloc(c->len + 1, sizeof *text);
    size_t *next = calloc(c->len + 1, sizeof *next);
    if (!text || !next) abort();
    char line[512];
    size_t prev = SIZE_MAX, lines = 0;
    while (fgets(line, sizeof line, p)) {
        char *tab = strchr(line, '\t');
        char *end;
        unsigned long a = strtoul(line, &end, 16);
        if (!tab || end == line || *end != ':' || a >= c->len) continue;
        normalize(tab + 1);
        text[a] = dupstr(tab + 1);
        if (prev != SIZE_MAX) next[prev] = a;
        prev = a;
        lines++;
    }
    if (prev != SIZE_MAX) next[prev] = c->len;
    int st = pclose(p);
    remove(path);
    if (st != 0 || lines == 0) {
        printf("objdump failed (%s)\n", cmd);
        return -1;
    }
    for (size_t i = 0; i < ncases; i++) {
        tcase *t = &cases[i];
        char want[300], got[400];
        snprintf(want, sizeof want, "%s", t->expect);
        normalize(want);
        size_t len = t->end - t->off;
        bool is_evex = mainbuf[t->off] == 0x62;
        if (!text[t->off])
            snprintf(got, sizeof got, "no instruction starts at 0x%zx", t->off);
        else if (next[t->off] != t->end)
            snprintf(got, sizeof got, "%s (decoded %zu bytes, emitted %zu)", text[t->off], next[t->off] - t->off, len);
        else if (strcmp(want, text[t->off]) != 0)
            snprintf(got, sizeof got, "%s", text[t->off]);
        else if (t->len && (size_t)t->len != len)
            snprintf(got, sizeof got, "%s (%zu bytes, expected %d)", text[t->off], len, t->len);
        else if (t->evex != ANY && t->evex != is_evex)
            snprintf(got, sizeof got, "%s (%s, expected %s)", text[t->off], is_evex ? "EVEX" : "not EVEX", t->evex ? "EVEX" : "VEX");
        else {
            passed++;
            continue;
        }
        char src[300];
        snprintf(src, sizeof src, "%s", t->src);
        mismatch(t->line, src, want, got);
    }
    for (size_t i = 0; i <= c->len; i++) free(text[i]);
    free(text);
    free(next);
    return 0;
}

int main(void)
{
    vector_register_cases();
    vector_memory_cases();
    rip_cases();
    gpr_cases();
    jump_cases();
    int rc = compare();
    error_cases();
    prepared_cases();
    for (size_t i = 0; i < ncases; i++) {
        free(cases[i].src);
        free(cases[i].expect);
    }
    free(cases);
    if (rc != 0) failed++;
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
