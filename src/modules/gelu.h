/* Internal: GELU divided by its largest slope, y = x·Φ(x)/1.1289…, and its
 * backward, in float, sixteen lanes at a time (GCC/clang vector extensions;
 * with GCC on x86-64 an AVX-512 or AVX2 + FMA clone runs where the CPU has
 * it, chosen by the loader).
 *
 * Φ(x) = erfc(−x/√2)/2 with erfc(z), z = |x|/√2, from the Chebyshev fit
 * t·exp(−z² + P(t)), t = 1/(1 + z/2) (Numerical Recipes' erfcc: fractional
 * error below 1.2e-7 for every z ≥ 0), and Φ = 1 − erfc/2 for x ≥ 0: the
 * negative tail is computed directly, not as 1 + erf (which cancels).
 * exp is Cody–Waite reduction by ln 2 with Cephes' degree-6 polynomial. In
 * float the relative error of y is below 5e-6 for |x| < 6 and below 2e-5
 * wherever |y| > 1e-30 (the argument −z² carries float rounding), the slope's
 * absolute error below 1e-6; tests/test_attention.c measures both against
 * a double reference. This is the GPT's MLP activation, and the double erf it
 * replaces was most of the forward's time outside the products. */
#ifndef MN_MODULES_GELU_H
#define MN_MODULES_GELU_H

#include <stdint.h>

/* GELU's largest slope Φ(√2) + √2·φ(√2), reached at x = √2 (modula rounds
 * it to 1.1289): dividing by it makes ν = 1. */
#define MN_GELU_MAX_SLOPE 1.1289041451851545

/* y[i] = GELU(x[i])/MN_GELU_MAX_SLOPE, i < n. */
void mn_gelu_forward_f32(float *y, const float *x, int64_t n, int threads);
/* dx[i] = dy[i]·GELU'(x[i])/MN_GELU_MAX_SLOPE, i < n. */
void mn_gelu_backward_f32(float *dx, const float *x, const float *dy, int64_t n, int threads);

#endif
