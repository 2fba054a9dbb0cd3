/*
 * Dot-product micro-kernel template ("NT" GEMM tile) for x86 SIMD.
 *
 *   C[i*rsc + j] += sum_{s < nseg} sum_{l < len} A[s*sa + i*lda + l] * B[s*sb + j*ldb + l]
 *                                                         i < m <= MR, j < n <= NR
 *
 * Both operands are read in place, rows contiguous along the reduction: this is
 * the weight gradient's shape, dW = dY @ cols^T, where the reduction runs over
 * output pixels and both dY and the im2col rows are contiguous along it, so no
 * transposing pack is needed; the nseg segments are consecutive images, so that
 * short images still give long reductions between two horizontal sums. Each of the MR x NR accumulators is one vector:
 * lane t sums, segment by segment, the terms l = t (mod VLEN) in order, each
 * segment's tail is a masked load, and the lanes are added by a fixed tree at
 * the end, so the order of every sum is a function of len and nseg alone. Rows i >= m (j >= n) re-read the last valid
 * row and their results are dropped.
 *
 * Include after defining UK_NAME, UK_T, UK_V, UK_VLEN, UK_MR, UK_NR, UK_TARGET,
 * UK_LOAD(p), UK_LOAD_TAIL(p, count), UK_FMA(a, b, c), UK_ZERO(), UK_STORE(p, v).
 */

UK_TARGET void UK_NAME(ptrdiff_t nseg, ptrdiff_t len,
                       const UK_T *restrict a, ptrdiff_t sa, ptrdiff_t lda,
                       const UK_T *restrict b, ptrdiff_t sb, ptrdiff_t ldb,
                       UK_T *restrict c, ptrdiff_t rsc, ptrdiff_t m, ptrdiff_t n)
{
    UK_V acc[UK_MR][UK_NR];
#pragma GCC unroll 32
    for (int i = 0; i < UK_MR; ++i)
#pragma GCC unroll 32
        for (int j = 0; j < UK_NR; ++j)
            acc[i][j] = UK_ZERO();
    for (ptrdiff_t seg = 0; seg < nseg; ++seg) {
    const UK_T *ar[UK_MR], *br[UK_NR];
    for (int i = 0; i < UK_MR; ++i)
        ar[i] = a + seg * sa + (i < m ? i : m - 1) * lda;
    for (int j = 0; j < UK_NR; ++j)
        br[j] = b + seg * sb + (j < n ? j : n - 1) * ldb;
    ptrdiff_t l = 0;
    for (; l + UK_VLEN <= len; l += UK_VLEN) {
        UK_V av[UK_MR];
#pragma GCC unroll 32
        for (int i = 0; i < UK_MR; ++i)
            av[i] = UK_LOAD(ar[i] + l);
#pragma GCC unroll 32
        for (int j = 0; j < UK_NR; ++j) {
            const UK_V bv = UK_LOAD(br[j] + l);
#pragma GCC unroll 32
            for (int i = 0; i < UK_MR; ++i)
                acc[i][j] = UK_FMA(av[i], bv, acc[i][j]);
        }
    }
    if (l < len) {
        const ptrdiff_t rest = len - l;
        UK_V av[UK_MR];
        for (int i = 0; i < UK_MR; ++i)
            av[i] = UK_LOAD_TAIL(ar[i] + l, rest);
        for (int j = 0; j < UK_NR; ++j) {
            const UK_V bv = UK_LOAD_TAIL(br[j] + l, rest);
            for (int i = 0; i < UK_MR; ++i)
                acc[i][j] = UK_FMA(av[i], bv, acc[i][j]);
        }
    }
    }  /* segments */
    UK_T lanes[UK_VLEN];
    for (ptrdiff_t i = 0; i < m; ++i)
        for (ptrdiff_t j = 0; j < n; ++j) {
            UK_STORE(lanes, acc[i][j]);
            /* fixed pairwise tree over the lanes */
            for (int w = UK_VLEN / 2; w >= 1; w /= 2)
                for (int t = 0; t < w; ++t)
                    lanes[t] = lanes[t] + lanes[t + w];
            c[i * rsc + j] += lanes[0];
        }
}

#undef UK_NAME
#undef UK_T
#undef UK_V
#undef UK_VLEN
#undef UK_MR
#undef UK_NR
#undef UK_LOAD
#undef UK_LOAD_TAIL
#undef UK_FMA
#undef UK_ZERO
#undef UK_STORE
