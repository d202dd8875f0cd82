// gen_plan.c: the rest of the plan once gen_gemm.c has chosen the blocking: the registers of
// each kind of tile, the instructions that depend on the scale class, how op(A) panels are
// packed, the prefetches, and the general registers of the loops. The emitter (gen_emit.c,
// gen_zepi.c) reads all of it and decides none of it.
//
// Vector registers, per C tile of mb vectors (along M) x nb columns, R = 16 (VEX) or 32 (EVEX):
//   acc0 .. +mb*nbc-1  accumulators, one chain per part (acc0 is 0, or 4 with a partial vector:
//                      v0-v3 carry its C pieces, gen_emit.c's part_epilogue); complex: the
//                      (P, Q) set of the tile, then its (R, S) set (gen_acc, gen.h)
//   next mb            op(A) column pieces for the current k               ("areg")
//   next 1 or 2        op(B)(k, j) broadcast                               ("breg"); AVX-512
//                      with mb == 1 broadcasts from memory inside the FMA instead
//   (nbc < mb: "bfirst", the roles swap: 1 or 2 rotating areg, then nbc breg held for the step)
//   epilogue           from acc0 + mb*nb, free once the k loop is done: alpha, beta (each when
//                      read at call time), a temporary; complex: alpha's and beta's parts (VEX
//                      only), two temporaries, and ONES, MASK at R-1, R-2 (gen_zepi.c)
// General registers: rdi A, rsi B, rdx C, rcx &alpha, r8 &beta (read only when ANY); the loop
// roles of gen.h come from rax r9 r10 r11, rcx/r8 when unused, then pushed rbx rbp r12..r15;
// at entry, before any role is live, rax and r11 serve the k1 mask and op(A)'s prefetch loop.
#include "gen.h"

#define GEN_PREFETCH_LINES 64   // operands of at most this many cache lines are prefetched at entry
#define GEN_PREFETCH_WORK 4     // ... when the kernel has this many FMAs per line to hide them behind
#define GEN_PREFETCH_A_WORK 40  // FMAs per line of op(A) up to which it is all requested at entry

static bool any_alpha(const gen_plan *p) { return p->d.alpha == XW_SCALE_ANY; }
static bool any_beta(const gen_plan *p) { return p->d.beta == XW_SCALE_ANY; }

// Fewest registers the k step's operands need: op(A) pieces and one broadcast, or (fewer
// broadcasts than pieces) the broadcasts and one op(A) piece.
static int op_regs(const gen_plan *p, int mb, int nb)
{
    const int nbc = p->u * nb;
    return (mb < nbc ? mb : nbc) + 1;
}

// Registers the real epilogue needs above the accumulators: alpha and beta when read at call
// time, and a temporary for beta*C or for C narrower than a memory operand.
static int epi_regs(const gen_plan *p)
{
    const bool tmp = p->d.beta != XW_SCALE_ZERO && (!p->memop || (any_alpha(p) && any_beta(p)));
    return any_alpha(p) + any_beta(p) + tmp;
}

// The complex epilogue's registers above its 2*mb*nb accumulators: ONES and MASK in pass 1,
// and what pass 2 needs beyond the mb*nb (R, S) registers it reuses.
static int zepi_regs(const gen_plan *p, int mb, int nb)
{
    const int bc = p->isa.ebcst ? 0 : 2 * any_alpha(p) + 2 * any_beta(p);
    const bool narrow_c = p->d.beta != XW_SCALE_ZERO && !p->memop;  // C loaded into T1 first
    const int tmp = any_beta(p) ? 2 : any_alpha(p) || narrow_c ? 1 : 0;
    const int after = bc + tmp - mb * nb;
    return after > 2 ? after : 2;
}

// The blocking's check (choose_blocking): what a tile takes at least, at its widest phase.
int gen_tile_regs(const gen_plan *p, int mb, int nb)
{
    const int op = op_regs(p, mb, nb), epi = p->u == 2 ? zepi_regs(p, mb, nb) : epi_regs(p);
    return p->acc0 + mb * p->u * nb + (op > epi ? op : epi);
}

// The registers of a tile of mb x nb, within the count gen_tile_regs gave the blocking; a
// second rotating register for op(A) or op(B) where the file has room.
static gen_tile plan_tile(const gen_plan *p, int mb, int nb)
{
    const gen_isa *I = &p->isa;
    gen_tile t = { .mb = mb, .nb = nb, .acc0 = p->acc0, .nbc = p->u * nb };
    t.partial = p->part != 0;  // M below one zmm: every tile is of the one vector
    t.ebcst = I->ebcst && mb == 1;
    t.bfirst = !t.ebcst && t.nbc < mb;
    t.areg = t.acc0 + mb * t.nbc;
    if (t.bfirst) {
        t.nareg = t.areg + 2 + t.nbc <= I->nvregs ? 2 : 1;
        t.breg = t.areg + t.nareg;
        t.nbreg = t.nbc;
    } else {
        t.nareg = mb;
        t.breg = t.areg + mb;
        t.nbreg = t.breg + 2 <= I->nvregs ? 2 : 1;
    }
    t.bj = (int64_t)(p->d.tb ? (uint32_t)p->u : p->ldb) * I->es;
    int r = t.acc0 + mb * nb;  // real: above the accumulators; complex: the (R, S) set
    if (p->u == 1) {
        t.ra = any_alpha(p) ? r++ : -1;
        t.rb = any_beta(p) ? r++ : -1;
        t.tmp = r;
        t.z = (gen_zregs){ -1, -1, -1, -1, -1, -1, -1, -1 };
        return t;
    }
    t.ra = t.rb = t.tmp = -1;
    gen_zregs z = { -1, -1, -1, -1, 0, 0, I->nvregs - 1, I->nvregs - 2 };
    if (!I->ebcst && any_alpha(p))
        z.ar = r++, z.ai = r++;
    if (!I->ebcst && any_beta(p))
        z.br = r++, z.bi = r++;
    z.t1 = r++;
    z.t2 = r;
    t.z = z;
    return t;
}

// The instructions that depend on the scale class (the epilogue's operations: gen_emit.c's
// tile_epilogue, gen_zepi.c), and the pieces of C of a partial vector.
static void plan_insns(gen_plan *p)
{
    const gen_isa *I = &p->isa;
    const bool any_a = any_alpha(p);
    // (Complex chains are never negated: -t is the epilogue's.)
    p->kfma = p->d.alpha == XW_SCALE_MINUS_ONE && p->u == 1 ? I->fnma : I->fma;
    if (p->u == 2) {
        p->zmask = (p->conj_a && p->conj_b) || p->d.alpha == XW_SCALE_MINUS_ONE;
        if (p->d.beta == XW_SCALE_ONE || p->d.beta == XW_SCALE_MINUS_ONE)
            p->cop = p->d.beta == XW_SCALE_ONE ? I->add : I->sub;
    } else {
        switch (p->d.beta) {
        case XW_SCALE_ZERO: p->rop = I->mul; break;
        case XW_SCALE_ONE: p->cop = any_a ? I->fma213 : I->add; break;
        case XW_SCALE_MINUS_ONE: p->cop = any_a ? I->fms213 : I->sub; break;
        default:
            p->cop = any_a ? I->mul : I->fma;
            p->rop = I->fma213;
        }
    }
    if (p->part) {
        int w = 1;
        while (2 * w <= p->part)
            w *= 2;
        const int bytes = w * I->es;
        p->piece = w;
        p->piece_mov = bytes >= 16 ? I->movu : bytes == 8 ? XW_VMOVSD : XW_VMOVSS;
        p->piece_vl = bytes == 32 ? XW_YMM : XW_XMM;
    }
}

// Lines prefetching a region takes: one span when its columns are contiguous, else one a column
// (as gen_emit.c's prefetch_matrix requests them).
static int64_t region_lines(const gen_plan *p, const gen_region *r)
{
    const int64_t es = p->isa.es;
    if (r->ld == r->rows)
        return gen_span_lines(r->rows * r->cols * es);
    return r->cols * gen_span_lines(r->rows * es);
}

// Prefetches help streamed operands but cost cached kernels more than they hide unless there
// is enough arithmetic behind them: one rule for both kinds, all lines of A, B and C at entry
// (small kernels), or each column block ahead of its use (docs/BENCHMARKS.md, "The generator's
// choices, measured").
static void plan_prefetch(gen_plan *p)
{
    const xw_desc *d = &p->d;
    const int64_t u = p->u;
    gen_region *r = p->pf_entry;
    *r++ = (gen_region){ XW_RDI, d->ta ? u * d->k : p->rows, d->ta ? d->m : d->k, p->lda };
    *r++ = (gen_region){ XW_RSI, u * (d->tb ? d->n : d->k), d->tb ? d->k : d->n, p->ldb };
    if (d->beta != XW_SCALE_ZERO)
        *r++ = (gen_region){ XW_RDX, p->rows, d->n, p->ldc };
    p->npf_entry = (int)(r - p->pf_entry);
    int64_t lines = 0;
    for (int i = 0; i < p->npf_entry; i++)
        lines += region_lines(p, &p->pf_entry[i]);
    const int64_t fmas = (int64_t)p->mv * p->u * d->n * d->k;
    const bool worth = fmas >= GEN_PREFETCH_WORK * lines;
    p->prefetch = worth && !p->pack && lines <= GEN_PREFETCH_LINES;
    p->ahead = worth && !p->prefetch;
    // op(A) with little arithmetic per line is read from memory faster when all of it is
    // requested at entry than line by line as tiles reach it; from 48^3 (48 FMAs a line) on it
    // no longer pays. Up to 128 lines unrolled (a loop cost more cached), beyond them a loop
    // over K (docs/BENCHMARKS.md, "The generator's choices, measured").
    const int64_t a_lines = (int64_t)d->k * (((int64_t)p->rows * p->isa.es + 63) / 64);
    if (p->ahead && !p->pack && fmas <= GEN_PREFETCH_A_WORK * a_lines)
        p->prefetch_a = a_lines <= 2 * GEN_PREFETCH_LINES ? 1 : 2;
    p->entry_tmp[0] = XW_RAX;  // caller-saved, and no argument
    p->entry_tmp[1] = XW_R11;
}

// ta T or C: M block mg[i]'s panel is packed by a loop over blocks of bw k steps (bw = 32 bytes
// of op(A) elements) when unrolled it would take more than 256 instructions: gen_emit.c's
// transpose_block takes 6, 16 or 40 per block of 16, 8 or 4-byte elements, an element copied
// alone 2.
static void plan_pack(gen_plan *p)
{
    if (!p->pack)
        return;
    const int ue = p->u * p->isa.es;
    const int k = (int)p->d.k, bw = 32 / ue, kb = k / bw;
    const int nr = (p->part ? p->part : p->vw) / p->u;  // rows of op(A) a vector packs
    const int per_vec = nr >= bw ? (nr + bw - 1) / bw * (ue == 16 ? 6 : ue == 8 ? 16 : 40) : nr * bw * 2;
    for (int i = 0; i < p->nmg; i++)
        p->pack_loop[i] = kb > 1 && (int64_t)kb * p->mg[i].size * per_vec > 256;
}

void gen_plan_finish(gen_plan *p)
{
    for (int i = 0; i < p->nmg; i++)
        for (int j = 0; j < p->nng; j++)
            p->tk[i][j] = plan_tile(p, p->mg[i].size, p->ng[j].size);
    plan_insns(p);
    plan_pack(p);
    plan_prefetch(p);
}

// Gives each needed loop role a register: free caller-saved ones first, then pushed ones.
void gen_plan_gprs(gen_plan *p)
{
    xw_gpr pool[12];
    int n = 0;
    pool[n++] = XW_RAX;
    pool[n++] = XW_R9;
    pool[n++] = XW_R10;
    pool[n++] = XW_R11;
    if (p->d.alpha != XW_SCALE_ANY) pool[n++] = XW_RCX;
    if (p->d.beta != XW_SCALE_ANY) pool[n++] = XW_R8;
    const int caller_saved = n;
    const xw_gpr callee[] = { XW_RBX, XW_RBP, XW_R12, XW_R13, XW_R14, XW_R15 };
    for (int i = 0; i < 6; i++)
        pool[n++] = callee[i];

    const bool need_k = p->kunroll < (int)p->d.k || p->pack;
    bool need_n = false;
    for (int j = 0; j < p->nng; j++)
        need_n |= p->nloop && p->ng[j].count > 1;
    int used = 0;
    for (int r = 0; r < G_ROLES; r++) {
        const bool need = r < G_PBN ? need_k : r < G_FRAME ? need_n : p->pack;
        p->g[r] = need ? pool[used++] : XW_NOREG;
    }
    p->npush = used > caller_saved ? used - caller_saved : 0;
    for (int i = 0; i < p->npush; i++)
        p->pushed[i] = pool[caller_saved + i];
    p->scratch = 0;
    if (p->pack) {
        const int most = p->mg[0].size > p->mg[1].size ? p->mg[0].size : p->mg[1].size;
        int64_t bytes = (int64_t)most * p->vw * p->d.k * p->isa.es;
        // rsp is aligned down to 32 or 64 first (gen_emit.c): the panel's vectors split no line.
        p->scratch = (int32_t)((bytes + 31) / 32 * 32);
    }
}
