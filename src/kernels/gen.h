// gen.h: private to the GEMM generator (gen_gemm.c plans, gen_emit.c emits). One generator body
// serves AVX2 and AVX-512 through gen_isa; the plan holds every shape decision.
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
    bool prefetch;       // prefetch all operand lines at entry (small kernels, gen_emit.c)
    bool ahead;          // or each tile prefetches the next column block's C (when read) and op(B)
    int prefetch_a;      // op(A)'s lines requested at entry: 0 not, 1 unrolled, 2 in a loop over K
    int32_t scratch;     // bytes of panel below the pushes, rsp aligned first
    xw_gpr g[G_ROLES];
    xw_gpr pushed[6];
    int npush;
} gen_plan;

// gen_emit.c (nb: columns of C; a complex tile has u*nb accumulators per vector)
XW_HIDDEN int gen_prefetch_lines(const gen_plan *p);
XW_HIDDEN int gen_opregs(const gen_plan *p, int mb, int nb);
XW_HIDDEN int gen_epiregs(const gen_plan *p, int mb, int nb);
XW_HIDDEN void gen_emit(const gen_plan *p, xw_code *c, size_t *entry);

// gen_zepi.c: registers the complex epilogue needs above its tile's accumulators.
XW_HIDDEN int gen_zepiregs(const gen_plan *p, int mb, int nb);

#endif
