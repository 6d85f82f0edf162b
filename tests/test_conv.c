/* Convolutions: Conv2D forward and backward against a naive direct
 * convolution and by finite differences (strides 1-3, padding 0-2, odd and
 * even image sizes, k = 1, 2, 3, 5); the pooling bonds, GlobalMean, Image and
 * Flatten by finite differences and their sensitivities; the per-tap norm's
 * batched polar factors against k² separate polar calls; the flattened
 * norm's scale; initialization on each norm's unit sphere; text forms; the
 * element-wise, pooling and im2col kernels bit-identical on 1 and 2 threads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/conv.h"
#include "testutil.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- helpers ------------------------------------------------------------ */

static mn_module *conv(int64_t d_out, int64_t d_in, int64_t k, int64_t s, int64_t p)
{
    mn_module *m;
    ck_assert_ok(mn_conv2d(&m, d_out, d_in, k, s, p));
    return m;
}

static mn_module *parse(const char *text)
{
    mn_module *m;
    ck_assert_ok(mn_module_parse(&m, text));
    return m;
}

typedef struct {
    int64_t B, C, H, W, O, k, s, p;
} geom;

/* Odd sizes, every stride and padding the kernel allows, k from 1 to 5. */
static const geom geoms[] = {
    {2, 3, 7, 5, 4, 3, 1, 1}, {2, 3, 7, 5, 4, 3, 1, 0}, {1, 2, 9, 8, 3, 3, 2, 1},
    {2, 1, 6, 7, 5, 2, 2, 0}, {1, 3, 5, 5, 2, 1, 1, 0}, {1, 2, 11, 9, 3, 5, 3, 2},
    {3, 4, 4, 6, 2, 3, 3, 2}, {1, 1, 3, 3, 1, 3, 1, 2},
};
#define N_GEOMS (sizeof geoms / sizeof geoms[0])

static int64_t side(int64_t n, const geom *g) { return (n + 2 * g->p - g->k) / g->s + 1; }

/* x[b, c, ih, iw], 0 outside the image. */
static double at(const float *x, const geom *g, int64_t b, int64_t c, int64_t ih, int64_t iw)
{
    if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W)
        return 0;
    return x[((b * g->C + c) * g->H + ih) * g->W + iw];
}

/* The direct convolution, in double: y (B, O, Ho, Wo). */
static void naive_forward(double *y, const float *x, const float *w, const geom *g)
{
    int64_t Ho = side(g->H, g), Wo = side(g->W, g);
    for (int64_t b = 0; b < g->B; b++)
        for (int64_t o = 0; o < g->O; o++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double s = 0;
                    for (int64_t c = 0; c < g->C; c++)
                        for (int64_t i = 0; i < g->k; i++)
                            for (int64_t j = 0; j < g->k; j++)
                                s += w[((o * g->C + c) * g->k + i) * g->k + j] *
                                     at(x, g, b, c, oh * g->s - g->p + i, ow * g->s - g->p + j);
                    y[((b * g->O + o) * Ho + oh) * Wo + ow] = s;
                }
}

/* The direct adjoint: dw and dx of <dy, conv(x, w)>. */
static void naive_backward(double *dw, double *dx, const float *x, const float *w,
                           const float *dy, const geom *g)
{
    int64_t Ho = side(g->H, g), Wo = side(g->W, g);
    memset(dw, 0, sizeof(double) * (size_t)(g->O * g->C * g->k * g->k));
    memset(dx, 0, sizeof(double) * (size_t)(g->B * g->C * g->H * g->W));
    for (int64_t b = 0; b < g->B; b++)
        for (int64_t o = 0; o < g->O; o++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double d = dy[((b * g->O + o) * Ho + oh) * Wo + ow];
                    for (int64_t c = 0; c < g->C; c++)
                        for (int64_t i = 0; i < g->k; i++)
                            for (int64_t j = 0; j < g->k; j++) {
                                int64_t ih = oh * g->s - g->p + i, iw = ow * g->s - g->p + j;
                                int64_t wi = ((o * g->C + c) * g->k + i) * g->k + j;
                                dw[wi] += d * at(x, g, b, c, ih, iw);
                                if (ih >= 0 && ih < g->H && iw >= 0 && iw < g->W)
                                    dx[((b * g->C + c) * g->H + ih) * g->W + iw] += d * w[wi];
                            }
                }
}

static double max_rel_diff(const float *a, const double *b, int64_t n)
{
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(b[i]));
    for (int64_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(a[i] - b[i]));
    return scale > 0 ? worst / scale : worst;
}

/* ---- Conv2D against the direct convolution ------------------------------ */

START_TEST(test_conv_matches_direct)
{
    for (size_t gi = 0; gi < N_GEOMS; gi++) {
        const geom *g = &geoms[gi];
        mn_network *net = tm_network_new(conv(g->O, g->C, g->k, g->s, g->p), 10 + gi);
        mn_network_keep_input_grad(net, true);
        mn_rng r;
        mn_rng_seed(&r, 100 + gi);
        mn_tensor *x = tm_tensor_new(4, (int64_t[]){g->B, g->C, g->H, g->W});
        tm_fill_normal(x, &r, 1);
        const mn_tensor *y;
        ck_assert_ok(mn_network_forward(net, x, &y));
        int64_t Ho = side(g->H, g), Wo = side(g->W, g), ny = g->B * g->O * Ho * Wo;
        ck_assert_int_eq(y->ndim, 4);
        ck_assert_int_eq(y->shape[1], g->O);
        ck_assert_int_eq(y->shape[2], Ho);
        ck_assert_int_eq(y->shape[3], Wo);
        const float *w = mn_network_weights(net);
        double *yref = malloc(sizeof(double) * (size_t)ny);
        naive_forward(yref, x->data, w, g);
        double e = max_rel_diff(y->data, yref, ny);
        ck_assert_msg(e < 1e-5, "geometry %zu: forward off the direct convolution by %g", gi, e);

        mn_tensor *dy = tm_tensor_new(4, y->shape);
        tm_fill_normal(dy, &r, 1);
        mn_network_zero_grad(net);
        ck_assert_ok(mn_network_backward(net, dy));
        int64_t nw = mn_network_param_count(net), nx = mn_tensor_numel(x);
        ck_assert_int_eq(nw, g->O * g->C * g->k * g->k);
        double *dw = malloc(sizeof(double) * (size_t)nw), *dx = malloc(sizeof(double) * (size_t)nx);
        naive_backward(dw, dx, x->data, w, dy->data, g);
        e = max_rel_diff(mn_network_grads(net), dw, nw);
        ck_assert_msg(e < 1e-5, "geometry %zu: dW off the direct adjoint by %g", gi, e);
        e = max_rel_diff(mn_network_input_grad(net)->data, dx, nx);
        ck_assert_msg(e < 1e-5, "geometry %zu: dx off the direct adjoint by %g", gi, e);
        /* gradients accumulate: a second backward doubles dW */
        ck_assert_ok(mn_network_forward(net, x, &y));
        ck_assert_ok(mn_network_backward(net, dy));
        for (int64_t i = 0; i < nw; i++)
            dw[i] *= 2;
        e = max_rel_diff(mn_network_grads(net), dw, nw);
        ck_assert_msg(e < 1e-5, "geometry %zu: dW does not accumulate (%g)", gi, e);

        free(yref);
        free(dw);
        free(dx);
        mn_tensor_destroy(dy);
        mn_tensor_destroy(x);
        mn_network_destroy(net);
    }
}
END_TEST

/* A small dW over many columns (3 x 18 over 5·57·63 = 17955) is summed in
 * column chunks side by side (conv.c: dw_chunks): still the direct adjoint,
 * and the same bits on 1 and 2 threads. */
START_TEST(test_conv_dw_chunks)
{
    const geom g = {5, 2, 57, 63, 3, 3, 1, 1};
    float *grads[2];
    int64_t nw = g.O * g.C * g.k * g.k;
    mn_rng r;
    mn_rng_seed(&r, 902);
    mn_tensor *x = tm_tensor_new(4, (int64_t[]){g.B, g.C, g.H, g.W});
    tm_fill_normal(x, &r, 1);
    mn_tensor *dy = tm_tensor_new(4, (int64_t[]){g.B, g.O, side(g.H, &g), side(g.W, &g)});
    tm_fill_normal(dy, &r, 1);
    for (int t = 0; t < 2; t++) {
        mn_network *net = tm_network_new(conv(g.O, g.C, g.k, g.s, g.p), 903);
        mn_network_set_threads(net, t + 1);
        const mn_tensor *y;
        ck_assert_ok(mn_network_forward(net, x, &y));
        mn_network_zero_grad(net);
        ck_assert_ok(mn_network_backward(net, dy));
        ck_assert_int_eq(mn_network_param_count(net), nw);
        double *dw = malloc(sizeof(double) * (size_t)nw);
        double *dx = malloc(sizeof(double) * (size_t)mn_tensor_numel(x));
        naive_backward(dw, dx, x->data, mn_network_weights(net), dy->data, &g);
        double e = max_rel_diff(mn_network_grads(net), dw, nw);
        ck_assert_msg(e < 1e-5, "%d threads: dW off the direct adjoint by %g", t + 1, e);
        grads[t] = malloc(sizeof(float) * (size_t)nw);
        memcpy(grads[t], mn_network_grads(net), sizeof(float) * (size_t)nw);
        free(dw);
        free(dx);
        mn_network_destroy(net);
    }
    ck_assert(memcmp(grads[0], grads[1], sizeof(float) * (size_t)nw) == 0);
    free(grads[0]);
    free(grads[1]);
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
}
END_TEST

/* ---- finite differences ------------------------------------------------- *
 * f = <R, net(x)> accumulated in double, central differences with step
 * ε = 1e-2 as stored in float32. A coordinate passes when
 * |fd − an| ≤ 1e-3·|an| + 1e-4·max|an|, and the check is shown to reject the
 * gradient × 1.01. Every network here is linear or piecewise linear in each
 * coordinate (ReLU, MaxPool), so between kinks the difference quotient is
 * exact but for float32 rounding of f (~1e-7 relative, ~1e-5 of a quotient
 * at ε = 1e-2; at ε = 2e-3 it reached 1e-5 on a coordinate 1e-3 in size and
 * failed). The bond inputs are spread with gaps of 0.05 > 2ε, so no step
 * moves a window's maximum; a step across a kink further in (after a
 * Conv2D) could only make the check fail, never pass. */

typedef struct {
    mn_network *net;
    mn_tensor *x, *r;
} probe;

static double objective(void *ctx)
{
    probe *p = ctx;
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(p->net, p->x, &y));
    ck_assert_int_eq(mn_tensor_numel(y), mn_tensor_numel(p->r));
    double f = 0;
    for (int64_t i = 0; i < mn_tensor_numel(y); i++)
        f += (double)y->data[i] * p->r->data[i];
    return f;
}

static bool agree(const double *fd, const double *an, int64_t n, double f, int64_t *bad)
{
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(an[i]));
    for (int64_t i = 0; i < n; i++)
        if (fabs(fd[i] - f * an[i]) > 1e-3 * fabs(f * an[i]) + 1e-4 * scale) {
            *bad = i;
            return false;
        }
    return true;
}

static void check(const char *what, const double *fd, const double *an, int64_t n)
{
    int64_t bad = -1;
    ck_assert_msg(agree(fd, an, n, 1.0, &bad), "%s: coordinate %lld: fd %.9g, analytic %.9g",
                  what, (long long)bad, bad >= 0 ? fd[bad] : 0, bad >= 0 ? an[bad] : 0);
    ck_assert_msg(!agree(fd, an, n, 1.01, &bad), "%s: the check accepts the gradient × 1.01",
                  what);
}

/* Checks the weight and input gradients of `root` at input x. */
static void fd_check(const char *name, mn_module *root, mn_tensor *x, uint64_t seed, double eps)
{
    probe p = {tm_network_new(root, seed), x, NULL};
    mn_network_keep_input_grad(p.net, true);
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(p.net, x, &y));
    p.r = tm_tensor_new(y->ndim, y->shape);
    mn_rng r;
    mn_rng_seed(&r, seed + 1);
    tm_fill_normal(p.r, &r, 1);
    mn_network_zero_grad(p.net);
    ck_assert_ok(mn_network_forward(p.net, x, &y));
    ck_assert_ok(mn_network_backward(p.net, p.r));
    int64_t nw = mn_network_param_count(p.net), nx = mn_tensor_numel(x);
    double *an = calloc((size_t)(nw + nx) + 1, sizeof(double));
    double *fd = calloc((size_t)(nw + nx) + 1, sizeof(double));
    for (int64_t i = 0; i < nw; i++)
        an[i] = mn_network_grads(p.net)[i];
    for (int64_t i = 0; i < nx; i++)
        an[nw + i] = mn_network_input_grad(p.net)->data[i];
    char what[160];
    if (nw > 0) {
        tm_central_differences(objective, &p, mn_network_weights(p.net), nw, eps, fd);
        snprintf(what, sizeof what, "%s (weights)", name);
        check(what, fd, an, nw);
    }
    tm_central_differences(objective, &p, x->data, nx, eps, fd + nw);
    snprintf(what, sizeof what, "%s (input)", name);
    check(what, fd + nw, an + nw, nx);
    free(an);
    free(fd);
    mn_tensor_destroy(p.r);
    mn_network_destroy(p.net);
}

/* Distinct values with gaps of at least 0.05 (no two within a pool window
 * swap under a 1e-2 step), 0.025 or more from ReLU's kink. */
static void fill_spread(mn_tensor *x, mn_rng *r)
{
    int64_t n = mn_tensor_numel(x);
    for (int64_t i = 0; i < n; i++)
        x->data[i] = (float)(0.05 * (double)(i - n / 2) + 0.025);
    for (int64_t i = n - 1; i > 0; i--) { /* shuffle */
        int64_t j = (int64_t)mn_rng_below(r, (uint64_t)(i + 1));
        float t = x->data[i];
        x->data[i] = x->data[j];
        x->data[j] = t;
    }
}

START_TEST(test_conv_finite_differences)
{
    for (size_t gi = 0; gi < N_GEOMS; gi++) {
        const geom *g = &geoms[gi];
        mn_rng r;
        mn_rng_seed(&r, 200 + gi);
        mn_tensor *x = tm_tensor_new(4, (int64_t[]){g->B, g->C, g->H, g->W});
        tm_fill_normal(x, &r, 1);
        char name[96];
        snprintf(name, sizeof name, "Conv2D geometry %zu", gi);
        fd_check(name, conv(g->O, g->C, g->k, g->s, g->p), x, 300 + gi, 1e-2);
        mn_tensor_destroy(x);
    }
}
END_TEST

START_TEST(test_bonds_finite_differences)
{
    static const struct {
        const char *name, *text[4];
        int64_t shape[4];
        int ndim;
    } cases[] = {
        {"AvgPool(2)", {"AvgPool(2)"}, {2, 3, 4, 6}, 4},
        {"AvgPool(3)", {"AvgPool(3)"}, {1, 2, 9, 3}, 4},
        {"MaxPool(2)", {"MaxPool(2)"}, {2, 3, 4, 6}, 4},
        {"MaxPool(3)", {"MaxPool(3)"}, {1, 2, 6, 9}, 4},
        {"GlobalMean", {"GlobalMean"}, {2, 3, 5, 3}, 4},
        {"Flatten (B,C,H,W)", {"Flatten"}, {2, 3, 2, 3}, 4},
        {"Image → Conv2D", {"Image(2, 5, 3)", "Conv2D(3, 2, 3, 1, 1)"}, {2, 30}, 2},
        {"Conv2D → ReLU → MaxPool → Flatten → Linear",
         {"Conv2D(3, 2, 3, 1, 1)", "ReLU", "MaxPool(2)", "Flatten"}, {2, 2, 4, 6}, 4},
        {"Conv2D → AvgPool → GlobalMean",
         {"Conv2D(4, 2, 3, 2, 1)", "AvgPool(2)", "GlobalMean"}, {2, 2, 7, 7}, 4},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        mn_module *parts[5];
        int n = 0;
        for (; n < 4 && cases[ci].text[n]; n++)
            parts[n] = parse(cases[ci].text[n]);
        if (strstr(cases[ci].name, "→ Linear"))
            ck_assert_ok(mn_linear(&parts[n++], 2, 3 * 2 * 3));
        mn_module *root = n == 1 ? parts[0] : tm_seq(n, parts);
        mn_rng r;
        mn_rng_seed(&r, 400 + ci);
        mn_tensor *x = tm_tensor_new(cases[ci].ndim, cases[ci].shape);
        fill_spread(x, &r);
        fd_check(cases[ci].name, root, x, 500 + ci, 1e-2);
        mn_tensor_destroy(x);
    }
}
END_TEST

/* MaxPool's gradient goes to the window's maximum only; AvgPool's is spread. */
START_TEST(test_pool_values)
{
    mn_network *mx = tm_network_new(parse("MaxPool(2)"), 1),
               *av = tm_network_new(parse("AvgPool(2)"), 1);
    mn_tensor *x = tm_tensor_new(4, (int64_t[]){1, 1, 2, 4});
    const float v[8] = {1, 5, -2, 0, 3, 2, 7, -1};
    memcpy(x->data, v, sizeof v);
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(mx, x, &y));
    ck_assert_int_eq(y->shape[2], 1);
    ck_assert_int_eq(y->shape[3], 2);
    ck_assert_float_eq(y->data[0], 5);
    ck_assert_float_eq(y->data[1], 7);
    ck_assert_ok(mn_network_forward(av, x, &y));
    ck_assert_float_eq_tol(y->data[0], 11.0f / 4, 1e-6);
    ck_assert_float_eq_tol(y->data[1], 4.0f / 4, 1e-6);
    mn_module *bad;
    ck_assert_int_eq(mn_max_pool(&bad, 0), MN_ERR_ARG);
    mn_tensor *odd = tm_tensor_new(4, (int64_t[]){1, 1, 3, 4});
    ck_assert_int_eq(mn_network_forward(mx, odd, &y), MN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "multiples of 2"));
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "receives 3 x 4")); /* the sizes: review-s12 #8 */
    mn_tensor_destroy(odd);
    mn_tensor_destroy(x);
    mn_network_destroy(mx);
    mn_network_destroy(av);
}
END_TEST

/* ---- sensitivities ---------------------------------------------------------
 * ‖f(x)‖_RMS ≤ ν·‖x‖_RMS for the linear maps (Conv2D at unit norm, AvgPool,
 * GlobalMean) and ‖f(x) − f(x')‖ ≤ ν‖x − x'‖ for MaxPool; and the bound is
 * reached (to 2%) by the inputs the derivations name. */

static double rms(const float *v, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    return sqrt(s / (double)n);
}

static double ratio(mn_network *net, mn_tensor *x)
{
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(net, x, &y));
    return rms(y->data, mn_tensor_numel(y)) / rms(x->data, mn_tensor_numel(x));
}

START_TEST(test_sensitivities)
{
    const char *norms[] = {"taps-3", "rms-rms"};
    for (int ni = 0; ni < 2; ni++)
        for (int64_t s = 1; s <= 2; s++) {
            mn_module *c = conv(6, 6, 3, s, 1);
            ck_assert_ok(mn_module_set_norm(c, norms[ni]));
            double nu = mn_module_sensitivity(c);
            ck_assert_double_eq_tol(nu, s == 1 ? 1.0 : 4.0 / 3, 1e-15);
            mn_network *net = tm_network_new(c, 7);
            double wn;
            mn_mat W = mn_network_atom_view(net, 0, mn_network_weights(net));
            ck_assert_ok(mn_norm_value(mn_module_norm(mn_network_atom(net, 0)), &W, &wn));
            ck_assert_double_eq_tol(wn, 1.0, 1e-5); /* init on the unit sphere */
            mn_tensor *x = tm_tensor_new(4, (int64_t[]){2, 6, 12, 12});
            mn_rng r;
            mn_rng_seed(&r, 9);
            for (int trial = 0; trial < 20; trial++) {
                tm_fill_normal(x, &r, 1);
                if (trial % 2) /* energy on the stride grid only */
                    for (int64_t i = 0; i < mn_tensor_numel(x); i++)
                        if (((i / 12) % 12) % s || (i % 12) % s)
                            x->data[i] = 0;
                ck_assert_double_le(ratio(net, x), nu * (1 + 1e-5));
            }
            mn_tensor_destroy(x);
            mn_network_destroy(net);
        }
    /* stride 1, per tap: W_t = I/k² and a constant image reach ν = 1 inside
     * the border (a 40 x 40 image loses 1 - (38/40)² of the mass to it at most) */
    mn_network *net = tm_network_new(conv(4, 4, 3, 1, 1), 1);
    float *w = mn_network_weights(net);
    memset(w, 0, sizeof(float) * 4 * 4 * 9);
    for (int64_t o = 0; o < 4; o++)
        for (int64_t t = 0; t < 9; t++)
            w[(o * 4 + o) * 9 + t] = 1.0f / 9;
    mn_mat W = mn_network_atom_view(net, 0, w);
    double wn;
    ck_assert_ok(mn_norm_value(mn_module_norm(mn_network_atom(net, 0)), &W, &wn));
    ck_assert_double_eq_tol(wn, 1.0, 1e-6);
    mn_tensor *x = tm_tensor_new(4, (int64_t[]){1, 4, 40, 40});
    for (int64_t i = 0; i < mn_tensor_numel(x); i++)
        x->data[i] = 1;
    double q = ratio(net, x);
    ck_assert_msg(q > 0.95 && q <= 1 + 1e-6, "constant image: ratio %g", q);
    mn_tensor_destroy(x);
    mn_network_destroy(net);

    /* pooling */
    mn_module *avg = parse("AvgPool(2)"), *mxp = parse("MaxPool(2)"), *gm = parse("GlobalMean");
    ck_assert_double_eq(mn_module_sensitivity(avg), 1);
    ck_assert_double_eq(mn_module_sensitivity(mxp), 2);
    ck_assert_double_eq(mn_module_sensitivity(gm), 1);
    mn_network *na = tm_network_new(avg, 1), *nm = tm_network_new(mxp, 1),
               *ng = tm_network_new(gm, 1);
    x = tm_tensor_new(4, (int64_t[]){2, 3, 8, 8});
    mn_tensor *x2 = tm_tensor_new(4, x->shape), *d = tm_tensor_new(4, x->shape);
    mn_rng r;
    mn_rng_seed(&r, 3);
    for (int trial = 0; trial < 20; trial++) {
        tm_fill_normal(x, &r, 1);
        ck_assert_double_le(ratio(na, x), 1 + 1e-6);
        ck_assert_double_le(ratio(ng, x), 1 + 1e-6);
        tm_fill_normal(x2, &r, 1);
        const mn_tensor *y;
        ck_assert_ok(mn_network_forward(nm, x, &y));
        int64_t ny = mn_tensor_numel(y);
        float *y1 = malloc(sizeof(float) * (size_t)ny);
        memcpy(y1, y->data, sizeof(float) * (size_t)ny);
        ck_assert_ok(mn_network_forward(nm, x2, &y));
        for (int64_t i = 0; i < ny; i++)
            y1[i] -= y->data[i];
        for (int64_t i = 0; i < mn_tensor_numel(x); i++)
            d->data[i] = x->data[i] - x2->data[i];
        ck_assert_double_le(rms(y1, ny) / rms(d->data, mn_tensor_numel(d)), 2 * (1 + 1e-6));
        free(y1);
    }
    /* MaxPool reaches k: one spike per window against zeros */
    for (int64_t i = 0; i < mn_tensor_numel(x); i++)
        x->data[i] = (i % 2 == 0 && (i / 8) % 2 == 0) ? 1.0f : 0.0f;
    ck_assert_double_eq_tol(ratio(nm, x), 2.0, 1e-6);
    for (int64_t i = 0; i < mn_tensor_numel(x); i++)
        x->data[i] = 1;
    ck_assert_double_eq_tol(ratio(na, x), 1.0, 1e-6);
    mn_tensor_destroy(x);
    mn_tensor_destroy(x2);
    mn_tensor_destroy(d);
    mn_network_destroy(na);
    mn_network_destroy(nm);
    mn_network_destroy(ng);
}
END_TEST

/* ---- norms -------------------------------------------------------------- */

/* The batched polar factors equal k² separate polar calls (1e-5), for every
 * iterative method, tall and wide taps, and the default form (which may
 * take the Gram form one call at a time). */
START_TEST(test_batched_polar_equals_separate)
{
    static const int64_t shapes[][2] = {{16, 8}, {8, 16}, {32, 1}, {12, 12}, {24, 40}};
    for (size_t mi = 0; mi < mn_polar_count(); mi++) {
        const mn_polar_method *pm = mn_polar_at(mi);
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (int form = MN_POLAR_AUTO; form <= MN_POLAR_DIRECT; form++) {
                int64_t n = 9, rows = shapes[si][0], cols = shapes[si][1];
                mn_mat G[9], out[9], ref[9];
                for (int64_t i = 0; i < n; i++) {
                    G[i] = tm_make(i == 3 ? TM_POWER_LAW : TM_LOW_RANK_NOISE, MN_F32, rows,
                                   cols, 50 + (uint64_t)(i + 10 * si));
                    ck_assert_ok(mn_mat_alloc(&out[i], MN_F32, rows, cols));
                    ck_assert_ok(mn_mat_alloc(&ref[i], MN_F32, rows, cols));
                }
                mn_mat_fill(&G[5], 0); /* a zero tap dualizes to zero */
                /* 2 threads: the taps side by side; 1: in turn */
                mn_dualize_opts o = {.method = pm, .form = (mn_polar_form)form,
                                     .threads = 1 + (int)(si % 2)};
                ck_assert_ok(mn_polar_batch_run(&o, n, out, G));
                o.threads = 1;
                for (int64_t i = 0; i < n; i++) {
                    ck_assert_ok(mn_polar_run(&o, &ref[i], &G[i]));
                    double e = tm_max_abs_diff(&out[i], &ref[i]);
                    ck_assert_msg(e <= 1e-5, "%s form %d %lldx%lld tap %lld: batch is %g from a "
                                  "separate call", pm->name, form, (long long)rows,
                                  (long long)cols, (long long)i, e);
                }
                for (int64_t i = 0; i < n; i++) {
                    mn_mat_free(&G[i]);
                    mn_mat_free(&out[i]);
                    mn_mat_free(&ref[i]);
                }
            }
    }
    mn_mat a[2];
    ck_assert_ok(mn_mat_alloc(&a[0], MN_F32, 3, 4));
    ck_assert_ok(mn_mat_alloc(&a[1], MN_F32, 4, 3));
    ck_assert_int_eq(mn_polar_batch_run(NULL, 2, a, a), MN_ERR_SHAPE);
    mn_mat_free(&a[0]);
    mn_mat_free(&a[1]);
}
END_TEST

/* The per-tap lmo through mn_dualize (the batch) equals the taps dualized one
 * by one as rms-rms matrices and scaled by 1/k²; the flattened lmo is
 * (1/k)·√(d_out/d_in)·polar(G_flat). */
START_TEST(test_conv_lmos)
{
    const int64_t d_out = 12, d_in = 5, k = 3, kk = 9;
    const mn_norm *taps, *flat, *rr;
    ck_assert_ok(mn_norm_lookup("taps-3", &taps));
    ck_assert_ok(mn_norm_lookup("rms-rms", &flat));
    rr = flat;
    for (int mi = 0; mi < 2; mi++) {
        mn_dualize_opts o = {0};
        ck_assert_ok(mn_polar_lookup(mi == 0 ? "svd" : "ns5", &o.method));
        mn_mat G = tm_make(TM_LOW_RANK_NOISE, MN_F32, d_out, d_in * kk, 77), L, T, Lt;
        ck_assert_ok(mn_mat_alloc(&L, MN_F32, d_out, d_in * kk));
        ck_assert_ok(mn_mat_alloc(&T, MN_F32, d_out, d_in));
        ck_assert_ok(mn_mat_alloc(&Lt, MN_F32, d_out, d_in));
        ck_assert_ok(mn_dualize(taps, &o, &L, &G));
        for (int64_t t = 0; t < kk; t++) {
            for (int64_t i = 0; i < d_out; i++)
                for (int64_t c = 0; c < d_in; c++)
                    mn_mat_set(&T, i, c, mn_mat_get(&G, i, c * kk + t));
            ck_assert_ok(mn_dualize(rr, &o, &T, &T));
            double e = 0;
            for (int64_t i = 0; i < d_out; i++)
                for (int64_t c = 0; c < d_in; c++)
                    e = fmax(e, fabs(mn_mat_get(&L, i, c * kk + t) - mn_mat_get(&T, i, c) / kk));
            ck_assert_msg(e <= 1e-5, "%s tap %lld: %g", o.method->name, (long long)t, e);
        }
        /* flattened: the scale is read from the d_out x (d_in·k²) shape */
        mn_mat P;
        ck_assert_ok(mn_mat_alloc(&P, MN_F32, d_out, d_in * kk));
        ck_assert_ok(mn_polar_run(&o, &P, &G));
        ck_assert_ok(mn_dualize(flat, &o, &L, &G));
        double want = sqrt((double)d_out / (double)d_in) / (double)k, e = 0;
        for (int64_t i = 0; i < d_out; i++)
            for (int64_t j = 0; j < d_in * kk; j++)
                e = fmax(e, fabs(mn_mat_get(&L, i, j) - want * mn_mat_get(&P, i, j)));
        ck_assert_msg(e <= 1e-6, "flattened lmo is not (1/k)·√(d_out/d_in)·polar: %g", e);
        mn_mat_free(&P);
        mn_mat_free(&G);
        mn_mat_free(&L);
        mn_mat_free(&T);
        mn_mat_free(&Lt);
    }
    /* a shape that is not d_out x (d_in·k²) is refused, naming the norm */
    mn_mat bad = tm_make(TM_GAUSSIAN, MN_F32, 4, 10, 1);
    double v;
    ck_assert_int_eq(mn_norm_value(taps, &bad, &v), MN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "taps-3"));
    mn_mat_free(&bad);
    const mn_norm *n1;
    ck_assert_ok(mn_norm_lookup("taps-1", &n1));
    ck_assert_str_eq(n1->name, "rms-rms");
    ck_assert_int_eq(mn_norm_lookup("taps-0", &n1), MN_ERR_ARG);
    ck_assert_int_eq(mn_norm_lookup("taps-x", &n1), MN_ERR_ARG);
}
END_TEST

/* Modular init lands on the unit sphere of whichever norm the atom has;
 * the default norm is per tap. */
START_TEST(test_conv_init_and_norms)
{
    const char *names[] = {NULL, "rms-rms", "taps-3"};
    for (int i = 0; i < 3; i++) {
        mn_module *c = conv(8, 3, 3, 1, 1);
        ck_assert_str_eq(mn_module_norm(c)->name, "taps-3");
        if (names[i])
            ck_assert_ok(mn_module_set_norm(c, names[i]));
        int64_t dout, din;
        ck_assert_ok(mn_module_weight_shape(c, &dout, &din));
        ck_assert_int_eq(dout, 8);
        ck_assert_int_eq(din, 27);
        ck_assert_double_eq(mn_module_mass(c), 1);
        mn_network *net = tm_network_new(c, 5 + (uint64_t)i);
        mn_mat W = mn_network_atom_view(net, 0, mn_network_weights(net));
        double v;
        ck_assert_ok(mn_norm_value(mn_module_norm(mn_network_atom(net, 0)), &W, &v));
        ck_assert_double_eq_tol(v, 1.0, 1e-5);
        mn_network_destroy(net);
    }
}
END_TEST

/* ---- text forms and refusals ------------------------------------------- */

START_TEST(test_text_forms)
{
    static const char *texts[] = {"Conv2D(16, 3, 5, 2, 2)", "Image(1, 28, 28)", "AvgPool(2)",
                                  "MaxPool(3)", "GlobalMean"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        mn_module *m = parse(texts[i]);
        char buf[128];
        ck_assert_ok(mn_module_print(m, buf, sizeof buf));
        ck_assert_str_eq(buf, texts[i]);
        mn_module_destroy(m);
    }
    mn_module *m = parse("Conv2D(4, 2, 3)"); /* stride 1, padding 0 */
    char buf[128];
    ck_assert_ok(mn_module_print(m, buf, sizeof buf));
    ck_assert_str_eq(buf, "Conv2D(4, 2, 3, 1, 0)");
    mn_module_destroy(m);
    static const char *bad[] = {"Conv2D(4, 2, 0)", "Conv2D(4, 2, 3, 0)", "Conv2D(4, 2, 3, 1, 3)",
                                "Conv2D(4, 2.5, 3)", "Conv2D(4, 2)", "Image(1, 0, 2)",
                                "AvgPool(0)", "MaxPool(1.5)"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(mn_module_parse(&m, bad[i]) == MN_ERR_ARG, "%s accepted", bad[i]);
        ck_assert_ptr_null(m);
    }
    /* wrong input shapes are errors naming the module */
    mn_network *net = tm_network_new(conv(4, 2, 3, 1, 1), 1);
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){2, 18});
    const mn_tensor *y;
    ck_assert_int_eq(mn_network_forward(net, x, &y), MN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "Conv2D"));
    /* flat input: the Image() hint right after "tensor" (it read "tensor0 (") */
    ck_assert_msg(strstr(mn_last_error(), "receives a 2-D tensor (Image(C, H, W)"), "message: %s",
                  mn_last_error());
    mn_tensor_destroy(x);
    x = tm_tensor_new(4, (int64_t[]){2, 3, 4, 4});
    ck_assert_int_eq(mn_network_forward(net, x, &y), MN_ERR_SHAPE);
    ck_assert_msg(strstr(mn_last_error(), "receives a 4-D tensor of 3 channels"), "message: %s",
                  mn_last_error());
    mn_tensor_destroy(x);
    mn_network_destroy(net);
    net = tm_network_new(conv(4, 2, 5, 1, 0), 1);
    x = tm_tensor_new(4, (int64_t[]){1, 2, 3, 9});
    ck_assert_int_eq(mn_network_forward(net, x, &y), MN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "smaller than"));
    mn_tensor_destroy(x);
    mn_network_destroy(net);
}
END_TEST

/* im2col and col2im are adjoint: <cols, im2col(x)> = <col2im(cols), x>. */
START_TEST(test_im2col_adjoint)
{
    for (size_t gi = 0; gi < N_GEOMS; gi++) {
        const geom *gg = &geoms[gi];
        mn_conv_geom g = {gg->B, gg->C, gg->H, gg->W, gg->O, side(gg->H, gg), side(gg->W, gg),
                          gg->k, gg->s, gg->p};
        int64_t nx = g.batch * g.c_in * g.h * g.w, nc = g.c_in * g.k * g.k * g.batch * g.ho * g.wo;
        float *x = malloc(sizeof(float) * (size_t)nx), *dx = malloc(sizeof(float) * (size_t)nx);
        float *c = malloc(sizeof(float) * (size_t)nc), *r = malloc(sizeof(float) * (size_t)nc);
        mn_rng rng;
        mn_rng_seed(&rng, gi);
        for (int64_t i = 0; i < nx; i++)
            x[i] = (float)mn_rng_normal(&rng);
        for (int64_t i = 0; i < nc; i++)
            r[i] = (float)mn_rng_normal(&rng);
        mn_conv_im2col(c, x, &g, 1);
        mn_conv_col2im(dx, r, &g, 1);
        double a = 0, b = 0;
        for (int64_t i = 0; i < nc; i++)
            a += (double)c[i] * r[i];
        for (int64_t i = 0; i < nx; i++)
            b += (double)dx[i] * x[i];
        ck_assert_msg(fabs(a - b) <= 1e-5 * (fabs(a) + 1), "geometry %zu: %g vs %g", gi, a, b);
        free(x);
        free(dx);
        free(c);
        free(r);
    }
}
END_TEST

/* ---- threads: the same bits on 1 and 2 ------------------------------------
 * Every element-wise and pooling kernel splits over independent elements,
 * planes or rows, each computed alone or summed in order on one thread, so
 * threads = 2 must reproduce threads = 1 exactly. The sizes are odd and above
 * the 64k elements under which the kernels stay on one thread. */

/* y and the input gradient of root at x, upstream gradient dy, on `threads`. */
static void run_threads(mn_module *root, const mn_tensor *x, const mn_tensor *dy, int threads,
                        float **y_out, int64_t *ny, float **dx_out)
{
    mn_network *net = tm_network_new(root, 7);
    mn_network_set_threads(net, threads);
    mn_network_keep_input_grad(net, true);
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(net, x, &y));
    *ny = mn_tensor_numel(y);
    ck_assert_int_le(*ny, mn_tensor_numel(dy));
    mn_tensor *g = tm_tensor_new(y->ndim, y->shape);
    memcpy(g->data, dy->data, sizeof(float) * (size_t)*ny);
    *y_out = malloc(sizeof(float) * (size_t)*ny);
    memcpy(*y_out, y->data, sizeof(float) * (size_t)*ny);
    mn_network_zero_grad(net);
    ck_assert_ok(mn_network_backward(net, g));
    int64_t nx = mn_tensor_numel(x);
    *dx_out = malloc(sizeof(float) * (size_t)nx);
    memcpy(*dx_out, mn_network_input_grad(net)->data, sizeof(float) * (size_t)nx);
    mn_tensor_destroy(g);
    mn_network_destroy(net);
}

/* The team a num_threads(2) region gets (1 without OpenMP): the comparisons
 * below mean something only with 2, and OMP_NUM_THREADS=1 (meson's test
 * environment) must not take it away. */
static int team_of_two(void)
{
    int n = 1;
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
#pragma omp single
    n = omp_get_num_threads();
#endif
    return n;
}

static mn_module *residual(int n, const char *const *branches)
{
    mn_module *b[4];
    for (int i = 0; i < n; i++)
        b[i] = parse(branches[i]);
    mn_module *t;
    ck_assert_ok(mn_tuple(&t, n, b));
    return SEQ(t, parse("Add"));
}

START_TEST(test_threads_bit_identical)
{
    static const char *const bonds[] = {
        "ReLU", "Abs", "Mul(-0.7)", "GELU", "MaxPool(3)", "AvgPool(3)", "GlobalMean",
        "Mean", "MeanSubtract", "RMSDivide", "residual 2", "residual 3"};
    static const char *const branches[] = {"Identity", "ReLU", "Abs"};
#ifdef _OPENMP
    ck_assert_int_eq(team_of_two(), 2);
#endif
    const int64_t shape[4] = {3, 7, 57, 63}; /* 75411 elements, 21 planes, 1197 rows */
    mn_tensor *x = tm_tensor_new(4, shape), *dy = tm_tensor_new(4, shape);
    mn_rng r;
    mn_rng_seed(&r, 900);
    tm_fill_normal(x, &r, 1);
    tm_fill_normal(dy, &r, 1);
    x->data[5] = x->data[6] = 0.0f; /* ReLU's and Abs's kink */
    int64_t nx = mn_tensor_numel(x);
    for (size_t bi = 0; bi < sizeof bonds / sizeof bonds[0]; bi++) {
        float *y[2], *dx[2];
        int64_t ny[2];
        for (int t = 0; t < 2; t++) {
            mn_module *root = strncmp(bonds[bi], "residual", 8) == 0
                                  ? residual(atoi(bonds[bi] + 9), branches)
                                  : parse(bonds[bi]);
            run_threads(root, x, dy, t + 1, &y[t], &ny[t], &dx[t]);
        }
        ck_assert_int_eq(ny[0], ny[1]);
        ck_assert_msg(memcmp(y[0], y[1], sizeof(float) * (size_t)ny[0]) == 0,
                      "%s: the output differs on 2 threads", bonds[bi]);
        ck_assert_msg(memcmp(dx[0], dx[1], sizeof(float) * (size_t)nx) == 0,
                      "%s: the input gradient differs on 2 threads", bonds[bi]);
        for (int t = 0; t < 2; t++) {
            free(y[t]);
            free(dx[t]);
        }
    }
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
}
END_TEST

/* im2col and col2im on 2 threads against 1, odd sizes, stride 2. */
START_TEST(test_im2col_threads)
{
    mn_conv_geom g = {3, 7, 41, 37, 4, 0, 0, 3, 2, 1};
    g.ho = (g.h + 2 * g.pad - g.k) / g.stride + 1;
    g.wo = (g.w + 2 * g.pad - g.k) / g.stride + 1;
    int64_t nx = g.batch * g.c_in * g.h * g.w, nc = g.c_in * g.k * g.k * g.batch * g.ho * g.wo;
    ck_assert_int_ge(nc, 1 << 16);
    float *x = malloc(sizeof(float) * (size_t)nx), *c[2], *dx[2];
    mn_rng rng;
    mn_rng_seed(&rng, 901);
    for (int64_t i = 0; i < nx; i++)
        x[i] = (float)mn_rng_normal(&rng);
    for (int t = 0; t < 2; t++) {
        c[t] = malloc(sizeof(float) * (size_t)nc);
        dx[t] = malloc(sizeof(float) * (size_t)nx);
        mn_conv_im2col(c[t], x, &g, t + 1);
        mn_conv_col2im(dx[t], c[t], &g, t + 1);
    }
    ck_assert(memcmp(c[0], c[1], sizeof(float) * (size_t)nc) == 0);
    ck_assert(memcmp(dx[0], dx[1], sizeof(float) * (size_t)nx) == 0);
    for (int t = 0; t < 2; t++) {
        free(c[t]);
        free(dx[t]);
    }
    free(x);
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_conv_matches_direct);
    tcase_add_test(tc, test_conv_dw_chunks);
    tcase_add_test(tc, test_im2col_adjoint);
    tcase_add_test(tc, test_conv_finite_differences);
    tcase_add_test(tc, test_bonds_finite_differences);
    tcase_add_test(tc, test_pool_values);
    tcase_add_test(tc, test_sensitivities);
    tcase_add_test(tc, test_batched_polar_equals_separate);
    tcase_add_test(tc, test_conv_lmos);
    tcase_add_test(tc, test_conv_init_and_norms);
    tcase_add_test(tc, test_text_forms);
    tcase_add_test(tc, test_threads_bit_identical);
    tcase_add_test(tc, test_im2col_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tm_run_suite(conv_suite()); }
