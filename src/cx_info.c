/* Build and machine facts reported by convx.config(). */
#include "cx_conv.h"

#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const char *cx_compiler(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
    return "msvc";
#else
    return "unknown";
#endif
}

int cx_openmp_version(void)
{
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}

int cx_omp_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

const char *cx_simd_baseline(void)
{
#if defined(__AVX512F__)
    return "avx512";
#elif defined(__AVX2__)
    return "avx2";
#elif defined(__SSE2__) || defined(__x86_64__)
    return "sse2";
#elif defined(__ARM_NEON) || defined(__aarch64__)
    return "neon";
#else
    return "none";
#endif
}

const char *cx_cpu_features(void)
{
    static char buf[128];
    buf[0] = '\0';
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse2")) strcat(buf, "sse2 ");
    if (__builtin_cpu_supports("avx")) strcat(buf, "avx ");
    if (__builtin_cpu_supports("avx2")) strcat(buf, "avx2 ");
    if (__builtin_cpu_supports("fma")) strcat(buf, "fma ");
    if (__builtin_cpu_supports("avx512f")) strcat(buf, "avx512f ");
#elif defined(__aarch64__)
    strcat(buf, "neon ");
#endif
    size_t len = strlen(buf);
    if (len > 0)
        buf[len - 1] = '\0';
    return buf;
}
