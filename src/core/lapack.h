/* Internal: the one wrapper around LAPACK (through LAPACKE). Everything here
 * computes in double, whatever the input dtype: these are the exact
 * references the iterative methods are measured against. */
#ifndef MN_CORE_LAPACK_H
#define MN_CORE_LAPACK_H

#include "modnorm/tensor.h"

/* Singular values of A (m x n), descending, into sv[min(m, n)]. */
mn_status mn_lapack_singular_values(const mn_mat *A, double *sv);

/* Thin SVD A = U diag(s) Vt: on success U is (m, k), Vt (k, n) float64
 * matrices the caller frees with mn_mat_free, s has k = min(m, n) entries. */
mn_status mn_lapack_svd(const mn_mat *A, mn_mat *U, double *s, mn_mat *Vt);

#endif
