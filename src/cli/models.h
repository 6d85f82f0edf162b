/* Internal to the CLI: models by name, shared by train, inspect and bench. */
#ifndef MN_CLI_MODELS_H
#define MN_CLI_MODELS_H

#include "modnorm.h"

typedef struct mn_model_spec {
    const char *name; /* "mlp" */
    int64_t d_in, width, d_out;
    int depth;
} mn_model_spec;

/* Handle --model, --width or --depth (`opt` is the long option's name) for
 * subcommand `cmd`; false (after a usage message) when the value is bad. */
bool mn_cli_model_option(const char *cmd, const char *opt, const char *arg, mn_model_spec *spec);

/* Build the tree; on failure a message is already printed. */
mn_status mn_cli_build_model(const mn_model_spec *spec, mn_module **out);
/* Apply one --atom-norm K=NAME. */
mn_status mn_cli_apply_norm_override(mn_network *net, const char *spec);

#endif
