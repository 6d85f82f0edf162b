/* modnorm/modular.h — the modular norm of a network and its dualization.
 *
 * For a compound with children i, ‖w‖ = max_i c_i·‖w_i‖ over children of
 * positive mass, with c_i = (μ/μ_i)·Π_{j after i} ν_j in a sequence and
 * c_i = μ/μ_i in a tuple. Dualizing with target t gives child i the target
 * t/c_i (0 for mass-0 children); an atom with target t_k gets the update
 * direction t_k·lmo_k(g_k), whose modular norm is t. The dual norm is
 * Σ_k t_k·‖g_k‖†_k with the targets of t = 1. Buffers are laid out like the
 * network's weights. */
#ifndef MODNORM_MODULAR_H
#define MODNORM_MODULAR_H

#include "modnorm/export.h"
#include "modnorm/network.h"
#include "modnorm/polar.h"

#ifdef __cplusplus
extern "C" {
#endif

/* targets[k] for every atom k (mn_network_atom_count entries) given t.
 * MN_ERR_ARG for a NULL argument and a t that is NAN, infinite or negative;
 * MN_ERR_UNSUPPORTED, naming the modules, when a child's coefficient is 0 (a
 * module of sensitivity 0 after it, as in `0 * Linear`): its target would be
 * infinite. */
MN_API mn_status mn_modular_targets(const mn_network *net, double t, double *targets);
/* The same for a module tree not (yet) in a network: targets[k] for every
 * atom k in forward order (mn_module_atom_count entries); the same errors. */
MN_API mn_status mn_modular_tree_targets(const mn_module *root, double t, double *targets);
/* The modular norm of a buffer (weights, an update, a gradient). */
MN_API mn_status mn_modular_norm(const mn_network *net, const float *buf, double *out);
/* Its dual norm: Σ_k t_k ‖buf_k‖†. */
MN_API mn_status mn_modular_dual(const mn_network *net, const float *buf, double *out);
/* out_k = t_k·lmo_k(g_k) for every atom (out may be g); t as for
 * mn_modular_targets. */
MN_API mn_status mn_modular_dualize(const mn_network *net, const float *g, float *out, double t,
                                    const mn_dualize_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
