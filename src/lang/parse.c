/* The graph language's reader: text → tokens → syntax tree (lang.h).
 *
 * Recursive descent, one function per precedence level, lowest first:
 *   cond    := chain [ '?' cond ':' cond ]
 *   chain   := compare { '->' compare }
 *   compare := add [ ('=='|'!='|'<'|'<='|'>'|'>=') add ]
 *   add     := mul { ('+'|'-') mul }
 *   mul     := unary { ('*'|'/') unary }
 *   unary   := '-' unary | power
 *   power   := postfix [ '^' unary ]
 *   postfix := primary { '[' annot { ',' annot } ']' }
 *   primary := NUMBER | NAME [ '(' [ cond { ',' cond } ] ')' ] | '(' cond { ',' cond } [','] ')'
 * Nesting is counted where the descent recurses (cond, unary) and refused
 * past MN_GRAPH_MAX_NEST, so no input can exhaust the stack. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/common.h"
#include "lang/lang.h"
#include "modules/module.h"

typedef enum { T_END, T_NUM, T_NAME, T_PUNCT } tok_type;

typedef struct token {
    tok_type type;
    int op; /* T_PUNCT: the character, or OP_* / OP_ARROW */
    size_t start, len;
    int line, col;
    double num;
} token;

enum { OP_ARROW = 300 };

typedef struct parser {
    const char *text;
    size_t len;
    const char *file;
    token *toks;
    size_t n_toks, pos;
    int nest;
    mn_graph_file *g;
} parser;

/* ---- errors ---------------------------------------------------------------- */

static mn_status fail_at(const parser *p, int line, int col, const char *fmt, ...)
    MN_PRINTF(4, 5);

static mn_status fail_at(const parser *p, int line, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mn_fail(MN_ERR_FORMAT, "%s:%d:%d: %s", p->file, line, col, msg);
}

/* How a token reads in a message: 'Linear', '->', "the end of the file". */
static const char *shown(const parser *p, const token *t, char *buf, size_t cap)
{
    if (t->type == T_END)
        return "the end of the file";
    snprintf(buf, cap, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), p->text + t->start);
    return buf;
}

static mn_status expected(const parser *p, const char *what)
{
    char b[64];
    const token *t = &p->toks[p->pos];
    return fail_at(p, t->line, t->col, "expected %s, got %s", what, shown(p, t, b, sizeof b));
}

/* ---- tokens ----------------------------------------------------------------- */

static mn_status tokenize(parser *p)
{
    size_t cap = 64, n = 0;
    p->toks = malloc(cap * sizeof *p->toks);
    if (!p->toks)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", p->file);
    int line = 1;
    size_t line_start = 0, i = 0;
    for (;;) {
        while (i < p->len) { /* spaces and comments */
            char c = p->text[i];
            if (c == '\n') {
                line++;
                line_start = ++i;
            } else if (c == ' ' || c == '\t' || c == '\r') {
                i++;
            } else if (c == '#') {
                while (i < p->len && p->text[i] != '\n')
                    i++;
            } else {
                break;
            }
        }
        if (n + 1 >= cap) {
            token *t = realloc(p->toks, 2 * cap * sizeof *t);
            if (!t)
                return mn_fail(MN_ERR_NOMEM, "%s: out of memory", p->file);
            p->toks = t;
            cap *= 2;
        }
        token *t = &p->toks[n];
        *t = (token){.type = T_END, .start = i, .line = line, .col = (int)(i - line_start) + 1};
        if (i >= p->len) {
            n++;
            break;
        }
        unsigned char c = (unsigned char)p->text[i];
        if (isalpha(c) || c == '_') {
            size_t j = i;
            while (j < p->len && (isalnum((unsigned char)p->text[j]) || p->text[j] == '_'))
                j++;
            if (j - i > MN_GRAPH_MAX_NAME)
                return fail_at(p, t->line, t->col, "a name of %zu characters; names have at "
                               "most %d", j - i, MN_GRAPH_MAX_NAME);
            t->type = T_NAME;
            t->len = j - i;
        } else if (isdigit(c) || (c == '.' && i + 1 < p->len &&
                                  isdigit((unsigned char)p->text[i + 1]))) {
            size_t j = i;
            while (j < p->len && (isdigit((unsigned char)p->text[j]) || p->text[j] == '.'))
                j++;
            if (j < p->len && (p->text[j] == 'e' || p->text[j] == 'E')) {
                size_t k = j + 1;
                if (k < p->len && (p->text[k] == '+' || p->text[k] == '-'))
                    k++;
                if (k < p->len && isdigit((unsigned char)p->text[k])) {
                    while (k < p->len && isdigit((unsigned char)p->text[k]))
                        k++;
                    j = k;
                }
            }
            char buf[64];
            char *end;
            if (j - i >= sizeof buf)
                return fail_at(p, t->line, t->col, "a number of %zu characters (at most %zu)",
                               j - i, sizeof buf - 1);
            memcpy(buf, p->text + i, j - i);
            buf[j - i] = '\0';
            t->num = strtod(buf, &end);
            if (*end || !isfinite(t->num))
                return fail_at(p, t->line, t->col, "'%s' is not a finite number", buf);
            t->type = T_NUM;
            t->len = j - i;
        } else {
            static const struct {
                const char *s;
                int op;
            } two[] = {{"->", OP_ARROW}, {"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE},
                       {">=", OP_GE}};
            t->type = T_PUNCT;
            t->len = 1;
            t->op = c;
            for (size_t k = 0; k < sizeof two / sizeof two[0]; k++)
                if (i + 1 < p->len && p->text[i] == two[k].s[0] && p->text[i + 1] == two[k].s[1]) {
                    t->op = two[k].op;
                    t->len = 2;
                }
            if (i == 0 && p->len >= 3 && memcmp(p->text, "\xef\xbb\xbf", 3) == 0)
                return fail_at(p, t->line, t->col, "the file starts with a UTF-8 byte-order "
                               "mark: save it without one");
            if (t->len == 1 && !strchr("()[],=+-*/^?:<>;.", c))
                return fail_at(p, t->line, t->col, c >= 32 && c < 127
                                                        ? "unexpected character '%c'"
                                                        : "unexpected byte 0x%02x",
                               c);
        }
        i += t->len;
        n++;
    }
    p->n_toks = n;
    return MN_OK;
}

static const token *peek(const parser *p) { return &p->toks[p->pos]; }

static bool is_op(const parser *p, int op)
{
    return peek(p)->type == T_PUNCT && peek(p)->op == op;
}

static bool accept(parser *p, int op)
{
    if (!is_op(p, op))
        return false;
    p->pos++;
    return true;
}

static bool is_word(const parser *p, size_t at, const char *w)
{
    const token *t = &p->toks[at];
    return t->type == T_NAME && t->len == strlen(w) && memcmp(p->text + t->start, w, t->len) == 0;
}

static char *copy_name(const parser *p, const token *t)
{
    char *s = malloc(t->len + 1);
    if (s) {
        memcpy(s, p->text + t->start, t->len);
        s[t->len] = '\0';
    }
    return s;
}

/* ---- nodes ------------------------------------------------------------------- */

void mn_lang_node_free(node *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->n; i++)
        mn_lang_node_free(n->kids[i]);
    if (n->words)
        for (int i = 0; i + 1 < n->n; i++)
            free(n->words[i]);
    free(n->kids);
    free(n->keys);
    free(n->words);
    free(n->name);
    free(n);
}

static node *new_node(node_kind kind, const token *at)
{
    node *n = calloc(1, sizeof *n);
    if (n) {
        n->kind = kind;
        n->line = at->line;
        n->col = at->col;
        n->def = -1;
        n->height = 1;
    }
    return n;
}

/* Append kid to n->kids (taking it: freed on failure). */
static mn_status add_kid(const parser *p, node *n, node *kid)
{
    if (kid->height >= MN_LANG_MAX_HEIGHT) {
        mn_status st = fail_at(p, kid->line, kid->col, "an expression nested more than %d "
                               "operators deep", MN_LANG_MAX_HEIGHT);
        mn_lang_node_free(kid);
        return st;
    }
    if (kid->height + 1 > n->height)
        n->height = kid->height + 1;
    if (n->n % 8 == 0) {
        node **k = realloc(n->kids, (size_t)(n->n + 8) * sizeof *k);
        if (!k) {
            mn_lang_node_free(kid);
            return mn_fail(MN_ERR_NOMEM, "%s: out of memory", p->file);
        }
        n->kids = k;
    }
    n->kids[n->n++] = kid;
    return MN_OK;
}

static mn_status nomem(const parser *p) { return mn_fail(MN_ERR_NOMEM, "%s: out of memory", p->file); }

/* ---- expressions ---------------------------------------------------------------- */

static mn_status parse_cond(parser *p, node **out);
static mn_status parse_unary(parser *p, node **out);

static mn_status enter(parser *p)
{
    if (++p->nest > MN_GRAPH_MAX_NEST) {
        const token *t = peek(p);
        return fail_at(p, t->line, t->col, "nested more than %d levels deep", MN_GRAPH_MAX_NEST);
    }
    return MN_OK;
}

/* Resolve a name: a parameter, then a definition made before, then a kind. */
static mn_status resolve(parser *p, node *n, bool call)
{
    const mn_graph_file *g = p->g;
    for (int i = 0; i < g->n_params && !call; i++)
        if (strcmp(g->params[i].name, n->name) == 0) {
            n->def = i;
            n->is_param = true;
            return MN_OK;
        }
    for (int i = 0; i < g->n_defs && !call; i++)
        if (strcmp(g->defs[i].name, n->name) == 0) {
            n->def = i;
            return MN_OK;
        }
    if (mn_module_find(n->name)) /* a probe: no message when it is not a kind */
        return MN_OK;
    if (call)
        return fail_at(p, n->line, n->col, "unknown module kind '%s' (known: %s)", n->name,
                       mn_module_kind_names());
    /* a definition further down: names are defined before they are used */
    size_t len = strlen(n->name);
    for (size_t i = 0; i + 1 < p->n_toks; i++) {
        const token *t = &p->toks[i], *u = &p->toks[i + 1];
        if (t->type == T_NAME && t->len == len && memcmp(p->text + t->start, n->name, len) == 0 &&
            u->type == T_PUNCT && u->op == '=' && t->line > n->line)
            return fail_at(p, n->line, n->col, "unknown name '%s': it is defined below, at line "
                           "%d; define a name before the line that uses it", n->name, t->line);
    }
    return fail_at(p, n->line, n->col, "unknown name '%s': not a parameter, a definition made "
                   "above, or a module kind (known kinds: %s)", n->name, mn_module_kind_names());
}

/* A norm or label in an annotation: adjacent letters, digits, '-', '.', '_'
 * ("rms-rms", "schatten-1.5"). */
static mn_status parse_word(parser *p, char **out)
{
    const token *first = peek(p);
    if (first->type != T_NAME)
        return expected(p, "a name");
    size_t end = first->start + first->len;
    p->pos++;
    for (;;) {
        const token *t = peek(p);
        bool joins = t->start == end && (t->type == T_NAME || t->type == T_NUM ||
                                         (t->type == T_PUNCT && (t->op == '-' || t->op == '.')));
        if (!joins)
            break;
        end = t->start + t->len;
        p->pos++;
    }
    if (end - first->start > 127)
        return fail_at(p, first->line, first->col, "a name of %zu characters (at most 127)",
                       end - first->start);
    *out = malloc(end - first->start + 1);
    if (!*out)
        return nomem(p);
    memcpy(*out, p->text + first->start, end - first->start);
    (*out)[end - first->start] = '\0';
    return MN_OK;
}

static mn_status parse_annotations(parser *p, node **inout)
{
    const token *at = peek(p);
    node *a = new_node(N_ANNOT, at);
    if (!a)
        return nomem(p);
    mn_status st = add_kid(p, a, *inout);
    *inout = a;
    if (st != MN_OK)
        return st;
  next_block:
    p->pos++; /* '[' */
    do {
        static const char *const keys[] = {"norm", "mass", "init", "name"};
        int key = -1;
        for (int k = 0; k < 4; k++)
            if (is_word(p, p->pos, keys[k]))
                key = k;
        if (key < 0)
            return expected(p, "an annotation: norm, mass, init or name");
        p->pos++;
        if (!accept(p, '='))
            return expected(p, "'='");
        int i = a->n - 1;
        if (i % 8 == 0) {
            annot_key *k = realloc(a->keys, (size_t)(i + 8) * sizeof *k);
            if (k)
                a->keys = k;
            char **w = k ? realloc(a->words, (size_t)(i + 8) * sizeof *w) : NULL;
            if (w)
                a->words = w;
            if (!k || !w)
                return nomem(p);
        }
        a->keys[i] = (annot_key)key;
        a->words[i] = NULL;
        node *value = NULL;
        if (key == A_NORM || key == A_NAME) {
            char *word;
            MN_TRY(parse_word(p, &word));
            if (key == A_NAME && (strchr(word, '-') || strchr(word, '.'))) {
                free(word);
                const token *t = &p->toks[p->pos - 1];
                return fail_at(p, t->line, t->col, "a name is letters, digits and '_'");
            }
            /* a placeholder kid keeps kids and keys aligned */
            if (!(value = new_node(N_NUM, at))) {
                free(word);
                return nomem(p);
            }
            a->words[i] = word;
        } else {
            mn_status st = parse_cond(p, &value);
            if (st != MN_OK) {
                mn_lang_node_free(value);
                return st;
            }
        }
        MN_TRY(add_kid(p, a, value));
    } while (accept(p, ','));
    if (!accept(p, ']'))
        return expected(p, "',' or ']' after an annotation");
    if (is_op(p, '[')) /* M [a = 1] [b = 2]: one node, so that no chain of them is deep */
        goto next_block;
    return MN_OK;
}

/* Comma-separated conds into n's kids until `close`; a trailing comma allowed
 * when `trailing` (tuples), reported in *comma. */
static mn_status parse_list(parser *p, node *n, int close, bool *comma)
{
    *comma = false;
    if (accept(p, close))
        return MN_OK;
    for (;;) {
        node *kid = NULL;
        mn_status st = parse_cond(p, &kid);
        if (st != MN_OK) {
            mn_lang_node_free(kid);
            return st;
        }
        MN_TRY(add_kid(p, n, kid));
        if (accept(p, close))
            return MN_OK;
        if (!accept(p, ','))
            return expected(p, close == ')' ? "',' or ')'" : "','");
        *comma = true;
        if (accept(p, close))
            return MN_OK;
    }
}

static mn_status parse_primary(parser *p, node **out)
{
    const token *t = peek(p);
    if (t->type == T_NUM) {
        if (!(*out = new_node(N_NUM, t)))
            return nomem(p);
        (*out)->num = t->num;
        p->pos++;
        return MN_OK;
    }
    if (t->type == T_NAME) {
        if (is_word(p, p->pos, "param"))
            return expected(p, "a module or a number ('param' starts a declaration)");
        bool call = p->pos + 1 < p->n_toks && p->toks[p->pos + 1].type == T_PUNCT &&
                    p->toks[p->pos + 1].op == '(';
        node *n = new_node(call ? N_CALL : N_NAME, t);
        if (!n || !(n->name = copy_name(p, t))) {
            mn_lang_node_free(n);
            return nomem(p);
        }
        *out = n;
        p->pos += call ? 2 : 1;
        MN_TRY(resolve(p, n, call));
        if (call) {
            bool comma;
            MN_TRY(parse_list(p, n, ')', &comma));
        }
        return MN_OK;
    }
    if (is_op(p, '(')) {
        node *n = new_node(N_TUPLE, t);
        if (!n)
            return nomem(p);
        *out = n;
        p->pos++;
        bool comma;
        MN_TRY(parse_list(p, n, ')', &comma));
        if (n->n == 0)
            return fail_at(p, t->line, t->col, "empty parentheses: expected a module or a number");
        if (!comma) { /* grouping: a parenthesized sum is one term of an outer one */
            if (n->kids[0]->kind == N_ADD)
                n->kids[0]->op = '(';
            *out = n->kids[0];
            n->n = 0;
            mn_lang_node_free(n);
        }
        return MN_OK;
    }
    return expected(p, "a module, a name, a number or '('");
}

static mn_status parse_postfix(parser *p, node **out)
{
    MN_TRY(parse_primary(p, out));
    if (is_op(p, '['))
        MN_TRY(parse_annotations(p, out));
    return MN_OK;
}

/* A binary node of kids a, b at token `at` (taking both). */
static mn_status binary(parser *p, node_kind kind, int op, const token *at, node **a, node *b)
{
    node *n = new_node(kind, at);
    if (!n) {
        mn_lang_node_free(b);
        return nomem(p);
    }
    n->op = op;
    mn_status st = add_kid(p, n, *a);
    *a = n;
    if (st != MN_OK) {
        mn_lang_node_free(b);
        return st;
    }
    return add_kid(p, n, b);
}

static mn_status parse_power(parser *p, node **out)
{
    MN_TRY(parse_postfix(p, out));
    if (is_op(p, '^')) {
        const token *at = peek(p);
        p->pos++;
        node *k = NULL;
        mn_status st = parse_unary(p, &k);
        if (st != MN_OK) {
            mn_lang_node_free(k);
            return st;
        }
        return binary(p, N_POW, '^', at, out, k);
    }
    return MN_OK;
}

static mn_status parse_unary(parser *p, node **out)
{
    MN_TRY(enter(p));
    mn_status st;
    if (is_op(p, '-')) {
        node *n = new_node(N_NEG, peek(p));
        if (!n)
            return nomem(p);
        *out = n;
        p->pos++;
        node *kid = NULL;
        st = parse_unary(p, &kid);
        if (kid && add_kid(p, n, kid) != MN_OK && st == MN_OK)
            st = nomem(p);
    } else {
        st = parse_power(p, out);
    }
    p->nest--;
    return st;
}

/* Left-associative levels: `next` for the operands, `ops` the operators. */
typedef mn_status (*level_fn)(parser *, node **);

static mn_status parse_left(parser *p, node **out, level_fn next, const int *ops, int n_ops,
                            node_kind kind)
{
    MN_TRY(next(p, out));
    for (;;) {
        int op = -1;
        for (int i = 0; i < n_ops; i++)
            if (is_op(p, ops[i]))
                op = ops[i];
        if (op < 0)
            return MN_OK;
        const token *at = peek(p);
        p->pos++;
        node *b = NULL;
        mn_status st = next(p, &b);
        if (st != MN_OK) {
            mn_lang_node_free(b);
            return st;
        }
        node_kind k = kind;
        if (kind == N_ADD && op == '-')
            k = N_BIN;
        if (k == N_ADD && (*out)->kind == N_ADD && (*out)->op == 0) {
            /* a + b + c: one sum of three (mn_sum_n), as the printer writes it */
            MN_TRY(add_kid(p, *out, b));
            continue;
        }
        MN_TRY(binary(p, k, op, at, out, b));
        (*out)->op = k == N_ADD ? 0 : op; /* 0: a sum more terms may join */
    }
}

static mn_status parse_mul(parser *p, node **out)
{
    static const int ops[] = {'*', '/'};
    return parse_left(p, out, parse_unary, ops, 2, N_BIN);
}

static mn_status parse_add(parser *p, node **out)
{
    static const int ops[] = {'+', '-'};
    return parse_left(p, out, parse_mul, ops, 2, N_ADD);
}

static mn_status parse_compare(parser *p, node **out)
{
    MN_TRY(parse_add(p, out));
    static const int ops[] = {OP_EQ, OP_NE, OP_LE, OP_GE, '<', '>'};
    for (int i = 0; i < 6; i++)
        if (is_op(p, ops[i])) {
            const token *at = peek(p);
            p->pos++;
            node *b = NULL;
            mn_status st = parse_add(p, &b);
            if (st != MN_OK) {
                mn_lang_node_free(b);
                return st;
            }
            return binary(p, N_BIN, ops[i], at, out, b);
        }
    return MN_OK;
}

static mn_status parse_chain(parser *p, node **out)
{
    MN_TRY(parse_compare(p, out));
    if (!is_op(p, OP_ARROW))
        return MN_OK;
    node *n = new_node(N_CHAIN, peek(p));
    if (!n)
        return nomem(p);
    mn_status st = add_kid(p, n, *out);
    *out = n;
    while (st == MN_OK && accept(p, OP_ARROW)) {
        node *b = NULL;
        st = parse_compare(p, &b);
        if (st != MN_OK)
            mn_lang_node_free(b);
        else
            st = add_kid(p, n, b);
    }
    return st;
}

static mn_status parse_cond(parser *p, node **out)
{
    *out = NULL;
    MN_TRY(enter(p));
    mn_status st = parse_chain(p, out);
    if (st == MN_OK && is_op(p, '?')) {
        node *n = new_node(N_COND, peek(p));
        if (!n) {
            p->nest--;
            return nomem(p);
        }
        p->pos++;
        st = add_kid(p, n, *out);
        *out = n;
        node *kid = NULL;
        if (st == MN_OK && (st = parse_cond(p, &kid)) == MN_OK)
            st = add_kid(p, n, kid);
        else
            mn_lang_node_free(kid);
        if (st == MN_OK && !accept(p, ':'))
            st = expected(p, "':' (the other branch of '?')");
        kid = NULL;
        if (st == MN_OK && (st = parse_cond(p, &kid)) == MN_OK)
            st = add_kid(p, n, kid);
        else
            mn_lang_node_free(kid);
    }
    p->nest--;
    return st;
}

/* ---- statements ------------------------------------------------------------------ */

static bool name_taken(const mn_graph_file *g, const char *name)
{
    for (int i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i].name, name) == 0)
            return true;
    for (int i = 0; i < g->n_defs; i++)
        if (strcmp(g->defs[i].name, name) == 0)
            return true;
    return false;
}

/* `param NAME = expr` or `NAME = expr`. */
static mn_status parse_declaration(parser *p, bool is_param)
{
    mn_graph_file *g = p->g;
    const token *name_tok = peek(p);
    if (name_tok->type != T_NAME || is_word(p, p->pos, "param"))
        return expected(p, "a parameter's name");
    char *name = copy_name(p, name_tok);
    if (!name)
        return nomem(p);
    if (name_taken(g, name) || mn_module_find(name)) {
        mn_status st = fail_at(p, name_tok->line, name_tok->col, "'%s' is already %s", name,
                               name_taken(g, name) ? "defined" : "a module kind");
        free(name);
        return st;
    }
    p->pos++;
    if (!accept(p, '=')) {
        free(name);
        return expected(p, "'='");
    }
    if (is_param && g->n_params == MN_GRAPH_MAX_PARAMS) {
        free(name);
        return fail_at(p, name_tok->line, name_tok->col, "more than %d parameters",
                       MN_GRAPH_MAX_PARAMS);
    }
    node *body = NULL;
    mn_status st = parse_cond(p, &body);
    if (st != MN_OK) {
        free(name);
        mn_lang_node_free(body);
        return st;
    }
    if (is_param) {
        g->params[g->n_params++] = (param){.name = name, .deflt = body};
        return MN_OK;
    }
    if (g->n_defs % 16 == 0) {
        definition *d = realloc(g->defs, (size_t)(g->n_defs + 16) * sizeof *d);
        if (!d) {
            free(name);
            mn_lang_node_free(body);
            return nomem(p);
        }
        g->defs = d;
    }
    g->defs[g->n_defs++] = (definition){.name = name, .body = body};
    return MN_OK;
}

static mn_status parse_file(parser *p)
{
    mn_graph_file *g = p->g;
    for (;;) {
        while (accept(p, ';'))
            ;
        const token *t = peek(p);
        if (t->type == T_END)
            break;
        if (is_word(p, p->pos, "param")) {
            p->pos++;
            MN_TRY(parse_declaration(p, true));
        } else if (t->type == T_NAME && p->toks[p->pos + 1].type == T_PUNCT &&
                   p->toks[p->pos + 1].op == '=') {
            MN_TRY(parse_declaration(p, false));
        } else {
            if (g->net)
                return fail_at(p, t->line, t->col, "a second network expression (a file has "
                               "one; name parts with NAME = ...)");
            MN_TRY(parse_cond(p, &g->net));
        }
    }
    if (!g->net) {
        const token *t = peek(p);
        return fail_at(p, t->line, t->col, "no network: expected an expression after the "
                       "definitions");
    }
    return MN_OK;
}

void mn_graph_destroy(mn_graph_file *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_params; i++) {
        free(g->params[i].name);
        mn_lang_node_free(g->params[i].deflt);
    }
    for (int i = 0; i < g->n_defs; i++) {
        free(g->defs[i].name);
        mn_lang_node_free(g->defs[i].body);
    }
    free(g->params);
    free(g->defs);
    mn_lang_node_free(g->net);
    free(g->file);
    free(g);
}

mn_status mn_graph_parse(mn_graph_file **out, const char *text, size_t len, const char *file)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_graph_parse: out is NULL");
    *out = NULL;
    if (!file)
        file = "<graph>";
    if (!text && len > 0)
        return mn_fail(MN_ERR_ARG, "mn_graph_parse: text is NULL");
    if (len > MN_GRAPH_MAX_BYTES)
        return mn_fail(MN_ERR_FORMAT, "%s: %zu bytes; a graph file has at most %d", file, len,
                       MN_GRAPH_MAX_BYTES);
    mn_graph_file *g = calloc(1, sizeof *g);
    if (g)
        g->params = calloc(MN_GRAPH_MAX_PARAMS, sizeof *g->params);
    if (g)
        g->file = strdup(file);
    if (!g || !g->params || !g->file) {
        mn_graph_destroy(g);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", file);
    }
    parser p = {.text = text ? text : "", .len = len, .file = g->file, .g = g};
    mn_status st = tokenize(&p);
    if (st == MN_OK)
        st = parse_file(&p);
    free(p.toks);
    if (st != MN_OK) {
        mn_graph_destroy(g);
        return st;
    }
    *out = g;
    return MN_OK;
}

mn_status mn_graph_load(mn_graph_file **out, const char *path)
{
    if (!out || !path)
        return mn_fail(MN_ERR_ARG, "mn_graph_load: %s is NULL", !out ? "out" : "path");
    *out = NULL;
    /* A regular file, as every file modnorm reads: opened without waiting,
     * so that a FIFO is refused at once instead of blocking in open (and a
     * pipe, `--graph <(...)`, is refused too: commands that read the file
     * twice would find it empty the second time). */
    struct stat sb;
    FILE *f = mn_io_fopen_read(path, &sb);
    if (!f)
        return mn_fail(MN_ERR_IO, "cannot read the graph file %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) { /* a directory: EISDIR below */
        fclose(f);
        return mn_fail(MN_ERR_IO, "cannot read the graph file %s: it is a %s, not a regular "
                       "file", path, S_ISFIFO(sb.st_mode) ? "pipe or FIFO"
                                     : S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode) ? "device"
                                                                                 : "socket");
    }
    char *buf = malloc(MN_GRAPH_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, MN_GRAPH_MAX_BYTES + 1, f);
    bool err = ferror(f);
    int e = errno; /* fread's reason (EISDIR for a directory), before fclose */
    fclose(f);
    mn_status st;
    if (err)
        st = mn_fail(MN_ERR_IO, "cannot read the graph file %s: %s", path, strerror(e));
    else if (n > MN_GRAPH_MAX_BYTES)
        st = mn_fail(MN_ERR_FORMAT, "%s: over %d bytes; a graph file has at most that", path,
                     MN_GRAPH_MAX_BYTES);
    else
        st = mn_graph_parse(out, buf, n, path);
    free(buf);
    return st;
}
