/* Checkpoints: the safetensors layout (checked byte by byte here, and by an
 * independent Python reader in check_safetensors.py), bit-identical resume
 * for every optimizer, refusals that name the difference, truncated and
 * altered files, and a writer killed with SIGKILL at random moments. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"

static void setup(void) { tm_dir_make("ckpt"); }

/* ---- a small synthetic problem ------------------------------------------------------- */

/* 96 training and 48 test rows of 8 features, 3 classes (a random linear map's argmax). */
enum { DIM = 8, CLASSES = 3 };
static mn_dataset train_set, test_set;

static void make_data(mn_dataset *d, int64_t n, uint64_t seed)
{
    mn_rng rng;
    mn_rng_seed(&rng, 7);
    double W[CLASSES][DIM];
    for (int c = 0; c < CLASSES; c++)
        for (int k = 0; k < DIM; k++)
            W[c][k] = mn_rng_normal(&rng);
    mn_rng_seed(&rng, seed);
    *d = (mn_dataset){.n = n, .dim = DIM, .n_classes = CLASSES,
                      .x = malloc((size_t)n * DIM * sizeof(float)),
                      .y = malloc((size_t)n * sizeof(int32_t))};
    for (int64_t i = 0; i < n; i++) {
        double best = -INFINITY;
        for (int k = 0; k < DIM; k++)
            d->x[i * DIM + k] = (float)mn_rng_normal(&rng);
        for (int c = 0; c < CLASSES; c++) {
            double z = 0;
            for (int k = 0; k < DIM; k++)
                z += W[c][k] * d->x[i * DIM + k];
            if (z > best) {
                best = z;
                d->y[i] = c;
            }
        }
    }
}

static mn_module *model(int64_t width)
{
    mn_module *m;
    ck_assert_ok(mn_mlp(&m, DIM, width, 3, CLASSES));
    return m;
}

/* 23 steps of batch 10 over 96 rows (9 per epoch): step 13 is mid-epoch and
 * mid-schedule (cosine after a 3-step warmup), with momentum 0.9 and decay. */
static mn_train_settings settings(const char *opt)
{
    mn_train_settings s;
    mn_train_settings_default(&s);
    s.opt = opt;
    s.steps = 23;
    s.batch = 10;
    s.seed = 5;
    s.threads = 1;
    s.schedule = MN_SCHEDULE_COSINE;
    s.warmup = 3;
    s.weight_decay = 0.01;
    s.nesterov = strcmp(opt, "sgd") == 0;
    return s;
}

enum { TOTAL = 23, STOP = 13 };

typedef struct {
    int64_t stop_at; /* return an error after this step (0: never) */
    double loss[TOTAL + 1];
    int64_t first, last;
} recorder;

static mn_status record(void *ctx, const mn_fit_step *s)
{
    recorder *r = ctx;
    if (!r->first)
        r->first = s->step;
    r->last = s->step;
    r->loss[s->step] = s->loss;
    if (r->stop_at && s->step == r->stop_at)
        return mn_set_error(MN_ERR_ARG, "stopped at step %lld", (long long)s->step);
    return MN_OK;
}

static mn_status run(const mn_train_settings *s, int64_t width, const char *path, int64_t every,
                     const char *resume, recorder *rec, mn_fit_result *res)
{
    mn_fit_callbacks cb = {.ctx = rec, .on_step = record};
    mn_checkpoint_opts ck = {.path = path, .every = every, .resume = resume};
    return mn_train_checkpointed(model(width), s, &train_set, &test_set, &cb, &ck, res);
}

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* ---- resume is bit-identical ---------------------------------------------------------- */

START_TEST(test_resume_bit_identical)
{
    static const char *const opts[] = {"muon", "sgd", "sign", "adam"};
    const char *opt = opts[_i];
    mn_train_settings s = settings(opt);
    recorder whole = {0}, first = {.stop_at = STOP}, second = {0};
    mn_fit_result rw, rf, rs;
    const char *full = tm_at("full.safetensors"), *part = tm_at("part.safetensors");
    ck_assert_ok(run(&s, 16, full, 0, NULL, &whole, &rw));
    ck_assert_int_eq(whole.last, TOTAL);
    /* Stopped after step 13, saving every step: the checkpoint is at step 13. */
    ck_assert_int_eq(run(&s, 16, part, 1, NULL, &first, &rf), MN_ERR_ARG);
    ck_assert_int_eq(first.last, STOP);
    mn_safetensors *f;
    ck_assert_ok(mn_safetensors_read(part, &f));
    ck_assert_str_eq(mn_safetensors_meta(f, "step"), "13");
    /* Mid-epoch (13 = 9 + 4 batches: 40 rows into the second epoch's order) ... */
    const mn_st_tensor *pos = mn_safetensors_find(f, "data.position"),
                       *epoch = mn_safetensors_find(f, "data.epoch");
    ck_assert_ptr_nonnull(pos);
    int64_t p, e;
    memcpy(&p, pos->data, 8);
    memcpy(&e, epoch->data, 8);
    ck_assert_int_eq(p, 40);
    ck_assert_int_eq(e, 1);
    /* ... with momentum that is not zero. */
    const mn_st_tensor *mom = mn_safetensors_find(f, "optim.2.momentum");
    ck_assert_ptr_nonnull(mom);
    float mmax = 0;
    for (size_t i = 0; i < mom->nbytes / 4; i++) {
        float x;
        memcpy(&x, (const char *)mom->data + 4 * i, 4);
        mmax = fmaxf(mmax, fabsf(x));
    }
    ck_assert_msg(mmax > 0, "%s: the momentum at step 13 is zero", opt);
    ck_assert_int_eq(mn_safetensors_find(f, "optim.0.second_moment") != NULL,
                     strcmp(opt, "adam") == 0);
    mn_safetensors_free(f);

    ck_assert_ok(run(&s, 16, part, 5, part, &second, &rs));
    ck_assert_int_eq(second.first, STOP + 1);
    ck_assert_int_eq(second.last, TOTAL);
    for (int k = 1; k <= TOTAL; k++) {
        double l = k <= STOP ? first.loss[k] : second.loss[k];
        ck_assert_msg(same_bits(l, whole.loss[k]), "%s: loss at step %d: %.17g resumed, %.17g "
                      "uninterrupted", opt, k, l, whole.loss[k]);
    }
    ck_assert(same_bits(rs.initial_loss, rw.initial_loss));
    ck_assert(same_bits(rs.train_loss, rw.train_loss));
    ck_assert(same_bits(rs.test_loss, rw.test_loss));
    ck_assert(same_bits(rs.test_acc, rw.test_acc));
    ck_assert_int_eq(rs.steps, rw.steps);
    /* The final checkpoints (weights, moments, data order, losses, metadata)
     * are the same bytes. */
    size_t la, lb;
    unsigned char *a = tm_slurp(full, &la), *b = tm_slurp(part, &lb);
    ck_assert_int_eq(la, lb);
    ck_assert_msg(memcmp(a, b, la) == 0, "%s: the resumed run's final checkpoint differs", opt);
    free(a);
    free(b);
    /* The state really moved: resuming from the final file changes nothing. */
    recorder again = {0};
    mn_fit_result ra;
    ck_assert_ok(run(&s, 16, part, 0, part, &again, &ra));
    ck_assert_int_eq(again.first, 0);
    ck_assert(same_bits(ra.train_loss, rw.train_loss));
}
END_TEST

/* ---- the layout ---------------------------------------------------------------------------- */

static uint64_t le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

START_TEST(test_layout)
{
    mn_train_settings s = settings("adam");
    s.steps = 4;
    recorder r = {0};
    mn_fit_result res;
    const char *path = tm_at("ck.safetensors");
    ck_assert_ok(run(&s, 16, path, 0, NULL, &r, &res));
    size_t len;
    unsigned char *b = tm_slurp(path, &len);
    uint64_t n = le64(b);
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_int_eq(b[8], '{');
    json_error_t err;
    json_t *h = json_loadb((const char *)b + 8, n, 0, &err);
    ck_assert_msg(h != NULL, "%s", err.text);
    static const char *const names[] = {
        "model.0.weight", "model.2.weight", "model.4.weight", "optim.0.momentum",
        "optim.2.momentum", "optim.4.momentum", "optim.0.second_moment",
        "optim.2.second_moment", "optim.4.second_moment", "optim.step", "data.permutation",
        "data.position", "data.epoch", "data.rng", "fit.losses"};
    static const char *const dtypes[] = {"F32", "F32", "F32", "F32", "F32", "F32", "F32", "F32",
                                         "F32", "I64", "I64", "I64", "I64", "U64", "F64"};
    /* Header order: __metadata__, then the tensors in the documented order,
     * their offsets contiguous from 0 to the end of the file. */
    const char *key;
    json_t *v;
    int i = -1;
    json_int_t end = 0;
    json_object_foreach(h, key, v) {
        if (i < 0) {
            ck_assert_str_eq(key, "__metadata__");
            i++;
            continue;
        }
        ck_assert_int_lt(i, 15);
        ck_assert_str_eq(key, names[i]);
        ck_assert_str_eq(json_string_value(json_object_get(v, "dtype")), dtypes[i]);
        json_t *off = json_object_get(v, "data_offsets");
        ck_assert_int_eq(json_integer_value(json_array_get(off, 0)), end);
        end = json_integer_value(json_array_get(off, 1));
        i++;
    }
    ck_assert_int_eq(i, 15);
    ck_assert_uint_eq(8 + n + (uint64_t)end, len);
    /* model.0.weight is Linear(16←8): (d_out, d_in) = (16, 8). */
    json_t *shape = json_object_get(json_object_get(h, "model.0.weight"), "shape");
    ck_assert_int_eq(json_integer_value(json_array_get(shape, 0)), 16);
    ck_assert_int_eq(json_integer_value(json_array_get(shape, 1)), 8);
    json_t *md = json_object_get(h, "__metadata__");
    static const char *const keys[] = {"format", "format_version", "settings", "threads",
                                       "model", "graph", "data", "step", "crc32"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        ck_assert_msg(json_is_string(json_object_get(md, keys[k])), "metadata %s", keys[k]);
    ck_assert_uint_eq(json_object_size(md), sizeof keys / sizeof keys[0]);
    char crc[16];
    snprintf(crc, sizeof crc, "%08lx", crc32(0, b + 8 + n, (uInt)end));
    ck_assert_str_eq(json_string_value(json_object_get(md, "crc32")), crc);
    json_t *st = json_loads(json_string_value(json_object_get(md, "settings")), 0, &err);
    ck_assert_ptr_nonnull(st);
    ck_assert_str_eq(json_string_value(json_object_get(st, "opt")), "adam");
    ck_assert(json_real_value(json_object_get(st, "lr")) == 0.001);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "total_steps")), 4);
    json_decref(st);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(md, "model")),
                                 "Linear(16←8) norm=rms-rms"));
    json_decref(h);
    free(b);
}
END_TEST

/* Whether the file at `path` has exactly the bytes `want` (len of them). */
static bool same_bytes(const char *path, const unsigned char *want, size_t len)
{
    size_t n;
    unsigned char *b = tm_slurp(path, &n);
    bool same = n == len && memcmp(b, want, len) == 0;
    free(b);
    return same;
}

/* The independent reader: struct + json + numpy, the safetensors library's rules. */
START_TEST(test_python_reader)
{
    mn_train_settings s = settings("muon");
    s.steps = 5;
    recorder r = {0};
    mn_fit_result res;
    const char *path = tm_at("py.safetensors");
    ck_assert_ok(run(&s, 16, path, 0, NULL, &r, &res));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s'", MN_PYTHON, MN_CHECK_SAFETENSORS, path);
    ck_assert_int_eq(system(cmd), 0);
    /* modnorm export writes every tensor as .npy: numpy finds them equal. */
    char out[4096];
    snprintf(cmd, sizeof cmd, "'%s' export --checkpoint '%s' --npy '%s/npy' 2>&1",
             getenv("MODNORM"), path, tm_dir);
    FILE *p = popen(cmd, "r");
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    ck_assert_msg(pclose(p) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "12 tensors written"));
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' --npy '%s/npy'", MN_PYTHON, MN_CHECK_SAFETENSORS,
             path, tm_dir);
    ck_assert_int_eq(system(cmd), 0);
    /* A tensor name that is not a file name is refused before anything is written. */
    static const float one = 1;
    mn_st_tensor evil = {.name = "../evil", .dtype = MN_ST_F32, .ndim = 1, .shape = {1},
                         .data = &one};
    ck_assert_ok(mn_safetensors_write(tm_at("evil.safetensors"), &evil, 1, NULL, 0));
    snprintf(cmd, sizeof cmd, "'%s' export --checkpoint '%s' --npy '%s/out2' 2>&1",
             getenv("MODNORM"), tm_at("evil.safetensors"), tm_dir);
    p = popen(cmd, "r");
    got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    ck_assert_int_ne(pclose(p), 0);
    ck_assert_msg(strstr(out, "tensor name '../evil' cannot be a file name"), "%s", out);
    ck_assert_int_ne(access(tm_at("evil.npy"), F_OK), 0);
    /* and it refuses a file whose data changed */
    size_t len;
    unsigned char *b = tm_slurp(path, &len);
    b[len - 1] ^= 1; /* the CRC no longer matches */
    tm_write_file(tm_at("bad.safetensors"), b, len);
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' 2>/dev/null", MN_PYTHON, MN_CHECK_SAFETENSORS,
             tm_at("bad.safetensors"));
    ck_assert_int_ne(system(cmd), 0);
    free(b);
}
END_TEST

/* export --npy DIR (review #7 and #11): an existing DIR may hold only the
 * files this export replaces, so it does not mix two checkpoints' tensors;
 * re-exporting the same file works; a missing DIR is made, its parent never. */
START_TEST(test_export_dir_rules)
{
    static const float one[2] = {1, 2}, two[2] = {3, 4};
    mn_st_tensor ab[2] = {
        {.name = "a", .dtype = MN_ST_F32, .ndim = 1, .shape = {2}, .data = one},
        {.name = "b", .dtype = MN_ST_F32, .ndim = 1, .shape = {2}, .data = one},
    };
    mn_st_tensor a_only = {.name = "a", .dtype = MN_ST_F32, .ndim = 1, .shape = {2}, .data = two};
    char ab_path[512], a_path[512], dir[512], args[2048], out[4096];
    snprintf(ab_path, sizeof ab_path, "%s", tm_at("ab.st"));
    snprintf(a_path, sizeof a_path, "%s", tm_at("a.st"));
    snprintf(dir, sizeof dir, "%s", tm_at("npy"));
    ck_assert_ok(mn_safetensors_write(ab_path, ab, 2, NULL, 0));
    ck_assert_ok(mn_safetensors_write(a_path, &a_only, 1, NULL, 0));

    snprintf(args, sizeof args, "export --checkpoint '%s' --npy '%s'", ab_path, dir);
    ck_assert_msg(tm_run_modnorm(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(tm_run_modnorm(args, out, sizeof out) == 0, "re-export: %s", out);
    size_t len;
    unsigned char *kept = tm_slurp(tm_at("npy/a.npy"), &len);
    /* a.st lacks b: b.npy would stay beside its a.npy */
    snprintf(args, sizeof args, "export --checkpoint '%s' --npy '%s'", a_path, dir);
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "--npy ") && strstr(out, "holds 'b.npy'") &&
                      strchr(out, '\n') == out + strlen(out) - 1,
                  "%s", out);
    ck_assert(same_bytes(tm_at("npy/a.npy"), kept, len)); /* nothing written */
    free(kept);
    /* the other way round every file is replaced, but it is another
     * checkpoint's export (review-s12 #2): only with --overwrite */
    ck_assert_int_eq(unlink(tm_at("npy/b.npy")), 0);
    kept = tm_slurp(tm_at("npy/a.npy"), &len);
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "--npy ") &&
                      strstr(out, "holds the export of another checkpoint (its metadata.json "
                                  "differs from this file's): refusing to replace it (use "
                                  "another folder, or add --overwrite)\n") &&
                      strchr(out, '\n') == out + strlen(out) - 1,
                  "%s", out);
    ck_assert(same_bytes(tm_at("npy/a.npy"), kept, len)); /* nothing written */
    free(kept);
    snprintf(args, sizeof args, "export --checkpoint '%s' --npy '%s' --overwrite", a_path, dir);
    ck_assert_msg(tm_run_modnorm(args, out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "export --overwrite --checkpoint '%s' --npy '%s'", ab_path, dir);
    ck_assert_msg(tm_run_modnorm(args, out, sizeof out) == 0, "%s", out);
    /* a second export into DIR while one runs (review-s12 #1): this test
     * holds the folder's lock as the first export would */
    int held = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(held, 0);
    ck_assert_int_eq(flock(held, LOCK_EX | LOCK_NB), 0);
    size_t md_len;
    unsigned char *md = tm_slurp(tm_at("npy/metadata.json"), &md_len);
    ck_assert_int_eq(unlink(tm_at("npy/metadata.json")), 0); /* replaceable but for the lock */
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "modnorm export: --npy ") &&
                      strstr(out, "is being written by another export") &&
                      strchr(out, '\n') == out + strlen(out) - 1,
                  "%s", out);
    ck_assert_int_ne(access(tm_at("npy/metadata.json"), F_OK), 0); /* nothing written */
    close(held);
    ck_assert_msg(tm_run_modnorm(args, out, sizeof out) == 0, "%s", out);
    ck_assert(same_bytes(tm_at("npy/metadata.json"), md, md_len));
    free(md);
    /* any other file is refused too */
    tm_write_file(tm_at("npy/notes.txt"), "keep", 4);
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "holds 'notes.txt'"), "%s", out);
    /* --npy naming the checkpoint itself, or a link to nothing: the
     * message names --npy (review-s12 #8) */
    snprintf(args, sizeof args, "export --checkpoint '%s' --npy '%s'", ab_path, ab_path);
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "modnorm export: --npy ") &&
                      strstr(out, "is the --checkpoint file itself"),
                  "%s", out);
    ck_assert_int_eq(symlink("nowhere", tm_at("dangling")), 0);
    snprintf(args, sizeof args, "export --checkpoint '%s' --npy '%s'", ab_path,
             tm_at("dangling"));
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "modnorm export: --npy ") &&
                      strstr(out, "dangling is a symbolic link to 'nowhere', which does not "
                                  "exist"),
                  "%s", out);
    /* a missing DIR is made, not its parent */
    snprintf(args, sizeof args, "export --checkpoint '%s' --npy '%s/missing/x'", ab_path, tm_dir);
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "/missing: No such file or directory"), "%s", out);
    ck_assert_int_ne(access(tm_at("missing"), F_OK), 0);
}
END_TEST

/* The writer and reader alone: every dtype, a scalar and an empty tensor
 * round-trip; bad arguments are refused naming them; a non-regular target
 * is not replaced. */
START_TEST(test_safetensors_roundtrip_and_writer_refusals)
{
    static const float f32[3] = {1.5f, -2, 0};
    static const double f64 = -0.25;
    static const int64_t i64[2] = {-7, INT64_MAX};
    static const uint64_t u64[1] = {UINT64_MAX};
    static const unsigned char u8[5] = {0, 1, 2, 254, 255};
    mn_st_tensor t[] = {
        {.name = "a.f32", .dtype = MN_ST_F32, .ndim = 2, .shape = {1, 3}, .data = f32},
        {.name = "b.f64", .dtype = MN_ST_F64, .ndim = 0, .data = &f64},
        {.name = "c.i64", .dtype = MN_ST_I64, .ndim = 1, .shape = {2}, .data = i64},
        {.name = "d.empty", .dtype = MN_ST_F32, .ndim = 2, .shape = {0, 4}, .data = NULL},
        {.name = "e.u64", .dtype = MN_ST_U64, .ndim = 1, .shape = {1}, .data = u64},
        {.name = "f.u8", .dtype = MN_ST_U8, .ndim = 1, .shape = {5}, .data = u8},
    };
    const mn_st_meta meta[] = {{"note", "ünïcode \"quoted\"\n"}};
    char path[512];
    snprintf(path, sizeof path, "%s", tm_at("rt.safetensors"));
    ck_assert_ok(mn_safetensors_write(path, t, 6, meta, 1));
    mn_safetensors *f;
    ck_assert_ok(mn_safetensors_read(path, &f));
    ck_assert_int_eq(mn_safetensors_count(f), 6);
    for (int i = 0; i < 6; i++) {
        const mn_st_tensor *g = mn_safetensors_at(f, i);
        ck_assert_str_eq(g->name, t[i].name);
        ck_assert_int_eq(g->dtype, t[i].dtype);
        ck_assert_int_eq(g->ndim, t[i].ndim);
        ck_assert(g->nbytes == 0 || memcmp(g->data, t[i].data, g->nbytes) == 0);
    }
    ck_assert_str_eq(mn_safetensors_meta(f, "note"), "ünïcode \"quoted\"\n");
    ck_assert_int_eq(mn_safetensors_meta_count(f), 2); /* and crc32 */
    mn_safetensors_free(f);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' --quiet", MN_PYTHON, MN_CHECK_SAFETENSORS, path);
    ck_assert_int_eq(system(cmd), 0);

    mn_st_tensor twice[2] = {t[0], t[0]};
    ck_assert_int_eq(mn_safetensors_write(path, twice, 2, NULL, 0), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "a.f32 given twice"));
    const mn_st_meta crc[] = {{"crc32", "0"}};
    ck_assert_int_eq(mn_safetensors_write(path, t, 1, crc, 1), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "crc32"));
    mn_st_tensor reserved = t[0];
    reserved.name = "__metadata__";
    ck_assert_int_eq(mn_safetensors_write(path, &reserved, 1, NULL, 0), MN_ERR_ARG);
    mn_st_tensor huge = {.name = "huge", .dtype = MN_ST_F64, .ndim = 2,
                         .shape = {INT64_C(1) << 40, INT64_C(1) << 40}, .data = f32};
    ck_assert_int_eq(mn_safetensors_write(path, &huge, 1, NULL, 0), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "huge"));
    ck_assert_int_eq(mn_safetensors_write(tm_dir, t, 1, NULL, 0), MN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "not a regular file"));
    /* The failed writes left the good file and no temporary beside it. */
    ck_assert_ok(mn_safetensors_read(path, &f));
    mn_safetensors_free(f);
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", tm_dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(mn_safetensors_read(tm_at("missing.safetensors"), &f), MN_ERR_IO);
}
END_TEST

/* ---- refusals ---------------------------------------------------------------------------- */

/* A run to restore into, as mn_train_checkpointed builds it. */
typedef struct {
    mn_network *net;
    mn_solver *solver;
    mn_batch_source src;
    double losses[64];
    mn_train_run run;
    mn_train_settings s;
} fixture;

static void fixture_make(fixture *fx, const mn_train_settings *s, int64_t width)
{
    memset(fx, 0, sizeof *fx);
    fx->s = *s;
    ck_assert_ok(mn_batch_source_dataset(&fx->src, &train_set, s->batch, s->seed));
    int64_t total = mn_train_total_steps(s, fx->src.per_epoch);
    ck_assert_int_le(total, 64);
    ck_assert_ok(mn_train_build(model(width), &fx->s, total, &fx->net, &fx->solver));
    fx->run = (mn_train_run){.settings = &fx->s, .net = fx->net, .solver = fx->solver,
                             .batcher = mn_batch_source_batcher(&fx->src),
                             .total_steps = total, .losses = fx->losses};
}

static void fixture_free(fixture *fx)
{
    mn_solver_destroy(fx->solver);
    mn_network_destroy(fx->net);
    mn_batch_source_destroy(&fx->src);
}

/* Restoring `path` into a fresh run of (s, width) fails with `status` and a
 * message containing `want`, and leaves the run as it was. */
static void refused(const char *path, const mn_train_settings *s, int64_t width,
                    mn_status status, const char *want)
{
    fixture fx;
    fixture_make(&fx, s, width);
    int64_t n = mn_network_param_count(fx.net);
    float *before = malloc((size_t)n * sizeof(float));
    memcpy(before, mn_network_weights(fx.net), (size_t)n * sizeof(float));
    int64_t pos = fx.run.batcher->pos;
    mn_status st = mn_checkpoint_load(path, &fx.run);
    ck_assert_msg(st == status, "%s: status %s, want %s: %s", want, mn_status_str(st),
                  mn_status_str(status), mn_last_error());
    ck_assert_msg(strstr(mn_last_error(), want), "'%s' lacks '%s'", mn_last_error(), want);
    ck_assert_msg(!strchr(mn_last_error(), '\n'), "not one line: %s", mn_last_error());
    ck_assert(memcmp(before, mn_network_weights(fx.net), (size_t)n * sizeof(float)) == 0);
    ck_assert_int_eq(fx.run.batcher->pos, pos);
    ck_assert_int_eq(fx.run.step, 0);
    ck_assert_int_eq(mn_solver_steps_taken(fx.solver), 0);
    free(before);
    fixture_free(&fx);
}

/* Rewrite `from` into `to` through the writer, with `edit` applied to a copy
 * of the tensors (a fresh CRC: the value checks, not the checksum, must
 * catch it). */
typedef void (*tensor_edit)(mn_st_tensor *t, int *n, void *scratch);

static void rewrite(const char *from, const char *to, tensor_edit edit)
{
    mn_safetensors *f;
    ck_assert_ok(mn_safetensors_read(from, &f));
    int n = mn_safetensors_count(f);
    mn_st_tensor t[64];
    static unsigned char scratch[1 << 16];
    ck_assert_int_lt(n, 60);
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        t[i] = *mn_safetensors_at(f, i);
        ck_assert_uint_lt(used + t[i].nbytes, sizeof scratch);
        memcpy(scratch + used, t[i].data, t[i].nbytes);
        t[i].data = scratch + used;
        used += t[i].nbytes;
    }
    edit(t, &n, scratch);
    static const char *const keys[] = {"format", "format_version", "settings", "threads",
                                       "model", "graph", "data", "step"};
    mn_st_meta meta[8];
    for (int i = 0; i < 8; i++)
        meta[i] = (mn_st_meta){keys[i], mn_safetensors_meta(f, keys[i])};
    ck_assert_ok(mn_safetensors_write(to, t, n, meta, 8));
    mn_safetensors_free(f);
}

static mn_st_tensor *named(mn_st_tensor *t, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    ck_abort_msg("no tensor %s", name);
    return NULL;
}

static void repeat_perm(mn_st_tensor *t, int *n, void *s)
{
    (void)s;
    int64_t *p = (int64_t *)named(t, *n, "data.permutation")->data;
    p[5] = p[6];
}

static void perm_out_of_range(mn_st_tensor *t, int *n, void *s)
{
    (void)s;
    ((int64_t *)named(t, *n, "data.permutation")->data)[0] = 96;
}

static void drop_rng(mn_st_tensor *t, int *n, void *s)
{
    (void)s;
    mn_st_tensor *r = named(t, *n, "data.rng");
    *r = t[--*n];
}

static void extra_tensor(mn_st_tensor *t, int *n, void *s)
{
    (void)s;
    t[*n] = t[0];
    t[*n].name = "model.9.weight";
    ++*n;
}

static void nan_weight(mn_st_tensor *t, int *n, void *s)
{
    (void)s;
    ((float *)named(t, *n, "model.2.weight")->data)[3] = NAN;
}

static void wrong_shape(mn_st_tensor *t, int *n, void *s)
{
    (void)s;
    mn_st_tensor *w = named(t, *n, "model.0.weight");
    int64_t a = w->shape[0];
    w->shape[0] = w->shape[1];
    w->shape[1] = a;
}

static void wrong_dtype(mn_st_tensor *t, int *n, void *s)
{
    (void)s;
    mn_st_tensor *w = named(t, *n, "data.epoch");
    w->dtype = MN_ST_U64;
}

static void bad_position(mn_st_tensor *t, int *n, void *s)
{
    (void)s;
    ((int64_t *)named(t, *n, "data.position")->data)[0] = 97;
}

START_TEST(test_refusals)
{
    mn_train_settings s = settings("sgd");
    recorder r = {.stop_at = 7};
    mn_fit_result res;
    char path[512], edited[512];
    snprintf(path, sizeof path, "%s", tm_at("ck.safetensors"));
    snprintf(edited, sizeof edited, "%s", tm_at("edited.safetensors"));
    ck_assert_int_eq(run(&s, 16, path, 1, NULL, &r, &res), MN_ERR_ARG);
    mn_train_settings other = s;
    other.lr = 0.5;
    refused(path, &other, 16, MN_ERR_ARG, "setting lr differs");
    other = s;
    other.seed = 6;
    refused(path, &other, 16, MN_ERR_ARG, "setting seed differs");
    other = s;
    other.opt = "muon";
    refused(path, &other, 16, MN_ERR_ARG, "setting opt differs");
    other = s;
    other.steps = 30;
    refused(path, &other, 16, MN_ERR_ARG, "setting total_steps differs");
    refused(path, &s, 32, MN_ERR_ARG, "the model differs at line 2");
    train_set.y[17] = (train_set.y[17] + 1) % CLASSES; /* another dataset of the same shape */
    refused(path, &s, 16, MN_ERR_ARG, "data fingerprint differs");
    train_set.y[17] = (train_set.y[17] + CLASSES - 1) % CLASSES;
    static const mn_atom_norm ov[] = {{1, "frobenius"}};
    other = s;
    other.atom_norms = ov;
    other.n_atom_norms = 1;
    refused(path, &other, 16, MN_ERR_ARG, "setting atom_norms differs");
    /* bf16 products round differently: precision is kept both ways. */
    other = s;
    other.polar_precision = MN_PRECISION_BF16;
    refused(path, &other, 16, MN_ERR_ARG,
            "setting precision differs: \"bf16\" here, \"fp32\" in the checkpoint");
    recorder r2 = {.stop_at = 7};
    char bf16_path[512];
    snprintf(bf16_path, sizeof bf16_path, "%s", tm_at("bf16.safetensors"));
    ck_assert_int_eq(run(&other, 16, bf16_path, 1, NULL, &r2, &res), MN_ERR_ARG);
    refused(bf16_path, &s, 16, MN_ERR_ARG,
            "setting precision differs: \"fp32\" here, \"bf16\" in the checkpoint");
    other = s;
    other.net_precision = MN_PRECISION_BF16;
    refused(path, &other, 16, MN_ERR_ARG,
            "setting net_precision differs: \"bf16\" here, \"fp32\" in the checkpoint");

    static const struct {
        tensor_edit edit;
        const char *want;
    } edits[] = {
        {repeat_perm, "data.permutation: entry 6"},
        {perm_out_of_range, "data.permutation: entry 0 (96) is outside"},
        {drop_rng, "tensor data.rng is missing"},
        {extra_tensor, "tensor model.9.weight is not part"},
        {nan_weight, "model.2.weight: entry 3 is not finite"},
        {wrong_shape, "model.0.weight has shape [8, 16]; this run's is [16, 8]"},
        {wrong_dtype, "data.epoch is U64; expected I64"},
        {bad_position, "data.position: 97 is outside [0, 96]"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        rewrite(path, edited, edits[i].edit);
        refused(edited, &s, 16, MN_ERR_FORMAT, edits[i].want);
    }
    /* The unedited rewrite restores. */
    fixture fx;
    fixture_make(&fx, &s, 16);
    ck_assert_ok(mn_checkpoint_load(path, &fx.run));
    ck_assert_int_eq(fx.run.step, 7);
    ck_assert_int_eq(mn_solver_steps_taken(fx.solver), 7);
    fixture_free(&fx);
}
END_TEST

/* Every truncation and many single-byte changes are refused, one line each,
 * without a crash (ASan and UBSan watch this test too). */
START_TEST(test_truncated_and_altered)
{
    mn_train_settings s = settings("adam");
    recorder r = {.stop_at = 3};
    mn_fit_result res;
    const char *path = tm_at("ck.safetensors");
    ck_assert_int_eq(run(&s, 4, path, 1, NULL, &r, &res), MN_ERR_ARG);
    size_t len;
    unsigned char *b = tm_slurp(path, &len);
    fixture fx;
    fixture_make(&fx, &s, 4);
    for (size_t cut = 0; cut < len; cut += cut < 64 ? 1 : 7) {
        mn_safetensors *f = NULL;
        mn_status st = mn_safetensors_parse(b, cut, "cut", &f);
        ck_assert_msg(st == MN_ERR_FORMAT, "a file cut to %zu of %zu bytes was %s", cut, len,
                      mn_status_str(st));
        ck_assert_ptr_null(f);
    }
    mn_rng rng;
    mn_rng_seed(&rng, 11);
    int refused_n = 0;
    const uint64_t header_end = 8 + le64(b);
    for (int trial = 0; trial < 3000; trial++) {
        size_t i = (size_t)mn_rng_below(&rng, len);
        unsigned char old = b[i];
        b[i] ^= (unsigned char)(1 + mn_rng_below(&rng, 255));
        mn_safetensors *f = NULL;
        mn_status st = mn_safetensors_parse(b, len, "altered", &f);
        if (st == MN_OK) {
            st = mn_checkpoint_restore(f, &fx.run);
            mn_safetensors_free(f);
        }
        /* A change in the data is caught by the CRC; in the header by the
         * parser or the checks (a change inside padding or a number's
         * spelling may leave an equal file: then it must restore). */
        if (i >= header_end || i < 8)
            ck_assert_msg(st != MN_OK, "a change at byte %zu was not noticed", i);
        refused_n += st != MN_OK;
        b[i] = old;
    }
    ck_assert_int_gt(refused_n, 2900);
    fixture_free(&fx);
    free(b);
}
END_TEST

/* ---- a writer killed at random moments -------------------------------------------------- */

/* A file that is not safetensors at all (a text file, an .npy) is called
 * that: its first 8 bytes read as a header length used to be reported as
 * "header length 3475222254926655346 is over the limit". A real header that
 * is too long still gets the limit's message. */
START_TEST(test_not_a_safetensors_file)
{
    static const char text[] = "root:x:0:0:root:/root:/bin/bash\n";
    const char *path = tm_at("passwd");
    tm_write_file(path, text, sizeof text - 1);
    mn_checkpoint_model m;
    ck_assert_refused(mn_checkpoint_open_model(path, 1, &m), MN_ERR_FORMAT,
                      "passwd: not a safetensors file");
    mn_safetensors *f = NULL;
    static const char npy[] = "\x93NUMPY\x01\x00v\x00{'descr': '<f4'}";
    ck_assert_refused(mn_safetensors_parse(npy, sizeof npy - 1, "x.npy", &f), MN_ERR_FORMAT,
                      "x.npy: not a safetensors file");
    unsigned char big[16] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{', '"'};
    ck_assert_refused(mn_safetensors_parse(big, sizeof big, "big", &f), MN_ERR_FORMAT,
                      "over the limit");
    ck_assert_ptr_null(f);
}
END_TEST

/* Entries of `dir` whose name begins with `prefix`. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

START_TEST(test_killed_writer_leaves_a_good_file)
{
    mn_train_settings s = settings("adam");
    const char *path = tm_at("kill.safetensors");
    fixture fx;
    fixture_make(&fx, &s, 64); /* ~50 KB per checkpoint */
    ck_assert_ok(mn_checkpoint_save(path, &fx.run));
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    mn_rng rng;
    mn_rng_seed(&rng, (uint64_t)now.tv_nsec);
    int loaded = 0;
    for (int round = 0; round < 25; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) { /* the writer: a new state, saved, over and over */
            float *w = mn_network_weights(fx.net);
            for (int64_t k = 0;; k++) {
                w[k % mn_network_param_count(fx.net)] += 1;
                fx.run.step = k % (fx.run.total_steps + 1);
                mn_solver_set_steps_taken(fx.solver, fx.run.step);
                if (mn_checkpoint_save(path, &fx.run) != MN_OK)
                    _exit(3);
            }
        }
        struct timespec d = {0, (long)(1000000 + mn_rng_below(&rng, 30000000))};
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status), "the writer ended by itself (status %d)", status);
        fixture back;
        fixture_make(&back, &s, 64);
        mn_status st = mn_checkpoint_load(path, &back.run);
        ck_assert_msg(st == MN_OK, "round %d: %s", round, mn_last_error());
        loaded++;
        fixture_free(&back);
    }
    ck_assert_int_eq(loaded, 25);
    /* The killed writers' temporaries (review #12) go at the next save. */
    ck_assert_ok(mn_checkpoint_save(path, &fx.run));
    ck_assert_int_eq(count_prefixed(tm_dir, "kill.safetensors.tmp"), 0);
    fixture_free(&fx);
}
END_TEST

/* Only PATH's own temporaries of writers that are gone are removed: not a
 * live process's, not another path's, not a name that merely looks alike,
 * not a directory. */
START_TEST(test_stale_temporaries_removed)
{
    pid_t dead = tm_dead_pid();
    char name[256];
    static const char *const kept[] = {"ck.st.tmp%ld", "ck.st.tmp%ld.", "ck.st.tmp%ld.3x",
                                       "ck.st.tmp%ld.3.4", "ck.st.tmpx%ld.3", "other.st.tmp%ld.1",
                                       "ck.stx.tmp%ld.1"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        snprintf(name, sizeof name, kept[i], (long)dead);
        tm_write_file(tm_at(name), "x", 1);
    }
    snprintf(name, sizeof name, "ck.st.tmp%ld.9", (long)dead);
    ck_assert_int_eq(mkdir(tm_at(name), 0777), 0);  /* not a regular file: kept */
    snprintf(name, sizeof name, "ck.st.tmp%ld.0", (long)getppid());
    tm_write_file(tm_at(name), "live", 4);          /* a live writer's: kept */
    snprintf(name, sizeof name, "ck.st.tmp%ld.0", (long)dead);
    tm_write_file(tm_at(name), "dead", 4);
    snprintf(name, sizeof name, "ck.st.tmp%ld.17", (long)dead);
    tm_write_file(tm_at(name), "dead", 4);
    ck_assert_int_eq(count_prefixed(tm_dir, "ck.st.tmp"), 9);
    static const float one = 1;
    mn_st_tensor t = {.name = "w", .dtype = MN_ST_F32, .ndim = 1, .shape = {1}, .data = &one};
    ck_assert_ok(mn_safetensors_write(tm_at("ck.st"), &t, 1, NULL, 0));
    ck_assert_int_eq(count_prefixed(tm_dir, "ck.st.tmp"), 7); /* the two dead ones went */
    ck_assert_int_eq(count_prefixed(tm_dir, "other.st.tmp"), 1);
    ck_assert_int_eq(count_prefixed(tm_dir, "ck.stx.tmp"), 1);
    snprintf(name, sizeof name, "ck.st.tmp%ld.0", (long)getppid());
    ck_assert_int_eq(access(tm_at(name), F_OK), 0);
}
END_TEST

/* export --npy DIR checks every file it would write before the first write
 * (review 2, #4 and #5): a symbolic link under a written name is refused,
 * not written through (its target outside DIR is kept); the temporaries
 * of the names it writes left by a killed export are accepted and removed,
 * anything else still refused; an export that fails part-way (a full disk:
 * here a file-size limit) leaves each file whole and no metadata.json. */
START_TEST(test_export_checks_targets_first)
{
    static const float one[2] = {1, 2};
    static float big[16384]; /* 64 KB: over the limit below */
    mn_st_tensor ab[2] = {
        {.name = "a", .dtype = MN_ST_F32, .ndim = 1, .shape = {2}, .data = one},
        {.name = "b", .dtype = MN_ST_F32, .ndim = 1, .shape = {16384}, .data = big},
    };
    mn_st_meta meta = {.key = "note", .value = "first"};
    char ab_path[512], dir[512], args[2048], out[4096], name[1100];
    snprintf(ab_path, sizeof ab_path, "%s", tm_at("tab.st"));
    snprintf(dir, sizeof dir, "%s", tm_at("tnpy"));
    ck_assert_ok(mn_safetensors_write(ab_path, ab, 2, &meta, 1));
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    snprintf(args, sizeof args, "export --checkpoint '%s' --npy '%s'", ab_path, dir);

    /* a link under a written name, to a file outside DIR (or to nothing) */
    static const char *const linked[] = {"a.npy", "metadata.json"};
    for (int i = 0; i < 2; i++) {
        tm_write_file(tm_at("victim.txt"), "precious", 8);
        snprintf(name, sizeof name, "%s/%s", dir, linked[i]);
        ck_assert_int_eq(symlink(tm_at("victim.txt"), name), 0);
        ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
        ck_assert_msg(strstr(out, linked[i]) && strstr(out, "is a symbolic link") &&
                          strchr(out, '\n') == out + strlen(out) - 1,
                      "%s", out);
        ck_assert(same_bytes(tm_at("victim.txt"), (const unsigned char *)"precious", 8));
        ck_assert_int_eq(count_prefixed(dir, ""), 3); /* ".", ".." and the link: nothing written */
        unlink(name);
    }
    snprintf(name, sizeof name, "%s/b.npy", dir);
    ck_assert_int_eq(symlink(tm_at("nowhere"), name), 0); /* dangling */
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "'b.npy' is a symbolic link"), "%s", out);
    ck_assert_int_ne(access(tm_at("nowhere"), F_OK), 0);
    unlink(name);

    /* a killed export's temporaries of names it writes: accepted, then removed */
    pid_t dead = tm_dead_pid();
    static const char *const stale[] = {"a.npy.tmp%ld.3", "metadata.json.tmp%ld.0"};
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s/", dir);
        snprintf(name + strlen(name), sizeof name - strlen(name), stale[i], (long)dead);
        tm_write_file(name, "part", 4);
    }
    ck_assert_msg(tm_run_modnorm(args, out, sizeof out) == 0, "%s", out);
    ck_assert_int_eq(count_prefixed(dir, "a.npy.tmp"), 0);
    ck_assert_int_eq(count_prefixed(dir, "metadata.json.tmp"), 0);
    /* ... but not another name's, nor a live writer's */
    static const char *const refused[] = {"c.npy.tmp%ld.1", "a.npy.tmp%ld.2"};
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s/", dir);
        snprintf(name + strlen(name), sizeof name - strlen(name), refused[i],
                 (long)(i == 0 ? dead : getppid()));
        tm_write_file(name, "part", 4);
        ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
        ck_assert_msg(strstr(out, strrchr(name, '/') + 1), "%s", out);
        ck_assert_int_eq(unlink(name), 0);
    }

    /* a failure part-way: a.npy is new, b.npy (over the limit) the old one,
     * and metadata.json is gone rather than describing the old checkpoint */
    static const float other[2] = {5, 6};
    ab[0].data = other;
    meta.value = "second";
    ck_assert_ok(mn_safetensors_write(ab_path, ab, 2, &meta, 1));
    size_t old_len;
    unsigned char *old_b = tm_slurp(tm_at("tnpy/b.npy"), &old_len);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "ulimit -f 16; trap '' XFSZ; exec '%s' %s --overwrite 2>&1",
             getenv("MODNORM"), args);
    ck_assert_int_eq(tm_run_shell(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "b.npy: cannot write"), "%s", out);
    ck_assert(same_bytes(tm_at("tnpy/b.npy"), old_b, old_len));
    free(old_b);
    mn_mat m;
    ck_assert_ok(mn_npy_read(tm_at("tnpy/a.npy"), &m));
    ck_assert_double_eq(mn_mat_get(&m, 0, 0), 5);
    mn_mat_free(&m);
    ck_assert_int_ne(access(tm_at("tnpy/metadata.json"), F_OK), 0);
    ck_assert_int_eq(count_prefixed(dir, ""), 4); /* ., .., a.npy, b.npy: no temporary */
    /* and the rerun completes it */
    ck_assert_msg(tm_run_modnorm(args, out, sizeof out) == 0, "%s", out);
    json_error_t jerr;
    json_t *md = json_load_file(tm_at("tnpy/metadata.json"), 0, &jerr);
    ck_assert_ptr_nonnull(md);
    ck_assert_str_eq(json_string_value(json_object_get(md, "note")), "second");
    json_decref(md);
}
END_TEST

/* ---- through the binary: kill -9 and resume -------------------------------------------- */

/* DIR/tiny: a Fashion-MNIST-shaped folder of 256 training and 64 test images. */
static const char *make_tiny_data(void)
{
    static char tiny[512];
    snprintf(tiny, sizeof tiny, "%s/tiny", tm_dir);
    tm_write_tiny_fashion(tiny, 256, 64);
    return tiny;
}

/* The last line, timings cut off. */
static const char *result_line(char *out)
{
    char *end = out + strlen(out);
    while (end > out && end[-1] == '\n')
        *--end = '\0';
    char *last = strrchr(out, '\n');
    last = last ? last + 1 : out;
    char *t = strstr(last, "\"seconds\"");
    if (t)
        *t = '\0';
    return last;
}

START_TEST(test_cli_kill_and_resume)
{
    const char *tiny = make_tiny_data();
    static const char *const opts[] = {"muon", "sgd", "sign", "adam"};
    const char *opt = opts[_i];
    char common[1024], args[2048];
    static char out_a[1 << 16], out_b[1 << 16];
    snprintf(common, sizeof common, "train --data-dir '%s' --steps 120 --width 128 --batch 16 "
             "--threads 1 --json --opt %s --schedule cosine --warmup 4 --wd 0.01", tiny, opt);
    const char *full = tm_at("full.safetensors"), *part = tm_at("part.safetensors");
    snprintf(args, sizeof args, "%s --checkpoint '%s'", common, full);
    ck_assert_msg(tm_run_modnorm(args, out_a, sizeof out_a) == 0, "%s", out_a);
    /* The same run, saving every 3 steps, killed with SIGKILL once a
     * checkpoint exists, at a random moment after it. */
    snprintf(args, sizeof args, "exec '%s' %s --checkpoint '%s' --save-every 3 >/dev/null 2>&1",
             getenv("MODNORM"), common, part);
    pid_t pid = tm_spawn_until_file(args, part, 200);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    usleep((useconds_t)(now.tv_nsec / 1000 % 150000));
    kill(pid, SIGKILL);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    mn_safetensors *f;
    ck_assert_ok(mn_safetensors_read(part, &f));
    fprintf(stderr, "%s: killed (%s) with the checkpoint at step %s of 120\n", opt,
            WIFSIGNALED(status) ? "SIGKILL" : "it had finished", mn_safetensors_meta(f, "step"));
    mn_safetensors_free(f);
    /* A different setting is refused, naming it. */
    snprintf(args, sizeof args, "%s --lr 0.0123 --resume '%s'", common, part);
    ck_assert_int_eq(tm_run_modnorm(args, out_b, sizeof out_b), 1);
    ck_assert_msg(strstr(out_b, "setting lr differs: 0.0123 here"), "%s", out_b);
    snprintf(args, sizeof args, "%s --resume '%s' --checkpoint '%s' --save-every 5", common,
             part, part);
    ck_assert_msg(tm_run_modnorm(args, out_b, sizeof out_b) == 0, "%s", out_b);
    ck_assert_str_eq(result_line(out_b), result_line(out_a));
    size_t la, lb;
    unsigned char *a = tm_slurp(full, &la), *b = tm_slurp(part, &lb);
    ck_assert_msg(la == lb && memcmp(a, b, la) == 0,
                  "%s: the resumed run's final checkpoint differs from the uninterrupted one's",
                  opt);
    free(a);
    free(b);
}
END_TEST

/* Finding 1 of the review: a run that does not continue the checkpoint at
 * --checkpoint PATH refuses to start (one line, exit 1, the file as it
 * was), also when it would have diverged and saved every step; --resume
 * PATH continues it, under another spelling too; --resume A --checkpoint B
 * keeps an existing B; --overwrite replaces a checkpoint, never another file. */
START_TEST(test_cli_checkpoint_not_replaced)
{
    const char *tiny = make_tiny_data();
    char common[1024], args[4096], run[512], other[512];
    static char out[1 << 16];
    snprintf(common, sizeof common, "train --data-dir '%s' --steps 6 --width 16 --batch 16 "
             "--threads 1", tiny);
    snprintf(run, sizeof run, "%s", tm_at("run.st"));
    snprintf(other, sizeof other, "%s", tm_at("other.st"));
    snprintf(args, sizeof args, "%s --checkpoint '%s'", common, run);
    ck_assert_msg(tm_run_modnorm(args, out, sizeof out) == 0, "%s", out);
    size_t len;
    unsigned char *kept = tm_slurp(run, &len);

    /* a new run that diverges, saving every step: refused before training */
    snprintf(args, sizeof args, "%s --opt sgd --lr 1e5 --save-every 1 --checkpoint '%s'", common,
             run);
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "--checkpoint ") && strstr(out, "holds a modnorm checkpoint "
                                                           "(step 6 of 6, opt muon)") &&
                      strstr(out, "--resume ") && strstr(out, "--overwrite") &&
                      strchr(out, '\n') == out + strlen(out) - 1,
                  "%s", out);
    ck_assert(same_bytes(run, kept, len));
    /* the same settings without --resume: a fresh start, refused too */
    snprintf(args, sizeof args, "%s --checkpoint '%s'", common, run);
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
    ck_assert(same_bytes(run, kept, len));

    /* --resume PATH continues it (a finished run: saved again, the same bytes),
     * also when --checkpoint spells PATH another way */
    snprintf(args, sizeof args, "%s --resume '%s' --checkpoint '%s/./run.st'", common, run,
             tm_dir);
    ck_assert_msg(tm_run_modnorm(args, out, sizeof out) == 0, "%s", out);
    ck_assert(same_bytes(run, kept, len));

    /* --resume A --checkpoint B: a new B is made; an existing B is kept */
    snprintf(args, sizeof args, "%s --resume '%s' --checkpoint '%s'", common, run, other);
    ck_assert_msg(tm_run_modnorm(args, out, sizeof out) == 0, "%s", out);
    ck_assert(same_bytes(other, kept, len));
    snprintf(args, sizeof args, "train --data-dir '%s' --steps 3 --width 16 --batch 16 "
             "--threads 1 --checkpoint '%s' --overwrite", tiny, other);
    ck_assert_msg(tm_run_modnorm(args, out, sizeof out) == 0, "%s", out);
    size_t olen;
    unsigned char *other_kept = tm_slurp(other, &olen);
    snprintf(args, sizeof args, "%s --resume '%s' --checkpoint '%s'", common, run, other);
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "(step 3 of 3, opt muon)") && strstr(out, "resumes from another "
                                                                     "file") &&
                      strchr(out, '\n') == out + strlen(out) - 1,
                  "%s", out);
    ck_assert(same_bytes(other, other_kept, olen));
    free(other_kept);

    /* --overwrite: another run replaces it */
    snprintf(args, sizeof args, "%s --opt sgd --checkpoint '%s' --overwrite", common, run);
    ck_assert_msg(tm_run_modnorm(args, out, sizeof out) == 0, "%s", out);
    mn_safetensors *f;
    ck_assert_ok(mn_safetensors_read(run, &f));
    ck_assert_ptr_nonnull(strstr(mn_safetensors_meta(f, "settings"), "\"opt\":\"sgd\""));
    mn_safetensors_free(f);
    /* ... but not by a run judged diverged with finite losses (review 2, #7):
     * like one whose loss became non-finite, it makes no final save */
    unsigned char *sgd_kept = tm_slurp(run, &len);
    snprintf(args, sizeof args, "train --data-dir '%s' --steps 10 --width 16 --batch 16 "
             "--threads 1 --lr 1024 --checkpoint '%s' --overwrite", tiny, run);
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 3);
    ck_assert_msg(strstr(out, "is above 2 x the first step's loss") && !strstr(out, "non-finite"),
                  "%s", out);
    ck_assert(same_bytes(run, sgd_kept, len));
    free(sgd_kept);
    /* ... but never a file that is not a checkpoint; and it needs --checkpoint */
    tm_write_file(tm_at("notes.txt"), "keep", 4);
    snprintf(args, sizeof args, "%s --checkpoint '%s' --overwrite", common, tm_at("notes.txt"));
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "is not a modnorm checkpoint"), "%s", out);
    ck_assert(same_bytes(tm_at("notes.txt"), (const unsigned char *)"keep", 4));
    snprintf(args, sizeof args, "%s --overwrite", common);
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "--overwrite needs --checkpoint"), "%s", out);

    /* Exit codes (review-s11 #22): 2 only for a command line wrong in
     * itself; what a file holds or is, 1. A directory as --checkpoint, a
     * file that is not a checkpoint (above) and a --resume whose settings
     * differ are all 1; --overwrite without --checkpoint (above) is 2. */
    snprintf(args, sizeof args, "%s --checkpoint '%s'", common, tm_dir);
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "not a regular file"), "%s", out);
    snprintf(args, sizeof args, "%s --resume '%s' --checkpoint '%s'", common, run, run);
    ck_assert_int_eq(tm_run_modnorm(args, out, sizeof out), 1); /* it holds an sgd run */
    ck_assert_msg(strstr(out, "cannot resume: setting opt differs"), "%s", out);
    free(kept);
}
END_TEST

/* Every reader refuses a FIFO at once instead of waiting in open() for a
 * writer (review-s12 #12), and a pipe too (`--graph <(...)`, /dev/stdin
 * fed by a pipe): one rule, regular files only. `timeout` turns a hang
 * into exit 124. */
START_TEST(test_fifo_inputs_refused_at_once)
{
    char ff[512], args[2048], out[4096];
    snprintf(ff, sizeof ff, "%s", tm_at("ff"));
    ck_assert_int_eq(mkfifo(ff, 0600), 0);
    alarm(60);
    mn_safetensors *f = NULL;
    ck_assert_refused(mn_safetensors_read(ff, &f), MN_ERR_IO, "not a regular file");
    mn_graph_file *g = NULL;
    ck_assert_refused(mn_graph_load(&g, ff), MN_ERR_IO, "it is a pipe or FIFO, not a regular");
    ck_assert_refused(mn_graph_load(&g, "/dev/null"), MN_ERR_IO, "it is a device, not a regular");
    alarm(0);
    const struct {
        const char *args, *says;
    } cases[] = {
        {"norm --norm linf '%s'", "not a regular file"},
        {"dualize --norm spectral '%s' out.npy", "not a regular file"},
        {"inspect --graph '%s'", "not a regular file"},
        {"train --resume '%s' --width 8 --steps 1", "not a regular file"},
        {"export --checkpoint '%s' --npy y", "not a regular file"},
        {"sample --checkpoint '%s' --prompt a", "not a regular file"},
    };
    const char *exe = getenv("MODNORM");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[4096];
        snprintf(args, sizeof args, cases[i].args, ff);
        snprintf(cmd, sizeof cmd, "cd '%s' && timeout 20 '%s' %s 2>&1", tm_dir, exe, args);
        ck_assert_msg(tm_run_shell(cmd, out, sizeof out) == 1 && strstr(out, cases[i].says) &&
                          strchr(out, '\n') == out + strlen(out) - 1,
                      "%s: %s", args, out);
    }
    ck_assert_int_ne(access(tm_at("y"), F_OK), 0);
    ck_assert_int_ne(access(tm_at("out.npy"), F_OK), 0);
    /* a pipe with content: refused as well */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "printf 'Linear(10, 784)\\n' | timeout 20 '%s' inspect --graph "
             "/dev/stdin 2>&1", exe);
    ck_assert_msg(tm_run_shell(cmd, out, sizeof out) == 1 &&
                      strstr(out, "/dev/stdin: it is a pipe or FIFO, not a regular file"),
                  "%s", out);
}
END_TEST

int main(void)
{
    make_data(&train_set, 96, 1);
    make_data(&test_set, 48, 2);
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, tm_dir_remove);
    tcase_add_loop_test(tc, test_resume_bit_identical, 0, 4);
    tcase_add_test(tc, test_layout);
    tcase_add_test(tc, test_safetensors_roundtrip_and_writer_refusals);
    tcase_add_test(tc, test_python_reader);
    tcase_add_test(tc, test_export_dir_rules);
    tcase_add_test(tc, test_export_checks_targets_first);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_truncated_and_altered);
    tcase_add_test(tc, test_not_a_safetensors_file);
    tcase_add_test(tc, test_killed_writer_leaves_a_good_file);
    tcase_add_test(tc, test_stale_temporaries_removed);
    tcase_add_loop_test(tc, test_cli_kill_and_resume, 0, 4);
    tcase_add_test(tc, test_cli_checkpoint_not_replaced);
    tcase_add_test(tc, test_fifo_inputs_refused_at_once);
    suite_add_tcase(s, tc);
    int rc = tm_run_suite(s);
    mn_dataset_free(&train_set);
    mn_dataset_free(&test_set);
    return rc;
}
