/* Batch sources: the fit loop's view of where batches come from. The
 * dataset source wraps an mn_batcher, so `modnorm train` sees the same
 * batches in the same order as before the fit loop moved here. */
#include <stdlib.h>

#include "core/error.h"
#include "modnorm/train.h"

static mn_status dataset_next(void *ctx, mn_tensor *x, int32_t *labels)
{
    return mn_batcher_next(ctx, x, labels);
}

static void dataset_destroy(void *ctx)
{
    mn_batcher_free(ctx);
    free(ctx);
}

mn_status mn_batch_source_dataset(mn_batch_source *out, const mn_dataset *data, int64_t batch,
                                  uint64_t seed)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_batch_source_dataset: out is NULL");
    *out = (mn_batch_source){0};
    if (data && data->x && !data->y)
        return mn_fail(MN_ERR_ARG, "mn_batch_source_dataset: the dataset has no labels");
    mn_batcher *b = malloc(sizeof *b);
    if (!b)
        return mn_fail(MN_ERR_NOMEM, "mn_batch_source_dataset: out of memory");
    mn_status st = mn_batcher_init(b, data, batch, seed); /* checks data and batch */
    if (st != MN_OK) {
        free(b);
        return st;
    }
    *out = (mn_batch_source){.batch = batch, .dim = data->dim, .per_epoch = data->n / batch,
                             .ctx = b, .next = dataset_next, .destroy = dataset_destroy,
                             .labels_per_row = mn_dataset_labels_per_row(data)};
    return MN_OK;
}

mn_batcher *mn_batch_source_batcher(const mn_batch_source *src)
{
    return src && src->next == dataset_next ? src->ctx : NULL;
}

void mn_batch_source_destroy(mn_batch_source *src)
{
    if (!src)
        return;
    if (src->destroy)
        src->destroy(src->ctx);
    *src = (mn_batch_source){0};
}
