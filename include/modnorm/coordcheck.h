/* modnorm/coordcheck.h — μP's coordinate check (Yang et al., "Tensor
 * Programs V: Tuning Large Neural Networks via Zero-Shot Hyperparameter
 * Transfer", 2022).
 *
 * For each value of one size parameter of a model (width by default), the
 * network the model factory builds is trained on one fixed batch — the first
 * `batch` examples of a dataset, softmax cross-entropy — for `steps` steps
 * at a constant learning rate. At every step t = 0..steps, for every leaf
 * module m (atoms and bonds, in forward order; its output h_t on that batch):
 *   mean_abs    mean |h_t|
 *   rel_change  ‖h_t − h_0‖_F / ‖h_0‖_F  (0 when both are 0; +∞ when h_0 is 0 and h_t is not)
 *   change_rms  RMS(h_t − h_0), the size of the change per coordinate
 *   update      atoms, t ≥ 1: the RMS→RMS operator norm of W_t − W_{t−1}
 *               (the d_out x d_in matrix as the atom's norm sees it)
 * An entry that is the same infinity at steps 0 and t (a causal mask's −∞)
 * is left out of the first three (and of the count the means divide by).
 * A model reading token ids (a GPT) runs on text windows: `dim` positions per
 * example and a label per position (mn_dataset.labels_per_row = dim). 
 * A quantity is flat across values when between any two values v1 < v2 it
 * differs by at most tol^(log4(v2/v1)) at every step 1..steps, i.e. by at
 * most tol between values 4x apart. rel_change, change_rms and update are
 * judged; mean_abs is reported only (modular initialization shrinks a first
 * layer narrower than its input by √(width/d_in) by design).
 *
 * Values run one after another in the calling thread (BLIS may use
 * `threads`); the records are deterministic at a fixed seed, thread count
 * and denormal mode (the CLI flushes subnormals: mn_flush_denormals). */
#ifndef MODNORM_COORDCHECK_H
#define MODNORM_COORDCHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "modnorm/data.h"
#include "modnorm/export.h"
#include "modnorm/module.h"
#include "modnorm/status.h"
#include "modnorm/study.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_COORDCHECK_DEFAULT_TOLERANCE 1.2
/* The polar method training uses by default (mn_polar_default() is the exact
 * "svd", a reference rather than a training method). */
#define MN_COORDCHECK_DEFAULT_METHOD "polar-express"

/* The recorded quantities, in the CSV's column order. */
typedef enum mn_coord_quantity {
    MN_COORD_MEAN_ABS = 0,
    MN_COORD_REL_CHANGE,
    MN_COORD_CHANGE_RMS,
    MN_COORD_UPDATE,
    MN_COORD_N_QUANTITIES
} mn_coord_quantity;

/* The CSV column name of q ("mean_abs", "rel_change", "change_rms",
 * "update"); NULL for a value outside the enum. */
MN_API const char *mn_coord_quantity_name(mn_coord_quantity q);

typedef struct mn_coordcheck_config {
    const char *size_param; /* the factory's parameter to vary; NULL: "width". Letters,
                               digits, '_' and '-' (it names the CSV's first column) */
    const char *opt;        /* solver preset (mn_solver_preset); NULL: "muon" */
    mn_param param;         /* initialization and per-atom targets: modular or sp */
    double lr;              /* the constant rate, finite and >= 0; NAN: the preset's for `param` */
    int steps;              /* training steps, >= 1 (records steps 0..steps) */
    int64_t batch;          /* the fixed batch: the dataset's first `batch` examples */
    uint64_t seed;          /* initialization seed (mn_network_create) */
    const char *method;     /* polar method (mn_polar_lookup); NULL: the default, polar-express */
    double tolerance;       /* flatness tolerance per 4x of the parameter, finite and >= 1 */
    int threads;            /* BLIS threads per call, network and polar (<= 0: BLIS's choice) */
    /* Optional: called before value `index` (of the sorted values) is trained. */
    void (*progress)(void *ctx, int index, int64_t value);
    void *progress_ctx;
    /* The products' precision (tensor.h; 0: fp32): the polar iteration's
     * (mn_dualize_opts.precision) and the network's (mn_network_set_precision),
     * to see whether the coordinates stay flat with bf16 products. */
    mn_precision polar_precision, net_precision;
} mn_coordcheck_config;

/* The defaults: width, muon, modular, the preset's rate (NAN), 5 steps, a
 * batch of 128, seed 0, polar-express, tolerance 1.2, 1 thread, no progress
 * (nothing for a NULL cfg). */
MN_API void mn_coordcheck_defaults(mn_coordcheck_config *cfg);

/* The flatness judgement of one quantity of one module. */
typedef struct mn_coord_verdict {
    bool judged;    /* false for mean_abs, and for update of a module without weights */
    bool flat;      /* worst <= tolerance (within 1e-12 relative); true when not judged */
    double worst;   /* the ratio per 4x of the parameter: the max over steps
                       1..steps and value pairs v1 < v2 of
                       max(h(v2)/h(v1), h(v1)/h(v2))^(1/log4(v2/v1)); 1 when no pair
                       differs; +∞ when a pair has a record that is +∞, or one that is
                       0 while the other is not; pairs with a missing record (NAN) or
                       two 0s are skipped */
    int worst_step; /* the first step where it is reached (1 when worst is 1) */
} mn_coord_verdict;

typedef struct mn_coordcheck_result {
    char *size_param;   /* e.g. "width" */
    int n_values;
    int64_t *values;    /* ascending */
    int steps;          /* records at steps 0..steps */
    int n_modules;      /* leaf modules in forward order, the same at every value */
    char **kinds;       /* n_modules names (mn_module_kind): "Linear", "ReLU", ... */
    bool *is_atom;      /* n_modules */
    double lr;          /* the constant rate used */
    double *data;       /* read with mn_coordcheck_value */

    /* The judgement at `tolerance` (mn_coordcheck_judge): per module and
     * quantity, verdicts[m * MN_COORD_N_QUANTITIES + q]; per quantity,
     * whether every judged module is flat, and the judged module with the
     * largest worst ratio (the first on ties; -1 when none is judged). */
    double tolerance;
    mn_coord_verdict *verdicts;
    bool flat[MN_COORD_N_QUANTITIES];
    int worst_module[MN_COORD_N_QUANTITIES];
} mn_coordcheck_result;

/* Run the coordinate check of the model `factory` builds (called with
 * cfg->size_param and each value; its trees are freed here) at the
 * `n_values` >= 1 distinct positive `values` (any order; the result lists
 * them ascending; one value records but compares nothing, so every verdict
 * is flat: the CLI asks for two), on `data` (n >= cfg->batch examples of `dim` features;
 * labels in [0, C) for a model with C outputs). On success *out is a new
 * result; free it with mn_coordcheck_free. Errors: MN_ERR_ARG for a bad
 * argument or setting (named), the factory's status, MN_ERR_SHAPE when two
 * values give different leaf modules (a coordinate check compares the same
 * modules across values, so a parameter that changes the module list, such
 * as depth, cannot be checked) and for an output that is not one row of
 * logits per label of the batch (as mn_fit refuses it), MN_ERR_UNSUPPORTED
 * for a leaf whose output is not one contiguous tensor, and the network's,
 * the loss's or the solver's errors. */
MN_API mn_status mn_coordcheck_run(mn_model_factory factory, void *factory_ctx,
                                   const int64_t *values, int n_values,
                                   const mn_dataset *data, const mn_coordcheck_config *cfg,
                                   mn_coordcheck_result **out);

/* What mn_coordcheck_run checks of the values before it trains any, for a
 * caller to refuse a grid before loading data: the `n_values` values are
 * distinct (MN_ERR_ARG naming the one listed twice) and the models the
 * factory builds for them (with size_param; NULL: "width") have the same leaf
 * modules in forward order (MN_ERR_SHAPE naming two values, as for depth),
 * or the factory's status. */
MN_API mn_status mn_coordcheck_check_values(mn_model_factory factory, void *factory_ctx,
                                            const char *size_param, const int64_t *values,
                                            int n_values);

/* The record of value index v, step t, module m, quantity q; NAN where there
 * is none (update at step 0 or of a bond) or the indices are out of range. */
MN_API double mn_coordcheck_value(const mn_coordcheck_result *r, int v, int t, int m,
                                  mn_coord_quantity q);

/* (Re)judge flatness at `tolerance` (finite, >= 1): fills r->tolerance,
 * r->verdicts, r->flat and r->worst_module. mn_coordcheck_run has judged at
 * cfg->tolerance already. */
MN_API mn_status mn_coordcheck_judge(mn_coordcheck_result *r, double tolerance);

/* The records as CSV: a header "<size_param>,step,module,kind,mean_abs,
 * rel_change,change_rms,update", then one row per value, step and module
 * (in that nesting), numbers as %.17g (they round-trip), missing ones empty.
 * write_csv writes to an open stream (MN_ERR_IO when it reports an error);
 * save_csv writes `path` through the temporary file `path`.tmp renamed into
 * place (MN_ERR_IO naming the file when writing fails). */
MN_API mn_status mn_coordcheck_write_csv(const mn_coordcheck_result *r, FILE *f);
MN_API mn_status mn_coordcheck_save_csv(const mn_coordcheck_result *r, const char *path);

MN_API void mn_coordcheck_free(mn_coordcheck_result *r);

#ifdef __cplusplus
}
#endif
#endif
