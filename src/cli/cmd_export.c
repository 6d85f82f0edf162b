/* modnorm export: a checkpoint's tensors as .npy files (mn_safetensors_read,
 * mn_npy_write_raw) and its metadata as JSON, for readers without the
 * safetensors library. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json_out.h"

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

/* Whether export writes the file `name` in DIR: NAME.npy of a tensor of f,
 * or metadata.json. */
static bool written_here(const mn_safetensors *f, const char *name)
{
    if (strcmp(name, "metadata.json") == 0)
        return true;
    size_t n = strlen(name);
    if (n < 4 || strcmp(name + n - 4, ".npy") != 0)
        return false;
    for (int i = 0; i < mn_safetensors_count(f); i++) {
        const char *t = mn_safetensors_at(f, i)->name;
        if (strlen(t) == n - 4 && strncmp(t, name, n - 4) == 0)
            return true;
    }
    return false;
}

/* An existing DIR may hold only files this export writes (an earlier export
 * of the same checkpoint, or of one whose tensors it covers): every file is
 * then replaced and DIR describes this checkpoint alone. Anything else
 * (another checkpoint's extra tensors, a user's file) would sit beside the
 * new files and mix two models for a reader that globs DIR: refuse. */
static int check_npy_dir(const mn_safetensors *f, const char *dir)
{
    char shown[MN_CLI_SHOWN_CAP];
    DIR *d = opendir(dir);
    if (!d)
        return mn_cli_error(CMD, "--npy %s: cannot list: %s",
                            mn_cli_shown(dir, shown, sizeof shown), strerror(errno));
    int rc = MN_EXIT_OK;
    for (struct dirent *e; rc == MN_EXIT_OK && (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            !written_here(f, e->d_name))
            rc = mn_cli_error(CMD, "--npy %s holds '%.64s', which this export would not "
                              "replace: refusing to mix two checkpoints' files (use an empty "
                              "or new directory)", mn_cli_shown(dir, shown, sizeof shown),
                              e->d_name);
    closedir(d);
    return rc;
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
        char *path = mn_cli_join(CMD, a->npy, "metadata.json");
        if (!md || !path || json_dump_file(md, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
            rc = mn_cli_error(CMD, "%s: cannot write metadata.json",
                              mn_cli_shown(a->npy, shown, sizeof shown));
        json_decref(md);
        free(path);
    }
    if (rc == MN_EXIT_OK)
        printf("%d tensor%s written to %s\n", mn_safetensors_count(f),
               mn_safetensors_count(f) == 1 ? "" : "s", a->npy);
    mn_safetensors_free(f);
    return rc;
}
