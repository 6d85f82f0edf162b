/* GELU in float, four lanes at a time (gelu.h). */
#include <string.h>

#include "core/parallel.h"
#include "modules/gelu.h"

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

#define INV_SLOPE ((float)(1.0 / MN_GELU_MAX_SLOPE))
#define INV_SQRT_2PI 0.39894228040143268f
#define INV_SQRT_2 0.70710678118654752f
/* Elements per task when the work is shared among threads. */
#define CHUNK 4096

static inline v4f select4(v4i m, v4f a, v4f b)
{
    return (v4f)((m & (v4i)a) | (~m & (v4i)b));
}

/* e^v for v clamped to [−87, 88] (about 1 ulp). */
static inline v4f exp4(v4f v)
{
    v = select4(v < -87.0f, v - v - 87.0f, v);
    v = select4(v > 88.0f, v - v + 88.0f, v);
    const float shift = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    v4f k = (v * 1.44269504088896341f + shift) - shift;
    v4f r = v - k * 0.693359375f; /* ln 2 in two parts (Cody–Waite) */
    r = r - k * -2.12194440e-4f;
    v4f p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    v4i e = (__builtin_convertvector(k, v4i) + 127) << 23; /* 2^k, k in [−126, 127] */
    return p * (v4f)e;
}

/* Φ(x), the standard normal distribution function. */
static inline v4f cdf4(v4f x)
{
    v4f z = (v4f)((v4i)x & 0x7fffffff) * INV_SQRT_2;
    v4f t = 1.0f / (z * 0.5f + 1.0f);
    v4f p = t * 0.17087277f - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    v4f half = t * exp4(p - z * z) * 0.5f; /* erfc(z)/2 = Φ(−|x|) */
    return select4(x >= 0.0f, 1.0f - half, half);
}

static inline v4f forward4(v4f x, v4f unused)
{
    (void)unused;
    return x * cdf4(x) * INV_SLOPE;
}

static inline v4f backward4(v4f x, v4f dy)
{
    v4f slope = cdf4(x) + x * exp4(x * x * -0.5f) * INV_SQRT_2PI;
    return dy * slope * INV_SLOPE;
}

/* out[i] = f(a[i], b[i]) over [lo, hi), the tail through a padded vector. */
#define APPLY(f, out, a, b, lo, hi)                                                                \
    do {                                                                                           \
        int64_t i_ = (lo);                                                                         \
        for (; i_ + 4 <= (hi); i_ += 4) {                                                          \
            v4f va, vb = {0}, vy;                                                                  \
            memcpy(&va, (a) + i_, sizeof va);                                                      \
            if (b)                                                                                 \
                memcpy(&vb, (b) + i_, sizeof vb);                                                  \
            vy = f(va, vb);                                                                        \
            memcpy((out) + i_, &vy, sizeof vy);                                                    \
        }                                                                                          \
        if (i_ < (hi)) {                                                                           \
            float ta[4] = {0}, tb[4] = {0}, ty[4];                                                 \
            memcpy(ta, (a) + i_, (size_t)((hi) - i_) * sizeof(float));                             \
            if (b)                                                                                 \
                memcpy(tb, (b) + i_, (size_t)((hi) - i_) * sizeof(float));                         \
            v4f va, vb, vy;                                                                        \
            memcpy(&va, ta, sizeof va);                                                            \
            memcpy(&vb, tb, sizeof vb);                                                            \
            vy = f(va, vb);                                                                        \
            memcpy(ty, &vy, sizeof vy);                                                            \
            memcpy((out) + i_, ty, (size_t)((hi) - i_) * sizeof(float));                           \
        }                                                                                          \
    } while (0)

void mn_gelu_forward_f32(float *y, const float *x, int64_t n, int threads)
{
    int nt = mn_elementwise_threads(threads, n);
    (void)nt; /* unused without OpenMP */
    const float *none = NULL;
    int64_t chunks = (n + CHUNK - 1) / CHUNK;
    MN_PARALLEL_FOR_BLOCKS(nt)
    for (int64_t c = 0; c < chunks; c++) {
        int64_t lo = c * CHUNK, hi = lo + CHUNK < n ? lo + CHUNK : n;
        APPLY(forward4, y, x, none, lo, hi);
    }
}

void mn_gelu_backward_f32(float *dx, const float *x, const float *dy, int64_t n, int threads)
{
    int nt = mn_elementwise_threads(threads, n);
    (void)nt; /* unused without OpenMP */
    int64_t chunks = (n + CHUNK - 1) / CHUNK;
    MN_PARALLEL_FOR_BLOCKS(nt)
    for (int64_t c = 0; c < chunks; c++) {
        int64_t lo = c * CHUNK, hi = lo + CHUNK < n ? lo + CHUNK : n;
        APPLY(backward4, dx, x, dy, lo, hi);
    }
}
