/* modnorm sweep: train a width × learning-rate × seed grid, append every
 * finished run to DIR/results.csv, then summarize how the best learning rate
 * moves with width (DIR/summary.json) and plot loss against learning rate
 * (DIR/loss_vs_lr.png, .svg). Rerunning the same command skips the runs the
 * CSV already holds. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "cli/plot.h"
#include "cli/sweep_summary.h"
#include "cli/trainer.h"

#define CMD "sweep"
#define QUICK_WIDTHS "64,128,256"
#define QUICK_STEPS "200"

/* ---- options ----------------------------------------------------------- */

typedef struct sweep_args {
    mn_train_opts base;
    const char *data, *data_dir, *out;
    const int64_t *widths;   /* owned by the parsed arguments */
    int n_widths;
    const double *lrs;
    int n_lrs;
    int seeds, jobs;
    bool no_run;
    /* DIR/results.csv, sweep.cfg, .lock, summary.json, loss_vs_lr.png, .svg */
    char *csv_path, *cfg_path, *lock_path, *summary_path, *png_path, *svg_path;
} sweep_args;

/* The settings that change a run's result, one per line: a results
 * directory holds runs of one setting only. */
static void config_text(const sweep_args *a, char *buf, size_t cap)
{
    const mn_train_opts *o = &a->base;
    char steps[64], mom[64];
    if (o->steps > 0)
        snprintf(steps, sizeof steps, "steps=%lld", (long long)o->steps);
    else
        snprintf(steps, sizeof steps, "epochs=%.17g", o->epochs);
    if (isnan(o->momentum))
        snprintf(mom, sizeof mom, "momentum=default");
    else
        snprintf(mom, sizeof mom, "momentum=%.17g", o->momentum);
    static const char *sched[] = {"linear", "constant", "cosine"};
    snprintf(buf, cap,
             "data=%s\nmodel=%s\ndepth=%d\nopt=%s\nparam=%s\n%s\nbatch=%lld\n%s\nnesterov=%d\n"
             "wd=%.17g\nschedule=%s\nwarmup=%lld\nmethod=%s\n",
             a->data, o->model.name, o->model.depth, o->opt,
             o->param == MN_PARAM_SP ? "sp" : "modular", steps, (long long)o->batch, mom,
             o->nesterov ? 1 : 0, o->wd, sched[o->schedule], (long long)o->warmup,
             o->method ? o->method : MN_TRAIN_DEFAULT_METHOD);
    if (o->precision == MN_PRECISION_BF16) /* only then: fp32 directories resume as before */
        snprintf(buf + strlen(buf), cap - strlen(buf), "precision=bf16\n");
}

/* ---- files ------------------------------------------------------------- */

/* The first line where a and b differ, for the message. */
static void first_difference(const char *a, const char *b, char *la, char *lb, size_t cap)
{
    while (*a && *b) {
        size_t na = strcspn(a, "\n"), nb = strcspn(b, "\n");
        if (na != nb || strncmp(a, b, na) != 0) {
            snprintf(la, cap, "%.*s", (int)na, a);
            snprintf(lb, cap, "%.*s", (int)nb, b);
            return;
        }
        a += na + (a[na] ? 1 : 0);
        b += nb + (b[nb] ? 1 : 0);
    }
    snprintf(la, cap, "%.*s", (int)strcspn(*a ? a : "(nothing)", "\n"), *a ? a : "(nothing)");
    snprintf(lb, cap, "%.*s", (int)strcspn(*b ? b : "(nothing)", "\n"), *b ? b : "(nothing)");
}

/* Write DIR/sweep.cfg (*created: it was not there), or check that the one
 * there matches. */
static int check_config(const sweep_args *a, bool *created)
{
    char want[2048], have[2048], shown[MN_CLI_SHOWN_CAP];
    *created = false;
    config_text(a, want, sizeof want);
    FILE *f = fopen(a->cfg_path, "r");
    if (f) {
        size_t n = fread(have, 1, sizeof have - 1, f);
        have[n] = '\0';
        fclose(f);
        if (strcmp(have, want) != 0) {
            char la[256], lb[256];
            first_difference(have, want, la, lb, sizeof la);
            mn_cli_shown(a->out, shown, sizeof shown);
            return mn_cli_usage_error(CMD, "%s holds runs made with %s, this sweep has %s: use "
                                      "another --out (or remove %s)", shown, la, lb, shown);
        }
        return MN_EXIT_OK;
    }
    f = fopen(a->cfg_path, "w");
    *created = f != NULL;
    bool ok = f && fputs(want, f) >= 0;
    int e = errno;
    if (f && fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok)
        return mn_cli_error(CMD, "cannot write %s: %s",
                            mn_cli_shown(a->cfg_path, shown, sizeof shown), strerror(e));
    return MN_EXIT_OK;
}

/* ---- the runs ----------------------------------------------------------- */

typedef struct sweep_run {
    int64_t width;
    double lr;
    int seed;
    double started; /* 0: not started */
} sweep_run;

typedef struct sweep_ctx {
    const sweep_args *args;
    const mn_dataset *train, *test;
    sweep_run *runs;
    int n_runs, next, done, diverged, active;
    FILE *csv;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    double t0, cost_done, secs_done;
    bool tty, failed;
    char fail_msg[2048]; /* room for a prefix and a whole library message */
} sweep_ctx;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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

static void duration_text(double s, char *buf, size_t cap)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
}

/* A run's cost in flops, for the ETA: forward + backward 6·B·P per step,
 * Muon's polar iteration ~30·m²·n per m×n (m ≤ n) atom per step, and the
 * test evaluation. Measured rates fit this to within ~2× across widths. */
static double run_cost(const sweep_args *a, int64_t width)
{
    const mn_train_opts *o = &a->base;
    int depth = o->model.depth;
    double params = 0, polar = 0;
    for (int k = 0; k < depth; k++) {
        double din = k == 0 ? (double)o->model.d_in : (double)width;
        double dout = k == depth - 1 ? (double)o->model.d_out : (double)width;
        params += din * dout;
        double m = fmin(din, dout), n = fmax(din, dout);
        polar += 30 * m * m * n;
    }
    double steps = o->steps > 0 ? (double)o->steps : o->epochs * 60000.0 / (double)o->batch;
    double per_step = 6 * (double)o->batch * params +
                      (strcmp(o->opt, "muon") == 0 ? polar : 0);
    return steps * per_step + 2 * 10000 * params;
}

/* Seconds left, or -1 before any run finished. */
static double eta(const sweep_ctx *c)
{
    if (c->done == 0 || c->cost_done <= 0)
        return -1;
    double rate = c->secs_done / c->cost_done, left = 0, t = now();
    for (int i = 0; i < c->n_runs; i++) {
        if (c->runs[i].started < 0)
            continue; /* finished */
        left += rate * run_cost(c->args, c->runs[i].width);
        if (c->runs[i].started > 0)
            left -= fmin(t - c->runs[i].started, rate * run_cost(c->args, c->runs[i].width));
    }
    return fmax(0, left) / c->args->jobs;
}

static void draw_bar(const sweep_ctx *c)
{
    const int width = 30;
    int filled = c->n_runs ? width * c->done / c->n_runs : width;
    char e[32] = "?";
    double s = eta(c);
    if (s >= 0)
        duration_text(s, e, sizeof e);
    fprintf(stderr, "\r\033[K[");
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %d/%d runs", c->done, c->n_runs);
    if (c->diverged)
        fprintf(stderr, ", %d diverged", c->diverged);
    fprintf(stderr, "  elapsed ");
    char el[32];
    duration_text(now() - c->t0, el, sizeof el);
    fprintf(stderr, "%s  ETA %s ", el, e);
    fflush(stderr);
}

/* Called with the lock held. */
static void report_run(sweep_ctx *c, const mn_sweep_row *r, double secs)
{
    char lr[32], e[32] = "?";
    double s = eta(c);
    if (s >= 0)
        duration_text(s, e, sizeof e);
    if (c->tty)
        fprintf(stderr, "\r\033[K");
    fprintf(stderr, "[%d/%d] width %lld  lr %s  seed %d: ", c->done, c->n_runs,
            (long long)r->width, lr_text(r->lr, lr, sizeof lr), r->seed);
    if (r->diverged)
        fprintf(stderr, "diverged (train loss %.4g)", r->train_loss);
    else
        fprintf(stderr, "train loss %.4f, test acc %.2f%%", r->train_loss, 100 * r->test_acc);
    fprintf(stderr, "  (%.1f s, ETA %s)\n", secs, e);
    if (c->tty)
        draw_bar(c);
    fflush(stderr);
}

static void *worker(void *p)
{
    sweep_ctx *c = p;
    const sweep_args *a = c->args;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        if (c->failed || c->next >= c->n_runs) {
            c->active--;
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            return NULL;
        }
        sweep_run *run = &c->runs[c->next++];
        run->started = now();
        pthread_mutex_unlock(&c->mu);

        mn_train_opts o = a->base;
        o.model.width = run->width;
        o.lr = run->lr;
        o.seed = (uint64_t)run->seed;
        o.threads = 1;
        mn_train_result res;
        mn_status st = mn_cli_train(&o, c->train, c->test, &res);
        double secs = now() - run->started;
        mn_sweep_row row = {.width = run->width, .lr = run->lr, .seed = run->seed,
                            .train_loss = res.train_loss, .test_loss = res.test_loss,
                            .test_acc = res.test_acc};
        if (st == MN_ERR_NONFINITE) { /* the update itself overflowed */
            st = MN_OK;
            res.diverged = true;
            row.train_loss = row.test_loss = INFINITY;
            row.test_acc = 0;
        }
        row.diverged = res.diverged || !isfinite(res.train_loss) ||
                       res.train_loss > 2 * res.initial_loss;

        pthread_mutex_lock(&c->mu);
        if (st != MN_OK) {
            if (!c->failed) {
                const char *msg = mn_last_error();
                snprintf(c->fail_msg, sizeof c->fail_msg, "width %lld, lr %g, seed %d: %s",
                         (long long)run->width, run->lr, run->seed,
                         msg[0] ? msg : mn_status_str(st));
            }
            c->failed = true;
            run->started = 0;
        } else {
            char line[512], shown[MN_CLI_SHOWN_CAP];
            mn_sweep_format_row(line, sizeof line, &row);
            errno = 0;
            if (fprintf(c->csv, "%s\n", line) < 0 || fflush(c->csv) != 0) {
                int e = errno;
                if (!c->failed)
                    snprintf(c->fail_msg, sizeof c->fail_msg, "cannot append to %s: %s",
                             mn_cli_shown(a->csv_path, shown, sizeof shown),
                             e ? strerror(e) : "write error");
                c->failed = true;
            }
            run->started = -1;
            c->done++;
            c->diverged += row.diverged;
            c->cost_done += run_cost(a, run->width);
            c->secs_done += secs;
            report_run(c, &row, secs);
        }
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
}

/* On a terminal, redraw the bar every second so that the elapsed time and
 * the ETA move during long runs; returns when every worker has. */
static void *tick(void *p)
{
    sweep_ctx *c = p;
    pthread_mutex_lock(&c->mu);
    while (c->active > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        if (c->active > 0)
            draw_bar(c);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static bool have_run(const mn_sweep_row *rows, size_t n, int64_t w, double lr, int seed)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].width == w && rows[i].seed == seed && mn_sweep_same_lr(rows[i].lr, lr))
            return true;
    return false;
}

/* Open the CSV for appending, with its header when new and a newline after
 * a line cut short by a killed sweep. */
static FILE *open_csv(const char *path)
{
    struct stat st;
    bool fresh = stat(path, &st) != 0 || st.st_size == 0;
    bool needs_newline = false;
    if (!fresh) {
        FILE *r = fopen(path, "rb");
        if (r) {
            if (fseek(r, -1, SEEK_END) == 0)
                needs_newline = fgetc(r) != '\n';
            fclose(r);
        }
    }
    FILE *f = fopen(path, "a");
    if (!f)
        return NULL;
    if (fresh)
        fprintf(f, "%s\n", MN_SWEEP_CSV_HEADER);
    else if (needs_newline)
        fputc('\n', f);
    fflush(f);
    return f;
}

/* Train `runs` into DIR/results.csv; *appended: how many were written. */
static int run_grid(const sweep_args *a, const mn_dataset *train, const mn_dataset *test,
                    sweep_run *runs, int n_runs, int *appended)
{
    char shown[MN_CLI_SHOWN_CAP];
    *appended = 0;
    FILE *csv = open_csv(a->csv_path);
    if (!csv) {
        const char *why = strerror(errno);
        return mn_cli_error(CMD, "cannot append to %s: %s",
                            mn_cli_shown(a->csv_path, shown, sizeof shown), why);
    }
    sweep_ctx c = {.args = a, .train = train, .test = test, .runs = runs, .n_runs = n_runs,
                   .csv = csv, .t0 = now(), .tty = isatty(STDERR_FILENO)};
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    /* The calling thread is one of the workers: --jobs 1 trains on it alone
     * (the polar workspace is per thread, kept until the thread ends). */
    int jobs = a->jobs < n_runs ? a->jobs : n_runs;
    pthread_t *threads = calloc((size_t)jobs, sizeof *threads), ticker;
    int started = 0;
    c.active = 1;
    for (int i = 1; threads && i < jobs; i++) {
        pthread_mutex_lock(&c.mu);
        c.active++;
        pthread_mutex_unlock(&c.mu);
        if (pthread_create(&threads[i], NULL, worker, &c) != 0) {
            pthread_mutex_lock(&c.mu);
            c.active--;
            pthread_mutex_unlock(&c.mu);
            break;
        }
        started++;
    }
    bool ticking = c.tty && pthread_create(&ticker, NULL, tick, &c) == 0;
    worker(&c);
    for (int i = 1; i <= started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    if (ticking)
        pthread_join(ticker, NULL);
    if (c.tty) {
        draw_bar(&c);
        fputc('\n', stderr);
    }
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
    *appended = c.done;
    errno = 0;
    bool closed = fclose(csv) == 0;
    if (!closed && !c.failed)
        snprintf(c.fail_msg, sizeof c.fail_msg, "cannot close results.csv: %s",
                 errno ? strerror(errno) : "write error");
    if (c.failed || !closed)
        return mn_cli_error(CMD, "%s (the %d finished runs are in %s)", c.fail_msg, c.done,
                            mn_cli_shown(a->csv_path, shown, sizeof shown));
    return MN_EXIT_OK;
}

/* ---- summary, plots, table ---------------------------------------------- */

static int plot_summary(const sweep_args *a, const mn_sweep_summary *s)
{
    int nl = s->n_lrs;
    double *x = malloc((size_t)nl * sizeof *x);
    mn_plot_series *series = calloc((size_t)s->n_widths, sizeof *series);
    char(*labels)[32] = calloc((size_t)s->n_widths, sizeof *labels);
    if (!x || !series || !labels) {
        free(x);
        free(series);
        free(labels);
        return mn_cli_error(CMD, "out of memory");
    }
    for (int j = 0; j < nl; j++)
        x[j] = log2(s->lrs[j]);
    for (int i = 0; i < s->n_widths; i++) {
        snprintf(labels[i], sizeof labels[i], "width %lld", (long long)s->widths[i]);
        series[i] = (mn_plot_series){.label = labels[i], .n = nl, .x = x,
                                     .y = s->loss + (size_t)i * (size_t)nl,
                                     .mark = s->per_width[i].best};
    }
    const mn_train_opts *o = &a->base;
    char title[256], steps[64];
    if (o->steps > 0)
        snprintf(steps, sizeof steps, "%lld steps", (long long)o->steps);
    else
        snprintf(steps, sizeof steps, "%g epochs", o->epochs);
    snprintf(title, sizeof title, "%s, %s, depth %d, %s, batch %lld, %d seed%s (★ argmin)",
             o->opt, o->param == MN_PARAM_SP ? "SP" : "modular", o->model.depth, steps,
             (long long)o->batch, a->seeds, a->seeds > 1 ? "s" : "");
    mn_plot_panel panel = {.title = title, .xlabel = "learning rate η",
                           .ylabel = "train loss (mean of the last 20% of steps)",
                           .xaxis = MN_PLOT_X_POW2, .ytop = log(10.0) /* chance */,
                           .legend = true, .n_series = s->n_widths, .series = series};
    int rc = MN_EXIT_OK;
    const char *devices[][2] = {{"pngcairo", a->png_path}, {"svg", a->svg_path}};
    for (int d = 0; d < 2 && rc == MN_EXIT_OK; d++) {
        mn_status st = mn_plot_write(devices[d][1], devices[d][0], 1, 1, &panel, 1000, 640);
        if (st != MN_OK)
            rc = mn_cli_fail(CMD, st);
    }
    free(x);
    free(series);
    free(labels);
    return rc;
}

static void print_table(const mn_sweep_summary *s)
{
    printf("%7s  %-8s %10s %9s  %-7s %9s\n", "width", "best lr", "refined", "loss", "edge",
           "regret");
    for (int i = 0; i < s->n_widths; i++) {
        const mn_sweep_width *pw = &s->per_width[i];
        char lr[32];
        if (pw->best < 0) {
            printf("%7lld  every run diverged or is missing\n", (long long)pw->width);
            continue;
        }
        printf("%7lld  %-8s %10.4g %9.4f  %-7s %9.4f\n", (long long)pw->width,
               lr_text(pw->best_lr, lr, sizeof lr), pw->best_lr_refined, pw->loss,
               pw->at_edge ? "AT EDGE" : "no", pw->regret);
    }
    printf("slope %.3f octaves per doubling of width, spread %.2f octaves, monotone %s\n",
           s->slope, s->spread, s->monotone ? "yes" : "no");
    for (int i = 0; i < s->n_widths; i++)
        if (s->per_width[i].at_edge)
            printf("note: the best lr of width %lld is at the edge of the lrs tried: widen "
                   "--lrs\n", (long long)s->per_width[i].width);
}

static int summarize(const sweep_args *a)
{
    char shown[MN_CLI_SHOWN_CAP];
    const char *csv = mn_cli_shown(a->csv_path, shown, sizeof shown);
    mn_sweep_row *rows;
    size_t n;
    int bad;
    mn_status st = mn_sweep_read_csv(a->csv_path, &rows, &n, &bad);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    if (bad)
        fprintf(stderr, "modnorm sweep: skipped %d malformed line%s of %s\n", bad,
                bad > 1 ? "s" : "", csv);
    mn_sweep_summary s;
    st = mn_sweep_summarize(rows, n, a->widths, a->n_widths, a->lrs, a->n_lrs, a->seeds, &s);
    free(rows);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    int missing = 0;
    for (int c = 0; c < s.n_widths * s.n_lrs; c++)
        missing += s.runs[c] < a->seeds ? a->seeds - s.runs[c] : 0;
    if (missing)
        fprintf(stderr, "modnorm sweep: %d run%s of the grid %s not in %s (counted as "
                "missing)\n", missing, missing > 1 ? "s" : "", missing > 1 ? "are" : "is", csv);
    st = mn_sweep_write_summary(a->summary_path, &s);
    int rc = st == MN_OK ? MN_EXIT_OK : mn_cli_fail(CMD, st);
    bool plots = mn_plot_enabled();
    if (rc == MN_EXIT_OK && plots)
        rc = plot_summary(a, &s);
    else if (rc == MN_EXIT_OK)
        fprintf(stderr, "modnorm sweep: plots are off (built without PLplot): no "
                "loss_vs_lr.png or .svg\n");
    if (rc == MN_EXIT_OK) {
        print_table(&s);
        printf("wrote %s/results.csv, summary.json%s\n", a->out,
               plots ? ", loss_vs_lr.png, loss_vs_lr.svg" : "");
    }
    mn_sweep_summary_free(&s);
    return rc;
}

/* ---- the command --------------------------------------------------------- */

/* log2 of the middle of --quick's five LRs: the best LR of a 200-step run
 * at width 64, batch 128, measured on Fashion-MNIST (short runs prefer larger
 * rates than the presets' defaults, which are tuned for 5 epochs). */
static int quick_center(const char *opt, mn_param param, double default_lr)
{
    static const struct {
        const char *opt;
        int modular, sp;
    } centers[] = {{"muon", -2, -4}, {"sgd", 1, 0}, {"sign", -7, -9}, {"adam", -7, -6},
                   {"adamw", -7, -6}};
    for (size_t i = 0; i < sizeof centers / sizeof centers[0]; i++)
        if (strcmp(opt, centers[i].opt) == 0)
            return param == MN_PARAM_SP ? centers[i].sp : centers[i].modular;
    return (int)lround(log2(default_lr));
}

/* The sweep's settings from the parsed options; --quick fills in what the
 * command line left unset. */
static int prepare(mn_cli_args *a, sweep_args *s)
{
    const mn_cli_command *cmd = &mn_cli_commands[MN_CMD_SWEEP];
    mn_train_opts *o = &s->base;
    mn_cli_train_opts_from(a, o);
    if (a->quick) {
        mn_solver_config probe;
        mn_status st = mn_solver_preset(&probe, o->opt, o->param);
        if (st != MN_OK)
            return mn_cli_fail(CMD, st);
        int center = quick_center(o->opt, o->param, probe.lr);
        char quick_lrs[64];
        snprintf(quick_lrs, sizeof quick_lrs, "2^%d:2^%d", center - 2, center + 2);
        if ((!a->given[MN_OPT_WIDTHS] && !mn_cli_set(cmd, a, MN_OPT_WIDTHS, QUICK_WIDTHS, stderr)) ||
            (!a->given[MN_OPT_LRS] && !mn_cli_set(cmd, a, MN_OPT_LRS, quick_lrs, stderr)) ||
            (!a->given[MN_OPT_STEPS] && !a->given[MN_OPT_EPOCHS] &&
             !mn_cli_set(cmd, a, MN_OPT_STEPS, QUICK_STEPS, stderr)))
            return MN_EXIT_USAGE;
    }
    o->steps = a->given[MN_OPT_EPOCHS] ? 0 : a->steps;
    *s = (sweep_args){.base = *o, .data = a->data, .data_dir = a->data_dir, .out = a->out,
                      .widths = a->widths.v, .n_widths = a->widths.n, .lrs = a->lrs.v,
                      .n_lrs = a->lrs.n, .seeds = (int)a->seeds, .jobs = (int)a->jobs,
                      .no_run = a->no_run};
    if (o->model.depth < 2 && s->n_widths > 1)
        return mn_cli_usage_error(CMD, "--depth 1 has no hidden width to sweep");
    const char *names[] = {"results.csv", "sweep.cfg", ".lock", "summary.json",
                           "loss_vs_lr.png", "loss_vs_lr.svg"};
    char **paths[] = {&s->csv_path, &s->cfg_path, &s->lock_path, &s->summary_path,
                      &s->png_path, &s->svg_path};
    for (int i = 0; i < 6; i++)
        if (!(*paths[i] = mn_cli_join(CMD, s->out, names[i])))
            return MN_EXIT_FAIL;
    return MN_EXIT_OK;
}

static void free_paths(sweep_args *s)
{
    free(s->csv_path);
    free(s->cfg_path);
    free(s->lock_path);
    free(s->summary_path);
    free(s->png_path);
    free(s->svg_path);
}

/* The runs of the grid that `csv` (DIR/results.csv, maybe missing) does not
 * hold, widest first: the ETA learns the expensive runs early, and the pool
 * finishes on short runs. *runs is NULL after a message. */
static int pending_runs(const sweep_args *a, sweep_run **runs, int *n_runs)
{
    *runs = NULL;
    *n_runs = 0;
    mn_sweep_row *rows;
    size_t n;
    mn_status st = mn_sweep_read_csv(a->csv_path, &rows, &n, NULL);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    int total = a->n_widths * a->n_lrs * a->seeds;
    sweep_run *r = calloc((size_t)total, sizeof *r);
    if (!r) {
        free(rows);
        return mn_cli_error(CMD, "out of memory for %d runs", total);
    }
    int k = 0;
    for (int i = a->n_widths - 1; i >= 0; i--)
        for (int j = 0; j < a->n_lrs; j++)
            for (int s = 0; s < a->seeds; s++)
                if (!have_run(rows, n, a->widths[i], a->lrs[j], s))
                    r[k++] = (sweep_run){.width = a->widths[i], .lr = a->lrs[j], .seed = s};
    free(rows);
    *runs = r;
    *n_runs = k;
    return MN_EXIT_OK;
}

/* What a sweep created, so that one failing before any run leaves no trace. */
typedef struct created {
    int dirs;        /* levels of --out that mkdir made */
    bool lock, cfg, csv;
} created;

static void remove_created(const sweep_args *a, const created *c)
{
    if (c->csv)
        remove(a->csv_path);
    if (c->cfg)
        remove(a->cfg_path);
    if (c->lock)
        remove(a->lock_path);
    mn_cli_rmdir_created(a->out, c->dirs);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int mn_cmd_sweep(mn_cli_args *args)
{
    sweep_args a = {0};
    char shown[MN_CLI_SHOWN_CAP];
    mn_dataset train = {0}, test = {0};
    sweep_run *runs = NULL;
    int n_runs = 0, lock = -1;
    bool out_exists, loaded = false, worked = false; /* worked: a run or the summary written */
    created made = {0};
    int rc = prepare(args, &a);
    if (rc != MN_EXIT_OK)
        goto out;

    /* Before anything is created: --out is (or can become) a writable
     * directory, the files the sweep writes there are regular files, and
     * when runs are to be trained the data loads. */
    rc = mn_cli_check_output_dir(CMD, "--out", a.out, &out_exists);
    const char *outputs[] = {a.csv_path, a.cfg_path, a.lock_path, a.summary_path, a.png_path,
                             a.svg_path};
    for (int i = 0; out_exists && rc == MN_EXIT_OK && i < 6; i++)
        rc = mn_cli_check_output_file(CMD, "output", outputs[i]);
    if (rc != MN_EXIT_OK)
        goto out;
    rc = pending_runs(&a, &runs, &n_runs);
    free(runs);
    runs = NULL;
    if (rc != MN_EXIT_OK)
        goto out;
    if (n_runs > 0 && !a.no_run) {
        mn_status st = mn_fashion_mnist_load(a.data_dir, &train, &test);
        if (st != MN_OK) {
            rc = mn_cli_fail(CMD, st);
            goto out;
        }
        loaded = true;
        if (a.base.batch > train.n) {
            rc = mn_cli_usage_error(CMD, "--batch %lld exceeds the %lld training examples",
                                    (long long)a.base.batch, (long long)train.n);
            goto free_data;
        }
    }

    int err = mn_cli_mkdir_p(a.out, &made.dirs);
    if (err) {
        rc = mn_cli_error(CMD, "cannot create the directory %s: %s",
                          mn_cli_shown(a.out, shown, sizeof shown), strerror(err));
        mn_cli_rmdir_created(a.out, made.dirs);
        goto free_data;
    }
    /* One sweep at a time per directory. */
    made.lock = !exists(a.lock_path);
    lock = open(a.lock_path, O_CREAT | O_RDWR | O_CLOEXEC, 0666);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (lock >= 0) {
            close(lock);
            made.lock = false; /* another sweep's */
        }
        rc = mn_cli_error(CMD, "%s is in use by another sweep (or unwritable: %s)",
                          mn_cli_shown(a.out, shown, sizeof shown), strerror(e));
        remove_created(&a, &made);
        goto free_data;
    }
    rc = check_config(&a, &made.cfg);
    if (rc == MN_EXIT_OK)
        rc = pending_runs(&a, &runs, &n_runs); /* again, under the lock */
    if (rc != MN_EXIT_OK)
        goto unlock;
    int total = a.n_widths * a.n_lrs * a.seeds;
    fprintf(stderr, "modnorm sweep: %d widths x %d lrs x %d seed%s = %d runs, %d already in %s",
            a.n_widths, a.n_lrs, a.seeds, a.seeds > 1 ? "s" : "", total, total - n_runs,
            mn_cli_shown(a.csv_path, shown, sizeof shown));
    if (n_runs && !a.no_run)
        fprintf(stderr, "; %d to train, %d at a time\n", n_runs, a.jobs < n_runs ? a.jobs : n_runs);
    else
        fprintf(stderr, "\n");
    if (n_runs && !a.no_run && !loaded) { /* runs went missing since the first look */
        mn_status st = mn_fashion_mnist_load(a.data_dir, &train, &test);
        loaded = st == MN_OK;
        if (st != MN_OK)
            rc = mn_cli_fail(CMD, st);
    }
    if (rc == MN_EXIT_OK && n_runs && !a.no_run) {
        int appended;
        made.csv = !exists(a.csv_path);
        rc = run_grid(&a, &train, &test, runs, n_runs, &appended);
        worked = appended > 0;
    }
    if (rc == MN_EXIT_OK) {
        worked = true;
        rc = summarize(&a);
    }
unlock:
    free(runs);
    if (rc != MN_EXIT_OK && !worked) /* failed before doing anything: leave no trace */
        remove_created(&a, &made);
    close(lock);
free_data:
    if (loaded) {
        mn_dataset_free(&train);
        mn_dataset_free(&test);
    }
out:
    free_paths(&a);
    return rc;
}
