/* The registry of module kinds, and a leaf's text form `Kind(a1, …, an)`:
 * print and parse. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/registry.h"
#include "modules/kinds.h"
#include "modules/module.h"

/* More numbers than any kind takes: the text form is a handful of sizes. */
#define MAX_ARGS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static mn_plist added;        /* mn_module_maker, registered by the program, in order */
static unsigned long version; /* bumped by every registration */

/* The built-in kinds in order: Linear, Embed, the bonds, LayerNorm, then
 * the attention bonds (attention_bonds.c) and the convolution kinds (conv.c). */
static size_t builtin_count(void)
{
    return 3 + mn_bond_maker_count + mn_attention_maker_count + mn_conv_maker_count;
}

static const mn_module_maker *builtin(size_t i)
{
    if (i == 0)
        return &mn_linear_maker;
    if (i == 1)
        return &mn_embed_maker;
    if (i - 2 < mn_bond_maker_count)
        return &mn_bond_makers[i - 2];
    if (i - 2 == mn_bond_maker_count)
        return &mn_layer_norm_maker;
    i -= 3 + mn_bond_maker_count;
    if (i < mn_attention_maker_count)
        return &mn_attention_makers[i];
    return &mn_conv_makers[i - mn_attention_maker_count];
}

/* Callers hold the lock. */
static const mn_module_maker *at_locked(size_t i)
{
    size_t nb = builtin_count();
    return i < nb ? builtin(i) : i - nb < added.n ? added.p[i - nb] : NULL;
}

static const mn_module_maker *find_locked(const char *kind)
{
    for (size_t i = 0; i < builtin_count() + added.n; i++)
        if (strcmp(at_locked(i)->kind, kind) == 0)
            return at_locked(i);
    return NULL;
}

size_t mn_module_maker_count(void)
{
    pthread_mutex_lock(&lock);
    size_t n = builtin_count() + added.n;
    pthread_mutex_unlock(&lock);
    return n;
}

const mn_module_maker *mn_module_maker_at(size_t i)
{
    pthread_mutex_lock(&lock);
    const mn_module_maker *m = at_locked(i);
    pthread_mutex_unlock(&lock);
    return m;
}

static const char *kind_at(size_t i, void *ctx)
{
    (void)ctx;
    return at_locked(i)->kind;
}

const char *mn_module_kind_names(void)
{
    static mn_names_cache names;
    pthread_mutex_lock(&lock);
    const char *r = mn_names_join(&names, version, builtin_count() + added.n, kind_at, NULL);
    pthread_mutex_unlock(&lock);
    return r;
}

mn_status mn_module_register(const mn_module_maker *maker)
{
    if (!maker)
        return mn_fail(MN_ERR_ARG, "mn_module_register: maker is NULL");
    if (!mn_is_identifier(maker->kind))
        return mn_fail(MN_ERR_ARG, "mn_module_register: the kind name '%s' is not an identifier "
                       "(a letter, then letters, digits or '_')",
                       maker->kind ? maker->kind : "(null)");
    if (!maker->make)
        return mn_fail(MN_ERR_ARG, "mn_module_register: %s has no make function", maker->kind);
    if (maker->min_args < 0 || maker->max_args < maker->min_args || maker->max_args > MAX_ARGS)
        return mn_fail(MN_ERR_ARG, "mn_module_register: %s takes %d to %d arguments; need 0 <= "
                       "min <= max <= %d", maker->kind, maker->min_args, maker->max_args,
                       MAX_ARGS);
    mn_status st = MN_OK;
    pthread_mutex_lock(&lock);
    if (find_locked(maker->kind))
        st = mn_fail(MN_ERR_ARG, "mn_module_register: the module kind '%s' is already registered",
                     maker->kind);
    if (st == MN_OK && (st = mn_plist_push(&added, maker, "mn_module_register")) == MN_OK)
        version++;
    pthread_mutex_unlock(&lock);
    return st;
}

const mn_module_maker *mn_module_find(const char *kind)
{
    if (!kind)
        return NULL;
    pthread_mutex_lock(&lock);
    const mn_module_maker *mk = find_locked(kind);
    pthread_mutex_unlock(&lock);
    return mk;
}

mn_status mn_module_lookup(const char *kind, const mn_module_maker **out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_module_lookup: out is NULL");
    *out = NULL;
    if (!kind)
        return mn_fail(MN_ERR_ARG, "mn_module_lookup: the kind is NULL");
    pthread_mutex_lock(&lock);
    *out = find_locked(kind);
    pthread_mutex_unlock(&lock);
    if (!*out)
        return mn_fail(MN_ERR_ARG, "unknown module kind '%s'; known: %s", kind,
                       mn_module_kind_names());
    return MN_OK;
}

mn_status mn_module_make(mn_module **out, const char *kind, int argc, const double *args)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_module_make: out is NULL");
    *out = NULL;
    const mn_module_maker *mk;
    MN_TRY(mn_module_lookup(kind, &mk));
    if (argc > 0 && !args) /* not "takes 2 arguments, got 2" */
        return mn_fail(MN_ERR_ARG, "mn_module_make: %s: args is NULL for %d argument%s", kind,
                       argc, argc == 1 ? "" : "s");
    if (argc < mk->min_args || argc > mk->max_args) {
        if (mk->min_args == mk->max_args)
            return mn_fail(MN_ERR_ARG, "%s takes %d argument%s (%s), got %d", kind, mk->min_args,
                           mk->min_args == 1 ? "" : "s", mk->usage ? mk->usage : kind, argc);
        return mn_fail(MN_ERR_ARG, "%s takes %d to %d arguments (%s), got %d", kind,
                       mk->min_args, mk->max_args, mk->usage ? mk->usage : kind, argc);
    }
    return mk->make(out, argc, args);
}

mn_status mn_kind_sizes(const char *kind, int argc, const double *args, int64_t sizes[2])
{
    if (argc != 2)
        return mn_fail(MN_ERR_ARG, "%s takes 2 sizes, got %d", kind, argc);
    if (!args)
        return mn_fail(MN_ERR_ARG, "%s: its 2 sizes are NULL", kind);
    for (int i = 0; i < 2; i++) {
        /* exact integers only: 2^53 is far past any size that fits memory;
         * %.17g, as %g would print 10.000000000000002 as "10" */
        if (!(args[i] >= 1 && args[i] <= 0x1p53) || args[i] != floor(args[i]))
            return mn_fail(MN_ERR_ARG, "%s: argument %d (%.17g) is not a positive integer", kind,
                           i + 1, args[i]);
        sizes[i] = (int64_t)args[i];
    }
    return MN_OK;
}

/* ---- text form ---------------------------------------------------------- */

/* The shortest %g form that reads back as v. */
static int format_number(char *buf, size_t cap, double v)
{
    for (int prec = 6; prec < 17; prec++) {
        char tmp[40];
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            return snprintf(buf, cap, "%s", tmp);
    }
    return snprintf(buf, cap, "%.17g", v);
}

mn_status mn_module_print(const mn_module *m, char *buf, size_t cap)
{
    if (!m || !buf || cap == 0)
        return mn_fail(MN_ERR_ARG, "mn_module_print: NULL %s", !m ? "module" : "buffer");
    buf[0] = '\0';
    if (m->compound != MN_LEAF)
        return mn_fail(MN_ERR_UNSUPPORTED, "mn_module_print: %s is a compound; compounds are "
                       "printed by the graph language", mn_module_kind(m));
    double a[MAX_ARGS];
    int n = m->ops->args ? m->ops->args(m, a, MAX_ARGS) : 0;
    if (n < 0 || n > MAX_ARGS)
        return mn_fail(MN_ERR_ARG, "mn_module_print: %s reports %d arguments (0 to %d)",
                       m->ops->kind, n, MAX_ARGS);
    size_t used = (size_t)snprintf(buf, cap, "%s", m->ops->kind);
    for (int i = 0; i < n && used < cap; i++) {
        used += (size_t)snprintf(buf + used, cap - used, "%s", i ? ", " : "(");
        if (used < cap)
            used += (size_t)format_number(buf + used, cap - used, a[i]);
    }
    if (n > 0 && used < cap)
        used += (size_t)snprintf(buf + used, cap - used, ")");
    if (used >= cap) {
        buf[0] = '\0';
        return mn_fail(MN_ERR_ARG, "mn_module_print: %zu bytes are too few for %s's text",
                       cap, m->ops->kind);
    }
    return MN_OK;
}

static const char *skip_space(const char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    return p;
}

mn_status mn_module_parse(mn_module **out, const char *text)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_module_parse: out is NULL");
    *out = NULL;
    if (!text)
        return mn_fail(MN_ERR_ARG, "mn_module_parse: text is NULL");
    const char *p = skip_space(text), *start = p;
    if (!isalpha((unsigned char)*p))
        return mn_fail(MN_ERR_FORMAT, "module text '%s': expected a kind name at column %d",
                       text, (int)(p - text) + 1);
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    char kind[128];
    if ((size_t)(p - start) >= sizeof kind)
        return mn_fail(MN_ERR_FORMAT, "module text '%s': the kind name is over %zu characters",
                       text, sizeof kind - 1);
    memcpy(kind, start, (size_t)(p - start));
    kind[p - start] = '\0';
    double args[MAX_ARGS];
    int n = 0;
    p = skip_space(p);
    if (*p == '(') {
        p = skip_space(p + 1);
        if (*p == ')')
            p++;
        else
            for (;;) {
                char *end;
                double v = strtod(p, &end);
                if (end == p)
                    return mn_fail(MN_ERR_FORMAT, "module text '%s': expected a number at "
                                   "column %d", text, (int)(p - text) + 1);
                if (n == MAX_ARGS)
                    return mn_fail(MN_ERR_FORMAT, "module text '%s': more than %d arguments",
                                   text, MAX_ARGS);
                args[n++] = v;
                p = skip_space(end);
                if (*p == ')') {
                    p++;
                    break;
                }
                if (*p != ',')
                    return mn_fail(MN_ERR_FORMAT, "module text '%s': expected ',' or ')' at "
                                   "column %d", text, (int)(p - text) + 1);
                p = skip_space(p + 1);
            }
        p = skip_space(p);
    }
    if (*p)
        return mn_fail(MN_ERR_FORMAT, "module text '%s': unexpected '%c' at column %d", text, *p,
                       (int)(p - text) + 1);
    return mn_module_make(out, kind, n, args);
}
