/* modnorm/dist.h — data-parallel training over MPI ranks, with the
 * dualization sharded across them.
 *
 * `mpirun -np P modnorm train …` runs P processes (ranks). Each step:
 *   - the global batch of B rows is split into P shards of ⌊B/P⌋ or ⌈B/P⌉
 *     rows (mn_dist_shard); each rank runs forward and backward on its own;
 *     its gradient and loss are weighted by its share n_r/B, so that their
 *     sums over the ranks are those of the whole batch;
 *   - every atom (a whole matrix, never a piece of one) has one owner rank,
 *     assigned once, greedily by its polar iteration's flop count (largest
 *     first, to the least-loaded rank); the gradients are reduce-scattered
 *     so that each owner receives the summed gradient of its atoms, in one
 *     block of max_r n_r floats per rank (n_r: the floats rank r owns);
 *   - the owner applies momentum, dualizes and computes the new weights of
 *     its atoms; every rank's status is reduced (a step that fails on one
 *     rank fails on all, with the failing rank's message); the new weights
 *     are all-gathered.
 * Per rank and step the two big collectives pass, in the ring algorithm's
 * model, 2·(P−1)·max_r n_r·4 bytes (2(P−1)/P·N·4 when the shares are equal);
 * a few scalars (losses, statuses, the per-atom scales) ride beside them.
 *
 * Only src/core/dist.c calls MPI. Built without MPI (meson -Dmpi=disabled),
 * or run without mpirun, every group has one rank and nothing here moves a
 * byte. Collectives (marked so) must be called by every rank of the group in
 * the same order; MPI calls are made from the calling thread only.
 *
 * This header is the core layer's half (the group and its collectives);
 * the solver's half, mn_solver_distribute and its companions, is in
 * modnorm/optim.h. */
#ifndef MODNORM_DIST_H
#define MODNORM_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modnorm/export.h"
#include "modnorm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_dist mn_dist;

/* Whether this build has MPI. */
MN_API bool mn_dist_built(void);

/* A group of all ranks of the job. Launched by mpirun (its environment
 * says so) in an MPI build, it initializes MPI (threads: funneled) and the
 * group is MPI_COMM_WORLD; otherwise it is a group of one and MPI is not
 * touched. Free with mn_dist_destroy (which finalizes MPI if this
 * initialized it). */
MN_API mn_status mn_dist_create(mn_dist **out);
MN_API void mn_dist_destroy(mn_dist *d);
MN_API int mn_dist_rank(const mn_dist *d);
MN_API int mn_dist_size(const mn_dist *d);

/* Rows [*lo, *hi) of a global batch of `batch` rows are this rank's shard:
 * rank r gets ⌊B/P⌋ rows, one more when r < B mod P. Records the shard's
 * weight (hi − lo)/B, by which the loss and the gradient are scaled before
 * they are summed over the ranks. MN_ERR_ARG when batch < P (a rank would
 * get no rows). */
MN_API mn_status mn_dist_shard(mn_dist *d, int64_t batch, int64_t *lo, int64_t *hi);
/* The weight of the last mn_dist_shard (1 before any). */
MN_API double mn_dist_shard_weight(const mn_dist *d);

/* Collective: the status of the first rank (lowest number) where `st` is
 * not MN_OK, with that rank's message (prefixed "rank R: " on other ranks
 * than 0), on every rank; MN_OK when every rank passed MN_OK. */
MN_API mn_status mn_dist_agree(mn_dist *d, mn_status st);
/* Collective: x[0..n) ← its sum over the ranks, on every rank. */
MN_API mn_status mn_dist_sum(mn_dist *d, double *x, int n);
/* Collective: the loss of the global batch from this rank's shard loss
 * (mean over its rows): Σ_r weight_r·loss_r on every rank, and the agreed
 * status of `st` (mn_dist_agree). A non-finite loss on any rank makes the
 * sum non-finite on every rank. */
MN_API mn_status mn_dist_batch_loss(mn_dist *d, mn_status st, double *loss);
/* Collective: `bytes` bytes of `buf` from rank `root` to every rank. */
MN_API mn_status mn_dist_broadcast(mn_dist *d, void *buf, size_t bytes, int root);

/* Bytes this rank has passed to MPI since the group was made (or the last
 * reset): the send buffers of the gradient reduce-scatters and the weight
 * all-gathers, everything else (losses, statuses, scales, broadcasts), and
 * what the two big collectives send per rank in the ring model:
 * (P−1)·block·4 each. */
typedef struct mn_dist_traffic {
    uint64_t reduce_scatter_bytes; /* send buffers passed: P·block·4 per call */
    uint64_t allgather_bytes;      /* send buffers passed: block·4 per call */
    uint64_t scalar_bytes;         /* allreduces and broadcasts of scalars and messages */
    uint64_t collectives;          /* calls into MPI collectives */
    double ring_bytes;             /* the ring model of the two big collectives */
} mn_dist_traffic;
MN_API void mn_dist_traffic_get(const mn_dist *d, mn_dist_traffic *out);
MN_API void mn_dist_traffic_reset(mn_dist *d);

/* The ring model: bytes one rank sends per step for P ranks whose largest
 * share is `block` floats, 2·(P−1)·block·4 (P = 1: 0). */
MN_API double mn_dist_step_bytes(int ranks, int64_t block);

#ifdef __cplusplus
}
#endif
#endif
