/* Internal: the bfloat16 product backend, beside the BLIS wrapper (blas.h).
 *
 * Products take bfloat16 operands and accumulate and return float32: with
 * oneDNN's matmul primitive (built with -Donednn, on a CPU with AVX512-BF16 or
 * AMX-BF16), or else through a fallback that does the same math in BLIS
 * (every bf16 operand widened to float32, exactly, then sgemm/ssyrk: a
 * product of two bf16 numbers is exact in float32, so only the order of the
 * float32 accumulation differs). mn_bf16_impl() says which one runs.
 *
 * Operands are views with one unit stride (row-major, or a transpose view of
 * one): nothing is copied for a transpose. `threads` <= 0 means the same
 * default as BLIS (blas.h); products under 128³ multiply-adds run on one
 * thread. oneDNN's primitives are created once per shape, layout, thread
 * count and beta, and cached (thread-safe); one call may run inside another
 * OpenMP region (the solver's side-by-side atoms): oneDNN then stays on the
 * calling thread. */
#ifndef MN_CORE_BF16_H
#define MN_CORE_BF16_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "modnorm/tensor.h"

/* A bfloat16 number: the upper 16 bits of an IEEE float32. */
typedef uint16_t mn_bf16;

/* Round to the nearest bf16, ties to even (what the hardware's
 * vcvtneps2bf16 does, except that subnormal inputs are kept rather than
 * flushed); NaN stays a quiet NaN; ±Inf and overflow past the largest bf16
 * give ±Inf. Written so that GCC vectorizes a loop of it. */
static inline mn_bf16 mn_bf16_from_f32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t nan = (u >> 16) | 0x40u;
    return (mn_bf16)((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

static inline float mn_bf16_to_f32(mn_bf16 h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* dst[i] = bf16(src[i]) for n elements (threaded over large arrays). */
void mn_bf16_round(mn_bf16 *dst, const float *src, int64_t n, int threads);

/* The one-thread kernels of every rounding loop: dst[j] = bf16(src[j]), and
 * dst[j] = bf16(f·src[j]) (the product rounded to float32 first, as C's
 * f * src[j]), for j < n; dst and src do not overlap. Compiled per target
 * (core/simd.h) and bit-identical to mn_bf16_from_f32 on every one. */
void mn_bf16_round_run(mn_bf16 *restrict dst, const float *restrict src, int64_t n);
void mn_bf16_round_scaled_run(mn_bf16 *restrict dst, const float *restrict src, int64_t n,
                              float f);

/* A bf16 matrix view: element (i, j) at data[i·rs + j·cs]; rs or cs is 1. */
typedef struct mn_bf16_mat {
    int64_t rows, cols;
    int64_t rs, cs;
    mn_bf16 *data;
} mn_bf16_mat;

/* A contiguous row-major view (rows x cols), and the same data transposed. */
mn_bf16_mat mn_bf16_view(mn_bf16 *data, int64_t rows, int64_t cols);
mn_bf16_mat mn_bf16_transpose(mn_bf16_mat a);

/* C = A·B + beta·C with beta 0 or 1; A is (m, k), B (k, n) bf16; C (m, n)
 * float32 with rs or cs 1. k = 0 gives beta·C; m or n = 0 does nothing. */
mn_status mn_bf16_gemm(const mn_bf16_mat *A, const mn_bf16_mat *B, double beta, mn_mat *C,
                       int threads);

/* C = bf16(A)·bf16(B) + beta·C with beta 0 or 1: float32 operands (views
 * with a unit stride, as above) rounded to nearest even into the calling
 * thread's buffers, then mn_bf16_gemm. The network's bf16 products
 * (mn_network_set_precision): the operands are rounded at every call, the
 * weights stay float32. */
mn_status mn_bf16_gemm_rounded(const mn_mat *A, const mn_mat *B, double beta, mn_mat *C,
                               int threads);

/* The lower triangle of C = A·Aᵀ; A is (m, k) bf16, C (m, m) float32. Entries
 * above the diagonal may be overwritten (oneDNN computes the triangle as row
 * blocks of a few hundred rows, each with its diagonal block whole: about
 * (1 + 1/blocks)·m²k multiply-adds instead of gemm's 2m²k). */
mn_status mn_bf16_syrk_lower(const mn_bf16_mat *A, mn_mat *C, int threads);
/* The same, and *whole (may be NULL) says whether the call wrote the whole
 * product, both triangles as the library summed them: through oneDNN in one
 * row block (m <= 256), or m or k = 0; the caller may then skip mirroring
 * the lower triangle. What the call did, not what a later one would do. */
mn_status mn_bf16_syrk(const mn_bf16_mat *A, mn_mat *C, int threads, bool *whole);

/* Multiply-adds... flops the backend performs for mn_bf16_syrk_lower of an
 * m x k operand (2·m²·k for a full product; less with blocks). */
double mn_bf16_syrk_flops(int64_t m, int64_t k);

/* Which implementation runs: "oneDNN 2.6.3, brg:avx512_core_bf16 kernels",
 * or "fallback: bf16 operands widened to float32, BLIS sgemm (...reason)". */
const char *mn_bf16_impl(void);
/* True when the products run on bf16 hardware through oneDNN. */
bool mn_bf16_native(void);
/* Tests: force the fallback on (true) or allow oneDNN again (false). */
void mn_bf16_force_fallback(bool on);

#endif
