/* The graph language's writer: any module tree → text that builds an equal
 * tree. Sums and scalar multiples print in their short forms, compounds
 * named after a kind (LayerNorm) as that kind; every other compound as a
 * chain `(a -> b)` or a tuple `(a, b)` with its name as an annotation. An
 * unnamed composition inside a composition is marked [name = Sequential],
 * or reading it back would splice it into its parent. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "lang/lang.h"
#include "modules/module.h"

typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
    int depth; /* compounds open around the text being written */
} sbuf;

static void put(sbuf *b, const char *fmt, ...) MN_PRINTF(2, 3);

static void put(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    if (!b->s) {
        if (!(b->s = malloc(256))) {
            b->oom = true;
            return;
        }
        b->cap = 256;
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = 2 * b->cap + (size_t)n;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* The shortest %g that reads back as v. */
static void put_number(sbuf *b, double v)
{
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    put(b, "%s", tmp);
}

static mn_status print_module(sbuf *b, const mn_module *m, bool force_name);

/* A leaf's annotations: what differs from a fresh module of its text. */
static mn_status print_leaf(sbuf *b, const mn_module *m)
{
    char text[1024];
    MN_TRY(mn_module_print(m, text, sizeof text));
    put(b, "%s", text);
    if (!mn_module_is_atom(m))
        return MN_OK;
    mn_module *fresh;
    if (mn_module_parse(&fresh, text) != MN_OK)
        return mn_fail(MN_ERR_UNSUPPORTED, "graph print: '%s' does not build back (%s)", text,
                       mn_last_error());
    bool norm = mn_module_is_atom(fresh) && mn_module_norm(fresh) != m->norm;
    mn_module_destroy(fresh);
    const char *sep = " [";
    if (norm) {
        put(b, "%snorm = %s", sep, m->norm->name);
        sep = ", ";
    }
    if (m->mass != 1) {
        put(b, "%smass = ", sep);
        put_number(b, m->mass);
        sep = ", ";
    }
    if (m->init_scale != 1) {
        put(b, "%sinit = ", sep);
        put_number(b, m->init_scale);
        sep = ", ";
    }
    if (sep[0] == ',')
        put(b, "]");
    return MN_OK;
}

static bool is_leaf_kind(const mn_module *m, const char *kind)
{
    return m->compound == MN_LEAF && strcmp(m->ops->kind, kind) == 0;
}

static bool labelled(const mn_module *m, const char *label)
{
    return m->label && strcmp(m->label, label) == 0;
}

/* (a -> b) or (a, b), then [name = …, mass = …]. */
static mn_status print_generic(sbuf *b, const mn_module *m, bool force_name)
{
    bool seq = m->compound == MN_SEQUENTIAL;
    put(b, "(");
    b->depth++;
    for (int i = 0; i < m->n_children; i++) {
        if (i) /* the root's chain one part a line, for reading */
            put(b, seq ? (b->depth == 1 ? "\n  -> " : " -> ") : ", ");
        const mn_module *k = m->children[i];
        /* a part of a chain that is an unnamed chain would be spliced; the only
         * part of a one-part chain would be named itself instead of wrapped */
        bool force = seq && (k->compound == MN_SEQUENTIAL || m->n_children == 1);
        MN_TRY(print_module(b, k, force));
    }
    b->depth--;
    if (!seq && m->n_children == 1)
        put(b, ",");
    put(b, ")");
    const char *name = m->label;
    if (name && (!mn_is_identifier(name) || strlen(name) > MN_GRAPH_MAX_NAME))
        return mn_fail(MN_ERR_UNSUPPORTED, "mn_graph_print: the compound name '%s' is not a "
                       "name of the language (letters, digits, '_'; at most %d)", name,
                       MN_GRAPH_MAX_NAME);
    if (!name && (force_name || (seq && m->n_children == 1)))
        name = seq ? "Sequential" : "Tuple";
    const char *sep = " [";
    if (name) {
        put(b, "%sname = %s", sep, name);
        sep = ", ";
    }
    if (m->mass_override) {
        put(b, "%smass = ", sep);
        put_number(b, m->mass);
        sep = ", ";
    }
    if (sep[0] == ',')
        put(b, "]");
    return MN_OK;
}

/* The text of m alone, generic form (for comparing with a kind's). */
static mn_status generic_text(const mn_module *m, char **out)
{
    sbuf b = {0};
    mn_status st = print_generic(&b, m, false);
    if (st == MN_OK && b.oom)
        st = mn_fail(MN_ERR_NOMEM, "graph print: out of memory");
    if (st != MN_OK) {
        free(b.s);
        return st;
    }
    *out = b.s;
    return MN_OK;
}

/* Whether m is exactly what the kind named by its label builds with no
 * arguments (LayerNorm). */
static bool is_kind_compound(const mn_module *m)
{
    const mn_module_maker *mk = mn_module_find(m->label); /* a probe: no message */
    if (!mk || mk->min_args > 0)
        return false;
    mn_module *fresh;
    if (mn_module_make(&fresh, m->label, 0, NULL) != MN_OK)
        return false;
    char *a = NULL, *b = NULL;
    bool same = fresh->compound != MN_LEAF && generic_text(m, &a) == MN_OK &&
                generic_text(fresh, &b) == MN_OK && strcmp(a, b) == 0;
    free(a);
    free(b);
    mn_module_destroy(fresh);
    return same;
}

static mn_status print_module(sbuf *b, const mn_module *m, bool force_name)
{
    if (m->compound == MN_LEAF)
        return print_leaf(b, m);
    const mn_module *t = m->n_children == 2 ? m->children[0] : NULL;
    if (labelled(m, "Sum") && !m->mass_override && m->compound == MN_SEQUENTIAL && t &&
        t->compound == MN_TUPLE && !t->label && !t->mass_override && t->n_children >= 2 &&
        is_leaf_kind(m->children[1], "Add")) {
        put(b, "(");
        for (int i = 0; i < t->n_children; i++) {
            if (i)
                put(b, " + ");
            MN_TRY(print_module(b, t->children[i], false));
        }
        put(b, ")");
        return MN_OK;
    }
    if (labelled(m, "Scale") && !m->mass_override && m->compound == MN_SEQUENTIAL && t &&
        is_leaf_kind(m->children[1], "Mul")) {
        double a;
        if (m->children[1]->ops->args && m->children[1]->ops->args(m->children[1], &a, 1) == 1) {
            put(b, "(");
            put_number(b, a);
            put(b, " * ");
            MN_TRY(print_module(b, t, false));
            put(b, ")");
            return MN_OK;
        }
    }
    if (is_kind_compound(m)) {
        put(b, "%s", m->label);
        return MN_OK;
    }
    return print_generic(b, m, force_name);
}

mn_status mn_graph_print(const mn_module *m, char **text)
{
    if (!m || !text)
        return mn_fail(MN_ERR_ARG, "mn_graph_print: %s is NULL", !m ? "module" : "text");
    *text = NULL;
    if (mn_lang_tree_depth(m) > MN_GRAPH_MAX_DEPTH + 1)
        return mn_fail(MN_ERR_UNSUPPORTED, "mn_graph_print: the tree is %d compounds deep; the "
                       "language reads at most %d", mn_lang_tree_depth(m) - 1,
                       MN_GRAPH_MAX_DEPTH);
    sbuf b = {0};
    mn_status st = print_module(&b, m, false);
    put(&b, "\n");
    if (st == MN_OK && b.oom)
        st = mn_fail(MN_ERR_NOMEM, "mn_graph_print: out of memory");
    if (st != MN_OK) {
        free(b.s);
        return st;
    }
    *text = b.s;
    return MN_OK;
}
