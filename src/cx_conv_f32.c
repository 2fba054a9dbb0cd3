/* float32 instantiation of the GEMM and the convolution drivers. */
#include "cx_conv.h"

#define CX_T float
#define CX_NAME(x) cx_f32_##x
/* 4 x 8 float32 tile: 8 SSE2 (or 4 AVX) accumulators in the portable build. */
#define CX_MR 4
#define CX_NR 8
#define CX_KC 256
#define CX_MC 128
#define CX_NC 1024
#define CX_UKERNEL cx_f32_gemm_ukernel_4x8__generic

#include "cx_gemm_impl.h"
#include "cx_conv_impl.h"
