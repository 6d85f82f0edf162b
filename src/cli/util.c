/* Helpers shared by the subcommands: messages, paths, output checks, and
 * the parsed options as the library's settings. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "io/common.h"

/* "modnorm CMD: MESSAGE", then the --help hint and exit 2 for a usage
 * error, or exit 1. */
static int report(const char *cmd, bool usage, const char *fmt, va_list ap)
{
    fprintf(stderr, "modnorm %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    if (!usage) {
        fputc('\n', stderr);
        return MN_EXIT_FAIL;
    }
    fprintf(stderr, " (see 'modnorm %s --help')\n", cmd);
    return MN_EXIT_USAGE;
}

int mn_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = report(cmd, true, fmt, ap);
    va_end(ap);
    return rc;
}

int mn_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = report(cmd, false, fmt, ap);
    va_end(ap);
    return rc;
}

/* A --graph file's content is not the command line: exit 1 there. */
int mn_cli_model_error(const char *cmd, const mn_cli_args *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = report(cmd, !a->graph, fmt, ap);
    va_end(ap);
    return rc;
}

int mn_cli_fail(const char *cmd, mn_status s)
{
    const char *msg = mn_last_error();
    fprintf(stderr, "modnorm %s: %s\n", cmd, msg[0] ? msg : mn_status_str(s));
    return MN_EXIT_FAIL;
}

int mn_cli_one_process(const char *cmd)
{
    mn_dist *d;
    mn_status st = mn_dist_create(&d); /* no MPI at all unless mpirun launched us */
    if (st != MN_OK)
        return mn_cli_fail(cmd, st);
    int size = mn_dist_size(d), rank = mn_dist_rank(d);
    mn_dist_destroy(d);
    if (size == 1)
        return MN_EXIT_OK;
    if (rank == 0) /* one line for the job, as train's messages */
        fprintf(stderr, "modnorm %s: runs on one process, not under mpirun -np %d: every rank "
                "would run it whole (only train divides its work across ranks)\n", cmd, size);
    return MN_EXIT_USAGE;
}

const char *mn_cli_shown(const char *path, char *buf, size_t cap)
{
    size_t n = strlen(path), keep = cap > 8 ? cap - 8 : 0;
    if (n < cap - 1 || keep == 0)
        return path;
    const char *tail = path + n - keep;
    while ((*tail & 0xc0) == 0x80) /* not inside a UTF-8 character */
        tail++;
    snprintf(buf, cap, "...%s", tail);
    return buf;
}

int mn_cli_need_text_model(const char *cmd, const char *path, const mn_checkpoint_model *m)
{
    if (m->has_vocab)
        return MN_EXIT_OK;
    char b[MN_CLI_SHOWN_CAP];
    return mn_cli_error(cmd, "--checkpoint %s has no vocabulary: not a model trained on "
                        "--data text", mn_cli_shown(path, b, sizeof b));
}

mn_status mn_cli_check_finite(const char *path, const mn_mat *m, int ndim)
{
    if (ndim != 1)
        return mn_mat_check_finite(m, path);
    char *what;
    if (asprintf(&what, "%s (1-D, read as 1 x %lld)", path, (long long)m->cols) < 0)
        return mn_mat_check_finite(m, path);
    mn_status st = mn_mat_check_finite(m, what);
    free(what);
    return st;
}

char *mn_cli_join(const char *cmd, const char *dir, const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0) {
        mn_cli_error(cmd, "out of memory");
        return NULL;
    }
    return p;
}

/* The directory part of path ("." when it has none), in a new string. */
static char *parent_of(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return NULL;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    char *slash = strrchr(p, '/');
    if (!slash) {
        free(p);
        return strdup(".");
    }
    while (slash > p && slash[-1] == '/')
        slash--;
    if (slash == p)
        slash[1] = '\0'; /* "/x" -> "/" */
    else
        *slash = '\0';
    return p;
}

/* Whether a file can really be made in `dir` (errno says why not): access()
 * says yes to root everywhere, also on /proc or a read-only mount, and an
 * output found unwritable after hours of training loses the run. Outputs
 * are written as a temporary file beside the target, renamed: try that. */
static bool can_create_in(const char *dir)
{
    char probe[4096];
    if ((size_t)snprintf(probe, sizeof probe, "%s/.modnorm-probe-XXXXXX", dir) >= sizeof probe) {
        errno = ENAMETOOLONG;
        return false;
    }
    int fd = mkstemp(probe);
    if (fd < 0)
        return false;
    close(fd);
    unlink(probe);
    return true;
}

/* A directory we may create entries in; MN_EXIT_OK or a message naming
 * `target` (the output) and, when it is another path, `dir`. */
static int check_writable_dir(const char *cmd, const char *what, const char *target,
                              const char *dir)
{
    char b1[MN_CLI_SHOWN_CAP], b2[MN_CLI_SHOWN_CAP], where[MN_CLI_SHOWN_CAP + 4] = "";
    struct stat st;
    const char *why = NULL;
    if (stat(dir, &st) != 0)
        why = strerror(errno);
    else if (!S_ISDIR(st.st_mode))
        why = "not a directory";
    else if (access(dir, W_OK | X_OK) != 0)
        why = strerror(errno);
    else if (!can_create_in(dir))
        why = strerror(errno);
    if (!why)
        return MN_EXIT_OK;
    if (strcmp(target, dir) != 0)
        snprintf(where, sizeof where, "%s: ", mn_cli_shown(dir, b2, sizeof b2));
    return mn_cli_error(cmd, "cannot write %s %s: %s%s", what,
                        mn_cli_shown(target, b1, sizeof b1), where, why);
}

int mn_cli_check_output_file(const char *cmd, const char *what, const char *path)
{
    char b[MN_CLI_SHOWN_CAP];
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return mn_cli_error(cmd, "%s %s exists and is %s, not a regular file: refusing to "
                                "replace it", what, mn_cli_shown(path, b, sizeof b),
                                mn_io_kind_of(st.st_mode));
    } else if (errno != ENOENT) {
        const char *why = strerror(errno);
        return mn_cli_error(cmd, "cannot write %s %s: %s", what, mn_cli_shown(path, b, sizeof b),
                            why);
    }
    char *dir = parent_of(path);
    if (!dir)
        return mn_cli_error(cmd, "out of memory");
    int rc = check_writable_dir(cmd, what, path, dir);
    free(dir);
    return rc;
}

int mn_cli_check_output_dir(const char *cmd, const char *what, const char *dir, bool *exists)
{
    char b[MN_CLI_SHOWN_CAP];
    struct stat st;
    *exists = false;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return mn_cli_error(cmd, "%s %s exists and is %s, not a directory", what,
                                mn_cli_shown(dir, b, sizeof b), mn_io_kind_of(st.st_mode));
        *exists = true;
        return check_writable_dir(cmd, what, dir, dir);
    }
    if (errno != ENOENT) {
        const char *why = strerror(errno);
        return mn_cli_error(cmd, "cannot use %s %s: %s", what, mn_cli_shown(dir, b, sizeof b),
                            why);
    }
    /* Missing: only DIR itself is made (as mkdir does, not mkdir -p, so a
     * mistyped parent is an error, as for an output file), and its parent
     * must take new entries. */
    char *p = parent_of(dir);
    if (!p)
        return mn_cli_error(cmd, "out of memory");
    int rc = check_writable_dir(cmd, what, dir, p);
    free(p);
    return rc;
}

int mn_cli_mkdir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return errno;
    if (stat(dir, &st) != 0)
        return errno;
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

/* ---- the parsed options as the library's settings ---------------------------- */

mn_mlp_spec mn_cli_mlp(const mn_cli_args *a)
{
    return (mn_mlp_spec){.d_in = 784, .width = a->width, .d_out = 10, .depth = (int)a->depth};
}

void mn_cli_train_settings(const mn_cli_args *a, mn_train_settings *s, mn_atom_norm *ov)
{
    mn_train_settings_default(s);
    s->opt = a->opt;
    s->param = (mn_param)a->param;
    s->lr = a->lr;
    s->momentum = a->momentum;
    s->nesterov = a->nesterov;
    s->weight_decay = a->wd;
    s->schedule = (mn_schedule)a->schedule;
    s->warmup = a->warmup;
    s->polar_method = a->method;
    s->polar_precision = (mn_precision)a->precision;
    s->net_precision = (mn_precision)a->net_precision;
    s->steps = a->given[MN_OPT_EPOCHS] ? 0 : a->steps;
    s->epochs = a->epochs;
    s->batch = a->batch;
    s->seed = (uint64_t)a->seed;
    s->threads = (int)a->threads;
    for (int i = 0; i < a->atom_norms.n; i++)
        ov[i] = (mn_atom_norm){.atom = a->atom_norms.v[i].atom, .norm = a->atom_norms.v[i].norm};
    s->atom_norms = ov;
    s->n_atom_norms = a->atom_norms.n;
}

int mn_cli_size_grid(const char *cmd, const mn_cli_args *a, const char **param,
                     const int64_t **values, int *n)
{
    bool over = a->given[MN_OPT_OVER];
    *param = over ? a->over.param : "width";
    *values = over ? a->over.values.v : a->widths.v;
    *n = over ? a->over.values.n : a->widths.n;
    static const struct {
        const char *param;
        mn_opt_id fixes;
    } fixing[] = {{"width", MN_OPT_WIDTH}, {"depth", MN_OPT_DEPTH}};
    const char *study = strcmp(cmd, "coordcheck") == 0 ? "coordinate check" : "sweep";
    for (int i = 0; i < 2; i++)
        if (strcmp(*param, fixing[i].param) == 0 && a->given[fixing[i].fixes])
            return mn_cli_usage_error(cmd, "--%s fixes the %s of a %s over another "
                                      "parameter; this one varies the %s", fixing[i].param,
                                      fixing[i].param, study, fixing[i].param);
    /* --set of the swept parameter would be overwritten by every value. */
    const char *set = mn_cli_set_of(a, *param);
    if (set)
        return mn_cli_usage_error(cmd, "--set %s: the %s varies %s (%s); set it there", set,
                                  study, *param, over ? "--over" : "--widths");
    return MN_EXIT_OK;
}

const char *mn_cli_set_of(const mn_cli_args *a, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < a->sets.n; i++)
        if (strncmp(a->sets.v[i], name, len) == 0 && a->sets.v[i][len] == '=')
            return a->sets.v[i];
    return NULL;
}

int mn_cli_apply_atom_norms(const char *cmd, mn_module *root, const mn_cli_args *a)
{
    int atoms = mn_module_atom_count(root);
    for (int i = 0; i < a->atom_norms.n; i++) {
        mn_atom_norm ov = {.atom = a->atom_norms.v[i].atom, .norm = a->atom_norms.v[i].norm};
        if (ov.atom >= atoms)
            return mn_cli_model_error(cmd, a, "--atom-norm '%d=%s' must be K=NAME with K in "
                                      "[0, %d)", ov.atom, ov.norm, atoms);
        if (mn_atom_norms_apply_tree(root, &ov, 1) != MN_OK) /* e.g. a norm of another shape */
            return mn_cli_model_error(cmd, a, "--atom-norm: %s", mn_last_error());
    }
    return MN_EXIT_OK;
}

static bool same_file(const char *x, const char *y)
{
    struct stat sx, sy;
    return stat(x, &sx) == 0 && stat(y, &sy) == 0 && sx.st_dev == sy.st_dev &&
           sx.st_ino == sy.st_ino;
}

/* How DIR/CFG names the --graph file (mn_cli_respell_graph); *owned is
 * what to free. */
static const char *graph_spelling(const char *cmd, const mn_cli_args *a, const char *cfg_name,
                                  char **owned)
{
    *owned = NULL;
    char *cfg = mn_cli_join(cmd, a->out, cfg_name);
    FILE *f = cfg ? fopen(cfg, "r") : NULL;
    char line[4200];
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "graph=", 6) == 0 && same_file(line + 6, a->graph)) {
            *owned = strdup(line + 6);
            break;
        }
    }
    if (f)
        fclose(f);
    free(cfg);
    if (!*owned)
        *owned = realpath(a->graph, NULL);
    return *owned ? *owned : a->graph;
}

int mn_cli_respell_graph(const char *cmd, const mn_cli_args *a, const char *cfg_name,
                         char *model, size_t cap)
{
    char *line, *owned;
    if (asprintf(&line, "\ngraph=%s\n", a->graph) < 0)
        return mn_cli_error(cmd, "out of memory");
    char *at = strstr(model, line);
    const char *name = graph_spelling(cmd, a, cfg_name, &owned);
    size_t old_len = strlen(a->graph), new_len = strlen(name), len = strlen(model);
    int rc = MN_EXIT_OK;
    if (at && len - old_len + new_len < cap) {
        char *value = at + 7; /* after "\ngraph=" */
        memmove(value + new_len, value + old_len, len - (size_t)(value - model) - old_len + 1);
        memcpy(value, name, new_len);
    } else if (at) {
        rc = mn_cli_error(cmd, "--graph %s: its path does not fit in %s's header", name,
                          cfg_name);
    }
    free(line);
    free(owned);
    return rc;
}
