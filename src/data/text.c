/* Character-level text (modnorm/text.h): reading a corpus from a file or a
 * folder, its byte vocabulary, the train/validation windows, and the
 * add-one bigram baseline. Every size is known and bounded before the one
 * allocation that holds the corpus. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/size.h"
#include "io/common.h"
#include "modnorm/text.h"

/* ---- the vocabulary --------------------------------------------------------------- */

mn_status mn_vocab_make(mn_vocab *v, const uint8_t *bytes, int n)
{
    if (!v || (!bytes && n > 0))
        return mn_fail(MN_ERR_ARG, "mn_vocab_make: %s is NULL", v ? "bytes" : "v");
    if (n < 1 || n > 256)
        return mn_fail(MN_ERR_ARG, "vocabulary: %d bytes; need 1 to 256", n);
    mn_vocab w = {.size = n};
    for (int b = 0; b < 256; b++)
        w.id[b] = -1;
    for (int i = 0; i < n; i++) {
        if (i > 0 && bytes[i] <= bytes[i - 1])
            return mn_fail(MN_ERR_ARG, "vocabulary: byte %d (entry %d) does not follow %d in "
                           "ascending order", bytes[i], i, bytes[i - 1]);
        w.byte[i] = bytes[i];
        w.id[bytes[i]] = (int16_t)i;
    }
    *v = w;
    return MN_OK;
}

/* A byte as a message shows it: 'a', or \xNN for the unprintable. */
const char *mn_text_byte_shown(uint8_t b, char buf[8])
{
    if (!buf)
        return NULL;
    if (b >= 0x20 && b < 0x7f && b != '\'')
        snprintf(buf, 8, "'%c'", b);
    else
        snprintf(buf, 8, "\\x%02x", b);
    return buf;
}

mn_status mn_vocab_encode(const mn_vocab *v, const char *text, int64_t len, int32_t *ids)
{
    if (!v || (!text && len > 0) || (!ids && len > 0))
        return mn_fail(MN_ERR_ARG, "mn_vocab_encode: a NULL argument");
    for (int64_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)text[i];
        if (v->id[b] < 0) {
            char s[8];
            return mn_fail(MN_ERR_ARG, "character %s at position %lld is not in the vocabulary "
                           "(%d characters)", mn_text_byte_shown(b, s), (long long)i, v->size);
        }
        ids[i] = v->id[b];
    }
    return MN_OK;
}

/* ---- reading --------------------------------------------------------------------- */

typedef struct {
    char **paths;
    int64_t *sizes;
    int n, cap;
} file_list;

static void files_free(file_list *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->paths[i]);
    free(f->paths);
    free(f->sizes);
    *f = (file_list){0};
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool skipped_name(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && strcmp(name + n - 4, ".dat") == 0;
}

/* The regular files of folder `dir` (lstat: a symbolic link is not one),
 * minus the *.dat, in byte-wise name order, with their sizes. */
static mn_status list_folder(const char *dir, file_list *f)
{
    DIR *d = opendir(dir);
    if (!d)
        return mn_fail(MN_ERR_IO, "text corpus %s: cannot open the folder: %s", dir,
                       strerror(errno));
    mn_status st = MN_OK;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while (st == MN_OK && (errno = 0, e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            skipped_name(e->d_name))
            continue;
        if (n == MN_TEXT_MAX_FILES) {
            st = mn_fail(MN_ERR_FORMAT, "text corpus %s: more than %d entries", dir,
                         MN_TEXT_MAX_FILES);
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **p = realloc(names, (size_t)cap * sizeof *p);
            if (!p) {
                st = mn_fail(MN_ERR_NOMEM, "text corpus %s: out of memory", dir);
                break;
            }
            names = p;
        }
        if (!(names[n] = strdup(e->d_name)))
            st = mn_fail(MN_ERR_NOMEM, "text corpus %s: out of memory", dir);
        else
            n++;
    }
    if (st == MN_OK && errno)
        st = mn_fail(MN_ERR_IO, "text corpus %s: cannot read the folder: %s", dir,
                     strerror(errno));
    closedir(d);
    if (st == MN_OK && n > 0)
        qsort(names, (size_t)n, sizeof *names, by_name);
    f->paths = st == MN_OK ? calloc((size_t)n + 1, sizeof *f->paths) : NULL;
    f->sizes = st == MN_OK ? calloc((size_t)n + 1, sizeof *f->sizes) : NULL;
    if (st == MN_OK && (!f->paths || !f->sizes))
        st = mn_fail(MN_ERR_NOMEM, "text corpus %s: out of memory", dir);
    for (int i = 0; st == MN_OK && i < n; i++) {
        char *path;
        if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
            st = mn_fail(MN_ERR_NOMEM, "text corpus %s: out of memory", dir);
            break;
        }
        struct stat sb;
        if (lstat(path, &sb) != 0) {
            st = mn_fail(MN_ERR_IO, "text corpus %s: %s", path, strerror(errno));
            free(path);
        } else if (!S_ISREG(sb.st_mode)) {
            free(path); /* a link, a folder, a device: not part of the corpus */
        } else {
            f->paths[f->n] = path;
            f->sizes[f->n++] = (int64_t)sb.st_size;
        }
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return st;
}

/* Read exactly `size` bytes of `path` into dst; the file must not have grown. */
static mn_status read_file(const char *path, int64_t size, uint8_t *dst)
{
    struct stat sb; /* without waiting: a file turned into a FIFO since it was listed */
    FILE *fp = mn_io_fopen_read(path, &sb);
    if (!fp)
        return mn_fail(MN_ERR_IO, "text corpus %s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) {
        fclose(fp);
        return mn_fail(MN_ERR_IO, "text corpus %s: not a regular file", path);
    }
    size_t got = size > 0 ? fread(dst, 1, (size_t)size, fp) : 0;
    bool err = ferror(fp) != 0;
    int extra = fgetc(fp);
    fclose(fp);
    if (err)
        return mn_fail(MN_ERR_IO, "text corpus %s: read error", path);
    if ((int64_t)got != size || extra != EOF)
        return mn_fail(MN_ERR_IO, "text corpus %s: the file changed size while read (%lld "
                       "bytes expected)", path, (long long)size);
    return MN_OK;
}

/* Bytes → ids over the sorted set of bytes seen, and the split. Takes `buf`. */
static mn_status finish(uint8_t *buf, int64_t n, const char *what, mn_text *out)
{
    if (n < 2) {
        free(buf);
        return mn_fail(MN_ERR_FORMAT, "text corpus %s: %lld byte%s; need at least 2", what,
                       (long long)n, n == 1 ? "" : "s");
    }
    bool seen[256] = {false};
    for (int64_t i = 0; i < n; i++)
        seen[buf[i]] = true;
    uint8_t bytes[256];
    int v = 0;
    for (int b = 0; b < 256; b++)
        if (seen[b])
            bytes[v++] = (uint8_t)b;
    mn_text t = {.ids = buf, .n = n, .n_train = n / 10 * 9 + n % 10 * 9 / 10};
    mn_status st = mn_vocab_make(&t.vocab, bytes, v);
    if (st != MN_OK) {
        free(buf);
        return st;
    }
    for (int64_t i = 0; i < n; i++)
        buf[i] = (uint8_t)t.vocab.id[buf[i]];
    *out = t;
    return MN_OK;
}

mn_status mn_text_from_bytes(const void *bytes, int64_t n, mn_text *out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_text_from_bytes: out is NULL");
    *out = (mn_text){0};
    if (!bytes || n < 2 || n > MN_TEXT_MAX_BYTES)
        return mn_fail(MN_ERR_ARG, "mn_text_from_bytes: %lld bytes; need 2 to %lld",
                       (long long)n, (long long)MN_TEXT_MAX_BYTES);
    uint8_t *buf = malloc((size_t)n);
    if (!buf)
        return mn_fail(MN_ERR_NOMEM, "mn_text_from_bytes: out of memory for %lld bytes",
                       (long long)n);
    memcpy(buf, bytes, (size_t)n);
    return finish(buf, n, "(memory)", out);
}

mn_status mn_text_load(const char *path, mn_text *out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_text_load: out is NULL");
    *out = (mn_text){0};
    bool deflt = !path;
    if (deflt)
        path = MN_TEXT_DEFAULT_DIR;
    if (!*path)
        return mn_fail(MN_ERR_ARG, "text corpus: the path is empty");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return mn_fail(MN_ERR_IO, "text corpus %s: %s%s", path, strerror(errno),
                       deflt ? "; install Debian's package: apt-get install fortunes" : "");
    file_list f = {0};
    mn_status st = MN_OK;
    if (S_ISDIR(sb.st_mode)) {
        st = list_folder(path, &f);
    } else if (S_ISREG(sb.st_mode)) {
        f.paths = calloc(1, sizeof *f.paths);
        f.sizes = calloc(1, sizeof *f.sizes);
        if (!f.paths || !f.sizes || !(f.paths[0] = strdup(path)))
            st = mn_fail(MN_ERR_NOMEM, "text corpus %s: out of memory", path);
        else
            f.sizes[f.n++] = (int64_t)sb.st_size;
    } else {
        st = mn_fail(MN_ERR_IO, "text corpus %s: not a regular file or a folder", path);
    }
    int64_t total = 0;
    for (int i = 0; st == MN_OK && i < f.n; i++) {
        if (f.sizes[i] < 0 || f.sizes[i] > MN_TEXT_MAX_BYTES - total)
            st = mn_fail(MN_ERR_FORMAT, "text corpus %s: more than %lld bytes (at %s)", path,
                         (long long)MN_TEXT_MAX_BYTES, f.paths[i]);
        else
            total += f.sizes[i];
    }
    if (st == MN_OK && total < 2)
        st = mn_fail(MN_ERR_FORMAT, "text corpus %s: %lld byte%s in %d file%s; need at least 2",
                     path, (long long)total, total == 1 ? "" : "s", f.n, f.n == 1 ? "" : "s");
    uint8_t *buf = NULL;
    if (st == MN_OK && !(buf = malloc((size_t)total)))
        st = mn_fail(MN_ERR_NOMEM, "text corpus %s: out of memory for %lld bytes", path,
                     (long long)total);
    int64_t at = 0;
    for (int i = 0; st == MN_OK && i < f.n; i++) {
        st = read_file(f.paths[i], f.sizes[i], buf + at);
        at += f.sizes[i];
    }
    files_free(&f);
    if (st != MN_OK) {
        free(buf);
        return st;
    }
    return finish(buf, total, path, out);
}

void mn_text_free(mn_text *t)
{
    if (!t)
        return;
    free(t->ids);
    *t = (mn_text){0};
}

/* ---- windows --------------------------------------------------------------------- */

mn_status mn_text_windows(const mn_text *t, mn_text_split split, int64_t context, mn_dataset *out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_text_windows: out is NULL");
    *out = (mn_dataset){0};
    if (!t || !t->ids)
        return mn_fail(MN_ERR_ARG, "mn_text_windows: the corpus is %s", t ? "empty" : "NULL");
    if (split != MN_TEXT_TRAIN && split != MN_TEXT_VALID)
        return mn_fail(MN_ERR_ARG, "mn_text_windows: split %d is neither train nor validation",
                       (int)split);
    const uint8_t *ids = t->ids + (split == MN_TEXT_TRAIN ? 0 : t->n_train);
    int64_t len = split == MN_TEXT_TRAIN ? t->n_train : t->n - t->n_train;
    const char *name = split == MN_TEXT_TRAIN ? "training" : "validation";
    if (context < 1 || context > len - 1)
        return mn_fail(MN_ERR_ARG, "context %lld: must be in [1, %lld] (the %s split has %lld "
                       "characters; a window needs context + 1)", (long long)context,
                       (long long)(len - 1 > 1 ? len - 1 : 1), name, (long long)len);
    int64_t n = (len - 1) / context, count;
    MN_TRY(mn_checked_count("mn_text_windows", MN_ERR_ARG, 2, (const int64_t[]){n, context},
                            sizeof(float), &count));
    float *x = malloc((size_t)count * sizeof *x);
    int32_t *y = malloc((size_t)count * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return mn_fail(MN_ERR_NOMEM, "mn_text_windows: out of memory for %lld windows of %lld",
                       (long long)n, (long long)context);
    }
    for (int64_t i = 0; i < count; i++) {
        x[i] = (float)ids[i];
        y[i] = ids[i + 1];
    }
    *out = (mn_dataset){.n = n, .dim = context, .n_classes = t->vocab.size, .x = x, .y = y,
                        .labels_per_row = context};
    return MN_OK;
}

/* ---- the bigram baseline -------------------------------------------------------- */

/* Mean −ln P(ids[i+1] | ids[i]) over the pairs of ids[0, len). */
static double bigram_nll(const uint8_t *ids, int64_t len, const int64_t *pair,
                         const int64_t *row, int V)
{
    double s = 0;
    for (int64_t i = 0; i + 1 < len; i++) {
        int a = ids[i], b = ids[i + 1];
        s -= log((double)(pair[a * V + b] + 1) / (double)(row[a] + V));
    }
    return s / (double)(len - 1);
}

mn_status mn_text_bigram_loss(const mn_text *t, double *valid_loss, double *train_loss)
{
    if (!t || !t->ids || !valid_loss)
        return mn_fail(MN_ERR_ARG, "mn_text_bigram_loss: %s is NULL",
                       !t || !t->ids ? "the corpus" : "valid_loss");
    int64_t n_valid = t->n - t->n_train;
    if (n_valid < 2 || t->n_train < 2)
        return mn_fail(MN_ERR_ARG, "bigram: the %s split has %lld characters; need at least 2",
                       t->n_train < 2 ? "training" : "validation",
                       (long long)(t->n_train < 2 ? t->n_train : n_valid));
    int V = t->vocab.size;
    int64_t *pair = calloc((size_t)V * (size_t)V, sizeof *pair);
    int64_t *row = calloc((size_t)V, sizeof *row);
    if (!pair || !row) {
        free(pair);
        free(row);
        return mn_fail(MN_ERR_NOMEM, "bigram: out of memory");
    }
    for (int64_t i = 0; i + 1 < t->n_train; i++) {
        pair[t->ids[i] * V + t->ids[i + 1]]++;
        row[t->ids[i]]++;
    }
    *valid_loss = bigram_nll(t->ids + t->n_train, n_valid, pair, row, V);
    if (train_loss)
        *train_loss = bigram_nll(t->ids, t->n_train, pair, row, V);
    free(pair);
    free(row);
    return MN_OK;
}
