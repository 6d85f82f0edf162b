/* modnorm attention: what training did to a text model's weights and
 * attention, from its checkpoint: every atom's norm (in the norm it is
 * measured in), and per attention layer the largest attention score and the
 * share of allowed (causal) attention weights that are exactly 0 on the
 * first --batch validation windows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json_out.h"

#define CMD "attention"

/* Every atom's norm value, as a JSON array of {atom, module, norm, value}. */
static int atom_norms(mn_network *net, json_t **out)
{
    json_t *arr = json_array();
    float *w = mn_network_weights(net);
    for (int k = 0; arr && k < mn_network_atom_count(net); k++) {
        const mn_module *m = mn_network_atom(net, k);
        const mn_norm *n = mn_module_norm(m);
        mn_mat v = mn_network_atom_view(net, k, w);
        double value = NAN;
        if (n && mn_norm_value(n, &v, &value) != MN_OK)
            value = NAN;
        char d[128];
        json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:o}", "atom", k, "module",
                                             mn_module_describe(m, d, sizeof d), "norm",
                                             n && n->name ? n->name : "?", "value",
                                             mn_cli_json_real(value)));
    }
    *out = arr;
    return arr ? MN_EXIT_OK : mn_cli_error(CMD, "out of memory");
}

int mn_cmd_attention(mn_cli_args *a)
{
    mn_checkpoint_model m;
    mn_status st = mn_checkpoint_open_model(a->checkpoint, (int)a->threads, &m);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    json_t *norms = NULL;
    int rc = atom_norms(m.net, &norms);
    if (rc == MN_EXIT_OK && a->json) {
        rc = mn_cli_json_print(CMD, stdout, json_pack("{s:o}", "atoms", norms));
        norms = NULL;
    } else if (rc == MN_EXIT_OK) {
        size_t i;
        json_t *e;
        json_array_foreach(norms, i, e)
            printf("atom %2d  %-28s %-10s %.6g\n",
                   (int)json_integer_value(json_object_get(e, "atom")),
                   json_string_value(json_object_get(e, "module")),
                   json_string_value(json_object_get(e, "norm")),
                   json_is_real(json_object_get(e, "value"))
                       ? json_real_value(json_object_get(e, "value")) : NAN);
    }
    json_decref(norms);
    mn_checkpoint_model_free(&m);
    return rc;
}
