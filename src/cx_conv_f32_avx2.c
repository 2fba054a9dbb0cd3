/*
 * float drivers and GEMM loops compiled for the avx2 path (target "avx2,fma").
 * The same template as every other path (cx_gemm_impl.h, cx_conv_impl.h);
 * only the compiler's target differs, so that packing, im2col and the direct
 * loops are vectorised for the instruction set the micro-kernels use.
 * cx_conv_dispatch.c routes the public cx_f32_* entry points here.
 */
#include <stddef.h>
#include <string.h>

#include "cx_conv.h"
#include "cx_gemm.h"

#if CX_HAVE_X86_KERNELS
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#define CX_T float
#define CX_TSIZE 4
#define CX_NAME(x) cx_f32_avx2_##x
#define CX_KERNEL_T cx_f32_gemm_kernel
#define CX_ACTIVE() cx_f32_gemm_active()
#define CX_NARROW() cx_f32_gemm_narrow()

/* generic vectors of the direct kernels (cx_direct_impl.h) */
#define CX_VBYTES 32
#define CX_VREGS 16

#include "cx_gemm_impl.h"
#include "cx_conv_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif /* CX_HAVE_X86_KERNELS */
