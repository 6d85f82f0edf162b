/* A safetensors file as a folder of .npy files and metadata.json (see
 * mn_safetensors_export_npy in modnorm/safetensors.h), for readers without
 * the safetensors library. The folder rules (every entry of an existing DIR
 * is one this export replaces; an export of another checkpoint is replaced
 * only when asked) keep DIR describing one file; the order (metadata.json
 * removed first, written last) makes its presence mean a whole export; the
 * lock on DIR, held from the checks to the last write, keeps a second
 * export from mixing its files in. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/common.h"
#include "io/temporary.h"
#include "modnorm/npy.h"
#include "modnorm/safetensors.h"

#define METADATA "metadata.json"
#define MAX_NAME 200 /* a tensor name's bytes: NAME.npy stays well under NAME_MAX */
#define STR_(x) #x
#define MN_STR(x) STR_(x)
#define NOT_ASKED "(not asked to overwrite)" /* ends the refusal overwrite lifts */

/* numpy's descr of each mn_st_dtype. */
static const char *descr_of(mn_st_dtype dt)
{
    switch (dt) {
    case MN_ST_F32: return "<f4";
    case MN_ST_F64: return "<f8";
    case MN_ST_I64: return "<i8";
    case MN_ST_U64: return "<u8";
    case MN_ST_U8: return "|u1";
    }
    return NULL;
}

/* Why the tensor name cannot be a file name here, or NULL when it can: not
 * empty, ".", ".." or hidden, no '/', under MAX_NAME bytes; and, so that
 * the files are safe to name in a shell and messages stay one line, no
 * control character and no leading '-' (an option to most commands). */
static const char *unsafe_name(const char *name)
{
    if (!*name)
        return "it is empty";
    if (name[0] == '.')
        return "it starts with '.' (a hidden file, or . or ..)";
    if (name[0] == '-')
        return "it starts with '-', which commands read as an option";
    if (strchr(name, '/'))
        return "it holds '/'";
    if (strlen(name) >= MAX_NAME)
        return "it is " MN_STR(MAX_NAME) " bytes or longer (the limit keeps NAME.npy a file "
               "name)";
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return "it holds a control character";
    return NULL;
}

/* The directory part of `path` for messages: *p and the length ("." when
 * it has none, "/" for "/x"). */
static int parent_span(const char *path, const char **p)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    while (n > 0 && path[n - 1] != '/')
        n--;
    if (n == 0) {
        *p = ".";
        return 1;
    }
    while (n > 1 && path[n - 1] == '/')
        n--;
    *p = path;
    return (int)n;
}

/* "DIR/NAME" in a new string (free it). */
static mn_status join(const char *dir, const char *name, char **out)
{
    if (asprintf(out, "%s/%s", dir, name) < 0) {
        *out = NULL;
        return mn_fail(MN_ERR_NOMEM, "%s: out of memory", dir);
    }
    return MN_OK;
}

/* Whether export writes the file name[0..n) in DIR: NAME.npy of a tensor of
 * f, or metadata.json. */
static bool written_here(const mn_safetensors *f, const char *name, size_t n)
{
    if (n == strlen(METADATA) && strncmp(name, METADATA, n) == 0)
        return true;
    if (n < 4 || strncmp(name + n - 4, ".npy", 4) != 0)
        return false;
    for (int i = 0; i < mn_safetensors_count(f); i++) {
        const char *t = mn_safetensors_at(f, i)->name;
        if (strlen(t) == n - 4 && strncmp(t, name, n - 4) == 0)
            return true;
    }
    return false;
}

/* Before the first write, every entry of an existing DIR: a file this
 * export writes, a regular file and not a symbolic link (the writers would
 * write through a link, to a file outside DIR); or the temporary of such a
 * file left by an export that was killed (NAME.tmpPID.N, its process gone:
 * the write of NAME removes it). Then every file is replaced and DIR
 * describes this checkpoint alone. Anything else (another checkpoint's
 * extra tensors, a user's file) would sit beside the new files and mix two
 * models for a reader that globs DIR: refuse it. */
static mn_status check_entries(const mn_safetensors *f, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return mn_fail(MN_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    mn_status st = MN_OK;
    for (struct dirent *e; st == MN_OK && (e = readdir(d));) {
        const char *name = e->d_name;
        size_t base = mn_io_temporary_base(name);
        struct stat sb;
        char shown[MN_IO_SHOWN_CAP];
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        mn_io_shown(name, shown, sizeof shown);
        if (written_here(f, name, strlen(name))) {
            if (fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
                st = mn_fail(MN_ERR_IO, "%s: '%s': %s", dir, shown, strerror(errno));
            else if (!S_ISREG(sb.st_mode))
                st = mn_fail(MN_ERR_IO, "%s: '%s' is %s, not a regular file: refusing to %s "
                             "it", dir, shown, mn_io_kind_of(sb.st_mode),
                             S_ISLNK(sb.st_mode) ? "write through" : "replace");
        } else if (base > 0 && written_here(f, name, base)) {
            if (!mn_io_temporary_stale(dirfd(d), name))
                st = mn_fail(MN_ERR_IO, "%s holds '%s', the temporary file of a writer that "
                             "is still running (or not a regular file): refusing to write "
                             "beside it", dir, shown);
        } else {
            st = mn_fail(MN_ERR_IO, "%s holds '%s', which this export would not replace: "
                         "refusing to mix two checkpoints' files (use an empty or new "
                         "directory)", dir, shown);
        }
    }
    closedir(d);
    return st;
}

/* An exclusive flock on DIR itself (an fd of the directory: no lock file
 * is left behind), held by *fd until the export ends: a second export into
 * the same DIR, by any path to it, is refused at once rather than mixing
 * its files with this one's. The checks after it see the folder as no
 * other export will change it. */
static mn_status lock_dir(const char *dir, int *fd)
{
    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return mn_fail(MN_ERR_IO, "%s: cannot open: %s", dir, strerror(errno));
    int r;
    while ((r = flock(*fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
        continue;
    if (r == 0)
        return MN_OK;
    int err = errno;
    close(*fd);
    *fd = -1;
    if (err == EWOULDBLOCK)
        return mn_fail(MN_ERR_IO, "%s is being written by another export (it holds the "
                       "folder's lock): refusing to write to it at the same time", dir);
    return mn_fail(MN_ERR_IO, "%s: cannot lock it against another export at the same time "
                   "(flock: %s)", dir, strerror(err));
}

/* DIR ready for the writes and locked (*lock, -1 on failure): an existing
 * directory whose entries pass check_entries, or a new one made here, one
 * level deep (a mistyped parent is an error, as for an output file, not a
 * tree of new folders). */
static mn_status prepare_dir(const mn_safetensors *f, const char *dir, int *lock)
{
    *lock = -1;
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno != ENOENT)
            return mn_fail(MN_ERR_IO, "%s: cannot use: %s", dir, strerror(errno));
        char target[1024], shown[MN_IO_SHOWN_CAP];
        ssize_t n = readlink(dir, target, sizeof target - 1);
        if (n >= 0) { /* mkdir does not follow it: say what it is */
            target[n] = '\0';
            return mn_fail(MN_ERR_IO, "%s is a symbolic link to '%s', which does not exist "
                           "(make that folder, or export to another)", dir,
                           mn_io_shown(target, shown, sizeof shown));
        }
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            int err = errno;
            const char *parent;
            int len = parent_span(dir, &parent);
            return mn_fail(MN_ERR_IO, "%s: cannot create it in %.*s: %s", dir, len, parent,
                           strerror(err));
        }
        /* new, or made meanwhile */
        if (stat(dir, &sb) != 0)
            return mn_fail(MN_ERR_IO, "%s: cannot use: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return mn_fail(MN_ERR_IO, "%s exists and is %s, not a directory", dir,
                       mn_io_kind_of(sb.st_mode));
    MN_TRY(lock_dir(dir, lock));
    return check_entries(f, dir);
}

/* Unless `overwrite`, an existing DIR/metadata.json must be the one this
 * export writes (`text`): DIR then holds an export of this very checkpoint
 * (its crc32, in the metadata, names the data). Another checkpoint's
 * export is not replaced unasked, as train's --checkpoint keeps another
 * run's file; nor one of a file without crc32 (not written by modnorm),
 * whose metadata cannot tell two files apart. A DIR without metadata.json
 * (new, or an export that failed part-way) has no whole export to lose. */
static mn_status check_same_checkpoint(const mn_safetensors *f, const char *dir,
                                       const char *text, bool overwrite)
{
    if (overwrite)
        return MN_OK;
    char *path;
    MN_TRY(join(dir, METADATA, &path));
    struct stat sb;
    int fd = mn_io_open_read(path, &sb);
    mn_status st = MN_OK;
    if (fd < 0) {
        if (errno != ENOENT)
            st = mn_fail(MN_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        free(path);
        return st;
    }
    free(path);
    size_t n = strlen(text), got = 0;
    char *old = S_ISREG(sb.st_mode) ? malloc(n + 1) : NULL;
    while (old && got < n + 1) { /* n + 1: a longer file differs */
        ssize_t r = read(fd, old + got, n + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    bool same = old && got == n && memcmp(old, text, n) == 0;
    free(old);
    if (!same)
        return mn_fail(MN_ERR_IO, "%s holds the export of another checkpoint (its %s differs "
                       "from this file's): refusing to replace it " NOT_ASKED, dir, METADATA);
    if (!mn_safetensors_meta(f, "crc32"))
        return mn_fail(MN_ERR_IO, "%s holds an export, and this file has no crc32 to tell "
                       "whether it is the same checkpoint: refusing to replace it " NOT_ASKED,
                       dir);
    return MN_OK;
}

static bool text_body(FILE *f, const void *ctx)
{
    size_t n = strlen(ctx);
    return fwrite(ctx, 1, n, f) == n;
}

/* `text` as the file `path`, through a temporary file renamed over it (as
 * the .npy writer does), so that a failure leaves no partial file. */
static mn_status write_text(const char *path, const char *text)
{
    return mn_io_temporary_write(path, path, -1, text_body, text);
}

/* The metadata as metadata.json holds it: a JSON object of strings in the
 * header's order (free *text). */
static mn_status metadata_text(const mn_safetensors *f, const char *path, char **text)
{
    json_t *md = json_object();
    bool ok = md != NULL;
    for (int k = 0; ok && k < mn_safetensors_meta_count(f); k++) {
        const mn_st_meta *m = mn_safetensors_meta_at(f, k);
        ok = json_object_set_new(md, m->key, json_string(m->value)) == 0;
    }
    *text = ok ? json_dumps(md, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(md);
    return *text ? MN_OK : mn_fail(MN_ERR_NOMEM, "%s: out of memory", path);
}

/* The writes, in their order: metadata.json goes first and comes back last,
 * so a DIR that has one holds a whole export; one whose export failed
 * part-way has none. */
static mn_status write_all(const mn_safetensors *f, const char *dir, const char *md_text)
{
    char *md_path;
    MN_TRY(join(dir, METADATA, &md_path));
    mn_status st = MN_OK;
    if (unlink(md_path) != 0 && errno != ENOENT)
        st = mn_fail(MN_ERR_IO, "%s: cannot remove the old one: %s", md_path, strerror(errno));
    for (int i = 0; st == MN_OK && i < mn_safetensors_count(f); i++) {
        const mn_st_tensor *t = mn_safetensors_at(f, i);
        char file[MAX_NAME + 8], *path;
        snprintf(file, sizeof file, "%s.npy", t->name);
        st = join(dir, file, &path);
        if (st == MN_OK)
            st = mn_npy_write_raw(path, descr_of(t->dtype), t->ndim, t->shape, t->data,
                                  t->nbytes);
        free(path);
    }
    if (st == MN_OK)
        st = write_text(md_path, md_text);
    free(md_path);
    return st;
}

mn_status mn_safetensors_export_npy(const char *path, const char *dir, bool overwrite,
                                    int *n_tensors)
{
    if (!path || !dir)
        return mn_fail(MN_ERR_ARG, "mn_safetensors_export_npy: %s is NULL",
                       !path ? "path" : "dir");
    if (!dir[0]) /* messages about DIR start with it: name the problem instead */
        return mn_fail(MN_ERR_ARG, "the folder to export to is empty");
    mn_safetensors *f;
    MN_TRY(mn_safetensors_read(path, &f));
    mn_status st = MN_OK;
    for (int i = 0; st == MN_OK && i < mn_safetensors_count(f); i++) {
        const char *name = mn_safetensors_at(f, i)->name, *why = unsafe_name(name);
        char shown[MN_IO_SHOWN_CAP];
        if (why)
            st = mn_fail(MN_ERR_UNSUPPORTED, "%s: tensor name '%s' cannot be a file name: %s",
                         path, mn_io_shown(name, shown, sizeof shown), why);
    }
    char *md_text = NULL;
    int lock = -1;
    if (st == MN_OK)
        st = metadata_text(f, path, &md_text);
    if (st == MN_OK)
        st = prepare_dir(f, dir, &lock);
    if (st == MN_OK)
        st = check_same_checkpoint(f, dir, md_text, overwrite);
    if (st == MN_OK)
        st = write_all(f, dir, md_text);
    if (lock >= 0)
        close(lock); /* the lock goes with it */
    if (st == MN_OK && n_tensors)
        *n_tensors = mn_safetensors_count(f);
    free(md_text);
    mn_safetensors_free(f);
    return st;
}
