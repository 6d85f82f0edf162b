/* modnorm norm --norm NAME IN.npy  ->  {"norm": ..., "dual": ...} */
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
    if (st == MN_OK)
        st = mn_norm_value(norm, &in, &value);
    if (st == MN_OK)
        st = mn_norm_dual(norm, &in, &dual);
    mn_mat_free(&in);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    return mn_cli_json_print(CMD, stdout, json_pack("{s:o, s:o}", "norm", mn_cli_json_real(value),
                                                    "dual", mn_cli_json_real(dual)));
}
