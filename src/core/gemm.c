/* mn_mat_gemm: the public matrix product, in either precision (tensor.h). */
#include "core/bf16.h"
#include "core/blas.h"
#include "core/check.h"
#include "core/error.h"

mn_status mn_mat_gemm(double alpha, const mn_mat *A, const mn_mat *B, double beta, mn_mat *C,
                      mn_precision precision, int threads)
{
    static const char fn[] = "mn_mat_gemm";
    MN_TRY(mn_check_mat(fn, "A", A));
    MN_TRY(mn_check_mat(fn, "B", B));
    MN_TRY(mn_check_mat(fn, "C", C));
    if (!mn_precision_name(precision))
        return mn_fail(MN_ERR_ARG, "%s: precision %d is neither fp32 nor bf16", fn,
                       (int)precision);
    if (precision == MN_PRECISION_FP32)
        return mn_blas_gemm(alpha, A, B, beta, C, threads);
    if (A->dtype != MN_F32 || B->dtype != MN_F32 || C->dtype != MN_F32)
        return mn_fail(MN_ERR_UNSUPPORTED, "%s: bf16 takes float32 operands", fn);
    if (alpha != 1.0 || (beta != 0.0 && beta != 1.0))
        return mn_fail(MN_ERR_UNSUPPORTED, "%s: bf16 needs alpha 1 and beta 0 or 1 (alpha %g, "
                       "beta %g)", fn, alpha, beta);
    return mn_bf16_gemm_rounded(A, B, beta, C, threads);
}
