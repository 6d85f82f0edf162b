/* Bonds: modules without weights (mass 0) and their sensitivities. Each is
 * an ops table; element-wise bonds keep the input's shape, x and y are
 * (rows, d). */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "modules/gelu.h"
#include "modules/kinds.h"
#include "modules/module.h"

/* RMSDivide guards against all-zero rows with this floor on mean(x²). */
#define RMS_EPS 1e-12

/* ---- element-wise bonds: one forward and one backward each --------------- *
 * Split over c->threads (mn_elementwise_threads: small tensors stay on one).
 * Each element is computed alone, so any split gives the same bits. The
 * selects must vectorize into blends: a branch per element mispredicts on
 * the random signs of activations (ReLU's backward took 13% of a CNN step). */

static mn_status relu_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    const float *xs = c->in[0]->data;
    float *ys = c->out->data;
    int64_t n = mn_tensor_numel(c->out);
    MN_PARALLEL_FOR(mn_elementwise_threads(c->threads, n))
    for (int64_t i = 0; i < n; i++)
        ys[i] = xs[i] > 0 ? xs[i] : 0;
    return MN_OK;
}

static mn_status relu_backward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    const float *xs = c->in[0]->data, *dy = c->dout->data;
    float *dx = c->din[0]->data;
    int64_t n = mn_tensor_numel(c->dout);
    MN_PARALLEL_FOR(mn_elementwise_threads(c->threads, n))
    for (int64_t i = 0; i < n; i++) {
        float g = dy[i]; /* loaded on both sides, so the select vectorizes */
        dx[i] = xs[i] > 0 ? g : 0;
    }
    return MN_OK;
}

/* In float, eight lanes at a time (gelu.c); the double formula it replaced,
 * 0.5·x·(1 + erf(x/√2)), is the tests' reference. */
static mn_status gelu_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    mn_gelu_forward_f32(c->out->data, c->in[0]->data, mn_tensor_numel(c->out), c->threads);
    return MN_OK;
}

static mn_status gelu_backward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    mn_gelu_backward_f32(c->din[0]->data, c->in[0]->data, c->dout->data,
                         mn_tensor_numel(c->dout), c->threads);
    return MN_OK;
}

static mn_status abs_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    const float *xs = c->in[0]->data;
    float *ys = c->out->data;
    int64_t n = mn_tensor_numel(c->out);
    MN_PARALLEL_FOR(mn_elementwise_threads(c->threads, n))
    for (int64_t i = 0; i < n; i++)
        ys[i] = fabsf(xs[i]);
    return MN_OK;
}

static mn_status abs_backward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    const float *xs = c->in[0]->data, *dy = c->dout->data;
    float *dx = c->din[0]->data;
    int64_t n = mn_tensor_numel(c->dout);
    MN_PARALLEL_FOR(mn_elementwise_threads(c->threads, n))
    for (int64_t i = 0; i < n; i++) {
        float g = dy[i]; /* as in relu_backward */
        dx[i] = xs[i] > 0 ? g : xs[i] < 0 ? -g : 0;
    }
    return MN_OK;
}

/* Mul's state: its scalar. */
typedef struct {
    double a;
} mul_state;

static double mul_a(const mn_module *m) { return ((const mul_state *)m->state)->a; }

static mn_status mul_forward(mn_module *m, const mn_module_call *c)
{
    double a = mul_a(m);
    const float *xs = c->in[0]->data;
    float *ys = c->out->data;
    int64_t n = mn_tensor_numel(c->out);
    MN_PARALLEL_FOR(mn_elementwise_threads(c->threads, n))
    for (int64_t i = 0; i < n; i++)
        ys[i] = (float)(a * xs[i]);
    return MN_OK;
}

static mn_status mul_backward(mn_module *m, const mn_module_call *c)
{
    double a = mul_a(m);
    const float *dy = c->dout->data;
    float *dx = c->din[0]->data;
    int64_t n = mn_tensor_numel(c->dout);
    MN_PARALLEL_FOR(mn_elementwise_threads(c->threads, n))
    for (int64_t i = 0; i < n; i++)
        dx[i] = (float)(a * dy[i]);
    return MN_OK;
}

static int mul_args(const mn_module *m, double *a, int cap)
{
    if (cap >= 1)
        a[0] = mul_a(m);
    return 1;
}

static const mn_module_ops relu_ops = {.kind = "ReLU", .forward = relu_forward,
                                       .backward = relu_backward};
static const mn_module_ops gelu_ops = {.kind = "GELU", .forward = gelu_forward,
                                       .backward = gelu_backward};
static const mn_module_ops abs_ops = {.kind = "Abs", .forward = abs_forward,
                                      .backward = abs_backward};
static const mn_module_ops mul_ops = {.kind = "Mul", .state_size = sizeof(mul_state),
                                      .forward = mul_forward, .backward = mul_backward,
                                      .args = mul_args};

mn_status mn_relu(mn_module **out) { return mn_bond_create(out, &relu_ops, NULL, 1); }
mn_status mn_gelu(mn_module **out) { return mn_bond_create(out, &gelu_ops, NULL, 1); }
mn_status mn_abs(mn_module **out) { return mn_bond_create(out, &abs_ops, NULL, 1); }

mn_status mn_mul(mn_module **out, double a)
{
    if (out)
        *out = NULL;
    if (!isfinite(a))
        return mn_fail(MN_ERR_ARG, "Mul: the scalar %g is not finite", a);
    return mn_bond_create(out, &mul_ops, &(mul_state){a}, fabs(a));
}

/* ---- Identity: y = x (the same tensor) ----------------------------------- */

static mn_status view_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)m;
    (void)n;
    (void)in;
    p->out_is_view = p->din_is_view = true;
    return MN_OK;
}

static const mn_module_ops identity_ops = {.kind = "Identity", .plan = view_plan};

mn_status mn_identity(mn_module **out) { return mn_bond_create(out, &identity_ops, NULL, 1); }

/* ---- Add: y = x₁ + … + x_n (inputs of equal shapes) ---------------------- */

static mn_status add_features(const mn_module *m, int n, const int64_t *in, int64_t *out)
{
    (void)m;
    int64_t f = -1;
    int at = -1;
    for (int k = 0; k < n; k++) {
        if (in[k] < 0)
            continue;
        if (f >= 0 && in[k] != f)
            return mn_fail(MN_ERR_SHAPE, "Add: input %d has %lld features but input %d has %lld",
                           at, (long long)f, k, (long long)in[k]);
        f = in[k];
        at = k;
    }
    *out = f;
    return MN_OK;
}

static mn_status add_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)m;
    int64_t n0 = 1;
    for (int i = 0; i < in[0].ndim; i++)
        n0 *= in[0].dim[i];
    for (int k = 1; k < n; k++) {
        int64_t nk = 1;
        for (int i = 0; i < in[k].ndim; i++)
            nk *= in[k].dim[i];
        if (nk != n0 || in[k].dim[in[k].ndim - 1] != in[0].dim[in[0].ndim - 1])
            return mn_fail(MN_ERR_SHAPE, "Add: input %d differs in shape from input 0 (%lld vs "
                           "%lld elements)", k, (long long)nk, (long long)n0);
    }
    p->din_is_view = true; /* ∂(Σx)/∂x_k = 1: each input's gradient is dout */
    return MN_OK;
}

/* Summed left to right: ((x₁ + x₂) + x₃) + … */
static mn_status add_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    int64_t n = mn_tensor_numel(c->out);
    float *y = c->out->data;
    const float *a = c->in[0]->data;
    if (c->n_in == 1) {
        memcpy(y, a, (size_t)n * sizeof *y);
        return MN_OK;
    }
    const float *b = c->in[1]->data;
    int nt = mn_elementwise_threads(c->threads, n);
    (void)nt; /* unused without OpenMP */
    MN_PARALLEL_FOR(nt)
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
    for (int k = 2; k < c->n_in; k++) {
        const float *x = c->in[k]->data;
        MN_PARALLEL_FOR(nt)
        for (int64_t i = 0; i < n; i++)
            y[i] += x[i];
    }
    return MN_OK;
}

static const mn_module_ops add_ops = {.kind = "Add", .arity = MN_ARITY_ANY,
                                      .features = add_features, .plan = add_plan,
                                      .forward = add_forward};

mn_status mn_add(mn_module **out) { return mn_bond_create(out, &add_ops, NULL, 1); }

/* ---- Flatten: (B, d1, …, dk) → (B, d1·…·dk), a view -------------------- */

static mn_status flatten_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)m;
    (void)n;
    if (in[0].ndim > 1) {
        int64_t rest = 1;
        for (int i = 1; i < in[0].ndim; i++)
            rest *= in[0].dim[i];
        p->out.ndim = 2;
        p->out.dim[1] = rest;
    }
    p->out_is_view = p->din_is_view = true;
    return MN_OK;
}

/* features: the product of every trailing dimension, known at run time */
static const mn_module_ops flatten_ops = {.kind = "Flatten",
                                          .features = mn_features_at_run_time,
                                          .plan = flatten_plan};

mn_status mn_flatten(mn_module **out) { return mn_bond_create(out, &flatten_ops, NULL, 1); }

/* ---- Mean over positions: (B, T…, d) → (B, d); 1-D and 2-D pass through -- */

/* Batch, positions and features of a Mean input (T = 1 when there are no
 * position dimensions). */
static void mean_dims(const mn_tensor *x, int64_t *B, int64_t *T, int64_t *d)
{
    *d = x->shape[x->ndim - 1];
    *B = x->ndim > 1 ? x->shape[0] : 1;
    *T = x->ndim > 2 && *B * *d > 0 ? mn_tensor_numel(x) / (*B * *d) : 1;
}

static mn_status mean_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)m;
    (void)n;
    if (in[0].ndim <= 2) {
        p->out_is_view = p->din_is_view = true;
        return MN_OK;
    }
    p->out.ndim = 2;
    p->out.dim[1] = in[0].dim[in[0].ndim - 1];
    return MN_OK;
}

static mn_status mean_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    const mn_tensor *x = c->in[0];
    if (x->ndim <= 2) /* a view */
        return MN_OK;
    int64_t B, T, d;
    mean_dims(x, &B, &T, &d);
    float *y = c->out->data;
    /* by batch row: each mean is still summed over t in order on one thread */
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(c->threads, B * T * d))
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < d; k++) {
            double s = 0;
            for (int64_t t = 0; t < T; t++)
                s += x->data[(b * T + t) * d + k];
            y[b * d + k] = (float)(s / (double)T);
        }
    return MN_OK;
}

static mn_status mean_backward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    const mn_tensor *x = c->in[0];
    if (x->ndim <= 2) /* a view */
        return MN_OK;
    int64_t B, T, d;
    mean_dims(x, &B, &T, &d);
    const float *dy = c->dout->data;
    float *dx = c->din[0]->data;
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(c->threads, B * T * d))
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t k = 0; k < d; k++)
                dx[(b * T + t) * d + k] = (float)(dy[b * d + k] / (double)T);
    return MN_OK;
}

static const mn_module_ops mean_ops = {.kind = "Mean", .plan = mean_plan,
                                       .forward = mean_forward, .backward = mean_backward};

mn_status mn_mean(mn_module **out) { return mn_bond_create(out, &mean_ops, NULL, 1); }

/* ---- MeanSubtract: y = x − mean(x) over features ---------------------- */

/* Row by row, each row's sum in order on one thread. */
static void subtract_row_means(float *y, const float *x, int64_t rows, int64_t d, int threads)
{
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(threads, rows * d))
    for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        for (int64_t k = 0; k < d; k++)
            s += x[r * d + k];
        float mu = (float)(s / (double)d);
        for (int64_t k = 0; k < d; k++)
            y[r * d + k] = x[r * d + k] - mu;
    }
}

static mn_status mean_subtract_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    mn_mat X = mn_tensor_rows(c->in[0]);
    subtract_row_means(c->out->data, c->in[0]->data, X.rows, X.cols, c->threads);
    return MN_OK;
}

/* The map is a projection (symmetric), so its backward is the same map. */
static mn_status mean_subtract_backward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    mn_mat X = mn_tensor_rows(c->in[0]);
    subtract_row_means(c->din[0]->data, c->dout->data, X.rows, X.cols, c->threads);
    return MN_OK;
}

static const mn_module_ops mean_subtract_ops = {.kind = "MeanSubtract",
                                                .forward = mean_subtract_forward,
                                                .backward = mean_subtract_backward};

mn_status mn_mean_subtract(mn_module **out)
{
    return mn_bond_create(out, &mean_subtract_ops, NULL, 1);
}

/* ---- RMSDivide: y = x / rms(x), rms = √(mean(x²) + ε) over features ---- */

/* Keeps each row's rms for backward. */
static mn_status rms_divide_plan(const mn_module *m, int n, const mn_shape *in,
                                 mn_module_plan *p)
{
    (void)m;
    (void)n;
    int64_t rows = 1;
    for (int i = 0; i < in[0].ndim - 1; i++)
        rows *= in[0].dim[i];
    p->saved = in[0].dim[in[0].ndim - 1] ? rows : 0;
    return MN_OK;
}

static mn_status rms_divide_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    const mn_tensor *x = c->in[0];
    mn_mat X = mn_tensor_rows(x);
    float *y = c->out->data, *rms = c->saved;
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(c->threads, X.rows * X.cols))
    for (int64_t r = 0; r < X.rows; r++) {
        double s = 0;
        for (int64_t k = 0; k < X.cols; k++)
            s += (double)x->data[r * X.cols + k] * x->data[r * X.cols + k];
        rms[r] = (float)sqrt(s / (double)X.cols + RMS_EPS);
        for (int64_t k = 0; k < X.cols; k++)
            y[r * X.cols + k] = x->data[r * X.cols + k] / rms[r];
    }
    return MN_OK;
}

/* dx = (dy − y·mean(dy ⊙ y)) / rms, per row. */
static mn_status rms_divide_backward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    mn_mat X = mn_tensor_rows(c->in[0]);
    const float *y = c->out->data, *dy = c->dout->data, *rms = c->saved;
    float *dx = c->din[0]->data;
    int64_t d = X.cols;
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(c->threads, X.rows * d))
    for (int64_t r = 0; r < X.rows; r++) {
        double s = 0;
        for (int64_t k = 0; k < d; k++)
            s += (double)dy[r * d + k] * y[r * d + k];
        double cc = s / (double)d;
        for (int64_t k = 0; k < d; k++)
            dx[r * d + k] = (float)((dy[r * d + k] - y[r * d + k] * cc) / rms[r]);
    }
    return MN_OK;
}

static const mn_module_ops rms_divide_ops = {.kind = "RMSDivide", .plan = rms_divide_plan,
                                             .forward = rms_divide_forward,
                                             .backward = rms_divide_backward};

/* ν = 1 is a convention: x/rms(x) has no global Lipschitz bound near 0. */
mn_status mn_rms_divide(mn_module **out) { return mn_bond_create(out, &rms_divide_ops, NULL, 1); }

/* ---- makers -------------------------------------------------------------- */

static mn_status make_mul(mn_module **out, int argc, const double *a)
{
    (void)argc;
    return mn_mul(out, a[0]);
}

MN_MAKER_NO_ARGS(make_identity, mn_identity)
MN_MAKER_NO_ARGS(make_relu, mn_relu)
MN_MAKER_NO_ARGS(make_gelu, mn_gelu)
MN_MAKER_NO_ARGS(make_abs, mn_abs)
MN_MAKER_NO_ARGS(make_add, mn_add)
MN_MAKER_NO_ARGS(make_flatten, mn_flatten)
MN_MAKER_NO_ARGS(make_mean, mn_mean)
MN_MAKER_NO_ARGS(make_mean_subtract, mn_mean_subtract)
MN_MAKER_NO_ARGS(make_rms_divide, mn_rms_divide)

const mn_module_maker mn_bond_makers[] = {
    {"Identity", "Identity", 0, 0, make_identity},
    {"ReLU", "ReLU", 0, 0, make_relu},
    {"GELU", "GELU", 0, 0, make_gelu},
    {"Abs", "Abs", 0, 0, make_abs},
    {"Mul", "Mul(a)", 1, 1, make_mul},
    {"Add", "Add", 0, 0, make_add},
    {"Flatten", "Flatten", 0, 0, make_flatten},
    {"Mean", "Mean", 0, 0, make_mean},
    {"MeanSubtract", "MeanSubtract", 0, 0, make_mean_subtract},
    {"RMSDivide", "RMSDivide", 0, 0, make_rms_divide},
};
const size_t mn_bond_maker_count = sizeof mn_bond_makers / sizeof mn_bond_makers[0];
