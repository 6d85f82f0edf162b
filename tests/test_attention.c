/* The attention bonds and the GPT (issue 15): the batched kernels against
 * their naive references, RoPE, softmax and the causal mask, finite
 * differences of every bond and of a whole 2-block GPT, the GPT's targets
 * against a derivation by hand, and training steps on synthetic tokens. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modnorm.h"
#include "modules/attention.h"
#include "modules/gelu.h"
#include "testutil.h"

static float *randn(int64_t n, uint64_t seed, double scale)
{
    mn_rng rr, *r = &rr;
    mn_rng_seed(r, seed);
    float *v = malloc((size_t)n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)(scale * mn_rng_normal(r));
    return v;
}

static double max_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static double max_abs(const float *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

/* ---- kernels against their references ----------------------------------- */

/* Every product kernel, at sizes that run serially and at sizes that share
 * the pairs among two threads; {2, 70, 2, 48} reaches every tail of the
 * register kernel (rows left over from its blocks of 4 and 8, columns past
 * its blocks of 64 and 16), {1, 130, 1, 256} is past its size limit (BLIS). */
START_TEST(test_kernels_match_reference)
{
    const mn_attn_dims cases[] = {{2, 5, 3, 4}, {1, 1, 1, 2}, {4, 64, 4, 32}, {3, 17, 2, 6},
                                  {2, 70, 2, 48}, {1, 130, 1, 256}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        mn_attn_dims d = cases[c];
        int64_t nh = d.B * d.T * d.h * d.dh, ns = d.B * d.h * d.T * d.T;
        float *Q = randn(nh, 1 + c, 1), *K = randn(nh, 2 + c, 1), *V = randn(nh, 3 + c, 1);
        float *A = randn(ns, 4 + c, 1), *dS = randn(ns, 5 + c, 1), *dO = randn(nh, 6 + c, 1);
        float *f1 = malloc((size_t)ns * 4), *r1 = malloc((size_t)ns * 4);
        float *f2 = malloc((size_t)nh * 4), *r2 = malloc((size_t)nh * 4);
        float *f3 = malloc((size_t)nh * 4), *r3 = malloc((size_t)nh * 4);
        ck_assert(f1 && r1 && f2 && r2 && f3 && r3);
        for (int threads = 1; threads <= 2; threads++) {
            double tol = 1e-5 * (double)d.dh, tolT = 1e-5 * (double)d.T;
            ck_assert_ok(mn_attn_scores(f1, Q, K, d, 0.25, threads));
            mn_attn_scores_ref(r1, Q, K, d, 0.25);
            ck_assert_msg(max_diff(f1, r1, ns) < tol, "scores case %zu: %g", c,
                          max_diff(f1, r1, ns));
            ck_assert_ok(mn_attn_scores_backward(f2, f3, dS, Q, K, d, 0.25, threads));
            mn_attn_scores_backward_ref(r2, r3, dS, Q, K, d, 0.25);
            ck_assert_msg(max_diff(f2, r2, nh) < tolT && max_diff(f3, r3, nh) < tolT,
                          "scores backward case %zu: %g %g", c, max_diff(f2, r2, nh),
                          max_diff(f3, r3, nh));
            ck_assert_ok(mn_attn_apply(f2, A, V, d, threads));
            mn_attn_apply_ref(r2, A, V, d);
            ck_assert_msg(max_diff(f2, r2, nh) < tolT, "apply case %zu: %g", c,
                          max_diff(f2, r2, nh));
            ck_assert_ok(mn_attn_apply_backward(f1, f3, dO, A, V, d, threads));
            mn_attn_apply_backward_ref(r1, r3, dO, A, V, d);
            ck_assert_msg(max_diff(f1, r1, ns) < tol && max_diff(f3, r3, nh) < tolT,
                          "apply backward case %zu: %g %g", c, max_diff(f1, r1, ns),
                          max_diff(f3, r3, nh));
            /* one gradient alone (the other NULL) is the same */
            ck_assert_ok(mn_attn_apply_backward(NULL, f2, dO, A, V, d, threads));
            ck_assert(max_diff(f2, f3, nh) == 0);
        }
        /* the references are not vacuous: they see each head's own values */
        ck_assert(max_abs(r1, ns) > 0.1 && max_abs(r3, nh) > 0.1);
        free(Q), free(K), free(V), free(A), free(dS), free(dO);
        free(f1), free(r1), free(f2), free(r2), free(f3), free(r3);
    }
}
END_TEST

START_TEST(test_softmax_rows)
{
    /* a masked row: −∞ entries get exactly 0, the rest sum to 1 */
    float x[8] = {1, -2, 0.5f, -INFINITY, 3, -INFINITY, -INFINITY, -INFINITY}, y[8], dx[8];
    mn_softmax_rows(y, x, 2, 4, 2.0, 1);
    double s0 = y[0] + y[1] + y[2] + y[3];
    ck_assert(fabs(s0 - 1) < 1e-6 && y[3] == 0);
    ck_assert(y[4] == 1 && y[5] == 0 && y[6] == 0 && y[7] == 0);
    double z = exp(2.0) + exp(-4.0) + exp(1.0);
    ck_assert(fabs(y[0] - exp(2.0) / z) < 1e-6 && fabs(y[2] - exp(1.0) / z) < 1e-6);
    /* backward against the Jacobian scale·(diag y − y yᵀ), and 0 at masked entries */
    float dy[8] = {0.3f, -1, 2, 5, 1, 2, 3, 4};
    mn_softmax_rows_backward(dx, y, dy, 2, 4, 2.0, 1);
    for (int j = 0; j < 4; j++) {
        double e = 0;
        for (int k = 0; k < 4; k++)
            e += 2.0 * ((j == k) * (double)y[j] - (double)y[j] * y[k]) * dy[k];
        ck_assert_msg(fabs(dx[j] - e) < 1e-6, "dx[%d] %g vs %g", j, dx[j], e);
    }
    ck_assert(dx[3] == 0 && dx[4] == 0 && dx[5] == 0);
    /* the vector kernels against their references in double: causally masked
     * rows of 64 (four full blocks of lanes) and of 37 (a tail), scores of
     * spread 30 at scale 1 and 1/32, on one and two threads */
    const int64_t ns[] = {64, 37};
    for (int c = 0; c < 2; c++) {
        int64_t n = ns[c], rows = 3 * n;
        float *sx = randn(rows * n, 40 + c, 10), *sd = randn(rows * n, 50 + c, 1);
        float *f = malloc((size_t)(rows * n) * 4), *r = malloc((size_t)(rows * n) * 4);
        float *fd = malloc((size_t)(rows * n) * 4), *rd = malloc((size_t)(rows * n) * 4);
        ck_assert(f && r && fd && rd);
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = i % n + 1; j < n; j++)
                sx[i * n + j] = -INFINITY;
        for (int threads = 1; threads <= 2; threads++)
            for (int k = 0; k < 2; k++) {
                double scale = k ? 1.0 / 32 : 1.0;
                mn_softmax_rows(f, sx, rows, n, scale, threads);
                mn_softmax_rows_ref(r, sx, rows, n, scale);
                ck_assert_msg(max_diff(f, r, rows * n) < 1e-6, "softmax n %lld: %g",
                              (long long)n, max_diff(f, r, rows * n));
                for (int64_t i = 0; i < rows; i++) /* masked weights are exactly 0 */
                    ck_assert(i % n + 1 >= n || f[i * n + n - 1] == 0);
                mn_softmax_rows_backward(fd, f, sd, rows, n, scale, threads);
                mn_softmax_rows_backward_ref(rd, f, sd, rows, n, scale);
                ck_assert_msg(max_diff(fd, rd, rows * n) < 1e-6, "softmax backward n %lld: %g",
                              (long long)n, max_diff(fd, rd, rows * n));
            }
        free(sx), free(sd), free(f), free(r), free(fd), free(rd);
    }
}
END_TEST

/* GELU in float (the GPT's MLP activation) against x·Φ(x) and its slope in
 * double, Φ(x) = erfc(−x/√2)/2 (accurate in the negative tail too), on
 * [−20, 20], and shorter arrays that end inside a block of lanes. */
START_TEST(test_gelu_f32)
{
    const int64_t n = 400003;
    float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4), *d = malloc((size_t)n * 4);
    float *one = malloc((size_t)n * 4);
    ck_assert(x && y && d && one);
    for (int64_t i = 0; i < n; i++) {
        x[i] = (float)(-20.0 + 40.0 * (double)i / (double)(n - 1));
        one[i] = 1;
    }
    for (int threads = 1; threads <= 2; threads++) {
        mn_gelu_forward_f32(y, x, n, threads);
        mn_gelu_backward_f32(d, x, one, n, threads);
        double worst = 0, worst6 = 0, worst_slope = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = x[i], phi = 0.5 * erfc(-v / sqrt(2.0));
            double ref = v * phi / MN_GELU_MAX_SLOPE;
            double slope = (phi + v * exp(-0.5 * v * v) / sqrt(2 * M_PI)) / MN_GELU_MAX_SLOPE;
            if (fabs(ref) > 1e-30) {
                double e = fabs(y[i] - ref) / fabs(ref);
                worst = fmax(worst, e);
                if (fabs(v) < 6)
                    worst6 = fmax(worst6, e);
            } else
                ck_assert(fabs(y[i]) <= 1e-29);
            worst_slope = fmax(worst_slope, fabs(d[i] - slope));
        }
        if (getenv("MN_TEST_VERBOSE"))
            printf("  GELU f32: rel err %.3g (|x| < 6: %.3g), slope abs err %.3g\n", worst, worst6,
                   worst_slope);
        ck_assert_msg(worst6 < 5e-6 && worst < 2e-5 && worst_slope < 1e-6,
                      "GELU errors %g, %g (|x| < 6), slope %g", worst, worst6, worst_slope);
        /* a shorter array (ending 1 to 15 into a block of sixteen lanes) gives the
         * same values bit for bit and writes nothing past its end */
        float *z = malloc((size_t)n * 4);
        ck_assert_ptr_nonnull(z);
        for (int64_t tail = 1; tail < 16; tail++) {
            for (int k = 0; k < 2; k++) {
                for (int64_t i = n - 32; i < n; i++)
                    z[i] = 7;
                if (k == 0)
                    mn_gelu_forward_f32(z, x, n - tail, threads);
                else
                    mn_gelu_backward_f32(z, x, one, n - tail, threads);
                const float *full = k == 0 ? y : d;
                for (int64_t i = n - 32; i < n; i++)
                    ck_assert(i < n - tail ? z[i] == full[i] : z[i] == 7);
            }
        }
        free(z);
    }
    free(x), free(y), free(d), free(one);
}
END_TEST

/* RoPE: the half-split rotation by t·10000^(−2j/dh), written out in double,
 * on 2^16 elements (the size where its loop is shared by 2 threads); the
 * inverse undoes it; scores of rotated pairs depend only on t − s. */
START_TEST(test_rope)
{
    mn_attn_dims d = {16, 64, 4, 16};
    int64_t n = d.B * d.T * d.h * d.dh, half = d.dh / 2, ctx = 70;
    float *x = randn(n, 11, 1), *y = malloc((size_t)n * 4), *back = malloc((size_t)n * 4);
    float *table = malloc((size_t)(ctx * d.dh) * 4);
    ck_assert(y && back && table);
    mn_rope_table(table, ctx, d.dh, 10000.0);
    mn_rope_apply(y, x, table, ctx, d, false, 2);
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t t = 0; t < d.T; t++)
            for (int64_t i = 0; i < d.h; i++)
                for (int64_t j = 0; j < half; j++) {
                    int64_t o = ((b * d.T + t) * d.h + i) * d.dh;
                    double th = (double)t * pow(10000.0, -2.0 * (double)j / (double)d.dh);
                    double a = x[o + j], c = x[o + j + half];
                    ck_assert(fabs(y[o + j] - (a * cos(th) - c * sin(th))) < 1e-5);
                    ck_assert(fabs(y[o + j + half] - (a * sin(th) + c * cos(th))) < 1e-5);
                }
    mn_rope_apply(back, y, table, ctx, d, true, 2);
    ck_assert(max_diff(back, x, n) < 1e-5);
    /* the same q and k at every position: q_t·k_s depends only on t − s */
    mn_attn_dims one = {1, 6, 1, 8};
    float q[48], k[48], rq[48], rk[48];
    for (int t = 0; t < 6; t++)
        for (int j = 0; j < 8; j++) {
            q[t * 8 + j] = x[j];
            k[t * 8 + j] = x[8 + j];
        }
    float table8[6 * 8];
    mn_rope_table(table8, 6, 8, 10000.0);
    mn_rope_apply(rq, q, table8, 6, one, false, 1);
    mn_rope_apply(rk, k, table8, 6, one, false, 1);
    double s31 = 0, s53 = 0, s20 = 0;
    for (int j = 0; j < 8; j++) {
        s31 += (double)rq[3 * 8 + j] * rk[1 * 8 + j];
        s53 += (double)rq[5 * 8 + j] * rk[3 * 8 + j];
        s20 += (double)rq[2 * 8 + j] * rk[0 * 8 + j];
    }
    ck_assert(fabs(s31 - s53) < 1e-5 && fabs(s31 - s20) < 1e-5);
    free(x), free(y), free(back), free(table);
}
END_TEST

/* ---- networks from graph text ---------------------------------------------- */

static mn_module *build(const char *text)
{
    mn_graph_file *g;
    ck_assert_ok(mn_graph_parse(&g, text, strlen(text), "test"));
    mn_module *m;
    ck_assert_ok(mn_graph_make(g, &m));
    mn_graph_destroy(g);
    return m;
}

/* The GPT of examples/gpt.mn with parameters "width=8" etc. set; `heads`
 * heads of width / heads features (the file's parameter is the head size). */
static mn_module *gpt(int width, int depth, int heads, int context, int vocab, bool sp)
{
    mn_graph_file *g;
    const char *text = mn_graph_gpt_text();
    ck_assert_ok(mn_graph_parse(&g, text, strlen(text), "examples/gpt.mn"));
    ck_assert_int_eq(width % heads, 0);
    ck_assert_ok(mn_graph_set(g, "width", width));
    ck_assert_ok(mn_graph_set(g, "depth", depth));
    ck_assert_ok(mn_graph_set(g, "dhead", width / heads));
    ck_assert_ok(mn_graph_set(g, "context", context));
    ck_assert_ok(mn_graph_set(g, "vocab", vocab));
    ck_assert_ok(mn_graph_set(g, "sp", sp));
    mn_module *m;
    ck_assert_ok(mn_graph_make(g, &m));
    mn_graph_destroy(g);
    return m;
}

static mn_tensor *tokens(int64_t B, int64_t T, int vocab, uint64_t seed)
{
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){B, T});
    mn_rng rr, *r = &rr;
    mn_rng_seed(r, seed);
    for (int64_t i = 0; i < B * T; i++)
        x->data[i] = (float)(mn_rng_next(r) % (uint64_t)vocab);
    return x;
}

/* ---- finite differences ------------------------------------------------------ */

/* f(w, x) = Σ r ⊙ net(x) in double, r a fixed random weighting. */
typedef struct probe {
    mn_network *net;
    mn_tensor *x;
    float *r;
    int64_t n_out;
} probe;

static double probe_eval(void *ctx)
{
    probe *p = ctx;
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(p->net, p->x, &y));
    double s = 0;
    for (int64_t i = 0; i < p->n_out; i++)
        s += (double)p->r[i] * y->data[i];
    return s;
}

/* |fd − an| ≤ RTOL·|an| + ATOL·max|an| for every coordinate, where float32
 * forwards with ε = 5e-3 measure within it; and the comparison rejects the
 * analytic gradient × 1.02 (it can tell a wrong gradient from a right one). */
#define FD_RTOL 3e-3
#define FD_ATOL 3e-4
#define FD_EPS 5e-3

static bool fd_agree(const double *fd, const double *an, int64_t n, double *worst, int64_t *at)
{
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(an[i]));
    *worst = 0;
    *at = -1;
    for (int64_t i = 0; i < n; i++) {
        double q = fabs(fd[i] - an[i]) / (FD_RTOL * fabs(an[i]) + FD_ATOL * scale);
        if (q > *worst) {
            *worst = q;
            *at = i;
        }
    }
    return *worst <= 1;
}

static void fd_check(const char *what, probe *p, float *v, int64_t n, const double *an)
{
    double *fd = malloc((size_t)n * sizeof *fd), *bad = malloc((size_t)n * sizeof *bad);
    ck_assert(fd && bad);
    tm_central_differences(probe_eval, p, v, n, FD_EPS, fd);
    double worst, scale = 0;
    int64_t at;
    bool ok = fd_agree(fd, an, n, &worst, &at);
    ck_assert_msg(ok, "%s: coordinate %lld: fd %.9g, analytic %.9g (%.2f × tol)", what,
                  (long long)at, fd[at], an[at], worst);
    for (int64_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(an[i]));
        bad[i] = an[i] * 1.02;
    }
    ck_assert_msg(scale > 1e-3, "%s: the gradient is (almost) zero", what);
    ck_assert_msg(!fd_agree(fd, bad, n, &worst, &at), "%s: the check accepts analytic × 1.02",
                  what);
    if (getenv("MN_TEST_VERBOSE"))
        printf("  fd %-40s n=%5lld max|an| %.3g\n", what, (long long)n, scale);
    free(fd);
    free(bad);
}

/* Weight and (when the input is not token ids) input gradients of `root`. */
static void fd_network(const char *what, mn_module *root, mn_tensor *x, bool input_grad)
{
    probe p = {.x = x};
    ck_assert_ok(mn_network_create(&p.net, root, MN_PARAM_MODULAR, 7));
    mn_network_keep_input_grad(p.net, input_grad);
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(p.net, x, &y));
    p.n_out = mn_tensor_numel(y);
    p.r = randn(p.n_out, 99, 1);
    mn_tensor *dy = tm_tensor_new(y->ndim, y->shape);
    memcpy(dy->data, p.r, (size_t)p.n_out * sizeof(float));
    mn_network_zero_grad(p.net);
    ck_assert_ok(mn_network_backward(p.net, dy));
    int64_t np = mn_network_param_count(p.net), nx = mn_tensor_numel(x);
    char buf[160];
    if (np > 0) {
        double *an = malloc((size_t)np * sizeof *an);
        ck_assert_ptr_nonnull(an);
        for (int64_t i = 0; i < np; i++)
            an[i] = mn_network_grads(p.net)[i];
        snprintf(buf, sizeof buf, "%s (weights)", what);
        fd_check(buf, &p, mn_network_weights(p.net), np, an);
        free(an);
    }
    if (input_grad) {
        const mn_tensor *gx = mn_network_input_grad(p.net);
        ck_assert_ptr_nonnull(gx);
        double *an = malloc((size_t)nx * sizeof *an);
        ck_assert_ptr_nonnull(an);
        for (int64_t i = 0; i < nx; i++)
            an[i] = gx->data[i];
        snprintf(buf, sizeof buf, "%s (input)", what);
        fd_check(buf, &p, x->data, nx, an);
        free(an);
    }
    mn_tensor_destroy(dy);
    free(p.r);
    mn_network_destroy(p.net);
}

/* Each bond inside a small network whose every input gradient flows:
 * x is (B, T, d) features. */
START_TEST(test_fd_bonds)
{
    static const struct {
        const char *name, *text;
        int64_t d;
    } cases[] = {
        {"SplitHeads/MergeHeads", "SplitHeads(2) -> MergeHeads -> Linear(3, 6)", 6},
        {"Softmax(2) alone", "Linear(5, 6) -> Softmax(2)", 6},
        {"RoPE", "SplitHeads(2) -> RoPE(4, 5) -> MergeHeads", 8},
        {"Scores", "(SplitHeads(3), Linear(6, 6) -> SplitHeads(3)) -> Scores", 6},
        {"Scores(0.7)", "(SplitHeads(3), Linear(6, 6) -> SplitHeads(3)) -> Scores(0.7)", 6},
        {"CausalMask+Softmax",
         "(SplitHeads(3), Linear(6, 6) -> SplitHeads(3)) -> Scores -> CausalMask -> Softmax(3)",
         6},
        {"ApplyScores",
         "(Linear(8, 8) -> SplitHeads(2), (SplitHeads(2), SplitHeads(2) -> RoPE(4, 5)) "
         "-> Scores -> CausalMask -> Softmax) -> ApplyScores -> MergeHeads", 8},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t d = cases[c].d;
        const char *text = cases[c].text;
        mn_module *m = build(text);
        mn_tensor *x = tm_tensor_new(3, (int64_t[]){2, 4, d});
        float *v = randn(mn_tensor_numel(x), 5 + c, 1);
        memcpy(x->data, v, (size_t)mn_tensor_numel(x) * sizeof(float));
        free(v);
        fd_network(cases[c].name, m, x, true);
        mn_tensor_destroy(x);
    }
}
END_TEST

/* The whole GPT of examples/gpt.mn, 2 blocks, every weight. */
START_TEST(test_fd_gpt)
{
    for (int sp = 0; sp <= 1; sp++) {
        mn_module *m = gpt(8, 2, 2, 6, 5, sp);
        mn_tensor *x = tokens(2, 5, 5, 3);
        fd_network(sp ? "GPT 2 blocks, sp scale" : "GPT 2 blocks", m, x, false);
        mn_tensor_destroy(x);
    }
}
END_TEST

/* ---- shapes and refusals ------------------------------------------------------ */

START_TEST(test_refusals)
{
    mn_module *m;
    ck_assert_int_eq(mn_rope(&m, 3, 8), MN_ERR_ARG);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(mn_rope(&m, 4, 0), MN_ERR_ARG);
    /* a RoPE holds no table: its largest text form costs nothing until run */
    ck_assert_ok(mn_module_parse(&m, "RoPE(1048576, 1048576)"));
    mn_module_destroy(m);
    ck_assert_int_eq(mn_softmax(&m, 0), MN_ERR_ARG);
    ck_assert_int_eq(mn_softmax(&m, NAN), MN_ERR_ARG);
    ck_assert_int_eq(mn_scores(&m, -1), MN_ERR_ARG);
    ck_assert_int_eq(mn_split_heads(&m, 0), MN_ERR_ARG);
    ck_assert_int_eq(mn_module_parse(&m, "Scores(0)"), MN_ERR_ARG);
    ck_assert_int_eq(mn_module_parse(&m, "SplitHeads(1.5)"), MN_ERR_ARG);
    /* 6 features do not split into 4 heads: found when the chain is built */
    mn_graph_file *g;
    const char *t = "Linear(6, 3) -> SplitHeads(4)";
    ck_assert_ok(mn_graph_parse(&g, t, strlen(t), "t"));
    ck_assert_int_eq(mn_graph_make(g, &m), MN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "heads"));
    mn_graph_destroy(g);
    /* a sequence longer than RoPE's context is refused when planned */
    mn_network *net;
    ck_assert_ok(mn_network_create(&net, gpt(8, 1, 2, 4, 5, false), MN_PARAM_MODULAR, 1));
    mn_tensor *x = tokens(1, 5, 5, 1);
    const mn_tensor *y;
    ck_assert_int_eq(mn_network_forward(net, x, &y), MN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "context"));
    mn_tensor_destroy(x);
    mn_network_destroy(net);
    /* every kind's text reads back */
    const char *forms[] = {"SplitHeads(4)", "MergeHeads", "RoPE(8, 64)", "Scores",
                           "Scores(0.125)", "CausalMask", "Softmax(2)", "ApplyScores"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char buf[64];
        ck_assert_ok(mn_module_parse(&m, forms[i]));
        ck_assert_ok(mn_module_print(m, buf, sizeof buf));
        ck_assert_str_eq(buf, forms[i]);
        mn_module_destroy(m);
    }
}
END_TEST

/* ---- the GPT ------------------------------------------------------------------- */

/* Causality: changing the token at position t changes no logit before t. */
START_TEST(test_gpt_causal)
{
    mn_network *net;
    ck_assert_ok(mn_network_create(&net, gpt(16, 2, 4, 8, 7, false), MN_PARAM_MODULAR, 3));
    mn_tensor *x = tokens(2, 8, 7, 5);
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(net, x, &y));
    ck_assert_int_eq(y->ndim, 3);
    ck_assert_int_eq(y->shape[2], 7);
    int64_t n = mn_tensor_numel(y);
    float *before = malloc((size_t)n * 4);
    memcpy(before, y->data, (size_t)n * 4);
    x->data[5] = (float)(((int)x->data[5] + 1) % 7); /* sequence 0, position 5 */
    ck_assert_ok(mn_network_forward(net, x, &y));
    for (int64_t t = 0; t < 8; t++) {
        double d = max_diff(before + t * 7, y->data + t * 7, 7);
        if (t < 5)
            ck_assert_msg(d == 0, "position %lld changed by %g", (long long)t, d);
        else
            ck_assert_msg(d > 0, "position %lld did not change", (long long)t);
    }
    ck_assert(max_diff(before + 56, y->data + 56, 56) == 0); /* sequence 1 untouched */
    free(before);
    mn_tensor_destroy(x);
    mn_network_destroy(net);
}
END_TEST

/* Mean cross-entropy of next-token prediction over every position. */
static double gpt_loss(mn_network *net, const mn_tensor *x, const int32_t *labels,
                       mn_tensor **dy)
{
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(net, x, &y));
    int64_t rows = y->shape[0] * y->shape[1], V = y->shape[2];
    mn_tensor *flat;
    ck_assert_ok(mn_tensor_wrap(&flat, y->data, 2, (int64_t[]){rows, V}));
    if (!*dy)
        *dy = tm_tensor_new(3, y->shape);
    mn_tensor *dflat;
    ck_assert_ok(mn_tensor_wrap(&dflat, (*dy)->data, 2, (int64_t[]){rows, V}));
    double loss;
    ck_assert_ok(mn_loss_cross_entropy(flat, labels, &loss, dflat, NULL));
    mn_tensor_destroy(flat);
    mn_tensor_destroy(dflat);
    return loss;
}

/* Forward, backward and modular Muon steps on synthetic tokens: a sequence
 * that repeats with period 3 is learned (the loss falls far below log V). */
START_TEST(test_gpt_trains)
{
    const int V = 11, B = 4, T = 12;
    for (int sp = 0; sp <= 1; sp++) {
        mn_network *net;
        mn_param param = sp ? MN_PARAM_SP : MN_PARAM_MODULAR;
        ck_assert_ok(mn_network_create(&net, gpt(32, 2, 4, 16, V, sp), param, 1));
        mn_solver_config cfg;
        ck_assert_ok(mn_solver_preset(&cfg, sp ? "adam" : "muon", param));
        cfg.total_steps = 60;
        if (sp)
            cfg.lr = 3e-3;
        mn_solver *s;
        ck_assert_ok(mn_solver_create(&s, net, &cfg));
        mn_rng rr, *r = &rr;
        mn_rng_seed(r, 4);
        mn_tensor *x = tm_tensor_new(2, (int64_t[]){B, T}), *dy = NULL;
        int32_t labels[B * T];
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++) {
            for (int b = 0; b < B; b++) { /* a random start in the period-3 pattern 3, 7, 1 */
                int off = (int)(mn_rng_next(r) % 3);
                static const int pat[3] = {3, 7, 1};
                for (int t = 0; t <= T; t++) {
                    int tok = pat[(off + t) % 3];
                    if (t < T)
                        x->data[b * T + t] = (float)tok;
                    if (t > 0)
                        labels[b * T + t - 1] = tok;
                }
            }
            double loss = gpt_loss(net, x, labels, &dy);
            if (step == 0)
                first = loss;
            last = loss;
            mn_network_zero_grad(net);
            ck_assert_ok(mn_network_backward(net, dy));
            ck_assert_ok(mn_solver_step(s, net));
        }
        ck_assert_msg(fabs(first - log(V)) < 1.0, "initial loss %g vs log V %g", first, log(V));
        ck_assert_msg(last < 0.1 * first, "%s: loss %g → %g", sp ? "sp adam" : "muon", first,
                      last);
        mn_tensor_destroy(x);
        mn_tensor_destroy(dy);
            mn_solver_destroy(s);
        mn_network_destroy(net);
    }
}
END_TEST

/* ---- targets -------------------------------------------------------------------- */

/* The targets the modular dualize gives each atom of examples/gpt.mn, derived
 * by hand (DESIGN.md's rules, t = 1 at the root):
 *   root: Embed (μ 1), Blocks (μ 5), readout (μ 1); every ν = 1, μ = 7:
 *     Embed 1/7, Blocks 5/7, readout 1/7.
 *   Blocks: L blocks of internal mass 6 (attention 4, MLP 2), ν = 1:
 *     each block (5/7)·6/(6L); its attention branch ×4/6, its MLP ×2/6.
 *   a residual branch (1 − a)·x + a·f(x): Add ∘ (Scale(Identity), Scale(f)),
 *     Scale(f) = Mul(a) ∘ f: f gets its branch's target / a, a = 1/(2L):
 *     attention 5/(7L)·(4/6)·2L = 20/21, MLP 5/(7L)·(2/6)·2L = 10/21.
 *   attention (μ 4) = W ∘ MergeHeads ∘ (1/3)·ApplyScores ∘ (V, scores):
 *     W: (20/21)/4 = 5/21; the tuple (μ 3): (20/21)·(3/4)/(1/3) = 15/7;
 *     V: (15/7)/3 = 5/7; scores (μ 2): 10/7; Q, K each half: 5/7.
 *   MLP (μ 2) = Linear ∘ GELU ∘ Linear: each (10/21)/2 = 5/21.
 * None depends on L (the 2L in the residual cancels the 1/L in Blocks). */
static double hand_target(const char *role)
{
    if (!strcmp(role, "Embed") || !strcmp(role, "readout"))
        return 1.0 / 7;
    if (!strcmp(role, "Query") || !strcmp(role, "Key") || !strcmp(role, "Value"))
        return 5.0 / 7;
    return 5.0 / 21; /* the attention's output Linear, the MLP's two */
}

/* Walk inspect's JSON tree: an atom's role is its parent's name (Query, Key,
 * Value, Attention, MLP) or Embed / the root's last child. */
static void check_targets(json_t *node, const char *parent, bool last_of_root, int *atoms)
{
    json_t *target = json_object_get(node, "target");
    const char *kind = json_string_value(json_object_get(node, "kind"));
    if (target) {
        const char *role = last_of_root ? "readout" : !strcmp(kind, "Embed") ? "Embed" : parent;
        ck_assert_msg(!strcmp(role, "Embed") || !strcmp(role, "readout") ||
                      !strcmp(role, "Query") || !strcmp(role, "Key") || !strcmp(role, "Value") ||
                      !strcmp(role, "Attention") || !strcmp(role, "MLP"),
                      "an atom under %s", role);
        double want = hand_target(role), got = json_real_value(target);
        ck_assert_msg(fabs(got - want) < 1e-12, "%s: target %.17g, by hand %.17g", role, got,
                      want);
        (*atoms)++;
        return;
    }
    json_t *kids = json_object_get(node, "children");
    bool root = parent == NULL;
    for (size_t i = 0; i < json_array_size(kids); i++)
        check_targets(json_array_get(kids, i), kind, root && i + 1 == json_array_size(kids),
                      atoms);
}

START_TEST(test_gpt_targets)
{
    const int depths[] = {1, 2, 3, 6};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        char args[160], out[1 << 18];
        snprintf(args, sizeof args, "inspect --model gpt --depth %d --width 64 --json", depths[i]);
        ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 0);
        json_error_t err;
        json_t *root = json_loads(out, 0, &err);
        ck_assert_msg(root, "inspect --json: %s", err.text);
        ck_assert_str_eq(json_string_value(json_object_get(root, "kind")), "GPT");
        ck_assert(fabs(json_real_value(json_object_get(root, "mass")) - 7) < 1e-12);
        ck_assert(fabs(json_real_value(json_object_get(root, "sensitivity")) - 1) < 1e-12);
        int atoms = 0;
        check_targets(root, NULL, false, &atoms);
        ck_assert_int_eq(atoms, 2 + 6 * depths[i]);
        json_decref(root);
    }
}
END_TEST

/* ---- Embed's LMO and the rows of absent tokens ---------------------------------- */

/* RMS of a column of n floats, in double. */
static double col_rms(const mn_mat *M, int64_t j)
{
    double s = 0;
    for (int64_t i = 0; i < M->rows; i++)
        s += mn_mat_get(M, i, j) * mn_mat_get(M, i, j);
    return sqrt(s / (double)M->rows);
}

/* Turn flushing of subnormals on, and whether it took: valgrind's CPU, for
 * one, ignores FTZ/DAZ (the flushed half of the tests below is then skipped). */
static bool flush_on(void)
{
    if (mn_flush_denormals(true) != MN_OK)
        return false;
    volatile float tiny = 0x1p-140f;
    volatile float r = tiny * 1.0f; /* DAZ reads tiny as 0 */
    if (r != 0) {
        mn_flush_denormals(false);
        if (getenv("MN_TEST_VERBOSE"))
            printf("  subnormals are not flushed here: the flushed case is skipped\n");
        return false;
    }
    return true;
}

/* The l1-rms LMO (Embed's map) column by column: a zero column gives 0, any
 * other, however small (subnormal entries included), a column of RMS 1;
 * never NaN or Inf. With subnormals flushed (the modnorm command's training
 * mode) an all-subnormal column reads as zero and gives 0. */
START_TEST(test_embed_lmo_tiny_rows)
{
    const int64_t d = 8, V = 5;
    const mn_norm *norm;
    ck_assert_ok(mn_norm_lookup("l1-rms", &norm));
    float g[8 * 5], o[8 * 5];
    const float sub = 0x1p-149f; /* the smallest subnormal */
    for (int64_t i = 0; i < d; i++) {
        g[i * V + 0] = 0;                            /* a token never seen */
        g[i * V + 1] = (i % 2 ? -1 : 1) * sub;       /* underflowed to the last subnormal */
        g[i * V + 2] = i == 3 ? 0x1p-140f : 0;       /* one subnormal entry */
        g[i * V + 3] = (float)(1e-30 * (i + 1));     /* tiny but normal */
        g[i * V + 4] = (float)(i - 3.5);             /* a token in the batch */
    }
    mn_mat G = mn_mat_view(MN_F32, g, d, V), O = mn_mat_view(MN_F32, o, d, V);
    for (int flush = 0; flush <= 1; flush++) {
        if (flush && !flush_on())
            break; /* not on this CPU */
        ck_assert_ok(mn_dualize(norm, NULL, &O, &G));
        mn_flush_denormals(false);
        for (int64_t k = 0; k < d * V; k++)
            ck_assert_msg(isfinite(o[k]), "flush %d: entry %lld is %g", flush, (long long)k,
                          o[k]);
        ck_assert(col_rms(&O, 0) == 0);
        for (int64_t j = 1; j < V; j++) {
            bool zero = flush && (j == 1 || j == 2);
            double r = col_rms(&O, j);
            ck_assert_msg(zero ? r == 0 : fabs(r - 1) < 1e-6, "flush %d column %lld: RMS %g",
                          flush, (long long)j, r);
        }
        if (!flush) /* the direction of the subnormal column is its sign pattern */
            for (int64_t i = 0; i < d; i++)
                ck_assert(o[i * V + 1] == (i % 2 ? -1.0f : 1.0f));
    }
}
END_TEST

/* Through the solver: a token seen once, then absent for 2500 steps. Its
 * momentum row decays by β = 0.95 a step; in float32 it reaches the
 * subnormals after about 1650 steps and then sticks at a few units of the
 * smallest one (0.95·k·2^-149 rounds back to k·2^-149 for k ≤ 10), so
 * without flushing the row never reaches zero and the token's embedding
 * moves a full step (RMS η·t) every step, in the direction of its last
 * gradient. With subnormals flushed (FTZ/DAZ, as modnorm train runs) the
 * momentum becomes exactly 0 and the row stops. Every step is finite. */
START_TEST(test_embed_absent_token_steps)
{
    const int64_t V = 4, d = 8;
    for (int flush = 0; flush <= 1; flush++) {
        if (flush && !flush_on())
            break;
        mn_flush_denormals(false);
        mn_module *e;
        ck_assert_ok(mn_embed(&e, V, d));
        mn_network *net;
        ck_assert_ok(mn_network_create(&net, e, MN_PARAM_MODULAR, 1));
        mn_solver_config cfg;
        ck_assert_ok(mn_solver_preset(&cfg, "muon", MN_PARAM_MODULAR));
        cfg.schedule = MN_SCHEDULE_CONSTANT;
        cfg.lr = 0.01;
        cfg.momentum = 0.95;
        mn_solver *s;
        ck_assert_ok(mn_solver_create(&s, net, &cfg));
        float *w = mn_network_weights(net), *g = mn_network_grads(net);
        const float *m = mn_solver_momentum(s);
        float before[8];
        int64_t stopped_at = -1;
        for (int step = 0; step < 2500; step++) {
            mn_network_zero_grad(net);
            for (int64_t t = 0; t < V; t++)
                for (int64_t k = 0; k < d; k++) /* token 3 only at step 0 */
                    g[t * d + k] = t < 3 || step == 0 ? (float)(0.1 * (k - 3.5) * (t + 1)) : 0;
            memcpy(before, w + 3 * d, sizeof before);
            if (flush)
                mn_flush_denormals(true);
            ck_assert_ok(mn_solver_step(s, net));
            mn_flush_denormals(false);
            double step_ss = 0, m_max = 0;
            for (int64_t k = 0; k < d; k++) {
                ck_assert(isfinite(w[3 * d + k]));
                step_ss += ((double)w[3 * d + k] - before[k]) * ((double)w[3 * d + k] - before[k]);
                m_max = fmax(m_max, fabs(m[3 * d + k]));
            }
            double step_rms = sqrt(step_ss / (double)d);
            if (m_max > 0) /* a full step of RMS η·t (t = 1: the Embed is the network) */
                ck_assert_msg(fabs(step_rms - 0.01) < 1e-4 * (1 + fabs(w[3 * d])),
                              "flush %d step %d: the absent row moved %g with momentum %g",
                              flush, step, step_rms, m_max);
            else {
                ck_assert_msg(step_rms == 0, "flush %d step %d: moved %g with zero momentum",
                              flush, step, step_rms);
                if (stopped_at < 0)
                    stopped_at = step;
            }
        }
        if (getenv("MN_TEST_VERBOSE"))
            printf("  flush %d: absent row's momentum 0 from step %lld; last |m| %g\n", flush,
                   (long long)stopped_at, (double)fabsf(m[3 * d]));
        if (flush)
            ck_assert_msg(stopped_at > 1000 && stopped_at < 2000,
                          "flushed momentum reached 0 at step %lld", (long long)stopped_at);
        else
            ck_assert_msg(stopped_at < 0, "the unflushed momentum reached 0 at step %lld",
                          (long long)stopped_at);
        mn_solver_destroy(s);
        mn_network_destroy(net);
    }
}
END_TEST

/* ---- the standard parametrization (the AdamW control) --------------------------- */

/* The number in the first "-> Scores(" of a graph text (NAN without one). */
static double scores_scale_in(const char *text)
{
    const char *p = strstr(text, "-> Scores(");
    return p ? strtod(p + 10, NULL) : NAN;
}

/* --param sp builds Scores(1/√d_head) (the modular default is Scores: 1/d_head),
 * and an SP network starts from PyTorch's defaults: Linear U(±1/√d_in),
 * Embed N(0, 1). */
START_TEST(test_gpt_sp)
{
    char out[1 << 16];
    ck_assert_int_eq(tm_run_modnorm("inspect --model gpt --depth 1 --format graph", out,
                                    sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "-> Scores -> CausalMask"));
    ck_assert_int_eq(tm_run_modnorm("inspect --model gpt --depth 1 --param sp --format graph", out,
                                    sizeof out), 0);
    ck_assert_msg(fabs(scores_scale_in(out) - 1 / sqrt(32.0)) < 1e-15, "%s", out);
    ck_assert_int_eq(tm_run_modnorm("inspect --model gpt --depth 1 --width 64 --dhead 8", out,
                                    sizeof out), 2); /* the head size is a --set parameter */
    ck_assert_int_eq(tm_run_modnorm("inspect --model gpt --depth 1 --set dhead=8 --width 64 "
                                    "--param sp --format graph", out, sizeof out), 0);
    ck_assert_msg(fabs(scores_scale_in(out) - 1 / sqrt(8.0)) < 1e-15, "%s", out);

    mn_network *net;
    ck_assert_ok(mn_network_create(&net, gpt(64, 1, 2, 8, 50, true), MN_PARAM_SP, 2));
    for (int a = 0; a < mn_network_atom_count(net); a++) {
        const mn_module *m = mn_network_atom(net, a);
        int64_t r, c;
        ck_assert_ok(mn_module_weight_shape(m, &r, &c));
        mn_mat W = mn_network_atom_view(net, a, mn_network_weights(net));
        double mx = 0, ss = 0;
        for (int64_t i = 0; i < r; i++)
            for (int64_t j = 0; j < c; j++) {
                mx = fmax(mx, fabs(mn_mat_get(&W, i, j)));
                ss += mn_mat_get(&W, i, j) * mn_mat_get(&W, i, j);
            }
        double sd = sqrt(ss / (double)(r * c));
        if (strcmp(mn_module_kind(m), "Embed") == 0)
            ck_assert_msg(fabs(sd - 1) < 0.05, "Embed SP std %g", sd);
        else /* uniform on ±1/√d_in: std 1/√(3·d_in), max just under the bound */
            ck_assert_msg(mx <= 1 / sqrt((double)c) && mx > 0.95 / sqrt((double)c) &&
                          fabs(sd * sqrt(3.0 * (double)c) - 1) < 0.05,
                          "atom %d: max %g std %g for d_in %lld", a, mx, sd, (long long)c);
    }
    mn_network_destroy(net);
}
END_TEST

/* ---- against PyTorch ---------------------------------------------------------------- */

static mn_mat read_torch(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/torch_gpt_%s.npy", MN_TEST_DATA, name);
    mn_mat m;
    ck_assert_ok(mn_npy_read(path, &m));
    return m;
}

/* Atom by atom, max |got − torch| ≤ rtol · max |torch| of that atom, where
 * `flat` holds every atom's (d_out, d_in) matrix row-major in atom order. */
static void expect_atoms(mn_network *net, float *buf, const char *stage, double rtol)
{
    mn_mat want = read_torch(stage);
    int64_t at = 0, n = want.rows * want.cols;
    double worst = 0;
    for (int a = 0; a < mn_network_atom_count(net); a++) {
        mn_mat got = mn_network_atom_view(net, a, buf);
        double scale = 0, diff = 0;
        ck_assert_int_le(at + got.rows * got.cols, n);
        for (int64_t i = 0; i < got.rows; i++)
            for (int64_t j = 0; j < got.cols; j++) {
                double w = mn_mat_get(&want, 0, at + i * got.cols + j);
                scale = fmax(scale, fabs(w));
                diff = fmax(diff, fabs(mn_mat_get(&got, i, j) - w));
            }
        at += got.rows * got.cols;
        worst = fmax(worst, diff / scale);
        ck_assert_msg(diff <= rtol * scale, "%s, atom %d (%s): max |modnorm − torch| %.3g > %g × %.4g",
                      stage, a, mn_module_kind(mn_network_atom(net, a)), diff, rtol, scale);
    }
    ck_assert_int_eq(at, n);
    if (getenv("MN_TEST_VERBOSE"))
        printf("  torch %-6s worst max diff / max |torch| over atoms: %.3g\n", stage, worst);
    mn_mat_free(&want);
}

/* Occurrences of `needle` in `text`. */
static int count_in(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The head size is the parameter (dhead, 32): a sweep over width keeps it and
 * changes the number of heads (width / 32: 4 at the default width 128, as
 * before), a sweep over depth changes the blocks; the SP scale 1/√d_head is
 * the same at every width. A width that is not a multiple of the head size,
 * and the old parameter `heads`, are refused with a message. */
START_TEST(test_gpt_head_size)
{
    mn_graph_file *g;
    const char *text = mn_graph_gpt_text();
    ck_assert_ok(mn_graph_parse(&g, text, strlen(text), "examples/gpt.mn"));
    ck_assert_ok(mn_graph_set(g, "sp", 1));
    const int64_t widths[] = {64, 128, 256, 512};
    for (int i = 0; i < 4; i++) {
        mn_module *m;
        char *t, want[64];
        /* the default width first (no parameter varied), then a sweep's factory */
        if (widths[i] == 128)
            ck_assert_ok(mn_graph_make(g, &m));
        else
            ck_assert_ok(mn_graph_factory(g, "width", widths[i], &m));
        ck_assert_ok(mn_graph_print(m, &t));
        snprintf(want, sizeof want, "SplitHeads(%lld)", (long long)(widths[i] / 32));
        ck_assert_msg(count_in(t, want) == 3 * 4, "width %lld: %d x %s in %s",
                      (long long)widths[i], count_in(t, want), want, t);
        ck_assert_int_eq(count_in(t, "SplitHeads("), 3 * 4);
        ck_assert_int_eq(count_in(t, "RoPE(32, 64)"), 2 * 4);
        ck_assert_msg(fabs(scores_scale_in(t) - 1 / sqrt(32.0)) < 1e-15, "%s", t);
        free(t);
        mn_module_destroy(m);
    }
    const int depths[] = {2, 16};
    for (int i = 0; i < 2; i++) {
        mn_module *m;
        char *t;
        ck_assert_ok(mn_graph_factory(g, "depth", depths[i], &m));
        ck_assert_ok(mn_graph_print(m, &t));
        ck_assert_int_eq(count_in(t, "SplitHeads(4)"), 3 * depths[i]);
        ck_assert_int_eq(count_in(t, "SplitHeads("), 3 * depths[i]);
        free(t);
        mn_module_destroy(m);
    }
    mn_module *m;
    ck_assert_int_eq(mn_graph_factory(g, "width", 48, &m), MN_ERR_ARG);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(mn_last_error(), "head count 1.5"), "%s", mn_last_error());
    ck_assert_int_ne(mn_graph_set(g, "heads", 4), MN_OK);
    ck_assert_msg(strstr(mn_last_error(), "dhead"), "%s", mn_last_error());
    mn_graph_destroy(g);
    char out[4096];
    ck_assert_int_eq(tm_run_modnorm("inspect --model gpt --set heads=4", out, sizeof out), 2);
    ck_assert_msg(strstr(out, "no parameter 'heads'") && strstr(out, "dhead"), "%s", out);
}
END_TEST

/* The GPT of examples/gpt.mn against scripts/make_torch_gpt_fixture.py's float64
 * model (written out in torch, not from modnorm's modules), from the same float32
 * weights and tokens: the loss, every gradient, and one modular Muon step (exact
 * svd polar factor, momentum 0, targets from the tree). float32 against float64:
 * each comparison allows RTOL of the atom's largest reference magnitude. */
#define TORCH_RTOL 5e-6
START_TEST(test_torch_gpt)
{
    mn_mat hp = read_torch("hparams");
    ck_assert_int_eq(hp.rows * hp.cols, 6);
    double eta = mn_mat_get(&hp, 0, 0);
    int width = (int)mn_mat_get(&hp, 0, 1), blocks = (int)mn_mat_get(&hp, 0, 2);
    int heads = (int)mn_mat_get(&hp, 0, 3), context = (int)mn_mat_get(&hp, 0, 4);
    int vocab = (int)mn_mat_get(&hp, 0, 5);
    mn_mat_free(&hp);
    mn_network *net;
    ck_assert_ok(mn_network_create(&net, gpt(width, blocks, heads, context, vocab, false),
                                   MN_PARAM_MODULAR, 1));
    mn_network_set_threads(net, 1);
    /* torch's initial weights, atom by atom */
    mn_mat w0 = read_torch("w0");
    ck_assert_int_eq(w0.rows * w0.cols, mn_network_param_count(net));
    int64_t at = 0;
    for (int a = 0; a < mn_network_atom_count(net); a++) {
        mn_mat dst = mn_network_atom_view(net, a, mn_network_weights(net));
        for (int64_t i = 0; i < dst.rows; i++)
            for (int64_t j = 0; j < dst.cols; j++)
                mn_mat_set(&dst, i, j, mn_mat_get(&w0, 0, at + i * dst.cols + j));
        at += dst.rows * dst.cols;
    }
    mn_mat_free(&w0);
    mn_mat tk = read_torch("tokens"), lb = read_torch("labels");
    ck_assert_int_eq(tk.cols, context);
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){tk.rows, tk.cols});
    int64_t n = tk.rows * tk.cols;
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    ck_assert_ptr_nonnull(labels);
    ck_assert_int_eq(lb.rows * lb.cols, n);
    for (int64_t i = 0; i < n; i++) {
        x->data[i] = (float)mn_mat_get(&tk, i / tk.cols, i % tk.cols);
        labels[i] = (int32_t)mn_mat_get(&lb, 0, i);
    }
    mn_mat_free(&tk);
    mn_mat_free(&lb);

    mn_tensor *dy = NULL;
    double loss = gpt_loss(net, x, labels, &dy);
    mn_network_zero_grad(net);
    ck_assert_ok(mn_network_backward(net, dy));
    mn_mat lw = read_torch("loss");
    double ref = mn_mat_get(&lw, 0, 0);
    mn_mat_free(&lw);
    ck_assert_msg(fabs(loss - ref) <= TORCH_RTOL * fabs(ref), "loss %.9g, torch %.9g", loss, ref);
    expect_atoms(net, mn_network_grads(net), "grad", TORCH_RTOL);

    mn_solver_config cfg;
    ck_assert_ok(mn_solver_preset(&cfg, "muon", MN_PARAM_MODULAR));
    cfg.lr = eta;
    cfg.momentum = 0;
    cfg.schedule = MN_SCHEDULE_CONSTANT;
    cfg.polar.threads = 1;
    ck_assert_ok(mn_polar_lookup("svd", &cfg.polar.method));
    mn_solver *s;
    ck_assert_ok(mn_solver_create(&s, net, &cfg));
    ck_assert_ok(mn_solver_step(s, net));
    expect_atoms(net, mn_network_weights(net), "muon", TORCH_RTOL);
    mn_solver_destroy(s);
    mn_tensor_destroy(dy);
    mn_tensor_destroy(x);
    free(labels);
    mn_network_destroy(net);
}
END_TEST

/* RoPE and the causal mask share their rows among threads: at 1 and 2
 * threads (sizes past the 2^16 elements where loops fork) the scores'
 * forward and the input's gradient are the same bits. */
START_TEST(test_rows_threads_bit_identical)
{
    const char *text = "(SplitHeads(4) -> RoPE(16, 64), SplitHeads(4) -> RoPE(16, 64)) -> Scores "
                       "-> CausalMask -> Softmax(2)";
    int64_t B = 16, T = 64, D = 64;
    float *x0 = randn(B * T * D, 21, 1), *dy0 = randn(B * 4 * T * T, 22, 1);
    float *out[2], *grad[2];
    for (int threads = 1; threads <= 2; threads++) {
        mn_network *net;
        ck_assert_ok(mn_network_create(&net, build(text), MN_PARAM_MODULAR, 1));
        mn_network_set_threads(net, threads);
        mn_network_keep_input_grad(net, true);
        mn_tensor *x = tm_tensor_new(3, (int64_t[]){B, T, D});
        memcpy(x->data, x0, (size_t)(B * T * D) * sizeof(float));
        const mn_tensor *y;
        ck_assert_ok(mn_network_forward(net, x, &y));
        ck_assert_int_eq(mn_tensor_numel(y), B * 4 * T * T);
        mn_tensor *dy = tm_tensor_new(4, (int64_t[]){B, 4, T, T});
        memcpy(dy->data, dy0, (size_t)(B * 4 * T * T) * sizeof(float));
        ck_assert_ok(mn_network_backward(net, dy));
        const mn_tensor *dx = mn_network_input_grad(net);
        ck_assert_ptr_nonnull(dx);
        out[threads - 1] = malloc((size_t)(B * 4 * T * T) * sizeof(float));
        grad[threads - 1] = malloc((size_t)(B * T * D) * sizeof(float));
        memcpy(out[threads - 1], y->data, (size_t)(B * 4 * T * T) * sizeof(float));
        memcpy(grad[threads - 1], dx->data, (size_t)(B * T * D) * sizeof(float));
        mn_tensor_destroy(x);
        mn_tensor_destroy(dy);
        mn_network_destroy(net);
    }
    ck_assert_mem_eq(out[0], out[1], (size_t)(B * 4 * T * T) * sizeof(float));
    ck_assert_mem_eq(grad[0], grad[1], (size_t)(B * T * D) * sizeof(float));
    free(out[0]), free(out[1]), free(grad[0]), free(grad[1]), free(x0), free(dy0);
}
END_TEST

/* ---- attention statistics ---------------------------------------------------- */

/* Scores known by hand: one head of size 2, x_t·x_s/2 scaled by Softmax's 2. */
START_TEST(test_attention_stats_by_hand)
{
    mn_network *net;
    ck_assert_ok(mn_network_create(
        &net, build("(SplitHeads(1), SplitHeads(1)) -> Scores -> CausalMask -> Softmax(2)"),
        MN_PARAM_MODULAR, 1));
    mn_tensor *x = tm_tensor_new(3, (int64_t[]){1, 3, 2});
    const float v[6] = {1, 0, 0, 1, 30, 0};
    memcpy(x->data, v, sizeof v);
    mn_attention_stats st[2];
    int n = -1;
    ck_assert_ok(mn_network_attention_stats(net, x, st, 2, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(st[0].layer, 0);
    /* row 2: scores (15, 0, 450)·2: weights (0, 0, 1) in float32; rows 0, 1 have none */
    ck_assert_double_eq(st[0].max_score, 900);
    ck_assert_int_eq(st[0].allowed, 6);
    ck_assert_double_eq_tol(st[0].zero_share, 2.0 / 6, 1e-15);
    ck_assert_int_eq(mn_network_attention_stats(net, x, NULL, 1, &n), MN_ERR_ARG);
    ck_assert_int_eq(mn_network_attention_stats(net, NULL, NULL, 0, &n), MN_ERR_ARG);
    mn_tensor_destroy(x);
    mn_network_destroy(net);
}
END_TEST

/* A GPT has one attention layer per block; counts and ranges hold; cap 1
 * writes one entry and still counts every layer. */
START_TEST(test_attention_stats_gpt)
{
    mn_network *net;
    ck_assert_ok(mn_network_create(&net, gpt(16, 3, 4, 8, 7, false), MN_PARAM_MODULAR, 3));
    mn_tensor *x = tokens(2, 8, 7, 5);
    mn_attention_stats st[3];
    int n = 0;
    ck_assert_ok(mn_network_attention_stats(net, x, st, 3, &n));
    ck_assert_int_eq(n, 3);
    for (int l = 0; l < 3; l++) {
        ck_assert_int_eq(st[l].layer, l);
        ck_assert_int_eq(st[l].allowed, 2 * 4 * 8 * 9 / 2);
        /* modular init: heads of RMS about 1, so |q·k|/d_head is about 1 at most */
        ck_assert_msg(isfinite(st[l].max_score) && st[l].max_score > 0 && st[l].max_score < 4,
                      "layer %d: max score %g", l, st[l].max_score);
        ck_assert(st[l].zero_share == 0);
    }
    mn_attention_stats one = {.layer = -1};
    ck_assert_ok(mn_network_attention_stats(net, x, &one, 1, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(one.layer, 0);
    ck_assert_double_eq(one.max_score, st[0].max_score);
    mn_tensor_destroy(x);
    mn_network_destroy(net);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("attention");
    TCase *k = tcase_create("kernels");
    tcase_add_test(k, test_kernels_match_reference);
    tcase_add_test(k, test_softmax_rows);
    tcase_add_test(k, test_rope);
    tcase_add_test(k, test_rows_threads_bit_identical);
    tcase_add_test(k, test_gelu_f32);
    suite_add_tcase(s, k);
    TCase *f = tcase_create("finite differences");
    tcase_set_timeout(f, 300);
    tcase_add_test(f, test_fd_bonds);
    tcase_add_test(f, test_fd_gpt);
    suite_add_tcase(s, f);
    TCase *e = tcase_create("embed rows");
    tcase_add_test(e, test_embed_lmo_tiny_rows);
    tcase_add_test(e, test_embed_absent_token_steps);
    suite_add_tcase(s, e);
    TCase *g = tcase_create("gpt");
    tcase_set_timeout(g, 300);
    tcase_add_test(g, test_refusals);
    tcase_add_test(g, test_gpt_causal);
    tcase_add_test(g, test_gpt_trains);
    tcase_add_test(g, test_gpt_targets);
    tcase_add_test(g, test_gpt_sp);
    tcase_add_test(g, test_gpt_head_size);
    tcase_add_test(g, test_torch_gpt);
    tcase_add_test(g, test_attention_stats_by_hand);
    tcase_add_test(g, test_attention_stats_gpt);
    suite_add_tcase(s, g);
    return s;
}

int main(void) { return tm_run_suite(suite()); }
