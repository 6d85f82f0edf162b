/* Internal to the CLI: models by name, shared by train, inspect, sweep,
 * coordcheck and bench. */
#ifndef MN_CLI_MODELS_H
#define MN_CLI_MODELS_H

#include "cli/options.h"
#include "modnorm.h"

typedef struct mn_model_spec {
    const char *name; /* "mlp" */
    int64_t d_in, width, d_out;
    int depth;
} mn_model_spec;

/* Build the tree; an unknown name is MN_ERR_ARG with a message. */
mn_status mn_cli_build_model(const mn_model_spec *spec, mn_module **out);
/* --atom-norm K=NORM: atom K (0-based, forward order) gets norm `norm`.
 * K beyond the network's atoms is MN_ERR_ARG with a message naming the
 * range (the one check the option table cannot make: it needs the model). */
mn_status mn_cli_apply_norm_override(mn_network *net, int atom, const char *norm);
/* Before any work: the overrides fit the model `spec` builds (a network is
 * built to count its atoms, then dropped). */
mn_status mn_cli_check_atom_norms(const mn_model_spec *spec, const mn_cli_atom_norms *an);

#endif
