/* modnorm/checkpoint.h — crash-safe checkpoints of a training run, and
 * bit-identical resume.
 *
 * A checkpoint is a safetensors file (safetensors.h: PyTorch's and JAX's
 * `safetensors` library loads it) holding everything the next step reads:
 *
 *   model.P.weight          F32   an atom's weights, in its storage layout:
 *                                 (d_out, d_in) for Linear, (vocab, d) for Embed
 *   optim.P.momentum        F32   the solver's momentum (AdamW: first moment), same shape
 *   optim.P.second_moment   F32   AdamW's second moment (AdamW only)
 *   optim.step              I64   []: steps taken = the schedule's position
 *   data.permutation        I64   [n]: the batcher's current epoch order
 *   data.position           I64   []: rows of it already served
 *   data.epoch              I64   []: epochs started
 *   data.rng                U64   [4]: the batcher's xoshiro256** state
 *   fit.losses              F64   [step]: every step's training loss (for the
 *                                 result's initial and final training loss)
 *
 * P is the atom's path in the module tree: the 0-based child indices from
 * the root down, joined by '.' ("0", "2", "4" for the MLP Linear → ReLU →
 * Linear → ReLU → Linear; "1.0.2" deeper; an atom at the root has none:
 * "model.weight"). It depends on the tree alone, so it is stable across
 * runs and versions. Tensors appear in forward order of the atoms (weights,
 * then momenta, then second moments), then optim, data, fit.
 *
 * __metadata__ (string → string):
 *   format          "modnorm-checkpoint"
 *   format_version  "1"
 *   settings        a JSON object: opt, param, lr and momentum (resolved: the
 *                   preset's when not given), nesterov, weight_decay, schedule,
 *                   warmup, method, total_steps, batch, seed, atom_norms ["K=NAME"]
 *   threads         the BLIS thread count (results are bit-identical at equal counts)
 *   model           the module tree, one line per module (indent = depth):
 *                   its description, and for atoms the norm, mass and sensitivity
 *   graph           the graph-language text of the model, when the caller
 *                   has one (mn_train_run.graph), else ""
 *   data            a JSON object: n, dim, classes of the training set, and its
 *                   fingerprint (CRC-32 of the labels and 4096 evenly spaced features);
 *                   for a sequence dataset also labels_per_row (text: dim = labels_per_row
 *                   = the context), and for text the vocabulary, "vocab": [byte, ...]
 *                   ascending (id i is byte vocab[i]; mn_checkpoint_open_model reads it)
 *   step            the steps taken, in decimal
 *   crc32           zlib's CRC-32 of the data section (written by the safetensors writer)
 *
 * Resuming checks, in this order, and refuses with one line naming the first
 * difference: the format and version; settings key by key; the model text
 * line by line; the graph text (when both have one); the data; then every
 * tensor's presence, dtype and shape; then the values (the step within
 * [0, total_steps], the permutation a permutation of [0, n), the position
 * within [0, n], finite weights and moments). Nothing is changed unless all
 * of it passes. */
#ifndef MODNORM_CHECKPOINT_H
#define MODNORM_CHECKPOINT_H

#include "modnorm/export.h"
#include "modnorm/safetensors.h"
#include "modnorm/text.h"
#include "modnorm/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_CHECKPOINT_FORMAT "modnorm-checkpoint"
#define MN_CHECKPOINT_VERSION "1"

/* A training run as a checkpoint sees it. All pointers borrowed. */
typedef struct mn_train_run {
    const mn_train_settings *settings;
    mn_network *net;
    mn_solver *solver;
    mn_batcher *batcher;   /* the data order (mn_batch_source_batcher) */
    int64_t total_steps;
    int64_t step;          /* steps taken (the solver's count) */
    double *losses;        /* total_steps entries; [0, step) are the steps' losses */
    const char *graph;     /* the model's graph text (NULL: none) */
    const mn_vocab *vocab; /* text's vocabulary, saved in the data metadata (NULL: none) */
} mn_train_run;

/* Write `run` to `path` atomically (mn_safetensors_write): a process killed
 * at any moment leaves the previous checkpoint whole. */
MN_API mn_status mn_checkpoint_save(const char *path, const mn_train_run *run);
/* Check a parsed checkpoint against `run` (its settings, network, solver and
 * batcher as mn_train_build and mn_batch_source_dataset made them) and, if
 * everything agrees, copy its state into them and set run->step and
 * run->losses. MN_ERR_FORMAT or MN_ERR_ARG (settings, model or data differ)
 * with one line naming the field or tensor; `run` is untouched then. */
MN_API mn_status mn_checkpoint_restore(const mn_safetensors *f, mn_train_run *run);
/* mn_safetensors_read, then mn_checkpoint_restore. */
MN_API mn_status mn_checkpoint_load(const char *path, mn_train_run *run);

/* A trained model read back from a checkpoint, for inference (sampling). */
typedef struct mn_checkpoint_model {
    mn_network *net;   /* built from the graph metadata, weights from model.P.weight (owned) */
    int64_t dim;       /* the training data's features a row (text: the context) */
    bool has_vocab;    /* the data metadata has a vocabulary ... */
    mn_vocab vocab;    /* ... this one */
} mn_checkpoint_model;

/* Read the checkpoint at `path` and build its network: the graph metadata
 * (which `modnorm train --checkpoint` writes) parsed and built under the
 * settings' param, `threads` BLIS threads (<= 0: BLIS's choice), every
 * atom's weights copied from its model.P.weight tensor (dtype and shape
 * checked). MN_ERR_FORMAT with one line when the file is not a checkpoint,
 * has no graph, or a tensor is missing or does not fit. Free with
 * mn_checkpoint_model_free. */
MN_API mn_status mn_checkpoint_open_model(const char *path, int threads, mn_checkpoint_model *out);
MN_API void mn_checkpoint_model_free(mn_checkpoint_model *m);

/* Where `mn_train_checkpointed` saves and what it resumes from. */
typedef struct mn_checkpoint_opts {
    const char *path;   /* save here (NULL: no saving); a file already there is replaced
                           at the first save, whoever's it is: a caller that must keep
                           another run's checkpoint checks first (modnorm train does) */
    int64_t every;      /* after every `every`-th step (<= 0: only after the last) and
                           after the last step of a run that did not diverge */
    double diverge_factor; /* > 0: a run that mn_fit_judge with this factor calls
                              diverged (say MN_FIT_DIVERGENCE_FACTOR) makes no final
                              save either, as one whose loss became non-finite does
                              not; res is left for the caller to judge. <= 0: only
                              the non-finite rule */
    const char *resume; /* resume from this checkpoint (NULL: start fresh) */
    const char *graph;  /* the model's graph text for the metadata (NULL: none) */
    const mn_vocab *vocab; /* text's vocabulary for the metadata (NULL: none) */
} mn_checkpoint_opts;

/* mn_train with checkpoints: build the run (mn_train_build, shuffled batches
 * of `train` seeded with s->seed), restore ck->resume if given (refused when
 * settings, model or data differ), then mn_fit_from the restored step,
 * saving to ck->path as ck->every says. At the same thread count a run
 * resumed from step k gives bit-identical weights, losses and result to the
 * uninterrupted run (the callbacks see steps k+1 .. total). A failed save
 * stops the run with its status. Takes `root` (also on failure). */
MN_API mn_status mn_train_checkpointed(mn_module *root, const mn_train_settings *s,
                                       const mn_dataset *train, const mn_dataset *test,
                                       const mn_fit_callbacks *cb, const mn_checkpoint_opts *ck,
                                       mn_fit_result *res);

#ifdef __cplusplus
}
#endif
#endif
