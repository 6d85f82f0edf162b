/* Bonds: modules without weights (mass 0) and their sensitivities.
 * Element-wise bonds keep the input's shape; x and y are (rows, d). */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "modules/module.h"

/* GELU's largest slope Φ(√2) + √2·φ(√2), reached at x = √2 (modula rounds
 * it to 1.1289): dividing by it makes ν = 1. */
#define GELU_MAX_SLOPE 1.1289041451851545

/* RMSDivide guards against all-zero rows with this floor on mean(x²). */
#define RMS_EPS 1e-12

static mn_status one_input(const mn_module *m, const mn_value *in)
{
    if (in->n != 1 || !in->t[0])
        return mn_fail(MN_ERR_ARG, "%s takes one tensor, got a %d-tuple", mn_module_kind(m),
                       in->n);
    return MN_OK;
}

static mn_status same_features(const mn_module *m, int64_t in, int64_t *out)
{
    (void)m;
    *out = in;
    return MN_OK;
}

/* Output and input-gradient buffers shaped like the input. */
static mn_status alloc_like(mn_value *v, bool *owns, const mn_tensor *x)
{
    *owns = true;
    v->n = 1;
    return mn_tensor_ensure(&v->t[0], x->ndim, x->shape);
}

static mn_status borrow(mn_value *dst, bool *owns, const mn_value *src)
{
    *owns = false;
    *dst = *src;
    return MN_OK;
}

/* ---- element-wise bonds ------------------------------------------------ */

typedef enum { EW_RELU, EW_GELU, EW_ABS, EW_MUL } ew_kind;

static ew_kind ew_of(const mn_module *m)
{
    const char *k = m->ops->kind;
    return strcmp(k, "ReLU") == 0 ? EW_RELU
           : strcmp(k, "GELU") == 0 ? EW_GELU
           : strcmp(k, "Abs") == 0  ? EW_ABS
                                    : EW_MUL;
}

static double gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }

static double gelu_slope(double x)
{
    return 0.5 * (1 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
}

static mn_status ew_forward(mn_module *m, const mn_value *in, int threads)
{
    (void)threads;
    MN_TRY(one_input(m, in));
    const mn_tensor *x = in->t[0];
    MN_TRY(alloc_like(&m->out, &m->owns_out, x));
    const float *xs = x->data;
    float *ys = m->out.t[0]->data;
    int64_t n = mn_tensor_numel(x);
    switch (ew_of(m)) {
    case EW_RELU:
        for (int64_t i = 0; i < n; i++)
            ys[i] = xs[i] > 0 ? xs[i] : 0;
        break;
    case EW_GELU:
        for (int64_t i = 0; i < n; i++)
            ys[i] = (float)(gelu(xs[i]) / GELU_MAX_SLOPE);
        break;
    case EW_ABS:
        for (int64_t i = 0; i < n; i++)
            ys[i] = fabsf(xs[i]);
        break;
    case EW_MUL:
        for (int64_t i = 0; i < n; i++)
            ys[i] = (float)(m->a * xs[i]);
        break;
    }
    return MN_OK;
}

static mn_status ew_backward(mn_module *m, const mn_value *dout, int threads)
{
    (void)threads;
    const mn_tensor *x = m->in.t[0];
    MN_TRY(alloc_like(&m->din, &m->owns_din, x));
    const float *xs = x->data, *dy = dout->t[0]->data;
    float *dx = m->din.t[0]->data;
    int64_t n = mn_tensor_numel(x);
    switch (ew_of(m)) {
    case EW_RELU:
        for (int64_t i = 0; i < n; i++)
            dx[i] = xs[i] > 0 ? dy[i] : 0;
        break;
    case EW_GELU:
        for (int64_t i = 0; i < n; i++)
            dx[i] = (float)(dy[i] * gelu_slope(xs[i]) / GELU_MAX_SLOPE);
        break;
    case EW_ABS:
        for (int64_t i = 0; i < n; i++)
            dx[i] = xs[i] > 0 ? dy[i] : xs[i] < 0 ? -dy[i] : 0;
        break;
    case EW_MUL:
        for (int64_t i = 0; i < n; i++)
            dx[i] = (float)(m->a * dy[i]);
        break;
    }
    return MN_OK;
}

#define EW_OPS(ident, name) \
    static const mn_module_ops ident = {name, same_features, ew_forward, ew_backward, NULL}
EW_OPS(relu_ops, "ReLU");
EW_OPS(gelu_ops, "GELU");
EW_OPS(abs_ops, "Abs");
EW_OPS(mul_ops, "Mul");

mn_status mn_relu(mn_module **out) { return mn_module_new(out, &relu_ops, 0, 1); }
mn_status mn_gelu(mn_module **out) { return mn_module_new(out, &gelu_ops, 0, 1); }
mn_status mn_abs(mn_module **out) { return mn_module_new(out, &abs_ops, 0, 1); }

mn_status mn_mul(mn_module **out, double a)
{
    if (!isfinite(a))
        return mn_fail(MN_ERR_ARG, "Mul: the scalar %g is not finite", a);
    MN_TRY(mn_module_new(out, &mul_ops, 0, fabs(a)));
    (*out)->a = a;
    return MN_OK;
}

/* ---- Identity: y = x --------------------------------------------------- */

static mn_status identity_forward(mn_module *m, const mn_value *in, int threads)
{
    (void)threads;
    return borrow(&m->out, &m->owns_out, in);
}

static mn_status identity_backward(mn_module *m, const mn_value *dout, int threads)
{
    (void)threads;
    return borrow(&m->din, &m->owns_din, dout);
}

static const mn_module_ops identity_ops = {"Identity", same_features, identity_forward,
                                           identity_backward, NULL};

mn_status mn_identity(mn_module **out) { return mn_module_new(out, &identity_ops, 0, 1); }

/* ---- Add: y = x₁ + x₂ (a 2-tuple of equal shapes) ------------------------ */

static mn_status add_forward(mn_module *m, const mn_value *in, int threads)
{
    (void)threads;
    if (in->n != 2)
        return mn_fail(MN_ERR_ARG, "Add takes a 2-tuple, got %d tensor(s)", in->n);
    const mn_tensor *a = in->t[0], *b = in->t[1];
    int64_t n = mn_tensor_numel(a);
    if (n != mn_tensor_numel(b) || a->shape[a->ndim - 1] != b->shape[b->ndim - 1])
        return mn_fail(MN_ERR_SHAPE, "Add: the two inputs differ in shape (%lld vs %lld elements)",
                       (long long)n, (long long)mn_tensor_numel(b));
    MN_TRY(alloc_like(&m->out, &m->owns_out, a));
    float *y = m->out.t[0]->data;
    for (int64_t i = 0; i < n; i++)
        y[i] = a->data[i] + b->data[i];
    return MN_OK;
}

static mn_status add_backward(mn_module *m, const mn_value *dout, int threads)
{
    (void)threads;
    m->owns_din = false;
    m->din.n = 2;
    m->din.t[0] = m->din.t[1] = dout->t[0];
    return MN_OK;
}

static const mn_module_ops add_ops = {"Add", same_features, add_forward, add_backward, NULL};

mn_status mn_add(mn_module **out) { return mn_module_new(out, &add_ops, 0, 1); }

/* ---- Flatten: (B, d1, …, dk) → (B, d1·…·dk), a view -------------------- */

static mn_status flatten_features(const mn_module *m, int64_t in, int64_t *out)
{
    (void)m;
    (void)in;
    *out = -1; /* depends on every trailing dimension, known at run time */
    return MN_OK;
}

/* A non-owning tensor of `shape` over `data`. */
static mn_status view_as(mn_tensor **t, float *data, int ndim, const int64_t *shape)
{
    mn_tensor_destroy(*t);
    *t = NULL;
    return mn_tensor_wrap(t, data, ndim, shape);
}

static mn_status flatten_forward(mn_module *m, const mn_value *in, int threads)
{
    (void)threads;
    MN_TRY(one_input(m, in));
    const mn_tensor *x = in->t[0];
    if (!mn_tensor_is_contiguous(x))
        return mn_fail(MN_ERR_SHAPE, "Flatten: input is not contiguous");
    int64_t shape[2] = {x->shape[0], x->shape[0] ? mn_tensor_numel(x) / x->shape[0] : 0};
    m->owns_out = true; /* owns the view struct, not the data */
    m->out.n = 1;
    return view_as(&m->out.t[0], x->data, x->ndim == 1 ? 1 : 2, x->ndim == 1 ? x->shape : shape);
}

static mn_status flatten_backward(mn_module *m, const mn_value *dout, int threads)
{
    (void)threads;
    const mn_tensor *x = m->in.t[0];
    m->owns_din = true;
    m->din.n = 1;
    return view_as(&m->din.t[0], dout->t[0]->data, x->ndim, x->shape);
}

static const mn_module_ops flatten_ops = {"Flatten", flatten_features, flatten_forward,
                                          flatten_backward, NULL};

mn_status mn_flatten(mn_module **out) { return mn_module_new(out, &flatten_ops, 0, 1); }

/* ---- Mean over positions: (B, T…, d) → (B, d); 1-D and 2-D pass through -- */

/* Batch, positions and features of a Mean input (T = 1 when there are no
 * position dimensions). */
static void mean_dims(const mn_tensor *x, int64_t *B, int64_t *T, int64_t *d)
{
    *d = x->shape[x->ndim - 1];
    *B = x->ndim > 1 ? x->shape[0] : 1;
    *T = x->ndim > 2 && *B * *d > 0 ? mn_tensor_numel(x) / (*B * *d) : 1;
}

static mn_status mean_forward(mn_module *m, const mn_value *in, int threads)
{
    (void)threads;
    MN_TRY(one_input(m, in));
    const mn_tensor *x = in->t[0];
    if (x->ndim <= 2)
        return borrow(&m->out, &m->owns_out, in);
    int64_t B, T, d;
    mean_dims(x, &B, &T, &d);
    m->owns_out = true;
    m->out.n = 1;
    MN_TRY(mn_tensor_ensure(&m->out.t[0], 2, (int64_t[]){B, d}));
    float *y = m->out.t[0]->data;
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < d; k++) {
            double s = 0;
            for (int64_t t = 0; t < T; t++)
                s += x->data[(b * T + t) * d + k];
            y[b * d + k] = (float)(s / (double)T);
        }
    return MN_OK;
}

static mn_status mean_backward(mn_module *m, const mn_value *dout, int threads)
{
    (void)threads;
    const mn_tensor *x = m->in.t[0];
    if (x->ndim <= 2)
        return borrow(&m->din, &m->owns_din, dout);
    MN_TRY(alloc_like(&m->din, &m->owns_din, x));
    int64_t B, T, d;
    mean_dims(x, &B, &T, &d);
    const float *dy = dout->t[0]->data;
    float *dx = m->din.t[0]->data;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t k = 0; k < d; k++)
                dx[(b * T + t) * d + k] = (float)(dy[b * d + k] / (double)T);
    return MN_OK;
}

static const mn_module_ops mean_ops = {"Mean", same_features, mean_forward, mean_backward, NULL};

mn_status mn_mean(mn_module **out) { return mn_module_new(out, &mean_ops, 0, 1); }

/* ---- MeanSubtract: y = x − mean(x) over features ---------------------- */

static void subtract_row_means(float *y, const float *x, int64_t rows, int64_t d)
{
    for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        for (int64_t k = 0; k < d; k++)
            s += x[r * d + k];
        float mu = (float)(s / (double)d);
        for (int64_t k = 0; k < d; k++)
            y[r * d + k] = x[r * d + k] - mu;
    }
}

static mn_status mean_subtract_forward(mn_module *m, const mn_value *in, int threads)
{
    (void)threads;
    MN_TRY(one_input(m, in));
    const mn_tensor *x = in->t[0];
    MN_TRY(alloc_like(&m->out, &m->owns_out, x));
    mn_mat X = mn_tensor_rows(x);
    subtract_row_means(m->out.t[0]->data, x->data, X.rows, X.cols);
    return MN_OK;
}

/* The map is a projection (symmetric), so its backward is the same map. */
static mn_status mean_subtract_backward(mn_module *m, const mn_value *dout, int threads)
{
    (void)threads;
    const mn_tensor *x = m->in.t[0];
    MN_TRY(alloc_like(&m->din, &m->owns_din, x));
    mn_mat X = mn_tensor_rows(x);
    subtract_row_means(m->din.t[0]->data, dout->t[0]->data, X.rows, X.cols);
    return MN_OK;
}

static const mn_module_ops mean_subtract_ops = {"MeanSubtract", same_features,
                                                mean_subtract_forward, mean_subtract_backward, NULL};

mn_status mn_mean_subtract(mn_module **out) { return mn_module_new(out, &mean_subtract_ops, 0, 1); }

/* ---- RMSDivide: y = x / rms(x), rms = √(mean(x²) + ε) over features ---- */

static mn_status rms_divide_forward(mn_module *m, const mn_value *in, int threads)
{
    (void)threads;
    MN_TRY(one_input(m, in));
    const mn_tensor *x = in->t[0];
    MN_TRY(alloc_like(&m->out, &m->owns_out, x));
    mn_mat X = mn_tensor_rows(x);
    MN_TRY(mn_tensor_ensure(&m->scratch, 1, &X.rows));
    float *y = m->out.t[0]->data, *rms = m->scratch->data;
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
static mn_status rms_divide_backward(mn_module *m, const mn_value *dout, int threads)
{
    (void)threads;
    const mn_tensor *x = m->in.t[0];
    MN_TRY(alloc_like(&m->din, &m->owns_din, x));
    mn_mat X = mn_tensor_rows(x);
    const float *y = m->out.t[0]->data, *dy = dout->t[0]->data, *rms = m->scratch->data;
    float *dx = m->din.t[0]->data;
    int64_t d = X.cols;
    for (int64_t r = 0; r < X.rows; r++) {
        double s = 0;
        for (int64_t k = 0; k < d; k++)
            s += (double)dy[r * d + k] * y[r * d + k];
        double c = s / (double)d;
        for (int64_t k = 0; k < d; k++)
            dx[r * d + k] = (float)((dy[r * d + k] - y[r * d + k] * c) / rms[r]);
    }
    return MN_OK;
}

static const mn_module_ops rms_divide_ops = {"RMSDivide", same_features, rms_divide_forward,
                                             rms_divide_backward, NULL};

/* ν = 1 is a convention: x/rms(x) has no global Lipschitz bound near 0. */
mn_status mn_rms_divide(mn_module **out) { return mn_module_new(out, &rms_divide_ops, 0, 1); }
