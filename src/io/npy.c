/* NumPy .npy reader and writer for 2-D float32/float64 C-order arrays.
 * Format: "\x93NUMPY", version (1|2|3).0, header length (u16 for v1, u32
 * after), a Python dict literal padded with spaces and '\n', then the data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "modnorm/npy.h"

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* The value text after 'key': in the header dict, or NULL. */
static const char *dict_value(const char *hdr, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(hdr, pat);
    if (!p)
        return NULL;
    p = strchr(p + strlen(pat), ':');
    if (!p)
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

static mn_status parse_header(const char *path, const char *hdr, mn_dtype *dt, int64_t *rows,
                              int64_t *cols)
{
    const char *descr = dict_value(hdr, "descr");
    const char *fortran = dict_value(hdr, "fortran_order");
    const char *shape = dict_value(hdr, "shape");
    if (!descr || !fortran || !shape)
        return mn_fail(MN_ERR_FORMAT, "%s: .npy header lacks descr, fortran_order or shape", path);
    if (strncmp(descr, "'<f4'", 5) == 0)
        *dt = MN_F32;
    else if (strncmp(descr, "'<f8'", 5) == 0)
        *dt = MN_F64;
    else {
        char got[16] = {0};
        sscanf(descr, "'%15[^']'", got);
        return mn_fail(MN_ERR_FORMAT,
                       "%s: dtype '%s' is not supported; use little-endian float32 (<f4) or "
                       "float64 (<f8)",
                       path, got);
    }
    if (strncmp(fortran, "False", 5) != 0)
        return mn_fail(MN_ERR_FORMAT,
                       "%s: Fortran-order arrays are not supported; save np.ascontiguousarray(a)",
                       path);
    if (*shape != '(')
        return mn_fail(MN_ERR_FORMAT, "%s: malformed shape in .npy header", path);
    long long dims[3];
    int nd = 0;
    const char *p = shape + 1;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        char *end;
        errno = 0;
        long long d = strtoll(p, &end, 10);
        if (end == p || errno || d < 0)
            return mn_fail(MN_ERR_FORMAT, "%s: malformed shape in .npy header", path);
        if (nd == 3)
            break;
        dims[nd++] = d;
        p = end;
    }
    if (nd == 1) {
        *rows = 1;
        *cols = dims[0];
    } else if (nd == 2) {
        *rows = dims[0];
        *cols = dims[1];
    } else {
        return mn_fail(MN_ERR_FORMAT, "%s: array has %s%d dimensions; need a 2-D matrix (or 1-D)",
                       path, nd == 3 ? "at least " : "", nd);
    }
    return MN_OK;
}

mn_status mn_npy_read(const char *path, mn_mat *out)
{
    if (!path || !out)
        return mn_fail(MN_ERR_ARG, "mn_npy_read: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return mn_fail(MN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char pre[10];
    mn_status st = MN_OK;
    char *hdr = NULL;
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, magic, 6) != 0) {
        st = mn_fail(MN_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    size_t hlen;
    if (pre[6] == 1) {
        if (fread(pre + 8, 1, 2, f) != 2)
            goto truncated;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        unsigned char b[4];
        if (fread(b, 1, 4, f) != 4)
            goto truncated;
        hlen = (size_t)b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16 | (size_t)b[3] << 24;
    } else {
        st = mn_fail(MN_ERR_FORMAT, "%s: unsupported .npy version %d.%d", path, pre[6], pre[7]);
        goto done;
    }
    if (hlen > (1u << 20)) {
        st = mn_fail(MN_ERR_FORMAT, "%s: .npy header of %zu bytes is implausible", path, hlen);
        goto done;
    }
    hdr = calloc(hlen + 1, 1);
    if (!hdr) {
        st = mn_fail(MN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fread(hdr, 1, hlen, f) != hlen)
        goto truncated;
    mn_dtype dt = MN_F32;
    int64_t rows = 0, cols = 0;
    st = parse_header(path, hdr, &dt, &rows, &cols);
    if (st != MN_OK)
        goto done;
    st = mn_mat_alloc(out, dt, rows, cols);
    if (st != MN_OK)
        goto done;
    size_t n = (size_t)rows * (size_t)cols;
    if (fread(out->data, mn_dtype_size(dt), n, f) != n) {
        mn_mat_free(out);
        goto truncated;
    }
    goto done;
truncated:
    st = mn_fail(MN_ERR_FORMAT, "%s: file is truncated", path);
done:
    free(hdr);
    fclose(f);
    return st;
}

mn_status mn_npy_write(const char *path, const mn_mat *m)
{
    if (!path || !m || !m->data)
        return mn_fail(MN_ERR_ARG, "mn_npy_write: NULL argument");
    char dict[128];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, %lld), }",
                       m->dtype == MN_F32 ? "<f4" : "<f8", (long long)m->rows, (long long)m->cols);
    /* Pad so that magic + version + length + header is a multiple of 64. */
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)(len + pad + 1);

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        mn_status st = mn_fail(MN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    fchmod(fd, 0644); /* mkstemp creates 0600; a data file is meant to be shared */
    FILE *f = fdopen(fd, "wb");
    bool ok = f != NULL;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    ok = ok && fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len;
    for (int i = 0; ok && i < pad; i++)
        ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    size_t esz = mn_dtype_size(m->dtype);
    for (int64_t i = 0; ok && i < m->rows; i++)
        for (int64_t j = 0; ok && j < m->cols; j++) {
            double v = mn_mat_get(m, i, j);
            float fv = (float)v;
            ok = fwrite(m->dtype == MN_F32 ? (const void *)&fv : (const void *)&v, esz, 1, f) == 1;
        }
    int saved = errno;
    if (f && fclose(f) != 0)
        ok = false;
    else if (!f)
        close(fd);
    if (ok && rename(tmp, path) != 0) {
        saved = errno;
        ok = false;
    }
    mn_status st = MN_OK;
    if (!ok) {
        unlink(tmp);
        st = mn_fail(MN_ERR_IO, "%s: cannot write: %s", path, strerror(saved));
    }
    free(tmp);
    return st;
}
