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
#define CX_PICK(PFX, fn)                                                     \
    (cx_active_isa() == CX_ISA_AVX512 ? PFX##avx512_##fn                     \
     : cx_active_isa() == CX_ISA_AVX2 ? PFX##avx2_##fn : PFX##generic_##fn)
#else
#define CX_PICK(PFX, fn) PFX##generic_##fn
#endif

#define CX_DEFINE_DISPATCH(T, PUB, PFX)                                                      \
    void PUB##conv2d_plan(const cx_conv2d_desc *d, int op, int algo, cx_conv2d_plan *pl)   \
    { CX_PICK(PFX, conv2d_plan)(d, op, algo, pl); }                                         \
    void PUB##conv2d_prepack(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,            \
                             const T *w, T *packed, ptrdiff_t unit)                         \
    { CX_PICK(PFX, conv2d_prepack)(d, pl, w, packed, unit); }                               \
    void PUB##conv2d_fwd(const cx_conv2d_desc *d, const cx_conv2d_plan *pl, const T *x,    \
                         const T *w, const T *bias, T *y, ptrdiff_t item, T *ws)            \
    { CX_PICK(PFX, conv2d_fwd)(d, pl, x, w, bias, y, item, ws); }                           \
    int PUB##conv3d_plan_fwd(const cx_conv2d_desc *d, cx_conv3d_depth *z, int algo,        \
                             cx_conv2d_plan *pl)                                            \
    { return CX_PICK(PFX, conv3d_plan_fwd)(d, z, algo, pl); }                               \
    void PUB##conv3d_fwd(const cx_conv2d_desc *d, const cx_conv3d_depth *z,                \
                         const cx_conv2d_plan *pl, const T *x, const T *w, const T *bias,   \
                         T *y, ptrdiff_t item, T *ws)                                       \
    { CX_PICK(PFX, conv3d_fwd)(d, z, pl, x, w, bias, y, item, ws); }                        \
    int PUB##conv3d_plan_wgrad(const cx_conv2d_desc *d, cx_conv3d_depth *z,                \
                               cx_conv2d_plan *pl)                                          \
    { return CX_PICK(PFX, conv3d_plan_wgrad)(d, z, pl); }                                   \
    void PUB##conv3d_wgrad(const cx_conv2d_desc *d, const cx_conv3d_depth *z,              \
                           const cx_conv2d_plan *pl, const T *x, const T *dy, T *dw,        \
                           ptrdiff_t item, T *ws)                                           \
    { CX_PICK(PFX, conv3d_wgrad)(d, z, pl, x, dy, dw, item, ws); }                          \
    void PUB##conv2d_wgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *pl, const T *x,  \
                           const T *dy, T *dw, ptrdiff_t item, T *ws)                       \
    { CX_PICK(PFX, conv2d_wgrad)(d, pl, x, dy, dw, item, ws); }                             \
    void PUB##conv2d_wgrad_reduce(const cx_conv2d_plan *pl, const T *partial, T *dw,       \
                                  ptrdiff_t begin, ptrdiff_t end)                           \
    { CX_PICK(PFX, conv2d_wgrad_reduce)(pl, partial, dw, begin, end); }                     \
    void PUB##conv2d_dgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *pl, const T *w,  \
                           const T *dy, T *dx, ptrdiff_t item, T *ws)                       \
    { CX_PICK(PFX, conv2d_dgrad)(d, pl, w, dy, dx, item, ws); }                             \
    void PUB##pad_fold2d(const T *dxp, T *dx, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W,        \
                         ptrdiff_t top, ptrdiff_t left, ptrdiff_t Hp, ptrdiff_t Wp,         \
                         const ptrdiff_t *src_h, const ptrdiff_t *src_w, int channels_last, \
                         ptrdiff_t item)                                                    \
    { CX_PICK(PFX, pad_fold2d)(dxp, dx, C, H, W, top, left, Hp, Wp, src_h, src_w,          \
                               channels_last, item); }                                      \
    void PUB##conv2d_fwd_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,          \
                              const T *x, const T *w, T *dx, T *ring, ptrdiff_t H,          \
                              ptrdiff_t W, ptrdiff_t top, ptrdiff_t left,                   \
                              const ptrdiff_t *src_h, const ptrdiff_t *src_w, int stream,   \
                              ptrdiff_t item, T *ws, T *yb)                                 \
    { CX_PICK(PFX, conv2d_fwd_fold)(d, pl, x, w, dx, ring, H, W, top, left, src_h, src_w,  \
                                    stream, item, ws, yb); }                                \
    void PUB##conv2d_fold_ring(T *dx, const T *ring, ptrdiff_t H, ptrdiff_t W,              \
                               ptrdiff_t Hp, ptrdiff_t Wp, ptrdiff_t top, ptrdiff_t left,   \
                               const ptrdiff_t *src_h, const ptrdiff_t *src_w,              \
                               ptrdiff_t plane)                                             \
    { CX_PICK(PFX, conv2d_fold_ring)(dx, ring, H, W, Hp, Wp, top, left, src_h, src_w,      \
                                     plane); }                                              \
    void PUB##conv2d_fwd_ring(const cx_conv2d_desc *d, const cx_conv2d_desc *d2,            \
                              const cx_conv2d_plan *pl, const T *dy, const T *w,            \
                              const T *wt, T *dx, ptrdiff_t top, ptrdiff_t left,            \
                              ptrdiff_t Wp, const ptrdiff_t *src_h,                         \
                              const ptrdiff_t *src_w, ptrdiff_t item, T *ws, T *buf)        \
    { CX_PICK(PFX, conv2d_fwd_ring)(d, d2, pl, dy, w, wt, dx, top, left, Wp, src_h, src_w, \
                                    item, ws, buf); }                                       \
    void PUB##conv2d_ring_rows(const cx_conv2d_desc *d, const T *dy, const T *w, T *dx,     \
                               ptrdiff_t top, ptrdiff_t left, ptrdiff_t Hp, ptrdiff_t Wp,   \
                               const ptrdiff_t *src_h, const ptrdiff_t *src_w,              \
                               ptrdiff_t plane, T *buf)                                     \
    { CX_PICK(PFX, conv2d_ring_rows)(d, dy, w, dx, top, left, Hp, Wp, src_h, src_w, plane, \
                                     buf); }                                                \
    size_t PUB##conv2d_dgrad_border_ws(const cx_conv2d_desc *d, ptrdiff_t ib)               \
    { return CX_PICK(PFX, conv2d_dgrad_border_ws)(d, ib); }                                \
    void PUB##conv2d_dgrad_border(const cx_conv2d_desc *d, const T *w, const T *dy,         \
                                  T *dx, const ptrdiff_t *src_h, const ptrdiff_t *src_w,    \
                                  ptrdiff_t ib, ptrdiff_t item, T *ws)                      \
    { CX_PICK(PFX, conv2d_dgrad_border)(d, w, dy, dx, src_h, src_w, ib, item, ws); }        \
    void PUB##gemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *a, ptrdiff_t rsa,        \
                   ptrdiff_t csa, const T *b, ptrdiff_t rsb, ptrdiff_t csb, int accumulate, \
                   T *c, ptrdiff_t rsc, ptrdiff_t csc, T *ws)                               \
    { CX_PICK(PFX, gemm)(m, n, k, a, rsa, csa, b, rsb, csb, accumulate, c, rsc, csc, ws); } \
    void PUB##igemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *a, ptrdiff_t rsa,       \
                    ptrdiff_t csa, const T *b, const ptrdiff_t *boff, T *c, ptrdiff_t rsc,  \
                    T *ws)                                                                  \
    { CX_PICK(PFX, igemm)(m, n, k, a, rsa, csa, b, boff, c, rsc, ws); }                     \
    size_t PUB##gemm_workspace_elems(void) { return CX_PICK(PFX, gemm_workspace_elems)(); } \
    const char *PUB##gemm_kernel_name(void) { return CX_PICK(PFX, gemm_kernel_name)(); }     \
    void PUB##conv2d_nhwc_plan(const cx_conv2d_desc *d, int op, cx_conv2d_plan *pl)          \
    { CX_PICK(PFX, conv2d_nhwc_plan)(d, op, pl); }                                            \
    void PUB##conv2d_nhwc_prepack(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,         \
                                  const T *w, T *packed, ptrdiff_t unit)                      \
    { CX_PICK(PFX, conv2d_nhwc_prepack)(d, pl, w, packed, unit); }                            \
    void PUB##conv2d_nhwc_fwd(const cx_conv2d_desc *d, const cx_conv2d_plan *pl, const T *x, \
                              const T *bias, T *y, ptrdiff_t item, T *ws)                     \
    { CX_PICK(PFX, conv2d_nhwc_fwd)(d, pl, x, bias, y, item, ws); }                           \
    void PUB##conv2d_nhwc_wgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,           \
                                const T *x, const T *dy, T *partial, ptrdiff_t item, T *ws)   \
    { CX_PICK(PFX, conv2d_nhwc_wgrad)(d, pl, x, dy, partial, item, ws); }                     \
    void PUB##conv2d_nhwc_wgrad_reduce(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,    \
                                       const T *partial, T *dw, ptrdiff_t begin, ptrdiff_t end) \
    { CX_PICK(PFX, conv2d_nhwc_wgrad_reduce)(d, pl, partial, dw, begin, end); }               \
    void PUB##conv2d_nhwc_dgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,           \
                                const T *dy, T *dx, ptrdiff_t item, T *ws)                    \
    { CX_PICK(PFX, conv2d_nhwc_dgrad)(d, pl, dy, dx, item, ws); }                             \
    void PUB##conv2d_nhwc_fwd_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,        \
                                   const T *x, T *dx, T *ring, ptrdiff_t H, ptrdiff_t W,      \
                                   ptrdiff_t top, ptrdiff_t left, const ptrdiff_t *src_w,     \
                                   int stream, ptrdiff_t item, T *ws, T *yb)                  \
    { CX_PICK(PFX, conv2d_nhwc_fwd_fold)(d, pl, x, dx, ring, H, W, top, left, src_w, stream, \
                                         item, ws, yb); }                                     \
    void PUB##conv2d_nhwc_fold_ring(T *dx, const T *ring, ptrdiff_t H, ptrdiff_t W,          \
                                    ptrdiff_t C, ptrdiff_t Hp, ptrdiff_t Wp, ptrdiff_t top,   \
                                    const ptrdiff_t *src_h, const ptrdiff_t *src_w,           \
                                    ptrdiff_t n)                                              \
    { CX_PICK(PFX, conv2d_nhwc_fold_ring)(dx, ring, H, W, C, Hp, Wp, top, src_h, src_w, n); }

CX_DEFINE_DISPATCH(float, cx_f32_, cx_f32_)
CX_DEFINE_DISPATCH(double, cx_f64_, cx_f64_)
