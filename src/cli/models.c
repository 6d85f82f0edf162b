/* The models the CLI can build by name. */
#include <stdio.h>
#include <string.h>

#include "cli/models.h"
#include "core/error.h"

mn_status mn_cli_build_model(const mn_model_spec *spec, mn_module **out)
{
    if (strcmp(spec->name, "mlp") == 0)
        return mn_mlp(out, spec->d_in, spec->width, spec->depth, spec->d_out);
    return mn_fail(MN_ERR_ARG, "unknown model '%s' (known: mlp)", spec->name);
}

mn_status mn_cli_apply_norm_override(mn_network *net, int atom, const char *norm)
{
    int n = mn_network_atom_count(net);
    if (atom < 0 || atom >= n)
        return mn_fail(MN_ERR_ARG, "--atom-norm '%d=%s' must be K=NAME with K in [0, %d)", atom,
                       norm, n);
    mn_status st = mn_module_set_norm((mn_module *)mn_network_atom(net, atom), norm);
    if (st != MN_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", mn_last_error());
        return mn_fail(st, "--atom-norm '%d=%s': %s", atom, norm, why);
    }
    return st;
}

mn_status mn_cli_check_atom_norms(const mn_model_spec *spec, const mn_cli_atom_norms *an)
{
    if (an->n == 0)
        return MN_OK;
    mn_module *root;
    mn_network *net;
    MN_TRY(mn_cli_build_model(spec, &root));
    MN_TRY(mn_network_create(&net, root, MN_PARAM_MODULAR, 0));
    mn_status st = MN_OK;
    for (int i = 0; st == MN_OK && i < an->n; i++)
        st = mn_cli_apply_norm_override(net, an->v[i].atom, an->v[i].norm);
    mn_network_destroy(net);
    return st;
}
