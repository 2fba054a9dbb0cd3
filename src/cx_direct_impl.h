/*
 * Register-blocked direct convolution: the forward and the weight gradient of
 * the "direct" algorithm, for thin layers (few channels, depthwise and grouped,
 * single-channel filtering) where an im2col GEMM wastes its tiles.
 *
 * No column matrix: each work item copies the input rows it needs, zero-padded,
 * into a *band* in its workspace (one copy, no kernel-tap duplication), laid out
 * so that every kernel tap reads a contiguous run of it:
 *
 *   band[c][i][phase][t] = x[c, row0 + i - pad_top, t*sw + phase - pad_left]
 *                          (0 outside the image), phase < sw, t < L,
 *
 * i.e. each padded row is split into its sw stride phases. Output pixel (p, q)
 * reads tap (c, r, s) at band[c][p*sh + r*dh][(s*dw) % sw][q + (s*dw) / sw]: for
 * every stride and dilation, consecutive q are consecutive elements. The
 * borders are then the same code as the interior.
 *
 * Forward tile: MR output channels x NR output rows x NC vectors of pixels
 * along each row, accumulated in registers over all Cg*R*S taps (MR broadcast
 * weights and NR*NC vector loads per tap), stored once; for rows of at most 16
 * pixels with channels in blocks of 16 (float32 on AVX-512), channel-vector
 * tiles instead (16 channels per vector, pixels broadcast, 16 x 16 transposes
 * back to NCHW). Weight-gradient tile: MK output channels x MT taps, each
 * accumulator a vector of per-lane partial sums over output pixels (dY rows and
 * band rows are both contiguous along q; stride-1 bands as one flat run),
 * added lane-wise across rows, bands and images and reduced by a fixed tree at
 * the end of the item. Thin groups (depthwise) are taken several per item so
 * that reads run over adjacent planes. The stride-1 input gradient is the
 * forward of grad_output with the flipped weight (src/_conv.pyx).
 *
 * The vectors are GCC/clang generic vectors of CX_VBYTES bytes, so the one
 * source compiles to AVX-512, AVX2 or SSE2/NEON code under each path's target;
 * other compilers get one-lane "vectors" (plain scalar code, same results on
 * integer data). Summation orders depend only on the geometry and the plan,
 * never on the thread count.
 *
 * Included by cx_conv_impl.h (CX_T, CX_NAME, and per path CX_VBYTES, CX_VREGS,
 * CX_TSIZE defined).
 */

#ifndef CX_VBYTES
#define CX_VBYTES 16
#endif
#ifndef CX_VREGS
#define CX_VREGS 16
#endif

#ifndef CX_DK_COMMON_DEFINED
#define CX_DK_COMMON_DEFINED
#include <float.h>
/* Output pixels a forward item aims for (its band is reused that many times). */
#define CX_DK_PIXELS 4096
/* Per-thread bytes of band (and weight-gradient accumulators) at most; beyond
   that the direct algorithm uses its plain loops, which need no workspace. */
#define CX_DK_BAND_BYTES ((size_t)1 << 20)
#define CX_DK_ACC_BYTES ((size_t)1 << 20)
/* Multiply-adds (Kg*Cg*P*Q per group) a forward item gathers from thin groups. */
#define CX_DK_GROUP_WORK ((ptrdiff_t)1 << 15)
/* Where a depthwise forward's tiles read the input in place (dk_fwdx_tile,
   no band): the group's input plane x, and the end of the input the item's
   prefetches may reach (its last group's plane). */
typedef struct {
    const void *x, *pfend;
    const struct cx_dk_padx_s *padx;    /* a padding mode made in registers, or NULL */
} cx_dk_inplace;
/* A padding mode made in registers by the forward's in-place tiles
   (dk_fwdxf_tile with PADX, dk_padx_make): a row outside the image reads the
   row the mode copies there; the masked loads' lanes on padded columns (at
   most one a side: column -1 in lane 0 of vector 0 where ml, column W in the
   lanes mr[0] of vector NC - 1 and mr[1] of vector NC) take input columns sl
   and sr of the row. */
typedef struct cx_dk_padx_s {
    int mode;
    ptrdiff_t sl, sr;
    unsigned ml, mr[2];
} cx_dk_padx;

/* A padding mode in the weight gradient's in-place tiles (dk_wgradx_tile):
   vector v = 3c + s (dY's vector c, kernel column s) has at most one lane on
   a padded column of the row (mask m[v], 0 for none), which copies input
   column off[v] + that lane (off: its masked load's start, from the row's). */
typedef struct {
    int mode;
    unsigned m[24];
    ptrdiff_t off[24];
} cx_dk_xfix;
/* The next item's planes for the weight gradient's in-place tiles to ask for
   as they run (dk_wgradx_tile): input x and dY dy, nx and ndy bytes. */
typedef struct {
    const char *x, *dy;
    ptrdiff_t nx, ndy;
} cx_dk_next;
/* A reflect or replicate padding of a depthwise 3x3 layer's input gradient
   folded onto the taps of the in-place tiles that compute the zeros-padding
   gradient (its forward form over grad_output: conv2d_fwd_ring with
   plan->dk_tapfold, dk_fwdxf_tile). A padded input position e that copies
   input position i gets, from grad_output o = e + p - t, the products
   w[t] * dy[o] (t: the forward's tap, p: its padding); the forward form's
   output i reads dy[o] with its own tap r' = o - i + P' (P' = R - 1 - p, its
   padding), so where r' lies in [0, R) the product is that tap's with
   w[t] = wf[R - 1 - t] added to its weight: output row row[k] reads kernel
   row r' as sum_r A[k][r'][r] * (kernel row r), and columns col[k] likewise
   by B. The same count of products as the zeros-padding gradient (the
   padded buffer's fused fold made 58 x 58 outputs of a 56 x 56 input and
   copied them out; bench/README.md, session 31). */
typedef struct {
    ptrdiff_t row[2], col[2];       /* -1: none */
    float A[2][3][3], B[2][3][3];   /* (small counts, as the tables multiply them) */
    /* the tiles' form (dk_fwdxf_fns): 1 where the first vector's folded taps
       are in kernel column 0 and the last's in column 2 alone (a reflect
       padding of 1 each side), 2 for columns 1 and 1 (replicate), 0 else */
    int form;
    /* the thread's tables (dk_tapfold_tables): nslots channels' (channel g in
       slot g % nslots, whose tag is stamp * groups + g once built in this call) */
    void *tab;
    long long *tags, stamp;
    ptrdiff_t nslots;
    int *bad;                       /* set where an output the fold touched is not finite */
} cx_dk_tapfold;

/* One dimension of cx_dk_tapfold for R = 3: n input positions, no outputs of
   the problem, padding p before them, np padded positions in all, src[ip]:
   the input position padded position ip copies. Returns 0 where a padded
   position's product would read a tap the forward form's tile lacks, or more
   than two positions take folds. */
static inline int cx_dk_tapfold_dim(ptrdiff_t n, ptrdiff_t no, ptrdiff_t p, ptrdiff_t np,
                             const ptrdiff_t *src, ptrdiff_t *row, float A[2][3][3])
{
    const ptrdiff_t R = 3;
    row[0] = row[1] = -1;
    for (int k = 0; k < 2; ++k)
        for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b)
                A[k][a][b] = a == b;
    for (ptrdiff_t ip = 0; ip < np; ++ip) {
        if (ip >= p && ip < p + n)
            continue;
        const ptrdiff_t e = ip - p, i = src[ip];
        int k = -1;
        for (int q = 0; q < 2 && k < 0; ++q)
            if (row[q] == i || row[q] < 0)
                k = q;
        if (k < 0)
            return 0;
        for (ptrdiff_t t = 0; t < R; ++t) {
            const ptrdiff_t o = e + p - t, rr = (e - i) + (R - 1 - t);
            if (o < 0 || o >= no)
                continue;
            if (rr < 0 || rr >= R)
                return 0;
            row[k] = i;
            A[k][rr][R - 1 - t] += 1;
        }
    }
    return 1;
}

/* The input index a padded position i (any integer) copies under padding
   mode `mode` on an axis of n >= 1 pixels (reflect without repeating the edge,
   replicate the edge, wrap around), as numpy.pad's reflect/edge/wrap. */
static ptrdiff_t cx_pad_source(ptrdiff_t i, ptrdiff_t n, int mode)
{
    if (i >= 0 && i < n)
        return i;
    if (mode == CX_PAD_REPLICATE)
        return i < 0 ? 0 : n - 1;
    if (mode == CX_PAD_CIRCULAR)
        return ((i % n) + n) % n;
    const ptrdiff_t period = 2 * (n - 1);       /* reflect */
    if (period == 0)
        return 0;
    const ptrdiff_t j = (i < 0 ? -i : i) % period;
    return j < n ? j : period - j;
}

/* *px for d's padding mode on the forward's in-place tiles over rows of nv
   vectors (3 x 3, unit steps): 0 where the mode is zero padding or a side
   pads more than one column, or column W falls outside vectors nv - 1 and
   nv. */
static inline int cx_dk_padx_make(const cx_conv2d_desc *d, ptrdiff_t nv, ptrdiff_t VL,
                                  cx_dk_padx *px)
{
    const ptrdiff_t pl = d->pad_left, pr = d->Q + 2 - pl - d->W;
    if (d->pad_mode == CX_PAD_ZEROS || d->R != 3 || d->S != 3 || d->stride_h != 1 ||
        d->stride_w != 1 || d->dil_h != 1 || d->dil_w != 1 || pl < 0 || pl > 1 || pr < 0 ||
        pr > 1 || d->pad_top < 0 || d->pad_top > 2)
        return 0;
    px->mode = d->pad_mode;
    px->sl = cx_pad_source(-1, d->W, d->pad_mode);
    px->sr = cx_pad_source(d->W, d->W, d->pad_mode);
    px->ml = pl == 1;
    px->mr[0] = px->mr[1] = 0;
    if (pr == 1) {
        const ptrdiff_t v = (d->W + pl) / VL - (nv - 1);
        if (v < 0 || v > 1)
            return 0;
        px->mr[v] = 1u << ((d->W + pl) % VL);
    }
    return 1;
}

/* cx_dk_tapfold of problem d (stride 1, 3 x 3, the padded input Hp x Wp with
   the input at (pad_top, pad_left); src_h / src_w as conv2d_fwd_ring's). */
static inline int cx_dk_tapfold_make(const cx_conv2d_desc *d, ptrdiff_t Hp, ptrdiff_t Wp,
                              const ptrdiff_t *src_h, const ptrdiff_t *src_w,
                              cx_dk_tapfold *tf)
{
    if (d->R != 3 || d->S != 3 || d->stride_h != 1 || d->stride_w != 1 || d->dil_h != 1 ||
        d->dil_w != 1 || d->pad_top > 2 || d->pad_left > 2)
        return 0;
    tf->tab = NULL;
    tf->bad = NULL;
    if (!cx_dk_tapfold_dim(d->H, d->P, d->pad_top, Hp, src_h, tf->row, tf->A) ||
        !cx_dk_tapfold_dim(d->W, d->Q, d->pad_left, Wp, src_w, tf->col, tf->B))
        return 0;
    /* the kernel columns each folded column's taps differ in (-1: none, -2:
       more than one) */
    int sc[2] = {-1, -1};
    for (int k = 0; k < 2; ++k)
        for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b)
                if (tf->B[k][a][b] != (a == b))
                    sc[k] = sc[k] == -1 || sc[k] == a ? a : -2;
    /* (col[0] the left edge's, col[1] the right's: both edges fold) */
    const int two = tf->col[0] >= 0 && tf->col[1] >= 0 && tf->col[0] < tf->col[1];
    tf->form = two && sc[0] == 0 && sc[1] == 2 ? 1 : two && sc[0] == 1 && sc[1] == 1 ? 2 : 0;
    return 1;
}
/* How far ahead of those tiles' reads the input is prefetched (bytes): about
   the bytes in flight one core's memory stream needs (2, 4, 8 and 16 KB ran
   within 5% of each other; none at all 10% slower). */
#define CX_DK_PF_AHEAD 4096
#if defined(__GNUC__) || defined(__clang__)
#define CX_DK_INLINE inline __attribute__((always_inline))
#define CX_DK_VECTORS 1
#else
#define CX_DK_INLINE inline
#define CX_DK_VECTORS 0
#endif
/* Loops over compile-time tile sizes that must become straight-line code (the
   accumulators stay in registers only when every index is a constant). */
#if defined(__clang__)
#define CX_DK_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define CX_DK_UNROLL _Pragma("GCC unroll 32")
#else
#define CX_DK_UNROLL
#endif
#endif

#if CX_DK_VECTORS
typedef CX_T CX_NAME(dv) __attribute__((vector_size(CX_VBYTES)));
#define CX_DVL ((ptrdiff_t)(CX_VBYTES / sizeof(CX_T)))
#else
typedef CX_T CX_NAME(dv);
#define CX_DVL ((ptrdiff_t)1)
#endif
#define CX_DV CX_NAME(dv)
/* most lanes of any path (64-byte vectors of float) */
#define CX_DVL_MAX 16
/* Keep a loaded vector in a register: GCC otherwise folds the load into every
   FMA that uses it (one load per use), which bound the tiles below by loads. */
#if CX_DK_VECTORS && (defined(__x86_64__) || defined(__i386__))
#define CX_DK_PIN(v) __asm__("" : "+v"(v))
/* A pointer's value hidden from the compiler (no offsets precomputed from it). */
#define CX_DK_OPAQUE(p) __asm__("" : "+r"(p))
#else
#define CX_DK_PIN(v) ((void)0)
#define CX_DK_OPAQUE(p) ((void)0)
#endif
/* elements of a forward workspace slot's first 64 bytes: the band's stamp */
#define CX_DK_STAMP ((ptrdiff_t)(64 / sizeof(CX_T)))

static CX_DK_INLINE CX_DV CX_NAME(dv_load)(const CX_T *p)
{
    CX_DV v;
    memcpy(&v, p, sizeof v);
    return v;
}

static CX_DK_INLINE void CX_NAME(dv_store)(CX_T *p, CX_DV v)
{
    memcpy(p, &v, sizeof v);
}

static CX_DK_INLINE CX_DV CX_NAME(dv_splat)(CX_T s)
{
#if CX_DK_VECTORS
    /* s - (+0) is s exactly (also for -0), so the compiler emits a plain broadcast */
    const CX_DV zero = {0};
    return s - zero;
#else
    return s;
#endif
}

/* dst[0, n) = src[0, n) where dst's 64-byte lines are written whole with
   non-temporal stores (no read of the line first), the unaligned head and
   tail with ordinary ones; the caller ends its item with cx_dk_sfence().
   (CX_DK_STREAM also tells the other AVX-512 intrinsics below -- masked
   loads, half-vector stores -- that <immintrin.h> and 64-byte vectors are there.) */
#if CX_DK_VECTORS && CX_VBYTES == 64 && (defined(__x86_64__) || defined(__i386__))
#define CX_DK_STREAM 1
#include <immintrin.h>
#else
#define CX_DK_STREAM 0
#endif
#if CX_DK_VECTORS && CX_VBYTES == 32 && (defined(__x86_64__) || defined(__i386__))
#define CX_DK_AVX2 1
#include <immintrin.h>
#else
#define CX_DK_AVX2 0
#endif
/* dv_maskz_load below: AVX-512's mask registers, or AVX2's masked loads
   (masked stores are not used on AVX2: slow on AMD's cores) */
#define CX_DK_MASKZ (CX_DK_STREAM || CX_DK_AVX2)
static void CX_NAME(dk_stream_copy)(CX_T *restrict dst, const CX_T *restrict src, ptrdiff_t n)
{
#if CX_DK_STREAM
    ptrdiff_t i = 0;
    const size_t mis = (size_t)dst % 64;
    if (mis % sizeof(CX_T) == 0) {
        const ptrdiff_t head = mis ? (ptrdiff_t)((64 - mis) / sizeof(CX_T)) : 0;
        for (; i < head && i < n; ++i)
            dst[i] = src[i];
        for (; i + CX_DVL <= n; i += CX_DVL)
            _mm512_stream_si512((void *)(dst + i), (__m512i)CX_NAME(dv_load)(src + i));
    }
    for (; i < n; ++i)
        dst[i] = src[i];
#else
    memcpy(dst, src, (size_t)n * sizeof(CX_T));
#endif
}

/* src[from, e) copied to dst by dk_stream_copy, e the last element at or
   before `to` where dst's 64-byte lines start (whole lines stream out; the
   rest waits for the next call), or `to` where dst's elements are not whole
   lines' parts; returns e (>= from). */
static ptrdiff_t CX_NAME(dk_stream_upto)(CX_T *dst, const CX_T *src, ptrdiff_t from,
                                         ptrdiff_t to)
{
    const size_t mis = (size_t)(dst + to) % 64;
    const ptrdiff_t e = mis % sizeof(CX_T) ? to : to - (ptrdiff_t)(mis / sizeof(CX_T));
    if (e <= from)
        return from;
    CX_NAME(dk_stream_copy)(dst + from, src + from, e - from);
    return e;
}

/* Masked loads are invisible to AddressSanitizer (it instruments plain memory
   accesses, not the intrinsics): in a sanitizer build the first and last
   elements of each run a masked copy reads are also read plainly, so that a
   run leaving its array is still reported (tools/sanitize.sh's canary). */
#if defined(__SANITIZE_ADDRESS__)
#define CX_ASAN_RUN(p, n)                                                                  \
    do {                                                                                   \
        if ((n) > 0) {                                                                     \
            (void)*(const volatile CX_T *)(p);                                             \
            (void)*(const volatile CX_T *)((p) + (n) - 1);                                 \
        }                                                                                  \
    } while (0)
#else
#define CX_ASAN_RUN(p, n) ((void)0)
#endif

#if CX_DK_STREAM
/* The lanes of p set in mask m, zeros elsewhere; lanes not set read nothing
   (no fault, whatever their address). */
static CX_DK_INLINE CX_DV CX_NAME(dv_maskz_load)(unsigned m, const CX_T *p)
{
#if CX_TSIZE == 4
    return (CX_DV)_mm512_maskz_loadu_ps((__mmask16)m, p);
#else
    return (CX_DV)_mm512_maskz_loadu_pd((__mmask8)m, p);
#endif
}

#elif CX_DK_AVX2
/* The lanes of p set in mask m (bit l: lane l), zeros elsewhere; lanes not
   set read nothing (no fault, whatever their address). */
static CX_DK_INLINE CX_DV CX_NAME(dv_maskz_load)(unsigned m, const CX_T *p)
{
#if CX_TSIZE == 4
    const __m256i bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i k = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)m), bits),
                                         bits);
    return (CX_DV)_mm256_maskload_ps((const float *)p, k);
#else
    const __m256i bits = _mm256_setr_epi64x(1, 2, 4, 8);
    const __m256i k = _mm256_cmpeq_epi64(
        _mm256_and_si256(_mm256_set1_epi64x((long long)m), bits), bits);
    return (CX_DV)_mm256_maskload_pd((const double *)p, k);
#endif
}
#endif

#if CX_DK_STREAM
/* p's lanes set in mask m = v's (the others are not written). */
static CX_DK_INLINE void CX_NAME(dv_mask_store)(CX_T *p, unsigned m, CX_DV v)
{
#if CX_TSIZE == 4
    _mm512_mask_storeu_ps(p, (__mmask16)m, (__m512)v);
#else
    _mm512_mask_storeu_pd(p, (__mmask8)m, (__m512d)v);
#endif
}

/* v with the lanes set in mask m = s. */
static CX_DK_INLINE CX_DV CX_NAME(dv_mask_splat)(CX_DV v, unsigned m, CX_T s)
{
#if CX_TSIZE == 4
    return (CX_DV)_mm512_mask_mov_ps((__m512)v, (__mmask16)m, _mm512_set1_ps(s));
#else
    return (CX_DV)_mm512_mask_mov_pd((__m512d)v, (__mmask8)m, _mm512_set1_pd(s));
#endif
}

/* v with the lanes of p set in mask m loaded over it. */
static CX_DK_INLINE CX_DV CX_NAME(dv_mask_load)(CX_DV v, unsigned m, const CX_T *p)
{
#if CX_TSIZE == 4
    return (CX_DV)_mm512_mask_loadu_ps((__m512)v, (__mmask16)m, p);
#else
    return (CX_DV)_mm512_mask_loadu_pd((__m512d)v, (__mmask8)m, p);
#endif
}
#endif

/* dst[0, H * W) = the H rows of W elements of src (row pitch ld), packed
   together: whole 64-byte lines of dst with non-temporal stores (a vector
   that runs over a row's end takes the rest from the next row's start by a
   masked load), the unaligned head and tail with ordinary ones (without
   64-byte vectors: all of it, by row copies); as
   dk_stream_copy, the caller ends its item with cx_dk_sfence(). */
static void CX_NAME(dk_stream_rows)(CX_T *restrict dst, const CX_T *restrict src, ptrdiff_t H,
                                    ptrdiff_t W, ptrdiff_t ld)
{
    const ptrdiff_t n = H * W;
    ptrdiff_t e = 0;
#if CX_DK_STREAM
    const size_t mis = (size_t)dst % 64;
    if (mis % sizeof(CX_T) == 0 && W >= CX_DVL) {
        const ptrdiff_t head = cx_min(mis ? (ptrdiff_t)((64 - mis) / sizeof(CX_T)) : 0, n);
        for (; e < head; ++e)
            dst[e] = src[(e / W) * ld + e % W];
        ptrdiff_t i = e / W, j = e % W;
        for (; e + CX_DVL <= n; e += CX_DVL) {
            const CX_T *sp = src + i * ld + j;
            CX_ASAN_RUN(sp, cx_min(CX_DVL, W - j));
            CX_DV v;
            if (j + CX_DVL <= W) {
                v = CX_NAME(dv_load)(sp);
            } else {
                /* lanes [0, W - j) from row i, the rest from row i + 1 */
                const unsigned lo = (1u << (W - j)) - 1u;
                v = CX_NAME(dv_mask_load)(CX_NAME(dv_maskz_load)(lo, sp),
                                          ~lo & ((1u << CX_DVL) - 1u), sp + ld - W);
            }
            _mm512_stream_si512((void *)(dst + e), (__m512i)v);
            j += CX_DVL;
            if (j >= W) {
                j -= W;
                ++i;
            }
        }
    }
#endif
    /* the rest (all of it without streaming stores) by row pieces: an
       element-wise loop with a division each was 53% of a depthwise input
       gradient under a padding mode on AVX2 */
    if (e < n && W > 0) {
        ptrdiff_t i = e / W, j = e % W;
        for (; e < n; e += W - j, ++i, j = 0)
            memcpy(dst + e, src + i * ld + j, (size_t)(W - j) * sizeof(CX_T));
    }
}

/* rows rows of o (pitch op) = the first Q elements of the rows of src (pitch
   ls), then zeros up to op: short rows by masked vector loads and stores
   (a memcpy and a memset per row were 22% of a depthwise weight gradient). */
static void CX_NAME(dk_copy_rows)(CX_T *restrict o, ptrdiff_t op, const CX_T *restrict src,
                                  ptrdiff_t ls, ptrdiff_t rows, ptrdiff_t Q)
{
#if CX_DK_MASKZ
    /* (AVX2, without masked stores: pitches of whole vectors only; the weight
       gradient's dY rows were two libc calls a row: lenet1's B/A 0.91, lenet2's
       16-column rows 1.015, no gain resolved) */
    if (op <= 8 * CX_DVL && (CX_DK_STREAM || op % CX_DVL == 0)) {
        unsigned lm[8], sm[8];
        const unsigned all = (1u << CX_DVL) - 1u;
        ptrdiff_t nc = 0;
        for (ptrdiff_t t = 0; t < op; t += CX_DVL, ++nc) {
            const ptrdiff_t nl = cx_max(cx_min(Q - t, CX_DVL), 0);
            const ptrdiff_t ns = cx_min(op - t, CX_DVL);
            lm[nc] = nl == CX_DVL ? all : (1u << nl) - 1u;
            sm[nc] = ns == CX_DVL ? all : (1u << ns) - 1u;
        }
        (void)sm;   /* (AVX2: every store whole) */
        for (ptrdiff_t p = 0; p < rows; ++p) {
            CX_ASAN_RUN(src + p * ls, Q);
            for (ptrdiff_t c = 0; c < nc; ++c) {
                const CX_DV v = CX_NAME(dv_maskz_load)(lm[c], src + p * ls + c * CX_DVL);
#if CX_DK_STREAM
                if (sm[c] != all) {
                    CX_NAME(dv_mask_store)(o + p * op + c * CX_DVL, sm[c], v);
                    continue;
                }
#endif
                CX_NAME(dv_store)(o + p * op + c * CX_DVL, v);
            }
        }
        return;
    }
#endif
    for (ptrdiff_t p = 0; p < rows; ++p) {
        memcpy(o + p * op, src + p * ls, (size_t)Q * sizeof(CX_T));
        memset(o + p * op + Q, 0, (size_t)(op - Q) * sizeof(CX_T));
    }
}

/* One vector to a 64-byte-aligned whole line with a non-temporal store
   (AVX-512 builds only: callers test CX_DK_STREAM). */
#if CX_DK_STREAM
static CX_DK_INLINE void CX_NAME(dv_stream)(CX_T *p, CX_DV v)
{
    _mm512_stream_si512((void *)p, (__m512i)v);
}
#endif

/* a * b + c rounded once on the AVX2 and AVX-512 paths whatever the
   surrounding control flow: GCC contracts `acc += w * x` into one only where
   the multiply and the add end up in one basic block, so two loops written
   alike could round a sum differently. Elsewhere the compiler's contraction,
   as for `+=` (none on x86-64's baseline, which has no FMA). */
static CX_DK_INLINE CX_DV CX_NAME(dv_fma)(CX_DV a, CX_DV b, CX_DV c)
{
#if CX_DK_STREAM && CX_TSIZE == 4
    return (CX_DV)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif CX_DK_STREAM
    return (CX_DV)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
#elif CX_DK_AVX2 && CX_TSIZE == 4
    return (CX_DV)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#elif CX_DK_AVX2
    return (CX_DV)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
#else
    return a * b + c;
#endif
}

/* Orders an item's non-temporal stores before whatever follows it. */
static void CX_NAME(dk_sfence)(void)
{
#if CX_DK_STREAM
    _mm_sfence();
#endif
}

/* Sum of the lanes by a fixed pairwise tree: lane t += lane t + w for
   w = lanes/2, ..., 1 (levels spelled out, so that each is one vector add). */
static CX_DK_INLINE CX_T CX_NAME(dv_hsum)(CX_DV v)
{
    CX_T l[CX_DVL_MAX];
    CX_NAME(dv_store)(l, v);
#define CX_HSUM_LEVEL(W)                                                                   \
    if (CX_DVL > W)                                                                        \
        for (int t = 0; t < W; ++t)                                                        \
            l[t] = l[t] + l[t + W];
    CX_HSUM_LEVEL(8)
    CX_HSUM_LEVEL(4)
    CX_HSUM_LEVEL(2)
    CX_HSUM_LEVEL(1)
#undef CX_HSUM_LEVEL
    return l[0];
}

/* out[l] = dv_hsum(v[l]) for l < CX_DVL, by the same tree in shuffles (so the
   sums are the scalar tree's, bit for bit): 32-byte vectors only, the AVX2
   path's (CX_DK_HSUM_BLOCK 1); the weight gradient's lane sums, one scalar
   tree each, were ~5% of lenet2's call there (16 items x 3264 sums). */
#if CX_DK_AVX2
#define CX_DK_HSUM_BLOCK 1
static CX_DK_INLINE void CX_NAME(dv_hsum_block)(const CX_DV *v, CX_T *out)
{
#if CX_TSIZE == 4
    /* level 4: [lo + hi of v(2i), lo + hi of v(2i+1)] */
    __m256 s[4];
    for (int i = 0; i < 4; ++i) {
        const __m256 a = (__m256)v[2 * i], b = (__m256)v[2 * i + 1];
        s[i] = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20),
                             _mm256_permute2f128_ps(a, b, 0x31));
    }
    /* level 2: lanes t + t+2 of each half; level 1: hadd's neighbours */
    const __m256 u0 = _mm256_add_ps(_mm256_shuffle_ps(s[0], s[1], 0x44),
                                    _mm256_shuffle_ps(s[0], s[1], 0xEE));
    const __m256 u1 = _mm256_add_ps(_mm256_shuffle_ps(s[2], s[3], 0x44),
                                    _mm256_shuffle_ps(s[2], s[3], 0xEE));
    /* [h0 h2 h4 h6 | h1 h3 h5 h7] */
    const __m256 h = _mm256_hadd_ps(u0, u1);
    _mm256_storeu_ps((float *)out,
                     _mm256_permutevar8x32_ps(h, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
#else
    const __m256d a = (__m256d)v[0], b = (__m256d)v[1], c = (__m256d)v[2], e = (__m256d)v[3];
    const __m256d s01 = _mm256_add_pd(_mm256_permute2f128_pd(a, b, 0x20),
                                      _mm256_permute2f128_pd(a, b, 0x31));
    const __m256d s23 = _mm256_add_pd(_mm256_permute2f128_pd(c, e, 0x20),
                                      _mm256_permute2f128_pd(c, e, 0x31));
    /* [h0 h2 h1 h3] */
    const __m256d h = _mm256_hadd_pd(s01, s23);
    _mm256_storeu_pd((double *)out, _mm256_permute4x64_pd(h, 0xD8));
#endif
}
#else
#define CX_DK_HSUM_BLOCK 0
#endif

/* the first `count` lanes of v, the others +0 (count < lanes) */
static CX_DK_INLINE CX_DV CX_NAME(dv_head)(CX_DV v, ptrdiff_t count)
{
#if CX_DK_VECTORS
    CX_T lanes[CX_DVL_MAX];
    CX_NAME(dv_store)(lanes, v);
    for (ptrdiff_t t = count; t < CX_DVL; ++t)
        lanes[t] = 0;
    return CX_NAME(dv_load)(lanes);
#else
    (void)count;
    return v;
#endif
}

/* Ask for p's cache line into L2 only (no fault whatever p is). */
static CX_DK_INLINE void CX_NAME(dk_prefetch_l2)(const CX_T *p)
{
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch((const void *)p, 0, 1);
#else
    (void)p;
#endif
}

/* Ask for p's cache line (no fault whatever p is). */
static CX_DK_INLINE void CX_NAME(dk_prefetch_line)(const CX_T *p)
{
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch((const void *)p, 0, 3);
#else
    (void)p;
#endif
}

/* Part [a, b) of `rows` equal parts of [p, p + n) asked to be brought into
   cache; nothing for spans over 64 KB or a null p. Thin groups: the next
   group's plane is fetched a row of tiles at a time while this group's tiles
   run, rather than all at once before them (a burst of a plane's prefetches
   waits for miss buffers as long as the loads would). */
static CX_DK_INLINE void CX_NAME(dk_prefetch_part)(const CX_T *p, ptrdiff_t n, ptrdiff_t a,
                                                   ptrdiff_t b, ptrdiff_t rows)
{
#if defined(__GNUC__) || defined(__clang__)
    const ptrdiff_t bytes = n * (ptrdiff_t)sizeof(CX_T);
    if (!p || rows <= 0 || bytes > (64 << 10))
        return;
    const ptrdiff_t lo = bytes * a / rows / 64 * 64, hi = bytes * cx_min(b, rows) / rows;
    for (ptrdiff_t o = lo; o < hi; o += 64)
        __builtin_prefetch((const char *)p + o, 0, 3);
    /* (the last part: the span's last line too, where p is not line-aligned) */
    if (b >= rows && bytes > 0)
        __builtin_prefetch((const char *)p + bytes - 1, 0, 3);
#else
    (void)p;
    (void)n;
    (void)a;
    (void)b;
    (void)rows;
#endif
}

/* [p, p + n) at once (dk_prefetch_part's whole span). */
static void CX_NAME(dk_prefetch)(const CX_T *p, ptrdiff_t n)
{
    CX_NAME(dk_prefetch_part)(p, n, 0, 1, 1);
}

/* Regions base + i*stride, i < count, of len elements each (a 3-D forward's
   next input depth: one run of band rows per channel), fetched a part at a
   time while a band's tiles run (dk_fwd_band). */
typedef struct {
    const CX_T *base;
    ptrdiff_t count, stride, len;
} CX_NAME(dk_pfset);

/* The regions of s in [count*a/rows, count*b/rows): part a..b of rows. */
static CX_DK_INLINE void CX_NAME(dk_prefetch_set)(const CX_NAME(dk_pfset) *s, ptrdiff_t a,
                                                  ptrdiff_t b, ptrdiff_t rows)
{
    if (!s || rows <= 0)
        return;
    const ptrdiff_t i1 = s->count * cx_min(b, rows) / rows;
    for (ptrdiff_t i = s->count * a / rows; i < i1; ++i)
        CX_NAME(dk_prefetch)(s->base + i * s->stride, s->len);
}

/* ------------------------------------------------------------------ the band */

/* Phase-row length: every output block of vb pixels and every tap stay inside. */
static ptrdiff_t CX_NAME(dk_row_len)(const cx_conv2d_desc *d, ptrdiff_t vb)
{
    return cx_ceil_div(d->Q, vb) * vb + ((d->S - 1) * d->dil_w) / d->stride_w;
}

/* Input rows a band of `rows` output rows reads. */
static ptrdiff_t CX_NAME(dk_rows_in)(const cx_conv2d_desc *d, ptrdiff_t rows)
{
    return (rows - 1) * d->stride_h + (d->R - 1) * d->dil_h + 1;
}

/* band[c][i][phase][t] for channels [0, nc) of xg and input rows starting at
   padded row prow0 (input row prow0 - pad_top). */

/* Positions [t0, t1) of phase row o (input column t*sw + ph - pl) outside the
   input, filled from the row src as padding mode d->pad_mode says; only those
   some output reads (up to input column (Q-1)*sw + (S-1)*dw - pl): the band's
   columns past them feed only lanes no output keeps, and keep their zeros.
   The columns read are within one padding of the row (reflect pads < W,
   circular <= W: checked by the API), so one fold finds them. */
static void CX_NAME(dk_fill_pad)(const cx_conv2d_desc *d, CX_T *o, const CX_T *src,
                                 ptrdiff_t ph, ptrdiff_t t0, ptrdiff_t t1)
{
    const ptrdiff_t sw = d->stride_w, W = d->W, pl = d->pad_left;
    const ptrdiff_t last = (d->Q - 1) * sw + (d->S - 1) * d->dil_w - ph;  /* t*sw <= last */
    if (last < 0)
        return;
    t1 = cx_min(t1, last / sw + 1);
    const int mode = d->pad_mode;
    for (ptrdiff_t t = t0; t < t1; ++t) {
        const ptrdiff_t i = t * sw + ph - pl;
        ptrdiff_t j;
        if (mode == CX_PAD_REPLICATE)
            j = i < 0 ? 0 : W - 1;
        else if (mode == CX_PAD_CIRCULAR)
            j = i < 0 ? i + W : i - W;
        else
            j = i < 0 ? -i : 2 * (W - 1) - i;
        if (j < 0 || j >= W)            /* (further than one padding: general rule) */
            j = cx_pad_source(i, W, mode);
        o[t] = src[j];
    }
}

/* Phase row o's padded columns (outside [lo, hi)) from its input row src, as
   the padding mode says: from the band's source lists when it has them (no
   stride: nl >= 0, jl / jr the columns of the left / right padding), else by
   dk_fill_pad. Nothing for zero padding (the zeros are written already). */
static CX_DK_INLINE void CX_NAME(dk_patch_pad)(const cx_conv2d_desc *d, CX_T *o,
                                              const CX_T *src, ptrdiff_t ph, ptrdiff_t lo,
                                              ptrdiff_t hi, ptrdiff_t L, const ptrdiff_t *jl,
                                              ptrdiff_t nl, const ptrdiff_t *jr, ptrdiff_t nr)
{
    if (d->pad_mode == CX_PAD_ZEROS)
        return;
    if (nl >= 0) {
        for (ptrdiff_t t = 0; t < nl; ++t)
            o[t] = src[jl[t]];
        for (ptrdiff_t t = 0; t < nr; ++t)
            o[hi + t] = src[jr[t]];
    } else {
        CX_NAME(dk_fill_pad)(d, o, src, ph, 0, lo);
        CX_NAME(dk_fill_pad)(d, o, src, ph, hi, L);
    }
}

#if CX_DK_MASKZ
/* The mask of lanes l < vl with lo <= l < hi (bit l: lane l; masked loads). */
static unsigned cx_dk_lanes(ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t vl)
{
    const ptrdiff_t a = cx_max(lo, 0), b = cx_min(hi, vl);
    return b > a ? ((1u << b) - 1u) & ~((1u << a) - 1u) : 0u;
}
#endif

/* keep: the band already holds this layout's zeros (the same call's earlier
   fill, zero padding, the masked-rows layout below): only the vectors that
   hold input pixels are rewritten. */
static void CX_NAME(dk_fill_band)(const cx_conv2d_desc *d, const CX_T *xg, ptrdiff_t nc,
                                  ptrdiff_t prow0, ptrdiff_t rows_in, ptrdiff_t L,
                                  CX_T *band, const CX_T *xend, int keep)
{
    const ptrdiff_t H = d->H, W = d->W, sw = d->stride_w, pl = d->pad_left;
    const int mode = d->pad_mode;
    /* the valid columns of a phase are the same for every row: without stride
       (one phase) found once, not per row (they cost two divisions) */
    ptrdiff_t lo1, hi1;
    cx_valid_range(L, sw, -pl, W, &lo1, &hi1);
    /* a padding mode without stride: the source column of every padded
       column, found once per band, not per row (dk_fill_pad's per-row calls
       were 20% of a reflect depthwise forward) */
    enum { CX_PAD_LIST = 64 };
    ptrdiff_t jl[CX_PAD_LIST], jr[CX_PAD_LIST], nl = -1, nr = 0;
    if (mode != CX_PAD_ZEROS && sw == 1) {
        const ptrdiff_t t1 = cx_min(L, (d->Q - 1) + (d->S - 1) * d->dil_w + 1);
        nr = cx_max(t1 - hi1, 0);
        if (lo1 <= CX_PAD_LIST && nr <= CX_PAD_LIST) {
            nl = lo1;
            for (ptrdiff_t t = 0; t < nl; ++t)
                jl[t] = cx_pad_source(t - pl, W, mode);
            for (ptrdiff_t t = 0; t < nr; ++t)
                jr[t] = cx_pad_source(hi1 + t - pl, W, mode);
        }
    }
#if CX_DK_MASKZ
    /* Rows of at most 4 vectors (AVX2: 5) without stride (small images:
       lenet's, and their input gradients' forwards): each vector of a band
       row is one masked load of the input row (lanes outside [lo1, hi1) read
       nothing and come out zero) and one store. The loops below cost ~14
       cycles a row, 12% of lenet2's input gradient (AVX2: ~30 cycles, 8% of
       its samples; this path: lenet2's input gradient B/A 0.91, lenet1's 0.83;
       the depthwise layer's 58-column rows read 1.03-1.05, no gain within
       this host's +-3% A/A spread, so not there). Stores run up to a vector
       past the row, into the next row (written after it) or the band's
       slack. */
    enum { CX_DK_MROWS = CX_DK_STREAM ? 4 : 5 };
    unsigned fm[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const int masked_rows = sw == 1 && L <= CX_DK_MROWS * CX_DVL;
    if (masked_rows)
        for (ptrdiff_t j = 0; j * CX_DVL < L; ++j)
            fm[j] = cx_dk_lanes(lo1 - j * CX_DVL, hi1 - j * CX_DVL, CX_DVL);
#if CX_DK_STREAM
    /* A padding mode's rows of at most two vectors of input (lenet's): each
       band vector is one permute of the row's one or two masked loads, its
       padded columns' lanes picking the columns they copy (the loads and
       stores, then dk_patch_pad's scalar copies, took ~28 cycles a row:
       lenet2's reflect forward 9.7% of its time in this function). The
       same values. */
    const int perm = masked_rows && mode != CX_PAD_ZEROS && nl >= 0 && W <= 2 * CX_DVL &&
                     !(cx_dev_flags & CX_DEV_NO_PADPERM);
#if CX_TSIZE == 4
    int32_t pidx[CX_DK_MROWS][16];
#else
    int64_t pidx[CX_DK_MROWS][8];
#endif
    unsigned pm[CX_DK_MROWS] = {0};
    if (perm)
        for (ptrdiff_t j = 0; j * CX_DVL < L; ++j)
            for (ptrdiff_t l = 0; l < CX_DVL; ++l) {
                const ptrdiff_t t = j * CX_DVL + l;
                const ptrdiff_t sc = t >= lo1 && t < hi1 ? t - pl
                                     : t < nl             ? jl[t]
                                     : t >= hi1 && t < hi1 + nr ? jr[t - hi1] : -1;
                pidx[j][l] = sc >= 0 ? sc : 0;
                if (sc >= 0)
                    pm[j] |= 1u << l;
            }
    const unsigned pa = (unsigned)cx_dk_lanes(0, W, CX_DVL);
    const unsigned pb = (unsigned)cx_dk_lanes(0, W - CX_DVL, CX_DVL);
#endif
    if (masked_rows && keep && mode == CX_PAD_ZEROS) {
        /* a kept band (its zero rows and columns still in place): only the
           input rows' vectors that hold input pixels, in one tight loop (the
           per-row branches below cost more than the copy on lenet2's rows) */
        const ptrdiff_t i0 = cx_max(d->pad_top - prow0, 0);
        const ptrdiff_t i1 = cx_min(rows_in, H + d->pad_top - prow0);
        const ptrdiff_t nv = cx_ceil_div(L, CX_DVL);
        for (ptrdiff_t c = 0; c < nc && i1 > i0; ++c) {
            const CX_T *src = xg + (c * H + prow0 + i0 - d->pad_top) * W - pl;
            CX_T *dst = band + (c * rows_in + i0) * L;
            CX_ASAN_RUN(src + pl, (i1 - i0) * W);
            for (ptrdiff_t i = i0; i < i1; ++i, src += W, dst += L)
                for (ptrdiff_t j = 0; j < nv; ++j)
                    if (fm[j])
                        CX_NAME(dv_store)(dst + j * CX_DVL,
                                          CX_NAME(dv_maskz_load)(fm[j], src + j * CX_DVL));
        }
        return;
    }
#endif
    for (ptrdiff_t c = 0; c < nc; ++c)
        for (ptrdiff_t i = 0; i < rows_in; ++i) {
            CX_T *dst = band + (c * rows_in + i) * sw * L;
            ptrdiff_t h = prow0 + i - d->pad_top;
#if CX_DK_MASKZ
            if (masked_rows) {
                if ((h < 0 || h >= H) && mode == CX_PAD_ZEROS) {
                    if (!keep)
                        for (ptrdiff_t t = 0; t < L; t += CX_DVL)
                            CX_NAME(dv_store)(dst + t, CX_NAME(dv_splat)(0));
                    continue;
                }
                const CX_T *src = xg + (c * H + cx_pad_source(h, H, mode)) * W;
#if CX_DK_STREAM
                if (perm) {
                    CX_ASAN_RUN(src, W);
                    const CX_DV a = CX_NAME(dv_maskz_load)(pa, src);
                    const CX_DV b = pb ? CX_NAME(dv_maskz_load)(pb, src + CX_DVL)
                                       : CX_NAME(dv_splat)(0);
                    for (ptrdiff_t j = 0; j * CX_DVL < L; ++j) {
                        const __m512i ix = _mm512_loadu_si512((const void *)pidx[j]);
#if CX_TSIZE == 4
                        const CX_DV v = (CX_DV)_mm512_maskz_permutex2var_ps(
                            (__mmask16)pm[j], (__m512)a, ix, (__m512)b);
#else
                        const CX_DV v = (CX_DV)_mm512_maskz_permutex2var_pd(
                            (__mmask8)pm[j], (__m512d)a, ix, (__m512d)b);
#endif
                        CX_NAME(dv_store)(dst + j * CX_DVL, v);
                    }
                    continue;
                }
#endif
                CX_ASAN_RUN(src + lo1 - pl, hi1 - lo1);
                /* (kept: a vector without input pixels holds zeros already; one
                   with some spills only zeros past the row, into the next row's
                   start, which that row's first vector rewrites, or the slack) */
                for (ptrdiff_t j = 0; j * CX_DVL < L; ++j)
                    if (!keep || fm[j])
                        CX_NAME(dv_store)(dst + j * CX_DVL,
                                          CX_NAME(dv_maskz_load)(fm[j], src - pl + j * CX_DVL));
                CX_NAME(dk_patch_pad)(d, dst, src, 0, lo1, hi1, L, jl, nl, jr, nr);
                continue;
            }
#endif
            if ((h < 0 || h >= H) && mode == CX_PAD_ZEROS) {
                memset(dst, 0, (size_t)(sw * L) * sizeof(CX_T));
                continue;
            }
            h = cx_pad_source(h, H, mode);
            const CX_T *src = xg + (c * H + h) * W;
            for (ptrdiff_t ph = 0; ph < sw; ++ph) {
                CX_T *o = dst + ph * L;
                /* t with 0 <= t*sw + ph - pl < W */
                ptrdiff_t lo = lo1, hi = hi1;
                if (ph > 0)
                    cx_valid_range(L, sw, ph - pl, W, &lo, &hi);
                for (ptrdiff_t t = 0; t < lo; ++t)
                    o[t] = 0;
                if (sw == 1 && hi > lo && src + hi - pl + CX_DVL <= xend) {
                    /* short rows: whole vectors, reading a little past the row
                       (inside x) and writing past it (the zeros below and the
                       rows after overwrite that; workspaces keep a vector of
                       slack after the band) */
                    const CX_T *sp = src + lo - pl;
                    for (ptrdiff_t t = 0; t < hi - lo; t += CX_DVL)
                        CX_NAME(dv_store)(o + lo + t, CX_NAME(dv_load)(sp + t));
                    const CX_DV zero = CX_NAME(dv_splat)(0);
                    for (ptrdiff_t t = hi; t < L; t += CX_DVL)
                        CX_NAME(dv_store)(o + t, zero);
                    CX_NAME(dk_patch_pad)(d, o, src, ph, lo, hi, L, jl, nl, jr, nr);
                    continue;
                }
                if (sw == 1)
                    memcpy(o + lo, src + lo + ph - pl, (size_t)(hi - lo) * sizeof(CX_T));
                else
                    for (ptrdiff_t t = lo; t < hi; ++t)
                        o[t] = src[t * sw + ph - pl];
                for (ptrdiff_t t = hi; t < L; ++t)
                    o[t] = 0;
                CX_NAME(dk_patch_pad)(d, o, src, ph, lo, hi, L, jl, nl, jr, nr);
            }
        }
}

/* off[t] for tap t = (c*R + r)*S + s: where it starts in the band (row 0, q = 0);
   entries [taps, padded) repeat the last tap. */
static void CX_NAME(dk_offsets)(const cx_conv2d_desc *d, ptrdiff_t nc, ptrdiff_t rows_in,
                                ptrdiff_t L, ptrdiff_t *off, ptrdiff_t padded)
{
    const ptrdiff_t R = d->R, S = d->S, sw = d->stride_w, rs = sw * L;
    /* one kernel row's column offsets, then every (channel, row) shifts them
       (no division per tap: items call this once each) */
    ptrdiff_t t = 0;
    for (ptrdiff_t s = 0; s < S; ++s) {
        const ptrdiff_t col = s * d->dil_w;
        off[s] = (col % sw) * L + col / sw;
    }
    for (ptrdiff_t c = 0; c < nc; ++c)
        for (ptrdiff_t r = 0; r < R; ++r) {
            const ptrdiff_t o = c * rows_in * rs + r * d->dil_h * rs;
            if (t > 0)
                for (ptrdiff_t s = 0; s < S; ++s)
                    off[t + s] = off[s] + o;
            t += S;
        }
    for (; t < padded; ++t)
        off[t] = off[t - 1];
}

/* ----------------------------------------------------------------- forward */

/* Forward tile: MR output channels x NR output rows x NC vectors along each row.
   Vector (r, c) of channel i is
     y[i*ldy + r*Q + c*VL + l] = bias[i] + sum_t wp[t*MR + i] * base[off[t] + r*rstep + c*VL + l]
   for rows r < nrows and lanes c*VL + l < nq. A vector is stored whole when all
   its lanes fall inside y[0, extent) of its channel (the rest of the item's
   band from this tile on): its lanes past the row's end then land on pixels
   that vectors or tiles stored after it overwrite (NR > 1 only when one tile
   spans the whole row); the others are copied lane by lane. */
static CX_DK_INLINE void CX_NAME(dk_fwd_tile)(const int MR, const int NR, const int NC,
                                              ptrdiff_t taps, const CX_T *restrict wp,
                                              const CX_T *restrict base,
                                              const ptrdiff_t *restrict off, ptrdiff_t rstep,
                                              CX_T *restrict y, ptrdiff_t ldy, ptrdiff_t Q,
                                              ptrdiff_t extent, ptrdiff_t nrows, ptrdiff_t nq,
                                              const CX_T *bias)
{
    CX_DV acc[8][4][4];
    for (int i = 0; i < MR; ++i) {
        const CX_DV b = CX_NAME(dv_splat)(bias ? bias[i] : (CX_T)0);
        for (int r = 0; r < NR; ++r)
            for (int c = 0; c < NC; ++c)
                acc[i][r][c] = b;
    }
    for (ptrdiff_t t = 0; t < taps; ++t) {
        const CX_T *xp = base + off[t];
        if (NR * NC <= MR) {
            /* few pixel vectors: load them all, then one broadcast at a time */
            CX_DV xv[4][4];
            for (int r = 0; r < NR; ++r)
                for (int c = 0; c < NC; ++c)
                    xv[r][c] = CX_NAME(dv_load)(xp + r * rstep + c * CX_DVL);
            for (int i = 0; i < MR; ++i) {
                const CX_DV wv = CX_NAME(dv_splat)(wp[t * MR + i]);
                for (int r = 0; r < NR; ++r)
                    for (int c = 0; c < NC; ++c)
                        acc[i][r][c] += wv * xv[r][c];
            }
        } else {
            /* few channels: broadcast them all, then one pixel vector at a time */
            CX_DV wv[8];
            for (int i = 0; i < MR; ++i)
                wv[i] = CX_NAME(dv_splat)(wp[t * MR + i]);
            for (int r = 0; r < NR; ++r)
                for (int c = 0; c < NC; ++c) {
                    CX_DV xv = CX_NAME(dv_load)(xp + r * rstep + c * CX_DVL);
                    if (MR > 1)
                        CX_DK_PIN(xv);
                    for (int i = 0; i < MR; ++i)
                        acc[i][r][c] += wv[i] * xv;
                }
        }
    }
    for (int i = 0; i < MR; ++i)
        for (int r = 0; r < NR; ++r)
            for (int c = 0; c < NC; ++c) {
                const ptrdiff_t cnt = cx_min(CX_DVL, nq - c * CX_DVL);
                const ptrdiff_t pos = r * Q + c * CX_DVL;
                CX_T *yo = y + i * ldy + pos;
                if (r >= nrows || cnt <= 0)
                    continue;
                if (pos + CX_DVL <= extent) {
                    CX_NAME(dv_store)(yo, acc[i][r][c]);
                } else {
                    CX_T tmp[CX_DVL_MAX];
                    CX_NAME(dv_store)(tmp, acc[i][r][c]);
                    memcpy(yo, tmp, (size_t)cnt * sizeof(CX_T));
                }
            }
}

/* The NR x NC accumulators of a one-channel row tile (rows of Q pixels, nq of
   them in each row from y's column): a vector whose lanes all fall inside
   y[0, extent) stored whole (its lanes past the row land on pixels stored
   after it), the others lane by lane. */
static CX_DK_INLINE void CX_NAME(dk_store_rows)(const int NR, const int NC, CX_DV acc[4][4],
                                                CX_T *restrict y, ptrdiff_t Q,
                                                ptrdiff_t extent, ptrdiff_t nrows,
                                                ptrdiff_t nq)
{
    for (int r = 0; r < NR; ++r)
        for (int c = 0; c < NC; ++c) {
            const ptrdiff_t cnt = cx_min(CX_DVL, nq - c * CX_DVL);
            const ptrdiff_t pos = r * Q + c * CX_DVL;
            if (r >= nrows || cnt <= 0)
                continue;
            if (pos + CX_DVL <= extent) {
                CX_NAME(dv_store)(y + pos, acc[r][c]);
            } else {
                CX_T tmp[CX_DVL_MAX];
                CX_NAME(dv_store)(tmp, acc[r][c]);
                memcpy(y + pos, tmp, (size_t)cnt * sizeof(CX_T));
            }
        }
}

#if CX_DK_VECTORS && CX_VBYTES == 64 && (defined(__x86_64__) || defined(__i386__))
#define CX_DK_ALIGNR 1
/* Elements [s, s + VL) of the concatenation lo:hi (s < VL, a constant once
   inlined): one valignd / valignq instead of an unaligned load. */
static CX_DK_INLINE CX_DV CX_NAME(dv_shift)(CX_DV lo, CX_DV hi, const int s)
{
#define CX_SHIFT_CASE(k)                                                                   \
    case k:                                                                                \
        return sizeof(CX_T) == 4                                                           \
                   ? (CX_DV)_mm512_alignr_epi32((__m512i)hi, (__m512i)lo, k)               \
                   : (CX_DV)_mm512_alignr_epi64((__m512i)hi, (__m512i)lo, (k) & 7);
    switch (s) {
    CX_SHIFT_CASE(1) CX_SHIFT_CASE(2) CX_SHIFT_CASE(3) CX_SHIFT_CASE(4)
    default:
        return lo;
    }
#undef CX_SHIFT_CASE
}
#else
#define CX_DK_ALIGNR 0
#endif

/* The one-channel tile (MR = 1) of unit vertical stride and dilation with R
   (3 or 5) kernel rows, walked by input row: band row j of the tile feeds output
   rows j - r for the kernel rows r that reach them, so each band vector is
   loaded once per column tap and used by up to R accumulators ((NR + R - 1) * S
   * NC loads per R * S * NR * NC FMAs instead of one load per FMA: the
   depthwise 3x3 forward was bound by its unaligned loads); taps = cg * R * S,
   square kernels (S = R). Each output sums the same products as dk_fwd_tile:
   in its order (channel, kernel row, column tap) with ALN (AVX-512: band rows
   of whole 64-byte aligned vectors and contiguous column taps, each row's
   vectors loaded once and shifted in registers), in the order channel, column
   tap, kernel row without. */
static CX_DK_INLINE void CX_NAME(dk_fwdr_tile)(const int R, const int NR, const int NC,
                                               const int ALN, const int EDGE,
                                               ptrdiff_t taps, const CX_T *restrict wp,
                                               const CX_T *restrict base,
                                               const ptrdiff_t *restrict off,
                                               ptrdiff_t rstep, CX_T *restrict y,
                                               ptrdiff_t Q, ptrdiff_t extent,
                                               ptrdiff_t nrows, ptrdiff_t nq, const CX_T *bias,
                                               ptrdiff_t jlo, ptrdiff_t jhi)
{
    const int S = R;
    CX_DV acc[4][4];
    {
        const CX_DV b = CX_NAME(dv_splat)(bias ? bias[0] : (CX_T)0);
        for (int r = 0; r < NR; ++r)
            for (int c = 0; c < NC; ++c)
                acc[r][c] = b;
    }
#if CX_DK_ALIGNR
    if (ALN) {
        /* rows of 64-byte aligned vectors and contiguous column taps: each band
           row's NC + 1 vectors are loaded once (aligned), its column shifts
           made in registers */
        for (ptrdiff_t t0 = 0; t0 < taps; t0 += R * S) {
            const CX_T *xs = base + off[t0], *wt = wp + t0;
            CX_DK_UNROLL for (int j = 0; j < NR + R - 1; ++j) {
                if (EDGE && (j < jlo || j >= jhi))
                    continue;
                const CX_T *xj = xs + j * rstep;
                CX_DV lo = CX_NAME(dv_load)(xj);
                CX_DK_UNROLL for (int c = 0; c < NC; ++c) {
                    const CX_DV hi = CX_NAME(dv_load)(xj + (c + 1) * CX_DVL);
                    CX_DK_UNROLL for (int s = 0; s < S; ++s) {
                        const CX_DV xv = s == 0 ? lo : CX_NAME(dv_shift)(lo, hi, s);
                        /* (weights as broadcast operands: the register file
                           holds the NR x NC accumulators and the row) */
                        CX_DK_UNROLL for (int r = 0; r < R; ++r)
                            if (j - r >= 0 && j - r < NR)
                                acc[j - r][c] += CX_NAME(dv_splat)(wt[r * S + s]) * xv;
                    }
                    lo = hi;
                }
            }
        }
    } else
#endif
    for (ptrdiff_t t0 = 0; t0 < taps; t0 += R * S) {
        for (int s = 0; s < S; ++s) {
            CX_DV wv[5];
            for (int r = 0; r < R; ++r)
                wv[r] = CX_NAME(dv_splat)(wp[t0 + r * S + s]);
            const CX_T *xs = base + off[t0 + s];
            CX_DK_UNROLL for (int j = 0; j < NR + R - 1; ++j)
                CX_DK_UNROLL for (int c = 0; c < NC; ++c) {
                    if (EDGE && (j < jlo || j >= jhi))
                        continue;
                    CX_DV xv = CX_NAME(dv_load)(xs + j * rstep + c * CX_DVL);
                    CX_DK_PIN(xv);
                    CX_DK_UNROLL for (int r = 0; r < R; ++r)
                        if (j - r >= 0 && j - r < NR)
                            acc[j - r][c] += wv[r] * xv;
                }
        }
    }
    CX_NAME(dk_store_rows)(NR, NC, acc, y, Q, extent, nrows, nq);
}

#if CX_DK_ALIGNR && CX_DK_STREAM
#define CX_DK_FWDX 1
/* (GCC: without tree sinking here. With it GCC 12 moved later rows' loads
   up to the tile's start and spilled them: 176 stack accesses in the 3x4x4
   tile, 99 without, all of those in its partial stores. With the branch-free
   rows below: 1.4-1.6x the depthwise forward's speed, 1.6-2.1x its input
   gradient's; bench/README.md, session 25) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-tree-sink")
#endif
/* A tapfold class's table (dk_tapfold_tables): the 9 taps' vectors for the
   row's vector 0, the same for its vector nv - 1 (lanes on the folded
   columns), then the 9 taps as scalars for the vectors between (two
   vectors' room: 8 float64 lanes hold 8 of them). */
#define CX_TF_CLASS (20 * CX_DVL)

/* acc + (the vector at p) * x and acc + (*p broadcast) * x, the load an
   operand of the multiply-add (the fold tile's 18 edge-weight vectors, left
   to GCC, were loaded once into registers and spilled: 1.2x the tile's time) */
static CX_DK_INLINE CX_DV CX_NAME(dv_fma_mem)(CX_DV acc, CX_DV x, const CX_T *p)
{
    if (sizeof(CX_T) == 4)
        __asm__("vfmadd231ps %2, %1, %0" : "+v"(acc) : "v"(x), "m"(*(const __m512 *)p));
    else
        __asm__("vfmadd231pd %2, %1, %0" : "+v"(acc) : "v"(x), "m"(*(const __m512d *)p));
    return acc;
}
static CX_DK_INLINE CX_DV CX_NAME(dv_fma_bcast)(CX_DV acc, CX_DV x, const CX_T *p)
{
    if (sizeof(CX_T) == 4)
        __asm__("vfmadd231ps %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(x), "m"(*p));
    else
        __asm__("vfmadd231pd %2%{1to8%}, %1, %0" : "+v"(acc) : "v"(x), "m"(*p));
    return acc;
}

/* dk_fwdr_tile's aligned form for one input channel (depthwise), reading the
   input plane xp (H x W) in place rather than a band: band row j of the tile
   is input row h0 + j (zeros outside [0, H)), its vector c the input columns
   [c*VL - pl, (c+1)*VL - pl) by a masked load (mk[c]: the lanes inside [0, W);
   the others read nothing and are zero, as the band's padding columns). The
   same products in the same order as dk_fwdr_tile on the band, so the same
   results; NR * NC accumulators to y (rows of Q, stored whole up to extent); the
   weights wa[0] (9 taps). */
/* FOLD 1: the same with a padding mode folded onto its taps (cx_dk_tapfold):
   accumulator row a takes its weights from wa[a] (a CX_TF_CLASS table; UNI:
   every row's is wa[0]), vector 0 and vector NC - 1 as vectors (the folded
   columns' lanes), the others broadcast, so the same instructions as
   dk_fwdx_tile. *bad is set where an accumulator a fold may touch (the edge
   vectors; every one of a row with its own table) is inf or NaN: there the
   folded taps' (w_a + w_b) * v may differ from w_a * v + w_b * v, and the
   caller makes the item again unfolded. */
/* PADX (FOLD 0): the input padded by *px's mode in registers (cx_dk_padx):
   the padded input's products, in the same order as on the band the mode
   fills. */
static CX_DK_INLINE void CX_NAME(dk_fwdxf_tile)(const int FOLD, const int NC, const int UNI,
                                                const int SL, const int SR, const int PADX,
                                                const CX_T *const *wa,
                                                const CX_T *restrict xp, ptrdiff_t H,
                                                ptrdiff_t W, ptrdiff_t h0, ptrdiff_t pl,
                                                const unsigned *mk, CX_T *restrict y,
                                                ptrdiff_t Q, ptrdiff_t extent, ptrdiff_t nrows,
                                                ptrdiff_t nq, CX_T bias, int *bad,
                                                const cx_dk_padx *px)
{
    const int R = 3, S = 3, NR = 4;
    const CX_T *wr[4];
    for (int a = 0; a < NR; ++a)
        wr[a] = UNI ? wa[0] : wa[a];
    CX_DV acc[4][4];
    for (int r = 0; r < NR; ++r)
        for (int c = 0; c < NC; ++c)
            acc[r][c] = CX_NAME(dv_splat)(bias);
    CX_DK_UNROLL for (int j = 0; j < NR + R - 1; ++j) {
        ptrdiff_t h = h0 + j;
        unsigned live = 0u - (unsigned)(h >= 0 && h < H);
        if (PADX && !live) {
            h = cx_pad_source(h, H, px->mode);
            live = ~0u;
        }
        const CX_T *xj = (const CX_T *)((size_t)xp +
                                        (size_t)((h * W - pl) * (ptrdiff_t)sizeof(CX_T)));
        CX_DV lo = CX_NAME(dv_maskz_load)(mk[0] & live, xj);
        if (PADX) {
            lo = CX_NAME(dv_mask_splat)(lo, px->ml, xj[pl + px->sl]);
            if (NC == 1)
                lo = CX_NAME(dv_mask_splat)(lo, px->mr[0], xj[pl + px->sr]);
        }
        CX_DK_UNROLL for (int c = 0; c < NC; ++c) {
            CX_DV hi = CX_NAME(dv_maskz_load)(mk[c + 1] & live, xj + (c + 1) * CX_DVL);
            if (PADX && c + 1 >= NC - 1)
                hi = CX_NAME(dv_mask_splat)(hi, px->mr[c + 2 - NC], xj[pl + px->sr]);
            CX_DK_UNROLL for (int s = 0; s < S; ++s) {
                const CX_DV xv = s == 0 ? lo : CX_NAME(dv_shift)(lo, hi, s);
                CX_DK_UNROLL for (int r = 0; r < R; ++r)
                    if (j - r >= 0 && j - r < NR) {
                        const CX_T *wt = wr[j - r];
                        if (!FOLD) {
                            acc[j - r][c] += CX_NAME(dv_splat)(wt[r * S + s]) * xv;
                            continue;
                        }
                        /* (SL, SR >= 0: only that kernel column's taps differ
                           on the first / last vector's folded lanes) */
                        const int lf = c == 0 && (SL < 0 || s == SL);
                        const int rf = c == NC - 1 && (SR < 0 || s == SR);
                        if (lf || rf)
                            acc[j - r][c] = CX_NAME(dv_fma_mem)(
                                acc[j - r][c], xv, wt + ((c == 0 ? 0 : 9) + r * S + s) * CX_DVL);
                        else if (UNI)
                            acc[j - r][c] += CX_NAME(dv_splat)(wt[18 * CX_DVL + r * S + s]) * xv;
                        else
                            acc[j - r][c] = CX_NAME(dv_fma_bcast)(
                                acc[j - r][c], xv, wt + 18 * CX_DVL + r * S + s);
                    }
            }
            lo = hi;
        }
    }
    if (!FOLD) {
        CX_NAME(dk_store_rows)(NR, NC, acc, y, Q, extent, nrows, nq);
        return;
    }
    /* (v - v: 0, or NaN for an inf or NaN v; the sum NaN if any was) */
    CX_DV z = CX_NAME(dv_splat)(0);
    CX_DK_UNROLL for (int r = 0; r < NR; ++r)
        CX_DK_UNROLL for (int c = 0; c < NC; ++c)
            if (!UNI || c == 0 || c == NC - 1)
                z += acc[r][c] - acc[r][c];
    const unsigned nf =
        sizeof(CX_T) == 4
            ? (unsigned)_mm512_cmp_ps_mask((__m512)z, (__m512)z, _CMP_UNORD_Q)
            : (unsigned)_mm512_cmp_pd_mask((__m512d)z, (__m512d)z, _CMP_UNORD_Q);
    if (nf)
        *bad = 1;
    CX_NAME(dk_store_rows)(NR, NC, acc, y, Q, extent, nrows, nq);
}

typedef void (*CX_NAME(dk_fwdx_fn))(const CX_T *, const CX_T *, ptrdiff_t, ptrdiff_t,
                                    ptrdiff_t, ptrdiff_t, const unsigned *, CX_T *, ptrdiff_t,
                                    ptrdiff_t, ptrdiff_t, ptrdiff_t, CX_T);
#define CX_DK_FWDX_DEF(R, NC)                                                              \
    static void CX_NAME(dk_fwdx_##R##x4x##NC)(                                              \
        const CX_T *wt, const CX_T *xp, ptrdiff_t H, ptrdiff_t W, ptrdiff_t h0, ptrdiff_t pl, \
        const unsigned *mk, CX_T *y, ptrdiff_t Q, ptrdiff_t extent, ptrdiff_t nrows,         \
        ptrdiff_t nq, CX_T bias)                                                            \
    {                                                                                      \
        CX_NAME(dk_fwdxf_tile)(0, NC, 1, -1, -1, 0, &wt, xp, H, W, h0, pl, mk, y, Q, extent, \
                               nrows, nq, bias, NULL, NULL);                               \
    }
CX_DK_FWDX_DEF(3, 1) CX_DK_FWDX_DEF(3, 2) CX_DK_FWDX_DEF(3, 4)
#undef CX_DK_FWDX_DEF
/* [log2 NC]: 3x3, 4-row tiles */
static const CX_NAME(dk_fwdx_fn) CX_NAME(dk_fwdx_fns)[3] = {
    CX_NAME(dk_fwdx_3x4x1), CX_NAME(dk_fwdx_3x4x2), CX_NAME(dk_fwdx_3x4x4)};

typedef void (*CX_NAME(dk_fwdxp_fn))(const CX_T *, const CX_T *, ptrdiff_t, ptrdiff_t,
                                     ptrdiff_t, ptrdiff_t, const unsigned *, CX_T *, ptrdiff_t,
                                     ptrdiff_t, ptrdiff_t, ptrdiff_t, CX_T, const cx_dk_padx *);
#define CX_DK_FWDXP_DEF(NC)                                                                \
    static void CX_NAME(dk_fwdxp_3x4x##NC)(                                                 \
        const CX_T *wt, const CX_T *xp, ptrdiff_t H, ptrdiff_t W, ptrdiff_t h0, ptrdiff_t pl, \
        const unsigned *mk, CX_T *y, ptrdiff_t Q, ptrdiff_t extent, ptrdiff_t nrows,         \
        ptrdiff_t nq, CX_T bias, const cx_dk_padx *px)                                      \
    {                                                                                      \
        CX_NAME(dk_fwdxf_tile)(0, NC, 1, -1, -1, 1, &wt, xp, H, W, h0, pl, mk, y, Q, extent, \
                               nrows, nq, bias, NULL, px);                                 \
    }
CX_DK_FWDXP_DEF(1) CX_DK_FWDXP_DEF(2) CX_DK_FWDXP_DEF(4)
#undef CX_DK_FWDXP_DEF
/* [log2 NC]: the same with a padding mode made in registers (cx_dk_padx) */
static const CX_NAME(dk_fwdxp_fn) CX_NAME(dk_fwdxp_fns)[3] = {
    CX_NAME(dk_fwdxp_3x4x1), CX_NAME(dk_fwdxp_3x4x2), CX_NAME(dk_fwdxp_3x4x4)};

typedef void (*CX_NAME(dk_fwdxf_fn))(const CX_T *const *, const CX_T *, ptrdiff_t, ptrdiff_t,
                                     ptrdiff_t, ptrdiff_t, const unsigned *, CX_T *, ptrdiff_t,
                                     ptrdiff_t, ptrdiff_t, ptrdiff_t, CX_T, int *);
#define CX_DK_FWDXF_DEF(NC, UNI, SL, SR, V)                                                \
    static void CX_NAME(dk_fwdxf_##NC##_##UNI##V)(                                          \
        const CX_T *const *wa, const CX_T *xp, ptrdiff_t H, ptrdiff_t W, ptrdiff_t h0,      \
        ptrdiff_t pl, const unsigned *mk, CX_T *y, ptrdiff_t Q, ptrdiff_t extent,           \
        ptrdiff_t nrows, ptrdiff_t nq, CX_T bias, int *bad)                                 \
    {                                                                                      \
        CX_NAME(dk_fwdxf_tile)(1, NC, UNI, SL, SR, 0, wa, xp, H, W, h0, pl, mk, y, Q,       \
                               extent, nrows, nq, bias, bad, NULL);                        \
    }
CX_DK_FWDXF_DEF(1, 0, -1, -1, g) CX_DK_FWDXF_DEF(2, 0, -1, -1, g)
CX_DK_FWDXF_DEF(4, 0, -1, -1, g) CX_DK_FWDXF_DEF(1, 1, -1, -1, g)
CX_DK_FWDXF_DEF(2, 1, -1, -1, g) CX_DK_FWDXF_DEF(4, 1, -1, -1, g)
CX_DK_FWDXF_DEF(1, 1, 0, 2, f) CX_DK_FWDXF_DEF(2, 1, 0, 2, f) CX_DK_FWDXF_DEF(4, 1, 0, 2, f)
CX_DK_FWDXF_DEF(1, 1, 1, 1, p) CX_DK_FWDXF_DEF(2, 1, 1, 1, p) CX_DK_FWDXF_DEF(4, 1, 1, 1, p)
#undef CX_DK_FWDXF_DEF
/* [form][UNI][log2 NC]; form (cx_dk_tapfold's cols): 0 any, 1 reflect's
   (the first vector's folded taps in kernel column 0, the last's in 2), 2
   replicate's (1 and 1). The rows of their own tables (UNI 0) are 2 of a
   56-row plane's 14 tiles: the general form. */
static const CX_NAME(dk_fwdxf_fn) CX_NAME(dk_fwdxf_fns)[3][2][3] = {
    {{CX_NAME(dk_fwdxf_1_0g), CX_NAME(dk_fwdxf_2_0g), CX_NAME(dk_fwdxf_4_0g)},
     {CX_NAME(dk_fwdxf_1_1g), CX_NAME(dk_fwdxf_2_1g), CX_NAME(dk_fwdxf_4_1g)}},
    {{CX_NAME(dk_fwdxf_1_0g), CX_NAME(dk_fwdxf_2_0g), CX_NAME(dk_fwdxf_4_0g)},
     {CX_NAME(dk_fwdxf_1_1f), CX_NAME(dk_fwdxf_2_1f), CX_NAME(dk_fwdxf_4_1f)}},
    {{CX_NAME(dk_fwdxf_1_0g), CX_NAME(dk_fwdxf_2_0g), CX_NAME(dk_fwdxf_4_0g)},
     {CX_NAME(dk_fwdxf_1_1p), CX_NAME(dk_fwdxf_2_1p), CX_NAME(dk_fwdxf_4_1p)}}};

/* One channel's tapfold tables (tab: 3 CX_TF_CLASS tables, 64-byte aligned)
   from its forward-form taps wt (3 x 3, finite): class 0 for rows without a
   fold, 1 + k for row tf->row[k]; rows of nv vectors. Returns 0 where a
   folded tap could pass the type's range (a sum of at most 16 taps: any tap
   over its largest value / 16). */
static int CX_NAME(dk_tapfold_tables)(const cx_dk_tapfold *tf, const CX_T *wt, ptrdiff_t nv,
                                      CX_T *restrict tab)
{
    const ptrdiff_t VL = CX_DVL;
    CX_T big = 0;
    for (int u = 0; u < 9; ++u) {
        const CX_T a = wt[u] < 0 ? -wt[u] : wt[u];
        big = a > big ? a : big;
    }
    for (int cl = 0; cl < 3; ++cl) {
        if (cl > 0 && tf->row[cl - 1] < 0)
            continue;
        CX_T *t = tab + cl * CX_TF_CLASS, fr[9];
        if (cl == 0) {
            for (int u = 0; u < 9; ++u)
                fr[u] = wt[u];
        } else {
            const float(*A)[3] = tf->A[cl - 1];
            for (int r = 0; r < 3; ++r)
                for (int s = 0; s < 3; ++s)
                    fr[r * 3 + s] = (CX_T)A[r][0] * wt[s] + (CX_T)A[r][1] * wt[3 + s] +
                                    (CX_T)A[r][2] * wt[6 + s];
        }
        for (int u = 0; u < 9; ++u)
            t[18 * VL + u] = fr[u];
        /* (each vector stored once, its folded lanes blended in first) */
        for (int b = 0; b < 2; ++b) {
            const ptrdiff_t c0 = b ? (nv - 1) * VL : 0;
            for (int r = 0; r < 3; ++r)
                for (int s = 0; s < 3; ++s) {
                    CX_DV v = CX_NAME(dv_splat)(fr[r * 3 + s]);
                    for (int k = 0; k < 2; ++k) {
                        const ptrdiff_t j = tf->col[k];
                        if (j < c0 || j >= c0 + VL)
                            continue;
                        const float *B = tf->B[k][s];
                        const CX_T x = (CX_T)B[0] * fr[r * 3] + (CX_T)B[1] * fr[r * 3 + 1] +
                                       (CX_T)B[2] * fr[r * 3 + 2];
                        const unsigned m = 1u << (j - c0);
                        v = sizeof(CX_T) == 4
                                ? (CX_DV)_mm512_mask_blend_ps((__mmask16)m, (__m512)v,
                                                              _mm512_set1_ps((float)x))
                                : (CX_DV)_mm512_mask_blend_pd((__mmask8)m, (__m512d)v,
                                                              _mm512_set1_pd((double)x));
                    }
                    CX_NAME(dv_store)(t + (b * 9 + r * 3 + s) * VL, v);
                }
        }
    }
    return big <= (sizeof(CX_T) == 4 ? (CX_T)FLT_MAX : (CX_T)DBL_MAX) / 16;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
#else
#define CX_DK_FWDX 0
#endif

typedef void (*CX_NAME(dk_fwd_fn))(ptrdiff_t, const CX_T *, const CX_T *, const ptrdiff_t *,
                                   ptrdiff_t, CX_T *, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                   ptrdiff_t, ptrdiff_t, const CX_T *);

#define CX_DK_FWD(MR, NR, NC)                                                              \
    static void CX_NAME(dk_fwd_##MR##x##NR##x##NC)(                                        \
        ptrdiff_t taps, const CX_T *wp, const CX_T *base, const ptrdiff_t *off,             \
        ptrdiff_t rstep, CX_T *y, ptrdiff_t ldy, ptrdiff_t Q, ptrdiff_t extent,             \
        ptrdiff_t nrows, ptrdiff_t nq, const CX_T *bias)                                    \
    {                                                                                      \
        CX_NAME(dk_fwd_tile)(MR, NR, NC, taps, wp, base, off, rstep, y, ldy, Q, extent,    \
                             nrows, nq, bias);                                             \
    }
#define CX_DK_FWD_NC(MR, NR) CX_DK_FWD(MR, NR, 1) CX_DK_FWD(MR, NR, 2) CX_DK_FWD(MR, NR, 4)
#define CX_DK_FWD_NR(MR) CX_DK_FWD_NC(MR, 1) CX_DK_FWD_NC(MR, 2) CX_DK_FWD_NC(MR, 3) \
                         CX_DK_FWD_NC(MR, 4)
CX_DK_FWD_NR(1) CX_DK_FWD_NR(2) CX_DK_FWD_NR(4) CX_DK_FWD_NR(8)
#undef CX_DK_FWD_NR
#undef CX_DK_FWD_NC
#undef CX_DK_FWD

#define CX_DK_ROW(MR, NR) {CX_NAME(dk_fwd_##MR##x##NR##x1), CX_NAME(dk_fwd_##MR##x##NR##x2), \
                           CX_NAME(dk_fwd_##MR##x##NR##x4)}
#define CX_DK_MR(MR) {CX_DK_ROW(MR, 1), CX_DK_ROW(MR, 2), CX_DK_ROW(MR, 3), CX_DK_ROW(MR, 4)}
/* [log2 MR][NR - 1][log2 NC] */
static const CX_NAME(dk_fwd_fn) CX_NAME(dk_fwd_fns)[4][4][3] = {
    CX_DK_MR(1), CX_DK_MR(2), CX_DK_MR(4), CX_DK_MR(8)};
#undef CX_DK_MR
#undef CX_DK_ROW

#define CX_DK_FWDR(R, NR, NC, ALN, SUF)                                                    \
    static void CX_NAME(dk_fwdr_##R##x##NR##x##NC##SUF)(                                   \
        ptrdiff_t taps, const CX_T *wp, const CX_T *base, const ptrdiff_t *off,             \
        ptrdiff_t rstep, CX_T *y, ptrdiff_t ldy, ptrdiff_t Q, ptrdiff_t extent,             \
        ptrdiff_t nrows, ptrdiff_t nq, const CX_T *bias)                                    \
    {                                                                                      \
        (void)ldy;                                                                         \
        CX_NAME(dk_fwdr_tile)(R, NR, NC, ALN, 0, taps, wp, base, off, rstep, y, Q, extent, \
                              nrows, nq, bias, 0, 0);                                      \
    }
#define CX_DK_FWDR_NC(R, NR, ALN, SUF)                                                     \
    CX_DK_FWDR(R, NR, 1, ALN, SUF) CX_DK_FWDR(R, NR, 2, ALN, SUF)                          \
    CX_DK_FWDR(R, NR, 4, ALN, SUF)
#define CX_DK_FWDR_R(ALN, SUF)                                                             \
    CX_DK_FWDR_NC(3, 2, ALN, SUF) CX_DK_FWDR_NC(3, 3, ALN, SUF)                            \
    CX_DK_FWDR_NC(3, 4, ALN, SUF) CX_DK_FWDR_NC(5, 2, ALN, SUF)                            \
    CX_DK_FWDR_NC(5, 3, ALN, SUF) CX_DK_FWDR_NC(5, 4, ALN, SUF)
CX_DK_FWDR_R(0, )
#if CX_DK_ALIGNR
CX_DK_FWDR_R(1, a)
#endif
#undef CX_DK_FWDR_R
#undef CX_DK_FWDR_NC
#undef CX_DK_FWDR
#define CX_DK_ROWR(R, NR, SUF)                                                             \
    {CX_NAME(dk_fwdr_##R##x##NR##x1##SUF), CX_NAME(dk_fwdr_##R##x##NR##x2##SUF),           \
     CX_NAME(dk_fwdr_##R##x##NR##x4##SUF)}
#define CX_DK_ROWR_R(SUF)                                                                  \
    {{CX_DK_ROWR(3, 2, SUF), CX_DK_ROWR(3, 3, SUF), CX_DK_ROWR(3, 4, SUF)},                \
     {CX_DK_ROWR(5, 2, SUF), CX_DK_ROWR(5, 3, SUF), CX_DK_ROWR(5, 4, SUF)}}
/* [aligned][R == 5][NR - 2][log2 NC]: one-channel tiles of 3x3 and 5x5 kernels
   walked by input row (dk_fwdr_tile), for tiles of 2 to 4 rows; the aligned ones
   (AVX-512) for bands of 64-byte aligned rows and contiguous column taps */
static const CX_NAME(dk_fwd_fn) CX_NAME(dk_fwdr_fns)[1 + CX_DK_ALIGNR][2][3][3] = {
    CX_DK_ROWR_R()
#if CX_DK_ALIGNR
    , CX_DK_ROWR_R(a)
#endif
};
#undef CX_DK_ROWR_R
#undef CX_DK_ROWR

/* The same tiles for a band whose rows outside [jlo, jhi) (of the tile's NR
   + R - 1) are zero padding's: those rows' loads and products left out (a
   padding mode's fused input gradient computes the full padded gradient, a
   forward with R - 1 rows of zeros above and below: its first and last
   tiles of 4 rows spent half their products on them, lenet1's 32 padded rows
   160 row-taps where 140 reach grad_output). One form a build: aligned where
   the ISA has it (the driver takes these only on such bands). */
typedef void (*CX_NAME(dk_fwdre_fn))(ptrdiff_t, const CX_T *, const CX_T *, const ptrdiff_t *,
                                     ptrdiff_t, CX_T *, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                                     ptrdiff_t, const CX_T *, ptrdiff_t, ptrdiff_t);
#define CX_DK_FWDRE(R, NR, NC)                                                             \
    static void CX_NAME(dk_fwdre_##R##x##NR##x##NC)(                                       \
        ptrdiff_t taps, const CX_T *wp, const CX_T *base, const ptrdiff_t *off,             \
        ptrdiff_t rstep, CX_T *y, ptrdiff_t Q, ptrdiff_t extent, ptrdiff_t nrows,           \
        ptrdiff_t nq, const CX_T *bias, ptrdiff_t jlo, ptrdiff_t jhi)                       \
    {                                                                                      \
        CX_NAME(dk_fwdr_tile)(R, NR, NC, CX_DK_ALIGNR, 1, taps, wp, base, off, rstep, y,   \
                              Q, extent, nrows, nq, bias, jlo, jhi);                       \
    }
#define CX_DK_FWDRE_NC(R, NR) CX_DK_FWDRE(R, NR, 1) CX_DK_FWDRE(R, NR, 2) CX_DK_FWDRE(R, NR, 4)
CX_DK_FWDRE_NC(3, 2) CX_DK_FWDRE_NC(3, 3) CX_DK_FWDRE_NC(3, 4)
CX_DK_FWDRE_NC(5, 2) CX_DK_FWDRE_NC(5, 3) CX_DK_FWDRE_NC(5, 4)
#undef CX_DK_FWDRE_NC
#undef CX_DK_FWDRE
#define CX_DK_ROWRE(R, NR)                                                                 \
    {CX_NAME(dk_fwdre_##R##x##NR##x1), CX_NAME(dk_fwdre_##R##x##NR##x2),                   \
     CX_NAME(dk_fwdre_##R##x##NR##x4)}
/* [R == 5][NR - 2][log2 NC] */
static const CX_NAME(dk_fwdre_fn) CX_NAME(dk_fwdre_fns)[2][3][3] = {
    {CX_DK_ROWRE(3, 2), CX_DK_ROWRE(3, 3), CX_DK_ROWRE(3, 4)},
    {CX_DK_ROWRE(5, 2), CX_DK_ROWRE(5, 3), CX_DK_ROWRE(5, 4)}};
#undef CX_DK_ROWRE

/* ---- channel-vector forward tiles (dk_mode 2; 16-lane vectors of float) ----
   For narrow rows (Q <= 16) with output channels in blocks of 16, pixel vectors
   leave lanes idle (14 of 16 on 14-pixel rows, 7 of 16 on 7-pixel rows). Here a
   vector holds 16 output channels instead: NP pixels of a row, each broadcast
   from the band, times the tap's 16 weights (an FMA with an embedded broadcast),
     tr[j*16 + c] = bias[c] + sum_t wq[t*16 + c] * base[off[t] + j],  j < NP,
   and the band's pixel-major results are turned into NCHW rows by 16 x 16
   in-register transposes. Needs __builtin_shufflevector (gcc >= 12, clang). */
#if CX_DK_VECTORS && defined(CX_TSIZE) && (CX_VBYTES / CX_TSIZE == 16) && \
    (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12))
#define CX_DK_CV 1
#else
#define CX_DK_CV 0
#endif
/* The same forward tiles in 8 lanes (AVX2 float32: 8 output channels a
   vector), for kernel rows of contiguous taps only (the sliding tiles, at most
   NP + S + 1 <= 16 registers; plan_fwd_dk), their results turned into NCHW
   rows by 8 x 8 transposes (dk_tr8x8). CX_DK_CVL: the channels a tile holds. */
#if !CX_DK_CV && CX_DK_AVX2 && defined(CX_TSIZE) && CX_TSIZE == 4
#define CX_DK_CV8 1
#else
#define CX_DK_CV8 0
#endif
#define CX_DK_CVL (CX_DK_CV ? 16 : 8)
/* AVX-512 float32 sliding tiles (dk_fwdcs_tile): every FMA reads its band
   pixel with an embedded broadcast ({1to16}) rather than sharing one
   vbroadcastss among its S FMAs. Zen 4: the separate broadcasts cost FP-pipe
   time the FMAs need (a 56-wide 3x3 row's edge tiles, 15 of 16 broadcasts and
   41 of 42 FMAs, ran 5.2-5.5% cheaper, not 2.4%); this form ran res3x3_64's
   forward 3.4% faster, res3x3_256's 9%, conv3d_32's 6%, lenet2's 1%.
   Zen 5 (two 512-bit FMA pipes, two 512-bit loads a cycle) goes the other
   way: 14-pixel 3-tap rows issue 45 loads per 42 FMAs this way, 19 with the
   broadcasts apart, and the tile is bound by loads (session 35, one process:
   conv3d_32's forward 0.75x, res3x3_256's 0.81x the time with the broadcasts
   apart). Both forms are built (CX_DK_EMBC: the embedded one exists) and
   the plan takes the embedded one only where the FMAs run as halves
   (cx_dk_embc). */
#if CX_DK_CV && CX_TSIZE == 4 && defined(__x86_64__)
#define CX_DK_EMBC 1
#else
#define CX_DK_EMBC 0
#endif

#if CX_DK_CV
/* One stage of the in-register transposes below, on rows r[0, NR): rows i
   and i + B (i without bit B) become the shuffles A.. and B.. of the pair
   (lanes 0-15 from row i, 16-31 from row i + B). */
#define CX_TR_STAGE(NR, B, A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14,     \
                    A15, B0, B1, B2, B3, B4, B5, B6, B7, B8, B9, B10, B11, B12, B13, B14, B15)  \
    for (int i = 0; i < NR; ++i)                                                           \
        if (!(i & B)) {                                                                    \
            const CX_DV lo = __builtin_shufflevector(r[i], r[i + B], A0, A1, A2, A3, A4,   \
                                                     A5, A6, A7, A8, A9, A10, A11, A12,    \
                                                     A13, A14, A15);                       \
            const CX_DV hi = __builtin_shufflevector(r[i], r[i + B], B0, B1, B2, B3, B4,   \
                                                     B5, B6, B7, B8, B9, B10, B11, B12,    \
                                                     B13, B14, B15);                       \
            r[i] = lo;                                                                     \
            r[i + B] = hi;                                                                 \
        }

/* dst[c*ldd + j] = src[j*16 + c] for 16 channels c and pixels j < npix (<= 16):
   four stages, each exchanging one bit of the row index with the same bit of
   the lane index (rows i and i + b trade their off-diagonal halves). */
static CX_DK_INLINE void CX_NAME(dk_tr16)(CX_DV *r)
{
    CX_TR_STAGE(16, 8, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23,
                8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31)
    CX_TR_STAGE(16, 4, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27,
                4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31)
    CX_TR_STAGE(16, 2, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29,
                2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31)
    CX_TR_STAGE(16, 1, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30,
                1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31)
}

/* r[j] = pixels 2j and 2j + 1 of r[0..7] (8 channels of 16 pixels), 8
   channels each (pixel-major: lane (p & 1) * 8 + c of r[p / 2]): three
   stages as dk_tr16's, exchanging channel bits 2, 1, 0 with lane bits 3, 2,
   1, the last stage's lanes also rotated so that the pixel's low bit leads
   (24 two-source shuffles). */
static CX_DK_INLINE void CX_NAME(dk_tr8x16)(CX_DV *r)
{
    CX_TR_STAGE(8, 4, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23,
                8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31)
    CX_TR_STAGE(8, 2, 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27,
                4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31)
    CX_TR_STAGE(8, 1, 0, 16, 4, 20, 8, 24, 12, 28, 1, 17, 5, 21, 9, 25, 13, 29,
                2, 18, 6, 22, 10, 26, 14, 30, 3, 19, 7, 23, 11, 27, 15, 31)
}
#undef CX_TR_STAGE
#endif

#if CX_DK_CV || CX_DK_CV8
/* A channel-vector tile's results: tr[j*cvl + c] (pixel-major, for the
   caller's transposes or channels-last outputs), or where yo is given (16
   lanes only) turned into NCHW in registers and stored in place:
   yo[c*ldc + j] for the 16 channels c and the pixels j in the lanes of m (the
   row's pixels; the tile's past the row's end left out). The in-register form
   saves the pixel-major stores, their reloads and stores by dk_transpose16
   (session 26: 3% of lenet2's forward). */
static CX_DK_INLINE void CX_NAME(dk_fwdc_out)(const int NP, const CX_DV *acc, CX_T *restrict tr,
                                              CX_T *restrict yo, ptrdiff_t ldc, unsigned m)
{
#if CX_DK_CV
    if (yo) {
        CX_DV r[16];
        for (int j = 0; j < 16; ++j)
            r[j] = acc[j < NP ? j : 0];
        CX_NAME(dk_tr16)(r);
        for (int c = 0; c < 16; ++c)
            CX_NAME(dv_mask_store)(yo + c * ldc, m, r[c]);
        return;
    }
#else
    (void)yo, (void)ldc, (void)m;
#endif
    for (int j = 0; j < NP; ++j)
        CX_NAME(dv_store)(tr + j * CX_DK_CVL, acc[j]);
}

static CX_DK_INLINE void CX_NAME(dk_fwdc_tile)(const int NP, ptrdiff_t taps,
                                               const CX_T *restrict wq,
                                               const CX_T *restrict base,
                                               const ptrdiff_t *restrict off,
                                               const CX_T *restrict bias, CX_T *restrict tr,
                                               CX_T *restrict yo, ptrdiff_t ldc, unsigned m)
{
    CX_DV acc[14];
    const CX_DV b = CX_NAME(dv_load)(bias);
    for (int j = 0; j < NP; ++j)
        acc[j] = b;
    ptrdiff_t t = 0;
    do {    /* (taps >= 1; see dk_fwdcs_tile) */
        const CX_DV wv = CX_NAME(dv_load)(wq + t * CX_DK_CVL);
        const CX_T *xp = base + off[t];
        for (int j = 0; j < NP; ++j)
            acc[j] += wv * CX_NAME(dv_splat)(xp[j]);
    } while (++t < taps);
    CX_NAME(dk_fwdc_out)(NP, acc, tr, yo, ldc, m);
}

/* The same tile for stride 1 and dilation 1 along the row, where the S taps of a
   kernel row read the pixels base[off + s + j]: each band pixel e is broadcast
   once and multiplied by the S tap vectors that use it (accumulator j = e - s),
   so that a kernel row costs NP + S - 1 broadcasts and S weight loads for NP * S
   FMAs instead of NP * S broadcasts and S loads: the tile above is bound by
   loads at ~80% of the FMA peak on Zen 5, this one runs at the peak.
   taps = Cg * R * S; off[i * S] is the offset of kernel row i's first tap.
   TL, TH: band pixels left out at the start and at the end of the NP + S - 1
   (zero padding's columns: dk_fwd_band's edge columns; 0 for every pixel).
   FOLD (cx_dk_fold; TL, TH = 0 or (S-1)/2, the tile's pixels a whole row's first
   or last): those pixels are a reflect (1) or replicate (2) padding's copies
   of the band pixels dk_fold_w names, and each product of one is the product
   of its copy with the same tap: added onto the tap that multiplies the copy
   for that accumulator, one add for a left-out FMA. */
static CX_DK_INLINE CX_DV CX_NAME(dk_fold_w)(const int NP, const int S, const int TL,
                                             const int TH, const int FOLD, const CX_DV *wv,
                                             const int j, const int s)
{
    CX_DV v = wv[s];
    if (FOLD && j < TL) {
        /* taps s2 < a read the left padding: band pixel j + s2 copies pixel
           2*TL - j - s2 (reflect), i.e. tap 2a - s2 in (a, 2a], or pixel TL
           (replicate), tap a */
        const int a = TL - j;
        if (FOLD == 1 && s > a && s <= 2 * a)
            v += wv[2 * a - s];
        else if (FOLD == 2 && s == a)
            for (int s2 = 0; s2 < a; ++s2)
                v += wv[s2];
    }
    if (FOLD && NP - 1 - j < TH) {
        /* the same from the right end (taps counted from S - 1) */
        const int a = TH - (NP - 1 - j), sm = S - 1 - s;
        if (FOLD == 1 && sm > a && sm <= 2 * a)
            v += wv[S - 1 - (2 * a - sm)];
        else if (FOLD == 2 && sm == a)
            for (int s2 = 0; s2 < a; ++s2)
                v += wv[S - 1 - s2];
    }
    return v;
}

static CX_DK_INLINE void CX_NAME(dk_fwdcs_tile)(const int NP, const int S, const int TL,
                                                const int TH, const int FOLD, const int EMB,
                                                ptrdiff_t taps,
                                                const CX_T *restrict wq,
                                                const CX_T *restrict base,
                                                const ptrdiff_t *restrict off,
                                                const CX_T *restrict bias,
                                                CX_T *restrict tr, CX_T *restrict yo,
                                                ptrdiff_t ldc, unsigned m)
{
    CX_DV acc[14];
    const CX_DV b = CX_NAME(dv_load)(bias);
    for (int j = 0; j < NP; ++j)
        acc[j] = b;
    /* (taps >= S: a do-while, whose single path lets GCC keep the
       accumulators in registers from the bias to the stores; with a loop that
       may run zero times it kept them in a stack array too, 28 extra stores
       and 14 loads a tile) */
    ptrdiff_t t = 0;
    do {
        CX_DV wv[7];
        for (int s = 0; s < S; ++s)
            wv[s] = CX_NAME(dv_load)(wq + (t + s) * CX_DK_CVL);
        const CX_T *xp = base + off[t];
#if CX_DK_EMBC
        if (EMB) {
            /* (the same pointer once per tap, through an asm the compiler
               cannot see through: pixel e's S loads are then not merged into
               one) */
            const CX_T *xs[7];
            CX_DK_UNROLL for (int s = 0; s < S; ++s) {
                xs[s] = xp;
                __asm__ volatile("" : "+r"(xs[s]));
            }
            CX_DK_UNROLL for (int e = TL; e < NP + S - 1 - TH; ++e)
                CX_DK_UNROLL for (int s = 0; s < S; ++s)
                    if (e - s >= 0 && e - s < NP)
                        acc[e - s] += CX_NAME(dk_fold_w)(NP, S, TL, TH, FOLD, wv, e - s, s) *
                                      CX_NAME(dv_splat)(xs[s][e]);
        } else
#else
        (void)EMB;
#endif
        {
            CX_DK_UNROLL for (int e = TL; e < NP + S - 1 - TH; ++e) {
                const CX_DV bx = CX_NAME(dv_splat)(xp[e]);
                CX_DK_UNROLL for (int s = 0; s < S; ++s)
                    if (e - s >= 0 && e - s < NP)
                        acc[e - s] += CX_NAME(dk_fold_w)(NP, S, TL, TH, FOLD, wv, e - s, s) *
                                      bx;
            }
        }
        t += S;
    } while (t < taps);
    CX_NAME(dk_fwdc_out)(NP, acc, tr, yo, ldc, m);
}

/* (taps, wq, base, off, bias, tr, yo, ldc, m): see dk_fwdc_tile, dk_fwdc_out */
typedef void (*CX_NAME(dk_fwdc_fn))(ptrdiff_t, const CX_T *, const CX_T *, const ptrdiff_t *,
                                    const CX_T *, CX_T *, CX_T *, ptrdiff_t, unsigned);
#define CX_DK_FWDC(NP)                                                                     \
    static void CX_NAME(dk_fwdc_##NP)(ptrdiff_t taps, const CX_T *wq, const CX_T *base,    \
                                      const ptrdiff_t *off, const CX_T *bias, CX_T *tr,    \
                                      CX_T *yo, ptrdiff_t ldc, unsigned m)                 \
    {                                                                                      \
        CX_NAME(dk_fwdc_tile)(NP, taps, wq, base, off, bias, tr, yo, ldc, m);              \
    }
CX_DK_FWDC(4) CX_DK_FWDC(6) CX_DK_FWDC(7) CX_DK_FWDC(8) CX_DK_FWDC(12) CX_DK_FWDC(14)
#undef CX_DK_FWDC
static const CX_NAME(dk_fwdc_fn) CX_NAME(dk_fwdc_fns)[6] = {
    CX_NAME(dk_fwdc_4), CX_NAME(dk_fwdc_6), CX_NAME(dk_fwdc_7),
    CX_NAME(dk_fwdc_8), CX_NAME(dk_fwdc_12), CX_NAME(dk_fwdc_14)};
/* dk_fwdcs_NP_S and its edge forms dk_fwdcs_NP_S_e1 (the first (S-1)/2 band
   pixels left out), _e2 (the last (S-1)/2), _e3 (both): "same" padding's zero
   columns at the row's first and last tiles; dk_fwdcsb_NP_S...: the same
   with embedded broadcasts (CX_DK_EMBC) */
#define CX_DK_FWDCS2(B, EMB, NP, S, SUF, TL, TH, FOLD)                                      \
    static void CX_NAME(dk_fwdcs##B##_##NP##_##S##SUF)(ptrdiff_t taps, const CX_T *wq,     \
                                                       const CX_T *base,                    \
                                                       const ptrdiff_t *off,                \
                                                       const CX_T *bias, CX_T *tr,          \
                                                       CX_T *yo, ptrdiff_t ldc, unsigned m) \
    {                                                                                      \
        CX_NAME(dk_fwdcs_tile)(NP, S, TL, TH, FOLD, EMB, taps, wq, base, off, bias, tr, yo, \
                               ldc, m);                                                    \
    }
#if CX_DK_EMBC
#define CX_DK_FWDCS1(NP, S, SUF, TL, TH, FOLD)                                             \
    CX_DK_FWDCS2(, 0, NP, S, SUF, TL, TH, FOLD) CX_DK_FWDCS2(b, 1, NP, S, SUF, TL, TH, FOLD)
#else
#define CX_DK_FWDCS1(NP, S, SUF, TL, TH, FOLD) CX_DK_FWDCS2(, 0, NP, S, SUF, TL, TH, FOLD)
#endif
#define CX_DK_FWDCS(NP, S)                                                                 \
    CX_DK_FWDCS1(NP, S, , 0, 0, 0) CX_DK_FWDCS1(NP, S, _e1, (S - 1) / 2, 0, 0)            \
    CX_DK_FWDCS1(NP, S, _e2, 0, (S - 1) / 2, 0)                                           \
    CX_DK_FWDCS1(NP, S, _e3, (S - 1) / 2, (S - 1) / 2, 0)                                 \
    CX_DK_FWDCS1(NP, S, _f1, (S - 1) / 2, 0, 1) CX_DK_FWDCS1(NP, S, _f2, 0, (S - 1) / 2, 1) \
    CX_DK_FWDCS1(NP, S, _f3, (S - 1) / 2, (S - 1) / 2, 1)                                 \
    CX_DK_FWDCS1(NP, S, _g1, (S - 1) / 2, 0, 2) CX_DK_FWDCS1(NP, S, _g2, 0, (S - 1) / 2, 2) \
    CX_DK_FWDCS1(NP, S, _g3, (S - 1) / 2, (S - 1) / 2, 2)
#define CX_DK_FWDCS_S(S)                                                                   \
    CX_DK_FWDCS(4, S) CX_DK_FWDCS(6, S) CX_DK_FWDCS(7, S) CX_DK_FWDCS(8, S)               \
    CX_DK_FWDCS(12, S) CX_DK_FWDCS(14, S)
CX_DK_FWDCS_S(3) CX_DK_FWDCS_S(5) CX_DK_FWDCS_S(7)
#undef CX_DK_FWDCS_S
#undef CX_DK_FWDCS
#undef CX_DK_FWDCS1
#undef CX_DK_FWDCS2

/* AVX2's 12-pixel tile of 3-tap rows in assembly. Its 12 accumulators, 3 tap
   vectors and a broadcast take all 16 registers; GCC 12 compiles the C tile
   above with two accumulators spilled to the stack each kernel row (a store and
   a reload on their FMA chains): 77% of a 32-channel 3x3x3 forward's time sat in
   it at ~55% of the FMA peak, and a loop over an L1-resident band measured it at
   53-66 GFLOP/s against 79-94 for this form (peak ~97). The same FMAs in the
   same order as the C tile (bit for bit; CX_DEV_NO_ASM runs the C one):
   band pixel e is broadcast once and multiplied by tap s into accumulator
   e - s. taps: a multiple of 3, >= 3. */
#if CX_DK_CV8 && defined(__x86_64__)
#define CX_DK_ASM12 1
#define CX_DK_A_BC(byte) "vbroadcastss " #byte "(%%rax), %%ymm15\n\t"
#define CX_DK_A_F(w, j) "vfmadd231ps %%ymm" #w ", %%ymm15, %[a" #j "]\n\t"
#define CX_DK_A_E(byte, j0, j1, j2) CX_DK_A_BC(byte) CX_DK_A_F(12, j0) CX_DK_A_F(13, j1) CX_DK_A_F(14, j2)
static void CX_NAME(dk_fwdcs_12_3a)(ptrdiff_t taps, const CX_T *wq, const CX_T *base,
                                     const ptrdiff_t *off, const CX_T *bias, CX_T *tr,
                                     CX_T *yo, ptrdiff_t ldc, unsigned m)
{
    (void)yo, (void)ldc, (void)m;   /* (AVX2: results to tr only) */
    CX_DV a0 = CX_NAME(dv_load)(bias), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
          a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    /* ymm12-14: the kernel row's 3 tap vectors; ymm15: the broadcast pixel */
    __asm__ volatile(
        "1:\n\t"
        "movq (%[off]), %%rax\n\t"
        "vmovups (%[w]), %%ymm12\n\t"
        "vmovups 32(%[w]), %%ymm13\n\t"
        "vmovups 64(%[w]), %%ymm14\n\t"
        "leaq (%[x],%%rax,4), %%rax\n\t"
        CX_DK_A_BC(0) CX_DK_A_F(12, 0)
        CX_DK_A_BC(4) CX_DK_A_F(12, 1) CX_DK_A_F(13, 0)
        CX_DK_A_E(8, 2, 1, 0) CX_DK_A_E(12, 3, 2, 1) CX_DK_A_E(16, 4, 3, 2)
        CX_DK_A_E(20, 5, 4, 3) CX_DK_A_E(24, 6, 5, 4) CX_DK_A_E(28, 7, 6, 5)
        CX_DK_A_E(32, 8, 7, 6) CX_DK_A_E(36, 9, 8, 7) CX_DK_A_E(40, 10, 9, 8)
        CX_DK_A_E(44, 11, 10, 9)
        CX_DK_A_BC(48) CX_DK_A_F(13, 11) CX_DK_A_F(14, 10)
        CX_DK_A_BC(52) CX_DK_A_F(14, 11)
        "addq $24, %[off]\n\t"
        "addq $96, %[w]\n\t"
        "cmpq %[end], %[off]\n\t"
        "jb 1b\n\t"
        : [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [a4] "+x"(a4),
          [a5] "+x"(a5), [a6] "+x"(a6), [a7] "+x"(a7), [a8] "+x"(a8), [a9] "+x"(a9),
          [a10] "+x"(a10), [a11] "+x"(a11), [w] "+r"(wq), [off] "+r"(off)
        : [x] "r"(base), [end] "r"(off + taps)
        : "rax", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
    const CX_DV acc[12] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};
    for (int j = 0; j < 12; ++j)
        CX_NAME(dv_store)(tr + j * 8, acc[j]);
}
#undef CX_DK_A_E
#undef CX_DK_A_F
#undef CX_DK_A_BC
#else
#define CX_DK_ASM12 0
#endif
#define CX_DK_FWDCS_E(B, NP, S)                                                            \
    {{CX_NAME(dk_fwdcs##B##_##NP##_##S), CX_NAME(dk_fwdcs##B##_##NP##_##S##_e1),          \
      CX_NAME(dk_fwdcs##B##_##NP##_##S##_e2), CX_NAME(dk_fwdcs##B##_##NP##_##S##_e3)},    \
     {CX_NAME(dk_fwdcs##B##_##NP##_##S), CX_NAME(dk_fwdcs##B##_##NP##_##S##_f1),          \
      CX_NAME(dk_fwdcs##B##_##NP##_##S##_f2), CX_NAME(dk_fwdcs##B##_##NP##_##S##_f3)},    \
     {CX_NAME(dk_fwdcs##B##_##NP##_##S), CX_NAME(dk_fwdcs##B##_##NP##_##S##_g1),          \
      CX_NAME(dk_fwdcs##B##_##NP##_##S##_g2), CX_NAME(dk_fwdcs##B##_##NP##_##S##_g3)}}
#define CX_DK_FWDCS_ROW(B, S)                                                              \
    {CX_DK_FWDCS_E(B, 4, S), CX_DK_FWDCS_E(B, 6, S), CX_DK_FWDCS_E(B, 7, S),              \
     CX_DK_FWDCS_E(B, 8, S), CX_DK_FWDCS_E(B, 12, S), CX_DK_FWDCS_E(B, 14, S)}
/* [0 broadcasts apart, 1 embedded (CX_DK_EMBC; cx_dk_embc)][S = 3, 5, 7][index
   of NP in cx_dk_nps][0 zero padding, 1 reflect, 2 replicate: the left-out
   pixels' products folded, cx_dk_fold][edge: 0 every band pixel, 1 the first
   (S-1)/2 left out, 2 the last, 3 both] */
static const CX_NAME(dk_fwdc_fn) CX_NAME(dk_fwdcs_fns)[1 + CX_DK_EMBC][3][6][3][4] = {
    {CX_DK_FWDCS_ROW(, 3), CX_DK_FWDCS_ROW(, 5), CX_DK_FWDCS_ROW(, 7)},
#if CX_DK_EMBC
    {CX_DK_FWDCS_ROW(b, 3), CX_DK_FWDCS_ROW(b, 5), CX_DK_FWDCS_ROW(b, 7)},
#endif
};
#undef CX_DK_FWDCS_ROW
#undef CX_DK_FWDCS_E
#endif
/* The lanes of a tile's first min(left, nv) pixels (left > 0, nv <= 16). */
static inline unsigned cx_dk_pixmask(ptrdiff_t left, ptrdiff_t nv)
{
    return (1u << cx_min(left, nv)) - 1u;
}

/* pixels per channel-vector tile (a compile-time set) */
static const ptrdiff_t cx_dk_nps[6] = {4, 6, 7, 8, 12, 14};

/* The kernel-row width the sliding channel tiles (dk_fwdcs) take for d's
   forward: S for rows of 3, 5 or 7 contiguous taps, else 3, 5 or 7 where it
   divides S (a 9-tap row is three rows of 3 contiguous taps: the tiles read
   off[t] at each chunk's first tap only), 0 where the row's taps are not
   contiguous (stride or dilation along it) or no width divides S. */
static ptrdiff_t cx_dk_slide(const cx_conv2d_desc *d)
{
    if (d->stride_w != 1 || d->dil_w != 1)
        return 0;
    if (d->S == 3 || d->S == 5 || d->S == 7)
        return d->S;
    return d->S % 3 == 0 ? 3 : d->S % 5 == 0 ? 5 : d->S % 7 == 0 ? 7 : 0;
}

/* Do the sliding tiles take their embedded-broadcast form (CX_DK_EMBC)? Where
   the CPU runs 512-bit FMAs as two halves (Zen 4: the broadcasts apart would
   take FP-pipe time), not where it has two full-width FMA pipes (Zen 5,
   Intel: the tile is then bound by its loads). Both forms give the same bits. */
#if CX_DK_EMBC
static int cx_dk_embc(void)
{
    if (cx_dev_flags & CX_DEV_EMBC)
        return 1;
    if (cx_dev_flags & CX_DEV_NO_EMBC)
        return 0;
    return cx_cpu_avx512_halves();
}
#endif

#if CX_DK_CV
/* (not inlined: inlined into the caller's loop over pixel blocks, GCC kept 16
   destination pointers as induction variables, spilled to the stack; a short
   block's rows are masked stores) */
__attribute__((noinline)) static void CX_NAME(dk_transpose16)(const CX_T *restrict src,
                                                             CX_T *restrict dst,
                                                             ptrdiff_t ldd, ptrdiff_t npix)
{
    CX_DV r[16];
    for (int i = 0; i < 16; ++i)
        r[i] = CX_NAME(dv_load)(src + i * 16);
    CX_NAME(dk_tr16)(r);
    if (npix == 16) {
        for (int c = 0; c < 16; ++c)
            CX_NAME(dv_store)(dst + c * ldd, r[c]);
        return;
    }
    const unsigned m = (1u << npix) - 1u;
    for (int c = 0; c < 16; ++c)
        CX_NAME(dv_mask_store)(dst + c * ldd, m, r[c]);
}
#endif

/* The band of dk_fill_band from channels-last input: xn is image n's
   (H, W, C) pixels, c0 the group's first channel; zero padding only. Blocks
   of 16 pixels x 16 channels are turned by in-register transposes where the
   vectors have 16 lanes, the rest element by element. */
#if CX_DK_CV && CX_DK_STREAM
/* dst[c*ld + j] = src[j*ps + c] for 8 channels c and pixels j < np <= 32, one
   16x16 transpose: pixel i's channels in the low half of vector i, pixel 16 + i's
   in the high half (no zero rows), so that vector c < 8 comes out as channel c of
   pixels 0..15 and vector 8 + c of pixels 16..31; masked loads (nothing past a
   pixel's 8 channels is read) and masked stores of the np valid columns. */
/* dk_gather8x32 of contiguous pixels (ps == 8): each vector two whole pixels,
   loaded masked at pixel np (16 loads where the 16 x 16 transpose made 32
   half-vector loads and 16 inserts), turned by three stages of 8 two-source
   permutes (lanes (pixel bit 0, channel) of register pixel / 2 to lane pixel of
   register channel; 24 permutes for 32 pixels where the transpose took 64
   shuffles). Stage 1 pairs registers 2i, 2i + 1 (pixel bit 1 out of the
   registers, channel bit 0 in; lanes then (channel bits 2 and 1, pixel bits 1
   and 0)), stage 2 registers i, i + 2 (pixel bit 2 for channel bit 1), stage 3
   i, i + 4 (pixel bit 3 for channel bit 2: whole 256-bit halves). */
static void CX_NAME(dk_gather8x32c)(const CX_T *src, ptrdiff_t np, CX_T *dst, ptrdiff_t ld)
{
    const __m512i i1a = _mm512_setr_epi32(0, 8, 16, 24, 2, 10, 18, 26, 4, 12, 20, 28, 6, 14, 22, 30);
    const __m512i i1b = _mm512_setr_epi32(1, 9, 17, 25, 3, 11, 19, 27, 5, 13, 21, 29, 7, 15, 23, 31);
    const __m512i i2a = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    const __m512i i2b = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    CX_ASAN_RUN(src, np * 8);
    for (ptrdiff_t h = 0; h < 32 && h < np; h += 16) {
        __m512 r[8], s[8];
        for (int v = 0; v < 8; ++v) {
            const ptrdiff_t k = (np - h - 2 * v) * 8;       /* elements left from here */
            const __mmask16 m = k >= 16 ? (__mmask16)0xFFFF
                                : k > 0 ? (__mmask16)((1u << k) - 1u) : (__mmask16)0;
            r[v] = k >= 16 ? _mm512_loadu_ps(src + (h + 2 * v) * 8)
                           : _mm512_maskz_loadu_ps(m, src + (h + 2 * v) * 8);
        }
        for (int i = 0; i < 8; i += 2) {
            s[i] = _mm512_permutex2var_ps(r[i], i1a, r[i + 1]);
            s[i + 1] = _mm512_permutex2var_ps(r[i], i1b, r[i + 1]);
        }
        for (int i = 0; i < 8; i += 4) {
            r[i] = _mm512_permutex2var_ps(s[i], i2a, s[i + 2]);
            r[i + 1] = _mm512_permutex2var_ps(s[i + 1], i2a, s[i + 3]);
            r[i + 2] = _mm512_permutex2var_ps(s[i], i2b, s[i + 2]);
            r[i + 3] = _mm512_permutex2var_ps(s[i + 1], i2b, s[i + 3]);
        }
        const ptrdiff_t left = np - h;
        const unsigned m = left >= 16 ? 0xFFFFu : (1u << left) - 1u;
        for (int c = 0; c < 4; ++c) {
            const __m512d a = _mm512_castps_pd(r[c]), b = _mm512_castps_pd(r[c + 4]);
            const CX_DV lo = (CX_DV)_mm512_castpd_ps(_mm512_shuffle_f64x2(a, b, 0x44));
            const CX_DV hi = (CX_DV)_mm512_castpd_ps(_mm512_shuffle_f64x2(a, b, 0xEE));
            if (m == 0xFFFFu) {
                CX_NAME(dv_store)(dst + c * ld + h, lo);
                CX_NAME(dv_store)(dst + (c + 4) * ld + h, hi);
            } else {
                CX_NAME(dv_mask_store)(dst + c * ld + h, m, lo);
                CX_NAME(dv_mask_store)(dst + (c + 4) * ld + h, m, hi);
            }
        }
    }
}

static void CX_NAME(dk_gather8x32)(const CX_T *src, ptrdiff_t ps, ptrdiff_t np, CX_T *dst,
                                   ptrdiff_t ld)
{
    if (ps == 8) {
        CX_NAME(dk_gather8x32c)(src, np, dst, ld);
        return;
    }
    CX_DV r[16];
    for (int i = 0; i < 16; ++i) {
        __m512 v = _mm512_setzero_ps();
        if (i < np) {
            CX_ASAN_RUN(src + i * ps, 8);
            v = _mm512_maskz_loadu_ps((__mmask16)0xFF, src + i * ps);
        }
        if (16 + i < np) {
            CX_ASAN_RUN(src + (16 + i) * ps, 8);
            const __m512 u = _mm512_maskz_loadu_ps((__mmask16)0xFF, src + (16 + i) * ps);
            v = _mm512_castpd_ps(_mm512_insertf64x4(
                _mm512_castps_pd(v), _mm512_castpd512_pd256(_mm512_castps_pd(u)), 1));
        }
        r[i] = (CX_DV)v;
    }
    CX_NAME(dk_tr16)(r);
    const unsigned m0 = np >= 16 ? 0xFFFFu : (1u << np) - 1u;
    const unsigned m1 = np <= 16 ? 0u : np >= 32 ? 0xFFFFu : (1u << (np - 16)) - 1u;
    for (int c = 0; c < 8; ++c) {
        CX_NAME(dv_mask_store)(dst + c * ld, m0, r[c]);
        if (m1)
            CX_NAME(dv_mask_store)(dst + c * ld + 16, m1, r[8 + c]);
    }
}
#endif

#if CX_DK_AVX2 && CX_TSIZE == 4
/* dst[j*ldd + i] = src[i*lds + j] for i, j < 8: the unpack / shuffle /
   lane-permute transpose of one 8 x 8 float block */
/* dst[j*ldd + i] = lane j of r[i] for the first n (<= 8) rows j */
static CX_DK_INLINE void CX_NAME(dk_tr8x8_regs)(const __m256 *r, float *dst, ptrdiff_t ldd,
                                               int n)
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    /* u[0..3]: columns (0, 1, 2, 3 | 4, 5, 6, 7) of rows 0-3, u[4..7] of rows 4-7 */
    for (int j = 0; j < 4; ++j) {
        if (j < n)
            _mm256_storeu_ps(dst + j * ldd, _mm256_permute2f128_ps(u[j], u[4 + j], 0x20));
        if (4 + j < n)
            _mm256_storeu_ps(dst + (4 + j) * ldd, _mm256_permute2f128_ps(u[j], u[4 + j], 0x31));
    }
}

static CX_DK_INLINE void CX_NAME(dk_tr8x8)(const float *src, ptrdiff_t lds, float *dst,
                                          ptrdiff_t ldd)
{
    __m256 r[8];
    for (int i = 0; i < 8; ++i)
        r[i] = _mm256_loadu_ps(src + i * lds);
    CX_NAME(dk_tr8x8_regs)(r, dst, ldd, 8);
}
#endif

/* o[0, lo) = o[hi, L) = 0 in a row of L elements whose [lo, hi) the caller
   writes afterwards: whole vectors stored inside the row, which may zero part
   of [lo, hi) too (loops of a few zeros each compiled to a libc memset call
   each: 24 samples in 100 lenet1 channels-last weight gradients, 0 NCHW) */
static CX_DK_INLINE void CX_NAME(dk_zero_outside)(CX_T *o, ptrdiff_t L, ptrdiff_t lo, ptrdiff_t hi)
{
#if CX_DK_VECTORS
    if (L >= CX_DVL) {
        const CX_DV z = CX_NAME(dv_splat)(0);
        for (ptrdiff_t t = 0; t < lo; t += CX_DVL)
            CX_NAME(dv_store)(o + cx_min(t, L - CX_DVL), z);
        for (ptrdiff_t t = L; t > hi; t -= CX_DVL)
            CX_NAME(dv_store)(o + cx_max(t - CX_DVL, 0), z);
        return;
    }
#endif
    for (ptrdiff_t t = 0; t < lo; ++t)
        o[t] = 0;
    for (ptrdiff_t t = hi; t < L; ++t)
        o[t] = 0;
}

static void CX_NAME(dk_fill_band_nhwc)(const cx_conv2d_desc *d, const CX_T *xn, ptrdiff_t c0,
                                       ptrdiff_t nc, ptrdiff_t prow0, ptrdiff_t rows_in,
                                       ptrdiff_t L, CX_T *band, int keep)
{
    const ptrdiff_t H = d->H, W = d->W, C = d->C, sw = d->stride_w, pl = d->pad_left;
    const ptrdiff_t rs = sw * L;
#if CX_DK_CV && CX_DK_STREAM
    if (sw == 1 && (nc == 8 || nc % 16 == 0) && nc == C &&
        !(cx_dev_flags & CX_DEV_NO_GATHER32)) {
        /* every channel of the pixels, exactly 8 (lenet1's input gradient:
           dY's) or in blocks of 16 (lenet2's: 16): the rows' valid columns
           once, then a short loop a row, 8 channels by a gather of up to 32
           pixels, 16 by 16 x 16 transposes, their stores through a stepped
           pointer (the general loop's bookkeeping a row -- its 16 store
           addresses on the stack -- was 8% of lenet1's call, 7% of
           lenet2's); the lanes past a row's last pixel are zeros, stored
           whole inside the row, masked at its end */
        ptrdiff_t lo, hi;
        cx_valid_range(L, 1, -pl, W, &lo, &hi);
        const ptrdiff_t ld = rows_in * L;
        for (ptrdiff_t i = 0; i < rows_in; ++i) {
            const ptrdiff_t h = prow0 + i - d->pad_top;
            CX_T *b = band + i * L;
            if (h < 0 || h >= H) {
                if (!keep)
                    for (ptrdiff_t c = 0; c < nc; ++c)
                        memset(b + c * ld, 0, (size_t)L * sizeof(CX_T));
                continue;
            }
            if (!keep)
                for (ptrdiff_t c = 0; c < nc; ++c)
                    CX_NAME(dk_zero_outside)(b + c * ld, L, lo, hi);
            const CX_T *src = xn + (h * W - pl) * C;
            if (nc == 8) {
                for (ptrdiff_t t = lo; t < hi; t += 32)
                    CX_NAME(dk_gather8x32c)(src + t * 8, cx_min(32, hi - t), b + t, ld);
                continue;
            }
            for (ptrdiff_t t = lo; t < hi; t += 16) {
                const ptrdiff_t np = cx_min(16, hi - t);
                const unsigned m = cx_dk_lanes(0, L - t, CX_DVL);
                for (ptrdiff_t cb = 0; cb < nc; cb += 16) {
                    CX_DV r[16];
                    const CX_T *sp = src + t * C + cb;
                    for (int j = 0; j < 16; ++j)
                        r[j] = j < np ? CX_NAME(dv_load)(sp + j * C) : CX_NAME(dv_splat)(0);
                    CX_NAME(dk_tr16)(r);
                    CX_T *o = b + cb * ld + t;
                    for (int c = 0; c < 16; ++c) {
                        if (m == 0xFFFFu)
                            CX_NAME(dv_store)(o, r[c]);
                        else
                            CX_NAME(dv_mask_store)(o, m, r[c]);
                        o += ld;
                        CX_DK_OPAQUE(o);
                    }
                }
            }
        }
        return;
    }
#endif
    for (ptrdiff_t i = 0; i < rows_in; ++i) {
        const ptrdiff_t h = prow0 + i - d->pad_top;
        if (h < 0 || h >= H) {
            /* (kept: the band's zero rows and columns are in place, and the
               gathers below spill only zeros, into the same channel's next row) */
            if (!keep)
                for (ptrdiff_t c = 0; c < nc; ++c)
                    memset(band + (c * rows_in + i) * rs, 0, (size_t)rs * sizeof(CX_T));
            continue;
        }
        const CX_T *src = xn + (h * W) * C + c0;
        for (ptrdiff_t ph = 0; ph < sw; ++ph) {
            /* band column t of phase ph is input column t * sw + ph - pl */
            ptrdiff_t lo, hi;
            cx_valid_range(L, sw, ph - pl, W, &lo, &hi);
            for (ptrdiff_t c = 0; c < nc && !keep; ++c)
                CX_NAME(dk_zero_outside)(band + (c * rows_in + i) * rs + ph * L, L, lo, hi);
            ptrdiff_t t = lo;
#if CX_DK_CV
            ptrdiff_t cb = 0;
            /* (8 channels, e.g. lenet1's input gradient as a forward: half
               vectors, loaded masked so that nothing past a pixel is read) */
            const ptrdiff_t cw = nc >= 16 ? 16 : (nc == 8 && CX_DK_STREAM) ? 8 : 0;
#if CX_DK_STREAM
            if (sw == 1 && nc == 8 && !(cx_dev_flags & CX_DEV_NO_GATHER32)) {
                /* exactly 8 channels: 32 pixels a transpose */
                for (; t < hi; t += 32)
                    CX_NAME(dk_gather8x32)(src + (t - pl) * C, C, cx_min(32, hi - t),
                                           band + i * rs + t, rows_in * rs);
                cb = nc;
            }
#endif
            if (sw == 1 && cw > 0)
                for (; t < hi; t += 16) {
                    /* a block of np <= 16 pixels (a short one: zero vectors for
                       the rest, only np columns stored) */
                    const ptrdiff_t np = cx_min(16, hi - t);
                    for (cb = 0; cb + cw <= nc; cb += cw) {
                        CX_DV r[16];
                        const CX_T *sp = src + (t - pl) * C + cb;
                        if (cw == 8)
                            for (int j = 0; j < np; ++j)
                                CX_ASAN_RUN(sp + j * C, 8);
                        for (int j = 0; j < 16; ++j)
                            r[j] = j >= np ? CX_NAME(dv_splat)(0)
#if CX_DK_STREAM
                                   : cw == 8 ? (CX_DV)_mm512_maskz_loadu_ps((__mmask16)0xFF,
                                                                            sp + j * C)
#endif
                                   : CX_NAME(dv_load)(sp + j * C);
                        CX_NAME(dk_tr16)(r);
                        for (int c = 0; c < cw; ++c) {
                            CX_T *o = band + ((cb + c) * rows_in + i) * rs + t;
                            /* lanes past np are zeros: whole stores may run into
                               this row's zero tail and the next row's start (written
                               after this one), not past the band's last row */
                            if (np == 16 || i + 1 < rows_in || t + 16 <= rs) {
                                CX_NAME(dv_store)(o, r[c]);
                            } else {
                                CX_T tmp[16];
                                CX_NAME(dv_store)(tmp, r[c]);
                                memcpy(o, tmp, (size_t)np * sizeof(CX_T));
                            }
                        }
                    }
                }
            /* the channels past the last block of 16 of the transposed columns */
            t = cx_min(t, hi);
            for (ptrdiff_t tt = lo; tt < t; ++tt)
                for (ptrdiff_t c = cb; c < nc; ++c)
                    band[(c * rows_in + i) * rs + tt] = src[(tt - pl) * C + c];
#elif CX_DK_AVX2 && CX_TSIZE == 4
            /* 8 pixels x 8 channels a transpose (the scalar loop below was 23%
               of lenet1's channels-last input gradient, a forward of 8 channels) */
            if (sw == 1 && nc % 8 == 0 && hi - t >= 8)
                for (; t < hi; t += 8) {
                    const ptrdiff_t ts = cx_min(t, hi - 8);   /* (the last block overlaps) */
                    for (ptrdiff_t cb = 0; cb < nc; cb += 8)
                        CX_NAME(dk_tr8x8)(src + (ts - pl) * C + cb, C,
                                          band + (cb * rows_in + i) * rs + ts, rows_in * rs);
                }
#endif
            for (; t < hi; ++t) {
                const CX_T *sp = src + (t * sw + ph - pl) * C;
                for (ptrdiff_t c = 0; c < nc; ++c)
                    band[(c * rows_in + i) * rs + ph * L + t] = sp[c];
            }
        }
    }
}

/* The band of image n, group g (Cg channels) from x in the plan's layout:
   channels-last (dk_nhwc; one channel is the same bytes as NCHW) or NCHW
   through dk_fill_band with the descriptor du (a column tile's, or d). */
static void CX_NAME(dk_fill_band_of)(const cx_conv2d_desc *d, const cx_conv2d_desc *du,
                                     const cx_conv2d_plan *pl, const CX_T *x, ptrdiff_t n,
                                     ptrdiff_t g, ptrdiff_t Cg, ptrdiff_t prow0,
                                     ptrdiff_t rows_in, ptrdiff_t L, CX_T *band, int keep)
{
    if (pl->dk_nhwc && d->C > 1)
        CX_NAME(dk_fill_band_nhwc)(d, x + n * d->H * d->W * d->C, g * Cg, Cg, prow0, rows_in,
                                   L, band, keep);
    else
        CX_NAME(dk_fill_band)(du, x + (n * d->C + g * Cg) * d->H * d->W, Cg, prow0, rows_in, L,
                              band, x + d->N * d->C * d->H * d->W, keep);
}

static int cx_dk_log2(ptrdiff_t v) { return v >= 8 ? 3 : v >= 4 ? 2 : v >= 2 ? 1 : 0; }

/* Channel rows per forward tile: the largest of 8, 4, 2, 1 with its NV vectors
   of accumulators, NV loaded vectors and a broadcast in the register file. */
static ptrdiff_t CX_NAME(dk_fwd_mr)(ptrdiff_t nv)
{
    ptrdiff_t mr = 8;
    while (mr > 1 && mr * nv + nv + 1 > CX_VREGS)
        mr /= 2;
    return mr;
}

/* Output rows per tile for mr channels and nc vectors a row: the most (up to 4)
   whose accumulators, plus the operands held at once, fit the register file. */
static ptrdiff_t CX_NAME(dk_fwd_nr)(ptrdiff_t mr, ptrdiff_t nc)
{
    ptrdiff_t nr = 4;
    while (nr > 1 && mr * nr * nc + cx_min(mr, nr * nc) + 1 > CX_VREGS)
        --nr;
    return nr;
}

/* The kernel rows [*lo, *hi) whose input rows output row p reads inside the
   image (the others read only top or bottom padding). */
static void cx_dk_rows_valid(const cx_conv2d_desc *d, ptrdiff_t p, ptrdiff_t *lo, ptrdiff_t *hi)
{
    const ptrdiff_t top = p * d->stride_h - d->pad_top, dh = d->dil_h;
    ptrdiff_t a = 0, b = d->R;
    while (a < b && top + a * dh < 0)
        ++a;
    while (b > a && top + (b - 1) * dh >= d->H)
        --b;
    *lo = a;
    *hi = b;
}

/* Whether each of the et + eb edge rows' padded kernel rows (those outside
   cx_dk_rows_valid's) reads a padded row that copies (d->pad_mode) an input
   row one of the edge row's own kernel rows reads: then its weight can be
   added onto that kernel row's (cx_dk_fold, dk_pack_edges). */
static ptrdiff_t cx_dk_fold_row(const cx_conv2d_desc *d, ptrdiff_t p, ptrdiff_t r,
                                ptrdiff_t lo, ptrdiff_t hi);
static int cx_dk_fold_rows(const cx_conv2d_desc *d, ptrdiff_t et, ptrdiff_t eb)
{
    for (ptrdiff_t e = 0; e < et + eb; ++e) {
        const ptrdiff_t p = e < et ? e : d->P - eb + (e - et);
        ptrdiff_t lo, hi;
        cx_dk_rows_valid(d, p, &lo, &hi);
        for (ptrdiff_t r = 0; r < d->R; ++r)
            if ((r < lo || r >= hi) && cx_dk_fold_row(d, p, r, lo, hi) < 0)
                return 0;
    }
    return 1;
}

/* The kernel row in [lo, hi) of output row p that reads the input row which
   padded kernel row r's row copies, or -1 where none does. */
static ptrdiff_t cx_dk_fold_row(const cx_conv2d_desc *d, ptrdiff_t p, ptrdiff_t r,
                                ptrdiff_t lo, ptrdiff_t hi)
{
    const ptrdiff_t top = p * d->stride_h - d->pad_top, dh = d->dil_h;
    const ptrdiff_t src = cx_pad_source(top + r * dh, d->H, d->pad_mode);
    if (src < 0 || src >= d->H || (src - top) % dh != 0)
        return -1;
    const ptrdiff_t r2 = (src - top) / dh;
    return r2 >= lo && r2 < hi ? r2 : -1;
}

/* A reflect or replicate padding on the channel-vector sliding forward tiles
   (dk_mode 2), folded onto the taps (the padding mode is set after planning:
   the caller asks conv2d_fold and sets plan->dk_fold). Bit 1: the edge rows
   (dk_etop, dk_ebot) run on compacted taps whose weights carry each padded
   kernel row's taps added onto those of the kernel row that reads the row it
   copies (dk_pack_edges), where every padded row they read has such a kernel
   row. Bit 2: a row's first and last tiles leave the padded columns out and
   add their taps onto the taps that read the columns they copy (dk_fwdcs_tile,
   FOLD), where those tiles' edge pixels are exactly the padding's: "same"
   padding ((S-1)/2 each side) with unit steps and whole tiles to the row's
   end, and where the rows fold too: with both, the band's padded positions
   are never read. The products of zero padding's tiles (lenet2: 64 of a
   kernel row's 70, 15-20 of 25 kernel rows in the edge rows), where the band
   form multiplies every padded copy: `bench/ab.py lenet2 fwd NCHW T
   268435456 R S reflect` (CX_DEV_NO_FOLD). */
static int cx_dk_fold_rule(const cx_conv2d_desc *d, const cx_conv2d_plan *pl)
{
    int fold = 0;
    if (pl->dk_mode != 2 || pl->op != CX_OP_FWD || pl->dk_tperm > 1 ||
        (d->pad_mode != CX_PAD_REFLECT && d->pad_mode != CX_PAD_REPLICATE) ||
        cx_dk_slide(d) != d->S || (cx_dev_flags & CX_DEV_NO_FOLD))
        return 0;
    if (pl->dk_etop + pl->dk_ebot > 0 && pl->apack_units > 0 && pl->dk_qt == 0 &&
        cx_dk_fold_rows(d, pl->dk_etop, pl->dk_ebot))
        fold |= 1;
    /* (columns only with the rows: then the band is zero padding's, kept
       from item to item; alone, a 3x3 kernel's edge tile trades one FMA a
       kernel row for an add, and latency1's reflect forward ran 0.975 of
       the band form's time) */
    const ptrdiff_t eh = (d->S - 1) / 2;
    if (fold && d->S > 1 && pl->dk_qt == 0 && d->pad_left == eh && d->Q == d->W &&
        d->Q % pl->dk_nv == 0 && d->W > eh)
        fold |= 2;
    return fold;
}

/* The plan's fold (cx_dk_fold_rule, found once a call: conv2d_fold; its
   rows' check was 1.5% of lenet2's reflect forward asked three times an
   item), none on an item's unfolded copy (dk_nofold). */
static int cx_dk_fold(const cx_conv2d_plan *pl)
{
    return pl->dk_nofold ? 0 : pl->dk_fold;
}

/* Edge rows: the first et and the last eb output rows; edge row e is output row
   cx_dk_edge_p(P, et, eb, e). */
static ptrdiff_t cx_dk_edge_p(ptrdiff_t P, ptrdiff_t et, ptrdiff_t eb, ptrdiff_t e)
{
    return e < et ? e : P - eb + (e - et);
}

/* Edge row e of the plan's (dk_etop, dk_ebot): its kernel rows, and the offset
   of its compacted weight after the group's full one (the rows before it). */
static void cx_dk_edge_row(const cx_conv2d_desc *d, ptrdiff_t et, ptrdiff_t eb, ptrdiff_t e,
                           ptrdiff_t *lo, ptrdiff_t *hi, size_t *woff)
{
    const ptrdiff_t Kg = d->K / d->groups, Cg = d->C / d->groups;
    size_t o = (size_t)(Kg * Cg * d->R * d->S);
    for (ptrdiff_t i = 0; i < e; ++i) {
        ptrdiff_t a, b;
        cx_dk_rows_valid(d, cx_dk_edge_p(d->P, et, eb, i), &a, &b);
        o += (size_t)(Kg * Cg * (b - a) * d->S);
    }
    cx_dk_rows_valid(d, cx_dk_edge_p(d->P, et, eb, e), lo, hi);
    *woff = o;
}

/* The weight's tap (a row of wg: folded channel c*T + t, then r, s) that the
   tiles' tap j reads: j itself, or with the plan's depth-major order
   (dk_tperm = T > 1) j = ((t*Cs + c)*R + r)*S + s, Cs = Cg/T. */
static ptrdiff_t cx_dk_src_tap(const cx_conv2d_desc *d, const cx_conv2d_plan *pl, ptrdiff_t j)
{
    const ptrdiff_t T = pl->dk_tperm;
    if (T <= 1)
        return j;
    const ptrdiff_t RS = d->R * d->S, Cs = d->C / d->groups / T, c2 = j / RS;
    return ((c2 % Cs) * T + c2 / Cs) * RS + j % RS;
}

#if CX_DK_CV
/* dst[j*16 + i] = src[i*lds + j] for the 16 channels i and the taps j < n:
   16 x 16 transposes of the channels' runs of taps (a short last block through
   masked loads). The channel-vector tiles' weight packs per call, lenet2's
   forward 5 us a call with one gathered load per element (1% of it at 1
   thread, 2% at 2: the packing runs on one). */
static void CX_NAME(dk_pack16)(const CX_T *restrict src, ptrdiff_t lds, ptrdiff_t n,
                               CX_T *restrict dst)
{
    for (ptrdiff_t j0 = 0; j0 < n; j0 += 16) {
        const ptrdiff_t m = cx_min(16, n - j0);
        const unsigned mk = (1u << m) - 1u;
        CX_DV r[16];
        for (int i = 0; i < 16; ++i)
            r[i] = CX_NAME(dv_maskz_load)(mk, src + i * lds + j0);
        CX_NAME(dk_tr16)(r);
        for (ptrdiff_t j = 0; j < m; ++j)
            CX_NAME(dv_store)(dst + (j0 + j) * 16, r[j]);
    }
}
#endif

/* The weight of one group (Kg x taps) in the tiles' order: channel blocks of
   mr = 8, 4, 2, 1 (as many of each as the plan's tile allows), each [tap][mr]. */
static void CX_NAME(dk_pack_weight)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                    const CX_T *wg, CX_T *wp)
{
    const ptrdiff_t Kg = d->K / d->groups, taps = (d->C / d->groups) * d->R * d->S;
    if (pl->dk_mode == 2) {
        /* blocks of CX_DK_CVL (16 or 8) channels, each [tap][channel] */
        const ptrdiff_t cvl = CX_DK_CVL;
#if CX_DK_CV
        if (pl->dk_tperm <= 1 && Kg % 16 == 0 && !(cx_dev_flags & CX_DEV_NO_PACK16)) {
            for (ptrdiff_t k0 = 0; k0 < Kg; k0 += 16)
                CX_NAME(dk_pack16)(wg + k0 * taps, taps, taps, wp + k0 * taps);
            return;
        }
#endif
        for (ptrdiff_t k0 = 0; k0 < Kg; k0 += cvl)
            for (ptrdiff_t t = 0; t < taps; ++t) {
                const ptrdiff_t ts = cx_dk_src_tap(d, pl, t);
                for (ptrdiff_t i = 0; i < cvl; ++i)
                    wp[k0 * taps + t * cvl + i] = wg[(k0 + i) * taps + ts];
            }
        return;
    }
    for (ptrdiff_t k0 = 0; k0 < Kg;) {
        const ptrdiff_t mr = (ptrdiff_t)1 << cx_dk_log2(cx_min(Kg - k0, pl->dk_mr));
        CX_T *wb = wp + k0 * taps;
        for (ptrdiff_t t = 0; t < taps; ++t) {
            const ptrdiff_t ts = cx_dk_src_tap(d, pl, t);
            for (ptrdiff_t i = 0; i < mr; ++i)
                wb[t * mr + i] = wg[(k0 + i) * taps + ts];
        }
        k0 += mr;
    }
}

/* Workspace elements of a forward item (double: the sizes of absurd geometries,
   e.g. strides of 2**59, must compare as large, not overflow). */
static double CX_NAME(dk_fwd_ws)(const cx_conv2d_desc *d, ptrdiff_t rows, ptrdiff_t L,
                                 int packed)
{
    const double Cg = (double)(d->C / d->groups), Kg = (double)(d->K / d->groups);
    const double taps = Cg * (double)d->R * (double)d->S;
    const double rows_in = (double)(rows - 1) * (double)d->stride_h +
                           (double)(d->R - 1) * (double)d->dil_h + 1;
    return taps * 2 + 1 + (packed ? 0 : Kg * taps) +
           Cg * rows_in * (double)d->stride_w * (double)L;
}

/* Geometries whose band sizes stay far from overflow (the plans then check the
   real sizes against their budgets). */
static int cx_dk_sane(const cx_conv2d_desc *d)
{
    const ptrdiff_t big = (ptrdiff_t)1 << 24;
    return d->stride_h <= big && d->stride_w <= big && d->dil_h <= big && d->dil_w <= big &&
           d->R <= big && d->S <= big && d->Q <= big * big && d->P <= big * big;
}

static int CX_NAME(plan_fwd_dk)(const cx_conv2d_desc *d, cx_conv2d_plan *pl)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, P = d->P, Q = d->Q;
    if (P <= 0 || Q <= 0 || Cg <= 0 || Kg <= 0 || d->N <= 0 || !cx_dk_sane(d))
        return 0;
    const ptrdiff_t VL = CX_DVL;
    /* nv vectors along each output row (whole rows when they fit 4 vectors),
       several rows per tile as registers allow (dk_fwd_nr; only when one tile
       spans the row). Many output channels: 2 vectors, so that 8 channels fit
       (10 loads per 16 FMAs against 8 per 16 for 4 x 4, and 8 x 3 rows of
       narrow images: 11 loads per 24 FMAs). */
    ptrdiff_t nv = Q <= VL ? 1 : Q <= 2 * VL ? 2 : 4;
    if (nv == 4 && Kg >= 8 && CX_NAME(dk_fwd_mr)(2) == 8)
        nv = 2;
#if CX_VREGS < 32
    /* 16 registers: 4 x 1 x 2 tiles rather than 2 x 1 x 4 (the same loads per
       FMA, but half the pixel vectors, the loads that split cache lines) */
    if (nv == 4 && Kg >= 4)
        nv = 2;
#endif
    int multirow = cx_ceil_div(Q, nv * VL) == 1 && VL > 1;
    ptrdiff_t vb = nv * VL, mr = CX_NAME(dk_fwd_mr)(nv);
    /* the weight is packed once per call into a shared buffer when it fits
       CX_APACK_BYTES (then the items' workspace holds only offsets and band) */
    const int packed = (double)G * Kg * Cg * d->R * d->S * sizeof(CX_T) <= (double)CX_APACK_BYTES;
#if CX_DK_CV || CX_DK_CV8
    /* channel vectors when they fill clearly more lanes: pixel tiles use Q of
       16 lanes and P of ceil(P/3)*3 rows (8 x 3 tiles), channel tiles Q of
       ceil(Q/np)*np pixels (AVX2: 8 lanes, 8 channels a vector; the sliding
       tiles only, NP + S + 1 registers) */
    /* wider rows too where the sliding tiles apply (kernel rows of 3, 5 or 7
       contiguous taps): they run at ~100% of the FMA peak in a loop over an
       L1-resident band, the pixel tiles at ~80% (counted 0.8 below); measured
       on 56-wide 3x3 layers 3-11% faster end to end, 7x7 on 40-wide rows 25-36%
       (the band fill and transposes take the rest) */
    const ptrdiff_t slide = cx_dk_slide(d);
    const int sliding = slide > 0;
    const ptrdiff_t cvl = CX_DK_CVL;
    /* (wide rows only where one output row's band fits and its pixel-major
       results stay small, or 1-D rows (P = 1, one band row), cut into column
       tiles below as the pixel tiles' are; 2-D rows longer still take the
       pixel tiles) */
    if ((Q <= VL || (sliding && Q * 16 * (ptrdiff_t)sizeof(CX_T) <= (ptrdiff_t)(CX_DK_BAND_BYTES / 4) &&
                     CX_NAME(dk_fwd_ws)(d, 1 + 4, CX_NAME(dk_row_len)(d, 14), packed) <=
                         (double)(CX_DK_BAND_BYTES / sizeof(CX_T))) ||
         (sliding && P == 1 && !(cx_dev_flags & CX_DEV_NO_CV1D))) &&
        Kg % cvl == 0 && (CX_DK_CV || (sliding && !(cx_dev_flags & CX_DEV_NO_CV8)))) {
        /* the tile width with the most useful work per cycle: lanes used
           (Q of ceil(Q/c)*c) times the tile's own rate, modelled c / (c + 5)
           (a band pixel broadcast and the accumulators' upkeep are shared by
           c pixels; fitted to 3x3, 512 channels, 2 threads: 30-wide rows ran
           352 GFLOP/s at c = 6, which wastes no lane, against 478 for 28-wide
           rows at c = 14; with c = 12 the 30-wide rows then ran 423) */
        ptrdiff_t np = 0;
        double np_rate = 0;
        for (int i = 0; i < 6; ++i) {
            const ptrdiff_t c = cx_dk_nps[i];
            if (!CX_DK_CV && c + slide + 1 > CX_VREGS)
                continue;    /* (accumulators, a chunk's weights and a broadcast) */
            const double rate = (double)Q / (double)(cx_ceil_div(Q, c) * c) *
                                (double)c / (double)(c + 5);
            if (!np || rate >= np_rate) {
                np = c;
                np_rate = rate;
            }
        }
        const double pv = Q <= VL ? (double)Q / VL * (double)P / (double)(cx_ceil_div(P, 3) * 3)
                                  : 0.8 * (double)Q / (double)(cx_ceil_div(Q, vb) * vb);
        const double cv = (double)Q / (double)(cx_ceil_div(Q, np) * np);
        if (cv > 1.05 * pv) {
            multirow = 2;
            nv = np;
            vb = np;
            mr = cvl;
        }
    }
#endif
    ptrdiff_t L = CX_NAME(dk_row_len)(d, vb);
    /* one-channel row-walking tiles (fwd_dk_group) on rows of whole vectors:
       aligned loads and in-register column shifts */
    if (CX_DK_ALIGNR && multirow == 1 && d->stride_w == 1 && d->dil_w == 1 &&
        d->stride_h == 1 && d->dil_h == 1 && d->R == d->S && (d->R == 3 || d->R == 5) &&
        !(cx_dev_flags & CX_DEV_NO_ROWALIGN))
        L = cx_ceil_div(L, VL) * VL;
    const ptrdiff_t per = d->N * G;
    ptrdiff_t rows = cx_max(cx_min(cx_ceil_div(CX_DK_PIXELS, Q), P), 1);
    if (per * cx_ceil_div(P, rows) < CX_TARGET_ITEMS)
        rows = cx_max(cx_min(rows, cx_ceil_div(P * per, CX_TARGET_ITEMS)), 1);
    const double budget = (double)(CX_DK_BAND_BYTES / sizeof(CX_T));
    while (rows > 1 && CX_NAME(dk_fwd_ws)(d, rows + 4, L, packed) > budget)
        rows = rows / 2;
    ptrdiff_t qt = 0, qtiles = 1;
    if (CX_NAME(dk_fwd_ws)(d, rows + 4, L, packed) > budget) {
        /* rows too long for one band (long 1-D signals): cut each output row
           into column tiles of qt pixels (a multiple of the tile's vb), one
           band row of qt + halo inputs each, and more tiles when the threads
           would otherwise get too few items */
        if (multirow == 1 || (multirow == 2 && P != 1))
            return 0;   /* (channel tiles: 1-D rows only, one band row) */
        const ptrdiff_t halo = L - cx_ceil_div(Q, vb) * vb;
        qt = cx_ceil_div(Q, vb) * vb;
        while (qt > vb && CX_NAME(dk_fwd_ws)(d, rows + 4, qt + halo, packed) > budget)
            qt = cx_ceil_div(qt / 2, vb) * vb;
        const ptrdiff_t bands = per * cx_ceil_div(P, rows);
        if (bands * cx_ceil_div(Q, qt) < CX_TARGET_ITEMS)
            qt = cx_min(qt, cx_max(cx_ceil_div(cx_ceil_div(Q * bands, CX_TARGET_ITEMS), vb) * vb,
                                   vb));
        L = qt + halo;
        if (CX_NAME(dk_fwd_ws)(d, rows + 4, L, packed) > budget)
            return 0;
        qtiles = cx_ceil_div(Q, qt);
    }
    pl->dk_qt = qt;
    pl->dk_qtiles = qtiles;
    pl->dk = 1;
    pl->dk_mode = multirow;
    pl->dk_nv = nv;
    pl->dk_mr = mr;
    pl->dk_L = L;
    pl->tile = rows;
    pl->ntiles = cx_ceil_div(P, rows);
    /* Thin groups (depthwise): an item takes cblock consecutive groups, whose
       planes are adjacent in memory, so that each thread streams long runs
       (one 3136-pixel plane per item left the prefetchers little to go on). */
    pl->cblock = 1;
    if (G > 1 && pl->ntiles == 1) {
        const ptrdiff_t per_group = Kg * Cg * P * Q;
        ptrdiff_t gb = cx_max(CX_DK_GROUP_WORK / cx_max(per_group, 1), 1);
        gb = cx_min(gb, cx_max(d->N * G / CX_TARGET_ITEMS, 1));
        pl->cblock = cx_max(cx_min(gb, G), 1);
    }
    pl->cblocks = cx_ceil_div(G, pl->cblock);
    pl->nitems = d->N * pl->cblocks * pl->ntiles * qtiles;
    /* thin groups (a few multiply-adds per output) whose output is far larger
       than the caches: memory-bound, so y is streamed out (dk_stream) */
    pl->dk_stream = CX_DK_STREAM && multirow != 2 && qt == 0 && Cg * d->R * d->S <= 64 &&
                    Kg <= 4 && (double)d->N * d->K * P * Q * sizeof(CX_T) > 8.0 * (1 << 20);
    /* one channel in and out a group (depthwise), unit steps, 3x3, zero
       padding, one tile spanning each row (4 rows of nv vectors): the tiles
       read x in place, no band (dk_fwdx_tile; 5x5 ran 1.8x slower in place,
       not taken) */
    pl->dk_inplace = CX_DK_FWDX && pl->dk_stream && Cg == 1 && Kg == 1 && multirow == 1 &&
                     d->stride_h == 1 && d->stride_w == 1 && d->dil_h == 1 && d->dil_w == 1 &&
                     d->R == 3 && d->S == 3 && d->pad_mode == CX_PAD_ZEROS && nv * VL >= Q &&
                     CX_NAME(dk_fwd_nr)(1, nv) == 4 &&
                     !(cx_dev_flags & (CX_DEV_NO_ROWWALK | CX_DEV_NO_ROWALIGN |
                                       CX_DEV_NO_INPLACE));
    pl->ws_elems = (size_t)CX_NAME(dk_fwd_ws)(d, rows + 4, L, packed) + 2 * CX_DVL_MAX +
                   CX_DK_STAMP +
                   (pl->dk_stream ? (size_t)(mr * rows * Q + 2 * CX_DVL_MAX) : 0) +
                   /* channel tiles: 16 biases and the band's pixel-major outputs */
                   (multirow == 2 ? (size_t)(16 + (rows * (qt ? qt : Q) + 32) * 16) : 0);
    pl->apack_units = packed ? G : 0;
    pl->apack_elems = packed ? (size_t)(Kg * Cg * d->R * d->S) : 0;
    /* edge rows on compacted taps (channel-vector tiles, prepacked weight,
       whole rows): the first and last rows with kernel rows on padding alone,
       at most 16 of them, each with at least one kernel row on the image
       (lenet2: rows 0, 1, 12, 13 run 15, 20, 20, 15 of 25 taps a channel) */
    pl->dk_etop = pl->dk_ebot = 0;
    pl->dk_edge = 0;
    /* edge columns (sliding channel tiles): some tile's first or last eh =
       (S-1)/2 band pixels on zero columns, the first tile's where pad_left >=
       eh, the last's where the tiles' Qt = ceil(Q/nv)*nv columns end eh or
       more past the image (lenet2: 2 band pixels at each end of a 14-pixel
       row's 18, 6 of a kernel row's 70 products left out) */
    pl->dk_ecol = 0;
#if CX_DK_CV || CX_DK_CV8
    if (multirow == 2 && cx_dk_slide(d) == d->S && d->S > 1) {
        const ptrdiff_t eh = (d->S - 1) / 2, Qt = cx_ceil_div(Q, nv) * nv;
        pl->dk_ecol = d->pad_left >= eh || Qt + d->S - 1 - eh >= d->pad_left + d->W;
    }
#endif
    if (multirow == 2 && packed && qt == 0) {
        ptrdiff_t et = 0, eb = 0, lo, hi, ok = 1;
        while (et < P && ok) {
            cx_dk_rows_valid(d, et, &lo, &hi);
            ok = hi > lo;
            if (lo == 0 && hi == d->R)
                break;
            ++et;
        }
        while (et + eb < P && ok) {
            cx_dk_rows_valid(d, P - 1 - eb, &lo, &hi);
            ok = hi > lo;
            if (lo == 0 && hi == d->R)
                break;
            ++eb;
        }
        if (ok && et + eb > 0 && et + eb <= 16) {
            size_t end;     /* (the offset one past the last edge row's copy) */
            cx_dk_edge_row(d, et, eb, et + eb - 1, &lo, &hi, &end);
            end += (size_t)(Kg * Cg * (hi - lo) * d->S);
            const size_t extra = end - pl->apack_elems;
            /* (only where the whole prepacked weight stays small: res3x3_256's
               2.4 MB with its 3.1 MB of edge copies ran 3% slower at 1 thread
               and 9% at 2 -- the edge rows' copies stream from memory -- while
               lenet2's 49 KB gained 5-6%) */
            if ((double)G * (double)(pl->apack_elems + extra) * sizeof(CX_T) <=
                (double)(128 << 10)) {
                pl->dk_etop = et;
                pl->dk_ebot = eb;
                pl->apack_elems += extra;
                /* the compacted tap offsets of the row being run */
                pl->ws_elems += (size_t)(Cg * d->R * d->S) * sizeof(ptrdiff_t) / sizeof(CX_T) +
                                64;
            }
        }
    }
    return 1;
}

/* The compacted weights of the edge rows (plan: dk_etop, dk_ebot) after
   group g's full one at wp (which holds Kg x taps in blocks of CX_DK_CVL
   channels, each [tap][channel]): each row's blocks [tap'][channel] over the
   taps (c, r, s) with r in its kernel rows, in order. */
static void CX_NAME(dk_pack_edges)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                   const CX_T *wg, CX_T *wp)
{
    const ptrdiff_t Kg = d->K / d->groups, Cg = d->C / d->groups, R = d->R, S = d->S;
    const ptrdiff_t taps = Cg * R * S, cvl = CX_DK_CVL;
    for (ptrdiff_t e = 0; e < pl->dk_etop + pl->dk_ebot; ++e) {
        ptrdiff_t lo, hi;
        size_t woff;
        cx_dk_edge_row(d, pl->dk_etop, pl->dk_ebot, e, &lo, &hi, &woff);
        const ptrdiff_t tv = Cg * (hi - lo) * S;
        CX_T *dst = wp + woff;
#if CX_DK_CV
        if (pl->dk_tperm <= 1 && Kg % 16 == 0 && !(cx_dev_flags & CX_DEV_NO_PACK16)) {
            /* (each channel's kernel rows [lo, hi): one run of taps) */
            const ptrdiff_t n1 = (hi - lo) * S;
            for (ptrdiff_t k0 = 0; k0 < Kg; k0 += 16)
                for (ptrdiff_t c = 0; c < Cg; ++c)
                    CX_NAME(dk_pack16)(wg + k0 * taps + (c * R + lo) * S, taps, n1,
                                       dst + k0 * tv + c * n1 * 16);
            continue;
        }
#endif
        for (ptrdiff_t k0 = 0; k0 < Kg; k0 += cvl) {
            ptrdiff_t j = 0;
            for (ptrdiff_t c = 0; c < Cg; ++c)
                for (ptrdiff_t t = (c * R + lo) * S; t < (c * R + hi) * S; ++t, ++j) {
                    const ptrdiff_t ts = cx_dk_src_tap(d, pl, t);
                    for (ptrdiff_t i = 0; i < cvl; ++i)
                        dst[k0 * tv + j * cvl + i] = wg[(k0 + i) * taps + ts];
                }
        }
    }
    if (!(cx_dk_fold(pl) & 1))
        return;
    /* a reflect or replicate padding's edge rows (cx_dk_fold): each padded
       kernel row's taps added onto those of the kernel row that reads the
       row it copies, in kernel-row order */
    for (ptrdiff_t e = 0; e < pl->dk_etop + pl->dk_ebot; ++e) {
        ptrdiff_t lo, hi;
        size_t woff;
        cx_dk_edge_row(d, pl->dk_etop, pl->dk_ebot, e, &lo, &hi, &woff);
        const ptrdiff_t p = cx_dk_edge_p(d->P, pl->dk_etop, pl->dk_ebot, e);
        const ptrdiff_t n1 = (hi - lo) * S, tv = Cg * n1;
        for (ptrdiff_t r = 0; r < R; ++r) {
            if (r >= lo && r < hi)
                continue;
            const ptrdiff_t r2 = cx_dk_fold_row(d, p, r, lo, hi);
            for (ptrdiff_t k0 = 0; k0 < Kg; k0 += cvl) {
                CX_T *dst = wp + woff + k0 * tv + (r2 - lo) * S * cvl;
                for (ptrdiff_t c = 0; c < Cg; ++c)
                    for (ptrdiff_t s2 = 0; s2 < S; ++s2)
                        for (ptrdiff_t i = 0; i < cvl; ++i)
                            dst[(c * n1 + s2) * cvl + i] +=
                                wg[(k0 + i) * taps + (c * R + r) * S + s2];
            }
        }
    }
}

static void CX_NAME(fwd_dk_group)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                  const CX_T *x, const CX_T *w, const CX_T *bias, CX_T *y,
                                  ptrdiff_t n, ptrdiff_t g, ptrdiff_t bi, CX_T *ws,
                                  const CX_T *pf, ptrdiff_t pfn);

/* Group g of an item whose groups end at g1 (fwd_dk_group), the next
   group's plane fetched while this one's tiles run. */
static void CX_NAME(fwd_dk_step)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                 const CX_T *x, const CX_T *w, const CX_T *bias, CX_T *y,
                                 ptrdiff_t n, ptrdiff_t g, ptrdiff_t g1, ptrdiff_t bi,
                                 CX_T *ws)
{
    const ptrdiff_t G = d->groups, plane = (d->C / G) * d->H * d->W;
    const int ahead = g + 1 < g1 && pl->ntiles == 1 && !pl->dk_nhwc;
    if (ahead && (cx_dev_flags & CX_DEV_NO_PFSPREAD))
        CX_NAME(dk_prefetch)(x + (n * G + g + 1) * plane, plane);
    const int spread = ahead && !(cx_dev_flags & CX_DEV_NO_PFSPREAD);
    CX_NAME(fwd_dk_group)(d, pl, x, w, bias, y, n, g, bi, ws,
                          spread ? x + (n * G + g + 1) * plane : NULL, plane);
}

/* One item (n, block of cblock groups, band of output rows[, column tile]):
   y[n, those groups' channels, band rows[, tile columns]]. */
static void CX_NAME(fwd_dk)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                            const CX_T *x, const CX_T *w, const CX_T *bias, CX_T *y,
                            ptrdiff_t item, CX_T *ws)
{
    if (pl->dk_qt > 0) {
        /* a column tile [q0, q0 + qt) is the convolution of the same input
           with Q = qt outputs and the padding moved left by q0 * stride,
           written at column q0 of rows of Q pixels */
        const ptrdiff_t qi = item % pl->dk_qtiles, q0 = qi * pl->dk_qt;
        cx_conv2d_desc dq = *d;
        dq.Q = cx_min(pl->dk_qt, d->Q - q0);
        dq.pad_left = d->pad_left - q0 * d->stride_w;
        cx_conv2d_plan pq = *pl;
        pq.dk_qt = 0;
        pq.dk_pitch = d->Q;
        CX_NAME(fwd_dk)(&dq, &pq, x, w, bias, y + q0, item / pl->dk_qtiles, ws);
        return;
    }
    const ptrdiff_t G = d->groups;
    const ptrdiff_t bi = item % pl->ntiles, gbi = (item / pl->ntiles) % pl->cblocks;
    const ptrdiff_t n = item / (pl->ntiles * pl->cblocks);
    const ptrdiff_t g1 = cx_min(G, (gbi + 1) * pl->cblock);
    for (ptrdiff_t g = gbi * pl->cblock; g < g1; ++g)
        CX_NAME(fwd_dk_step)(d, pl, x, w, bias, y, n, g, g1, bi, ws);
    if (pl->dk_stream)
        CX_NAME(dk_sfence)();
}

/* dst (npix, K) = src (K, npix; rows ld apart) transposed, K <= 64: eight pixels at a time
   through a small block, whose loads and stores are contiguous runs.
   stream: an output far beyond the caches, whose whole 64-byte lines the
   16-channel transposes then write with non-temporal stores (no read of the
   line first: the stem's channels-last forward 0.85x the time). */
static void CX_NAME(dk_to_pixels)(CX_T *restrict dst, const CX_T *restrict src, ptrdiff_t K,
                                  ptrdiff_t npix, ptrdiff_t ld, int stream)
{
    ptrdiff_t j0 = 0;
    (void)stream;
#if CX_DK_CV
    /* 16 channels x 16 pixels a transpose; streamed: a block of 16 pixels
       through an aligned buffer, copied out by dk_stream_copy (whatever the
       output's alignment: y's lines start wherever numpy put it) */
    if (K % 16 == 0 && K <= 64) {
        CX_T blk[16 * 64] __attribute__((aligned(64)));
        for (; j0 + 16 <= npix; j0 += 16) {
            CX_T *o = stream ? blk : dst + j0 * K;
            for (ptrdiff_t k0 = 0; k0 < K; k0 += 16) {
                CX_DV r[16];
                for (int i = 0; i < 16; ++i)
                    r[i] = CX_NAME(dv_load)(src + (k0 + i) * ld + j0);
                CX_NAME(dk_tr16)(r);
                for (int j = 0; j < 16; ++j)
                    CX_NAME(dv_store)(o + j * K + k0, r[j]);
            }
            if (stream)
                CX_NAME(dk_stream_copy)(dst + j0 * K, blk, 16 * K);
        }
        if (stream)
            CX_NAME(dk_sfence)();
    }
#endif
#if CX_DK_AVX2 && CX_TSIZE == 4
    /* 8 channels x 8 pixels a transpose */
    if (K % 8 == 0)
        for (; j0 + 8 <= npix; j0 += 8)
            for (ptrdiff_t k0 = 0; k0 < K; k0 += 8)
                CX_NAME(dk_tr8x8)(src + k0 * ld + j0, ld, dst + j0 * K + k0, K);
#endif
    for (; j0 + 8 <= npix; j0 += 8)
        for (ptrdiff_t k0 = 0; k0 < K; k0 += 16) {
            const ptrdiff_t kn = cx_min(16, K - k0);
            CX_T blk[16][8];
            for (ptrdiff_t k = 0; k < kn; ++k)
                for (int j = 0; j < 8; ++j)
                    blk[k][j] = src[(k0 + k) * ld + j0 + j];
            for (int j = 0; j < 8; ++j)
                for (ptrdiff_t k = 0; k < kn; ++k)
                    dst[(j0 + j) * K + k0 + k] = blk[k][j];
        }
    for (; j0 < npix; ++j0)
        for (ptrdiff_t k = 0; k < K; ++k)
            dst[j0 * K + k] = src[k * ld + j0];
}

#if CX_DK_CV8
/* Most taps of the 8-channel pixel tiles (their weight is regrouped on the stack). */
#define CX_DK_FWD8_TAPS 256
#endif

#if CX_DK_CV
/* Pixels [j0, j1 rounded down to 16) of 8 channel rows of src (pitch npix)
   stored pixel-major at dst (8 channels a pixel), 16 pixels a transpose
   (dk_tr8x16: 24 shuffles and 8 whole stores; one 16 x 16 transpose of 32
   pixels, 64 shuffles and 32 half stores, took 1.07x the time once the
   stores no longer came in one burst: bench/README.md, session 28).
   Returns where the next call starts. */
static ptrdiff_t CX_NAME(dk_pixels8)(CX_T *restrict dst, const CX_T *restrict src,
                                     ptrdiff_t npix, ptrdiff_t j0, ptrdiff_t j1)
{
    for (; j0 + 16 <= j1; j0 += 16) {
        CX_DV r[8];
        for (int i = 0; i < 8; ++i)
            r[i] = CX_NAME(dv_load)(src + i * npix + j0);
        CX_NAME(dk_tr8x16)(r);
        for (int j = 0; j < 8; ++j)
            CX_NAME(dv_store)(dst + (j0 + 2 * j) * 8, r[j]);
    }
    return j0;
}
#endif

/* The tiles of one filled band: output rows [p0, p0 + rows) of group g's Kg
   channels from band (tap t of a pixel at off[t] past it; wpk: the group's
   packed weight; scratch: the thread's workspace past the band, for biases and
   the tiles' buffers). Channels-first outputs go to yg (channel k at
   yg + k*ldc, rows of the plan's pitch or Q); channels-last ones to image n of y.
   [ca, cb): the input channels (of d's Cg) whose taps the channel-vector
   tiles run (0, Cg but where conv3d_fwd leaves out an output depth's padding
   depths: channels that read only zeros); the other tiles run all Cg. */
static void CX_NAME(dk_fwd_band)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                 const CX_T *band, CX_T *scratch, const ptrdiff_t *off,
                                 const CX_T *wpk, ptrdiff_t n, ptrdiff_t g, ptrdiff_t p0,
                                 ptrdiff_t rows, const CX_T *bias, CX_T *y, CX_T *yg,
                                 ptrdiff_t ldc, const CX_T *pf, ptrdiff_t pfn, ptrdiff_t ca,
                                 ptrdiff_t cb, const cx_dk_inplace *xin,
                                 const CX_NAME(dk_pfset) *pfs)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G;
    const ptrdiff_t taps = Cg * d->R * d->S, P = d->P, Q = d->Q, L = pl->dk_L;
    const ptrdiff_t nv = pl->dk_nv, VL = CX_DVL, vb = pl->dk_mode == 2 ? nv : nv * VL;
    const int multirow = pl->dk_mode == 1;
    (void)P;  /* (channels-last outputs only) */
    const ptrdiff_t rstep = d->stride_h * d->stride_w * L;
    /* rows of whole vectors, unit column step: the row-walking tiles shift
       aligned vectors rather than load at every column offset */
    const int rowalign = CX_DK_ALIGNR && d->stride_w == 1 && d->dil_w == 1 && L % VL == 0 &&
                         !(cx_dev_flags & CX_DEV_NO_ROWALIGN);
#if CX_DK_CV || CX_DK_CV8
    if (pl->dk_mode == 2) {
        const ptrdiff_t cvl = CX_DK_CVL;
        int npi = 0;
        while (cx_dk_nps[npi] != nv)
            ++npi;
        CX_NAME(dk_fwdc_fn) fn = CX_NAME(dk_fwdc_fns)[npi];
        /* kernel rows of 3, 5 or 7 contiguous taps (or of chunks of them):
           the sliding tiles */
        const ptrdiff_t slide = cx_dk_slide(d);
        /* (their embedded-broadcast form where the FMAs run as halves) */
#if CX_DK_EMBC
        const int emb = cx_dk_embc();
#else
        const int emb = 0;
#endif
        if (slide)
            fn = CX_NAME(dk_fwdcs_fns)[emb][(slide - 3) / 2][npi][0][0];
        const CX_NAME(dk_fwdc_fn) fn0 = fn;
        /* (a padding mode folded onto the taps, cx_dk_fold: below) */
        const int fold = cx_dk_fold(pl);
#if CX_DK_ASM12
        /* (not where the edge tiles fold a padding's columns: they must) */
        if (fn == CX_NAME(dk_fwdcs_12_3) && !(cx_dev_flags & CX_DEV_NO_ASM) && !(fold & 2))
            fn = CX_NAME(dk_fwdcs_12_3a);
#endif
        CX_T *bb = scratch;
        /* tr[(p*Q + q)*cvl + c]: a tile's pixels past the row's end land on the
           next row's, written after it (slack past the band's last pixel) */
        CX_T *tr = bb + 16;
        const ptrdiff_t npix = rows * Q;
        /* edge rows (dk_edge): the taps on the image only, compacted
           (weights prepacked after the group's, offsets here), same order */
        /* (or a reflect or replicate padding's, folded: cx_dk_fold) */
        const int edge = ((pl->dk_edge && d->pad_mode == CX_PAD_ZEROS) || (fold & 1)) &&
                         pl->apack_units > 0 && pl->dk_qt == 0 &&
                         !(cx_dev_flags & CX_DEV_NO_EDGE);
        /* edge columns (dk_edge, dk_ecol): a tile whose first (or last) eh =
           (S-1)/2 band pixels are zero padding's columns (band column j is
           input column j - pad_left; those outside [0, W) are zero up to the
           row's end, L >= the tiles' q0 + nv + S - 1) leaves them out; not
           for AVX2's 12-pixel assembly tile (its C forms spill) */
        const int ecol = ((pl->dk_edge && pl->dk_ecol && d->pad_mode == CX_PAD_ZEROS &&
                           !(cx_dev_flags & CX_DEV_NO_ECOL)) || (fold & 2)) &&
                         slide == d->S && fn == fn0;
        const ptrdiff_t eh = (d->S - 1) / 2;
        /* (a folding plan's: the reflect or replicate forms, whose edge
           tiles are exactly a row's first and last: cx_dk_fold) */
        const int fmode = (fold & 2) ? (d->pad_mode == CX_PAD_REFLECT ? 1 : 2) : 0;
        const CX_NAME(dk_fwdc_fn) *efn =
            slide ? CX_NAME(dk_fwdcs_fns)[emb][(slide - 3) / 2][npi][fmode] : NULL;
        /* channels-first outputs, 16 lanes: each tile transposes its results
           and stores them in place (dk_fwdc_out), not through tr */
        const int fused = CX_DK_CV && !pl->dk_nhwc && !(cx_dev_flags & CX_DEV_NO_FWDCT);
        const int nhwc_rows = pl->dk_nhwc && !(cx_dev_flags & CX_DEV_NO_ROWSOUT);
        const ptrdiff_t ostep = slide ? slide : 1;
        ptrdiff_t *eoff = (ptrdiff_t *)(((size_t)(tr + (pl->tile * Q + 32) * cvl) +
                                         sizeof(ptrdiff_t) - 1) & ~(sizeof(ptrdiff_t) - 1));
        for (ptrdiff_t k0 = 0; k0 < Kg; k0 += cvl) {
            for (ptrdiff_t i = 0; i < cvl; ++i)
                bb[i] = bias ? bias[g * Kg + k0 + i] : (CX_T)0;
            for (ptrdiff_t p = 0; p < rows; ++p) {
                const ptrdiff_t gp = p0 + p;
                if (k0 == 0)
                    CX_NAME(dk_prefetch_set)(pfs, p, p + 1, rows);
                /* the channels [ca, cb) of the taps: a run of them */
                const ptrdiff_t nrs = d->R * d->S;
                ptrdiff_t tv = (cb - ca) * nrs;
                const CX_T *wv = wpk + k0 * taps + ca * nrs * cvl;
                const ptrdiff_t *ov = off + ca * nrs;
                if (edge && (gp < pl->dk_etop || gp >= P - pl->dk_ebot)) {
                    const ptrdiff_t e = gp < pl->dk_etop ? gp : pl->dk_etop + gp - (P - pl->dk_ebot);
                    ptrdiff_t lo, hi;
                    size_t woff;
                    cx_dk_edge_row(d, pl->dk_etop, pl->dk_ebot, e, &lo, &hi, &woff);
                    const ptrdiff_t R = d->R, S = d->S, n1 = (hi - lo) * S;
                    tv = (cb - ca) * n1;
                    wv = wpk + woff + k0 * Cg * n1 + ca * n1 * cvl;
                    /* (the sliding tiles read a kernel row's offset at its
                       chunks' first taps only: those alone, not a memcpy per
                       channel, 1% of lenet2's forward) */
                    for (ptrdiff_t c = ca; c < cb; ++c)
                        for (ptrdiff_t i = 0; i < n1; i += ostep)
                            eoff[c * n1 + i] = off[(c * R + lo) * S + i];
                    ov = eoff + ca * n1;
                }
                /* (fused: the tile's pixels on the row, as lanes of a mask) */
                CX_T *yo = fused ? yg + k0 * ldc + p * Q : NULL;
                if (ecol) {
                    for (ptrdiff_t q0 = 0; q0 < Q; q0 += nv) {
                        const int k = (q0 + eh <= d->pad_left) |
                                      (q0 + nv + d->S - 1 - eh >= d->pad_left + d->W) << 1;
                        efn[k](tv, wv, band + p * rstep + q0, ov, bb, tr + (p * Q + q0) * cvl,
                               yo ? yo + q0 : NULL, ldc, cx_dk_pixmask(Q - q0, nv));
                    }
                } else {
                    for (ptrdiff_t q0 = 0; q0 < Q; q0 += nv)
                        fn(tv, wv, band + p * rstep + q0, ov, bb, tr + (p * Q + q0) * cvl,
                           yo ? yo + q0 : NULL, ldc, cx_dk_pixmask(Q - q0, nv));
                }
                if (nhwc_rows) {
                    /* pixel-major already: the row's cvl channels of each
                       pixel to (n, p, q, k) at once, beside the next row's
                       tiles (the band's copy after its last row, a burst of
                       stores, CX_DEV_NO_ROWSOUT: 1.066 | 1.064x the time,
                       lenet2's forward) */
                    CX_T *yp = y + ((n * P + p0 + p) * Q) * d->K + g * Kg + k0;
                    const CX_T *tp = tr + p * Q * cvl;
                    for (ptrdiff_t j = 0; j < Q; ++j)
                        CX_NAME(dv_store)(yp + j * d->K, CX_NAME(dv_load)(tp + j * cvl));
                }
            }
            if (fused)
                continue;
            if (pl->dk_nhwc) {
                /* pixel-major already: cvl channels of each pixel to (n, p, q, k) */
                CX_T *yp = y + (n * P + p0) * Q * d->K + g * Kg + k0;
                for (ptrdiff_t j = 0; j < npix && !nhwc_rows; ++j)
                    CX_NAME(dv_store)(yp + j * d->K, CX_NAME(dv_load)(tr + j * cvl));
                continue;
            }
            CX_T *yk = yg + k0 * ldc;
#if CX_DK_CV
            for (ptrdiff_t j0 = 0; j0 < npix; j0 += 16)
                CX_NAME(dk_transpose16)(tr + j0 * 16, yk + j0, ldc, cx_min(16, npix - j0));
#else
            /* 8 pixels x 8 channels a transpose; a short last block through a
               buffer (the channel rows' next pixels belong to other items) */
            ptrdiff_t j0 = 0;
            for (; j0 + 8 <= npix; j0 += 8)
                CX_NAME(dk_tr8x8)(tr + j0 * 8, 8, yk + j0, ldc);
            if (j0 < npix) {
                CX_T tmp[64];
                CX_NAME(dk_tr8x8)(tr + j0 * 8, 8, tmp, 8);
                for (int c = 0; c < 8; ++c)
                    memcpy(yk + c * ldc + j0, tmp + c * 8, (size_t)(npix - j0) * sizeof(CX_T));
            }
#endif
        }
        return;
    }
#endif
    for (ptrdiff_t k0 = 0; k0 < Kg;) {
        const ptrdiff_t mr = (ptrdiff_t)1 << cx_dk_log2(cx_min(Kg - k0, pl->dk_mr));
        const ptrdiff_t nr = multirow ? CX_NAME(dk_fwd_nr)(mr, nv) : 1;
        const CX_T *wb = wpk + k0 * taps;
        CX_NAME(dk_fwd_fn) fn = CX_NAME(dk_fwd_fns)[cx_dk_log2(mr)][nr - 1][cx_dk_log2(nv)];
        /* one channel, several rows, unit vertical step, square 3x3 or 5x5:
           the tile walked by input row */
        CX_NAME(dk_fwdre_fn) fe = NULL;
        if (mr == 1 && nr >= 2 && d->stride_h == 1 && d->dil_h == 1 && d->R == d->S &&
            (d->R == 3 || d->R == 5) && !(cx_dev_flags & CX_DEV_NO_ROWWALK)) {
            fn = CX_NAME(dk_fwdr_fns)[rowalign][d->R == 5][nr - 2][cx_dk_log2(nv)];
            /* zero padding's rows left out where the caller allows (dk_edge:
               it marks the NaNs of 0 * inf; band row i is input row p0 + i -
               pad_top) */
            if (pl->dk_edge && d->pad_mode == CX_PAD_ZEROS && rowalign == CX_DK_ALIGNR &&
                !(cx_dev_flags & CX_DEV_NO_ZROWS))
                fe = CX_NAME(dk_fwdre_fns)[d->R == 5][nr - 2][cx_dk_log2(nv)];
        }
        /* channels-last results streamed out: a result far beyond the caches */
        const int nhwc_stream = (double)d->N * P * Q * Kg * sizeof(CX_T) > 8.0 * (1 << 20);
        /* a tile at band row p: its rows [jlo, jhi) hold input rows */
        const ptrdiff_t zlo = d->pad_top - p0, zhi = d->H + d->pad_top - p0;
        const ptrdiff_t nj = nr + d->R - 1;
        const CX_T *bk = bias ? bias + g * Kg + k0 : NULL;
        /* a column tile's rows are Q of ldq pixels: its vectors may spill only
           inside its own row (the next columns belong to another item) */
        const ptrdiff_t ldq = pl->dk_pitch ? pl->dk_pitch : Q;
        CX_T *yk = yg + k0 * ldc;
#if CX_DK_CV
        if (pl->dk_nhwc == 1 && Kg == 8 && mr == 8) {
            /* channels-last output of one group of Kg = mr = 8 channels (plan:
               groups == 1): tiles to a buffer, then 16 pixels at a time turned
               pixel-major by an in-register transpose and stored densely (two
               8-channel pixels a vector, dk_pixels8), the last short block
               through tmp */
            CX_T *tb = scratch + CX_DVL_MAX;
            const ptrdiff_t npix = rows * Q;
            CX_T *yp = y + (n * P + p0) * Q * Kg;
            ptrdiff_t j0 = 0;
            const int early = !(cx_dev_flags & CX_DEV_NO_ROWSOUT);
            for (ptrdiff_t p = 0; p < rows; p += nr) {
                for (ptrdiff_t q0 = 0; q0 < Q; q0 += vb)
                    fn(taps, wb, band + p * rstep + q0, off, rstep, tb + p * Q + q0, rows * Q,
                       Q, (rows - p) * Q - q0, cx_min(nr, rows - p), Q - q0, bk);
                /* the pixels of the rows done so far (the tiles' vectors
                   spill only past them) turned pixel-major at once: their
                   stores to y then run beside the next rows' multiply-adds,
                   not as one burst of the whole band after its tiles
                   (CX_DEV_NO_ROWSOUT: 1.075 | 1.098x the time, lenet1) */
                if (early)
                    j0 = CX_NAME(dk_pixels8)(yp, tb, npix, j0, cx_min(p + nr, rows) * Q);
            }
            j0 = CX_NAME(dk_pixels8)(yp, tb, npix, j0, npix);
            for (; j0 < npix; j0 += 16) {
                const ptrdiff_t np = cx_min(16, npix - j0);
                CX_DV r[16];
                for (int i = 0; i < 16; ++i) {
                    if (i < mr && np == 16) {
                        r[i] = CX_NAME(dv_load)(tb + i * npix + j0);
                    } else if (i < mr) {
                        CX_T tmp[16] = {0};
                        memcpy(tmp, tb + i * npix + j0, (size_t)np * sizeof(CX_T));
                        r[i] = CX_NAME(dv_load)(tmp);
                    } else {
                        r[i] = CX_NAME(dv_splat)(0);
                    }
                }
                CX_NAME(dk_tr16)(r);
                CX_T *o = yp + j0 * Kg;
                CX_T tmp[256];
                CX_T *dst = np == 16 ? o : tmp;
                for (int j = 0; j < 16; j += 2)
                    CX_NAME(dv_store)(dst + j * 8,
                                      __builtin_shufflevector(r[j], r[j + 1], 0, 1, 2, 3, 4, 5,
                                                              6, 7, 16, 17, 18, 19, 20, 21, 22,
                                                              23));
                if (np < 16)
                    memcpy(o, tmp, (size_t)(np * Kg) * sizeof(CX_T));
            }
            k0 += mr;
            continue;
        }
#endif
#if CX_DK_CV8
        if (pl->dk_nhwc == 1 && k0 == 0 && Kg == 8 && mr == 4 && taps <= CX_DK_FWD8_TAPS &&
            !(cx_dev_flags & CX_DEV_NO_FWD8)) {
            /* channels-last output of one group of 8 channels, where the plan
               kept the pixel tiles (strided or other kernel rows): the 8-lane
               channel-vector tile (dk_fwdc_tile, one vector a pixel's 8
               channels) straight into y (the pixel tiles' results turned
               pixel-major by 8 x 8 transposes cost lenet1 19% over NCHW);
               the weight's two 4-channel blocks regrouped [tap][8] */
            CX_T wq[CX_DK_FWD8_TAPS * 8], bv[8];
            for (ptrdiff_t t = 0; t < taps; ++t)
                for (int k = 0; k < 8; ++k)
                    wq[t * 8 + k] = wpk[(k / 4) * 4 * taps + t * 4 + k % 4];
            for (int k = 0; k < 8; ++k)
                bv[k] = bias ? bias[g * Kg + k] : (CX_T)0;
            for (ptrdiff_t p = 0; p < rows; ++p) {
                const CX_T *bp = band + p * rstep;
                CX_T *yp = y + ((n * P + p0 + p) * Q) * 8;
                ptrdiff_t q = 0;
                for (; q + 12 <= Q; q += 12)
                    CX_NAME(dk_fwdc_tile)(12, taps, wq, bp + q, off, bv, yp + q * 8, NULL, 0, 0);
                for (; q + 4 <= Q; q += 4)
                    CX_NAME(dk_fwdc_tile)(4, taps, wq, bp + q, off, bv, yp + q * 8, NULL, 0, 0);
                for (; q < Q; ++q)
                    CX_NAME(dk_fwdc_tile)(1, taps, wq, bp + q, off, bv, yp + q * 8, NULL, 0, 0);
            }
            return;
        }
#endif
        if (pl->dk_nhwc == 1 && k0 == 0 && Kg > mr && Kg % mr == 0 && !multirow &&
            !(cx_dev_flags & CX_DEV_NO_NHWCROWS)) {
            /* channels-last output of one group of Kg <= 64 channels in
               blocks of mr (tiles of one row, not several rows a vector), a
               row at a time: every block's tiles for that
               row to channel rows of a buffer (Kg x Q), then those
               pixels turned pixel-major. The band's order (blocks outside,
               one transpose at its end) wrote a buffer of Kg x the band's
               pixels, past L1 (the stem's: 64 channels x 9 rows x 112,
               258 KB), its tiles 1.11x NCHW's time; this: 1.01-1.04x
               faster, the tiles still ~1.08x NCHW's). */
            CX_T *tb = scratch + CX_DVL_MAX;
            for (ptrdiff_t p = 0; p < rows; ++p) {
                for (ptrdiff_t kb = 0; kb < Kg; kb += mr) {
                    const CX_T *wk = wpk + kb * taps, *bkb = bias ? bias + g * Kg + kb : NULL;
                    for (ptrdiff_t q0 = 0; q0 < Q; q0 += vb)
                        fn(taps, wk, band + p * rstep + q0, off, rstep, tb + kb * Q + q0, Q, Q,
                           Q - q0, 1, Q - q0, bkb);
                }
                CX_NAME(dk_to_pixels)(y + (n * P + p0 + p) * Q * Kg, tb, Kg, Q, Q, nhwc_stream);
            }
            break;
        }
        if (pl->dk_nhwc == 1) {
            /* channels-last output of one group of Kg <= 64 channels (plan:
               groups == 1): every block's tiles to channel rows of a buffer
               after the band, turned pixel-major once the last block is in */
            CX_T *tb = scratch + CX_DVL_MAX;
            const ptrdiff_t npix = rows * Q;
            for (ptrdiff_t p = 0; p < rows; p += nr)
                for (ptrdiff_t q0 = 0; q0 < Q; q0 += vb)
                    fn(taps, wb, band + p * rstep + q0, off, rstep, tb + k0 * npix + p * Q + q0,
                       npix, Q, (rows - p) * Q - q0, cx_min(nr, rows - p), Q - q0, bk);
            k0 += mr;
            if (k0 >= Kg)
                CX_NAME(dk_to_pixels)(y + (n * P + p0) * Q * Kg, tb, Kg, npix, npix, nhwc_stream);
            continue;
        }
#if CX_DK_FWDX
        if (xin) {
            /* one channel in, one out (depthwise 3x3): no band, the tiles read
               the input plane in place (dk_fwdx_tile), its rows prefetched
               CX_DK_PF_AHEAD bytes ahead. Streamed: the tiles write a buffer
               after the band and each row of tiles' whole output lines are
               streamed out after it, so reads, multiply-adds and writes
               overlap (band fill, tiles and copy-out in sequence, a plane
               each: the fill waited on memory for 32% of the time, the
               copy-out took 17%; this: 0.79x the time). Not streamed (a
               padding mode's fused input gradient, conv2d_fwd_fold, whose
               output rows of Q are read back at once): straight to y. */
            CX_T *tb = pl->dk_stream ? scratch + CX_DVL_MAX : yk;
            unsigned mk[5];     /* (lanes on input columns [0, W)) */
            for (ptrdiff_t c = 0; c <= nv; ++c)
                mk[c] = cx_dk_lanes(d->pad_left - c * VL, d->W + d->pad_left - c * VL, VL);
            const CX_NAME(dk_fwdx_fn) fx = CX_NAME(dk_fwdx_fns)[cx_dk_log2(nv)];
            const CX_T *xp = (const CX_T *)xin->x;
            const char *pfd = (const char *)xp;
            if (xin->padx && xin->padx->mode == CX_PAD_CIRCULAR &&
                (const CX_T *)xin->pfend > xp + d->H * d->W) {
                /* (circular: the next plane's first tiles read its last
                   rows, which the prefetches along the planes reach last;
                   asked for now. Without: 1.13-1.14x zero padding's time,
                   reflect 1.07-1.09) */
                const char *e = (const char *)xin->pfend;
                for (const char *a = e - d->pad_top * d->W * (ptrdiff_t)sizeof(CX_T); a < e;
                     a += 64)
                    CX_NAME(dk_prefetch_line)((const CX_T *)a);
            }
            const ptrdiff_t npix = rows * Q;
            ptrdiff_t done = 0;
            /* (a padding mode folded onto the taps: cx_dk_tapfold, this
               channel's tables first) */
            const cx_dk_tapfold *tf = (const cx_dk_tapfold *)pl->dk_tf;
            CX_T *tab = NULL;
            /* (the specialised tiles: the right fold on the last vector, or one
               vector) */
            const int form = tf && (nv == 1 || tf->col[1] / VL == nv - 1) ? tf->form : 0;
            if (tf) {
                /* (built once a call for each channel the thread meets, kept
                   while the slot is not needed: conv2d_fwd_ring runs a block
                   of channels' images one after another) */
                const ptrdiff_t slot = g % tf->nslots;
                const long long tag = tf->stamp * d->groups + g;
                tab = (CX_T *)tf->tab + slot * 3 * CX_TF_CLASS;
                if (tf->tags[slot] != tag) {
                    if (CX_NAME(dk_tapfold_tables)(tf, wb, nv, tab))
                        tf->tags[slot] = tag;
                    else
                        *tf->bad = 1, tf->tags[slot] = -1;
                }
            }
            for (ptrdiff_t p = 0; p < rows; p += 4) {
                const ptrdiff_t h0 = p0 + p - d->pad_top;
                const ptrdiff_t h1 = cx_min(h0 + 4 + d->R - 1, d->H);
                const char *b = (const char *)(xp + cx_max(h1, 0) * d->W) + CX_DK_PF_AHEAD;
                if (b > (const char *)xin->pfend)
                    b = (const char *)xin->pfend;
                for (pfd = (const char *)((size_t)pfd & ~(size_t)63); pfd < b; pfd += 64)
                    CX_NAME(dk_prefetch_line)((const CX_T *)pfd);
                if (tf) {
                    const CX_T *wa[4];
                    int uni = 1;
                    for (int a = 0; a < 4; ++a) {
                        const ptrdiff_t i = p0 + p + a;
                        const int cl = i == tf->row[0] ? 1 : i == tf->row[1] ? 2 : 0;
                        wa[a] = tab + cl * CX_TF_CLASS;
                        uni &= cl == 0;
                    }
                    CX_NAME(dk_fwdxf_fns)[form][uni][cx_dk_log2(nv)](
                        wa, xp, d->H, d->W, h0, d->pad_left, mk, tb + p * Q, Q, (rows - p) * Q,
                        cx_min(4, rows - p), Q, bk ? bk[0] : (CX_T)0, tf->bad);
                } else if (xin->padx) {
                    CX_NAME(dk_fwdxp_fns)[cx_dk_log2(nv)](
                        wb, xp, d->H, d->W, h0, d->pad_left, mk, tb + p * Q, Q, (rows - p) * Q,
                        cx_min(4, rows - p), Q, bk ? bk[0] : (CX_T)0, xin->padx);
                } else {
                    fx(wb, xp, d->H, d->W, h0, d->pad_left, mk, tb + p * Q, Q, (rows - p) * Q,
                       cx_min(4, rows - p), Q, bk ? bk[0] : (CX_T)0);
                }
                if (pl->dk_stream && p + 4 < rows)
                    done = CX_NAME(dk_stream_upto)(yk, tb, done, (p + 4) * Q);
            }
            if (pl->dk_stream)
                CX_NAME(dk_stream_copy)(yk + done, tb + done, npix - done);
            k0 += mr;
            continue;
        }
#endif
        if (pl->dk_stream) {
            /* the tiles write the band's rows x Q outputs of mr channels to a
               buffer after the band, copied out whole (rows are contiguous) */
            CX_T *tb = scratch + CX_DVL_MAX;
            for (ptrdiff_t p = 0; p < rows; p += nr) {
                if (k0 == 0)
                    CX_NAME(dk_prefetch_part)(pf, pfn, p, p + nr, rows);
                const ptrdiff_t jlo = cx_max(zlo - p, 0), jhi = cx_min(zhi - p, nj);
                for (ptrdiff_t q0 = 0; q0 < Q; q0 += vb)
                    if (fe && (jlo > 0 || jhi < nj))
                        fe(taps, wb, band + p * rstep + q0, off, rstep, tb + p * Q + q0, Q,
                           (rows - p) * Q - q0, cx_min(nr, rows - p), Q - q0, bk, jlo, jhi);
                    else
                        fn(taps, wb, band + p * rstep + q0, off, rstep, tb + p * Q + q0,
                           rows * Q, Q, (rows - p) * Q - q0, cx_min(nr, rows - p), Q - q0, bk);
            }
            for (ptrdiff_t i = 0; i < cx_min(mr, Kg - k0); ++i)
                CX_NAME(dk_stream_copy)(yk + i * ldc, tb + i * rows * Q, rows * Q);
            k0 += mr;
            continue;
        }
        for (ptrdiff_t p = 0; p < rows; p += nr) {
            if (k0 == 0)
                CX_NAME(dk_prefetch_part)(pf, pfn, p, p + nr, rows);
            const ptrdiff_t jlo = cx_max(zlo - p, 0), jhi = cx_min(zhi - p, nj);
            for (ptrdiff_t q0 = 0; q0 < Q; q0 += vb)
                if (fe && (jlo > 0 || jhi < nj))
                    fe(taps, wb, band + p * rstep + q0, off, rstep, yk + p * ldq + q0, ldq,
                       pl->dk_pitch ? Q - q0 : (rows - p) * Q - q0, cx_min(nr, rows - p),
                       Q - q0, bk, jlo, jhi);
                else
                    fn(taps, wb, band + p * rstep + q0, off, rstep, yk + p * ldq + q0, ldc, ldq,
                       pl->dk_pitch ? Q - q0 : (rows - p) * Q - q0, cx_min(nr, rows - p),
                       Q - q0, bk);
        }
        k0 += mr;
    }
}

/* Whether the channel-vector tiles of d's forward read x in place, without a
   band: where every product they run is on the image, zero padding's being
   those they leave out. Stride and dilation 1, sliding tiles, zero padding
   skipped (dk_edge): the rows with kernel rows on padding are all edge rows
   (compacted taps), the columns' padding 0 or (S-1)/2 on each side (the
   first and last tiles leave those band pixels out, dk_ecol) and the rows
   whole tiles (no pixels past the row's end). The tiles' base for band row i
   is then x's row i - pad_top, column -pad_left, and the tap offsets those of
   a band of H rows of W. Saves the band's fill (2% of lenet2's forward, one
   masked load and store a vector). */
static int CX_NAME(dk_xin2)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl)
{
#if CX_DK_CV || CX_DK_CV8
    if (pl->dk_mode != 2 || pl->dk_nhwc || !pl->dk_edge || pl->apack_units <= 0 ||
        pl->dk_qt != 0 || pl->dk_pitch != 0 || d->pad_mode != CX_PAD_ZEROS ||
        d->stride_h != 1 || d->stride_w != 1 || d->dil_h != 1 || d->dil_w != 1 ||
        cx_dk_slide(d) != d->S ||
        (cx_dev_flags & (CX_DEV_NO_EDGE | CX_DEV_NO_ECOL | CX_DEV_NO_XIN2)))
        return 0;
    const ptrdiff_t eh = (d->S - 1) / 2, nv = pl->dk_nv, P = d->P;
    const ptrdiff_t pr = d->Q + d->S - 1 - d->W - d->pad_left;  /* (right padding used) */
    if (nv <= 0 || d->Q % nv != 0)
        return 0;
    if (!(d->pad_left == 0 && pr == 0) &&
        !(pl->dk_ecol && (d->pad_left == 0 || d->pad_left == eh) && (pr == 0 || pr == eh)))
        return 0;
#if CX_DK_ASM12
    /* (the 12-pixel assembly tile has no edge forms) */
    if (d->S == 3 && nv == 12 && !(cx_dev_flags & CX_DEV_NO_ASM))
        return 0;
#endif
    /* the rows between the edge rows read every kernel row on the image (the
       valid kernel rows move one way down the output: the two nearest the
       edges are enough) */
    if (pl->dk_etop + pl->dk_ebot < P) {
        ptrdiff_t lo, hi;
        cx_dk_rows_valid(d, pl->dk_etop, &lo, &hi);
        if (lo != 0 || hi != d->R)
            return 0;
        cx_dk_rows_valid(d, P - 1 - pl->dk_ebot, &lo, &hi);
        if (lo != 0 || hi != d->R)
            return 0;
    }
    return 1;
#else
    (void)d, (void)pl;
    return 0;
#endif
}

/* Are the n values of each of `runs` runs, run r at x + r * stride, all
   finite? (x * 0 is 0 for finite x, NaN otherwise) */
static int CX_NAME(dk_runs_finite)(const CX_T *x, ptrdiff_t runs, ptrdiff_t n,
                                   ptrdiff_t stride)
{
    /* 8 independent sums, so that the check runs at load speed rather than at
       one FMA latency per vector; added up once, after the last run */
    const CX_DV zero = CX_NAME(dv_splat)(0);
    CX_DV z[8];
    for (int k = 0; k < 8; ++k)
        z[k] = zero;
    CX_T t = 0;
    for (ptrdiff_t r = 0; r < runs; ++r, x += stride) {
        ptrdiff_t i = 0;
        for (; i + 8 * CX_DVL <= n; i += 8 * CX_DVL)
            for (int k = 0; k < 8; ++k)
                z[k] += CX_NAME(dv_load)(x + i + k * CX_DVL) * zero;
        for (; i + CX_DVL <= n; i += CX_DVL)
            z[0] += CX_NAME(dv_load)(x + i) * zero;
        for (; i < n; ++i)
            t += x[i] * 0;
    }
    for (int k = 0; k < 8; ++k) {
        CX_T lanes[CX_DVL_MAX];
        CX_NAME(dv_store)(lanes, z[k]);
        for (ptrdiff_t l = 0; l < CX_DVL; ++l)
            t += lanes[l];
    }
    return t == 0;
}

/* Are all n values finite? */
static int CX_NAME(dk_all_finite)(const CX_T *x, ptrdiff_t n)
{
    return CX_NAME(dk_runs_finite)(x, 1, n, 0);
}

/* Whether the rows [i0, i1) of channels [c0, c0 + nc) of image n of x (the
   plan's layout; channels-last: all of the rows' channels) hold only finite
   values: the taps cx_dk_fold adds give (w_a + w_b) * v, whose inf or NaN is
   w_a * v + w_b * v's for finite or NaN v but not always for an infinite one
   (taps of mixed signs: inf, not NaN). The whole rows an item's band reads,
   not only the border the padding copies: a contiguous run a channel
   (fwd_dk_group, where it is inlined, had 2.0% of the samples of lenet2's
   reflect forward; the border's rows and columns by scalar loops 8.6%). */
static int CX_NAME(dk_input_finite)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                    const CX_T *x, ptrdiff_t n, ptrdiff_t c0, ptrdiff_t nc,
                                    ptrdiff_t i0, ptrdiff_t i1)
{
    const ptrdiff_t H = d->H, W = d->W, HW = H * W;
    i0 = cx_max(i0, 0);
    i1 = cx_min(i1, H);
    if (i1 <= i0)
        return 1;
    if (pl->dk_nhwc && d->C > 1)
        return CX_NAME(dk_all_finite)(x + (n * HW + i0 * W) * d->C, (i1 - i0) * W * d->C);
    return CX_NAME(dk_runs_finite)(x + (n * d->C + c0) * HW + i0 * W, nc, (i1 - i0) * W, HW);
}

/* Whether dk_fwd_band's tiles run d's padding mode folded in rows and
   columns (cx_dk_fold 3, on the forms that fold: the edge rows' compacted
   taps and the sliding tiles' edge forms), reading no padded position. */
static int CX_NAME(dk_fold_all)(const cx_conv2d_plan *pl)
{
    return cx_dk_fold(pl) == 3 && !(cx_dev_flags & CX_DEV_NO_EDGE);
}

#if CX_DK_FWDX
/* Whether the in-place tiles of plan pl run d's padding mode, made in
   registers (*pad: cx_dk_padx_make): the streamed depthwise 3x3 forward in
   place (not channels-last), a mode other than zeros padding at most a
   column a side. */
static int CX_NAME(dk_regpad)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                              cx_dk_padx *pad)
{
    return pl->dk && pl->dk_inplace && !pl->dk_nhwc && (pl->dk_stream || pl->dk_pitch == 0) &&
           d->pad_mode != CX_PAD_ZEROS && !(cx_dev_flags & CX_DEV_NO_REGPAD) &&
           cx_dk_padx_make(d, pl->dk_nv, CX_DVL, pad);
}
#else
static int CX_NAME(dk_regpad)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                              cx_dk_padx *pad)
{
    (void)d, (void)pl, (void)pad;
    return 0;
}
#endif

/* Output rows of band bi of image n, group g. */
static void CX_NAME(fwd_dk_group)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                                  const CX_T *x, const CX_T *w, const CX_T *bias, CX_T *y,
                                  ptrdiff_t n, ptrdiff_t g, ptrdiff_t bi, CX_T *ws,
                                  const CX_T *pf, ptrdiff_t pfn)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, RS = d->R * d->S;
    const ptrdiff_t taps = Cg * RS, P = d->P, Q = d->Q, L = pl->dk_L;
    const ptrdiff_t p0 = bi * pl->tile, rows = cx_min(pl->tile, P - p0);
    /* multi-row tiles (up to 4 rows) read whole groups of rows: band rows for them */
    const ptrdiff_t rows_pad = pl->dk_mode == 1 ? cx_ceil_div(rows, 4) * 4 : rows;
    const ptrdiff_t rows_in = CX_NAME(dk_rows_in)(d, rows_pad);
    /* the slot's stamp: this call's when an earlier item of it filled the
       band (whole images, zero padding, no column tiles: the same layout and
       zeros every item, and the same tap offsets) */
    long long *stamp = (long long *)ws;
    ws += CX_DK_STAMP;
    /* (a padding mode folded onto the taps, cx_dk_fold: where the input rows
       the item's band copies are finite, else the item's tiles unfolded, on a
       copy of the plan; folded in rows and columns, the tiles read no padded
       position, and the band is zero padding's, kept from item to item as
       that is) */
    const cx_conv2d_desc *df = d;
    cx_conv2d_desc dz;
    cx_conv2d_plan pn;
    if (d->pad_mode != CX_PAD_ZEROS && cx_dk_fold(pl) &&
        !CX_NAME(dk_input_finite)(d, pl, x, n, g * Cg, Cg, p0 * d->stride_h - d->pad_top,
                                  p0 * d->stride_h - d->pad_top + rows_in)) {
        pn = *pl;
        pn.dk_nofold = 1;
        pl = &pn;
    }
    if (d->pad_mode != CX_PAD_ZEROS && CX_NAME(dk_fold_all)(pl)) {
        dz = *d;
        dz.pad_mode = CX_PAD_ZEROS;
        df = &dz;
    }
    const int keep = pl->dk_stamp != 0 && *stamp == pl->dk_stamp &&
                     df->pad_mode == CX_PAD_ZEROS;
    ptrdiff_t *off = (ptrdiff_t *)ws;
    CX_T *wp = ws + cx_ceil_div(taps * (ptrdiff_t)sizeof(ptrdiff_t), (ptrdiff_t)sizeof(CX_T));
    CX_T *band = pl->apack_units ? wp : wp + Kg * taps;
    /* (64-byte aligned: the aligned row-walking tiles load its rows whole) */
    band += ((size_t)band % 64) ? (64 - (size_t)band % 64) / sizeof(CX_T) : 0;
    /* (channel-vector tiles reading x in place: dk_xin2) */
    const int xin2 = CX_NAME(dk_xin2)(d, pl);
    if (!keep)
        CX_NAME(dk_offsets)(d, Cg, xin2 ? d->H : rows_in, xin2 ? d->W : L, off, taps);
    /* (depthwise 3x3, streamed or straight to y: no band, the tiles read x in
       place) */
    /* (zero padding, or a padding mode folded onto the tiles' taps, pl->dk_tf:
       the input gradient's conv2d_fwd_ring, or made in registers, cx_dk_padx:
       the same products in the same order as on the band: 1.07-1.11x zero
       padding's time, the band 1.64-1.67x, bench/README.md, session 32.
       The plan is made before the caller sets a padding mode, and the zeros
       tiles read zeros outside the image: until session 31 a mode's streamed
       depthwise 3x3 forward took them, zero padding's border, a wrong answer
       that the tests' small layers never streamed into) */
    cx_dk_padx pad;
    const int padx = !pl->dk_tf && CX_NAME(dk_regpad)(d, pl, &pad);
    const int inplace = pl->dk_inplace && !pl->dk_nhwc && (pl->dk_stream || pl->dk_pitch == 0) &&
                        (d->pad_mode == CX_PAD_ZEROS || pl->dk_tf || padx);
    const CX_T *xg = x + (n * d->C + g * Cg) * d->H * d->W;
    const cx_dk_inplace xin = {xg, pf ? pf + pfn : xg + d->H * d->W, padx ? &pad : NULL};
    if (!inplace && !xin2)
        CX_NAME(dk_fill_band_of)(df, df, pl, x, n, g, Cg, p0 * d->stride_h, rows_in, L, band,
                                 keep);
    /* (no stamp where no band was filled; reading in place, the stamp keeps
       the offsets, the same for every item of the call) */
    *stamp = (pl->ntiles == 1 && pl->dk_qt == 0 && pl->dk_pitch == 0 &&
              df->pad_mode == CX_PAD_ZEROS && !inplace) || xin2
                 ? pl->dk_stamp : 0;
    const CX_T *wpk = wp;
    if (pl->apack_units)
        wpk = (const CX_T *)pl->apacked + g * pl->apack_elems;
    else
        CX_NAME(dk_pack_weight)(d, pl, w + g * Kg * taps, wp);
    const ptrdiff_t ldq = pl->dk_pitch ? pl->dk_pitch : Q;
    const cx_conv2d_plan *pb = pl;
    const CX_T *src = band;
    cx_conv2d_plan px;
    if (xin2) {
        /* band row i = x's row p0 + i - pad_top from column -pad_left, rows
           of W (the tiles read only the pixels on the image: dk_xin2) */
        px = *pl;
        px.dk_L = d->W;
        pb = &px;
        src = xg + (p0 - d->pad_top) * d->W - d->pad_left;
    }
    CX_NAME(dk_fwd_band)(d, pb, src, band + Cg * rows_in * d->stride_w * L, off, wpk, n, g, p0,
                         rows, bias, y, y + ((n * d->K + g * Kg) * P + p0) * ldq, P * ldq, pf,
                         pfn, 0, Cg, inplace && !xin2 ? &xin : NULL, NULL);
}

/* ------------------------------------------------ 3-D bands (cx_conv3d_depth) */

/* Slot layout of a 3-D item's band (conv3d_fwd, conv3d_wgrad): T + 1 slots of
   Cg channels' band rows each (the input depths the current output depth
   reads, and one of zeros for depth padding), each followed by zeros (a band
   fill writes up to a vector past its last row; the weight gradient's tiles
   read up to 2 vectors + S past it) and 64-byte aligned. */
static ptrdiff_t CX_NAME(dk3_slot)(const cx_conv2d_desc *d, ptrdiff_t Cg, ptrdiff_t rows_in,
                                   ptrdiff_t L)
{
    const ptrdiff_t a = 64 / (ptrdiff_t)sizeof(CX_T);
    return cx_ceil_div(Cg * rows_in * d->stride_w * L + 2 * CX_DVL_MAX + d->S, a) * a;
}

/* The bands output depth od reads, in slots (dk3_slot) of band: input depth iz
   of tap t is kept in the slot tagged iz, or filled (Cg channels of
   xg + (c*D + iz)*H*W, band rows from padded row prow0) into a slot no tap of
   od reads; padding depths read the zero slot T (zeroed once: *zero_ready).
   Then off[((c*T + t)*R + r)*S + s] = offc[(c*R + r)*S + s] + that slot's
   start, the folded weight's taps (tmajor: off[((t*Cg + c)*R + r)*S + s],
   the forward's depth-major order, dk_tperm). Tags of -1 mark empty slots (a slot's first
   fill writes its zero rows and columns too). */
static void CX_NAME(dk3_bands)(const cx_conv2d_desc *d, const cx_conv3d_depth *z,
                               const CX_T *xg, ptrdiff_t Cg, ptrdiff_t od, ptrdiff_t prow0,
                               ptrdiff_t rows_in, ptrdiff_t L, CX_T *band, ptrdiff_t *tag,
                               int *zero_ready, const ptrdiff_t *offc, ptrdiff_t *off,
                               const CX_T *xend, int tmajor)
{
    const ptrdiff_t T = z->T, D = z->D, HW = d->H * d->W, RS = d->R * d->S;
    const ptrdiff_t cstride = rows_in * d->stride_w * L;
    const ptrdiff_t slot = CX_NAME(dk3_slot)(d, Cg, rows_in, L);
    for (ptrdiff_t t = 0; t < T; ++t) {
        const ptrdiff_t iz = od * z->stride + t * z->dil - z->pad;
        ptrdiff_t j = T;
        if (iz < 0 || iz >= D) {
            if (!*zero_ready) {
                memset(band + T * slot, 0, (size_t)slot * sizeof(CX_T));
                *zero_ready = 1;
            }
        } else {
            j = 0;
            while (j < T && tag[j] != iz)
                ++j;
            if (j == T) {
                /* a slot no tap of od reads: the one holding the smallest
                   depth (the depths only grow along a run) */
                ptrdiff_t best = -1;
                for (ptrdiff_t k = 0; k < T; ++k) {
                    int used = 0;
                    for (ptrdiff_t u = 0; u < T; ++u)
                        used |= tag[k] >= 0 && tag[k] == od * z->stride + u * z->dil - z->pad;
                    if (!used && (best < 0 || tag[k] < tag[best]))
                        best = k;
                }
                j = best;
                /* (a slot filled before keeps its zero rows and columns: the
                   same band rows every time) */
                const int keep = tag[j] != -1;
                CX_T *sb = band + j * slot;
                for (ptrdiff_t c = 0; c < Cg; ++c)
                    CX_NAME(dk_fill_band)(d, xg + (c * D + iz) * HW, 1, prow0, rows_in, L,
                                          sb + c * cstride, xend, keep);
                memset(sb + Cg * cstride, 0, (size_t)(slot - Cg * cstride) * sizeof(CX_T));
                tag[j] = iz;
            }
        }
        for (ptrdiff_t c = 0; c < Cg; ++c) {
            ptrdiff_t *o = off + (tmajor ? t * Cg + c : c * T + t) * RS;
            for (ptrdiff_t i = 0; i < RS; ++i)
                o[i] = offc[c * RS + i] + j * slot;
        }
    }
}

static ptrdiff_t CX_NAME(dk3_rows_in)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl)
{
    const ptrdiff_t rows = pl->dk_mode == 1 ? cx_ceil_div(pl->tile, 4) * 4 : pl->tile;
    return CX_NAME(dk_rows_in)(d, rows);
}

/* --------------------------------------------------------- weight gradient */

/* acc[i*MT + j] += lane-wise sum over the band's rows p and vectors v < nvec of
   dy[i*ldk + p*ldp + v*VL + l] * band[p*rstep + off[j] + v*VL + l], i < MK (rows
   i >= mk repeat row mk-1). dY's lanes past the row's end are zeros (ldp >= nvec*VL);
   with rem > 0 the last vector's band lanes l >= rem are zeroed too, since they
   may hold inf or NaN of other pixels (0 * inf would not be 0). */
static CX_DK_INLINE void CX_NAME(dk_wgrad_tile)(const int MK, const int MT, const int MASK,
                                                ptrdiff_t rows,
                                                ptrdiff_t nvec, ptrdiff_t rem,
                                                const CX_T *dy, ptrdiff_t ldk, ptrdiff_t ldp,
                                                ptrdiff_t mk, const CX_T *band,
                                                ptrdiff_t rstep, const ptrdiff_t *off,
                                                CX_DV *accm)
{
    CX_DV acc[4][12];
    const CX_T *dyr[4];
    for (int i = 0; i < MK; ++i) {
        dyr[i] = dy + (i < mk ? i : mk - 1) * ldk;
        for (int j = 0; j < MT; ++j)
            acc[i][j] = accm[i * MT + j];
    }
    /* (the masked variant is a separate function, so that the fast one keeps its
       accumulators in registers across rows) */
    const ptrdiff_t nfast = MASK ? nvec - 1 : nvec;
    for (ptrdiff_t p = 0; p < rows; ++p) {
        const CX_T *xb = band + p * rstep;
        for (ptrdiff_t v = 0; v < nfast; ++v) {
            const ptrdiff_t q = v * CX_DVL;
            CX_DV a[4];
            for (int i = 0; i < MK; ++i) {
                a[i] = CX_NAME(dv_load)(dyr[i] + p * ldp + q);
                /* (with 16 registers GCC otherwise re-reads dY in every FMA:
                   10 loads per 8 FMAs on AVX2; the AVX-512 code is left as
                   measured) */
                if (MT > 1 && CX_VREGS < 32)
                    CX_DK_PIN(a[i]);
            }
            for (int j = 0; j < MT; ++j) {
                CX_DV xv = CX_NAME(dv_load)(xb + off[j] + q);
                if (MK > 1)
                    CX_DK_PIN(xv);
                for (int i = 0; i < MK; ++i)
                    acc[i][j] += a[i] * xv;
            }
        }
        if (MASK) {
            const ptrdiff_t q = nfast * CX_DVL;
            CX_DV a[4];
            for (int i = 0; i < MK; ++i)
                a[i] = CX_NAME(dv_load)(dyr[i] + p * ldp + q);
            for (int j = 0; j < MT; ++j) {
                const CX_DV xv = CX_NAME(dv_head)(CX_NAME(dv_load)(xb + off[j] + q), rem);
                for (int i = 0; i < MK; ++i)
                    acc[i][j] += a[i] * xv;
            }
        }
    }
    for (int i = 0; i < MK; ++i)
        for (int j = 0; j < MT; ++j)
            accm[i * MT + j] = acc[i][j];
}

typedef void (*CX_NAME(dk_wgrad_fn))(ptrdiff_t, ptrdiff_t, ptrdiff_t, const CX_T *, ptrdiff_t,
                                     ptrdiff_t, ptrdiff_t, const CX_T *, ptrdiff_t,
                                     const ptrdiff_t *, CX_DV *);

/* Tiles (MK, MT) per register file: MK*MT accumulators + MK dY vectors + 1. */
#if CX_VREGS >= 32
#define CX_DK_MT4 5
#define CX_DK_MT2 8
#define CX_DK_MT1 9
#else
#define CX_DK_MT4 2     /* (unused: plan_wgrad_dk takes mk = 4 only with 32 registers) */
#define CX_DK_MT2 6
#define CX_DK_MT1 8
#endif

#define CX_DK_WGRAD(MK, MT, MASK, SUFFIX)                                                   \
    static void CX_NAME(dk_wgrad_##MK##SUFFIX)(ptrdiff_t rows, ptrdiff_t nvec, ptrdiff_t rem,       \
                                       const CX_T *dy, ptrdiff_t ldk, ptrdiff_t ldp,         \
                                       ptrdiff_t mk, const CX_T *band, ptrdiff_t rstep,      \
                                       const ptrdiff_t *off, CX_DV *accm)                    \
    {                                                                                      \
        CX_NAME(dk_wgrad_tile)(MK, MT, MASK, rows, nvec, rem, dy, ldk, ldp, mk, band, rstep, \
                               off, accm);                                                 \
    }
CX_DK_WGRAD(1, CX_DK_MT1, 0, ) CX_DK_WGRAD(2, CX_DK_MT2, 0, ) CX_DK_WGRAD(4, CX_DK_MT4, 0, )
CX_DK_WGRAD(1, CX_DK_MT1, 1, m) CX_DK_WGRAD(2, CX_DK_MT2, 1, m) CX_DK_WGRAD(4, CX_DK_MT4, 1, m)
#undef CX_DK_WGRAD

/* Band row i's R column-shifted vectors b meet the dY rows i - r held in a[r]
   (those inside [0, rows)): acc[r][s] += a[r] * b[s]. */
static CX_DK_INLINE void CX_NAME(dk_wgradr_meet)(const int R, ptrdiff_t i, ptrdiff_t rows,
                                                 const CX_DV *a, const CX_DV *b,
                                                 CX_DV acc[5][5])
{
    CX_DK_UNROLL for (int r = 0; r < R; ++r) {
        const ptrdiff_t p = i - r;
        if (p < 0 || p >= rows)
            continue;
        CX_DK_UNROLL for (int s = 0; s < R; ++s)
            acc[r][s] += a[r] * b[s];
    }
}

/* The weight gradient of one dY channel and one input channel's R x R taps (R =
   3 or 5, unit vertical stride and dilation), walked by band row: band row i's
   S column-shifted vectors are loaded once and meet dY rows i - r for every
   kernel row r, S + 1 loads per R * S FMAs where dk_wgrad_tile has R * S + 1
   (the depthwise weight gradient's tile was bound by its loads, as the
   forward's). acc[r*S + s] += lane-wise sum over vectors c < nvec (outer) and
   rows p < rows of dy[p*ldp + c*VL + l] * band[(p + r)*rstep + off[s] + c*VL + l];
   dY's lanes past the row's end are zeros and the band finite there. */
static CX_DK_INLINE void CX_NAME(dk_wgradr_tile)(const int R, ptrdiff_t rows, ptrdiff_t nvec,
                                                 const CX_T *restrict dy, ptrdiff_t ldp,
                                                 const CX_T *restrict band, ptrdiff_t rstep,
                                                 const ptrdiff_t *restrict off,
                                                 CX_DV *restrict accm)
{
    const int S = R;
    CX_DV acc[5][5];
    for (int r = 0; r < R; ++r)
        for (int s = 0; s < S; ++s)
            acc[r][s] = accm[r * S + s];
    ptrdiff_t so[5];
    for (int s = 0; s < S; ++s)
        so[s] = off[s];
    for (ptrdiff_t c = 0; c < nvec; ++c) {
        const CX_T *dc = dy + c * CX_DVL, *bc = band + c * CX_DVL;
        /* a[r]: dY row i - r, each row loaded once and passed down */
        CX_DV a[5];
        for (int r = 0; r < R; ++r)
            a[r] = CX_NAME(dv_splat)(0);
        for (ptrdiff_t i = 0; i < rows + R - 1; ++i) {
            CX_DK_UNROLL for (int r = R - 1; r > 0; --r)
                a[r] = a[r - 1];
            if (i < rows) {
                a[0] = CX_NAME(dv_load)(dc + i * ldp);
                CX_DK_PIN(a[0]);
            }
            CX_DV b[5];
            for (int s = 0; s < S; ++s) {
                b[s] = CX_NAME(dv_load)(bc + i * rstep + so[s]);
                CX_DK_PIN(b[s]);
            }
            CX_NAME(dk_wgradr_meet)(R, i, rows, a, b, acc);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int s = 0; s < S; ++s)
            accm[r * S + s] = acc[r][s];
}

#if CX_DK_FWDX
/* Vector c's rows of dk_wgradx_tile. fl: fx where vector c has a lane on a
   padded column (the tile's first and last vectors), else NULL (a form
   without the lanes' checks: under a padding mode they ran on every vector
   and row, and the depthwise bench layer's reflect weight gradient took
   1.29 | 1.24-1.26x the zeros padding's time, 1.165 | 1.163x with this form);
   fx: the padding mode's rows. */
static CX_DK_INLINE void CX_NAME(dk_wgradx_rows)(ptrdiff_t c, ptrdiff_t rows,
                                                 const CX_T *restrict dyp, ptrdiff_t ldy,
                                                 const CX_T *restrict xp, ptrdiff_t H,
                                                 ptrdiff_t W, ptrdiff_t h0, ptrdiff_t pl,
                                                 const unsigned *mq, const unsigned *mx,
                                                 const cx_dk_xfix *fx, const cx_dk_xfix *fl,
                                                 const cx_dk_next *nx, CX_DV acc[5][5])
{
    enum { R = 3, S = 3 };
    const CX_DV zero = CX_NAME(dv_splat)(0);
    const CX_T *dc = dyp + c * CX_DVL;
    CX_DV a[3];
    for (int r = 0; r < R; ++r)
        a[r] = zero;
    for (ptrdiff_t i = 0; i < rows + R - 1; ++i) {
        if (nx) {
            /* the next planes' line t of each, one a step */
            const ptrdiff_t o = (c * (rows + R - 1) + i) * 64;
            if (o < nx->nx)
                __builtin_prefetch(nx->x + o, 0, 3);
            if (o < nx->ndy)
                __builtin_prefetch(nx->dy + o, 0, 3);
        }
        CX_DK_UNROLL for (int r = R - 1; r > 0; --r)
            a[r] = a[r - 1];
        if (i < rows) {
            a[0] = CX_NAME(dv_maskz_load)(mq[c], dc + i * ldy);
            CX_DK_PIN(a[0]);
        }
        ptrdiff_t h = h0 + i;
        int in = h >= 0 && h < H;
        if (fx && !in) {
            /* a padding mode: the padded row's source row */
            h = cx_pad_source(h, H, fx->mode);
            in = 1;
        }
        /* (address arithmetic in integers: a vector may start before the
           row, where no lane of it reads) */
        const CX_T *xr = (const CX_T *)((size_t)xp + (size_t)((h * W + c * CX_DVL - pl) *
                                                              (ptrdiff_t)sizeof(CX_T)));
        CX_DV b[3];
        for (int s = 0; s < S; ++s) {
            b[s] = in ? CX_NAME(dv_maskz_load)(mx[3 * c + s], xr + s) : zero;
            if (fl && fl->m[3 * c + s]) {
                /* its lane on a padded column: the column it copies */
                const ptrdiff_t v = 3 * c + s;
                b[s] = CX_NAME(dv_mask_load)(
                    b[s], fl->m[v],
                    (const CX_T *)((size_t)xp +
                                   (size_t)((h * W + fl->off[v]) * (ptrdiff_t)sizeof(CX_T))));
            }
            CX_DK_PIN(b[s]);
        }
        CX_NAME(dk_wgradr_meet)(R, i, rows, a, b, acc);
    }
}

/* dk_wgradr_tile (R = 3) for one input channel and one dY channel (depthwise),
   reading both planes in place rather than a band and a dY copy: dY row i of
   the tile is dyp + i*ldy, its vector c masked to the row's Q pixels (mq[c]);
   band row i is input row h0 + i (zeros outside [0, H)), its column tap s of
   vector c the input columns c*VL + s - pl.. by a masked load (mx[3*c + s]:
   the lanes inside [0, W) whose dY lane is inside the row; the others zero,
   as the band's padding and as dY's lanes past the row, which the band path
   multiplies by finite band values). The same products in the same order as
   dk_wgradr_tile on the band and dY copy, so the same sums. */
static CX_DK_INLINE void CX_NAME(dk_wgradx_tile)(ptrdiff_t rows, ptrdiff_t nvec,
                                                 const CX_T *restrict dyp, ptrdiff_t ldy,
                                                 const CX_T *restrict xp, ptrdiff_t H,
                                                 ptrdiff_t W, ptrdiff_t h0, ptrdiff_t pl,
                                                 const unsigned *mq, const unsigned *mx,
                                                 const cx_dk_xfix *fx, const cx_dk_next *nx,
                                                 CX_DV *restrict accm)
{
    enum { R = 3, S = 3 };
    CX_DV acc[5][5];
    for (int r = 0; r < R; ++r)
        for (int s = 0; s < S; ++s)
            acc[r][s] = accm[r * S + s];
    for (ptrdiff_t c = 0; c < nvec; ++c) {
        if (fx && (fx->m[3 * c] | fx->m[3 * c + 1] | fx->m[3 * c + 2]))
            CX_NAME(dk_wgradx_rows)(c, rows, dyp, ldy, xp, H, W, h0, pl, mq, mx, fx, fx, nx,
                                    acc);
        else
            CX_NAME(dk_wgradx_rows)(c, rows, dyp, ldy, xp, H, W, h0, pl, mq, mx, fx, NULL, nx,
                                    acc);
    }
    for (int r = 0; r < R; ++r)
        for (int s = 0; s < S; ++s)
            accm[r * S + s] = acc[r][s];
}

static void CX_NAME(dk_wgradx_3)(ptrdiff_t rows, ptrdiff_t nvec, const CX_T *dyp, ptrdiff_t ldy,
                                 const CX_T *xp, ptrdiff_t H, ptrdiff_t W, ptrdiff_t h0,
                                 ptrdiff_t pl, const unsigned *mq, const unsigned *mx,
                                 CX_DV *accm)
{
    CX_NAME(dk_wgradx_tile)(rows, nvec, dyp, ldy, xp, H, W, h0, pl, mq, mx, NULL, NULL, accm);
}

/* The same, asking for the next item's planes a line a step (nx). */
static void CX_NAME(dk_wgradx_3p)(ptrdiff_t rows, ptrdiff_t nvec, const CX_T *dyp,
                                  ptrdiff_t ldy, const CX_T *xp, ptrdiff_t H, ptrdiff_t W,
                                  ptrdiff_t h0, ptrdiff_t pl, const unsigned *mq,
                                  const unsigned *mx, const cx_dk_next *nx, CX_DV *accm)
{
    CX_NAME(dk_wgradx_tile)(rows, nvec, dyp, ldy, xp, H, W, h0, pl, mq, mx, NULL, nx, accm);
}

/* The same under a padding mode (fx: its padded lanes; nx as dk_wgradx_3p's,
   or NULL). */
static void CX_NAME(dk_wgradx_3m)(ptrdiff_t rows, ptrdiff_t nvec, const CX_T *dyp,
                                  ptrdiff_t ldy, const CX_T *xp, ptrdiff_t H, ptrdiff_t W,
                                  ptrdiff_t h0, ptrdiff_t pl, const unsigned *mq,
                                  const unsigned *mx, const cx_dk_xfix *fx,
                                  const cx_dk_next *nx, CX_DV *accm)
{
    CX_NAME(dk_wgradx_tile)(rows, nvec, dyp, ldy, xp, H, W, h0, pl, mq, mx, fx, nx, accm);
}
#endif

typedef void (*CX_NAME(dk_wgradr_fn))(ptrdiff_t, ptrdiff_t, const CX_T *, ptrdiff_t,
                                      const CX_T *, ptrdiff_t, const ptrdiff_t *, CX_DV *);
#define CX_DK_WGRADR(R)                                                                    \
    static void CX_NAME(dk_wgradr_##R)(ptrdiff_t rows, ptrdiff_t nvec, const CX_T *dy,     \
                                       ptrdiff_t ldp, const CX_T *band, ptrdiff_t rstep,  \
                                       const ptrdiff_t *off, CX_DV *accm)                 \
    {                                                                                      \
        CX_NAME(dk_wgradr_tile)(R, rows, nvec, dy, ldp, band, rstep, off, accm);           \
    }
CX_DK_WGRADR(3)
#if CX_VREGS >= 32
CX_DK_WGRADR(5)
#endif
#undef CX_DK_WGRADR

static ptrdiff_t CX_NAME(dk_wgrad_mt)(ptrdiff_t mk)
{
    return mk >= 4 ? CX_DK_MT4 : mk == 2 ? CX_DK_MT2 : CX_DK_MT1;
}

/* ---- channel-vector weight-gradient tiles (dk_mode 2 of the weight gradient;
   16-lane float vectors, output channels in blocks of 16, stride 1 and
   dilation 1 along rows, kernel rows of 3, 5 or 7 taps) ----
   A vector holds 16 output channels of one weight: for NRR kernel rows
   (channel c, row r) and their S taps,
     acc[i][t][k] += sum_p sum_q dyt[p][q + S - 1][k] * x_i[p][q + t],  0 <= q < Q,
   where dyt is grad_output transposed to pixel-major vectors of 16 channels
   (its index q + S - 1: S - 1 zero vectors before each row) and x_i the band
   row of kernel row i. Each band pixel e = q + t is broadcast once and meets
   the S dY vectors q = e - t of a window held in registers (one new vector a
   pixel, shared by the NRR kernel rows): NRR + 1 loads per NRR * S FMAs.
   A row runs in blocks of pixels, each reloading its window (S - 1 loads):
   the first block [0, S) takes only t <= e and the last [Q - 1, Q + S - 1)
   only q <= Q - 1, by compile-time masks, so that every product is one of
   the convolution's (inf and NaN in the band stay where they belong).
   AVX2 float32 (CX_DK_CV8): 8 channels a vector, fewer kernel rows a tile
   (NRR * S accumulators, S window vectors and a broadcast in 16 registers),
   kernel rows of 3, 5 or 7 taps. */
#if CX_DK_CV || CX_DK_CV8
static CX_DK_INLINE void CX_NAME(dk_wgradc_block)(const int S, const int NRR, const int B,
                                                  const int MASK, const int JL, const int JH,
                                                  ptrdiff_t e0, const CX_T *const *xp,
                                                  const CX_T *restrict dp, CX_DV (*acc)[9])
{
    CX_DV win[9];
    CX_DK_UNROLL for (int j = 0; j < S - 1; ++j)
        win[j] = CX_NAME(dv_load)(dp + (e0 + j) * CX_DK_CVL);
    CX_DK_UNROLL for (int j = 0; j < B; ++j) {
        /* the window holds dyt[e0 + j .. e0 + j + S - 1], index m in slot (m - e0) % S */
        win[(j + S - 1) % S] = CX_NAME(dv_load)(dp + (e0 + j + S - 1) * CX_DK_CVL);
        if (j < JL || j >= B - JH)
            continue;   /* (pixels on zero padding's columns: no products) */
        CX_DK_UNROLL for (int i = 0; i < NRR; ++i) {
            const CX_DV bx = CX_NAME(dv_splat)(xp[i][e0 + j]);
            CX_DK_UNROLL for (int t = 0; t < S; ++t)
                if (!(MASK == 1 && t > j) && !(MASK == 2 && t < j))
                    acc[i][t] += win[(j + S - 1 - t) % S] * bx;
        }
    }
}

static CX_DK_INLINE void CX_NAME(dk_wgradc_tile)(const int S, const int NRR, const int TL,
                                                 const int TH, ptrdiff_t rows,
                                                 ptrdiff_t Q, const CX_T *const *xr,
                                                 ptrdiff_t rstep, const CX_T *restrict dyt,
                                                 ptrdiff_t dpitch, CX_DV *restrict accm)
{
    CX_DV acc[8][9];
    for (int i = 0; i < NRR; ++i)
        for (int t = 0; t < S; ++t)
            acc[i][t] = accm[i * S + t];
    for (ptrdiff_t p = 0; p < rows; ++p) {
        const CX_T *dp = dyt + p * dpitch;
        const CX_T *xp[8];
        for (int i = 0; i < NRR; ++i)
            xp[i] = xr[i] + p * rstep;
        /* pixels [0, S), then [S, Q - 1) in blocks of S and one shorter, then
           [Q - 1, Q + S - 1) (the caller sends rows of Q <= S elsewhere); the
           first TL and the last TH pixels are left out (zero padding's
           columns: the caller's edge columns) */
        CX_NAME(dk_wgradc_block)(S, NRR, S, 1, TL, 0, 0, xp, dp, acc);
        ptrdiff_t e = S;
        for (; e + S <= Q - 1; e += S)
            CX_NAME(dk_wgradc_block)(S, NRR, S, 0, 0, 0, e, xp, dp, acc);
        switch (Q - 1 - e) {
        case 1: CX_NAME(dk_wgradc_block)(S, NRR, 1, 0, 0, 0, e, xp, dp, acc); break;
        case 2: CX_NAME(dk_wgradc_block)(S, NRR, 2, 0, 0, 0, e, xp, dp, acc); break;
        case 3: CX_NAME(dk_wgradc_block)(S, NRR, 3, 0, 0, 0, e, xp, dp, acc); break;
        case 4: CX_NAME(dk_wgradc_block)(S, NRR, 4, 0, 0, 0, e, xp, dp, acc); break;
        case 5: CX_NAME(dk_wgradc_block)(S, NRR, 5, 0, 0, 0, e, xp, dp, acc); break;
        case 6: CX_NAME(dk_wgradc_block)(S, NRR, 6, 0, 0, 0, e, xp, dp, acc); break;
        case 7: CX_NAME(dk_wgradc_block)(S, NRR, 7, 0, 0, 0, e, xp, dp, acc); break;
        case 8: CX_NAME(dk_wgradc_block)(S, NRR, 8, 0, 0, 0, e, xp, dp, acc); break;
        default: break;
        }
        CX_NAME(dk_wgradc_block)(S, NRR, S, 2, 0, TH, Q - 1, xp, dp, acc);
    }
    for (int i = 0; i < NRR; ++i)
        for (int t = 0; t < S; ++t)
            accm[i * S + t] = acc[i][t];
}

typedef void (*CX_NAME(dk_wgradc_fn))(ptrdiff_t, ptrdiff_t, const CX_T *const *, ptrdiff_t,
                                      const CX_T *, ptrdiff_t, CX_DV *);
/* dk_wgradc_S and its edge forms _e1 (the first (S-1)/2 band pixels of each
   row left out), _e2 (the last), _e3 (both), as the forward's dk_fwdcs */
#define CX_DK_WGRADC1(S, NRR, SUF, TL, TH)                                                 \
    static void CX_NAME(dk_wgradc_##S##SUF)(ptrdiff_t rows, ptrdiff_t Q,                    \
                                            const CX_T *const *xr, ptrdiff_t rstep,        \
                                            const CX_T *dyt, ptrdiff_t dpitch, CX_DV *accm) \
    {                                                                                      \
        CX_NAME(dk_wgradc_tile)(S, NRR, TL, TH, rows, Q, xr, rstep, dyt, dpitch, accm);    \
    }
#define CX_DK_WGRADC(S, NRR)                                                               \
    CX_DK_WGRADC1(S, NRR, , 0, 0) CX_DK_WGRADC1(S, NRR, _e1, (S - 1) / 2, 0)              \
    CX_DK_WGRADC1(S, NRR, _e2, 0, (S - 1) / 2)                                             \
    CX_DK_WGRADC1(S, NRR, _e3, (S - 1) / 2, (S - 1) / 2)
#define CX_DK_WGRADC_E(S)                                                                  \
    {CX_NAME(dk_wgradc_##S), CX_NAME(dk_wgradc_##S##_e1), CX_NAME(dk_wgradc_##S##_e2),     \
     CX_NAME(dk_wgradc_##S##_e3)}
/* The same tiles on NRR = 4, 2 or 1 kernel rows (the forms _rN...): a last
   pass over the Cg*R kernel rows that are fewer than the tile's (a 3-channel
   3x3 weight gradient: 9 rows, 8 + 1, the second pass had run 8 of which 7
   repeated a row, 44% of its products wasted) */
#define CX_DK_WGRADCR(S, NRR)                                                              \
    CX_DK_WGRADC1(S, NRR, _r##NRR, 0, 0) CX_DK_WGRADC1(S, NRR, _r##NRR##_e1, (S - 1) / 2, 0) \
    CX_DK_WGRADC1(S, NRR, _r##NRR##_e2, 0, (S - 1) / 2)                                     \
    CX_DK_WGRADC1(S, NRR, _r##NRR##_e3, (S - 1) / 2, (S - 1) / 2)
#define CX_DK_WGRADCR_E(S, NRR)                                                            \
    {CX_NAME(dk_wgradc_##S##_r##NRR), CX_NAME(dk_wgradc_##S##_r##NRR##_e1),                  \
     CX_NAME(dk_wgradc_##S##_r##NRR##_e2), CX_NAME(dk_wgradc_##S##_r##NRR##_e3)}
#define CX_DK_WGRADCR_NONE {NULL, NULL, NULL, NULL}
#if CX_DK_CV
CX_DK_WGRADC(3, 8) CX_DK_WGRADC(5, 4) CX_DK_WGRADC(7, 3) CX_DK_WGRADC(9, 2)
/* [(S - 3) / 2][edge: 0 every band pixel, 1 the first (S-1)/2 left out, 2 the last, 3 both] */
static const CX_NAME(dk_wgradc_fn) CX_NAME(dk_wgradc_fns)[4][4] = {
    CX_DK_WGRADC_E(3), CX_DK_WGRADC_E(5), CX_DK_WGRADC_E(7), CX_DK_WGRADC_E(9)};
CX_DK_WGRADCR(3, 4) CX_DK_WGRADCR(3, 2) CX_DK_WGRADCR(3, 1) CX_DK_WGRADCR(5, 2)
CX_DK_WGRADCR(5, 1) CX_DK_WGRADCR(7, 2) CX_DK_WGRADCR(7, 1) CX_DK_WGRADCR(9, 1)
/* [(S - 3) / 2][NRR 4, 2, 1][edge]: NULL where NRR is not below the main tile's */
static const CX_NAME(dk_wgradc_fn) CX_NAME(dk_wgradc_rfns)[4][3][4] = {
    {CX_DK_WGRADCR_E(3, 4), CX_DK_WGRADCR_E(3, 2), CX_DK_WGRADCR_E(3, 1)},
    {CX_DK_WGRADCR_NONE, CX_DK_WGRADCR_E(5, 2), CX_DK_WGRADCR_E(5, 1)},
    {CX_DK_WGRADCR_NONE, CX_DK_WGRADCR_E(7, 2), CX_DK_WGRADCR_E(7, 1)},
    {CX_DK_WGRADCR_NONE, CX_DK_WGRADCR_NONE, CX_DK_WGRADCR_E(9, 1)}};
#else
CX_DK_WGRADC(3, 4) CX_DK_WGRADC(5, 2) CX_DK_WGRADC(7, 1)
static const CX_NAME(dk_wgradc_fn) CX_NAME(dk_wgradc_fns)[3][4] = {
    CX_DK_WGRADC_E(3), CX_DK_WGRADC_E(5), CX_DK_WGRADC_E(7)};
CX_DK_WGRADCR(3, 2) CX_DK_WGRADCR(3, 1) CX_DK_WGRADCR(5, 1)
static const CX_NAME(dk_wgradc_fn) CX_NAME(dk_wgradc_rfns)[3][3][4] = {
    {CX_DK_WGRADCR_NONE, CX_DK_WGRADCR_E(3, 2), CX_DK_WGRADCR_E(3, 1)},
    {CX_DK_WGRADCR_NONE, CX_DK_WGRADCR_NONE, CX_DK_WGRADCR_E(5, 1)},
    {CX_DK_WGRADCR_NONE, CX_DK_WGRADCR_NONE, CX_DK_WGRADCR_NONE}};
#endif
#undef CX_DK_WGRADCR_NONE
#undef CX_DK_WGRADCR_E
#undef CX_DK_WGRADCR
#undef CX_DK_WGRADC_E
#undef CX_DK_WGRADC
#undef CX_DK_WGRADC1
#endif

#if CX_DK_CV || CX_DK_CV8
/* Kernel rows per channel-vector weight-gradient tile, for kernel width S. */
static ptrdiff_t cx_dk_wgradc_nrr(ptrdiff_t S)
{
    if (!CX_DK_CV)
        return S == 3 ? 4 : S == 5 ? 2 : 1;
    return S == 3 ? 8 : S == 5 ? 4 : S == 7 ? 3 : 2;
}

/* Workspace elements of a channel-vector weight-gradient item: offsets, the
   accumulators of kblock channels (16-channel blocks x kernel rows padded to
   whole tiles x S), the band (+ slack), transposed dY rows of one block. */
static double CX_NAME(dk_wgradc_ws)(const cx_conv2d_desc *d, ptrdiff_t rows, ptrdiff_t L,
                                    ptrdiff_t kblock)
{
    /* (geometries passed cx_dk_sane: these products stay far from overflow) */
    const ptrdiff_t nrr = cx_dk_wgradc_nrr(d->S);
    const double Cg = (double)(d->C / d->groups), S = (double)d->S;
    const double crp = (double)(cx_ceil_div((d->C / d->groups) * d->R, nrr) * nrr);
    const double rows_in = (double)(rows - 1) * (double)d->stride_h +
                           (double)(d->R - 1) * (double)d->dil_h + 1;
    return Cg * (double)d->R * S * 2 + 1 + 16 + (double)kblock * crp * S +
           Cg * rows_in * (double)L + 2.0 * CX_DVL + S +
           (double)rows * ((double)d->Q + 2 * S) * CX_DK_CVL + 16;
}
#endif

static double CX_NAME(dk_wgrad_ws)(const cx_conv2d_desc *d, ptrdiff_t rows, ptrdiff_t L,
                                   ptrdiff_t kblock, ptrdiff_t mk, ptrdiff_t gb)
{
    const double Cg = (double)(d->C / d->groups), taps = Cg * (double)d->R * (double)d->S;
    const double mt = (double)CX_NAME(dk_wgrad_mt)(mk), tpad = taps + mt;
    const double rows_in = (double)(rows - 1) * (double)d->stride_h +
                           (double)(d->R - 1) * (double)d->dil_h + 1;
    /* offsets, accumulators (+ alignment), band (+ slack read by the flat
       reduction's last vector), dY rows copied with pitch L */
    return tpad * 2 + 1 + (double)CX_DVL + (double)gb * (kblock + mk) * tpad * (double)CX_DVL +
           Cg * rows_in * (double)d->stride_w * (double)L + 3.0 * CX_DVL +
           (double)d->S * (double)d->dil_w + (double)(kblock + mk) * ((double)rows * L + CX_DVL);
}

/* The weight gradient's items: the (image, band[, column tile]) units cut into
   chunks of nper consecutive ones when the weight blocks (cblocks x kblocks)
   alone would give too few items; each chunk writes its own partial sum. */
static void CX_NAME(dk_wgrad_units)(cx_conv2d_plan *pl, ptrdiff_t units)
{
    ptrdiff_t nsplit = 1;
    const ptrdiff_t blocks = pl->cblocks * pl->kblocks;
    if (blocks < CX_TARGET_ITEMS_WGRAD && units > 1 && pl->wsize > 0) {
        const ptrdiff_t max_split = (ptrdiff_t)(CX_PARTIAL_BYTES / sizeof(CX_T) / (size_t)pl->wsize);
        nsplit = cx_max(cx_min(cx_min(units, cx_ceil_div(CX_TARGET_ITEMS_WGRAD, blocks)),
                               max_split), 1);
    }
    pl->nper = cx_ceil_div(units, nsplit);
    pl->nsplit = cx_ceil_div(units, pl->nper);
    pl->nitems = pl->cblocks * pl->kblocks * pl->nsplit;
}

/* The channel-vector plan of the weight gradient, where it applies and its
   workspace fits (else 0: the lane tiles below). Items as in plan_wgrad_dk:
   (chunk of (image, band) units, group, block of kblock output channels). */
static int CX_NAME(plan_wgradc_dk)(const cx_conv2d_desc *d, cx_conv2d_plan *pl)
{
#if CX_DK_CV || CX_DK_CV8
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, P = d->P, Q = d->Q;
    const ptrdiff_t cvl = CX_DK_CVL;
    if (Kg % cvl || d->stride_w != 1 || d->dil_w != 1 ||
        !(d->S == 3 || d->S == 5 || d->S == 7 || (d->S == 9 && CX_DK_CV)))
        return 0;
    if (!CX_DK_CV && (cx_dev_flags & CX_DEV_NO_CV8))
        return 0;
    const ptrdiff_t nrr = cx_dk_wgradc_nrr(d->S);
    const ptrdiff_t crp = cx_ceil_div(Cg * d->R, nrr) * nrr;
    const ptrdiff_t acc_elems = (ptrdiff_t)(CX_DK_ACC_BYTES / sizeof(CX_T));
    ptrdiff_t kblock = acc_elems / (crp * d->S * cvl) * cvl;
    if (kblock < cvl)
        return 0;
    kblock = cx_min(kblock, Kg);
    const ptrdiff_t L = CX_NAME(dk_row_len)(d, 1);
    ptrdiff_t rows = cx_max(cx_min(cx_ceil_div(CX_DK_PIXELS, Q), P), 1);
    const ptrdiff_t base = G * cx_ceil_div(Kg, kblock);
    if (base * d->N * cx_ceil_div(P, rows) < CX_TARGET_ITEMS_WGRAD)
        rows = cx_max(cx_min(rows, cx_ceil_div(P * d->N * base, CX_TARGET_ITEMS_WGRAD)), 1);
    const double budget = (double)(CX_DK_BAND_BYTES / sizeof(CX_T)) + (double)acc_elems;
    while (rows > 1 && CX_NAME(dk_wgradc_ws)(d, rows, L, kblock) > budget)
        rows = rows / 2;
    ptrdiff_t L2 = L, qt = 0, qtiles = 1;
    if (CX_NAME(dk_wgradc_ws)(d, rows, L, kblock) > budget) {
        /* rows too long for one band (long 1-D signals): units of one row's
           column tile of qt pixels (a multiple of 16), its band the tile's
           columns and their halo (a 64-channel 1-D weight gradient ran 1.2x
           slower on the lane tiles) */
        cx_conv2d_desc dq = *d;
        qt = cx_ceil_div(Q, 16) * 16;
        for (;;) {
            dq.Q = qt;
            L2 = CX_NAME(dk_row_len)(&dq, 1);
            if (qt <= 16 || CX_NAME(dk_wgradc_ws)(&dq, rows, L2, kblock) <= budget)
                break;
            qt = cx_ceil_div(qt / 2, 16) * 16;
        }
        if (CX_NAME(dk_wgradc_ws)(&dq, rows, L2, kblock) > budget)
            return 0;
        qtiles = cx_ceil_div(Q, qt);
    }
    pl->dk_qt = qt;
    pl->dk_qtiles = qtiles;
    pl->dk = 1;
    pl->dk_mode = 2;
    pl->dk_L = L2;
    pl->dk_mk = cvl;
    pl->dk_mt = d->S;
    pl->tile = rows;
    pl->ntiles = cx_ceil_div(P, rows);
    pl->kblock = kblock;
    pl->kblocks = cx_ceil_div(Kg, kblock);
    pl->cblock = 1;
    pl->cblocks = G;
    CX_NAME(dk_wgrad_units)(pl, d->N * pl->ntiles * qtiles);
    /* edge rows and columns (wgrad_dkc, where the caller sets dk_edge): the
       first dk_etop and last dk_ebot output rows have kernel rows on zero
       padding's rows (kernel row 0 reads the top padding longest, row R - 1
       the bottom); dk_ecol: a row's first or last (S-1)/2 band pixels are all
       padding's columns (lenet2: 6 of each kernel row's 70 products, and 6
       of its 70 rows) */
    {
        ptrdiff_t lo, hi, lo1, hi1;
        cx_valid_range(P, d->stride_h, -d->pad_top, d->H, &lo, &hi);
        cx_valid_range(P, d->stride_h, (d->R - 1) * d->dil_h - d->pad_top, d->H, &lo1, &hi1);
        pl->dk_etop = lo;
        pl->dk_ebot = P - cx_max(hi1, lo);
        const ptrdiff_t eh = (d->S - 1) / 2;
        pl->dk_ecol = eh > 0 && (d->pad_left >= eh || Q + d->S - 1 - eh >= d->pad_left + d->W);
    }
    cx_conv2d_desc dq = *d;
    dq.Q = qt ? qt : Q;
    pl->ws_elems = (size_t)CX_NAME(dk_wgradc_ws)(&dq, rows, L2, kblock) + CX_DVL_MAX;
    return 1;
#else
    (void)d;
    (void)pl;
    return 0;
#endif
}

static int CX_NAME(plan_wgrad_dk)(const cx_conv2d_desc *d, cx_conv2d_plan *pl)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, P = d->P, Q = d->Q;
    if (P <= 0 || Q <= 0 || Cg <= 0 || Kg <= 0 || d->N <= 0 || !cx_dk_sane(d))
        return 0;
    if (CX_NAME(plan_wgradc_dk)(d, pl))
        return 1;
    const ptrdiff_t mk = (Kg >= 4 && CX_VREGS >= 32) ? 4 : Kg >= 2 ? 2 : 1, mt = CX_NAME(dk_wgrad_mt)(mk);
    const ptrdiff_t taps = Cg * d->R * d->S, tpad = cx_ceil_div(taps, mt) * mt;
    /* Stride 1: "flat" bands whose rows are as long as dY's copied rows (zero
       past Q), so that one band is a single reduction of rows*L pixels with
       every tap at a fixed offset (no per-row loop). */
    const int flat = d->stride_h == 1 && d->stride_w == 1;
    const ptrdiff_t lq = cx_ceil_div(Q, CX_DVL) * CX_DVL;
    const ptrdiff_t L = flat ? cx_max(lq, Q + (d->S - 1) * d->dil_w)
                             : CX_NAME(dk_row_len)(d, CX_DVL);
    /* accumulators of a block of output channels within CX_DK_ACC_BYTES */
    const ptrdiff_t acc_elems = (ptrdiff_t)(CX_DK_ACC_BYTES / sizeof(CX_T));
    if (taps > acc_elems)
        return 0;
    ptrdiff_t kblock = acc_elems / (tpad * CX_DVL) / mk * mk;
    if (kblock < mk)
        return 0;
    kblock = cx_min(kblock, cx_ceil_div(Kg, mk) * mk);
    ptrdiff_t rows = cx_max(cx_min(cx_ceil_div(CX_DK_PIXELS, Q), P), 1);
    const ptrdiff_t base = G * cx_ceil_div(Kg, kblock);
    /* Few weight blocks: the items split the (image, band) units between them,
       each writing a partial sum; make the bands short enough for that. */
    if (base * d->N * cx_ceil_div(P, rows) < CX_TARGET_ITEMS_WGRAD)
        rows = cx_max(cx_min(rows, cx_ceil_div(P * d->N * base, CX_TARGET_ITEMS_WGRAD)), 1);
    const double budget = (double)(CX_DK_BAND_BYTES / sizeof(CX_T)) + (double)acc_elems;
    while (rows > 1 && CX_NAME(dk_wgrad_ws)(d, rows, L, kblock, mk, 1) > budget)
        rows = rows / 2;
    ptrdiff_t L2 = L, qt = 0, qtiles = 1;
    if (CX_NAME(dk_wgrad_ws)(d, rows, L, kblock, mk, 1) > budget) {
        /* rows too long for one band: units of one row's column tile of qt
           pixels (a multiple of the vector; see plan_fwd_dk) */
        const ptrdiff_t halo = (d->S - 1) * d->dil_w;
        qt = lq;
        for (;;) {
            L2 = flat ? cx_max(qt, qt + halo) : qt + halo / d->stride_w;
            if (qt <= CX_DVL || CX_NAME(dk_wgrad_ws)(d, rows, L2, kblock, mk, 1) <= budget)
                break;
            qt = cx_ceil_div(qt / 2, CX_DVL) * CX_DVL;
        }
        if (CX_NAME(dk_wgrad_ws)(d, rows, L2, kblock, mk, 1) > budget)
            return 0;
        qtiles = cx_ceil_div(Q, qt);
    }
    pl->dk_qt = qt;
    pl->dk_qtiles = qtiles;
    pl->dk = 1;
    pl->dk_mode = flat;
    pl->dk_L = L2;
    pl->dk_mk = mk;
    pl->dk_mt = mt;
    pl->tile = rows;
    pl->ntiles = cx_ceil_div(P, rows);
    pl->kblock = kblock;
    pl->kblocks = cx_ceil_div(Kg, kblock);
    /* Thin groups (depthwise): an item takes cblock consecutive groups, image
       by image, so that it reads runs of adjacent planes (one group's planes of
       successive images are a whole image apart); each group has its own
       accumulators. */
    ptrdiff_t gb = 1;
    if (G > 1 && pl->kblocks == 1) {
        const double one = CX_NAME(dk_wgrad_ws)(d, rows, L2, kblock, mk, 1);
        const double more = CX_NAME(dk_wgrad_ws)(d, rows, L2, kblock, mk, 2) - one;
        gb = cx_max(cx_min(G / CX_TARGET_ITEMS_WGRAD, 8), 1);
        while (gb > 1 && one + (gb - 1) * more > budget)
            --gb;
    }
    pl->cblock = gb;
    pl->cblocks = cx_ceil_div(G, gb);
    /* units (image, band[, column tile]) in order; chunks of nper consecutive units */
    CX_NAME(dk_wgrad_units)(pl, d->N * pl->ntiles * qtiles);
    pl->ws_elems = (size_t)CX_NAME(dk_wgrad_ws)(d, rows, L2, kblock, mk, gb) + CX_DVL_MAX;
    return 1;
}

#if CX_DK_CV || CX_DK_CV8
/* acc[i][t] += sum over rows p, pixels q < Q of dyt[p][q + S - 1] * x_i[p][q + t]:
   the channel-vector tile's sums for rows of Q <= S pixels. */
static void CX_NAME(dk_wgradc_exact)(ptrdiff_t S, ptrdiff_t nrr, ptrdiff_t rows, ptrdiff_t Q,
                                     const CX_T *const *xr, ptrdiff_t rstep,
                                     const CX_T *dyt, ptrdiff_t dpitch, CX_DV *accm)
{
    for (ptrdiff_t i = 0; i < nrr; ++i)
        for (ptrdiff_t t = 0; t < S; ++t) {
            CX_DV a = accm[i * S + t];
            for (ptrdiff_t p = 0; p < rows; ++p)
                for (ptrdiff_t q = 0; q < Q; ++q)
                    a += CX_NAME(dv_load)(dyt + p * dpitch + (q + S - 1) * CX_DK_CVL) *
                         CX_NAME(dv_splat)(xr[i][p * rstep + q + t]);
            accm[i * S + t] = a;
        }
}

/* The kernel row (c*R + r) at position j of the channel-vector weight
   gradient's tiles: (r, c) order (j = r*Cg + c) where the edge rows are left
   out (wgrad_dkc), else (c, r) order (j = c*R + r). */
static CX_DK_INLINE ptrdiff_t CX_NAME(dk_wgradc_cr)(ptrdiff_t j, ptrdiff_t Cg, ptrdiff_t R,
                                                   int rc)
{
    return rc ? j % Cg * R + j / Cg : j;
}

/* The weight-gradient item of the channel-vector plan (see plan_wgradc_dk). */
/* z: NULL, or the 3-D weight gradient (conv3d_wgrad): d the depth-folded 2-D
   convolution, x (N, C, D, H, W), dy (N, K, Do, P, Q), units (image, band,
   output depth) in that order, input depths' bands in slots (dk3_bands). */
static void CX_NAME(wgrad_dkc)(const cx_conv2d_desc *d, const cx_conv3d_depth *z,
                               const cx_conv2d_plan *pl, const CX_T *x, const CX_T *dy,
                               CX_T *dw, ptrdiff_t item, CX_T *ws)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, R = d->R, S = d->S;
    const ptrdiff_t taps = Cg * R * S, P = d->P, Q = d->Q, PQ = P * Q, L = pl->dk_L;
    const ptrdiff_t kbi = item % pl->kblocks, g = (item / pl->kblocks) % G;
    const ptrdiff_t split = item / (pl->kblocks * G);
    /* column tiles (dk_qt > 0, channels first, 2-D): units (image, band, tile) */
    const ptrdiff_t qtiles = pl->dk_qt ? pl->dk_qtiles : 1;
    const ptrdiff_t u0 = split * pl->nper;
    const ptrdiff_t u1 = cx_min(d->N * pl->ntiles * qtiles, u0 + pl->nper);
    const ptrdiff_t cvl = CX_DK_CVL;
    const ptrdiff_t k0 = kbi * pl->kblock, kn = cx_min(pl->kblock, Kg - k0), nkb = kn / cvl;
    const ptrdiff_t nrr = cx_dk_wgradc_nrr(S), ncr = Cg * R, crp = cx_ceil_div(ncr, nrr) * nrr;
    /* dyt rows: S - 1 zero vectors, Q (a tile's) pixels, S - 1 zero vectors (the
       windows of the last pixel block reach index Q + 2S - 3) */
    const ptrdiff_t dpitch = ((pl->dk_qt ? pl->dk_qt : Q) + 2 * S - 2) * cvl;
    const CX_NAME(dk_wgradc_fn) *fns = CX_NAME(dk_wgradc_fns)[(S - 3) / 2];
    const CX_NAME(dk_wgradc_fn)(*rfns)[4] = CX_NAME(dk_wgradc_rfns)[(S - 3) / 2];
    /* dk_edge (2-D zero padding, set by the caller): the products of zero
       padding's rows and columns are left out. Rows: kernel rows ordered
       (r, c) (position j is channel j % Cg, row j / Cg), so that a tile's
       kernel rows share r where Cg allows, and a tile runs only the output
       rows where one of its kernel rows reads the image. Columns (dk_ecol): a
       row's first (last) eh = (S-1)/2 band pixels where they are all padding
       (band column j is input column j - pad_left). The grad_output values
       those products would have met are looked at for inf / NaN (nfv: 0
       times each), which the caller then marks (dk_nonfinite). */
    const int edge = !z && pl->dk_edge && d->pad_mode == CX_PAD_ZEROS;
    const int ecol = edge && pl->dk_ecol && !(cx_dev_flags & CX_DEV_NO_ECOL);
    const int erow = edge && !(cx_dev_flags & CX_DEV_NO_EDGE);
    const ptrdiff_t eh = (S - 1) / 2;
    CX_DV nfv = CX_NAME(dv_splat)(0);
    dw += split * pl->wsize;
    /* 3-D: T slots of Cs channels (the folded channel c*T + t is channel c of
       the slot of tap t) */
    const ptrdiff_t T = z ? z->T : 1, Cs = Cg / T, Do = z ? z->Do : 1;
    ptrdiff_t *off = (ptrdiff_t *)ws;
    ptrdiff_t *offc = off + taps, *tag = offc + (z ? Cs * R * S : 0);
    const ptrdiff_t nidx = taps + (z ? Cs * R * S + T : 0);
    CX_T *after = ws + cx_ceil_div(nidx * (ptrdiff_t)sizeof(ptrdiff_t), (ptrdiff_t)sizeof(CX_T));
    const size_t mis = ((size_t)after % CX_VBYTES) / sizeof(CX_T);
    CX_DV *acc = (CX_DV *)(after + (mis ? (size_t)CX_DVL - mis : 0));   /* [kb][crp][S] */
    CX_T *band = (CX_T *)(acc + nkb * crp * S);
    for (ptrdiff_t i = 0; i < nkb * crp * S; ++i)
        acc[i] = CX_NAME(dv_splat)(0);
    const ptrdiff_t rstep = d->stride_h * L;
    const ptrdiff_t slack = 2 * CX_DVL + S;
    const ptrdiff_t band_elems =
        z ? (T + 1) * CX_NAME(dk3_slot)(d, Cs, CX_NAME(dk_rows_in)(d, pl->tile), L)
          : Cg * CX_NAME(dk_rows_in)(d, pl->tile) * L + slack;
    int zero_ready = 0;
    ptrdiff_t tag_p0 = -1, kept_p0 = -1, kept_q0 = -1, kept_rows = -1, dyt_qu = -1;
    CX_T *dyt = band + band_elems;
    /* (16-float aligned: dyt's vectors are loaded whole) */
    dyt += ((size_t)dyt % CX_VBYTES) ? (CX_VBYTES - (size_t)dyt % CX_VBYTES) / sizeof(CX_T) : 0;
    const CX_T *xr[8];
    for (ptrdiff_t u = u0; u < u1; ++u) {
        const ptrdiff_t od = u % Do, v = (z ? u / Do : u) / qtiles;
        const ptrdiff_t n = v / pl->ntiles, p0 = (v % pl->ntiles) * pl->tile;
        const ptrdiff_t rows = cx_min(pl->tile, P - p0);
        const ptrdiff_t rows_in = CX_NAME(dk_rows_in)(d, rows);
        /* a column tile [q0, q0 + Qu) is the weight gradient of the same input
           with Qu outputs and the padding moved left by q0 (unit stride) */
        const ptrdiff_t q0 = (u % qtiles) * pl->dk_qt, Qu = qtiles > 1 ? cx_min(pl->dk_qt, Q - q0) : Q;
        cx_conv2d_desc dq = *d;
        dq.Q = Qu;
        dq.pad_left = d->pad_left - q0;
        /* the edge-column form of this unit's rows (bit 0 left, 1 right) */
        const int ec = ecol && Qu > S ? (dq.pad_left >= eh) |
                                            (Qu + S - 1 - eh >= dq.pad_left + d->W) << 1
                                      : 0;
        /* dY's channel k of this unit at dyn + k*ldk (rows of pitch Q) */
        const CX_T *dyn = dy + (n * d->K + g * Kg + k0) * PQ + p0 * Q + q0;
        ptrdiff_t ldk = PQ;
        if (z) {
            if (p0 != tag_p0) {
                /* another band: other rows in the slots, another layout */
                for (ptrdiff_t j = 0; j < T; ++j)
                    tag[j] = -1;
                zero_ready = 0;
                tag_p0 = p0;
                CX_NAME(dk_offsets)(d, Cs, rows_in, L, offc, Cs * R * S);
            }
            CX_NAME(dk3_bands)(d, z, x + (n * Cs * G + g * Cs) * z->D * d->H * d->W, Cs, od,
                               p0 * d->stride_h, rows_in, L, band, tag, &zero_ready, offc, off,
                               x + z->N * Cs * G * z->D * d->H * d->W, 0);
            ldk = Do * PQ;
            dyn = dy + ((n * d->K + g * Kg + k0) * Do + od) * PQ + p0 * Q;
        } else {
            /* the same band layout as the last unit's (lenet2: every unit's):
               its offsets and zero padding are in place, only the input
               pixels are written (the fill and offsets were 5% of lenet2) */
            const int keep = p0 == kept_p0 && q0 == kept_q0 && rows_in == kept_rows;
            const ptrdiff_t bn = Cg * rows_in * L;
            if (!keep)
                CX_NAME(dk_offsets)(d, Cg, rows_in, L, off, taps);
            CX_NAME(dk_fill_band_of)(&dq, &dq, pl, x, n, g, Cg, p0 * d->stride_h, rows_in, L,
                                     band, keep);
            memset(band + bn, 0, (size_t)slack * sizeof(CX_T));
            kept_p0 = p0;
            kept_q0 = q0;
            kept_rows = rows_in;
        }
        for (ptrdiff_t kb = 0; kb < nkb; ++kb) {
            /* dyt[p][S - 1 + q][k] = dy[n, g*Kg + k0 + kb*cvl + k, p0 + p, q], zeros around */
            const CX_T *dyk = dyn + kb * cvl * ldk;
            if (Qu != dyt_qu) {
                /* the zero vectors around the rows (the windows load them; the
                   tiles' masks leave them out of every product) */
                for (ptrdiff_t p = 0; p < pl->tile; ++p) {
                    CX_T *o = dyt + p * dpitch;
                    memset(o, 0, (size_t)((S - 1) * cvl) * sizeof(CX_T));
                    memset(o + (Qu + S - 1) * cvl, 0, (size_t)((S - 1) * cvl) * sizeof(CX_T));
                }
                dyt_qu = Qu;
            }
            for (ptrdiff_t p = 0; p < rows; ++p) {
                CX_T *o = dyt + p * dpitch + (S - 1) * cvl;
                if (pl->dk_nhwc) {
                    /* channels-last grad_output is pixel-major already */
                    const CX_T *src = dy + ((n * P + p0 + p) * Q) * d->K + g * Kg + k0 + kb * cvl;
                    for (ptrdiff_t q = 0; q < Q; ++q)
                        CX_NAME(dv_store)(o + q * cvl, CX_NAME(dv_load)(src + q * d->K));
                } else {
                    ptrdiff_t q = 0;
#if CX_DK_CV
                    for (; q + 16 <= Qu; q += 16) {
                        CX_DV r[16];
                        for (int k = 0; k < 16; ++k)
                            r[k] = CX_NAME(dv_load)(dyk + k * ldk + p * Q + q);
                        CX_NAME(dk_tr16)(r);
                        for (int j = 0; j < 16; ++j)
                            CX_NAME(dv_store)(o + (q + j) * 16, r[j]);
                    }
#if CX_DK_MASKZ
                    if (q < Qu) {
                        /* the last Qu - q < 16 pixels (all of a row of Q < 16:
                           lenet2's 14), by masked loads (element by element they
                           took 9% of lenet2's weight gradient) */
                        const int nq = (int)(Qu - q);
                        const unsigned m = (1u << nq) - 1;
                        CX_DV r[16];
                        for (int k = 0; k < 16; ++k) {
                            CX_ASAN_RUN(dyk + k * ldk + p * Q + q, nq);
                            r[k] = CX_NAME(dv_maskz_load)(m, dyk + k * ldk + p * Q + q);
                        }
                        CX_NAME(dk_tr16)(r);
                        for (int j = 0; j < nq; ++j)
                            CX_NAME(dv_store)(o + (q + j) * 16, r[j]);
                        q = Qu;
                    }
#endif
#else
                    for (; q + 8 <= Qu; q += 8)
                        CX_NAME(dk_tr8x8)(dyk + p * Q + q, ldk, o + q * 8, 8);
                    if (q < Qu) {
                        /* the last Qu - q < 8 pixels by masked loads (lenet2's
                           last 6 a row: element by element they were most
                           of wgrad_dkc's 14% of its weight gradient) */
                        const int nq = (int)(Qu - q);
                        __m256 r8[8];
                        for (int k = 0; k < 8; ++k) {
                            CX_ASAN_RUN(dyk + k * ldk + p * Q + q, nq);
                            r8[k] = (__m256)CX_NAME(dv_maskz_load)((1u << nq) - 1,
                                                                   dyk + k * ldk + p * Q + q);
                        }
                        CX_NAME(dk_tr8x8_regs)(r8, o + q * 8, 8, nq);
                        q = Qu;
                    }
#endif
                    for (; q < Qu; ++q)
                        for (ptrdiff_t k = 0; k < cvl; ++k)
                            o[q * cvl + k] = dyk[k * ldk + p * Q + q];
                }
                if (erow && (p0 + p < pl->dk_etop || p0 + p >= P - pl->dk_ebot)) {
                    for (ptrdiff_t q = 0; q < Qu; ++q)
                        nfv += CX_NAME(dv_load)(o + q * cvl) * CX_NAME(dv_splat)(0);
                } else if (ec) {
                    for (ptrdiff_t q = 0; q < Qu; ++q)
                        if (((ec & 1) && q < eh) || ((ec & 2) && q >= Qu - eh))
                            nfv += CX_NAME(dv_load)(o + q * cvl) * CX_NAME(dv_splat)(0);
                }
            }
            CX_DV *acck = acc + kb * crp * S;
            for (ptrdiff_t c0 = 0, step = nrr; c0 < ncr; c0 += step) {
                /* fewer kernel rows left than the tile's: the largest of the
                   4-, 2- and 1-row forms that fits (dk_wgradc_rfns) */
                CX_NAME(dk_wgradc_fn) fn = fns[ec];
                step = nrr;
                if (ncr - c0 < nrr && Qu > S && !(cx_dev_flags & CX_DEV_NO_WGRADRR))
                    for (int ri = 0; ri < 3; ++ri) {
                        const ptrdiff_t nr = (ptrdiff_t)4 >> ri;
                        const CX_NAME(dk_wgradc_fn) f = rfns[ri][ec];
                        if (f && nr <= ncr - c0) {
                            fn = f;
                            step = nr;
                            break;
                        }
                    }
                /* output rows [pa, pb) of the band: all, or (erow) those from
                   the first where the tile's last kernel row reads the image
                   to the last where its first does ((r, c) order: rows r0 <=
                   r1; a row's range moves up as r grows) */
                ptrdiff_t pa = 0, pb = rows;
                const ptrdiff_t jn = cx_min(c0 + step, ncr) - 1;
                if (erow) {
                    ptrdiff_t lo, hi, lo1, hi1;
                    cx_valid_range(P, d->stride_h, c0 / Cg * d->dil_h - d->pad_top, d->H, &lo,
                                   &hi);
                    cx_valid_range(P, d->stride_h, jn / Cg * d->dil_h - d->pad_top, d->H, &lo1,
                                   &hi1);
                    pa = cx_max(lo1 - p0, 0);
                    pb = cx_min(hi - p0, rows);
                    if (pb <= pa)
                        continue;
                }
                for (ptrdiff_t i = 0; i < nrr; ++i)
                    xr[i] = band + off[CX_NAME(dk_wgradc_cr)(cx_min(c0 + i, jn), Cg, R, erow) * S] +
                            pa * rstep;
                if (Qu > S)
                    fn(pb - pa, Qu, xr, rstep, dyt + pa * dpitch, dpitch, acck + c0 * S);
                else
                    CX_NAME(dk_wgradc_exact)(S, cx_min(nrr, ncr - c0), pb - pa, Qu, xr, rstep,
                                             dyt + pa * dpitch, dpitch, acck + c0 * S);
            }
        }
    }
    /* dw[k][c, r, t] = lane k of acc[kb][position of (c, r)][t] */
    for (ptrdiff_t kb = 0; kb < nkb; ++kb)
        for (ptrdiff_t j = 0; j < ncr; ++j) {
            const ptrdiff_t cr = CX_NAME(dk_wgradc_cr)(j, Cg, R, erow);
#if CX_DK_CV && CX_DK_MASKZ
            {
                /* a kernel row's S vectors turned into 16 rows of S taps (one
                   masked store each; lane by lane they were 2% of lenet2) */
                CX_DV r[16];
                for (int t = 0; t < 16; ++t)
                    r[t] = t < S ? acc[(kb * crp + j) * S + t] : CX_NAME(dv_splat)(0);
                CX_NAME(dk_tr16)(r);
                CX_T *o = dw + (g * Kg + k0 + kb * cvl) * taps + cr * S;
                for (int k = 0; k < 16; ++k) {
                    CX_ASAN_RUN(o + k * taps, S);
                    _mm512_mask_storeu_ps(o + k * taps, (__mmask16)((1u << S) - 1), (__m512)r[k]);
                }
                continue;
            }
#endif
            for (ptrdiff_t t = 0; t < S; ++t) {
                CX_T lanes[16];
                CX_NAME(dv_store)(lanes, acc[(kb * crp + j) * S + t]);
                CX_T *o = dw + (g * Kg + k0 + kb * cvl) * taps + cr * S + t;
                for (ptrdiff_t k = 0; k < cvl; ++k)
                    o[k * taps] = lanes[k];
            }
        }
    if (edge) {
        CX_T lanes[16];
        CX_NAME(dv_store)(lanes, nfv);
        for (ptrdiff_t k = 0; k < cvl; ++k)
            if (lanes[k] != lanes[k]) {
                /* (every writer stores 1) */
                __atomic_store_n(pl->dk_nonfinite, 1, __ATOMIC_RELAXED);
                break;
            }
    }
}
#endif

/* One item (chunk of (image, band) units, g, block of output channels):
   dw[those channels] (the chunk's partial sum when the units are split). */
static void CX_NAME(wgrad_dk)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                              const CX_T *x, const CX_T *dy, CX_T *dw, ptrdiff_t item,
                              CX_T *ws)
{
#if CX_DK_CV || CX_DK_CV8
    if (pl->dk_mode == 2) {
        CX_NAME(wgrad_dkc)(d, NULL, pl, x, dy, dw, item, ws);
        return;
    }
#endif
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, RS = d->R * d->S;
    const ptrdiff_t taps = Cg * RS, P = d->P, QF = d->Q, PQ = P * QF;
    const ptrdiff_t qtiles = pl->dk_qt ? pl->dk_qtiles : 1;
    const int flat = pl->dk_mode == 1;
    ptrdiff_t L = pl->dk_L;
    if (flat && !pl->dk_qt && (!pl->dk_nhwc || !CX_DK_CV) && d->pad_mode == CX_PAD_ZEROS) {
        /* Zero padding: a band row's right padding can be the next row's left
           padding (both zeros), so rows need only W + max(left, right) columns
           (the plan's L, which sized the workspace, has both): row p's taps
           read columns up to W + pl + pr - 1 from its start, past L only into
           the next row's first pl (zero) columns, or the band's zero slack,
           when L >= W + pr. lenet2's 14-pixel rows, 2 padding each side: 16
           columns for 18, an eighth fewer FMAs. (Rows stay >= lq, whole
           vectors, which the masked kernel for non-finite bands reads; not
           channels-last with 16-lane channel vectors, whose AVX-512 band
           gathers may write a vector past a row's data -- the AVX2 and
           portable fills write only inside [0, L): lenet2's NHWC / NCHW
           1.20 -> 1.09; the padding mode is known here, not at planning.) */
        const ptrdiff_t lq = cx_ceil_div(QF, CX_DVL) * CX_DVL;
        const ptrdiff_t pr = QF + (d->S - 1) * d->dil_w - d->W - d->pad_left;
        L = cx_min(L, cx_max(lq, d->W + cx_max(d->pad_left, pr)));
    }
    const ptrdiff_t kbi = item % pl->kblocks, gbi = (item / pl->kblocks) % pl->cblocks;
    const ptrdiff_t split = item / (pl->kblocks * pl->cblocks);
    const ptrdiff_t g0 = gbi * pl->cblock, g1 = cx_min(G, g0 + pl->cblock);
    const ptrdiff_t u0 = split * pl->nper;
    const ptrdiff_t u1 = cx_min(d->N * pl->ntiles * qtiles, u0 + pl->nper);
    const ptrdiff_t k0 = kbi * pl->kblock, kn = cx_min(pl->kblock, Kg - k0);
    const ptrdiff_t mk = pl->dk_mk, mt = pl->dk_mt;
    const ptrdiff_t ntk = cx_ceil_div(kn, mk), ntt = cx_ceil_div(taps, mt), tpad = ntt * mt;
    dw += split * pl->wsize;
    ptrdiff_t *off = (ptrdiff_t *)ws;
    CX_T *after = ws + cx_ceil_div(tpad * (ptrdiff_t)sizeof(ptrdiff_t), (ptrdiff_t)sizeof(CX_T));
    /* vector accumulators, aligned to their size within the (64-byte aligned) slot */
    const size_t mis = ((size_t)after % CX_VBYTES) / sizeof(CX_T);
    CX_DV *acc = (CX_DV *)(after + (mis ? (size_t)CX_DVL - mis : 0));
    const ptrdiff_t nacc = ntk * mk * tpad;   /* per group */
    CX_T *band = (CX_T *)(acc + (g1 - g0) * nacc);
    for (ptrdiff_t i = 0; i < (g1 - g0) * nacc; ++i)
        acc[i] = CX_NAME(dv_splat)(0);
    const CX_NAME(dk_wgrad_fn) fast = mk == 4 ? CX_NAME(dk_wgrad_4)
                                    : mk == 2 ? CX_NAME(dk_wgrad_2) : CX_NAME(dk_wgrad_1);
    const CX_NAME(dk_wgrad_fn) masked = mk == 4 ? CX_NAME(dk_wgrad_4m)
                                      : mk == 2 ? CX_NAME(dk_wgrad_2m) : CX_NAME(dk_wgrad_1m);
    const ptrdiff_t rstep = d->stride_h * d->stride_w * L;
    const ptrdiff_t VL = CX_DVL;
    const ptrdiff_t slack = 2 * VL + d->S * d->dil_w;
    const ptrdiff_t band_elems = Cg * CX_NAME(dk_rows_in)(d, pl->tile) * d->stride_w * L + slack;
    /* dY rows copied, zero past Q (pitch lq, flat: L), from a vector boundary: the
       tiles' dY loads are then never split across cache lines (AVX2, lenet2's
       weight gradient: half of them were) */
    CX_T *dyb = band + cx_ceil_div(band_elems, VL) * VL;
#if CX_DK_FWDX
    /* one input and one dY channel a group (depthwise), 3x3, unit steps,
       whole rows of at most 8 vectors: the tile reads x and dY in place
       (dk_wgradx_tile), its masks the same for every item; under a padding
       mode with one padded lane a vector at most (padding 1), the padded
       rows and lanes from those they copy (dk_wgradx_3m; the band: bench/ab.py
       depthwise wgrad NCHW T 4096 7 0.3 reflect 1.30 | 1.35x the time) */
    const ptrdiff_t xnv = cx_ceil_div(QF, VL);
    int inplace = mk == 1 && Cg == 1 && kn == 1 && d->R == 3 && d->S == 3 &&
                  d->stride_h == 1 && d->stride_w == 1 && d->dil_h == 1 && d->dil_w == 1 &&
                  !pl->dk_nhwc && !pl->dk_qt && xnv <= 8 &&
                  !(cx_dev_flags & (CX_DEV_NO_ROWWALK | CX_DEV_NO_INPLACE));
    const int xmode = d->pad_mode != CX_PAD_ZEROS;
    if (xmode && (cx_dev_flags & CX_DEV_NO_MODEX))
        inplace = 0;
    unsigned xmq[8], xmx[24];
    cx_dk_xfix xfix;
    xfix.mode = d->pad_mode;
    for (ptrdiff_t c = 0; c < xnv && inplace; ++c) {
        xmq[c] = cx_dk_lanes(0, QF - c * VL, VL);       /* (pixels of the row) */
        for (ptrdiff_t t = 0; t < 3; ++t) {             /* (and input columns [0, W)) */
            const ptrdiff_t v = 3 * c + t, j0 = c * VL + t - d->pad_left;
            xmx[v] = xmq[c] & cx_dk_lanes(-j0, d->W - j0, VL);
            /* a padding mode: the row's other lane copies a column (one
               lane a vector at most: padding 1 on each side; else the band) */
            xfix.m[v] = 0;
            xfix.off[v] = 0;
            for (ptrdiff_t l = 0; l < VL && xmode; ++l)
                if (((xmq[c] & ~xmx[v]) >> l) & 1u) {
                    if (xfix.m[v])
                        inplace = 0;
                    xfix.m[v] = 1u << l;
                    xfix.off[v] = cx_pad_source(j0 + l, d->W, d->pad_mode) - l;
                }
        }
    }
#endif
    for (ptrdiff_t u = u0; u < u1; ++u)
    for (ptrdiff_t g = g0; g < g1; ++g) {
        CX_DV *accg = acc + (g - g0) * nacc;
        const ptrdiff_t ub = u / qtiles, q0 = (u % qtiles) * pl->dk_qt;
        const ptrdiff_t n = ub / pl->ntiles, p0 = (ub % pl->ntiles) * pl->tile;
        /* a column tile: the same input with Q = its width and the padding
           moved left by q0 * stride (see fwd_dk); dY's rows keep pitch QF */
        cx_conv2d_desc dq = *d;
        if (pl->dk_qt) {
            dq.Q = cx_min(pl->dk_qt, QF - q0);
            dq.pad_left = d->pad_left - q0 * d->stride_w;
        }
        const cx_conv2d_desc *du = &dq;
        const ptrdiff_t Q = du->Q, nvec = cx_ceil_div(Q, VL), rem = Q % VL, lq = nvec * VL;
        /* the next group's planes (after the block's last: the next image's
           first), read while this one runs: without, the band and dY copies
           wait on memory (a depthwise weight gradient 1.6x slower). Asked for
           here, before this group's copies, or for one-channel groups of one
           output channel (depthwise) after them (below): their copies are
           most of the item, and their loads queued behind the burst's (perf:
           29% of wgrad_dk's samples on the prefetch loops; after: the
           depthwise weight gradient 1.16x faster; lenet1's and lenet2's, whose
           tiles run longer, 1.02-1.05x slower, so not there) */
        const int ahead = pl->ntiles == 1 && qtiles == 1 && !pl->dk_nhwc && (g + 1 < g1 || u + 1 < u1);
        const int late = mk == 1 && Cg == 1 && kn == 1;
        const ptrdiff_t gn = g + 1 < g1 ? g + 1 : g0, nn = g + 1 < g1 ? n : n + 1;
        if (ahead && !late) {
            CX_NAME(dk_prefetch)(x + (nn * d->C + gn * Cg) * d->H * d->W, Cg * d->H * d->W);
            CX_NAME(dk_prefetch)(dy + (nn * d->K + gn * Kg + k0) * PQ, kn * PQ);
        }
        const ptrdiff_t rows = cx_min(pl->tile, P - p0);
#if CX_DK_FWDX
        if (inplace) {
            /* depthwise 3x3: both planes read in place by the tile, no band
               and no dY copy (which waited on memory for 67% of the time) */
            const CX_T *xn = x + (nn * d->C + gn * Cg) * d->H * d->W;
            const CX_T *dyn = dy + (nn * d->K + gn * Kg + k0) * PQ;
            /* (the next planes: a line of each a row step of the tile, as
               the forward's (a burst before the tile waited on the miss
               buffers and the tile's dY loads behind it; bench/README.md,
               session 25), or all at once first) */
            const int spread = ahead && late && !(cx_dev_flags & CX_DEV_NO_PFWGRADX);
            if (ahead && late && !spread) {
                CX_NAME(dk_prefetch)(xn, Cg * d->H * d->W);
                CX_NAME(dk_prefetch)(dyn, kn * PQ);
            }
            const cx_dk_next nxt = {(const char *)xn, (const char *)dyn,
                                    Cg * d->H * d->W * (ptrdiff_t)sizeof(CX_T),
                                    kn * PQ * (ptrdiff_t)sizeof(CX_T)};
            const CX_T *dyg = dy + (n * d->K + g * Kg + k0) * PQ + p0 * QF;
            const CX_T *xg = x + (n * d->C + g * Cg) * d->H * d->W;
            if (xmode)
                CX_NAME(dk_wgradx_3m)(rows, nvec, dyg, QF, xg, d->H, d->W, p0 - d->pad_top,
                                      d->pad_left, xmq, xmx, &xfix, spread ? &nxt : NULL, accg);
            else if (spread)
                CX_NAME(dk_wgradx_3p)(rows, nvec, dyg, QF, xg, d->H, d->W, p0 - d->pad_top,
                                      d->pad_left, xmq, xmx, &nxt, accg);
            else
                CX_NAME(dk_wgradx_3)(rows, nvec, dyg, QF, xg, d->H, d->W, p0 - d->pad_top,
                                     d->pad_left, xmq, xmx, accg);
            continue;
        }
#endif
        const ptrdiff_t rows_in = CX_NAME(dk_rows_in)(d, rows);
        const ptrdiff_t bn = Cg * rows_in * d->stride_w * L;
        CX_NAME(dk_offsets)(du, Cg, rows_in, L, off, tpad);
        /* (channels-last, dk_nhwc: whole rows only; dY's rows gathered per
           output channel below) */
        CX_NAME(dk_fill_band_of)(d, du, pl, x, n, g, Cg, p0 * d->stride_h, rows_in, L, band, 0);
        const CX_T *dyk = dy + (n * d->K + g * Kg + k0) * PQ + p0 * QF + q0;
        ptrdiff_t ldk = PQ, ldp = QF, mrem = 0, nv = nvec, nrows = rows, step = rstep;
        if (flat || rem || pl->dk_nhwc) {
            const ptrdiff_t pitch = flat ? L : lq;
            const ptrdiff_t len = cx_ceil_div(rows * pitch, VL) * VL;
            if (pl->dk_nhwc) {
                /* element (k, p, q) at dy[((n*P + p0 + p)*Q + q)*K + g*Kg + k0 + k]:
                   each pixel's kn channels read once, written to kn rows */
                const CX_T *dn = dy + ((n * P + p0) * QF) * d->K + g * Kg + k0;
                for (ptrdiff_t p = 0; p < rows; ++p) {
                    const CX_T *dp = dn + p * QF * d->K;
                    CX_T *op = dyb + p * pitch;
                    for (ptrdiff_t k = 0; k < kn; ++k)     /* zeros past Q, first */
                        CX_NAME(dk_zero_outside)(op + k * len, pitch, 0, Q);
                    ptrdiff_t q = 0;
#if CX_DK_CV && CX_DK_STREAM
                    if (kn == 8 && !(cx_dev_flags & CX_DEV_NO_GATHER32))
                        /* 32 pixels a transpose, as dk_fill_band_nhwc's (lenet1's
                           28-pixel rows: one transpose, where the 16-pixel form below
                           left 12 pixels x 8 channels to the scalar loop) */
                        for (; q < Q; q += 32)
                            CX_NAME(dk_gather8x32)(dp + q * d->K, d->K, cx_min(32, Q - q),
                                                   op + q, len);
                    if (kn == 8)    /* 16 pixels' 8 channels by one 16 x 16 transpose */
                        for (; q + 16 <= Q; q += 16) {
                            CX_DV r[16];
                            for (int i = 0; i < 16; ++i) {
                                CX_ASAN_RUN(dp + (q + i) * d->K, 8);
                                r[i] = (CX_DV)_mm512_maskz_loadu_ps((__mmask16)0xFF,
                                                                    dp + (q + i) * d->K);
                            }
                            CX_NAME(dk_tr16)(r);
                            for (int k = 0; k < 8; ++k)
                                CX_NAME(dv_store)(op + k * len + q, r[k]);
                        }
                    if (kn % 16 == 0)
                        /* 16 pixels x 16 channels a transpose, a short last
                           block's missing pixels zero (the rows' pitch is
                           whole vectors, zero past Q); element by element
                           the stem's 64 channels were 15% of its NHWC
                           weight gradient */
                        for (; q < Q; q += 16) {
                            const int nq = (int)cx_min(16, Q - q);
                            const int nn = (int)cx_max(cx_min(16, Q - q - 16), 0);
                            for (ptrdiff_t k16 = 0; k16 < kn; k16 += 16) {
                                if (!(cx_dev_flags & CX_DEV_NO_PFGATHER))
                                    for (int i = 0; i < nn; ++i)
                                        CX_NAME(dk_prefetch_line)(dp + (q + 16 + i) * d->K + k16);
                                CX_DV r[16];
                                for (int i = 0; i < 16; ++i)
                                    r[i] = i < nq ? CX_NAME(dv_load)(dp + (q + i) * d->K + k16)
                                                  : CX_NAME(dv_splat)(0);
                                CX_NAME(dk_tr16)(r);
                                for (int k = 0; k < 16; ++k)
                                    CX_NAME(dv_store)(op + (k16 + k) * len + q, r[k]);
                            }
                        }
#endif
#if CX_DK_AVX2 && CX_TSIZE == 4
                    if (kn % 8 == 0 && Q - q >= 8)  /* 8 pixels x 8 channels a transpose (the
                                                       scalar loop was 29% of lenet1's NHWC
                                                       weight gradient); a last block short of
                                                       8 pixels overlaps the one before it */
                        for (; q < Q; q += 8) {
                            const ptrdiff_t qs = cx_min(q, Q - 8);
                            /* the block 16 pixels on (a pixel-strided walk
                               the hardware prefetchers did not follow: the
                               stem's gather waited on these loads) */
                            if (kn * (ptrdiff_t)sizeof(CX_T) >= 64)
                                for (ptrdiff_t l = 0; l < 8 * kn; l += 64 / (ptrdiff_t)sizeof(CX_T))
                                    CX_NAME(dk_prefetch_line)(dp + (qs + 16 + l / kn) * d->K + l % kn);
                            for (ptrdiff_t k8 = 0; k8 < kn; k8 += 8)
                                CX_NAME(dk_tr8x8)(dp + qs * d->K + k8, d->K, op + k8 * len + qs,
                                                  len);
                        }
#endif
                    for (; q < Q; ++q)
                        for (ptrdiff_t k = 0; k < kn; ++k)
                            op[k * len + q] = dp[q * d->K + k];
                }
                for (ptrdiff_t k = 0; k < kn; ++k)
                    memset(dyb + k * len + rows * pitch, 0,
                           (size_t)(len - rows * pitch) * sizeof(CX_T));
            } else {
                for (ptrdiff_t k = 0; k < kn; ++k) {
                    CX_T *o = dyb + k * len;
                    CX_NAME(dk_copy_rows)(o, pitch, dyk + k * PQ, QF, rows, Q);
                    memset(o + rows * pitch, 0, (size_t)(len - rows * pitch) * sizeof(CX_T));
                }
            }
            dyk = dyb;
            ldk = len;
            ldp = pitch;
            memset(band + bn, 0, (size_t)slack * sizeof(CX_T));
            /* dY's zeros (past Q) meet band values: exact zeros unless the band
               holds inf or NaN, then the row-by-row kernel masks them */
            const int finite = CX_NAME(dk_all_finite)(band, bn);
            mrem = finite ? 0 : rem;
            if (flat && finite) {
                /* the whole band as one reduction: dy[f] * band[off[j] + f], f < len */
                nrows = 1;
                nv = len / VL;
                step = 0;
            }
        }
        if (ahead && late) {
            CX_NAME(dk_prefetch)(x + (nn * d->C + gn * Cg) * d->H * d->W, Cg * d->H * d->W);
            CX_NAME(dk_prefetch)(dy + (nn * d->K + gn * Kg + k0) * PQ, kn * PQ);
        }
        /* one input channel of 3x3 (or, with 32 registers, 5x5) taps a dY
           channel, unit vertical step: the tile walked by band row (on the
           rows and dY pitch before any flattening) */
        if (mk == 1 && Cg == 1 && mrem == 0 && d->R == d->S && d->stride_h == 1 &&
            d->dil_h == 1 && (d->R == 3 || (d->R == 5 && CX_VREGS >= 32)) &&
            !(cx_dev_flags & CX_DEV_NO_ROWWALK)) {
#if CX_VREGS >= 32
            const CX_NAME(dk_wgradr_fn) rfn = d->R == 5 ? CX_NAME(dk_wgradr_5) : CX_NAME(dk_wgradr_3);
#else
            const CX_NAME(dk_wgradr_fn) rfn = CX_NAME(dk_wgradr_3);
#endif
            for (ptrdiff_t tk = 0; tk < ntk; ++tk)
                rfn(rows, nvec, dyk + tk * ldk, ldp, band, rstep, off, accg + tk * ntt * mt);
            continue;
        }
        const CX_NAME(dk_wgrad_fn) fn = mrem ? masked : fast;
        for (ptrdiff_t tk = 0; tk < ntk; ++tk) {
            const ptrdiff_t mvalid = cx_min(mk, kn - tk * mk);
            for (ptrdiff_t tt = 0; tt < ntt; ++tt)
                fn(nrows, nv, mrem, dyk + tk * mk * ldk, ldk, ldp, mvalid, band, step,
                   off + tt * mt, accg + (tk * ntt + tt) * mk * mt);
        }
    }
    /* fixed pairwise tree over the lanes; output channel k's taps t are
       consecutive in dw, their accumulators at (t / mt) * mk * mt + t % mt */
    for (ptrdiff_t g = g0; g < g1; ++g)
    for (ptrdiff_t tk = 0; tk < ntk; ++tk)
        for (ptrdiff_t i = 0; i < cx_min(mk, kn - tk * mk); ++i) {
            CX_T *row = dw + (g * Kg + k0 + tk * mk + i) * taps;
            const CX_DV *base = acc + (g - g0) * nacc + tk * ntt * mk * mt + i * mt;
            ptrdiff_t t = 0, tt = 0, j = 0;     /* t = tt * mt + j */
#if CX_DK_HSUM_BLOCK
            for (; t + CX_DVL <= taps; t += CX_DVL) {
                CX_DV blk[CX_DVL_MAX];
                for (ptrdiff_t l = 0; l < CX_DVL; ++l) {
                    blk[l] = base[tt * mk * mt + j];
                    if (++j == mt)
                        j = 0, ++tt;
                }
                CX_NAME(dv_hsum_block)(blk, row + t);
            }
#endif
            for (; t < taps; ++t) {
                row[t] = CX_NAME(dv_hsum)(base[tt * mk * mt + j]);
                if (++j == mt)
                    j = 0, ++tt;
            }
        }
}

/* A padded row's gradients (from: Wp columns) added at the columns they
   copied, to: the target row's column 0; in column order (each inner column
   onto its own, in vectors: each target once). */
static CX_DK_INLINE void CX_NAME(fold_row)(CX_T *to, const CX_T *from, ptrdiff_t W,
                                          ptrdiff_t Wp, ptrdiff_t left, const ptrdiff_t *src_w)
{
    for (ptrdiff_t j = 0; j < left; ++j)
        to[src_w[j]] += from[j];
    ptrdiff_t j = 0;
    for (; j + CX_DVL <= W; j += CX_DVL)
        CX_NAME(dv_store)(to + j, CX_NAME(dv_load)(to + j) + CX_NAME(dv_load)(from + left + j));
    for (; j < W; ++j)
        to[j] += from[left + j];
    for (j = left + W; j < Wp; ++j)
        to[src_w[j]] += from[j];
}

/* fold_row's sums, the inner columns first (the border's rows,
   conv2d_dgrad_border: its sums' order is its own): the tail in one masked
   vector (AVX-512), then the padded columns. (Scalar adds before a masked
   vector load of the same row wait for their stores: with the padded
   columns first the masked tail gained 1.7% of the border, after them 3.6 |
   7.0%: bench/border_only_ab.py.) */
static CX_DK_INLINE void CX_NAME(fold_row_inner_first)(CX_T *to, const CX_T *from, ptrdiff_t W,
                                                       ptrdiff_t Wp, ptrdiff_t left,
                                                       const ptrdiff_t *src_w)
{
    ptrdiff_t j = 0;
    for (; j + CX_DVL <= W; j += CX_DVL)
        CX_NAME(dv_store)(to + j, CX_NAME(dv_load)(to + j) + CX_NAME(dv_load)(from + left + j));
#if CX_DK_STREAM
    if (j < W) {
        const unsigned mk = cx_dk_lanes(0, W - j, CX_DVL);
        CX_NAME(dv_mask_store)(to + j, mk, CX_NAME(dv_maskz_load)(mk, to + j) +
                                               CX_NAME(dv_maskz_load)(mk, from + left + j));
    }
#else
    for (; j < W; ++j)
        to[j] += from[left + j];
#endif
    for (j = 0; j < left; ++j)
        to[src_w[j]] += from[j];
    for (j = left + W; j < Wp; ++j)
        to[src_w[j]] += from[j];
}

/* to[0, len) = 0 but to[lo, lo + n) = from[0, n), for short lines (dk_copy_rows
   with lo leading zeros): the border's zero-extended copies of grad_output's
   rows (lenet2's: 36 floats of a 14-float row, a memset, a memcpy and a
   memset, ~320 libc calls an image, 3.5% of its reflect input gradient in
   them); AVX-512: a masked load and store a vector, nothing read or written
   outside the lanes asked for. */
static CX_DK_INLINE void CX_NAME(line_copy)(CX_T *restrict to, ptrdiff_t len,
                                           const CX_T *restrict from, ptrdiff_t lo, ptrdiff_t n)
{
#if CX_DK_STREAM
    for (ptrdiff_t j = 0; j < len; j += CX_DVL) {
        const unsigned in = cx_dk_lanes(lo - j, lo + n - j, CX_DVL);
        /* (address in integers: the vector may start before from, where no
           lane of it reads) */
        const CX_T *src = (const CX_T *)((size_t)from +
                                         (size_t)((j - lo) * (ptrdiff_t)sizeof(CX_T)));
        const CX_DV v = in ? CX_NAME(dv_maskz_load)(in, src) : CX_NAME(dv_splat)(0);
        if (j + CX_DVL <= len)
            CX_NAME(dv_store)(to + j, v);
        else
            CX_NAME(dv_mask_store)(to + j, cx_dk_lanes(0, len - j, CX_DVL), v);
    }
#else
    memset(to, 0, (size_t)lo * sizeof(CX_T));
    memcpy(to + lo, from, (size_t)n * sizeof(CX_T));
    memset(to + lo + n, 0, (size_t)(len - lo - n) * sizeof(CX_T));
#endif
}

/* After conv2d_fwd_fold's items: plane `plane` of dx (H x W) gets its padded
   rows' gradients (ring: Hp - H rows of Wp, the top ones first) added at the
   positions they copied, row after row. */
void CX_NAME(conv2d_fold_ring)(CX_T *dx, const CX_T *ring, ptrdiff_t H, ptrdiff_t W,
                               ptrdiff_t Hp, ptrdiff_t Wp, ptrdiff_t top, ptrdiff_t left,
                               const ptrdiff_t *src_h, const ptrdiff_t *src_w, ptrdiff_t plane)
{
    const ptrdiff_t nring = Hp - H;
    for (ptrdiff_t r = 0; r < nring; ++r)
        CX_NAME(fold_row)(dx + (plane * H + src_h[r < top ? r : r + H]) * W,
                          ring + (plane * nring + r) * Wp, W, Wp, left, src_w);
}

/* The input gradient under a padding mode, folded as it is made (NCHW; the
   stride-1 forward form on the direct kernels: d and pl are that forward's,
   whose output -- K = the input's channels, P x Q = the padded input's
   Hp x Wp -- is the padded input's gradient; no column tiles). Item `item`
   of pl (one image's band of rows for a block of groups) writes its rows,
   a group at a time, to yb (this thread's K/G * P * Q elements) instead of
   to a padded array of the whole batch, and the inner rows go from there to
   dx (N, K, H, W), with
   non-temporal stores when `stream`, once every padded position's gradient
   in them is added at the position it copied (src_h / src_w; top / left:
   the padding). An item with whole planes folds them in pad_fold2d's order
   (bit for bit its result); a band's padded rows fold onto rows other items
   write, so they go to `ring` (N * K planes of Hp - H rows of Wp), which
   conv2d_fold_ring adds in once every item is done (the same sums, padded
   rows last). A depthwise layer's input gradient is memory-bound: the padded
   array's trip through memory and a fold pass over it cost as much as the
   convolution. */
void CX_NAME(conv2d_fwd_fold)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl,
                              const CX_T *x, const CX_T *w, CX_T *dx, CX_T *ring, ptrdiff_t H,
                              ptrdiff_t W, ptrdiff_t top, ptrdiff_t left,
                              const ptrdiff_t *src_h, const ptrdiff_t *src_w, int stream,
                              ptrdiff_t item, CX_T *ws, CX_T *yb)
{
    const ptrdiff_t Hp = d->P, Wp = d->Q, G = d->groups, Kg = d->K / G;
    const ptrdiff_t per = pl->ntiles * pl->cblocks, n = item / per, sub = item % per;
    const ptrdiff_t bi = sub % pl->ntiles, gb = sub / pl->ntiles;
    const ptrdiff_t p0 = bi * pl->tile, p1 = cx_min(Hp, p0 + pl->tile);
    cx_conv2d_desc d1 = *d;
    d1.N = 1;                   /* image n alone: item `sub` writes yb's rows */
    cx_conv2d_plan pn = *pl;
    pn.dk_stream = 0;           /* yb is read back at once: keep it in the caches */
    /* (pn.dk_inplace as planned: depthwise 3x3 tiles read dy in place and
       write yb's rows, no band) */
    const CX_T *xn = x + n * d->C * d->H * d->W;
    const ptrdiff_t g0 = gb * pl->cblock, g1 = cx_min(G, (gb + 1) * pl->cblock);
    const ptrdiff_t i0 = cx_max(p0, top), i1 = cx_min(p1, top + H);   /* inner rows */
    const int whole = pl->ntiles == 1;  /* (else conv2d_fold_ring's pass follows) */
    /* a group at a time (fwd_dk's steps: the next group's plane prefetched
       while this one's tiles run), its planes folded and written out at once
       from yb, which holds one group's planes (in L1 / L2; the whole block's
       planes, then their fold: bench/ab.py depthwise dgrad, reflect, 1.02 |
       1.08x the time) */
    for (ptrdiff_t g = g0; g < g1; ++g) {
        /* (the tiles write y + g Kg P Q: y's address made in integers) */
        CX_T *yg = (CX_T *)((size_t)yb - (size_t)(g * Kg * Hp * Wp) * sizeof(CX_T));
        CX_NAME(fwd_dk_step)(&d1, &pn, xn, w, NULL, yg, 0, g, g1, bi, ws);
        for (ptrdiff_t k = g * Kg; k < (g + 1) * Kg; ++k) {
            CX_T *yp = yb + (k - g * Kg) * Hp * Wp;
            for (ptrdiff_t i = p0; i < p1; ++i) {
                CX_T *row = yp + i * Wp;
                if (i >= top && i < top + H) {
                    for (ptrdiff_t j = 0; j < left; ++j)
                        row[left + src_w[j]] += row[j];
                    for (ptrdiff_t j = left + W; j < Wp; ++j)
                        row[left + src_w[j]] += row[j];
                } else if (whole) {
                    CX_NAME(fold_row)(yp + (src_h[i] + top) * Wp + left, row, W, Wp, left, src_w);
                } else {
                    memcpy(ring + ((n * d->K + k) * (Hp - H) + (i < top ? i : i - H)) * Wp, row,
                           (size_t)Wp * sizeof(CX_T));
                }
            }
            if (i1 <= i0)
                continue;
            CX_T *dp = dx + ((n * d->K + k) * H + i0 - top) * W;
            if (stream) {
                /* the band's rows streamed out as one run (row by row, most of
                   their 64-byte lines would be partial) */
                CX_NAME(dk_stream_rows)(dp, yp + i0 * Wp + left, i1 - i0, W, Wp);
            } else {
                /* (short rows by masked vectors: a memcpy call a 28-column
                   row was 2.7% of lenet1's at 2 threads) */
                CX_NAME(dk_copy_rows)(dp, W, yp + i0 * Wp + left, Wp, i1 - i0, W);
            }
        }
    }
    if (stream)
        CX_NAME(dk_sfence)();
}

/* ---- a padding mode's input gradient, thin groups: zeros' gradient plus the ring ----
   Where a group has one input channel (depthwise layers), the fused fold
   above computes the padded input's gradient into its buffer and copies the
   inner rows to dx: on a memory-bound layer that copy (and the 7% more
   pixels of a 58 x 58 padded plane) cost 25% over the zeros-padding input
   gradient (depthwise, 8 x 128 x 56 x 56, 3 x 3). Here the items of the
   zeros-padding gradient's forward form (d2, pl: direct kernels, output =
   dx itself) write dx, then add, while the item's planes are in the caches,
   the gradients of its rows' padded columns (ring_column: a few restricted
   taps per position, summed down the column) and, where an item holds whole planes, their padded
   rows' (conv2d_ring_rows: the whole padded width, corners too, as axpys
   along the row); bands of rows leave the padded rows to a pass of
   conv2d_ring_rows per plane once every item is done (a padded row folds
   onto a row another item may write). d: the original problem (stride 1,
   its padding; K output channels of (K, C/G, R, S) weights w, grad_output
   dy (N, K, P, Q)); the padded input is Hp x Wp with the input at (top,
   left); src_h / src_w: the input row / column each padded row / column
   copies. The sums, for every element and any thread count: the zeros
   gradient's, then the padded columns' left to right, then the padded rows'
   top to bottom. */
void CX_NAME(conv2d_ring_rows)(const cx_conv2d_desc *d, const CX_T *dy, const CX_T *w,
                               CX_T *dx, ptrdiff_t top, ptrdiff_t left, ptrdiff_t Hp,
                               ptrdiff_t Wp, const ptrdiff_t *src_h, const ptrdiff_t *src_w,
                               ptrdiff_t plane, CX_T *restrict buf)
{
    const ptrdiff_t H = d->H, W = d->W, P = d->P, Q = d->Q, R = d->R, S = d->S;
    const ptrdiff_t dh = d->dil_h, dw = d->dil_w;
    const ptrdiff_t Cg = d->C / d->groups, Kg = d->K / d->groups;
    const ptrdiff_t n = plane / d->C, c = plane % d->C, g = c / Cg, cl = c % Cg;
    const CX_T *dyn = dy + n * d->K * P * Q;
    for (ptrdiff_t ip = 0; ip < Hp; ++ip) {
        if (ip == top)
            ip = top + H;           /* the inner rows: ring_column's */
        if (ip >= Hp)
            break;
        const ptrdiff_t r0 = ip >= P ? (ip - P) / dh + 1 : 0, r1 = cx_min(R, ip / dh + 1);
        for (ptrdiff_t j = 0; j < Wp; ++j)
            buf[j] = 0;
        for (ptrdiff_t k = g * Kg; k < (g + 1) * Kg; ++k)
            for (ptrdiff_t r = r0; r < r1; ++r) {
                const CX_T *restrict src = dyn + (k * P + ip - r * dh) * Q;
                const CX_T *wr = w + ((k * Cg + cl) * R + r) * S;
                for (ptrdiff_t s = 0; s < S; ++s) {
                    const CX_T ws_ = wr[s];
                    CX_T *restrict to = buf + s * dw;      /* buf[q + s*dw] += dy[q] w */
                    for (ptrdiff_t q = 0; q < Q; ++q)
                        to[q] += src[q] * ws_;
                }
            }
        CX_NAME(fold_row)(dx + ((n * d->C + c) * H + src_h[ip]) * W, buf, W, Wp, left, src_w);
    }
}

/* dx[., ., i, src_w[jp]] += padded column jp's gradient, rows [i0, i1) of
   input channel c (dxc: its plane): its taps that reach grad_output (kernel
   columns s with 0 <= jp - s*dw < Q; rows r with 0 <= ip - r*dh < P, all
   of them on the rows away from grad_output's top and bottom, which are
   summed a tap at a time down the column into g, max(H, Wp) elements: a
   position at a time, the few taps' loops cost ~20 cycles an FMA). */
static void CX_NAME(ring_column)(const cx_conv2d_desc *d, const CX_T *dyn, const CX_T *w,
                                 CX_T *dxc, ptrdiff_t c, ptrdiff_t i0, ptrdiff_t i1,
                                 ptrdiff_t top, ptrdiff_t jp, ptrdiff_t to, CX_T *restrict g)
{
    const ptrdiff_t Cg = d->C / d->groups, Kg = d->K / d->groups, gr = c / Cg, cl = c % Cg;
    const ptrdiff_t dh = d->dil_h, dw = d->dil_w, R = d->R, S = d->S, P = d->P, Q = d->Q;
    const ptrdiff_t W = d->W, reach = (R - 1) * dh;
    const ptrdiff_t s0 = jp >= Q ? (jp - Q) / dw + 1 : 0, s1 = cx_min(S, jp / dw + 1);
    /* rows [ia, ib) see every kernel row */
    const ptrdiff_t ia = cx_min(i1, cx_max(i0, reach - top)), ib = cx_max(ia, cx_min(i1, P - top));
    for (ptrdiff_t i = i0; i < i1; ++i) {
        if (i == ia)
            i = ib;
        if (i >= i1)
            break;
        const ptrdiff_t ip = i + top;
        const ptrdiff_t r0 = ip >= P ? (ip - P) / dh + 1 : 0, r1 = cx_min(R, ip / dh + 1);
        CX_T acc = 0;
        for (ptrdiff_t k = gr * Kg; k < (gr + 1) * Kg; ++k) {
            const CX_T *wk = w + (k * Cg + cl) * R * S;
            const CX_T *dk = dyn + k * P * Q + jp;
            for (ptrdiff_t r = r0; r < r1; ++r)
                for (ptrdiff_t s = s0; s < s1; ++s)
                    acc += dk[(ip - r * dh) * Q - s * dw] * wk[r * S + s];
        }
        dxc[i * W + to] += acc;
    }
    const ptrdiff_t m = ib - ia;
    if (m <= 0)
        return;
    for (ptrdiff_t i = 0; i < m; ++i)
        g[i] = 0;
    for (ptrdiff_t k = gr * Kg; k < (gr + 1) * Kg; ++k) {
        const CX_T *wk = w + (k * Cg + cl) * R * S;
        for (ptrdiff_t r = 0; r < R; ++r)
            for (ptrdiff_t s = s0; s < s1; ++s) {
                const CX_T *restrict src = dyn + (k * P + ia + top - r * dh) * Q + jp - s * dw;
                const CX_T wv = wk[r * S + s];
                for (ptrdiff_t i = 0; i < m; ++i)
                    g[i] += src[i * Q] * wv;
            }
    }
    for (ptrdiff_t i = 0; i < m; ++i)
        dxc[(ia + i) * W + to] += g[i];
}

void CX_NAME(conv2d_fwd_ring)(const cx_conv2d_desc *d, const cx_conv2d_desc *d2,
                              const cx_conv2d_plan *pl, const CX_T *dy, const CX_T *w,
                              const CX_T *wt, CX_T *dx, ptrdiff_t top, ptrdiff_t left,
                              ptrdiff_t Wp, const ptrdiff_t *src_h, const ptrdiff_t *src_w,
                              ptrdiff_t item, CX_T *ws, CX_T *buf)
{
    const ptrdiff_t H = d->H, W = d->W, G = d2->groups, Kg2 = d2->K / G;
    const ptrdiff_t per = pl->ntiles * pl->cblocks;
    /* (folding: a block of channels' images one after another, whose tables
       the thread keeps; else images outside) */
    const ptrdiff_t n = pl->dk_tapfold ? item % d->N : item / per;
    const ptrdiff_t sub = pl->dk_tapfold ? item / d->N : item % per;
    const ptrdiff_t bi = sub % pl->ntiles, gb = sub / pl->ntiles;
    const ptrdiff_t i0 = bi * pl->tile, i1 = cx_min(H, i0 + pl->tile);
    const ptrdiff_t Hp = d->P + (d->R - 1) * d->dil_h;
    cx_conv2d_desc d1 = *d2;
    d1.N = 1;
    const CX_T *dyn = dy + n * d->K * d->P * d->Q;
#if CX_DK_FWDX
    if (pl->dk_tapfold) {
        /* the padded positions folded onto the in-place tiles' taps
           (cx_dk_tapfold; buf: the tables); where an output they touch is
           not finite, the item again below, unfolded */
        cx_dk_tapfold tf;
        int bad = 0;
        if (cx_dk_tapfold_make(d, Hp, Wp, src_h, src_w, &tf)) {
            tf.nslots = pl->cblock;
            tf.tags = (long long *)buf;
            CX_T *tab = (CX_T *)(tf.tags + tf.nslots);
            tf.tab = tab + (((size_t)tab % 64) ? (64 - (size_t)tab % 64) / sizeof(CX_T) : 0);
            tf.stamp = pl->dk_stamp;
            tf.bad = &bad;
            cx_conv2d_plan pt = *pl;
            pt.dk_tf = &tf;
            CX_NAME(fwd_dk)(&d1, &pt, dyn, wt, NULL, dx + n * d->C * H * W, sub, ws);
            if (!bad)
                return;
        }
    }
#endif
    CX_NAME(fwd_dk)(&d1, pl, dyn, wt, NULL, dx + n * d->C * H * W, sub, ws);
    const ptrdiff_t c0 = gb * pl->cblock * Kg2, c1 = cx_min(G, (gb + 1) * pl->cblock) * Kg2;
    for (ptrdiff_t c = c0; c < c1; ++c) {
        CX_T *dxc = dx + (n * d->C + c) * H * W;
        for (ptrdiff_t jp = 0; jp < left; ++jp)
            CX_NAME(ring_column)(d, dyn, w, dxc, c, i0, i1, top, jp, src_w[jp], buf);
        for (ptrdiff_t jp = left + W; jp < Wp; ++jp)
            CX_NAME(ring_column)(d, dyn, w, dxc, c, i0, i1, top, jp, src_w[jp], buf);
        if (pl->ntiles == 1 && Hp > H)   /* whole planes: their padded rows too */
            CX_NAME(conv2d_ring_rows)(d, dy, w, dx, top, left, Hp, Wp, src_h, src_w,
                                      n * d->C + c, buf);
    }
}

/* ---- a padding mode's input gradient: the border's part, restricted taps ----
   Under a padding mode the input gradient is the zeros-padding one (computed
   first, by any algorithm) plus the gradient of every padded position (the
   ring of the Hp x Wp padded input outside the H x W input), added at the
   input position it copied. A ring position's gradient needs only the taps
   that reach grad_output: ring row i (top or bottom, every padded column)
   reads the kernel rows r with 0 <= i - r*dh < P, ring column j (left or
   right, the inner rows) the kernel columns s with 0 <= j - s*dw < Q. A
   14 x 14 input padded by 1 for a 3 x 3 kernel has 9% of the tap pairs in
   its ring; the fused conv2d_fwd_fold computes the whole 16 x 16 padded
   gradient instead, 31% more pixels (more where Wp crosses a vector).

   w: the weight as (G, C/G in blocks of CX_RING_CB, R, S, K/G, CB), the
   last block CB = what is left: a tap's weights for a tile's channels are
   adjacent and the reduction over K/G reads them as one stream (with C/G
   innermost, vgg3x3_512's 2 KB steps left the ring's tiles waiting on
   them: 11.6% of the call, 6.5% in blocks). Item `item`: ib images (the caller's
   choice: the sums do not depend on it), group g, a block of up to 128 of
   the group's input channels. The grad_output rows (top:
   [0, t), bottom: [P - b, P)) and columns (left: [0, l), right:
   [Q - r, Q), transposed) the ring reads are copied, zero-extended, into
   the workspace; then each ring line (a padded row, or a padded column's
   inner rows) is made in registers, CB channels x NI images x NV vectors
   along the line at a time (a broadcast weight times a loaded vector per tap
   and output channel k, k innermost; see ring_line), and folded into dx in a fixed order (rows top to
   bottom, then columns left to right). The tiles multiply the copies'
   zeros (past grad_output's edges, past the line's end): with a non-finite
   weight the caller takes the fused fold instead. */
#define CX_RING_CB 16
#define CX_RING_PF 4   /* planes of dy asked for ahead of the border's copies */

static ptrdiff_t CX_NAME(ring_round)(ptrdiff_t n)
{
    return (n + CX_DVL - 1) / CX_DVL * CX_DVL;
}

/* Lines of the ring and the lengths of the workspace's parts (elements). */
typedef struct {
    ptrdiff_t t, b, l, r, Hp, Wp, oh, ow;
    ptrdiff_t nrt, nrb, rb0, ncl, ncr, cr0;   /* source rows / columns and bases */
    ptrdiff_t lrow, lcol;                     /* a copied row's / column's length */
    ptrdiff_t Wv, Hv;                         /* line lengths rounded to vectors */
    int pin;                                  /* the pinwheel's lines (below) */
    ptrdiff_t ldl;                            /* a line's length in the line buffer */
} CX_NAME(ring_geo);

static void CX_NAME(ring_geometry)(const cx_conv2d_desc *d, CX_NAME(ring_geo) *q)
{
    q->oh = (d->R - 1) * d->dil_h;
    q->ow = (d->S - 1) * d->dil_w;
    q->t = d->pad_top;
    q->l = d->pad_left;
    q->Hp = d->P + q->oh;           /* stride 1 */
    q->Wp = d->Q + q->ow;
    q->b = q->Hp - d->H - q->t;
    q->r = q->Wp - d->W - q->l;
    q->nrt = cx_max(cx_min(q->t, d->P), 0);
    q->rb0 = cx_max(d->P - q->b, 0);
    q->nrb = d->P - q->rb0;
    if (q->b <= 0)
        q->nrb = 0;
    q->ncl = cx_max(cx_min(q->l, d->Q), 0);
    q->cr0 = cx_max(d->Q - q->r, 0);
    q->ncr = q->r > 0 ? d->Q - q->cr0 : 0;
    q->Wv = CX_NAME(ring_round)(q->Wp);
    q->Hv = CX_NAME(ring_round)(d->H);
    q->lrow = q->Wv + q->ow;
    q->lcol = q->Hv + q->oh;
    /* The pinwheel: the ring cut so that each line holds one corner, top rows
       over padded columns [0, l + W), right columns over padded rows [0, t +
       H), bottom rows over columns [l, Wp), left columns over rows [t, Hp),
       where that takes fewer 64-byte vectors a row and no more a column.
       lenet2 (14 wide, padding 2): rows of 16, not 18 (two vectors), columns
       of 16, not 14: the ring's vector FMAs 60 of 90 per 350 of the inner
       part's. The columns' copies then start at padded row 0 (dy row y - oh
       at y). (Counted in 64-byte vectors whatever the path's width: the lines
       fold in another order, and AVX-512 routed to AVX2's tiles must give
       AVX2's bits.) */
    const ptrdiff_t v64 = 64 / (ptrdiff_t)sizeof(CX_T);
#define CX_R64(n) (((n) + v64 - 1) / v64 * v64)
    q->pin = CX_R64(q->l + d->W) < CX_R64(q->Wp) && CX_R64(d->W + q->r) < CX_R64(q->Wp) &&
             cx_max(CX_R64(q->t + d->H), CX_R64(d->H + q->b)) <= CX_R64(d->H) &&
             !(cx_dev_flags & CX_DEV_NO_PINWHEEL);
#undef CX_R64
    q->ldl = cx_max(q->Wv, q->Hv);
    if (q->pin) {
        const ptrdiff_t Hm = cx_max(CX_NAME(ring_round)(q->t + d->H),
                                    CX_NAME(ring_round)(d->H + q->b));
        q->lcol = q->t + Hm + q->oh;
        q->ldl = cx_max(q->ldl, Hm);
        /* (the rows' copies only as far as the lines read: 22 of lenet2's
           36, two vectors to copy a row, not three) */
        q->lrow = q->ow + cx_max(CX_NAME(ring_round)(q->l + d->W),
                                 q->l + CX_NAME(ring_round)(d->W + q->r));
    }
}

/* Workspace elements one thread needs for conv2d_dgrad_border (stride 1)
   with items of ib images. */
size_t CX_NAME(conv2d_dgrad_border_ws)(const cx_conv2d_desc *d, ptrdiff_t ib)
{
    CX_NAME(ring_geo) q;
    CX_NAME(ring_geometry)(d, &q);
    const ptrdiff_t Kg = d->K / d->groups;
    return (size_t)(ib * (Kg * ((q.nrt + q.nrb) * q.lrow + (q.ncl + q.ncr) * q.lcol)
                          + CX_RING_CB * q.ldl) + 2 * CX_DVL);
}

/* The forward's fold of a reflect or replicate padding (cx_dk_fold_rule),
   for plan->dk_fold once the caller has set d->pad_mode. */
int CX_NAME(conv2d_tapfold)(const cx_conv2d_desc *d, const cx_conv2d_desc *d2,
                            const cx_conv2d_plan *pl, ptrdiff_t Hp, ptrdiff_t Wp,
                            const ptrdiff_t *src_h, const ptrdiff_t *src_w)
{
#if CX_DK_FWDX
    cx_dk_tapfold tf;
    if (!pl->dk || !pl->dk_inplace || !pl->dk_stream || pl->dk_nhwc || pl->dk_qt != 0 ||
        pl->ntiles != 1 || d2->R != 3 || d2->S != 3 || d2->P != d->H || d2->Q != d->W ||
        d->C != d->groups || d->K != d->groups || (cx_dev_flags & CX_DEV_NO_TAPFOLD) ||
        !cx_dk_tapfold_make(d, Hp, Wp, src_h, src_w, &tf))
        return 0;
    /* (the folded columns on a row's first or last vector) */
    for (int k = 0; k < 2; ++k)
        if (tf.col[k] >= 0 && tf.col[k] / CX_DVL != 0 && tf.col[k] / CX_DVL != pl->dk_nv - 1)
            return 0;
    return 1;
#else
    (void)d, (void)d2, (void)pl, (void)Hp, (void)Wp, (void)src_h, (void)src_w;
    return 0;
#endif
}

int CX_NAME(conv2d_fold)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl)
{
    return cx_dk_fold_rule(d, pl);
}

int CX_NAME(conv2d_regpad)(const cx_conv2d_desc *d, const cx_conv2d_plan *pl)
{
    cx_dk_padx pad;
    return CX_NAME(dk_regpad)(d, pl, &pad);
}

/* The stride-1 input gradient's forward weight (conv2d_dgrad as a forward of
   grad_output): wt[g, c, k, :, :] = w[g * K/G + k, c, ::-1, ::-1] for the
   input channels [c0, c0 + 16) of group g (unit u = g * ceil(C/G / 16) +
   c0 / 16), in 16 x 16 blocks of (c, k): a block reads 16 runs of w and
   writes 16 runs of wt, each 16 * R * S long (one channel a unit read w at
   a stride of C/G * R * S a weight, every read in another page: 5% of
   res3x3_256's input gradient, more than numpy's copy and isfinite pass, at
   3.7%). Each weight checked (v - v is nan for inf or nan). */
int CX_NAME(dgrad_flip_weight)(const cx_conv2d_desc *d, const CX_T *w, CX_T *wt, ptrdiff_t u)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, RS = d->R * d->S;
    const ptrdiff_t nb = (Cg + 15) / 16, g = u / nb, c0 = u % nb * 16;
    const ptrdiff_t c1 = cx_min(Cg, c0 + 16);
    int bad = 0;
    for (ptrdiff_t k0 = 0; k0 < Kg; k0 += 16) {
        const ptrdiff_t k1 = cx_min(Kg, k0 + 16);
        /* (the next block's runs of w asked for: they come from memory) */
        for (ptrdiff_t k = k0 + 16; k < cx_min(Kg, k0 + 32); ++k)
            CX_NAME(dk_prefetch)(w + ((g * Kg + k) * Cg + c0) * RS, (c1 - c0) * RS);
        for (ptrdiff_t k = k0; k < k1; ++k) {
            const CX_T *restrict src = w + ((g * Kg + k) * Cg + c0) * RS;
            for (ptrdiff_t c = c0; c < c1; ++c, src += RS) {
                CX_T *restrict dst = wt + ((g * Cg + c) * Kg + k) * RS;
                for (ptrdiff_t t = 0; t < RS; ++t) {
                    const CX_T v = src[RS - 1 - t];
                    dst[t] = v;
                    bad |= v - v != 0;
                }
            }
        }
    }
    return bad;
}

/* The border's weight: output channels [k0, k1) (16 of them) of group g,
   a block of CX_RING_CB channels and a tap at a time: 16 runs of bw, each
   gathered from a row of w (in L1 after the first tap) at a stride of RS,
   written in order. Its time is mostly w's first trip from memory (2.2% of
   res3x3_256's call); reading the rows in order wrote RS streams Kg*bw apart
   (16 KB there: the same L1 sets, 5.5%), staging them through a buffer 4%.
   Returns whether one of them is inf or nan (v - v is then nan). */
int CX_NAME(conv2d_dgrad_border_weight)(const cx_conv2d_desc *d, const CX_T *w, CX_T *wt,
                                        ptrdiff_t u)
{
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, RS = d->R * d->S;
    const ptrdiff_t nkc = (Kg + 15) / 16, g = u / nkc, k0 = u % nkc * 16;
    const ptrdiff_t k1 = cx_min(Kg, k0 + 16);
    /* (the check over the unit's rows in order first: in the gathers'
       loop it was half of this function's time) */
    const CX_T *rows = w + (g * Kg + k0) * Cg * RS;
    int bad = 0;
    for (ptrdiff_t i = 0; i < (k1 - k0) * Cg * RS; ++i)
        bad |= rows[i] - rows[i] != 0;
    for (ptrdiff_t c0 = 0; c0 < Cg; c0 += CX_RING_CB) {
        const ptrdiff_t bw = cx_min(CX_RING_CB, Cg - c0);
        for (ptrdiff_t t = 0; t < RS; ++t) {
            CX_T *restrict dst = wt + (g * Cg + c0) * RS * Kg + t * Kg * bw;
            for (ptrdiff_t k = k0; k < k1; ++k) {
                const CX_T *restrict src = w + ((g * Kg + k) * Cg + c0) * RS + t;
                for (ptrdiff_t c = 0; c < bw; ++c)
                    dst[k * bw + c] = src[c * RS];
            }
        }
    }
    return bad;
}

/* acc[cb][m][v] = sum over the line's na across-taps ia, nb along-taps b and
   k < Kg of wk[aw[ia] + b*wsb + k*wsk + cb] * src_m[k*lk + v*VL - b*db],
   src_m = srcp[ia] + m*ist (image m's copy), stored to lb[(m*CX_RING_CB +
   cb)*ldl + v*VL]: CB channels x NI images x NV vectors, each broadcast
   weight used NI*NV times, each loaded vector CB times. */
static CX_DK_INLINE void CX_NAME(ring_tile)(const int CB, const int NI, const int NV,
                                            ptrdiff_t Kg, ptrdiff_t na,
                                            const CX_T *const *srcp, const ptrdiff_t *aw,
                                            ptrdiff_t lk, ptrdiff_t ist, ptrdiff_t nb,
                                            ptrdiff_t db, const CX_T *restrict wk,
                                            ptrdiff_t wsk, ptrdiff_t wsb,
                                            CX_T *restrict lb, ptrdiff_t ldl)
{
    CX_DV acc[CX_RING_CB][4][2];
    CX_DK_UNROLL for (int cb = 0; cb < CB; ++cb)
        CX_DK_UNROLL for (int m = 0; m < NI; ++m)
            CX_DK_UNROLL for (int v = 0; v < NV; ++v)
                acc[cb][m][v] = CX_NAME(dv_splat)(0);
    /* the long reduction (over k) innermost: two pointer steps a pass */
    for (ptrdiff_t ia = 0; ia < na; ++ia)
        for (ptrdiff_t b = 0; b < nb; ++b) {
            const CX_T *src = srcp[ia] - b * db;
            const CX_T *wp = wk + aw[ia] + b * wsb;
            for (ptrdiff_t k = 0; k < Kg; ++k, src += lk, wp += wsk) {
                CX_DV xv[4][2];
                CX_DK_UNROLL for (int m = 0; m < NI; ++m)
                    CX_DK_UNROLL for (int v = 0; v < NV; ++v)
                        xv[m][v] = CX_NAME(dv_load)(src + m * ist + v * CX_DVL);
                CX_DK_UNROLL for (int cb = 0; cb < CB; ++cb) {
                    const CX_DV wv = CX_NAME(dv_splat)(wp[cb]);
                    CX_DK_UNROLL for (int m = 0; m < NI; ++m)
                        CX_DK_UNROLL for (int v = 0; v < NV; ++v)
                            acc[cb][m][v] += wv * xv[m][v];
                }
            }
        }
    CX_DK_UNROLL for (int cb = 0; cb < CB; ++cb)
        CX_DK_UNROLL for (int m = 0; m < NI; ++m)
            CX_DK_UNROLL for (int v = 0; v < NV; ++v)
                CX_NAME(dv_store)(lb + (m * CX_RING_CB + cb) * ldl + v * CX_DVL, acc[cb][m][v]);
}

typedef void (*CX_NAME(ring_fn))(ptrdiff_t, ptrdiff_t, const CX_T *const *, const ptrdiff_t *,
                                 ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, const CX_T *,
                                 ptrdiff_t, ptrdiff_t, CX_T *, ptrdiff_t);
#define CX_RING_TILE(CB, NI, NV)                                                           \
    static void CX_NAME(ring_##CB##x##NI##x##NV)(ptrdiff_t Kg, ptrdiff_t na,               \
                                                 const CX_T *const *srcp,                  \
                                                 const ptrdiff_t *aw, ptrdiff_t lk,        \
                                                 ptrdiff_t ist, ptrdiff_t nb, ptrdiff_t db, \
                                                 const CX_T *wk, ptrdiff_t wsk,            \
                                                 ptrdiff_t wsb, CX_T *lb, ptrdiff_t ldl)   \
    {                                                                                      \
        CX_NAME(ring_tile)(CB, NI, NV, Kg, na, srcp, aw, lk, ist, nb, db, wk, wsk, wsb,    \
                           lb, ldl);                                                       \
    }
#define CX_RING_TILES(CB)                                                                  \
    CX_RING_TILE(CB, 1, 1) CX_RING_TILE(CB, 1, 2) CX_RING_TILE(CB, 2, 1)                  \
    CX_RING_TILE(CB, 2, 2) CX_RING_TILE(CB, 4, 1) CX_RING_TILE(CB, 4, 2)
CX_RING_TILES(1) CX_RING_TILES(4)
CX_RING_TILE(8, 1, 1) CX_RING_TILE(8, 1, 2) CX_RING_TILE(8, 2, 1) CX_RING_TILE(16, 1, 1)
#undef CX_RING_TILES
#undef CX_RING_TILE
#define CX_RING_ROW(CB)                                                                    \
    {{CX_NAME(ring_##CB##x1x1), CX_NAME(ring_##CB##x1x2)},                                 \
     {CX_NAME(ring_##CB##x2x1), CX_NAME(ring_##CB##x2x2)},                                 \
     {CX_NAME(ring_##CB##x4x1), CX_NAME(ring_##CB##x4x2)}}
/* [CB 1, 4][images 1, 2, 4][vectors 1, 2] */
static const CX_NAME(ring_fn) CX_NAME(ring_fns)[2][3][2] = {CX_RING_ROW(1), CX_RING_ROW(4)};
#undef CX_RING_ROW

/* One ring line of channels [c0, c0 + nc) (nc <= CX_RING_CB) of ni images
   (ni <= 4), length len: lb[(m*CX_RING_CB + cb)*ldl + e] for e < len (lanes
   past len are computed from the copies' zeros and not used). Images go 2
   at a time (4 for fewer than 4 channels), and with 32 registers the tiles
   hold 16 accumulators where the line allows (8 would wait on the FMA
   latency): 8 channels x 2 images x 1 vector, 4 x 2 x 2, 1 x 4 x 2; one
   image left: 16 x 1 x 1, 8 x 1 x 2 (smaller where fewer channels or vectors
   are left). With 16 (regs16) they hold 8: 4 x 1 x 2 (one image at a time on
   lines of two vectors), 4 x 2 x 1, 8 x 1 x 1, 1 x 4 x 2 (the 16-accumulator
   ones spilled two of them, an FMA chain through the stack every step). */
static void CX_NAME(ring_line)(ptrdiff_t nc, ptrdiff_t ni, ptrdiff_t len, ptrdiff_t Kg,
                               ptrdiff_t na, const CX_T *const *srcp, const ptrdiff_t *aw,
                               ptrdiff_t lk, ptrdiff_t ist, ptrdiff_t nb, ptrdiff_t db,
                               const CX_T *wk, ptrdiff_t wsk, ptrdiff_t wsb, CX_T *lb,
                               ptrdiff_t ldl)
{
    const CX_T *sp[64];
    const int one = len <= CX_DVL;      /* a line of one vector */
    const int regs16 = CX_VREGS < 32;
    for (ptrdiff_t m = 0; m < ni;) {
        const ptrdiff_t lm = ni - m;
        const ptrdiff_t mi = nc < 4 && lm >= 4 ? 4
                             : lm >= 2 && (!regs16 || one || nc < 4) ? 2 : 1;
        for (ptrdiff_t c = 0; c < nc;) {
            const ptrdiff_t lc = nc - c;
            const ptrdiff_t cb = regs16 ? (lc >= 8 && one && mi == 1 ? 8 : lc >= 4 ? 4 : 1)
                                 : lc >= 16 && one && mi == 1 ? 16
                                 : lc >= 8 && (one || mi == 1) ? 8 : lc >= 4 ? 4 : 1;
            for (ptrdiff_t e = 0; e < len;) {
                const int nv = len - e > CX_DVL ? 2 : 1;
                CX_NAME(ring_fn) fn =
                    cb == 16 ? CX_NAME(ring_16x1x1)
                    : cb == 8 ? (mi == 2 ? CX_NAME(ring_8x2x1)
                                 : nv == 2 ? CX_NAME(ring_8x1x2) : CX_NAME(ring_8x1x1))
                    : CX_NAME(ring_fns)[cb == 4][mi == 4 ? 2 : mi - 1][nv - 1];
                for (ptrdiff_t ia = 0; ia < na; ++ia)
                    sp[ia] = srcp[ia] + m * ist + e;
                fn(Kg, na, sp, aw, lk, ist, nb, db, wk + c, wsk, wsb,
                   lb + (m * CX_RING_CB + c) * ldl + e, ldl);
                e += nv * CX_DVL;
            }
            c += cb;
        }
        m += mi;
    }
}

/* The across-taps a ring line reads (ring row i: kernel rows; ring column j:
   kernel columns): tap a with 0 <= src = line - a*dil < extent, its copied
   source line (the first nlo copies hold sources [0, nlo), the rest sources
   from hi0 on; copies len apart, read from offset off) and its weight
   offset a*wstep. Returns how many. */
static ptrdiff_t CX_NAME(ring_taps)(ptrdiff_t line, ptrdiff_t ntaps, ptrdiff_t dil,
                                    ptrdiff_t extent, ptrdiff_t nlo, ptrdiff_t hi0,
                                    const CX_T *copies, ptrdiff_t len, ptrdiff_t off,
                                    ptrdiff_t wstep, const CX_T **srcp, ptrdiff_t *aw)
{
    ptrdiff_t na = 0;
    for (ptrdiff_t a = 0; a < ntaps; ++a) {
        const ptrdiff_t src = line - a * dil;
        if (src < 0 || src >= extent)
            continue;
        srcp[na] = copies + (src < nlo ? src : nlo + src - hi0) * len + off;
        aw[na++] = a * wstep;
    }
    return na;
}

void CX_NAME(conv2d_dgrad_border)(const cx_conv2d_desc *d, const CX_T *w, const CX_T *dy,
                                  CX_T *dx, const ptrdiff_t *src_h, const ptrdiff_t *src_w,
                                  ptrdiff_t ib, ptrdiff_t item, CX_T *ws)
{
    CX_NAME(ring_geo) q;
    CX_NAME(ring_geometry)(d, &q);
    const ptrdiff_t G = d->groups, Cg = d->C / G, Kg = d->K / G, R = d->R, S = d->S;
    const ptrdiff_t P = d->P, Q = d->Q, H = d->H, W = d->W, dh = d->dil_h, dw = d->dil_w;
    const ptrdiff_t cper = CX_RING_CB * 8, nblk = (Cg + cper - 1) / cper;
    const ptrdiff_t n0 = item / (G * nblk) * ib, g = item / nblk % G, blk = item % nblk;
    const ptrdiff_t ni = cx_min(ib, d->N - n0);
    const ptrdiff_t c0 = blk * cper, c1 = cx_min(Cg, c0 + cper);
    /* the workspace: copied rows (image, row, k), copied columns, line buffer:
       a line's tiles read its source lines' k in order */
    const ptrdiff_t nrows = q.nrt + q.nrb, ncols = q.ncl + q.ncr;
    const ptrdiff_t ist_r = Kg * nrows * q.lrow, ist_c = Kg * ncols * q.lcol;
    CX_T *rows = ws, *cols = rows + ib * ist_r, *lb = cols + ib * ist_c;
    const ptrdiff_t ldl = q.ldl;
    for (ptrdiff_t m = 0; m < ni; ++m) {
        const CX_T *dyn = dy + ((n0 + m) * d->K + g * Kg) * P * Q;
        /* rows[m][i][k][x] = dy[k, row_i, x - ow] (0 outside [0, Q));
           cols[m][j][k][y] = dy[k, y + t - oh, col_j] (0 outside [0, P)),
           the pinwheel's (q.pin) dy[k, y - oh, col_j]: a plane of dy at a
           time, the plane CX_RING_PF further on asked for (the copies' first
           touch of dy waited on memory: 65% of the border's own samples on
           res3x3_256's reflect input gradient) */
        const ptrdiff_t tc = q.pin ? 0 : q.t;
        const ptrdiff_t y0 = cx_min(cx_max(q.oh - tc, 0), q.lcol);
        const ptrdiff_t y1 = cx_max(cx_min(P + q.oh - tc, q.lcol), y0);
        for (ptrdiff_t k = 0; k < Kg; ++k) {
            if (k + CX_RING_PF < Kg) {
                /* (the copied rows whole, every row's ends for the columns) */
                const CX_T *pf = dyn + (k + CX_RING_PF) * P * Q;
                for (ptrdiff_t i = 0; i < nrows; ++i)
                    CX_NAME(dk_prefetch)(pf + (i < q.nrt ? i : q.rb0 + i - q.nrt) * Q, Q);
                if (ncols > 0)
                    for (ptrdiff_t y = 0; y < P; ++y) {
                        CX_NAME(dk_prefetch_line)(pf + y * Q);
                        CX_NAME(dk_prefetch_line)(pf + y * Q + Q - 1);
                    }
            }
            for (ptrdiff_t i = 0; i < nrows; ++i) {
                const ptrdiff_t row = i < q.nrt ? i : q.rb0 + i - q.nrt;
                CX_T *to = rows + m * ist_r + (i * Kg + k) * q.lrow;
                CX_NAME(line_copy)(to, q.lrow, dyn + (k * P + row) * Q, q.ow, Q);
            }
            for (ptrdiff_t j = 0; j < ncols; ++j) {
                const ptrdiff_t col = j < q.ncl ? j : q.cr0 + j - q.ncl;
                CX_T *to = cols + m * ist_c + (j * Kg + k) * q.lcol;
                const CX_T *from = dyn + k * P * Q + col;
                /* (rows y + tc - oh in [0, P): y in [y0, y1)) */
                CX_NAME(line_copy)(to, q.lcol, from, 0, 0);
                for (ptrdiff_t y = y0; y < y1; ++y)
                    to[y] = from[(y + tc - q.oh) * Q];
            }
        }
    }
    const CX_T *srcp[64];
    ptrdiff_t aw[64];
    const CX_T *wg = w + g * Kg * Cg * R * S;
    for (ptrdiff_t c = c0; c < c1; c += CX_RING_CB) {
        /* the block's weights: (R, S, Kg, nc) */
        const ptrdiff_t nc = cx_min(CX_RING_CB, c1 - c);
        const CX_T *wk = wg + c * R * S * Kg;
        /* ring rows: padded row i, every padded column (the pinwheel's:
           top rows columns [0, l + W), bottom rows [l, Wp)) */
        for (ptrdiff_t i = 0; i < q.Hp; ++i) {
            if (i >= q.t && i < q.t + H)
                continue;
            const int top = i < q.t;
            const ptrdiff_t e0 = q.pin && !top ? q.l : 0;
            const ptrdiff_t len = !q.pin ? q.Wp : top ? q.l + W : W + q.r;
            const ptrdiff_t na = CX_NAME(ring_taps)(i, R, dh, P, q.nrt, q.rb0, rows,
                                                    Kg * q.lrow, q.ow + e0, S * Kg * nc,
                                                    srcp, aw);
            if (!na)
                continue;   /* (a row no tap reaches: gradient 0) */
            CX_NAME(ring_line)(nc, ni, len, Kg, na, srcp, aw, q.lrow, ist_r, S, dw,
                               wk, nc, Kg * nc, lb, ldl);
            for (ptrdiff_t m = 0; m < ni; ++m)
                for (ptrdiff_t cb = 0; cb < nc; ++cb) {
                    /* (in column order, the inner columns in vectors:
                       element by element, 30% of this function's time on
                       lenet2's input gradient; the line from column e0) */
                    const ptrdiff_t plane = (n0 + m) * d->C + g * Cg + c + cb;
                    CX_NAME(fold_row_inner_first)(dx + (plane * H + src_h[i]) * W,
                                                  lb + (m * CX_RING_CB + cb) * ldl, W, len,
                                                  q.l - e0, src_w + e0);
                }
        }
        /* ring columns: padded column j, the inner rows (the pinwheel's:
           right columns padded rows [0, t + H), left ones [t, Hp)) */
        for (ptrdiff_t j = 0; j < q.Wp; ++j) {
            if (j >= q.l && j < q.l + W)
                continue;
            const int left = j < q.l;
            const ptrdiff_t y0 = q.pin && !left ? 0 : q.t;   /* the line's first padded row */
            const ptrdiff_t len = !q.pin ? H : left ? H + q.b : q.t + H;
            const ptrdiff_t na = CX_NAME(ring_taps)(j, S, dw, Q, q.ncl, q.cr0, cols,
                                                    Kg * q.lcol, q.oh + (q.pin ? y0 : 0),
                                                    Kg * nc, srcp, aw);
            if (!na)
                continue;
            CX_NAME(ring_line)(nc, ni, len, Kg, na, srcp, aw, q.lcol, ist_c, R, dh, wk,
                               nc, S * Kg * nc, lb, ldl);
            for (ptrdiff_t m = 0; m < ni; ++m)
                for (ptrdiff_t cb = 0; cb < nc; ++cb) {
                    CX_T *to = dx + ((n0 + m) * d->C + g * Cg + c + cb) * H * W + src_w[j];
                    const CX_T *from = lb + (m * CX_RING_CB + cb) * ldl - y0;
                    /* padded rows [y0, y0 + len): the top ring's, the inner
                       rows, the bottom ring's (in that order) */
                    const ptrdiff_t y1 = y0 + len, a = cx_min(q.t, y1), b = cx_min(q.t + H, y1);
                    for (ptrdiff_t py = y0; py < a; ++py)
                        to[src_h[py] * W] += from[py];
                    for (ptrdiff_t py = cx_max(y0, q.t); py < b; ++py)
                        to[(py - q.t) * W] += from[py];
                    for (ptrdiff_t py = cx_max(y0, b); py < y1; ++py)
                        to[src_h[py] * W] += from[py];
                }
        }
    }
}

#undef CX_DV
#undef CX_DVL
