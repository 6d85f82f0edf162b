/* Status codes and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>

#include "core/error.h"

static _Thread_local char last_error[1024];

const char *mn_status_str(mn_status s)
{
    switch (s) {
    case MN_OK: return "ok";
    case MN_ERR_ARG: return "invalid argument";
    case MN_ERR_SHAPE: return "shape mismatch";
    case MN_ERR_NOMEM: return "out of memory";
    case MN_ERR_IO: return "I/O error";
    case MN_ERR_FORMAT: return "bad file format";
    case MN_ERR_UNSUPPORTED: return "unsupported";
    case MN_ERR_NONFINITE: return "non-finite value";
    case MN_ERR_NUMERIC: return "numerical failure";
    }
    return "unknown status";
}

const char *mn_last_error(void) { return last_error; }

void mn_clear_error(void) { last_error[0] = '\0'; }

mn_status mn_fail(mn_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}
