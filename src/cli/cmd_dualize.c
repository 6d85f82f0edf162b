/* modnorm dualize --norm NAME [--method M] [--steps N] [--threads T] [--form F]
 *                 [--precision P] IN.npy OUT.npy */
#include <stdio.h>

#include "cli/cli.h"

#define CMD "dualize"

static void no_effect(const char *opt, const char *on, const char *why)
{
    fprintf(stderr, "modnorm " CMD ": note: %s has no effect on '%s' (%s)\n", opt, on, why);
}

int mn_cmd_dualize(mn_cli_args *a)
{
    const char *in_path = a->pos[0], *out_path = a->pos[1];
    const mn_norm *norm;
    const mn_polar_method *method = mn_polar_default();
    mn_status st = mn_norm_lookup(a->norm, &norm); /* the option table accepted both names */
    if (st == MN_OK && a->method)
        st = mn_polar_lookup(a->method, &method);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    /* options the computation ignores are noted, not refused */
    if (!norm->uses_polar) {
        if (a->method)
            no_effect("--method", norm->name, "not spectral");
        if (a->given[MN_OPT_STEPS])
            no_effect("--steps", norm->name, "not spectral");
    } else if (a->given[MN_OPT_STEPS] && method->n_coeffs == 0) {
        no_effect("--steps", method->name, "exact, not iterative");
    }
    if (norm->uses_polar && method->n_coeffs > 0 && a->form == MN_POLAR_GRAM &&
        a->precision == MN_PRECISION_BF16)
        fprintf(stderr, "modnorm " CMD ": note: the Gram form in bf16 is forced: it rounds X0 "
                "once and the iteration lifts that rounding, so on an exactly low-rank IN "
                "the result is not its polar factor (README: Mixed precision)\n");
    /* Before any work: OUT is replaced atomically (a new file renamed over
     * it), which would destroy a device node, fifo or directory. */
    int rc = mn_cli_check_output_file(CMD, "OUT", out_path);
    if (rc != MN_EXIT_OK)
        return rc;

    /* A 1-D (n,) IN is dualized as the 1 x n matrix and written back as (n,). */
    mn_mat in, out;
    int ndim;
    if ((st = mn_npy_read_ndim(in_path, &in, &ndim)) != MN_OK)
        return mn_cli_fail(CMD, st);
    if ((st = mn_cli_check_finite(in_path, &in, ndim)) != MN_OK) {
        mn_mat_free(&in);
        return mn_cli_fail(CMD, st);
    }
    st = mn_mat_alloc(&out, in.dtype, in.rows, in.cols);
    if (st == MN_OK) {
        mn_dualize_opts o = {.method = method, .steps = (int)a->steps,
                             .threads = (int)a->threads, .form = (mn_polar_form)a->form,
                             .precision = (mn_precision)a->precision};
        st = mn_dualize(norm, &o, &out, &in);
        if (st == MN_OK)
            st = mn_npy_write_ndim(out_path, &out, ndim);
        mn_mat_free(&out);
    }
    mn_mat_free(&in);
    return st == MN_OK ? MN_EXIT_OK : mn_cli_fail(CMD, st);
}
