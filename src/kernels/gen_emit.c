// gen_emit.c: emits a planned GEMM kernel (gen.h) through the x86 encoder. One body for AVX2
// and AVX-512; gen_isa and the plan's vector width say which instructions.
//
// Register plan, per C tile of mb vectors (along M) x nb columns, R = 16 (AVX2) or 32 (AVX-512):
//   v0 .. S*mb*nb-1   accumulators; S sets take turns over k, S > 1 only when mb*nb alone is
//                     too few independent chains to hide the FMA latency (4 cycles x 2 pipes)
//   next mb           op(A) column pieces for the current k               ("areg")
//   next 1 or 2       op(B)(k, j) broadcast                               ("breg"); AVX-512
//                     with mb == 1 broadcasts from memory inside the FMA instead
//   (nb < mb: "bfirst", the roles swap: 1 or 2 rotating areg, then nb breg held for the step)
//   epilogue          areg0 holds alpha, then beta; areg1 (or breg0) takes C loaded by
//                     VMOVSD/VMOVSS when a vector is narrower than a memory operand
//   k1 (AVX-512)      lanes of the partial last M vector: loads {k1}{z}, C ops and stores {k1}
// M remainders on AVX2 use no masks: the last vector overlaps its neighbour (gen.h), and a
// tile computes a whole column of C before storing it, so both write the same values.
// General registers: rdi A, rsi B, rdx C, rcx &alpha, r8 &beta (read only when ANY); the loop
// roles of gen.h come from rax r9 r10 r11, rcx/r8 when unused, then pushed rbx rbp r12..r15.
// ta == 1: each M block's panel of op(A) is first copied to [rsp] (column-major, ld mb*vw,
// vector v of the block at rows v*vw; rsp first aligned down to 32 or 64 bytes, the entry rsp
// kept in G_FRAME) and the same NN body runs from there.
#include "gen.h"

typedef struct {
    xw_gpr base;
    int64_t disp;  // bytes
} ref;

// A vector operation with C from memory (op_mem): the reg-mem form plain and k1-masked, and the
// reg-reg form for vectors narrower than a memory operand.
typedef struct {
    xw_vprep m[2], r;
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
    // kernel uses only: vw elements of A or C loaded and stored plainly and k1-masked ({z} for
    // loads), op(B) broadcasts, the k step's FMA (FNMA for alpha -1) from a register and
    // (AVX-512, mb == 1) from memory {1toN}, the zeroing idiom, the sum of accumulator sets,
    // and for alpha any: acc *= alpha and tmp += alpha*acc.
    xw_vprep ld[2], st[2], bcst, fma, fma_eb, zero, add, mul, fma_c;
    memop cmem;  // C added (beta 1), subtracted (-1) or multiplied by beta and added (any)
    memop pmem;  // beta*C from zero: multiplied (any) or subtracted (-1); also C = beta*C
    memop mulm;  // alpha any, C read: beta*C multiplied
} G;

typedef struct {
    int v0, mb, nb, S, nbreg, nareg, areg, breg;
    int64_t arow[GEN_MB_MAX];  // bytes from the tile's op(A) base to each vector (a_row)
    int64_t crow[GEN_MB_MAX];  // bytes from the tile's C column to each vector (tile_row)
    int64_t bj;                // bytes between columns of op(B)
    bool direct;               // kstep may write at a cursor (kstep_direct)
    bool partial, ebcst;
    bool bfirst;  // nb < mb: nb broadcasts held, op(A) pieces through nareg registers
    bool cfirst;  // accumulator set 0 starts as beta*C (alpha is +-1): C is read before the k loop
} tile;

static int cdiv_i(int a, int b) { return (a + b - 1) / b; }

static ref off(ref r, int64_t bytes) { return (ref){ r.base, r.disp + bytes }; }

static int32_t disp32(G *g, int64_t disp)
{
    if (disp < INT32_MIN || disp > INT32_MAX) {  // the planner's range check prevents this
        if (!g->c->err) g->c->err = XW_ERR_RANGE;
        return 0;
    }
    return (int32_t)disp;
}

static xw_mem at(G *g, ref r) { return xw_mem_at(r.base, disp32(g, r.disp)); }

static void alu(G *g, xw_alu op, xw_gpr r, int64_t imm)
{
    if (imm < INT32_MIN || imm > INT32_MAX) {
        if (!g->c->err) g->c->err = XW_ERR_RANGE;
        return;
    }
    xw_x86_alu_ri(g->c, op, r, (int32_t)imm);
}

// Fewest registers the k step's operands need: op(A) pieces and one broadcast, or (nb < mb)
// the broadcasts and one op(A) piece.
int gen_opregs(const gen_plan *p, int mb, int nb)
{
    (void)p;
    return (mb < nb ? mb : nb) + 1;
}

// Accumulator sets for an mb x nb tile: enough chains to cover latency, within the registers.
int gen_sets(const gen_plan *p, int mb, int nb)
{
    const int room = p->isa.nvregs - gen_opregs(p, mb, nb);
    int s = 1;
    while (s < 4 && (uint32_t)s < p->d.k && s * mb * nb < 10 && (s + 1) * mb * nb <= room)
        s++;
    return s;
}

// First row of M vector v; the overlapping last vector ends at row m.
static int64_t row_of(const gen_plan *p, int v)
{
    return p->overlap && v == p->mv - 1 ? (int64_t)p->d.m - p->vw : (int64_t)v * p->vw;
}

static int acc(const tile *t, int s, int v, int j) { return (s * t->mb + v) * t->nb + j; }

// ---- Vector loads and stores of A and C; `partial` is the k1-masked last M vector.
static void load_vec(G *g, int r, ref m, bool partial)
{
    xw_x86_vp_load(g->c, &g->ld[partial], r, m.base, disp32(g, m.disp));
}

static void store_vec(G *g, ref m, int r, bool partial)
{
    xw_x86_vp_store(g->c, &g->st[partial], m.base, disp32(g, m.disp), r);
}

// The forms op_mem takes for this kernel (rrm when vectors make a memory operand, k1-masked
// when the last M vector is partial; else rrr).
static memop prep_memop(const gen_plan *p, xw_insn op)
{
    memop o = { 0 };
    if (!p->memop)
        o.r = xw_x86_vprep(XW_VP_RRR, op, p->vl, xw_plain);
    else
        for (int i = 0; i < (p->rem < p->vw ? 2 : 1); i++)  // masked: faults suppressed
            o.m[i] = xw_x86_vprep(XW_VP_RRM, op, p->vl, (xw_evex){ i ? XW_K1 : XW_K0, false, false });
    return o;
}

// dst = op(s1, C) with C in memory; vectors narrower than 16 bytes load C into tmp first.
static void op_mem(G *g, const memop *o, int dst, int s1, ref m, bool partial, int tmp)
{
    if (!g->p->memop) {
        load_vec(g, tmp, m, false);
        xw_x86_vp_rrr(g->c, &o->r, dst, s1, tmp);
        return;
    }
    xw_x86_vp_rrm(g->c, &o->m[partial], dst, s1, m.base, disp32(g, m.disp));
}

static void vzero(G *g, int r) { xw_x86_vp_rrr(g->c, &g->zero, r, r, r); }

// Rows of vector v of a tile relative to the tile's first row, in bytes.
static int64_t tile_row(G *g, const tile *t, int v)
{
    return (row_of(g->p, t->v0 + v) - row_of(g->p, t->v0)) * g->I->es;
}

// Bytes from the tile's op(A) base to vector v: a packed panel holds each vector at vw rows.
static int64_t a_row(G *g, const tile *t, int v)
{
    return g->p->pack ? (int64_t)v * g->p->vw * g->I->es : tile_row(g, t, v);
}

// ---- Streamed C: the epilogue of a short tile waits on its C lines. While a tile computes,
// the lines of C the tile at the same rows of the next column block will read are requested,
// a share after each k step so that they stay off the critical path of a cached kernel.
// Kernels that prefetch everything at entry (plan.prefetch) need none of it.
typedef enum { PF_COUNT, PF_NOW, PF_QUEUE } pf_how;

static void prefetch_one(G *g, ref r, pf_how how)
{
    if (how == PF_QUEUE && g->npf < GEN_AHEAD_MAX)
        g->pf[g->npf++] = r;
    else if (how != PF_COUNT)
        xw_x86_prefetch(g->c, XW_PREFETCHT0, at(g, r));
}

// Requests every cache line of bytes [s, e) from r, which need not be aligned: one every 64
// bytes and one at the last byte. PF_QUEUE keeps them for the tile's k steps (beyond the
// queue's room: at once). Returns how many.
static int prefetch_bytes(G *g, ref r, int64_t s, int64_t e, pf_how how)
{
    int n = 0;
    int64_t a = s;
    for (; a < e; a += 64, n++)
        prefetch_one(g, off(r, a), how);
    if (e - 1 > a - 64) {  // the last byte's line, when the steps ended before it
        prefetch_one(g, off(r, e - 1), how);
        n++;
    }
    return n;
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
    const xw_vprep *ld, *ldp, *bc, *fma;  // op(A) plain and partial, op(B) broadcast, FMA
} kout;

KSTEP_INLINE void k_load(G *g, kout *k, bool direct, const xw_vprep *pr, int r, xw_gpr base, int64_t disp)
{
    if (direct)
        k->o = xw_x86_vex_mem_at(k->o, pr, (unsigned)r, 0, base, (int32_t)disp);
    else
        xw_x86_vp_load(k->c, pr, (unsigned)r, base, disp32(g, disp));
}

KSTEP_INLINE void k_rrr(kout *k, bool direct, const xw_vprep *pr, int d, int s1, int s2)
{
    if (direct)
        k->o = xw_x86_vex_rrr_at(k->o, pr, (unsigned)d, (unsigned)s1, (unsigned)s2);
    else
        xw_x86_vp_rrr(k->c, pr, (unsigned)d, (unsigned)s1, (unsigned)s2);
}

KSTEP_INLINE void kstep(G *g, const tile *t, kout *k, ref a, ref b, int s, bool direct)
{
    const int64_t bj = t->bj;
    const int a0 = acc(t, s, 0, 0);  // accumulator (v, j) of set s is a0 + v*nb + j
    if (t->bfirst) {  // nb broadcasts stay; each op(A) piece is loaded and used at once
        for (int j = 0; j < t->nb; j++)
            k_load(g, k, direct, k->bc, t->breg + j, b.base, b.disp + j * bj);
        for (int v = 0; v < t->mb; v++) {
            const int ar = t->areg + (t->nareg > 1 ? v & 1 : 0);  // nareg is 1 or 2
            k_load(g, k, direct, t->partial && v == t->mb - 1 ? k->ldp : k->ld, ar, a.base, a.disp + t->arow[v]);
            for (int j = 0; j < t->nb; j++)
                k_rrr(k, direct, k->fma, a0 + v * t->nb + j, ar, t->breg + j);
        }
        return;
    }
    for (int v = 0; v < t->mb; v++)
        k_load(g, k, direct, t->partial && v == t->mb - 1 ? k->ldp : k->ld, t->areg + v, a.base, a.disp + t->arow[v]);
    for (int j = 0; j < t->nb; j++) {
        if (t->ebcst) {  // never direct (EVEX)
            xw_x86_vp_rrm(g->c, &g->fma_eb, a0 + j, t->areg, b.base, disp32(g, b.disp + j * bj));
            continue;
        }
        const int br = t->breg + (t->nbreg > 1 ? j & 1 : 0);  // nbreg is 1 or 2
        k_load(g, k, direct, k->bc, br, b.base, b.disp + j * bj);
        for (int v = 0; v < t->mb; v++)
            k_rrr(k, direct, k->fma, a0 + v * t->nb + j, t->areg + v, br);
    }
}

// Whether n k steps from a and b (ak, bk bytes apart, all positive) may be written directly:
// the tile's preparations are VEX and its registers below 16 (t->direct), room for every
// instruction, no error, bases below 16 and every displacement in range.
static bool ksteps_direct(G *g, const tile *t, ref a, int64_t ak, ref b, int64_t bk, int n)
{
    const size_t per = (size_t)(t->mb + t->nb + t->mb * t->nb);
    const size_t most = (per * (size_t)n + (size_t)(g->npf - g->pfat)) * 16;  // and queued prefetches
    return t->direct && xw_x86_vp_room(g->c, most) && (unsigned)a.base < 16
           && (unsigned)b.base < 16 && a.disp >= INT32_MIN && b.disp >= INT32_MIN
           && a.disp + (n - 1) * ak + t->arow[t->mb - 1] <= INT32_MAX
           && b.disp + (n - 1) * bk + (t->nb - 1) * t->bj <= INT32_MAX;
}

// k steps 0 .. n-1 of a tile, step i from a + i*ak and b + i*bk into accumulator set i % S.
static void ksteps(G *g, const tile *t, ref a, int64_t ak, ref b, int64_t bk, int n)
{
    if (n > 0 && ksteps_direct(g, t, a, ak, b, bk, n)) {
        // Copies: the preparations stay in registers while bytes are stored at the cursor.
        const xw_vprep ld = g->ld[0], ldp = g->ld[1], bc = g->bcst, fma = g->fma;
        kout k = { g->c, g->c->buf + g->c->len, &ld, &ldp, &bc, &fma };
        for (int i = 0, s = 0; i < n; i++, s = s + 1 == t->S ? 0 : s + 1) {
            kstep(g, t, &k, off(a, i * ak), off(b, i * bk), s, true);
            if (g->pfat < g->npf) {  // (checked calls: the cursor is handed back and forth)
                g->c->len = (size_t)(k.o - g->c->buf);
                prefetch_queued(g, g->pfper);
                k.o = g->c->buf + g->c->len;
            }
        }
        g->c->len = (size_t)(k.o - g->c->buf);
        return;
    }
    kout k = { g->c, NULL, &g->ld[0], &g->ld[1], &g->bcst, &g->fma };
    for (int i = 0, s = 0; i < n; i++, s = s + 1 == t->S ? 0 : s + 1) {
        kstep(g, t, &k, off(a, i * ak), off(b, i * bk), s, false);
        prefetch_queued(g, g->pfper);
    }
}

// C tile = alpha*acc + beta*C with the scale classes baked in.
static void tile_epilogue(G *g, const tile *t, ref cm)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    const int64_t cj = (int64_t)p->d.ldc * I->es;
    for (int s = 1; s < t->S; s++)
        for (int v = 0; v < t->mb; v++)
            for (int j = 0; j < t->nb; j++)
                xw_x86_vp_rrr(g->c, &g->add, acc(t, 0, v, j), acc(t, 0, v, j), acc(t, s, v, j));
    const int sreg = t->areg, tmp = t->mb > 1 ? t->areg + 1 : t->breg;  // both free after the k loop
    if (t->cfirst) {  // C was read into the accumulators before the k loop
        for (int j = 0; j < t->nb; j++)
            for (int v = 0; v < t->mb; v++)
                store_vec(g, off(cm, j * cj + t->crow[v]), acc(t, 0, v, j), t->partial && v == t->mb - 1);
        return;
    }
    // alpha ANY with C read: tmp = beta*C (or C), independent of the k loop, then one FMA
    // tmp += alpha*acc ends each chain instead of a multiply and an FMA. Registers above the
    // accumulator set 0 are free; an overlapping pair (the tile's last two vectors) must be
    // read before either is stored: chunks of T vectors are taken from the end.
    const int fa = t->mb * t->nb, fb = fa + (p->d.beta == XW_SCALE_ANY), ft = fb + 1;
    const int T = I->nvregs - ft;
    if (p->d.alpha == XW_SCALE_ANY && (p->d.beta == XW_SCALE_ONE || p->d.beta == XW_SCALE_ANY)
        && (T >= 2 || (T >= 1 && !(p->overlap && t->v0 + t->mb == p->mv)))) {
        xw_x86_vload(g->c, I->bcst, I->vl, fa, xw_mem_at(XW_RCX, 0), xw_plain);
        if (p->d.beta == XW_SCALE_ANY)
            xw_x86_vload(g->c, I->bcst, I->vl, fb, xw_mem_at(XW_R8, 0), xw_plain);
        for (int j = 0; j < t->nb; j++)
            for (int v1 = t->mb; v1 > 0; v1 -= T) {  // the last chunk holds the last two vectors
                const int v0 = v1 - T > 0 ? v1 - T : 0;
                for (int v = v0; v < v1; v++) {
                    const int r = ft + v - v0;
                    const bool pv = t->partial && v == t->mb - 1;
                    const ref m = off(cm, j * cj + t->crow[v]);
                    if (p->d.beta == XW_SCALE_ONE)
                        load_vec(g, r, m, pv);
                    else
                        op_mem(g, &g->mulm, r, fb, m, pv, r);
                    xw_x86_vp_rrr(g->c, &g->fma_c, r, acc(t, 0, v, j), fa);
                }
                for (int v = v0; v < v1; v++)
                    store_vec(g, off(cm, j * cj + t->crow[v]), ft + v - v0, t->partial && v == t->mb - 1);
            }
        return;
    }
    if (p->d.alpha == XW_SCALE_ANY) {
        xw_x86_vload(g->c, I->bcst, I->vl, sreg, xw_mem_at(XW_RCX, 0), xw_plain);
        for (int v = 0; v < t->mb; v++)
            for (int j = 0; j < t->nb; j++)
                xw_x86_vp_rrr(g->c, &g->mul, acc(t, 0, v, j), acc(t, 0, v, j), sreg);
    }
    if (p->d.beta == XW_SCALE_ANY)
        xw_x86_vload(g->c, I->bcst, I->vl, sreg, xw_mem_at(XW_R8, 0), xw_plain);
    for (int j = 0; j < t->nb; j++) {
        // The column is complete in registers before it is stored: an overlapping vector must
        // read C before its neighbour's store.
        for (int v = 0; v < t->mb; v++) {
            const int a = acc(t, 0, v, j);
            const bool pv = t->partial && v == t->mb - 1;
            const ref m = off(cm, j * cj + t->crow[v]);
            switch (p->d.beta) {
            case XW_SCALE_ONE:
            case XW_SCALE_MINUS_ONE: op_mem(g, &g->cmem, a, a, m, pv, tmp); break;
            case XW_SCALE_ANY: op_mem(g, &g->cmem, a, sreg, m, pv, tmp); break;
            default: break;  // ZERO: C is never read
            }
        }
        for (int v = 0; v < t->mb; v++)
            store_vec(g, off(cm, j * cj + t->crow[v]), acc(t, 0, v, j), t->partial && v == t->mb - 1);
    }
}

// Accumulators start at zero, or set 0 at beta*C (alpha +-1): C's loads come first, so its
// misses overlap the k loop's instead of following them.
static void tile_prologue(G *g, const tile *t, ref cm)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    const int64_t cj = (int64_t)p->d.ldc * I->es;
    const int sreg = t->areg, tmp = t->mb > 1 ? t->areg + 1 : t->breg;  // free before the k loop
    if (t->cfirst && p->d.beta == XW_SCALE_ANY)
        xw_x86_vload(g->c, I->bcst, I->vl, sreg, xw_mem_at(XW_R8, 0), xw_plain);
    for (int j = 0; j < t->nb; j++)
        for (int v = 0; v < t->mb; v++) {
            const int a = acc(t, 0, v, j);
            const bool pv = t->partial && v == t->mb - 1;
            const ref m = off(cm, j * cj + t->crow[v]);
            if (!t->cfirst)
                vzero(g, a);
            else if (p->d.beta == XW_SCALE_ONE)
                load_vec(g, a, m, pv);  // {k1}{z} when partial
            else {
                if (p->d.beta == XW_SCALE_MINUS_ONE || pv)
                    vzero(g, a);  // masked-off lanes of a partial vector stay zero
                op_mem(g, &g->pmem, a, p->d.beta == XW_SCALE_ANY ? sreg : a, m, pv, tmp);
            }
        }
    for (int s = 1; s < t->S; s++)
        for (int v = 0; v < t->mb; v++)
            for (int j = 0; j < t->nb; j++)
                vzero(g, acc(t, s, v, j));
}

// Queues the lines of C rows of tile t in the next column block's next_nb columns.
static void queue_next_c(G *g, const tile *t, ref cm)
{
    const gen_plan *p = g->p;
    const int64_t es = g->I->es, cj = (int64_t)p->d.ldc * es;
    const int64_t r0 = row_of(p, t->v0);
    const int64_t r1 = t->v0 + t->mb == p->mv ? (int64_t)p->d.m : row_of(p, t->v0 + t->mb);
    for (int64_t j = t->nb; j < t->nb + g->next_nb; j++)
        prefetch_bytes(g, cm, j * cj, j * cj + (r1 - r0) * es, PF_QUEUE);
}

// One C tile: rows from vector v0 (mb vectors), nb columns; b and cm address its first column.
static void emit_tile(G *g, int v0, int mb, int nb, ref b, ref cm)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    tile t = { .v0 = v0, .mb = mb, .nb = nb, .S = gen_sets(p, mb, nb) };
    t.partial = v0 + mb == p->mv && p->rem < p->vw;
    t.ebcst = I->kmask && mb == 1;
    t.bfirst = !t.ebcst && nb < mb;
    for (int v = 0; v < mb; v++)
        t.arow[v] = a_row(g, &t, v), t.crow[v] = tile_row(g, &t, v);
    t.areg = t.S * mb * nb;
    if (t.bfirst) {
        t.nareg = t.areg + 2 + nb <= I->nvregs ? 2 : 1;
        t.breg = t.areg + t.nareg;
        t.nbreg = nb;
    } else {
        t.nareg = mb;
        t.breg = t.areg + mb;
        t.nbreg = t.breg + 2 <= I->nvregs ? 2 : 1;
    }
    // Reading C first lets its misses overlap a long k loop; in a short kernel the out-of-order
    // window already covers C's loads, and starting the FMA chain on them only adds latency.
    t.cfirst = p->d.beta != XW_SCALE_ZERO && p->d.alpha != XW_SCALE_ANY && p->d.k >= GEN_CFIRST_K;
    t.bj = (int64_t)(p->d.tb ? 1 : p->d.ldb) * I->es;
    t.direct = !t.ebcst && g->ld[0].vex && (!t.partial || g->ld[1].vex) && g->bcst.vex && g->fma.vex
               && t.breg + t.nbreg <= 16;
    tile_prologue(g, &t, cm);

    const int k = (int)p->d.k;
    const ref a = p->pack ? (ref){ XW_RSP, 0 } : (ref){ XW_RDI, row_of(p, v0) * I->es };
    const int64_t ak = (int64_t)(p->pack ? mb * p->vw : (int)p->d.lda) * I->es;
    const int64_t bk = (int64_t)(p->d.tb ? p->d.ldb : 1) * I->es;
    if (p->ahead && g->next_nb)
        queue_next_c(g, &t, cm);
    if (p->kunroll >= k) {
        g->pfper = k > 1 ? cdiv_i(g->npf, k - 1) : g->npf;  // none after the last step
        ksteps(g, &t, a, ak, b, bk, k);
    } else {
        prefetch_queued(g, g->npf);  // a loop would repeat them
        const int u = p->kunroll, iters = k / u, tail = k % u;
        const xw_gpr pa = p->g[G_PA], pb = p->g[G_PB], kc = p->g[G_KC];
        xw_x86_lea(g->c, pa, at(g, a));
        xw_x86_lea(g->c, pb, at(g, b));
        xw_x86_mov_ri(g->c, kc, iters);
        const size_t top = xw_x86_here(g->c);
        ksteps(g, &t, (ref){ pa, 0 }, ak, (ref){ pb, 0 }, bk, u);
        alu(g, XW_ADD, pa, u * ak);
        alu(g, XW_ADD, pb, u * bk);
        alu(g, XW_SUB, kc, 1);
        xw_x86_jcc_to(g->c, XW_JNZ, top);
        ksteps(g, &t, (ref){ pa, 0 }, ak, (ref){ pb, 0 }, bk, tail);
    }
    prefetch_queued(g, g->npf);
    g->npf = g->pfat = 0;
    tile_epilogue(g, &t, cm);
}

// ---- ta == 1: op(A) rows [row_of(v0), +mb*vw) are copied into [rsp] as a column-major panel
// (ld = mb*vw). op(A)(i, kk) = A[kk + i*lda]: rows of op(A) are contiguous along k, so square
// blocks of one ymm are transposed in registers (VEX ymm, also on AVX-512: no AVX512VL);
// rows and k steps left over are copied one element at a time.
static void copy_elem(G *g, ref src, ref dst, int *n)
{
    const int r = (*n)++ & 7;  // rotating temporaries: the copies do not wait on each other
    xw_x86_vload(g->c, g->I->movs, XW_XMM, r, at(g, src), xw_plain);
    xw_x86_vstore(g->c, g->I->movs, XW_XMM, at(g, dst), r, XW_K0);
}

// One block of bw x bw elements, bw = 4 (f64) or 8 (f32): row i of op(A) at src + i*sa,
// column kk of the panel at dst + kk*sp.
static void transpose_block(G *g, ref src, ref dst, int64_t sa, int64_t sp)
{
    xw_code *c = g->c;
    if (g->I->es == 8) {  // s0-3 rows; u = unpack pairs of rows; columns by 128-bit halves
        for (int i = 0; i < 4; i++)
            xw_x86_vload(c, XW_VMOVUPD, XW_YMM, i, at(g, off(src, i * sa)), xw_plain);
        xw_x86_vop_rrr(c, XW_VUNPCKLPD, XW_YMM, 4, 0, 1);  // a0 b0 a2 b2
        xw_x86_vop_rrr(c, XW_VUNPCKHPD, XW_YMM, 5, 0, 1);  // a1 b1 a3 b3
        xw_x86_vop_rrr(c, XW_VUNPCKLPD, XW_YMM, 6, 2, 3);  // c0 d0 c2 d2
        xw_x86_vop_rrr(c, XW_VUNPCKHPD, XW_YMM, 7, 2, 3);  // c1 d1 c3 d3
        for (int kk = 0; kk < 4; kk++) {
            xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, 8 + kk, 4 + (kk & 1), 6 + (kk & 1), kk < 2 ? 0x20 : 0x31);
            xw_x86_vstore(c, XW_VMOVUPD, XW_YMM, at(g, off(dst, kk * sp)), 8 + kk, XW_K0);
        }
        return;
    }
    for (int i = 0; i < 8; i++)  // s0-7 in v0-7
        xw_x86_vload(c, XW_VMOVUPS, XW_YMM, i, at(g, off(src, i * sa)), xw_plain);
    for (int i = 0; i < 8; i += 2) {  // t in v8-15: (si[0] si+1[0] si[1] si+1[1] | same +4)
        xw_x86_vop_rrr(c, XW_VUNPCKLPS, XW_YMM, 8 + i, i, i + 1);
        xw_x86_vop_rrr(c, XW_VUNPCKHPS, XW_YMM, 9 + i, i, i + 1);
    }
    for (int h = 0; h < 2; h++)  // u in v0-7: rows 4h..4h+3 of k steps q and q+4, q = 0..3
        for (int q = 0; q < 4; q++)
            xw_x86_vop_rrri(c, XW_VSHUFPS, XW_YMM, 4 * h + q, 8 + 4 * h + (q >> 1), 10 + 4 * h + (q >> 1),
                            q & 1 ? 0xEE : 0x44);
    for (int kk = 0; kk < 8; kk++) {
        xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, 8 + kk, kk & 3, 4 + (kk & 3), kk < 4 ? 0x20 : 0x31);
        xw_x86_vstore(c, XW_VMOVUPS, XW_YMM, at(g, off(dst, kk * sp)), 8 + kk, XW_K0);
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
    const int64_t es = g->I->es, sa = (int64_t)p->d.lda * es, ldp = g->sp;
    const int bw = (int)(32 / es);
    const int nr = v == p->mv - 1 && p->rem < p->vw ? p->rem : p->vw;
    const ref s = off(src, row_of(p, v) * sa), d = off(dst, (int64_t)vr * p->vw * es);
    if (kw == bw && nr >= bw) {
        for (int i = 0; i < nr; i += bw) {
            const int i0 = i + bw > nr ? nr - bw : i;
            transpose_block(g, off(s, i0 * sa), off(d, i0 * es), sa, ldp);
        }
        return;
    }
    for (int kk = k0; kk < kw; kk++)
        for (int i = 0; i < nr; i++)
            copy_elem(g, off(s, i * sa + kk * es), off(d, i * es + kk * ldp), n);
}

static void emit_pack(G *g, int v0, int mb)
{
    const gen_plan *p = g->p;
    const int64_t es = g->I->es;
    const int k = (int)p->d.k, bw = (int)(32 / es);
    const int64_t sp = (int64_t)mb * p->vw * es;
    g->sp = sp;
    int n = 0;
    ref src = { XW_RDI, 0 }, dst = { XW_RSP, 0 };
    if (k < bw) {
        for (int v = 0; v < mb; v++)
            pack_vec(g, src, dst, v0 + v, v, k, 0, &n);
        return;
    }
    const int kb = k / bw, kr = k % bw;
    int body = 0;
    for (int v = 0; v < mb; v++) {
        const int nr = v0 + v == p->mv - 1 && p->rem < p->vw ? p->rem : p->vw;
        body += nr >= bw ? cdiv_i(nr, bw) * (es == 8 ? 16 : 40) : nr * bw * 2;
    }
#define PACK_KBLOCK(s_, d_, k0_)                                                              \
    do {                                                                                     \
        for (int v = 0; v < mb; v++)                                                         \
            pack_vec(g, s_, d_, v0 + v, v, bw, k0_, &n);                                     \
    } while (0)
    if (kb > 1 && (int64_t)kb * body > 256) {
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

// The tiles of the M blocks that start in vectors [v0, v0 + span), for the column block of
// nb columns whose first column b and cm address.
static void emit_tiles(G *g, int v0, int span, int nb, ref b, ref cm)
{
    const gen_plan *p = g->p;
    int v = 0;
    for (int i = 0; i < p->nmg; i++)
        for (int q = 0; q < p->mg[i].count; q++, v += p->mg[i].size)
            if (v >= v0 && v < v0 + span)
                emit_tile(g, v, p->mg[i].size, nb, b, off(cm, row_of(p, v) * g->I->es));
}

// N outer over the column blocks, the tiles of M blocks [v0, v0 + span) inside (emit_tiles):
// B and C are walked once, column block by column block. Identical column blocks become a
// loop where the plan has one.
static void emit_columns(G *g, int v0, int span)
{
    const gen_plan *p = g->p;
    const int64_t es = g->I->es;
    const int64_t bj = (int64_t)(p->d.tb ? 1 : p->d.ldb) * es, cj = (int64_t)p->d.ldc * es;
    int64_t col = 0;
    for (int i = 0; i < p->nng; i++) {
        const int nb = p->ng[i].size, cnt = p->ng[i].count;
        if (p->nloop && cnt > 1) {
            const xw_gpr pbn = p->g[G_PBN], pcn = p->g[G_PCN], nc = p->g[G_NC];
            xw_x86_lea(g->c, pbn, at(g, (ref){ XW_RSI, col * bj }));
            xw_x86_lea(g->c, pcn, at(g, (ref){ XW_RDX, col * cj }));
            xw_x86_mov_ri(g->c, nc, cnt);
            const size_t top = xw_x86_here(g->c);
            g->next_nb = nb;  // (the last iteration's lie past C: prefetches never fault)
            emit_tiles(g, v0, span, nb, (ref){ pbn, 0 }, (ref){ pcn, 0 });
            alu(g, XW_ADD, pbn, nb * bj);
            alu(g, XW_ADD, pcn, nb * cj);
            alu(g, XW_SUB, nc, 1);
            xw_x86_jcc_to(g->c, XW_JNZ, top);
        } else {
            for (int q = 0; q < cnt; q++) {
                g->next_nb = q + 1 < cnt ? nb : i + 1 < p->nng ? p->ng[i + 1].size : 0;
                emit_tiles(g, v0, span, nb, (ref){ XW_RSI, (col + (int64_t)q * nb) * bj },
                           (ref){ XW_RDX, (col + (int64_t)q * nb) * cj });
            }
        }
        col += (int64_t)nb * cnt;
    }
}

// ---- Small kernels whose operands come from memory wait on a few dozen misses: all lines
// of A, B and C are requested at entry, in that order, so that the misses overlap.
// Prefetches every line of a column-major rows x cols matrix at base (bytes: es each).
static int prefetch_matrix(G *g, xw_gpr base, int64_t rows, int64_t cols, int64_t ld, pf_how how)
{
    const int64_t es = g->I->es;
    int n = 0;
    if (ld == rows) {
        rows *= cols;
        cols = 1;
    }
    for (int64_t j = 0; j < cols; j++)
        n += prefetch_bytes(g, (ref){ base, 0 }, j * ld * es, (j * ld + rows) * es, how);
    return n;
}

static int prefetch_all(G *g, pf_how how)
{
    const gen_plan *p = g->p;
    const xw_desc *d = &p->d;
    int n = 0;
    n += prefetch_matrix(g, XW_RDI, d->ta ? d->k : d->m, d->ta ? d->m : d->k, d->lda, how);
    n += prefetch_matrix(g, XW_RSI, d->tb ? d->n : d->k, d->tb ? d->k : d->n, d->ldb, how);
    if (d->beta != XW_SCALE_ZERO)
        n += prefetch_matrix(g, XW_RDX, d->m, d->n, d->ldc, how);
    return n;
}

int gen_prefetch_lines(const gen_plan *p)
{
    G g = { .p = p, .I = &p->isa };
    return prefetch_all(&g, PF_COUNT);
}

// alpha ZERO or k == 0: C = beta*C without touching A or B.
static void emit_scale_only(G *g)
{
    const gen_plan *p = g->p;
    const gen_isa *I = g->I;
    if (p->d.beta == XW_SCALE_ONE)
        return;
    const int zero = 0, sreg = 1, tmp = 2;  // results in tmp + (v & 1)
    vzero(g, zero);
    if (p->d.beta == XW_SCALE_ANY)
        xw_x86_vload(g->c, I->bcst, I->vl, sreg, xw_mem_at(XW_R8, 0), xw_plain);
    const int64_t es = I->es, cj = (int64_t)p->d.ldc * es;
    const bool loop = (int64_t)p->d.n * p->mv > 64;
    ref col = { XW_RDX, 0 };
    size_t top = 0;
    if (loop) {
        xw_x86_mov_rr(g->c, p->g[G_PCN], XW_RDX);
        xw_x86_mov_ri(g->c, p->g[G_NC], p->d.n);
        top = xw_x86_here(g->c);
        col.base = p->g[G_PCN];
    }
    for (int j = 0; j < (loop ? 1 : (int)p->d.n); j++) {
        for (int v = 0; v < p->mv; v++) {
            const bool pv = v == p->mv - 1 && p->rem < p->vw;
            const ref m = off(col, j * cj + row_of(p, v) * es);
            const int out = tmp + (v & 1);
            switch (p->d.beta) {
            case XW_SCALE_MINUS_ONE:
            case XW_SCALE_ANY: op_mem(g, &g->pmem, out, p->d.beta == XW_SCALE_ANY ? sreg : zero, m, pv, out); break;
            default: break;  // ZERO
            }
            // The overlapping last vector reads C before its neighbour (v == mv-2) is stored.
            const bool defer = p->overlap && p->d.beta != XW_SCALE_ZERO;
            if (defer && v == p->mv - 2)
                continue;
            if (defer && v == p->mv - 1)
                store_vec(g, off(col, j * cj + row_of(p, v - 1) * es), tmp + ((v - 1) & 1), false);
            store_vec(g, m, p->d.beta == XW_SCALE_ZERO ? zero : out, pv);
        }
    }
    if (loop) {
        alu(g, XW_ADD, p->g[G_PCN], cj);
        alu(g, XW_SUB, p->g[G_NC], 1);
        xw_x86_jcc_to(g->c, XW_JNZ, top);
    }
}

void gen_emit(const gen_plan *p, xw_code *c, size_t *entry)
{
    G g = { .p = p, .I = &p->isa, .c = c };
    const gen_isa *I = &p->isa;
    for (int i = 0; i < (p->rem < p->vw ? 2 : 1); i++) {
        g.ld[i] = xw_x86_vprep(XW_VP_LOAD, p->mov, p->vl, i ? (xw_evex){ XW_K1, true, false } : xw_plain);
        g.st[i] = xw_x86_vprep(XW_VP_STORE, p->mov, p->vl, (xw_evex){ i ? XW_K1 : XW_K0, false, false });
    }
    g.zero = xw_x86_vprep(XW_VP_RRR, XW_VPXORQ, p->vl, xw_plain);
    if (p->d.beta == XW_SCALE_ANY || p->d.beta == XW_SCALE_MINUS_ONE)
        g.pmem = prep_memop(p, p->d.beta == XW_SCALE_ANY ? I->mul : I->sub);
    if (!p->scale_only) {
        g.bcst = xw_x86_vprep(XW_VP_LOAD, I->bcst, I->vl, xw_plain);
        const xw_insn fma = p->d.alpha == XW_SCALE_MINUS_ONE ? I->fnma : I->fma;
        g.fma = xw_x86_vprep(XW_VP_RRR, fma, p->vl, xw_plain);
        if (I->kmask)
            g.fma_eb = xw_x86_vprep(XW_VP_RRM, fma, p->vl, (xw_evex){ XW_K0, false, true });
        g.add = xw_x86_vprep(XW_VP_RRR, I->add, p->vl, xw_plain);
        if (p->d.beta != XW_SCALE_ZERO)
            g.cmem = prep_memop(p, p->d.beta == XW_SCALE_ONE ? I->add : p->d.beta == XW_SCALE_MINUS_ONE ? I->sub : I->fma);
        if (p->d.alpha == XW_SCALE_ANY) {
            g.mul = xw_x86_vprep(XW_VP_RRR, I->mul, p->vl, xw_plain);
            g.fma_c = xw_x86_vprep(XW_VP_RRR, I->fma, p->vl, xw_plain);
            g.mulm = prep_memop(p, I->mul);
        }
    }
    *entry = xw_x86_here(c);
    if (p->d.m == 0 || p->d.n == 0) {
        xw_x86_ret(c);
        return;
    }
    if (p->rem < p->vw) {  // k1 selects the rows of the last M vector (AVX-512)
        xw_x86_mov_ri(c, XW_RAX, ((int64_t)1 << p->rem) - 1);
        xw_x86_kmovw(c, XW_K1, XW_RAX);
    }
    for (int i = 0; i < p->npush; i++)
        xw_x86_push(c, p->pushed[i]);
    if (p->scratch) {  // the panel's ymm loads and stores never split a cache line
        xw_x86_mov_rr(c, p->g[G_FRAME], XW_RSP);
        alu(&g, XW_AND, XW_RSP, p->vw * p->isa.es > 32 ? -64 : -32);
        alu(&g, XW_SUB, XW_RSP, p->scratch);
    }
    if (p->scale_only) {
        emit_scale_only(&g);
    } else if (!p->pack) {
        if (p->prefetch)
            prefetch_all(&g, PF_NOW);
        emit_columns(&g, 0, p->mv);  // op(A) is reread from the cache for each column block
    } else {
        // Each M block's op(A) panel is packed once, then serves every column block.
        int v0 = 0;
        for (int i = 0; i < p->nmg; i++)
            for (int b = 0; b < p->mg[i].count; b++, v0 += p->mg[i].size) {
                emit_pack(&g, v0, p->mg[i].size);
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
