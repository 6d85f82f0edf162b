/* modnorm/module.h — networks as trees of modules (module_ops.h: kinds of
 * one's own).
 *
 * Atoms carry weights and declare a norm, a mass and a sensitivity:
 *   Linear(d_out, d_in)  y = x Wᵀ, W is (d_out, d_in), no bias (as in modula);
 *                        norm rms-rms, init orthogonal × √(d_out/d_in)
 *   Embed(vocab, d)      y[b] = column tok[b] of the (d, vocab) matrix W;
 *                        norm l1-rms, init columns of RMS 1. Its LMO scales each
 *                        token's column to RMS 1 on its own, so a token absent
 *                        from recent batches (zero gradient, momentum β^k times
 *                        its last) still gets a full step (RMS η·t) in its last
 *                        direction while its momentum row is nonzero, subnormal
 *                        included; an exactly zero row gets none. The norm is
 *                        taken in double, so the step is never NaN or Inf. In
 *                        float32 a decaying row sticks at a few units of 2^-149
 *                        (β·k·2^-149 rounds back to k·2^-149 once (1−β)·k < 1/2)
 *                        and moves for ever, unless subnormals are flushed
 *                        (mn_flush_denormals, as modnorm train runs): then it
 *                        is 0 once it leaves the normal range (1651 steps from
 *                        |m| ≈ 0.1 at β = 0.95) and the row stops
 *                        (tests/test_attention.c)
 * Bonds have no weights (mass 0) and a documented sensitivity ν:
 *   Identity (1), ReLU (1), GELU (divided by its max slope 1.1289041: ν = 1),
 *   Abs (1), Mul(a) (|a|), Add (1, sums its n inputs), Flatten (1), Mean (1, over
 *   the positions of (B, T…, d); 1-D and 2-D inputs pass through), MeanSubtract (1), RMSDivide (1 by convention: it has no global
 *   Lipschitz bound), LayerNorm = RMSDivide ∘ MeanSubtract.
 * Compounds derive theirs (DESIGN.md):
 *   sequential M_n∘…∘M_1   μ = Σμ_i, ν = Πν_i
 *   tuple (M_1, …, M_n)    μ = Σμ_i, ν = Σν_i, each child sees the same inputs;
 *                          the outputs are the children's, in order, each of its
 *                          own feature size (the module after it says what it
 *                          accepts: Add wants equal sizes)
 *   sum M_1 + … + M_n      Add ∘ tuple(M_1, …, M_n)
 *   scale a·M              μ = μ_M, ν = |a|·ν_M
 *   power M^k              sequential of k independent copies
 * Activations are float32 tensors whose last dimension is the feature
 * dimension; leading dimensions are batch-like.
 *
 * Ownership: a module has one owner. Compound constructors take ownership
 * of their children (also on failure); a tree handed to mn_network_create
 * belongs to the network. A module that already belongs to a compound or a
 * network is refused by every other compound constructor and by
 * mn_network_create (MN_ERR_ARG, "… already belongs to another compound",
 * "… to a network"): it stays with its owner, and a failed constructor frees
 * only the other modules it was handed. For a second copy use
 * mn_module_clone (or mn_power). mn_module_destroy frees a whole tree that
 * belongs to nobody, and does nothing to a module that has an owner (the
 * owner frees it). */
#ifndef MODNORM_MODULE_H
#define MODNORM_MODULE_H

#include "modnorm/export.h"
#include "modnorm/norm.h"
#include "modnorm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_module mn_module;

/* How weights start (and, for solvers, whether the modular split applies):
 * modular — each atom at unit size in the norm its signal propagation is
 *           built on, whatever norm it is later dualized in: Linear
 *           orthogonal × √(d_out/d_in) (the RMS→RMS unit sphere, modula's
 *           init), Embed columns of RMS 1 (ℓ1→RMS), Conv2D its own norm's
 *           lmo of a Gaussian (both of its norms are RMS→RMS based);
 * sp — standard parametrization, PyTorch's defaults. */
typedef enum mn_param { MN_PARAM_MODULAR = 0, MN_PARAM_SP = 1 } mn_param;

/* Atoms. */
MN_API mn_status mn_linear(mn_module **out, int64_t d_out, int64_t d_in);
MN_API mn_status mn_embed(mn_module **out, int64_t vocab, int64_t d);
/* Conv2D(d_out, d_in, k, stride, padding) on NCHW images (B, d_in, H, W) →
 * (B, d_out, H_out, W_out), H_out = (H + 2·padding − k)/stride + 1, no bias.
 * The weight (d_out, d_in, k, k) is row-major, the d_out x (d_in·k²) matrix
 * its norm sees: "taps-K" per tap (default) or "rms-rms" flattened
 * (mn_module_set_norm). Mass 1; sensitivity ⌈k/s⌉·s/k (1 for stride 1) for
 * padding that keeps the size (modules/conv.c derives it). Init (modular):
 * the lmo of a Gaussian under its norm, a point of its unit sphere. */
MN_API mn_status mn_conv2d(mn_module **out, int64_t d_out, int64_t d_in, int64_t k,
                           int64_t stride, int64_t padding);

/* Bonds. */
MN_API mn_status mn_identity(mn_module **out);
MN_API mn_status mn_relu(mn_module **out);
MN_API mn_status mn_gelu(mn_module **out);
MN_API mn_status mn_abs(mn_module **out);
MN_API mn_status mn_mul(mn_module **out, double a);
MN_API mn_status mn_add(mn_module **out);
MN_API mn_status mn_flatten(mn_module **out);
MN_API mn_status mn_mean(mn_module **out);
MN_API mn_status mn_mean_subtract(mn_module **out);
MN_API mn_status mn_rms_divide(mn_module **out);
MN_API mn_status mn_layer_norm(mn_module **out);
/* Image bonds (NCHW): Image(C, H, W) sees a flat batch (B, C·H·W) as
 * (B, C, H, W) (a view, ν = 1); AvgPool(k) and MaxPool(k) pool k x k windows
 * with stride k (H, W multiples of k), ν = 1 and ν = k (the RMS Lipschitz
 * constant of a max over k² entries); GlobalMean (B, C, H, W) → (B, C), ν = 1.
 * Flatten turns images back into (B, C·H·W). */
MN_API mn_status mn_image(mn_module **out, int64_t c, int64_t h, int64_t w);
MN_API mn_status mn_avg_pool(mn_module **out, int64_t k);
MN_API mn_status mn_max_pool(mn_module **out, int64_t k);
MN_API mn_status mn_global_mean(mn_module **out);

/* Attention bonds (examples/gpt.mn builds modula's attention from them).
 * Heads are (B, T, h, dh): SplitHeads sees a (B, T, h·dh) projection so,
 * without a copy; scores are (B, h, T, T), S[b, i, t, s] = how much position
 * t of head i attends to position s. Sensitivities, with their reasons:
 *   SplitHeads(h)   (B, T, h·dh) → (B, T, h, dh), a view; ν = 1 (a reshape)
 *   MergeHeads      (B, T, h, dh) → (B, T, h·dh), a view; ν = 1 (a reshape)
 *   RoPE(dh, ctx)   rotary position embedding, half-split pairs (x_j, x_{j+dh/2})
 *                   rotated by t·10000^(−2j/dh) at position t < ctx (longer
 *                   inputs are refused); ν = 1 exactly (a rotation per position)
 *   Scores(scale)   (Q, K) → scale·Q Kᵀ per head, scale 1/dh when 0 (the text
 *                   form `Scores`): for heads of RMS ≤ 1 the scores are then
 *                   at most 1 whatever dh. ν = 1 is modula's convention, not a
 *                   proven bound (the map is bilinear)
 *   CausalMask      scores above the diagonal (s > t) become −∞; ν = 1 by
 *                   modula's convention (no Lipschitz bound: values go to −∞)
 *   Softmax(scale)  softmax(scale·x) over the last dimension (−∞ ↦ weight 0);
 *                   ν = 1 by convention (the row Jacobian's ℓ2 norm is ≤ scale/2)
 *   ApplyScores     (V, A) → A·V per head, V's shape; ν = 1 by modula's
 *                   convention (bilinear; for probability rows, an average)
 * scale must be positive and finite (Scores also takes 0). */
MN_API mn_status mn_split_heads(mn_module **out, int64_t heads);
MN_API mn_status mn_merge_heads(mn_module **out);
MN_API mn_status mn_rope(mn_module **out, int64_t d_head, int64_t context);
MN_API mn_status mn_scores(mn_module **out, double scale);
MN_API mn_status mn_causal_mask(mn_module **out);
MN_API mn_status mn_softmax(mn_module **out, double scale);
MN_API mn_status mn_apply_scores(mn_module **out);

/* Compounds. `children` lists modules in the order they run (sequential) or
 * their tuple order. */
MN_API mn_status mn_sequential(mn_module **out, int n, mn_module *const *children);
MN_API mn_status mn_tuple(mn_module **out, int n, mn_module *const *children);
MN_API mn_status mn_sum(mn_module **out, mn_module *a, mn_module *b);
MN_API mn_status mn_sum_n(mn_module **out, int n, mn_module *const *children);
MN_API mn_status mn_scale(mn_module **out, double a, mn_module *child);
MN_API mn_status mn_power(mn_module **out, mn_module *child, int k);
/* A deep copy with its own (uninitialized) weights, belonging to nobody. */
MN_API mn_status mn_module_clone(const mn_module *m, mn_module **out);

/* The standard MLP: d_in → width (× depth−1) → d_out with ReLU between. */
MN_API mn_status mn_mlp(mn_module **out, int64_t d_in, int64_t width, int depth, int64_t d_out);

/* Free m's tree; NULL, or a module that belongs to a compound or a network,
 * is left alone (its owner frees it). */
MN_API void mn_module_destroy(mn_module *m);

/* Properties. For a NULL module: kind NULL, mass and sensitivity NAN, not
 * an atom, 0 children, child NULL (also for i out of range). */
MN_API const char *mn_module_kind(const mn_module *m);
MN_API double mn_module_mass(const mn_module *m);
MN_API double mn_module_sensitivity(const mn_module *m);
MN_API bool mn_module_is_atom(const mn_module *m);
MN_API int mn_module_child_count(const mn_module *m);
MN_API const mn_module *mn_module_child(const mn_module *m, int i);
/* The coefficient c_i of child i in a compound's modular norm
 * ‖w‖ = max_i c_i·‖w_i‖ (Large et al. 2024, §3): sequential
 * (μ/μ_i)·Π_{j>i} ν_j, tuple (μ/μ_i); +∞ for a child of mass 0 (its term drops
 * out, and dualizing gives it target 0). Its inverse scales the target the
 * compound hands the child. NAN when m is NULL or i is not a child's index. */
MN_API double mn_module_child_coef(const mn_module *m, int i);
/* Atoms: weight shape (d_out, d_in) as the norm sees it, and the norm.
 * param_count: the tree's weights (0 for NULL); weight_shape: MN_ERR_ARG
 * for a NULL argument or a module that is not an atom; norm: NULL for NULL
 * and for modules that are not atoms. */
MN_API int64_t mn_module_param_count(const mn_module *m);
/* The tree's atoms, as mn_network_atom_count counts them (0 for NULL): the
 * size of a targets array (mn_modular_tree_targets) before any network. */
MN_API int mn_module_atom_count(const mn_module *m);
/* The last dimension of m's output for an input whose last dimension is
 * `in` (-1: not known), found from the modules' sizes without running
 * anything: *out = -1 when the last dimension alone does not settle it
 * (after a Flatten, a Conv2D or a pool, say; mn_module_output_shape in
 * module_ops.h takes the whole input shape). MN_ERR_SHAPE naming the module
 * when m cannot take such an input or has more than one output; MN_ERR_ARG
 * for a NULL argument. */
MN_API mn_status mn_module_output_features(const mn_module *m, int64_t in, int64_t *out);
MN_API mn_status mn_module_weight_shape(const mn_module *m, int64_t *d_out, int64_t *d_in);
MN_API const mn_norm *mn_module_norm(const mn_module *m);
/* Override an atom's norm by name ("frobenius", "l1-linf", "schatten-3", or a
 * name the program registered). In a network, a solver sees the change at
 * its next step (mn_network_revision); so does a mass change. A norm that
 * cannot take the atom's weight (d_out x d_in as its norm sees it) is
 * refused with MN_ERR_ARG and the atom keeps its norm: taps-3 on a
 * Linear(6, 8), whose 8 columns are not d_in·9. The library's norms are
 * judged by the shape alone; a norm the program registered can tell only
 * through its value, so it is measured on the atom's weights once the atom
 * is in a network (mn_network_create measures every atom's norm the same
 * way). */
MN_API mn_status mn_module_set_norm(mn_module *m, const char *norm_name);
/* Set an atom's mass, or a compound's mass as its parent sees it ("tare"). */
MN_API mn_status mn_module_set_mass(mn_module *m, double mass);

/* Multiply an atom's initial weights by `scale` (finite; 0 starts it at zero,
 * e.g. a residual branch's last layer) every time its network initializes
 * it (mn_network_create, mn_network_init). Default 1. */
MN_API mn_status mn_module_set_init_scale(mn_module *m, double scale);
/* An atom's init scale (1 unless set); NAN for NULL. */
MN_API double mn_module_init_scale(const mn_module *m);

/* A short human description, e.g. "Linear(512←784)", "Mul(-0.7)", into buf
 * (returned; "NULL" for a NULL module, nothing written for a NULL buf or
 * cap 0). */
MN_API const char *mn_module_describe(const mn_module *m, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
