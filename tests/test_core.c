/* Core: status messages, tensors and views, the RNG, and every BLIS wrapper
 * call against a naive loop (including transposed views and both dtypes). */
#include <math.h>
#include <string.h>

#include "core/blas.h"
#include "core/lapack.h"
#include "testutil.h"

START_TEST(test_status)
{
    ck_assert_str_eq(mn_status_str(MN_OK), "ok");
    ck_assert_str_eq(mn_status_str(MN_ERR_SHAPE), "shape mismatch");
    mn_tensor *t;
    int64_t shape[] = {2, -3};
    ck_assert_int_eq(mn_tensor_create(&t, 2, shape), MN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "shape[1] = -3"));
    ck_assert_int_eq(mn_tensor_create(&t, 5, shape), MN_ERR_SHAPE);
    ck_assert_int_eq(mn_tensor_create(&t, 2, NULL), MN_ERR_ARG);
    mn_clear_error();
    ck_assert_str_eq(mn_last_error(), "");
}
END_TEST

START_TEST(test_tensor_views)
{
    mn_tensor *t;
    int64_t shape[] = {3, 4};
    ck_assert_ok(mn_tensor_create(&t, 2, shape));
    ck_assert_int_eq(mn_tensor_numel(t), 12);
    ck_assert(mn_tensor_is_contiguous(t));
    for (int i = 0; i < 12; i++)
        t->data[i] = (float)i;
    mn_mat m;
    ck_assert_ok(mn_tensor_as_mat(t, &m));
    ck_assert_double_eq(mn_mat_get(&m, 2, 1), 9);
    mn_mat mt = mn_mat_transpose(m);
    ck_assert_int_eq(mt.rows, 4);
    ck_assert_double_eq(mn_mat_get(&mt, 1, 2), 9);
    mn_tensor_destroy(t);

    float buf[6] = {1, 2, 3, 4, 5, 6};
    int64_t s1[] = {6};
    ck_assert_ok(mn_tensor_wrap(&t, buf, 1, s1));
    ck_assert_ok(mn_tensor_as_mat(t, &m));
    ck_assert_int_eq(m.rows, 1);
    ck_assert_int_eq(m.cols, 6);
    mn_tensor_destroy(t); /* does not free buf */
    ck_assert_float_eq(buf[5], 6);
}
END_TEST

/* Sizes from a caller are checked before anything is allocated: a negative
 * dimension, or a shape whose element count (or byte count) overflows, is
 * refused with a message naming the function and the shape, never wrapped to
 * a small buffer. (2^32, 2^32) wraps to 0 in 64-bit size arithmetic. */
START_TEST(test_sizes_checked)
{
    const int64_t big = INT64_C(1) << 32;
    const struct {
        int ndim;
        int64_t shape[MN_MAX_DIMS];
        const char *needle;
    } bad[] = {
        {2, {big, big}, "(4294967296, 4294967296)"},
        {1, {INT64_MAX}, "more than"},
        {2, {INT64_C(1) << 31, INT64_C(1) << 31}, "more than"}, /* 2^62 floats = 2^64 bytes */
        {4, {1 << 16, 1 << 16, 1 << 16, 1 << 16}, "more than"},
        {3, {4, -1, 4}, "shape[1] = -1"},
        {2, {-big, -big}, "negative"}, /* the product would be positive */
        {2, {0, -1}, "negative"},
    };
    float buf[4] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mn_tensor *t = (mn_tensor *)buf; /* must come back NULL */
        mn_clear_error();
        ck_assert_int_eq(mn_tensor_create(&t, bad[i].ndim, bad[i].shape), MN_ERR_SHAPE);
        ck_assert_ptr_null(t);
        ck_assert_msg(strstr(mn_last_error(), "mn_tensor_create") &&
                          strstr(mn_last_error(), bad[i].needle),
                      "case %zu: '%s' lacks '%s'", i, mn_last_error(), bad[i].needle);
        ck_assert_ptr_null(strchr(mn_last_error(), '\n'));
        t = (mn_tensor *)buf;
        ck_assert_int_eq(mn_tensor_wrap(&t, buf, bad[i].ndim, bad[i].shape), MN_ERR_SHAPE);
        ck_assert_ptr_null(t);
        ck_assert_ptr_nonnull(strstr(mn_last_error(), "mn_tensor_wrap"));
        if (bad[i].ndim == 2) {
            mn_mat m = {.data = buf};
            ck_assert_int_eq(mn_mat_alloc(&m, MN_F64, bad[i].shape[0], bad[i].shape[1]),
                             MN_ERR_SHAPE);
            ck_assert_ptr_eq(m.data, buf); /* untouched */
            ck_assert_msg(strstr(mn_last_error(), bad[i].needle), "mn_mat_alloc: '%s'",
                          mn_last_error());
        }
    }
    /* The limit is in bytes: 2^60 doubles (2^63 bytes) are refused. */
    mn_mat m;
    ck_assert_int_eq(mn_mat_alloc(&m, MN_F64, INT64_C(1) << 30, INT64_C(1) << 30), MN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "8 bytes"));
    /* Empty shapes are fine and allocate something freeable. */
    mn_tensor *t;
    ck_assert_ok(mn_tensor_create(&t, 2, (const int64_t[]){0, big}));
    ck_assert_int_eq(mn_tensor_numel(t), 0);
    mn_tensor_destroy(t);
    ck_assert_ok(mn_mat_alloc(&m, MN_F32, big, 0));
    mn_mat_free(&m);

    /* Atoms and networks: a Linear's weights, and a network's sum of them. */
    mn_module *lin = NULL;
    ck_assert_int_eq(mn_linear(&lin, big, big), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "Linear"));
    ck_assert_int_eq(mn_embed(&lin, big, big), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "Embed"));
    mn_module *layers[2], *root;
    ck_assert_ok(mn_linear(&layers[0], INT64_C(1) << 30, INT64_C(1) << 30)); /* 2^62 bytes */
    ck_assert_ok(mn_linear(&layers[1], INT64_C(1) << 30, INT64_C(1) << 30));
    ck_assert_ok(mn_sequential(&root, 2, layers));
    mn_network *net = (mn_network *)buf;
    ck_assert_int_eq(mn_network_create(&net, root, MN_PARAM_MODULAR, 1), MN_ERR_ARG);
    ck_assert_ptr_null(net);
    ck_assert_msg(strstr(mn_last_error(), "mn_network_create"), "'%s'", mn_last_error());

    /* LAPACK's 32-bit sizes: a 2^31 x 1 view is refused before its data is
     * read (the view's 4 floats are all there is). */
    mn_mat tall = {.dtype = MN_F32, .rows = INT64_C(1) << 31, .cols = 1, .rs = 1, .cs = 1,
                   .data = buf};
    double sv;
    int e;
    ck_assert_int_eq(mn_lapack_singular_values(&tall, &sv, &e), MN_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "2147483648x1"));
}
END_TEST

/* A negative size is MN_ERR_SHAPE wherever it comes in, as tensor.h says: a
 * shape to allocate or wrap, a view passed to a norm, the polar factor or the
 * .npy writers (mn_mat_alloc and mn_tensor_create said MN_ERR_ARG while
 * mn_norm_value said MN_ERR_SHAPE). */
START_TEST(test_negative_size_one_code)
{
    float buf[8] = {0};
    mn_tensor *t = NULL;
    ck_assert_refused(mn_tensor_create(&t, 2, (const int64_t[]){-1, 3}), MN_ERR_SHAPE,
                      "mn_tensor_create: shape (-1, 3) has a negative dimension");
    ck_assert_refused(mn_tensor_wrap(&t, buf, 2, (const int64_t[]){2, -3}), MN_ERR_SHAPE,
                      "mn_tensor_wrap");
    mn_mat m;
    ck_assert_refused(mn_mat_alloc(&m, MN_F32, -1, 3), MN_ERR_SHAPE, "mn_mat_alloc");
    mn_mat neg = mn_mat_view(MN_F32, buf, -1, 3);
    const mn_norm *n;
    ck_assert_ok(mn_norm_lookup("spectral", &n));
    double v;
    ck_assert_refused(mn_norm_value(n, &neg, &v), MN_ERR_SHAPE, "negative size");
    mn_mat out = mn_mat_view(MN_F32, buf, -1, 3);
    ck_assert_refused(mn_polar_run(&(mn_dualize_opts){0}, &out, &neg), MN_ERR_SHAPE,
                      "negative size");
    /* refused before the path is touched */
    ck_assert_refused(mn_npy_write("/nonexistent/neg.npy", &neg), MN_ERR_SHAPE, "-1x3");
    ck_assert_refused(mn_npy_write_raw("/nonexistent/neg.npy", "<f4", 1, (const int64_t[]){-2},
                                       buf, 0),
                      MN_ERR_SHAPE, "dimension 0 (-2) is negative");
    /* and the other refusals keep their codes */
    ck_assert_refused(mn_tensor_create(NULL, 1, (const int64_t[]){1}), MN_ERR_ARG, "out is NULL");
    ck_assert_refused(mn_mat_alloc(&m, (mn_dtype)7, 1, 1), MN_ERR_ARG, "unknown dtype");
}
END_TEST

START_TEST(test_rng_reproducible)
{
    mn_rng a, b;
    mn_rng_seed(&a, 42);
    mn_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(mn_rng_next(&a), mn_rng_next(&b));
    /* The stream is fixed across platforms: pin its first value. */
    mn_rng_seed(&a, 0);
    ck_assert_uint_eq(mn_rng_next(&a), 0x99ec5f36cb75f2b4ULL);
    /* Normal samples: mean ~0, variance ~1. */
    double s = 0, s2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = mn_rng_normal(&a);
        s += x;
        s2 += x * x;
    }
    ck_assert_double_le(fabs(s / n), 0.01);
    ck_assert_double_le(fabs(s2 / n - 1), 0.02);
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_lt(mn_rng_below(&a, 7), 7);
}
END_TEST

/* Careless tensors and views (public structs, any field may be wrong): an
 * error naming the argument from the functions with a status, the
 * documented sentinel from the others, never a crash (Check runs each test
 * in a child, so a crash fails it). */
START_TEST(test_bad_tensors_and_views)
{
    float v[4] = {1, 2, 3, 4};
    mn_mat a = mn_mat_view(MN_F32, v, 2, 2), nodata = a, bad = a, neg = a;
    nodata.data = NULL;
    bad.dtype = (mn_dtype)7;
    neg.rows = -1;
    double d = 5;
    ck_assert_refused(mn_mat_dot(NULL, &a, &d), MN_ERR_ARG, "mn_mat_dot: a is NULL");
    ck_assert_refused(mn_mat_dot(&a, NULL, &d), MN_ERR_ARG, "mn_mat_dot: b is NULL");
    ck_assert_refused(mn_mat_dot(&a, &a, NULL), MN_ERR_ARG, "mn_mat_dot: out is NULL");
    ck_assert_refused(mn_mat_dot(&nodata, &a, &d), MN_ERR_ARG, "a's data is NULL");
    /* a dtype outside the enum was read as float64: wrong numbers with MN_OK */
    ck_assert_refused(mn_mat_dot(&a, &bad, &d), MN_ERR_ARG, "b has dtype 7");
    ck_assert_refused(mn_mat_dot(&neg, &a, &d), MN_ERR_SHAPE, "a is -1x2");
    ck_assert_double_eq(d, 5);
    ck_assert_refused(mn_mat_copy(NULL, &a), MN_ERR_ARG, "mn_mat_copy: dst is NULL");
    ck_assert_refused(mn_mat_copy(&a, &bad), MN_ERR_ARG, "mn_mat_copy: src has dtype 7");
    ck_assert_refused(mn_mat_check_finite(NULL, "x"), MN_ERR_ARG, "mn_mat_check_finite: x is NULL");
    ck_assert_refused(mn_mat_check_finite(&nodata, "x"), MN_ERR_ARG, "x's data is NULL");
    ck_assert_refused(mn_mat_check_finite(&bad, NULL), MN_ERR_ARG, "the matrix has dtype 7");
    ck_assert(!mn_mat_is_zero(NULL));
    ck_assert(!mn_mat_is_zero(&nodata));
    mn_mat_fill(NULL, 1);
    mn_mat_fill(&nodata, 1);
    mn_mat_fill(&bad, 9); /* left alone, not written as doubles */
    mn_mat_scale(NULL, 2);
    mn_mat_scale(&bad, 2);
    ck_assert(v[0] == 1 && v[1] == 2 && v[2] == 3 && v[3] == 4);
    /* an empty view may have no data */
    mn_mat empty = {.dtype = MN_F64, .rows = 0, .cols = 3};
    ck_assert_ok(mn_mat_check_finite(&empty, "empty"));
    ck_assert_str_eq(mn_dtype_name((mn_dtype)7), "(not a dtype)");
    ck_assert_uint_eq(mn_dtype_size((mn_dtype)7), 0);
    ck_assert_str_eq(mn_dtype_name(MN_F64), "float64");

    mn_tensor *t;
    ck_assert_ok(mn_tensor_create(&t, 2, (int64_t[]){2, 3}));
    ck_assert_int_eq(mn_tensor_numel(NULL), 0);
    ck_assert(!mn_tensor_is_contiguous(NULL));
    mn_tensor odd = *t;
    odd.ndim = 7; /* would read past shape[] */
    ck_assert_int_eq(mn_tensor_numel(&odd), 0);
    ck_assert(!mn_tensor_is_contiguous(&odd));
    mn_mat m;
    ck_assert_refused(mn_tensor_as_mat(&odd, &m), MN_ERR_SHAPE, "t has 7 dimensions");
    odd = *t;
    odd.data = NULL;
    ck_assert_refused(mn_tensor_as_mat(&odd, &m), MN_ERR_ARG, "t's data is NULL (a (2, 3) tensor)");
    ck_assert_refused(mn_tensor_as_mat(t, NULL), MN_ERR_ARG, "out is NULL");
    odd = *t;
    odd.shape[1] = -3;
    ck_assert_refused(mn_tensor_as_mat(&odd, &m), MN_ERR_SHAPE,
                      "mn_tensor_as_mat: t: shape (2, -3) has a negative dimension");
    odd.shape[0] = odd.shape[1] = INT64_C(1) << 40; /* the count would wrap */
    odd.data = NULL;
    ck_assert_refused(mn_tensor_as_mat(&odd, &m), MN_ERR_SHAPE, "more than");
    mn_tensor_destroy(t);

    /* a NULL generator draws nothing */
    mn_rng_seed(NULL, 1);
    ck_assert_uint_eq(mn_rng_next(NULL), 0);
    ck_assert_uint_eq(mn_rng_below(NULL, 5), 0);
    ck_assert(isnan(mn_rng_uniform(NULL)));
    ck_assert(isnan(mn_rng_normal(NULL)));
    mn_rng r;
    mn_rng_seed(&r, 3);
    mn_rng_fill_normal(NULL, &a);
    mn_rng_fill_normal(&r, NULL);
    mn_rng_fill_normal(&r, &bad);
    mn_rng_fill_normal(&r, &nodata);
    ck_assert(v[0] == 1 && v[1] == 2 && v[2] == 3 && v[3] == 4);
}
END_TEST

static void naive_gemm(double alpha, const mn_mat *A, const mn_mat *B, double beta, mn_mat *C)
{
    for (int64_t i = 0; i < C->rows; i++)
        for (int64_t j = 0; j < C->cols; j++) {
            double s = 0;
            for (int64_t p = 0; p < A->cols; p++)
                s += mn_mat_get(A, i, p) * mn_mat_get(B, p, j);
            mn_mat_set(C, i, j, alpha * s + beta * mn_mat_get(C, i, j));
        }
}

START_TEST(test_blas_against_naive)
{
    for (int dt = MN_F32; dt <= MN_F64; dt++) {
        double tol = dt == MN_F32 ? 1e-4 : 1e-12;
        mn_mat A = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 13, 7, 1);
        mn_mat B = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 7, 11, 2);
        mn_mat C = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 13, 11, 3);
        mn_mat R = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 13, 11, 3);
        for (int threads = 1; threads <= 2; threads++) {
            ck_assert_ok(mn_blas_gemm(0.5, &A, &B, -2.0, &C, threads));
            naive_gemm(0.5, &A, &B, -2.0, &R);
            ck_assert_double_le(tm_max_abs_diff(&C, &R), tol * 10);
        }
        /* Transposed views: Cᵀ (11x13) = Bᵀ Aᵀ. */
        mn_mat Ct = mn_mat_transpose(C), Rt = mn_mat_transpose(R);
        mn_mat At = mn_mat_transpose(A), Bt = mn_mat_transpose(B);
        ck_assert_ok(mn_blas_gemm(1.0, &Bt, &At, 0.0, &Ct, 0));
        naive_gemm(1.0, &Bt, &At, 0.0, &Rt);
        ck_assert_double_le(tm_max_abs_diff(&C, &R), tol * 10);

        /* syrk and gemmt: lower triangle only, upper untouched. */
        mn_mat S = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 13, 13, 4);
        mn_mat S0 = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 13, 13, 4);
        mn_mat SR = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 13, 13, 4);
        ck_assert_ok(mn_blas_syrk_lower(2.0, &A, 0.5, &S, 0));
        naive_gemm(2.0, &A, &At, 0.5, &SR);
        for (int64_t i = 0; i < 13; i++)
            for (int64_t j = 0; j < 13; j++) {
                double want = j <= i ? mn_mat_get(&SR, i, j) : mn_mat_get(&S0, i, j);
                ck_assert_double_le(fabs(mn_mat_get(&S, i, j) - want), tol * 10);
            }
        ck_assert_ok(mn_mat_copy(&S, &S0));
        ck_assert_ok(mn_mat_copy(&SR, &S0));
        ck_assert_ok(mn_blas_gemmt_lower(1.5, &A, &At, 0.0, &S, 0));
        naive_gemm(1.5, &A, &At, 0.0, &SR);
        for (int64_t i = 0; i < 13; i++)
            for (int64_t j = 0; j <= i; j++)
                ck_assert_double_le(fabs(mn_mat_get(&S, i, j) - mn_mat_get(&SR, i, j)), tol * 10);

        /* symm: only S's lower triangle is read (its upper one is garbage). */
        mn_mat Sfull = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 13, 13, 5);
        mn_mat Bs = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 13, 11, 6);
        mn_mat Cs = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 13, 11, 7);
        mn_mat Rs = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 13, 11, 7);
        ck_assert_ok(mn_mat_copy(&S, &Sfull));
        for (int64_t i = 0; i < 13; i++)
            for (int64_t j = i + 1; j < 13; j++) {
                mn_mat_set(&Sfull, i, j, mn_mat_get(&Sfull, j, i));
                mn_mat_set(&S, i, j, 1e30);
            }
        ck_assert_ok(mn_blas_symm_lower(0.5, &S, &Bs, 2.0, &Cs, 0));
        naive_gemm(0.5, &Sfull, &Bs, 2.0, &Rs);
        ck_assert_double_le(tm_max_abs_diff(&Cs, &Rs), tol * 10);

        ck_assert_int_eq(mn_blas_gemm(1.0, &A, &A, 0.0, &C, 0), MN_ERR_SHAPE);
        ck_assert_int_eq(mn_blas_symm_lower(1.0, &A, &B, 0.0, &C, 0), MN_ERR_SHAPE);
        mn_mat *all[] = {&A, &B, &C, &R, &S, &S0, &SR, &Sfull, &Bs, &Cs, &Rs};
        for (int i = 0; i < 11; i++)
            mn_mat_free(all[i]);
    }
    ck_assert_str_ne(mn_blas_arch(), "");
}
END_TEST

/* A product above the one-thread cutoff (128³ multiply-adds) on 1 and 2
 * threads against the naive loops: the threaded path is exercised too. */
START_TEST(test_blas_threaded_against_naive)
{
    mn_mat A = tm_make(TM_GAUSSIAN, MN_F32, 200, 170, 8);
    mn_mat B = tm_make(TM_GAUSSIAN, MN_F32, 170, 150, 9);
    mn_mat C, R;
    ck_assert_ok(mn_mat_alloc(&C, MN_F32, 200, 150));
    ck_assert_ok(mn_mat_alloc(&R, MN_F32, 200, 150));
    naive_gemm(1.0, &A, &B, 0.0, &R);
    for (int threads = 1; threads <= 2; threads++) {
        mn_mat_fill(&C, 0);
        ck_assert_ok(mn_blas_gemm(1.0, &A, &B, 0.0, &C, threads));
        ck_assert_double_le(tm_max_abs_diff(&C, &R), 1e-3);
    }
    mn_mat *all[] = {&A, &B, &C, &R};
    for (int i = 0; i < 4; i++)
        mn_mat_free(all[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_status);
    tcase_add_test(tc, test_tensor_views);
    tcase_add_test(tc, test_sizes_checked);
    tcase_add_test(tc, test_negative_size_one_code);
    tcase_add_test(tc, test_rng_reproducible);
    tcase_add_test(tc, test_bad_tensors_and_views);
    tcase_add_test(tc, test_blas_against_naive);
    tcase_add_test(tc, test_blas_threaded_against_naive);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
