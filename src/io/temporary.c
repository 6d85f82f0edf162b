/* The atomic writers' temporary files (see io/temporary.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/temporary.h"

int mn_io_temporary_create(const char *path, char *tmp, size_t cap, int mode)
{
    static _Atomic unsigned counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, cap, "%s.tmp%ld.%u", path, (long)getpid(), counter++);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            if (mode >= 0)
                fchmod(fd, (mode_t)mode);
            return fd;
        }
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/* The number of decimal digits that end s[0..end); 0 when none. */
static size_t digits_before(const char *s, size_t end)
{
    size_t n = 0;
    while (n < end && s[end - 1 - n] >= '0' && s[end - 1 - n] <= '9')
        n++;
    return n;
}

/* Read from the end: N, '.', PID (at most 9 digits: a pid_t), ".tmp". */
static size_t parse(const char *name, pid_t *pid)
{
    size_t len = strlen(name), n = digits_before(name, len);
    if (n == 0 || n >= len || name[len - n - 1] != '.')
        return 0;
    size_t pid_end = len - n - 1, p = digits_before(name, pid_end);
    if (p == 0 || p > 9 || pid_end - p < 5 || strncmp(name + pid_end - p - 4, ".tmp", 4) != 0)
        return 0;
    if (pid)
        *pid = (pid_t)strtol(name + pid_end - p, NULL, 10);
    return pid_end - p - 4;
}

size_t mn_io_temporary_base(const char *name) { return name ? parse(name, NULL) : 0; }

bool mn_io_temporary_stale(int dir_fd, const char *name)
{
    pid_t pid = 0;
    struct stat st;
    return name && parse(name, &pid) > 0 && pid > 0 && pid != getpid() && kill(pid, 0) != 0 &&
           errno == ESRCH && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode);
}

void mn_io_temporary_cleanup(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    DIR *d = dir && *base ? opendir(dir) : NULL;
    free(dir);
    if (!d)
        return;
    size_t blen = strlen(base);
    for (struct dirent *e; (e = readdir(d));)
        if (parse(e->d_name, NULL) == blen && strncmp(e->d_name, base, blen) == 0 &&
            mn_io_temporary_stale(dirfd(d), e->d_name))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

mn_status mn_io_temporary_write(const char *path, const char *shown, int mode,
                                bool (*body)(FILE *f, const void *ctx), const void *ctx)
{
    mn_io_temporary_cleanup(path); /* before ours: their space may be needed */
    size_t cap = strlen(path) + 48;
    char *tmp = malloc(cap);
    int fd = tmp ? mn_io_temporary_create(path, tmp, cap, mode) : -1;
    if (fd < 0) {
        mn_status st = tmp ? mn_fail(MN_ERR_IO, "%s: cannot create: %s", shown, strerror(errno))
                           : mn_fail(MN_ERR_NOMEM, "%s: out of memory", shown);
        free(tmp);
        return st;
    }
    FILE *f = fdopen(fd, "wb");
    bool ok = f && body(f, ctx);
    int saved = errno;
    if (f && fclose(f) != 0) {
        saved = errno;
        ok = false;
    } else if (!f) {
        close(fd);
    }
    if (ok && rename(tmp, path) != 0) {
        saved = errno;
        ok = false;
    }
    mn_status st = MN_OK;
    if (!ok) {
        unlink(tmp);
        st = mn_fail(MN_ERR_IO, "%s: cannot write: %s", shown, strerror(saved));
    }
    free(tmp);
    return st;
}
