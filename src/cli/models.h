/* Internal to the CLI: models by name, shared by train, inspect and bench. */
#ifndef MN_CLI_MODELS_H
#define MN_CLI_MODELS_H

#include "modnorm.h"

typedef struct mn_model_spec {
    const char *name; /* "mlp" */
    int64_t d_in, width, d_out;
    int depth;
} mn_model_spec;

/* Build the tree; on failure a message is already printed. */
mn_status mn_cli_build_model(const mn_model_spec *spec, mn_module **out);
/* Apply one --atom-norm K=NAME. */
mn_status mn_cli_apply_norm_override(mn_network *net, const char *spec);

#endif
