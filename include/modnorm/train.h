/* modnorm/train.h — the fit loop: batches in, steps of a solver, a result out.
 *
 * One training run is: build the network from a module tree (initialize it
 * from the seed, apply atom-norm overrides), make a solver from a preset and
 * the settings, then for every step take the next batch from a batch source,
 * forward, softmax cross-entropy against the labels, backward, solver step;
 * finally evaluate on a held-out dataset. `modnorm train` and every run of a
 * sweep are exactly this (bit-identical at the same seed and thread count).
 *
 * Step and epoch accounting: an epoch is `per_epoch` batches (a dataset's
 * n / batch: the last incomplete batch is dropped); a run takes `steps`
 * steps, or ceil(epochs · per_epoch) when steps is 0, and at least one.
 *
 * Divergence: a run whose training loss becomes non-finite stops at once
 * and is marked diverged (its losses +inf, its accuracy NAN: nothing was
 * evaluated). Sweeps and the train command add a second rule,
 * mn_fit_judge: a run whose final training
 * loss is above twice its first training loss also diverged, and so did one
 * whose update overflowed, and one whose test loss is not finite or is above
 * twice that first loss while its training loss stayed above 90% of it (a
 * blown-up network can have dead ReLUs and zero logits: a training loss of
 * exactly ln C, and a test loss of 1e30; a network that learned its training
 * data and does badly on test data that differ from it has not diverged). */
#ifndef MODNORM_TRAIN_H
#define MODNORM_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modnorm/data.h"
#include "modnorm/dist.h"
#include "modnorm/export.h"
#include "modnorm/network.h"
#include "modnorm/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The polar method training uses for spectral norms unless told otherwise. */
#define MN_FIT_DEFAULT_POLAR "polar-express"
/* The sweep's rule (mn_fit_judge): a final training loss above this × the first
 * step's loss diverged, and so did a test loss above it when training stalled. */
#define MN_FIT_DIVERGENCE_FACTOR 2.0
/* A training loss above this share of the first one made no real progress. */
#define MN_FIT_STALLED 0.9

/* ---- batch sources --------------------------------------------------------- */

/* Where training batches come from. `next` fills x, a contiguous (batch, dim)
 * float tensor, and labels (batch · labels_per_row entries, classes in
 * [0, C)): for a classifier one label a row and a network output (batch, C);
 * for a sequence model (text.h) labels_per_row = T labels a row, the next
 * token at each position, and an output (batch, T, C): the loss is the mean
 * over the batch·T rows. The fit loop calls `next` once per step from one
 * thread. `destroy` (may be NULL) frees ctx. */
typedef struct mn_batch_source {
    int64_t batch;     /* rows per batch, >= 1 */
    int64_t dim;       /* features per row, >= 1 */
    int64_t per_epoch; /* batches per epoch, >= 1 (for epochs and mn_fit_step.epoch) */
    void *ctx;
    mn_status (*next)(void *ctx, mn_tensor *x, int32_t *labels);
    void (*destroy)(void *ctx);
    int64_t labels_per_row; /* labels a row; 0 or 1: one (a zeroed field keeps old sources) */
} mn_batch_source;

/* Shuffled mini-batches of `data` (an mn_batcher: a fresh Fisher–Yates
 * permutation per epoch from its own RNG seeded with `seed`, the last
 * incomplete batch dropped; per_epoch = n / batch). `data` must outlive the
 * source. Errors: MN_ERR_ARG for a NULL or empty dataset, a dataset without
 * labels, or batch outside [1, n]. Free with mn_batch_source_destroy. */
MN_API mn_status mn_batch_source_dataset(mn_batch_source *out, const mn_dataset *data,
                                         int64_t batch, uint64_t seed);
/* The mn_batcher behind a source made by mn_batch_source_dataset (its
 * permutation, position, epoch and RNG are the data-order state a
 * checkpoint saves), or NULL for any other source. */
MN_API mn_batcher *mn_batch_source_batcher(const mn_batch_source *src);
/* Data-parallel training (dist.h): this rank's rows [lo, hi) of every batch
 * of `global` (mn_dist_shard; it records the shard's weight), with each
 * row's labels (global->labels_per_row of them). `global` is borrowed (every rank draws the same batches from its own
 * copy of it, so the data order is rank 0's); out->per_epoch is global's.
 * MN_ERR_ARG when global->batch is below the ranks. */
MN_API mn_status mn_batch_source_shard(mn_batch_source *out, mn_batch_source *global,
                                       mn_dist *d);
/* Call src->destroy and clear *src; safe on a zeroed or destroyed source. */
MN_API void mn_batch_source_destroy(mn_batch_source *src);

/* ---- settings ---------------------------------------------------------------- */

/* Atom `atom` (0-based, forward order) is measured in norm `norm` (a name
 * mn_norm_lookup knows, e.g. "frobenius"); `norm` is borrowed. */
typedef struct mn_atom_norm {
    int atom;
    const char *norm;
} mn_atom_norm;

/* Everything that decides a training run besides the model and the data. */
typedef struct mn_train_settings {
    const char *opt;           /* solver preset: muon, sgd, sign, adam (adamw) */
    mn_param param;            /* modular or sp (init and targets) */
    double lr;                 /* learning rate η; NAN: the preset's default */
    double momentum;           /* β; NAN: the preset's default */
    bool nesterov;
    double weight_decay;       /* decoupled λ, >= 0 */
    mn_schedule schedule;
    int64_t warmup;            /* steps of linear warmup, >= 0 */
    const char *polar_method;  /* NULL: MN_FIT_DEFAULT_POLAR */
    mn_precision polar_precision; /* of the polar iteration's products (polar.h); 0: fp32 */
    int64_t steps;             /* > 0: this many steps; 0: from epochs */
    double epochs;             /* used when steps is 0, > 0 */
    int64_t batch;             /* rows per batch, >= 1 */
    uint64_t seed;             /* initialization and shuffling */
    int threads;               /* BLIS threads per call; <= 0: BLIS's choice */
    const mn_atom_norm *atom_norms; /* overrides, applied in order (borrowed; may be NULL);
                                       a preset with a norm of its own (sgd, sign) puts
                                       that on every atom instead */
    int n_atom_norms;
    bool serial_atoms;         /* dualize the atoms one at a time on every thread instead of
                                * small ones side by side (mn_solver_config.serial_atoms) */
    mn_dist *dist;             /* data-parallel group (dist.h; borrowed), or NULL: one
                                * process. Not a result-changing setting beyond rounding. */
    mn_precision net_precision; /* of Linear's forward and backward products, evaluation's
                                 * included (mn_network_set_precision); 0: fp32. Last, so
                                 * that the fields before it keep their offsets. */
} mn_train_settings;

/* The defaults of `modnorm train`: muon, modular, the preset's lr and
 * momentum, no Nesterov, no weight decay, linear schedule, no warmup,
 * polar-express, 5 epochs, batch 128, seed 0, BLIS's thread count (nothing
 * for a NULL s). */
MN_API void mn_train_settings_default(mn_train_settings *s);
/* MN_ERR_ARG naming the field when a setting is out of range or a name
 * (preset, polar method) is unknown. */
MN_API mn_status mn_train_settings_check(const mn_train_settings *s);
/* Steps a run takes: s->steps, or ceil(s->epochs · per_epoch); at least 1
 * (0 only for a NULL s). */
MN_API int64_t mn_train_total_steps(const mn_train_settings *s, int64_t per_epoch);
/* The settings that change a result, one "key=value\n" line each, in the
 * order opt, param, steps|epochs, batch, momentum, nesterov, wd, schedule,
 * warmup, method, precision and net_precision (each only when bf16: older
 * files stay valid), then
 * one atom_norm=K=NAME line per override (lr, seed and threads are not
 * written: a sweep varies them). Numbers are %.17g. A sweep
 * writes this into DIR/sweep.cfg. MN_ERR_ARG when it does not fit in cap (a
 * NULL buf or cap 0 included) or as mn_train_settings_check. */
MN_API mn_status mn_train_settings_text(const mn_train_settings *s, char *buf, size_t cap);

/* Parse "K=NAME" (K a non-negative integer) into *out; out->norm points
 * into `text`. The range of K is checked when the override is applied. */
MN_API mn_status mn_atom_norm_parse(const char *text, mn_atom_norm *out);
/* Apply overrides to a network's atoms in order; MN_ERR_ARG when an atom
 * index is outside [0, atom count) or a norm is unknown or does not fit the
 * atom's weights (e.g. taps-3 on a Linear: the atom is named; the check is
 * mn_module_set_norm's). Every override is checked before any is applied,
 * so a refused call changes no atom and leaves mn_network_revision alone. */
MN_API mn_status mn_atom_norms_apply(mn_network *net, const mn_atom_norm *ov, int n);
/* The same on a module tree not (yet) in a network (its atoms numbered in
 * forward order, as a network would number them): what inspect shows
 * without allocating weights. */
MN_API mn_status mn_atom_norms_apply_tree(mn_module *root, const mn_atom_norm *ov, int n);

/* The memory training keeps, counted from the module tree before anything
 * is allocated: what a program checks against the machine's memory, since
 * Linux overcommits and a run too large would be killed part-way instead of
 * failing with a message. */
typedef struct mn_train_memory {
    int64_t params;     /* the model's parameters (mn_module_param_count) */
    int copies;         /* float32 copies of them kept: the weights, their gradients, the
                           solver's momentum and its step's proposal (4), and AdamW's
                           second moment (5) */
    double polar_bytes; /* the polar iteration's scratch for the atom that needs the most
                           (mn_polar_plan.workspace_bytes; a per-tap norm: one tap), 0
                           when no atom's update is a polar factor (AdamW, sgd, sign) */
    double bytes;       /* 4·copies·params + polar_bytes */
} mn_train_memory;

/* A lower bound on what training `root` under `s` takes: activations, the
 * data, the scratch of atoms dualized side by side and a checkpoint's
 * buffers come on top. Reads s->opt, param, polar_method, polar_precision
 * and the atom-norm overrides (one naming an atom the tree lacks, or an
 * unknown norm, is skipped: mn_atom_norms_apply refuses it). MN_ERR_ARG for a
 * NULL argument, an unknown preset or polar method. */
MN_API mn_status mn_train_memory_of(const mn_module *root, const mn_train_settings *s,
                                    mn_train_memory *out);

/* ---- the fit loop ---------------------------------------------------------------- */

/* What a callback sees after a step. */
typedef struct mn_fit_step {
    int64_t step;   /* steps taken so far (1-based: this was step `step` of `total`) */
    int64_t total;  /* steps planned */
    double epoch;   /* step / per_epoch */
    double loss;    /* this step's training loss (nats, mean over the batch's labels) */
    double lr;      /* the scheduled rate this step used */
    double seconds; /* since the loop started */
} mn_fit_step;

/* Optional hooks (any may be NULL; a NULL mn_fit_callbacks* means none). A
 * hook that returns other than MN_OK stops the fit, which returns that
 * status. Hooks run on the thread that called the fit. */
typedef struct mn_fit_callbacks {
    void *ctx;
    /* After every step. */
    mn_status (*on_step)(void *ctx, const mn_fit_step *s);
    /* After every log_every-th step and after the last one. */
    mn_status (*on_log)(void *ctx, const mn_fit_step *s);
    int64_t log_every;  /* <= 0: total / 10 (every step when total < 10) */
    /* After every eval_every-th step but the last, with the accuracy and
     * mean loss on the evaluation dataset, and once more after the loop
     * with the final ones (which the result also holds). Needs an
     * evaluation dataset; not called for a diverged run. */
    mn_status (*on_eval)(void *ctx, const mn_fit_step *s, double acc, double loss);
    int64_t eval_every; /* <= 0: only the final evaluation */
} mn_fit_callbacks;

typedef struct mn_fit_result {
    int64_t steps;        /* steps taken */
    int64_t total_steps;  /* steps planned */
    double epochs;        /* steps / per_epoch */
    double initial_loss;  /* the first step's training loss */
    double train_loss;    /* mean training loss over the last 20% of the steps taken */
    double test_acc;      /* on the evaluation dataset (NAN: none given) */
    double test_loss;     /* mean cross-entropy there (NAN: none given) */
    double seconds;       /* the loop's wall time, evaluation excluded */
    double ms_per_step;
    bool diverged;        /* the loss became non-finite (then train_loss = test_loss = +inf,
                           * test_acc = NAN: nothing was evaluated), or mn_fit_judge said
                           * so */
    int64_t diverged_at;  /* the 0-based step whose loss was non-finite; -1: none */
} mn_fit_result;

/* Train `net` with `solver` for total_steps steps on batches from `src`
 * (src->batch rows of src->dim features; the network's output must be
 * (batch, C) logits), then evaluate on `eval` (may be NULL). A non-finite
 * training loss stops the loop: res->diverged, and the return is MN_OK.
 * Any other failure (a solver step that overflows: MN_ERR_NONFINITE; a
 * shape mismatch; a callback's status) is returned, with *res filled as
 * far as the loop got. */
MN_API mn_status mn_fit(mn_network *net, mn_solver *solver, mn_batch_source *src,
                        int64_t total_steps, const mn_dataset *eval, const mn_fit_callbacks *cb,
                        mn_fit_result *res);

/* mn_fit resumed after `start` steps (0 <= start <= total_steps) that the
 * solver, the network and the source have already taken (restored from a
 * checkpoint): the loop runs steps start+1 .. total_steps. losses[0..start)
 * are those steps' training losses (NULL when start is 0); the result's
 * initial_loss and train_loss use them, so a resumed run reports what the
 * uninterrupted one does. */
MN_API mn_status mn_fit_from(mn_network *net, mn_solver *solver, mn_batch_source *src,
                             int64_t total_steps, int64_t start, const double *losses,
                             const mn_dataset *eval, const mn_fit_callbacks *cb,
                             mn_fit_result *res);

/* The sweep's divergence rule on a finished fit whose status is `st`: an
 * update that overflowed (st == MN_ERR_NONFINITE) diverged (its losses +inf,
 * accuracy NAN, and the status becomes MN_OK); so did a run whose loss became
 * non-finite, whose final training loss is not finite or is above
 * factor × its initial loss, or whose test loss (when evaluated: test_loss
 * NAN means no evaluation and is not judged) is not finite, or is above
 * factor × its initial loss while the final training loss is above
 * MN_FIT_STALLED × the initial loss (training made no real progress). Its
 * numbers are kept. factor <= 0 skips both "above factor ×" tests. Returns
 * st, or MN_OK in place of MN_ERR_NONFINITE. */
MN_API mn_status mn_fit_judge(mn_status st, mn_fit_result *res, double factor);

/* Accuracy (argmax hits / labels) and mean softmax cross-entropy of `net`
 * on `d` over all its labels (a sequence dataset: per token, nats per
 * character for text), in forward passes of at most 1000 labels (at least
 * one row). MN_ERR_SHAPE when the output does not have a row of logits per
 * label. */
MN_API mn_status mn_evaluate(mn_network *net, const mn_dataset *d, double *acc, double *loss);

/* The solver configuration the settings describe: preset s->opt under
 * s->param, then the settings' lr and momentum (unless NAN), Nesterov,
 * weight decay, schedule over total_steps (>= 1), warmup, polar method and
 * threads, serial_atoms. MN_ERR_ARG as mn_train_settings_check. */
MN_API mn_status mn_train_solver_config(const mn_train_settings *s, int64_t total_steps,
                                        mn_solver_config *cfg);

/* Make the network (from `root`, taken also on failure; initialized from
 * s->seed, s->threads BLIS threads, atom-norm overrides applied) and its
 * solver (preset s->opt with the settings, its schedule over total_steps).
 * Free with mn_solver_destroy, then mn_network_destroy. */
MN_API mn_status mn_train_build(mn_module *root, const mn_train_settings *s,
                                int64_t total_steps, mn_network **net, mn_solver **solver);

/* One whole run, as `modnorm train` does it: mn_train_build, shuffled
 * batches of `train` seeded with s->seed (mn_batch_source_dataset), mn_fit
 * for mn_train_total_steps(s, train->n / s->batch) steps, evaluation on
 * `test` (may be NULL). Takes `root` (also on failure). */
MN_API mn_status mn_train(mn_module *root, const mn_train_settings *s, const mn_dataset *train,
                          const mn_dataset *test, const mn_fit_callbacks *cb, mn_fit_result *res);
/* The same with batches from `src` (src->per_epoch for epochs; s->batch
 * must equal src->batch). */
MN_API mn_status mn_train_source(mn_module *root, const mn_train_settings *s,
                                 mn_batch_source *src, const mn_dataset *test,
                                 const mn_fit_callbacks *cb, mn_fit_result *res);

#ifdef __cplusplus
}
#endif
#endif
