/* The graph language's builder: a parsed file (lang.h) → a module tree.
 *
 * Every node evaluates to a number or a module. A name of a definition is
 * evaluated afresh at each use, so every use has its own weights, and the
 * result is a compound named after the definition. Bounds: MN_LANG_MAX_DEPTH
 * nested evaluations, MN_LANG_MAX_STEPS in all, MN_GRAPH_MAX_MODULES
 * modules, MN_GRAPH_MAX_POWER copies per power. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "lang/lang.h"
#include "modules/module.h"

typedef struct value {
    bool is_mod;
    bool empty;       /* M^0: nothing, allowed inside a chain only */
    double num;
    mn_module *mod;
} value;

typedef struct ctx {
    const mn_graph_file *g;
    double *pvals;    /* the parameters' values for this build */
    int depth;
    long steps, modules;
} ctx;

static mn_status fail_node(const ctx *c, const node *n, mn_status s, const char *fmt, ...)
    MN_PRINTF(4, 5);

static mn_status fail_node(const ctx *c, const node *n, mn_status s, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mn_fail(s, "%s:%d:%d: %s", c->g->file, n->line, n->col, msg);
}

/* A library call's failure, at the node that made it. */
static mn_status located(const ctx *c, const node *n, mn_status s)
{
    if (s == MN_OK)
        return s;
    return fail_node(c, n, s, "%s", mn_last_error());
}

static void drop(value *v)
{
    if (v->is_mod)
        mn_module_destroy(v->mod);
    *v = (value){0};
}

static mn_status count_module(ctx *c, const node *n)
{
    if (++c->modules > MN_GRAPH_MAX_MODULES)
        return fail_node(c, n, MN_ERR_ARG, "the network has more than %d modules",
                         MN_GRAPH_MAX_MODULES);
    return MN_OK;
}

static mn_status eval(ctx *c, const node *n, value *out);

static mn_status eval_num(ctx *c, const node *n, const char *what, double *out)
{
    *out = 0;
    value v;
    MN_TRY(eval(c, n, &v));
    if (v.is_mod || v.empty) {
        drop(&v);
        return fail_node(c, n, MN_ERR_ARG, "expected a number for %s, got a module", what);
    }
    *out = v.num;
    return MN_OK;
}

static mn_status eval_mod(ctx *c, const node *n, const char *what, mn_module **out)
{
    *out = NULL;
    value v;
    MN_TRY(eval(c, n, &v));
    if (!v.is_mod)
        return fail_node(c, n, MN_ERR_ARG, "expected a module for %s, got %s", what,
                         v.empty ? "nothing (a power of 0 is allowed inside a chain only)"
                                 : "a number");
    *out = v.mod;
    return MN_OK;
}

static mn_status number(const ctx *c, const node *n, double v, value *out)
{
    if (!isfinite(v))
        return fail_node(c, n, MN_ERR_ARG, "the value is not finite");
    *out = (value){.num = v};
    return MN_OK;
}

/* A growing list of modules; destroyed whole on failure. */
typedef struct mod_list {
    mn_module **v;
    int n, cap;
} mod_list;

static void list_free(mod_list *l)
{
    for (int i = 0; i < l->n; i++)
        mn_module_destroy(l->v[i]);
    free(l->v);
    *l = (mod_list){0};
}

static mn_status list_push(mod_list *l, mn_module *m)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 8;
        mn_module **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            mn_module_destroy(m);
            return mn_fail(MN_ERR_NOMEM, "graph: out of memory");
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = m;
    return MN_OK;
}

/* Into a chain: an unnamed composition's parts one by one (composition is
 * associative), anything else whole. */
static mn_status list_splice(mod_list *l, mn_module *m)
{
    if (m->compound != MN_SEQUENTIAL || m->label) {
        return list_push(l, m);
    }
    /* The parts leave m: they belong to no compound until the list's does. */
    for (int i = 0; i < m->n_children; i++)
        m->children[i]->owner = MN_OWNER_NONE;
    mn_status st = MN_OK;
    for (int i = 0; i < m->n_children; i++) {
        if (st == MN_OK)
            st = list_push(l, m->children[i]);
        else
            mn_module_destroy(m->children[i]);
    }
    m->n_children = 0;
    mn_module_destroy(m);
    return st;
}

/* The list as one module: itself when it has one, else an unnamed sequence. */
static mn_status list_sequence(ctx *c, const node *n, mod_list *l, value *out)
{
    if (l->n == 0) {
        free(l->v);
        *out = (value){.empty = true};
        return MN_OK;
    }
    if (l->n == 1) {
        *out = (value){.is_mod = true, .mod = l->v[0]};
        free(l->v);
        return MN_OK;
    }
    mn_status st = count_module(c, n);
    mn_module *m = NULL;
    if (st == MN_OK)
        st = located(c, n, mn_sequential(&m, l->n, l->v));
    else
        list_free(l);
    free(l->v);
    *l = (mod_list){0};
    if (st != MN_OK)
        return st;
    *out = (value){.is_mod = true, .mod = m};
    return MN_OK;
}

/* Name module *m `name`: an unnamed compound takes the name; a leaf or a
 * named compound is wrapped in a one-part composition that has it. */
static mn_status name_module(ctx *c, const node *n, mn_module **m, const char *name)
{
    if ((*m)->compound == MN_LEAF || (*m)->label) {
        MN_TRY(count_module(c, n));
        mn_module *seq = NULL;
        mn_status st = located(c, n, mn_sequential(&seq, 1, m));
        *m = NULL;
        if (st != MN_OK)
            return st;
        *m = seq;
    }
    return located(c, n, mn_module_set_label(*m, name));
}

static mn_status eval_chain(ctx *c, const node *n, value *out)
{
    mod_list l = {0};
    for (int i = 0; i < n->n; i++) {
        value v;
        mn_status st = eval(c, n->kids[i], &v);
        if (st == MN_OK && !v.is_mod && !v.empty)
            st = fail_node(c, n->kids[i], MN_ERR_ARG, "expected a module in the chain, got a "
                           "number");
        if (st == MN_OK && v.is_mod)
            st = list_splice(&l, v.mod);
        if (st != MN_OK) {
            list_free(&l);
            return st;
        }
    }
    if (l.n == 0)
        return fail_node(c, n, MN_ERR_ARG, "the chain is empty: every part is a power of 0");
    return list_sequence(c, n, &l, out);
}

static mn_status eval_power(ctx *c, const node *n, value *out)
{
    value base;
    MN_TRY(eval(c, n->kids[0], &base));
    double k = 0;
    mn_status st = eval_num(c, n->kids[1], "the exponent", &k);
    if (st != MN_OK) {
        drop(&base);
        return st;
    }
    if (!base.is_mod) {
        if (base.empty)
            return fail_node(c, n, MN_ERR_ARG, "a power of a power of 0");
        return number(c, n, pow(base.num, k), out);
    }
    if (!(k >= 0 && k <= MN_GRAPH_MAX_POWER) || k != floor(k)) {
        drop(&base);
        return fail_node(c, n->kids[1], MN_ERR_ARG, "the power %.17g is not a whole number of "
                         "copies in [0, %d]", k, MN_GRAPH_MAX_POWER);
    }
    mod_list l = {0};
    if (k == 0) {
        drop(&base);
    } else {
        st = list_splice(&l, base.mod);
        for (int i = 1; st == MN_OK && i < (int)k; i++) {
            mn_module *copy = NULL;
            if ((st = eval_mod(c, n->kids[0], "the power's base", &copy)) == MN_OK)
                st = list_splice(&l, copy);
        }
        if (st != MN_OK) {
            list_free(&l);
            return st;
        }
    }
    if (k == 1 && l.n == 1) { /* M^1 is M */
        *out = (value){.is_mod = true, .mod = l.v[0]};
        free(l.v);
        return MN_OK;
    }
    return list_sequence(c, n, &l, out);
}

static mn_status eval_add(ctx *c, const node *n, value *out)
{
    value first;
    MN_TRY(eval(c, n->kids[0], &first));
    if (!first.is_mod) {
        double s = first.num;
        for (int i = 1; i < n->n; i++) {
            double t;
            MN_TRY(eval_num(c, n->kids[i], "a sum of numbers", &t));
            s += t;
        }
        return number(c, n, s, out);
    }
    mod_list l = {0};
    mn_status st = list_push(&l, first.mod);
    for (int i = 1; st == MN_OK && i < n->n; i++) {
        mn_module *m = NULL;
        if ((st = eval_mod(c, n->kids[i], "a sum of modules", &m)) == MN_OK)
            st = list_push(&l, m);
    }
    if (st == MN_OK)
        st = count_module(c, n);
    if (st == MN_OK)
        st = count_module(c, n);
    if (st != MN_OK) {
        list_free(&l);
        return st;
    }
    mn_module *m = NULL;
    st = located(c, n, mn_sum_n(&m, l.n, l.v));
    free(l.v);
    if (st != MN_OK)
        return st;
    *out = (value){.is_mod = true, .mod = m};
    return MN_OK;
}

static mn_status scale(ctx *c, const node *n, double a, mn_module *m, value *out)
{
    mn_status st = count_module(c, n);
    if (st == MN_OK)
        st = count_module(c, n);
    if (st != MN_OK) {
        mn_module_destroy(m);
        return st;
    }
    mn_module *s = NULL;
    MN_TRY(located(c, n, mn_scale(&s, a, m)));
    *out = (value){.is_mod = true, .mod = s};
    return MN_OK;
}

static mn_status eval_bin(ctx *c, const node *n, value *out)
{
    value a, b;
    MN_TRY(eval(c, n->kids[0], &a));
    mn_status st = eval(c, n->kids[1], &b);
    if (st != MN_OK) {
        drop(&a);
        return st;
    }
    if (n->op == '*' && a.is_mod != b.is_mod && !a.empty && !b.empty) {
        /* a scalar multiple: a * M or M * a */
        return a.is_mod ? scale(c, n, b.num, a.mod, out) : scale(c, n, a.num, b.mod, out);
    }
    if (a.is_mod || b.is_mod || a.empty || b.empty) {
        drop(&a);
        drop(&b);
        if (n->op == '*')
            return fail_node(c, n, MN_ERR_ARG, "'*' takes two numbers, or a number and a "
                             "module");
        return fail_node(c, n, MN_ERR_ARG, "%s takes numbers, got a module",
                         n->op == '-' ? "'-'" : n->op == '/' ? "'/'" : "a comparison");
    }
    double x = a.num, y = b.num, r;
    switch (n->op) {
    case '*': r = x * y; break;
    case '-': r = x - y; break;
    case '/':
        if (y == 0)
            return fail_node(c, n, MN_ERR_ARG, "division by zero");
        r = x / y;
        break;
    case OP_EQ: r = x == y; break;
    case OP_NE: r = x != y; break;
    case OP_LE: r = x <= y; break;
    case OP_GE: r = x >= y; break;
    case '<': r = x < y; break;
    default: r = x > y; break;
    }
    return number(c, n, r, out);
}

static mn_status eval_leaf(ctx *c, const node *n, value *out)
{
    double args[64];
    if (n->n > 64)
        return fail_node(c, n, MN_ERR_ARG, "%s: more than 64 arguments", n->name);
    for (int i = 0; i < n->n; i++)
        MN_TRY(eval_num(c, n->kids[i], "an argument", &args[i]));
    MN_TRY(count_module(c, n));
    mn_module *m = NULL;
    MN_TRY(located(c, n, mn_module_make(&m, n->name, n->n, args)));
    *out = (value){.is_mod = true, .mod = m};
    return MN_OK;
}

static mn_status eval_name(ctx *c, const node *n, value *out)
{
    if (n->is_param)
        return number(c, n, c->pvals[n->def], out);
    if (n->def < 0)
        return eval_leaf(c, n, out);
    const definition *d = &c->g->defs[n->def];
    MN_TRY(eval(c, d->body, out));
    if (!out->is_mod)
        return MN_OK;
    mn_status st = name_module(c, n, &out->mod, d->name);
    if (st != MN_OK)
        drop(out);
    return st;
}

static mn_status eval_annot(ctx *c, const node *n, value *out)
{
    mn_module *m = NULL;
    MN_TRY(eval_mod(c, n->kids[0], "an annotation", &m));
    mn_status st = MN_OK;
    for (int i = 0; st == MN_OK && i + 1 < n->n; i++) {
        const node *at = n->kids[i + 1];
        double v = 0;
        if (!n->words[i])
            st = eval_num(c, at, "the annotation", &v);
        if (st != MN_OK)
            break;
        switch (n->keys[i]) {
        case A_NORM: st = located(c, n, mn_module_set_norm(m, n->words[i])); break;
        case A_MASS: st = located(c, at, mn_module_set_mass(m, v)); break;
        case A_INIT: st = located(c, at, mn_module_set_init_scale(m, v)); break;
        case A_NAME: st = name_module(c, n, &m, n->words[i]); break;
        }
    }
    if (st != MN_OK) {
        mn_module_destroy(m);
        return st;
    }
    *out = (value){.is_mod = true, .mod = m};
    return MN_OK;
}

static mn_status eval(ctx *c, const node *n, value *out)
{
    *out = (value){0};
    if (++c->steps > MN_LANG_MAX_STEPS)
        return fail_node(c, n, MN_ERR_ARG, "building takes more than %ld steps (definitions "
                         "used many times inside each other)", MN_LANG_MAX_STEPS);
    if (c->depth >= MN_LANG_MAX_DEPTH)
        return fail_node(c, n, MN_ERR_ARG, "definitions nested more than %d levels deep",
                         MN_LANG_MAX_DEPTH);
    c->depth++;
    mn_status st = MN_OK;
    switch (n->kind) {
    case N_NUM: *out = (value){.num = n->num}; break;
    case N_NAME: st = eval_name(c, n, out); break;
    case N_CALL: st = eval_leaf(c, n, out); break;
    case N_CHAIN: st = eval_chain(c, n, out); break;
    case N_ADD: st = eval_add(c, n, out); break;
    case N_BIN: st = eval_bin(c, n, out); break;
    case N_POW: st = eval_power(c, n, out); break;
    case N_ANNOT: st = eval_annot(c, n, out); break;
    case N_NEG: {
        value v;
        if ((st = eval(c, n->kids[0], &v)) != MN_OK)
            break;
        if (v.is_mod)
            st = scale(c, n, -1, v.mod, out);
        else if (v.empty)
            st = fail_node(c, n, MN_ERR_ARG, "'-' of nothing (a power of 0)");
        else
            *out = (value){.num = -v.num};
        break;
    }
    case N_COND: {
        double cond = 0;
        if ((st = eval_num(c, n->kids[0], "the condition of '?'", &cond)) == MN_OK)
            st = eval(c, n->kids[cond != 0 ? 1 : 2], out);
        break;
    }
    case N_TUPLE: {
        mod_list l = {0};
        for (int i = 0; st == MN_OK && i < n->n; i++) {
            mn_module *m = NULL;
            if ((st = eval_mod(c, n->kids[i], "a tuple's part", &m)) == MN_OK)
                st = list_push(&l, m);
        }
        if (st == MN_OK)
            st = count_module(c, n);
        if (st != MN_OK) {
            list_free(&l);
            break;
        }
        mn_module *t = NULL;
        st = located(c, n, mn_tuple(&t, l.n, l.v));
        free(l.v);
        if (st == MN_OK)
            *out = (value){.is_mod = true, .mod = t};
        break;
    }
    }
    c->depth--;
    return st;
}

int mn_lang_tree_depth(const mn_module *m)
{
    int d = 0;
    for (int i = 0; i < m->n_children; i++) {
        int k = mn_lang_tree_depth(m->children[i]);
        if (k > d)
            d = k;
    }
    return d + 1;
}

/* ---- parameters and the entry points ------------------------------------------- */

int mn_graph_param_count(const mn_graph_file *g) { return g ? g->n_params : 0; }

const char *mn_graph_param_name(const mn_graph_file *g, int i)
{
    return g && i >= 0 && i < g->n_params ? g->params[i].name : NULL;
}

static int param_index(const mn_graph_file *g, const char *name)
{
    for (int i = 0; g && name && i < g->n_params; i++)
        if (strcmp(g->params[i].name, name) == 0)
            return i;
    return -1;
}

bool mn_graph_has_param(const mn_graph_file *g, const char *name) { return param_index(g, name) >= 0; }

static mn_status unknown_param(const mn_graph_file *g, const char *name)
{
    char list[512] = "";
    size_t used = 0;
    for (int i = 0; i < g->n_params && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                 g->params[i].name);
    return mn_fail(MN_ERR_ARG, "%s declares no parameter '%s' (%s%s)", g->file, name,
                   g->n_params ? "it declares: " : "it declares none", list);
}

mn_status mn_graph_set(mn_graph_file *g, const char *name, double value)
{
    if (!g || !name)
        return mn_fail(MN_ERR_ARG, "mn_graph_set: %s is NULL", !g ? "graph" : "name");
    int i = param_index(g, name);
    if (i < 0)
        return unknown_param(g, name);
    if (!isfinite(value))
        return mn_fail(MN_ERR_ARG, "%s: parameter %s = %g is not finite", g->file, name, value);
    g->params[i].set = true;
    g->params[i].value = value;
    return MN_OK;
}

mn_status mn_graph_set_text(mn_graph_file *g, const char *text)
{
    if (!g || !text)
        return mn_fail(MN_ERR_ARG, "mn_graph_set_text: %s is NULL", !g ? "graph" : "text");
    const char *eq = strchr(text, '=');
    char name[MN_GRAPH_MAX_NAME + 1];
    if (!eq || eq == text || (size_t)(eq - text) > MN_GRAPH_MAX_NAME)
        return mn_fail(MN_ERR_ARG, "'%s' must be NAME=VALUE, e.g. width=1024", text);
    memcpy(name, text, (size_t)(eq - text));
    name[eq - text] = '\0';
    char *end;
    double v = strtod(eq + 1, &end);
    if (end == eq + 1 || *end || !isfinite(v))
        return mn_fail(MN_ERR_ARG, "'%s': the value '%s' is not a finite number", text, eq + 1);
    return mn_graph_set(g, name, v);
}

/* The parameters' values in order: set, overridden, or the default evaluated. */
static mn_status param_values(ctx *c, const char *extra, double extra_value)
{
    const mn_graph_file *g = c->g;
    for (int i = 0; i < g->n_params; i++) {
        const param *p = &g->params[i];
        if (extra && strcmp(p->name, extra) == 0)
            c->pvals[i] = extra_value;
        else if (p->set)
            c->pvals[i] = p->value;
        else
            MN_TRY(eval_num(c, p->deflt, "a parameter's default", &c->pvals[i]));
    }
    return MN_OK;
}

static mn_status build(const mn_graph_file *g, const char *extra, double extra_value,
                       mn_module **out, double *pvals_out, int want)
{
    double pvals[MN_GRAPH_MAX_PARAMS];
    ctx c = {.g = g, .pvals = pvals};
    MN_TRY(param_values(&c, extra, extra_value));
    if (pvals_out) {
        *pvals_out = pvals[want];
        return MN_OK;
    }
    mn_module *m = NULL;
    MN_TRY(eval_mod(&c, g->net, "the network", &m));
    int depth = mn_lang_tree_depth(m);
    if (depth > MN_GRAPH_MAX_DEPTH + 1) {
        mn_module_destroy(m);
        return fail_node(&c, g->net, MN_ERR_ARG, "the network is %d compounds deep; at most %d",
                         depth - 1, MN_GRAPH_MAX_DEPTH);
    }
    *out = m;
    return MN_OK;
}

mn_status mn_graph_param_value(const mn_graph_file *g, const char *name, double *out)
{
    if (!g || !name || !out)
        return mn_fail(MN_ERR_ARG, "mn_graph_param_value: an argument is NULL");
    int i = param_index(g, name);
    if (i < 0)
        return unknown_param(g, name);
    return build(g, NULL, 0, NULL, out, i);
}

mn_status mn_graph_make_with(const mn_graph_file *g, const char *param, double value,
                              mn_module **out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_graph_make: out is NULL");
    *out = NULL;
    if (!g)
        return mn_fail(MN_ERR_ARG, "mn_graph_make: graph is NULL");
    if (param && param_index(g, param) < 0)
        return unknown_param(g, param);
    if (param && !isfinite(value))
        return mn_fail(MN_ERR_ARG, "%s: parameter %s = %g is not finite", g->file, param, value);
    return build(g, param, value, out, NULL, 0);
}

mn_status mn_graph_make(const mn_graph_file *g, mn_module **out)
{
    return mn_graph_make_with(g, NULL, 0, out);
}

mn_status mn_graph_factory(void *ctx_, const char *param, int64_t value, mn_module **out)
{
    if (!ctx_ || !param || !out)
        return mn_fail(MN_ERR_ARG, "mn_graph_factory: %s is NULL",
                       !ctx_ ? "ctx (an mn_graph_file)" : !param ? "param" : "out");
    return mn_graph_make_with(ctx_, param, (double)value, out);
}
