// gen_dot.c: kernels of the dot form (XW_TRANS_DOT: GEMV T, y = alpha*A^T x + beta*y) for both
// targets. Each element of y is a dot product over a contiguous column of A, in the lanes of
// one 64-byte chunk (ref_dot.c's contract): one zmm on AVX-512, two ymm halves on AVX2, reduced
// by halving, then the GEMM contract's epilogue on the one element. G outputs share each chunk
// of x, so a k step of a group is one load of x and G FMAs reading A from memory.
//
// A group's sums come out one vector in y's order when y is contiguous (reduce_group), else
// one element at a time (reduce_one). An AVX-512 target takes the AVX2 body where zmm does not
// pay (dot_zmm_pays): both give the same bits.
//
// Registers: rdi A (advanced a group at a time), rsi x (or rsp: x packed there when incx is not
// 1, zero past k), rdx y, rcx &alpha, r8 &beta, rax the group counter. Vectors: the G
// accumulators (two each on AVX2) from v0, then x's chunk, a temporary, AVX2's mask of the
// last chunk, alpha and beta. The last chunk's lanes past k are never read: AVX-512 loads x's
// under k1 (zeroing) and takes A's in k1-merging FMAs (masked-off elements are not read),
// AVX2 loads both with VMASKMOV (zeros, no fault); the FMAs of wholly empty halves are left
// out (exact: a lane sum is never -0, ref_dot.c). y is read and written element by element or
// a group's vector at once, never past its m elements.
#include "gen.h"

typedef struct {
    xw_code *c;
    const xw_desc *d;
    bool evex;           // AVX-512 (one zmm a chunk) or AVX2 (two ymm halves)
    int es, lanes, half; // element bytes, lanes of a chunk, lanes of a half (AVX2)
    int nc, tail;        // chunks, live lanes of the last one (lanes when full)
    int G;               // outputs a group
    xw_insn fma, add, movu, movs, align, mask;
    xw_vreg x[2], t, vm, alpha, beta;
    xw_gpr xb;           // x's base: rsi or rsp
} dot_gen;

static xw_vreg acc(const dot_gen *g, int j, int h) { return xw_v((unsigned)(g->evex ? j : 2 * j + h)); }

// Live lanes of half h (AVX2) of chunk ch, or of the chunk (AVX-512, h 0).
static int live(const dot_gen *g, int ch, int h)
{
    const int n = ch == g->nc - 1 ? g->tail : g->lanes;
    if (g->evex)
        return n;
    const int l = n - h * g->half;
    return l <= 0 ? 0 : l > g->half ? g->half : l;
}

// A chunk (zmm) or half (ymm) of which n lanes are live, into dst: whole, or the rest zeros.
static void load_piece(const dot_gen *g, xw_vreg dst, xw_mem m, int n)
{
    const int full = g->evex ? g->lanes : g->half;
    const xw_vl vl = g->evex ? XW_ZMM : XW_YMM;
    if (n == full)
        xw_x86_vload(g->c, g->movu, vl, dst, m, xw_plain);
    else if (g->evex)
        xw_x86_vload(g->c, g->movu, vl, dst, m, (xw_evex){ XW_K1, true, false });
    else
        xw_x86_vop_rrm(g->c, g->mask, vl, dst, g->vm, m, xw_plain);
}

// The contract's epilogue (ref.h) of the classes on the sums in s (lane 0, or the vl-wide
// vector of a group), with y at m: y read and written one element or one vector wide.
static void epilogue(const dot_gen *g, xw_vreg s, xw_vl vl, xw_mem y, bool wide)
{
    xw_code *c = g->c;
    const xw_desc *d = g->d;
    const xw_vreg t = g->t;
    const bool any = d->alpha == XW_SCALE_ANY, dp = g->es == 8;
    const xw_insn mul = dp ? XW_VMULPD : XW_VMULPS, sub = dp ? XW_VSUBPD : XW_VSUBPS;
    const xw_insn f213 = dp ? XW_VFMSUB213PD : XW_VFMSUB213PS, f231 = dp ? XW_VFMADD231PD : XW_VFMADD231PS;
    const xw_insn mov = wide ? g->movu : g->movs;
    xw_vreg out = s;
    if (d->beta == XW_SCALE_ZERO) {
        if (any)
            xw_x86_vop_rrr(c, mul, vl, s, s, g->alpha);
    } else {
        xw_x86_vload(c, mov, wide ? vl : XW_XMM, t, y, xw_plain);
        if (d->beta == XW_SCALE_ONE) {
            if (any) {
                xw_x86_vop_rrr(c, f231, vl, t, g->alpha, s);  // alpha*s + c
                out = t;
            } else {
                xw_x86_vop_rrr(c, g->add, vl, s, s, t);
            }
        } else if (d->beta == XW_SCALE_MINUS_ONE) {
            if (any)
                xw_x86_vop_rrr(c, f213, vl, s, g->alpha, t);  // s*alpha - c
            else
                xw_x86_vop_rrr(c, sub, vl, s, s, t);
        } else if (any) {
            xw_x86_vop_rrr(c, mul, vl, t, t, g->beta);  // c*beta
            xw_x86_vop_rrr(c, f231, vl, t, g->alpha, s);
            out = t;
        } else {
            xw_x86_vop_rrr(c, f231, vl, s, g->beta, t);  // beta*c + s
        }
    }
    xw_x86_vstore(c, mov, wide ? vl : XW_XMM, y, out, XW_K0);
}

// y(j) alone: its lanes halved down to lane 0 (registers below 16: everything narrower than
// a zmm is VEX), then the epilogue one element wide.
static void reduce_one(const dot_gen *g, int j)
{
    xw_code *c = g->c;
    const xw_vreg s = acc(g, j, 0), t = g->t;
    for (int w = (g->evex ? g->lanes : g->half) / 2; w >= 1; w /= 2) {
        const xw_vl from = w * 2 * g->es == 64 ? XW_ZMM : w * 2 * g->es == 32 ? XW_YMM : XW_XMM;
        if (from == XW_ZMM)
            xw_x86_vop_rrri(c, g->align, from, t, s, s, (uint8_t)w);
        else if (from == XW_YMM)
            xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, t, s, s, 0x01);
        else if (g->es == 8)
            xw_x86_vop_rri(c, XW_VPERMILPD_I, XW_XMM, t, s, 0x1);
        else
            xw_x86_vop_rri(c, XW_VPERMILPS_I, XW_XMM, t, s, w == 2 ? 0x4E : 0xB1);
        xw_x86_vop_rrr(c, g->add, w * g->es == 32 ? XW_YMM : XW_XMM, s, s, t);
    }
    epilogue(g, s, XW_XMM, xw_mem_at(XW_RDX, (int32_t)((int64_t)j * g->d->ldc * g->es)), false);
}

// A whole group with y contiguous: the halving of all its elements at once, each
// step adding two vectors that hold a half of the lanes of several elements, so the sums come
// out in one vector in y's order, and one epilogue a vector wide. Each element's additions are
// those of reduce_one (addition commutes). AVX-512, 8 elements: zmm pairs (y0, y2), (y4, y6),
// (y1, y3), (y5, y7) -> their 256-bit halves added; then 128-bit blocks added -> (y0 y2 y4
// y6) and (y1 y3 y5 y7); then adjacent lanes -> y0..y7. AVX2, 4 elements: (y0, y2), (y1, y3)
// -> 128-bit halves added; then adjacent lanes -> y0..y3. Singles take two steps more.
static void reduce_group(const dot_gen *g)
{
    xw_code *c = g->c;
    const xw_vreg t = g->t;
    const xw_vl vl = g->evex ? XW_ZMM : XW_YMM;
    xw_vreg lo = acc(g, 0, 0), hi = acc(g, 1, 0);
    if (g->evex) {
        const xw_vreg u = g->x[1];
        static const int pairs[4][2] = { { 0, 2 }, { 4, 6 }, { 1, 3 }, { 5, 7 } };
        for (int p = 0; p < 4; p++) {
            const xw_vreg a = acc(g, pairs[p][0], 0), b = acc(g, pairs[p][1], 0);
            xw_x86_vop_rrri(c, XW_VSHUFF64X2, XW_ZMM, t, a, b, 0x44);
            xw_x86_vop_rrri(c, XW_VSHUFF64X2, XW_ZMM, u, a, b, 0xEE);
            xw_x86_vop_rrr(c, g->add, XW_ZMM, a, t, u);
        }
        for (int p = 0; p < 2; p++) {  // (y0 y2 | y4 y6) into y0's, (y1 y3 | y5 y7) into y1's
            const xw_vreg a = acc(g, p, 0), b = acc(g, p + 4, 0);
            xw_x86_vop_rrri(c, XW_VSHUFF64X2, XW_ZMM, t, a, b, 0x88);
            xw_x86_vop_rrri(c, XW_VSHUFF64X2, XW_ZMM, u, a, b, 0xDD);
            xw_x86_vop_rrr(c, g->add, XW_ZMM, a, t, u);
        }
    } else {
        for (int p = 0; p < 2; p++) {  // (y0, y2) into y0's, (y1, y3) into y1's
            const xw_vreg a = acc(g, p, 0), b = acc(g, p + 2, 0), u = acc(g, p, 1);
            xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, t, a, b, 0x20);
            xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, u, a, b, 0x31);
            xw_x86_vop_rrr(c, g->add, XW_YMM, a, t, u);
        }
    }
    const xw_vreg u = g->evex ? g->x[1] : acc(g, 0, 1);
    if (g->es == 8) {
        xw_x86_vop_rrr(c, XW_VUNPCKLPD, vl, t, lo, hi);
        xw_x86_vop_rrr(c, XW_VUNPCKHPD, vl, u, lo, hi);
        xw_x86_vop_rrr(c, g->add, vl, lo, t, u);
        epilogue(g, lo, vl, xw_mem_at(XW_RDX, 0), true);
        return;
    }
    // Singles: two more halvings in each 128-bit block, (y0 y1 | y2 y3 | ...) then each sum
    // in a 64-bit lane per block, whose lanes 0 of every block are gathered into the low half.
    xw_x86_vop_rrri(c, XW_VSHUFPS, vl, t, lo, hi, 0x44);
    xw_x86_vop_rrri(c, XW_VSHUFPS, vl, u, lo, hi, 0xEE);
    xw_x86_vop_rrr(c, g->add, vl, lo, t, u);
    xw_x86_vop_rrri(c, XW_VSHUFPS, vl, t, lo, lo, 0x88);
    xw_x86_vop_rrri(c, XW_VSHUFPS, vl, u, lo, lo, 0xDD);
    xw_x86_vop_rrr(c, g->add, vl, lo, t, u);
    if (g->evex) {
        xw_x86_vop_rrri(c, XW_VALIGNQ, XW_ZMM, t, lo, lo, 2);      // block b+1 into block b
        xw_x86_vop_rrr(c, XW_VUNPCKLPD, XW_ZMM, u, lo, t);          // block b: (y2b y2b+1 y2b+2 y2b+3)
        xw_x86_vop_rrri(c, XW_VSHUFF64X2, XW_ZMM, lo, u, u, 0x08);  // blocks 0 and 2 first: y0..y7
        epilogue(g, lo, XW_YMM, xw_mem_at(XW_RDX, 0), true);
    } else {
        xw_x86_vop_rrri(c, XW_VPERM2F128, XW_YMM, t, lo, lo, 0x01);
        xw_x86_vop_rrr(c, XW_VUNPCKLPD, XW_XMM, lo, lo, t);         // y0..y3
        epilogue(g, lo, XW_XMM, xw_mem_at(XW_RDX, 0), true);
    }
}

// y(i) for i in [0, n) of the group at rdi/rdx: the chunks, the halving, the epilogue.
static void emit_group(const dot_gen *g, int n)
{
    xw_code *c = g->c;
    const xw_desc *d = g->d;
    const int64_t col = (int64_t)d->lda * g->es;
    const xw_vl vl = g->evex ? XW_ZMM : XW_YMM;
    for (int j = 0; j < n; j++)
        for (int h = 0; h < (g->evex ? 1 : 2); h++)
            xw_x86_vop_rrr(c, XW_VPXORQ, vl, acc(g, j, h), acc(g, j, h), acc(g, j, h));
    for (int ch = 0; ch < g->nc; ch++)
        for (int h = 0; h < (g->evex ? 1 : 2); h++) {
            const int l = live(g, ch, h);
            if (!l)
                continue;
            const int32_t off = ch * 64 + h * 32;
            load_piece(g, g->x[h], xw_mem_at(g->xb, off), l);
            const bool whole = l == (g->evex ? g->lanes : g->half);
            for (int j = 0; j < n; j++) {
                const xw_mem a = xw_mem_at(XW_RDI, (int32_t)(j * col) + off);
                if (whole) {
                    xw_x86_vop_rrm(c, g->fma, vl, acc(g, j, h), g->x[h], a, xw_plain);
                } else if (g->evex) {  // lanes past k: kept, and not read (fault suppression)
                    xw_x86_vop_rrm(c, g->fma, vl, acc(g, j, h), g->x[h], a, (xw_evex){ XW_K1, false, false });
                } else {
                    load_piece(g, g->t, a, l);
                    xw_x86_vop_rrr(c, g->fma, vl, acc(g, j, h), g->x[h], g->t);
                }
            }
        }
    // AVX2: each element's halves summed first, where the second was used.
    if (!g->evex && (g->nc > 1 || g->tail > g->half))
        for (int j = 0; j < n; j++)
            xw_x86_vop_rrr(c, g->add, XW_YMM, acc(g, j, 0), acc(g, j, 0), acc(g, j, 1));
    if (n == g->G && d->ldc == 1)
        reduce_group(g);
    else
        for (int j = 0; j < n; j++)
            reduce_one(g, j);
}

// Whether AVX-512's one zmm a chunk beats the two ymm halves of the AVX2 body (the same bits
// either way). A last chunk of at most half its lanes costs the zmm body a masked FMA per
// element where the halves take one unmasked ymm; one chunk and no whole group of 8 leaves the
// zmm body a longer halving per element. Whole dgemv_ T, Xeon family 6 model 167, A 64-byte
// aligned, m 1..40, k 3..64, zmm time over ymm time: tails of 1..4 doubles 1.03-1.87, of 5..7
// 0.84-1.08, none 0.73-1.0; k <= 8 and m < 8 up to 1.16.
static bool dot_zmm_pays(const xw_desc *d, uint32_t lanes)
{
    const uint32_t tail = d->k % lanes;
    if (tail && tail <= lanes / 2)
        return false;
    return d->k > lanes || d->m >= 8;
}

static bool fits32(uint64_t x) { return x < ((uint64_t)1 << 31) - 4096; }

bool gen_dot_fits(const xw_desc *d)
{
    const uint64_t es = xw_prec_part_bytes(d->prec);
    return d->ta == XW_TRANS_DOT && (d->prec == XW_F64 || d->prec == XW_F32) && d->n == 1 && d->m && d->k &&
           d->k <= XW_DOT_BYTES_MAX / es && d->lda >= d->k && d->ldb && d->ldc &&
           fits32((uint64_t)d->lda * es * 8) && fits32((uint64_t)d->ldc * es * 8) &&
           fits32((uint64_t)d->ldb * es * d->k);
}

xw_status gen_dot(const xw_desc *d, xw_target t, xw_code *c, size_t *entry)
{
    if (!gen_dot_fits(d) || (t != XW_TARGET_AVX2 && t != XW_TARGET_AVX512))
        return XW_ERR_UNSUPPORTED;
    const size_t start = c->len;
    const bool dp = d->prec == XW_F64;
    dot_gen g = { .c = c, .d = d, .evex = t == XW_TARGET_AVX512 && dot_zmm_pays(d, dp ? 8 : 16) };
    g.es = dp ? 8 : 4;
    g.lanes = 64 / g.es;
    g.half = g.lanes / 2;
    g.nc = (int)((d->k + (uint32_t)g.lanes - 1) / (uint32_t)g.lanes);
    g.tail = (int)(d->k - (uint32_t)(g.nc - 1) * (uint32_t)g.lanes);
    g.G = g.evex ? 8 : 4;
    const bool neg = d->alpha == XW_SCALE_MINUS_ONE;
    g.fma = dp ? (neg ? XW_VFNMADD231PD : XW_VFMADD231PD) : (neg ? XW_VFNMADD231PS : XW_VFMADD231PS);
    g.add = dp ? XW_VADDPD : XW_VADDPS;
    g.movu = dp ? XW_VMOVUPD : XW_VMOVUPS;
    g.movs = dp ? XW_VMOVSD : XW_VMOVSS;
    g.align = dp ? XW_VALIGNQ : XW_VALIGND;
    g.mask = dp ? XW_VMASKMOVPD : XW_VMASKMOVPS;
    const unsigned v = (unsigned)(g.evex ? g.G : 2 * g.G);
    g.x[0] = xw_v(v);
    g.x[1] = xw_v(v + 1);
    g.t = xw_v(v + 2);
    g.vm = xw_v(v + 3);
    g.alpha = xw_v(v + 4);
    g.beta = xw_v(v + 5);

    // AVX2's mask of the last chunk's partial half, as data before the entry.
    const int part = g.tail % g.half;
    int32_t mask_at = 0;
    if (!g.evex && part) {
        uint8_t bytes[32] = { 0 };
        memset(bytes, 0xFF, (size_t)(part * g.es));
        mask_at = (int32_t)xw_x86_data(c, bytes, sizeof bytes, 32);
    }
    *entry = xw_x86_here(c);
    if (g.evex && g.tail < g.lanes) {
        xw_x86_mov_ri(c, XW_RAX, ((int64_t)1 << g.tail) - 1);
        xw_x86_kmovw(c, XW_K1, XW_RAX);
    }
    if (!g.evex && part)
        xw_x86_vload(c, XW_VMOVUPD, XW_YMM, g.vm, xw_mem_rip(mask_at), xw_plain);
    // alpha and beta in every lane (the groups' epilogue is a vector wide).
    const xw_insn bcst = dp ? XW_VBROADCASTSD : XW_VBROADCASTSS;
    if (d->alpha == XW_SCALE_ANY)
        xw_x86_vload(c, bcst, g.evex ? XW_ZMM : XW_YMM, g.alpha, xw_mem_at(XW_RCX, 0), xw_plain);
    if (d->beta == XW_SCALE_ANY)
        xw_x86_vload(c, bcst, g.evex ? XW_ZMM : XW_YMM, g.beta, xw_mem_at(XW_R8, 0), xw_plain);

    // x with increment other than 1: packed below rsp, the last chunk zero past k.
    const int32_t xbytes = g.nc * 64;
    g.xb = XW_RSI;
    if (d->ldb != 1) {
        xw_x86_alu_ri(c, XW_SUB, XW_RSP, xbytes);
        xw_x86_vop_rrr(c, XW_VPXORQ, XW_YMM, g.t, g.t, g.t);
        for (int h = 0; h < 2; h++)
            xw_x86_vstore(c, g.movu, XW_YMM, xw_mem_at(XW_RSP, xbytes - 64 + 32 * h), g.t, XW_K0);
        for (uint32_t p = 0; p < d->k; p++) {
            xw_x86_vload(c, g.movs, XW_XMM, g.t, xw_mem_at(XW_RSI, (int32_t)(p * d->ldb * (uint32_t)g.es)), xw_plain);
            xw_x86_vstore(c, g.movs, XW_XMM, xw_mem_at(XW_RSP, (int32_t)(p * (uint32_t)g.es)), g.t, XW_K0);
        }
        g.xb = XW_RSP;
    }

    const int q = (int)(d->m / (uint32_t)g.G), rem = (int)(d->m % (uint32_t)g.G);
    const int32_t astep = (int32_t)((int64_t)g.G * d->lda * g.es);
    const int32_t ystep = (int32_t)((int64_t)g.G * d->ldc * g.es);
    if (q > 1) {
        xw_x86_mov_ri(c, XW_RAX, q);
        const size_t top = xw_x86_here(c);
        emit_group(&g, g.G);
        xw_x86_alu_ri(c, XW_ADD, XW_RDI, astep);
        xw_x86_alu_ri(c, XW_ADD, XW_RDX, ystep);
        xw_x86_alu_ri(c, XW_SUB, XW_RAX, 1);
        xw_x86_jcc_to(c, XW_JNZ, top);
    } else if (q == 1) {
        emit_group(&g, g.G);
        if (rem) {
            xw_x86_alu_ri(c, XW_ADD, XW_RDI, astep);
            xw_x86_alu_ri(c, XW_ADD, XW_RDX, ystep);
        }
    }
    if (rem)
        emit_group(&g, rem);
    if (d->ldb != 1)
        xw_x86_alu_ri(c, XW_ADD, XW_RSP, xbytes);
    xw_x86_vzeroupper(c);
    xw_x86_ret(c);
    if (c->err == XW_ERR_NOMEM) {  // no room: declined, the buffer as it was
        c->err = XW_OK;
        c->len = start;
        return XW_ERR_UNSUPPORTED;
    }
    return c->err;
}
