// gen_emit.h: the emitter's state, private to gen_emit.c (the k loops, packing, tiles and the
// real epilogue) and gen_zepi.c (the complex epilogue). Calls the x86 encoder only.
#ifndef XW_GEN_EMIT_H
#define XW_GEN_EMIT_H

#include "gen.h"

typedef struct {
    xw_gpr base;
    int64_t disp;  // bytes
} ref;

// A vector operation with C from memory (op_mem): the reg-mem form, or the reg-reg form for
// vectors narrower than a memory operand (C is loaded into a temporary first).
typedef struct {
    xw_vprep m, r;
} memop;

typedef struct {
    const gen_plan *p;
    const gen_isa *I;
    xw_code *c;
    int64_t sp;  // emit_pack: bytes between columns of the panel
    // Prefetches of the next column block's C (plan.ahead), spread over a tile's k steps:
    // queued lines pf[pfat..npf), pfper after each step.
    int next_nb;  // columns of the next column block; 0: none
    ref pf[GEN_AHEAD_MAX];
    int npf, pfat, pfper;
    // The instructions every tile repeats, prepared once per kernel (gen_emit), those the
    // kernel uses only: vw elements of A or C loaded and stored, op(B) broadcasts, the k
    // step's FMA (plan.kfma) from a register and (AVX-512, mb == 1) from memory {1toN}, the
    // zeroing idiom, and the epilogue's two steps (plan.cop with C, plan.rop without).
    xw_vprep ld, st, bcst, fma, fma_eb, zero, epi_r;
    memop epi_c;        // with C (alpha and beta any: beta*C into the temporary, then epi_r)
    xw_vprep ldm;       // plan.part: op(A) loaded k1-masked, zeroing
    xw_vprep ldp, stp;  // plan.part: a piece of C (part_epilogue)
    // Complex: buffer offsets of the constant vectors before the entry (ones; the sign bits
    // the combine flips, when it flips any).
    size_t ones_at, mask_at;
} G;

// Broadcasts of a complex tile: 2*nb, nb at most 15 (2*nb accumulators and 2 more registers
// within 32).
#define GEN_BCOL_MAX 32

// Where a tile of the plan's kind (gen_tile) is: its vectors from v0, and its addresses.
typedef struct {
    int v0;
    int64_t arow[GEN_MB_MAX];  // bytes from the tile's op(A) base to each vector (a_row)
    int64_t crow[GEN_MB_MAX];  // bytes from the tile's C column to each vector (tile_row)
    int32_t bcol[GEN_BCOL_MAX];  // complex: bytes from op(B)(k, first column) to each broadcast
    bool direct;               // kstep may write at a cursor (ksteps_direct)
} tplace;

static inline ref off(ref r, int64_t bytes) { return (ref){ r.base, r.disp + bytes }; }

static inline int32_t disp32(G *g, int64_t disp)
{
    if (disp < INT32_MIN || disp > INT32_MAX) {  // the planner's range check prevents this
        if (!g->c->err) g->c->err = XW_ERR_RANGE;
        return 0;
    }
    return (int32_t)disp;
}

static inline xw_mem at(G *g, ref r) { return xw_mem_at(r.base, disp32(g, r.disp)); }

// gen_emit.c
// Vectors of vw elements of A or C, never masked; dst = op(s1, C) with C in memory (tmp:
// vectors narrower than a memory operand load C there first).
XW_HIDDEN void gen_load_vec(G *g, int r, ref m);
XW_HIDDEN void gen_store_vec(G *g, ref m, int r);
XW_HIDDEN void gen_op_mem(G *g, const memop *o, int dst, int s1, ref m, int tmp);

// gen_zepi.c
XW_HIDDEN void gen_zprep(G *g);  // before the entry: the constant vectors
XW_HIDDEN void gen_zepilogue(G *g, const gen_tile *t, const tplace *pl, ref cm);  // C tile from chains

#endif
