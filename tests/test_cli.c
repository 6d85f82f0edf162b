/* The modnorm command: dualize and norm against the library, and bad input
 * giving a one-line error with a non-zero exit and no output file. The
 * binary's path comes from the MODNORM environment variable (set by meson). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char dir[] = "/tmp/mn_cli_XXXXXX";

/* Run `modnorm ARGS`, capture stdout+stderr into out, return the exit code. */
static int run(const char *args, char *out, size_t cap)
{
    const char *exe = getenv("MODNORM");
    ck_assert_msg(exe != NULL, "MODNORM is not set");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", exe, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void setup(void) { ck_assert_ptr_nonnull(mkdtemp(dir)); }

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    strcpy(dir, "/tmp/mn_cli_XXXXXX");
}

/* --form routes the iteration: each form's output is the library's for that
 * form, and the two forms are different computations. */
START_TEST(test_dualize_form)
{
    char in[256], outp[256], args[1024], buf[4096];
    snprintf(in, sizeof in, "%s/g.npy", dir);
    snprintf(outp, sizeof outp, "%s/o.npy", dir);
    mn_mat G = tm_make(TM_POWER_LAW, MN_F64, 20, 90, 6), outs[2];
    ck_assert_ok(mn_npy_write(in, &G));
    static const char *names[] = {"direct", "gram"};
    mn_polar_form forms[] = {MN_POLAR_DIRECT, MN_POLAR_GRAM};
    const mn_polar_method *m;
    ck_assert_ok(mn_polar_lookup("ns5", &m));
    for (int f = 0; f < 2; f++) {
        snprintf(args, sizeof args, "dualize --norm spectral --method ns5 --form %s %s %s",
                 names[f], in, outp);
        ck_assert_msg(run(args, buf, sizeof buf) == 0, "%s: %s", args, buf);
        ck_assert_ok(mn_npy_read(outp, &outs[f]));
        mn_mat L;
        ck_assert_ok(mn_mat_alloc(&L, MN_F64, 20, 90));
        ck_assert_ok(mn_polar_form_run(m, forms[f], 0, 0, &L, &G));
        ck_assert_double_le(tm_max_abs_diff(&outs[f], &L), 1e-12);
        mn_mat_free(&L);
    }
    ck_assert_double_gt(tm_max_abs_diff(&outs[0], &outs[1]), 0);
    ck_assert_double_le(tm_max_abs_diff(&outs[0], &outs[1]), 1e-10);
    for (int f = 0; f < 2; f++)
        mn_mat_free(&outs[f]);
    mn_mat_free(&G);
}
END_TEST

/* bench step runs both atom schedules and reports its JSON fields. */
START_TEST(test_bench_step_runs)
{
    static const char *extra[] = {"", " --serial-atoms"};
    for (int i = 0; i < 2; i++) {
        char args[256], out[4096];
        snprintf(args, sizeof args,
                 "bench step --width 24 --depth 5 --batch 8 --steps 2 --threads 2 --json%s",
                 extra[i]);
        ck_assert_msg(run(args, out, sizeof out) == 0, "%s: %s", args, out);
        ck_assert_msg(strstr(out, "\"ms_per_step\"") && strstr(out, "\"ms_update\""), "%s", out);
        /* 5 atoms of width 24: all side by side on 2 threads, none when serial. */
        ck_assert_msg(strstr(out, i == 0 ? "\"atoms\": 5, \"atoms_side_by_side\": 5"
                                         : "\"atoms\": 5, \"atoms_side_by_side\": 0"),
                      "%s", out);
    }
}
END_TEST

START_TEST(test_dualize_matches_library)
{
    char in[256], outp[256], args[1024], buf[4096];
    snprintf(in, sizeof in, "%s/g.npy", dir);
    snprintf(outp, sizeof outp, "%s/o.npy", dir);
    static const char *cases[][2] = {{"rms-rms", "svd"}, {"spectral", "ns5"},
                                     {"l1-rms", NULL},   {"rms-linf", NULL},
                                     {"l2-l2", "polar-express"}};
    for (int dt = MN_F32; dt <= MN_F64; dt++) {
        mn_mat G = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 20, 9, 4);
        ck_assert_ok(mn_npy_write(in, &G));
        for (size_t i = 0; i < 5; i++) {
            snprintf(args, sizeof args, "dualize --norm %s %s%s %s %s", cases[i][0],
                     cases[i][1] ? "--method " : "", cases[i][1] ? cases[i][1] : "", in, outp);
            ck_assert_msg(run(args, buf, sizeof buf) == 0, "%s: %s", args, buf);
            mn_mat O, L;
            ck_assert_ok(mn_npy_read(outp, &O));
            ck_assert_int_eq(O.dtype, dt);
            const mn_norm *n;
            const mn_polar_method *m = NULL;
            ck_assert_ok(mn_norm_lookup(cases[i][0], &n));
            if (cases[i][1])
                ck_assert_ok(mn_polar_lookup(cases[i][1], &m));
            ck_assert_ok(mn_mat_alloc(&L, G.dtype, G.rows, G.cols));
            mn_dualize_opts o = {.method = m};
            ck_assert_ok(mn_dualize(n, &o, &L, &G));
            /* The CLI and this process may run different BLIS kernel sets (valgrind
             * hides AVX-512), and the iterations amplify rounding differences. */
            ck_assert_double_le(tm_max_abs_diff(&O, &L), dt == MN_F32 ? 1e-5 : 1e-12);
            mn_mat_free(&O);
            mn_mat_free(&L);
        }
        mn_mat_free(&G);
    }
}
END_TEST

START_TEST(test_norm_prints_json)
{
    char args[512], buf[4096];
    snprintf(args, sizeof args, "norm --norm l1-linf %s/small_f4.npy", MN_TEST_DATA);
    ck_assert_int_eq(run(args, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "{\"norm\": 2.5, \"dual\": 9.0}\n");
}
END_TEST

START_TEST(test_bad_input)
{
    char in[256], outp[256], args[1024], buf[4096];
    snprintf(in, sizeof in, "%s/g.npy", dir);
    snprintf(outp, sizeof outp, "%s/o.npy", dir);
    mn_mat G = tm_make(TM_GAUSSIAN, MN_F32, 3, 3, 1);
    ck_assert_ok(mn_npy_write(in, &G));
    mn_mat_set(&G, 1, 1, NAN);
    char nan[256];
    snprintf(nan, sizeof nan, "%s/nan.npy", dir);
    ck_assert_ok(mn_npy_write(nan, &G));
    mn_mat_free(&G);
    const struct {
        const char *fmt, *needle;
        int code;
    } cases[] = {
        {"dualize --norm linf-l1 %s %s", "NP-hard", 2},
        {"dualize --norm nope %s %s", "unknown norm 'nope'", 2},
        {"dualize --norm rms-rms --method nope %s %s", "unknown polar method", 2},
        {"dualize --norm rms-rms --steps 0 %s %s", "--steps", 2},
        {"dualize %s %s", "--norm NAME is required", 2},
        {"dualize --norm rms-rms --bogus %s %s", "--bogus", 2},
        {"dualize --norm rms-rms %s/../nan.npy %s", "non-finite", 1},
        {"dualize --norm rms-rms %s.missing %s", "cannot open", 1},
        {"norm --norm rms-rms %s %s", "unexpected argument", 2},
        {"frobnicate %s %s", "unknown command", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, cases[i].fmt, in, outp);
        if (strstr(cases[i].fmt, "/../nan.npy"))
            snprintf(args, sizeof args, "dualize --norm rms-rms %s %s", nan, outp);
        int code = run(args, buf, sizeof buf);
        ck_assert_msg(code == cases[i].code, "'%s' exited %d, want %d: %s", args, code,
                      cases[i].code, buf);
        ck_assert_msg(strstr(buf, cases[i].needle), "'%s' printed '%s', lacking '%s'", args, buf,
                      cases[i].needle);
        ck_assert_msg(access(outp, F_OK) != 0, "'%s' left an output file", args);
    }
    ck_assert_int_eq(run("dualize --help", buf, sizeof buf), 0);
    ck_assert_ptr_nonnull(strstr(buf, "usage: modnorm dualize"));
    ck_assert_int_eq(run("--help", buf, sizeof buf), 0);
}
END_TEST

START_TEST(test_inspect)
{
    char buf[8192];
    ck_assert_int_eq(run("inspect --width 64 --depth 3 --json", buf, sizeof buf), 0);
    /* One JSON document; three Linear atoms with target 1/3, bonds without one. */
    int targets = 0;
    for (const char *p = buf; (p = strstr(p, "\"target\": 0.33333333333333331")); p++)
        targets++;
    ck_assert_int_eq(targets, 3);
    ck_assert_ptr_nonnull(strstr(buf, "\"shape\": [64, 784], \"norm\": \"rms-rms\""));
    ck_assert_ptr_nonnull(strstr(buf, "{\"kind\": \"ReLU\", \"name\": \"ReLU\", \"mass\": 0.0, "
                                      "\"sensitivity\": 1.0}"));
    ck_assert_int_eq(run("inspect --width 8 --depth 2 --atom-norm 1=rms-linf", buf, sizeof buf), 0);
    ck_assert_ptr_nonnull(strstr(buf, "Linear(10←8)"));
    ck_assert_ptr_nonnull(strstr(buf, "norm rms-linf"));
    ck_assert_int_eq(run("inspect --atom-norm 7=rms-rms", buf, sizeof buf), 2);
    ck_assert_ptr_nonnull(strstr(buf, "K in [0, 3)"));
    ck_assert_int_eq(run("inspect --atom-norm 0=linf-l1", buf, sizeof buf), 2);
    ck_assert_ptr_nonnull(strstr(buf, "NP-hard"));
}
END_TEST

/* Remove the timing fields so two runs can be compared. */
static void strip_timings(char *s)
{
    char *p = strstr(s, "\"seconds\"");
    if (p)
        *p = '\0';
}

START_TEST(test_train_is_deterministic)
{
    static char a[16384], b[16384];
    const char *args = "train --steps 6 --width 32 --batch 16 --seed 3 --threads 1 --json";
    ck_assert_msg(run(args, a, sizeof a) == 0, "%s", a);
    ck_assert_int_eq(run(args, b, sizeof b), 0);
    ck_assert_ptr_nonnull(strstr(a, "\"diverged\": false"));
    strip_timings(a);
    strip_timings(b);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(run("train --steps 6 --width 32 --batch 16 --seed 4 --threads 1 --json", b,
                         sizeof b), 0);
    strip_timings(b);
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_train_errors)
{
    char buf[8192];
    const struct {
        const char *args, *needle;
        int code;
    } cases[] = {
        {"train --opt lion", "unknown optimizer 'lion'", 2},
        {"train --width 0", "--width", 2},
        {"train --param mup", "--param 'mup'", 2},
        {"train --data cifar10", "unknown data set 'cifar10'", 2},
        {"train --method newton", "unknown polar method", 2},
        {"train --lr -1", "--lr", 2},
        {"train --steps 2 --data-dir /nonexistent", "apt-get install dataset-fashion-mnist", 1},
        {"train --opt sgd --lr 1e6 --steps 50 --width 16 --json", "\"diverged\": true", 3},
        {"bench gemm --op trsm", "--op 'trsm' must be one of: gemm, syrk, gemmt", 2},
        {"bench dualize --form svd", "--form 'svd' must be one of: auto, direct, gram", 2},
        {"dualize --norm spectral --form fast a.npy b.npy",
         "--form 'fast' must be one of: auto, direct, gram", 2},
        {"bench step --width 0", "--width '0'", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int code = run(cases[i].args, buf, sizeof buf);
        ck_assert_msg(code == cases[i].code, "'%s' exited %d, want %d: %s", cases[i].args, code,
                      cases[i].code, buf);
        ck_assert_msg(strstr(buf, cases[i].needle), "'%s' printed '%s', lacking '%s'",
                      cases[i].args, buf, cases[i].needle);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_dualize_matches_library);
    tcase_add_test(tc, test_bench_step_runs);
    tcase_add_test(tc, test_dualize_form);
    tcase_add_test(tc, test_norm_prints_json);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_inspect);
    tcase_add_test(tc, test_train_is_deterministic);
    tcase_add_test(tc, test_train_errors);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
