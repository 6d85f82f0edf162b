/* Datasets: IDX files written here (gzip and plain), their refusals, the
 * Fashion-MNIST loader on a tiny fake directory and on the real package,
 * and the shuffled batcher. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "modnorm/data.h"
#include "testutil.h"

/* ---- writing IDX files -------------------------------------------------- */

typedef struct {
    char dir[64];
    char path[16][256];
    int n_paths;
} tmpdir;

static void tmp_open(tmpdir *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/mn_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t->dir));
}

/* A path inside the directory, remembered so tmp_close can remove it. */
static const char *tmp_path(tmpdir *t, const char *name)
{
    ck_assert_int_lt(t->n_paths, 16);
    char dir[sizeof t->dir]; /* a copy: snprintf must not read what it writes */
    memcpy(dir, t->dir, sizeof dir);
    char *p = t->path[t->n_paths++];
    snprintf(p, sizeof t->path[0], "%s/%s", dir, name);
    return p;
}

/* Remove the files, keep the directory. */
static void tmp_clear(tmpdir *t)
{
    for (int i = 0; i < t->n_paths; i++)
        unlink(t->path[i]);
    t->n_paths = 0;
}

static void tmp_close(tmpdir *t)
{
    tmp_clear(t);
    ck_assert_int_eq(rmdir(t->dir), 0); /* empty: every file was accounted for */
}

static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* Header (magic, sizes) followed by `len` data bytes; data_len may be cut
 * short or padded by the caller to make broken files. */
static void write_idx(const char *path, bool gz, uint32_t magic, const uint32_t *dims, int ndim,
                      const unsigned char *data, size_t len)
{
    unsigned char hdr[16];
    put_be32(hdr, magic);
    for (int i = 0; i < ndim; i++)
        put_be32(hdr + 4 + 4 * i, dims[i]);
    size_t hlen = 4 + 4 * (size_t)ndim;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, hdr, (unsigned)hlen), (int)hlen);
        if (len)
            ck_assert_int_eq(gzwrite(f, data, (unsigned)len), (int)len);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(hdr, 1, hlen, f), hlen);
        if (len)
            ck_assert_uint_eq(fwrite(data, 1, len, f), len);
        ck_assert_int_eq(fclose(f), 0);
    }
}

static void write_images(const char *path, bool gz, uint32_t n, uint32_t rows, uint32_t cols,
                         const unsigned char *px)
{
    uint32_t dims[3] = {n, rows, cols};
    write_idx(path, gz, 0x803, dims, 3, px, (size_t)n * rows * cols);
}

static void write_labels(const char *path, bool gz, uint32_t n, const unsigned char *lab)
{
    write_idx(path, gz, 0x801, &n, 1, lab, n);
}

/* Read must fail with `st` and a message naming the path and the problem. */
static void expect_refused(mn_status (*read)(const char *, mn_dataset *), const char *path,
                           mn_status st, const char *needle)
{
    mn_dataset d;
    ck_assert_int_eq(read(path, &d), st);
    ck_assert_ptr_null(d.x);
    ck_assert_ptr_null(d.y);
    ck_assert_msg(strstr(mn_last_error(), path), "message '%s' lacks the path", mn_last_error());
    ck_assert_msg(strstr(mn_last_error(), needle), "message '%s' lacks '%s'", mn_last_error(),
                  needle);
}

/* ---- IDX reading -------------------------------------------------------- */

START_TEST(test_idx_round_trip)
{
    tmpdir t;
    tmp_open(&t);
    unsigned char px[3 * 2 * 4];
    for (int i = 0; i < 24; i++)
        px[i] = (unsigned char)(i * 11); /* reaches 253: the full byte range */
    const unsigned char lab[3] = {2, 0, 7};
    const char *names[2] = {"img.gz", "img.raw"};
    for (int gz = 0; gz < 2; gz++) {
        const char *path = tmp_path(&t, names[gz]);
        write_images(path, gz, 3, 2, 4, px);
        mn_dataset d;
        ck_assert_ok(mn_idx_read_images(path, &d));
        ck_assert_int_eq(d.n, 3);
        ck_assert_int_eq(d.dim, 8);
        ck_assert_ptr_null(d.y);
        for (int i = 0; i < 24; i++)
            ck_assert_float_eq(d.x[i], (float)px[i]);
        mn_dataset_free(&d);
        ck_assert_ptr_null(d.x);
    }
    const char *lpath = tmp_path(&t, "lab.gz");
    write_labels(lpath, true, 3, lab);
    mn_dataset d;
    ck_assert_ok(mn_idx_read_labels(lpath, &d));
    ck_assert_int_eq(d.n, 3);
    ck_assert_ptr_null(d.x);
    ck_assert_int_eq(d.n_classes, 8); /* max label + 1 */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(d.y[i], lab[i]);
    mn_dataset_free(&d);
    tmp_close(&t);
}
END_TEST

START_TEST(test_idx_refusals)
{
    tmpdir t;
    tmp_open(&t);
    unsigned char px[2 * 3 * 3] = {0}, extra[2 * 3 * 3 + 1] = {0};
    uint32_t dims[3] = {2, 3, 3};

    const char *p = tmp_path(&t, "labels_as_images.gz");
    write_labels(p, true, 4, px);
    expect_refused(mn_idx_read_images, p, MN_ERR_FORMAT, "bad magic");
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "label file"));
    expect_refused(mn_idx_read_labels, tmp_path(&t, "missing.gz"), MN_ERR_IO, "cannot open");

    p = tmp_path(&t, "bad_magic.raw");
    write_idx(p, false, 0x12345678, dims, 3, px, sizeof px);
    expect_refused(mn_idx_read_images, p, MN_ERR_FORMAT, "0x12345678");

    /* Short data, plain and compressed; a header cut off mid-size. */
    p = tmp_path(&t, "short.gz");
    write_idx(p, true, 0x803, dims, 3, px, sizeof px - 1);
    expect_refused(mn_idx_read_images, p, MN_ERR_FORMAT, "truncated");
    p = tmp_path(&t, "short.raw");
    write_idx(p, false, 0x803, dims, 2, NULL, 0);
    expect_refused(mn_idx_read_images, p, MN_ERR_FORMAT, "truncated");

    /* A gzip stream cut in the middle. */
    p = tmp_path(&t, "cut.gz");
    unsigned char big[4096];
    mn_rng r;
    mn_rng_seed(&r, 5);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)mn_rng_next(&r); /* random: gzip cannot shrink it */
    uint32_t bigdims[3] = {4, 32, 32};
    write_idx(p, true, 0x803, bigdims, 3, big, sizeof big);
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_int_eq(truncate(p, sb.st_size / 2), 0);
    expect_refused(mn_idx_read_images, p, MN_ERR_FORMAT, "truncated");

    p = tmp_path(&t, "trailing.raw");
    write_idx(p, false, 0x803, dims, 3, extra, sizeof extra);
    expect_refused(mn_idx_read_images, p, MN_ERR_FORMAT, "trailing");

    /* Absurd sizes are refused before anything is allocated. */
    p = tmp_path(&t, "sizes.raw");
    uint32_t zero_rows[3] = {2, 0, 3};
    write_idx(p, false, 0x803, zero_rows, 3, NULL, 0);
    expect_refused(mn_idx_read_images, p, MN_ERR_FORMAT, "out of range");
    uint32_t huge[3] = {0xffffffffu, 28, 28};
    write_idx(p, false, 0x803, huge, 3, NULL, 0);
    expect_refused(mn_idx_read_images, p, MN_ERR_FORMAT, "4294967295 items");
    uint32_t none = 0;
    write_idx(p, false, 0x801, &none, 1, NULL, 0);
    expect_refused(mn_idx_read_labels, p, MN_ERR_FORMAT, "0 items");

    mn_dataset d;
    ck_assert_int_eq(mn_idx_read_images(NULL, &d), MN_ERR_ARG);
    ck_assert_int_eq(mn_idx_read_labels(p, NULL), MN_ERR_ARG);
    tmp_close(&t);
}
END_TEST

/* ---- moments and the loader --------------------------------------------- */

START_TEST(test_moments_and_standardize)
{
    float x[4] = {1, 2, 3, 6};
    mn_dataset d = {.n = 2, .dim = 2, .x = x};
    double mean, std;
    mn_dataset_moments(&d, &mean, &std);
    ck_assert_double_eq_tol(mean, 3, 1e-12);
    ck_assert_double_eq_tol(std, sqrt(3.5), 1e-12); /* population std */
    mn_dataset_standardize(&d, mean, std);
    mn_dataset_moments(&d, &mean, &std);
    ck_assert_double_eq_tol(mean, 0, 1e-6);
    ck_assert_double_eq_tol(std, 1, 1e-6);
    /* std 0 centres without producing inf. */
    float c[3] = {5, 5, 5};
    mn_dataset k = {.n = 3, .dim = 1, .x = c};
    mn_dataset_standardize(&k, 5, 0);
    ck_assert_float_eq(c[0], 0);
}
END_TEST

/* A tiny Fashion-MNIST directory: n_train and n_test images of 2x3. */
static void fake_dataset(tmpdir *t, uint32_t n_train, uint32_t n_train_labels, unsigned char bad)
{
    unsigned char px[64 * 6], lab[64];
    for (int i = 0; i < 64 * 6; i++)
        px[i] = (unsigned char)(i * 7 % 256);
    for (int i = 0; i < 64; i++)
        lab[i] = (unsigned char)(i % 10);
    lab[1] = bad ? bad : lab[1];
    write_images(tmp_path(t, "train-images-idx3-ubyte.gz"), true, n_train, 2, 3, px);
    write_labels(tmp_path(t, "train-labels-idx1-ubyte.gz"), true, n_train_labels, lab);
    write_images(tmp_path(t, "t10k-images-idx3-ubyte.gz"), true, 5, 2, 3, px + 6);
    write_labels(tmp_path(t, "t10k-labels-idx1-ubyte.gz"), true, 5, lab + 1);
}

START_TEST(test_load_fake_dir)
{
    tmpdir t;
    tmp_open(&t);
    fake_dataset(&t, 20, 20, 0);
    mn_dataset train, test;
    ck_assert_ok(mn_fashion_mnist_load(t.dir, &train, &test));
    ck_assert_int_eq(train.n, 20);
    ck_assert_int_eq(test.n, 5);
    ck_assert_int_eq(train.dim, 6);
    ck_assert_int_eq(train.n_classes, 10);
    ck_assert_int_eq(test.n_classes, 10);
    ck_assert_int_eq(train.y[13], 3);
    ck_assert_int_eq(test.y[0], 1);
    /* Both splits use the raw train moments: test pixel k of image 0 is
     * train pixel 6 + k, so the first test image equals the second train one. */
    double mean, std;
    mn_dataset_moments(&train, &mean, &std);
    ck_assert_double_eq_tol(mean, 0, 1e-6);
    ck_assert_double_eq_tol(std, 1, 1e-6);
    for (int k = 0; k < 6; k++)
        ck_assert_float_eq_tol(test.x[k], train.x[6 + k], 1e-6);
    mn_dataset_free(&train);
    mn_dataset_free(&test);
    tmp_close(&t);
}
END_TEST

static void expect_load_refused(const char *dir, mn_status st, const char *needle1,
                                const char *needle2)
{
    mn_dataset train, test;
    ck_assert_int_eq(mn_fashion_mnist_load(dir, &train, &test), st);
    ck_assert_ptr_null(train.x);
    ck_assert_ptr_null(test.x);
    ck_assert_ptr_null(train.y);
    ck_assert_ptr_null(test.y);
    const char *msg = mn_last_error();
    ck_assert_msg(strstr(msg, needle1), "message '%s' lacks '%s'", msg, needle1);
    ck_assert_msg(!needle2 || strstr(msg, needle2), "message '%s' lacks '%s'", msg, needle2);
}

START_TEST(test_load_refusals)
{
    expect_load_refused("/nonexistent/fashion", MN_ERR_IO, "/nonexistent/fashion",
                        "apt-get install dataset-fashion-mnist");

    tmpdir t;
    tmp_open(&t);
    /* An empty directory: the first file it needs is named. */
    expect_load_refused(t.dir, MN_ERR_IO, "train-images-idx3-ubyte.gz", "dataset-fashion-mnist");

    fake_dataset(&t, 20, 19, 0);
    expect_load_refused(t.dir, MN_ERR_FORMAT, "20 images", "19 labels");
    tmp_clear(&t);

    fake_dataset(&t, 20, 20, 12);
    expect_load_refused(t.dir, MN_ERR_FORMAT, "label 12", "train-labels");
    tmp_clear(&t);

    /* The test split missing after the train split loaded: nothing leaks. */
    fake_dataset(&t, 20, 20, 0);
    unlink(t.path[3]);
    expect_load_refused(t.dir, MN_ERR_IO, "t10k-labels-idx1-ubyte.gz", "dataset-fashion-mnist");
    /* A FIFO in a file's place (no process writes to it) is refused at once,
     * not waited on; so is a directory. */
    ck_assert_int_eq(mkfifo(t.path[3], 0600), 0);
    expect_load_refused(t.dir, MN_ERR_IO, "t10k-labels-idx1-ubyte.gz", "(a fifo)");
    unlink(t.path[3]);
    ck_assert_int_eq(mkdir(t.path[3], 0700), 0);
    expect_load_refused(t.dir, MN_ERR_IO, "t10k-labels-idx1-ubyte.gz", "a directory");
    rmdir(t.path[3]);

    mn_dataset d;
    ck_assert_int_eq(mn_fashion_mnist_load(t.dir, &d, NULL), MN_ERR_ARG);
    tmp_close(&t);
}
END_TEST

START_TEST(test_real_fashion_mnist)
{
    mn_dataset train, test;
    ck_assert_ok(mn_fashion_mnist_load(NULL, &train, &test));
    ck_assert_int_eq(train.n, 60000);
    ck_assert_int_eq(test.n, 10000);
    ck_assert_int_eq(train.dim, 784);
    ck_assert_int_eq(test.dim, 784);
    ck_assert_int_eq(train.n_classes, 10);
    int64_t count[10] = {0}, tcount[10] = {0};
    for (int64_t i = 0; i < train.n; i++) {
        ck_assert(train.y[i] >= 0 && train.y[i] < 10);
        count[train.y[i]]++;
    }
    for (int64_t i = 0; i < test.n; i++)
        tcount[test.y[i]]++;
    for (int c = 0; c < 10; c++) {
        ck_assert_int_eq(count[c], 6000);
        ck_assert_int_eq(tcount[c], 1000);
    }
    double mean, std;
    mn_dataset_moments(&train, &mean, &std);
    ck_assert_double_eq_tol(mean, 0, 1e-4);
    ck_assert_double_eq_tol(std, 1, 1e-4);
    /* The test split is close to, not exactly, standardized. */
    mn_dataset_moments(&test, &mean, &std);
    ck_assert_double_eq_tol(mean, 0, 0.05);
    ck_assert_double_eq_tol(std, 1, 0.05);
    /* A black pixel maps to -mean/std of the raw training pixels. */
    float lo = train.x[0];
    for (int64_t i = 0; i < train.n * train.dim; i++)
        lo = fminf(lo, train.x[i]);
    ck_assert_double_eq_tol(lo, -72.94 / 90.02, 2e-3);
    mn_dataset_free(&train);
    mn_dataset_free(&test);
}
END_TEST

/* ---- batcher ------------------------------------------------------------ */

/* n examples of dim 3: row i is (100 i, 100 i + 1, 100 i + 2), label i. */
static mn_dataset counting_dataset(int64_t n)
{
    mn_dataset d = {.n = n, .dim = 3, .n_classes = (int)n};
    d.x = malloc((size_t)(n * 3) * sizeof *d.x);
    d.y = malloc((size_t)n * sizeof *d.y);
    ck_assert_ptr_nonnull(d.x);
    ck_assert_ptr_nonnull(d.y);
    for (int64_t i = 0; i < n; i++) {
        d.y[i] = (int32_t)i;
        for (int j = 0; j < 3; j++)
            d.x[i * 3 + j] = (float)(100 * i + j);
    }
    return d;
}

/* epochs × per_epoch batches of labels into out, checking x against y. */
static void draw(const mn_dataset *d, int64_t batch, uint64_t seed, int epochs, int per_epoch,
                 int32_t *out)
{
    mn_batcher b;
    ck_assert_ok(mn_batcher_init(&b, d, batch, seed));
    mn_tensor *x;
    ck_assert_ok(mn_tensor_create(&x, 2, (int64_t[]){batch, 3}));
    for (int e = 0; e < epochs; e++)
        for (int k = 0; k < per_epoch; k++) {
            int32_t *y = out + (e * per_epoch + k) * batch;
            ck_assert_ok(mn_batcher_next(&b, x, y));
            ck_assert_int_eq(b.epoch, e);
            for (int64_t r = 0; r < batch; r++)
                for (int j = 0; j < 3; j++)
                    ck_assert_float_eq(x->data[r * 3 + j], (float)(100 * y[r] + j));
        }
    mn_tensor_destroy(x);
    mn_batcher_free(&b);
}

START_TEST(test_batcher_epochs)
{
    enum { N = 10, B = 3, PER = N / B, EPOCHS = 6, TOTAL = EPOCHS * PER * B };
    mn_dataset d = counting_dataset(N);
    int32_t a[TOTAL], b[TOTAL], c[TOTAL];
    draw(&d, B, 42, EPOCHS, PER, a);
    draw(&d, B, 42, EPOCHS, PER, b);
    draw(&d, B, 43, EPOCHS, PER, c);
    ck_assert_mem_eq(a, b, sizeof a); /* same seed, same batches */
    ck_assert(memcmp(a, c, sizeof a) != 0);
    /* Each epoch takes PER·B distinct examples (the tail of N - PER·B is
     * dropped), and successive epochs are different permutations. */
    for (int e = 0; e < EPOCHS; e++) {
        int seen[N] = {0};
        for (int k = 0; k < PER * B; k++)
            seen[a[e * PER * B + k]]++;
        int missing = -1;
        for (int i = 0; i < N; i++) {
            ck_assert_int_le(seen[i], 1);
            if (!seen[i])
                missing = i;
        }
        ck_assert_int_ge(missing, 0);
        if (e > 0)
            ck_assert(memcmp(a + e * PER * B, a + (e - 1) * PER * B, PER * B * sizeof *a) != 0);
    }
    mn_dataset_free(&d);
}
END_TEST

START_TEST(test_batcher_full_permutation)
{
    /* When the batch divides n, every index appears exactly once per epoch. */
    enum { N = 12, B = 4, PER = N / B, EPOCHS = 4 };
    mn_dataset d = counting_dataset(N);
    int32_t a[EPOCHS * N];
    draw(&d, B, 7, EPOCHS, PER, a);
    for (int e = 0; e < EPOCHS; e++) {
        int seen[N] = {0};
        for (int k = 0; k < N; k++)
            seen[a[e * N + k]]++;
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(seen[i], 1);
    }
    /* batch = n: one batch per epoch, each a full permutation. */
    int32_t whole[3 * N];
    draw(&d, N, 7, 3, 1, whole);
    for (int e = 0; e < 3; e++) {
        int seen[N] = {0};
        for (int k = 0; k < N; k++)
            seen[whole[e * N + k]]++;
        for (int i = 0; i < N; i++)
            ck_assert_int_eq(seen[i], 1);
    }
    mn_dataset_free(&d);
}
END_TEST

static void expect_next_refused(mn_batcher *b, mn_tensor *x, mn_status st, const char *needle)
{
    int32_t y[4];
    ck_assert_int_eq(mn_batcher_next(b, x, y), st);
    ck_assert_msg(strstr(mn_last_error(), needle), "message '%s' lacks '%s'", mn_last_error(),
                  needle);
}

START_TEST(test_batcher_refusals)
{
    mn_dataset d = counting_dataset(5);
    mn_batcher b;
    ck_assert_int_eq(mn_batcher_init(&b, &d, 0, 1), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "[1, 5]"));
    ck_assert_int_eq(mn_batcher_init(&b, &d, 6, 1), MN_ERR_ARG);
    ck_assert_ptr_null(b.perm);
    mn_batcher_free(&b); /* safe after a failed init */
    ck_assert_int_eq(mn_batcher_init(&b, NULL, 1, 1), MN_ERR_ARG);
    ck_assert_int_eq(mn_batcher_init(NULL, &d, 1, 1), MN_ERR_ARG);

    ck_assert_ok(mn_batcher_init(&b, &d, 4, 1));
    mn_tensor *x;
    ck_assert_ok(mn_tensor_create(&x, 2, (int64_t[]){5, 3}));
    expect_next_refused(&b, x, MN_ERR_SHAPE, "(5, 3); need (batch, dim) = (4, 3)");
    mn_tensor_destroy(x);
    ck_assert_ok(mn_tensor_create(&x, 2, (int64_t[]){4, 2}));
    expect_next_refused(&b, x, MN_ERR_SHAPE, "(4, 2)");
    mn_tensor_destroy(x);
    ck_assert_ok(mn_tensor_create(&x, 1, (int64_t[]){12}));
    expect_next_refused(&b, x, MN_ERR_SHAPE, "1 dimensions");
    mn_tensor_destroy(x);
    /* A transposed view of a (3, 4) tensor has shape (4, 3) but strides. */
    ck_assert_ok(mn_tensor_create(&x, 2, (int64_t[]){3, 4}));
    mn_tensor xt = *x;
    xt.owns_data = false;
    xt.shape[0] = 4, xt.shape[1] = 3;
    xt.stride[0] = 1, xt.stride[1] = 4;
    expect_next_refused(&b, &xt, MN_ERR_SHAPE, "contiguous");
    expect_next_refused(&b, NULL, MN_ERR_ARG, "x is NULL");
    xt = *x;
    xt.data = NULL; /* was reported as "x is NULL" */
    xt.shape[0] = 4, xt.shape[1] = 3;
    expect_next_refused(&b, &xt, MN_ERR_ARG, "x's data is NULL (a (4, 3) tensor)");
    mn_tensor_destroy(x);
    /* Refusals do not advance the batcher; y may be NULL to skip labels;
     * the second batch of 4 out of 5 starts a new epoch. */
    ck_assert_int_eq(b.pos, 0);
    ck_assert_ok(mn_tensor_create(&x, 2, (int64_t[]){4, 3}));
    ck_assert_ok(mn_batcher_next(&b, x, NULL));
    ck_assert_int_eq(b.pos, 4);
    ck_assert_int_eq(b.epoch, 0);
    ck_assert_ok(mn_batcher_next(&b, x, NULL));
    ck_assert_int_eq(b.epoch, 1);
    mn_batcher_free(&b);
    ck_assert_int_eq(mn_batcher_next(&b, x, NULL), MN_ERR_ARG); /* freed */
    /* Labels asked of a dataset without them. */
    mn_dataset nolab = {.n = 5, .dim = 3, .x = d.x};
    ck_assert_ok(mn_batcher_init(&b, &nolab, 4, 1));
    expect_next_refused(&b, x, MN_ERR_ARG, "no labels");
    mn_batcher_free(&b);
    mn_tensor_destroy(x);
    mn_dataset_free(&d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("data");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_idx_round_trip);
    tcase_add_test(tc, test_idx_refusals);
    tcase_add_test(tc, test_moments_and_standardize);
    tcase_add_test(tc, test_load_fake_dir);
    tcase_add_test(tc, test_load_refusals);
    tcase_add_test(tc, test_real_fashion_mnist);
    tcase_add_test(tc, test_batcher_epochs);
    tcase_add_test(tc, test_batcher_full_permutation);
    tcase_add_test(tc, test_batcher_refusals);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
