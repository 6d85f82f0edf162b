/* Internal: a module tree flattened into the leaves' calls, with the
 * network's activation memory.
 *
 * Built once from the tree (mn_graph_build): every leaf is a step, in
 * forward order; every tensor a step reads or writes is a value (value 0 is
 * the network's input); a step's inputs are edges to values. Sequential
 * compounds pass a child's outputs to the next child, tuples hand the same
 * inputs to every child and list their outputs together.
 *
 * Planned for one input shape (mn_graph_plan, on the first forward and when
 * the shape changes): each leaf's ops->plan gives its output shape, the
 * floats it keeps for backward and which tensors are views; then one buffer
 * (llm.c's layout: one region per role, outputs, saved statistics, input
 * gradients, gradient sums) holds every tensor the network computes. The
 * buffer only grows: steps with a shape seen before reuse it as it is.
 *
 * Backward runs the steps in reverse. A value read by several steps gets the
 * sum of their input gradients, in forward order, in a buffer of its own; a
 * value read once borrows its reader's. A step runs backward only when its
 * output's gradient reaches something that needs it (weights, or the
 * network's input when mn_network_keep_input_grad asked for it). */
#ifndef MN_MODULES_GRAPH_H
#define MN_MODULES_GRAPH_H

#include "modules/module.h"

typedef struct mn_graph_step {
    mn_module *m;
    int in_first, n_in; /* its edges */
    int out;            /* its output value */
    mn_module_plan plan;
    float *saved;
    bool run_backward;
} mn_graph_step;

typedef struct mn_graph {
    int n_steps, n_values, n_edges, n_nodes;
    mn_graph_step *steps;
    int root_out, n_root_out; /* the root's output values (a network has one) */

    /* edges, step after step */
    int *edge_value;
    const mn_tensor **edge_in;  /* forward: the tensors of a step's inputs */
    mn_tensor **edge_din;       /* backward: where a step writes its input gradients */
    mn_tensor *din_hdr;         /* their headers, when not views */
    bool *edge_wanted;          /* this step's gradient for this input is used */

    /* values */
    const mn_tensor **val;      /* the tensor of each value (val[0]: the caller's x) */
    mn_tensor *val_hdr;
    mn_shape *shape;
    bool *need;                 /* its gradient serves weights or a wanted input gradient */
    int *contrib_first, *contrib_n, *contrib; /* wanted edges into each value */
    mn_tensor *sum_hdr;         /* the gradient of a value read by several steps */
    mn_tensor **grad;           /* backward: each value's gradient (NULL: none) */

    /* modules in pre-order, with their output and input values (visitor) */
    const mn_module **node;
    int *node_out_first, *node_n_out, *node_in_first, *node_n_in, *node_depth;
    int *node_vals;             /* the lists above index into this */
    const mn_tensor **node_tensors; /* node_vals' tensors after the last forward */
    int n_node_vals;

    mn_precision precision;     /* of the leaves' products (mn_network_set_precision) */

    /* the plan */
    bool planned, scheduled, scheduled_keep, forwarded;
    mn_shape planned_in;
    float *arena;
    size_t arena_floats;
} mn_graph;

mn_status mn_graph_build(mn_graph *g, mn_module *root);
void mn_graph_free(mn_graph *g);

/* y = the root's output for x; plans first when x's shape is new. */
mn_status mn_graph_forward(mn_graph *g, const mn_tensor *x, bool keep_input_grad, int threads,
                           const mn_tensor **y);
/* After a successful forward: every step's backward from dy. */
mn_status mn_graph_backward(mn_graph *g, const mn_tensor *dy, bool keep_input_grad, int threads);
/* The input's gradient after the last backward, NULL when it was not kept. */
const mn_tensor *mn_graph_input_grad(const mn_graph *g);

#endif
