/* The option table and the one parser every subcommand goes through. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/options.h"
#include "core/error.h"
#include "core/number.h"
#include "modnorm.h"

/* ---- names the library looks up ------------------------------------------ */

static mn_status lookup_norm(const char *name)
{
    const mn_norm *n;
    return mn_norm_lookup(name, &n);
}

static mn_status lookup_method(const char *name)
{
    const mn_polar_method *m;
    return mn_polar_lookup(name, &m);
}

static mn_status lookup_preset(const char *name)
{
    mn_solver_config c;
    return mn_solver_preset(&c, name, MN_PARAM_MODULAR);
}

static const char *model_names(void) { return "mlp, gpt, cnn"; }
static const char *data_names(void)
{
    return "fashion-mnist, " MN_CLI_TEXT_CHOICE;
}

static mn_status lookup_model(const char *name)
{
    if (strcmp(name, "mlp") == 0 || strcmp(name, "gpt") == 0 ||
        strcmp(name, "cnn") == 0)
        return MN_OK;
    return mn_fail(MN_ERR_ARG, "unknown model '%s' (known: %s)", name, model_names());
}

static mn_status lookup_data(const char *name)
{
    if (strcmp(name, "fashion-mnist") == 0 || strcmp(name, "text") == 0)
        return MN_OK;
    if (strncmp(name, "text:", 5) == 0)
        return name[5] ? MN_OK : mn_fail(MN_ERR_ARG, "text: needs a path (text:PATH)");
    return mn_fail(MN_ERR_ARG, "unknown data set '%s' (known: %s)", name, data_names());
}

/* ---- the table -------------------------------------------------------------- */

static const char *const param_words[] = {"modular", "sp", NULL};
static const int param_values[] = {MN_PARAM_MODULAR, MN_PARAM_SP};
static const char *const schedule_words[] = {"linear", "cosine", "constant", NULL};
static const int schedule_values[] = {MN_SCHEDULE_LINEAR, MN_SCHEDULE_COSINE,
                                      MN_SCHEDULE_CONSTANT};
static const char *const form_words[] = {"auto", "direct", "gram", NULL};
static const int form_values[] = {MN_POLAR_AUTO, MN_POLAR_DIRECT, MN_POLAR_GRAM};
static const char *const precision_words[] = {"fp32", "bf16", NULL};
static const int precision_values[] = {MN_PRECISION_FP32, MN_PRECISION_BF16};
static const char *const format_words[] = {"text", "json", "graph", NULL};
static const int format_values[] = {0, 1, 2};
static const char *const op_words[] = {"gemm", "syrk", "gemmt", NULL};
static const int op_values[] = {0, 1, 2};

#define AT(field) offsetof(mn_cli_args, field)
#define INT_OPT(ID, NAME, META, LO, HI, FIELD, HELP)                                               \
    [ID] = {.id = ID, .name = NAME, .kind = MN_KIND_INT, .metavar = META, .lo = LO, .hi = HI,     \
            .offset = AT(FIELD), .help = HELP}
#define REAL_OPT(ID, NAME, META, LO, OPEN, HI, FIELD, HELP)                                        \
    [ID] = {.id = ID, .name = NAME, .kind = MN_KIND_REAL, .metavar = META, .lo = LO,              \
            .lo_open = OPEN, .hi = HI, .offset = AT(FIELD), .help = HELP}
#define FLAG_OPT(ID, NAME, FIELD, HELP)                                                            \
    [ID] = {.id = ID, .name = NAME, .kind = MN_KIND_FLAG, .offset = AT(FIELD), .help = HELP}
#define NAME_OPT(ID, NAME, META, LOOKUP, NAMES, FIELD, HELP)                                       \
    [ID] = {.id = ID, .name = NAME, .kind = MN_KIND_NAME, .metavar = META, .lookup = LOOKUP,      \
            .names = NAMES, .offset = AT(FIELD), .help = HELP}
#define CHOICE_OPT(ID, NAME, META, WORDS, VALUES, FIELD, HELP)                                     \
    [ID] = {.id = ID, .name = NAME, .kind = MN_KIND_CHOICE, .metavar = META, .choices = WORDS,    \
            .choice_values = VALUES, .offset = AT(FIELD), .help = HELP}

/* The learning rate's range, shared by --lr and every entry of --lrs. */
#define LR_LO 0
#define LR_HI 1e6
#define WIDTH_HI 65536

const mn_cli_option mn_cli_options[MN_OPT_COUNT] = {
    [MN_OPT_NONE] = {.id = MN_OPT_NONE},
    NAME_OPT(MN_OPT_DATA, "data", "NAME", lookup_data, data_names, data, "the data set"),
    [MN_OPT_DATA_DIR] = {.id = MN_OPT_DATA_DIR, .name = "data-dir", .kind = MN_KIND_STRING,
                         .metavar = "DIR", .offset = AT(data_dir),
                         .help = "where the Fashion-MNIST IDX files are"},
    NAME_OPT(MN_OPT_MODEL, "model", "NAME", lookup_model, model_names, model, "the model"),
    INT_OPT(MN_OPT_WIDTH, "width", "W", 1, WIDTH_HI, width, "hidden width"),
    INT_OPT(MN_OPT_DEPTH, "depth", "D", 1, 100, depth,
            "depth: the mlp's Linear layers, the gpt's blocks"),
    [MN_OPT_WIDTHS] = {.id = MN_OPT_WIDTHS, .name = "widths", .kind = MN_KIND_INTS,
                       .metavar = "W1,W2,...", .lo = 1, .hi = WIDTH_HI, .offset = AT(widths),
                       .help = "hidden widths, a comma list (64,128 or 2^6,2^7; each value once)"},
    [MN_OPT_OVER] = {.id = MN_OPT_OVER, .name = "over", .kind = MN_KIND_OVER,
                     .metavar = "NAME=V1,...", .lo = 1, .hi = WIDTH_HI,
                     .excludes = MN_OPT_WIDTHS, .offset = AT(over),
                     .help = "the size parameter to vary and its values, e.g. depth=2,4,8,16 "
                             "(the mlp has width and depth); --widths W is --over width=W"},
    [MN_OPT_ATOM_NORM] = {.id = MN_OPT_ATOM_NORM, .name = "atom-norm", .kind = MN_KIND_ATOM_NORM,
                          .metavar = "K=NORM", .lo = 0, .hi = 1 << 20, .lookup = lookup_norm,
                          .repeatable = true, .offset = AT(atom_norms),
                          .help = "use norm NORM on atom K (0-based, forward order); "
                                  "repeatable, each K once"},
    [MN_OPT_GRAPH] = {.id = MN_OPT_GRAPH, .name = "graph", .kind = MN_KIND_STRING,
                      .metavar = "FILE.mn", .excludes = MN_OPT_MODEL, .offset = AT(graph),
                      .help = "the network from a graph file (README: Networks as files) "
                              "instead of --model"},
    [MN_OPT_SET] = {.id = MN_OPT_SET, .name = "set", .kind = MN_KIND_ASSIGN,
                    .metavar = "NAME=VALUE", .repeatable = true, .offset = AT(sets),
                    .help = "set a parameter the graph file declares (mlp: width, depth, "
                            "d_in, d_out); repeatable, each NAME once; width and depth take "
                            "--width's and --depth's integers and ranges"},
    CHOICE_OPT(MN_OPT_FORMAT, "format", "text|json|graph", format_words, format_values, format,
               "text (a tree), json (as --json; --json with another --format is refused), "
               "or graph (the graph language, which --graph reads back)"),
    NAME_OPT(MN_OPT_OPT, "opt", "NAME", lookup_preset, mn_solver_preset_names, opt,
             "the optimizer"),
    CHOICE_OPT(MN_OPT_PARAM, "param", "modular|sp", param_words, param_values, param,
               "modular, or sp (PyTorch-default init, targets 1)"),
    REAL_OPT(MN_OPT_LR, "lr", "LR", LR_LO, true, LR_HI, lr,
             "learning rate η (0.01, 1e-2 or 2^-7)"),
    [MN_OPT_LRS] = {.id = MN_OPT_LRS, .name = "lrs", .kind = MN_KIND_REALS, .metavar = "A:B|L1,...",
                    .lo = LR_LO, .lo_open = true, .hi = LR_HI, .offset = AT(lrs),
                    .help = "learning rates: A:B is powers of two from A to B, one octave "
                            "apart, e.g. 2^-10:2^2; or a comma list (0.01,2^-5,...; each rate once)"},
    REAL_OPT(MN_OPT_MOMENTUM, "momentum", "B", 0, false, 0.999999, momentum,
             "EMA momentum β"),
    FLAG_OPT(MN_OPT_NESTEROV, "nesterov", nesterov, "Nesterov momentum"),
    REAL_OPT(MN_OPT_WD, "wd", "L", 0, false, 1e6, wd,
             "decoupled weight decay λ: w ← (1 − η_t·λ)·w"),
    CHOICE_OPT(MN_OPT_SCHEDULE, "schedule", "linear|cosine|constant", schedule_words,
               schedule_values, schedule, "learning-rate schedule after the warmup"),
    INT_OPT(MN_OPT_WARMUP, "warmup", "N", 0, 1 << 30, warmup, "linear warmup steps"),
    NAME_OPT(MN_OPT_METHOD, "method", "M", lookup_method, mn_polar_names, method,
             "polar method for spectral norms"),
    CHOICE_OPT(MN_OPT_FORM, "form", "auto|direct|gram", form_words, form_values, form,
               "how an iteration is evaluated: auto (by flop count), direct (on the "
               "iterate) or gram (on k x k polynomials, restarted)"),
    CHOICE_OPT(MN_OPT_PRECISION, "precision", "fp32|bf16", precision_words, precision_values,
               precision, "the polar iteration's products: fp32 (the input's dtype), or bf16 "
               "operands with float32 accumulation and a float32 iterate (float32 input only)"),
    CHOICE_OPT(MN_OPT_NET_PRECISION, "net-precision", "fp32|bf16", precision_words,
               precision_values, net_precision, "Linear's forward and backward products "
               "(evaluation's too): fp32, or bf16 operands with float32 accumulation (weights, "
               "activations and gradients stay float32; Conv2D, attention's per-head products "
               "and Embed stay fp32)"),
    NAME_OPT(MN_OPT_NORM, "norm", "NAME", lookup_norm, mn_norm_names, norm, "the norm"),
    [MN_OPT_STEPS] = {.id = MN_OPT_STEPS, .name = "steps", .kind = MN_KIND_INT, .metavar = "N",
                      .lo = 1, .hi = 1 << 30, .excludes = MN_OPT_EPOCHS, .offset = AT(steps),
                      .help = "training steps"},
    REAL_OPT(MN_OPT_EPOCHS, "epochs", "E", 1e-6, false, 1e4, epochs,
             "epochs (the last incomplete batch is dropped)"),
    INT_OPT(MN_OPT_BATCH, "batch", "B", 1, 65536, batch, "batch size"),
    INT_OPT(MN_OPT_SEED, "seed", "S", 0, 1 << 30, seed,
            "seed for initialization and shuffling"),
    INT_OPT(MN_OPT_SEEDS, "seeds", "K", 1, 1000, seeds, "seeds 0..K-1 per cell"),
    INT_OPT(MN_OPT_JOBS, "jobs", "J", 1, 256, jobs, "runs trained at once, each single-threaded"),
    INT_OPT(MN_OPT_THREADS, "threads", "T", 1, 1024, threads, "BLIS threads per call"),
    FLAG_OPT(MN_OPT_SERIAL_ATOMS, "serial-atoms", serial_atoms,
             "dualize the atoms one at a time on every thread instead of running small ones "
             "side by side"),
    REAL_OPT(MN_OPT_TOLERANCE, "tolerance", "TOL", 1, false, 100, tolerance,
             "flatness tolerance per 4x of width"),
    FLAG_OPT(MN_OPT_QUICK, "quick", quick, "a small grid (see below)"),
    FLAG_OPT(MN_OPT_NO_RUN, "no-run", no_run,
             "train nothing: summarize and plot what DIR/results.csv holds (no "
             "memory check: the runs may need more than this machine has)"),
    INT_OPT(MN_OPT_N, "n", "N", 1, 16384, n, "the matrices are N x N"),
    CHOICE_OPT(MN_OPT_OP, "op", "gemm|syrk|gemmt", op_words, op_values, op, "the product"),
    [MN_OPT_SHAPE] = {.id = MN_OPT_SHAPE, .name = "shape", .kind = MN_KIND_SHAPE,
                      .metavar = "MxN", .lo = 1, .hi = 65536, .offset = AT(shape),
                      .help = "the matrix's shape"},
    INT_OPT(MN_OPT_REPEAT, "repeat", "R", 1, 1000, repeat, "timed repetitions"),
    FLAG_OPT(MN_OPT_NO_ERROR, "no-error", no_error, "skip the error against the SVD"),
    [MN_OPT_OUT] = {.id = MN_OPT_OUT, .name = "out", .kind = MN_KIND_STRING, .metavar = "DIR",
                    .offset = AT(out), .help = "results directory"},
    FLAG_OPT(MN_OPT_JSON, "json", json, "JSON on stdout"),
    [MN_OPT_CHECKPOINT] = {.id = MN_OPT_CHECKPOINT, .name = "checkpoint", .kind = MN_KIND_STRING,
                           .metavar = "PATH", .offset = AT(checkpoint),
                           .help = "save the run's whole state (weights, optimizer, data order) "
                                   "to PATH, a safetensors file, atomically: after the last step "
                                   "(unless the run diverged) and every --save-every steps. A "
                                   "checkpoint already at PATH is "
                                   "replaced only by the run --resume PATH continues, or with "
                                   "--overwrite"},
    INT_OPT(MN_OPT_SAVE_EVERY, "save-every", "N", 1, 1e12, save_every,
            "save the checkpoint every N steps (needs --checkpoint)"),
    [MN_OPT_RESUME] = {.id = MN_OPT_RESUME, .name = "resume", .kind = MN_KIND_STRING,
                       .metavar = "PATH", .offset = AT(resume),
                       .help = "continue the run saved in PATH (the same settings and model, "
                               "else refused naming the difference); bit-identical to an "
                               "uninterrupted run at the same --threads"},
    FLAG_OPT(MN_OPT_OVERWRITE, "overwrite", overwrite,
             "let --checkpoint replace the modnorm checkpoint already at PATH with this run's "
             "(it is kept until the first save; any other file is still refused)"),
    [MN_OPT_NPY] = {.id = MN_OPT_NPY, .name = "npy", .kind = MN_KIND_STRING, .metavar = "DIR",
                    .offset = AT(npy), .help = "write each tensor as DIR/NAME.npy (created)"},
    INT_OPT(MN_OPT_CONTEXT, "context", "T", 1, 1 << 20, context,
            "characters a training window holds (text data; sets the graph's `context` "
            "parameter when it declares one)"),
    [MN_OPT_PROMPT] = {.id = MN_OPT_PROMPT, .name = "prompt", .kind = MN_KIND_STRING,
                       .metavar = "TEXT", .offset = AT(prompt),
                       .help = "the text to continue (every character in the vocabulary)"},
    INT_OPT(MN_OPT_TOKENS, "tokens", "N", 0, 1 << 24, tokens, "characters to generate"),
    REAL_OPT(MN_OPT_TEMPERATURE, "temperature", "T", 0, false, 100, temperature,
             "softmax temperature (0: the most likely character every time)"),
};

/* ---- messages -------------------------------------------------------------- */

int mn_cli_usage_to(FILE *err, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(err, "modnorm %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(err, fmt, ap);
    va_end(ap);
    fprintf(err, " (see 'modnorm %s --help')\n", cmd);
    return 2;
}

/* "an integer in [1, 65536]", "a positive number up to 1e+06", "a number in [0, 1e+06]". */
static const char *describe(const mn_cli_option *o, char *buf, size_t cap)
{
    if (o->kind == MN_KIND_REAL || o->kind == MN_KIND_REALS) {
        if (o->lo_open && o->lo == 0)
            snprintf(buf, cap, "a positive number up to %g", o->hi);
        else
            snprintf(buf, cap, "a number in %c%g, %g]", o->lo_open ? '(' : '[', o->lo, o->hi);
    } else {
        snprintf(buf, cap, "an integer in [%lld, %lld]", (long long)o->lo, (long long)o->hi);
    }
    return buf;
}

/* ---- number tokens -------------------------------------------------------- */

/* Every number is read by core/number.h, as the library's grid parsers'
 * are: one syntax for --width 2^6, --widths 2^6,2^7, --lr 2^-7 and --set. */

static bool in_range(const mn_cli_option *o, double v)
{
    return (o->lo_open ? v > o->lo : v >= o->lo) && v <= o->hi;
}

/* ---- lists: the library's grid parsers (study.h), then the option's range ---- */

/* `text` (quoted in messages) holds the list at `list`; each entry in the
 * range of option `range` (o itself, or for --over the option named NAME).
 * `param`: the parameter whose values the list holds (--over's NAME), or
 * NULL for o's own. */
static bool set_ints(const char *cmd, const mn_cli_option *o, const mn_cli_option *range,
                     const char *param, const char *text, const char *list, mn_cli_ints *dst,
                     FILE *err)
{
    mn_cli_ints v;
    if (mn_study_parse_values(list, (int64_t)range->lo, (int64_t)range->hi, &v.v, &v.n) != MN_OK) {
        if (!param)
            mn_cli_usage_to(err, cmd, "--%s %s", o->name, mn_last_error());
        else
            mn_cli_usage_to(err, cmd, "--%s '%s': the values of %s: %s", o->name, text, param,
                            mn_last_error());
        return false;
    }
    free(dst->v);
    *dst = v;
    return true;
}

static bool set_reals(const char *cmd, const mn_cli_option *o, const char *text,
                      mn_cli_reals *dst, FILE *err)
{
    char buf[64];
    mn_cli_reals v;
    if (mn_study_parse_lrs(text, &v.v, &v.n) != MN_OK) {
        mn_cli_usage_to(err, cmd, "--%s %s", o->name, mn_last_error());
        return false;
    }
    for (int i = 0; i < v.n; i++)
        if (!in_range(o, v.v[i])) {
            mn_cli_usage_to(err, cmd, "--%s '%s': %g is not %s", o->name, text, v.v[i],
                            describe(o, buf, sizeof buf));
            free(v.v);
            return false;
        }
    free(dst->v);
    *dst = v;
    return true;
}

/* Store `text` as option o's value in a; false after a message. */
static bool set_value(const char *cmd, const mn_cli_option *o, const char *text, mn_cli_args *a,
                      FILE *err)
{
    void *field = (char *)a + o->offset;
    char range[64];
    switch (o->kind) {
    case MN_KIND_FLAG:
        *(bool *)field = true;
        return true;
    case MN_KIND_INT: {
        int64_t v;
        if (!mn_number_int(text, strlen(text), &v) || !in_range(o, (double)v)) {
            mn_cli_usage_to(err, cmd, "--%s '%s' must be %s", o->name, text,
                            describe(o, range, sizeof range));
            return false;
        }
        *(int64_t *)field = v;
        return true;
    }
    case MN_KIND_REAL: {
        double v;
        const char *why = mn_number_real_why(text, strlen(text));
        if (why) {
            mn_cli_usage_to(err, cmd, "--%s '%s': %s", o->name, text, why);
            return false;
        }
        if (!mn_number_real(text, strlen(text), &v) || !in_range(o, v)) {
            mn_cli_usage_to(err, cmd, "--%s '%s' must be %s", o->name, text,
                            describe(o, range, sizeof range));
            return false;
        }
        *(double *)field = v;
        return true;
    }
    case MN_KIND_STRING:
    case MN_KIND_NAME:
        if (!*text) {
            mn_cli_usage_to(err, cmd, "--%s must not be empty", o->name);
            return false;
        }
        if (o->lookup && o->lookup(text) != MN_OK) {
            mn_cli_usage_to(err, cmd, "--%s: %s", o->name, mn_last_error());
            return false;
        }
        *(const char **)field = text;
        return true;
    case MN_KIND_CHOICE: {
        char list[256] = "";
        for (int i = 0; o->choices[i]; i++) {
            if (strcmp(text, o->choices[i]) == 0) {
                *(int *)field = o->choice_values[i];
                return true;
            }
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", o->choices[i]);
        }
        mn_cli_usage_to(err, cmd, "--%s '%s' must be one of: %s", o->name, text, list);
        return false;
    }
    case MN_KIND_INTS:
        return set_ints(cmd, o, o, NULL, text, text, field, err);
    case MN_KIND_OVER: {
        mn_cli_over *over = field;
        const char *list;
        if (mn_study_parse_over(text, over->param, &list) != MN_OK) {
            mn_cli_usage_to(err, cmd, "--%s '%s' must be NAME=V1,V2,... such as depth=2,4,8",
                            o->name, text);
            return false;
        }
        const mn_cli_option *named = mn_cli_find_option(over->param);
        return set_ints(cmd, o, named && named->kind == MN_KIND_INT ? named : o, over->param,
                        text, list, &over->values, err);
    }
    case MN_KIND_REALS:
        return set_reals(cmd, o, text, field, err);
    case MN_KIND_ASSIGN: {
        mn_cli_sets *sets = field;
        const char *eq = strchr(text, '=');
        char name[MN_STUDY_MAX_PARAM];
        double v;
        bool ok = eq && (size_t)(eq - text) < sizeof name;
        if (ok) {
            memcpy(name, text, (size_t)(eq - text));
            name[eq - text] = '\0';
            ok = mn_study_param_valid(name) && mn_number_real(eq + 1, strlen(eq + 1), &v);
        }
        const char *why = eq ? mn_number_real_why(eq + 1, strlen(eq + 1)) : NULL;
        if (!ok && why) {
            mn_cli_usage_to(err, cmd, "--%s '%s': %s", o->name, text, why);
            return false;
        }
        if (!ok) {
            mn_cli_usage_to(err, cmd, "--%s '%s' must be NAME=VALUE with VALUE a number, "
                            "e.g. width=1024", o->name, text);
            return false;
        }
        /* a name given again would silently win over the first, a forgotten
         * value of a long command line: refused as any option given twice */
        for (int i = 0; i < sets->n; i++)
            if (strncmp(sets->v[i], name, (size_t)(eq - text)) == 0 &&
                sets->v[i][eq - text] == '=') {
                mn_cli_usage_to(err, cmd, "--%s %s given twice ('%s' first); give it once",
                                o->name, name, sets->v[i]);
                return false;
            }
        if (sets->n == MN_CLI_MAX_SETS) {
            mn_cli_usage_to(err, cmd, "at most %d --%s options", MN_CLI_MAX_SETS, o->name);
            return false;
        }
        /* width and depth have their own options: --set of them takes the
         * option's syntax and range (an integer, --width's [1, 65536]) */
        const mn_cli_option *own = strcmp(name, "width") == 0   ? &mn_cli_options[MN_OPT_WIDTH]
                                   : strcmp(name, "depth") == 0 ? &mn_cli_options[MN_OPT_DEPTH]
                                                                : NULL;
        int64_t k;
        if (own && (!mn_number_int(eq + 1, strlen(eq + 1), &k) || !in_range(own, (double)k))) {
            mn_cli_usage_to(err, cmd, "--%s '%s' must be %s=%s with %s %s (as --%s)", o->name,
                            text, name, own->metavar, own->metavar,
                            describe(own, range, sizeof range), own->name);
            return false;
        }
        /* mn_graph_set_text reads VALUE with strtod: hand it 2^E as a decimal */
        if (own) {
            snprintf(sets->own[sets->n], sizeof sets->own[0], "%s=%lld", name, (long long)k);
            text = sets->own[sets->n];
        } else if (strchr(eq + 1, '^')) {
            snprintf(sets->own[sets->n], sizeof sets->own[0], "%s=%.17g", name, v);
            text = sets->own[sets->n];
        }
        sets->v[sets->n++] = text;
        return true;
    }
    case MN_KIND_SHAPE: {
        const char *x = strchr(text, 'x');
        int64_t m, n;
        if (!x || !mn_number_int(text, (size_t)(x - text), &m) ||
            !mn_number_int(x + 1, strlen(x + 1), &n) || !in_range(o, (double)m) ||
            !in_range(o, (double)n)) {
            mn_cli_usage_to(err, cmd, "--%s '%s' must be MxN with M and N each %s, e.g. 1024x4096",
                            o->name, text, describe(o, range, sizeof range));
            return false;
        }
        ((int64_t *)field)[0] = m;
        ((int64_t *)field)[1] = n;
        return true;
    }
    case MN_KIND_ATOM_NORM: {
        mn_cli_atom_norms *an = field;
        const char *eq = strchr(text, '=');
        int64_t k;
        if (!eq || !mn_number_int(text, (size_t)(eq - text), &k) || !in_range(o, (double)k) ||
            !eq[1]) {
            mn_cli_usage_to(err, cmd, "--%s '%s' must be K=NAME with K %s", o->name, text,
                            describe(o, range, sizeof range));
            return false;
        }
        if (o->lookup(eq + 1) != MN_OK) {
            mn_cli_usage_to(err, cmd, "--%s '%s': %s", o->name, text, mn_last_error());
            return false;
        }
        for (int i = 0; i < an->n; i++)
            if (an->v[i].atom == k) { /* the second would silently win */
                mn_cli_usage_to(err, cmd, "--%s %lld given twice ('%d=%s' first); give it once",
                                o->name, (long long)k, an->v[i].atom, an->v[i].norm);
                return false;
            }
        if (an->n == MN_CLI_MAX_ATOM_NORMS) {
            mn_cli_usage_to(err, cmd, "at most %d --%s options", MN_CLI_MAX_ATOM_NORMS, o->name);
            return false;
        }
        an->v[an->n].atom = (int)k;
        an->v[an->n].norm = eq + 1;
        an->n++;
        return true;
    }
    }
    return false;
}

/* ---- lookups ------------------------------------------------------------- */

const mn_cli_command *mn_cli_find_command(const char *name)
{
    for (int i = 0; i < MN_CMD_COUNT; i++)
        if (strcmp(mn_cli_commands[i].name, name) == 0)
            return &mn_cli_commands[i];
    return NULL;
}

const mn_cli_option *mn_cli_find_option(const char *name)
{
    for (int i = 1; i < MN_OPT_COUNT; i++)
        if (strcmp(mn_cli_options[i].name, name) == 0)
            return &mn_cli_options[i];
    return NULL;
}

const mn_cli_use *mn_cli_use_of(const mn_cli_command *cmd, mn_opt_id id)
{
    for (int i = 0; i < cmd->n_uses; i++)
        if (cmd->uses[i].id == id)
            return &cmd->uses[i];
    return NULL;
}

/* ---- parsing ------------------------------------------------------------- */

static void args_init(mn_cli_args *a)
{
    *a = (mn_cli_args){0};
    a->lr = a->momentum = a->wd = a->epochs = a->tolerance = a->temperature = NAN;
}

void mn_cli_args_free(mn_cli_args *a)
{
    free(a->widths.v);
    free(a->lrs.v);
    free(a->over.values.v);
    a->over.values = (mn_cli_ints){0};
    a->widths = (mn_cli_ints){0};
    a->lrs = (mn_cli_reals){0};
}

/* Option o as `cmd` takes it: a copy in *tmp with the use's tighter bound. */
static const mn_cli_option *as_used(const mn_cli_command *cmd, const mn_cli_option *o,
                                    mn_cli_option *tmp)
{
    const mn_cli_use *u = mn_cli_use_of(cmd, o->id);
    if (!u || !(u->hi > 0) || u->hi >= o->hi)
        return o;
    *tmp = *o;
    tmp->hi = u->hi;
    return tmp;
}

bool mn_cli_set(const mn_cli_command *cmd, mn_cli_args *a, mn_opt_id id, const char *text,
                FILE *err)
{
    mn_cli_option tmp;
    return set_value(cmd->name, as_used(cmd, &mn_cli_options[id], &tmp), text, a, err);
}

static bool is_help(const char *s) { return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0; }

/* "one file argument (IN.npy)", "two file arguments (IN.npy OUT.npy)". */
static const char *files_wanted(const mn_cli_command *cmd, char *buf, size_t cap)
{
    static const char *const words[] = {"no", "one", "two", "three", "four"};
    int used = snprintf(buf, cap, "%s file argument%s (", words[cmd->n_pos],
                        cmd->n_pos == 1 ? "" : "s");
    for (int p = 0; p < cmd->n_pos && used > 0 && (size_t)used < cap; p++)
        used += snprintf(buf + used, cap - (size_t)used, "%s%s", p ? " " : "", cmd->pos_names[p]);
    if (used > 0 && (size_t)used < cap)
        snprintf(buf + used, cap - (size_t)used, ")");
    return buf;
}

int mn_cli_parse(const mn_cli_command *cmd, int argc, char **argv, mn_cli_args *a, FILE *out,
                 FILE *err)
{
    const char *name = cmd->name;
    char files[128];
    args_init(a);
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (is_help(argv[i])) {
            mn_cli_help(cmd, out);
            return 0;
        }
    mn_cli_option tmp;
    for (int u = 0; u < cmd->n_uses; u++)
        if (cmd->uses[u].deflt &&
            !set_value(name, as_used(cmd, &mn_cli_options[cmd->uses[u].id], &tmp),
                       cmd->uses[u].deflt, a, err))
            return 1; /* a bad declaration: the test of every subcommand's defaults sees it */

    bool files_only = false;
    const char *value_of[MN_OPT_COUNT] = {NULL}; /* as given, for "given twice" */
    const char *extra = NULL;                    /* the first file argument too many */
    int n_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *tok = argv[i];
        if (!files_only && strcmp(tok, "--") == 0) {
            files_only = true;
            continue;
        }
        if (files_only || tok[0] != '-' || strcmp(tok, "-") == 0) {
            if (cmd->n_pos == 0) /* nothing to count: name the token */
                return mn_cli_usage_to(err, name, "unexpected argument '%s'", tok);
            if (a->n_pos < cmd->n_pos)
                a->pos[a->n_pos++] = tok;
            else if (!extra)
                extra = tok;
            n_files++;
            continue;
        }
        if (tok[1] != '-')
            return mn_cli_usage_to(err, name, "unknown option '%s'", tok);
        const char *eq = strchr(tok + 2, '=');
        size_t len = eq ? (size_t)(eq - tok - 2) : strlen(tok + 2);
        const mn_cli_option *o = NULL;
        for (int k = 1; k < MN_OPT_COUNT && !o; k++)
            if (strlen(mn_cli_options[k].name) == len &&
                strncmp(mn_cli_options[k].name, tok + 2, len) == 0)
                o = &mn_cli_options[k];
        if (!o)
            return mn_cli_usage_to(err, name, "unknown option '%.*s'", (int)len + 2, tok);
        if (!mn_cli_use_of(cmd, o->id))
            return mn_cli_usage_to(err, name, "--%s is not an option of 'modnorm %s'", o->name,
                                   name);
        if (a->given[o->id] && !o->repeatable) {
            if (o->kind == MN_KIND_FLAG)
                return mn_cli_usage_to(err, name, "--%s given twice; give it once", o->name);
            return mn_cli_usage_to(err, name, "--%s given twice ('%s' first); give it once",
                                   o->name, value_of[o->id]);
        }
        const char *value = NULL;
        if (o->kind == MN_KIND_FLAG) {
            if (eq)
                return mn_cli_usage_to(err, name, "--%s takes no value, got '%s'", o->name,
                                       tok);
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return mn_cli_usage_to(err, name, "--%s needs a value (%s)", o->name, o->metavar);
        }
        if (!set_value(name, as_used(cmd, o, &tmp), value, a, err))
            return 2;
        a->given[o->id] = true;
        value_of[o->id] = value;
    }
    if (extra)
        return mn_cli_usage_to(err, name, "expects exactly %s, got %d: unexpected argument '%s'",
                               files_wanted(cmd, files, sizeof files), n_files, extra);

    for (int u = 0; u < cmd->n_uses; u++) {
        const mn_cli_option *o = &mn_cli_options[cmd->uses[u].id];
        if (cmd->uses[u].required && !a->given[o->id])
            return mn_cli_usage_to(err, name, "--%s %s is required", o->name, o->metavar);
        if (o->excludes && a->given[o->id] && a->given[o->excludes])
            return mn_cli_usage_to(err, name, "--%s and --%s exclude each other: give one",
                                   o->name, mn_cli_options[o->excludes].name);
    }
    if (a->n_pos < cmd->n_pos)
        return mn_cli_usage_to(err, name, "expects exactly %s, got %d: missing %s",
                               files_wanted(cmd, files, sizeof files), n_files,
                               cmd->pos_names[a->n_pos]);
    /* More BLIS/OpenMP threads than processors only make spinning threads
     * wait for each other (one step of a width-16 MLP ran for minutes at
     * --threads 1000 on 2 cores): every processor is the most that helps. */
    long procs = sysconf(_SC_NPROCESSORS_ONLN);
    if (a->given[MN_OPT_THREADS] && procs > 0 && a->threads > procs) {
        fprintf(err, "modnorm %s: note: --threads %lld is more than the %ld processors here; "
                     "using %ld\n", name, (long long)a->threads, procs, procs);
        a->threads = procs;
    }
    return MN_CLI_RUN;
}

/* ---- --help --------------------------------------------------------------- */

/* Characters (not bytes) of the first n bytes of a UTF-8 string. */
static int columns(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n && s[i]; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* Print one unbreakable unit (n bytes of s) at column *col: after a space,
 * or at `indent` on a new line when it would pass column 79. */
static void put_unit(FILE *f, int *col, int indent, const char *s, size_t n)
{
    int w = columns(s, n);
    if (*col != indent) {
        if (*col + 1 + w > 79) {
            fprintf(f, "\n%*s", indent, "");
            *col = indent;
        } else {
            fputc(' ', f);
            (*col)++;
        }
    }
    fwrite(s, 1, n, f);
    *col += w;
}

/* Print `text` word by word, wrapped like put_unit. */
static void put_words(FILE *f, int *col, int indent, const char *text)
{
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, " ");
        if (n)
            put_unit(f, col, indent, p, n);
        p += n;
        while (*p == ' ')
            p++;
    }
}

void mn_cli_help(const mn_cli_command *cmd, FILE *f)
{
    char usage[128], item[160];
    snprintf(usage, sizeof usage, "usage: modnorm %s", cmd->name);
    int indent = columns(usage, strlen(usage)) + 1, col = indent - 1;
    fputs(usage, f);
    for (int u = 0; u < cmd->n_uses; u++) {
        const mn_cli_option *o = &mn_cli_options[cmd->uses[u].id];
        bool req = cmd->uses[u].required;
        if (o->kind == MN_KIND_FLAG)
            snprintf(item, sizeof item, "%s--%s%s", req ? "" : "[", o->name, req ? "" : "]");
        else
            snprintf(item, sizeof item, "%s--%s %s%s%s", req ? "" : "[", o->name, o->metavar,
                     req ? "" : "]", o->repeatable ? "..." : "");
        put_unit(f, &col, indent, item, strlen(item));
    }
    for (int p = 0; p < cmd->n_pos; p++)
        put_unit(f, &col, indent, cmd->pos_names[p], strlen(cmd->pos_names[p]));
    fprintf(f, "\n\n%s\n\n", cmd->about);
    enum { HELP_COL = 21 };
    for (int u = 0; u < cmd->n_uses; u++) {
        const mn_cli_use *use = &cmd->uses[u];
        const mn_cli_option *o = &mn_cli_options[use->id];
        if (o->kind == MN_KIND_FLAG)
            snprintf(item, sizeof item, "--%s", o->name);
        else
            snprintf(item, sizeof item, "--%s %s", o->name, o->metavar);
        int w = columns(item, strlen(item));
        fprintf(f, "  %s", item);
        if (2 + w >= HELP_COL)
            fprintf(f, "\n");
        fprintf(f, "%*s", 2 + w >= HELP_COL ? HELP_COL : HELP_COL - 2 - w, "");
        col = HELP_COL;
        put_words(f, &col, HELP_COL, use->help ? use->help : o->help);
        if (o->kind == MN_KIND_NAME && (use->choices || o->names)) {
            fputc(':', f);
            col++;
            put_words(f, &col, HELP_COL, use->choices ? use->choices : o->names());
        }
        if (use->note) { /* says more than the parsed default (a model's own sizes) */
            snprintf(item, sizeof item, "(%s)", use->note);
            put_words(f, &col, HELP_COL, item);
        } else if (use->deflt) { /* one unit, so that it reads whole */
            snprintf(item, sizeof item, "(default %s)", use->deflt);
            put_unit(f, &col, HELP_COL, item, strlen(item));
        }
        if (use->required)
            put_words(f, &col, HELP_COL, "(required)");
        fputc('\n', f);
    }
    fprintf(f, "  %-*s print this help\n", HELP_COL - 3, "--help");
    bool reals = false, ints = false;
    for (int u = 0; u < cmd->n_uses; u++) {
        mn_opt_kind k = mn_cli_options[cmd->uses[u].id].kind;
        reals |= k == MN_KIND_REAL || k == MN_KIND_REALS || k == MN_KIND_ASSIGN;
        ints |= k == MN_KIND_INT || k == MN_KIND_INTS || k == MN_KIND_OVER || k == MN_KIND_SHAPE;
    }
    if (ints || reals) /* the syntax of core/number.h, the same for every option */
        fprintf(f, "\nNumbers: %s%s%s.\n", reals ? "0.01, 1e-2 or 2^-7" : "",
                reals && ints ? "; integers " : ints ? "integers " : "",
                ints ? "64 or 2^6 (not 1e3 or 2^-1)" : "");
    if (cmd->epilog)
        fprintf(f, "\n%s\n", cmd->epilog);
}
