/*
 * GEMM micro-kernels and their run-time dispatch.
 *
 * A micro-kernel computes one MR x NR tile of C from packed panels:
 *
 *   C[m x n] := A_panel * B_panel          (accumulate == 0: C is never read,
 *   C[m x n] += A_panel * B_panel           it may hold garbage or NaN)
 *
 *   A_panel: MR x kc, column p at a[p*MR]   (rows >= m are zero padding)
 *   B_panel: kc x NR, row p at b[p*ldb]     (ldb = NR when packed; a full panel
 *                                            may also be read in place from a
 *                                            row-major matrix, ldb = its row stride)
 *   C:       element (i, j) at c[i*rsc + j*csc], only i < m, j < n touched.
 *
 * No loops over M or N, no allocation, no OpenMP. One descriptor per kernel
 * carries its tile and the cache blocks the driver uses around it; the blocks
 * are fixed per kernel, so a path's results never depend on the caller's tiling.
 *
 * Kernels (names say dtype, tile and ISA):
 *   cx_f32_gemm_ukernel_4x8__generic   cx_f64_gemm_ukernel_4x4__generic   portable C
 *   cx_f32_gemm_ukernel_6x16__avx2     cx_f64_gemm_ukernel_6x8__avx2      AVX2 + FMA
 *   cx_f32_gemm_ukernel_8x48__avx512  cx_f64_gemm_ukernel_8x24__avx512  AVX-512F
 *   cx_f32_gemm_ukernel_12x32__avx512 cx_f64_gemm_ukernel_12x16__avx512 AVX-512F, narrow
 * each with an indirect twin (cx_*_igemm_ukernel_*) that reads B row p in place
 * at b + boff[p], the SIMD ones an A-row twin (cx_*_agemm_ukernel_*) that reads
 * A's rows in place at a + i*lda, and a dot-product tile (cx_*_dot_ukernel_*) described below.
 * The AVX2 tiles have edge twins of 4 and 2 rows (cx_*_gemm_ukernel_4x16_e6__avx2
 * ...: "e6", they read A panels packed for 6 rows) for a last block of 1-4 rows.
 */
#ifndef CX_GEMM_H
#define CX_GEMM_H

#include <stddef.h>

typedef void (*cx_f32_ukernel_fn)(ptrdiff_t kc, const float *a, const float *b, ptrdiff_t ldb,
                                  float *c,
                                  ptrdiff_t rsc, ptrdiff_t csc, int accumulate,
                                  ptrdiff_t m, ptrdiff_t n);
/* A-row variant (cx_*_agemm_ukernel_*): A's MR rows read in place, row i at
   a + i*lda; full row blocks only (m == MR; n <= NR as the packed kernel) */
typedef void (*cx_f32_aukernel_fn)(ptrdiff_t kc, const float *a, ptrdiff_t lda, const float *b,
                                   ptrdiff_t ldb, float *c, ptrdiff_t rsc, ptrdiff_t csc,
                                   int accumulate, ptrdiff_t m, ptrdiff_t n);
typedef void (*cx_f64_aukernel_fn)(ptrdiff_t kc, const double *a, ptrdiff_t lda,
                                   const double *b, ptrdiff_t ldb, double *c, ptrdiff_t rsc,
                                   ptrdiff_t csc, int accumulate, ptrdiff_t m, ptrdiff_t n);
typedef void (*cx_f32_iukernel_fn)(ptrdiff_t kc, const float *a, const float *b,
                                   const ptrdiff_t *boff, float *c, ptrdiff_t rsc, ptrdiff_t csc,
                                   int accumulate, ptrdiff_t m, ptrdiff_t n);
typedef void (*cx_f64_iukernel_fn)(ptrdiff_t kc, const double *a, const double *b,
                                   const ptrdiff_t *boff, double *c, ptrdiff_t rsc, ptrdiff_t csc,
                                   int accumulate, ptrdiff_t m, ptrdiff_t n);
typedef void (*cx_f64_ukernel_fn)(ptrdiff_t kc, const double *a, const double *b, ptrdiff_t ldb,
                                  double *c,
                                  ptrdiff_t rsc, ptrdiff_t csc, int accumulate,
                                  ptrdiff_t m, ptrdiff_t n);

/*
 * Dot-product ("NT") tile, for the weight gradient (cx_ukernel_dot_impl.h):
 *   C[i*rsc + j] += sum_{s < nseg, l < len} A[s*sa + i*lda + l] * B[s*sb + j*ldb + l]
 *   i < m <= MR, j < n <= NR; operands read in place, every sum in an order
 *   fixed by nseg and len alone.
 */
typedef void (*cx_f32_dot_fn)(ptrdiff_t nseg, ptrdiff_t len,
                              const float *a, ptrdiff_t sa, ptrdiff_t lda,
                              const float *b, ptrdiff_t sb, ptrdiff_t ldb,
                              float *c, ptrdiff_t rsc, ptrdiff_t m, ptrdiff_t n);
typedef void (*cx_f64_dot_fn)(ptrdiff_t nseg, ptrdiff_t len,
                              const double *a, ptrdiff_t sa, ptrdiff_t lda,
                              const double *b, ptrdiff_t sb, ptrdiff_t ldb,
                              double *c, ptrdiff_t rsc, ptrdiff_t m, ptrdiff_t n);

/* Most elements (MR x NR) a micro-kernel tile of any path may have: the GEMM
   driver computes a tile that straddles two images of a batch-spanning
   forward into a stack buffer of this size (each kernel template checks it). */
#define CX_GEMM_TILE_MAX 512

typedef struct {
    cx_f32_ukernel_fn ukernel;
    ptrdiff_t mr, nr;          /* register tile */
    ptrdiff_t kc, mc, nc;      /* cache blocks: kc x nr B panel in L1, mc x kc A block in L2 */
    const char *name;
    cx_f32_dot_fn dot;         /* dot-product tile and its shape */
    ptrdiff_t dot_mr, dot_nr;
    const char *dot_name;
    cx_f32_iukernel_fn iukernel;   /* indirect-B variant of ukernel (same tile) */
    /* edge tiles, shortest first (edge_mr 0: none): a last row block of
       m <= edge_mr[e] < mr rows runs on tile e, which reads the main tile's A
       panels (same NR, same sums in the same order: bit-identical results) */
    ptrdiff_t edge_mr[2];
    cx_f32_ukernel_fn edge_ukernel[2];
    cx_f32_iukernel_fn edge_iukernel[2];
    cx_f32_aukernel_fn aukernel;   /* A-row variant (same tile), or NULL */
} cx_f32_gemm_kernel;

typedef struct {
    cx_f64_ukernel_fn ukernel;
    ptrdiff_t mr, nr;
    ptrdiff_t kc, mc, nc;
    const char *name;
    cx_f64_dot_fn dot;
    ptrdiff_t dot_mr, dot_nr;
    const char *dot_name;
    cx_f64_iukernel_fn iukernel;
    /* edge tiles, shortest first (edge_mr 0: none): a last row block of
       m <= edge_mr[e] < mr rows runs on tile e, which reads the main tile's A
       panels (same NR, same sums in the same order: bit-identical results) */
    ptrdiff_t edge_mr[2];
    cx_f64_ukernel_fn edge_ukernel[2];
    cx_f64_iukernel_fn edge_iukernel[2];
    cx_f64_aukernel_fn aukernel;   /* A-row variant (same tile), or NULL */
} cx_f64_gemm_kernel;

/* Instruction-set paths, lowest first. */
enum { CX_ISA_GENERIC = 0, CX_ISA_AVX2 = 1, CX_ISA_AVX512 = 2 };

/* The kernel in use, chosen once by cx_select_isa() (generic until then). */
const cx_f32_gemm_kernel *cx_f32_gemm_active(void);
const cx_f64_gemm_kernel *cx_f64_gemm_active(void);
/* The active path's narrow tile: the same path with NR of two vectors
   (AVX-512: 12x32 float32, 12x16 float64), for GEMMs whose N is a few output
   channels (the channels-last drivers pick it where it pads N less); paths
   with one tile return their active kernel. Only `ukernel` and the blocks are
   set (no dot or indirect tile: dot = iukernel = NULL). */
const cx_f32_gemm_kernel *cx_f32_gemm_narrow(void);
const cx_f64_gemm_kernel *cx_f64_gemm_narrow(void);

/* Best path this CPU (and OS) supports. */
int cx_cpu_best_isa(void);
/* Use min(requested, best) for every later call; returns the path chosen.
   Not thread-safe: call once before any kernel runs (convx does at import). */
int cx_select_isa(int requested);
int cx_active_isa(void);
const char *cx_isa_name(int isa);

/* Micro-kernels, for tests and the descriptors. */
void cx_f32_gemm_ukernel_4x8__generic(ptrdiff_t, const float *, const float *, ptrdiff_t, float *,
                                      ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f64_gemm_ukernel_4x4__generic(ptrdiff_t, const double *, const double *, ptrdiff_t, double *,
                                      ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f32_igemm_ukernel_4x8__generic(ptrdiff_t, const float *, const float *, const ptrdiff_t *,
                                       float *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f64_igemm_ukernel_4x4__generic(ptrdiff_t, const double *, const double *, const ptrdiff_t *,
                                       double *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f32_dot_ukernel_2x4__generic(ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t,
    const float *, ptrdiff_t, ptrdiff_t, float *, ptrdiff_t, ptrdiff_t, ptrdiff_t);
void cx_f64_dot_ukernel_2x4__generic(ptrdiff_t, ptrdiff_t, const double *, ptrdiff_t, ptrdiff_t,
    const double *, ptrdiff_t, ptrdiff_t, double *, ptrdiff_t, ptrdiff_t, ptrdiff_t);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CX_HAVE_X86_KERNELS 1
void cx_f32_igemm_ukernel_6x16__avx2(ptrdiff_t, const float *, const float *, const ptrdiff_t *,
                                     float *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f64_igemm_ukernel_6x8__avx2(ptrdiff_t, const double *, const double *, const ptrdiff_t *,
                                    double *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f32_igemm_ukernel_8x48__avx512(ptrdiff_t, const float *, const float *, const ptrdiff_t *,
                                        float *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f64_igemm_ukernel_8x24__avx512(ptrdiff_t, const double *, const double *, const ptrdiff_t *,
                                        double *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f32_dot_ukernel_3x4__avx2(ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t,
    const float *, ptrdiff_t, ptrdiff_t, float *, ptrdiff_t, ptrdiff_t, ptrdiff_t);
void cx_f64_dot_ukernel_3x4__avx2(ptrdiff_t, ptrdiff_t, const double *, ptrdiff_t, ptrdiff_t,
    const double *, ptrdiff_t, ptrdiff_t, double *, ptrdiff_t, ptrdiff_t, ptrdiff_t);
void cx_f32_dot_ukernel_4x6__avx512(ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t,
    const float *, ptrdiff_t, ptrdiff_t, float *, ptrdiff_t, ptrdiff_t, ptrdiff_t);
void cx_f64_dot_ukernel_4x6__avx512(ptrdiff_t, ptrdiff_t, const double *, ptrdiff_t, ptrdiff_t,
    const double *, ptrdiff_t, ptrdiff_t, double *, ptrdiff_t, ptrdiff_t, ptrdiff_t);
void cx_f32_gemm_ukernel_6x16__avx2(ptrdiff_t, const float *, const float *, ptrdiff_t, float *,
                                    ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f64_gemm_ukernel_6x8__avx2(ptrdiff_t, const double *, const double *, ptrdiff_t, double *,
                                   ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f32_gemm_ukernel_8x48__avx512(ptrdiff_t, const float *, const float *, ptrdiff_t, float *,
                                       ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f64_gemm_ukernel_8x24__avx512(ptrdiff_t, const double *, const double *, ptrdiff_t, double *,
                                       ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f32_gemm_ukernel_12x32__avx512(ptrdiff_t, const float *, const float *, ptrdiff_t, float *,
                                        ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f64_gemm_ukernel_12x16__avx512(ptrdiff_t, const double *, const double *, ptrdiff_t,
                                        double *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f32_agemm_ukernel_6x16__avx2(ptrdiff_t, const float *, ptrdiff_t, const float *,
                                     ptrdiff_t, float *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t,
                                     ptrdiff_t);
void cx_f64_agemm_ukernel_6x8__avx2(ptrdiff_t, const double *, ptrdiff_t, const double *,
                                    ptrdiff_t, double *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t,
                                    ptrdiff_t);
void cx_f32_agemm_ukernel_8x48__avx512(ptrdiff_t, const float *, ptrdiff_t, const float *,
                                       ptrdiff_t, float *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t,
                                       ptrdiff_t);
void cx_f64_agemm_ukernel_8x24__avx512(ptrdiff_t, const double *, ptrdiff_t, const double *,
                                       ptrdiff_t, double *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t,
                                       ptrdiff_t);
void cx_f32_agemm_ukernel_12x32__avx512(ptrdiff_t, const float *, ptrdiff_t, const float *,
                                        ptrdiff_t, float *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t,
                                        ptrdiff_t);
void cx_f64_agemm_ukernel_12x16__avx512(ptrdiff_t, const double *, ptrdiff_t, const double *,
                                        ptrdiff_t, double *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t,
                                        ptrdiff_t);
void cx_f32_gemm_ukernel_4x16_e6__avx2(ptrdiff_t, const float *, const float *, ptrdiff_t, float *,
                                       ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f32_igemm_ukernel_4x16_e6__avx2(ptrdiff_t, const float *, const float *, const ptrdiff_t *,
                                        float *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f32_gemm_ukernel_2x16_e6__avx2(ptrdiff_t, const float *, const float *, ptrdiff_t, float *,
                                       ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f32_igemm_ukernel_2x16_e6__avx2(ptrdiff_t, const float *, const float *, const ptrdiff_t *,
                                        float *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f64_gemm_ukernel_4x8_e6__avx2(ptrdiff_t, const double *, const double *, ptrdiff_t, double *,
                                       ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f64_igemm_ukernel_4x8_e6__avx2(ptrdiff_t, const double *, const double *, const ptrdiff_t *,
                                        double *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f64_gemm_ukernel_2x8_e6__avx2(ptrdiff_t, const double *, const double *, ptrdiff_t, double *,
                                       ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
void cx_f64_igemm_ukernel_2x8_e6__avx2(ptrdiff_t, const double *, const double *, const ptrdiff_t *,
                                        double *, ptrdiff_t, ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
#else
#define CX_HAVE_X86_KERNELS 0
#endif

/* Peak-FMA probe: n iterations of `chains` independent vector FMA chains on the
   given path; returns a value that depends on the work (so it is not optimised away). */
double cx_fma_probe(int isa, long n);
/* Floating-point operations one call of cx_fma_probe(isa, n) performs. */
double cx_fma_probe_flops(int isa, long n);

#endif /* CX_GEMM_H */
