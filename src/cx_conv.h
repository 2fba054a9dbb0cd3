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
} cx_conv2d_desc;

enum { CX_ALGO_DIRECT = 0, CX_ALGO_IM2COL = 1 };
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
    ptrdiff_t ntiles;   /* im2col: tiles per image (ceil(P*Q / tile)) */
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
    /* im2col fwd/dgrad: the weight operand of each group (dgrad: each group's
       channel block) packed once per call by conv2d_prepack into a shared
       read-only buffer of apack_units * apack_elems elements, which the caller
       points apacked at; apack_units == 0 when the weight is too big for that
       (then every item packs its own). */
    ptrdiff_t apack_units;
    size_t apack_elems;
    const void *apacked;
} cx_conv2d_plan;

/* ---- float32 ---- */
void cx_f32_conv2d_plan(const cx_conv2d_desc *d, int op, int algo, cx_conv2d_plan *plan);
/* pack unit `unit` (< plan->apack_units) of the weight into packed + unit * apack_elems */
void cx_f32_conv2d_prepack(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                           const float *w, float *packed, ptrdiff_t unit);
/* y = conv(x, w) + bias (bias may be NULL) */
void cx_f32_conv2d_fwd(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                       const float *x, const float *w, const float *bias, float *y,
                       ptrdiff_t item, float *ws);
/* dw = sum over the batch of dy (x) x */
void cx_f32_conv2d_wgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                         const float *x, const float *dy, float *dw,
                         ptrdiff_t item, float *ws);
/* dx = conv_transpose(dy, w); positions no output touches get 0 */
/* dw[i] = sum over chunks (in chunk order) of partial[chunk * wsize + i], i in [begin, end) */
void cx_f32_conv2d_wgrad_reduce(const cx_conv2d_plan *plan, const float *partial, float *dw,
                                ptrdiff_t begin, ptrdiff_t end);
void cx_f32_conv2d_dgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                         const float *w, const float *dy, float *dx,
                         ptrdiff_t item, float *ws);
/* C[m x n] = A[m x k] B[k x n] (+ C if accumulate); element (i, j) of X at x[i*rsx + j*csx] */
void cx_f32_gemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                 const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                 const float *b, ptrdiff_t rsb, ptrdiff_t csb,
                 int accumulate, float *c, ptrdiff_t rsc, ptrdiff_t csc, float *ws);
/* C[m x n] := A B with B element (p, j) at b[boff[p] + j], read in place (indirect GEMM) */
void cx_f32_igemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                 const float *b, const ptrdiff_t *boff, float *c, ptrdiff_t rsc, float *ws);
size_t cx_f32_gemm_workspace_elems(void);
const char *cx_f32_gemm_kernel_name(void);

/* ---- float64 ---- */
void cx_f64_conv2d_plan(const cx_conv2d_desc *d, int op, int algo, cx_conv2d_plan *plan);
/* pack unit `unit` (< plan->apack_units) of the weight into packed + unit * apack_elems */
void cx_f64_conv2d_prepack(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                           const double *w, double *packed, ptrdiff_t unit);
void cx_f64_conv2d_fwd(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                       const double *x, const double *w, const double *bias, double *y,
                       ptrdiff_t item, double *ws);
void cx_f64_conv2d_wgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                         const double *x, const double *dy, double *dw,
                         ptrdiff_t item, double *ws);
/* dw[i] = sum over chunks (in chunk order) of partial[chunk * wsize + i], i in [begin, end) */
void cx_f64_conv2d_wgrad_reduce(const cx_conv2d_plan *plan, const double *partial, double *dw,
                                ptrdiff_t begin, ptrdiff_t end);
void cx_f64_conv2d_dgrad(const cx_conv2d_desc *d, const cx_conv2d_plan *plan,
                         const double *w, const double *dy, double *dx,
                         ptrdiff_t item, double *ws);
void cx_f64_gemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                 const double *a, ptrdiff_t rsa, ptrdiff_t csa,
                 const double *b, ptrdiff_t rsb, ptrdiff_t csb,
                 int accumulate, double *c, ptrdiff_t rsc, ptrdiff_t csc, double *ws);
/* C[m x n] := A B with B element (p, j) at b[boff[p] + j], read in place (indirect GEMM) */
void cx_f64_igemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const double *a, ptrdiff_t rsa, ptrdiff_t csa,
                 const double *b, const ptrdiff_t *boff, double *c, ptrdiff_t rsc, double *ws);
size_t cx_f64_gemm_workspace_elems(void);
const char *cx_f64_gemm_kernel_name(void);

/* ---- instruction-set dispatch and the FMA probe (cx_gemm.h, cx_dispatch.c) ---- */
int cx_cpu_best_isa(void);
int cx_select_isa(int requested);
int cx_active_isa(void);
const char *cx_isa_name(int isa);
double cx_fma_probe(int isa, long n);
double cx_fma_probe_flops(int isa, long n);

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
