/* Compounds: sequential composition and tuples, and the shapes built from
 * them (sum = Add ∘ tuple, scale = Mul ∘ M, power = copies in sequence). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/size.h"
#include "modules/kinds.h"
#include "modules/module.h"

static bool is_sequential(const mn_module *m) { return m->compound == MN_SEQUENTIAL; }

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
    if (!m)
        return NAN;
    if (mn_module_is_atom(m) || m->mass_override || m->n_children == 0)
        return m->mass;
    return internal_mass(m);
}

double mn_module_sensitivity(const mn_module *m)
{
    if (!m)
        return NAN;
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

/* ---- feature sizes, checked when a compound is built -------------------- */

const mn_module_ops mn_sequential_ops = {.kind = "Sequential"};
const mn_module_ops mn_tuple_ops = {.kind = "Tuple"};

int mn_module_output_count(const mn_module *m)
{
    if (m->compound == MN_SEQUENTIAL)
        return mn_module_output_count(m->children[m->n_children - 1]);
    if (m->compound == MN_LEAF)
        return 1;
    int n = 0;
    for (int i = 0; i < m->n_children; i++)
        n += mn_module_output_count(m->children[i]);
    return n;
}

/* What m outputs, for messages: a leaf's description, a tuple's children's
 * in parentheses. */
static void describe_outputs(const mn_module *m, char *buf, size_t cap)
{
    while (m->compound == MN_SEQUENTIAL)
        m = m->children[m->n_children - 1];
    if (m->compound == MN_LEAF) {
        mn_module_describe(m, buf, cap);
        return;
    }
    size_t used = 0;
    for (int i = 0; i < m->n_children && used + 1 < cap; i++) {
        used += (size_t)snprintf(buf + used, cap - used, "%s", i ? ", " : "(");
        if (used + 1 < cap)
            describe_outputs(m->children[i], buf + used, cap - used);
        used += strlen(buf + used);
    }
    if (used + 1 < cap)
        snprintf(buf + used, cap - used, ")");
}

/* What a walk over the tree computes for each output: a leaf's answer
 * (`size` bytes) from its inputs' answers. Sequential feeds each child the
 * previous one's answers; Tuple concatenates its children's. */
typedef struct {
    size_t size;
    mn_status (*leaf)(const mn_module *m, int n, const void *in, void *out);
} output_walk;

static mn_status walk_outputs(const mn_module *m, int n, const void *in, const output_walk *w,
                              void **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (m->compound == MN_LEAF) {
        void *f = malloc(w->size);
        if (!f)
            return mn_fail(MN_ERR_NOMEM, "%s: out of memory", mn_module_kind(m));
        mn_status st = w->leaf(m, n, in, f);
        if (st != MN_OK) {
            free(f);
            return st;
        }
        *out = f;
        *n_out = 1;
        return MN_OK;
    }
    if (m->compound == MN_SEQUENTIAL) {
        void *cur = NULL;
        int nc = n;
        for (int i = 0; i < m->n_children; i++) {
            void *next;
            int nn;
            mn_status st = walk_outputs(m->children[i], nc, i == 0 ? in : cur, w, &next, &nn);
            if (st != MN_OK && i > 0) {
                char a[64], b[160], why[512];
                snprintf(why, sizeof why, "%s", mn_last_error());
                st = mn_fail(MN_ERR_SHAPE, "%s cannot follow %s: %s",
                             mn_module_describe(m->children[i], a, sizeof a),
                             (describe_outputs(m->children[i - 1], b, sizeof b), b), why);
            }
            free(cur);
            if (st != MN_OK)
                return st;
            cur = next;
            nc = nn;
        }
        *out = cur;
        *n_out = nc;
        return MN_OK;
    }
    /* tuple: every child sees the same inputs; the outputs are theirs, in order */
    char *all = malloc((size_t)mn_module_output_count(m) * w->size);
    if (!all)
        return mn_fail(MN_ERR_NOMEM, "Tuple: out of memory");
    int used = 0;
    for (int i = 0; i < m->n_children; i++) {
        void *f;
        int nf;
        mn_status st = walk_outputs(m->children[i], n, in, w, &f, &nf);
        if (st != MN_OK) {
            free(all);
            return st;
        }
        memcpy(all + (size_t)used * w->size, f, (size_t)nf * w->size);
        used += nf;
        free(f);
    }
    *out = all;
    *n_out = used;
    return MN_OK;
}

/* A leaf's output features (int64_t) from its inputs'. */
static mn_status leaf_features(const mn_module *m, int n, const void *in, void *out)
{
    const int64_t *f = in;
    if (n > 0)
        MN_TRY(mn_module_check_arity(m, n));
    if (m->ops->features)
        return m->ops->features(m, n, f, out);
    *(int64_t *)out = n > 0 ? f[0] : -1;
    return MN_OK;
}

static const output_walk features_walk = {.size = sizeof(int64_t), .leaf = leaf_features};

mn_status mn_module_features(const mn_module *m, int n, const int64_t *in, int64_t **out,
                             int *n_out)
{
    void *f;
    mn_status st = walk_outputs(m, n, in, &features_walk, &f, n_out);
    *out = f;
    return st;
}

/* The answer of m's one output for one input (w->size bytes into out);
 * MN_ERR_SHAPE when m has several outputs. */
static mn_status one_output(const mn_module *m, const void *in, const output_walk *w, void *out)
{
    void *all;
    int n;
    MN_TRY(walk_outputs(m, 1, in, w, &all, &n));
    mn_status st = MN_OK;
    if (n == 1) {
        memcpy(out, all, w->size);
    } else {
        char d[64];
        st = mn_fail(MN_ERR_SHAPE, "%s has %d outputs, not one", mn_module_describe(m, d, sizeof d),
                     n);
    }
    free(all);
    return st;
}

mn_status mn_module_output_features(const mn_module *m, int64_t in, int64_t *out)
{
    if (!m || !out)
        return mn_fail(MN_ERR_ARG, "mn_module_output_features: %s is NULL",
                       m ? "out" : "the module");
    return one_output(m, &in, &features_walk, out);
}

/* A leaf's output shape (mn_shape) from its inputs', by its plan as the
 * network's first forward makes it (graph.c's plan_step), so that a
 * Flatten, a pool or a Conv2D, whose width needs more than the last
 * dimension, has one. */
static mn_status leaf_shape(const mn_module *m, int n, const void *in, void *out)
{
    const mn_shape *s = in;
    MN_TRY(mn_module_check_arity(m, n));
    mn_module_plan p = {.out = s[0]};
    if (m->ops->plan)
        MN_TRY(m->ops->plan(m, n, s, &p));
    char d[64];
    if (p.out.ndim < 1 || p.out.ndim > MN_MAX_DIMS)
        return mn_fail(MN_ERR_SHAPE, "%s planned an output of %d dimensions",
                       mn_module_describe(m, d, sizeof d), p.out.ndim);
    int64_t count;
    MN_TRY(mn_checked_count(mn_module_describe(m, d, sizeof d), MN_ERR_SHAPE, p.out.ndim,
                            p.out.dim, sizeof(float), &count));
    *(mn_shape *)out = p.out;
    return MN_OK;
}

static const output_walk shapes_walk = {.size = sizeof(mn_shape), .leaf = leaf_shape};

mn_status mn_module_output_shape(const mn_module *m, const mn_shape *in, mn_shape *out)
{
    if (!m || !in || !out)
        return mn_fail(MN_ERR_ARG, "mn_module_output_shape: %s is NULL",
                       !m ? "the module" : !in ? "in" : "out");
    if (in->ndim < 1 || in->ndim > MN_MAX_DIMS)
        return mn_fail(MN_ERR_SHAPE, "mn_module_output_shape: in has %d dimensions (1 to %d)",
                       in->ndim, MN_MAX_DIMS);
    int64_t count;
    MN_TRY(mn_checked_count("mn_module_output_shape: in", MN_ERR_SHAPE, in->ndim, in->dim,
                            sizeof(float), &count));
    return one_output(m, in, &shapes_walk, out);
}

/* ---- constructors ------------------------------------------------------ */

/* A constructor that fails frees its children (module.h): each distinct one
 * once, except those that belong to another compound or a network (theirs to
 * free). Which ones is decided before anything is freed, since a child may
 * sit inside another child's tree. */
static void release(int n, mn_module *const *children)
{
    if (n < 1 || !children)
        return;
    bool *mine = calloc((size_t)n, sizeof *mine);
    if (!mine)
        return; /* out of memory on a failure path: leak rather than guess */
    for (int k = 0; k < n; k++) {
        mine[k] = children[k] && children[k]->owner == MN_OWNER_NONE;
        for (int p = 0; p < k && mine[k]; p++)
            mine[k] = children[p] != children[k];
    }
    for (int k = 0; k < n; k++)
        if (mine[k])
            mn_module_free(children[k]);
    free(mine);
}

/* Messages name the compound the caller asked for (`who`: Scale, Sum, MLP),
 * not the Sequential or Tuple it is made of. */
static mn_status make_compound(mn_module **out, const mn_module_ops *ops, int n,
                               mn_module *const *children, const char *label, const char *who)
{
    if (!out) {
        release(n > 0 && children ? n : 0, children);
        return mn_fail(MN_ERR_ARG, "%s: out is NULL", who);
    }
    *out = NULL;
    if (n > 0 && !children)
        return mn_fail(MN_ERR_ARG, "%s: children is NULL (n = %d)", who, n);
    if (n < 1 || n > 1 << 20) {
        release(n > 0 ? n : 0, children);
        return mn_fail(MN_ERR_ARG, "%s: needs 1 to %d children, got %d", who, 1 << 20, n);
    }
    for (int i = 0; i < n; i++) {
        if (!children[i]) {
            release(n, children);
            return mn_fail(MN_ERR_ARG, "%s: child %d is NULL", who, i);
        }
        char what[32];
        snprintf(what, sizeof what, "child %d", i);
        mn_status st = mn_module_check_unowned(children[i], label ? label : who, what,
                                               MN_OWNER_COMPOUND);
        if (st != MN_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", mn_last_error());
            release(n, children); /* may describe modules: keep the message */
            return mn_fail(st, "%s", msg);
        }
        for (int j = 0; j < i; j++)
            if (children[j] == children[i]) {
                release(n, children);
                return mn_fail(MN_ERR_ARG, "%s: children %d and %d are the same module; use "
                               "mn_module_clone (or mn_power) for copies", who, j, i);
            }
    }
    mn_module *m;
    mn_status st = mn_module_new(&m, ops, NULL, 0, 1);
    if (st == MN_OK && !(m->children = malloc((size_t)n * sizeof *m->children))) {
        free(m);
        st = mn_fail(MN_ERR_NOMEM, "%s: out of memory", who);
    }
    if (st != MN_OK) {
        release(n, children);
        return st;
    }
    memcpy(m->children, children, (size_t)n * sizeof *children);
    for (int i = 0; i < n; i++)
        m->children[i]->owner = MN_OWNER_COMPOUND;
    m->n_children = n;
    m->compound = ops == &mn_sequential_ops ? MN_SEQUENTIAL : MN_TUPLE;
    m->label = label;
    int64_t *f;
    int nf;
    if ((st = mn_module_features(m, 0, NULL, &f, &nf)) != MN_OK) {
        mn_module_destroy(m);
        return st;
    }
    free(f);
    *out = m;
    return MN_OK;
}

static mn_status new_compound(mn_module **out, const mn_module_ops *ops, int n,
                              mn_module *const *children, const char *label)
{
    return make_compound(out, ops, n, children, label, label ? label : ops->kind);
}

mn_status mn_sequential(mn_module **out, int n, mn_module *const *children)
{
    return new_compound(out, &mn_sequential_ops, n, children, NULL);
}

mn_status mn_tuple(mn_module **out, int n, mn_module *const *children)
{
    return new_compound(out, &mn_tuple_ops, n, children, NULL);
}

mn_status mn_sum_n(mn_module **out, int n, mn_module *const *children)
{
    mn_module *group, *add;
    mn_status st = mn_add(&add);
    if (st != MN_OK) {
        release(n > 0 && children ? n : 0, children);
        return st;
    }
    st = make_compound(&group, &mn_tuple_ops, n, children, NULL, "Sum");
    if (st != MN_OK) {
        mn_module_destroy(add);
        return st;
    }
    return new_compound(out, &mn_sequential_ops, 2, (mn_module *[]){group, add}, "Sum");
}

mn_status mn_sum(mn_module **out, mn_module *a, mn_module *b)
{
    return mn_sum_n(out, 2, (mn_module *[]){a, b});
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

mn_status mn_power(mn_module **out, mn_module *child, int k)
{
    if (out)
        *out = NULL;
    if (k < 1 || k > 4096) {
        mn_module_destroy(child);
        return mn_fail(MN_ERR_ARG, "power: k = %d must be in [1, 4096]", k);
    }
    if (!child) /* not "clone: NULL argument" from the first copy */
        return mn_fail(MN_ERR_ARG, "power: the child is NULL");
    /* before any copy is made */
    MN_TRY(mn_module_check_unowned(child, "power", "the child", MN_OWNER_COMPOUND));
    mn_module **copies = calloc((size_t)k, sizeof *copies);
    if (!copies) {
        mn_module_destroy(child);
        return mn_fail(MN_ERR_NOMEM, "power: out of memory");
    }
    copies[0] = child;
    for (int i = 1; i < k; i++) {
        mn_status st = mn_module_clone(child, &copies[i]);
        if (st != MN_OK) {
            release(i, copies);
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
        release(n, mods);
        free(mods);
        return st;
    }
    st = new_compound(out, &mn_sequential_ops, n, mods, "MLP");
    free(mods);
    return st;
}

static mn_status make_layer_norm(mn_module **out, int argc, const double *a)
{
    (void)argc;
    (void)a;
    return mn_layer_norm(out);
}

const mn_module_maker mn_layer_norm_maker = {"LayerNorm", "LayerNorm", 0, 0, make_layer_norm};
