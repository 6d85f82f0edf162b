/* The bfloat16 product backend (see bf16.h): oneDNN's matmul primitive when
 * built with it and the CPU has bf16 units, else BLIS on widened operands. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/bf16.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/onednn.h"
#include "core/parallel.h"
#include "core/scratch.h"
#include "core/simd.h"

/* ---- conversion and views ---------------------------------------------------- */

/* The AVX-512 clone rounds and narrows 16 lanes in a handful of
 * instructions; the SSE2 baseline needs a dozen shuffles for every 8 (the
 * rounding of Linear's operands took a tenth of a bf16 GPT step that way). */
MN_CLONES static void round_run(mn_bf16 *restrict dst, const float *restrict src, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        dst[j] = mn_bf16_from_f32(src[j]);
}

MN_CLONES static void round_scaled_run(mn_bf16 *restrict dst, const float *restrict src,
                                       int64_t n, float f)
{
    for (int64_t j = 0; j < n; j++)
        dst[j] = mn_bf16_from_f32(f * src[j]);
}

/* Static clones behind plain functions: GCC gives a shared function's
 * clones a resolver of default visibility, which -fvisibility=hidden does
 * not reach, and the library would export it. */
void mn_bf16_round_run(mn_bf16 *restrict dst, const float *restrict src, int64_t n)
{
    round_run(dst, src, n);
}

void mn_bf16_round_scaled_run(mn_bf16 *restrict dst, const float *restrict src, int64_t n,
                              float f)
{
    round_scaled_run(dst, src, n, f);
}

/* Runs of 4096 elements (16 KiB read): as many as threads want, few enough
 * to keep the calls' overhead out of sight. */
enum { ROUND_RUN = 4096 };

void mn_bf16_round(mn_bf16 *dst, const float *src, int64_t n, int threads)
{
    int64_t runs = (n + ROUND_RUN - 1) / ROUND_RUN;
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(threads, n))
    for (int64_t r = 0; r < runs; r++) {
        int64_t lo = r * ROUND_RUN, len = n - lo < ROUND_RUN ? n - lo : ROUND_RUN;
        mn_bf16_round_run(dst + lo, src + lo, len);
    }
}

mn_bf16_mat mn_bf16_view(mn_bf16 *data, int64_t rows, int64_t cols)
{
    return (mn_bf16_mat){.rows = rows, .cols = cols, .rs = cols, .cs = 1, .data = data};
}

mn_bf16_mat mn_bf16_transpose(mn_bf16_mat a)
{
    return (mn_bf16_mat){.rows = a.cols, .cols = a.rows, .rs = a.cs, .cs = a.rs, .data = a.data};
}

/* ---- which implementation -------------------------------------------------------- */

static bool use_onednn(void) { return mn_onednn_available(MN_ONEDNN_BF16); }

bool mn_bf16_native(void) { return use_onednn(); }

#define FALLBACK "fallback: bf16 operands widened to float32, BLIS sgemm"

static char fallback_name[320];
static pthread_once_t name_once = PTHREAD_ONCE_INIT;

static void make_fallback_name(void)
{
    snprintf(fallback_name, sizeof fallback_name, FALLBACK " (%s)",
             mn_onednn_describe(MN_ONEDNN_BF16));
}

const char *mn_bf16_impl(void)
{
    if (use_onednn())
        return mn_onednn_describe(MN_ONEDNN_BF16);
    if (mn_onednn_forced_off(MN_ONEDNN_BF16))
        return FALLBACK " (forced)";
    pthread_once(&name_once, make_fallback_name);
    return fallback_name;
}

void mn_bf16_force_fallback(bool on) { mn_onednn_force_off(MN_ONEDNN_BF16, on); }

/* ---- the fallback: widen, then BLIS --------------------------------------------- */

/* A float32 copy of a bf16 view, contiguous row-major, in this thread's
 * scratch `slot`. */
static mn_status widen(mn_scratch_slot slot, const mn_bf16_mat *A, mn_mat *out)
{
    float *p;
    MN_TRY(mn_scratch_get(slot, (size_t)(A->rows * A->cols) * sizeof(float) + 1,
                          "bf16 product (a widened operand)", (void **)&p));
    for (int64_t r = 0; r < A->rows; r++) {
        const mn_bf16 *src = A->data + r * A->rs;
        float *dst = p + r * A->cols;
        if (A->cs == 1)
            for (int64_t c = 0; c < A->cols; c++)
                dst[c] = mn_bf16_to_f32(src[c]);
        else
            for (int64_t c = 0; c < A->cols; c++)
                dst[c] = mn_bf16_to_f32(src[c * A->cs]);
    }
    *out = mn_mat_view(MN_F32, p, A->rows, A->cols);
    return MN_OK;
}

static mn_status fallback_gemm(const mn_bf16_mat *A, const mn_bf16_mat *B, double beta, mn_mat *C,
                               int threads)
{
    mn_mat a, b;
    MN_TRY(widen(MN_SCRATCH_BF16_WIDE_A, A, &a));
    MN_TRY(widen(MN_SCRATCH_BF16_WIDE_B, B, &b));
    return mn_blas_gemm(1.0, &a, &b, beta, C, threads);
}

static mn_onednn_operand operand(const mn_bf16_mat *A)
{
    return (mn_onednn_operand){.rs = A->rs, .cs = A->cs, .data = A->data};
}

/* ---- the products ------------------------------------------------------------------- */

static bool unit_stride(int64_t rs, int64_t cs) { return rs == 1 || cs == 1; }

static mn_status check_gemm(const mn_bf16_mat *A, const mn_bf16_mat *B, double beta,
                            const mn_mat *C)
{
    if (!A || !B || !C || (!A->data && A->rows * A->cols != 0) ||
        (!B->data && B->rows * B->cols != 0) || (!C->data && C->rows * C->cols != 0))
        return mn_fail(MN_ERR_ARG, "bf16 product: NULL argument");
    if (C->dtype != MN_F32)
        return mn_fail(MN_ERR_SHAPE, "bf16 product: C is %s, must be float32",
                       mn_dtype_name(C->dtype));
    if (A->cols != B->rows || C->rows != A->rows || C->cols != B->cols)
        return mn_fail(MN_ERR_SHAPE, "bf16 product: A is %lldx%lld, B %lldx%lld, C %lldx%lld",
                       (long long)A->rows, (long long)A->cols, (long long)B->rows,
                       (long long)B->cols, (long long)C->rows, (long long)C->cols);
    if (A->rows < 0 || A->cols < 0 || B->cols < 0)
        return mn_fail(MN_ERR_SHAPE, "bf16 product: negative size");
    if (!unit_stride(A->rs, A->cs) || !unit_stride(B->rs, B->cs) || !unit_stride(C->rs, C->cs))
        return mn_fail(MN_ERR_SHAPE, "bf16 product: every operand needs a unit stride "
                                     "(row-major or a transpose view)");
    if (beta != 0.0 && beta != 1.0)
        return mn_fail(MN_ERR_ARG, "bf16 product: beta = %g, must be 0 or 1", beta);
    return MN_OK;
}

mn_status mn_bf16_gemm(const mn_bf16_mat *A, const mn_bf16_mat *B, double beta, mn_mat *C,
                       int threads)
{
    MN_TRY(check_gemm(A, B, beta, C));
    if (C->rows == 0 || C->cols == 0)
        return MN_OK;
    if (A->cols == 0) {
        if (beta == 0.0)
            mn_mat_fill(C, 0.0);
        return MN_OK;
    }
    mn_status st = mn_onednn_matmul(MN_ONEDNN_BF16, A->cols, operand(A), operand(B), beta != 0.0,
                                    C, threads);
    if (st != MN_ERR_UNSUPPORTED)
        return st;
    return fallback_gemm(A, B, beta, C, threads);
}

/* A compact bf16 copy of a float32 view with a unit stride, laid out as the
 * view is (rows contiguous, or columns), in this thread's scratch `slot`. */
static mn_status round_view(mn_scratch_slot slot, const mn_mat *A, const char *name, int threads,
                            mn_bf16_mat *out)
{
    if (!A || A->dtype != MN_F32 || (!A->data && A->rows * A->cols != 0))
        return mn_fail(MN_ERR_ARG, "bf16 product: %s must be a float32 view with data", name);
    if (!unit_stride(A->rs, A->cs))
        return mn_fail(MN_ERR_SHAPE, "bf16 product: %s needs a unit stride", name);
    bool by_rows = A->cs == 1;
    int64_t lines = by_rows ? A->rows : A->cols, len = by_rows ? A->cols : A->rows;
    int64_t ld = by_rows ? A->rs : A->cs;
    mn_bf16 *p;
    MN_TRY(mn_scratch_get(slot, (size_t)(lines * len) * sizeof(mn_bf16) + 1,
                          "bf16 product (a rounded operand)", (void **)&p));
    const float *src = A->data;
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(threads, lines * len))
    for (int64_t l = 0; l < lines; l++)
        mn_bf16_round_run(p + l * len, src + l * ld, len);
    mn_bf16_mat v = mn_bf16_view(p, lines, len);
    *out = by_rows ? v : mn_bf16_transpose(v);
    return MN_OK;
}

mn_status mn_bf16_gemm_rounded(const mn_mat *A, const mn_mat *B, double beta, mn_mat *C,
                               int threads)
{
    mn_bf16_mat a, b;
    MN_TRY(round_view(MN_SCRATCH_BF16_ROUND_A, A, "A", threads, &a));
    MN_TRY(round_view(MN_SCRATCH_BF16_ROUND_B, B, "B", threads, &b));
    return mn_bf16_gemm(&a, &b, beta, C, threads);
}

/* Row blocks of the triangle: about BLOCK_ROWS rows each, a multiple of 16. */
#define BLOCK_ROWS 256

static int64_t syrk_blocks(int64_t m) { return (m + BLOCK_ROWS - 1) / BLOCK_ROWS; }

static int64_t block_start(int64_t m, int64_t nb, int64_t i)
{
    if (i >= nb)
        return m;
    int64_t r = (m * i / nb + 8) / 16 * 16;
    return r < m ? r : m;
}

double mn_bf16_syrk_flops(int64_t m, int64_t k)
{
    if (!use_onednn())
        return (double)m * (double)(m + 1) * (double)k; /* BLIS ssyrk: the triangle */
    int64_t nb = syrk_blocks(m);
    double total = 0;
    for (int64_t i = 0; i < nb; i++) {
        int64_t r0 = block_start(m, nb, i), r1 = block_start(m, nb, i + 1);
        total += 2.0 * (double)(r1 - r0) * (double)r1 * (double)k;
    }
    return total;
}

mn_status mn_bf16_syrk(const mn_bf16_mat *A, mn_mat *C, int threads, bool *whole)
{
    bool w = false;
    if (!whole)
        whole = &w;
    *whole = false;
    if (!A || !C)
        return mn_fail(MN_ERR_ARG, "bf16 syrk: NULL argument");
    mn_bf16_mat at = mn_bf16_transpose(*A);
    if (C->rows != A->rows || C->cols != A->rows)
        return mn_fail(MN_ERR_SHAPE, "bf16 syrk: A is %lldx%lld, C %lldx%lld",
                       (long long)A->rows, (long long)A->cols, (long long)C->rows,
                       (long long)C->cols);
    MN_TRY(check_gemm(A, &at, 0.0, C));
    int64_t m = A->rows, k = A->cols;
    if (m == 0 || k == 0) {
        if (k == 0)
            mn_mat_fill(C, 0.0);
        *whole = true;
        return MN_OK;
    }
    if (!use_onednn()) {
        mn_mat a;
        MN_TRY(widen(MN_SCRATCH_BF16_WIDE_A, A, &a));
        return mn_blas_syrk_lower(1.0, &a, 0.0, C, threads);
    }
    /* Block i of rows [r0, r1): C[r0:r1, 0:r1] = A[r0:r1, :]·A[0:r1, :]ᵀ;
     * one block is the whole product. */
    int64_t nb = syrk_blocks(m);
    for (int64_t i = 0; i < nb; i++) {
        int64_t r0 = block_start(m, nb, i), r1 = block_start(m, nb, i + 1);
        mn_bf16_mat rows = {.rows = r1 - r0, .cols = k, .rs = A->rs, .cs = A->cs,
                            .data = A->data + r0 * A->rs};
        mn_bf16_mat top = {.rows = k, .cols = r1, .rs = A->cs, .cs = A->rs, .data = A->data};
        mn_mat c = *C;
        c.rows = r1 - r0;
        c.cols = r1;
        c.data = (float *)C->data + r0 * C->rs;
        MN_TRY(mn_bf16_gemm(&rows, &top, 0.0, &c, threads));
    }
    *whole = nb == 1;
    return MN_OK;
}

mn_status mn_bf16_syrk_lower(const mn_bf16_mat *A, mn_mat *C, int threads)
{
    return mn_bf16_syrk(A, C, threads, NULL);
}
