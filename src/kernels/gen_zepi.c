// gen_zepi.c: the epilogue of a complex C tile (zgemm, cgemm): from the tile's chains to C by
// the complex part of the arithmetic contract (docs/ARCHITECTURE.md, ref_gemm.c's
// XW_REF_ZGEMM). Called by gen_emit.c, whose k loops leave the chains; emits through the encoder.
//
// Registers after the k loop (the plan's: gen_plan.c), for a tile of mb vectors (vw/2 elements
// each) x nb columns, R = 16 (VEX) or 32 (EVEX) registers:
//   X(v, j) = acc0 + v*nb + j            (P, Q) lane pairs: op(A) times the broadcast br
//   Y(v, j) = acc0 + (mb + v)*nb + j     (R, S) lane pairs: op(A) times the broadcast bi
//   R-1 ONES, R-2 MASK                   1.0 in every lane; the sign bits pass 1 flips
// Pass 1, the whole tile: Y's pairs are swapped to (S, R) (VPERMILPD/PS), then X becomes t,
// each part one rounding, in an add-subtract fused with a multiply by one (exact):
//   neither or both conjugated   FMADDSUB132  X = X*ONES -+ Y = (P - S, Q + R)
//   B conjugated                 FMSUBADD132  X = X*ONES +- Y = (P + S, Q - R)
//   A conjugated                 FMSUBADD231  X = Y*ONES +- X = (S + P, R - Q)
// then, when it flips any, one XOR with MASK: the imaginary parts when both are conjugated
// (-(Q + R)) and all of t for alpha -1, as the contract's unary minus (exact; a subtraction
// from zero would differ for zeros). The Y registers are free from here on: F = acc0 + mb*nb.
// Pass 2, column by column, each vector: alpha any: T1 = swap(X)*ai, X = X*ar -+ T1 (one
// FMADDSUB132: (fma(tr, ar, -(ti*ai)), fma(ti, ar, tr*ai))); then beta 1: X + C, beta -1:
// X - C, beta any: T2 = C, T1 = swap(T2)*bi, T2 = T2*br -+ T1 (beta*c formed as alpha*t),
// X + T2. A column's vectors are all computed before any is stored (an overlapping vector
// reads C before its neighbour's store). AVX-512 takes alpha's and beta's parts as embedded
// broadcasts {1toN} from [rcx], [rcx + es], [r8], [r8 + es]; VEX code first broadcasts them
// into F.. (ar, ai, br, bi as the class needs), then T1, T2. M below one zmm (plan.part): C
// moves in two overlapping unmasked pieces through v0-v3 as in gen_emit.c's part_epilogue.
#include <string.h>

#include "gen_emit.h"

static bool any_alpha(const gen_plan *p) { return p->d.alpha == XW_SCALE_ANY; }
static bool any_beta(const gen_plan *p) { return p->d.beta == XW_SCALE_ANY; }

// Lane pattern that swaps each (re, im) pair within 128-bit lanes.
static uint8_t swap_imm(const gen_isa *I) { return I->es == 8 ? 0x55 : 0xB1; }

// The constant vectors, before the kernel's entry (its first cache line: kernels start on
// one).
void gen_zprep(G *g)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    const int vbytes = 16 << p->vl, lanes = vbytes / I->es;
    const bool both = p->conj_a && p->conj_b, neg = p->d.alpha == XW_SCALE_MINUS_ONE;
    uint8_t ones[64], mask[64];
    for (int i = 0; i < lanes; i++) {
        const bool flip = i & 1 ? both != neg : neg;  // -(-(Q + R)) is Q + R, bit for bit
        if (I->es == 8) {
            const double one = 1.0;
            const uint64_t m = flip ? (uint64_t)1 << 63 : 0;
            memcpy(ones + 8 * i, &one, 8);
            memcpy(mask + 8 * i, &m, 8);
        } else {
            const float one = 1.0f;
            const uint32_t m = flip ? (uint32_t)1 << 31 : 0;
            memcpy(ones + 4 * i, &one, 4);
            memcpy(mask + 4 * i, &m, 4);
        }
    }
    g->ones_at = xw_x86_data(g->c, ones, (size_t)vbytes, 64);
    if (p->zmask)  // both || neg
        g->mask_at = xw_x86_data(g->c, mask, (size_t)vbytes, 64);
}

// Pass 1: t into X(v, j) for the whole tile.
static void combine(G *g, const gen_tile *t)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    xw_code *c = g->c;
    const int ones = t->z.ones, mask = t->z.mask;
    xw_x86_vload(c, I->movu, p->vl, xw_v(ones), xw_mem_rip((int32_t)g->ones_at), xw_plain);
    if (p->zmask)
        xw_x86_vload(c, I->movu, p->vl, xw_v(mask), xw_mem_rip((int32_t)g->mask_at), xw_plain);
    for (int v = 0; v < t->mb; v++)
        for (int j = 0; j < t->nb; j++) {
            const int x = gen_acc(t, v, 2 * j), y = gen_acc(t, v, 2 * j + 1);
            xw_x86_vop_rri(c, I->permil, p->vl, xw_v(y), xw_v(y), swap_imm(I));
            if (p->conj_a && !p->conj_b)
                xw_x86_vop_rrr(c, I->fmsubadd231, p->vl, xw_v(x), xw_v(y), xw_v(ones));
            else
                xw_x86_vop_rrr(c, p->conj_b && !p->conj_a ? I->fmsubadd : I->fmaddsub, p->vl, xw_v(x), xw_v(y),
                               xw_v(ones));
            if (p->zmask)
                xw_x86_vop_rrr(c, XW_VPXORQ, p->vl, xw_v(x), xw_v(x), xw_v(mask));
        }
}

// x = x*s -+ swap(x)*s' for a scalar s (alpha, or beta on C): its real part from register sr
// and imaginary part from si, or (sr < 0) both as embedded broadcasts from [base], [base+es].
static void zscale(G *g, int x, int t1, int sr, int si, xw_gpr base)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    xw_x86_vop_rri(g->c, I->permil, p->vl, xw_v(t1), xw_v(x), swap_imm(I));
    if (sr < 0) {
        const xw_evex eb = { XW_K0, false, true };
        xw_x86_vop_rrm(g->c, I->mul, p->vl, xw_v(t1), xw_v(t1), xw_mem_at(base, I->es), eb);
        xw_x86_vop_rrm(g->c, I->fmaddsub, p->vl, xw_v(x), xw_v(t1), xw_mem_at(base, 0), eb);
    } else {
        xw_x86_vop_rrr(g->c, I->mul, p->vl, xw_v(t1), xw_v(t1), xw_v(si));
        xw_x86_vop_rrr(g->c, I->fmaddsub, p->vl, xw_v(x), xw_v(t1), xw_v(sr));
    }
}

// r = u combined with c (both registers) by beta's class; c is clobbered.
static void with_c(G *g, int r, int c, const gen_zregs *z)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    if (any_beta(p)) {
        zscale(g, c, z->t1, z->br, z->bi, XW_R8);
        xw_x86_vop_rrr(g->c, I->add, p->vl, xw_v(r), xw_v(r), xw_v(c));
    } else if (p->d.beta != XW_SCALE_ZERO) {
        xw_x86_vop_rrr(g->c, p->cop, p->vl, xw_v(r), xw_v(r), xw_v(c));
    }
}

// Column j of a partial tile (one vector, plan.part parts): pieces of plan.piece parts at 0
// and at part - piece (one when piece == part), through v0-v3 as gen_emit.c's part_epilogue
// moves them.
static void part_column(G *g, ref cm, int x, const gen_zregs *z)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    const int shift = p->part - p->piece, pieces = shift ? 2 : 1;  // shift is even: whole elements
    for (int q = 0; q < pieces; q++) {  // piece q: result in v(2q), C in v(2q+1)
        const ref m = off(cm, q * shift * I->es);
        if (p->d.beta != XW_SCALE_ZERO)
            xw_x86_vp_load(g->c, &g->ldp, xw_v(2 * q + 1), m.base, disp32(g, m.disp));
        if (q)
            xw_x86_vop_rrri(g->c, I->es == 8 ? XW_VALIGNQ : XW_VALIGND, XW_ZMM, xw_v(2 * q), xw_v(x), xw_v(x),
                            (uint8_t)shift);
        else
            xw_x86_vop_rr(g->c, I->movu, XW_ZMM, xw_v(0), xw_v(x));
    }
    for (int q = 0; q < pieces; q++)
        with_c(g, 2 * q, 2 * q + 1, z);
    for (int q = 0; q < pieces; q++) {
        const ref m = off(cm, q * shift * I->es);
        xw_x86_vp_store(g->c, &g->stp, m.base, disp32(g, m.disp), xw_v(2 * q));
    }
}

void gen_zepilogue(G *g, const gen_tile *t, const tplace *pl, ref cm)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    const int64_t cj = (int64_t)p->ldc * I->es;
    combine(g, t);
    const gen_zregs z = t->z;  // from F, the Y registers, free now
    if (!I->ebcst && any_alpha(p)) {
        xw_x86_vload(g->c, I->bcst, I->vl, xw_v(z.ar), xw_mem_at(XW_RCX, 0), xw_plain);
        xw_x86_vload(g->c, I->bcst, I->vl, xw_v(z.ai), xw_mem_at(XW_RCX, I->es), xw_plain);
    }
    if (!I->ebcst && any_beta(p)) {
        xw_x86_vload(g->c, I->bcst, I->vl, xw_v(z.br), xw_mem_at(XW_R8, 0), xw_plain);
        xw_x86_vload(g->c, I->bcst, I->vl, xw_v(z.bi), xw_mem_at(XW_R8, I->es), xw_plain);
    }
    for (int j = 0; j < t->nb; j++) {
        for (int v = 0; v < t->mb; v++) {
            const int x = gen_acc(t, v, 2 * j);
            if (any_alpha(p))
                zscale(g, x, z.t1, z.ar, z.ai, XW_RCX);
            if (t->partial)
                continue;
            const ref m = off(cm, j * cj + pl->crow[v]);
            if (any_beta(p)) {
                gen_load_vec(g, z.t2, m);
                with_c(g, x, z.t2, &z);
            } else if (p->d.beta != XW_SCALE_ZERO) {
                gen_op_mem(g, &g->epi_c, x, x, m, z.t1);
            }
        }
        if (t->partial) {
            part_column(g, off(cm, j * cj), gen_acc(t, 0, 2 * j), &z);
            continue;
        }
        for (int v = 0; v < t->mb; v++)
            gen_store_vec(g, off(cm, j * cj + pl->crow[v]), gen_acc(t, v, 2 * j));
    }
}
