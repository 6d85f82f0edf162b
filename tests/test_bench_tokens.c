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
#include <unistd.h>

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

        double before = mn_bench_step_flops(net, &cfg, BATCH);
        double want = hand_flops(BATCH, 0, VOCAB, p);
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

/* The count is at the batch asked for, whatever the last forward's: P is
 * per example of that forward (a GPT run at 2 sequences counted at 1 and 4;
 * an MLP on (B, d) run at 8 rows counted at 2 has P = 1, not 8/2). */
START_TEST(test_flops_at_any_batch)
{
    mn_train_settings s;
    bench_settings(&s, "adam");
    mn_solver_config cfg;
    mn_network *net;
    mn_solver *solver;
    ck_assert_ok(mn_train_solver_config(&s, 3, &cfg));
    ck_assert_ok(mn_train_build(tiny_gpt(CONTEXT, VOCAB), &s, 3, &net, &solver));
    forward_tokens(net, BATCH, CONTEXT, VOCAB);
    static const int64_t batches[] = {1, BATCH, 4};
    for (int i = 0; i < 3; i++) {
        double flops = mn_bench_step_flops(net, &cfg, batches[i]);
        double want = hand_flops(batches[i], CONTEXT, VOCAB, NULL);
        ck_assert_msg(flops == want, "batch %lld: %.17g flops, want %.17g", (long long)batches[i],
                      flops, want);
    }
    mn_solver_destroy(solver);
    mn_network_destroy(net);

    const mn_mlp_spec mlp = {.d_in = 12, .width = 16, .d_out = 5, .depth = 2};
    mn_module *root;
    ck_assert_ok(mn_mlp_factory((void *)&mlp, "width", 16, &root));
    s.batch = 8;
    ck_assert_ok(mn_train_build(root, &s, 3, &net, &solver));
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){8, 12});
    const mn_tensor *y;
    ck_assert_ok(mn_network_forward(net, x, &y));
    double flops = mn_bench_step_flops(net, &cfg, 2);
    ck_assert_msg(flops == 2 * 2.0 * 2 * 16 * 12 + 3 * 2.0 * 2 * 5 * 16, "%.17g flops", flops);
    mn_tensor_destroy(x);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
}
END_TEST

/* (2) A run: positions per step, the loss at init near ln(vocab), lower
 * after a few Muon steps at the preset's lr on the one batch (2.256 ->
 * 2.113 over 4), positive times. */
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
    /* Why [ln V − 0.25, ln V + 0.75]: the modular init is well normed (Embed
     * columns of RMS 1, blocks of sensitivity 1, a readout of RMS→RMS norm 1),
     * so the logits z have RMS at most about 1 (0.19 here). Over a uniform
     * label the loss is lse(z) − mean(z), between ln V (Jensen) and about
     * ln V + Var(z)/2 <= ln V + 0.5; the 16 drawn labels move it by about
     * RMS(z)/√16 <= 0.25. The run is seeded, so the value is fixed (2.256
     * against ln 9 = 2.197); a loss summed instead of averaged (16x) or an
     * init off by a few x is far outside. */
    ck_assert_msg(r.loss_first > log(VOCAB) - 0.25 && r.loss_first < log(VOCAB) + 0.75,
                  "loss at init %g, ln(%d) = %g", r.loss_first, VOCAB, log(VOCAB));
    ck_assert_msg(r.loss_last < r.loss_first, "loss %g -> %g", r.loss_first, r.loss_last);
    ck_assert_int_eq(r.step.repeat, steps);
    ck_assert(r.step.min > 0 && r.step.min <= r.step.median && r.step.median <= r.step.max);
    ck_assert(r.update.min > 0 && r.cpu.min > 0);
}
END_TEST

/* An .npy file's array: its dtype, dimensions and shape as written. */
static mn_mat read_npy(const char *name, mn_dtype dt, int ndim, int64_t rows, int64_t cols)
{
    mn_mat m;
    int nd;
    ck_assert_ok(mn_npy_read_ndim(tm_at(name), &m, &nd));
    ck_assert_msg(m.dtype == dt && nd == ndim && m.rows == rows && m.cols == cols,
                  "%s: dtype %d, %d dims, %lld x %lld; want %d, %d dims, %lld x %lld", name,
                  (int)m.dtype, nd, (long long)m.rows, (long long)m.cols, (int)dt, ndim,
                  (long long)rows, (long long)cols);
    return m;
}

/* The initial weights as bench.h lays out w0.npy: each atom's d_out x d_in
 * view (the Embed's is its stored (vocab, d) transposed) row-major, in atom
 * order, of a network built as the bench builds it. */
static float *w0_of(const mn_train_settings *s, int64_t *n)
{
    mn_network *net;
    mn_solver *solver;
    ck_assert_ok(mn_train_build(tiny_gpt(CONTEXT, VOCAB), s, 3, &net, &solver));
    *n = mn_network_param_count(net);
    float *w = malloc((size_t)*n * sizeof *w);
    ck_assert_ptr_nonnull(w);
    int64_t at = 0;
    for (int a = 0; a < mn_network_atom_count(net); a++) {
        mn_mat v = mn_network_atom_view(net, a, mn_network_weights(net));
        for (int64_t i = 0; i < v.rows; i++)
            for (int64_t j = 0; j < v.cols; j++)
                w[at++] = (float)mn_mat_get(&v, i, j);
    }
    ck_assert_int_eq(at, *n);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    return w;
}

/* The losses of `steps` + 1 training steps (forward, loss, backward, the
 * solver's step) from the initial weights on the batch of tokens.npy and
 * labels.npy, as a loop written here: the run bench.h describes. */
static void replay_losses(const mn_train_settings *s, int steps, double *losses)
{
    mn_mat tok, lab;
    ck_assert_ok(mn_npy_read(tm_at("tokens.npy"), &tok));
    ck_assert_ok(mn_npy_read(tm_at("labels.npy"), &lab));
    mn_tensor *x = tm_tensor_new(2, (int64_t[]){tok.rows, tok.cols}), *dy = NULL;
    memcpy(x->data, tok.data, (size_t)(tok.rows * tok.cols) * sizeof(float));
    int32_t labels[BATCH * CONTEXT];
    for (int i = 0; i < BATCH * CONTEXT; i++)
        labels[i] = (int32_t)((const float *)lab.data)[i];
    mn_network *net;
    mn_solver *solver;
    ck_assert_ok(mn_train_build(tiny_gpt(CONTEXT, VOCAB), s, steps + 1, &net, &solver));
    for (int i = 0; i <= steps; i++) {
        const mn_tensor *y;
        ck_assert_ok(mn_network_forward(net, x, &y));
        if (!dy)
            dy = tm_tensor_new(y->ndim, y->shape);
        ck_assert_ok(mn_loss_cross_entropy(y, labels, &losses[i], dy, NULL));
        mn_network_zero_grad(net);
        ck_assert_ok(mn_network_backward(net, dy));
        ck_assert_ok(mn_solver_step(solver, net));
    }
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_mat_free(&tok);
    mn_mat_free(&lab);
}

/* (3) With npy_dir: w0.npy (the initial weights, 1-D float32), tokens.npy
 * (batch, context) float32 ids, labels.npy (batch·context) float32 ids and
 * losses.npy (steps + 1) float64, the first the warm-up's loss (loss_first)
 * and the last the last timed step's (loss_last), each the loss a training
 * loop from w0 on that batch reaches. */
START_TEST(test_npy_files)
{
    mn_train_settings s;
    bench_settings(&s, "muon");
    mn_bench_step_result r;
    enum { steps = 3 };
    ck_assert_ok(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, VOCAB, steps, tm_dir,
                                      &r));
    int64_t n;
    float *want = w0_of(&s, &n);
    ck_assert_int_eq(n, VOCAB * WIDTH + DEPTH * 12 * WIDTH * WIDTH + VOCAB * WIDTH);
    mn_mat w0 = read_npy("w0.npy", MN_F32, 1, 1, n);
    ck_assert_int_eq(memcmp(w0.data, want, (size_t)n * sizeof *want), 0);
    free(want);
    mn_mat_free(&w0);

    /* the ids as bench.h draws them: one RNG seeded 5, the tokens row by row
     * and then the labels, each uniform in [0, vocab) */
    mn_mat tok = read_npy("tokens.npy", MN_F32, 2, BATCH, CONTEXT);
    mn_mat lab = read_npy("labels.npy", MN_F32, 1, 1, BATCH * CONTEXT);
    const mn_mat *ids[] = {&tok, &lab};
    mn_rng rng;
    mn_rng_seed(&rng, 5);
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; i < BATCH * CONTEXT; i++) {
            float v = ((const float *)ids[k]->data)[i];
            ck_assert_msg(v == (float)mn_rng_below(&rng, VOCAB), "%s id %lld: %g",
                          k ? "label" : "token", (long long)i, (double)v);
        }
    mn_mat_free(&tok);
    mn_mat_free(&lab);

    mn_mat ls = read_npy("losses.npy", MN_F64, 1, 1, steps + 1);
    const double *l = ls.data;
    ck_assert_double_eq(l[0], r.loss_first);
    ck_assert_double_eq(l[steps], r.loss_last);
    /* the files are the run's: training from w0 on that batch gives each loss
     * (one thread: the same products in the same order; 1e-12 for rounding) */
    double replay[steps + 1];
    replay_losses(&s, steps, replay);
    for (int i = 0; i <= steps; i++)
        ck_assert_msg(fabs(l[i] - replay[i]) <= 1e-12 * fabs(replay[i]),
                      "loss %d: %.17g in losses.npy, %.17g replayed", i, l[i], replay[i]);
    mn_mat_free(&ls);

    /* the same run again writes the same files over them (one fixed batch, seed 5) */
    mn_bench_step_result r2;
    ck_assert_ok(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, VOCAB, steps, tm_dir,
                                      &r2));
    ck_assert_double_eq(r2.loss_first, r.loss_first);
}
END_TEST

/* A status the call must return (the tree is taken either way: no leak). */
#define ck_assert_status(expr, want)                                                               \
    do {                                                                                           \
        mn_status s_ = (expr);                                                                     \
        ck_assert_msg(s_ == (want), "%s -> %s (%s), want %s", #expr, mn_status_str(s_),           \
                      mn_last_error(), mn_status_str(want));                                       \
    } while (0)

/* (4) Refusals: MN_ERR_ARG for each argument bench.h names, the network's
 * error for a context longer than RoPE's or ids beyond the Embed's vocab,
 * I/O for an npy_dir that is no directory, MN_ERR_ARG for one too long; the
 * tree is freed (the sanitizer build finds a leak) and nothing crashes. */
START_TEST(test_refusals)
{
    mn_train_settings s;
    bench_settings(&s, "muon");
    mn_bench_step_result r;
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), NULL, CONTEXT, VOCAB, 1, NULL,
                                          &r), MN_ERR_ARG);
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, VOCAB, 1, NULL,
                                          NULL), MN_ERR_ARG);
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, 0, VOCAB, 1, NULL, &r),
                     MN_ERR_ARG);
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, -3, VOCAB, 1, NULL, &r),
                     MN_ERR_ARG);
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, 0, 1, NULL, &r),
                     MN_ERR_ARG);
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT,
                                          (1 << 24) + 1, 1, NULL, &r), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "2^24"));
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, VOCAB, 0, NULL,
                                          &r), MN_ERR_ARG);
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, VOCAB, -1, NULL,
                                          &r), MN_ERR_ARG);
    mn_train_settings big = s;
    big.batch = INT64_MAX / 4; /* batch·context overflows */
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &big, CONTEXT, VOCAB, 1, NULL,
                                          &r), MN_ERR_ARG);
    big.batch = 0;
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &big, CONTEXT, VOCAB, 1, NULL,
                                          &r), MN_ERR_ARG);

    /* RoPE built for 8 positions, sequences of 16 */
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, 2 * CONTEXT, VOCAB, 1,
                                          NULL, &r), MN_ERR_SHAPE);
    /* ids up to 49 into an Embed of 9 tokens */
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, 50, 1, NULL, &r),
                     MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "Embed"));

    /* npy_dir a regular file (left as it was) or missing: an I/O error after the steps */
    tm_write_file(tm_at("file"), "keep", 4);
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, VOCAB, 1,
                                          tm_at("file"), &r), MN_ERR_IO);
    size_t len;
    unsigned char *kept = tm_slurp(tm_at("file"), &len);
    ck_assert(len == 4 && memcmp(kept, "keep", 4) == 0);
    free(kept);
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, VOCAB, 1,
                                          tm_at("missing"), &r), MN_ERR_IO);
    /* a folder name longer than the paths the files get: refused, not cut */
    char *longdir = malloc(5001);
    ck_assert_ptr_nonnull(longdir);
    memset(longdir, 'd', 5000);
    longdir[5000] = '\0';
    ck_assert_status(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, VOCAB, 1,
                                          longdir, &r), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "too long"));
    free(longdir);
}
END_TEST

/* The command of (5): the GPT of (1) (vocab set to it; the file's default
 * is 256) with the default Muon, its batch written to --npy when given. */
static int run_gpt_bench(const char *extra, char *out, size_t cap)
{
    char args[1024];
    snprintf(args, sizeof args,
             "bench step --model gpt --width %d --set dhead=%d --depth %d --context %d "
             "--batch %d --steps 2 --threads 1 --set vocab=%d --json%s",
             WIDTH, DHEAD, DEPTH, CONTEXT, BATCH, VOCAB, extra);
    return tm_run_modnorm(args, out, cap);
}

static double json_num(json_t *doc, const char *key)
{
    json_t *v = json_object_get(doc, key);
    ck_assert_msg(json_is_number(v), "no number \"%s\"", key);
    return json_number_value(v);
}

/* (5) `modnorm bench step --model gpt --json`: exit 0, one JSON object whose
 * gflop_per_step is the hand count of (1) with Muon's polar flops, the
 * positions and tokens/s consistent, the losses the library's, and --npy
 * creating its directory with the losses the JSON reports. */
START_TEST(test_cli_json)
{
    char out[8192], extra[512];
    snprintf(extra, sizeof extra, " --npy %s", tm_at("npy"));
    int rc = run_gpt_bench(extra, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    json_error_t err;
    json_t *doc = json_loads(out, 0, &err);
    ck_assert_msg(doc, "not JSON (%s): %s", err.text, out);

    mn_train_settings s;
    bench_settings(&s, "muon"); /* the command's defaults */
    mn_solver_config cfg;
    ck_assert_ok(mn_train_solver_config(&s, 3, &cfg));
    mn_dualize_opts polar = polar_of(&cfg);
    double want = hand_flops(BATCH, CONTEXT, VOCAB, &polar);
    double gflop = json_num(doc, "gflop_per_step");
    ck_assert_msg(gflop == 1e-9 * want, "gflop_per_step %.17g, want %.17g", gflop, 1e-9 * want);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "opt")), "muon");
    ck_assert_double_eq(json_num(doc, "context"), CONTEXT);
    ck_assert_double_eq(json_num(doc, "vocab"), VOCAB);
    ck_assert_double_eq(json_num(doc, "batch"), BATCH);
    ck_assert_double_eq(json_num(doc, "atoms"), 1 + 6 * DEPTH + 1);
    /* tokens/s is the step's positions over its median time (not a timing bound) */
    double tps = json_num(doc, "tokens_per_s"), ms = json_num(doc, "ms_per_step");
    ck_assert(tps > 0 && ms > 0);
    ck_assert_double_eq_tol(tps * ms * 1e-3, BATCH * CONTEXT, 1e-9 * BATCH * CONTEXT);

    /* the library's run at the same settings: the same losses (one thread, seeded) */
    mn_bench_step_result r;
    ck_assert_ok(mn_bench_step_tokens(tiny_gpt(CONTEXT, VOCAB), &s, CONTEXT, VOCAB, 2, NULL, &r));
    ck_assert_double_eq_tol(json_num(doc, "loss_first"), r.loss_first, 1e-12);
    ck_assert_double_eq_tol(json_num(doc, "loss_last"), r.loss_last, 1e-12);

    mn_mat ls;
    ck_assert_ok(mn_npy_read(tm_at("npy/losses.npy"), &ls));
    ck_assert_int_eq(ls.rows * ls.cols, 3);
    ck_assert_double_eq(((const double *)ls.data)[0], json_num(doc, "loss_first"));
    ck_assert_double_eq(((const double *)ls.data)[2], json_num(doc, "loss_last"));
    mn_mat_free(&ls);
    json_decref(doc);
}
END_TEST

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* (5) --npy refusals: with a model that reads no tokens a usage error (exit
 * 2, one line naming --npy, nothing created); to a regular file an error
 * that leaves the file as it was. */
START_TEST(test_cli_npy_refusals)
{
    char args[1024], out[4096];
    snprintf(args, sizeof args, "bench step --model mlp --width 8 --batch 2 --steps 1 --npy %s",
             tm_at("mlp"));
    int rc = tm_run_modnorm(args, out, sizeof out);
    ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
    ck_assert_msg(count_lines(out) == 1 && strstr(out, "--npy"), "%s", out);
    ck_assert_int_eq(access(tm_at("mlp"), F_OK), -1);

    tm_write_file(tm_at("file"), "keep", 4);
    char extra[512];
    snprintf(extra, sizeof extra, " --npy %s", tm_at("file"));
    rc = run_gpt_bench(extra, out, sizeof out);
    ck_assert_msg(rc != 0 && rc != 2, "exit %d: %s", rc, out);
    ck_assert_msg(count_lines(out) == 1 && strstr(out, "--npy") && strstr(out, "not a directory"),
                  "%s", out);
    ck_assert_ptr_null(strchr(out, '{')); /* no JSON for a run that did not happen */
    size_t len;
    unsigned char *kept = tm_slurp(tm_at("file"), &len);
    ck_assert(len == 4 && memcmp(kept, "keep", 4) == 0);
    free(kept);
}
END_TEST

/* Without --json: one line naming the sequences, tokens/s and the losses. */
START_TEST(test_cli_text)
{
    char out[4096];
    char args[512];
    snprintf(args, sizeof args,
             "bench step --model gpt --width %d --set dhead=%d --depth %d --context %d "
             "--batch %d --steps 1 --threads 1 --set vocab=%d",
             WIDTH, DHEAD, DEPTH, CONTEXT, BATCH, VOCAB);
    int rc = tm_run_modnorm(args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(count_lines(out) == 1 && strstr(out, "2 sequences of 8 tokens") &&
                      strstr(out, "tokens/s") && strstr(out, "loss "),
                  "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bench_tokens");
    TCase *tc = tcase_create("bench_tokens");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, tm_dir_remove);
    tcase_add_test(tc, test_flops_by_hand);
    tcase_add_test(tc, test_flops_at_any_batch);
    tcase_add_test(tc, test_step_tokens_runs);
    tcase_add_test(tc, test_npy_files);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_cli_json);
    tcase_add_test(tc, test_cli_npy_refusals);
    tcase_add_test(tc, test_cli_text);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
