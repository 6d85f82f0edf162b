/* Internal: what the io layer's readers and writers share: opening a file
 * to read without waiting on a FIFO or a device. */
#ifndef MN_IO_COMMON_H
#define MN_IO_COMMON_H

#include <sys/stat.h>

/* open(path) read-only with O_NONBLOCK, so that opening a FIFO no process
 * writes to (or a device that waits for a line) returns at once instead of
 * blocking; then *sb is its fstat and the flag is cleared, so that reads
 * wait as usual (a FIFO without a writer reads as its end at once). The
 * caller checks sb->st_mode: a reader of whole files refuses anything but
 * S_ISREG. -1 with errno when open or fstat fails. */
int mn_io_open_read(const char *path, struct stat *sb);

#endif
