/* Exact spectral quantities (see spectral.h). */
#include <float.h>
#include <stdlib.h>

#include "core/blas.h"
#include "core/error.h"
#include "core/lapack.h"
#include "norms/spectral.h"

static int64_t min_dim(const mn_mat *A) { return A->rows < A->cols ? A->rows : A->cols; }

/* Singular values of A·2^-e into a fresh array the caller frees. */
static mn_status singular_values(const mn_mat *A, double **sv, int *e)
{
    int64_t k = min_dim(A);
    *sv = malloc((size_t)(k > 0 ? k : 1) * sizeof(double));
    if (!*sv)
        return mn_fail(MN_ERR_NOMEM, "singular values: out of memory");
    mn_status st = mn_lapack_singular_values(A, *sv, e);
    if (st != MN_OK) {
        free(*sv);
        *sv = NULL;
    }
    return st;
}

mn_status mn_spectral_values(const mn_mat *A, double **sv, int *e)
{
    return singular_values(A, sv, e);
}

mn_status mn_spectral_sigma_max(const mn_mat *A, double *m, int *e)
{
    double *sv;
    MN_TRY(singular_values(A, &sv, e));
    *m = min_dim(A) > 0 ? sv[0] : 0;
    free(sv);
    return MN_OK;
}

mn_status mn_spectral_nuclear(const mn_mat *A, double *m, int *e)
{
    double *sv;
    MN_TRY(singular_values(A, &sv, e));
    double s = 0;
    for (int64_t i = 0; i < min_dim(A); i++)
        s += sv[i];
    *m = s;
    free(sv);
    return MN_OK;
}

/* out = U[:, :r] · Vt[:r, :] in double, then stored in out's dtype. */
static mn_status product_of_leading(mn_mat *out, mn_mat *U, mn_mat *Vt, int64_t r)
{
    mn_mat P;
    MN_TRY(mn_mat_alloc(&P, MN_F64, out->rows, out->cols));
    mn_status st = MN_OK;
    if (r > 0) {
        mn_mat Ur = *U, Vr = *Vt;
        Ur.cols = r;
        Vr.rows = r;
        st = mn_blas_gemm(1.0, &Ur, &Vr, 0.0, &P, 0);
    }
    if (st == MN_OK)
        st = mn_mat_copy(out, &P);
    mn_mat_free(&P);
    return st;
}

/* out = U[:, :r] diag(w) Vt[:r, :] with w = weigh(s[:r]) (identity when
 * weigh is NULL), r the numerical rank of G capped at max_rank. */
static mn_status reweigh_rank(mn_mat *out, const mn_mat *G, int64_t max_rank,
                              void (*weigh)(double *s, int64_t r, void *ctx), void *ctx)
{
    int64_t k = min_dim(G);
    double *s = malloc((size_t)(k > 0 ? k : 1) * sizeof(double));
    if (!s)
        return mn_fail(MN_ERR_NOMEM, "polar (svd): out of memory");
    mn_mat U, Vt;
    int e; /* s is of G·2^-e; the rank test below is scale-free */
    mn_status st = mn_lapack_svd(G, &U, s, &Vt, &e);
    if (st != MN_OK) {
        free(s);
        return st;
    }
    double big = G->rows > G->cols ? (double)G->rows : (double)G->cols;
    /* Below this, a singular value is rounding noise of the input's dtype
     * (a float32 cross-entropy readout gradient has rank C−1 plus ~1e-9 noise). */
    double eps = G->dtype == MN_F32 ? FLT_EPSILON : DBL_EPSILON;
    double tol = k > 0 ? big * eps * s[0] : 0;
    int64_t r = 0;
    while (r < k && r < max_rank && s[r] > tol)
        r++;
    if (weigh && r > 0) {
        weigh(s, r, ctx);
        for (int64_t i = 0; i < r; i++) /* row i of Vt times w_i */
            for (int64_t j = 0; j < Vt.cols; j++)
                mn_mat_set(&Vt, i, j, s[i] * mn_mat_get(&Vt, i, j));
    }
    st = product_of_leading(out, &U, &Vt, r);
    mn_mat_free(&U);
    mn_mat_free(&Vt);
    free(s);
    return st;
}

mn_status mn_spectral_polar_exact(mn_mat *out, const mn_mat *G)
{
    return reweigh_rank(out, G, INT64_MAX, NULL, NULL);
}

mn_status mn_spectral_top_pair(mn_mat *out, const mn_mat *G)
{
    return reweigh_rank(out, G, 1, NULL, NULL);
}

mn_status mn_spectral_reweigh(mn_mat *out, const mn_mat *G,
                              void (*weigh)(double *s, int64_t r, void *ctx), void *ctx)
{
    return reweigh_rank(out, G, INT64_MAX, weigh, ctx);
}
