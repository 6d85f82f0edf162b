/* The token step bench: mn_bench_step_tokens and `modnorm bench step --model
 * gpt`. The flop count of a tiny GPT against one derived here from bench.h's
 * formula, the step's loss and positions, the .npy files (names, shapes,
 * dtypes, the losses against the result), refusals without a crash or a
 * leak, and the command's JSON, its --npy usage error and a --npy that is a
 * regular file. No timing is asserted: times are only checked positive. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modnorm.h"
#include "testutil.h"

/* The tiny GPT of examples/gpt.mn every test uses: 2 heads of 8. */
enum { WIDTH = 16, DHEAD = 8, HEADS = WIDTH / DHEAD, DEPTH = 1, CONTEXT = 8, VOCAB = 9, BATCH = 2 };

static void setup(void) { tm_dir_make("bench_tokens"); }

/* examples/gpt.mn at the sizes above, its RoPE built for `context`
 * positions and its Embed and readout for `vocab` tokens. */
static mn_module *tiny_gpt(int64_t context, int64_t vocab)
{
    const char *text = mn_graph_gpt_text();
    mn_graph_file *g;
    mn_module *root;
    ck_assert_ok(mn_graph_parse(&g, text, strlen(text), "gpt.mn"));
    ck_assert_ok(mn_graph_set(g, "width", WIDTH));
    ck_assert_ok(mn_graph_set(g, "dhead", DHEAD));
    ck_assert_ok(mn_graph_set(g, "depth", DEPTH));
    ck_assert_ok(mn_graph_set(g, "context", (double)context));
    ck_assert_ok(mn_graph_set(g, "vocab", (double)vocab));
    ck_assert_ok(mn_graph_make(g, &root));
    mn_graph_destroy(g);
    return root;
}

/* What `modnorm bench step` sets: a constant schedule, one thread. */
static void bench_settings(mn_train_settings *s, const char *opt)
{
    mn_train_settings_default(s);
    s->opt = opt;
    s->schedule = MN_SCHEDULE_CONSTANT;
    s->batch = BATCH;
    s->threads = 1;
}

/* The Linear atoms' weight shapes (d_out, d_in) of one block and the
 * readout, from examples/gpt.mn: Query, Key, Value and the attention's
 * output (width x width), the MLP (4·width x width, width x 4·width), the
 * readout (vocab x width). The Embed (atom 0, the data reader) has no
 * product, so no Linear reads the data and each has 3 products. */
static int linear_shapes(int64_t vocab, int64_t shapes[][2])
{
    int n = 0;
    for (int b = 0; b < DEPTH; b++) {
        for (int i = 0; i < 4; i++, n++)
            shapes[n][0] = WIDTH, shapes[n][1] = WIDTH;
        shapes[n][0] = 4 * WIDTH, shapes[n++][1] = WIDTH;
        shapes[n][0] = WIDTH, shapes[n++][1] = 4 * WIDTH;
    }
    shapes[n][0] = vocab, shapes[n++][1] = WIDTH;
    return n;
}

/* bench.h's count by hand for `batch` sequences of `positions` tokens (0
 * positions: before any forward, a Linear's P is 1 and there is no
 * attention term). Per Linear 3 products of 2·B·P·d_out·d_in; per block a
 * Scores and an ApplyScores, 3 of 2·B·h·T·T·dh each; with `polar`, each
 * Linear's polar iteration as mn_polar_plan_for counts it (the Embed's norm,
 * l1-rms, is no polar factor). */
static double hand_flops(int64_t batch, int64_t positions, int64_t vocab,
                         const mn_dualize_opts *polar)
{
    int64_t shapes[4 * DEPTH + 8][2];
    int n = linear_shapes(vocab, shapes);
    double P = positions > 0 ? (double)positions : 1, total = 0;
    for (int i = 0; i < n; i++) {
        total += 3 * 2.0 * (double)batch * P * (double)shapes[i][0] * (double)shapes[i][1];
        if (polar) {
            mn_polar_plan plan;
            ck_assert_ok(mn_polar_plan_for(polar, shapes[i][0], shapes[i][1], MN_F32, &plan));
            total += plan.flops;
        }
    }
    double T = (double)positions;
    total += DEPTH * 2 * 3 * 2.0 * (double)batch * HEADS * T * T * DHEAD;
    return total;
}

/* The polar options the library's count uses: the configuration's, its
 * method defaulted. */
static mn_dualize_opts polar_of(const mn_solver_config *cfg)
{
    mn_dualize_opts p = cfg->polar;
    if (!p.method)
        p.method = mn_polar_default();
    return p;
}

/* One forward of `batch` sequences of token ids i mod vocab. */
static void forward_tokens(mn_network *net, int64_t batch, int64_t positions, int64_t vocab)
{
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){batch, positions});
    for (int64_t i = 0; i < batch * positions; i++)
        ((float *)x->data)[i] = (float)(i % vocab);
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(net, x, &y));
    ck_assert_int_eq(y->ndim, 3);
    ck_assert_int_eq(y->shape[2], vocab);
    mn_tensor_destroy(x);
}

/* (1) mn_bench_step_flops of the tiny GPT is the hand count: without polar
 * flops (adam), with Muon's, before any forward (positions 1, no attention)
 * and after one; and the bench reports the same count. */
START_TEST(test_flops_by_hand)
{
    static const char *opts[] = {"adam", "muon"};
    for (int o = 0; o < 2; o++) {
        mn_train_settings s;
        bench_settings(&s, opts[o]);
        mn_solver_config cfg;
        mn_network *net;
        mn_solver *solver;
        ck_assert_ok(mn_train_solver_config(&s, 3, &cfg));
        ck_assert_ok(mn_train_build(tiny_gpt(CONTEXT, VOCAB), &s, 3, &net, &solver));
        mn_dualize_opts polar = polar_of(&cfg);
        const mn_dualize_opts *p = o == 1 ? &polar : NULL;
        ck_assert_int_eq(mn_network_atom_count(net), 1 + 6 * DEPTH + 1);
        ck_assert_str_eq(mn_module_kind(mn_network_atom(net, 0)), "Embed");

        double before = mn_bench_step_flops(net, &cfg, BATCH), want = hand_flops(BATCH, 0, VOCAB, p);
        ck_assert_msg(before == want, "%s before a forward: %.17g, want %.17g", opts[o], before,
                      want);
        forward_tokens(net, BATCH, CONTEXT, VOCAB);
        double flops = mn_bench_step_flops(net, &cfg, BATCH), bf16 = -1;
        want = hand_flops(BATCH, CONTEXT, VOCAB, p);
        ck_assert_msg(flops == want, "%s: %.17g flops, want %.17g", opts[o], flops, want);
        ck_assert_double_eq(mn_bench_step_flops_bf16(net, &cfg, BATCH, &bf16), want);
        ck_assert_double_eq(bf16, 0); /* float32 products */
        if (o == 0) /* the numbers themselves, for a reader checking the formula: */
            ck_assert_double_eq(flops, 96.0 * 3216 + 2 * 12288); /* Linears, attention */
        mn_solver_destroy(solver);
        mn_network_destroy(net);

        mn_bench_step_result r;
        ck_assert_ok(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, VOCAB, 1, NULL,
                                          &r));
        ck_assert_msg(r.flops == want, "%s bench: %.17g flops, want %.17g", opts[o], r.flops, want);
        ck_assert_double_eq(r.flops_bf16, 0);
        ck_assert_double_eq(r.roofline, r.flops / r.gemm_rate);
    }
}
END_TEST

/* (2) A run: positions per step, the loss at init near ln(vocab), lower
 * after a few steps on the one batch, positive times. */
START_TEST(test_step_tokens_runs)
{
    mn_train_settings s;
    bench_settings(&s, "muon");
    mn_bench_step_result r;
    const int steps = 4;
    ck_assert_ok(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, VOCAB, steps, NULL,
                                      &r));
    ck_assert_int_eq(r.tokens, BATCH * CONTEXT);
    ck_assert_int_eq(r.atoms, 1 + 6 * DEPTH + 1);
    ck_assert(isfinite(r.loss_first) && isfinite(r.loss_last));
    fprintf(stderr, "loss %.17g -> %.17g, ln %g\n", r.loss_first, r.loss_last, log(VOCAB));
    ck_assert_msg(fabs(r.loss_first - log(VOCAB)) < 0.5, "loss at init %g, ln(%d) = %g",
                  r.loss_first, VOCAB, log(VOCAB));
    ck_assert_msg(r.loss_last < r.loss_first, "loss %g -> %g", r.loss_first, r.loss_last);
    ck_assert_int_eq(r.step.repeat, steps);
    ck_assert(r.step.min > 0 && r.step.min <= r.step.median && r.step.median <= r.step.max);
    ck_assert(r.update.min > 0 && r.cpu.min > 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bench_tokens");
    TCase *tc = tcase_create("bench_tokens");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, tm_dir_remove);
    tcase_add_test(tc, test_flops_by_hand);
    tcase_add_test(tc, test_step_tokens_runs);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
