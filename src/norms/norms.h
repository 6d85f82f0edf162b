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

#endif
