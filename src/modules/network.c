/* A module tree with its weight and gradient buffers. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/size.h"
#include "modnorm/network.h"
#include "modules/module.h"

struct mn_network {
    mn_module *root;
    int64_t n_params;
    float *w, *g;
    int n_atoms;
    mn_module **atoms;
    int threads;
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

/* The module that reads the network's input through a chain of first
 * children of sequential compounds is told whether anyone wants the input's
 * gradient: training does not, and for a first Linear layer it is a third of
 * that layer's backward flops. */
static void mark_input_reader(mn_module *m, bool input_is_data)
{
    while (m->ops == &mn_sequential_ops && m->n_children > 0)
        m = m->children[0];
    m->input_is_data = input_is_data;
}

mn_status mn_network_create(mn_network **out, mn_module *root, mn_param param, uint64_t seed)
{
    if (!out || !root) {
        mn_module_destroy(root);
        return mn_fail(MN_ERR_ARG, "mn_network_create: NULL %s", out ? "root" : "out");
    }
    *out = NULL;
    mn_network *net = calloc(1, sizeof *net);
    if (!net) {
        mn_module_destroy(root);
        return mn_fail(MN_ERR_NOMEM, "mn_network_create: out of memory");
    }
    net->root = root;
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
        mn_network_destroy(net);
        return mn_fail(MN_ERR_NOMEM, "mn_network_create: cannot allocate %lld parameters",
                       (long long)net->n_params);
    }
    net->n_atoms = 0;
    mn_module_visit_atoms(root, bind_atom, net);
    mark_input_reader(root, true);
    mn_status st = mn_network_init(net, param, seed);
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
    mn_module_destroy(net->root);
    free(net->w);
    free(net->g);
    free(net->atoms);
    free(net);
}

/* Each atom draws from its own stream (seed, atom index), so adding an atom
 * at the end does not change the others' initial weights. */
mn_status mn_network_init(mn_network *net, mn_param param, uint64_t seed)
{
    if (param != MN_PARAM_MODULAR && param != MN_PARAM_SP)
        return mn_fail(MN_ERR_ARG, "mn_network_init: unknown parametrization %d", (int)param);
    for (int i = 0; i < net->n_atoms; i++) {
        mn_rng rng;
        mn_rng_seed(&rng, seed * 1000003ULL + (uint64_t)i);
        MN_TRY(net->atoms[i]->ops->init(net->atoms[i], &rng, param));
    }
    return MN_OK;
}

void mn_network_set_threads(mn_network *net, int threads) { net->threads = threads; }

int mn_network_threads(const mn_network *net) { return net->threads; }

void mn_network_keep_input_grad(mn_network *net, bool keep)
{
    if (net)
        mark_input_reader(net->root, !keep);
}

const mn_tensor *mn_network_input_grad(const mn_network *net)
{
    return net && net->root->din.n == 1 ? net->root->din.t[0] : NULL;
}

mn_status mn_network_forward(mn_network *net, const mn_tensor *x, const mn_tensor **y)
{
    if (!net || !x || !y)
        return mn_fail(MN_ERR_ARG, "mn_network_forward: NULL argument");
    mn_value in = mn_value_of((mn_tensor *)x);
    MN_TRY(mn_module_forward(net->root, &in, net->threads));
    if (net->root->out.n != 1)
        return mn_fail(MN_ERR_SHAPE, "the network outputs a %d-tuple; end it with Add or a "
                       "single-output module", net->root->out.n);
    *y = net->root->out.t[0];
    return MN_OK;
}

mn_status mn_network_backward(mn_network *net, const mn_tensor *dy)
{
    if (!net || !dy)
        return mn_fail(MN_ERR_ARG, "mn_network_backward: NULL argument");
    const mn_tensor *y = net->root->out.t[0];
    if (!y || mn_tensor_numel(dy) != mn_tensor_numel(y))
        return mn_fail(MN_ERR_SHAPE, "mn_network_backward: dy has %lld elements, the last "
                       "output %lld (run forward first)", (long long)mn_tensor_numel(dy),
                       (long long)(y ? mn_tensor_numel(y) : 0));
    mn_value g = mn_value_of((mn_tensor *)dy);
    return mn_module_backward(net->root, &g, net->threads);
}

void mn_network_zero_grad(mn_network *net)
{
    memset(net->g, 0, (size_t)net->n_params * sizeof(float));
}

const mn_module *mn_network_root(const mn_network *net) { return net->root; }
int64_t mn_network_param_count(const mn_network *net) { return net->n_params; }
float *mn_network_weights(mn_network *net) { return net->w; }
float *mn_network_grads(mn_network *net) { return net->g; }
int mn_network_atom_count(const mn_network *net) { return net->n_atoms; }

const mn_module *mn_network_atom(const mn_network *net, int i)
{
    return i >= 0 && i < net->n_atoms ? net->atoms[i] : NULL;
}

mn_mat mn_network_atom_view(const mn_network *net, int i, float *buffer)
{
    return mn_module_weight_view(net->atoms[i], buffer + net->atoms[i]->offset);
}
