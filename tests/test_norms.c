/* Norms: hand-computed values, and for every registered norm on tall, wide,
 * square, 1 x n and n x 1 matrices (float32 and float64) the three properties
 * of an LMO: ‖lmo(G)‖ = 1, <G, lmo(G)> = dual(G), and no feasible point does
 * better. Operator norm values are checked against sampled ‖Ax‖_β / ‖x‖_α. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norms/vector.h"
#include "testutil.h"

static const int64_t shapes[][2] = {{12, 5}, {5, 12}, {8, 8}, {1, 9}, {9, 1}, {1, 1}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static double tol_of(mn_dtype dt) { return dt == MN_F32 ? 3e-6 : 1e-11; }

static double norm_of(const mn_norm *n, const mn_mat *A)
{
    double v;
    ck_assert_ok(mn_norm_value(n, A, &v));
    return v;
}

static double dot(const mn_mat *a, const mn_mat *b)
{
    double d;
    ck_assert_ok(mn_mat_dot(a, b, &d));
    return d;
}

/* <G, T/‖T‖> must not exceed dual(G). */
static void check_feasible(const mn_norm *n, const mn_mat *G, mn_mat *T, double dual, double tol,
                           const char *what)
{
    double nt = norm_of(n, T);
    if (nt == 0)
        return;
    double score = dot(G, T) / nt;
    ck_assert_msg(score <= dual * (1 + tol) + tol, "%s: %s point scores %.10g > dual %.10g (%lldx%lld)",
                  n->name, what, score, dual, (long long)G->rows, (long long)G->cols);
}

static void check_lmo_properties(const mn_norm *n, const mn_mat *G, uint64_t seed)
{
    double tol = tol_of(G->dtype);
    mn_mat L;
    ck_assert_ok(mn_mat_alloc(&L, G->dtype, G->rows, G->cols));
    ck_assert_ok(mn_norm_lmo(n, &L, G, NULL));
    double nl = norm_of(n, &L), dual;
    ck_assert_ok(mn_norm_dual(n, G, &dual));
    ck_assert_msg(fabs(nl - 1) <= 10 * tol, "%s: ‖lmo(G)‖ = %.12g on %lldx%lld %s", n->name, nl,
                  (long long)G->rows, (long long)G->cols, mn_dtype_name(G->dtype));
    double inner = dot(G, &L);
    ck_assert_msg(fabs(inner - dual) <= 10 * tol * fmax(1, dual),
                  "%s: <G, lmo> = %.12g but dual = %.12g on %lldx%lld", n->name, inner, dual,
                  (long long)G->rows, (long long)G->cols);

    /* Random feasible points: Gaussian, sparse, sign patterns, and small
     * perturbations of the LMO itself (a local optimality check). */
    mn_rng r;
    mn_rng_seed(&r, seed);
    mn_mat T;
    ck_assert_ok(mn_mat_alloc(&T, MN_F64, G->rows, G->cols));
    for (int trial = 0; trial < 40; trial++) {
        mn_rng_fill_normal(&r, &T);
        check_feasible(n, G, &T, dual, tol, "gaussian");
        mn_mat_fill(&T, 0);
        mn_mat_set(&T, (int64_t)mn_rng_below(&r, (uint64_t)G->rows),
                   (int64_t)mn_rng_below(&r, (uint64_t)G->cols), mn_rng_normal(&r));
        check_feasible(n, G, &T, dual, tol, "sparse");
        for (int64_t i = 0; i < T.rows; i++)
            for (int64_t j = 0; j < T.cols; j++)
                mn_mat_set(&T, i, j, mn_rng_uniform(&r) < 0.5 ? -1 : 1);
        check_feasible(n, G, &T, dual, tol, "sign");
        double eps = trial < 20 ? 1e-2 : 1e-1;
        for (int64_t i = 0; i < T.rows; i++)
            for (int64_t j = 0; j < T.cols; j++)
                mn_mat_set(&T, i, j, mn_mat_get(&L, i, j) + eps * mn_rng_normal(&r));
        check_feasible(n, G, &T, dual, tol, "perturbed-lmo");
    }

    /* In place (out == G) gives the same answer. */
    mn_mat C;
    ck_assert_ok(mn_mat_alloc(&C, G->dtype, G->rows, G->cols));
    ck_assert_ok(mn_mat_copy(&C, G));
    ck_assert_ok(mn_norm_lmo(n, &C, &C, NULL));
    ck_assert_double_le(tm_max_abs_diff(&C, &L), 10 * tol * fmax(1, nl));

    mn_mat_free(&C);
    mn_mat_free(&T);
    mn_mat_free(&L);
}

/* Every registered norm, then members of the schatten-P family: the suites
 * that run on "every norm" run on these. */
static const char *const family_members[] = {"schatten-1.5", "schatten-3"};
#define N_MEMBERS (sizeof family_members / sizeof family_members[0])

static size_t every_norm_count(void) { return mn_norm_count() + N_MEMBERS; }

static const mn_norm *every_norm(size_t i)
{
    if (i < mn_norm_count())
        return mn_norm_at(i);
    const mn_norm *n;
    ck_assert_ok(mn_norm_lookup(family_members[i - mn_norm_count()], &n));
    return n;
}

START_TEST(test_lmo_properties_every_norm)
{
    for (size_t k = 0; k < mn_norm_count(); k++) {
        const mn_norm *n = mn_norm_at(k);
        for (size_t s = 0; s < N_SHAPES; s++)
            for (int dt = MN_F32; dt <= MN_F64; dt++)
                for (int kind = TM_GAUSSIAN; kind <= TM_LOW_RANK_NOISE; kind++) {
                    uint64_t seed = 1000 * k + 10 * s + (uint64_t)dt + 100 * (uint64_t)kind;
                    mn_mat G = tm_make((tm_kind)kind, (mn_dtype)dt, shapes[s][0], shapes[s][1], seed);
                    check_lmo_properties(n, &G, seed + 7);
                    mn_mat_free(&G);
                }
    }
}
END_TEST

/* ‖x‖ for the vector kinds, written out independently of src/norms. */
static double vnorm(const char *kind, const double *x, int64_t n)
{
    double s = 0;
    if (strcmp(kind, "l1") == 0) {
        for (int64_t i = 0; i < n; i++)
            s += fabs(x[i]);
        return s;
    }
    if (strcmp(kind, "linf") == 0) {
        for (int64_t i = 0; i < n; i++)
            s = fmax(s, fabs(x[i]));
        return s;
    }
    for (int64_t i = 0; i < n; i++)
        s += x[i] * x[i];
    return strcmp(kind, "rms") == 0 ? sqrt(s / (double)n) : sqrt(s);
}

/* sup_x ‖Ax‖_β/‖x‖_α sampled: never above the value, and close to it from
 * the best of many random and basis directions plus local refinement. */
START_TEST(test_operator_values_against_sampling)
{
    static const char *ops[] = {"l1-l1", "l1-l2", "l1-rms", "l1-linf", "l2-linf", "rms-linf",
                                "linf-linf", "l2-l2", "rms-rms", "l2-rms", "rms-l2"};
    mn_rng r;
    mn_rng_seed(&r, 99);
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        const mn_norm *n;
        ck_assert_ok(mn_norm_lookup(ops[k], &n));
        char in[8], out[8];
        ck_assert_int_eq(sscanf(ops[k], "%7[^-]-%7s", in, out), 2);
        for (size_t s = 0; s < N_SHAPES; s++) {
            int64_t m = shapes[s][0], d = shapes[s][1];
            mn_mat A = tm_make(TM_GAUSSIAN, MN_F64, m, d, 500 + k * 10 + s);
            double value = norm_of(n, &A), best = 0;
            double *x = malloc((size_t)d * sizeof(double)), *y = malloc((size_t)m * sizeof(double));
            /* Basis vectors, every sign vector (d <= 12), then Gaussians. */
            int n_signs = 1 << d;
            for (int t = 0; t < d + n_signs + 2000; t++) {
                for (int64_t j = 0; j < d; j++)
                    x[j] = t < d                ? (j == t)
                           : t < d + n_signs    ? (((t - d) >> j) & 1 ? 1.0 : -1.0)
                                                : mn_rng_normal(&r);
                for (int64_t i = 0; i < m; i++) {
                    y[i] = 0;
                    for (int64_t j = 0; j < d; j++)
                        y[i] += mn_mat_get(&A, i, j) * x[j];
                }
                best = fmax(best, vnorm(out, y, m) / vnorm(in, x, d));
            }
            ck_assert_msg(best <= value * (1 + 1e-12), "%s: sampled %.12g > value %.12g", ops[k],
                          best, value);
            /* ℓ1 domains attain at a basis vector; ℓ∞ targets at a sign vector
             * (sampled); spectral norms are checked against a power method. */
            if (strcmp(in, "l1") == 0 || strcmp(in, "linf") == 0 || d == 1)
                ck_assert_msg(best >= value * (1 - 1e-12), "%s: value %.12g not attained (%.12g)",
                              ops[k], value, best);
            free(x);
            free(y);
            mn_mat_free(&A);
        }
    }
}
END_TEST

START_TEST(test_hand_computed_values)
{
    double a[] = {1, -2, 3, -4, 5, -6}; /* 2 x 3 */
    mn_mat A = mn_mat_view(MN_F64, a, 2, 3);
    const double smax = 9.5080320006957226, nuc = 10.280901636369206; /* numpy.linalg.svd */
    const struct {
        const char *name;
        double value, dual;
    } cases[] = {
        {"l1-l1", 9, 4 + 5 + 6},             /* max column ℓ1; Σ column ℓ∞ */
        {"l1-l2", sqrt(45), sqrt(17) + sqrt(29) + sqrt(45)},
        {"l1-rms", sqrt(45 / 2.0), sqrt(2) * (sqrt(17) + sqrt(29) + sqrt(45))},
        {"l1-linf", 6, 21},
        {"max-abs", 6, 21},
        {"linf-linf", 15, 3 + 6},              /* max row ℓ1; Σ row ℓ∞ */
        {"l2-linf", sqrt(77), sqrt(14) + sqrt(77)},
        {"rms-linf", sqrt(3 * 77.0), (sqrt(14) + sqrt(77)) / sqrt(3)},
        {"l2-l2", smax, nuc},
        {"spectral", smax, nuc},
        {"rms-rms", sqrt(3 / 2.0) * smax, nuc / sqrt(3 / 2.0)},
        {"l2-rms", smax / sqrt(2), nuc * sqrt(2)},
        {"rms-l2", sqrt(3) * smax, nuc / sqrt(3)},
        {"frobenius", sqrt(91), sqrt(91)},
        {"nuclear", nuc, smax},
        {"l1", 21, 6},
        {"linf", 6, 21},
        {"rms", sqrt(91 / 6.0), sqrt(6 * 91.0)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const mn_norm *n;
        ck_assert_ok(mn_norm_lookup(cases[i].name, &n));
        double v, d;
        ck_assert_ok(mn_norm_value(n, &A, &v));
        ck_assert_ok(mn_norm_dual(n, &A, &d));
        ck_assert_msg(fabs(v - cases[i].value) < 1e-12 * cases[i].value, "%s value %.17g != %.17g",
                      cases[i].name, v, cases[i].value);
        ck_assert_msg(fabs(d - cases[i].dual) < 1e-12 * cases[i].dual, "%s dual %.17g != %.17g",
                      cases[i].name, d, cases[i].dual);
    }
}
END_TEST

/* The closed forms of DESIGN.md's table, element by element. */
START_TEST(test_lmo_closed_forms)
{
    double g[] = {1, -2, 3, -4, 5, 0}; /* 2 x 3 */
    mn_mat G = mn_mat_view(MN_F64, g, 2, 3);
    double o[6];
    mn_mat O = mn_mat_view(MN_F64, o, 2, 3);
    const mn_norm *n;

    ck_assert_ok(mn_norm_lookup("l1-linf", &n));
    ck_assert_ok(mn_norm_lmo(n, &O, &G, NULL));
    double sign[] = {1, -1, 1, -1, 1, 0};
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(o[i], sign[i]);

    ck_assert_ok(mn_norm_lookup("l1-rms", &n)); /* each column · √d_out / ‖column‖₂ */
    ck_assert_ok(mn_norm_lmo(n, &O, &G, NULL));
    ck_assert_double_eq_tol(o[0], sqrt(2) * 1 / sqrt(17), 1e-15);
    ck_assert_double_eq_tol(o[3], sqrt(2) * -4 / sqrt(17), 1e-15);
    ck_assert_double_eq_tol(o[2], sqrt(2), 1e-15);
    ck_assert_double_eq_tol(o[5], 0, 1e-15);

    ck_assert_ok(mn_norm_lookup("rms-linf", &n)); /* each row / (√d_in ‖row‖₂) */
    ck_assert_ok(mn_norm_lmo(n, &O, &G, NULL));
    ck_assert_double_eq_tol(o[1], -2 / (sqrt(3) * sqrt(14)), 1e-15);
    ck_assert_double_eq_tol(o[4], 5 / (sqrt(3) * sqrt(41)), 1e-15);

    ck_assert_ok(mn_norm_lookup("l1-l1", &n)); /* ±e_i at each column's largest entry */
    ck_assert_ok(mn_norm_lmo(n, &O, &G, NULL));
    double l1l1[] = {0, 0, 1, -1, 1, 0};
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq(o[i], l1l1[i]);

    ck_assert_ok(mn_norm_lookup("frobenius", &n));
    ck_assert_ok(mn_norm_lmo(n, &O, &G, NULL));
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq_tol(o[i], g[i] / sqrt(55), 1e-15);
}
END_TEST

/* The spectral family: lmo = U Vᵀ / s, so its ℓ2→ℓ2 norm is 1/s, and the
 * RMS→RMS lmo has all singular values √(d_out/d_in). */
START_TEST(test_spectral_scales)
{
    mn_mat G = tm_make(TM_GAUSSIAN, MN_F64, 6, 15, 3);
    const struct {
        const char *name;
        double sv;
    } cases[] = {{"l2-l2", 1}, {"rms-rms", sqrt(6 / 15.0)}, {"l2-rms", sqrt(6)}, {"rms-l2", 1 / sqrt(15)}};
    mn_mat L;
    ck_assert_ok(mn_mat_alloc(&L, MN_F64, 6, 15));
    for (size_t i = 0; i < 4; i++) {
        const mn_norm *n;
        ck_assert_ok(mn_norm_lookup(cases[i].name, &n));
        ck_assert(n->uses_polar);
        ck_assert_ok(mn_norm_lmo(n, &L, &G, NULL));
        double *sv = tm_singular_values(&L);
        for (int k = 0; k < 6; k++)
            ck_assert_double_eq_tol(sv[k], cases[i].sv, 1e-12);
        free(sv);
    }
    mn_mat_free(&L);
    mn_mat_free(&G);
}
END_TEST

START_TEST(test_zero_and_nonfinite)
{
    for (size_t k = 0; k < every_norm_count(); k++) {
        const mn_norm *n = every_norm(k);
        mn_mat Z, O;
        ck_assert_ok(mn_mat_alloc(&Z, MN_F32, 4, 3));
        ck_assert_ok(mn_mat_alloc(&O, MN_F32, 4, 3));
        mn_mat_fill(&O, 7);
        ck_assert_ok(mn_norm_lmo(n, &O, &Z, NULL));
        ck_assert(mn_mat_is_zero(&O));
        double v = -1, d = -1;
        ck_assert_ok(mn_norm_value(n, &Z, &v));
        ck_assert_ok(mn_norm_dual(n, &Z, &d));
        ck_assert_double_eq(v, 0);
        ck_assert_double_eq(d, 0);

        mn_mat_set(&Z, 2, 1, NAN);
        ck_assert_int_eq(mn_norm_lmo(n, &O, &Z, NULL), MN_ERR_NONFINITE);
        ck_assert_ptr_nonnull(strstr(mn_last_error(), "(2, 1)"));
        ck_assert_int_eq(mn_norm_value(n, &Z, &v), MN_ERR_NONFINITE);
        mn_mat_set(&Z, 2, 1, INFINITY);
        ck_assert_int_eq(mn_norm_dual(n, &Z, &d), MN_ERR_NONFINITE);
        mn_mat_free(&Z);
        mn_mat_free(&O);
    }
}
END_TEST

/* Careless matrices at the checked entry points: a dtype outside the enum
 * was read as float64 (the norm of 1..6 came out 8207.99 with MN_OK), NULL
 * data crashed, and the messages read "norm: NULL the matrix". */
START_TEST(test_bad_matrices_refused)
{
    const mn_norm *fro;
    ck_assert_ok(mn_norm_lookup("frobenius", &fro));
    float v[6] = {1, 2, 3, 4, 5, 6};
    mn_mat A = mn_mat_view(MN_F32, v, 2, 3), out = A, bad = A, nodata = A;
    bad.dtype = (mn_dtype)7;
    nodata.data = NULL;
    double d = -1;
    ck_assert_refused(mn_norm_value(fro, &bad, &d), MN_ERR_ARG, "the matrix has dtype 7");
    ck_assert_refused(mn_norm_dual(fro, &bad, &d), MN_ERR_ARG, "the gradient has dtype 7");
    ck_assert_refused(mn_norm_lmo(fro, &out, &bad, NULL), MN_ERR_ARG, "the gradient has dtype 7");
    ck_assert_refused(mn_norm_lmo(fro, &bad, &A, NULL), MN_ERR_ARG, "frobenius: out has dtype 7");
    ck_assert_double_eq(d, -1);
    ck_assert_refused(mn_norm_value(fro, NULL, &d), MN_ERR_ARG, "frobenius: the matrix is NULL");
    ck_assert_refused(mn_norm_value(fro, &nodata, &d), MN_ERR_ARG,
                      "frobenius: the matrix's data is NULL (a 2x3 matrix)");
    ck_assert_refused(mn_norm_lmo(fro, &nodata, &A, NULL), MN_ERR_ARG, "out's data is NULL");
    ck_assert_refused(mn_norm_value(NULL, &A, &d), MN_ERR_ARG, "mn_norm_value: the norm is NULL");
    mn_norm hollow = *fro; /* not registered: nothing checked its functions */
    hollow.lmo = NULL;
    ck_assert_refused(mn_norm_lmo(&hollow, &out, &A, NULL), MN_ERR_ARG,
                      "mn_norm_lmo: the norm lacks a name, value, dual or lmo");
    ck_assert_ok(mn_norm_value(fro, &A, &d));
    ck_assert_double_eq_tol(d, sqrt(91.0), 1e-6);
}
END_TEST

/* ℓ2 sums squares in one pass; float64 entries whose squares would overflow
 * or underflow still give the right norm (scaled fallback). */
START_TEST(test_l2_extreme_float64)
{
    const double scales[] = {1e-300, 1e-160, 1.0, 1e160, 1e300};
    for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
        double v[4] = {3 * scales[k], 0, -4 * scales[k], 0};
        mn_mat x = mn_mat_view(MN_F64, v, 2, 2);
        double n = mn_vec_norm(MN_VEC_L2, &x);
        ck_assert_msg(fabs(n / (5 * scales[k]) - 1) < 1e-14, "scale %g: ‖x‖ = %g", scales[k], n);
        ck_assert_double_eq_tol(mn_vec_norm(MN_VEC_LINF, &x) / scales[k], 4, 1e-14);
        ck_assert_double_eq_tol(mn_vec_norm(MN_VEC_L1, &x) / scales[k], 7, 1e-14);
    }
    float f[3] = {3e38f, 3e38f, 0};
    mn_mat y = mn_mat_view(MN_F32, f, 1, 3);
    ck_assert_double_eq_tol(mn_vec_norm(MN_VEC_L2, &y) / (3e38 * sqrt(2.0)), 1, 1e-6);
    f[2] = NAN;
    ck_assert(isnan(mn_vec_norm(MN_VEC_L2, &y)));
    ck_assert(isnan(mn_vec_norm(MN_VEC_LINF, &y)));
}
END_TEST

/* ---- the whole range of each dtype (FTZ/DAZ off, as in a fresh process) --- */

/* Failures collected over a sweep, reported together (the first few). */
typedef struct {
    int count;
    char text[2048];
} failures;

static void failed(failures *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failed(failures *f, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line); /* all of them, in the test's log */
    size_t used = strlen(f->text);
    if (f->count++ < 8 && used + strlen(line) + 2 < sizeof f->text) {
        strcat(f->text, line);
        strcat(f->text, "\n");
    }
}

/* value(G) where G = 2^e·G_ref must be 2^e·value(G_ref), to 1e-12 and to the
 * half-ulp a subnormal double result carries; where 2^e·value(G_ref) passes
 * DBL_MAX the call must refuse with MN_ERR_NONFINITE and say so. */
static void check_scaled_value(failures *f, const mn_norm *n, bool dual, const mn_mat *G,
                               const mn_mat *Gref, int e, const char *what)
{
    double ref, got = NAN;
    ck_assert_ok(dual ? mn_norm_dual(n, Gref, &ref) : mn_norm_value(n, Gref, &ref));
    double want = ldexp(ref, e);
    mn_clear_error();
    mn_status st = dual ? mn_norm_dual(n, G, &got) : mn_norm_value(n, G, &got);
    if (isinf(want)) {
        if (st != MN_ERR_NONFINITE || !strstr(mn_last_error(), "largest double"))
            failed(f, "%s %s: %s beyond DBL_MAX gave %s (%.6g): '%s'", n->name, what,
                   dual ? "dual" : "value", mn_status_str(st), got, mn_last_error());
        return;
    }
    if (st != MN_OK || !(fabs(got - want) <= 1e-12 * want + 2 * 0x1p-1074))
        failed(f, "%s %s: %s = %.17g (%s), want %.17g", n->name, what, dual ? "dual" : "value",
               got, mn_status_str(st), want);
}

static double max_abs_of(const mn_mat *A)
{
    double m = 0;
    for (int64_t i = 0; i < A->rows; i++)
        for (int64_t j = 0; j < A->cols; j++)
            m = fmax(m, fabs(mn_mat_get(A, i, j)));
    return m;
}

/* lmo(G) = lmo(G_ref): an LMO does not depend on the scale of G. */
static void check_scaled_lmo(failures *f, const mn_norm *n, const mn_mat *G, const mn_mat *Gref,
                             const char *what)
{
    mn_mat L, R;
    ck_assert_ok(mn_mat_alloc(&L, G->dtype, G->rows, G->cols));
    ck_assert_ok(mn_mat_alloc(&R, G->dtype, G->rows, G->cols));
    ck_assert_ok(mn_norm_lmo(n, &R, Gref, NULL));
    mn_status st = mn_norm_lmo(n, &L, G, NULL);
    double diff = st == MN_OK ? tm_max_abs_diff(&L, &R) : NAN;
    double tol = (G->dtype == MN_F32 ? 1e-6 : 1e-12) * max_abs_of(&R);
    if (st != MN_OK || !(diff <= tol))
        failed(f, "%s %s: lmo off by %.3g (%s: %s)", n->name, what, diff, mn_status_str(st),
               st == MN_OK ? "" : mn_last_error());
    mn_mat_free(&L);
    mn_mat_free(&R);
}

/* The norm n, float32 and float64, on inputs of each shape whose largest
 * entry sits at 2^e for e across the dtype's whole range: deep in the
 * subnormals (most entries round to a few bits or to 0), at the smallest
 * normal, where squares underflow, where squares overflow, and a factor ~2
 * below the largest finite value. Value and dual are 2^e times those of the
 * same matrix at scale 1 (exactly G·2^-e), and the lmo is the same. Shape si
 * is drawn with seed seed0 + si; failures go to f. */
static void check_whole_range(failures *f, const mn_norm *n, const int64_t (*shapes)[2],
                              size_t n_shapes, uint64_t seed0)
{
    static const int exps[2][9] = {{-148, -140, -130, -126, -100, -64, 64, 100, 126},
                                   {-1072, -1060, -1040, -1022, -1000, -540, 540, 1000, 1022}};
    for (int dt = MN_F32; dt <= MN_F64; dt++)
        for (size_t si = 0; si < n_shapes; si++)
            for (int ei = 0; ei < 9; ei++) {
                int e = exps[dt][ei];
                mn_mat G = tm_gaussian_at((mn_dtype)dt, shapes[si][0], shapes[si][1], e,
                                          seed0 + si);
                if (mn_mat_is_zero(&G)) { /* everything rounded away: nothing to scale */
                    mn_mat_free(&G);
                    continue;
                }
                mn_mat Gref = tm_pow2_copy(&G, -e);
                char what[64];
                snprintf(what, sizeof what, "%s %lldx%lld at 2^%d", mn_dtype_name(G.dtype),
                         (long long)G.rows, (long long)G.cols, e);
                check_scaled_value(f, n, false, &G, &Gref, e, what);
                check_scaled_value(f, n, true, &G, &Gref, e, what);
                check_scaled_lmo(f, n, &G, &Gref, what);
                mn_mat_free(&Gref);
                mn_mat_free(&G);
            }
}

/* Every registered norm over the whole float range (check_whole_range). */
START_TEST(test_every_norm_over_the_whole_range)
{
    static const int64_t ext_shapes[][2] = {{3, 5}, {5, 3}, {1, 4}, {4, 1}, {4, 4}};
    failures f = {0, ""};
    for (size_t k = 0; k < every_norm_count(); k++)
        check_whole_range(&f, every_norm(k), ext_shapes, sizeof ext_shapes / sizeof ext_shapes[0],
                          70);
    ck_assert_msg(f.count == 0, "%d failures, the first:\n%s", f.count, f.text);
}
END_TEST

/* The probe: float32 diag(3e-40, 1e-40) (both subnormal) under the
 * spectral norm has value 3e-40, dual 4e-40 and lmo the identity; and where
 * a norm of finite float64 entries passes DBL_MAX it is refused, not inf,
 * while its lmo is still right. */
START_TEST(test_subnormal_and_overflowing_examples)
{
    float d[4] = {3e-40f, 0, 0, 1e-40f};
    mn_mat G = mn_mat_view(MN_F32, d, 2, 2), L;
    ck_assert(d[0] > 0 && d[0] < FLT_MIN && d[3] > 0);
    const mn_norm *spectral, *n;
    ck_assert_ok(mn_norm_lookup("spectral", &spectral));
    double v, du;
    ck_assert_ok(mn_norm_value(spectral, &G, &v));
    ck_assert_ok(mn_norm_dual(spectral, &G, &du));
    ck_assert_double_eq_tol(v / (double)d[0], 1, 1e-12);
    ck_assert_double_eq_tol(du / ((double)d[0] + (double)d[3]), 1, 1e-12);
    ck_assert_ok(mn_mat_alloc(&L, MN_F32, 2, 2));
    ck_assert_ok(mn_norm_lmo(spectral, &L, &G, NULL));
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            ck_assert_double_eq_tol(mn_mat_get(&L, i, j), i == j, 1e-7);
    mn_mat_free(&L);

    double big[9];
    for (int i = 0; i < 9; i++)
        big[i] = 1e308;
    mn_mat B = mn_mat_view(MN_F64, big, 3, 3);
    static const struct {
        const char *norm;
        double value; /* 0: beyond DBL_MAX */
    } cases[] = {{"l1", 0},        {"linf", 1e308},     {"frobenius", 0}, {"rms", 1e308},
                 {"spectral", 0},  {"l1-linf", 1e308},  {"l1-l1", 0},     {"nuclear", 0},
                 {"rms-rms", 0},   {"l2-rms", 1e308 * 1.7320508075688772}}; /* σ/√3 */
    ck_assert_ok(mn_mat_alloc(&L, MN_F64, 3, 3));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_ok(mn_norm_lookup(cases[i].norm, &n));
        mn_clear_error();
        mn_status st = mn_norm_value(n, &B, &v);
        if (cases[i].value == 0) {
            ck_assert_msg(st == MN_ERR_NONFINITE, "%s: %s, %g", n->name, mn_status_str(st), v);
            ck_assert_msg(strstr(mn_last_error(), n->name) &&
                              strstr(mn_last_error(), "largest double"),
                          "%s: '%s'", n->name, mn_last_error());
        } else {
            ck_assert_ok(st);
            ck_assert_double_eq_tol(v / cases[i].value, 1, 1e-14);
        }
        /* the lmo of a matrix of equal entries, whatever their size */
        ck_assert_ok(mn_norm_lmo(n, &L, &B, NULL));
        mn_mat one;
        double ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        one = mn_mat_view(MN_F64, ones, 3, 3);
        mn_mat R;
        ck_assert_ok(mn_mat_alloc(&R, MN_F64, 3, 3));
        ck_assert_ok(mn_norm_lmo(n, &R, &one, NULL));
        ck_assert_msg(tm_max_abs_diff(&L, &R) <= 1e-14, "%s: lmo of 1e308·ones off by %g",
                      n->name, tm_max_abs_diff(&L, &R));
        mn_mat_free(&R);
    }
    mn_mat_free(&L);
}
END_TEST

START_TEST(test_lookup)
{
    const mn_norm *n, *m;
    ck_assert_ok(mn_norm_lookup("spectral", &n));
    ck_assert_ok(mn_norm_lookup("l2-l2", &m));
    ck_assert_ptr_eq(n, m);
    ck_assert_ok(mn_norm_lookup("max-abs", &n));
    ck_assert_str_eq(n->name, "l1-linf");
    static const char *refused[] = {"linf-l1", "linf-l2", "linf-rms", "l2-l1", "rms-l1"};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(mn_norm_lookup(refused[i], &n), MN_ERR_UNSUPPORTED);
        ck_assert_ptr_null(n);
        ck_assert_ptr_nonnull(strstr(mn_last_error(), "NP-hard"));
    }
    ck_assert_int_eq(mn_norm_lookup("l3-l3", &n), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "unknown norm 'l3-l3'"));
    ck_assert_int_eq(mn_norm_lookup(NULL, &n), MN_ERR_ARG);

    /* Shape and dtype mismatches are named. */
    ck_assert_ok(mn_norm_lookup("rms-rms", &n));
    mn_mat G, O;
    ck_assert_ok(mn_mat_alloc(&G, MN_F32, 3, 4));
    ck_assert_ok(mn_mat_alloc(&O, MN_F64, 3, 4));
    ck_assert_int_eq(mn_norm_lmo(n, &O, &G, NULL), MN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "float64"));
    mn_mat_free(&G);
    mn_mat_free(&O);
}
END_TEST

/* Reference values from NumPy (tests/data, made by scripts/make_test_fixtures.py). */
START_TEST(test_against_numpy_fixture)
{
    mn_mat G, P, vals;
    ck_assert_ok(mn_npy_read(MN_TEST_DATA "/svd_G.npy", &G));
    ck_assert_ok(mn_npy_read(MN_TEST_DATA "/svd_polar.npy", &P));
    ck_assert_ok(mn_npy_read(MN_TEST_DATA "/svd_values.npy", &vals)); /* σ_max, nuclear */
    const mn_norm *n;
    ck_assert_ok(mn_norm_lookup("l2-l2", &n));
    double v, d;
    ck_assert_ok(mn_norm_value(n, &G, &v));
    ck_assert_ok(mn_norm_dual(n, &G, &d));
    ck_assert_double_eq_tol(v, mn_mat_get(&vals, 0, 0), 1e-12 * v);
    ck_assert_double_eq_tol(d, mn_mat_get(&vals, 0, 1), 1e-12 * d);
    mn_mat L;
    ck_assert_ok(mn_mat_alloc(&L, G.dtype, G.rows, G.cols));
    ck_assert_ok(mn_norm_lmo(n, &L, &G, NULL));
    ck_assert_double_le(tm_max_abs_diff(&L, &P), 1e-12);
    mn_mat_free(&L);
    mn_mat_free(&G);
    mn_mat_free(&P);
    mn_mat_free(&vals);
}
END_TEST

/* ---- schatten-P -------------------------------------------------------- */

/* The LMO properties at several p, p = 1, 2, ∞ included (those are the
 * nuclear, Frobenius and spectral norms), on every shape, both dtypes and
 * every kind of test matrix (a 1/k spectrum too). */
START_TEST(test_schatten_lmo_properties)
{
    static const char *ps[] = {"schatten-1", "schatten-1.25", "schatten-1.5", "schatten-2",
                               "schatten-3", "schatten-4", "schatten-8", "schatten-inf"};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        const mn_norm *n;
        ck_assert_ok(mn_norm_lookup(ps[k], &n));
        for (size_t s = 0; s < N_SHAPES; s++)
            for (int dt = MN_F32; dt <= MN_F64; dt++)
                for (int kind = TM_GAUSSIAN; kind <= TM_POWER_LAW; kind++) {
                    uint64_t seed = 7000 + 1000 * k + 10 * s + (uint64_t)dt + 100 * (uint64_t)kind;
                    mn_mat G = tm_make((tm_kind)kind, (mn_dtype)dt, shapes[s][0], shapes[s][1],
                                       seed);
                    check_lmo_properties(n, &G, seed + 7);
                    mn_mat_free(&G);
                }
    }
}
END_TEST

/* ‖σ‖_r from the singular values LAPACK gives the test utilities. */
static double sigma_norm(const mn_mat *A, double r)
{
    double *sv = tm_singular_values(A), s = 0;
    int64_t k = A->rows < A->cols ? A->rows : A->cols;
    for (int64_t i = 0; i < k; i++)
        s += isinf(r) ? 0 : pow(sv[i], r);
    double v = isinf(r) ? sv[0] : pow(s, 1 / r);
    free(sv);
    return v;
}

START_TEST(test_schatten_values_and_names)
{
    /* p = 1, 2, ∞ are the nuclear, Frobenius and spectral norms themselves. */
    static const struct {
        const char *member, *same;
    } same[] = {{"schatten-1", "nuclear"},     {"schatten-1.0", "nuclear"},
                {"schatten-2", "frobenius"},   {"schatten-inf", "l2-l2"},
                {"schatten-infinity", "spectral"}};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        const mn_norm *a, *b;
        ck_assert_ok(mn_norm_lookup(same[i].member, &a));
        ck_assert_ok(mn_norm_lookup(same[i].same, &b));
        ck_assert_msg(a == b, "%s is %s, not %s", same[i].member, a->name, b->name);
    }
    /* One member per p, named canonically. */
    const mn_norm *n3, *m;
    ck_assert_ok(mn_norm_lookup("schatten-3", &n3));
    ck_assert_str_eq(n3->name, "schatten-3");
    ck_assert_ok(mn_norm_lookup("schatten-3.0", &m));
    ck_assert_ptr_eq(m, n3);
    ck_assert_ok(mn_norm_lookup("schatten-3e0", &m));
    ck_assert_ptr_eq(m, n3);
    ck_assert_ok(mn_norm_lookup("schatten-1.5", &m));
    ck_assert_str_eq(m->name, "schatten-1.5");
    ck_assert(!m->uses_polar);
    ck_assert_ptr_nonnull(strstr(mn_norm_names(), "schatten-P"));

    /* By hand: σ = (4, 3) for [[3, 0, 0], [0, 4, 0]] (q = 3/2 for p = 3). */
    double a[] = {3, 0, 0, 0, 4, 0};
    mn_mat A = mn_mat_view(MN_F64, a, 2, 3);
    double v, d;
    ck_assert_ok(mn_norm_value(n3, &A, &v));
    ck_assert_ok(mn_norm_dual(n3, &A, &d));
    ck_assert_double_eq_tol(v, cbrt(64 + 27), 1e-14);
    double dq = pow(pow(4, 1.5) + pow(3, 1.5), 1 / 1.5);
    ck_assert_double_eq_tol(d, dq, 1e-14);
    double o[6];
    mn_mat O = mn_mat_view(MN_F64, o, 2, 3);
    ck_assert_ok(mn_norm_lmo(n3, &O, &A, NULL)); /* diag(σ^(q-1)) / ‖σ‖_q^(q-1) */
    double scale = pow(dq, 0.5);
    double want[] = {sqrt(3) / scale, 0, 0, 0, 2 / scale, 0};
    for (int i = 0; i < 6; i++)
        ck_assert_double_eq_tol(o[i], want[i], 1e-14);

    /* Against singular values computed apart, at several p. */
    static const double ps[] = {1.25, 1.5, 3, 4, 8};
    mn_mat G = tm_make(TM_POWER_LAW, MN_F64, 7, 11, 5);
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "schatten-%g", ps[i]);
        ck_assert_ok(mn_norm_lookup(name, &m));
        double q = ps[i] / (ps[i] - 1);
        ck_assert_ok(mn_norm_value(m, &G, &v));
        ck_assert_ok(mn_norm_dual(m, &G, &d));
        ck_assert_double_eq_tol(v, sigma_norm(&G, ps[i]), 1e-12 * v);
        ck_assert_double_eq_tol(d, sigma_norm(&G, q), 1e-12 * d);
    }
    /* Between the named cases the values are monotone in p: ‖σ‖_p decreases. */
    double prev = INFINITY;
    static const char *up[] = {"schatten-1", "schatten-1.5", "schatten-2", "schatten-3",
                               "schatten-8", "schatten-inf"};
    for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) {
        ck_assert_ok(mn_norm_lookup(up[i], &m));
        ck_assert_ok(mn_norm_value(m, &G, &v));
        ck_assert_msg(v < prev, "%s: %.17g is not below %.17g", up[i], v, prev);
        prev = v;
    }
    mn_mat_free(&G);

    /* Bad parameters are refused, with the reason. */
    static const char *bad[] = {"schatten-0.5", "schatten-0", "schatten--2", "schatten-",
                                "schatten-x", "schatten-3x", "schatten-nan", "schatten-1e400"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(mn_norm_lookup(bad[i], &m), MN_ERR_ARG);
        ck_assert_ptr_null(m);
        ck_assert_msg(strstr(mn_last_error(), "schatten-P"), "%s: '%s'", bad[i], mn_last_error());
    }
    ck_assert_ptr_nonnull(strstr((mn_norm_lookup("schatten-0.5", &m), mn_last_error()), "below 1"));
    /* an overflowed number is not infinity by name */
    ck_assert_ptr_nonnull(strstr((mn_norm_lookup("schatten-1e400", &m), mn_last_error()),
                                 "beyond a double"));
    ck_assert_int_eq(mn_norm_lookup("schatten-inf", &m), MN_OK);
    ck_assert_str_eq(m->name, "l2-l2");

    /* The options' number syntax (core/number.h, review-s12 #14): 2^E
     * names the same member; hex and spaces are not numbers there. */
    ck_assert_ok(mn_norm_lookup("schatten-2^1", &m));
    ck_assert_str_eq(m->name, "frobenius");
    ck_assert_ok(mn_norm_lookup("schatten-2^0.5", &m));
    ck_assert_str_eq(m->name, "schatten-1.4142135623730951");
    ck_assert_ok(mn_norm_lookup("schatten-2^3", &m));
    ck_assert_str_eq(m->name, "schatten-8");
    static const char *not_numbers[] = {"schatten-0x3", "schatten- 3", "schatten-2^300",
                                        "schatten-2^x"};
    for (size_t i = 0; i < sizeof not_numbers / sizeof not_numbers[0]; i++) {
        ck_assert_int_eq(mn_norm_lookup(not_numbers[i], &m), MN_ERR_ARG);
        ck_assert_msg(strstr(mn_last_error(), "is not a number p"), "%s: '%s'", not_numbers[i],
                      mn_last_error());
    }
}
END_TEST

/* ---- norms a program registers ----------------------------------------- */

/* 2·‖A‖_F: dual ‖G‖_F/2, lmo G/(2‖G‖_F). A norm defined outside the library. */
static double fro(const mn_mat *A)
{
    double s = 0;
    for (int64_t i = 0; i < A->rows; i++)
        for (int64_t j = 0; j < A->cols; j++)
            s += mn_mat_get(A, i, j) * mn_mat_get(A, i, j);
    return sqrt(s);
}

static double scale_of(const mn_norm *n) { return n->params ? *(const double *)n->params : 2; }

static mn_status sf_value(const mn_norm *n, const mn_mat *A, double *out)
{
    *out = scale_of(n) * fro(A);
    return MN_OK;
}

static mn_status sf_dual(const mn_norm *n, const mn_mat *G, double *out)
{
    *out = fro(G) / scale_of(n);
    return MN_OK;
}

static mn_status sf_lmo(const mn_norm *n, mn_mat *out, const mn_mat *G,
                        const mn_polar_provider *polar)
{
    (void)polar;
    double f = fro(G) * scale_of(n);
    for (int64_t i = 0; i < G->rows; i++)
        for (int64_t j = 0; j < G->cols; j++)
            mn_mat_set(out, i, j, mn_mat_get(G, i, j) / f);
    return MN_OK;
}

static const mn_norm twice_fro = {.name = "twice-fro", .title = "2·Frobenius",
                                  .value = sf_value, .dual = sf_dual, .lmo = sf_lmo};

/* A spectral-type norm added from outside, as README's "Extending" shows it:
 * value and dual through the library's spectral norm, and an lmo that calls
 * the polar provider unconditionally (mn_norm_lmo never passes it NULL). */
static const mn_norm *library_spectral(void)
{
    const mn_norm *n = NULL;
    return mn_norm_lookup("spectral", &n) == MN_OK ? n : NULL;
}

static mn_status os_value(const mn_norm *self, const mn_mat *A, double *out)
{
    (void)self;
    return mn_norm_value(library_spectral(), A, out);
}

static mn_status os_dual(const mn_norm *self, const mn_mat *G, double *out)
{
    (void)self;
    return mn_norm_dual(library_spectral(), G, out);
}

static mn_status os_lmo(const mn_norm *self, mn_mat *out, const mn_mat *G,
                        const mn_polar_provider *polar)
{
    (void)self;
    return polar->polar(polar->ctx, out, G);
}

static const mn_norm outside_spectral = {.name = "outside-spectral", .title = "σ_max, from outside",
                                         .value = os_value, .dual = os_dual, .lmo = os_lmo,
                                         .uses_polar = true};

/* The family scaledfro-C: C·‖A‖_F for C > 0. */
static mn_status sf_parse(const char *param, void *params, char *name, size_t cap,
                          const char **same_as)
{
    char *end;
    double c = strtod(param, &end);
    if (end == param || *end || !(c > 0) || isinf(c))
        return mn_set_error(MN_ERR_ARG, "scaledfro-C: C = '%s' must be a number > 0", param);
    *(double *)params = c;
    *same_as = c == 1 ? "frobenius" : NULL;
    snprintf(name, cap, "scaledfro-%g", c);
    return MN_OK;
}

static const mn_norm_family scaled_fro = {
    .prefix = "scaledfro", .pattern = "scaledfro-C", .params_size = sizeof(double),
    .parse = sf_parse,
    .norm = {.title = "C·Frobenius", .value = sf_value, .dual = sf_dual, .lmo = sf_lmo}};

START_TEST(test_register_norms)
{
    size_t before = mn_norm_count();
    ck_assert_ok(mn_norm_register(&twice_fro));
    ck_assert_uint_eq(mn_norm_count(), before + 1);
    ck_assert_ptr_eq(mn_norm_at(before), &twice_fro);
    const mn_norm *n;
    ck_assert_ok(mn_norm_lookup("twice-fro", &n));
    ck_assert_ptr_eq(n, &twice_fro);
    ck_assert_ptr_nonnull(strstr(mn_norm_names(), "twice-fro"));
    /* the property tests hold for it, through the library's checked calls */
    mn_mat G = tm_make(TM_GAUSSIAN, MN_F32, 5, 7, 3);
    check_lmo_properties(n, &G, 4);
    /* an atom takes it by name */
    mn_module *L;
    ck_assert_ok(mn_linear(&L, 3, 4));
    ck_assert_ok(mn_module_set_norm(L, "twice-fro"));
    ck_assert_ptr_eq(mn_module_norm(L), &twice_fro);
    mn_module_destroy(L);
    /* a spectral-type lmo from outside gets the exact polar factor for NULL */
    ck_assert_ok(mn_norm_register(&outside_spectral));
    check_lmo_properties(&outside_spectral, &G, 4);

    /* Refused: taken names, aliases, refused pairs, family members, bad names,
     * missing functions. */
    static const struct {
        const char *name, *why;
    } bad[] = {{"twice-fro", "taken"},          {"rms-rms", "taken"},
               {"spectral", "taken"},           {"linf-l1", "refused"},
               {"schatten-7", "family"},        {"3d", "not a norm name"},
               {"a b", "not a norm name"},      {"", "not a norm name"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mn_norm copy = twice_fro;
        copy.name = bad[i].name;
        ck_assert_int_eq(mn_norm_register(&copy), MN_ERR_ARG);
        ck_assert_msg(strstr(mn_last_error(), bad[i].why), "%s: '%s'", bad[i].name,
                      mn_last_error());
    }
    mn_norm no_lmo = twice_fro;
    no_lmo.name = "no-lmo";
    no_lmo.lmo = NULL;
    ck_assert_int_eq(mn_norm_register(&no_lmo), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "lmo"));
    ck_assert_int_eq(mn_norm_register(NULL), MN_ERR_ARG);
    ck_assert_uint_eq(mn_norm_count(), before + 2);

    /* A family: members by parameter, one per canonical name, and its own
     * refusals. */
    ck_assert_ok(mn_norm_family_register(&scaled_fro));
    const mn_norm *a, *b;
    ck_assert_ok(mn_norm_lookup("scaledfro-3", &a));
    ck_assert_ok(mn_norm_lookup("scaledfro-3.0", &b));
    ck_assert_ptr_eq(a, b);
    ck_assert_str_eq(a->name, "scaledfro-3");
    ck_assert_ok(mn_norm_lookup("scaledfro-1", &b));
    ck_assert_str_eq(b->name, "frobenius");
    check_lmo_properties(a, &G, 5);
    double v;
    double g1[] = {3, 4};
    mn_mat V = mn_mat_view(MN_F64, g1, 1, 2);
    ck_assert_ok(mn_norm_value(a, &V, &v));
    ck_assert_double_eq_tol(v, 15, 1e-14);
    ck_assert_int_eq(mn_norm_lookup("scaledfro--1", &a), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "must be a number > 0"));
    ck_assert_ptr_nonnull(strstr(mn_norm_names(), "scaledfro-C"));
    mn_norm_family dup = scaled_fro;
    ck_assert_int_eq(mn_norm_family_register(&dup), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "taken"));
    dup.prefix = "frobenius";
    ck_assert_int_eq(mn_norm_family_register(&dup), MN_ERR_ARG);
    dup.prefix = "bad-prefix";
    ck_assert_int_eq(mn_norm_family_register(&dup), MN_ERR_ARG);
    mn_mat_free(&G);
}
END_TEST

/* Families whose parse names members badly, each C·Frobenius with C = 1. */
static mn_status named_parse(const char *param, void *params, char *name, size_t cap,
                             const char *fmt)
{
    *(double *)params = 1;
    snprintf(name, cap, fmt, param);
    return MN_OK;
}
static mn_status fc_parse(const char *param, void *params, char *name, size_t cap,
                          const char **same_as)
{
    (void)same_as;
    return named_parse(param, params, name, cap, "frobenius"); /* not its own name */
}
static mn_status fd_parse(const char *param, void *params, char *name, size_t cap,
                          const char **same_as)
{
    (void)same_as;
    return named_parse(param, params, name, cap, "fd-%s-canon"); /* grows at every reading */
}
static mn_status fe_parse(const char *param, void *params, char *name, size_t cap,
                          const char **same_as)
{
    (void)same_as;
    (void)param;
    return named_parse(param, params, name, cap, "fe-x"); /* a norm registered before it */
}
static mn_status fg_parse(const char *param, void *params, char *name, size_t cap,
                          const char **same_as)
{
    *same_as = strcmp(param, "one") == 0 ? "frobenius" : NULL; /* "fg-one" is another norm */
    return named_parse(param, params, name, cap, "fg-one");
}
static mn_status fh_parse(const char *param, void *params, char *name, size_t cap,
                          const char **same_as)
{
    (void)same_as;
    if (param[0] < '0' || param[0] > '9')
        return mn_set_error(MN_ERR_ARG, "fh-N: '%s' is not a number", param);
    return named_parse(param, params, name, cap, "fh-x%s"); /* which it cannot read */
}
static mn_status fok_parse(const char *param, void *params, char *name, size_t cap,
                           const char **same_as)
{
    (void)same_as;
    return named_parse(param, params, name, cap, "fok-%s"); /* well behaved */
}

/* A family member's canonical name is what it prints as (graph files,
 * checkpoints), so it must be the family's own (PREFIX-…), not a registered
 * norm's, and read back as itself. Before, "fc-1" was a norm named
 * "frobenius" that a graph file read back as the real Frobenius norm, and
 * "fd-1" → "fd-1-canon" → "fd-1-canon-canon". */
START_TEST(test_family_canonical_names)
{
    static mn_norm fe_x; /* registered norms outlive their use */
    fe_x = twice_fro;
    fe_x.name = "fe-x";
    ck_assert_ok(mn_norm_register(&fe_x));
    static const mn_norm_family fams[] = {
        {.prefix = "fc", .pattern = "fc-C", .params_size = sizeof(double), .parse = fc_parse,
         .norm = {.title = "fc", .value = sf_value, .dual = sf_dual, .lmo = sf_lmo}},
        {.prefix = "fd", .pattern = "fd-C", .params_size = sizeof(double), .parse = fd_parse,
         .norm = {.title = "fd", .value = sf_value, .dual = sf_dual, .lmo = sf_lmo}},
        {.prefix = "fe", .pattern = "fe-C", .params_size = sizeof(double), .parse = fe_parse,
         .norm = {.title = "fe", .value = sf_value, .dual = sf_dual, .lmo = sf_lmo}},
        {.prefix = "fg", .pattern = "fg-C", .params_size = sizeof(double), .parse = fg_parse,
         .norm = {.title = "fg", .value = sf_value, .dual = sf_dual, .lmo = sf_lmo}},
        {.prefix = "fh", .pattern = "fh-C", .params_size = sizeof(double), .parse = fh_parse,
         .norm = {.title = "fh", .value = sf_value, .dual = sf_dual, .lmo = sf_lmo}},
        {.prefix = "fok", .pattern = "fok-C", .params_size = sizeof(double), .parse = fok_parse,
         .norm = {.title = "fok", .value = sf_value, .dual = sf_dual, .lmo = sf_lmo}},
    };
    for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++)
        ck_assert_ok(mn_norm_family_register(&fams[i]));
    static const struct {
        const char *lookup, *needle;
    } bad[] = {
        {"fc-1", "the family fc-C names it 'frobenius', which does not start with 'fc-'"},
        {"fd-1", "the family fd-C names it 'fd-1-canon', which reads back as "
                 "'fd-1-canon-canon'"},
        {"fe-y", "the family fe-C names it 'fe-x', which is the name of a registered norm"},
        {"fg-1", "the family fg-C names it 'fg-one', which reads back as 'frobenius'"},
        {"fh-1", "the family fh-C names it 'fh-x1', which it cannot read back: fh-N: 'x1' is "
                 "not a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (int twice = 0; twice < 2; twice++) { /* nothing was kept the first time */
            const mn_norm *n = (const mn_norm *)&n;
            mn_clear_error();
            ck_assert_int_eq(mn_norm_lookup(bad[i].lookup, &n), MN_ERR_ARG);
            ck_assert_ptr_null(n);
            ck_assert_msg(strstr(mn_last_error(), bad[i].needle) &&
                              !strchr(mn_last_error(), '\n'),
                          "%s: %s", bad[i].lookup, mn_last_error());
        }
    /* what is registered under those names is untouched */
    const mn_norm *n;
    ck_assert_ok(mn_norm_lookup("frobenius", &n));
    ck_assert_msg(n->value != sf_value, "'frobenius' is fc's member"); /* the built-in one */
    ck_assert_ok(mn_norm_lookup("fe-x", &n));
    ck_assert_ptr_eq(n, &fe_x);
    /* a family that names its members well is unaffected */
    const mn_norm *a, *b;
    ck_assert_ok(mn_norm_lookup("fok-2", &a));
    ck_assert_str_eq(a->name, "fok-2");
    ck_assert_ok(mn_norm_lookup(a->name, &b));
    ck_assert_ptr_eq(a, b);
}
END_TEST

/* ---- taps-K: a Conv2D's per-tap norm (norms/conv_taps.c) ----------------
 * The family acts on d_out x (d_in·k²) matrices only, so it has its own
 * shapes here: tall, wide and square taps, d_in = 1 and d_out = 1. The same
 * properties as every norm: ‖lmo(G)‖ = 1, <G, lmo(G)> = dual(G), no feasible
 * point does better, in place = out of place; and the whole float range. */
/* ---- mn_norm_check: passes every library norm, refuses broken ones ---------------- */

static const mn_norm *lib(const char *name)
{
    const mn_norm *n = NULL;
    return mn_norm_lookup(name, &n) == MN_OK ? n : NULL;
}

/* Value and dual of the library's ℓ∞→ℓ∞ (max row sum), under other lmos. */
static mn_status rows_value(const mn_norm *self, const mn_mat *A, double *out)
{
    (void)self;
    return mn_norm_value(lib("linf-linf"), A, out);
}

static mn_status rows_dual(const mn_norm *self, const mn_mat *G, double *out)
{
    (void)self;
    return mn_norm_dual(lib("linf-linf"), G, out);
}

static mn_status rows_dual_doubled(const mn_norm *self, const mn_mat *G, double *out)
{
    mn_status st = rows_dual(self, G, out);
    *out *= 2;
    return st;
}

static mn_status rows_lmo(const mn_norm *self, mn_mat *out, const mn_mat *G,
                          const mn_polar_provider *polar)
{
    (void)self;
    return mn_norm_lmo(lib("linf-linf"), out, G, polar);
}

static mn_status rows_lmo_doubled(const mn_norm *self, mn_mat *out, const mn_mat *G,
                                  const mn_polar_provider *polar)
{
    mn_status st = rows_lmo(self, out, G, polar);
    mn_mat_scale(out, 2);
    return st;
}

/* The natural first try that breaks in place: clear out, then set each row's
 * largest entry's sign: with out == G the argmax reads zeros. */
static mn_status rows_lmo_clears_first(const mn_norm *self, mn_mat *out, const mn_mat *G,
                                       const mn_polar_provider *polar)
{
    (void)self;
    (void)polar;
    mn_mat_fill(out, 0);
    for (int64_t i = 0; i < G->rows; i++) {
        int64_t best = 0;
        for (int64_t j = 1; j < G->cols; j++)
            if (fabs(mn_mat_get(G, i, j)) > fabs(mn_mat_get(G, i, best)))
                best = j;
        mn_mat_set(out, i, best, mn_mat_get(G, i, best) < 0 ? -1 : 1);
    }
    return MN_OK;
}

/* Writes as if every matrix were contiguous row-major (cs = 1, rs = cols). */
static mn_status rows_lmo_ignores_strides(const mn_norm *self, mn_mat *out, const mn_mat *G,
                                          const mn_polar_provider *polar)
{
    mn_mat tmp;
    mn_status st = mn_mat_alloc(&tmp, G->dtype, G->rows, G->cols);
    if (st != MN_OK)
        return st;
    st = rows_lmo(self, &tmp, G, polar);
    if (st == MN_OK)
        memcpy(out->data, tmp.data, (size_t)(G->rows * G->cols) * mn_dtype_size(G->dtype));
    mn_mat_free(&tmp);
    return st;
}

START_TEST(test_norm_check)
{
    /* every library norm, two family members each, at shapes it takes */
    static const int64_t check_shapes[][2] = {{12, 5}, {5, 12}, {1, 9}, {9, 1}};
    for (size_t k = 0; k < every_norm_count(); k++)
        for (size_t s = 0; s < 4; s++) {
            const mn_norm *n = every_norm(k);
            ck_assert_msg(mn_norm_check(n, check_shapes[s][0], check_shapes[s][1], 7 + k) == MN_OK,
                          "%s: %s", n->name, mn_last_error());
        }
    ck_assert_msg(mn_norm_check(lib("taps-3"), 4, 18, 1) == MN_OK, "%s", mn_last_error());
    ck_assert_msg(mn_norm_check(&outside_spectral, 6, 4, 1) == MN_OK, "%s", mn_last_error());

    /* broken norms: refused, the property named in one line */
    static const struct {
        mn_norm norm;
        const char *says;
    } broken[] = {
        {{.name = "rows-doubled", .value = rows_value, .dual = rows_dual, .lmo = rows_lmo_doubled},
         "‖lmo(G)‖ = 2"},
        {{.name = "rows-dual2", .value = rows_value, .dual = rows_dual_doubled, .lmo = rows_lmo},
         "<G, lmo(G)>"},
        {{.name = "rows-clears", .value = rows_value, .dual = rows_dual,
          .lmo = rows_lmo_clears_first}, "in place (out == G)"},
        {{.name = "rows-strides", .value = rows_value, .dual = rows_dual,
          .lmo = rows_lmo_ignores_strides}, "on a strided view"},
    };
    for (size_t i = 0; i < sizeof broken / sizeof *broken; i++) {
        mn_status st = mn_norm_check(&broken[i].norm, 7, 5, 3);
        const char *msg = mn_last_error();
        ck_assert_msg(st == MN_ERR_ARG && strstr(msg, broken[i].norm.name) &&
                          strstr(msg, broken[i].says) && !strchr(msg, '\n'),
                      "%s: status %d: %s", broken[i].norm.name, st, msg);
    }
    /* the clears-first lmo is right into a separate matrix (it is the
     * in-place call alone that breaks it) */
    mn_mat G = tm_make(TM_GAUSSIAN, MN_F64, 7, 5, 1), A, B;
    ck_assert_ok(mn_mat_alloc(&A, MN_F64, 7, 5));
    ck_assert_ok(mn_mat_alloc(&B, MN_F64, 7, 5));
    ck_assert_ok(mn_norm_lmo(&broken[2].norm, &A, &G, NULL));
    ck_assert_ok(mn_norm_lmo(lib("linf-linf"), &B, &G, NULL));
    ck_assert_double_eq(tm_max_abs_diff(&A, &B), 0);
    mn_mat_free(&A);
    mn_mat_free(&B);
    mn_mat_free(&G);

    /* its own refusals */
    ck_assert_int_eq(mn_norm_check(NULL, 3, 3, 1), MN_ERR_ARG);
    ck_assert_int_eq(mn_norm_check(lib("frobenius"), 0, 3, 1), MN_ERR_ARG);
    ck_assert_int_eq(mn_norm_check(lib("frobenius"), 3, 5000, 1), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "3x5000"));
    ck_assert_int_eq(mn_norm_check(lib("taps-3"), 4, 10, 1), MN_ERR_SHAPE);
}
END_TEST

START_TEST(test_conv_tap_norms)
{
    static const struct {
        const char *name;
        int64_t shapes[5][2];
    } fams[] = {{"taps-2", {{6, 8}, {3, 20}, {4, 16}, {1, 12}, {5, 4}}},
                {"taps-3", {{7, 18}, {2, 27}, {9, 9}, {1, 9}, {12, 45}}}};
    for (size_t fi = 0; fi < 2; fi++) {
        const mn_norm *n;
        ck_assert_ok(mn_norm_lookup(fams[fi].name, &n));
        ck_assert_str_eq(n->name, fams[fi].name);
        ck_assert(n->uses_polar);
        for (int s = 0; s < 5; s++)
            for (int dt = MN_F32; dt <= MN_F64; dt++)
                for (int kind = TM_GAUSSIAN; kind <= TM_LOW_RANK_NOISE; kind++) {
                    uint64_t seed = 7000 + 100 * fi + 10 * (uint64_t)s + (uint64_t)dt +
                                    1000 * (uint64_t)kind;
                    mn_mat G = tm_make((tm_kind)kind, (mn_dtype)dt, fams[fi].shapes[s][0],
                                       fams[fi].shapes[s][1], seed);
                    check_lmo_properties(n, &G, seed + 7);
                    mn_mat_free(&G);
                }
    }
    /* across the range, as test_every_norm_over_the_whole_range */
    failures f = {0, ""};
    const mn_norm *n;
    ck_assert_ok(mn_norm_lookup("taps-2", &n));
    /* K in the options' integer syntax (review-s12 #14) */
    const mn_norm *same;
    ck_assert_ok(mn_norm_lookup("taps-2^1", &same));
    ck_assert_ptr_eq(same, n);
    ck_assert_ok(mn_norm_lookup("taps-2^0", &same));
    ck_assert_str_eq(same->name, "rms-rms");
    static const char *bad_k[] = {"taps-2^-1", "taps-1e1", "taps-3.0", "taps- 3", "taps-0x3"};
    for (size_t i = 0; i < sizeof bad_k / sizeof bad_k[0]; i++) {
        ck_assert_int_eq(mn_norm_lookup(bad_k[i], &same), MN_ERR_ARG);
        ck_assert_msg(strstr(mn_last_error(), "is not a kernel size"), "%s: '%s'", bad_k[i],
                      mn_last_error());
    }
    ck_assert_int_eq(mn_norm_lookup("taps-2^7", &same), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "k = 128 is outside [1, 64]"));
    static const int64_t ext[][2] = {{3, 8}, {5, 4}, {1, 8}, {4, 4}};
    check_whole_range(&f, n, ext, 4, 90);
    ck_assert_msg(f.count == 0, "%d failures, the first:\n%s", f.count, f.text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norms");
    TCase *tc = tcase_create("norms");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_hand_computed_values);
    tcase_add_test(tc, test_lmo_closed_forms);
    tcase_add_test(tc, test_spectral_scales);
    tcase_add_test(tc, test_lmo_properties_every_norm);
    tcase_add_test(tc, test_operator_values_against_sampling);
    tcase_add_test(tc, test_zero_and_nonfinite);
    tcase_add_test(tc, test_bad_matrices_refused);
    tcase_add_test(tc, test_lookup);
    tcase_add_test(tc, test_l2_extreme_float64);
    tcase_add_test(tc, test_every_norm_over_the_whole_range);
    tcase_add_test(tc, test_subnormal_and_overflowing_examples);
    tcase_add_test(tc, test_against_numpy_fixture);
    tcase_add_test(tc, test_schatten_lmo_properties);
    tcase_add_test(tc, test_schatten_values_and_names);
    tcase_add_test(tc, test_register_norms);
    tcase_add_test(tc, test_family_canonical_names);
    tcase_add_test(tc, test_conv_tap_norms);
    tcase_add_test(tc, test_norm_check);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
