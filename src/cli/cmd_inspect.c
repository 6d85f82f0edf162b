/* modnorm inspect --model mlp --width W --depth D [--json] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/models.h"

static void help(void)
{
    printf("usage: modnorm inspect [--model mlp] [--width W] [--depth D] [--atom-norm K=NAME]... "
           "[--json]\n\n"
           "Prints the module tree: every module's kind, shape, norm, mass, sensitivity and, for\n"
           "atoms, the dualize target it receives (t = 1 at the root). --json prints one\n"
           "nested JSON document with a \"target\" key on atoms only.\n");
}

typedef struct {
    const mn_network *net;
    const double *targets;
    int atom;
    bool json;
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

static void print_json(walk *w, const mn_module *m)
{
    char desc[64];
    printf("{\"kind\": \"%s\", \"name\": \"%s\", \"mass\": %.17g, \"sensitivity\": %.17g",
           mn_module_kind(m), mn_module_describe(m, desc, sizeof desc), mn_module_mass(m),
           mn_module_sensitivity(m));
    if (mn_module_is_atom(m)) {
        int64_t o, i;
        mn_module_weight_shape(m, &o, &i);
        printf(", \"shape\": [%lld, %lld], \"norm\": \"%s\", \"target\": %.17g", (long long)o,
               (long long)i, mn_module_norm(m)->name, w->targets[w->atom++]);
    }
    int n = mn_module_child_count(m);
    if (n > 0) {
        printf(", \"children\": [");
        for (int k = 0; k < n; k++) {
            printf(k ? ", " : "");
            print_json(w, mn_module_child(m, k));
        }
        printf("]");
    }
    printf("}");
}

int mn_cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"width", required_argument, 0, 'w'},
                                         {"depth", required_argument, 0, 'd'},
                                         {"atom-norm", required_argument, 0, 'n'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    mn_model_spec spec = {.name = "mlp", .d_in = 784, .width = 512, .depth = 3, .d_out = 10};
    const char *overrides[64];
    int n_over = 0, c, li = 0;
    bool json = false;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        switch (c) {
        case 'm':
        case 'w':
        case 'd':
            if (!mn_cli_model_option("inspect", opts[li].name, optarg, &spec))
                return MN_EXIT_USAGE;
            break;
        case 'n':
            if (n_over == 64)
                return mn_cli_usage_error("inspect", "at most 64 --atom-norm options");
            overrides[n_over++] = optarg;
            break;
        case 'j': json = true; break;
        case 'h': help(); return MN_EXIT_OK;
        default: return mn_cli_usage_error("inspect", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return mn_cli_usage_error("inspect", "unexpected argument '%s'", argv[optind]);
    mn_module *root;
    if (mn_cli_build_model(&spec, &root) != MN_OK)
        return MN_EXIT_USAGE;
    mn_network *net;
    mn_status st = mn_network_create(&net, root, MN_PARAM_MODULAR, 0);
    if (st != MN_OK)
        return mn_cli_fail("inspect", st);
    for (int i = 0; i < n_over; i++)
        if (mn_cli_apply_norm_override(net, overrides[i]) != MN_OK) {
            mn_network_destroy(net);
            return MN_EXIT_USAGE;
        }
    double *targets = calloc((size_t)mn_network_atom_count(net) + 1, sizeof(double));
    if (!targets || mn_modular_targets(net, 1.0, targets) != MN_OK) {
        free(targets);
        mn_network_destroy(net);
        return mn_cli_fail("inspect", MN_ERR_NOMEM);
    }
    walk w = {net, targets, 0, json};
    if (json) {
        print_json(&w, mn_network_root(net));
        printf("\n");
    } else {
        print_text(&w, mn_network_root(net), "", true, 0);
        printf("%lld parameters in %d atoms\n", (long long)mn_network_param_count(net),
               mn_network_atom_count(net));
    }
    free(targets);
    mn_network_destroy(net);
    return MN_EXIT_OK;
}
