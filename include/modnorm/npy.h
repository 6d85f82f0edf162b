/* modnorm/npy.h — read and write 2-D NumPy .npy files (C order,
 * little-endian float32 '<f4' or float64 '<f8'; a 1-D array reads as 1 x n). */
#ifndef MODNORM_NPY_H
#define MODNORM_NPY_H

#include "modnorm/export.h"
#include "modnorm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* On success *out is a contiguous matrix the caller frees with mn_mat_free. */
MN_API mn_status mn_npy_read(const char *path, mn_mat *out);
/* Write atomically: to a temporary file renamed over `path` at the end, so a
 * failure never leaves a truncated file behind. */
MN_API mn_status mn_npy_write(const char *path, const mn_mat *m);

#ifdef __cplusplus
}
#endif
#endif
