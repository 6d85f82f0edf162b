/* The pure parts of `modnorm sweep`: grids, the results CSV, the summary. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sweep_summary.h"
#include "core/error.h"

/* ---- grids --------------------------------------------------------------- */

/* A positive finite number: "0.001", "1e-3" or "2^-10". */
static bool parse_number(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double v;
    errno = 0;
    if (strncmp(buf, "2^", 2) == 0) {
        double e = strtod(buf + 2, &end);
        if (end == buf + 2 || *end || errno || !(fabs(e) <= 200))
            return false;
        v = exp2(e);
    } else {
        v = strtod(buf, &end);
        if (end == buf || *end || errno)
            return false;
    }
    if (!(v > 0) || !isfinite(v))
        return false;
    *out = v;
    return true;
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

bool mn_sweep_same_lr(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)); }

bool mn_sweep_parse_lrs(const char *text, double **out, int *n, char *err, size_t cap)
{
    *out = NULL;
    *n = 0;
    double *v = malloc(MN_SWEEP_MAX_LRS * sizeof *v);
    if (!v) {
        snprintf(err, cap, "out of memory");
        return false;
    }
    int k = 0;
    const char *colon = strchr(text, ':');
    if (colon) {
        double a, b;
        if (strchr(text, ',') || !parse_number(text, (size_t)(colon - text), &a) ||
            !parse_number(colon + 1, strlen(colon + 1), &b)) {
            snprintf(err, cap, "--lrs '%s': a range is A:B with positive numbers such as "
                     "2^-10:2^2 or 0.001:0.5", text);
            free(v);
            return false;
        }
        if (b < a) {
            snprintf(err, cap, "--lrs '%s': the range is empty (%g > %g)", text, a, b);
            free(v);
            return false;
        }
        for (double x = a; x <= b * (1 + 1e-9); x *= 2) {
            if (k == MN_SWEEP_MAX_LRS) {
                snprintf(err, cap, "--lrs '%s' spans more than %d octaves", text,
                         MN_SWEEP_MAX_LRS);
                free(v);
                return false;
            }
            v[k++] = x;
        }
    } else {
        const char *p = text;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            double x;
            if (!parse_number(p, len, &x)) {
                snprintf(err, cap, "--lrs '%s': '%.*s' is not a positive number (write 0.01, "
                         "1e-2 or 2^-7; a range is A:B)", text, (int)len, p);
                free(v);
                return false;
            }
            if (k == MN_SWEEP_MAX_LRS) {
                snprintf(err, cap, "--lrs '%s' lists more than %d rates", text,
                         MN_SWEEP_MAX_LRS);
                free(v);
                return false;
            }
            v[k++] = x;
            if (!comma)
                break;
            p = comma + 1;
        }
        qsort(v, (size_t)k, sizeof *v, cmp_double);
        int u = 0;
        for (int i = 0; i < k; i++)
            if (u == 0 || !mn_sweep_same_lr(v[u - 1], v[i]))
                v[u++] = v[i];
        k = u;
    }
    *out = v;
    *n = k;
    return true;
}

bool mn_sweep_parse_widths(const char *text, int64_t **out, int *n, char *err, size_t cap)
{
    *out = NULL;
    *n = 0;
    int64_t *v = malloc(MN_SWEEP_MAX_WIDTHS * sizeof *v);
    if (!v) {
        snprintf(err, cap, "out of memory");
        return false;
    }
    int k = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char buf[32], *end;
        long w = 0;
        bool ok = len > 0 && len < sizeof buf;
        if (ok) {
            memcpy(buf, p, len);
            buf[len] = '\0';
            errno = 0;
            w = strtol(buf, &end, 10);
            ok = end != buf && !*end && !errno && w >= 1 && w <= 65536;
        }
        if (!ok) {
            snprintf(err, cap, "--widths '%s': '%.*s' is not an integer in [1, 65536] "
                     "(write a comma list such as 64,128,256)", text, (int)len, p);
            free(v);
            return false;
        }
        if (k == MN_SWEEP_MAX_WIDTHS) {
            snprintf(err, cap, "--widths '%s' lists more than %d widths", text,
                     MN_SWEEP_MAX_WIDTHS);
            free(v);
            return false;
        }
        v[k++] = w;
        if (!comma)
            break;
        p = comma + 1;
    }
    qsort(v, (size_t)k, sizeof *v, cmp_i64);
    int u = 0;
    for (int i = 0; i < k; i++)
        if (u == 0 || v[u - 1] != v[i])
            v[u++] = v[i];
    *out = v;
    *n = u;
    return true;
}

/* ---- CSV ----------------------------------------------------------------- */

void mn_sweep_format_row(char *buf, size_t cap, const mn_sweep_row *r)
{
    snprintf(buf, cap, "%lld,%.17g,%d,%.17g,%.17g,%.17g,%d", (long long)r->width, r->lr, r->seed,
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

bool mn_sweep_parse_row(const char *line, mn_sweep_row *r)
{
    char buf[512];
    size_t len = strcspn(line, "\r\n");
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, line, len);
    buf[len] = '\0';
    const char *p = buf;
    char *end;
    errno = 0;
    long long w = strtoll(p, &end, 10);
    if (end == p || *end != ',' || errno || w < 1)
        return false;
    p = end + 1;
    double lr, seed, d;
    if (!field_double(&p, &lr, ',') || !(lr > 0) || !field_double(&p, &seed, ',') ||
        seed < 0 || seed != floor(seed) || seed > 1e9 || !field_double(&p, &r->train_loss, ',') ||
        !field_double(&p, &r->test_loss, ',') || !field_double(&p, &r->test_acc, ',') ||
        !field_double(&p, &d, '\0') || (d != 0 && d != 1))
        return false;
    r->width = w;
    r->lr = lr;
    r->seed = (int)seed;
    r->diverged = d == 1;
    return true;
}

mn_status mn_sweep_read_csv(const char *path, mn_sweep_row **rows, size_t *n, int *bad)
{
    *rows = NULL;
    *n = 0;
    if (bad)
        *bad = 0;
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
    if (strcmp(line, MN_SWEEP_CSV_HEADER) != 0) {
        fclose(f);
        return mn_fail(MN_ERR_FORMAT, "%s starts with '%s', not the header '%s'", path, line,
                       MN_SWEEP_CSV_HEADER);
    }
    size_t cap = 0;
    mn_sweep_row *v = NULL;
    while (fgets(line, sizeof line, f)) {
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        mn_sweep_row r;
        if (!mn_sweep_parse_row(line, &r)) {
            if (bad)
                (*bad)++;
            continue;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            mn_sweep_row *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                free(v);
                fclose(f);
                *n = 0;
                return mn_fail(MN_ERR_NOMEM, "out of memory reading %s", path);
            }
            v = nv;
        }
        v[(*n)++] = r;
    }
    fclose(f);
    *rows = v;
    return MN_OK;
}

/* ---- summary ------------------------------------------------------------- */

double mn_sweep_parabola_vertex(double x0, double f0, double x1, double f1, double x2, double f2)
{
    /* f = a x² + b x + c through the three points; vertex at −b/(2a). */
    double d0 = (x1 - x0) * (f1 - f2), d2 = (x1 - x2) * (f1 - f0);
    double den = d0 - d2;
    double num = (x1 - x0) * d0 - (x1 - x2) * d2;
    double lo = fmin(x0, fmin(x1, x2)), hi = fmax(x0, fmax(x1, x2));
    /* a > 0 ⇔ the parabola opens upward; with x0 < x1 < x2 that is den·(x2−x0) < 0. */
    double a = ((f2 - f1) / (x2 - x1) - (f1 - f0) / (x1 - x0)) / (x2 - x0);
    if (!(a > 0) || den == 0 || !isfinite(num / den))
        return x1;
    double x = x1 - 0.5 * num / den;
    return x < lo ? lo : x > hi ? hi : x;
}

void mn_sweep_summary_free(mn_sweep_summary *s)
{
    if (!s)
        return;
    free(s->widths);
    free(s->lrs);
    free(s->loss);
    free(s->runs);
    free(s->per_width);
    *s = (mn_sweep_summary){0};
}

/* NAN (no run) and +INF (diverged) both lose every argmin. */
static double rank_value(double v) { return isnan(v) ? INFINITY : v; }

mn_status mn_sweep_summarize(const mn_sweep_row *rows, size_t n, const int64_t *widths,
                             int n_widths, const double *lrs, int n_lrs, int n_seeds,
                             mn_sweep_summary *out)
{
    *out = (mn_sweep_summary){0};
    if (n_widths < 1 || n_lrs < 1)
        return mn_fail(MN_ERR_ARG, "a sweep summary needs at least one width and one LR");
    mn_sweep_summary s = {.n_widths = n_widths, .n_lrs = n_lrs, .anchor = -1};
    size_t cells = (size_t)n_widths * (size_t)n_lrs;
    s.widths = malloc((size_t)n_widths * sizeof *s.widths);
    s.lrs = malloc((size_t)n_lrs * sizeof *s.lrs);
    s.loss = calloc(cells, sizeof *s.loss);
    s.runs = calloc(cells, sizeof *s.runs);
    s.per_width = calloc((size_t)n_widths, sizeof *s.per_width);
    if (!s.widths || !s.lrs || !s.loss || !s.runs || !s.per_width) {
        mn_sweep_summary_free(&s);
        return mn_fail(MN_ERR_NOMEM, "out of memory summarizing a sweep");
    }
    memcpy(s.widths, widths, (size_t)n_widths * sizeof *s.widths);
    memcpy(s.lrs, lrs, (size_t)n_lrs * sizeof *s.lrs);
    qsort(s.widths, (size_t)n_widths, sizeof *s.widths, cmp_i64);
    qsort(s.lrs, (size_t)n_lrs, sizeof *s.lrs, cmp_double);

    /* Seed means; a diverged seed makes the cell +∞. */
    for (size_t r = 0; r < n; r++) {
        if (n_seeds > 0 && rows[r].seed >= n_seeds)
            continue;
        int i = -1, j = -1;
        for (int a = 0; a < n_widths; a++)
            if (s.widths[a] == rows[r].width)
                i = a;
        for (int b = 0; b < n_lrs; b++)
            if (mn_sweep_same_lr(s.lrs[b], rows[r].lr))
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

    /* Per width: argmin on the grid, then a parabola in log2 η through it. */
    for (int i = 0; i < n_widths; i++) {
        const double *L = s.loss + (size_t)i * (size_t)n_lrs;
        mn_sweep_width *pw = &s.per_width[i];
        *pw = (mn_sweep_width){.width = s.widths[i], .best = -1, .best_lr = NAN,
                               .best_lr_refined = NAN, .loss = NAN, .regret = NAN};
        double best = INFINITY;
        for (int j = 0; j < n_lrs; j++)
            if (rank_value(L[j]) < best) {
                best = L[j];
                pw->best = j;
            }
        if (pw->best < 0)
            continue;
        int j = pw->best;
        pw->best_lr = pw->best_lr_refined = s.lrs[j];
        pw->loss = L[j];
        const int *R = s.runs + (size_t)i * (size_t)n_lrs;
        pw->at_edge = j == 0 || j == n_lrs - 1 || R[j - 1] == 0 || R[j + 1] == 0;
        if (!pw->at_edge && isfinite(L[j - 1]) && isfinite(L[j + 1]))
            pw->best_lr_refined = exp2(mn_sweep_parabola_vertex(
                log2(s.lrs[j - 1]), L[j - 1], log2(s.lrs[j]), L[j], log2(s.lrs[j + 1]),
                L[j + 1]));
    }

    /* Slope (least squares of log2 η* on log2 w) and spread over the widths
     * that have an η*. */
    double sx = 0, sy = 0, sxx = 0, sxy = 0, lo = INFINITY, hi = -INFINITY;
    int m = 0;
    for (int i = 0; i < n_widths; i++) {
        if (s.per_width[i].best < 0)
            continue;
        double x = log2((double)s.widths[i]), y = log2(s.per_width[i].best_lr_refined);
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
        lo = fmin(lo, y);
        hi = fmax(hi, y);
        m++;
    }
    double den = m * sxx - sx * sx;
    s.slope = m >= 2 && den > 0 ? (m * sxy - sx * sy) / den : NAN;
    s.spread = m >= 1 ? hi - lo : NAN;

    /* Regret and monotone at the grid LR nearest the smallest width's η*. */
    s.monotone = false;
    if (s.per_width[0].best >= 0) {
        double target = log2(s.per_width[0].best_lr_refined), dist = INFINITY;
        for (int j = 0; j < n_lrs; j++) {
            double d = fabs(log2(s.lrs[j]) - target);
            if (d < dist - 1e-12) {
                dist = d;
                s.anchor = j;
            }
        }
        s.monotone = true;
        double prev = INFINITY;
        for (int i = 0; i < n_widths; i++) {
            double at = s.loss[(size_t)i * (size_t)n_lrs + (size_t)s.anchor];
            mn_sweep_width *pw = &s.per_width[i];
            if (pw->best >= 0)
                pw->regret = isfinite(at) ? at - pw->loss : INFINITY;
            if (!isfinite(at) || !(at < prev))
                s.monotone = false;
            prev = at;
        }
    }
    *out = s;
    return MN_OK;
}

static void num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

void mn_sweep_summary_json(FILE *f, const mn_sweep_summary *s)
{
    fputs("{\n  \"per_width\": [\n", f);
    for (int i = 0; i < s->n_widths; i++) {
        const mn_sweep_width *pw = &s->per_width[i];
        fprintf(f, "    {\"width\": %lld, \"best_lr\": ", (long long)pw->width);
        num(f, pw->best_lr);
        fputs(", \"best_lr_refined\": ", f);
        num(f, pw->best_lr_refined);
        fputs(", \"loss\": ", f);
        num(f, pw->loss);
        fprintf(f, ", \"at_edge\": %s}%s\n", pw->at_edge ? "true" : "false",
                i + 1 < s->n_widths ? "," : "");
    }
    fputs("  ],\n  \"slope\": ", f);
    num(f, s->slope);
    fputs(",\n  \"spread\": ", f);
    num(f, s->spread);
    fputs(",\n  \"regret\": {", f);
    for (int i = 0; i < s->n_widths; i++) {
        fprintf(f, "%s\"%lld\": ", i ? ", " : "", (long long)s->widths[i]);
        num(f, s->per_width[i].regret);
    }
    fprintf(f, "},\n  \"monotone\": %s\n}\n", s->monotone ? "true" : "false");
}

mn_status mn_sweep_write_summary(const char *path, const mn_sweep_summary *s)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return mn_fail(MN_ERR_ARG, "path too long: %s", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return mn_fail(MN_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    mn_sweep_summary_json(f, s);
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return mn_fail(MN_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    return MN_OK;
}
