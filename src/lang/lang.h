/* Internal: the graph language's syntax tree, shared by the parser
 * (parse.c) and the builder (build.c). */
#ifndef MN_LANG_LANG_H
#define MN_LANG_LANG_H

#include <stdbool.h>

#include "modnorm/graph.h"
#include "modnorm/module_ops.h"

typedef enum {
    N_NUM,   /* num */
    N_NAME,  /* name: a parameter, a definition, or a kind without arguments */
    N_CALL,  /* name(kids…): a kind with arguments */
    N_TUPLE, /* (kids…) with at least one comma */
    N_CHAIN, /* kids[0] -> kids[1] -> … */
    N_ADD,   /* kids[0] + kids[1] + … (numbers: sum; modules: Add ∘ tuple) */
    N_BIN,   /* kids[0] op kids[1]: - / == != < <= > >= (numbers), * (numbers or scale) */
    N_NEG,   /* -kids[0] */
    N_POW,   /* kids[0] ^ kids[1] */
    N_COND,  /* kids[0] ? kids[1] : kids[2] */
    N_ANNOT, /* kids[0] [keys[i] = kids[1 + i] or words[i]] */
} node_kind;

typedef enum { A_NORM, A_MASS, A_INIT, A_NAME } annot_key;

/* Two-character operators stored in `op`. */
enum { OP_EQ = 256, OP_NE, OP_LE, OP_GE };

typedef struct node {
    node_kind kind;
    int line, col;
    int height;        /* 1 + the tallest kid's: bounded by MN_LANG_MAX_HEIGHT */
    int op;            /* N_BIN */
    double num;        /* N_NUM */
    char *name;        /* N_NAME, N_CALL */
    int def;           /* N_NAME: index of the definition or parameter it names, or -1 */
    bool is_param;     /* N_NAME names a parameter */
    int n;
    struct node **kids;
    annot_key *keys;   /* N_ANNOT: n − 1 entries */
    char **words;      /* N_ANNOT: the norm or name of key i, else NULL */
} node;

typedef struct param {
    char *name;
    node *deflt;
    bool set;
    double value;      /* when set */
} param;

typedef struct definition {
    char *name;
    node *body;
} definition;

struct mn_graph_file {
    char *file;
    param *params;
    int n_params;
    definition *defs;
    int n_defs;
    node *net;
};

/* Bounds that keep every recursion over a tree shallow: the syntax tree's
 * height, and the builder's depth (definitions inside definitions) and its
 * total steps (a definition used twice in each of a chain of definitions
 * doubles the work each time). */
#define MN_LANG_MAX_HEIGHT 1000
#define MN_LANG_MAX_DEPTH 2000
#define MN_LANG_MAX_STEPS (1L << 22)

void mn_lang_node_free(node *n);

/* Levels of a module tree: 1 for a leaf (recursion as deep as the tree). */
int mn_lang_tree_depth(const mn_module *m);

#endif
