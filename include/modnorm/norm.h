/* modnorm/norm.h — norms on matrices: value, dual value and LMO.
 *
 * For a norm ‖·‖ on d_out x d_in matrices (vectors are 1 x n or n x 1):
 *   lmo(G)  = argmax_{‖T‖ ≤ 1} <G, T>     (the update is  -η·lmo(G))
 *   dual(G) = ‖G‖† = <G, lmo(G)>
 * A zero G has lmo(G) = 0. NaN or Inf in G is an error (MN_ERR_NONFINITE).
 * Every finite G is measured right, from subnormal float32/float64 entries
 * to entries near the largest value (sums of squares and normalizations go
 * through exact power-of-two scalings); a value or dual value of finite
 * entries that is beyond DBL_MAX is refused with MN_ERR_NONFINITE. With
 * FTZ/DAZ on, see mn_flush_denormals (tensor.h).
 *
 * Operator norms α→β measure A as a map from (R^d_in, α) to (R^d_out, β),
 * α, β ∈ {l1, l2, rms, linf}, named "ALPHA-BETA" ("rms-rms", "l1-linf").
 * The pairs with no tractable closed form are refused by name with the
 * reason. Entry-wise and Schatten norms sit beside them ("frobenius",
 * "nuclear", "schatten-P").
 *
 * Adding a norm: define a `const mn_norm` in a file of src/norms/ and add
 * one line to the table in src/norms/registry.c. */
#ifndef MODNORM_NORM_H
#define MODNORM_NORM_H

#include "modnorm/export.h"
#include "modnorm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A provider of the polar factor U Vᵀ of G (the duality layer supplies one
 * per polar method). `out` has G's shape and dtype. */
typedef struct mn_polar_provider {
    mn_status (*polar)(void *ctx, mn_mat *out, const mn_mat *G);
    void *ctx;
} mn_polar_provider;

typedef struct mn_norm mn_norm;
struct mn_norm {
    const char *name;    /* canonical name, e.g. "rms-rms" */
    const char *title;   /* e.g. "RMS→RMS operator norm" */
    /* ‖A‖ */
    mn_status (*value)(const mn_norm *self, const mn_mat *A, double *out);
    /* ‖G‖† */
    mn_status (*dual)(const mn_norm *self, const mn_mat *G, double *out);
    /* out = lmo(G); `polar` NULL means the exact (SVD) polar factor. */
    mn_status (*lmo)(const mn_norm *self, mn_mat *out, const mn_mat *G,
                     const mn_polar_provider *polar);
    const void *params;  /* per-norm constants (e.g. the α, β of an operator norm) */
    bool uses_polar;     /* the lmo is a scaled polar factor */
};

/* Find a norm by name or alias. Unknown and refused names (e.g. "linf-l1",
 * which is NP-hard to compute) return MN_ERR_UNSUPPORTED or MN_ERR_ARG with a
 * message that says why and lists the known names. */
MN_API mn_status mn_norm_lookup(const char *name, const mn_norm **out);

/* The registered norms, for listings (i < mn_norm_count()). */
MN_API size_t mn_norm_count(void);
MN_API const mn_norm *mn_norm_at(size_t i);
/* A comma-separated list of every accepted name (static storage). */
MN_API const char *mn_norm_names(void);

/* Checked entry points: validate shapes, dtypes and finiteness, then call
 * the norm. Prefer these to the function pointers. */
MN_API mn_status mn_norm_value(const mn_norm *n, const mn_mat *A, double *out);
MN_API mn_status mn_norm_dual(const mn_norm *n, const mn_mat *G, double *out);
MN_API mn_status mn_norm_lmo(const mn_norm *n, mn_mat *out, const mn_mat *G,
                             const mn_polar_provider *polar);

#ifdef __cplusplus
}
#endif
#endif
