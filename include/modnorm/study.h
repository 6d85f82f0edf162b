/* modnorm/study.h — transfer studies: sweeps of one named size parameter
 * (width, depth, …) × learning rate × seed, their summary, and the shared
 * model factory. The coordinate check is in modnorm/coordcheck.h. */
#ifndef MODNORM_STUDY_H
#define MODNORM_STUDY_H

#include <stdint.h>

#include "modnorm/export.h"
#include "modnorm/module.h"
#include "modnorm/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Builds the network a study trains at one value of its size parameter:
 * `param` is the parameter's name ("width", "depth", "channels", …), `value`
 * its value. On success *out is a new tree the caller owns; on failure
 * return a status with a message (mn_last_error) naming the problem, e.g. a
 * parameter the model does not have. Called from several threads at once
 * when a sweep runs jobs side by side: it must be thread-safe. */
typedef mn_status (*mn_model_factory)(void *ctx, const char *param, int64_t value,
                                      mn_module **out);

#ifdef __cplusplus
}
#endif
#endif
