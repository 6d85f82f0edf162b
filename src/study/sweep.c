/* A sweep: a value × learning-rate × seed grid of training runs, `jobs` at
 * a time, each appended to DIR/results.csv as it finishes. DIR/sweep.cfg
 * keeps one setting per directory; a rerun trains only what the CSV lacks.
 * DIR is created, locked (flock on the directory itself, so the lock leaves
 * no file) and written only once the first run has finished: a sweep that
 * fails before that leaves no trace. */
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

#include "core/error.h"
#include "modnorm/study.h"

#define CFG_MAX 4096

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static mn_status join(char *buf, size_t cap, const char *dir, const char *name)
{
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap)
        return mn_fail(MN_ERR_ARG, "sweep: the directory name '%s' is too long", dir);
    return MN_OK;
}

/* ---- the grid, checked ---------------------------------------------------- */

typedef struct run {
    int value;      /* index into grid.values */
    double lr;
    int seed;
    double started; /* 0: not started, -1: finished */
} run;

typedef struct grid {
    int64_t values[MN_STUDY_MAX_VALUES]; /* ascending, unique */
    int n_values;
    double lrs[MN_STUDY_MAX_LRS]; /* ascending, unique */
    int n_lrs;
    double cost[MN_STUDY_MAX_VALUES]; /* flops of one run at each value (the ETA's model) */
    char cfg[CFG_MAX];                /* DIR/sweep.cfg as this sweep writes it */
    run *runs;                        /* the runs DIR lacks, largest value first */
    int n_runs;
    mn_study_plan plan;
} grid;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Parameters and the polar iteration's cost of a module tree's atoms. */
static void atom_costs(const mn_module *m, double *params, double *polar)
{
    if (mn_module_is_atom(m)) {
        int64_t dout, din;
        if (mn_module_weight_shape(m, &dout, &din) == MN_OK) {
            double a = (double)din, b = (double)dout;
            double lo = fmin(a, b), hi = fmax(a, b);
            *params += a * b;
            *polar += 30 * lo * lo * hi;
        }
        return;
    }
    for (int i = 0; i < mn_module_child_count(m); i++)
        atom_costs(mn_module_child(m, i), params, polar);
}

/* A run's cost in flops, for the ETA: forward + backward 6·B·T·P per step
 * (T: positions per row, 1 but for sequences), Muon's polar iteration
 * ~30·m²·n per m×n (m ≤ n) atom per step, and the test evaluation. Measured
 * rates fit this to within ~2× across widths. */
static double run_cost(const mn_study_sweep *sw, const mn_module *root)
{
    double params = 0, polar = 0;
    atom_costs(root, &params, &polar);
    const mn_train_settings *s = &sw->train;
    double n_train = sw->train_data ? (double)sw->train_data->n : 60000;
    double n_test = sw->test_data ? (double)sw->test_data->n : 10000;
    double T = sw->train_data ? (double)mn_dataset_labels_per_row(sw->train_data) : 1;
    double steps = s->steps > 0 ? (double)s->steps : s->epochs * n_train / (double)s->batch;
    double per_step =
        6 * (double)s->batch * T * params + (strcmp(s->opt, "muon") == 0 ? polar : 0);
    return steps * per_step + 2 * n_test * T * params;
}

static mn_status check_sweep(const mn_study_sweep *sw, grid *g)
{
    if (!sw)
        return mn_fail(MN_ERR_ARG, "sweep: NULL");
    if (!mn_study_param_valid(sw->param))
        return mn_fail(MN_ERR_ARG, "sweep: the parameter name '%s' is not an identifier (letters, "
                       "digits, _; at most %d characters)", sw->param ? sw->param : "(null)",
                       MN_STUDY_MAX_PARAM - 1);
    if (!sw->values || sw->n_values < 1 || sw->n_values > MN_STUDY_MAX_VALUES)
        return mn_fail(MN_ERR_ARG, "sweep: %d %s values; need 1 to %d", sw->n_values, sw->param,
                       MN_STUDY_MAX_VALUES);
    if (!sw->lrs || sw->n_lrs < 1 || sw->n_lrs > MN_STUDY_MAX_LRS)
        return mn_fail(MN_ERR_ARG, "sweep: %d learning rates; need 1 to %d", sw->n_lrs,
                       MN_STUDY_MAX_LRS);
    if (sw->seeds < 1 || sw->seeds > 1000)
        return mn_fail(MN_ERR_ARG, "sweep: seeds %d must be in [1, 1000]", sw->seeds);
    if (sw->jobs < 1 || sw->jobs > 256)
        return mn_fail(MN_ERR_ARG, "sweep: jobs %d must be in [1, 256]", sw->jobs);
    if (!sw->factory)
        return mn_fail(MN_ERR_ARG, "sweep: the model factory is NULL");
    if (!sw->dir || !sw->dir[0])
        return mn_fail(MN_ERR_ARG, "sweep: the results directory is %s", sw->dir ? "empty"
                                                                                : "NULL");
    MN_TRY(mn_train_settings_check(&sw->train));
    for (int i = 0; i < sw->n_values; i++) {
        if (sw->values[i] < 1)
            return mn_fail(MN_ERR_ARG, "sweep: %s %lld must be >= 1", sw->param,
                           (long long)sw->values[i]);
        g->values[i] = sw->values[i];
    }
    qsort(g->values, (size_t)sw->n_values, sizeof *g->values, cmp_i64);
    for (int i = 0; i < sw->n_values; i++)
        if (g->n_values == 0 || g->values[g->n_values - 1] != g->values[i])
            g->values[g->n_values++] = g->values[i];
    for (int j = 0; j < sw->n_lrs; j++) {
        if (!(sw->lrs[j] > 0) || !isfinite(sw->lrs[j]))
            return mn_fail(MN_ERR_ARG, "sweep: learning rate %g must be positive and finite",
                           sw->lrs[j]);
        g->lrs[j] = sw->lrs[j];
    }
    qsort(g->lrs, (size_t)sw->n_lrs, sizeof *g->lrs, cmp_double);
    for (int j = 0; j < sw->n_lrs; j++)
        if (g->n_lrs == 0 || !mn_study_same_lr(g->lrs[g->n_lrs - 1], g->lrs[j]))
            g->lrs[g->n_lrs++] = g->lrs[j];
    /* Every value through the factory now, so that a bad one fails before
     * any run (and measures each value's cost for the ETA). */
    for (int i = 0; i < g->n_values; i++) {
        mn_module *root = NULL;
        mn_clear_error(); /* a factory of the user's may fail without a message */
        mn_status st = sw->factory(sw->factory_ctx, sw->param, g->values[i], &root);
        if (st != MN_OK) {
            char msg[768];
            snprintf(msg, sizeof msg, "%s", mn_last_error());
            mn_module_destroy(root);
            return mn_fail(st, "sweep: %s %lld: %s", sw->param, (long long)g->values[i],
                           msg[0] ? msg : mn_status_str(st));
        }
        if (!root)
            return mn_fail(MN_ERR_ARG, "sweep: %s %lld: the factory returned no module",
                           sw->param, (long long)g->values[i]);
        g->cost[i] = run_cost(sw, root);
        mn_module_destroy(root);
    }
    size_t len = (size_t)snprintf(g->cfg, sizeof g->cfg, "%s",
                                  sw->model_text ? sw->model_text : "");
    if (len >= sizeof g->cfg)
        return mn_fail(MN_ERR_ARG, "sweep: model_text is longer than %d bytes", CFG_MAX - 1);
    if (len > 0 && g->cfg[len - 1] != '\n')
        return mn_fail(MN_ERR_ARG, "sweep: model_text must be whole lines ending in a newline");
    return mn_train_settings_text(&sw->train, g->cfg + len, sizeof g->cfg - len);
}

/* ---- what DIR holds --------------------------------------------------------- */

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
    /* One ended: the other's next line is a setting it lacks. */
    snprintf(la, cap, "%.*s", (int)strcspn(a, "\n"), a);
    snprintf(lb, cap, "%.*s", (int)strcspn(b, "\n"), b);
}

/* DIR/sweep.cfg against this sweep's; *exists says whether there is one. */
static mn_status compare_cfg(const char *dir, const char *want, bool *exists)
{
    char path[4096], have[CFG_MAX + 1];
    MN_TRY(join(path, sizeof path, dir, "sweep.cfg"));
    *exists = false;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR)
            return MN_OK;
        return mn_fail(MN_ERR_IO, "sweep: cannot read %s: %s", path, strerror(errno));
    }
    size_t n = fread(have, 1, sizeof have - 1, f);
    have[n] = '\0';
    fclose(f);
    *exists = true;
    if (strcmp(have, want) != 0) {
        char la[256], lb[256];
        first_difference(have, want, la, lb, sizeof la);
        if (!*la || !*lb)
            return mn_fail(MN_ERR_ARG, "%s holds runs made %s %s: use another directory (or "
                           "remove %s)", dir, *la ? "with" : "without", *la ? la : lb, dir);
        return mn_fail(MN_ERR_ARG, "%s holds runs made with %s, this sweep has %s: use another "
                       "directory (or remove %s)", dir, la, lb, dir);
    }
    return MN_OK;
}

static bool have_run(const mn_study_row *rows, size_t n, int64_t v, double lr, int seed)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].value == v && rows[i].seed == seed && mn_study_same_lr(rows[i].lr, lr))
            return true;
    return false;
}

/* Check the sweep and list the runs DIR lacks (g->runs: free it). */
static mn_status plan(const mn_study_sweep *sw, grid *g)
{
    MN_TRY(check_sweep(sw, g));
    struct stat st;
    if (stat(sw->dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return mn_fail(MN_ERR_IO, "sweep: %s exists and is not a directory", sw->dir);
    bool cfg_exists;
    MN_TRY(compare_cfg(sw->dir, g->cfg, &cfg_exists));
    char path[4096];
    MN_TRY(join(path, sizeof path, sw->dir, "results.csv"));
    /* Runs whose settings nothing records cannot be told apart from this
     * sweep's: refuse them rather than average them in. */
    if (!cfg_exists && stat(path, &st) == 0)
        return mn_fail(MN_ERR_ARG, "%s holds results.csv but no sweep.cfg, so the settings of "
                       "its runs are unknown: use another directory (or remove %s)", sw->dir,
                       sw->dir);
    mn_study_row *rows;
    size_t n;
    MN_TRY(mn_study_read_csv(path, sw->param, &rows, &n, NULL));
    int total = g->n_values * g->n_lrs * sw->seeds;
    g->runs = calloc((size_t)total, sizeof *g->runs);
    if (!g->runs) {
        free(rows);
        return mn_fail(MN_ERR_NOMEM, "sweep: out of memory for %d runs", total);
    }
    /* Largest value first: the ETA learns the expensive runs early, and the
     * pool finishes on short runs. */
    for (int i = g->n_values - 1; i >= 0; i--)
        for (int j = 0; j < g->n_lrs; j++)
            for (int k = 0; k < sw->seeds; k++)
                if (!have_run(rows, n, g->values[i], g->lrs[j], k))
                    g->runs[g->n_runs++] = (run){.value = i, .lr = g->lrs[j], .seed = k};
    free(rows);
    g->plan = (mn_study_plan){.total = total, .done = total - g->n_runs, .to_train = g->n_runs,
                              .jobs = sw->jobs < g->n_runs ? sw->jobs : g->n_runs};
    return MN_OK;
}

mn_status mn_study_sweep_plan(const mn_study_sweep *sw, mn_study_plan *out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_study_sweep_plan: plan is NULL");
    grid *g = calloc(1, sizeof *g); /* g->runs is NULL until a plan lists them */
    if (!g)
        return mn_fail(MN_ERR_NOMEM, "sweep: out of memory");
    mn_status st = plan(sw, g);
    if (st == MN_OK)
        *out = g->plan;
    free(g->runs);
    free(g);
    return st;
}

/* ---- the runs ------------------------------------------------------------------- */

typedef struct sweep_ctx {
    const mn_study_sweep *sw;
    const mn_study_callbacks *cb;
    grid *g;
    int next, done, diverged, active;
    FILE *csv;    /* NULL until the first run finished */
    int lock;     /* the directory's descriptor, flocked; -1: not yet */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    double t0, cost_done, secs_done;
    mn_status failed;
    char fail_msg[1024];
} sweep_ctx;

/* Seconds left, or -1 before any run finished. Called with the lock held. */
static double eta(const sweep_ctx *c)
{
    if (c->done == 0 || c->cost_done <= 0)
        return -1;
    double rate = c->secs_done / c->cost_done, left = 0, t = now();
    for (int i = 0; i < c->g->n_runs; i++) {
        const run *r = &c->g->runs[i];
        if (r->started < 0)
            continue; /* finished */
        double cost = rate * c->g->cost[r->value];
        left += cost;
        if (r->started > 0)
            left -= fmin(t - r->started, cost);
    }
    return fmax(0, left) / c->sw->jobs;
}

static mn_study_progress progress(const sweep_ctx *c, const mn_study_row *row, double secs)
{
    return (mn_study_progress){.done = c->done, .to_train = c->g->n_runs,
                               .diverged = c->diverged, .row = row, .run_seconds = secs,
                               .elapsed = now() - c->t0, .eta = eta(c)};
}

/* mkdir of DIR alone (its parent must exist: a mistyped path is an error,
 * not a new tree); *made says whether this call created it, so that a
 * failed commit can take it back. */
static bool make_dir(const char *path, bool *made)
{
    *made = mkdir(path, 0777) == 0;
    if (!*made && errno != EEXIST)
        return false;
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    if (!S_ISDIR(st.st_mode))
        errno = ENOTDIR;
    return S_ISDIR(st.st_mode);
}

/* One sweep per directory: an exclusive flock on the directory itself. */
static mn_status lock_dir(sweep_ctx *c)
{
    int fd = open(c->sw->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return mn_fail(MN_ERR_IO, "sweep: cannot open %s: %s", c->sw->dir, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return mn_fail(MN_ERR_IO, "sweep: %s is in use by another sweep", c->sw->dir);
    }
    c->lock = fd;
    return MN_OK;
}

/* Open the CSV for appending, with its header when new and a newline after
 * a line cut short by a killed sweep. */
static mn_status open_csv(sweep_ctx *c)
{
    char path[4096], header[MN_STUDY_MAX_PARAM + 64];
    MN_TRY(join(path, sizeof path, c->sw->dir, "results.csv"));
    MN_TRY(mn_study_csv_header(c->sw->param, header, sizeof header));
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
        return mn_fail(MN_ERR_IO, "sweep: cannot append to %s: %s", path, strerror(errno));
    if (fresh)
        fprintf(f, "%s\n", header);
    else if (needs_newline)
        fputc('\n', f);
    if (fflush(f) != 0) {
        int e = errno;
        fclose(f);
        if (fresh)
            remove(path);
        return mn_fail(MN_ERR_IO, "sweep: cannot append to %s: %s", path, strerror(e));
    }
    c->csv = f;
    return MN_OK;
}

/* The first finished run makes DIR: created, locked, its settings file
 * written (or checked again: another sweep may have started there since
 * the plan), the CSV opened. On failure what it made is removed again.
 * Called with the lock held. */
static mn_status commit(sweep_ctx *c)
{
    bool made_dir = false, wrote_cfg = false;
    char cfg_path[4096];
    mn_status st = join(cfg_path, sizeof cfg_path, c->sw->dir, "sweep.cfg");
    if (st == MN_OK && !make_dir(c->sw->dir, &made_dir))
        st = mn_fail(MN_ERR_IO, "sweep: cannot create the directory %s: %s", c->sw->dir,
                     strerror(errno));
    if (st == MN_OK && c->lock < 0)
        st = lock_dir(c);
    bool exists = false;
    if (st == MN_OK)
        st = compare_cfg(c->sw->dir, c->g->cfg, &exists);
    if (st == MN_OK && !exists) {
        FILE *f = fopen(cfg_path, "w");
        wrote_cfg = f != NULL;
        bool ok = f && fputs(c->g->cfg, f) >= 0;
        int e = errno;
        if (f && fclose(f) != 0 && ok) {
            ok = false;
            e = errno;
        }
        if (!ok)
            st = mn_fail(MN_ERR_IO, "sweep: cannot write %s: %s", cfg_path, strerror(e));
    }
    if (st == MN_OK)
        st = open_csv(c);
    if (st != MN_OK) {
        if (wrote_cfg)
            remove(cfg_path);
        if (c->lock >= 0 && made_dir) {
            close(c->lock);
            c->lock = -1;
        }
        if (made_dir)
            rmdir(c->sw->dir);
    }
    return st;
}

/* Record a failure (the first one's message wins). Lock held. */
static void fail(sweep_ctx *c, mn_status st, const char *msg)
{
    if (c->failed == MN_OK) {
        c->failed = st;
        snprintf(c->fail_msg, sizeof c->fail_msg, "%s", msg);
    }
}

/* Train one run: the factory's tree, the run's lr and seed, one thread. */
static mn_status train_one(const sweep_ctx *c, const run *r, mn_study_row *row)
{
    const mn_study_sweep *sw = c->sw;
    int64_t value = c->g->values[r->value];
    mn_train_settings s = sw->train;
    s.lr = r->lr;
    s.seed = (uint64_t)r->seed;
    s.threads = 1;
    mn_module *root = NULL;
    mn_fit_result res;
    mn_clear_error();
    mn_status st = sw->factory(sw->factory_ctx, sw->param, value, &root);
    if (st == MN_OK)
        st = mn_train(root, &s, sw->train_data, sw->test_data, NULL, &res);
    else
        mn_module_destroy(root);
    if (st == MN_OK || st == MN_ERR_NONFINITE)
        st = mn_fit_judge(st, &res, MN_FIT_DIVERGENCE_FACTOR);
    if (st != MN_OK)
        return st;
    *row = (mn_study_row){.value = value, .lr = r->lr, .seed = r->seed,
                          .train_loss = res.train_loss, .test_loss = res.test_loss,
                          .test_acc = res.test_acc, .diverged = res.diverged};
    return MN_OK;
}

static void *worker(void *p)
{
    sweep_ctx *c = p;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        if (c->failed != MN_OK || c->next >= c->g->n_runs) {
            c->active--;
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            return NULL;
        }
        run *r = &c->g->runs[c->next++];
        r->started = now();
        pthread_mutex_unlock(&c->mu);

        mn_study_row row;
        mn_status st = train_one(c, r, &row);
        double secs = now() - r->started;
        char msg[1024];
        if (st != MN_OK) {
            const char *e = mn_last_error();
            snprintf(msg, sizeof msg, "%s %lld, lr %g, seed %d: %s", c->sw->param,
                     (long long)c->g->values[r->value], r->lr, r->seed,
                     e[0] ? e : mn_status_str(st));
        }

        pthread_mutex_lock(&c->mu);
        if (st == MN_OK && !c->csv && (st = commit(c)) != MN_OK)
            snprintf(msg, sizeof msg, "%s", mn_last_error());
        if (st == MN_OK) {
            char line[512];
            mn_study_format_row(line, sizeof line, &row);
            if (fprintf(c->csv, "%s\n", line) < 0 || fflush(c->csv) != 0) {
                st = MN_ERR_IO;
                snprintf(msg, sizeof msg, "sweep: cannot append to %s/results.csv: %s",
                         c->sw->dir, strerror(errno));
            }
        }
        if (st != MN_OK) {
            fail(c, st, msg);
            r->started = 0;
        } else {
            r->started = -1;
            c->done++;
            c->diverged += row.diverged;
            c->cost_done += c->g->cost[r->value];
            c->secs_done += secs;
            if (c->cb && c->cb->on_run) {
                mn_study_progress pr = progress(c, &row, secs);
                c->cb->on_run(c->cb->ctx, &pr);
            }
        }
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
}

/* on_tick about every second until every worker has returned. */
static void *tick(void *p)
{
    sweep_ctx *c = p;
    pthread_mutex_lock(&c->mu);
    while (c->active > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        if (c->active > 0) {
            mn_study_progress pr = progress(c, NULL, 0);
            c->cb->on_tick(c->cb->ctx, &pr);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static mn_status check_data(const mn_study_sweep *sw)
{
    if (!sw->train_data || !sw->test_data)
        return mn_fail(MN_ERR_ARG, "sweep: the %s dataset is NULL",
                       sw->train_data ? "test" : "training");
    if (sw->train.batch > sw->train_data->n)
        return mn_fail(MN_ERR_ARG, "sweep: batch %lld exceeds the %lld training examples",
                       (long long)sw->train.batch, (long long)sw->train_data->n);
    return MN_OK;
}

static mn_status run_all(const mn_study_sweep *sw, const mn_study_callbacks *cb, grid *g)
{
    sweep_ctx c = {.sw = sw, .cb = cb, .g = g, .lock = -1, .t0 = now()};
    struct stat sb;
    if (stat(sw->dir, &sb) == 0) /* an existing directory is locked before any training */
        MN_TRY(lock_dir(&c));
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    /* The calling thread is one of the workers: jobs = 1 trains on it alone
     * (the polar workspace is per thread, kept until the thread ends). */
    int jobs = g->plan.jobs;
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
    bool ticking = cb && cb->on_tick && pthread_create(&ticker, NULL, tick, &c) == 0;
    worker(&c);
    for (int i = 1; i <= started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    if (ticking)
        pthread_join(ticker, NULL);
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
    if (c.csv && fclose(c.csv) != 0)
        fail(&c, MN_ERR_IO, "sweep: cannot close results.csv");
    if (c.lock >= 0)
        close(c.lock);
    if (c.failed != MN_OK) {
        if (c.done > 0)
            return mn_fail(c.failed, "%s (the %d finished runs are in %s/results.csv)",
                           c.fail_msg, c.done, sw->dir);
        return mn_fail(c.failed, "%s (no run finished; %s is as it was)", c.fail_msg, sw->dir);
    }
    return MN_OK;
}

mn_status mn_study_sweep_run(const mn_study_sweep *sw, const mn_study_callbacks *cb,
                             mn_study_plan *out)
{
    grid *g = calloc(1, sizeof *g); /* g->runs is NULL until a plan lists them */
    if (!g)
        return mn_fail(MN_ERR_NOMEM, "sweep: out of memory");
    mn_status st = plan(sw, g);
    if (st == MN_OK && g->n_runs > 0)
        st = check_data(sw);
    if (st == MN_OK && out)
        *out = g->plan;
    if (st == MN_OK && cb && cb->on_start)
        cb->on_start(cb->ctx, &g->plan);
    if (st == MN_OK && g->n_runs > 0)
        st = run_all(sw, cb, g);
    free(g->runs);
    free(g);
    return st;
}

mn_status mn_study_sweep_summarize(const mn_study_sweep *sw, mn_study_summary *out,
                                   int *bad_lines, int *missing)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_study_sweep_summarize: out is NULL");
    *out = (mn_study_summary){0};
    grid *g = calloc(1, sizeof *g); /* g->runs is NULL until a plan lists them */
    if (!g)
        return mn_fail(MN_ERR_NOMEM, "sweep: out of memory");
    mn_status st = check_sweep(sw, g);
    char path[4096];
    mn_study_row *rows = NULL;
    size_t n = 0;
    int bad = 0;
    if (st == MN_OK)
        st = join(path, sizeof path, sw->dir, "results.csv");
    if (st == MN_OK)
        st = mn_study_read_csv(path, sw->param, &rows, &n, &bad);
    if (st == MN_OK)
        st = mn_study_summarize(sw->param, rows, n, g->values, g->n_values, g->lrs, g->n_lrs,
                                sw->seeds, out);
    free(rows);
    free(g);
    if (st != MN_OK)
        return st;
    if (bad_lines)
        *bad_lines = bad;
    if (missing) {
        *missing = 0;
        for (int c = 0; c < out->n_values * out->n_lrs; c++)
            *missing += out->runs[c] < sw->seeds ? sw->seeds - out->runs[c] : 0;
    }
    return MN_OK;
}
