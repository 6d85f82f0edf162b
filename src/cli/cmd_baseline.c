/* modnorm baseline: the add-one bigram model's loss on a text corpus
 * (mn_text_bigram_loss). */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/json_out.h"

#define CMD "baseline"

int mn_cmd_baseline(mn_cli_args *a)
{
    bool is_text;
    const char *path = mn_cli_text_path(a, &is_text);
    if (!is_text)
        return mn_cli_usage_error(CMD, "--data %s: the baseline is for text (text:PATH)",
                                  a->data);
    mn_text t;
    mn_status st = mn_text_load(path, &t);
    if (st != MN_OK)
        return mn_cli_error(CMD, "--data %s: %s", a->data, mn_last_error());
    double valid, train;
    st = mn_text_bigram_loss(&t, &valid, &train);
    int64_t n = t.n, n_train = t.n_train;
    int vocab = t.vocab.size;
    mn_text_free(&t);
    if (st != MN_OK)
        return mn_cli_error(CMD, "--data %s: %s", a->data, mn_last_error());
    if (a->json)
        return mn_cli_json_print(
            CMD, stdout,
            json_pack("{s:s, s:I, s:I, s:i, s:o, s:o}", "model", "bigram-add-one", "chars",
                      (json_int_t)n, "train_chars", (json_int_t)n_train, "vocab", vocab,
                      "valid_loss", mn_cli_json_real(valid), "train_loss",
                      mn_cli_json_real(train)));
    printf("add-one bigram: validation loss %.4f nats/char (train loss %.4f); %lld characters, "
           "%lld for training, vocabulary %d\n", valid, train, (long long)n, (long long)n_train,
           vocab);
    return MN_EXIT_OK;
}
