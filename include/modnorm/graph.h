/* modnorm/graph.h — networks as files: the module-graph language.
 *
 * A graph file names a module tree in text (README, "Networks as files",
 * has the grammar and every kind's arguments, mass and sensitivity):
 *
 *     # a residual MLP; `modnorm train --graph res.mn --set width=1024`
 *     param width = 256
 *     param depth = 4
 *     Block = Identity + 0.5 * (Linear(width, width) -> ReLU -> Linear(width, width) [init = 0])
 *     Linear(width, 784) -> Block^(depth - 2) -> ReLU -> Linear(10, width) [norm = frobenius]
 *
 * `A -> B` runs A then B (composition; a chain's unnamed parts, parenthesized
 * chains and powers, are spliced into it), `(A, B)` is a tuple, `A + B` a
 * sum (Add ∘ tuple), `a * M` a scalar multiple, `M^k` k independent copies
 * in sequence (k = 0 is nothing inside a chain), `NAME = expr` a definition
 * (each use builds fresh modules, a compound named NAME), `param NAME = v`
 * a number the caller may set, `c ? A : B` a choice, `[norm = N, mass = m,
 * init = s, name = L]` annotations, `#` a comment. Kinds and norms a program
 * registered (module_ops.h, norm.h) are known by name.
 *
 * Limits, each a one-line error: MN_GRAPH_MAX_BYTES of text, names of
 * MN_GRAPH_MAX_NAME characters, MN_GRAPH_MAX_NEST levels of nesting in the
 * text, MN_GRAPH_MAX_POWER copies per power, MN_GRAPH_MAX_MODULES modules
 * per tree, trees MN_GRAPH_MAX_DEPTH compounds deep (so that the printed text
 * of any tree the language builds, about two levels of nesting per level of
 * the tree, reads back within MN_GRAPH_MAX_NEST). Errors are "FILE:LINE:COLUMN: what was expected / what went wrong";
 * a shape mismatch names both modules and both feature sizes. */
#ifndef MODNORM_GRAPH_H
#define MODNORM_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modnorm/export.h"
#include "modnorm/module.h"
#include "modnorm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_GRAPH_MAX_BYTES (1 << 20)
#define MN_GRAPH_MAX_NAME 63
#define MN_GRAPH_MAX_NEST 256
#define MN_GRAPH_MAX_DEPTH 100
#define MN_GRAPH_MAX_POWER 4096
#define MN_GRAPH_MAX_MODULES 65536
#define MN_GRAPH_MAX_PARAMS 64

/* A parsed graph file: its parameters (with defaults and values set so
 * far), definitions and network, not yet built. Read-only while building:
 * several threads may build from one graph at once. */
typedef struct mn_graph_file mn_graph_file;

/* Parse `len` bytes of `text` (need not be NUL-terminated); `file` names it
 * in messages (NULL: "<graph>"). Syntax errors and names used before they
 * are defined are found here; errors of values (a shape mismatch, a bad
 * size) when building. MN_ERR_FORMAT with "FILE:LINE:COL: ..." on error. */
MN_API mn_status mn_graph_parse(mn_graph_file **out, const char *text, size_t len, const char *file);
/* Read and parse the file at `path`, a regular file (MN_ERR_IO when it
 * cannot be read, or is a FIFO, a pipe, a device or a socket: refused at
 * once, without waiting for a writer; MN_ERR_FORMAT when over
 * MN_GRAPH_MAX_BYTES). */
MN_API mn_status mn_graph_load(mn_graph_file **out, const char *path);
MN_API void mn_graph_destroy(mn_graph_file *g);

/* The text of examples/mlp.mn, compiled in: the network of `--model mlp`
 * (params width, depth, d_in, d_out; mn_mlp's tree). */
MN_API const char *mn_graph_mlp_text(void);
/* The text of examples/gpt.mn, compiled in: the network of `--model gpt`
 * (params width, depth, dhead, context, vocab, sp; token ids (B, T) in,
 * logits (B, T, vocab) out). */
MN_API const char *mn_graph_gpt_text(void);
/* The text of examples/cnn.mn, compiled in: the network of `--model cnn`
 * (params width, hidden, d_in, d_out; Conv2D, MaxPool, Linear on 28x28). */
MN_API const char *mn_graph_cnn_text(void);

/* The parameters the file declares, in order. */
MN_API int mn_graph_param_count(const mn_graph_file *g);
MN_API const char *mn_graph_param_name(const mn_graph_file *g, int i);
/* Whether the file declares `name`. */
MN_API bool mn_graph_has_param(const mn_graph_file *g, const char *name);
/* Set a declared parameter (a finite number); MN_ERR_ARG naming the
 * declared ones for another name. */
MN_API mn_status mn_graph_set(mn_graph_file *g, const char *name, double value);
/* The same from "NAME=VALUE" (VALUE a decimal number, e.g. --set width=1024). */
MN_API mn_status mn_graph_set_text(mn_graph_file *g, const char *assignment);
/* The value parameter `name` has in a build (the set value, else its
 * default evaluated); MN_ERR_ARG for an undeclared name. */
MN_API mn_status mn_graph_param_value(const mn_graph_file *g, const char *name, double *out);

/* Build the network: a new tree the caller owns (mn_module_destroy, or hand
 * it to mn_network_create). */
MN_API mn_status mn_graph_make(const mn_graph_file *g, mn_module **out);
/* Build with one more parameter set for this build only. */
MN_API mn_status mn_graph_make_with(const mn_graph_file *g, const char *param, double value,
                                     mn_module **out);
/* A model factory (study.h's mn_model_factory) over a graph: ctx is a
 * const mn_graph_file *; `param` must be one the file declares. Thread-safe. */
MN_API mn_status mn_graph_factory(void *ctx, const char *param, int64_t value, mn_module **out);

/* Any tree in the language: text that mn_graph_parse + mn_graph_make turn
 * into an equal tree (kinds, names, feature sizes, norms, masses, init
 * scales; hence sensitivities and targets). *text is malloc'd (free it).
 * MN_ERR_UNSUPPORTED for a leaf whose kind is not registered, and for a
 * tree deeper than MN_GRAPH_MAX_DEPTH (its text would not read back). */
MN_API mn_status mn_graph_print(const mn_module *m, char **text);

#ifdef __cplusplus
}
#endif
#endif
