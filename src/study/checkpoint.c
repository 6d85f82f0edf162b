/* Checkpoints of a training run (see modnorm/checkpoint.h): what a run's
 * state is as safetensors tensors and metadata, the checks before a resume,
 * and the fit loop with saving. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "modnorm/checkpoint.h"
#include "modnorm/graph.h"
#include "study/checkpoint_dist.h"

#define MAX_DEPTH 256
#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17) | JSON_ENCODE_ANY)

/* ---- names: each atom's path in the module tree --------------------------------- */

typedef struct {
    char **paths; /* per atom: "0", "1.0.2", "" for a root atom */
    int n;
    int64_t next[MAX_DEPTH + 2];
    int64_t idx[MAX_DEPTH + 1];
} namer;

static mn_status name_atom(void *ctx, const mn_module_visit *v)
{
    namer *nm = ctx;
    if (v->depth > MAX_DEPTH)
        return mn_fail(MN_ERR_ARG, "checkpoint: the module tree is deeper than %d", MAX_DEPTH);
    if (v->depth > 0)
        nm->idx[v->depth] = nm->next[v->depth]++;
    nm->next[v->depth + 1] = 0;
    if (v->atom < 0)
        return MN_OK;
    size_t cap = (size_t)v->depth * 21 + 1, used = 0;
    char *p = malloc(cap);
    if (!p)
        return mn_fail(MN_ERR_NOMEM, "checkpoint: out of memory");
    p[0] = '\0';
    for (int d = 1; d <= v->depth; d++)
        used += (size_t)snprintf(p + used, cap - used, "%s%lld", d > 1 ? "." : "",
                                 (long long)nm->idx[d]);
    nm->paths[v->atom] = p;
    return MN_OK;
}

static void free_paths(char **paths, int n)
{
    for (int i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
}

static mn_status atom_paths(const mn_network *net, char ***out)
{
    int n = mn_network_atom_count(net);
    namer nm = {.paths = calloc((size_t)n + 1, sizeof(char *)), .n = n};
    if (!nm.paths)
        return mn_fail(MN_ERR_NOMEM, "checkpoint: out of memory");
    mn_status st = mn_network_visit(net, name_atom, &nm);
    if (st != MN_OK) {
        free_paths(nm.paths, n);
        return st;
    }
    *out = nm.paths;
    return MN_OK;
}

/* "PREFIX.PATH.SUFFIX" (no PATH part for a root atom). */
static char *tensor_name(const char *prefix, const char *path, const char *suffix)
{
    size_t cap = strlen(prefix) + strlen(path) + strlen(suffix) + 3;
    char *s = malloc(cap);
    if (s)
        snprintf(s, cap, "%s%s%s.%s", prefix, *path ? "." : "", path, suffix);
    return s;
}

/* ---- the tensors of a run ------------------------------------------------------------- */

typedef struct {
    mn_st_tensor *t;
    char **names; /* owned, per tensor */
    int n, cap;
    /* the scalars' storage */
    int64_t step, position, epoch;
} tensor_list;

static void list_free(tensor_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->t);
}

static mn_status list_add(tensor_list *l, char *name, mn_st_dtype dt, int ndim, const int64_t *shape,
                          const void *data)
{
    if (!name)
        return mn_fail(MN_ERR_NOMEM, "checkpoint: out of memory");
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        mn_st_tensor *t = realloc(l->t, (size_t)cap * sizeof *t);
        if (t)
            l->t = t;
        char **names = t ? realloc(l->names, (size_t)cap * sizeof *names) : NULL;
        if (!names) {
            free(name);
            return mn_fail(MN_ERR_NOMEM, "checkpoint: out of memory");
        }
        l->names = names;
        l->cap = cap;
    }
    mn_st_tensor *t = &l->t[l->n];
    *t = (mn_st_tensor){.name = name, .dtype = dt, .ndim = ndim, .data = data};
    for (int d = 0; d < ndim; d++)
        t->shape[d] = shape[d];
    l->names[l->n++] = name;
    return MN_OK;
}

/* Atom k's block of a weight-shaped buffer, and its storage shape. */
static const float *atom_block(const mn_network *net, int k, const float *buf, int64_t shape[2])
{
    mn_mat v = mn_network_atom_view(net, k, (float *)buf);
    bool row_major = v.cs == 1 && (v.rs == v.cols || v.rows == 1);
    shape[0] = row_major ? v.rows : v.cols;
    shape[1] = row_major ? v.cols : v.rows;
    return v.data;
}

/* Every tensor of the run, in the documented order, pointing at the run's
 * own buffers (`losses` and the scalars at l's storage). */
static mn_status run_tensors(const mn_train_run *run, tensor_list *l)
{
    mn_network *net = run->net;
    char **paths;
    MN_TRY(atom_paths(net, &paths));
    int na = mn_network_atom_count(net);
    const float *w = mn_network_weights(net), *m = mn_solver_momentum(run->solver),
                *v = mn_solver_second_moment(run->solver);
    mn_status st = MN_OK;
    static const char *const prefix[3] = {"model", "optim", "optim"};
    static const char *const suffix[3] = {"weight", "momentum", "second_moment"};
    const float *buf[3] = {w, m, v};
    for (int part = 0; part < 3 && st == MN_OK; part++)
        for (int k = 0; k < na && st == MN_OK && buf[part]; k++) {
            int64_t shape[2];
            const float *p = atom_block(net, k, buf[part], shape);
            st = list_add(l, tensor_name(prefix[part], paths[k], suffix[part]), MN_ST_F32, 2,
                          shape, p);
        }
    free_paths(paths, na);
    const mn_batcher *b = run->batcher;
    l->step = run->step;
    l->position = b->pos;
    l->epoch = b->epoch;
    int64_t n = b->data->n, four = 4, k = run->step;
    if (st == MN_OK)
        st = list_add(l, strdup("optim.step"), MN_ST_I64, 0, NULL, &l->step);
    if (st == MN_OK)
        st = list_add(l, strdup("data.permutation"), MN_ST_I64, 1, &n, b->perm);
    if (st == MN_OK)
        st = list_add(l, strdup("data.position"), MN_ST_I64, 0, NULL, &l->position);
    if (st == MN_OK)
        st = list_add(l, strdup("data.epoch"), MN_ST_I64, 0, NULL, &l->epoch);
    if (st == MN_OK)
        st = list_add(l, strdup("data.rng"), MN_ST_U64, 1, &four, b->rng.s);
    if (st == MN_OK)
        st = list_add(l, strdup("fit.losses"), MN_ST_F64, 1, &k, run->losses);
    return st;
}

/* ---- metadata ------------------------------------------------------------------------- */

static const char *schedule_word(mn_schedule s)
{
    return s == MN_SCHEDULE_CONSTANT ? "constant" : s == MN_SCHEDULE_COSINE ? "cosine" : "linear";
}

/* The settings that decide the result, resolved (the preset's lr and momentum
 * when not given), as a JSON object. */
static mn_status settings_json(const mn_train_run *run, json_t **out)
{
    const mn_train_settings *s = run->settings;
    mn_solver_config cfg;
    MN_TRY(mn_train_solver_config(s, run->total_steps, &cfg));
    json_t *norms = json_array();
    for (int i = 0; norms && i < s->n_atom_norms; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%d=%s", s->atom_norms[i].atom, s->atom_norms[i].norm);
        json_array_append_new(norms, json_string(buf));
    }
    json_t *o = norms ? json_pack(
        "{s:s, s:s, s:f, s:f, s:b, s:f, s:s, s:I, s:s, s:I, s:I, s:I, s:o}", "opt", s->opt,
        "param", s->param == MN_PARAM_SP ? "sp" : "modular", "lr", cfg.lr, "momentum",
        cfg.momentum, "nesterov", (int)s->nesterov, "weight_decay", s->weight_decay, "schedule",
        schedule_word(s->schedule), "warmup", (json_int_t)s->warmup, "method",
        s->polar_method ? s->polar_method : MN_FIT_DEFAULT_POLAR, "total_steps",
        (json_int_t)run->total_steps, "batch", (json_int_t)s->batch, "seed",
        (json_int_t)s->seed, "atom_norms", norms) : NULL;
    /* bf16 products round differently: a resume must keep them. Only bf16
     * runs carry the key, so fp32 checkpoints from before it stay valid. */
    if (o && s->polar_precision == MN_PRECISION_BF16 &&
        json_object_set_new(o, "precision", json_string("bf16")) != 0) {
        json_decref(o);
        o = NULL;
    }
    if (o && s->net_precision == MN_PRECISION_BF16 &&
        json_object_set_new(o, "net_precision", json_string("bf16")) != 0) {
        json_decref(o);
        o = NULL;
    }
    if (!o)
        return mn_fail(MN_ERR_NOMEM, "checkpoint: out of memory for the settings");
    *out = o;
    return MN_OK;
}

/* A fingerprint of a dataset, cheap enough for every save: zlib's CRC-32 of
 * all its labels and of 4096 features spread evenly over x, as 8 hex digits.
 * Another dataset of the same size is told apart (resuming on it would not
 * continue the run). */
static void data_fingerprint(const mn_dataset *d, char out[9])
{
    uLong crc = crc32(0L, Z_NULL, 0);
    int64_t labels = d->n * mn_dataset_labels_per_row(d);
    if (d->y)
        for (int64_t i = 0; i < labels; i += 1 << 20) {
            int64_t m = labels - i < (1 << 20) ? labels - i : (1 << 20);
            crc = crc32(crc, (const Bytef *)(d->y + i), (uInt)(m * (int64_t)sizeof *d->y));
        }
    uint64_t count = (uint64_t)d->n * (uint64_t)d->dim, samples = count < 4096 ? count : 4096;
    uint64_t stride = samples ? count / samples : 1;
    for (uint64_t k = 0; k < samples; k++) {
        float x = d->x[k * stride];
        crc = crc32(crc, (const Bytef *)&x, sizeof x);
    }
    snprintf(out, 9, "%08lx", (unsigned long)(crc & 0xffffffffu));
}

static mn_status data_json(const mn_train_run *run, json_t **out)
{
    const mn_dataset *d = run->batcher->data;
    char fp[9];
    data_fingerprint(d, fp);
    json_t *o = json_pack("{s:I, s:I, s:i, s:s}", "n", (json_int_t)d->n, "dim",
                          (json_int_t)d->dim, "classes", d->n_classes, "fingerprint", fp);
    /* a sequence dataset's labels a row, and text's vocabulary: only when
     * there (a classifier's checkpoint keeps its old data object) */
    if (o && d->labels_per_row > 1 &&
        json_object_set_new(o, "labels_per_row", json_integer((json_int_t)d->labels_per_row)))
        json_decref(o), o = NULL;
    if (o && run->vocab) {
        json_t *v = json_array();
        for (int i = 0; v && i < run->vocab->size; i++)
            if (json_array_append_new(v, json_integer(run->vocab->byte[i])))
                json_decref(v), v = NULL;
        if (!v || json_object_set_new(o, "vocab", v))
            json_decref(o), o = NULL;
    }
    *out = o;
    return o ? MN_OK : mn_fail(MN_ERR_NOMEM, "checkpoint: out of memory");
}

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} text_buf;

static void text_add(text_buf *t, const char *fmt, ...) MN_PRINTF(2, 3);

static void text_add(text_buf *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = t->failed ? 0 : vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (t->failed || n < 0)
            return;
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = 2 * t->cap + (size_t)n + 64;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->failed = true;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
}

static mn_status describe_module(void *ctx, const mn_module_visit *v)
{
    text_buf *t = ctx;
    char d[256];
    mn_module_describe(v->module, d, sizeof d);
    text_add(t, "%*s%s", 2 * v->depth, "", d);
    if (v->atom >= 0) {
        const mn_norm *n = mn_module_norm(v->module);
        text_add(t, " norm=%s", n && n->name ? n->name : "?");
    }
    text_add(t, " mass=%.17g sensitivity=%.17g\n", mn_module_mass(v->module),
             mn_module_sensitivity(v->module));
    return MN_OK;
}

/* The module tree, one line per module (see checkpoint.h); *out is malloc'ed. */
static mn_status model_text(const mn_network *net, char **out)
{
    text_buf t = {.buf = malloc(256), .cap = 256};
    if (!t.buf)
        return mn_fail(MN_ERR_NOMEM, "checkpoint: out of memory");
    t.buf[0] = '\0';
    mn_status st = mn_network_visit(net, describe_module, &t);
    if (st == MN_OK && t.failed)
        st = mn_fail(MN_ERR_NOMEM, "checkpoint: out of memory for the model's description");
    if (st != MN_OK) {
        free(t.buf);
        return st;
    }
    *out = t.buf;
    return MN_OK;
}

static char *dump(const json_t *j) { return json_dumps(j, JSON_FLAGS); }

static mn_status check_run(const mn_train_run *run, const char *who)
{
    if (!run || !run->settings || !run->net || !run->solver || !run->batcher ||
        !run->batcher->perm || !run->batcher->data || (!run->losses && run->total_steps > 0))
        return mn_fail(MN_ERR_ARG, "%s: the run is missing its settings, network, solver, "
                       "batcher or losses", who);
    if (run->step < 0 || run->step > run->total_steps)
        return mn_fail(MN_ERR_ARG, "%s: step %lld is outside [0, %lld]", who,
                       (long long)run->step, (long long)run->total_steps);
    return MN_OK;
}

mn_status mn_checkpoint_save(const char *path, const mn_train_run *run)
{
    if (!path)
        return mn_fail(MN_ERR_ARG, "mn_checkpoint_save: path is NULL");
    MN_TRY(check_run(run, "mn_checkpoint_save"));
    tensor_list l = {0};
    json_t *settings = NULL, *data = NULL;
    char *model = NULL, *settings_text = NULL, *data_text = NULL;
    mn_status st = run_tensors(run, &l);
    if (st == MN_OK)
        st = settings_json(run, &settings);
    if (st == MN_OK)
        st = data_json(run, &data);
    if (st == MN_OK)
        st = model_text(run->net, &model);
    if (st == MN_OK && (!(settings_text = dump(settings)) || !(data_text = dump(data))))
        st = mn_fail(MN_ERR_NOMEM, "checkpoint: out of memory");
    if (st == MN_OK) {
        char threads[32], step[32];
        snprintf(threads, sizeof threads, "%d", run->settings->threads);
        snprintf(step, sizeof step, "%lld", (long long)run->step);
        const mn_st_meta meta[] = {
            {"format", MN_CHECKPOINT_FORMAT}, {"format_version", MN_CHECKPOINT_VERSION},
            {"settings", settings_text},      {"threads", threads},
            {"model", model},                 {"graph", run->graph ? run->graph : ""},
            {"data", data_text},              {"step", step},
        };
        st = mn_safetensors_write(path, l.t, l.n, meta, (int)(sizeof meta / sizeof meta[0]));
    }
    list_free(&l);
    json_decref(settings);
    json_decref(data);
    free(model);
    free(settings_text);
    free(data_text);
    return st;
}

/* ---- restoring -------------------------------------------------------------------------- */

/* A value for a message: reals in the fewest digits that read back exactly
 * (0.05, not 0.050000000000000003). malloc'ed; NULL when out of memory. */
static char *shown(const json_t *v)
{
    if (!json_is_real(v))
        return dump(v);
    double x = json_real_value(v);
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return strdup(buf);
}

/* Keys written only when they differ from a default (settings_json): their
 * absence means that default, and a message says so. */
static const char *absent_means(const char *key)
{
    return strcmp(key, "precision") == 0 || strcmp(key, "net_precision") == 0 ? "\"fp32\"" : NULL;
}

/* The first difference between the run's settings (or data) and the file's
 * JSON text, as a message. */
static mn_status compare_json(const char *what, const char *field, const json_t *here,
                              const char *there_text)
{
    json_error_t err;
    json_t *there = json_loads(there_text, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(there)) {
        json_decref(there);
        return mn_fail(MN_ERR_FORMAT, "%s: __metadata__ %s is not a JSON object", what, field);
    }
    mn_status st = MN_OK;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)here, key, v) {
        json_t *w = json_object_get(there, key);
        if (w && json_equal(v, w))
            continue;
        char *a = shown(v), *b = w ? shown(w) : NULL;
        const char *missing = absent_means(key) ? absent_means(key) : "missing";
        st = mn_fail(MN_ERR_ARG, "%s: cannot resume: %s %s differs: %s here, %.200s in the "
                     "checkpoint", what, field, key, a ? a : "?", w ? (b ? b : "?") : missing);
        free(a);
        free(b);
        break;
    }
    if (st == MN_OK)
        json_object_foreach(there, key, v)
            if (!json_object_get(here, key)) {
                char *b = shown(v);
                if (absent_means(key))
                    st = mn_fail(MN_ERR_ARG, "%s: cannot resume: %s %s differs: %s here, %.200s "
                                 "in the checkpoint", what, field, key, absent_means(key),
                                 b ? b : "?");
                else
                    st = mn_fail(MN_ERR_ARG, "%s: cannot resume: the checkpoint's %s has "
                                 "'%.64s', which this run does not", what, field, key);
                free(b);
                break;
            }
    json_decref(there);
    return st;
}

/* The first line where two texts differ. */
static mn_status compare_text(const char *what, const char *field, const char *here,
                              const char *there)
{
    if (strcmp(here, there) == 0)
        return MN_OK;
    int line = 1;
    const char *a = here, *b = there;
    for (;;) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la) != 0 || !a[la] || !b[lb])
            return mn_fail(MN_ERR_ARG, "%s: cannot resume: the %s differs at line %d: '%.*s' "
                           "here, '%.*s' in the checkpoint", what, field, line,
                           (int)(la > 120 ? 120 : la), a, (int)(lb > 120 ? 120 : lb), b);
        a += la + 1;
        b += lb + 1;
        line++;
    }
}

static mn_status check_metadata(const mn_safetensors *f, const mn_train_run *run)
{
    const char *what = mn_safetensors_name(f);
    static const char *const keys[] = {"format", "format_version", "settings", "model",
                                       "graph", "data", "step"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!mn_safetensors_meta(f, keys[i]))
            return mn_fail(MN_ERR_FORMAT, "%s: __metadata__ has no '%s': not a modnorm "
                           "checkpoint", what, keys[i]);
    if (strcmp(mn_safetensors_meta(f, "format"), MN_CHECKPOINT_FORMAT) != 0)
        return mn_fail(MN_ERR_FORMAT, "%s: __metadata__ format is '%.64s', not '%s'", what,
                       mn_safetensors_meta(f, "format"), MN_CHECKPOINT_FORMAT);
    if (strcmp(mn_safetensors_meta(f, "format_version"), MN_CHECKPOINT_VERSION) != 0)
        return mn_fail(MN_ERR_FORMAT, "%s: __metadata__ format_version is '%.16s'; this modnorm "
                       "reads version %s", what, mn_safetensors_meta(f, "format_version"),
                       MN_CHECKPOINT_VERSION);
    if (!mn_safetensors_meta(f, "crc32"))
        return mn_fail(MN_ERR_FORMAT, "%s: __metadata__ has no crc32", what);
    json_t *settings = NULL, *data = NULL;
    char *model = NULL;
    mn_status st = settings_json(run, &settings);
    if (st == MN_OK)
        st = compare_json(what, "setting", settings, mn_safetensors_meta(f, "settings"));
    if (st == MN_OK)
        st = model_text(run->net, &model);
    if (st == MN_OK)
        st = compare_text(what, "model", model, mn_safetensors_meta(f, "model"));
    const char *graph = mn_safetensors_meta(f, "graph");
    if (st == MN_OK && run->graph && *run->graph && *graph)
        st = compare_text(what, "graph", run->graph, graph);
    if (st == MN_OK)
        st = data_json(run, &data);
    if (st == MN_OK)
        st = compare_json(what, "data", data, mn_safetensors_meta(f, "data"));
    json_decref(settings);
    json_decref(data);
    free(model);
    return st;
}

/* Every expected tensor is there with its dtype and shape, and nothing else. */
static mn_status check_tensor(const mn_safetensors *f, const mn_st_tensor *want,
                              const mn_st_tensor **got)
{
    const char *what = mn_safetensors_name(f);
    const mn_st_tensor *t = mn_safetensors_find(f, want->name);
    if (!t)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor %s is missing", what, want->name);
    if (t->dtype != want->dtype)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor %s is %s; expected %s", what, want->name,
                       mn_st_dtype_name(t->dtype), mn_st_dtype_name(want->dtype));
    bool same = t->ndim == want->ndim;
    for (int d = 0; same && d < t->ndim; d++)
        same = t->shape[d] == want->shape[d];
    if (!same) {
        char a[160] = "", b[160] = "";
        for (int d = 0, ua = 0, ub = 0; d < MN_SAFETENSORS_MAX_DIMS; d++) {
            if (d < t->ndim)
                ua += snprintf(a + ua, sizeof a - (size_t)ua, "%s%lld", d ? ", " : "",
                               (long long)t->shape[d]);
            if (d < want->ndim)
                ub += snprintf(b + ub, sizeof b - (size_t)ub, "%s%lld", d ? ", " : "",
                               (long long)want->shape[d]);
        }
        return mn_fail(MN_ERR_FORMAT, "%s: tensor %s has shape [%s]; this run's is [%s]", what,
                       want->name, a, b);
    }
    *got = t;
    return MN_OK;
}

static int64_t scalar_i64(const mn_st_tensor *t)
{
    int64_t v;
    memcpy(&v, t->data, sizeof v);
    return v;
}

/* Check the values of the state (what shapes cannot say). */
static mn_status check_values(const char *what, const mn_train_run *run, const tensor_list *want,
                              const mn_st_tensor **got, int64_t step)
{
    int64_t n = run->batcher->data->n;
    for (int i = 0; i < want->n; i++) {
        const char *name = want->t[i].name;
        const mn_st_tensor *t = got[i];
        if (t->dtype == MN_ST_F32) {
            int64_t count = (int64_t)(t->nbytes / 4);
            for (int64_t j = 0; j < count; j++) {
                float x;
                memcpy(&x, (const char *)t->data + 4 * j, 4);
                if (!isfinite(x))
                    return mn_fail(MN_ERR_FORMAT, "%s: tensor %s: entry %lld is not finite",
                                   what, name, (long long)j);
            }
        } else if (strcmp(name, "data.permutation") == 0) {
            unsigned char *seen = calloc((size_t)n, 1);
            if (!seen)
                return mn_fail(MN_ERR_NOMEM, "%s: out of memory", what);
            for (int64_t j = 0; j < n; j++) {
                int64_t p;
                memcpy(&p, (const char *)t->data + 8 * j, 8);
                if (p < 0 || p >= n || seen[p]) {
                    free(seen);
                    return mn_fail(MN_ERR_FORMAT, "%s: tensor data.permutation: entry %lld (%lld) "
                                   "is %s", what, (long long)j, (long long)p,
                                   p < 0 || p >= n ? "outside [0, n)" : "a repeat");
                }
                seen[p] = 1;
            }
            free(seen);
        } else if (strcmp(name, "data.position") == 0) {
            int64_t pos = scalar_i64(t);
            if (pos < 0 || pos > n)
                return mn_fail(MN_ERR_FORMAT, "%s: tensor data.position: %lld is outside [0, %lld]",
                               what, (long long)pos, (long long)n);
        } else if (strcmp(name, "data.epoch") == 0) {
            if (scalar_i64(t) < 0)
                return mn_fail(MN_ERR_FORMAT, "%s: tensor data.epoch is negative", what);
        } else if (strcmp(name, "data.rng") == 0) {
            uint64_t s[4];
            memcpy(s, t->data, sizeof s);
            if ((s[0] | s[1] | s[2] | s[3]) == 0)
                return mn_fail(MN_ERR_FORMAT, "%s: tensor data.rng is all zero (a stuck "
                               "xoshiro256** state)", what);
        } else if (strcmp(name, "fit.losses") == 0) {
            for (int64_t j = 0; j < step; j++) {
                double x;
                memcpy(&x, (const char *)t->data + 8 * j, 8);
                if (!isfinite(x))
                    return mn_fail(MN_ERR_FORMAT, "%s: tensor fit.losses: entry %lld is not "
                                   "finite", what, (long long)j);
            }
        }
    }
    return MN_OK;
}

mn_status mn_checkpoint_restore(const mn_safetensors *f, mn_train_run *run)
{
    if (!f)
        return mn_fail(MN_ERR_ARG, "mn_checkpoint_restore: the file is NULL");
    MN_TRY(check_run(run, "mn_checkpoint_restore"));
    const char *what = mn_safetensors_name(f);
    MN_TRY(check_metadata(f, run));
    /* The step decides the length of fit.losses: read and bound it first. */
    const mn_st_tensor *st_step = mn_safetensors_find(f, "optim.step");
    if (!st_step || st_step->dtype != MN_ST_I64 || st_step->ndim != 0)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor optim.step is %s", what,
                       st_step ? "not an I64 scalar" : "missing");
    int64_t step = scalar_i64(st_step);
    if (step < 0 || step > run->total_steps)
        return mn_fail(MN_ERR_FORMAT, "%s: tensor optim.step: %lld is outside [0, %lld] (the "
                       "run's steps)", what, (long long)step, (long long)run->total_steps);
    char step_text[32];
    snprintf(step_text, sizeof step_text, "%lld", (long long)step);
    if (strcmp(step_text, mn_safetensors_meta(f, "step")) != 0)
        return mn_fail(MN_ERR_FORMAT, "%s: __metadata__ step '%.32s' disagrees with optim.step "
                       "%lld", what, mn_safetensors_meta(f, "step"), (long long)step);
    mn_train_run probe = *run;
    probe.step = step;
    tensor_list want = {0};
    mn_status st = run_tensors(&probe, &want);
    const mn_st_tensor **got = calloc((size_t)want.n + 1, sizeof *got);
    if (st == MN_OK && !got)
        st = mn_fail(MN_ERR_NOMEM, "%s: out of memory", what);
    for (int i = 0; st == MN_OK && i < want.n; i++)
        st = check_tensor(f, &want.t[i], &got[i]);
    if (st == MN_OK && mn_safetensors_count(f) != want.n)
        for (int i = 0; i < mn_safetensors_count(f); i++) {
            const char *name = mn_safetensors_at(f, i)->name;
            bool known = false;
            for (int j = 0; j < want.n && !known; j++)
                known = strcmp(want.t[j].name, name) == 0;
            if (!known) {
                st = mn_fail(MN_ERR_FORMAT, "%s: tensor %.128s is not part of this run's state",
                             what, name);
                break;
            }
        }
    if (st == MN_OK)
        st = check_values(what, run, &want, got, step);
    if (st == MN_OK) { /* commit: every buffer of `want` points at the run's own state */
        for (int i = 0; i < want.n; i++)
            memcpy((void *)want.t[i].data, got[i]->data, got[i]->nbytes);
        run->batcher->pos = want.position;
        run->batcher->epoch = want.epoch;
        run->step = want.step;
        st = mn_solver_set_steps_taken(run->solver, step);
    }
    free(got);
    list_free(&want);
    return st;
}

mn_status mn_checkpoint_load(const char *path, mn_train_run *run)
{
    mn_safetensors *f;
    MN_TRY(mn_safetensors_read(path, &f));
    mn_status st = mn_checkpoint_restore(f, run);
    mn_safetensors_free(f);
    return st;
}

/* ---- a trained model for inference ------------------------------------------------------ */

/* The data metadata's dim and vocabulary (when it has one). */
static mn_status read_data_meta(const char *what, const char *text, mn_checkpoint_model *m)
{
    json_error_t err;
    json_t *d = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    json_t *dim = json_object_get(d, "dim"), *vocab = json_object_get(d, "vocab");
    mn_status st = MN_OK;
    if (!json_is_object(d) || !json_is_integer(dim) || json_integer_value(dim) < 1)
        st = mn_fail(MN_ERR_FORMAT, "%s: __metadata__ data is not an object with a dim >= 1",
                     what);
    else
        m->dim = (int64_t)json_integer_value(dim);
    if (st == MN_OK && vocab) {
        uint8_t bytes[256];
        size_t n = json_is_array(vocab) ? json_array_size(vocab) : 0;
        bool ok = n >= 1 && n <= 256;
        for (size_t i = 0; ok && i < n; i++) {
            json_t *b = json_array_get(vocab, i);
            ok = json_is_integer(b) && json_integer_value(b) >= 0 && json_integer_value(b) < 256;
            if (ok)
                bytes[i] = (uint8_t)json_integer_value(b);
        }
        if (!ok)
            st = mn_fail(MN_ERR_FORMAT, "%s: __metadata__ data's vocab is not 1 to 256 bytes",
                         what);
        else if (mn_vocab_make(&m->vocab, bytes, (int)n) != MN_OK)
            st = mn_fail(MN_ERR_FORMAT, "%s: __metadata__ data's vocab: %s", what,
                         mn_last_error());
        else
            m->has_vocab = true;
    }
    json_decref(d);
    return st;
}

/* The settings' param ("modular" or "sp"). */
static mn_status read_param(const char *what, const char *text, mn_param *param)
{
    json_error_t err;
    json_t *s = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    const char *p = json_string_value(json_object_get(s, "param"));
    mn_status st = MN_OK;
    if (p && strcmp(p, "sp") == 0)
        *param = MN_PARAM_SP;
    else if (p && strcmp(p, "modular") == 0)
        *param = MN_PARAM_MODULAR;
    else
        st = mn_fail(MN_ERR_FORMAT, "%s: __metadata__ settings has no param modular or sp", what);
    json_decref(s);
    return st;
}

/* Copy every atom's model.P.weight into the network. */
static mn_status load_weights(const mn_safetensors *f, mn_network *net)
{
    const char *what = mn_safetensors_name(f);
    char **paths;
    MN_TRY(atom_paths(net, &paths));
    int na = mn_network_atom_count(net);
    mn_status st = MN_OK;
    float *w = mn_network_weights(net);
    for (int k = 0; k < na && st == MN_OK; k++) {
        int64_t shape[2];
        float *dst = (float *)atom_block(net, k, w, shape);
        mn_st_tensor want = {.name = tensor_name("model", paths[k], "weight"),
                             .dtype = MN_ST_F32, .ndim = 2, .shape = {shape[0], shape[1]}};
        const mn_st_tensor *got;
        st = want.name ? check_tensor(f, &want, &got)
                       : mn_fail(MN_ERR_NOMEM, "checkpoint: out of memory");
        if (st == MN_OK)
            memcpy(dst, got->data, got->nbytes);
        free((char *)want.name);
    }
    free_paths(paths, na);
    for (int64_t i = 0, n = mn_network_param_count(net); st == MN_OK && i < n; i++)
        if (!isfinite(w[i]))
            st = mn_fail(MN_ERR_FORMAT, "%s: weight %lld is not finite", what, (long long)i);
    return st;
}

mn_status mn_checkpoint_open_model(const char *path, int threads, mn_checkpoint_model *out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_checkpoint_open_model: out is NULL");
    *out = (mn_checkpoint_model){0};
    if (!path)
        return mn_fail(MN_ERR_ARG, "mn_checkpoint_open_model: path is NULL");
    mn_safetensors *f;
    MN_TRY(mn_safetensors_read(path, &f));
    const char *what = mn_safetensors_name(f), *format = mn_safetensors_meta(f, "format");
    const char *graph = mn_safetensors_meta(f, "graph"), *data = mn_safetensors_meta(f, "data");
    const char *settings = mn_safetensors_meta(f, "settings");
    mn_checkpoint_model m = {0};
    mn_param param = MN_PARAM_MODULAR;
    mn_status st = MN_OK;
    if (!format || strcmp(format, MN_CHECKPOINT_FORMAT) != 0 || !data || !settings)
        st = mn_fail(MN_ERR_FORMAT, "%s: not a modnorm checkpoint (__metadata__ format, data or "
                     "settings missing)", what);
    else if (!graph || !*graph)
        st = mn_fail(MN_ERR_FORMAT, "%s: the checkpoint has no graph text (saved without the "
                     "model's graph): cannot rebuild the network", what);
    if (st == MN_OK)
        st = read_data_meta(what, data, &m);
    if (st == MN_OK)
        st = read_param(what, settings, &param);
    mn_graph_file *g = NULL;
    mn_module *root = NULL;
    if (st == MN_OK)
        st = mn_graph_parse(&g, graph, strlen(graph), "checkpoint graph");
    if (st == MN_OK)
        st = mn_graph_make(g, &root);
    mn_graph_destroy(g);
    if (st == MN_OK) {
        st = mn_network_create(&m.net, root, param, 0); /* takes root */
        root = NULL;
    }
    mn_module_destroy(root);
    if (st == MN_OK) {
        if (threads > 0)
            mn_network_set_threads(m.net, threads);
        st = load_weights(f, m.net);
    }
    mn_safetensors_free(f);
    if (st != MN_OK) {
        mn_checkpoint_model_free(&m);
        return st;
    }
    *out = m;
    return MN_OK;
}

void mn_checkpoint_model_free(mn_checkpoint_model *m)
{
    if (!m)
        return;
    mn_network_destroy(m->net);
    *m = (mn_checkpoint_model){0};
}

/* ---- the fit loop with saving ----------------------------------------------------------- */

typedef struct {
    mn_train_run *run;
    const mn_checkpoint_opts *ck;
    const mn_fit_callbacks *user;
    int64_t saved_at;
} saver;

static mn_status save_step(void *ctx, const mn_fit_step *s)
{
    saver *sv = ctx;
    sv->run->losses[s->step - 1] = s->loss;
    sv->run->step = s->step;
    if (sv->ck->path && sv->ck->every > 0 && s->step % sv->ck->every == 0) {
        MN_TRY(mn_checkpoint_save_ranks(sv->ck->path, sv->run));
        sv->saved_at = s->step;
    }
    return sv->user && sv->user->on_step ? sv->user->on_step(sv->user->ctx, s) : MN_OK;
}

static mn_status pass_log(void *ctx, const mn_fit_step *s)
{
    const saver *sv = ctx;
    return sv->user->on_log(sv->user->ctx, s);
}

static mn_status pass_eval(void *ctx, const mn_fit_step *s, double acc, double loss)
{
    const saver *sv = ctx;
    return sv->user->on_eval(sv->user->ctx, s, acc, loss);
}

/* Whether a finished run's state is saved over ck->path: not when it
 * diverged, by the fit's own rule (a non-finite loss) or by mn_fit_judge's
 * with ck->diverge_factor (judged on a copy: the caller judges res itself),
 * as a run that stops on a non-finite loss is not. Data-parallel: rank 0,
 * which alone evaluated, decides for every rank (then none saves when its
 * evaluation failed). */
static mn_status final_save_wanted(const mn_checkpoint_opts *ck, mn_dist *dist, mn_status st,
                                   const mn_fit_result *res, bool *keep)
{
    mn_fit_result judged = *res;
    if (st == MN_OK && ck->diverge_factor > 0)
        mn_fit_judge(MN_OK, &judged, ck->diverge_factor);
    unsigned char yes = st == MN_OK && !judged.diverged;
    mn_status bst = dist ? mn_dist_broadcast(dist, &yes, 1, 0) : MN_OK;
    *keep = yes && st == MN_OK;
    return bst;
}

mn_status mn_train_checkpointed(mn_module *root, const mn_train_settings *s,
                                const mn_dataset *train, const mn_dataset *test,
                                const mn_fit_callbacks *cb, const mn_checkpoint_opts *ck,
                                mn_fit_result *res)
{
    if (res)
        *res = (mn_fit_result){.initial_loss = NAN, .train_loss = NAN, .test_acc = NAN,
                               .test_loss = NAN, .diverged_at = -1};
    if (!res || !s || !train || !ck) {
        mn_module_destroy(root);
        return mn_fail(MN_ERR_ARG, "mn_train_checkpointed: %s is NULL",
                       !res ? "res" : !s ? "settings" : !train ? "train" : "ck");
    }
    mn_batch_source src;
    mn_status st = mn_batch_source_dataset(&src, train, s->batch, s->seed);
    if (st != MN_OK) {
        mn_module_destroy(root);
        return st;
    }
    int64_t total = mn_train_total_steps(s, src.per_epoch);
    res->total_steps = total;
    mn_network *net = NULL;
    mn_solver *solver = NULL;
    double *losses = NULL;
    st = mn_train_build(root, s, total, &net, &solver);
    if (st == MN_OK && !(losses = calloc((size_t)total, sizeof *losses)))
        st = mn_fail(MN_ERR_NOMEM, "mn_train_checkpointed: out of memory for %lld losses",
                     (long long)total);
    mn_train_run run = {.settings = s, .net = net, .solver = solver,
                        .batcher = mn_batch_source_batcher(&src), .total_steps = total,
                        .losses = losses, .graph = ck->graph, .vocab = ck->vocab};
    if (s->dist) /* a rank that failed stops every rank before the collectives */
        st = mn_dist_agree(s->dist, st);
    if (st == MN_OK && ck->resume)
        st = mn_checkpoint_load_ranks(ck->resume, &run);
    saver sv = {.run = &run, .ck = ck, .user = cb, .saved_at = -1};
    mn_fit_callbacks wrap = {.ctx = &sv, .on_step = save_step};
    if (cb) {
        wrap.on_log = cb->on_log ? pass_log : NULL;
        wrap.log_every = cb->log_every;
        wrap.on_eval = cb->on_eval ? pass_eval : NULL;
        wrap.eval_every = cb->eval_every;
    }
    mn_batch_source shard = {0}; /* data-parallel: this rank's rows of every batch */
    if (st == MN_OK && s->dist)
        st = mn_batch_source_shard(&shard, &src, s->dist);
    if (st == MN_OK) {
        st = mn_fit_from(net, solver, shard.next ? &shard : &src, total, run.step, losses, test,
                         &wrap, res);
        bool keep = false;
        mn_status bst = final_save_wanted(ck, s->dist, st, res, &keep);
        if (st == MN_OK)
            st = bst;
        if (st == MN_OK && keep && ck->path && sv.saved_at != res->steps)
            st = mn_checkpoint_save_ranks(ck->path, &run);
    }
    mn_batch_source_destroy(&shard);
    free(losses);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    mn_batch_source_destroy(&src);
    return st;
}
