/* Internal: the collectives the sharded solver step moves floats with
 * (see modnorm/dist.h). Every MPI call of the project is in dist.c. */
#ifndef MN_CORE_DIST_H
#define MN_CORE_DIST_H

#include "modnorm/dist.h"

/* Collective: recv[0..block) ← Σ_ranks send[rank·block .. (rank+1)·block)
 * (send holds size·block floats). */
mn_status mn_dist_reduce_scatter(mn_dist *d, const float *send, float *recv, int64_t block);
/* Collective: recv[r·block .. (r+1)·block) ← rank r's send[0..block). */
mn_status mn_dist_allgather(mn_dist *d, const float *send, float *recv, int64_t block);

#endif
