/* The steepest-descent solver and the AdamW baseline (see optim.h). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "modnorm/modular.h"
#include "modnorm/optim.h"
#include "modules/module.h"
#include "optim/atom_plan.h"
#include "optim/solver_internal.h"


static const struct {
    const char *name;
    mn_solver_kind kind;
    const char *norm;
    mn_step_kind step;
    double lr_modular, lr_sp, momentum;
} presets[] = {
    {"muon", MN_SOLVER_STEEPEST, NULL, MN_STEP_NORMALIZED, 0.1, 0.02, 0.9},
    {"sgd", MN_SOLVER_STEEPEST, "frobenius", MN_STEP_SHARP, 1.0, 0.05, 0.9},
    {"sign", MN_SOLVER_STEEPEST, "l1-linf", MN_STEP_NORMALIZED, 0.002, 0.0005, 0.9},
    {"adam", MN_SOLVER_ADAMW, NULL, MN_STEP_NORMALIZED, 0.001, 0.001, 0.9},
    {"adamw", MN_SOLVER_ADAMW, NULL, MN_STEP_NORMALIZED, 0.001, 0.001, 0.9},
};

#define N_PRESETS (sizeof presets / sizeof presets[0])

const char *mn_solver_preset_names(void) { return "muon, sgd, sign, adam (alias adamw)"; }

mn_status mn_solver_preset(mn_solver_config *cfg, const char *name, mn_param param)
{
    if (!cfg || !name)
        return mn_fail(MN_ERR_ARG, "mn_solver_preset: NULL argument");
    if (param != MN_PARAM_MODULAR && param != MN_PARAM_SP)
        return mn_fail(MN_ERR_ARG, "mn_solver_preset: param %d is neither modular (%d) nor sp "
                       "(%d)", (int)param, (int)MN_PARAM_MODULAR, (int)MN_PARAM_SP);
    for (size_t i = 0; i < N_PRESETS; i++)
        if (strcmp(name, presets[i].name) == 0) {
            *cfg = (mn_solver_config){
                .kind = presets[i].kind,
                .lr = param == MN_PARAM_SP ? presets[i].lr_sp : presets[i].lr_modular,
                .momentum = presets[i].momentum,
                .beta2 = 0.999,
                .eps = 1e-8,
                .step = presets[i].step,
                .norm = presets[i].norm,
                .modular_targets = param == MN_PARAM_MODULAR,
                .schedule = MN_SCHEDULE_LINEAR,
            };
            return MN_OK;
        }
    return mn_fail(MN_ERR_ARG, "unknown optimizer '%s'; known: %s", name,
                   mn_solver_preset_names());
}

/* The config is checked field by field in the order mn_solver_config
 * declares them (optim.h), so that of two mistakes the first one a reader
 * meets is reported: a bad cfg.norm is not hidden behind the total_steps a
 * preset leaves for the caller to set. Enums from a caller's struct can hold
 * anything: a kind, step or schedule outside them would run as another
 * (steepest, normalized, constant). *shared gets cfg.norm's norm (NULL for
 * none); the norm must take every atom's shape (steepest descent puts it on
 * each), checked here rather than at the first step. */
static mn_status check_config(const mn_solver_config *c, const mn_network *net,
                              const mn_norm **shared)
{
    *shared = NULL;
    if (c->kind != MN_SOLVER_STEEPEST && c->kind != MN_SOLVER_ADAMW)
        return mn_fail(MN_ERR_ARG, "solver: kind %d is neither steepest (%d) nor adamw (%d)",
                       (int)c->kind, (int)MN_SOLVER_STEEPEST, (int)MN_SOLVER_ADAMW);
    if (!(c->lr >= 0) || !isfinite(c->lr))
        return mn_fail(MN_ERR_ARG, "solver: lr %g must be finite and >= 0", c->lr);
    if (!(c->momentum >= 0 && c->momentum < 1))
        return mn_fail(MN_ERR_ARG, "solver: momentum %g must be in [0, 1)", c->momentum);
    if (c->kind == MN_SOLVER_ADAMW && !(c->beta2 >= 0 && c->beta2 < 1 && c->eps > 0))
        return mn_fail(MN_ERR_ARG, "solver: AdamW needs beta2 in [0, 1) and eps > 0");
    if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
        return mn_fail(MN_ERR_ARG, "solver: weight decay %g must be finite and >= 0",
                       c->weight_decay);
    if (c->step != MN_STEP_NORMALIZED && c->step != MN_STEP_SHARP)
        return mn_fail(MN_ERR_ARG, "solver: step %d is neither normalized (%d) nor sharp (%d)",
                       (int)c->step, (int)MN_STEP_NORMALIZED, (int)MN_STEP_SHARP);
    if (c->norm)
        MN_TRY(mn_norm_lookup(c->norm, shared));
    for (int k = 0; *shared && c->kind == MN_SOLVER_STEEPEST && k < mn_network_atom_count(net);
         k++) {
        char who[64];
        snprintf(who, sizeof who, "mn_solver_create: atom %d: cfg.norm ", k);
        MN_TRY(mn_module_check_norm(mn_network_atom(net, k), *shared, who, c->norm));
    }
    if (c->schedule != MN_SCHEDULE_LINEAR && c->schedule != MN_SCHEDULE_CONSTANT &&
        c->schedule != MN_SCHEDULE_COSINE)
        return mn_fail(MN_ERR_ARG, "solver: schedule %d is not linear (%d), constant (%d) or "
                       "cosine (%d)", (int)c->schedule, (int)MN_SCHEDULE_LINEAR,
                       (int)MN_SCHEDULE_CONSTANT, (int)MN_SCHEDULE_COSINE);
    if (c->warmup < 0)
        return mn_fail(MN_ERR_ARG, "solver: warmup %lld is negative", (long long)c->warmup);
    if (c->schedule != MN_SCHEDULE_CONSTANT && c->total_steps < 1)
        return mn_fail(MN_ERR_ARG, "solver: the %s schedule decays over total_steps, which is "
                       "%lld and must be >= 1 (the presets leave it 0): set cfg.total_steps, or "
                       "cfg.schedule = MN_SCHEDULE_CONSTANT",
                       c->schedule == MN_SCHEDULE_LINEAR ? "linear" : "cosine",
                       (long long)c->total_steps);
    if (c->polar.steps < 0 || c->polar.steps > MN_POLAR_MAX_STEPS)
        return mn_fail(MN_ERR_ARG, "solver: polar.steps = %d must be in [0, %d] (0: the "
                       "method's default)", c->polar.steps, MN_POLAR_MAX_STEPS);
    if (c->polar.form != MN_POLAR_AUTO && c->polar.form != MN_POLAR_DIRECT &&
        c->polar.form != MN_POLAR_GRAM)
        return mn_fail(MN_ERR_ARG, "solver: polar.form %d is not auto, direct or gram",
                       (int)c->polar.form);
    if (!mn_precision_name(c->polar.precision))
        return mn_fail(MN_ERR_ARG, "solver: polar.precision %d is neither fp32 nor bf16",
                       (int)c->polar.precision);
    return MN_OK;
}

void mn_solver_destroy(mn_solver *s)
{
    if (!s)
        return;
    free(s->targets);
    free(s->norms);
    free(s->scales);
    mn_atom_plan_free(&s->plan);
    free(s->m);
    free(s->v);
    free(s->dir);
    mn_shard_free(s->shard);
    free(s);
}

/* Each atom's dualization work, k²·N multiply-adds for a k x N matrix
 * (k <= N: one Gram product of its polar iteration), and from it the plan. */
static mn_status plan_atoms(mn_solver *s, const mn_network *net)
{
    double *work = malloc((size_t)(s->n_atoms > 0 ? s->n_atoms : 1) * sizeof *work);
    if (!work)
        return mn_fail(MN_ERR_NOMEM, "mn_solver_create: out of memory");
    for (int k = 0; k < s->n_atoms; k++) {
        mn_mat v = mn_network_atom_view(net, k, s->dir);
        double r = (double)v.rows, c = (double)v.cols;
        work[k] = r < c ? r * r * c : c * c * r;
    }
    int threads = s->cfg.serial_atoms ? 1 : mn_threads_resolve(s->cfg.polar.threads);
    mn_status st = mn_atom_plan_make(&s->plan, work, s->n_atoms, threads);
    free(work);
    return st;
}

/* Targets and norms as the network has them now (its masses and atom
 * norms); read again whenever mn_network_revision moves. */
static mn_status read_network(mn_solver *s, const mn_network *net)
{
    MN_TRY(mn_solver_targets_for(&s->cfg, mn_network_root(net), s->targets));
    for (int k = 0; k < s->n_atoms; k++)
        s->norms[k] = s->shared ? s->shared : mn_module_norm(mn_network_atom(net, k));
    s->read_from = net;
    s->revision = mn_network_revision(net);
    return MN_OK;
}

mn_status mn_solver_create(mn_solver **out, const mn_network *net, const mn_solver_config *cfg)
{
    if (!out || !net || !cfg)
        return mn_fail(MN_ERR_ARG, "mn_solver_create: NULL argument");
    *out = NULL;
    const mn_norm *shared;
    MN_TRY(check_config(cfg, net, &shared));
    mn_solver *s = calloc(1, sizeof *s);
    if (!s)
        return mn_fail(MN_ERR_NOMEM, "mn_solver_create: out of memory");
    s->cfg = *cfg;
    s->shared = shared;
    s->n = mn_network_param_count(net);
    s->n_atoms = mn_network_atom_count(net);
    size_t na = s->n_atoms > 0 ? (size_t)s->n_atoms : 1, np = s->n > 0 ? (size_t)s->n : 1;
    s->targets = calloc(na, sizeof *s->targets);
    s->norms = calloc(na, sizeof *s->norms);
    s->scales = calloc(na, sizeof *s->scales);
    s->m = calloc(np, sizeof(float));
    s->dir = calloc(np, sizeof(float));
    s->v = cfg->kind == MN_SOLVER_ADAMW ? calloc(np, sizeof(float)) : NULL;
    mn_status st = MN_OK;
    if (!s->targets || !s->norms || !s->scales || !s->m || !s->dir ||
        (cfg->kind == MN_SOLVER_ADAMW && !s->v))
        st = mn_fail(MN_ERR_NOMEM, "mn_solver_create: cannot allocate state for %lld parameters",
                     (long long)s->n);
    if (st == MN_OK)
        st = read_network(s, net);
    s->cfg.norm = NULL; /* the caller's string need not outlive the solver */
    if (st == MN_OK)
        st = plan_atoms(s, net);
    if (st != MN_OK) {
        mn_solver_destroy(s);
        return st;
    }
    *out = s;
    return MN_OK;
}

double mn_solver_lr_at(const mn_solver *s, int64_t step)
{
    /* no step before the first: the warmup's (step + 1)/warmup would give
     * 0 or a negative rate, and the decay one above the peak */
    if (!s || step < 0) {
        mn_fail(MN_ERR_ARG, "mn_solver_lr_at: %s", !s ? "s is NULL" : "step < 0");
        return NAN;
    }
    const mn_solver_config *c = &s->cfg;
    double f = 1.0;
    if (c->warmup > 0 && step < c->warmup)
        f = (double)(step + 1) / (double)c->warmup;
    double T = (double)c->total_steps, t = (double)step;
    if (c->schedule == MN_SCHEDULE_LINEAR)
        f *= fmax(0.0, 1.0 - t / T);
    else if (c->schedule == MN_SCHEDULE_COSINE)
        f *= 0.5 * (1.0 + cos(M_PI * fmin(t, T) / T));
    return c->lr * f;
}

int64_t mn_solver_steps_taken(const mn_solver *s) { return s ? s->steps : 0; }

float *mn_solver_momentum(mn_solver *s) { return s ? s->m : NULL; }

float *mn_solver_second_moment(mn_solver *s) { return s ? s->v : NULL; }

mn_status mn_solver_set_steps_taken(mn_solver *s, int64_t steps)
{
    if (!s || steps < 0)
        return mn_fail(MN_ERR_ARG, "mn_solver_set_steps_taken: %s", s ? "steps < 0"
                                                                       : "the solver is NULL");
    s->steps = steps;
    return MN_OK;
}

const double *mn_solver_targets(const mn_solver *s) { return s ? s->targets : NULL; }

mn_status mn_solver_targets_for(const mn_solver_config *cfg, const mn_module *root,
                                double *targets)
{
    if (!cfg || !root || !targets)
        return mn_fail(MN_ERR_ARG, "mn_solver_targets_for: %s is NULL",
                       !cfg ? "cfg" : !root ? "root" : "targets");
    if (cfg->modular_targets)
        return mn_modular_tree_targets(root, 1.0, targets);
    for (int k = 0, n = mn_module_atom_count(root); k < n; k++)
        targets[k] = 1.0;
    return MN_OK;
}

int mn_solver_atoms_side_by_side(const mn_solver *s)
{
    return s ? s->plan.n - s->plan.shared_from : 0;
}

/* Atom k's block of the direction: d ← lmo(d), and its multiplier
 * lr·target (·dual(d) for sharp steps) into s->scales[k]. */
mn_status mn_solver_dualize_atom(mn_solver *s, const mn_network *net, int k, double lr,
                              const mn_dualize_opts *polar)
{
    const mn_solver_config *c = &s->cfg;
    s->scales[k] = lr * s->targets[k];
    if (s->scales[k] == 0)
        return MN_OK; /* a mass-0 atom (or a zero rate): nothing moves */
    mn_mat d = mn_network_atom_view(net, k, s->dir);
    if (c->step == MN_STEP_SHARP) {
        double dual;
        MN_TRY(mn_norm_dual(s->norms[k], &d, &dual));
        s->scales[k] *= dual;
    }
    return mn_dualize(s->norms[k], polar, &d, &d); /* in place: d ← lmo(d) */
}

/* Dualize the plan's shared atoms side by side, one BLIS thread each,
 * biggest first. An error in any is reported once, with the message of the
 * first (in plan order) that failed. */
mn_status mn_solver_dualize_shared(mn_solver *s, const mn_network *net, double lr, int threads)
{
    mn_dualize_opts one = s->cfg.polar;
    one.threads = 1;
    mn_status failed = MN_OK;
    int failed_at = s->plan.n;
    char message[1024] = ""; /* as long as mn_last_error()'s buffer */
    MN_PARALLEL_FOR_TASKS(threads)
    for (int i = s->plan.shared_from; i < s->plan.n; i++) {
        mn_status st = mn_solver_dualize_atom(s, net, s->plan.order[i], lr, &one);
        if (st != MN_OK) {
            MN_CRITICAL
            if (i < failed_at) {
                failed = st;
                failed_at = i;
                snprintf(message, sizeof message, "%s", mn_last_error());
            }
        }
    }
    return failed == MN_OK ? MN_OK : mn_fail(failed, "%s", message);
}

/* Every kind of step runs in two phases, so that a failed step leaves the
 * weights, the moments and the step count as they were:
 *   propose: from the gradient and the current state, the weights the step
 *            would give, into s->dir; nothing the caller sees is written;
 *   commit:  once every proposed weight is finite, the moments, then the
 *            weights (a copy of the proposal).
 * A non-finite gradient is refused before the proposal, atom by atom, with
 * the atom named. */

/* The first non-finite entry of x[0..n), or -1. */
int64_t mn_first_nonfinite(const float *x, int64_t n)
{
    enum { BLOCK = 4096 };
    for (int64_t b = 0; b < n; b += BLOCK) {
        int64_t e = b + BLOCK < n ? b + BLOCK : n;
        float acc = 0; /* x − x is 0 for finite x and NaN otherwise */
        for (int64_t i = b; i < e; i++)
            acc += x[i] - x[i];
        if (acc != 0 || acc != acc)
            for (int64_t i = b; i < e; i++)
                if (!isfinite(x[i]))
                    return i;
    }
    return -1;
}

/* The atom whose block of a weight-shaped buffer holds entry i, and the
 * entry's (row, column) in it. */
static int atom_of(const mn_solver *s, const mn_network *net, int64_t i, int64_t *r, int64_t *c)
{
    float *base = s->dir;
    for (int k = 0; k < s->n_atoms; k++) {
        mn_mat v = mn_network_atom_view(net, k, base);
        int64_t off = (int64_t)((float *)v.data - base), len = v.rows * v.cols;
        if (i >= off && i < off + len) {
            /* Views are row-major (rs = cols) or, for Embed, column-major. */
            int64_t rel = i - off;
            *r = v.cs == 1 ? rel / v.cols : rel % v.rows;
            *c = v.cs == 1 ? rel % v.cols : rel / v.rows;
            return k;
        }
    }
    *r = *c = -1;
    return -1;
}

const char *mn_solver_atom_name(const mn_network *net, int k, char *buf, size_t cap)
{
    if (k < 0) {
        snprintf(buf, cap, "a parameter outside every atom");
        return buf;
    }
    char d[64];
    snprintf(buf, cap, "atom %d (%s)", k, mn_module_describe(mn_network_atom(net, k), d, sizeof d));
    return buf;
}

static mn_status check_gradient(const mn_solver *s, const mn_network *net, const float *g)
{
    int64_t i = mn_first_nonfinite(g, s->n);
    if (i < 0)
        return MN_OK;
    int64_t r, c;
    char name[96];
    int k = atom_of(s, net, i, &r, &c);
    return mn_fail(MN_ERR_NONFINITE, "solver step refused: the gradient of %s has a non-finite "
                   "value (%g) at (%lld, %lld); weights, moments and step count are unchanged",
                   mn_solver_atom_name(net, k, name, sizeof name), (double)g[i], (long long)r, (long long)c);
}

/* Propose, steepest descent: every atom's update direction from the
 * momentum the step would produce, then the weights it gives. */
static mn_status steepest_propose(mn_solver *s, mn_network *net, double lr)
{
    const mn_solver_config *c = &s->cfg;
    const float *g = mn_network_grads(net);
    const float *m = s->m, *w = mn_network_weights(net);
    float *dir = s->dir;
    float beta = (float)c->momentum, one_minus = (float)(1 - c->momentum);
    int threads = mn_network_threads(net);
    float bad = 0; /* Σ (g − g): 0 when every entry is finite, NaN otherwise */
    MN_PARALLEL_FOR_SUM(mn_elementwise_threads(threads, s->n), bad)
    for (int64_t i = 0; i < s->n; i++) {
        float next = beta * m[i] + one_minus * g[i];
        dir[i] = c->nesterov ? beta * next + one_minus * g[i] : next;
        bad += g[i] - g[i];
    }
    if (bad != 0 || bad != bad)
        return check_gradient(s, net, g); /* names the entry */
    for (int i = 0; i < s->plan.shared_from; i++)
        MN_TRY(mn_solver_dualize_atom(s, net, s->plan.order[i], lr, &c->polar));
    if (s->plan.shared_from < s->plan.n)
        MN_TRY(mn_solver_dualize_shared(s, net, lr, mn_threads_resolve(c->polar.threads)));

    /* dir ← (1 − lr·λ)·w − scale_k·dir, atom by atom (w·1 is w exactly). */
    float decay = (float)(1.0 - lr * c->weight_decay);
    float overflow = 0; /* Σ (dir − dir) over the new weights, as above */
    for (int k = 0; k < s->n_atoms; k++) {
        mn_mat d = mn_network_atom_view(net, k, dir);
        int64_t off = (int64_t)((float *)d.data - dir), len = d.rows * d.cols;
        float f = (float)s->scales[k];
        if (f == 0) { /* nothing moves but the decay (dir may hold anything) */
            MN_PARALLEL_FOR_SUM(mn_elementwise_threads(threads, len), overflow)
            for (int64_t i = off; i < off + len; i++) {
                dir[i] = w[i] * decay;
                overflow += dir[i] - dir[i];
            }
            continue;
        }
        MN_PARALLEL_FOR_SUM(mn_elementwise_threads(threads, len), overflow)
        for (int64_t i = off; i < off + len; i++) {
            dir[i] = w[i] * decay - f * dir[i];
            overflow += dir[i] - dir[i];
        }
    }
    s->proposal_finite = overflow == 0;
    return MN_OK;
}

static void steepest_commit_moments(mn_solver *s, const mn_network *net)
{
    const float *g = mn_network_grads((mn_network *)net);
    float *m = s->m;
    float beta = (float)s->cfg.momentum, one_minus = (float)(1 - s->cfg.momentum);
    MN_PARALLEL_FOR(mn_elementwise_threads(mn_network_threads(net), s->n))
    for (int64_t i = 0; i < s->n; i++)
        m[i] = beta * m[i] + one_minus * g[i];
}

/* AdamW's constants for step t = steps + 1. Bias corrections are folded
 * into two float scalars: the loops stay in float32 (as
 * torch.optim.AdamW's) and vectorize. */
mn_adamw_consts mn_solver_adamw_at(const mn_solver *s, double lr)
{
    const mn_solver_config *c = &s->cfg;
    double t = (double)(s->steps + 1);
    return (mn_adamw_consts){.step = (float)(lr / (1 - pow(c->momentum, t))),
                          .inv_bc2 = (float)(1 / (1 - pow(c->beta2, t))),
                          .eps = (float)c->eps,
                          .b1 = (float)c->momentum,
                          .b2 = (float)c->beta2,
                          .decay = (float)(1.0 - lr * c->weight_decay)};
}

/* Propose, AdamW: decoupled weight decay before the update, as
 * torch.optim.AdamW does, with the moments the step would produce. A second
 * moment past FLT_MAX ((1 − β2)·g² > FLT_MAX: |g| > ~6e20 at β2 = 0.999)
 * would freeze its weight for good (its update is m/∞ = 0 from then on):
 * the proposal marks it NaN, so that the step is refused like a non-finite
 * gradient. */
static mn_status adamw_propose(mn_solver *s, mn_network *net, double lr)
{
    const float *g = mn_network_grads(net), *w = mn_network_weights(net);
    const float *m = s->m, *v = s->v;
    float *dir = s->dir;
    mn_adamw_consts k = mn_solver_adamw_at(s, lr);
    float bad = 0, overflow = 0; /* Σ (x − x) over g and the new weights: 0 iff all finite */
    MN_PARALLEL_FOR_SUM(mn_elementwise_threads(mn_network_threads(net), s->n), bad, overflow)
    for (int64_t i = 0; i < s->n; i++) {
        float mi = k.b1 * m[i] + (1 - k.b1) * g[i];
        float vi = k.b2 * v[i] + (1 - k.b2) * g[i] * g[i];
        float wi = w[i] * k.decay - k.step * mi / (sqrtf(vi * k.inv_bc2) + k.eps);
        dir[i] = vi <= FLT_MAX ? wi : NAN;
        bad += g[i] - g[i];
        overflow += dir[i] - dir[i];
    }
    if (bad != 0 || bad != bad)
        return check_gradient(s, net, g); /* names the entry */
    s->proposal_finite = overflow == 0;
    return MN_OK;
}

/* Why AdamW's proposal for entry i is not finite. */
const char *mn_solver_adamw_why(const mn_solver *s, const mn_network *net, int64_t i)
{
    const float g = mn_network_grads((mn_network *)net)[i];
    float b2 = (float)s->cfg.beta2;
    return b2 * s->v[i] + (1 - b2) * g * g <= FLT_MAX ? "the update overflows float32"
                                                       : "AdamW's second moment overflows float32";
}

static void adamw_commit_moments(mn_solver *s, const mn_network *net)
{
    const float *g = mn_network_grads((mn_network *)net);
    float *m = s->m, *v = s->v;
    float b1 = (float)s->cfg.momentum, b2 = (float)s->cfg.beta2;
    MN_PARALLEL_FOR(mn_elementwise_threads(mn_network_threads(net), s->n))
    for (int64_t i = 0; i < s->n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    }
}

mn_status mn_solver_step(mn_solver *s, mn_network *net)
{
    if (!s || !net)
        return mn_fail(MN_ERR_ARG, "mn_solver_step: NULL argument");
    if (mn_network_param_count(net) != s->n)
        return mn_fail(MN_ERR_SHAPE, "mn_solver_step: the solver was made for %lld parameters, "
                       "the network has %lld", (long long)s->n,
                       (long long)mn_network_param_count(net));
    if (mn_network_atom_count(net) != s->n_atoms)
        return mn_fail(MN_ERR_SHAPE, "mn_solver_step: the solver was made for %d atoms, the "
                       "network has %d", s->n_atoms, mn_network_atom_count(net));
    if (net != s->read_from || mn_network_revision(net) != s->revision)
        MN_TRY(read_network(s, net)); /* a norm or a mass changed since the last step */
    double lr = mn_solver_lr_at(s, s->steps);
    if (s->shard)
        return mn_sharded_step(s, net, lr); /* data-parallel: collective (dist.h) */
    bool adamw = s->cfg.kind == MN_SOLVER_ADAMW;
    /* propose */
    MN_TRY(adamw ? adamw_propose(s, net, lr) : steepest_propose(s, net, lr));
    int64_t bad = s->proposal_finite ? -1 : mn_first_nonfinite(s->dir, s->n);
    if (bad >= 0) {
        int64_t r, c;
        char name[96];
        int k = atom_of(s, net, bad, &r, &c);
        return mn_fail(MN_ERR_NONFINITE, "solver step refused: it would make weight (%lld, %lld) "
                       "of %s non-finite (%s); weights, moments and step count are unchanged",
                       (long long)r, (long long)c, mn_solver_atom_name(net, k, name, sizeof name),
                       adamw ? mn_solver_adamw_why(s, net, bad) : "the update overflows float32");
    }
    /* commit */
    if (adamw)
        adamw_commit_moments(s, net);
    else
        steepest_commit_moments(s, net);
    memcpy(mn_network_weights(net), s->dir, (size_t)s->n * sizeof(float));
    s->steps++;
    return MN_OK;
}
