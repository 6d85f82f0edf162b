/* The attention bonds: SplitHeads, MergeHeads, RoPE, Scores, CausalMask,
 * Softmax, ApplyScores (module.h lists them with their sensitivities). They
 * build modula's attention (examples/gpt.mn):
 *
 *   Q, K, V   = SplitHeads(h) ∘ Linear(h·dh ← d)
 *   scores    = Softmax ∘ CausalMask ∘ Scores ∘ (RoPE ∘ Q, RoPE ∘ K)
 *   attention = Linear(d ← h·dh) ∘ MergeHeads ∘ (1/3)·ApplyScores ∘ (V, scores)
 *
 * Shapes (attention.h): a projection (B, T, h·dh) is seen by SplitHeads as
 * heads (B, T, h, dh) without a copy; scores are (B, h, T, T). The kernels
 * are in attention.c. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "modules/attention.h"
#include "modules/kinds.h"
#include "modules/module.h"

#define ROPE_BASE 10000.0

static mn_status shape_fail(const mn_module *m, const char *what)
{
    char buf[64];
    return mn_fail(MN_ERR_SHAPE, "%s: %s", mn_module_describe(m, buf, sizeof buf), what);
}

/* The heads of a (B, T, h, dh) tensor. */
static mn_attn_dims heads_dims(const mn_tensor *x)
{
    return (mn_attn_dims){x->shape[0], x->shape[1], x->shape[2], x->shape[3]};
}

/* ---- SplitHeads(h): (B, T, h·dh) → (B, T, h, dh), a view -------------------- */

typedef struct {
    int64_t h;
} heads_state;

static int64_t heads_of(const mn_module *m) { return ((const heads_state *)m->state)->h; }

static mn_status split_features(const mn_module *m, int n, const int64_t *in, int64_t *out)
{
    int64_t h = heads_of(m);
    *out = -1;
    if (n > 0 && in[0] >= 0) {
        if (in[0] % h != 0) {
            char buf[64];
            return mn_fail(MN_ERR_SHAPE, "%s: %lld features do not split into %lld heads",
                           mn_module_describe(m, buf, sizeof buf), (long long)in[0],
                           (long long)h);
        }
        *out = in[0] / h;
    }
    return MN_OK;
}

static mn_status split_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)n;
    int64_t h = heads_of(m);
    if (in[0].ndim != 3)
        return shape_fail(m, "expects a (batch, positions, features) input");
    if (in[0].dim[2] % h != 0)
        return shape_fail(m, "the features do not split evenly into the heads");
    p->out.ndim = 4;
    p->out.dim[2] = h;
    p->out.dim[3] = in[0].dim[2] / h;
    p->out_is_view = p->din_is_view = true;
    return MN_OK;
}

static int heads_args(const mn_module *m, double *a, int cap)
{
    if (cap >= 1)
        a[0] = (double)heads_of(m);
    return 1;
}

static const mn_module_ops split_heads_ops = {
    .kind = "SplitHeads", .state_size = sizeof(heads_state), .features = split_features,
    .plan = split_plan, .args = heads_args};

/* A reshape: ν = 1 exactly (the same numbers). */
mn_status mn_split_heads(mn_module **out, int64_t heads)
{
    if (out)
        *out = NULL;
    if (heads < 1 || heads > (1 << 20))
        return mn_fail(MN_ERR_ARG, "SplitHeads: %lld heads; need 1 to 2^20", (long long)heads);
    return mn_bond_create(out, &split_heads_ops, &(heads_state){heads}, 1);
}

/* ---- MergeHeads: (B, T, h, dh) → (B, T, h·dh), a view ---------------------- */

static mn_status merge_features(const mn_module *m, int n, const int64_t *in, int64_t *out)
{
    (void)m;
    (void)n;
    (void)in;
    *out = -1; /* h·dh: the head count is known at run time */
    return MN_OK;
}

static mn_status merge_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)n;
    if (in[0].ndim != 4)
        return shape_fail(m, "expects heads (batch, positions, heads, head size)");
    p->out.ndim = 3;
    p->out.dim[2] = in[0].dim[2] * in[0].dim[3];
    p->out_is_view = p->din_is_view = true;
    return MN_OK;
}

static const mn_module_ops merge_heads_ops = {.kind = "MergeHeads", .features = merge_features,
                                              .plan = merge_plan};

mn_status mn_merge_heads(mn_module **out) { return mn_bond_create(out, &merge_heads_ops, NULL, 1); }

/* ---- RoPE(dh, context): rotary position embedding on heads ----------------- */

typedef struct {
    int64_t dh, context;
} rope_state;

static const rope_state *rope_of(const mn_module *m) { return m->state; }

static mn_status rope_features(const mn_module *m, int n, const int64_t *in, int64_t *out)
{
    const rope_state *s = rope_of(m);
    if (n > 0 && in[0] >= 0 && in[0] != s->dh) {
        char buf[64];
        return mn_fail(MN_ERR_SHAPE, "%s: heads of %lld features, expected %lld",
                       mn_module_describe(m, buf, sizeof buf), (long long)in[0],
                       (long long)s->dh);
    }
    *out = s->dh;
    return MN_OK;
}

/* The cos/sin table of the T positions seen lives in the saved floats: the
 * network sizes it for the input, and a module holds no memory of its own
 * (a graph file may make thousands of copies). */
static mn_status rope_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)n;
    const rope_state *s = rope_of(m);
    if (in[0].ndim != 4 || in[0].dim[3] != s->dh)
        return shape_fail(m, "expects heads (batch, positions, heads, head size) of its head "
                          "size");
    if (in[0].dim[1] > s->context) {
        char buf[64];
        return mn_fail(MN_ERR_SHAPE, "%s: %lld positions, more than its context of %lld",
                       mn_module_describe(m, buf, sizeof buf), (long long)in[0].dim[1],
                       (long long)s->context);
    }
    p->saved = in[0].dim[1] * s->dh; /* cos and sin, each (T, dh/2) */
    return MN_OK;
}

static mn_status rope_forward(mn_module *m, const mn_module_call *c)
{
    mn_attn_dims d = heads_dims(c->in[0]);
    mn_rope_table(c->saved, d.T, rope_of(m)->dh, ROPE_BASE);
    mn_rope_apply(c->out->data, c->in[0]->data, c->saved, d.T, d, false, c->threads);
    return MN_OK;
}

/* A rotation: its transpose (the backward) rotates by the opposite angle. */
static mn_status rope_backward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    mn_attn_dims d = heads_dims(c->in[0]);
    mn_rope_apply(c->din[0]->data, c->dout->data, c->saved, d.T, d, true, c->threads);
    return MN_OK;
}

static int rope_args(const mn_module *m, double *a, int cap)
{
    if (cap >= 2) {
        a[0] = (double)rope_of(m)->dh;
        a[1] = (double)rope_of(m)->context;
    }
    return 2;
}

static const mn_module_ops rope_ops = {
    .kind = "RoPE", .state_size = sizeof(rope_state), .features = rope_features,
    .plan = rope_plan, .forward = rope_forward, .backward = rope_backward, .args = rope_args};

/* A rotation of each pair, an isometry per position: ν = 1 exactly. */
mn_status mn_rope(mn_module **out, int64_t d_head, int64_t context)
{
    if (out)
        *out = NULL;
    if (d_head < 2 || d_head % 2 != 0 || d_head > (1 << 20))
        return mn_fail(MN_ERR_ARG, "RoPE: the head size %lld must be even, 2 to 2^20",
                       (long long)d_head);
    if (context < 1 || context > (1 << 20))
        return mn_fail(MN_ERR_ARG, "RoPE: the context %lld must be 1 to 2^20", (long long)context);
    return mn_bond_create(out, &rope_ops, &(rope_state){d_head, context}, 1);
}

/* ---- Scores(scale): S = scale·Q Kᵀ per head, scale 1/dh by default --------- */

typedef struct {
    double scale; /* 0: 1/dh */
} scale_state;

static double scale_of(const mn_module *m) { return ((const scale_state *)m->state)->scale; }

static double scores_scale(const mn_module *m, int64_t dh)
{
    return scale_of(m) > 0 ? scale_of(m) : 1.0 / (double)dh;
}

static mn_status scores_features(const mn_module *m, int n, const int64_t *in, int64_t *out)
{
    if (n == 2 && in[0] >= 0 && in[1] >= 0 && in[0] != in[1]) {
        char buf[64];
        return mn_fail(MN_ERR_SHAPE, "%s: queries of %lld features but keys of %lld",
                       mn_module_describe(m, buf, sizeof buf), (long long)in[0],
                       (long long)in[1]);
    }
    *out = -1; /* the positions, known at run time */
    return MN_OK;
}

static mn_status scores_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)n;
    if (in[0].ndim != 4 || in[1].ndim != 4 ||
        memcmp(in[0].dim, in[1].dim, 4 * sizeof in[0].dim[0]) != 0)
        return shape_fail(m, "expects queries and keys of one shape (batch, positions, heads, "
                          "head size)");
    p->out.ndim = 4;
    p->out.dim[0] = in[0].dim[0];
    p->out.dim[1] = in[0].dim[2];
    p->out.dim[2] = in[0].dim[1];
    p->out.dim[3] = in[0].dim[1];
    return MN_OK;
}

static mn_status scores_forward(mn_module *m, const mn_module_call *c)
{
    mn_attn_dims d = heads_dims(c->in[0]);
    return mn_attn_scores(c->out->data, c->in[0]->data, c->in[1]->data, d,
                          scores_scale(m, d.dh), c->threads);
}

static mn_status scores_backward(mn_module *m, const mn_module_call *c)
{
    mn_attn_dims d = heads_dims(c->in[0]);
    return mn_attn_scores_backward(c->din[0] ? c->din[0]->data : NULL,
                                   c->din[1] ? c->din[1]->data : NULL, c->dout->data,
                                   c->in[0]->data, c->in[1]->data, d, scores_scale(m, d.dh),
                                   c->threads);
}

static int scale_args(const mn_module *m, double *a, int cap)
{
    if (scale_of(m) == 0)
        return 0;
    if (cap >= 1)
        a[0] = scale_of(m);
    return 1;
}

static const mn_module_ops scores_ops = {
    .kind = "Scores", .arity = 2, .state_size = sizeof(scale_state),
    .features = scores_features, .plan = scores_plan, .forward = scores_forward,
    .backward = scores_backward, .args = scale_args};

/* ν = 1 is modula's convention, not a bound: q·kᵀ is bilinear, so no global
 * Lipschitz constant exists. What 1/dh buys: for heads of RMS at most 1,
 * |q·k|/dh ≤ ‖q‖_RMS·‖k‖_RMS ≤ 1 whatever the head size (1/√dh would let
 * the scores grow as √dh). */
mn_status mn_scores(mn_module **out, double scale)
{
    if (out)
        *out = NULL;
    if (!(scale >= 0) || !isfinite(scale))
        return mn_fail(MN_ERR_ARG, "Scores: the scale %g must be positive and finite (0: 1/dh)",
                       scale);
    return mn_bond_create(out, &scores_ops, &(scale_state){scale}, 1);
}

/* ---- CausalMask: −∞ where a position would attend to a later one ----------- */

static mn_status mask_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)n;
    (void)p;
    if (in[0].ndim < 2 || in[0].dim[in[0].ndim - 1] != in[0].dim[in[0].ndim - 2])
        return shape_fail(m, "expects square (…, positions, positions) scores");
    return MN_OK;
}

/* y = x where s ≤ t, else −∞ (or, for the backward, 0): rows of T, shared
 * among `threads`. */
static void mask_rows(float *y, const float *x, int64_t rows, int64_t T, float fill, int threads)
{
    int nt = mn_elementwise_threads(threads, rows * T);
    (void)nt; /* unused without OpenMP */
    MN_PARALLEL_FOR_RANGES(nt)
    for (int64_t r = 0; r < rows; r++) {
        int64_t t = r % T;
        memcpy(y + r * T, x + r * T, (size_t)(t + 1) * sizeof *y);
        for (int64_t s = t + 1; s < T; s++)
            y[r * T + s] = fill;
    }
}

static mn_status mask_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    mn_mat X = mn_tensor_rows(c->in[0]);
    mask_rows(c->out->data, c->in[0]->data, X.rows, X.cols, -INFINITY, c->threads);
    return MN_OK;
}

static mn_status mask_backward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    mn_mat X = mn_tensor_rows(c->in[0]);
    mask_rows(c->din[0]->data, c->dout->data, X.rows, X.cols, 0.0f, c->threads);
    return MN_OK;
}

static const mn_module_ops causal_mask_ops = {.kind = "CausalMask", .plan = mask_plan,
                                              .forward = mask_forward,
                                              .backward = mask_backward};

/* ν = 1 is modula's convention: the map sends entries to −∞, so it is not
 * Lipschitz in any norm; what follows (softmax) reads −∞ as weight 0. */
mn_status mn_causal_mask(mn_module **out) { return mn_bond_create(out, &causal_mask_ops, NULL, 1); }

/* ---- Softmax(scale): y = softmax(scale·x) over the last dimension ---------- */

static mn_status softmax_forward(mn_module *m, const mn_module_call *c)
{
    mn_mat X = mn_tensor_rows(c->in[0]);
    mn_softmax_rows(c->out->data, c->in[0]->data, X.rows, X.cols, scale_of(m), c->threads);
    return MN_OK;
}

static mn_status softmax_backward(mn_module *m, const mn_module_call *c)
{
    mn_mat X = mn_tensor_rows(c->in[0]);
    mn_softmax_rows_backward(c->din[0]->data, c->out->data, c->dout->data, X.rows, X.cols,
                             scale_of(m), c->threads);
    return MN_OK;
}

static int softmax_args(const mn_module *m, double *a, int cap)
{
    if (cap >= 1)
        a[0] = scale_of(m);
    return 1;
}

static const mn_module_ops softmax_ops = {
    .kind = "Softmax", .state_size = sizeof(scale_state), .forward = softmax_forward,
    .backward = softmax_backward, .args = softmax_args};

bool mn_softmax_scale_of(const mn_module *m, double *scale)
{
    if (m->compound != MN_LEAF || m->ops != &softmax_ops)
        return false;
    *scale = scale_of(m);
    return true;
}

/* ν = 1 by modula's convention. Per row, the Jacobian scale·(diag y − y yᵀ)
 * has ℓ2 operator norm at most scale/2, so for scale ≤ 2 the convention
 * bounds the ℓ2 → ℓ2 Lipschitz constant of each row. */
mn_status mn_softmax(mn_module **out, double scale)
{
    if (out)
        *out = NULL;
    if (!(scale > 0) || !isfinite(scale))
        return mn_fail(MN_ERR_ARG, "Softmax: the scale %g must be positive and finite", scale);
    return mn_bond_create(out, &softmax_ops, &(scale_state){scale}, 1);
}

/* ---- ApplyScores: (V, A) → A·V per head ------------------------------------ */

static mn_status apply_features(const mn_module *m, int n, const int64_t *in, int64_t *out)
{
    (void)m;
    *out = n > 0 ? in[0] : -1;
    return MN_OK;
}

static mn_status apply_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)n;
    const mn_shape *v = &in[0], *a = &in[1];
    if (v->ndim != 4 || a->ndim != 4 || a->dim[0] != v->dim[0] || a->dim[1] != v->dim[2] ||
        a->dim[2] != v->dim[1] || a->dim[3] != v->dim[1])
        return shape_fail(m, "expects values (batch, positions, heads, head size) and scores "
                          "(batch, heads, positions, positions) of the same sizes");
    p->out = *v;
    return MN_OK;
}

static mn_status apply_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    return mn_attn_apply(c->out->data, c->in[1]->data, c->in[0]->data, heads_dims(c->in[0]),
                         c->threads);
}

static mn_status apply_backward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    return mn_attn_apply_backward(c->din[1] ? c->din[1]->data : NULL,
                                  c->din[0] ? c->din[0]->data : NULL, c->dout->data,
                                  c->in[1]->data, c->in[0]->data, heads_dims(c->in[0]),
                                  c->threads);
}

static const mn_module_ops apply_scores_ops = {
    .kind = "ApplyScores", .arity = 2, .features = apply_features, .plan = apply_plan,
    .forward = apply_forward, .backward = apply_backward};

/* ν = 1 by modula's convention: A·V is bilinear. For fixed rows of A that
 * are probabilities, V ↦ A·V averages values and is 1-Lipschitz in the
 * max-over-positions RMS norm; the pair (V, A) counts 1 + 2 in the tuple
 * before it, which the 1/3 of gpt.mn's attention corrects. */
mn_status mn_apply_scores(mn_module **out)
{
    return mn_bond_create(out, &apply_scores_ops, NULL, 1);
}

/* ---- makers ----------------------------------------------------------------- */

/* A whole positive number up to 2^20, or an error naming the kind. */
static mn_status whole(const char *kind, const char *what, double v, int64_t *out)
{
    if (!(v >= 1 && v <= (1 << 20)) || v != floor(v))
        return mn_fail(MN_ERR_ARG, "%s: %s %.17g is not a whole number in [1, 2^20]", kind, what,
                       v);
    *out = (int64_t)v;
    return MN_OK;
}

static mn_status make_split(mn_module **out, int argc, const double *a)
{
    (void)argc;
    int64_t h = 0;
    MN_TRY(whole("SplitHeads", "the head count", a[0], &h));
    return mn_split_heads(out, h);
}

static mn_status make_merge(mn_module **out, int argc, const double *a)
{
    (void)argc;
    (void)a;
    return mn_merge_heads(out);
}

static mn_status make_rope(mn_module **out, int argc, const double *a)
{
    (void)argc;
    int64_t dh = 0, ctx = 0;
    MN_TRY(whole("RoPE", "the head size", a[0], &dh));
    MN_TRY(whole("RoPE", "the context", a[1], &ctx));
    return mn_rope(out, dh, ctx);
}

static mn_status make_scores(mn_module **out, int argc, const double *a)
{
    if (argc == 1 && !(a[0] > 0))
        return mn_fail(MN_ERR_ARG, "Scores: the scale %g must be positive (Scores alone: 1/dh)",
                       a[0]);
    return mn_scores(out, argc ? a[0] : 0);
}

static mn_status make_mask(mn_module **out, int argc, const double *a)
{
    (void)argc;
    (void)a;
    return mn_causal_mask(out);
}

static mn_status make_softmax(mn_module **out, int argc, const double *a)
{
    return mn_softmax(out, argc ? a[0] : 1.0);
}

static mn_status make_apply(mn_module **out, int argc, const double *a)
{
    (void)argc;
    (void)a;
    return mn_apply_scores(out);
}

const mn_module_maker mn_attention_makers[] = {
    {"SplitHeads", "SplitHeads(heads)", 1, 1, make_split},
    {"MergeHeads", "MergeHeads", 0, 0, make_merge},
    {"RoPE", "RoPE(head_size, context)", 2, 2, make_rope},
    {"Scores", "Scores or Scores(scale) (default 1/head_size)", 0, 1, make_scores},
    {"CausalMask", "CausalMask", 0, 0, make_mask},
    {"Softmax", "Softmax or Softmax(scale) (default 1)", 0, 1, make_softmax},
    {"ApplyScores", "ApplyScores", 0, 0, make_apply},
};
const size_t mn_attention_maker_count =
    sizeof mn_attention_makers / sizeof mn_attention_makers[0];
