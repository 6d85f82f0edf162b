/* The single file that calls LAPACK (see lapack.h). */
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/blas.h"
#include "core/error.h"
#include "core/lapack.h"

/* LAPACK takes sizes as lapack_int (32 bits here): a larger one would be
 * cut short and describe a different matrix. */
static mn_status check_lapack_dims(const mn_mat *A)
{
    const int64_t max = sizeof(lapack_int) >= sizeof(int64_t) ? INT64_MAX : INT32_MAX;
    if (A->rows > max || A->cols > max)
        return mn_fail(MN_ERR_UNSUPPORTED, "SVD of a %lldx%lld matrix: LAPACK takes at most %lld "
                       "rows or columns", (long long)A->rows, (long long)A->cols, (long long)max);
    return MN_OK;
}

/* A contiguous float64 copy of A·2^-e (gesdd overwrites its input), e as in
 * lapack.h. Scaling by a power of two is exact for every entry that stays
 * normal; the only entries that lose bits are those below 2^-1022 of the
 * largest, which an SVD in double cannot see anyway. */
static mn_status copy_f64(const mn_mat *A, mn_mat *out, int *e)
{
    MN_TRY(check_lapack_dims(A));
    mn_blas_prepare(); /* LAPACK calls BLIS: choose its kernels first */
    MN_TRY(mn_mat_alloc(out, MN_F64, A->rows, A->cols));
    mn_status st = mn_mat_copy(out, A);
    if (st != MN_OK) {
        mn_mat_free(out);
        return st;
    }
    double *d = out->data, top = 0;
    int64_t n = A->rows * A->cols;
    for (int64_t i = 0; i < n; i++)
        top = fmax(top, fabs(d[i]));
    *e = 0;
    if (top == 0 || !isfinite(top))
        return MN_OK; /* nothing to scale; a NaN is the caller's to refuse */
    frexp(top, e);
    if (*e > -1000 && *e < 1000) {
        const double f = ldexp(1.0, -*e);
        for (int64_t i = 0; i < n; i++)
            d[i] *= f;
    } else { /* 2^-e itself is not a double */
        for (int64_t i = 0; i < n; i++)
            d[i] = ldexp(d[i], -*e);
    }
    return MN_OK;
}

mn_status mn_lapack_singular_values(const mn_mat *A, double *sv, int *e)
{
    int64_t k = A->rows < A->cols ? A->rows : A->cols;
    *e = 0;
    if (k == 0)
        return MN_OK;
    mn_mat a;
    MN_TRY(copy_f64(A, &a, e));
    /* U and Vt are not referenced for jobz = 'N', but LAPACKE still checks
     * their leading dimensions against the row-major shapes. */
    double dummy = 0;
    lapack_int ld = (lapack_int)(A->rows > A->cols ? A->rows : A->cols);
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', (lapack_int)A->rows,
                                     (lapack_int)A->cols, a.data, (lapack_int)A->cols, sv, &dummy,
                                     ld, &dummy, ld);
    mn_mat_free(&a);
    if (info != 0)
        return mn_fail(MN_ERR_NUMERIC, "dgesdd (singular values of %lldx%lld) failed: info = %d",
                       (long long)A->rows, (long long)A->cols, (int)info);
    return MN_OK;
}

mn_status mn_lapack_svd(const mn_mat *A, mn_mat *U, double *s, mn_mat *Vt, int *e)
{
    int64_t m = A->rows, n = A->cols, k = m < n ? m : n;
    mn_mat a;
    MN_TRY(copy_f64(A, &a, e));
    mn_status st = mn_mat_alloc(U, MN_F64, m, k);
    if (st == MN_OK)
        st = mn_mat_alloc(Vt, MN_F64, k, n);
    if (st != MN_OK) {
        mn_mat_free(&a);
        mn_mat_free(U);
        return st;
    }
    if (k > 0) {
        lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)m, (lapack_int)n,
                                         a.data, (lapack_int)n, s, U->data, (lapack_int)k,
                                         Vt->data, (lapack_int)n);
        if (info != 0) {
            mn_mat_free(&a);
            mn_mat_free(U);
            mn_mat_free(Vt);
            return mn_fail(MN_ERR_NUMERIC, "dgesdd (SVD of %lldx%lld) failed: info = %d",
                           (long long)m, (long long)n, (int)info);
        }
    }
    mn_mat_free(&a);
    return MN_OK;
}
