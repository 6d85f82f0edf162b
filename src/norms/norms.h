/* Internal: the norms the registry knows. Each is defined in its own file. */
#ifndef MN_NORMS_NORMS_H
#define MN_NORMS_NORMS_H

#include "modnorm/norm.h"

extern const mn_norm mn_norm_l1_l1, mn_norm_l1_l2, mn_norm_l1_rms, mn_norm_l1_linf;
extern const mn_norm mn_norm_l2_linf, mn_norm_rms_linf, mn_norm_linf_linf;
extern const mn_norm mn_norm_l2_l2, mn_norm_rms_rms, mn_norm_l2_rms, mn_norm_rms_l2;
extern const mn_norm mn_norm_frobenius, mn_norm_l1, mn_norm_rms, mn_norm_linf;
extern const mn_norm mn_norm_nuclear;
extern const mn_norm_family mn_norm_family_schatten;
extern const mn_norm_family mn_norm_family_taps; /* conv_taps.c: Conv2D per-tap norms */

/* taps-K's shape rule (d_in·K² columns), the one its value, dual and lmo
 * apply, without reading A's data. */
mn_status mn_norm_taps_shape(const mn_norm *n, const mn_mat *A);

/* Whether norm n takes a matrix of A's shape: MN_OK, or MN_ERR_SHAPE with
 * the norm's own message, the refusal its value, dual and lmo would give.
 * A->data may be NULL (only the shape is known: an atom outside a network).
 * The library's norms answer from the shape alone (taps-K needs d_in·K²
 * columns; the others take any non-empty matrix); a norm a program
 * registered can say only through its value, so it is measured on A when A
 * has data and taken to fit when it has none. */
mn_status mn_norm_check_shape(const mn_norm *n, const mn_mat *A);

#endif
