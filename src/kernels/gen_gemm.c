// gen_gemm.c: the GEMM generator's entry points. Checks and normalizes the descriptor, picks
// the ISA configuration, the register blocking (a small cost model) and how far to unroll;
// gen_plan.c completes the plan (registers, instructions, prefetches), then gen_emit.c emits
// it, retried more compactly when the code does not fit the buffer. Declines
// (XW_ERR_UNSUPPORTED): nothing to multiply (M, N or K zero, alpha zero: the route scales C
// itself), displacements beyond 2 GiB, dimensions above GEN_MAX_DIM, transposed op(A) panels
// above GEN_SCRATCH_MAX, code too large.
#include <math.h>  // INFINITY only: no libm
#include <stdio.h>

#include "gen.h"

#define GEN_MAX_DIM 4096        // beyond this the caller's BLAS is the better kernel anyway
#define GEN_FULL_UNROLL 1024    // instructions a kernel with K unrolled may have (docs/BENCHMARKS.md)
#define GEN_WALK_SMALL 1024     // bytes of op(B) up to which walking it again costs a quarter
#define GEN_B_STREAM_BYTES 4096 // op(B) larger than this is read at most 3 columns at a time ...
#define GEN_B_STREAM_COLS 3     // ... by tiles of one vector (see choose_blocking)
#define GEN_LOOP_BODY 96        // instructions in one K loop iteration

#define ISA(tgt, vl, lanes, es, nv, eb, P, S, COSTS)                                             \
    { tgt, vl, lanes, es, nv, eb, XW_VMOVU##P, XW_VMOV##S, XW_VBROADCAST##S, XW_VFMADD231##P, \
      XW_VFNMADD231##P, XW_VFMADD213##P, XW_VFMSUB213##P, XW_VMUL##P, XW_VADD##P, XW_VSUB##P,  \
      XW_VFMADDSUB132##P, XW_VFMSUBADD132##P, XW_VFMSUBADD231##P, XW_VPERMIL##P##_I, COSTS }
// Indexed by the element's part: real and complex double at 0, single at 1.
// Cost weights. AVX2 (16 registers): tuned on Zen 3 against LIBXSMM cached and streamed (the
// 17 shapes of docs/BENCHMARKS.md; see choose_blocking). AVX-512 (32 registers, 64-byte op(A)
// vectors): fitted on an Intel Xeon (family 6, model 167) over all tile limits of 57 shapes
// (the 17 and 40 random, M >= 8), cached: the chosen plan's time over the best one's, geomean
// 1.10 with the AVX2 weights, 1.006 with these (worst 1.05). A zmm load takes two load slots
// on Zen 4 (two 256-bit halves); tiles of up to 28 accumulators still leave loads room. On that
// Xeon narrow tiles over a large op(B) (b_stream) gain nothing streamed and lose cached
// (docs/BENCHMARKS.md, "The generator's choices, measured").
#define COSTS_AVX2 0.125, 0.5, 1.0, true
#define COSTS_AVX512 0.0, 0.0625, 2.0, false
static const gen_isa isa_avx2[2] = { ISA(XW_TARGET_AVX2, XW_YMM, 4, 8, 16, false, PD, SD, COSTS_AVX2),
                                     ISA(XW_TARGET_AVX2, XW_YMM, 8, 4, 16, false, PS, SS, COSTS_AVX2) };
static const gen_isa isa_avx512[2] = { ISA(XW_TARGET_AVX512, XW_ZMM, 8, 8, 32, true, PD, SD, COSTS_AVX512),
                                       ISA(XW_TARGET_AVX512, XW_ZMM, 16, 4, 32, true, PS, SS, COSTS_AVX512) };

// A scale class in a kernel's name, which keeps to [a-z0-9_]: -1 is "m1".
static const char *scale_word(uint8_t s)
{
    return s == XW_SCALE_MINUS_ONE ? "m1" : xw_scale_names()[s < XW_SCALE_COUNT ? s : XW_SCALE_ANY];
}

static char trans_letter(uint8_t t) { return t == XW_TRANS_N ? 'n' : t == XW_TRANS_C ? 'c' : 't'; }

// A plan asked for (tuning hints) ends the name: "_p3x8" (0 where only the other is limited).
// The precision letter as in BLAS: d, s, z, c.
void xw_gen_name(const xw_desc *d, xw_target t, char *out, size_t n)
{
    char plan[16] = "";
    if (d->mb_max || d->nb_max)
        snprintf(plan, sizeof plan, "_p%ux%u", d->mb_max, d->nb_max);
    const char letter = d->prec == XW_F64 ? 'd' : d->prec == XW_F32 ? 's' : d->prec == XW_C64 ? 'z' : 'c';
    const char *tn = t == XW_TARGET_AVX512 ? "avx512" : t == XW_TARGET_AVX2 ? "avx2" : "portable";
    if (d->ta == XW_TRANS_DOT) {  // "dgemv_avx2_t_24x24_lda24_incx1_incy1_a1_b1": m x k
        snprintf(out, n, "%cgemv_%s_t_%ux%u_lda%u_incx%u_incy%u_a%s_b%s%s", letter, tn, d->m, d->k,
                 d->lda, d->ldb, d->ldc, scale_word(d->alpha), scale_word(d->beta), plan);
        return;
    }
    snprintf(out, n, "%cgemm_%s_%c%c_%ux%ux%u_lda%u_ldb%u_ldc%u_a%s_b%s%s", letter, tn, trans_letter(d->ta),
             trans_letter(d->tb), d->m, d->n, d->k, d->lda, d->ldb, d->ldc, scale_word(d->alpha), scale_word(d->beta),
             plan);
}

// Bytes spanned by a column-major rows x cols matrix must stay addressable with disp32.
static bool span_ok(uint64_t rows, uint64_t cols, uint64_t ld, int es)
{
    return rows == 0 || cols == 0 || ((cols - 1) * ld + rows) * (uint64_t)es < ((uint64_t)1 << 31) - 4096;
}

static int cdiv(int a, int b) { return (a + b - 1) / b; }

// Splits `total` into the fewest blocks of at most `most`, as even as possible (the larger first).
static int split(int total, int most, gen_group g[2])
{
    const int q = cdiv(total, most), base = total / q, r = total % q;
    int n = 0;
    if (r) g[n++] = (gen_group){ base + 1, r };
    g[n++] = (gen_group){ base, q - r };
    return n;
}

// Instructions of one k step of a tile of mb vectors by nb columns (u*nb broadcasts).
static int kstep_insns(const gen_plan *p, int mb, int nb)
{
    const int nbc = p->u * nb;
    return p->isa.ebcst && mb == 1 ? 1 + nbc : mb + nbc + mb * nbc;
}

static double dmax(double a, double b) { return a > b ? a : b; }

// Share of op(A)'s vector loads that cross a 64-byte line, each then taking two loads' worth
// of the load ports, with A 64-byte aligned: leading dimensions that are not a multiple of the
// line (29: 3 of 8 ymm loads) make wide tiles, with fewer op(A) loads per FMA, the better ones
// (29x19x25: a tile of 8 x 1 reached 52% of peak). Packed panels are aligned: none.
static double a_split_share(const gen_plan *p)
{
    const int64_t bytes = (int64_t)p->vw * p->isa.es, col = (int64_t)p->lda * p->isa.es;
    if (p->pack || bytes <= 8)
        return 0.0;
    int split = 0, total = 0;
    for (int64_t c = 0; c < 16; c++)  // columns of 4 or 8-byte elements repeat mod 64 within 16
        for (int v = 0; v < p->mv; v++) {
            split += (c * col + gen_row(p, v) * p->isa.es) % 64 + bytes > 64;
            total++;
        }
    return (double)split / total;
}

// Cycles of one tile: FMA pipes (2), load ports (2), front end (4), the latency of an
// accumulator chain (4 cycles per FMA), plus the epilogue. Accumulators beyond half the
// register file leave too few registers for loads to run ahead of the FMAs: on Zen 3 (AVX2)
// tiles of 8 accumulators beat tiles of 12 at 16^3, 24^3, 8x64x8 and 64x8x8 by 10-20%
// (acc_penalty and walk_cost chosen together, cached and streamed: see choose_blocking).
// A complex tile is a real one of mb vectors by u*nb broadcast columns in its k steps; its
// epilogue takes per vector a swap and a fused add-subtract (two ports' worth), three more
// instructions for alpha any and five for beta any (gen_zepi.c).
static double tile_cycles(const gen_plan *p, int mb, int nb)
{
    const int k = (int)p->d.k, nbc = p->u * nb, over = mb * nbc - p->isa.nvregs / 2;
    double per = mb * nbc / 2.0 + p->isa.acc_penalty * (over > 0 ? over : 0);
    per = dmax(per, (mb * p->isa.a_load * (1.0 + p->a_split) + nbc) / 2.0);
    per = dmax(per, kstep_insns(p, mb, nb) / 4.0);
    const double body = dmax(k * per, 4.0 * k);  // one chain per element (the contract)
    const bool beta0 = p->d.beta == XW_SCALE_ZERO;
    if (p->u == 1)
        return body + mb * nb * (beta0 ? 0.5 : 1.0) + 4;
    const double per_vec = 1.5 + (p->d.alpha == XW_SCALE_ANY ? 1.5 : 0.0)
                           + (beta0 ? 0.5 : p->d.beta == XW_SCALE_ANY ? 2.5 : 1.0);
    return body + mb * nb * per_vec + 6;
}

// Picks the cheapest blocking by the cost model; every candidate also goes to `seen` (up to
// `most` of them) when it is given.
static void choose_blocking(gen_plan *p, xw_gen_choice *seen, int most, int *nseen)
{
    const int R = p->isa.nvregs, n = (int)p->d.n;
    // An op(B) that small stays in L1 after its first walk (64x8x8: 0.92 -> 1.25x LIBXSMM
    // cached, streamed still 1.1x).
    // Complex elements are two broadcasts each: u times the walk.
    const int64_t bbytes = (int64_t)n * p->d.k * p->isa.es * p->u;
    const double walk = p->u * p->isa.walk_cost * (bbytes <= GEN_WALK_SMALL ? 0.25 : 1.0);
    // An overlapping last vector must share a tile with its neighbour when C is read.
    const bool pair = p->overlap && p->d.beta != XW_SCALE_ZERO;
    int mbmost = p->mv < GEN_MB_MAX ? p->mv : GEN_MB_MAX, mbleast = 1;
    if (p->d.mb_max)  // a plan asked for (tuning): that limit only
        mbleast = mbmost = p->d.mb_max < mbmost ? p->d.mb_max : mbmost;
    double best = INFINITY;
    // Limits that give the same number of blocks give the same split, hence the same cost:
    // only the first of them is evaluated (a tie never replaces the best).
    int last_mq = 0;
    for (int mbmax = mbleast; mbmax <= mbmost; mbmax++) {
        gen_group mg[2] = { { 0, 0 }, { 0, 0 } }, ng[2] = { { 0, 0 }, { 0, 0 } };
        if (cdiv(p->mv, mbmax) == last_mq)
            continue;
        last_mq = cdiv(p->mv, mbmax);
        const int nmg = split(p->mv, mbmax, mg), mb = mg[0].size;
        if (pair && mg[nmg - 1].size == 1) {  // the smaller blocks go first then
            if (nmg == 1)
                continue;
            const gen_group t = mg[0];
            mg[0] = mg[1];
            mg[1] = t;
        }
        if (p->pack && (int64_t)mb * p->vw * p->d.k * p->isa.es > GEN_SCRATCH_MAX)
            break;
        int nbcap = n < GEN_NB_MAX ? n : GEN_NB_MAX;
        // A tile of one vector uses each op(B) element once, and wide ones keep op(A)'s loads
        // few; but a large op(B) coming from memory is read fastest a few columns at a time:
        // wide tiles lead LIBXSMM cached and trail it streamed, narrow ones lead both (4x64x26,
        // docs/BENCHMARKS.md, --random). Scalar tiles (M = 1) gain little streamed and lose
        // more cached (1x50x17: +4%, -18%): left wide.
        if (p->isa.b_stream && p->mv == 1 && p->memop && !p->d.tb && bbytes > GEN_B_STREAM_BYTES)
            nbcap = nbcap < GEN_B_STREAM_COLS ? nbcap : GEN_B_STREAM_COLS;
        int last_nq = 0, nbleast = 1;
        if (p->d.nb_max)
            nbleast = nbcap = p->d.nb_max < n ? p->d.nb_max : n;
        for (int nbmax = nbleast; nbmax <= nbcap; nbmax++) {
            if (gen_tile_regs(p, mb, nbmax) > R)
                break;
            if (cdiv(n, nbmax) == last_nq)
                continue;
            last_nq = cdiv(n, nbmax);
            const int nng = split(n, nbmax, ng);
            // Each M block walks op(B) again, and narrow blocks cut op(A)'s columns into pieces:
            // operands coming from memory are read fastest in few, long runs. Against LIBXSMM on
            // Zen 3 (the 17 shapes of docs/BENCHMARKS.md, same run), these weights gave geomeans
            // of 1.23 cached and 1.23 streamed; a walk cost of 0.125 with a penalty of 0.25 gave
            // 1.24 and 1.17, streamed 24^3 at 0.91 (three M blocks of 8 rows read A in passes).
            const int mblocks = mg[0].count + (nmg > 1 ? mg[1].count : 0);
            double cost = walk * mblocks * n * (double)p->d.k;
            for (int i = 0; i < nmg; i++)
                for (int j = 0; j < nng; j++)
                    cost += mg[i].count * ng[j].count * (tile_cycles(p, mg[i].size, ng[j].size) + 1.0);
            if (seen && *nseen < most)
                seen[(*nseen)++] = (xw_gen_choice){ (uint8_t)mbmax, (uint8_t)nbmax, cost };
            if (cost < best) {
                best = cost;
                p->nmg = nmg;
                p->nng = nng;
                for (int i = 0; i < 2; i++) {
                    p->mg[i] = mg[i];
                    p->ng[i] = ng[i];
                }
            }
        }
    }
}

// Instructions the plan emits at its current unrolling (an estimate for choosing the level).
static int64_t estimate_insns(const gen_plan *p)
{
    int64_t total = 16;
    const int k = (int)p->d.k;
    for (int i = 0; i < p->nmg; i++) {
        int64_t per_mblock = p->pack ? 2 * (int64_t)p->mg[i].size * p->vw * (k < 128 ? k : 128) : 0;
        for (int j = 0; j < p->nng; j++) {
            const int mb = p->mg[i].size, nb = p->ng[j].size;
            const int64_t ahead = p->ahead ? (int64_t)nb * ((mb * p->vw + p->u * k) * p->isa.es / 64 + 4) : 0;
            const int peel = gen_peel_steps(p, (int)(ahead < GEN_AHEAD_MAX ? ahead : GEN_AHEAD_MAX));
            const int64_t steps = gen_k_looped(p, peel) ? peel + p->kunroll + (k - peel) % p->kunroll : k;
            const int64_t tile = steps * kstep_insns(p, mb, nb) + (p->u == 2 ? 9 : 3) * (int64_t)mb * nb + 12 + ahead;
            per_mblock += tile * (p->nloop && p->ng[j].count > 1 ? 1 : p->ng[j].count);
        }
        total += per_mblock * p->mg[i].count;
    }
    return total;
}

// Unrolling levels, most unrolled first: 0 all unrolled, 1 loop over N blocks, 2 K loop of
// about GEN_LOOP_BODY instructions, 3 K loop of one step.
static void set_level(gen_plan *p, int level)
{
    p->nloop = level >= 1;
    p->kunroll = (int)p->d.k;
    if (level >= 2) {
        int most = 1;
        for (int i = 0; i < p->nmg; i++)
            for (int j = 0; j < p->nng; j++) {
                const int s = kstep_insns(p, p->mg[i].size, p->ng[j].size);
                most = s > most ? s : most;
            }
        const int u = level == 2 ? GEN_LOOP_BODY / most : 1;
        p->kunroll = u < 1 ? 1 : u;
    }
}

// Whether AVX-512's zmm vectors beat the VEX body the AVX2 target would use. Below one zmm
// (M not a power of two) the k1-masked vector halves the FMAs but takes C in two pieces per
// column; with M just over one zmm two zmm replace three ymm, and their loads and stores of C
// split cache lines more often. Either saving needs enough k steps per column of C: measured
// against the AVX2 target on the same core (Xeon family 6 model 167; DP M 3..30, SP M 3..15;
// N 2..25, K 1..25), zmm lost up to 28% below these bounds and won up to 1.38x above them
// (docs/BENCHMARKS.md, "The generator's choices, measured").
static bool zmm_pays(const gen_plan *p)
{
    const int lanes = p->isa.lanes, ymm = isa_avx2[p->d.prec & 1].lanes;
    const uint64_t nk = (uint64_t)p->d.n * p->d.k;
    if (p->rows < (uint32_t)lanes) {
        if (!(p->rows & (p->rows - 1)))
            return false;  // one VEX vector of exactly M rows
        int vex = ymm;
        while ((uint32_t)vex > p->rows)
            vex /= 2;
        return nk >= (vex * p->isa.es >= 32 ? 48u : 150u);  // xmm pieces overlap cheaply
    }
    const int zmm_mv = cdiv((int)p->rows, lanes), ymm_mv = cdiv((int)p->rows, ymm);
    return 3 * zmm_mv < 2 * ymm_mv || (p->d.k >= 5 && nk >= 48);  // two zmm for three ymm
}

// The plan's fixed part for d on target t: ISA, vectors along M, operand checks.
static xw_status plan_init(gen_plan *p, const xw_desc *d, xw_target t)
{
    const bool cx = d->prec == XW_C64 || d->prec == XW_C32;
    const unsigned tmax = cx ? XW_TRANS_C : XW_TRANS_T;  // a real descriptor has no 'C'
    if ((t != XW_TARGET_AVX2 && t != XW_TARGET_AVX512) || d->prec > XW_C32 || d->ta > tmax || d->tb > tmax
        || d->alpha > XW_SCALE_ANY || d->beta > XW_SCALE_ANY || d->alpha == XW_SCALE_ZERO)
        return XW_ERR_UNSUPPORTED;
    if (!d->m || !d->n || !d->k || d->m > GEN_MAX_DIM || d->n > GEN_MAX_DIM || d->k > GEN_MAX_DIM
        || !d->lda || !d->ldb || !d->ldc || (cx && (d->lda > UINT32_MAX / 2 || d->ldb > UINT32_MAX / 2
                                                   || d->ldc > UINT32_MAX / 2)))
        return XW_ERR_UNSUPPORTED;
    *p = (gen_plan){ .d = *d };
    if (p->d.ta && p->d.m == 1) {  // a 1 x k op(A) is contiguous either way
        p->d.ta = 0;
        p->d.lda = 1;
    }
    // Everything below is in parts (gen.h): M rows, leading dimensions, vectors.
    p->u = cx ? 2 : 1;
    p->conj_a = d->ta == XW_TRANS_C;
    p->conj_b = d->tb == XW_TRANS_C;
    p->rows = p->u * d->m;
    p->lda = p->u * p->d.lda;
    p->ldb = p->u * d->ldb;
    p->ldc = p->u * d->ldc;
    p->isa = (t == XW_TARGET_AVX512 ? isa_avx512 : isa_avx2)[d->prec & 1];
    // AVX-512 takes the VEX body where zmm does not pay (zmm_pays); with M below one zmm
    // otherwise one k1-masked zmm vector (gen.h), which does half the work of two overlapping
    // narrower ones. Intel Xeon (family 6 model 167), cached, time of LIBXSMM's kernel over
    // ours, 24 random shapes each: DP M in 3..7 geomean 1.12 (masked) against 0.86 (VEX); SP M
    // in 3..15, 1.02 against 0.76; M = 4 (4x30x20, 4x8x64): VEX 20-25% faster. (Complex: M
    // elements are 2M parts, so a power of two still means one vector, and the partial
    // vector's parts are whole elements.)
    if (t == XW_TARGET_AVX512 && !zmm_pays(p)) {
        p->isa = isa_avx2[d->prec & 1];
        p->isa.target = XW_TARGET_AVX512;
        p->isa.b_stream = isa_avx512[d->prec & 1].b_stream;
    } else if (t == XW_TARGET_AVX512 && p->rows < (uint32_t)p->isa.lanes) {
        p->part = (int)p->rows;
        p->acc0 = 4;
    }
    const int es = p->isa.es;
    const uint64_t u = (uint64_t)p->u;
    p->pack = p->d.ta;
    if (!span_ok(p->rows, d->n, p->ldc, es)
        || !span_ok(p->d.ta ? u * d->k : p->rows, p->d.ta ? d->m : d->k, p->lda, es)
        || !span_ok(u * (d->tb ? d->n : d->k), d->tb ? d->k : d->n, p->ldb, es))
        return XW_ERR_UNSUPPORTED;
    // The widest of the register and its halves down to 4 bytes within M (complex: at least
    // one element, as 2M parts are at least two).
    p->vw = p->isa.lanes;
    while (!p->part && p->vw > 1 && (uint32_t)p->vw > p->rows)
        p->vw /= 2;
    p->vl = p->vw * es == 64 ? XW_ZMM : p->vw * es == 32 ? XW_YMM : XW_XMM;
    p->mov = p->vw * es >= 16 ? p->isa.movu : p->vw * es == 8 ? XW_VMOVSD : XW_VMOVSS;
    p->memop = p->vw * es >= 16;
    p->mv = cdiv((int)p->rows, p->vw);
    p->overlap = !p->part && p->rows % p->vw != 0;

    p->a_split = a_split_share(p);
    return XW_OK;
}

int xw_gen_choices(const xw_desc *d, xw_target t, xw_gen_choice *out, int most)
{
    gen_plan p;
    xw_desc free_plan = *d;
    free_plan.mb_max = free_plan.nb_max = 0;
    if (most <= 0 || d->ta == XW_TRANS_DOT || plan_init(&p, &free_plan, t) != XW_OK)
        return 0;
    int n = 0;
    choose_blocking(&p, out, most, &n);
    for (int i = 1; i < n; i++)  // cheapest first (insertion sort: a few dozen at most)
        for (int j = i; j > 0 && out[j].cost < out[j - 1].cost; j--) {
            const xw_gen_choice x = out[j];
            out[j] = out[j - 1];
            out[j - 1] = x;
        }
    return n;
}

xw_status xw_gen_gemm(const xw_desc *d, xw_target t, xw_code *c, size_t *entry)
{
    if (c->err)
        return c->err;
    if (d->ta == XW_TRANS_DOT)
        return gen_dot(d, t, c, entry);
    gen_plan p;
    const xw_status st = plan_init(&p, d, t);
    if (st != XW_OK)
        return st;
    choose_blocking(&p, NULL, 0, NULL);
    if (!p.nmg)
        return XW_ERR_UNSUPPORTED;  // no blocking fits (the panel exceeds the scratch)
    gen_plan_finish(&p);
    int first;
    for (first = 0; first < 3; first++) {
        set_level(&p, first);
        if (estimate_insns(&p) <= (first < 2 ? GEN_FULL_UNROLL : (int64_t)(c->cap - c->len) / 12))
            break;
    }
    set_level(&p, 3);
    if (c->len > c->cap || estimate_insns(&p) * 4 > (int64_t)(c->cap - c->len))
        return XW_ERR_UNSUPPORTED;  // cannot fit even as loops (4 bytes per instruction at least)
    const size_t start = c->len;
    for (int level = first; level <= 3; level++) {
        set_level(&p, level);
        gen_plan_gprs(&p);
        c->len = start;
        gen_emit(&p, c, entry);
        if (c->err != XW_ERR_NOMEM)
            return c->err;
        c->err = XW_OK;
    }
    c->len = start;
    return XW_ERR_UNSUPPORTED;
}
