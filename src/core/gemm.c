/* mn_mat_gemm: the public matrix product, in either precision (tensor.h);
 * its float32 route (gemm.h). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "core/bf16.h"
#include "core/blas.h"
#include "core/check.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/onednn.h"

static char blis_name[320];
static pthread_once_t name_once = PTHREAD_ONCE_INIT;

static void make_blis_name(void)
{
    snprintf(blis_name, sizeof blis_name, "BLIS (oneDNN: %s)",
             mn_onednn_describe(MN_ONEDNN_F32));
}

const char *mn_gemm_fp32_impl(void)
{
    if (mn_onednn_available(MN_ONEDNN_F32))
        return mn_onednn_describe(MN_ONEDNN_F32);
    if (mn_onednn_forced_off(MN_ONEDNN_F32))
        return "BLIS (oneDNN forced off)";
    pthread_once(&name_once, make_blis_name);
    return blis_name;
}

/* A layout oneDNN takes (onednn.h): positive strides, one of them 1, the
 * other at least the extent it steps over. Anything else (a broadcast or
 * an overlapping view) goes to BLIS. */
static bool plain(const mn_mat *A)
{
    if (A->rs < 1 || A->cs < 1)
        return false;
    if (A->cs == 1 && (A->rs >= A->cols || A->rows == 1))
        return true;
    return A->rs == 1 && (A->cs >= A->rows || A->cols == 1);
}

/* The view with the dense stride on a dimension of extent 1 beside a unit
 * stride (a 1 x n row gets rs = n, an n x 1 column cs = n). */
static mn_mat unit_strides(const mn_mat *v)
{
    mn_mat u = *v;
    if (u.rows == 1 && u.cs == 1)
        u.rs = u.cols;
    else if (u.cols == 1 && u.rs == 1)
        u.cs = u.rows;
    return u;
}

static mn_onednn_operand operand(const mn_mat *A)
{
    return (mn_onednn_operand){.rs = A->rs, .cs = A->cs, .data = A->data};
}

/* C = A·B (+ C) through oneDNN where it runs float32 (onednn.h): float32
 * views of a plain layout, alpha 1, beta 0 or 1, no size 0.
 * MN_ERR_UNSUPPORTED when it does not apply: BLIS runs the product. */
static mn_status onednn_f32(double alpha, const mn_mat *A, const mn_mat *B, double beta,
                            mn_mat *C, int threads)
{
    if (alpha != 1.0 || (beta != 0.0 && beta != 1.0) || A->dtype != MN_F32 ||
        B->dtype != MN_F32 || C->dtype != MN_F32 || !plain(A) || !plain(B) || !plain(C) ||
        A->rows < 1 || A->cols < 1 || B->cols < 1 || A->cols != B->rows ||
        C->rows != A->rows || C->cols != B->cols)
        return MN_ERR_UNSUPPORTED;
    /* A stride along a dimension of extent 1 is never stepped, and any value
     * is valid for mn_mat, but oneDNN failed to run a 1 x n C with strides
     * (1, 1): such a dimension gets the dense stride. */
    mn_mat a = unit_strides(A), b = unit_strides(B), c = unit_strides(C);
    return mn_onednn_matmul(MN_ONEDNN_F32, a.cols, operand(&a), operand(&b), beta != 0.0, &c,
                            threads);
}

/* ---- what C must not overlap ----------------------------------------------------------- */

/* The bytes [*lo, *hi) a view's entries span, whatever the signs of its
 * strides; false for a view without entries. */
static bool span(const mn_mat *v, uintptr_t *lo, uintptr_t *hi)
{
    if (v->rows < 1 || v->cols < 1)
        return false;
    int64_t size = (int64_t)mn_dtype_size(v->dtype), first = 0, last = 0;
    int64_t steps[2] = {(v->rows - 1) * v->rs, (v->cols - 1) * v->cs};
    for (int i = 0; i < 2; i++)
        *(steps[i] < 0 ? &first : &last) += steps[i];
    *lo = (uintptr_t)v->data + (uintptr_t)(first * size);
    *hi = (uintptr_t)v->data + (uintptr_t)((last + 1) * size);
    return true;
}

/* Whether two entries of C may share an address: along the smaller stride
 * a run must end before the larger stride begins the next (sufficient, not
 * necessary: interleavings like strides 3 and 2 over 2 x 2 are refused). */
static bool self_overlaps(const mn_mat *C)
{
    int64_t r = C->rs < 0 ? -C->rs : C->rs, c = C->cs < 0 ? -C->cs : C->cs;
    if (C->rows < 2 || C->cols < 2)
        return (C->rows > 1 && r == 0) || (C->cols > 1 && c == 0);
    return r <= c ? r == 0 || c < r * C->rows : c == 0 || r < c * C->cols;
}

static mn_status check_no_overlap(const char *fn, const mn_mat *A, const mn_mat *B,
                                  const mn_mat *C)
{
    if (self_overlaps(C))
        return mn_fail(MN_ERR_ARG, "%s: C (%lldx%lld, strides %lld, %lld) has entries that "
                       "share memory", fn, (long long)C->rows, (long long)C->cols,
                       (long long)C->rs, (long long)C->cs);
    uintptr_t c0, c1, x0, x1;
    if (!span(C, &c0, &c1))
        return MN_OK;
    const mn_mat *in[2] = {A, B};
    for (int i = 0; i < 2; i++)
        if (span(in[i], &x0, &x1) && x0 < c1 && c0 < x1)
            return mn_fail(MN_ERR_ARG, "%s: C's memory meets %s's: the product would read "
                           "entries it has overwritten", fn, i ? "B" : "A");
    return MN_OK;
}

mn_status mn_mat_gemm(double alpha, const mn_mat *A, const mn_mat *B, double beta, mn_mat *C,
                      mn_precision precision, int threads)
{
    static const char fn[] = "mn_mat_gemm";
    MN_TRY(mn_check_mat(fn, "A", A));
    MN_TRY(mn_check_mat(fn, "B", B));
    MN_TRY(mn_check_mat(fn, "C", C));
    MN_TRY(check_no_overlap(fn, A, B, C));
    if (!mn_precision_name(precision))
        return mn_fail(MN_ERR_ARG, "%s: precision %d is neither fp32 nor bf16", fn,
                       (int)precision);
    if (precision == MN_PRECISION_FP32) {
        mn_status st = onednn_f32(alpha, A, B, beta, C, threads);
        return st != MN_ERR_UNSUPPORTED ? st : mn_blas_gemm(alpha, A, B, beta, C, threads);
    }
    if (A->dtype != MN_F32 || B->dtype != MN_F32 || C->dtype != MN_F32)
        return mn_fail(MN_ERR_UNSUPPORTED, "%s: bf16 takes float32 operands", fn);
    if (alpha != 1.0 || (beta != 0.0 && beta != 1.0))
        return mn_fail(MN_ERR_UNSUPPORTED, "%s: bf16 needs alpha 1 and beta 0 or 1 (alpha %g, "
                       "beta %g)", fn, alpha, beta);
    return mn_bf16_gemm_rounded(A, B, beta, C, threads);
}
