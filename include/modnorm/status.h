/* modnorm/status.h — error reporting.
 *
 * Every function that can fail returns an mn_status. On failure the library
 * also records a one-line message naming the argument and the problem; read
 * it with mn_last_error() from the same thread. The library never exits or
 * aborts on bad input. */
#ifndef MODNORM_STATUS_H
#define MODNORM_STATUS_H

#include "modnorm/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mn_status {
    MN_OK = 0,
    MN_ERR_ARG,         /* an argument is invalid (NULL, out of range, unknown name) */
    MN_ERR_SHAPE,       /* shapes or dtypes do not agree, or a shape is impossible
                           (a negative size, more elements than memory addresses) */
    MN_ERR_NOMEM,       /* an allocation failed */
    MN_ERR_IO,          /* a file could not be opened, read or written */
    MN_ERR_FORMAT,      /* a file is not in the expected format */
    MN_ERR_UNSUPPORTED, /* a well-formed request the library refuses (e.g. an intractable norm) */
    MN_ERR_NONFINITE,   /* NaN or Inf in an input, or a computation that diverged */
    MN_ERR_NUMERIC      /* a numerical routine failed to converge */
} mn_status;

/* A short constant description of a status code ("invalid argument"). */
MN_API const char *mn_status_str(mn_status s);

/* The detailed message of the last failure on this thread ("" if none). */
MN_API const char *mn_last_error(void);

/* Forget the last message (mn_last_error() returns "" afterwards). */
MN_API void mn_clear_error(void);

/* For code outside the library that runs inside it (a module's ops, a
 * norm's functions): record a printf-formatted one-line message for
 * mn_last_error() and return `s`, e.g.
 *     return mn_set_error(MN_ERR_SHAPE, "Conv2D: kernel %d exceeds the input", k); */
MN_API mn_status mn_set_error(mn_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
