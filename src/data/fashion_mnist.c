/* IDX files (read through zlib, so .gz and plain files alike) and the
 * Fashion-MNIST train/test splits built from them.
 *
 * IDX: a big-endian u32 magic 0x000008NN (0x08 = unsigned bytes, NN = number
 * of dimensions), NN big-endian u32 sizes, then the bytes in C order. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"
#include "io/common.h"
#include "modnorm/data.h"

#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAGIC_IMAGES 0x00000803u

/* Bounds that no real dataset reaches but a corrupt header easily does:
 * they keep a bad size from turning into a huge allocation. */
#define IDX_MAX_N ((int64_t)1 << 28)
#define IDX_MAX_SIDE ((int64_t)1 << 16)
#define IDX_MAX_BYTES ((int64_t)1 << 33)

#define CHUNK ((int64_t)1 << 16)

/* Said for a folder named by the caller too: it may be a typo of, or a copy
 * of, what the package installs. */
static const char install_hint[] =
    "not found; Debian's package puts the IDX files in " MN_FASHION_MNIST_DIR
    " (apt-get install dataset-fashion-mnist)";

/* ---- reading ------------------------------------------------------------ */

/* Opened without waiting (a FIFO no process writes to would block gzopen
 * for ever) and refused unless a regular file. */
static mn_status idx_open(const char *path, gzFile *out)
{
    struct stat sb;
    int fd = mn_io_open_read(path, &sb);
    if (fd < 0)
        return mn_fail(MN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return mn_fail(MN_ERR_IO, "%s: not a regular file (%s); the data set is read from "
                       "files", path, mn_io_kind_of(sb.st_mode));
    }
    *out = gzdopen(fd, "rb");
    if (!*out) {
        close(fd);
        return mn_fail(MN_ERR_NOMEM, "%s: cannot open: out of memory", path);
    }
    gzbuffer(*out, 1u << 17); /* fewer, larger reads: the real files are tens of MB */
    return MN_OK;
}

/* A failed gzread: the OS, a cut-off gzip stream, or corrupt data. */
static mn_status read_error(gzFile f, const char *path)
{
    int err = 0;
    const char *msg = gzerror(f, &err);
    if (err == Z_ERRNO)
        return mn_fail(MN_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (err == Z_BUF_ERROR)
        return mn_fail(MN_ERR_FORMAT, "%s: file is truncated", path);
    return mn_fail(MN_ERR_FORMAT, "%s: corrupt gzip data (%s)", path, msg);
}

/* Exactly len bytes, in pieces that fit gzread's unsigned count. */
static mn_status read_exact(gzFile f, const char *path, void *buf, int64_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        unsigned want = (unsigned)(len < CHUNK ? len : CHUNK);
        int got = gzread(f, p, want);
        if (got < 0)
            return read_error(f, path);
        if ((unsigned)got < want)
            return mn_fail(MN_ERR_FORMAT, "%s: file is truncated", path);
        p += got;
        len -= got;
    }
    return MN_OK;
}

/* Extra bytes mean the header's sizes do not describe the file. */
static mn_status expect_end(gzFile f, const char *path)
{
    unsigned char extra;
    int got = gzread(f, &extra, 1);
    if (got < 0)
        return read_error(f, path);
    if (got > 0)
        return mn_fail(MN_ERR_FORMAT, "%s: trailing data after the last item", path);
    return MN_OK;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Check the magic and read its ndim sizes into dims. */
static mn_status read_header(gzFile f, const char *path, uint32_t magic, int64_t *dims)
{
    int ndim = (int)(magic & 0xff);
    unsigned char b[4 * 4];
    MN_TRY(read_exact(f, path, b, 4));
    uint32_t got = be32(b);
    if (got != magic) {
        const char *kind = got == IDX_MAGIC_LABELS   ? " (an IDX label file)"
                           : got == IDX_MAGIC_IMAGES ? " (an IDX image file)"
                                                     : "";
        return mn_fail(MN_ERR_FORMAT, "%s: bad magic 0x%08x%s; expected 0x%08x", path,
                       (unsigned)got, kind, (unsigned)magic);
    }
    MN_TRY(read_exact(f, path, b, 4 * ndim));
    for (int i = 0; i < ndim; i++)
        dims[i] = be32(b + 4 * i);
    return MN_OK;
}

static mn_status check_sizes(const char *path, const int64_t *dims, int ndim)
{
    if (dims[0] < 1 || dims[0] > IDX_MAX_N)
        return mn_fail(MN_ERR_FORMAT, "%s: %lld items; expected 1..%lld", path,
                       (long long)dims[0], (long long)IDX_MAX_N);
    int64_t bytes = dims[0];
    for (int i = 1; i < ndim; i++) {
        if (dims[i] < 1 || dims[i] > IDX_MAX_SIDE)
            return mn_fail(MN_ERR_FORMAT, "%s: size %lld of dimension %d is out of range 1..%lld",
                           path, (long long)dims[i], i, (long long)IDX_MAX_SIDE);
        bytes *= dims[i]; /* cannot overflow: 2^28 · 2^16 · 2^16 < 2^63 */
    }
    if (bytes > IDX_MAX_BYTES)
        return mn_fail(MN_ERR_FORMAT, "%s: %lld bytes of data is implausibly large", path,
                       (long long)bytes);
    return MN_OK;
}

/* n·dim pixels as floats, converted chunk by chunk so the bytes are never
 * held twice. */
static mn_status read_pixels(gzFile f, const char *path, float *x, int64_t count)
{
    unsigned char buf[CHUNK];
    for (int64_t done = 0; done < count;) {
        int64_t k = count - done < CHUNK ? count - done : CHUNK;
        MN_TRY(read_exact(f, path, buf, k));
        for (int64_t i = 0; i < k; i++)
            x[done + i] = (float)buf[i];
        done += k;
    }
    return MN_OK;
}

static mn_status read_images(gzFile f, const char *path, mn_dataset *out)
{
    int64_t dims[3];
    MN_TRY(read_header(f, path, IDX_MAGIC_IMAGES, dims));
    MN_TRY(check_sizes(path, dims, 3));
    int64_t n = dims[0], dim = dims[1] * dims[2];
    float *x = malloc((size_t)(n * dim) * sizeof *x);
    if (!x)
        return mn_fail(MN_ERR_NOMEM, "%s: cannot allocate %lld x %lld floats", path,
                       (long long)n, (long long)dim);
    mn_status st = read_pixels(f, path, x, n * dim);
    if (st == MN_OK)
        st = expect_end(f, path);
    if (st != MN_OK) {
        free(x);
        return st;
    }
    *out = (mn_dataset){.n = n, .dim = dim, .n_classes = 0, .x = x, .y = NULL};
    return MN_OK;
}

static mn_status read_labels(gzFile f, const char *path, mn_dataset *out)
{
    int64_t n = 0;
    MN_TRY(read_header(f, path, IDX_MAGIC_LABELS, &n));
    MN_TRY(check_sizes(path, &n, 1));
    unsigned char *raw = malloc((size_t)n);
    int32_t *y = malloc((size_t)n * sizeof *y);
    mn_status st = MN_OK;
    if (!raw || !y)
        st = mn_fail(MN_ERR_NOMEM, "%s: cannot allocate %lld labels", path, (long long)n);
    if (st == MN_OK)
        st = read_exact(f, path, raw, n);
    if (st == MN_OK)
        st = expect_end(f, path);
    int max = 0;
    for (int64_t i = 0; st == MN_OK && i < n; i++) {
        y[i] = raw[i];
        max = raw[i] > max ? raw[i] : max;
    }
    free(raw);
    if (st != MN_OK) {
        free(y);
        return st;
    }
    *out = (mn_dataset){.n = n, .dim = 0, .n_classes = max + 1, .x = NULL, .y = y};
    return MN_OK;
}

typedef mn_status (*idx_body_fn)(gzFile, const char *, mn_dataset *);

/* Open, read with `body`, close; out is zeroed unless everything worked. */
static mn_status idx_read(const char *path, mn_dataset *out, idx_body_fn body, const char *fn)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "%s: out is NULL", fn);
    *out = (mn_dataset){0};
    if (!path)
        return mn_fail(MN_ERR_ARG, "%s: path is NULL", fn);
    gzFile f;
    MN_TRY(idx_open(path, &f));
    mn_status st = body(f, path, out);
    gzclose(f);
    return st;
}

mn_status mn_idx_read_images(const char *path, mn_dataset *out)
{
    return idx_read(path, out, read_images, "mn_idx_read_images");
}

mn_status mn_idx_read_labels(const char *path, mn_dataset *out)
{
    return idx_read(path, out, read_labels, "mn_idx_read_labels");
}

/* ---- dataset helpers ---------------------------------------------------- */

void mn_dataset_moments(const mn_dataset *d, double *mean, double *std)
{
    double m = 0, v = 0;
    int64_t count = d && d->x ? d->n * d->dim : 0;
    /* Two passes: a one-pass sum of squares loses digits on 47M pixels. */
    for (int64_t i = 0; i < count; i++)
        m += d->x[i];
    m = count ? m / (double)count : 0;
    for (int64_t i = 0; i < count; i++) {
        double e = d->x[i] - m;
        v += e * e;
    }
    if (mean)
        *mean = m;
    if (std)
        *std = count ? sqrt(v / (double)count) : 0;
}

void mn_dataset_standardize(mn_dataset *d, double mean, double std)
{
    if (!d || !d->x)
        return;
    /* A constant input has std 0: centre it rather than fill it with inf. */
    double inv = std > 0 && isfinite(std) ? 1 / std : 1;
    int64_t count = d->n * d->dim;
    for (int64_t i = 0; i < count; i++)
        d->x[i] = (float)((d->x[i] - mean) * inv);
}

int64_t mn_dataset_labels_per_row(const mn_dataset *d)
{
    return d && d->labels_per_row > 1 ? d->labels_per_row : 1;
}

void mn_dataset_free(mn_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->y);
    *d = (mn_dataset){0};
}

/* ---- Fashion-MNIST ------------------------------------------------------ */

/* A missing directory or file is the usual case of a machine without the
 * package: say how to install it. */
static mn_status check_present(const char *path, bool want_dir)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return mn_fail(MN_ERR_IO, "%s: %s", path, install_hint);
        return mn_fail(MN_ERR_IO, "%s: cannot access: %s", path, strerror(errno));
    }
    if (want_dir && !S_ISDIR(sb.st_mode))
        return mn_fail(MN_ERR_IO, "%s: is not a directory", path);
    return MN_OK;
}

static mn_status join_path(char *buf, size_t size, const char *dir, const char *name)
{
    int len = snprintf(buf, size, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= size)
        return mn_fail(MN_ERR_ARG, "%s: directory path is too long", dir);
    return check_present(buf, false);
}

/* Labels must agree with the images in number and fit the 10 classes. */
static mn_status check_pair(const char *ipath, const mn_dataset *img, const char *lpath,
                            const mn_dataset *lab)
{
    if (img->n != lab->n)
        return mn_fail(MN_ERR_FORMAT, "%s has %lld images but %s has %lld labels", ipath,
                       (long long)img->n, lpath, (long long)lab->n);
    if (lab->n_classes > 10)
        return mn_fail(MN_ERR_FORMAT, "%s: label %d is out of range 0..9", lpath,
                       lab->n_classes - 1);
    return MN_OK;
}

/* One split, "train" or "t10k": images and labels joined into out. */
static mn_status load_split(const char *dir, const char *prefix, mn_dataset *out)
{
    char ipath[4096], lpath[4096], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte.gz", prefix);
    MN_TRY(join_path(ipath, sizeof ipath, dir, name));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte.gz", prefix);
    MN_TRY(join_path(lpath, sizeof lpath, dir, name));
    mn_dataset lab;
    MN_TRY(mn_idx_read_images(ipath, out));
    mn_status st = mn_idx_read_labels(lpath, &lab);
    if (st == MN_OK)
        st = check_pair(ipath, out, lpath, &lab);
    if (st != MN_OK) {
        mn_dataset_free(&lab);
        mn_dataset_free(out);
        return st;
    }
    out->y = lab.y;
    out->n_classes = 10;
    return MN_OK;
}

/* Both splits with the TRAIN split's scalar moments, so the test set sees
 * exactly the transform the model was trained under. */
static mn_status standardize_splits(const char *dir, mn_dataset *train, mn_dataset *test)
{
    if (test->dim != train->dim)
        return mn_fail(MN_ERR_FORMAT, "%s: test images have %lld pixels but train images %lld",
                       dir, (long long)test->dim, (long long)train->dim);
    double mean, std;
    mn_dataset_moments(train, &mean, &std);
    if (!(std > 0))
        return mn_fail(MN_ERR_FORMAT, "%s: train images are constant (std 0)", dir);
    mn_dataset_standardize(train, mean, std);
    mn_dataset_standardize(test, mean, std);
    return MN_OK;
}

mn_status mn_fashion_mnist_load(const char *dir, mn_dataset *train, mn_dataset *test)
{
    if (!train || !test)
        return mn_fail(MN_ERR_ARG, "mn_fashion_mnist_load: %s is NULL", train ? "test" : "train");
    *train = (mn_dataset){0};
    *test = (mn_dataset){0};
    if (!dir)
        dir = MN_FASHION_MNIST_DIR;
    MN_TRY(check_present(dir, true));
    mn_status st = load_split(dir, "train", train);
    if (st == MN_OK)
        st = load_split(dir, "t10k", test);
    if (st == MN_OK)
        st = standardize_splits(dir, train, test);
    if (st != MN_OK) {
        mn_dataset_free(train);
        mn_dataset_free(test);
    }
    return st;
}
