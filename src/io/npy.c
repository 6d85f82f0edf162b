/* NumPy .npy reader and writer for 1-D and 2-D float32/float64 C-order arrays.
 *
 * Format (numpy.lib.format): the magic "\x93NUMPY", a version byte pair
 * (1|2|3).0, the header length (u16 little-endian for 1.0, u32 after), then
 * the header: the repr of a Python dict with the keys 'descr', 'fortran_order'
 * and 'shape', padded with spaces and ended by '\n'; then the data, exactly
 * prod(shape) elements. The reader takes nothing on trust: it checks every
 * size against the file's length before it allocates or reads, and parses
 * the dict literal token by token. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/size.h"
#include "io/common.h"
#include "io/temporary.h"
#include "modnorm/npy.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c reads and writes little-endian data in place: port it to this byte order"
#endif

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* numpy refuses headers over 10000 bytes unless told otherwise; this is
 * looser but keeps a corrupt length from allocating gigabytes. */
#define MAX_HEADER (1 << 20)
#define MAX_NDIM 32 /* numpy's own limit */

/* ---- the header dict, token by token ------------------------------------- */

typedef struct {
    const char *p, *end;
    const char *path;
} cursor;

static void skip_space(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static bool eat(cursor *c, char ch)
{
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A printable rendering of what the cursor is at, for messages. */
static const char *near(const cursor *c, char *buf, size_t cap)
{
    if (c->p >= c->end)
        return "the end of the header";
    size_t n = 0;
    buf[n++] = '\'';
    for (const char *q = c->p; q < c->end && n + 2 < cap && n < 13; q++)
        buf[n++] = *q >= 0x20 && *q < 0x7f ? *q : '?';
    buf[n++] = '\'';
    buf[n] = '\0';
    return buf;
}

static mn_status expected(const cursor *c, const char *what)
{
    char buf[24];
    return mn_fail(MN_ERR_FORMAT, "%s: malformed .npy header: expected %s at %s", c->path, what,
                   near(c, buf, sizeof buf));
}

/* A Python string literal in single or double quotes, without escapes. */
static mn_status string_literal(cursor *c, char *out, size_t cap, const char *what)
{
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return expected(c, what);
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || (unsigned char)*c->p < 0x20 || n + 1 >= cap)
            return mn_fail(MN_ERR_FORMAT, "%s: malformed .npy header: %s is not a short plain "
                           "string", c->path, what);
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return mn_fail(MN_ERR_FORMAT, "%s: malformed .npy header: unterminated string", c->path);
    c->p++;
    out[n] = '\0';
    return MN_OK;
}

static bool is_word_char(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           ch == '_' || ch == '.';
}

/* True or False, as a whole word. */
static mn_status boolean(cursor *c, bool *out)
{
    skip_space(c);
    const char *w = c->p;
    while (c->p < c->end && is_word_char(*c->p))
        c->p++;
    size_t n = (size_t)(c->p - w);
    if (n == 4 && memcmp(w, "True", 4) == 0)
        *out = true;
    else if (n == 5 && memcmp(w, "False", 5) == 0)
        *out = false;
    else {
        c->p = w;
        return expected(c, "True or False for 'fortran_order'");
    }
    return MN_OK;
}

/* One dimension: a whole token of decimal digits (a '-' is read only to say
 * that the dimension is negative). */
static mn_status dimension(cursor *c, int64_t *out)
{
    skip_space(c);
    const char *start = c->p;
    bool negative = c->p < c->end && *c->p == '-';
    if (negative)
        c->p++;
    int64_t v = 0;
    const char *digits = c->p;
    bool overflow = false;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        int d = *c->p++ - '0';
        if (v > (INT64_MAX - d) / 10)
            overflow = true;
        else
            v = 10 * v + d;
    }
    char buf[24];
    if (c->p == digits || (c->p < c->end && is_word_char(*c->p))) {
        c->p = start;
        return mn_fail(MN_ERR_FORMAT, "%s: malformed .npy header: a dimension of 'shape' must be "
                       "a whole decimal integer, not %s", c->path, near(c, buf, sizeof buf));
    }
    if (negative)
        return mn_fail(MN_ERR_FORMAT, "%s: .npy shape has a negative dimension (-%.*s)", c->path,
                       (int)(c->p - digits), digits);
    if (overflow)
        return mn_fail(MN_ERR_FORMAT, "%s: .npy shape has a dimension of %.*s, past the largest "
                       "size (%lld)", c->path, (int)(c->p - digits), digits, (long long)INT64_MAX);
    *out = v;
    return MN_OK;
}

/* A Python tuple of dimensions: (), (n,), (a, b) or (a, b,). "(n)" is an
 * integer in Python, not a tuple, and is refused. */
static mn_status shape_tuple(cursor *c, int64_t *dims, int *ndim)
{
    if (!eat(c, '('))
        return expected(c, "a tuple '(...)' for 'shape'");
    int n = 0;
    bool comma = false;
    while (!eat(c, ')')) {
        if (n > 0 && !comma)
            return expected(c, "',' or ')' in 'shape'");
        if (n == MAX_NDIM)
            return mn_fail(MN_ERR_FORMAT, "%s: .npy shape has more than %d dimensions", c->path,
                           MAX_NDIM);
        MN_TRY(dimension(c, &dims[n]));
        n++;
        comma = eat(c, ',');
    }
    if (n == 1 && !comma)
        return mn_fail(MN_ERR_FORMAT, "%s: malformed .npy header: 'shape' (%lld) is not a tuple; "
                       "a 1-D shape is written (%lld,)", c->path, (long long)dims[0],
                       (long long)dims[0]);
    *ndim = n;
    return MN_OK;
}

typedef struct {
    char descr[16];
    bool fortran;
    int ndim;
    int64_t dims[MAX_NDIM];
} header;

/* The header text (hlen bytes, not NUL-terminated): the dict literal with
 * exactly the three keys, then spaces, then one final '\n'. */
static mn_status parse_dict(const char *path, const char *text, size_t hlen, header *h)
{
    cursor c = {text, text + hlen, path};
    if (hlen == 0 || text[hlen - 1] != '\n')
        return mn_fail(MN_ERR_FORMAT, "%s: malformed .npy header: it does not end with a newline",
                       path);
    c.end--; /* the final newline */
    if (!eat(&c, '{'))
        return expected(&c, "a dict literal '{...}'");
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    bool seen[3] = {false, false, false};
    while (!eat(&c, '}')) {
        if ((seen[0] || seen[1] || seen[2]) && !eat(&c, ','))
            return expected(&c, "',' or '}' in the header dict");
        if (eat(&c, '}'))
            break; /* a trailing comma, as numpy writes it */
        char key[32];
        MN_TRY(string_literal(&c, key, sizeof key, "a key in quotes"));
        int k = 0;
        while (k < 3 && strcmp(key, keys[k]) != 0)
            k++;
        if (k == 3)
            return mn_fail(MN_ERR_FORMAT, "%s: .npy header has the key '%s'; the keys are "
                           "'descr', 'fortran_order' and 'shape'", path, key);
        if (seen[k])
            return mn_fail(MN_ERR_FORMAT, "%s: .npy header has the key '%s' twice", path, key);
        seen[k] = true;
        if (!eat(&c, ':'))
            return expected(&c, "':' after a key");
        if (k == 0)
            MN_TRY(string_literal(&c, h->descr, sizeof h->descr, "a dtype string for 'descr'"));
        else if (k == 1)
            MN_TRY(boolean(&c, &h->fortran));
        else
            MN_TRY(shape_tuple(&c, h->dims, &h->ndim));
    }
    for (const char *q = c.p; q < c.end; q++)
        if (*q != ' ') {
            c.p = q;
            return expected(&c, "only spaces after the header dict");
        }
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return mn_fail(MN_ERR_FORMAT, "%s: .npy header lacks the key '%s'", path, keys[k]);
    return MN_OK;
}

/* "(a, b)" or "(n,)" into buf. */
static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *dims)
{
    size_t used = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "",
                                 (long long)dims[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, "%s)", ndim == 1 ? "," : "");
    return buf;
}

/* What the parsed header means: dtype, a 1-D or 2-D C-order shape. */
static mn_status check_header(const char *path, const header *h, mn_dtype *dt)
{
    if (strcmp(h->descr, "<f4") == 0)
        *dt = MN_F32;
    else if (strcmp(h->descr, "<f8") == 0)
        *dt = MN_F64;
    else
        return mn_fail(MN_ERR_FORMAT, "%s: dtype '%s' is not supported; use little-endian "
                       "float32 (<f4) or float64 (<f8)", path, h->descr);
    char buf[96];
    if (h->ndim < 1 || h->ndim > 2)
        return mn_fail(MN_ERR_FORMAT, "%s: array of shape %s has %d dimensions; need a 2-D "
                       "matrix (or 1-D)", path, shape_str(buf, sizeof buf, h->ndim, h->dims),
                       h->ndim);
    /* Fortran order is the same bytes as C order when at most one side
     * exceeds 1; otherwise the data is transposed. */
    if (h->fortran && h->ndim == 2 && h->dims[0] > 1 && h->dims[1] > 1)
        return mn_fail(MN_ERR_FORMAT, "%s: Fortran-order arrays are not supported; save "
                       "np.ascontiguousarray(a)", path);
    return MN_OK;
}

/* ---- reading -------------------------------------------------------------- */

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Exactly n bytes, or a message saying the file ended (or failed) early. */
static mn_status read_exact(FILE *f, const char *path, void *buf, size_t n, const char *what)
{
    if (fread(buf, 1, n, f) == n)
        return MN_OK;
    if (ferror(f))
        return mn_fail(MN_ERR_IO, "%s: cannot read %s: %s", path, what, strerror(errno));
    return mn_fail(MN_ERR_FORMAT, "%s: file is truncated: it ends inside %s", path, what);
}

static mn_status read_file(FILE *f, const char *path, mn_mat *out, int *ndim_out)
{
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0)
        return mn_fail(MN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return mn_fail(MN_ERR_FORMAT, "%s: is a directory, not a .npy file", path);
    if (!S_ISREG(sb.st_mode))
        return mn_fail(MN_ERR_FORMAT, "%s: not a regular file; a .npy file is read whole and "
                       "its length checked", path);
    int64_t file_len = (int64_t)sb.st_size;

    unsigned char pre[12];
    if (file_len < 10)
        return mn_fail(MN_ERR_FORMAT, "%s: file is truncated or not a .npy file: %lld bytes, "
                       "shorter than the 10-byte preamble", path, (long long)file_len);
    MN_TRY(read_exact(f, path, pre, 8, "the preamble"));
    if (memcmp(pre, magic, 6) != 0)
        return mn_fail(MN_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
    if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
        return mn_fail(MN_ERR_FORMAT, "%s: unsupported .npy version %d.%d (1.0, 2.0 and 3.0 are "
                       "read)", path, pre[6], pre[7]);
    int64_t pre_len = pre[6] == 1 ? 10 : 12, hlen;
    if (file_len < pre_len)
        return mn_fail(MN_ERR_FORMAT, "%s: file is truncated: it ends inside the preamble", path);
    MN_TRY(read_exact(f, path, pre + 8, (size_t)(pre_len - 8), "the preamble"));
    hlen = pre[6] == 1 ? (int64_t)(pre[8] | pre[9] << 8) : (int64_t)le32(pre + 8);
    if (hlen > file_len - pre_len)
        return mn_fail(MN_ERR_FORMAT, "%s: file is truncated: the header length %lld runs past "
                       "the end of the file (%lld bytes)", path, (long long)hlen,
                       (long long)file_len);
    if (hlen > MAX_HEADER)
        return mn_fail(MN_ERR_FORMAT, "%s: .npy header of %lld bytes is implausibly long", path,
                       (long long)hlen);

    char *text = malloc(hlen > 0 ? (size_t)hlen : 1);
    if (!text)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", path);
    header h = {.ndim = 0};
    mn_status st = read_exact(f, path, text, (size_t)hlen, "the header");
    if (st == MN_OK)
        st = parse_dict(path, text, (size_t)hlen, &h);
    free(text);
    MN_TRY(st);
    mn_dtype dt = MN_F32;
    MN_TRY(check_header(path, &h, &dt));

    int64_t count, rows = h.ndim == 1 ? 1 : h.dims[0], cols = h.dims[h.ndim - 1];
    size_t esz = mn_dtype_size(dt);
    /* 0 elements, but a shape numpy refuses (in any order of the sides) */
    uint64_t numpy_bytes;
    char buf[96];
    if ((h.dims[0] == 0 || h.dims[h.ndim - 1] == 0) &&
        !mn_io_shape_bytes(h.ndim, h.dims, esz, &numpy_bytes))
        return mn_fail(MN_ERR_FORMAT, "%s: shape %s of %s is too large: its nonzero dimensions "
                       "times %zu bytes pass 2^63 - 1, which numpy refuses even for 0 elements",
                       path, shape_str(buf, sizeof buf, h.ndim, h.dims), h.descr, esz);
    MN_TRY(mn_checked_count(path, MN_ERR_FORMAT, h.ndim, h.dims, esz, &count));
    int64_t need = count * (int64_t)esz, have = file_len - pre_len - hlen;
    if (have < need)
        return mn_fail(MN_ERR_FORMAT, "%s: file is truncated: shape %s of %s needs %lld bytes of "
                       "data, the file has %lld", path, shape_str(buf, sizeof buf, h.ndim, h.dims),
                       h.descr, (long long)need, (long long)have);
    if (have > need)
        return mn_fail(MN_ERR_FORMAT, "%s: %lld trailing bytes after the data of shape %s of %s "
                       "(%lld bytes); a .npy file holds one array", path, (long long)(have - need),
                       shape_str(buf, sizeof buf, h.ndim, h.dims), h.descr, (long long)need);

    mn_mat m;
    MN_TRY(mn_mat_alloc(&m, dt, rows, cols));
    st = read_exact(f, path, m.data, (size_t)need, "the data");
    if (st != MN_OK) { /* the file shrank while we read it */
        mn_mat_free(&m);
        return st;
    }
    *out = m;
    if (ndim_out)
        *ndim_out = h.ndim;
    return MN_OK;
}

mn_status mn_npy_read_ndim(const char *path, mn_mat *out, int *ndim)
{
    if (!path || !out)
        return mn_fail(MN_ERR_ARG, "mn_npy_read: %s is NULL", path ? "out" : "path");
    if (!path[0]) /* messages start with the path: name the problem instead */
        return mn_fail(MN_ERR_ARG, "the path of the .npy file to read is empty");
    struct stat sb; /* read_file looks at what it is */
    FILE *f = mn_io_fopen_read(path, &sb); /* a FIFO is refused, not waited on */
    if (!f)
        return mn_fail(MN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    mn_status st = read_file(f, path, out, ndim);
    fclose(f);
    return st;
}

mn_status mn_npy_read(const char *path, mn_mat *out) { return mn_npy_read_ndim(path, out, NULL); }

/* ---- writing -------------------------------------------------------------- */

/* Where to write: `path` itself, or the regular file a symbolic link at
 * `path` points to (into *resolved, which the caller frees). An existing
 * path that is not a regular file is refused: renaming over a device node
 * or a directory would replace it. *mode: the existing file's permissions,
 * or -1 for a new file. */
static mn_status output_target(const char *path, char **resolved, int *mode)
{
    *resolved = NULL;
    *mode = -1;
    struct stat ls, st;
    if (lstat(path, &ls) != 0) {
        if (errno == ENOENT)
            return MN_OK;
        return mn_fail(MN_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    if (stat(path, &st) != 0)
        return mn_fail(MN_ERR_IO, "%s: cannot write: it is a symbolic link to a missing file",
                       path);
    if (!S_ISREG(st.st_mode))
        return mn_fail(MN_ERR_IO, "%s: exists and is not a regular file (%s); refusing to "
                       "replace it", path, S_ISDIR(st.st_mode) ? "a directory"
                                           : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)
                                               ? "a device"
                                               : "a fifo or socket");
    *mode = (int)(st.st_mode & 07777);
    if (S_ISLNK(ls.st_mode) && !(*resolved = realpath(path, NULL)))
        return mn_fail(MN_ERR_IO, "%s: cannot resolve the symbolic link: %s", path,
                       strerror(errno));
    return MN_OK;
}

/* What write_npy's file holds: the header dict and the data's writer. */
typedef struct {
    const char *dict;
    int len;
    bool (*body)(FILE *f, const void *ctx);
    const void *ctx;
} npy_content;

/* The preamble, the dict padded so that the data starts at a multiple of
 * 64, then the data. */
static bool npy_file(FILE *f, const void *ctx)
{
    const npy_content *c = ctx;
    int total = 10 + c->len + 1, pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)(c->len + pad + 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    bool ok = fwrite(pre, 1, 10, f) == 10 &&
              fwrite(c->dict, 1, (size_t)c->len, f) == (size_t)c->len;
    for (int i = 0; ok && i < pad; i++)
        ok = fputc(' ', f) != EOF;
    return ok && fputc('\n', f) != EOF && c->body(f, c->ctx);
}

/* Write a .npy file: header dict `dict` (len bytes), then body(f, ctx)
 * writes the data. Through a temporary file beside the target renamed over
 * it (mn_io_temporary_write), so a failure leaves the old file as it was (a
 * kill, the temporary too: the next write of the target removes it). */
static mn_status write_npy(const char *path, const char *dict, int len,
                           bool (*body)(FILE *f, const void *ctx), const void *ctx)
{
    char *resolved;
    int mode;
    MN_TRY(output_target(path, &resolved, &mode));
    npy_content c = {.dict = dict, .len = len, .body = body, .ctx = ctx};
    mn_status st = mn_io_temporary_write(resolved ? resolved : path, path, mode, npy_file, &c);
    free(resolved);
    return st;
}

/* A matrix's elements in its own dtype, row by row (any strides). */
static bool matrix_body(FILE *f, const void *ctx)
{
    const mn_mat *m = ctx;
    size_t esz = mn_dtype_size(m->dtype);
    bool ok = true;
    for (int64_t i = 0; ok && i < m->rows; i++)
        for (int64_t j = 0; ok && j < m->cols; j++) {
            double v = mn_mat_get(m, i, j);
            float fv = (float)v;
            ok = fwrite(m->dtype == MN_F32 ? (const void *)&fv : (const void *)&v, esz, 1, f) == 1;
        }
    return ok;
}

typedef struct {
    const void *data;
    size_t nbytes;
} raw_bytes;

static bool raw_body(FILE *f, const void *ctx)
{
    const raw_bytes *r = ctx;
    return r->nbytes == 0 || fwrite(r->data, 1, r->nbytes, f) == r->nbytes;
}

mn_status mn_npy_write_ndim(const char *path, const mn_mat *m, int ndim)
{
    if (!path || !m || !m->data)
        return mn_fail(MN_ERR_ARG, "mn_npy_write: %s is NULL", !path ? "path" : "the matrix");
    if (!path[0])
        return mn_fail(MN_ERR_ARG, "the path of the .npy file to write is empty");
    if (m->dtype != MN_F32 && m->dtype != MN_F64)
        return mn_fail(MN_ERR_ARG, "%s: cannot write dtype %d", path, (int)m->dtype);
    if (m->rows < 0 || m->cols < 0) /* a negative size is a shape error, as in tensor.h */
        return mn_fail(MN_ERR_SHAPE, "%s: cannot write a %lldx%lld matrix", path,
                       (long long)m->rows, (long long)m->cols);
    const int64_t sides[2] = {m->rows, m->cols};
    uint64_t bytes;
    if (!mn_io_shape_bytes(2, sides, mn_dtype_size(m->dtype), &bytes)) /* numpy's rule */
        return mn_fail(MN_ERR_SHAPE, "%s: a %lldx%lld matrix: its nonzero sides times %zu bytes "
                       "pass 2^63 - 1, which numpy refuses even for 0 elements", path,
                       (long long)m->rows, (long long)m->cols, mn_dtype_size(m->dtype));
    if (ndim != 1 && ndim != 2)
        return mn_fail(MN_ERR_ARG, "%s: ndim = %d; .npy output is 1-D or 2-D", path, ndim);
    if (ndim == 1 && m->rows != 1 && m->cols != 1)
        return mn_fail(MN_ERR_SHAPE, "%s: a %lldx%lld matrix is not a vector; it cannot be "
                       "written 1-D", path, (long long)m->rows, (long long)m->cols);
    char dict[128];
    int len = ndim == 1 ? snprintf(dict, sizeof dict,
                                   "{'descr': '%s', 'fortran_order': False, 'shape': (%lld,), }",
                                   m->dtype == MN_F32 ? "<f4" : "<f8",
                                   (long long)(m->rows * m->cols))
                        : snprintf(dict, sizeof dict,
                                   "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, "
                                   "%lld), }",
                                   m->dtype == MN_F32 ? "<f4" : "<f8", (long long)m->rows,
                                   (long long)m->cols);
    return write_npy(path, dict, len, matrix_body, m);
}

mn_status mn_npy_write(const char *path, const mn_mat *m) { return mn_npy_write_ndim(path, m, 2); }

mn_status mn_npy_write_raw(const char *path, const char *descr, int ndim, const int64_t *shape,
                           const void *data, size_t nbytes)
{
    static const struct {
        const char *descr;
        size_t size;
    } known[] = {{"<f4", 4}, {"<f8", 8}, {"<i8", 8}, {"<u8", 8}, {"|u1", 1}};
    size_t size = 0;
    for (size_t i = 0; descr && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(descr, known[i].descr) == 0)
            size = known[i].size;
    if (path && !path[0])
        return mn_fail(MN_ERR_ARG, "the path of the .npy file to write is empty");
    if (!path || !size || ndim < 0 || ndim > MAX_NDIM || (ndim > 0 && !shape) ||
        (nbytes > 0 && !data))
        return mn_fail(MN_ERR_ARG, "mn_npy_write_raw: %s", !path  ? "path is NULL"
                                                          : !size ? "unknown descr"
                                                                  : "bad shape or data");
    char dict[64 + 24 * MAX_NDIM];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                       descr);
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0)
            return mn_fail(MN_ERR_SHAPE, "%s: dimension %d (%lld) is negative", path, d,
                           (long long)shape[d]);
    uint64_t need;
    if (!mn_io_shape_bytes(ndim, shape, size, &need)) { /* what numpy could not load */
        char buf[64 + 24 * MAX_NDIM];
        return mn_fail(MN_ERR_SHAPE, "%s: shape %s is too large: its nonzero dimensions times "
                       "%zu bytes pass 2^63 - 1, which numpy refuses even for 0 elements", path,
                       shape_str(buf, sizeof buf, ndim, shape), size);
    }
    for (int d = 0; d < ndim; d++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%lld%s", (long long)shape[d],
                        ndim == 1 ? "," : d + 1 < ndim ? ", " : "");
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    if (need != nbytes)
        return mn_fail(MN_ERR_ARG, "%s: %zu bytes of data for a shape of %llu bytes (%zu per "
                       "element)", path, nbytes, (unsigned long long)need, size);
    raw_bytes r = {data, nbytes};
    return write_npy(path, dict, len, raw_body, &r);
}
