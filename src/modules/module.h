/* Internal: the module structure shared by atoms, bonds and compounds.
 *
 * A module's forward reads an input value (one tensor, or a tuple for Add)
 * and leaves its output in m->out; backward reads the output gradient and
 * leaves the input gradient in m->din, accumulating weight gradients (+=)
 * into the network's gradient buffer through m->g. Tensors in out/din are
 * owned by the module when `owns_out`/`owns_din` say so; otherwise they are
 * borrowed from a child or from the caller and stay valid until the next
 * forward/backward. */
#ifndef MN_MODULES_MODULE_H
#define MN_MODULES_MODULE_H

#include "modnorm/module.h"
#include "modnorm/rng.h"

#define MN_MAX_TUPLE 8

typedef struct mn_value {
    int n;
    mn_tensor *t[MN_MAX_TUPLE];
} mn_value;

typedef struct mn_module_ops {
    const char *kind;
    /* Feature size of the output for an input of `in` features (-1 unknown);
     * a mismatch is an error naming the module. */
    mn_status (*out_features)(const mn_module *m, int64_t in, int64_t *out);
    mn_status (*forward)(mn_module *m, const mn_value *in, int threads);
    mn_status (*backward)(mn_module *m, const mn_value *dout, int threads);
    /* Atoms: fill the weights m->w with the initialization. */
    mn_status (*init)(mn_module *m, mn_rng *rng, mn_param param);
} mn_module_ops;

struct mn_module {
    const mn_module_ops *ops;
    const char *label;  /* display name of a compound built by sum/scale/power/... */
    double mass, sensitivity;
    bool mass_override; /* tare: the mass the parent sees was set by hand */

    int n_children;
    mn_module **children;

    /* Atoms: weights (d_out, d_in) as the norm sees them. */
    int64_t d_out, d_in;
    const mn_norm *norm;
    bool transposed;    /* stored as (d_in, d_out) row-major (Embed) */
    float *w, *g;       /* views into the network's buffers */
    int64_t offset;     /* in elements, into those buffers */

    double a;           /* Mul's scalar */

    bool input_is_data; /* reads the network's input: no input gradient to compute */
    mn_value in;        /* borrowed: the input of the last forward */
    mn_value out, din;
    bool owns_out, owns_din;
    mn_tensor *scratch; /* per-row statistics kept for backward */
};

/* Allocate a module with no children; kind-specific fields are the caller's. */
mn_status mn_module_new(mn_module **out, const mn_module_ops *ops, double mass, double nu);

/* Make *t a contiguous tensor of this shape, reusing its storage when the
 * size has not grown. */
mn_status mn_tensor_ensure(mn_tensor **t, int ndim, const int64_t *shape);
/* The tensor as (rows, last dim). */
mn_mat mn_tensor_rows(const mn_tensor *t);

mn_status mn_module_forward(mn_module *m, const mn_value *in, int threads);
mn_status mn_module_backward(mn_module *m, const mn_value *dout, int threads);
mn_status mn_module_out_features(const mn_module *m, int64_t in, int64_t *out);

/* A one-tensor value. */
static inline mn_value mn_value_of(mn_tensor *t)
{
    mn_value v = {.n = 1};
    v.t[0] = t;
    return v;
}

/* The atom's block of a buffer laid out like the weights (p points at its
 * first element) as the d_out x d_in matrix its norm sees. */
mn_mat mn_module_weight_view(const mn_module *m, float *p);

/* Visit the atoms of a tree in forward order. */
typedef mn_status (*mn_atom_visitor)(mn_module *atom, void *ctx);
mn_status mn_module_visit_atoms(mn_module *m, mn_atom_visitor f, void *ctx);


extern const mn_module_ops mn_sequential_ops, mn_tuple_ops;

#endif
