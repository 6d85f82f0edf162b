/* safetensors reader and writer (see modnorm/safetensors.h). The header is
 * JSON through jansson; the writer is atomic and durable (temporary file,
 * fsync, rename, fsync of the directory). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"
#include "io/common.h"
#include "io/safetensors.h"
#include "io/temporary.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c writes native data as little-endian: port it to this byte order"
#endif

#define CRC_KEY "crc32"
#define META_KEY "__metadata__"

static const char *const dtype_names[] = {"F32", "F64", "I64", "U64", "U8"};
static const size_t dtype_sizes[] = {4, 8, 8, 8, 1};
#define N_DTYPES 5

const char *mn_st_dtype_name(mn_st_dtype dt)
{
    return (unsigned)dt < N_DTYPES ? dtype_names[dt] : "?";
}

size_t mn_st_dtype_size(mn_st_dtype dt) { return (unsigned)dt < N_DTYPES ? dtype_sizes[dt] : 0; }

/* numel · size of a shape, or false when numpy's rule refuses it
 * (mn_io_shape_bytes: a 0-element shape whose other dimensions overflow
 * too). */
static bool shape_bytes(int ndim, const int64_t *shape, size_t size, uint64_t *out)
{
    return mn_io_shape_bytes(ndim, shape, size, out);
}

/* zlib's crc32 over any length (its length argument is a uInt). */
static uint32_t crc_of(const unsigned char *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

/* ---- writing ------------------------------------------------------------------ */

/* The header JSON for the tensors and metadata, crc32 of the data added. */
static mn_status build_header(const char *path, const mn_st_tensor *t, int n,
                              const mn_st_meta *meta, int n_meta, uint32_t crc, char **text)
{
    json_t *root = json_object(), *md = json_object();
    mn_status st = root && md ? MN_OK : mn_fail(MN_ERR_NOMEM, "%s: out of memory", path);
    uint64_t offset = 0;
    for (int i = 0; st == MN_OK && i < n; i++) {
        uint64_t bytes = 0;
        json_t *shape = json_array(), *e = NULL;
        for (int d = 0; shape && d < t[i].ndim; d++)
            json_array_append_new(shape, json_integer((json_int_t)t[i].shape[d]));
        shape_bytes(t[i].ndim, t[i].shape, dtype_sizes[t[i].dtype], &bytes);
        e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", dtype_names[t[i].dtype], "shape", shape,
                      "data_offsets", (json_int_t)offset, (json_int_t)(offset + bytes));
        if (!e || json_object_set_new(root, t[i].name, e) != 0)
            st = mn_fail(MN_ERR_NOMEM, "%s: out of memory for the header", path);
        offset += bytes;
    }
    char crc_text[16];
    snprintf(crc_text, sizeof crc_text, "%08" PRIx32, crc);
    for (int i = 0; st == MN_OK && i < n_meta; i++)
        if (json_object_set_new(md, meta[i].key, json_string(meta[i].value)) != 0)
            st = mn_fail(MN_ERR_ARG, "%s: metadata '%s' is not valid UTF-8", path, meta[i].key);
    if (st == MN_OK && json_object_set_new(md, CRC_KEY, json_string(crc_text)) != 0)
        st = mn_fail(MN_ERR_NOMEM, "%s: out of memory for the header", path);
    if (st == MN_OK) {
        /* __metadata__ first, as the safetensors library writes it. */
        json_t *ordered = json_object();
        if (!ordered || json_object_set(ordered, META_KEY, md) != 0 ||
            json_object_update(ordered, root) != 0)
            st = mn_fail(MN_ERR_NOMEM, "%s: out of memory for the header", path);
        else
            *text = json_dumps(ordered, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(ordered);
        if (st == MN_OK && !*text)
            st = mn_fail(MN_ERR_NOMEM, "%s: out of memory for the header", path);
    }
    json_decref(root);
    json_decref(md);
    return st;
}

static mn_status check_write_args(const char *path, const mn_st_tensor *t, int n,
                                  const mn_st_meta *meta, int n_meta)
{
    if (!path || (n > 0 && !t) || (n_meta > 0 && !meta) || n < 0 || n_meta < 0)
        return mn_fail(MN_ERR_ARG, "mn_safetensors_write: %s", !path ? "path is NULL"
                                                                      : "bad tensor list");
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        uint64_t bytes = 0;
        const char *name = t[i].name;
        if (!name || !*name || strcmp(name, META_KEY) == 0)
            return mn_fail(MN_ERR_ARG, "%s: tensor %d has no usable name ('%s')", path, i,
                           name ? name : "(null)");
        if ((unsigned)t[i].dtype >= N_DTYPES)
            return mn_fail(MN_ERR_ARG, "%s: tensor %s: unknown dtype %d", path, name,
                           (int)t[i].dtype);
        if (t[i].ndim < 0 || t[i].ndim > MN_SAFETENSORS_MAX_DIMS ||
            !shape_bytes(t[i].ndim, t[i].shape, dtype_sizes[t[i].dtype], &bytes) ||
            total > (uint64_t)INT64_MAX - bytes)
            return mn_fail(MN_ERR_ARG, "%s: tensor %s: bad shape (%d dimensions)", path, name,
                           t[i].ndim);
        if (bytes > 0 && !t[i].data)
            return mn_fail(MN_ERR_ARG, "%s: tensor %s: data is NULL", path, name);
        total += bytes;
        for (int j = 0; j < i; j++)
            if (strcmp(t[j].name, name) == 0)
                return mn_fail(MN_ERR_ARG, "%s: tensor name %s given twice", path, name);
    }
    for (int i = 0; i < n_meta; i++) {
        if (!meta[i].key || !meta[i].value || strcmp(meta[i].key, CRC_KEY) == 0)
            return mn_fail(MN_ERR_ARG, "%s: metadata entry %d: %s", path, i,
                           !meta[i].key || !meta[i].value ? "NULL key or value"
                                                          : "crc32 is the writer's own key");
        for (int j = 0; j < i; j++)
            if (strcmp(meta[j].key, meta[i].key) == 0)
                return mn_fail(MN_ERR_ARG, "%s: metadata key %s given twice", path, meta[i].key);
    }
    return MN_OK;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* An existing path must be a regular file: renaming over a directory or a
 * device would replace it. */
static mn_status check_target(const char *path)
{
    struct stat ls;
    if (lstat(path, &ls) != 0)
        return errno == ENOENT ? MN_OK
                               : mn_fail(MN_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    if (!S_ISREG(ls.st_mode))
        return mn_fail(MN_ERR_IO, "%s: exists and is not a regular file; refusing to replace it",
                       path);
    return MN_OK;
}

/* fsync the directory that holds `path`, so that the rename is durable. */
static bool sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return false;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0 || errno == EINVAL; /* some file systems cannot sync directories */
    close(fd);
    return ok;
}

mn_status mn_safetensors_write(const char *path, const mn_st_tensor *t, int n,
                               const mn_st_meta *meta, int n_meta)
{
    MN_TRY(check_write_args(path, t, n, meta, n_meta));
    MN_TRY(check_target(path));
    mn_io_temporary_cleanup(path); /* before ours: their space may be needed */
    /* The CRC runs over the data section as it will be on disk. */
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < n; i++) {
        uint64_t bytes = 0;
        shape_bytes(t[i].ndim, t[i].shape, dtype_sizes[t[i].dtype], &bytes);
        const unsigned char *p = t[i].data;
        for (uint64_t done = 0; done < bytes;) {
            uInt chunk = bytes - done > (1u << 30) ? (1u << 30) : (uInt)(bytes - done);
            crc = crc32(crc, p + done, chunk);
            done += chunk;
        }
    }
    char *header = NULL;
    MN_TRY(build_header(path, t, n, meta, n_meta, (uint32_t)crc, &header));
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;
    size_t cap = strlen(path) + 48;
    char *tmp = malloc(cap), *pad = calloc(1, padded - hlen + 1);
    if (!tmp || !pad) {
        free(header);
        free(tmp);
        free(pad);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", path);
    }
    memset(pad, ' ', padded - hlen);
    int fd = mn_io_temporary_create(path, tmp, cap, -1);
    mn_status st = MN_OK;
    if (fd < 0) {
        st = mn_fail(MN_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                     strerror(errno));
    } else {
        unsigned char len8[8];
        for (int b = 0; b < 8; b++)
            len8[b] = (unsigned char)((uint64_t)padded >> (8 * b));
        bool ok = write_all(fd, len8, 8) && write_all(fd, header, hlen) &&
                  write_all(fd, pad, padded - hlen);
        for (int i = 0; ok && i < n; i++) {
            uint64_t bytes = 0;
            shape_bytes(t[i].ndim, t[i].shape, dtype_sizes[t[i].dtype], &bytes);
            ok = write_all(fd, t[i].data, (size_t)bytes);
        }
        const char *step = "write";
        if (ok && fsync(fd) != 0) {
            ok = false;
            step = "fsync";
        }
        int saved = errno;
        if (close(fd) != 0 && ok) {
            saved = errno;
            ok = false;
            step = "close";
        }
        if (ok && rename(tmp, path) != 0) {
            saved = errno;
            ok = false;
            step = "rename";
        }
        if (!ok) {
            unlink(tmp);
            st = mn_fail(MN_ERR_IO, "%s: cannot %s: %s", path, step, strerror(saved));
        } else if (!sync_dir(path)) {
            st = mn_fail(MN_ERR_IO, "%s: written, but its directory could not be synced: %s",
                         path, strerror(errno));
        }
    }
    free(header);
    free(tmp);
    free(pad);
    return st;
}

/* ---- reading --------------------------------------------------------------------- */

struct mn_safetensors {
    char *what;
    unsigned char *bytes;
    size_t len;
    int n;
    mn_st_tensor *t; /* in offset order; names owned */
    int n_meta;
    mn_st_meta *meta; /* both strings owned */
};

void mn_safetensors_free(mn_safetensors *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++)
        free((char *)f->t[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free((char *)f->meta[i].key);
        free((char *)f->meta[i].value);
    }
    free(f->t);
    free(f->meta);
    free(f->bytes);
    free(f->what);
    free(f);
}

/* One entry's dtype, shape and offsets, or a message naming it (`name` as
 * mn_io_shown renders it: one line). */
static mn_status parse_entry(const char *what, const char *name, json_t *e, mn_st_tensor *t,
                             uint64_t *begin, uint64_t *end)
{
    if (!json_is_object(e))
        return mn_fail(MN_ERR_FORMAT, "%s: tensor %s: its entry is not an object", what, name);
    const char *key;
    json_t *v;
    json_object_foreach(e, key, v)
        if (strcmp(key, "dtype") != 0 && strcmp(key, "shape") != 0 &&
            strcmp(key, "data_offsets") != 0) {
            char shown[MN_IO_SHOWN_CAP];
            return mn_fail(MN_ERR_FORMAT, "%s: tensor %s: unknown field '%s'", what, name,
                           mn_io_shown(key, shown, sizeof shown));
        }
    json_t *dt = json_object_get(e, "dtype"), *shape = json_object_get(e, "shape"),
           *off = json_object_get(e, "data_offsets");
    if (!json_is_string(dt))
        return mn_fail(MN_ERR_FORMAT, "%s: tensor %s: dtype %s", what, name,
                       dt ? "is not a string" : "is missing");
    int k = 0;
    while (k < N_DTYPES && strcmp(json_string_value(dt), dtype_names[k]) != 0)
        k++;
    char shown[MN_IO_SHOWN_CAP];
    if (k == N_DTYPES)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor %s: dtype '%s' is not one modnorm reads "
                       "(F32, F64, I64, U64, U8)", what, name,
                       mn_io_shown(json_string_value(dt), shown, sizeof shown));
    t->dtype = (mn_st_dtype)k;
    if (!json_is_array(shape) || json_array_size(shape) > MN_SAFETENSORS_MAX_DIMS)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor %s: shape %s", what, name,
                       !shape ? "is missing" : !json_is_array(shape) ? "is not an array"
                                                                     : "has more than 8 dimensions");
    t->ndim = (int)json_array_size(shape);
    for (int d = 0; d < t->ndim; d++) {
        json_t *s = json_array_get(shape, (size_t)d);
        if (!json_is_integer(s) || json_integer_value(s) < 0)
            return mn_fail(MN_ERR_FORMAT, "%s: tensor %s: dimension %d is not an integer >= 0",
                           what, name, d);
        t->shape[d] = (int64_t)json_integer_value(s);
    }
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        !json_is_integer(json_array_get(off, 0)) || !json_is_integer(json_array_get(off, 1)) ||
        json_integer_value(json_array_get(off, 0)) < 0 ||
        json_integer_value(json_array_get(off, 1)) < json_integer_value(json_array_get(off, 0)))
        return mn_fail(MN_ERR_FORMAT, "%s: tensor %s: data_offsets must be [BEGIN, END] with "
                       "0 <= BEGIN <= END", what, name);
    *begin = (uint64_t)json_integer_value(json_array_get(off, 0));
    *end = (uint64_t)json_integer_value(json_array_get(off, 1));
    uint64_t bytes;
    if (!shape_bytes(t->ndim, t->shape, dtype_sizes[k], &bytes))
        return mn_fail(MN_ERR_FORMAT, "%s: tensor %s: its shape's size overflows (its nonzero "
                       "dimensions times %zu bytes pass 2^63 - 1, which numpy refuses even for "
                       "0 elements)", what, name, dtype_sizes[k]);
    if (bytes != *end - *begin)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor %s: its dtype and shape need %llu bytes, "
                       "data_offsets give %llu", what, name, (unsigned long long)bytes,
                       (unsigned long long)(*end - *begin));
    t->nbytes = (size_t)bytes;
    return MN_OK;
}

static mn_status parse_metadata(const char *what, json_t *md, mn_safetensors *f)
{
    if (!json_is_object(md))
        return mn_fail(MN_ERR_FORMAT, "%s: __metadata__ is not an object", what);
    f->meta = calloc(json_object_size(md) + 1, sizeof *f->meta);
    if (!f->meta)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", what);
    const char *key;
    json_t *v;
    json_object_foreach(md, key, v) {
        char shown[MN_IO_SHOWN_CAP];
        if (!json_is_string(v))
            return mn_fail(MN_ERR_FORMAT, "%s: __metadata__: the value of '%s' is not a string",
                           what, mn_io_shown(key, shown, sizeof shown));
        mn_st_meta *m = &f->meta[f->n_meta];
        m->key = strdup(key);
        m->value = strdup(json_string_value(v));
        f->n_meta++;
        if (!m->key || !m->value)
            return mn_fail(MN_ERR_NOMEM, "%s: out of memory", what);
    }
    return MN_OK;
}

typedef struct {
    uint64_t begin, end;
    int index;
} span;

static int by_begin(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Parse the header of f->bytes and check the data section against it
 * (and its CRC, when verify_crc). */
static mn_status parse(mn_safetensors *f, bool verify_crc)
{
    const char *what = f->what;
    if (f->len < 8)
        return mn_fail(MN_ERR_FORMAT, "%s: %zu bytes: too short for a safetensors file (the "
                       "8-byte header length is missing)", what, f->len);
    uint64_t hlen = 0;
    for (int b = 7; b >= 0; b--)
        hlen = hlen << 8 | f->bytes[b];
    /* Any other file (a text, an .npy) has no '{' after 8 bytes: say so, not
     * that its first 8 bytes read as a length are over the limit. */
    if (f->len > 8 && f->bytes[8] != '{')
        return mn_fail(MN_ERR_FORMAT, "%s: not a safetensors file (no '{' opening a JSON "
                       "header after the 8-byte header length)", what);
    if (hlen > MN_SAFETENSORS_MAX_HEADER)
        return mn_fail(MN_ERR_FORMAT, "%s: header length %llu is over the limit of %d bytes",
                       what, (unsigned long long)hlen, MN_SAFETENSORS_MAX_HEADER);
    if (hlen > f->len - 8)
        return mn_fail(MN_ERR_FORMAT, "%s: header length %llu runs past the file's end (%zu "
                       "bytes): truncated?", what, (unsigned long long)hlen, f->len);
    if (hlen % 8 != 0)
        return mn_fail(MN_ERR_FORMAT, "%s: header length %llu is not a multiple of 8 (the data "
                       "must start 8-byte aligned)", what, (unsigned long long)hlen);
    if (hlen == 0 || f->bytes[8] != '{')
        return mn_fail(MN_ERR_FORMAT, "%s: the header does not start with '{'", what);
    json_error_t err;
    json_t *root = json_loadb((const char *)f->bytes + 8, (size_t)hlen, JSON_REJECT_DUPLICATES,
                              &err);
    if (!root)
        return mn_fail(MN_ERR_FORMAT, "%s: the header is not valid JSON: %s (at byte %d)", what,
                       err.text, err.position);
    mn_status st = json_is_object(root)
                       ? MN_OK
                       : mn_fail(MN_ERR_FORMAT, "%s: the header is not a JSON object", what);
    size_t entries = json_is_object(root) ? json_object_size(root) : 0;
    f->t = calloc(entries + 1, sizeof *f->t);
    span *spans = calloc(entries + 1, sizeof *spans);
    if (st == MN_OK && (!f->t || !spans))
        st = mn_fail(MN_ERR_NOMEM, "%s: out of memory for %zu header entries", what, entries);
    const char *key;
    json_t *v;
    if (st == MN_OK)
        json_object_foreach(root, key, v) {
            if (strcmp(key, META_KEY) == 0) {
                st = parse_metadata(what, v, f);
            } else if (!*key) {
                st = mn_fail(MN_ERR_FORMAT, "%s: a tensor has an empty name", what);
            } else {
                mn_st_tensor *t = &f->t[f->n];
                char shown[MN_IO_SHOWN_CAP];
                st = parse_entry(what, mn_io_shown(key, shown, sizeof shown), v, t,
                                 &spans[f->n].begin, &spans[f->n].end);
                spans[f->n].index = f->n;
                if (st == MN_OK && !(t->name = strdup(key)))
                    st = mn_fail(MN_ERR_NOMEM, "%s: out of memory", what);
                if (t->name)
                    f->n++;
            }
            if (st != MN_OK)
                break;
        }
    json_decref(root);
    /* The entries in offset order must tile the data section exactly. */
    uint64_t data_len = f->len - 8 - hlen, at = 0;
    const unsigned char *data = f->bytes + 8 + hlen;
    if (st == MN_OK)
        qsort(spans, (size_t)f->n, sizeof *spans, by_begin);
    for (int i = 0; st == MN_OK && i < f->n; i++) {
        char name[MN_IO_SHOWN_CAP];
        mn_io_shown(f->t[spans[i].index].name, name, sizeof name);
        if (spans[i].begin != at)
            st = mn_fail(MN_ERR_FORMAT, "%s: tensor %s: data begins at %llu, but the previous "
                         "tensor ends at %llu (%s)", what, name,
                         (unsigned long long)spans[i].begin, (unsigned long long)at,
                         spans[i].begin > at ? "a gap" : "an overlap");
        else if (spans[i].end > data_len)
            st = mn_fail(MN_ERR_FORMAT, "%s: tensor %s: data ends at %llu, past the data "
                         "section's %llu bytes: truncated?", what, name,
                         (unsigned long long)spans[i].end, (unsigned long long)data_len);
        at = spans[i].end;
    }
    if (st == MN_OK && at != data_len)
        st = mn_fail(MN_ERR_FORMAT, "%s: %llu bytes after the last tensor's data (the data "
                     "section is %llu bytes, the tensors cover %llu)", what,
                     (unsigned long long)(data_len - at), (unsigned long long)data_len,
                     (unsigned long long)at);
    if (st == MN_OK) { /* put the tensors in offset order, their data in place */
        mn_st_tensor *sorted = calloc((size_t)f->n + 1, sizeof *sorted);
        if (!sorted)
            st = mn_fail(MN_ERR_NOMEM, "%s: out of memory", what);
        for (int i = 0; st == MN_OK && i < f->n; i++) {
            sorted[i] = f->t[spans[i].index];
            sorted[i].data = data + spans[i].begin;
        }
        if (st == MN_OK) {
            free(f->t);
            f->t = sorted;
        }
    }
    free(spans);
    const char *crc = st == MN_OK && verify_crc ? mn_safetensors_meta(f, CRC_KEY) : NULL;
    if (crc) {
        char want[16], shown[MN_IO_SHOWN_CAP];
        snprintf(want, sizeof want, "%08" PRIx32, crc_of(data, (size_t)data_len));
        if (strcmp(crc, want) != 0)
            st = mn_fail(MN_ERR_FORMAT, "%s: __metadata__ crc32 %s does not match the data "
                         "section's %s: the data were altered or truncated", what,
                         mn_io_shown(crc, shown, sizeof shown), want);
    }
    return st;
}

/* Take `bytes` (malloc'ed, len bytes; freed on failure) and parse them. */
static mn_status adopt(unsigned char *bytes, size_t len, const char *what, bool verify_crc,
                       mn_safetensors **out)
{
    mn_safetensors *f = calloc(1, sizeof *f);
    if (!f) {
        free(bytes);
        return mn_fail(MN_ERR_NOMEM, "mn_safetensors_parse: out of memory");
    }
    f->bytes = bytes;
    f->len = len;
    f->what = strdup(what ? what : "safetensors");
    mn_status st = f->what ? parse(f, verify_crc) : mn_fail(MN_ERR_NOMEM, "mn_safetensors_parse: out of memory");
    if (st != MN_OK) {
        mn_safetensors_free(f);
        return st;
    }
    *out = f;
    return MN_OK;
}

static mn_status parse_copy(const void *bytes, size_t len, const char *what, bool verify_crc,
                            mn_safetensors **out)
{
    if (!out || (!bytes && len > 0))
        return mn_fail(MN_ERR_ARG, "mn_safetensors_parse: %s is NULL", out ? "bytes" : "out");
    *out = NULL;
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return mn_fail(MN_ERR_NOMEM, "mn_safetensors_parse: out of memory for %zu bytes", len);
    if (len)
        memcpy(copy, bytes, len);
    return adopt(copy, len, what, verify_crc, out);
}

mn_status mn_safetensors_parse(const void *bytes, size_t len, const char *what,
                               mn_safetensors **out)
{
    return parse_copy(bytes, len, what, true, out);
}

mn_status mn_safetensors_parse_no_crc(const void *bytes, size_t len, const char *what,
                                      mn_safetensors **out)
{
    return parse_copy(bytes, len, what, false, out);
}

mn_status mn_safetensors_read(const char *path, mn_safetensors **out)
{
    if (!path || !out)
        return mn_fail(MN_ERR_ARG, "mn_safetensors_read: %s is NULL", path ? "out" : "path");
    *out = NULL;
    struct stat sb;
    FILE *fp = mn_io_fopen_read(path, &sb); /* a FIFO is refused, not waited on */
    if (!fp)
        return mn_fail(MN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) {
        fclose(fp);
        return mn_fail(MN_ERR_IO, "%s: not a regular file (a safetensors file is read whole and "
                       "its length checked)", path);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX / 2) {
        fclose(fp);
        return mn_fail(MN_ERR_IO, "%s: %lld bytes do not fit in memory", path,
                       (long long)sb.st_size);
    }
    size_t len = (size_t)sb.st_size;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        fclose(fp);
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory for %zu bytes", path, len);
    }
    size_t got = fread(buf, 1, len, fp);
    bool err = ferror(fp);
    fclose(fp);
    if (got != len || err) {
        free(buf);
        return mn_fail(MN_ERR_IO, "%s: read %zu of %zu bytes", path, got, len);
    }
    return adopt(buf, len, path, true, out);
}

int mn_safetensors_count(const mn_safetensors *f) { return f ? f->n : 0; }

const mn_st_tensor *mn_safetensors_at(const mn_safetensors *f, int i)
{
    return f && i >= 0 && i < f->n ? &f->t[i] : NULL;
}

const mn_st_tensor *mn_safetensors_find(const mn_safetensors *f, const char *name)
{
    for (int i = 0; f && name && i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0)
            return &f->t[i];
    return NULL;
}

const char *mn_safetensors_meta(const mn_safetensors *f, const char *key)
{
    for (int i = 0; f && key && i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0)
            return f->meta[i].value;
    return NULL;
}

int mn_safetensors_meta_count(const mn_safetensors *f) { return f ? f->n_meta : 0; }

const mn_st_meta *mn_safetensors_meta_at(const mn_safetensors *f, int i)
{
    return f && i >= 0 && i < f->n_meta ? &f->meta[i] : NULL;
}

const char *mn_safetensors_name(const mn_safetensors *f) { return f ? f->what : NULL; }
