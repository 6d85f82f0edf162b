/* The models the CLI can build by name. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/models.h"

bool mn_cli_model_option(const char *cmd, const char *opt, const char *arg, mn_model_spec *spec)
{
    int v;
    if (strcmp(opt, "model") == 0) {
        spec->name = arg;
        return true;
    }
    if (strcmp(opt, "width") == 0) {
        if (!mn_cli_parse_int(cmd, "--width", arg, 1, 1 << 16, &v))
            return false;
        spec->width = v;
        return true;
    }
    return mn_cli_parse_int(cmd, "--depth", arg, 1, 100, &spec->depth);
}

mn_status mn_cli_build_model(const mn_model_spec *spec, mn_module **out)
{
    if (strcmp(spec->name, "mlp") == 0)
        return mn_mlp(out, spec->d_in, spec->width, spec->depth, spec->d_out);
    fprintf(stderr, "modnorm: unknown --model '%s' (known: mlp)\n", spec->name);
    return MN_ERR_ARG;
}

/* "K=NAME": atom K (0-based, forward order) gets norm NAME. */
mn_status mn_cli_apply_norm_override(mn_network *net, const char *spec)
{
    int k = -1, used = 0;
    if (sscanf(spec, "%d=%n", &k, &used) != 1 || used == 0 || k < 0 ||
        k >= mn_network_atom_count(net)) {
        fprintf(stderr, "modnorm: --atom-norm '%s' must be K=NAME with K in [0, %d)\n", spec,
                mn_network_atom_count(net));
        return MN_ERR_ARG;
    }
    mn_status st = mn_module_set_norm((mn_module *)mn_network_atom(net, k), spec + used);
    if (st != MN_OK)
        fprintf(stderr, "modnorm: --atom-norm '%s': %s\n", spec, mn_last_error());
    return st;
}
