/* The coordinate check as a library function (modnorm/coordcheck.h).
 *
 *  1. Fixtures: tests/data/study/coord-{muon,adam} hold the coord.csv and
 *     stdout of `modnorm coordcheck` before it moved into the library. The
 *     same runs through mn_coordcheck_run give every CSV value to 1e-12
 *     (relative; the test also says whether the text is byte-identical) with
 *     the fixtures' kernels (1e-3 with others: tm_fixture_dir), and
 *     the printed step-T tables, worst ratios per 4x, their steps, the
 *     per-module flat/NO and the per-quantity verdicts of the stdout.
 *  2. Every record of a small residual network (Sum and Identity: a model
 *     the CLI cannot build) against a training loop written here on the
 *     public API, with its own statistics; a token model (the GPT) on
 *     windows of token ids, its causal mask's −∞ entries left out.
 *  3. The judgement on designed records: a known ratio per 4x, zeros,
 *     missing records, the tolerance boundary.
 *  4. Arguments: each bad setting is refused with a message naming it; a
 *     parameter that changes the module list is refused; one value, depth 1
 *     and any order of values are fine; other size parameters name the CSV's
 *     first column. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/blas.h"
#include "modnorm.h"
#include "testutil.h"

/* ---- factories ------------------------------------------------------------ */

/* mlp(784 → width (× depth−1) → 10); "depth" varies the depth at width 16. */
typedef struct mlp_ctx {
    int depth;
    int64_t d_in, d_out;
} mlp_ctx;

static mn_status mlp_factory(void *ctx, const char *param, int64_t value, mn_module **out)
{
    const mlp_ctx *c = ctx;
    if (strcmp(param, "width") == 0 || strcmp(param, "hidden") == 0)
        return mn_mlp(out, c->d_in, value, c->depth, c->d_out);
    if (strcmp(param, "depth") == 0)
        return mn_mlp(out, c->d_in, 16, (int)value, c->d_out);
    return MN_ERR_UNSUPPORTED; /* no message: the check must not depend on one */
}

static mn_status failing_factory(void *ctx, const char *param, int64_t value, mn_module **out)
{
    (void)ctx;
    (void)param;
    (void)value;
    *out = NULL;
    mn_mlp(out, 1, 1, 0, 1); /* sets "mlp: need depth in [1, 1000] ..." */
    return MN_ERR_ARG;
}

static mn_status null_factory(void *ctx, const char *param, int64_t value, mn_module **out)
{
    (void)ctx;
    (void)param;
    (void)value;
    *out = NULL;
    return MN_OK;
}

static mn_module *must(mn_status st, mn_module *m)
{
    ck_assert_msg(st == MN_OK, "%s", mn_last_error());
    return m;
}

/* d_in → width, then Sum(GELU ∘ Linear(width←width), Identity), then
 * Linear(d_out←width): six leaves (Linear, Linear, GELU, Identity, Add,
 * Linear). */
static mn_status residual_factory(void *ctx, const char *param, int64_t w, mn_module **out)
{
    const mlp_ctx *c = ctx;
    if (strcmp(param, "width") != 0)
        return MN_ERR_UNSUPPORTED;
    mn_module *in, *mid, *act, *id, *branch, *res, *head;
    must(mn_linear(&in, w, c->d_in), in);
    must(mn_linear(&mid, w, w), mid);
    must(mn_gelu(&act), act);
    must(mn_identity(&id), id);
    must(mn_sequential(&branch, 2, (mn_module *[]){mid, act}), branch);
    must(mn_sum(&res, branch, id), res);
    must(mn_linear(&head, c->d_out, w), head);
    return mn_sequential(out, 3, (mn_module *[]){in, res, head});
}

/* ---- helpers -------------------------------------------------------------- */

static char *slurp(const char *path)
{
    size_t len;
    return (char *)tm_slurp(path, &len);
}

static char *csv_text(const mn_coordcheck_result *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_ok(mn_coordcheck_write_csv(r, f));
    fclose(f);
    return buf;
}

/* Next line of *p into a NUL-terminated copy (NULL at the end). */
static char *next_line(char **p)
{
    if (!**p)
        return NULL;
    char *s = *p, *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = s + strlen(s);
    }
    return s;
}

static bool close_rel(double a, double b, double tol)
{
    if (a == b)
        return true;
    return fabs(a - b) <= tol * fmax(fabs(a), fabs(b));
}

/* Every field of `got` against `want`: text fields equal, numbers to 1e-12
 * relative, empties empty. Returns the number of numbers compared. */
static int compare_csv(const char *got_text, const char *want_text, double tol,
                       double *worst_rel)
{
    char *got = strdup(got_text), *want = strdup(want_text), *pg = got, *pw = want;
    char *lg, *lw;
    int line = 0, numbers = 0;
    *worst_rel = 0;
    while ((lw = next_line(&pw)) != NULL) {
        lg = next_line(&pg);
        ck_assert_msg(lg != NULL, "line %d missing", line + 1);
        line++;
        if (line == 1)
            continue;
        for (int field = 0;; field++) {
            size_t ng = strcspn(lg, ","), nw = strcspn(lw, ",");
            char a[64], b[64];
            ck_assert(ng < sizeof a && nw < sizeof b);
            memcpy(a, lg, ng);
            a[ng] = '\0';
            memcpy(b, lw, nw);
            b[nw] = '\0';
            if (field == 3 || nw == 0 || ng == 0) {
                ck_assert_msg(strcmp(a, b) == 0, "line %d field %d: '%s', fixture '%s'", line,
                              field, a, b);
            } else {
                char *ea, *eb;
                double x = strtod(a, &ea), y = strtod(b, &eb);
                ck_assert_msg(*ea == '\0' && *eb == '\0', "line %d field %d: '%s' / '%s'", line,
                              field, a, b);
                ck_assert_msg(close_rel(x, y, tol), "line %d field %d: %.17g, fixture %.17g",
                              line, field, x, y);
                if (x != y)
                    *worst_rel = fmax(*worst_rel, fabs(x - y) / fmax(fabs(x), fabs(y)));
                if (field >= 4)
                    numbers++;
            }
            bool eg = lg[ng] == '\0', ew = lw[nw] == '\0';
            ck_assert_msg(eg == ew, "line %d: field counts differ", line);
            if (ew)
                break;
            lg += ng + 1;
            lw += nw + 1;
        }
    }
    ck_assert_msg(next_line(&pg) == NULL, "more lines than the fixture");
    free(got);
    free(want);
    return numbers;
}

static const char *section_titles[MN_COORD_N_QUANTITIES] = {
    "mean |h_t| (reported, not judged)", "relative change ||h_t - h_0|| / ||h_0||",
    "change RMS(h_t - h_0) (the muP coordinate check)",
    "RMS->RMS norm of the update W_t - W_(t-1)"};
static const char *summary_names[MN_COORD_N_QUANTITIES] = {NULL, "relative change:",
                                                           "change RMS:", "update norm:"};

/* The stdout fixture's tables and verdicts against the result: each printed
 * value (%.4g), worst ratio (%.3g), its step and flat/NO per module, and the
 * summary's flat / NOT flat with the worst module, ratio (%.3f) and step. */
static int compare_stdout(const mn_coordcheck_result *r, const char *path)
{
    char *text = slurp(path), *p = text, *line;
    int q = -1, rows = 0, checks = 0, summaries = 0;
    int T = r->steps;
    while ((line = next_line(&p)) != NULL) {
        char lrbuf[32];
        if (strncmp(line, "coordcheck: ", 12) == 0 && strstr(line, ", lr ")) {
            snprintf(lrbuf, sizeof lrbuf, ", lr %g,", r->lr);
            ck_assert_msg(strstr(line, lrbuf), "'%s' does not state lr %g", line, r->lr);
            checks++;
            continue;
        }
        bool title = false;
        for (int k = 0; k < MN_COORD_N_QUANTITIES; k++) {
            char t[160];
            snprintf(t, sizeof t, "%s at step %d", section_titles[k], T);
            if (strcmp(line, t) == 0) {
                q = k;
                rows = 0;
                title = true;
            }
        }
        if (title || strncmp(line, "  module", 8) == 0)
            continue;
        if (q >= 0 && line[0] == ' ' && line[1] == ' ') {
            /* "  m Kind  v1 ... vn  [worst (step t)  yes|NO]" */
            char *save, *tok = strtok_r(line, " ", &save);
            int m = atoi(tok);
            ck_assert_int_lt(m, r->n_modules);
            if (q == MN_COORD_UPDATE) /* bonds are not listed */
                while (rows < m && !r->is_atom[rows])
                    rows++;
            ck_assert_int_eq(m, rows);
            rows++;
            ck_assert_str_eq(strtok_r(NULL, " ", &save), r->kinds[m]);
            for (int v = 0; v < r->n_values; v++) {
                char want[32];
                snprintf(want, sizeof want, "%.4g", mn_coordcheck_value(r, v, T, m, q));
                ck_assert_str_eq(strtok_r(NULL, " ", &save), want);
                checks++;
            }
            const mn_coord_verdict *vd = &r->verdicts[m * MN_COORD_N_QUANTITIES + q];
            if (q == MN_COORD_MEAN_ABS) {
                ck_assert_ptr_null(strtok_r(NULL, " ", &save));
                ck_assert(!vd->judged);
                continue;
            }
            ck_assert(vd->judged);
            char want[32], step[32];
            snprintf(want, sizeof want, "%.3g", vd->worst);
            snprintf(step, sizeof step, "%d)", vd->worst_step);
            ck_assert_str_eq(strtok_r(NULL, " ", &save), want);
            ck_assert_str_eq(strtok_r(NULL, " ", &save), "(step");
            ck_assert_str_eq(strtok_r(NULL, " ", &save), step);
            ck_assert_str_eq(strtok_r(NULL, " ", &save), vd->flat ? "yes" : "NO");
            ck_assert_ptr_null(strtok_r(NULL, " ", &save));
            checks += 3;
            continue;
        }
        if (q >= 0 && line[0] == '\0') {
            int want_rows = r->n_modules;
            if (q == MN_COORD_UPDATE)
                while (want_rows > 0 && !r->is_atom[want_rows - 1])
                    want_rows--;
            ck_assert_int_eq(rows, want_rows);
            q = -1;
            continue;
        }
        for (int k = 1; k < MN_COORD_N_QUANTITIES; k++) {
            size_t n = strlen(summary_names[k]);
            if (strncmp(line, summary_names[k], n) != 0)
                continue;
            const char *rest = line + n;
            while (*rest == ' ')
                rest++;
            summaries++;
            if (r->flat[k]) {
                ck_assert_msg(strcmp(rest, "flat") == 0, "%s: fixture says '%s'",
                              summary_names[k], rest);
            } else {
                int w = r->worst_module[k];
                ck_assert_int_ge(w, 0);
                const mn_coord_verdict *vd = &r->verdicts[w * MN_COORD_N_QUANTITIES + k];
                char want[200];
                snprintf(want, sizeof want, "NOT flat (worst: module %d %s, %.3fx per 4x of "
                         "width at step %d)", w, r->kinds[w], vd->worst, vd->worst_step);
                ck_assert_str_eq(rest, want);
            }
            checks++;
        }
    }
    ck_assert_int_eq(summaries, 3);
    free(text);
    return checks;
}

static void load(mn_dataset *train)
{
    mn_dataset test = {0};
    ck_assert_ok(mn_fashion_mnist_load(NULL, train, &test));
    mn_dataset_free(&test);
}

static void run_fixture(const char *name, const char *opt, mn_param param, int depth, int steps)
{
    mn_dataset train = {0};
    load(&train);
    mlp_ctx ctx = {.depth = depth, .d_in = 784, .d_out = 10};
    mn_coordcheck_config cfg;
    mn_coordcheck_defaults(&cfg);
    cfg.opt = opt;
    cfg.param = param;
    cfg.steps = steps;
    mn_coordcheck_result *r;
    ck_assert_ok(mn_coordcheck_run(mlp_factory, &ctx, (int64_t[]){32, 64, 128}, 3, &train, &cfg,
                                   &r));
    mn_dataset_free(&train);

    /* Under another kernel set than the fixtures' (haswell, also what
     * valgrind's CPU gets) the records differ by up to 2.4e-5 relative, and
     * every printed value and verdict still agrees. */
    const char *arch;
    double tol;
    const char *fixture = tm_fixture_dir(name, 1e-3, &tol, &arch);
    bool same_kernels = tol < 1e-6;
    char path[1200];
    snprintf(path, sizeof path, "%s/coord.csv", fixture);
    char *want = slurp(path), *got = csv_text(r);
    double worst_rel;
    int numbers = compare_csv(got, want, tol, &worst_rel);
    ck_assert_int_gt(numbers, 200);
    printf("%s: %d CSV numbers within %g (largest relative difference %.3g); text %s%s%s\n",
           name, numbers, tol, worst_rel, strcmp(got, want) == 0 ? "byte-identical" : "differs",
           same_kernels ? "" : "; kernels ", same_kernels ? "" : arch);
    snprintf(path, sizeof path, "%s/stdout.txt", fixture);
    int checks = compare_stdout(r, path);
    printf("%s: %d printed values and verdicts agree with the stdout fixture\n", name, checks);

    /* save_csv writes the same text to a file. */
    char dir[] = "/tmp/mn_coordcheck_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/coord.csv", dir);
    ck_assert_ok(mn_coordcheck_save_csv(r, path));
    char *saved = slurp(path);
    ck_assert_str_eq(saved, got);
    unlink(path);
    rmdir(dir);
    snprintf(path, sizeof path, "%s/no-such-dir/coord.csv", dir);
    ck_assert_int_eq(mn_coordcheck_save_csv(r, path), MN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "no-such-dir/coord.csv.tmp"));
    free(saved);
    free(want);
    free(got);
    mn_coordcheck_free(r);
}

START_TEST(test_fixture_muon)
{
    run_fixture("coord-muon", "muon", MN_PARAM_MODULAR, 3, 5);
}
END_TEST

/* With bf16 products (the polar iteration's and Linear's) the coordinates
 * move by bf16's rounding, not more, and stay as flat as in float32: the same
 * verdict for every quantity on the fixture's MLP and widths. */
START_TEST(test_bf16_products)
{
    mn_dataset train = {0};
    load(&train);
    mlp_ctx ctx = {.depth = 3, .d_in = 784, .d_out = 10};
    mn_coordcheck_result *r[2];
    for (int p = 0; p < 2; p++) {
        mn_coordcheck_config cfg;
        mn_coordcheck_defaults(&cfg);
        cfg.polar_precision = cfg.net_precision = p ? MN_PRECISION_BF16 : MN_PRECISION_FP32;
        ck_assert_ok(mn_coordcheck_run(mlp_factory, &ctx, (int64_t[]){32, 64, 128}, 3, &train,
                                       &cfg, &r[p]));
    }
    mn_dataset_free(&train);
    double worst = 0;
    int differ = 0;
    for (int v = 0; v < 3; v++)
        for (int t = 0; t <= r[0]->steps; t++)
            for (int m = 0; m < r[0]->n_modules; m++)
                for (int q = 0; q < MN_COORD_N_QUANTITIES; q++) {
                    double a = mn_coordcheck_value(r[0], v, t, m, q);
                    double b = mn_coordcheck_value(r[1], v, t, m, q);
                    if (isnan(a) || a == 0)
                        continue;
                    differ += a != b;
                    worst = fmax(worst, fabs(b - a) / fabs(a));
                }
    ck_assert_msg(differ > 0 && worst < 0.05, "bf16 vs fp32 coordinates: %d differ, worst %g",
                  differ, worst);
    printf("bf16 products: %d coordinates differ from fp32, by at most %.3g relative\n", differ,
           worst);
    for (int q = 0; q < MN_COORD_N_QUANTITIES; q++)
        ck_assert_int_eq(r[1]->flat[q], r[0]->flat[q]);
    mn_coordcheck_free(r[0]);
    mn_coordcheck_free(r[1]);
}
END_TEST

START_TEST(test_fixture_adam)
{
    run_fixture("coord-adam", "adam", MN_PARAM_SP, 4, 3);
}
END_TEST

/* ---- 2. a residual network against a loop written here --------------------- */

/* A small synthetic classification set: n examples of d features, C classes. */
static void synthetic(mn_dataset *d, int64_t n, int64_t dim, int C, uint64_t seed)
{
    mn_rng r;
    mn_rng_seed(&r, seed);
    *d = (mn_dataset){0}; /* labels_per_row 0: one label per row (it was left unset) */
    d->n = n;
    d->dim = dim;
    d->n_classes = C;
    d->x = malloc((size_t)(n * dim) * sizeof *d->x);
    d->y = malloc((size_t)n * sizeof *d->y);
    ck_assert(d->x && d->y);
    for (int64_t i = 0; i < n * dim; i++)
        d->x[i] = (float)mn_rng_normal(&r);
    for (int64_t i = 0; i < n; i++)
        d->y[i] = (int32_t)(i % C);
}

typedef struct leaf_outs {
    int n;
    const mn_tensor *h[16];
    int atom[16];
    const char *kind[16];
} leaf_outs;

static mn_status grab_leaves(void *ctx, const mn_module_visit *v)
{
    leaf_outs *l = ctx;
    if (mn_module_child_count(v->module) == 0) {
        ck_assert_int_lt(l->n, 16);
        l->h[l->n] = v->n_outputs == 1 ? v->outputs[0] : NULL;
        l->atom[l->n] = v->atom;
        l->kind[l->n] = mn_module_kind(v->module);
        l->n++;
    }
    return MN_OK;
}

static void check_against_loop(const mn_coordcheck_result *r, int vi, mlp_ctx *ctx,
                               const mn_dataset *d, const mn_coordcheck_config *cfg)
{
    mn_module *root;
    mn_network *net;
    mn_solver *solver;
    ck_assert_ok(residual_factory(ctx, "width", r->values[vi], &root));
    ck_assert_ok(mn_network_create(&net, root, cfg->param, cfg->seed));
    mn_network_set_threads(net, cfg->threads);
    mn_solver_config sc;
    ck_assert_ok(mn_solver_preset(&sc, cfg->opt, cfg->param));
    sc.lr = cfg->lr;
    sc.schedule = MN_SCHEDULE_CONSTANT;
    sc.total_steps = cfg->steps;
    sc.polar.threads = cfg->threads;
    ck_assert_ok(mn_polar_lookup(cfg->method, &sc.polar.method));
    ck_assert_ok(mn_solver_create(&solver, net, &sc));
    const mn_norm *rms;
    ck_assert_ok(mn_norm_lookup("rms-rms", &rms));
    mn_tensor *x, *dy;
    ck_assert_ok(mn_tensor_wrap(&x, d->x, 2, (int64_t[]){cfg->batch, d->dim}));
    ck_assert_ok(mn_tensor_create(&dy, 2, (int64_t[]){cfg->batch, ctx->d_out}));
    int64_t np = mn_network_param_count(net);
    float *prev = malloc((size_t)np * sizeof *prev), *diff = malloc((size_t)np * sizeof *diff);
    float *h0[16] = {0};
    for (int t = 0; t <= cfg->steps; t++) {
        const mn_tensor *y;
        ck_assert_ok(mn_network_forward(net, x, &y));
        leaf_outs l = {0};
        ck_assert_ok(mn_network_visit(net, grab_leaves, &l));
        ck_assert_int_eq(l.n, r->n_modules);
        for (int m = 0; m < l.n; m++) {
            ck_assert_str_eq(l.kind[m], r->kinds[m]);
            ck_assert(r->is_atom[m] == (l.atom[m] >= 0));
            int64_t n = mn_tensor_numel(l.h[m]);
            if (t == 0) {
                h0[m] = malloc((size_t)n * sizeof(float));
                memcpy(h0[m], l.h[m]->data, (size_t)n * sizeof(float));
            }
            double abs_sum = 0, n0 = 0, nd = 0;
            for (int64_t i = 0; i < n; i++) {
                double a = l.h[m]->data[i], b = h0[m][i];
                abs_sum += fabs(a);
                n0 += b * b;
                nd += (a - b) * (a - b);
            }
            double want[3] = {abs_sum / (double)n, t == 0 ? 0 : sqrt(nd) / sqrt(n0),
                              sqrt(nd / (double)n)};
            for (int q = 0; q < 3; q++) {
                double got = mn_coordcheck_value(r, vi, t, m, q);
                ck_assert_msg(close_rel(got, want[q], 1e-13),
                              "value %d step %d module %d %s: %.17g, here %.17g", vi, t, m,
                              mn_coord_quantity_name(q), got, want[q]);
            }
            double upd = mn_coordcheck_value(r, vi, t, m, MN_COORD_UPDATE);
            if (t == 0 || l.atom[m] < 0) {
                ck_assert(isnan(upd));
            } else {
                mn_mat view = mn_network_atom_view(net, l.atom[m], diff);
                double want_u;
                ck_assert_ok(mn_norm_value(rms, &view, &want_u));
                ck_assert_msg(close_rel(upd, want_u, 1e-13) && want_u > 0,
                              "update of module %d at step %d: %.17g, here %.17g", m, t, upd,
                              want_u);
            }
        }
        if (t == cfg->steps)
            break;
        double loss;
        ck_assert_ok(mn_loss_cross_entropy(y, d->y, &loss, dy, NULL));
        mn_network_zero_grad(net);
        ck_assert_ok(mn_network_backward(net, dy));
        memcpy(prev, mn_network_weights(net), (size_t)np * sizeof *prev);
        ck_assert_ok(mn_solver_step(solver, net));
        for (int64_t i = 0; i < np; i++)
            diff[i] = mn_network_weights(net)[i] - prev[i];
    }
    for (int m = 0; m < 16; m++)
        free(h0[m]);
    free(prev);
    free(diff);
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
}

static void count_progress(void *ctx, int index, int64_t value)
{
    int64_t *seen = ctx;
    ck_assert_int_eq(seen[0], index);
    seen[1 + index] = value;
    seen[0]++;
}

START_TEST(test_residual_against_loop)
{
    mn_dataset d;
    synthetic(&d, 40, 12, 5, 3);
    mlp_ctx ctx = {.d_in = 12, .d_out = 5};
    mn_coordcheck_config cfg;
    mn_coordcheck_defaults(&cfg);
    cfg.lr = 0.05;
    cfg.steps = 3;
    cfg.batch = 24;
    cfg.seed = 7;
    cfg.method = "svd";
    int64_t seen[4] = {0};
    cfg.progress = count_progress;
    cfg.progress_ctx = seen;
    mn_coordcheck_result *r;
    /* Values in any order: the result lists them ascending. */
    ck_assert_ok(mn_coordcheck_run(residual_factory, &ctx, (int64_t[]){32, 8, 16}, 3, &d, &cfg,
                                   &r));
    ck_assert_int_eq(seen[0], 3);
    ck_assert_int_eq(seen[1], 8);
    ck_assert_int_eq(seen[2], 16);
    ck_assert_int_eq(seen[3], 32);
    ck_assert_int_eq(r->n_values, 3);
    ck_assert_int_eq(r->values[0], 8);
    ck_assert_int_eq(r->values[2], 32);
    ck_assert_str_eq(r->size_param, "width");
    ck_assert_double_eq(r->lr, 0.05);
    /* Linear, Linear, GELU, Identity, Add, Linear. */
    static const char *kinds[] = {"Linear", "Linear", "GELU", "Identity", "Add", "Linear"};
    ck_assert_int_eq(r->n_modules, 6);
    for (int m = 0; m < 6; m++) {
        ck_assert_str_eq(r->kinds[m], kinds[m]);
        ck_assert(r->is_atom[m] == (strcmp(kinds[m], "Linear") == 0));
    }
    for (int vi = 0; vi < 3; vi++)
        check_against_loop(r, vi, &ctx, &d, &cfg);

    /* Deterministic: a second run gives the same CSV text. */
    mn_coordcheck_result *again;
    cfg.progress = NULL;
    ck_assert_ok(mn_coordcheck_run(residual_factory, &ctx, (int64_t[]){8, 16, 32}, 3, &d, &cfg,
                                   &again));
    char *a = csv_text(r), *b = csv_text(again);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    mn_coordcheck_free(again);
    mn_coordcheck_free(r);
    free(d.x);
    free(d.y);
}
END_TEST

/* A token model (the built-in GPT, one block) on windows of token ids with a
 * label per position: every record is finite, and the causal mask's fixed
 * −∞ entries are left out, so its mean |h| at step 0 is the mean |score|
 * over the allowed entries of the scores it masks. */
typedef struct mask_grab {
    const mn_tensor *scores, *masked;
    int mask_leaf, leaf;
} mask_grab;

static mn_status grab_mask(void *ctx, const mn_module_visit *v)
{
    mask_grab *g = ctx;
    if (mn_module_child_count(v->module) != 0)
        return MN_OK;
    const char *kind = mn_module_kind(v->module);
    if (!g->masked && strcmp(kind, "Scores") == 0)
        g->scores = v->outputs[0];
    if (!g->masked && strcmp(kind, "CausalMask") == 0) {
        g->masked = v->outputs[0];
        g->mask_leaf = g->leaf;
    }
    g->leaf++;
    return MN_OK;
}

START_TEST(test_token_model)
{
    enum { N = 6, T = 8, V = 11 };
    float x[N * T];
    int32_t y[N * T];
    uint64_t state = 5;
    for (int i = 0; i < N * T; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((state >> 33) % V);
        y[i] = (int32_t)((state >> 17) % V);
    }
    mn_dataset d = {.n = N, .dim = T, .n_classes = V, .x = x, .y = y, .labels_per_row = T};
    const char *text = mn_graph_gpt_text();
    mn_graph_file *g;
    ck_assert_ok(mn_graph_parse(&g, text, strlen(text), "gpt.mn"));
    ck_assert_ok(mn_graph_set(g, "depth", 1));
    ck_assert_ok(mn_graph_set(g, "dhead", 4));
    ck_assert_ok(mn_graph_set(g, "context", T));
    ck_assert_ok(mn_graph_set(g, "vocab", V));
    mn_coordcheck_config cfg;
    mn_coordcheck_defaults(&cfg);
    cfg.steps = 2;
    cfg.batch = 4;
    mn_coordcheck_result *r;
    ck_assert_ok(mn_coordcheck_run(mn_graph_factory, g, (int64_t[]){8, 16}, 2, &d, &cfg, &r));
    for (int v = 0; v < 2; v++)
        for (int t = 0; t <= cfg.steps; t++)
            for (int m = 0; m < r->n_modules; m++)
                for (int q = 0; q < MN_COORD_UPDATE; q++)
                    ck_assert_msg(isfinite(mn_coordcheck_value(r, v, t, m, q)),
                                  "width %lld step %d module %d %s: %g", (long long)r->values[v],
                                  t, m, r->kinds[m],
                                  mn_coordcheck_value(r, v, t, m, q));
    /* Step 0 of width 8 again, by hand. */
    mn_module *root;
    mn_network *net;
    ck_assert_ok(mn_graph_factory(g, "width", 8, &root));
    ck_assert_ok(mn_network_create(&net, root, cfg.param, cfg.seed));
    mn_tensor *xt;
    ck_assert_ok(mn_tensor_wrap(&xt, x, 2, (int64_t[]){cfg.batch, T}));
    const mn_tensor *out;
    ck_assert_ok(mn_network_forward(net, xt, &out));
    mask_grab mg = {0};
    ck_assert_ok(mn_network_visit(net, grab_mask, &mg));
    ck_assert_ptr_nonnull(mg.scores);
    ck_assert_ptr_nonnull(mg.masked);
    ck_assert_str_eq(r->kinds[mg.mask_leaf], "CausalMask");
    int64_t blocks = mn_tensor_numel(mg.scores) / (T * T), allowed = 0;
    double sum = 0;
    for (int64_t b = 0; b < blocks; b++)
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) {
                int64_t k = (b * T + i) * T + j;
                ck_assert(j <= i ? isfinite(mg.masked->data[k]) : isinf(mg.masked->data[k]));
                if (j <= i) {
                    sum += fabs(mg.scores->data[k]);
                    allowed++;
                }
            }
    ck_assert(close_rel(mn_coordcheck_value(r, 0, 0, mg.mask_leaf, MN_COORD_MEAN_ABS),
                        sum / (double)allowed, 1e-12));
    mn_tensor_destroy(xt);
    mn_network_destroy(net);
    mn_coordcheck_free(r);
    mn_graph_destroy(g);
}
END_TEST

/* ---- 3. the judgement on designed records -------------------------------------- */

static mn_coordcheck_result *small_result(mn_dataset *d)
{
    synthetic(d, 16, 6, 3, 1);
    mlp_ctx ctx = {.depth = 2, .d_in = 6, .d_out = 3};
    mn_coordcheck_config cfg;
    mn_coordcheck_defaults(&cfg);
    cfg.steps = 3;
    cfg.batch = 16;
    mn_coordcheck_result *r;
    ck_assert_ok(mn_coordcheck_run(mlp_factory, &ctx, (int64_t[]){4, 16, 64}, 3, d, &cfg, &r));
    ck_assert_int_eq(r->n_modules, 3); /* Linear, ReLU, Linear */
    return r;
}

static void set(mn_coordcheck_result *r, int v, int t, int m, int q, double x)
{
    r->data[(((size_t)v * (size_t)(r->steps + 1) + (size_t)t) * (size_t)r->n_modules +
             (size_t)m) * MN_COORD_N_QUANTITIES + (size_t)q] = x;
}

START_TEST(test_judgement)
{
    mn_dataset d;
    mn_coordcheck_result *r = small_result(&d);
    /* Every judged record 1 (flat, ratio 1), then module 2's change RMS grows
     * by exactly 1.5 per 4x of width at step 2, and module 0's by 1.3 (per
     * 4x, over 16x: 1.69) at step 3. */
    for (int v = 0; v < 3; v++)
        for (int t = 0; t <= 3; t++)
            for (int m = 0; m < 3; m++)
                for (int q = 0; q < MN_COORD_N_QUANTITIES; q++)
                    set(r, v, t, m, q, q == MN_COORD_UPDATE && (t == 0 || m == 1) ? NAN : 1);
    ck_assert_ok(mn_coordcheck_judge(r, 1.2));
    for (int q = 0; q < MN_COORD_N_QUANTITIES; q++) {
        ck_assert(r->flat[q]);
        for (int m = 0; m < 3; m++) {
            const mn_coord_verdict *vd = &r->verdicts[m * MN_COORD_N_QUANTITIES + q];
            ck_assert_double_eq(vd->worst, 1);
            ck_assert_int_eq(vd->worst_step, 1);
            ck_assert(vd->judged == (q != MN_COORD_MEAN_ABS && (q != MN_COORD_UPDATE || m != 1)));
        }
        ck_assert_int_eq(r->worst_module[q], q == MN_COORD_MEAN_ABS ? -1 : 0);
    }
    for (int v = 0; v < 3; v++) {
        set(r, v, 2, 2, MN_COORD_CHANGE_RMS, 0.7 * pow(1.5, v)); /* values 4, 16, 64 */
        set(r, v, 3, 0, MN_COORD_CHANGE_RMS, 2.0 / pow(1.3, v));
        set(r, v, 1, 0, MN_COORD_MEAN_ABS, pow(9, v));           /* not judged */
    }
    ck_assert_ok(mn_coordcheck_judge(r, 1.2));
    const mn_coord_verdict *v2 = &r->verdicts[2 * MN_COORD_N_QUANTITIES + MN_COORD_CHANGE_RMS];
    const mn_coord_verdict *v0 = &r->verdicts[0 * MN_COORD_N_QUANTITIES + MN_COORD_CHANGE_RMS];
    const mn_coord_verdict *va = &r->verdicts[0 * MN_COORD_N_QUANTITIES + MN_COORD_MEAN_ABS];
    ck_assert_double_eq_tol(v2->worst, 1.5, 1e-12);
    ck_assert_int_eq(v2->worst_step, 2);
    ck_assert(!v2->flat);
    ck_assert_double_eq_tol(v0->worst, 1.3, 1e-12);
    ck_assert_int_eq(v0->worst_step, 3);
    ck_assert(!v0->flat);
    ck_assert_double_eq_tol(va->worst, 9, 1e-12);
    ck_assert(va->flat && !va->judged);
    ck_assert(!r->flat[MN_COORD_CHANGE_RMS]);
    ck_assert_int_eq(r->worst_module[MN_COORD_CHANGE_RMS], 2);
    ck_assert(r->flat[MN_COORD_REL_CHANGE] && r->flat[MN_COORD_UPDATE]);
    ck_assert(r->flat[MN_COORD_MEAN_ABS]);
    /* The boundary: flat at tolerance 1.5, not just below. */
    ck_assert_ok(mn_coordcheck_judge(r, 1.5));
    ck_assert(r->flat[MN_COORD_CHANGE_RMS] && v2->flat && v0->flat);
    ck_assert_double_eq(r->tolerance, 1.5);
    ck_assert_ok(mn_coordcheck_judge(r, 1.4999));
    ck_assert(!r->flat[MN_COORD_CHANGE_RMS] && !v2->flat && v0->flat);

    /* A zero against a nonzero is +inf; two zeros and missing records are
     * skipped. */
    set(r, 0, 1, 1, MN_COORD_REL_CHANGE, 0);
    set(r, 1, 1, 1, MN_COORD_REL_CHANGE, 0);
    set(r, 2, 1, 1, MN_COORD_REL_CHANGE, NAN);
    ck_assert_ok(mn_coordcheck_judge(r, 1.2));
    ck_assert_double_eq(r->verdicts[1 * MN_COORD_N_QUANTITIES + MN_COORD_REL_CHANGE].worst, 1);
    set(r, 2, 1, 1, MN_COORD_REL_CHANGE, 1e-300);
    ck_assert_ok(mn_coordcheck_judge(r, 100));
    const mn_coord_verdict *vz = &r->verdicts[1 * MN_COORD_N_QUANTITIES + MN_COORD_REL_CHANGE];
    ck_assert(isinf(vz->worst) && !vz->flat && vz->worst_step == 1);
    ck_assert_int_eq(r->worst_module[MN_COORD_REL_CHANGE], 1);

    ck_assert_int_eq(mn_coordcheck_judge(r, 0.99), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "tolerance"));
    ck_assert_int_eq(mn_coordcheck_judge(r, INFINITY), MN_ERR_ARG);
    ck_assert_int_eq(mn_coordcheck_judge(NULL, 1.2), MN_ERR_ARG);

    /* Accessors. */
    ck_assert(isnan(mn_coordcheck_value(r, 3, 0, 0, MN_COORD_MEAN_ABS)));
    ck_assert(isnan(mn_coordcheck_value(r, 0, 4, 0, MN_COORD_MEAN_ABS)));
    ck_assert(isnan(mn_coordcheck_value(r, 0, 0, 3, MN_COORD_MEAN_ABS)));
    ck_assert(isnan(mn_coordcheck_value(r, 0, 0, 0, MN_COORD_N_QUANTITIES)));
    ck_assert(isnan(mn_coordcheck_value(NULL, 0, 0, 0, MN_COORD_MEAN_ABS)));
    ck_assert_double_eq(mn_coordcheck_value(r, 2, 2, 2, MN_COORD_CHANGE_RMS), 0.7 * pow(1.5, 2));
    ck_assert_str_eq(mn_coord_quantity_name(MN_COORD_CHANGE_RMS), "change_rms");
    ck_assert_ptr_null(mn_coord_quantity_name(MN_COORD_N_QUANTITIES));
    mn_coordcheck_free(r);
    mn_coordcheck_free(NULL);
    free(d.x);
    free(d.y);
}
END_TEST

/* ---- 4. arguments ------------------------------------------------------------ */

static void expect_refused(mn_model_factory f, const int64_t *values, int n, const mn_dataset *d,
                           const mn_coordcheck_config *cfg, mn_status want, const char *msg)
{
    mlp_ctx ctx = {.depth = 2, .d_in = 6, .d_out = 3};
    mn_coordcheck_result *r = (mn_coordcheck_result *)&ctx; /* must be reset to NULL */
    mn_status st = mn_coordcheck_run(f, &ctx, values, n, d, cfg, &r);
    ck_assert_msg(st == want, "want %s, got %s: %s", mn_status_str(want), mn_status_str(st),
                  mn_last_error());
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(mn_last_error(), msg), "message '%s' lacks '%s'", mn_last_error(), msg);
}

START_TEST(test_arguments)
{
    mn_dataset d;
    synthetic(&d, 16, 6, 3, 1);
    mn_coordcheck_config ok, c;
    mn_coordcheck_defaults(&ok);
    ok.steps = 1;
    ok.batch = 8;
    const int64_t w[] = {4, 8};
    mlp_ctx ctx = {.depth = 2, .d_in = 6, .d_out = 3};

    ck_assert_int_eq(mn_coordcheck_run(mlp_factory, &ctx, w, 2, &d, &ok, NULL), MN_ERR_ARG);
    expect_refused(NULL, w, 2, &d, &ok, MN_ERR_ARG, "factory");
    expect_refused(mlp_factory, w, 2, &d, NULL, MN_ERR_ARG, "cfg");
    expect_refused(mlp_factory, w, 0, &d, &ok, MN_ERR_ARG, "at least one value");
    expect_refused(mlp_factory, NULL, 2, &d, &ok, MN_ERR_ARG, "values NULL");
    expect_refused(mlp_factory, (int64_t[]){4, 0}, 2, &d, &ok, MN_ERR_ARG, "value 1 is 0");
    expect_refused(mlp_factory, (int64_t[]){8, 4, 8}, 3, &d, &ok, MN_ERR_ARG, "8 is listed twice");
    expect_refused(mlp_factory, w, 2, NULL, &ok, MN_ERR_ARG, "dataset is NULL");
    c = ok, c.batch = 17;
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "batch 17 must be in [1, 16]");
    c = ok, c.batch = 0;
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "batch 0");
    c = ok, c.steps = 0;
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "steps 0");
    c = ok, c.net_precision = (mn_precision)4;
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "net_precision 4");
    c = ok, c.polar_precision = (mn_precision)9;
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "polar_precision 9");
    c = ok, c.lr = -1;
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "lr -1");
    c = ok, c.lr = INFINITY;
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "lr inf");
    c = ok, c.tolerance = 0.5;
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "tolerance 0.5");
    c = ok, c.param = (mn_param)7;
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "param 7");
    c = ok, c.opt = "lion";
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "lion");
    c = ok, c.method = "qr";
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "qr");
    c = ok, c.size_param = "wid th";
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "size_param 'wid th'");
    c = ok, c.size_param = "";
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_ARG, "size_param ''");
    /* The factory's failure and message come through; a factory without a
     * message, or one that builds nothing, is named. */
    expect_refused(failing_factory, w, 2, &d, &ok, MN_ERR_ARG, "mlp: need depth");
    expect_refused(null_factory, w, 2, &d, &ok, MN_ERR_ARG, "no module for width 4");
    c = ok, c.size_param = "channels";
    expect_refused(mlp_factory, w, 2, &d, &c, MN_ERR_UNSUPPORTED,
                   "the model factory failed for channels 4");
    /* A parameter that changes the module list cannot be checked: refused
     * before any value is trained (it was after the first), without a
     * "coordcheck: " prefix for the CLI to double; mn_coordcheck_check_values
     * says so on its own, without data. */
    int64_t trained[3] = {0};
    c = ok, c.size_param = "depth", c.progress = count_progress, c.progress_ctx = trained;
    expect_refused(mlp_factory, (int64_t[]){1, 2}, 2, &d, &c, MN_ERR_SHAPE,
                   "depth 2 gives 3 leaf modules, depth 1 gave 1");
    ck_assert_int_eq(trained[0], 0);
    ck_assert_msg(strncmp(mn_last_error(), "coordcheck:", 11) != 0, "%s", mn_last_error());
    ck_assert_int_eq(mn_coordcheck_check_values(mlp_factory, &ctx, "depth", (int64_t[]){3, 2}, 2),
                     MN_ERR_SHAPE);
    ck_assert_str_eq(mn_last_error(), "depth 2 gives 3 leaf modules, depth 3 gave 5: a coordinate "
                                      "check compares the same modules across values");
    ck_assert_int_eq(mn_coordcheck_check_values(mlp_factory, &ctx, NULL, (int64_t[]){4, 4}, 2),
                     MN_ERR_ARG);
    ck_assert_str_eq(mn_last_error(), "width 4 is listed twice");
    ck_assert_ok(mn_coordcheck_check_values(mlp_factory, &ctx, NULL, w, 2));
    /* A model whose inputs do not match the data is the network's error. */
    mlp_ctx wide = {.depth = 2, .d_in = 7, .d_out = 3};
    mn_coordcheck_result *r;
    ck_assert_int_ne(mn_coordcheck_run(mlp_factory, &wide, w, 2, &d, &ok, &r), MN_OK);
    ck_assert_ptr_null(r);
    /* Labels outside the model's outputs: the loss's error. */
    mlp_ctx narrow = {.depth = 2, .d_in = 6, .d_out = 2};
    ck_assert_int_eq(mn_coordcheck_run(mlp_factory, &narrow, w, 2, &d, &ok, &r), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "label 2"));

    /* No reason to refuse: depth 1 (a width sweep of one Linear(3←6) does
     * not change it: flat, ratio 1), one value, lr 0, another size
     * parameter's name (the CSV's first column). */
    mlp_ctx one = {.depth = 1, .d_in = 6, .d_out = 3};
    ck_assert_ok(mn_coordcheck_run(mlp_factory, &one, w, 2, &d, &ok, &r));
    ck_assert_int_eq(r->n_modules, 1);
    for (int q = 1; q < MN_COORD_N_QUANTITIES; q++) {
        ck_assert(r->flat[q]);
        ck_assert_double_eq(r->verdicts[q].worst, 1);
    }
    mn_coordcheck_free(r);
    c = ok, c.lr = 0, c.size_param = "hidden";
    ck_assert_ok(mn_coordcheck_run(mlp_factory, &ctx, (int64_t[]){5}, 1, &d, &c, &r));
    ck_assert_int_eq(r->n_values, 1);
    ck_assert_double_eq(r->lr, 0);
    ck_assert_double_eq(mn_coordcheck_value(r, 0, 1, 0, MN_COORD_CHANGE_RMS), 0);
    ck_assert_double_eq(mn_coordcheck_value(r, 0, 1, 0, MN_COORD_UPDATE), 0);
    char *text = csv_text(r);
    const char *head = "hidden,step,module,kind,mean_abs,rel_change,change_rms,update\n"
                       "5,0,0,Linear,";
    ck_assert_msg(strncmp(text, head, strlen(head)) == 0, "%s", text);
    free(text);
    ck_assert_int_eq(mn_coordcheck_write_csv(r, NULL), MN_ERR_ARG);
    ck_assert_int_eq(mn_coordcheck_save_csv(r, NULL), MN_ERR_ARG);
    mn_coordcheck_free(r);
    free(d.x);
    free(d.y);
}
END_TEST

int main(void)
{
    /* As the CLI does (and did when it made the fixtures): subnormals are
     * flushed to zero on this thread and the threads it starts. */
    if (mn_flush_denormals(true) != MN_OK)
        fprintf(stderr, "note: no FTZ/DAZ on this CPU: %s\n", mn_last_error());
    Suite *s = suite_create("coordcheck");
    TCase *tc = tcase_create("coordcheck");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixture_muon);
    tcase_add_test(tc, test_fixture_adam);
    tcase_add_test(tc, test_bf16_products);
    tcase_add_test(tc, test_residual_against_loop);
    tcase_add_test(tc, test_token_model);
    tcase_add_test(tc, test_judgement);
    tcase_add_test(tc, test_arguments);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
