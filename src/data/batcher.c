/* Shuffled mini-batches over an mn_dataset. Each epoch is a fresh
 * Fisher–Yates permutation from the batcher's own RNG, so the sequence of
 * batches depends on the seed alone. The dataset must outlive the batcher
 * and keep its size. */
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/error.h"
#include "core/size.h"
#include "modnorm/data.h"

/* Shuffling the previous permutation is as uniform as shuffling 0..n-1. */
static void shuffle(mn_batcher *b)
{
    int64_t *p = b->perm;
    for (int64_t i = b->data->n - 1; i > 0; i--) {
        int64_t j = (int64_t)mn_rng_below(&b->rng, (uint64_t)i + 1);
        int64_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

mn_status mn_batcher_init(mn_batcher *b, const mn_dataset *data, int64_t batch, uint64_t seed)
{
    if (!b)
        return mn_fail(MN_ERR_ARG, "mn_batcher_init: b is NULL");
    *b = (mn_batcher){0}; /* mn_batcher_free is safe after any failure */
    if (!data || !data->x)
        return mn_fail(MN_ERR_ARG, "mn_batcher_init: data %s", data ? "has no features (x is NULL)"
                                                                      : "is NULL");
    if (data->n < 1 || data->dim < 1)
        return mn_fail(MN_ERR_ARG, "mn_batcher_init: data has n = %lld, dim = %lld; need both >= 1",
                       (long long)data->n, (long long)data->dim);
    if (batch < 1 || batch > data->n)
        return mn_fail(MN_ERR_ARG, "mn_batcher_init: batch = %lld must be in [1, %lld] (the "
                                   "number of examples)",
                       (long long)batch, (long long)data->n);
    if (data->labels_per_row < 0)
        return mn_fail(MN_ERR_ARG, "mn_batcher_init: data has labels_per_row = %lld; need >= 0",
                       (long long)data->labels_per_row);
    int64_t count; /* n x dim floats, n x labels, n permutation entries: addressable */
    MN_TRY(mn_checked_count("mn_batcher_init: data", MN_ERR_ARG, 2,
                            (const int64_t[]){data->n, data->dim}, sizeof(float), &count));
    MN_TRY(mn_checked_count("mn_batcher_init: data labels", MN_ERR_ARG, 2,
                            (const int64_t[]){data->n, mn_dataset_labels_per_row(data)},
                            sizeof(int32_t), &count));
    MN_TRY(mn_checked_count("mn_batcher_init: data", MN_ERR_ARG, 1, &data->n, sizeof(int64_t),
                            &count));
    int64_t *perm = malloc((size_t)data->n * sizeof *perm);
    if (!perm)
        return mn_fail(MN_ERR_NOMEM, "mn_batcher_init: cannot allocate a permutation of %lld",
                       (long long)data->n);
    for (int64_t i = 0; i < data->n; i++)
        perm[i] = i;
    *b = (mn_batcher){.data = data, .batch = batch, .perm = perm, .pos = 0, .epoch = 0};
    mn_rng_seed(&b->rng, seed);
    shuffle(b);
    return MN_OK;
}

static mn_status check_out(const mn_batcher *b, const mn_tensor *x, const int32_t *y)
{
    MN_TRY(mn_check_tensor("mn_batcher_next", "x", x));
    if (x->ndim != 2)
        return mn_fail(MN_ERR_SHAPE, "mn_batcher_next: x has %d dimensions; need (batch, dim) = "
                                     "(%lld, %lld)",
                       x->ndim, (long long)b->batch, (long long)b->data->dim);
    if (x->shape[0] != b->batch || x->shape[1] != b->data->dim)
        return mn_fail(MN_ERR_SHAPE, "mn_batcher_next: x has shape (%lld, %lld); need (batch, dim) "
                                     "= (%lld, %lld)",
                       (long long)x->shape[0], (long long)x->shape[1], (long long)b->batch,
                       (long long)b->data->dim);
    if (!mn_tensor_is_contiguous(x))
        return mn_fail(MN_ERR_SHAPE, "mn_batcher_next: x is a strided view; need a contiguous "
                                     "tensor");
    if (y && !b->data->y)
        return mn_fail(MN_ERR_ARG, "mn_batcher_next: y given but the dataset has no labels");
    return MN_OK;
}

mn_status mn_batcher_next(mn_batcher *b, mn_tensor *x, int32_t *y)
{
    if (!b || !b->perm)
        return mn_fail(MN_ERR_ARG, "mn_batcher_next: batcher is %s", b ? "not initialized"
                                                                        : "NULL");
    MN_TRY(check_out(b, x, y));
    /* Drop the incomplete tail: every batch has the same size. */
    if (b->pos + b->batch > b->data->n) {
        shuffle(b);
        b->pos = 0;
        b->epoch++;
    }
    const mn_dataset *d = b->data;
    int64_t lpr = mn_dataset_labels_per_row(d);
    for (int64_t k = 0; k < b->batch; k++) {
        int64_t i = b->perm[b->pos + k];
        memcpy(x->data + k * d->dim, d->x + i * d->dim, (size_t)d->dim * sizeof(float));
        if (y)
            memcpy(y + k * lpr, d->y + i * lpr, (size_t)lpr * sizeof *y);
    }
    b->pos += b->batch;
    return MN_OK;
}

void mn_batcher_free(mn_batcher *b)
{
    if (!b)
        return;
    free(b->perm);
    *b = (mn_batcher){0};
}
