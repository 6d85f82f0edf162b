/* Internal to src/duality: the pieces of the polar iteration that the
 * float32/float64 evaluation (polar.c) and the bf16 one (polar_bf16.c) share. */
#ifndef MN_DUALITY_POLAR_INTERNAL_H
#define MN_DUALITY_POLAR_INTERNAL_H

#include <stdbool.h>

#include "modnorm/polar.h"

/* (a, b, c) of step s (the last entry repeats). */
const double *mn_polar_step_coeffs(const mn_polar_method *m, int s);

/* Copy the lower triangle of a contiguous square matrix onto its upper one. */
void mn_polar_symmetrize_lower(mn_mat *C, int threads);

/* The lower triangle of P = a·I + b·A + c·A² (A symmetric and whole). */
mn_status mn_polar_polynomial_lower(const mn_mat *A, mn_mat *B, const double *abc, int threads);

/* C = L·R, both symmetric and commuting (the product is symmetric), whole. */
mn_status mn_polar_symmetric_product(const mn_mat *L, const mn_mat *R, mn_mat *C, int threads);

/* The Gram form's restart rule (polar.c): restart before a step once the
 * product of a² since the last restart would pass RESTART_GAIN/ε of dt. */
typedef struct {
    double gain;  /* product of a² since X₀ was (re)formed */
    double limit; /* RESTART_GAIN / ε of the dtype */
} mn_gram_schedule;

mn_gram_schedule mn_gram_schedule_start(mn_dtype dt);
/* Whether step s restarts; advances the schedule past step s. */
bool mn_gram_schedule_step(mn_gram_schedule *g, const double *abc);

/* The Gram form's flops on k x N, split: its k x k products (*kk, counted as
 * gemmt: k³ each) and the number of restarts (*restarts). The k x N ones are
 * S = X₀X₀ᵀ, Q·X₀ at the end and, per restart, Q·X₀ and X₀X₀ᵀ again. */
void mn_polar_gram_split(const mn_polar_method *m, int steps, double k, mn_dtype dt, double *kk,
                         int *restarts);

/* The bf16 evaluation (polar_bf16.c): out = polar factor of G, float32,
 * arguments checked by the caller, an iterative method, steps >= 1. */
mn_status mn_polar_bf16_run(const mn_polar_method *m, mn_polar_form form, int steps, int threads,
                            mn_mat *out, const mn_mat *G);

/* Flops of mn_polar_bf16_run on k x N (k <= N): all, and with bf16 operands. */
void mn_polar_bf16_flops(const mn_polar_method *m, mn_polar_form form, int steps, int64_t k,
                         int64_t N, double *all, double *bf16);

/* Bytes of the scratch buffer mn_polar_bf16_run takes for k x N (k <= N). */
double mn_polar_bf16_workspace_bytes(int64_t k, int64_t N);

#endif
