/*
 * Run-time choice of the GEMM micro-kernels: the CPU is asked once which
 * instruction sets it (and the OS) supports, and every GEMM then goes through
 * the chosen descriptor. A lower path can be requested (CONVX_CPU_CAPABILITY,
 * read by the Python layer) so that every path can be tested on one machine.
 */
#include "cx_gemm.h"
#include "cx_conv.h"

#if CX_HAVE_X86_KERNELS
#include <cpuid.h>
#endif

/* Block sizes per kernel. kc x nr (B micro-panel) stays in L1 while the A
   block mc x kc streams from L2; kc is the reduction step, fixed per path. */
static const cx_f32_gemm_kernel f32_kernels[] = {
    {cx_f32_gemm_ukernel_4x8__generic, 4, 8, 256, 128, 1024, "cx_f32_gemm_ukernel_4x8__generic",
     cx_f32_dot_ukernel_2x4__generic, 2, 4, "cx_f32_dot_ukernel_2x4__generic",
     cx_f32_igemm_ukernel_4x8__generic},
#if CX_HAVE_X86_KERNELS
    {cx_f32_gemm_ukernel_6x16__avx2, 6, 16, 256, 144, 1536, "cx_f32_gemm_ukernel_6x16__avx2",
     cx_f32_dot_ukernel_3x4__avx2, 3, 4, "cx_f32_dot_ukernel_3x4__avx2",
     cx_f32_igemm_ukernel_6x16__avx2, {2, 4},
     {cx_f32_gemm_ukernel_2x16_e6__avx2, cx_f32_gemm_ukernel_4x16_e6__avx2},
     {cx_f32_igemm_ukernel_2x16_e6__avx2, cx_f32_igemm_ukernel_4x16_e6__avx2},
     cx_f32_agemm_ukernel_6x16__avx2},
    {cx_f32_gemm_ukernel_8x48__avx512, 8, 48, 256, 144, 1536, "cx_f32_gemm_ukernel_8x48__avx512",
     cx_f32_dot_ukernel_4x6__avx512, 4, 6, "cx_f32_dot_ukernel_4x6__avx512",
     cx_f32_igemm_ukernel_8x48__avx512, {0, 0}, {NULL, NULL}, {NULL, NULL},
     cx_f32_agemm_ukernel_8x48__avx512},
#endif
};

static const cx_f64_gemm_kernel f64_kernels[] = {
    {cx_f64_gemm_ukernel_4x4__generic, 4, 4, 256, 128, 512, "cx_f64_gemm_ukernel_4x4__generic",
     cx_f64_dot_ukernel_2x4__generic, 2, 4, "cx_f64_dot_ukernel_2x4__generic",
     cx_f64_igemm_ukernel_4x4__generic},
#if CX_HAVE_X86_KERNELS
    {cx_f64_gemm_ukernel_6x8__avx2, 6, 8, 256, 96, 768, "cx_f64_gemm_ukernel_6x8__avx2",
     cx_f64_dot_ukernel_3x4__avx2, 3, 4, "cx_f64_dot_ukernel_3x4__avx2",
     cx_f64_igemm_ukernel_6x8__avx2, {2, 4},
     {cx_f64_gemm_ukernel_2x8_e6__avx2, cx_f64_gemm_ukernel_4x8_e6__avx2},
     {cx_f64_igemm_ukernel_2x8_e6__avx2, cx_f64_igemm_ukernel_4x8_e6__avx2},
     cx_f64_agemm_ukernel_6x8__avx2},
    {cx_f64_gemm_ukernel_8x24__avx512, 8, 24, 256, 96, 768, "cx_f64_gemm_ukernel_8x24__avx512",
     cx_f64_dot_ukernel_4x6__avx512, 4, 6, "cx_f64_dot_ukernel_4x6__avx512",
     cx_f64_igemm_ukernel_8x24__avx512, {0, 0}, {NULL, NULL}, {NULL, NULL},
     cx_f64_agemm_ukernel_8x24__avx512},
#endif
};

#if CX_HAVE_X86_KERNELS
/* Narrow tiles (cx_gemm.h), AVX-512 only: MR 12 x 2 vectors, the blocks of the main tile. */
static const cx_f32_gemm_kernel f32_narrow_avx512 = {
    cx_f32_gemm_ukernel_12x32__avx512, 12, 32, 256, 144, 1536,
    "cx_f32_gemm_ukernel_12x32__avx512", NULL, 0, 0, "", NULL, {0, 0}, {NULL, NULL},
    {NULL, NULL}, cx_f32_agemm_ukernel_12x32__avx512};
static const cx_f64_gemm_kernel f64_narrow_avx512 = {
    cx_f64_gemm_ukernel_12x16__avx512, 12, 16, 256, 96, 768,
    "cx_f64_gemm_ukernel_12x16__avx512", NULL, 0, 0, "", NULL, {0, 0}, {NULL, NULL},
    {NULL, NULL}, cx_f64_agemm_ukernel_12x16__avx512};
#endif

static int active_isa = CX_ISA_GENERIC;

const cx_f32_gemm_kernel *cx_f32_gemm_active(void) { return &f32_kernels[active_isa]; }
const cx_f64_gemm_kernel *cx_f64_gemm_active(void) { return &f64_kernels[active_isa]; }

const cx_f32_gemm_kernel *cx_f32_gemm_narrow(void)
{
#if CX_HAVE_X86_KERNELS
    if (active_isa == CX_ISA_AVX512)
        return &f32_narrow_avx512;
#endif
    return cx_f32_gemm_active();
}

const cx_f64_gemm_kernel *cx_f64_gemm_narrow(void)
{
#if CX_HAVE_X86_KERNELS
    if (active_isa == CX_ISA_AVX512)
        return &f64_narrow_avx512;
#endif
    return cx_f64_gemm_active();
}

int cx_cpu_best_isa(void)
{
#if CX_HAVE_X86_KERNELS
    __builtin_cpu_init();
    /* libgcc / compiler-rt also check that the OS saves the wider registers (XCR0). */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
        return CX_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CX_ISA_AVX2;
#endif
    return CX_ISA_GENERIC;
}

int cx_select_isa(int requested)
{
    int best = cx_cpu_best_isa();
    if (requested < CX_ISA_GENERIC)
        requested = CX_ISA_GENERIC;
    active_isa = requested < best ? requested : best;
    return active_isa;
}

int cx_active_isa(void) { return active_isa; }

int cx_cpu_avx512_halves(void)
{
#if CX_HAVE_X86_KERNELS
    static int known = -1;
    if (known < 0) {
        unsigned a, b, c, d;
        int halves = 0;
        __builtin_cpu_init();
        /* AMD family 19h: Zen 3 (no AVX-512) and Zen 4, whose AVX-512 units are
           256 bits wide. Zen 5 (1Ah) and Intel's cores with two 512-bit FMA
           ports run 16-lane vectors at twice the 8-lane rate. */
        if (__builtin_cpu_is("amd") && __builtin_cpu_supports("avx512f") &&
            __get_cpuid(1, &a, &b, &c, &d)) {
            const unsigned base = (a >> 8) & 0xf, ext = (a >> 20) & 0xff;
            halves = (base == 0xf ? base + ext : base) == 0x19;
        }
        known = halves;
    }
    return known;
#else
    return 0;
#endif
}

/* Developer switches (cx_conv.h: CX_DEV_*), for A/B timing inside one process
   and for tests that compare a kernel with the one it replaces. */
long long cx_dev_flags = 0;

long long cx_set_dev_flags(long long flags)
{
    const long long old = cx_dev_flags;
    cx_dev_flags = flags;
    return old;
}

const char *cx_isa_name(int isa)
{
    switch (isa) {
    case CX_ISA_AVX512: return "avx512";
    case CX_ISA_AVX2: return "avx2";
    default: return "generic";
    }
}
