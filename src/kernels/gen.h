// gen.h: private to the GEMM generator. The plan (gen_gemm.c chooses the blocking, gen_plan.c
// assigns registers and instructions) holds every decision; the emitter (gen_emit.c, gen_zepi.c)
// only reads it and writes instructions. One generator body serves AVX2 and AVX-512 through
// gen_isa.
#ifndef XW_GEN_H
#define XW_GEN_H

#include "jit.h"

// What differs between the ISAs and precisions.
typedef struct {
    xw_target target;
    xw_vl vl;        // register width: broadcasts are done at this length
    int lanes;       // elements per register
    int es;          // element bytes
    int nvregs;      // 16 (VEX) or 32 (EVEX)
    bool ebcst;      // AVX-512: tiles of one vector take op(B) as an embedded broadcast {1toN}
    xw_insn movu, movs, bcst, fma, fnma, fma213, fms213, mul, add, sub;
    xw_insn fmaddsub, fmsubadd, fmsubadd231, permil;  // complex epilogue (132 forms, imm8 swap)
    // Cost model weights (gen_gemm.c, tile_cycles and choose_blocking).
    double acc_penalty;  // cycles per k step for each accumulator beyond half the registers
    double walk_cost;    // cycles per element of op(B) for each M block that walks it
    double a_load;       // load slots one op(A) vector takes (a broadcast takes one)
    bool b_stream;       // tiles of one vector read a large op(B) a few columns at a time
} gen_isa;

typedef struct {
    int size, count;  // `count` consecutive blocks of `size` (vectors for M, columns for N)
} gen_group;

// General-purpose register roles. K loop: PA, PB, KC (also used to pack op(A)). N loop over
// identical blocks: PBN, PCN, NC (also the column loop of the C = beta*C path). FRAME (ta T or C)
// keeps the entry rsp while rsp is aligned down (32 or 64 bytes) for the packed panel.
enum { G_PA, G_PB, G_KC, G_PBN, G_PCN, G_NC, G_FRAME, G_ROLES };

#define GEN_MB_MAX 8            // most vectors along M in one tile (gen_gemm.c, gen_emit.c)
#define GEN_NB_MAX 24           // most columns in one tile
#define GEN_SCRATCH_MAX 8192  // bytes of stack for a packed op(A) panel (ta T or C)
#define GEN_AHEAD_MAX 512     // lines a tile spreads over its k steps (more: before them)

// The complex epilogue's registers (gen_zepi.c): alpha's and beta's parts broadcast (-1: read
// as embedded broadcasts), two temporaries, and the constant vectors of its first pass.
typedef struct {
    int ar, ai, br, bi, t1, t2;
    int ones, mask;  // 1.0 in every lane; the sign bits the combine flips (plan.zmask)
} gen_zregs;

// One kind of tile, mb vectors along M by nb columns of C: its vector registers (gen_plan.c
// assigns them; its opening comment draws the layout).
typedef struct {
    int mb, nb;
    int nbc;          // broadcasts of op(B) per k step: u*nb (br, bi of each column)
    int acc0;         // first accumulator (gen_acc)
    int areg, nareg;  // op(A) pieces: nareg registers from areg (mb, or 1 or 2 rotating)
    int breg, nbreg;  // op(B) broadcasts: nbreg registers from breg (1 or 2 rotating, or nbc)
    bool ebcst;       // AVX-512, mb == 1: op(B) as an embedded broadcast {1toN}, no breg
    bool bfirst;      // nbc < mb: nbc broadcasts held, op(A) pieces loaded and used at once
    bool partial;     // its vector is plan.part rows: op(A) loaded k1-masked, C in pieces
    int ra, rb, tmp;  // real epilogue: alpha, beta (-1: not read at call time), a temporary
    gen_zregs z;      // complex epilogue
    int64_t bj;       // bytes between columns of op(B)
} gen_tile;

// Lines requested at entry (plan.prefetch): a column-major rows x cols matrix at base, rows and
// ld in parts.
typedef struct {
    xw_gpr base;
    int64_t rows, cols, ld;
} gen_region;

typedef struct {
    xw_desc d;           // normalized (ta with m == 1 becomes NN with lda 1)
    gen_isa isa;
    // Complex descriptors (zgemm, cgemm) are planned and emitted in real parts: an element is
    // u = 2 consecutive parts (re, im), so C's M rows are rows = 2m parts and a column of A, B
    // or C starts every 2*ld parts. Vectors along M then hold vw/2 elements and start at even
    // parts; op(B)(k, j) is broadcast twice (br, bi) into two accumulator sets. Conjugation
    // is applied in the epilogue (gen_zepi.c), never to stored values. Real: u = 1, rows = m.
    int u;
    bool conj_a, conj_b;  // ta, tb == XW_TRANS_C (complex only)
    uint32_t rows, lda, ldb, ldc;  // in parts
    // M is covered by mv vectors of vw parts (rows), vw the widest of the register, its
    // halves down to 4 bytes, that fits in rows. When vw does not divide rows the last vector
    // starts at rows - vw, overlapping its neighbour, which must then share its tile (both read
    // C before either is stored). No mask anywhere: no access to C covers a byte outside its
    // column's rows (a masked zmm store whose masked-off lanes cover the next column makes that
    // column's load wait ~20 cycles on Zen 4: ../shared/probes/masked_c_columns.c).
    int vw, mv;
    bool overlap;
    // AVX-512 with M below one zmm: the one vector has `part` rows (parts; 0: none). Its
    // op(A) loads are k1-masked (A is only read: the masked-off lanes fault nowhere and no
    // store waits on them); C is read and written in two unmasked pieces (gen_emit.c), so the
    // rule above holds. Its tiles keep v0-v3 for those pieces: accumulators start at acc0.
    int part, acc0;
    xw_vl vl;            // length of the arithmetic on vw elements
    xw_insn mov;         // loads and stores vw elements: VMOVUP*, VMOVSD (8 bytes), VMOVSS
    bool memop;          // vw elements make a full memory operand (16 bytes or more)
    gen_group mg[2], ng[2];
    int nmg, nng;
    double a_split;      // share of op(A) vector loads crossing a cache line (cost model)
    int kunroll;         // k steps per loop iteration; >= k: K fully unrolled
    bool nloop;          // loop over identical N blocks
    bool pack;           // op(A) panels are packed into stack scratch (ta T or C)
    bool pack_loop[2];   // ... M block mg[i]'s by a loop over k blocks (else unrolled)
    bool prefetch;       // prefetch all operand lines at entry (small kernels, gen_emit.c)
    bool ahead;          // or each tile prefetches the next column block's C (when read) and op(B)
    int prefetch_a;      // op(A)'s lines requested at entry: 0 not, 1 unrolled, 2 in a loop over K
    // Two registers free at entry, before any loop role is live: the k1 mask (plan.part) goes
    // through the first; prefetch_a's loop walks op(A) with the first and counts with the second.
    xw_gpr entry_tmp[2];
    gen_region pf_entry[3];  // plan.prefetch: A, B, then C when read
    int npf_entry;
    int32_t scratch;     // bytes of panel below the pushes, rsp aligned first
    xw_gpr g[G_ROLES];
    xw_gpr pushed[6];
    int npush;
    gen_tile tk[2][2];   // the tiles of M blocks mg[i] by column blocks ng[j]
    // Instructions: the k step's FMA (FNMA for real alpha -1); the epilogue's operation with C
    // in memory and without (real: by scale class; complex: cop for beta 1 and -1 only).
    xw_insn kfma, cop, rop;
    bool zmask;          // complex: the combine flips sign bits (both conjugated, or alpha -1)
    // plan.part: C moves in pieces of `piece` rows (the widest power of two within part) at
    // rows 0 and part - piece, through v0-v3 (acc0 is 4), with piece_mov at piece_vl.
    int piece;
    xw_insn piece_mov;
    xw_vl piece_vl;
} gen_plan;

// First row (part) of M vector v; the overlapping last vector ends at the last row.
static inline int64_t gen_row(const gen_plan *p, int v)
{
    return p->overlap && v == p->mv - 1 ? (int64_t)p->rows - p->vw : (int64_t)v * p->vw;
}

// The accumulator of vector v and broadcast j: a real tile's are v*nb + j; a complex tile
// keeps the (P, Q) chains (j even: op(A) times br) of all its elements below the (R, S) ones
// (j odd: times bi), so that the latter, free once combined, are one block (gen_zepi.c).
static inline int gen_acc(const gen_tile *t, int v, int j)
{
    return t->nbc == t->nb ? t->acc0 + v * t->nb + j : t->acc0 + (j & 1) * t->mb * t->nb + v * t->nb + (j >> 1);
}

#define GEN_PEEL_RATE 4  // queued requests a k step carries when the steps after it are a loop

// K steps of a looped tile written out before its loop, to carry its npf queued requests.
static inline int gen_peel_steps(const gen_plan *p, int npf)
{
    const int n = (npf + GEN_PEEL_RATE - 1) / GEN_PEEL_RATE;
    return n < (int)p->d.k ? n : (int)p->d.k;
}

// Whether a tile runs its k steps after the first `peel` as a loop: when the plan asks for one
// and the loop's body and tail leave fewer steps to write than k.
static inline bool gen_k_looped(const gen_plan *p, int peel)
{
    const int k = (int)p->d.k, u = p->kunroll;
    return u < k && peel + u + (k - peel) % u < k;
}

// Prefetches that request the lines of `bytes` bytes from any address: one every 64 bytes and
// one at the last byte, unless a step landed on it (gen_emit.c's prefetch_bytes).
static inline int64_t gen_span_lines(int64_t bytes)
{
    const int64_t n = bytes > 0 ? (bytes + 63) / 64 : 0;
    return n + (bytes - 1 > 64 * (n - 1));
}

// gen_plan.c (called by gen_gemm.c): the vector registers a tile of mb vectors by nb columns
// needs (the blocking's check); once the blocking is chosen, the tiles' registers, the
// instructions and the prefetches; at each unrolling level, the loops' general registers.
XW_HIDDEN int gen_tile_regs(const gen_plan *p, int mb, int nb);
XW_HIDDEN void gen_plan_finish(gen_plan *p);
XW_HIDDEN void gen_plan_gprs(gen_plan *p);

// gen_emit.c (called by gen_gemm.c)
XW_HIDDEN void gen_emit(const gen_plan *p, xw_code *c, size_t *entry);

// gen_dot.c (called by gen_gemm.c's xw_gen_gemm for XW_TRANS_DOT descriptors): whether it
// generates d (real, n 1, k at most 256 doubles' bytes, offsets within 32 bits), and the kernel.
XW_HIDDEN bool gen_dot_fits(const xw_desc *d);
XW_HIDDEN xw_status gen_dot(const xw_desc *d, xw_target t, xw_code *c, size_t *entry);

#endif
