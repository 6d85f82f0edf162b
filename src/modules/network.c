/* A module tree with its weight and gradient buffers and its activations. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/error.h"
#include "core/size.h"
#include "modnorm/network.h"
#include "modules/graph.h"
#include "modules/module.h"

struct mn_network {
    mn_module *root;
    int64_t n_params;
    float *w, *g;
    int n_atoms;
    mn_module **atoms;
    int threads;
    bool keep_input_grad;
    uint64_t revision; /* norm and mass changes since creation */
    mn_graph graph;    /* the leaves' calls and the activation memory */
};

static mn_status count_atom(mn_module *a, void *ctx)
{
    mn_network *net = ctx;
    a->offset = net->n_params;
    if (net->n_atoms == INT_MAX)
        return mn_fail(MN_ERR_ARG, "mn_network_create: more than %d atoms", INT_MAX);
    net->n_atoms++;
    /* Each atom's count was checked when it was made; their sum is checked here. */
    return mn_checked_add("mn_network_create: the weights", net->n_params, a->d_out * a->d_in,
                          sizeof(float), &net->n_params);
}

static mn_status bind_atom(mn_module *a, void *ctx)
{
    mn_network *net = ctx;
    a->w = net->w + a->offset;
    a->g = net->g + a->offset;
    net->atoms[net->n_atoms++] = a;
    return MN_OK;
}

static void watch(mn_module *m, void *ctx) { m->revision = ctx; }

mn_status mn_network_create(mn_network **out, mn_module *root, mn_param param, uint64_t seed)
{
    if (out)
        *out = NULL;
    /* A root that belongs elsewhere stays there (mn_module_destroy leaves it). */
    if (root)
        MN_TRY(mn_module_check_unowned(root, "mn_network_create", "the root", MN_OWNER_NETWORK));
    if (!out || !root) {
        mn_module_destroy(root);
        return mn_fail(MN_ERR_ARG, "mn_network_create: NULL %s", out ? "root" : "out");
    }
    mn_network *net = calloc(1, sizeof *net);
    if (!net) {
        mn_module_destroy(root);
        return mn_fail(MN_ERR_NOMEM, "mn_network_create: out of memory");
    }
    net->root = root;
    root->owner = MN_OWNER_NETWORK;
    mn_status counted = mn_module_visit_atoms(root, count_atom, net);
    if (counted != MN_OK) {
        mn_network_destroy(net);
        return counted;
    }
    size_t n = net->n_params > 0 ? (size_t)net->n_params : 1;
    net->w = calloc(n, sizeof(float));
    net->g = calloc(n, sizeof(float));
    net->atoms = calloc(net->n_atoms > 0 ? (size_t)net->n_atoms : 1, sizeof *net->atoms);
    if (!net->w || !net->g || !net->atoms) {
        long long n_params = (long long)net->n_params; /* read before the free */
        mn_network_destroy(net);
        return mn_fail(MN_ERR_NOMEM, "mn_network_create: cannot allocate %lld parameters",
                       n_params);
    }
    net->n_atoms = 0;
    mn_module_visit_atoms(root, bind_atom, net);
    mn_module_walk(root, watch, &net->revision);
    mn_status st = mn_graph_build(&net->graph, root);
    /* An atom made with a norm that does not take its shape is refused here
     * (before its init, which may dualize), not at the first step;
     * mn_module_set_norm refuses one on its own. */
    for (int i = 0; st == MN_OK && i < net->n_atoms; i++) {
        char who[64];
        snprintf(who, sizeof who, "mn_network_create: atom %d's norm ", i);
        st = mn_module_check_norm(net->atoms[i], net->atoms[i]->norm, who,
                                  net->atoms[i]->norm->name);
    }
    if (st == MN_OK)
        st = mn_network_init(net, param, seed);
    if (st != MN_OK) {
        mn_network_destroy(net);
        return st;
    }
    *out = net;
    return MN_OK;
}

void mn_network_destroy(mn_network *net)
{
    if (!net)
        return;
    mn_graph_free(&net->graph);
    mn_module_free(net->root);
    free(net->w);
    free(net->g);
    free(net->atoms);
    free(net);
}

/* Each atom draws from its own stream (seed, atom index), so adding an atom
 * at the end does not change the others' initial weights. */
mn_status mn_network_init(mn_network *net, mn_param param, uint64_t seed)
{
    if (!net)
        return mn_fail(MN_ERR_ARG, "mn_network_init: net is NULL");
    if (param != MN_PARAM_MODULAR && param != MN_PARAM_SP)
        return mn_fail(MN_ERR_ARG, "mn_network_init: unknown parametrization %d", (int)param);
    for (int i = 0; i < net->n_atoms; i++) {
        mn_rng rng;
        mn_rng_seed(&rng, seed * 1000003ULL + (uint64_t)i);
        mn_module *a = net->atoms[i];
        MN_TRY(a->ops->init(a, &rng, param));
        if (a->init_scale != 1) { /* the graph language's `init = s` (0: a zero start) */
            int64_t n = a->d_out * a->d_in;
            for (int64_t k = 0; k < n; k++)
                a->w[k] = (float)(a->w[k] * a->init_scale);
        }
    }
    return MN_OK;
}

/* The getters answer NULL with a sentinel (network.h). */
void mn_network_set_threads(mn_network *net, int threads)
{
    if (net)
        net->threads = threads;
}

int mn_network_threads(const mn_network *net) { return net ? net->threads : 0; }

mn_status mn_network_set_precision(mn_network *net, mn_precision precision)
{
    if (!net)
        return mn_fail(MN_ERR_ARG, "mn_network_set_precision: net is NULL");
    if (!mn_precision_name(precision))
        return mn_fail(MN_ERR_ARG, "mn_network_set_precision: precision %d is neither fp32 nor "
                       "bf16", (int)precision);
    net->graph.precision = precision;
    return MN_OK;
}

mn_precision mn_network_precision(const mn_network *net)
{
    return net ? net->graph.precision : MN_PRECISION_FP32;
}

void mn_network_keep_input_grad(mn_network *net, bool keep)
{
    if (net)
        net->keep_input_grad = keep;
}

const mn_tensor *mn_network_input_grad(const mn_network *net)
{
    return net && net->keep_input_grad ? mn_graph_input_grad(&net->graph) : NULL;
}

mn_status mn_network_forward(mn_network *net, const mn_tensor *x, const mn_tensor **y)
{
    if (!net || !y)
        return mn_fail(MN_ERR_ARG, "mn_network_forward: %s is NULL", net ? "y" : "net");
    MN_TRY(mn_check_tensor("mn_network_forward", "x", x)); /* NULL data: BLIS aborts */
    return mn_graph_forward(&net->graph, x, net->keep_input_grad, net->threads, y);
}

mn_status mn_network_backward(mn_network *net, const mn_tensor *dy)
{
    if (!net)
        return mn_fail(MN_ERR_ARG, "mn_network_backward: net is NULL");
    MN_TRY(mn_check_tensor("mn_network_backward", "dy", dy));
    const mn_graph *gr = &net->graph;
    const mn_tensor *y = gr->forwarded ? gr->val[gr->root_out] : NULL;
    if (!y) /* a call out of order, not a shape: nothing to compare dy with */
        return mn_fail(MN_ERR_ARG, "mn_network_backward: no output to go back from (run a "
                       "successful mn_network_forward first)");
    /* By shape, not count: a (2, 6) dy for a (4, 3) output would pass an
     * element-wise last module and be read in the wrong order. */
    char a[128], b[128];
    if (!mn_tensor_same_shape(dy, y))
        return mn_fail(MN_ERR_SHAPE, "mn_network_backward: dy has shape %s, the last output %s",
                       mn_tensor_shape_str(dy, a, sizeof a), mn_tensor_shape_str(y, b, sizeof b));
    if (!mn_tensor_is_contiguous(dy))
        return mn_fail(MN_ERR_SHAPE, "mn_network_backward: dy is not contiguous");
    return mn_graph_backward(&net->graph, dy, net->keep_input_grad, net->threads);
}

void mn_network_zero_grad(mn_network *net)
{
    if (net)
        memset(net->g, 0, (size_t)net->n_params * sizeof(float));
}

const mn_module *mn_network_root(const mn_network *net) { return net ? net->root : NULL; }
int64_t mn_network_param_count(const mn_network *net) { return net ? net->n_params : 0; }
float *mn_network_weights(mn_network *net) { return net ? net->w : NULL; }
float *mn_network_grads(mn_network *net) { return net ? net->g : NULL; }
int mn_network_atom_count(const mn_network *net) { return net ? net->n_atoms : 0; }
uint64_t mn_network_revision(const mn_network *net) { return net ? net->revision : 0; }

const mn_module *mn_network_atom(const mn_network *net, int i)
{
    return net && i >= 0 && i < net->n_atoms ? net->atoms[i] : NULL;
}

mn_mat mn_network_atom_view(const mn_network *net, int i, float *buffer)
{
    const mn_module *a = mn_network_atom(net, i);
    if (!a || !buffer) /* the empty view, which every checked function refuses */
        return mn_mat_view(MN_F32, NULL, 0, 0);
    return mn_module_weight_view(a, buffer + a->offset);
}

/* ---- mn_network_visit: the public, read-only walk of the tree ------------ */

mn_status mn_network_visit(const mn_network *net, mn_module_visitor f, void *ctx)
{
    if (!net || !f)
        return mn_fail(MN_ERR_ARG, "mn_network_visit: %s is NULL", net ? "the visitor" : "net");
    const mn_graph *g = &net->graph;
    int atoms = 0;
    mn_status st = MN_OK;
    for (int i = 0; i < g->n_nodes && st == MN_OK; i++) {
        const mn_module *m = g->node[i];
        bool fw = g->forwarded;
        mn_module_visit v = {.index = i, .depth = g->node_depth[i], .atom = -1, .module = m,
                             .n_outputs = fw ? g->node_n_out[i] : 0,
                             .outputs = fw ? &g->node_tensors[g->node_out_first[i]] : NULL,
                             .n_inputs = fw ? g->node_n_in[i] : 0,
                             .inputs = fw ? &g->node_tensors[g->node_in_first[i]] : NULL};
        if (mn_module_is_atom(m)) {
            /* Pre-order meets the atoms in the order the network laid them out. */
            if (mn_network_atom(net, atoms) != m) {
                st = mn_fail(MN_ERR_ARG, "mn_network_visit: module %d (%s) is not the network's "
                             "atom %d", i, mn_module_kind(m), atoms);
                break;
            }
            v.atom = atoms++;
        }
        mn_clear_error();
        st = f(ctx, &v);
        if (st != MN_OK && !*mn_last_error())
            mn_fail(st, "mn_network_visit: the visitor stopped at module %d (%s): %s", i,
                    mn_module_kind(m), mn_status_str(st));
    }
    return st;
}
