/* mn_safetensors_export_npy, called directly: the files and metadata.json it
 * writes, and its folder rules (a foreign file or a symbolic link refused
 * with the folder untouched; a killed writer's temporary accepted and
 * removed). `modnorm export` is tested through the binary in
 * test_checkpoint.c. */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static const float f32[6] = {1, 2, 3, 4, 5, 6.5f};
static const int64_t i64 = -7;
static const unsigned char u8[3] = {0, 128, 255};

/* tm_dir/NAME: a checkpoint-like file with a 2-D F32, a scalar I64, a 1-D U8
 * (the F32's first value `first`) and two metadata entries. */
static void write_checkpoint(const char *name, float first)
{
    float w[6];
    memcpy(w, f32, sizeof w);
    w[0] = first;
    mn_st_tensor t[3] = {
        {.name = "model.0.weight", .dtype = MN_ST_F32, .ndim = 2, .shape = {2, 3}, .data = w},
        {.name = "optim.step", .dtype = MN_ST_I64, .ndim = 0, .data = &i64},
        {.name = "bytes", .dtype = MN_ST_U8, .ndim = 1, .shape = {3}, .data = u8},
    };
    mn_st_meta meta[2] = {{.key = "format", .value = "modnorm-checkpoint"},
                          {.key = "note", .value = "caf\xc3\xa9 \"quoted\""}};
    ck_assert_ok(mn_safetensors_write(tm_at(name), t, 3, meta, 2));
}

/* tm_dir/NAME: a safetensors file of `header` (JSON, padded here) and
 * `len` bytes of data, as another program could write it. */
static void write_raw(const char *name, const char *header, const void *data, size_t len)
{
    size_t hlen = (strlen(header) + 7) / 8 * 8;
    unsigned char *b = calloc(1, 8 + hlen + len + 1);
    ck_assert_ptr_nonnull(b);
    for (int k = 0; k < 8; k++)
        b[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
    memset(b + 8, ' ', hlen);
    memcpy(b + 8, header, strlen(header));
    if (len)
        memcpy(b + 8 + hlen, data, len);
    tm_write_file(tm_at(name), b, 8 + hlen + len);
    free(b);
}

/* The entries of dir, "." and ".." aside. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static bool same_file(const char *path, const unsigned char *want, size_t len)
{
    size_t n;
    unsigned char *b = tm_slurp(path, &n);
    bool same = n == len && memcmp(b, want, len) == 0;
    free(b);
    return same;
}

/* ck.st (seed 1) exported into out, and the bytes of its weight file and
 * metadata.json kept: a refused export must leave both as they are. */
typedef struct {
    char dir[512];
    unsigned char *w, *md;
    size_t w_len, md_len;
} kept_export;

static void export_and_keep(kept_export *k)
{
    write_checkpoint("ck.st", 1);
    snprintf(k->dir, sizeof k->dir, "%s", tm_at("out"));
    ck_assert_ok(mn_safetensors_export_npy(tm_at("ck.st"), k->dir, false, NULL));
    k->w = tm_slurp(tm_at("out/model.0.weight.npy"), &k->w_len);
    k->md = tm_slurp(tm_at("out/metadata.json"), &k->md_len);
}

/* Whether out still holds the kept weight file, and the kept metadata.json. */
static bool weight_kept(const kept_export *k)
{
    return same_file(tm_at("out/model.0.weight.npy"), k->w, k->w_len);
}

static bool metadata_kept(const kept_export *k)
{
    return same_file(tm_at("out/metadata.json"), k->md, k->md_len);
}

static void kept_free(kept_export *k)
{
    free(k->w);
    free(k->md);
}

/* Messages about the folder start with it, then ' ' or ':' (`modnorm
 * export` names its option before them). */
static void assert_about(const char *dir, const char *part)
{
    const char *m = mn_last_error();
    size_t n = strlen(dir);
    ck_assert_msg(strncmp(m, dir, n) == 0 && (m[n] == ' ' || m[n] == ':') && strstr(m, part) &&
                      !strchr(m, '\n'),
                  "'%s' (want it to start with %s and hold '%s')", m, dir, part);
}

static void setup(void) { tm_dir_make("npy_export"); }

/* Every tensor as NAME.npy in its dtype and shape; the metadata as a JSON
 * object of strings in the header's order; a missing folder made; a rerun
 * over its own files allowed. */
START_TEST(test_files_and_metadata)
{
    write_checkpoint("ck.st", 1);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tm_at("out"));
    int n = -1;
    ck_assert_ok(mn_safetensors_export_npy(tm_at("ck.st"), dir, false, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(count_entries(dir), 4);

    mn_mat m;
    int ndim;
    ck_assert_ok(mn_npy_read_ndim(tm_at("out/model.0.weight.npy"), &m, &ndim));
    ck_assert_int_eq(ndim, 2);
    ck_assert_int_eq(m.dtype, MN_F32);
    ck_assert_int_eq(m.rows, 2);
    ck_assert_int_eq(m.cols, 3);
    for (int k = 0; k < 6; k++)
        ck_assert_double_eq(mn_mat_get(&m, k / 3, k % 3), f32[k]);
    mn_mat_free(&m);
    /* the reader takes floats only: the scalar and the bytes by their header and data */
    size_t len, data;
    unsigned char *b = tm_slurp(tm_at("out/optim.step.npy"), &len);
    data = 10 + (size_t)(b[8] | b[9] << 8); /* version 1.0: a u16 header length */
    ck_assert_int_eq(len, data + 8);          /* one int64 */
    ck_assert_ptr_nonnull(strstr((const char *)b + 10, "'descr': '<i8'"));
    ck_assert_ptr_nonnull(strstr((const char *)b + 10, "'shape': ()"));
    int64_t step;
    memcpy(&step, b + data, 8);
    ck_assert_int_eq(step, i64);
    free(b);
    b = tm_slurp(tm_at("out/bytes.npy"), &len);
    data = 10 + (size_t)(b[8] | b[9] << 8);
    ck_assert_int_eq(len, data + 3);
    ck_assert_ptr_nonnull(strstr((const char *)b + 10, "'descr': '|u1'"));
    ck_assert_ptr_nonnull(strstr((const char *)b + 10, "'shape': (3,)"));
    ck_assert_int_eq(memcmp(b + data, u8, 3), 0);
    free(b);

    json_error_t err;
    json_t *md = json_load_file(tm_at("out/metadata.json"), 0, &err);
    ck_assert_msg(md != NULL, "%s", err.text);
    ck_assert(json_is_object(md));
    static const char *const keys[] = {"format", "note", "crc32"}; /* the header's order */
    void *it = json_object_iter(md);
    for (int k = 0; k < 3; k++, it = json_object_iter_next(md, it)) {
        ck_assert_ptr_nonnull(it);
        ck_assert_str_eq(json_object_iter_key(it), keys[k]);
        ck_assert(json_is_string(json_object_iter_value(it)));
    }
    ck_assert_ptr_null(it);
    ck_assert_str_eq(json_string_value(json_object_get(md, "note")), "caf\xc3\xa9 \"quoted\"");
    ck_assert_int_eq(strlen(json_string_value(json_object_get(md, "crc32"))), 8);
    json_decref(md);

    /* again over its own files (the same checkpoint), and n may be NULL */
    ck_assert_ok(mn_safetensors_export_npy(tm_at("ck.st"), dir, false, NULL));
    ck_assert_int_eq(count_entries(dir), 4);
    /* another checkpoint over them: asked to overwrite (new values) */
    write_checkpoint("ck.st", -3);
    ck_assert_ok(mn_safetensors_export_npy(tm_at("ck.st"), dir, true, NULL));
    ck_assert_ok(mn_npy_read(tm_at("out/model.0.weight.npy"), &m));
    ck_assert_double_eq(mn_mat_get(&m, 0, 0), -3);
    mn_mat_free(&m);
    ck_assert_int_eq(count_entries(dir), 4);
}
END_TEST

/* The export of another checkpoint (review-s12 #2) is not replaced unless
 * asked: its metadata.json differs from the one this export writes. The
 * same checkpoint is exported again; a folder without metadata.json (a
 * failed export) is replaced; a file without crc32 (not modnorm's) cannot
 * be told apart from another, so an earlier export of it needs overwrite. */
START_TEST(test_another_checkpoint_needs_overwrite)
{
    kept_export k;
    export_and_keep(&k);
    const char *dir = k.dir;
    ck_assert_ok(mn_safetensors_export_npy(tm_at("ck.st"), dir, false, NULL)); /* the same */
    ck_assert(metadata_kept(&k));

    write_checkpoint("ck2.st", 9); /* same names and metadata keys, other data: other crc32 */
    int n = -1;
    ck_assert_refused(mn_safetensors_export_npy(tm_at("ck2.st"), dir, false, &n), MN_ERR_IO,
                      "holds the export of another checkpoint (its metadata.json differs");
    assert_about(dir, "refusing to replace it (not asked to overwrite)");
    ck_assert_int_eq(n, -1);
    ck_assert(weight_kept(&k));
    ck_assert(metadata_kept(&k));
    ck_assert_ok(mn_safetensors_export_npy(tm_at("ck2.st"), dir, true, &n));
    ck_assert_int_eq(n, 3);
    ck_assert(!metadata_kept(&k));
    ck_assert_int_eq(count_entries(dir), 4);

    /* without metadata.json nothing tells whose the files are: replaced */
    ck_assert_int_eq(unlink(tm_at("out/metadata.json")), 0);
    ck_assert_ok(mn_safetensors_export_npy(tm_at("ck.st"), dir, false, NULL));
    ck_assert(weight_kept(&k));
    ck_assert(metadata_kept(&k));

    /* a file without crc32: even its own export is replaced only when asked */
    write_raw("nocrc.st", "{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
              "*", 1);
    char dir2[512];
    snprintf(dir2, sizeof dir2, "%s", tm_at("out2"));
    ck_assert_ok(mn_safetensors_export_npy(tm_at("nocrc.st"), dir2, false, NULL));
    ck_assert_refused(mn_safetensors_export_npy(tm_at("nocrc.st"), dir2, false, NULL), MN_ERR_IO,
                      "no crc32 to tell whether it is the same checkpoint");
    assert_about(dir2, "(not asked to overwrite)");
    ck_assert_ok(mn_safetensors_export_npy(tm_at("nocrc.st"), dir2, true, NULL));
    kept_free(&k);
}
END_TEST

/* Two exports into one folder at once (review-s12 #1): the folder's lock,
 * held here as a running export holds it, refuses the second at once,
 * by any path to the folder, before anything is written. */
START_TEST(test_concurrent_export_refused)
{
    kept_export k;
    export_and_keep(&k);
    const char *dir = k.dir;
    write_checkpoint("ck2.st", 9);
    ck_assert_int_eq(symlink(dir, tm_at("link")), 0);

    int held = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(held, 0);
    ck_assert_int_eq(flock(held, LOCK_EX | LOCK_NB), 0);
    static const char *const paths[] = {"out", "link"};
    for (int i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s", tm_at(paths[i]));
        ck_assert_refused(mn_safetensors_export_npy(tm_at("ck2.st"), path, true, NULL),
                          MN_ERR_IO, "is being written by another export");
        assert_about(path, "refusing to write to it at the same time");
        ck_assert(weight_kept(&k));
        ck_assert(metadata_kept(&k));
        ck_assert_int_eq(count_entries(dir), 4);
    }
    close(held); /* the other export ends: this one runs */
    ck_assert_ok(mn_safetensors_export_npy(tm_at("ck2.st"), dir, true, NULL));
    ck_assert(!metadata_kept(&k));
    kept_free(&k);
}
END_TEST

/* A file export would not replace (a user's, another checkpoint's tensor)
 * is refused before anything is written: the earlier export stays whole,
 * metadata.json included. */
START_TEST(test_foreign_file_leaves_folder_untouched)
{
    kept_export k;
    export_and_keep(&k);
    const char *dir = k.dir;
    write_checkpoint("ck.st", 9); /* a new checkpoint: the refusal must keep the old files */
    static const char *const foreign[] = {"notes.txt", "other.npy", ".hidden"};
    for (int i = 0; i < 3; i++) {
        char path[600], part[64];
        snprintf(path, sizeof path, "%s/%s", dir, foreign[i]);
        tm_write_file(path, "keep", 4);
        int n = -1;
        snprintf(part, sizeof part, "holds '%s'", foreign[i]);
        ck_assert_refused(mn_safetensors_export_npy(tm_at("ck.st"), dir, false, &n), MN_ERR_IO,
                          part);
        assert_about(dir, part);
        ck_assert_int_eq(n, -1);
        ck_assert(weight_kept(&k));
        ck_assert(metadata_kept(&k));
        ck_assert(same_file(path, (const unsigned char *)"keep", 4));
        ck_assert_int_eq(count_entries(dir), 5);
        ck_assert_int_eq(unlink(path), 0);
    }
    kept_free(&k);
}
END_TEST

/* A symbolic link under a name export writes is refused, not written
 * through (its target, outside the folder, is kept; nothing is written);
 * the folder itself may be a link to a directory, as before. */
START_TEST(test_symlink_refused)
{
    write_checkpoint("ck.st", 1);
    char dir[512], victim[512];
    snprintf(dir, sizeof dir, "%s", tm_at("out"));
    snprintf(victim, sizeof victim, "%s", tm_at("victim.txt"));
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    static const char *const linked[] = {"model.0.weight.npy", "metadata.json"};
    for (int i = 0; i < 2; i++) {
        tm_write_file(victim, "precious", 8);
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, linked[i]);
        ck_assert_int_eq(symlink(victim, path), 0);
        ck_assert_refused(mn_safetensors_export_npy(tm_at("ck.st"), dir, false, NULL), MN_ERR_IO,
                          "is a symbolic link, not a regular file: refusing to write through");
        assert_about(dir, linked[i]);
        ck_assert(same_file(victim, (const unsigned char *)"precious", 8));
        ck_assert_int_eq(count_entries(dir), 1); /* the link alone: nothing written */
        ck_assert_int_eq(unlink(path), 0);
    }
    /* a directory under a written name is not replaced either */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/bytes.npy", dir);
    ck_assert_int_eq(mkdir(sub, 0777), 0);
    ck_assert_refused(mn_safetensors_export_npy(tm_at("ck.st"), dir, false, NULL), MN_ERR_IO,
                      "'bytes.npy' is a directory, not a regular file: refusing to replace");
    ck_assert_int_eq(rmdir(sub), 0);
    /* the folder as a link to a directory: followed */
    ck_assert_int_eq(symlink(dir, tm_at("link")), 0);
    int n = 0;
    ck_assert_ok(mn_safetensors_export_npy(tm_at("ck.st"), tm_at("link"), false, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(count_entries(dir), 4);
}
END_TEST

/* NAME.tmpPID.N of a name export writes, its process gone (a killed
 * export), is accepted and removed; a live writer's, or another name's, is
 * refused. */
START_TEST(test_stale_temporary_accepted_and_removed)
{
    write_checkpoint("ck.st", 1);
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s", tm_at("out"));
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    pid_t dead = tm_dead_pid();
    static const char *const stale[] = {"model.0.weight.npy.tmp%ld.3", "metadata.json.tmp%ld.0"};
    for (int i = 0; i < 2; i++) {
        int at = snprintf(path, sizeof path, "%s/", dir);
        snprintf(path + at, sizeof path - (size_t)at, stale[i], (long)dead);
        tm_write_file(path, "part", 4);
    }
    ck_assert_int_eq(count_entries(dir), 2);
    ck_assert_ok(mn_safetensors_export_npy(tm_at("ck.st"), dir, false, NULL));
    ck_assert_int_eq(count_entries(dir), 4); /* the three .npy and metadata.json alone */
    ck_assert_int_eq(access(tm_at("out/metadata.json"), F_OK), 0);

    /* this process counts as a live writer; c.npy is no name of the file */
    const struct {
        const char *name;
        long pid;
        const char *part;
    } refused[] = {
        {"bytes.npy.tmp%ld.1", (long)getpid(), "still running"},
        {"c.npy.tmp%ld.1", (long)dead, "would not replace"},
    };
    for (int i = 0; i < 2; i++) {
        int at = snprintf(path, sizeof path, "%s/", dir);
        snprintf(path + at, sizeof path - (size_t)at, refused[i].name, refused[i].pid);
        tm_write_file(path, "part", 4);
        ck_assert_refused(mn_safetensors_export_npy(tm_at("ck.st"), dir, false, NULL), MN_ERR_IO,
                          refused[i].part);
        assert_about(dir, strrchr(path, '/') + 1);
        ck_assert_int_eq(count_entries(dir), 5);
        ck_assert_int_eq(unlink(path), 0);
    }
}
END_TEST

/* Tensors of 0 elements follow numpy's rule (review-s12 #13): a shape
 * whose nonzero dimensions times the dtype's size pass 2^63 - 1 bytes is
 * refused by the reader in any order of its dimensions (numpy would refuse
 * the .npy); within it, the tensor is exported with its shape. */
START_TEST(test_zero_element_shapes)
{
    const struct {
        const char *dtype, *shape, *npy_shape;
    } cases[] = {
        {"F32", "[0,4611686018427387904]", NULL},
        {"F32", "[4611686018427387904,0]", NULL},
        {"F32", "[4611686018427387904,4611686018427387904,0]", NULL},
        {"F32", "[0,2305843009213693951]", "'shape': (0, 2305843009213693951)"},
        {"U8", "[4611686018427387904,0]", "'shape': (4611686018427387904, 0)"},
    };
    for (int i = 0; i < 5; i++) {
        char header[256];
        snprintf(header, sizeof header,
                 "{\"z\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[0,0]}}",
                 cases[i].dtype, cases[i].shape);
        write_raw("z.st", header, NULL, 0);
        mn_safetensors *f = NULL;
        if (!cases[i].npy_shape) {
            ck_assert_refused(mn_safetensors_read(tm_at("z.st"), &f), MN_ERR_FORMAT,
                              "tensor z: its shape's size overflows");
            ck_assert_refused(mn_safetensors_export_npy(tm_at("z.st"), tm_at("zo"), false, NULL),
                              MN_ERR_FORMAT, "which numpy refuses even for 0 elements");
            ck_assert_int_ne(access(tm_at("zo"), F_OK), 0);
            continue;
        }
        ck_assert_ok(mn_safetensors_read(tm_at("z.st"), &f));
        mn_safetensors_free(f);
        ck_assert_ok(mn_safetensors_export_npy(tm_at("z.st"), tm_at("zo"), true, NULL));
        size_t len;
        unsigned char *b = tm_slurp(tm_at("zo/z.npy"), &len);
        ck_assert_msg(strstr((const char *)b + 10, cases[i].npy_shape), "%s", b + 10);
        free(b);
    }
}
END_TEST

/* Tensor names that would make awkward file names (review-s12 #13): a
 * control character (a newline would split every message naming the file)
 * or a leading '-' (an option to rm, ls, ...) are refused like '/' and a
 * leading '.'; a backslash or a space are fine. */
START_TEST(test_awkward_names)
{
    static const float one = 1;
    static const char *const refused[] = {"a\nb", "tab\there", "del\x7f", "-rf", "--x"};
    for (int i = 0; i < 5; i++) {
        mn_st_tensor t = {.name = refused[i], .dtype = MN_ST_F32, .ndim = 1, .shape = {1},
                          .data = &one};
        ck_assert_ok(mn_safetensors_write(tm_at("n.st"), &t, 1, NULL, 0));
        ck_assert_refused(mn_safetensors_export_npy(tm_at("n.st"), tm_at("no"), false, NULL),
                          MN_ERR_UNSUPPORTED, "cannot be a file name");
        ck_assert_int_ne(access(tm_at("no"), F_OK), 0);
    }
    static const char *const fine[] = {"back\\slash", "a b", "x-y", "caf\xc3\xa9"};
    for (int i = 0; i < 4; i++) {
        mn_st_tensor t = {.name = fine[i], .dtype = MN_ST_F32, .ndim = 1, .shape = {1},
                          .data = &one};
        ck_assert_ok(mn_safetensors_write(tm_at("n.st"), &t, 1, NULL, 0));
        ck_assert_ok(mn_safetensors_export_npy(tm_at("n.st"), tm_at("no"), true, NULL));
        char path[600];
        snprintf(path, sizeof path, "%s/%s.npy", tm_at("no"), fine[i]);
        ck_assert_int_eq(access(path, F_OK), 0);
        ck_assert_int_eq(unlink(path), 0);
    }
}
END_TEST

/* Whether s is valid UTF-8 (no cut or stray sequence). */
static bool valid_utf8(const char *s)
{
    for (const unsigned char *u = (const unsigned char *)s; *u;) {
        int len = *u < 0x80 ? 1 : (*u & 0xe0) == 0xc0 ? 2 : (*u & 0xf0) == 0xe0 ? 3
                                 : (*u & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0)
            return false;
        for (int k = 1; k < len; k++)
            if ((u[k] & 0xc0) != 0x80)
                return false;
        u += len;
    }
    return true;
}

/* Messages about names (review-s12 #8): a refused tensor name says which
 * rule it breaks; a long name is cut at a whole UTF-8 character (70 '€'
 * gave invalid UTF-8 on stderr), a control character is escaped (one line),
 * in tensor names and folder entries alike. */
START_TEST(test_name_messages)
{
    static const float one = 1;
    char euros[70 * 3 + 1] = "";
    for (int i = 0; i < 70; i++)
        strcat(euros, "\xe2\x82\xac");
    char longname[201];
    memset(longname, 'x', 200);
    longname[200] = '\0';
    const struct {
        const char *name, *why;
    } cases[] = {
        {".hidden", "it starts with '.'"},
        {"../evil", "it starts with '.'"},
        {"a/b", "it holds '/'"},
        {"-rf", "it starts with '-'"},
        {"a\nb", "it holds a control character"},
        {longname, "it is 200 bytes or longer"},
        {euros, "it is 200 bytes or longer"},
    };
    for (int i = 0; i < 7; i++) {
        mn_st_tensor t = {.name = cases[i].name, .dtype = MN_ST_F32, .ndim = 1, .shape = {1},
                          .data = &one};
        ck_assert_ok(mn_safetensors_write(tm_at("n.st"), &t, 1, NULL, 0));
        ck_assert_refused(mn_safetensors_export_npy(tm_at("n.st"), tm_at("no"), false, NULL),
                          MN_ERR_UNSUPPORTED, cases[i].why);
        ck_assert_msg(valid_utf8(mn_last_error()), "%s", mn_last_error());
    }
    ck_assert_refused(mn_safetensors_export_npy(tm_at("n.st"), tm_at("no"), false, NULL),
                      MN_ERR_UNSUPPORTED, "tensor name '\xe2\x82\xac\xe2\x82\xac");
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "\xe2\x82\xac...' cannot be"));
    mn_st_tensor nl = {.name = "a\nb", .dtype = MN_ST_F32, .ndim = 1, .shape = {1},
                       .data = &one};
    ck_assert_ok(mn_safetensors_write(tm_at("n.st"), &nl, 1, NULL, 0));
    ck_assert_refused(mn_safetensors_export_npy(tm_at("n.st"), tm_at("no"), false, NULL),
                      MN_ERR_UNSUPPORTED, "tensor name 'a\\x0ab' cannot be a file name");
    ck_assert_int_ne(access(tm_at("no"), F_OK), 0);

    /* a folder entry: escaped too */
    write_checkpoint("ck.st", 1);
    ck_assert_int_eq(mkdir(tm_at("out"), 0777), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/odd\nname", tm_at("out"));
    tm_write_file(path, "x", 1);
    snprintf(path, sizeof path, "%s", tm_at("out"));
    ck_assert_refused(mn_safetensors_export_npy(tm_at("ck.st"), path, false, NULL), MN_ERR_IO,
                      "holds 'odd\\x0aname', which this export would not replace");
}
END_TEST

/* DIR a symbolic link to nothing (review-s12 #8): said so, not "cannot
 * create: No such file or directory"; nothing is made. */
START_TEST(test_dangling_link_as_dir)
{
    write_checkpoint("ck.st", 1);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tm_at("dangling"));
    ck_assert_int_eq(symlink("nowhere", dir), 0);
    ck_assert_refused(mn_safetensors_export_npy(tm_at("ck.st"), dir, false, NULL), MN_ERR_IO,
                      "is a symbolic link to 'nowhere', which does not exist");
    assert_about(dir, "make that folder");
    ck_assert_int_ne(access(tm_at("nowhere"), F_OK), 0);
}
END_TEST

/* The folder itself and the arguments: a regular file, a missing parent
 * (never made), a tensor name that is no file name, NULL and empty. */
START_TEST(test_refusals)
{
    write_checkpoint("ck.st", 1);
    char file[512], deep[512];
    snprintf(file, sizeof file, "%s", tm_at("file"));
    tm_write_file(file, "x", 1);
    ck_assert_refused(mn_safetensors_export_npy(tm_at("ck.st"), file, false, NULL), MN_ERR_IO,
                      "exists and is a regular file, not a directory");
    assert_about(file, "not a directory");
    snprintf(deep, sizeof deep, "%s", tm_at("missing/out"));
    ck_assert_refused(mn_safetensors_export_npy(tm_at("ck.st"), deep, false, NULL), MN_ERR_IO,
                      "/missing: No such file or directory");
    assert_about(deep, "cannot create it in");
    ck_assert_int_ne(access(tm_at("missing"), F_OK), 0);

    static const float one = 1;
    mn_st_tensor evil = {.name = "../evil", .dtype = MN_ST_F32, .ndim = 1, .shape = {1},
                         .data = &one};
    ck_assert_ok(mn_safetensors_write(tm_at("evil.st"), &evil, 1, NULL, 0));
    ck_assert_refused(mn_safetensors_export_npy(tm_at("evil.st"), tm_at("e"), false, NULL),
                      MN_ERR_UNSUPPORTED, "tensor name '../evil' cannot be a file name");
    ck_assert_int_ne(access(tm_at("e"), F_OK), 0);
    ck_assert_int_ne(access(tm_at("evil.npy"), F_OK), 0);

    ck_assert_refused(mn_safetensors_export_npy(tm_at("nope.st"), tm_at("n"), false, NULL),
                      MN_ERR_IO, "nope.st: cannot open");
    ck_assert_int_ne(access(tm_at("n"), F_OK), 0);
    ck_assert_refused(mn_safetensors_export_npy(NULL, tm_at("n"), false, NULL), MN_ERR_ARG, "path");
    ck_assert_refused(mn_safetensors_export_npy(tm_at("ck.st"), NULL, false, NULL), MN_ERR_ARG,
                      "dir");
    ck_assert_refused(mn_safetensors_export_npy(tm_at("ck.st"), "", false, NULL), MN_ERR_ARG,
                      "empty");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("npy_export");
    TCase *tc = tcase_create("npy_export");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, tm_dir_remove);
    tcase_add_test(tc, test_files_and_metadata);
    tcase_add_test(tc, test_another_checkpoint_needs_overwrite);
    tcase_add_test(tc, test_concurrent_export_refused);
    tcase_add_test(tc, test_foreign_file_leaves_folder_untouched);
    tcase_add_test(tc, test_symlink_refused);
    tcase_add_test(tc, test_stale_temporary_accepted_and_removed);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_zero_element_shapes);
    tcase_add_test(tc, test_awkward_names);
    tcase_add_test(tc, test_name_messages);
    tcase_add_test(tc, test_dangling_link_as_dir);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
