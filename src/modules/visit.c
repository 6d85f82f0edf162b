/* mn_network_visit: the public, read-only walk of a network's module tree. */
#include "core/error.h"
#include "modnorm/network.h"
#include "modules/module.h"

typedef struct walk {
    const mn_network *net;
    mn_module_visitor f;
    void *ctx;
    int index, atoms;
} walk;

static mn_status visit(walk *w, const mn_module *m, int depth)
{
    mn_module_visit v = {.index = w->index++, .depth = depth, .atom = -1, .module = m,
                         .n_outputs = m->out.n,
                         .outputs = m->out.n > 0 ? (const mn_tensor *const *)m->out.t : NULL};
    if (mn_module_is_atom(m)) {
        /* Pre-order meets the atoms in the order the network laid them out. */
        if (mn_network_atom(w->net, w->atoms) != m)
            return mn_fail(MN_ERR_ARG, "mn_network_visit: module %d (%s) is not the network's "
                           "atom %d", v.index, mn_module_kind(m), w->atoms);
        v.atom = w->atoms++;
    }
    mn_clear_error();
    mn_status st = w->f(w->ctx, &v);
    if (st != MN_OK) {
        if (!*mn_last_error())
            mn_fail(st, "mn_network_visit: the visitor stopped at module %d (%s): %s", v.index,
                    mn_module_kind(m), mn_status_str(st));
        return st;
    }
    for (int i = 0; i < m->n_children; i++)
        MN_TRY(visit(w, m->children[i], depth + 1));
    return MN_OK;
}

mn_status mn_network_visit(const mn_network *net, mn_module_visitor f, void *ctx)
{
    if (!net || !f)
        return mn_fail(MN_ERR_ARG, "mn_network_visit: %s is NULL", net ? "the visitor" : "net");
    walk w = {.net = net, .f = f, .ctx = ctx};
    return visit(&w, mn_network_root(net), 0);
}
