/* modnorm/module_ops.h — module kinds of one's own: the ops table, its state,
 * and the registry that names kinds in text.
 *
 * A leaf module (an atom with weights, or a bond without) is an ops table
 * (what every module of the kind does) plus a per-module state block (what
 * this one remembers: Mul's scalar, a kernel size). Compounds (sequential,
 * tuple) are built from leaves with module.h and are not defined here.
 *
 * Activations belong to the network (network.h): before a forward with a
 * new input shape the network asks every leaf for its output shape and the
 * floats it keeps for backward (ops->plan), lays all of them out in one
 * buffer per role (outputs, saved statistics, input gradients), and reuses
 * that memory at every later step. A module never allocates during forward
 * or backward; it writes where the call tells it to.
 *
 * The smallest bond (y = 2x) needs a kind name, a forward and a backward:
 *
 *     static mn_status fwd(mn_module *m, const mn_module_call *c) {
 *         for (int64_t i = 0; i < mn_tensor_numel(c->out); i++)
 *             c->out->data[i] = 2 * c->in[0]->data[i];
 *         return MN_OK;
 *     }
 *     static mn_status bwd(mn_module *m, const mn_module_call *c) {
 *         if (c->din[0])
 *             for (int64_t i = 0; i < mn_tensor_numel(c->dout); i++)
 *                 c->din[0]->data[i] = 2 * c->dout->data[i];
 *         return MN_OK;
 *     }
 *     static const mn_module_ops twice = {.kind = "Twice", .forward = fwd, .backward = bwd};
 *     mn_bond_create(&m, &twice, NULL, 2.0);   // sensitivity 2
 *
 * Every field left zero has a default, stated next to it. Tensors passed to
 * ops are contiguous float32, last dimension = features. */
#ifndef MODNORM_MODULE_OPS_H
#define MODNORM_MODULE_OPS_H

#include "modnorm/export.h"
#include "modnorm/module.h"
#include "modnorm/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A tensor shape: dim[0..ndim) (1 <= ndim <= MN_MAX_DIMS). */
typedef struct mn_shape {
    int ndim;
    int64_t dim[MN_MAX_DIMS];
} mn_shape;

/* The shape of m's output for an input of shape `in`, from the leaves'
 * plans as a network's first forward makes them, without running anything
 * or allocating weights: the whole shape settles what
 * mn_module_output_features (module.h) leaves at -1, the width after a
 * Flatten, a pool or a Conv2D. MN_ERR_SHAPE for an input m cannot take
 * (the message of the module that refuses it), an `in` with a negative
 * dimension or an ndim outside 1..MN_MAX_DIMS, and a tree with more than
 * one output; MN_ERR_ARG for a NULL argument. */
MN_API mn_status mn_module_output_shape(const mn_module *m, const mn_shape *in, mn_shape *out);

/* What a leaf needs from the network's activation memory for one input
 * shape. ops->plan receives it filled with the defaults: `out` = input 0's
 * shape, saved = 0, every flag false. */
typedef struct mn_module_plan {
    mn_shape out;      /* the output's shape */
    int64_t saved;     /* floats forward keeps for backward (c->saved) */
    bool out_is_view;  /* the output is input 0's data seen in shape `out` (no copy; forward may
                          be NULL, or must not write c->out) */
    bool din_is_view;  /* every input's gradient is the output gradient's data seen in that
                          input's shape (Add, Flatten; backward may be NULL) */
    bool no_din;       /* the inputs have no gradient (token ids): nothing flows back */
} mn_module_plan;

/* One forward or backward call. The tensors belong to the network. */
typedef struct mn_module_call {
    int n_in;                     /* the number of inputs, >= 1 */
    const mn_tensor *const *in;   /* the inputs, read-only (also during backward) */
    mn_tensor *out;               /* forward writes every element; backward reads it */
    float *saved;                 /* plan.saved floats: forward writes, backward reads */
    const mn_tensor *dout;        /* backward: the gradient of the output (out's shape) */
    mn_tensor *const *din;        /* backward: din[k] receives input k's gradient (every element
                                     overwritten, not accumulated); NULL where no one needs it
                                     (the network's data, an input with no weights upstream) */
    int threads;                  /* BLAS threads the network was given (<= 0: BLAS's choice) */
    mn_precision precision;       /* the network's product precision (mn_network_set_precision):
                                     Linear's products run with bf16 operands when it is
                                     MN_PRECISION_BF16; a kind of one's own passes it to
                                     mn_mat_gemm (tensor.h) to do the same, or ignores it */
} mn_module_call;

/* How many inputs a kind takes (mn_module_ops.arity). */
#define MN_ARITY_ANY (-1)

typedef struct mn_module_ops {
    /* Its name: in descriptions, in the graph language, in the registry.
     * Letters, digits and '_' only, starting with a letter. Required. */
    const char *kind;
    /* The number of inputs: 0 or 1 means one, k > 1 exactly k, MN_ARITY_ANY
     * any number >= 1. Checked before plan and features are called. */
    int arity;
    /* Bytes of per-module state (mn_module_state). 0: none. */
    size_t state_size;

    /* ---- shapes ---------------------------------------------------------
     * features: the output's feature size for inputs of in[0..n) features,
     * checked when a compound is built, before any data. in[k] is -1 where
     * unknown; n is 0 while the inputs themselves are unknown (the module
     * reads a tree's input). Return -1 in *out if it is not known yet. A
     * mismatch is an MN_ERR_SHAPE whose message names the module (with
     * mn_module_describe). NULL: input 0's features (-1 when n is 0). A
     * kind that changes the feature size needs a plan too: the network
     * checks at planning that a known features() answer is plan's last
     * dimension (MN_ERR_ARG naming the kind). */
    mn_status (*features)(const mn_module *m, int n, const int64_t *in, int64_t *out);
    /* plan: for inputs of shapes in[0..n), fill *p (see mn_module_plan).
     * Refuse shapes it cannot take, naming itself. NULL: the defaults (an
     * output of input 0's shape, nothing saved). */
    mn_status (*plan)(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p);

    /* ---- compute ------------------------------------------------------- */
    /* y = f(inputs) into c->out (and c->saved). NULL only for a pure view. */
    mn_status (*forward)(mn_module *m, const mn_module_call *c);
    /* From c->dout (and c->in, c->out, c->saved): every non-NULL c->din[k],
     * and for atoms the weight gradient accumulated (+=) into
     * mn_module_grads(m). NULL only when din_is_view and no weights. */
    mn_status (*backward)(mn_module *m, const mn_module_call *c);

    /* ---- atoms (NULL for bonds: a module is an atom iff it has init) ---- */
    /* Draw the initial weights into mn_module_weights(m): for
     * MN_PARAM_MODULAR a point of unit norm (well-normed) in the norm the
     * atom's sensitivity is stated for (a kind of one's own: its norm's
     * lmo of a Gaussian is the usual choice; Linear keeps the RMS→RMS
     * sphere even under another norm, see mn_param), for MN_PARAM_SP the
     * usual default of the framework it mirrors. */
    mn_status (*init)(mn_module *m, mn_rng *rng, mn_param param);
    /* The weight block at p as the d_out x d_in matrix its norm sees. NULL:
     * row-major (d_out, d_in). (Embed stores its (d, vocab) matrix as
     * (vocab, d) rows and returns the transposed view.) p is NULL before the
     * atom joins a network, when only the view's shape is wanted (whether
     * a norm fits it): build the view, do not read through p. */
    mn_mat (*weight_view)(const mn_module *m, float *p);

    /* ---- state --------------------------------------------------------- */
    /* After the state block was copied byte by byte into a clone's: deep-copy
     * what it points to. NULL: the byte copy is the copy. */
    mn_status (*clone)(const mn_module *from, void *to_state);
    /* Release what the state points to (the block itself is the library's).
     * NULL: nothing to release. */
    void (*destroy)(void *state);

    /* ---- text ---------------------------------------------------------- */
    /* Its numeric arguments in the graph language, `Kind(a1, a2, …)`:
     * writes up to cap of them and returns how many it has. The kind's
     * registered maker must rebuild an equal module from them. NULL: none
     * (it prints as `Kind`). */
    int (*args)(const mn_module *m, double *args, int cap);
    /* A short human description into buf. NULL: atoms "Kind(d_out←d_in)",
     * others their text form with %g ("Mul(-0.7)"). */
    void (*describe)(const mn_module *m, char *buf, size_t cap);
} mn_module_ops;

/* A bond (no weights, mass 0) of kind `ops` with sensitivity ν (Lipschitz
 * constant of the output in the input, >= 0). `state` (NULL: zeros) is
 * copied into the module's ops->state_size-byte state block. ops must
 * outlive the module (a static table). */
MN_API mn_status mn_bond_create(mn_module **out, const mn_module_ops *ops, const void *state,
                                double sensitivity);
/* An atom (ops->init required) whose weight is a d_out x d_in matrix as
 * `norm` sees it (norm required: the caller looks names up with
 * mn_norm_lookup), mass 1 and sensitivity ν. A norm that does not take that
 * shape is refused by mn_network_create (as by mn_module_set_norm). */
MN_API mn_status mn_atom_create(mn_module **out, const mn_module_ops *ops, const void *state,
                                int64_t d_out, int64_t d_in, const mn_norm *norm,
                                double sensitivity);

/* A leaf's ops (NULL for compounds) and its state block (NULL when
 * state_size is 0). */
MN_API const mn_module_ops *mn_module_ops_of(const mn_module *m);
MN_API void *mn_module_state(const mn_module *m);
/* An atom's weight block and its gradient block (d_out·d_in floats each, in
 * the atom's own layout) inside the network's buffers; NULL for bonds and
 * before the atom joins a network. */
MN_API float *mn_module_weights(const mn_module *m);
MN_API float *mn_module_grads(const mn_module *m);

/* The tensor as a (rows, last dim) matrix view (an empty view, data NULL,
 * for NULL or an ndim outside 1..MN_MAX_DIMS). */
MN_API mn_mat mn_tensor_rows(const mn_tensor *t);

/* ---- the registry of kinds ----------------------------------------------
 *
 * A maker builds a module of its kind from the numbers of the text form
 * `Kind(a1, …, an)` (n between min_args and max_args; `Kind` alone is n = 0).
 * The built-in kinds are registered from the start; a program adds its own
 * with mn_module_register, after which mn_module_make and mn_module_parse
 * (and the graph files that read them) know them by name. */
typedef struct mn_module_maker {
    const char *kind;    /* as in ops->kind */
    const char *usage;   /* e.g. "Linear(d_out, d_in)" */
    int min_args, max_args;
    mn_status (*make)(mn_module **out, int argc, const double *args);
} mn_module_maker;

/* Register `maker` (it must outlive its use: a static). Refuses a NULL or
 * incomplete maker, a kind name that is not an identifier, and a kind that
 * is taken. Thread-safe. */
MN_API mn_status mn_module_register(const mn_module_maker *maker);
MN_API mn_status mn_module_lookup(const char *kind, const mn_module_maker **out);
MN_API size_t mn_module_maker_count(void);
MN_API const mn_module_maker *mn_module_maker_at(size_t i);
/* A comma-separated list of the kinds (valid until the next registration). */
MN_API const char *mn_module_kind_names(void);

/* Build a module of `kind` from argc numbers (its maker's checks apply). */
MN_API mn_status mn_module_make(mn_module **out, const char *kind, int argc, const double *args);
/* The text form of a leaf, `Kind` or `Kind(a1, a2, …)` with %.17g numbers
 * (they read back exactly), into buf. A compound is MN_ERR_UNSUPPORTED (the
 * graph language prints those); a buf too small is MN_ERR_ARG. */
MN_API mn_status mn_module_print(const mn_module *m, char *buf, size_t cap);
/* Build a leaf from its text form (spaces allowed around the tokens). */
MN_API mn_status mn_module_parse(mn_module **out, const char *text);

#ifdef __cplusplus
}
#endif
#endif
