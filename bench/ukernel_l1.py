#!/usr/bin/env python
"""The AVX2 GEMM micro-kernel template alone, on panels that sit in L1.

    python bench/ukernel_l1.py [CALLS]

Compiles src/cx_ukernel_simd_impl.h (the template convx's x86 micro-kernels
are made from) into a standalone program with gcc, for float32 tiles 6x16 (the
AVX2 path's), 4x24, 3x32 and 8x8, and times CALLS (default 200000) calls of
each with kc = 256 on the same small A and B panels, three times over: the
rate the register tile itself sustains, against which the GEMM's in-kernel
rate (perf share x call rate) shows what feeding it from L2 costs. Needs gcc
and an x86-64 CPU with AVX2 + FMA (prints why not, and exits 0, otherwise).
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(os.path.dirname(HERE), "src", "cx_ukernel_simd_impl.h")
TILES = [(6, 2), (4, 3), (3, 4), (8, 1)]     # (MR, vectors of 8 floats)

KERNEL = """#define UK_TARGET __attribute__((target("avx2,fma"), noinline))
#define UK_NAME uk_{mr}x{nv}
#define UK_T float
#define UK_V __m256
#define UK_VLEN 8
#define UK_MR {mr}
#define UK_NV {nv}
#define UK_LOAD(p) _mm256_loadu_ps(p)
#define UK_STORE(p, v) _mm256_storeu_ps((p), (v))
#define UK_BCAST(x) _mm256_set1_ps(x)
#define UK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define UK_ADD(a, b) _mm256_add_ps((a), (b))
#define UK_ZERO() _mm256_setzero_ps()
#include "{template}"
#undef UK_TARGET
"""

MAIN = r"""
typedef void (*fn)(ptrdiff_t, const float *, const float *, ptrdiff_t, float *, ptrdiff_t,
                   ptrdiff_t, int, ptrdiff_t, ptrdiff_t);
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
int main(int argc, char **argv)
{
    const long calls = argc > 1 ? atol(argv[1]) : 200000;
    const int kc = 256;
    static float a[16 * 256] __attribute__((aligned(64)));
    static float b[256 * 32] __attribute__((aligned(64)));
    static float c[16 * 64] __attribute__((aligned(64)));
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("this CPU lacks AVX2 + FMA\n");
        return 0;
    }
    for (int i = 0; i < 16 * 256; i++) a[i] = 1e-3f * (float)(i % 7);
    for (int i = 0; i < 256 * 32; i++) b[i] = 1e-3f * (float)(i % 5);
    struct { fn f; int mr, nr; const char *name; } k[] = {KERNELS};
    const int nk = (int)(sizeof k / sizeof k[0]);
    for (int rep = 0; rep < 3; rep++) {
        for (int t = 0; t < nk; t++) {
            const double t0 = now();
            for (long i = 0; i < calls; i++)
                k[t].f(kc, a, b, k[t].nr, c, 64, 1, 1, k[t].mr, k[t].nr);
            const double dt = now() - t0;
            printf("%s %.1f GFLOP/s%s", k[t].name,
                   2.0 * kc * k[t].mr * k[t].nr * (double)calls / dt / 1e9,
                   t + 1 < nk ? "  " : "\n");
        }
    }
    return c[5] == 12345.0f;
}
"""


def main(argv):
    calls = argv[0] if argv else "200000"
    if not calls.isdigit() or int(calls) <= 0:
        sys.exit(__doc__)
    if shutil.which("gcc") is None:
        print("ukernel_l1.py: no gcc on PATH")
        return
    src = ["#include <stdio.h>", "#include <stdlib.h>", "#include <time.h>",
           "#include <stddef.h>", "#include <immintrin.h>", "#define CX_GEMM_TILE_MAX 512"]
    src += [KERNEL.format(mr=mr, nv=nv, template=TEMPLATE) for mr, nv in TILES]
    entries = ", ".join(f'{{uk_{mr}x{nv}, {mr}, {8 * nv}, "{mr}x{8 * nv}"}}' for mr, nv in TILES)
    src.append(MAIN.replace("KERNELS", entries))
    with tempfile.TemporaryDirectory() as tmp:
        c_file, exe = os.path.join(tmp, "ukb.c"), os.path.join(tmp, "ukb")
        with open(c_file, "w") as f:
            f.write("\n".join(src))
        subprocess.run(["gcc", "-O2", "-o", exe, c_file], check=True)
        sys.stdout.write(subprocess.run([exe, calls], check=True, capture_output=True,
                                        text=True).stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
