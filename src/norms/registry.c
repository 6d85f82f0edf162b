/* The table of norms by name, aliases, refusals, and the checked entry
 * points. To add a norm: define it in its own file, declare it in norms.h and
 * add one line to `norms` below. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "norms/norms.h"

static const mn_norm *const norms[] = {
    &mn_norm_rms_rms,  &mn_norm_l2_l2,    &mn_norm_l2_rms,    &mn_norm_rms_l2,
    &mn_norm_l1_l1,    &mn_norm_l1_l2,    &mn_norm_l1_rms,    &mn_norm_l1_linf,
    &mn_norm_l2_linf,  &mn_norm_rms_linf, &mn_norm_linf_linf, &mn_norm_frobenius,
    &mn_norm_nuclear,  &mn_norm_l1,       &mn_norm_rms,       &mn_norm_linf,
};

static const struct {
    const char *alias, *name;
} aliases[] = {
    {"spectral", "l2-l2"},   {"max-abs", "l1-linf"}, {"maxabs", "l1-linf"},
    {"l2", "frobenius"},     {"fro", "frobenius"},   {"euclidean", "frobenius"},
    {"schatten-1", "nuclear"},
};

/* Operator norms with no tractable closed form: refused, with the reason. */
static const struct {
    const char *name, *why;
} refused[] = {
    {"linf-l1", "ℓ∞→ℓ1 is NP-hard to compute (it contains MAX-CUT)"},
    {"linf-l2", "ℓ∞→ℓ2 is NP-hard to compute (it maximizes xᵀAᵀAx over the hypercube)"},
    {"linf-rms", "ℓ∞→RMS is ℓ∞→ℓ2 rescaled, which is NP-hard to compute"},
    {"l2-l1", "ℓ2→ℓ1 equals ℓ∞→ℓ2 of the transpose, which is NP-hard to compute"},
    {"rms-l1", "RMS→ℓ1 is ℓ2→ℓ1 rescaled, which is NP-hard to compute"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

size_t mn_norm_count(void) { return COUNT(norms); }

const mn_norm *mn_norm_at(size_t i) { return i < COUNT(norms) ? norms[i] : NULL; }

const char *mn_norm_names(void)
{
    static _Thread_local char buf[512];
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < COUNT(norms); i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? ", " : "",
                                 norms[i]->name);
    for (size_t i = 0; i < COUNT(aliases) && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, ", %s", aliases[i].alias);
    return buf;
}

mn_status mn_norm_lookup(const char *name, const mn_norm **out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_norm_lookup: out is NULL");
    *out = NULL;
    if (!name)
        return mn_fail(MN_ERR_ARG, "norm name is NULL");
    const char *canonical = name;
    for (size_t i = 0; i < COUNT(aliases); i++)
        if (strcmp(name, aliases[i].alias) == 0)
            canonical = aliases[i].name;
    for (size_t i = 0; i < COUNT(norms); i++)
        if (strcmp(canonical, norms[i]->name) == 0) {
            *out = norms[i];
            return MN_OK;
        }
    for (size_t i = 0; i < COUNT(refused); i++)
        if (strcmp(name, refused[i].name) == 0)
            return mn_fail(MN_ERR_UNSUPPORTED,
                           "norm '%s' is refused: %s; use an l1-* (column-wise), *-linf "
                           "(row-wise) or l2/rms spectral norm",
                           name, refused[i].why);
    return mn_fail(MN_ERR_ARG, "unknown norm '%s'; known: %s", name, mn_norm_names());
}

static mn_status check_input(const mn_norm *n, const mn_mat *A, const char *what)
{
    if (!n || !A || !A->data)
        return mn_fail(MN_ERR_ARG, "norm: NULL %s", !n ? "norm" : what);
    if (A->rows < 1 || A->cols < 1)
        return mn_fail(MN_ERR_SHAPE, "%s: %s is %lldx%lld, needs at least one element", n->name,
                       what, (long long)A->rows, (long long)A->cols);
    return mn_mat_check_finite(A, what);
}

/* The norm of finite entries can still pass DBL_MAX (Σ|A_ij| of entries
 * near it): that is refused, never returned as inf. */
static mn_status check_result(const mn_norm *n, const char *which, const char *what, double v)
{
    if (isfinite(v))
        return MN_OK;
    return mn_fail(MN_ERR_NONFINITE, "%s: the %s of %s is beyond the largest double (%.3g); "
                   "its entries are finite, scale it down", n->name, which, what, DBL_MAX);
}

mn_status mn_norm_value(const mn_norm *n, const mn_mat *A, double *out)
{
    MN_TRY(check_input(n, A, "the matrix"));
    if (!out)
        return mn_fail(MN_ERR_ARG, "%s: out is NULL", n->name);
    double v;
    MN_TRY(n->value(n, A, &v));
    MN_TRY(check_result(n, "norm", "the matrix", v));
    *out = v;
    return MN_OK;
}

mn_status mn_norm_dual(const mn_norm *n, const mn_mat *G, double *out)
{
    MN_TRY(check_input(n, G, "the gradient"));
    if (!out)
        return mn_fail(MN_ERR_ARG, "%s: out is NULL", n->name);
    double v;
    MN_TRY(n->dual(n, G, &v));
    MN_TRY(check_result(n, "dual norm", "the gradient", v));
    *out = v;
    return MN_OK;
}

mn_status mn_norm_lmo(const mn_norm *n, mn_mat *out, const mn_mat *G,
                      const mn_polar_provider *polar)
{
    MN_TRY(check_input(n, G, "the gradient"));
    if (!out || !out->data)
        return mn_fail(MN_ERR_ARG, "%s: out is NULL", n->name);
    if (out->rows != G->rows || out->cols != G->cols || out->dtype != G->dtype)
        return mn_fail(MN_ERR_SHAPE, "%s: out is %lldx%lld %s but the gradient is %lldx%lld %s",
                       n->name, (long long)out->rows, (long long)out->cols,
                       mn_dtype_name(out->dtype), (long long)G->rows, (long long)G->cols,
                       mn_dtype_name(G->dtype));
    if (mn_mat_is_zero(G)) {
        mn_mat_fill(out, 0);
        return MN_OK;
    }
    return n->lmo(n, out, G, polar);
}
