/* The norms by name: the built-in table, aliases, refusals, families, and
 * what a program registers; then the checked entry points. A built-in norm
 * is defined in its own file, declared in norms.h and listed in `builtin`. */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/error.h"
#include "core/registry.h"
#include "norms/norms.h"
#include "norms/spectral.h"

static const mn_norm *const builtin[] = {
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

/* Everything below the built-in tables changes under this lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static mn_plist added;    /* mn_norm, registered by the program */
static mn_plist families; /* mn_norm_family (schatten first, once initialized) */
static mn_plist members;  /* mn_norm made by a family, kept for the process */
static unsigned long version;

/* Callers hold the lock. */
static void init_locked(void)
{
    /* on failure: retried next time */
    if (families.n == 0)
        mn_plist_push(&families, &mn_norm_family_schatten, "norm registry");
    if (families.n == 1)
        mn_plist_push(&families, &mn_norm_family_taps, "norm registry");
}

static size_t count_locked(void) { return COUNT(builtin) + added.n; }

static const mn_norm *at_locked(size_t i)
{
    return i < COUNT(builtin) ? builtin[i] : i - COUNT(builtin) < added.n
                                                 ? added.p[i - COUNT(builtin)]
                                                 : NULL;
}

static const mn_norm *find_locked(const char *name)
{
    for (size_t i = 0; i < count_locked(); i++)
        if (strcmp(name, at_locked(i)->name) == 0)
            return at_locked(i);
    return NULL;
}

static const char *alias_of(const char *name)
{
    for (size_t i = 0; i < COUNT(aliases); i++)
        if (strcmp(name, aliases[i].alias) == 0)
            return aliases[i].name;
    return NULL;
}

static const char *refusal_of(const char *name)
{
    for (size_t i = 0; i < COUNT(refused); i++)
        if (strcmp(name, refused[i].name) == 0)
            return refused[i].why;
    return NULL;
}

/* The family whose PREFIX- starts `name`, and where its PARAM begins. */
static const mn_norm_family *family_of_locked(const char *name, const char **param)
{
    for (size_t i = 0; i < families.n; i++) {
        const mn_norm_family *f = families.p[i];
        size_t n = strlen(f->prefix);
        if (strncmp(name, f->prefix, n) == 0 && name[n] == '-') {
            *param = name + n + 1;
            return f;
        }
    }
    return NULL;
}

size_t mn_norm_count(void)
{
    pthread_mutex_lock(&lock);
    size_t n = count_locked();
    pthread_mutex_unlock(&lock);
    return n;
}

const mn_norm *mn_norm_at(size_t i)
{
    pthread_mutex_lock(&lock);
    const mn_norm *n = at_locked(i);
    pthread_mutex_unlock(&lock);
    return n;
}

/* Name i of the list in messages: the norms, then the families' patterns,
 * then the aliases (caller holds the lock). */
static const char *listed_name(size_t i, void *ctx)
{
    (void)ctx;
    if (i < count_locked())
        return at_locked(i)->name;
    i -= count_locked();
    if (i < families.n)
        return ((const mn_norm_family *)families.p[i])->pattern;
    return aliases[i - families.n].alias;
}

const char *mn_norm_names(void)
{
    static mn_names_cache names;
    pthread_mutex_lock(&lock);
    init_locked();
    const char *r = mn_names_join(&names, version, count_locked() + families.n + COUNT(aliases),
                                  listed_name, NULL);
    pthread_mutex_unlock(&lock);
    return r;
}

/* Letters, digits, '-', '_', '.', starting with a letter. */
static bool is_norm_name(const char *s, bool dots_and_dashes)
{
    if (!s || !isalpha((unsigned char)*s))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' &&
            !(dots_and_dashes && (*s == '-' || *s == '.')))
            return false;
    return true;
}

mn_status mn_norm_register(const mn_norm *norm)
{
    if (!norm)
        return mn_fail(MN_ERR_ARG, "mn_norm_register: norm is NULL");
    if (!is_norm_name(norm->name, true))
        return mn_fail(MN_ERR_ARG, "mn_norm_register: the name '%s' is not a norm name (a "
                       "letter, then letters, digits, '-', '_' or '.')",
                       norm->name ? norm->name : "(null)");
    if (!norm->value || !norm->dual || !norm->lmo)
        return mn_fail(MN_ERR_ARG, "mn_norm_register: %s lacks a %s function", norm->name,
                       !norm->value ? "value" : !norm->dual ? "dual" : "lmo");
    const char *param, *why = NULL;
    mn_status st = MN_OK;
    pthread_mutex_lock(&lock);
    init_locked();
    if (find_locked(norm->name) || alias_of(norm->name))
        why = "is taken";
    else if (refusal_of(norm->name))
        why = "is a refused (NP-hard) norm";
    else if (family_of_locked(norm->name, &param))
        why = "belongs to a family of norms";
    if (why)
        st = mn_fail(MN_ERR_ARG, "mn_norm_register: the name '%s' %s", norm->name, why);
    if (st == MN_OK && (st = mn_plist_push(&added, norm, "norm registry")) == MN_OK)
        version++;
    pthread_mutex_unlock(&lock);
    return st;
}

mn_status mn_norm_family_register(const mn_norm_family *f)
{
    if (!f)
        return mn_fail(MN_ERR_ARG, "mn_norm_family_register: family is NULL");
    if (!is_norm_name(f->prefix, false))
        return mn_fail(MN_ERR_ARG, "mn_norm_family_register: the prefix '%s' is not a name (a "
                       "letter, then letters, digits or '_')", f->prefix ? f->prefix : "(null)");
    if (!f->pattern || !f->parse || !f->norm.value || !f->norm.dual || !f->norm.lmo)
        return mn_fail(MN_ERR_ARG, "mn_norm_family_register: %s lacks a %s", f->prefix,
                       !f->pattern ? "pattern" : !f->parse ? "parse function"
                                                           : "value, dual or lmo");
    mn_status st = MN_OK;
    pthread_mutex_lock(&lock);
    init_locked();
    for (size_t i = 0; i < families.n && st == MN_OK; i++)
        if (strcmp(((const mn_norm_family *)families.p[i])->prefix, f->prefix) == 0)
            st = mn_fail(MN_ERR_ARG, "mn_norm_family_register: the prefix '%s' is taken",
                         f->prefix);
    if (st == MN_OK && (find_locked(f->prefix) || alias_of(f->prefix)))
        st = mn_fail(MN_ERR_ARG, "mn_norm_family_register: '%s' is the name of a norm",
                     f->prefix);
    if (st == MN_OK && (st = mn_plist_push(&families, f, "norm registry")) == MN_OK)
        version++;
    pthread_mutex_unlock(&lock);
    return st;
}

/* A new member's canonical name (caller holds the lock): it is the name the
 * member prints as (a graph file's [norm = …], a checkpoint), so it must be
 * the family's own (PREFIX-…, which no other family and no registered norm
 * can be), shadow no registered norm, alias or refused pair (one registered
 * before the family could start with PREFIX-), and read back as itself
 * (parsing its PARAM gives the same canonical name, not another norm). */
static mn_status check_canonical_locked(const mn_norm_family *f, const char *name,
                                        const char *canonical)
{
    size_t n = strlen(f->prefix);
    if (strncmp(canonical, f->prefix, n) != 0 || canonical[n] != '-')
        return mn_fail(MN_ERR_ARG, "norm '%s': the family %s names it '%s', which does not "
                       "start with '%s-'", name, f->pattern, canonical, f->prefix);
    if (find_locked(canonical) || alias_of(canonical) || refusal_of(canonical))
        return mn_fail(MN_ERR_ARG, "norm '%s': the family %s names it '%s', which is the name "
                       "of a registered norm", name, f->pattern, canonical);
    char again[128] = "";
    const char *same_as = NULL;
    void *params = f->params_size ? calloc(1, f->params_size) : NULL;
    if (f->params_size && !params)
        return mn_fail(MN_ERR_NOMEM, "norm '%s': out of memory", name);
    mn_clear_error();
    mn_status st = f->parse(canonical + n + 1, params, again, sizeof again, &same_as);
    free(params);
    if (st != MN_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", *mn_last_error() ? mn_last_error() : mn_status_str(st));
        return mn_fail(MN_ERR_ARG, "norm '%s': the family %s names it '%s', which it cannot read "
                       "back: %s", name, f->pattern, canonical, why);
    }
    if (!same_as && (!again[0] || !memchr(again, '\0', sizeof again)))
        snprintf(again, sizeof again, "%s", canonical);
    if (same_as || strcmp(again, canonical) != 0)
        return mn_fail(MN_ERR_ARG, "norm '%s': the family %s names it '%s', which reads back as "
                       "'%s'; a member's canonical name must read back as itself", name,
                       f->pattern, canonical, same_as ? same_as : again);
    return MN_OK;
}

/* The member of family f for PARAM (caller holds the lock): an existing
 * member, a registered norm the family names, or a new member kept for the
 * process. */
static mn_status member_locked(const mn_norm_family *f, const char *name, const char *param,
                               const mn_norm **out)
{
    char canonical[128] = "";
    const char *same_as = NULL;
    void *params = f->params_size ? calloc(1, f->params_size) : NULL;
    if (f->params_size && !params)
        return mn_fail(MN_ERR_NOMEM, "norm '%s': out of memory", name);
    mn_clear_error();
    mn_status st = f->parse(param, params, canonical, sizeof canonical, &same_as);
    if (st != MN_OK) {
        free(params);
        if (!*mn_last_error())
            mn_fail(st, "norm '%s': %s cannot read its parameter '%s'", name, f->pattern, param);
        return st;
    }
    const mn_norm *known = NULL;
    if (same_as) {
        const char *a = alias_of(same_as);
        known = find_locked(a ? a : same_as);
        free(params);
        if (!known)
            return mn_fail(MN_ERR_ARG, "norm '%s': its family names '%s', which is not a "
                           "registered norm", name, same_as);
        *out = known;
        return MN_OK;
    }
    if (!canonical[0] || !memchr(canonical, '\0', sizeof canonical))
        snprintf(canonical, sizeof canonical, "%s", name);
    for (size_t i = 0; i < members.n; i++)
        if (strcmp(((const mn_norm *)members.p[i])->name, canonical) == 0) {
            free(params);
            *out = members.p[i];
            return MN_OK;
        }
    if ((st = check_canonical_locked(f, name, canonical)) != MN_OK) {
        free(params);
        return st;
    }
    mn_norm *m = malloc(sizeof *m);
    char *mname = malloc(strlen(canonical) + 1);
    if (!m || !mname || mn_plist_push(&members, m, "norm registry") != MN_OK) {
        free(m);
        free(mname);
        free(params);
        return mn_fail(MN_ERR_NOMEM, "norm '%s': out of memory", name);
    }
    strcpy(mname, canonical);
    *m = f->norm;
    m->name = mname;
    m->params = params;
    *out = m;
    return MN_OK;
}

mn_status mn_norm_lookup(const char *name, const mn_norm **out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_norm_lookup: out is NULL");
    *out = NULL;
    if (!name)
        return mn_fail(MN_ERR_ARG, "norm name is NULL");
    const char *canonical = alias_of(name), *param, *why = refusal_of(name);
    mn_status st = MN_OK;
    pthread_mutex_lock(&lock);
    init_locked();
    *out = find_locked(canonical ? canonical : name);
    const mn_norm_family *f = *out || why ? NULL : family_of_locked(name, &param);
    if (f)
        st = member_locked(f, name, param, out);
    pthread_mutex_unlock(&lock);
    if (*out || st != MN_OK)
        return st;
    if (why)
        return mn_fail(MN_ERR_UNSUPPORTED,
                       "norm '%s' is refused: %s; use an l1-* (column-wise), *-linf "
                       "(row-wise) or l2/rms spectral norm",
                       name, why);
    return mn_fail(MN_ERR_ARG, "unknown norm '%s'; known: %s", name, mn_norm_names());
}

static mn_status check_size(const mn_norm *n, const mn_mat *A, const char *what)
{
    if (A->rows < 1 || A->cols < 1)
        return mn_fail(MN_ERR_SHAPE, "%s: %s is %lldx%lld, needs at least one element", n->name,
                       what, (long long)A->rows, (long long)A->cols);
    return MN_OK;
}

static mn_status check_input(const char *fn, const mn_norm *n, const mn_mat *A,
                             const char *what)
{
    if (!n || !n->name || !n->value || !n->dual || !n->lmo) /* one not registered */
        return mn_fail(MN_ERR_ARG, "%s: %s", fn,
                       n ? "the norm lacks a name, value, dual or lmo" : "the norm is NULL");
    MN_TRY(mn_check_mat(n->name, what, A));
    MN_TRY(check_size(n, A, what));
    return mn_mat_check_finite(A, what);
}

/* A norm of the library whose value, dual and lmo take any non-empty
 * matrix: the built-in table and schatten-P's members. */
static bool takes_any_shape(const mn_norm *n)
{
    for (size_t i = 0; i < COUNT(builtin); i++)
        if (n == builtin[i])
            return true;
    return n->value == mn_norm_family_schatten.norm.value;
}

mn_status mn_norm_check_shape(const mn_norm *n, const mn_mat *A)
{
    if (!n || !A)
        return mn_fail(MN_ERR_ARG, "norm: NULL %s", !n ? "norm" : "matrix");
    MN_TRY(check_size(n, A, "the matrix"));
    if (n->value == mn_norm_family_taps.norm.value)
        return mn_norm_taps_shape(n, A);
    if (takes_any_shape(n) || !A->data)
        return MN_OK;
    double v; /* a program's norm: only measuring tells */
    if (mn_norm_value(n, A, &v) == MN_ERR_SHAPE)
        return MN_ERR_SHAPE;
    mn_clear_error(); /* any other failure is the step's to report */
    return MN_OK;
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
    MN_TRY(check_input("mn_norm_value", n, A, "the matrix"));
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
    MN_TRY(check_input("mn_norm_dual", n, G, "the gradient"));
    if (!out)
        return mn_fail(MN_ERR_ARG, "%s: out is NULL", n->name);
    double v;
    MN_TRY(n->dual(n, G, &v));
    MN_TRY(check_result(n, "dual norm", "the gradient", v));
    *out = v;
    return MN_OK;
}

static mn_status exact_polar_one(void *ctx, mn_mat *out, const mn_mat *G)
{
    (void)ctx;
    return mn_spectral_polar_exact(out, G);
}

/* What an lmo gets for a NULL provider, so that a norm added from outside
 * can call polar->polar without a case of its own for NULL. */
static const mn_polar_provider exact_polar = {.polar = exact_polar_one};

mn_status mn_norm_lmo(const mn_norm *n, mn_mat *out, const mn_mat *G,
                      const mn_polar_provider *polar)
{
    MN_TRY(check_input("mn_norm_lmo", n, G, "the gradient"));
    MN_TRY(mn_check_mat(n->name, "out", out));
    if (out->rows != G->rows || out->cols != G->cols || out->dtype != G->dtype)
        return mn_fail(MN_ERR_SHAPE, "%s: out is %lldx%lld %s but the gradient is %lldx%lld %s",
                       n->name, (long long)out->rows, (long long)out->cols,
                       mn_dtype_name(out->dtype), (long long)G->rows, (long long)G->cols,
                       mn_dtype_name(G->dtype));
    if (mn_mat_is_zero(G)) {
        mn_mat_fill(out, 0);
        return MN_OK;
    }
    return n->lmo(n, out, G, polar ? polar : &exact_polar);
}
