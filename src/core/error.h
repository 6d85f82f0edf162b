/* Internal: record a failure message and return its status. */
#ifndef MN_CORE_ERROR_H
#define MN_CORE_ERROR_H

#include "modnorm/status.h"

#if defined(__GNUC__)
#define MN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MN_PRINTF(a, b)
#endif

/* Format the thread's last-error message and return `s`. */
mn_status mn_fail(mn_status s, const char *fmt, ...) MN_PRINTF(2, 3);

/* Propagate a failure: `MN_TRY(expr);` returns its status if not MN_OK. */
#define MN_TRY(expr)                                                          \
    do {                                                                      \
        mn_status mn_try_s_ = (expr);                                         \
        if (mn_try_s_ != MN_OK)                                               \
            return mn_try_s_;                                                 \
    } while (0)

#endif
