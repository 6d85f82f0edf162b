/* modnorm sweep: a width (or --over NAME) × learning-rate × seed grid of
 * training runs (mn_study_sweep_run: each run appended to DIR/results.csv as
 * it finishes, a rerun trains only what the CSV lacks), then its summary
 * (DIR/summary.json), loss against learning rate (DIR/loss_vs_lr.png, .svg)
 * and a table. On Fashion-MNIST, or with --data text on windows of --context
 * characters (a sequence model: its `vocab` and `context` set from the data,
 * as train does). This file prints; the library trains and summarizes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/plot.h"

#define CMD "sweep"
#define QUICK_WIDTHS "64,128,256"
#define QUICK_STEPS "200"

enum { CSV, CFG, SUMMARY, PNG, SVG, N_PATHS };
static const char *const file_names[N_PATHS] = {"results.csv", "sweep.cfg", "summary.json",
                                                 "loss_vs_lr.png", "loss_vs_lr.svg"};

/* ---- progress ----------------------------------------------------------------- */

typedef struct sweep_view {
    const mn_study_sweep *sw;
    const char *csv;          /* DIR/results.csv as messages show it */
    bool tty;
    bool text;                /* --data text: test_loss is the validation loss per character */
    double chance;            /* ln(classes): the loss of a uniform guess, the plots' top */
    mn_study_progress last;   /* for the bar after the runs */
} sweep_view;

/* "2^-3" for powers of two, else %g. */
static const char *lr_text(double lr, char *buf, size_t cap)
{
    double e = log2(lr);
    if (fabs(e - round(e)) < 1e-9)
        snprintf(buf, cap, "2^%d", (int)round(e));
    else
        snprintf(buf, cap, "%.4g", lr);
    return buf;
}

/* "1m05s", "2h03m"; "?" before an estimate exists (s < 0). */
static const char *duration_text(double s, char *buf, size_t cap)
{
    long t = (long)(s + 0.5);
    if (s < 0)
        snprintf(buf, cap, "?");
    else if (t >= 3600)
        snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    return buf;
}

static void draw_bar(const mn_study_progress *p)
{
    const int width = 30;
    int filled = p->to_train ? width * p->done / p->to_train : width;
    char el[32], eta[32];
    fprintf(stderr, "\r\033[K[");
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %d/%d runs", p->done, p->to_train);
    if (p->diverged)
        fprintf(stderr, ", %d diverged", p->diverged);
    fprintf(stderr, "  elapsed %s  ETA %s ", duration_text(p->elapsed, el, sizeof el),
            duration_text(p->eta, eta, sizeof eta));
    fflush(stderr);
}

static void print_plan(const sweep_view *v, const mn_study_plan *p, bool training)
{
    const mn_study_sweep *sw = v->sw;
    fprintf(stderr, "modnorm sweep: %d %s%s x %d lr%s x %d seed%s = %d run%s, %d already in %s",
            sw->n_values, sw->param, sw->n_values != 1 ? "s" : "", sw->n_lrs,
            sw->n_lrs != 1 ? "s" : "", sw->seeds, sw->seeds != 1 ? "s" : "", p->total,
            p->total != 1 ? "s" : "", p->done, v->csv);
    if (training && p->to_train)
        fprintf(stderr, "; %d to train, %d at a time\n", p->to_train, p->jobs);
    else
        fprintf(stderr, "\n");
}

static void on_start(void *ctx, const mn_study_plan *p) { print_plan(ctx, p, true); }

static void on_run(void *ctx, const mn_study_progress *p)
{
    sweep_view *v = ctx;
    const mn_study_row *r = p->row;
    char lr[32], eta[32];
    v->last = *p;
    if (v->tty)
        fprintf(stderr, "\r\033[K");
    fprintf(stderr, "[%d/%d] %s %lld  lr %s  seed %d: ", p->done, p->to_train, v->sw->param,
            (long long)r->value, lr_text(r->lr, lr, sizeof lr), r->seed);
    if (r->diverged) /* both losses: either can be the one that blew up */
        fprintf(stderr, "diverged (train loss %.4g, %s loss %.4g)", r->train_loss,
                v->text ? "valid" : "test", r->test_loss);
    else if (v->text)
        fprintf(stderr, "train loss %.4f, valid loss %.4f", r->train_loss, r->test_loss);
    else
        fprintf(stderr, "train loss %.4f, test acc %.2f%%", r->train_loss, 100 * r->test_acc);
    fprintf(stderr, "  (%.1f s, ETA %s)\n", p->run_seconds, duration_text(p->eta, eta, sizeof eta));
    if (v->tty)
        draw_bar(p);
    fflush(stderr);
}

static void on_tick(void *ctx, const mn_study_progress *p)
{
    sweep_view *v = ctx;
    v->last = *p;
    draw_bar(p);
}

/* ---- summary, plots, table ----------------------------------------------------- */

static int plot_summary(const mn_cli_args *a, const mn_study_sweep *sw,
                        const mn_study_summary *s, double chance, char **paths)
{
    int nl = s->n_lrs;
    double *x = malloc((size_t)nl * sizeof *x);
    mn_plot_series *series = calloc((size_t)s->n_values, sizeof *series);
    char(*labels)[64] = calloc((size_t)s->n_values, sizeof *labels);
    int rc = x && series && labels ? MN_EXIT_OK : mn_cli_error(CMD, "out of memory");
    for (int j = 0; rc == MN_EXIT_OK && j < nl; j++)
        x[j] = log2(s->lrs[j]);
    for (int i = 0; rc == MN_EXIT_OK && i < s->n_values; i++) {
        snprintf(labels[i], sizeof labels[i], "%s %lld", s->param, (long long)s->values[i]);
        series[i] = (mn_plot_series){.label = labels[i], .n = nl, .x = x,
                                     .y = s->loss + (size_t)i * (size_t)nl,
                                     .mark = s->per_value[i].best};
    }
    char title[256], steps[64], fixed[64];
    if (sw->train.steps > 0)
        snprintf(steps, sizeof steps, "%lld steps", (long long)sw->train.steps);
    else
        snprintf(steps, sizeof steps, "%g epochs", sw->train.epochs);
    if (a->graph || (a->model && strcmp(a->model, "mlp") != 0)) /* no mlp width or depth */
        snprintf(fixed, sizeof fixed, "%s", a->graph ? "graph" : a->model);
    else if (strcmp(sw->param, "depth") == 0)
        snprintf(fixed, sizeof fixed, "width %lld", (long long)a->width);
    else
        snprintf(fixed, sizeof fixed, "depth %lld", (long long)a->depth);
    /* The seeds the points average, as present: a sweep still running (or
     * resumed with more seeds) has fewer than --seeds. */
    int lo = sw->seeds, hi = 0;
    for (int k = 0; k < s->n_values * nl; k++)
        if (s->runs[k] > 0) {
            lo = s->runs[k] < lo ? s->runs[k] : lo;
            hi = s->runs[k] > hi ? s->runs[k] : hi;
        }
    char seeds[64];
    if (lo >= hi)
        snprintf(seeds, sizeof seeds, "%d seed%s", hi, hi != 1 ? "s" : "");
    else
        snprintf(seeds, sizeof seeds, "%d–%d seeds", lo, hi);
    if (hi < sw->seeds)
        snprintf(seeds + strlen(seeds), sizeof seeds - strlen(seeds), " of %d", sw->seeds);
    snprintf(title, sizeof title, "%s, %s, %s, %s, batch %lld, %s (★ argmin)", a->opt,
             a->param == MN_PARAM_SP ? "SP" : "modular", fixed, steps, (long long)a->batch,
             seeds);
    mn_plot_panel panel = {.title = title, .xlabel = "learning rate η",
                           .ylabel = "train loss (mean of the last 20% of steps)",
                           .xaxis = MN_PLOT_X_POW2, .ytop = chance,
                           .legend = true, .n_series = s->n_values, .series = series};
    const char *devices[2] = {"pngcairo", "svg"};
    for (int d = 0; d < 2 && rc == MN_EXIT_OK; d++) {
        mn_status st = mn_plot_write(paths[PNG + d], devices[d], 1, 1, &panel, 1000, 640);
        if (st != MN_OK)
            rc = mn_cli_fail(CMD, st);
    }
    free(x);
    free(series);
    free(labels);
    return rc;
}

static void print_table(const mn_study_summary *s)
{
    char lr[32];
    printf("%7s  %-8s %10s %9s  %-7s %9s\n", s->param, "best lr", "refined", "loss", "edge",
           "regret");
    for (int i = 0; i < s->n_values; i++) {
        const mn_study_point *pv = &s->per_value[i];
        if (pv->best < 0)
            printf("%7lld  every run diverged or is missing\n", (long long)pv->value);
        else
            printf("%7lld  %-8s %10.4g %9.4f  %-7s %9.4f\n", (long long)pv->value,
                   lr_text(pv->best_lr, lr, sizeof lr), pv->best_lr_refined, pv->loss,
                   pv->at_edge ? "AT EDGE" : "no", pv->regret);
    }
    /* One value (or one with an lr*) compares nothing: n/a, as summary.json's nulls. */
    char slope[32] = "n/a", spread[32] = "n/a";
    if (isfinite(s->slope))
        snprintf(slope, sizeof slope, "%.3f", s->slope);
    if (isfinite(s->spread))
        snprintf(spread, sizeof spread, "%.2f", s->spread);
    printf("slope %s octaves per doubling of %s, spread %s octaves, monotone %s\n", slope,
           s->param, spread, s->n_values < 2 ? "n/a" : s->monotone ? "yes" : "no");
    for (int i = 0; i < s->n_values; i++)
        if (s->per_value[i].at_edge)
            printf("note: the best lr of %s %lld is at the edge of the lrs tried: widen --lrs\n",
                   s->param, (long long)s->per_value[i].value);
}

static int summarize(const mn_cli_args *a, const mn_study_sweep *sw, const char *csv,
                     double chance, char **paths, bool trained)
{
    mn_study_summary s;
    int bad, missing;
    mn_status st = mn_study_sweep_summarize(sw, &s, &bad, &missing);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    if (bad)
        fprintf(stderr, "modnorm sweep: skipped %d malformed line%s of %s\n", bad,
                bad > 1 ? "s" : "", csv);
    if (missing)
        fprintf(stderr, "modnorm sweep: %d run%s of the grid %s not in %s (counted as "
                "missing)\n", missing, missing > 1 ? "s" : "", missing > 1 ? "are" : "is", csv);
    /* DIR exists: the first finished run made it, or --no-run found its CSV. */
    int rc = MN_EXIT_OK;
    if ((st = mn_study_write_summary(paths[SUMMARY], &s)) != MN_OK)
        rc = mn_cli_fail(CMD, st);
    bool plots = mn_plot_enabled();
    if (rc == MN_EXIT_OK && plots)
        rc = plot_summary(a, sw, &s, chance, paths);
    else if (rc == MN_EXIT_OK)
        fprintf(stderr, "modnorm sweep: plots are off (built without PLplot): no "
                "loss_vs_lr.png or .svg\n");
    if (rc == MN_EXIT_OK) {
        print_table(&s);
        printf("wrote %s/%ssummary.json%s\n", sw->dir, trained ? "results.csv, " : "",
               plots ? ", loss_vs_lr.png, loss_vs_lr.svg" : "");
    }
    mn_study_summary_free(&s);
    return rc;
}

/* ---- the command ------------------------------------------------------------------ */

/* Train what DIR lacks, on `train` and `test` (text windows), or on
 * Fashion-MNIST loaded here when they are empty. */
static int run(const mn_cli_args *a, mn_study_sweep *sw, sweep_view *view, mn_dataset *train,
               mn_dataset *test)
{
    mn_status st = train->n ? MN_OK : mn_fashion_mnist_load(a->data_dir, train, test);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    int rc = MN_EXIT_OK;
    if (a->batch > train->n) {
        rc = mn_cli_error(CMD, "--batch %lld exceeds the %lld training %s",
                          (long long)a->batch, (long long)train->n,
                          view->text ? "windows" : "examples");
    } else {
        sw->train_data = train;
        sw->test_data = test;
        mn_study_callbacks cb = {.ctx = view, .on_start = on_start, .on_run = on_run,
                                 .on_tick = view->tty ? on_tick : NULL};
        st = mn_study_sweep_run(sw, &cb, NULL);
        sw->train_data = sw->test_data = NULL; /* freed below */
        if (view->tty) {
            draw_bar(&view->last);
            fputc('\n', stderr);
        }
        /* The plan checked the arguments: what fails now is a run (a label
         * outside the model's outputs, say), exit 1 as in train. */
        if (st != MN_OK)
            rc = mn_cli_fail(CMD, st);
    }
    return rc;
}

int mn_cmd_sweep(mn_cli_args *a)
{
    const mn_cli_command *cmd = &mn_cli_commands[MN_CMD_SWEEP];
    bool is_text;
    const char *text_path = mn_cli_text_path(a, &is_text);
    int model_rc = mn_cli_check_model_data(CMD, a, is_text);
    if (model_rc != MN_EXIT_OK)
        return model_rc;
    /* --quick fills in what the command line left unset. */
    double quick_lrs[MN_STUDY_QUICK_LRS];
    bool quick_grid = a->quick && !a->given[MN_OPT_LRS];
    if (quick_grid && mn_study_quick_lrs(a->opt, (mn_param)a->param, quick_lrs) != MN_OK)
        return mn_cli_fail(CMD, MN_ERR_ARG);
    if (a->quick &&
        ((!a->given[MN_OPT_WIDTHS] && !a->given[MN_OPT_OVER] &&
          !mn_cli_set(cmd, a, MN_OPT_WIDTHS, QUICK_WIDTHS, stderr)) ||
         (!a->given[MN_OPT_STEPS] && !a->given[MN_OPT_EPOCHS] &&
          !mn_cli_set(cmd, a, MN_OPT_STEPS, QUICK_STEPS, stderr))))
        return MN_EXIT_USAGE;
    mn_study_sweep sw = {.lrs = quick_grid ? quick_lrs : a->lrs.v,
                         .n_lrs = quick_grid ? MN_STUDY_QUICK_LRS : a->lrs.n,
                         .seeds = (int)a->seeds, .jobs = (int)a->jobs,
                         .factory = mn_graph_factory, .dir = a->out};
    int rc = mn_cli_size_grid(CMD, a, &sw.param, &sw.values, &sw.n_values);
    if (rc == MN_EXIT_OK)
        rc = mn_cli_check_text_param(CMD, is_text, sw.param);
    if (rc != MN_EXIT_OK)
        return rc;
    /* The network (a graph file, or mlp's compiled in) built at each value of the
     * parameter; for text its vocabulary and context from the data, before
     * DIR/sweep.cfg records them. */
    mn_text text = {0};
    mn_dataset train = {0}, test = {0};
    if (is_text && (rc = mn_cli_text_load(CMD, a, text_path, &text, &train, &test)) != MN_EXIT_OK)
        return rc;
    mn_graph_file *g = NULL;
    if ((rc = mn_cli_model_load(CMD, a, &g)) == MN_EXIT_OK && is_text) {
        mn_status st = mn_cli_graph_set_text(g, text.vocab.size, a->context);
        rc = st == MN_OK ? MN_EXIT_OK : mn_cli_fail(CMD, st);
    }
    if (rc != MN_EXIT_OK) {
        mn_graph_destroy(g);
        mn_dataset_free(&train);
        mn_dataset_free(&test);
        mn_text_free(&text);
        return rc;
    }
    /* The data and the model's fixed sizes head DIR/sweep.cfg (for mlp as they always did).
     * --no-run trains nothing: a sweep made on a bigger machine is summarized here too. */
    char model[2048];
    if ((rc = mn_cli_model_text(CMD, a, g, sw.param, model, sizeof model)) == MN_EXIT_OK &&
        a->graph)
        rc = mn_cli_respell_graph(CMD, a, "sweep.cfg", model, sizeof model);
    if (rc != MN_EXIT_OK ||
        (rc = mn_cli_model_check_values(CMD, a, g, sw.param, sw.values, sw.n_values,
                                        a->no_run ? 0 : sw.jobs, sw.n_lrs * sw.seeds)) !=
            MN_EXIT_OK) {
        mn_graph_destroy(g);
        mn_dataset_free(&train);
        mn_dataset_free(&test);
        mn_text_free(&text);
        return rc;
    }
    sw.factory_ctx = g;
    sw.model_text = model;
    mn_atom_norm ov[MN_CLI_MAX_ATOM_NORMS];
    mn_cli_train_settings(a, &sw.train, ov);

    /* Before any work: --out is (or can become) a writable directory, and
     * the files the sweep writes there are regular files. */
    char *paths[N_PATHS] = {0}, shown[MN_CLI_SHOWN_CAP];
    bool exists = false;
    for (int i = 0; rc == MN_EXIT_OK && i < N_PATHS; i++)
        if (!(paths[i] = mn_cli_join(CMD, a->out, file_names[i])))
            rc = MN_EXIT_FAIL;
    if (rc == MN_EXIT_OK)
        rc = mn_cli_check_output_dir(CMD, "--out", a->out, &exists);
    for (int i = 0; exists && rc == MN_EXIT_OK && i < N_PATHS; i++)
        rc = mn_cli_check_output_file(CMD, "output", paths[i]);
    /* --no-run summarizes what DIR/results.csv holds: without one (a new or
     * mistyped DIR) an empty summary and plots would pass for results. */
    if (rc == MN_EXIT_OK && a->no_run && access(paths[CSV], F_OK) != 0)
        rc = mn_cli_error(CMD, "--no-run: %s: %s: nothing to summarize (drop --no-run to train "
                          "the grid)", mn_cli_shown(paths[CSV], shown, sizeof shown),
                          strerror(errno));
    sweep_view view = {.sw = &sw, .tty = isatty(STDERR_FILENO), .text = is_text,
                       .chance = log(is_text ? (double)text.vocab.size : 10.0)};
    view.csv = paths[CSV] ? mn_cli_shown(paths[CSV], shown, sizeof shown) : "";
    mn_study_plan plan;
    mn_status st = rc == MN_EXIT_OK ? mn_study_sweep_plan(&sw, &plan) : MN_OK;
    if (st != MN_OK) /* the values were checked above: DIR holds other settings (exit 1) */
        rc = mn_cli_fail(CMD, st);
    bool trains = rc == MN_EXIT_OK && plan.to_train > 0 && !a->no_run;
    if (trains)
        rc = run(a, &sw, &view, &train, &test);
    else if (rc == MN_EXIT_OK)
        print_plan(&view, &plan, false);
    if (rc == MN_EXIT_OK) /* "wrote results.csv" only when runs were appended to it */
        rc = summarize(a, &sw, view.csv, view.chance, paths, trains);
    for (int i = 0; i < N_PATHS; i++)
        free(paths[i]);
    mn_graph_destroy(g);
    mn_dataset_free(&train);
    mn_dataset_free(&test);
    mn_text_free(&text);
    return rc;
}
