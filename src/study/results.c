/* DIR/results.csv: one line per finished run, written the moment it
 * finishes, so a killed sweep loses at most the line it was writing. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "modnorm/study.h"

#define CSV_COLUMNS "lr,seed,train_loss,test_loss,test_acc,diverged"

mn_status mn_study_csv_header(const char *param, char *buf, size_t cap)
{
    if (!mn_study_param_valid(param))
        return mn_fail(MN_ERR_ARG, "results header: '%s' is not a parameter name (letters, "
                       "digits, _)", param ? param : "(null)");
    if (!buf || (size_t)snprintf(buf, cap, "%s," CSV_COLUMNS, param) >= cap)
        return mn_fail(MN_ERR_ARG, "results header: the buffer is too small");
    return MN_OK;
}

void mn_study_format_row(char *buf, size_t cap, const mn_study_row *r)
{
    if (!buf || cap == 0)
        return;
    if (!r) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, cap, "%lld,%.17g,%d,%.17g,%.17g,%.17g,%d", (long long)r->value, r->lr, r->seed,
             r->train_loss, r->test_loss, r->test_acc, r->diverged ? 1 : 0);
}

/* strtod accepts "inf" and "nan" too: a diverged run's loss is "inf". */
static bool field_double(const char **p, double *out, char sep)
{
    char *end;
    *out = strtod(*p, &end);
    if (end == *p || *end != sep)
        return false;
    *p = end + (sep ? 1 : 0);
    return true;
}

bool mn_study_parse_row(const char *line, mn_study_row *r)
{
    char buf[512];
    if (!line || !r)
        return false;
    size_t len = strcspn(line, "\r\n");
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, line, len);
    buf[len] = '\0';
    const char *p = buf;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (end == p || *end != ',' || errno || v < 1)
        return false;
    p = end + 1;
    double lr, seed, d, train, test, acc;
    if (!field_double(&p, &lr, ',') || !(lr > 0) || !field_double(&p, &seed, ',') || seed < 0 ||
        seed != floor(seed) || seed > 1e9 || !field_double(&p, &train, ',') ||
        !field_double(&p, &test, ',') || !field_double(&p, &acc, ',') ||
        !field_double(&p, &d, '\0') || (d != 0 && d != 1))
        return false;
    *r = (mn_study_row){.value = v, .lr = lr, .seed = (int)seed, .train_loss = train,
                        .test_loss = test, .test_acc = acc, .diverged = d == 1};
    return true;
}

/* A row's key and the line it came from, to find two rows of one run. */
typedef struct row_key {
    int64_t value;
    int seed;
    double lr;
    long line;
} row_key;

static int cmp_key(const void *pa, const void *pb)
{
    const row_key *a = pa, *b = pb;
    if (a->value != b->value)
        return (a->value > b->value) - (a->value < b->value);
    if (a->seed != b->seed)
        return (a->seed > b->seed) - (a->seed < b->seed);
    if (a->lr != b->lr)
        return (a->lr > b->lr) - (a->lr < b->lr);
    return (a->line > b->line) - (a->line < b->line);
}

/* A sweep appends each run once and never trains a run its CSV holds, so
 * two rows of one (value, lr, seed) mean an edited or corrupted file: they
 * would be averaged as if they were two seeds. Sorted by key, such rows are
 * neighbours; the pair whose later line comes first is named. */
static mn_status check_unique(const char *path, const char *param, row_key *keys, size_t n)
{
    if (n < 2)
        return MN_OK;
    qsort(keys, n, sizeof *keys, cmp_key);
    size_t dup = 0;
    long first = 0, second = 0;
    for (size_t i = 1; i < n; i++) {
        const row_key *a = &keys[i - 1], *b = &keys[i];
        long lo = a->line < b->line ? a->line : b->line;
        long hi = a->line < b->line ? b->line : a->line;
        if (a->value == b->value && a->seed == b->seed && mn_study_same_lr(a->lr, b->lr) &&
            (dup == 0 || hi < second)) {
            dup = i;
            first = lo;
            second = hi;
        }
    }
    if (dup == 0)
        return MN_OK;
    return mn_fail(MN_ERR_FORMAT, "%s: lines %ld and %ld are the same run (%s %lld, lr %g, "
                   "seed %d): the file was edited or corrupted; remove one of them", path, first,
                   second, param, (long long)keys[dup].value, keys[dup].lr, keys[dup].seed);
}

mn_status mn_study_read_csv(const char *path, const char *param, mn_study_row **rows, size_t *n,
                            int *bad)
{
    if (!path || !rows || !n)
        return mn_fail(MN_ERR_ARG, "mn_study_read_csv: %s is NULL",
                       !path ? "path" : !rows ? "rows" : "n");
    *rows = NULL;
    *n = 0;
    if (bad)
        *bad = 0;
    char header[MN_STUDY_MAX_PARAM + 64];
    MN_TRY(mn_study_csv_header(param, header, sizeof header));
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return MN_OK;
        return mn_fail(MN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    char line[512];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return MN_OK; /* empty: as if missing */
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (strcmp(line, header) != 0) {
        fclose(f);
        return mn_fail(MN_ERR_FORMAT, "%s starts with '%s', not the header '%s'", path, line,
                       header);
    }
    size_t cap = 0;
    mn_study_row *v = NULL;
    row_key *keys = NULL;
    long lineno = 1;   /* the header's */
    bool whole = true; /* the last chunk fgets read ended its line */
    while (fgets(line, sizeof line, f)) {
        lineno += whole;
        whole = strchr(line, '\n') != NULL;
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        mn_study_row r;
        if (!mn_study_parse_row(line, &r)) {
            if (bad)
                (*bad)++;
            continue;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            mn_study_row *nv = realloc(v, cap * sizeof *v);
            if (nv)
                v = nv;
            row_key *nk = nv ? realloc(keys, cap * sizeof *keys) : NULL;
            if (nk)
                keys = nk;
            if (!nv || !nk) {
                free(v);
                free(keys);
                fclose(f);
                *n = 0;
                return mn_fail(MN_ERR_NOMEM, "out of memory reading %s", path);
            }
        }
        keys[*n] = (row_key){.value = r.value, .seed = r.seed, .lr = r.lr, .line = lineno};
        v[(*n)++] = r;
    }
    bool err = ferror(f);
    fclose(f);
    mn_status st = err ? mn_fail(MN_ERR_IO, "cannot read %s", path)
                       : check_unique(path, param, keys, *n);
    free(keys);
    if (st != MN_OK) {
        free(v);
        *n = 0;
        return st;
    }
    *rows = v;
    return MN_OK;
}
