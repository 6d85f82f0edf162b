/* modnorm norm --norm NAME IN.npy  ->  {"norm": ..., "dual": ...} */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"

static void help(void)
{
    printf("usage: modnorm norm --norm NAME IN.npy\n\n"
           "Prints one JSON object {\"norm\": ‖IN‖, \"dual\": ‖IN‖†} for a 2-D float32 or\n"
           "float64 .npy (computed in double; spectral values exactly, through LAPACK).\n\n"
           "  --norm NAME   %s\n",
           mn_norm_names());
}

int mn_cmd_norm(int argc, char **argv)
{
    static const struct option opts[] = {{"norm", required_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *norm_name = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': norm_name = optarg; break;
        case 'h': help(); return MN_EXIT_OK;
        default: return mn_cli_usage_error("norm", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (!norm_name)
        return mn_cli_usage_error("norm", "--norm is required");
    if (argc - optind != 1)
        return mn_cli_usage_error("norm", "need exactly one IN.npy, got %d file argument(s)",
                                  argc - optind);
    const mn_norm *norm;
    if (mn_norm_lookup(norm_name, &norm) != MN_OK)
        return mn_cli_usage_error("norm", "--norm: %s", mn_last_error());
    mn_mat in;
    mn_status st = mn_npy_read(argv[optind], &in);
    if (st != MN_OK)
        return mn_cli_fail("norm", st);
    double value = 0, dual = 0;
    st = mn_norm_value(norm, &in, &value);
    if (st == MN_OK)
        st = mn_norm_dual(norm, &in, &dual);
    mn_mat_free(&in);
    if (st != MN_OK)
        return mn_cli_fail("norm", st);
    printf("{\"norm\": %.17g, \"dual\": %.17g}\n", value, dual);
    return MN_EXIT_OK;
}
