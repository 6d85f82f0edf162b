/* Internal: checks of the tensors and matrix views a caller hands a public
 * function. Their structs are public, so every field can hold anything;
 * these refuse what would crash or be read wrong, with a one-line message
 * "fn: NAME …" naming the argument. */
#ifndef MN_CORE_CHECK_H
#define MN_CORE_CHECK_H

#include <stdbool.h>

#include "modnorm/tensor.h"

/* dt is MN_F32 or MN_F64. */
static inline bool mn_dtype_valid(mn_dtype dt) { return dt == MN_F32 || dt == MN_F64; }

/* MN_ERR_ARG when m is NULL, its dtype is neither float32 nor float64, or its
 * data is NULL while it has elements; MN_ERR_SHAPE for a negative size. */
mn_status mn_check_mat(const char *fn, const char *name, const mn_mat *m);

/* MN_ERR_ARG when t is NULL or its data is NULL while it has elements;
 * MN_ERR_SHAPE for an ndim outside 1..MN_MAX_DIMS, a negative dimension or
 * more elements than a buffer can hold. */
mn_status mn_check_tensor(const char *fn, const char *name, const mn_tensor *t);

/* Whether a and b have the same ndim and dimensions. */
bool mn_tensor_same_shape(const mn_tensor *a, const mn_tensor *b);

/* "(a, b, c)" into buf (cap bytes); returns buf. */
const char *mn_tensor_shape_str(const mn_tensor *t, char *buf, size_t cap);

#endif
