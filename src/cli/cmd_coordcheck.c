/* modnorm coordcheck: a μP-style coordinate check. On one fixed batch, for
 * each width and step, record per module the mean |activation| of its
 * output, the relative change of that output since step 0 (same input),
 * and for atoms the RMS→RMS norm of the step's weight update; judge whether
 * the relative change and the update norm stay flat across widths. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/models.h"
#include "cli/plot.h"
#include "cli/sweep_summary.h"
#include "cli/trainer.h"
#include "core/error.h"

#define CMD "coordcheck"
/* The quantities, in CSV column order. */
enum { Q_ACT = 0, Q_REL, Q_DRMS, Q_UPD, N_Q };
static const char *q_columns[N_Q] = {"mean_abs", "rel_change", "change_rms", "update"};
static const char *q_titles[N_Q] = {
    "mean |h_t| (reported, not judged)",
    "relative change ||h_t - h_0|| / ||h_0||",
    "change RMS(h_t - h_0) (the muP coordinate check)",
    "RMS->RMS norm of the update W_t - W_(t-1)"};

typedef struct coord_data {
    int n_widths, n_mod, steps;  /* records for steps 0..steps */
    const int64_t *widths;
    char (*kind)[32];            /* per module: "Linear", "ReLU", ... */
    bool *is_atom;
    double *v;                   /* [((w * (steps+1) + t) * n_mod + m) * N_Q + q], NAN: none */
} coord_data;

static double *at(coord_data *d, int w, int t, int m, int q)
{
    return &d->v[(((size_t)w * (size_t)(d->steps + 1) + (size_t)t) * (size_t)d->n_mod +
                  (size_t)m) * N_Q + (size_t)q];
}

typedef struct leaves {
    mn_module **m;
    int n, cap;
    const mn_tensor **out; /* after a forward: each leaf's output (NULL: not one tensor) */
    int seen;
} leaves;

/* The network owns the activations: read each leaf's output through the visitor. */
static mn_status leaf_output(void *ctx, const mn_module_visit *v)
{
    leaves *l = ctx;
    if (mn_module_child_count(v->module) == 0 && l->seen < l->n)
        l->out[l->seen++] = v->n_outputs == 1 ? v->outputs[0] : NULL;
    return MN_OK;
}

static mn_status collect(leaves *l, const mn_module *m)
{
    int nc = mn_module_child_count(m);
    if (nc == 0) {
        if (l->n == l->cap) {
            int cap = l->cap ? 2 * l->cap : 16;
            mn_module **nm = realloc(l->m, (size_t)cap * sizeof *nm);
            if (!nm)
                return MN_ERR_NOMEM;
            l->m = nm;
            l->cap = cap;
        }
        l->m[l->n++] = (mn_module *)m;
        return MN_OK;
    }
    for (int i = 0; i < nc; i++) {
        mn_status st = collect(l, mn_module_child(m, i));
        if (st != MN_OK)
            return st;
    }
    return MN_OK;
}

typedef struct cc_opts {
    mn_model_spec model;
    const char *opt, *method;
    mn_param param;
    double lr;
    int steps, batch, seed, threads;
} cc_opts;

/* Train width w_index on the fixed batch and fill its records. */
static mn_status run_width(const cc_opts *o, int wi, const mn_dataset *train, coord_data *d)
{
    mn_model_spec spec = o->model;
    spec.width = d->widths[wi];
    mn_module *root;
    mn_network *net = NULL;
    mn_solver *solver = NULL;
    mn_tensor *x = NULL, *dy = NULL;
    float *before = NULL, *delta = NULL, **h0 = NULL;
    leaves l = {0};
    const mn_norm *rms;
    mn_status st = mn_cli_build_model(&spec, &root);
    if (st == MN_OK)
        st = mn_network_create(&net, root, o->param, (uint64_t)o->seed);
    if (st == MN_OK) {
        mn_network_set_threads(net, o->threads);
        mn_solver_config cfg;
        st = mn_solver_preset(&cfg, o->opt, o->param);
        if (st == MN_OK) {
            if (!isnan(o->lr))
                cfg.lr = o->lr;
            cfg.schedule = MN_SCHEDULE_CONSTANT;
            cfg.total_steps = o->steps;
            cfg.polar.threads = o->threads;
            st = mn_polar_lookup(o->method, &cfg.polar.method);
        }
        if (st == MN_OK)
            st = mn_solver_create(&solver, net, &cfg);
    }
    if (st == MN_OK)
        st = mn_norm_lookup("rms-rms", &rms);
    if (st == MN_OK)
        st = collect(&l, mn_network_root(net));
    if (st == MN_OK && wi > 0 && l.n != d->n_mod)
        st = mn_fail(MN_ERR_SHAPE, "width %lld has %d modules, width %lld %d",
                     (long long)d->widths[wi], l.n, (long long)d->widths[0], d->n_mod);
    if (st == MN_OK && wi == 0) {
        d->n_mod = l.n;
        d->kind = calloc((size_t)l.n, sizeof *d->kind);
        d->is_atom = calloc((size_t)l.n, sizeof *d->is_atom);
        size_t cells = (size_t)d->n_widths * (size_t)(d->steps + 1) * (size_t)l.n * N_Q;
        d->v = malloc(cells * sizeof *d->v);
        if (!d->kind || !d->is_atom || !d->v)
            st = mn_fail(MN_ERR_NOMEM, "out of memory for the records of %d widths x %d steps "
                         "x %d modules (%zu bytes)", d->n_widths, d->steps + 1, l.n,
                         cells * sizeof *d->v);
        else {
            for (size_t i = 0; i < cells; i++)
                d->v[i] = NAN;
            for (int m = 0; m < l.n; m++) {
                snprintf(d->kind[m], sizeof d->kind[m], "%s", mn_module_kind(l.m[m]));
                d->is_atom[m] = mn_module_is_atom(l.m[m]);
            }
        }
    }
    int64_t np = net ? mn_network_param_count(net) : 0;
    if (st == MN_OK) {
        before = malloc((size_t)(np > 0 ? np : 1) * sizeof *before);
        delta = malloc((size_t)(np > 0 ? np : 1) * sizeof *delta);
        h0 = calloc((size_t)l.n, sizeof *h0);
        if (!before || !delta || !h0)
            st = mn_fail(MN_ERR_NOMEM, "out of memory for %lld parameters", (long long)np);
    }
    if (st == MN_OK)
        st = mn_tensor_wrap(&x, train->x, 2, (int64_t[]){o->batch, train->dim});
    if (st == MN_OK)
        st = mn_tensor_create(&dy, 2, (int64_t[]){o->batch, spec.d_out});
    /* The leaf index of each atom. */
    int n_atoms = net ? mn_network_atom_count(net) : 0;
    int *atom_leaf = calloc((size_t)(n_atoms > 0 ? n_atoms : 1), sizeof *atom_leaf);
    if (!atom_leaf && st == MN_OK)
        st = mn_fail(MN_ERR_NOMEM, "out of memory");
    for (int k = 0; st == MN_OK && k < n_atoms; k++) {
        atom_leaf[k] = -1;
        for (int m = 0; m < l.n; m++)
            if (l.m[m] == mn_network_atom(net, k))
                atom_leaf[k] = m;
    }

    for (int t = 0; st == MN_OK && t <= o->steps; t++) {
        const mn_tensor *y;
        st = mn_network_forward(net, x, &y);
        l.seen = 0;
        if (st == MN_OK && !l.out && !(l.out = calloc((size_t)l.n + 1, sizeof *l.out)))
            st = mn_fail(MN_ERR_NOMEM, "out of memory");
        if (st == MN_OK)
            st = mn_network_visit(net, leaf_output, &l);
        for (int m = 0; st == MN_OK && m < l.n; m++) {
            const mn_tensor *h = l.out[m];
            if (!h || !mn_tensor_is_contiguous(h)) {
                st = mn_fail(MN_ERR_UNSUPPORTED, "module %d (%s) has no single contiguous "
                             "output", m, d->kind[m]);
                break;
            }
            int64_t n = mn_tensor_numel(h);
            double sa = 0, s0 = 0, sd = 0;
            if (t == 0) {
                h0[m] = malloc((size_t)(n > 0 ? n : 1) * sizeof **h0);
                if (!h0[m]) {
                    st = mn_fail(MN_ERR_NOMEM, "out of memory");
                    break;
                }
                memcpy(h0[m], h->data, (size_t)n * sizeof **h0);
            }
            for (int64_t i = 0; i < n; i++) {
                double v = h->data[i], v0 = h0[m][i];
                sa += fabs(v);
                s0 += v0 * v0;
                sd += (v - v0) * (v - v0);
            }
            *at(d, wi, t, m, Q_ACT) = n > 0 ? sa / (double)n : 0;
            *at(d, wi, t, m, Q_REL) = s0 > 0 ? sqrt(sd / s0) : (sd > 0 ? INFINITY : 0);
            *at(d, wi, t, m, Q_DRMS) = n > 0 ? sqrt(sd / (double)n) : 0;
        }
        if (st != MN_OK || t == o->steps)
            break;
        double loss;
        st = mn_loss_cross_entropy(y, train->y, &loss, dy, NULL);
        if (st == MN_OK) {
            mn_network_zero_grad(net);
            st = mn_network_backward(net, dy);
        }
        if (st == MN_OK) {
            memcpy(before, mn_network_weights(net), (size_t)np * sizeof *before);
            st = mn_solver_step(solver, net);
        }
        if (st == MN_OK) {
            const float *w = mn_network_weights(net);
            for (int64_t i = 0; i < np; i++)
                delta[i] = w[i] - before[i];
            for (int k = 0; st == MN_OK && k < n_atoms; k++) {
                if (atom_leaf[k] < 0)
                    continue;
                mn_mat view = mn_network_atom_view(net, k, delta);
                double v;
                st = mn_norm_value(rms, &view, &v);
                if (st == MN_OK)
                    *at(d, wi, t + 1, atom_leaf[k], Q_UPD) = v;
            }
        }
    }
    for (int m = 0; h0 && m < l.n; m++)
        free(h0[m]);
    free(h0);
    free(atom_leaf);
    free(l.m);
    free(l.out);
    free(before);
    free(delta);
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    return st;
}

/* The worst ratio per 4× of width between any two widths, as TOL would
 * state it: max over pairs of (v_j/v_i)^(1/log4(w_j/w_i)), symmetric. */
static double ratio_per_4x(const coord_data *d, int t, int m, int q)
{
    double worst = 1;
    for (int i = 0; i < d->n_widths; i++)
        for (int j = i + 1; j < d->n_widths; j++) {
            double a = *at((coord_data *)d, i, t, m, q), b = *at((coord_data *)d, j, t, m, q);
            if (isnan(a) || isnan(b))
                continue;
            if (a == 0 && b == 0)
                continue;
            if (!(a > 0) || !(b > 0) || isinf(a) || isinf(b))
                return INFINITY;
            double octaves4 = log((double)d->widths[j] / (double)d->widths[i]) / log(4.0);
            double r = exp(fabs(log(b / a)) / octaves4);
            worst = fmax(worst, r);
        }
    return worst;
}

/* DIR/coord.csv, through a temporary file renamed at the end. */
static int write_csv(const char *path, const coord_data *d)
{
    char shown[MN_CLI_SHOWN_CAP];
    char *tmp;
    if (asprintf(&tmp, "%s.tmp", path) < 0)
        return mn_cli_error(CMD, "out of memory");
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int e = errno;
        mn_cli_error(CMD, "cannot write %s: %s", mn_cli_shown(tmp, shown, sizeof shown),
                     strerror(e));
        free(tmp);
        return MN_EXIT_FAIL;
    }
    fprintf(f, "width,step,module,kind");
    for (int q = 0; q < N_Q; q++)
        fprintf(f, ",%s", q_columns[q]);
    fputc('\n', f);
    for (int w = 0; w < d->n_widths; w++)
        for (int t = 0; t <= d->steps; t++)
            for (int m = 0; m < d->n_mod; m++) {
                fprintf(f, "%lld,%d,%d,%s", (long long)d->widths[w], t, m, d->kind[m]);
                for (int q = 0; q < N_Q; q++) {
                    double v = *at((coord_data *)d, w, t, m, q);
                    if (isnan(v))
                        fputs(",", f);
                    else
                        fprintf(f, ",%.17g", v);
                }
                fputc('\n', f);
            }
    errno = 0;
    bool ok = !ferror(f);
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        mn_cli_error(CMD, "cannot write %s: %s", mn_cli_shown(path, shown, sizeof shown),
                     e ? strerror(e) : "write error");
        remove(tmp);
    }
    free(tmp);
    return ok ? MN_EXIT_OK : MN_EXIT_FAIL;
}

static int plot(const char *path, const coord_data *d, const cc_opts *o)
{
    int nw = d->n_widths, nm = d->n_mod, T = d->steps;
    double *x = malloc((size_t)nw * sizeof *x);
    double *y = malloc((size_t)N_Q * (size_t)nm * (size_t)nw * sizeof *y);
    mn_plot_series *series = calloc((size_t)N_Q * (size_t)nm, sizeof *series);
    char(*labels)[48] = calloc((size_t)nm, sizeof *labels);
    int rc = MN_EXIT_OK;
    if (!x || !y || !series || !labels) {
        rc = mn_cli_error(CMD, "out of memory");
        goto done;
    }
    for (int w = 0; w < nw; w++)
        x[w] = log2((double)d->widths[w]);
    for (int m = 0; m < nm; m++)
        snprintf(labels[m], sizeof labels[m], "%d %s", m, d->kind[m]);
    for (int q = 0; q < N_Q; q++)
        for (int m = 0; m < nm; m++) {
            double *yy = y + ((size_t)q * (size_t)nm + (size_t)m) * (size_t)nw;
            for (int w = 0; w < nw; w++)
                yy[w] = *at((coord_data *)d, w, T, m, q);
            series[q * nm + m] = (mn_plot_series){.label = labels[m], .n = nw, .x = x, .y = yy,
                                                  .mark = -1};
        }
    char t[N_Q][128];
    snprintf(t[Q_ACT], sizeof t[Q_ACT], "mean |h| at step %d (%s, %s)", T, o->opt,
             o->param == MN_PARAM_SP ? "SP" : "modular");
    snprintf(t[Q_REL], sizeof t[Q_REL], "‖h_t − h_0‖ / ‖h_0‖ at step %d", T);
    snprintf(t[Q_DRMS], sizeof t[Q_DRMS], "RMS(h_t − h_0) at step %d", T);
    snprintf(t[Q_UPD], sizeof t[Q_UPD], "RMS→RMS norm of the step-%d update", T);
    static const char *ylabels[N_Q] = {"mean |h|", "relative change", "RMS of the change",
                                       "‖W_t − W_t-1‖ RMS→RMS"};
    mn_plot_panel panels[N_Q];
    for (int q = 0; q < N_Q; q++)
        panels[q] = (mn_plot_panel){.title = t[q], .xlabel = "width", .ylabel = ylabels[q],
                                    .xaxis = MN_PLOT_X_INT2, .ylog = true, .ytop = NAN,
                                    .legend = q == 0, .n_series = nm, .series = series + q * nm};
    mn_status st = mn_plot_write(path, "pngcairo", N_Q, 2, panels, 1400, 1000);
    if (st != MN_OK)
        rc = mn_cli_fail(CMD, st);
done:
    free(x);
    free(y);
    free(series);
    free(labels);
    return rc;
}

/* Print the tables and the verdicts. */
static void report(const coord_data *d, double tol, mn_param param)
{
    int T = d->steps;
    bool flat[N_Q] = {true, true, true, true};
    double worst_of[N_Q] = {1, 1, 1, 1};
    char why[N_Q][160] = {{0}};
    for (int q = 0; q < N_Q; q++) {
        printf("\n%s at step %d\n", q_titles[q], T);
        printf("  %-12s", "module");
        for (int w = 0; w < d->n_widths; w++) {
            char h[24];
            snprintf(h, sizeof h, "w=%lld", (long long)d->widths[w]);
            printf(" %10s", h);
        }
        if (q != Q_ACT)
            printf("  %-14s %s", "worst x/4x", "flat");
        printf("\n");
        for (int m = 0; m < d->n_mod; m++) {
            if (q == Q_UPD && !d->is_atom[m])
                continue;
            char name[48];
            snprintf(name, sizeof name, "%d %s", m, d->kind[m]);
            printf("  %-12s", name);
            for (int w = 0; w < d->n_widths; w++)
                printf(" %10.4g", *at((coord_data *)d, w, T, m, q));
            if (q != Q_ACT) {
                double worst = 1;
                int worst_t = 1;
                for (int t = 1; t <= T; t++) {
                    double r = ratio_per_4x(d, t, m, q);
                    if (r > worst) {
                        worst = r;
                        worst_t = t;
                    }
                }
                bool ok = worst <= tol * (1 + 1e-12);
                char wb[32];
                snprintf(wb, sizeof wb, "%.3g (step %d)", worst, worst_t);
                printf("  %-14s %s", wb, ok ? "yes" : "NO");
                if (!ok)
                    flat[q] = false;
                if (!ok && worst > worst_of[q]) { /* name the worst module */
                    worst_of[q] = worst;
                    snprintf(why[q], sizeof why[q], "worst: module %d %s, %.3fx per 4x of width "
                             "at step %d", m, d->kind[m], worst, worst_t);
                }
            }
            printf("\n");
        }
    }
    printf("\nflat = between any two widths w1 < w2, at every step 1..%d, the values differ by\n"
           "at most %.3g^log4(w2/w1): %.3gx between widths 4x apart (%.3gx per doubling)\n", T,
           tol, tol, sqrt(tol));
    static const char *names[N_Q] = {"", "relative change:", "change RMS:", "update norm:"};
    for (int q = Q_REL; q < N_Q; q++) {
        printf("%-17s %s", names[q], flat[q] ? "flat" : "NOT flat");
        if (!flat[q])
            printf(" (%s)", why[q]);
        printf("\n");
    }
    if (!flat[Q_REL] && param == MN_PARAM_MODULAR)
        printf("note: under modular init the relative change has a width-dependent denominator "
               "in two places:\na first layer narrower than its 784 inputs starts with "
               "activations shrunk by\nsqrt(width/784), and the readout (10 x width, "
               "orthogonal rows) starts with logits of\nabout sqrt(10/width) times its input's "
               "size, while a normalized step changes both by an\namount that does not depend "
               "on width: there the relative change moves like\n1/sqrt(width) and "
               "sqrt(width) by construction. Read the change RMS.\n");
}

int mn_cmd_coordcheck(mn_cli_args *a)
{
    cc_opts o = {.model = {.name = a->model, .d_in = 784, .width = 64, .depth = (int)a->depth,
                           .d_out = 10},
                 .opt = a->opt, .method = a->method, .param = (mn_param)a->param, .lr = a->lr,
                 .steps = (int)a->steps, .batch = (int)a->batch, .seed = (int)a->seed,
                 .threads = (int)a->threads};
    const char *out = a->out;
    double tol = a->tolerance;
    char shown[MN_CLI_SHOWN_CAP];
    if (o.model.depth < 2 && a->widths.n > 1)
        return mn_cli_usage_error(CMD, "--depth 1 has no hidden width to sweep");
    mn_solver_config probe;
    mn_status st = mn_solver_preset(&probe, o.opt, o.param); /* the table accepted the name */
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    coord_data d = {.steps = o.steps, .widths = a->widths.v, .n_widths = a->widths.n};
    char *csv_path = mn_cli_join(CMD, out, "coord.csv");
    char *png_path = mn_cli_join(CMD, out, "coord.png");
    int rc = csv_path && png_path ? MN_EXIT_OK : MN_EXIT_FAIL;
    bool plots = mn_plot_enabled(), out_exists = false;
    /* Before any work: DIR is (or can become) a writable directory and the
     * files written there are regular files; DIR is created when the
     * results are ready, so a failed run leaves nothing behind. */
    if (rc == MN_EXIT_OK)
        rc = mn_cli_check_output_dir(CMD, "--out", out, &out_exists);
    if (rc == MN_EXIT_OK && out_exists)
        rc = mn_cli_check_output_file(CMD, "output", csv_path);
    if (rc == MN_EXIT_OK && out_exists && plots)
        rc = mn_cli_check_output_file(CMD, "output", png_path);

    mn_dataset train = {0}, test = {0};
    if (rc == MN_EXIT_OK && (st = mn_fashion_mnist_load(a->data_dir, &train, &test)) != MN_OK)
        rc = mn_cli_fail(CMD, st);
    else if (rc == MN_EXIT_OK && o.batch > train.n)
        rc = mn_cli_usage_error(CMD, "--batch %d exceeds the %lld training examples", o.batch,
                                (long long)train.n);
    mn_dataset_free(&test);
    if (rc == MN_EXIT_OK)
        printf("coordcheck: %s, %s, depth %d, lr %g, %d steps on one batch of %d\n", o.opt,
               o.param == MN_PARAM_SP ? "sp" : "modular", o.model.depth,
               isnan(o.lr) ? probe.lr : o.lr, o.steps, o.batch);
    for (int w = 0; rc == MN_EXIT_OK && w < d.n_widths; w++) {
        fprintf(stderr, "coordcheck: width %lld\n", (long long)d.widths[w]);
        st = run_width(&o, w, &train, &d);
        if (st != MN_OK)
            rc = mn_cli_fail(CMD, st);
    }
    mn_dataset_free(&train);
    if (rc == MN_EXIT_OK) {
        int created, err = mn_cli_mkdir_p(out, &created);
        if (err)
            rc = mn_cli_error(CMD, "cannot create the directory %s: %s",
                              mn_cli_shown(out, shown, sizeof shown), strerror(err));
    }
    if (rc == MN_EXIT_OK)
        rc = write_csv(csv_path, &d);
    if (rc == MN_EXIT_OK && plots)
        rc = plot(png_path, &d, &o);
    else if (rc == MN_EXIT_OK)
        fprintf(stderr, "modnorm coordcheck: plots are off (built without PLplot): no "
                "coord.png\n");
    if (rc == MN_EXIT_OK) {
        report(&d, tol, o.param);
        if (plots)
            printf("wrote %s/coord.csv and %s/coord.png\n", out, out);
        else
            printf("wrote %s/coord.csv\n", out);
    }
    free(csv_path);
    free(png_path);
    free(d.kind);
    free(d.is_atom);
    free(d.v);
    return rc;
}
