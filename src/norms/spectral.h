/* Internal: exact spectral quantities, computed in double through LAPACK. */
#ifndef MN_NORMS_SPECTRAL_H
#define MN_NORMS_SPECTRAL_H

#include "modnorm/tensor.h"

/* σ_max(A) and the nuclear norm Σσ(A) as m·2^e: m is computed on A scaled
 * by an exact power of two (its largest |entry| in [0.5, 1)), so neither
 * underflows nor overflows for any finite A; the caller applies its own
 * factor to m and then forms ldexp(m·factor, e), which is inf only when the
 * value it asks for is beyond DBL_MAX. */
mn_status mn_spectral_sigma_max(const mn_mat *A, double *m, int *e);
mn_status mn_spectral_nuclear(const mn_mat *A, double *m, int *e);

/* out = U Vᵀ on the range of G (singular values below max(m,n)·ε·σ_max,
 * ε of G's dtype, map to zero, as the polynomial iterations map them).
 * out may be G. */
mn_status mn_spectral_polar_exact(mn_mat *out, const mn_mat *G);

/* out = u₁ v₁ᵀ, the top singular pair (the lmo of the nuclear norm). */
mn_status mn_spectral_top_pair(mn_mat *out, const mn_mat *G);

/* The singular values of A·2^-e, descending, into a fresh array of
 * min(rows, cols) entries the caller frees. */
mn_status mn_spectral_values(const mn_mat *A, double **sv, int *e);

/* out = U diag(w) Vᵀ on the range of G (the rank cut of
 * mn_spectral_polar_exact): weigh(s, r, ctx) turns the r kept singular
 * values s (of G·2^-e, descending, s[0] > 0) into the weights w in place.
 * out may be G. */
mn_status mn_spectral_reweigh(mn_mat *out, const mn_mat *G,
                              void (*weigh)(double *s, int64_t r, void *ctx), void *ctx);

#endif
