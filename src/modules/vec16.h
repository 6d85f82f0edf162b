/* Sixteen float lanes as one GCC vector (64 bytes: one AVX-512 register, two
 * AVX2 or four SSE registers in whichever target_clones variant the loader
 * picks), and the pieces the element-wise kernels share: GELU (gelu.c) and
 * the softmax rows (attention.c). Every function here is always inlined, so
 * no vector crosses a call and GCC's ABI note does not apply (the files
 * that include this build with -Wno-psabi, src/meson.build: the pragma
 * does not silence it). */
#ifndef MN_MODULES_VEC16_H
#define MN_MODULES_VEC16_H

#include <stdint.h>

#include "core/simd.h"

typedef float vec16 __attribute__((vector_size(64)));
typedef int32_t veci16 __attribute__((vector_size(64)));
#define V16 16
#define INLINE static inline __attribute__((always_inline))

/* A kernel compiled for the default target, AVX2 + FMA and AVX-512 (core/simd.h). */
#define CLONES MN_CLONES

/* m ? a : b, lane by lane (m's lanes all-ones or zero, as comparisons give). */
INLINE vec16 vselect16(veci16 m, vec16 a, vec16 b)
{
    return (vec16)((m & (veci16)a) | (~m & (veci16)b));
}

/* e^v for every lane in [−87.33, 88] (the caller clamps; about 1 ulp):
 * v = k·ln 2 + r with ln 2 in two parts (Cody–Waite), Cephes' degree-5
 * polynomial for e^r on |r| ≤ ln 2 / 2, and 2^k built in the exponent bits
 * (k in [−126, 127], so never subnormal). */
INLINE vec16 vexp16_in_range(vec16 v)
{
    const float shift = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    vec16 k = (v * 1.44269504088896341f + shift) - shift;
    vec16 r = v - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    vec16 p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    veci16 e = (__builtin_convertvector(k, veci16) + 127) << 23;
    return p * (vec16)e;
}

#endif
