/* modnorm export: a checkpoint's tensors as .npy files (mn_safetensors_read,
 * mn_npy_write_raw) and its metadata as JSON, for readers without the
 * safetensors library. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/json_out.h"
#include "io/temporary.h"

#define CMD "export"

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

/* A tensor name is a file name here: no '/', not "." or "..", not hidden. */
static bool safe_name(const char *name)
{
    return *name && name[0] != '.' && !strchr(name, '/') && strlen(name) < 200;
}

/* Whether export writes the file name[0..n) in DIR: NAME.npy of a tensor of
 * f, or metadata.json. */
static bool written_here(const mn_safetensors *f, const char *name, size_t n)
{
    if (n == strlen("metadata.json") && strncmp(name, "metadata.json", n) == 0)
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
static int check_npy_dir(const mn_safetensors *f, const char *dir)
{
    char shown[MN_CLI_SHOWN_CAP];
    DIR *d = opendir(dir);
    if (!d)
        return mn_cli_error(CMD, "--npy %s: cannot list: %s",
                            mn_cli_shown(dir, shown, sizeof shown), strerror(errno));
    int rc = MN_EXIT_OK;
    for (struct dirent *e; rc == MN_EXIT_OK && (e = readdir(d));) {
        const char *name = e->d_name;
        size_t base = mn_io_temporary_base(name);
        struct stat st;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (written_here(f, name, strlen(name))) {
            if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                rc = mn_cli_error(CMD, "--npy %s: '%.64s': %s",
                                  mn_cli_shown(dir, shown, sizeof shown), name, strerror(errno));
            else if (!S_ISREG(st.st_mode))
                rc = mn_cli_error(CMD, "--npy %s: '%.64s' is %s, not a regular file: refusing "
                                  "to %s it", mn_cli_shown(dir, shown, sizeof shown), name,
                                  mn_cli_kind_of(st.st_mode),
                                  S_ISLNK(st.st_mode) ? "write through" : "replace");
        } else if (base > 0 && written_here(f, name, base)) {
            if (!mn_io_temporary_stale(dirfd(d), name))
                rc = mn_cli_error(CMD, "--npy %s holds '%.64s', the temporary file of a writer "
                                  "that is still running (or not a regular file): refusing to "
                                  "write beside it", mn_cli_shown(dir, shown, sizeof shown), name);
        } else {
            rc = mn_cli_error(CMD, "--npy %s holds '%.64s', which this export would not "
                              "replace: refusing to mix two checkpoints' files (use an empty "
                              "or new directory)", mn_cli_shown(dir, shown, sizeof shown), name);
        }
    }
    closedir(d);
    return rc;
}

/* `text` as the file `path`, through a temporary file renamed over it (as
 * the .npy writer does), so that a failure leaves no partial file. */
static int write_text(const char *path, const char *text)
{
    char shown[MN_CLI_SHOWN_CAP];
    mn_io_temporary_cleanup(path);
    size_t cap = strlen(path) + 48, n = strlen(text);
    char *tmp = malloc(cap);
    int fd = tmp ? mn_io_temporary_create(path, tmp, cap, -1) : -1;
    if (fd < 0) {
        int err = tmp ? errno : ENOMEM;
        free(tmp);
        return mn_cli_error(CMD, "%s: cannot create: %s", mn_cli_shown(path, shown, sizeof shown),
                            strerror(err));
    }
    bool ok = true;
    for (size_t done = 0; ok && done < n;) {
        ssize_t w = write(fd, text + done, n - done);
        ok = w > 0 || (w < 0 && errno == EINTR);
        done += w > 0 ? (size_t)w : 0;
    }
    int err = errno;
    if (close(fd) != 0 && ok) {
        err = errno;
        ok = false;
    }
    if (ok && rename(tmp, path) != 0) {
        err = errno;
        ok = false;
    }
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok ? MN_EXIT_OK
              : mn_cli_error(CMD, "%s: cannot write: %s",
                             mn_cli_shown(path, shown, sizeof shown), strerror(err));
}

int mn_cmd_export(mn_cli_args *a)
{
    char shown[MN_CLI_SHOWN_CAP];
    mn_safetensors *f;
    mn_status st = mn_safetensors_read(a->checkpoint, &f);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    int rc = MN_EXIT_OK;
    for (int i = 0; i < mn_safetensors_count(f) && rc == MN_EXIT_OK; i++)
        if (!safe_name(mn_safetensors_at(f, i)->name))
            rc = mn_cli_error(CMD, "%s: tensor name '%.64s' cannot be a file name",
                              mn_cli_shown(a->checkpoint, shown, sizeof shown),
                              mn_safetensors_at(f, i)->name);
    bool exists;
    if (rc == MN_EXIT_OK)
        rc = mn_cli_check_output_dir(CMD, "--npy", a->npy, &exists);
    if (rc == MN_EXIT_OK && exists)
        rc = check_npy_dir(f, a->npy);
    int err = rc == MN_EXIT_OK && !exists ? mn_cli_mkdir(a->npy) : 0;
    if (err)
        rc = mn_cli_error(CMD, "--npy %s: cannot create: %s",
                          mn_cli_shown(a->npy, shown, sizeof shown), strerror(err));
    /* metadata.json goes first and comes back last: a DIR that has one holds
     * a whole export; one whose export failed part-way has none. */
    char *md_path = rc == MN_EXIT_OK ? mn_cli_join(CMD, a->npy, "metadata.json") : NULL;
    if (rc == MN_EXIT_OK && !md_path)
        rc = MN_EXIT_FAIL;
    if (rc == MN_EXIT_OK && unlink(md_path) != 0 && errno != ENOENT)
        rc = mn_cli_error(CMD, "%s: cannot remove the old one: %s",
                          mn_cli_shown(md_path, shown, sizeof shown), strerror(errno));
    for (int i = 0; i < mn_safetensors_count(f) && rc == MN_EXIT_OK; i++) {
        const mn_st_tensor *t = mn_safetensors_at(f, i);
        char file[256];
        snprintf(file, sizeof file, "%s.npy", t->name);
        char *path = mn_cli_join(CMD, a->npy, file);
        if (!path) {
            rc = MN_EXIT_FAIL;
            break;
        }
        st = mn_npy_write_raw(path, descr_of(t->dtype), t->ndim, t->shape, t->data, t->nbytes);
        free(path);
        if (st != MN_OK)
            rc = mn_cli_fail(CMD, st);
    }
    if (rc == MN_EXIT_OK) { /* the metadata, a JSON object of strings */
        json_t *md = json_object();
        for (int k = 0; md && k < mn_safetensors_meta_count(f); k++) {
            const mn_st_meta *m = mn_safetensors_meta_at(f, k);
            json_object_set_new(md, m->key, json_string(m->value));
        }
        char *text = md ? json_dumps(md, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        rc = text ? write_text(md_path, text) : mn_cli_error(CMD, "out of memory");
        free(text);
        json_decref(md);
    }
    free(md_path);
    if (rc == MN_EXIT_OK)
        printf("%d tensor%s written to %s\n", mn_safetensors_count(f),
               mn_safetensors_count(f) == 1 ? "" : "s", a->npy);
    mn_safetensors_free(f);
    return rc;
}
