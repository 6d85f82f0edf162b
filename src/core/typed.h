/* Internal: write an element loop once for float32 and float64 views. */
#ifndef MN_CORE_TYPED_H
#define MN_CORE_TYPED_H

#include "modnorm/tensor.h"

/* Run the body with T the element type of `m` and ROW(m, T, i) a T pointer to the
 * start of row i (columns at stride m->cs): one loop body, two dtypes, no
 * per-element dtype branch. The body is variadic so that commas need no
 * parentheses. */
#define MN_TYPED_ROWS(m, T, ...)                                                                  \
    do {                                                                                           \
        if ((m)->dtype == MN_F32) {                                                                \
            typedef float T;                                                                       \
            __VA_ARGS__                                                                            \
        } else {                                                                                   \
            typedef double T;                                                                      \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    } while (0)
#define ROW(m, T, i) ((T *)(m)->data + (i) * (m)->rs)

#endif
