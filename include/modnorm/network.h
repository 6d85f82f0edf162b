/* modnorm/network.h — a module tree with its weights, forward, backward and
 * losses.
 *
 * The network owns one weight buffer and one gradient buffer, each laid out
 * atom after atom in forward order; atoms hold views into them. Any other
 * buffer with this layout (momentum, updates) can be read atom by atom with
 * mn_network_atom_view.
 *
 * It also owns the activations: at the first forward, and again when the
 * input's shape changes, it asks every leaf for its output shape and what it
 * keeps for backward (module_ops.h) and lays them out in one buffer (outputs,
 * saved statistics, input gradients, gradient sums: one region per role, as
 * llm.c does). Later steps of a seen shape reuse that memory: a training step
 * allocates nothing. The buffer only grows (to the largest batch seen). */
#ifndef MODNORM_NETWORK_H
#define MODNORM_NETWORK_H

#include "modnorm/export.h"
#include "modnorm/module.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_network mn_network;

/* Take ownership of `root` (also on failure), allocate the buffers and
 * initialize every atom from `seed`. Free with mn_network_destroy. A root
 * that already belongs to another network or to a compound is refused
 * (MN_ERR_ARG) and left to its owner: two networks on one tree would share
 * its weight views. */
MN_API mn_status mn_network_create(mn_network **out, mn_module *root, mn_param param, uint64_t seed);
MN_API void mn_network_destroy(mn_network *net);
/* How many times an atom's norm or a module's mass in the tree changed
 * (mn_module_set_norm, mn_module_set_mass) since the network was made: a
 * solver compares it with the revision it last read and re-reads norms and
 * targets when it differs. */
MN_API uint64_t mn_network_revision(const mn_network *net);
/* Re-draw every atom's initial weights (MN_ERR_ARG for a NULL net or a
 * parametrization outside the enum). */
MN_API mn_status mn_network_init(mn_network *net, mn_param param, uint64_t seed);

/* BLIS threads per call (<= 0: BLIS's choice). A NULL net: set does
 * nothing, get returns 0. */
MN_API void mn_network_set_threads(mn_network *net, int threads);
MN_API int mn_network_threads(const mn_network *net);

/* The forward and backward products of Linear atoms: MN_PRECISION_FP32 (the
 * default) or MN_PRECISION_BF16, where x, W and dy are rounded to bfloat16
 * (nearest even) at every product, which accumulates in float32 onto float32
 * outputs; weights, activations and gradients stay float32 (the "master
 * weights" of mixed precision). Through oneDNN on CPUs with AVX512-BF16 or
 * AMX-BF16, else widened back to float32 and multiplied by BLIS: the same
 * products, summed in another order (so runs differ in the last bits from
 * the first step on), and bf16 subnormals kept where oneDNN's kernels read
 * them as zero; slower than float32. mn_polar_bf16_impl() names which runs.
 * Conv2D, attention's per-head products, Embed and the losses ignore it.
 * Change it between steps, not between a forward and its backward (not
 * checked). Networks are independent: each may have its own, on its own
 * thread. MN_ERR_ARG for a NULL net or a value outside the enum; the getter
 * answers MN_PRECISION_FP32 for NULL. */
MN_API mn_status mn_network_set_precision(mn_network *net, mn_precision precision);
MN_API mn_precision mn_network_precision(const mn_network *net);

/* y = net(x). *y is owned by the network, valid until the next forward.
 * MN_ERR_ARG for a NULL argument or x's data NULL (tensor.h); MN_ERR_SHAPE
 * for a shape the network cannot take or a strided x. */
MN_API mn_status mn_network_forward(mn_network *net, const mn_tensor *x, const mn_tensor **y);
/* Accumulate (+=) the weight gradients of <dy, net(x)> for the last x.
 * MN_ERR_ARG for a NULL argument, dy's data NULL, and before any successful
 * forward (the message says to run one first); MN_ERR_SHAPE for a strided
 * dy and for a dy whose shape is not the output's (the same element count
 * in another shape too), naming both shapes. */
MN_API mn_status mn_network_backward(mn_network *net, const mn_tensor *dy);
/* Whether backward also computes d<dy, net(x)>/dx (off by default: training
 * does not need it, and skipping it saves a third of a first Linear layer's
 * backward), and that gradient after the last backward (NULL when off, or
 * when the input is token ids). */
MN_API void mn_network_keep_input_grad(mn_network *net, bool keep);
MN_API const mn_tensor *mn_network_input_grad(const mn_network *net);
MN_API void mn_network_zero_grad(mn_network *net);

/* The getters answer a NULL net with NULL or 0 (zero_grad does nothing). */
MN_API const mn_module *mn_network_root(const mn_network *net);
MN_API int64_t mn_network_param_count(const mn_network *net);
MN_API float *mn_network_weights(mn_network *net);
MN_API float *mn_network_grads(mn_network *net);
MN_API int mn_network_atom_count(const mn_network *net);
/* Atom i, or NULL when i is outside [0, mn_network_atom_count). */
MN_API const mn_module *mn_network_atom(const mn_network *net, int i);
/* Atom i's block of `buffer` (laid out like the weights) as its d_out x d_in
 * matrix; the empty view (0 x 0, data NULL, refused by the norms and polar
 * functions) for a NULL net or buffer and for i outside the atoms. */
MN_API mn_mat mn_network_atom_view(const mn_network *net, int i, float *buffer);

/* ---- walking the module tree -------------------------------------------
 *
 * mn_network_visit hands every module of the tree to a callback, in forward
 * order: pre-order, a compound first and then its children in the order they
 * run (sequential) or their tuple order, so the leaves (atoms and bonds)
 * come in the order forward runs them. This is how code outside the module
 * layer reads what each module computed (the coordinate check does). */
typedef struct mn_module_visit {
    int index;                     /* 0, 1, … in walk order (compounds count too) */
    int depth;                     /* 0 for the root; a child is its compound's + 1 */
    int atom;                      /* its index among the atoms (mn_network_atom, the
                                      weight layout's order), -1 if not an atom */
    const mn_module *module;
    /* The output of the last mn_network_forward, read-only: one tensor for
     * atoms and bonds, a sequential's last child's, a tuple's children's in
     * order. n_outputs is 0 (outputs NULL) before the first forward. The
     * tensors belong to the network (some borrow the caller's input x, e.g.
     * Identity and Flatten): valid until the next mn_network_forward, the
     * destruction of the network, or the end of x's life, whichever is
     * first. After a forward that failed they are unspecified. */
    int n_outputs;
    const mn_tensor *const *outputs;
    /* Its inputs in that forward, on the same terms (the network's input x
     * for the modules that read it). */
    int n_inputs;
    const mn_tensor *const *inputs;
} mn_module_visit;

/* Return MN_OK to go on; any other status stops the walk. */
typedef mn_status (*mn_module_visitor)(void *ctx, const mn_module_visit *v);

/* Walk `net`'s tree in forward order, calling f(ctx, v) once per module; `v`
 * is valid during the call only. Returns MN_OK, MN_ERR_ARG (NULL net or f),
 * or the status the callback stopped with (its message if it set one, else
 * one naming the module). */
MN_API mn_status mn_network_visit(const mn_network *net, mn_module_visitor f, void *ctx);

/* Softmax cross-entropy averaged over rows: logits (B, C), labels (B) in
 * [0, C); or logits (B, T, C) (any leading dims), a row and a label per
 * position (B·T labels, row-major), averaged over the B·T rows (a sequence
 * model's loss per token). dlogits (logits' shape) may be NULL or logits
 * itself (written in place); `correct`
 * (may be NULL) counts argmax hits. MN_ERR_ARG for a NULL argument or data
 * (tensor.h), a label outside [0, C), and logits without a row or a class
 * (no mean to take, as mn_evaluate refuses an empty dataset); MN_ERR_SHAPE
 * for fewer than 2 dims, a strided tensor, or a dlogits of another shape;
 * a bad label is refused before dlogits is written. One thread (the
 * library's own training loops share the rows among the network's threads,
 * with the same bits). */
MN_API mn_status mn_loss_cross_entropy(const mn_tensor *logits, const int32_t *labels, double *loss,
                                       mn_tensor *dlogits, int64_t *correct);
/* Mean squared error over every element; dpred may be NULL. target and dpred
 * have pred's shape (MN_ERR_SHAPE otherwise, also for a strided tensor);
 * MN_ERR_ARG for a NULL argument or data and for a pred without elements. */
MN_API mn_status mn_loss_mse(const mn_tensor *pred, const mn_tensor *target, double *loss,
                             mn_tensor *dpred);

#ifdef __cplusplus
}
#endif
#endif
