/* Training settings: defaults, checks, step accounting, their text for a
 * sweep's settings file, atom-norm overrides, and building the network and
 * solver they describe. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "modnorm/train.h"
#include "modules/module.h"

void mn_train_settings_default(mn_train_settings *s)
{
    if (!s)
        return;
    *s = (mn_train_settings){.opt = "muon", .param = MN_PARAM_MODULAR, .lr = NAN,
                             .momentum = NAN, .schedule = MN_SCHEDULE_LINEAR, .epochs = 5,
                             .batch = 128};
}

static const char *schedule_name(mn_schedule s)
{
    switch (s) {
    case MN_SCHEDULE_LINEAR: return "linear";
    case MN_SCHEDULE_CONSTANT: return "constant";
    case MN_SCHEDULE_COSINE: return "cosine";
    }
    return NULL;
}

mn_status mn_train_settings_check(const mn_train_settings *s)
{
    if (!s)
        return mn_fail(MN_ERR_ARG, "training settings: NULL");
    if (s->param != MN_PARAM_MODULAR && s->param != MN_PARAM_SP)
        return mn_fail(MN_ERR_ARG, "training settings: param %d is neither modular nor sp",
                       (int)s->param);
    if (!s->opt)
        return mn_fail(MN_ERR_ARG, "training settings: opt is NULL (known: %s)",
                       mn_solver_preset_names());
    mn_solver_config probe;
    MN_TRY(mn_solver_preset(&probe, s->opt, s->param));
    if (!isnan(s->lr) && !(s->lr >= 0 && isfinite(s->lr)))
        return mn_fail(MN_ERR_ARG, "training settings: lr %g must be finite and >= 0 (NAN: the "
                       "preset's)", s->lr);
    if (!isnan(s->momentum) && !(s->momentum >= 0 && s->momentum < 1))
        return mn_fail(MN_ERR_ARG, "training settings: momentum %g must be in [0, 1) (NAN: the "
                       "preset's)", s->momentum);
    if (!(s->weight_decay >= 0 && isfinite(s->weight_decay)))
        return mn_fail(MN_ERR_ARG, "training settings: weight_decay %g must be finite and >= 0",
                       s->weight_decay);
    if (!schedule_name(s->schedule))
        return mn_fail(MN_ERR_ARG, "training settings: schedule %d is not linear, constant or "
                       "cosine", (int)s->schedule);
    if (s->warmup < 0)
        return mn_fail(MN_ERR_ARG, "training settings: warmup %lld must be >= 0",
                       (long long)s->warmup);
    const mn_polar_method *pm;
    MN_TRY(mn_polar_lookup(s->polar_method ? s->polar_method : MN_FIT_DEFAULT_POLAR, &pm));
    if (!mn_precision_name(s->polar_precision))
        return mn_fail(MN_ERR_ARG, "training settings: polar_precision %d is neither fp32 nor "
                       "bf16", (int)s->polar_precision);
    if (!mn_precision_name(s->net_precision))
        return mn_fail(MN_ERR_ARG, "training settings: net_precision %d is neither fp32 nor "
                       "bf16", (int)s->net_precision);
    if (s->steps < 0)
        return mn_fail(MN_ERR_ARG, "training settings: steps %lld must be >= 0 (0: from epochs)",
                       (long long)s->steps);
    if (s->steps == 0 && !(s->epochs > 0 && s->epochs <= 1e9))
        return mn_fail(MN_ERR_ARG, "training settings: epochs %g must be in (0, 1e9] when steps "
                       "is 0", s->epochs);
    if (s->batch < 1)
        return mn_fail(MN_ERR_ARG, "training settings: batch %lld must be >= 1",
                       (long long)s->batch);
    if (s->n_atom_norms < 0 || (s->n_atom_norms > 0 && !s->atom_norms))
        return mn_fail(MN_ERR_ARG, "training settings: %d atom norms but atom_norms is %s",
                       s->n_atom_norms, s->atom_norms ? "set" : "NULL");
    for (int i = 0; i < s->n_atom_norms; i++) {
        const mn_norm *n;
        if (s->atom_norms[i].atom < 0 || !s->atom_norms[i].norm)
            return mn_fail(MN_ERR_ARG, "training settings: atom norm %d needs an atom >= 0 and a "
                           "norm name", i);
        MN_TRY(mn_norm_lookup(s->atom_norms[i].norm, &n));
    }
    return MN_OK;
}

int64_t mn_train_total_steps(const mn_train_settings *s, int64_t per_epoch)
{
    if (!s)
        return 0;
    int64_t total = s->steps > 0 ? s->steps : (int64_t)ceil(s->epochs * (double)per_epoch);
    return total < 1 ? 1 : total;
}

mn_status mn_train_settings_text(const mn_train_settings *s, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return mn_fail(MN_ERR_ARG, "training settings text: %s", buf ? "cap is 0" : "buf is NULL");
    MN_TRY(mn_train_settings_check(s));
    char steps[64], mom[64];
    if (s->steps > 0)
        snprintf(steps, sizeof steps, "steps=%lld", (long long)s->steps);
    else
        snprintf(steps, sizeof steps, "epochs=%.17g", s->epochs);
    if (isnan(s->momentum))
        snprintf(mom, sizeof mom, "momentum=default");
    else
        snprintf(mom, sizeof mom, "momentum=%.17g", s->momentum);
    size_t len = (size_t)snprintf(
        buf, cap, "opt=%s\nparam=%s\n%s\nbatch=%lld\n%s\nnesterov=%d\nwd=%.17g\nschedule=%s\n"
        "warmup=%lld\nmethod=%s\n", s->opt, s->param == MN_PARAM_SP ? "sp" : "modular", steps,
        (long long)s->batch, mom, s->nesterov ? 1 : 0, s->weight_decay,
        schedule_name(s->schedule), (long long)s->warmup,
        s->polar_method ? s->polar_method : MN_FIT_DEFAULT_POLAR);
    if (s->polar_precision == MN_PRECISION_BF16 && len < cap)
        len += (size_t)snprintf(buf + len, cap - len, "precision=bf16\n");
    if (s->net_precision == MN_PRECISION_BF16 && len < cap)
        len += (size_t)snprintf(buf + len, cap - len, "net_precision=bf16\n");
    for (int i = 0; i < s->n_atom_norms && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "atom_norm=%d=%s\n", s->atom_norms[i].atom,
                                s->atom_norms[i].norm);
    if (len >= cap)
        return mn_fail(MN_ERR_ARG, "training settings text: %zu bytes do not fit in %zu", len + 1,
                       cap);
    return MN_OK;
}

mn_status mn_atom_norm_parse(const char *text, mn_atom_norm *out)
{
    if (!text || !out)
        return mn_fail(MN_ERR_ARG, "mn_atom_norm_parse: %s is NULL", text ? "out" : "text");
    char *end;
    errno = 0;
    long k = strtol(text, &end, 10);
    if (end == text || *end != '=' || errno || k < 0 || k > 1000000 || text[0] == '-' ||
        text[0] == '+' || end[1] == '\0')
        return mn_fail(MN_ERR_ARG, "atom norm '%s' must be K=NAME (K the 0-based atom in "
                       "forward order, NAME a norm)", text);
    *out = (mn_atom_norm){.atom = (int)k, .norm = end + 1};
    return MN_OK;
}

typedef struct atom_list {
    mn_module **v;
    int n;
} atom_list;

static mn_status list_atom(mn_module *a, void *ctx)
{
    atom_list *l = ctx;
    l->v[l->n++] = a;
    return MN_OK;
}

/* The overrides on `root`'s atoms (forward order, as a network numbers
 * them); `who` names the call in the NULL-argument message. */
static mn_status apply_overrides(const char *who, mn_module *root, const mn_atom_norm *ov, int n)
{
    if (!root || (n > 0 && !ov))
        return mn_fail(MN_ERR_ARG, "%s: %s is NULL", who, root ? "ov" : "root");
    int atoms = mn_module_atom_count(root);
    atom_list l = {.v = malloc((size_t)(atoms > 0 ? atoms : 1) * sizeof *l.v)};
    if (!l.v)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", who);
    mn_module_visit_atoms(root, list_atom, &l);
    /* Every override is checked before any atom changes: a refused call
     * leaves the network (and its revision) as it was. */
    mn_status st = MN_OK;
    for (int i = 0; st == MN_OK && i < n; i++) {
        if (ov[i].atom < 0 || ov[i].atom >= atoms || !ov[i].norm) {
            st = mn_fail(MN_ERR_ARG, "atom norm %d=%s: the atom must be in [0, %d) (0-based, "
                         "forward order)", ov[i].atom, ov[i].norm ? ov[i].norm : "(null)", atoms);
            break; /* l.v[ov[i].atom] below would be outside the list */
        }
        const mn_norm *norm;
        st = mn_norm_lookup(ov[i].norm, &norm);
        if (st != MN_OK) {
            char msg[768];
            snprintf(msg, sizeof msg, "%s", mn_last_error());
            st = mn_fail(st, "atom norm %d=%s: %s", ov[i].atom, ov[i].norm, msg);
            break; /* no norm to check */
        }
        /* A norm for another shape (taps-3 on a Linear) is refused here, not
         * at the first step; the check mn_module_set_norm makes. */
        char check_who[32];
        snprintf(check_who, sizeof check_who, "atom norm %d=", ov[i].atom);
        st = mn_module_check_norm(l.v[ov[i].atom], norm, check_who, ov[i].norm);
    }
    for (int i = 0; st == MN_OK && i < n; i++)
        st = mn_module_set_norm(l.v[ov[i].atom], ov[i].norm);
    free(l.v);
    return st;
}

mn_status mn_atom_norms_apply(mn_network *net, const mn_atom_norm *ov, int n)
{
    if (!net)
        return mn_fail(MN_ERR_ARG, "mn_atom_norms_apply: net is NULL");
    return apply_overrides("mn_atom_norms_apply", (mn_module *)mn_network_root(net), ov, n);
}

mn_status mn_atom_norms_apply_tree(mn_module *root, const mn_atom_norm *ov, int n)
{
    return apply_overrides("mn_atom_norms_apply_tree", root, ov, n);
}

typedef struct memory_walk {
    const mn_train_settings *s;
    const mn_solver_config *cfg;
    const mn_norm *forced; /* the preset's norm on every atom (sgd, sign), or NULL */
    int atom;
    double polar_bytes;
} memory_walk;

/* The norm a step will put on this atom: the preset's, else the last
 * override naming it, else its own. */
static const mn_norm *norm_used(const memory_walk *w, const mn_module *a)
{
    if (w->forced)
        return w->forced;
    const mn_norm *n = mn_module_norm(a);
    for (int i = 0; w->s->atom_norms && i < w->s->n_atom_norms; i++) {
        const mn_norm *o;
        if (w->s->atom_norms[i].atom == w->atom && w->s->atom_norms[i].norm &&
            mn_norm_lookup(w->s->atom_norms[i].norm, &o) == MN_OK)
            n = o;
    }
    return n;
}

static mn_status atom_memory(mn_module *a, void *ctx)
{
    memory_walk *w = ctx;
    const mn_norm *n = norm_used(w, a);
    w->atom++;
    int64_t d_out, d_in;
    if (w->cfg->kind != MN_SOLVER_STEEPEST || !n || !n->uses_polar ||
        mn_module_weight_shape(a, &d_out, &d_in) != MN_OK)
        return MN_OK;
    /* a Conv2D's per-tap norm (taps-K) runs k² polar factors of d_out x d_in/k²,
     * as mn_bench_step_flops counts them */
    int64_t k = strncmp(n->name, "taps-", 5) == 0 ? atoi(n->name + 5) : 1;
    if (k < 1 || d_in % (k * k) != 0)
        k = 1;
    mn_polar_plan plan;
    if (mn_polar_plan_for(&w->cfg->polar, d_out, d_in / (k * k), MN_F32, &plan) == MN_OK &&
        plan.workspace_bytes > w->polar_bytes)
        w->polar_bytes = plan.workspace_bytes;
    return MN_OK;
}

mn_status mn_train_memory_of(const mn_module *root, const mn_train_settings *s,
                             mn_train_memory *out)
{
    if (!root || !s || !out)
        return mn_fail(MN_ERR_ARG, "mn_train_memory_of: %s is NULL",
                       !root ? "root" : !s ? "s" : "out");
    mn_solver_config cfg;
    MN_TRY(mn_solver_preset(&cfg, s->opt ? s->opt : "", s->param));
    cfg.polar.precision = s->polar_precision;
    MN_TRY(mn_polar_lookup(s->polar_method ? s->polar_method : MN_FIT_DEFAULT_POLAR,
                           &cfg.polar.method));
    memory_walk w = {.s = s, .cfg = &cfg};
    if (cfg.norm)
        MN_TRY(mn_norm_lookup(cfg.norm, &w.forced));
    mn_module_visit_atoms((mn_module *)root, atom_memory, &w);
    int64_t params = mn_module_param_count(root);
    int copies = cfg.kind == MN_SOLVER_ADAMW ? 5 : 4;
    *out = (mn_train_memory){.params = params, .copies = copies, .polar_bytes = w.polar_bytes,
                             .bytes = 4.0 * copies * (double)params + w.polar_bytes};
    return MN_OK;
}

mn_status mn_train_solver_config(const mn_train_settings *s, int64_t total_steps,
                                 mn_solver_config *cfg)
{
    if (!cfg)
        return mn_fail(MN_ERR_ARG, "mn_train_solver_config: cfg is NULL");
    MN_TRY(mn_train_settings_check(s));
    if (total_steps < 1)
        return mn_fail(MN_ERR_ARG, "training settings: total_steps %lld must be >= 1",
                       (long long)total_steps);
    MN_TRY(mn_solver_preset(cfg, s->opt, s->param));
    if (!isnan(s->lr))
        cfg->lr = s->lr;
    if (!isnan(s->momentum))
        cfg->momentum = s->momentum;
    cfg->nesterov = s->nesterov;
    cfg->weight_decay = s->weight_decay;
    cfg->schedule = s->schedule;
    cfg->warmup = s->warmup;
    cfg->total_steps = total_steps;
    cfg->polar.threads = s->threads;
    cfg->polar.precision = s->polar_precision;
    cfg->serial_atoms = s->serial_atoms;
    return mn_polar_lookup(s->polar_method ? s->polar_method : MN_FIT_DEFAULT_POLAR,
                           &cfg->polar.method);
}

/* The order of today's `modnorm train`: network (its init draws from the
 * seed), threads, overrides, then the solver. */
mn_status mn_train_build(mn_module *root, const mn_train_settings *s, int64_t total_steps,
                         mn_network **net, mn_solver **solver)
{
    if (net)
        *net = NULL;
    if (solver)
        *solver = NULL;
    mn_solver_config cfg;
    mn_status st = !net || !solver ? mn_fail(MN_ERR_ARG, "mn_train_build: net or solver is NULL")
                   : !root ? mn_fail(MN_ERR_ARG, "mn_train_build: root is NULL")
                           : mn_train_solver_config(s, total_steps, &cfg);
    if (st != MN_OK) {
        mn_module_destroy(root);
        return st;
    }
    MN_TRY(mn_network_create(net, root, s->param, s->seed));
    mn_network_set_threads(*net, s->threads);
    MN_TRY(mn_network_set_precision(*net, s->net_precision));
    st = mn_atom_norms_apply(*net, s->atom_norms, s->n_atom_norms);
    if (st == MN_OK)
        st = mn_solver_create(solver, *net, &cfg);
    if (st == MN_OK && s->dist && (st = mn_solver_distribute(*solver, *net, s->dist)) != MN_OK) {
        mn_solver_destroy(*solver);
        *solver = NULL;
    }
    if (st != MN_OK) {
        mn_network_destroy(*net);
        *net = NULL;
    }
    return st;
}
