/* Internal: the solver's state and the pieces of its step that the sharded
 * (data-parallel) step in sharded.c runs on the atoms a rank owns. */
#ifndef MN_OPTIM_SOLVER_INTERNAL_H
#define MN_OPTIM_SOLVER_INTERNAL_H

#include "modnorm/optim.h"
#include "optim/atom_plan.h"

typedef struct mn_shard mn_shard; /* sharded.c: who owns which atom, exchange buffers */

struct mn_solver {
    mn_solver_config cfg;
    int64_t n, steps;
    int n_atoms;
    double *targets;
    const mn_norm **norms;
    const mn_norm *shared;     /* cfg.norm on every atom, or NULL: each atom's own */
    const mn_network *read_from; /* the network and revision targets and norms were read at */
    uint64_t revision;
    mn_atom_plan plan; /* which atoms a step dualizes side by side (sharded: the owned ones) */
    double *scales;    /* per atom, this step: the multiplier of its lmo */
    float *m, *v, *dir; /* momentum, AdamW's second moment, direction/update scratch */
    bool proposal_finite; /* every new weight in dir is finite (set by the propose step) */
    mn_shard *shard;   /* NULL: one process */
};

/* Atom k's block of s->dir: d ← lmo(d), and its multiplier into s->scales[k]. */
mn_status mn_solver_dualize_atom(mn_solver *s, const mn_network *net, int k, double lr,
                                 const mn_dualize_opts *polar);
/* The plan's atoms order[shared_from..n) side by side, one BLIS thread each. */
mn_status mn_solver_dualize_shared(mn_solver *s, const mn_network *net, double lr, int threads);
/* The first non-finite entry of x[0..n), or -1. */
int64_t mn_first_nonfinite(const float *x, int64_t n);
/* "atom K (Linear(…))" into buf. */
const char *mn_solver_atom_name(const mn_network *net, int k, char *buf, size_t cap);
/* Why AdamW's proposal for entry i is not finite. */
const char *mn_solver_adamw_why(const mn_solver *s, const mn_network *net, int64_t i);

/* AdamW's constants for step steps + 1 (bias corrections folded in). */
typedef struct {
    float step, inv_bc2, eps, b1, b2, decay;
} mn_adamw_consts;
mn_adamw_consts mn_solver_adamw_at(const mn_solver *s, double lr);

/* sharded.c */
mn_status mn_sharded_step(mn_solver *s, mn_network *net, double lr);
void mn_shard_free(mn_shard *sh);

#endif
