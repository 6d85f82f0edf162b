/* Internal: sizes that reach memory, checked before anything is allocated.
 *
 * A shape from a caller or a file is refused when a dimension is negative or
 * when its element count times the element size passes PTRDIFF_MAX: then
 * every later product of sizes (count × bytes, row × stride) fits int64_t,
 * size_t and ptrdiff_t, and nothing wraps to a small allocation. */
#ifndef MN_CORE_SIZE_H
#define MN_CORE_SIZE_H

#include <stddef.h>
#include <stdint.h>

#include "modnorm/status.h"

/* The most elements of `elem` bytes one buffer may hold (≥ 1 byte each). */
static inline int64_t mn_max_elems(size_t elem)
{
    return (int64_t)(PTRDIFF_MAX / (ptrdiff_t)(elem ? elem : 1));
}

/* *count = dims[0]·…·dims[ndim-1] (1 for ndim 0) if every dimension is >= 0
 * and the product fits mn_max_elems(elem); otherwise MN_ERR_ARG (or `err`, for
 * sizes read from a file) with a one-line message "`what`: shape (…) …". */
mn_status mn_checked_count(const char *what, mn_status err, int ndim, const int64_t *dims,
                           size_t elem, int64_t *count);

/* *sum = a + b for counts a, b >= 0, refused like mn_checked_count. */
mn_status mn_checked_add(const char *what, int64_t a, int64_t b, size_t elem, int64_t *sum);

#endif
