/* Compounds: sequential composition and tuples, and the shapes built from
 * them (sum = Add ∘ tuple, scale = Mul ∘ M, power = copies in sequence). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "modules/module.h"

static bool is_sequential(const mn_module *m) { return m->ops == &mn_sequential_ops; }

/* Mass and sensitivity of compounds are derived when read, so that a later
 * change to a child's mass is seen by every ancestor. */
static double internal_mass(const mn_module *m)
{
    double s = 0;
    for (int i = 0; i < m->n_children; i++)
        s += mn_module_mass(m->children[i]);
    return s;
}

double mn_module_mass(const mn_module *m)
{
    if (mn_module_is_atom(m) || m->mass_override || m->n_children == 0)
        return m->mass;
    return internal_mass(m);
}

double mn_module_sensitivity(const mn_module *m)
{
    if (m->n_children == 0)
        return m->sensitivity;
    double nu = is_sequential(m) ? 1 : 0;
    for (int i = 0; i < m->n_children; i++) {
        double c = mn_module_sensitivity(m->children[i]);
        nu = is_sequential(m) ? nu * c : nu + c;
    }
    return nu;
}

/* sequential: c_i = (μ/μ_i)·Π_{j>i} ν_j (later modules amplify earlier
 * weight changes); tuple: c_i = μ/μ_i. */
double mn_module_child_coef(const mn_module *m, int i)
{
    if (!m || i < 0 || i >= m->n_children)
        return NAN;
    double mu_i = mn_module_mass(m->children[i]);
    if (mu_i <= 0)
        return INFINITY;
    double c = internal_mass(m) / mu_i;
    if (is_sequential(m))
        for (int j = i + 1; j < m->n_children; j++)
            c *= mn_module_sensitivity(m->children[j]);
    return c;
}

/* ---- sequential -------------------------------------------------------- */

static mn_status sequential_features(const mn_module *m, int64_t in, int64_t *out)
{
    int64_t f = in;
    for (int i = 0; i < m->n_children; i++) {
        if (mn_module_out_features(m->children[i], f, &f) != MN_OK) {
            char a[64], b[64], why[512];
            snprintf(why, sizeof why, "%s", mn_last_error());
            if (i == 0)
                return mn_fail(MN_ERR_SHAPE, "%s", why);
            return mn_fail(MN_ERR_SHAPE, "%s cannot follow %s: %s",
                           mn_module_describe(m->children[i], a, sizeof a),
                           mn_module_describe(m->children[i - 1], b, sizeof b), why);
        }
    }
    *out = f;
    return MN_OK;
}

static mn_status sequential_forward(mn_module *m, const mn_value *in, int threads)
{
    const mn_value *v = in;
    for (int i = 0; i < m->n_children; i++) {
        MN_TRY(mn_module_forward(m->children[i], v, threads));
        v = &m->children[i]->out;
    }
    m->owns_out = false;
    m->out = *v;
    return MN_OK;
}

static mn_status sequential_backward(mn_module *m, const mn_value *dout, int threads)
{
    const mn_value *g = dout;
    for (int i = m->n_children - 1; i >= 0; i--) {
        MN_TRY(mn_module_backward(m->children[i], g, threads));
        g = &m->children[i]->din;
        if (g->n == 0) /* nothing flows further back (token ids) */
            break;
    }
    m->owns_din = false;
    m->din = *g;
    return MN_OK;
}

const mn_module_ops mn_sequential_ops = {"Sequential", sequential_features, sequential_forward,
                                         sequential_backward, NULL};

/* ---- tuple: every child sees the same input ---------------------------- */

static mn_status tuple_features(const mn_module *m, int64_t in, int64_t *out)
{
    int64_t first = -1;
    for (int i = 0; i < m->n_children; i++) {
        int64_t f;
        MN_TRY(mn_module_out_features(m->children[i], in, &f));
        if (i > 0 && f >= 0 && first >= 0 && f != first) {
            char a[64], b[64];
            return mn_fail(MN_ERR_SHAPE, "tuple: %s gives %lld features but %s gives %lld",
                           mn_module_describe(m->children[0], a, sizeof a), (long long)first,
                           mn_module_describe(m->children[i], b, sizeof b), (long long)f);
        }
        if (f >= 0)
            first = f;
    }
    *out = first;
    return MN_OK;
}

static mn_status tuple_forward(mn_module *m, const mn_value *in, int threads)
{
    m->owns_out = false;
    m->out.n = 0;
    for (int i = 0; i < m->n_children; i++) {
        MN_TRY(mn_module_forward(m->children[i], in, threads));
        const mn_value *o = &m->children[i]->out;
        if (m->out.n + o->n > MN_MAX_TUPLE)
            return mn_fail(MN_ERR_SHAPE, "tuple: more than %d outputs", MN_MAX_TUPLE);
        for (int k = 0; k < o->n; k++)
            m->out.t[m->out.n++] = o->t[k];
    }
    return MN_OK;
}

/* The input fans out to every child, so its gradient is the sum of theirs. */
static mn_status tuple_backward(mn_module *m, const mn_value *dout, int threads)
{
    int used = 0, contributing = 0;
    const mn_value *only = NULL;
    for (int i = 0; i < m->n_children; i++) {
        mn_module *c = m->children[i];
        mn_value slice = {.n = c->out.n};
        for (int k = 0; k < c->out.n; k++)
            slice.t[k] = dout->t[used + k];
        used += c->out.n;
        MN_TRY(mn_module_backward(c, &slice, threads));
        if (c->din.n > 0) {
            contributing++;
            only = &c->din;
        }
    }
    if (contributing <= 1) {
        m->owns_din = false;
        m->din = only ? *only : (mn_value){0};
        return MN_OK;
    }
    m->owns_din = true;
    m->din.n = m->in.n;
    for (int k = 0; k < m->in.n; k++) {
        const mn_tensor *x = m->in.t[k];
        MN_TRY(mn_tensor_ensure(&m->din.t[k], x->ndim, x->shape));
        float *dx = m->din.t[k]->data;
        int64_t n = mn_tensor_numel(x);
        memset(dx, 0, (size_t)n * sizeof(float));
        for (int i = 0; i < m->n_children; i++) {
            const mn_value *g = &m->children[i]->din;
            if (g->n == 0)
                continue;
            for (int64_t e = 0; e < n; e++)
                dx[e] += g->t[k]->data[e];
        }
    }
    return MN_OK;
}

const mn_module_ops mn_tuple_ops = {"Tuple", tuple_features, tuple_forward, tuple_backward, NULL};

/* ---- constructors ------------------------------------------------------ */

static void destroy_all(int n, mn_module *const *children)
{
    for (int i = 0; i < n; i++)
        mn_module_destroy(children[i]);
}

static mn_status new_compound(mn_module **out, const mn_module_ops *ops, int n,
                              mn_module *const *children, const char *label)
{
    if (!out) {
        destroy_all(n, children);
        return mn_fail(MN_ERR_ARG, "%s: out is NULL", ops->kind);
    }
    *out = NULL;
    if (n < 1 || n > 1 << 20 || !children) {
        destroy_all(n > 0 && children ? n : 0, children);
        return mn_fail(MN_ERR_ARG, "%s: needs at least one child, got %d", ops->kind, n);
    }
    for (int i = 0; i < n; i++) {
        if (!children[i]) {
            destroy_all(n, children);
            return mn_fail(MN_ERR_ARG, "%s: child %d is NULL", ops->kind, i);
        }
        for (int j = 0; j < i; j++)
            if (children[j] == children[i]) {
                /* Free each distinct child once. */
                for (int k = 0; k < n; k++) {
                    bool seen = false;
                    for (int p = 0; p < k; p++)
                        seen = seen || children[p] == children[k];
                    if (!seen)
                        mn_module_destroy(children[k]);
                }
                return mn_fail(MN_ERR_ARG, "%s: children %d and %d are the same module; use "
                               "mn_module_clone (or mn_power) for copies", ops->kind, j, i);
            }
    }
    mn_module *m;
    mn_status st = mn_module_new(&m, ops, 0, 1);
    if (st == MN_OK && !(m->children = malloc((size_t)n * sizeof *m->children))) {
        free(m);
        st = mn_fail(MN_ERR_NOMEM, "%s: out of memory", ops->kind);
    }
    if (st != MN_OK) {
        destroy_all(n, children);
        return st;
    }
    memcpy(m->children, children, (size_t)n * sizeof *children);
    m->n_children = n;
    m->label = label;
    int64_t f;
    if ((st = mn_module_out_features(m, -1, &f)) != MN_OK) {
        mn_module_destroy(m);
        return st;
    }
    *out = m;
    return MN_OK;
}

mn_status mn_sequential(mn_module **out, int n, mn_module *const *children)
{
    return new_compound(out, &mn_sequential_ops, n, children, NULL);
}

mn_status mn_tuple(mn_module **out, int n, mn_module *const *children)
{
    return new_compound(out, &mn_tuple_ops, n, children, NULL);
}

mn_status mn_sum(mn_module **out, mn_module *a, mn_module *b)
{
    mn_module *pair, *add;
    mn_status st = mn_add(&add);
    if (st != MN_OK) {
        mn_module_destroy(a);
        mn_module_destroy(b);
        return st;
    }
    st = mn_tuple(&pair, 2, (mn_module *[]){a, b});
    if (st != MN_OK) {
        mn_module_destroy(add);
        return st;
    }
    return new_compound(out, &mn_sequential_ops, 2, (mn_module *[]){pair, add}, "Sum");
}

mn_status mn_scale(mn_module **out, double a, mn_module *child)
{
    mn_module *mul;
    mn_status st = mn_mul(&mul, a);
    if (st != MN_OK) {
        mn_module_destroy(child);
        return st;
    }
    return new_compound(out, &mn_sequential_ops, 2, (mn_module *[]){child, mul}, "Scale");
}

mn_status mn_module_clone(const mn_module *m, mn_module **out)
{
    if (!m || !out)
        return mn_fail(MN_ERR_ARG, "clone: NULL argument");
    mn_module *c = calloc(1, sizeof *c);
    if (!c)
        return mn_fail(MN_ERR_NOMEM, "clone: out of memory");
    c->ops = m->ops;
    c->label = m->label;
    c->mass = m->mass;
    c->sensitivity = m->sensitivity;
    c->mass_override = m->mass_override;
    c->d_out = m->d_out;
    c->d_in = m->d_in;
    c->norm = m->norm;
    c->transposed = m->transposed;
    c->a = m->a;
    if (m->n_children > 0) {
        c->children = calloc((size_t)m->n_children, sizeof *c->children);
        if (!c->children) {
            free(c);
            return mn_fail(MN_ERR_NOMEM, "clone: out of memory");
        }
        c->n_children = m->n_children;
        for (int i = 0; i < m->n_children; i++) {
            mn_status st = mn_module_clone(m->children[i], &c->children[i]);
            if (st != MN_OK) {
                mn_module_destroy(c);
                return st;
            }
        }
    }
    *out = c;
    return MN_OK;
}

mn_status mn_power(mn_module **out, mn_module *child, int k)
{
    if (k < 1 || k > 4096) {
        mn_module_destroy(child);
        return mn_fail(MN_ERR_ARG, "power: k = %d must be in [1, 4096]", k);
    }
    mn_module **copies = calloc((size_t)k, sizeof *copies);
    if (!copies) {
        mn_module_destroy(child);
        return mn_fail(MN_ERR_NOMEM, "power: out of memory");
    }
    copies[0] = child;
    for (int i = 1; i < k; i++) {
        mn_status st = mn_module_clone(child, &copies[i]);
        if (st != MN_OK) {
            destroy_all(i, copies);
            free(copies);
            return st;
        }
    }
    mn_status st = new_compound(out, &mn_sequential_ops, k, copies, "Power");
    free(copies);
    return st;
}

mn_status mn_layer_norm(mn_module **out)
{
    mn_module *sub, *div;
    MN_TRY(mn_mean_subtract(&sub));
    mn_status st = mn_rms_divide(&div);
    if (st != MN_OK) {
        mn_module_destroy(sub);
        return st;
    }
    return new_compound(out, &mn_sequential_ops, 2, (mn_module *[]){sub, div}, "LayerNorm");
}

mn_status mn_mlp(mn_module **out, int64_t d_in, int64_t width, int depth, int64_t d_out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mlp: out is NULL");
    if (depth < 1 || depth > 1000 || width < 1 || d_in < 1 || d_out < 1)
        return mn_fail(MN_ERR_ARG, "mlp: need depth in [1, 1000] and positive sizes (got depth "
                       "%d, width %lld)", depth, (long long)width);
    int n = 2 * depth - 1;
    mn_module **mods = calloc((size_t)n, sizeof *mods);
    if (!mods)
        return mn_fail(MN_ERR_NOMEM, "mlp: out of memory");
    mn_status st = MN_OK;
    for (int l = 0; l < depth && st == MN_OK; l++) {
        int64_t in = l == 0 ? d_in : width, o = l == depth - 1 ? d_out : width;
        st = mn_linear(&mods[2 * l], o, in);
        if (st == MN_OK && l < depth - 1)
            st = mn_relu(&mods[2 * l + 1]);
    }
    if (st != MN_OK) {
        destroy_all(n, mods);
        free(mods);
        return st;
    }
    st = new_compound(out, &mn_sequential_ops, n, mods, "MLP");
    free(mods);
    return st;
}
