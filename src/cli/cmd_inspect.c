/* modnorm inspect [--model mlp --width W --depth D | --graph FILE --set NAME=V…]
 * [--json | --format text|json|graph] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json_out.h"

#define CMD "inspect"

typedef struct {
    const mn_network *net;
    const double *targets;
    int atom;
} walk;

/* Characters (not bytes) of a UTF-8 string, for alignment. */
static int display_width(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void print_text(walk *w, const mn_module *m, const char *prefix, bool last, int depth)
{
    char desc[64], child_prefix[512];
    const char *branch = depth ? (last ? "└─ " : "├─ ") : "";
    mn_module_describe(m, desc, sizeof desc);
    int pad = 28 - display_width(prefix) - display_width(branch) - display_width(desc);
    printf("%s%s%s%*s mass %-5g sensitivity %-5g", prefix, branch, desc, pad > 0 ? pad : 0, "",
           mn_module_mass(m), mn_module_sensitivity(m));
    if (mn_module_is_atom(m)) {
        printf(" norm %-9s target %.6g", mn_module_norm(m)->name, w->targets[w->atom++]);
    }
    printf("\n");
    if (strlen(prefix) + 8 >= sizeof child_prefix)
        return; /* deeper than any tree we print */
    snprintf(child_prefix, sizeof child_prefix, "%s%s", prefix, depth ? (last ? "   " : "│  ") : "");
    int n = mn_module_child_count(m);
    for (int i = 0; i < n; i++)
        print_text(w, mn_module_child(m, i), child_prefix, i == n - 1, depth + 1);
}

/* {"kind", "name", "mass", "sensitivity"[, "shape", "norm", "target"][, "children"]};
 * NULL when out of memory. */
static json_t *module_json(walk *w, const mn_module *m)
{
    char desc[64];
    json_t *o = json_pack("{s:s, s:s, s:o, s:o}", "kind", mn_module_kind(m), "name",
                          mn_module_describe(m, desc, sizeof desc), "mass",
                          mn_cli_json_real(mn_module_mass(m)), "sensitivity",
                          mn_cli_json_real(mn_module_sensitivity(m)));
    if (o && mn_module_is_atom(m)) {
        int64_t rows, cols;
        mn_module_weight_shape(m, &rows, &cols);
        if (json_object_set_new(o, "shape", json_pack("[I, I]", (json_int_t)rows,
                                                      (json_int_t)cols)) != 0 ||
            json_object_set_new(o, "norm", json_string(mn_module_norm(m)->name)) != 0 ||
            json_object_set_new(o, "target", mn_cli_json_real(w->targets[w->atom++])) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    int n = mn_module_child_count(m);
    if (o && n > 0) {
        json_t *children = json_array();
        for (int k = 0; children && k < n; k++)
            if (json_array_append_new(children, module_json(w, mn_module_child(m, k))) != 0) {
                json_decref(children);
                children = NULL;
            }
        if (json_object_set_new(o, "children", children) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

int mn_cmd_inspect(mn_cli_args *a)
{
    mn_module *root;
    mn_network *net;
    int rc = mn_cli_model_build(CMD, a, &root);
    if (rc != MN_EXIT_OK)
        return rc;
    mn_status st = mn_network_create(&net, root, MN_PARAM_MODULAR, 0);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    rc = mn_cli_apply_atom_norms(CMD, net, a);
    if (rc != MN_EXIT_OK) {
        mn_network_destroy(net);
        return rc;
    }
    double *targets = calloc((size_t)mn_network_atom_count(net) + 1, sizeof(double));
    if (!targets) {
        mn_network_destroy(net);
        return mn_cli_error(CMD, "out of memory");
    }
    if ((st = mn_modular_targets(net, 1.0, targets)) != MN_OK) {
        free(targets);
        mn_network_destroy(net);
        return mn_cli_fail(CMD, st);
    }
    walk w = {net, targets, 0};
    char *text = NULL;
    if (a->format == 2) { /* the graph language: --graph reads it back */
        if ((st = mn_graph_print(mn_network_root(net), &text)) != MN_OK)
            rc = mn_cli_fail(CMD, st);
        else
            fputs(text, stdout);
        free(text);
    } else if (a->json || a->format == 1) {
        rc = mn_cli_json_print(CMD, stdout, module_json(&w, mn_network_root(net)));
    } else {
        print_text(&w, mn_network_root(net), "", true, 0);
        printf("%lld parameters in %d atoms\n", (long long)mn_network_param_count(net),
               mn_network_atom_count(net));
    }
    free(targets);
    mn_network_destroy(net);
    return rc;
}
