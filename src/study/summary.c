/* The summary of a sweep: per value of the size parameter the argmin of
 * the seed-mean training loss over the learning rates, refined by a
 * parabola in log2 η; the slope of log2 η* per doubling of the parameter,
 * its spread, the regret of keeping the smallest value's η*, and whether
 * the loss there falls monotonically. JSON through jansson. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "modnorm/study.h"

double mn_study_parabola_vertex(double x0, double f0, double x1, double f1, double x2, double f2)
{
    /* f = a x² + b x + c through the three points; vertex at −b/(2a). */
    double d0 = (x1 - x0) * (f1 - f2), d2 = (x1 - x2) * (f1 - f0);
    double den = d0 - d2;
    double num = (x1 - x0) * d0 - (x1 - x2) * d2;
    double lo = fmin(x0, fmin(x1, x2)), hi = fmax(x0, fmax(x1, x2));
    /* a > 0 ⇔ the parabola opens upward. */
    double a = ((f2 - f1) / (x2 - x1) - (f1 - f0) / (x1 - x0)) / (x2 - x0);
    if (!(a > 0) || den == 0 || !isfinite(num / den))
        return x1;
    double x = x1 - 0.5 * num / den;
    return x < lo ? lo : x > hi ? hi : x;
}

void mn_study_summary_free(mn_study_summary *s)
{
    if (!s)
        return;
    free(s->values);
    free(s->lrs);
    free(s->loss);
    free(s->runs);
    free(s->per_value);
    *s = (mn_study_summary){0};
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* NAN (no run) and +INF (diverged) both lose every argmin. */
static double rank_value(double v) { return isnan(v) ? INFINITY : v; }

/* Per value: the argmin on the grid, then a parabola in log2 η through it. */
static void argmins(mn_study_summary *s)
{
    int n_lrs = s->n_lrs;
    for (int i = 0; i < s->n_values; i++) {
        const double *L = s->loss + (size_t)i * (size_t)n_lrs;
        mn_study_point *pv = &s->per_value[i];
        *pv = (mn_study_point){.value = s->values[i], .best = -1, .best_lr = NAN,
                               .best_lr_refined = NAN, .loss = NAN, .regret = NAN};
        double best = INFINITY;
        for (int j = 0; j < n_lrs; j++)
            if (rank_value(L[j]) < best) {
                best = L[j];
                pv->best = j;
            }
        if (pv->best < 0)
            continue;
        int j = pv->best;
        pv->best_lr = pv->best_lr_refined = s->lrs[j];
        pv->loss = L[j];
        const int *R = s->runs + (size_t)i * (size_t)n_lrs;
        pv->at_edge = j == 0 || j == n_lrs - 1 || R[j - 1] == 0 || R[j + 1] == 0;
        if (!pv->at_edge && isfinite(L[j - 1]) && isfinite(L[j + 1]))
            pv->best_lr_refined = exp2(mn_study_parabola_vertex(
                log2(s->lrs[j - 1]), L[j - 1], log2(s->lrs[j]), L[j], log2(s->lrs[j + 1]),
                L[j + 1]));
    }
}

/* Slope (least squares of log2 η* on log2 v) and spread over the values
 * that have an η*; both need two such values (one compares nothing). */
static void slope_and_spread(mn_study_summary *s)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0, lo = INFINITY, hi = -INFINITY;
    int m = 0;
    for (int i = 0; i < s->n_values; i++) {
        if (s->per_value[i].best < 0)
            continue;
        double x = log2((double)s->values[i]), y = log2(s->per_value[i].best_lr_refined);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
        lo = fmin(lo, y);
        hi = fmax(hi, y);
        m++;
    }
    double den = m * sxx - sx * sx;
    s->slope = m >= 2 && den > 0 ? (m * sxy - sx * sy) / den : NAN;
    s->spread = m >= 2 ? hi - lo : NAN;
}

/* Regret and monotone at the grid LR nearest the smallest value's η*.
 * One value compares nothing: not monotone (summary_json writes null). */
static void regret(mn_study_summary *s)
{
    int n_lrs = s->n_lrs;
    s->monotone = false;
    if (s->per_value[0].best < 0)
        return;
    double target = log2(s->per_value[0].best_lr_refined), dist = INFINITY;
    for (int j = 0; j < n_lrs; j++) {
        double d = fabs(log2(s->lrs[j]) - target);
        if (d < dist - 1e-12) {
            dist = d;
            s->anchor = j;
        }
    }
    s->monotone = s->n_values >= 2;
    double prev = INFINITY;
    for (int i = 0; i < s->n_values; i++) {
        double at = s->loss[(size_t)i * (size_t)n_lrs + (size_t)s->anchor];
        mn_study_point *pv = &s->per_value[i];
        if (pv->best >= 0)
            pv->regret = isfinite(at) ? at - pv->loss : INFINITY;
        if (!isfinite(at) || !(at < prev))
            s->monotone = false;
        prev = at;
    }
}

mn_status mn_study_summarize(const char *param, const mn_study_row *rows, size_t n,
                             const int64_t *values, int n_values, const double *lrs, int n_lrs,
                             int n_seeds, mn_study_summary *out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_study_summarize: out is NULL");
    *out = (mn_study_summary){0};
    if (!mn_study_param_valid(param))
        return mn_fail(MN_ERR_ARG, "a sweep summary needs a parameter name (got '%s')",
                       param ? param : "(null)");
    if (n_values < 1 || n_lrs < 1 || !values || !lrs || (n > 0 && !rows))
        return mn_fail(MN_ERR_ARG, "a sweep summary needs at least one value and one LR");
    for (int i = 0; i < n_values; i++)
        if (values[i] < 1)
            return mn_fail(MN_ERR_ARG, "a sweep summary needs %s values >= 1 (got %lld)", param,
                           (long long)values[i]);
    for (int j = 0; j < n_lrs; j++)
        if (!(lrs[j] > 0) || !isfinite(lrs[j]))
            return mn_fail(MN_ERR_ARG, "a sweep summary needs positive finite LRs (got %g)",
                           lrs[j]);
    mn_study_summary s = {.n_values = n_values, .n_lrs = n_lrs, .anchor = -1};
    snprintf(s.param, sizeof s.param, "%s", param);
    size_t cells = (size_t)n_values * (size_t)n_lrs;
    s.values = malloc((size_t)n_values * sizeof *s.values);
    s.lrs = malloc((size_t)n_lrs * sizeof *s.lrs);
    s.loss = calloc(cells, sizeof *s.loss);
    s.runs = calloc(cells, sizeof *s.runs);
    s.per_value = calloc((size_t)n_values, sizeof *s.per_value);
    if (!s.values || !s.lrs || !s.loss || !s.runs || !s.per_value) {
        mn_study_summary_free(&s);
        return mn_fail(MN_ERR_NOMEM, "out of memory summarizing a sweep");
    }
    memcpy(s.values, values, (size_t)n_values * sizeof *s.values);
    memcpy(s.lrs, lrs, (size_t)n_lrs * sizeof *s.lrs);
    qsort(s.values, (size_t)n_values, sizeof *s.values, cmp_i64);
    qsort(s.lrs, (size_t)n_lrs, sizeof *s.lrs, cmp_double);

    /* Seed means; a diverged seed makes the cell +∞. */
    for (size_t r = 0; r < n; r++) {
        if (n_seeds > 0 && rows[r].seed >= n_seeds)
            continue;
        int i = -1, j = -1;
        for (int a = 0; a < n_values; a++)
            if (s.values[a] == rows[r].value)
                i = a;
        for (int b = 0; b < n_lrs; b++)
            if (mn_study_same_lr(s.lrs[b], rows[r].lr))
                j = b;
        if (i < 0 || j < 0)
            continue;
        size_t c = (size_t)i * (size_t)n_lrs + (size_t)j;
        double v = rows[r].diverged || !isfinite(rows[r].train_loss) ? INFINITY
                                                                      : rows[r].train_loss;
        s.loss[c] += v;
        s.runs[c]++;
    }
    for (size_t c = 0; c < cells; c++)
        s.loss[c] = s.runs[c] ? s.loss[c] / s.runs[c] : NAN;
    argmins(&s);
    slope_and_spread(&s);
    regret(&s);
    *out = s;
    return MN_OK;
}

/* ---- JSON ------------------------------------------------------------------ */

/* JSON has no infinity or NaN: non-finite numbers are null. */
static json_t *number(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* Steals `value`; false when it or the insertion failed. */
static bool put(json_t *obj, const char *key, json_t *value)
{
    return value && json_object_set_new(obj, key, value) == 0;
}

static json_t *summary_json(const mn_study_summary *s)
{
    json_t *root = json_object(), *per = json_array(), *reg = json_object();
    bool ok = root && per && reg;
    for (int i = 0; ok && i < s->n_values; i++) {
        const mn_study_point *pv = &s->per_value[i];
        json_t *o = json_object();
        ok = o && put(o, s->param, json_integer((json_int_t)pv->value)) &&
             put(o, "best_lr", number(pv->best_lr)) &&
             put(o, "best_lr_refined", number(pv->best_lr_refined)) &&
             put(o, "loss", number(pv->loss)) && put(o, "at_edge", json_boolean(pv->at_edge)) &&
             json_array_append_new(per, o) == 0;
        if (!ok)
            json_decref(o);
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)pv->value);
        ok = ok && put(reg, key, number(pv->regret));
    }
    char per_key[MN_STUDY_MAX_PARAM + 8];
    snprintf(per_key, sizeof per_key, "per_%s", s->param);
    if (ok && put(root, per_key, per)) {
        per = NULL;
        ok = put(root, "slope", number(s->slope)) && put(root, "spread", number(s->spread));
        if (ok && put(root, "regret", reg)) {
            reg = NULL;
            ok = put(root, "monotone",
                     s->n_values >= 2 ? json_boolean(s->monotone) : json_null());
        }
    } else {
        ok = false;
    }
    json_decref(per);
    json_decref(reg);
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

mn_status mn_study_summary_json(const mn_study_summary *s, char **text)
{
    if (!s || !text)
        return mn_fail(MN_ERR_ARG, "mn_study_summary_json: %s is NULL", s ? "text" : "s");
    *text = NULL;
    if (!mn_study_param_valid(s->param) || (s->n_values > 0 && !s->per_value))
        return mn_fail(MN_ERR_ARG, "mn_study_summary_json: the summary is empty or freed");
    json_t *root = summary_json(s);
    char *out = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                            JSON_REAL_PRECISION(17))
                     : NULL;
    json_decref(root);
    if (!out)
        return mn_fail(MN_ERR_NOMEM, "out of memory writing a sweep summary as JSON");
    *text = out;
    return MN_OK;
}

mn_status mn_study_write_summary(const char *path, const mn_study_summary *s)
{
    if (!path)
        return mn_fail(MN_ERR_ARG, "mn_study_write_summary: path is NULL");
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return mn_fail(MN_ERR_ARG, "path too long: %s", path);
    char *text;
    MN_TRY(mn_study_summary_json(s, &text));
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int e = errno;
        free(text);
        return mn_fail(MN_ERR_IO, "cannot write %s: %s", tmp, strerror(e));
    }
    bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    free(text);
    ok = !ferror(f) && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return mn_fail(MN_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    return MN_OK;
}
