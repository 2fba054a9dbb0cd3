/*
 * Broadcast-FMA micro-kernel template for x86 SIMD (see cx_gemm.h for the contract).
 *
 * Tile MR x NR with NR = NV vectors: C rows are held in NV*MR vector registers;
 * each step of k loads one row of the B panel (NV vectors), broadcasts MR
 * elements of the A panel and issues NV*MR independent FMAs. Edge tiles
 * (m < MR or n < NR) are computed in full (the panels are zero-padded) into a
 * stack buffer and only the valid part is written.
 *
 * With UK_INDIRECT defined, B is not a panel but rows read in place through an
 * offset per row (the "indirect GEMM" of the stride-1 forward convolution).
 *
 * With UK_ASTRIDE defined (> UK_MR), the A panel is one packed for a taller
 * tile (column p at a[p*UK_ASTRIDE]) of which this kernel computes the first
 * UK_MR rows: the "edge" kernels a driver runs on a last row block of fewer
 * rows than its main tile, with that tile's packing. Each element's sum is the
 * same chain of FMAs in the same order as the main kernel's, so the result is
 * bit-identical, only cheaper.
 *
 * With UK_AROWS defined, A is not a panel but MR rows read in place, row i
 * at a + i*lda (element p of it at a[i*lda + p]): the channels-last 1x1
 * forward's pixel rows, with no packing. Only full tiles of rows (m == UK_MR;
 * a driver packs a last, shorter block); the same FMAs in the same order as
 * the packed kernel, so the same bits.
 *
 * Include after defining:
 *   UK_NAME, UK_T, UK_V (vector type), UK_VLEN (lanes), UK_MR, UK_NV (vectors per row),
 *   UK_LOAD(p), UK_STORE(p, v), UK_BCAST(x), UK_FMA(a, b, c) (a*b + c), UK_ZERO(),
 *   UK_TARGET (function attribute enabling the ISA)
 */

#define UK_NR (UK_NV * UK_VLEN)
#ifndef UK_ASTRIDE
#define UK_ASTRIDE UK_MR
#endif
_Static_assert(UK_ASTRIDE >= UK_MR, "an A panel narrower than the tile");
_Static_assert(UK_MR * UK_NR <= CX_GEMM_TILE_MAX, "tile larger than CX_GEMM_TILE_MAX (cx_gemm.h)");

#if defined(UK_AROWS)
UK_TARGET void UK_NAME(ptrdiff_t kc, const UK_T *restrict a, ptrdiff_t lda,
                       const UK_T *restrict b, ptrdiff_t ldb, UK_T *restrict c, ptrdiff_t rsc,
                       ptrdiff_t csc, int accumulate, ptrdiff_t m, ptrdiff_t n)
#elif defined(UK_INDIRECT)
/* Indirect variant: row p of B is b + boff[p] (NR values read in place). */
UK_TARGET void UK_NAME(ptrdiff_t kc, const UK_T *restrict a, const UK_T *restrict b,
                       const ptrdiff_t *restrict boff, UK_T *restrict c, ptrdiff_t rsc,
                       ptrdiff_t csc, int accumulate, ptrdiff_t m, ptrdiff_t n)
#else
UK_TARGET void UK_NAME(ptrdiff_t kc, const UK_T *restrict a, const UK_T *restrict b,
                       ptrdiff_t ldb, UK_T *restrict c, ptrdiff_t rsc, ptrdiff_t csc,
                       int accumulate, ptrdiff_t m, ptrdiff_t n)
#endif
{
    UK_V acc[UK_MR][UK_NV];
#pragma GCC unroll 16
    for (int i = 0; i < UK_MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < UK_NV; ++v)
            acc[i][v] = UK_ZERO();
#ifdef UK_AROWS
    /* the next row block's lines (rows a + (MR + r)*lda, kc elements each),
       one a step: a driver walking row blocks in order reads them next */
    const ptrdiff_t pf_line = 64 / (ptrdiff_t)sizeof(UK_T);
    const ptrdiff_t pf_row = (kc + pf_line - 1) / pf_line;
    const UK_T *pf = a + UK_MR * lda;
    ptrdiff_t pf_left = pf_row, pf_rows = UK_MR;
#endif
    for (ptrdiff_t p = 0; p < kc; ++p) {
#ifdef UK_AROWS
        if (pf_rows > 0) {
            __builtin_prefetch(pf);
            pf += pf_line;
            if (--pf_left == 0) {
                pf += lda - pf_row * pf_line;
                pf_left = pf_row;
                --pf_rows;
            }
        }
#endif
#ifdef UK_INDIRECT
        const UK_T *bp = b + boff[p];
#else
        const UK_T *bp = b;
#endif
        UK_V bv[UK_NV];
#pragma GCC unroll 4
        for (int v = 0; v < UK_NV; ++v)
            bv[v] = UK_LOAD(bp + v * UK_VLEN);
#pragma GCC unroll 16
        for (int i = 0; i < UK_MR; ++i) {
#ifdef UK_AROWS
            const UK_V ai = UK_BCAST(a[i * lda]);
#else
            const UK_V ai = UK_BCAST(a[i]);
#endif
#pragma GCC unroll 4
            for (int v = 0; v < UK_NV; ++v)
                acc[i][v] = UK_FMA(ai, bv[v], acc[i][v]);
        }
#ifdef UK_AROWS
        a += 1;
#else
        a += UK_ASTRIDE;
#endif
#ifndef UK_INDIRECT
        b += ldb;
#endif
    }
    if (m == UK_MR && n == UK_NR && csc == 1) {
        if (accumulate) {
#pragma GCC unroll 16
            for (int i = 0; i < UK_MR; ++i)
#pragma GCC unroll 4
                for (int v = 0; v < UK_NV; ++v) {
                    UK_T *ci = c + i * rsc + v * UK_VLEN;
                    UK_STORE(ci, UK_ADD(UK_LOAD(ci), acc[i][v]));
                }
        } else {
#pragma GCC unroll 16
            for (int i = 0; i < UK_MR; ++i)
#pragma GCC unroll 4
                for (int v = 0; v < UK_NV; ++v)
                    UK_STORE(c + i * rsc + v * UK_VLEN, acc[i][v]);
        }
        return;
    }
    UK_T tmp[UK_MR * UK_NR];
    for (int i = 0; i < UK_MR; ++i)
        for (int v = 0; v < UK_NV; ++v)
            UK_STORE(tmp + i * UK_NR + v * UK_VLEN, acc[i][v]);
    for (ptrdiff_t i = 0; i < m; ++i)
        for (ptrdiff_t j = 0; j < n; ++j) {
            UK_T *cij = c + i * rsc + j * csc;
            *cij = accumulate ? *cij + tmp[i * UK_NR + j] : tmp[i * UK_NR + j];
        }
}

#undef UK_NR
#undef UK_ASTRIDE
#undef UK_INDIRECT
#undef UK_AROWS
#undef UK_NAME
#undef UK_T
#undef UK_V
#undef UK_VLEN
#undef UK_MR
#undef UK_NV
#undef UK_LOAD
#undef UK_STORE
#undef UK_BCAST
#undef UK_FMA
#undef UK_ADD
#undef UK_ZERO
