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
 * "nuclear", "schatten-P" for any p >= 1: schatten-1 is "nuclear",
 * schatten-2 "frobenius", schatten-inf "l2-l2"). A Conv2D's weight
 * (d_out, d_in, k, k) is the d_out x (d_in·k²) matrix: "rms-rms" measures it
 * flattened (lmo (1/k)·√(d_out/d_in)·polar), "taps-K" per tap
 * (k²·max_t ‖W_t‖_RMS→RMS, lmo (1/k²)·√(d_out/d_in)·polar(G_t) per tap).
 *
 * Adding a norm: define an mn_norm (value, dual, lmo) and register it with
 * mn_norm_register, from the library (src/norms/registry.c's table) or from
 * a program that links it; a norm with parameters is a family
 * (mn_norm_family_register), named PREFIX-PARAM. Either is then known by
 * name everywhere a norm is named (mn_norm_lookup, mn_module_set_norm,
 * mn_solver_config.norm, mn_train_settings' atom norms). A norm that takes
 * only some shapes refuses the others from its value, dual and lmo with
 * MN_ERR_SHAPE; that is how mn_module_set_norm, mn_network_create and
 * mn_solver_create learn that a program's norm does not fit an atom (they
 * measure its weights), so refuse a shape in value too. */
#ifndef MODNORM_NORM_H
#define MODNORM_NORM_H

#include "modnorm/export.h"
#include "modnorm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A provider of the polar factor U Vᵀ of G (the duality layer supplies one
 * per polar method). `out` has G's shape and dtype. polar_batch (may be
 * NULL: n calls of polar) computes the polar factors of n matrices of one
 * shape and dtype as one batch: out[i] = polar(G[i]) (a Conv2D's k² taps). */
typedef struct mn_polar_provider {
    mn_status (*polar)(void *ctx, mn_mat *out, const mn_mat *G);
    void *ctx;
    mn_status (*polar_batch)(void *ctx, int64_t n, mn_mat *out, const mn_mat *G);
} mn_polar_provider;

typedef struct mn_norm mn_norm;
struct mn_norm {
    const char *name;    /* canonical name, e.g. "rms-rms" */
    const char *title;   /* e.g. "RMS→RMS operator norm" */
    /* ‖A‖ */
    mn_status (*value)(const mn_norm *self, const mn_mat *A, double *out);
    /* ‖G‖† */
    mn_status (*dual)(const mn_norm *self, const mn_mat *G, double *out);
    /* out = lmo(G). `out` may be G itself (the solver dualizes in place)
     * and either may be a strided view (rs, cs: Embed's matrix is a
     * transposed one), so read G before writing out; lmo may run on several
     * threads at once on different matrices, so keep no mutable state.
     * mn_norm_lmo never passes `polar` NULL: for a NULL from its caller it
     * passes a provider of the exact (SVD) polar factor. */
    mn_status (*lmo)(const mn_norm *self, mn_mat *out, const mn_mat *G,
                     const mn_polar_provider *polar);
    const void *params;  /* per-norm constants (e.g. the α, β of an operator norm) */
    bool uses_polar;     /* the lmo is a scaled polar factor */
};

/* Find a norm by name or alias, or build a family's member ("schatten-3").
 * Unknown and refused names (e.g. "linf-l1", which is NP-hard to compute)
 * return MN_ERR_UNSUPPORTED or MN_ERR_ARG with a message that says why and
 * lists the known names. The norm lives as long as the process (a family
 * member is made once per canonical name and kept). Thread-safe. */
MN_API mn_status mn_norm_lookup(const char *name, const mn_norm **out);

/* The registered norms, for listings (i < mn_norm_count()): the built-in
 * ones, then the program's in the order it registered them. Family members
 * are not listed (their pattern is, in mn_norm_names). */
MN_API size_t mn_norm_count(void);
MN_API const mn_norm *mn_norm_at(size_t i);
/* A comma-separated list of every accepted name, family patterns and
 * aliases included (valid until the next registration). */
MN_API const char *mn_norm_names(void);

/* Make `norm` known by its name. It must outlive its use (a static) and have
 * a name (letters, digits, '-', '_', '.', starting with a letter; not taken
 * by a norm, an alias, a refused pair or a family), value, dual and lmo.
 * Check it first with mn_norm_check (the tests of tests/test_norms.c run on
 * every norm registered inside them). */
MN_API mn_status mn_norm_register(const mn_norm *norm);

/* The properties a norm's three functions must have, checked on random
 * rows x cols matrices (a Gaussian and a rank-one-plus-noise one, in float32
 * and float64) through the checked entry points, with the exact polar factor:
 *   ‖lmo(G)‖ = 1 and ⟨G, lmo(G)⟩ = ‖G‖†, the pairing that defines the LMO
 *   (Bernstein & Newhouse, "Old Optimizer, New Norm", 2024, §2);
 *   no point T of the unit ball does better: ⟨G, T⟩/‖T‖ ≤ ‖G‖† for Gaussian,
 *   single-entry, sign-pattern and lmo-perturbed T;
 *   lmo in place (out == G), on a strided view and of 8·G equal lmo(G);
 *   ‖−2G‖ = 2‖G‖ and ‖G + T‖ ≤ ‖G‖ + ‖T‖.
 * Tolerances: 3e-5 relative in float32, 1e-10 in float64. The norm need not
 * be registered; rows, cols in [1, 4096] and a shape the norm takes (a taps-K
 * norm needs cols divisible by K²). MN_OK when all hold; MN_ERR_ARG with one
 * line naming the norm, the property, the numbers and the matrix otherwise;
 * the norm's own errors as they come. Deterministic for a seed. */
MN_API mn_status mn_norm_check(const mn_norm *n, int64_t rows, int64_t cols, uint64_t seed);

/* Norms with parameters: the members of a family are named PREFIX-PARAM. */
typedef struct mn_norm_family {
    const char *prefix;  /* e.g. "schatten": names "schatten-3", "schatten-1.5" */
    const char *pattern; /* for listings, e.g. "schatten-P" */
    size_t params_size;  /* bytes of a member's parameters (its norm's `params`) */
    /* Read PARAM (the text after "PREFIX-") into params and write the
     * member's canonical name into name[cap] ("schatten-3.0" and "schatten-3"
     * are one norm; nothing written: the name looked up), or point *same_as
     * at the name of a registered norm these parameters give (schatten-2 is
     * "frobenius"). A bad PARAM is an error with a message (mn_set_error).
     * The canonical name is what the member prints as (graph files,
     * checkpoints), so the lookup refuses (MN_ERR_ARG, naming the family and
     * the name) one that does not start with "PREFIX-", that is a registered
     * norm's name or alias, or that does not read back as itself (parse of
     * its own PARAM must write the same name, without a same_as). */
    mn_status (*parse)(const char *param, void *params, char *name, size_t cap,
                       const char **same_as);
    /* The members' template (title, value, dual, lmo, uses_polar): each
     * member is a copy with its own name and params. */
    mn_norm norm;
} mn_norm_family;

/* Make a family known (it must outlive its use). Refuses a prefix taken by
 * another family or by a norm's name. Thread-safe. */
MN_API mn_status mn_norm_family_register(const mn_norm_family *family);

/* Checked entry points: validate shapes, dtypes and finiteness, then call
 * the norm. Prefer these to the function pointers. mn_norm_lmo's `polar`
 * may be NULL: the exact (SVD) polar factor. MN_ERR_ARG, naming the
 * argument, for a NULL norm or one without a name, value, dual or lmo, a
 * NULL matrix, `out` or data, and a dtype that is neither MN_F32 nor MN_F64;
 * MN_ERR_SHAPE for a matrix without elements. */
MN_API mn_status mn_norm_value(const mn_norm *n, const mn_mat *A, double *out);
MN_API mn_status mn_norm_dual(const mn_norm *n, const mn_mat *G, double *out);
MN_API mn_status mn_norm_lmo(const mn_norm *n, mn_mat *out, const mn_mat *G,
                             const mn_polar_provider *polar);

#ifdef __cplusplus
}
#endif
#endif
