/* Internal: the module structure shared by atoms, bonds and compounds.
 *
 * What a kind does is its ops table (modnorm/module_ops.h, public); what one
 * module of that kind remembers is its state block. The fields below are
 * the ones every module has: mass and sensitivity, children (compounds), and
 * for atoms the weight matrix as the norm sees it and where it lives in the
 * network's buffers. Activations are not here: the network owns them
 * (modules/graph.h). */
#ifndef MN_MODULES_MODULE_H
#define MN_MODULES_MODULE_H

#include <stdint.h>

#include "modnorm/module_ops.h"

typedef enum { MN_LEAF = 0, MN_SEQUENTIAL, MN_TUPLE } mn_compound;

/* Who frees a module: its caller (none yet), the compound it is a child of,
 * or the network whose root it is. Set when a compound or a network takes
 * it; every other compound or network then refuses it (a module in two trees
 * would alias one weight view and be freed twice), and mn_module_destroy
 * leaves it to its owner. */
typedef enum { MN_OWNER_NONE = 0, MN_OWNER_COMPOUND, MN_OWNER_NETWORK } mn_owner;

struct mn_module {
    const mn_module_ops *ops; /* leaves; compounds point at an ops that only names them */
    void *state;              /* ops->state_size bytes, owned */
    mn_compound compound;
    const char *label;        /* display name of a compound built by sum/scale/power/... */
    char *own_label;          /* a name given at run time (the graph language's definitions);
                                 label points at it when set */
    double init_scale;        /* atoms: initial weights are multiplied by this (default 1) */
    double mass, sensitivity;
    bool mass_override;       /* tare: the mass the parent sees was set by hand */

    int n_children;
    mn_module **children;

    /* Atoms: weights (d_out, d_in) as the norm sees them. */
    int64_t d_out, d_in;
    const mn_norm *norm;
    float *w, *g;             /* views into the network's buffers */
    int64_t offset;           /* in elements, into those buffers */

    uint64_t *revision;       /* the owning network's count of norm and mass changes */
    mn_owner owner;           /* who frees it (mn_owner) */
};

extern const mn_module_ops mn_sequential_ops, mn_tuple_ops;

/* A leaf of kind `ops` with a zeroed state block, mass and sensitivity. */
mn_status mn_module_new(mn_module **out, const mn_module_ops *ops, const void *state,
                        double mass, double nu);

/* A features callback (mn_module_ops.features) for a kind whose output's
 * last dimension is a size known only at run time: *out = -1 for any inputs. */
mn_status mn_features_at_run_time(const mn_module *m, int n, const int64_t *in, int64_t *out);

/* The SP initialization of an atom's weights W (d_out x fan_in): every entry
 * from U(−1/√fan_in, 1/√fan_in), row by row, PyTorch's default for nn.Linear
 * (fan_in = d_in) and nn.Conv2d (fan_in = d_in·k²). */
void mn_init_uniform_fan_in(mn_mat *W, mn_rng *rng);

/* The output features of m for inputs of in[0..n) features (n = 0:
 * unknown inputs): *out is a fresh array of *n_out entries (one per output:
 * a tuple has its children's), -1 where unknown; the caller frees it. Checks
 * arities and what each module accepts, naming the module. */
mn_status mn_module_features(const mn_module *m, int n, const int64_t *in, int64_t **out,
                             int *n_out);
/* How many tensors m outputs (1 for a leaf). */
int mn_module_output_count(const mn_module *m);
/* Whether a leaf takes n inputs (its ops' arity), and the error if not. */
mn_status mn_module_check_arity(const mn_module *m, int n);

/* The atom's block of a buffer laid out like the weights (p points at its
 * first element) as the d_out x d_in matrix its norm sees. */
mn_mat mn_module_weight_view(const mn_module *m, float *p);

/* MN_OK when m belongs to no compound or network; else MN_ERR_ARG, "WHO:
 * WHAT (m) already belongs to …", for a `taker` that would own it too. */
mn_status mn_module_check_unowned(const mn_module *m, const char *who, const char *what,
                                  mn_owner taker);
/* Free m and its tree whoever owns it: what an owner calls (a compound for
 * its children, a network for its root). mn_module_destroy is this for a
 * module that belongs to nobody, and does nothing otherwise. */
void mn_module_free(mn_module *m);

/* Whether atom m's weight, the d_out x d_in matrix its norm sees, fits norm
 * n (norms/norms.h's mn_norm_check_shape: the shape alone outside a
 * network, the weights themselves for a program's norm inside one): MN_OK,
 * or MN_ERR_ARG "WHO NAME does not fit Linear(6←8): <the norm's reason>".
 * What mn_module_set_norm, mn_network_create, mn_atom_norms_apply and
 * mn_solver_create (cfg.norm) ask. */
mn_status mn_module_check_norm(const mn_module *m, const mn_norm *n, const char *who,
                               const char *name);

/* Name a compound (a copy of `name` is kept; `label` shows it). */
mn_status mn_module_set_label(mn_module *m, const char *name);

/* The registered maker of `kind`, or NULL (NULL kind too) without recording
 * a message: for probes (is this name a kind?) in calls that then succeed,
 * which must not leave a stale mn_last_error() behind. */
const mn_module_maker *mn_module_find(const char *kind);

/* A kind name: a letter, then letters, digits or '_'. */
bool mn_is_identifier(const char *s);

/* Visit the atoms of a tree in forward order. */
typedef mn_status (*mn_atom_visitor)(mn_module *atom, void *ctx);
mn_status mn_module_visit_atoms(mn_module *m, mn_atom_visitor f, void *ctx);

/* Every module of the tree in pre-order. */
typedef void (*mn_module_walker)(mn_module *m, void *ctx);
void mn_module_walk(mn_module *m, mn_module_walker f, void *ctx);

#endif
