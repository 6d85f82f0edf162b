/* Grids of a study: learning rates, values of a size parameter, the
 * "NAME=LIST" form, and the learning rates of a quick sweep. Pure functions:
 * the CLI's option table calls them and prefixes its option's name to the
 * message. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/number.h"
#include "modnorm/optim.h"
#include "modnorm/study.h"

/* A positive finite number: "0.001", "1e-3" or "2^-10" (core/number.h). */
static bool parse_number(const char *s, size_t len, double *out)
{
    double v;
    if (!mn_number_real(s, len, &v) || !(v > 0))
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

bool mn_study_same_lr(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)); }

/* Free v, clear the outputs, and fail with the message. */
#define REFUSE(v, ...)                                                                             \
    do {                                                                                           \
        free(v);                                                                                   \
        return mn_fail(MN_ERR_ARG, __VA_ARGS__);                                                   \
    } while (0)

mn_status mn_study_parse_lrs(const char *text, double **out, int *n)
{
    if (!out || !n)
        return mn_fail(MN_ERR_ARG, "mn_study_parse_lrs: out or n is NULL");
    *out = NULL;
    *n = 0;
    if (!text)
        return mn_fail(MN_ERR_ARG, "mn_study_parse_lrs: text is NULL");
    double *v = malloc(MN_STUDY_MAX_LRS * sizeof *v);
    if (!v)
        return mn_fail(MN_ERR_NOMEM, "'%s': out of memory", text);
    int k = 0;
    const char *colon = strchr(text, ':');
    if (colon) {
        double a, b;
        const char *why_a = mn_number_real_why(text, (size_t)(colon - text)),
                   *why_b = mn_number_real_why(colon + 1, strlen(colon + 1));
        if (why_a)
            REFUSE(v, "'%s': '%.*s': %s", text, (int)(colon - text), text, why_a);
        if (why_b)
            REFUSE(v, "'%s': '%s': %s", text, colon + 1, why_b);
        if (strchr(text, ',') || !parse_number(text, (size_t)(colon - text), &a) ||
            !parse_number(colon + 1, strlen(colon + 1), &b))
            REFUSE(v, "'%s': a range is A:B with positive numbers such as 2^-10:2^2 or "
                   "0.001:0.5", text);
        if (b < a)
            REFUSE(v, "'%s': the range is empty (%g > %g)", text, a, b);
        for (double x = a; x <= b * (1 + 1e-9); x *= 2) {
            if (k == MN_STUDY_MAX_LRS)
                REFUSE(v, "'%s' spans more than %d octaves", text, MN_STUDY_MAX_LRS);
            v[k++] = x;
        }
    } else {
        const char *p = text;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            double x;
            const char *why = mn_number_real_why(p, len);
            if (why)
                REFUSE(v, "'%s': '%.*s': %s", text, (int)len, p, why);
            if (!parse_number(p, len, &x))
                REFUSE(v, "'%s': '%.*s' is not a positive number (write 0.01, 1e-2 or 2^-7; a "
                       "range is A:B)", text, (int)len, p);
            if (k == MN_STUDY_MAX_LRS)
                REFUSE(v, "'%s' lists more than %d rates", text, MN_STUDY_MAX_LRS);
            /* a repeat is a typo, or a cell that would train twice as many seeds */
            for (int i = 0; i < k; i++)
                if (mn_study_same_lr(v[i], x)) {
                    double was = v[i]; /* REFUSE frees v */
                    REFUSE(v, "'%s': '%.*s' repeats the rate %g", text, (int)len, p, was);
                }
            v[k++] = x;
            if (!comma)
                break;
            p = comma + 1;
        }
        qsort(v, (size_t)k, sizeof *v, cmp_double);
    }
    *out = v;
    *n = k;
    return MN_OK;
}

mn_status mn_study_parse_values(const char *text, int64_t lo, int64_t hi, int64_t **out, int *n)
{
    if (!out || !n)
        return mn_fail(MN_ERR_ARG, "mn_study_parse_values: out or n is NULL");
    *out = NULL;
    *n = 0;
    if (!text)
        return mn_fail(MN_ERR_ARG, "mn_study_parse_values: text is NULL");
    if (lo > hi)
        return mn_fail(MN_ERR_ARG, "mn_study_parse_values: the range [%lld, %lld] is empty",
                       (long long)lo, (long long)hi);
    int64_t *v = malloc(MN_STUDY_MAX_VALUES * sizeof *v);
    if (!v)
        return mn_fail(MN_ERR_NOMEM, "'%s': out of memory", text);
    int k = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int64_t x = 0;
        bool ok = mn_number_int(p, len, &x) && x >= lo && x <= hi; /* "64" or "2^6" */
        if (!ok)
            REFUSE(v, "'%s': '%.*s' is not an integer in [%lld, %lld] (write a comma list such "
                   "as 64,128,256 or 2^6,2^7)", text, (int)len, p, (long long)lo, (long long)hi);
        if (k == MN_STUDY_MAX_VALUES)
            REFUSE(v, "'%s' lists more than %d values", text, MN_STUDY_MAX_VALUES);
        for (int i = 0; i < k; i++)
            if (v[i] == x)
                REFUSE(v, "'%s': %lld is listed twice", text, (long long)x);
        v[k++] = x;
        if (!comma)
            break;
        p = comma + 1;
    }
    qsort(v, (size_t)k, sizeof *v, cmp_i64);
    *out = v;
    *n = k;
    return MN_OK;
}

static bool param_valid_len(const char *s, size_t len)
{
    if (len == 0 || len >= MN_STUDY_MAX_PARAM || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

bool mn_study_param_valid(const char *param) { return param && param_valid_len(param, strlen(param)); }

mn_status mn_study_parse_over(const char *text, char param[MN_STUDY_MAX_PARAM], const char **list)
{
    if (!text || !param || !list)
        return mn_fail(MN_ERR_ARG, "mn_study_parse_over: an argument is NULL");
    const char *eq = strchr(text, '=');
    if (!eq || !param_valid_len(text, (size_t)(eq - text)) || eq[1] == '\0')
        return mn_fail(MN_ERR_ARG, "'%s' must be NAME=LIST with NAME a size parameter (letters, "
                       "digits, _; at most %d characters) and LIST its values, e.g. "
                       "depth=2,4,8,16", text, MN_STUDY_MAX_PARAM - 1);
    memcpy(param, text, (size_t)(eq - text));
    param[eq - text] = '\0';
    *list = eq + 1;
    return MN_OK;
}

mn_status mn_study_quick_lrs(const char *opt, mn_param param, double lrs[MN_STUDY_QUICK_LRS])
{
    static const struct {
        const char *opt;
        int modular, sp;
    } centers[] = {{"muon", -2, -4}, {"sgd", 1, 0}, {"sign", -7, -9}, {"adam", -7, -6},
                   {"adamw", -7, -6}};
    mn_solver_config cfg;
    if (!lrs)
        return mn_fail(MN_ERR_ARG, "mn_study_quick_lrs: lrs is NULL");
    MN_TRY(mn_solver_preset(&cfg, opt, param));
    int center = (int)lround(log2(cfg.lr)); /* a preset measured nowhere: its own rate */
    for (size_t i = 0; i < sizeof centers / sizeof centers[0]; i++)
        if (strcmp(opt, centers[i].opt) == 0)
            center = param == MN_PARAM_SP ? centers[i].sp : centers[i].modular;
    for (int k = 0; k < MN_STUDY_QUICK_LRS; k++)
        lrs[k] = ldexp(1, center - MN_STUDY_QUICK_LRS / 2 + k);
    return MN_OK;
}
