// x86_enc.h: the x86-64 encoder the generators emit through: typed operands, one function per
// operand form, instruction facts in x86_insn.def. Calls nothing; keeps the first error in xw_code.
#ifndef XW_X86_ENC_H
#define XW_X86_ENC_H

#include <string.h>

#include "kernels.h"

// Registers are one-member structs, not integers: a vector register where a GPR goes (a
// swapped register and base), or a count or a displacement where either goes, does not compile.
// A general-purpose register, rax-r15 as 0-15; XW_RIP only as a memory base ([rip + disp32]);
// XW_NOREG none (a role the generator does not use).
typedef struct {
    unsigned n;
} xw_gpr;
static inline xw_gpr xw_r(unsigned n) { return (xw_gpr){ n }; }
#define XW_RAX ((xw_gpr){ 0 })
#define XW_RCX ((xw_gpr){ 1 })
#define XW_RDX ((xw_gpr){ 2 })
#define XW_RBX ((xw_gpr){ 3 })
#define XW_RSP ((xw_gpr){ 4 })
#define XW_RBP ((xw_gpr){ 5 })
#define XW_RSI ((xw_gpr){ 6 })
#define XW_RDI ((xw_gpr){ 7 })
#define XW_R8 ((xw_gpr){ 8 })
#define XW_R9 ((xw_gpr){ 9 })
#define XW_R10 ((xw_gpr){ 10 })
#define XW_R11 ((xw_gpr){ 11 })
#define XW_R12 ((xw_gpr){ 12 })
#define XW_R13 ((xw_gpr){ 13 })
#define XW_R14 ((xw_gpr){ 14 })
#define XW_R15 ((xw_gpr){ 15 })
#define XW_RIP ((xw_gpr){ 16 })
#define XW_NOREG ((xw_gpr){ 17 })

// A vector register, xmm/ymm/zmm 0-31.
typedef struct {
    unsigned n;
} xw_vreg;
static inline xw_vreg xw_v(unsigned n) { return (xw_vreg){ n }; }

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
// no xw_evex decoration) and EVEX otherwise, so AVX2 code never contains EVEX. Each takes the
// rows of one operand form (x86_insn.def's form column); any other row is an encoding error.
// Three-operand arithmetic (RVM): dst = op(s1, s2), e.g. VFMADD231PD dst += s1 * s2.
void xw_x86_vop_rrr(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_vreg s2);
void xw_x86_vop_rrm(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_mem m, xw_evex e);
// RVMI (VSHUFPS, VPERM2F128, VALIGNQ): dst = op(s1, s2, imm).
void xw_x86_vop_rrri(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_vreg s2, uint8_t imm);
// RMI (VPERMILPD_I, VPERMILPS_I): dst = op(src, imm).
void xw_x86_vop_rri(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg src, uint8_t imm);
// Register form of a move or broadcast (MOVE, BCST): VMOVUPD zmm1, zmm2; VBROADCASTSD ymm1, xmm2.
void xw_x86_vop_rr(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg src);
// Loads and broadcasts (MOVE, MOVS, BCST: dst <- m), stores (MOVE, MOVS: m <- src).
void xw_x86_vload(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_mem m, xw_evex e);
void xw_x86_vstore(xw_code *c, xw_insn op, xw_vl vl, xw_mem m, xw_vreg src, xw_kreg mask);
void xw_x86_kmovw(xw_code *c, xw_kreg dst, xw_gpr src);  // KMOVW k, r32

// ---- Prepared vector instructions, for code that emits one operation many times (a GEMM k
// loop). xw_x86_vprep takes the decisions that depend on the operation, the vector length and
// the decorations once (e: loads and reg-mem operations; stores use e.mask only; ignored
// otherwise), and builds the VEX and EVEX prefix words; the emitters above prepare each
// instruction the same way, so both write the same bytes. One form per emitter.
typedef enum { XW_VP_RRR, XW_VP_RRM, XW_VP_LOAD, XW_VP_STORE, XW_VP_RRRI, XW_VP_RRI, XW_VP_RR } xw_vp_form;
typedef struct {
    uint64_t evex;        // 62 P0 P1 P2 opcode: length and decorations set, register fields ones
    uint32_t vex2, vex3;  // C5 [R vvvv L pp] opcode C0 / C4 [R X B map] [W vvvv L pp] opcode
    uint8_t vex, evex_ok; // the operation may take VEX (registers < 16) / EVEX (registers < 32)
    uint8_t c5, sh;       // VEX may take the 2-byte form; EVEX disp8*N is 1 << sh
    uint8_t form;         // the xw_vp_form prepared for; using it with another is an error
} xw_vprep;
xw_vprep xw_x86_vprep(xw_vp_form form, xw_insn op, xw_vl vl, xw_evex e);
// Any prepared instruction, checked (the inline xw_x86_vp_* below call them when they cannot
// write VEX straight away): register operands, or reg, vvvv and [base + disp]. reg is ModRM.reg
// (the destination, or a store's source), vvvv the extra source (xw_v(0) when none).
void xw_x86_vp_emit_rrr(xw_code *c, const xw_vprep *p, xw_vreg dst, xw_vreg s1, xw_vreg s2);
void xw_x86_vp_emit_mem(xw_code *c, const xw_vprep *p, xw_vp_form form, xw_vreg reg, xw_vreg vvvv, xw_gpr base,
                        int32_t disp);

// ---- The writers, inline for the generator's loops: every instruction's bytes come from these.
// Unchecked: the caller has made sure of room (16 bytes per instruction) and valid operands.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "x86_enc.h stores little-endian words with memcpy"
#endif
#define XW_X86_INLINE static inline __attribute__((always_inline))

// The low n bytes of v at o, little-endian (x86 is; so is the host); returns their end.
XW_X86_INLINE uint8_t *xw_x86_le(uint8_t *o, uint64_t v, unsigned n)
{
    memcpy(o, &v, n);
    return o + n;
}

// ModRM and what follows it (SDM 2.1.5): reg is ModRM.reg; the r/m operand is register rm (m
// NULL) or memory. rm 100b means "SIB follows", so rsp/r12 as a base take one (no index); mod 00
// with rbp/r13 means disp32 (or RIP), so they take a disp8 of 0. EVEX scales a disp8 by
// N = 1 << sh (2.7.5); sh is 0 otherwise. [rip + disp32] is written with m->disp: the caller
// makes it relative once the instruction's end is known.
XW_X86_INLINE uint8_t *xw_x86_modrm_at(uint8_t *o, unsigned reg, unsigned rm, const xw_mem *m, unsigned sh)
{
    reg = (reg & 7) << 3;
    if (!m) {
        *o++ = (uint8_t)(0xC0 | reg | (rm & 7));
        return o;
    }
    const int32_t d = m->disp;
    if (m->base.n == XW_RIP.n) {
        *o++ = (uint8_t)(reg | 5);
        return xw_x86_le(o, (uint32_t)d, 4);
    }
    const unsigned b = m->base.n & 7;
    const bool d8 = (d & ((1 << sh) - 1)) == 0 && d >> sh >= INT8_MIN && d >> sh <= INT8_MAX;
    const unsigned mod = d == 0 && b != 5 ? 0x00 : d8 ? 0x40 : 0x80;
    *o++ = (uint8_t)(mod | reg | b);
    if (b == 4) *o++ = 0x24;  // SIB: no index, base rsp/r12
    if (mod == 0x40) *o++ = (uint8_t)(d >> sh);
    if (mod == 0x80) o = xw_x86_le(o, (uint32_t)d, 4);
    return o;
}

// VEX prefix and opcode (SDM 2.3.5) from the prepared words: C5 when the row allows it and X
// and B are 0, else C4. R, X, B and vvvv are stored inverted, so the words hold ones there and
// the register bits are XORed in. x and b: the registers whose bit 3 is X and B.
XW_X86_INLINE uint8_t *xw_x86_vex_at(uint8_t *o, const xw_vprep *p, unsigned reg, unsigned vvvv, unsigned x,
                                      unsigned b)
{
    if (p->c5 && !((x | b) & 8))  // the word's last byte (C0) is left for ModRM to overwrite
        return xw_x86_le(o, p->vex2 ^ (reg & 8) << 12 ^ vvvv << 11, 4) - 1;
    return xw_x86_le(o, p->vex3 ^ (reg & 8) << 12 ^ (x & 8) << 11 ^ (b & 8) << 10 ^ vvvv << 19, 4);
}

// One VEX instruction at o: p->vex, registers and base below 16.
XW_X86_INLINE uint8_t *xw_x86_vex_rrr_at(uint8_t *o, const xw_vprep *p, xw_vreg dst, xw_vreg s1, xw_vreg s2)
{
    o = xw_x86_vex_at(o, p, dst.n, s1.n, 0, s2.n);
    return xw_x86_modrm_at(o, dst.n, s2.n, NULL, 0);
}

XW_X86_INLINE uint8_t *xw_x86_vex_mem_at(uint8_t *o, const xw_vprep *p, xw_vreg reg, xw_vreg vvvv, xw_gpr base,
                                          int32_t disp)
{
    if (base.n > 15) __builtin_unreachable();  // (so the RIP case is compiled out)
    const xw_mem m = xw_mem_at(base, disp);
    o = xw_x86_vex_at(o, p, reg.n, vvvv.n, 0, base.n);
    return xw_x86_modrm_at(o, reg.n, 0, &m, 0);
}

static inline bool xw_x86_vp_room(const xw_code *c, size_t n)
{
    return !c->err && c->len <= c->cap && c->cap - c->len >= n;
}

// Prepared instructions: VEX straight at the buffer's end when room and registers allow (a
// generator emits hundreds per kernel: a call would cost more than the encoding), else checked.
static inline void xw_x86_vp_rrr(xw_code *c, const xw_vprep *p, xw_vreg dst, xw_vreg s1, xw_vreg s2)
{
    if (p->form == XW_VP_RRR && p->vex && (dst.n | s1.n | s2.n) < 16 && xw_x86_vp_room(c, 16))
        c->len = (size_t)(xw_x86_vex_rrr_at(c->buf + c->len, p, dst, s1, s2) - c->buf);
    else
        xw_x86_vp_emit_rrr(c, p, dst, s1, s2);
}

// form: XW_VP_RRM, XW_VP_LOAD or XW_VP_STORE (the wrappers below).
static inline void xw_x86_vp_mem(xw_code *c, const xw_vprep *p, xw_vp_form form, xw_vreg reg, xw_vreg vvvv,
                                 xw_gpr base, int32_t disp)
{
    const bool mem_form = form == XW_VP_RRM || form == XW_VP_LOAD || form == XW_VP_STORE;
    if (mem_form && p->form == form && p->vex && (reg.n | vvvv.n) < 16 && base.n < 16 && xw_x86_vp_room(c, 16))
        c->len = (size_t)(xw_x86_vex_mem_at(c->buf + c->len, p, reg, vvvv, base, disp) - c->buf);
    else
        xw_x86_vp_emit_mem(c, p, form, reg, vvvv, base, disp);
}

static inline void xw_x86_vp_rrm(xw_code *c, const xw_vprep *p, xw_vreg dst, xw_vreg s1, xw_gpr base, int32_t disp)
{
    xw_x86_vp_mem(c, p, XW_VP_RRM, dst, s1, base, disp);
}
static inline void xw_x86_vp_load(xw_code *c, const xw_vprep *p, xw_vreg dst, xw_gpr base, int32_t disp)
{
    xw_x86_vp_mem(c, p, XW_VP_LOAD, dst, xw_v(0), base, disp);
}
static inline void xw_x86_vp_store(xw_code *c, const xw_vprep *p, xw_gpr base, int32_t disp, xw_vreg src)
{
    xw_x86_vp_mem(c, p, XW_VP_STORE, src, xw_v(0), base, disp);
}

// ---- General-purpose registers (64-bit operand size).
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
