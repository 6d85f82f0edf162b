/* The network the options name: --graph FILE (the graph language), or a
 * built-in model, a graph file compiled in: --model mlp (examples/mlp.mn),
 * gpt (examples/gpt.mn) or cnn (examples/cnn.mn). --width, --depth and --set
 * apply as the file's parameters, and --param sp as its parameter `sp` when
 * it declares one (gpt: the 1/√d_head scale). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <zlib.h>

#include "cli/cli.h"

typedef struct {
    const char *name, *file;
    const char *(*text)(void);
} builtin_model;

static const builtin_model builtins[] = {
    {"mlp", "examples/mlp.mn", mn_graph_mlp_text},
    {"gpt", "examples/gpt.mn", mn_graph_gpt_text},
    {"cnn", "examples/cnn.mn", mn_graph_cnn_text},
};

/* The built-in model the options name (mlp when --model is not given), or
 * NULL for --graph. */
static const builtin_model *builtin_of(const mn_cli_args *a)
{
    if (a->graph)
        return NULL;
    for (size_t i = 1; a->model && i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(a->model, builtins[i].name) == 0)
            return &builtins[i];
    return &builtins[0];
}

/* The built-in mlp keeps its own defaults and sweep descriptions. */
static bool is_mlp(const mn_cli_args *a) { return builtin_of(a) == &builtins[0]; }

/* The file the network comes from, for messages. */
static const char *source_name(const mn_cli_args *a)
{
    return a->graph ? a->graph : builtin_of(a)->file;
}

/* --width and --depth as parameters: always for the built-in mlp; for a
 * file, when given and the file declares them. */
static int set_size(const char *cmd, mn_graph_file *g, const mn_cli_args *a, bool builtin,
                    mn_opt_id id, const char *name, int64_t value)
{
    const char *set = a->given[id] ? mn_cli_set_of(a, name) : NULL;
    if (set)
        return mn_cli_usage_error(cmd, "--set %s and --%s %lld both set %s: give one", set, name,
                                  (long long)value, name);
    if (!builtin && !a->given[id])
        return MN_EXIT_OK;
    if (!builtin && !mn_graph_has_param(g, name))
        return mn_cli_usage_error(cmd, "--%s: %s", name,
                                  (mn_graph_set(g, name, 0), mn_last_error()));
    if (mn_graph_set(g, name, (double)value) != MN_OK)
        return mn_cli_fail(cmd, MN_ERR_ARG);
    return MN_EXIT_OK;
}

int mn_cli_model_load(const char *cmd, const mn_cli_args *a, mn_graph_file **out)
{
    *out = NULL;
    mn_graph_file *g;
    bool builtin = is_mlp(a);
    const char *text = a->graph ? NULL : builtin_of(a)->text();
    mn_status st = a->graph ? mn_graph_load(&g, a->graph)
                            : mn_graph_parse(&g, text, strlen(text), source_name(a));
    if (st != MN_OK)
        return mn_cli_fail(cmd, st);
    int rc = MN_EXIT_OK;
    if (mn_cli_use_of(mn_cli_find_command(cmd), MN_OPT_WIDTH))
        rc = set_size(cmd, g, a, builtin, MN_OPT_WIDTH, "width", a->width);
    if (rc == MN_EXIT_OK && mn_cli_use_of(mn_cli_find_command(cmd), MN_OPT_DEPTH))
        rc = set_size(cmd, g, a, builtin, MN_OPT_DEPTH, "depth", a->depth);
    if (rc == MN_EXIT_OK && a->param == MN_PARAM_SP && mn_graph_has_param(g, "sp") &&
        mn_graph_set(g, "sp", 1) != MN_OK)
        rc = mn_cli_fail(cmd, MN_ERR_ARG);
    for (int i = 0; rc == MN_EXIT_OK && i < a->sets.n; i++)
        if (mn_graph_set_text(g, a->sets.v[i]) != MN_OK)
            rc = mn_cli_usage_error(cmd, "--set %s: %s", a->sets.v[i], mn_last_error());
    if (rc != MN_EXIT_OK) {
        mn_graph_destroy(g);
        return rc;
    }
    *out = g;
    return MN_EXIT_OK;
}

/* Refuse a model whose training state cannot fit in this machine's memory,
 * before anything that size is allocated: weights, gradients, momentum and
 * the step's proposal are four float copies of the parameters. (Linux
 * overcommits: a too-large run would otherwise be killed mid-way by the OOM
 * killer instead of failing with a message.) */
static int fits_memory(const char *cmd, const mn_module *m)
{
    int64_t params = mn_module_param_count(m);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (params <= 0 || pages <= 0 || page <= 0)
        return MN_EXIT_OK;
    double need = 4.0 * (double)sizeof(float) * (double)params, have = (double)pages * page;
    if (need <= have)
        return MN_EXIT_OK;
    return mn_cli_usage_error(cmd, "the model has %lld parameters: training needs at least %.1f "
                              "GB (weights, gradients, momentum, the step's proposal), more than "
                              "this machine's %.1f GB of memory; use a smaller --width or --depth",
                              (long long)params, need / 1e9, have / 1e9);
}

/* The module tree `st` made into *root, refused when it cannot fit. */
static int built(const char *cmd, mn_status st, mn_module **root)
{
    if (st != MN_OK)
        return mn_cli_fail(cmd, st);
    int rc = fits_memory(cmd, *root);
    if (rc != MN_EXIT_OK) {
        mn_module_destroy(*root);
        *root = NULL;
    }
    return rc;
}

int mn_cli_model_build(const char *cmd, const mn_cli_args *a, mn_module **root)
{
    *root = NULL;
    mn_graph_file *g;
    int rc = mn_cli_model_load(cmd, a, &g);
    if (rc != MN_EXIT_OK)
        return rc;
    mn_status st = mn_graph_make(g, root);
    mn_graph_destroy(g);
    return built(cmd, st, root);
}

/* zlib's CRC-32 of a file's bytes: sweep.cfg records the graph file's
 * content as well as its path, so an edited file is another setting. */
static int graph_crc32(const char *path, uint32_t *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uLong crc = crc32(0L, Z_NULL, 0);
    unsigned char b[65536];
    size_t n;
    while ((n = fread(b, 1, sizeof b, f)) > 0)
        crc = crc32(crc, b, (uInt)n);
    int bad = ferror(f);
    fclose(f);
    *out = (uint32_t)crc;
    return bad ? -1 : 0;
}

int mn_cli_model_text(const char *cmd, const mn_cli_args *a, const mn_graph_file *g,
                      const char *param, char *buf, size_t cap)
{
    /* The data: its name, and the folder when --data-dir names one (other
     * images are other runs). Without it the lines are what sweep.cfg
     * always held. */
    char data[1200];
    const char *name = a->data ? a->data : "fashion-mnist";
    bool is_text;
    mn_cli_text_path(a, &is_text);
    if (a->given[MN_OPT_DATA_DIR] && !is_text)
        snprintf(data, sizeof data, "data=%s\ndata_dir=%s\n", name, a->data_dir);
    else
        snprintf(data, sizeof data, "data=%s\n", name);
    if (is_mlp(a)) { /* the built-in mlp */
        mn_mlp_spec spec = mn_cli_mlp(a);
        char desc[192];
        if (mn_mlp_describe(&spec, param, desc, sizeof desc) != MN_OK)
            return mn_cli_usage_error(cmd, "--over: %s", mn_last_error());
        snprintf(buf, cap, "%s%s", data, desc);
        return MN_EXIT_OK;
    }
    if (!mn_graph_has_param(g, param))
        return mn_cli_usage_error(cmd, "--over: %s declares no parameter '%s'", source_name(a),
                                  param);
    uint32_t crc = 0;
    if (a->graph && graph_crc32(a->graph, &crc) != 0)
        return mn_cli_error(cmd, "--graph %s: cannot read: %s", a->graph, strerror(errno));
    size_t used = a->graph ? (size_t)snprintf(buf, cap, "%sgraph=%s\ngraph_crc32=%08x\n", data,
                                              a->graph, (unsigned)crc)
                           : (size_t)snprintf(buf, cap, "%smodel=%s\n", data, a->model);
    for (int i = 0; used < cap && i < mn_graph_param_count(g); i++) {
        const char *name = mn_graph_param_name(g, i);
        double v;
        if (strcmp(name, param) == 0)
            continue;
        if (mn_graph_param_value(g, name, &v) != MN_OK)
            return mn_cli_fail(cmd, MN_ERR_ARG);
        used += (size_t)snprintf(buf + used, cap - used, "%s=%.17g\n", name, v);
    }
    if (used >= cap)
        return mn_cli_error(cmd, "the graph's parameters do not fit in sweep.cfg's header");
    return MN_EXIT_OK;
}

int mn_cli_model_check_values(const char *cmd, const mn_cli_args *a, const mn_graph_file *g,
                              const char *param, const int64_t *values, int n)
{
    if (!is_mlp(a) && !mn_graph_has_param(g, param))
        return mn_cli_usage_error(cmd, "--over: %s declares no parameter '%s'", source_name(a),
                                  param);
    mn_mlp_spec spec = mn_cli_mlp(a);
    for (int i = 0; i < n; i++) {
        mn_module *m = NULL;
        /* the built-in mlp keeps mn_mlp_factory's ranges and messages (a width sweep
         * needs a hidden layer) */
        mn_status st = !is_mlp(a) ? mn_graph_factory((void *)g, param, values[i], &m)
                                : mn_mlp_factory(&spec, param, values[i], &m);
        int rc = st == MN_OK ? fits_memory(cmd, m) : MN_EXIT_OK;
        mn_module_destroy(m);
        if (st != MN_OK)
            return mn_cli_usage_error(cmd, "%s", mn_last_error());
        if (rc != MN_EXIT_OK)
            return rc;
    }
    return MN_EXIT_OK;
}

int mn_cli_model_build_text(const char *cmd, const mn_cli_args *a, int vocab, int64_t context,
                            mn_module **root)
{
    *root = NULL;
    mn_graph_file *g;
    int rc = mn_cli_model_load(cmd, a, &g);
    if (rc != MN_EXIT_OK)
        return rc;
    mn_status st = MN_OK;
    if (mn_graph_has_param(g, "vocab"))
        st = mn_graph_set(g, "vocab", (double)vocab);
    if (st == MN_OK && mn_graph_has_param(g, "context"))
        st = mn_graph_set(g, "context", (double)context);
    if (st == MN_OK)
        st = mn_graph_make(g, root);
    mn_graph_destroy(g);
    return built(cmd, st, root);
}

int mn_cli_check_model_data(const char *cmd, const mn_cli_args *a, bool is_text)
{
    mn_graph_file *g = NULL;
    int rc = mn_cli_model_load(cmd, a, &g);
    if (rc != MN_EXIT_OK)
        return rc;
    bool sequence = mn_graph_has_param(g, "vocab"); /* token ids in */
    mn_graph_destroy(g);
    const char *model = a->graph ? a->graph : a->model ? a->model : "mlp";
    /* with text, the corpus sets vocab and --context sets context: a --set
     * of either would be silently overridden */
    for (int i = 0; is_text && i < a->sets.n; i++)
        if (strncmp(a->sets.v[i], "vocab=", 6) == 0 || strncmp(a->sets.v[i], "context=", 8) == 0)
            return mn_cli_usage_error(cmd, "--set %s: with --data text the corpus gives `vocab` "
                                      "and --context gives `context`", a->sets.v[i]);
    if (is_text && !sequence)
        return mn_cli_usage_error(cmd, "--data %s needs a sequence model (a graph declaring "
                                  "`vocab`, e.g. --model gpt), not %s", a->data,
                                  model);
    const mn_cli_command *c = mn_cli_find_command(cmd);
    if (!is_text && sequence && c && !mn_cli_use_of(c, MN_OPT_DATA)) /* e.g. coordcheck */
        return mn_cli_usage_error(cmd, "%s reads token ids; %s runs on the Fashion-MNIST "
                                  "images only", model, cmd);
    if (!is_text && sequence)
        return mn_cli_usage_error(cmd, "%s reads token ids: give it --data text[:PATH], not "
                                  "the Fashion-MNIST images", model);
    return MN_EXIT_OK;
}

const char *mn_cli_text_path(const mn_cli_args *a, bool *is_text)
{
    *is_text = a->data && strncmp(a->data, "text", 4) == 0 && (!a->data[4] || a->data[4] == ':');
    return *is_text && a->data[4] == ':' ? a->data + 5 : NULL;
}

int mn_cli_text_load(const char *cmd, const mn_cli_args *a, const char *path, mn_text *text,
                     mn_dataset *train, mn_dataset *valid)
{
    *text = (mn_text){0};
    *train = (mn_dataset){0};
    *valid = (mn_dataset){0};
    if (mn_text_load(path, text) != MN_OK)
        return mn_cli_error(cmd, "--data %s: %s", a->data, mn_last_error());
    /* The shorter split first: a --context too long is told its tighter bound,
     * not one the other split then refuses. */
    bool valid_first = text->n - text->n_train < text->n_train;
    mn_status st = valid_first ? mn_text_windows(text, MN_TEXT_VALID, a->context, valid)
                               : mn_text_windows(text, MN_TEXT_TRAIN, a->context, train);
    if (st == MN_OK)
        st = valid_first ? mn_text_windows(text, MN_TEXT_TRAIN, a->context, train)
                         : mn_text_windows(text, MN_TEXT_VALID, a->context, valid);
    if (st == MN_OK)
        return MN_EXIT_OK;
    int rc = mn_cli_usage_error(cmd, "--context %lld with --data %s: %s", (long long)a->context,
                                a->data, mn_last_error());
    mn_dataset_free(train);
    mn_dataset_free(valid);
    mn_text_free(text);
    *text = (mn_text){0};
    return rc;
}
