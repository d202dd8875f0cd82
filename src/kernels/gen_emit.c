// gen_emit.c: emits a planned GEMM kernel (gen.h) through the x86 encoder. One body for AVX2
// and AVX-512, real and complex; gen_isa and the plan's vector width say which instructions.
//
// Arithmetic contract (docs/ARCHITECTURE.md): each element of C is one FMA chain over k in
// order, from zero, then the epilogue of its scale class; nothing here may depend on the tile.
// Complex (plan.u == 2): the same k steps on parts, each column of op(B) broadcast twice (br
// and bi: nbc = 2*nb broadcasts), so that every part of op(A) carries the chains P, Q (times
// br) and R, S (times bi); gen_zepi.c combines them.
//
// Registers, vector and general, and the instructions that depend on the scale class are the
// plan's (gen_plan.c: one gen_tile per kind of tile); this file only writes what it says.
// M remainders: the last vector overlaps its neighbour (gen.h), and a tile computes a whole
// column of C before storing it, so both write the same values; or, M below one zmm, the one
// vector loads op(A) k1-masked and moves C in unmasked pieces (part_epilogue). No access to C
// covers a byte outside its column's M rows.
// ta T or C: each M block's panel of op(A) is first copied to [rsp] (column-major, ld mb*vw,
// vector v of the block at rows v*vw; rsp first aligned down to 32 or 64 bytes, the entry rsp
// kept in G_FRAME) and the same NN body runs from there.
#include "gen_emit.h"

static int cdiv_i(int a, int b) { return (a + b - 1) / b; }

static void alu(G *g, xw_alu op, xw_gpr r, int64_t imm)
{
    if (imm < INT32_MIN || imm > INT32_MAX) {
        if (!g->c->err) g->c->err = XW_ERR_RANGE;
        return;
    }
    xw_x86_alu_ri(g->c, op, r, (int32_t)imm);
}

// ---- Vector loads and stores of A and C: vw elements each, never masked.
void gen_load_vec(G *g, int r, ref m) { xw_x86_vp_load(g->c, &g->ld, xw_v(r), m.base, disp32(g, m.disp)); }

void gen_store_vec(G *g, ref m, int r) { xw_x86_vp_store(g->c, &g->st, m.base, disp32(g, m.disp), xw_v(r)); }

// The form gen_op_mem takes for this kernel: rrm when vectors make a memory operand, else rrr.
static memop prep_memop(const gen_plan *p, xw_insn op)
{
    memop o = { 0 };
    if (p->memop)
        o.m = xw_x86_vprep(XW_VP_RRM, op, p->vl, xw_plain);
    else
        o.r = xw_x86_vprep(XW_VP_RRR, op, p->vl, xw_plain);
    return o;
}

// dst = op(s1, C) with C in memory; vectors narrower than 16 bytes load C into tmp first (a
// memory operand would read 16 bytes, past the column's rows).
void gen_op_mem(G *g, const memop *o, int dst, int s1, ref m, int tmp)
{
    if (!g->p->memop) {
        gen_load_vec(g, tmp, m);
        xw_x86_vp_rrr(g->c, &o->r, xw_v(dst), xw_v(s1), xw_v(tmp));
        return;
    }
    xw_x86_vp_rrm(g->c, &o->m, xw_v(dst), xw_v(s1), m.base, disp32(g, m.disp));
}

static void vzero(G *g, int r) { xw_x86_vp_rrr(g->c, &g->zero, xw_v(r), xw_v(r), xw_v(r)); }

// Rows of vector v of a tile from vector v0 relative to the tile's first row, in bytes.
static int64_t tile_row(G *g, int v0, int v)
{
    return (gen_row(g->p, v0 + v) - gen_row(g->p, v0)) * g->I->es;
}

// Bytes from the tile's op(A) base to vector v: a packed panel holds each vector at vw rows.
static int64_t a_row(G *g, int v0, int v)
{
    return g->p->pack ? (int64_t)v * g->p->vw * g->I->es : tile_row(g, v0, v);
}

// ---- Streamed C: the epilogue of a short tile waits on its C lines. While a tile computes,
// the lines of C the tile at the same rows of the next column block will read are requested,
// a share after each k step so that they stay off the critical path of a cached kernel.
// Kernels that prefetch everything at entry (plan.prefetch) need none of it.
typedef enum { PF_NOW, PF_QUEUE } pf_how;

static void prefetch_one(G *g, ref r, pf_how how)
{
    if (how == PF_QUEUE && g->npf < GEN_AHEAD_MAX)
        g->pf[g->npf++] = r;
    else
        xw_x86_prefetch(g->c, XW_PREFETCHT0, at(g, r));
}

// Requests every cache line of bytes [s, e) from r, which need not be aligned: one every 64
// bytes and one at the last byte (gen_span_lines, which the plan counts). PF_QUEUE keeps them
// for the tile's k steps (beyond the queue's room: at once).
static void prefetch_bytes(G *g, ref r, int64_t s, int64_t e, pf_how how)
{
    const int64_t n = gen_span_lines(e - s);
    for (int64_t i = 0; i < n; i++)  // the steps, then the last byte's line when they end before it
        prefetch_one(g, off(r, s + 64 * i < e ? s + 64 * i : e - 1), how);
}

static void prefetch_queued(G *g, int most)
{
    for (; most > 0 && g->pfat < g->npf; most--)
        xw_x86_prefetch(g->c, XW_PREFETCHT0, at(g, g->pf[g->pfat++]));
}

// ---- One k step of a tile: load the op(A) column piece, then per column one broadcast of
// op(B)(k, j) and mb FMAs into accumulator set s. The k steps are most of every kernel, so when
// a run of them can be written straight at the end of the buffer (ksteps_direct) they are,
// unchecked, at a cursor held in a register; else through the checked calls, which also report
// any error. One body serves both (direct is a constant in each copy): both write the same bytes.
#define KSTEP_INLINE static inline __attribute__((always_inline))

typedef struct {
    xw_code *c;
    uint8_t *o;  // direct: the cursor
    const xw_vprep *ld, *ldm, *bc, *fma;  // op(A) load (plain, masked), op(B) broadcast, FMA
} kout;

KSTEP_INLINE void k_load(G *g, kout *k, bool direct, const xw_vprep *pr, int r, xw_gpr base, int64_t disp)
{
    if (direct)
        k->o = xw_x86_vex_mem_at(k->o, pr, xw_v(r), xw_v(0), base, (int32_t)disp);
    else
        xw_x86_vp_load(k->c, pr, xw_v(r), base, disp32(g, disp));
}

KSTEP_INLINE void k_rrr(kout *k, bool direct, const xw_vprep *pr, int d, int s1, int s2)
{
    if (direct)
        k->o = xw_x86_vex_rrr_at(k->o, pr, xw_v(d), xw_v(s1), xw_v(s2));
    else
        xw_x86_vp_rrr(k->c, pr, xw_v(d), xw_v(s1), xw_v(s2));
}

// The accumulator and the op(B) offset of broadcast j, the tile's kind (cx) a constant in each
// copy of kstep: a real tile's are the plain v*nb + j and j*bj, a complex one's gen_acc() and
// bcol.
KSTEP_INLINE int k_acc(const gen_tile *t, int v, int j, bool cx)
{
    return cx ? gen_acc(t, v, j) : t->acc0 + v * t->nb + j;
}
KSTEP_INLINE int64_t k_bcol(const gen_tile *t, const tplace *pl, int j, bool cx)
{
    return cx ? pl->bcol[j] : j * t->bj;
}

KSTEP_INLINE void kstep(G *g, const gen_tile *t, const tplace *pl, kout *k, ref a, ref b, bool direct, bool cx)
{
    if (t->bfirst) {  // nbc broadcasts stay; each op(A) piece is loaded and used at once
        for (int j = 0; j < t->nbc; j++)
            k_load(g, k, direct, k->bc, t->breg + j, b.base, b.disp + k_bcol(t, pl, j, cx));
        for (int v = 0; v < t->mb; v++) {
            const int ar = t->areg + (t->nareg > 1 ? v & 1 : 0);  // nareg is 1 or 2
            k_load(g, k, direct, t->partial && v == t->mb - 1 ? k->ldm : k->ld, ar, a.base, a.disp + pl->arow[v]);
            for (int j = 0; j < t->nbc; j++)
                k_rrr(k, direct, k->fma, k_acc(t, v, j, cx), ar, t->breg + j);
        }
        return;
    }
    for (int v = 0; v < t->mb; v++)
        k_load(g, k, direct, t->partial && v == t->mb - 1 ? k->ldm : k->ld, t->areg + v, a.base,
               a.disp + pl->arow[v]);
    for (int j = 0; j < t->nbc; j++) {
        if (t->ebcst) {  // never direct (EVEX)
            xw_x86_vp_rrm(g->c, &g->fma_eb, xw_v(k_acc(t, 0, j, cx)), xw_v(t->areg), b.base,
                          disp32(g, b.disp + k_bcol(t, pl, j, cx)));
            continue;
        }
        const int br = t->breg + (t->nbreg > 1 ? j & 1 : 0);  // nbreg is 1 or 2
        k_load(g, k, direct, k->bc, br, b.base, b.disp + k_bcol(t, pl, j, cx));
        for (int v = 0; v < t->mb; v++)
            k_rrr(k, direct, k->fma, k_acc(t, v, j, cx), t->areg + v, br);
    }
}

// Whether n k steps from a and b (ak, bk bytes apart, all positive) may be written directly:
// the tile's preparations are VEX and its registers below 16 (pl->direct), room for every
// instruction, no error, bases below 16 and every displacement in range.
static bool ksteps_direct(G *g, const gen_tile *t, const tplace *pl, ref a, int64_t ak, ref b, int64_t bk,
                          int n)
{
    const size_t per = (size_t)(t->mb + t->nbc + t->mb * t->nbc);
    const size_t most = (per * (size_t)n + (size_t)(g->npf - g->pfat)) * 16;  // and queued prefetches
    return pl->direct && xw_x86_vp_room(g->c, most) && a.base.n < 16
           && b.base.n < 16 && a.disp >= INT32_MIN && b.disp >= INT32_MIN
           && a.disp + (n - 1) * ak + pl->arow[t->mb - 1] <= INT32_MAX
           && b.disp + (n - 1) * bk + (t->nb - 1) * t->bj + (t->nbc - t->nb) * g->I->es <= INT32_MAX;
}

// k steps 0 .. n-1 of a tile, step i from a + i*ak and b + i*bk.
static void ksteps(G *g, const gen_tile *t, const tplace *pl, ref a, int64_t ak, ref b, int64_t bk, int n)
{
    if (n > 0 && ksteps_direct(g, t, pl, a, ak, b, bk, n)) {
        // Copies: the preparations stay in registers while bytes are stored at the cursor.
        const xw_vprep ld = g->ld, bc = g->bcst, fma = g->fma;
        kout k = { g->c, g->c->buf + g->c->len, &ld, NULL, &bc, &fma };  // (never partial)
        for (int i = 0; i < n; i++) {
            if (t->nbc != t->nb)
                kstep(g, t, pl, &k, off(a, i * ak), off(b, i * bk), true, true);
            else
                kstep(g, t, pl, &k, off(a, i * ak), off(b, i * bk), true, false);
            if (g->pfat < g->npf) {  // (checked calls: the cursor is handed back and forth)
                g->c->len = (size_t)(k.o - g->c->buf);
                prefetch_queued(g, g->pfper);
                k.o = g->c->buf + g->c->len;
            }
        }
        g->c->len = (size_t)(k.o - g->c->buf);
        return;
    }
    kout k = { g->c, NULL, &g->ld, &g->ldm, &g->bcst, &g->fma };
    for (int i = 0; i < n; i++) {
        if (t->nbc != t->nb)
            kstep(g, t, pl, &k, off(a, i * ak), off(b, i * bk), false, true);
        else
            kstep(g, t, pl, &k, off(a, i * ak), off(b, i * bk), false, false);
        prefetch_queued(g, g->pfper);
    }
}

// C tile from the chains s: the epilogue of the scale class (docs/ARCHITECTURE.md),
//   alpha +-1:  s | s + C | s - C | fma(beta, C, s)          for beta 0 | 1 | -1 | any
//   alpha any:  alpha*s | fma(alpha, s, C) | fma(alpha, s, -C) | fma(alpha, s, beta*C)
// A column's results are all in registers before any is stored: an overlapping vector reads C
// before its neighbour's store.
// AVX-512 with M below one zmm (plan.part rows, one vector, mb == 1): C is read and written in
// pieces of plan.piece rows at rows 0 and part - piece (one piece when piece == part), as
// unmasked VEX moves through v0-v3; the second piece's lanes are rotated down first (VALIGN).
// The arithmetic is the same on whole zmm registers; both pieces read C before either is
// stored (they overlap).
static void part_epilogue(G *g, const gen_tile *t, ref cm)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    const int64_t cj = (int64_t)p->ldc * I->es;
    const bool any_a = p->d.alpha == XW_SCALE_ANY, any_b = p->d.beta == XW_SCALE_ANY;
    const int ra = t->ra, rb = t->rb;
    const int shift = p->part - p->piece, pieces = shift ? 2 : 1;
    const xw_insn align = I->es == 8 ? XW_VALIGNQ : XW_VALIGND;
    for (int j = 0; j < t->nb; j++) {
        const int a = gen_acc(t, 0, j);
        for (int q = 0; q < pieces; q++) {  // piece q: result in v(2q), C in v(2q+1)
            const ref m = off(cm, j * cj + q * shift * I->es);
            if (p->d.beta != XW_SCALE_ZERO)
                xw_x86_vp_load(g->c, &g->ldp, xw_v(2 * q + 1), m.base, disp32(g, m.disp));
            if (q)
                xw_x86_vop_rrri(g->c, align, XW_ZMM, xw_v(2 * q), xw_v(a), xw_v(a), (uint8_t)shift);
            else
                xw_x86_vop_rr(g->c, I->movu, XW_ZMM, xw_v(0), xw_v(a));
        }
        for (int q = 0; q < pieces; q++) {
            const int r = 2 * q, cr = 2 * q + 1;
            if (p->d.beta == XW_SCALE_ZERO) {
                if (any_a)
                    xw_x86_vop_rrr(g->c, I->mul, XW_ZMM, xw_v(r), xw_v(r), xw_v(ra));  // alpha*s
            } else if (any_a && any_b) {
                xw_x86_vop_rrr(g->c, I->mul, XW_ZMM, xw_v(cr), xw_v(rb), xw_v(cr));   // beta*C
                xw_x86_vop_rrr(g->c, p->rop, XW_ZMM, xw_v(r), xw_v(ra), xw_v(cr));    // alpha*s + beta*C
            } else {
                xw_x86_vop_rrr(g->c, p->cop, XW_ZMM, xw_v(r), xw_v(any_a ? ra : any_b ? rb : r), xw_v(cr));
            }
        }
        for (int q = 0; q < pieces; q++) {
            const ref m = off(cm, j * cj + q * shift * I->es);
            xw_x86_vp_store(g->c, &g->stp, m.base, disp32(g, m.disp), xw_v(2 * q));
        }
    }
}

static void tile_epilogue(G *g, const gen_tile *t, const tplace *pl, ref cm)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    const int64_t cj = (int64_t)p->ldc * I->es;
    const bool any_a = p->d.alpha == XW_SCALE_ANY, any_b = p->d.beta == XW_SCALE_ANY;
    const int ra = t->ra, rb = t->rb, tmp = t->tmp;
    if (any_a)
        xw_x86_vload(g->c, I->bcst, I->vl, xw_v(ra), xw_mem_at(XW_RCX, 0), xw_plain);
    if (any_b)
        xw_x86_vload(g->c, I->bcst, I->vl, xw_v(rb), xw_mem_at(XW_R8, 0), xw_plain);
    if (t->partial) {
        part_epilogue(g, t, cm);
        return;
    }
    for (int j = 0; j < t->nb; j++) {
        for (int v = 0; v < t->mb; v++) {
            const int a = gen_acc(t, v, j);
            const ref m = off(cm, j * cj + pl->crow[v]);
            if (p->d.beta == XW_SCALE_ZERO) {
                if (any_a)
                    xw_x86_vp_rrr(g->c, &g->epi_r, xw_v(a), xw_v(a), xw_v(ra));  // alpha*s
            } else if (any_a && any_b) {
                gen_op_mem(g, &g->epi_c, tmp, rb, m, tmp);  // beta*C
                xw_x86_vp_rrr(g->c, &g->epi_r, xw_v(a), xw_v(ra), xw_v(tmp));  // alpha*s + beta*C
            } else {
                gen_op_mem(g, &g->epi_c, a, any_a ? ra : any_b ? rb : a, m, tmp);
            }
        }
        for (int v = 0; v < t->mb; v++)
            gen_store_vec(g, off(cm, j * cj + pl->crow[v]), gen_acc(t, v, j));
    }
}

// Every line of B's columns [j0, j0 + cols) (all k rows) from b, its first column, when op(B)
// is B: a transposed B is read a row at a time, lines the hardware prefetchers follow.
static void prefetch_opb(G *g, ref b, int64_t j0, int64_t cols, pf_how how)
{
    const gen_plan *p = g->p;
    const int64_t es = g->I->es, k = (int64_t)p->u * p->d.k, ld = (int64_t)p->ldb * es;  // parts
    for (int64_t j = j0; !p->d.tb && j < j0 + cols; j++)
        prefetch_bytes(g, b, j * ld, j * ld + k * es, how);
}

// Queues what the next column block (next_nb columns) will read that tile t can see coming: the
// lines of its C rows there (when C is read), and, the block's first tile, its op(B). A wide
// tile reads nb columns of op(B) at once, more streams than the hardware prefetchers follow
// from memory (docs/BENCHMARKS.md, "The generator's choices, measured").
static void queue_next(G *g, const gen_tile *t, int v0, ref b, ref cm, bool first)
{
    const gen_plan *p = g->p;
    const int64_t es = g->I->es, cj = (int64_t)p->ldc * es;
    const int64_t r0 = gen_row(p, v0);
    const int64_t r1 = v0 + t->mb == p->mv ? (int64_t)p->rows : gen_row(p, v0 + t->mb);
    if (p->d.beta != XW_SCALE_ZERO)
        for (int64_t j = t->nb; j < t->nb + g->next_nb; j++)
            prefetch_bytes(g, cm, j * cj, j * cj + (r1 - r0) * es, PF_QUEUE);
    if (first)
        prefetch_opb(g, b, t->nb, g->next_nb, PF_QUEUE);
}

// One C tile of kind t: rows from vector v0 (t->mb vectors), t->nb columns; b and cm address
// its first column; `first` when it is the first tile of its column block.
static void emit_tile(G *g, const gen_tile *t, int v0, ref b, ref cm, bool first)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    const int mb = t->mb;
    tplace pl = { .v0 = v0 };
    for (int v = 0; v < mb; v++)
        pl.arow[v] = a_row(g, v0, v), pl.crow[v] = tile_row(g, v0, v);
    if (p->u == 2 && t->nbc > GEN_BCOL_MAX) {  // the register check of choose_blocking prevents this
        if (!g->c->err) g->c->err = XW_ERR_RANGE;
        return;
    }
    for (int j = 0; p->u == 2 && j < t->nbc; j++)  // complex: br, then bi one part on
        pl.bcol[j] = (int32_t)((j >> 1) * t->bj + (j & 1) * I->es);
    pl.direct = !t->ebcst && !t->partial && g->ld.vex && g->bcst.vex && g->fma.vex && t->breg + t->nbreg <= 16;
    for (int i = 0; i < mb * t->nbc; i++)  // every chain starts from zero
        vzero(g, t->acc0 + i);

    const int k = (int)p->d.k;
    const ref a = p->pack ? (ref){ XW_RSP, 0 } : (ref){ XW_RDI, gen_row(p, v0) * I->es };
    const int64_t ak = (int64_t)(p->pack ? mb * p->vw : (int)p->lda) * I->es;
    const int64_t bk = (int64_t)(p->d.tb ? p->ldb : (uint32_t)p->u) * I->es;
    if (p->ahead && g->next_nb)
        queue_next(g, t, v0, b, cm, first);
    // A loop would repeat the queued requests, and all of them before it stall the k steps:
    // its first steps are written out, each carrying a few (GEN_PEEL_RATE). Where that leaves
    // no steps to save, k is written out whole.
    const int peel = gen_peel_steps(p, g->npf);
    if (!gen_k_looped(p, peel)) {
        g->pfper = k > 1 ? cdiv_i(g->npf, k - 1) : g->npf;  // none after the last step
        ksteps(g, t, &pl, a, ak, b, bk, k);
    } else {
        g->pfper = GEN_PEEL_RATE;
        ksteps(g, t, &pl, a, ak, b, bk, peel);
        prefetch_queued(g, g->npf);
        const int u = p->kunroll, iters = (k - peel) / u, tail = (k - peel) % u;
        const xw_gpr pa = p->g[G_PA], pb = p->g[G_PB], kc = p->g[G_KC];
        xw_x86_lea(g->c, pa, at(g, off(a, peel * ak)));
        xw_x86_lea(g->c, pb, at(g, off(b, peel * bk)));
        if (iters) {
            xw_x86_mov_ri(g->c, kc, iters);
            const size_t top = xw_x86_here(g->c);
            ksteps(g, t, &pl, (ref){ pa, 0 }, ak, (ref){ pb, 0 }, bk, u);
            alu(g, XW_ADD, pa, u * ak);
            alu(g, XW_ADD, pb, u * bk);
            alu(g, XW_SUB, kc, 1);
            xw_x86_jcc_to(g->c, XW_JNZ, top);
        }
        ksteps(g, t, &pl, (ref){ pa, 0 }, ak, (ref){ pb, 0 }, bk, tail);
    }
    prefetch_queued(g, g->npf);
    g->npf = g->pfat = 0;
    if (p->u == 2)
        gen_zepilogue(g, t, &pl, cm);
    else
        tile_epilogue(g, t, &pl, cm);
}

// ---- ta T or C: op(A) rows [gen_row(v0), +mb*vw) are copied into [rsp] as a column-major panel
// (ld = mb*vw). op(A)(i, kk) = A[kk + i*lda]: rows of op(A) are contiguous along k, so square
// blocks of one ymm are transposed in registers (VEX ymm, also on AVX-512: no AVX512VL);
// rows and k steps left over are copied one element at a time. A complex element moves as one
// unit of both parts, 8 bytes (cgemm: as a double would) or 16 (zgemm: a 128-bit lane), and is
// copied as stored: conjugation is the epilogue's (gen_zepi.c).
static int64_t unit_bytes(const G *g) { return (int64_t)g->p->u * g->I->es; }

static void copy_elem(G *g, ref src, ref dst, int *n)
{
    const int r = (*n)++ & 7;  // rotating temporaries: the copies do not wait on each other
    const int64_t ue = unit_bytes(g);
    const xw_insn mv = ue == 16 ? XW_VMOVUPD : ue == 8 ? XW_VMOVSD : XW_VMOVSS;
    xw_x86_vload(g->c, mv, XW_XMM, xw_v(r), at(g, src), xw_plain);
    xw_x86_vstore(g->c, mv, XW_XMM, at(g, dst), xw_v(r), XW_K0);
}

// One block of bw x bw units, bw = 32 bytes / unit (2, 4 or 8): row i of op(A) at src + i*sa,
// column kk of the panel at dst + kk*sp.
static void transpose_block(G *g, ref src, ref dst, int64_t sa, int64_t sp)
{
    xw_code *c = g->c;
    if (unit_bytes(g) == 16) {  // rows in v0, v1; the columns are their 128-bit halves
        for (int i = 0; i < 2; i++)
            xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(i), at(g, off(src, i * sa)), xw_plain);
        for (int kk = 0; kk < 2; kk++) {
            xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, xw_v(2 + kk), xw_v(0), xw_v(1), kk ? 0x31 : 0x20);
            xw_x86_vstore(c, XW_VMOVUPD, XW_YMM, at(g, off(dst, kk * sp)), xw_v(2 + kk), XW_K0);
        }
        return;
    }
    if (unit_bytes(g) == 8) {  // s0-3 rows; u = unpack pairs of rows; columns by 128-bit halves
        for (int i = 0; i < 4; i++)
            xw_x86_vload(c, XW_VMOVUPD, XW_YMM, xw_v(i), at(g, off(src, i * sa)), xw_plain);
        xw_x86_vop_rrr(c, XW_VUNPCKLPD, XW_YMM, xw_v(4), xw_v(0), xw_v(1));  // a0 b0 a2 b2
        xw_x86_vop_rrr(c, XW_VUNPCKHPD, XW_YMM, xw_v(5), xw_v(0), xw_v(1));  // a1 b1 a3 b3
        xw_x86_vop_rrr(c, XW_VUNPCKLPD, XW_YMM, xw_v(6), xw_v(2), xw_v(3));  // c0 d0 c2 d2
        xw_x86_vop_rrr(c, XW_VUNPCKHPD, XW_YMM, xw_v(7), xw_v(2), xw_v(3));  // c1 d1 c3 d3
        for (int kk = 0; kk < 4; kk++) {
            xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, xw_v(8 + kk), xw_v(4 + (kk & 1)), xw_v(6 + (kk & 1)),
                            kk < 2 ? 0x20 : 0x31);
            xw_x86_vstore(c, XW_VMOVUPD, XW_YMM, at(g, off(dst, kk * sp)), xw_v(8 + kk), XW_K0);
        }
        return;
    }
    for (int i = 0; i < 8; i++)  // s0-7 in v0-7
        xw_x86_vload(c, XW_VMOVUPS, XW_YMM, xw_v(i), at(g, off(src, i * sa)), xw_plain);
    for (int i = 0; i < 8; i += 2) {  // t in v8-15: (si[0] si+1[0] si[1] si+1[1] | same +4)
        xw_x86_vop_rrr(c, XW_VUNPCKLPS, XW_YMM, xw_v(8 + i), xw_v(i), xw_v(i + 1));
        xw_x86_vop_rrr(c, XW_VUNPCKHPS, XW_YMM, xw_v(9 + i), xw_v(i), xw_v(i + 1));
    }
    for (int h = 0; h < 2; h++)  // u in v0-7: rows 4h..4h+3 of k steps q and q+4, q = 0..3
        for (int q = 0; q < 4; q++)
            xw_x86_vop_rrri(c, XW_VSHUFPS, XW_YMM, xw_v(4 * h + q), xw_v(8 + 4 * h + (q >> 1)),
                            xw_v(10 + 4 * h + (q >> 1)), q & 1 ? 0xEE : 0x44);
    for (int kk = 0; kk < 8; kk++) {
        xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, xw_v(8 + kk), xw_v(kk & 3), xw_v(4 + (kk & 3)), kk < 4 ? 0x20 : 0x31);
        xw_x86_vstore(c, XW_VMOVUPS, XW_YMM, at(g, off(dst, kk * sp)), xw_v(8 + kk), XW_K0);
    }
}

// Vector v of the M block (vr-th in it) gets panel rows [vr*vw, vr*vw + vw): every op(A) load
// of the k loop then matches one store of the pack (store forwarding), including the
// overlapping last vector of AVX2, whose rows are simply packed twice. src: A at op(A) row 0,
// step kk0; dst: panel column kk0. kw steps, of which the first k0 are skipped when copying
// elements (an overlapping k block); rows and steps left over are covered by blocks that
// overlap their neighbour, which write the same values.
static void pack_vec(G *g, ref src, ref dst, int v, int vr, int kw, int k0, int *n)
{
    const gen_plan *p = g->p;
    const int64_t ue = unit_bytes(g), sa = (int64_t)p->lda * g->I->es, ldp = g->sp;
    const int bw = (int)(32 / ue);
    const int nr = (p->part ? p->part : p->vw) / p->u;  // a partial vector's other lanes stay unread
    const ref s = off(src, gen_row(p, v) / p->u * sa), d = off(dst, (int64_t)vr * p->vw * g->I->es);
    if (kw == bw && nr >= bw) {
        for (int i = 0; i < nr; i += bw) {
            const int i0 = i + bw > nr ? nr - bw : i;
            transpose_block(g, off(s, i0 * sa), off(d, i0 * ue), sa, ldp);
        }
        return;
    }
    for (int kk = k0; kk < kw; kk++)
        for (int i = 0; i < nr; i++)
            copy_elem(g, off(s, i * sa + kk * ue), off(d, i * ue + kk * ldp), n);
}

static void emit_pack(G *g, int v0, int mb, bool loop)
{
    const gen_plan *p = g->p;
    const int64_t es = unit_bytes(g);  // per element of op(A)
    const int k = (int)p->d.k, bw = (int)(32 / es);
    const int64_t sp = (int64_t)mb * p->vw * g->I->es;
    g->sp = sp;
    int n = 0;
    ref src = { XW_RDI, 0 }, dst = { XW_RSP, 0 };
    if (k < bw) {
        for (int v = 0; v < mb; v++)
            pack_vec(g, src, dst, v0 + v, v, k, 0, &n);
        return;
    }
    const int kb = k / bw, kr = k % bw;
#define PACK_KBLOCK(s_, d_, k0_)                                                              \
    do {                                                                                     \
        for (int v = 0; v < mb; v++)                                                         \
            pack_vec(g, s_, d_, v0 + v, v, bw, k0_, &n);                                     \
    } while (0)
    if (loop) {  // (plan.pack_loop)
        const xw_gpr pa = p->g[G_PA], pb = p->g[G_PB], kc = p->g[G_KC];
        xw_x86_mov_rr(g->c, pa, XW_RDI);
        xw_x86_mov_rr(g->c, pb, XW_RSP);
        xw_x86_mov_ri(g->c, kc, kb);
        const size_t top = xw_x86_here(g->c);
        PACK_KBLOCK(((ref){ pa, 0 }), ((ref){ pb, 0 }), 0);
        alu(g, XW_ADD, pa, bw * es);
        alu(g, XW_ADD, pb, bw * sp);
        alu(g, XW_SUB, kc, 1);
        xw_x86_jcc_to(g->c, XW_JNZ, top);
        src = (ref){ pa, 0 };
        dst = (ref){ pb, 0 };
    } else {
        for (int b = 0; b < kb; b++)
            PACK_KBLOCK(off(src, b * bw * es), off(dst, b * bw * sp), 0);
        src = off(src, kb * bw * es);
        dst = off(dst, kb * bw * sp);
    }
    if (kr)  // the last bw steps, overlapping the previous block
        PACK_KBLOCK(off(src, (kr - bw) * es), off(dst, (kr - bw) * sp), bw - kr);
#undef PACK_KBLOCK
}

// The tiles of the M blocks that start in vectors [v0, v0 + span), for a column block of
// group ng[j] whose first column b and cm address.
static void emit_tiles(G *g, int v0, int span, int j, ref b, ref cm)
{
    const gen_plan *p = g->p;
    int v = 0;
    for (int i = 0; i < p->nmg; i++)
        for (int q = 0; q < p->mg[i].count; q++, v += p->mg[i].size)
            if (v >= v0 && v < v0 + span)
                emit_tile(g, &p->tk[i][j], v, b, off(cm, gen_row(p, v) * g->I->es), v == v0);
}

// N outer over the column blocks, the tiles of M blocks [v0, v0 + span) inside (emit_tiles):
// B and C are walked once, column block by column block. Identical column blocks become a
// loop where the plan has one.
static void emit_columns(G *g, int v0, int span)
{
    const gen_plan *p = g->p;
    const int64_t es = g->I->es;
    const int64_t bj = (int64_t)(p->d.tb ? (uint32_t)p->u : p->ldb) * es, cj = (int64_t)p->ldc * es;
    int64_t col = 0;
    for (int i = 0; i < p->nng; i++) {
        const int nb = p->ng[i].size, cnt = p->ng[i].count;
        if (p->nloop && cnt > 1) {
            const xw_gpr pbn = p->g[G_PBN], pcn = p->g[G_PCN], nc = p->g[G_NC];
            xw_x86_lea(g->c, pbn, at(g, (ref){ XW_RSI, col * bj }));
            xw_x86_lea(g->c, pcn, at(g, (ref){ XW_RDX, col * cj }));
            xw_x86_mov_ri(g->c, nc, cnt);
            const size_t top = xw_x86_here(g->c);
            g->next_nb = nb;  // (the last iteration's lie past B and C: prefetches never fault)
            emit_tiles(g, v0, span, i, (ref){ pbn, 0 }, (ref){ pcn, 0 });
            alu(g, XW_ADD, pbn, nb * bj);
            alu(g, XW_ADD, pcn, nb * cj);
            alu(g, XW_SUB, nc, 1);
            xw_x86_jcc_to(g->c, XW_JNZ, top);
        } else {
            for (int q = 0; q < cnt; q++) {
                g->next_nb = q + 1 < cnt ? nb : i + 1 < p->nng ? p->ng[i + 1].size : 0;
                emit_tiles(g, v0, span, i, (ref){ XW_RSI, (col + (int64_t)q * nb) * bj },
                           (ref){ XW_RDX, (col + (int64_t)q * nb) * cj });
            }
        }
        col += (int64_t)nb * cnt;
    }
}

// ---- Small kernels whose operands come from memory wait on a few dozen misses: all lines
// of A, B and C are requested at entry, in that order, so that the misses overlap.
// Requests every line of a region at once: one span when its columns are contiguous, else one
// a column (as gen_plan.c counts them).
static void prefetch_region(G *g, gen_region r)
{
    const int64_t es = g->I->es;
    if (r.ld == r.rows) {
        r.rows *= r.cols;
        r.cols = 1;
    }
    for (int64_t j = 0; j < r.cols; j++)
        prefetch_bytes(g, (ref){ r.base, 0 }, j * r.ld * es, (j * r.ld + r.rows) * es, PF_NOW);
}

// op(A) read column by column, one k step at a time, misses a line at a time when it comes
// from memory; requested at entry (plan.prefetch_a), its misses overlap: unrolled, or in a
// loop over its K columns (through plan.entry_tmp).
static void prefetch_a_columns(G *g)
{
    const gen_plan *p = g->p;
    const int64_t es = g->I->es, bytes = (int64_t)p->rows * es;
    if (p->prefetch_a == 1) {
        prefetch_region(g, (gen_region){ XW_RDI, p->rows, p->d.k, p->lda });
        return;
    }
    const xw_gpr pa = p->entry_tmp[0], kc = p->entry_tmp[1];
    xw_x86_mov_rr(g->c, pa, XW_RDI);
    xw_x86_mov_ri(g->c, kc, p->d.k);
    const size_t top = xw_x86_here(g->c);
    prefetch_bytes(g, (ref){ pa, 0 }, 0, bytes, PF_NOW);
    alu(g, XW_ADD, pa, (int64_t)p->lda * es);
    alu(g, XW_SUB, kc, 1);
    xw_x86_jcc_to(g->c, XW_JNZ, top);
}

void gen_emit(const gen_plan *p, xw_code *c, size_t *entry)
{
    G g = { .p = p, .I = &p->isa, .c = c };
    const gen_isa *I = &p->isa;
    g.ld = xw_x86_vprep(XW_VP_LOAD, p->mov, p->vl, xw_plain);
    g.st = xw_x86_vprep(XW_VP_STORE, p->mov, p->vl, xw_plain);
    g.zero = xw_x86_vprep(XW_VP_RRR, XW_VPXORQ, p->vl, xw_plain);
    g.bcst = xw_x86_vprep(XW_VP_LOAD, I->bcst, I->vl, xw_plain);
    g.fma = xw_x86_vprep(XW_VP_RRR, p->kfma, p->vl, xw_plain);
    if (I->ebcst)
        g.fma_eb = xw_x86_vprep(XW_VP_RRM, p->kfma, p->vl, (xw_evex){ XW_K0, false, true });
    if (p->u == 2)
        gen_zprep(&g);
    if (p->rop)
        g.epi_r = xw_x86_vprep(XW_VP_RRR, p->rop, p->vl, xw_plain);
    if (p->cop)
        g.epi_c = prep_memop(p, p->cop);
    if (p->part) {
        g.ldp = xw_x86_vprep(XW_VP_LOAD, p->piece_mov, p->piece_vl, xw_plain);
        g.stp = xw_x86_vprep(XW_VP_STORE, p->piece_mov, p->piece_vl, xw_plain);
        g.ldm = xw_x86_vprep(XW_VP_LOAD, p->mov, p->vl, (xw_evex){ XW_K1, true, false });
    }
    *entry = xw_x86_here(c);
    if (p->part) {  // k1: the partial vector's rows
        xw_x86_mov_ri(c, p->entry_tmp[0], ((int64_t)1 << p->part) - 1);
        xw_x86_kmovw(c, XW_K1, p->entry_tmp[0]);
    }
    for (int i = 0; i < p->npush; i++)
        xw_x86_push(c, p->pushed[i]);
    if (p->scratch) {  // the panel's ymm loads and stores never split a cache line
        xw_x86_mov_rr(c, p->g[G_FRAME], XW_RSP);
        alu(&g, XW_AND, XW_RSP, p->vw * p->isa.es > 32 ? -64 : -32);
        alu(&g, XW_SUB, XW_RSP, p->scratch);
    }
    if (p->prefetch_a)
        prefetch_a_columns(&g);
    if (p->ahead) {  // the first column block's op(B) and C, which no tile before it requests
        prefetch_opb(&g, (ref){ XW_RSI, 0 }, 0, p->ng[0].size, PF_NOW);
        if (p->d.beta != XW_SCALE_ZERO)
            prefetch_region(&g, (gen_region){ XW_RDX, p->rows, p->ng[0].size, p->ldc });
    }
    if (!p->pack) {
        for (int i = 0; p->prefetch && i < p->npf_entry; i++)  // A, B, C: the misses overlap
            prefetch_region(&g, p->pf_entry[i]);
        emit_columns(&g, 0, p->mv);  // op(A) is reread from the cache for each column block
    } else {
        // Each M block's op(A) panel is packed once, then serves every column block.
        int v0 = 0;
        for (int i = 0; i < p->nmg; i++)
            for (int b = 0; b < p->mg[i].count; b++, v0 += p->mg[i].size) {
                emit_pack(&g, v0, p->mg[i].size, p->pack_loop[i]);
                emit_columns(&g, v0, p->mg[i].size);
            }
    }
    if (p->scratch)
        xw_x86_mov_rr(c, XW_RSP, p->g[G_FRAME]);
    for (int i = p->npush - 1; i >= 0; i--)
        xw_x86_pop(c, p->pushed[i]);
    xw_x86_vzeroupper(c);
    xw_x86_ret(c);
}
