/* Internal: vector norms on every element of a matrix view (a row, a column,
 * or the whole matrix flattened). n is the number of elements.
 *   l1:       Σ|x|          dual max|x|        lmo ±e_i at the largest |x_i|
 *   l2:       ‖x‖₂          dual ‖x‖₂          lmo x/‖x‖₂
 *   rms:      ‖x‖₂/√n       dual √n·‖x‖₂       lmo √n·x/‖x‖₂
 *   linf:     max|x|        dual Σ|x|          lmo sign(x)
 *   rms_dual: √n·‖x‖₂       dual ‖x‖₂/√n       lmo x/(√n·‖x‖₂)  (the dual of rms)
 * A zero vector has lmo 0. */
#ifndef MN_NORMS_VECTOR_H
#define MN_NORMS_VECTOR_H

#include "modnorm/tensor.h"

typedef enum mn_vec_kind { MN_VEC_L1, MN_VEC_L2, MN_VEC_RMS, MN_VEC_LINF, MN_VEC_RMS_DUAL } mn_vec_kind;

/* The kind whose norm is the dual of `k`'s. */
mn_vec_kind mn_vec_dual_kind(mn_vec_kind k);
const char *mn_vec_kind_name(mn_vec_kind k);

double mn_vec_norm(mn_vec_kind k, const mn_mat *x);
double mn_vec_dual(mn_vec_kind k, const mn_mat *x);
/* out (same shape as x, may be x itself) = lmo(x). */
void mn_vec_lmo(mn_vec_kind k, mn_mat *out, const mn_mat *x);

/* e with max|x| = f·2^e, f in [0.5, 1) (frexp's); 0 for a zero or
 * non-finite x. */
int mn_vec_max_exponent(const mn_mat *x);
/* out = x·2^e element by element (out may be x, dtypes may differ): exact
 * wherever the result is a normal number, for any e, also where 2^e itself
 * is not a float32 or a double. */
void mn_vec_scale_pow2(mn_mat *out, const mn_mat *x, int e);

/* Views of row i and column j. */
mn_mat mn_mat_row(const mn_mat *m, int64_t i);
mn_mat mn_mat_col(const mn_mat *m, int64_t j);

#endif
