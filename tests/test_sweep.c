/* modnorm sweep: the summary math on synthetic results (argmin, parabola
 * refinement, slope, spread, regret, monotone, divergence as +inf, at_edge),
 * grids and the CSV, argument errors, resuming, and a tiny end-to-end sweep
 * that writes the CSV, summary.json and both plots. The binary's path comes
 * from the MODNORM environment variable (set by meson). With MN_SWEEP_QUICK=1
 * (the 'slow' suite) it also runs `modnorm sweep --quick`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/sweep_summary.h"
#include "testutil.h"

static char dir[] = "/tmp/mn_sweep_XXXXXX";

static void setup(void) { ck_assert_ptr_nonnull(mkdtemp(dir)); }

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    strcpy(dir, "/tmp/mn_sweep_XXXXXX");
}

/* Run `modnorm ARGS`, capture stdout+stderr into out, return the exit code. */
static int run(const char *args, char *out, size_t cap)
{
    const char *exe = getenv("MODNORM");
    ck_assert_msg(exe != NULL, "MODNORM is not set");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", exe, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    while (fgetc(p) != EOF) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The whole file in a static buffer ("" when missing). */
static const char *slurp(const char *path)
{
    static char buf[1 << 16];
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
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

/* ---- grids ----------------------------------------------------------------- */

START_TEST(test_parse_lrs)
{
    double *v;
    int n;
    char err[256];
    ck_assert(mn_sweep_parse_lrs("2^-10:2^2", &v, &n, err, sizeof err));
    ck_assert_int_eq(n, 13);
    for (int i = 0; i < n; i++)
        ck_assert_double_eq(v[i], ldexp(1, i - 10));
    free(v);
    /* Plain numbers: A, 2A, ... up to B. */
    ck_assert(mn_sweep_parse_lrs("0.001:0.5", &v, &n, err, sizeof err));
    ck_assert_int_eq(n, 9);
    ck_assert_double_eq_tol(v[8], 0.256, 1e-12);
    free(v);
    ck_assert(mn_sweep_parse_lrs("0.125:0.125", &v, &n, err, sizeof err));
    ck_assert_int_eq(n, 1);
    free(v);
    /* A list is sorted, duplicates dropped, forms mixed. */
    ck_assert(mn_sweep_parse_lrs("0.5,2^-3,1e-1,0.125", &v, &n, err, sizeof err));
    ck_assert_int_eq(n, 3);
    ck_assert_double_eq(v[0], 0.1);
    ck_assert_double_eq(v[1], 0.125);
    ck_assert_double_eq(v[2], 0.5);
    free(v);
    static const char *bad[] = {"", "2^x:1", "1:0.5", "0:1", "-1", "0.1,,0.2", "a", "2^-3:",
                                ":2", "1,2:3", "2^-1000", "nan", "inf", "1e-3:1e30"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(!mn_sweep_parse_lrs(bad[i], &v, &n, err, sizeof err), "'%s' accepted",
                      bad[i]);
        ck_assert_ptr_null(v);
        ck_assert_msg(strstr(err, "--lrs"), "'%s': message '%s'", bad[i], err);
    }
}
END_TEST

START_TEST(test_parse_widths)
{
    int64_t *v;
    int n;
    char err[256];
    ck_assert(mn_sweep_parse_widths("256,64,128,64", &v, &n, err, sizeof err));
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(v[0], 64);
    ck_assert_int_eq(v[1], 128);
    ck_assert_int_eq(v[2], 256);
    free(v);
    static const char *bad[] = {"", "64,abc", "0", "-64", "64,", ",64", "1.5", "65537", "64 128"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!mn_sweep_parse_widths(bad[i], &v, &n, err, sizeof err), "'%s' accepted",
                      bad[i]);
        ck_assert_msg(strstr(err, "--widths"), "'%s': message '%s'", bad[i], err);
    }
}
END_TEST

/* ---- CSV ------------------------------------------------------------------- */

START_TEST(test_csv_rows)
{
    mn_sweep_row r = {.width = 256, .lr = ldexp(1, -7) * 3, .seed = 2, .train_loss = 0.4321,
                      .test_loss = 0.5, .test_acc = 0.875, .diverged = false}, q;
    char line[512];
    mn_sweep_format_row(line, sizeof line, &r);
    ck_assert(mn_sweep_parse_row(line, &q));
    ck_assert_int_eq(q.width, 256);
    ck_assert_double_eq(q.lr, r.lr); /* exact round trip */
    ck_assert_int_eq(q.seed, 2);
    ck_assert_double_eq_tol(q.train_loss, 0.4321, 1e-9);
    ck_assert(!q.diverged);
    r.train_loss = r.test_loss = INFINITY;
    r.diverged = true;
    mn_sweep_format_row(line, sizeof line, &r);
    ck_assert(mn_sweep_parse_row(line, &q));
    ck_assert(isinf(q.train_loss) && q.diverged);
    static const char *bad[] = {"", "64,0.1,0,0.5,0.5,0.8", "64,0.1,0,0.5,0.5,0.8,2",
                                "x,0.1,0,0.5,0.5,0.8,0", "64,-1,0,0.5,0.5,0.8,0",
                                "64,0.1,0.5,0.5,0.5,0.8,0", "64,0.1,0,0.5,0.5,0.8,0,9",
                                "64,0.1,0,0.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!mn_sweep_parse_row(bad[i], &q), "'%s' parsed", bad[i]);

    char path[256];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    mn_sweep_row *rows;
    size_t n;
    int bad_lines;
    ck_assert_ok(mn_sweep_read_csv(path, &rows, &n, &bad_lines)); /* missing: empty */
    ck_assert_uint_eq(n, 0);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n64,0.5,0,0.4,0.45,0.85,0\n\n64,0.25,0,inf,inf,0,1\n64,0.125,0,0.4,0.4,0.8,0",
            MN_SWEEP_CSV_HEADER);
    fclose(f);
    ck_assert_ok(mn_sweep_read_csv(path, &rows, &n, &bad_lines));
    ck_assert_uint_eq(n, 3); /* a blank line is skipped; a complete last line needs no newline */
    ck_assert(rows[1].diverged && isinf(rows[1].train_loss));
    ck_assert_int_eq(bad_lines, 0);
    free(rows);
    f = fopen(path, "w");
    fprintf(f, "%s\n64,0.5,0,0.4,0.45,0.85,0\n64,0.25,0,0.4,0.4", MN_SWEEP_CSV_HEADER);
    fclose(f);
    ck_assert_ok(mn_sweep_read_csv(path, &rows, &n, &bad_lines));
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(bad_lines, 1);
    free(rows);
    f = fopen(path, "w");
    fprintf(f, "width,lr,seed,loss\n");
    fclose(f);
    ck_assert_int_eq(mn_sweep_read_csv(path, &rows, &n, NULL), MN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "header"));
}
END_TEST

/* ---- the summary ------------------------------------------------------------- */

START_TEST(test_parabola)
{
    /* f = 2(x − 0.3)² + 1 through three points. */
    double f0 = 2 * 1.3 * 1.3 + 1, f1 = 2 * 0.09 + 1, f2 = 2 * 0.7 * 0.7 + 1;
    ck_assert_double_eq_tol(mn_sweep_parabola_vertex(-1, f0, 0, f1, 1, f2), 0.3, 1e-12);
    /* Unequal spacing. */
    double g = mn_sweep_parabola_vertex(-2, 4 + 1, 0.5, 0.25 + 1, 1, 1 + 1);
    ck_assert_double_eq_tol(g, 0, 1e-12);
    /* Symmetric: the middle. */
    ck_assert_double_eq_tol(mn_sweep_parabola_vertex(-1, 3, 0, 1, 1, 3), 0, 1e-15);
    /* Collinear, opening downward, flat: the middle point. */
    ck_assert_double_eq(mn_sweep_parabola_vertex(-1, 3, 0, 2, 1, 1), 0);
    ck_assert_double_eq(mn_sweep_parabola_vertex(-1, 1, 0, 2, 1, 1), 0);
    ck_assert_double_eq(mn_sweep_parabola_vertex(-1, 1, 0, 1, 1, 1), 0);
    /* A vertex outside the bracket (0.6x² − 2.6x + 3: x = 2.17) is clamped to it. */
    ck_assert_double_eq(mn_sweep_parabola_vertex(0, 3, 1, 1, 2, 0.2), 2);
}
END_TEST

/* L(w, η) = base(w) + c·(log2 η − center(w))² on lrs 2^-6..2^0, two seeds
 * that straddle the mean by ±0.01. */
#define NW 3
#define NL 7
static const int64_t widths[NW] = {64, 128, 256};
static double lrs[NL];

static size_t synth(mn_sweep_row *rows, const double *center, const double *base, double c)
{
    size_t n = 0;
    for (int j = 0; j < NL; j++)
        lrs[j] = ldexp(1, j - 6);
    for (int i = 0; i < NW; i++)
        for (int j = 0; j < NL; j++)
            for (int s = 0; s < 2; s++) {
                double x = j - 6.0;
                double L = base[i] + c * (x - center[i]) * (x - center[i]) + (s ? 0.01 : -0.01);
                rows[n++] = (mn_sweep_row){.width = widths[i], .lr = lrs[j], .seed = s,
                                           .train_loss = L, .test_loss = L, .test_acc = 0.8};
            }
    return n;
}

START_TEST(test_summary_transfer)
{
    mn_sweep_row rows[NW * NL * 2 + 4];
    const double center[NW] = {-3, -2.75, -2.5}, base[NW] = {0.5, 0.45, 0.4};
    size_t n = synth(rows, center, base, 0.05);
    /* Off-grid rows and a seed beyond --seeds are ignored. */
    rows[n++] = (mn_sweep_row){.width = 512, .lr = 0.5, .seed = 0, .train_loss = 0.01};
    rows[n++] = (mn_sweep_row){.width = 64, .lr = 0.3, .seed = 0, .train_loss = 0.01};
    rows[n++] = (mn_sweep_row){.width = 64, .lr = ldexp(1, -3), .seed = 2, .train_loss = 9};
    mn_sweep_summary s;
    ck_assert_ok(mn_sweep_summarize(rows, n, widths, NW, lrs, NL, 2, &s));
    ck_assert_int_eq(s.n_widths, NW);
    for (int i = 0; i < NW; i++) {
        const mn_sweep_width *pw = &s.per_width[i];
        /* The argmin on the grid: the octave nearest the center (width 256's
         * center −2.5 ties 2^-3 and 2^-2 up to rounding). */
        if (i < 2)
            ck_assert_double_eq(pw->best_lr, ldexp(1, (int)lround(center[i])));
        else
            ck_assert_msg(pw->best_lr == 0.125 || pw->best_lr == 0.25, "best %g", pw->best_lr);
        /* Exact quadratic data: the parabola finds the center. */
        ck_assert_double_eq_tol(log2(pw->best_lr_refined), center[i], 1e-9);
        ck_assert(!pw->at_edge);
        /* The seed mean at the argmin. */
        double x = log2(pw->best_lr);
        ck_assert_double_eq_tol(pw->loss, base[i] + 0.05 * (x - center[i]) * (x - center[i]),
                                1e-12);
    }
    ck_assert_double_eq_tol(s.slope, 0.25, 1e-9);
    ck_assert_double_eq_tol(s.spread, 0.5, 1e-9);
    /* Regret at 2^-3 (nearest η*(64) = 2^-3). */
    ck_assert_int_eq(s.anchor, 3);
    ck_assert_double_eq_tol(s.per_width[0].regret, 0, 1e-12);
    for (int i = 1; i < NW; i++) {
        double at = base[i] + 0.05 * (-3 - center[i]) * (-3 - center[i]);
        ck_assert_double_eq_tol(s.per_width[i].regret, at - s.per_width[i].loss, 1e-12);
        ck_assert_double_ge(s.per_width[i].regret, 0);
    }
    ck_assert(s.monotone);

    /* The JSON, exactly as the issue names its keys. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    mn_sweep_summary_json(f, &s);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "\"per_width\": ["));
    ck_assert_ptr_nonnull(strstr(text, "{\"width\": 64, \"best_lr\": 0.125, \"best_lr_refined\": "
                                       "0.125, \"loss\": 0.5, \"at_edge\": false}"));
    ck_assert_ptr_nonnull(strstr(text, "\"slope\": 0.25"));
    ck_assert_ptr_nonnull(strstr(text, "\"spread\": 0.5"));
    ck_assert_ptr_nonnull(strstr(text, "\"regret\": {\"64\": 0, \"128\": "));
    ck_assert_ptr_nonnull(strstr(text, "\"monotone\": true"));
    free(text);
    mn_sweep_summary_free(&s);

    /* Loss that does not fall with width at the anchor: not monotone. */
    const double flat_base[NW] = {0.5, 0.45, 0.46};
    n = synth(rows, center, flat_base, 0.05);
    ck_assert_ok(mn_sweep_summarize(rows, n, widths, NW, lrs, NL, 2, &s));
    ck_assert(!s.monotone);
    mn_sweep_summary_free(&s);

    /* Drift of one octave per doubling: slope −1, spread 2. */
    const double drift[NW] = {-2, -3, -4};
    n = synth(rows, drift, base, 0.05);
    ck_assert_ok(mn_sweep_summarize(rows, n, widths, NW, lrs, NL, 2, &s));
    ck_assert_double_eq_tol(s.slope, -1, 1e-9);
    ck_assert_double_eq_tol(s.spread, 2, 1e-9);
    ck_assert_double_eq_tol(s.per_width[2].regret, 0.05 * 4, 1e-12);
    mn_sweep_summary_free(&s);
}
END_TEST

START_TEST(test_summary_divergence_and_edges)
{
    mn_sweep_row rows[NW * NL * 2];
    const double center[NW] = {-3, -3, -6}, base[NW] = {0.5, 0.45, 0.4};
    size_t n = synth(rows, center, base, 0.05);
    /* Width 128: one seed at its argmin (2^-3) diverged: the cell is +inf,
     * the argmin moves to a neighbour (2^-4 and 2^-2 tie: the smaller). */
    for (size_t r = 0; r < n; r++) {
        if (rows[r].width == 128 && rows[r].lr == 0.125 && rows[r].seed == 1)
            rows[r].diverged = true;
        /* Width 64: everything from 2^-1 up diverged (finite loss, flagged). */
        if (rows[r].width == 64 && rows[r].lr >= 0.5)
            rows[r] = (mn_sweep_row){.width = 64, .lr = rows[r].lr, .seed = rows[r].seed,
                                     .train_loss = INFINITY, .test_loss = INFINITY,
                                     .diverged = true};
    }
    mn_sweep_summary s;
    ck_assert_ok(mn_sweep_summarize(rows, n, widths, NW, lrs, NL, 2, &s));
    ck_assert(isinf(s.loss[1 * NL + 3]));
    ck_assert_double_eq(s.per_width[1].best_lr, 0.0625);
    /* The parabola needs finite neighbours: 2^-3 is +inf, so no refinement. */
    ck_assert_double_eq(s.per_width[1].best_lr_refined, 0.0625);
    ck_assert(!s.per_width[1].at_edge);
    /* Width 64's argmin is untouched; its cells at 2^-1, 2^0 are +inf. */
    ck_assert_double_eq(s.per_width[0].best_lr, 0.125);
    ck_assert(isinf(s.loss[0 * NL + 5]) && isinf(s.loss[0 * NL + 6]));
    /* Width 256: the minimum at the smallest LR is at the edge, unrefined. */
    ck_assert_double_eq(s.per_width[2].best_lr, ldexp(1, -6));
    ck_assert_double_eq(s.per_width[2].best_lr_refined, ldexp(1, -6));
    ck_assert(s.per_width[2].at_edge);
    /* Regret at the anchor 2^-3 for width 128 is +inf (diverged there). */
    ck_assert_int_eq(s.anchor, 3);
    ck_assert(isinf(s.per_width[1].regret));
    ck_assert(!s.monotone);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    mn_sweep_summary_json(f, &s);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "\"128\": null")); /* JSON has no infinity */
    ck_assert_ptr_nonnull(strstr(text, "\"at_edge\": true"));
    free(text);
    mn_sweep_summary_free(&s);

    /* Every run of a width diverged: no best LR, nulls in the JSON; the
     * slope and spread use the other widths. */
    for (size_t r = 0; r < n; r++)
        if (rows[r].width == 256)
            rows[r].diverged = true;
    ck_assert_ok(mn_sweep_summarize(rows, n, widths, NW, lrs, NL, 2, &s));
    ck_assert_int_eq(s.per_width[2].best, -1);
    ck_assert(isnan(s.per_width[2].best_lr));
    ck_assert_double_eq_tol(s.slope, log2(0.0625) - log2(0.125), 1e-12);
    text = NULL;
    f = open_memstream(&text, &len);
    mn_sweep_summary_json(f, &s);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "{\"width\": 256, \"best_lr\": null, \"best_lr_refined\": "
                                       "null, \"loss\": null, \"at_edge\": false}"));
    free(text);
    mn_sweep_summary_free(&s);

    /* A cell with no run counts as +inf; a neighbour with no run puts the
     * argmin at the edge of what was tried. */
    size_t m = 0;
    for (size_t r = 0; r < n; r++)
        if (!(rows[r].width == 64 && rows[r].lr == 0.0625))
            rows[m++] = rows[r];
    ck_assert_ok(mn_sweep_summarize(rows, m, widths, NW, lrs, NL, 2, &s));
    ck_assert_int_eq(s.runs[0 * NL + 2], 0);
    ck_assert(isnan(s.loss[0 * NL + 2]));
    ck_assert_double_eq(s.per_width[0].best_lr, 0.125);
    ck_assert(s.per_width[0].at_edge);
    ck_assert_double_eq(s.per_width[0].best_lr_refined, 0.125);
    mn_sweep_summary_free(&s);

    /* A single seed counts with n_seeds = 0 (every seed). */
    ck_assert_ok(mn_sweep_summarize(rows, 1, widths, 1, lrs, 1, 0, &s));
    ck_assert_int_eq(s.runs[0], 1);
    mn_sweep_summary_free(&s);
}
END_TEST

/* ---- the command ---------------------------------------------------------------- */

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
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, "sweep %s --out %s/x", cases[i].args, dir);
        int code = run(args, buf, sizeof buf);
        ck_assert_msg(code == 2, "'%s' exited %d: %s", args, code, buf);
        ck_assert_msg(strstr(buf, cases[i].needle), "'%s' printed '%s', lacking '%s'", args, buf,
                      cases[i].needle);
        ck_assert_msg(count_lines(buf) == 1, "'%s' printed more than one line: %s", args, buf);
        snprintf(args, sizeof args, "%s/x", dir);
        ck_assert_msg(access(args, F_OK) != 0, "a usage error created the output directory");
    }
    ck_assert_int_eq(run("sweep --widths 64", buf, sizeof buf), 2);
    ck_assert_ptr_nonnull(strstr(buf, "--out DIR is required"));
    ck_assert_int_eq(run("sweep --help", buf, sizeof buf), 0);
    ck_assert_ptr_nonnull(strstr(buf, MN_SWEEP_CSV_HEADER));
    ck_assert_int_eq(run("coordcheck --widths 64,x --out /nonexistent", buf, sizeof buf), 2);
    ck_assert_ptr_nonnull(strstr(buf, "--widths"));
    ck_assert_int_eq(run("coordcheck --widths 64", buf, sizeof buf), 2);
    ck_assert_int_eq(run("coordcheck --help", buf, sizeof buf), 0);
}
END_TEST

#define TINY "--widths 16,32 --lrs 2^-2:2^-1 --steps 12 --batch 32"

START_TEST(test_end_to_end_and_resume)
{
    char args[1024], buf[16384], path[512];
    snprintf(args, sizeof args, "sweep " TINY " --out %s/s", dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "4 runs, 0 already"));

    snprintf(path, sizeof path, "%s/s/results.csv", dir);
    char csv[8192];
    snprintf(csv, sizeof csv, "%s", slurp(path));
    ck_assert_int_eq(strncmp(csv, MN_SWEEP_CSV_HEADER "\n", strlen(MN_SWEEP_CSV_HEADER) + 1), 0);
    ck_assert_int_eq(count_lines(csv), 5);
    mn_sweep_row *rows;
    size_t n;
    int bad;
    ck_assert_ok(mn_sweep_read_csv(path, &rows, &n, &bad));
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(bad, 0);
    for (size_t i = 0; i < n; i++) {
        ck_assert(rows[i].width == 16 || rows[i].width == 32);
        ck_assert(rows[i].lr == 0.25 || rows[i].lr == 0.5);
        ck_assert_int_eq(rows[i].seed, 0);
        ck_assert(isfinite(rows[i].train_loss) && rows[i].train_loss > 0);
        ck_assert(rows[i].test_acc > 0.1 && rows[i].test_acc <= 1);
    }
    free(rows);

    snprintf(path, sizeof path, "%s/s/summary.json", dir);
    const char *json = slurp(path);
    ck_assert_ptr_nonnull(strstr(json, "\"per_width\""));
    ck_assert_ptr_nonnull(strstr(json, "{\"width\": 16, \"best_lr\": "));
    ck_assert_ptr_nonnull(strstr(json, "\"slope\": "));
    ck_assert_ptr_nonnull(strstr(json, "\"spread\": "));
    ck_assert_ptr_nonnull(strstr(json, "\"regret\": {\"16\": "));
    ck_assert_ptr_nonnull(strstr(json, "\"monotone\": "));
    if (MN_HAVE_PLOTS) { /* -Dplots=disabled: test_cli checks they are off */
        snprintf(path, sizeof path, "%s/s/loss_vs_lr.png", dir);
        ck_assert_int_gt(file_size(path), 1000);
        ck_assert_int_eq(memcmp(slurp(path), "\x89PNG", 4), 0);
        snprintf(path, sizeof path, "%s/s/loss_vs_lr.svg", dir);
        ck_assert_int_gt(file_size(path), 1000);
        ck_assert_ptr_nonnull(strstr(slurp(path), "<svg"));
    }

    /* Rerunning the same command appends nothing and trains nothing. */
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "rerun exited %d: %s", code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "4 runs, 4 already"));
    ck_assert_ptr_null(strstr(buf, "[1/"));
    snprintf(path, sizeof path, "%s/s/results.csv", dir);
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
    ck_assert_ok(mn_sweep_read_csv(path, &rows, &n, &bad));
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(bad, 1);
    free(rows);

    /* --no-run summarizes what is there; a wider grid reports the missing runs. */
    /* TINY with a wider grid, spelled out: an option is given once. */
    snprintf(args, sizeof args, "sweep --widths 16,32,64 --lrs 2^-2:2^-1 --steps 12 --batch 32 "
             "--no-run --out %s/s", dir);
    code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "--no-run exited %d: %s", code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "2 runs of the grid are not in"));
    ck_assert_ptr_nonnull(strstr(buf, "every run diverged or is missing"));

    /* Another setting into the same directory is refused. */
    snprintf(args, sizeof args, "sweep " TINY " --opt sgd --out %s/s", dir);
    code = run(args, buf, sizeof buf);
    ck_assert_int_eq(code, 2);
    ck_assert_ptr_nonnull(strstr(buf, "opt=muon"));
}
END_TEST

START_TEST(test_jobs_and_divergence)
{
    /* Two runs at once, one of them at a rate that diverges: recorded, not fatal. */
    char args[1024], buf[16384], path[512];
    snprintf(args, sizeof args, "sweep --widths 16 --lrs 2^-2,2^12 --opt sgd --steps 12 "
             "--batch 32 --seeds 2 --jobs 2 --out %s/j", dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    snprintf(path, sizeof path, "%s/j/results.csv", dir);
    mn_sweep_row *rows;
    size_t n;
    ck_assert_ok(mn_sweep_read_csv(path, &rows, &n, NULL));
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(rows[i].diverged == (rows[i].lr > 1), "lr %g diverged %d", rows[i].lr,
                      rows[i].diverged);
    free(rows);
    snprintf(path, sizeof path, "%s/j/summary.json", dir);
    ck_assert_ptr_nonnull(strstr(slurp(path), "\"best_lr\": 0.25"));
}
END_TEST

START_TEST(test_coordcheck)
{
    char args[1024], buf[16384], path[512];
    snprintf(args, sizeof args, "coordcheck --widths 16,64 --steps 2 --batch 16 --out %s/c", dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "update norm:"));
    ck_assert_ptr_nonnull(strstr(buf, "relative change:"));
    snprintf(path, sizeof path, "%s/c/coord.csv", dir);
    const char *csv = slurp(path);
    ck_assert_ptr_nonnull(strstr(csv, "width,step,module,kind,mean_abs,rel_change,change_rms,"
                                      "update\n"));
    /* 2 widths × 3 records (steps 0..2) × 5 modules, plus the header. */
    ck_assert_int_eq(count_lines(csv), 31);
    snprintf(path, sizeof path, "%s/c/coord.png", dir);
    if (MN_HAVE_PLOTS)
        ck_assert_int_gt(file_size(path), 1000);
    /* Modular muon moves every Linear by exactly η·t·σ_max(polar) in RMS→RMS:
     * the same at both widths. */
    ck_assert_ptr_nonnull(strstr(buf, "update norm:      flat"));
}
END_TEST

START_TEST(test_quick)
{
    char args[1024], buf[1 << 15], path[512];
    snprintf(args, sizeof args, "sweep --quick --out %s/q", dir);
    int code = run(args, buf, sizeof buf);
    ck_assert_msg(code == 0, "'%s' exited %d: %s", args, code, buf);
    ck_assert_ptr_nonnull(strstr(buf, "3 widths x 5 lrs x 1 seed = 15 runs"));
    snprintf(path, sizeof path, "%s/q/results.csv", dir);
    mn_sweep_row *rows;
    size_t n;
    ck_assert_ok(mn_sweep_read_csv(path, &rows, &n, NULL));
    ck_assert_uint_eq(n, 15);
    free(rows);
    snprintf(path, sizeof path, "%s/q/summary.json", dir);
    const char *json = slurp(path);
    /* Modular muon: the best LR is inside the grid and does not drift. */
    ck_assert_ptr_null(strstr(json, "\"at_edge\": true"));
    double slope = NAN;
    const char *p = strstr(json, "\"slope\": ");
    ck_assert_ptr_nonnull(p);
    slope = strtod(p + 9, NULL);
    ck_assert_msg(fabs(slope) <= 0.5, "slope %g", slope);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    const char *quick = getenv("MN_SWEEP_QUICK");
    if (quick && strcmp(quick, "1") == 0) {
        tcase_add_test(tc, test_quick);
    } else {
        tcase_add_test(tc, test_parse_lrs);
        tcase_add_test(tc, test_parse_widths);
        tcase_add_test(tc, test_csv_rows);
        tcase_add_test(tc, test_parabola);
        tcase_add_test(tc, test_summary_transfer);
        tcase_add_test(tc, test_summary_divergence_and_edges);
        tcase_add_test(tc, test_argument_errors);
        tcase_add_test(tc, test_end_to_end_and_resume);
        tcase_add_test(tc, test_jobs_and_divergence);
        tcase_add_test(tc, test_coordcheck);
    }
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
