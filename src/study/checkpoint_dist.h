/* Internal: checkpoints of a data-parallel run (the fit loop with saving,
 * checkpoint.c). Without a distributed solver they are mn_checkpoint_save
 * and mn_checkpoint_load. */
#ifndef MN_STUDY_CHECKPOINT_DIST_H
#define MN_STUDY_CHECKPOINT_DIST_H

#include "modnorm/checkpoint.h"

/* Collective: the moments gathered from their owners, rank 0 writes the
 * file, every rank returns rank 0's status. */
mn_status mn_checkpoint_save_ranks(const char *path, const mn_train_run *run);
/* Collective: rank 0 reads the file, its bytes go to every rank, each
 * restores its run from them; every rank returns the first failure. */
mn_status mn_checkpoint_load_ranks(const char *path, mn_train_run *run);

#endif
