/*
 * convx C layer: public declarations of the convolution drivers and the GEMM.
 *
 * Layers (see STYLE.md): the convx package validates and allocates, src/_conv.pyx owns
 * the OpenMP loop over independent work items, the drivers declared here compute
 * one work item single-threaded, and the GEMM micro-kernels compute one MR x NR
 * tile. Nothing here allocates memory or includes Python.h; every buffer,
 * including the per-thread workspace, is passed in by the caller.
 *
 * Tensors are dense C-ordered arrays:
 *   x  (N, C, H, W)        input / grad_input
 *   w  (K, C/groups, R, S) weight / grad_weight
 *   y  (N, K, P, Q)        output / grad_output
 * (the conv2d_nhwc_* drivers take x (N, H, W, C) and y (N, P, Q, K) instead)
 * All sizes, strides and indices are ptrdiff_t (64-bit on every supported target).
 */
#ifndef CX_CONV_H
#define CX_CONV_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Geometry of one 2-D convolution. The bottom/right padding is implied by P and Q. */
typedef struct {
    ptrdiff_t N, C, H, W;       /* input */
    ptrdiff_t K, R, S;          /* weight (K, C/groups, R, S) */
    ptrdiff_t P, Q;             /* output spatial size */
    ptrdiff_t stride_h, stride_w;
    ptrdiff_t dil_h, dil_w;
    ptrdiff_t pad_top, pad_left;
    ptrdiff_t groups;
    /* what the padding holds: CX_PAD_ZEROS, or (direct fwd/wgrad kernels only,
       plan->dk) a copy of the input: reflected, replicated or wrapped around */
    int pad_mode;
} cx_conv2d_desc;

enum { CX_PAD_ZEROS = 0, CX_PAD_REFLECT = 1, CX_PAD_REPLICATE = 2, CX_PAD_CIRCULAR = 3 };

/* CX_ALGO_DIRECT_PLAIN: the direct algorithm's plain loops, which need no
   workspace (what "auto" falls back to when memory is too tight for any) */
enum { CX_ALGO_DIRECT = 0, CX_ALGO_IM2COL = 1, CX_ALGO_DIRECT_PLAIN = 2 };
enum { CX_OP_FWD = 0, CX_OP_WGRAD = 1, CX_OP_DGRAD = 2 };

/*
 * How one operation is split into independent work items. The split depends
 * only on the geometry, the algorithm and the dtype, never on the thread count,
 * so every item is computed the same way whichever thread runs it: results are
 * bitwise identical for any number of threads.
 */
typedef struct {
    int op, algo;
    ptrdiff_t nitems;   /* work items; each writes a disjoint part of the result */
    ptrdiff_t tile;     /* im2col: output pixels per column tile */
    ptrdiff_t ntiles;   /* im2col: tiles per image (ceil(P*Q / tile)); fwd_span:
                           per group, over the batch (ceil(N*P*Q / tile)) */
    ptrdiff_t kblock, kblocks;  /* output channels per block, blocks per group */
    ptrdiff_t cblock, cblocks;  /* input channels (wgrad im2col: column-matrix rows
                                   c*R*S + r*S + s) per block, blocks per group */
    size_t ws_elems;    /* workspace elements one thread needs (0 for direct) */
    /* wgrad only: the batch is cut into nsplit chunks of nper images when the
       weight alone offers too few items; chunk i writes partial sums to
       dw_partial + i * wsize and conv2d_wgrad_reduce adds them in chunk order. */
    ptrdiff_t nsplit, nper, wsize;
    ptrdiff_t nseg;     /* wgrad im2col: images reduced together by the dot kernels */
    int wgrad_gemm;     /* wgrad im2col: packed GEMM (many output channels) instead of dot kernels */
    int fwd_shift;      /* fwd im2col, stride 1: indirect GEMM over a padded row band
                           (tile = output rows per item) instead of packing columns */
    int fwd_span;       /* fwd im2col, packed columns: tiles run over the pixels of the
                           whole batch (image after image), ntiles per group, so
                           that small images fill whole micro-tiles */
    /* im2col fwd/dgrad: the weight operand of each group (dgrad: each group's
       channel block) packed once per call by conv2d_prepack into a shared
       read-only buffer of apack_units * apack_elems elements, which the caller
       points apacked at; apack_units == 0 when the weight is too big for that
       (then every item packs its own). */
    ptrdiff_t apack_units;
    size_t apack_elems;
    /* pieces (KC slabs) each unit's packing is cut into, so that one big unit
       still packs on every thread: prepack call i packs piece i % apack_parts
       of unit i / apack_parts (0 or 1: whole units) */
    ptrdiff_t apack_parts;
    const void *apacked;
    /* direct fwd/wgrad: register-blocked kernels over a zero-padded band
       (cx_direct_impl.h; tile = output rows per band) instead of plain loops;
       dk_L: band phase-row length; fwd tiles dk_mr channels x dk_nv vectors,
       wgrad tiles dk_mk channels x dk_mt taps */
    int dk, dk_mode;  /* fwd: 1 = a tile's dk_nv vectors are on dk_nv output rows;
                         wgrad: 1 = stride 1, each band one flat reduction */
    ptrdiff_t dk_L, dk_nv, dk_mr, dk_mk, dk_mt;
    /* channels-last drivers (cx_nhwc_impl.h): nhwc_dw = 1 for the depthwise
       loops; nhwc_chunk = output pixels per dcols tile of the input gradient;
       nhwc_narrow = 1: the GEMM drivers use the path's narrow tile;
       nhwc_kmajor = 1: the weight gradient's GEMM is Kg x RSC (dY^T packed) */
    int nhwc_dw, nhwc_narrow, nhwc_kmajor;
    ptrdiff_t nhwc_chunk;
    /* direct fwd: rows too long for one band are cut into dk_qtiles column
       tiles of dk_qt output pixels (one item each; 0 = whole rows) */
    ptrdiff_t dk_qt, dk_qtiles;
    ptrdiff_t dk_pitch;  /* inside a column tile: y's row pitch (the whole Q) */
    /* direct fwd, thin groups with outputs far beyond the caches: tiles write
       to a small buffer that is copied out with non-temporal stores (y's
       lines are not read before they are written) */
    int dk_stream;
    /* ... and one channel in and out a group, 3x3 with unit steps: the tiles
       read x in place (dk_fwdx_tile; no band) */
    int dk_inplace;
    /* channels-last forward on the direct channel-vector tiles: the band is
       filled from (N, H, W, C) rows and the tiles' pixel-major results are
       stored as (N, P, Q, K) pixels (cx_nhwc_impl.h, cx_direct_impl.h); 2: one
       output channel, whose (N, P, Q, 1) is stored as NCHW */
    int dk_nhwc;
    /* direct fwd: a number unique to the call (set by the caller after
       planning, 0 = none); a thread's workspace slot starts with the stamp of
       the call whose band it last filled, so that later items of the same
       call with the same band layout rewrite only its input pixels */
    long long dk_stamp;
    /* direct fwd, channel-vector tiles (dk_mode 2), weight prepacked: the
       first dk_etop and last dk_ebot output rows have kernel rows that read
       only zero padding (for every column); apacked holds, after each group's
       weight, one compacted copy per such row with only the kernel rows that
       reach the image (the taps in the same order). The caller sets dk_edge
       (zero padding) for the tiles to run those rows on the compacted taps;
       they then skip the padding's products, so that a non-finite weight's
       NaN there is the caller's to mark (convx._api._padding_nan_forward). */
    ptrdiff_t dk_etop, dk_ebot;
    /* the same tiles on rows of 3, 5 or 7 contiguous taps (sliding), some
       tile's first or last (S-1)/2 band pixels on zero padding's columns: with
       dk_edge set, those tiles leave them out (dk_fwd_band) */
    int dk_ecol;
    int dk_edge;
    /* direct fwd under a reflect or replicate padding: set in an item's copy
       of the plan where the input rows its band copies hold an inf or NaN,
       for which the taps cx_dk_fold adds together would not always give the
       padded sum's inf or NaN: the item's tiles multiply the band's padded
       copies instead */
    int dk_nofold;
    /* direct fwd: a reflect or replicate padding folded onto the taps (bits of
       cx_dk_fold in cx_direct_impl.h), set by the caller once the padding
       mode is set (conv2d_fold); 0: the band form */
    int dk_fold;
    /* a padding mode's depthwise 3x3 input gradient (conv2d_fwd_ring on the
       streamed in-place tiles): the padded positions' products folded onto
       the tiles' taps (set by the caller where conv2d_tapfold says so), and
       an item's fold spec (cx_dk_tapfold in cx_direct_impl.h, set in the
       item's copy of the plan; NULL elsewhere) */
    int dk_tapfold;
    void *dk_tf;
    /* direct wgrad, channel-vector tiles with dk_edge set (the same skip of
       zero padding's rows and columns, dk_etop / dk_ebot / dk_ecol as above
       but for the weight gradient): set to 1 by an item that left out a
       product with a non-finite grad_output value, whose NaN the caller then
       marks (convx._api._padding_nan_weight) */
    int *dk_nonfinite;
    /* direct fwd of a 3-D convolution (conv3d_plan_fwd): T > 1 orders the
       folded channels' taps depth-major, (t, c, r, s) (the weight's and the
       band offsets'), so that the depth taps an output depth reads inside the
       input are one run of taps (dk_fwd_band's channel range); 0 or 1: (c, t, r, s) */
    ptrdiff_t dk_tperm;
    /* the SIMD path whose drivers run this plan: 0, the active one; CX_PATH_AVX2,
       the AVX2 path's on an AVX-512 CPU that runs 512-bit FMAs as two 256-bit
       halves (its 8-lane channel-vector forward tiles; cx_conv_dispatch.c).
       Set by the dispatch's plan functions; every function given the plan
       follows it. */
    int path;
} cx_conv2d_plan;

enum { CX_PATH_ACTIVE = 0, CX_PATH_AVX2 = 1 };

/* The depth axis of a channels-first 3-D convolution run on the direct band
   kernels (conv3d_fwd). Its 2-D descriptor is the convolution that folds the
   depth taps into the channels: N*Do images of C*T channels, weight (K,
   C/groups*T, R, S) (the 3-D weight (K, C/groups, T, R, S) as it lies). */
typedef struct {
    ptrdiff_t N, D, Do, T;       /* batch, input depth, output depth, kernel depth */
    ptrdiff_t stride, dil, pad;  /* along the depth (pad: zeros before depth 0) */
    ptrdiff_t chunk, chunks;     /* set by the plan: output depths per item, runs */
} cx_conv3d_depth;

/*
 * The driver API of one dtype T under the name prefix P. Declared below for the
 * public entry points (cx_f32_, cx_f64_); cx_conv_dispatch.c declares each
 * SIMD path's variant (cx_f32_avx512_, ...) with the same macro.
 */
#define CX_DECLARE_CONV_API(T, P)                                                        \
    /* split one operation into work items, size the per-thread workspace */           \
    void P##conv2d_plan(const cx_conv2d_desc *d, int op, int algo, cx_conv2d_plan *plan); \
    /* pack piece `unit` (< plan->apack_units * max(plan->apack_parts, 1)) of the      \
       weight (wgrad: of dY) into packed + (unit / parts) * apack_elems */              \
    void P##conv2d_prepack(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,        \
                           const T *w, T *packed, ptrdiff_t unit);                      \
    /* y = conv(x, w) + bias (bias may be NULL), one work item */                       \
    void P##conv2d_fwd(const cx_conv2d_desc *d, const cx_conv2d_plan *plan, const T *x, \
                       const T *w, const T *bias, T *y, ptrdiff_t item, T *ws);         \
    /* 3-D forward (cx_conv3d_depth): plan on the direct band kernels (algo        \
       CX_ALGO_DIRECT) or the stride-1 row-band GEMM (CX_ALGO_IM2COL: fwd_shift);    \
       0 when they do not apply (then the plan is not for conv3d_fwd) */            \
    int P##conv3d_plan_fwd(const cx_conv2d_desc *d, cx_conv3d_depth *z, int algo,     \
                           cx_conv2d_plan *plan);                                       \
    /* y (N, K, Do, P, Q) = conv3d(x (N, C, D, H, W), w) + bias, one work item */      \
    void P##conv3d_fwd(const cx_conv2d_desc *d, const cx_conv3d_depth *z,              \
                       const cx_conv2d_plan *plan, const T *x, const T *w, const T *bias, \
                       T *y, ptrdiff_t item, T *ws);                                    \
    /* 3-D weight gradient (dk channel-vector kernels only): plan, 0 where they do  \
       not apply; one work item writes plan->nsplit partial sums as conv2d_wgrad */    \
    int P##conv3d_plan_wgrad(const cx_conv2d_desc *d, cx_conv3d_depth *z,             \
                             cx_conv2d_plan *plan);                                     \
    void P##conv3d_wgrad(const cx_conv2d_desc *d, const cx_conv3d_depth *z,            \
                         const cx_conv2d_plan *plan, const T *x, const T *dy, T *dw,    \
                         ptrdiff_t item, T *ws);                                        \
    /* dw = sum over the batch of dy (x) x, one work item */                            \
    void P##conv2d_wgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,          \
                         const T *x, const T *dy, T *dw, ptrdiff_t item, T *ws);        \
    /* dw[i] = sum over chunks (in chunk order) of partial[chunk * wsize + i],          \
       i in [begin, end) */                                                             \
    void P##conv2d_wgrad_reduce(const cx_conv2d_plan *plan, const T *partial, T *dw,   \
                                ptrdiff_t begin, ptrdiff_t end);                        \
    /* dx = the gradient dxp of the padded input folded back onto the input (the     \
       adjoint of a reflect / replicate / circular pad: padded position (i, j) was     \
       a copy of input position (src_h[i], src_w[j])); one work item: plane `item`     \
       of (N*C, Hp, Wp) -> (N*C, H, W), or channels_last image `item` of               \
       (N, Hp, Wp, C) -> (N, H, W, C); src_h/src_w must lie in [0, H) / [0, W) */      \
    void P##pad_fold2d(const T *dxp, T *dx, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W,       \
                       ptrdiff_t top, ptrdiff_t left, ptrdiff_t Hp, ptrdiff_t Wp,       \
                       const ptrdiff_t *src_h, const ptrdiff_t *src_w, int channels_last, \
                       ptrdiff_t item);                                                 \
    /* a padding mode's input gradient, item `item` of the stride-1 forward form's   \
       direct plan (d, plan: output = the padded input's gradient): inner rows        \
       folded into dx (N, K, H, W), padded rows to ring, through yb, the thread's     \
       K/G * P * Q buffer; then conv2d_fold_ring per plane (see cx_direct_impl.h) */  \
    void P##conv2d_fwd_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,       \
                            const T *x, const T *w, T *dx, T *ring, ptrdiff_t H,        \
                            ptrdiff_t W, ptrdiff_t top, ptrdiff_t left,                 \
                            const ptrdiff_t *src_h, const ptrdiff_t *src_w, int stream, \
                            ptrdiff_t item, T *ws, T *yb);                              \
    void P##conv2d_fold_ring(T *dx, const T *ring, ptrdiff_t H, ptrdiff_t W,            \
                             ptrdiff_t Hp, ptrdiff_t Wp, ptrdiff_t top, ptrdiff_t left, \
                             const ptrdiff_t *src_h, const ptrdiff_t *src_w,            \
                             ptrdiff_t plane);                                          \
    /* a padding mode's input gradient, thin groups: item `item` of the direct plan    \
       (d2, plan) of the zeros-padding gradient's forward form (d: the problem, w its   \
       weight, wt the forward form's) writes dx, then adds its rows' padded columns'    \
       gradients (whole planes: their padded rows' too, else conv2d_ring_rows per      \
       plane after every item; buf: max(H, Wp) elements; cx_direct_impl.h) */           \
    void P##conv2d_fwd_ring(const cx_conv2d_desc *d, const cx_conv2d_desc *d2,          \
                            const cx_conv2d_plan *plan, const T *dy, const T *w,        \
                            const T *wt, T *dx, ptrdiff_t top, ptrdiff_t left,          \
                            ptrdiff_t Wp, const ptrdiff_t *src_h, const ptrdiff_t *src_w, \
                            ptrdiff_t item, T *ws, T *buf);                             \
    void P##conv2d_ring_rows(const cx_conv2d_desc *d, const T *dy, const T *w, T *dx,   \
                             ptrdiff_t top, ptrdiff_t left, ptrdiff_t Hp, ptrdiff_t Wp, \
                             const ptrdiff_t *src_h, const ptrdiff_t *src_w,            \
                             ptrdiff_t plane, T *buf);                                  \
    /* a padding mode's input gradient: dx (the zeros-padding input gradient of d,      \
       stride 1) += every padded position's gradient (restricted taps) at the           \
       position it copied; item: (ib images, group, block of 128 of its channels);      \
       ws: conv2d_dgrad_border_ws(d, ib) elements (see cx_direct_impl.h) */             \
    size_t P##conv2d_dgrad_border_ws(const cx_conv2d_desc *d, ptrdiff_t ib);            \
    /* the forward's fold of a padding mode onto the taps for plan->dk_fold, once      \
       d->pad_mode is set (0: none; see cx_dk_fold in cx_direct_impl.h) */              \
    int P##conv2d_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *plan);            \
    /* whether the forward's streamed in-place depthwise 3x3 tiles of plan run under    \
       d's padding mode, the padding made in registers (see cx_dk_padx) */             \
    int P##conv2d_regpad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan);          \
    /* whether conv2d_fwd_ring's items on the plan (d2, plan) of d's zeros-padding      \
       input gradient's forward form fold the padded positions onto the taps of the   \
       depthwise 3x3 in-place tiles (plan->dk_tapfold; see cx_dk_tapfold) */           \
    int P##conv2d_tapfold(const cx_conv2d_desc *d, const cx_conv2d_desc *d2,           \
                          const cx_conv2d_plan *plan, ptrdiff_t Hp, ptrdiff_t Wp,       \
                          const ptrdiff_t *src_h, const ptrdiff_t *src_w);              \
    /* the stride-1 input gradient's forward weight: wt (G, C/G, K/G, R, S) = w (K,     \
       C/G, R, S) transposed per group, its taps reversed; unit u of groups *          \
       ceil(C/G / 16): 16 input channels; returns 1 where a weight it read is inf or    \
       nan (0 otherwise) */                                                             \
    int P##dgrad_flip_weight(const cx_conv2d_desc *d, const T *w, T *wt, ptrdiff_t u);  \
    /* its weight: wt = w (K, C/G, R, S) as (G, C/G in blocks of 16, R, S, K/G, 16),   \
       unit u of groups * ceil(K/G / 16): 16 output channels of a group; returns 1      \
       where a weight it read is inf or nan (0 otherwise) */                            \
    int P##conv2d_dgrad_border_weight(const cx_conv2d_desc *d, const T *w, T *wt,       \
                                      ptrdiff_t u);                                     \
    void P##conv2d_dgrad_border(const cx_conv2d_desc *d, const T *w, const T *dy,       \
                                T *dx, const ptrdiff_t *src_h, const ptrdiff_t *src_w,  \
                                ptrdiff_t ib, ptrdiff_t item, T *ws);                   \
    /* dx = conv_transpose(dy, w), one work item; positions no output reads get 0 */    \
    void P##conv2d_dgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,          \
                         const T *w, const T *dy, T *dx, ptrdiff_t item, T *ws);        \
    /* C[m x n] = A[m x k] B[k x n] (+ C if accumulate); element (i, j) of X at          \
       x[i*rsx + j*csx] */                                                              \
    void P##gemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *a, ptrdiff_t rsa,     \
                 ptrdiff_t csa, const T *b, ptrdiff_t rsb, ptrdiff_t csb, int accumulate, \
                 T *c, ptrdiff_t rsc, ptrdiff_t csc, T *ws);                            \
    /* C[m x n] := A B with B element (p, j) at b[boff[p] + j], read in place           \
       (indirect GEMM) */                                                               \
    void P##igemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *a, ptrdiff_t rsa,    \
                  ptrdiff_t csa, const T *b, const ptrdiff_t *boff, T *c, ptrdiff_t rsc, \
                  T *ws);                                                               \
    size_t P##gemm_workspace_elems(void);                                               \
    const char *P##gemm_kernel_name(void);

/*
 * Channels-last (NHWC) drivers of dtype T under prefix P (cx_nhwc_impl.h):
 * x (N, H, W, C), y / dy (N, P, Q, K), dx (N, H, W, C); the weight stays
 * (K, C/groups, R, S) and is always repacked once per call: the caller packs
 * units [0, plan->apack_units) with conv2d_nhwc_prepack (wgrad: none) and
 * points plan->apacked at them. The descriptor is the NCHW geometry of the same
 * convolution. The weight gradient writes plan->nsplit partial sums of
 * plan->wsize elements each (in the drivers' own order), which
 * conv2d_nhwc_wgrad_reduce adds in chunk order into dw (K, C/groups, R, S).
 */
#define CX_DECLARE_NHWC_API(T, P)                                                        \
    void P##conv2d_nhwc_plan(const cx_conv2d_desc *d, int op, cx_conv2d_plan *plan);   \
    void P##conv2d_nhwc_prepack(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,   \
                                const T *w, T *packed, ptrdiff_t unit);                 \
    /* y = conv(x, w) + bias (bias may be NULL), one work item (w: prepacked) */       \
    void P##conv2d_nhwc_fwd(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,       \
                            const T *x, const T *bias, T *y, ptrdiff_t item, T *ws);    \
    /* partial sums of dw over one batch chunk, one work item */                       \
    void P##conv2d_nhwc_wgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,     \
                              const T *x, const T *dy, T *partial, ptrdiff_t item,      \
                              T *ws);                                                   \
    /* dw[i] = sum over chunks of the partial sums, i in [begin, end) */               \
    void P##conv2d_nhwc_wgrad_reduce(const cx_conv2d_desc *d, const cx_conv2d_plan *plan, \
                                     const T *partial, T *dw, ptrdiff_t begin,          \
                                     ptrdiff_t end);                                    \
    /* dx = conv_transpose(dy, w), one work item; positions no output reads get 0 */    \
    void P##conv2d_nhwc_dgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,     \
                              const T *dy, T *dx, ptrdiff_t item, T *ws);              \
    /* a padding mode's input gradient through the depthwise forward form (plan:      \
       nhwc_dw, multiplier 1), folded into dx (N, H, W, C) and ring as made, then    \
       conv2d_nhwc_fold_ring per image (see cx_nhwc_impl.h) */                        \
    void P##conv2d_nhwc_fwd_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,  \
                                 const T *x, T *dx, T *ring, ptrdiff_t H, ptrdiff_t W,  \
                                 ptrdiff_t top, ptrdiff_t left, const ptrdiff_t *src_w, \
                                 int stream, ptrdiff_t item, T *ws, T *yb);             \
    void P##conv2d_nhwc_fold_ring(T *dx, const T *ring, ptrdiff_t H, ptrdiff_t W,      \
                                  ptrdiff_t C, ptrdiff_t Hp, ptrdiff_t Wp, ptrdiff_t top, \
                                  const ptrdiff_t *src_h, const ptrdiff_t *src_w,       \
                                  ptrdiff_t n);

CX_DECLARE_CONV_API(float, cx_f32_)
CX_DECLARE_CONV_API(double, cx_f64_)
CX_DECLARE_NHWC_API(float, cx_f32_)
CX_DECLARE_NHWC_API(double, cx_f64_)

/* ---- instruction-set dispatch and the FMA probe (cx_gemm.h, cx_dispatch.c) ---- */
int cx_cpu_best_isa(void);
int cx_select_isa(int requested);
int cx_active_isa(void);
/* 1 on CPUs with AVX-512 that run a 512-bit FMA as two 256-bit halves (AMD
   family 19h, Zen 4): 8-lane vectors do as many FLOPs a cycle as 16-lane ones */
int cx_cpu_avx512_halves(void);
const char *cx_isa_name(int isa);
double cx_fma_probe(int isa, long n);
double cx_fma_probe_flops(int isa, long n);
/* Developer switches: a bit set turns a faster path off (its predecessor runs),
   for A/B timing in one process and exactness tests; 0 in normal use. Not to be
   changed while kernels run. */
#define CX_DEV_NO_ROWWALK 1   /* direct tiles walked by input row (dk_fwdr, dk_wgradr) */
#define CX_DEV_NO_ROWALIGN 2  /* their aligned-row form (shifts in registers; AVX-512) */
#define CX_DEV_NO_GATHER32 4  /* channels-last 8-channel gathers (band fill, weight gradient's dY), 32 pixels a transpose */
#define CX_DEV_NO_FWD8 8      /* channels-last 8-channel forward pixel tiles (AVX2 float32) */
#define CX_DEV_NO_CV8 16      /* 8-lane channel-vector tiles, forward and weight gradient (AVX2 float32; dk_mode 2) */
#define CX_DEV_NO_ASM 32      /* the assembly form of a tile (AVX2 float32's 12-pixel 3-tap channel tile): its C form */
#define CX_DEV_NO_CV1D 64     /* channel-vector forward tiles on 1-D rows too long for one band (column tiles): the pixel tiles */
#define CX_DEV_NO_PFSPREAD 128 /* thin groups' next plane prefetched a row of tiles at a time: all at once before the tiles */
#define CX_DEV_NO_EDGE 256    /* channel-vector forward tiles' edge rows on compacted taps (dk_edge): every tap; weight-gradient tiles: every output row */
#define CX_DEV_NO_ECOL 512    /* their edge columns (dk_ecol): every band pixel of a row's first and last tiles (forward and weight gradient) */
#define CX_DEV_NO_INPLACE 1024 /* depthwise 3x3 tiles reading x (and dY) in place: the streamed forward's (dk_fwdx_tile) and the weight gradient's (dk_wgradx_tile), from a band (and a dY copy) */
#define CX_DEV_NO_DWSTRIP 2048 /* channels-last depthwise forward's strips of output pixels (3-tap rows): the pixel loop */
#define CX_DEV_NO_MODEX 4096 /* the depthwise 3x3 weight gradient's in-place tiles under a padding mode (padded lanes from the columns they copy): the band */
#define CX_DEV_NO_HALVES 8192 /* AVX-512 float32 forwards on AVX2's 8-lane channel-vector tiles where the CPU runs 512-bit FMAs as halves (plan.path): the AVX-512 plan */
#define CX_DEV_HALVES 16384  /* ... on any AVX-512 CPU (tests of that path elsewhere) */
#define CX_DEV_NO_ROWSOUT 32768 /* channels-last forwards on the direct tiles with pixel-major results (the 8-channel transposes, AVX-512 float32; the channel-vector tiles' copy): a band's pixels written to y after its last row of tiles, not each row's as it is made (was CX_DEV_NO_PFCHAN until session 27) */
#define CX_DEV_NO_PFGATHER 65536 /* channels-last weight gradient's dY gather (16 channels a transpose, AVX-512) asking for the next 16 pixels' lines: none */
#define CX_DEV_NO_PFWGRADX 131072 /* depthwise weight gradient's in-place tiles asking for the next item's planes a line a row step: all at once before the tile */
#define CX_DEV_NO_FWDCT 262144 /* AVX-512 channel-vector forward tiles storing pixel-major results for dk_transpose16 (NCHW outputs), not transposing in registers and storing in place */
#define CX_DEV_NO_XIN2 524288 /* channel-vector forward tiles whose products are all on the image (dk_xin2) reading a band, not x in place */
#define CX_DEV_NO_PACK16 1048576 /* the AVX-512 channel-vector tiles' weight packed an element at a time, not by 16 x 16 transposes */
#define CX_DEV_NO_WGRADRR 2097152 /* channel-vector weight-gradient tiles' last pass over fewer kernel rows than the tile's on the full tile (rows repeated), not on its 4-, 2- or 1-row forms */
#define CX_DEV_NO_DWNT 4194304 /* channels-last depthwise forward's strips storing into the staged row for dk_stream_copy, not streaming whole lines from registers */
#define CX_DEV_NO_DW2ROW 8388608 /* channels-last depthwise forward's strips one output row a pass, not two (AVX-512) */
#define CX_DEV_NO_DWWBLK 16777216 /* channels-last 3x3 depthwise weight gradient's channel vectors a whole output row a pass, not in blocks of 8 columns with the channels inside */
#define CX_DEV_NO_PADPERM 67108864 /* a padding mode's band rows of at most two input vectors (AVX-512): loads, stores and scalar copies of the padded columns, not one permute a band vector */
#define CX_DEV_NO_NHWCROWS 134217728 /* channels-last forward on pixel tiles, several blocks of output channels: the blocks outside the band's rows, one transpose at the band's end, not every block of a row of tiles then its transpose */
#define CX_DEV_NO_FOLD 268435456 /* a reflect or replicate padding on the sliding channel-vector forward tiles: the band's padded copies multiplied like any pixel, not folded onto the taps of the pixels they copy (cx_dk_fold) */
#define CX_DEV_NO_TAPFOLD 536870912 /* a reflect or replicate padding's depthwise 3x3 input gradient on streamed in-place tiles: the fused fold's padded buffer, not the padded positions folded onto the tiles' taps (conv2d_tapfold) */
#define CX_DEV_NO_REGPAD 1073741824 /* a padding mode's depthwise 3x3 forward on streamed in-place tiles: the band, which the mode fills, not the in-place tiles padding their loads in registers (cx_dk_padx) */
#define CX_DEV_NO_PINWHEEL (1LL << 31) /* a padding mode's input gradient, the border's lines (conv2d_dgrad_border): rows over every padded column and columns over the inner rows, not the pinwheel (each line one side's corner and the inner part: a vector fewer a row where the padded width crosses a vector) */
#define CX_DEV_EMBC (1LL << 32) /* AVX-512 float32 sliding channel-vector tiles (dk_fwdcs) with embedded broadcasts (an FMA's own load of its pixel), as on CPUs that run 512-bit FMAs as halves, on any CPU */
#define CX_DEV_NO_EMBC (1LL << 33) /* ... their broadcasts apart (a pixel loaded once for its S taps' FMAs), as on CPUs with full-width FMA pipes, on any CPU */
#define CX_DEV_NO_AROWS (1LL << 34) /* channels-last 1x1 stride-1 forward: the pixel rows packed into A panels (nhwc_gather), not read in place by the tile's A-row twin */
#define CX_DEV_NO_PF3 (1LL << 35) /* 3-D forward on the direct tiles: the next output depth's new input depth not fetched while a depth's tiles run (its fill waits on memory) */
#define CX_DEV_NO_ZROWS 33554432 /* one-channel row-walking forward tiles (dk_fwdr) whose band rows include zero padding's: those rows' products too, not left out (dk_fwdre) */
extern long long cx_dev_flags;
long long cx_set_dev_flags(long long flags);

/* ---- build and machine information (cx_info.c) ---- */
const char *cx_compiler(void);
int cx_openmp_version(void);      /* _OPENMP date, 0 when built without OpenMP */
int cx_omp_max_threads(void);     /* omp_get_max_threads(), 1 without OpenMP */
const char *cx_simd_baseline(void);  /* instruction set the portable build targets */
const char *cx_cpu_features(void);   /* SIMD features this CPU reports */

#ifdef __cplusplus
}
#endif

#endif /* CX_CONV_H */
