/* The polar factors of n matrices of one shape as one batch (a Conv2D's k²
 * taps under the per-tap norm, norms/conv_taps.c).
 *
 * The taps of a convolution are many small matrices (32 x 1 to 128 x 64):
 * each product of one tap's iteration is far too small for BLIS to thread,
 * so one polar call per tap, one after another, would leave all but one
 * core idle. The batch is one call that splits the n matrices over the
 * threads, each matrix's whole iteration on one thread with one BLIS thread
 * and that thread's own workspace (core/scratch.c keeps one per thread):
 * the n iterations run side by side. (A GPU would stack them into batched
 * matrix products instead; BLIS has none, and on a CPU the matrices are the
 * natural unit of work.) When there are fewer matrices than threads, they
 * run one after another with every thread each. Every result is the
 * mn_polar_run of its matrix with the same options: the same form (AUTO
 * picks per shape), precision and method. */
#include <stdio.h>

#include "core/check.h"
#include "core/error.h"
#include "core/parallel.h"
#include "modnorm/polar.h"

mn_status mn_polar_batch_run(const mn_dualize_opts *opts, int64_t n, mn_mat *out,
                             const mn_mat *G)
{
    if (n < 0 || (n > 0 && (!out || !G)))
        return mn_fail(MN_ERR_ARG, "mn_polar_batch_run: %s", n < 0 ? "n is negative"
                                                                   : "out or G is NULL");
    for (int64_t i = 0; i < n; i++) { /* the shapes' message reads the dtypes */
        char name[48];
        snprintf(name, sizeof name, "G[%lld]", (long long)i);
        MN_TRY(mn_check_mat("mn_polar_batch_run", name, &G[i]));
    }
    for (int64_t i = 1; i < n; i++)
        if (G[i].rows != G[0].rows || G[i].cols != G[0].cols || G[i].dtype != G[0].dtype)
            return mn_fail(MN_ERR_SHAPE, "mn_polar_batch_run: matrix %lld is %lldx%lld %s, the "
                           "batch's first %lldx%lld %s", (long long)i, (long long)G[i].rows,
                           (long long)G[i].cols, mn_dtype_name(G[i].dtype),
                           (long long)G[0].rows, (long long)G[0].cols,
                           mn_dtype_name(G[0].dtype));
    mn_dualize_opts o = opts ? *opts : (mn_dualize_opts){0};
    int threads = mn_threads_resolve(o.threads);
    if (n < 2 || n < threads) {
        for (int64_t i = 0; i < n; i++)
            MN_TRY(mn_polar_run(&o, &out[i], &G[i]));
        return MN_OK;
    }
    o.threads = 1;
    mn_status failed = MN_OK;
    int64_t failed_at = n;
    char message[1024] = "";
    MN_PARALLEL_FOR_TASKS(threads)
    for (int64_t i = 0; i < n; i++) {
        mn_status st = mn_polar_run(&o, &out[i], &G[i]);
        if (st != MN_OK) {
            MN_CRITICAL
            if (i < failed_at) { /* the first in batch order reports */
                failed = st;
                failed_at = i;
                snprintf(message, sizeof message, "%s", mn_last_error());
            }
        }
    }
    if (failed != MN_OK)
        return mn_fail(failed, "%s (matrix %lld of the batch)", message, (long long)failed_at);
    return MN_OK;
}
