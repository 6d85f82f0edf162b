/* Internal: what the io layer's readers and writers share: opening a file
 * to read without waiting on a FIFO or a device, numpy's rule for the size
 * of a shape, and a name (a tensor's, a folder entry's: any bytes) or a
 * file's kind made fit for a one-line message. */
#ifndef MN_IO_COMMON_H
#define MN_IO_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

/* open(path) read-only with O_NONBLOCK, so that opening a FIFO no process
 * writes to (or a device that waits for a line) returns at once instead of
 * blocking; then *sb is its fstat and the flag is cleared, so that reads
 * wait as usual (a FIFO without a writer reads as its end at once). The
 * caller checks sb->st_mode: a reader of whole files refuses anything but
 * S_ISREG. -1 with errno when open or fstat fails. */
int mn_io_open_read(const char *path, struct stat *sb);
/* mn_io_open_read as a stdio stream ("rb"): NULL with errno when the open,
 * the fstat or fdopen fails (the descriptor closed). */
FILE *mn_io_fopen_read(const char *path, struct stat *sb);

/* What a file of mode m (a stat's or lstat's st_mode) is, for messages:
 * "a regular file", "a directory", "a fifo", ... (static strings). */
const char *mn_io_kind_of(mode_t m);

/* numpy's rule for an array's shape, for every shape the io layer reads or
 * writes: no negative dimension, and `elem` (the dtype's size) times the
 * product of the nonzero dimensions at most INT64_MAX (numpy's largest
 * size), zeros or not, so that a tensor of 0 elements whose other
 * dimensions overflow is refused in any order of its dimensions, as numpy
 * refuses to make or load it. *bytes = elem times the element count (0
 * when a dimension is 0). */
bool mn_io_shape_bytes(int ndim, const int64_t *shape, size_t elem, uint64_t *bytes);

/* `s` for a message, into buf (cap >= 16 bytes): at most about 64 bytes of
 * it, cut before a whole UTF-8 character (never inside one) and then
 * "...", and every control byte (< 0x20, 0x7f) as \xNN, so that the
 * message stays one line of valid text. Returns buf. */
const char *mn_io_shown(const char *s, char *buf, size_t cap);
#define MN_IO_SHOWN_CAP (64 * 4 + 8) /* a buffer that always holds the 64 bytes escaped */

#endif
