/* modnorm inspect [--model mlp --width W --depth D | --graph FILE --set NAME=V…]
 * [--json | --format text|json|graph] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json_out.h"

#define CMD "inspect"

typedef struct {
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

/* The tree alone, never a network: inspect allocates no weights (nor
 * initializes them: an SVD per Linear), so any size can be shown. */
int mn_cmd_inspect(mn_cli_args *a)
{
    /* --json is --format json: with another --format one of the two would
     * silently lose */
    if (a->given[MN_OPT_JSON] && a->given[MN_OPT_FORMAT] && a->format != 1)
        return mn_cli_usage_error(CMD, "--json and --format %s exclude each other: give one "
                                  "(--json is --format json)",
                                  mn_cli_options[MN_OPT_FORMAT].choices[a->format]);
    mn_module *root;
    int rc = mn_cli_model_tree(CMD, a, &root);
    if (rc != MN_EXIT_OK)
        return rc;
    rc = mn_cli_apply_atom_norms(CMD, root, a);
    int atoms = mn_module_atom_count(root);
    double *targets = calloc((size_t)atoms + 1, sizeof(double));
    if (rc == MN_EXIT_OK && !targets)
        rc = mn_cli_error(CMD, "out of memory");
    /* The targets a run's solver uses under --param (steepest descent; under
     * sp every one is 1): its own rule, through its preset. */
    mn_solver_config cfg;
    mn_status st = MN_OK;
    if (rc == MN_EXIT_OK &&
        ((st = mn_solver_preset(&cfg, "muon", (mn_param)a->param)) != MN_OK ||
         (st = mn_solver_targets_for(&cfg, root, targets)) != MN_OK))
        rc = mn_cli_fail(CMD, st);
    walk w = {targets, 0};
    char *text = NULL;
    if (rc == MN_EXIT_OK && a->format == 2) { /* the graph language: --graph reads it back */
        if ((st = mn_graph_print(root, &text)) != MN_OK)
            rc = mn_cli_fail(CMD, st);
        else
            fputs(text, stdout);
        free(text);
    } else if (rc == MN_EXIT_OK && (a->json || a->format == 1)) {
        rc = mn_cli_json_print(CMD, stdout, module_json(&w, root));
    } else if (rc == MN_EXIT_OK) {
        print_text(&w, root, "", true, 0);
        int64_t params = mn_module_param_count(root);
        printf("%lld parameter%s in %d atom%s\n", (long long)params, params == 1 ? "" : "s",
               atoms, atoms == 1 ? "" : "s");
    }
    free(targets);
    mn_module_destroy(root);
    return rc;
}
