/* Status codes and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static mn_status vfail(mn_status s, const char *fmt, va_list ap)
{
    /* Formatted aside first: an argument may be mn_last_error() itself. */
    char buf[sizeof last_error];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    char *full = n >= (int)sizeof buf ? malloc((size_t)n + 1) : NULL;
    if (full) {
        /* Too long, as with a long path: keep the start and the end, where
         * the reason is, cutting neither inside a UTF-8 character. */
        vsnprintf(full, (size_t)n + 1, fmt, again);
        size_t head = 256, tail = sizeof buf - 1 - head - 5;
        while (head > 0 && ((unsigned char)full[head] & 0xc0) == 0x80)
            head--;
        const char *end = full + n - tail;
        while (((unsigned char)*end & 0xc0) == 0x80)
            end++;
        snprintf(buf, sizeof buf, "%.*s ... %s", (int)head, full, end);
        free(full);
    }
    va_end(again);
    memcpy(last_error, buf, sizeof buf);
    return s;
}

mn_status mn_fail(mn_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(s, fmt, ap);
    va_end(ap);
    return s;
}

mn_status mn_set_error(mn_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(s, fmt ? fmt : "(no message)", ap);
    va_end(ap);
    return s;
}
