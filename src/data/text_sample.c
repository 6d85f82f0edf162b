/* Sampling text from a network (mn_text_generate): the window of the last
 * `context` tokens slides as tokens are appended; each step is one forward
 * pass and one draw from the softmax of the last position's logits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "modnorm/rng.h"
#include "modnorm/text.h"

/* A draw from softmax(z / temperature) over V entries (argmax at 0). */
static int draw(const float *z, int V, double temperature, mn_rng *rng)
{
    int arg = 0;
    for (int c = 1; c < V; c++)
        if (z[c] > z[arg])
            arg = c;
    if (temperature == 0)
        return arg;
    double sum = 0;
    for (int c = 0; c < V; c++)
        sum += exp(((double)z[c] - z[arg]) / temperature);
    double u = mn_rng_uniform(rng) * sum, acc = 0;
    for (int c = 0; c < V; c++) {
        acc += exp(((double)z[c] - z[arg]) / temperature);
        if (u < acc)
            return c;
    }
    return arg; /* u rounded up to sum */
}

mn_status mn_text_generate(mn_network *net, const mn_vocab *v, int64_t context,
                           const char *prompt, int64_t len, int64_t n_tokens,
                           double temperature, uint64_t seed, char **out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_text_generate: out is NULL");
    *out = NULL;
    if (!net || !v || !prompt)
        return mn_fail(MN_ERR_ARG, "mn_text_generate: %s is NULL",
                       !net ? "net" : !v ? "the vocabulary" : "the prompt");
    if (len < 1)
        return mn_fail(MN_ERR_ARG, "prompt: empty; give at least one character");
    if (context < 1 || n_tokens < 0 || n_tokens > ((int64_t)1 << 30))
        return mn_fail(MN_ERR_ARG, "mn_text_generate: context %lld must be >= 1 and tokens "
                       "%lld in [0, 2^30]", (long long)context, (long long)n_tokens);
    if (!isfinite(temperature) || temperature < 0)
        return mn_fail(MN_ERR_ARG, "temperature %g: must be a finite number >= 0", temperature);
    if (len > ((int64_t)1 << 30))
        return mn_fail(MN_ERR_ARG, "prompt: %lld characters; at most 2^30", (long long)len);
    int64_t total = len + n_tokens;
    int32_t *ids = malloc((size_t)total * sizeof *ids);
    float *window = malloc((size_t)context * sizeof *window);
    char *text = malloc((size_t)n_tokens + 1);
    mn_status st = ids && window && text ? MN_OK
                                         : mn_fail(MN_ERR_NOMEM, "mn_text_generate: out of "
                                                   "memory");
    if (st == MN_OK)
        st = mn_vocab_encode(v, prompt, len, ids);
    mn_rng rng;
    mn_rng_seed(&rng, seed);
    for (int64_t k = len; st == MN_OK && k < total; k++) {
        int64_t T = k < context ? k : context;
        for (int64_t j = 0; j < T; j++)
            window[j] = (float)ids[k - T + j];
        mn_tensor *x;
        st = mn_tensor_wrap(&x, window, 2, (int64_t[]){1, T});
        const mn_tensor *y = NULL;
        if (st == MN_OK)
            st = mn_network_forward(net, x, &y);
        mn_tensor_destroy(x);
        if (st != MN_OK)
            break;
        int64_t C = y->shape[y->ndim - 1];
        if (C != v->size || mn_tensor_numel(y) != T * C) {
            st = mn_fail(MN_ERR_SHAPE, "sample: the network maps (1, %lld) tokens to %lld "
                         "outputs of %lld; need %lld positions of %d logits (the vocabulary)",
                         (long long)T, (long long)(mn_tensor_numel(y) / (C ? C : 1)),
                         (long long)C, (long long)T, v->size);
            break;
        }
        const float *z = y->data + (T - 1) * C;
        for (int64_t c = 0; c < C; c++)
            if (!isfinite(z[c])) {
                st = mn_fail(MN_ERR_NONFINITE, "sample: logit %lld of step %lld is not finite",
                             (long long)c, (long long)(k - len));
                break;
            }
        if (st != MN_OK)
            break;
        ids[k] = draw(z, v->size, temperature, &rng);
        text[k - len] = (char)v->byte[ids[k]];
    }
    free(ids);
    free(window);
    if (st != MN_OK) {
        free(text);
        return st;
    }
    text[n_tokens] = '\0';
    *out = text;
    return MN_OK;
}
