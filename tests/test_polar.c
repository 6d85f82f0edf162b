/* Polar-factor methods: the documented singular-value bands (checked on the
 * scalar polynomial map, which is what each singular value undergoes), fp32
 * and fp64 matrix outputs against that map and against SVD, on Gaussian,
 * low-rank-plus-noise and 1/k-spectrum matrices of every orientation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The scalar map of `steps` iterations applied to x = σ/‖G‖_F. */
static double scalar_map(const mn_polar_method *m, int steps, double x)
{
    x /= m->norm_slack;
    for (int s = 0; s < steps; s++) {
        const double *c = m->coeffs[s < m->n_coeffs ? s : m->n_coeffs - 1];
        double x2 = x * x;
        x = x * (c[0] + x2 * (c[1] + x2 * c[2]));
    }
    return x;
}

/* The table's band is the scalar map's range over [band_min_ratio, 1],
 * rounded outward by at most 1e-4. */
START_TEST(test_documented_bands_are_measured)
{
    for (size_t k = 0; k < mn_polar_count(); k++) {
        const mn_polar_method *m = mn_polar_at(k);
        if (m->n_coeffs == 0)
            continue;
        double lo = INFINITY, hi = -INFINITY;
        const int N = 400000;
        for (int i = 0; i <= N; i++) {
            double x = m->band_min_ratio * pow(1 / m->band_min_ratio, (double)i / N);
            double y = scalar_map(m, m->default_steps, x);
            lo = fmin(lo, y);
            hi = fmax(hi, y);
        }
        ck_assert_msg(m->band_lo <= lo && lo - m->band_lo <= 1e-4, "%s: band_lo %.6f, measured %.6f",
                      m->name, m->band_lo, lo);
        ck_assert_msg(m->band_hi >= hi && m->band_hi - hi <= 1e-4, "%s: band_hi %.6f, measured %.6f",
                      m->name, m->band_hi, hi);
        /* The supremum over every input: σ/‖G‖_F from 1e-12 to 1. */
        double sup = 0;
        for (int i = 0; i <= N; i++)
            sup = fmax(sup, scalar_map(m, m->default_steps, pow(1e-12, 1.0 - (double)i / N)));
        ck_assert_msg(m->sup >= sup && m->sup - sup <= 1e-4, "%s: sup %.6f, measured %.6f", m->name,
                      m->sup, sup);
    }
}
END_TEST

/* An input singular value's ratio σ/‖G‖_F and where the scalar map takes it. */
typedef struct {
    double ratio, out;
} mapped;

static int cmp_desc(const void *a, const void *b)
{
    double x = ((const mapped *)a)->out, y = ((const mapped *)b)->out;
    return (x < y) - (x > y);
}

/* Output singular values equal the scalar map of the input's (sorted), to a
 * tolerance that reflects fp32 rounding through the steps. The map is not
 * monotone (a tiny σ can land above a large one's image), so each output is
 * paired with the input it came from when the band is checked. */
static void check_against_scalar_map(const mn_polar_method *m, const mn_mat *G, const mn_mat *X,
                                     const char *what)
{
    int64_t k = G->rows < G->cols ? G->rows : G->cols;
    double *sg = tm_singular_values(G), *sx = tm_singular_values(X);
    double fro = 0;
    for (int64_t i = 0; i < k; i++)
        fro += sg[i] * sg[i];
    fro = sqrt(fro);
    mapped *expect = malloc((size_t)k * sizeof *expect);
    for (int64_t i = 0; i < k; i++)
        expect[i] = (mapped){sg[i] / fro, fabs(scalar_map(m, m->default_steps, sg[i] / fro))};
    qsort(expect, (size_t)k, sizeof *expect, cmp_desc);
    double tol = X->dtype == MN_F32 ? 2e-3 : 1e-9;
    for (int64_t i = 0; i < k; i++) {
        ck_assert_msg(fabs(sx[i] - expect[i].out) <= tol,
                      "%s on %s %lldx%lld %s: σ_%lld = %.6f, scalar map gives %.6f", m->name, what,
                      (long long)G->rows, (long long)G->cols, mn_dtype_name(G->dtype), (long long)i,
                      sx[i], expect[i].out);
        ck_assert_msg(sx[i] <= m->sup + tol, "%s on %s: σ = %.6f above sup %.4f", m->name, what,
                      sx[i], m->sup);
        if (expect[i].ratio >= m->band_min_ratio)
            ck_assert_msg(sx[i] >= m->band_lo - tol && sx[i] <= m->band_hi + tol,
                          "%s on %s: σ = %.6f outside band [%.4f, %.4f]", m->name, what, sx[i],
                          m->band_lo, m->band_hi);
    }
    free(expect);
    free(sg);
    free(sx);
}

START_TEST(test_iterations_follow_scalar_map)
{
    static const int64_t shapes[][2] = {{48, 48}, {30, 70}, {70, 30}, {1, 20}, {20, 1}};
    for (size_t k = 0; k < mn_polar_count(); k++) {
        const mn_polar_method *m = mn_polar_at(k);
        if (m->n_coeffs == 0)
            continue;
        for (size_t s = 0; s < 5; s++)
            for (int kind = TM_GAUSSIAN; kind <= TM_POWER_LAW; kind++)
                for (int dt = MN_F32; dt <= MN_F64; dt++) {
                    mn_mat G = tm_make((tm_kind)kind, (mn_dtype)dt, shapes[s][0], shapes[s][1],
                                       77 + s + 10 * (uint64_t)kind);
                    mn_mat X;
                    ck_assert_ok(mn_mat_alloc(&X, G.dtype, G.rows, G.cols));
                    ck_assert_ok(mn_polar(m, 0, 0, &X, &G));
                    check_against_scalar_map(m, &G, &X, tm_kind_name((tm_kind)kind));
                    mn_mat_free(&X);
                    mn_mat_free(&G);
                }
    }
}
END_TEST

/* ‖X − UVᵀ‖_F / ‖UVᵀ‖_F for a well-conditioned Gaussian input stays within
 * what the band allows, and the singular vectors are SVD's. */
START_TEST(test_iterations_against_svd)
{
    const mn_polar_method *svd;
    ck_assert_ok(mn_polar_lookup("svd", &svd));
    mn_mat G = tm_make(TM_GAUSSIAN, MN_F32, 40, 90, 5);
    mn_mat P, X;
    ck_assert_ok(mn_mat_alloc(&P, MN_F32, 40, 90));
    ck_assert_ok(mn_mat_alloc(&X, MN_F32, 40, 90));
    ck_assert_ok(mn_polar(svd, 0, 0, &P, &G));
    for (size_t k = 0; k < mn_polar_count(); k++) {
        const mn_polar_method *m = mn_polar_at(k);
        if (m->n_coeffs == 0)
            continue;
        ck_assert_ok(mn_polar(m, 0, 0, &X, &G));
        double num = 0, den = 0;
        for (int64_t i = 0; i < 40; i++)
            for (int64_t j = 0; j < 90; j++) {
                double d = mn_mat_get(&X, i, j) - mn_mat_get(&P, i, j);
                num += d * d;
                den += mn_mat_get(&P, i, j) * mn_mat_get(&P, i, j);
            }
        double err = sqrt(num / den);
        double bound = fmax(1 - m->band_lo, m->band_hi - 1) + 1e-3;
        ck_assert_msg(err <= bound, "%s: polar_err %.5f > %.5f", m->name, err, bound);
        /* Directions agree: <X, P> / (‖X‖‖P‖) near 1 (the error is in the scale only). */
        double xp = 0, xx = 0;
        for (int64_t i = 0; i < 40; i++)
            for (int64_t j = 0; j < 90; j++) {
                xp += mn_mat_get(&X, i, j) * mn_mat_get(&P, i, j);
                xx += mn_mat_get(&X, i, j) * mn_mat_get(&X, i, j);
            }
        ck_assert_double_ge(xp / sqrt(xx * den), 0.95);
    }
    mn_mat_free(&G);
    mn_mat_free(&P);
    mn_mat_free(&X);
}
END_TEST

/* The exact method: U Vᵀ with orthonormal rows (wide) or columns (tall). */
START_TEST(test_svd_is_exact)
{
    const mn_polar_method *svd;
    ck_assert_ok(mn_polar_lookup("svd", &svd));
    for (int dt = MN_F32; dt <= MN_F64; dt++) {
        mn_mat G = tm_make(TM_POWER_LAW, (mn_dtype)dt, 25, 10, 9);
        mn_mat P;
        ck_assert_ok(mn_mat_alloc(&P, G.dtype, 25, 10));
        ck_assert_ok(mn_polar(svd, 0, 0, &P, &G));
        double *sv = tm_singular_values(&P);
        for (int i = 0; i < 10; i++)
            ck_assert_double_eq_tol(sv[i], 1, dt == MN_F32 ? 1e-6 : 1e-13);
        free(sv);
        mn_mat_free(&P);
        mn_mat_free(&G);
    }
}
END_TEST

/* Rank-deficient input: the zero singular values stay zero (as in every
 * iteration), so the exact factor matches the iterations' limit. */
START_TEST(test_rank_deficient)
{
    double g[] = {1, 2, 3, 2, 4, 6, -1, -2, -3}; /* rank 1 */
    mn_mat G = mn_mat_view(MN_F64, g, 3, 3);
    double p[9];
    mn_mat P = mn_mat_view(MN_F64, p, 3, 3);
    const mn_polar_method *m;
    ck_assert_ok(mn_polar_lookup("svd", &m));
    ck_assert_ok(mn_polar(m, 0, 0, &P, &G));
    double *sv = tm_singular_values(&P);
    ck_assert_double_eq_tol(sv[0], 1, 1e-12);
    ck_assert_double_eq_tol(sv[1], 0, 1e-12);
    free(sv);
    /* u₁v₁ᵀ = G / σ for a rank-1 G. */
    double sigma = sqrt(14.0 * 6.0);
    for (int i = 0; i < 9; i++)
        ck_assert_double_eq_tol(p[i], g[i] / sigma, 1e-12);
}
END_TEST

START_TEST(test_zero_nan_and_errors)
{
    for (size_t k = 0; k < mn_polar_count(); k++) {
        const mn_polar_method *m = mn_polar_at(k);
        mn_mat Z, O;
        ck_assert_ok(mn_mat_alloc(&Z, MN_F32, 5, 3));
        ck_assert_ok(mn_mat_alloc(&O, MN_F32, 5, 3));
        mn_mat_fill(&O, 1);
        ck_assert_ok(mn_polar(m, 0, 0, &O, &Z));
        ck_assert(mn_mat_is_zero(&O));
        mn_mat_set(&Z, 4, 2, NAN);
        ck_assert_int_eq(mn_polar(m, 0, 0, &O, &Z), MN_ERR_NONFINITE);
        mn_mat_free(&Z);
        mn_mat_free(&O);
    }
    const mn_polar_method *m;
    ck_assert_int_eq(mn_polar_lookup("newton", &m), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "polar-express"));
    /* A NULL name is said to be one, as mn_norm_lookup says it, not "(null)". */
    m = mn_polar_default();
    ck_assert_int_eq(mn_polar_lookup(NULL, &m), MN_ERR_ARG);
    ck_assert_ptr_null(m);
    ck_assert_str_eq(mn_last_error(), "polar method name is NULL");
    mn_mat A, B;
    ck_assert_ok(mn_mat_alloc(&A, MN_F32, 4, 4));
    ck_assert_ok(mn_mat_alloc(&B, MN_F32, 4, 5));
    ck_assert_int_eq(mn_polar(mn_polar_default(), 0, 0, &B, &A), MN_ERR_SHAPE);
    mn_mat_free(&A);
    mn_mat_free(&B);
}
END_TEST

/* Careless matrices: NULL data, a dtype outside the enum (read as float64
 * before) are refused naming the argument, for both precisions and the batch. */
START_TEST(test_bad_matrices_refused)
{
    float v[6] = {1, 2, 3, 4, 5, 6}, w[6];
    mn_mat G = mn_mat_view(MN_F32, v, 2, 3), out = mn_mat_view(MN_F32, w, 2, 3), bad = G,
           nodata = G;
    bad.dtype = (mn_dtype)7;
    nodata.data = NULL;
    const mn_polar_method *ns5;
    ck_assert_ok(mn_polar_lookup("ns5", &ns5));
    for (int p = 0; p < 2; p++) {
        mn_dualize_opts o = {.method = ns5, .precision = (mn_precision)p, .threads = 1};
        ck_assert_refused(mn_polar_run(&o, &out, &bad), MN_ERR_ARG, "mn_polar: G has dtype 7");
        ck_assert_refused(mn_polar_run(&o, &bad, &G), MN_ERR_ARG, "mn_polar: out has dtype 7");
        ck_assert_refused(mn_polar_run(&o, &out, &nodata), MN_ERR_ARG, "G's data is NULL");
        ck_assert_refused(mn_polar_run(&o, &out, NULL), MN_ERR_ARG, "mn_polar: G is NULL");
        ck_assert_refused(mn_polar_batch_run(&o, 1, &out, &bad), MN_ERR_ARG, "G[0] has dtype 7");
    }
    ck_assert_refused(mn_polar(NULL, 0, 1, &out, &G), MN_ERR_ARG, "the method is NULL");
    mn_mat two_out[2] = {out, out}, two_G[2] = {G, bad};
    ck_assert_refused(mn_polar_batch_run(NULL, 2, two_out, two_G), MN_ERR_ARG, "G[1] has dtype");
    mn_polar_plan plan;
    ck_assert_refused(mn_polar_plan_for(NULL, 2, 3, (mn_dtype)7, &plan), MN_ERR_ARG, "dtype 7");
    double err;
    ck_assert_refused(mn_bench_polar_error(&nodata, &G, 1, &err), MN_ERR_ARG, "X's data is NULL");
}
END_TEST

/* Steps are bounded (MN_POLAR_MAX_STEPS): INT32_MAX steps on a 2 x 3 matrix
 * ran until killed. The bound is checked before any work, for every entry
 * point, both precisions, an explicit count and a method's default. */
START_TEST(test_steps_bounded)
{
    float v[6] = {1, 2, 3, 4, 5, 6}, w[6];
    mn_mat G = mn_mat_view(MN_F32, v, 2, 3), out = mn_mat_view(MN_F32, w, 2, 3);
    const mn_polar_method *ns5;
    ck_assert_ok(mn_polar_lookup("ns5", &ns5));
    ck_assert_ok(mn_polar(ns5, MN_POLAR_MAX_STEPS, 1, &out, &G)); /* the bound itself runs */
    const char *why = "steps = 1001 must be in [0, 1000]";
    ck_assert_refused(mn_polar(ns5, MN_POLAR_MAX_STEPS + 1, 1, &out, &G), MN_ERR_ARG, why);
    ck_assert_refused(mn_polar_form_run(ns5, MN_POLAR_GRAM, 1001, 1, &out, &G), MN_ERR_ARG, why);
    for (int p = 0; p < 2; p++) {
        mn_dualize_opts o = {.method = ns5, .steps = 1001, .precision = (mn_precision)p};
        ck_assert_refused(mn_polar_run(&o, &out, &G), MN_ERR_ARG, why);
        ck_assert_refused(mn_polar_batch_run(&o, 1, &out, &G), MN_ERR_ARG, why);
        mn_polar_plan plan;
        ck_assert_refused(mn_polar_plan_for(&o, 2, 3, MN_F32, &plan), MN_ERR_ARG, why);
        o.steps = -1;
        ck_assert_refused(mn_polar_plan_for(&o, 2, 3, MN_F32, &plan), MN_ERR_ARG, "steps = -1");
        o.steps = INT32_MAX;
        ck_assert_refused(mn_polar_run(&o, &out, &G), MN_ERR_ARG, "must be in [0, 1000]");
    }
    /* also where the norm takes no polar factor, and for the exact method */
    const mn_norm *fro;
    ck_assert_ok(mn_norm_lookup("frobenius", &fro));
    mn_dualize_opts o = {.method = ns5, .steps = 1001};
    ck_assert_refused(mn_dualize(fro, &o, &out, &G), MN_ERR_ARG, why);
    ck_assert_refused(mn_polar(mn_polar_default(), 1001, 1, &out, &G), MN_ERR_ARG, why);
    /* a method not registered: its default steps too */
    mn_polar_method long_ns5 = *ns5;
    long_ns5.name = "ns5-long";
    long_ns5.default_steps = INT32_MAX;
    ck_assert_refused(mn_polar(&long_ns5, 0, 1, &out, &G), MN_ERR_ARG, "default_steps");
    o.method = &long_ns5;
    o.steps = 0;
    o.precision = MN_PRECISION_BF16;
    ck_assert_refused(mn_polar_run(&o, &out, &G), MN_ERR_ARG, "default_steps");
    long_ns5.default_steps = 1001;
    ck_assert_refused(mn_polar_register(&long_ns5), MN_ERR_ARG, "default_steps 1001");
    long_ns5.default_steps = 5;
    long_ns5.coeffs = NULL;
    ck_assert_refused(mn_polar(&long_ns5, 0, 1, &out, &G), MN_ERR_ARG, "coeffs NULL");
}
END_TEST

/* The two evaluation forms give the same polynomial: for every method
 * (cubic's 20 steps included: the Gram form restarts), every input kind and
 * both orientations, within 2e-4 of the largest entry in float32 (gradient-
 * like inputs are the hard case: without restarts ns5 is 4e-4 off and
 * cubic 2e-2) and 1e-10 in float64. */
START_TEST(test_gram_form_matches_direct)
{
    static const int64_t shapes[][2] = {{20, 90}, {90, 20}, {33, 70}, {64, 256}};
    for (size_t k = 0; k < mn_polar_count(); k++) {
        const mn_polar_method *m = mn_polar_at(k);
        if (m->n_coeffs == 0)
            continue;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int kind = TM_GAUSSIAN; kind <= TM_POWER_LAW; kind++)
                for (int dt = MN_F32; dt <= MN_F64; dt++) {
                    mn_mat G = tm_make((tm_kind)kind, (mn_dtype)dt, shapes[s][0], shapes[s][1],
                                       300 + s + 10 * (uint64_t)kind);
                    mn_mat D, R;
                    ck_assert_ok(mn_mat_alloc(&D, G.dtype, G.rows, G.cols));
                    ck_assert_ok(mn_mat_alloc(&R, G.dtype, G.rows, G.cols));
                    ck_assert_ok(mn_polar_form_run(m, MN_POLAR_DIRECT, 0, 0, &D, &G));
                    ck_assert_ok(mn_polar_form_run(m, MN_POLAR_GRAM, 0, 0, &R, &G));
                    double diff = tm_max_abs_diff(&D, &R), scale = 0;
                    for (int64_t i = 0; i < D.rows; i++)
                        for (int64_t j = 0; j < D.cols; j++)
                            scale = fmax(scale, fabs(mn_mat_get(&D, i, j)));
                    ck_assert_msg(diff <= (dt == MN_F32 ? 2e-4 : 1e-10) * scale,
                                  "%s %s %s %lldx%lld: Gram form off by %.3g (scale %.3g)",
                                  m->name, tm_kind_name((tm_kind)kind), mn_dtype_name(G.dtype),
                                  (long long)G.rows, (long long)G.cols, diff, scale);
                    mn_mat_free(&D);
                    mn_mat_free(&R);
                    mn_mat_free(&G);
                }
    }
}
END_TEST

/* G · c scaled copy (c a power of ten: exact up to float rounding). */
static mn_mat scaled_copy(const mn_mat *G, double c)
{
    mn_mat S;
    ck_assert_ok(mn_mat_alloc(&S, G->dtype, G->rows, G->cols));
    ck_assert_ok(mn_mat_copy(&S, G));
    mn_mat_scale(&S, c);
    return S;
}

/* The iterations read G itself, its norm from the Gram matrix's trace, and
 * write in place through a scratch copy when they must: in place gives the
 * out-of-place result exactly, for 1 and the default steps, both forms and
 * both orientations. Scaling G changes nothing: within the trace's range
 * (float32 ×1e15, float64 ×1e100) and beyond it, where the careful path
 * (‖G‖_F in double, a scaled copy) takes over (float32: ×1e-30, whose squares
 * underflow, and ×1e20, whose squares overflow; float64: ×1e-200, ×1e160). */
START_TEST(test_in_place_and_extreme_scales)
{
    static const int64_t shapes[][2] = {{20, 90}, {90, 20}, {33, 33}};
    static const double scales[2][3] = {{1e-30, 1e15, 1e20}, {1e-200, 1e100, 1e160}};
    static const int steps[] = {1, 0 /* the method's default */};
    mn_polar_form forms[] = {MN_POLAR_DIRECT, MN_POLAR_GRAM};
    for (size_t k = 0; k < mn_polar_count(); k++) {
        const mn_polar_method *m = mn_polar_at(k);
        if (m->n_coeffs == 0)
            continue;
        for (size_t s = 0; s < 3; s++)
            for (int dt = MN_F32; dt <= MN_F64; dt++)
                for (int f = 0; f < 2; f++)
                    for (int st = 0; st < 2; st++) {
                        int n = steps[st];
                        mn_mat G = tm_make(TM_POWER_LAW, (mn_dtype)dt, shapes[s][0],
                                           shapes[s][1], 500 + s);
                        mn_mat R, W = scaled_copy(&G, 1.0);
                        ck_assert_ok(mn_mat_alloc(&R, G.dtype, G.rows, G.cols));
                        ck_assert_ok(mn_polar_form_run(m, forms[f], n, 0, &R, &G));
                        ck_assert_ok(mn_polar_form_run(m, forms[f], n, 0, &W, &W));
                        ck_assert_msg(tm_max_abs_diff(&R, &W) == 0,
                                      "%s %s %lldx%lld form %d steps %d: in place differs by %.3g",
                                      m->name, mn_dtype_name(G.dtype), (long long)G.rows,
                                      (long long)G.cols, f, n, tm_max_abs_diff(&R, &W));
                        double top = 0;
                        for (int64_t i = 0; i < R.rows; i++)
                            for (int64_t j = 0; j < R.cols; j++)
                                top = fmax(top, fabs(mn_mat_get(&R, i, j)));
                        for (int c = 0; c < 3; c++) {
                            mn_mat S = scaled_copy(&G, scales[dt == MN_F64][c]);
                            ck_assert_ok(mn_polar_form_run(m, forms[f], n, 0, &W, &S));
                            double diff = tm_max_abs_diff(&R, &W);
                            ck_assert_msg(diff <= (dt == MN_F32 ? 1e-4 : 1e-10) * top,
                                          "%s %s ×%g form %d steps %d: off by %.3g (scale %.3g)",
                                          m->name, mn_dtype_name(G.dtype),
                                          scales[dt == MN_F64][c], f, n, diff, top);
                            mn_mat_free(&S);
                        }
                        mn_mat_free(&R);
                        mn_mat_free(&W);
                        mn_mat_free(&G);
                    }
        /* A method whose default is zero steps returns X₀ = G / (slack·‖G‖_F),
         * in place too. */
        mn_polar_method none = *m;
        none.default_steps = 0;
        mn_mat G = tm_make(TM_GAUSSIAN, MN_F64, 6, 9, 7), X, W = scaled_copy(&G, 1.0);
        ck_assert_ok(mn_mat_alloc(&X, MN_F64, 6, 9));
        double fro = 0;
        for (int64_t i = 0; i < 6; i++)
            for (int64_t j = 0; j < 9; j++)
                fro += mn_mat_get(&G, i, j) * mn_mat_get(&G, i, j);
        fro = sqrt(fro);
        for (int f = 0; f < 2; f++) {
            ck_assert_ok(mn_polar_form_run(&none, forms[f], 0, 0, &X, &G));
            for (int64_t i = 0; i < 6; i++)
                for (int64_t j = 0; j < 9; j++)
                    ck_assert_double_eq_tol(mn_mat_get(&X, i, j),
                                            mn_mat_get(&G, i, j) / (m->norm_slack * fro), 1e-14);
        }
        ck_assert_ok(mn_polar_form_run(&none, MN_POLAR_AUTO, 0, 0, &W, &W));
        ck_assert(tm_max_abs_diff(&W, &X) <= 1e-15);
        mn_mat_free(&X);
        mn_mat_free(&W);
        mn_mat_free(&G);
    }
}
END_TEST

/* The flop counts follow the schedule: ns5's direct form does 3k²N + k³ per
 * step; its Gram form in float32 restarts once, before step 4 (a² = 11.86 per
 * step, restart once the gain would pass 6e-4/ε = 5033), for
 * S 4k³ + steps (3 + 4 + 2) k³ + restart 12k³ + steps (3 + 2) k³ + Q·X₀ 8k³
 * = 38k³ on k x 4k. In float64 it never restarts: 4 + 3 + 4·3 + 2 + 8 = 29k³.
 * AUTO takes the Gram form there and the direct form on squares. */
START_TEST(test_polar_flops_and_form_choice)
{
    const mn_polar_method *ns5;
    ck_assert_ok(mn_polar_lookup("ns5", &ns5));
    double k3 = 256.0 * 256 * 256;
    ck_assert_double_eq(mn_polar_flops(ns5, MN_POLAR_DIRECT, 0, 256, 1024, MN_F32), 5 * 13 * k3);
    ck_assert_double_eq(mn_polar_flops(ns5, MN_POLAR_DIRECT, 0, 1024, 256, MN_F32), 5 * 13 * k3);
    ck_assert_double_eq(mn_polar_flops(ns5, MN_POLAR_GRAM, 0, 256, 1024, MN_F32), 38 * k3);
    ck_assert_double_eq(mn_polar_flops(ns5, MN_POLAR_GRAM, 0, 256, 1024, MN_F64), 29 * k3);
    ck_assert_int_eq(mn_polar_form_for(ns5, 0, 1024, 4096, MN_F32), MN_POLAR_GRAM);
    ck_assert_int_eq(mn_polar_form_for(ns5, 0, 4096, 1024, MN_F32), MN_POLAR_GRAM);
    ck_assert_int_eq(mn_polar_form_for(ns5, 0, 768, 768, MN_F32), MN_POLAR_DIRECT);
    /* 1024 x 784: the Gram form does 0.886 of the flops; AUTO takes it from
     * k = 384 up, not below (200 x 256 does the same share). */
    ck_assert_int_eq(mn_polar_form_for(ns5, 0, 1024, 784, MN_F32), MN_POLAR_GRAM);
    ck_assert_int_eq(mn_polar_form_for(ns5, 0, 256, 200, MN_F32), MN_POLAR_DIRECT);
    ck_assert_int_eq(mn_polar_form_for(ns5, 0, 512, 600, MN_F32), MN_POLAR_DIRECT);
    ck_assert_int_eq(mn_polar_form_for(ns5, 0, 200, 400, MN_F32), MN_POLAR_GRAM);
    ck_assert_double_eq(mn_polar_flops(ns5, MN_POLAR_AUTO, 0, 256, 1024, MN_F32), 38 * k3);
    const mn_polar_method *svd;
    ck_assert_ok(mn_polar_lookup("svd", &svd));
    ck_assert_double_eq(mn_polar_flops(svd, MN_POLAR_AUTO, 0, 256, 1024, MN_F32), 0);
}
END_TEST

/* cubic needs ~20 steps to lift σ/‖G‖_F = 1e-3: fewer steps leave it small. */
START_TEST(test_cubic_step_count)
{
    const mn_polar_method *m;
    ck_assert_ok(mn_polar_lookup("cubic", &m));
    ck_assert_double_ge(scalar_map(m, 20, 1e-3), 0.9999);
    ck_assert_double_le(scalar_map(m, 12, 1e-3), 0.2);
}
END_TEST

/* mn_dualize: spectral norms use the chosen method and the norm's scale;
 * explicit step counts are honoured; the default is the exact method. */
START_TEST(test_dualize_uses_method)
{
    mn_mat G = tm_make(TM_GAUSSIAN, MN_F32, 16, 64, 11);
    mn_mat L, X;
    ck_assert_ok(mn_mat_alloc(&L, MN_F32, 16, 64));
    ck_assert_ok(mn_mat_alloc(&X, MN_F32, 16, 64));
    const mn_norm *n;
    const mn_polar_method *ns5;
    ck_assert_ok(mn_norm_lookup("rms-rms", &n));
    ck_assert_ok(mn_polar_lookup("ns5", &ns5));
    mn_dualize_opts o = {.method = ns5, .steps = 3};
    ck_assert_ok(mn_dualize(n, &o, &L, &G));
    ck_assert_ok(mn_polar(ns5, 3, 0, &X, &G));
    mn_mat_scale(&X, sqrt(16 / 64.0));
    ck_assert_double_le(tm_max_abs_diff(&L, &X), 1e-6);
    ck_assert_str_eq(mn_polar_default()->name, "svd");
    ck_assert_ok(mn_dualize(n, NULL, &L, &G));
    double v;
    ck_assert_ok(mn_norm_value(n, &L, &v));
    ck_assert_double_eq_tol(v, 1, 1e-5);
    mn_mat_free(&G);
    mn_mat_free(&L);
    mn_mat_free(&X);
}
END_TEST

/* The whole range of each dtype, FTZ/DAZ off (as in a fresh process): for
 * every iteration, both forms, float32 and float64, inputs whose largest
 * entry sits at 2^e from deep in the subnormals to a factor ~2 below the
 * largest finite value give what the same matrix gives at scale 1 (exactly
 * G·2^-e), to the iteration's float rounding; through mn_dualize the
 * spectral norms do the same. */
START_TEST(test_whole_range_of_each_dtype)
{
    static const int exps[2][11] = {
        {-148, -140, -130, -126, -100, -64, -40, 40, 64, 100, 126},
        {-1072, -1060, -1040, -1022, -1000, -540, -300, 300, 540, 1000, 1022}};
    static const int64_t shapes[][2] = {{3, 5}, {5, 3}, {6, 6}, {1, 4}, {4, 1}, {12, 40}};
    mn_polar_form forms[] = {MN_POLAR_DIRECT, MN_POLAR_GRAM};
    int failures = 0;
    char first[512] = "";
    for (size_t k = 0; k < mn_polar_count(); k++) {
        const mn_polar_method *m = mn_polar_at(k);
        for (int dt = MN_F32; dt <= MN_F64; dt++)
            for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
                for (int ei = 0; ei < 11; ei++)
                    for (int f = 0; f < (m->n_coeffs ? 2 : 1); f++) {
                        int e = exps[dt][ei];
                        mn_mat G = tm_gaussian_at((mn_dtype)dt, shapes[si][0], shapes[si][1], e,
                                                  90 + si);
                        if (mn_mat_is_zero(&G)) {
                            mn_mat_free(&G);
                            continue;
                        }
                        mn_mat Gref = tm_pow2_copy(&G, -e), R, W;
                        ck_assert_ok(mn_mat_alloc(&R, G.dtype, G.rows, G.cols));
                        ck_assert_ok(mn_mat_alloc(&W, G.dtype, G.rows, G.cols));
                        ck_assert_ok(mn_polar_form_run(m, forms[f], 0, 1, &R, &Gref));
                        mn_status st = mn_polar_form_run(m, forms[f], 0, 1, &W, &G);
                        double top = 0;
                        for (int64_t i = 0; i < R.rows; i++)
                            for (int64_t j = 0; j < R.cols; j++)
                                top = fmax(top, fabs(mn_mat_get(&R, i, j)));
                        double diff = st == MN_OK ? tm_max_abs_diff(&R, &W) : NAN;
                        double tol = (dt == MN_F32 ? 1e-4 : 1e-12) * fmax(top, 1e-300);
                        if (st != MN_OK || !(diff <= tol)) {
                            if (failures++ == 0)
                                snprintf(first, sizeof first,
                                         "%s form %d %s %lldx%lld at 2^%d: off by %.3g (%s)",
                                         m->name, f, mn_dtype_name(G.dtype), (long long)G.rows,
                                         (long long)G.cols, e, diff,
                                         st == MN_OK ? "ok" : mn_last_error());
                            fprintf(stderr, "%s form %d %s %lldx%lld at 2^%d: off by %.3g\n",
                                    m->name, f, mn_dtype_name(G.dtype), (long long)G.rows,
                                    (long long)G.cols, e, diff);
                        }
                        mn_mat_free(&R);
                        mn_mat_free(&W);
                        mn_mat_free(&Gref);
                        mn_mat_free(&G);
                    }
    }
    ck_assert_msg(failures == 0, "%d failures; the first: %s", failures, first);
}
END_TEST

/* The probe under every method: float32 diag(3e-40, 1e-40) (both
 * subnormal; σ/‖G‖_F = 0.95 and 0.32) dualizes under the spectral norm to
 * the identity, within the method's band (exactly, for svd), and so does
 * diag(3e38, 1e38) near FLT_MAX, and its float64 kin near DBL_MAX. */
START_TEST(test_subnormal_and_huge_diagonals)
{
    const mn_norm *spectral;
    ck_assert_ok(mn_norm_lookup("spectral", &spectral));
    const double pairs[][2] = {{3e-40, 1e-40}, {3e38, 1e38}, {3e-320, 1e-320}, {1.5e308, 5e307}};
    for (size_t k = 0; k < mn_polar_count(); k++) {
        const mn_polar_method *m = mn_polar_at(k);
        for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
            mn_dtype dt = p < 2 ? MN_F32 : MN_F64;
            mn_mat G, L;
            ck_assert_ok(mn_mat_alloc(&G, dt, 2, 2));
            ck_assert_ok(mn_mat_alloc(&L, dt, 2, 2));
            mn_mat_set(&G, 0, 0, pairs[p][0]);
            mn_mat_set(&G, 1, 1, pairs[p][1]);
            mn_dualize_opts o = {.method = m, .threads = 1};
            ck_assert_ok(mn_dualize(spectral, &o, &L, &G));
            double lo = m->band_lo - 1e-6, hi = m->band_hi + 1e-6;
            for (int i = 0; i < 2; i++) {
                double d = mn_mat_get(&L, i, i);
                ck_assert_msg(d >= lo && d <= hi, "%s on diag(%g, %g): lmo[%d][%d] = %.9g, "
                              "band [%g, %g]", m->name, pairs[p][0], pairs[p][1], i, i, d,
                              m->band_lo, m->band_hi);
                ck_assert_double_eq(mn_mat_get(&L, i, 1 - i), 0);
            }
            mn_mat_free(&G);
            mn_mat_free(&L);
        }
    }
}
END_TEST

/* With FTZ/DAZ on (training), as tensor.h documents: subnormal inputs read
 * as zero, so an all-subnormal input has norm 0 and lmo 0; and a float32
 * input whose squares sum past 1/FLT_MIN, where (1/‖G‖_F)² itself would flush
 * to zero, is still normalized right by every iteration. */
START_TEST(test_flush_to_zero_on)
{
    if (mn_flush_denormals(true) != MN_OK)
        return; /* no FTZ/DAZ on this CPU: nothing to document */
    const mn_norm *spectral;
    ck_assert_ok(mn_norm_lookup("spectral", &spectral));
    float sub[4] = {3e-40f, 0, 0, 1e-40f}, big[4] = {0x1p63f, 0, 0, 0x1p62f}, out[4];
    mn_mat S = mn_mat_view(MN_F32, sub, 2, 2), B = mn_mat_view(MN_F32, big, 2, 2);
    mn_mat O = mn_mat_view(MN_F32, out, 2, 2);
    double v = -1;
    ck_assert_ok(mn_norm_value(spectral, &S, &v));
    ck_assert_double_eq(v, 0);
    for (size_t k = 0; k < mn_polar_count(); k++) {
        const mn_polar_method *m = mn_polar_at(k);
        mn_dualize_opts o = {.method = m, .threads = 1};
        out[0] = 7;
        ck_assert_ok(mn_dualize(spectral, &o, &O, &S));
        ck_assert(mn_mat_is_zero(&O));
        for (int f = MN_POLAR_DIRECT; f <= MN_POLAR_GRAM; f++) {
            o.form = (mn_polar_form)f;
            ck_assert_ok(mn_dualize(spectral, &o, &O, &B));
            for (int i = 0; i < 2; i++) {
                ck_assert_msg(out[3 * i] >= m->band_lo - 1e-6 && out[3 * i] <= m->band_hi + 1e-6,
                              "%s form %d under FTZ: diag(2^63, 2^62) gives %g at (%d, %d)",
                              m->name, f, (double)out[3 * i], i, i);
                ck_assert_float_eq(out[1 + i], 0);
            }
        }
    }
    ck_assert_ok(mn_flush_denormals(false));
    /* and off again, the subnormal input is measured */
    ck_assert_ok(mn_norm_value(spectral, &S, &v));
    ck_assert_double_eq_tol(v / (double)sub[0], 1, 1e-12);
}
END_TEST

/* A method registered by the program (main registers it before the suite
 * runs, so every test above that walks the methods runs on it too): Muon's
 * quintic for 7 steps, its band measured on the scalar map (NumPy, the same
 * grids as test_documented_bands_are_measured: [0.68183, 1.13436] over
 * σ/‖G‖_F in [0.01, 1], sup 1.20237), rounded outward. */
static const double quintic[][3] = {{3.4445, -4.7750, 2.0315}};
static const mn_polar_method ns5_7 = {
    .name = "ns5-7", .summary = "Muon's quintic x 7 (registered by the test)",
    .n_coeffs = 1, .coeffs = quintic, .default_steps = 7, .norm_slack = 1.0,
    .band_lo = 0.6818, .band_hi = 1.1344, .band_min_ratio = 0.01, .sup = 1.2024};

START_TEST(test_registered_method)
{
    const mn_polar_method *m, *ns5;
    ck_assert_ok(mn_polar_lookup("ns5-7", &m));
    ck_assert_ptr_eq(m, &ns5_7);
    ck_assert_ptr_eq(mn_polar_at(mn_polar_count() - 1), &ns5_7);
    ck_assert_ptr_nonnull(strstr(mn_polar_names(), "ns5-7"));
    /* It computes what ns5 computes at 7 steps, through mn_polar and through
     * a spectral norm's dualization. */
    ck_assert_ok(mn_polar_lookup("ns5", &ns5));
    mn_mat G = tm_make(TM_GAUSSIAN, MN_F32, 20, 33, 8), A, B;
    ck_assert_ok(mn_mat_alloc(&A, MN_F32, 20, 33));
    ck_assert_ok(mn_mat_alloc(&B, MN_F32, 20, 33));
    ck_assert_ok(mn_polar(m, 0, 1, &A, &G));
    ck_assert_ok(mn_polar(ns5, 7, 1, &B, &G));
    ck_assert_double_eq(tm_max_abs_diff(&A, &B), 0);
    const mn_norm *spectral;
    ck_assert_ok(mn_norm_lookup("l2-l2", &spectral));
    mn_dualize_opts o = {.method = m, .threads = 1};
    ck_assert_ok(mn_dualize(spectral, &o, &A, &G));
    ck_assert_double_eq(tm_max_abs_diff(&A, &B), 0);
    mn_mat_free(&A);
    mn_mat_free(&B);
    mn_mat_free(&G);

    /* Refused: taken names, malformed entries. */
    static const double nan_c[][3] = {{1.5, NAN, 0}};
    struct {
        mn_polar_method m;
        const char *why;
    } bad[] = {
        {ns5_7, "taken"},
        {ns5_7, "taken"},
        {ns5_7, "comma"},
        {ns5_7, "no coefficients"},
        {ns5_7, "not finite"},
        {ns5_7, "default_steps"},
        {ns5_7, "norm_slack"},
        {ns5_7, "band"},
        {ns5_7, "band"},
    };
    bad[1].m.name = "svd";
    bad[2].m.name = "a,b";
    bad[3].m.name = "none";
    bad[3].m.n_coeffs = 0;
    bad[4].m.name = "nan";
    bad[4].m.coeffs = nan_c;
    bad[5].m.name = "zero-steps";
    bad[5].m.default_steps = 0;
    bad[6].m.name = "slack";
    bad[6].m.norm_slack = 0.5;
    bad[7].m.name = "inverted";
    bad[7].m.band_lo = 1.2;
    bad[8].m.name = "below-sup";
    bad[8].m.sup = 1.0;
    size_t before = mn_polar_count();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(mn_polar_register(&bad[i].m), MN_ERR_ARG);
        ck_assert_msg(strstr(mn_last_error(), bad[i].why), "%s: '%s'", bad[i].m.name,
                      mn_last_error());
    }
    ck_assert_int_eq(mn_polar_register(NULL), MN_ERR_ARG);
    ck_assert_uint_eq(mn_polar_count(), before);
}
END_TEST

int main(void)
{
    if (mn_polar_register(&ns5_7) != MN_OK) {
        fprintf(stderr, "mn_polar_register: %s\n", mn_last_error());
        return 1;
    }
    Suite *s = suite_create("polar");
    TCase *tc = tcase_create("polar");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_documented_bands_are_measured);
    tcase_add_test(tc, test_iterations_follow_scalar_map);
    tcase_add_test(tc, test_iterations_against_svd);
    tcase_add_test(tc, test_svd_is_exact);
    tcase_add_test(tc, test_rank_deficient);
    tcase_add_test(tc, test_zero_nan_and_errors);
    tcase_add_test(tc, test_bad_matrices_refused);
    tcase_add_test(tc, test_steps_bounded);
    tcase_add_test(tc, test_cubic_step_count);
    tcase_add_test(tc, test_gram_form_matches_direct);
    tcase_add_test(tc, test_in_place_and_extreme_scales);
    tcase_add_test(tc, test_polar_flops_and_form_choice);
    tcase_add_test(tc, test_dualize_uses_method);
    tcase_add_test(tc, test_whole_range_of_each_dtype);
    tcase_add_test(tc, test_subnormal_and_huge_diagonals);
    tcase_add_test(tc, test_flush_to_zero_on);
    tcase_add_test(tc, test_registered_method);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
