// x86_enc.c: the x86-64 encoder. Each emitter validates its operands, then assembles one
// instruction (prefix bits, opcode, ModRM, SIB, disp, imm) straight at the end of the code buffer
// when there is room for any instruction, else in a small local buffer that is copied after an
// exact room check; nothing is written on error and the first error sticks. References are to the
// Intel SDM Vol. 2 (chapter 2: instruction format, VEX, EVEX).
#include "x86_enc.h"

#include <string.h>

// ---- Instruction facts from x86_insn.def: its tokens name these constants.
enum { PP_NP = 0, PP_66 = 1, PP_F3 = 2, PP_F2 = 3 };  // VEX/EVEX pp field (SDM 2.3.5.5)
enum { MAP_0F = 1, MAP_0F38 = 2, MAP_0F3A = 3 };      // VEX m-mmmm / EVEX mm
enum { W_W0 = 0, W_W1 = 1, W_WIG = 0, W_NO = 2 };     // NO: the instruction has no such form
enum { TT_NONE, TT_FV, TT_FVM, TT_T1S, TT_T4 };       // EVEX disp8*N tuple (SDM 2.7.5)

typedef struct {
    uint8_t pp, map, wvex, wevex, opcode, tuple;
} insn_info;

static const insn_info insn_table[XW_INSN_COUNT] = {
#define XW_INSN(name, form, minvl, pp, map, wvex, wevex, opcode, tuple) \
    [XW_##name] = { PP_##pp, MAP_##map, W_##wvex, W_##wevex, opcode, TT_##tuple },
#include "x86_insn.def"
#undef XW_INSN
};

// Operand forms (x86_insn.def's form column).
enum { F_RVM = 0, F_MOVE, F_MOVS, F_BCST, F_RVMI, F_RMI };
static const struct {
    uint8_t form, min_vl;
} insn_form[XW_INSN_COUNT] = {
#define XW_INSN(name, form, minvl, pp, map, wvex, wevex, opcode, tuple) [XW_##name] = { F_##form, XW_##minvl },
#include "x86_insn.def"
#undef XW_INSN
};

// ---- One instruction being assembled, at start (the code buffer's end, or a local staging
// buffer of IB_MAX bytes); p is the next byte. rip, when set, is a RIP disp32 field to resolve
// at emission. Generation emits tens of thousands of instructions per second, so the common
// case writes each byte once, in place, with one room check (ib_begin) and no copy.
enum { IB_MAX = 16 };  // room for the longest instruction (x86 caps them at 15 bytes)
typedef struct {
    uint8_t *start, *p, *rip;
    int32_t target;
} ibuf;

// In place when the buffer has room for any instruction. Staged when it may not (emit then
// checks the exact length, so an instruction that just fits is still emitted) and for RIP
// operands, whose disp32 may turn out not to fit: the buffer must stay untouched on error.
static inline void ib_begin(const xw_code *c, ibuf *ib, uint8_t stage[IB_MAX], bool rip)
{
    bool room = c->len <= c->cap && c->cap - c->len >= IB_MAX;
    ib->start = ib->p = room && !rip ? c->buf + c->len : stage;
    ib->rip = NULL;
}

static inline void put8(ibuf *ib, unsigned v) { *ib->p++ = (uint8_t)v; }
static inline void put32(ibuf *ib, uint32_t v)
{
    for (int i = 0; i < 4; i++) put8(ib, (v >> (8 * i)) & 0xFF);
}
static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static bool fits8(int64_t v) { return v >= INT8_MIN && v <= INT8_MAX; }
static bool fits32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

static void fail(xw_code *c, xw_status s)
{
    if (!c->err) c->err = s;
}

// Commits the instruction. Staged ones get the exact room check, RIP resolution (disp32 =
// target - end of this instruction) and a copy; in-place ones are already where they belong.
static inline void emit(xw_code *c, ibuf *ib, const uint8_t stage[IB_MAX])
{
    size_t n = (size_t)(ib->p - ib->start);
    if (ib->start == stage) {
        if (c->len > c->cap || n > c->cap - c->len) { fail(c, XW_ERR_NOMEM); return; }
        if (ib->rip) {
            int64_t rel = (int64_t)ib->target - (int64_t)(c->len + n);
            if (!fits32(rel)) { fail(c, XW_ERR_ENCODE); return; }
            wr32(ib->rip, (uint32_t)rel);
        }
        memcpy(c->buf + c->len, stage, n);
    }
    c->len += n;
}

// ---- Memory operands.
static bool gpr_ok(xw_gpr r) { return (unsigned)r < 16; }

// Base: a GPR or RIP.
static inline bool mem_ok(const xw_mem *m) { return gpr_ok(m->base) || m->base == XW_RIP; }
static unsigned mem_b(const xw_mem *m) { return gpr_ok(m->base) ? (m->base >> 3) & 1 : 0; }

// ModRM, SIB and displacement for memory (SDM 2.1.5, Tables 2-2 and 2-3). The EVEX disp8 scale
// (2.7.5) is N = 1 << sh, a power of two, so disp8*N needs a mask and a shift, not a division;
// sh is 0 for legacy and VEX.
static inline void put_mem(ibuf *ib, unsigned reg, const xw_mem *m, unsigned sh)
{
    reg &= 7;
    if (m->base == XW_RIP) {  // mod 00, rm 101: [rip + disp32] in 64-bit mode (2.2.1.6)
        put8(ib, reg << 3 | 5);
        ib->rip = ib->p;
        ib->target = m->disp;
        put32(ib, 0);
        return;
    }
    unsigned b3 = m->base & 7u;
    bool d8 = (m->disp & ((1 << sh) - 1)) == 0 && fits8(m->disp / (1 << sh));
    if (m->disp == 0 && b3 != 5) {  // rbp/r13 with mod 00 mean disp32
        put8(ib, reg << 3 | b3);
        if (b3 == 4) put8(ib, 0x24);  // rm 100b means "SIB follows": rsp/r12, no index
    } else if (d8) {
        put8(ib, 0x40 | reg << 3 | b3);
        if (b3 == 4) put8(ib, 0x24);
        put8(ib, (uint8_t)(int8_t)(m->disp / (1 << sh)));
    } else {
        put8(ib, 0x80 | reg << 3 | b3);
        if (b3 == 4) put8(ib, 0x24);
        put32(ib, (uint32_t)m->disp);
    }
}

// ---- Vector instructions.
// VEX (SDM 2.3.5): the 2-byte form C5 [R vvvv L pp] when X, B and W are 0 and the map is 0F;
// else C4 [R X B m-mmmm] [W vvvv L pp]. R, X, B and vvvv are stored inverted.
static inline void put_vex(ibuf *ib, unsigned r, unsigned x, unsigned b, unsigned map, unsigned w,
                    unsigned vvvv, unsigned l, unsigned pp)
{
    unsigned tail = (~vvvv & 15) << 3 | l << 2 | pp;
    if (!x && !b && !w && map == MAP_0F) {
        put8(ib, 0xC5);
        put8(ib, (r ^ 1) << 7 | tail);
    } else {
        put8(ib, 0xC4);
        put8(ib, (r ^ 1) << 7 | (x ^ 1) << 6 | (b ^ 1) << 5 | map);
        put8(ib, w << 7 | tail);
    }
}

// EVEX disp8*N (SDM 2.7.5, Tables 2-34/2-35) as log2 N: the element size follows EVEX.W.
static unsigned disp_shift(const insn_info *ii, xw_vl vl, bool bcst)
{
    unsigned elem = ii->wevex == W_W1 ? 3 : 2;  // 8 or 4 bytes
    switch (ii->tuple) {
    case TT_FV: return bcst ? elem : 4 + (unsigned)vl;
    case TT_FVM: return 4 + (unsigned)vl;
    case TT_T1S: return elem;
    case TT_T4: return 2 + elem;
    default: return 0;
    }
}

// Helpers on the per-instruction path are forced inline: each public emitter then gets its own
// copy specialized on constant operands (register or memory form, no imm), with no call.
#define HOT static inline __attribute__((always_inline))

// The plain VEX case, which is all of AVX2 code and much of AVX-512: registers below 16, xmm or
// ymm, no decoration, a row with a VEX form. vec checked everything but the memory operand.
HOT void vec_vex(xw_code *c, const insn_info *ii, unsigned opcode, xw_vl vl, unsigned reg,
                           unsigned vvvv, unsigned rm, const xw_mem *m, int imm)
{
    if (m && !mem_ok(m)) { fail(c, XW_ERR_ENCODE); return; }
    uint8_t stage[IB_MAX];
    ibuf ib;
    ib_begin(c, &ib, stage, m && m->base == XW_RIP);
    unsigned b = m ? mem_b(m) : (rm >> 3) & 1;
    put_vex(&ib, (reg >> 3) & 1, 0, b, ii->map, ii->wvex, vvvv, vl, ii->pp);
    put8(&ib, opcode);
    if (m)
        put_mem(&ib, reg, m, 0);
    else
        put8(&ib, 0xC0 | (reg & 7) << 3 | (rm & 7));
    if (imm >= 0) put8(&ib, (unsigned)imm);
    emit(c, &ib, stage);
}

// Everything vec did not send to vec_vex: EVEX, or invalid operands. The checks are the full
// rules; vec's fast-path test is exactly "not EVEX and not bad but for the memory operand", so
// whatever passes them here needs EVEX.
HOT void vec_any(xw_code *c, xw_insn op, unsigned opcode, xw_vl vl, unsigned reg, unsigned vvvv,
                    unsigned rm, const xw_mem *m, xw_evex e, int imm)
{
    const insn_info *ii = &insn_table[op];
    bool hi = reg > 15 || vvvv > 15 || (!m && rm > 15);
    bool evex = vl == XW_ZMM || hi || e.mask != XW_K0 || e.zeroing || e.bcst || ii->wvex == W_NO;
    bool bad = (unsigned)vl > XW_ZMM || vl < insn_form[op].min_vl || reg > 31 || vvvv > 31 || rm > 31
               || (unsigned)e.mask > 7 || (e.zeroing && e.mask == XW_K0)  // {z} needs a mask
               || (e.bcst && (!m || ii->tuple != TT_FV))                   // {1toN}: FV rows only
               || (m && !mem_ok(m)) || (evex && ii->wevex == W_NO);
    if (bad || !evex) { fail(c, XW_ERR_ENCODE); return; }  // !evex: unreachable, see above

    uint8_t stage[IB_MAX];
    ibuf ib;
    ib_begin(c, &ib, stage, m && m->base == XW_RIP);
    unsigned r = (reg >> 3) & 1;
    unsigned x = m ? 0 : (rm >> 4) & 1;  // EVEX: X extends a register rm to 5 bits
    unsigned b = m ? mem_b(m) : (rm >> 3) & 1;
    // 62 [R X B R' 0 0 m m] [W vvvv 1 pp] [z L'L b V' aaa] (SDM 2.7.1)
    put8(&ib, 0x62);
    put8(&ib, (r ^ 1) << 7 | (x ^ 1) << 6 | (b ^ 1) << 5 | (((reg >> 4) & 1) ^ 1) << 4 | ii->map);
    put8(&ib, (unsigned)ii->wevex << 7 | (~vvvv & 15) << 3 | 4 | ii->pp);
    put8(&ib, (unsigned)e.zeroing << 7 | (unsigned)vl << 5 | (unsigned)e.bcst << 4
                  | (((vvvv >> 4) & 1) ^ 1) << 3 | (unsigned)e.mask);
    put8(&ib, opcode);
    if (m)
        put_mem(&ib, reg, m, disp_shift(ii, vl, e.bcst));
    else
        put8(&ib, 0xC0 | (reg & 7) << 3 | (rm & 7));
    if (imm >= 0) put8(&ib, (unsigned)imm);
    emit(c, &ib, stage);
}

// One vector instruction: reg is ModRM.reg, vvvv the extra source (0 when unused, which encodes
// as 1111b), and the r/m operand is register rm when m is NULL, else memory. imm < 0: none.
// The plain VEX case goes straight to vec_vex after a handful of tests.
HOT void vec(xw_code *c, xw_insn op, unsigned opcode, xw_vl vl, unsigned reg, unsigned vvvv,
                       unsigned rm, const xw_mem *m, xw_evex e, int imm)
{
    if (c->err) return;
    const insn_info *ii = &insn_table[op];
    bool plain = e.mask == XW_K0 && !e.zeroing && !e.bcst;
    if (plain && (unsigned)vl <= XW_YMM && (reg | vvvv | (m ? 0 : rm)) < 16 && ii->wvex != W_NO && vl >= insn_form[op].min_vl)
        vec_vex(c, ii, opcode, vl, reg, vvvv, rm, m, imm);
    else
        vec_any(c, op, opcode, vl, reg, vvvv, rm, m, e, imm);
}

// ---- The fast path. Per row, everything the common forms need that depends on the row alone:
// the prefix and opcode bytes as little-endian words with every register field zero (those
// fields are stored inverted, so they start as ones and the registers are XORed in), and
// validity as bit sets.
typedef struct {
    uint32_t vex2;    // C5 [R vvvv L pp] opcode C0 (the 2-byte form: map 0F, W0)
    uint32_t vex3;    // C4 [R X B m-mmmm] [W vvvv L pp] opcode
    uint64_t evex;    // 62 [R X B R' 0 0 m m] [W vvvv 1 pp] [z L'L b V' aaa] opcode
    uint8_t forms;    // 1 << the row's operand form
    uint8_t vex_vl;   // bit vl: VEX can encode the row at vl (a VEX form, min_vl <= vl <= ymm)
    uint8_t evex_vl;  // bit vl: EVEX can (an EVEX form, min_vl <= vl <= zmm)
    uint8_t c5;       // VEX may take the 2-byte form when B and X are 0
    uint8_t sh, sh_vl;  // EVEX disp8*N without {1toN}: log2 N = sh + (sh_vl ? vl : 0)
    uint8_t sh_bcst;    // with {1toN} (element size); 0xFF: the row takes no {1toN}
} __attribute__((aligned(32))) fast_info;  // 32 bytes: indexed with a shift

#define ELEM_SH(wevex) (W_##wevex == W_W1 ? 3 : 2)
static const fast_info fast_table[XW_INSN_COUNT] = {
#define XW_INSN(name, form, minvl, pp, map, wvex, wevex, opcode, tuple)                             \
    [XW_##name] = {                                                                               \
        .vex2 = 0xC5u | (0xF8u | PP_##pp) << 8 | (uint32_t)(opcode) << 16 | 0xC0u << 24,          \
        .vex3 = 0xC4u | (0xE0u | MAP_##map) << 8 | ((W_##wvex & 1u) << 7 | 0x78u | PP_##pp) << 16 \
                | (uint32_t)(opcode) << 24,                                                       \
        .evex = 0x62u | (0xF0u | MAP_##map) << 8 | ((W_##wevex & 1u) << 7 | 0x7Cu | PP_##pp) << 16 \
                | 0x08u << 24 | (uint64_t)(opcode) << 32,                                         \
        .forms = 1u << F_##form,                                                                  \
        .vex_vl = W_##wvex == W_NO ? 0 : (3u >> XW_##minvl) << XW_##minvl,                        \
        .evex_vl = W_##wevex == W_NO ? 0 : (7u >> XW_##minvl) << XW_##minvl,                      \
        .c5 = MAP_##map == MAP_0F && W_##wvex == 0,                                               \
        .sh = TT_##tuple == TT_FV || TT_##tuple == TT_FVM ? 4                                     \
              : TT_##tuple == TT_T1S                      ? ELEM_SH(wevex)                        \
              : TT_##tuple == TT_T4                       ? 2 + ELEM_SH(wevex)                    \
                                                          : 0,                                    \
        .sh_vl = TT_##tuple == TT_FV || TT_##tuple == TT_FVM,                                     \
        .sh_bcst = TT_##tuple == TT_FV ? ELEM_SH(wevex) : 0xFF,                                   \
    },
#include "x86_insn.def"
#undef XW_INSN
};
#undef ELEM_SH

static inline void wr32n(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }  // little-endian host

// vfast's end: the r/m operand (register rm when base is XW_NOREG, else [base + disp] with
// EVEX disp8*N scale 1 << sh; SDM 2.1.5 and 2.7.5), the imm8 (imm >= 0), and the new length.
// base is XW_NOREG or below 16.
HOT void fast_rm(xw_code *c, uint8_t *p, unsigned modrm, unsigned base, int32_t d, unsigned sh, int imm)
{
    if (base == XW_NOREG) {
        *p++ = (uint8_t)(0xC0 | modrm);
    } else {
        unsigned b3 = base & 7;
        // rbp/r13 have no mod 00 form (it means disp32); disp8 holds disp / N when N divides it.
        bool d8 = (d & ((1 << sh) - 1)) == 0 && fits8(d >> sh);
        unsigned mod = d == 0 && b3 != 5 ? 0x00 : d8 ? 0x40 : 0x80;
        *p++ = (uint8_t)(mod | (modrm & 0x38) | b3);
        if (b3 == 4) *p++ = 0x24;  // rsp/r12 base: SIB with no index
        if (mod == 0x40) {
            *p++ = (uint8_t)(int8_t)(d >> sh);
        } else if (mod == 0x80) {
            wr32(p, (uint32_t)d);
            p += 4;
        }
    }
    if (imm >= 0) *p++ = (uint8_t)imm;
    c->len = (size_t)(p - c->buf);
}

// The straight-line path for the bulk of generated code: the register-register and
// [base + disp] forms, VEX or EVEX, with room for any instruction. It takes the same decisions
// and writes the same bytes as vec (through the table above), in place; anything it does not
// cover (another memory form, an invalid operand, an error, little room) returns false having
// touched nothing, and then goes the general way (vslow). opcode_add: 0 the row's opcode, 1 the
// MR form of the moves (opcode | 1).
HOT bool vfast(xw_code *c, xw_insn op, unsigned forms, unsigned opcode_add, xw_vl vl, unsigned reg,
               unsigned vvvv, unsigned rm, const xw_mem *m, xw_evex e, int imm)
{
    unsigned regs = reg | vvvv | rm;
    if ((unsigned)op >= XW_INSN_COUNT || (unsigned)vl > XW_ZMM || regs > 31 || c->err) return false;
    const fast_info *f = &fast_table[op];
    if (!(f->forms & forms) || c->len > c->cap || c->cap - c->len < IB_MAX) return false;
    unsigned bx;  // the r/m operand's register bits 3 (B) and 4 (X, EVEX registers only)
    if (m) {
        if ((unsigned)m->base > 15) return false;
        bx = (unsigned)m->base & 8;
    } else {
        bx = rm & 24;
    }
    bool plain = e.mask == XW_K0 && !e.zeroing && !e.bcst;
    bool vex = plain && regs < 16 && (f->vex_vl >> vl & 1);
    if (!vex && (!(f->evex_vl >> vl & 1) || (unsigned)e.mask > 7 || (e.zeroing && e.mask == XW_K0)
                 || (e.bcst && (!m || f->sh_bcst == 0xFF))))
        return false;
    uint8_t *p = c->buf + c->len;
    unsigned modrm = (reg & 7) << 3 | (rm & 7);
    if (vex) {
        if (f->c5 && !bx) {  // C5, then opcode at byte 2
            uint32_t w = opcode_add == 1 ? f->vex2 | 1u << 16 : f->vex2 + (opcode_add << 16);
            w ^= (reg & 8) << 12 ^ vvvv << 11 ^ (unsigned)vl << 10;
            if (!m && imm < 0) {  // the whole instruction is this word
                wr32n(p, w ^ modrm << 24);
                c->len += 4;
                return true;
            }
            wr32n(p, w);  // its C0 byte is replaced below
            p += 3;
        } else {  // C4, then opcode at byte 3
            uint32_t w = opcode_add == 1 ? f->vex3 | 1u << 24 : f->vex3 + (opcode_add << 24);
            wr32n(p, w ^ (reg & 8) << 12 ^ bx << 10 ^ vvvv << 19 ^ (unsigned)vl << 18);
            p += 4;
        }
        fast_rm(c, p, modrm, m ? (unsigned)m->base : XW_NOREG, m ? m->disp : 0, 0, imm);  // VEX: no disp8*N
        return true;
    }
    uint64_t w = opcode_add == 1 ? f->evex | 1ull << 32 : f->evex + ((uint64_t)opcode_add << 32);
    unsigned p2 = (unsigned)e.zeroing << 7 | (unsigned)vl << 5 | (unsigned)e.bcst << 4 | (vvvv & 16) >> 1
                  | (unsigned)e.mask;
    wr32n(p, (uint32_t)w ^ (reg & 8) << 12 ^ bx << 10 ^ (reg & 16) << 8 ^ (vvvv & 15) << 19 ^ p2 << 24);
    p[4] = (uint8_t)(w >> 32);
    unsigned sh = e.bcst ? f->sh_bcst : f->sh + (f->sh_vl ? (unsigned)vl : 0);  // log2 N
    fast_rm(c, p + 5, modrm, m ? (unsigned)m->base : XW_NOREG, m ? m->disp : 0, sh, imm);
    return true;
}

// The operand form op must have for an emitter (anything else is an encoding error).
static bool form_is(xw_code *c, xw_insn op, unsigned mask)
{
    if (c->err) return false;
    if ((unsigned)op < XW_INSN_COUNT && (mask >> insn_form[op].form & 1)) return true;
    fail(c, XW_ERR_ENCODE);
    return false;
}
#define FORMS(a, b) (1u << (a) | 1u << (b))

// The general way for what vfast declined, kept out of line so that the emitters' fast paths
// stay leaf code with few live registers. store as for vfast.
static __attribute__((noinline)) void vslow(xw_code *c, xw_insn op, unsigned forms, unsigned store,
                                            xw_vl vl, unsigned reg, unsigned vvvv, unsigned rm,
                                            const xw_mem *m, xw_evex e, int imm)
{
    if (!form_is(c, op, forms)) return;
    unsigned opcode = insn_table[op].opcode;
    opcode = store ? opcode | 1u : opcode;
    vec(c, op, opcode, vl, reg, vvvv, rm, m, e, imm);
}

static __attribute__((noipa)) void vop_rrr_slow(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_vreg s2)
{
    vslow(c, op, 1u << F_RVM, 0, vl, dst, s1, s2, NULL, xw_plain, -1);
}

void xw_x86_vop_rrr(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_vreg s2)
{
    if (vfast(c, op, 1u << F_RVM, 0, vl, dst, s1, s2, NULL, xw_plain, -1)) return;
    vop_rrr_slow(c, op, vl, dst, s1, s2);  // same arguments: a tail jump
}

static __attribute__((noipa)) void vop_rrm_slow(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_mem m, xw_evex e)
{
    vslow(c, op, 1u << F_RVM, 0, vl, dst, s1, 0, &m, e, -1);
}

void xw_x86_vop_rrm(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_mem m, xw_evex e)
{
    if (vfast(c, op, 1u << F_RVM, 0, vl, dst, s1, 0, &m, e, -1)) return;
    vop_rrm_slow(c, op, vl, dst, s1, m, e);  // same arguments: a tail jump
}

static __attribute__((noipa)) void vop_rrri_slow(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_vreg s2, uint8_t imm)
{
    vslow(c, op, 1u << F_RVMI, 0, vl, dst, s1, s2, NULL, xw_plain, imm);
}

void xw_x86_vop_rrri(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_vreg s2, uint8_t imm)
{
    if (vfast(c, op, 1u << F_RVMI, 0, vl, dst, s1, s2, NULL, xw_plain, imm)) return;
    vop_rrri_slow(c, op, vl, dst, s1, s2, imm);  // same arguments: a tail jump
}

static __attribute__((noipa)) void vop_rri_slow(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg src, uint8_t imm)
{
    vslow(c, op, 1u << F_RMI, 0, vl, dst, 0, src, NULL, xw_plain, imm);
}

void xw_x86_vop_rri(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg src, uint8_t imm)
{
    if (vfast(c, op, 1u << F_RMI, 0, vl, dst, 0, src, NULL, xw_plain, imm)) return;
    vop_rri_slow(c, op, vl, dst, src, imm);  // same arguments: a tail jump
}

static __attribute__((noipa)) void vop_rr_slow(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg src)
{
    vslow(c, op, FORMS(F_MOVE, F_BCST), 0, vl, dst, 0, src, NULL, xw_plain, -1);
}

void xw_x86_vop_rr(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg src)
{
    if (vfast(c, op, FORMS(F_MOVE, F_BCST), 0, vl, dst, 0, src, NULL, xw_plain, -1)) return;
    vop_rr_slow(c, op, vl, dst, src);  // same arguments: a tail jump
}

static __attribute__((noipa)) void vload_slow(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_mem m, xw_evex e)
{
    vslow(c, op, FORMS(F_MOVE, F_MOVS) | 1u << F_BCST, 0, vl, dst, 0, 0, &m, e, -1);
}

void xw_x86_vload(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_mem m, xw_evex e)
{
    if (vfast(c, op, FORMS(F_MOVE, F_MOVS) | 1u << F_BCST, 0, vl, dst, 0, 0, &m, e, -1)) return;
    vload_slow(c, op, vl, dst, m, e);  // same arguments: a tail jump
}

static __attribute__((noipa)) void vstore_slow(xw_code *c, xw_insn op, xw_vl vl, xw_mem m, xw_vreg src, xw_kreg mask)
{
    xw_evex e = { mask, false, false };
    vslow(c, op, FORMS(F_MOVE, F_MOVS), 1, vl, src, 0, 0, &m, e, -1);
}

// Stores use the MR opcode (SDM: MOVUPD 66 0F 11 /r, MOVSD F2 0F 11 /r); merge-masking only.
void xw_x86_vstore(xw_code *c, xw_insn op, xw_vl vl, xw_mem m, xw_vreg src, xw_kreg mask)
{
    xw_evex e = { mask, false, false };
    if (vfast(c, op, FORMS(F_MOVE, F_MOVS), 1, vl, src, 0, 0, &m, e, -1)) return;
    vstore_slow(c, op, vl, m, src, mask);  // same arguments: a tail jump
}

// ---- Prepared vector instructions: vfast's decisions that depend on the row, the length and
// the decorations are taken once in xw_x86_vprep; what is left per instruction is the register
// test, the prefix word and the r/m operand. Whatever the fast path does not take goes to the
// general emitter with the same arguments, which then also reports any error.
xw_vprep xw_x86_vprep(xw_vp_form form, xw_insn op, xw_vl vl, xw_evex e)
{
    if (form == XW_VP_RRR) e = xw_plain;
    if (form == XW_VP_STORE) e = (xw_evex){ e.mask, false, false };
    xw_vprep p = { .form = (uint8_t)form, .op = op, .vl = vl, .e = e };
    static const uint8_t forms[] = { [XW_VP_RRR] = 1u << F_RVM, [XW_VP_RRM] = 1u << F_RVM,
                                     [XW_VP_LOAD] = 1u << F_MOVE | 1u << F_MOVS | 1u << F_BCST,
                                     [XW_VP_STORE] = 1u << F_MOVE | 1u << F_MOVS };
    if ((unsigned)form > XW_VP_STORE || (unsigned)op >= XW_INSN_COUNT || (unsigned)vl > XW_ZMM) return p;
    const fast_info *f = &fast_table[op];
    if (!(f->forms & forms[form])) return p;
    const bool mem = form != XW_VP_RRR, store = form == XW_VP_STORE;
    const bool plain = e.mask == XW_K0 && !e.zeroing && !e.bcst;
    p.vex = plain && (f->vex_vl >> vl & 1);
    p.evex_ok = (f->evex_vl >> vl & 1) && (unsigned)e.mask <= 7 && !(e.zeroing && e.mask == XW_K0)
                && !(e.bcst && (!mem || f->sh_bcst == 0xFF));
    p.c5 = f->c5;
    // The moves store through opcode | 1 (as vfast's opcode_add 1).
    p.vex2 = (store ? f->vex2 | 1u << 16 : f->vex2) ^ (unsigned)vl << 10;
    p.vex3 = (store ? f->vex3 | 1u << 24 : f->vex3) ^ (unsigned)vl << 18;
    const unsigned p2 = (unsigned)e.zeroing << 7 | (unsigned)vl << 5 | (unsigned)e.bcst << 4 | (unsigned)e.mask;
    p.evex = (store ? f->evex | 1ull << 32 : f->evex) ^ (uint64_t)p2 << 24;
    p.sh = (uint8_t)(e.bcst ? f->sh_bcst : f->sh + (f->sh_vl ? (unsigned)vl : 0));
    return p;
}

// What the inline VEX paths of x86_enc.h left: EVEX in place (registers below 32, [base + disp]
// with disp8*N), else the general emitter, which also reports any error. reg is ModRM.reg,
// vvvv the extra source, the r/m operand register rm (mem false) or [base + disp].
HOT bool vp_evex(xw_code *c, const xw_vprep *p, unsigned reg, unsigned vvvv, unsigned rm, bool mem, unsigned base,
                 int32_t disp)
{
    const unsigned regs = reg | vvvv | rm;  // rm is 0 with a memory operand
    if (c->err || c->len > c->cap || c->cap - c->len < IB_MAX || (mem && base > 15)) return false;
    if ((p->vex && regs < 16) || !p->evex_ok || regs > 31) return false;  // VEX: the inline path's
    const unsigned bx = mem ? base & 8 : rm & 24;  // r/m register bits 3 (B) and 4 (X, EVEX)
    uint8_t *o = c->buf + c->len;
    const unsigned modrm = (reg & 7) << 3 | (rm & 7);
    wr32n(o, (uint32_t)p->evex ^ (reg & 8) << 12 ^ bx << 10 ^ (reg & 16) << 8 ^ (vvvv & 15) << 19
                 ^ (vvvv & 16) << 23);
    o[4] = (uint8_t)(p->evex >> 32);
    fast_rm(c, o + 5, modrm, mem ? base : XW_NOREG, disp, p->sh, -1);
    return true;
}

void xw_x86_vp_rrr_slow(xw_code *c, const xw_vprep *p, unsigned dst, unsigned s1, unsigned s2)
{
    if (p->form != XW_VP_RRR) { fail(c, XW_ERR_ENCODE); return; }
    if (vp_evex(c, p, dst, s1, s2, false, 0, 0)) return;
    xw_x86_vop_rrr(c, p->op, p->vl, (xw_vreg)dst, (xw_vreg)s1, (xw_vreg)s2);
}

void xw_x86_vp_mem_slow(xw_code *c, const xw_vprep *p, xw_vp_form form, unsigned reg, unsigned vvvv, xw_gpr base,
                        int32_t disp)
{
    if (p->form != form) { fail(c, XW_ERR_ENCODE); return; }
    if (vp_evex(c, p, reg, vvvv, 0, true, (unsigned)base, disp)) return;
    const xw_mem m = xw_mem_at(base, disp);
    switch (p->form) {
    case XW_VP_RRM: xw_x86_vop_rrm(c, p->op, p->vl, (xw_vreg)reg, (xw_vreg)vvvv, m, p->e); break;
    case XW_VP_LOAD: xw_x86_vload(c, p->op, p->vl, (xw_vreg)reg, m, p->e); break;
    default: xw_x86_vstore(c, p->op, p->vl, m, (xw_vreg)reg, p->e.mask); break;
    }
}

// KMOVW k1, r32: VEX.L0.0F.W0 92 /r (needs only AVX512F).
void xw_x86_kmovw(xw_code *c, xw_kreg dst, xw_gpr src)
{
    if (c->err) return;
    if ((unsigned)dst > 7 || !gpr_ok(src)) { fail(c, XW_ERR_ENCODE); return; }
    uint8_t stage[IB_MAX];
    ibuf ib;
    ib_begin(c, &ib, stage, false);
    put_vex(&ib, 0, 0, (src >> 3) & 1, MAP_0F, 0, 0, 0, PP_NP);
    put8(&ib, 0x92);
    put8(&ib, 0xC0 | (unsigned)dst << 3 | (src & 7));
    emit(c, &ib, stage);
}

// ---- General-purpose instructions: [REX] opcode ModRM ... (SDM 2.2.1). REX = 0100WRXB.
static inline void put_rex(ibuf *ib, unsigned w, unsigned r, unsigned x, unsigned b)
{
    if (w | r | x | b) put8(ib, 0x40 | w << 3 | r << 2 | x << 1 | b);
}
static inline void put_op(ibuf *ib, unsigned op)  // one or two opcode bytes (0x0F18)
{
    if (op > 0xFF) put8(ib, op >> 8);
    put8(ib, op & 0xFF);
}

// op reg, r/m register (mod 11): reg and rm are ModRM fields, not operand order.
static void gpr_rr(xw_code *c, unsigned w, unsigned op, unsigned reg, xw_gpr rm, int imm_bytes, int32_t imm)
{
    if (c->err) return;
    if (reg > 15 || !gpr_ok(rm)) { fail(c, XW_ERR_ENCODE); return; }
    uint8_t stage[IB_MAX];
    ibuf ib;
    ib_begin(c, &ib, stage, false);
    put_rex(&ib, w, (reg >> 3) & 1, 0, (rm >> 3) & 1);
    put_op(&ib, op);
    put8(&ib, 0xC0 | (reg & 7) << 3 | (rm & 7));
    if (imm_bytes == 1) put8(&ib, (uint8_t)(int8_t)imm);
    if (imm_bytes == 4) put32(&ib, (uint32_t)imm);
    emit(c, &ib, stage);
}

static void gpr_mem(xw_code *c, unsigned w, unsigned op, unsigned reg, const xw_mem *m)
{
    if (c->err) return;
    if (reg > 15 || !mem_ok(m)) { fail(c, XW_ERR_ENCODE); return; }
    uint8_t stage[IB_MAX];
    ibuf ib;
    ib_begin(c, &ib, stage, m->base == XW_RIP);
    put_rex(&ib, w, (reg >> 3) & 1, 0, mem_b(m));
    put_op(&ib, op);
    put_mem(&ib, reg, m, 0);
    emit(c, &ib, stage);
}

// Register in the opcode's low 3 bits (B8+r, 50+r, 58+r), REX.B for r8-r15.
static void gpr_oreg(xw_code *c, unsigned w, unsigned op, xw_gpr r, int imm_bytes, uint64_t imm)
{
    if (c->err) return;
    if (!gpr_ok(r)) { fail(c, XW_ERR_ENCODE); return; }
    uint8_t stage[IB_MAX];
    ibuf ib;
    ib_begin(c, &ib, stage, false);
    put_rex(&ib, w, 0, 0, (r >> 3) & 1);
    put8(&ib, op + (r & 7));
    for (int i = 0; i < imm_bytes; i++) put8(&ib, (imm >> (8 * i)) & 0xFF);
    emit(c, &ib, stage);
}

// Shortest form: MOV r32, imm32 zero-extends to 64 bits (SDM Vol. 1 3.4.1.1); REX.W C7 /0
// sign-extends an imm32; otherwise REX.W B8+r imm64 (movabs).
void xw_x86_mov_ri(xw_code *c, xw_gpr dst, int64_t imm)
{
    if (imm >= 0 && imm <= (int64_t)UINT32_MAX)
        gpr_oreg(c, 0, 0xB8, dst, 4, (uint64_t)imm);
    else if (fits32(imm))
        gpr_rr(c, 1, 0xC7, 0, dst, 4, (int32_t)imm);
    else
        gpr_oreg(c, 1, 0xB8, dst, 8, (uint64_t)imm);
}

void xw_x86_mov_rr(xw_code *c, xw_gpr dst, xw_gpr src) { gpr_rr(c, 1, 0x89, src, dst, 0, 0); }
void xw_x86_lea(xw_code *c, xw_gpr dst, xw_mem m) { gpr_mem(c, 1, 0x8D, dst, &m); }

// ALU group 1: ModRM.reg extension for 81/83.
static const uint8_t alu_ext[] = { [XW_ADD] = 0, [XW_SUB] = 5, [XW_CMP] = 7, [XW_AND] = 4, [XW_OR] = 1, [XW_XOR] = 6 };

void xw_x86_alu_ri(xw_code *c, xw_alu op, xw_gpr dst, int32_t imm)
{
    if ((unsigned)op > XW_XOR) { fail(c, XW_ERR_ENCODE); return; }
    if (fits8(imm))
        gpr_rr(c, 1, 0x83, alu_ext[op], dst, 1, imm);  // imm8 sign-extended
    else
        gpr_rr(c, 1, 0x81, alu_ext[op], dst, 4, imm);
}

void xw_x86_push(xw_code *c, xw_gpr r) { gpr_oreg(c, 0, 0x50, r, 0, 0); }
void xw_x86_pop(xw_code *c, xw_gpr r) { gpr_oreg(c, 0, 0x58, r, 0, 0); }

// PREFETCHh: 0F 18 /1 t0, /2 t1, /3 t2, /0 nta. The general way out of line, so that the
// common case stays leaf code with few live registers.
static __attribute__((noinline)) void prefetch_slow(xw_code *c, unsigned ext, xw_mem m)
{
    gpr_mem(c, 0, 0x0F18, ext, &m);
}

void xw_x86_prefetch(xw_code *c, xw_prefetch hint, xw_mem m)
{
    static const uint8_t ext[] = { [XW_PREFETCHT0] = 1, [XW_PREFETCHT1] = 2, [XW_PREFETCHT2] = 3, [XW_PREFETCHNTA] = 0 };
    if ((unsigned)hint > XW_PREFETCHNTA) { fail(c, XW_ERR_ENCODE); return; }
    if (!c->err && (unsigned)m.base < 16 && c->len <= c->cap && c->cap - c->len >= IB_MAX) {
        // [base + disp], as a kernel's entry prefetches are, in place: [REX.B] 0F 18 ModRM ...
        uint8_t *p = c->buf + c->len;
        if (m.base & 8) *p++ = 0x41;
        *p++ = 0x0F;
        *p++ = 0x18;
        fast_rm(c, p, (unsigned)ext[hint] << 3, (unsigned)m.base, m.disp, 0, -1);
        return;
    }
    prefetch_slow(c, ext[hint], m);
}

static void raw(xw_code *c, const uint8_t *bytes, unsigned n)
{
    if (c->err) return;
    uint8_t stage[IB_MAX];
    ibuf ib;
    ib_begin(c, &ib, stage, false);
    for (unsigned i = 0; i < n; i++) put8(&ib, bytes[i]);
    emit(c, &ib, stage);
}

void xw_x86_vzeroupper(xw_code *c) { raw(c, (const uint8_t[]){ 0xC5, 0xF8, 0x77 }, 3); }
void xw_x86_ret(xw_code *c) { raw(c, (const uint8_t[]){ 0xC3 }, 1); }

// ---- Control flow: Jcc rel8 is 7x cb, rel32 0F 8x cd; JMP is EB cb / E9 cd.
static const uint8_t jcc_code[] = { [XW_JNZ] = 0x5, [XW_JZ] = 0x4, [XW_JL] = 0xC, [XW_JGE] = 0xD };

size_t xw_x86_here(const xw_code *c) { return c->len; }

// rel32 jump with displacement rel (relative to the end of the instruction).
static void jcc32(xw_code *c, xw_cond cc, int32_t rel)
{
    uint8_t stage[IB_MAX];
    ibuf ib;
    ib_begin(c, &ib, stage, false);
    if (cc == XW_JMP) {
        put8(&ib, 0xE9);
    } else {
        put8(&ib, 0x0F);
        put8(&ib, 0x80 | jcc_code[cc]);
    }
    put32(&ib, (uint32_t)rel);
    emit(c, &ib, stage);
}

void xw_x86_jcc_to(xw_code *c, xw_cond cc, size_t target)
{
    if (c->err) return;
    if ((unsigned)cc > XW_JMP || target > c->cap) { fail(c, XW_ERR_ENCODE); return; }
    int64_t rel8 = (int64_t)target - (int64_t)(c->len + 2);
    if (fits8(rel8)) {
        uint8_t stage[IB_MAX];
    ibuf ib;
    ib_begin(c, &ib, stage, false);
        put8(&ib, cc == XW_JMP ? 0xEB : 0x70 | jcc_code[cc]);
        put8(&ib, (uint8_t)(int8_t)rel8);
        emit(c, &ib, stage);
        return;
    }
    int64_t rel32 = (int64_t)target - (int64_t)(c->len + (cc == XW_JMP ? 5 : 6));
    if (!fits32(rel32)) { fail(c, XW_ERR_ENCODE); return; }
    jcc32(c, cc, (int32_t)rel32);
}

// Pads with int3 (CC) so that running into the padding traps; align is a power of two (0: 1).
size_t xw_x86_data(xw_code *c, const void *bytes, size_t n, size_t align)
{
    if (c->err) return 0;
    if (align == 0) align = 1;
    if (align & (align - 1)) { fail(c, XW_ERR_ENCODE); return 0; }
    size_t pad = (align - (c->len & (align - 1))) & (align - 1);
    if (c->len > c->cap || pad > c->cap - c->len || n > c->cap - c->len - pad) { fail(c, XW_ERR_NOMEM); return 0; }
    memset(c->buf + c->len, 0xCC, pad);
    c->len += pad;
    if (n) memcpy(c->buf + c->len, bytes, n);
    c->len += n;
    return c->len - n;
}
