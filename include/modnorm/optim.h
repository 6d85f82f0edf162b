/* modnorm/optim.h — one steepest-descent solver, and AdamW as a baseline.
 *
 * Steepest descent, per atom k with target t_k (from the module tree):
 *   m_k ← β·m_k + (1−β)·g_k              (EMA momentum; Nesterov: d_k = β·m_k + (1−β)·g_k)
 *   normalized: w_k ← (1 − η_s·λ)·w_k − η_s·t_k·lmo_k(d_k)
 *   sharp:      w_k ← (1 − η_s·λ)·w_k − η_s·t_k·dual_k(d_k)·lmo_k(d_k)
 * with η_s the scheduled rate and λ the decoupled weight decay. With λ = 1/r
 * the normalized step keeps every atom inside the ball of radius r·t_k-scaled
 * steps (the Frank–Wolfe / Scion constrained step).
 *
 * Presets are norm choices on this one solver:
 *   sgd   Frobenius norm, sharp step      ⇒ w_k −= η·t_k·m_k (SGD with momentum, per-layer
 *         rate η·t_k; momentum 0: g_k)
 *   sign  ℓ1→ℓ∞ norm, normalized step     ⇒ w_k −= η·t_k·sign(m_k) (each entry moves η·t_k)
 *   muon  each atom's own norm (RMS→RMS on Linear), normalized step
 *         ⇒ w_k −= η·t_k·√(d_out/d_in)·polar(m_k)
 *   adam  AdamW (β = 0.9, 0.999, ε = 1e-8): a baseline, not a fixed-norm
 *         steepest descent (its geometry changes with the gradient history).
 * Under --param sp every target t_k is 1 (plain per-tensor updates). */
#ifndef MODNORM_OPTIM_H
#define MODNORM_OPTIM_H

#include "modnorm/dist.h"
#include "modnorm/export.h"
#include "modnorm/network.h"
#include "modnorm/polar.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mn_solver_kind { MN_SOLVER_STEEPEST = 0, MN_SOLVER_ADAMW = 1 } mn_solver_kind;
typedef enum mn_step_kind { MN_STEP_NORMALIZED = 0, MN_STEP_SHARP = 1 } mn_step_kind;
typedef enum mn_schedule {
    MN_SCHEDULE_LINEAR = 0, /* η·(1 − s/T) after warmup: the default */
    MN_SCHEDULE_CONSTANT,
    MN_SCHEDULE_COSINE      /* η·(1 + cos(π s/T))/2 after warmup */
} mn_schedule;

typedef struct mn_solver_config {
    mn_solver_kind kind;
    double lr;
    double momentum;      /* β (steepest) or β1 (AdamW) */
    double beta2, eps;    /* AdamW */
    bool nesterov;
    double weight_decay;  /* decoupled λ */
    mn_step_kind step;
    const char *norm;     /* NULL: each atom's own norm; else this norm on every atom
                             (steepest: mn_solver_create refuses one that does not
                             take some atom's weight shape, naming the atom) */
    bool modular_targets; /* false: t_k = 1 for every atom */
    mn_schedule schedule;
    int64_t warmup;       /* steps of linear warmup: η_s = η·(s+1)/warmup·decay(s) */
    int64_t total_steps;  /* T of the decay (required for linear and cosine) */
    mn_dualize_opts polar;
    bool serial_atoms;    /* dualize atoms one at a time on every thread; by default
                             small ones run side by side, one BLIS thread each */
} mn_solver_config;

/* Fill `cfg` with preset `name` ("muon", "sgd", "sign", "adam"/"adamw") and
 * its default learning rate for parametrization `param` (MN_ERR_ARG for an
 * unknown name or a param outside the enum). cfg->polar is left at its
 * defaults, whose method (NULL) is mn_polar_default(), the exact svd: the
 * fit loop and `modnorm train` set MN_FIT_DEFAULT_POLAR ("polar-express",
 * train.h) instead. A preset that sets cfg->norm (sgd: frobenius, sign:
 * l1-linf) puts it on every atom, over the atoms' own norms and overrides.
 * The schedule is linear decay with no warmup and total_steps 0: a preset
 * has no horizon to give, so set cfg->total_steps (the run's steps) before
 * mn_solver_create, which refuses it at 0, or choose
 * cfg->schedule = MN_SCHEDULE_CONSTANT. */
MN_API mn_status mn_solver_preset(mn_solver_config *cfg, const char *name, mn_param param);
MN_API const char *mn_solver_preset_names(void);

typedef struct mn_solver mn_solver;

/* A solver for `net` (its norms and targets are read now). MN_ERR_ARG, naming
 * the field, for a setting out of range: kind, step, schedule, polar.form or
 * polar.precision outside its enum, lr, momentum, AdamW's beta2 and eps,
 * weight_decay, warmup, total_steps of a decaying schedule (< 1), and
 * polar.steps outside [0, MN_POLAR_MAX_STEPS]; a cfg.norm as mn_norm_lookup
 * refuses it, or (steepest) one that does not take some atom's shape. The
 * fields are checked in the order the struct declares them, and the first
 * bad one is reported. */
MN_API mn_status mn_solver_create(mn_solver **out, const mn_network *net, const mn_solver_config *cfg);
MN_API void mn_solver_destroy(mn_solver *s);
/* One step from the network's current gradients. Every solver kind runs it
 * in two phases: it computes the weights the step would give (and refuses a
 * NaN or Inf gradient first, naming the atom), then commits the moments and
 * the weights only if every one of those is finite. A failed step
 * (MN_ERR_NONFINITE, or an error of an atom's dualization) leaves the
 * weights, the moments and the step count as they were. */
MN_API mn_status mn_solver_step(mn_solver *s, mn_network *net);
/* The scheduled rate at step s (0-based); NAN for a NULL solver or a
 * negative step (with a message for mn_last_error). */
MN_API double mn_solver_lr_at(const mn_solver *s, int64_t step);
/* Steps taken (0 for NULL). */
MN_API int64_t mn_solver_steps_taken(const mn_solver *s);
/* The solver's state, for checkpoints (checkpoint.h): the momentum m
 * (AdamW's first moment) and AdamW's second moment v, each laid out like the
 * network's weights (mn_network_param_count floats; read them atom by atom
 * with mn_network_atom_view); v is NULL for steepest descent. Writable: a
 * restore copies into them. With the step count (the schedule's position)
 * these are everything a step reads besides the network: the targets and
 * norms are re-read from the network, the rest is scratch. */
MN_API float *mn_solver_momentum(mn_solver *s);
MN_API float *mn_solver_second_moment(mn_solver *s);
/* Set the steps taken (the schedule's position, AdamW's bias correction);
 * MN_ERR_ARG when negative. */
MN_API mn_status mn_solver_set_steps_taken(mn_solver *s, int64_t steps);
/* Per-atom targets the solver uses (mn_network_atom_count entries), as it
 * last read them. A solver reads every atom's norm and the targets (from the
 * masses) when it is made, and again at the start of any step where
 * mn_network_revision has moved: an mn_module_set_norm or mn_module_set_mass
 * between steps takes effect at the next step (the moments are kept). NULL
 * for a NULL solver. */
MN_API const double *mn_solver_targets(const mn_solver *s);
/* The targets a solver made with `cfg` gives the atoms of `root` (forward
 * order, mn_module_atom_count entries), the rule a solver reads them by:
 * the modular norm's targets for t = 1 (mn_modular_tree_targets) when
 * cfg->modular_targets, else 1 for every atom (the presets under
 * MN_PARAM_SP). No network is needed. MN_ERR_ARG for a NULL argument;
 * mn_modular_tree_targets's errors. */
MN_API mn_status mn_solver_targets_for(const mn_solver_config *cfg, const mn_module *root,
                                       double *targets);
/* How many atoms a step dualizes side by side, one BLIS thread each (the
 * rest run one at a time on every thread); 0 with serial_atoms, 1 thread or
 * a NULL solver. */
MN_API int mn_solver_atoms_side_by_side(const mn_solver *s);

/* ---- the sharded solver step ------------------------------------------------------------- */

/* Make `s` (a solver of `net`) step data-parallel in `d` (borrowed: it must
 * outlive the solver): assign every atom an owner, plan the owned atoms'
 * dualization over the solver's threads, allocate the exchange buffers.
 * From then on mn_solver_step is collective, reads this rank's gradient
 * scaled by mn_dist_shard_weight, and leaves the same weights on every rank;
 * the momentum (and AdamW's second moment) is current only on each atom's
 * owner until mn_solver_gather_state. A group of one changes nothing.
 * MN_ERR_ARG when the atoms do not tile the parameter buffer. */
MN_API mn_status mn_solver_distribute(mn_solver *s, const mn_network *net, mn_dist *d);
/* The group the solver steps in, or NULL (one process). */
MN_API mn_dist *mn_solver_dist(const mn_solver *s);
/* The rank that owns atom k (0 for a solver not distributed; -1 out of range). */
MN_API int mn_solver_owner(const mn_solver *s, int k);
/* max_r n_r: the floats of the largest rank's share (0 when not distributed). */
MN_API int64_t mn_solver_shard_block(const mn_solver *s);
/* Collective: every atom's momentum (and second moment) from its owner to
 * every rank, so that mn_solver_momentum is whole (before a checkpoint). */
MN_API mn_status mn_solver_gather_state(mn_solver *s, const mn_network *net);

#ifdef __cplusplus
}
#endif
#endif
