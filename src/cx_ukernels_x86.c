/*
 * x86 SIMD micro-kernels (AVX2+FMA and AVX-512F), float32 and float64, from
 * one template (cx_ukernel_simd_impl.h). Each function carries its own target
 * attribute, so this file is compiled with the portable flags like the rest and
 * the kernels only run after cx_select_isa() has checked the CPU.
 */
#include "cx_gemm.h"

#if CX_HAVE_X86_KERNELS
#include <immintrin.h>

/* ---- AVX2 + FMA: 16 ymm registers, 6 x 2 accumulators ---- */
#define UK_TARGET __attribute__((target("avx2,fma")))

#define UK_NAME cx_f32_gemm_ukernel_6x16__avx2
#define UK_T float
#define UK_V __m256
#define UK_VLEN 8
#define UK_MR 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_ps(p)
#define UK_STORE(p, v) _mm256_storeu_ps((p), (v))
#define UK_BCAST(x) _mm256_set1_ps(x)
#define UK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_ps((a), (b))
#define UK_ZERO() _mm256_setzero_ps()
#include "cx_ukernel_simd_impl.h"

#define UK_INDIRECT
#define UK_NAME cx_f32_igemm_ukernel_6x16__avx2
#define UK_T float
#define UK_V __m256
#define UK_VLEN 8
#define UK_MR 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_ps(p)
#define UK_STORE(p, v) _mm256_storeu_ps((p), (v))
#define UK_BCAST(x) _mm256_set1_ps(x)
#define UK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_ps((a), (b))
#define UK_ZERO() _mm256_setzero_ps()
#include "cx_ukernel_simd_impl.h"

#define UK_NAME cx_f64_gemm_ukernel_6x8__avx2
#define UK_T double
#define UK_V __m256d
#define UK_VLEN 4
#define UK_MR 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_pd(p)
#define UK_STORE(p, v) _mm256_storeu_pd((p), (v))
#define UK_BCAST(x) _mm256_set1_pd(x)
#define UK_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_pd((a), (b))
#define UK_ZERO() _mm256_setzero_pd()
#include "cx_ukernel_simd_impl.h"

#define UK_INDIRECT
#define UK_NAME cx_f64_igemm_ukernel_6x8__avx2
#define UK_T double
#define UK_V __m256d
#define UK_VLEN 4
#define UK_MR 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_pd(p)
#define UK_STORE(p, v) _mm256_storeu_pd((p), (v))
#define UK_BCAST(x) _mm256_set1_pd(x)
#define UK_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_pd((a), (b))
#define UK_ZERO() _mm256_setzero_pd()
#include "cx_ukernel_simd_impl.h"

/* Edge tiles of the 6-row AVX2 tiles: 4 or 2 rows of the same 6-row A panel
   (UK_ASTRIDE, cx_ukernel_simd_impl.h), for a GEMM's last row block of 1-4 rows
   (M = 32: five 6-row tiles and one of 2 rows, which the 6-row tile computed
   at the cost of 6). Named _e6: the A packing they read. */
#define UK_NAME cx_f32_gemm_ukernel_4x16_e6__avx2
#define UK_T float
#define UK_V __m256
#define UK_VLEN 8
#define UK_MR 4
#define UK_ASTRIDE 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_ps(p)
#define UK_STORE(p, v) _mm256_storeu_ps((p), (v))
#define UK_BCAST(x) _mm256_set1_ps(x)
#define UK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_ps((a), (b))
#define UK_ZERO() _mm256_setzero_ps()
#include "cx_ukernel_simd_impl.h"

#define UK_INDIRECT
#define UK_NAME cx_f32_igemm_ukernel_4x16_e6__avx2
#define UK_T float
#define UK_V __m256
#define UK_VLEN 8
#define UK_MR 4
#define UK_ASTRIDE 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_ps(p)
#define UK_STORE(p, v) _mm256_storeu_ps((p), (v))
#define UK_BCAST(x) _mm256_set1_ps(x)
#define UK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_ps((a), (b))
#define UK_ZERO() _mm256_setzero_ps()
#include "cx_ukernel_simd_impl.h"

#define UK_NAME cx_f32_gemm_ukernel_2x16_e6__avx2
#define UK_T float
#define UK_V __m256
#define UK_VLEN 8
#define UK_MR 2
#define UK_ASTRIDE 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_ps(p)
#define UK_STORE(p, v) _mm256_storeu_ps((p), (v))
#define UK_BCAST(x) _mm256_set1_ps(x)
#define UK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_ps((a), (b))
#define UK_ZERO() _mm256_setzero_ps()
#include "cx_ukernel_simd_impl.h"

#define UK_INDIRECT
#define UK_NAME cx_f32_igemm_ukernel_2x16_e6__avx2
#define UK_T float
#define UK_V __m256
#define UK_VLEN 8
#define UK_MR 2
#define UK_ASTRIDE 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_ps(p)
#define UK_STORE(p, v) _mm256_storeu_ps((p), (v))
#define UK_BCAST(x) _mm256_set1_ps(x)
#define UK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_ps((a), (b))
#define UK_ZERO() _mm256_setzero_ps()
#include "cx_ukernel_simd_impl.h"

#define UK_NAME cx_f64_gemm_ukernel_4x8_e6__avx2
#define UK_T double
#define UK_V __m256d
#define UK_VLEN 4
#define UK_MR 4
#define UK_ASTRIDE 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_pd(p)
#define UK_STORE(p, v) _mm256_storeu_pd((p), (v))
#define UK_BCAST(x) _mm256_set1_pd(x)
#define UK_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_pd((a), (b))
#define UK_ZERO() _mm256_setzero_pd()
#include "cx_ukernel_simd_impl.h"

#define UK_INDIRECT
#define UK_NAME cx_f64_igemm_ukernel_4x8_e6__avx2
#define UK_T double
#define UK_V __m256d
#define UK_VLEN 4
#define UK_MR 4
#define UK_ASTRIDE 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_pd(p)
#define UK_STORE(p, v) _mm256_storeu_pd((p), (v))
#define UK_BCAST(x) _mm256_set1_pd(x)
#define UK_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_pd((a), (b))
#define UK_ZERO() _mm256_setzero_pd()
#include "cx_ukernel_simd_impl.h"

#define UK_NAME cx_f64_gemm_ukernel_2x8_e6__avx2
#define UK_T double
#define UK_V __m256d
#define UK_VLEN 4
#define UK_MR 2
#define UK_ASTRIDE 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_pd(p)
#define UK_STORE(p, v) _mm256_storeu_pd((p), (v))
#define UK_BCAST(x) _mm256_set1_pd(x)
#define UK_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_pd((a), (b))
#define UK_ZERO() _mm256_setzero_pd()
#include "cx_ukernel_simd_impl.h"

#define UK_INDIRECT
#define UK_NAME cx_f64_igemm_ukernel_2x8_e6__avx2
#define UK_T double
#define UK_V __m256d
#define UK_VLEN 4
#define UK_MR 2
#define UK_ASTRIDE 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_pd(p)
#define UK_STORE(p, v) _mm256_storeu_pd((p), (v))
#define UK_BCAST(x) _mm256_set1_pd(x)
#define UK_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_pd((a), (b))
#define UK_ZERO() _mm256_setzero_pd()
#include "cx_ukernel_simd_impl.h"

/* A-row twins (UK_AROWS): A read in place as MR rows of stride lda */
#define UK_AROWS
#define UK_NAME cx_f32_agemm_ukernel_6x16__avx2
#define UK_T float
#define UK_V __m256
#define UK_VLEN 8
#define UK_MR 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_ps(p)
#define UK_STORE(p, v) _mm256_storeu_ps((p), (v))
#define UK_BCAST(x) _mm256_set1_ps(x)
#define UK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_ps((a), (b))
#define UK_ZERO() _mm256_setzero_ps()
#include "cx_ukernel_simd_impl.h"

#define UK_AROWS
#define UK_NAME cx_f64_agemm_ukernel_6x8__avx2
#define UK_T double
#define UK_V __m256d
#define UK_VLEN 4
#define UK_MR 6
#define UK_NV 2
#define UK_LOAD(p) _mm256_loadu_pd(p)
#define UK_STORE(p, v) _mm256_storeu_pd((p), (v))
#define UK_BCAST(x) _mm256_set1_pd(x)
#define UK_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_pd((a), (b))
#define UK_ZERO() _mm256_setzero_pd()
#include "cx_ukernel_simd_impl.h"

#undef UK_TARGET

/* ---- AVX-512F: 32 zmm registers, 8 x 3 accumulators ---- */
#define UK_TARGET __attribute__((target("avx512f,fma")))

#define UK_NAME cx_f32_gemm_ukernel_8x48__avx512
#define UK_T float
#define UK_V __m512
#define UK_VLEN 16
#define UK_MR 8
#define UK_NV 3
#define UK_LOAD(p) _mm512_loadu_ps(p)
#define UK_STORE(p, v) _mm512_storeu_ps((p), (v))
#define UK_BCAST(x) _mm512_set1_ps(x)
#define UK_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm512_add_ps((a), (b))
#define UK_ZERO() _mm512_setzero_ps()
#include "cx_ukernel_simd_impl.h"

#define UK_INDIRECT
#define UK_NAME cx_f32_igemm_ukernel_8x48__avx512
#define UK_T float
#define UK_V __m512
#define UK_VLEN 16
#define UK_MR 8
#define UK_NV 3
#define UK_LOAD(p) _mm512_loadu_ps(p)
#define UK_STORE(p, v) _mm512_storeu_ps((p), (v))
#define UK_BCAST(x) _mm512_set1_ps(x)
#define UK_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm512_add_ps((a), (b))
#define UK_ZERO() _mm512_setzero_ps()
#include "cx_ukernel_simd_impl.h"

#define UK_NAME cx_f64_gemm_ukernel_8x24__avx512
#define UK_T double
#define UK_V __m512d
#define UK_VLEN 8
#define UK_MR 8
#define UK_NV 3
#define UK_LOAD(p) _mm512_loadu_pd(p)
#define UK_STORE(p, v) _mm512_storeu_pd((p), (v))
#define UK_BCAST(x) _mm512_set1_pd(x)
#define UK_FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define UK_ADD(a, b) _mm512_add_pd((a), (b))
#define UK_ZERO() _mm512_setzero_pd()
#include "cx_ukernel_simd_impl.h"

#define UK_INDIRECT
#define UK_NAME cx_f64_igemm_ukernel_8x24__avx512
#define UK_T double
#define UK_V __m512d
#define UK_VLEN 8
#define UK_MR 8
#define UK_NV 3
#define UK_LOAD(p) _mm512_loadu_pd(p)
#define UK_STORE(p, v) _mm512_storeu_pd((p), (v))
#define UK_BCAST(x) _mm512_set1_pd(x)
#define UK_FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define UK_ADD(a, b) _mm512_add_pd((a), (b))
#define UK_ZERO() _mm512_setzero_pd()
#include "cx_ukernel_simd_impl.h"

/* Narrow twins (cx_gemm.h: cx_*_gemm_narrow): NR of two vectors, for GEMMs
   whose N is a small number of channels (64 = 2 x 32 exactly, 1.33 x 48). */
#define UK_NAME cx_f32_gemm_ukernel_12x32__avx512
#define UK_T float
#define UK_V __m512
#define UK_VLEN 16
#define UK_MR 12
#define UK_NV 2
#define UK_LOAD(p) _mm512_loadu_ps(p)
#define UK_STORE(p, v) _mm512_storeu_ps((p), (v))
#define UK_BCAST(x) _mm512_set1_ps(x)
#define UK_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm512_add_ps((a), (b))
#define UK_ZERO() _mm512_setzero_ps()
#include "cx_ukernel_simd_impl.h"

#define UK_NAME cx_f64_gemm_ukernel_12x16__avx512
#define UK_T double
#define UK_V __m512d
#define UK_VLEN 8
#define UK_MR 12
#define UK_NV 2
#define UK_LOAD(p) _mm512_loadu_pd(p)
#define UK_STORE(p, v) _mm512_storeu_pd((p), (v))
#define UK_BCAST(x) _mm512_set1_pd(x)
#define UK_FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define UK_ADD(a, b) _mm512_add_pd((a), (b))
#define UK_ZERO() _mm512_setzero_pd()
#include "cx_ukernel_simd_impl.h"

/* A-row twins (UK_AROWS): A read in place as MR rows of stride lda */
#define UK_AROWS
#define UK_NAME cx_f32_agemm_ukernel_8x48__avx512
#define UK_T float
#define UK_V __m512
#define UK_VLEN 16
#define UK_MR 8
#define UK_NV 3
#define UK_LOAD(p) _mm512_loadu_ps(p)
#define UK_STORE(p, v) _mm512_storeu_ps((p), (v))
#define UK_BCAST(x) _mm512_set1_ps(x)
#define UK_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm512_add_ps((a), (b))
#define UK_ZERO() _mm512_setzero_ps()
#include "cx_ukernel_simd_impl.h"

#define UK_AROWS
#define UK_NAME cx_f64_agemm_ukernel_8x24__avx512
#define UK_T double
#define UK_V __m512d
#define UK_VLEN 8
#define UK_MR 8
#define UK_NV 3
#define UK_LOAD(p) _mm512_loadu_pd(p)
#define UK_STORE(p, v) _mm512_storeu_pd((p), (v))
#define UK_BCAST(x) _mm512_set1_pd(x)
#define UK_FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define UK_ADD(a, b) _mm512_add_pd((a), (b))
#define UK_ZERO() _mm512_setzero_pd()
#include "cx_ukernel_simd_impl.h"

#define UK_AROWS
#define UK_NAME cx_f32_agemm_ukernel_12x32__avx512
#define UK_T float
#define UK_V __m512
#define UK_VLEN 16
#define UK_MR 12
#define UK_NV 2
#define UK_LOAD(p) _mm512_loadu_ps(p)
#define UK_STORE(p, v) _mm512_storeu_ps((p), (v))
#define UK_BCAST(x) _mm512_set1_ps(x)
#define UK_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm512_add_ps((a), (b))
#define UK_ZERO() _mm512_setzero_ps()
#include "cx_ukernel_simd_impl.h"

#define UK_AROWS
#define UK_NAME cx_f64_agemm_ukernel_12x16__avx512
#define UK_T double
#define UK_V __m512d
#define UK_VLEN 8
#define UK_MR 12
#define UK_NV 2
#define UK_LOAD(p) _mm512_loadu_pd(p)
#define UK_STORE(p, v) _mm512_storeu_pd((p), (v))
#define UK_BCAST(x) _mm512_set1_pd(x)
#define UK_FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define UK_ADD(a, b) _mm512_add_pd((a), (b))
#define UK_ZERO() _mm512_setzero_pd()
#include "cx_ukernel_simd_impl.h"

#undef UK_TARGET

/* ---- dot-product ("NT") kernels for the weight gradient (cx_ukernel_dot_impl.h) ---- */
#define UK_TARGET __attribute__((target("avx2,fma")))
#define UK_NAME cx_f32_dot_ukernel_3x4__avx2
#define UK_T float
#define UK_V __m256
#define UK_VLEN 8
#define UK_MR 3
#define UK_NR 4
#define UK_LOAD(p) _mm256_loadu_ps(p)
#define UK_LOAD_TAIL(p, k) _mm256_maskload_ps((p), cx_avx2_tail_mask32(k))
#define UK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define UK_ZERO() _mm256_setzero_ps()
#define UK_STORE(p, v) _mm256_storeu_ps((p), (v))
__attribute__((target("avx2"))) static inline __m256i cx_avx2_tail_mask32(ptrdiff_t k)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k), idx);
}
__attribute__((target("avx2"))) static inline __m256i cx_avx2_tail_mask64(ptrdiff_t k)
{
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)k), idx);
}
#include "cx_ukernel_dot_impl.h"

#define UK_NAME cx_f64_dot_ukernel_3x4__avx2
#define UK_T double
#define UK_V __m256d
#define UK_VLEN 4
#define UK_MR 3
#define UK_NR 4
#define UK_LOAD(p) _mm256_loadu_pd(p)
#define UK_LOAD_TAIL(p, k) _mm256_maskload_pd((p), cx_avx2_tail_mask64(k))
#define UK_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define UK_ZERO() _mm256_setzero_pd()
#define UK_STORE(p, v) _mm256_storeu_pd((p), (v))
#include "cx_ukernel_dot_impl.h"
#undef UK_TARGET

#define UK_TARGET __attribute__((target("avx512f,fma")))
#define UK_NAME cx_f32_dot_ukernel_4x6__avx512
#define UK_T float
#define UK_V __m512
#define UK_VLEN 16
#define UK_MR 4
#define UK_NR 6
#define UK_LOAD(p) _mm512_loadu_ps(p)
#define UK_LOAD_TAIL(p, k) _mm512_maskz_loadu_ps((__mmask16)((1u << (k)) - 1u), (p))
#define UK_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define UK_ZERO() _mm512_setzero_ps()
#define UK_STORE(p, v) _mm512_storeu_ps((p), (v))
#include "cx_ukernel_dot_impl.h"

#define UK_NAME cx_f64_dot_ukernel_4x6__avx512
#define UK_T double
#define UK_V __m512d
#define UK_VLEN 8
#define UK_MR 4
#define UK_NR 6
#define UK_LOAD(p) _mm512_loadu_pd(p)
#define UK_LOAD_TAIL(p, k) _mm512_maskz_loadu_pd((__mmask8)((1u << (k)) - 1u), (p))
#define UK_FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define UK_ZERO() _mm512_setzero_pd()
#define UK_STORE(p, v) _mm512_storeu_pd((p), (v))
#include "cx_ukernel_dot_impl.h"
#undef UK_TARGET

/* ---- peak-FMA probes: 12 independent chains (more than latency x pipes) ---- */
#define CX_PROBE_CHAINS 12

/* n steps of CX_PROBE_CHAINS independent FMA chains; returns their sum. */
#define CX_DEFINE_FMA_PROBE(NAME, TARGET, V, LANES, SET1, FMA, STORE)        \
    __attribute__((target(TARGET))) static double NAME(long n)              \
    {                                                                        \
        V acc[CX_PROBE_CHAINS];                                              \
        const V mul = SET1(0.999999f), add = SET1(1e-7f);                    \
        for (int i = 0; i < CX_PROBE_CHAINS; ++i)                            \
            acc[i] = SET1((float)i);                                         \
        for (long k = 0; k < n; ++k)                                         \
            for (int i = 0; i < CX_PROBE_CHAINS; ++i)                        \
                acc[i] = FMA(acc[i], mul, add);                              \
        float out[LANES], s = 0;                                             \
        for (int i = 0; i < CX_PROBE_CHAINS; ++i) {                          \
            STORE(out, acc[i]);                                              \
            for (int j = 0; j < LANES; ++j)                                  \
                s += out[j];                                                 \
        }                                                                    \
        return s;                                                            \
    }

CX_DEFINE_FMA_PROBE(cx_fma_probe_avx2, "avx2,fma", __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps,
                    _mm256_storeu_ps)
CX_DEFINE_FMA_PROBE(cx_fma_probe_avx512, "avx512f,fma", __m512, 16, _mm512_set1_ps,
                    _mm512_fmadd_ps, _mm512_storeu_ps)
#endif /* CX_HAVE_X86_KERNELS */

/* Portable probe: 8 chains of 4-wide mul+add the compiler may vectorise (SSE2). */
static double cx_fma_probe_generic(long n)
{
    float acc[8][4];
    for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 4; ++j)
            acc[i][j] = (float)(i + j);
    for (long k = 0; k < n; ++k)
        for (int i = 0; i < 8; ++i)
            for (int j = 0; j < 4; ++j)
                acc[i][j] = acc[i][j] * 0.999999f + 1e-7f;
    double s = 0;
    for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 4; ++j)
            s += acc[i][j];
    return s;
}

double cx_fma_probe(int isa, long n)
{
#if CX_HAVE_X86_KERNELS
    if (isa == CX_ISA_AVX512)
        return cx_fma_probe_avx512(n);
    if (isa == CX_ISA_AVX2)
        return cx_fma_probe_avx2(n);
#endif
    (void)isa;
    return cx_fma_probe_generic(n);
}

double cx_fma_probe_flops(int isa, long n)
{
    if (isa == CX_ISA_AVX512)
        return 2.0 * 16 * 12 * (double)n;
    if (isa == CX_ISA_AVX2)
        return 2.0 * 8 * 12 * (double)n;
    return 2.0 * 4 * 8 * (double)n;
}
