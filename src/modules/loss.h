/* Internal: the losses with a thread count, for the library's own training
 * and benchmark loops (the public functions, network.h, run on one thread). */
#ifndef MN_MODULES_LOSS_H
#define MN_MODULES_LOSS_H

#include "modnorm/network.h"

/* mn_loss_cross_entropy with its rows shared among `threads` (<= 0: every
 * core; below 2^16 logits, one): each row's term is computed apart and the
 * terms summed in row order after, so the loss, dlogits and the count are
 * the same bits at any thread count. */
mn_status mn_loss_cross_entropy_threads(const mn_tensor *logits, const int32_t *labels,
                                        double *loss, mn_tensor *dlogits, int64_t *correct,
                                        int threads);

#endif
