// x86_enc.h: the x86-64 encoder the generators emit through: typed operands, one function per
// operand form, instruction facts in x86_insn.def. Calls nothing; keeps the first error in xw_code.
#ifndef XW_X86_ENC_H
#define XW_X86_ENC_H

#include <string.h>

#include "kernels.h"

typedef enum {
    XW_RAX = 0, XW_RCX, XW_RDX, XW_RBX, XW_RSP, XW_RBP, XW_RSI, XW_RDI,
    XW_R8, XW_R9, XW_R10, XW_R11, XW_R12, XW_R13, XW_R14, XW_R15,
    XW_RIP = 16,   // only as a memory base: [rip + disp32]
    XW_NOREG = 17, // no register (a role the generator does not use)
} xw_gpr;

typedef enum {
    XW_V0 = 0, XW_V1, XW_V2, XW_V3, XW_V4, XW_V5, XW_V6, XW_V7,
    XW_V8, XW_V9, XW_V10, XW_V11, XW_V12, XW_V13, XW_V14, XW_V15,
    XW_V16, XW_V17, XW_V18, XW_V19, XW_V20, XW_V21, XW_V22, XW_V23,
    XW_V24, XW_V25, XW_V26, XW_V27, XW_V28, XW_V29, XW_V30, XW_V31,
} xw_vreg;

typedef enum { XW_K0 = 0, XW_K1, XW_K2, XW_K3, XW_K4, XW_K5, XW_K6, XW_K7 } xw_kreg;

typedef enum { XW_XMM = 0, XW_YMM = 1, XW_ZMM = 2 } xw_vl;

// Vector instructions, spelled as in the Intel SDM; facts in x86_insn.def.
typedef enum {
#define XW_INSN(name, form, minvl, pp, map, wvex, wevex, opcode, tuple) XW_##name,
#include "x86_insn.def"
#undef XW_INSN
    XW_INSN_COUNT
} xw_insn;

typedef enum { XW_ADD, XW_SUB, XW_CMP, XW_AND, XW_OR, XW_XOR } xw_alu;
typedef enum { XW_JNZ, XW_JZ, XW_JL, XW_JGE, XW_JMP } xw_cond;
typedef enum { XW_PREFETCHT0, XW_PREFETCHT1, XW_PREFETCHT2, XW_PREFETCHNTA } xw_prefetch;

// A memory operand: [base + disp], or with base XW_RIP [rip + disp] where disp is an offset into
// the code buffer (the encoder makes it relative to the next instruction).
typedef struct {
    xw_gpr base;
    int32_t disp;
} xw_mem;

static inline xw_mem xw_mem_at(xw_gpr base, int32_t disp) { return (xw_mem){ base, disp }; }
static inline xw_mem xw_mem_rip(int32_t buffer_offset) { return (xw_mem){ XW_RIP, buffer_offset }; }

// EVEX-only decorations of a vector operation; xw_plain means none.
typedef struct {
    xw_kreg mask;   // XW_K0: no masking
    bool zeroing;   // {z}: masked-off lanes become zero (else they are kept)
    bool bcst;      // memory operand is one element broadcast: m64{1to8}
} xw_evex;
static const xw_evex xw_plain = { XW_K0, false, false };

// The emission buffer. Every emitter checks room before writing; the first error sticks.
typedef struct {
    uint8_t *buf;
    size_t cap, len;
    xw_status err;
} xw_code;

// Vector operations pick VEX when the operands allow it (registers < 16, vector length <= 256,
// no xw_evex decoration) and EVEX otherwise, so AVX2 code never contains EVEX.
// Three-operand arithmetic: dst = op(s1, s2), e.g. VFMADD231PD dst += s1 * s2.
void xw_x86_vop_rrr(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_vreg s2);
void xw_x86_vop_rrm(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_mem m, xw_evex e);
// Three registers and an imm8 (VSHUFPD, VPERM2F128, VSHUFF64X2; VINSERTF128/VINSERTF64X4 take
// s2 as the half-width register): dst = op(s1, s2, imm).
void xw_x86_vop_rrri(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_vreg s2, uint8_t imm);
// Two registers and an imm8, no second source (VPERMILPD_I, VPERMILPS_I): dst = op(src, imm).
void xw_x86_vop_rri(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg src, uint8_t imm);
// Two-operand register form of a move or broadcast: VMOVAPD zmm1, zmm2; VBROADCASTSD ymm1, xmm2.
void xw_x86_vop_rr(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg src);
// Two-operand forms: loads and broadcasts (dst <- m), stores (m <- src).
void xw_x86_vload(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_mem m, xw_evex e);
void xw_x86_vstore(xw_code *c, xw_insn op, xw_vl vl, xw_mem m, xw_vreg src, xw_kreg mask);
void xw_x86_kmovw(xw_code *c, xw_kreg dst, xw_gpr src);  // KMOVW k, r32

// Prepared vector instructions, for code that emits one operation many times (a GEMM k loop):
// xw_x86_vprep checks the operation, vector length, operand form and EVEX decorations once
// (e: loads and reg-mem operations; stores use e.mask only; ignored for XW_VP_RRR). Each
// xw_x86_vp_* call then gives only registers and a [base + disp] operand, and writes the same
// bytes as the general emitter of that form, which it falls back to for anything else
// (registers or a base it cannot take, an invalid preparation, an error, little room).
typedef enum { XW_VP_RRR, XW_VP_RRM, XW_VP_LOAD, XW_VP_STORE } xw_vp_form;
typedef struct {
    uint64_t evex;        // EVEX prefix and opcode, decorations and length set, registers zero
    uint32_t vex2, vex3;  // VEX prefixes (2- and 3-byte) and opcode, length set, registers zero
    uint8_t vex, evex_ok; // the form may use VEX (registers < 16) / EVEX (registers < 32)
    uint8_t c5, sh;       // VEX may take the 2-byte form; EVEX disp8*N is 1 << sh
    uint8_t form;         // xw_vp_form
    xw_insn op;           // the general emitter's arguments, for the fallback
    xw_vl vl;
    xw_evex e;
} xw_vprep;
xw_vprep xw_x86_vprep(xw_vp_form form, xw_insn op, xw_vl vl, xw_evex e);
// Out of line: EVEX, then the general emitters (use the inline xw_x86_vp_* below).
void xw_x86_vp_rrr_slow(xw_code *c, const xw_vprep *p, unsigned dst, unsigned s1, unsigned s2);
void xw_x86_vp_mem_slow(xw_code *c, const xw_vprep *p, xw_vp_form form, unsigned reg, unsigned vvvv, xw_gpr base,
                        int32_t disp);

// The VEX case inline: a generator emits hundreds of these per kernel, and a call with its
// checks would cost more than the encoding (SDM 2.3.5: C5 [R vvvv L pp] when B is 0 and the
// row allows it, else C4; SDM 2.1.5: no mod 00 for rbp/r13, SIB for rsp/r12).
// xw_x86_vex_*_at write one instruction at o and return its end, unchecked: the caller has
// made sure of room (16 bytes per instruction), no error, p->vex with the right form,
// registers and base below 16, and sets c->len afterwards. xw_x86_vp_* check all that.
static inline void xw_x86_put32(uint8_t *o, uint32_t w) { memcpy(o, &w, 4); }  // x86 hosts: little-endian
static inline bool xw_x86_vp_room(const xw_code *c, size_t n) { return !c->err && c->len <= c->cap && c->cap - c->len >= n; }

static inline uint8_t *xw_x86_vex_rrr_at(uint8_t *o, const xw_vprep *p, unsigned dst, unsigned s1, unsigned s2)
{
    const unsigned modrm = 0xC0 | (dst & 7) << 3 | (s2 & 7);
    if (p->c5 && !(s2 & 8)) {
        xw_x86_put32(o, p->vex2 ^ (dst & 8) << 12 ^ s1 << 11 ^ (modrm ^ 0xC0) << 24);
        return o + 4;
    }
    xw_x86_put32(o, p->vex3 ^ (dst & 8) << 12 ^ (s2 & 8) << 10 ^ s1 << 19);
    o[4] = (uint8_t)modrm;
    return o + 5;
}

// reg is ModRM.reg (the destination, or the source of a store), vvvv the extra source (0 when
// unused), the r/m operand [base + disp].
static inline uint8_t *xw_x86_vex_mem_at(uint8_t *o, const xw_vprep *p, unsigned reg, unsigned vvvv, xw_gpr base,
                                         int32_t disp)
{
    const unsigned b = (unsigned)base;
    if (p->c5 && !(b & 8)) {  // its third byte (C0) is replaced by ModRM
        xw_x86_put32(o, p->vex2 ^ (reg & 8) << 12 ^ vvvv << 11);
        o += 3;
    } else {
        xw_x86_put32(o, p->vex3 ^ (reg & 8) << 12 ^ (b & 8) << 10 ^ vvvv << 19);
        o += 4;
    }
    const unsigned rm = (reg & 7) << 3 | (b & 7);
    const unsigned mod = disp == 0 && (b & 7) != 5 ? 0x00 : disp >= -128 && disp <= 127 ? 0x40 : 0x80;
    *o++ = (uint8_t)(mod | rm);
    if ((b & 7) == 4) *o++ = 0x24;
    if (mod == 0x40) {
        *o++ = (uint8_t)(int8_t)disp;
    } else if (mod == 0x80) {
        xw_x86_put32(o, (uint32_t)disp);
        o += 4;
    }
    return o;
}

static inline void xw_x86_vp_rrr(xw_code *c, const xw_vprep *p, unsigned dst, unsigned s1, unsigned s2)
{
    if (p->form != XW_VP_RRR || !p->vex || (dst | s1 | s2) > 15 || !xw_x86_vp_room(c, 16))
        xw_x86_vp_rrr_slow(c, p, dst, s1, s2);
    else
        c->len = (size_t)(xw_x86_vex_rrr_at(c->buf + c->len, p, dst, s1, s2) - c->buf);
}

static inline void xw_x86_vp_mem(xw_code *c, const xw_vprep *p, xw_vp_form form, unsigned reg, unsigned vvvv,
                                 xw_gpr base, int32_t disp)
{
    if (p->form != form || !p->vex || (reg | vvvv) > 15 || (unsigned)base > 15 || !xw_x86_vp_room(c, 16))
        xw_x86_vp_mem_slow(c, p, form, reg, vvvv, base, disp);
    else
        c->len = (size_t)(xw_x86_vex_mem_at(c->buf + c->len, p, reg, vvvv, base, disp) - c->buf);
}

static inline void xw_x86_vp_rrm(xw_code *c, const xw_vprep *p, unsigned dst, unsigned s1, xw_gpr base, int32_t disp)
{
    xw_x86_vp_mem(c, p, XW_VP_RRM, dst, s1, base, disp);
}
static inline void xw_x86_vp_load(xw_code *c, const xw_vprep *p, unsigned dst, xw_gpr base, int32_t disp)
{
    xw_x86_vp_mem(c, p, XW_VP_LOAD, dst, 0, base, disp);
}
static inline void xw_x86_vp_store(xw_code *c, const xw_vprep *p, xw_gpr base, int32_t disp, unsigned src)
{
    xw_x86_vp_mem(c, p, XW_VP_STORE, src, 0, base, disp);
}

// General-purpose registers (64-bit operand size).
void xw_x86_mov_ri(xw_code *c, xw_gpr dst, int64_t imm);
void xw_x86_mov_rr(xw_code *c, xw_gpr dst, xw_gpr src);
void xw_x86_lea(xw_code *c, xw_gpr dst, xw_mem m);
void xw_x86_alu_ri(xw_code *c, xw_alu op, xw_gpr dst, int32_t imm);
void xw_x86_push(xw_code *c, xw_gpr r);
void xw_x86_pop(xw_code *c, xw_gpr r);
void xw_x86_prefetch(xw_code *c, xw_prefetch hint, xw_mem m);
void xw_x86_vzeroupper(xw_code *c);
void xw_x86_ret(xw_code *c);

// Control flow: loops jump back to an offset taken earlier with xw_x86_here.
size_t xw_x86_here(const xw_code *c);
void xw_x86_jcc_to(xw_code *c, xw_cond cc, size_t target);

// Raw bytes (constant data for RIP-relative loads); returns their offset in the buffer.
size_t xw_x86_data(xw_code *c, const void *bytes, size_t n, size_t align);

#endif
