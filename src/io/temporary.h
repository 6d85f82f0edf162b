/* Internal: the temporary files of the atomic writers (mn_safetensors_write,
 * the .npy writers). A writer of PATH writes PATH.tmpPID.N (PID its process
 * id, N a counter) and renames it over PATH; one killed in between leaves
 * that file behind. Each writer removes those of its PATH whose process is
 * gone, and mn_safetensors_export_npy accepts them in its folder. Assumes
 * that the writers of one PATH share this machine's process ids. */
#ifndef MN_IO_TEMPORARY_H
#define MN_IO_TEMPORARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "modnorm/status.h"

/* A new temporary file for `path` (its name into tmp, of cap >= strlen(path)
 * + 48 bytes), opened for writing; created with mode 0666 less the umask,
 * or set to `mode` when mode >= 0 (a replaced file's permissions). -1 with
 * errno on failure. */
int mn_io_temporary_create(const char *path, char *tmp, size_t cap, int mode);

/* The length of PATH when `name` is exactly PATH.tmpPID.N (decimal PID and
 * N, nothing after, PATH not empty); else 0. */
size_t mn_io_temporary_base(const char *name);

/* Whether `name`, an entry of the directory open as dir_fd, is a temporary
 * left by a writer that is gone: named PATH.tmpPID.N, a regular file (a
 * symbolic link is not one), and PID is not this process and no longer a
 * process on this machine (kill(PID, 0) fails with ESRCH). */
bool mn_io_temporary_stale(int dir_fd, const char *name);

/* Remove the stale temporaries of `path` (above): each would otherwise
 * keep a whole file's worth of disk forever. Best effort: nothing here
 * fails, and a live writer's temporary is kept. */
void mn_io_temporary_cleanup(const char *path);

/* `path` written whole through a temporary beside it, renamed over it at
 * the end: the stale temporaries of path removed first, then body(f, ctx)
 * writes the content (false on a failed write); the temporary gets `mode`
 * when mode >= 0 (a replaced file's permissions). A failure leaves path as
 * it was and no temporary, with MN_ERR_IO ("SHOWN: cannot create: ...",
 * "SHOWN: cannot write: ...") or MN_ERR_NOMEM; `shown` is the name messages
 * give (the caller's spelling of path). */
mn_status mn_io_temporary_write(const char *path, const char *shown, int mode,
                                bool (*body)(FILE *f, const void *ctx), const void *ctx);

#endif
