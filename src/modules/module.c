/* What every module shares: creation (bonds and atoms from any ops table),
 * destruction, cloning, properties and descriptions. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/size.h"
#include "modules/module.h"
#include "norms/norms.h"

/* The largest state block a kind may ask for: states are a few numbers. */
#define MAX_STATE (1u << 20)

bool mn_is_identifier(const char *s)
{
    if (!s || !isalpha((unsigned char)*s))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

static mn_status check_ops(const mn_module_ops *ops, bool atom)
{
    const char *who = atom ? "mn_atom_create" : "mn_bond_create";
    if (!ops)
        return mn_fail(MN_ERR_ARG, "%s: ops is NULL", who);
    if (!mn_is_identifier(ops->kind))
        return mn_fail(MN_ERR_ARG, "%s: the kind name '%s' is not an identifier (a letter, then "
                       "letters, digits or '_')", who, ops->kind ? ops->kind : "(null)");
    if (atom && !ops->init)
        return mn_fail(MN_ERR_ARG, "%s: %s has no init (an atom draws its initial weights)", who,
                       ops->kind);
    if (!atom && ops->init)
        return mn_fail(MN_ERR_ARG, "%s: %s has an init, so it is an atom: use mn_atom_create",
                       who, ops->kind);
    if (ops->arity < MN_ARITY_ANY)
        return mn_fail(MN_ERR_ARG, "%s: %s's arity %d is not a count or MN_ARITY_ANY", who,
                       ops->kind, ops->arity);
    if (ops->state_size > MAX_STATE)
        return mn_fail(MN_ERR_ARG, "%s: %s's state of %zu bytes is over the %u allowed", who,
                       ops->kind, ops->state_size, MAX_STATE);
    return MN_OK;
}

mn_status mn_module_new(mn_module **out, const mn_module_ops *ops, const void *state,
                        double mass, double nu)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "%s: out is NULL", ops->kind);
    *out = NULL;
    mn_module *m = calloc(1, sizeof *m);
    void *st = ops->state_size ? calloc(1, ops->state_size) : NULL;
    if (!m || (ops->state_size && !st)) {
        free(m);
        free(st);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", ops->kind);
    }
    if (st && state)
        memcpy(st, state, ops->state_size);
    m->ops = ops;
    m->state = st;
    m->mass = mass;
    m->sensitivity = nu;
    m->init_scale = 1;
    *out = m;
    return MN_OK;
}

mn_status mn_features_at_run_time(const mn_module *m, int n, const int64_t *in, int64_t *out)
{
    (void)m;
    (void)n;
    (void)in;
    *out = -1;
    return MN_OK;
}

void mn_init_uniform_fan_in(mn_mat *W, mn_rng *rng)
{
    double bound = 1.0 / sqrt((double)W->cols);
    for (int64_t i = 0; i < W->rows; i++)
        for (int64_t j = 0; j < W->cols; j++)
            mn_mat_set(W, i, j, bound * (2 * mn_rng_uniform(rng) - 1));
}

static mn_status check_sensitivity(const mn_module_ops *ops, double nu)
{
    if (!(nu >= 0) || !isfinite(nu))
        return mn_fail(MN_ERR_ARG, "%s: sensitivity %g must be finite and >= 0", ops->kind, nu);
    return MN_OK;
}

mn_status mn_bond_create(mn_module **out, const mn_module_ops *ops, const void *state,
                         double sensitivity)
{
    if (out)
        *out = NULL;
    MN_TRY(check_ops(ops, false));
    MN_TRY(check_sensitivity(ops, sensitivity));
    return mn_module_new(out, ops, state, 0, sensitivity);
}

mn_status mn_atom_create(mn_module **out, const mn_module_ops *ops, const void *state,
                         int64_t d_out, int64_t d_in, const mn_norm *norm, double sensitivity)
{
    if (out)
        *out = NULL;
    MN_TRY(check_ops(ops, true));
    MN_TRY(check_sensitivity(ops, sensitivity));
    if (d_out < 1 || d_in < 1)
        return mn_fail(MN_ERR_ARG, "%s: sizes (%lld, %lld) must be positive", ops->kind,
                       (long long)d_out, (long long)d_in);
    int64_t count; /* its weights must fit one float buffer */
    MN_TRY(mn_checked_count(ops->kind, MN_ERR_ARG, 2, (const int64_t[]){d_out, d_in},
                            sizeof(float), &count));
    if (!norm || !norm->value || !norm->dual || !norm->lmo)
        return mn_fail(MN_ERR_ARG, "%s: %s", ops->kind,
                       norm ? "the norm lacks a value, dual or lmo" : "norm is NULL");
    MN_TRY(mn_module_new(out, ops, state, 1.0, sensitivity));
    (*out)->d_out = d_out;
    (*out)->d_in = d_in;
    (*out)->norm = norm;
    return MN_OK;
}

void mn_module_free(mn_module *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_children; i++)
        mn_module_free(m->children[i]);
    free(m->children);
    free(m->own_label);
    if (m->state && m->ops->destroy)
        m->ops->destroy(m->state);
    free(m->state);
    free(m);
}

/* A module that belongs to a compound or a network is its owner's to free
 * (module.h): freeing it here would leave the owner a dangling pointer. */
void mn_module_destroy(mn_module *m)
{
    if (m && m->owner == MN_OWNER_NONE)
        mn_module_free(m);
}

mn_status mn_module_check_unowned(const mn_module *m, const char *who, const char *what,
                                  mn_owner taker)
{
    if (m->owner == MN_OWNER_NONE)
        return MN_OK;
    char d[64];
    const char *owner = m->owner == MN_OWNER_COMPOUND
                            ? (taker == MN_OWNER_COMPOUND ? "another compound" : "a compound")
                            : (taker == MN_OWNER_NETWORK ? "another network" : "a network");
    return mn_fail(MN_ERR_ARG, "%s: %s (%s) already belongs to %s; a module has one owner (make "
                   "another with mn_module_clone)", who, what,
                   mn_module_describe(m, d, sizeof d), owner);
}

mn_status mn_module_clone(const mn_module *m, mn_module **out)
{
    if (!m || !out)
        return mn_fail(MN_ERR_ARG, "clone: NULL argument");
    *out = NULL;
    mn_module *c;
    MN_TRY(mn_module_new(&c, m->ops, m->state, m->mass, m->sensitivity));
    c->compound = m->compound;
    c->label = m->label;
    c->init_scale = m->init_scale;
    c->mass_override = m->mass_override;
    c->d_out = m->d_out;
    c->d_in = m->d_in;
    c->norm = m->norm;
    mn_status st = MN_OK;
    if (m->own_label)
        st = mn_module_set_label(c, m->own_label);
    if (st == MN_OK && c->state && m->ops->clone && (st = m->ops->clone(m, c->state)) != MN_OK) {
        free(c->state); /* the deep copy failed: nothing of it to destroy */
        c->state = NULL;
    }
    if (st == MN_OK && m->n_children > 0) {
        c->children = calloc((size_t)m->n_children, sizeof *c->children);
        if (!c->children)
            st = mn_fail(MN_ERR_NOMEM, "clone: out of memory");
        else
            c->n_children = m->n_children;
        for (int i = 0; st == MN_OK && i < m->n_children; i++)
            if ((st = mn_module_clone(m->children[i], &c->children[i])) == MN_OK)
                c->children[i]->owner = MN_OWNER_COMPOUND;
    }
    if (st != MN_OK) {
        mn_module_destroy(c);
        return st;
    }
    *out = c;
    return MN_OK;
}

mn_status mn_module_set_label(mn_module *m, const char *name)
{
    char *copy = strdup(name);
    if (!copy)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", mn_module_kind(m));
    free(m->own_label);
    m->own_label = copy;
    m->label = copy;
    return MN_OK;
}

mn_status mn_module_set_init_scale(mn_module *m, double scale)
{
    if (!m || !mn_module_is_atom(m))
        return mn_fail(MN_ERR_ARG, "set_init_scale: %s is not an atom (only atoms have initial "
                       "weights)", m ? mn_module_kind(m) : "NULL");
    if (!isfinite(scale))
        return mn_fail(MN_ERR_ARG, "set_init_scale: scale %g of %s must be finite", scale,
                       mn_module_kind(m));
    m->init_scale = scale;
    return MN_OK;
}

double mn_module_init_scale(const mn_module *m) { return m ? m->init_scale : NAN; }

/* ---- properties --------------------------------------------------------- */

/* The getters answer NULL with a sentinel (module.h), as child_coef does. */
const char *mn_module_kind(const mn_module *m)
{
    return !m ? NULL : m->label ? m->label : m->ops->kind;
}

bool mn_module_is_atom(const mn_module *m) { return m && m->ops->init != NULL; }

int mn_module_child_count(const mn_module *m) { return m ? m->n_children : 0; }

const mn_module *mn_module_child(const mn_module *m, int i)
{
    return m && i >= 0 && i < m->n_children ? m->children[i] : NULL;
}

const mn_module_ops *mn_module_ops_of(const mn_module *m)
{
    return m && m->compound == MN_LEAF ? m->ops : NULL;
}

void *mn_module_state(const mn_module *m) { return m ? m->state : NULL; }

float *mn_module_weights(const mn_module *m) { return m ? m->w : NULL; }

float *mn_module_grads(const mn_module *m) { return m ? m->g : NULL; }

int64_t mn_module_param_count(const mn_module *m)
{
    if (!m)
        return 0;
    if (mn_module_is_atom(m))
        return m->d_out * m->d_in;
    int64_t n = 0;
    for (int i = 0; i < m->n_children; i++)
        n += mn_module_param_count(m->children[i]);
    return n;
}

int mn_module_atom_count(const mn_module *m)
{
    if (!m)
        return 0;
    if (mn_module_is_atom(m))
        return 1;
    int n = 0;
    for (int i = 0; i < m->n_children; i++)
        n += mn_module_atom_count(m->children[i]);
    return n;
}

mn_status mn_module_weight_shape(const mn_module *m, int64_t *d_out, int64_t *d_in)
{
    if (!m || !d_out || !d_in)
        return mn_fail(MN_ERR_ARG, "mn_module_weight_shape: %s is NULL",
                       !m ? "the module" : !d_out ? "d_out" : "d_in");
    if (!mn_module_is_atom(m))
        return mn_fail(MN_ERR_ARG, "%s has no weights of its own", mn_module_kind(m));
    *d_out = m->d_out;
    *d_in = m->d_in;
    return MN_OK;
}

const mn_norm *mn_module_norm(const mn_module *m) { return m ? m->norm : NULL; }

/* A solver made before this change sees it at its next step. */
static void bump_revision(mn_module *m)
{
    if (m->revision)
        ++*m->revision;
}

mn_status mn_module_check_norm(const mn_module *m, const mn_norm *n, const char *who,
                               const char *name)
{
    mn_mat w = mn_module_weight_view(m, m->w); /* data NULL outside a network */
    if (mn_norm_check_shape(n, &w) == MN_OK)
        return MN_OK;
    char why[512], d[96];
    snprintf(why, sizeof why, "%s", mn_last_error());
    return mn_fail(MN_ERR_ARG, "%s%s does not fit %s: %s", who, name,
                   mn_module_describe(m, d, sizeof d), why);
}

mn_status mn_module_set_norm(mn_module *m, const char *norm_name)
{
    if (!m || !mn_module_is_atom(m))
        return mn_fail(MN_ERR_ARG, "set_norm: %s is not an atom (only atoms have a norm)",
                       m ? mn_module_kind(m) : "NULL");
    const mn_norm *n;
    MN_TRY(mn_norm_lookup(norm_name, &n));
    MN_TRY(mn_module_check_norm(m, n, "set_norm: ", norm_name));
    if (n != m->norm)
        bump_revision(m);
    m->norm = n;
    return MN_OK;
}

mn_status mn_module_set_mass(mn_module *m, double mass)
{
    if (!m)
        return mn_fail(MN_ERR_ARG, "set_mass: module is NULL");
    if (!(mass >= 0) || !isfinite(mass))
        return mn_fail(MN_ERR_ARG, "set_mass: mass %g of %s must be finite and >= 0", mass,
                       mn_module_kind(m));
    if (!mn_module_is_atom(m) && mn_module_param_count(m) == 0 && mass > 0)
        return mn_fail(MN_ERR_ARG, "set_mass: %s has no weights, its mass stays 0",
                       mn_module_kind(m));
    m->mass = mass;
    m->mass_override = !mn_module_is_atom(m);
    bump_revision(m);
    return MN_OK;
}

const char *mn_module_describe(const mn_module *m, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return buf;
    if (!m) {
        snprintf(buf, cap, "NULL");
        return buf;
    }
    if (m->compound == MN_LEAF && m->ops->describe) {
        m->ops->describe(m, buf, cap);
        return buf;
    }
    if (mn_module_is_atom(m)) {
        snprintf(buf, cap, "%s(%lld←%lld)", m->ops->kind, (long long)m->d_out,
                 (long long)m->d_in);
        return buf;
    }
    double a[8];
    int n = m->compound == MN_LEAF && m->ops->args ? m->ops->args(m, a, 8) : 0;
    size_t used = (size_t)snprintf(buf, cap, "%s", mn_module_kind(m));
    for (int i = 0; i < n && i < 8 && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%g", i ? ", " : "(", a[i]);
    if (n > 0 && used < cap)
        snprintf(buf + used, cap - used, "%s)", n > 8 ? ", …" : "");
    return buf;
}

/* ---- helpers for the layers that run modules ---------------------------- */

mn_mat mn_tensor_rows(const mn_tensor *t)
{
    if (!t || t->ndim < 1 || t->ndim > MN_MAX_DIMS)
        return mn_mat_view(MN_F32, NULL, 0, 0);
    int64_t d = t->shape[t->ndim - 1];
    int64_t rows = d ? mn_tensor_numel(t) / d : 0;
    return mn_mat_view(MN_F32, t->data, rows, d);
}

mn_mat mn_module_weight_view(const mn_module *m, float *p)
{
    if (m->ops->weight_view)
        return m->ops->weight_view(m, p);
    return mn_mat_view(MN_F32, p, m->d_out, m->d_in);
}

mn_status mn_module_check_arity(const mn_module *m, int n)
{
    int a = m->ops->arity;
    if (a == MN_ARITY_ANY ? n >= 1 : n == (a > 1 ? a : 1))
        return MN_OK;
    char d[64];
    mn_module_describe(m, d, sizeof d);
    if (a == MN_ARITY_ANY)
        return mn_fail(MN_ERR_SHAPE, "%s takes one or more inputs, got %d", d, n);
    return mn_fail(MN_ERR_SHAPE, "%s takes %d input%s, got %d", d, a > 1 ? a : 1,
                   a > 1 ? "s" : "", n);
}

mn_status mn_module_visit_atoms(mn_module *m, mn_atom_visitor f, void *ctx)
{
    if (mn_module_is_atom(m))
        return f(m, ctx);
    for (int i = 0; i < m->n_children; i++)
        MN_TRY(mn_module_visit_atoms(m->children[i], f, ctx));
    return MN_OK;
}

void mn_module_walk(mn_module *m, mn_module_walker f, void *ctx)
{
    f(m, ctx);
    for (int i = 0; i < m->n_children; i++)
        mn_module_walk(m->children[i], f, ctx);
}
