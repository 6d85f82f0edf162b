/* Internal: the one wrapper around LAPACK (through LAPACKE). Everything here
 * computes in double, whatever the input dtype: these are the exact
 * references the iterative methods are measured against. */
#ifndef MN_CORE_LAPACK_H
#define MN_CORE_LAPACK_H

#include "modnorm/tensor.h"

/* Both work on A·2^-e, with *e chosen so that the copy's largest |entry|
 * lies in [0.5, 1) (0 for a zero A): an exact scaling that keeps subnormal
 * entries (float64) and products near DBL_MAX inside double's range. The
 * singular values they return are those of A·2^-e: σ(A) = ldexp(s, *e),
 * which the caller forms once it has applied its own factors (σ_max of
 * finite entries can pass DBL_MAX). U and Vt are those of A itself. */

/* Singular values of A·2^-e (A is m x n), descending, into sv[min(m, n)]. */
mn_status mn_lapack_singular_values(const mn_mat *A, double *sv, int *e);

/* Thin SVD A·2^-e = U diag(s) Vt: on success U is (m, k), Vt (k, n) float64
 * matrices the caller frees with mn_mat_free, s has k = min(m, n) entries. */
mn_status mn_lapack_svd(const mn_mat *A, mn_mat *U, double *s, mn_mat *Vt, int *e);

#endif
