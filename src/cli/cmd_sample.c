/* modnorm sample: text from a checkpoint of a model trained on text
 * (mn_checkpoint_open_model, mn_text_generate). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define CMD "sample"

int mn_cmd_sample(mn_cli_args *a)
{
    mn_checkpoint_model m;
    mn_status st = mn_checkpoint_open_model(a->checkpoint, (int)a->threads, &m);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    int rc = mn_cli_need_text_model(CMD, a->checkpoint, &m);
    if (rc != MN_EXIT_OK) {
        mn_checkpoint_model_free(&m);
        return rc;
    }
    char *out = NULL;
    st = mn_text_generate(m.net, &m.vocab, m.dim, a->prompt, (int64_t)strlen(a->prompt),
                          a->tokens, a->temperature, (uint64_t)a->seed, &out);
    mn_checkpoint_model_free(&m);
    if (st == MN_ERR_ARG && strncmp(mn_last_error(), "character", 9) == 0)
        return mn_cli_error(CMD, "--prompt: %s", mn_last_error()); /* the checkpoint's vocabulary */
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    printf("%s%s\n", a->prompt, out);
    free(out);
    return MN_EXIT_OK;
}
