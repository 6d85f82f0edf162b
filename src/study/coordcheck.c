/* The coordinate check (modnorm/coordcheck.h): train each value's network on
 * one fixed batch, record every leaf module's output statistics and every
 * atom's update norm per step, and judge flatness across values. Module
 * outputs are read through mn_network_visit only. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "modnorm/coordcheck.h"
#include "modnorm/network.h"
#include "modnorm/norm.h"
#include "modnorm/optim.h"
#include "modnorm/polar.h"
#include "modules/loss.h"

#define NQ ((int)MN_COORD_N_QUANTITIES)

static const char *q_names[NQ] = {"mean_abs", "rel_change", "change_rms", "update"};

const char *mn_coord_quantity_name(mn_coord_quantity q)
{
    return (int)q >= 0 && (int)q < NQ ? q_names[q] : NULL;
}

void mn_coordcheck_defaults(mn_coordcheck_config *cfg)
{
    if (!cfg)
        return;
    *cfg = (mn_coordcheck_config){.size_param = "width", .opt = "muon",
                                  .param = MN_PARAM_MODULAR, .lr = NAN, .steps = 5,
                                  .batch = 128, .seed = 0, .method = MN_COORDCHECK_DEFAULT_METHOD,
                                  .tolerance = MN_COORDCHECK_DEFAULT_TOLERANCE, .threads = 1};
}

/* Record (v, t, m, q); the caller has checked the indices. */
static double *cell(const mn_coordcheck_result *r, int v, int t, int m, int q)
{
    return &r->data[(((size_t)v * (size_t)(r->steps + 1) + (size_t)t) * (size_t)r->n_modules +
                     (size_t)m) * NQ + (size_t)q];
}

double mn_coordcheck_value(const mn_coordcheck_result *r, int v, int t, int m,
                           mn_coord_quantity q)
{
    if (!r || !r->data || v < 0 || v >= r->n_values || t < 0 || t > r->steps || m < 0 ||
        m >= r->n_modules || (int)q < 0 || (int)q >= NQ)
        return NAN;
    return *cell(r, v, t, m, q);
}

void mn_coordcheck_free(mn_coordcheck_result *r)
{
    if (!r)
        return;
    for (int m = 0; r->kinds && m < r->n_modules; m++)
        free(r->kinds[m]);
    free(r->kinds);
    free(r->is_atom);
    free(r->size_param);
    free(r->values);
    free(r->data);
    free(r->verdicts);
    free(r);
}

/* ---- the leaves of a network, through the public visitor ---------------- */

typedef struct leaves {
    int n;                  /* leaves counted */
    const mn_module **mod;  /* when not NULL: filled, n entries */
    int *atom;              /* per leaf: its atom index or -1 */
} leaves;

static mn_status leaf_visit(void *ctx, const mn_module_visit *v)
{
    leaves *l = ctx;
    if (mn_module_child_count(v->module) == 0) {
        if (l->mod) {
            l->mod[l->n] = v->module;
            l->atom[l->n] = v->atom;
        }
        l->n++;
    }
    return MN_OK;
}

static mn_status collect_leaves(const mn_network *net, leaves *l)
{
    *l = (leaves){0};
    MN_TRY(mn_network_visit(net, leaf_visit, l));
    int n = l->n;
    l->mod = malloc((size_t)(n > 0 ? n : 1) * sizeof *l->mod);
    l->atom = malloc((size_t)(n > 0 ? n : 1) * sizeof *l->atom);
    if (!l->mod || !l->atom)
        return mn_fail(MN_ERR_NOMEM, "coordcheck: out of memory for %d modules", n);
    l->n = 0;
    return mn_network_visit(net, leaf_visit, l);
}

/* ---- per-step records of the leaves' outputs ----------------------------- */

typedef struct recorder {
    mn_coordcheck_result *r;
    int v, t, leaf;
    float **h0; /* per leaf: its output at step 0 */
} recorder;

static mn_status record_visit(void *ctx, const mn_module_visit *v)
{
    recorder *rec = ctx;
    if (mn_module_child_count(v->module) != 0)
        return MN_OK;
    int m = rec->leaf++;
    const mn_tensor *h = v->n_outputs == 1 ? v->outputs[0] : NULL;
    if (!h || !mn_tensor_is_contiguous(h))
        return mn_fail(MN_ERR_UNSUPPORTED, "module %d (%s) has no single contiguous output", m,
                       mn_module_kind(v->module));
    int64_t n = mn_tensor_numel(h);
    if (rec->t == 0) {
        free(rec->h0[m]);
        rec->h0[m] = malloc((size_t)(n > 0 ? n : 1) * sizeof **rec->h0);
        if (!rec->h0[m])
            return mn_fail(MN_ERR_NOMEM, "coordcheck: out of memory for module %d's output", m);
        memcpy(rec->h0[m], h->data, (size_t)n * sizeof **rec->h0);
    }
    double sa = 0, s0 = 0, sd = 0;
    int64_t used = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = h->data[i], x0 = rec->h0[m][i];
        if (isinf(x) && x == x0) /* a fixed ±∞ (a causal mask's): no coordinate to follow */
            continue;
        used++;
        sa += fabs(x);
        s0 += x0 * x0;
        sd += (x - x0) * (x - x0);
    }
    *cell(rec->r, rec->v, rec->t, m, MN_COORD_MEAN_ABS) = used > 0 ? sa / (double)used : 0;
    *cell(rec->r, rec->v, rec->t, m, MN_COORD_REL_CHANGE) =
        s0 > 0 ? sqrt(sd / s0) : (sd > 0 ? INFINITY : 0);
    *cell(rec->r, rec->v, rec->t, m, MN_COORD_CHANGE_RMS) =
        used > 0 ? sqrt(sd / (double)used) : 0;
    return MN_OK;
}

/* ---- one value ----------------------------------------------------------- */

typedef struct setup {
    mn_model_factory factory;
    void *factory_ctx;
    const mn_dataset *data;
    const mn_coordcheck_config *cfg;
    mn_solver_config solver; /* preset, rate, schedule and polar method resolved */
    const mn_norm *rms;
} setup;

/* Value v's leaves (n, kind of module m) differ from value v0's (n0, kind0):
 * no "coordcheck: " prefix, since the CLI prefixes the command's name. */
static mn_status modules_differ(const char *p, int64_t v, int n, int64_t v0, int n0, int m,
                                const char *kind, const char *kind0)
{
    if (n != n0)
        return mn_fail(MN_ERR_SHAPE, "%s %lld gives %d leaf modules, %s %lld gave %d: a "
                       "coordinate check compares the same modules across values", p,
                       (long long)v, n, p, (long long)v0, n0);
    return mn_fail(MN_ERR_SHAPE, "module %d is %s at %s %lld but %s at %s %lld: a coordinate "
                   "check compares the same modules across values", m, kind, p, (long long)v,
                   kind0, p, (long long)v0);
}

/* The first value fixes the leaves every other value must have. */
static mn_status adopt_leaves(mn_coordcheck_result *r, int vi, const leaves *l)
{
    if (vi > 0) {
        if (l->n != r->n_modules)
            return modules_differ(r->size_param, r->values[vi], l->n, r->values[0],
                                  r->n_modules, 0, NULL, NULL);
        for (int m = 0; m < l->n; m++)
            if (strcmp(mn_module_kind(l->mod[m]), r->kinds[m]) != 0)
                return modules_differ(r->size_param, r->values[vi], l->n, r->values[0],
                                      r->n_modules, m, mn_module_kind(l->mod[m]), r->kinds[m]);
        return MN_OK;
    }
    size_t per_step = (size_t)(l->n > 0 ? l->n : 1) * NQ;
    size_t steps = (size_t)r->steps + 1, nv = (size_t)r->n_values;
    if (steps > SIZE_MAX / sizeof(double) / per_step / nv)
        return mn_fail(MN_ERR_NOMEM, "coordcheck: %d values x %zu steps x %d modules is too "
                       "many records", r->n_values, steps, l->n);
    size_t cells = nv * steps * per_step, nm = (size_t)(l->n > 0 ? l->n : 1);
    r->n_modules = l->n;
    r->kinds = calloc(nm, sizeof *r->kinds);
    r->is_atom = calloc(nm, sizeof *r->is_atom);
    r->verdicts = calloc(per_step, sizeof *r->verdicts);
    r->data = malloc(cells * sizeof *r->data);
    if (!r->kinds || !r->is_atom || !r->verdicts || !r->data)
        return mn_fail(MN_ERR_NOMEM, "coordcheck: out of memory for %zu records", cells);
    for (size_t i = 0; i < cells; i++)
        r->data[i] = NAN;
    for (int m = 0; m < l->n; m++) {
        r->kinds[m] = strdup(mn_module_kind(l->mod[m]));
        if (!r->kinds[m])
            return mn_fail(MN_ERR_NOMEM, "coordcheck: out of memory");
        r->is_atom[m] = l->atom[m] >= 0;
    }
    return MN_OK;
}

/* The factory's model for one value; its failures name the value. */
static mn_status make_model(mn_model_factory factory, void *ctx, const char *param,
                            int64_t value, mn_module **root)
{
    *root = NULL;
    mn_clear_error();
    mn_status st = factory(ctx, param, value, root);
    if (st != MN_OK && !*mn_last_error())
        mn_fail(st, "coordcheck: the model factory failed for %s %lld: %s", param,
                (long long)value, mn_status_str(st));
    if (st == MN_OK && !*root)
        st = mn_fail(MN_ERR_ARG, "coordcheck: the model factory gave no module for %s %lld",
                     param, (long long)value);
    return st;
}

/* Train value vi's network on the fixed batch and fill its records. */
static mn_status run_value(const setup *s, mn_coordcheck_result *r, int vi)
{
    const mn_coordcheck_config *cfg = s->cfg;
    mn_module *root = NULL;
    mn_network *net = NULL;
    mn_solver *solver = NULL;
    mn_tensor *x = NULL, *dy = NULL;
    float *before = NULL, *delta = NULL;
    int *atom_leaf = NULL;
    leaves l = {0};
    recorder rec = {.r = r, .v = vi};
    mn_status st = make_model(s->factory, s->factory_ctx, r->size_param, r->values[vi], &root);
    if (st == MN_OK)
        st = mn_network_create(&net, root, cfg->param, cfg->seed);
    if (st == MN_OK) {
        mn_network_set_threads(net, cfg->threads);
        st = mn_network_set_precision(net, cfg->net_precision);
        if (st == MN_OK)
            st = mn_solver_create(&solver, net, &s->solver);
    }
    if (st == MN_OK)
        st = collect_leaves(net, &l);
    if (st == MN_OK)
        st = adopt_leaves(r, vi, &l);
    int64_t np = net ? mn_network_param_count(net) : 0;
    int n_atoms = net ? mn_network_atom_count(net) : 0;
    if (st == MN_OK) {
        before = malloc((size_t)(np > 0 ? np : 1) * sizeof *before);
        delta = malloc((size_t)(np > 0 ? np : 1) * sizeof *delta);
        rec.h0 = calloc((size_t)(l.n > 0 ? l.n : 1), sizeof *rec.h0);
        atom_leaf = calloc((size_t)(n_atoms > 0 ? n_atoms : 1), sizeof *atom_leaf);
        if (!before || !delta || !rec.h0 || !atom_leaf)
            st = mn_fail(MN_ERR_NOMEM, "coordcheck: out of memory for %lld parameters",
                         (long long)np);
    }
    /* Every atom is a leaf: the leaf index of atom k. */
    for (int m = 0; st == MN_OK && m < l.n; m++)
        if (l.atom[m] >= 0)
            atom_leaf[l.atom[m]] = m;
    if (st == MN_OK)
        st = mn_tensor_wrap(&x, s->data->x, 2, (int64_t[]){cfg->batch, s->data->dim});

    for (int t = 0; st == MN_OK && t <= cfg->steps; t++) {
        const mn_tensor *y;
        st = mn_network_forward(net, x, &y);
        if (st == MN_OK) {
            rec.t = t;
            rec.leaf = 0;
            st = mn_network_visit(net, record_visit, &rec);
        }
        if (st != MN_OK || t == cfg->steps)
            break;
        /* One row of logits per label of the batch, as mn_fit checks: the
         * loss reads a label per row, and more rows than the batch's labels
         * (an output (B, C, H, W)) read other examples' labels, then past
         * the dataset's end. */
        int64_t rows = cfg->batch * mn_dataset_labels_per_row(s->data),
                C = y->ndim >= 2 ? y->shape[y->ndim - 1] : 0;
        if (y->ndim < 2 || C < 1 || mn_tensor_numel(y) != rows * C)
            st = mn_fail(MN_ERR_SHAPE, "mn_coordcheck_run: the network's output has %lld "
                         "elements in %d dims; the labels need %lld rows of logits",
                         (long long)mn_tensor_numel(y), y->ndim, (long long)rows);
        if (st == MN_OK && !dy)
            st = mn_tensor_create(&dy, y->ndim, y->shape);
        double loss;
        if (st == MN_OK)
            st = mn_loss_cross_entropy_threads(y, s->data->y, &loss, dy, NULL,
                                               mn_network_threads(net));
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
                mn_mat view = mn_network_atom_view(net, k, delta);
                double v;
                st = mn_norm_value(s->rms, &view, &v);
                if (st == MN_OK)
                    *cell(r, vi, t + 1, atom_leaf[k], MN_COORD_UPDATE) = v;
            }
        }
    }
    for (int m = 0; rec.h0 && m < l.n; m++)
        free(rec.h0[m]);
    free(rec.h0);
    free(l.mod);
    free(l.atom);
    free(atom_leaf);
    free(before);
    free(delta);
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    return st;
}

/* ---- the judgement -------------------------------------------------------- */

/* The worst ratio per 4x of the parameter between any two values at step t:
 * max over pairs of (v_j/v_i)^(1/log4(w_j/w_i)), symmetric. */
static double ratio_per_4x(const mn_coordcheck_result *r, int t, int m, int q)
{
    double worst = 1;
    for (int i = 0; i < r->n_values; i++)
        for (int j = i + 1; j < r->n_values; j++) {
            double a = *cell(r, i, t, m, q), b = *cell(r, j, t, m, q);
            if (isnan(a) || isnan(b))
                continue;
            if (a == 0 && b == 0)
                continue;
            if (!(a > 0) || !(b > 0) || isinf(a) || isinf(b))
                return INFINITY;
            double octaves4 = log((double)r->values[j] / (double)r->values[i]) / log(4.0);
            worst = fmax(worst, exp(fabs(log(b / a)) / octaves4));
        }
    return worst;
}

mn_status mn_coordcheck_judge(mn_coordcheck_result *r, double tolerance)
{
    if (!r || !r->data || !r->verdicts)
        return mn_fail(MN_ERR_ARG, "coordcheck_judge: %s", r ? "the result has no records"
                                                              : "the result is NULL");
    if (!(tolerance >= 1) || !isfinite(tolerance))
        return mn_fail(MN_ERR_ARG, "coordcheck_judge: tolerance %g must be finite and >= 1",
                       tolerance);
    r->tolerance = tolerance;
    for (int q = 0; q < NQ; q++) {
        r->flat[q] = true;
        r->worst_module[q] = -1;
        for (int m = 0; m < r->n_modules; m++) {
            mn_coord_verdict *vd = &r->verdicts[m * NQ + q];
            *vd = (mn_coord_verdict){
                .judged = q != MN_COORD_MEAN_ABS && (q != MN_COORD_UPDATE || r->is_atom[m]),
                .worst = 1, .worst_step = 1};
            for (int t = 1; t <= r->steps; t++) {
                double x = ratio_per_4x(r, t, m, q);
                if (x > vd->worst) {
                    vd->worst = x;
                    vd->worst_step = t;
                }
            }
            vd->flat = !vd->judged || vd->worst <= tolerance * (1 + 1e-12);
            if (!vd->judged)
                continue;
            r->flat[q] = r->flat[q] && vd->flat;
            int w = r->worst_module[q];
            if (w < 0 || vd->worst > r->verdicts[w * NQ + q].worst)
                r->worst_module[q] = m;
        }
    }
    return MN_OK;
}

/* ---- the run -------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static bool is_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* The leaves of a module tree in forward order: counted when out is NULL. */
static void tree_leaves(const mn_module *m, const mn_module **out, int *n)
{
    int c = mn_module_child_count(m);
    if (c == 0) {
        if (out)
            out[*n] = m;
        (*n)++;
    }
    for (int i = 0; i < c; i++)
        tree_leaves(mn_module_child(m, i), out, n);
}

static mn_status tree_leaf_list(const mn_module *m, const mn_module ***out, int *n)
{
    *n = 0;
    tree_leaves(m, NULL, n);
    *out = malloc((size_t)(*n > 0 ? *n : 1) * sizeof **out);
    if (!*out)
        return mn_fail(MN_ERR_NOMEM, "coordcheck: out of memory for %d modules", *n);
    *n = 0;
    tree_leaves(m, *out, n);
    return MN_OK;
}

mn_status mn_coordcheck_check_values(mn_model_factory factory, void *factory_ctx,
                                     const char *size_param, const int64_t *values, int n_values)
{
    if (!factory || !values || n_values < 1)
        return mn_fail(MN_ERR_ARG, "coordcheck: %s", !factory ? "the factory is NULL"
                       : "needs at least one value");
    const char *p = size_param ? size_param : "width";
    for (int i = 0; i < n_values; i++)
        for (int j = 0; j < i; j++)
            if (values[i] == values[j])
                return mn_fail(MN_ERR_ARG, "%s %lld is listed twice", p, (long long)values[i]);
    /* the first value's leaves, then every other value's against them */
    mn_module *first = NULL, *root = NULL;
    const mn_module **l0 = NULL, **l = NULL;
    int n0 = 0, n = 0;
    mn_status st = make_model(factory, factory_ctx, p, values[0], &first);
    if (st == MN_OK)
        st = tree_leaf_list(first, &l0, &n0);
    for (int i = 1; st == MN_OK && i < n_values; i++) {
        st = make_model(factory, factory_ctx, p, values[i], &root);
        if (st == MN_OK)
            st = tree_leaf_list(root, &l, &n);
        if (st == MN_OK && n != n0)
            st = modules_differ(p, values[i], n, values[0], n0, 0, NULL, NULL);
        for (int m = 0; st == MN_OK && m < n; m++)
            if (strcmp(mn_module_kind(l[m]), mn_module_kind(l0[m])) != 0)
                st = modules_differ(p, values[i], n, values[0], n0, m, mn_module_kind(l[m]),
                                    mn_module_kind(l0[m]));
        free(l);
        l = NULL;
        mn_module_destroy(root);
        root = NULL;
    }
    free(l0);
    mn_module_destroy(first);
    return st;
}

static mn_status check_args(mn_model_factory factory, const int64_t *values, int n_values,
                            const mn_dataset *data, const mn_coordcheck_config *cfg,
                            mn_coordcheck_result **out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "coordcheck: out is NULL");
    *out = NULL;
    if (!factory || !cfg)
        return mn_fail(MN_ERR_ARG, "coordcheck: %s is NULL", factory ? "cfg" : "the factory");
    if (n_values < 1 || !values)
        return mn_fail(MN_ERR_ARG, "coordcheck: needs at least one value (got %d%s)", n_values,
                       values ? "" : ", values NULL");
    for (int i = 0; i < n_values; i++)
        if (values[i] < 1)
            return mn_fail(MN_ERR_ARG, "coordcheck: value %d is %lld; values must be positive",
                           i, (long long)values[i]);
    if (!data || !data->x || !data->y || data->n < 1 || data->dim < 1)
        return mn_fail(MN_ERR_ARG, "coordcheck: the dataset is %s", data ? "empty" : "NULL");
    if (cfg->size_param && !is_name(cfg->size_param))
        return mn_fail(MN_ERR_ARG, "coordcheck: size_param '%s' must be 1 to 64 letters, digits, "
                       "'_' or '-'", cfg->size_param);
    if (cfg->param != MN_PARAM_MODULAR && cfg->param != MN_PARAM_SP)
        return mn_fail(MN_ERR_ARG, "coordcheck: param %d is neither modular nor sp",
                       (int)cfg->param);
    if (!isnan(cfg->lr) && !(cfg->lr >= 0 && isfinite(cfg->lr)))
        return mn_fail(MN_ERR_ARG, "coordcheck: lr %g must be finite and >= 0 (NAN: the "
                       "preset's)", cfg->lr);
    if (cfg->steps < 1 || cfg->steps == INT_MAX)
        return mn_fail(MN_ERR_ARG, "coordcheck: steps %d must be >= 1", cfg->steps);
    if (cfg->batch < 1 || cfg->batch > data->n)
        return mn_fail(MN_ERR_ARG, "coordcheck: batch %lld must be in [1, %lld], the dataset's "
                       "examples", (long long)cfg->batch, (long long)data->n);
    if (!(cfg->tolerance >= 1) || !isfinite(cfg->tolerance))
        return mn_fail(MN_ERR_ARG, "coordcheck: tolerance %g must be finite and >= 1",
                       cfg->tolerance);
    if (!mn_precision_name(cfg->polar_precision))
        return mn_fail(MN_ERR_ARG, "coordcheck: polar_precision %d is neither fp32 nor bf16",
                       (int)cfg->polar_precision);
    if (!mn_precision_name(cfg->net_precision))
        return mn_fail(MN_ERR_ARG, "coordcheck: net_precision %d is neither fp32 nor bf16",
                       (int)cfg->net_precision);
    return MN_OK;
}

mn_status mn_coordcheck_run(mn_model_factory factory, void *factory_ctx,
                            const int64_t *values, int n_values, const mn_dataset *data,
                            const mn_coordcheck_config *cfg, mn_coordcheck_result **out)
{
    MN_TRY(check_args(factory, values, n_values, data, cfg, out));
    setup s = {.factory = factory, .factory_ctx = factory_ctx, .data = data, .cfg = cfg};
    MN_TRY(mn_solver_preset(&s.solver, cfg->opt ? cfg->opt : "muon", cfg->param));
    if (!isnan(cfg->lr))
        s.solver.lr = cfg->lr;
    s.solver.schedule = MN_SCHEDULE_CONSTANT;
    s.solver.total_steps = cfg->steps;
    s.solver.polar.threads = cfg->threads;
    s.solver.polar.precision = cfg->polar_precision;
    MN_TRY(mn_polar_lookup(cfg->method ? cfg->method : MN_COORDCHECK_DEFAULT_METHOD,
                           &s.solver.polar.method));
    MN_TRY(mn_norm_lookup("rms-rms", &s.rms));

    mn_coordcheck_result *r = calloc(1, sizeof *r);
    if (!r)
        return mn_fail(MN_ERR_NOMEM, "coordcheck: out of memory");
    r->n_values = n_values;
    r->steps = cfg->steps;
    r->lr = s.solver.lr;
    r->size_param = strdup(cfg->size_param ? cfg->size_param : "width");
    r->values = malloc((size_t)n_values * sizeof *r->values);
    mn_status st = MN_OK;
    if (!r->size_param || !r->values)
        st = mn_fail(MN_ERR_NOMEM, "coordcheck: out of memory for %d values", n_values);
    if (st == MN_OK) {
        memcpy(r->values, values, (size_t)n_values * sizeof *values);
        qsort(r->values, (size_t)n_values, sizeof *r->values, cmp_i64);
        /* every value's modules before training any (depth failed after one) */
        st = mn_coordcheck_check_values(factory, factory_ctx, r->size_param, r->values,
                                        n_values);
    }
    for (int vi = 0; st == MN_OK && vi < n_values; vi++) {
        if (cfg->progress)
            cfg->progress(cfg->progress_ctx, vi, r->values[vi]);
        st = run_value(&s, r, vi);
    }
    if (st == MN_OK)
        st = mn_coordcheck_judge(r, cfg->tolerance);
    if (st != MN_OK) {
        mn_coordcheck_free(r);
        return st;
    }
    *out = r;
    return MN_OK;
}

/* ---- CSV ------------------------------------------------------------------ */

mn_status mn_coordcheck_write_csv(const mn_coordcheck_result *r, FILE *f)
{
    if (!r || !f || !r->data)
        return mn_fail(MN_ERR_ARG, "coordcheck_write_csv: %s", !f ? "the stream is NULL"
                       : r ? "the result has no records" : "the result is NULL");
    fprintf(f, "%s,step,module,kind", r->size_param);
    for (int q = 0; q < NQ; q++)
        fprintf(f, ",%s", q_names[q]);
    fputc('\n', f);
    for (int v = 0; v < r->n_values; v++)
        for (int t = 0; t <= r->steps; t++)
            for (int m = 0; m < r->n_modules; m++) {
                fprintf(f, "%lld,%d,%d,%s", (long long)r->values[v], t, m, r->kinds[m]);
                for (int q = 0; q < NQ; q++) {
                    double x = *cell(r, v, t, m, q);
                    if (isnan(x))
                        fputs(",", f);
                    else
                        fprintf(f, ",%.17g", x);
                }
                fputc('\n', f);
            }
    if (ferror(f))
        return mn_fail(MN_ERR_IO, "coordcheck_write_csv: writing failed: %s", strerror(errno));
    return MN_OK;
}

mn_status mn_coordcheck_save_csv(const mn_coordcheck_result *r, const char *path)
{
    if (!path)
        return mn_fail(MN_ERR_ARG, "coordcheck_save_csv: path is NULL");
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (!tmp)
        return mn_fail(MN_ERR_NOMEM, "coordcheck_save_csv: out of memory");
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        mn_status st = mn_fail(MN_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    mn_status st = mn_coordcheck_write_csv(r, f);
    int err = errno;
    if (fclose(f) != 0 && st != MN_ERR_ARG) {
        err = errno;
        st = MN_ERR_IO;
    }
    if (st == MN_ERR_IO)
        st = mn_fail(MN_ERR_IO, "cannot write %s: %s", tmp, strerror(err));
    if (st == MN_OK && rename(tmp, path) != 0)
        st = mn_fail(MN_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    if (st != MN_OK)
        remove(tmp);
    free(tmp);
    return st;
}
