/* modnorm/attention.h — what a trained network's attention does.
 *
 * Attention layers are built from the bonds of module.h (SplitHeads, RoPE,
 * Scores, CausalMask, Softmax, ApplyScores, MergeHeads; examples/gpt.mn). An
 * attention layer is, for this header, every Softmax module whose input is
 * a (B, h, T, T) scores tensor (four dimensions, the last two equal), counted
 * in forward order. */
#ifndef MODNORM_ATTENTION_H
#define MODNORM_ATTENTION_H

#include "modnorm/export.h"
#include "modnorm/network.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One attention layer on one input batch. */
typedef struct mn_attention_stats {
    int layer;          /* 0, 1, … : the layer's place among the attention layers, forward order */
    /* The largest attention score: the largest logit the softmax exponentiates,
     * scale·x over the allowed entries, where x is the Softmax's input (Scores'
     * q·kᵀ·scale after the CausalMask) and scale the Softmax's own (1 in
     * gpt.mn). A plain number, no unit: under the modular default (Scores'
     * 1/d_head) it is q·k/d_head. -inf when no entry is allowed. */
    double max_score;
    /* The share, in [0, 1], of the allowed attention weights (softmax outputs at
     * allowed entries) that are exactly 0.0f: float32 underflow of exp, i.e.
     * logits more than about 104 below their row's largest. */
    double zero_share;
    /* The allowed entries counted: those whose Softmax input is not −∞ (with a
     * CausalMask, position t attending to s ≤ t: B·h·T(T+1)/2). */
    int64_t allowed;
} mn_attention_stats;

/* Run net forward on x (the shape the network takes: token ids (B, T) for
 * gpt.mn) and report every attention layer: up to `cap` entries are written
 * to out[0..cap) (out may be NULL when cap is 0), and *n_layers (required)
 * receives how many layers the network has, which may exceed cap. The
 * network's activations and outputs are those of this forward afterwards;
 * its weights and gradients are untouched. Allocates nothing itself (the
 * forward lays out activations for an input shape it has not seen). Errors:
 * MN_ERR_ARG for a NULL net, x or n_layers, a negative cap, or out NULL with
 * cap > 0; any error of mn_network_forward (bad tokens, shapes). */
MN_API mn_status mn_network_attention_stats(mn_network *net, const mn_tensor *x,
                                            mn_attention_stats *out, int cap, int *n_layers);

#ifdef __cplusplus
}
#endif
#endif
