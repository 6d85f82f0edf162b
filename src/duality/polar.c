/* Polar factor by odd polynomial iteration, and the dualize entry point.
 *
 * For G (m x n) the iteration runs on the wide orientation X (k x N, k =
 * min(m, n)): a tall G is read through its transpose view, so the Gram
 * matrix A = X Xᵀ is the small k x k one. One step:
 *     A = X Xᵀ               (syrk: half the flops of a gemm)
 *     B = b·A + c·A²         (gemmt: A² is symmetric)
 *     X ← a·X + B·X          (gemm)                                       */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "core/error.h"
#include "core/typed.h"
#include "modnorm/polar.h"
#include "norms/spectral.h"
#include "norms/vector.h"

typedef struct {
    mn_mat X, Y;       /* k x N: iterates (direct form), X₀ and the result (Gram form) */
    mn_mat A, B;       /* k x k: Gram matrix and polynomial */
    mn_mat S, Q, T;    /* k x k: Gram form only (X₀X₀ᵀ, the polynomial Q, scratch) */
} workspace;

/* One grow-only buffer per thread, reused by every call: a training step
 * allocates nothing here after its first. A pthread key frees it when its
 * thread ends (sweeps run many training threads). */
typedef struct {
    void *buf;
    size_t bytes;
} thread_buffer;

static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;

static void thread_buffer_free(void *p)
{
    thread_buffer *tb = p;
    free(tb->buf);
    free(tb);
}

static void make_key(void) { pthread_key_create(&ws_key, thread_buffer_free); }

static mn_status workspace_get(workspace *w, mn_dtype dt, int64_t k, int64_t N)
{
    size_t es = mn_dtype_size(dt), kn = (size_t)(k * N), kk = (size_t)(k * k);
    size_t need = (2 * kn + 5 * kk) * es;
    pthread_once(&ws_once, make_key);
    thread_buffer *tb = pthread_getspecific(ws_key);
    if (!tb) {
        tb = calloc(1, sizeof *tb);
        if (!tb || pthread_setspecific(ws_key, tb) != 0) {
            free(tb);
            return mn_fail(MN_ERR_NOMEM, "polar: cannot allocate a workspace");
        }
    }
    if (need > tb->bytes) {
        void *p = realloc(tb->buf, need);
        if (!p)
            return mn_fail(MN_ERR_NOMEM, "polar: cannot allocate a %lldx%lld workspace",
                           (long long)k, (long long)N);
        tb->buf = p;
        tb->bytes = need;
    }
    char *p = tb->buf;
    w->X = mn_mat_view(dt, p, k, N);
    w->Y = mn_mat_view(dt, p + kn * es, k, N);
    w->A = mn_mat_view(dt, p + 2 * kn * es, k, k);
    w->B = mn_mat_view(dt, p + (2 * kn + kk) * es, k, k);
    w->S = mn_mat_view(dt, p + (2 * kn + 2 * kk) * es, k, k);
    w->Q = mn_mat_view(dt, p + (2 * kn + 3 * kk) * es, k, k);
    w->T = mn_mat_view(dt, p + (2 * kn + 4 * kk) * es, k, k);
    return MN_OK;
}

/* Copy the lower triangle of a contiguous square matrix onto its upper one. */
static void symmetrize_lower(mn_mat *C)
{
    MN_TYPED_ROWS(C, T, {
        T *c = C->data;
        int64_t n = C->rows;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = i + 1; j < n; j++)
                c[i * n + j] = c[j * n + i];
    });
}

/* B = b·A + c·A² on the full square (A symmetric, lower triangle valid;
 * A is symmetrized in place). */
static mn_status gram_polynomial(mn_mat *A, mn_mat *B, double b, double c, int threads)
{
    symmetrize_lower(A);
    if (c != 0.0)
        MN_TRY(mn_blas_gemmt_lower(c, A, A, 0.0, B, threads));
    else
        mn_mat_fill(B, 0.0);
    /* B's lower triangle += b·A's, then mirror it: one pass each. */
    MN_TYPED_ROWS(B, T, {
        T *bm = B->data;
        const T *am = A->data, bb = (T)b;
        int64_t n = B->rows;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j <= i; j++)
                bm[i * n + j] += bb * am[i * n + j];
    });
    symmetrize_lower(B);
    return MN_OK;
}

/* M += a·I on a contiguous square matrix. */
static void add_diagonal(mn_mat *M, double a)
{
    MN_TYPED_ROWS(M, T, {
        T *m = M->data;
        for (int64_t i = 0; i < M->rows; i++)
            m[i * M->rows + i] += (T)a;
    });
}

static const double *step_coeffs(const mn_polar_method *m, int s)
{
    return m->coeffs[s < m->n_coeffs ? s : m->n_coeffs - 1];
}

/* Direct form: X ← (a·I + b·A + c·A²)·X with A = X Xᵀ; the last step writes
 * into `out`. Per step k²N (syrk) + k³ (gemmt) + 2k²N (gemm) flops. */
static mn_status iterate_direct(const mn_polar_method *method, int steps, int threads,
                                workspace *w, mn_mat *out)
{
    for (int s = 0; s < steps; s++) {
        const double *abc = step_coeffs(method, s);
        MN_TRY(mn_blas_syrk_lower(1.0, &w->X, 0.0, &w->A, threads));
        MN_TRY(gram_polynomial(&w->A, &w->B, abc[1], abc[2], threads));
        add_diagonal(&w->B, abc[0]);
        mn_mat *dst = s == steps - 1 ? out : &w->Y;
        MN_TRY(mn_blas_gemm(1.0, &w->B, &w->X, 0.0, dst, threads));
        mn_mat tmp = w->X;
        w->X = w->Y;
        w->Y = tmp;
    }
    return steps == 0 ? mn_mat_copy(out, &w->X) : MN_OK;
}

/* Gram form: every iterate is Q·X₀ with Q a polynomial in S = X₀X₀ᵀ, so the
 * iteration runs on k x k matrices and one final product applies it:
 *     A = Q S Q,  B = b·A + c·A²,  Q ← a·Q + B·Q,   out = Q·X₀.
 * S, Q, A, B commute (all polynomials in S), so every product is symmetric
 * and computed as its lower triangle. Per step 2k³ + 3·k³ flops, plus k²N
 * for S and 2k²N at the end: fewer than the direct form once N ≳ 2k. */
static mn_status iterate_gram(const mn_polar_method *method, int steps, int threads, workspace *w,
                              mn_mat *out)
{
    MN_TRY(mn_blas_syrk_lower(1.0, &w->X, 0.0, &w->S, threads));
    symmetrize_lower(&w->S);
    for (int s = 0; s < steps; s++) {
        const double *abc = step_coeffs(method, s);
        if (s == 0) { /* Q = I: A = S and Q₁ = a·I + B */
            MN_TRY(mn_mat_copy(&w->A, &w->S));
            MN_TRY(gram_polynomial(&w->A, &w->Q, abc[1], abc[2], threads));
            add_diagonal(&w->Q, abc[0]);
            continue;
        }
        MN_TRY(mn_blas_gemm(1.0, &w->S, &w->Q, 0.0, &w->T, threads));        /* T = S Q */
        MN_TRY(mn_blas_gemmt_lower(1.0, &w->Q, &w->T, 0.0, &w->A, threads)); /* A = Q S Q */
        MN_TRY(gram_polynomial(&w->A, &w->B, abc[1], abc[2], threads));
        MN_TRY(mn_mat_copy(&w->T, &w->Q));                                   /* T = a·Q + B Q */
        MN_TRY(mn_blas_gemmt_lower(1.0, &w->B, &w->Q, abc[0], &w->T, threads));
        symmetrize_lower(&w->T);
        mn_mat tmp = w->Q;
        w->Q = w->T;
        w->T = tmp;
    }
    if (steps == 0)
        return mn_mat_copy(out, &w->X);
    return mn_blas_gemm(1.0, &w->Q, &w->X, 0.0, out, threads);
}

/* The Gram form does fewer flops when N ≥ 2k (see iterate_gram), but it is
 * not accurate enough on gradient-like inputs: Q grows like 1/σ_min and its
 * rounding reaches every direction of Q·X₀. Measured (tests/test_polar.c):
 * in float32, 2e-2 off the direct form on a 30x70 rank-3-plus-noise matrix
 * with ns5, against the 1e-3 gate; in float64 up to 1.3e-7 relative
 * (you6) where the direct form is ~1e-13; and with many steps it diverges
 * (cubic's 20 steps reach 1e18). AUTO therefore stays direct, and the Gram
 * form is refused beyond MN_GRAM_MAX_STEPS; it is here to be measured and
 * improved (e.g. Q accumulated in double, or restarted). */
#define MN_GRAM_MAX_STEPS 6

mn_status mn_polar(const mn_polar_method *method, int steps, int threads, mn_mat *out,
                   const mn_mat *G)
{
    return mn_polar_form_run(method, MN_POLAR_AUTO, steps, threads, out, G);
}

mn_status mn_polar_form_run(const mn_polar_method *method, mn_polar_form form, int steps,
                            int threads, mn_mat *out, const mn_mat *G)
{
    if (!method || !out || !G || !out->data || !G->data)
        return mn_fail(MN_ERR_ARG, "mn_polar: NULL argument");
    if (out->rows != G->rows || out->cols != G->cols || out->dtype != G->dtype)
        return mn_fail(MN_ERR_SHAPE, "mn_polar: out is %lldx%lld %s, G is %lldx%lld %s",
                       (long long)out->rows, (long long)out->cols, mn_dtype_name(out->dtype),
                       (long long)G->rows, (long long)G->cols, mn_dtype_name(G->dtype));
    if (G->rows < 1 || G->cols < 1)
        return mn_fail(MN_ERR_SHAPE, "mn_polar: G is %lldx%lld, needs at least one element",
                       (long long)G->rows, (long long)G->cols);
    if (steps < 0)
        return mn_fail(MN_ERR_ARG, "mn_polar: steps = %d is negative", steps);
    MN_TRY(mn_mat_check_finite(G, "the gradient"));
    double fro = mn_vec_norm(MN_VEC_L2, G);
    if (fro == 0) {
        mn_mat_fill(out, 0);
        return MN_OK;
    }
    if (method->n_coeffs == 0)
        return mn_spectral_polar_exact(out, G);

    /* Work on the wide orientation so that X Xᵀ is the small Gram matrix. */
    bool tall = G->rows > G->cols;
    mn_mat g = tall ? mn_mat_transpose(*G) : *G;
    mn_mat o = tall ? mn_mat_transpose(*out) : *out;
    workspace w;
    MN_TRY(workspace_get(&w, G->dtype, g.rows, g.cols));
    mn_mat_copy(&w.X, &g);
    mn_mat_scale(&w.X, 1.0 / (method->norm_slack * fro));
    int n = steps > 0 ? steps : method->default_steps;
    bool gram = form == MN_POLAR_GRAM;
    if (gram && n > MN_GRAM_MAX_STEPS)
        return mn_fail(MN_ERR_UNSUPPORTED, "polar: the Gram form is unstable beyond %d steps "
                       "(%s runs %d); use the direct form", MN_GRAM_MAX_STEPS, method->name, n);
    return gram ? iterate_gram(method, n, threads, &w, &o)
                : iterate_direct(method, n, threads, &w, &o);
}

static mn_status provide_polar(void *ctx, mn_mat *out, const mn_mat *G)
{
    const mn_dualize_opts *o = ctx;
    return mn_polar(o->method, o->steps, o->threads, out, G);
}

mn_status mn_dualize(const mn_norm *norm, const mn_dualize_opts *opts, mn_mat *out,
                     const mn_mat *G)
{
    if (!norm)
        return mn_fail(MN_ERR_ARG, "mn_dualize: norm is NULL");
    mn_dualize_opts o = opts ? *opts : (mn_dualize_opts){0};
    if (!o.method)
        o.method = mn_polar_default();
    mn_polar_provider provider = {provide_polar, &o};
    return mn_norm_lmo(norm, out, G, &provider);
}
