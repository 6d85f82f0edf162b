/* modnorm sweep and modnorm coordcheck through the binary: the fixtures
 * committed before the CLI moved onto the library (tests/data/study:
 * sweep-muon, sweep-sgd, coord-muon, coord-adam) reproduced by the same
 * commands, every CSV and summary value to 1e-12 with the fixtures'
 * kernels (tm_fixture_dir) and the coordinate check's
 * printed tables and verdicts; argument errors, resuming, jobs and
 * divergence, sweeps --over depth, a tiny end-to-end sweep with its plots.
 * The pure functions (grids, CSV, the summary) are tested in test_study.c.
 * The binary's path comes from the MODNORM environment variable (set by
 * meson). With MN_SWEEP_QUICK=1 (the 'slow' suite) it runs `modnorm sweep
 * --quick`. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "modnorm.h"
#include "testutil.h"

#define CSV_HEADER "width,lr,seed,train_loss,test_loss,test_acc,diverged"

static void setup(void) { tm_dir_make("sweep"); }


#define run tm_run_modnorm

#define slurp tm_text_of

/* The same in a new string (free it). */
static char *slurp_dup(const char *path)
{
    char *s = strdup(slurp(path));
    ck_assert_ptr_nonnull(s);
    return s;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* |a − b| <= tol·max(|a|, |b|), or both the same infinity; the worst seen. */
static bool close_rel(double a, double b, double tol, double *worst)
{
    if (isinf(a) || isinf(b) || isnan(a) || isnan(b))
        return a == b;
    double m = fmax(fabs(a), fabs(b)), d = fabs(a - b);
    if (worst && m > 0 && d / m > *worst)
        *worst = d / m;
    return d <= tol * m;
}

static mn_study_row *read_rows(const char *path, const char *param, size_t *n, int *bad)
{
    mn_study_row *rows;
    ck_assert_msg(mn_study_read_csv(path, param, &rows, n, bad) == MN_OK, "%s: %s", path,
                  mn_last_error());
    return rows;
}

/* ---- the fixtures, through the binary ---------------------------------------- */

/* Every row of the fixture's results.csv has one in `got` with the same
 * (width, lr, seed) and numbers to tol; the worst relative difference. */
static double compare_rows(const char *want_path, const char *got_path, size_t runs, double tol)
{
    size_t nw, ng;
    int bad;
    mn_study_row *want = read_rows(want_path, "width", &nw, &bad), *got;
    ck_assert_int_eq(bad, 0);
    got = read_rows(got_path, "width", &ng, &bad);
    ck_assert_int_eq(bad, 0);
    ck_assert_uint_eq(nw, runs);
    ck_assert_uint_eq(ng, runs);
    double worst = 0;
    for (size_t i = 0; i < nw; i++) {
        const mn_study_row *w = &want[i], *g = NULL;
        for (size_t j = 0; j < ng; j++)
            if (got[j].value == w->value && got[j].seed == w->seed && got[j].lr == w->lr) {
                ck_assert_msg(!g, "two rows for width %lld lr %g seed %d", (long long)w->value,
                              w->lr, w->seed);
                g = &got[j];
            }
        ck_assert_msg(g, "no row for width %lld lr %g seed %d", (long long)w->value, w->lr,
                      w->seed);
        ck_assert_int_eq(g->diverged, w->diverged);
        ck_assert_msg(close_rel(g->train_loss, w->train_loss, tol, &worst) &&
                          close_rel(g->test_loss, w->test_loss, tol, &worst) &&
                          close_rel(g->test_acc, w->test_acc, tol, &worst),
                      "width %lld lr %g seed %d: %.17g %.17g %.17g, the fixture %.17g %.17g %.17g",
                      (long long)w->value, w->lr, w->seed, g->train_loss, g->test_loss,
                      g->test_acc, w->train_loss, w->test_loss, w->test_acc);
    }
    free(want);
    free(got);
    return worst;
}

/* Two JSON documents with the same keys and the same values, numbers to tol
 * relative; the count of numbers compared. */
static int compare_json(json_t *got, json_t *want, double tol, double *worst, const char *where)
{
    ck_assert_msg(json_typeof(got) == json_typeof(want) ||
                      (json_is_number(got) && json_is_number(want)),
                  "%s: a %d, the fixture a %d", where, json_typeof(got), json_typeof(want));
    int numbers = 0;
    char sub[256];
    if (json_is_object(want)) {
        ck_assert_uint_eq(json_object_size(got), json_object_size(want));
        const char *key;
        json_t *v;
        json_object_foreach(want, key, v) {
            snprintf(sub, sizeof sub, "%s.%s", where, key);
            json_t *g = json_object_get(got, key);
            ck_assert_msg(g, "%s: missing", sub);
            numbers += compare_json(g, v, tol, worst, sub);
        }
    } else if (json_is_array(want)) {
        ck_assert_uint_eq(json_array_size(got), json_array_size(want));
        for (size_t i = 0; i < json_array_size(want); i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", where, i);
            numbers += compare_json(json_array_get(got, i), json_array_get(want, i), tol, worst,
                                    sub);
        }
    } else if (json_is_number(want)) {
        double a = json_number_value(got), b = json_number_value(want);
        ck_assert_msg(close_rel(a, b, tol, worst), "%s: %.17g, the fixture %.17g", where, a, b);
        numbers++;
    } else if (json_is_boolean(want)) {
        ck_assert_msg(json_is_true(got) == json_is_true(want), "%s differs", where);
    }
    return numbers;
}

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    ck_assert_msg(j, "%s: %s", path, e.text);
    return j;
}

/* `modnorm sweep ARGS` into a fresh DIR: its sweep.cfg byte for byte, every
 * row and every summary value to tm_fixture_dir's tolerance; a rerun trains
 * nothing. */
static void sweep_fixture(const char *name, const char *args, int runs)
{
    char cmd[1024], out[256], want[600], got[600];
    static char buf[1 << 16];
    snprintf(out, sizeof out, "%s/%s", tm_dir, name);
    snprintf(cmd, sizeof cmd, "sweep %s --out %s", args, out);
    int code = run(cmd, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", cmd, code, buf);
    char plan[64];
    snprintf(plan, sizeof plan, "= %d runs, 0 already", runs);
    ck_assert_msg(strstr(buf, plan), "%s", buf);

    const char *arch;
    double tol;
    const char *fixture = tm_fixture_dir(name, 0.25, &tol, &arch);
    snprintf(want, sizeof want, "%s/sweep.cfg", fixture);
    snprintf(got, sizeof got, "%s/sweep.cfg", out);
    char *cfg = slurp_dup(want);
    ck_assert_str_eq(slurp(got), cfg);
    free(cfg);
    snprintf(want, sizeof want, "%s/results.csv", fixture);
    snprintf(got, sizeof got, "%s/results.csv", out);
    double worst = compare_rows(want, got, (size_t)runs, tol);
    printf("%s: `modnorm %s`: %d rows match the fixture's within %g (kernels %s), worst "
           "relative difference %.3g\n", name, cmd, runs, tol, arch, worst);
    snprintf(want, sizeof want, "%s/summary.json", fixture);
    snprintf(got, sizeof got, "%s/summary.json", out);
    json_t *jw = load_json(want), *jg = load_json(got);
    worst = 0;
    int numbers = compare_json(jg, jw, tol, &worst, "summary");
    json_decref(jw);
    json_decref(jg);
    ck_assert_int_ge(numbers, 10);
    printf("%s: %d summary values match the fixture's, worst relative difference %.3g\n", name,
           numbers, worst);

    /* A rerun trains nothing, leaves the CSV and writes the same summary. */
    char *summary = slurp_dup(got), csv_path[700];
    snprintf(csv_path, sizeof csv_path, "%s/results.csv", out);
    char *csv = slurp_dup(csv_path);
    code = run(cmd, buf, sizeof buf);
    ck_assert_msg(code == 0, "rerun exited %d: %s", code, buf);
    snprintf(plan, sizeof plan, "= %d runs, %d already", runs, runs);
    ck_assert_msg(strstr(buf, plan) && !strstr(buf, "[1/"), "%s", buf);
    ck_assert_str_eq(slurp(csv_path), csv);
    ck_assert_str_eq(slurp(got), summary);
    free(csv);
    free(summary);
}

START_TEST(test_fixture_sweep_muon)
{
    sweep_fixture("sweep-muon", "--widths 32,64 --lrs 2^-4:2^1 --steps 30 --seeds 2 --jobs 2",
                  24);
}
END_TEST

START_TEST(test_fixture_sweep_sgd)
{
    sweep_fixture("sweep-sgd",
                  "--widths 32,64 --depth 2 --opt sgd --lrs 2^-3:2^2 --steps 30 --seeds 1 "
                  "--jobs 2",
                  12);
}
END_TEST

/* Fields of two coord.csv texts: text equal, numbers to tol relative. */
static int compare_coord_csv(const char *got, const char *want, double tol, double *worst)
{
    int numbers = 0, line = 1;
    const char *g = got, *w = want;
    size_t hg = strcspn(g, "\n"), hw = strcspn(w, "\n");
    ck_assert_msg(hg == hw && strncmp(g, w, hw) == 0, "the headers differ");
    g += hg + 1;
    w += hw + 1;
    while (*w) {
        ck_assert_msg(*g, "line %d missing", line + 1);
        line++;
        for (int field = 0;; field++) {
            size_t ng = strcspn(g, ",\n"), nw = strcspn(w, ",\n");
            char a[64], b[64];
            ck_assert(ng < sizeof a && nw < sizeof b);
            memcpy(a, g, ng);
            a[ng] = '\0';
            memcpy(b, w, nw);
            b[nw] = '\0';
            if (field == 3 || !*a || !*b) {
                ck_assert_msg(strcmp(a, b) == 0, "line %d field %d: '%s', fixture '%s'", line,
                              field, a, b);
            } else {
                double x = strtod(a, NULL), y = strtod(b, NULL);
                ck_assert_msg(close_rel(x, y, tol, worst), "line %d field %d: %.17g, fixture "
                              "%.17g", line, field, x, y);
                numbers += field >= 4;
            }
            ck_assert_msg((g[ng] == ',') == (w[nw] == ','), "line %d: field counts differ",
                          line);
            g += ng + 1;
            w += nw + 1;
            if (g[-1] != ',')
                break;
        }
    }
    ck_assert_msg(!*g, "more lines than the fixture");
    return numbers;
}

/* `modnorm coordcheck ARGS`: coord.csv to tm_fixture_dir's tolerance, stdout line for line the
 * fixture's (its stderr lines, the progress, come out on stderr), and the
 * progress on stderr. */
static void coord_fixture(const char *name, const char *args)
{
    const char *exe = getenv("MODNORM");
    ck_assert_ptr_nonnull(exe);
    char cmd[2048], out[256], path[700];
    snprintf(out, sizeof out, "%s/%s", tm_dir, name);
    snprintf(cmd, sizeof cmd, "%s coordcheck %s --out %s >%s.stdout 2>%s.stderr", exe, args, out,
             out, out);
    int st = system(cmd);
    snprintf(path, sizeof path, "%s.stderr", out);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "'%s' exited %d: %s", cmd, st,
                  slurp(path));
    const char *progress = "coordcheck: width 32\ncoordcheck: width 64\ncoordcheck: width 128\n";
    ck_assert_msg(strncmp(slurp(path), progress, strlen(progress)) == 0, "stderr: %s",
                  slurp(path)); /* (the sanitizers may add a report of suppressions) */

    /* The fixture's stdout: its progress lines dropped, its last line ours. */
    const char *arch;
    double worst = 0, tol;
    const char *dir = tm_fixture_dir(name, 1e-3, &tol, &arch);
    snprintf(path, sizeof path, "%s/stdout.txt", dir);
    char *fixture = slurp_dup(path), *want = calloc(1, strlen(fixture) + 2048);
    ck_assert_ptr_nonnull(want);
    for (char *line = fixture; *line;) {
        size_t len = strcspn(line, "\n");
        bool progress = strncmp(line, "coordcheck: width ", 18) == 0;
        if (strncmp(line, "wrote ", 6) == 0)
            sprintf(want + strlen(want), MN_HAVE_PLOTS ? "wrote %s/coord.csv, coord.png and "
                                                         "coord.cfg\n"
                                                       : "wrote %s/coord.csv and coord.cfg\n",
                    out);
        else if (!progress)
            strncat(want, line, len + 1);
        line += len + (line[len] == '\n');
    }
    snprintf(path, sizeof path, "%s.stdout", out);
    ck_assert_str_eq(slurp(path), want);
    int tables = count_lines(want);

    snprintf(path, sizeof path, "%s/coord.csv", dir);
    char *want_csv = slurp_dup(path);
    snprintf(path, sizeof path, "%s/coord.csv", out);
    int numbers = compare_coord_csv(slurp(path), want_csv, tol, &worst);
    ck_assert_int_gt(numbers, 200);
    printf("%s: `modnorm coordcheck %s`: %d CSV numbers within %g of the fixture's (worst "
           "%.3g; kernels %s); its %d lines of stdout are the fixture's\n",
           name, args, numbers, tol, worst, arch, tables);
    free(want_csv);
    free(fixture);
    free(want);
}

START_TEST(test_fixture_coord_muon)
{
    coord_fixture("coord-muon", "--widths 32,64,128 --opt muon --steps 5");
}
END_TEST

START_TEST(test_fixture_coord_adam)
{
    coord_fixture("coord-adam", "--over width=32,64,128 --opt adam --param sp --depth 4 "
                                "--steps 3");
}
END_TEST

/* ---- the command ----------------------------------------------------------------- */

START_TEST(test_argument_errors)
{
    char args[1024], buf[8192];
    const struct {
        const char *args, *needle;
    } cases[] = {
        {"--lrs 2^x:1", "--lrs '2^x:1'"},
        {"--lrs 1:0.5", "empty"},
        {"--lrs 0.1,,0.2", "not a positive number"},
        {"--widths 64,abc", "--widths '64,abc'"},
        {"--widths 0", "not an integer"},
        {"--seeds 0", "--seeds"},
        {"--jobs 0", "--jobs"},
        {"--opt nope", "unknown optimizer"},
        {"--param nope", "--param"},
        {"--data mnist", "--data"},
        {"--bogus", "--bogus"},
        {"--steps 0", "--steps"},
        {"--over depth=2,101", "--over 'depth=2,101': the values of depth: '2,101': '101' is "
                               "not an integer in [1, 100]"},
        {"--over depth", "--over 'depth' must be NAME=V1,V2,..."},
        {"--over width=8 --widths 8", "--over and --widths exclude each other"},
        /* Found by the model before any work. */
        {"--over heads=2,4", "no size parameter 'heads' (known: width, depth)"},
        {"--over depth=2,4 --depth 3", "--depth fixes the depth"},
        {"--widths 8,16 --width 8", "--width fixes the width"},
        {"--widths 8,16 --depth 1", "no hidden width"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, "sweep %s --out %s/x", cases[i].args, tm_dir);
        int code = run(args, buf, sizeof buf);
        ck_assert_msg(code == 2, "'%s' exited %d: %s", args, code, buf);
        ck_assert_msg(strstr(buf, cases[i].needle), "'%s' printed '%s', lacking '%s'", args, buf,
                      cases[i].needle);
        ck_assert_msg(count_lines(buf) == 1, "'%s' printed more than one line: %s", args, buf);
        snprintf(args, sizeof args, "%s/x", tm_dir);
        ck_assert_msg(access(args, F_OK) != 0, "a usage error created the output directory");
    }
    ck_assert_int_eq(run("sweep --widths 64", buf, sizeof buf), 2);
    ck_assert_ptr_nonnull(strstr(buf, "--out DIR is required"));
    ck_assert_int_eq(run("sweep --help", buf, sizeof buf), 0);
    ck_assert_ptr_nonnull(strstr(buf, CSV_HEADER));
    ck_assert_ptr_nonnull(strstr(buf, "--over NAME=V1,..."));
    ck_assert_int_eq(run("coordcheck --widths 64,x --out /nonexistent", buf, sizeof buf), 2);
    ck_assert_ptr_nonnull(strstr(buf, "--widths"));
    ck_assert_int_eq(run("coordcheck --widths 64", buf, sizeof buf), 2);
    ck_assert_int_eq(run("coordcheck --help", buf, sizeof buf), 0);
    snprintf(args, sizeof args, "coordcheck --widths 8,16 --depth 1 --out %s/x", tm_dir);
    ck_assert_int_eq(run(args, buf, sizeof buf), 2);
    ck_assert_msg(strstr(buf, "no hidden width") && count_lines(buf) == 1, "%s", buf);
    snprintf(args, sizeof args, "coordcheck --over heads=2,4 --out %s/x", tm_dir);
    ck_assert_int_eq(run(args, buf, sizeof buf), 2);
    ck_assert_msg(strstr(buf, "no size parameter 'heads'") && count_lines(buf) == 1, "%s", buf);
    snprintf(args, sizeof args, "%s/x", tm_dir);
    ck_assert_int_ne(access(args, F_OK), 0);
}
END_TEST

/* A grid that names a value or a rate twice is refused, naming the option
 * and the value; a results.csv holding two rows of one run (edited or
 * corrupted) is refused rather than averaged in as another seed. */
START_TEST(test_repeats_refused)
{
    char args[1024], buf[8192], path[512];
    const struct {
        const char *cmd, *args, *needle;
    } cases[] = {
        {"sweep", "--widths 16,16", "--widths '16,16': 16 is listed twice"},
        {"sweep", "--widths 64,16,32,16", "--widths '64,16,32,16': 16 is listed twice"},
        {"sweep", "--lrs 0.1,0.1", "--lrs '0.1,0.1': '0.1' repeats the rate 0.1"},
        {"sweep", "--lrs 0.125,2^-3", "--lrs '0.125,2^-3': '2^-3' repeats the rate 0.125"},
        {"sweep", "--over depth=2,4,2",
         "--over 'depth=2,4,2': the values of depth: '2,4,2': 2 is listed twice"},
        {"coordcheck", "--widths 32,32", "--widths '32,32': 32 is listed twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, "%s %s --out %s/x", cases[i].cmd, cases[i].args, tm_dir);
        int code = run(args, buf, sizeof buf);
        ck_assert_msg(code == 2 && strstr(buf, cases[i].needle) && count_lines(buf) == 1,
                      "'%s' exited %d: %s", args, code, buf);
        snprintf(path, sizeof path, "%s/x", tm_dir);
        ck_assert_int_ne(access(path, F_OK), 0);
    }

    /* The review's case: a row of the one run copied with another loss. */
    const char *grid = "--widths 16 --lrs 2^-2 --steps 2 --batch 32";
    snprintf(args, sizeof args, "sweep %s --out %s/r", grid, tm_dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    snprintf(path, sizeof path, "%s/r/results.csv", tm_dir);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fputs("16,0.25,0,1.0,1.0,0.9,0\n", f);
    fclose(f);
    char *before = slurp_dup(path);
    char want[1024];
    snprintf(want, sizeof want, "%s: lines 2 and 3 are the same run (width 16, lr 0.25, seed 0)",
             path);
    for (int no_run = 1; no_run >= 0; no_run--) {
        snprintf(args, sizeof args, "sweep %s%s --out %s/r", grid, no_run ? " --no-run" : "",
                 tm_dir);
        code = run(args, buf, sizeof buf);
        ck_assert_msg(code == 1 && strstr(buf, want) && count_lines(buf) == 1,
                      "'%s' exited %d: %s", args, code, buf);
        ck_assert_str_eq(slurp(path), before); /* nothing appended or rewritten */
    }
    free(before);
}
END_TEST

#define TINY "--widths 16,32 --lrs 2^-2:2^-1 --steps 12 --batch 32"

START_TEST(test_end_to_end_and_resume)
{
    char args[1024], buf[16384], path[512];
    snprintf(args, sizeof args, "sweep " TINY " --out %s/s", tm_dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "2 widths x 2 lrs x 1 seed = 4 runs, 0 already"));
    ck_assert_msg(strstr(buf, "/s/results.csv, summary.json"), "%s", buf);

    snprintf(path, sizeof path, "%s/s/results.csv", tm_dir);
    char csv[8192];
    snprintf(csv, sizeof csv, "%s", slurp(path));
    ck_assert_int_eq(strncmp(csv, CSV_HEADER "\n", strlen(CSV_HEADER) + 1), 0);
    ck_assert_int_eq(count_lines(csv), 5);
    size_t n;
    int bad;
    mn_study_row *rows = read_rows(path, "width", &n, &bad);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(bad, 0);
    for (size_t i = 0; i < n; i++) {
        ck_assert(rows[i].value == 16 || rows[i].value == 32);
        ck_assert(rows[i].lr == 0.25 || rows[i].lr == 0.5);
        ck_assert_int_eq(rows[i].seed, 0);
        ck_assert(isfinite(rows[i].train_loss) && rows[i].train_loss > 0);
        ck_assert(rows[i].test_acc > 0.1 && rows[i].test_acc <= 1);
    }
    free(rows);

    snprintf(path, sizeof path, "%s/s/summary.json", tm_dir);
    json_t *j = load_json(path);
    json_t *per = json_object_get(j, "per_width");
    ck_assert_uint_eq(json_array_size(per), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(per, 0), "width")), 16);
    ck_assert(json_is_number(json_object_get(json_array_get(per, 0), "best_lr")));
    ck_assert(json_is_number(json_object_get(j, "slope")));
    ck_assert(json_is_number(json_object_get(j, "spread")));
    ck_assert(json_is_number(json_object_get(json_object_get(j, "regret"), "16")));
    ck_assert(json_is_boolean(json_object_get(j, "monotone")));
    json_decref(j);
    if (MN_HAVE_PLOTS) { /* -Dplots=disabled: test_cli checks they are off */
        snprintf(path, sizeof path, "%s/s/loss_vs_lr.png", tm_dir);
        ck_assert_int_gt(file_size(path), 1000);
        ck_assert_int_eq(memcmp(slurp(path), "\x89PNG", 4), 0);
        snprintf(path, sizeof path, "%s/s/loss_vs_lr.svg", tm_dir);
        ck_assert_int_gt(file_size(path), 1000);
        ck_assert_ptr_nonnull(strstr(slurp(path), "<svg"));
    }

    /* Rerunning the same command appends nothing and trains nothing. */
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "rerun exited %d: %s", code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "4 runs, 4 already"));
    ck_assert_ptr_null(strstr(buf, "[1/"));
    ck_assert_msg(!strstr(buf, "results.csv,"), "nothing appended, yet: %s", buf);
    snprintf(path, sizeof path, "%s/s/results.csv", tm_dir);
    ck_assert_str_eq(slurp(path), csv);

    /* A sweep stopped mid-way: drop the last run and cut the line before
     * it short; the rerun trains exactly those two again. */
    char *last = csv + strlen(csv) - 1;
    while (last[-1] != '\n')
        last--;
    *last = '\0';
    char *cut = last - 1;
    while (cut[-1] != '\n')
        cut--;
    cut[8] = '\0';
    FILE *f = fopen(path, "w");
    fputs(csv, f);
    fclose(f);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "resume exited %d: %s", code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "4 runs, 2 already"));
    ck_assert_ptr_nonnull(strstr(buf, "[2/2]"));
    ck_assert_ptr_nonnull(strstr(buf, "skipped 1 malformed line"));
    rows = read_rows(path, "width", &n, &bad);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(bad, 1);
    free(rows);

    /* --no-run summarizes what is there; a wider grid reports the missing runs. */
    /* TINY with a wider grid, spelled out: an option is given once. */
    snprintf(args, sizeof args, "sweep --widths 16,32,64 --lrs 2^-2:2^-1 --steps 12 --batch 32 "
             "--no-run --out %s/s", tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "--no-run exited %d: %s", code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "2 runs of the grid are not in"));
    ck_assert_ptr_nonnull(strstr(buf, "every run diverged or is missing"));
    /* it writes the summary, never results.csv */
    ck_assert_msg(strstr(buf, "wrote ") && !strstr(buf, "results.csv,"), "%s", buf);

    /* Another setting into the same directory is refused, naming the line:
     * exit 1, what DIR holds (as a --resume that does not match). */
    snprintf(args, sizeof args, "sweep " TINY " --opt sgd --out %s/s", tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_int_eq(code, 1);
    ck_assert_msg(strstr(buf, "opt=muon") && strstr(buf, "opt=sgd") && count_lines(buf) == 1,
                  "%s", buf);

    /* A setting only one side has is named as such. */
    snprintf(args, sizeof args, "sweep " TINY " --precision bf16 --out %s/s", tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_int_eq(code, 1);
    ck_assert_msg(strstr(buf, "holds runs made without precision=bf16") && count_lines(buf) == 1,
                  "%s", buf);

    /* Other training images (--data-dir) are another setting too. */
    char tiny[600];
    snprintf(tiny, sizeof tiny, "%s/tiny", tm_dir);
    tm_write_tiny_fashion(tiny, 64, 32);
    snprintf(args, sizeof args, "sweep " TINY " --data-dir %s --out %s/s", tiny, tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_int_eq(code, 1);
    ck_assert_msg(strstr(buf, "data_dir=") && count_lines(buf) == 1, "%s", buf);

    /* A results.csv with no sweep.cfg beside it: its runs' settings are
     * unknown, so nothing is adopted or appended. */
    char moved[600];
    snprintf(path, sizeof path, "%s/s/results.csv", tm_dir);
    char *before = slurp_dup(path);
    snprintf(path, sizeof path, "%s/s/sweep.cfg", tm_dir);
    snprintf(moved, sizeof moved, "%s/sweep.cfg.away", tm_dir);
    ck_assert_int_eq(rename(path, moved), 0);
    snprintf(args, sizeof args, "sweep " TINY " --opt sgd --out %s/s", tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_int_eq(code, 1);
    ck_assert_msg(strstr(buf, "no sweep.cfg") && count_lines(buf) == 1, "%s", buf);
    snprintf(path, sizeof path, "%s/s/results.csv", tm_dir);
    ck_assert_str_eq(slurp(path), before);
    free(before);
}
END_TEST

START_TEST(test_jobs_and_divergence)
{
    /* Two runs at once, one of them at a rate that diverges: recorded, not fatal. */
    char args[1024], buf[16384], path[512];
    snprintf(args, sizeof args, "sweep --widths 16 --lrs 2^-2,2^12 --opt sgd --steps 12 "
             "--batch 32 --seeds 2 --jobs 2 --out %s/j", tm_dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "4 to train, 2 at a time"));
    snprintf(path, sizeof path, "%s/j/results.csv", tm_dir);
    size_t n;
    mn_study_row *rows = read_rows(path, "width", &n, NULL);
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(rows[i].diverged == (rows[i].lr > 1), "lr %g diverged %d", rows[i].lr,
                      rows[i].diverged);
    free(rows);
    ck_assert_ptr_nonnull(strstr(buf, "diverged (train loss"));
    snprintf(path, sizeof path, "%s/j/summary.json", tm_dir);
    json_t *j = load_json(path);
    ck_assert_double_eq(json_number_value(json_object_get(
                            json_array_get(json_object_get(j, "per_width"), 0), "best_lr")),
                        0.25);
    json_decref(j);
}
END_TEST

/* A network that blew up can have dead ReLUs: zero logits on the training
 * batches, a training loss of exactly ln 10, and an astronomical test loss.
 * SGD at 2^7 does that within 7 steps (the review's case, at 2^7 ... 2^10 and
 * 10 steps); it is diverged (and not the argmin), the run at 2^-2 is not. The
 * same run through `train` is diverged too (exit 3, its numbers kept). */
START_TEST(test_dead_network_diverged)
{
    char args[1024], buf[16384], path[512];
    snprintf(args, sizeof args, "sweep --widths 16 --opt sgd --lrs 2^-2,2^7 --steps 7 "
             "--batch 32 --out %s/d", tm_dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    snprintf(path, sizeof path, "%s/d/results.csv", tm_dir);
    size_t n;
    mn_study_row *rows = read_rows(path, "width", &n, NULL);
    ck_assert_uint_eq(n, 2);
    for (size_t i = 0; i < n; i++) {
        const mn_study_row *r = &rows[i];
        if (r->lr > 1) {
            ck_assert_msg(fabs(r->train_loss - log(10.0)) < 1e-9 && r->test_loss > 10,
                          "not the case: train loss %.17g, test loss %.17g", r->train_loss,
                          r->test_loss);
            ck_assert_msg(r->diverged, "train loss ln 10, test loss %g: not diverged",
                          r->test_loss);
        } else {
            ck_assert_msg(!r->diverged && r->test_loss < 2.5, "lr %g: test loss %g, diverged %d",
                          r->lr, r->test_loss, r->diverged);
        }
    }
    free(rows);
    ck_assert_msg(strstr(buf, "diverged (train loss 2.303, test loss "), "%s", buf);
    snprintf(path, sizeof path, "%s/d/summary.json", tm_dir);
    json_t *j = load_json(path);
    ck_assert_double_eq(json_number_value(json_object_get(
                            json_array_get(json_object_get(j, "per_width"), 0), "best_lr")),
                        0.25);
    json_decref(j);

    code = run("train --width 16 --threads 1 --opt sgd --lr 2^7 --steps 7 --batch 32 --json",
               buf, sizeof buf);
    ck_assert_msg(code == 3, "exited %d: %s", code, buf);
    ck_assert_msg(strstr(buf, "modnorm train: the test loss ") &&
                      strstr(buf, "is above 2 x the first step's loss") &&
                      strstr(buf, "\"diverged\": true") && strstr(buf, "\"train_loss\": 2.30"),
                  "%s", buf);
    code = run("train --width 16 --threads 1 --opt sgd --lr 2^-2 --steps 7 --batch 32 --json",
               buf, sizeof buf);
    ck_assert_msg(code == 0 && strstr(buf, "\"diverged\": false"), "exited %d: %s", code, buf);
}
END_TEST

/* --over depth: the CSV's first column, the summary's keys and the table
 * follow the parameter; DIR/sweep.cfg names the fixed width; each run is
 * mn_train of the MLP at that depth. */
START_TEST(test_over_depth)
{
    char args[1024], buf[16384], path[512];
    snprintf(args, sizeof args, "sweep --over depth=1,2 --width 16 --lrs 2^-2 --steps 6 "
             "--batch 32 --out %s/d", tm_dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "2 depths x 1 lr x 1 seed = 2 runs"));
    ck_assert_ptr_nonnull(strstr(buf, "] depth 2  lr 2^-2  seed 0: train loss"));
    ck_assert_ptr_nonnull(strstr(buf, "octaves per doubling of depth"));
    /* One run: singular nouns in the plan. */
    snprintf(args, sizeof args, "sweep --over depth=3 --width 16 --lrs 2^-2 --steps 6 "
             "--batch 32 --out %s/d1", tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    ck_assert_msg(strstr(buf, "1 depth x 1 lr x 1 seed = 1 run, 0 already"), "%s", buf);
    snprintf(path, sizeof path, "%s/d/sweep.cfg", tm_dir);
    ck_assert_int_eq(strncmp(slurp(path), "data=fashion-mnist\nmodel=mlp\nwidth=16\nopt=muon\n",
                             44), 0);
    snprintf(path, sizeof path, "%s/d/results.csv", tm_dir);
    ck_assert_int_eq(strncmp(slurp(path), "depth,lr,seed,", 14), 0);
    size_t n;
    mn_study_row *rows = read_rows(path, "depth", &n, NULL);
    ck_assert_uint_eq(n, 2);
    snprintf(path, sizeof path, "%s/d/summary.json", tm_dir);
    json_t *j = load_json(path);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "per_depth")), 2);
    json_decref(j);

    mn_dataset train, test;
    ck_assert_ok(mn_fashion_mnist_load(NULL, &train, &test));
    for (size_t i = 0; i < n; i++) {
        mn_train_settings s;
        mn_train_settings_default(&s);
        s.lr = 0.25;
        s.steps = 6;
        s.batch = 32;
        s.threads = 1;
        mn_module *root;
        mn_fit_result r;
        ck_assert_ok(mn_mlp(&root, 784, 16, (int)rows[i].value, 10));
        ck_assert_ok(mn_train(root, &s, &train, &test, NULL, &r));
        ck_assert_msg(close_rel(rows[i].train_loss, r.train_loss, 1e-12, NULL) &&
                          close_rel(rows[i].test_acc, r.test_acc, 1e-12, NULL),
                      "depth %lld: the sweep has %.17g, mn_train %.17g", (long long)rows[i].value,
                      rows[i].train_loss, r.train_loss);
    }
    mn_dataset_free(&train);
    mn_dataset_free(&test);
    free(rows);

    /* A run that fails (labels beyond the model's 5 outputs) exits 1, as
     * train does, after the plan's line, and leaves no folder. */
    snprintf(args, sizeof args, "sweep --widths 8 --set d_out=5 --lrs 0.1 --steps 1 --batch 16 "
             "--out %s/d5", tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 1 && strstr(buf, "outside [0, 5) (no run finished") &&
                      count_lines(buf) == 2, "%s", buf);
    snprintf(path, sizeof path, "%s/d5", tm_dir);
    ck_assert_int_ne(access(path, F_OK), 0);

    /* A --graph file is recorded by path and content: an edited file is
     * another setting. */
    const char *graph = "param width = 8\nLinear(width, 784) -> ReLU -> Linear(10, width)\n";
    snprintf(path, sizeof path, "%s/g.mn", tm_dir);
    tm_write_file(path, graph, strlen(graph));
    snprintf(args, sizeof args, "sweep --graph %s --widths 8 --lrs 0.1 --steps 2 --batch 16 "
             "--out %s/g", path, tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    /* ... by its canonical path: another spelling of the same file is the
     * same setting (review-s12 #14); a sweep.cfg of an older modnorm, which
     * recorded the path as typed, still takes a spelling of that file. */
    char cfg_path[600], want_line[700], *real = realpath(path, NULL);
    ck_assert_ptr_nonnull(real);
    snprintf(cfg_path, sizeof cfg_path, "%s/g/sweep.cfg", tm_dir);
    snprintf(want_line, sizeof want_line, "\ngraph=%s\ngraph_crc32=", real);
    ck_assert_msg(strstr(slurp(cfg_path), want_line), "%s", slurp(cfg_path));
    char other[700];
    snprintf(other, sizeof other, "sweep --graph %s/./g.mn --widths 8 --lrs 0.1 --steps 2 "
             "--batch 16 --out %s/g", tm_dir, tm_dir);
    code = run(other, buf, sizeof buf);
    ck_assert_msg(code == 0 && strstr(buf, "1 already"), "'%s' exited %d: %s", other, code, buf);
    char *old_cfg = slurp_dup(cfg_path);
    static char typed[8192];
    char *at = strstr(old_cfg, want_line) + 7; /* after "\ngraph=" */
    snprintf(typed, sizeof typed, "%.*sgraph=%s//g.mn\n%s", (int)(at - 7 + 1 - old_cfg), old_cfg,
             tm_dir, at + strlen(real) + 1);
    tm_write_file(cfg_path, typed, strlen(typed));
    code = run(other, buf, sizeof buf);
    ck_assert_msg(code == 0 && strstr(buf, "1 already"), "'%s' exited %d: %s", other, code, buf);
    ck_assert_str_eq(slurp(cfg_path), typed); /* kept as it was */
    free(old_cfg);
    free(real);
    graph = "param width = 8\nLinear(width, 784) -> GELU -> Linear(10, width)\n";
    tm_write_file(path, graph, strlen(graph));
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 1 && strstr(buf, "graph_crc32=") && count_lines(buf) == 1, "%s", buf);

    /* A coordinate check compares the same modules at every value: not
     * across depths, refused as a usage error before any training. */
    snprintf(args, sizeof args, "coordcheck --over depth=2,3 --steps 1 --batch 8 --out %s/c",
             tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 2 && strstr(buf, "modnorm coordcheck: --over: depth 3 gives") &&
                      count_lines(buf) == 1, "'%s' exited %d: %s", args, code, buf);
    snprintf(path, sizeof path, "%s/c", tm_dir);
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

/* --help's defaults of --depth (and the fixed --width) name each model's:
 * a width sweep of the gpt runs at its own 4 blocks, not the mlp's 3. */
START_TEST(test_help_model_defaults)
{
    char args[2048], buf[16384], path[512], corpus_path[512];
    static const char *cmds[] = {"sweep", "coordcheck", "bench step"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        ck_assert_int_eq(run(args, buf, sizeof buf), 0);
        const char *depth = strstr(buf, "  --depth D");
        ck_assert_ptr_nonnull(depth);
        const char *end = strstr(depth + 1, "\n  --");
        ck_assert_ptr_nonnull(end);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(end - depth), depth);
        ck_assert_msg(strstr(line, "mlp 3 layers, gpt 4 blocks") && !strstr(line, "(default 3)"),
                      "%s: %s", cmds[i], line);
        ck_assert_msg(strstr(buf, "gpt 128, cnn 32"), "%s --help: %s", cmds[i], buf);
    }
    snprintf(corpus_path, sizeof corpus_path, "%s/corpus.txt", tm_dir);
    FILE *f = fopen(corpus_path, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 40; i++)
        fputs("the cat sat on the mat. the dog sat on the log. ", f);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(args, sizeof args, "sweep --data text:%s --model gpt --widths 16 --set dhead=8 "
             "--lrs 2^-3 --steps 1 --batch 2 --context 8 --out %s/g", corpus_path, tm_dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    snprintf(path, sizeof path, "%s/g/sweep.cfg", tm_dir);
    ck_assert_msg(strstr(slurp(path), "\ndepth=4\n"), "%s", slurp(path));
}
END_TEST

/* A GPT on text: the corpus's vocabulary and --context reach the graph and
 * DIR/sweep.cfg, each row is what mn_train gives for the same graph, windows,
 * rate and seed (train and validation loss), a rerun trains nothing, another
 * --context into the same DIR is refused, and the mlp is refused on text. */
START_TEST(test_text_gpt)
{
    char args[2048], buf[16384], path[512], corpus_path[512];
    snprintf(corpus_path, sizeof corpus_path, "%s/corpus.txt", tm_dir);
    FILE *f = fopen(corpus_path, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 40; i++)
        fputs("the cat sat on the mat. the dog sat on the log. ", f);
    ck_assert_int_eq(fclose(f), 0);
    const char *common = "--model gpt --over depth=1,2 --width 16 --set dhead=8 --lrs 2^-3:2^-2 "
                         "--steps 6 --batch 4 --jobs 2";
    snprintf(args, sizeof args, "sweep --data text:%s %s --context 8 --out %s/t", corpus_path,
             common, tm_dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "2 depths x 2 lrs x 1 seed = 4 runs, 0 already"));
    ck_assert_ptr_nonnull(strstr(buf, ", valid loss "));
    mn_text text;
    ck_assert_ok(mn_text_load(corpus_path, &text));
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "data=text:%s\nmodel=gpt\nwidth=16\ndhead=8\ncontext=8\nvocab=%d\n"
             "sp=0\nopt=muon\n", corpus_path, text.vocab.size);
    snprintf(path, sizeof path, "%s/t/sweep.cfg", tm_dir);
    ck_assert_msg(strncmp(slurp(path), cfg, strlen(cfg)) == 0, "%s", slurp(path));

    snprintf(path, sizeof path, "%s/t/results.csv", tm_dir);
    size_t n;
    mn_study_row *rows = read_rows(path, "depth", &n, NULL);
    ck_assert_uint_eq(n, 4);
    mn_dataset train, valid;
    ck_assert_ok(mn_text_windows(&text, MN_TEXT_TRAIN, 8, &train));
    ck_assert_ok(mn_text_windows(&text, MN_TEXT_VALID, 8, &valid));
    mn_graph_file *g;
    const char *gpt = mn_graph_gpt_text();
    ck_assert_ok(mn_graph_parse(&g, gpt, strlen(gpt), "examples/gpt.mn"));
    ck_assert_ok(mn_graph_set(g, "width", 16));
    ck_assert_ok(mn_graph_set(g, "dhead", 8));
    ck_assert_ok(mn_graph_set(g, "context", 8));
    ck_assert_ok(mn_graph_set(g, "vocab", text.vocab.size));
    mn_flush_denormals(true); /* as the sweep trains */
    for (size_t i = 0; i < n; i++) {
        mn_train_settings s;
        mn_train_settings_default(&s);
        s.lr = rows[i].lr;
        s.seed = (uint64_t)rows[i].seed;
        s.steps = 6;
        s.batch = 4;
        s.threads = 1;
        mn_module *root;
        mn_fit_result r;
        ck_assert_ok(mn_graph_factory(g, "depth", rows[i].value, &root));
        ck_assert_ok(mn_train(root, &s, &train, &valid, NULL, &r));
        ck_assert_msg(close_rel(rows[i].train_loss, r.train_loss, 1e-12, NULL) &&
                          close_rel(rows[i].test_loss, r.test_loss, 1e-12, NULL),
                      "depth %lld lr %g: the sweep has %.17g / %.17g, mn_train %.17g / %.17g",
                      (long long)rows[i].value, rows[i].lr, rows[i].train_loss,
                      rows[i].test_loss, r.train_loss, r.test_loss);
        ck_assert(r.test_loss < log((double)text.vocab.size)); /* it learned something */
    }
    mn_flush_denormals(false);
    mn_graph_destroy(g);
    mn_dataset_free(&train);
    mn_dataset_free(&valid);
    mn_text_free(&text);
    free(rows);

    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0 && strstr(buf, "4 runs, 4 already") && !strstr(buf, "[1/"), "%s",
                  buf);
    snprintf(args, sizeof args, "sweep --data text:%s %s --context 9 --out %s/t", corpus_path,
             common, tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 1 && strstr(buf, "context"), "exited %d: %s", code, buf);
    snprintf(args, sizeof args, "sweep --data text:%s --widths 16 --out %s/m", corpus_path, tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 2 && strstr(buf, "needs a sequence model"), "exited %d: %s", code, buf);
}
END_TEST

START_TEST(test_coordcheck)
{
    char args[1024], buf[16384], path[512];
    snprintf(args, sizeof args, "coordcheck --widths 16,64 --steps 2 --batch 16 --out %s/c",
             tm_dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "update norm:"));
    ck_assert_ptr_nonnull(strstr(buf, "relative change:"));
    snprintf(path, sizeof path, "%s/c/coord.csv", tm_dir);
    const char *csv = slurp(path);
    ck_assert_ptr_nonnull(strstr(csv, "width,step,module,kind,mean_abs,rel_change,change_rms,"
                                      "update\n"));
    /* 2 widths × 3 records (steps 0..2) × 5 modules, plus the header. */
    ck_assert_int_eq(count_lines(csv), 31);
    snprintf(path, sizeof path, "%s/c/coord.png", tm_dir);
    if (MN_HAVE_PLOTS)
        ck_assert_int_gt(file_size(path), 1000);
    /* Modular muon moves every Linear by exactly η·t·σ_max(polar) in RMS→RMS:
     * the same at both widths. */
    ck_assert_ptr_nonnull(strstr(buf, "update norm:      flat"));

    /* DIR/coord.cfg (review-s12 #14): the same settings write over their own
     * files (another --threads or --tolerance is the same setting); other
     * settings, or outputs without a coord.cfg, are refused before any work
     * and leave the files as they were. */
    snprintf(path, sizeof path, "%s/c/coord.cfg", tm_dir);
    ck_assert_msg(strstr(slurp(path), "\nwidth=16,64\nopt=muon\nparam=modular\n"), "%s",
                  slurp(path));
    snprintf(args, sizeof args, "coordcheck --widths 16,64 --steps 2 --batch 16 --threads 2 "
             "--tolerance 1.5 --out %s/c", tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    snprintf(path, sizeof path, "%s/c/coord.csv", tm_dir);
    char *csv_before = slurp_dup(path);
    const char *other[][2] = {
        {"--widths 16,64 --opt adam --param sp", "made with opt=muon, this one has opt=adam"},
        {"--widths 16,64,128", "made with width=16,64, this one has width=16,64,128"},
        {"--widths 16,64 --seed 1", "made with seed=0, this one has seed=1"},
    };
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        snprintf(args, sizeof args, "coordcheck %s --steps 2 --batch 16 --out %s/c",
                 other[i][0], tm_dir);
        code = run(args, buf, sizeof buf);
        ck_assert_msg(code == 1 && strstr(buf, other[i][1]) && count_lines(buf) == 1 &&
                          !strstr(buf, "coordcheck: width"),
                      "'%s' exited %d: %s", args, code, buf);
        ck_assert_str_eq(slurp(path), csv_before);
    }
    snprintf(path, sizeof path, "%s/c/coord.cfg", tm_dir);
    ck_assert_int_eq(remove(path), 0);
    snprintf(args, sizeof args, "coordcheck --widths 16,64 --steps 2 --batch 16 --out %s/c",
             tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 1 && strstr(buf, "holds coord.csv but no coord.cfg") &&
                      count_lines(buf) == 1, "'%s' exited %d: %s", args, code, buf);
    free(csv_before);
}
END_TEST

/* One value compares nothing (review-s12 #7): coordcheck refuses it before
 * any work; a one-width sweep is a plain LR sweep whose summary has no
 * slope, spread or monotone (null in summary.json, n/a in the table). */
START_TEST(test_one_value)
{
    char args[1024], buf[16384], path[512];
    const char *one[] = {"--widths 8", "--over width=8"};
    const char *want[] = {"--widths 8: needs at least two widths to compare",
                          "--over width=8: needs at least two values of width to compare"};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "coordcheck %s --steps 1 --batch 8 --out %s/c1", one[i],
                 tm_dir);
        int code = run(args, buf, sizeof buf);
        ck_assert_msg(code == 2 && strstr(buf, want[i]) && count_lines(buf) == 1,
                      "'%s' exited %d: %s", args, code, buf);
        snprintf(path, sizeof path, "%s/c1", tm_dir);
        ck_assert_int_ne(access(path, F_OK), 0);
    }
    for (int no_run = 0; no_run < 2; no_run++) {
        snprintf(args, sizeof args, "sweep --widths 8 --lrs 2^-2 --steps 2 --batch 16%s --out "
                 "%s/s1", no_run ? " --no-run" : "", tm_dir);
        int code = run(args, buf, sizeof buf);
        ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
        ck_assert_msg(strstr(buf, "slope n/a octaves per doubling of width, spread n/a "
                                  "octaves, monotone n/a\n"), "%s", buf);
        snprintf(path, sizeof path, "%s/s1/summary.json", tm_dir);
        json_t *j = load_json(path);
        ck_assert(json_is_null(json_object_get(j, "slope")));
        ck_assert(json_is_null(json_object_get(j, "spread")));
        ck_assert(json_is_null(json_object_get(j, "monotone")));
        ck_assert(json_is_number(json_object_get(json_object_get(j, "regret"), "8")));
        json_decref(j);
    }
}
END_TEST

START_TEST(test_quick)
{
    char args[1024], buf[1 << 15], path[512];
    snprintf(args, sizeof args, "sweep --quick --out %s/q", tm_dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "3 widths x 5 lrs x 1 seed = 15 runs"));
    snprintf(path, sizeof path, "%s/q/results.csv", tm_dir);
    size_t n;
    mn_study_row *rows = read_rows(path, "width", &n, NULL);
    ck_assert_uint_eq(n, 15);
    free(rows);
    snprintf(path, sizeof path, "%s/q/summary.json", tm_dir);
    json_t *j = load_json(path);
    /* Modular muon: the best LR is inside the grid and does not drift. */
    json_t *per = json_object_get(j, "per_width");
    for (size_t i = 0; i < json_array_size(per); i++)
        ck_assert(json_is_false(json_object_get(json_array_get(per, i), "at_edge")));
    double slope = json_number_value(json_object_get(j, "slope"));
    ck_assert_msg(fabs(slope) <= 0.5, "slope %g", slope);
    json_decref(j);
}
END_TEST

/* --no-run trains nothing, so it skips the memory check (review 2, #6): a
 * finished sweep whose widths need terabytes is summarized on any machine.
 * DIR/sweep.cfg comes from a one-run sweep at width 8 of the same settings;
 * the results at width 65536, depth 100 are written by hand (nothing of
 * that size is ever built). */
START_TEST(test_no_run_skips_memory_check)
{
    char args[1024], buf[16384], path[512];
    const char *common = "--depth 100 --steps 1 --batch 16 --jobs 2";
    snprintf(args, sizeof args, "sweep --widths 8 --lrs 0.25 %s --out %s/big", common, tm_dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    snprintf(path, sizeof path, "%s/big/results.csv", tm_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(CSV_HEADER "\n65536,0.25,0,0.5,0.6,0.8,0\n65536,0.5,0,0.4,0.5,0.85,0\n", f);
    fclose(f);
    /* training it is refused, before anything is built */
    snprintf(args, sizeof args, "sweep --widths 65536 --lrs 0.25,0.5,1 %s --out %s/big", common,
             tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 2 && strstr(buf, "more than this machine's"), "%d: %s", code, buf);
    /* summarizing it is not */
    snprintf(args, sizeof args, "sweep --widths 65536 --lrs 0.25,0.5 %s --no-run --out %s/big",
             common, tm_dir);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    ck_assert_msg(strstr(buf, "2 already") && strstr(buf, "wrote "), "%s", buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, tm_dir_remove);
    const char *quick = getenv("MN_SWEEP_QUICK");
    if (quick && strcmp(quick, "1") == 0) {
        tcase_add_test(tc, test_quick);
    } else {
        tcase_add_test(tc, test_argument_errors);
        tcase_add_test(tc, test_repeats_refused);
        tcase_add_test(tc, test_end_to_end_and_resume);
        tcase_add_test(tc, test_no_run_skips_memory_check);
        tcase_add_test(tc, test_jobs_and_divergence);
        tcase_add_test(tc, test_dead_network_diverged);
        tcase_add_test(tc, test_over_depth);
        tcase_add_test(tc, test_text_gpt);
        tcase_add_test(tc, test_help_model_defaults);
        tcase_add_test(tc, test_coordcheck);
        tcase_add_test(tc, test_one_value);
        tcase_add_test(tc, test_fixture_sweep_muon);
        tcase_add_test(tc, test_fixture_sweep_sgd);
        tcase_add_test(tc, test_fixture_coord_muon);
        tcase_add_test(tc, test_fixture_coord_adam);
    }
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
