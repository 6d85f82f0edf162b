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

/* The option that gave a sweep's size values, for messages: --over, or
 * --widths (given or by default). */
static const char *grid_option(const mn_cli_args *a)
{
    return a->given[MN_OPT_OVER] ? "--over" : "--widths";
}

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
        return mn_cli_model_error(cmd, a, "--%s: %s", name,
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
        if (mn_graph_set_text(g, a->sets.v[i]) != MN_OK) /* a name the file lacks */
            rc = mn_cli_model_error(cmd, a, "--set %s: %s", a->sets.v[i], mn_last_error());
    if (rc != MN_EXIT_OK) {
        mn_graph_destroy(g);
        return rc;
    }
    *out = g;
    return MN_EXIT_OK;
}

/* A model that does not build. A built-in one builds at its defaults, so
 * its refusal (an argument or shape error) is of the sizes the command line
 * gave it (--width, --set d_out=0): a usage error, exit 2, as when --width 0
 * is refused. A graph file's may be the file's own: exit 1. */
static int make_failed(const char *cmd, const mn_cli_args *a, mn_status st)
{
    if (a->graph || (st != MN_ERR_ARG && st != MN_ERR_SHAPE))
        return mn_cli_fail(cmd, st);
    return mn_cli_usage_error(cmd, "%s", mn_last_error());
}

int mn_cli_model_tree(const char *cmd, const mn_cli_args *a, mn_module **root)
{
    *root = NULL;
    mn_graph_file *g;
    int rc = mn_cli_model_load(cmd, a, &g);
    if (rc != MN_EXIT_OK)
        return rc;
    mn_status st = mn_graph_make(g, root);
    mn_graph_destroy(g);
    return st == MN_OK ? MN_EXIT_OK : make_failed(cmd, a, st);
}

/* ---- before training: the memory and the output ---------------------------------- */

/* The float32 copies of the parameters training keeps, as
 * mn_train_memory_of counts them (AdamW's second moment the fifth). */
static const char *const copy_names[] = {"weights", "gradients", "momentum",
                                         "the step's proposal", "AdamW's second moment"};

double mn_cli_machine_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0;
}

/* Refuse a model whose training state cannot fit in this machine's memory,
 * before anything that size is allocated (Linux overcommits: a too-large
 * run would otherwise be killed mid-way by the OOM killer instead of failing
 * with a message). The need is mn_train_memory_of's lower bound plus `extra`
 * float32 copies of the parameters that the command keeps (`extra_what`
 * names them); *need (when not NULL) is set to it, 0 when it cannot be
 * counted (then nothing is refused). */
static int fits_memory(const char *cmd, const mn_cli_args *a, const mn_module *m, int extra,
                       const char *extra_what, double *need)
{
    mn_train_settings s;
    mn_atom_norm ov[MN_CLI_MAX_ATOM_NORMS];
    mn_cli_train_settings(a, &s, ov);
    mn_train_memory mem;
    double have = mn_cli_machine_memory();
    if (need)
        *need = 0;
    if (mn_train_memory_of(m, &s, &mem) != MN_OK || mem.params <= 0 || have <= 0)
        return MN_EXIT_OK;
    double bytes = mem.bytes + 4.0 * extra * (double)mem.params;
    if (need)
        *need = bytes;
    if (bytes <= have)
        return MN_EXIT_OK;
    /* "4 float32 copies of the parameters: weights, ...; 2.1 GB for the polar
     * iteration of the largest matrix" */
    char what[512];
    size_t used = (size_t)snprintf(what, sizeof what, "%d float32 copies of the parameters: ",
                                   mem.copies + extra);
    for (int i = 0; i < mem.copies && i < 5 && used < sizeof what; i++)
        used += (size_t)snprintf(what + used, sizeof what - used, "%s%s", i ? ", " : "",
                                 copy_names[i]);
    if (extra && extra_what && used < sizeof what)
        used += (size_t)snprintf(what + used, sizeof what - used, ", %s", extra_what);
    if (mem.polar_bytes > 0 && used < sizeof what)
        snprintf(what + used, sizeof what - used, "; %.1f GB for the polar iteration of the "
                 "largest matrix", mem.polar_bytes / 1e9);
    return mn_cli_usage_error(cmd, "the model has %lld parameters: %s needs at least %.1f GB "
                              "(%s), more than this machine's %.1f GB of memory; use %s",
                              (long long)mem.params,
                              strcmp(cmd, "coordcheck") == 0 ? "coordcheck" : "training",
                              bytes / 1e9, what, have / 1e9,
                              a->graph ? "a smaller model"
                              : mn_cli_use_of(mn_cli_find_command(cmd), MN_OPT_WIDTHS)
                                  ? "smaller --widths (or --over values)"
                                  : "a smaller --width or --depth");
}

int mn_cli_model_fits(const char *cmd, const mn_cli_args *a, const mn_module *root, int extra,
                      const char *extra_what)
{
    return fits_memory(cmd, a, root, extra, extra_what, NULL);
}

/* The data's classes and the size of its input's last dimension: the
 * vocabulary (the graph's `vocab`, set from the corpus) and --context for
 * --data text, else Fashion-MNIST's 10 classes of 784 pixels. */
static void data_shape(const mn_cli_args *a, const mn_graph_file *g, int64_t *classes,
                       int64_t *in)
{
    bool is_text;
    mn_cli_text_path(a, &is_text);
    mn_mlp_spec spec = mn_cli_mlp(a);
    double vocab = 0;
    if (is_text && g && mn_graph_has_param(g, "vocab") &&
        mn_graph_param_value(g, "vocab", &vocab) == MN_OK) {
        *classes = (int64_t)vocab;
        *in = a->context;
    } else {
        *classes = is_text ? 0 : spec.d_out;
        *in = is_text ? a->context : spec.d_in;
    }
}

/* "(1, 10, 28, 28)". */
static const char *shape_text(const mn_shape *s, char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < s->ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "",
                                 (long long)s->dim[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, ")");
    return buf;
}

/* Before training: the network's output is one row of logits per label,
 * from the whole shape of the input a batch gives it (the data is always a
 * (B, features) matrix: (1, 784) pixels, or (1, T) token ids): (1, K) for
 * the images, (1, T, V) for text, with as many logits as the data has
 * classes (a label past the last logit would stop the run at its first
 * loss). Any other output (a feature map, a per-sequence Mean) and an input
 * the network cannot take (an AvgPool that does not divide 28) are refused
 * here, not by the first step. More logits than classes train (a padded
 * vocabulary is common practice), and a model without parameters trains
 * nothing: notes, when `notes`. */
static int check_output(const char *cmd, const mn_cli_args *a, const mn_graph_file *g,
                        const mn_module *root, bool notes)
{
    int64_t classes, in;
    data_shape(a, g, &classes, &in);
    bool is_text;
    mn_cli_text_path(a, &is_text);
    char data[96], xs[160], ys[160];
    if (is_text)
        snprintf(data, sizeof data, "the %lld characters of the corpus's vocabulary",
                 (long long)classes);
    else
        snprintf(data, sizeof data, "the %lld classes of Fashion-MNIST", (long long)classes);
    const char *model = source_name(a);
    const char *input = is_text ? " of token ids" : "";
    mn_shape x = {2, {1, in}}, y;
    shape_text(&x, xs, sizeof xs);
    if (classes > 0 && mn_module_output_shape(root, &x, &y) != MN_OK)
        return mn_cli_model_error(cmd, a, "%s on a %s input%s: %s", model, xs, input,
                                  mn_last_error());
    if (classes > 0) {
        /* (1, K), or (1, T, V) for the T labels of a window */
        bool rows = is_text ? y.ndim == 3 && y.dim[0] == 1 && y.dim[1] == in
                            : y.ndim == 2 && y.dim[0] == 1;
        if (!rows) {
            char want[64];
            if (is_text)
                snprintf(want, sizeof want, "(1, %lld, V)", (long long)in);
            else
                snprintf(want, sizeof want, "(1, K)");
            return mn_cli_model_error(cmd, a, "%s maps a %s input%s to %s, not %s: %s need one "
                                      "row of logits per %s", model, xs, input,
                                      shape_text(&y, ys, sizeof ys), want, data,
                                      is_text ? "position" : "example");
        }
        int64_t out = y.dim[y.ndim - 1];
        if (out < classes)
            return mn_cli_model_error(cmd, a, "%s outputs %lld logit%s per %s, fewer than %s: "
                                      "every %s needs one", model, (long long)out,
                                      out == 1 ? "" : "s",
                                      is_text ? "position" : "example", data,
                                      is_text ? "character" : "class");
        if (out > classes && notes)
            fprintf(stderr, "modnorm %s: note: %s outputs %lld logits per %s, more than %s: "
                    "the other %lld never match a label\n", cmd, model, (long long)out,
                    is_text ? "position" : "example", data, (long long)(out - classes));
    }
    if (notes && mn_module_param_count(root) == 0)
        fprintf(stderr, "modnorm %s: note: %s has no parameters: training changes nothing\n",
                cmd, model);
    return MN_EXIT_OK;
}

/* The module tree `st` made into *root from `g`, refused when its output
 * does not fit the data or its training cannot fit in memory. */
static int built(const char *cmd, const mn_cli_args *a, const mn_graph_file *g, mn_status st,
                 mn_module **root)
{
    if (st != MN_OK)
        return make_failed(cmd, a, st);
    int rc = check_output(cmd, a, g, *root, true);
    if (rc == MN_EXIT_OK)
        rc = fits_memory(cmd, a, *root, 0, NULL, NULL);
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
    rc = built(cmd, a, g, st, root);
    mn_graph_destroy(g);
    return rc;
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
            return mn_cli_usage_error(cmd, "%s: %s", grid_option(a), mn_last_error());
        snprintf(buf, cap, "%s%s", data, desc);
        return MN_EXIT_OK;
    }
    if (!mn_graph_has_param(g, param))
        return mn_cli_model_error(cmd, a, "%s: %s declares no parameter '%s'",
                                  grid_option(a), source_name(a), param);
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

static int by_need_desc(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a < b) - (a > b);
}

int mn_cli_model_check_values(const char *cmd, const mn_cli_args *a, const mn_graph_file *g,
                              const char *param, const int64_t *values, int n, int jobs,
                              int runs_per_value)
{
    if (!is_mlp(a) && !mn_graph_has_param(g, param))
        return mn_cli_model_error(cmd, a, "%s: %s declares no parameter '%s'",
                                  grid_option(a), source_name(a), param);
    mn_mlp_spec spec = mn_cli_mlp(a);
    bool coordcheck = strcmp(cmd, "coordcheck") == 0;
    /* coordcheck keeps the weights before each step and the step's change */
    int extra = coordcheck ? 2 : 0;
    const char *extra_what = coordcheck ? "the weights before a step and their change" : NULL;
    double *need = calloc((size_t)(n > 0 ? n : 1), sizeof *need);
    if (!need)
        return mn_cli_error(cmd, "out of memory");
    int rc = MN_EXIT_OK;
    for (int i = 0; rc == MN_EXIT_OK && i < n; i++) {
        mn_module *m = NULL;
        /* the built-in mlp keeps mn_mlp_factory's ranges and messages (a width sweep
         * needs a hidden layer) */
        mn_status st = !is_mlp(a) ? mn_graph_factory((void *)g, param, values[i], &m)
                                : mn_mlp_factory(&spec, param, values[i], &m);
        if (st != MN_OK)
            rc = make_failed(cmd, a, st);
        else if ((rc = check_output(cmd, a, g, m, i == 0)) == MN_EXIT_OK)
            rc = jobs > 0 ? fits_memory(cmd, a, m, extra, extra_what, &need[i]) : MN_EXIT_OK;
        mn_module_destroy(m);
    }
    /* Runs side by side: at worst the `jobs` largest of the grid at once
     * (each value has runs_per_value runs: its learning rates and seeds). */
    double have = mn_cli_machine_memory(), sum = 0;
    int counted = 0, largest = 0;
    if (rc == MN_EXIT_OK && jobs > 1 && have > 0) {
        double *sorted = malloc((size_t)n * sizeof *sorted);
        if (!sorted) {
            free(need);
            return mn_cli_error(cmd, "out of memory");
        }
        memcpy(sorted, need, (size_t)n * sizeof *sorted);
        qsort(sorted, (size_t)n, sizeof *sorted, by_need_desc);
        for (int i = 0; i < n && counted < jobs; i++)
            for (int r = 0; r < runs_per_value && counted < jobs; r++, counted++)
                sum += sorted[i];
        for (int i = 0; i < n; i++)
            if (need[i] > need[largest])
                largest = i;
        free(sorted);
    }
    if (rc == MN_EXIT_OK && sum > have)
        rc = mn_cli_usage_error(cmd, "with --jobs %d, %d runs side by side need at least %.1f "
                                "GB (%s %lld alone: %.1f GB), more than this machine's %.1f GB "
                                "of memory; use fewer --jobs or smaller values of %s", jobs,
                                counted, sum / 1e9, param, (long long)values[largest],
                                need[largest] / 1e9, have / 1e9, param);
    free(need);
    return rc;
}

mn_status mn_cli_graph_set_text(mn_graph_file *g, int vocab, int64_t context)
{
    mn_status st = MN_OK;
    if (mn_graph_has_param(g, "vocab"))
        st = mn_graph_set(g, "vocab", (double)vocab);
    if (st == MN_OK && mn_graph_has_param(g, "context"))
        st = mn_graph_set(g, "context", (double)context);
    return st;
}

int mn_cli_model_build_text(const char *cmd, const mn_cli_args *a, int vocab, int64_t context,
                            mn_module **root)
{
    *root = NULL;
    mn_graph_file *g;
    int rc = mn_cli_model_load(cmd, a, &g);
    if (rc != MN_EXIT_OK)
        return rc;
    mn_status st = mn_cli_graph_set_text(g, vocab, context);
    if (st == MN_OK)
        st = mn_graph_make(g, root);
    rc = built(cmd, a, g, st, root);
    mn_graph_destroy(g);
    return rc;
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
    /* whether a --graph file declares `vocab` is its content: exit 1 */
    if (is_text && !sequence)
        return mn_cli_model_error(cmd, a, "--data %s needs a sequence model (a graph declaring "
                                  "`vocab`, e.g. --model gpt), not %s", a->data,
                                  model);
    const mn_cli_command *c = mn_cli_find_command(cmd);
    if (!is_text && sequence && c && !mn_cli_use_of(c, MN_OPT_DATA)) /* e.g. coordcheck */
        return mn_cli_model_error(cmd, a, "%s reads token ids; %s runs on the Fashion-MNIST "
                                  "images only", model, cmd);
    if (!is_text && sequence)
        return mn_cli_model_error(cmd, a, "%s reads token ids: give it --data text[:PATH], not "
                                  "the Fashion-MNIST images", model);
    if (!is_text && a->given[MN_OPT_CONTEXT])
        fprintf(stderr, "modnorm %s: note: --context sets the windows of --data text; the "
                "Fashion-MNIST images ignore it\n", cmd);
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
    if (valid)
        *valid = (mn_dataset){0};
    if (mn_text_load(path, text) != MN_OK)
        return mn_cli_error(cmd, "--data %s: %s", a->data, mn_last_error());
    /* The shorter split first: a --context too long is told its tighter bound,
     * not one the other split then refuses. */
    bool valid_first = valid && text->n - text->n_train < text->n_train;
    mn_status st = valid_first ? mn_text_windows(text, MN_TEXT_VALID, a->context, valid) : MN_OK;
    if (st == MN_OK)
        st = mn_text_windows(text, MN_TEXT_TRAIN, a->context, train);
    if (st == MN_OK && valid && !valid_first)
        st = mn_text_windows(text, MN_TEXT_VALID, a->context, valid);
    if (st == MN_OK)
        return MN_EXIT_OK;
    /* exit 1: the corpus, not the command line, is too short for the context */
    int rc = mn_cli_error(cmd, "--context %lld with --data %s: %s", (long long)a->context, a->data,
                          mn_last_error());
    mn_dataset_free(train);
    if (valid)
        mn_dataset_free(valid);
    mn_text_free(text);
    *text = (mn_text){0};
    return rc;
}

int mn_cli_check_text_param(const char *cmd, bool is_text, const char *param)
{
    if (is_text && param && (strcmp(param, "vocab") == 0 || strcmp(param, "context") == 0))
        return mn_cli_usage_error(cmd, "--over %s: with --data text the corpus gives `vocab` "
                                  "and --context gives `context`", param);
    return MN_EXIT_OK;
}
