/*
 * Public float32/float64 driver entry points (cx_conv.h): each forwards to the
 * variant compiled for the SIMD path chosen by cx_select_isa() (cx_dispatch.c).
 */
#include "cx_conv.h"
#include "cx_gemm.h"

/* Each path's variant of the driver API (cx_conv.h). */
CX_DECLARE_CONV_API(float, cx_f32_generic_)
CX_DECLARE_CONV_API(double, cx_f64_generic_)
CX_DECLARE_NHWC_API(float, cx_f32_generic_)
CX_DECLARE_NHWC_API(double, cx_f64_generic_)
#if CX_HAVE_X86_KERNELS
CX_DECLARE_CONV_API(float, cx_f32_avx2_)
CX_DECLARE_CONV_API(double, cx_f64_avx2_)
CX_DECLARE_CONV_API(float, cx_f32_avx512_)
CX_DECLARE_CONV_API(double, cx_f64_avx512_)
CX_DECLARE_NHWC_API(float, cx_f32_avx2_)
CX_DECLARE_NHWC_API(double, cx_f64_avx2_)
CX_DECLARE_NHWC_API(float, cx_f32_avx512_)
CX_DECLARE_NHWC_API(double, cx_f64_avx512_)
#define CX_PICK(PFX, fn)                                                                   \
    (cx_active_isa() == CX_ISA_AVX512 ? PFX##avx512_##fn                                   \
     : cx_active_isa() == CX_ISA_AVX2 ? PFX##avx2_##fn : PFX##generic_##fn)
/* the drivers of the path that made plan pl (cx_conv2d_plan.path) */
#define CX_PICK_PL(PFX, fn, pl) ((pl)->path == CX_PATH_AVX2 ? PFX##avx2_##fn : CX_PICK(PFX, fn))

/* AVX-512 float32 forwards on CPUs that run 512-bit FMAs as two 256-bit halves
   (cx_cpu_avx512_halves: Zen 4), where the AVX-512 plan takes the direct
   kernels' pixel tiles (16 pixels of a row a vector; its channel-vector tiles
   need output channels in blocks of 16) and the AVX2 plan the 8-lane
   channel-vector tiles (8 output channels a vector, np pixels a tile): the
   AVX2 plan runs -- 8-lane FMAs do as much a cycle there, in every lane --
   on rows of one vector (Q <= 16) and where its tiles' modelled rate (as in
   plan_fwd_dk: lanes used x np / (np + 5)) is at least 0.9x the pixel tiles'
   (0.8 x lanes used). Measured (8 output channels, 1 to 64 in, 3x3 and 5x5,
   AVX-512 / AVX2 time, bench/README.md session 24): rows of 7-24 pixels
   1.04-2.8, 40 1.38-1.50, 56 1.02-1.11; 28 0.90-1.15, 32 0.89-0.93, 64
   0.83-0.93 (left on AVX-512), 112 1.03-1.07 (left too: modelled 0.77).
   Forwards only (and the input gradients that run as forwards): AVX2's
   8-lane weight gradient ran slower (lenet1 0.80x). */
static void cx_f32_route_plan(const cx_conv2d_desc *d, int op, int algo, cx_conv2d_plan *pl)
{
    pl->path = CX_PATH_ACTIVE;
    if (op != CX_OP_FWD || algo != CX_ALGO_DIRECT || !pl->dk || pl->dk_mode == 2 ||
        cx_active_isa() != CX_ISA_AVX512 || (cx_dev_flags & CX_DEV_NO_HALVES) ||
        !((cx_dev_flags & CX_DEV_HALVES) || cx_cpu_avx512_halves()))
        return;
    cx_conv2d_plan alt;
    cx_f32_avx2_conv2d_plan(d, op, algo, &alt);
    const ptrdiff_t Q = d->Q, np = alt.dk_nv;
    if (!alt.dk || alt.dk_mode != 2 || np < 1)
        return;
    const double pix = 0.8 * (double)Q / (double)((Q + 15) / 16 * 16),
                 cv8 = (double)Q / (double)((Q + np - 1) / np * np) * (double)np / (double)(np + 5);
    if (Q <= 16 || cv8 >= 0.9 * pix) {
        *pl = alt;
        pl->path = CX_PATH_AVX2;
    }
}

/* The same for channels-last forwards: AVX2's channel-vector tiles over a band
   filled from (N, H, W, C) rows (dk_nhwc), where AVX-512's plan has none */
static void cx_f32_route_nhwc_plan(const cx_conv2d_desc *d, int op, cx_conv2d_plan *pl)
{
    pl->path = CX_PATH_ACTIVE;
    if (op != CX_OP_FWD || (pl->dk_nhwc && pl->dk_mode == 2) ||
        cx_active_isa() != CX_ISA_AVX512 || (cx_dev_flags & CX_DEV_NO_HALVES) ||
        !((cx_dev_flags & CX_DEV_HALVES) || cx_cpu_avx512_halves()))
        return;
    cx_conv2d_plan alt;
    cx_f32_avx2_conv2d_nhwc_plan(d, op, &alt);
    if (alt.dk_nhwc && alt.dk_mode == 2) {
        *pl = alt;
        pl->path = CX_PATH_AVX2;
    }
}
#else
#define CX_PICK(PFX, fn) PFX##generic_##fn
#define CX_PICK_PL(PFX, fn, pl) CX_PICK(PFX, fn)
static void cx_f32_route_plan(const cx_conv2d_desc *d, int op, int algo, cx_conv2d_plan *pl)
{
    (void)d, (void)op, (void)algo;
    pl->path = CX_PATH_ACTIVE;
}
static void cx_f32_route_nhwc_plan(const cx_conv2d_desc *d, int op, cx_conv2d_plan *pl)
{
    (void)d, (void)op;
    pl->path = CX_PATH_ACTIVE;
}
#endif
static void cx_f64_route_plan(const cx_conv2d_desc *d, int op, int algo, cx_conv2d_plan *pl)
{
    (void)d, (void)op, (void)algo;
    pl->path = CX_PATH_ACTIVE;
}
static void cx_f64_route_nhwc_plan(const cx_conv2d_desc *d, int op, cx_conv2d_plan *pl)
{
    (void)d, (void)op;
    pl->path = CX_PATH_ACTIVE;
}

#define CX_DEFINE_DISPATCH(T, PUB, PFX)                                                    \
    void PUB##conv2d_plan(const cx_conv2d_desc *d, int op, int algo, cx_conv2d_plan *pl)   \
    {                                                                                      \
        CX_PICK(PFX, conv2d_plan)(d, op, algo, pl);                                        \
        PFX##route_plan(d, op, algo, pl);                                                  \
    }                                                                                      \
    void PUB##conv2d_prepack(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,            \
                             const T *w, T *packed, ptrdiff_t unit)                        \
    { CX_PICK_PL(PFX, conv2d_prepack, pl)(d, pl, w, packed, unit); }                       \
    void PUB##conv2d_fwd(const cx_conv2d_desc *d, const cx_conv2d_plan *pl, const T *x,    \
                         const T *w, const T *bias, T *y, ptrdiff_t item, T *ws)           \
    { CX_PICK_PL(PFX, conv2d_fwd, pl)(d, pl, x, w, bias, y, item, ws); }                   \
    int PUB##conv3d_plan_fwd(const cx_conv2d_desc *d, cx_conv3d_depth *z, int algo,        \
                             cx_conv2d_plan *pl)                                           \
    {                                                                                      \
        const int r = CX_PICK(PFX, conv3d_plan_fwd)(d, z, algo, pl);                       \
        pl->path = CX_PATH_ACTIVE;                                                         \
        return r;                                                                          \
    }                                                                                      \
    void PUB##conv3d_fwd(const cx_conv2d_desc *d, const cx_conv3d_depth *z,                \
                         const cx_conv2d_plan *pl, const T *x, const T *w, const T *bias,  \
                         T *y, ptrdiff_t item, T *ws)                                      \
    { CX_PICK_PL(PFX, conv3d_fwd, pl)(d, z, pl, x, w, bias, y, item, ws); }                \
    int PUB##conv3d_plan_wgrad(const cx_conv2d_desc *d, cx_conv3d_depth *z,                \
                               cx_conv2d_plan *pl)                                         \
    {                                                                                      \
        const int r = CX_PICK(PFX, conv3d_plan_wgrad)(d, z, pl);                           \
        pl->path = CX_PATH_ACTIVE;                                                         \
        return r;                                                                          \
    }                                                                                      \
    void PUB##conv3d_wgrad(const cx_conv2d_desc *d, const cx_conv3d_depth *z,              \
                           const cx_conv2d_plan *pl, const T *x, const T *dy, T *dw,       \
                           ptrdiff_t item, T *ws)                                          \
    { CX_PICK_PL(PFX, conv3d_wgrad, pl)(d, z, pl, x, dy, dw, item, ws); }                  \
    void PUB##conv2d_wgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *pl, const T *x,  \
                           const T *dy, T *dw, ptrdiff_t item, T *ws)                      \
    { CX_PICK_PL(PFX, conv2d_wgrad, pl)(d, pl, x, dy, dw, item, ws); }                     \
    void PUB##conv2d_wgrad_reduce(const cx_conv2d_plan *pl, const T *partial, T *dw,       \
                                  ptrdiff_t begin, ptrdiff_t end)                          \
    { CX_PICK_PL(PFX, conv2d_wgrad_reduce, pl)(pl, partial, dw, begin, end); }             \
    void PUB##conv2d_dgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *pl, const T *w,  \
                           const T *dy, T *dx, ptrdiff_t item, T *ws)                      \
    { CX_PICK_PL(PFX, conv2d_dgrad, pl)(d, pl, w, dy, dx, item, ws); }                     \
    void PUB##pad_fold2d(const T *dxp, T *dx, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W,       \
                         ptrdiff_t top, ptrdiff_t left, ptrdiff_t Hp, ptrdiff_t Wp,        \
                         const ptrdiff_t *src_h, const ptrdiff_t *src_w, int channels_last, \
                         ptrdiff_t item)                                                   \
    { CX_PICK(PFX, pad_fold2d)(dxp, dx, C, H, W, top, left, Hp, Wp, src_h, src_w,          \
                               channels_last, item); }                                     \
    void PUB##conv2d_fwd_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,           \
                              const T *x, const T *w, T *dx, T *ring, ptrdiff_t H,         \
                              ptrdiff_t W, ptrdiff_t top, ptrdiff_t left,                  \
                              const ptrdiff_t *src_h, const ptrdiff_t *src_w, int stream,  \
                              ptrdiff_t item, T *ws, T *yb)                                \
    { CX_PICK_PL(PFX, conv2d_fwd_fold, pl)(d, pl, x, w, dx, ring, H, W, top, left, src_h, src_w, \
                                    stream, item, ws, yb); }                               \
    void PUB##conv2d_fold_ring(T *dx, const T *ring, ptrdiff_t H, ptrdiff_t W,             \
                               ptrdiff_t Hp, ptrdiff_t Wp, ptrdiff_t top, ptrdiff_t left,  \
                               const ptrdiff_t *src_h, const ptrdiff_t *src_w,             \
                               ptrdiff_t plane)                                            \
    { CX_PICK(PFX, conv2d_fold_ring)(dx, ring, H, W, Hp, Wp, top, left, src_h, src_w,      \
                                     plane); }                                             \
    void PUB##conv2d_fwd_ring(const cx_conv2d_desc *d, const cx_conv2d_desc *d2,           \
                              const cx_conv2d_plan *pl, const T *dy, const T *w,           \
                              const T *wt, T *dx, ptrdiff_t top, ptrdiff_t left,           \
                              ptrdiff_t Wp, const ptrdiff_t *src_h,                        \
                              const ptrdiff_t *src_w, ptrdiff_t item, T *ws, T *buf)       \
    { CX_PICK_PL(PFX, conv2d_fwd_ring, pl)(d, d2, pl, dy, w, wt, dx, top, left, Wp, src_h, src_w, \
                                    item, ws, buf); }                                      \
    void PUB##conv2d_ring_rows(const cx_conv2d_desc *d, const T *dy, const T *w, T *dx,    \
                               ptrdiff_t top, ptrdiff_t left, ptrdiff_t Hp, ptrdiff_t Wp,  \
                               const ptrdiff_t *src_h, const ptrdiff_t *src_w,             \
                               ptrdiff_t plane, T *buf)                                    \
    { CX_PICK(PFX, conv2d_ring_rows)(d, dy, w, dx, top, left, Hp, Wp, src_h, src_w, plane, \
                                     buf); }                                               \
    size_t PUB##conv2d_dgrad_border_ws(const cx_conv2d_desc *d, ptrdiff_t ib)              \
    { return CX_PICK(PFX, conv2d_dgrad_border_ws)(d, ib); }                                \
    int PUB##conv2d_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *pl)                \
    { return CX_PICK_PL(PFX, conv2d_fold, pl)(d, pl); }                                    \
    int PUB##conv2d_regpad(const cx_conv2d_desc *d, const cx_conv2d_plan *pl)              \
    { return CX_PICK_PL(PFX, conv2d_regpad, pl)(d, pl); }                                  \
    int PUB##conv2d_tapfold(const cx_conv2d_desc *d, const cx_conv2d_desc *d2,             \
                            const cx_conv2d_plan *pl, ptrdiff_t Hp, ptrdiff_t Wp,          \
                            const ptrdiff_t *src_h, const ptrdiff_t *src_w)                \
    { return CX_PICK_PL(PFX, conv2d_tapfold, pl)(d, d2, pl, Hp, Wp, src_h, src_w); }       \
    int PUB##dgrad_flip_weight(const cx_conv2d_desc *d, const T *w, T *wt, ptrdiff_t u)    \
    { return CX_PICK(PFX, dgrad_flip_weight)(d, w, wt, u); }                               \
    int PUB##conv2d_dgrad_border_weight(const cx_conv2d_desc *d, const T *w, T *wt,        \
                                        ptrdiff_t u)                                       \
    { return CX_PICK(PFX, conv2d_dgrad_border_weight)(d, w, wt, u); }                      \
    void PUB##conv2d_dgrad_border(const cx_conv2d_desc *d, const T *w, const T *dy,        \
                                  T *dx, const ptrdiff_t *src_h, const ptrdiff_t *src_w,   \
                                  ptrdiff_t ib, ptrdiff_t item, T *ws)                     \
    { CX_PICK(PFX, conv2d_dgrad_border)(d, w, dy, dx, src_h, src_w, ib, item, ws); }       \
    void PUB##gemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *a, ptrdiff_t rsa,       \
                   ptrdiff_t csa, const T *b, ptrdiff_t rsb, ptrdiff_t csb, int accumulate, \
                   T *c, ptrdiff_t rsc, ptrdiff_t csc, T *ws)                              \
    { CX_PICK(PFX, gemm)(m, n, k, a, rsa, csa, b, rsb, csb, accumulate, c, rsc, csc, ws); } \
    void PUB##igemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *a, ptrdiff_t rsa,      \
                    ptrdiff_t csa, const T *b, const ptrdiff_t *boff, T *c, ptrdiff_t rsc, \
                    T *ws)                                                                 \
    { CX_PICK(PFX, igemm)(m, n, k, a, rsa, csa, b, boff, c, rsc, ws); }                    \
    size_t PUB##gemm_workspace_elems(void) { return CX_PICK(PFX, gemm_workspace_elems)(); } \
    const char *PUB##gemm_kernel_name(void) { return CX_PICK(PFX, gemm_kernel_name)(); }   \
    void PUB##conv2d_nhwc_plan(const cx_conv2d_desc *d, int op, cx_conv2d_plan *pl)        \
    {                                                                                      \
        CX_PICK(PFX, conv2d_nhwc_plan)(d, op, pl);                                         \
        PFX##route_nhwc_plan(d, op, pl);                                                   \
    }                                                                                      \
    void PUB##conv2d_nhwc_prepack(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,       \
                                  const T *w, T *packed, ptrdiff_t unit)                   \
    { CX_PICK_PL(PFX, conv2d_nhwc_prepack, pl)(d, pl, w, packed, unit); }                  \
    void PUB##conv2d_nhwc_fwd(const cx_conv2d_desc *d, const cx_conv2d_plan *pl, const T *x, \
                              const T *bias, T *y, ptrdiff_t item, T *ws)                  \
    { CX_PICK_PL(PFX, conv2d_nhwc_fwd, pl)(d, pl, x, bias, y, item, ws); }                 \
    void PUB##conv2d_nhwc_wgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,         \
                                const T *x, const T *dy, T *partial, ptrdiff_t item, T *ws) \
    { CX_PICK_PL(PFX, conv2d_nhwc_wgrad, pl)(d, pl, x, dy, partial, item, ws); }           \
    void PUB##conv2d_nhwc_wgrad_reduce(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,  \
                                       const T *partial, T *dw, ptrdiff_t begin, ptrdiff_t end) \
    { CX_PICK_PL(PFX, conv2d_nhwc_wgrad_reduce, pl)(d, pl, partial, dw, begin, end); }     \
    void PUB##conv2d_nhwc_dgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,         \
                                const T *dy, T *dx, ptrdiff_t item, T *ws)                 \
    { CX_PICK_PL(PFX, conv2d_nhwc_dgrad, pl)(d, pl, dy, dx, item, ws); }                   \
    void PUB##conv2d_nhwc_fwd_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,      \
                                   const T *x, T *dx, T *ring, ptrdiff_t H, ptrdiff_t W,   \
                                   ptrdiff_t top, ptrdiff_t left, const ptrdiff_t *src_w,  \
                                   int stream, ptrdiff_t item, T *ws, T *yb)               \
    { CX_PICK_PL(PFX, conv2d_nhwc_fwd_fold, pl)(d, pl, x, dx, ring, H, W, top, left, src_w, stream, \
                                         item, ws, yb); }                                  \
    void PUB##conv2d_nhwc_fold_ring(T *dx, const T *ring, ptrdiff_t H, ptrdiff_t W,        \
                                    ptrdiff_t C, ptrdiff_t Hp, ptrdiff_t Wp, ptrdiff_t top, \
                                    const ptrdiff_t *src_h, const ptrdiff_t *src_w,        \
                                    ptrdiff_t n)                                           \
    { CX_PICK(PFX, conv2d_nhwc_fold_ring)(dx, ring, H, W, C, Hp, Wp, top, src_h, src_w, n); }

CX_DEFINE_DISPATCH(float, cx_f32_, cx_f32_)
CX_DEFINE_DISPATCH(double, cx_f64_, cx_f64_)
