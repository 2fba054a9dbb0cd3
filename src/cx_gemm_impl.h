/*
 * Blocked GEMM driver and packing, written once for both dtypes (BLIS-style).
 *
 *   C[m x n] := A[m x k] * B[k x n]          (accumulate == 0: C is never read)
 *   C[m x n] += A[m x k] * B[k x n]          (accumulate != 0)
 *
 * A is strided: element (i, p) at a[i*rsa + p*csa] (transposes cost nothing).
 * B is described by a packing function, so that the convolution drivers can
 * pack B panels straight from an image (implicit im2col) instead of building a
 * column matrix; CX_NAME(gemm) is the plain strided-B case. C is strided.
 *
 * Five loops around the micro-kernel of the active path (cx_gemm.h):
 *
 *   jc over n in steps of NC   B block (KC x NC) packed into NR-wide panels
 *    pc over k in steps of KC
 *     ic over m in steps of MC  A block (MC x KC) packed into MR-high panels
 *      jr, ir                   micro-kernel on an MR x NR tile of C
 *
 * The reduction over k is always cut at multiples of the path's KC, whatever
 * m, n and the caller's tiling, so every C element is summed in the same order:
 * results do not depend on how callers split M or N between threads.
 *
 * Include after defining CX_T, CX_NAME(x), CX_KERNEL_T (descriptor type),
 * CX_ACTIVE() (the active descriptor); the translation unit that also defines
 * CX_DEFINE_GENERIC_UKERNELS gets the portable micro-kernels (CX_GENERIC_UKERNEL,
 * CX_GENERIC_IUKERNEL, CX_GENERIC_DOT_UKERNEL with CX_GENERIC_MR, CX_GENERIC_NR).
 */

/* Pack B rows [pc, pc+kc) x columns [jc, jc+nc) into NR-wide panels: element
   (p, j) goes to dst[(j / nr) * kc * nr + p * nr + j % nr]; columns past nc in
   the last panel are zero. */
typedef void (*CX_NAME(pack_b_fn))(const void *src, ptrdiff_t pc, ptrdiff_t kc,
                                   ptrdiff_t jc, ptrdiff_t nc, ptrdiff_t nr, CX_T *dst);

#ifdef CX_DEFINE_GENERIC_UKERNELS
_Static_assert(CX_GENERIC_MR * CX_GENERIC_NR <= CX_GEMM_TILE_MAX,
               "the portable tile must fit gemm_core_seg's stack tile");
/*
 * Portable micro-kernel (contract in cx_gemm.h), plain C that the compiler
 * vectorises along NR for the baseline ISA.
 */
void CX_GENERIC_UKERNEL(ptrdiff_t kc, const CX_T *restrict a, const CX_T *restrict b,
                        ptrdiff_t ldb, CX_T *restrict c, ptrdiff_t rsc, ptrdiff_t csc,
                        int accumulate, ptrdiff_t m, ptrdiff_t n)
{
    CX_T acc[CX_GENERIC_MR][CX_GENERIC_NR];
    for (int i = 0; i < CX_GENERIC_MR; ++i)
        for (int j = 0; j < CX_GENERIC_NR; ++j)
            acc[i][j] = 0;
    for (ptrdiff_t p = 0; p < kc; ++p) {
        const CX_T *ap = a + p * CX_GENERIC_MR;
        const CX_T *bp = b + p * ldb;
        for (int i = 0; i < CX_GENERIC_MR; ++i) {
            const CX_T ai = ap[i];
            for (int j = 0; j < CX_GENERIC_NR; ++j)
                acc[i][j] += ai * bp[j];
        }
    }
    for (ptrdiff_t i = 0; i < m; ++i)
        for (ptrdiff_t j = 0; j < n; ++j) {
            CX_T *cij = c + i * rsc + j * csc;
            *cij = accumulate ? *cij + acc[i][j] : acc[i][j];
        }
}

/* Portable indirect twin: row p of B at b + boff[p] (contract in cx_gemm.h). */
void CX_GENERIC_IUKERNEL(ptrdiff_t kc, const CX_T *restrict a, const CX_T *restrict b,
                         const ptrdiff_t *restrict boff, CX_T *restrict c, ptrdiff_t rsc,
                         ptrdiff_t csc, int accumulate, ptrdiff_t m, ptrdiff_t n)
{
    CX_T acc[CX_GENERIC_MR][CX_GENERIC_NR];
    for (int i = 0; i < CX_GENERIC_MR; ++i)
        for (int j = 0; j < CX_GENERIC_NR; ++j)
            acc[i][j] = 0;
    for (ptrdiff_t p = 0; p < kc; ++p) {
        const CX_T *ap = a + p * CX_GENERIC_MR;
        const CX_T *bp = b + boff[p];
        for (int i = 0; i < CX_GENERIC_MR; ++i) {
            const CX_T ai = ap[i];
            for (int j = 0; j < CX_GENERIC_NR; ++j)
                acc[i][j] += ai * bp[j];
        }
    }
    for (ptrdiff_t i = 0; i < m; ++i)
        for (ptrdiff_t j = 0; j < n; ++j) {
            CX_T *cij = c + i * rsc + j * csc;
            *cij = accumulate ? *cij + acc[i][j] : acc[i][j];
        }
}

/*
 * Portable dot-product tile (contract in cx_gemm.h): 8 lanes, lane t sums the
 * terms l = t (mod 8) in order, then a fixed pairwise tree, as the SIMD ones do.
 */
void CX_GENERIC_DOT_UKERNEL(ptrdiff_t nseg, ptrdiff_t len,
                            const CX_T *restrict a, ptrdiff_t sa, ptrdiff_t lda,
                            const CX_T *restrict b, ptrdiff_t sb, ptrdiff_t ldb,
                            CX_T *restrict c, ptrdiff_t rsc, ptrdiff_t m, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < m; ++i)
        for (ptrdiff_t j = 0; j < n; ++j) {
            CX_T lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (ptrdiff_t seg = 0; seg < nseg; ++seg) {
                const CX_T *ai = a + seg * sa + i * lda, *bj = b + seg * sb + j * ldb;
                ptrdiff_t l = 0;
                for (; l + 8 <= len; l += 8)
                    for (int t = 0; t < 8; ++t)
                        lanes[t] += ai[l + t] * bj[l + t];
                for (int t = 0; l + t < len; ++t)
                    lanes[t] += ai[l + t] * bj[l + t];
            }
            for (int w = 4; w >= 1; w /= 2)
                for (int t = 0; t < w; ++t)
                    lanes[t] = lanes[t] + lanes[t + w];
            c[i * rsc + j] += lanes[0];
        }
}

#endif /* CX_DEFINE_GENERIC_UKERNELS */

/* o[0, n) = x[0, n) for a panel row: blocks of 16 and 8 elements the compiler
   turns into vector moves; the empty asm hides o's progress from GCC, which
   would otherwise call memmove once per row (13% of a 1x1 channels-last weight
   gradient in perf: A = dY^T, MR contiguous elements per column) */
static inline void CX_NAME(pack_copy_row)(CX_T *restrict o, const CX_T *restrict x, ptrdiff_t n)
{
    /* the 6-row panels of AVX2's 6 x 16 tile (and a 4-row edge): one fixed-size
       copy, a few vector moves, where the element loop below stored one float
       at a time (72% of the channels-last 1x1 weight gradient's dY^T packing) */
    if (n == 6) {
        memcpy(o, x, 6 * sizeof(CX_T));
        return;
    }
    if (n == 4) {
        memcpy(o, x, 4 * sizeof(CX_T));
        return;
    }
    ptrdiff_t j = 0;
    for (; j + 16 <= n; j += 16) {
#if defined(__GNUC__)
        __asm__("" : "+r"(o));
#endif
        for (int t = 0; t < 16; ++t)
            o[j + t] = x[j + t];
    }
    if (j + 8 <= n) {
        for (int t = 0; t < 8; ++t)
            o[j + t] = x[j + t];
        j += 8;
    }
    for (; j < n; ++j) {
#if defined(__GNUC__)
        __asm__("" : "+r"(o));
#endif
        o[j] = x[j];
    }
}

/* Pack an mc x kc block of A into MR-high panels, zero-filling the last panel. */
static void CX_NAME(gemm_pack_a)(ptrdiff_t mc, ptrdiff_t kc, const CX_T *a,
                                 ptrdiff_t rsa, ptrdiff_t csa, ptrdiff_t mr,
                                 CX_T *restrict dst)
{
    if (rsa == 1 && csa != 1) {
        /* columns contiguous (A = dY^T of the channels-last weight gradient):
           each column is read once, in order, into all the panels (panel by
           panel re-read every column's cache lines from memory: 16% of a 1x1
           weight gradient in perf) */
        const ptrdiff_t full = mc / mr * mr, m = mc - full;
        for (ptrdiff_t p = 0; p < kc; ++p) {
            const CX_T *ap = a + p * csa;
            for (ptrdiff_t i0 = 0; i0 < full; i0 += mr)
                CX_NAME(pack_copy_row)(dst + i0 * kc + p * mr, ap + i0, mr);
            if (m > 0) {
                CX_T *o = dst + full * kc + p * mr;
                CX_NAME(pack_copy_row)(o, ap + full, m);
                for (ptrdiff_t i = m; i < mr; ++i)
                    o[i] = 0;
            }
        }
        return;
    }
    for (ptrdiff_t i0 = 0; i0 < mc; i0 += mr) {
        const ptrdiff_t m = mc - i0 < mr ? mc - i0 : mr;
        const CX_T *ai = a + i0 * rsa;
        if (csa == 1) {
            for (ptrdiff_t i = 0; i < m; ++i) {
                const CX_T *row = ai + i * rsa;
                for (ptrdiff_t p = 0; p < kc; ++p)
                    dst[p * mr + i] = row[p];
            }
        } else {
            for (ptrdiff_t p = 0; p < kc; ++p)
                for (ptrdiff_t i = 0; i < m; ++i)
                    dst[p * mr + i] = ai[i * rsa + p * csa];
        }
        for (ptrdiff_t i = m; i < mr; ++i)
            for (ptrdiff_t p = 0; p < kc; ++p)
                dst[p * mr + i] = 0;
        dst += mr * kc;
    }
}

/* B source of the plain GEMM: a strided matrix. */
typedef struct {
    const CX_T *b;
    ptrdiff_t rsb, csb;
} CX_NAME(strided_b);

static void CX_NAME(pack_b_strided)(const void *src, ptrdiff_t pc, ptrdiff_t kc,
                                    ptrdiff_t jc, ptrdiff_t nc, ptrdiff_t nr, CX_T *dst)
{
    const CX_NAME(strided_b) *s = (const CX_NAME(strided_b) *)src;
    const ptrdiff_t rsb = s->rsb, csb = s->csb;
    const CX_T *b = s->b + pc * rsb + jc * csb;
    for (ptrdiff_t j0 = 0; j0 < nc; j0 += nr) {
        const ptrdiff_t n = nc - j0 < nr ? nc - j0 : nr;
        const CX_T *bj = b + j0 * csb;
        if (csb == 1) {
            for (ptrdiff_t p = 0; p < kc; ++p) {
                const CX_T *row = bj + p * rsb;
                CX_T *o = dst + p * nr;
                CX_NAME(pack_copy_row)(o, row, n);
                for (ptrdiff_t j = n; j < nr; ++j) o[j] = 0;
            }
        } else {
            for (ptrdiff_t p = 0; p < kc; ++p) {
                CX_T *o = dst + p * nr;
                ptrdiff_t j = 0;
                for (; j < n; ++j) o[j] = bj[p * rsb + j * csb];
                for (; j < nr; ++j) o[j] = 0;
            }
        }
        dst += nr * kc;
    }
}

size_t CX_NAME(gemm_workspace_elems)(void)
{
    const CX_KERNEL_T *kr = CX_ACTIVE();
    return (size_t)kr->mc * (size_t)kr->kc + (size_t)kr->kc * (size_t)kr->nc;
}

const char *CX_NAME(gemm_kernel_name)(void)
{
    return CX_ACTIVE()->name;
}

/* Write (accumulate: add) an mr x nr tile (row pitch ldt) to segmented C
   columns j0 + [0, nr) (see gemm_core_seg), c pointing at row 0, column 0. */
static void CX_NAME(gemm_tile_out_seg)(const CX_T *t, ptrdiff_t ldt, ptrdiff_t mr, ptrdiff_t nr,
                                       CX_T *c, ptrdiff_t rsc, ptrdiff_t j0, ptrdiff_t cq0,
                                       ptrdiff_t cseg, ptrdiff_t cjump, int accumulate)
{
    for (ptrdiff_t j = 0; j < nr;) {
        const ptrdiff_t sg = (cq0 + j0 + j) / cseg;
        ptrdiff_t end = (sg + 1) * cseg - (cq0 + j0);
        end = end < nr ? end : nr;
        for (ptrdiff_t i = 0; i < mr; ++i) {
            CX_T *restrict ci = c + i * rsc + j0 + sg * cjump;
            const CX_T *restrict ti = t + i * ldt;
            if (accumulate)
                for (ptrdiff_t jj = j; jj < end; ++jj) ci[jj] += ti[jj];
            else
                for (ptrdiff_t jj = j; jj < end; ++jj) ci[jj] = ti[jj];
        }
        j = end;
    }
}

/*
 * C (+)= A * B with B packed by pack_b from bsrc. If b_direct is not NULL, B is
 * also a row-major matrix with unit column stride (element (p, j) at
 * b_direct[p*b_rs + j]): full NR-wide panels are then read in place by the
 * micro-kernel and only a last partial panel is packed. If boff is also given,
 * B is read in place through row offsets instead (indirect GEMM): element
 * (p, j) is b_direct[boff[p] + j], nothing of B is packed, and the micro-kernel
 * reads whole NR-wide rows, so b_direct[boff[p] + j] must be readable (its
 * value is ignored) up to j < round_up(n, NR). If apre is not NULL it holds
 * all of A already packed by gemm_prepack_a (then a is not read).
 *
 * Segmented C (cseg > 0, csc must be 1): the columns of C are cut into
 * segments of cseg columns, the first one starting cq0 columns before column
 * 0, and each segment boundary crossed adds cjump to the address: element
 * (i, j) is c[i*rsc + j + ((cq0 + j) / cseg) * cjump]. That is how one GEMM
 * covers the pixels of several images (segment = an image's P*Q pixels,
 * cjump = the rest of its output). A micro-tile that straddles a boundary is
 * computed into a stack tile and copied out piece by piece.
 * kr: the tile (the active one, or its narrow twin: same cache blocks, so the
 * same workspace); ws: gemm_workspace_elems() elements.
 */
static void CX_NAME(gemm_core_seg)(const CX_KERNEL_T *kr, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                                   const CX_T *a, ptrdiff_t rsa, ptrdiff_t csa, const CX_T *apre,
                                   CX_NAME(pack_b_fn) pack_b, const void *bsrc,
                                   const CX_T *b_direct, ptrdiff_t b_rs, const ptrdiff_t *boff,
                                   int accumulate, CX_T *c, ptrdiff_t rsc, ptrdiff_t csc,
                                   ptrdiff_t cq0, ptrdiff_t cseg, ptrdiff_t cjump, CX_T *ws)
{
    const ptrdiff_t MR = kr->mr, NR = kr->nr, KC = kr->kc, MC = kr->mc, NC = kr->nc;
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        /* An empty sum: C := 0, or C unchanged. */
        if (!accumulate)
            for (ptrdiff_t i = 0; i < m; ++i)
                for (ptrdiff_t j = 0; j < n; ++j)
                    c[i * rsc + j * csc + (cseg > 0 ? (cq0 + j) / cseg * cjump : 0)] = 0;
        return;
    }
    CX_T tile[CX_GEMM_TILE_MAX];
    CX_T *apack = ws;
    CX_T *bpack = ws + MC * KC;
    const ptrdiff_t mpad = (m + MR - 1) / MR * MR;
    for (ptrdiff_t jc = 0; jc < n; jc += NC) {
        const ptrdiff_t nc = n - jc < NC ? n - jc : NC;
        /* panels read in place: all of them (indirect), the full ones, or none */
        const ptrdiff_t nfull = boff ? nc : b_direct ? nc / NR * NR : 0;
        for (ptrdiff_t pc = 0; pc < k; pc += KC) {
            const ptrdiff_t kc = k - pc < KC ? k - pc : KC;
            const int acc = accumulate || pc > 0;
            if (nfull < nc)
                pack_b(bsrc, pc, kc, jc + nfull, nc - nfull, NR, bpack);
            for (ptrdiff_t ic = 0; ic < m; ic += MC) {
                const ptrdiff_t mc = m - ic < MC ? m - ic : MC;
                const CX_T *ablk;
                if (apre) {
                    ablk = apre + pc * mpad + ic * kc;
                } else {
                    CX_NAME(gemm_pack_a)(mc, kc, a + ic * rsa + pc * csa, rsa, csa, MR, apack);
                    ablk = apack;
                }
                for (ptrdiff_t jr = 0; jr < nc; jr += NR) {
                    const ptrdiff_t nr = nc - jr < NR ? nc - jr : NR;
                    const CX_T *bp;
                    ptrdiff_t ldb;
                    if (jr < nfull) {
                        bp = b_direct + pc * b_rs + jc + jr;
                        ldb = b_rs;
                    } else {
                        bp = bpack + (jr - nfull) * kc;
                        ldb = NR;
                    }
                    /* segmented C: this panel's first segment, and whether it ends inside */
                    ptrdiff_t s0 = 0, split = 0;
                    if (cseg > 0) {
                        s0 = (cq0 + jc + jr) / cseg;
                        split = (cq0 + jc + jr + nr - 1) / cseg != s0;
                    }
                    for (ptrdiff_t ir = 0; ir < mc; ir += MR) {
                        const ptrdiff_t mr = mc - ir < MR ? mc - ir : MR;
                        CX_T *cij = c + (ic + ir) * rsc + (jc + jr) * csc + s0 * cjump;
                        /* a last block of few rows: the shortest edge tile that covers it */
                        __typeof__(*kr->ukernel) *uk = kr->ukernel;
                        __typeof__(*kr->iukernel) *iuk = kr->iukernel;
                        if (mr < MR)
                            for (int e = 0; e < 2; ++e)
                                if (kr->edge_mr[e] >= mr) {
                                    uk = kr->edge_ukernel[e];
                                    iuk = kr->edge_iukernel[e];
                                    break;
                                }
                        if (split) {
                            if (boff)
                                iuk(kc, ablk + ir * kc, b_direct + jc + jr, boff + pc, tile, NR,
                                    1, 0, mr, nr);
                            else
                                uk(kc, ablk + ir * kc, bp, ldb, tile, NR, 1, 0, mr, nr);
                            CX_NAME(gemm_tile_out_seg)(tile, NR, mr, nr, c + (ic + ir) * rsc,
                                                       rsc, jc + jr, cq0, cseg, cjump, acc);
                            continue;
                        }
                        if (boff)
                            iuk(kc, ablk + ir * kc, b_direct + jc + jr, boff + pc, cij, rsc, csc,
                                acc, mr, nr);
                        else
                            uk(kc, ablk + ir * kc, bp, ldb, cij, rsc, csc, acc, mr, nr);
                    }
                }
            }
        }
    }
}

/* gemm_core_seg with plain C (element (i, j) at c[i*rsc + j*csc]). */
static void CX_NAME(gemm_core)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                               const CX_T *a, ptrdiff_t rsa, ptrdiff_t csa, const CX_T *apre,
                               CX_NAME(pack_b_fn) pack_b, const void *bsrc,
                               const CX_T *b_direct, ptrdiff_t b_rs, const ptrdiff_t *boff,
                               int accumulate, CX_T *c, ptrdiff_t rsc, ptrdiff_t csc,
                               CX_T *ws)
{
    CX_NAME(gemm_core_seg)(CX_ACTIVE(), m, n, k, a, rsa, csa, apre, pack_b, bsrc, b_direct, b_rs, boff,
                           accumulate, c, rsc, csc, 0, 0, 0, ws);
}

void CX_NAME(gemm)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                   const CX_T *a, ptrdiff_t rsa, ptrdiff_t csa,
                   const CX_T *b, ptrdiff_t rsb, ptrdiff_t csb,
                   int accumulate, CX_T *c, ptrdiff_t rsc, ptrdiff_t csc, CX_T *ws)
{
    CX_NAME(strided_b) src = {b, rsb, csb};
    CX_NAME(gemm_core)(m, n, k, a, rsa, csa, NULL, CX_NAME(pack_b_strided), &src, NULL, 0, NULL,
                       accumulate, c, rsc, csc, ws);
}

/* C := A * B with B element (p, j) at b[boff[p] + j] (the indirect mode of
   gemm_core; b must be readable up to boff[p] + round_up(n, NR)). For tests. */
void CX_NAME(igemm)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                    const CX_T *a, ptrdiff_t rsa, ptrdiff_t csa,
                    const CX_T *b, const ptrdiff_t *boff, CX_T *c, ptrdiff_t rsc, CX_T *ws)
{
    CX_NAME(gemm_core)(m, n, k, a, rsa, csa, NULL, NULL, NULL, b, 0, boff, 0, c, rsc, 1, ws);
}

/* Elements gemm_prepack_a writes for an m x k A. */
static size_t CX_NAME(gemm_prepack_elems)(ptrdiff_t m, ptrdiff_t k)
{
    const ptrdiff_t MR = CX_ACTIVE()->mr;
    return (size_t)((m + MR - 1) / MR * MR) * (size_t)k;
}

/* KC slabs of an m x k A (the pieces gemm_prepack_a can pack separately). */
static ptrdiff_t CX_NAME(gemm_prepack_parts)(ptrdiff_t k)
{
    const ptrdiff_t KC = CX_ACTIVE()->kc;
    return k > 0 ? (k + KC - 1) / KC : 1;
}

/* Pack all of A once, block (pc, ic) at dst + pc*mpad + ic*kc, as gemm_core
   would pack it block by block; reused read-only by every call that shares A.
   part >= 0: only the KC slab pc = part*KC (gemm_prepack_parts of them). */
static void CX_NAME(gemm_prepack_a)(ptrdiff_t m, ptrdiff_t k, const CX_T *a,
                                    ptrdiff_t rsa, ptrdiff_t csa, CX_T *dst, ptrdiff_t part)
{
    const CX_KERNEL_T *kr = CX_ACTIVE();
    const ptrdiff_t MR = kr->mr, KC = kr->kc, MC = kr->mc;
    const ptrdiff_t mpad = (m + MR - 1) / MR * MR;
    const ptrdiff_t pc0 = part >= 0 ? part * KC : 0;
    const ptrdiff_t pc1 = part >= 0 && (part + 1) * KC < k ? (part + 1) * KC : k;
    for (ptrdiff_t pc = pc0; pc < pc1; pc += KC) {
        const ptrdiff_t kc = k - pc < KC ? k - pc : KC;
        for (ptrdiff_t ic = 0; ic < m; ic += MC) {
            const ptrdiff_t mc = m - ic < MC ? m - ic : MC;
            CX_NAME(gemm_pack_a)(mc, kc, a + ic * rsa + pc * csa, rsa, csa, MR,
                                 dst + pc * mpad + ic * kc);
        }
    }
}

/* As CX_NAME(gemm) for a row-major B (unit column stride, row stride rsb), whose
   full panels the micro-kernel reads in place: no packing of B. */
static void CX_NAME(gemm_b_inplace)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                                    const CX_T *a, ptrdiff_t rsa, ptrdiff_t csa, const CX_T *apre,
                                    const CX_T *b, ptrdiff_t rsb,
                                    int accumulate, CX_T *c, ptrdiff_t rsc, ptrdiff_t csc,
                                    CX_T *ws)
{
    CX_NAME(strided_b) src = {b, rsb, 1};
    CX_NAME(gemm_core)(m, n, k, a, rsa, csa, apre, CX_NAME(pack_b_strided), &src, b, rsb, NULL,
                       accumulate, c, rsc, csc, ws);
}
