/* What every module shares: creation, destruction, properties, tensors
 * sized to the batch, and the forward/backward dispatch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "modules/module.h"

mn_status mn_module_new(mn_module **out, const mn_module_ops *ops, double mass, double nu)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "%s: out is NULL", ops->kind);
    *out = calloc(1, sizeof **out);
    if (!*out)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", ops->kind);
    (*out)->ops = ops;
    (*out)->mass = mass;
    (*out)->sensitivity = nu;
    return MN_OK;
}

static void free_value(mn_value *v, bool owned)
{
    if (owned)
        for (int i = 0; i < v->n; i++)
            mn_tensor_destroy(v->t[i]);
    memset(v, 0, sizeof *v);
}

void mn_module_destroy(mn_module *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_children; i++)
        mn_module_destroy(m->children[i]);
    free(m->children);
    free_value(&m->out, m->owns_out);
    free_value(&m->din, m->owns_din);
    mn_tensor_destroy(m->scratch);
    free(m);
}

mn_status mn_tensor_ensure(mn_tensor **t, int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    if (*t && (*t)->owns_data && mn_tensor_numel(*t) >= n && (*t)->ndim == ndim) {
        /* Reuse the storage: reshape in place. */
        int64_t s = 1;
        for (int i = ndim - 1; i >= 0; i--) {
            (*t)->shape[i] = shape[i];
            (*t)->stride[i] = s;
            s *= shape[i];
        }
        return MN_OK;
    }
    mn_tensor_destroy(*t);
    *t = NULL;
    return mn_tensor_create(t, ndim, shape);
}

mn_mat mn_tensor_rows(const mn_tensor *t)
{
    int64_t d = t->shape[t->ndim - 1];
    int64_t rows = d ? mn_tensor_numel(t) / d : 0;
    return mn_mat_view(MN_F32, t->data, rows, d);
}

const char *mn_module_kind(const mn_module *m) { return m->label ? m->label : m->ops->kind; }

bool mn_module_is_atom(const mn_module *m) { return m->ops->init != NULL; }

int mn_module_child_count(const mn_module *m) { return m->n_children; }

const mn_module *mn_module_child(const mn_module *m, int i)
{
    return i >= 0 && i < m->n_children ? m->children[i] : NULL;
}

int64_t mn_module_param_count(const mn_module *m)
{
    if (mn_module_is_atom(m))
        return m->d_out * m->d_in;
    int64_t n = 0;
    for (int i = 0; i < m->n_children; i++)
        n += mn_module_param_count(m->children[i]);
    return n;
}

mn_status mn_module_weight_shape(const mn_module *m, int64_t *d_out, int64_t *d_in)
{
    if (!mn_module_is_atom(m))
        return mn_fail(MN_ERR_ARG, "%s has no weights of its own", mn_module_kind(m));
    *d_out = m->d_out;
    *d_in = m->d_in;
    return MN_OK;
}

const mn_norm *mn_module_norm(const mn_module *m) { return m->norm; }

mn_status mn_module_set_norm(mn_module *m, const char *norm_name)
{
    if (!m || !mn_module_is_atom(m))
        return mn_fail(MN_ERR_ARG, "set_norm: %s is not an atom (only atoms have a norm)",
                       m ? mn_module_kind(m) : "NULL");
    const mn_norm *n;
    MN_TRY(mn_norm_lookup(norm_name, &n));
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
    return MN_OK;
}

const char *mn_module_describe(const mn_module *m, char *buf, size_t cap)
{
    if (mn_module_is_atom(m))
        snprintf(buf, cap, "%s(%lld←%lld)", m->ops->kind, (long long)m->d_out,
                 (long long)m->d_in);
    else if (strcmp(m->ops->kind, "Mul") == 0)
        snprintf(buf, cap, "Mul(%g)", m->a);
    else
        snprintf(buf, cap, "%s", mn_module_kind(m));
    return buf;
}

mn_status mn_module_forward(mn_module *m, const mn_value *in, int threads)
{
    m->in = *in;
    return m->ops->forward(m, in, threads);
}

mn_status mn_module_backward(mn_module *m, const mn_value *dout, int threads)
{
    return m->ops->backward(m, dout, threads);
}

mn_status mn_module_out_features(const mn_module *m, int64_t in, int64_t *out)
{
    return m->ops->out_features(m, in, out);
}

mn_mat mn_module_weight_view(const mn_module *m, float *p)
{
    if (m->transposed)
        return mn_mat_transpose(mn_mat_view(MN_F32, p, m->d_in, m->d_out));
    return mn_mat_view(MN_F32, p, m->d_out, m->d_in);
}

mn_status mn_module_visit_atoms(mn_module *m, mn_atom_visitor f, void *ctx)
{
    if (mn_module_is_atom(m))
        return f(m, ctx);
    for (int i = 0; i < m->n_children; i++)
        MN_TRY(mn_module_visit_atoms(m->children[i], f, ctx));
    return MN_OK;
}
