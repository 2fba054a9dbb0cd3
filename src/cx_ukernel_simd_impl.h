/*
 * Broadcast-FMA micro-kernel template for x86 SIMD (see cx_gemm.h for the contract).
 *
 * Tile MR x NR with NR = 2 vectors: C rows are held in 2*MR vector registers;
 * each step of k loads one row of the B panel (2 vectors), broadcasts MR
 * elements of the A panel and issues 2*MR independent FMAs. Edge tiles
 * (m < MR or n < NR) are computed in full (the panels are zero-padded) into a
 * stack buffer and only the valid part is written.
 *
 * With UK_INDIRECT defined, B is not a panel but rows read in place through an
 * offset per row (the "indirect GEMM" of the stride-1 forward convolution).
 *
 * Include after defining:
 *   UK_NAME, UK_T, UK_V (vector type), UK_VLEN (lanes), UK_MR,
 *   UK_LOAD(p), UK_STORE(p, v), UK_BCAST(x), UK_FMA(a, b, c) (a*b + c), UK_ZERO(),
 *   UK_TARGET (function attribute enabling the ISA)
 */

#define UK_NR (2 * UK_VLEN)

#ifdef UK_INDIRECT
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
    UK_V acc0[UK_MR], acc1[UK_MR];
#pragma GCC unroll 16
    for (int i = 0; i < UK_MR; ++i) {
        acc0[i] = UK_ZERO();
        acc1[i] = UK_ZERO();
    }
    for (ptrdiff_t p = 0; p < kc; ++p) {
#ifdef UK_INDIRECT
        const UK_T *bp = b + boff[p];
        const UK_V b0 = UK_LOAD(bp);
        const UK_V b1 = UK_LOAD(bp + UK_VLEN);
#else
        const UK_V b0 = UK_LOAD(b);
        const UK_V b1 = UK_LOAD(b + UK_VLEN);
#endif
#pragma GCC unroll 16
        for (int i = 0; i < UK_MR; ++i) {
            const UK_V ai = UK_BCAST(a[i]);
            acc0[i] = UK_FMA(ai, b0, acc0[i]);
            acc1[i] = UK_FMA(ai, b1, acc1[i]);
        }
        a += UK_MR;
#ifndef UK_INDIRECT
        b += ldb;
#endif
    }
    if (m == UK_MR && n == UK_NR && csc == 1) {
        if (accumulate) {
#pragma GCC unroll 16
            for (int i = 0; i < UK_MR; ++i) {
                UK_T *ci = c + i * rsc;
                UK_STORE(ci, UK_ADD(UK_LOAD(ci), acc0[i]));
                UK_STORE(ci + UK_VLEN, UK_ADD(UK_LOAD(ci + UK_VLEN), acc1[i]));
            }
        } else {
#pragma GCC unroll 16
            for (int i = 0; i < UK_MR; ++i) {
                UK_T *ci = c + i * rsc;
                UK_STORE(ci, acc0[i]);
                UK_STORE(ci + UK_VLEN, acc1[i]);
            }
        }
        return;
    }
    UK_T tmp[UK_MR * UK_NR];
    for (int i = 0; i < UK_MR; ++i) {
        UK_STORE(tmp + i * UK_NR, acc0[i]);
        UK_STORE(tmp + i * UK_NR + UK_VLEN, acc1[i]);
    }
    for (ptrdiff_t i = 0; i < m; ++i)
        for (ptrdiff_t j = 0; j < n; ++j) {
            UK_T *cij = c + i * rsc + j * csc;
            *cij = accumulate ? *cij + tmp[i * UK_NR + j] : tmp[i * UK_NR + j];
        }
}

#undef UK_NR
#undef UK_INDIRECT
#undef UK_NAME
#undef UK_T
#undef UK_V
#undef UK_VLEN
#undef UK_MR
#undef UK_LOAD
#undef UK_STORE
#undef UK_BCAST
#undef UK_FMA
#undef UK_ADD
#undef UK_ZERO
