/* The data-parallel group (modnorm/dist.h): the only file that calls MPI.
 * Without MPI (or without mpirun) a group has one rank and every collective
 * is a copy or nothing. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/error.h"

#ifdef MN_HAVE_MPI
#include <mpi.h>
#endif

struct mn_dist {
    int rank, size;
    bool initialized; /* this group called MPI_Init_thread */
    double weight;    /* the shard's share of the global batch */
    mn_dist_traffic traffic;
};

bool mn_dist_built(void)
{
#ifdef MN_HAVE_MPI
    return true;
#else
    return false;
#endif
}

#ifdef MN_HAVE_MPI
/* mpirun (Open MPI), and the PMI launchers of MPICH and Slurm, say so in
 * the environment; a plain `modnorm train` stays out of MPI. */
static bool launched_by_mpi(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                       "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return true;
    return false;
}

static mn_status mpi_fail(int rc, const char *what)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error %d", rc);
    return mn_fail(MN_ERR_IO, "MPI: %s failed: %s", what, text);
}

/* MPI counts are int: a block past INT_MAX floats is refused. */
static mn_status check_count(int64_t n, const char *what)
{
    if (n < 0 || n > INT_MAX)
        return mn_fail(MN_ERR_ARG, "MPI: %s of %lld elements does not fit in an MPI count", what,
                       (long long)n);
    return MN_OK;
}
#endif

mn_status mn_dist_create(mn_dist **out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_dist_create: out is NULL");
    *out = NULL;
    mn_dist *d = calloc(1, sizeof *d);
    if (!d)
        return mn_fail(MN_ERR_NOMEM, "mn_dist_create: out of memory");
    d->size = 1;
    d->weight = 1;
#ifdef MN_HAVE_MPI
    int already = 0;
    MPI_Initialized(&already);
    if (already || launched_by_mpi()) {
        if (!already) {
            int provided = 0;
            int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
            if (rc != MPI_SUCCESS) {
                free(d);
                return mpi_fail(rc, "MPI_Init_thread");
            }
            d->initialized = true;
        }
        MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    }
#endif
    *out = d;
    return MN_OK;
}

void mn_dist_destroy(mn_dist *d)
{
    if (!d)
        return;
#ifdef MN_HAVE_MPI
    if (d->initialized) {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized)
            MPI_Finalize();
    }
#endif
    free(d);
}

int mn_dist_rank(const mn_dist *d) { return d ? d->rank : 0; }

int mn_dist_size(const mn_dist *d) { return d ? d->size : 1; }

mn_status mn_dist_shard(mn_dist *d, int64_t batch, int64_t *lo, int64_t *hi)
{
    if (!d || !lo || !hi)
        return mn_fail(MN_ERR_ARG, "mn_dist_shard: NULL argument");
    if (batch < d->size)
        return mn_fail(MN_ERR_ARG, "the batch of %lld rows is smaller than the %d ranks: every "
                       "rank needs at least one row", (long long)batch, d->size);
    int64_t p = d->size, base = batch / p, extra = batch % p, r = d->rank;
    *lo = r * base + (r < extra ? r : extra);
    *hi = *lo + base + (r < extra ? 1 : 0);
    d->weight = (double)(*hi - *lo) / (double)batch;
    return MN_OK;
}

double mn_dist_shard_weight(const mn_dist *d) { return d ? d->weight : 1.0; }

/* The ring model: each of the P−1 rounds sends one block. */
static double ring(const mn_dist *d, int64_t block)
{
    return (double)(d->size - 1) * (double)block * sizeof(float);
}

double mn_dist_step_bytes(int ranks, int64_t block)
{
    return ranks <= 1 ? 0.0 : 2.0 * (double)(ranks - 1) * (double)block * sizeof(float);
}

mn_status mn_dist_agree(mn_dist *d, mn_status st)
{
    if (!d || d->size == 1)
        return st;
#ifdef MN_HAVE_MPI
    int mine = st != MN_OK ? d->rank : INT_MAX, first = INT_MAX;
    d->traffic.collectives++;
    d->traffic.scalar_bytes += sizeof mine;
    int rc = MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return mpi_fail(rc, "MPI_Allreduce (status)");
    if (first == INT_MAX)
        return MN_OK;
    struct {
        int status;
        char message[1024];
    } m = {.status = (int)st};
    if (d->rank == first)
        snprintf(m.message, sizeof m.message, "%s", mn_last_error());
    d->traffic.collectives++;
    d->traffic.scalar_bytes += sizeof m;
    rc = MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return mpi_fail(rc, "MPI_Bcast (status)");
    if (first == 0)
        return mn_fail((mn_status)m.status, "%s", m.message);
    return mn_fail((mn_status)m.status, "rank %d: %s", first, m.message);
#else
    return st;
#endif
}

mn_status mn_dist_sum(mn_dist *d, double *x, int n)
{
    if (!d || (n > 0 && !x) || n < 0)
        return mn_fail(MN_ERR_ARG, "mn_dist_sum: NULL or negative argument");
    if (d->size == 1 || n == 0)
        return MN_OK;
#ifdef MN_HAVE_MPI
    d->traffic.collectives++;
    d->traffic.scalar_bytes += (uint64_t)n * sizeof *x;
    int rc = MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? MN_OK : mpi_fail(rc, "MPI_Allreduce (sum)");
#else
    return MN_OK;
#endif
}

mn_status mn_dist_batch_loss(mn_dist *d, mn_status st, double *loss)
{
    if (!d || !loss)
        return mn_fail(MN_ERR_ARG, "mn_dist_batch_loss: NULL argument");
    if (d->size == 1)
        return st;
    /* the weighted loss and a count of failed ranks in one reduction */
    double v[2] = {st == MN_OK ? d->weight * *loss : 0.0, st == MN_OK ? 0.0 : 1.0};
    mn_status rs = mn_dist_sum(d, v, 2);
    if (rs != MN_OK)
        return rs;
    if (v[1] != 0)
        return mn_dist_agree(d, st); /* every rank knows one failed: all join */
    *loss = v[0];
    return MN_OK;
}

mn_status mn_dist_broadcast(mn_dist *d, void *buf, size_t bytes, int root)
{
    if (!d || (bytes > 0 && !buf) || root < 0 || root >= mn_dist_size(d))
        return mn_fail(MN_ERR_ARG, "mn_dist_broadcast: NULL buffer or root out of range");
    if (d->size == 1 || bytes == 0)
        return MN_OK;
#ifdef MN_HAVE_MPI
    /* in pieces of at most 1 GiB: MPI counts are int */
    for (size_t at = 0; at < bytes;) {
        size_t n = bytes - at < ((size_t)1 << 30) ? bytes - at : (size_t)1 << 30;
        d->traffic.collectives++;
        d->traffic.scalar_bytes += n;
        int rc = MPI_Bcast((char *)buf + at, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(rc, "MPI_Bcast");
        at += n;
    }
#endif
    return MN_OK;
}

mn_status mn_dist_reduce_scatter(mn_dist *d, const float *send, float *recv, int64_t block)
{
    if (d->size == 1) {
        memcpy(recv, send, (size_t)block * sizeof *recv);
        return MN_OK;
    }
#ifdef MN_HAVE_MPI
    MN_TRY(check_count(block, "a gradient block"));
    d->traffic.collectives++;
    d->traffic.reduce_scatter_bytes += (uint64_t)d->size * (uint64_t)block * sizeof(float);
    d->traffic.ring_bytes += ring(d, block);
    int rc = MPI_Reduce_scatter_block(send, recv, (int)block, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? MN_OK : mpi_fail(rc, "MPI_Reduce_scatter_block");
#else
    return MN_OK;
#endif
}

mn_status mn_dist_allgather(mn_dist *d, const float *send, float *recv, int64_t block)
{
    if (d->size == 1) {
        memcpy(recv, send, (size_t)block * sizeof *recv);
        return MN_OK;
    }
#ifdef MN_HAVE_MPI
    MN_TRY(check_count(block, "a weight block"));
    d->traffic.collectives++;
    d->traffic.allgather_bytes += (uint64_t)block * sizeof(float);
    d->traffic.ring_bytes += ring(d, block);
    int rc = MPI_Allgather(send, (int)block, MPI_FLOAT, recv, (int)block, MPI_FLOAT,
                           MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? MN_OK : mpi_fail(rc, "MPI_Allgather");
#else
    return MN_OK;
#endif
}

void mn_dist_traffic_get(const mn_dist *d, mn_dist_traffic *out)
{
    if (out)
        *out = d ? d->traffic : (mn_dist_traffic){0};
}

void mn_dist_traffic_reset(mn_dist *d)
{
    if (d)
        d->traffic = (mn_dist_traffic){0};
}
