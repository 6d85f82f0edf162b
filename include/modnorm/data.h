/* modnorm/data.h — datasets and shuffled batches.
 *
 * Fashion-MNIST comes from Debian's `dataset-fashion-mnist` package
 * (/usr/share/datasets/fashion-mnist/{train,t10k}-*-ubyte.gz, IDX format, read with zlib):
 * 60k train / 10k test images of 28x28 pixels, 10 classes. Pixels are
 * standardized with the training set's mean and standard deviation (one
 * scalar each), and each image is a row of 784 floats.
 *
 * A dataset is classification (one label per row) or sequence (text.h:
 * labels_per_row labels per row, the next token at each position). */
#ifndef MODNORM_DATA_H
#define MODNORM_DATA_H

#include "modnorm/export.h"
#include <stdint.h>

#include "modnorm/rng.h"
#include "modnorm/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct mn_dataset {
    int64_t n;        /* examples */
    int64_t dim;      /* features per example */
    int n_classes;
    float *x;         /* (n, dim) row-major */
    int32_t *y;       /* (n · labels_per_row) labels in [0, n_classes) */
    int64_t labels_per_row; /* labels per example; 0 or 1: one (classification) */
} mn_dataset;

/* Labels per row of `d`: d->labels_per_row, and 1 when it is 0. */
MN_API int64_t mn_dataset_labels_per_row(const mn_dataset *d);

/* Load the train and test splits from `dir` (NULL: MN_FASHION_MNIST_DIR).
 * A missing directory or file gives MN_ERR_IO with a message that says how
 * to install the package. On success free both with mn_dataset_free. */
MN_API mn_status mn_fashion_mnist_load(const char *dir, mn_dataset *train, mn_dataset *test);

/* Read one IDX file (gzip-compressed or plain): images (magic 0x803) as
 * floats in [0, 255] with dim = rows·cols, or labels (magic 0x801). */
MN_API mn_status mn_idx_read_images(const char *path, mn_dataset *out);
MN_API mn_status mn_idx_read_labels(const char *path, mn_dataset *out);

/* x ← (x − mean) / std for every element, in place. */
MN_API void mn_dataset_standardize(mn_dataset *d, double mean, double std);
/* The mean and standard deviation of every element of x (in double). */
MN_API void mn_dataset_moments(const mn_dataset *d, double *mean, double *std);

MN_API void mn_dataset_free(mn_dataset *d);

/* Shuffled mini-batches: each epoch is a fresh permutation drawn from the
 * batcher's own RNG; the last incomplete batch of an epoch is dropped. */
typedef struct mn_batcher {
    const mn_dataset *data;
    int64_t batch;
    int64_t *perm;
    int64_t pos;
    int64_t epoch;
    mn_rng rng;
} mn_batcher;

MN_API mn_status mn_batcher_init(mn_batcher *b, const mn_dataset *data, int64_t batch, uint64_t seed);
/* Copy the next batch into x (batch, dim) and y (batch · labels per row). */
MN_API mn_status mn_batcher_next(mn_batcher *b, mn_tensor *x, int32_t *y);
MN_API void mn_batcher_free(mn_batcher *b);

#ifdef __cplusplus
}
#endif
#endif
