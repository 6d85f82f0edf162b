/* The bf16 product backend (src/core/bf16.c): rounding against a reference
 * that picks the nearest bf16 by comparing neighbours in double, and every
 * product against a naive double-precision loop over the same bf16-rounded
 * operands (odd shapes, every transpose, beta 0 and 1, zero sizes, several
 * threads, concurrent callers), through oneDNN when this build and CPU have
 * it and through the BLIS fallback always. Also the float32 products of
 * mn_mat_gemm, which oneDNN runs where it can (core/onednn.h), against the
 * same loop and against BLIS. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "core/gemm.h"
#include "core/onednn.h"
#include "testutil.h"

/* ---- rounding ------------------------------------------------------------------ */

static float bits_to_f32(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* The nearest bf16 to x by brute force: the two bf16 numbers around x (by
 * truncation and the next one away from zero), compared in double; a tie
 * goes to the even one. */
static mn_bf16 reference_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    mn_bf16 lo = (mn_bf16)(u >> 16), hi = (mn_bf16)(lo + 1);
    double dl = fabs((double)x - (double)mn_bf16_to_f32(lo));
    double vh = (double)mn_bf16_to_f32(hi);
    if ((hi & 0x7fff) == 0x7f80) /* past the largest bf16: overflow threshold 2^128·(1 - 2^-9) */
        vh = copysign(ldexp(1.0, 128), (double)x);
    double dh = fabs((double)x - vh);
    if (dl < dh)
        return lo;
    if (dh < dl)
        return hi;
    return (lo & 1) ? hi : lo;
}

START_TEST(test_round_to_nearest_even)
{
    /* Hand-picked: ties to even both ways, the overflow threshold, subnormals. */
    static const struct {
        uint32_t in;
        mn_bf16 out;
    } cases[] = {
        {0x3f800000u, 0x3f80}, /* 1 */
        {0x3f808000u, 0x3f80}, /* 1 + 2^-8: a tie, 0x3f80 is even */
        {0x3f818000u, 0x3f82}, /* a tie, 0x3f82 is even */
        {0x3f808001u, 0x3f81}, /* just above the tie */
        {0xbf808001u, 0xbf81}, /* the same, negative */
        {0x7f7fffffu, 0x7f80}, /* the largest float rounds to +Inf */
        {0x7f7f7fffu, 0x7f7f}, /* just below the overflow threshold */
        {0x7f800000u, 0x7f80}, /* +Inf */
        {0xff800000u, 0xff80}, /* -Inf */
        {0x00000001u, 0x0000}, /* the smallest subnormal rounds to +0 */
        {0x00008000u, 0x0000}, /* a subnormal tie goes to even 0 */
        {0x00018000u, 0x0002}, /* a subnormal tie goes to even 2 */
        {0x80000000u, 0x8000}, /* -0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mn_bf16 got = mn_bf16_from_f32(bits_to_f32(cases[i].in));
        ck_assert_msg(got == cases[i].out, "bf16(0x%08x) = 0x%04x, expected 0x%04x", cases[i].in,
                      got, cases[i].out);
    }
    /* NaNs stay NaN (quiet), signalling ones too. */
    ck_assert(isnan(mn_bf16_to_f32(mn_bf16_from_f32(bits_to_f32(0x7f800001u)))));
    ck_assert(isnan(mn_bf16_to_f32(mn_bf16_from_f32(bits_to_f32(0xffc00000u)))));
    ck_assert(isnan(mn_bf16_to_f32(mn_bf16_from_f32(bits_to_f32(0x7fffffffu)))));
    /* Every 16-bit upper half with a spread of lower halves (ties, ±1
     * around them, the extremes), against the reference. */
    static const uint32_t lows[] = {0x0000, 0x0001, 0x7fff, 0x8000, 0x8001, 0xffff, 0x1234, 0xc0de};
    for (uint32_t hi = 0; hi < 0x10000; hi++) {
        if ((hi & 0x7f80) == 0x7f80)
            continue; /* Inf/NaN: above */
        for (size_t j = 0; j < sizeof lows / sizeof lows[0]; j++) {
            float x = bits_to_f32(hi << 16 | lows[j]);
            mn_bf16 got = mn_bf16_from_f32(x), want = reference_round(x);
            if (got != want)
                ck_abort_msg("bf16(0x%08x) = 0x%04x, reference 0x%04x", hi << 16 | lows[j], got,
                             want);
        }
    }
    /* The array form (threaded, vectorized) gives the scalar form. */
    int64_t n = 300001;
    float *x = malloc((size_t)n * sizeof *x);
    mn_bf16 *y = malloc((size_t)n * sizeof *y);
    uint64_t state = 12345;
    for (int64_t i = 0; i < n; i++) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        x[i] = bits_to_f32((uint32_t)(state >> 32));
    }
    for (int threads = 1; threads <= 2; threads++) {
        mn_bf16_round(y, x, n, threads);
        for (int64_t i = 0; i < n; i++) {
            mn_bf16 want = mn_bf16_from_f32(x[i]);
            if (y[i] != want)
                ck_abort_msg("array rounding at %lld: 0x%04x, scalar 0x%04x", (long long)i, y[i],
                             want);
        }
    }
    free(x);
    free(y);
}
END_TEST

/* The per-target kernels (mn_bf16_round_run, mn_bf16_round_scaled_run: the
 * clone this CPU runs) bit for bit against the scalar form, NaNs included,
 * at every length up to 70 (vector bodies and every tail) from every start
 * within a 64-byte line, writing nothing past n. */
START_TEST(test_round_runs_bit_exact)
{
    enum { N = 70 + 16, GUARD = 8 };
    static const uint32_t specials[] = {0x7f800001u, 0xffc00000u, 0x7fffffffu, 0x7f800000u,
                                        0xff800000u, 0x7f7fffffu, 0x7f7f7fffu, 0x00008000u,
                                        0x00018000u, 0x80000000u, 0x3f808000u, 0x3f818000u};
    const float scales[] = {1.0f, 0.75f, 3.0e38f, 1.0e-30f, -2.0f};
    float x[N];
    mn_bf16 y[N + GUARD];
    uint64_t state = 99;
    for (int i = 0; i < N; i++) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        uint32_t u = (uint32_t)(state >> 32);
        x[i] = bits_to_f32(i % 5 == 0 ? specials[(u >> 8) % 12] : u);
    }
    for (int scaled = 0; scaled <= 5; scaled++)
        for (int start = 0; start < 16; start++)
            for (int n = 0; n <= 70; n++) {
                float f = scaled ? scales[scaled - 1] : 1.0f;
                memset(y, 0xa5, sizeof y);
                if (scaled)
                    mn_bf16_round_scaled_run(y + start, x + start, n, f);
                else
                    mn_bf16_round_run(y + start, x + start, n);
                for (int i = 0; i < N + GUARD; i++) {
                    bool inside = i >= start && i < start + n;
                    mn_bf16 want = !inside ? 0xa5a5
                                   : mn_bf16_from_f32(scaled ? f * x[i] : x[i]);
                    if (y[i] != want)
                        ck_abort_msg("%s run from %d of %d (f = %g): element %d is 0x%04x, "
                                     "expected 0x%04x", scaled ? "scaled" : "plain", start, n,
                                     (double)f, i, y[i], want);
                }
            }
}
END_TEST

/* ---- products ---------------------------------------------------------------------- */

/* A rows x cols bf16 matrix stored row-major (or, when `transposed`, as the
 * transpose view of a cols x rows row-major buffer), Gaussian, seeded. */
static mn_bf16_mat make_bf16(int64_t rows, int64_t cols, bool transposed, uint64_t seed)
{
    mn_mat g = tm_make(TM_GAUSSIAN, MN_F32, rows, cols, seed);
    mn_bf16 *d = malloc((size_t)(rows * cols > 0 ? rows * cols : 1) * sizeof *d);
    ck_assert_ptr_nonnull(d);
    mn_bf16_mat b = transposed ? mn_bf16_transpose(mn_bf16_view(d, cols, rows))
                               : mn_bf16_view(d, rows, cols);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            b.data[i * b.rs + j * b.cs] = mn_bf16_from_f32((float)mn_mat_get(&g, i, j));
    mn_mat_free(&g);
    return b;
}

static double bget(const mn_bf16_mat *b, int64_t i, int64_t j)
{
    return (double)mn_bf16_to_f32(b->data[i * b->rs + j * b->cs]);
}

/* Every element of the float32 view v from tm_make's Gaussian of a seed,
 * whatever v's strides. */
static void fill_gaussian(mn_mat *v, uint64_t seed)
{
    mn_mat g = tm_make(TM_GAUSSIAN, MN_F32, v->rows, v->cols, seed);
    for (int64_t i = 0; i < v->rows; i++)
        for (int64_t j = 0; j < v->cols; j++)
            ((float *)v->data)[i * v->rs + j * v->cs] = (float)mn_mat_get(&g, i, j);
    mn_mat_free(&g);
}

/* A float32 m x n matrix, row-major or a transpose view, filled from a seed. */
static mn_mat make_c(int64_t m, int64_t n, bool transposed, uint64_t seed)
{
    mn_mat c;
    ck_assert_ok(mn_mat_alloc(&c, MN_F32, transposed ? n : m, transposed ? m : n));
    if (transposed)
        c = mn_mat_transpose(c);
    fill_gaussian(&c, seed);
    return c;
}

/* C (as computed) against the exact product of the bf16 operands plus
 * beta·C0, entry by entry: products of bf16 numbers are exact in float32, so
 * the only error is float32 accumulation, at most about k·2^-24 of
 * Σ|a||b| (+|c0|); the bound allows 2k·2^-24, and a single wrong term of a
 * sum (a dropped or doubled product, a wrong index) is far above it. */
static void check_product(const mn_bf16_mat *A, const mn_bf16_mat *B, double beta,
                          const mn_mat *C0, const mn_mat *C, bool lower_only, const char *what)
{
    int64_t m = C->rows, n = C->cols, k = A->cols;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < (lower_only ? i + 1 : n); j++) {
            double exact = beta != 0 ? beta * mn_mat_get(C0, i, j) : 0;
            double mass = fabs(exact);
            for (int64_t p = 0; p < k; p++) {
                double t = bget(A, i, p) * bget(B, p, j);
                exact += t;
                mass += fabs(t);
            }
            double got = mn_mat_get(C, i, j), tol = 2.0 * (double)(k + 1) * 0x1p-24 * mass;
            if (!(fabs(got - exact) <= tol))
                ck_abort_msg("%s (%s): C[%lld,%lld] = %.9g, exact %.9g (tolerance %.3g)", what,
                             mn_bf16_impl(), (long long)i, (long long)j, got, exact, tol);
        }
}

/* The implementations this build can run: oneDNN (when native) and the
 * fallback. Returns the count; each iteration calls set_impl(i) first. */
static int impl_count(void) { return mn_bf16_native() ? 2 : 1; }

static void set_impl(int i)
{
    mn_bf16_force_fallback(false);
    bool native = mn_bf16_native();
    mn_bf16_force_fallback(!native || i == 1);
}

START_TEST(test_impl_is_named)
{
    mn_bf16_force_fallback(false);
    const char *name = mn_bf16_impl();
    ck_assert_ptr_nonnull(name);
#ifdef MN_HAVE_ONEDNN
    /* With oneDNN and bf16 hardware the name says which kernels run. */
    if (mn_bf16_native())
        ck_assert_msg(strncmp(name, "oneDNN ", 7) == 0 && strstr(name, "bf16"), "%s", name);
    else
        ck_assert_msg(strncmp(name, "fallback: ", 10) == 0, "%s", name);
#else
    ck_assert_msg(strstr(name, "built without oneDNN") != NULL, "%s", name);
    ck_assert(!mn_bf16_native());
#endif
    mn_bf16_force_fallback(true);
    ck_assert(!mn_bf16_native());
    ck_assert_msg(strncmp(mn_bf16_impl(), "fallback: ", 10) == 0, "%s", mn_bf16_impl());
    mn_bf16_force_fallback(false);
}
END_TEST

START_TEST(test_gemm_against_naive)
{
    static const int64_t shapes[][3] = {{1, 1, 1},   {3, 5, 7},    {17, 33, 65}, {130, 1, 7},
                                        {1, 300, 1}, {64, 64, 64}, {40, 257, 31}};
    for (int impl = 0; impl < impl_count(); impl++) {
        set_impl(impl);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 8; t++)
                for (int beta = 0; beta <= 1; beta++) {
                    int64_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
                    bool ta = t & 1, tb = t & 2, tc = t & 4;
                    mn_bf16_mat A = make_bf16(m, k, ta, 10 + s), B = make_bf16(k, n, tb, 20 + s);
                    mn_mat C = make_c(m, n, tc, 30 + s), C0 = make_c(m, n, false, 30 + s);
                    char what[96];
                    snprintf(what, sizeof what, "%lldx%lldx%lld ta %d tb %d tc %d beta %d",
                             (long long)m, (long long)k, (long long)n, ta, tb, tc, beta);
                    ck_assert_ok(mn_bf16_gemm(&A, &B, beta, &C, 1));
                    check_product(&A, &B, beta, &C0, &C, false, what);
                    free(A.data);
                    free(B.data);
                    mn_mat_free(&C0);
                    C = tc ? mn_mat_transpose(C) : C;
                    mn_mat_free(&C);
                }
    }
    mn_bf16_force_fallback(false);
}
END_TEST

/* A float32 rows x cols view inside a larger buffer: row-major with a row
 * stride of cols + 3, or a transpose view with a column stride of rows + 3. */
/* A rows x cols float32 view, row-major or (transposed) a transpose view,
 * its lines `pad` elements longer than the view (0: dense, as Linear's). */
static mn_mat make_f32_padded(int64_t rows, int64_t cols, bool transposed, int64_t pad,
                              uint64_t seed)
{
    mn_mat buf, v;
    if (transposed) {
        ck_assert_ok(mn_mat_alloc(&buf, MN_F32, cols, rows + pad));
        v = mn_mat_transpose(buf);
        v.rows = rows;
    } else {
        ck_assert_ok(mn_mat_alloc(&buf, MN_F32, rows, cols + pad));
        v = buf;
        v.cols = cols;
    }
    fill_gaussian(&v, seed);
    return v;
}

static mn_mat make_f32_strided(int64_t rows, int64_t cols, bool transposed, uint64_t seed)
{
    return make_f32_padded(rows, cols, transposed, 3, seed);
}

/* mn_bf16_gemm_rounded (the network's bf16 products) is the bf16 product of
 * its rounded operands, whatever their strides and orientation; a float64
 * operand or one without a unit stride is refused. */
START_TEST(test_gemm_rounded_against_naive)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {5, 3, 7}, {33, 65, 17}, {96, 40, 130}};
    for (int impl = 0; impl < impl_count(); impl++) {
        set_impl(impl);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 4; t++)
                for (int beta = 0; beta <= 1; beta++) {
                    int64_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
                    bool ta = t & 1, tb = t & 2;
                    mn_mat A = make_f32_strided(m, k, ta, 40 + s);
                    mn_mat B = make_f32_strided(k, n, tb, 50 + s);
                    mn_mat C = make_c(m, n, false, 60 + s), C0 = make_c(m, n, false, 60 + s);
                    /* the rounded operands, for the reference */
                    mn_bf16_mat Ab = make_bf16(m, k, false, 1), Bb = make_bf16(k, n, false, 1);
                    for (int64_t i = 0; i < m; i++)
                        for (int64_t j = 0; j < k; j++)
                            Ab.data[i * k + j] = mn_bf16_from_f32((float)mn_mat_get(&A, i, j));
                    for (int64_t i = 0; i < k; i++)
                        for (int64_t j = 0; j < n; j++)
                            Bb.data[i * n + j] = mn_bf16_from_f32((float)mn_mat_get(&B, i, j));
                    char what[96];
                    snprintf(what, sizeof what, "rounded %lldx%lldx%lld ta %d tb %d beta %d",
                             (long long)m, (long long)k, (long long)n, ta, tb, beta);
                    ck_assert_ok(mn_bf16_gemm_rounded(&A, &B, beta, &C, 1));
                    check_product(&Ab, &Bb, beta, &C0, &C, false, what);
                    free(Ab.data);
                    free(Bb.data);
                    mn_mat_free(&C0);
                    mn_mat_free(&C);
                    if (ta)
                        A = mn_mat_transpose(A);
                    if (tb)
                        B = mn_mat_transpose(B);
                    mn_mat_free(&A);
                    mn_mat_free(&B);
                }
    }
    mn_bf16_force_fallback(false);
    mn_mat a, b, c, d;
    ck_assert_ok(mn_mat_alloc(&a, MN_F32, 4, 6));
    ck_assert_ok(mn_mat_alloc(&b, MN_F32, 6, 5));
    ck_assert_ok(mn_mat_alloc(&c, MN_F32, 4, 5));
    ck_assert_ok(mn_mat_alloc(&d, MN_F64, 6, 5));
    ck_assert_int_eq(mn_bf16_gemm_rounded(&a, &d, 0.0, &c, 1), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "B must be a float32 view"));
    mn_mat strided = a;
    strided.cs = 2;
    strided.cols = 3;
    strided.rs = 6;
    mn_mat b3 = b;
    b3.rows = 3;
    ck_assert_int_eq(mn_bf16_gemm_rounded(&strided, &b3, 0.0, &c, 1), MN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "A needs a unit stride"));
    ck_assert_int_eq(mn_bf16_gemm_rounded(&a, &a, 0.0, &c, 1), MN_ERR_SHAPE);
    mn_mat_free(&a);
    mn_mat_free(&b);
    mn_mat_free(&c);
    mn_mat_free(&d);
}
END_TEST

/* The public product, mn_mat_gemm: fp32 is BLIS in the operands' dtype on
 * any strides; bf16 is mn_bf16_gemm_rounded bit for bit; and its refusals. */
START_TEST(test_mat_gemm_public)
{
    mn_mat A = tm_make(TM_GAUSSIAN, MN_F64, 7, 5, 71), Bt = tm_make(TM_GAUSSIAN, MN_F64, 9, 5, 72);
    mn_mat B = mn_mat_transpose(Bt), C;
    ck_assert_ok(mn_mat_alloc(&C, MN_F64, 7, 9));
    mn_mat_fill(&C, 1.0);
    ck_assert_ok(mn_mat_gemm(2.0, &A, &B, 0.5, &C, MN_PRECISION_FP32, 1));
    for (int64_t i = 0; i < 7; i++)
        for (int64_t j = 0; j < 9; j++) {
            double want = 0.5;
            for (int64_t p = 0; p < 5; p++)
                want += 2.0 * mn_mat_get(&A, i, p) * mn_mat_get(&B, p, j);
            ck_assert_double_eq_tol(mn_mat_get(&C, i, j), want, 1e-12);
        }
    mn_mat a32 = make_f32_strided(6, 40, false, 73), b32 = make_f32_strided(40, 8, true, 74);
    mn_mat c1 = make_c(6, 8, false, 75), c2 = make_c(6, 8, false, 75);
    ck_assert_ok(mn_mat_gemm(1.0, &a32, &b32, 1.0, &c1, MN_PRECISION_BF16, 1));
    ck_assert_ok(mn_bf16_gemm_rounded(&a32, &b32, 1.0, &c2, 1));
    ck_assert_mem_eq(c1.data, c2.data, 6 * 8 * sizeof(float));
    ck_assert_int_eq(mn_mat_gemm(2.0, &a32, &b32, 0.0, &c1, MN_PRECISION_BF16, 1),
                     MN_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "alpha 1"));
    ck_assert_int_eq(mn_mat_gemm(1.0, &A, &B, 0.0, &C, MN_PRECISION_BF16, 1), MN_ERR_UNSUPPORTED);
    ck_assert_int_eq(mn_mat_gemm(1.0, &A, &B, 0.0, &C, (mn_precision)5, 1), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "precision 5"));
    ck_assert_int_eq(mn_mat_gemm(1.0, NULL, &B, 0.0, &C, MN_PRECISION_FP32, 1), MN_ERR_ARG);
    ck_assert_int_eq(mn_mat_gemm(1.0, &B, &A, 0.0, &C, MN_PRECISION_FP32, 1), MN_ERR_SHAPE);
    mn_mat_free(&A);
    mn_mat_free(&Bt);
    mn_mat_free(&C);
    mn_mat_free(&a32);
    b32 = mn_mat_transpose(b32);
    mn_mat_free(&b32);
    mn_mat_free(&c1);
    mn_mat_free(&c2);
}
END_TEST

/* mn_mat_gemm's float32 products, through oneDNN (where this build and CPU
 * run float32 there; each layout is also run by mn_onednn_matmul directly,
 * which must not fall back) and through BLIS (oneDNN forced off), against a
 * naive loop in double: odd shapes, vectors, a GPT Linear shape, every
 * orientation of A, B and C with padded strides, beta 0 and 1, one and two
 * threads. The bound is float32 accumulation's, 2(k+1)·2^-24 of
 * Σ|a||b| + |c0| (each product now rounds too). A repeated call gives the
 * same bits. */
START_TEST(test_mat_gemm_f32_routes)
{
    /* the last three run as ragged 2-D tiles (onednn.c): 32+8 x 48+42, one
     * row of 7 columns, rows 16+16+1 */
    static const int64_t shapes[][3] = {{1, 1, 1},     {3, 5, 7},       {17, 33, 65},
                                        {130, 1, 7},   {130, 7, 1},     {1, 7, 130},
                                        {64, 128, 48}, {768, 128, 128}, {40, 8192, 90},
                                        {20, 16384, 200}, {33, 8192, 47}};
    bool onednn = mn_onednn_available(MN_ONEDNN_F32);
    const char *name = mn_gemm_fp32_impl();
    if (onednn)
        ck_assert_msg(strncmp(name, "oneDNN ", 7) == 0 && strstr(name, "kernels"), "%s", name);
    else
        ck_assert_msg(strncmp(name, "BLIS (oneDNN: ", 14) == 0, "%s", name);
    for (int route = onednn ? 0 : 1; route < 2; route++) {
        mn_onednn_force_off(MN_ONEDNN_F32, route == 1);
        ck_assert(mn_onednn_available(MN_ONEDNN_F32) == (route == 0));
        if (route == 1 && onednn)
            ck_assert_str_eq(mn_gemm_fp32_impl(), "BLIS (oneDNN forced off)");
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 8; t++)
                for (int beta = 0; beta <= 1; beta++) {
                    int64_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
                    bool ta = t & 1, tb = t & 2, tc = t & 4;
                    int threads = 1 + (t + beta) % 2;
                    mn_mat A = make_f32_strided(m, k, ta, 80 + s);
                    mn_mat B = make_f32_strided(k, n, tb, 90 + s);
                    mn_mat C = make_f32_strided(m, n, tc, 100 + s);
                    mn_mat C0 = make_f32_strided(m, n, false, 100 + s);
                    mn_mat D = make_f32_strided(m, n, tc, 100 + s);
                    ck_assert_ok(mn_mat_gemm(1.0, &A, &B, beta, &C, MN_PRECISION_FP32, threads));
                    ck_assert_ok(mn_mat_gemm(1.0, &A, &B, beta, &D, MN_PRECISION_FP32, threads));
                    ck_assert(tm_max_abs_diff(&C, &D) == 0);
                    if (route == 0) { /* the same product by oneDNN itself: it has a kernel */
                        mn_mat E = make_f32_strided(m, n, tc, 100 + s);
                        mn_onednn_operand a = {.rs = A.rs, .cs = A.cs, .data = A.data};
                        mn_onednn_operand b = {.rs = B.rs, .cs = B.cs, .data = B.data};
                        ck_assert_ok(mn_onednn_matmul(MN_ONEDNN_F32, k, a, b, beta, &E, threads));
                        ck_assert(tm_max_abs_diff(&C, &E) == 0);
                        E = tc ? mn_mat_transpose(E) : E;
                        mn_mat_free(&E);
                    }
                    for (int64_t i = 0; i < m; i++)
                        for (int64_t j = 0; j < n; j++) {
                            double exact = beta ? mn_mat_get(&C0, i, j) : 0;
                            double mass = fabs(exact);
                            for (int64_t p = 0; p < k; p++) {
                                double x = mn_mat_get(&A, i, p) * mn_mat_get(&B, p, j);
                                exact += x;
                                mass += fabs(x);
                            }
                            double got = mn_mat_get(&C, i, j);
                            double tol = 2.0 * (double)(k + 1) * 0x1p-24 * mass;
                            if (!(fabs(got - exact) <= tol))
                                ck_abort_msg("%s: %lldx%lldx%lld ta %d tb %d tc %d beta %d: "
                                             "C[%lld,%lld] = %.9g, exact %.9g (tolerance %.3g)",
                                             route ? "BLIS" : "oneDNN", (long long)m,
                                             (long long)k, (long long)n, ta, tb, tc, beta,
                                             (long long)i, (long long)j, got, exact, tol);
                        }
                    mn_mat_free(&C0);
                    C = tc ? mn_mat_transpose(C) : C;
                    D = tc ? mn_mat_transpose(D) : D;
                    A = ta ? mn_mat_transpose(A) : A;
                    B = tb ? mn_mat_transpose(B) : B;
                    mn_mat_free(&C);
                    mn_mat_free(&D);
                    mn_mat_free(&A);
                    mn_mat_free(&B);
                }
    }
    mn_onednn_force_off(MN_ONEDNN_F32, false);
    /* A view oneDNN does not take, B's one row repeated (row stride 0),
     * goes to BLIS and is right. */
    mn_mat A = make_f32_strided(5, 1, false, 130), B = make_f32_strided(1, 4, false, 131), C;
    mn_mat Bk = B; /* 3 rows, all B's one row */
    Bk.rows = 3;
    Bk.rs = 0;
    mn_mat A3 = make_f32_strided(5, 3, false, 132);
    ck_assert_ok(mn_mat_alloc(&C, MN_F32, 5, 4));
    ck_assert_ok(mn_mat_gemm(1.0, &A3, &Bk, 0.0, &C, MN_PRECISION_FP32, 1));
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 4; j++) {
            double want = 0;
            for (int64_t p = 0; p < 3; p++)
                want += mn_mat_get(&A3, i, p) * mn_mat_get(&B, 0, j);
            ck_assert_double_eq_tol(mn_mat_get(&C, i, j), want, 1e-5);
        }
    mn_mat_free(&A);
    mn_mat_free(&B);
    mn_mat_free(&A3);
    mn_mat_free(&C);
}
END_TEST

/* A dimension of extent 1 may carry any stride: a 1 x n C with strides
 * (1, 1) (the transpose of a dense n x 1 column) and an n x 1 B with
 * strides (1, 1) give BLIS's product, not an error from oneDNN. */
START_TEST(test_mat_gemm_f32_unit_extent)
{
    for (int64_t n = 4; n <= 4096; n *= 32) {
        mn_mat W = make_f32_padded(1, 64, false, 0, 7), X = make_f32_padded(64, n, false, 0, 8);
        mn_mat C, D;
        ck_assert_ok(mn_mat_alloc(&C, MN_F32, n, 1));
        ck_assert_ok(mn_mat_alloc(&D, MN_F32, 1, n));
        C = mn_mat_transpose(C); /* 1 x n, strides (1, 1) */
        ck_assert_int_eq(C.rs, 1);
        ck_assert_int_eq(C.cs, 1);
        ck_assert_ok(mn_mat_gemm(1.0, &W, &X, 0.0, &C, MN_PRECISION_FP32, 2));
        mn_onednn_force_off(MN_ONEDNN_F32, true);
        ck_assert_ok(mn_mat_gemm(1.0, &W, &X, 0.0, &D, MN_PRECISION_FP32, 2));
        mn_onednn_force_off(MN_ONEDNN_F32, false);
        ck_assert_double_le(tm_max_abs_diff(&C, &D), 1e-4);
        mn_mat Wt = mn_mat_transpose(W); /* 64 x 1, strides (1, 1) */
        mn_mat E, F;
        ck_assert_ok(mn_mat_alloc(&E, MN_F32, n, 1));
        ck_assert_ok(mn_mat_alloc(&F, MN_F32, n, 1));
        mn_mat Xt = mn_mat_transpose(X);
        ck_assert_ok(mn_mat_gemm(1.0, &Xt, &Wt, 0.0, &E, MN_PRECISION_FP32, 1));
        mn_onednn_force_off(MN_ONEDNN_F32, true);
        ck_assert_ok(mn_mat_gemm(1.0, &Xt, &Wt, 0.0, &F, MN_PRECISION_FP32, 1));
        mn_onednn_force_off(MN_ONEDNN_F32, false);
        ck_assert_double_le(tm_max_abs_diff(&E, &F), 1e-4);
        C = mn_mat_transpose(C);
        mn_mat_free(&C);
        mn_mat_free(&D);
        mn_mat_free(&E);
        mn_mat_free(&F);
        mn_mat_free(&W);
        mn_mat_free(&X);
    }
}
END_TEST

/* An output that shares memory with itself or meets an operand's is
 * refused before anything is written (it would read what it overwrote);
 * separate buffers and a transposed C are not. */
START_TEST(test_mat_gemm_refuses_overlap)
{
    mn_mat buf, A, B, C;
    ck_assert_ok(mn_mat_alloc(&buf, MN_F32, 8, 8));
    ck_assert_ok(mn_mat_alloc(&B, MN_F32, 4, 4));
    fill_gaussian(&buf, 1);
    fill_gaussian(&B, 2);
    A = buf;
    A.rows = A.cols = 4; /* the top-left 4 x 4 of buf */
    for (int p = 0; p < 2; p++) {
        mn_precision prec = p ? MN_PRECISION_BF16 : MN_PRECISION_FP32;
        mn_mat before;
        ck_assert_ok(mn_mat_alloc(&before, MN_F32, 8, 8));
        ck_assert_ok(mn_mat_copy(&before, &buf));
        C = A; /* C is A */
        ck_assert_int_eq(mn_mat_gemm(1.0, &A, &B, 0.0, &C, prec, 1), MN_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(mn_last_error(), "C's memory meets A's"));
        C.data = (float *)buf.data + 4; /* columns 4-7 of rows 0-3: interleaved with A's
                                         * rows, no entry shared, refused all the same */
        ck_assert_int_eq(mn_mat_gemm(1.0, &A, &B, 0.0, &C, prec, 1), MN_ERR_ARG);
        ck_assert(tm_max_abs_diff(&buf, &before) == 0); /* nothing written */
        mn_mat_free(&before);
        C.data = (float *)buf.data + 2 * 8 + 2; /* overlaps A's bottom-right corner */
        ck_assert_int_eq(mn_mat_gemm(1.0, &B, &A, 0.0, &C, prec, 1), MN_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(mn_last_error(), "C's memory meets B's"));
        C = mn_mat_view(MN_F32, (float *)buf.data + 4 * 8, 4, 4); /* rows 4-7: apart */
        C.rs = 0; /* every row the same memory */
        ck_assert_int_eq(mn_mat_gemm(1.0, &A, &B, 0.0, &C, prec, 1), MN_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(mn_last_error(), "share memory"));
        C.rs = 1, C.cs = 1; /* rows and columns on top of each other */
        ck_assert_int_eq(mn_mat_gemm(1.0, &A, &B, 0.0, &C, prec, 1), MN_ERR_ARG);
        C.rs = 8, C.cs = 1; /* rows 4-7 of buf: apart from A (rows 0-3) */
        ck_assert_ok(mn_mat_gemm(1.0, &A, &B, 0.0, &C, prec, 1));
        C = mn_mat_transpose(C); /* a transpose view of the same rows */
        ck_assert_ok(mn_mat_gemm(1.0, &A, &B, 0.0, &C, prec, 1));
    }
    mn_mat_free(&buf);
    mn_mat_free(&B);
}
END_TEST

/* A float32 product gives the same bits at 1, 2 and 3 threads, dense (as
 * Linear passes them) and padded: the dW shapes, whose long reduction a
 * library could split among threads (oneDNN does, for narrow outputs over
 * thousands of tokens: 64x64 over 4096, 8x8 over 32768), and the forward's.
 * Training reproduces across thread counts (README, the main job) only if
 * neither route splits a sum. */
START_TEST(test_mat_gemm_f32_threads_same_bits)
{
    static const int64_t shapes[][5] = {
        {128, 768, 128, 1, 0}, {512, 768, 128, 1, 0}, {128, 768, 512, 1, 0},
        {768, 128, 128, 0, 1}, {768, 512, 128, 0, 0}, {64, 4096, 64, 1, 0},
        {32, 4096, 32, 1, 0},  {10, 4096, 64, 1, 0},  {8, 32768, 8, 1, 0},
        {256, 2048, 64, 1, 0}, {128, 2048, 16, 1, 0}, {100, 3000, 70, 1, 1},
        {512, 128, 784, 1, 0}}; /* the main job's first dW, over 2^18 entries: whole */
    for (int route = 0; route < 2; route++) {
        mn_onednn_force_off(MN_ONEDNN_F32, route == 1);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int64_t pad = 0; pad <= 3; pad += 3) {
                int64_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
                mn_mat A = make_f32_padded(m, k, shapes[s][3], pad, 110 + s);
                mn_mat B = make_f32_padded(k, n, shapes[s][4], pad, 120 + s);
                mn_mat C[3];
                for (int t = 0; t < 3; t++) {
                    C[t] = make_c(m, n, pad != 0, 1); /* padded runs: C transposed */
                    ck_assert_ok(mn_mat_gemm(1.0, &A, &B, 1.0, &C[t], MN_PRECISION_FP32, t + 1));
                }
                for (int t = 1; t < 3; t++)
                    ck_assert_msg(tm_max_abs_diff(&C[0], &C[t]) == 0,
                                  "%s: %lldx%lldx%lld (pad %lld) differs at 1 and %d threads",
                                  route ? "BLIS" : "oneDNN", (long long)m, (long long)k,
                                  (long long)n, (long long)pad, t + 1);
                A = shapes[s][3] ? mn_mat_transpose(A) : A;
                B = shapes[s][4] ? mn_mat_transpose(B) : B;
                mn_mat_free(&A);
                mn_mat_free(&B);
                for (int t = 0; t < 3; t++) {
                    C[t] = pad ? mn_mat_transpose(C[t]) : C[t];
                    mn_mat_free(&C[t]);
                }
            }
    }
    mn_onednn_force_off(MN_ONEDNN_F32, false);
}
END_TEST

/* Large enough for two threads (over 128³ multiply-adds), and a cache hit
 * gives the same numbers as the first call. */
START_TEST(test_gemm_threaded)
{
    for (int impl = 0; impl < impl_count(); impl++) {
        set_impl(impl);
        mn_bf16_mat A = make_bf16(200, 300, false, 1), B = make_bf16(300, 150, true, 2);
        mn_mat C0 = make_c(200, 150, false, 3);
        for (int threads = 1; threads <= 2; threads++) {
            mn_mat C = make_c(200, 150, false, 3), D = make_c(200, 150, false, 3);
            ck_assert_ok(mn_bf16_gemm(&A, &B, 1.0, &C, threads));
            check_product(&A, &B, 1.0, &C0, &C, false, threads == 1 ? "1 thread" : "2 threads");
            ck_assert_ok(mn_bf16_gemm(&A, &B, 1.0, &D, threads));
            ck_assert(tm_max_abs_diff(&C, &D) == 0);
            mn_mat_free(&C);
            mn_mat_free(&D);
        }
        free(A.data);
        free(B.data);
        mn_mat_free(&C0);
    }
    mn_bf16_force_fallback(false);
}
END_TEST

START_TEST(test_syrk_lower_against_naive)
{
    /* 1 row; one block; two, three and five row blocks (256 rows a block).
     * Where mn_bf16_syrk says it wrote the whole product, both triangles are
     * checked; under the fallback (impl 1) it must say no. */
    static const int64_t shapes[][2] = {{1, 9}, {5, 3}, {100, 77}, {300, 40}, {600, 33}, {1100, 5}};
    for (int impl = 0; impl < impl_count(); impl++) {
        set_impl(impl);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 4; t++) {
                int64_t m = shapes[s][0], k = shapes[s][1];
                bool ta = t & 1, tc = t & 2;
                mn_bf16_mat A = make_bf16(m, k, ta, 40 + s), At = mn_bf16_transpose(A);
                mn_mat C = make_c(m, m, tc, 50 + s), C0 = make_c(m, m, false, 50 + s);
                char what[64];
                snprintf(what, sizeof what, "syrk %lldx%lld ta %d tc %d", (long long)m,
                         (long long)k, ta, tc);
                bool whole;
                ck_assert_ok(mn_bf16_syrk(&A, &C, 2, &whole));
                /* whole: both triangles are the product (callers skip the mirror);
                 * oneDNN makes one row block of up to 256 rows, BLIS a triangle */
                ck_assert(whole == (impl == 0 && mn_bf16_native() && m <= 256));
                check_product(&A, &At, 0.0, &C0, &C, !whole, what);
                ck_assert_double_gt(mn_bf16_syrk_flops(m, k), 0.99 * (double)m * (double)m * (double)k);
                ck_assert_double_le(mn_bf16_syrk_flops(m, k), 2.0 * (double)m * (double)m * (double)k);
                free(A.data);
                mn_mat_free(&C0);
                C = tc ? mn_mat_transpose(C) : C;
                mn_mat_free(&C);
            }
    }
    mn_bf16_force_fallback(false);
}
END_TEST

/* Zero sizes: m or n = 0 does nothing, k = 0 gives beta·C; bad shapes,
 * strides, beta and dtypes are refused with a message. */
START_TEST(test_zero_sizes_and_errors)
{
    for (int impl = 0; impl < impl_count(); impl++) {
        set_impl(impl);
        mn_bf16 buf[12] = {0};
        float cbuf[12];
        for (int i = 0; i < 12; i++)
            cbuf[i] = 7;
        mn_bf16_mat A0 = mn_bf16_view(buf, 3, 0), B0 = mn_bf16_view(buf, 0, 4);
        mn_mat C = mn_mat_view(MN_F32, cbuf, 3, 4);
        ck_assert_ok(mn_bf16_gemm(&A0, &B0, 1.0, &C, 0));
        ck_assert_float_eq(cbuf[11], 7);
        ck_assert_ok(mn_bf16_gemm(&A0, &B0, 0.0, &C, 0));
        for (int i = 0; i < 12; i++)
            ck_assert_float_eq(cbuf[i], 0);
        mn_bf16_mat Am = mn_bf16_view(buf, 0, 3), Bm = mn_bf16_view(buf, 3, 4);
        mn_mat Cm = mn_mat_view(MN_F32, cbuf, 0, 4);
        ck_assert_ok(mn_bf16_gemm(&Am, &Bm, 0.0, &Cm, 0));
        mn_mat Cs = mn_mat_view(MN_F32, cbuf, 3, 3);
        cbuf[0] = 5;
        ck_assert_ok(mn_bf16_syrk_lower(&A0, &Cs, 0)); /* k = 0: zero */
        ck_assert_float_eq(cbuf[0], 0);

        mn_bf16_mat A = mn_bf16_view(buf, 3, 2), B = mn_bf16_view(buf, 3, 4);
        ck_assert_int_eq(mn_bf16_gemm(&A, &B, 0.0, &C, 0), MN_ERR_SHAPE);
        ck_assert_ptr_nonnull(strstr(mn_last_error(), "A is 3x2, B 3x4"));
        mn_bf16_mat A3 = mn_bf16_view(buf, 3, 3);
        A3.cs = 2; /* no unit stride */
        A3.rs = 6;
        ck_assert_int_eq(mn_bf16_gemm(&A3, &B, 0.0, &C, 0), MN_ERR_SHAPE);
        ck_assert_ptr_nonnull(strstr(mn_last_error(), "unit stride"));
        mn_bf16_mat A33 = mn_bf16_view(buf, 3, 3);
        ck_assert_int_eq(mn_bf16_gemm(&A33, &B, 0.5, &C, 0), MN_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(mn_last_error(), "beta"));
        double dbuf[12];
        mn_mat Cd = mn_mat_view(MN_F64, dbuf, 3, 4);
        ck_assert_int_eq(mn_bf16_gemm(&A33, &B, 0.0, &Cd, 0), MN_ERR_SHAPE);
        ck_assert_ptr_nonnull(strstr(mn_last_error(), "float32"));
        ck_assert_int_eq(mn_bf16_syrk_lower(&A, &C, 0), MN_ERR_SHAPE);
        ck_assert_int_eq(mn_bf16_gemm(NULL, &B, 0.0, &C, 0), MN_ERR_ARG);
    }
    mn_bf16_force_fallback(false);
}
END_TEST

/* Several threads at once, each with its own shapes (cache misses and hits
 * racing), every result checked. */
typedef struct {
    int id;
    int failures;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    for (int rep = 0; rep < 3; rep++) {
        int64_t m = 20 + 7 * w->id + rep % 2, k = 50 + w->id, n = 30 + rep % 2;
        mn_bf16_mat A = make_bf16(m, k, w->id & 1, 60 + (uint64_t)w->id);
        mn_bf16_mat B = make_bf16(k, n, false, 70 + (uint64_t)w->id);
        mn_mat C = make_c(m, n, false, 1), C0 = make_c(m, n, false, 1);
        if (mn_bf16_gemm(&A, &B, 0.0, &C, 1) != MN_OK)
            w->failures++;
        else
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double exact = 0, mass = 0;
                    for (int64_t q = 0; q < k; q++) {
                        exact += bget(&A, i, q) * bget(&B, q, j);
                        mass += fabs(bget(&A, i, q) * bget(&B, q, j));
                    }
                    if (fabs(mn_mat_get(&C, i, j) - exact) > 2.0 * (double)(k + 1) * 0x1p-24 * mass)
                        w->failures++;
                }
        free(A.data);
        free(B.data);
        mn_mat_free(&C);
        mn_mat_free(&C0);
    }
    return NULL;
}

START_TEST(test_concurrent_callers)
{
    for (int impl = 0; impl < impl_count(); impl++) {
        set_impl(impl);
        enum { N = 6 };
        pthread_t th[N];
        worker_arg args[N];
        for (int i = 0; i < N; i++) {
            args[i] = (worker_arg){.id = i};
            ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &args[i]), 0);
        }
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            ck_assert_msg(args[i].failures == 0, "worker %d: %d wrong entries (%s)", i,
                          args[i].failures, mn_bf16_impl());
        }
    }
    mn_bf16_force_fallback(false);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bf16");
    TCase *tc = tcase_create("bf16");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_round_to_nearest_even);
    tcase_add_test(tc, test_round_runs_bit_exact);
    tcase_add_test(tc, test_impl_is_named);
    tcase_add_test(tc, test_gemm_against_naive);
    tcase_add_test(tc, test_gemm_threaded);
    tcase_add_test(tc, test_gemm_rounded_against_naive);
    tcase_add_test(tc, test_mat_gemm_public);
    tcase_add_test(tc, test_mat_gemm_f32_routes);
    tcase_add_test(tc, test_mat_gemm_f32_threads_same_bits);
    tcase_add_test(tc, test_mat_gemm_refuses_overlap);
    tcase_add_test(tc, test_mat_gemm_f32_unit_extent);
    tcase_add_test(tc, test_syrk_lower_against_naive);
    tcase_add_test(tc, test_zero_sizes_and_errors);
    tcase_add_test(tc, test_concurrent_callers);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
