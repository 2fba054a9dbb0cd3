/*
 * float drivers and GEMM loops compiled for the generic path (portable C, baseline flags),
 * and the portable micro-kernels.
 * The same template as every other path (cx_gemm_impl.h, cx_conv_impl.h);
 * only the compiler's target differs, so that packing, im2col and the direct
 * loops are vectorised for the instruction set the micro-kernels use.
 * cx_conv_dispatch.c routes the public cx_f32_* entry points here.
 */
#include <stddef.h>
#include <string.h>

#include "cx_conv.h"
#include "cx_gemm.h"

#define CX_T float
#define CX_TSIZE 4
#define CX_NAME(x) cx_f32_generic_##x
#define CX_KERNEL_T cx_f32_gemm_kernel
#define CX_ACTIVE() cx_f32_gemm_active()
#define CX_NARROW() cx_f32_gemm_narrow()
/* Portable 4 x 8 tile: 8 SSE2 accumulators in the baseline build. */
#define CX_DEFINE_GENERIC_UKERNELS
#define CX_GENERIC_UKERNEL cx_f32_gemm_ukernel_4x8__generic
#define CX_GENERIC_IUKERNEL cx_f32_igemm_ukernel_4x8__generic
#define CX_GENERIC_DOT_UKERNEL cx_f32_dot_ukernel_2x4__generic
#define CX_GENERIC_MR 4
#define CX_GENERIC_NR 8
#include "cx_gemm_impl.h"
#include "cx_conv_impl.h"
