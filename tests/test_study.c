/* The study layer (modnorm/train.h, modnorm/study.h): grids, the results
 * CSV, the summary math on synthetic results, training settings, the fit
 * loop on a small synthetic dataset (callbacks, epochs, divergence), and
 * sweeps through the library: the fixtures made with the CLI before the
 * move (tests/data/study/sweep-muon, sweep-sgd) reproduced row by row and
 * value by value, resuming, refusals that leave no trace, and a sweep over
 * depth. */
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"


static void setup(void) { tm_dir_make("study"); }


#define slurp tm_text_of

static bool exists(const char *path) { return access(path, F_OK) == 0; }

static bool starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

static int entries(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", path);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

/* |a − b| <= tol·max(|a|, |b|), both infinite of one sign, or both NaN. */
static bool close_rel(double a, double b, double tol, double *worst)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b))
        return a == b;
    double m = fmax(fabs(a), fabs(b)), d = fabs(a - b);
    double r = m > 0 ? d / m : 0;
    if (worst && r > *worst)
        *worst = r;
    return d <= tol * m;
}

/* ---- grids ------------------------------------------------------------------- */

START_TEST(test_parse_lrs)
{
    double *v;
    int n;
    ck_assert_ok(mn_study_parse_lrs("2^-10:2^2", &v, &n));
    ck_assert_int_eq(n, 13);
    for (int i = 0; i < n; i++)
        ck_assert_double_eq(v[i], ldexp(1, i - 10));
    free(v);
    ck_assert_ok(mn_study_parse_lrs("0.001:0.5", &v, &n)); /* A, 2A, ... up to B */
    ck_assert_int_eq(n, 9);
    ck_assert_double_eq_tol(v[8], 0.256, 1e-12);
    free(v);
    ck_assert_ok(mn_study_parse_lrs("0.125:0.125", &v, &n));
    ck_assert_int_eq(n, 1);
    free(v);
    /* A list is sorted, forms mixed. */
    ck_assert_ok(mn_study_parse_lrs("0.5,2^-3,1e-1", &v, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_double_eq(v[0], 0.1);
    ck_assert_double_eq(v[1], 0.125);
    ck_assert_double_eq(v[2], 0.5);
    free(v);
    /* A rate named twice, in any spelling, is refused, naming it. */
    static const struct {
        const char *text, *msg;
    } twice[] = {{"0.1,0.1", "'0.1,0.1': '0.1' repeats the rate 0.1"},
                 {"0.5,2^-3,1e-1,0.125", "'0.125' repeats the rate 0.125"},
                 {"2^-1,0.25,0.50000000000000001", "'0.50000000000000001' repeats the rate 0.5"}};
    for (size_t i = 0; i < sizeof twice / sizeof twice[0]; i++) {
        ck_assert_int_eq(mn_study_parse_lrs(twice[i].text, &v, &n), MN_ERR_ARG);
        ck_assert_ptr_null(v);
        ck_assert_msg(strstr(mn_last_error(), twice[i].msg), "'%s': '%s'", twice[i].text,
                      mn_last_error());
    }
    static const char *bad[] = {"", "2^x:1", "1:0.5", "0:1", "-1", "0.1,,0.2", "a", "2^-3:",
                                ":2", "1,2:3", "2^-1000", "nan", "inf", "1e-3:1e30", " 0.1",
                                "0.1 ", "0x1p-3", "1e-3x", "2^ -3", "infinity", "2^inf", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mn_clear_error();
        ck_assert_msg(mn_study_parse_lrs(bad[i], &v, &n) == MN_ERR_ARG, "'%s' accepted", bad[i]);
        ck_assert_ptr_null(v);
        ck_assert_int_eq(n, 0);
        /* The message quotes the text; the caller names its option. */
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        ck_assert_msg(strstr(mn_last_error(), quoted), "'%s': message '%s'", bad[i],
                      mn_last_error());
    }
}
END_TEST

START_TEST(test_parse_values_and_over)
{
    int64_t *v;
    int n;
    ck_assert_ok(mn_study_parse_values("256,64,128", 1, 65536, &v, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(v[0], 64);
    ck_assert_int_eq(v[1], 128);
    ck_assert_int_eq(v[2], 256);
    free(v);
    /* A value listed twice is refused, naming it. */
    ck_assert_int_eq(mn_study_parse_values("256,64,128,64", 1, 65536, &v, &n), MN_ERR_ARG);
    ck_assert_ptr_null(v);
    ck_assert_str_eq(mn_last_error(), "'256,64,128,64': 64 is listed twice");
    /* 2^K as the integer options take it (core/number.h): exact integers
     * only; "+64" reads as 64, as --width +64 does. */
    ck_assert_ok(mn_study_parse_values("2^8,+64,2^7", 1, 65536, &v, &n));
    ck_assert(n == 3 && v[0] == 64 && v[1] == 128 && v[2] == 256);
    free(v);
    ck_assert_int_eq(mn_study_parse_values("64,2^6", 1, 65536, &v, &n), MN_ERR_ARG);
    ck_assert_str_eq(mn_last_error(), "'64,2^6': 64 is listed twice");
    static const char *bad[] = {"", "64,abc", "0", "-64", "64,", ",64", "1.5", "65537", "64 128",
                                " 64", "99999999999999999999", "2^-1", "2^0.5", "2^17", "2^",
                                "2^x", "2^+6", "-2^6", "2^63", "2^99999999999999999999",
                                "1e3", "2^6 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(mn_study_parse_values(bad[i], 1, 65536, &v, &n) == MN_ERR_ARG,
                      "'%s' accepted", bad[i]);
        ck_assert_ptr_null(v);
        ck_assert_msg(strstr(mn_last_error(), "[1, 65536]") || strstr(mn_last_error(), "more"),
                      "'%s': message '%s'", bad[i], mn_last_error());
    }
    /* The range is the caller's: depth in [1, 100]. */
    ck_assert_int_eq(mn_study_parse_values("2,101", 1, 100, &v, &n), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "'101'"));
    char many[256] = "1";
    for (int i = 2; i <= MN_STUDY_MAX_VALUES + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), ",%d", i);
    ck_assert_int_eq(mn_study_parse_values(many, 1, 1000, &v, &n), MN_ERR_ARG);

    char param[MN_STUDY_MAX_PARAM];
    const char *list;
    ck_assert_ok(mn_study_parse_over("depth=2,4,8,16", param, &list));
    ck_assert_str_eq(param, "depth");
    ck_assert_str_eq(list, "2,4,8,16");
    ck_assert_ok(mn_study_parse_values(list, 1, 100, &v, &n));
    ck_assert_int_eq(n, 4);
    free(v);
    ck_assert_ok(mn_study_parse_over("n_heads=1", param, &list));
    ck_assert_str_eq(param, "n_heads");
    static const char *bad_over[] = {"depth", "=2,4", "depth=", "2depth=4", "de-pth=4",
                                     "a234567890123456789012345678901234=1", "dep th=2"};
    for (size_t i = 0; i < sizeof bad_over / sizeof bad_over[0]; i++)
        ck_assert_msg(mn_study_parse_over(bad_over[i], param, &list) == MN_ERR_ARG,
                      "'%s' accepted", bad_over[i]);
    ck_assert(mn_study_param_valid("width"));
    ck_assert(!mn_study_param_valid(""));
    ck_assert(!mn_study_param_valid(NULL));
    ck_assert(!mn_study_param_valid("width,lr"));
}
END_TEST

START_TEST(test_quick_lrs)
{
    double lrs[MN_STUDY_QUICK_LRS];
    /* Five octaves around the measured centers (what --quick always used). */
    ck_assert_ok(mn_study_quick_lrs("muon", MN_PARAM_MODULAR, lrs));
    for (int k = 0; k < MN_STUDY_QUICK_LRS; k++)
        ck_assert_double_eq(lrs[k], ldexp(1, -4 + k));
    ck_assert_ok(mn_study_quick_lrs("muon", MN_PARAM_SP, lrs));
    ck_assert_double_eq(lrs[2], ldexp(1, -4));
    ck_assert_ok(mn_study_quick_lrs("sgd", MN_PARAM_MODULAR, lrs));
    ck_assert_double_eq(lrs[0], 0.5);
    ck_assert_double_eq(lrs[4], 8);
    ck_assert_ok(mn_study_quick_lrs("sign", MN_PARAM_SP, lrs));
    ck_assert_double_eq(lrs[2], ldexp(1, -9));
    ck_assert_ok(mn_study_quick_lrs("adamw", MN_PARAM_MODULAR, lrs));
    ck_assert_double_eq(lrs[2], ldexp(1, -7));
    ck_assert_int_eq(mn_study_quick_lrs("nope", MN_PARAM_MODULAR, lrs), MN_ERR_ARG);
}
END_TEST

/* ---- the results CSV ----------------------------------------------------------- */

START_TEST(test_csv_rows)
{
    char header[128];
    /* For width, the header `modnorm sweep` always wrote. */
    ck_assert_ok(mn_study_csv_header("width", header, sizeof header));
    ck_assert_str_eq(header, "width,lr,seed,train_loss,test_loss,test_acc,diverged");
    ck_assert_ok(mn_study_csv_header("depth", header, sizeof header));
    ck_assert_str_eq(header, "depth,lr,seed,train_loss,test_loss,test_acc,diverged");
    ck_assert_int_eq(mn_study_csv_header("a,b", header, sizeof header), MN_ERR_ARG);
    ck_assert_int_eq(mn_study_csv_header("width", header, 8), MN_ERR_ARG);

    mn_study_row r = {.value = 256, .lr = ldexp(1, -7) * 3, .seed = 2, .train_loss = 0.4321,
                      .test_loss = 0.5, .test_acc = 0.875}, q;
    char line[512];
    mn_study_format_row(line, sizeof line, &r);
    ck_assert(mn_study_parse_row(line, &q));
    ck_assert_int_eq(q.value, 256);
    ck_assert_double_eq(q.lr, r.lr); /* exact round trips */
    ck_assert_double_eq(q.train_loss, r.train_loss);
    ck_assert_int_eq(q.seed, 2);
    ck_assert(!q.diverged);
    r.train_loss = r.test_loss = INFINITY;
    r.test_acc = NAN; /* a run stopped on a non-finite loss: no accuracy measured */
    r.diverged = true;
    mn_study_format_row(line, sizeof line, &r);
    ck_assert_str_eq(line, "256,0.0234375,2,inf,inf,nan,1");
    ck_assert(mn_study_parse_row(line, &q));
    ck_assert(isinf(q.train_loss) && isnan(q.test_acc) && q.diverged);
    /* such a row from before (accuracy 0, as results/gpt-transfer's hold) reads back */
    ck_assert(mn_study_parse_row("8,0.03125,0,inf,inf,0,1", &q));
    ck_assert(isinf(q.train_loss) && q.test_acc == 0 && q.diverged);
    static const char *bad[] = {"", "64,0.1,0,0.5,0.5,0.8", "64,0.1,0,0.5,0.5,0.8,2",
                                "x,0.1,0,0.5,0.5,0.8,0", "64,-1,0,0.5,0.5,0.8,0",
                                "64,0.1,0.5,0.5,0.5,0.8,0", "64,0.1,0,0.5,0.5,0.8,0,9",
                                "64,0.1,0,0.5", "0,0.1,0,0.5,0.5,0.8,0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!mn_study_parse_row(bad[i], &q), "'%s' parsed", bad[i]);

    char path[256];
    snprintf(path, sizeof path, "%s/results.csv", tm_dir);
    mn_study_row *rows;
    size_t n;
    int bad_lines;
    ck_assert_ok(mn_study_read_csv(path, "width", &rows, &n, &bad_lines)); /* missing: empty */
    ck_assert_uint_eq(n, 0);
    FILE *f = fopen(path, "w");
    fprintf(f, "depth,lr,seed,train_loss,test_loss,test_acc,diverged\n4,0.5,0,0.4,0.45,0.85,0\n\n"
               "8,0.25,0,inf,inf,0,1\n2,0.125,0,0.4,0.4,0.8,0");
    fclose(f);
    ck_assert_ok(mn_study_read_csv(path, "depth", &rows, &n, &bad_lines));
    ck_assert_uint_eq(n, 3); /* a blank line skipped; a complete last line needs no newline */
    ck_assert_int_eq(rows[1].value, 8);
    ck_assert(rows[1].diverged && isinf(rows[1].train_loss));
    ck_assert_int_eq(bad_lines, 0);
    free(rows);
    /* A sweep over width cannot read a sweep over depth. */
    ck_assert_int_eq(mn_study_read_csv(path, "width", &rows, &n, NULL), MN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "header"));
    f = fopen(path, "w");
    fprintf(f, "width,lr,seed,train_loss,test_loss,test_acc,diverged\n64,0.5,0,0.4,0.45,0.85,0\n"
               "64,0.25,0,0.4,0.4");
    fclose(f);
    ck_assert_ok(mn_study_read_csv(path, "width", &rows, &n, &bad_lines));
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(bad_lines, 1);
    free(rows);
}
END_TEST

/* Two rows of one run (an edited or corrupted file) are refused, naming the
 * file, both lines and the run, instead of being averaged in as two seeds. */
START_TEST(test_csv_duplicate_rows)
{
    char path[256];
    snprintf(path, sizeof path, "%s/results.csv", tm_dir);
    FILE *f = fopen(path, "w");
    /* line 2 and line 6 (lr 0.1 spelled two ways); a malformed and a blank
     * line between them still count as lines */
    fprintf(f, "width,lr,seed,train_loss,test_loss,test_acc,diverged\n"
               "16,0.1,0,2.2063,2.2,0.2,0\n"
               "16,0.1,1,2.21,2.2,0.2,0\n"
               "16,0.2,0\n"
               "\n"
               "16,0.10000000000000001,0,1.0,1.0,0.9,0\n"
               "32,0.1,0,2.0,2.0,0.3,0\n");
    fclose(f);
    mn_study_row *rows = (mn_study_row *)1;
    size_t n = 7;
    int bad = -1;
    ck_assert_int_eq(mn_study_read_csv(path, "width", &rows, &n, &bad), MN_ERR_FORMAT);
    ck_assert_ptr_null(rows);
    ck_assert_uint_eq(n, 0);
    char want[512];
    snprintf(want, sizeof want, "%s: lines 2 and 6 are the same run (width 16, lr 0.1, seed 0)",
             path);
    ck_assert_msg(strstr(mn_last_error(), want) && !strchr(mn_last_error(), '\n'), "%s",
                  mn_last_error());
    /* The same seed at another lr, or another seed, is no repeat. */
    f = fopen(path, "w");
    fprintf(f, "width,lr,seed,train_loss,test_loss,test_acc,diverged\n"
               "16,0.1,0,2.2063,2.2,0.2,0\n16,0.1,1,2.21,2.2,0.2,0\n16,0.2,0,2.1,2.2,0.2,0\n"
               "32,0.1,0,2.0,2.0,0.3,0\n");
    fclose(f);
    ck_assert_ok(mn_study_read_csv(path, "width", &rows, &n, &bad));
    ck_assert_uint_eq(n, 4);
    free(rows);
}
END_TEST

/* ---- the summary ------------------------------------------------------------------ */

START_TEST(test_parabola)
{
    /* f = 2(x − 0.3)² + 1 through three points. */
    double f0 = 2 * 1.3 * 1.3 + 1, f1 = 2 * 0.09 + 1, f2 = 2 * 0.7 * 0.7 + 1;
    ck_assert_double_eq_tol(mn_study_parabola_vertex(-1, f0, 0, f1, 1, f2), 0.3, 1e-12);
    ck_assert_double_eq_tol(mn_study_parabola_vertex(-2, 4 + 1, 0.5, 0.25 + 1, 1, 1 + 1), 0,
                            1e-12); /* unequal spacing */
    ck_assert_double_eq_tol(mn_study_parabola_vertex(-1, 3, 0, 1, 1, 3), 0, 1e-15);
    /* Collinear, opening downward, flat: the middle point. */
    ck_assert_double_eq(mn_study_parabola_vertex(-1, 3, 0, 2, 1, 1), 0);
    ck_assert_double_eq(mn_study_parabola_vertex(-1, 1, 0, 2, 1, 1), 0);
    ck_assert_double_eq(mn_study_parabola_vertex(-1, 1, 0, 1, 1, 1), 0);
    /* A vertex outside the bracket (0.6x² − 2.6x + 3: x = 2.17) is clamped to it. */
    ck_assert_double_eq(mn_study_parabola_vertex(0, 3, 1, 1, 2, 0.2), 2);
}
END_TEST

/* L(v, η) = base(v) + c·(log2 η − center(v))² on lrs 2^-6..2^0, two seeds
 * that straddle the mean by ±0.01. */
#define NV 3
#define NL 7
static const int64_t values[NV] = {64, 128, 256};
static double lrs[NL];

static size_t synth(mn_study_row *rows, const double *center, const double *base, double c)
{
    size_t n = 0;
    for (int j = 0; j < NL; j++)
        lrs[j] = ldexp(1, j - 6);
    for (int i = 0; i < NV; i++)
        for (int j = 0; j < NL; j++)
            for (int s = 0; s < 2; s++) {
                double x = j - 6.0;
                double L = base[i] + c * (x - center[i]) * (x - center[i]) + (s ? 0.01 : -0.01);
                rows[n++] = (mn_study_row){.value = values[i], .lr = lrs[j], .seed = s,
                                           .train_loss = L, .test_loss = L, .test_acc = 0.8};
            }
    return n;
}

/* The summary's JSON, parsed back. */
static json_t *summary_json(const mn_study_summary *s)
{
    char *text;
    ck_assert_ok(mn_study_summary_json(s, &text));
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "summary JSON does not parse: %s\n%s", e.text, text);
    free(text);
    return j;
}

START_TEST(test_summary_transfer)
{
    mn_study_row rows[NV * NL * 2 + 4];
    const double center[NV] = {-3, -2.75, -2.5}, base[NV] = {0.5, 0.45, 0.4};
    size_t n = synth(rows, center, base, 0.05);
    /* Off-grid rows and a seed beyond the sweep's are ignored. */
    rows[n++] = (mn_study_row){.value = 512, .lr = 0.5, .seed = 0, .train_loss = 0.01};
    rows[n++] = (mn_study_row){.value = 64, .lr = 0.3, .seed = 0, .train_loss = 0.01};
    rows[n++] = (mn_study_row){.value = 64, .lr = ldexp(1, -3), .seed = 2, .train_loss = 9};
    mn_study_summary s;
    ck_assert_ok(mn_study_summarize("width", rows, n, values, NV, lrs, NL, 2, &s));
    ck_assert_int_eq(s.n_values, NV);
    ck_assert_str_eq(s.param, "width");
    for (int i = 0; i < NV; i++) {
        const mn_study_point *pv = &s.per_value[i];
        if (i < 2)
            ck_assert_double_eq(pv->best_lr, ldexp(1, (int)lround(center[i])));
        else /* center −2.5 ties 2^-3 and 2^-2 up to rounding */
            ck_assert_msg(pv->best_lr == 0.125 || pv->best_lr == 0.25, "best %g", pv->best_lr);
        /* Exact quadratic data: the parabola finds the center. */
        ck_assert_double_eq_tol(log2(pv->best_lr_refined), center[i], 1e-9);
        ck_assert(!pv->at_edge);
        double x = log2(pv->best_lr);
        ck_assert_double_eq_tol(pv->loss, base[i] + 0.05 * (x - center[i]) * (x - center[i]),
                                1e-12);
    }
    ck_assert_double_eq_tol(s.slope, 0.25, 1e-9);
    ck_assert_double_eq_tol(s.spread, 0.5, 1e-9);
    ck_assert_int_eq(s.anchor, 3); /* 2^-3, nearest η*(64) */
    ck_assert_double_eq_tol(s.per_value[0].regret, 0, 1e-12);
    for (int i = 1; i < NV; i++) {
        double at = base[i] + 0.05 * (-3 - center[i]) * (-3 - center[i]);
        ck_assert_double_eq_tol(s.per_value[i].regret, at - s.per_value[i].loss, 1e-12);
        ck_assert_double_ge(s.per_value[i].regret, 0);
    }
    ck_assert(s.monotone);

    /* The JSON: the keys `modnorm sweep` wrote, every number exact. */
    json_t *j = summary_json(&s);
    json_t *per = json_object_get(j, "per_width");
    ck_assert(json_is_array(per) && json_array_size(per) == NV);
    for (int i = 0; i < NV; i++) {
        json_t *o = json_array_get(per, (size_t)i);
        ck_assert_int_eq(json_integer_value(json_object_get(o, "width")), values[i]);
        ck_assert_double_eq(json_real_value(json_object_get(o, "best_lr")),
                            s.per_value[i].best_lr);
        ck_assert_double_eq(json_real_value(json_object_get(o, "best_lr_refined")),
                            s.per_value[i].best_lr_refined);
        ck_assert_double_eq(json_real_value(json_object_get(o, "loss")), s.per_value[i].loss);
        ck_assert(json_is_false(json_object_get(o, "at_edge")));
        char key[16];
        snprintf(key, sizeof key, "%lld", (long long)values[i]);
        ck_assert_double_eq(json_number_value(json_object_get(json_object_get(j, "regret"), key)),
                            s.per_value[i].regret);
    }
    ck_assert_double_eq(json_real_value(json_object_get(j, "slope")), s.slope);
    ck_assert_double_eq(json_real_value(json_object_get(j, "spread")), s.spread);
    ck_assert(json_is_true(json_object_get(j, "monotone")));
    json_decref(j);
    /* Written atomically to a file (no temporary left). */
    char path[256];
    snprintf(path, sizeof path, "%s/summary.json", tm_dir);
    ck_assert_ok(mn_study_write_summary(path, &s));
    ck_assert_ptr_nonnull(strstr(slurp(path), "\"per_width\""));
    ck_assert_int_eq(entries(tm_dir), 1);
    mn_study_summary_free(&s);

    /* Loss that does not fall with the parameter at the anchor: not monotone. */
    const double flat[NV] = {0.5, 0.45, 0.46};
    n = synth(rows, center, flat, 0.05);
    ck_assert_ok(mn_study_summarize("width", rows, n, values, NV, lrs, NL, 2, &s));
    ck_assert(!s.monotone);
    mn_study_summary_free(&s);

    /* Drift of one octave per doubling: slope −1, spread 2; over depth the
     * keys follow the parameter. */
    const double drift[NV] = {-2, -3, -4};
    n = synth(rows, drift, base, 0.05);
    ck_assert_ok(mn_study_summarize("depth", rows, n, values, NV, lrs, NL, 2, &s));
    ck_assert_double_eq_tol(s.slope, -1, 1e-9);
    ck_assert_double_eq_tol(s.spread, 2, 1e-9);
    ck_assert_double_eq_tol(s.per_value[2].regret, 0.05 * 4, 1e-12);
    j = summary_json(&s);
    ck_assert_ptr_nonnull(json_object_get(j, "per_depth"));
    ck_assert_ptr_null(json_object_get(j, "per_width"));
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(json_object_get(j, "per_depth"), 1), "depth")), 128);
    json_decref(j);
    mn_study_summary_free(&s);

    ck_assert_int_eq(mn_study_summarize("width", rows, n, values, 0, lrs, NL, 2, &s), MN_ERR_ARG);
    ck_assert_int_eq(mn_study_summarize("", rows, n, values, NV, lrs, NL, 2, &s), MN_ERR_ARG);
    const int64_t zero[1] = {0};
    ck_assert_int_eq(mn_study_summarize("width", rows, n, zero, 1, lrs, NL, 2, &s), MN_ERR_ARG);
}
END_TEST

START_TEST(test_summary_divergence_and_edges)
{
    mn_study_row rows[NV * NL * 2];
    const double center[NV] = {-3, -3, -6}, base[NV] = {0.5, 0.45, 0.4};
    size_t n = synth(rows, center, base, 0.05);
    for (size_t r = 0; r < n; r++) {
        /* 128: one seed at its argmin (2^-3) diverged: the cell is +inf and
         * the argmin moves to a neighbour (2^-4 and 2^-2 tie: the smaller). */
        if (rows[r].value == 128 && rows[r].lr == 0.125 && rows[r].seed == 1)
            rows[r].diverged = true;
        /* 64: everything from 2^-1 up diverged. */
        if (rows[r].value == 64 && rows[r].lr >= 0.5)
            rows[r] = (mn_study_row){.value = 64, .lr = rows[r].lr, .seed = rows[r].seed,
                                     .train_loss = INFINITY, .test_loss = INFINITY,
                                     .diverged = true};
    }
    mn_study_summary s;
    ck_assert_ok(mn_study_summarize("width", rows, n, values, NV, lrs, NL, 2, &s));
    ck_assert(isinf(s.loss[1 * NL + 3]));
    ck_assert_double_eq(s.per_value[1].best_lr, 0.0625);
    ck_assert_double_eq(s.per_value[1].best_lr_refined, 0.0625); /* a +inf neighbour */
    ck_assert(!s.per_value[1].at_edge);
    ck_assert_double_eq(s.per_value[0].best_lr, 0.125);
    ck_assert(isinf(s.loss[0 * NL + 5]) && isinf(s.loss[0 * NL + 6]));
    ck_assert_double_eq(s.per_value[2].best_lr, ldexp(1, -6)); /* at the edge, unrefined */
    ck_assert_double_eq(s.per_value[2].best_lr_refined, ldexp(1, -6));
    ck_assert(s.per_value[2].at_edge);
    ck_assert_int_eq(s.anchor, 3);
    ck_assert(isinf(s.per_value[1].regret));
    ck_assert(!s.monotone);
    json_t *j = summary_json(&s);
    ck_assert(json_is_null(json_object_get(json_object_get(j, "regret"), "128")));
    ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(j, "per_width"), 2),
                                           "at_edge")));
    json_decref(j);
    mn_study_summary_free(&s);

    /* Every run of a value diverged: no η*, nulls in the JSON; slope and
     * spread from the other values. */
    for (size_t r = 0; r < n; r++)
        if (rows[r].value == 256)
            rows[r].diverged = true;
    ck_assert_ok(mn_study_summarize("width", rows, n, values, NV, lrs, NL, 2, &s));
    ck_assert_int_eq(s.per_value[2].best, -1);
    ck_assert(isnan(s.per_value[2].best_lr));
    ck_assert_double_eq_tol(s.slope, log2(0.0625) - log2(0.125), 1e-12);
    j = summary_json(&s);
    json_t *o = json_array_get(json_object_get(j, "per_width"), 2);
    ck_assert(json_is_null(json_object_get(o, "best_lr")));
    ck_assert(json_is_null(json_object_get(o, "best_lr_refined")));
    ck_assert(json_is_null(json_object_get(o, "loss")));
    json_decref(j);
    mn_study_summary_free(&s);

    /* A cell with no run is +inf in argmins and puts a neighbouring argmin at the edge. */
    size_t m = 0;
    for (size_t r = 0; r < n; r++)
        if (!(rows[r].value == 64 && rows[r].lr == 0.0625))
            rows[m++] = rows[r];
    ck_assert_ok(mn_study_summarize("width", rows, m, values, NV, lrs, NL, 2, &s));
    ck_assert_int_eq(s.runs[0 * NL + 2], 0);
    ck_assert(isnan(s.loss[0 * NL + 2]));
    ck_assert_double_eq(s.per_value[0].best_lr, 0.125);
    ck_assert(s.per_value[0].at_edge);
    ck_assert_double_eq(s.per_value[0].best_lr_refined, 0.125); /* no parabola at an edge */
    mn_study_summary_free(&s);
    ck_assert_ok(mn_study_summarize("width", rows, 1, values, 1, lrs, 1, 0, &s)); /* every seed */
    ck_assert_int_eq(s.runs[0], 1);
    mn_study_summary_free(&s);
}
END_TEST

/* One value compares nothing (review-s12 #7): no slope, no spread, and
 * monotone is neither true nor false (null in the JSON); the per-value
 * numbers are there. Two values where one has no η*: no spread either. */
START_TEST(test_summary_one_value)
{
    mn_study_row rows[NV * NL * 2];
    const double center[NV] = {-3, -3, -3}, base[NV] = {0.5, 0.45, 0.4};
    size_t n = synth(rows, center, base, 0.05);
    mn_study_summary s;
    ck_assert_ok(mn_study_summarize("width", rows, n, values, 1, lrs, NL, 2, &s));
    ck_assert_int_eq(s.n_values, 1);
    ck_assert_double_eq(s.per_value[0].best_lr, 0.125);
    ck_assert_double_eq_tol(s.per_value[0].regret, 0, 1e-12);
    ck_assert(isnan(s.slope) && isnan(s.spread));
    ck_assert(!s.monotone);
    json_t *j = summary_json(&s);
    ck_assert(json_is_null(json_object_get(j, "slope")));
    ck_assert(json_is_null(json_object_get(j, "spread")));
    ck_assert(json_is_null(json_object_get(j, "monotone")));
    ck_assert_uint_eq(json_array_size(json_object_get(j, "per_width")), 1);
    json_decref(j);
    mn_study_summary_free(&s);

    for (size_t r = 0; r < n; r++)
        if (rows[r].value == values[1])
            rows[r].diverged = true;
    ck_assert_ok(mn_study_summarize("width", rows, n, values, 2, lrs, NL, 2, &s));
    ck_assert_int_eq(s.per_value[1].best, -1);
    ck_assert(isnan(s.slope) && isnan(s.spread));
    ck_assert(!s.monotone);
    j = summary_json(&s);
    ck_assert(json_is_null(json_object_get(j, "spread")));
    ck_assert(json_is_false(json_object_get(j, "monotone"))); /* compared: it does not fall */
    json_decref(j);
    mn_study_summary_free(&s);
}
END_TEST

/* ---- settings ------------------------------------------------------------------------ */

START_TEST(test_settings)
{
    mn_train_settings s;
    mn_train_settings_default(&s);
    ck_assert_str_eq(s.opt, "muon");
    ck_assert(isnan(s.lr) && isnan(s.momentum));
    ck_assert_int_eq(s.batch, 128);
    ck_assert_ok(mn_train_settings_check(&s));
    /* Steps, or ceil(epochs · per_epoch), at least one. */
    ck_assert_int_eq(mn_train_total_steps(&s, 468), 2340);
    s.epochs = 0.5;
    ck_assert_int_eq(mn_train_total_steps(&s, 5), 3);
    s.epochs = 1e-6;
    ck_assert_int_eq(mn_train_total_steps(&s, 5), 1);
    s.steps = 30;
    ck_assert_int_eq(mn_train_total_steps(&s, 468), 30);

    /* The settings file: what `modnorm sweep` wrote (after its data and model lines). */
    char buf[1024];
    ck_assert_ok(mn_train_settings_text(&s, buf, sizeof buf));
    ck_assert_str_eq(buf, "opt=muon\nparam=modular\nsteps=30\nbatch=128\nmomentum=default\n"
                          "nesterov=0\nwd=0\nschedule=linear\nwarmup=0\nmethod=polar-express\n");
    mn_atom_norm ov[2];
    ck_assert_ok(mn_atom_norm_parse("0=frobenius", &ov[0]));
    ck_assert_ok(mn_atom_norm_parse("2=l1-linf", &ov[1]));
    ck_assert_int_eq(ov[1].atom, 2);
    ck_assert_str_eq(ov[1].norm, "l1-linf");
    s = (mn_train_settings){.opt = "sgd", .param = MN_PARAM_SP, .lr = 0.1, .momentum = 0.5,
                            .nesterov = true, .weight_decay = 0.1, .schedule = MN_SCHEDULE_COSINE,
                            .warmup = 3, .polar_method = "ns5", .epochs = 0.25, .batch = 32,
                            .atom_norms = ov, .n_atom_norms = 2};
    ck_assert_ok(mn_train_settings_text(&s, buf, sizeof buf));
    ck_assert_str_eq(buf, "opt=sgd\nparam=sp\nepochs=0.25\nbatch=32\nmomentum=0.5\nnesterov=1\n"
                          "wd=0.10000000000000001\nschedule=cosine\nwarmup=3\nmethod=ns5\n"
                          "atom_norm=0=frobenius\natom_norm=2=l1-linf\n");
    ck_assert_int_eq(mn_train_settings_text(&s, buf, 40), MN_ERR_ARG);

    static const char *bad_ov[] = {"", "x=frobenius", "1", "1=", "-1=frobenius", "=frobenius",
                                   "+1=frobenius"};
    for (size_t i = 0; i < sizeof bad_ov / sizeof bad_ov[0]; i++)
        ck_assert_msg(mn_atom_norm_parse(bad_ov[i], &ov[0]) == MN_ERR_ARG, "'%s' parsed",
                      bad_ov[i]);

    /* Each field out of range is named. */
    mn_train_settings d;
    mn_train_settings_default(&d);
#define REFUSED(field, value, needle)                                                              \
    do {                                                                                           \
        mn_train_settings x = d;                                                                   \
        x.field = value;                                                                           \
        ck_assert_int_eq(mn_train_settings_check(&x), MN_ERR_ARG);                                 \
        ck_assert_msg(strstr(mn_last_error(), needle), #field ": '%s'", mn_last_error());          \
    } while (0)
    REFUSED(opt, "nope", "nope");
    REFUSED(opt, NULL, "opt");
    REFUSED(lr, -1, "lr");
    REFUSED(lr, INFINITY, "lr");
    REFUSED(momentum, 1, "momentum");
    REFUSED(weight_decay, -0.5, "weight_decay");
    REFUSED(schedule, (mn_schedule)7, "schedule");
    REFUSED(warmup, -1, "warmup");
    REFUSED(polar_method, "nope", "nope");
    REFUSED(steps, -2, "steps");
    REFUSED(epochs, 0, "epochs");
    REFUSED(batch, 0, "batch");
    REFUSED(n_atom_norms, 1, "atom");
#undef REFUSED
}
END_TEST

/* An atom norm for another shape is refused when applied, naming the atom
 * (taps-3 on a Linear failed at the first step, inside the solver). */
/* The void and getter functions of the study layer take NULL (they
 * crashed): nothing written, or 0 steps; the settings text refuses a NULL
 * buffer with a status. */
START_TEST(test_null_settings_and_rows)
{
    mn_train_settings_default(NULL);
    mn_coordcheck_defaults(NULL);
    ck_assert_int_eq(mn_train_total_steps(NULL, 10), 0);
    mn_train_settings s;
    mn_train_settings_default(&s);
    ck_assert_int_eq(mn_train_total_steps(&s, 10), 50);
    ck_assert_refused(mn_train_settings_text(&s, NULL, 64), MN_ERR_ARG, "buf is NULL");
    char buf[256] = "x";
    ck_assert_refused(mn_train_settings_text(&s, buf, 0), MN_ERR_ARG, "cap is 0");
    ck_assert_str_eq(buf, "x");
    mn_study_format_row(NULL, 64, NULL);
    mn_study_format_row(buf, 64, NULL);
    ck_assert_str_eq(buf, "");
    mn_study_row r = {.value = 8, .lr = 0.5, .seed = 1, .train_loss = 1, .test_loss = 2,
                      .test_acc = 0.25};
    mn_study_format_row(buf, 0, &r); /* cap 0: nothing */
    ck_assert_str_eq(buf, "");
    mn_study_format_row(buf, sizeof buf, &r);
    ck_assert_str_eq(buf, "8,0.5,1,1,2,0.25,0");
}
END_TEST

START_TEST(test_atom_norms_apply_shape)
{
    mn_module *m;
    ck_assert_ok(mn_mlp(&m, 784, 16, 2, 10));
    mn_network *net = tm_network_new(m, 1);
    mn_atom_norm ov;
    ck_assert_ok(mn_atom_norm_parse("0=taps-3", &ov));
    ck_assert_int_eq(mn_atom_norms_apply(net, &ov, 1), MN_ERR_ARG);
    ck_assert_msg(strstr(mn_last_error(), "atom norm 0=taps-3 does not fit Linear(16←784): "
                                          "taps-3: a 16x784 matrix"), "%s", mn_last_error());
    ck_assert_str_eq(mn_module_norm(mn_network_atom(net, 0))->name, "rms-rms");
    /* Every override is checked before any atom changes: one that does not
     * fit leaves the others' atoms and the revision as they were (before,
     * 1=frobenius was set, and a refused override's own atom changed too). */
    uint64_t rev = mn_network_revision(net);
    mn_atom_norm two[] = {{1, "frobenius"}, {0, "taps-3"}};
    ck_assert_int_eq(mn_atom_norms_apply(net, two, 2), MN_ERR_ARG);
    ck_assert_str_eq(mn_module_norm(mn_network_atom(net, 0))->name, "rms-rms");
    ck_assert_str_eq(mn_module_norm(mn_network_atom(net, 1))->name, "rms-rms");
    ck_assert_int_eq(mn_network_revision(net), rev);
    mn_atom_norm unknown[] = {{1, "frobenius"}, {0, "l3-l3"}};
    ck_assert_int_eq(mn_atom_norms_apply(net, unknown, 2), MN_ERR_ARG);
    ck_assert_str_eq(mn_module_norm(mn_network_atom(net, 1))->name, "rms-rms");
    ck_assert_int_eq(mn_network_revision(net), rev);
    ck_assert_ok(mn_atom_norm_parse("1=taps-4", &ov)); /* 16 columns: 1 channel of 4x4 taps */
    ck_assert_ok(mn_atom_norms_apply(net, &ov, 1));
    ck_assert_str_eq(mn_module_norm(mn_network_atom(net, 1))->name, "taps-4");
    mn_network_destroy(net);
}
END_TEST

/* The overrides on a tree not yet in a network (inspect's --atom-norm): the
 * same numbering, checks and messages as on a network, and the network made
 * from the tree keeps them. */
START_TEST(test_atom_norms_apply_tree)
{
    mn_module *m;
    ck_assert_ok(mn_mlp(&m, 784, 16, 2, 10));
    ck_assert_int_eq(mn_module_atom_count(m), 2);
    ck_assert_int_eq(mn_module_atom_count(NULL), 0);
    mn_atom_norm ov[] = {{1, "frobenius"}, {0, "taps-3"}};
    ck_assert_int_eq(mn_atom_norms_apply_tree(m, ov, 2), MN_ERR_ARG);
    ck_assert_msg(strstr(mn_last_error(), "atom norm 0=taps-3 does not fit Linear(16←784)"), "%s",
                  mn_last_error());
    ck_assert_str_eq(mn_module_norm(mn_module_child(m, 2))->name, "rms-rms"); /* unchanged */
    mn_atom_norm far = {2, "frobenius"};
    ck_assert_int_eq(mn_atom_norms_apply_tree(m, &far, 1), MN_ERR_ARG);
    ck_assert_msg(strstr(mn_last_error(), "[0, 2)"), "%s", mn_last_error());
    ck_assert_int_eq(mn_atom_norms_apply_tree(NULL, ov, 1), MN_ERR_ARG);
    ck_assert_ok(mn_atom_norms_apply_tree(m, ov, 1));
    ck_assert_str_eq(mn_module_norm(mn_module_child(m, 2))->name, "frobenius");
    mn_network *net = tm_network_new(m, 1);
    ck_assert_str_eq(mn_module_norm(mn_network_atom(net, 1))->name, "frobenius");
    mn_network_destroy(net);
}
END_TEST

/* What training keeps, counted before any allocation: four float32 copies
 * of the parameters for steepest descent (weights, gradients, momentum, the
 * step's proposal), five for AdamW (its second moment: the solver allocates
 * it only for AdamW), plus the polar scratch of the atom that needs the most,
 * only where an update is a polar factor. */
START_TEST(test_train_memory)
{
    mn_module *m;
    ck_assert_ok(mn_mlp(&m, 784, 64, 3, 10));
    int64_t P = 784 * 64 + 64 * 64 + 10 * 64;
    mn_train_settings s;
    mn_train_settings_default(&s);
    mn_train_memory mem;
    ck_assert_ok(mn_train_memory_of(m, &s, &mem)); /* muon, polar-express in float32 */
    /* the 64 x 784 first layer: X, Y (k x N) and A, B, Q, T (k x k), float32 */
    double polar = (2.0 * 64 * 784 + 4.0 * 64 * 64) * 4;
    ck_assert_int_eq(mem.params, P);
    ck_assert_int_eq(mem.copies, 4);
    ck_assert_double_eq(mem.polar_bytes, polar);
    ck_assert_double_eq(mem.bytes, 16.0 * (double)P + polar);
    mn_polar_plan plan;
    mn_dualize_opts pe = {0};
    ck_assert_ok(mn_polar_lookup("polar-express", &pe.method));
    ck_assert_ok(mn_polar_plan_for(&pe, 64, 784, MN_F32, &plan));
    ck_assert_double_eq(plan.workspace_bytes, polar);

    /* AdamW: a fifth copy, no polar factor; the solver allocates as counted */
    s.opt = "adam";
    ck_assert_ok(mn_train_memory_of(m, &s, &mem));
    ck_assert_int_eq(mem.copies, 5);
    ck_assert_double_eq(mem.polar_bytes, 0);
    ck_assert_double_eq(mem.bytes, 20.0 * (double)P);
    mn_network *net = tm_network_new(m, 1);
    mn_solver_config cfg;
    ck_assert_ok(mn_solver_preset(&cfg, "adam", MN_PARAM_MODULAR));
    cfg.total_steps = 1;
    mn_solver *solver;
    ck_assert_ok(mn_solver_create(&solver, net, &cfg));
    ck_assert_ptr_nonnull(mn_solver_second_moment(solver));
    mn_solver_destroy(solver);
    ck_assert_ok(mn_solver_preset(&cfg, "muon", MN_PARAM_MODULAR));
    cfg.total_steps = 1;
    ck_assert_ok(mn_solver_create(&solver, net, &cfg));
    ck_assert_ptr_null(mn_solver_second_moment(solver)); /* the four copies */
    mn_solver_destroy(solver);
    mn_network_destroy(net);

    ck_assert_ok(mn_mlp(&m, 784, 64, 3, 10));
    s.opt = "sgd"; /* frobenius on every atom: no polar factor */
    ck_assert_ok(mn_train_memory_of(m, &s, &mem));
    ck_assert_int_eq(mem.copies, 4);
    ck_assert_double_eq(mem.polar_bytes, 0);
    /* muon with the first layer in frobenius: the 64 x 64 layer is the largest polar */
    s.opt = "muon";
    mn_atom_norm ov = {0, "frobenius"};
    s.atom_norms = &ov;
    s.n_atom_norms = 1;
    ck_assert_ok(mn_train_memory_of(m, &s, &mem));
    ck_assert_double_eq(mem.polar_bytes, 6.0 * 64 * 64 * 4);
    /* the exact method: float64 copies of G, U, Vᵀ (and the singular values) */
    s.polar_method = "svd";
    ck_assert_ok(mn_train_memory_of(m, &s, &mem));
    ck_assert_double_eq(mem.polar_bytes, 8.0 * (64 * 64 + 64 * 128 + 64));
    /* bf16 products: a float32 and a bf16 k x N, four float32 and two bf16 k x k */
    s.polar_method = "polar-express";
    s.polar_precision = MN_PRECISION_BF16;
    s.n_atom_norms = 0;
    ck_assert_ok(mn_train_memory_of(m, &s, &mem));
    ck_assert_double_eq(mem.polar_bytes, 64 * 784 * (4 + 2) + 64 * 64 * (4 * 4 + 2 * 2));
    s.polar_method = "bogus";
    ck_assert_int_eq(mn_train_memory_of(m, &s, &mem), MN_ERR_ARG);
    ck_assert_int_eq(mn_train_memory_of(NULL, &s, &mem), MN_ERR_ARG);
    mn_module_destroy(m);
}
END_TEST

/* bench dualize's count: G and X, the scratch, and with the error the exact
 * factor and the SVD's copies (once for svd itself, whose scratch is the SVD's). */
START_TEST(test_bench_dualize_memory)
{
    double b, mn = 300.0 * 500;
    mn_polar_plan it, exact;
    mn_dualize_opts ns5 = {0}, svd = {0};
    ck_assert_ok(mn_polar_lookup("ns5", &ns5.method));
    ck_assert_ok(mn_polar_lookup("svd", &svd.method));
    ck_assert_ok(mn_polar_plan_for(&ns5, 300, 500, MN_F32, &it));
    ck_assert_ok(mn_polar_plan_for(&svd, 300, 500, MN_F32, &exact));
    ck_assert_double_eq(it.workspace_bytes, (2 * mn + 4 * 300.0 * 300) * 4);
    ck_assert_double_eq(exact.workspace_bytes, 8 * (mn + 300.0 * 800 + 300));
    ck_assert_ok(mn_bench_dualize_memory(&ns5, 300, 500, false, &b));
    ck_assert_double_eq(b, 8 * mn + it.workspace_bytes);
    ck_assert_ok(mn_bench_dualize_memory(&ns5, 300, 500, true, &b));
    ck_assert_double_eq(b, 12 * mn + it.workspace_bytes + exact.workspace_bytes);
    ck_assert_ok(mn_bench_dualize_memory(&svd, 300, 500, true, &b));
    ck_assert_double_eq(b, 12 * mn + exact.workspace_bytes);
    ck_assert_ok(mn_bench_dualize_memory(NULL, 300, 500, true, &b)); /* the default: svd */
    ck_assert_double_eq(b, 12 * mn + exact.workspace_bytes);
    /* 65536 x 65536: 2 x 17 GB of matrices before the scratch, no allocation */
    ck_assert_ok(mn_bench_dualize_memory(&ns5, 65536, 65536, false, &b));
    ck_assert_double_gt(b, 2 * 4 * 65536.0 * 65536.0);
    ck_assert_int_eq(mn_bench_dualize_memory(NULL, 0, 5, false, &b), MN_ERR_SHAPE);
    ck_assert_int_eq(mn_bench_dualize_memory(NULL, 5, 5, false, NULL), MN_ERR_ARG);
}
END_TEST

/* ---- the fit loop on a small synthetic dataset ------------------------------------------------ */

/* 96 training and 48 test rows of 8 features, 3 classes: the argmax of a
 * fixed random linear map (learnable, so the loss falls). */
enum { SYN_DIM = 8, SYN_CLASSES = 3 };
static mn_dataset syn_train, syn_test;

static void make_syn(mn_dataset *d, int64_t n, uint64_t seed)
{
    mn_rng rng;
    mn_rng_seed(&rng, 7); /* the same map for both splits */
    double W[SYN_CLASSES][SYN_DIM];
    for (int c = 0; c < SYN_CLASSES; c++)
        for (int k = 0; k < SYN_DIM; k++)
            W[c][k] = mn_rng_normal(&rng);
    mn_rng_seed(&rng, seed);
    *d = (mn_dataset){.n = n, .dim = SYN_DIM, .n_classes = SYN_CLASSES,
                      .x = malloc((size_t)n * SYN_DIM * sizeof(float)),
                      .y = malloc((size_t)n * sizeof(int32_t))};
    for (int64_t i = 0; i < n; i++) {
        double best = -INFINITY;
        for (int k = 0; k < SYN_DIM; k++)
            d->x[i * SYN_DIM + k] = (float)mn_rng_normal(&rng);
        for (int c = 0; c < SYN_CLASSES; c++) {
            double z = 0;
            for (int k = 0; k < SYN_DIM; k++)
                z += W[c][k] * d->x[i * SYN_DIM + k];
            if (z > best) {
                best = z;
                d->y[i] = c;
            }
        }
    }
}

static const mn_mlp_spec syn_mlp = {.d_in = SYN_DIM, .width = 16, .d_out = SYN_CLASSES,
                                    .depth = 2};

static mn_module *syn_model(void)
{
    mn_module *m;
    ck_assert_ok(mn_mlp_factory((void *)&syn_mlp, "width", 16, &m));
    return m;
}

typedef struct rec {
    int steps, logs, evals;
    int64_t step_at[256], log_at[64], eval_at[64];
    double loss[256], epoch[256], lr[256], eval_acc[64], eval_loss[64];
    int64_t stop_at; /* on_step fails at this step (0: never) */
} rec;

static mn_status on_step(void *ctx, const mn_fit_step *s)
{
    rec *r = ctx;
    ck_assert_int_lt(r->steps, 256);
    r->step_at[r->steps] = s->step;
    r->loss[r->steps] = s->loss;
    r->epoch[r->steps] = s->epoch;
    r->lr[r->steps] = s->lr;
    r->steps++;
    if (s->step == r->stop_at)
        return MN_ERR_UNSUPPORTED; /* any status: the fit returns it */
    return MN_OK;
}

static mn_status on_log(void *ctx, const mn_fit_step *s)
{
    rec *r = ctx;
    ck_assert_int_lt(r->logs, 64);
    r->log_at[r->logs++] = s->step;
    return MN_OK;
}

static mn_status on_eval(void *ctx, const mn_fit_step *s, double acc, double loss)
{
    rec *r = ctx;
    ck_assert_int_lt(r->evals, 64);
    r->eval_at[r->evals] = s->step;
    r->eval_acc[r->evals] = acc;
    r->eval_loss[r->evals] = loss;
    r->evals++;
    return MN_OK;
}

static mn_train_settings syn_settings(void)
{
    mn_train_settings s;
    mn_train_settings_default(&s);
    s.lr = 0.1;
    s.epochs = 2.5; /* 96 / 16 = 6 batches an epoch: ceil(15) steps */
    s.batch = 16;
    s.seed = 3;
    s.threads = 1;
    return s;
}

START_TEST(test_fit_callbacks_and_epochs)
{
    mn_train_settings s = syn_settings();
    rec r = {0};
    mn_fit_callbacks cb = {.ctx = &r, .on_step = on_step, .on_log = on_log, .log_every = 4,
                           .on_eval = on_eval, .eval_every = 5};
    mn_fit_result res;
    ck_assert_ok(mn_train(syn_model(), &s, &syn_train, &syn_test, &cb, &res));
    ck_assert_int_eq(res.total_steps, 15);
    ck_assert_int_eq(res.steps, 15);
    ck_assert_double_eq(res.epochs, 2.5);
    ck_assert(!res.diverged);
    ck_assert_int_eq(res.diverged_at, -1);
    /* on_step after every step, with the step, its epoch and its scheduled rate. */
    ck_assert_int_eq(r.steps, 15);
    for (int k = 0; k < 15; k++) {
        ck_assert_int_eq(r.step_at[k], k + 1);
        ck_assert_double_eq(r.epoch[k], (k + 1) / 6.0);
        ck_assert_double_eq_tol(r.lr[k], 0.1 * (1 - k / 15.0), 1e-15); /* linear decay */
        ck_assert(isfinite(r.loss[k]) && r.loss[k] > 0);
    }
    /* on_log every 4th step and after the last. */
    ck_assert_int_eq(r.logs, 4);
    ck_assert_int_eq(r.log_at[0], 4);
    ck_assert_int_eq(r.log_at[2], 12);
    ck_assert_int_eq(r.log_at[3], 15);
    /* on_eval after steps 5 and 10, then the final evaluation, which the result holds. */
    ck_assert_int_eq(r.evals, 3);
    ck_assert_int_eq(r.eval_at[0], 5);
    ck_assert_int_eq(r.eval_at[1], 10);
    ck_assert_int_eq(r.eval_at[2], 15);
    ck_assert_double_eq(r.eval_acc[2], res.test_acc);
    ck_assert_double_eq(r.eval_loss[2], res.test_loss);
    ck_assert(res.test_acc > 0 && res.test_acc <= 1);
    /* The first loss, and the mean of the last 20% of the steps (3 of 15). */
    ck_assert_double_eq(res.initial_loss, r.loss[0]);
    ck_assert_double_eq(res.train_loss, (r.loss[12] + r.loss[13] + r.loss[14]) / 3);
    ck_assert_double_lt(res.train_loss, res.initial_loss); /* it learns */

    /* Hooks do not change the run: without them, the same numbers. */
    mn_fit_result bare;
    ck_assert_ok(mn_train(syn_model(), &s, &syn_train, &syn_test, NULL, &bare));
    ck_assert_double_eq(bare.train_loss, res.train_loss);
    ck_assert_double_eq(bare.test_loss, res.test_loss);
    ck_assert_double_eq(bare.test_acc, res.test_acc);

    /* The default log_every is total / 10 (every step below 10 steps). */
    rec r2 = {0};
    cb = (mn_fit_callbacks){.ctx = &r2, .on_log = on_log};
    ck_assert_ok(mn_train(syn_model(), &s, &syn_train, NULL, &cb, &res));
    ck_assert_int_eq(r2.logs, 15);
    ck_assert(isnan(res.test_acc) && isnan(res.test_loss)); /* no evaluation set */
    s.steps = 40;
    r2 = (rec){0};
    ck_assert_ok(mn_train(syn_model(), &s, &syn_train, NULL, &cb, &res));
    ck_assert_int_eq(r2.logs, 10);
    ck_assert_double_eq(res.epochs, 40 / 6.0);

    /* A hook's status stops the fit and is returned. */
    s = syn_settings();
    rec r3 = {.stop_at = 3};
    cb = (mn_fit_callbacks){.ctx = &r3, .on_step = on_step};
    ck_assert_int_eq(mn_train(syn_model(), &s, &syn_train, &syn_test, &cb, &res),
                     MN_ERR_UNSUPPORTED);
    ck_assert_int_eq(res.steps, 3);
    ck_assert_int_eq(r3.steps, 3);
}
END_TEST

/* mn_fit_from's refusals say which of start and losses is wrong (one
 * message "start 2 must be in [0, 3], with its losses given" did both). */
START_TEST(test_fit_from_messages)
{
    mn_train_settings s = syn_settings();
    mn_batch_source src;
    ck_assert_ok(mn_batch_source_dataset(&src, &syn_train, s.batch, s.seed));
    mn_network *net;
    mn_solver *solver;
    ck_assert_ok(mn_train_build(syn_model(), &s, 3, &net, &solver));
    mn_fit_result res;
    ck_assert_refused(mn_fit_from(net, solver, &src, 3, 2, NULL, NULL, NULL, &res), MN_ERR_ARG,
                      "mn_fit_from: losses is NULL; the 2 steps already taken need theirs");
    ck_assert_refused(mn_fit_from(net, solver, &src, 3, 4, (double[4]){0}, NULL, NULL, &res),
                      MN_ERR_ARG, "mn_fit_from: start 4 must be in [0, 3]");
    ck_assert_int_eq(mn_solver_steps_taken(solver), 0);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    mn_batch_source_destroy(&src);
}
END_TEST

START_TEST(test_fit_pieces)
{
    /* mn_train is exactly its pieces: a dataset source seeded with the
     * settings' seed, mn_train_build, mn_fit. */
    mn_train_settings s = syn_settings();
    mn_fit_result whole, parts;
    ck_assert_ok(mn_train(syn_model(), &s, &syn_train, &syn_test, NULL, &whole));
    mn_batch_source src;
    ck_assert_ok(mn_batch_source_dataset(&src, &syn_train, s.batch, s.seed));
    ck_assert_int_eq(src.per_epoch, 6);
    ck_assert_int_eq(src.dim, SYN_DIM);
    int64_t total = mn_train_total_steps(&s, src.per_epoch);
    mn_network *net;
    mn_solver *solver;
    ck_assert_ok(mn_train_build(syn_model(), &s, total, &net, &solver));
    ck_assert_int_eq(mn_network_threads(net), 1);
    ck_assert_ok(mn_fit(net, solver, &src, total, &syn_test, NULL, &parts));
    ck_assert_int_eq(mn_solver_steps_taken(solver), 15);
    ck_assert_double_eq(parts.train_loss, whole.train_loss);
    ck_assert_double_eq(parts.test_acc, whole.test_acc);
    double acc, loss;
    ck_assert_ok(mn_evaluate(net, &syn_test, &acc, &loss));
    ck_assert_double_eq(acc, whole.test_acc);
    ck_assert_double_eq(loss, whole.test_loss);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    mn_batch_source_destroy(&src);
    mn_batch_source_destroy(&src); /* safe twice */

    /* Atom-norm overrides reach the network; a bad index is refused by name. */
    mn_atom_norm ov = {.atom = 1, .norm = "frobenius"};
    s.atom_norms = &ov;
    s.n_atom_norms = 1;
    ck_assert_ok(mn_train_build(syn_model(), &s, 5, &net, &solver));
    ck_assert_str_eq(mn_module_norm(mn_network_atom(net, 1))->name, "frobenius");
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    ov.atom = 2;
    ck_assert_int_eq(mn_train_build(syn_model(), &s, 5, &net, &solver), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "[0, 2)"));
    ck_assert_ptr_null(net);

    /* Refusals. */
    s = syn_settings();
    s.batch = 97;
    ck_assert_int_eq(mn_train(syn_model(), &s, &syn_train, NULL, NULL, &whole), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "batch"));
    mn_dataset unlabeled = syn_train;
    unlabeled.y = NULL;
    ck_assert_int_eq(mn_batch_source_dataset(&src, &unlabeled, 16, 0), MN_ERR_ARG);
    s = syn_settings();
    s.opt = "nope";
    ck_assert_int_eq(mn_train(syn_model(), &s, &syn_train, NULL, NULL, &whole), MN_ERR_ARG);
}
END_TEST

/* A batch source of our own: the rows in order, cyclically; fails on call `fail_at`. */
typedef struct seq_src {
    int64_t pos, calls, fail_at;
} seq_src;

static mn_status seq_next(void *ctx, mn_tensor *x, int32_t *labels)
{
    seq_src *q = ctx;
    if (++q->calls == q->fail_at)
        return MN_ERR_IO;
    int64_t b = x->shape[0];
    for (int64_t k = 0; k < b; k++) {
        int64_t i = (q->pos + k) % syn_train.n;
        memcpy(x->data + k * SYN_DIM, syn_train.x + i * SYN_DIM, SYN_DIM * sizeof(float));
        labels[k] = syn_train.y[i];
    }
    q->pos += b;
    return MN_OK;
}

START_TEST(test_fit_custom_source)
{
    seq_src q = {0};
    mn_batch_source src = {.batch = 24, .dim = SYN_DIM, .per_epoch = 4, .ctx = &q,
                           .next = seq_next};
    mn_train_settings s = syn_settings();
    s.batch = 24;
    s.epochs = 3;
    mn_fit_result res;
    ck_assert_ok(mn_train_source(syn_model(), &s, &src, &syn_test, NULL, &res));
    ck_assert_int_eq(q.calls, 12); /* 3 epochs of 4 batches, one call a step */
    ck_assert_int_eq(res.steps, 12);
    ck_assert_double_eq(res.epochs, 3);
    /* The source's failure is returned, with the steps before it counted. */
    q = (seq_src){.fail_at = 5};
    ck_assert_int_eq(mn_train_source(syn_model(), &s, &src, &syn_test, NULL, &res), MN_ERR_IO);
    ck_assert_int_eq(res.steps, 4);
    /* The settings' batch must be the source's. */
    s.batch = 16;
    ck_assert_int_eq(mn_train_source(syn_model(), &s, &src, NULL, NULL, &res), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "batch"));
    src.next = NULL;
    s.batch = 24;
    ck_assert_int_eq(mn_train_source(syn_model(), &s, &src, NULL, NULL, &res), MN_ERR_ARG);
}
END_TEST

START_TEST(test_fit_divergence)
{
    /* SGD at a huge rate: the loss becomes non-finite within a few steps;
     * the fit stops there and reports it (not an error). */
    mn_train_settings s = syn_settings();
    s.opt = "sgd";
    s.lr = 1e30;
    s.schedule = MN_SCHEDULE_CONSTANT;
    s.steps = 50;
    rec r = {0};
    mn_fit_callbacks cb = {.ctx = &r, .on_step = on_step, .on_eval = on_eval};
    mn_fit_result res;
    mn_status st = mn_train(syn_model(), &s, &syn_train, &syn_test, &cb, &res);
    ck_assert_msg(st == MN_OK, "%s: %s", mn_status_str(st), mn_last_error());
    ck_assert(res.diverged);
    ck_assert_int_ge(res.diverged_at, 1);
    ck_assert_int_lt(res.diverged_at, 50);
    ck_assert_int_eq(res.steps, res.diverged_at); /* the step with the non-finite loss is not taken */
    ck_assert_int_eq(r.steps, res.diverged_at);
    ck_assert_int_eq(r.evals, 0);
    ck_assert(isinf(res.train_loss) && isinf(res.test_loss));
    ck_assert(isnan(res.test_acc)); /* nothing evaluated: no accuracy (review-s11 #26) */
    ck_assert(isfinite(res.initial_loss));
    ck_assert_int_eq(mn_fit_judge(MN_OK, &res, MN_FIT_DIVERGENCE_FACTOR), MN_OK);
    ck_assert(res.diverged);

    /* The sweep's rule on finished runs. */
    mn_fit_result a = {.initial_loss = 1.0, .train_loss = 2.5, .test_loss = 2.4, .test_acc = 0.3};
    ck_assert_int_eq(mn_fit_judge(MN_OK, &a, 0), MN_OK); /* factor 0: not checked */
    ck_assert(!a.diverged);
    ck_assert_int_eq(mn_fit_judge(MN_OK, &a, 2), MN_OK);
    ck_assert(a.diverged);
    ck_assert_double_eq(a.train_loss, 2.5); /* its numbers kept */
    a = (mn_fit_result){.initial_loss = 1.0, .train_loss = 2.0};
    ck_assert_int_eq(mn_fit_judge(MN_OK, &a, 2), MN_OK);
    ck_assert(!a.diverged); /* not above */
    a = (mn_fit_result){.initial_loss = 1.0, .train_loss = NAN};
    mn_fit_judge(MN_OK, &a, 2);
    ck_assert(a.diverged);
    /* An update that overflowed: diverged, losses +inf, no accuracy, and not
     * an error. */
    a = (mn_fit_result){.initial_loss = 1.0, .train_loss = 0.5, .test_loss = 0.5,
                        .test_acc = 0.8};
    ck_assert_int_eq(mn_fit_judge(MN_ERR_NONFINITE, &a, 2), MN_OK);
    ck_assert(a.diverged && isinf(a.train_loss) && isinf(a.test_loss) && isnan(a.test_acc));
    /* Other failures pass through untouched. */
    a = (mn_fit_result){.initial_loss = 1.0, .train_loss = 5};
    ck_assert_int_eq(mn_fit_judge(MN_ERR_IO, &a, 2), MN_ERR_IO);
    ck_assert(!a.diverged);
}
END_TEST

/* A blown-up network with dead ReLUs: zero logits on the training batches, a
 * training loss of exactly ln 10, and a test loss of 1e34. The evaluated test
 * loss is judged too; NAN (no evaluation) is not. */
START_TEST(test_fit_judge_test_loss)
{
    const double ln10 = log(10.0);
    mn_fit_result a = {.initial_loss = 2.31, .train_loss = ln10, .test_loss = 1e34,
                       .test_acc = 0.1};
    ck_assert_int_eq(mn_fit_judge(MN_OK, &a, MN_FIT_DIVERGENCE_FACTOR), MN_OK);
    ck_assert(a.diverged);
    ck_assert(a.train_loss == ln10 && a.test_loss == 1e34); /* its numbers kept */
    a = (mn_fit_result){.initial_loss = 2.31, .train_loss = ln10, .test_loss = 862.8};
    ck_assert_int_eq(mn_fit_judge(MN_OK, &a, 0), MN_OK); /* factor 0: not checked */
    ck_assert(!a.diverged);
    a = (mn_fit_result){.initial_loss = 2.31, .train_loss = 2.1, .test_loss = 4.62};
    mn_fit_judge(MN_OK, &a, 2);
    ck_assert(!a.diverged); /* 4.62 = 2 x 2.31: not above */
    a.test_loss = 4.63;
    mn_fit_judge(MN_OK, &a, 2);
    ck_assert(a.diverged);
    /* A network that learned its training data (train loss at most 90% of the
     * first) and does badly on test data unlike it has not diverged: a
     * validation split of upper-case text after lower-case training text. */
    a = (mn_fit_result){.initial_loss = 4.21, .train_loss = 2.63, .test_loss = 8.52};
    mn_fit_judge(MN_OK, &a, 2);
    ck_assert(!a.diverged);
    a = (mn_fit_result){.initial_loss = 2.0, .train_loss = 0.9 * 2.0, .test_loss = 4.5};
    mn_fit_judge(MN_OK, &a, 2);
    ck_assert(!a.diverged); /* exactly 90%: progress */
    a = (mn_fit_result){.initial_loss = 2.0, .train_loss = nextafter(0.9 * 2.0, 2.0),
                        .test_loss = 4.5};
    mn_fit_judge(MN_OK, &a, 2);
    ck_assert(a.diverged);
    /* A non-finite evaluated loss diverged whatever the factor. */
    a = (mn_fit_result){.initial_loss = 2.31, .train_loss = 2.0, .test_loss = INFINITY};
    mn_fit_judge(MN_OK, &a, 0);
    ck_assert(a.diverged);
    /* NAN: no evaluation ran, nothing to judge. */
    a = (mn_fit_result){.initial_loss = 2.31, .train_loss = 2.0, .test_loss = NAN,
                        .test_acc = NAN};
    mn_fit_judge(MN_OK, &a, 2);
    ck_assert(!a.diverged);
    /* A failure is not judged at all. */
    a = (mn_fit_result){.initial_loss = 2.31, .train_loss = 2.0, .test_loss = 1e34};
    ck_assert_int_eq(mn_fit_judge(MN_ERR_IO, &a, 2), MN_ERR_IO);
    ck_assert(!a.diverged);
}
END_TEST

/* ---- sweeps through the library ---------------------------------------------------------------- */

static mn_dataset fm_train, fm_test;
static bool fm_loaded;
static char fm_error[1024];

static const mn_mlp_spec fm_mlp3 = {.d_in = 784, .width = 512, .d_out = 10, .depth = 3};
static const mn_mlp_spec fm_mlp2 = {.d_in = 784, .width = 512, .d_out = 10, .depth = 2};

static void need_fashion_mnist(void)
{
    ck_assert_msg(fm_loaded, "Fashion-MNIST: %s", fm_error);
}

typedef struct progress_rec {
    int starts, runs, ticks, last_done;
    mn_study_plan plan;
    bool eta_ok;
} progress_rec;

static void on_start(void *ctx, const mn_study_plan *p)
{
    progress_rec *r = ctx;
    r->starts++;
    r->plan = *p;
}

static void on_run(void *ctx, const mn_study_progress *p)
{
    progress_rec *r = ctx;
    r->runs++;
    ck_assert_ptr_nonnull(p->row);
    ck_assert_int_eq(p->done, r->last_done + 1); /* one at a time, in order */
    r->last_done = p->done;
    ck_assert_int_eq(p->to_train, r->plan.to_train);
    r->eta_ok = r->eta_ok && p->eta >= 0 && p->run_seconds > 0 && p->elapsed >= p->run_seconds;
}

static mn_study_sweep fixture_sweep(const mn_mlp_spec *mlp, const char *opt, const char *lrs_text,
                                    int seeds, const char *sub, int64_t *widths, double **lrs_out)
{
    int n_lrs;
    ck_assert_ok(mn_study_parse_lrs(lrs_text, lrs_out, &n_lrs));
    widths[0] = 64; /* any order */
    widths[1] = 32;
    static char out[2][512], model[2][128];
    static int k;
    k ^= 1;
    snprintf(out[k], sizeof out[k], "%s/%s", tm_dir, sub);
    char desc[64];
    ck_assert_ok(mn_mlp_describe(mlp, "width", desc, sizeof desc));
    snprintf(model[k], sizeof model[k], "data=fashion-mnist\n%s", desc);
    mn_study_sweep sw = {.param = "width", .values = widths, .n_values = 2, .lrs = *lrs_out,
                         .n_lrs = n_lrs, .seeds = seeds, .jobs = 2, .factory = mn_mlp_factory,
                         .factory_ctx = (void *)mlp, .train_data = &fm_train,
                         .test_data = &fm_test, .dir = out[k], .model_text = model[k]};
    mn_train_settings_default(&sw.train);
    sw.train.opt = opt;
    sw.train.steps = 30;
    return sw;
}

static void read_rows(const char *path, mn_study_row **rows, size_t *n)
{
    int bad;
    ck_assert_ok(mn_study_read_csv(path, "width", rows, n, &bad));
    ck_assert_int_eq(bad, 0);
}

/* Every row of `want` has a row in `got` with the same (value, lr, seed)
 * and the same numbers to `tol` (relative); the worst difference seen. */
static double compare_rows(const char *want_path, const char *got_path, size_t expect, double tol)
{
    mn_study_row *want, *got;
    size_t nw, ng;
    read_rows(want_path, &want, &nw);
    read_rows(got_path, &got, &ng);
    ck_assert_uint_eq(nw, expect);
    ck_assert_uint_eq(ng, expect);
    double worst = 0;
    for (size_t i = 0; i < nw; i++) {
        const mn_study_row *w = &want[i], *g = NULL;
        for (size_t j = 0; j < ng; j++)
            if (got[j].value == w->value && got[j].seed == w->seed &&
                mn_study_same_lr(got[j].lr, w->lr)) {
                ck_assert_msg(g == NULL, "two rows for width %lld lr %g seed %d",
                              (long long)w->value, w->lr, w->seed);
                g = &got[j];
            }
        ck_assert_msg(g != NULL, "no row for width %lld lr %g seed %d", (long long)w->value,
                      w->lr, w->seed);
        ck_assert_double_eq(g->lr, w->lr);
        ck_assert_int_eq(g->diverged, w->diverged);
        ck_assert_msg(close_rel(g->train_loss, w->train_loss, tol, &worst) &&
                          close_rel(g->test_loss, w->test_loss, tol, &worst) &&
                          close_rel(g->test_acc, w->test_acc, tol, &worst),
                      "width %lld lr %g seed %d: got %.17g %.17g %.17g, the CLI made %.17g %.17g "
                      "%.17g", (long long)w->value, w->lr, w->seed, g->train_loss, g->test_loss,
                      g->test_acc, w->train_loss, w->test_loss, w->test_acc);
    }
    free(want);
    free(got);
    return worst;
}

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    ck_assert_msg(j != NULL, "%s: %s", path, e.text);
    return j;
}

/* JSON number or null (NAN) against a double. */
static void compare_number(json_t *v, double got, double tol, double *worst, const char *what)
{
    if (json_is_null(v)) {
        ck_assert_msg(!isfinite(got), "%s: got %.17g, the CLI wrote null", what, got);
        return;
    }
    ck_assert_msg(json_is_number(v), "%s: not a number", what);
    ck_assert_msg(close_rel(got, json_number_value(v), tol, worst), "%s: got %.17g, the CLI wrote "
                  "%.17g", what, got, json_number_value(v));
}

/* Every value of the CLI's summary.json against the library's summary. */
static double compare_summary(const char *want_path, const mn_study_summary *s, double tol)
{
    json_t *j = load_json(want_path);
    double worst = 0;
    json_t *per = json_object_get(j, "per_width");
    ck_assert_uint_eq(json_array_size(per), (size_t)s->n_values);
    for (int i = 0; i < s->n_values; i++) {
        json_t *o = json_array_get(per, (size_t)i);
        const mn_study_point *pv = &s->per_value[i];
        ck_assert_int_eq(json_integer_value(json_object_get(o, "width")), pv->value);
        compare_number(json_object_get(o, "best_lr"), pv->best_lr, tol, &worst, "best_lr");
        compare_number(json_object_get(o, "best_lr_refined"), pv->best_lr_refined, tol, &worst,
                       "best_lr_refined");
        compare_number(json_object_get(o, "loss"), pv->loss, tol, &worst, "loss");
        ck_assert_int_eq(json_is_true(json_object_get(o, "at_edge")), pv->at_edge);
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)pv->value);
        compare_number(json_object_get(json_object_get(j, "regret"), key), pv->regret, tol,
                       &worst, "regret");
    }
    compare_number(json_object_get(j, "slope"), s->slope, tol, &worst, "slope");
    compare_number(json_object_get(j, "spread"), s->spread, tol, &worst, "spread");
    ck_assert_int_eq(json_is_true(json_object_get(j, "monotone")), s->monotone);
    json_decref(j);
    return worst;
}

/* A fixture sweep from scratch through the library: the CLI's rows, its
 * settings file byte for byte, and its summary; then a rerun trains nothing. */
static void check_fixture(const char *name, const mn_mlp_spec *mlp, const char *opt,
                          const char *lrs_text, int seeds, int runs)
{
    need_fashion_mnist();
    int64_t widths[2];
    double *lrs;
    mn_study_sweep sw = fixture_sweep(mlp, opt, lrs_text, seeds, name, widths, &lrs);
    mn_study_plan plan;
    ck_assert_ok(mn_study_sweep_plan(&sw, &plan));
    ck_assert_int_eq(plan.total, runs);
    ck_assert_int_eq(plan.done, 0);
    ck_assert_int_eq(plan.jobs, 2);
    ck_assert(!exists(sw.dir)); /* planning writes nothing */
    progress_rec pr = {.eta_ok = true};
    mn_study_callbacks cb = {.ctx = &pr, .on_start = on_start, .on_run = on_run};
    ck_assert_ok(mn_study_sweep_run(&sw, &cb, &plan));
    ck_assert_int_eq(pr.starts, 1);
    ck_assert_int_eq(pr.runs, runs);
    ck_assert(pr.eta_ok);

    char want[1100], got[512];
    const char *arch;
    double tol;
    const char *fixture = tm_fixture_dir(name, 0.25, &tol, &arch);
    snprintf(want, sizeof want, "%s/sweep.cfg", fixture);
    snprintf(got, sizeof got, "%s/sweep.cfg", sw.dir);
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s", slurp(want));
    ck_assert_str_eq(slurp(got), cfg);
    snprintf(want, sizeof want, "%s/results.csv", fixture);
    snprintf(got, sizeof got, "%s/results.csv", sw.dir);
    double worst = compare_rows(want, got, (size_t)runs, tol);
    printf("%s: %d rows match the CLI's within %g (kernels %s), worst relative difference "
           "%.3g\n", name, runs, tol, arch, worst);

    mn_study_summary s;
    int bad, missing;
    ck_assert_ok(mn_study_sweep_summarize(&sw, &s, &bad, &missing));
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(missing, 0);
    snprintf(want, sizeof want, "%s/summary.json", fixture);
    worst = compare_summary(want, &s, tol);
    printf("%s: every summary value matches the CLI's, worst relative difference %.3g\n", name,
           worst);
    /* Our own summary.json reads back to the same numbers (%.17g round trip). */
    snprintf(got, sizeof got, "%s/summary.json", sw.dir);
    ck_assert_ok(mn_study_write_summary(got, &s));
    ck_assert_double_eq(compare_summary(got, &s, 0), 0);
    mn_study_summary_free(&s);

    /* Rerunning trains nothing and leaves the CSV as it was. */
    snprintf(got, sizeof got, "%s/results.csv", sw.dir);
    char csv[8192];
    snprintf(csv, sizeof csv, "%s", slurp(got));
    pr = (progress_rec){.eta_ok = true};
    ck_assert_ok(mn_study_sweep_run(&sw, &cb, &plan));
    ck_assert_int_eq(plan.done, runs);
    ck_assert_int_eq(plan.to_train, 0);
    ck_assert_int_eq(pr.runs, 0);
    ck_assert_str_eq(slurp(got), csv);
    free(lrs);
}

START_TEST(test_fixture_muon)
{
    /* modnorm sweep --widths 32,64 --lrs 2^-4:2^1 --steps 30 --seeds 2 --jobs 2 */
    check_fixture("sweep-muon", &fm_mlp3, "muon", "2^-4:2^1", 2, 24);
}
END_TEST

START_TEST(test_fixture_sgd)
{
    /* modnorm sweep --widths 32,64 --depth 2 --opt sgd --lrs 2^-3:2^2 --steps 30 --seeds 1 --jobs 2 */
    check_fixture("sweep-sgd", &fm_mlp2, "sgd", "2^-3:2^2", 1, 12);
}
END_TEST

static void copy_file(const char *from, const char *to, int keep_lines, int cut)
{
    const char *text = slurp(from);
    FILE *f = fopen(to, "w");
    ck_assert_ptr_nonnull(f);
    int line = 0;
    for (const char *p = text; *p; p++) {
        if (keep_lines >= 0 && line >= keep_lines) {
            /* a line cut short, as a killed sweep leaves it */
            for (int k = 0; k < cut && p[k] && p[k] != '\n'; k++)
                fputc(p[k], f);
            break;
        }
        fputc(*p, f);
        line += *p == '\n';
    }
    fclose(f);
}

START_TEST(test_resume_from_cli)
{
    /* A directory the CLI left half done (its settings file, the header and
     * 8 of 12 rows, the 9th cut short): the library trains the other 4 and
     * the rows are the CLI's. */
    need_fashion_mnist();
    int64_t widths[2];
    double *lrs;
    mn_study_sweep sw = fixture_sweep(&fm_mlp2, "sgd", "2^-3:2^2", 1, "resume", widths, &lrs);
    ck_assert_int_eq(mkdir(sw.dir, 0777), 0);
    char from[1100], to[512];
    double tol;
    const char *fixture = tm_fixture_dir("sweep-sgd", 0.25, &tol, NULL);
    snprintf(from, sizeof from, "%s/sweep.cfg", fixture);
    snprintf(to, sizeof to, "%s/sweep.cfg", sw.dir);
    copy_file(from, to, -1, 0);
    snprintf(from, sizeof from, "%s/results.csv", fixture);
    snprintf(to, sizeof to, "%s/results.csv", sw.dir);
    copy_file(from, to, 9, 12);
    progress_rec pr = {.eta_ok = true};
    mn_study_callbacks cb = {.ctx = &pr, .on_start = on_start, .on_run = on_run};
    mn_study_plan plan;
    ck_assert_ok(mn_study_sweep_run(&sw, &cb, &plan));
    ck_assert_int_eq(plan.done, 8);
    ck_assert_int_eq(plan.to_train, 4);
    ck_assert_int_eq(pr.runs, 4);
    int bad;
    mn_study_row *rows;
    size_t n;
    ck_assert_ok(mn_study_read_csv(to, "width", &rows, &n, &bad));
    ck_assert_int_eq(bad, 1); /* the cut line stays, skipped */
    ck_assert_uint_eq(n, 12);
    free(rows);
    /* compare_rows wants no malformed lines: drop the cut one. */
    char clean[512];
    snprintf(clean, sizeof clean, "%s/clean.csv", tm_dir);
    FILE *in = fopen(to, "r"), *out = fopen(clean, "w");
    char line[512];
    while (fgets(line, sizeof line, in)) {
        mn_study_row r;
        if (strncmp(line, "width,", 6) == 0 || mn_study_parse_row(line, &r))
            fputs(line, out);
    }
    fclose(in);
    fclose(out);
    compare_rows(from, clean, 12, tol);
    free(lrs);
}
END_TEST

static mn_status wrong_input_factory(void *ctx, const char *param, int64_t value, mn_module **out)
{
    (void)ctx;
    (void)param;
    return mn_mlp(out, 100, value, 2, 10); /* 100 inputs: not Fashion-MNIST's 784 */
}

START_TEST(test_refusals_leave_no_trace)
{
    need_fashion_mnist();
    int64_t widths[2];
    double *lrs;
    mn_study_sweep sw = fixture_sweep(&fm_mlp3, "muon", "2^-2", 1, "trace/deep", widths, &lrs);
    sw.train.steps = 2;
    char parent[512];
    snprintf(parent, sizeof parent, "%s/trace", tm_dir);

    /* A value the factory refuses: found before any run. */
    int64_t huge[2] = {64, 100000};
    sw.values = huge;
    ck_assert_int_eq(mn_study_sweep_run(&sw, NULL, NULL), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "width 100000"));
    ck_assert(!exists(parent));
    sw.values = widths;
    /* A width sweep of a depth-1 MLP has no width to vary. */
    mn_mlp_spec flat = fm_mlp3;
    flat.depth = 1;
    sw.factory_ctx = &flat;
    ck_assert_int_eq(mn_study_sweep_run(&sw, NULL, NULL), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "hidden width"));
    sw.factory_ctx = (void *)&fm_mlp3;
    /* A batch larger than the data. */
    sw.train.batch = 70000;
    ck_assert_int_eq(mn_study_sweep_run(&sw, NULL, NULL), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "batch 70000"));
    sw.train.batch = 128;
    /* Bad grids and settings. */
    mn_study_sweep bad = sw;
    bad.param = "wid th";
    ck_assert_int_eq(mn_study_sweep_run(&bad, NULL, NULL), MN_ERR_ARG);
    bad = sw;
    bad.seeds = 0;
    ck_assert_int_eq(mn_study_sweep_run(&bad, NULL, NULL), MN_ERR_ARG);
    bad = sw;
    bad.jobs = 0;
    ck_assert_int_eq(mn_study_sweep_run(&bad, NULL, NULL), MN_ERR_ARG);
    bad = sw;
    bad.train.opt = "nope";
    ck_assert_int_eq(mn_study_sweep_run(&bad, NULL, NULL), MN_ERR_ARG);
    bad = sw;
    bad.model_text = "data=x"; /* not whole lines */
    ck_assert_int_eq(mn_study_sweep_run(&bad, NULL, NULL), MN_ERR_ARG);
    bad = sw;
    bad.test_data = NULL;
    ck_assert_int_eq(mn_study_sweep_run(&bad, NULL, NULL), MN_ERR_ARG);
    ck_assert(!exists(parent));
    /* DIR is made alone, never its parents (a mistyped path is not a new
     * tree): with its parent missing, the first finished run fails the sweep. */
    ck_assert_int_eq(mn_study_sweep_run(&sw, NULL, NULL), MN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "cannot create the directory"));
    ck_assert(!exists(parent));

    /* Every run fails in training (a model that does not fit the data): the
     * error names the run, and neither DIR nor its parent is made... */
    sw.factory = wrong_input_factory;
    mn_status st = mn_study_sweep_run(&sw, NULL, NULL);
    ck_assert_int_eq(st, MN_ERR_SHAPE);
    ck_assert_msg(strstr(mn_last_error(), "width 64, lr 0.25, seed 0") ||
                      strstr(mn_last_error(), "width 32, lr 0.25, seed 0"),
                  "%s", mn_last_error());
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "no run finished"));
    ck_assert(!exists(parent));
    /* ...and an existing empty DIR stays empty (no lock file either). */
    ck_assert_int_eq(mkdir(parent, 0777), 0);
    ck_assert_int_eq(mkdir(sw.dir, 0777), 0);
    ck_assert_int_eq(mn_study_sweep_run(&sw, NULL, NULL), MN_ERR_SHAPE);
    ck_assert_int_eq(entries(sw.dir), 0);
    sw.factory = mn_mlp_factory;

    /* Another sweep holds DIR: refused before any training. */
    int fd = open(sw.dir, O_RDONLY | O_DIRECTORY);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    ck_assert_int_eq(mn_study_sweep_run(&sw, NULL, NULL), MN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "in use"));
    close(fd);
    ck_assert_int_eq(entries(sw.dir), 0);

    /* Runs of other settings in DIR: refused, naming the first difference;
     * DIR keeps only what was there. */
    char path[600];
    snprintf(path, sizeof path, "%s/study/sweep-muon/sweep.cfg", MN_TEST_DATA);
    char to[600];
    snprintf(to, sizeof to, "%s/sweep.cfg", sw.dir);
    copy_file(path, to, -1, 0);
    sw.train.opt = "sgd";
    mn_study_plan plan;
    ck_assert_int_eq(mn_study_sweep_plan(&sw, &plan), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "opt=muon"));
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "opt=sgd"));
    ck_assert_int_eq(mn_study_sweep_run(&sw, NULL, NULL), MN_ERR_ARG);
    ck_assert_int_eq(entries(sw.dir), 1);
    /* A results CSV of another parameter is refused too. */
    sw.train.opt = "muon";
    sw.train.steps = 30;
    snprintf(to, sizeof to, "%s/results.csv", sw.dir);
    FILE *f = fopen(to, "w");
    fputs("depth,lr,seed,train_loss,test_loss,test_acc,diverged\n", f);
    fclose(f);
    ck_assert_int_eq(mn_study_sweep_plan(&sw, &plan), MN_ERR_FORMAT);
    free(lrs);
}
END_TEST

START_TEST(test_depth_sweep)
{
    /* The built-in MLP over depth: `modnorm sweep --over depth=2,3` as a library call. */
    need_fashion_mnist();
    const mn_mlp_spec mlp = {.d_in = 784, .width = 32, .d_out = 10, .depth = 3};
    int64_t depths[2] = {3, 2};
    double lrs[2] = {0.25, 0.5};
    char out[512], model[128], desc[64];
    snprintf(out, sizeof out, "%s/depth", tm_dir);
    ck_assert_ok(mn_mlp_describe(&mlp, "depth", desc, sizeof desc));
    ck_assert_str_eq(desc, "model=mlp\nwidth=32\n");
    snprintf(model, sizeof model, "data=fashion-mnist\n%s", desc);
    mn_study_sweep sw = {.param = "depth", .values = depths, .n_values = 2, .lrs = lrs,
                         .n_lrs = 2, .seeds = 1, .jobs = 2, .factory = mn_mlp_factory,
                         .factory_ctx = (void *)&mlp, .train_data = &fm_train,
                         .test_data = &fm_test, .dir = out, .model_text = model};
    mn_train_settings_default(&sw.train);
    sw.train.steps = 12;
    sw.train.batch = 64;
    progress_rec pr = {.eta_ok = true};
    mn_study_callbacks cb = {.ctx = &pr, .on_start = on_start, .on_run = on_run};
    ck_assert_ok(mn_study_sweep_run(&sw, &cb, NULL));
    ck_assert_int_eq(pr.runs, 4);
    char path[600];
    snprintf(path, sizeof path, "%s/results.csv", out);
    ck_assert(starts_with(slurp(path), "depth,lr,seed,train_loss,test_loss,test_acc,diverged\n"));
    mn_study_row *rows;
    size_t n;
    int bad;
    ck_assert_ok(mn_study_read_csv(path, "depth", &rows, &n, &bad));
    ck_assert_uint_eq(n, 4);
    /* Each row is exactly mn_train of that depth at one thread. */
    for (size_t i = 0; i < n; i++) {
        ck_assert(rows[i].value == 2 || rows[i].value == 3);
        ck_assert(!rows[i].diverged);
        mn_module *root;
        ck_assert_ok(mn_mlp(&root, 784, 32, (int)rows[i].value, 10));
        mn_train_settings s = sw.train;
        s.lr = rows[i].lr;
        s.seed = 0;
        s.threads = 1;
        mn_fit_result res;
        ck_assert_ok(mn_train(root, &s, &fm_train, &fm_test, NULL, &res));
        ck_assert_double_eq(rows[i].train_loss, res.train_loss);
        ck_assert_double_eq(rows[i].test_loss, res.test_loss);
        ck_assert_double_eq(rows[i].test_acc, res.test_acc);
    }
    free(rows);
    snprintf(path, sizeof path, "%s/sweep.cfg", out);
    ck_assert(starts_with(slurp(path), "data=fashion-mnist\nmodel=mlp\nwidth=32\nopt=muon\n"));
    mn_study_summary s;
    int missing;
    ck_assert_ok(mn_study_sweep_summarize(&sw, &s, &bad, &missing));
    ck_assert_int_eq(missing, 0);
    ck_assert_int_eq(s.per_value[0].value, 2);
    ck_assert(s.per_value[0].best >= 0 && s.per_value[1].best >= 0);
    ck_assert(isfinite(s.slope));
    json_t *j = summary_json(&s);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "per_depth")), 2);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "regret"), "3"));
    json_decref(j);
    mn_study_summary_free(&s);
    /* A parameter the MLP does not have is named. */
    sw.param = "heads";
    ck_assert_int_eq(mn_study_sweep_plan(&sw, &(mn_study_plan){0}), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "'heads'"));
    /* With more seeds in the grid than in the CSV, the missing runs are counted. */
    sw.param = "depth";
    sw.seeds = 2;
    ck_assert_ok(mn_study_sweep_summarize(&sw, &s, &bad, &missing));
    ck_assert_int_eq(missing, 4);
    mn_study_summary_free(&s);
}
END_TEST

/* A factory that is slow when it builds the run's model (its first call is
 * the plan's), so that a run lasts long enough to see ticks. */
static int slow_calls;

static mn_status slow_factory(void *ctx, const char *param, int64_t value, mn_module **out)
{
    if (++slow_calls == 2)
        usleep(1500 * 1000);
    return mn_mlp_factory(ctx, param, value, out);
}

static void on_tick(void *ctx, const mn_study_progress *p)
{
    progress_rec *r = ctx;
    r->ticks++;
    ck_assert_ptr_null(p->row);
    ck_assert_int_eq(p->done, 0);
    ck_assert_double_eq(p->eta, -1); /* nothing finished: no estimate yet */
    ck_assert_double_ge(p->elapsed, 0.5);
}

START_TEST(test_sweep_ticks_any_dataset)
{
    /* A sweep over a dataset of the caller's (the synthetic one): on_tick
     * about every second while a run trains; on_run when it is done. */
    int64_t widths[1] = {16};
    double lrs1[1] = {0.1};
    char out[512];
    snprintf(out, sizeof out, "%s/ticks", tm_dir);
    mn_study_sweep sw = {.param = "width", .values = widths, .n_values = 1, .lrs = lrs1,
                         .n_lrs = 1, .seeds = 1, .jobs = 1, .factory = slow_factory,
                         .factory_ctx = (void *)&syn_mlp, .train = syn_settings(),
                         .train_data = &syn_train, .test_data = &syn_test, .dir = out};
    progress_rec pr = {.eta_ok = true};
    mn_study_callbacks cb = {.ctx = &pr, .on_start = on_start, .on_run = on_run,
                             .on_tick = on_tick};
    slow_calls = 0;
    ck_assert_ok(mn_study_sweep_run(&sw, &cb, NULL));
    ck_assert_int_eq(slow_calls, 2);
    ck_assert_int_eq(pr.runs, 1);
    ck_assert_int_ge(pr.ticks, 1);
    ck_assert(pr.eta_ok);
    /* Without model_text the settings file holds the training settings alone. */
    char path[600];
    snprintf(path, sizeof path, "%s/sweep.cfg", out);
    ck_assert(starts_with(slurp(path), "opt=muon\nparam=modular\nepochs=2.5\nbatch=16\n"));
    mn_study_row *rows;
    size_t n;
    snprintf(path, sizeof path, "%s/results.csv", out);
    ck_assert_ok(mn_study_read_csv(path, "width", &rows, &n, NULL));
    ck_assert_uint_eq(n, 1);
    /* The run is mn_train of the factory's model at the run's lr and seed. */
    mn_train_settings s = syn_settings();
    s.lr = 0.1;
    s.seed = 0;
    mn_fit_result res;
    ck_assert_ok(mn_train(syn_model(), &s, &syn_train, &syn_test, NULL, &res));
    ck_assert_double_eq(rows[0].train_loss, res.train_loss);
    ck_assert_double_eq(rows[0].test_acc, res.test_acc);
    free(rows);
}
END_TEST

/* ---- benchmarks (bench.h) and the settings' solver configuration ------------------------------ */

START_TEST(test_solver_config)
{
    /* The preset, then every setting that overrides it. */
    mn_train_settings s = syn_settings();
    mn_solver_config cfg, preset;
    ck_assert_ok(mn_train_solver_config(&s, 15, &cfg));
    ck_assert_ok(mn_solver_preset(&preset, "muon", MN_PARAM_MODULAR));
    ck_assert_double_eq(cfg.lr, 0.1);
    ck_assert_double_eq(cfg.momentum, preset.momentum); /* NAN: the preset's */
    ck_assert_int_eq(cfg.total_steps, 15);
    ck_assert_int_eq(cfg.schedule, MN_SCHEDULE_LINEAR);
    ck_assert_str_eq(cfg.polar.method->name, MN_FIT_DEFAULT_POLAR);
    ck_assert_int_eq(cfg.polar.threads, 1);
    ck_assert(!cfg.serial_atoms && cfg.modular_targets);
    s = (mn_train_settings){.opt = "sgd", .param = MN_PARAM_SP, .lr = NAN, .momentum = 0.5,
                            .nesterov = true, .weight_decay = 0.01,
                            .schedule = MN_SCHEDULE_COSINE, .warmup = 3, .polar_method = "ns5",
                            .steps = 7, .batch = 4, .threads = 2, .serial_atoms = true};
    ck_assert_ok(mn_train_solver_config(&s, 9, &cfg));
    ck_assert_ok(mn_solver_preset(&preset, "sgd", MN_PARAM_SP));
    ck_assert_double_eq(cfg.lr, preset.lr);
    ck_assert_str_eq(cfg.norm, "frobenius");
    ck_assert(!cfg.modular_targets);
    ck_assert_double_eq(cfg.momentum, 0.5);
    ck_assert(cfg.nesterov && cfg.serial_atoms);
    ck_assert_double_eq(cfg.weight_decay, 0.01);
    ck_assert_int_eq(cfg.schedule, MN_SCHEDULE_COSINE);
    ck_assert_int_eq(cfg.warmup, 3);
    ck_assert_int_eq(cfg.total_steps, 9);
    ck_assert_str_eq(cfg.polar.method->name, "ns5");
    ck_assert_int_eq(cfg.polar.threads, 2);
    ck_assert_int_eq(mn_train_solver_config(&s, 0, &cfg), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "total_steps 0"));
    s.opt = "lion";
    ck_assert_int_eq(mn_train_solver_config(&s, 9, &cfg), MN_ERR_ARG);
    ck_assert_int_eq(mn_train_solver_config(NULL, 9, &cfg), MN_ERR_ARG);
}
END_TEST

START_TEST(test_bench_products)
{
    /* BLIS's kernel set, asked before any product (BLIS not initialized yet). */
    mn_bench_blas blas;
    mn_bench_blas_info(&blas);
    ck_assert(blas.version && blas.arch && blas.arch_reason && blas.arch[0]);
    ck_assert_str_eq(mn_bench_product_name(MN_BENCH_GEMM), "gemm");
    ck_assert_str_eq(mn_bench_product_name(MN_BENCH_SYRK), "syrk");
    ck_assert_str_eq(mn_bench_product_name(MN_BENCH_GEMMT), "gemmt");
    ck_assert_ptr_null(mn_bench_product_name((mn_bench_op)3));
    ck_assert_double_eq(mn_bench_product_flops(MN_BENCH_GEMM, 1000), 2e9);
    ck_assert_double_eq(mn_bench_product_flops(MN_BENCH_SYRK, 1000), 1e9);
    ck_assert_double_eq(mn_bench_product_flops(MN_BENCH_GEMMT, 1000), 1e9);
    ck_assert(isnan(mn_bench_product_flops(MN_BENCH_GEMM, 0)));
    ck_assert(isnan(mn_bench_product_flops((mn_bench_op)-1, 8)));
    for (int op = 0; op < 3; op++) {
        mn_bench_times t;
        ck_assert_ok(mn_bench_product((mn_bench_op)op, 64, 1, 3, &t));
        ck_assert_int_eq(t.repeat, 3);
        ck_assert(t.min > 0 && t.min <= t.median && t.median <= t.max && isfinite(t.max));
    }
    mn_bench_times t;
    ck_assert_int_eq(mn_bench_product(MN_BENCH_GEMM, 64, 1, 0, &t), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "repeat 0"));
    ck_assert_int_eq(mn_bench_product(MN_BENCH_GEMM, 0, 1, 3, &t), MN_ERR_ARG);
    ck_assert_int_eq(mn_bench_product((mn_bench_op)3, 8, 1, 3, &t), MN_ERR_ARG);
    double rate;
    ck_assert_ok(mn_bench_gemm_rate(1, &rate));
    ck_assert(rate > 1e8 && isfinite(rate)); /* any machine does 0.1 GFLOP/s */
}
END_TEST

START_TEST(test_bench_polar)
{
    /* The error figure: against the exact polar factor, relative in Frobenius. */
    mn_mat G, X;
    ck_assert_ok(mn_mat_alloc(&G, MN_F64, 6, 9));
    ck_assert_ok(mn_mat_alloc(&X, MN_F64, 6, 9));
    mn_rng r;
    mn_rng_seed(&r, 4);
    mn_rng_fill_normal(&r, &G);
    const mn_polar_method *svd, *ns5;
    ck_assert_ok(mn_polar_lookup("svd", &svd));
    ck_assert_ok(mn_polar_lookup("ns5", &ns5));
    ck_assert_ok(mn_polar(svd, 0, 1, &X, &G));
    double err;
    ck_assert_ok(mn_bench_polar_error(&X, &G, 1, &err));
    ck_assert_double_eq(err, 0);
    for (int64_t i = 0; i < 6; i++) /* 2·UVᵀ is off by exactly ‖UVᵀ‖ */
        for (int64_t j = 0; j < 9; j++)
            mn_mat_set(&X, i, j, 2 * mn_mat_get(&X, i, j));
    ck_assert_ok(mn_bench_polar_error(&X, &G, 1, &err));
    ck_assert_double_eq_tol(err, 1, 1e-12);
    for (int64_t i = 0; i < 6; i++) /* a zero G: no direction, no error */
        for (int64_t j = 0; j < 9; j++)
            mn_mat_set(&G, i, j, 0);
    ck_assert_ok(mn_bench_polar_error(&X, &G, 1, &err));
    ck_assert_double_eq(err, 0);
    mn_mat T;
    ck_assert_ok(mn_mat_alloc(&T, MN_F64, 9, 6));
    ck_assert_int_eq(mn_bench_polar_error(&T, &G, 1, &err), MN_ERR_SHAPE);
    mn_mat_free(&T);
    mn_mat_free(&G);
    mn_mat_free(&X);

    /* A timed run: the form AUTO chose, its flops, the error in the method's band. */
    mn_bench_dualize_result d;
    ck_assert_ok(mn_bench_dualize(ns5, MN_POLAR_AUTO, 48, 80, 1, 3, true, &d));
    ck_assert_int_eq(d.times.repeat, 3);
    ck_assert(d.times.min > 0 && d.times.min <= d.times.median && d.times.median <= d.times.max);
    ck_assert_int_eq(d.form, mn_polar_form_for(ns5, 0, 48, 80, MN_F32));
    ck_assert_str_eq(d.form_name, d.form == MN_POLAR_GRAM ? "gram" : "direct");
    ck_assert_double_eq(d.flops, mn_polar_flops(ns5, d.form, 0, 48, 80, MN_F32));
    ck_assert_double_eq(d.roofline, d.flops / d.gemm_rate);
    ck_assert_msg(d.polar_err > 0 && d.polar_err < 0.35, "ns5 error %g", d.polar_err);
    ck_assert_ok(mn_bench_dualize(ns5, MN_POLAR_GRAM, 48, 80, 1, 1, false, &d));
    ck_assert_str_eq(d.form_name, "gram");
    ck_assert(isnan(d.polar_err));
    ck_assert_ok(mn_bench_dualize(svd, MN_POLAR_AUTO, 20, 30, 1, 1, true, &d));
    ck_assert_str_eq(d.form_name, "svd");
    ck_assert_double_le(d.polar_err, 1e-6);
    ck_assert_int_eq(mn_bench_dualize(ns5, MN_POLAR_AUTO, 0, 8, 1, 1, false, &d), MN_ERR_ARG);
    ck_assert_int_eq(mn_bench_dualize(ns5, MN_POLAR_AUTO, 8, 8, 1, 0, false, &d), MN_ERR_ARG);
}
END_TEST

START_TEST(test_bench_step)
{
    /* The roofline's flops: forward and backward products per atom (two for
     * the first), and for Muon the polar iteration of every atom. */
    const mn_mlp_spec mlp = {.d_in = 784, .width = 64, .d_out = 10, .depth = 2};
    const int64_t B = 32;
    mn_train_settings s;
    mn_train_settings_default(&s);
    s.schedule = MN_SCHEDULE_CONSTANT;
    s.batch = B;
    s.threads = 1;
    const char *opts[] = {"muon", "sgd", "adam"};
    for (int o = 0; o < 3; o++) {
        s.opt = opts[o];
        mn_module *root;
        mn_network *net;
        mn_solver *solver;
        mn_solver_config cfg;
        ck_assert_ok(mn_mlp_factory((void *)&mlp, "width", 64, &root));
        ck_assert_ok(mn_train_build(root, &s, 3, &net, &solver));
        ck_assert_ok(mn_train_solver_config(&s, 3, &cfg));
        double want = 2 * 2.0 * B * 64 * 784 + 3 * 2.0 * B * 10 * 64;
        if (o == 0)
            want += mn_polar_flops(cfg.polar.method, MN_POLAR_AUTO, 0, 64, 784, MN_F32) +
                    mn_polar_flops(cfg.polar.method, MN_POLAR_AUTO, 0, 10, 64, MN_F32);
        double flops = mn_bench_step_flops(net, &cfg, B);
        ck_assert_msg(flops == want, "%s: %.17g flops, want %.17g", opts[o], flops, want);
        ck_assert(isnan(mn_bench_step_flops(NULL, &cfg, B)));

        /* Timed steps: the update is part of each step, so every order
         * statistic of the update's times is at most the step's. */
        mn_bench_step_result r;
        ck_assert_ok(mn_mlp_factory((void *)&mlp, "width", 64, &root));
        ck_assert_ok(mn_bench_step(root, &s, 784, 10, 3, &r));
        ck_assert_int_eq(r.step.repeat, 3);
        ck_assert_int_eq(r.update.repeat, 3);
        ck_assert(r.step.min > 0 && r.step.min <= r.step.median && r.step.median <= r.step.max);
        ck_assert(r.update.min <= r.step.min && r.update.median <= r.step.median &&
                  r.update.max <= r.step.max && r.update.min > 0);
        ck_assert_double_eq(r.flops, want);
        ck_assert_double_eq(r.roofline, r.flops / r.gemm_rate);
        ck_assert_int_eq(r.atoms, 2);
        ck_assert_int_eq(r.atoms_side_by_side, mn_solver_atoms_side_by_side(solver));
        ck_assert(r.peak_rss_mb > 1);
        mn_solver_destroy(solver);
        mn_network_destroy(net);
    }
    /* One thread or serial_atoms: nothing side by side. */
    mn_bench_step_result r;
    mn_module *root;
    s.opt = "muon";
    s.serial_atoms = true;
    ck_assert_ok(mn_mlp_factory((void *)&mlp, "width", 64, &root));
    ck_assert_ok(mn_bench_step(root, &s, 784, 10, 1, &r));
    ck_assert_int_eq(r.atoms_side_by_side, 0);
    /* Refusals take the tree too (no leak under the sanitizers). */
    ck_assert_ok(mn_mlp_factory((void *)&mlp, "width", 64, &root));
    ck_assert_int_eq(mn_bench_step(root, &s, 784, 10, 0, &r), MN_ERR_ARG);
    ck_assert_ok(mn_mlp_factory((void *)&mlp, "width", 64, &root));
    ck_assert_int_eq(mn_bench_step(root, &s, 0, 10, 1, &r), MN_ERR_ARG);
    ck_assert_ok(mn_mlp_factory((void *)&mlp, "width", 64, &root));
    s.opt = "lion";
    ck_assert_int_eq(mn_bench_step(root, &s, 784, 10, 1, &r), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "lion"));
}
END_TEST

int main(void)
{
    make_syn(&syn_train, 96, 1);
    make_syn(&syn_test, 48, 2);
    /* Loaded once, before Check forks the tests. */
    if (mn_fashion_mnist_load(NULL, &fm_train, &fm_test) == MN_OK)
        fm_loaded = true;
    else
        snprintf(fm_error, sizeof fm_error, "%s", mn_last_error());

    Suite *s = suite_create("study");
    TCase *tc = tcase_create("study");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, tm_dir_remove);
    tcase_add_test(tc, test_parse_lrs);
    tcase_add_test(tc, test_parse_values_and_over);
    tcase_add_test(tc, test_quick_lrs);
    tcase_add_test(tc, test_csv_rows);
    tcase_add_test(tc, test_csv_duplicate_rows);
    tcase_add_test(tc, test_parabola);
    tcase_add_test(tc, test_summary_transfer);
    tcase_add_test(tc, test_summary_divergence_and_edges);
    tcase_add_test(tc, test_summary_one_value);
    tcase_add_test(tc, test_settings);
    tcase_add_test(tc, test_null_settings_and_rows);
    tcase_add_test(tc, test_atom_norms_apply_shape);
    tcase_add_test(tc, test_atom_norms_apply_tree);
    tcase_add_test(tc, test_train_memory);
    tcase_add_test(tc, test_bench_dualize_memory);
    tcase_add_test(tc, test_fit_callbacks_and_epochs);
    tcase_add_test(tc, test_fit_pieces);
    tcase_add_test(tc, test_fit_from_messages);
    tcase_add_test(tc, test_fit_custom_source);
    tcase_add_test(tc, test_fit_divergence);
    tcase_add_test(tc, test_fit_judge_test_loss);
    tcase_add_test(tc, test_sweep_ticks_any_dataset);
    tcase_add_test(tc, test_refusals_leave_no_trace);
    tcase_add_test(tc, test_depth_sweep);
    tcase_add_test(tc, test_resume_from_cli);
    tcase_add_test(tc, test_fixture_sgd);
    tcase_add_test(tc, test_fixture_muon);
    tcase_add_test(tc, test_solver_config);
    tcase_add_test(tc, test_bench_products);
    tcase_add_test(tc, test_bench_polar);
    tcase_add_test(tc, test_bench_step);
    suite_add_tcase(s, tc);
    int rc = tm_run_suite(s);
    mn_dataset_free(&syn_train);
    mn_dataset_free(&syn_test);
    mn_dataset_free(&fm_train);
    mn_dataset_free(&fm_test);
    return rc;
}
