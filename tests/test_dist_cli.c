/* `mpirun -np P modnorm train` against `modnorm train` with the same global
 * batch (the binary, as users run it), on a Fashion-MNIST-shaped folder:
 *
 *   - the logged losses, the final training and test losses agree within a
 *     relative 1e-4 (they differ only by the order of float32 sums: each
 *     rank's mean over its shard, weighted by n_r/B, then summed over the
 *     ranks; measured: below 1e-5 over 20 steps);
 *   - a run killed and resumed at the same P ends exactly where the
 *     uninterrupted one does (same result line, same checkpoint bytes);
 *   - a run that diverges stops on every rank at the same step, and only
 *     rank 0 speaks;
 *   - every other command refuses more than one rank (each would run it
 *     whole: sweep trained its grid once per rank into one folder);
 *   - --help, --version and usage errors are printed once. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define TOL 1e-4

static char data[300];

static void setup(void)
{
    tm_dir_make("dist");
    snprintf(data, sizeof data, "%s/tiny", tm_dir);
    tm_write_tiny_fashion(data, 256, 64);
}

/* `modnorm ARGS` (np 0) or `mpirun --oversubscribe -np NP modnorm ARGS`, its
 * stdout and stderr into out; the exit status. */
static int run(int np, const char *args, char *out, size_t cap)
{
    char cmd[8192]; /* ARGS (up to 4 KiB) and the two paths */
    if (np > 0)
        snprintf(cmd, sizeof cmd, "'%s' --oversubscribe -np %d '%s' %s 2>&1", MN_MPIRUN, np,
                 getenv("MODNORM"), args);
    else
        snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", getenv("MODNORM"), args);
    return tm_run_shell(cmd, out, cap);
}

typedef struct {
    int n;
    double loss[64];
    double train_loss, test_loss, test_acc;
} run_log;

/* The JSON lines of `train --json`: the step losses and the result. */
static void parse(const char *out, run_log *log)
{
    *log = (run_log){.train_loss = NAN};
    const char *line = out;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        json_t *j = json_loadb(line, len, 0, NULL);
        if (j && json_object_get(j, "step") && log->n < 64)
            log->loss[log->n++] = json_real_value(json_object_get(j, "loss"));
        if (j && json_object_get(j, "train_loss")) {
            log->train_loss = json_real_value(json_object_get(j, "train_loss"));
            log->test_loss = json_real_value(json_object_get(j, "test_loss"));
            log->test_acc = json_real_value(json_object_get(j, "test_acc"));
        }
        json_decref(j);
        line += len + (end ? 1 : 0);
    }
}

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-30); }

static const struct {
    int np;
    const char *opt;
    int depth, batch;
} cases[] = {
    {2, "muon", 3, 31}, /* shards of 16 and 15 rows */
    {3, "muon", 3, 31}, /* 11, 10, 10 */
    {3, "muon", 2, 30}, /* two matrices on three ranks: one owns none */
    {2, "adam", 3, 32},
    {3, "sgd", 3, 31},
};

START_TEST(test_losses_match_one_process)
{
    char args[2048];
    static char out1[1 << 16], outp[1 << 16];
    snprintf(args, sizeof args, "train --data-dir '%s' --json --steps 20 --width 64 --threads 1 "
             "--seed 5 --opt %s --depth %d --batch %d", data, cases[_i].opt, cases[_i].depth,
             cases[_i].batch);
    ck_assert_msg(run(0, args, out1, sizeof out1) == 0, "%s", out1);
    ck_assert_msg(run(cases[_i].np, args, outp, sizeof outp) == 0, "%s", outp);
    run_log one, many;
    parse(out1, &one);
    parse(outp, &many);
    ck_assert_int_eq(one.n, 10);
    ck_assert_msg(many.n == one.n, "rank 0 alone logs: %d lines, want %d\n%s", many.n, one.n,
                  outp);
    double worst = 0;
    for (int i = 0; i < one.n; i++)
        worst = fmax(worst, rel(many.loss[i], one.loss[i]));
    worst = fmax(worst, rel(many.train_loss, one.train_loss));
    worst = fmax(worst, rel(many.test_loss, one.test_loss));
    fprintf(stderr, "-np %d %s depth %d batch %d: largest relative loss difference %.2e "
            "(test accuracy %.4f vs %.4f)\n", cases[_i].np, cases[_i].opt, cases[_i].depth,
            cases[_i].batch, worst, many.test_acc, one.test_acc);
    ck_assert_msg(worst <= TOL, "losses differ by %g (relative)\n%s\n---\n%s", worst, out1, outp);
    ck_assert_double_eq_tol(many.test_acc, one.test_acc, 2.0 / 64);
}
END_TEST

/* The result line with the timings cut off. */
static const char *result_line(char *out)
{
    char *r = strstr(out, "{\"test_acc\"");
    ck_assert_msg(r != NULL, "%s", out);
    char *t = strstr(r, "\"seconds\"");
    if (t)
        *t = '\0';
    return r;
}

/* Killed (SIGTERM to mpirun) after a checkpoint exists, resumed at the same
 * P: the result and the final checkpoint equal the uninterrupted run's. */
START_TEST(test_resume_same_ranks)
{
    static const char *const opts[] = {"muon", "adam"};
    char common[1024], args[4096], full[512], part[512];
    static char out_a[1 << 16], out_b[1 << 16];
    snprintf(full, sizeof full, "%s/full.safetensors", tm_dir);
    snprintf(part, sizeof part, "%s/part.safetensors", tm_dir);
    snprintf(common, sizeof common, "train --data-dir '%s' --steps 90 --width 64 --batch 15 "
             "--threads 1 --json --opt %s --wd 0.01", data, opts[_i]);
    snprintf(args, sizeof args, "%s --checkpoint '%s'", common, full);
    ck_assert_msg(run(2, args, out_a, sizeof out_a) == 0, "%s", out_a);
    snprintf(args, sizeof args, "exec '%s' --oversubscribe -np 2 '%s' %s --checkpoint '%s' "
             "--save-every 4 >/dev/null 2>&1", MN_MPIRUN, getenv("MODNORM"), common, part);
    pid_t pid = tm_spawn_until_file(args, part, 1000);
    usleep(20000);
    kill(pid, SIGTERM);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    mn_safetensors *f;
    ck_assert_int_eq(mn_safetensors_read(part, &f), MN_OK);
    fprintf(stderr, "%s: stopped with the checkpoint at step %s of 90\n", opts[_i],
            mn_safetensors_meta(f, "step"));
    mn_safetensors_free(f);
    snprintf(args, sizeof args, "%s --resume '%s' --checkpoint '%s' --save-every 7", common,
             part, part);
    ck_assert_msg(run(2, args, out_b, sizeof out_b) == 0, "%s", out_b);
    ck_assert_str_eq(result_line(out_b), result_line(out_a));
    size_t la, lb;
    unsigned char *a = tm_slurp(full, &la), *b = tm_slurp(part, &lb);
    ck_assert_msg(la == lb && memcmp(a, b, la) == 0,
                  "the resumed run's final checkpoint differs from the uninterrupted one's");
    free(a);
    free(b);
}
END_TEST

/* A rate that blows up: every rank stops at the same step, rank 0 alone
 * says so, and the job exits 3 (diverged). */
START_TEST(test_divergence_agreed)
{
    char args[1024];
    static char out[1 << 16];
    snprintf(args, sizeof args, "train --data-dir '%s' --steps 30 --width 64 --batch 16 "
             "--threads 1 --opt sgd --lr 1e6", data);
    int rc = run(3, args, out, sizeof out);
    ck_assert_msg(rc == 3, "exit %d\n%s", rc, out);
    const char *first = strstr(out, "diverged");
    ck_assert_msg(first && !strstr(first + 1, "diverged"), "one message, from rank 0:\n%s", out);
}
END_TEST

/* Under mpirun -np 2 the commands that do not divide their work refuse
 * before any work: exit 2, one line from rank 0, nothing written; at -np 1
 * they run (review-s11 #30). */
START_TEST(test_other_commands_refuse_ranks)
{
    static char out[1 << 16];
    char args[4096], out_npy[600], sweep_dir[600];
    snprintf(out_npy, sizeof out_npy, "%s/o.npy", tm_dir);
    snprintf(sweep_dir, sizeof sweep_dir, "%s/sw", tm_dir);
    const char *cmds[][2] = {
        {"norm", "norm --norm spectral '" MN_TEST_DATA "/small_f4.npy'"},
        {"dualize", "dualize --norm spectral '" MN_TEST_DATA "/small_f4.npy' '%s'"},
        {"sweep", "sweep --widths 8 --lrs 0.1 --steps 2 --batch 16 --data-dir '%s' --out '%s'"},
        {"coordcheck", "coordcheck --widths 8,16 --steps 1 --batch 16 --data-dir '%s' --out '%s'"},
        {"inspect", "inspect --width 8"},
        {"bench gemm", "bench gemm --n 8 --repeat 1 --threads 1"},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        if (strcmp(cmds[i][0], "dualize") == 0)
            snprintf(args, sizeof args, cmds[i][1], out_npy);
        else
            snprintf(args, sizeof args, cmds[i][1], data, sweep_dir);
        int rc = run(2, args, out, sizeof out);
        char want[128];
        snprintf(want, sizeof want, "modnorm %s: runs on one process, not under mpirun -np 2",
                 cmds[i][0]);
        const char *first = strstr(out, want);
        ck_assert_msg(rc == 2 && first && !strstr(first + 1, want), "%s: exit %d\n%s", args, rc,
                      out);
        ck_assert_msg(access(out_npy, F_OK) != 0 && access(sweep_dir, F_OK) != 0, "%s wrote", args);
    }
    /* one rank is one process */
    ck_assert_int_eq(run(1, "norm --norm spectral '" MN_TEST_DATA "/small_f4.npy'", out,
                         sizeof out), 0);
    ck_assert_msg(strstr(out, "{\"norm\": ") && !strstr(out, "runs on one process"), "%s", out);
}
END_TEST

/* What main prints before any command runs (--help, --version, an unknown
 * command, a bad option) comes once, from rank 0, as every other message
 * under mpirun (review-s12 #9); exit codes as in one process. */
START_TEST(test_early_messages_once)
{
    static char out[1 << 16];
    const struct {
        const char *args, *once;
        int rc;
    } cases[] = {
        {"norm --help", "usage: modnorm norm", 0},
        {"--help", "usage: modnorm COMMAND", 0},
        {"--version", "modnorm " MN_VERSION "\n", 0},
        {"bogus", "modnorm: unknown command 'bogus'", 2},
        {"bench bogus", "unknown benchmark 'bogus'", 2},
        {"train --width 0", "--width '0' must be", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = run(2, cases[i].args, out, sizeof out);
        const char *first = strstr(out, cases[i].once);
        ck_assert_msg(rc == cases[i].rc && first && !strstr(first + 1, cases[i].once),
                      "%s: exit %d\n%s", cases[i].args, rc, out);
    }
}
END_TEST

/* --resume of a FIFO under mpirun is refused at once: rank 0 reads the
 * checkpoint for every rank, and a blocking open would hang them all. */
START_TEST(test_resume_fifo_refused)
{
    static char out[1 << 16];
    char fifo[600], cmd[8192];
    snprintf(fifo, sizeof fifo, "%s/ck.fifo", tm_dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    snprintf(cmd, sizeof cmd, "timeout 60 '%s' --oversubscribe -np 2 '%s' train --data-dir '%s' "
             "--width 8 --steps 2 --batch 16 --threads 1 --resume '%s' 2>&1",
             MN_MPIRUN, getenv("MODNORM"), data, fifo);
    int rc = tm_run_shell(cmd, out, sizeof out);
    ck_assert_msg(rc != 0 && rc != 124 && strstr(out, "not a regular file"), "exit %d\n%s", rc,
                  out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dist_cli");
    TCase *tc = tcase_create("dist_cli");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, tm_dir_remove);
    tcase_add_loop_test(tc, test_losses_match_one_process, 0,
                        (int)(sizeof cases / sizeof cases[0]));
    tcase_add_loop_test(tc, test_resume_same_ranks, 0, 2);
    tcase_add_test(tc, test_divergence_agreed);
    tcase_add_test(tc, test_other_commands_refuse_ranks);
    tcase_add_test(tc, test_early_messages_once);
    tcase_add_test(tc, test_resume_fifo_refused);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
