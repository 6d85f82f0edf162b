/* The modular norm over a module tree, and the tree's dualize. */
#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "modnorm/modular.h"

/* Child i of m has coefficient c with t/c not finite: a module after it in
 * the sequence has sensitivity 0 (e.g. `0 * Linear`), so no change to child i
 * reaches the output, and dualizing would give it an infinite step. */
static mn_status infinite_target(const mn_module *m, int i, double c)
{
    char child[96], after[96];
    mn_module_describe(mn_module_child(m, i), child, sizeof child);
    for (int j = i + 1; j < mn_module_child_count(m); j++)
        if (mn_module_sensitivity(mn_module_child(m, j)) == 0)
            return mn_fail(MN_ERR_UNSUPPORTED,
                           "%s has sensitivity 0, so %s before it cannot change the output "
                           "and would get an infinite target step (use a nonzero scale)",
                           mn_module_describe(mn_module_child(m, j), after, sizeof after),
                           child);
    return mn_fail(MN_ERR_UNSUPPORTED,
                   "%s would get an infinite target step: its coefficient in the modular "
                   "norm is %g (the modules after it have sensitivity too close to 0)",
                   child, c);
}

/* Walk the tree handing each atom (in forward order) its target. */
static mn_status assign_targets(const mn_module *m, double t, double *targets, int *k)
{
    if (mn_module_is_atom(m)) {
        targets[(*k)++] = t;
        return MN_OK;
    }
    for (int i = 0; i < mn_module_child_count(m); i++) {
        double c = mn_module_child_coef(m, i);
        double ti = isinf(c) ? 0.0 : t / c;
        if (isfinite(t) && !isfinite(ti))
            return infinite_target(m, i, c);
        MN_TRY(assign_targets(mn_module_child(m, i), ti, targets, k));
    }
    return MN_OK;
}

static mn_status tree_targets(const char *who, const mn_module *root, double t, double *targets)
{
    /* the targets are t times positive coefficients: NAN, inf or a negative
     * total would come back as targets with MN_OK */
    if (!(t >= 0) || !isfinite(t))
        return mn_fail(MN_ERR_ARG, "%s: the total t = %g must be finite and >= 0", who, t);
    int k = 0;
    return assign_targets(root, t, targets, &k);
}

mn_status mn_modular_targets(const mn_network *net, double t, double *targets)
{
    if (!net || !targets)
        return mn_fail(MN_ERR_ARG, "mn_modular_targets: %s is NULL", net ? "targets" : "net");
    return tree_targets("mn_modular_targets", mn_network_root(net), t, targets);
}

mn_status mn_modular_tree_targets(const mn_module *root, double t, double *targets)
{
    if (!root || !targets)
        return mn_fail(MN_ERR_ARG, "mn_modular_tree_targets: %s is NULL",
                       root ? "targets" : "root");
    return tree_targets("mn_modular_tree_targets", root, t, targets);
}

static mn_status tree_norm(const mn_network *net, const mn_module *m, const float *buf, int *k,
                           double *out)
{
    if (mn_module_is_atom(m)) {
        mn_mat v = mn_network_atom_view(net, (*k)++, (float *)buf);
        return mn_norm_value(mn_module_norm(m), &v, out);
    }
    double best = 0;
    for (int i = 0; i < mn_module_child_count(m); i++) {
        double c = mn_module_child_coef(m, i), v;
        MN_TRY(tree_norm(net, mn_module_child(m, i), buf, k, &v));
        if (!isinf(c))
            best = fmax(best, c * v);
    }
    *out = best;
    return MN_OK;
}

mn_status mn_modular_norm(const mn_network *net, const float *buf, double *out)
{
    if (!net || !buf || !out)
        return mn_fail(MN_ERR_ARG, "mn_modular_norm: NULL argument");
    int k = 0;
    return tree_norm(net, mn_network_root(net), buf, &k, out);
}

static mn_status with_targets(const mn_network *net, double t, double **targets)
{
    int n = mn_network_atom_count(net);
    *targets = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    if (!*targets)
        return mn_fail(MN_ERR_NOMEM, "modular: out of memory");
    mn_status st = mn_modular_targets(net, t, *targets);
    if (st != MN_OK) { /* the callers return at once */
        free(*targets);
        *targets = NULL;
    }
    return st;
}

mn_status mn_modular_dual(const mn_network *net, const float *buf, double *out)
{
    if (!net || !buf || !out)
        return mn_fail(MN_ERR_ARG, "mn_modular_dual: NULL argument");
    double *t;
    MN_TRY(with_targets(net, 1.0, &t));
    double sum = 0;
    mn_status st = MN_OK;
    for (int k = 0; k < mn_network_atom_count(net) && st == MN_OK; k++) {
        if (t[k] == 0)
            continue;
        mn_mat v = mn_network_atom_view(net, k, (float *)buf);
        double d;
        st = mn_norm_dual(mn_module_norm(mn_network_atom(net, k)), &v, &d);
        sum += t[k] * d;
    }
    free(t);
    *out = sum;
    return st;
}

mn_status mn_modular_dualize(const mn_network *net, const float *g, float *out, double t,
                             const mn_dualize_opts *opts)
{
    if (!net || !g || !out)
        return mn_fail(MN_ERR_ARG, "mn_modular_dualize: NULL argument");
    double *targets;
    MN_TRY(with_targets(net, t, &targets));
    mn_status st = MN_OK;
    for (int k = 0; k < mn_network_atom_count(net) && st == MN_OK; k++) {
        mn_mat gv = mn_network_atom_view(net, k, (float *)g);
        mn_mat ov = mn_network_atom_view(net, k, out);
        st = mn_dualize(mn_module_norm(mn_network_atom(net, k)), opts, &ov, &gv);
        if (st == MN_OK)
            mn_mat_scale(&ov, targets[k]);
    }
    free(targets);
    return st;
}
