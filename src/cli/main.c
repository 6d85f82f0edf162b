/* modnorm — the command-line tool. Each subcommand lives in cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"train", mn_cmd_train, "train a model (Fashion-MNIST MLP) and print its test accuracy"},
    {"inspect", mn_cmd_inspect, "print a model's module tree: norms, masses, sensitivities, targets"},
    {"sweep", mn_cmd_sweep, "train a width x learning-rate grid and measure LR transfer"},
    {"coordcheck", mn_cmd_coordcheck, "check that activations and updates stay flat across width"},
    {"dualize", mn_cmd_dualize, "OUT.npy = lmo(IN.npy) in a chosen norm"},
    {"norm", mn_cmd_norm, "print a matrix's norm and dual norm as JSON"},
    {"bench", mn_cmd_bench, "benchmarks: gemm (the roofline)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: modnorm COMMAND [OPTIONS]   (modnorm COMMAND --help for details)\n\n"
               "Steepest descent in the modular norm, version " MN_VERSION ".\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return MN_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return MN_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("modnorm %s\n", MN_VERSION);
        return MN_EXIT_OK;
    }
    /* Before BLIS starts its threads, which inherit the setting. */
    mn_flush_denormals(true);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "modnorm: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return MN_EXIT_USAGE;
}
