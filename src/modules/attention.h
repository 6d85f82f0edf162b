/* Internal: the attention kernels behind the attention bonds (attention.c),
 * each beside a naive reference (triple loops in double) that the tests
 * compare it with.
 *
 * Layouts. A heads tensor is (B, T, h, dh): SplitHeads is a view of the
 * (B, T, h·dh) projection, so head i of sequence b is the T x dh matrix at
 * x + (b·T·h + i)·dh with row stride h·dh. The fast kernels hand those
 * strided blocks to BLIS directly (no copy into (B, h, T, dh)); MergeHeads is
 * the same view read back. A scores tensor is (B, h, T, T), contiguous:
 * S[b, i, t, s] is how much position t of head i attends to position s.
 *
 * Products run one (sequence, head) pair at a time, in registers up to 2^22
 * multiply-adds a pair (attention.c: small_gemm), else as one BLIS call; the
 * pairs are shared among `threads` threads when the work is large enough to
 * pay a fork. Gradients are overwritten, not accumulated. */
#ifndef MN_MODULES_ATTENTION_H
#define MN_MODULES_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "modnorm/module.h"
#include "modnorm/status.h"

/* The sizes of one attention: B sequences of T positions, h heads of dh. */
typedef struct mn_attn_dims {
    int64_t B, T, h, dh;
} mn_attn_dims;

/* S = scale·Q Kᵀ per (b, head): Q, K (B, T, h, dh), S (B, h, T, T). */
mn_status mn_attn_scores(float *S, const float *Q, const float *K, mn_attn_dims d, double scale,
                         int threads);
void mn_attn_scores_ref(float *S, const float *Q, const float *K, mn_attn_dims d, double scale);
/* dQ = scale·dS K, dK = scale·dSᵀ Q (either may be NULL). */
mn_status mn_attn_scores_backward(float *dQ, float *dK, const float *dS, const float *Q,
                                  const float *K, mn_attn_dims d, double scale, int threads);
void mn_attn_scores_backward_ref(float *dQ, float *dK, const float *dS, const float *Q,
                                 const float *K, mn_attn_dims d, double scale);

/* O = A V per (b, head): A (B, h, T, T), V and O (B, T, h, dh). */
mn_status mn_attn_apply(float *O, const float *A, const float *V, mn_attn_dims d, int threads);
void mn_attn_apply_ref(float *O, const float *A, const float *V, mn_attn_dims d);
/* dA = dO Vᵀ, dV = Aᵀ dO (either may be NULL). */
mn_status mn_attn_apply_backward(float *dA, float *dV, const float *dO, const float *A,
                                 const float *V, mn_attn_dims d, int threads);
void mn_attn_apply_backward_ref(float *dA, float *dV, const float *dO, const float *A,
                                const float *V, mn_attn_dims d);

/* y = softmax(scale·x) over each row of n (rows of -inf entries get 0; a row
 * must have a finite entry), and its backward dx = scale·y⊙(dy − Σ y⊙dy);
 * 16 lanes at a time. */
void mn_softmax_rows(float *y, const float *x, int64_t rows, int64_t n, double scale,
                     int threads);
void mn_softmax_rows_backward(float *dx, const float *y, const float *dy, int64_t rows, int64_t n,
                              double scale, int threads);
/* Their references in double (exp of the exact difference; the fast kernel's
 * e^v is 0 below v = −87.33, where float's is subnormal or 0). */
void mn_softmax_rows_ref(float *y, const float *x, int64_t rows, int64_t n, double scale);
void mn_softmax_rows_backward_ref(float *dx, const float *y, const float *dy, int64_t rows,
                                  int64_t n, double scale);

/* RoPE on (B, T, h, dh), half-split pairs (x[j], x[j + dh/2]), angle
 * t·θ_j with θ_j = base^(−2j/dh); table holds cos then sin, each (T_max, dh/2)
 * (mn_rope_table). y = rotate(x), dx = rotate(dy, −angle); positions shared
 * among `threads` (<= 0: every core). */
void mn_rope_table(float *table, int64_t T_max, int64_t dh, double base);
void mn_rope_apply(float *y, const float *x, const float *table, int64_t T_max, mn_attn_dims d,
                   bool inverse, int threads);

/* Whether m is a Softmax bond, and then its scale. */
bool mn_softmax_scale_of(const mn_module *m, double *scale);

#endif
