/* modnorm norm --norm NAME IN.npy  ->  {"norm": ..., "dual": ...} */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/json_out.h"

#define CMD "norm"

int mn_cmd_norm(mn_cli_args *a)
{
    const mn_norm *norm;
    mn_status st = mn_norm_lookup(a->norm, &norm); /* the option table accepted it */
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    mn_mat in;
    int ndim;
    st = mn_npy_read_ndim(a->pos[0], &in, &ndim); /* a 1-D (n,) array is the 1 x n matrix */
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    double value = 0, dual = 0;
    st = mn_cli_check_finite(a->pos[0], &in, ndim);
    if (st == MN_OK) /* a norm beyond DBL_MAX fails: no double holds the value asked for */
        st = mn_norm_value(norm, &in, &value);
    if (st == MN_OK) {
        /* The entries are finite (checked above), so MN_ERR_NONFINITE here is
         * norm.h's "dual value beyond DBL_MAX": the norm is still right, so
         * print it and the dual as null, with the reason on stderr. */
        st = mn_norm_dual(norm, &in, &dual);
        if (st == MN_ERR_NONFINITE) {
            fprintf(stderr, "modnorm " CMD ": note: the dual norm of %s (dual of %s) "
                    "overflows, beyond the largest double (%.3g): \"dual\" is printed as null\n",
                    a->pos[0], norm->name, DBL_MAX);
            mn_clear_error();
            dual = INFINITY; /* mn_cli_json_real prints a non-finite number as null */
            st = MN_OK;
        }
    }
    mn_mat_free(&in);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    return mn_cli_json_print(CMD, stdout, json_pack("{s:o, s:o}", "norm", mn_cli_json_real(value),
                                                    "dual", mn_cli_json_real(dual)));
}
