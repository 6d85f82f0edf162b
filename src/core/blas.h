/* Internal: the one wrapper around BLIS. Every BLIS call in modnorm goes
 * through this file's functions. Matrices are mn_mat views: row-major data is
 * passed with its strides (rs = cols, cs = 1) and a transpose is a view, so
 * nothing is copied. `threads` <= 0 means every online core, unless
 * BLIS_NUM_THREADS or OMP_NUM_THREADS is set (then BLIS decides). */
#ifndef MN_CORE_BLAS_H
#define MN_CORE_BLAS_H

#include "modnorm/tensor.h"

/* C = alpha·A·B + beta·C; A is (m, k), B is (k, n), C is (m, n), one dtype. */
mn_status mn_blas_gemm(double alpha, const mn_mat *A, const mn_mat *B, double beta, mn_mat *C,
                       int threads);

/* Lower triangle of C = alpha·A·Aᵀ + beta·C; A is (m, k), C is (m, m).
 * The strict upper triangle of C is left untouched. */
mn_status mn_blas_syrk_lower(double alpha, const mn_mat *A, double beta, mn_mat *C, int threads);

/* Lower triangle of C = alpha·A·B + beta·C where the product is known to be
 * symmetric (gemmt: half the flops of gemm). A is (m, k), B is (k, m). */
mn_status mn_blas_gemmt_lower(double alpha, const mn_mat *A, const mn_mat *B, double beta,
                              mn_mat *C, int threads);

/* C = alpha·A·B + beta·C with A symmetric, read from its lower triangle only
 * (the upper one may hold anything); A is (m, m), B and C (m, n). */
mn_status mn_blas_symm_lower(double alpha, const mn_mat *A, const mn_mat *B, double beta,
                             mn_mat *C, int threads);

/* The thread count a product of `work` multiply-adds runs on, given the
 * caller's `threads` (<= 0: the default above): 1 below 128³ multiply-adds;
 * 0 when BLIS_NUM_THREADS or OMP_NUM_THREADS is set and nothing was asked
 * (the library underneath decides). The bf16 backend follows the same rule. */
int mn_blas_threads(int threads, double work);

/* Choose BLIS's kernel set before BLIS initializes (done by every call
 * here; LAPACK's entry points call it too, since LAPACK reaches BLIS). */
void mn_blas_prepare(void);

/* Name of the kernel set BLIS uses on this CPU ("haswell", "skx", ...). */
const char *mn_blas_arch(void);
const char *mn_blas_version(void);
/* Why that kernel set: BLIS's own choice, the user's BLIS_ARCH_TYPE, or
 * modnorm's choice of skx on AVX-512 CPUs (made before BLIS initializes). */
const char *mn_blas_arch_reason(void);

#endif
