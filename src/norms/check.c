/* mn_norm_check: the properties every norm's value, dual and lmo must have,
 * checked numerically on random matrices, so that a norm added from outside
 * the library can be tested the way tests/test_norms.c tests the built-in
 * ones. The LMO's defining identities are those of Bernstein & Newhouse,
 * "Old Optimizer, New Norm" (2024), §2: lmo(G) = argmax_{‖T‖≤1} ⟨G, T⟩, so
 * ‖lmo(G)‖ = 1 and ⟨G, lmo(G)⟩ = ‖G‖†. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "modnorm/norm.h"
#include "modnorm/rng.h"
#include "norms/vector.h"

#define FEASIBLE_TRIALS 24

typedef struct checker {
    const mn_norm *n;
    mn_dtype dt;
    double tol; /* rounding of one result: float32 3e-6, float64 1e-11 (10× where
                   it compounds) */
} checker;

static const char *shape_text(const mn_mat *G, char *buf, size_t cap)
{
    snprintf(buf, cap, "%lldx%lld %s", (long long)G->rows, (long long)G->cols,
             mn_dtype_name(G->dtype));
    return buf;
}

static double max_abs_diff(const mn_mat *A, const mn_mat *B)
{
    double m = 0;
    for (int64_t i = 0; i < A->rows; i++)
        for (int64_t j = 0; j < A->cols; j++)
            m = fmax(m, fabs(mn_mat_get(A, i, j) - mn_mat_get(B, i, j)));
    return m;
}

/* ⟨G, T⟩/‖T‖ must not exceed ‖G‖†: no point of the unit ball does better than
 * the lmo. */
static mn_status check_feasible(const checker *c, const mn_mat *G, const mn_mat *T, double dual,
                                const char *what)
{
    double nt, inner;
    MN_TRY(mn_norm_value(c->n, T, &nt));
    if (nt == 0)
        return MN_OK;
    MN_TRY(mn_mat_dot(G, T, &inner));
    double score = inner / nt;
    char s[64];
    if (score > dual * (1 + c->tol) + c->tol)
        return mn_fail(MN_ERR_ARG, "mn_norm_check: %s: a %s point T of the unit ball scores "
                       "<G, T> = %.10g above the dual norm %.10g (%s): the lmo is not the "
                       "maximizer, or value and dual are not a dual pair", c->n->name, what,
                       score, dual, shape_text(G, s, sizeof s));
    return MN_OK;
}

/* Gaussian, single-entry, sign and lmo-perturbed points of the ball. */
static mn_status check_no_better_point(const checker *c, const mn_mat *G, const mn_mat *L,
                                       double dual, mn_rng *r)
{
    mn_mat T;
    MN_TRY(mn_mat_alloc(&T, MN_F64, G->rows, G->cols));
    mn_status st = MN_OK;
    for (int t = 0; t < FEASIBLE_TRIALS && st == MN_OK; t++) {
        mn_rng_fill_normal(r, &T);
        st = check_feasible(c, G, &T, dual, "Gaussian");
        if (st != MN_OK)
            break;
        mn_mat_fill(&T, 0);
        mn_mat_set(&T, (int64_t)mn_rng_below(r, (uint64_t)G->rows),
                   (int64_t)mn_rng_below(r, (uint64_t)G->cols), mn_rng_normal(r));
        st = check_feasible(c, G, &T, dual, "single-entry");
        if (st != MN_OK)
            break;
        for (int64_t i = 0; i < T.rows; i++)
            for (int64_t j = 0; j < T.cols; j++)
                mn_mat_set(&T, i, j, mn_rng_uniform(r) < 0.5 ? -1 : 1);
        st = check_feasible(c, G, &T, dual, "sign-pattern");
        if (st != MN_OK)
            break;
        double eps = t % 2 ? 1e-1 : 1e-2; /* a local check around the lmo */
        for (int64_t i = 0; i < T.rows; i++)
            for (int64_t j = 0; j < T.cols; j++)
                mn_mat_set(&T, i, j, mn_mat_get(L, i, j) + eps * mn_rng_normal(r));
        st = check_feasible(c, G, &T, dual, "lmo-perturbed");
    }
    mn_mat_free(&T);
    return st;
}

/* lmo(G) computed three more ways must agree with L = lmo(G) into a separate
 * contiguous matrix: in place (out == G, as the solver calls it), on a
 * strided view (a transposed buffer, as Embed's weights are seen), and on
 * 8·G (the lmo depends on G's direction only). */
static mn_status check_same_lmo(const checker *c, const mn_mat *G, const mn_mat *L)
{
    const mn_norm *n = c->n;
    double bound = 10 * c->tol * fmax(1, mn_vec_norm(MN_VEC_LINF, L));
    char s[64];
    mn_mat A = {0}, B = {0}, Bt = {0};
    mn_status st = mn_mat_alloc(&A, G->dtype, G->rows, G->cols);
    if (st == MN_OK)
        st = mn_mat_alloc(&B, G->dtype, G->cols, G->rows);
    const char *how[3] = {"in place (out == G)", "on a strided view", "of 8·G"};
    const char *hint[3] = {"read all of G before writing out", "honour rs and cs",
                           "lmo(c·G) = lmo(G) for c > 0"};
    for (int k = 0; k < 3 && st == MN_OK; k++) {
        mn_mat *in = &A, *out = &A;
        if (k == 1) {
            Bt = mn_mat_transpose(B); /* rows x cols with column stride 1 */
            in = out = &Bt;
        }
        st = mn_mat_copy(in, G);
        if (st == MN_OK && k == 2)
            mn_mat_scale(in, 8);
        if (st == MN_OK)
            st = mn_norm_lmo(n, out, in, NULL);
        double d = st == MN_OK ? max_abs_diff(out, L) : 0;
        if (st == MN_OK && !(d <= bound))
            st = mn_fail(MN_ERR_ARG, "mn_norm_check: %s: lmo %s differs from lmo(G) by %.3g "
                         "(%s): %s", n->name, how[k], d, shape_text(G, s, sizeof s), hint[k]);
    }
    mn_mat_free(&A);
    mn_mat_free(&B);
    return st;
}

/* ‖−2A‖ = 2‖A‖ and ‖A + B‖ ≤ ‖A‖ + ‖B‖ on A = G, B = L (b = ‖L‖, measured). */
static mn_status check_norm_axioms(const checker *c, const mn_mat *G, const mn_mat *L, double b)
{
    mn_mat S;
    MN_TRY(mn_mat_alloc(&S, MN_F64, G->rows, G->cols));
    double a, sa, ab;
    mn_status st = mn_norm_value(c->n, G, &a);
    if (st == MN_OK)
        st = mn_mat_copy(&S, G);
    if (st == MN_OK) {
        mn_mat_scale(&S, -2);
        st = mn_norm_value(c->n, &S, &sa);
    }
    for (int64_t i = 0; st == MN_OK && i < S.rows; i++)
        for (int64_t j = 0; j < S.cols; j++)
            mn_mat_set(&S, i, j, mn_mat_get(G, i, j) + mn_mat_get(L, i, j));
    if (st == MN_OK)
        st = mn_norm_value(c->n, &S, &ab);
    char s[64];
    if (st == MN_OK && !(fabs(sa - 2 * a) <= 10 * c->tol * a))
        st = mn_fail(MN_ERR_ARG, "mn_norm_check: %s: ‖−2G‖ = %.10g but 2‖G‖ = %.10g (%s)",
                     c->n->name, sa, 2 * a, shape_text(G, s, sizeof s));
    else if (st == MN_OK && !(ab <= (a + b) * (1 + 10 * c->tol)))
        st = mn_fail(MN_ERR_ARG, "mn_norm_check: %s: ‖G + T‖ = %.10g exceeds ‖G‖ + ‖T‖ = %.10g "
                     "(%s): not a norm", c->n->name, ab, a + b, shape_text(G, s, sizeof s));
    mn_mat_free(&S);
    return st;
}

static mn_status check_one(const checker *c, const mn_mat *G, mn_rng *r)
{
    const mn_norm *n = c->n;
    char s[64];
    mn_mat L;
    MN_TRY(mn_mat_alloc(&L, G->dtype, G->rows, G->cols));
    double nl = NAN, dual = NAN, inner = NAN;
    mn_status st = mn_norm_lmo(n, &L, G, NULL);
    if (st == MN_OK)
        st = mn_norm_value(n, &L, &nl);
    if (st == MN_OK)
        st = mn_norm_dual(n, G, &dual);
    if (st == MN_OK)
        st = mn_mat_dot(G, &L, &inner);
    if (st == MN_OK && !(fabs(nl - 1) <= 10 * c->tol))
        st = mn_fail(MN_ERR_ARG, "mn_norm_check: %s: ‖lmo(G)‖ = %.10g, not 1 (%s)", n->name, nl,
                     shape_text(G, s, sizeof s));
    else if (st == MN_OK && !(fabs(inner - dual) <= 10 * c->tol * fmax(1, dual)))
        st = mn_fail(MN_ERR_ARG, "mn_norm_check: %s: <G, lmo(G)> = %.10g but the dual norm is "
                     "%.10g (%s)", n->name, inner, dual, shape_text(G, s, sizeof s));
    if (st == MN_OK)
        st = check_no_better_point(c, G, &L, dual, r);
    if (st == MN_OK)
        st = check_same_lmo(c, G, &L);
    if (st == MN_OK)
        st = check_norm_axioms(c, G, &L, nl);
    mn_mat_free(&L);
    return st;
}

/* A Gaussian matrix, or a rank-one one plus small noise (nearly tied singular
 * values and entries: where an lmo's tie-breaking and iterations are weakest). */
static mn_status fill_input(mn_mat *G, int kind, mn_rng *r)
{
    mn_rng_fill_normal(r, G);
    if (kind == 0)
        return MN_OK;
    double *u = malloc((size_t)(G->rows + G->cols) * sizeof *u), *v = u + G->rows;
    if (!u)
        return mn_fail(MN_ERR_NOMEM, "mn_norm_check: out of memory");
    for (int64_t i = 0; i < G->rows + G->cols; i++)
        u[i] = mn_rng_normal(r);
    for (int64_t i = 0; i < G->rows; i++)
        for (int64_t j = 0; j < G->cols; j++)
            mn_mat_set(G, i, j, u[i] * v[j] + 1e-3 * mn_mat_get(G, i, j));
    free(u);
    return MN_OK;
}

mn_status mn_norm_check(const mn_norm *n, int64_t rows, int64_t cols, uint64_t seed)
{
    if (!n)
        return mn_fail(MN_ERR_ARG, "mn_norm_check: the norm is NULL");
    if (rows < 1 || cols < 1 || rows > 4096 || cols > 4096)
        return mn_fail(MN_ERR_ARG, "mn_norm_check: the shape %lldx%lld is not in [1, 4096]²",
                       (long long)rows, (long long)cols);
    mn_rng r;
    mn_rng_seed(&r, seed);
    mn_status st = MN_OK;
    for (int dt = MN_F32; dt <= MN_F64 && st == MN_OK; dt++)
        for (int kind = 0; kind < 2 && st == MN_OK; kind++) {
            checker c = {.n = n, .dt = (mn_dtype)dt, .tol = dt == MN_F32 ? 3e-6 : 1e-11};
            mn_mat G;
            MN_TRY(mn_mat_alloc(&G, (mn_dtype)dt, rows, cols));
            st = fill_input(&G, kind, &r);
            if (st == MN_OK)
                st = check_one(&c, &G, &r);
            mn_mat_free(&G);
        }
    return st;
}
