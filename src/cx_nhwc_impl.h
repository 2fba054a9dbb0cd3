/*
 * Channels-last (NHWC) convolution drivers: forward, weight gradient and input
 * gradient on x (N, H, W, C), y (N, P, Q, K) as they are, without transposing
 * either tensor. The weight keeps its API layout (K, C/groups, R, S) and is
 * repacked once per call (conv2d_nhwc_prepack) into the order each kernel reads.
 * Written once for both dtypes, compiled once per SIMD path (included by
 * cx_conv_impl.h after cx_gemm_impl.h and cx_direct_impl.h).
 *
 * The GEMM view of NHWC: with the reduction index rsc = (r*S + s)*Cg + c,
 *
 *   forward  y[(n,p,q), k]   = sum_rsc cols[(n,p,q), rsc] * w'[rsc, k]
 *   wgrad    dw'[rsc, k]     = sum_(n,p,q) cols[(n,p,q), rsc] * dy[(n,p,q), k]
 *   dgrad    dcols[(n,p,q), rsc] = sum_k dy[(n,p,q), k] * w'[rsc, k],
 *            dx += col2im(dcols)
 *
 * and for one output pixel and tap the Cg input values of a group are
 * contiguous. Each uses the path's GEMM micro-kernel (cx_gemm.h) with the BLIS
 * blocks of its descriptor (KC reduction cuts, MC-row A blocks, NR panels):
 *
 *   op     M (A, packed per item)    N (B)                          C
 *   fwd    output pixels: an         output channels: w' packed     y, rows of K
 *          implicit im2col, one      once per call in NR panels     (row stride K,
 *          pointer per (pixel, tap),                                unit columns)
 *          zeros for padding taps
 *   wgrad  rsc rows: per pixel a     pixels x output channels: dY   partial dw'
 *          contiguous run of <= MR   read in place (full NR         (rsc x Kg),
 *          channels (no transpose)   panels, row stride K)          reduced + transposed
 *   dgrad  output pixels: dY rows    rsc: w'^T packed once          dcols tile in the
 *          (gemm_pack_a)                                            workspace
 *
 * 1x1 stride-1 weight gradients swap the roles (A = dY^T packed, the image's
 * pixel rows read in place as B, C = dw'^T), so that only the smaller operand
 * is packed. With one group and dilation 1 along W, the taps of one kernel row
 * are adjacent in NHWC (S*C elements): both pixel-side packers copy such row
 * runs in one piece where a pixel's whole kernel row is inside the image.
 *
 * Why pixels are M in the forward: the micro-kernel's C rows are NR
 * contiguous elements, which then are NR output channels of one pixel, i.e.
 * whole vector stores into y. The price is a transposing pack of the pixel
 * side (MR pixels' channel runs interleaved), done per (pixel block, KC block)
 * into an L2-sized buffer, which XNNPACK's indirection buffer avoids only with
 * its own A-row-pointer micro-kernels; convx reuses its packed ones.
 *
 * Work items and determinism (results bitwise identical for any thread count):
 *   fwd    (n, g, tile of output pixels <= MC)     writes y[n, tile, g's channels]
 *   wgrad  (batch chunk, g, block of rsc rows)     writes partial[chunk] rows;
 *          conv2d_nhwc_wgrad_reduce adds the chunks in chunk order while
 *          transposing dw' (rsc x Kg per group) to (K, Cg, R, S)
 *   dgrad  (n, band of input rows, g)              writes dx[n, band, g's channels]:
 *          it recomputes dcols for the output rows whose taps reach its band
 *          (bands are >= 4 dilated kernel heights, so at most ~25% more GEMM
 *          work) and scatters only into its own rows, so items never share an
 *          output element. Stride 1 with a finite weight goes instead through
 *          the forward of the padded dY with the flipped weight (src/_conv.pyx).
 * Every sum has a fixed order: KC cuts of the reduction, images in order.
 *
 * Depthwise (Cg == 1, multiplier Kg <= CX_NHWC_DW_MAX_MULT) skips the GEMM:
 * loops vectorised along the channels, which are contiguous in NHWC,
 *   y[n,p,q,c*mult+j] = sum_rs x[n, ih, iw, c] * w[c*mult+j, 0, r, s]
 * with the weight repacked to wd[(j*RS + rs)*C + c]; items (n, band of output
 * rows (dgrad: input rows), channel block); the weight gradient (batch chunk,
 * band of output rows; all channels) into one wd-ordered partial per item
 * (3x3 with unit row steps: nine taps' sums in registers); the input gradient gathers,
 * for each input pixel, the taps whose output exists (no scatter).
 *
 * IEEE semantics as the NCHW path: forward and weight-gradient padding taps
 * multiply explicit zeros (0 * inf = NaN, as the reference on the zero-padded
 * input); the input gradient multiplies no padding.
 *
 * Workspace per thread: one A block (MC x KC) plus a B panel (wgrad; 1x1: the
 * GEMM's own MC x KC + KC x NC buffers) or a dcols tile of at most
 * CX_NHWC_DCOLS_BYTES (dgrad); a zero vector (depthwise). Never per image.
 * The packed weight (per call, shared) is at most NR/Kg times the weight when
 * Kg < NR (its panels are zero-padded to NR columns).
 */

#ifndef CX_NHWC_COMMON_DEFINED
#define CX_NHWC_COMMON_DEFINED
/* Per-thread bytes of the input gradient's dcols tile. */
#define CX_NHWC_DCOLS_BYTES ((size_t)1 << 20)
/* Largest channel multiplier of the depthwise loops (larger: GEMM, N = multiplier). */
#define CX_NHWC_DW_MAX_MULT 4
/* Most rows of one MR-high panel on any path. */
#define CX_NHWC_MR_MAX 16
/* Most bytes of a direct forward band's pixel-major buffer over 16 channels. */
#define CX_NHWC_DK_BUF_BYTES ((size_t)256 << 10)
/* Vectors of channels one depthwise step keeps in registers. */
#define CX_NHWC_DW_NV 4

/* floor(a / b) for b > 0 and any sign of a */
static ptrdiff_t cx_floor_div(ptrdiff_t a, ptrdiff_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Depthwise loops: one input channel per group and a small multiplier. */
static int cx_nhwc_is_dw(const cx_conv2d_desc *d)
{
    return d->C == d->groups && d->K / d->groups <= CX_NHWC_DW_MAX_MULT;
}
#endif /* CX_NHWC_COMMON_DEFINED */

/* cx_direct_impl.h's generic vectors (its dv type and helpers), by their names there */
#if CX_DK_VECTORS
#define CX_DVL ((ptrdiff_t)(CX_VBYTES / sizeof(CX_T)))
#else
#define CX_DVL ((ptrdiff_t)1)
#endif
#define CX_DV CX_NAME(dv)

/* The GEMM tile of a channels-last plan: the path's main tile, or its narrow
   one (cx_gemm.h) where that pads the GEMM's N (output channels; the input
   gradient: taps x channels) to fewer columns (conv2d_nhwc_plan). */
static const CX_KERNEL_T *CX_NAME(nhwc_kernel)(const cx_conv2d_plan *pl)
{
    return pl->nhwc_narrow ? CX_NARROW() : CX_ACTIVE();
}

/* ------------------------------------------------------------------ packing */

/*
 * B operand packed once per call: NR-wide panels over a kdim x ndim matrix,
 * panel (pc, jr) at dst + pc*npad + jr*kc (npad = ndim rounded up to NR),
 * row pp of it at + pp*NR, columns past ndim zero. Element (p, j):
 *   fwd   (transposed == 0): p = rs*Cg + c, j = k  ->  w[(j*Cg + c)*RS + rs]
 *   dgrad (transposed == 1): p = k, j = rs*Cg + c  ->  w[(p*Cg + c)*RS + rs]
 * (w: one group's Kg x Cg x R x S weight)
 */
static void CX_NAME(nhwc_pack_weight)(const CX_KERNEL_T *kr, ptrdiff_t kdim, ptrdiff_t ndim,
                                      const CX_T *w, int transposed, ptrdiff_t Cg, ptrdiff_t RS,
                                      CX_T *dst)
{
    const ptrdiff_t NR = kr->nr, KC = kr->kc, npad = cx_ceil_div(ndim, NR) * NR;
    for (ptrdiff_t pc = 0; pc < kdim; pc += KC) {
        const ptrdiff_t kc = cx_min(KC, kdim - pc);
        for (ptrdiff_t jr = 0; jr < npad; jr += NR) {
            CX_T *o = dst + pc * npad + jr * kc;
            for (ptrdiff_t pp = 0; pp < kc; ++pp)
                for (ptrdiff_t jj = 0; jj < NR; ++jj) {
                    const ptrdiff_t p = pc + pp, j = jr + jj;
                    CX_T v = 0;
                    if (j < ndim)
                        v = transposed ? w[(p * Cg + j % Cg) * RS + j / Cg]
                                       : w[(j * Cg + p % Cg) * RS + p / Cg];
                    o[pp * NR + jj] = v;
                }
        }
    }
}

void CX_NAME(conv2d_nhwc_prepack)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                  const CX_T *w, CX_T *packed, ptrdiff_t unit)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, RS = d->R * d->S;
    if (pl->op == CX_OP_WGRAD && pl->nhwc_kmajor && !pl->dk_nhwc && !pl->nhwc_dw) {
        /* w is dY: the k-major GEMM's A = dY^T (Kg x pixels) of image n and
           group g (unit n*G + g), KC slab `part`, as gemm_core_seg packs it */
        const ptrdiff_t parts = cx_max(pl->apack_parts, 1), part = unit % parts;
        const ptrdiff_t ug = unit / parts, PQ = d->P * d->Q;
        CX_NAME(gemm_prepack_a)(Kg, PQ, w + (ug / G) * PQ * d->K + (ug % G) * Kg, 1, d->K,
                                packed + (size_t)ug * pl->apack_elems, part);
        return;
    }
    CX_T *dst = packed + (size_t)unit * pl->apack_elems;
    if (pl->dk_nhwc) {
        CX_NAME(dk_pack_weight)(d, pl, w + unit * Kg * Cg * RS, dst);
        if (pl->op == CX_OP_FWD && pl->dk_etop + pl->dk_ebot > 0)
            CX_NAME(dk_pack_edges)(d, pl, w + unit * Kg * Cg * RS, dst);
    } else if (pl->nhwc_dw) {
        /* wd[(j*RS + rs)*C + c] = w[c*mult + j, 0, rs] */
        const ptrdiff_t C = d->C;
        for (ptrdiff_t j = 0; j < Kg; ++j)
            for (ptrdiff_t rs = 0; rs < RS; ++rs)
                for (ptrdiff_t c = 0; c < C; ++c)
                    dst[(j * RS + rs) * C + c] = w[(c * Kg + j) * RS + rs];
    } else if (pl->op == CX_OP_FWD) {
        CX_NAME(nhwc_pack_weight)(CX_NAME(nhwc_kernel)(pl), RS * Cg, Kg, w + unit * Kg * Cg * RS,
                                  0, Cg, RS, dst);
    } else {
        CX_NAME(nhwc_pack_weight)(CX_NAME(nhwc_kernel)(pl), Kg, RS * Cg, w + unit * Kg * Cg * RS,
                                  1, Cg, RS, dst);
    }
}

/*
 * dst[c*MR + i] = src[i][c] for c < len, i < MR: MR pixels' channel runs
 * interleaved into an A panel. MR is a constant in each specialisation, so
 * the inner loop is unrolled into MR loads and whole-vector stores.
 */
#define CX_NHWC_GATHER(MRC)                                                                 \
    static void CX_NAME(nhwc_gather_##MRC)(ptrdiff_t len, const CX_T *const *src,           \
                                           CX_T *restrict dst)                              \
    {                                                                                       \
        const CX_T *s[MRC];                                                                 \
        for (int i = 0; i < MRC; ++i)                                                       \
            s[i] = src[i];                                                                  \
        for (ptrdiff_t c = 0; c < len; ++c)                                                 \
            for (int i = 0; i < MRC; ++i)                                                   \
                dst[c * MRC + i] = s[i][c];                                                 \
    }
CX_NHWC_GATHER(4)
CX_NHWC_GATHER(6)
CX_NHWC_GATHER(8)
CX_NHWC_GATHER(12)
#undef CX_NHWC_GATHER

#if CX_DK_CV
/*
 * The same for 16-lane vectors (float32 on AVX-512): 16 channels of each of
 * the MR <= 16 pixels are loaded as rows, turned by dk_tr16 into 16 channel
 * vectors of pixel lanes, and channel j's vector stored whole at dst + j*MR:
 * its lanes past MR spill into the next channel's slot, which the next store
 * (or the next block, or the scalar tail) overwrites, so only the very last
 * vector of a call is stored to MR lanes. Stores ascend, and the caller's
 * later calls fill the slots after dst + len*MR.
 */
static CX_DK_INLINE void CX_NAME(nhwc_gather_tr)(const int MR, ptrdiff_t len,
                                                 const CX_T *const *src, CX_T *restrict dst)
{
    ptrdiff_t c = 0;
    for (; c + 16 <= len; c += 16) {
        CX_DV r[16];
        for (int i = 0; i < 16; ++i)
            r[i] = CX_NAME(dv_load)(src[i < MR ? i : 0] + c);
        CX_NAME(dk_tr16)(r);
        const int last = c + 16 == len;
        for (int j = 0; j < 16; ++j) {
            if (!last || j < 15) {
                CX_NAME(dv_store)(dst + (c + j) * MR, r[j]);
            } else {
                CX_T tmp[16];
                CX_NAME(dv_store)(tmp, r[j]);
                for (int i = 0; i < MR; ++i)
                    dst[(c + j) * MR + i] = tmp[i];
            }
        }
    }
#if CX_PACK_MASKED && CX_VBYTES == 64 && CX_TSIZE == 4
    if (c < len) {
        /* the last rem < 16 channels: masked loads (nothing read past a run),
           rem vectors stored, the last one to MR lanes */
        const int rem = (int)(len - c);
        const __mmask16 m = (__mmask16)((1u << rem) - 1u);
        CX_DV r[16];
        for (int i = 0; i < 16; ++i) {
            CX_ASAN_RUN(src[i < MR ? i : 0] + c, rem);
            r[i] = (CX_DV)_mm512_maskz_loadu_ps(m, src[i < MR ? i : 0] + c);
        }
        CX_NAME(dk_tr16)(r);
        for (int j = 0; j < rem - 1; ++j)
            CX_NAME(dv_store)(dst + (c + j) * MR, r[j]);
        _mm512_mask_storeu_ps(dst + (len - 1) * MR, (__mmask16)((1u << MR) - 1u),
                              (__m512)r[rem - 1]);
        return;
    }
#endif
    for (; c < len; ++c)
        for (int i = 0; i < MR; ++i)
            dst[c * MR + i] = src[i][c];
}
#endif

static void CX_NAME(nhwc_gather)(ptrdiff_t MR, ptrdiff_t len, const CX_T *const *src,
                                 CX_T *restrict dst)
{
#if CX_DK_CV
    if (len >= 16) {
        if (MR == 8) {
            CX_NAME(nhwc_gather_tr)(8, len, src, dst);
            return;
        }
        if (MR == 12) {
            CX_NAME(nhwc_gather_tr)(12, len, src, dst);
            return;
        }
    }
#endif
    switch (MR) {
    case 4: CX_NAME(nhwc_gather_4)(len, src, dst); return;
    case 6: CX_NAME(nhwc_gather_6)(len, src, dst); return;
    case 8: CX_NAME(nhwc_gather_8)(len, src, dst); return;
    case 12: CX_NAME(nhwc_gather_12)(len, src, dst); return;
    default:
        for (ptrdiff_t c = 0; c < len; ++c)
            for (ptrdiff_t i = 0; i < MR; ++i)
                dst[c * MR + i] = src[i][c];
    }
}

/*
 * Forward A block: rows = output pixels [j0, j0+mc) of one image (row-major
 * over P x Q), columns = reduction indices [pc, pc+kc) in (r, s, c) order,
 * packed in MR-high panels (gemm_pack_a's layout); rows past mc and taps over
 * the padding read `zero` (>= kc zeros). xn: image n, c_off: first channel of
 * the group. With dilation 1 along W and one group, the taps s, s+1, ... of
 * kernel row r are adjacent in NHWC: a pixel whose whole kernel row lies inside
 * the image (or whose input row is padding) gives one run of up to S*C
 * elements; a pixel's run partly over the left/right padding is first built in
 * `edge` (MR runs of <= kc: its columns inside the image between zeros).
 */
static void CX_NAME(nhwc_pack_pixels)(const cx_conv2d_desc *d, const CX_T *xn, ptrdiff_t c_off,
                                      ptrdiff_t j0, ptrdiff_t mc, ptrdiff_t pc, ptrdiff_t kc,
                                      ptrdiff_t MR, const CX_T *zero, CX_T *restrict edge,
                                      CX_T *restrict dst)
{
    const ptrdiff_t Cg = d->C / d->groups, C = d->C, S = d->S, Q = d->Q, H = d->H, W = d->W;
    const ptrdiff_t SC = S * Cg;
    const int rows_run = d->dil_w == 1 && Cg == C;
    ptrdiff_t ih0[CX_NHWC_MR_MAX], iw0[CX_NHWC_MR_MAX];
    const CX_T *src[CX_NHWC_MR_MAX];
    for (ptrdiff_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
        const ptrdiff_t m = cx_min(MR, mc - i0);
        ptrdiff_t p = (j0 + i0) / Q, q = (j0 + i0) % Q;
        for (ptrdiff_t i = 0; i < m; ++i) {
            ih0[i] = p * d->stride_h - d->pad_top;
            iw0[i] = q * d->stride_w - d->pad_left;
            if (++q == Q) {
                q = 0;
                ++p;
            }
        }
        ptrdiff_t tap = pc / Cg, c0 = pc % Cg;
        for (ptrdiff_t pp = 0; pp < kc;) {
            const ptrdiff_t rh = (tap / S) * d->dil_h, s0 = tap % S;
            const ptrdiff_t len = cx_min(Cg - c0, kc - pp);
            if (rows_run) {
                /* the rest of kernel row r from (s0, c0): taps s0 .. s1-1 */
                const ptrdiff_t run = cx_min(SC - (s0 * Cg + c0), kc - pp);
                const ptrdiff_t s1 = s0 + cx_ceil_div(c0 + run, Cg);
                for (ptrdiff_t i = 0; i < MR; ++i) {
                    src[i] = zero;
                    if (i < m) {
                        const ptrdiff_t ih = ih0[i] + rh, iw = iw0[i] + s0;
                        if (ih < 0 || ih >= H)
                            continue;
                        const ptrdiff_t off = (ih * W + iw) * C + c0;
                        if (iw >= 0 && iw0[i] + s1 <= W) {
                            src[i] = xn + off;
                        } else {
                            /* the row's run over the left/right padding: its
                               columns inside the image copied between zeros
                               (element t is column iw + (c0 + t) / C) */
                            CX_T *e = edge + i * kc;
                            const ptrdiff_t lo = cx_min(cx_max(-iw * C - c0, 0), run);
                            const ptrdiff_t hi = cx_max(cx_min((W - iw) * C - c0, run), lo);
                            CX_NAME(zero_run)(e, lo);
                            CX_NAME(copy_run)(e + lo, xn + (off + lo), hi - lo);
                            CX_NAME(zero_run)(e + hi, run - hi);
                            src[i] = e;
                        }
                    }
                }
                CX_NAME(nhwc_gather)(MR, run, src, dst + pp * MR);
                pp += run;
                /* (the end of the row gives tap (r+1)*S, c0 0) */
                tap = (tap / S) * S + (s0 * Cg + c0 + run) / Cg;
                c0 = (c0 + run) % Cg;
                continue;
            }
            const ptrdiff_t sw = s0 * d->dil_w;
            for (ptrdiff_t i = 0; i < MR; ++i) {
                src[i] = zero;
                if (i < m) {
                    const ptrdiff_t ih = ih0[i] + rh, iw = iw0[i] + sw;
                    if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                        src[i] = xn + (ih * W + iw) * C + c_off + c0;
                }
            }
            CX_NAME(nhwc_gather)(MR, len, src, dst + pp * MR);
            pp += len;
            c0 = 0;
            ++tap;
        }
    }
}

/*
 * Weight-gradient A block: rows = reduction indices rsc in [row0, row0+mc),
 * columns = output pixels [pix0, pix0+kc) of one image; MR-high panels. A
 * panel's rows are runs of consecutive channels under one tap, so each pixel
 * contributes contiguous copies of at most MR elements; with one group and
 * dilation 1 along W, the runs of adjacent taps of one kernel row are adjacent
 * in NHWC too and are copied as one when the pixel's taps all lie inside the row.
 */
static void CX_NAME(nhwc_pack_taps)(const cx_conv2d_desc *d, const CX_T *xn, ptrdiff_t c_off,
                                    ptrdiff_t row0, ptrdiff_t mc, ptrdiff_t pix0, ptrdiff_t kc,
                                    ptrdiff_t MR, CX_T *restrict dst)
{
    const ptrdiff_t Cg = d->C / d->groups, C = d->C, S = d->S, Q = d->Q, H = d->H, W = d->W;
    const ptrdiff_t sh = d->stride_h, sw = d->stride_w;
    const int merge = d->dil_w == 1 && Cg == C;
    ptrdiff_t hoff[CX_NHWC_MR_MAX], woff[CX_NHWC_MR_MAX], cst[CX_NHWC_MR_MAX];
    ptrdiff_t ist[CX_NHWC_MR_MAX], rlen[CX_NHWC_MR_MAX];
    ptrdiff_t gfirst[CX_NHWC_MR_MAX], glast[CX_NHWC_MR_MAX], glen[CX_NHWC_MR_MAX];
    for (ptrdiff_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
        const ptrdiff_t m = cx_min(MR, mc - i0);
        ptrdiff_t nrun = 0, ngrp = 0;
        for (ptrdiff_t i = 0, row = row0 + i0; i < m; ++nrun) {
            const ptrdiff_t tap = row / Cg, c = row % Cg, len = cx_min(Cg - c, m - i);
            hoff[nrun] = (tap / S) * d->dil_h - d->pad_top;
            woff[nrun] = (tap % S) * d->dil_w - d->pad_left;
            cst[nrun] = c_off + c;
            ist[nrun] = i;
            rlen[nrun] = len;
            /* a run continues the group when it is the next tap of the same kernel row */
            if (merge && ngrp > 0 && hoff[nrun] == hoff[nrun - 1] &&
                woff[nrun] == woff[nrun - 1] + 1) {
                glast[ngrp - 1] = nrun;
                glen[ngrp - 1] += len;
            } else {
                gfirst[ngrp] = glast[ngrp] = nrun;
                glen[ngrp++] = len;
            }
            i += len;
            row += len;
        }
        ptrdiff_t p = pix0 / Q, q = pix0 % Q;
        for (ptrdiff_t pp = 0; pp < kc; ++pp) {
            CX_T *restrict o = dst + pp * MR;
            for (ptrdiff_t u = 0; u < ngrp; ++u) {
                const ptrdiff_t f = gfirst[u], l = glast[u];
                const ptrdiff_t ih = p * sh + hoff[f], iwa = q * sw + woff[f], iwb = q * sw + woff[l];
                CX_T *restrict ou = o + ist[f];
                if (ih < 0 || ih >= H) {
                    CX_NAME(zero_run)(ou, glen[u]);
                } else if (iwa >= 0 && iwb < W) {
                    CX_NAME(pack_copy_row)(ou, xn + (ih * W + iwa) * C + cst[f], glen[u]);
                } else {
                    for (ptrdiff_t v = f; v <= l; ++v) {
                        const ptrdiff_t iw = q * sw + woff[v];
                        CX_T *restrict ov = o + ist[v];
                        if (iw >= 0 && iw < W)
                            CX_NAME(pack_copy_row)(ov, xn + (ih * W + iw) * C + cst[v], rlen[v]);
                        else
                            CX_NAME(zero_run)(ov, rlen[v]);
                    }
                }
            }
            for (ptrdiff_t i = m; i < MR; ++i)
                o[i] = 0;
            if (++q == Q) {
                q = 0;
                ++p;
            }
        }
    }
}

/*
 * B source of the k-major weight gradient: rows = output pixels of one image,
 * columns = reduction indices rsc = (r*S + s)*Cg + c from col0 on. Each pixel's
 * row is built whole in `row` (RSC elements: copies of its taps' channel runs,
 * a kernel row's taps as one run where they are adjacent in NHWC, zeros over
 * the padding), then cut into the NR-wide panels.
 */
typedef struct {
    const cx_conv2d_desc *d;
    const CX_T *xn;     /* image n */
    ptrdiff_t c_off;    /* the group's first channel */
    ptrdiff_t col0;     /* the item's first reduction index */
    CX_T *row;          /* RSC elements of workspace */
} CX_NAME(nhwc_taps_b);

static void CX_NAME(nhwc_pack_b_taps)(const void *src, ptrdiff_t pc, ptrdiff_t kc,
                                      ptrdiff_t jc, ptrdiff_t nc, ptrdiff_t nr, CX_T *dst)
{
    const CX_NAME(nhwc_taps_b) *b = (const CX_NAME(nhwc_taps_b) *)src;
    const cx_conv2d_desc *d = b->d;
    const ptrdiff_t Cg = d->C / d->groups, C = d->C, R = d->R, S = d->S, Q = d->Q;
    const ptrdiff_t H = d->H, W = d->W;
    const int runs = d->dil_w == 1 && Cg == C;
    const ptrdiff_t j0 = b->col0 + jc, RSC = R * S * Cg;
    /* one panel holding every column: the row is built in place */
    const int direct = j0 == 0 && nc == RSC && nc <= nr;
    ptrdiff_t p = pc / Q, q = pc % Q;
    for (ptrdiff_t pp = 0; pp < kc; ++pp) {
        CX_T *restrict row = direct ? dst + pp * nr : b->row;
        const ptrdiff_t ih0 = p * d->stride_h - d->pad_top, iw0 = q * d->stride_w - d->pad_left;
        for (ptrdiff_t r = 0; r < R; ++r) {
            CX_T *o = row + r * S * Cg;
            const ptrdiff_t ih = ih0 + r * d->dil_h;
            if (ih < 0 || ih >= H) {
                CX_NAME(zero_run)(o, S * Cg);
            } else if (runs) {
                /* taps s = 0..S-1 are columns iw0 .. iw0+S-1: one run of S*C */
                const ptrdiff_t lo = cx_min(cx_max(-iw0, 0), S), hi = cx_max(cx_min(W - iw0, S), lo);
                CX_NAME(zero_run)(o, lo * C);
                CX_NAME(copy_run)(o + lo * C, b->xn + ((ih * W + iw0 + lo) * C), (hi - lo) * C);
                CX_NAME(zero_run)(o + hi * C, (S - hi) * C);
            } else {
                for (ptrdiff_t s = 0; s < S; ++s) {
                    const ptrdiff_t iw = iw0 + s * d->dil_w;
                    if (iw >= 0 && iw < W)
                        CX_NAME(copy_run)(o + s * Cg, b->xn + (ih * W + iw) * C + b->c_off, Cg);
                    else
                        CX_NAME(zero_run)(o + s * Cg, Cg);
                }
            }
        }
        if (direct) {
            CX_NAME(zero_run)(row + nc, nr - nc);
        } else {
            for (ptrdiff_t jr = 0; jr < nc; jr += nr) {
                const ptrdiff_t n = cx_min(nr, nc - jr);
                CX_T *o = dst + jr * kc + pp * nr;
                CX_NAME(copy_run)(o, row + j0 + jr, n);
                CX_NAME(zero_run)(o + n, nr - n);
            }
        }
        if (++q == Q) {
            q = 0;
            ++p;
        }
    }
}

/* --------------------------------------------------------------------- plan */

/* Depthwise workspace: a vector block of zeros (padding taps) and the input
   gradient's tap lists (2 * (R + S) indices); then, with dk_stream, one output
   row (forward: Q x K; input gradient: W x C) staged for the streamed copy. */
static size_t CX_NAME(nhwc_dw_ws_base)(const cx_conv2d_desc *d)
{
    return (size_t)(CX_NHWC_DW_NV * CX_DVL) +
           (size_t)(2 * (d->R + d->S)) * sizeof(ptrdiff_t) / sizeof(CX_T);
}

/* Depthwise items: (n, band of `rows` rows out of `total`, channel block). */
static void CX_NAME(nhwc_plan_dw_bands)(const cx_conv2d_desc *d, cx_conv2d_plan *pl,
                                        ptrdiff_t total)
{
    const ptrdiff_t CB = CX_NHWC_DW_NV * CX_DVL;
    const ptrdiff_t bands = cx_max(cx_min(total, cx_ceil_div(CX_TARGET_ITEMS, d->N)), 1);
    pl->tile = cx_ceil_div(total, bands);
    pl->ntiles = cx_ceil_div(total, pl->tile);
    const ptrdiff_t per = d->N * pl->ntiles;
    pl->cblocks = cx_max(cx_min(cx_ceil_div(d->C, CB), cx_ceil_div(CX_TARGET_ITEMS, per)), 1);
    pl->cblock = cx_ceil_div(cx_ceil_div(d->C, pl->cblocks), CB) * CB;
    pl->cblocks = cx_ceil_div(d->C, pl->cblock);
    pl->nitems = per * pl->cblocks;
}

void CX_NAME(conv2d_nhwc_plan)(const cx_conv2d_desc *d, int op, cx_conv2d_plan *pl)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, RS = d->R * d->S;
    const ptrdiff_t RSC = RS * Cg, PQ = d->P * d->Q;
    memset(pl, 0, sizeof *pl);
    pl->op = op;
    pl->algo = CX_ALGO_IM2COL;
    pl->nsplit = 1;
    pl->nper = d->N;
    pl->nseg = 1;
    pl->wsize = d->K * RSC;
    pl->kblock = Kg;
    pl->kblocks = 1;
    pl->nhwc_dw = cx_nhwc_is_dw(d);
    if (pl->nhwc_dw) {
        pl->ws_elems = CX_NAME(nhwc_dw_ws_base)(d);
        pl->apack_units = 1;
        pl->apack_elems = (size_t)(d->K * RS);
        if (op == CX_OP_FWD || op == CX_OP_DGRAD) {
            const int fwd = op == CX_OP_FWD;
            CX_NAME(nhwc_plan_dw_bands)(d, pl, fwd ? d->P : d->H);
            /* an output far larger than the caches, written by items of whole
               rows (every channel): each row computed into the workspace and
               copied out with non-temporal stores (no read of each line
               first; a pixel's channels rarely start a 64-byte line, a row's
               head and tail are the only ordinary stores), as NCHW's */
            const ptrdiff_t row = fwd ? d->Q * d->K : d->W * d->C;
            pl->dk_stream = CX_DK_STREAM && pl->cblocks == 1 &&
                            (double)d->N * (fwd ? d->P : d->H) * row * sizeof(CX_T) >
                                8.0 * (1 << 20);
            if (pl->dk_stream)
                pl->ws_elems += (size_t)row;
        } else {
            /* items (chunk of images, band of output rows), every channel:
               each item streams whole pixels (two threads on the two channel
               halves of one image ran 1.5x slower than on two images); one
               partial sum per item, added in item order */
            const ptrdiff_t maxp = cx_max((ptrdiff_t)(CX_PARTIAL_BYTES / sizeof(CX_T) /
                                                      (size_t)cx_max(pl->wsize, 1)), 1);
            ptrdiff_t chunks = cx_max(cx_min(cx_min(d->N, CX_TARGET_ITEMS_WGRAD), maxp), 1);
            pl->nper = cx_ceil_div(d->N, chunks);
            chunks = cx_ceil_div(d->N, pl->nper);
            const ptrdiff_t bands = cx_max(cx_min(cx_ceil_div(CX_TARGET_ITEMS_WGRAD, chunks),
                                                  cx_min(d->P, maxp / chunks)), 1);
            pl->tile = cx_ceil_div(d->P, bands);
            pl->ntiles = cx_ceil_div(d->P, pl->tile);
            pl->cblocks = 1;
            pl->cblock = d->C;
            pl->ws_elems += (size_t)(9 * d->C);     /* the 3x3 loop's row sums */
            pl->nsplit = chunks * pl->ntiles;
            pl->nitems = pl->nsplit;
            pl->apack_units = 0;
            pl->apack_elems = 0;
        }
        return;
    }
    if (op == CX_OP_WGRAD && d->pad_mode == CX_PAD_ZEROS) {
        /* the same for the weight gradient (partial sums in dw's order) */
        cx_conv2d_plan dk = *pl;
        dk.algo = CX_ALGO_DIRECT;
        /* (and NCHW's lane tiles for at most 8 output channels per group,
           which fill a GEMM tile's columns badly: lenet1's 8 over 25 taps of
           one channel ran 4.7x NCHW's time as a GEMM; whole rows only: the
           band is filled from (H, W, C) rows and dY's rows gathered per
           output channel, column tiles are NCHW only) */
        /* (where the build has no channel-vector weight-gradient tiles for
           the layer -- the portable path, float64 everywhere, AVX2 float32
           but for 8k output channels over kernel rows of 3, 5 or 7 taps --
           up to 16, and up to 64 over at most 64
           input channels a group, not 1x1; measured on AVX2 float32 only,
           NHWC lanes over GEMM, 1 thread: lenet2's 16 0.67-0.84, latency1
           0.71-0.74, stem7x7s2 0.84-0.90, res3x3_64 0.97-1.02, while with no
           bound res1x1 ran 1.39 and res3x3_256 1.72; with channel-vector
           tiles, layers they do not take -- strided ones -- from at most 4
           input channels a group: the stem's NHWC / NCHW 1.45 -> 1.11 on
           AVX-512 (its GEMM took 1.27x the lanes' time)) */
        const int lanes = CX_DK_CV ? Kg <= 8 || (Kg <= 64 && Cg <= 4 && !cx_is_pointwise(d))
                                   : Kg <= 16 || (Kg <= 64 && Cg <= 64 && !cx_is_pointwise(d));
        if (CX_NAME(plan_wgrad_dk)(d, &dk) && dk.dk_qt == 0 && (dk.dk_mode == 2 || lanes)) {
            *pl = dk;
            pl->dk_nhwc = 1;
            return;
        }
    }
    if (op == CX_OP_FWD && d->pad_mode == CX_PAD_ZEROS) {
        /* the direct tiles' plan (NCHW's; the weight packed once), taken when
           its results can be stored as pixels (dk_nhwc): output channels in
           blocks of 16 (channel-vector tiles, pixel-major already), one
           output channel ((N, P, Q, 1) is (N, 1, P, Q): stored as NCHW,
           dk_nhwc 2), or one group of 8 that one pixel tile covers (results
           made pixel-major 16 pixels at a time; lenet-sized layers and input
           gradients to 8 channels; the tiles' buffer after the band) */
        cx_conv2d_plan dk = *pl;
        dk.algo = CX_ALGO_DIRECT;
        dk.tile = PQ;
        dk.ntiles = 1;
        dk.cblock = Cg;
        dk.cblocks = 1;
        if (CX_NAME(plan_fwd_dk)(d, &dk) && dk.apack_units > 0 && dk.dk_qt == 0 &&
            !dk.dk_stream) {
            /* (AVX2's 8-lane ones on rows of up to 2 vectors, or 4 from at
               most 64 channels, or any width from at most 128 channels over
               kernel rows of 3 taps, where NCHW's auto takes them too; one group
               of up to 16 channels, or up to 64 from fewer than 16, reaches
               them through the branch below, whose plan is this one; on
               wider rows, e.g. vgg3x3_512's 512 channels on 28 pixels, the
               GEMM ran 1.2-1.3x faster) */
            if (dk.dk_mode == 2 &&
                (CX_DK_CV || d->Q <= 2 * CX_DVL || (d->Q <= 4 * CX_DVL && cx_min(Kg, Cg) <= 64) ||
                 (d->S == 3 && cx_min(Kg, Cg) <= 128))) {
                *pl = dk;
                pl->dk_nhwc = 1;
                return;
            }
            if (G == 1 && Kg == 1) {
                *pl = dk;
                pl->dk_nhwc = 2;
                return;
            }
#if CX_DK_CV
            if (G == 1 && ((Kg == 8 && dk.dk_mr == Kg) ||
                           (Kg <= 64 && Cg <= 4 && !cx_is_pointwise(d)))) {
#else
            /* without channel-vector tiles (AVX2, the portable path, float64
               everywhere): up to 16 channels, every block's tiles to the
               buffer, one transpose per band (lenet1's forward ran 6-7x its
               NCHW time as a GEMM on AVX2); up to 64 from fewer than 16 input
               channels, not 1x1 (where NCHW's auto picks the direct tiles on
               AVX2 too), in bands whose buffer stays within 256 KB (1 thread,
               bench/api_ab.py: the stem's 0.86x the GEMM's time; latency1's 64
               input channels ran 1.17x, so those stay GEMMs) */
            if (G == 1 && (Kg <= 16 || (Kg <= 64 && Cg < 16 && !cx_is_pointwise(d)))) {
#endif
                *pl = dk;
                pl->dk_nhwc = 1;
                if (Kg > 16) {
                    const ptrdiff_t most = (ptrdiff_t)(CX_NHWC_DK_BUF_BYTES / sizeof(CX_T));
                    pl->tile = cx_max(cx_min(pl->tile, most / (Kg * d->Q)), 1);
                    pl->ntiles = cx_ceil_div(d->P, pl->tile);
                    pl->nitems = d->N * pl->cblocks * pl->ntiles * pl->dk_qtiles;
                }
                pl->ws_elems += (size_t)(Kg * pl->tile * d->Q + 2 * CX_DVL_MAX);
                return;
            }
        }
    }
    /* the GEMM drivers: the narrow tile where it pads the GEMM to fewer
       lanes. Forward: N = Kg (M: output pixels, many); input gradient: N = RSC */
    {
        const CX_KERNEL_T *kk[2] = {CX_ACTIVE(), CX_NARROW()};
        if (op == CX_OP_WGRAD) {
            /* M x N = RSC x Kg (taps packed per pixel, dY read in place), or
               k-major Kg x RSC (dY^T packed, each pixel's taps a B row; always
               for 1x1, whose B rows are the image's pixels read in place):
               the orientation and tile with the fewest padded lanes (lenet1's
               25 taps x 8 channels: 32 x 32 against 8 x 32), the c-major ones
               counted 1.25x: its packer works per (panel of taps, pixel) where
               the k-major one copies a pixel's kernel rows once (the stem's
               147 x 64, 9984 lanes against 72 x 160 = 11520: 20.3 ms c-major,
               14.4 k-major, one thread) */
            ptrdiff_t best = -1;
            for (int km = 0; km < 2; ++km) {
                if (!km && cx_is_pointwise(d))
                    continue;
                for (int t = 0; t < 2; ++t) {
                    const ptrdiff_t mdim = km ? Kg : RSC, ndim = km ? RSC : Kg;
                    const ptrdiff_t cost = cx_ceil_div(mdim, kk[t]->mr) * kk[t]->mr *
                                           cx_ceil_div(ndim, kk[t]->nr) * kk[t]->nr *
                                           (km ? 4 : 5);
                    if (best < 0 || cost < best) {
                        best = cost;
                        pl->nhwc_kmajor = km;
                        pl->nhwc_narrow = t;
                    }
                }
            }
        } else {
            const ptrdiff_t ndim = op == CX_OP_DGRAD ? RSC : Kg;
            pl->nhwc_narrow = cx_ceil_div(ndim, kk[1]->nr) * kk[1]->nr <
                              cx_ceil_div(ndim, kk[0]->nr) * kk[0]->nr;
        }
    }
    const CX_KERNEL_T *kr = CX_NAME(nhwc_kernel)(pl);
    const ptrdiff_t MR = kr->mr, NR = kr->nr, KC = kr->kc, MC = kr->mc;
    if (op == CX_OP_FWD) {
        /* tiles of at most MC pixels (one A block), a multiple of MR; smaller
           when the batch gives too few items */
        const ptrdiff_t per = d->N * G, want = cx_ceil_div(CX_TARGET_ITEMS, per);
        ptrdiff_t tile = cx_ceil_div(cx_ceil_div(PQ, want), MR) * MR;
        tile = cx_max(cx_min(tile, MC / MR * MR), MR);
        pl->tile = tile;
        pl->ntiles = cx_ceil_div(PQ, tile);
        pl->nitems = per * pl->ntiles;
        /* A block | zeros | MR edge runs */
        pl->ws_elems = (size_t)(MC * KC + KC + CX_NHWC_MR_MAX * KC);
        pl->apack_units = G;
        pl->apack_elems = (size_t)(RSC * cx_ceil_div(Kg, NR) * NR);
        return;
    }
    if (op == CX_OP_WGRAD) {
        /* blocks of rsc rows (multiples of MR), then batch chunks */
        /* (1x1 stride 1: the rows are the GEMM's N, blocks of >= 4 NR columns) */
        /* (k-major: every block packs dY^T again, so blocks only where the
           batch gives fewer than 8 items) */
        /* (unless dY^T is packed once per call, image by image and group by
           group, where that fits CX_APACK_BYTES and the tile is the path's
           main one, whose MR the prepacked panels have: then blocks of rsc
           columns as for c-major, each partial block of C (Kg x block) in
           the caches over the whole reduction; res3x3_256's 256 x 2304 in
           one block wrote and re-read all of C (2.4 MB) every KC pixels of
           its 3 batch chunks, whose partials then took a reduction pass) */
        /* (not where one item per image already keeps C within 256 KB:
           res1x1's 64 x 256 ran 1.12x slower through the prepacked dY^T, a
           pass through memory that the per-item packing keeps in the caches) */
        const int pre = pl->nhwc_kmajor && !pl->nhwc_narrow &&
                        (double)d->N * G * (double)CX_NAME(gemm_prepack_elems)(Kg, PQ) *
                                sizeof(CX_T) <= (double)CX_APACK_BYTES &&
                        (d->N * G < 8 || (double)Kg * RSC * sizeof(CX_T) > 256.0 * 1024);
        const ptrdiff_t want = pl->nhwc_kmajor && d->N * G >= 8 && !pre
                                   ? 1 : cx_ceil_div(CX_TARGET_ITEMS_WGRAD, G);
        const ptrdiff_t unit = pl->nhwc_kmajor ? NR : MR;
        pl->cblocks = cx_max(cx_min(want, cx_ceil_div(RSC, 4 * unit)), 1);
        pl->cblock = cx_ceil_div(cx_ceil_div(RSC, pl->cblocks), unit) * unit;
        pl->cblocks = cx_ceil_div(RSC, pl->cblock);
        CX_NAME(plan_batch_split)(d, pl, G * pl->cblocks);
        pl->ws_elems = (size_t)(MC * KC + KC * NR);  /* A block | B edge panel */
        if (pl->nhwc_kmajor)    /* the GEMM's A block and B panels | one pixel's taps */
            pl->ws_elems = CX_NAME(gemm_workspace_elems)() + (size_t)RSC;
        if (pre)
            CX_NAME(plan_prepack)(pl, d->N * G, CX_NAME(gemm_prepack_elems)(Kg, PQ), PQ);
        return;
    }
    /* dgrad: bands of input rows, at least 4 dilated kernel heights (the output
       rows next to a band's edge are computed by both bands) */
    const ptrdiff_t minrows = cx_min(d->H, cx_max(4 * (d->R - 1) * d->dil_h, 1));
    const ptrdiff_t per = d->N * G;
    ptrdiff_t bands = cx_max(cx_min(cx_ceil_div(CX_TARGET_ITEMS, per), d->H / minrows), 1);
    pl->tile = cx_ceil_div(d->H, bands);
    pl->ntiles = cx_ceil_div(d->H, pl->tile);
    pl->nitems = per * pl->ntiles;
    ptrdiff_t chunk = (ptrdiff_t)(CX_NHWC_DCOLS_BYTES / sizeof(CX_T)) / cx_max(RSC, 1);
    chunk = cx_max(chunk / MR * MR, MR);
    pl->nhwc_chunk = chunk;
    /* A block | dcols tile | KC zeros (the A block's rows past a chunk's end) */
    pl->ws_elems = (size_t)(MC * KC) + (size_t)chunk * (size_t)RSC + (size_t)KC;
    pl->apack_units = G;
    pl->apack_elems = (size_t)(Kg * cx_ceil_div(RSC, NR) * NR);
}

/* ------------------------------------------------------------ depthwise loops */

/*
 * The depthwise loops step over channel blocks of NV vectors (NV = CX_NHWC_DW_NV,
 * then 1), then single channels; the multiplier loop j is outside. Per output
 * element the taps are summed in (r, s) order from 0 in every block size, so the
 * split into blocks changes no result.
 */

/* y[pixel, c*mult + j] = bias + sum_rs x[tap(rs), c] * wd[(j*RS + rs)*C + c] */
static void CX_NAME(nhwc_dw_fwd)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                 const CX_T *x, const CX_T *bias, CX_T *y, ptrdiff_t item,
                                 CX_T *ws)
{
    const ptrdiff_t C = d->C, K = d->K, mult = K / C, H = d->H, W = d->W, P = d->P, Q = d->Q;
    const ptrdiff_t R = d->R, S = d->S, RS = R * S;
    const ptrdiff_t cb = item % pl->cblocks, band = (item / pl->cblocks) % pl->ntiles;
    const ptrdiff_t n = item / (pl->cblocks * pl->ntiles);
    const ptrdiff_t c0 = cb * pl->cblock, c1 = cx_min(C, c0 + pl->cblock);
    const ptrdiff_t p0 = band * pl->tile, p1 = cx_min(P, p0 + pl->tile);
    const CX_T *wd = (const CX_T *)pl->apacked;
    const CX_T *zero = ws;
    for (ptrdiff_t i = 0; i < CX_NHWC_DW_NV * CX_DVL; ++i)
        ws[i] = 0;
    const CX_T *xn = x + n * H * W * C;
    CX_T *stage = pl->dk_stream ? ws + CX_NAME(nhwc_dw_ws_base)(d) : NULL;
    /* one channel a group, kernel rows of 3 unit-step taps, up to 3 rows: a
       strip of QB output pixels of one channel vector at a time, its R * 3
       weight vectors and QB accumulators in registers, each input vector of a
       kernel row loaded once for the 3 outputs that read it (the pixel loop
       below loads a weight and an input vector per multiply-add, and each
       pixel's 9 multiply-adds into the same accumulators wait on each other:
       the depthwise layer ran 1.7x NCHW's time). The same sums in the same
       (r, s) order. */
    const int strips = CX_DVL > 1 && mult == 1 && S == 3 && R <= 3 && d->stride_w == 1 &&
                       d->dil_w == 1 && !(cx_dev_flags & CX_DEV_NO_DWSTRIP);
    const ptrdiff_t cv1 = strips ? c0 + (c1 - c0) / CX_DVL * CX_DVL : c0;
    /* the strips cover every channel and each output vector is a whole
       64-byte line of y: stream it out from its register (through the staged
       row, each vector was stored, loaded again and streamed: 30% of the
       layer's samples on the copy, channels-last 1.7x NCHW's time) */
    const int direct = CX_DK_STREAM && stage && cv1 == c1 && c0 == 0 &&
                       (C * (ptrdiff_t)sizeof(CX_T)) % 64 == 0 && (size_t)y % 64 == 0 &&
                       !(cx_dev_flags & CX_DEV_NO_DWNT);
    enum { QB = CX_VREGS >= 32 ? 8 : 4 };
#if CX_DK_STREAM
    /* 3x3, unit steps, every channel in the strips, results straight to y
       (AVX-512: 32 vector registers): two output rows a pass, each of the
       4 input rows' vectors loaded once for both rows (16 accumulators, 9
       weights). Output row p + 1's sums still run over r = 0..2 in order. */
    const int pairs = strips && cv1 == c1 && (!stage || direct) && R == 3 &&
                      d->stride_h == 1 && d->dil_h == 1 && !(cx_dev_flags & CX_DEV_NO_DW2ROW);
#endif
    for (ptrdiff_t p = p0; p < p1; ++p) {
#if CX_DK_STREAM
        if (pairs && p + 1 < p1) {
            CX_T *y0 = y + ((n * P + p) * Q) * K, *y1 = y0 + Q * K;
            const CX_T *xr[4];
            for (ptrdiff_t i = 0; i < 4; ++i) {
                const ptrdiff_t ih = p - d->pad_top + i;
                xr[i] = ih >= 0 && ih < H ? xn + ih * W * C : NULL;
            }
            for (ptrdiff_t q0 = 0; q0 < Q; q0 += QB) {
                const ptrdiff_t qn = cx_min(QB, Q - q0);
                const int inner = qn == QB && q0 - d->pad_left >= 0 &&
                                  q0 - d->pad_left + QB + 2 <= W;
                for (ptrdiff_t c = c0; c < c1; c += CX_DVL) {
                    CX_DV wv[3][3];
                    CX_DK_UNROLL for (int r = 0; r < 3; ++r)
                        CX_DK_UNROLL for (int t = 0; t < 3; ++t)
                            wv[r][t] = CX_NAME(dv_load)(wd + (r * 3 + t) * C + c);
                    CX_DV a0[QB], a1[QB];
                    for (int i = 0; i < QB; ++i)
                        a0[i] = a1[i] = CX_NAME(dv_splat)(0);
                    /* input row i: output row p's kernel row i, p + 1's i - 1
                       (explicit multiply-adds: written `a += w * x` here, GCC
                       left some as a multiply and an add, other bits than
                       the one-row strips', so results would follow the
                       bands' parity, i.e. the thread count) */
                    CX_DK_UNROLL for (int i = 0; i < 4; ++i) {
                        const int k0 = i < 3, k1 = i >= 1;
                        const CX_T *row = xr[i] ? xr[i] + c : NULL;
                        CX_DK_UNROLL for (int t = 0; t < QB + 2; ++t) {
                            const ptrdiff_t iw = q0 - d->pad_left + t;
                            /* (padding and pixels past a short strip: zeros) */
                            const CX_T *src = row && (inner || (iw >= 0 && iw < W && t < qn + 2))
                                                  ? row + iw * C : zero;
                            const CX_DV xv = CX_NAME(dv_load)(src);
                            CX_DK_UNROLL for (int u = 0; u < 3; ++u) {
                                if (t - u < 0 || t - u >= QB)
                                    continue;
                                if (k0)
                                    a0[t - u] = CX_NAME(dv_fma)(wv[i < 3 ? i : 0][u], xv, a0[t - u]);
                                if (k1)
                                    a1[t - u] = CX_NAME(dv_fma)(wv[i >= 1 ? i - 1 : 0][u], xv,
                                                                a1[t - u]);
                            }
                        }
                    }
                    const CX_DV bv = bias ? CX_NAME(dv_load)(bias + c) : CX_NAME(dv_splat)(0);
                    CX_DK_UNROLL for (int h = 0; h < 2; ++h) {
                        CX_T *yo = (h ? y1 : y0) + q0 * K + c;
                        for (int i = 0; i < QB; ++i) {
                            if (i >= qn)
                                break;
                            const CX_DV a = h ? a1[i] : a0[i], o = bias ? a + bv : a;
                            if (direct)
                                CX_NAME(dv_stream)(yo + i * K, o);
                            else
                                CX_NAME(dv_store)(yo + i * K, o);
                        }
                    }
                }
            }
            ++p;
            continue;
        }
#endif
        CX_T *yrow = y + ((n * P + p) * Q) * K;
        CX_T *yb = stage && !direct ? stage : yrow;
        const CX_T *xr[3];
        for (ptrdiff_t r = 0; r < 3; ++r) {
            const ptrdiff_t ih = p * d->stride_h - d->pad_top + r * d->dil_h;
            xr[r] = r < R && ih >= 0 && ih < H ? xn + ih * W * C : NULL;
        }
        /* strips outside, channels inside: a strip's QB + 2 input pixels of
           the kernel rows stay in L1 over its channel vectors (channels
           outside: the rows' pixels, 512 bytes apart on the depthwise layer,
           thrashed a few L1 sets, 1.65x slower than the pixel loop) */
        for (ptrdiff_t q0 = 0; q0 < Q && cv1 > c0; q0 += QB) {
            const ptrdiff_t qn = cx_min(QB, Q - q0);
            const int inner = qn == QB && q0 - d->pad_left >= 0 &&
                              q0 - d->pad_left + QB + 2 <= W;
            /* (no software prefetch of the next row: with the results
               streamed from registers, asking for the next output row's new
               input row a channel vector at a time made the depthwise layer
               5-6% slower, `bench/ab.py`-style A/B in session 27; the
               hardware's streams over the rows keep up) */
            for (ptrdiff_t c = c0; c < cv1; c += CX_DVL) {
                CX_DV wv[3][3];
                CX_DK_UNROLL for (int r = 0; r < 3; ++r)
                    CX_DK_UNROLL for (int t = 0; t < 3; ++t)
                        wv[r][t] = r < R ? CX_NAME(dv_load)(wd + (r * 3 + t) * C + c)
                                         : CX_NAME(dv_splat)(0);
                CX_DV acc[QB];
                for (int i = 0; i < QB; ++i)
                    acc[i] = CX_NAME(dv_splat)(0);
                CX_DK_UNROLL for (int r = 0; r < 3; ++r) {
                    if (r >= R)
                        break;      /* (r a constant: wv stays in registers) */
                    const CX_T *row = xr[r] ? xr[r] + c : NULL;
                    if (row && inner) {
                        /* (a whole strip inside the image: plain loads) */
                        const CX_T *x0 = row + (q0 - d->pad_left) * C;
                        CX_DK_UNROLL for (int t = 0; t < QB + 2; ++t) {
                            const CX_DV xv = CX_NAME(dv_load)(x0 + t * C);
                            CX_DK_UNROLL for (int u = 0; u < 3; ++u)
                                if (t - u >= 0 && t - u < QB)
                                    acc[t - u] += wv[r][u] * xv;
                        }
                        continue;
                    }
                    CX_DK_UNROLL for (int t = 0; t < QB + 2; ++t) {
                        const ptrdiff_t iw = q0 - d->pad_left + t;
                        /* (padding and pixels past a short strip: zeros) */
                        const CX_T *src = row && iw >= 0 && iw < W && t < qn + 2
                                              ? row + iw * C : zero;
                        const CX_DV xv = CX_NAME(dv_load)(src);
                        CX_DK_UNROLL for (int u = 0; u < 3; ++u)
                            if (t - u >= 0 && t - u < QB)
                                acc[t - u] += wv[r][u] * xv;
                    }
                }
                const CX_DV bv = bias ? CX_NAME(dv_load)(bias + c) : CX_NAME(dv_splat)(0);
                for (int i = 0; i < QB; ++i) {
                    if (i >= qn)
                        break;
#if CX_DK_STREAM
                    if (direct) {
                        CX_NAME(dv_stream)(yb + (q0 + i) * K + c, bias ? acc[i] + bv : acc[i]);
                        continue;
                    }
#endif
                    CX_NAME(dv_store)(yb + (q0 + i) * K + c, bias ? acc[i] + bv : acc[i]);
                }
            }
        }
        /* the other channels (all, without the strips) pixel by pixel */
        for (ptrdiff_t q = 0; q < Q && cv1 < c1; ++q) {
            CX_T *yp = yb + q * K;
            const ptrdiff_t ih0 = p * d->stride_h - d->pad_top, iw0 = q * d->stride_w - d->pad_left;
            for (ptrdiff_t j = 0; j < mult; ++j) {
                const CX_T *wj = wd + j * RS * C;
                ptrdiff_t c = cv1;     /* (the strips did [c0, cv1)) */
                for (const ptrdiff_t step = CX_NHWC_DW_NV * CX_DVL; c + step <= c1; c += step) {
                    CX_DV acc[CX_NHWC_DW_NV];
                    for (int v = 0; v < CX_NHWC_DW_NV; ++v)
                        acc[v] = CX_NAME(dv_splat)(0);
                    for (ptrdiff_t r = 0; r < R; ++r) {
                        const ptrdiff_t ih = ih0 + r * d->dil_h;
                        for (ptrdiff_t s = 0; s < S; ++s) {
                            const ptrdiff_t iw = iw0 + s * d->dil_w;
                            const CX_T *xs = (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                ? xn + (ih * W + iw) * C + c : zero;
                            const CX_T *wt = wj + (r * S + s) * C + c;
                            for (int v = 0; v < CX_NHWC_DW_NV; ++v)
                                acc[v] += CX_NAME(dv_load)(xs + v * CX_DVL) *
                                          CX_NAME(dv_load)(wt + v * CX_DVL);
                        }
                    }
                    if (mult == 1) {
                        for (int v = 0; v < CX_NHWC_DW_NV; ++v) {
                            CX_DV o = acc[v];
                            if (bias)
                                o += CX_NAME(dv_load)(bias + c + v * CX_DVL);
                            CX_NAME(dv_store)(yp + c + v * CX_DVL, o);
                        }
                        continue;
                    }
                    CX_T lanes[CX_NHWC_DW_NV * CX_DVL_MAX];
                    for (int v = 0; v < CX_NHWC_DW_NV; ++v)
                        CX_NAME(dv_store)(lanes + v * CX_DVL, acc[v]);
                    for (ptrdiff_t t = 0; t < step; ++t)
                        yp[(c + t) * mult + j] = bias ? lanes[t] + bias[(c + t) * mult + j]
                                                      : lanes[t];
                }
                for (; c < c1; ++c) {
                    CX_T acc = 0;
                    for (ptrdiff_t r = 0; r < R; ++r) {
                        const ptrdiff_t ih = ih0 + r * d->dil_h;
                        for (ptrdiff_t s = 0; s < S; ++s) {
                            const ptrdiff_t iw = iw0 + s * d->dil_w;
                            const CX_T xv = (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                ? xn[(ih * W + iw) * C + c] : zero[0];
                            acc += xv * wj[(r * S + s) * C + c];
                        }
                    }
                    yp[c * mult + j] = bias ? acc + bias[c * mult + j] : acc;
                }
            }
        }
        if (stage && !direct)
            CX_NAME(dk_stream_copy)(yrow, stage, Q * K);
    }
    if (stage)
        CX_NAME(dk_sfence)();
}

/* The 3x3 depthwise weight gradient's nine sums of one channel vector, one
   output column q with the padding's checks: acc[r*3 + t] += x(row r, column
   q + t - pl0) * g, explicit zeros off the image (as the general loop: 0 * inf
   = NaN). xc: x's image at the vector's channel; xo: the rows' offsets of
   column -pl0; rv: which rows are on the image. dv_fma: written `+=`, GCC left
   these unfused, other bits than the unchecked loops'. */
static CX_DK_INLINE void CX_NAME(dw3_column)(CX_DV acc[9], const CX_T *xc,
                                             const ptrdiff_t xo[3], const int rv[3],
                                             ptrdiff_t q, ptrdiff_t pl0, ptrdiff_t W,
                                             ptrdiff_t C, CX_DV g)
{
    CX_DK_UNROLL for (int r = 0; r < 3; ++r)
        CX_DK_UNROLL for (int t = 0; t < 3; ++t) {
            const ptrdiff_t iw = q + t - pl0;
            const CX_DV xv = rv[r] && iw >= 0 && iw < W ? CX_NAME(dv_load)(xc + xo[r] + (q + t) * C)
                                                        : CX_NAME(dv_splat)(0);
            acc[r * 3 + t] = CX_NAME(dv_fma)(xv, g, acc[r * 3 + t]);
        }
}

/* partial[chunk][(j*RS + rs)*C + c] = sum over the chunk's pixels of x[tap(rs), c] * dy[pixel, c*mult + j] */
static void CX_NAME(nhwc_dw_wgrad)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                   const CX_T *x, const CX_T *dy, CX_T *partial,
                                   ptrdiff_t item, CX_T *ws)
{
    const ptrdiff_t C = d->C, K = d->K, mult = K / C, H = d->H, W = d->W, P = d->P, Q = d->Q;
    const ptrdiff_t R = d->R, S = d->S, RS = R * S, sh = d->stride_h, sw = d->stride_w;
    /* item = (chunk of images, band of output rows), one partial each */
    const ptrdiff_t split = item, chunk = item / pl->ntiles, band = item % pl->ntiles;
    const ptrdiff_t n0 = chunk * pl->nper, n1 = cx_min(d->N, n0 + pl->nper);
    const ptrdiff_t p0 = band * pl->tile, p1 = cx_min(P, p0 + pl->tile);
    const ptrdiff_t c0 = 0, c1 = C;
    CX_T *out = partial + split * pl->wsize;
    const CX_T *zero = ws;
    for (ptrdiff_t i = 0; i < CX_NHWC_DW_NV * CX_DVL; ++i)
        ws[i] = 0;
    for (ptrdiff_t j = 0; j < mult; ++j)
        for (ptrdiff_t rs = 0; rs < RS; ++rs)
            for (ptrdiff_t c = c0; c < c1; ++c)
                out[(j * RS + rs) * C + c] = 0;
    if (mult == 1 && R == 3 && S == 3 && sw == 1 && d->dil_h == 1 && d->dil_w == 1) {
        /* 3x3 with unit steps along rows: the nine taps' sums of one channel
           vector in registers over a whole output row (each x and dY vector
           read from cache, nothing stored per tap). Padding taps multiply
           explicit zeros, as the general loop; its per-row sums are these (a
           sum over q per tap, added in row order), so the bits are the same */
        const ptrdiff_t pl0 = d->pad_left;
        const ptrdiff_t qa = cx_min(cx_max(pl0, 0), Q), qb = cx_max(cx_min(W - 2 + pl0, Q), qa);
        const CX_DV zv = CX_NAME(dv_splat)(0);
        enum { WB = 8 };
        const int blocks = CX_DVL > 1 && !(cx_dev_flags & CX_DEV_NO_DWWBLK);
        CX_T *rb = ws + CX_NAME(nhwc_dw_ws_base)(d);      /* 9 x C: a row's sums */
        for (ptrdiff_t n = n0; n < n1; ++n) {
            const CX_T *xn = x + n * H * W * C;
            for (ptrdiff_t p = p0; p < p1; ++p) {
                ptrdiff_t xo[3];          /* x row r's element offset of column -pl0 */
                int rv[3];
                for (int r = 0; r < 3; ++r) {
                    const ptrdiff_t ih = p * sh + r - d->pad_top;
                    rv[r] = ih >= 0 && ih < H;
                    xo[r] = rv[r] ? (ih * W - pl0) * C : 0;
                }
                const CX_T *dyr = dy + ((n * P + p) * Q) * K;
                ptrdiff_t c = c0;
                if (blocks) {
                    /* blocks of WB output columns outside, channel vectors
                       inside: a block's 3 x (WB + 2) input and WB dY pixels
                       (19 KB on the depthwise layer) stay in L1 over its
                       channels, where a channel vector's pass over the whole
                       row, 512-byte steps, thrashed a few L1 sets (that form,
                       CX_DEV_NO_DWWBLK, 1.35x this one's time at 1 thread,
                       1.20x at 2; blocks of 4 or 16 columns gained less).
                       The nine sums of a channel vector wait in rb between
                       blocks, so each is still one sum over q in order from
                       0, added to out at the row's end. */
                    const ptrdiff_t cv = c0 + (c1 - c0) / CX_DVL * CX_DVL;
                    const int rows = rv[0] && rv[1] && rv[2];
                    for (int t = 0; t < 9; ++t)
                        for (ptrdiff_t cc = c0; cc < cv; cc += CX_DVL)
                            CX_NAME(dv_store)(rb + t * C + cc, zv);
                    /* segments of at most WB columns in q order: whole
                       blocks inside [qa, qb) (every tap on the image) on the
                       unrolled form, the rest of [qa, qb) without the
                       padding's checks, the edges and rows with a padding
                       row with them */
                    for (ptrdiff_t q0 = 0, q1; q0 < Q; q0 = q1) {
                        int kind;           /* 0: checks, 1: unrolled block, 2: no checks */
                        if (rows && q0 >= qa && q0 < qb) {
                            kind = q0 + WB <= qb ? 1 : 2;
                            q1 = kind == 1 ? q0 + WB : qb;
                        } else {
                            kind = 0;
                            q1 = cx_min(q0 + WB, rows && q0 < qa ? qa : Q);
                        }
                        for (ptrdiff_t cc = c0; cc < cv; cc += CX_DVL) {
                            CX_DV acc[9];
                            /* (pointers stepped, opaque: see xr below) */
                            const CX_T *rp = rb + cc;
                            for (int t = 0; t < 9; ++t) {
                                acc[t] = CX_NAME(dv_load)(rp);
                                rp += C;
                                CX_DK_OPAQUE(rp);
                            }
                            if (kind == 1) {
                                /* each input vector loaded once for the (up
                                   to) 3 columns that read it */
                                CX_DV g[WB];
                                const CX_T *gp = dyr + q0 * K + cc;
                                CX_DK_UNROLL for (int i = 0; i < WB; ++i) {
                                    g[i] = CX_NAME(dv_load)(gp);
                                    gp += K;
                                    CX_DK_OPAQUE(gp);
                                }
                                {
                                    /* the next output row's dY and new x row
                                       for these pixels and channels, a line
                                       each, into L2 (prefetches past the
                                       arrays' end do not fault; into L1
                                       they measured 0.99 | 1.03 of the time,
                                       into L2 0.94 | 0.99, two rows ahead
                                       0.95 | 0.99) */
                                    const CX_T *pd = dyr + (Q + q0) * K + cc;
                                    const CX_T *px = xn + xo[2] + W * C + (q0 + 2) * C + cc;
                                    CX_DK_UNROLL for (int i = 0; i < WB; ++i) {
                                        CX_NAME(dk_prefetch_l2)(pd);
                                        CX_NAME(dk_prefetch_l2)(px);
                                        pd += K;
                                        px += C;
                                        CX_DK_OPAQUE(pd);
                                        CX_DK_OPAQUE(px);
                                    }
                                }
                                CX_DK_UNROLL for (int r = 0; r < 3; ++r) {
                                    const CX_T *xr = xn + xo[r] + q0 * C + cc;
                                    CX_DK_UNROLL for (int j = 0; j < WB + 2; ++j) {
                                        const CX_DV xv = CX_NAME(dv_load)(xr);
                                        /* (a pointer stepped a pixel at a
                                           time, opaque to GCC: with
                                           xr + j * C it kept the 30 row
                                           pointers of a block, ran out of
                                           registers and moved them through
                                           vector ones, a vmovq per load) */
                                        xr += C;
                                        CX_DK_OPAQUE(xr);
                                        CX_DK_UNROLL for (int t = 0; t < 3; ++t)
                                            if (j - t >= 0 && j - t < WB)
                                                acc[r * 3 + t] = CX_NAME(dv_fma)(
                                                    xv, g[j - t], acc[r * 3 + t]);
                                    }
                                }
                            } else if (kind == 2) {
                                for (ptrdiff_t q = q0; q < q1; ++q) {
                                    const CX_DV g = CX_NAME(dv_load)(dyr + q * K + cc);
                                    CX_DK_UNROLL for (int r = 0; r < 3; ++r)
                                        CX_DK_UNROLL for (int t = 0; t < 3; ++t)
                                            acc[r * 3 + t] = CX_NAME(dv_fma)(
                                                CX_NAME(dv_load)(xn + xo[r] + (q + t) * C + cc),
                                                g, acc[r * 3 + t]);
                                }
                            } else {
                                for (ptrdiff_t q = q0; q < q1; ++q)
                                    CX_NAME(dw3_column)(acc, xn + cc, xo, rv, q, pl0, W, C,
                                                        CX_NAME(dv_load)(dyr + q * K + cc));
                            }
                            CX_T *wq = rb + cc;
                            for (int t = 0; t < 9; ++t) {
                                CX_NAME(dv_store)(wq, acc[t]);
                                wq += C;
                                CX_DK_OPAQUE(wq);
                            }
                        }
                    }
                    for (int t = 0; t < 9; ++t)
                        for (ptrdiff_t cc = c0; cc < cv; cc += CX_DVL) {
                            CX_T *o = out + t * C + cc;
                            CX_NAME(dv_store)(o, CX_NAME(dv_load)(o) +
                                                     CX_NAME(dv_load)(rb + t * C + cc));
                        }
                    c = cv;
                }
                for (; c + CX_DVL <= c1; c += CX_DVL) {
                    CX_DV acc[9];
                    for (int t = 0; t < 9; ++t)
                        acc[t] = zv;
                    /* q ascending: [0, qa) and [qb, Q) with the padding's
                       checks, [qa, qb) (columns q + t - pl0 all inside the
                       image) without them where all three rows are too */
                    for (ptrdiff_t q = 0; q < Q; ++q) {
                        if (q == qa && rv[0] && rv[1] && rv[2]) {
                            const CX_T *x0 = xn + xo[0] + c, *x1 = xn + xo[1] + c;
                            const CX_T *x2 = xn + xo[2] + c;
                            for (; q < qb; ++q) {
                                const CX_DV g = CX_NAME(dv_load)(dyr + q * K + c);
                                /* the next output row's dY and new x row, a line
                                   of each per step: the rows come from memory, and a
                                   channel vector's pass reads them with a pixel's
                                   stride, which the hardware's prefetchers did not
                                   follow (80% of the time stalled on these loads;
                                   0.69x the time at 1 thread, 0.72x at 2). A
                                   prefetch past the arrays' end does not fault. */
                                CX_NAME(dk_prefetch_line)(dyr + (Q + q) * K + c);
                                CX_NAME(dk_prefetch_line)(x2 + (W + q + 2) * C);
                                CX_DK_UNROLL
                                for (int t = 0; t < 3; ++t) {
                                    acc[t] += CX_NAME(dv_load)(x0 + (q + t) * C) * g;
                                    acc[3 + t] += CX_NAME(dv_load)(x1 + (q + t) * C) * g;
                                    acc[6 + t] += CX_NAME(dv_load)(x2 + (q + t) * C) * g;
                                }
                            }
                            if (q == Q)
                                break;
                        }
                        CX_NAME(dw3_column)(acc, xn + c, xo, rv, q, pl0, W, C,
                                            CX_NAME(dv_load)(dyr + q * K + c));
                    }
                    for (int t = 0; t < 9; ++t) {
                        CX_T *o = out + t * C + c;
                        CX_NAME(dv_store)(o, CX_NAME(dv_load)(o) + acc[t]);
                    }
                }
                for (; c < c1; ++c)
                    for (int r = 0; r < 3; ++r)
                        for (int t = 0; t < 3; ++t) {
                            CX_T a = 0;
                            for (ptrdiff_t q = 0; q < Q; ++q) {
                                const ptrdiff_t iw = q + t - pl0;
                                a += (rv[r] && iw >= 0 && iw < W ? xn[xo[r] + (q + t) * C + c]
                                                                 : 0) * dyr[q * K + c];
                            }
                            out[(r * 3 + t) * C + c] += a;
                        }
            }
        }
        return;
    }
    for (ptrdiff_t n = n0; n < n1; ++n) {
        const CX_T *xn = x + n * H * W * C;
        for (ptrdiff_t p = p0; p < p1; ++p)
            for (ptrdiff_t r = 0; r < R; ++r) {
                const ptrdiff_t ih = p * sh + r * d->dil_h - d->pad_top;
                const int row_in = ih >= 0 && ih < H;
                for (ptrdiff_t s = 0; s < S; ++s) {
                    const ptrdiff_t woff = s * d->dil_w - d->pad_left;
                    for (ptrdiff_t j = 0; j < mult; ++j) {
                        CX_T *oj = out + (j * RS + r * S + s) * C;
                        const CX_T *dyr = dy + ((n * P + p) * Q) * K + j;
                        ptrdiff_t c = c0;
                        if (mult == 1)
                            for (const ptrdiff_t step = CX_NHWC_DW_NV * CX_DVL; c + step <= c1;
                                 c += step) {
                                CX_DV acc[CX_NHWC_DW_NV];
                                for (int v = 0; v < CX_NHWC_DW_NV; ++v)
                                    acc[v] = CX_NAME(dv_splat)(0);
                                for (ptrdiff_t q = 0; q < Q; ++q) {
                                    const ptrdiff_t iw = q * sw + woff;
                                    const CX_T *xs = (row_in && iw >= 0 && iw < W)
                                        ? xn + (ih * W + iw) * C + c : zero;
                                    const CX_T *ds = dyr + q * K + c;
                                    for (int v = 0; v < CX_NHWC_DW_NV; ++v)
                                        acc[v] += CX_NAME(dv_load)(xs + v * CX_DVL) *
                                                  CX_NAME(dv_load)(ds + v * CX_DVL);
                                }
                                for (int v = 0; v < CX_NHWC_DW_NV; ++v)
                                    CX_NAME(dv_store)(oj + c + v * CX_DVL,
                                                      CX_NAME(dv_load)(oj + c + v * CX_DVL) + acc[v]);
                            }
                        for (; c < c1; ++c) {
                            CX_T acc = 0;
                            for (ptrdiff_t q = 0; q < Q; ++q) {
                                const ptrdiff_t iw = q * sw + woff;
                                const CX_T xv = (row_in && iw >= 0 && iw < W)
                                    ? xn[(ih * W + iw) * C + c] : zero[0];
                                acc += xv * dyr[q * K + c * mult];
                            }
                            oj[c] += acc;
                        }
                    }
                }
            }
    }
}

/* dx[pixel, c] = sum_j sum over taps whose output exists of dy[out, c*mult + j] * wd[(j*RS + rs)*C + c].
   The taps of a pixel are listed once (ws: R + S row and R + S column entries):
   the kernel rows r whose output row (h + pad - r*dh) / sh exists, then per
   column the s whose output column exists; the channel loops run over the list. */
static void CX_NAME(nhwc_dw_dgrad)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                   const CX_T *dy, CX_T *dx, ptrdiff_t item, CX_T *ws)
{
    const ptrdiff_t C = d->C, K = d->K, mult = K / C, H = d->H, W = d->W, P = d->P, Q = d->Q;
    const ptrdiff_t R = d->R, S = d->S, RS = R * S, sh = d->stride_h, sw = d->stride_w;
    const ptrdiff_t cb = item % pl->cblocks, band = (item / pl->cblocks) % pl->ntiles;
    const ptrdiff_t n = item / (pl->cblocks * pl->ntiles);
    const ptrdiff_t c0 = cb * pl->cblock, c1 = cx_min(C, c0 + pl->cblock);
    const ptrdiff_t h0 = band * pl->tile, h1 = cx_min(H, h0 + pl->tile);
    const CX_T *wd = (const CX_T *)pl->apacked;
    const CX_T *dyn = dy + n * P * Q * K;
    /* rr[i] = r, ro[i] = its output row * Q; cs[i] = s, co[i] = its output column */
    ptrdiff_t *rr = (ptrdiff_t *)ws, *ro = rr + R, *cs = ro + R, *co = cs + S;
    CX_T *stage = pl->dk_stream ? ws + CX_NAME(nhwc_dw_ws_base)(d) : NULL;
    for (ptrdiff_t h = h0; h < h1; ++h) {
        CX_T *xrow = dx + ((n * H + h) * W) * C;
        ptrdiff_t nr = 0;
        for (ptrdiff_t r = 0; r < R; ++r) {
            const ptrdiff_t t = h + d->pad_top - r * d->dil_h;
            if (t >= 0 && t % sh == 0 && t / sh < P) {
                rr[nr] = r;
                ro[nr++] = (t / sh) * Q;
            }
        }
        for (ptrdiff_t wcol = 0; wcol < W; ++wcol) {
            CX_T *xp = (stage ? stage : xrow) + wcol * C;
            ptrdiff_t ns = 0;
            for (ptrdiff_t s = 0; s < S; ++s) {
                const ptrdiff_t u = wcol + d->pad_left - s * d->dil_w;
                if (u >= 0 && u % sw == 0 && u / sw < Q) {
                    cs[ns] = s;
                    co[ns++] = u / sw;
                }
            }
            ptrdiff_t c = c0;
            if (mult == 1)
                for (const ptrdiff_t step = CX_NHWC_DW_NV * CX_DVL; c + step <= c1; c += step) {
                    CX_DV acc[CX_NHWC_DW_NV];
                    for (int v = 0; v < CX_NHWC_DW_NV; ++v)
                        acc[v] = CX_NAME(dv_splat)(0);
                    for (ptrdiff_t i = 0; i < nr; ++i)
                        for (ptrdiff_t k = 0; k < ns; ++k) {
                            const CX_T *ds = dyn + (ro[i] + co[k]) * K + c;
                            const CX_T *wv = wd + (rr[i] * S + cs[k]) * C + c;
                            for (int v = 0; v < CX_NHWC_DW_NV; ++v)
                                acc[v] += CX_NAME(dv_load)(ds + v * CX_DVL) *
                                          CX_NAME(dv_load)(wv + v * CX_DVL);
                        }
                    for (int v = 0; v < CX_NHWC_DW_NV; ++v)
                        CX_NAME(dv_store)(xp + c + v * CX_DVL, acc[v]);
                }
            for (; c < c1; ++c) {
                CX_T acc = 0;
                for (ptrdiff_t j = 0; j < mult; ++j)
                    for (ptrdiff_t i = 0; i < nr; ++i)
                        for (ptrdiff_t k = 0; k < ns; ++k)
                            acc += dyn[(ro[i] + co[k]) * K + c * mult + j] *
                                   wd[(j * RS + rr[i] * S + cs[k]) * C + c];
                xp[c] = acc;
            }
        }
        if (stage)
            CX_NAME(dk_stream_copy)(xrow, stage, W * C);
    }
    if (stage)
        CX_NAME(dk_sfence)();
}

/* ------------------------------------------------------------- GEMM drivers */

/* y[n, tile, g's channels] = cols (tile x RSC) @ w' (RSC x Kg) + bias */
static void CX_NAME(nhwc_fwd_gemm)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                   const CX_T *x, const CX_T *bias, CX_T *y, ptrdiff_t item,
                                   CX_T *ws)
{
    const CX_KERNEL_T *kr = CX_NAME(nhwc_kernel)(pl);
    const ptrdiff_t MR = kr->mr, NR = kr->nr, KC = kr->kc, MC = kr->mc;
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, K = d->K;
    const ptrdiff_t RSC = d->R * d->S * Cg, PQ = d->P * d->Q, Kpad = cx_ceil_div(Kg, NR) * NR;
    const ptrdiff_t t = item % pl->ntiles, g = (item / pl->ntiles) % G;
    const ptrdiff_t n = item / (pl->ntiles * G);
    const ptrdiff_t m0 = t * pl->tile, mt = cx_min(pl->tile, PQ - m0);
    const CX_T *bp = (const CX_T *)pl->apacked + g * pl->apack_elems;
    const CX_T *xn = x + n * d->H * d->W * d->C;
    CX_T *yb = y + (n * PQ + m0) * K + g * Kg;
    CX_T *apack = ws, *zero = ws + MC * KC;
    for (ptrdiff_t i = 0; i < KC; ++i)
        zero[i] = 0;
    /* 1x1 stride 1: the pixel rows are A's rows, read in place by the tile's
       A-row twin (row stride C) in whole blocks of MR, only a last shorter
       block packed; the same sums as the packed tile's (session 35: the
       transposing pack was 37% of res1x1's forward; in place, blocks of rows
       outside, with the next block's lines prefetched, it ran 0.73 of the
       NCHW forward's time by bench/variant_ab.py, 0.76 | 0.80 paired in
       bench/speed8.py at 1 | 2 threads) */
    const int arows = cx_is_pointwise(d) && kr->aukernel && !(cx_dev_flags & CX_DEV_NO_AROWS);
    for (ptrdiff_t pc = 0; pc < RSC; pc += KC) {
        const ptrdiff_t kc = cx_min(KC, RSC - pc);
        for (ptrdiff_t ic = 0; ic < mt; ic += MC) {
            const ptrdiff_t mc = cx_min(MC, mt - ic), mfull = arows ? mc / MR * MR : 0;
            if (mfull < mc)
                CX_NAME(nhwc_pack_pixels)(d, xn, g * Cg, m0 + ic + mfull, mc - mfull, pc, kc,
                                          MR, zero, zero + KC, apack);
            /* (in place: each block of rows under every B panel while its
               rows are in L1, the tile asking for the next block's lines;
               packed: each B panel under every packed block, as a GEMM) */
            const ptrdiff_t nj = cx_ceil_div(Kg, NR), ni = cx_ceil_div(mc, MR);
            for (ptrdiff_t u = 0; u < ni * nj; ++u) {
                const ptrdiff_t ir = (arows ? u / nj : u % ni) * MR;
                const ptrdiff_t jr = (arows ? u % nj : u / ni) * NR;
                const CX_T *bpanel = bp + pc * Kpad + jr * kc;
                CX_T *ct = yb + (ic + ir) * K + jr;
                if (ir < mfull)
                    kr->aukernel(kc, xn + (m0 + ic + ir) * d->C + g * Cg + pc, d->C, bpanel, NR,
                                 ct, K, 1, pc > 0, MR, cx_min(NR, Kg - jr));
                else
                    kr->ukernel(kc, apack + (ir - mfull) * kc, bpanel, NR, ct, K, 1, pc > 0,
                                cx_min(MR, mc - ir), cx_min(NR, Kg - jr));
            }
        }
    }
    if (bias)
        for (ptrdiff_t i = 0; i < mt; ++i)
            for (ptrdiff_t k = 0; k < Kg; ++k)
                yb[i * K + k] += bias[g * Kg + k];
}

/* partial[chunk][g][rows, :] = sum over the chunk's images of cols^T (rows x PQ) @ dy (PQ x Kg) */
static void CX_NAME(nhwc_wgrad_gemm)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                     const CX_T *x, const CX_T *dy, CX_T *partial,
                                     ptrdiff_t item, CX_T *ws)
{
    const CX_KERNEL_T *kr = CX_NAME(nhwc_kernel)(pl);
    const ptrdiff_t MR = kr->mr, NR = kr->nr, KC = kr->kc, MC = kr->mc;
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, K = d->K;
    const ptrdiff_t RSC = d->R * d->S * Cg, PQ = d->P * d->Q;
    const ptrdiff_t cb = item % pl->cblocks, g = (item / pl->cblocks) % G;
    const ptrdiff_t split = item / (pl->cblocks * G);
    const ptrdiff_t n0 = split * pl->nper, n1 = cx_min(d->N, n0 + pl->nper);
    const ptrdiff_t row0 = cb * pl->cblock, rows = cx_min(pl->cblock, RSC - row0);
    const ptrdiff_t nfull = Kg / NR * NR;
    CX_T *out = partial + split * pl->wsize + (g * RSC + row0) * Kg;
    CX_T *apack = ws, *bedge = ws + MC * KC;
    if (rows <= 0)
        return;
    if (pl->nhwc_kmajor) {
        /* C = dw'^T (Kg x rows), the partial k-major ([g][k][rsc], so that C
           rows take vector stores), A = dY^T (Kg x pixels) packed, B = the
           column matrix's rows: for 1x1 stride 1 the image's pixels read in
           place, else each pixel's taps gathered by nhwc_pack_b_taps */
        CX_T *outk = partial + split * pl->wsize + g * Kg * RSC + row0;
        for (ptrdiff_t n = n0; n < n1; ++n) {
            const CX_T *xn = x + n * d->H * d->W * d->C;
            const CX_T *a = dy + n * PQ * K + g * Kg;
            const CX_T *apre = pl->apack_units ? (const CX_T *)pl->apacked +
                                                     (size_t)(n * G + g) * pl->apack_elems
                                               : NULL;
            if (cx_is_pointwise(d)) {
                const CX_T *xr = xn + g * Cg + row0;
                CX_NAME(strided_b) bs = {xr, d->C, 1};
                CX_NAME(gemm_core_seg)(kr, Kg, rows, PQ, a, 1, K, apre, CX_NAME(pack_b_strided),
                                       &bs, xr, d->C, NULL, n > n0, outk, RSC, 1, 0, 0, 0, ws);
            } else {
                CX_NAME(nhwc_taps_b) bs = {d, xn, g * Cg, row0,
                                           ws + CX_NAME(gemm_workspace_elems)()};
                CX_NAME(gemm_core_seg)(kr, Kg, rows, PQ, a, 1, K, apre, CX_NAME(nhwc_pack_b_taps),
                                       &bs, NULL, 0, NULL, n > n0, outk, RSC, 1, 0, 0, 0, ws);
            }
        }
        return;
    }
    for (ptrdiff_t n = n0; n < n1; ++n) {
        const CX_T *xn = x + n * d->H * d->W * d->C;
        const CX_T *dyn = dy + n * PQ * K + g * Kg;
        for (ptrdiff_t pc = 0; pc < PQ; pc += KC) {
            const ptrdiff_t kc = cx_min(KC, PQ - pc);
            const int acc = n > n0 || pc > 0;
            if (nfull < Kg)     /* the last, partial panel of dY columns, zero-padded */
                for (ptrdiff_t pp = 0; pp < kc; ++pp)
                    for (ptrdiff_t jj = 0; jj < NR; ++jj)
                        bedge[pp * NR + jj] = nfull + jj < Kg ? dyn[(pc + pp) * K + nfull + jj] : 0;
            for (ptrdiff_t ic = 0; ic < rows; ic += MC) {
                const ptrdiff_t mc = cx_min(MC, rows - ic);
                CX_NAME(nhwc_pack_taps)(d, xn, g * Cg, row0 + ic, mc, pc, kc, MR, apack);
                for (ptrdiff_t jr = 0; jr < Kg; jr += NR) {
                    const CX_T *b = jr < nfull ? dyn + pc * K + jr : bedge;
                    const ptrdiff_t ldb = jr < nfull ? K : NR;
                    for (ptrdiff_t ir = 0; ir < mc; ir += MR)
                        kr->ukernel(kc, apack + ir * kc, b, ldb, out + (ic + ir) * Kg + jr, Kg, 1,
                                    acc, cx_min(MR, mc - ir), cx_min(NR, Kg - jr));
                }
            }
        }
    }
}

/* dx[n, band, g's channels] = col2im(dy (pixels x Kg) @ w'^T (Kg x RSC)) over the band's output rows */
static void CX_NAME(nhwc_dgrad_gemm)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                     const CX_T *dy, CX_T *dx, ptrdiff_t item, CX_T *ws)
{
    const CX_KERNEL_T *kr = CX_NAME(nhwc_kernel)(pl);
    const ptrdiff_t MR = kr->mr, NR = kr->nr, KC = kr->kc, MC = kr->mc;
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, K = d->K, C = d->C;
    const ptrdiff_t H = d->H, W = d->W, P = d->P, Q = d->Q, R = d->R, S = d->S;
    const ptrdiff_t RSC = R * S * Cg, PQ = P * Q, Npad = cx_ceil_div(RSC, NR) * NR;
    const ptrdiff_t sh = d->stride_h, sw = d->stride_w, pt = d->pad_top, pw = d->pad_left;
    const ptrdiff_t g = item % G, band = (item / G) % pl->ntiles, n = item / (G * pl->ntiles);
    const ptrdiff_t h0 = band * pl->tile, h1 = cx_min(H, h0 + pl->tile);
    const CX_T *bp = (const CX_T *)pl->apacked + g * pl->apack_elems;
    CX_T *apack = ws, *dcols = ws + MC * KC, *zero = dcols + pl->nhwc_chunk * RSC;
    for (ptrdiff_t i = 0; i < KC; ++i)
        zero[i] = 0;
    for (ptrdiff_t h = h0; h < h1; ++h)
        for (ptrdiff_t wcol = 0; wcol < W; ++wcol) {
            CX_T *xp = dx + ((n * H + h) * W + wcol) * C + g * Cg;
            for (ptrdiff_t c = 0; c < Cg; ++c)
                xp[c] = 0;
        }
    /* output rows with a tap in [h0, h1): p*sh + r*dh - pt in [h0, h1) for some r < R */
    const ptrdiff_t plo = cx_max(-cx_floor_div(-(h0 + pt - (R - 1) * d->dil_h), sh), 0);
    const ptrdiff_t phi = cx_min(cx_floor_div(h1 - 1 + pt, sh) + 1, P);
    if (phi <= plo)
        return;
    const CX_T *dyg = dy + n * PQ * K + g * Kg;
    for (ptrdiff_t j0 = plo * Q; j0 < phi * Q; j0 += pl->nhwc_chunk) {
        const ptrdiff_t mt = cx_min(pl->nhwc_chunk, phi * Q - j0);
        for (ptrdiff_t pc = 0; pc < Kg; pc += KC) {
            const ptrdiff_t kc = cx_min(KC, Kg - pc);
            for (ptrdiff_t ic = 0; ic < mt; ic += MC) {
                const ptrdiff_t mc = cx_min(MC, mt - ic);
                /* dY rows (pixels) interleaved into MR-high panels: the
                   transposing gather of the forward's pixel packer */
                const CX_T *src[CX_NHWC_MR_MAX];
                for (ptrdiff_t i0 = 0; i0 < mc; i0 += MR) {
                    for (ptrdiff_t i = 0; i < MR; ++i)
                        src[i] = i0 + i < mc ? dyg + (j0 + ic + i0 + i) * K + pc : zero;
                    CX_NAME(nhwc_gather)(MR, kc, src, apack + i0 * kc);
                }
                for (ptrdiff_t jr = 0; jr < RSC; jr += NR) {
                    const CX_T *bpanel = bp + pc * Npad + jr * kc;
                    for (ptrdiff_t ir = 0; ir < mc; ir += MR)
                        kr->ukernel(kc, apack + ir * kc, bpanel, NR, dcols + (ic + ir) * RSC + jr,
                                    RSC, 1, pc > 0, cx_min(MR, mc - ir), cx_min(NR, RSC - jr));
                }
            }
        }
        /* col2im into the band only: dx[ih, iw, g*Cg + c] += dcols[pixel, (r*S + s)*Cg + c];
           with one group and dilation 1 along W, a kernel row's taps inside the
           image are one run of adjacent pixels in dx and in dcols */
        const int runs = d->dil_w == 1 && Cg == C;
        ptrdiff_t p = j0 / Q, q = j0 % Q;
        for (ptrdiff_t jj = 0; jj < mt; ++jj) {
            for (ptrdiff_t r = 0; r < R; ++r) {
                const ptrdiff_t ih = p * sh + r * d->dil_h - pt;
                if (ih < h0 || ih >= h1)
                    continue;
                if (runs) {
                    const ptrdiff_t iw0 = q * sw - pw;
                    const ptrdiff_t s0 = cx_min(cx_max(-iw0, 0), S);
                    const ptrdiff_t s1 = cx_max(cx_min(W - iw0, S), s0);
                    if (s1 == s0)
                        continue;
                    CX_T *restrict xp = dx + ((n * H + ih) * W + iw0 + s0) * C;
                    const CX_T *restrict cp = dcols + jj * RSC + (r * S + s0) * C;
                    for (ptrdiff_t t = 0; t < (s1 - s0) * C; ++t)
                        xp[t] += cp[t];
                    continue;
                }
                for (ptrdiff_t s = 0; s < S; ++s) {
                    const ptrdiff_t iw = q * sw + s * d->dil_w - pw;
                    if (iw < 0 || iw >= W)
                        continue;
                    CX_T *restrict xp = dx + ((n * H + ih) * W + iw) * C + g * Cg;
                    const CX_T *restrict cp = dcols + jj * RSC + (r * S + s) * Cg;
                    for (ptrdiff_t c = 0; c < Cg; ++c)
                        xp[c] += cp[c];
                }
            }
            if (++q == Q) {
                q = 0;
                ++p;
            }
        }
    }
}

/* ------------------------------------------------------------- entry points */

void CX_NAME(conv2d_nhwc_fwd)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                              const CX_T *x, const CX_T *bias, CX_T *y, ptrdiff_t item,
                              CX_T *ws)
{
    if (pl->dk_nhwc)
        CX_NAME(fwd_dk)(d, pl, x, NULL, bias, y, item, ws);
    else if (pl->nhwc_dw)
        CX_NAME(nhwc_dw_fwd)(d, pl, x, bias, y, item, ws);
    else
        CX_NAME(nhwc_fwd_gemm)(d, pl, x, bias, y, item, ws);
}

void CX_NAME(conv2d_nhwc_wgrad)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                const CX_T *x, const CX_T *dy, CX_T *partial, ptrdiff_t item,
                                CX_T *ws)
{
    if (pl->dk_nhwc)
        CX_NAME(wgrad_dk)(d, pl, x, dy, partial, item, ws);
    else if (pl->nhwc_dw)
        CX_NAME(nhwc_dw_wgrad)(d, pl, x, dy, partial, item, ws);
    else
        CX_NAME(nhwc_wgrad_gemm)(d, pl, x, dy, partial, item, ws);
}

void CX_NAME(conv2d_nhwc_wgrad_reduce)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                       const CX_T *partial, CX_T *dw, ptrdiff_t begin,
                                       ptrdiff_t end)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, RS = d->R * d->S;
    if (begin >= end)
        return;
    if (pl->dk_nhwc) {
        /* (the direct tiles' partials are in dw's own order) */
        CX_NAME(sum_partials)(partial, pl->wsize, pl->nsplit, dw, begin, end);
        return;
    }
    if (pl->nhwc_kmajor) {
        /* k-major: each output channel's whole block of dw (Cg x RS) from its
           partials' RS x Cg, read along the partials' rows (read along dw's
           order, the gather from RS * nsplit lines cost 7% of res3x3_256's
           channels-last weight gradient on AVX2); the block's ends in
           [begin, end) by the element loop below */
        const ptrdiff_t CRS = Cg * RS;
        ptrdiff_t kb = (begin + CRS - 1) / CRS, ke = end / CRS;
        if (kb < ke) {
            for (ptrdiff_t k = kb; k < ke; ++k) {
                const CX_T *src = partial + k * CRS;
                CX_T *dst = dw + k * CRS;
                for (ptrdiff_t rs = 0; rs < RS; ++rs)
                    for (ptrdiff_t c = 0; c < Cg; ++c) {
                        CX_T acc = src[rs * Cg + c];
                        for (ptrdiff_t sp = 1; sp < pl->nsplit; ++sp)
                            acc += src[sp * pl->wsize + rs * Cg + c];
                        dst[c * RS + rs] = acc;
                    }
            }
            CX_NAME(conv2d_nhwc_wgrad_reduce)(d, pl, partial, dw, ke * CRS, end);
            end = kb * CRS;
        }
    }
    /* dw[i], i = (k*Cg + c)*RS + rs, walked with its indices stepped (three
       divisions an element were 12% of res3x3_256's channels-last weight
       gradient on AVX2) */
    ptrdiff_t k = begin / (Cg * RS), c = (begin / RS) % Cg, rs = begin % RS;
    for (ptrdiff_t i = begin; i < end; ++i) {
        const ptrdiff_t g = k / Kg, kl = k % Kg;
        /* k-major [g][k][rsc] partials, the
           depthwise loops' wd order, or c-major [g][rsc][k] */
        const ptrdiff_t src = pl->nhwc_kmajor ? k * RS * Cg + rs * Cg + c
                              : pl->nhwc_dw ? (kl * RS + rs) * d->C + g
                                            : (g * RS * Cg + rs * Cg + c) * Kg + kl;
        CX_T acc = partial[src];
        for (ptrdiff_t sp = 1; sp < pl->nsplit; ++sp)
            acc += partial[sp * pl->wsize + src];
        dw[i] = acc;
        if (++rs == RS) {
            rs = 0;
            if (++c == Cg) {
                c = 0;
                ++k;
            }
        }
    }
}

void CX_NAME(conv2d_nhwc_dgrad)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                const CX_T *dy, CX_T *dx, ptrdiff_t item, CX_T *ws)
{
    if (pl->nhwc_dw)
        CX_NAME(nhwc_dw_dgrad)(d, pl, dy, dx, item, ws);
    else
        CX_NAME(nhwc_dgrad_gemm)(d, pl, dy, dx, item, ws);
}

#undef CX_DV
#undef CX_DVL
#undef CX_ASAN_RUN

/* A padding mode's input gradient through the depthwise forward form (d, pl:
   that forward's plan, multiplier 1; its output, Hp x Wp = P x Q, is the padded
   input's gradient), folded as it is made (see conv2d_fwd_fold for NCHW): item
   `item`'s rows are computed into yb (this thread's Q * K elements), each row's
   padded columns added at the columns they copied (src_w; left: the left
   padding), inner rows written to their row of dx (N, H, W, C) (non-temporal
   stores when `stream` and the item has every channel), padded rows to ring
   (N planes of Hp - H rows of Q * K) for conv2d_nhwc_fold_ring. */
void CX_NAME(conv2d_nhwc_fwd_fold)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                   const CX_T *x, CX_T *dx, CX_T *ring, ptrdiff_t H,
                                   ptrdiff_t W, ptrdiff_t top, ptrdiff_t left,
                                   const ptrdiff_t *src_w, int stream, ptrdiff_t item, CX_T *ws,
                                   CX_T *yb)
{
    const ptrdiff_t C = d->C, K = d->K, P = d->P, Q = d->Q;
    const ptrdiff_t cb = item % pl->cblocks, band = (item / pl->cblocks) % pl->ntiles;
    const ptrdiff_t n = item / (pl->cblocks * pl->ntiles);
    const ptrdiff_t c0 = cb * pl->cblock, c1 = cx_min(C, c0 + pl->cblock), nc = c1 - c0;
    const ptrdiff_t p0 = band * pl->tile, p1 = cx_min(P, p0 + pl->tile);
    /* row p of image n, channels [c0, c1): the forward's own item over a
       one-row, one-image problem (the padding moved up by p rows), into yb */
    cx_conv2d_desc d1 = *d;
    d1.N = 1;
    d1.P = 1;
    cx_conv2d_plan pr = *pl;
    pr.ntiles = 1;
    pr.tile = 1;
    pr.dk_stream = 0;
    pr.dk_inplace = 0;
    const CX_T *xn = x + n * d->H * d->W * C;
    const int whole = c0 == 0 && c1 == K;
    for (ptrdiff_t p = p0; p < p1; ++p) {
        d1.pad_top = d->pad_top - p * d->stride_h;
        CX_NAME(nhwc_dw_fwd)(&d1, &pr, xn, NULL, yb, cb, ws);
        if (p < top || p >= top + H) {
            CX_T *rr = ring + ((n * (P - H) + (p < top ? p : p - H)) * Q) * K;
            for (ptrdiff_t q = 0; q < Q; ++q)
                memcpy(rr + q * K + c0, yb + q * K + c0, (size_t)nc * sizeof(CX_T));
            continue;
        }
        for (ptrdiff_t j = 0; j < Q; ++j) {
            if (j == left) {
                j = left + W - 1;
                continue;
            }
            CX_T *to = yb + (left + src_w[j]) * K;
            const CX_T *from = yb + j * K;
            for (ptrdiff_t c = c0; c < c1; ++c)
                to[c] += from[c];
        }
        CX_T *drow = dx + ((n * H + p - top) * W) * K;
        if (whole && stream)
            CX_NAME(dk_stream_copy)(drow, yb + left * K, W * K);
        else if (whole)
            memcpy(drow, yb + left * K, (size_t)(W * K) * sizeof(CX_T));
        else
            for (ptrdiff_t q = 0; q < W; ++q)
                memcpy(drow + q * K + c0, yb + (left + q) * K + c0, (size_t)nc * sizeof(CX_T));
    }
    if (stream && whole)
        CX_NAME(dk_sfence)();
}

/* After conv2d_nhwc_fwd_fold's items: image n of dx (H, W, C) gets its padded
   rows' gradients (ring: Hp - H rows of Wp * C, the top ones first) added at
   the positions they copied, row after row, each row's columns in order. */
void CX_NAME(conv2d_nhwc_fold_ring)(CX_T *dx, const CX_T *ring, ptrdiff_t H, ptrdiff_t W,
                                    ptrdiff_t C, ptrdiff_t Hp, ptrdiff_t Wp, ptrdiff_t top,
                                    const ptrdiff_t *src_h, const ptrdiff_t *src_w, ptrdiff_t n)
{
    const ptrdiff_t nring = Hp - H;
    for (ptrdiff_t r = 0; r < nring; ++r) {
        CX_T *to = dx + ((n * H + src_h[r < top ? r : r + H]) * W) * C;
        const CX_T *from = ring + ((n * nring + r) * Wp) * C;
        for (ptrdiff_t j = 0; j < Wp; ++j) {
            CX_T *t = to + src_w[j] * C;
            const CX_T *f = from + j * C;
            for (ptrdiff_t c = 0; c < C; ++c)
                t[c] += f[c];
        }
    }
}
