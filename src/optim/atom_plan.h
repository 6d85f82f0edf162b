/* Internal: how a solver step spreads its atoms' dualizations over threads.
 *
 * A polar iteration on a small matrix gains little from a second BLIS
 * thread, so small atoms are better dualized side by side, one thread each.
 * The plan orders the atoms by work (largest first) and picks the point from
 * which the rest run side by side: the one that minimizes a modelled step
 * time (atoms before it run one at a time on every thread). */
#ifndef MN_OPTIM_ATOM_PLAN_H
#define MN_OPTIM_ATOM_PLAN_H

#include "modnorm/status.h"

typedef struct {
    int n;
    int *order;      /* atom indices, largest work first */
    int shared_from; /* order[shared_from..n) run side by side; n: none do */
} mn_atom_plan;

/* work[i]: atom i's dualization work in multiply-adds (k²·N for a k x N
 * matrix, k <= N: one Gram product); threads: the threads a step may use. */
mn_status mn_atom_plan_make(mn_atom_plan *plan, const double *work, int n, int threads);
void mn_atom_plan_free(mn_atom_plan *plan);

/* The modelled speedup of `threads` BLIS threads over one on a polar
 * iteration of this work (exposed for the tests). */
double mn_atom_plan_speedup(double work, int threads);

#endif
