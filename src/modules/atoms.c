/* Atoms: Linear and Embed. Shapes in comments use rows = batch·positions. */
#include <math.h>
#include <string.h>

#include "core/blas.h"
#include "core/error.h"
#include "core/size.h"
#include "modules/module.h"
#include "norms/spectral.h"

static mn_status need_one_input(const mn_module *m, const mn_value *in)
{
    if (in->n != 1 || !in->t[0])
        return mn_fail(MN_ERR_ARG, "%s takes one tensor, got a %d-tuple", mn_module_kind(m),
                       in->n);
    return MN_OK;
}

/* ---- Linear: y = x Wᵀ; x is (rows, d_in), W is (d_out, d_in) ----------- */

static mn_status linear_out_features(const mn_module *m, int64_t in, int64_t *out)
{
    char buf[64];
    if (in >= 0 && in != m->d_in)
        return mn_fail(MN_ERR_SHAPE, "%s expects %lld input features but receives %lld",
                       mn_module_describe(m, buf, sizeof buf), (long long)m->d_in, (long long)in);
    *out = m->d_out;
    return MN_OK;
}

static mn_status linear_forward(mn_module *m, const mn_value *in, int threads)
{
    MN_TRY(need_one_input(m, in));
    const mn_tensor *x = in->t[0];
    MN_TRY(linear_out_features(m, x->shape[x->ndim - 1], &(int64_t){0}));
    int64_t shape[MN_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = m->d_out;
    m->owns_out = true;
    m->out.n = 1;
    MN_TRY(mn_tensor_ensure(&m->out.t[0], x->ndim, shape));
    mn_mat X = mn_tensor_rows(x), Y = mn_tensor_rows(m->out.t[0]);
    mn_mat Wt = mn_mat_transpose(mn_module_weight_view(m, m->w));
    return mn_blas_gemm(1.0, &X, &Wt, 0.0, &Y, threads);
}

static mn_status linear_backward(mn_module *m, const mn_value *dout, int threads)
{
    const mn_tensor *x = m->in.t[0];
    mn_mat X = mn_tensor_rows(x), DY = mn_tensor_rows(dout->t[0]);
    mn_mat DYt = mn_mat_transpose(DY);
    mn_mat G = mn_module_weight_view(m, m->g);
    MN_TRY(mn_blas_gemm(1.0, &DYt, &X, 1.0, &G, threads)); /* dW += dyᵀ x */
    if (m->input_is_data) { /* nothing upstream wants dx: skip a third of the flops */
        m->din.n = 0;
        return MN_OK;
    }
    m->owns_din = true;
    m->din.n = 1;
    MN_TRY(mn_tensor_ensure(&m->din.t[0], x->ndim, x->shape));
    mn_mat DX = mn_tensor_rows(m->din.t[0]);
    mn_mat W = mn_module_weight_view(m, m->w);
    return mn_blas_gemm(1.0, &DY, &W, 0.0, &DX, threads); /* dx = dy W */
}

/* Modular: orthogonal × √(d_out/d_in), a point of the RMS→RMS unit sphere.
 * SP: PyTorch's nn.Linear default, U(−1/√d_in, 1/√d_in). */
static mn_status linear_init(mn_module *m, mn_rng *rng, mn_param param)
{
    mn_mat W = mn_module_weight_view(m, m->w);
    if (param == MN_PARAM_SP) {
        double bound = 1.0 / sqrt((double)m->d_in);
        for (int64_t i = 0; i < W.rows; i++)
            for (int64_t j = 0; j < W.cols; j++)
                mn_mat_set(&W, i, j, bound * (2 * mn_rng_uniform(rng) - 1));
        return MN_OK;
    }
    mn_rng_fill_normal(rng, &W);
    MN_TRY(mn_spectral_polar_exact(&W, &W));
    mn_mat_scale(&W, sqrt((double)m->d_out / (double)m->d_in));
    return MN_OK;
}

static const mn_module_ops linear_ops = {"Linear", linear_out_features, linear_forward,
                                         linear_backward, linear_init};

static mn_status new_atom(mn_module **out, const mn_module_ops *ops, int64_t d_out, int64_t d_in,
                          const char *norm)
{
    if (d_out < 1 || d_in < 1)
        return mn_fail(MN_ERR_ARG, "%s: sizes (%lld, %lld) must be positive", ops->kind,
                       (long long)d_out, (long long)d_in);
    int64_t count; /* its weights must fit one float buffer */
    MN_TRY(mn_checked_count(ops->kind, MN_ERR_ARG, 2, (const int64_t[]){d_out, d_in},
                            sizeof(float), &count));
    MN_TRY(mn_module_new(out, ops, 1.0, 1.0));
    (*out)->d_out = d_out;
    (*out)->d_in = d_in;
    return mn_norm_lookup(norm, &(*out)->norm);
}

mn_status mn_linear(mn_module **out, int64_t d_out, int64_t d_in)
{
    return new_atom(out, &linear_ops, d_out, d_in, "rms-rms");
}

/* ---- Embed: y[r] = W[:, tok[r]]; W is (d, vocab), stored (vocab, d) ----- */

static mn_status embed_out_features(const mn_module *m, int64_t in, int64_t *out)
{
    (void)in; /* token ids: any trailing size */
    *out = m->d_out;
    return MN_OK;
}

static mn_status embed_forward(mn_module *m, const mn_value *in, int threads)
{
    (void)threads;
    MN_TRY(need_one_input(m, in));
    const mn_tensor *x = in->t[0];
    if (x->ndim >= MN_MAX_DIMS)
        return mn_fail(MN_ERR_SHAPE, "Embed: token tensor has %d dims, at most %d", x->ndim,
                       MN_MAX_DIMS - 1);
    int64_t shape[MN_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim] = m->d_out;
    m->owns_out = true;
    m->out.n = 1;
    MN_TRY(mn_tensor_ensure(&m->out.t[0], x->ndim + 1, shape));
    int64_t n = mn_tensor_numel(x), d = m->d_out;
    for (int64_t r = 0; r < n; r++) {
        float v = x->data[r];
        if (!(v >= 0 && v < (float)m->d_in) || v != floorf(v))
            return mn_fail(MN_ERR_ARG, "Embed: token %g at position %lld is not an id in [0, %lld)",
                           (double)v, (long long)r, (long long)m->d_in);
        memcpy(m->out.t[0]->data + r * d, m->w + (int64_t)v * d, (size_t)d * sizeof(float));
    }
    return MN_OK;
}

static mn_status embed_backward(mn_module *m, const mn_value *dout, int threads)
{
    (void)threads;
    const mn_tensor *x = m->in.t[0];
    int64_t n = mn_tensor_numel(x), d = m->d_out;
    const float *dy = dout->t[0]->data;
    for (int64_t r = 0; r < n; r++) {
        float *g = m->g + (int64_t)x->data[r] * d;
        for (int64_t k = 0; k < d; k++)
            g[k] += dy[r * d + k];
    }
    m->din.n = 0; /* token ids have no gradient */
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

static const mn_module_ops embed_ops = {"Embed", embed_out_features, embed_forward,
                                        embed_backward, embed_init};

mn_status mn_embed(mn_module **out, int64_t vocab, int64_t d)
{
    MN_TRY(new_atom(out, &embed_ops, d, vocab, "l1-rms"));
    (*out)->transposed = true;
    return MN_OK;
}
