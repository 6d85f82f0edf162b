/* Modules: gradients, masses, sensitivities, targets, the modular norm and its
 * dual, well-normedness at initialization, shape errors and determinism.
 *
 *  1. Finite-difference checks of every module's backward (weights and input)
 *     and of both losses, with a comparison demanding enough to reject a
 *     gradient that is off by 1% in any significant coordinate (each check
 *     also proves that it rejects analytic × 1.01, × 0.99, and every
 *     significant coordinate alone × 1.01; separate tests reject gradients
 *     with a dropped term or a wrong factor).
 *  2. Compound mass, sensitivity and dualize targets against hand-computed
 *     values (DESIGN.md: composition gives M1 t·μ1/(μ·ν2) and M2 t·μ2/μ,
 *     concatenation gives child k t·μk/μ).
 *  3. ‖dualize(g, t)‖ = t, <g, dualize(g, 1)> = dual(g), and no feasible
 *     update does better.
 *  4. Well-normedness at initialization: a Linear on its unit sphere does not
 *     grow RMS, and the first-order output change of a tree of unit-ball atoms
 *     is bounded by the modular norm of the weight change.
 *  5. Shape and argument errors are errors, not crashes, with useful messages.
 *  6. Determinism of initialization and independence of copies.
 *
 * Set MN_TEST_VERBOSE=1 to print the worst finite-difference error of each
 * check and the measured first-order ratios. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "modules/loss.h"
#include "modules/module.h"
#include "testutil.h"

#define PI 3.14159265358979323846

static bool verbose(void)
{
    const char *v = getenv("MN_TEST_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* ---- small helpers ------------------------------------------------------ */

/* Entries of magnitude in [0.25, 1.75), random sign: away from the kinks of
 * ReLU and Abs by far more than any finite-difference step. */
static void fill_away_from_zero(mn_tensor *t, mn_rng *r)
{
    for (int64_t i = 0; i < mn_tensor_numel(t); i++) {
        double m = 0.25 + 1.5 * mn_rng_uniform(r);
        t->data[i] = (float)(mn_rng_uniform(r) < 0.5 ? -m : m);
    }
}

static double dot_f(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

static mn_module *linear(int64_t d_out, int64_t d_in)
{
    mn_module *m;
    ck_assert_ok(mn_linear(&m, d_out, d_in));
    return m;
}

static mn_module *linear_mass(int64_t d_out, int64_t d_in, double mass)
{
    mn_module *m = linear(d_out, d_in);
    ck_assert_ok(mn_module_set_mass(m, mass));
    return m;
}

static mn_module *bond(mn_status (*ctor)(mn_module **))
{
    mn_module *m;
    ck_assert_ok(ctor(&m));
    return m;
}

static mn_module *mul(double a)
{
    mn_module *m;
    ck_assert_ok(mn_mul(&m, a));
    return m;
}

static mn_module *sum(mn_module *a, mn_module *b)
{
    mn_module *m;
    ck_assert_ok(mn_sum(&m, a, b));
    return m;
}

static mn_module *scale(double a, mn_module *c)
{
    mn_module *m;
    ck_assert_ok(mn_scale(&m, a, c));
    return m;
}

static mn_module *power(mn_module *c, int k)
{
    mn_module *m;
    ck_assert_ok(mn_power(&m, c, k));
    return m;
}

/* The norm of atom k's block of `buf`. */
static double atom_norm(mn_network *net, int k, float *buf)
{
    mn_mat v = mn_network_atom_view(net, k, buf);
    double n;
    ck_assert_ok(mn_norm_value(mn_module_norm(mn_network_atom(net, k)), &v, &n));
    return n;
}

static double modular_norm(mn_network *net, const float *buf)
{
    double n;
    ck_assert_ok(mn_modular_norm(net, buf, &n));
    return n;
}

static const mn_dualize_opts *svd_opts(void)
{
    static mn_dualize_opts o;
    const mn_polar_method *pm;
    ck_assert_ok(mn_polar_lookup("svd", &pm));
    o.method = pm;
    o.steps = 0;
    o.threads = 0;
    return &o;
}

/* ========================================================================
 * 1. Finite differences
 * ========================================================================
 *
 * The objective is f = <R, net(x)> with a fixed random R (accumulated in
 * double), or a loss of net(x). Central differences f(θ ± h)/(2h) with the
 * step h taken as the float32 difference actually stored, (float)(θ+ε) −
 * (float)(θ−ε), so that rounding of the perturbed parameter is no error.
 *
 * Error budget, justifying the tolerance. f = O(1..10) is built from float32
 * outputs (relative rounding ~6e-8 per element, a few roundings deep), so f
 * carries ~1e-7..1e-6 of rounding noise, i.e. ~1e-5..1e-4 on a difference
 * quotient with 2ε = 1e-2; truncation is ε²·f'''/6 ≈ 4e-6·f''' with
 * f''' = O(1) for these modules at O(1) inputs. Measured (MN_TEST_VERBOSE=1):
 * the worst |fd − an| / max|an| over every check is 7e-5 at ε = 5e-3, against
 * 1e-4 at ε = 1e-2 (truncation, GELU compounds) and 1.5e-4 at ε = 3e-3
 * (rounding, Linear→Mean input). Piecewise-linear nets (ReLU, Abs) use
 * ε = 2e-3, have no truncation error between kinks, and every perturbed
 * forward is verified to cross no kink.
 *
 * A coordinate passes when |fd − an| ≤ RTOL·|an| + ATOL·max|an| with
 * RTOL = 1e-3, ATOL = 1e-4: the worst measured error is 0.17 of this (a 6×
 * margin). A 1% error in a coordinate of at least 3% of the largest is an
 * error of ≥ 3e-4·max against a tolerance of ≤ 1.3e-4·max, so it is rejected
 * (2.3× margin); every check asserts this, coordinate by coordinate, as well
 * as the rejection of the whole gradient × 1.01 and × 0.99. */
#define FD_RTOL 1e-3
#define FD_ATOL 1e-4
#define FD_EPS_SMOOTH 5e-3
#define FD_EPS_KINK 2e-3

typedef struct fd_cmp {
    double worst; /* max |fd − an| / tol */
    double worst_rel; /* max |fd − an| / max|an| */
    int64_t at;
} fd_cmp;

static double fd_scale(const double *fd, const double *an, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s = fmax(s, fmax(fabs(an[i]), fabs(fd[i])));
    return s;
}

static double fd_tol(double an_i, double scale) { return FD_RTOL * fabs(an_i) + FD_ATOL * scale; }

/* true when the finite differences fd agree with the analytic gradient an. */
static bool fd_agree(const double *fd, const double *an, int64_t n, fd_cmp *c)
{
    double scale = fd_scale(fd, an, n);
    fd_cmp r = {0, 0, -1};
    if (scale > 0)
        for (int64_t i = 0; i < n; i++) {
            double e = fabs(fd[i] - an[i]);
            double q = e / fd_tol(an[i], scale);
            if (q > r.worst) {
                r.worst = q;
                r.at = i;
            }
            r.worst_rel = fmax(r.worst_rel, e / scale);
        }
    if (c)
        *c = r;
    return r.worst <= 1;
}

/* Agreement, and proof that this comparison would reject a 1% error in the
 * whole gradient or in any single significant coordinate. */
static void check_gradient(const char *what, const double *fd, const double *an, int64_t n)
{
    fd_cmp c;
    bool ok = fd_agree(fd, an, n, &c);
    if (verbose())
        printf("  fd %-34s n=%3lld worst %.3f of tol, max err/scale %.2e\n", what, (long long)n,
               c.worst, c.worst_rel);
    ck_assert_msg(ok, "%s: coordinate %lld: finite difference %.9g, analytic %.9g (%.2f × tol)",
                  what, (long long)c.at, c.at >= 0 ? fd[c.at] : 0.0, c.at >= 0 ? an[c.at] : 0.0,
                  c.worst);
    double scale = fd_scale(fd, an, n);
    ck_assert_msg(scale > 1e-3, "%s: the gradient is (almost) zero: the check would be vacuous",
                  what);
    double *bad = malloc((size_t)n * sizeof *bad);
    ck_assert_ptr_nonnull(bad);
    for (int k = 0; k < 2; k++) {
        double f = k == 0 ? 1.01 : 0.99;
        for (int64_t i = 0; i < n; i++)
            bad[i] = an[i] * f;
        ck_assert_msg(!fd_agree(fd, bad, n, NULL), "%s: the check accepts analytic × %g", what, f);
    }
    /* Each significant coordinate alone off by 1%. */
    int64_t significant = 0;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(an[i]) < 0.03 * scale)
            continue;
        significant++;
        memcpy(bad, an, (size_t)n * sizeof *bad);
        bad[i] *= 1.01;
        ck_assert_msg(!fd_agree(fd, bad, n, NULL),
                      "%s: the check accepts coordinate %lld alone × 1.01", what, (long long)i);
    }
    ck_assert_int_gt(significant, 0);
    free(bad);
}

/* Signs of every ReLU/Abs input in the tree, in forward order: a perturbed
 * forward must see the same pattern (no kink crossed), or the finite
 * difference is not a derivative. Read through the visitor after a forward. */
#define KINK_CAP 8192
typedef struct kinks {
    uint8_t *buf;
    int64_t n;
    double min_abs;
} kinks;

static mn_status kink_visit(void *ctx, const mn_module_visit *v)
{
    kinks *k = ctx;
    const char *kind = mn_module_kind(v->module);
    if (strcmp(kind, "ReLU") != 0 && strcmp(kind, "Abs") != 0)
        return MN_OK;
    ck_assert_int_eq(v->n_inputs, 1);
    const mn_tensor *x = v->inputs[0];
    for (int64_t e = 0; e < mn_tensor_numel(x); e++) {
        ck_assert_int_lt(k->n, KINK_CAP);
        float f = x->data[e];
        k->buf[k->n++] = f > 0 ? 1 : f < 0 ? 2 : 0;
        k->min_abs = fmin(k->min_abs, fabs(f));
    }
    return MN_OK;
}

static void kink_signature(const mn_network *net, uint8_t *buf, int64_t *n, double *min_abs)
{
    kinks k = {buf, 0, *min_abs};
    ck_assert_ok(mn_network_visit(net, kink_visit, &k));
    *n = k.n;
    *min_abs = k.min_abs;
}

typedef enum { OBJ_PROJECT, OBJ_CROSS_ENTROPY, OBJ_MSE } objective;

typedef struct probe {
    mn_network *net;
    mn_tensor *x; /* input */
    mn_tensor *r; /* projection R (OBJ_PROJECT) or regression target (OBJ_MSE) */
    objective obj;
    int32_t labels[64];
    uint8_t kinks[KINK_CAP];
    int64_t n_kinks;
    double kink_margin;
    int crossings;
} probe;

static double probe_objective(probe *p, const mn_tensor *y, mn_tensor *dy)
{
    double f = 0;
    switch (p->obj) {
    case OBJ_PROJECT:
        ck_assert_int_eq(mn_tensor_numel(y), mn_tensor_numel(p->r));
        f = dot_f(y->data, p->r->data, mn_tensor_numel(y));
        if (dy)
            memcpy(dy->data, p->r->data, (size_t)mn_tensor_numel(y) * sizeof(float));
        break;
    case OBJ_CROSS_ENTROPY:
        ck_assert_ok(mn_loss_cross_entropy(y, p->labels, &f, dy, NULL));
        break;
    case OBJ_MSE:
        ck_assert_ok(mn_loss_mse(y, p->r, &f, dy));
        break;
    }
    return f;
}

/* f at the current weights and input (ctx: the probe); counts kink crossings. */
static double probe_eval(void *ctx)
{
    probe *p = ctx;
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(p->net, p->x, &y));
    double f = probe_objective(p, y, NULL);
    uint8_t sig[KINK_CAP];
    int64_t n = 0;
    double min_abs = INFINITY;
    kink_signature(p->net, sig, &n, &min_abs);
    if (n != p->n_kinks || memcmp(sig, p->kinks, (size_t)n) != 0)
        p->crossings++;
    return f;
}

/* Analytic gradients: weights into gw (may be NULL), input into gx (NULL, or
 * the root must keep an input gradient). */
static void probe_analytic(probe *p, double *gw, double *gx)
{
    mn_network_keep_input_grad(p->net, gx != NULL);
    mn_network_zero_grad(p->net);
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(p->net, p->x, &y));
    p->n_kinks = 0;
    p->kink_margin = INFINITY;
    kink_signature(p->net, p->kinks, &p->n_kinks, &p->kink_margin);
    mn_tensor *dy = tm_tensor_new(y->ndim, y->shape);
    probe_objective(p, y, dy);
    ck_assert_ok(mn_network_backward(p->net, dy));
    int64_t np = mn_network_param_count(p->net);
    const float *g = mn_network_grads(p->net);
    if (gw)
        for (int64_t i = 0; i < np; i++)
            gw[i] = g[i];
    if (gx) {
        const mn_tensor *dx = mn_network_input_grad(p->net);
        ck_assert_ptr_nonnull(dx);
        ck_assert_int_eq(mn_tensor_numel(dx), mn_tensor_numel(p->x));
        for (int64_t i = 0; i < mn_tensor_numel(dx); i++)
            gx[i] = dx->data[i];
    }
    mn_tensor_destroy(dy);
}

/* Central differences over the n floats at v (weights or input). */
static void probe_fd(probe *p, float *v, int64_t n, double eps, double *fd)
{
    tm_central_differences(probe_eval, p, v, n, eps, fd);
}

/* Check the weight gradient and (when with_input) the input gradient of the
 * probe's network with steps ε. */
static void probe_check(probe *p, const char *name, bool with_input, double eps)
{
    int64_t np = mn_network_param_count(p->net), nx = mn_tensor_numel(p->x);
    double *an_w = calloc((size_t)np + 1, sizeof(double));
    double *fd_w = calloc((size_t)np + 1, sizeof(double));
    double *an_x = calloc((size_t)nx + 1, sizeof(double));
    double *fd_x = calloc((size_t)nx + 1, sizeof(double));
    ck_assert(an_w && fd_w && an_x && fd_x);
    probe_analytic(p, an_w, with_input ? an_x : NULL);
    if (p->n_kinks > 0)
        ck_assert_msg(p->kink_margin > 2 * eps, "%s: a ReLU/Abs input is %.3g from its kink",
                      name, p->kink_margin);
    p->crossings = 0;
    char what[128];
    if (np > 0) {
        probe_fd(p, mn_network_weights(p->net), np, eps, fd_w);
        snprintf(what, sizeof what, "%s (weights)", name);
        check_gradient(what, fd_w, an_w, np);
    }
    if (with_input) {
        probe_fd(p, p->x->data, nx, eps, fd_x);
        snprintf(what, sizeof what, "%s (input)", name);
        check_gradient(what, fd_x, an_x, nx);
    }
    ck_assert_msg(p->crossings == 0, "%s: %d perturbed forwards crossed a ReLU/Abs kink", name,
                  p->crossings);
    free(an_w);
    free(fd_w);
    free(an_x);
    free(fd_x);
}

typedef enum { IN_NORMAL, IN_AWAY, IN_TOKENS } input_kind;

typedef struct fd_case {
    const char *name;
    mn_module *(*build)(void);
    int ndim;
    int64_t shape[3];
    input_kind input;
    bool input_grad; /* the input has a gradient (not token ids) */
    bool kinks;      /* contains ReLU/Abs: smaller steps, kink guard */
} fd_case;

#define VOCAB 6
static mn_module *b_linear(void) { return linear(4, 5); }
static mn_module *b_linear_3d(void) { return linear(3, 4); }
static mn_module *b_embed(void)
{
    mn_module *m;
    ck_assert_ok(mn_embed(&m, VOCAB, 4));
    return m;
}
static mn_module *b_identity(void) { return bond(mn_identity); }
static mn_module *b_relu(void) { return bond(mn_relu); }
static mn_module *b_gelu(void) { return bond(mn_gelu); }
static mn_module *b_abs(void) { return bond(mn_abs); }
static mn_module *b_mul_neg(void) { return mul(-0.7); }
static mn_module *b_flatten(void) { return bond(mn_flatten); }
static mn_module *b_flatten_linear(void) { return SEQ(bond(mn_flatten), linear(3, 6)); }
static mn_module *b_mean(void) { return bond(mn_mean); }
static mn_module *b_linear_mean(void) { return SEQ(linear(5, 4), bond(mn_mean), linear(3, 5)); }
static mn_module *b_mean_subtract(void) { return bond(mn_mean_subtract); }
static mn_module *b_rms_divide(void) { return bond(mn_rms_divide); }
static mn_module *b_layer_norm(void) { return bond(mn_layer_norm); }
static mn_module *b_sequential(void) { return SEQ(linear(6, 4), bond(mn_gelu), linear(3, 6)); }
static mn_module *b_residual(void) { return sum(bond(mn_identity), linear(5, 5)); }
static mn_module *b_sum_two(void) { return sum(linear(4, 5), SEQ(linear(4, 5), bond(mn_gelu))); }
static mn_module *b_sum_identity_twice(void)
{
    return sum(bond(mn_identity), SEQ(mul(2.5), bond(mn_identity)));
}
static mn_module *b_scale(void) { return scale(-1.5, SEQ(linear(4, 5), bond(mn_gelu))); }
static mn_module *b_power(void) { return power(SEQ(linear(4, 4), bond(mn_gelu)), 3); }
static mn_module *b_mlp(void)
{
    mn_module *m;
    ck_assert_ok(mn_mlp(&m, 5, 6, 3, 3));
    return m;
}
static mn_module *b_abs_net(void) { return SEQ(linear(5, 4), bond(mn_abs), linear(3, 5)); }
static mn_module *b_layer_norm_net(void)
{
    return SEQ(linear(6, 4), bond(mn_layer_norm), bond(mn_gelu), linear(3, 6));
}
static mn_module *b_embed_net(void)
{
    mn_module *e;
    ck_assert_ok(mn_embed(&e, VOCAB, 4));
    return SEQ(e, bond(mn_mean), bond(mn_layer_norm), linear(3, 4));
}

/* ---- kinds defined here, through the public ops (module_ops.h) ---------- */

/* Concat: its inputs' features side by side, (rows, Σ d_k). It takes any
 * number of inputs, each of its own width: a tuple's children need not
 * agree when this is what reads them. */
static mn_status concat_features(const mn_module *m, int n, const int64_t *in, int64_t *out)
{
    (void)m;
    int64_t sum = 0;
    for (int k = 0; k < n; k++)
        sum = in[k] < 0 || sum < 0 ? -1 : sum + in[k];
    *out = n > 0 ? sum : -1;
    return MN_OK;
}

static mn_status concat_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)m;
    int64_t d = 0;
    for (int k = 0; k < n; k++) {
        bool same = in[k].ndim == in[0].ndim;
        for (int i = 0; same && i < in[0].ndim - 1; i++)
            same = in[k].dim[i] == in[0].dim[i];
        if (!same)
            return mn_set_error(MN_ERR_SHAPE, "Concat: input %d's leading dimensions differ "
                                "from input 0's", k);
        d += in[k].dim[in[k].ndim - 1];
    }
    p->out.dim[p->out.ndim - 1] = d;
    return MN_OK;
}

static mn_status concat_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    mn_mat Y = mn_tensor_rows(c->out);
    int64_t at = 0;
    for (int k = 0; k < c->n_in; k++) {
        mn_mat X = mn_tensor_rows(c->in[k]);
        for (int64_t r = 0; r < X.rows; r++)
            memcpy((float *)Y.data + r * Y.cols + at, (const float *)X.data + r * X.cols,
                   (size_t)X.cols * sizeof(float));
        at += X.cols;
    }
    return MN_OK;
}

static mn_status concat_backward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    mn_mat DY = mn_tensor_rows(c->dout);
    int64_t at = 0;
    for (int k = 0; k < c->n_in; k++) {
        mn_mat X = mn_tensor_rows(c->in[k]);
        if (c->din[k])
            for (int64_t r = 0; r < X.rows; r++)
                memcpy(c->din[k]->data + r * X.cols, (const float *)DY.data + r * DY.cols + at,
                       (size_t)X.cols * sizeof(float));
        at += X.cols;
    }
    return MN_OK;
}

static const mn_module_ops concat_ops = {.kind = "Concat", .arity = MN_ARITY_ANY,
                                         .features = concat_features, .plan = concat_plan,
                                         .forward = concat_forward, .backward = concat_backward};

static mn_module *concat(void)
{
    mn_module *m;
    ck_assert_ok(mn_bond_create(&m, &concat_ops, NULL, 1));
    return m;
}

/* Poly(c0, …, ck): y = Σ c_i x^i element-wise, its coefficients in an array
 * the state owns (clone copies it, destroy frees it). */
typedef struct {
    int n;
    double *c;
} poly_state;

static int poly_destroyed; /* how many states destroy released */

static mn_status poly_forward(mn_module *m, const mn_module_call *c)
{
    const poly_state *p = mn_module_state(m);
    for (int64_t i = 0; i < mn_tensor_numel(c->out); i++) {
        double x = c->in[0]->data[i], y = 0;
        for (int k = p->n - 1; k >= 0; k--)
            y = y * x + p->c[k];
        c->out->data[i] = (float)y;
    }
    return MN_OK;
}

static mn_status poly_backward(mn_module *m, const mn_module_call *c)
{
    const poly_state *p = mn_module_state(m);
    for (int64_t i = 0; i < mn_tensor_numel(c->dout); i++) {
        double x = c->in[0]->data[i], d = 0;
        for (int k = p->n - 1; k >= 1; k--)
            d = d * x + k * p->c[k];
        c->din[0]->data[i] = (float)(d * c->dout->data[i]);
    }
    return MN_OK;
}

static mn_status poly_clone(const mn_module *from, void *to)
{
    const poly_state *f = mn_module_state(from);
    poly_state *t = to;
    t->c = malloc((size_t)f->n * sizeof *t->c);
    if (!t->c)
        return mn_set_error(MN_ERR_NOMEM, "Poly: out of memory");
    memcpy(t->c, f->c, (size_t)f->n * sizeof *t->c);
    return MN_OK;
}

static void poly_destroy(void *state)
{
    free(((poly_state *)state)->c);
    poly_destroyed++;
}

static int poly_args(const mn_module *m, double *a, int cap)
{
    const poly_state *p = mn_module_state(m);
    for (int k = 0; k < p->n && k < cap; k++)
        a[k] = p->c[k];
    return p->n;
}

static const mn_module_ops poly_ops = {.kind = "Poly", .state_size = sizeof(poly_state),
                                       .forward = poly_forward, .backward = poly_backward,
                                       .clone = poly_clone, .destroy = poly_destroy,
                                       .args = poly_args};

static mn_status make_poly(mn_module **out, int argc, const double *a)
{
    poly_state st = {argc, malloc((size_t)argc * sizeof(double))};
    if (!st.c)
        return mn_set_error(MN_ERR_NOMEM, "Poly: out of memory");
    memcpy(st.c, a, (size_t)argc * sizeof(double));
    double nu = 0; /* a Lipschitz bound on [-1, 1]: Σ k|c_k| (a convention outside it) */
    for (int k = 1; k < argc; k++)
        nu += k * fabs(a[k]);
    mn_status r = mn_bond_create(out, &poly_ops, &st, nu);
    if (r != MN_OK)
        free(st.c);
    return r;
}

static const mn_module_maker poly_maker = {"Poly", "Poly(c0, c1, ...)", 1, 8, make_poly};

static mn_module *poly(void)
{
    mn_module *m;
    ck_assert_ok(make_poly(&m, 4, (const double[]){0, 1, 0.5, -0.1}));
    return m;
}

/* MyLinear: Linear written against the public API (loops, no BLAS). */
static mn_status mylin_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)n;
    int64_t d_out, d_in;
    mn_module_weight_shape(m, &d_out, &d_in);
    if (in[0].dim[in[0].ndim - 1] != d_in)
        return mn_set_error(MN_ERR_SHAPE, "MyLinear expects %lld features, got %lld",
                            (long long)d_in, (long long)in[0].dim[in[0].ndim - 1]);
    p->out.dim[p->out.ndim - 1] = d_out;
    return MN_OK;
}

static mn_status mylin_forward(mn_module *m, const mn_module_call *c)
{
    int64_t d_out, d_in;
    mn_module_weight_shape(m, &d_out, &d_in);
    const float *W = mn_module_weights(m), *x = c->in[0]->data;
    int64_t rows = mn_tensor_numel(c->in[0]) / d_in;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < d_out; o++) {
            double s = 0;
            for (int64_t i = 0; i < d_in; i++)
                s += (double)W[o * d_in + i] * x[r * d_in + i];
            c->out->data[r * d_out + o] = (float)s;
        }
    return MN_OK;
}

static mn_status mylin_backward(mn_module *m, const mn_module_call *c)
{
    int64_t d_out, d_in;
    mn_module_weight_shape(m, &d_out, &d_in);
    const float *W = mn_module_weights(m), *x = c->in[0]->data, *dy = c->dout->data;
    float *G = mn_module_grads(m);
    int64_t rows = mn_tensor_numel(c->in[0]) / d_in;
    for (int64_t o = 0; o < d_out; o++)
        for (int64_t i = 0; i < d_in; i++) {
            double s = 0;
            for (int64_t r = 0; r < rows; r++)
                s += (double)dy[r * d_out + o] * x[r * d_in + i];
            G[o * d_in + i] += (float)s;
        }
    if (c->din[0])
        for (int64_t r = 0; r < rows; r++)
            for (int64_t i = 0; i < d_in; i++) {
                double s = 0;
                for (int64_t o = 0; o < d_out; o++)
                    s += (double)dy[r * d_out + o] * W[o * d_in + i];
                c->din[0]->data[r * d_in + i] = (float)s;
            }
    return MN_OK;
}

/* On the unit sphere of its norm: lmo of a Gaussian (for RMS→RMS,
 * √(d_out/d_in)·U Vᵀ, as Linear's init). */
static mn_status mylin_init(mn_module *m, mn_rng *rng, mn_param param)
{
    (void)param;
    int64_t d_out, d_in;
    mn_module_weight_shape(m, &d_out, &d_in);
    mn_mat W = mn_mat_view(MN_F32, mn_module_weights(m), d_out, d_in);
    mn_rng_fill_normal(rng, &W);
    return mn_dualize(mn_module_norm(m), NULL, &W, &W);
}

static const mn_module_ops mylin_ops = {.kind = "MyLinear", .plan = mylin_plan,
                                        .forward = mylin_forward, .backward = mylin_backward,
                                        .init = mylin_init, .args = NULL};

static mn_module *mylinear(int64_t d_out, int64_t d_in)
{
    const mn_norm *n;
    ck_assert_ok(mn_norm_lookup("rms-rms", &n));
    mn_module *m;
    ck_assert_ok(mn_atom_create(&m, &mylin_ops, NULL, d_out, d_in, n, 1));
    return m;
}

static mn_module *tuple(int n, mn_module *const *children)
{
    mn_module *m;
    ck_assert_ok(mn_tuple(&m, n, children));
    return m;
}
#define TUPLE(...) tuple((int)(sizeof((mn_module *[]){__VA_ARGS__}) / sizeof(mn_module *)), \
                         (mn_module *[]){__VA_ARGS__})

static mn_module *sum_n(int n, mn_module *const *children)
{
    mn_module *m;
    ck_assert_ok(mn_sum_n(&m, n, children));
    return m;
}

/* Widths 3, 4 and 5 side by side: a tuple whose children disagree. */
static mn_module *b_concat(void)
{
    return SEQ(TUPLE(linear(3, 5), SEQ(linear(4, 5), bond(mn_gelu)), bond(mn_identity)),
               concat(), linear(2, 12));
}
/* The same input read by three branches, summed: the input's gradient is
 * the sum of three. */
static mn_module *b_sum_three(void)
{
    return sum_n(3, (mn_module *[]){bond(mn_identity), linear(5, 5),
                                     SEQ(linear(5, 5), bond(mn_gelu))});
}
static mn_module *b_poly(void) { return poly(); }
static mn_module *b_mylinear_net(void) { return SEQ(mylinear(4, 5), poly(), mylinear(3, 4)); }

static const fd_case fd_cases[] = {
    {"Linear", b_linear, 2, {3, 5}, IN_NORMAL, true, false},
    {"Linear on (B,T,d)", b_linear_3d, 3, {3, 2, 4}, IN_NORMAL, true, false},
    {"Embed", b_embed, 2, {3, 2}, IN_TOKENS, false, false},
    {"Identity", b_identity, 2, {3, 5}, IN_NORMAL, true, false},
    {"ReLU", b_relu, 2, {3, 5}, IN_AWAY, true, true},
    {"GELU", b_gelu, 2, {3, 5}, IN_NORMAL, true, false},
    {"Abs", b_abs, 2, {3, 5}, IN_AWAY, true, true},
    {"Mul(-0.7)", b_mul_neg, 2, {3, 5}, IN_NORMAL, true, false},
    {"Flatten (B,2,3)", b_flatten, 3, {3, 2, 3}, IN_NORMAL, true, false},
    {"Flatten → Linear", b_flatten_linear, 3, {3, 2, 3}, IN_NORMAL, true, false},
    {"Mean (B,T,d)", b_mean, 3, {3, 4, 5}, IN_NORMAL, true, false},
    {"Linear → Mean → Linear", b_linear_mean, 3, {3, 4, 4}, IN_NORMAL, true, false},
    {"MeanSubtract", b_mean_subtract, 2, {3, 5}, IN_NORMAL, true, false},
    {"RMSDivide", b_rms_divide, 2, {3, 5}, IN_NORMAL, true, false},
    {"LayerNorm", b_layer_norm, 2, {3, 5}, IN_NORMAL, true, false},
    {"sequential", b_sequential, 2, {3, 4}, IN_NORMAL, true, false},
    {"Sum(Identity, Linear)", b_residual, 2, {3, 5}, IN_NORMAL, true, false},
    {"Sum(Linear, GELU∘Linear)", b_sum_two, 2, {3, 5}, IN_NORMAL, true, false},
    {"Sum(Identity, Mul(2.5))", b_sum_identity_twice, 2, {3, 5}, IN_NORMAL, true, false},
    {"scale(-1.5, GELU∘Linear)", b_scale, 2, {3, 5}, IN_NORMAL, true, false},
    {"power(GELU∘Linear, 3)", b_power, 2, {3, 4}, IN_NORMAL, true, false},
    {"mlp(5, 6, depth 3, 3)", b_mlp, 2, {3, 5}, IN_NORMAL, true, true},
    {"Linear → Abs → Linear", b_abs_net, 2, {3, 4}, IN_NORMAL, true, true},
    {"Linear → LayerNorm → GELU → Linear", b_layer_norm_net, 2, {3, 4}, IN_NORMAL, true, false},
    {"Embed → Mean → LayerNorm → Linear", b_embed_net, 2, {3, 2}, IN_TOKENS, false, false},
    {"(Linear, GELU∘Linear, Identity) → Concat → Linear", b_concat, 2, {3, 5}, IN_NORMAL, true,
     false},
    {"Sum of 3 (Identity, Linear, GELU∘Linear)", b_sum_three, 2, {3, 5}, IN_NORMAL, true, false},
    {"Poly (a bond defined in the test)", b_poly, 2, {3, 5}, IN_NORMAL, true, false},
    {"MyLinear → Poly → MyLinear (an atom defined in the test)", b_mylinear_net, 2, {3, 5},
     IN_NORMAL, true, false},
};
#define N_FD_CASES ((int)(sizeof fd_cases / sizeof fd_cases[0]))

/* A probe for case c with projection R; the caller destroys it. */
static probe *probe_make(const fd_case *c, uint64_t seed)
{
    probe *p = calloc(1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    p->net = tm_network_new(c->build(), seed);
    mn_rng r;
    mn_rng_seed(&r, seed + 17);
    p->x = tm_tensor_new(c->ndim, c->shape);
    switch (c->input) {
    case IN_NORMAL:
        tm_fill_normal(p->x, &r, 1.0);
        break;
    case IN_AWAY:
        fill_away_from_zero(p->x, &r);
        break;
    case IN_TOKENS:
        /* Repeated ids (the gradient accumulates) and an unused id. */
        for (int64_t i = 0; i < mn_tensor_numel(p->x); i++)
            p->x->data[i] = (float)((i * 4) % (VOCAB - 1));
        break;
    }
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(p->net, p->x, &y));
    p->r = tm_tensor_new(y->ndim, y->shape);
    tm_fill_normal(p->r, &r, 1.0);
    p->obj = OBJ_PROJECT;
    return p;
}

static void probe_free(probe *p)
{
    mn_network_destroy(p->net);
    mn_tensor_destroy(p->x);
    mn_tensor_destroy(p->r);
    free(p);
}

START_TEST(test_fd_every_module)
{
    const fd_case *c = &fd_cases[_i];
    probe *p = probe_make(c, 1000 + (uint64_t)_i);
    probe_check(p, c->name, c->input_grad, c->kinks ? FD_EPS_KINK : FD_EPS_SMOOTH);
    if (!c->input_grad) {
        /* Token ids have no gradient: nothing flows back to the input,
         * also when it is asked for. */
        mn_network_keep_input_grad(p->net, true);
        const mn_tensor *y;
        ck_assert_ok(mn_network_forward(p->net, p->x, &y));
        ck_assert_ok(mn_network_backward(p->net, p->r));
        ck_assert_ptr_null(mn_network_input_grad(p->net));
    }
    probe_free(p);
}
END_TEST

/* Embed's weight gradient by hand: rows of unused ids are exactly zero and a
 * repeated id accumulates (the FD check above sees the same, this names it). */
START_TEST(test_embed_gradient_accumulates)
{
    mn_module *e;
    ck_assert_ok(mn_embed(&e, 5, 3));
    mn_network *net = tm_network_new(e, 3);
    float toks[4] = {2, 0, 2, 2};
    mn_tensor *x;
    ck_assert_ok(mn_tensor_wrap(&x, toks, 1, (int64_t[]){4}));
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(net, x, &y));
    ck_assert_int_eq(y->ndim, 2);
    ck_assert_int_eq(y->shape[0], 4);
    ck_assert_int_eq(y->shape[1], 3);
    const float *w = mn_network_weights(net);
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < 3; k++)
            ck_assert_float_eq(y->data[r * 3 + k], w[(int)toks[r] * 3 + k]);
    mn_tensor *dy = tm_tensor_new(2, y->shape);
    for (int i = 0; i < 12; i++)
        dy->data[i] = (float)(i + 1);
    mn_network_zero_grad(net);
    ck_assert_ok(mn_network_backward(net, dy));
    const float *g = mn_network_grads(net);
    for (int k = 0; k < 3; k++) {
        ck_assert_float_eq(g[0 * 3 + k], dy->data[1 * 3 + k]);
        ck_assert_float_eq(g[2 * 3 + k], dy->data[0 * 3 + k] + dy->data[2 * 3 + k] +
                                             dy->data[3 * 3 + k]);
        for (int t = 1; t < 5; t += 2)
            ck_assert_float_eq(g[t * 3 + k], 0);
        ck_assert_float_eq(g[4 * 3 + k], 0);
    }
    /* Backward accumulates (+=) into the gradient buffer. */
    ck_assert_ok(mn_network_backward(net, dy));
    for (int k = 0; k < 3; k++)
        ck_assert_float_eq(g[0 * 3 + k], 2 * dy->data[1 * 3 + k]);
    mn_tensor_destroy(dy);
    mn_tensor_destroy(x);
    mn_network_destroy(net);
}
END_TEST

/* Backward accumulates (+=) weight gradients: two forward/backward passes
 * without zeroing give the sum of the two single-pass gradients. */
START_TEST(test_backward_accumulates)
{
    const fd_case cases[] = {
        {"sequential", b_sequential, 2, {3, 4}, IN_NORMAL, true, false},
        {"Sum(Linear, GELU∘Linear)", b_sum_two, 2, {3, 5}, IN_NORMAL, true, false},
        {"power", b_power, 2, {3, 4}, IN_NORMAL, true, false},
        {"Embed net", b_embed_net, 2, {3, 2}, IN_TOKENS, false, false},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        probe *p1 = probe_make(&cases[c], 300), *p2 = probe_make(&cases[c], 301);
        /* Same weights in both probes' networks, different inputs and R. */
        int64_t np = mn_network_param_count(p1->net);
        memcpy(mn_network_weights(p2->net), mn_network_weights(p1->net), (size_t)np * 4);
        double *g1 = calloc((size_t)np, sizeof *g1), *g2 = calloc((size_t)np, sizeof *g2);
        ck_assert(g1 && g2);
        probe_analytic(p1, g1, NULL);
        probe_analytic(p2, g2, NULL);
        /* Now accumulate p1's pass on top of p2's gradient in p2's net. */
        const mn_tensor *y;
        ck_assert_ok(mn_network_forward(p2->net, p1->x, &y));
        ck_assert_ok(mn_network_backward(p2->net, p1->r));
        const float *g = mn_network_grads(p2->net);
        double scale = 0;
        for (int64_t i = 0; i < np; i++)
            scale = fmax(scale, fabs(g1[i]) + fabs(g2[i]));
        ck_assert_double_gt(scale, 0);
        for (int64_t i = 0; i < np; i++)
            ck_assert_msg(fabs(g[i] - (g1[i] + g2[i])) <= 1e-5 * scale,
                          "%s: grad[%lld] = %.9g after two passes, expected %.9g + %.9g",
                          cases[c].name, (long long)i, (double)g[i], g1[i], g2[i]);
        free(g1);
        free(g2);
        probe_free(p1);
        probe_free(p2);
    }
}
END_TEST

/* Training skips the input gradient (a third of the first Linear's backward);
 * asking for it changes no weight gradient. */
START_TEST(test_input_grad_is_opt_in)
{
    mn_module *root;
    ck_assert_ok(mn_mlp(&root, 6, 5, 3, 4));
    mn_network *net = tm_network_new(root, 9);
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){3, 6}), *dy = tm_tensor_new(2, (int64_t[]){3, 4});
    for (int i = 0; i < 18; i++)
        x->data[i] = (float)sin(1.0 + i);
    for (int i = 0; i < 12; i++)
        dy->data[i] = (float)cos(2.0 * i);
    int64_t np = mn_network_param_count(net);
    float *without = malloc((size_t)np * sizeof *without);
    const mn_tensor *y;
    for (int keep = 0; keep <= 1; keep++) {
        mn_network_keep_input_grad(net, keep);
        mn_network_zero_grad(net);
        ck_assert_ok(mn_network_forward(net, x, &y));
        ck_assert_ok(mn_network_backward(net, dy));
        const mn_tensor *dx = mn_network_input_grad(net);
        if (!keep) {
            ck_assert_ptr_null(dx);
            memcpy(without, mn_network_grads(net), (size_t)np * sizeof *without);
        } else {
            ck_assert_ptr_nonnull(dx);
            ck_assert_int_eq(mn_tensor_numel(dx), 18);
            ck_assert_mem_eq(without, mn_network_grads(net), (size_t)np * sizeof *without);
        }
    }
    free(without);
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_network_destroy(net);
}
END_TEST

/* Compounds checked against a loss rather than a projection. */
START_TEST(test_fd_through_losses)
{
    /* MLP + softmax cross-entropy, weights and input. */
    probe *p = probe_make(&(fd_case){"mlp + CE", b_mlp, 2, {3, 5}, IN_NORMAL, true, true}, 77);
    p->obj = OBJ_CROSS_ENTROPY;
    p->labels[0] = 2;
    p->labels[1] = 0;
    p->labels[2] = 1;
    probe_check(p, "mlp + cross-entropy", true, FD_EPS_KINK);
    probe_free(p);

    /* sequential + MSE against a random target. */
    p = probe_make(&(fd_case){"seq + MSE", b_layer_norm_net, 2, {3, 4}, IN_NORMAL, true, false},
                   78);
    p->obj = OBJ_MSE;
    probe_check(p, "LayerNorm net + MSE", true, FD_EPS_SMOOTH);
    probe_free(p);
}
END_TEST

/* The cross-entropy with its rows shared among threads (what training
 * runs) gives the serial function's bits: the loss, dlogits and the hit
 * count, at 2^16 logits and more (where the loop forks), also written in
 * place over the logits; a bad label is refused before anything is
 * written. */
START_TEST(test_cross_entropy_threads_same_bits)
{
    mn_rng r;
    mn_rng_seed(&r, 9);
    int64_t shape[3] = {12, 64, 97};
    int64_t B = 12 * 64;
    mn_tensor *z = tm_tensor_new(3, shape), *d1 = tm_tensor_new(3, shape),
              *d2 = tm_tensor_new(3, shape);
    tm_fill_normal(z, &r, 3.0);
    int32_t *labels = malloc((size_t)B * sizeof *labels);
    ck_assert_ptr_nonnull(labels);
    for (int64_t b = 0; b < B; b++)
        labels[b] = (int32_t)(mn_rng_next(&r) % 97);
    double l1, l2;
    int64_t h1, h2;
    ck_assert_ok(mn_loss_cross_entropy(z, labels, &l1, d1, &h1));
    ck_assert_ok(mn_loss_cross_entropy_threads(z, labels, &l2, d2, &h2, 2));
    ck_assert(memcmp(&l1, &l2, sizeof l1) == 0);
    ck_assert_int_eq(h1, h2);
    ck_assert_mem_eq(d1->data, d2->data, (size_t)(B * 97) * sizeof(float));
    /* dlogits may be the logits themselves: the same loss and gradient */
    for (int threads = 1; threads <= 2; threads++) {
        memcpy(d2->data, z->data, (size_t)(B * 97) * sizeof(float));
        ck_assert_ok(mn_loss_cross_entropy_threads(d2, labels, &l2, d2, &h2, threads));
        ck_assert(memcmp(&l1, &l2, sizeof l1) == 0);
        ck_assert_int_eq(h1, h2);
        ck_assert_mem_eq(d1->data, d2->data, (size_t)(B * 97) * sizeof(float));
    }
    labels[B - 1] = 97;
    for (int64_t i = 0; i < B * 97; i++)
        d2->data[i] = 7.0f;
    ck_assert_int_eq(mn_loss_cross_entropy_threads(z, labels, &l2, d2, &h2, 2), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "label 97 of row 767"));
    for (int64_t i = 0; i < B * 97; i++)
        ck_assert(d2->data[i] == 7.0f);
    free(labels);
    mn_tensor_destroy(z);
    mn_tensor_destroy(d1);
    mn_tensor_destroy(d2);
}
END_TEST

/* Both losses w.r.t. their inputs, and their values by hand. */
START_TEST(test_fd_losses)
{
    mn_rng r;
    mn_rng_seed(&r, 5);
    int64_t shape[2] = {3, 5};
    mn_tensor *z = tm_tensor_new(2, shape), *dz = tm_tensor_new(2, shape),
              *t = tm_tensor_new(2, shape);
    tm_fill_normal(z, &r, 1.5);
    tm_fill_normal(t, &r, 1.0);
    int32_t labels[3] = {4, 0, 2};
    double an[15], fd[15];

    for (int which = 0; which < 2; which++) {
        double f;
        if (which == 0)
            ck_assert_ok(mn_loss_cross_entropy(z, labels, &f, dz, NULL));
        else
            ck_assert_ok(mn_loss_mse(z, t, &f, dz));
        for (int i = 0; i < 15; i++)
            an[i] = dz->data[i];
        for (int i = 0; i < 15; i++) {
            float v0 = z->data[i];
            double fp, fm;
            z->data[i] = (float)(v0 + FD_EPS_SMOOTH);
            double hp = z->data[i];
            if (which == 0)
                ck_assert_ok(mn_loss_cross_entropy(z, labels, &fp, NULL, NULL));
            else
                ck_assert_ok(mn_loss_mse(z, t, &fp, NULL));
            z->data[i] = (float)(v0 - FD_EPS_SMOOTH);
            double hm = z->data[i];
            if (which == 0)
                ck_assert_ok(mn_loss_cross_entropy(z, labels, &fm, NULL, NULL));
            else
                ck_assert_ok(mn_loss_mse(z, t, &fm, NULL));
            z->data[i] = v0;
            fd[i] = (fp - fm) / (hp - hm);
        }
        check_gradient(which == 0 ? "cross-entropy (logits)" : "MSE (prediction)", fd, an, 15);
        /* The classic slips: a missing 1/B (CE), a missing factor 2 (MSE). */
        double bad[15];
        for (int i = 0; i < 15; i++)
            bad[i] = which == 0 ? an[i] * 3 : an[i] / 2;
        ck_assert(!fd_agree(fd, bad, 15, NULL));
    }

    /* Values by hand. */
    double f;
    int64_t hits;
    float zz[6] = {1, 2, 3, 0, 0, 0};
    mn_tensor *Z;
    ck_assert_ok(mn_tensor_wrap(&Z, zz, 2, (int64_t[]){2, 3}));
    ck_assert_ok(mn_loss_cross_entropy(Z, (int32_t[]){2, 1}, &f, NULL, &hits));
    double l0 = log(exp(1) + exp(2) + exp(3)) - 3, l1 = log(3.0);
    ck_assert_double_eq_tol(f, (l0 + l1) / 2, 1e-12);
    ck_assert_int_eq(hits, 1);
    float tt[6] = {1, 1, 1, 1, 1, 3};
    mn_tensor *T;
    ck_assert_ok(mn_tensor_wrap(&T, tt, 2, (int64_t[]){2, 3}));
    ck_assert_ok(mn_loss_mse(Z, T, &f, NULL));
    ck_assert_double_eq_tol(f, (0 + 1 + 4 + 1 + 1 + 9) / 6.0, 1e-12);
    /* Bad labels and shapes are errors. */
    ck_assert_int_eq(mn_loss_cross_entropy(Z, (int32_t[]){3, 0}, &f, NULL, NULL), MN_ERR_ARG);
    ck_assert_int_eq(mn_loss_cross_entropy(Z, (int32_t[]){-1, 0}, &f, NULL, NULL), MN_ERR_ARG);
    ck_assert_int_eq(mn_loss_mse(Z, z, &f, NULL), MN_ERR_SHAPE);
    mn_tensor_destroy(Z);
    mn_tensor_destroy(T);
    mn_tensor_destroy(z);
    mn_tensor_destroy(dz);
    mn_tensor_destroy(t);
}
END_TEST

/* Forward values of every bond against formulas computed here in double:
 * a finite-difference check cannot see a forward and backward that are wrong
 * together (e.g. GELU without its division by 1.1289). */
START_TEST(test_bond_forward_values)
{
    const double xs[8] = {-2.5, -1.0, -0.3, 0.0, 0.4, 1.0, 1.4142, 3.0};
    float xv[8];
    for (int i = 0; i < 8; i++)
        xv[i] = (float)xs[i];
    mn_tensor *x;
    ck_assert_ok(mn_tensor_wrap(&x, xv, 2, (int64_t[]){2, 4}));
    struct {
        mn_module *(*build)(void);
        const char *name;
    } cases[] = {{b_identity, "Identity"}, {b_relu, "ReLU"},      {b_gelu, "GELU"},
                 {b_abs, "Abs"},           {b_mul_neg, "Mul"},    {b_mean_subtract, "MeanSubtract"},
                 {b_rms_divide, "RMSDivide"}, {b_layer_norm, "LayerNorm"},
                 {b_sum_identity_twice, "Sum"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        mn_network *net = tm_network_new(cases[c].build(), 1);
        const mn_tensor *y;
        ck_assert_ok(mn_network_forward(net, x, &y));
        ck_assert_int_eq(y->ndim, 2);
        ck_assert_int_eq(y->shape[0], 2);
        ck_assert_int_eq(y->shape[1], 4);
        for (int row = 0; row < 2; row++) {
            const double *v = xs + 4 * row;
            double mean = (v[0] + v[1] + v[2] + v[3]) / 4, ms = 0, cs = 0;
            for (int k = 0; k < 4; k++) {
                ms += v[k] * v[k] / 4;
                cs += (v[k] - mean) * (v[k] - mean) / 4;
            }
            for (int k = 0; k < 4; k++) {
                double a = v[k], e = 0;
                const char *n = cases[c].name;
                if (!strcmp(n, "Identity"))
                    e = a;
                else if (!strcmp(n, "ReLU"))
                    e = a > 0 ? a : 0;
                else if (!strcmp(n, "GELU"))
                    e = 0.5 * a * (1 + erf(a / sqrt(2.0))) / 1.1289041451851545;
                else if (!strcmp(n, "Abs"))
                    e = fabs(a);
                else if (!strcmp(n, "Mul"))
                    e = -0.7 * a;
                else if (!strcmp(n, "MeanSubtract"))
                    e = a - mean;
                else if (!strcmp(n, "RMSDivide"))
                    e = a / sqrt(ms);
                else if (!strcmp(n, "LayerNorm"))
                    e = (a - mean) / sqrt(cs);
                else if (!strcmp(n, "Sum"))
                    e = 3.5 * a;
                double got = y->data[row * 4 + k];
                ck_assert_msg(fabs(got - e) <= 2e-6 * fmax(1, fabs(e)),
                              "%s(%g) = %.9g, expected %.9g", n, a, got, e);
            }
        }
        mn_network_destroy(net);
    }
    mn_tensor_destroy(x);

    /* Mean over positions and Flatten on (B, T, d) = (2, 3, 2). */
    float v3[12];
    for (int i = 0; i < 12; i++)
        v3[i] = (float)(i * i % 7) - 2.5f;
    mn_tensor *x3;
    ck_assert_ok(mn_tensor_wrap(&x3, v3, 3, (int64_t[]){2, 3, 2}));
    mn_network *net = tm_network_new(bond(mn_mean), 1);
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(net, x3, &y));
    ck_assert_int_eq(y->ndim, 2);
    ck_assert_int_eq(y->shape[0], 2);
    ck_assert_int_eq(y->shape[1], 2);
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < 2; k++) {
            double s = 0;
            for (int t = 0; t < 3; t++)
                s += v3[(b * 3 + t) * 2 + k];
            ck_assert_double_eq_tol(y->data[b * 2 + k], s / 3, 1e-6);
        }
    mn_network_destroy(net);
    net = tm_network_new(bond(mn_flatten), 1);
    ck_assert_ok(mn_network_forward(net, x3, &y));
    ck_assert_int_eq(y->ndim, 2);
    ck_assert_int_eq(y->shape[0], 2);
    ck_assert_int_eq(y->shape[1], 6);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq(y->data[i], v3[i]);
    mn_network_destroy(net);

    /* Linear: y = x Wᵀ. */
    net = tm_network_new(linear(3, 2), 4);
    ck_assert_ok(mn_network_forward(net, x3, &y));
    ck_assert_int_eq(y->ndim, 3);
    ck_assert_int_eq(y->shape[2], 3);
    const float *W = mn_network_weights(net);
    for (int r = 0; r < 6; r++)
        for (int i = 0; i < 3; i++) {
            double e = (double)W[i * 2] * v3[r * 2] + (double)W[i * 2 + 1] * v3[r * 2 + 1];
            ck_assert_double_eq_tol(y->data[r * 3 + i], e, 1e-5);
        }
    mn_network_destroy(net);
    mn_tensor_destroy(x3);
}
END_TEST

/* GELU divided by its true maximum slope 1.1289041 is 1-Lipschitz and the
 * bound is tight: the module's own backward slope, over a fine grid, peaks at 1. */
START_TEST(test_gelu_slope_is_one)
{
    mn_module *g = bond(mn_gelu);
    ck_assert_double_eq(mn_module_sensitivity(g), 1);
    ck_assert_double_eq(mn_module_mass(g), 0);
    mn_network *net = tm_network_new(g, 1);
    mn_network_keep_input_grad(net, true);
    enum { N = 12001 };
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){1, N}), *dy = tm_tensor_new(2, (int64_t[]){1, N});
    for (int i = 0; i < N; i++) {
        x->data[i] = (float)(-6.0 + 12.0 * i / (N - 1));
        dy->data[i] = 1;
    }
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(net, x, &y));
    ck_assert_ok(mn_network_backward(net, dy));
    const mn_tensor *dx = mn_network_input_grad(net);
    ck_assert_ptr_nonnull(dx);
    double peak = 0, peak_at = 0;
    for (int i = 0; i < N; i++)
        if (dx->data[i] > peak) {
            peak = dx->data[i];
            peak_at = x->data[i];
        }
    ck_assert_msg(fabs(peak - 1) <= 1e-6, "max slope of GELU/1.1289041 is %.9g (at %g)", peak,
                  peak_at);
    ck_assert_double_eq_tol(peak_at, sqrt(2.0), 2e-3);
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_network_destroy(net);
}
END_TEST

/* The comparison rejects gradients with a dropped term, a wrong sign or a
 * missing factor, built here from the module's correct input gradient. */
START_TEST(test_fd_rejects_wrong_gradients)
{
    static const fd_case cases[] = {
        {"RMSDivide", b_rms_divide, 2, {3, 5}, IN_NORMAL, true, false},
        {"GELU", b_gelu, 2, {3, 5}, IN_NORMAL, true, false},
        {"Mean", b_mean, 3, {3, 4, 5}, IN_NORMAL, true, false},
        {"Sum(Identity, Linear)", b_residual, 2, {3, 5}, IN_NORMAL, true, false},
        {"Mul(-0.7)", b_mul_neg, 2, {3, 5}, IN_NORMAL, true, false},
        {"LayerNorm", b_layer_norm, 2, {3, 5}, IN_NORMAL, true, false},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        probe *p = probe_make(&cases[c], 500 + c);
        int64_t n = mn_tensor_numel(p->x), np = mn_network_param_count(p->net);
        double *an = calloc((size_t)n, sizeof *an), *fd = calloc((size_t)n, sizeof *fd);
        double *bad = calloc((size_t)n, sizeof *bad);
        double *gw = calloc((size_t)np + 1, sizeof *gw);
        ck_assert(an && fd && bad && gw);
        probe_analytic(p, gw, an);
        probe_fd(p, p->x->data, n, FD_EPS_SMOOTH, fd);
        ck_assert_msg(fd_agree(fd, an, n, NULL), "%s: correct gradient rejected", cases[c].name);
        const float *x = p->x->data, *R = p->r->data;
        int64_t d = p->x->shape[p->x->ndim - 1], rows = n / d;
        int variants = 0;
        for (int v = 0; v < 2; v++) {
            bool have = true;
            for (int64_t row = 0; row < rows; row++) {
                const float *xr = x + row * d;
                double ms = 0;
                for (int64_t k = 0; k < d; k++)
                    ms += (double)xr[k] * xr[k] / (double)d;
                for (int64_t k = 0; k < d; k++) {
                    int64_t i = row * d + k;
                    double xi = xr[k];
                    switch (c) {
                    case 0: /* dropped projection term / dropped 1/rms */
                        bad[i] = v == 0 ? R[i] / sqrt(ms) : an[i] * sqrt(ms);
                        break;
                    case 1: /* slope without x·φ(x) / without the 1/1.1289 */
                        bad[i] = v == 0 ? R[i] * 0.5 * (1 + erf(xi / sqrt(2.0))) / 1.1289
                                        : an[i] * 1.1289;
                        break;
                    case 2: /* not divided by T / divided by T·d */
                        bad[i] = v == 0 ? an[i] * 4 : an[i] / 5;
                        break;
                    case 3: /* dropped identity branch / dropped Linear branch */
                        bad[i] = v == 0 ? an[i] - R[i] : R[i];
                        break;
                    case 4: /* |a| instead of a / 1 instead of a */
                        bad[i] = v == 0 ? -an[i] : R[i];
                        break;
                    case 5: /* computed below, one variant */
                        have = v == 0;
                        bad[i] = 0;
                        break;
                    }
                }
            }
            if (c == 5 && v == 0) {
                /* LayerNorm without MeanSubtract's backward: RMSDivide's
                 * backward at the centred input, not projected back onto
                 * zero-mean rows (off by mean(R)/rms per row). */
                for (int64_t row = 0; row < rows; row++) {
                    const float *xr = x + row * d, *rr = R + row * d;
                    double mean = 0, cs = 0, s = 0;
                    for (int64_t k = 0; k < d; k++)
                        mean += xr[k] / (double)d;
                    for (int64_t k = 0; k < d; k++)
                        cs += (xr[k] - mean) * (xr[k] - mean) / (double)d;
                    double rms = sqrt(cs);
                    for (int64_t k = 0; k < d; k++)
                        s += rr[k] * (xr[k] - mean) / rms / (double)d;
                    for (int64_t k = 0; k < d; k++)
                        bad[row * d + k] = (rr[k] - (xr[k] - mean) / rms * s) / rms;
                }
            }
            if (!have)
                continue;
            variants++;
            fd_cmp cmp;
            ck_assert_msg(!fd_agree(fd, bad, n, &cmp),
                          "%s: wrong gradient variant %d accepted (worst %.3g × tol)",
                          cases[c].name, v, cmp.worst);
        }
        ck_assert_int_gt(variants, 0);
        free(an);
        free(fd);
        free(bad);
        free(gw);
        probe_free(p);
    }

    /* Linear's weight gradient transposed (dyᵀx vs xᵀdy on a square W) and
     * its input gradient through W instead of Wᵀ. */
    const fd_case res = {"Sum(Identity, Linear)", b_residual, 2, {3, 5}, IN_NORMAL, true, false};
    probe *p = probe_make(&res, 9);
    int64_t np = mn_network_param_count(p->net), n = mn_tensor_numel(p->x);
    ck_assert_int_eq(np, 25);
    double gw[25], fdw[25], badw[25], gx[15], fdx[15], badx[15];
    probe_analytic(p, gw, gx);
    probe_fd(p, mn_network_weights(p->net), np, FD_EPS_SMOOTH, fdw);
    probe_fd(p, p->x->data, n, FD_EPS_SMOOTH, fdx);
    ck_assert(fd_agree(fdw, gw, np, NULL));
    ck_assert(fd_agree(fdx, gx, n, NULL));
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            badw[i * 5 + j] = gw[j * 5 + i];
    ck_assert(!fd_agree(fdw, badw, np, NULL));
    const float *W = mn_network_weights(p->net);
    for (int b = 0; b < 3; b++)
        for (int j = 0; j < 5; j++) {
            double s = p->r->data[b * 5 + j]; /* identity branch */
            for (int i = 0; i < 5; i++)
                s += (double)p->r->data[b * 5 + i] * W[j * 5 + i]; /* (dy Wᵀ)_j: wrong */
            badx[b * 5 + j] = s;
        }
    ck_assert(!fd_agree(fdx, badx, n, NULL));
    probe_free(p);
}
END_TEST

/* ========================================================================
 * 2. Mass, sensitivity and targets by hand
 * ======================================================================== */

/* Targets are sums and quotients of small numbers: exact up to a few ulps. */
#define TGT_TOL 1e-13

static void check_targets(mn_network *net, double t, const double *expected, const char *what)
{
    int n = mn_network_atom_count(net);
    double got[16];
    ck_assert_int_le(n, 16);
    ck_assert_ok(mn_modular_targets(net, t, got));
    for (int k = 0; k < n; k++)
        ck_assert_msg(fabs(got[k] - t * expected[k]) <= TGT_TOL,
                      "%s: atom %d target %.15g, expected %.15g (t = %g)", what, k, got[k],
                      t * expected[k], t);
}

/* Dualizing (exact polar) puts atom k's block exactly on the sphere of
 * radius t_k of its own norm. */
static void check_dualize_blocks(mn_network *net, double t, const double *expected)
{
    int64_t np = mn_network_param_count(net);
    float *g = malloc((size_t)np * sizeof *g), *o = malloc((size_t)np * sizeof *o);
    ck_assert(g && o);
    mn_rng r;
    mn_rng_seed(&r, 99);
    for (int64_t i = 0; i < np; i++)
        g[i] = (float)mn_rng_normal(&r);
    ck_assert_ok(mn_modular_dualize(net, g, o, t, svd_opts()));
    for (int k = 0; k < mn_network_atom_count(net); k++) {
        double nk = atom_norm(net, k, o);
        ck_assert_msg(fabs(nk - t * expected[k]) <= 1e-5 * fmax(1, t * expected[k]),
                      "atom %d: ‖dualized block‖ = %.9g, target %.9g", k, nk, t * expected[k]);
    }
    free(g);
    free(o);
}

START_TEST(test_masses_and_sensitivities_of_atoms_and_bonds)
{
    struct {
        mn_module *m;
        double mass, nu;
    } cases[] = {
        {linear(3, 4), 1, 1},          {b_embed(), 1, 1},           {bond(mn_identity), 0, 1},
        {bond(mn_relu), 0, 1},         {bond(mn_gelu), 0, 1},       {bond(mn_abs), 0, 1},
        {mul(-0.7), 0, 0.7},           {mul(2.5), 0, 2.5},          {bond(mn_add), 0, 1},
        {bond(mn_flatten), 0, 1},      {bond(mn_mean), 0, 1},       {bond(mn_mean_subtract), 0, 1},
        {bond(mn_rms_divide), 0, 1},   {bond(mn_layer_norm), 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        ck_assert_msg(mn_module_mass(cases[i].m) == cases[i].mass, "%s: mass %g",
                      mn_module_describe(cases[i].m, buf, sizeof buf), mn_module_mass(cases[i].m));
        ck_assert_msg(mn_module_sensitivity(cases[i].m) == cases[i].nu, "%s: sensitivity %g",
                      mn_module_describe(cases[i].m, buf, sizeof buf),
                      mn_module_sensitivity(cases[i].m));
        ck_assert(mn_module_is_atom(cases[i].m) == (cases[i].mass > 0));
        mn_module_destroy(cases[i].m);
    }
}
END_TEST

START_TEST(test_targets_mlp)
{
    mn_module *m;
    ck_assert_ok(mn_mlp(&m, 4, 8, 3, 2));
    ck_assert_double_eq(mn_module_mass(m), 3);
    ck_assert_double_eq(mn_module_sensitivity(m), 1);
    mn_network *net = tm_network_new(m, 1);
    ck_assert_int_eq(mn_network_atom_count(net), 3);
    double third[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    check_targets(net, 1.0, third, "mlp");
    check_targets(net, 0.6, third, "mlp");
    check_dualize_blocks(net, 1.0, third);
    /* Each atom starts on its unit sphere, and c_k = 3 for every atom: the
     * modular norm of the initial weights is 3. */
    for (int k = 0; k < 3; k++)
        ck_assert_double_eq_tol(atom_norm(net, k, mn_network_weights(net)), 1, 1e-5);
    ck_assert_double_eq_tol(modular_norm(net, mn_network_weights(net)), 3, 3e-5);
    mn_network_destroy(net);
}
END_TEST

/* Linear(5←4) of mass 1, Mul(a), Linear(3←5) of mass 2: μ = 3, and by
 * DESIGN.md the first Linear (run first, followed by M2 = Linear∘Mul of
 * ν2 = |a|) gets t·1/(3·|a|), the last t·2/3. */
START_TEST(test_targets_sequential_with_mul)
{
    const double as[] = {0.5, 4.0, -4.0};
    for (int i = 0; i < 3; i++) {
        double a = as[i];
        mn_module *root = SEQ(linear(5, 4), mul(a), linear_mass(3, 5, 2));
        ck_assert_double_eq(mn_module_mass(root), 3);
        ck_assert_double_eq_tol(mn_module_sensitivity(root), fabs(a), 1e-15);
        mn_network *net = tm_network_new(root, 2);
        double e[2] = {1 / (3 * fabs(a)), 2.0 / 3};
        check_targets(net, 1.0, e, "L, Mul, L(mass 2)");
        check_targets(net, 0.3, e, "L, Mul, L(mass 2)");
        check_dualize_blocks(net, 0.3, e);
        /* Modular norm = max(c1‖w1‖, c2‖w2‖) with c1 = 3|a|, c2 = 3/2: blocks
         * of norms 2 and 0.5 (scaled unit-sphere weights), then 0.1 and 4. */
        int64_t np = mn_network_param_count(net);
        float *b = malloc((size_t)np * sizeof *b);
        ck_assert_ptr_nonnull(b);
        const float *w = mn_network_weights(net);
        const double s1[2] = {2, 0.1}, s2[2] = {0.5, 4};
        for (int v = 0; v < 2; v++) {
            for (int64_t j = 0; j < np; j++)
                b[j] = (float)(w[j] * (j < 20 ? s1[v] : s2[v]));
            double expect = fmax(3 * fabs(a) * s1[v], 1.5 * s2[v]);
            ck_assert_double_eq_tol(modular_norm(net, b), expect, 2e-5 * expect);
        }
        free(b);
        mn_network_destroy(net);
    }
}
END_TEST

START_TEST(test_targets_tuple_and_sum)
{
    /* A 3-tuple of masses 1, 2, 5: t·μk/μ. */
    mn_module *t;
    mn_module *kids[3] = {linear(4, 4), linear_mass(4, 4, 2), linear_mass(4, 4, 5)};
    ck_assert_ok(mn_tuple(&t, 3, kids));
    ck_assert_double_eq(mn_module_mass(t), 8);
    ck_assert_double_eq(mn_module_sensitivity(t), 3);
    mn_network *net = tm_network_new(t, 1);
    double e3[3] = {1.0 / 8, 2.0 / 8, 5.0 / 8};
    check_targets(net, 1.0, e3, "tuple(1, 2, 5)");
    check_targets(net, 2.0, e3, "tuple(1, 2, 5)");
    check_dualize_blocks(net, 1.0, e3);
    mn_network_destroy(net);

    /* Sum of masses 1 and 3: 1/4, 3/4; ν = 1 + 1 (then Add, ν 1). */
    mn_module *s = sum(linear(4, 4), linear_mass(4, 4, 3));
    ck_assert_double_eq(mn_module_mass(s), 4);
    ck_assert_double_eq(mn_module_sensitivity(s), 2);
    net = tm_network_new(s, 1);
    double e2[2] = {0.25, 0.75};
    check_targets(net, 1.0, e2, "sum(1, 3)");
    mn_network_destroy(net);

    /* A residual after a Linear: Sum(Identity, B) has μ = 1, ν = 2, so the
     * first Linear A gets 1/(2·2) and B gets 1/2. */
    mn_module *root = SEQ(linear(4, 3), sum(bond(mn_identity), linear(4, 4)));
    ck_assert_double_eq(mn_module_sensitivity(root), 2);
    net = tm_network_new(root, 1);
    double er[2] = {0.25, 0.5};
    check_targets(net, 1.0, er, "A then Sum(Identity, B)");
    check_dualize_blocks(net, 1.0, er);
    mn_network_destroy(net);
}
END_TEST

/* Tare: setting a subtree's mass changes how its parent splits the target;
 * the subtree still splits its share by its children's own masses. */
START_TEST(test_targets_tare)
{
    mn_module *A = SEQ(linear(6, 4), bond(mn_relu), linear(6, 6));
    mn_module *L3 = linear(2, 6);
    mn_module *root = SEQ(A, L3);
    mn_network *net = tm_network_new(root, 1);
    double base[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    check_targets(net, 1.0, base, "untared");

    ck_assert_ok(mn_module_set_mass(A, 1.0));
    ck_assert_double_eq(mn_module_mass(A), 1);
    ck_assert_double_eq(mn_module_mass(root), 2);
    /* c_A = 2/1 → A gets 1/2, split 1/4 + 1/4 inside; L3: c = 2 → 1/2. */
    double light[3] = {0.25, 0.25, 0.5};
    check_targets(net, 1.0, light, "A tared to 1");
    check_dualize_blocks(net, 1.0, light);

    ck_assert_ok(mn_module_set_mass(A, 4.0));
    ck_assert_double_eq(mn_module_mass(root), 5);
    /* c_A = 5/4 → 4/5, split 2/5 + 2/5; L3: c = 5 → 1/5. */
    double heavy[3] = {0.4, 0.4, 0.2};
    check_targets(net, 1.0, heavy, "A tared to 4");

    /* An atom's mass is read by every ancestor (derived when read). */
    ck_assert_ok(mn_module_set_mass(L3, 3.0));
    ck_assert_double_eq(mn_module_mass(root), 7);
    double atom[3] = {2.0 / 7, 2.0 / 7, 3.0 / 7};
    check_targets(net, 1.0, atom, "A tared to 4, L3 mass 3");
    mn_network_destroy(net);
}
END_TEST

/* Children of mass 0 receive target 0: their blocks are not updated, drop
 * out of the norm's max and of the dual. */
START_TEST(test_targets_mass_zero)
{
    mn_module *L2 = linear(6, 6);
    mn_module *root = SEQ(linear(6, 4), bond(mn_relu), L2, bond(mn_relu), linear(3, 6));
    ck_assert_ok(mn_module_set_mass(L2, 0));
    ck_assert_double_eq(mn_module_mass(root), 2);
    mn_network *net = tm_network_new(root, 1);
    double e[3] = {0.5, 0, 0.5};
    check_targets(net, 1.0, e, "middle Linear of mass 0");

    int64_t np = mn_network_param_count(net);
    ck_assert_int_eq(np, 24 + 36 + 18);
    float *g = malloc((size_t)np * sizeof *g), *o = malloc((size_t)np * sizeof *o);
    ck_assert(g && o);
    mn_rng r;
    mn_rng_seed(&r, 3);
    for (int64_t i = 0; i < np; i++)
        g[i] = (float)mn_rng_normal(&r);
    ck_assert_ok(mn_modular_dualize(net, g, o, 1.0, svd_opts()));
    for (int64_t i = 24; i < 60; i++)
        ck_assert_float_eq(o[i], 0);
    ck_assert_double_eq_tol(modular_norm(net, o), 1, 1e-5);
    /* The mass-0 block does not enter the norm or the dual. */
    double n0 = modular_norm(net, g), d0;
    ck_assert_ok(mn_modular_dual(net, g, &d0));
    for (int64_t i = 24; i < 60; i++)
        g[i] *= 1000;
    double n1 = modular_norm(net, g), d1;
    ck_assert_ok(mn_modular_dual(net, g, &d1));
    ck_assert_double_eq(n0, n1);
    ck_assert_double_eq(d0, d1);
    free(g);
    free(o);
    mn_network_destroy(net);

    /* A whole subtree tared to 0 gives 0 to all of its atoms. */
    mn_module *A = SEQ(linear(4, 4), bond(mn_gelu), linear(4, 4));
    root = SEQ(A, linear(2, 4));
    ck_assert_ok(mn_module_set_mass(A, 0));
    net = tm_network_new(root, 1);
    double ez[3] = {0, 0, 1};
    check_targets(net, 1.0, ez, "subtree of mass 0");
    mn_network_destroy(net);
}
END_TEST

/* A module of sensitivity 0 after a child gives it c = 0 and target t/c =
 * inf: refused, naming both modules (a `0 * Linear` graph was trained with an
 * infinite step and reported as diverged). A sensitivity-0 module before
 * the atoms is harmless. */
START_TEST(test_targets_sensitivity_zero)
{
    double t[2];
    mn_network *net = tm_network_new(SEQ(linear(5, 4), mul(0), linear(3, 5)), 1);
    ck_assert_int_eq(mn_modular_targets(net, 1.0, t), MN_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(mn_last_error(), "Mul(0) has sensitivity 0") &&
                      strstr(mn_last_error(), "Linear(5←4)"),
                  "message: %s", mn_last_error());
    ck_assert_int_eq(mn_modular_targets(net, 0.0, t), MN_ERR_UNSUPPORTED); /* 0/0 */
    mn_network_destroy(net);

    net = tm_network_new(SEQ(mul(0), linear(3, 5)), 1);
    double one = 1;
    check_targets(net, 1.0, &one, "Mul(0) first");
    mn_network_destroy(net);
}
END_TEST

START_TEST(test_scale_and_power)
{
    /* scale(a, M): ν × |a|, mass unchanged. */
    mn_module *s = scale(-3, linear(4, 4));
    ck_assert_double_eq(mn_module_sensitivity(s), 3);
    ck_assert_double_eq(mn_module_mass(s), 1);
    mn_module_destroy(s);
    s = scale(0.25, SEQ(linear(4, 4), bond(mn_gelu), mul(-2)));
    ck_assert_double_eq(mn_module_sensitivity(s), 0.5);
    mn_module_destroy(s);

    /* L1 then scale(3, L2): ν(scale) = 3, so c_1 = (2/1)·3 → 1/6; the scale
     * compound gets 1/2 and passes 1/(2·3) to L2 (L2 runs before its Mul). */
    mn_network *net = tm_network_new(SEQ(linear(4, 4), scale(3, linear(4, 4))), 1);
    double e[2] = {1.0 / 6, 1.0 / 6};
    check_targets(net, 1.0, e, "L1, scale(3, L2)");
    check_dualize_blocks(net, 1.0, e);
    mn_network_destroy(net);

    /* power(M, k): mass k·μ, sensitivity ν^k, k independent atoms. */
    mn_module *p = power(linear_mass(4, 4, 2), 3);
    ck_assert_double_eq(mn_module_mass(p), 6);
    ck_assert_double_eq(mn_module_sensitivity(p), 1);
    ck_assert_int_eq(mn_module_param_count(p), 48);
    ck_assert_int_eq(mn_module_child_count(p), 3);
    net = tm_network_new(p, 1);
    ck_assert_int_eq(mn_network_atom_count(net), 3);
    double e3[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    check_targets(net, 1.0, e3, "power(L, 3)");
    mn_network_destroy(net);

    p = power(scale(2, linear_mass(4, 4, 1.5)), 3);
    ck_assert_double_eq(mn_module_mass(p), 4.5);
    ck_assert_double_eq(mn_module_sensitivity(p), 8);
    net = tm_network_new(p, 1);
    /* Copy i (in run order) has c_i = (μ/μ_i)·2^(3−i), and inside it the
     * Linear has c = 2: targets 1/24, 1/12, 1/6. */
    double ep[3] = {1.0 / 24, 1.0 / 12, 1.0 / 6};
    check_targets(net, 1.0, ep, "power(scale(2, L), 3)");
    check_dualize_blocks(net, 1.0, ep);
    mn_network_destroy(net);

    p = power(SEQ(linear(4, 4), mul(0.5)), 4);
    ck_assert_double_eq(mn_module_mass(p), 4);
    ck_assert_double_eq(mn_module_sensitivity(p), 1.0 / 16);
    mn_module_destroy(p);
}
END_TEST

/* ========================================================================
 * 3. The modular norm of a dualized gradient, and the dual norm
 * ======================================================================== */

/* A tree mixing norms (Frobenius, ℓ1→ℓ∞, RMS→RMS), a residual, a Mul, and a
 * mass-2 readout. */
static mn_module *mixed_tree(void)
{
    mn_module *first = linear(6, 5), *head = linear_mass(3, 6, 2), *mid = linear(6, 6);
    ck_assert_ok(mn_module_set_norm(first, "frobenius"));
    ck_assert_ok(mn_module_set_norm(mid, "l1-linf"));
    return SEQ(first, bond(mn_gelu), sum(bond(mn_identity), mid), mul(0.5), bond(mn_relu), head);
}

static mn_module *embed_tree(void)
{
    mn_module *e;
    ck_assert_ok(mn_embed(&e, 7, 4));
    return SEQ(e, bond(mn_mean), bond(mn_layer_norm), linear(5, 4), bond(mn_gelu),
               linear_mass(3, 5, 0.5));
}

static mn_module *deep_mlp(void)
{
    mn_module *m;
    ck_assert_ok(mn_mlp(&m, 8, 16, 4, 5));
    return m;
}

/* Dual values and norms are computed in double from float32 blocks. */
#define DUAL_TOL 1e-5

START_TEST(test_modular_dualize_properties)
{
    mn_module *(*trees[])(void) = {mixed_tree, embed_tree, deep_mlp, b_power};
    for (size_t ti = 0; ti < sizeof trees / sizeof trees[0]; ti++) {
        mn_network *net = tm_network_new(trees[ti](), 10 + ti);
        int64_t np = mn_network_param_count(net);
        float *g = malloc((size_t)np * sizeof *g), *o = malloc((size_t)np * sizeof *o);
        float *o1 = malloc((size_t)np * sizeof *o1), *D = malloc((size_t)np * sizeof *D);
        ck_assert(g && o && o1 && D);
        mn_rng r;
        mn_rng_seed(&r, 200 + ti);
        for (int64_t i = 0; i < np; i++)
            g[i] = (float)mn_rng_normal(&r);

        ck_assert_ok(mn_modular_dualize(net, g, o1, 1.0, svd_opts()));
        double dual;
        ck_assert_ok(mn_modular_dual(net, g, &dual));
        ck_assert_double_gt(dual, 0);
        /* ‖dualize(g, t)‖ = t, <g, dualize(g, t)> = t·dual(g). */
        const double ts[] = {1.0, 0.37, 2.5};
        for (int k = 0; k < 3; k++) {
            ck_assert_ok(mn_modular_dualize(net, g, o, ts[k], svd_opts()));
            double n = modular_norm(net, o);
            ck_assert_msg(fabs(n - ts[k]) <= DUAL_TOL * ts[k], "tree %zu: ‖dualize(g, %g)‖ = %.9g",
                          ti, ts[k], n);
            double inner = dot_f(g, o, np);
            ck_assert_msg(fabs(inner - ts[k] * dual) <= DUAL_TOL * ts[k] * dual,
                          "tree %zu: <g, dualize(g, %g)> = %.9g, t·dual = %.9g", ti, ts[k], inner,
                          ts[k] * dual);
        }
        /* The dual is Σ_k t_k·‖g_k‖†_k with the targets of t = 1. */
        double tk[16], by_hand = 0;
        ck_assert_ok(mn_modular_targets(net, 1.0, tk));
        for (int k = 0; k < mn_network_atom_count(net); k++) {
            mn_mat v = mn_network_atom_view(net, k, g);
            double d;
            ck_assert_ok(mn_norm_dual(mn_module_norm(mn_network_atom(net, k)), &v, &d));
            by_hand += tk[k] * d;
        }
        ck_assert_double_eq_tol(dual, by_hand, 1e-12 * by_hand);

        /* In place (out = g) gives the same update. */
        memcpy(o, g, (size_t)np * sizeof *o);
        ck_assert_ok(mn_modular_dualize(net, o, o, 1.0, svd_opts()));
        for (int64_t i = 0; i < np; i++)
            ck_assert_float_eq_tol(o[i], o1[i], 1e-6);

        /* No feasible update does better: random Gaussian directions scaled
         * to modular norm 1; block-wise points on every atom's sphere of
         * radius t_k; small perturbations of the optimum, rescaled. */
        double best = -INFINITY, o1_rms = sqrt(dot_f(o1, o1, np) / (double)np);
        for (int trial = 0; trial < 300; trial++) {
            int kind = trial % 3;
            for (int64_t i = 0; i < np; i++)
                D[i] = kind == 2 ? (float)(o1[i] + 0.05 * o1_rms * mn_rng_normal(&r))
                                 : (float)mn_rng_normal(&r);
            if (kind == 1)
                for (int k = 0; k < mn_network_atom_count(net); k++) {
                    mn_mat v = mn_network_atom_view(net, k, D);
                    mn_mat_scale(&v, tk[k] / atom_norm(net, k, D));
                }
            double n = modular_norm(net, D);
            for (int64_t i = 0; i < np; i++)
                D[i] = (float)(D[i] / n);
            double score = dot_f(g, D, np) / modular_norm(net, D);
            best = fmax(best, score);
            ck_assert_msg(score <= dual * (1 + DUAL_TOL),
                          "tree %zu: a feasible point (kind %d) scores %.9g > dual %.9g", ti, kind,
                          score, dual);
        }
        /* Perturbations of the optimum come close: the check is not loose. */
        ck_assert_double_gt(best, 0.9 * dual);
        free(g);
        free(o);
        free(o1);
        free(D);
        mn_network_destroy(net);
    }
}
END_TEST

/* ========================================================================
 * 4. Well-normed at initialization
 * ======================================================================== */

static double row_rms(const float *v, int64_t d)
{
    return sqrt(dot_f(v, v, d) / (double)d);
}

/* The total t of the targets: NAN, infinite and negative totals came back
 * as targets with MN_OK (and through them a NaN step from the dualize). */
START_TEST(test_targets_total_refused)
{
    mn_module *m;
    ck_assert_ok(mn_mlp(&m, 4, 5, 3, 2));
    mn_network *net = tm_network_new(m, 1);
    double t[3] = {7, 7, 7};
    const double bad[] = {NAN, -1, INFINITY, -0.5};
    for (int i = 0; i < 4; i++)
        ck_assert_refused(mn_modular_targets(net, bad[i], t), MN_ERR_ARG, "the total t =");
    ck_assert(t[0] == 7 && t[1] == 7 && t[2] == 7);
    float *g = mn_network_grads(net);
    for (int64_t i = 0; i < mn_network_param_count(net); i++)
        g[i] = (float)(i % 5) - 2;
    float *out = calloc((size_t)mn_network_param_count(net), sizeof *out);
    ck_assert_refused(mn_modular_dualize(net, g, out, NAN, NULL), MN_ERR_ARG, "t = nan");
    ck_assert_ok(mn_modular_targets(net, 0, t));
    ck_assert(t[0] == 0 && t[1] == 0 && t[2] == 0);
    ck_assert_ok(mn_modular_targets(net, 2, t));
    ck_assert_double_eq_tol(t[0], 2.0 / 3, 1e-12);
    ck_assert_refused(mn_modular_targets(net, 1, NULL), MN_ERR_ARG, "targets is NULL");
    free(out);
    mn_network_destroy(net);
}
END_TEST

/* Rounding of float32 activations: RMS values are exact to ~1e-7. */
#define RMS_TOL 1e-5

START_TEST(test_linear_well_normed)
{
    const int64_t shapes[][2] = {{32, 16}, {16, 32}, {24, 24}, {1, 8}, {8, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t d_out = shapes[s][0], d_in = shapes[s][1];
        mn_network *net = tm_network_new(linear(d_out, d_in), 7 + s);
        float *W = mn_network_weights(net);
        ck_assert_double_eq_tol(atom_norm(net, 0, W), 1, RMS_TOL);
        /* Orthogonal × √(d_out/d_in): every singular value is the same. */
        mn_mat Wv = mn_network_atom_view(net, 0, W);
        double *sv = tm_singular_values(&Wv);
        int64_t k = d_out < d_in ? d_out : d_in;
        for (int64_t i = 0; i < k; i++)
            ck_assert_double_eq_tol(sv[i], sqrt((double)d_out / (double)d_in), 1e-5);
        free(sv);

        enum { B = 400 };
        mn_rng r;
        mn_rng_seed(&r, 40 + s);
        mn_tensor *x = tm_tensor_new(2, (int64_t[]){B, d_in});
        double want[B];
        for (int b = 0; b < B; b++) {
            float *xr = x->data + b * d_in;
            if (b < 8 && b < d_out) {
                /* In the row space of W (the directions where it is tight). */
                for (int64_t j = 0; j < d_in; j++)
                    xr[j] = W[b * d_in + j];
            } else {
                for (int64_t j = 0; j < d_in; j++)
                    xr[j] = (float)mn_rng_normal(&r);
            }
            want[b] = b < 200 ? 1.0 : mn_rng_uniform(&r) + 1e-3;
            double rr = row_rms(xr, d_in);
            for (int64_t j = 0; j < d_in; j++)
                xr[j] = (float)(xr[j] * want[b] / rr);
        }
        const mn_tensor *y;
        ck_assert_ok(mn_network_forward(net, x, &y));
        double worst = 0;
        for (int b = 0; b < B; b++) {
            double in = row_rms(x->data + b * d_in, d_in);
            double out = row_rms(y->data + b * d_out, d_out);
            ck_assert_msg(out <= in * (1 + RMS_TOL) && out <= 1 + RMS_TOL,
                          "Linear(%lld←%lld): input RMS %.9g → output RMS %.9g", (long long)d_out,
                          (long long)d_in, in, out);
            if (d_out >= d_in) /* isometry up to the RMS scaling */
                ck_assert_double_eq_tol(out / in, 1, RMS_TOL);
            if (b < 8 && b < d_out) /* tight on the row space */
                ck_assert_double_eq_tol(out / in, 1, RMS_TOL);
            worst = fmax(worst, out);
        }
        ck_assert_double_eq_tol(worst, 1, RMS_TOL);
        mn_tensor_destroy(x);
        mn_network_destroy(net);
    }

    /* Embed: every embedding vector has RMS 1 (its l1→RMS norm is 1). */
    mn_module *e;
    ck_assert_ok(mn_embed(&e, 9, 6));
    mn_network *net = tm_network_new(e, 3);
    ck_assert_double_eq_tol(atom_norm(net, 0, mn_network_weights(net)), 1, RMS_TOL);
    for (int t = 0; t < 9; t++)
        ck_assert_double_eq_tol(row_rms(mn_network_weights(net) + t * 6, 6), 1, RMS_TOL);
    mn_network_destroy(net);
}
END_TEST

static mn_module *residual_tree(void)
{
    return SEQ(linear(16, 12), bond(mn_gelu), scale(0.5, sum(bond(mn_identity), linear(16, 16))),
               bond(mn_relu), linear(6, 16));
}

static mn_module *mlp_tree(void)
{
    mn_module *m;
    ck_assert_ok(mn_mlp(&m, 12, 16, 3, 6));
    return m;
}

static mn_module *power_tree(void)
{
    return SEQ(power(SEQ(linear(12, 12), bond(mn_gelu)), 3), linear(6, 12));
}

static mn_module *single_linear(void) { return linear(6, 12); }

/* Token input (one-hot: ℓ1 norm 1), mean of embeddings (RMS ≤ 1). */
static mn_module *embed_mean_tree(void)
{
    mn_module *e;
    ck_assert_ok(mn_embed(&e, 10, 12));
    return SEQ(e, bond(mn_mean), linear(16, 12), bond(mn_relu), linear(6, 16));
}

/* Central difference of the output along dw (float32 steps actually taken
 * are returned in dw_actual); per-sample RMS of the change, max over rows. */
static double first_order_ratio(mn_network *net, const mn_tensor *x, const float *dw, double eps,
                                float *w0, float *dw_actual, mn_tensor *yp)
{
    int64_t np = mn_network_param_count(net);
    float *w = mn_network_weights(net);
    const mn_tensor *y;
    for (int64_t i = 0; i < np; i++)
        w[i] = (float)(w0[i] + eps * dw[i]);
    ck_assert_ok(mn_network_forward(net, x, &y));
    memcpy(yp->data, y->data, (size_t)mn_tensor_numel(y) * sizeof(float));
    for (int64_t i = 0; i < np; i++)
        dw_actual[i] = w[i];
    for (int64_t i = 0; i < np; i++) {
        w[i] = (float)(w0[i] - eps * dw[i]);
        dw_actual[i] = (float)(((double)dw_actual[i] - w[i]) / (2 * eps));
    }
    ck_assert_ok(mn_network_forward(net, x, &y));
    memcpy(w, w0, (size_t)np * sizeof *w);
    int64_t d = y->shape[1], B = y->shape[0];
    double worst = 0;
    for (int64_t b = 0; b < B; b++) {
        double s = 0;
        for (int64_t k = 0; k < d; k++) {
            double dv = ((double)yp->data[b * d + k] - y->data[b * d + k]) / (2 * eps);
            s += dv * dv;
        }
        worst = fmax(worst, sqrt(s / (double)d));
    }
    double n = modular_norm(net, dw_actual);
    return worst / n;
}

/* For a tree whose atoms are in their unit balls and inputs of RMS 1, the
 * first-order output change is at most the modular norm of the weight
 * change. Directions: random, and the worst case for one sample (the
 * dualized gradient of <u, y_b>). FD noise is ~1e-4 relative (output
 * changes of ~1e-3 against float32 rounding), hence the 1e-3 slack. */
#define FIRST_ORDER_TOL 1e-3

START_TEST(test_first_order_bound)
{
    mn_module *(*trees[])(void) = {single_linear, mlp_tree, residual_tree, power_tree,
                                   embed_mean_tree};
    const char *names[] = {"Linear(6←12)", "mlp", "residual", "power", "embed"};
    for (size_t ti = 0; ti < sizeof trees / sizeof trees[0]; ti++)
        for (int shrink = 0; shrink < 2; shrink++) {
            mn_network *net = tm_network_new(trees[ti](), 60 + ti);
            int64_t np = mn_network_param_count(net);
            float *w = mn_network_weights(net);
            if (shrink) /* strictly inside the unit balls */
                for (int64_t i = 0; i < np; i++)
                    w[i] *= 0.7f;
            for (int k = 0; k < mn_network_atom_count(net); k++)
                ck_assert_double_le(atom_norm(net, k, w), 1 + 1e-5);
            enum { B = 32 };
            bool tokens = trees[ti] == embed_mean_tree;
            mn_tensor *x = tm_tensor_new(2, (int64_t[]){B, tokens ? 3 : 12});
            mn_rng r;
            mn_rng_seed(&r, 70 + ti);
            tm_fill_normal(x, &r, 1.0);
            for (int b = 0; b < B; b++) {
                double rr = tokens ? 1 : row_rms(x->data + b * 12, 12);
                for (int j = 0; j < 12 && !tokens; j++)
                    x->data[b * 12 + j] = (float)(x->data[b * 12 + j] / rr);
                for (int j = 0; j < 3 && tokens; j++)
                    x->data[b * 3 + j] = (float)mn_rng_below(&r, 10);
            }
            const mn_tensor *y;
            ck_assert_ok(mn_network_forward(net, x, &y));
            mn_tensor *yp = tm_tensor_new(2, y->shape), *u = tm_tensor_new(2, y->shape);
            float *w0 = malloc((size_t)np * sizeof *w0), *dw = malloc((size_t)np * sizeof *dw);
            float *dwa = malloc((size_t)np * sizeof *dwa);
            ck_assert(w0 && dw && dwa);
            memcpy(w0, w, (size_t)np * sizeof *w0);
            double worst = 0, worst_adv = 0;
            for (int trial = 0; trial < 24; trial++) {
                bool adversarial = trial >= 16;
                if (!adversarial) {
                    for (int64_t i = 0; i < np; i++)
                        dw[i] = (float)mn_rng_normal(&r);
                } else {
                    /* Steepest direction for sample b along a random u. */
                    int64_t b = trial - 16, d = y->shape[1];
                    memset(u->data, 0, (size_t)mn_tensor_numel(u) * sizeof(float));
                    for (int64_t k = 0; k < d; k++)
                        u->data[b * d + k] = (float)mn_rng_normal(&r);
                    mn_network_zero_grad(net);
                    ck_assert_ok(mn_network_forward(net, x, &y));
                    ck_assert_ok(mn_network_backward(net, u));
                    ck_assert_ok(mn_modular_dualize(net, mn_network_grads(net), dw, 1.0,
                                                    svd_opts()));
                }
                double n = modular_norm(net, dw);
                for (int64_t i = 0; i < np; i++)
                    dw[i] = (float)(dw[i] / n);
                double ratio = first_order_ratio(net, x, dw, 1e-3, w0, dwa, yp);
                ck_assert_msg(ratio <= 1 + FIRST_ORDER_TOL,
                              "%s%s: output change %.6g × the modular norm of the weight change",
                              names[ti], shrink ? " (shrunk)" : "", ratio);
                if (adversarial)
                    worst_adv = fmax(worst_adv, ratio);
                else
                    worst = fmax(worst, ratio);
            }
            if (verbose())
                printf("  first order %-10s%s: random max %.4f, adversarial max %.4f\n", names[ti],
                       shrink ? " (×0.7)" : "       ", worst, worst_adv);
            /* Not vacuous: the single Linear reaches the bound (inputs of
             * RMS 1, Δw = rank one along the input), the trees get within
             * a small factor of it. */
            if (ti == 0)
                ck_assert_double_ge(worst_adv, 1 - 1e-3);
            else
                ck_assert_double_ge(worst_adv, shrink ? 0.03 : 0.15);
            free(w0);
            free(dw);
            free(dwa);
            mn_tensor_destroy(yp);
            mn_tensor_destroy(u);
            mn_tensor_destroy(x);
            mn_network_destroy(net);
        }
}
END_TEST

/* ========================================================================
 * 5. Shape and argument errors
 * ======================================================================== */

static bool has(const char *needle) { return strstr(mn_last_error(), needle) != NULL; }

START_TEST(test_shape_errors_at_construction)
{
    mn_module *m = (mn_module *)&m; /* any non-NULL value: must be reset */
    ck_assert_int_eq(mn_sequential(&m, 2, (mn_module *[]){linear(512, 784), linear(10, 256)}),
                     MN_ERR_SHAPE);
    ck_assert_ptr_null(m);
    ck_assert_msg(has("Linear(10←256)") && has("Linear(512←784)"), "message: %s",
                  mn_last_error());
    ck_assert_msg(has("256") && has("512"), "message: %s", mn_last_error());

    /* Deeper in a tree, and in a tuple/sum with unequal branches. */
    mn_module *inner = SEQ(linear(8, 4), bond(mn_relu), linear(8, 8));
    ck_assert_int_eq(mn_sequential(&m, 2, (mn_module *[]){inner, linear(3, 7)}), MN_ERR_SHAPE);
    ck_assert_msg(has("Linear(3←7)"), "message: %s", mn_last_error());
    ck_assert_int_eq(mn_sum(&m, linear(3, 4), linear(5, 4)), MN_ERR_SHAPE);
    ck_assert_msg(has("Linear(3←4)") && has("Linear(5←4)"), "message: %s", mn_last_error());
    ck_assert_ptr_null(m);
}
END_TEST

/* The output's last dimension from the sizes alone (train checks it against
 * the classes before any weight is allocated): a Linear's d_out, an input
 * passed through bonds, -1 where only a run knows it, and the errors. */
START_TEST(test_output_features)
{
    int64_t out;
    mn_module *m = SEQ(linear(8, 4), bond(mn_relu), linear(3, 8));
    ck_assert_ok(mn_module_output_features(m, 4, &out));
    ck_assert_int_eq(out, 3);
    ck_assert_ok(mn_module_output_features(m, -1, &out)); /* unknown input */
    ck_assert_int_eq(out, 3);
    ck_assert_int_eq(mn_module_output_features(m, 5, &out), MN_ERR_SHAPE);
    ck_assert_msg(has("Linear(8←4)") && has("5"), "message: %s", mn_last_error());
    mn_module_destroy(m);
    m = bond(mn_relu); /* no weights: the input's size */
    ck_assert_ok(mn_module_output_features(m, 784, &out));
    ck_assert_int_eq(out, 784);
    mn_module_destroy(m);
    ck_assert_ok(mn_global_mean(&m)); /* known only at run time */
    ck_assert_ok(mn_module_output_features(m, 7, &out));
    ck_assert_int_eq(out, -1);
    mn_module_destroy(m);
    ck_assert_ok(mn_tuple(&m, 2, (mn_module *[]){linear(3, 4), linear(5, 4)}));
    ck_assert_int_eq(mn_module_output_features(m, 4, &out), MN_ERR_SHAPE);
    ck_assert_msg(has("2 outputs"), "message: %s", mn_last_error());
    ck_assert_int_eq(mn_module_output_features(NULL, 4, &out), MN_ERR_ARG);
    ck_assert_int_eq(mn_module_output_features(m, 4, NULL), MN_ERR_ARG);
    mn_module_destroy(m);
}
END_TEST

/* The whole output shape from the leaves' plans, without a network: where
 * the features above say -1 (a Flatten alone: review2 #12, whose 784 logits
 * got no note), a pool or a Conv2D, and what a first forward gives. */
START_TEST(test_output_shape)
{
    int64_t out;
    mn_shape y;
    mn_module *m = bond(mn_flatten);
    ck_assert_ok(mn_module_output_features(m, 784, &out));
    ck_assert_int_eq(out, -1); /* (B, 784) or (B, T, 784): the last dimension cannot say */
    ck_assert_ok(mn_module_output_shape(m, &(mn_shape){2, {1, 784}}, &y));
    ck_assert_int_eq(y.ndim, 2);
    ck_assert_int_eq(y.dim[1], 784);
    ck_assert_ok(mn_module_output_shape(m, &(mn_shape){3, {5, 2, 3}}, &y));
    ck_assert(y.ndim == 2 && y.dim[0] == 5 && y.dim[1] == 6);
    mn_module_destroy(m);

    /* a CNN's pieces: Image, Conv2D, pool, Flatten, and a Linear after them */
    mn_module *img, *conv, *pool;
    ck_assert_ok(mn_image(&img, 1, 8, 8));
    ck_assert_ok(mn_conv2d(&conv, 4, 1, 3, 1, 1));
    ck_assert_ok(mn_avg_pool(&pool, 2));
    m = SEQ(img, conv, pool, bond(mn_flatten));
    ck_assert_ok(mn_module_output_features(m, 64, &out));
    ck_assert_int_eq(out, -1);
    ck_assert_ok(mn_module_output_shape(m, &(mn_shape){2, {3, 64}}, &y));
    ck_assert(y.ndim == 2 && y.dim[0] == 3 && y.dim[1] == 4 * 4 * 4);
    /* as a network's forward finds it */
    mn_network *net = tm_network_new(m, 1);
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){3, 64});
    const mn_tensor *fy;
    ck_assert_ok(mn_network_forward(net, x, &fy));
    ck_assert(fy->ndim == 2 && fy->shape[1] == y.dim[1]);
    mn_tensor_destroy(x);
    ck_assert_refused(mn_module_output_shape(mn_network_root(net), &(mn_shape){2, {3, 63}}, &y),
                      MN_ERR_SHAPE, "Image");
    mn_network_destroy(net);

    /* through a tuple into Add, and the errors */
    m = SEQ(linear(8, 4), bond(mn_relu), linear(3, 8));
    ck_assert_ok(mn_module_output_shape(m, &(mn_shape){3, {2, 5, 4}}, &y));
    ck_assert(y.ndim == 3 && y.dim[0] == 2 && y.dim[1] == 5 && y.dim[2] == 3);
    ck_assert_refused(mn_module_output_shape(m, &(mn_shape){2, {2, 5}}, &y), MN_ERR_SHAPE,
                      "Linear(8←4)");
    ck_assert_refused(mn_module_output_shape(m, &(mn_shape){2, {2, -4}}, &y), MN_ERR_SHAPE,
                      "negative dimension");
    ck_assert_refused(mn_module_output_shape(m, &(mn_shape){0, {0}}, &y), MN_ERR_SHAPE,
                      "in has 0 dimensions");
    ck_assert_refused(mn_module_output_shape(NULL, &(mn_shape){2, {2, 4}}, &y), MN_ERR_ARG,
                      "the module is NULL");
    ck_assert_refused(mn_module_output_shape(m, NULL, &y), MN_ERR_ARG, "in is NULL");
    ck_assert_refused(mn_module_output_shape(m, &(mn_shape){2, {2, 4}}, NULL), MN_ERR_ARG,
                      "out is NULL");
    mn_module_destroy(m);
    ck_assert_ok(mn_tuple(&m, 2, (mn_module *[]){linear(3, 4), linear(5, 4)}));
    ck_assert_refused(mn_module_output_shape(m, &(mn_shape){2, {2, 4}}, &y), MN_ERR_SHAPE,
                      "2 outputs");
    mn_module_destroy(m);
    ck_assert_ok(mn_sum(&m, linear(3, 4), linear(3, 4)));
    ck_assert_ok(mn_module_output_shape(m, &(mn_shape){2, {2, 4}}, &y));
    ck_assert(y.ndim == 2 && y.dim[1] == 3);
    mn_module_destroy(m);
}
END_TEST

START_TEST(test_shape_errors_at_run_time)
{
    mn_module *mlp;
    ck_assert_ok(mn_mlp(&mlp, 4, 8, 2, 3));
    mn_network *net = tm_network_new(mlp, 1);
    mn_tensor *bad = tm_tensor_new(2, (int64_t[]){3, 5}),
              *good = tm_tensor_new(2, (int64_t[]){3, 4});
    const mn_tensor *y = NULL;
    ck_assert_int_eq(mn_network_forward(net, bad, &y), MN_ERR_SHAPE);
    ck_assert_msg(has("Linear(8←4)") && has("5"), "message: %s", mn_last_error());
    /* Backward before a successful forward, or with a wrongly sized dy. */
    mn_tensor *dy = tm_tensor_new(2, (int64_t[]){3, 3}),
              *dy_bad = tm_tensor_new(2, (int64_t[]){3, 4});
    ck_assert_refused(mn_network_backward(net, dy), MN_ERR_ARG,
                      "run a successful mn_network_forward first");
    /* The network stays usable. */
    ck_assert_ok(mn_network_forward(net, good, &y));
    ck_assert_int_eq(y->shape[1], 3);
    ck_assert_int_eq(mn_network_backward(net, dy_bad), MN_ERR_SHAPE);
    ck_assert_ok(mn_network_backward(net, dy));
    ck_assert_int_eq(mn_network_forward(net, NULL, &y), MN_ERR_ARG);
    ck_assert_int_eq(mn_network_forward(NULL, good, &y), MN_ERR_ARG);
    ck_assert_int_eq(mn_network_backward(net, NULL), MN_ERR_ARG);
    mn_network_destroy(net);

    /* Inside a residual; after a Flatten (features known only at run time). */
    net = tm_network_new(b_residual(), 1);
    ck_assert_int_eq(mn_network_forward(net, good, &y), MN_ERR_SHAPE);
    ck_assert_msg(has("Linear(5←5)"), "message: %s", mn_last_error());
    mn_network_destroy(net);
    net = tm_network_new(b_flatten_linear(), 1);
    mn_tensor *x3 = tm_tensor_new(3, (int64_t[]){3, 2, 2});
    ck_assert_int_eq(mn_network_forward(net, x3, &y), MN_ERR_SHAPE);
    ck_assert_msg(has("Linear(3←6)"), "message: %s", mn_last_error());
    mn_network_destroy(net);

    /* A tuple is not a network output. */
    mn_module *t;
    ck_assert_ok(mn_tuple(&t, 2, (mn_module *[]){linear(4, 4), bond(mn_identity)}));
    net = tm_network_new(t, 1);
    ck_assert_int_eq(mn_network_forward(net, good, &y), MN_ERR_SHAPE);
    mn_network_destroy(net);

    mn_tensor_destroy(bad);
    mn_tensor_destroy(good);
    mn_tensor_destroy(dy);
    mn_tensor_destroy(dy_bad);
    mn_tensor_destroy(x3);
}
END_TEST

/* Careless input to the network (report findings 3, 4, 10): NULL data
 * aborted the process inside BLIS, NULL nets crashed the getters, and dy
 * was checked by element count only. */
START_TEST(test_network_careless_input)
{
    mn_module *mlp;
    ck_assert_ok(mn_mlp(&mlp, 4, 8, 2, 3));
    mn_network *net = tm_network_new(mlp, 1);
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){4, 4}), *dy = tm_tensor_new(2, (int64_t[]){4, 3});
    const mn_tensor *y;
    mn_tensor nodata = *x;
    nodata.data = NULL;
    ck_assert_refused(mn_network_forward(net, &nodata, &y), MN_ERR_ARG,
                      "mn_network_forward: x's data is NULL (a (4, 4) tensor)");
    ck_assert_refused(mn_network_forward(net, x, NULL), MN_ERR_ARG, "y is NULL");
    /* Backward before any forward is a call out of order (MN_ERR_ARG), not a
     * shape mismatch (it said MN_ERR_SHAPE). */
    ck_assert_refused(mn_network_backward(net, dy), MN_ERR_ARG,
                      "mn_network_backward: no output to go back from (run a successful "
                      "mn_network_forward first)");
    ck_assert_ok(mn_network_forward(net, x, &y));
    nodata = *dy;
    nodata.data = NULL;
    ck_assert_refused(mn_network_backward(net, &nodata), MN_ERR_ARG, "dy's data is NULL");
    /* 12 elements, another shape: named with both shapes, not a gemm's */
    mn_tensor *wide = tm_tensor_new(2, (int64_t[]){2, 6});
    ck_assert_refused(mn_network_backward(net, wide), MN_ERR_SHAPE,
                      "mn_network_backward: dy has shape (2, 6), the last output (4, 3)");
    mn_tensor odd = *dy;
    odd.ndim = 9;
    ck_assert_refused(mn_network_backward(net, &odd), MN_ERR_SHAPE, "dy has 9 dimensions");
    ck_assert_ok(mn_network_backward(net, dy));

    /* Behind an element-wise last module the wrong shape ran silently. */
    mn_network *relu = tm_network_new(bond(mn_relu), 1);
    ck_assert_ok(mn_network_forward(relu, dy, &y)); /* (4, 3) */
    mn_tensor *t = tm_tensor_new(2, (int64_t[]){3, 4});
    ck_assert_refused(mn_network_backward(relu, t), MN_ERR_SHAPE, "dy has shape (3, 4)");
    mn_network_destroy(relu);

    /* NULL nets and atoms out of range: network.h's sentinels */
    ck_assert_refused(mn_network_init(NULL, MN_PARAM_MODULAR, 0), MN_ERR_ARG, "net is NULL");
    mn_network_set_threads(NULL, 2);
    ck_assert_int_eq(mn_network_threads(NULL), 0);
    mn_network_zero_grad(NULL);
    ck_assert_ptr_null(mn_network_root(NULL));
    ck_assert_int_eq(mn_network_param_count(NULL), 0);
    ck_assert_ptr_null(mn_network_weights(NULL));
    ck_assert_ptr_null(mn_network_grads(NULL));
    ck_assert_int_eq(mn_network_atom_count(NULL), 0);
    ck_assert_ptr_null(mn_network_atom(NULL, 0));
    ck_assert_ptr_null(mn_network_atom(net, 99));
    float *w = mn_network_weights(net);
    const int bad_atoms[] = {99, 2, -1};
    for (int k = 0; k < 3; k++) {
        mn_mat v = mn_network_atom_view(net, bad_atoms[k], w);
        ck_assert_msg(v.rows == 0 && v.cols == 0 && !v.data, "atom %d", bad_atoms[k]);
    }
    mn_mat v = mn_network_atom_view(net, 0, NULL);
    ck_assert(v.rows == 0 && !v.data);
    v = mn_network_atom_view(NULL, 0, w);
    ck_assert(v.rows == 0 && !v.data);
    v = mn_network_atom_view(net, 1, w);
    ck_assert(v.rows == 3 && v.cols == 8 && v.data == w + 32);
    mn_network_destroy(net);
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_tensor_destroy(wide);
    mn_tensor_destroy(t);
}
END_TEST

/* Careless input to the losses: NULL data crashed, shapes were compared by
 * element count (a transposed dlogits or target gave MN_OK and wrong
 * numbers), and an empty batch had loss 0 with MN_OK. */
START_TEST(test_losses_careless_input)
{
    float z[12] = {1, 2, 3, 0, 0, 0, 2, 1, 0, 3, 3, 3}, t[12] = {0};
    mn_tensor *Z, *D, *Dt, *T, *Tt;
    ck_assert_ok(mn_tensor_wrap(&Z, z, 2, (int64_t[]){4, 3}));
    D = tm_tensor_new(2, (int64_t[]){4, 3});
    Dt = tm_tensor_new(2, (int64_t[]){3, 4});
    ck_assert_ok(mn_tensor_wrap(&T, t, 2, (int64_t[]){4, 3}));
    ck_assert_ok(mn_tensor_wrap(&Tt, t, 2, (int64_t[]){3, 4}));
    const int32_t labels[4] = {2, 0, 0, 1};
    double f = -1;
    mn_tensor nodata = *Z;
    nodata.data = NULL;
    ck_assert_refused(mn_loss_cross_entropy(&nodata, labels, &f, NULL, NULL), MN_ERR_ARG,
                      "cross_entropy: logits's data is NULL");
    ck_assert_refused(mn_loss_cross_entropy(Z, NULL, &f, NULL, NULL), MN_ERR_ARG, "labels is NULL");
    ck_assert_refused(mn_loss_cross_entropy(NULL, labels, &f, NULL, NULL), MN_ERR_ARG,
                      "logits is NULL");
    nodata = *D;
    nodata.data = NULL;
    ck_assert_refused(mn_loss_cross_entropy(Z, labels, &f, &nodata, NULL), MN_ERR_ARG,
                      "dlogits's data is NULL");
    ck_assert_refused(mn_loss_cross_entropy(Z, labels, &f, Dt, NULL), MN_ERR_SHAPE,
                      "cross_entropy: dlogits has shape (3, 4), logits (4, 3)");
    mn_tensor strided = *Z; /* every other row of an (8, 3) */
    strided.stride[0] = 6;
    strided.shape[0] = 2;
    ck_assert_refused(mn_loss_cross_entropy(&strided, labels, &f, NULL, NULL), MN_ERR_SHAPE,
                      "strided");
    /* no rows, no classes: no mean (mn_evaluate refuses n = 0 alike) */
    mn_tensor empty = *Z;
    empty.shape[0] = 0;
    ck_assert_refused(mn_loss_cross_entropy(&empty, labels, &f, NULL, NULL), MN_ERR_ARG,
                      "logits of shape (0, 3) have no rows");
    empty = *Z;
    empty.shape[1] = 0;
    ck_assert_refused(mn_loss_cross_entropy(&empty, labels, &f, NULL, NULL), MN_ERR_ARG,
                      "no classes");
    ck_assert_double_eq(f, -1);
    ck_assert_ok(mn_loss_cross_entropy(Z, labels, &f, D, NULL));

    ck_assert_refused(mn_loss_mse(Z, Tt, &f, NULL), MN_ERR_SHAPE,
                      "mse: target has shape (3, 4), pred (4, 3)");
    ck_assert_refused(mn_loss_mse(Z, T, &f, Dt), MN_ERR_SHAPE, "mse: dpred has shape (3, 4)");
    nodata = *T;
    nodata.data = NULL;
    ck_assert_refused(mn_loss_mse(Z, &nodata, &f, NULL), MN_ERR_ARG, "target's data is NULL");
    ck_assert_refused(mn_loss_mse(Z, T, NULL, NULL), MN_ERR_ARG, "mse: loss is NULL");
    empty = *Z;
    empty.shape[0] = 0;
    mn_tensor empty_t = empty;
    ck_assert_refused(mn_loss_mse(&empty, &empty_t, &f, NULL), MN_ERR_ARG, "no elements");
    ck_assert_ok(mn_loss_mse(Z, T, &f, D));
    mn_tensor_destroy(Z);
    mn_tensor_destroy(D);
    mn_tensor_destroy(Dt);
    mn_tensor_destroy(T);
    mn_tensor_destroy(Tt);
}
END_TEST

START_TEST(test_embed_token_errors)
{
    mn_module *e;
    ck_assert_ok(mn_embed(&e, 6, 3));
    mn_network *net = tm_network_new(e, 1);
    const float bad[] = {6, -1, 1.5f, 5.0001f, NAN, INFINITY, -INFINITY, 1e30f};
    float toks[3] = {0, 1, 2};
    mn_tensor *x;
    ck_assert_ok(mn_tensor_wrap(&x, toks, 1, (int64_t[]){3}));
    const mn_tensor *y;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        toks[1] = bad[i];
        ck_assert_msg(mn_network_forward(net, x, &y) == MN_ERR_ARG, "token %g accepted",
                      (double)bad[i]);
        ck_assert_msg(has("Embed"), "message: %s", mn_last_error());
    }
    toks[1] = 5;
    ck_assert_ok(mn_network_forward(net, x, &y));
    mn_tensor_destroy(x);
    mn_network_destroy(net);
}
END_TEST

START_TEST(test_set_norm_and_mass_errors)
{
    mn_module *L = linear(4, 3);
    const mn_norm *before = mn_module_norm(L);
    ck_assert_str_eq(before->name, "rms-rms");
    ck_assert_int_eq(mn_module_set_norm(L, "l3-l3"), MN_ERR_ARG);
    ck_assert_ptr_eq(mn_module_norm(L), before);
    ck_assert_int_eq(mn_module_set_norm(L, "linf-l1"), MN_ERR_UNSUPPORTED);
    ck_assert_ptr_eq(mn_module_norm(L), before);
    ck_assert_int_eq(mn_module_set_norm(L, NULL), MN_ERR_ARG);
    ck_assert_ptr_eq(mn_module_norm(L), before);
    ck_assert_ok(mn_module_set_norm(L, "frobenius"));
    ck_assert_str_eq(mn_module_norm(L)->name, "frobenius");

    mn_module *r = bond(mn_relu);
    ck_assert_int_eq(mn_module_set_norm(r, "frobenius"), MN_ERR_ARG);
    ck_assert_ptr_null(mn_module_norm(r));
    ck_assert_int_eq(mn_module_set_norm(NULL, "frobenius"), MN_ERR_ARG);

    /* Masses: finite and >= 0; a weightless compound stays at 0. */
    ck_assert_int_eq(mn_module_set_mass(L, -1), MN_ERR_ARG);
    ck_assert_int_eq(mn_module_set_mass(L, NAN), MN_ERR_ARG);
    ck_assert_int_eq(mn_module_set_mass(L, INFINITY), MN_ERR_ARG);
    ck_assert_double_eq(mn_module_mass(L), 1);
    ck_assert_int_eq(mn_module_set_mass(r, 1), MN_ERR_ARG);
    ck_assert_double_eq(mn_module_mass(r), 0);
    mn_module *ln = bond(mn_layer_norm);
    ck_assert_int_eq(mn_module_set_mass(ln, 2), MN_ERR_ARG);
    ck_assert_double_eq(mn_module_mass(ln), 0);
    ck_assert_int_eq(mn_module_set_mass(NULL, 1), MN_ERR_ARG);

    /* The Frobenius norm is what the modular norm now uses for this atom. */
    mn_network *net = tm_network_new(L, 2);
    float *w = mn_network_weights(net);
    double fro = sqrt(dot_f(w, w, 12));
    ck_assert_double_eq_tol(modular_norm(net, w), fro, 1e-6 * fro);
    mn_network_destroy(net);
    mn_module_destroy(r);
    mn_module_destroy(ln);
}
END_TEST

/* A module has one owner: a compound that has it as a child, or a network
 * whose root it is. Every other compound or network refuses it (MN_ERR_ARG,
 * one line) and it stays with its owner; the others a failed constructor was
 * handed are freed as usual (ASan and valgrind see no leak, no double free).
 * Before, both calls returned MN_OK: two networks' atoms pointed into the
 * later one's weights, and destroying both crashed. */
static void assert_belongs(mn_status st, const char *owner)
{
    ck_assert_int_eq(st, MN_ERR_ARG);
    ck_assert_msg(strstr(mn_last_error(), "already belongs to") &&
                      strstr(mn_last_error(), owner) && !strchr(mn_last_error(), '\n'),
                  "%s", mn_last_error());
}

/* Forward through net on a fixed input: y[0]. */
static float first_output(mn_network *net, int64_t d_in)
{
    mn_tensor *x;
    ck_assert_ok(mn_tensor_create(&x, 2, (int64_t[]){2, d_in}));
    for (int64_t i = 0; i < 2 * d_in; i++)
        x->data[i] = (float)(i % 5) - 2;
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(net, x, &y));
    float v = y->data[0];
    mn_tensor_destroy(x);
    return v;
}

START_TEST(test_module_has_one_owner)
{
    /* the same Linear in two sequences */
    mn_module *l = linear(3, 3), *s1 = NULL, *s2 = (mn_module *)&s2;
    ck_assert_ok(mn_sequential(&s1, 1, &l));
    assert_belongs(mn_sequential(&s2, 1, &l), "another compound");
    ck_assert_ptr_null(s2);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "Sequential: child 0 (Linear(3←3))"));
    /* every constructor, with fresh siblings that are freed */
    mn_module *m = (mn_module *)&m;
    assert_belongs(mn_tuple(&m, 2, (mn_module *[]){linear(3, 3), l}), "another compound");
    ck_assert_ptr_null(m);
    assert_belongs(mn_sum(&m, l, linear(3, 3)), "another compound");
    assert_belongs(mn_scale(&m, 2, l), "another compound");
    assert_belongs(mn_power(&m, l, 3), "another compound");
    assert_belongs(mn_sequential(&m, 3, (mn_module *[]){linear(3, 3), l, bond(mn_relu)}),
                   "another compound");
    /* an owned child inside another child of the same call, either order */
    mn_module *inner = linear(3, 3), *outer = tm_seq(1, &inner);
    assert_belongs(mn_sequential(&m, 2, (mn_module *[]){outer, inner}), "another compound");
    inner = linear(3, 3);
    outer = tm_seq(1, &inner);
    assert_belongs(mn_tuple(&m, 2, (mn_module *[]){inner, outer}), "another compound");
    ck_assert_ptr_null(m);
    /* mn_module_destroy leaves a module that belongs to a compound alone */
    mn_module_destroy(l);
    ck_assert_int_eq(mn_module_child(s1, 0) == l, 1);
    /* a copy belongs to nobody */
    mn_module *c = NULL;
    ck_assert_ok(mn_module_clone(l, &c));
    mn_module *s3 = tm_seq(1, &c);
    mn_module_destroy(s3);
    /* a child cannot be a network's root */
    mn_network *a = (mn_network *)&a, *b = (mn_network *)&b;
    assert_belongs(mn_network_create(&b, l, MN_PARAM_MODULAR, 1), "a compound");
    ck_assert_ptr_null(b);

    /* one root, two networks */
    mn_module *mlp;
    ck_assert_ok(mn_mlp(&mlp, 6, 8, 3, 3));
    a = tm_network_new(mlp, 1);
    float before = first_output(a, 6);
    assert_belongs(mn_network_create(&b, mlp, MN_PARAM_MODULAR, 2), "another network");
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "mn_network_create: the root (MLP)"));
    ck_assert_ptr_null(b);
    ck_assert_ptr_eq(mn_module_weights(mn_network_atom(a, 0)), mn_network_weights(a));
    ck_assert_float_eq(first_output(a, 6), before);
    /* a network's root cannot be a child, nor be freed by hand */
    mn_module *root = (mn_module *)mn_network_root(a);
    assert_belongs(mn_sequential(&m, 2, (mn_module *[]){root, bond(mn_relu)}), "a network");
    mn_module_destroy(root);
    /* what takes a root and frees it on failure leaves one that has an owner */
    mn_train_settings ts;
    mn_train_settings_default(&ts);
    ts.opt = "no-such-optimizer";
    mn_solver *solver = NULL;
    ck_assert_int_eq(mn_train_build(root, &ts, 1, &b, &solver), MN_ERR_ARG);
    ts.opt = "sgd";
    assert_belongs(mn_train_build(root, &ts, 1, &b, &solver), "another network");
    ck_assert_ptr_null(b);
    ck_assert_float_eq(first_output(a, 6), before);
    mn_network_destroy(a);

    /* the owner still frees the whole tree */
    mn_network *n1 = tm_network_new(s1, 3);
    ck_assert_int_eq(mn_network_atom_count(n1), 1);
    mn_network_destroy(n1);
}
END_TEST

/* The getters take NULL and answer with module.h's sentinels (they
 * crashed); weight_shape refuses NULL outs with a status. */
START_TEST(test_module_getters_take_null)
{
    ck_assert_ptr_null(mn_module_kind(NULL));
    ck_assert(isnan(mn_module_mass(NULL)));
    ck_assert(isnan(mn_module_sensitivity(NULL)));
    ck_assert(!mn_module_is_atom(NULL));
    ck_assert_int_eq(mn_module_child_count(NULL), 0);
    ck_assert_ptr_null(mn_module_child(NULL, 0));
    ck_assert_int_eq(mn_module_param_count(NULL), 0);
    ck_assert_ptr_null(mn_module_norm(NULL));
    char buf[32] = "x";
    ck_assert_str_eq(mn_module_describe(NULL, buf, sizeof buf), "NULL");
    ck_assert_ptr_null(mn_module_describe(NULL, NULL, 8));
    mn_mat v = mn_tensor_rows(NULL);
    ck_assert(v.rows == 0 && v.cols == 0 && !v.data);

    mn_module *L = linear(4, 3);
    int64_t d_out = -1, d_in = -1;
    ck_assert_refused(mn_module_weight_shape(L, NULL, NULL), MN_ERR_ARG, "d_out is NULL");
    ck_assert_refused(mn_module_weight_shape(L, &d_out, NULL), MN_ERR_ARG, "d_in is NULL");
    ck_assert_refused(mn_module_weight_shape(NULL, &d_out, &d_in), MN_ERR_ARG,
                      "the module is NULL");
    ck_assert(d_out == -1 && d_in == -1);
    ck_assert_ok(mn_module_weight_shape(L, &d_out, &d_in));
    ck_assert(d_out == 4 && d_in == 3);
    mn_module_destroy(L);
}
END_TEST

/* The messages name what the caller passed and called (report finding 11):
 * not "Linear takes 2 arguments, got 2" for NULL args, "needs at least one
 * child, got 2" for a NULL array, or Sequential and Tuple for Scale and Sum. */
START_TEST(test_constructor_messages)
{
    mn_module *m = (mn_module *)&m;
    ck_assert_refused(mn_module_make(&m, "Linear", 2, NULL), MN_ERR_ARG,
                      "mn_module_make: Linear: args is NULL for 2 arguments");
    ck_assert_ptr_null(m);
    ck_assert_refused(mn_sequential(&m, 2, NULL), MN_ERR_ARG,
                      "Sequential: children is NULL (n = 2)");
    ck_assert_refused(mn_sequential(NULL, 2, NULL), MN_ERR_ARG, "Sequential: out is NULL");
    ck_assert_refused(mn_tuple(&m, 0, (mn_module *[]){NULL}), MN_ERR_ARG,
                      "Tuple: needs 1 to 1048576 children, got 0");
    ck_assert_refused(mn_scale(&m, 1, NULL), MN_ERR_ARG, "Scale: child 0 is NULL");
    ck_assert_refused(mn_scale(NULL, 2, linear(3, 3)), MN_ERR_ARG, "Scale: out is NULL");
    ck_assert_refused(mn_sum(&m, NULL, linear(3, 3)), MN_ERR_ARG, "Sum: child 0 is NULL");
    ck_assert_refused(mn_sum_n(&m, 2, NULL), MN_ERR_ARG, "Sum: children is NULL (n = 2)");
    ck_assert_refused(mn_power(&m, NULL, 3), MN_ERR_ARG, "power: the child is NULL");
    ck_assert_refused(mn_layer_norm(NULL), MN_ERR_ARG, "LayerNorm: out is NULL");
    ck_assert_refused(mn_mlp(NULL, 2, 3, 2, 1), MN_ERR_ARG, "mlp: out is NULL");
    ck_assert_ptr_null(m);
}
END_TEST

/* Constructors with bad arguments fail cleanly: an error, no output, and
 * (under valgrind) no leak of the children they were handed. */
START_TEST(test_constructor_errors)
{
    mn_module *m = NULL;
    ck_assert_int_eq(mn_linear(&m, 0, 3), MN_ERR_ARG);
    ck_assert_int_eq(mn_linear(&m, 3, 0), MN_ERR_ARG);
    ck_assert_int_eq(mn_linear(&m, -2, 3), MN_ERR_ARG);
    ck_assert_int_eq(mn_embed(&m, 0, 3), MN_ERR_ARG);
    ck_assert_int_eq(mn_embed(&m, 5, -1), MN_ERR_ARG);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(mn_linear(NULL, 3, 3), MN_ERR_ARG);
    ck_assert_int_eq(mn_mul(&m, NAN), MN_ERR_ARG);
    ck_assert_int_eq(mn_mul(&m, INFINITY), MN_ERR_ARG);
    ck_assert_int_eq(mn_mlp(&m, 4, 8, 0, 3), MN_ERR_ARG);
    ck_assert_int_eq(mn_mlp(&m, 4, 0, 2, 3), MN_ERR_ARG);
    ck_assert_int_eq(mn_mlp(&m, 0, 8, 2, 3), MN_ERR_ARG);
    ck_assert_int_eq(mn_mlp(&m, 4, 8, 2, -3), MN_ERR_ARG);
    ck_assert_ptr_null(m);

    /* Compounds own their children also on failure. */
    ck_assert_int_eq(mn_scale(&m, NAN, linear(3, 3)), MN_ERR_ARG);
    ck_assert_int_eq(mn_power(&m, linear(3, 3), 0), MN_ERR_ARG);
    ck_assert_int_eq(mn_power(&m, linear(3, 3), 5000), MN_ERR_ARG);
    ck_assert_int_eq(mn_sequential(&m, 0, (mn_module *[]){NULL}), MN_ERR_ARG);
    ck_assert_int_eq(mn_sequential(&m, 3, (mn_module *[]){linear(3, 3), NULL, linear(3, 3)}),
                     MN_ERR_ARG);
    ck_assert_int_eq(mn_tuple(&m, 2, (mn_module *[]){NULL, bond(mn_relu)}), MN_ERR_ARG);
    ck_assert_int_eq(mn_sequential(NULL, 2, (mn_module *[]){linear(3, 3), linear(3, 3)}),
                     MN_ERR_ARG);
    ck_assert_int_eq(mn_sum(&m, linear(3, 4), linear(5, 4)), MN_ERR_SHAPE);
    ck_assert_int_eq(mn_power(&m, SEQ(linear(3, 4), bond(mn_relu)), 2), MN_ERR_SHAPE);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(mn_module_clone(NULL, &m), MN_ERR_ARG);

    mn_network *net = (mn_network *)&net;
    ck_assert_int_eq(mn_network_create(&net, NULL, MN_PARAM_MODULAR, 1), MN_ERR_ARG);
    ck_assert_int_eq(mn_network_create(NULL, linear(3, 3), MN_PARAM_MODULAR, 1), MN_ERR_ARG);
    ck_assert_int_eq(mn_network_create(&net, linear(3, 3), (mn_param)7, 1), MN_ERR_ARG);
    ck_assert_ptr_null(net);
}
END_TEST

/* Run fn in a forked child, so that a crash or a memory error in the module
 * under test (an abort from the allocator, SIGFPE, valgrind's or ASan's
 * error exit code) fails the calling test instead of the whole suite, also
 * under CK_FORK=no. The child uses no BLAS (its threads do not survive a
 * fork). Returns fn's exit code, or 128 + the signal. */
static int run_isolated(int (*fn)(void))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(120);
        _exit(fn());
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

static const char *isolated_why(int rc, char *buf, size_t cap)
{
    if (rc > 128)
        snprintf(buf, cap, "killed by signal %d (%s)", rc - 128, strsignal(rc - 128));
    else if (rc == 1)
        snprintf(buf, cap, "exit 1: a memory error reported by valgrind/ASan");
    else
        snprintf(buf, cap, "exit %d: a wrong result", rc);
    return buf;
}

/* Mean on a 1-D tensor (one sample, no positions) passes it through, as its
 * code intends (a 1-D output for a 1-D input). */
static int mean_1d_child(void)
{
    enum { D = 64 };
    mn_module *m;
    mn_network *net;
    if (mn_mean(&m) != MN_OK || mn_network_create(&net, m, MN_PARAM_MODULAR, 1) != MN_OK)
        return 10;
    mn_network_keep_input_grad(net, true);
    mn_tensor *x, *dy;
    if (mn_tensor_create(&x, 1, (int64_t[]){D}) != MN_OK ||
        mn_tensor_create(&dy, 1, (int64_t[]){D}) != MN_OK)
        return 11;
    for (int i = 0; i < D; i++) {
        x->data[i] = (float)i;
        dy->data[i] = (float)(2 * i);
    }
    const mn_tensor *y;
    int rc = 0;
    if (mn_network_forward(net, x, &y) == MN_OK) {
        if (mn_tensor_numel(y) != D)
            rc = 12;
        for (int i = 0; i < D && !rc; i++)
            if (y->data[i] != x->data[i])
                rc = 13;
        if (!rc && mn_network_backward(net, dy) == MN_OK) {
            const mn_tensor *dx = mn_network_input_grad(net);
            if (!dx)
                rc = 15;
            for (int i = 0; i < D && !rc; i++)
                if (dx->data[i] != dy->data[i])
                    rc = 14;
        }
    }
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_network_destroy(net);
    return rc;
}

/* An empty batch (B = 0, input (0, 4, 5)) through one BLAS-free bond,
 * forward and backward: an error or an empty output, never a crash. */
static mn_status (*empty_batch_ctor)(mn_module **);
static int empty_batch_child(void)
{
    mn_module *m;
    mn_network *net;
    if (empty_batch_ctor(&m) != MN_OK || mn_network_create(&net, m, MN_PARAM_MODULAR, 1) != MN_OK)
        return 10;
    mn_tensor *x;
    if (mn_tensor_create(&x, 3, (int64_t[]){0, 4, 5}) != MN_OK)
        return 11;
    const mn_tensor *y;
    int rc = 0;
    if (mn_network_forward(net, x, &y) == MN_OK) {
        if (mn_tensor_numel(y) != 0)
            rc = 12;
        else
            (void)mn_network_backward(net, y);
    }
    mn_tensor_destroy(x);
    mn_network_destroy(net);
    return rc;
}

START_TEST(test_mean_1d_input)
{
    /* Regression: Mean once took B = shape[0] and d = shape[ndim-1] for a 1-D
     * input too, reading and writing D·D elements (heap overflow). */
    char why[128];
    int rc = run_isolated(mean_1d_child);
    ck_assert_msg(rc == 0, "Mean on a 1-D input: %s", isolated_why(rc, why, sizeof why));
}
END_TEST

START_TEST(test_empty_batch)
{
    /* Regression: Mean once computed T = numel / (B·d), an integer division
     * by zero (SIGFPE) for an empty batch. */
    struct {
        mn_status (*ctor)(mn_module **);
        const char *name;
    } bonds[] = {{mn_mean, "Mean"},       {mn_rms_divide, "RMSDivide"},
                 {mn_mean_subtract, "MeanSubtract"}, {mn_layer_norm, "LayerNorm"},
                 {mn_gelu, "GELU"},       {mn_flatten, "Flatten"}};
    char failed[256] = "";
    for (size_t i = 0; i < sizeof bonds / sizeof bonds[0]; i++) {
        empty_batch_ctor = bonds[i].ctor;
        char why[128];
        int rc = run_isolated(empty_batch_child);
        if (rc != 0)
            snprintf(failed + strlen(failed), sizeof failed - strlen(failed), " %s (%s)",
                     bonds[i].name, isolated_why(rc, why, sizeof why));
    }
    /* Linear and a whole MLP, in process. */
    mn_network *net = tm_network_new(deep_mlp(), 1);
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){0, 8});
    const mn_tensor *y;
    if (mn_network_forward(net, x, &y) == MN_OK) {
        ck_assert_int_eq(mn_tensor_numel(y), 0);
        mn_network_zero_grad(net);
        ck_assert_ok(mn_network_backward(net, y));
        for (int64_t i = 0; i < mn_network_param_count(net); i++)
            ck_assert_float_eq(mn_network_grads(net)[i], 0);
        /* a mean over no rows: refused, as mn_evaluate refuses an empty dataset */
        double loss;
        ck_assert_int_eq(mn_loss_cross_entropy(y, (int32_t[]){0}, &loss, NULL, NULL), MN_ERR_ARG);
    }
    mn_tensor_destroy(x);
    mn_network_destroy(net);
    ck_assert_msg(failed[0] == 0, "empty batch crashed in:%s", failed);
}
END_TEST

/* ========================================================================
 * 6. Determinism and independent copies
 * ======================================================================== */

START_TEST(test_determinism)
{
    mn_network *a = tm_network_new(deep_mlp(), 42), *b = tm_network_new(deep_mlp(), 42),
               *c = tm_network_new(deep_mlp(), 43);
    int64_t np = mn_network_param_count(a);
    ck_assert_int_eq(np, 8 * 16 + 16 * 16 * 2 + 16 * 5);
    ck_assert_int_eq(memcmp(mn_network_weights(a), mn_network_weights(b), (size_t)np * 4), 0);
    int64_t same = 0;
    for (int64_t i = 0; i < np; i++)
        same += mn_network_weights(a)[i] == mn_network_weights(c)[i];
    ck_assert_int_lt(same, np / 100);

    mn_tensor *x = tm_tensor_new(2, (int64_t[]){7, 8});
    mn_rng r;
    mn_rng_seed(&r, 1);
    tm_fill_normal(x, &r, 1.0);
    const mn_tensor *ya, *yb, *yc;
    ck_assert_ok(mn_network_forward(a, x, &ya));
    ck_assert_ok(mn_network_forward(b, x, &yb));
    ck_assert_ok(mn_network_forward(c, x, &yc));
    ck_assert_int_eq(memcmp(ya->data, yb->data, 35 * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(ya->data, yc->data, 35 * sizeof(float)), 0);

    /* Re-initializing with the same seed restores the same weights. */
    float *saved = malloc((size_t)np * sizeof *saved);
    ck_assert_ptr_nonnull(saved);
    memcpy(saved, mn_network_weights(a), (size_t)np * sizeof *saved);
    for (int64_t i = 0; i < np; i++)
        mn_network_weights(a)[i] += 1;
    ck_assert_ok(mn_network_init(a, MN_PARAM_MODULAR, 42));
    ck_assert_int_eq(memcmp(saved, mn_network_weights(a), (size_t)np * 4), 0);
    /* SP: PyTorch's U(−1/√d_in, 1/√d_in), different from modular. */
    ck_assert_ok(mn_network_init(a, MN_PARAM_SP, 42));
    ck_assert_int_ne(memcmp(saved, mn_network_weights(a), (size_t)np * 4), 0);
    for (int k = 0; k < mn_network_atom_count(a); k++) {
        mn_mat v = mn_network_atom_view(a, k, mn_network_weights(a));
        double bound = 1 / sqrt((double)v.cols);
        for (int64_t i = 0; i < v.rows; i++)
            for (int64_t j = 0; j < v.cols; j++)
                ck_assert_double_le(fabs(mn_mat_get(&v, i, j)), bound);
    }
    free(saved);

    /* Each atom draws from its own stream: a deeper MLP starts with the
     * same first layer. */
    mn_module *m2;
    ck_assert_ok(mn_mlp(&m2, 8, 16, 2, 5));
    mn_network *d = tm_network_new(m2, 42);
    ck_assert_int_eq(memcmp(mn_network_weights(b), mn_network_weights(d), 8 * 16 * 4), 0);
    mn_network_destroy(d);

    mn_tensor_destroy(x);
    mn_network_destroy(a);
    mn_network_destroy(b);
    mn_network_destroy(c);
}
END_TEST

static int64_t count_equal(const float *a, const float *b, int64_t n)
{
    int64_t s = 0;
    for (int64_t i = 0; i < n; i++)
        s += a[i] == b[i];
    return s;
}

START_TEST(test_clone_and_power_are_independent)
{
    /* A clone keeps kind, shape, mass and norm, and gets its own weights. */
    mn_module *L = linear(5, 5);
    ck_assert_ok(mn_module_set_mass(L, 2));
    ck_assert_ok(mn_module_set_norm(L, "frobenius"));
    mn_module *C;
    ck_assert_ok(mn_module_clone(L, &C));
    ck_assert_ptr_ne(C, L);
    ck_assert_str_eq(mn_module_kind(C), "Linear");
    ck_assert_double_eq(mn_module_mass(C), 2);
    ck_assert_ptr_eq(mn_module_norm(C), mn_module_norm(L));
    int64_t o, i;
    ck_assert_ok(mn_module_weight_shape(C, &o, &i));
    ck_assert_int_eq(o, 5);
    ck_assert_int_eq(i, 5);
    mn_network *net = tm_network_new(SEQ(L, C), 5);
    ck_assert_int_eq(mn_network_param_count(net), 50);
    ck_assert_int_eq(mn_network_atom_count(net), 2);
    const float *w = mn_network_weights(net);
    ck_assert_int_eq(count_equal(w, w + 25, 25), 0);
    mn_network_destroy(net);

    /* Cloning a compound keeps bonds' scalars and tares. */
    mn_module *S = SEQ(linear(4, 4), mul(-0.7), linear(4, 4));
    ck_assert_ok(mn_module_set_mass(S, 5));
    ck_assert_ok(mn_module_clone(S, &C));
    ck_assert_double_eq(mn_module_mass(C), 5);
    ck_assert_double_eq(mn_module_sensitivity(C), 0.7);
    char buf[64];
    ck_assert_str_eq(mn_module_describe(mn_module_child(C, 1), buf, sizeof buf), "Mul(-0.7)");
    mn_module_destroy(S);
    mn_module_destroy(C);

    /* power(k): k times the parameters, k different initial weights, each
     * on its own unit sphere. */
    const int k = 4;
    mn_module *p = power(SEQ(linear(6, 6), bond(mn_gelu)), k);
    ck_assert_int_eq(mn_module_param_count(p), k * 36);
    net = tm_network_new(p, 9);
    ck_assert_int_eq(mn_network_param_count(net), k * 36);
    ck_assert_int_eq(mn_network_atom_count(net), k);
    w = mn_network_weights(net);
    for (int a = 0; a < k; a++) {
        ck_assert_double_eq_tol(atom_norm(net, a, (float *)w), 1, 1e-5);
        for (int b = a + 1; b < k; b++)
            ck_assert_int_eq(count_equal(w + 36 * a, w + 36 * b, 36), 0);
    }
    /* Their gradients are separate too: a change of one copy's weights is
     * not a change of another's (the FD test on power checks the values). */
    mn_network_destroy(net);
}
END_TEST

/* ---- the public visitor (mn_network_visit) ------------------------------ */

#define VISIT_MAX 16
typedef struct visit_log {
    int n, stop_at;
    mn_status stop_with;
    bool set_message;
    mn_module_visit v[VISIT_MAX];
    const mn_tensor *out[VISIT_MAX][2];
} visit_log;

static mn_status log_visit(void *ctx, const mn_module_visit *v)
{
    visit_log *l = ctx;
    ck_assert_int_lt(l->n, VISIT_MAX);
    ck_assert_int_le(v->n_outputs, 2);
    l->v[l->n] = *v;
    for (int k = 0; k < v->n_outputs; k++)
        l->out[l->n][k] = v->outputs[k];
    if (v->n_outputs == 0)
        ck_assert_ptr_null(v->outputs);
    if (l->n++ == l->stop_at) {
        if (l->set_message)
            mn_module_set_mass(NULL, 1); /* leaves "set_mass: module is NULL" */
        return l->stop_with;
    }
    return MN_OK;
}

/* y = x Wᵀ with W atom k's weights, in double. */
static void ref_linear(mn_network *net, int k, const double *x, int64_t B, double *y)
{
    mn_mat W = mn_network_atom_view(net, k, mn_network_weights(net));
    for (int64_t b = 0; b < B; b++)
        for (int64_t o = 0; o < W.rows; o++) {
            double s = 0;
            for (int64_t i = 0; i < W.cols; i++)
                s += x[b * W.cols + i] * mn_mat_get(&W, o, i);
            y[b * W.rows + o] = s;
        }
}

static void assert_tensor_near(const mn_tensor *t, const double *ref, int64_t B, int64_t d)
{
    ck_assert_int_eq(t->ndim, 2);
    ck_assert_int_eq(t->shape[0], B);
    ck_assert_int_eq(t->shape[1], d);
    for (int64_t i = 0; i < B * d; i++)
        ck_assert_msg(fabs(t->data[i] - ref[i]) <= 1e-5 * (1 + fabs(ref[i])),
                      "element %lld: %.9g, reference %.9g", (long long)i, t->data[i], ref[i]);
}

/* Order, depth, atom index and the outputs of every module, against a
 * forward computed here from the weights; stopping; NULL arguments. */
START_TEST(test_visit_tree_and_outputs)
{
    /* Identity, Linear(4←3), ReLU, Sum(Linear(2←4), Seq(Linear(2←4), Abs)), Mul(-2). */
    mn_module *root = SEQ(bond(mn_identity), linear(4, 3), bond(mn_relu),
                          sum(linear(2, 4), SEQ(linear(2, 4), bond(mn_abs))), mul(-2));
    mn_network *net = tm_network_new(root, 5);
    static const struct { const char *kind; int depth, atom, children; } want[] = {
        {"Sequential", 0, -1, 5}, {"Identity", 1, -1, 0}, {"Linear", 1, 0, 0},
        {"ReLU", 1, -1, 0},       {"Sum", 1, -1, 2},      {"Tuple", 2, -1, 2},
        {"Linear", 3, 1, 0},      {"Sequential", 3, -1, 2}, {"Linear", 4, 2, 0},
        {"Abs", 4, -1, 0},        {"Add", 2, -1, 0},      {"Mul", 1, -1, 0}};
    const int n_want = (int)(sizeof want / sizeof want[0]);

    /* Before any forward: the tree, and no outputs. */
    visit_log l = {.stop_at = -1};
    ck_assert_ok(mn_network_visit(net, log_visit, &l));
    ck_assert_int_eq(l.n, n_want);
    for (int i = 0; i < n_want; i++) {
        ck_assert_int_eq(l.v[i].index, i);
        ck_assert_str_eq(mn_module_kind(l.v[i].module), want[i].kind);
        ck_assert_int_eq(l.v[i].depth, want[i].depth);
        ck_assert_int_eq(l.v[i].atom, want[i].atom);
        ck_assert_int_eq(mn_module_child_count(l.v[i].module), want[i].children);
        ck_assert_int_eq(l.v[i].n_outputs, 0);
        if (want[i].atom >= 0)
            ck_assert_ptr_eq(l.v[i].module, mn_network_atom(net, want[i].atom));
    }
    ck_assert_ptr_eq(l.v[0].module, mn_network_root(net));

    /* Two forwards with different inputs: the outputs are the last one's. */
    const int64_t B = 3;
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){B, 3});
    mn_rng r;
    mn_rng_seed(&r, 11);
    for (int pass = 0; pass < 2; pass++) {
        tm_fill_normal(x, &r, 1);
        const mn_tensor *y;
        ck_assert_ok(mn_network_forward(net, x, &y));
        l = (visit_log){.stop_at = -1};
        ck_assert_ok(mn_network_visit(net, log_visit, &l));
        ck_assert_int_eq(l.n, n_want);

        double xd[9], h1[12], h2[12], h3[6], h4[6], h5[6], add[6], out[6];
        for (int i = 0; i < 9; i++)
            xd[i] = x->data[i];
        ref_linear(net, 0, xd, B, h1);
        for (int i = 0; i < 12; i++)
            h2[i] = h1[i] > 0 ? h1[i] : 0;
        ref_linear(net, 1, h2, B, h3);
        ref_linear(net, 2, h2, B, h4);
        for (int i = 0; i < 6; i++) {
            h5[i] = fabs(h4[i]);
            add[i] = h3[i] + h5[i];
            out[i] = -2 * add[i];
        }
        /* Leaves: one output each, equal to the reference. */
        for (int i = 0; i < n_want; i++)
            if (want[i].children == 0)
                ck_assert_int_eq(l.v[i].n_outputs, 1);
        ck_assert_ptr_eq(l.out[1][0], x); /* Identity borrows the input */
        assert_tensor_near(l.out[2][0], h1, B, 4);
        assert_tensor_near(l.out[3][0], h2, B, 4);
        assert_tensor_near(l.out[6][0], h3, B, 2);
        assert_tensor_near(l.out[8][0], h4, B, 2);
        assert_tensor_near(l.out[9][0], h5, B, 2);
        assert_tensor_near(l.out[10][0], add, B, 2);
        assert_tensor_near(l.out[11][0], out, B, 2);
        /* Compounds: a sequential's is its last child's, a tuple's its children's. */
        ck_assert_int_eq(l.v[0].n_outputs, 1);
        ck_assert_ptr_eq(l.out[0][0], y);
        ck_assert_ptr_eq(l.out[0][0], l.out[11][0]);
        ck_assert_ptr_eq(l.out[4][0], l.out[10][0]);
        ck_assert_ptr_eq(l.out[7][0], l.out[9][0]);
        ck_assert_int_eq(l.v[5].n_outputs, 2);
        ck_assert_ptr_eq(l.out[5][0], l.out[6][0]);
        ck_assert_ptr_eq(l.out[5][1], l.out[9][0]);
    }

    /* A callback that stops: the walk ends there with its status, and its
     * message stays; without a message the walk names the module. */
    l = (visit_log){.stop_at = 4, .stop_with = MN_ERR_NUMERIC, .set_message = true};
    ck_assert_int_eq(mn_network_visit(net, log_visit, &l), MN_ERR_NUMERIC);
    ck_assert_int_eq(l.n, 5);
    ck_assert_str_eq(mn_last_error(), "set_mass: module is NULL");
    l = (visit_log){.stop_at = 4, .stop_with = MN_ERR_UNSUPPORTED};
    ck_assert_int_eq(mn_network_visit(net, log_visit, &l), MN_ERR_UNSUPPORTED);
    ck_assert_int_eq(l.n, 5);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "module 4 (Sum)"));

    ck_assert_int_eq(mn_network_visit(NULL, log_visit, &l), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "net"));
    ck_assert_int_eq(mn_network_visit(net, NULL, &l), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "visitor"));
    mn_tensor_destroy(x);
    mn_network_destroy(net);
}
END_TEST

/* ========================================================================
 * 7. Kinds of one's own, the registry of kinds, the network's memory
 * ======================================================================== */

static mn_status no_backward_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    memcpy(c->out->data, c->in[0]->data, (size_t)mn_tensor_numel(c->out) * sizeof(float));
    return MN_OK;
}

static mn_status unit_init(mn_module *m, mn_rng *rng, mn_param param)
{
    (void)m;
    (void)rng;
    (void)param;
    return MN_OK;
}

/* A features() that doubles the width (its kind has no plan to match). */
static mn_status doubling_features(const mn_module *m, int n, const int64_t *in, int64_t *out)
{
    (void)m;
    *out = n > 0 && in[0] >= 0 ? 2 * in[0] : -1;
    return MN_OK;
}

START_TEST(test_custom_kinds)
{
    /* A tuple's children may differ in width where the reader accepts it;
     * Add does not, and the message names both branches. */
    mn_module *m = NULL;
    ck_assert_int_eq(mn_sequential(&m, 2, (mn_module *[]){TUPLE(linear(3, 5), linear(4, 5)),
                                                           bond(mn_add)}),
                     MN_ERR_SHAPE);
    ck_assert_msg(has("Linear(3←5)") && has("Linear(4←5)") && has("Add"), "message: %s",
                  mn_last_error());
    ck_assert_int_eq(mn_sequential(&m, 3, (mn_module *[]){TUPLE(linear(3, 5), linear(4, 5)),
                                                           concat(), linear(2, 8)}),
                     MN_ERR_SHAPE);
    ck_assert_msg(has("Linear(2←8)") && has("Concat") && has("7"), "message: %s",
                  mn_last_error());
    /* Linear takes one input, not a pair. */
    ck_assert_int_eq(mn_sequential(&m, 2, (mn_module *[]){TUPLE(linear(3, 5), linear(3, 5)),
                                                           linear(2, 3)}),
                     MN_ERR_SHAPE);
    ck_assert_msg(has("takes 1 input, got 2"), "message: %s", mn_last_error());

    /* State: a clone deep-copies it (ops->clone), destroy releases each once. */
    poly_destroyed = 0;
    mn_module *p = poly(), *c;
    ck_assert_double_eq_tol(mn_module_sensitivity(p), 1 + 2 * 0.5 + 3 * 0.1, 1e-15);
    ck_assert_ok(mn_module_clone(p, &c));
    const poly_state *ps = mn_module_state(p), *cs = mn_module_state(c);
    ck_assert_ptr_ne(ps, cs);
    ck_assert_ptr_ne(ps->c, cs->c);
    ck_assert_int_eq(cs->n, 4);
    ck_assert_mem_eq(ps->c, cs->c, 4 * sizeof(double));
    ck_assert_ptr_eq(mn_module_ops_of(c), &poly_ops);
    ck_assert_double_eq(mn_module_sensitivity(c), mn_module_sensitivity(p));
    char a[128], b[128];
    ck_assert_ok(mn_module_print(c, b, sizeof b));
    ck_assert_str_eq(b, "Poly(0, 1, 0.5, -0.1)");
    ck_assert_str_eq(mn_module_describe(c, a, sizeof a), "Poly(0, 1, 0.5, -0.1)");
    mn_module_destroy(c);
    ck_assert_int_eq(poly_destroyed, 1);
    mn_module *pw = power(p, 3); /* two clones */
    mn_module_destroy(pw);
    ck_assert_int_eq(poly_destroyed, 4);

    /* An atom of one's own: on its norm's unit sphere like Linear, its
     * weights inside the network's buffer. */
    mn_module *my = mylinear(6, 9);
    ck_assert(mn_module_is_atom(my));
    ck_assert_ptr_null(mn_module_weights(my));
    ck_assert_ptr_null(mn_module_state(my));
    ck_assert_str_eq(mn_module_describe(my, a, sizeof a), "MyLinear(6←9)");
    mn_network *net = tm_network_new(SEQ(linear(6, 9), my), 3);
    ck_assert_ptr_eq(mn_module_weights(my), mn_network_weights(net) + 54);
    ck_assert_ptr_eq(mn_module_grads(my), mn_network_grads(net) + 54);
    ck_assert_double_eq_tol(atom_norm(net, 1, mn_network_weights(net)), 1, 1e-5);
    ck_assert_ptr_null(mn_module_ops_of(mn_network_root(net))); /* a compound */
    mn_network_destroy(net);

    /* A kind without backward is refused where a gradient must pass it. */
    static const mn_module_ops no_bw = {.kind = "NoBackward", .forward = no_backward_forward};
    mn_module *nb;
    ck_assert_ok(mn_bond_create(&nb, &no_bw, NULL, 1));
    net = tm_network_new(SEQ(linear(3, 3), nb), 1);
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){2, 3});
    const mn_tensor *y;
    ck_assert_int_eq(mn_network_forward(net, x, &y), MN_ERR_ARG);
    ck_assert_msg(has("NoBackward") && has("no backward"), "message: %s", mn_last_error());
    mn_network_destroy(net);
    /* ... and accepted where none needs to (it reads the data, no weights before it). */
    ck_assert_ok(mn_bond_create(&nb, &no_bw, NULL, 1));
    net = tm_network_new(SEQ(nb, linear(3, 3)), 1);
    ck_assert_ok(mn_network_forward(net, x, &y));
    mn_tensor *dy = tm_tensor_new(2, (int64_t[]){2, 3});
    ck_assert_ok(mn_network_backward(net, dy));
    mn_network_destroy(net);
    mn_tensor_destroy(dy);

    /* A kind whose features() doubles the width but whose plan (here none:
     * input 0's shape) does not is refused at the first forward, naming it,
     * last in the network too (its forward would write past its output). */
    static const mn_module_ops doubler = {.kind = "Doubler", .features = doubling_features,
                                          .forward = no_backward_forward};
    for (int last = 0; last < 2; last++) {
        ck_assert_ok(mn_bond_create(&nb, &doubler, NULL, 1));
        mn_module *lin = linear(6, 3);
        net = tm_network_new(last ? SEQ(linear(3, 3), nb) : SEQ(nb, lin), 1);
        if (last)
            mn_module_destroy(lin);
        ck_assert_int_eq(mn_network_forward(net, x, &y), MN_ERR_ARG);
        ck_assert_msg(has("Doubler") && has("3 features where its features() gives 6"),
                      "message: %s", mn_last_error());
        mn_network_destroy(net);
    }
    mn_tensor_destroy(x);

    /* Malformed kinds and arguments are refused by the constructors. */
    mn_module_ops bad = no_bw;
    ck_assert_int_eq(mn_bond_create(&m, NULL, NULL, 1), MN_ERR_ARG);
    bad.kind = "3x";
    ck_assert_int_eq(mn_bond_create(&m, &bad, NULL, 1), MN_ERR_ARG);
    ck_assert_msg(has("identifier"), "message: %s", mn_last_error());
    bad.kind = "Ok";
    ck_assert_int_eq(mn_bond_create(&m, &bad, NULL, -1), MN_ERR_ARG);
    ck_assert_int_eq(mn_bond_create(&m, &bad, NULL, NAN), MN_ERR_ARG);
    bad.arity = -2;
    ck_assert_int_eq(mn_bond_create(&m, &bad, NULL, 1), MN_ERR_ARG);
    bad.arity = 1;
    bad.init = unit_init;
    ck_assert_int_eq(mn_bond_create(&m, &bad, NULL, 1), MN_ERR_ARG);
    ck_assert_msg(has("mn_atom_create"), "message: %s", mn_last_error());
    const mn_norm *fro;
    ck_assert_ok(mn_norm_lookup("frobenius", &fro));
    ck_assert_int_eq(mn_atom_create(&m, &bad, NULL, 3, 0, fro, 1), MN_ERR_ARG);
    ck_assert_int_eq(mn_atom_create(&m, &bad, NULL, 3, 3, NULL, 1), MN_ERR_ARG);
    bad.init = NULL;
    ck_assert_int_eq(mn_atom_create(&m, &bad, NULL, 3, 3, fro, 1), MN_ERR_ARG);
    ck_assert_msg(has("no init"), "message: %s", mn_last_error());
    ck_assert_ptr_null(m);
}
END_TEST

/* Every built-in kind prints in its text form, and the text builds it back. */
START_TEST(test_kind_registry_and_text)
{
    static const struct {
        const char *kind;
        int argc;
        double args[2];
        const char *text;
    } built_in[] = {
        {"Linear", 2, {3, 4}, "Linear(3, 4)"}, {"Embed", 2, {10, 4}, "Embed(10, 4)"},
        {"Identity", 0, {0}, "Identity"},      {"ReLU", 0, {0}, "ReLU"},
        {"GELU", 0, {0}, "GELU"},              {"Abs", 0, {0}, "Abs"},
        {"Mul", 1, {-0.7}, "Mul(-0.7)"},       {"Add", 0, {0}, "Add"},
        {"Flatten", 0, {0}, "Flatten"},        {"Mean", 0, {0}, "Mean"},
        {"MeanSubtract", 0, {0}, "MeanSubtract"}, {"RMSDivide", 0, {0}, "RMSDivide"},
        {"LayerNorm", 0, {0}, NULL},
    };
    const size_t n_built_in = sizeof built_in / sizeof built_in[0];
    ck_assert_uint_ge(mn_module_maker_count(), n_built_in);
    for (size_t i = 0; i < n_built_in; i++) {
        ck_assert_str_eq(mn_module_maker_at(i)->kind, built_in[i].kind);
        ck_assert_ptr_nonnull(strstr(mn_module_kind_names(), built_in[i].kind));
        mn_module *m, *again;
        ck_assert_ok(mn_module_make(&m, built_in[i].kind, built_in[i].argc, built_in[i].args));
        ck_assert_str_eq(mn_module_kind(m), built_in[i].kind);
        char text[64], back[64];
        if (!built_in[i].text) { /* a compound: the graph language prints those */
            ck_assert_int_eq(mn_module_print(m, text, sizeof text), MN_ERR_UNSUPPORTED);
            mn_module_destroy(m);
            continue;
        }
        ck_assert_ok(mn_module_print(m, text, sizeof text));
        ck_assert_str_eq(text, built_in[i].text);
        ck_assert_ok(mn_module_parse(&again, text));
        ck_assert_ok(mn_module_print(again, back, sizeof back));
        ck_assert_str_eq(back, text);
        ck_assert_double_eq(mn_module_sensitivity(again), mn_module_sensitivity(m));
        ck_assert_double_eq(mn_module_mass(again), mn_module_mass(m));
        mn_module_destroy(m);
        mn_module_destroy(again);
    }
    /* Numbers read back exactly. */
    mn_module *m;
    char text[64];
    const double thirds = 1.0 / 3;
    ck_assert_ok(mn_module_make(&m, "Mul", 1, &thirds));
    ck_assert_ok(mn_module_print(m, text, sizeof text));
    mn_module_destroy(m);
    ck_assert_ok(mn_module_parse(&m, text));
    ck_assert_double_eq(mn_module_sensitivity(m), thirds);
    ck_assert_int_eq(mn_module_print(m, text, 5), MN_ERR_ARG); /* too small a buffer */
    mn_module_destroy(m);
    ck_assert_ok(mn_module_parse(&m, "  Linear ( 3 ,4 )  "));
    ck_assert_ok(mn_module_print(m, text, sizeof text));
    ck_assert_str_eq(text, "Linear(3, 4)");
    mn_module_destroy(m);
    ck_assert_ok(mn_module_parse(&m, "ReLU()"));
    mn_module_destroy(m);

    /* Wrong kinds, counts, values and syntax. */
    static const struct {
        const char *text;
        mn_status st;
        const char *why;
    } bad[] = {
        {"Foo(1)", MN_ERR_ARG, "unknown module kind 'Foo'"},
        {"Linear(3)", MN_ERR_ARG, "takes 2 arguments"},
        {"Linear(2.5, 3)", MN_ERR_ARG, "not a positive integer"},
        {"Linear(0, 3)", MN_ERR_ARG, "not a positive integer"},
        {"Mul(inf)", MN_ERR_ARG, "not finite"},
        {"ReLU(1)", MN_ERR_ARG, "takes 0 arguments"},
        {"Linear(3,)", MN_ERR_FORMAT, "expected a number"},
        {"Linear(3 4)", MN_ERR_FORMAT, "expected ',' or ')'"},
        {"Linear(3, 4", MN_ERR_FORMAT, "expected ',' or ')'"},
        {"ReLU x", MN_ERR_FORMAT, "unexpected 'x'"},
        {"", MN_ERR_FORMAT, "expected a kind name"},
        {"(ReLU)", MN_ERR_FORMAT, "expected a kind name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = (mn_module *)&m;
        ck_assert_msg(mn_module_parse(&m, bad[i].text) == bad[i].st, "'%s': %s", bad[i].text,
                      mn_last_error());
        ck_assert_ptr_null(m);
        ck_assert_msg(has(bad[i].why), "'%s': %s", bad[i].text, mn_last_error());
    }

    /* A kind the program registers is known by name from then on. */
    size_t before = mn_module_maker_count();
    ck_assert_int_eq(mn_module_parse(&m, "Poly(0, 1, 0.5)"), MN_ERR_ARG);
    ck_assert_ok(mn_module_register(&poly_maker));
    ck_assert_uint_eq(mn_module_maker_count(), before + 1);
    const mn_module_maker *mk;
    ck_assert_ok(mn_module_lookup("Poly", &mk));
    ck_assert_ptr_eq(mk, &poly_maker);
    ck_assert_ptr_nonnull(strstr(mn_module_kind_names(), "Poly"));
    ck_assert_ok(mn_module_parse(&m, "Poly(0, 1, 0.5)"));
    ck_assert_ok(mn_module_print(m, text, sizeof text));
    ck_assert_str_eq(text, "Poly(0, 1, 0.5)");
    mn_module_destroy(m);
    ck_assert_int_eq(mn_module_parse(&m, "Poly(1, 2, 3, 4, 5, 6, 7, 8, 9)"), MN_ERR_ARG);
    ck_assert_msg(has("takes 1 to 8 arguments"), "message: %s", mn_last_error());
    ck_assert_int_eq(mn_module_register(&poly_maker), MN_ERR_ARG);
    ck_assert_msg(has("already registered"), "message: %s", mn_last_error());
    mn_module_maker bad_maker = poly_maker;
    bad_maker.kind = "Linear";
    ck_assert_int_eq(mn_module_register(&bad_maker), MN_ERR_ARG);
    bad_maker.kind = "two words";
    ck_assert_int_eq(mn_module_register(&bad_maker), MN_ERR_ARG);
    bad_maker.kind = "Fine";
    bad_maker.min_args = 3;
    bad_maker.max_args = 2;
    ck_assert_int_eq(mn_module_register(&bad_maker), MN_ERR_ARG);
    bad_maker.min_args = 0;
    bad_maker.make = NULL;
    ck_assert_int_eq(mn_module_register(&bad_maker), MN_ERR_ARG);
    ck_assert_int_eq(mn_module_register(NULL), MN_ERR_ARG);
    ck_assert_uint_eq(mn_module_maker_count(), before + 1);
}
END_TEST

/* Allocations the library makes while `counting` is set: this executable's
 * malloc family forwards to glibc's and counts the calls made from this
 * executable's code, which holds the library (linked statically here); the
 * shared libraries' own (libgomp allocates a thread team at every BLIS call)
 * are not the library's to avoid. Not under ASan, which brings its own
 * allocator (the pointer checks below still run there). */
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define COUNTS_ALLOCATIONS 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static volatile int counting;
static long allocations;
extern const char __executable_start[], etext[]; /* this executable's code (GNU ld) */
#define COUNT()                                                                                    \
    do {                                                                                           \
        const char *from = __builtin_return_address(0);                                            \
        if (counting && from >= __executable_start && from < etext)                                \
            __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);                                 \
    } while (0)
void *malloc(size_t n)
{
    COUNT();
    return __libc_malloc(n);
}
void *calloc(size_t k, size_t n)
{
    COUNT();
    return __libc_calloc(k, n);
}
void *realloc(void *p, size_t n)
{
    COUNT();
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t a, size_t n)
{
    COUNT();
    return __libc_memalign(a, n);
}
void *memalign(size_t a, size_t n)
{
    COUNT();
    return __libc_memalign(a, n);
}
int posix_memalign(void **p, size_t a, size_t n)
{
    COUNT();
    *p = __libc_memalign(a, n);
    return *p || !n ? 0 : 12; /* ENOMEM */
}
#else
#define COUNTS_ALLOCATIONS 0
static volatile int counting;
static long allocations;
#endif

static mn_module *embedless_mean(void) { return bond(mn_mean); }

typedef struct out_ptrs {
    int n;
    const float *data[64];
} out_ptrs;

static mn_status record_outputs(void *ctx, const mn_module_visit *v)
{
    out_ptrs *o = ctx;
    for (int k = 0; k < v->n_outputs && o->n < 64; k++)
        o->data[o->n++] = v->outputs[k]->data;
    return MN_OK;
}

/* The network owns every activation and reuses it: outputs stay where they
 * were from step to step, a smaller batch after a larger one fits the
 * memory already there, and forward, loss and backward allocate nothing once
 * the shapes were seen (counted where the allocator can be, see above). */
START_TEST(test_activation_memory_is_the_networks)
{
    mn_module *root = SEQ(linear(16, 8), bond(mn_layer_norm), bond(mn_gelu),
                          sum(bond(mn_identity), linear(16, 16)), embedless_mean(),
                          linear(5, 16));
    mn_network *net = tm_network_new(root, 4);
    mn_network_keep_input_grad(net, true);
    mn_tensor *big = tm_tensor_new(3, (int64_t[]){32, 3, 8}),
              *x = tm_tensor_new(3, (int64_t[]){6, 3, 8});
    mn_tensor *dy = tm_tensor_new(2, (int64_t[]){6, 5});
    int32_t labels[6] = {0, 1, 2, 3, 4, 0};
    mn_rng r;
    mn_rng_seed(&r, 2);
    tm_fill_normal(big, &r, 1);
    tm_fill_normal(x, &r, 1);
    const mn_tensor *y;
    out_ptrs first = {0}, later;
    const float *dx_first = NULL;
    for (int step = 0; step < 6; step++) {
        if (step > 2)
            counting = 1;
        mn_status st = mn_network_forward(net, step == 1 ? big : x, &y);
        counting = 0;
        ck_assert_ok(st);
        if (step == 1)
            continue; /* the larger batch grows the memory once */
        later = (out_ptrs){0};
        ck_assert_ok(mn_network_visit(net, record_outputs, &later));
        double loss;
        counting = step > 2;
        mn_network_zero_grad(net);
        st = mn_loss_cross_entropy(y, labels, &loss, dy, NULL);
        if (st == MN_OK)
            st = mn_network_backward(net, dy);
        counting = 0;
        ck_assert_ok(st);
        const mn_tensor *dx = mn_network_input_grad(net);
        ck_assert_ptr_nonnull(dx);
        if (step == 2) { /* after the larger batch: the layout every later step keeps */
            first = later;
            dx_first = dx->data;
        }
        if (step > 2) {
            ck_assert_int_eq(later.n, first.n);
            for (int i = 0; i < first.n; i++)
                ck_assert_ptr_eq(later.data[i], first.data[i]);
            ck_assert_ptr_eq(dx->data, dx_first);
        }
        /* a step of the weights between, as training does */
        float *w = mn_network_weights(net);
        for (int64_t i = 0; i < mn_network_param_count(net); i++)
            w[i] -= 1e-3f * mn_network_grads(net)[i];
    }
    ck_assert_int_gt(first.n, 8);
    ck_assert_msg(allocations == 0, "%ld allocations in three steps of forward, loss and backward",
                  allocations);
    if (verbose())
        printf("  allocations counted: %s\n", COUNTS_ALLOCATIONS ? "yes" : "no (ASan)");
    mn_tensor_destroy(big);
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_network_destroy(net);
}
END_TEST

/* Under ASan a failed huge allocation returns NULL, as glibc's does,
 * instead of aborting: the library's out-of-memory paths are what is tested. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* A network too big to allocate fails with MN_ERR_NOMEM and a message with
 * the true parameter count (it was read from the freed network once). */
START_TEST(test_network_too_big)
{
    mn_module *lin;
    ck_assert_ok(mn_linear(&lin, 1000000, 2000000)); /* 2e12 floats: 8 TB */
    mn_network *net = NULL;
    ck_assert_int_eq(mn_network_create(&net, lin, MN_PARAM_MODULAR, 1), MN_ERR_NOMEM);
    ck_assert_ptr_null(net);
    ck_assert_msg(strstr(mn_last_error(), "cannot allocate 2000000000000 parameters"), "%s",
                  mn_last_error());
}
END_TEST

/* The GPT of examples/gpt.mn (attention bonds, residual branches, token
 * ids in): forward and backward allocate nothing once its shapes were seen. */
START_TEST(test_gpt_allocates_nothing_per_step)
{
    mn_graph_file *g;
    const char *text = mn_graph_gpt_text();
    ck_assert_ok(mn_graph_parse(&g, text, strlen(text), "gpt.mn"));
    ck_assert_ok(mn_graph_set(g, "width", 16));
    ck_assert_ok(mn_graph_set(g, "dhead", 8)); /* 2 heads */
    ck_assert_ok(mn_graph_set(g, "depth", 2));
    ck_assert_ok(mn_graph_set(g, "vocab", 9));
    mn_module *root;
    ck_assert_ok(mn_graph_make(g, &root));
    mn_graph_destroy(g);
    mn_network *net = tm_network_new(root, 4);
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){3, 8}),
              *dy = tm_tensor_new(3, (int64_t[]){3, 8, 9});
    for (int64_t i = 0; i < 24; i++)
        x->data[i] = (float)(i * 7 % 9);
    mn_rng r;
    mn_rng_seed(&r, 3);
    tm_fill_normal(dy, &r, 1);
    long before = allocations;
    for (int step = 0; step < 4; step++) {
        const mn_tensor *y;
        counting = step > 0;
        mn_status st = mn_network_forward(net, x, &y);
        mn_network_zero_grad(net);
        if (st == MN_OK)
            st = mn_network_backward(net, dy);
        counting = 0;
        ck_assert_ok(st);
    }
    ck_assert_msg(allocations == before, "%ld allocations in three GPT forwards and backwards",
                  allocations - before);
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_network_destroy(net);
}
END_TEST

/* Asking for the input's gradient between forward and backward works: the
 * memory for it is laid out either way. */
START_TEST(test_input_grad_asked_after_forward)
{
    const fd_case c = {"Sum of 3", b_sum_three, 2, {3, 5}, IN_NORMAL, true, false};
    probe *p = probe_make(&c, 61);
    double want[15];
    probe_analytic(p, NULL, want);
    mn_network_keep_input_grad(p->net, false);
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(p->net, p->x, &y));
    mn_network_keep_input_grad(p->net, true);
    mn_network_zero_grad(p->net);
    ck_assert_ok(mn_network_backward(p->net, p->r));
    const mn_tensor *dx = mn_network_input_grad(p->net);
    ck_assert_ptr_nonnull(dx);
    for (int i = 0; i < 15; i++)
        ck_assert_float_eq(dx->data[i], (float)want[i]);
    probe_free(p);
}
END_TEST

/* "evencols": a program's norm (Frobenius) that takes only an even number of
 * columns; only its value can say so. */
static mn_status evencols_value(const mn_norm *n, const mn_mat *A, double *out)
{
    (void)n;
    if (A->cols % 2)
        return mn_set_error(MN_ERR_SHAPE, "evencols: %lld columns is odd", (long long)A->cols);
    double s = 0;
    for (int64_t i = 0; i < A->rows; i++)
        for (int64_t j = 0; j < A->cols; j++)
            s += mn_mat_get(A, i, j) * mn_mat_get(A, i, j);
    *out = sqrt(s);
    return MN_OK;
}

static mn_status evencols_lmo(const mn_norm *n, mn_mat *out, const mn_mat *G,
                              const mn_polar_provider *polar)
{
    (void)polar;
    double f = 1;
    mn_status st = evencols_value(n, G, &f);
    if (st != MN_OK)
        return st;
    for (int64_t i = 0; i < G->rows; i++)
        for (int64_t j = 0; j < G->cols; j++)
            mn_mat_set(out, i, j, mn_mat_get(G, i, j) / f);
    return MN_OK;
}

static const mn_norm evencols = {.name = "evencols", .title = "Frobenius, even columns only",
                                 .value = evencols_value, .dual = evencols_value,
                                 .lmo = evencols_lmo};

/* A norm that cannot take an atom's weight shape (taps-3 on a 6x8 Linear:
 * 8 columns are not d_in·9) is refused where it is set, and the atom keeps
 * its norm; before, set_norm, network_create and solver_create accepted it
 * and the first step failed inside the solver. */
START_TEST(test_norm_must_fit_the_atom)
{
    mn_module *l = linear(6, 8);
    const mn_norm *before = mn_module_norm(l);
    mn_clear_error();
    ck_assert_int_eq(mn_module_set_norm(l, "taps-3"), MN_ERR_ARG);
    ck_assert_msg(strstr(mn_last_error(), "set_norm: taps-3 does not fit Linear(6←8): taps-3: a "
                                          "6x8 matrix is not d_out x (d_in·9)") &&
                      !strchr(mn_last_error(), '\n'), "%s", mn_last_error());
    ck_assert_ptr_eq(mn_module_norm(l), before);
    ck_assert_ok(mn_module_set_norm(l, "taps-2")); /* 8 columns: 2 channels of 2x2 taps */
    ck_assert_str_eq(mn_module_norm(l)->name, "taps-2");
    ck_assert_ok(mn_module_set_norm(l, "rms-rms"));
    /* Embed's view is (d, vocab): taps-2 needs an even vocabulary */
    mn_module *e;
    ck_assert_ok(mn_embed(&e, 5, 4));
    ck_assert_int_eq(mn_module_set_norm(e, "taps-2"), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "a 4x5 matrix"));
    mn_module_destroy(e);
    /* a Conv2D takes either of its norms */
    mn_module *c;
    ck_assert_ok(mn_conv2d(&c, 4, 2, 3, 1, 1));
    ck_assert_ok(mn_module_set_norm(c, "rms-rms"));
    ck_assert_ok(mn_module_set_norm(c, "taps-3"));
    ck_assert_int_eq(mn_module_set_norm(c, "taps-2"), MN_ERR_ARG); /* 18 columns, not 2·4 */
    mn_module_destroy(c);

    /* inside a network: refused, no revision */
    mn_network *net = tm_network_new(tm_seq(2, (mn_module *[]){l, bond(mn_relu)}), 1);
    uint64_t rev = mn_network_revision(net);
    mn_module *atom = (mn_module *)mn_network_atom(net, 0);
    ck_assert_int_eq(mn_module_set_norm(atom, "taps-3"), MN_ERR_ARG);
    ck_assert_str_eq(mn_module_norm(atom)->name, "rms-rms");
    ck_assert_int_eq(mn_network_revision(net), rev);

    /* a program's norm says so through its value: measured on the weights
     * inside a network, and when the network is made */
    static bool registered;
    if (!registered)
        ck_assert_ok(mn_norm_register(&evencols));
    registered = true;
    mn_module *odd = linear(3, 3);
    ck_assert_ok(mn_module_set_norm(odd, "evencols")); /* no weights yet: taken to fit */
    mn_network *n2 = (mn_network *)&n2;
    ck_assert_int_eq(mn_network_create(&n2, odd, MN_PARAM_MODULAR, 1), MN_ERR_ARG);
    ck_assert_ptr_null(n2);
    ck_assert_msg(strstr(mn_last_error(), "mn_network_create: atom 0's norm evencols does not fit "
                                          "Linear(3←3): evencols: 3 columns is odd"),
                  "%s", mn_last_error());
    ck_assert_ok(mn_module_set_norm(atom, "evencols")); /* 8 columns */
    ck_assert_int_eq(mn_network_revision(net), rev + 1);
    mn_network_destroy(net);
    net = tm_network_new(linear(2, 5), 1);
    ck_assert_int_eq(mn_module_set_norm((mn_module *)mn_network_atom(net, 0), "evencols"),
                     MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "set_norm: evencols does not fit Linear(2←5): "
                                                  "evencols: 5 columns is odd"));
    ck_assert_str_eq(mn_module_norm(mn_network_atom(net, 0))->name, "rms-rms");
    mn_network_destroy(net);
    /* an atom made with a norm that does not fit: refused by the network */
    const mn_norm *taps3;
    ck_assert_ok(mn_norm_lookup("taps-3", &taps3));
    mn_module *my;
    ck_assert_ok(mn_atom_create(&my, &mylin_ops, NULL, 6, 8, taps3, 1));
    ck_assert_int_eq(mn_network_create(&n2, my, MN_PARAM_MODULAR, 1), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "atom 0's norm taps-3 does not fit MyLinear(6←8)"));
}
END_TEST

/* Changes of norm and mass after the network was made are counted. */
START_TEST(test_revision_counts_changes)
{
    mn_module *L = linear(4, 4), *M = linear(4, 4);
    mn_module *S = SEQ(L, bond(mn_relu), M);
    ck_assert_ok(mn_module_set_norm(L, "frobenius")); /* before: not counted */
    mn_network *net = tm_network_new(S, 1);
    uint64_t r0 = mn_network_revision(net);
    ck_assert_ok(mn_module_set_norm(L, "frobenius")); /* the same norm: no change */
    ck_assert_uint_eq(mn_network_revision(net), r0);
    ck_assert_ok(mn_module_set_norm(M, "l1-linf"));
    ck_assert_uint_eq(mn_network_revision(net), r0 + 1);
    ck_assert_ok(mn_module_set_mass(M, 3));
    ck_assert_uint_eq(mn_network_revision(net), r0 + 2);
    ck_assert_int_eq(mn_module_set_mass(M, -1), MN_ERR_ARG); /* refused: no change */
    ck_assert_uint_eq(mn_network_revision(net), r0 + 2);
    mn_network_destroy(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("modules");
    TCase *tc = tcase_create("modules");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_fd_every_module, 0, N_FD_CASES);
    tcase_add_test(tc, test_embed_gradient_accumulates);
    tcase_add_test(tc, test_backward_accumulates);
    tcase_add_test(tc, test_input_grad_is_opt_in);
    tcase_add_test(tc, test_fd_through_losses);
    tcase_add_test(tc, test_fd_losses);
    tcase_add_test(tc, test_cross_entropy_threads_same_bits);
    tcase_add_test(tc, test_bond_forward_values);
    tcase_add_test(tc, test_gelu_slope_is_one);
    tcase_add_test(tc, test_fd_rejects_wrong_gradients);
    tcase_add_test(tc, test_masses_and_sensitivities_of_atoms_and_bonds);
    tcase_add_test(tc, test_targets_mlp);
    tcase_add_test(tc, test_targets_sequential_with_mul);
    tcase_add_test(tc, test_targets_tuple_and_sum);
    tcase_add_test(tc, test_targets_tare);
    tcase_add_test(tc, test_targets_mass_zero);
    tcase_add_test(tc, test_targets_sensitivity_zero);
    tcase_add_test(tc, test_scale_and_power);
    tcase_add_test(tc, test_modular_dualize_properties);
    tcase_add_test(tc, test_linear_well_normed);
    tcase_add_test(tc, test_first_order_bound);
    tcase_add_test(tc, test_shape_errors_at_construction);
    tcase_add_test(tc, test_output_features);
    tcase_add_test(tc, test_output_shape);
    tcase_add_test(tc, test_shape_errors_at_run_time);
    tcase_add_test(tc, test_embed_token_errors);
    tcase_add_test(tc, test_set_norm_and_mass_errors);
    tcase_add_test(tc, test_constructor_errors);
    tcase_add_test(tc, test_module_has_one_owner);
    tcase_add_test(tc, test_mean_1d_input);
    tcase_add_test(tc, test_empty_batch);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_clone_and_power_are_independent);
    tcase_add_test(tc, test_visit_tree_and_outputs);
    tcase_add_test(tc, test_custom_kinds);
    tcase_add_test(tc, test_kind_registry_and_text);
    tcase_add_test(tc, test_activation_memory_is_the_networks);
    tcase_add_test(tc, test_gpt_allocates_nothing_per_step);
    tcase_add_test(tc, test_network_too_big);
    tcase_add_test(tc, test_input_grad_asked_after_forward);
    tcase_add_test(tc, test_revision_counts_changes);
    tcase_add_test(tc, test_norm_must_fit_the_atom);
    tcase_add_test(tc, test_module_getters_take_null);
    tcase_add_test(tc, test_network_careless_input);
    tcase_add_test(tc, test_losses_careless_input);
    tcase_add_test(tc, test_targets_total_refused);
    tcase_add_test(tc, test_constructor_messages);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
