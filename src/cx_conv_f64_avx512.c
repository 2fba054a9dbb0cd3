/*
 * double drivers and GEMM loops compiled for the avx512 path (target "avx512f,fma").
 * The same template as every other path (cx_gemm_impl.h, cx_conv_impl.h);
 * only the compiler's target differs, so that packing, im2col and the direct
 * loops are vectorised for the instruction set the micro-kernels use.
 * cx_conv_dispatch.c routes the public cx_f64_* entry points here.
 */
#include <stddef.h>
#include <string.h>

#include "cx_conv.h"
#include "cx_gemm.h"

#if CX_HAVE_X86_KERNELS
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,fma")
#endif

#define CX_T double
#define CX_TSIZE 8
#define CX_NAME(x) cx_f64_avx512_##x
#define CX_KERNEL_T cx_f64_gemm_kernel
#define CX_ACTIVE() cx_f64_gemm_active()
#define CX_NARROW() cx_f64_gemm_narrow()

/* generic vectors of the direct kernels (cx_direct_impl.h) */
#define CX_VBYTES 64
#define CX_VREGS 32

#include "cx_gemm_impl.h"
#include "cx_conv_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif /* CX_HAVE_X86_KERNELS */
