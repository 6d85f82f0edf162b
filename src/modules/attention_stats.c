/* mn_network_attention_stats (modnorm/attention.h): the largest scaled score
 * and the share of exact zeros among the allowed weights of every Softmax
 * over (B, h, T, T) scores, read through the network's visitor. */
#include <math.h>

#include "core/error.h"
#include "modnorm/attention.h"
#include "modules/attention.h"

typedef struct stats_walk {
    mn_attention_stats *out;
    int cap, n;
} stats_walk;

static mn_status visit(void *ctx, const mn_module_visit *v)
{
    stats_walk *w = ctx;
    double scale;
    if (!mn_softmax_scale_of(v->module, &scale) || v->n_inputs != 1 || v->n_outputs != 1)
        return MN_OK;
    const mn_tensor *x = v->inputs[0], *y = v->outputs[0];
    if (x->ndim != 4 || x->shape[2] != x->shape[3])
        return MN_OK;
    mn_attention_stats s = {.layer = w->n, .max_score = -INFINITY};
    int64_t zeros = 0, n = mn_tensor_numel(x);
    float best = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        if (x->data[i] == -INFINITY)
            continue;
        s.allowed++;
        best = x->data[i] > best ? x->data[i] : best;
        zeros += y->data[i] == 0.0f;
    }
    if (s.allowed > 0) {
        s.max_score = scale * (double)best;
        s.zero_share = (double)zeros / (double)s.allowed;
    }
    if (w->n < w->cap)
        w->out[w->n] = s;
    w->n++;
    return MN_OK;
}

mn_status mn_network_attention_stats(mn_network *net, const mn_tensor *x,
                                     mn_attention_stats *out, int cap, int *n_layers)
{
    if (!net || !x || !n_layers)
        return mn_fail(MN_ERR_ARG, "mn_network_attention_stats: %s is NULL",
                       !net ? "net" : !x ? "x" : "n_layers");
    *n_layers = 0;
    if (cap < 0 || (cap > 0 && !out))
        return mn_fail(MN_ERR_ARG, "mn_network_attention_stats: cap %d with out %s", cap,
                       out ? "set" : "NULL");
    const mn_tensor *y;
    MN_TRY(mn_network_forward(net, x, &y));
    stats_walk w = {out, cap, 0};
    MN_TRY(mn_network_visit(net, visit, &w));
    *n_layers = w.n;
    return MN_OK;
}
