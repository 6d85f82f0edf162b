/* modnorm attention: what training did to a text model's weights and
 * attention, from its checkpoint: every atom's norm (in the norm it is
 * measured in), and per attention layer the largest attention score and the
 * share of allowed (causal) attention weights that are exactly 0 on the
 * first --batch validation windows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json_out.h"

#define CMD "attention"

/* Every atom's norm value, as a JSON array of {atom, module, norm, value}. */
static int atom_norms(mn_network *net, json_t **out)
{
    json_t *arr = json_array();
    float *w = mn_network_weights(net);
    for (int k = 0; arr && k < mn_network_atom_count(net); k++) {
        const mn_module *m = mn_network_atom(net, k);
        const mn_norm *n = mn_module_norm(m);
        mn_mat v = mn_network_atom_view(net, k, w);
        double value = NAN;
        if (n && mn_norm_value(n, &v, &value) != MN_OK)
            value = NAN;
        char d[128];
        json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:o}", "atom", k, "module",
                                             mn_module_describe(m, d, sizeof d), "norm",
                                             n && n->name ? n->name : "?", "value",
                                             mn_cli_json_real(value)));
    }
    *out = arr;
    return arr ? MN_EXIT_OK : mn_cli_error(CMD, "out of memory");
}

#define MAX_LAYERS 256

/* The first `batch` validation windows of the corpus, as the model reads
 * them: checked against the checkpoint's vocabulary and context. */
/* The vocabularies differ: say how (the sizes alone can agree), with the
 * first character of each that the other lacks. */
static int vocab_differs(const char *data, const mn_vocab *corpus, const mn_vocab *ckpt)
{
    int only_corpus = -1, only_ckpt = -1;
    for (int b = 255; b >= 0; b--) {
        if (corpus->id[b] >= 0 && ckpt->id[b] < 0)
            only_corpus = b;
        if (ckpt->id[b] >= 0 && corpus->id[b] < 0)
            only_ckpt = b;
    }
    char size[96], c1[8], c2[8], what[96] = "";
    if (corpus->size == ckpt->size)
        snprintf(size, sizeof size, "has the checkpoint's size (%d characters) but different "
                 "characters", ckpt->size);
    else
        snprintf(size, sizeof size, "(%d characters) is not the checkpoint's (%d)", corpus->size,
                 ckpt->size);
    if (only_corpus >= 0)
        snprintf(what, sizeof what, ": %s is not in the checkpoint's",
                 mn_text_byte_shown((uint8_t)only_corpus, c1));
    if (only_ckpt >= 0)
        snprintf(what + strlen(what), sizeof what - strlen(what), "%s %s is not in the corpus",
                 only_corpus >= 0 ? "," : ":", mn_text_byte_shown((uint8_t)only_ckpt, c2));
    return mn_cli_error(CMD, "--data %s: its vocabulary %s%s", data, size, what); /* two files */
}

static int validation_batch(const mn_cli_args *a, const mn_checkpoint_model *m,
                            mn_dataset *valid, int64_t *rows)
{
    bool is_text;
    const char *path = mn_cli_text_path(a, &is_text);
    if (!is_text)
        return mn_cli_usage_error(CMD, "--data %s: attention runs text (text:PATH)", a->data);
    mn_text t;
    if (mn_text_load(path, &t) != MN_OK)
        return mn_cli_error(CMD, "--data %s: %s", a->data, mn_last_error());
    int rc = MN_EXIT_OK;
    if (t.vocab.size != m->vocab.size ||
        memcmp(t.vocab.byte, m->vocab.byte, (size_t)t.vocab.size) != 0)
        rc = vocab_differs(a->data, &t.vocab, &m->vocab);
    else if (mn_text_windows(&t, MN_TEXT_VALID, m->dim, valid) != MN_OK)
        rc = mn_cli_error(CMD, "--data %s: %s", a->data, mn_last_error());
    mn_text_free(&t);
    if (rc == MN_EXIT_OK)
        *rows = a->batch < valid->n ? a->batch : valid->n;
    return rc;
}

int mn_cmd_attention(mn_cli_args *a)
{
    mn_checkpoint_model m;
    mn_status st = mn_checkpoint_open_model(a->checkpoint, (int)a->threads, &m);
    if (st != MN_OK)
        return mn_cli_fail(CMD, st);
    mn_dataset valid = {0};
    int64_t rows = 0;
    json_t *norms = NULL;
    int rc = mn_cli_need_text_model(CMD, a->checkpoint, &m);
    if (rc == MN_EXIT_OK)
        rc = validation_batch(a, &m, &valid, &rows);
    static mn_attention_stats stats[MAX_LAYERS];
    int layers = 0;
    if (rc == MN_EXIT_OK) {
        mn_tensor *x;
        st = mn_tensor_wrap(&x, valid.x, 2, (int64_t[]){rows, valid.dim});
        if (st == MN_OK)
            st = mn_network_attention_stats(m.net, x, stats, MAX_LAYERS, &layers);
        mn_tensor_destroy(x);
        if (st != MN_OK)
            rc = mn_cli_fail(CMD, st);
        else if (layers > MAX_LAYERS)
            rc = mn_cli_error(CMD, "the model has %d attention layers; at most %d are shown",
                              layers, MAX_LAYERS);
    }
    if (rc == MN_EXIT_OK)
        rc = atom_norms(m.net, &norms);
    if (rc == MN_EXIT_OK && a->json) {
        json_t *arr = json_array();
        for (int i = 0; arr && i < layers; i++)
            json_array_append_new(arr, json_pack("{s:i, s:o, s:o, s:I}", "layer",
                                                 stats[i].layer, "max_score",
                                                 mn_cli_json_real(stats[i].max_score),
                                                 "zero_share",
                                                 mn_cli_json_real(stats[i].zero_share),
                                                 "allowed", (json_int_t)stats[i].allowed));
        rc = mn_cli_json_print(CMD, stdout,
                               json_pack("{s:I, s:I, s:o, s:o}", "windows", (json_int_t)rows,
                                         "context", (json_int_t)valid.dim, "layers", arr,
                                         "atoms", norms));
        norms = NULL;
    } else if (rc == MN_EXIT_OK) {
        printf("%lld validation windows of %lld characters\n", (long long)rows,
               (long long)valid.dim);
        for (int i = 0; i < layers; i++)
            printf("attention layer %d  largest score %.6g  allowed weights exactly 0: %.4f%% "
                   "of %lld\n", stats[i].layer, stats[i].max_score, 100 * stats[i].zero_share,
                   (long long)stats[i].allowed);
        size_t i;
        json_t *e;
        json_array_foreach(norms, i, e)
            printf("atom %2d  %-28s %-10s %.6g\n",
                   (int)json_integer_value(json_object_get(e, "atom")),
                   json_string_value(json_object_get(e, "module")),
                   json_string_value(json_object_get(e, "norm")),
                   json_is_real(json_object_get(e, "value"))
                       ? json_real_value(json_object_get(e, "value")) : NAN);
    }
    json_decref(norms);
    mn_dataset_free(&valid);
    mn_checkpoint_model_free(&m);
    return rc;
}
