/* modnorm/npy.h — read and write NumPy .npy files of 1-D and 2-D arrays
 * (C order, little-endian float32 '<f4' or float64 '<f8').
 *
 * The reader follows the format's specification strictly
 * (numpy.lib.format, versions 1.0, 2.0 and 3.0): the magic string, the
 * header length, a Python dict literal with exactly the keys 'descr',
 * 'fortran_order' and 'shape', padded with spaces and ended by a newline,
 * then exactly the data the shape calls for: a file with bytes missing or
 * left over is refused. A shape whose nonzero dimensions times the dtype's
 * size pass 2^63 - 1 bytes is refused even when a dimension is 0 (numpy's
 * own rule: it can neither make nor load such an array), by the reader and
 * by the writers. Every size is checked for overflow and against the
 * file's length before anything is allocated, so the file must be a
 * regular file: a FIFO, a pipe or a device is refused (MN_ERR_FORMAT) at
 * once, without waiting for a writer. A failure returns
 * MN_ERR_IO (cannot open or read) or MN_ERR_FORMAT (anything else about the
 * file) with a one-line message that starts with the path and names the
 * problem, and leaves *out untouched. */
#ifndef MODNORM_NPY_H
#define MODNORM_NPY_H

#include "modnorm/export.h"
#include "modnorm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read a 1-D or 2-D array. On success *out is a contiguous matrix the
 * caller frees with mn_mat_free: (rows, cols) as in the file, and a 1-D
 * array of n as 1 x n. A NULL or empty path is MN_ERR_ARG. */
MN_API mn_status mn_npy_read(const char *path, mn_mat *out);
/* mn_npy_read that also reports the file's number of dimensions (1 or 2) in
 * *ndim, so that a caller can write a 1-D result back as 1-D
 * (mn_npy_write_ndim). */
MN_API mn_status mn_npy_read_ndim(const char *path, mn_mat *out, int *ndim);

/* Write `m` as a 2-D array (rows, cols) in its dtype, in C order of the view
 * (a transposed view is written transposed). Atomic: the data goes to a
 * temporary file in the same directory, renamed over `path` at the end, so a
 * failure leaves no file, no temporary and the old `path` as it was (a
 * process killed mid-write leaves its temporary, PATH.tmpPID.N: safe to
 * delete; the next write of `path` deletes those whose process PID no
 * longer exists on this machine). A symbolic link to a regular file is
 * written through (the file it names is replaced); an existing `path` that
 * is not a regular file (a device, a directory, a link to neither) is
 * refused with MN_ERR_IO before anything is written. */
MN_API mn_status mn_npy_write(const char *path, const mn_mat *m);
/* mn_npy_write with the number of dimensions to write: 2 as above, or 1 for
 * a 1 x n or n x 1 matrix written as the 1-D shape (n,). MN_ERR_SHAPE for a
 * negative size of m, or if ndim is 1 and neither side of m is 1; MN_ERR_ARG
 * for another ndim. */
MN_API mn_status mn_npy_write_ndim(const char *path, const mn_mat *m, int ndim);

/* Write `nbytes` bytes of C-order little-endian data as an array of numpy
 * dtype `descr` ("<f4", "<f8", "<i8", "<u8", "|u1") and shape shape[0..ndim)
 * (0 <= ndim <= 32; ndim 0 is a scalar), atomically as mn_npy_write does.
 * MN_ERR_ARG when nbytes is not the shape's element count times the dtype's
 * size, or descr is not one of those; MN_ERR_SHAPE for a negative dimension,
 * or nonzero dimensions whose product times the dtype's size passes 2^63 - 1
 * (numpy's limit, 0-element shapes included), as for a matrix written by
 * mn_npy_write. */
MN_API mn_status mn_npy_write_raw(const char *path, const char *descr, int ndim,
                                  const int64_t *shape, const void *data, size_t nbytes);

#ifdef __cplusplus
}
#endif
#endif
