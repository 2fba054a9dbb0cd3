/*
 * The isolated tile measurement behind bench/README.md ("Broadcasts are loads"):
 * one 16-output-channel tile of NP = 14 pixels over an L1-resident band,
 * 8 channels x 5 x 5 taps (lenet2's forward), two ways:
 *   per-tap:  every tap broadcasts each of the 14 band pixels it reads
 *             (one broadcast load per FMA: the old channel-vector tile);
 *   sliding:  along a kernel row of S = 5 contiguous taps, each band pixel is
 *             broadcast once and multiplied by the 5 tap vectors held in
 *             registers (the new tile; needs the unroll pragmas).
 * Build and run (not part of the package or the tests):
 *     gcc -O3 -mavx512f -mfma bench/tile_probe.c -o /tmp/tile_probe && /tmp/tile_probe
 * and compare with the FMA peak that bench/run.py prints (convx's probe).
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define NP 14
#define S 5
#define ROWS 40 /* kernel rows: 8 channels x 5 */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float band[8192] __attribute__((aligned(64)));
static float wq[16 * ROWS * S] __attribute__((aligned(64)));
static long off[ROWS * S];

__attribute__((noinline)) static void per_tap(const float *w, const float *b, float *out)
{
    __m512 a[NP];
    for (int j = 0; j < NP; j++)
        a[j] = _mm512_setzero_ps();
    for (int t = 0; t < ROWS * S; ++t) {
        const __m512 wv = _mm512_load_ps(w + t * 16);
        const float *x = b + off[t];
#pragma GCC unroll 16
        for (int j = 0; j < NP; j++)
            a[j] = _mm512_fmadd_ps(wv, _mm512_set1_ps(x[j]), a[j]);
    }
    for (int j = 0; j < NP; j++)
        _mm512_storeu_ps(out + j * 16, a[j]);
}

__attribute__((noinline)) static void sliding(const float *w, const float *b, float *out)
{
    __m512 a[NP];
    for (int j = 0; j < NP; j++)
        a[j] = _mm512_setzero_ps();
    for (int t = 0; t < ROWS * S; t += S) {
        __m512 wv[S];
        for (int s = 0; s < S; s++)
            wv[s] = _mm512_load_ps(w + (t + s) * 16);
        const float *x = b + off[t];
#pragma GCC unroll 32
        for (int e = 0; e < NP + S - 1; e++) {
            const __m512 bx = _mm512_set1_ps(x[e]);
#pragma GCC unroll 8
            for (int s = 0; s < S; s++)
                if (e - s >= 0 && e - s < NP)
                    a[e - s] = _mm512_fmadd_ps(wv[s], bx, a[e - s]);
        }
    }
    for (int j = 0; j < NP; j++)
        _mm512_storeu_ps(out + j * 16, a[j]);
}

int main(void)
{
    static float out[16 * NP];
    for (int i = 0; i < 8192; i++)
        band[i] = 1e-6f * (float)i;
    for (int i = 0; i < 16 * ROWS * S; i++)
        wq[i] = 1e-6f;
    for (int t = 0; t < ROWS * S; t++)      /* band rows of 18 pixels, 18 rows a channel */
        off[t] = (t / 25) * 18 * 18 + ((t % 25) / 5) * 18 + (t % 5);
    const double flops = 2.0 * 16 * NP * ROWS * S;
    for (int rep = 0; rep < 3; rep++) {
        const int n = 200000;
        double t0 = now();
        for (int i = 0; i < n; i++)
            per_tap(wq, band, out);
        double t1 = now();
        for (int i = 0; i < n; i++)
            sliding(wq, band, out);
        double t2 = now();
        printf("per-tap %.1f GFLOP/s   sliding %.1f GFLOP/s\n", flops * n / (t1 - t0) / 1e9,
               flops * n / (t2 - t1) / 1e9);
    }
    return out[0] > 1e30f;
}
