/*
 * 2-D convolution drivers, written once for both dtypes and compiled once per
 * SIMD path: forward, weight gradient and input gradient, each by the direct
 * method and by im2col + GEMM.
 *
 * Every driver computes ONE work item, single-threaded; src/_conv.pyx runs the
 * items in parallel. Items write disjoint parts of the result and each item
 * sums in a fixed order, so results do not depend on the thread count.
 *
 *   op     algo    item                               writes
 *   fwd    direct  (n, block of groups, band of rows) y[n, those channels, band]
 *                  register-blocked tiles (cx_direct_impl.h); when the band
 *                  would not fit its budget, plain loops per (n, k)
 *   fwd    im2col  (g, tile of the batch's N*P*Q pixels)  y[those pixels, g's channels]
 *                  (1x1 stride 1: (n, g, pixel tile), the image read in place)
 *                  stride 1, < 128 channels: (n, g, band of output rows), an
 *                  indirect GEMM over the zero-padded band (fwd_shift)
 *   wgrad  direct  (chunk of (image, band) units, block of groups, k block)
 *                                                      dw[those channels]
 *                  (plain loops: (batch chunk, k), dw[k])
 *   wgrad  im2col  (batch chunk, g, k block, crs block)  dw[k block, crs block]
 *                  dot-product tiles on dY and column rows read in place, or
 *                  (>= 128 output channels) a packed GEMM with dY packed once
 *   dgrad  direct  (n, c)                             dx[n, c]
 *   dgrad  im2col  (n, g, c block)                    dx[n, c block]
 *                  (stride 1: the glue runs it as the forward of the padded dY
 *                  with the flipped weight when that applies: fwd_shift, or
 *                  the batch-spanning packed forward for small images)
 * The weight gradient writes one partial sum per batch chunk when the batch is
 * split (plan_batch_split); the chunks are then added in a fixed order.
 *
 * The im2col path never builds the column matrix of a whole image: the
 * forward packs GEMM panels straight from the image (or reads a padded band),
 * the weight gradient builds a few column rows at a time, the input gradient
 * one tile of columns (CX_COLS_BYTES) before its col2im, all in the calling
 * thread's workspace.
 *
 * The channels-last (NHWC) drivers live in cx_nhwc_impl.h, included at the end.
 *
 * Include after defining CX_T and CX_NAME(x) (and including cx_gemm_impl.h).
 */

#include <string.h>

#ifndef CX_CONV_COMMON_DEFINED
#define CX_CONV_COMMON_DEFINED

/* Per-thread byte budget for an im2col column tile. */
#define CX_COLS_BYTES ((size_t)2 << 20)
/* Work items we aim for, so that small batches still keep several cores busy. */
#define CX_TARGET_ITEMS 32
/* The weight gradient pays for each extra item with re-packing: aim lower. */
#define CX_TARGET_ITEMS_WGRAD 16
/* Per-thread bytes of column-matrix rows the weight gradient builds at once. */
#define CX_WGRAD_ROWS_BYTES ((size_t)512 << 10)
/* Reduction length (pixels) the weight gradient aims for between two horizontal sums. */
#define CX_WGRAD_LEN 2048
/* Output channels per group from which the weight gradient uses the packed GEMM. */
#define CX_WGRAD_GEMM_MIN_K 128
/* Most memory the weight gradient's per-chunk partial sums may take. */
#define CX_PARTIAL_BYTES ((size_t)8 << 20)
/* Most memory the once-per-call packed copy of the weight may take. */
#define CX_APACK_BYTES ((size_t)12 << 20)
/* Per-thread workspace of the stride-1 forward (row band + output tile). */
#define CX_SHIFT_BYTES ((size_t)3 << 20)

static ptrdiff_t cx_min(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }
static ptrdiff_t cx_max(ptrdiff_t a, ptrdiff_t b) { return a > b ? a : b; }
static ptrdiff_t cx_ceil_div(ptrdiff_t a, ptrdiff_t b) { return (a + b - 1) / b; }

/*
 * Output indices o in [lo, hi) whose input coordinate o*stride + off lies in
 * [0, size), clamped to [0, count). off may be negative (padding).
 */
static void cx_valid_range(ptrdiff_t count, ptrdiff_t stride, ptrdiff_t off,
                           ptrdiff_t size, ptrdiff_t *lo, ptrdiff_t *hi)
{
    ptrdiff_t l = off >= 0 ? 0 : cx_ceil_div(-off, stride);
    ptrdiff_t h = size - off <= 0 ? 0 : cx_ceil_div(size - off, stride);
    l = cx_min(l, count);
    h = cx_min(h, count);
    if (h < l)
        h = l;
    *lo = l;
    *hi = h;
}

/* Stride-1, pad-0, 1x1: the column matrix is the input itself. */
static int cx_is_pointwise(const cx_conv2d_desc *d)
{
    return d->R == 1 && d->S == 1 && d->stride_h == 1 && d->stride_w == 1 &&
           d->pad_top == 0 && d->pad_left == 0 && d->P == d->H && d->Q == d->W;
}

#endif /* CX_CONV_COMMON_DEFINED */

/* Output pixels per column tile: as many as fit the budget, a multiple of NR. */
static ptrdiff_t CX_NAME(cols_tile)(ptrdiff_t rows, ptrdiff_t pixels)
{
    const ptrdiff_t nr = CX_ACTIVE()->nr;
    ptrdiff_t t = (ptrdiff_t)(CX_COLS_BYTES / sizeof(CX_T)) / cx_max(rows, 1);
    t = t / nr * nr;
    t = cx_max(t, nr);
    return cx_max(cx_min(t, pixels), 1);
}

/*
 * Weight gradient: `base` items cover the weight once. When they are fewer than
 * CX_TARGET_ITEMS, cut the batch too (partial sums per chunk, reduced in a fixed
 * order afterwards), within CX_PARTIAL_BYTES of partial sums.
 */
static void CX_NAME(plan_batch_split)(const cx_conv2d_desc *d, cx_conv2d_plan *pl, ptrdiff_t base)
{
    ptrdiff_t nsplit = 1;
    if (base > 0 && base < CX_TARGET_ITEMS_WGRAD && d->N > 1 && pl->wsize > 0) {
        const ptrdiff_t max_split = (ptrdiff_t)(CX_PARTIAL_BYTES / sizeof(CX_T) / (size_t)pl->wsize);
        nsplit = cx_max(cx_min(cx_min(d->N, cx_ceil_div(CX_TARGET_ITEMS_WGRAD, base)), max_split), 1);
    }
    pl->nper = nsplit > 1 ? cx_ceil_div(d->N, nsplit) : d->N;
    pl->nsplit = nsplit > 1 ? cx_ceil_div(d->N, pl->nper) : 1;
    pl->nitems = base * pl->nsplit;
}

/* Pack the weight once per call when it fits CX_APACK_BYTES and is reused by
   more than one item (else each item packs its own blocks); k: the reduction
   length of the packed operand, whose KC slabs are packed as separate pieces. */
static void CX_NAME(plan_prepack)(cx_conv2d_plan *pl, ptrdiff_t units, size_t elems, ptrdiff_t k)
{
    pl->apack_units = 0;
    pl->apack_elems = 0;
    pl->apack_parts = 0;
    if (units > 0 && elems > 0 && pl->nitems > units &&
        (size_t)units * elems * sizeof(CX_T) <= CX_APACK_BYTES) {
        pl->apack_units = units;
        pl->apack_elems = elems;
        pl->apack_parts = CX_NAME(gemm_prepack_parts)(k);
    }
}

#include "cx_direct_impl.h"

void CX_NAME(conv2d_prepack)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                             const CX_T *w, CX_T *packed, ptrdiff_t unit)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, RS = d->R * d->S;
    const ptrdiff_t CRS = Cg * RS;
    const ptrdiff_t parts = pl->apack_parts > 1 ? pl->apack_parts : 1, part = unit % parts;
    unit /= parts;
    CX_T *dst = packed + (size_t)unit * pl->apack_elems;
    if (pl->dk) {
        CX_NAME(dk_pack_weight)(d, pl, w + unit * Kg * CRS, dst);
        if (pl->dk_etop + pl->dk_ebot > 0)
            CX_NAME(dk_pack_edges)(d, pl, w + unit * Kg * CRS, dst);
    } else if (pl->op == CX_OP_FWD) {
        CX_NAME(gemm_prepack_a)(Kg, CRS, w + unit * Kg * CRS, CRS, 1, dst, part);
    } else if (pl->op == CX_OP_WGRAD) {
        /* here `w` is dY and the unit an (image, group) pair */
        const ptrdiff_t n = unit / G, g = unit % G, PQ = d->P * d->Q;
        CX_NAME(gemm_prepack_a)(Kg, PQ, w + (n * d->K + g * Kg) * PQ, PQ, 1, dst, part);
    } else {
        const ptrdiff_t g = unit / pl->cblocks, cb = unit % pl->cblocks;
        const ptrdiff_t c0 = cb * pl->cblock, cn = cx_min(pl->cblock, Cg - c0);
        CX_NAME(gemm_prepack_a)(cn * RS, Kg, w + g * Kg * CRS + c0 * RS, 1, CRS, dst, part);
    }
}

/*
 * Stride-1 forward without packing the column matrix: each item copies a band
 * of output rows' worth of input, zero-padded to width Wp = Q + (S-1)*dw, into
 * its workspace; then row (c, r, s) of the column matrix over the band's padded
 * grid of pixels (i, q < Wp) is the band itself shifted by c*band + r*dh*Wp +
 * s*dw, which the indirect micro-kernels read in place (columns q >= Q are
 * computed and dropped). Same K order and KC cuts as the packed path, so the
 * results are bitwise the same. Returns 0 (use the packed path) unless stride
 * is 1 and a one-row band fits the workspace budget.
 */
static ptrdiff_t CX_NAME(shift_ws_elems)(const cx_conv2d_desc *d, ptrdiff_t rows)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G;
    const ptrdiff_t Wp = d->Q + (d->S - 1) * d->dil_w, band = (rows + (d->R - 1) * d->dil_h) * Wp;
    const ptrdiff_t slack = (d->S - 1) * d->dil_w + 2 * CX_ACTIVE()->nr;
    const ptrdiff_t boff = cx_ceil_div(Cg * d->R * d->S * (ptrdiff_t)sizeof(ptrdiff_t),
                                       (ptrdiff_t)sizeof(CX_T));
    return (ptrdiff_t)CX_NAME(gemm_workspace_elems)() + boff + Cg * band + slack +
           Kg * rows * Wp + 16;
}

static int CX_NAME(plan_fwd_shift)(const cx_conv2d_desc *d, cx_conv2d_plan *pl)
{
    /* measured on Zen 5: the shifted rows are mostly unaligned loads, which cost more
       than packing once the packed panel is reused by >= ~128 output channels */
    if (d->K / d->groups >= 128)
        return 0;
    if (d->stride_h != 1 || d->stride_w != 1 || cx_is_pointwise(d) || d->P <= 0 || d->Q <= 0 ||
        d->C / d->groups <= 0)
        return 0;
    const ptrdiff_t budget = (ptrdiff_t)(CX_SHIFT_BYTES / sizeof(CX_T));
    const ptrdiff_t Wp = d->Q + (d->S - 1) * d->dil_w, per = d->N * d->groups;
    /* rows per item: about 512 grid pixels, fewer when items are scarce or memory tight */
    ptrdiff_t rows = cx_max(cx_min(cx_ceil_div(512, Wp), d->P), 1);
    if (per * cx_ceil_div(d->P, rows) < CX_TARGET_ITEMS)
        rows = cx_max(cx_min(rows, cx_ceil_div(d->P * per, CX_TARGET_ITEMS)), 1);
    /* an item's grid (rows * Wp pixels) ends in a partial NR-wide panel: up to
       twice as many rows may waste fewer lanes over the image (batch 1 at
       56 x 56: 2 rows = 116 pixels in 3 panels of 48, 19% empty; 4 rows 3%) */
    {
        const ptrdiff_t nr = CX_ACTIVE()->nr, P = d->P;
        ptrdiff_t best = rows, best_panels = -1;
        for (ptrdiff_t r = rows; r <= cx_min(2 * rows, P); ++r) {
            const ptrdiff_t panels = P / r * cx_ceil_div(r * Wp, nr) +
                                     (P % r ? cx_ceil_div(P % r * Wp, nr) : 0);
            if (best_panels < 0 || panels < best_panels) {
                best = r;
                best_panels = panels;
            }
        }
        rows = best;
    }
    while (rows > 1 && CX_NAME(shift_ws_elems)(d, rows) > budget)
        --rows;
    if (CX_NAME(shift_ws_elems)(d, rows) > budget)
        return 0;
    pl->fwd_shift = 1;
    pl->tile = rows;
    pl->ntiles = cx_ceil_div(d->P, rows);
    pl->nitems = per * pl->ntiles;
    pl->ws_elems = (size_t)CX_NAME(shift_ws_elems)(d, rows);
    return 1;
}

void CX_NAME(conv2d_plan)(const cx_conv2d_desc *d, int op, int algo, cx_conv2d_plan *pl)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, RS = d->R * d->S;
    const ptrdiff_t PQ = d->P * d->Q;
    const int plain = algo == CX_ALGO_DIRECT_PLAIN;
    if (plain)
        algo = CX_ALGO_DIRECT;
    memset(pl, 0, sizeof *pl);
    pl->op = op;
    pl->algo = algo;
    pl->tile = PQ;
    pl->ntiles = 1;
    pl->kblock = Kg;
    pl->kblocks = 1;
    pl->cblock = Cg;
    pl->cblocks = 1;
    pl->nsplit = 1;
    pl->nper = d->N;
    pl->nseg = 1;
    pl->wsize = d->K * Cg * RS;
    if (algo == CX_ALGO_DIRECT) {
        if (!plain && op == CX_OP_FWD && CX_NAME(plan_fwd_dk)(d, pl))
            return;
        if (!plain && op == CX_OP_WGRAD && CX_NAME(plan_wgrad_dk)(d, pl))
            return;
        if (op == CX_OP_FWD)
            pl->nitems = d->N * d->K;
        else if (op == CX_OP_WGRAD)
            CX_NAME(plan_batch_split)(d, pl, d->K);
        else
            pl->nitems = d->N * d->C;
        return;
    }
    const size_t gemm_ws = CX_NAME(gemm_workspace_elems)();
    if (op == CX_OP_FWD && CX_NAME(plan_fwd_shift)(d, pl)) {
        CX_NAME(plan_prepack)(pl, G, CX_NAME(gemm_prepack_elems)(Kg, Cg * RS), Cg * RS);
        return;
    }
    if (op == CX_OP_FWD) {
        /* Implicit im2col: B panels are packed straight from the image, so the
           only workspace is the GEMM's packing buffers. A tile is at most one
           B block wide; narrower when the batch alone gives too few items. */
        /* Packed columns: tiles run over the whole batch's pixels (fwd_span), so
           that images of a few panels' pixels (14 x 14 = 196 = 4.1 panels of 48)
           do not each end in a mostly empty panel; 1x1 layers read each image
           in place and keep per-image tiles. */
        const ptrdiff_t nr = CX_ACTIVE()->nr;
        const int span = !cx_is_pointwise(d);
        const ptrdiff_t npix = span ? d->N * PQ : PQ, per = span ? G : d->N * G;
        ptrdiff_t tile = cx_max(cx_min(npix, CX_ACTIVE()->nc), 1);
        if (npix > 0 && per * cx_ceil_div(npix, tile) < CX_TARGET_ITEMS) {
            const ptrdiff_t want = cx_ceil_div(CX_TARGET_ITEMS, cx_max(per, 1));
            tile = cx_ceil_div(cx_ceil_div(npix, want), nr) * nr;
            tile = cx_min(cx_max(tile, 4 * nr), cx_max(npix, 1));
        }
        pl->fwd_span = span;
        pl->tile = tile;
        pl->ws_elems = gemm_ws;
        pl->ntiles = npix > 0 ? cx_ceil_div(npix, pl->tile) : 0;
        pl->nitems = per * pl->ntiles;
        CX_NAME(plan_prepack)(pl, G, CX_NAME(gemm_prepack_elems)(Kg, Cg * RS), Cg * RS);
        return;
    }
    if (op == CX_OP_WGRAD) {
        /* Tiles of the weight gradient (Kg x CRS per group) for the dot-product
           kernels, which read dY and the column-matrix rows in place: split the
           CRS columns first (a block only re-reads dY) into blocks of >= 4 NR,
           then the rows into blocks of >= 4 MR (each rebuilds its column rows);
           plan_batch_split cuts the batch when that is still too few items. */
        /* Many output channels: a packed GEMM dY (Kg x PQ) @ cols^T, whose
           transposing pack of the column matrix is then shared by >= 128 rows
           and beats the dot kernels' L2-bound loads (vgg3x3_512 on Zen 5). */
        /* (also when one image's column rows for a dot tile would not fit the
           workspace budget: the GEMM's workspace does not grow with the image) */
        const int use_gemm = Kg >= CX_WGRAD_GEMM_MIN_K ||
            (size_t)CX_ACTIVE()->dot_nr * (size_t)PQ * sizeof(CX_T) > CX_WGRAD_ROWS_BYTES;
        pl->wgrad_gemm = use_gemm;
        const ptrdiff_t mr = use_gemm ? CX_ACTIVE()->mr : CX_ACTIVE()->dot_mr;
        const ptrdiff_t nr = use_gemm ? CX_ACTIVE()->nr : CX_ACTIVE()->dot_nr, CRS = Cg * RS;
        const ptrdiff_t want = cx_ceil_div(CX_TARGET_ITEMS_WGRAD, G);
        pl->cblocks = cx_max(cx_min(want, cx_ceil_div(CRS, (use_gemm ? 2 : 4) * nr)), 1);
        pl->cblock = CRS > 0 ? cx_ceil_div(cx_ceil_div(CRS, pl->cblocks), nr) * nr : 0;
        pl->cblocks = CRS > 0 ? cx_ceil_div(CRS, pl->cblock) : 1;
        /* Row blocks rebuild (dot tiles) or re-pack (GEMM) the column rows, so
           the batch split below makes the items where the batch allows; the
           GEMM keeps every row in one block (dY is packed once per call) */
        const ptrdiff_t want_k = use_gemm ? 1 : cx_ceil_div(CX_TARGET_ITEMS_WGRAD,
                                                            G * pl->cblocks * cx_max(d->N, 1));
        const ptrdiff_t max_k = cx_max(cx_ceil_div(Kg, 4 * mr), 1);
        pl->kblocks = cx_max(cx_min(want_k, max_k), 1);
        pl->kblock = Kg > 0 ? cx_ceil_div(Kg, pl->kblocks) : 0;
        pl->kblocks = Kg > 0 ? cx_ceil_div(Kg, pl->kblock) : 1;
        pl->ntiles = PQ > 0 ? 1 : 0;
        CX_NAME(plan_batch_split)(d, pl, G * pl->kblocks * pl->cblocks);
        /* The dot kernels reduce over nseg consecutive images at once (so that
           small images still give long reductions between horizontal sums),
           building that many images' column-matrix rows per step: as many rows
           as fit CX_WGRAD_ROWS_BYTES, a multiple of the dot tile's NR. */
        pl->nseg = cx_max(cx_min(cx_ceil_div(CX_WGRAD_LEN, cx_max(PQ, 1)), pl->nper), 1);
        ptrdiff_t rows = (ptrdiff_t)(CX_WGRAD_ROWS_BYTES / sizeof(CX_T)) /
                         cx_max(pl->nseg * PQ, 1);
        rows = cx_max(rows / nr * nr, nr);
        pl->tile = cx_max(cx_min(rows, pl->cblock), 1);
        pl->ws_elems = cx_is_pointwise(d) ? 0 : (size_t)pl->tile * (size_t)(pl->nseg * PQ);
        if (use_gemm) {
            pl->nseg = 1;
            pl->tile = PQ;
            pl->ws_elems = gemm_ws;
            /* every column block re-reads all of dY: pack it once per call
               (units (n, g)) when it fits and the rows are not split */
            if (pl->kblocks == 1 && pl->cblocks > 1)
                CX_NAME(plan_prepack)(pl, d->N * G, CX_NAME(gemm_prepack_elems)(Kg, PQ), PQ);
        }
        return;
    }
    /* dgrad */
    pl->cblocks = cx_max(cx_min(Cg, cx_ceil_div(CX_TARGET_ITEMS, cx_max(d->N * G, 1))), 1);
    pl->cblock = Cg > 0 ? cx_ceil_div(Cg, pl->cblocks) : 0;
    pl->cblocks = Cg > 0 ? cx_ceil_div(Cg, pl->cblock) : 1;
    pl->tile = CX_NAME(cols_tile)(pl->cblock * RS, PQ);
    pl->ntiles = PQ > 0 ? cx_ceil_div(PQ, pl->tile) : 0;
    pl->ws_elems = gemm_ws + (size_t)(pl->cblock * RS) * (size_t)pl->tile;
    pl->nitems = Cg > 0 ? d->N * G * pl->cblocks : 0;
    if (Cg > 0)
        CX_NAME(plan_prepack)(pl, G * pl->cblocks,
                              CX_NAME(gemm_prepack_elems)(pl->cblock * RS, Kg), Kg);
}

/*
 * Walk the (c, r, s) rows of a column tile: cols[(c*R + r)*S + s][jj] is the
 * input value under kernel tap (r, s) of channel c for output pixel j0 + jj
 * (0 where that tap falls in the padding). `x` points at channel 0 of the block.
 * With SCATTER the walk runs backwards: x[...] += cols[...] (col2im).
 */
#define CX_COLS_WALK(SCATTER)                                                        \
    const ptrdiff_t H = d->H, W = d->W, Q = d->Q, R = d->R, S = d->S;                \
    const ptrdiff_t sh = d->stride_h, sw = d->stride_w;                              \
    for (ptrdiff_t c = 0; c < cn; ++c) {                                             \
        CX_T *xc = (CX_T *)x + c * H * W;                                            \
        for (ptrdiff_t r = 0; r < R; ++r) {                                          \
            const ptrdiff_t hoff = r * d->dil_h - d->pad_top;                        \
            for (ptrdiff_t s = 0; s < S; ++s) {                                      \
                const ptrdiff_t woff = s * d->dil_w - d->pad_left;                   \
                ptrdiff_t qlo, qhi;                                                  \
                cx_valid_range(Q, sw, woff, W, &qlo, &qhi);                          \
                CX_T *row = cols + ((c * R + r) * S + s) * nt;                       \
                ptrdiff_t jj = 0, p = j0 / Q, q = j0 % Q;                            \
                while (jj < nt) {                                                    \
                    const ptrdiff_t seg = cx_min(Q - q, nt - jj);                    \
                    const ptrdiff_t h = p * sh + hoff;                               \
                    CX_T *out = row + jj;     /* out[qq - q], qq in [q, q+seg) */     \
                    if (h < 0 || h >= H) {                                           \
                        if (!(SCATTER))                                              \
                            for (ptrdiff_t t = 0; t < seg; ++t) out[t] = 0;          \
                    } else {                                                         \
                        const ptrdiff_t a = cx_max(q, qlo);                          \
                        const ptrdiff_t b = cx_max(cx_min(q + seg, qhi), a);         \
                        /* xr[t] is the input under output pixel a + t */            \
                        CX_T *xr = xc + h * W + a * sw + woff;                       \
                        CX_T *oa = out + (a - q);                                    \
                        const ptrdiff_t len = b - a;                                 \
                        if (!(SCATTER)) {                                            \
                            for (ptrdiff_t t = 0; t < a - q; ++t) out[t] = 0;      \
                            if (sw == 1)                                             \
                                for (ptrdiff_t t = 0; t < len; ++t) oa[t] = xr[t];   \
                            else                                                     \
                                for (ptrdiff_t t = 0; t < len; ++t) oa[t] = xr[t * sw]; \
                            for (ptrdiff_t t = b - q; t < seg; ++t) out[t] = 0;    \
                        } else {                                                     \
                            if (sw == 1)                                             \
                                for (ptrdiff_t t = 0; t < len; ++t) xr[t] += oa[t];  \
                            else                                                     \
                                for (ptrdiff_t t = 0; t < len; ++t) xr[t * sw] += oa[t]; \
                        }                                                            \
                    }                                                                \
                    jj += seg;                                                       \
                    ++p;                                                             \
                    q = 0;                                                           \
                }                                                                    \
            }                                                                        \
        }                                                                            \
    }

/*
 * Implicit im2col packers (CX_NAME(pack_b_fn)). The column matrix of channels
 * [0, C_block) of one image, cols[(c*R + r)*S + s][j] = x[c, h, w] with
 * h = (j / Q)*sh + r*dh - pad_top, w = (j % Q)*sw + s*dw - pad_left (0 outside
 * the image), is never built: each packer writes one KC x NC block of it (or of
 * its transpose) straight into the GEMM's NR-wide panels.
 */
typedef struct {
    const CX_T *x;      /* channel 0 of the group, image n */
    const cx_conv2d_desc *d;
    ptrdiff_t pix0;     /* first output pixel of the caller's tile */
    ptrdiff_t crs0;     /* first column-matrix row (c*R + r)*S + s of the caller's tile */
    ptrdiff_t img;      /* forward packer: elements from one image to the next; pixels
                           pix0 + j past the image's P*Q continue in the next one */
} CX_NAME(im2col_src);

/* o[0, n) = x[0, n) for the short runs of the packers: inline, masked vector
   copies where the path has them (a libc call per run cost more than the copy). */
#if CX_DK_VECTORS && CX_VBYTES >= 32 && (defined(__x86_64__) || defined(__i386__))
#define CX_PACK_MASKED 1
#include <immintrin.h>
#else
#define CX_PACK_MASKED 0
#endif
static CX_DK_INLINE void CX_NAME(copy_run)(CX_T *restrict o, const CX_T *restrict x, ptrdiff_t n)
{
    /* (the empty asm hides the pointer's stride from GCC, which would turn the
       whole-vector loop back into a memmove call per run; masked stores are
       kept to the tail: with every lane set they still cost more on Zen) */
#if CX_PACK_MASKED && CX_VBYTES == 64 && CX_TSIZE == 4
    for (; n >= 16; n -= 16, o += 16, x += 16) {
        __asm__("" : "+r"(o));
        _mm512_storeu_ps(o, _mm512_loadu_ps(x));
    }
    if (n > 0) {
        const __mmask16 m = (__mmask16)((1u << n) - 1u);
        CX_ASAN_RUN(x, n);
        _mm512_mask_storeu_ps(o, m, _mm512_maskz_loadu_ps(m, x));
    }
#elif CX_PACK_MASKED && CX_VBYTES == 64 && CX_TSIZE == 8
    for (; n >= 8; n -= 8, o += 8, x += 8) {
        __asm__("" : "+r"(o));
        _mm512_storeu_pd(o, _mm512_loadu_pd(x));
    }
    if (n > 0) {
        const __mmask8 m = (__mmask8)((1u << n) - 1u);
        CX_ASAN_RUN(x, n);
        _mm512_mask_storeu_pd(o, m, _mm512_maskz_loadu_pd(m, x));
    }
#elif CX_PACK_MASKED && CX_VBYTES == 32 && CX_TSIZE == 4
    for (; n >= 8; n -= 8, o += 8, x += 8) {
        __asm__("" : "+r"(o));
        _mm256_storeu_ps(o, _mm256_loadu_ps(x));
    }
    if (n > 0) {
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        CX_ASAN_RUN(x, n);
        _mm256_maskstore_ps(o, m, _mm256_maskload_ps(x, m));
    }
#elif CX_PACK_MASKED && CX_VBYTES == 32 && CX_TSIZE == 8
    for (; n >= 4; n -= 4, o += 4, x += 4) {
        __asm__("" : "+r"(o));
        _mm256_storeu_pd(o, _mm256_loadu_pd(x));
    }
    if (n > 0) {
        const __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)n),
                                             _mm256_setr_epi64x(0, 1, 2, 3));
        CX_ASAN_RUN(x, n);
        _mm256_maskstore_pd(o, m, _mm256_maskload_pd(x, m));
    }
#else
    for (ptrdiff_t t = 0; t < n; ++t)
        o[t] = x[t];
#endif
}

/* o[0, n) = x[0, 2n) taken every other element (stride-2 runs: the stems), by
   two loads and a lane permute per vector where the path has 16- or 8-lane
   vectors; the scalar loop cost ~1 cycle an element, a third of a 7x7/2 stem. */
static CX_DK_INLINE void CX_NAME(copy_run_s2)(CX_T *restrict o, const CX_T *restrict x,
                                              ptrdiff_t n)
{
#if CX_PACK_MASKED && CX_VBYTES == 64 && CX_TSIZE == 4
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    for (; n > 0; n -= 16, o += 16, x += 32) {
        /* x[0, need) is read: never past the run's last element */
        const ptrdiff_t need = n >= 16 ? 31 : 2 * n - 1;
        const __mmask16 m0 = need >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << need) - 1u);
        const __mmask16 m1 = need > 16 ? (__mmask16)((1u << (need - 16)) - 1u) : (__mmask16)0;
        CX_ASAN_RUN(x, need);
        const __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0, x), even,
                                                _mm512_maskz_loadu_ps(m1, x + 16));
        _mm512_mask_storeu_ps(o, n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u), v);
    }
#elif CX_PACK_MASKED && CX_VBYTES == 64 && CX_TSIZE == 8
    const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    for (; n > 0; n -= 8, o += 8, x += 16) {
        const ptrdiff_t need = n >= 8 ? 15 : 2 * n - 1;
        const __mmask8 m0 = need >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << need) - 1u);
        const __mmask8 m1 = need > 8 ? (__mmask8)((1u << (need - 8)) - 1u) : (__mmask8)0;
        CX_ASAN_RUN(x, need);
        const __m512d v = _mm512_permutex2var_pd(_mm512_maskz_loadu_pd(m0, x), even,
                                                 _mm512_maskz_loadu_pd(m1, x + 8));
        _mm512_mask_storeu_pd(o, n >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << n) - 1u), v);
    }
#else
    for (ptrdiff_t t = 0; t < n; ++t)
        o[t] = x[2 * t];
#endif
}

/* o[0, n) = 0, for the padding of the packers' runs (n is small). */
static CX_DK_INLINE void CX_NAME(zero_run)(CX_T *restrict o, ptrdiff_t n)
{
#if CX_PACK_MASKED && CX_VBYTES == 64 && CX_TSIZE == 4
    for (; n > 0; n -= 16, o += 16)
        _mm512_mask_storeu_ps(o, n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u),
                              _mm512_setzero_ps());
#elif CX_PACK_MASKED && CX_VBYTES == 64 && CX_TSIZE == 8
    for (; n > 0; n -= 8, o += 8)
        _mm512_mask_storeu_pd(o, n >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << n) - 1u),
                              _mm512_setzero_pd());
#else
    for (ptrdiff_t t = 0; t < n; ++t)
        o[t] = 0;
#endif
}

/* out[0, run) = one tap's input at output pixels q .. q + run - 1 of an output
   row whose tap row is input row h (channel xc, tap column offset woff, valid
   output columns [qlo, qhi), stride sw): zeros where the tap reads padding. */
static CX_DK_INLINE void CX_NAME(im2col_span)(CX_T *restrict out, const CX_T *xc, ptrdiff_t h,
                                              ptrdiff_t H, ptrdiff_t W, ptrdiff_t q,
                                              ptrdiff_t run, ptrdiff_t qlo, ptrdiff_t qhi,
                                              ptrdiff_t woff, ptrdiff_t sw)
{
    if (h < 0 || h >= H) {
        CX_NAME(zero_run)(out, run);
        return;
    }
    /* pixels [a, b) of the run read the image, the rest the padding */
    const ptrdiff_t a = cx_min(cx_max(q, qlo), q + run);
    const ptrdiff_t b = cx_max(cx_min(q + run, qhi), a);
    const CX_T *restrict xr = xc + h * W + a * sw + woff;
    if (a > q)
        CX_NAME(zero_run)(out, a - q);
    if (sw == 1)
        CX_NAME(copy_run)(out + (a - q), xr, b - a);
    else if (sw == 2)
        CX_NAME(copy_run_s2)(out + (a - q), xr, b - a);
    else
        for (ptrdiff_t u = 0; u < b - a; ++u) out[a - q + u] = xr[u * sw];
    if (q + run > b)
        CX_NAME(zero_run)(out + (b - q), q + run - b);
}

/* Forward: B = cols, rows crs in [pc, pc+kc), columns pixels pix0 + [jc, jc+nc).
   The hot loop of the 3x3-style layers: (c, r, s) and the pixel position are
   stepped incrementally (no divisions per row), and a run that lies wholly
   inside the image is a plain copy. With s->img set, pixels past the image's
   last one continue at pixel 0 of the next image (the batch-spanning tiles). */
static void CX_NAME(pack_b_im2col)(const void *src, ptrdiff_t pc, ptrdiff_t kc,
                                   ptrdiff_t jc, ptrdiff_t nc, ptrdiff_t nr, CX_T *dst)
{
    const CX_NAME(im2col_src) *s = (const CX_NAME(im2col_src) *)src;
    const cx_conv2d_desc *d = s->d;
    const ptrdiff_t R = d->R, S = d->S, P = d->P, Q = d->Q, H = d->H, W = d->W, HW = H * W;
    const ptrdiff_t sh = d->stride_h, sw = d->stride_w, PQ = P * Q;
    const ptrdiff_t npanel = cx_ceil_div(nc, nr), tail = nc - (npanel - 1) * nr;
    const ptrdiff_t g0 = s->pix0 + jc, n0 = s->img ? g0 / PQ : 0, gi = g0 - n0 * PQ;
    const ptrdiff_t prow0 = gi / Q, q0 = gi % Q;
    ptrdiff_t crs = s->crs0 + pc;
    ptrdiff_t c = crs / (R * S), r = (crs / S) % R, sx = crs % S;
    for (ptrdiff_t p = 0; p < kc; ++p) {
        const ptrdiff_t hoff = r * d->dil_h - d->pad_top, woff = sx * d->dil_w - d->pad_left;
        ptrdiff_t qlo, qhi;
        cx_valid_range(Q, sw, woff, W, &qlo, &qhi);
        const CX_T *xc = s->x + n0 * s->img + c * HW;
        CX_T *o = dst + p * nr;                 /* row p of panel 0 */
        ptrdiff_t prow = prow0, q = q0;
        for (ptrdiff_t j = 0; j < nc; j += nr, o += kc * nr) {
            const ptrdiff_t len = cx_min(nr, nc - j);
            for (ptrdiff_t t = 0; t < len;) {
                const ptrdiff_t run = cx_min(Q - q, len - t);
                const ptrdiff_t h = prow * sh + hoff;
                CX_NAME(im2col_span)(o + t, xc, h, H, W, q, run, qlo, qhi, woff, sw);
                t += run;
                q += run;
                if (q == Q) {
                    q = 0;
                    if (++prow == P) {
                        prow = 0;
                        xc += s->img;
                    }
                }
            }
        }
        /* zero the unused lanes of the last panel */
        if (tail < nr) {
            CX_T *last = dst + (npanel - 1) * kc * nr + p * nr;
            for (ptrdiff_t jj = tail; jj < nr; ++jj)
                last[jj] = 0;
        }
        if (++sx == S) {
            sx = 0;
            if (++r == R) {
                r = 0;
                ++c;
            }
        }
    }
}

/* out[0, len) = column-matrix row (c, r, s) at the image's output pixels g0 + [0, len)
   (x channel xc, offsets hoff/woff of the tap, valid columns [qlo, qhi)). */
static void CX_NAME(im2col_pixels)(const cx_conv2d_desc *d, const CX_T *xc, ptrdiff_t g0,
                                   ptrdiff_t len, ptrdiff_t hoff, ptrdiff_t woff,
                                   ptrdiff_t qlo, ptrdiff_t qhi, CX_T *restrict out)
{
    const ptrdiff_t Q = d->Q, H = d->H, W = d->W, sh = d->stride_h, sw = d->stride_w;
    ptrdiff_t prow = g0 / Q, q = g0 % Q;
    for (ptrdiff_t t = 0; t < len;) {
        const ptrdiff_t run = cx_min(Q - q, len - t), h = prow * sh + hoff;
        CX_NAME(im2col_span)(out + t, xc, h, H, W, q, run, qlo, qhi, woff, sw);
        t += run;
        q = 0;
        ++prow;
    }
}

/* Weight gradient: B = cols^T, rows pixels pix0 + [pc, pc+kc), columns crs in [jc, jc+nc).
   A transpose: 16 columns at a time, each built as a contiguous run of pixels
   (the forward's copies), then turned pixel-major 16 x 16 in registers where
   the path has 16-lane vectors (a column written element by element with the
   panel's stride cost ~2 cycles an element, 17% of res3x3_256's gradient). */
#define CX_PACK_T_PIX 256
static void CX_NAME(pack_b_im2col_t)(const void *src, ptrdiff_t pc, ptrdiff_t kc,
                                     ptrdiff_t jc, ptrdiff_t nc, ptrdiff_t nr, CX_T *dst)
{
    const CX_NAME(im2col_src) *s = (const CX_NAME(im2col_src) *)src;
    const cx_conv2d_desc *d = s->d;
    const ptrdiff_t R = d->R, S = d->S, Q = d->Q, HW = d->H * d->W;
    const ptrdiff_t ncols = cx_ceil_div(nc, nr) * nr;
    CX_T tmp[16 * CX_PACK_T_PIX];
    for (ptrdiff_t j0 = 0; j0 < ncols; j0 += 16) {
        const ptrdiff_t jn = cx_min(16, ncols - j0);
        for (ptrdiff_t p0 = 0; p0 < kc; p0 += CX_PACK_T_PIX) {
            const ptrdiff_t plen = cx_min(CX_PACK_T_PIX, kc - p0);
            const ptrdiff_t ld = cx_ceil_div(plen, 16) * 16;   /* tmp row pitch */
            for (ptrdiff_t jj = 0; jj < jn; ++jj) {
                const ptrdiff_t j = j0 + jj;
                CX_T *row = tmp + jj * ld;
                if (j >= nc) {
                    CX_NAME(zero_run)(row, plen);
                    continue;
                }
                const ptrdiff_t crs = s->crs0 + jc + j, c = crs / (R * S);
                const ptrdiff_t r = (crs / S) % R, sx = crs % S;
                const ptrdiff_t hoff = r * d->dil_h - d->pad_top, woff = sx * d->dil_w - d->pad_left;
                ptrdiff_t qlo, qhi;
                cx_valid_range(Q, d->stride_w, woff, d->W, &qlo, &qhi);
                CX_NAME(im2col_pixels)(d, s->x + c * HW, s->pix0 + pc + p0, plen, hoff, woff,
                                       qlo, qhi, row);
            }
            /* column j of the block, pixel p -> dst[(j / nr)*kc*nr + p*nr + j % nr] */
#if CX_DK_CV
            if (jn == 16 && nr % 16 == 0) {
                CX_T *o = dst + (j0 / nr) * kc * nr + p0 * nr + j0 % nr;
                for (ptrdiff_t p = 0; p < plen; p += 16) {
                    CX_NAME(dv) v[16];
                    for (int i = 0; i < 16; ++i)
                        v[i] = CX_NAME(dv_load)(tmp + i * ld + p);
                    CX_NAME(dk_tr16)(v);
                    const ptrdiff_t pn = cx_min(16, plen - p);
                    for (ptrdiff_t i = 0; i < pn; ++i)
                        CX_NAME(dv_store)(o + (p + i) * nr, v[i]);
                }
                continue;
            }
#endif
            for (ptrdiff_t jj = 0; jj < jn; ++jj) {
                const ptrdiff_t j = j0 + jj;
                CX_T *o = dst + (j / nr) * kc * nr + p0 * nr + j % nr;
                const CX_T *row = tmp + jj * ld;
                for (ptrdiff_t p = 0; p < plen; ++p)
                    o[p * nr] = row[p];
            }
        }
    }
}

/* Rows crs0 .. crs0+rows-1 of the column matrix over all P*Q pixels: out[row*ld + pixel]. */
static void CX_NAME(im2col_rows)(const cx_conv2d_desc *d, const CX_T *xg, ptrdiff_t crs0,
                                 ptrdiff_t rows, ptrdiff_t ld, CX_T *restrict out)
{
    const ptrdiff_t R = d->R, S = d->S, P = d->P, Q = d->Q, HW = d->H * d->W;
    for (ptrdiff_t row = 0; row < rows; ++row) {
        const ptrdiff_t crs = crs0 + row, c = crs / (R * S), r = (crs / S) % R, sx = crs % S;
        const ptrdiff_t hoff = r * d->dil_h - d->pad_top, woff = sx * d->dil_w - d->pad_left;
        ptrdiff_t qlo, qhi;
        cx_valid_range(Q, d->stride_w, woff, d->W, &qlo, &qhi);
        CX_NAME(im2col_pixels)(d, xg + c * HW, 0, P * Q, hoff, woff, qlo, qhi, out + row * ld);
    }
}

/* col2im of one tile (channels [0, cn), output pixels [j0, j0 + nt)): x[...] += cols[...], the adjoint of im2col. */
static void CX_NAME(col2im_tile)(const cx_conv2d_desc *d, CX_T *x, ptrdiff_t cn,
                                 ptrdiff_t j0, ptrdiff_t nt, const CX_T *restrict cols_in)
{
    CX_T *cols = (CX_T *)cols_in;
    CX_COLS_WALK(1)
}

/* sum_i a[i] * b[i*sb] with 8 fixed partial sums (vectorisable, fixed order). */
static CX_T CX_NAME(dot)(ptrdiff_t n, const CX_T *restrict a, const CX_T *restrict b, ptrdiff_t sb)
{
    CX_T l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    if (sb == 1) {
        for (; i + 8 <= n; i += 8)
            for (int t = 0; t < 8; ++t)
                l[t] += a[i + t] * b[i + t];
    } else {
        for (; i + 8 <= n; i += 8)
            for (int t = 0; t < 8; ++t)
                l[t] += a[i + t] * b[(i + t) * sb];
    }
    CX_T s = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    for (; i < n; ++i)
        s += a[i] * b[i * sb];
    return s;
}

/* ------------------------------------------------------------------ forward */

/* y[n, k] = bias[k] + sum_{c, r, s} w[k, c, r, s] * x[n, g*Cg + c, shifted by (r, s)] */
static void CX_NAME(fwd_direct)(const cx_conv2d_desc *d, const CX_T *x, const CX_T *w,
                                const CX_T *bias, CX_T *y, ptrdiff_t item)
{
    const ptrdiff_t n = item / d->K, k = item % d->K;
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, g = k / Kg;
    const ptrdiff_t H = d->H, W = d->W, P = d->P, Q = d->Q, R = d->R, S = d->S;
    const ptrdiff_t sh = d->stride_h, sw = d->stride_w;
    CX_T *yk = y + (n * d->K + k) * P * Q;
    const CX_T b0 = bias ? bias[k] : 0;
    for (ptrdiff_t i = 0; i < P * Q; ++i)
        yk[i] = b0;
    for (ptrdiff_t c = 0; c < Cg; ++c) {
        const CX_T *xc = x + (n * d->C + g * Cg + c) * H * W;
        const CX_T *wc = w + (k * Cg + c) * R * S;
        for (ptrdiff_t r = 0; r < R; ++r) {
            const ptrdiff_t hoff = r * d->dil_h - d->pad_top;
            ptrdiff_t plo, phi;
            cx_valid_range(P, sh, hoff, H, &plo, &phi);
            for (ptrdiff_t s = 0; s < S; ++s) {
                const ptrdiff_t woff = s * d->dil_w - d->pad_left;
                ptrdiff_t qlo, qhi;
                cx_valid_range(Q, sw, woff, W, &qlo, &qhi);
                const CX_T wv = wc[r * S + s];
                const ptrdiff_t len = qhi - qlo;
                for (ptrdiff_t p = plo; p < phi; ++p) {
                    CX_T *restrict yr = yk + p * Q + qlo;
                    const CX_T *restrict xr = xc + (p * sh + hoff) * W + qlo * sw + woff;
                    if (sw == 1)
                        for (ptrdiff_t t = 0; t < len; ++t) yr[t] += wv * xr[t];
                    else
                        for (ptrdiff_t t = 0; t < len; ++t) yr[t] += wv * xr[t * sw];
                }
            }
        }
    }
}

/* y[n, g block, tile] = w_g (Kg x CgRS) @ cols (CgRS x tile) + bias; with
   pl->fwd_span the item is (g, tile of the batch's N*P*Q pixels) instead */
static void CX_NAME(fwd_im2col)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                const CX_T *x, const CX_T *w, const CX_T *bias, CX_T *y,
                                ptrdiff_t item, CX_T *ws)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G;
    const ptrdiff_t CRS = Cg * d->R * d->S, PQ = d->P * d->Q, HW = d->H * d->W;
    const ptrdiff_t jt = item % pl->ntiles, g = (item / pl->ntiles) % G;
    const ptrdiff_t wg_off = g * Kg * CRS;
    const CX_T *apre = pl->apack_units ? (const CX_T *)pl->apacked + g * pl->apack_elems : NULL;
    if (pl->fwd_span) {
        /* pixels [gp0, gp0 + nt) of the batch, image after image */
        const ptrdiff_t gp0 = jt * pl->tile, nt = cx_min(pl->tile, d->N * PQ - gp0);
        const ptrdiff_t n0 = gp0 / PQ, pix0 = gp0 % PQ;
        CX_NAME(im2col_src) src = {x + g * Cg * HW, d, gp0, 0, d->C * HW};
        CX_T *yg = y + (n0 * d->K + g * Kg) * PQ + pix0;
        const ptrdiff_t jump = (d->K - 1) * PQ;
        CX_NAME(gemm_core_seg)(CX_ACTIVE(), Kg, nt, CRS, w + wg_off, CRS, 1, apre, CX_NAME(pack_b_im2col),
                               &src, NULL, 0, NULL, 0, yg, PQ, 1, pix0, PQ, jump, ws);
        if (bias)
            for (ptrdiff_t j = 0; j < nt;) {
                const ptrdiff_t sg = (pix0 + j) / PQ, end = cx_min((sg + 1) * PQ - pix0, nt);
                for (ptrdiff_t k = 0; k < Kg; ++k) {
                    const CX_T b0 = bias[g * Kg + k];
                    CX_T *yk = yg + sg * jump + k * PQ;
                    for (ptrdiff_t jj = j; jj < end; ++jj)
                        yk[jj] += b0;
                }
                j = end;
            }
        return;
    }
    const ptrdiff_t n = item / (pl->ntiles * G);
    const ptrdiff_t j0 = jt * pl->tile, nt = cx_min(pl->tile, PQ - j0);
    const CX_T *xg = x + (n * d->C + g * Cg) * HW;
    const CX_T *wg = w + wg_off;
    CX_T *yg = y + (n * d->K + g * Kg) * PQ + j0;
    if (cx_is_pointwise(d)) {
        /* the column matrix is the image itself: read in place, never packed */
        CX_NAME(gemm_b_inplace)(Kg, nt, Cg, wg, CRS, 1, apre, xg + j0, HW, 0, yg, PQ, 1, ws);
    } else {
        CX_NAME(im2col_src) src = {xg, d, j0, 0, 0};
        CX_NAME(gemm_core)(Kg, nt, CRS, wg, CRS, 1, apre, CX_NAME(pack_b_im2col), &src,
                           NULL, 0, NULL, 0, yg, PQ, 1, ws);
    }
    if (bias)
        for (ptrdiff_t k = 0; k < Kg; ++k) {
            const CX_T b0 = bias[g * Kg + k];
            for (ptrdiff_t jj = 0; jj < nt; ++jj)
                yg[k * PQ + jj] += b0;
        }
}

/* Stride-1 forward of one item (n, g, band of output rows), see plan_fwd_shift.
   With z (3-D, cx_conv3d_depth): d is the depth-folded 2-D convolution, image
   n of d is (n / Do, output depth n % Do), and folded channel c*T + t of a
   group is read from depth od*stride + t*dil - pad of input channel c (zero
   rows where that depth is padding) of x (N, C, D, H, W); y is (N, K, Do, P, Q). */
static void CX_NAME(fwd_shift)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                               const CX_T *x, const CX_T *w, const CX_T *bias, CX_T *y,
                               ptrdiff_t item, CX_T *ws, const cx_conv3d_depth *z)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, R = d->R, S = d->S;
    const ptrdiff_t H = d->H, W = d->W, P = d->P, Q = d->Q, CRS = Cg * R * S;
    const ptrdiff_t rb = item % pl->ntiles, g = (item / pl->ntiles) % G;
    const ptrdiff_t n = item / (pl->ntiles * G);
    const ptrdiff_t p0 = rb * pl->tile, rows = cx_min(pl->tile, P - p0);
    const ptrdiff_t Wp = Q + (S - 1) * d->dil_w, brows = rows + (R - 1) * d->dil_h;
    const ptrdiff_t band = brows * Wp, np = rows * Wp;
    const ptrdiff_t pl_w = d->pad_left, slack = (S - 1) * d->dil_w + 2 * CX_ACTIVE()->nr;
    /* workspace: GEMM A blocks | row offsets | band | slack | output tile */
    CX_T *gemm_ws = ws;
    ptrdiff_t *boff = (ptrdiff_t *)(ws + CX_NAME(gemm_workspace_elems)());
    CX_T *xb = ws + CX_NAME(gemm_workspace_elems)() +
               cx_ceil_div(CRS * (ptrdiff_t)sizeof(ptrdiff_t), (ptrdiff_t)sizeof(CX_T));
    CX_T *ct = xb + Cg * band + slack;
    const CX_T *xg = x + (n * d->C + g * Cg) * H * W;
    /* 3-D: this image's output depth and batch index, and the output's
       channel stride (Do planes) */
    ptrdiff_t od = 0, n3 = n, ystride = P * Q;
    if (z) {
        n3 = n / z->Do;
        od = n % z->Do;
        ystride = z->Do * P * Q;
    }
    /* the band: input rows p0 - pad_top + [0, brows), zero-padded to width Wp */
    for (ptrdiff_t c = 0; c < Cg; ++c) {
        const CX_T *plane = xg + c * H * W;
        if (z) {
            /* folded channel c = (input channel c / T, depth tap c % T) */
            const ptrdiff_t T = z->T, ci = c / T, id = od * z->stride + c % T * z->dil - z->pad;
            const ptrdiff_t Creal = d->C / T;
            plane = id >= 0 && id < z->D
                        ? x + ((n3 * Creal + g * (Cg / T) + ci) * z->D + id) * H * W
                        : NULL;
        }
        for (ptrdiff_t t = 0; t < brows; ++t) {
            CX_T *row = xb + c * band + t * Wp;
            const ptrdiff_t h = p0 + t - d->pad_top;
            if (h < 0 || h >= H || !plane) {
                memset(row, 0, (size_t)Wp * sizeof(CX_T));
                continue;
            }
            /* grid column q reads input column q - pad_left (the padding may be
               negative when this is the input gradient run as a forward) */
            const ptrdiff_t a = cx_min(cx_max(pl_w, 0), Wp);
            const ptrdiff_t b = cx_max(cx_min(pl_w + W, Wp), a);
            if (a > 0) memset(row, 0, (size_t)a * sizeof(CX_T));
            if (b > a) memcpy(row + a, plane + h * W + (a - pl_w), (size_t)(b - a) * sizeof(CX_T));
            if (Wp > b) memset(row + b, 0, (size_t)(Wp - b) * sizeof(CX_T));
        }
    }
    memset(xb + Cg * band, 0, (size_t)slack * sizeof(CX_T));
    /* column-matrix row (c, r, s) = the band shifted */
    for (ptrdiff_t c = 0, k = 0; c < Cg; ++c)
        for (ptrdiff_t r = 0; r < R; ++r)
            for (ptrdiff_t s = 0; s < S; ++s, ++k)
                boff[k] = c * band + r * d->dil_h * Wp + s * d->dil_w;
    const CX_T *apre = pl->apack_units ? (const CX_T *)pl->apacked + g * pl->apack_elems : NULL;
    CX_NAME(gemm_core)(Kg, np, CRS, w + g * Kg * CRS, CRS, 1, apre, NULL, NULL, xb, 0, boff,
                       0, ct, np, 1, gemm_ws);
    /* keep the Q valid columns of each grid row, then the bias (as the packed path) */
    for (ptrdiff_t k = 0; k < Kg; ++k) {
        CX_T *yk = y + (n3 * d->K + g * Kg + k) * ystride + (od * P + p0) * Q;
        const CX_T *tk = ct + k * np;
        for (ptrdiff_t i = 0; i < rows; ++i)
            memcpy(yk + i * Q, tk + i * Wp, (size_t)Q * sizeof(CX_T));
        if (bias) {
            const CX_T b0 = bias[g * Kg + k];
            for (ptrdiff_t i = 0; i < rows * Q; ++i)
                yk[i] += b0;
        }
    }
}

void CX_NAME(conv2d_fwd)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                         const CX_T *x, const CX_T *w, const CX_T *bias, CX_T *y,
                         ptrdiff_t item, CX_T *ws)
{
    if (pl->algo == CX_ALGO_DIRECT && pl->dk)
        CX_NAME(fwd_dk)(d, pl, x, w, bias, y, item, ws);
    else if (pl->algo == CX_ALGO_DIRECT)
        CX_NAME(fwd_direct)(d, x, w, bias, y, item);
    else if (pl->fwd_shift)
        CX_NAME(fwd_shift)(d, pl, x, w, bias, y, item, ws, NULL);
    else
        CX_NAME(fwd_im2col)(d, pl, x, w, bias, y, item, ws);
}

/* ------------------------------------------------- 3-D forward, channels first */

int CX_NAME(conv3d_plan_fwd)(const cx_conv2d_desc *d, cx_conv3d_depth *z, int algo,
                             cx_conv2d_plan *pl)
{
    const ptrdiff_t T = z->T;
    if (T <= 0 || z->N <= 0 || z->Do <= 0 || d->N != z->N * z->Do || d->C % T != 0 ||
        (d->C / d->groups) % T != 0)
        return 0;
    if (algo == CX_ALGO_IM2COL) {
        /* the GEMM: only its stride-1 row-band form (fwd_shift), whose items
           (image of the folded batch, group, band of rows) each fill their
           band from x's depths directly */
        CX_NAME(conv2d_plan)(d, CX_OP_FWD, CX_ALGO_IM2COL, pl);
        z->chunk = 1;
        z->chunks = z->Do;
        return pl->fwd_shift;
    }
    if (algo != CX_ALGO_DIRECT)
        return 0;
    CX_NAME(conv2d_plan)(d, CX_OP_FWD, CX_ALGO_DIRECT, pl);
    if (!pl->dk || pl->dk_qt != 0 || pl->dk_nhwc)
        return 0;
    const ptrdiff_t Cg = d->C / d->groups / T, RS = d->R * d->S;
    const ptrdiff_t rows_in = CX_NAME(dk3_rows_in)(d, pl);
    const ptrdiff_t slot = CX_NAME(dk3_slot)(d, Cg, rows_in, pl->dk_L);
    /* items: (image, group block, band, run of output depths); a run refills
       T - 1 slots on entry, so runs are long: ~16 items in all */
    const ptrdiff_t base = z->N * pl->cblocks * pl->ntiles;
    ptrdiff_t runs = cx_min(cx_max(cx_ceil_div(16, base), 1), z->Do);
    z->chunk = cx_ceil_div(z->Do, runs);
    z->chunks = cx_ceil_div(z->Do, z->chunk);
    pl->nitems = base * z->chunks;
    /* the 2-D item's workspace, plus the slots beyond its T, the channel
       offsets of one slot and the slots' depth tags */
    const double extra = (double)(T + 1) * (double)slot -
                         (double)(d->C / d->groups) * (double)rows_in * (double)(d->stride_w * pl->dk_L) +
                         2.0 * (double)(Cg * RS + T) + 2 * CX_DVL_MAX + 64;
    pl->ws_elems += (size_t)extra;
    pl->dk_stamp = 0;
    pl->dk_tperm = T;
    return 1;
}

/* One item of the 3-D forward: y (N, K, Do, P, Q) for image n, a block of
   groups, one band of output rows and a run of output depths, from x (N, C, D,
   H, W) and the weight (K, C/groups, T, R, S) = (K, C/groups*T, R, S) of the
   folded 2-D convolution d. Each input depth's band is filled once per run
   into a slot and read by the T output depths that need it (the folded form
   filled it T times, after a copy of x T times the size). */
void CX_NAME(conv3d_fwd)(const cx_conv2d_desc *d, const cx_conv3d_depth *z,
                         const cx_conv2d_plan *pl, const CX_T *x, const CX_T *w,
                         const CX_T *bias, CX_T *y, ptrdiff_t item, CX_T *ws)
{
    if (pl->fwd_shift) {
        CX_NAME(fwd_shift)(d, pl, x, w, bias, y, item, ws, z);
        return;
    }
    const ptrdiff_t T = z->T, D = z->D, Do = z->Do, G = d->groups;
    const ptrdiff_t Cg2 = d->C / G, Cg = Cg2 / T, C = Cg * G, Kg = d->K / G;
    const ptrdiff_t R = d->R, S = d->S, RS = R * S, taps = Cg2 * RS;
    const ptrdiff_t H = d->H, W = d->W, HW = H * W, P = d->P, Q = d->Q, L = pl->dk_L;
    const ptrdiff_t oc = item % z->chunks, rest = item / z->chunks;
    const ptrdiff_t bi = rest % pl->ntiles, gbi = (rest / pl->ntiles) % pl->cblocks;
    const ptrdiff_t n = rest / (pl->ntiles * pl->cblocks);
    const ptrdiff_t od0 = oc * z->chunk, od1 = cx_min(Do, od0 + z->chunk);
    const ptrdiff_t g1 = cx_min(G, (gbi + 1) * pl->cblock);
    const ptrdiff_t p0 = bi * pl->tile, rows = cx_min(pl->tile, P - p0);
    const ptrdiff_t rows_in = CX_NAME(dk3_rows_in)(d, pl);
    const ptrdiff_t slot = CX_NAME(dk3_slot)(d, Cg, rows_in, L);
    const CX_T *xend = x + z->N * C * D * HW;
    /* workspace: off[taps], offc[Cg*RS], tag[T], the packed weight (unless
       prepacked), the T + 1 slots, then the tiles' scratch */
    ptrdiff_t *off = (ptrdiff_t *)ws;
    ptrdiff_t *offc = off + taps;
    ptrdiff_t *tag = offc + Cg * RS;
    CX_T *wp = (CX_T *)(tag + T);
    CX_T *band = pl->apack_units ? wp : wp + Kg * taps;
    band += ((size_t)band % 64) ? (64 - (size_t)band % 64) / sizeof(CX_T) : 0;
    CX_T *scratch = band + (T + 1) * slot;
    int zero_ready = 0;
    CX_NAME(dk_offsets)(d, Cg, rows_in, L, offc, Cg * RS);
    for (ptrdiff_t g = gbi * pl->cblock; g < g1; ++g) {
        const CX_T *wpk = wp;
        if (pl->apack_units)
            wpk = (const CX_T *)pl->apacked + g * pl->apack_elems;
        else
            CX_NAME(dk_pack_weight)(d, pl, w + g * Kg * taps, wp);
        for (ptrdiff_t j = 0; j < T; ++j)
            tag[j] = -1;
        for (ptrdiff_t od = od0; od < od1; ++od) {
            CX_NAME(dk3_bands)(d, z, x + (n * C + g * Cg) * D * HW, Cg, od, p0 * d->stride_h,
                               rows_in, L, band, tag, &zero_ready, offc, off, xend,
                               pl->dk_tperm > 1);
            /* depth-major taps (dk_tperm), the padding's products skipped
               (dk_edge): only the depth taps [t0, t1) inside the input, the
               folded channels [t0*Cg, t1*Cg) (all of them if none is inside:
               zeros then, and the bias) */
            ptrdiff_t t0 = 0, t1 = T;
            if (pl->dk_tperm > 1 && pl->dk_edge && pl->dk_mode == 2 &&
                !(cx_dev_flags & CX_DEV_NO_EDGE)) {
                while (t0 < T && od * z->stride + t0 * z->dil - z->pad < 0)
                    ++t0;
                while (t1 > t0 && od * z->stride + (t1 - 1) * z->dil - z->pad >= D)
                    --t1;
                if (t1 == t0) {
                    t0 = 0;
                    t1 = T;
                }
            }
            const ptrdiff_t ldc = Do * P * Q;
            /* the input depth the run's next output depth adds (its last
               tap's), this band's rows of each channel, fetched while this
               depth's tiles run: its fill then finds them in cache, where it
               waited on memory (8% of conv3d_32's forward) */
            CX_NAME(dk_pfset) pfs = {NULL, 0, 0, 0};
            if (od + 1 < od1 && !(cx_dev_flags & CX_DEV_NO_PF3)) {
                const ptrdiff_t iz = (od + 1) * z->stride + (T - 1) * z->dil - z->pad;
                const ptrdiff_t r0 = cx_max(p0 * d->stride_h - d->pad_top, 0);
                const ptrdiff_t r1 = cx_min(p0 * d->stride_h - d->pad_top + rows_in, H);
                if (iz >= 0 && iz < D && r1 > r0) {
                    pfs.base = x + ((n * C + g * Cg) * D + iz) * HW + r0 * W;
                    pfs.count = Cg;
                    pfs.stride = D * HW;
                    pfs.len = (r1 - r0) * W;
                }
            }
            CX_NAME(dk_fwd_band)(d, pl, band, scratch, off, wpk, n * Do + od, g, p0, rows, bias,
                                 y, y + (((n * d->K + g * Kg) * Do + od) * P + p0) * Q, ldc,
                                 NULL, 0, t0 * Cg, t1 * Cg, NULL, pfs.base ? &pfs : NULL);
        }
    }
    if (pl->dk_stream)
        CX_NAME(dk_sfence)();
}

int CX_NAME(conv3d_plan_wgrad)(const cx_conv2d_desc *d, cx_conv3d_depth *z,
                               cx_conv2d_plan *pl)
{
    const ptrdiff_t T = z->T;
    if (T <= 0 || z->N <= 0 || z->Do <= 0 || d->N != z->N * z->Do || d->C % T != 0 ||
        (d->C / d->groups) % T != 0)
        return 0;
    CX_NAME(conv2d_plan)(d, CX_OP_WGRAD, CX_ALGO_DIRECT, pl);
    if (!pl->dk || pl->dk_mode != 2 || pl->dk_nhwc || pl->dk_qt != 0)
        return 0;
    const ptrdiff_t Cs = d->C / d->groups / T, RS = d->R * d->S;
    const ptrdiff_t rows_in = CX_NAME(dk_rows_in)(d, pl->tile);
    /* units (image, band, output depth) in that order, chunks of >= 4 where
       the batch was split: a chunk refills T - 1 slots on entry */
    const ptrdiff_t units = d->N * pl->ntiles;
    const ptrdiff_t nsplit = cx_min(pl->nsplit, cx_max(units / 4, 1));
    pl->nper = cx_ceil_div(units, nsplit);
    pl->nsplit = cx_ceil_div(units, pl->nper);
    pl->nitems = pl->cblocks * pl->kblocks * pl->nsplit;
    const double extra = (double)(T + 1) * (double)CX_NAME(dk3_slot)(d, Cs, rows_in, pl->dk_L) -
                         (double)(d->C / d->groups) * (double)rows_in * (double)pl->dk_L +
                         2.0 * (double)(Cs * RS + T) + 64;
    pl->ws_elems += (size_t)cx_max(extra, 0.0);
    z->chunk = 0;
    z->chunks = 0;
    return 1;
}

void CX_NAME(conv3d_wgrad)(const cx_conv2d_desc *d, const cx_conv3d_depth *z,
                           const cx_conv2d_plan *pl, const CX_T *x, const CX_T *dy, CX_T *dw,
                           ptrdiff_t item, CX_T *ws)
{
#if CX_DK_CV || CX_DK_CV8
    CX_NAME(wgrad_dkc)(d, z, pl, x, dy, dw, item, ws);
#else
    (void)d, (void)z, (void)pl, (void)x, (void)dy, (void)dw, (void)item, (void)ws;
#endif
}

/* ---------------------------------------------------------- weight gradient */

/* dw[k, c, r, s] = sum_{n, p, q} dy[n, k, p, q] * x[n, g*Cg + c, p*sh + r*dh - pt, q*sw + s*dw - pl] */
static void CX_NAME(wgrad_direct)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                  const CX_T *x, const CX_T *dy, CX_T *dw, ptrdiff_t item)
{
    const ptrdiff_t k = item % d->K, split = item / d->K;
    const ptrdiff_t n0 = split * pl->nper, n1 = cx_min(d->N, n0 + pl->nper);
    dw += split * pl->wsize;
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, g = k / Kg;
    const ptrdiff_t H = d->H, W = d->W, P = d->P, Q = d->Q, R = d->R, S = d->S;
    const ptrdiff_t sh = d->stride_h, sw = d->stride_w;
    CX_T *dwk = dw + k * Cg * R * S;
    for (ptrdiff_t i = 0; i < Cg * R * S; ++i)
        dwk[i] = 0;
    for (ptrdiff_t n = n0; n < n1; ++n) {
        const CX_T *dyk = dy + (n * d->K + k) * P * Q;
        for (ptrdiff_t c = 0; c < Cg; ++c) {
            const CX_T *xc = x + (n * d->C + g * Cg + c) * H * W;
            for (ptrdiff_t r = 0; r < R; ++r) {
                const ptrdiff_t hoff = r * d->dil_h - d->pad_top;
                ptrdiff_t plo, phi;
                cx_valid_range(P, sh, hoff, H, &plo, &phi);
                for (ptrdiff_t s = 0; s < S; ++s) {
                    const ptrdiff_t woff = s * d->dil_w - d->pad_left;
                    ptrdiff_t qlo, qhi;
                    cx_valid_range(Q, sw, woff, W, &qlo, &qhi);
                    CX_T acc = 0;
                    for (ptrdiff_t p = plo; p < phi; ++p)
                        acc += CX_NAME(dot)(qhi - qlo, dyk + p * Q + qlo,
                                            xc + (p * sh + hoff) * W + qlo * sw + woff, sw);
                    dwk[(c * R + r) * S + s] += acc;
                }
            }
        }
    }
}

/* dw[k block, c block] = sum over the chunk's images of dy (kb x PQ) @ cols^T (PQ x cbRS), cols packed implicitly */
static void CX_NAME(wgrad_im2col)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                  const CX_T *x, const CX_T *dy, CX_T *dw,
                                  ptrdiff_t item, CX_T *ws)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, RS = d->R * d->S;
    const ptrdiff_t CRS = Cg * RS, PQ = d->P * d->Q, HW = d->H * d->W;
    const ptrdiff_t cb = item % pl->cblocks, kb = (item / pl->cblocks) % pl->kblocks;
    const ptrdiff_t g = (item / (pl->cblocks * pl->kblocks)) % G;
    const ptrdiff_t split = item / (pl->cblocks * pl->kblocks * G);
    const ptrdiff_t n0 = split * pl->nper, n1 = cx_min(d->N, n0 + pl->nper);
    /* this item's tile: rows [k0, k0+kn) x columns crs [j0, j0+jn) of group g */
    const ptrdiff_t j0 = cb * pl->cblock, jn = cx_min(pl->cblock, CRS - j0);
    const ptrdiff_t k0 = kb * pl->kblock, kn = cx_min(pl->kblock, Kg - k0);
    if (jn <= 0 || kn <= 0)
        return;
    const CX_KERNEL_T *kr = CX_ACTIVE();
    const ptrdiff_t MR = kr->dot_mr, NR = kr->dot_nr;
    CX_T *dwb = dw + split * pl->wsize + (g * Kg + k0) * CRS + j0;
    for (ptrdiff_t k = 0; k < kn; ++k)
        for (ptrdiff_t i = 0; i < jn; ++i)
            dwb[k * CRS + i] = 0;
    const int pointwise = cx_is_pointwise(d);
    if (pl->wgrad_gemm) {
        /* dwb (kn x jn) = sum over the chunk's images of dy (kn x PQ) @ cols^T (PQ x jn) */
        for (ptrdiff_t n = n0; n < n1 && PQ > 0; ++n) {
            const CX_T *xg = x + (n * d->C + g * Cg) * HW;
            const CX_T *dyb = dy + (n * d->K + g * Kg + k0) * PQ;
            const int accumulate = n > n0;
            const CX_T *apre = pl->apack_units
                ? (const CX_T *)pl->apacked + (n * G + g) * pl->apack_elems : NULL;
            if (pointwise) {
                CX_NAME(strided_b) bs = {xg + j0 * HW, 1, HW};
                CX_NAME(gemm_core)(kn, jn, PQ, dyb, PQ, 1, apre, CX_NAME(pack_b_strided), &bs,
                                   NULL, 0, NULL, accumulate, dwb, CRS, 1, ws);
            } else {
                CX_NAME(im2col_src) src = {xg, d, 0, j0, 0};
                CX_NAME(gemm_core)(kn, jn, PQ, dyb, PQ, 1, apre, CX_NAME(pack_b_im2col_t), &src,
                                   NULL, 0, NULL, accumulate, dwb, CRS, 1, ws);
            }
        }
        return;
    }
    for (ptrdiff_t n = n0; n < n1 && PQ > 0; n += pl->nseg) {
        const ptrdiff_t ns = cx_min(pl->nseg, n1 - n);     /* images reduced together */
        const CX_T *xg = x + (n * d->C + g * Cg) * HW;
        const CX_T *dyb = dy + (n * d->K + g * Kg + k0) * PQ;
        for (ptrdiff_t jj = 0; jj < jn; jj += pl->tile) {
            const ptrdiff_t rows = cx_min(pl->tile, jn - jj);
            const CX_T *cols;
            ptrdiff_t sb, ldb;
            if (pointwise) {
                cols = xg + (j0 + jj) * HW;   /* the column matrix is the image */
                sb = d->C * HW;
                ldb = HW;
            } else {
                /* cols[row][image][pixel] */
                for (ptrdiff_t s = 0; s < ns; ++s)
                    CX_NAME(im2col_rows)(d, xg + s * d->C * HW, j0 + jj, rows, ns * PQ, ws + s * PQ);
                cols = ws;
                sb = PQ;
                ldb = ns * PQ;
            }
            /* dwb[k, jj + j] += sum over the images and pixels of dy[k, pixel] * cols[j, pixel] */
            for (ptrdiff_t i = 0; i < kn; i += MR)
                for (ptrdiff_t j = 0; j < rows; j += NR)
                    kr->dot(ns, PQ, dyb + i * PQ, d->K * PQ, PQ, cols + j * ldb, sb, ldb,
                            dwb + i * CRS + jj + j, CRS, cx_min(MR, kn - i), cx_min(NR, rows - j));
        }
    }
}

void CX_NAME(conv2d_wgrad)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                           const CX_T *x, const CX_T *dy, CX_T *dw,
                           ptrdiff_t item, CX_T *ws)
{
    if (pl->algo == CX_ALGO_DIRECT && pl->dk)
        CX_NAME(wgrad_dk)(d, pl, x, dy, dw, item, ws);
    else if (pl->algo == CX_ALGO_DIRECT)
        CX_NAME(wgrad_direct)(d, pl, x, dy, dw, item);
    else
        CX_NAME(wgrad_im2col)(d, pl, x, dy, dw, item, ws);
}

/* dw[i] = partial[i] + partial[wsize + i] + ... (nsplit partials, added in
   that order) for i in [begin, end): blocks of dw in L1, each partial's block
   added a vector at a time: the same bits as an element's partials read a
   wsize apart and added one by one, which was 7% of res3x3_256's NCHW weight
   gradient and 11% of its channels-last one (with a division an element);
   bench/api_ab.py: 0.975 | 0.983 of the NCHW time, 0.915 | 0.918 NHWC (blocks
   of 4096 the same) */
static void CX_NAME(sum_partials)(const CX_T *partial, ptrdiff_t wsize, ptrdiff_t nsplit,
                                  CX_T *dw, ptrdiff_t begin, ptrdiff_t end)
{
    enum { BLOCK = 1024 };
    for (ptrdiff_t i0 = begin; i0 < end; i0 += BLOCK) {
        const ptrdiff_t n = cx_min(BLOCK, end - i0);
        CX_T *restrict o = dw + i0;
        const CX_T *restrict s = partial + i0;
        for (ptrdiff_t i = 0; i < n; ++i)
            o[i] = s[i];
        for (ptrdiff_t sp = 1; sp < nsplit; ++sp) {
            const CX_T *restrict t = partial + sp * wsize + i0;
            for (ptrdiff_t i = 0; i < n; ++i)
                o[i] += t[i];
        }
    }
}

void CX_NAME(conv2d_wgrad_reduce)(const cx_conv2d_plan *pl, const CX_T *partial, CX_T *dw,
                                  ptrdiff_t begin, ptrdiff_t end)
{
    CX_NAME(sum_partials)(partial, pl->wsize, pl->nsplit, dw, begin, end);
}

/* ----------------------------------------------------------- input gradient */

/* dx[n, c] = sum_{k in c's group, r, s} w[k, c, r, s] * dy[n, k] scattered back through the taps */
static void CX_NAME(dgrad_direct)(const cx_conv2d_desc *d, const CX_T *w, const CX_T *dy,
                                  CX_T *dx, ptrdiff_t item)
{
    const ptrdiff_t n = item / d->C, c = item % d->C;
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, g = c / Cg, cl = c % Cg;
    const ptrdiff_t H = d->H, W = d->W, P = d->P, Q = d->Q, R = d->R, S = d->S;
    const ptrdiff_t sh = d->stride_h, sw = d->stride_w;
    CX_T *dxc = dx + (n * d->C + c) * H * W;
    for (ptrdiff_t i = 0; i < H * W; ++i)
        dxc[i] = 0;
    for (ptrdiff_t kk = 0; kk < Kg; ++kk) {
        const ptrdiff_t k = g * Kg + kk;
        const CX_T *dyk = dy + (n * d->K + k) * P * Q;
        const CX_T *wk = w + (k * Cg + cl) * R * S;
        for (ptrdiff_t r = 0; r < R; ++r) {
            const ptrdiff_t hoff = r * d->dil_h - d->pad_top;
            ptrdiff_t plo, phi;
            cx_valid_range(P, sh, hoff, H, &plo, &phi);
            for (ptrdiff_t s = 0; s < S; ++s) {
                const ptrdiff_t woff = s * d->dil_w - d->pad_left;
                ptrdiff_t qlo, qhi;
                cx_valid_range(Q, sw, woff, W, &qlo, &qhi);
                const CX_T wv = wk[r * S + s];
                const ptrdiff_t len = qhi - qlo;
                for (ptrdiff_t p = plo; p < phi; ++p) {
                    CX_T *restrict xr = dxc + (p * sh + hoff) * W + qlo * sw + woff;
                    const CX_T *restrict yr = dyk + p * Q + qlo;
                    if (sw == 1)
                        for (ptrdiff_t t = 0; t < len; ++t) xr[t] += wv * yr[t];
                    else
                        for (ptrdiff_t t = 0; t < len; ++t) xr[t * sw] += wv * yr[t];
                }
            }
        }
    }
}

/* dcols (cbRS x nt) = w[g, :, c block]^T (cbRS x Kg) @ dy_tile (Kg x nt); dx[c block] += col2im(dcols) */
static void CX_NAME(dgrad_im2col)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                  const CX_T *w, const CX_T *dy, CX_T *dx,
                                  ptrdiff_t item, CX_T *ws)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, RS = d->R * d->S;
    const ptrdiff_t CRS = Cg * RS, PQ = d->P * d->Q, HW = d->H * d->W;
    const ptrdiff_t cb = item % pl->cblocks, g = (item / pl->cblocks) % G;
    const ptrdiff_t n = item / (pl->cblocks * G);
    const ptrdiff_t c0 = cb * pl->cblock, cn = cx_min(pl->cblock, Cg - c0);
    if (cn <= 0)
        return;
    CX_T *dxb = dx + (n * d->C + g * Cg + c0) * HW;
    const CX_T *wb = w + g * Kg * CRS + c0 * RS;
    const CX_T *dyg = dy + (n * d->K + g * Kg) * PQ;
    const CX_T *apre = pl->apack_units
        ? (const CX_T *)pl->apacked + (g * pl->cblocks + cb) * pl->apack_elems : NULL;
    if (cx_is_pointwise(d)) {
        /* col2im is the identity: the GEMM writes dx directly */
        CX_NAME(gemm_b_inplace)(cn, PQ, Kg, wb, 1, CRS, apre, dyg, PQ, 0, dxb, HW, 1, ws);
        return;
    }
    CX_T *cols = ws + CX_NAME(gemm_workspace_elems)();
    for (ptrdiff_t i = 0; i < cn * HW; ++i)
        dxb[i] = 0;
    for (ptrdiff_t jt = 0; jt < pl->ntiles; ++jt) {
        const ptrdiff_t j0 = jt * pl->tile, nt = cx_min(pl->tile, PQ - j0);
        CX_NAME(gemm_b_inplace)(cn * RS, nt, Kg, wb, 1, CRS, apre, dyg + j0, PQ, 0, cols, nt, 1,
                                ws);
        CX_NAME(col2im_tile)(d, dxb, cn, j0, nt, cols);
    }
}

void CX_NAME(conv2d_dgrad)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                           const CX_T *w, const CX_T *dy, CX_T *dx,
                           ptrdiff_t item, CX_T *ws)
{
    if (pl->algo == CX_ALGO_DIRECT)
        CX_NAME(dgrad_direct)(d, w, dy, dx, item);
    else
        CX_NAME(dgrad_im2col)(d, pl, w, dy, dx, item, ws);
}

/* ------------------------------------------------ padding modes: the fold-back */

void CX_NAME(pad_fold2d)(const CX_T *dxp, CX_T *dx, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W,
                         ptrdiff_t top, ptrdiff_t left, ptrdiff_t Hp, ptrdiff_t Wp,
                         const ptrdiff_t *src_h, const ptrdiff_t *src_w, int channels_last,
                         ptrdiff_t item)
{
    /* NCHW: one plane, the channel "vector" is one element; NHWC: one image,
       C contiguous elements per position */
    const ptrdiff_t v = channels_last ? C : 1;
    const CX_T *restrict sp = dxp + item * Hp * Wp * v;
    CX_T *restrict dp = dx + item * H * W * v;
    /* the inner part is the input's own gradient ... */
    for (ptrdiff_t i = 0; i < H; ++i)
        memcpy(dp + i * W * v, sp + ((i + top) * Wp + left) * v, (size_t)(W * v) * sizeof(CX_T));
    /* ... plus each border position's, at the position it copied */
    for (ptrdiff_t i = 0; i < Hp; ++i) {
        const int inner_row = i >= top && i < top + H;
        for (ptrdiff_t j = 0; j < Wp; ++j) {
            if (inner_row && j >= left && j < left + W) {
                j = left + W - 1;
                continue;
            }
            CX_T *restrict o = dp + (src_h[i] * W + src_w[j]) * v;
            const CX_T *restrict g = sp + (i * Wp + j) * v;
            for (ptrdiff_t u = 0; u < v; ++u)
                o[u] += g[u];
        }
    }
}

/* ------------------------------------------------ channels-last (NHWC) drivers */

#include "cx_nhwc_impl.h"
