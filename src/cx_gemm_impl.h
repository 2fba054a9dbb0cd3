/*
 * Blocked GEMM, written once for both dtypes (BLIS-style loop nest).
 *
 *   C[m x n] := A[m x k] * B[k x n]          (accumulate == 0: C is never read)
 *   C[m x n] += A[m x k] * B[k x n]          (accumulate != 0)
 *
 * Operands are strided: element (i, j) of A is a[i*rsa + j*csa], and so on, so
 * transposed operands cost nothing extra. Five loops around one micro-kernel:
 *
 *   jc over n in steps of NC   B block  (KC x NC) packed into NR-wide panels
 *    pc over k in steps of KC
 *     ic over m in steps of MC  A block (MC x KC) packed into MR-high panels
 *      jr, ir                   micro-kernel on an MR x NR tile of C
 *
 * The reduction over k is always cut at multiples of KC, whatever m, n and the
 * caller's tiling, so each C element is summed in the same order every time:
 * results do not depend on how a caller splits M or N between threads.
 *
 * Include this file after defining:
 *   CX_T        element type
 *   CX_NAME(x)  prefixes a public name (cx_f32_##x)
 *   CX_MR, CX_NR, CX_KC, CX_MC, CX_NC  block sizes (MC % MR == 0, NC % NR == 0)
 *   CX_UKERNEL  name of the micro-kernel defined here
 */

#define CX_STR_(x) #x
#define CX_STR(x) CX_STR_(x)

/*
 * Micro-kernel, portable C that the compiler vectorises along NR.
 *   C[m x n] (+)= A_panel (MR x kc, column p at a[p*MR]) * B_panel (kc x NR, row p at b[p*NR])
 * m <= MR and n <= NR: edge tiles are handled here, only the valid part of C is
 * touched, and with accumulate == 0 C is never read (it may hold NaN).
 * No loops over M or N, no allocation.
 */
static void CX_UKERNEL(ptrdiff_t kc, const CX_T *restrict a, const CX_T *restrict b,
                       CX_T *restrict c, ptrdiff_t rsc, ptrdiff_t csc,
                       int accumulate, ptrdiff_t m, ptrdiff_t n)
{
    CX_T acc[CX_MR][CX_NR];
    for (int i = 0; i < CX_MR; ++i)
        for (int j = 0; j < CX_NR; ++j)
            acc[i][j] = 0;
    for (ptrdiff_t p = 0; p < kc; ++p) {
        const CX_T *ap = a + p * CX_MR;
        const CX_T *bp = b + p * CX_NR;
        for (int i = 0; i < CX_MR; ++i) {
            const CX_T ai = ap[i];
            for (int j = 0; j < CX_NR; ++j)
                acc[i][j] += ai * bp[j];
        }
    }
    if (m == CX_MR && n == CX_NR && csc == 1) {
        if (accumulate) {
            for (int i = 0; i < CX_MR; ++i)
                for (int j = 0; j < CX_NR; ++j)
                    c[i * rsc + j] += acc[i][j];
        } else {
            for (int i = 0; i < CX_MR; ++i)
                for (int j = 0; j < CX_NR; ++j)
                    c[i * rsc + j] = acc[i][j];
        }
        return;
    }
    for (ptrdiff_t i = 0; i < m; ++i)
        for (ptrdiff_t j = 0; j < n; ++j) {
            CX_T *cij = c + i * rsc + j * csc;
            *cij = accumulate ? *cij + acc[i][j] : acc[i][j];
        }
}

/* Pack an mc x kc block of A into MR-high panels, zero-filling the last panel. */
static void CX_NAME(gemm_pack_a)(ptrdiff_t mc, ptrdiff_t kc, const CX_T *a,
                                 ptrdiff_t rsa, ptrdiff_t csa, CX_T *restrict dst)
{
    for (ptrdiff_t i0 = 0; i0 < mc; i0 += CX_MR) {
        const ptrdiff_t mr = mc - i0 < CX_MR ? mc - i0 : CX_MR;
        const CX_T *ai = a + i0 * rsa;
        if (csa == 1 && mr == CX_MR) {
            for (ptrdiff_t i = 0; i < CX_MR; ++i) {
                const CX_T *row = ai + i * rsa;
                for (ptrdiff_t p = 0; p < kc; ++p)
                    dst[p * CX_MR + i] = row[p];
            }
        } else {
            for (ptrdiff_t p = 0; p < kc; ++p) {
                ptrdiff_t i = 0;
                for (; i < mr; ++i)
                    dst[p * CX_MR + i] = ai[i * rsa + p * csa];
                for (; i < CX_MR; ++i)
                    dst[p * CX_MR + i] = 0;
            }
        }
        dst += CX_MR * kc;
    }
}

/* Pack a kc x nc block of B into NR-wide panels, zero-filling the last panel. */
static void CX_NAME(gemm_pack_b)(ptrdiff_t kc, ptrdiff_t nc, const CX_T *b,
                                 ptrdiff_t rsb, ptrdiff_t csb, CX_T *restrict dst)
{
    for (ptrdiff_t j0 = 0; j0 < nc; j0 += CX_NR) {
        const ptrdiff_t nr = nc - j0 < CX_NR ? nc - j0 : CX_NR;
        const CX_T *bj = b + j0 * csb;
        if (csb == 1 && nr == CX_NR) {
            for (ptrdiff_t p = 0; p < kc; ++p)
                for (ptrdiff_t j = 0; j < CX_NR; ++j)
                    dst[p * CX_NR + j] = bj[p * rsb + j];
        } else {
            for (ptrdiff_t p = 0; p < kc; ++p) {
                ptrdiff_t j = 0;
                for (; j < nr; ++j)
                    dst[p * CX_NR + j] = bj[p * rsb + j * csb];
                for (; j < CX_NR; ++j)
                    dst[p * CX_NR + j] = 0;
            }
        }
        dst += CX_NR * kc;
    }
}

size_t CX_NAME(gemm_workspace_elems)(void)
{
    return (size_t)CX_MC * CX_KC + (size_t)CX_KC * CX_NC;
}

const char *CX_NAME(gemm_kernel_name)(void)
{
    return CX_STR(CX_UKERNEL);
}

void CX_NAME(gemm)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                   const CX_T *a, ptrdiff_t rsa, ptrdiff_t csa,
                   const CX_T *b, ptrdiff_t rsb, ptrdiff_t csb,
                   int accumulate, CX_T *c, ptrdiff_t rsc, ptrdiff_t csc, CX_T *ws)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        /* An empty sum: C := 0, or C unchanged. */
        if (!accumulate)
            for (ptrdiff_t i = 0; i < m; ++i)
                for (ptrdiff_t j = 0; j < n; ++j)
                    c[i * rsc + j * csc] = 0;
        return;
    }
    CX_T *apack = ws;
    CX_T *bpack = ws + (size_t)CX_MC * CX_KC;
    for (ptrdiff_t jc = 0; jc < n; jc += CX_NC) {
        const ptrdiff_t nc = n - jc < CX_NC ? n - jc : CX_NC;
        for (ptrdiff_t pc = 0; pc < k; pc += CX_KC) {
            const ptrdiff_t kc = k - pc < CX_KC ? k - pc : CX_KC;
            const int acc = accumulate || pc > 0;
            CX_NAME(gemm_pack_b)(kc, nc, b + pc * rsb + jc * csb, rsb, csb, bpack);
            for (ptrdiff_t ic = 0; ic < m; ic += CX_MC) {
                const ptrdiff_t mc = m - ic < CX_MC ? m - ic : CX_MC;
                CX_NAME(gemm_pack_a)(mc, kc, a + ic * rsa + pc * csa, rsa, csa, apack);
                for (ptrdiff_t jr = 0; jr < nc; jr += CX_NR) {
                    const ptrdiff_t nr = nc - jr < CX_NR ? nc - jr : CX_NR;
                    for (ptrdiff_t ir = 0; ir < mc; ir += CX_MR) {
                        const ptrdiff_t mr = mc - ir < CX_MR ? mc - ir : CX_MR;
                        CX_UKERNEL(kc, apack + ir * kc, bpack + jr * kc,
                                   c + (ic + ir) * rsc + (jc + jr) * csc, rsc, csc,
                                   acc, mr, nr);
                    }
                }
            }
        }
    }
}
