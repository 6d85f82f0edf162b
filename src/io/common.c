/* What the io layer's readers and writers share (see io/common.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/common.h"

int mn_io_open_read(const char *path, struct stat *sb)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    int flags = fcntl(fd, F_GETFL);
    if (fstat(fd, sb) != 0 || flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

FILE *mn_io_fopen_read(const char *path, struct stat *sb)
{
    int fd = mn_io_open_read(path, sb);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f && fd >= 0) {
        int err = errno;
        close(fd);
        errno = err;
    }
    return f;
}

bool mn_io_shape_bytes(int ndim, const int64_t *shape, size_t elem, uint64_t *bytes)
{
    uint64_t n = elem;
    bool empty = false;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return false;
        uint64_t s = (uint64_t)shape[d];
        empty = empty || s == 0;
        if (s == 0)
            continue;
        if (n > (uint64_t)INT64_MAX / s)
            return false;
        n *= s;
    }
    if (n > SIZE_MAX)
        return false;
    *bytes = empty ? 0 : n;
    return true;
}

/* The length of the whole UTF-8 character at s (2 to 4 bytes), or 0 when
 * s[0] does not start one (ASCII, a stray continuation byte, a cut or
 * invalid sequence). */
static size_t utf8_char(const unsigned char *s)
{
    size_t len = s[0] >= 0xc2 && s[0] <= 0xdf   ? 2
                 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                                : 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

const char *mn_io_shown(const char *s, char *buf, size_t cap)
{
    enum { SHOWN = 64 }; /* bytes of `s` shown at most */
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0, i = 0;
    while (u[i]) {
        size_t len = u[i] >= 0x80 ? utf8_char(u + i) : 1;
        bool escape = len == 0 || u[i] < 0x20 || u[i] == 0x7f;
        size_t take = escape ? 1 : len, out = escape ? 4 : len;
        if (i + take > SHOWN || n + out + 4 > cap) /* room for "..." and the NUL */
            break;
        if (escape)
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", u[i]);
        else
            for (size_t k = 0; k < len; k++)
                buf[n++] = s[i + k];
        i += take;
    }
    if (u[i]) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

const char *mn_io_kind_of(mode_t m)
{
    return S_ISREG(m)    ? "a regular file"
           : S_ISDIR(m)  ? "a directory"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISFIFO(m) ? "a fifo"
           : S_ISSOCK(m) ? "a socket"
           : S_ISLNK(m)  ? "a symbolic link"
                         : "a special file";
}
