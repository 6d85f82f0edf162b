/* modnorm dualize --norm NAME [--method M] [--steps N] [--threads T] [--form F] IN.npy OUT.npy */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"

static void help(void)
{
    printf("usage: modnorm dualize --norm NAME [--method METHOD] [--steps N] [--threads T]\n"
           "                       [--form auto|direct|gram] IN.npy OUT.npy\n\n"
           "Writes OUT = lmo(IN): the unit-norm matrix T maximizing <IN, T> in the norm NAME\n"
           "(the update direction is -lmo). IN is a 2-D C-order float32 or float64 .npy;\n"
           "OUT has the same shape and dtype (float64 is computed in double where the\n"
           "method allows: 'svd' always, the iterations through dgemm). A zero IN gives zero.\n\n"
           "  --norm NAME      %s\n"
           "  --method METHOD  polar factor for spectral norms: %s (default %s)\n"
           "  --steps N        iteration count (default: the method's own)\n"
           "  --threads T      BLIS threads (default: BLIS's choice)\n"
           "  --form F         how an iteration is evaluated: auto (by flop count), direct\n"
           "                   (on the iterate) or gram (on k x k polynomials, restarted)\n",
           mn_norm_names(), mn_polar_names(), mn_polar_default()->name);
}

int mn_cmd_dualize(int argc, char **argv)
{
    static const struct option opts[] = {{"norm", required_argument, 0, 'n'},
                                         {"method", required_argument, 0, 'm'},
                                         {"steps", required_argument, 0, 's'},
                                         {"threads", required_argument, 0, 't'},
                                         {"form", required_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *norm_name = NULL, *method_name = NULL;
    static const char *forms[] = {"auto", "direct", "gram"}; /* mn_polar_form's order */
    int steps = 0, threads = 0, form = MN_POLAR_AUTO, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': norm_name = optarg; break;
        case 'm': method_name = optarg; break;
        case 's':
            if (!mn_cli_parse_int("dualize", "--steps", optarg, 1, 1000, &steps))
                return MN_EXIT_USAGE;
            break;
        case 't':
            if (!mn_cli_parse_int("dualize", "--threads", optarg, 1, 1024, &threads))
                return MN_EXIT_USAGE;
            break;
        case 'f':
            if ((form = mn_cli_parse_choice("dualize", "--form", optarg, forms, 3)) < 0)
                return MN_EXIT_USAGE;
            break;
        case 'h': help(); return MN_EXIT_OK;
        default: return mn_cli_usage_error("dualize", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (!norm_name)
        return mn_cli_usage_error("dualize", "--norm is required");
    if (argc - optind != 2)
        return mn_cli_usage_error("dualize", "need IN.npy and OUT.npy, got %d file argument(s)",
                                  argc - optind);
    const mn_norm *norm;
    const mn_polar_method *method = mn_polar_default();
    mn_status st = mn_norm_lookup(norm_name, &norm);
    if (st != MN_OK)
        return mn_cli_usage_error("dualize", "--norm: %s", mn_last_error());
    if (method_name && mn_polar_lookup(method_name, &method) != MN_OK)
        return mn_cli_usage_error("dualize", "--method: %s", mn_last_error());
    if (method_name && !norm->uses_polar)
        fprintf(stderr, "modnorm dualize: note: --method has no effect on '%s' (not spectral)\n",
                norm->name);

    mn_mat in, out;
    if ((st = mn_npy_read(argv[optind], &in)) != MN_OK)
        return mn_cli_fail("dualize", st);
    st = mn_mat_alloc(&out, in.dtype, in.rows, in.cols);
    if (st == MN_OK) {
        mn_dualize_opts o = {.method = method, .steps = steps, .threads = threads,
                             .form = (mn_polar_form)form};
        st = mn_dualize(norm, &o, &out, &in);
        if (st == MN_OK)
            st = mn_npy_write(argv[optind + 1], &out);
        mn_mat_free(&out);
    }
    mn_mat_free(&in);
    return st == MN_OK ? MN_EXIT_OK : mn_cli_fail("dualize", st);
}
