/* float64 instantiation of the GEMM and the convolution drivers. */
#include "cx_conv.h"

#define CX_T double
#define CX_NAME(x) cx_f64_##x
/* 4 x 4 float64 tile: 8 SSE2 accumulators in the portable build. */
#define CX_MR 4
#define CX_NR 4
#define CX_KC 256
#define CX_MC 128
#define CX_NC 512
#define CX_UKERNEL cx_f64_gemm_ukernel_4x4__generic

#include "cx_gemm_impl.h"
#include "cx_conv_impl.h"
