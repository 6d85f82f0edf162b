/* modnorm sweep: train a width × learning-rate × seed grid, append every
 * finished run to DIR/results.csv, then summarize how the best learning rate
 * moves with width (DIR/summary.json) and plot loss against learning rate
 * (DIR/loss_vs_lr.png, .svg). Rerunning the same command skips the runs the
 * CSV already holds. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include "cli/plot.h"
#include "cli/sweep_summary.h"
#include "cli/trainer.h"

#define CMD "sweep"
#define DEFAULT_WIDTHS "64,128,256,512,1024"
#define DEFAULT_LRS "2^-10:2^2"
#define DEFAULT_STEPS 500
#define QUICK_WIDTHS "64,128,256"
#define QUICK_STEPS 200

static void help(void)
{
    printf(
        "usage: modnorm sweep --out DIR [--data fashion-mnist] [--model mlp] [--depth D]\n"
        "                     [--widths W1,W2,...] [--lrs A:B | --lrs L1,L2,...]\n"
        "                     [--opt muon|sgd|sign|adam] [--param modular|sp]\n"
        "                     [--steps N | --epochs E] [--batch B] [--seeds K] [--jobs J]\n"
        "                     [--quick] [--no-run] [options]\n\n"
        "Trains every (width, learning rate, seed) of the grid, one BLIS thread per run,\n"
        "and studies how the best learning rate moves with width.\n\n"
        "  --out DIR          results directory (created); required\n"
        "  --widths LIST      hidden widths (default " DEFAULT_WIDTHS ")\n"
        "  --lrs A:B          powers of two from A to B, one octave apart, e.g. 2^-10:2^2\n"
        "                     (default " DEFAULT_LRS "); or a comma list (0.01,2^-5,...)\n"
        "  --seeds K          seeds 0..K-1 per cell (default 1)\n"
        "  --jobs J           runs trained at once, each single-threaded (default 1)\n"
        "  --steps N          steps per run (default %d), or --epochs E\n"
        "  --batch B          batch size (default 128)\n"
        "  --depth D          Linear layers (default 3)\n"
        "  --opt NAME         muon (default), sgd, sign, adam\n"
        "  --param P          modular (default) or sp (PyTorch-default init, targets 1)\n"
        "  --momentum B, --nesterov, --wd L, --schedule S, --warmup N, --method M\n"
        "                     as for modnorm train\n"
        "  --quick            widths " QUICK_WIDTHS ", five LRs an octave apart around the\n"
        "                     best LR of a short run, %d steps (under a minute at --jobs 1);\n"
        "                     explicit options win\n"
        "  --no-run           train nothing: summarize and plot what DIR/results.csv holds\n"
        "  --data-dir DIR     where the Fashion-MNIST IDX files are\n\n"
        "Writes DIR/results.csv (" MN_SWEEP_CSV_HEADER "),\n"
        "one line per finished run, at once; DIR/summary.json; DIR/loss_vs_lr.png and .svg.\n"
        "train_loss is the mean over the last 20%% of steps. A run diverged when its loss\n"
        "became non-finite or ended above twice its initial loss: it is recorded and counts\n"
        "as +inf in every argmin. best_lr is the argmin of the seed-mean train loss,\n"
        "best_lr_refined the vertex of a parabola in log2(lr) through it and its neighbours;\n"
        "slope = least-squares slope of log2 lr* on log2 width (octaves per doubling),\n"
        "spread = max - min log2 lr*, regret(w) = L(w, grid LR nearest lr*(smallest width))\n"
        "- L(w, lr*(w)), monotone = that loss falls as width grows.\n\n"
        "Exit status: 0 done (diverged runs included), 1 error, 2 bad usage.\n",
        DEFAULT_STEPS, QUICK_STEPS);
}

/* ---- options ----------------------------------------------------------- */

typedef struct sweep_args {
    mn_train_opts base;
    const char *data, *data_dir, *out;
    int64_t *widths;
    int n_widths;
    double *lrs;
    int n_lrs;
    int seeds, jobs;
    bool quick, no_run;
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
}

/* ---- files ------------------------------------------------------------- */

static bool mkdir_p(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return false;
            buf[i] = c;
        }
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void join(char *buf, size_t cap, const char *dir, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

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

/* Write DIR/sweep.cfg, or check that the one there matches. */
static int check_config(const sweep_args *a)
{
    char path[4096], want[2048], have[2048];
    join(path, sizeof path, a->out, "sweep.cfg");
    config_text(a, want, sizeof want);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(have, 1, sizeof have - 1, f);
        have[n] = '\0';
        fclose(f);
        if (strcmp(have, want) != 0) {
            char la[256], lb[256];
            first_difference(have, want, la, lb, sizeof la);
            return mn_cli_usage_error(CMD, "%s holds runs made with %s, this sweep has %s: use "
                                      "another --out (or remove %s)", a->out, la, lb, a->out);
        }
        return MN_EXIT_OK;
    }
    f = fopen(path, "w");
    if (!f || fputs(want, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "modnorm sweep: cannot write %s: %s\n", path, strerror(errno));
        return MN_EXIT_FAIL;
    }
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
    char fail_msg[1024];
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
        o.progress = false;
        o.quiet = true;
        o.json = NULL;
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
            char line[512];
            mn_sweep_format_row(line, sizeof line, &row);
            if (fprintf(c->csv, "%s\n", line) < 0 || fflush(c->csv) != 0) {
                if (!c->failed)
                    snprintf(c->fail_msg, sizeof c->fail_msg, "cannot append to %s/results.csv: "
                             "%s", a->out, strerror(errno));
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

static int run_grid(const sweep_args *a, sweep_run *runs, int n_runs)
{
    char path[4096];
    join(path, sizeof path, a->out, "results.csv");
    mn_dataset train = {0}, test = {0};
    mn_status st = mn_fashion_mnist_load(a->data_dir, &train, &test);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    if (a->base.batch > train.n) {
        mn_dataset_free(&train);
        mn_dataset_free(&test);
        return mn_cli_usage_error(CMD, "--batch %lld exceeds the %lld training examples",
                                  (long long)a->base.batch, (long long)train.n);
    }
    FILE *csv = open_csv(path);
    if (!csv) {
        fprintf(stderr, "modnorm sweep: cannot append to %s: %s\n", path, strerror(errno));
        mn_dataset_free(&train);
        mn_dataset_free(&test);
        return MN_EXIT_FAIL;
    }
    sweep_ctx c = {.args = a, .train = &train, .test = &test, .runs = runs, .n_runs = n_runs,
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
    bool closed = fclose(csv) == 0;
    mn_dataset_free(&train);
    mn_dataset_free(&test);
    if (c.failed || !closed) {
        fprintf(stderr, "modnorm sweep: %s (the %d finished runs are in %s)\n",
                c.failed ? c.fail_msg : "cannot close results.csv", c.done, path);
        return MN_EXIT_FAIL;
    }
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
        fprintf(stderr, "modnorm sweep: out of memory\n");
        return MN_EXIT_FAIL;
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
    static const char *devices[][2] = {{"pngcairo", "loss_vs_lr.png"}, {"svg", "loss_vs_lr.svg"}};
    for (int d = 0; d < 2 && rc == MN_EXIT_OK; d++) {
        char path[4096];
        join(path, sizeof path, a->out, devices[d][1]);
        mn_status st = mn_plot_write(path, devices[d][0], 1, 1, &panel, 1000, 640);
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
    char path[4096];
    join(path, sizeof path, a->out, "results.csv");
    mn_sweep_row *rows;
    size_t n;
    int bad;
    mn_status st = mn_sweep_read_csv(path, &rows, &n, &bad);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    if (bad)
        fprintf(stderr, "modnorm sweep: skipped %d malformed line%s of %s\n", bad,
                bad > 1 ? "s" : "", path);
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
                "missing)\n", missing, missing > 1 ? "s" : "", missing > 1 ? "are" : "is", path);
    join(path, sizeof path, a->out, "summary.json");
    st = mn_sweep_write_summary(path, &s);
    int rc = st == MN_OK ? MN_EXIT_OK : mn_cli_fail(CMD, st);
    if (rc == MN_EXIT_OK)
        rc = plot_summary(a, &s);
    if (rc == MN_EXIT_OK) {
        print_table(&s);
        printf("wrote %s/results.csv, summary.json, loss_vs_lr.png, loss_vs_lr.svg\n", a->out);
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

static int parse(int argc, char **argv, sweep_args *a, bool *done)
{
    enum { O_DATA = 256, O_MODEL, O_DEPTH, O_WIDTHS, O_LRS, O_OPT, O_PARAM, O_STEPS, O_EPOCHS,
           O_BATCH, O_SEEDS, O_JOBS, O_OUT, O_QUICK, O_NO_RUN, O_MOMENTUM, O_NESTEROV, O_WD,
           O_SCHEDULE, O_WARMUP, O_METHOD, O_DATA_DIR };
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA},       {"model", required_argument, 0, O_MODEL},
        {"depth", required_argument, 0, O_DEPTH},     {"widths", required_argument, 0, O_WIDTHS},
        {"lrs", required_argument, 0, O_LRS},         {"opt", required_argument, 0, O_OPT},
        {"param", required_argument, 0, O_PARAM},     {"steps", required_argument, 0, O_STEPS},
        {"epochs", required_argument, 0, O_EPOCHS},   {"batch", required_argument, 0, O_BATCH},
        {"seeds", required_argument, 0, O_SEEDS},     {"jobs", required_argument, 0, O_JOBS},
        {"out", required_argument, 0, O_OUT},         {"quick", no_argument, 0, O_QUICK},
        {"no-run", no_argument, 0, O_NO_RUN},
        {"momentum", required_argument, 0, O_MOMENTUM},
        {"nesterov", no_argument, 0, O_NESTEROV},     {"wd", required_argument, 0, O_WD},
        {"schedule", required_argument, 0, O_SCHEDULE},
        {"warmup", required_argument, 0, O_WARMUP},   {"method", required_argument, 0, O_METHOD},
        {"data-dir", required_argument, 0, O_DATA_DIR},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    mn_train_opts *o = &a->base;
    const char *widths = NULL, *lrs = NULL;
    bool steps_set = false;
    int iv, c;
    char err[512];
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: a->data = optarg; break;
        case O_MODEL: o->model.name = optarg; break;
        case O_DEPTH:
            if (!mn_cli_parse_int(CMD, "--depth", optarg, 1, 100, &o->model.depth))
                return MN_EXIT_USAGE;
            break;
        case O_WIDTHS: widths = optarg; break;
        case O_LRS: lrs = optarg; break;
        case O_OPT: o->opt = optarg; break;
        case O_PARAM:
            if (strcmp(optarg, "modular") == 0)
                o->param = MN_PARAM_MODULAR;
            else if (strcmp(optarg, "sp") == 0)
                o->param = MN_PARAM_SP;
            else
                return mn_cli_usage_error(CMD, "--param '%s' must be modular or sp", optarg);
            break;
        case O_STEPS:
            if (!mn_cli_parse_int(CMD, "--steps", optarg, 1, 1 << 30, &iv))
                return MN_EXIT_USAGE;
            o->steps = iv;
            steps_set = true;
            break;
        case O_EPOCHS:
            if (!mn_cli_parse_double(CMD, "--epochs", optarg, 1e-6, 1e4, &o->epochs))
                return MN_EXIT_USAGE;
            o->steps = 0;
            steps_set = true;
            break;
        case O_BATCH:
            if (!mn_cli_parse_int(CMD, "--batch", optarg, 1, 60000, &iv))
                return MN_EXIT_USAGE;
            o->batch = iv;
            break;
        case O_SEEDS:
            if (!mn_cli_parse_int(CMD, "--seeds", optarg, 1, 1000, &a->seeds))
                return MN_EXIT_USAGE;
            break;
        case O_JOBS:
            if (!mn_cli_parse_int(CMD, "--jobs", optarg, 1, 256, &a->jobs))
                return MN_EXIT_USAGE;
            break;
        case O_OUT: a->out = optarg; break;
        case O_QUICK: a->quick = true; break;
        case O_NO_RUN: a->no_run = true; break;
        case O_MOMENTUM:
            if (!mn_cli_parse_double(CMD, "--momentum", optarg, 0, 0.999999, &o->momentum))
                return MN_EXIT_USAGE;
            break;
        case O_NESTEROV: o->nesterov = true; break;
        case O_WD:
            if (!mn_cli_parse_double(CMD, "--wd", optarg, 0, 1e6, &o->wd))
                return MN_EXIT_USAGE;
            break;
        case O_SCHEDULE:
            if (strcmp(optarg, "linear") == 0)
                o->schedule = MN_SCHEDULE_LINEAR;
            else if (strcmp(optarg, "cosine") == 0)
                o->schedule = MN_SCHEDULE_COSINE;
            else if (strcmp(optarg, "constant") == 0)
                o->schedule = MN_SCHEDULE_CONSTANT;
            else
                return mn_cli_usage_error(CMD, "--schedule '%s' must be linear, cosine or "
                                          "constant", optarg);
            break;
        case O_WARMUP:
            if (!mn_cli_parse_int(CMD, "--warmup", optarg, 0, 1 << 30, &iv))
                return MN_EXIT_USAGE;
            o->warmup = iv;
            break;
        case O_METHOD: o->method = optarg; break;
        case O_DATA_DIR: a->data_dir = optarg; break;
        case 'h': help(); *done = true; return MN_EXIT_OK;
        default:
            return mn_cli_usage_error(CMD, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return mn_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!a->out)
        return mn_cli_usage_error(CMD, "--out DIR is required");
    if (strcmp(a->data, "fashion-mnist") != 0)
        return mn_cli_usage_error(CMD, "--data '%s' is not known (known: fashion-mnist)",
                                  a->data);
    if (strcmp(o->model.name, "mlp") != 0)
        return mn_cli_usage_error(CMD, "--model '%s' is not known (known: mlp)", o->model.name);
    mn_solver_config probe;
    if (mn_solver_preset(&probe, o->opt, o->param) != MN_OK)
        return mn_cli_usage_error(CMD, "--opt: %s", mn_last_error());
    const mn_polar_method *pm;
    if (o->method && mn_polar_lookup(o->method, &pm) != MN_OK)
        return mn_cli_usage_error(CMD, "--method: %s", mn_last_error());

    char quick_lrs[64];
    if (a->quick) {
        int center = quick_center(o->opt, o->param, probe.lr);
        snprintf(quick_lrs, sizeof quick_lrs, "2^%d:2^%d", center - 2, center + 2);
        if (!widths)
            widths = QUICK_WIDTHS;
        if (!lrs)
            lrs = quick_lrs;
        if (!steps_set)
            o->steps = QUICK_STEPS;
    } else if (!steps_set) {
        o->steps = DEFAULT_STEPS;
    }
    if (!mn_sweep_parse_widths(widths ? widths : DEFAULT_WIDTHS, &a->widths, &a->n_widths, err,
                               sizeof err))
        return mn_cli_usage_error(CMD, "%s", err);
    if (!mn_sweep_parse_lrs(lrs ? lrs : DEFAULT_LRS, &a->lrs, &a->n_lrs, err, sizeof err))
        return mn_cli_usage_error(CMD, "%s", err);
    if (a->base.model.depth < 2 && a->n_widths > 1)
        return mn_cli_usage_error(CMD, "--depth 1 has no hidden width to sweep");
    return MN_EXIT_OK;
}

int mn_cmd_sweep(int argc, char **argv)
{
    sweep_args a = {
        .base = {.model = {.name = "mlp", .d_in = 784, .width = 512, .depth = 3, .d_out = 10},
                 .opt = "muon", .param = MN_PARAM_MODULAR, .lr = NAN, .momentum = NAN,
                 .schedule = MN_SCHEDULE_LINEAR, .epochs = 5, .batch = 128},
        .data = "fashion-mnist", .seeds = 1, .jobs = 1};
    bool done = false;
    int rc = parse(argc, argv, &a, &done);
    if (rc != MN_EXIT_OK || done)
        goto out;
    if (!mkdir_p(a.out)) {
        fprintf(stderr, "modnorm sweep: cannot create the directory %s: %s\n", a.out,
                strerror(errno));
        rc = MN_EXIT_FAIL;
        goto out;
    }
    /* One sweep at a time per directory. */
    char path[4096];
    join(path, sizeof path, a.out, ".lock");
    int lock = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0666);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "modnorm sweep: %s is in use by another sweep (or unwritable)\n", a.out);
        if (lock >= 0)
            close(lock);
        rc = MN_EXIT_FAIL;
        goto out;
    }
    rc = check_config(&a);
    if (rc != MN_EXIT_OK)
        goto unlock;

    join(path, sizeof path, a.out, "results.csv");
    mn_sweep_row *rows;
    size_t n;
    mn_status st = mn_sweep_read_csv(path, &rows, &n, NULL);
    if (st != MN_OK) {
        rc = mn_cli_fail(CMD, st);
        goto unlock;
    }
    int total = a.n_widths * a.n_lrs * a.seeds;
    sweep_run *runs = calloc((size_t)total, sizeof *runs);
    int n_runs = 0;
    /* Widest first: the ETA learns the expensive runs early, and the pool
     * finishes on short runs. */
    for (int i = a.n_widths - 1; runs && i >= 0; i--)
        for (int j = 0; j < a.n_lrs; j++)
            for (int k = 0; k < a.seeds; k++)
                if (!have_run(rows, n, a.widths[i], a.lrs[j], k))
                    runs[n_runs++] = (sweep_run){.width = a.widths[i], .lr = a.lrs[j], .seed = k};
    free(rows);
    if (!runs) {
        fprintf(stderr, "modnorm sweep: out of memory\n");
        rc = MN_EXIT_FAIL;
        goto unlock;
    }
    fprintf(stderr, "modnorm sweep: %d widths x %d lrs x %d seed%s = %d runs, %d already in %s",
            a.n_widths, a.n_lrs, a.seeds, a.seeds > 1 ? "s" : "", total, total - n_runs, path);
    if (n_runs && !a.no_run)
        fprintf(stderr, "; %d to train, %d at a time\n", n_runs, a.jobs < n_runs ? a.jobs : n_runs);
    else
        fprintf(stderr, "\n");
    if (n_runs && !a.no_run)
        rc = run_grid(&a, runs, n_runs);
    free(runs);
    if (rc == MN_EXIT_OK)
        rc = summarize(&a);
unlock:
    close(lock);
out:
    free(a.widths);
    free(a.lrs);
    return rc;
}
