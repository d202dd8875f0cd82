// x86_enc.c: the x86-64 encoder. Each emitter checks its operands, then writes one instruction
// through the writers of x86_enc.h, straight at the end of the code buffer when there is room
// for any instruction, else into a small local buffer copied after an exact room check; nothing
// is written on error and the first error sticks. References are to the Intel SDM Vol. 2.
#include "x86_enc.h"

// ---- Instruction facts from x86_insn.def: its tokens name these constants.
enum { PP_NP = 0, PP_66 = 1, PP_F3 = 2, PP_F2 = 3 };  // VEX/EVEX pp field (SDM 2.3.5.5)
enum { MAP_0F = 1, MAP_0F38 = 2, MAP_0F3A = 3 };      // VEX m-mmmm / EVEX mm
enum { W_W0 = 0, W_W1 = 1, W_WIG = 0, W_NO = 2 };     // NO: the instruction has no such form
enum { TT_NONE, TT_FV, TT_FVM, TT_T1S };              // EVEX disp8*N tuple (SDM 2.7.5)
enum { F_RVM, F_RVMM, F_RVMI, F_RMI, F_MOVE, F_MOVS, F_BCST };  // operand forms

// The prefixes' fixed fields, laid out once: little-endian words, prefix then opcode, with the
// (inverted) register fields all ones and vector length 0 (SDM 2.3.5 VEX, 2.7.1 EVEX).
#define VEX2(pp, opcode) (0xC5u | (0xF8u | PP_##pp) << 8 | (uint32_t)(opcode) << 16 | 0xC0u << 24)
#define VEX3(pp, map, w, opcode) \
    (0xC4u | (0xE0u | MAP_##map) << 8 | ((W_##w & 1u) << 7 | 0x78u | PP_##pp) << 16 | (uint32_t)(opcode) << 24)
#define EVEX(pp, map, w, opcode)                                                                      \
    (0x62u | (0xF0u | MAP_##map) << 8 | ((W_##w & 1u) << 7 | 0x7Cu | PP_##pp) << 16 | 0x08u << 24 \
     | (uint64_t)(opcode) << 32)

// Per row, what the emitters need that depends on the row alone.
typedef struct {
    uint64_t evex;
    uint32_t vex2, vex3;
    uint8_t form;       // F_*
    uint8_t vex_vl;     // bit vl: VEX encodes the row at vl (a VEX form, minvl <= vl <= ymm)
    uint8_t evex_vl;    // bit vl: EVEX does (an EVEX form, minvl <= vl <= zmm)
    uint8_t c5;         // VEX may take the 2-byte form (map 0F, W0)
    uint8_t sh, sh_vl;  // EVEX disp8*N without {1toN}: log2 N = sh + (sh_vl ? vl : 0)
    uint8_t sh_bcst;    // with {1toN} (the element); 0xFF: the row takes no {1toN}
} __attribute__((aligned(32))) row_info;  // 32 bytes: indexed with a shift

#define ELEM_SH(wevex) (W_##wevex == W_W1 ? 3 : 2)  // 8- or 4-byte elements
static const row_info rows[XW_INSN_COUNT] = {
#define XW_INSN(name, form_, minvl, pp, map, wvex, wevex, opcode, tuple)                      \
    [XW_##name] = {                                                                           \
        .evex = EVEX(pp, map, wevex, opcode),                                                 \
        .vex2 = VEX2(pp, opcode),                                                             \
        .vex3 = VEX3(pp, map, wvex, opcode),                                                  \
        .form = F_##form_,                                                                    \
        .vex_vl = W_##wvex == W_NO ? 0 : (3u >> XW_##minvl) << XW_##minvl,                    \
        .evex_vl = W_##wevex == W_NO ? 0 : (7u >> XW_##minvl) << XW_##minvl,                  \
        .c5 = MAP_##map == MAP_0F && W_##wvex == W_W0,                                        \
        .sh = TT_##tuple == TT_FV || TT_##tuple == TT_FVM ? 4                                 \
              : TT_##tuple == TT_T1S                      ? ELEM_SH(wevex)                    \
                                                          : 0,                                \
        .sh_vl = TT_##tuple == TT_FV || TT_##tuple == TT_FVM,                                 \
        .sh_bcst = TT_##tuple == TT_FV ? ELEM_SH(wevex) : 0xFF,                               \
    },
#include "x86_insn.def"
#undef XW_INSN
};
#undef ELEM_SH

// The row forms each emitter takes.
static const uint8_t takes[] = {
    [XW_VP_RRR] = 1u << F_RVM,
    [XW_VP_RRM] = 1u << F_RVM | 1u << F_RVMM,
    [XW_VP_LOAD] = 1u << F_MOVE | 1u << F_MOVS | 1u << F_BCST,
    [XW_VP_STORE] = 1u << F_MOVE | 1u << F_MOVS,
    [XW_VP_RRRI] = 1u << F_RVMI,
    [XW_VP_RRI] = 1u << F_RMI,
    [XW_VP_RR] = 1u << F_MOVE | 1u << F_BCST,
};

// Helpers on the per-instruction path are forced inline: each public emitter then gets its own
// copy specialized on its constant operands (register or memory form, imm or none).
#define HOT static inline __attribute__((always_inline))

static bool fits8(int64_t v) { return v >= INT8_MIN && v <= INT8_MAX; }
static bool fits32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }
static bool gpr_ok(xw_gpr r) { return r.n < 16; }
static bool is_rip(const xw_mem *m) { return m && m->base.n == XW_RIP.n; }
static bool mem_ok(const xw_mem *m) { return gpr_ok(m->base) || is_rip(m); }
static bool room(const xw_code *c, size_t n) { return c->len <= c->cap && c->cap - c->len >= n; }

static void fail(xw_code *c, xw_status s)
{
    if (!c->err) c->err = s;
}

// ---- Where an instruction goes: at the buffer's end when there is room for any (the common
// case: each byte written once, in place), else staged, as are RIP operands, whose disp32 may
// not fit: an error must leave the buffer as it was.
enum { IB_MAX = 16 };  // room for the longest instruction (x86 caps them at 15 bytes)

HOT uint8_t *ib_start(const xw_code *c, uint8_t *stage, bool rip)
{
    return room(c, IB_MAX) && !rip ? c->buf + c->len : stage;
}

// Ends the instruction [start, end). A staged one gets the exact room check, its RIP disp32
// (target - end of the instruction, the 4 bytes before its last `tail`) and the copy.
HOT void commit(xw_code *c, uint8_t *start, uint8_t *end, const uint8_t *stage, const xw_mem *m, unsigned tail)
{
    const size_t n = (size_t)(end - start);
    if (start == stage) {
        if (!room(c, n)) { fail(c, XW_ERR_NOMEM); return; }
        if (is_rip(m)) {
            const int64_t rel = (int64_t)m->disp - (int64_t)(c->len + n);
            if (!fits32(rel)) { fail(c, XW_ERR_ENCODE); return; }
            xw_x86_le(end - tail - 4, (uint32_t)rel, 4);
        }
        memcpy(c->buf + c->len, stage, n);
    }
    c->len += n;
}

// ---- Vector instructions.
// The decisions that depend on the row, the length and the decorations (e is normalized for the
// form: stores keep the mask only, register forms nothing). Returns the row, NULL when invalid.
HOT const row_info *pcheck(xw_vprep *p, xw_vp_form form, xw_insn op, xw_vl vl, xw_evex *e)
{
    if (form != XW_VP_RRM && form != XW_VP_LOAD)
        *e = (xw_evex){ form == XW_VP_STORE ? e->mask : XW_K0, false, false };
    *p = (xw_vprep){ .form = (uint8_t)form };
    if ((unsigned)form > XW_VP_RR || (unsigned)op >= XW_INSN_COUNT || (unsigned)vl > XW_ZMM) return NULL;
    const row_info *r = &rows[op];
    if (!(takes[form] >> r->form & 1)) return NULL;
    const bool plain = e->mask == XW_K0 && !e->zeroing && !e->bcst;
    p->vex = plain && (r->vex_vl >> vl & 1);
    p->evex_ok = (r->evex_vl >> vl & 1) && (unsigned)e->mask <= 7 && !(e->zeroing && e->mask == XW_K0)
                 && !(e->bcst && r->sh_bcst == 0xFF);  // {z} needs a mask; {1toN}: FV rows only
    return r;
}

// The prefix words with the length and decorations set. Stores use the MR opcode, opcode | 1
// (SDM: MOVUPD 66 0F 11 /r, MOVSD F2 0F 11 /r).
HOT void pvex(xw_vprep *p, const row_info *r, xw_vl vl, bool store)
{
    p->c5 = r->c5;
    p->vex2 = (r->vex2 | (uint32_t)store << 16) ^ (uint32_t)vl << 10;
    p->vex3 = (r->vex3 | (uint32_t)store << 24) ^ (uint32_t)vl << 18;
}

HOT void pevex(xw_vprep *p, const row_info *r, xw_vl vl, xw_evex e, bool store)
{
    const uint32_t p2 = (uint32_t)e.zeroing << 7 | (uint32_t)vl << 5 | (uint32_t)e.bcst << 4 | (uint32_t)e.mask;
    p->evex = (r->evex | (uint64_t)store << 32) ^ (uint64_t)p2 << 24;
    p->sh = (uint8_t)(e.bcst ? r->sh_bcst : r->sh + (r->sh_vl ? (unsigned)vl : 0));
}

HOT xw_vprep prep(xw_vp_form form, xw_insn op, xw_vl vl, xw_evex e)
{
    xw_vprep p;
    const row_info *r = pcheck(&p, form, op, vl, &e);
    if (r) {
        pvex(&p, r, vl, form == XW_VP_STORE);
        pevex(&p, r, vl, e, form == XW_VP_STORE);
    }
    return p;
}

xw_vprep xw_x86_vprep(xw_vp_form form, xw_insn op, xw_vl vl, xw_evex e) { return prep(form, op, vl, e); }

// EVEX prefix and opcode from the prepared word: 62 [R X B R' 0 0 m m] [W vvvv 1 pp]
// [z L'L b V' aaa] opcode, the register bits inverted as in VEX (SDM 2.7.1). x and b: the
// registers whose bit 3 is X and B.
HOT uint8_t *evex_at(uint8_t *o, const xw_vprep *p, unsigned reg, unsigned vvvv, unsigned x, unsigned b)
{
    const uint32_t regs = (reg & 8) << 12 | (x & 8) << 11 | (b & 8) << 10 | (reg & 16) << 8 | (vvvv & 15) << 19
                          | (vvvv & 16) << 23;
    return xw_x86_le(o, p->evex ^ regs, 5);
}

// Writes one vector instruction at o: reg is ModRM.reg, vvvv the extra source (0 when none:
// 1111b), the r/m operand register rm (m NULL) or memory; imm < 0: none. VEX or EVEX, whose X
// extends a register rm to 5 bits; a memory base's bit 3 is B (RIP, 16, has none).
HOT uint8_t *vwrite(uint8_t *o, const xw_vprep *p, bool vex, unsigned reg, unsigned vvvv, unsigned rm,
                    const xw_mem *m, int imm)
{
    const unsigned b = m ? m->base.n : rm, x = rm >> 1;
    o = vex ? xw_x86_vex_at(o, p, reg, vvvv, x, b) : evex_at(o, p, reg, vvvv, x, b);
    o = xw_x86_modrm_at(o, reg, rm, m, vex ? 0 : p->sh);
    if (imm >= 0) *o++ = (uint8_t)imm;
    return o;
}

// VEX when the preparation and the registers allow it, else EVEX when they allow that.
HOT bool vvalid(const xw_vprep *p, xw_vp_form form, unsigned regs, bool *vex)
{
    *vex = p->vex && regs < 16;
    return p->form == form && (*vex || (p->evex_ok && regs < 32));
}

// One vector instruction, checked (rm is 0 with memory).
HOT void vinsn(xw_code *c, const xw_vprep *p, xw_vp_form form, unsigned reg, unsigned vvvv, unsigned rm,
               const xw_mem *m, int imm)
{
    bool vex;
    if (c->err) return;
    if (!vvalid(p, form, reg | vvvv | rm, &vex) || (m && !mem_ok(m))) { fail(c, XW_ERR_ENCODE); return; }
    uint8_t stage[IB_MAX];
    uint8_t *const start = ib_start(c, stage, is_rip(m));
    commit(c, start, vwrite(start, p, vex, reg, vvvv, rm, m, imm), stage, m, imm >= 0);
}

// The common case of vinsn, written in place: no error, valid operands, memory at a GPR base,
// room for any instruction. What it declines (having touched nothing) goes to vinsn out of line
// (the two functions below), which also reports errors: the emitters stay leaf code.
HOT bool vfast(xw_code *c, const xw_vprep *p, xw_vp_form form, unsigned reg, unsigned vvvv, unsigned rm,
               const xw_mem *m, int imm)
{
    bool vex;
    if (c->err || !vvalid(p, form, reg | vvvv | rm, &vex) || (m && !gpr_ok(m->base)) || !room(c, IB_MAX))
        return false;
    c->len = (size_t)(vwrite(c->buf + c->len, p, vex, reg, vvvv, rm, m, imm) - c->buf);
    return true;
}

static __attribute__((noinline)) void vslow_prepared(xw_code *c, const xw_vprep *p, xw_vp_form form, unsigned reg,
                                                     unsigned vvvv, unsigned rm, const xw_mem *m, int imm)
{
    vinsn(c, p, form, reg, vvvv, rm, m, imm);
}

// (Prepared again here: passing the preparation would keep it on the emitter's stack.)
static __attribute__((noinline)) void vslow(xw_code *c, xw_vp_form form, xw_insn op, xw_vl vl, xw_evex e,
                                            unsigned reg, unsigned vvvv, unsigned rm, const xw_mem *m, int imm)
{
    const xw_vprep p = prep(form, op, vl, e);
    vinsn(c, &p, form, reg, vvvv, rm, m, imm);
}

// An emitter's instruction: prepared as xw_x86_vprep would, but in the common case building
// only the prefix word it uses (fewer live registers).
HOT void vemit(xw_code *c, xw_vp_form form, xw_insn op, xw_vl vl, xw_evex e, unsigned reg, unsigned vvvv,
               unsigned rm, const xw_mem *m, int imm)
{
    xw_vprep p;
    xw_evex en = e;
    const row_info *r = pcheck(&p, form, op, vl, &en);
    const unsigned regs = reg | vvvv | (m ? 0 : rm);
    bool vex;
    if (r && !c->err && vvalid(&p, form, regs, &vex) && (!m || gpr_ok(m->base)) && room(c, IB_MAX)) {
        if (vex)
            pvex(&p, r, vl, form == XW_VP_STORE);
        else
            pevex(&p, r, vl, en, form == XW_VP_STORE);
        c->len = (size_t)(vwrite(c->buf + c->len, &p, vex, reg, vvvv, m ? 0 : rm, m, imm) - c->buf);
        return;
    }
    vslow(c, form, op, vl, e, reg, vvvv, rm, m, imm);
}

void xw_x86_vp_emit_rrr(xw_code *c, const xw_vprep *p, xw_vreg dst, xw_vreg s1, xw_vreg s2)
{
    if (!vfast(c, p, XW_VP_RRR, dst.n, s1.n, s2.n, NULL, -1))
        vslow_prepared(c, p, XW_VP_RRR, dst.n, s1.n, s2.n, NULL, -1);
}

void xw_x86_vp_emit_mem(xw_code *c, const xw_vprep *p, xw_vp_form form, xw_vreg reg, xw_vreg vvvv, xw_gpr base,
                        int32_t disp)
{
    const xw_mem m = xw_mem_at(base, disp);
    if (form != XW_VP_RRM && form != XW_VP_LOAD && form != XW_VP_STORE) {  // (the others have no memory form)
        fail(c, XW_ERR_ENCODE);
        return;
    }
    if (!vfast(c, p, form, reg.n, vvvv.n, 0, &m, -1)) vslow_prepared(c, p, form, reg.n, vvvv.n, 0, &m, -1);
}

void xw_x86_vop_rrr(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_vreg s2)
{
    vemit(c, XW_VP_RRR, op, vl, xw_plain, dst.n, s1.n, s2.n, NULL, -1);
}

void xw_x86_vop_rrm(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_mem m, xw_evex e)
{
    vemit(c, XW_VP_RRM, op, vl, e, dst.n, s1.n, 0, &m, -1);
}

void xw_x86_vop_rrri(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg s1, xw_vreg s2, uint8_t imm)
{
    vemit(c, XW_VP_RRRI, op, vl, xw_plain, dst.n, s1.n, s2.n, NULL, imm);
}

void xw_x86_vop_rri(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg src, uint8_t imm)
{
    vemit(c, XW_VP_RRI, op, vl, xw_plain, dst.n, 0, src.n, NULL, imm);
}

void xw_x86_vop_rr(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_vreg src)
{
    vemit(c, XW_VP_RR, op, vl, xw_plain, dst.n, 0, src.n, NULL, -1);
}

void xw_x86_vload(xw_code *c, xw_insn op, xw_vl vl, xw_vreg dst, xw_mem m, xw_evex e)
{
    vemit(c, XW_VP_LOAD, op, vl, e, dst.n, 0, 0, &m, -1);
}

// Merge-masking only: a store has no {z}.
void xw_x86_vstore(xw_code *c, xw_insn op, xw_vl vl, xw_mem m, xw_vreg src, xw_kreg mask)
{
    vemit(c, XW_VP_STORE, op, vl, (xw_evex){ mask, false, false }, src.n, 0, 0, &m, -1);
}

// KMOVW k1, r32: VEX.L0.0F.W0 92 /r (needs only AVX512F).
void xw_x86_kmovw(xw_code *c, xw_kreg dst, xw_gpr src)
{
    static const xw_vprep kmovw = { .vex2 = VEX2(NP, 0x92), .vex3 = VEX3(NP, 0F, W0, 0x92), .c5 = 1 };
    if (c->err) return;
    if ((unsigned)dst > 7 || !gpr_ok(src)) { fail(c, XW_ERR_ENCODE); return; }
    uint8_t stage[IB_MAX];
    uint8_t *const start = ib_start(c, stage, false);
    uint8_t *o = xw_x86_vex_at(start, &kmovw, (unsigned)dst, 0, 0, src.n);
    o = xw_x86_modrm_at(o, (unsigned)dst, src.n, NULL, 0);
    commit(c, start, o, stage, NULL, 0);
}

// VZEROUPPER: VEX.128.0F.WIG 77, no operands.
void xw_x86_vzeroupper(xw_code *c)
{
    static const xw_vprep vzu = { .vex2 = VEX2(NP, 0x77), .c5 = 1 };
    if (c->err) return;
    uint8_t stage[IB_MAX];
    uint8_t *const start = ib_start(c, stage, false);
    commit(c, start, xw_x86_vex_at(start, &vzu, 0, 0, 0, 0), stage, NULL, 0);
}

// ---- General-purpose instructions: [REX] opcode ModRM [imm] (SDM 2.2.1), REX = 0100WRXB only
// when a bit is set; op is one or two opcode bytes (0x0F18). reg is ModRM.reg (a register or an
// opcode extension), the r/m operand register rm (m NULL) or memory.
HOT void gpr(xw_code *c, unsigned w, unsigned op, unsigned reg, xw_gpr rm, const xw_mem *m, unsigned imm_bytes,
             int32_t imm)
{
    if (c->err) return;
    if (reg > 15 || (m ? !mem_ok(m) : !gpr_ok(rm))) { fail(c, XW_ERR_ENCODE); return; }
    uint8_t stage[IB_MAX];
    uint8_t *const start = ib_start(c, stage, is_rip(m));
    uint8_t *o = start;
    const unsigned b = m ? m->base.n : rm.n, rex = w << 3 | (reg & 8) >> 1 | (b & 8) >> 3;
    if (rex) *o++ = (uint8_t)(0x40 | rex);
    if (op > 0xFF) *o++ = (uint8_t)(op >> 8);
    *o++ = (uint8_t)op;
    o = xw_x86_modrm_at(o, reg, rm.n, m, 0);
    o = xw_x86_le(o, (uint32_t)imm, imm_bytes);
    commit(c, start, o, stage, m, imm_bytes);
}

// Register in the opcode's low 3 bits (B8+r, 50+r, 58+r), REX.B for r8-r15.
HOT void gpr_oreg(xw_code *c, unsigned w, unsigned op, xw_gpr r, unsigned imm_bytes, uint64_t imm)
{
    if (c->err) return;
    if (!gpr_ok(r)) { fail(c, XW_ERR_ENCODE); return; }
    uint8_t stage[IB_MAX];
    uint8_t *const start = ib_start(c, stage, false);
    uint8_t *o = start;
    const unsigned rex = w << 3 | (r.n & 8) >> 3;
    if (rex) *o++ = (uint8_t)(0x40 | rex);
    *o++ = (uint8_t)(op + (r.n & 7));
    commit(c, start, xw_x86_le(o, imm, imm_bytes), stage, NULL, 0);
}

// Shortest form: MOV r32, imm32 zero-extends to 64 bits (SDM Vol. 1 3.4.1.1); REX.W C7 /0
// sign-extends an imm32; otherwise REX.W B8+r imm64 (movabs).
void xw_x86_mov_ri(xw_code *c, xw_gpr dst, int64_t imm)
{
    if (imm >= 0 && imm <= (int64_t)UINT32_MAX)
        gpr_oreg(c, 0, 0xB8, dst, 4, (uint64_t)imm);
    else if (fits32(imm))
        gpr(c, 1, 0xC7, 0, dst, NULL, 4, (int32_t)imm);
    else
        gpr_oreg(c, 1, 0xB8, dst, 8, (uint64_t)imm);
}

void xw_x86_mov_rr(xw_code *c, xw_gpr dst, xw_gpr src) { gpr(c, 1, 0x89, src.n, dst, NULL, 0, 0); }
void xw_x86_lea(xw_code *c, xw_gpr dst, xw_mem m) { gpr(c, 1, 0x8D, dst.n, XW_RAX, &m, 0, 0); }

// ALU group 1 (81 /ext imm32, 83 /ext imm8 sign-extended): the ModRM.reg extension of each.
void xw_x86_alu_ri(xw_code *c, xw_alu op, xw_gpr dst, int32_t imm)
{
    static const uint8_t ext[] = { [XW_ADD] = 0, [XW_SUB] = 5, [XW_CMP] = 7, [XW_AND] = 4, [XW_OR] = 1, [XW_XOR] = 6 };
    if ((unsigned)op > XW_XOR) { fail(c, XW_ERR_ENCODE); return; }
    if (fits8(imm))
        gpr(c, 1, 0x83, ext[op], dst, NULL, 1, imm);
    else
        gpr(c, 1, 0x81, ext[op], dst, NULL, 4, imm);
}

void xw_x86_push(xw_code *c, xw_gpr r) { gpr_oreg(c, 0, 0x50, r, 0, 0); }
void xw_x86_pop(xw_code *c, xw_gpr r) { gpr_oreg(c, 0, 0x58, r, 0, 0); }

// PREFETCHh: 0F 18 /1 t0, /2 t1, /3 t2, /0 nta.
void xw_x86_prefetch(xw_code *c, xw_prefetch hint, xw_mem m)
{
    static const uint8_t ext[] = { [XW_PREFETCHT0] = 1, [XW_PREFETCHT1] = 2, [XW_PREFETCHT2] = 3,
                                   [XW_PREFETCHNTA] = 0 };
    if ((unsigned)hint > XW_PREFETCHNTA) { fail(c, XW_ERR_ENCODE); return; }
    gpr(c, 0, 0x0F18, ext[hint], XW_RAX, &m, 0, 0);
}

void xw_x86_ret(xw_code *c)
{
    if (c->err) return;
    uint8_t stage[IB_MAX];
    uint8_t *const start = ib_start(c, stage, false);
    *start = 0xC3;
    commit(c, start, start + 1, stage, NULL, 0);
}

// ---- Control flow: Jcc rel8 is 7x cb, rel32 0F 8x cd; JMP is EB cb / E9 cd.
size_t xw_x86_here(const xw_code *c) { return c->len; }

void xw_x86_jcc_to(xw_code *c, xw_cond cc, size_t target)
{
    static const uint8_t code[] = { [XW_JNZ] = 0x5, [XW_JZ] = 0x4, [XW_JL] = 0xC, [XW_JGE] = 0xD };
    if (c->err) return;
    if ((unsigned)cc > XW_JMP || target > c->cap) { fail(c, XW_ERR_ENCODE); return; }
    const int64_t rel8 = (int64_t)target - (int64_t)(c->len + 2);
    const int64_t rel32 = (int64_t)target - (int64_t)(c->len + (cc == XW_JMP ? 5 : 6));
    if (!fits8(rel8) && !fits32(rel32)) { fail(c, XW_ERR_ENCODE); return; }
    uint8_t stage[IB_MAX];
    uint8_t *const start = ib_start(c, stage, false);
    uint8_t *o = start;
    if (fits8(rel8)) {
        *o++ = cc == XW_JMP ? 0xEB : (uint8_t)(0x70 | code[cc]);
        *o++ = (uint8_t)rel8;
    } else {
        if (cc != XW_JMP) *o++ = 0x0F;
        *o++ = cc == XW_JMP ? 0xE9 : (uint8_t)(0x80 | code[cc]);
        o = xw_x86_le(o, (uint32_t)rel32, 4);
    }
    commit(c, start, o, stage, NULL, 0);
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
