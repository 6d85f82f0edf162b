/* Which atoms a solver step dualizes side by side (see atom_plan.h). */
#include <stdlib.h>

#include "core/error.h"
#include "optim/atom_plan.h"

/* Beyond this work (600³ multiply-adds, a bit over a 512 x 784 atom) atoms
 * always run alone on every thread: at widths 768 and 1024 running them side
 * by side gained nothing (`modnorm bench step --depth 6`, 2 cores). */
#define SHARED_MAX_WORK (600.0 * 600.0 * 600.0)

/* Measured on 2 cores with `modnorm bench dualize --method ns5 --threads
 * 1|2`: up to 128 x 784 a second thread gains nothing (0.94-1.0x: the BLIS
 * wrapper keeps small products on one thread); from 192² to 384 x 784 it
 * gains 1.2-1.6x, irregularly with BLIS's partitioning (modelled as 1.4x);
 * 512² and 512 x 784 gain 1.64x and 1.68x (modelled as 1.65x). */
double mn_atom_plan_speedup(double work, int threads)
{
    if (threads <= 1 || work <= 128.0 * 128.0 * 784.0)
        return 1.0;
    double gain = work < 512.0 * 512.0 * 512.0 ? 0.4 : 0.65;
    return 1.0 + gain * (threads - 1);
}

/* Longest-processing-time makespan of work[order[from..n)] on `threads`
 * threads, one each (what OpenMP's dynamic schedule does, biggest first). */
static double shared_time(const double *work, const int *order, int from, int n, int threads,
                          double *load)
{
    for (int t = 0; t < threads; t++)
        load[t] = 0;
    for (int i = from; i < n; i++) {
        int least = 0;
        for (int t = 1; t < threads; t++)
            if (load[t] < load[least])
                least = t;
        load[least] += work[order[i]];
    }
    double most = 0;
    for (int t = 0; t < threads; t++)
        most = load[t] > most ? load[t] : most;
    return most;
}

mn_status mn_atom_plan_make(mn_atom_plan *plan, const double *work, int n, int threads)
{
    if (!plan || (n > 0 && !work) || n < 0)
        return mn_fail(MN_ERR_ARG, "mn_atom_plan_make: NULL or negative argument");
    threads = threads < 1 ? 1 : threads;
    *plan = (mn_atom_plan){.n = n, .shared_from = n};
    plan->order = malloc((size_t)(n > 0 ? n : 1) * sizeof *plan->order);
    double *load = malloc((size_t)threads * sizeof *load);
    if (!plan->order || !load) {
        free(load);
        mn_atom_plan_free(plan);
        return mn_fail(MN_ERR_NOMEM, "mn_atom_plan_make: out of memory");
    }
    for (int k = 0; k < n; k++) { /* insertion sort: a network has few atoms */
        int j = k;
        for (; j > 0 && work[plan->order[j - 1]] < work[k]; j--)
            plan->order[j] = plan->order[j - 1];
        plan->order[j] = k;
    }
    /* Time in units of one thread's time per multiply-add. Walking from the
     * smallest atom up: `alone` is the time of order[i..n) run one at a
     * time; the best start of the shared tail is kept when it beats it. */
    double alone = 0, best = 0;
    for (int i = n - 1; i >= 0; i--) {
        double w = work[plan->order[i]];
        alone = w / mn_atom_plan_speedup(w, threads) + best;
        best = alone;
        if (threads > 1 && n - i >= 2 && w < SHARED_MAX_WORK) {
            double shared = shared_time(work, plan->order, i, n, threads, load);
            if (shared < alone) {
                best = shared;
                plan->shared_from = i;
            }
        }
    }
    free(load);
    return MN_OK;
}

void mn_atom_plan_free(mn_atom_plan *plan)
{
    if (!plan)
        return;
    free(plan->order);
    plan->order = NULL;
}
