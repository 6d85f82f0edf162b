/* Checkpoints of a data-parallel run: one file, written and read by rank 0
 * (see checkpoint_dist.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/common.h"
#include "modnorm/dist.h"
#include "modnorm/optim.h"
#include "study/checkpoint_dist.h"

mn_status mn_checkpoint_save_ranks(const char *path, const mn_train_run *run)
{
    mn_dist *d = run && run->solver ? mn_solver_dist(run->solver) : NULL;
    if (!d)
        return mn_checkpoint_save(path, run);
    MN_TRY(mn_solver_gather_state(run->solver, run->net));
    mn_status st = mn_dist_rank(d) == 0 ? mn_checkpoint_save(path, run) : MN_OK;
    return mn_dist_agree(d, st);
}

/* The whole file at `path` into *bytes (malloc'd). */
static mn_status slurp(const char *path, unsigned char **bytes, uint64_t *len)
{
    struct stat sb;
    FILE *f = mn_io_fopen_read(path, &sb); /* a FIFO must not block rank 0 (and every rank) */
    if (!f)
        return mn_fail(MN_ERR_IO, "checkpoint '%s': cannot open it: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) {
        fclose(f);
        return mn_fail(MN_ERR_IO, "checkpoint '%s': not a regular file", path);
    }
    long end = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        end = ftell(f);
    mn_status st = MN_OK;
    if (end < 0 || fseek(f, 0, SEEK_SET) != 0)
        st = mn_fail(MN_ERR_IO, "checkpoint '%s': cannot find its length", path);
    else if (!(*bytes = malloc(end > 0 ? (size_t)end : 1)))
        st = mn_fail(MN_ERR_NOMEM, "checkpoint '%s': out of memory for %ld bytes", path, end);
    else if (fread(*bytes, 1, (size_t)end, f) != (size_t)end)
        st = mn_fail(MN_ERR_IO, "checkpoint '%s': cannot read its %ld bytes", path, end);
    fclose(f);
    *len = end > 0 ? (uint64_t)end : 0;
    return st;
}

mn_status mn_checkpoint_load_ranks(const char *path, mn_train_run *run)
{
    mn_dist *d = run && run->solver ? mn_solver_dist(run->solver) : NULL;
    if (!d)
        return mn_checkpoint_load(path, run);
    unsigned char *bytes = NULL;
    uint64_t len = 0;
    mn_status st = mn_dist_rank(d) == 0 ? slurp(path, &bytes, &len) : MN_OK;
    st = mn_dist_agree(d, st);
    if (st == MN_OK)
        st = mn_dist_broadcast(d, &len, sizeof len, 0);
    if (st == MN_OK && mn_dist_rank(d) != 0 && !(bytes = malloc(len > 0 ? (size_t)len : 1)))
        st = mn_fail(MN_ERR_NOMEM, "checkpoint '%s': out of memory for %llu bytes", path,
                     (unsigned long long)len);
    st = mn_dist_agree(d, st);
    if (st == MN_OK)
        st = mn_dist_broadcast(d, bytes, (size_t)len, 0);
    mn_safetensors *f = NULL;
    if (st == MN_OK)
        st = mn_safetensors_parse(bytes, (size_t)len, path, &f);
    if (st == MN_OK)
        st = mn_checkpoint_restore(f, run);
    mn_safetensors_free(f);
    free(bytes);
    return mn_dist_agree(d, st);
}
