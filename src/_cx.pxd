# Declarations of the C layer (cx_conv.h) for the Cython glue in _conv.pyx.

cdef extern from "cx_gemm.h" nogil:
    ctypedef void (*cx_f32_dot_fn)(Py_ssize_t, Py_ssize_t, const float *, Py_ssize_t, Py_ssize_t,
                                   const float *, Py_ssize_t, Py_ssize_t, float *, Py_ssize_t,
                                   Py_ssize_t, Py_ssize_t)
    ctypedef void (*cx_f64_dot_fn)(Py_ssize_t, Py_ssize_t, const double *, Py_ssize_t, Py_ssize_t,
                                   const double *, Py_ssize_t, Py_ssize_t, double *, Py_ssize_t,
                                   Py_ssize_t, Py_ssize_t)
    ctypedef void (*cx_f32_ukernel_fn)(Py_ssize_t, const float *, const float *, Py_ssize_t,
                                       float *, Py_ssize_t, Py_ssize_t, int, Py_ssize_t,
                                       Py_ssize_t)
    ctypedef void (*cx_f64_ukernel_fn)(Py_ssize_t, const double *, const double *, Py_ssize_t,
                                       double *, Py_ssize_t, Py_ssize_t, int, Py_ssize_t,
                                       Py_ssize_t)
    ctypedef struct cx_f32_gemm_kernel:
        cx_f32_ukernel_fn ukernel
        Py_ssize_t mr, nr, kc, mc, nc
        const char *name
        cx_f32_dot_fn dot
        Py_ssize_t dot_mr, dot_nr
        const char *dot_name
        Py_ssize_t edge_mr[2]
        cx_f32_ukernel_fn edge_ukernel[2]
    ctypedef struct cx_f64_gemm_kernel:
        cx_f64_ukernel_fn ukernel
        Py_ssize_t mr, nr, kc, mc, nc
        const char *name
        cx_f64_dot_fn dot
        Py_ssize_t dot_mr, dot_nr
        const char *dot_name
        Py_ssize_t edge_mr[2]
        cx_f64_ukernel_fn edge_ukernel[2]
    const cx_f32_gemm_kernel *cx_f32_gemm_active()
    const cx_f64_gemm_kernel *cx_f64_gemm_active()
    const cx_f32_gemm_kernel *cx_f32_gemm_narrow()
    const cx_f64_gemm_kernel *cx_f64_gemm_narrow()

cdef extern from "cx_conv.h" nogil:
    ctypedef struct cx_conv2d_desc:
        Py_ssize_t N, C, H, W
        Py_ssize_t K, R, S
        Py_ssize_t P, Q
        Py_ssize_t stride_h, stride_w
        Py_ssize_t dil_h, dil_w
        Py_ssize_t pad_top, pad_left
        Py_ssize_t groups
        int pad_mode

    ctypedef struct cx_conv2d_plan:
        int op, algo
        Py_ssize_t nitems
        Py_ssize_t tile, ntiles
        Py_ssize_t kblock, kblocks
        Py_ssize_t cblock, cblocks
        size_t ws_elems
        Py_ssize_t nsplit, nper, wsize, nseg
        int fwd_shift, wgrad_gemm
        Py_ssize_t apack_units
        size_t apack_elems
        Py_ssize_t apack_parts
        const void *apacked
        int dk, dk_mode
        Py_ssize_t dk_L, dk_nv, dk_mr, dk_mk, dk_mt
        int nhwc_dw, nhwc_narrow, nhwc_kmajor
        Py_ssize_t nhwc_chunk
        Py_ssize_t dk_qt, dk_qtiles, dk_pitch
        int dk_stream, dk_inplace, dk_nhwc
        long long dk_stamp
        Py_ssize_t dk_etop, dk_ebot
        int dk_ecol, dk_edge, dk_fold, dk_tapfold
        int *dk_nonfinite
        Py_ssize_t dk_tperm
        int path

    ctypedef struct cx_conv3d_depth:
        Py_ssize_t N, D, Do, T
        Py_ssize_t stride, dil, pad
        Py_ssize_t chunk, chunks

    enum:
        CX_ALGO_DIRECT
        CX_ALGO_IM2COL
        CX_ALGO_DIRECT_PLAIN
        CX_OP_FWD
        CX_OP_WGRAD
        CX_OP_DGRAD
        CX_PATH_ACTIVE
        CX_PATH_AVX2
        CX_PAD_ZEROS
        CX_PAD_REFLECT
        CX_PAD_REPLICATE
        CX_PAD_CIRCULAR

    void cx_f32_conv2d_plan(const cx_conv2d_desc *d, int op, int algo, cx_conv2d_plan *plan)
    void cx_f32_conv2d_prepack(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                               const float *w, float *packed, Py_ssize_t unit)
    void cx_f32_conv2d_fwd(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                           const float *x, const float *w, const float *bias, float *y,
                           Py_ssize_t item, float *ws)
    int cx_f32_conv3d_plan_fwd(const cx_conv2d_desc *d, cx_conv3d_depth *z, int algo,
                               cx_conv2d_plan *plan)
    void cx_f32_conv3d_fwd(const cx_conv2d_desc *d, const cx_conv3d_depth *z,
                         const cx_conv2d_plan *plan, const float *x, const float *w,
                         const float *bias, float *y, Py_ssize_t item, float *ws)
    int cx_f32_conv3d_plan_wgrad(const cx_conv2d_desc *d, cx_conv3d_depth *z, cx_conv2d_plan *plan)
    void cx_f32_conv3d_wgrad(const cx_conv2d_desc *d, const cx_conv3d_depth *z,
                           const cx_conv2d_plan *plan, const float *x, const float *dy, float *dw,
                           Py_ssize_t item, float *ws)
    void cx_f32_conv2d_wgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                             const float *x, const float *dy, float *dw,
                             Py_ssize_t item, float *ws)
    void cx_f32_pad_fold2d(const float *dxp, float *dx, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                       Py_ssize_t top, Py_ssize_t left, Py_ssize_t Hp, Py_ssize_t Wp,
                       const Py_ssize_t *src_h, const Py_ssize_t *src_w, int channels_last,
                       Py_ssize_t item)
    void cx_f32_conv2d_wgrad_reduce(const cx_conv2d_plan *plan, const float *partial, float *dw,
                                    Py_ssize_t begin, Py_ssize_t end)
    void cx_f32_conv2d_fwd_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                              const float *x, const float *w, float *dx, float *ring, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t top, Py_ssize_t left,
                              const Py_ssize_t *src_h, const Py_ssize_t *src_w, int stream,
                              Py_ssize_t item, float *ws, float *yb)
    void cx_f32_conv2d_fold_ring(float *dx, const float *ring, Py_ssize_t H, Py_ssize_t W,
                               Py_ssize_t Hp, Py_ssize_t Wp, Py_ssize_t top, Py_ssize_t left,
                               const Py_ssize_t *src_h, const Py_ssize_t *src_w,
                               Py_ssize_t plane)
    void cx_f32_conv2d_fwd_ring(const cx_conv2d_desc *d, const cx_conv2d_desc *d2,
                              const cx_conv2d_plan *plan, const float *dy, const float *w,
                              const float *wt, float *dx, Py_ssize_t top, Py_ssize_t left,
                              Py_ssize_t Wp, const Py_ssize_t *src_h, const Py_ssize_t *src_w,
                              Py_ssize_t item, float *ws, float *buf)
    void cx_f32_conv2d_ring_rows(const cx_conv2d_desc *d, const float *dy, const float *w,
                               float *dx, Py_ssize_t top, Py_ssize_t left, Py_ssize_t Hp,
                               Py_ssize_t Wp,
                               const Py_ssize_t *src_h, const Py_ssize_t *src_w,
                               Py_ssize_t plane, float *buf)
    size_t cx_f32_conv2d_dgrad_border_ws(const cx_conv2d_desc *d, Py_ssize_t ib)
    int cx_f32_conv2d_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *pl)
    int cx_f32_conv2d_regpad(const cx_conv2d_desc *d, const cx_conv2d_plan *pl)
    int cx_f32_conv2d_tapfold(const cx_conv2d_desc *d, const cx_conv2d_desc *d2,
                            const cx_conv2d_plan *pl, Py_ssize_t Hp, Py_ssize_t Wp,
                            const Py_ssize_t *src_h, const Py_ssize_t *src_w)
    int cx_f32_dgrad_flip_weight(const cx_conv2d_desc *d, const float *w, float *wt, Py_ssize_t u)
    int cx_f32_conv2d_dgrad_border_weight(const cx_conv2d_desc *d, const float *w, float *wt,
                                         Py_ssize_t u)
    void cx_f32_conv2d_dgrad_border(const cx_conv2d_desc *d, const float *w, const float *dy,
                                  float *dx, const Py_ssize_t *src_h, const Py_ssize_t *src_w,
                                  Py_ssize_t ib, Py_ssize_t item, float *ws)
    void cx_f32_conv2d_dgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                             const float *w, const float *dy, float *dx,
                             Py_ssize_t item, float *ws)
    void cx_f32_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                     const float *a, Py_ssize_t rsa, Py_ssize_t csa,
                     const float *b, Py_ssize_t rsb, Py_ssize_t csb,
                     int accumulate, float *c, Py_ssize_t rsc, Py_ssize_t csc, float *ws)
    void cx_f32_igemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float *a, Py_ssize_t rsa,
                     Py_ssize_t csa, const float *b, const Py_ssize_t *boff, float *c,
                     Py_ssize_t rsc, float *ws)
    size_t cx_f32_gemm_workspace_elems()
    const char *cx_f32_gemm_kernel_name()

    void cx_f64_conv2d_plan(const cx_conv2d_desc *d, int op, int algo, cx_conv2d_plan *plan)
    void cx_f64_conv2d_prepack(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                               const double *w, double *packed, Py_ssize_t unit)
    void cx_f64_conv2d_fwd(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                           const double *x, const double *w, const double *bias, double *y,
                           Py_ssize_t item, double *ws)
    int cx_f64_conv3d_plan_fwd(const cx_conv2d_desc *d, cx_conv3d_depth *z, int algo,
                               cx_conv2d_plan *plan)
    void cx_f64_conv3d_fwd(const cx_conv2d_desc *d, const cx_conv3d_depth *z,
                         const cx_conv2d_plan *plan, const double *x, const double *w,
                         const double *bias, double *y, Py_ssize_t item, double *ws)
    int cx_f64_conv3d_plan_wgrad(const cx_conv2d_desc *d, cx_conv3d_depth *z, cx_conv2d_plan *plan)
    void cx_f64_conv3d_wgrad(const cx_conv2d_desc *d, const cx_conv3d_depth *z,
                           const cx_conv2d_plan *plan, const double *x, const double *dy, double *dw,
                           Py_ssize_t item, double *ws)
    void cx_f64_conv2d_wgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                             const double *x, const double *dy, double *dw,
                             Py_ssize_t item, double *ws)
    void cx_f64_pad_fold2d(const double *dxp, double *dx, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                       Py_ssize_t top, Py_ssize_t left, Py_ssize_t Hp, Py_ssize_t Wp,
                       const Py_ssize_t *src_h, const Py_ssize_t *src_w, int channels_last,
                       Py_ssize_t item)
    void cx_f64_conv2d_wgrad_reduce(const cx_conv2d_plan *plan, const double *partial, double *dw,
                                    Py_ssize_t begin, Py_ssize_t end)
    void cx_f64_conv2d_fwd_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                              const double *x, const double *w, double *dx, double *ring, Py_ssize_t H,
                              Py_ssize_t W, Py_ssize_t top, Py_ssize_t left,
                              const Py_ssize_t *src_h, const Py_ssize_t *src_w, int stream,
                              Py_ssize_t item, double *ws, double *yb)
    void cx_f64_conv2d_fold_ring(double *dx, const double *ring, Py_ssize_t H, Py_ssize_t W,
                               Py_ssize_t Hp, Py_ssize_t Wp, Py_ssize_t top, Py_ssize_t left,
                               const Py_ssize_t *src_h, const Py_ssize_t *src_w,
                               Py_ssize_t plane)
    void cx_f64_conv2d_fwd_ring(const cx_conv2d_desc *d, const cx_conv2d_desc *d2,
                              const cx_conv2d_plan *plan, const double *dy, const double *w,
                              const double *wt, double *dx, Py_ssize_t top, Py_ssize_t left,
                              Py_ssize_t Wp, const Py_ssize_t *src_h, const Py_ssize_t *src_w,
                              Py_ssize_t item, double *ws, double *buf)
    void cx_f64_conv2d_ring_rows(const cx_conv2d_desc *d, const double *dy, const double *w,
                               double *dx, Py_ssize_t top, Py_ssize_t left, Py_ssize_t Hp,
                               Py_ssize_t Wp,
                               const Py_ssize_t *src_h, const Py_ssize_t *src_w,
                               Py_ssize_t plane, double *buf)
    size_t cx_f64_conv2d_dgrad_border_ws(const cx_conv2d_desc *d, Py_ssize_t ib)
    int cx_f64_conv2d_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *pl)
    int cx_f64_conv2d_regpad(const cx_conv2d_desc *d, const cx_conv2d_plan *pl)
    int cx_f64_conv2d_tapfold(const cx_conv2d_desc *d, const cx_conv2d_desc *d2,
                            const cx_conv2d_plan *pl, Py_ssize_t Hp, Py_ssize_t Wp,
                            const Py_ssize_t *src_h, const Py_ssize_t *src_w)
    int cx_f64_dgrad_flip_weight(const cx_conv2d_desc *d, const double *w, double *wt, Py_ssize_t u)
    int cx_f64_conv2d_dgrad_border_weight(const cx_conv2d_desc *d, const double *w, double *wt,
                                         Py_ssize_t u)
    void cx_f64_conv2d_dgrad_border(const cx_conv2d_desc *d, const double *w, const double *dy,
                                  double *dx, const Py_ssize_t *src_h, const Py_ssize_t *src_w,
                                  Py_ssize_t ib, Py_ssize_t item, double *ws)
    void cx_f64_conv2d_dgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                             const double *w, const double *dy, double *dx,
                             Py_ssize_t item, double *ws)
    void cx_f64_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                     const double *a, Py_ssize_t rsa, Py_ssize_t csa,
                     const double *b, Py_ssize_t rsb, Py_ssize_t csb,
                     int accumulate, double *c, Py_ssize_t rsc, Py_ssize_t csc, double *ws)
    void cx_f64_igemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double *a, Py_ssize_t rsa,
                     Py_ssize_t csa, const double *b, const Py_ssize_t *boff, double *c,
                     Py_ssize_t rsc, double *ws)
    size_t cx_f64_gemm_workspace_elems()
    const char *cx_f64_gemm_kernel_name()

    void cx_f32_conv2d_nhwc_plan(const cx_conv2d_desc *d, int op, cx_conv2d_plan *plan)
    void cx_f32_conv2d_nhwc_prepack(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                                const float *w, float *packed, Py_ssize_t unit)
    void cx_f32_conv2d_nhwc_fwd(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                            const float *x, const float *bias, float *y, Py_ssize_t item, float *ws)
    void cx_f32_conv2d_nhwc_wgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                              const float *x, const float *dy, float *partial, Py_ssize_t item,
                              float *ws)
    void cx_f32_conv2d_nhwc_wgrad_reduce(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                                     const float *partial, float *dw, Py_ssize_t begin,
                                     Py_ssize_t end)
    void cx_f32_conv2d_nhwc_dgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                              const float *dy, float *dx, Py_ssize_t item, float *ws)
    void cx_f32_conv2d_nhwc_fwd_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                                   const float *x, float *dx, float *ring, Py_ssize_t H, Py_ssize_t W,
                                   Py_ssize_t top, Py_ssize_t left, const Py_ssize_t *src_w,
                                   int stream, Py_ssize_t item, float *ws, float *yb)
    void cx_f32_conv2d_nhwc_fold_ring(float *dx, const float *ring, Py_ssize_t H, Py_ssize_t W,
                                    Py_ssize_t C, Py_ssize_t Hp, Py_ssize_t Wp, Py_ssize_t top,
                                    const Py_ssize_t *src_h, const Py_ssize_t *src_w,
                                    Py_ssize_t n)

    void cx_f64_conv2d_nhwc_plan(const cx_conv2d_desc *d, int op, cx_conv2d_plan *plan)
    void cx_f64_conv2d_nhwc_prepack(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                                const double *w, double *packed, Py_ssize_t unit)
    void cx_f64_conv2d_nhwc_fwd(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                            const double *x, const double *bias, double *y, Py_ssize_t item, double *ws)
    void cx_f64_conv2d_nhwc_wgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                              const double *x, const double *dy, double *partial, Py_ssize_t item,
                              double *ws)
    void cx_f64_conv2d_nhwc_wgrad_reduce(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                                     const double *partial, double *dw, Py_ssize_t begin,
                                     Py_ssize_t end)
    void cx_f64_conv2d_nhwc_dgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                              const double *dy, double *dx, Py_ssize_t item, double *ws)
    void cx_f64_conv2d_nhwc_fwd_fold(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                                   const double *x, double *dx, double *ring, Py_ssize_t H, Py_ssize_t W,
                                   Py_ssize_t top, Py_ssize_t left, const Py_ssize_t *src_w,
                                   int stream, Py_ssize_t item, double *ws, double *yb)
    void cx_f64_conv2d_nhwc_fold_ring(double *dx, const double *ring, Py_ssize_t H, Py_ssize_t W,
                                    Py_ssize_t C, Py_ssize_t Hp, Py_ssize_t Wp, Py_ssize_t top,
                                    const Py_ssize_t *src_h, const Py_ssize_t *src_w,
                                    Py_ssize_t n)

    int cx_cpu_best_isa()
    int cx_select_isa(int requested)
    int cx_active_isa()
    int cx_cpu_avx512_halves()
    const char *cx_isa_name(int isa)
    double cx_fma_probe(int isa, long n)
    double cx_fma_probe_flops(int isa, long n)
    long long cx_set_dev_flags(long long flags)

    const char *cx_compiler()
    int cx_openmp_version()
    int cx_omp_max_threads()
    const char *cx_simd_baseline()
    const char *cx_cpu_features()
