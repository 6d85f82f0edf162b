/* Atoms: Linear and Embed. Shapes in comments use rows = batch·positions. */
#include <math.h>
#include <string.h>

#include "core/blas.h"
#include "core/error.h"
#include "modules/kinds.h"
#include "modules/module.h"
#include "norms/spectral.h"

/* ---- Linear: y = x Wᵀ; x is (rows, d_in), W is (d_out, d_in) ----------- */

static mn_status linear_mismatch(const mn_module *m, int64_t in)
{
    char buf[64];
    return mn_fail(MN_ERR_SHAPE, "%s expects %lld input features but receives %lld",
                   mn_module_describe(m, buf, sizeof buf), (long long)m->d_in, (long long)in);
}

static mn_status linear_features(const mn_module *m, int n, const int64_t *in, int64_t *out)
{
    if (n > 0 && in[0] >= 0 && in[0] != m->d_in)
        return linear_mismatch(m, in[0]);
    *out = m->d_out;
    return MN_OK;
}

static mn_status linear_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)n;
    if (in[0].dim[in[0].ndim - 1] != m->d_in)
        return linear_mismatch(m, in[0].dim[in[0].ndim - 1]);
    p->out.dim[p->out.ndim - 1] = m->d_out;
    return MN_OK;
}

/* C = A·B + beta·C in the network's product precision. */
static mn_status linear_product(const mn_module_call *c, const mn_mat *A, const mn_mat *B,
                                double beta, mn_mat *C)
{
    return mn_mat_gemm(1.0, A, B, beta, C, c->precision, c->threads);
}

static mn_status linear_forward(mn_module *m, const mn_module_call *c)
{
    mn_mat X = mn_tensor_rows(c->in[0]), Y = mn_tensor_rows(c->out);
    mn_mat Wt = mn_mat_transpose(mn_module_weight_view(m, m->w));
    return linear_product(c, &X, &Wt, 0.0, &Y);
}

static mn_status linear_backward(mn_module *m, const mn_module_call *c)
{
    mn_mat X = mn_tensor_rows(c->in[0]), DY = mn_tensor_rows(c->dout);
    mn_mat DYt = mn_mat_transpose(DY);
    mn_mat G = mn_module_weight_view(m, m->g);
    MN_TRY(linear_product(c, &DYt, &X, 1.0, &G)); /* dW += dyᵀ x */
    if (!c->din[0]) /* nothing upstream wants dx: skip a third of the flops */
        return MN_OK;
    mn_mat DX = mn_tensor_rows(c->din[0]);
    mn_mat W = mn_module_weight_view(m, m->w);
    return linear_product(c, &DY, &W, 0.0, &DX); /* dx = dy W */
}

/* Modular: orthogonal × √(d_out/d_in), a point of the RMS→RMS unit sphere.
 * SP: PyTorch's nn.Linear default, U(−1/√d_in, 1/√d_in). */
static mn_status linear_init(mn_module *m, mn_rng *rng, mn_param param)
{
    mn_mat W = mn_module_weight_view(m, m->w);
    if (param == MN_PARAM_SP) {
        mn_init_uniform_fan_in(&W, rng); /* W.cols = d_in */
        return MN_OK;
    }
    mn_rng_fill_normal(rng, &W);
    MN_TRY(mn_spectral_polar_exact(&W, &W));
    mn_mat_scale(&W, sqrt((double)m->d_out / (double)m->d_in));
    return MN_OK;
}

static int atom_args(const mn_module *m, double *a, int cap)
{
    if (cap >= 2) {
        a[0] = (double)m->d_out;
        a[1] = (double)m->d_in;
    }
    return 2;
}

static const mn_module_ops linear_ops = {
    .kind = "Linear", .features = linear_features, .plan = linear_plan,
    .forward = linear_forward, .backward = linear_backward, .init = linear_init,
    .args = atom_args};

static mn_status new_atom(mn_module **out, const mn_module_ops *ops, int64_t d_out, int64_t d_in,
                          const char *norm_name)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "%s: out is NULL", ops->kind);
    *out = NULL;
    const mn_norm *norm;
    MN_TRY(mn_norm_lookup(norm_name, &norm));
    return mn_atom_create(out, ops, NULL, d_out, d_in, norm, 1.0);
}

mn_status mn_linear(mn_module **out, int64_t d_out, int64_t d_in)
{
    return new_atom(out, &linear_ops, d_out, d_in, "rms-rms");
}

/* ---- Embed: y[r] = W[:, tok[r]]; W is (d, vocab), stored (vocab, d) ----- */

static mn_status embed_features(const mn_module *m, int n, const int64_t *in, int64_t *out)
{
    (void)n; /* token ids: any trailing size */
    (void)in;
    *out = m->d_out;
    return MN_OK;
}

static mn_status embed_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)n;
    if (in[0].ndim >= MN_MAX_DIMS)
        return mn_fail(MN_ERR_SHAPE, "Embed: token tensor has %d dims, at most %d", in[0].ndim,
                       MN_MAX_DIMS - 1);
    p->out.dim[p->out.ndim++] = m->d_out;
    p->no_din = true; /* token ids have no gradient */
    return MN_OK;
}

static mn_status embed_forward(mn_module *m, const mn_module_call *c)
{
    const mn_tensor *x = c->in[0];
    int64_t n = mn_tensor_numel(x), d = m->d_out;
    for (int64_t r = 0; r < n; r++) {
        float v = x->data[r];
        if (!(v >= 0 && v < (float)m->d_in) || v != floorf(v))
            return mn_fail(MN_ERR_ARG, "Embed: token %g at position %lld is not an id in [0, %lld)",
                           (double)v, (long long)r, (long long)m->d_in);
        memcpy(c->out->data + r * d, m->w + (int64_t)v * d, (size_t)d * sizeof(float));
    }
    return MN_OK;
}

static mn_status embed_backward(mn_module *m, const mn_module_call *c)
{
    const mn_tensor *x = c->in[0];
    int64_t n = mn_tensor_numel(x), d = m->d_out;
    const float *dy = c->dout->data;
    for (int64_t r = 0; r < n; r++) {
        float *g = m->g + (int64_t)x->data[r] * d;
        for (int64_t k = 0; k < d; k++)
            g[k] += dy[r * d + k];
    }
    return MN_OK;
}

/* Modular: every embedding vector (a column of the (d, vocab) matrix) has RMS
 * 1. SP: PyTorch's nn.Embedding default, N(0, 1). */
static mn_status embed_init(mn_module *m, mn_rng *rng, mn_param param)
{
    int64_t d = m->d_out;
    for (int64_t t = 0; t < m->d_in; t++) {
        float *v = m->w + t * d;
        double ss = 0;
        for (int64_t k = 0; k < d; k++) {
            v[k] = (float)mn_rng_normal(rng);
            ss += (double)v[k] * v[k];
        }
        if (param == MN_PARAM_MODULAR && ss > 0)
            for (int64_t k = 0; k < d; k++)
                v[k] = (float)(v[k] * sqrt((double)d / ss));
    }
    return MN_OK;
}

/* Stored as vocab rows of d: the (d, vocab) matrix the norm sees is its
 * transpose. */
static mn_mat embed_weight_view(const mn_module *m, float *p)
{
    return mn_mat_transpose(mn_mat_view(MN_F32, p, m->d_in, m->d_out));
}

static int embed_args(const mn_module *m, double *a, int cap)
{
    if (cap >= 2) {
        a[0] = (double)m->d_in; /* Embed(vocab, d) */
        a[1] = (double)m->d_out;
    }
    return 2;
}

static const mn_module_ops embed_ops = {
    .kind = "Embed", .features = embed_features, .plan = embed_plan,
    .forward = embed_forward, .backward = embed_backward, .init = embed_init,
    .weight_view = embed_weight_view, .args = embed_args};

mn_status mn_embed(mn_module **out, int64_t vocab, int64_t d)
{
    return new_atom(out, &embed_ops, d, vocab, "l1-rms");
}

/* ---- makers: the text forms Linear(d_out, d_in) and Embed(vocab, d) ----- */

static mn_status make_linear(mn_module **out, int argc, const double *a)
{
    int64_t s[2];
    MN_TRY(mn_kind_sizes("Linear", argc, a, s));
    return mn_linear(out, s[0], s[1]);
}

static mn_status make_embed(mn_module **out, int argc, const double *a)
{
    int64_t s[2];
    MN_TRY(mn_kind_sizes("Embed", argc, a, s));
    return mn_embed(out, s[0], s[1]);
}

const mn_module_maker mn_linear_maker = {"Linear", "Linear(d_out, d_in)", 2, 2, make_linear};
const mn_module_maker mn_embed_maker = {"Embed", "Embed(vocab, d)", 2, 2, make_embed};
