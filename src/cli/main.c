/* modnorm — the command-line tool. Each subcommand lives in cmd_*.c; what it
 * accepts is declared in commands.c and parsed by options.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static int (*const runs[MN_CMD_COUNT])(mn_cli_args *a) = {
    [MN_CMD_TRAIN] = mn_cmd_train,
    [MN_CMD_INSPECT] = mn_cmd_inspect,
    [MN_CMD_SWEEP] = mn_cmd_sweep,
    [MN_CMD_COORDCHECK] = mn_cmd_coordcheck,
    [MN_CMD_DUALIZE] = mn_cmd_dualize,
    [MN_CMD_NORM] = mn_cmd_norm,
    [MN_CMD_BENCH_GEMM] = mn_cmd_bench_gemm,
    [MN_CMD_BENCH_DUALIZE] = mn_cmd_bench_dualize,
    [MN_CMD_BENCH_STEP] = mn_cmd_bench_step,
    [MN_CMD_EXPORT] = mn_cmd_export,
    [MN_CMD_SAMPLE] = mn_cmd_sample,
    [MN_CMD_BASELINE] = mn_cmd_baseline,
    [MN_CMD_ATTENTION] = mn_cmd_attention,
};

/* "bench gemm" is listed once, as "bench". */
static bool in_group(const char *name, const char *group)
{
    size_t n = strlen(group);
    return strncmp(name, group, n) == 0 && name[n] == ' ';
}

static void usage(FILE *f)
{
    fprintf(f, "usage: modnorm COMMAND [OPTIONS]   (modnorm COMMAND --help for details)\n\n"
               "Steepest descent in the modular norm, version " MN_VERSION ".\n\ncommands:\n");
    for (int i = 0; i < MN_CMD_COUNT; i++)
        if (!in_group(mn_cli_commands[i].name, "bench"))
            fprintf(f, "  %-10s %s\n", mn_cli_commands[i].name, mn_cli_commands[i].summary);
    fprintf(f, "  %-10s benchmarks: gemm (the roofline), dualize, step\n", "bench");
}

static void bench_usage(FILE *f)
{
    fprintf(f, "usage: modnorm bench gemm|dualize|step [options]   (each has --help)\n\n");
    for (int i = 0; i < MN_CMD_COUNT; i++)
        if (in_group(mn_cli_commands[i].name, "bench"))
            fprintf(f, "  %-14s %s\n", mn_cli_commands[i].name, mn_cli_commands[i].summary);
}

static bool is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return MN_EXIT_USAGE;
    }
    if (is_help(argv[1])) {
        usage(stdout);
        return MN_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        if (argc > 2) {
            fprintf(stderr, "modnorm: unexpected argument '%s' after --version\n", argv[2]);
            return MN_EXIT_USAGE;
        }
        printf("modnorm %s\n", MN_VERSION);
        return MN_EXIT_OK;
    }
    const mn_cli_command *cmd;
    int skip = 1;
    if (strcmp(argv[1], "bench") == 0) {
        if (argc < 3 || is_help(argv[2])) {
            bench_usage(argc < 3 ? stderr : stdout);
            return argc < 3 ? MN_EXIT_USAGE : MN_EXIT_OK;
        }
        char name[64];
        snprintf(name, sizeof name, "bench %.40s", argv[2]);
        cmd = strlen(argv[2]) <= 40 ? mn_cli_find_command(name) : NULL;
        if (!cmd) {
            fprintf(stderr, "modnorm bench: unknown benchmark '%s' (known: gemm, dualize, step)\n",
                    argv[2]);
            return MN_EXIT_USAGE;
        }
        skip = 2;
    } else {
        cmd = mn_cli_find_command(argv[1]);
        if (!cmd || in_group(cmd->name, "bench")) {
            fprintf(stderr, "modnorm: unknown command '%s' (see 'modnorm --help')\n", argv[1]);
            return MN_EXIT_USAGE;
        }
    }
    mn_cli_args a;
    int rc = mn_cli_parse(cmd, argc - skip, argv + skip, &a, stdout, stderr);
    if (rc == MN_CLI_RUN) {
        /* Flush-to-zero is a speed setting for training only: norm, dualize,
         * inspect and the gemm and dualize benchmarks must see subnormals.
         * Before BLIS starts its threads, which inherit the setting. */
        if (cmd->flush_denormals)
            mn_flush_denormals(true);
        /* mpirun -np 2 modnorm sweep ran the grid once per rank into one
         * folder: only train splits its work, the others refuse ranks */
        rc = cmd->ranks ? MN_EXIT_OK : mn_cli_one_process(cmd->name);
        if (rc == MN_EXIT_OK)
            rc = runs[cmd->id](&a);
        /* Output that never reached its file (a full disk, a closed pipe)
         * is a failure, whichever command printed it. */
        errno = 0;
        if (fflush(stdout) != 0 || ferror(stdout)) {
            int saved = errno;
            if (rc == MN_EXIT_OK)
                rc = mn_cli_error(cmd->name, "cannot write the standard output: %s",
                                  saved ? strerror(saved) : "write error");
        }
    }
    mn_cli_args_free(&a);
    return rc;
}

int main(int argc, char **argv)
{
    /* Under mpirun every rank runs this: rank 0 alone speaks, from the
     * first line on (--help, --version, an unknown command, a bad option,
     * train's messages), as README's "one line from rank 0" says. The group
     * joins MPI only when mpirun launched us (dist.h): a plain run never
     * touches MPI. It stays joined until the command is done (train and
     * mn_cli_one_process find it joined), then leaves. Should joining fail,
     * every rank speaks rather than none. */
    mn_dist *d = NULL;
    if (mn_dist_create(&d) != MN_OK)
        d = NULL;
    if (d && mn_dist_size(d) > 1 && mn_dist_rank(d) != 0 &&
        (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))) {
        mn_dist_destroy(d);
        return MN_EXIT_FAIL;
    }
    int rc = run(argc, argv);
    mn_dist_destroy(d);
    return rc;
}
