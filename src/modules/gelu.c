/* GELU in float, sixteen lanes at a time (gelu.h). */
#include <string.h>

#include "core/parallel.h"
#include "modules/gelu.h"

/* Every function taking or returning a vector is always inlined: no 32-byte
 * vector crosses a call, so the ABI note GCC gives for them does not apply. */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* Sixteen lanes: four SSE registers by default, two AVX2 registers or one
 * AVX-512 register in the clones the loader picks on CPUs that have them
 * (target_clones below). */
typedef float vecf __attribute__((vector_size(64)));
typedef int32_t veci __attribute__((vector_size(64)));
#define LANES 16
#define INLINE static inline __attribute__((always_inline))

#define INV_SLOPE ((float)(1.0 / MN_GELU_MAX_SLOPE))
#define INV_SQRT_2PI 0.39894228040143268f
#define INV_SQRT_2 0.70710678118654752f
/* Elements per task when the work is shared among threads. */
#define CHUNK 4096

INLINE vecf vselect(veci m, vecf a, vecf b)
{
    return (vecf)((m & (veci)a) | (~m & (veci)b));
}

/* e^v for v clamped to [−87, 88] (about 1 ulp). */
INLINE vecf vexp(vecf v)
{
    v = vselect(v < -87.0f, v - v - 87.0f, v);
    v = vselect(v > 88.0f, v - v + 88.0f, v);
    const float shift = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    vecf k = (v * 1.44269504088896341f + shift) - shift;
    vecf r = v - k * 0.693359375f; /* ln 2 in two parts (Cody–Waite) */
    r = r - k * -2.12194440e-4f;
    vecf p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    veci e = (__builtin_convertvector(k, veci) + 127) << 23; /* 2^k, k in [−126, 127] */
    return p * (vecf)e;
}

/* Φ(x), the standard normal distribution function. */
INLINE vecf vcdf(vecf x)
{
    vecf z = (vecf)((veci)x & 0x7fffffff) * INV_SQRT_2;
    vecf t = 1.0f / (z * 0.5f + 1.0f);
    vecf p = t * 0.17087277f - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    vecf half = t * vexp(p - z * z) * 0.5f; /* erfc(z)/2 = Φ(−|x|) */
    return vselect(x >= 0.0f, 1.0f - half, half);
}

INLINE vecf forward_lanes(vecf x, vecf unused)
{
    (void)unused;
    return x * vcdf(x) * INV_SLOPE;
}

INLINE vecf backward_lanes(vecf x, vecf dy)
{
    vecf slope = vcdf(x) + x * vexp(x * x * -0.5f) * INV_SQRT_2PI;
    return dy * slope * INV_SLOPE;
}

/* out[i] = f(a[i], b[i]) over [lo, hi), the tail through a padded vector. */
#define APPLY(f, out, a, b, lo, hi)                                                                \
    do {                                                                                           \
        int64_t i_ = (lo);                                                                         \
        for (; i_ + LANES <= (hi); i_ += LANES) {                                                          \
            vecf va, vb = {0}, vy;                                                                  \
            memcpy(&va, (a) + i_, sizeof va);                                                      \
            if (b)                                                                                 \
                memcpy(&vb, (b) + i_, sizeof vb);                                                  \
            vy = f(va, vb);                                                                        \
            memcpy((out) + i_, &vy, sizeof vy);                                                    \
        }                                                                                          \
        if (i_ < (hi)) {                                                                           \
            float ta[LANES] = {0}, tb[LANES] = {0}, ty[LANES];                                                 \
            memcpy(ta, (a) + i_, (size_t)((hi) - i_) * sizeof(float));                             \
            if (b)                                                                                 \
                memcpy(tb, (b) + i_, (size_t)((hi) - i_) * sizeof(float));                         \
            vecf va, vb, vy;                                                                        \
            memcpy(&va, ta, sizeof va);                                                            \
            memcpy(&vb, tb, sizeof vb);                                                            \
            vy = f(va, vb);                                                                        \
            memcpy(ty, &vy, sizeof vy);                                                            \
            memcpy((out) + i_, ty, (size_t)((hi) - i_) * sizeof(float));                           \
        }                                                                                          \
    } while (0)

/* One chunk, compiled for the default target, for AVX2 + FMA and for
 * AVX-512; the loader resolves the call to the one the CPU runs (GNU ifunc). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define CLONES
#endif

CLONES static void forward_chunk(float *y, const float *x, int64_t lo, int64_t hi)
{
    const float *none = NULL;
    APPLY(forward_lanes, y, x, none, lo, hi);
}

CLONES static void backward_chunk(float *dx, const float *x, const float *dy, int64_t lo,
                                  int64_t hi)
{
    APPLY(backward_lanes, dx, x, dy, lo, hi);
}

void mn_gelu_forward_f32(float *y, const float *x, int64_t n, int threads)
{
    int nt = mn_elementwise_threads(threads, n);
    (void)nt; /* unused without OpenMP */
    int64_t chunks = (n + CHUNK - 1) / CHUNK;
    MN_PARALLEL_FOR_BLOCKS(nt)
    for (int64_t c = 0; c < chunks; c++)
        forward_chunk(y, x, c * CHUNK, c * CHUNK + CHUNK < n ? c * CHUNK + CHUNK : n);
}

void mn_gelu_backward_f32(float *dx, const float *x, const float *dy, int64_t n, int threads)
{
    int nt = mn_elementwise_threads(threads, n);
    (void)nt; /* unused without OpenMP */
    int64_t chunks = (n + CHUNK - 1) / CHUNK;
    MN_PARALLEL_FOR_BLOCKS(nt)
    for (int64_t c = 0; c < chunks; c++)
        backward_chunk(dx, x, dy, c * CHUNK, c * CHUNK + CHUNK < n ? c * CHUNK + CHUNK : n);
}
