/* Data-parallel batches (train.h: mn_batch_source_shard): every rank draws
 * the global batch from its own copy of the same source and keeps its rows. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "modnorm/train.h"

typedef struct {
    mn_batch_source *global;
    int64_t lo, hi;
    mn_tensor *x;    /* the global batch */
    int32_t *labels; /* its labels */
} shard_ctx;

static void shard_destroy(void *ctx)
{
    shard_ctx *c = ctx;
    mn_tensor_destroy(c->x);
    free(c->labels);
    free(c);
}

/* Labels a row: a sequence source has one per position (train.h). */
static int64_t labels_of(const mn_batch_source *src)
{
    return src->labels_per_row > 1 ? src->labels_per_row : 1;
}

static mn_status shard_next(void *ctx, mn_tensor *x, int32_t *labels)
{
    shard_ctx *c = ctx;
    MN_TRY(c->global->next(c->global->ctx, c->x, c->labels));
    int64_t dim = c->global->dim, rows = c->hi - c->lo, lpr = labels_of(c->global);
    if (x->ndim < 1 || x->shape[0] != rows || mn_tensor_numel(x) != rows * dim)
        return mn_fail(MN_ERR_SHAPE, "shard batch: the tensor does not hold %lld rows of %lld",
                       (long long)rows, (long long)dim);
    memcpy(x->data, c->x->data + c->lo * dim, (size_t)(rows * dim) * sizeof(float));
    memcpy(labels, c->labels + c->lo * lpr, (size_t)(rows * lpr) * sizeof *labels);
    return MN_OK;
}

mn_status mn_batch_source_shard(mn_batch_source *out, mn_batch_source *global, mn_dist *d)
{
    if (!out || !global || !global->next || !d)
        return mn_fail(MN_ERR_ARG, "mn_batch_source_shard: NULL argument");
    *out = (mn_batch_source){0};
    int64_t lo, hi;
    MN_TRY(mn_dist_shard(d, global->batch, &lo, &hi));
    shard_ctx *c = calloc(1, sizeof *c);
    mn_status st = c ? MN_OK : mn_fail(MN_ERR_NOMEM, "mn_batch_source_shard: out of memory");
    if (st == MN_OK)
        st = mn_tensor_create(&c->x, 2, (int64_t[]){global->batch, global->dim});
    int64_t n_labels = global->batch * labels_of(global);
    if (st == MN_OK && !(c->labels = malloc((size_t)n_labels * sizeof *c->labels)))
        st = mn_fail(MN_ERR_NOMEM, "mn_batch_source_shard: out of memory for %lld labels",
                     (long long)n_labels);
    if (st != MN_OK) {
        if (c)
            shard_destroy(c);
        return st;
    }
    c->global = global;
    c->lo = lo;
    c->hi = hi;
    *out = (mn_batch_source){.batch = hi - lo, .dim = global->dim, .per_epoch = global->per_epoch,
                             .labels_per_row = global->labels_per_row, .ctx = c,
                             .next = shard_next, .destroy = shard_destroy};
    return MN_OK;
}
