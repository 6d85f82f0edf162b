/* GELU in float, sixteen lanes at a time (gelu.h). */
#include <string.h>

#include "core/parallel.h"
#include "modules/gelu.h"
#include "modules/vec16.h"

#define INV_SLOPE ((float)(1.0 / MN_GELU_MAX_SLOPE))
#define INV_SQRT_2PI 0.39894228040143268f
#define INV_SQRT_2 0.70710678118654752f
/* Elements per task when the work is shared among threads. */
#define CHUNK 4096

/* e^v for v clamped to [−87, 88] (about 1 ulp). */
INLINE vec16 vexp(vec16 v)
{
    v = vselect16(v < -87.0f, v - v - 87.0f, v);
    v = vselect16(v > 88.0f, v - v + 88.0f, v);
    return vexp16_in_range(v);
}

/* Φ(x), the standard normal distribution function. */
INLINE vec16 vcdf(vec16 x)
{
    vec16 z = (vec16)((veci16)x & 0x7fffffff) * INV_SQRT_2;
    vec16 t = 1.0f / (z * 0.5f + 1.0f);
    vec16 p = t * 0.17087277f - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    vec16 half = t * vexp(p - z * z) * 0.5f; /* erfc(z)/2 = Φ(−|x|) */
    return vselect16(x >= 0.0f, 1.0f - half, half);
}

INLINE vec16 forward_lanes(vec16 x, vec16 unused)
{
    (void)unused;
    return x * vcdf(x) * INV_SLOPE;
}

INLINE vec16 backward_lanes(vec16 x, vec16 dy)
{
    vec16 slope = vcdf(x) + x * vexp(x * x * -0.5f) * INV_SQRT_2PI;
    return dy * slope * INV_SLOPE;
}

/* out[i] = f(a[i], b[i]) over [lo, hi), the tail through a padded vector. */
#define APPLY(f, out, a, b, lo, hi)                                                                \
    do {                                                                                           \
        int64_t i_ = (lo);                                                                         \
        for (; i_ + V16 <= (hi); i_ += V16) {                                                          \
            vec16 va, vb = {0}, vy;                                                                  \
            memcpy(&va, (a) + i_, sizeof va);                                                      \
            if (b)                                                                                 \
                memcpy(&vb, (b) + i_, sizeof vb);                                                  \
            vy = f(va, vb);                                                                        \
            memcpy((out) + i_, &vy, sizeof vy);                                                    \
        }                                                                                          \
        if (i_ < (hi)) {                                                                           \
            float ta[V16] = {0}, tb[V16] = {0}, ty[V16];                                                 \
            memcpy(ta, (a) + i_, (size_t)((hi) - i_) * sizeof(float));                             \
            if (b)                                                                                 \
                memcpy(tb, (b) + i_, (size_t)((hi) - i_) * sizeof(float));                         \
            vec16 va, vb, vy;                                                                        \
            memcpy(&va, ta, sizeof va);                                                            \
            memcpy(&vb, tb, sizeof vb);                                                            \
            vy = f(va, vb);                                                                        \
            memcpy(ty, &vy, sizeof vy);                                                            \
            memcpy((out) + i_, ty, (size_t)((hi) - i_) * sizeof(float));                           \
        }                                                                                          \
    } while (0)


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
