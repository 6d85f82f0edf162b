/* Internal: grow-only scratch buffers, one per thread and per slot, reused by
 * every call, so a training step allocates nothing after its first. A
 * pthread key frees a thread's buffers when it ends (sweeps run many
 * training threads). */
#ifndef MN_CORE_SCRATCH_H
#define MN_CORE_SCRATCH_H

#include <stddef.h>

#include "modnorm/status.h"

/* One slot per user: two users of one slot would hand out the same memory. */
typedef enum mn_scratch_slot {
    MN_SCRATCH_POLAR = 0,  /* duality/polar.c: the fp32/fp64 iteration's workspace */
    MN_SCRATCH_POLAR_BF16, /* duality/polar_bf16.c */
    MN_SCRATCH_ATTENTION,  /* modules/attention.c: a head's transpose */
    MN_SCRATCH_BF16_ROUND_A, /* core/bf16.c: mn_bf16_gemm_rounded's rounded operands */
    MN_SCRATCH_BF16_ROUND_B,
    MN_SCRATCH_BF16_WIDE_A, /* core/bf16.c: the fallback's widened operands */
    MN_SCRATCH_BF16_WIDE_B,
    MN_SCRATCH_ONEDNN_PAD, /* core/onednn.c: a primitive's scratchpad */
    MN_SCRATCH_LOSS,       /* modules/loss.c: the cross-entropy's per-row terms */
    MN_SCRATCH_SLOTS
} mn_scratch_slot;

/* This thread's buffer of `slot`, at least `bytes` long and 64-byte
 * aligned; its contents are not kept when it grows. MN_ERR_NOMEM (with a
 * message naming `what`) when it cannot grow. */
mn_status mn_scratch_get(mn_scratch_slot slot, size_t bytes, const char *what, void **out);

#endif
