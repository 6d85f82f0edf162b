/* modnorm coordcheck: μP's coordinate check (mn_coordcheck_run) across
 * widths (or --over another size parameter), written to DIR/coord.csv,
 * plotted to DIR/coord.png, and printed: the last step's records per module
 * and the verdicts on flatness. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/plot.h"

#define CMD "coordcheck"
#define NQ MN_COORD_N_QUANTITIES

enum { CSV, PNG, CFG, N_PATHS };
static const char *const file_names[N_PATHS] = {"coord.csv", "coord.png", "coord.cfg"};

static const char *const q_titles[NQ] = {
    "mean |h_t| (reported, not judged)", "relative change ||h_t - h_0|| / ||h_0||",
    "change RMS(h_t - h_0) (the muP coordinate check)",
    "RMS->RMS norm of the update W_t - W_(t-1)"};

static void progress(void *ctx, int index, int64_t value)
{
    (void)index;
    fprintf(stderr, "coordcheck: %s %lld\n", (const char *)ctx, (long long)value);
}

static int plot(const char *path, const mn_coordcheck_result *r, const mn_cli_args *a)
{
    int nv = r->n_values, nm = r->n_modules, T = r->steps;
    double *x = malloc((size_t)nv * sizeof *x);
    double *y = malloc((size_t)NQ * (size_t)nm * (size_t)nv * sizeof *y);
    mn_plot_series *series = calloc((size_t)NQ * (size_t)nm, sizeof *series);
    char(*labels)[48] = calloc((size_t)nm, sizeof *labels);
    int rc = x && y && series && labels ? MN_EXIT_OK : mn_cli_error(CMD, "out of memory");
    for (int v = 0; rc == MN_EXIT_OK && v < nv; v++)
        x[v] = log2((double)r->values[v]);
    for (int m = 0; rc == MN_EXIT_OK && m < nm; m++)
        snprintf(labels[m], sizeof labels[m], "%d %s", m, r->kinds[m]);
    for (int q = 0; rc == MN_EXIT_OK && q < NQ; q++)
        for (int m = 0; m < nm; m++) {
            double *yy = y + ((size_t)q * (size_t)nm + (size_t)m) * (size_t)nv;
            for (int v = 0; v < nv; v++)
                yy[v] = mn_coordcheck_value(r, v, T, m, (mn_coord_quantity)q);
            series[q * nm + m] = (mn_plot_series){.label = labels[m], .n = nv, .x = x, .y = yy,
                                                  .mark = -1};
        }
    char t[NQ][128];
    snprintf(t[MN_COORD_MEAN_ABS], sizeof t[0], "mean |h| at step %d (%s, %s)", T, a->opt,
             a->param == MN_PARAM_SP ? "SP" : "modular");
    snprintf(t[MN_COORD_REL_CHANGE], sizeof t[0], "‖h_t − h_0‖ / ‖h_0‖ at step %d", T);
    snprintf(t[MN_COORD_CHANGE_RMS], sizeof t[0], "RMS(h_t − h_0) at step %d", T);
    snprintf(t[MN_COORD_UPDATE], sizeof t[0], "RMS→RMS norm of the step-%d update", T);
    static const char *const ylabels[NQ] = {"mean |h|", "relative change", "RMS of the change",
                                            "‖W_t − W_t-1‖ RMS→RMS"};
    mn_plot_panel panels[NQ];
    for (int q = 0; q < NQ; q++)
        panels[q] = (mn_plot_panel){.title = t[q], .xlabel = r->size_param,
                                    .ylabel = ylabels[q], .xaxis = MN_PLOT_X_INT2, .ylog = true,
                                    .ytop = NAN, .legend = q == 0, .n_series = nm,
                                    .series = series + q * nm};
    mn_status st = rc == MN_EXIT_OK ? mn_plot_write(path, "pngcairo", NQ, 2, panels, 1400, 1000)
                                    : MN_OK;
    if (st != MN_OK)
        rc = mn_cli_fail(CMD, st);
    free(x);
    free(y);
    free(series);
    free(labels);
    return rc;
}

/* The last step's records of quantity q, a row per module, with its verdict. */
static void print_table(const mn_coordcheck_result *r, int q)
{
    const char *p = r->size_param;
    int T = r->steps;
    printf("\n%s at step %d\n  %-12s", q_titles[q], T, "module");
    for (int v = 0; v < r->n_values; v++) {
        char h[40];
        snprintf(h, sizeof h, "%c=%lld", p[0], (long long)r->values[v]);
        printf(" %10s", h);
    }
    if (q != MN_COORD_MEAN_ABS)
        printf("  %-14s %s", "worst x/4x", "flat");
    printf("\n");
    for (int m = 0; m < r->n_modules; m++) {
        if (q == MN_COORD_UPDATE && !r->is_atom[m])
            continue;
        char name[48];
        snprintf(name, sizeof name, "%d %s", m, r->kinds[m]);
        printf("  %-12s", name);
        for (int v = 0; v < r->n_values; v++)
            printf(" %10.4g", mn_coordcheck_value(r, v, T, m, (mn_coord_quantity)q));
        const mn_coord_verdict *vd = &r->verdicts[m * NQ + q];
        if (vd->judged) {
            char wb[40];
            snprintf(wb, sizeof wb, "%.3g (step %d)", vd->worst, vd->worst_step);
            printf("  %-14s %s", wb, vd->flat ? "yes" : "NO");
        }
        printf("\n");
    }
}

static void report(const mn_coordcheck_result *r, mn_param param)
{
    const char *p = r->size_param;
    double tol = r->tolerance;
    for (int q = 0; q < NQ; q++)
        print_table(r, q);
    printf("\nflat = between any two %ss %c1 < %c2, at every step 1..%d, the values differ by\n"
           "at most %.3g^log4(%c2/%c1): %.3gx between %ss 4x apart (%.3gx per doubling)\n", p,
           p[0], p[0], r->steps, tol, p[0], p[0], tol, p, sqrt(tol));
    static const char *const names[NQ] = {"", "relative change:", "change RMS:",
                                          "update norm:"};
    for (int q = MN_COORD_REL_CHANGE; q < NQ; q++) {
        printf("%-17s %s", names[q], r->flat[q] ? "flat" : "NOT flat");
        int w = r->worst_module[q];
        if (!r->flat[q] && w >= 0)
            printf(" (worst: module %d %s, %.3fx per 4x of %s at step %d)", w, r->kinds[w],
                   r->verdicts[w * NQ + q].worst, p, r->verdicts[w * NQ + q].worst_step);
        printf("\n");
    }
    /* The note explains an MLP's relative change: a Linear reading the 784
     * pixels first and a Linear readout last (not a cnn's Conv2D). */
    int last = r->n_modules - 1;
    bool mlp_like = last >= 0 && strcmp(r->kinds[0], "Linear") == 0 &&
                    strcmp(r->kinds[last], "Linear") == 0;
    if (!r->flat[MN_COORD_REL_CHANGE] && param == MN_PARAM_MODULAR && mlp_like)
        printf("note: under modular init the relative change has a width-dependent denominator "
               "in two places:\na first layer narrower than its 784 inputs starts with "
               "activations shrunk by\nsqrt(width/784), and the readout (10 x width, "
               "orthogonal rows) starts with logits of\nabout sqrt(10/width) times its input's "
               "size, while a normalized step changes both by an\namount that does not depend "
               "on width: there the relative change moves like\n1/sqrt(width) and "
               "sqrt(width) by construction. Read the change RMS.\n");
}

/* ---- DIR/coord.cfg ------------------------------------------------------------ */

/* What DIR's coord.csv and coord.png are a function of, as sweep.cfg is for a
 * sweep: the data and the model's fixed sizes (mn_cli_model_text, the graph
 * by its canonical path and CRC-32), the values, and the training settings
 * (the rate as used: --lr or the preset's). Not --threads or --tolerance:
 * the files do not depend on the verdicts, and the thread count only moves
 * the last bits. */
static int settings_text(const mn_cli_args *a, const mn_graph_file *g,
                         const mn_coordcheck_config *cfg, const int64_t *values, int n_values,
                         char *buf, size_t cap)
{
    int rc = mn_cli_model_text(CMD, a, g, cfg->size_param, buf, cap);
    if (rc == MN_EXIT_OK && a->graph)
        rc = mn_cli_respell_graph(CMD, a, "coord.cfg", buf, cap);
    if (rc != MN_EXIT_OK)
        return rc;
    mn_solver_config preset;
    double lr = cfg->lr;
    if (isnan(lr) && mn_solver_preset(&preset, cfg->opt, cfg->param) == MN_OK)
        lr = preset.lr;
    size_t used = strlen(buf);
    used += (size_t)snprintf(buf + used, cap - used, "%s=", cfg->size_param);
    for (int i = 0; used < cap && i < n_values; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? "," : "",
                                 (long long)values[i]);
    if (used < cap)
        used += (size_t)snprintf(
            buf + used, cap - used,
            "\nopt=%s\nparam=%s\nlr=%.17g\nsteps=%d\nbatch=%lld\nseed=%llu\nmethod=%s\n"
            "precision=%s\nnet_precision=%s\n",
            cfg->opt, cfg->param == MN_PARAM_SP ? "sp" : "modular", lr, cfg->steps,
            (long long)cfg->batch, (unsigned long long)cfg->seed,
            cfg->method ? cfg->method : MN_COORDCHECK_DEFAULT_METHOD,
            mn_precision_name(cfg->polar_precision), mn_precision_name(cfg->net_precision));
    if (used >= cap)
        return mn_cli_error(CMD, "the settings do not fit in coord.cfg");
    return MN_EXIT_OK;
}

/* Before any work: a DIR holding another coordcheck's outputs is written
 * over only by the same settings (a rerun gives the same files); other
 * settings, or outputs without a coord.cfg (settings unknown: an older
 * modnorm's), are refused, exit 1 as sweep refuses a DIR of other settings. */
static int check_settings(const char *dir, const char *cfg_path, const char *csv_path,
                          const char *png_path, const char *want)
{
    char have[8192], shown[MN_CLI_SHOWN_CAP];
    const char *d = mn_cli_shown(dir, shown, sizeof shown);
    FILE *f = fopen(cfg_path, "r");
    if (!f) {
        if (errno != ENOENT)
            return mn_cli_error(CMD, "cannot read %s: %s", cfg_path, strerror(errno));
        const char *found = access(csv_path, F_OK) == 0   ? "coord.csv"
                            : access(png_path, F_OK) == 0 ? "coord.png"
                                                          : NULL;
        if (found)
            return mn_cli_error(CMD, "%s holds %s but no coord.cfg, so the settings it was made "
                                "with are unknown: use another directory (or remove its "
                                "coord.csv and coord.png)", d, found);
        return MN_EXIT_OK;
    }
    size_t n = fread(have, 1, sizeof have - 1, f);
    have[n] = '\0';
    fclose(f);
    if (strcmp(have, want) == 0)
        return MN_EXIT_OK;
    /* the first line that differs, for the message */
    const char *x = have, *y = want;
    size_t nx = strcspn(x, "\n"), ny = strcspn(y, "\n");
    while (*x && *y && nx == ny && strncmp(x, y, nx) == 0) {
        x += nx + (x[nx] ? 1 : 0);
        y += ny + (y[ny] ? 1 : 0);
        nx = strcspn(x, "\n");
        ny = strcspn(y, "\n");
    }
    if (nx > 200)
        nx = 200;
    if (ny > 200)
        ny = 200;
    if (!*x || !*y)
        return mn_cli_error(CMD, "%s holds a coordcheck made %s %.*s: use another directory "
                            "(or remove it)", d, *x ? "with" : "without", (int)(*x ? nx : ny),
                            *x ? x : y);
    return mn_cli_error(CMD, "%s holds a coordcheck made with %.*s, this one has %.*s: use "
                        "another directory (or remove it)", d, (int)nx, x, (int)ny, y);
}

/* `text` to `path`, whole: a temporary file renamed over it. */
static int write_settings(const char *path, const char *text)
{
    char *tmp;
    if (asprintf(&tmp, "%s.tmp%ld", path, (long)getpid()) < 0)
        return mn_cli_error(CMD, "out of memory");
    FILE *f = fopen(tmp, "w");
    bool ok = f && fputs(text, f) >= 0;
    ok = f && fclose(f) == 0 && ok;
    int e = errno;
    if (ok && rename(tmp, path) == 0) {
        free(tmp);
        return MN_EXIT_OK;
    }
    e = errno ? errno : e;
    remove(tmp);
    free(tmp);
    return mn_cli_error(CMD, "cannot write %s: %s", path, strerror(e));
}

/* Train on `train` (a loaded graph `g`, its text parameters set), then
 * write, plot and print; DIR is created when the results are ready, so a
 * failed run leaves nothing behind. */
static int check(const mn_cli_args *a, const int64_t *values, int n_values,
                 const mn_coordcheck_config *cfg, char *const paths[], const char *settings,
                 mn_graph_file *g, const mn_dataset *train, bool is_text)
{
    mn_status st;
    int rc = MN_EXIT_OK;
    mn_solver_config preset; /* the rate the header states: --lr, or the preset's */
    mn_mlp_spec spec = mn_cli_mlp(a);
    char fixed[64 + MN_CLI_SHOWN_CAP], shown_graph[MN_CLI_SHOWN_CAP];
    const char *model = a->model ? a->model : "mlp";
    if (a->graph)
        snprintf(fixed, sizeof fixed, "%s", mn_cli_shown(a->graph, shown_graph,
                                                          sizeof shown_graph));
    else if (strcmp(model, "mlp") != 0) { /* its own sizes, and what --depth and --set change */
        int len = snprintf(fixed, sizeof fixed, "%s", model);
        if (a->given[MN_OPT_DEPTH])
            len += snprintf(fixed + len, sizeof fixed - (size_t)len, ", depth %lld",
                            (long long)a->depth);
        for (int i = 0; i < a->sets.n && len < (int)sizeof fixed; i++)
            len += snprintf(fixed + len, sizeof fixed - (size_t)len, ", %s", a->sets.v[i]);
    }
    else if (strcmp(cfg->size_param, "depth") == 0)
        snprintf(fixed, sizeof fixed, "width %lld", (long long)spec.width);
    else
        snprintf(fixed, sizeof fixed, "depth %d", spec.depth);
    char rows[64];
    if (is_text)
        snprintf(rows, sizeof rows, "%lld windows of %lld characters", (long long)cfg->batch,
                 (long long)a->context);
    else
        snprintf(rows, sizeof rows, "%lld", (long long)cfg->batch);
    if (mn_solver_preset(&preset, cfg->opt, cfg->param) == MN_OK)
        printf("coordcheck: %s, %s, %s, lr %g, %d step%s on one batch of %s\n", cfg->opt,
               cfg->param == MN_PARAM_SP ? "sp" : "modular", fixed,
               isnan(cfg->lr) ? preset.lr : cfg->lr, cfg->steps, cfg->steps == 1 ? "" : "s",
               rows);
    mn_coordcheck_result *r = NULL;
    st = mn_coordcheck_run(mn_graph_factory, g, values, n_values, train, cfg, &r);
    /* The options and every value's model were checked above (usage, 2):
     * what fails now is the run, e.g. a model that does not fit the data
     * (an Embed smaller than the corpus's vocabulary), an error as in train
     * (1, without the --help hint), whatever its status. */
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    char shown[MN_CLI_SHOWN_CAP];
    int err = mn_cli_mkdir(a->out);
    bool plots = mn_plot_enabled();
    if (err)
        rc = mn_cli_error(CMD, "cannot create the directory %s: %s",
                          mn_cli_shown(a->out, shown, sizeof shown), strerror(err));
    else if ((st = mn_coordcheck_save_csv(r, paths[CSV])) != MN_OK)
        rc = mn_cli_fail(CMD, st);
    else if (plots)
        rc = plot(paths[PNG], r, a);
    else
        fprintf(stderr, "modnorm coordcheck: plots are off (built without PLplot): no "
                "coord.png\n");
    /* last: outputs cut short by a failure or a kill are left without it,
     * so that the next coordcheck into DIR refuses them as of unknown settings */
    if (rc == MN_EXIT_OK)
        rc = write_settings(paths[CFG], settings);
    if (rc == MN_EXIT_OK) {
        report(r, cfg->param);
        if (plots)
            printf("wrote %s/coord.csv, coord.png and coord.cfg\n", a->out);
        else
            printf("wrote %s/coord.csv and coord.cfg\n", a->out);
    }
    mn_coordcheck_free(r);
    return rc;
}

int mn_cmd_coordcheck(mn_cli_args *a)
{
    mn_coordcheck_config cfg;
    mn_coordcheck_defaults(&cfg);
    const int64_t *values;
    int n_values;
    bool is_text;
    const char *text_path = mn_cli_text_path(a, &is_text);
    int rc = mn_cli_check_model_data(CMD, a, is_text);
    if (rc != MN_EXIT_OK)
        return rc;
    rc = mn_cli_size_grid(CMD, a, &cfg.size_param, &values, &n_values);
    /* Flatness is a comparison: with one value every verdict would be a
     * vacuous "flat". */
    if (rc == MN_EXIT_OK && n_values < 2) {
        bool over = a->given[MN_OPT_OVER];
        rc = mn_cli_usage_error(CMD, "--%s %s%s%lld: needs at least two %s%s to compare",
                                over ? "over" : "widths", over ? cfg.size_param : "",
                                over ? "=" : "", (long long)values[0],
                                over ? "values of " : "widths", over ? cfg.size_param : "");
    }
    if (rc == MN_EXIT_OK)
        rc = mn_cli_check_text_param(CMD, is_text, cfg.size_param);
    if (rc != MN_EXIT_OK)
        return rc;
    cfg.opt = a->opt;
    cfg.param = (mn_param)a->param;
    cfg.lr = a->lr;
    cfg.steps = (int)a->steps;
    cfg.batch = a->batch;
    cfg.seed = (uint64_t)a->seed;
    cfg.method = a->method;
    cfg.tolerance = a->tolerance;
    cfg.threads = (int)a->threads;
    cfg.polar_precision = (mn_precision)a->precision;
    cfg.net_precision = (mn_precision)a->net_precision;
    cfg.progress = progress;
    cfg.progress_ctx = (void *)cfg.size_param;
    /* Before any work: DIR is (or can become) a writable directory and the
     * files written there are regular files. */
    char *paths[N_PATHS] = {0};
    for (int i = 0; i < N_PATHS; i++)
        paths[i] = mn_cli_join(CMD, a->out, file_names[i]);
    bool exists = false;
    rc = paths[CSV] && paths[PNG] && paths[CFG]
             ? mn_cli_check_output_dir(CMD, "--out", a->out, &exists)
             : MN_EXIT_FAIL;
    for (int i = 0; rc == MN_EXIT_OK && exists && i < N_PATHS; i++)
        if (i != PNG || mn_plot_enabled())
            rc = mn_cli_check_output_file(CMD, "output", paths[i]);
    /* A corpus is read first (its training split only): it sets the graph's
     * vocab and context, which the checks below size the model with. */
    mn_text text = {0};
    mn_dataset train = {0}, test = {0};
    if (rc == MN_EXIT_OK && is_text)
        rc = mn_cli_text_load(CMD, a, text_path, &text, &train, NULL);
    mn_graph_file *g = NULL;
    if (rc == MN_EXIT_OK)
        rc = mn_cli_model_load(CMD, a, &g);
    mn_status st;
    if (rc == MN_EXIT_OK && is_text &&
        (st = mn_cli_graph_set_text(g, text.vocab.size, a->context)) != MN_OK)
        rc = mn_cli_fail(CMD, st);
    mn_text_free(&text);
    if (rc == MN_EXIT_OK) /* a value the model refuses */
        rc = mn_cli_model_check_values(CMD, a, g, cfg.size_param, values, n_values, 1, 1);
    /* values whose modules differ (depth), before any value is trained */
    if (rc == MN_EXIT_OK &&
        mn_coordcheck_check_values(mn_graph_factory, g, cfg.size_param, values, n_values) != MN_OK)
        rc = mn_cli_usage_error(CMD, "--%s: %s", a->given[MN_OPT_OVER] ? "over" : "widths",
                                mn_last_error());
    char settings[4096];
    if (rc == MN_EXIT_OK)
        rc = settings_text(a, g, &cfg, values, n_values, settings, sizeof settings);
    if (rc == MN_EXIT_OK && exists)
        rc = check_settings(a->out, paths[CFG], paths[CSV], paths[PNG], settings);
    if (rc == MN_EXIT_OK && !is_text && (st = mn_fashion_mnist_load(a->data_dir, &train,
                                                                    &test)) != MN_OK)
        rc = mn_cli_fail(CMD, st);
    mn_dataset_free(&test);
    if (rc == MN_EXIT_OK && a->batch > train.n)
        rc = mn_cli_error(CMD, "--batch %lld exceeds the %lld training %s",
                          (long long)a->batch, (long long)train.n,
                          is_text ? "windows of --context characters" : "examples");
    if (rc == MN_EXIT_OK)
        rc = check(a, values, n_values, &cfg, paths, settings, g, &train, is_text);
    mn_graph_destroy(g);
    mn_dataset_free(&train);
    for (int i = 0; i < N_PATHS; i++)
        free(paths[i]);
    return rc;
}
