// x86_enc.h: the x86-64 encoder the generators emit through: typed operands, one function per
// operand form, instruction facts in x86_insn.def. Calls nothing; keeps the first error in xw_code.
#ifndef XW_X86_ENC_H
#define XW_X86_ENC_H

#include "kernels.h"

typedef enum {
    XW_RAX = 0, XW_RCX, XW_RDX, XW_RBX, XW_RSP, XW_RBP, XW_RSI, XW_RDI,
    XW_R8, XW_R9, XW_R10, XW_R11, XW_R12, XW_R13, XW_R14, XW_R15,
    XW_RIP = 16,   // only as a memory base: [rip + disp32]
    XW_NOREG = 17, // no index (or no base)
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
#define XW_INSN(name, pp, map, wvex, wevex, opcode, tuple) XW_##name,
#include "x86_insn.def"
#undef XW_INSN
    XW_INSN_COUNT
} xw_insn;

typedef enum { XW_ADD, XW_SUB, XW_CMP, XW_AND, XW_OR, XW_XOR } xw_alu;
typedef enum { XW_JNZ, XW_JZ, XW_JL, XW_JGE, XW_JMP } xw_cond;
typedef enum { XW_PREFETCHT0, XW_PREFETCHT1, XW_PREFETCHT2, XW_PREFETCHNTA } xw_prefetch;

// A memory operand [base + index*scale + disp]. base XW_RIP means [rip + disp] where disp is an
// offset into the code buffer (the encoder makes it relative to the next instruction).
typedef struct {
    xw_gpr base, index;
    uint8_t scale;
    int32_t disp;
} xw_mem;

static inline xw_mem xw_mem_at(xw_gpr base, int32_t disp) { return (xw_mem){ base, XW_NOREG, 1, disp }; }
static inline xw_mem xw_mem_idx(xw_gpr base, xw_gpr index, uint8_t scale, int32_t disp)
{
    return (xw_mem){ base, index, scale, disp };
}
static inline xw_mem xw_mem_rip(int32_t buffer_offset) { return (xw_mem){ XW_RIP, XW_NOREG, 1, buffer_offset }; }

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
// Two-operand register form of a move or broadcast: VMOVAPD zmm1, zmm2; VBROADCASTSD ymm1, xmm2.
void xw_x86_vop_rr(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg src);
// Two-operand forms: loads and broadcasts (dst <- m), stores (m <- src).
void xw_x86_vload(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_mem m, xw_evex e);
void xw_x86_vstore(xw_code *c, xw_insn op, xw_vl vl, xw_mem m, xw_vreg src, xw_kreg mask);
// AVX VMASKMOVPD/PS: mask is a vector register whose lane sign bits select.
void xw_x86_vmaskload(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg mask, xw_mem m);
void xw_x86_vmaskstore(xw_code *c, xw_insn op, xw_vl vl, xw_mem m, xw_vreg mask, xw_vreg src);
void xw_x86_kmovw(xw_code *c, xw_kreg dst, xw_gpr src);  // KMOVW k, r32

// General-purpose registers (64-bit operand size).
void xw_x86_mov_ri(xw_code *c, xw_gpr dst, int64_t imm);
void xw_x86_mov_rr(xw_code *c, xw_gpr dst, xw_gpr src);
void xw_x86_mov_rm(xw_code *c, xw_gpr dst, xw_mem m);
void xw_x86_mov_mr(xw_code *c, xw_mem m, xw_gpr src);
void xw_x86_lea(xw_code *c, xw_gpr dst, xw_mem m);
void xw_x86_alu_ri(xw_code *c, xw_alu op, xw_gpr dst, int32_t imm);
void xw_x86_alu_rr(xw_code *c, xw_alu op, xw_gpr dst, xw_gpr src);
void xw_x86_push(xw_code *c, xw_gpr r);
void xw_x86_pop(xw_code *c, xw_gpr r);
void xw_x86_prefetch(xw_code *c, xw_prefetch hint, xw_mem m);
void xw_x86_vzeroupper(xw_code *c);
void xw_x86_ret(xw_code *c);

// Control flow. A backward jump goes to an offset taken earlier with xw_x86_here; a forward jump
// returns a fixup that xw_x86_bind resolves to the current position.
size_t xw_x86_here(const xw_code *c);
void xw_x86_jcc_to(xw_code *c, xw_cond cc, size_t target);
size_t xw_x86_jcc_fwd(xw_code *c, xw_cond cc);
void xw_x86_bind(xw_code *c, size_t fixup);

// Raw bytes (constant data for RIP-relative loads); returns their offset in the buffer.
size_t xw_x86_data(xw_code *c, const void *bytes, size_t n, size_t align);

#endif
