/* --precision fp32|bf16 through the command line: dualize against the
 * library, float64 refused in bf16, the bench reports (bf16 rate, the
 * implementation, the share of flops in bf16), train and sweep passing it
 * on (and sweep.cfg recording it). MODNORM names the binary (set by meson). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "core/bf16.h"
#include "testutil.h"

#define run tm_run_modnorm

static void setup(void) { tm_dir_make("precision"); }

/* The JSON object on the last line of `out`. */
static json_t *last_json(const char *out)
{
    const char *line = out, *p;
    while ((p = strchr(line, '\n')) && p[1])
        line = p + 1;
    json_error_t e;
    json_t *j = json_loads(line, JSON_DISABLE_EOF_CHECK, &e);
    ck_assert_msg(j != NULL, "no JSON in '%s': %s", out, e.text);
    return j;
}

START_TEST(test_dualize_precision)
{
    char in[256], outp[256], args[1024], buf[4096];
    snprintf(in, sizeof in, "%s/g.npy", tm_dir);
    snprintf(outp, sizeof outp, "%s/o.npy", tm_dir);
    mn_mat G = tm_make(TM_LOW_RANK_NOISE, MN_F32, 40, 90, 4);
    ck_assert_ok(mn_npy_write(in, &G));
    static const char *methods[] = {"ns5", "polar-express"};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "dualize --norm rms-rms --method %s --precision bf16 %s %s",
                 methods[i], in, outp);
        ck_assert_msg(run(args, buf, sizeof buf) == 0, "%s: %s", args, buf);
        mn_mat O, L, F;
        ck_assert_ok(mn_npy_read(outp, &O));
        const mn_norm *n;
        const mn_polar_method *m;
        ck_assert_ok(mn_norm_lookup("rms-rms", &n));
        ck_assert_ok(mn_polar_lookup(methods[i], &m));
        ck_assert_ok(mn_mat_alloc(&L, MN_F32, 40, 90));
        ck_assert_ok(mn_mat_alloc(&F, MN_F32, 40, 90));
        mn_dualize_opts o = {.method = m, .precision = MN_PRECISION_BF16};
        ck_assert_ok(mn_dualize(n, &o, &L, &G));
        ck_assert_double_le(tm_max_abs_diff(&O, &L), 1e-5);
        /* and bf16 did run: not float32's result, but close to it */
        o.precision = MN_PRECISION_FP32;
        ck_assert_ok(mn_dualize(n, &o, &F, &G));
        double d = tm_max_abs_diff(&O, &F);
        ck_assert_msg(d > 0 && d < 0.05, "bf16 vs fp32 through the CLI: %g", d);
        mn_mat_free(&O);
        mn_mat_free(&L);
        mn_mat_free(&F);
    }
    mn_mat_free(&G);

    /* float64 is refused in bf16, with the reason and no output. */
    mn_mat D = tm_make(TM_GAUSSIAN, MN_F64, 6, 9, 1);
    ck_assert_ok(mn_npy_write(in, &D));
    mn_mat_free(&D);
    remove(outp);
    snprintf(args, sizeof args, "dualize --norm spectral --method ns5 --precision bf16 %s %s", in,
             outp);
    ck_assert_int_eq(run(args, buf, sizeof buf), 1);
    ck_assert_msg(strstr(buf, "bf16") && strstr(buf, "float64"), "%s", buf);
    ck_assert_int_ne(access(outp, F_OK), 0);
    /* ... and computed in double with fp32 */
    snprintf(args, sizeof args, "dualize --norm spectral --method ns5 --precision fp32 %s %s", in,
             outp);
    ck_assert_msg(run(args, buf, sizeof buf) == 0, "%s", buf);
    /* an unknown precision is a usage error */
    snprintf(args, sizeof args, "dualize --norm spectral --precision fp16 %s %s", in, outp);
    ck_assert_int_eq(run(args, buf, sizeof buf), 2);
    ck_assert_msg(strstr(buf, "fp32|bf16") || strstr(buf, "bf16"), "%s", buf);
}
END_TEST

START_TEST(test_bench_reports_precision)
{
    char buf[8192];
    ck_assert_msg(run("bench gemm --n 64 --repeat 2 --precision bf16 --json", buf, sizeof buf) == 0,
                  "%s", buf);
    json_t *j = last_json(buf);
    ck_assert_str_eq(json_string_value(json_object_get(j, "precision")), "bf16");
    ck_assert_str_eq(json_string_value(json_object_get(j, "impl")), mn_bf16_impl());
    ck_assert_double_gt(json_real_value(json_object_get(j, "gflops")), 0);
    json_decref(j);
    ck_assert_msg(run("bench gemm --n 64 --repeat 2 --precision bf16 --op syrk --json", buf,
                      sizeof buf) == 0, "%s", buf);
    ck_assert_int_eq(run("bench gemm --n 64 --precision bf16 --op gemmt", buf, sizeof buf), 2);
    ck_assert_ptr_nonnull(strstr(buf, "gemmt"));

    /* bench dualize: the implementation and the share of flops in bf16 */
    ck_assert_msg(run("bench dualize --shape 48x80 --repeat 1 --precision bf16 --json", buf,
                      sizeof buf) == 0, "%s", buf);
    j = last_json(buf);
    ck_assert_str_eq(json_string_value(json_object_get(j, "precision")), "bf16");
    ck_assert_str_eq(json_string_value(json_object_get(j, "form")), "direct");
    ck_assert_double_eq(json_real_value(json_object_get(j, "bf16_share")), 1.0);
    ck_assert_str_eq(json_string_value(json_object_get(j, "impl")), mn_bf16_impl());
    double err = json_real_value(json_object_get(j, "polar_err"));
    ck_assert_msg(err > 0 && err < 0.3, "polar_err %g", err);
    json_decref(j);
    ck_assert_msg(run("bench dualize --shape 48x80 --repeat 1 --precision bf16 --form gram --json",
                      buf, sizeof buf) == 0, "%s", buf);
    j = last_json(buf);
    double share = json_real_value(json_object_get(j, "bf16_share"));
    ck_assert_msg(share > 0 && share < 1, "Gram form in bf16: share %g", share);
    json_decref(j);
    ck_assert_msg(run("bench dualize --shape 48x80 --repeat 1 --json", buf, sizeof buf) == 0, "%s",
                  buf);
    j = last_json(buf);
    ck_assert_str_eq(json_string_value(json_object_get(j, "precision")), "fp32");
    ck_assert_double_eq(json_real_value(json_object_get(j, "bf16_share")), 0.0);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "impl")), "BLIS"));
    json_decref(j);

    ck_assert_msg(run("bench step --width 24 --batch 8 --steps 2 --precision bf16 --json", buf,
                      sizeof buf) == 0, "%s", buf);
    j = last_json(buf);
    ck_assert_str_eq(json_string_value(json_object_get(j, "precision")), "bf16");
    json_decref(j);
}
END_TEST

static void strip_timings(char *s)
{
    /* cut (not blank: timings print with different numbers of digits) */
    char *p;
    while ((p = strstr(s, "\"seconds\"")) != NULL)
        memmove(p, p + strcspn(p, "}"), strlen(p + strcspn(p, "}")) + 1);
}

/* train --precision bf16 is deterministic, trains, and differs from fp32. */
START_TEST(test_train_precision)
{
    static char a[16384], b[16384], c[16384];
    const char *bf = "train --steps 6 --width 32 --batch 16 --seed 3 --threads 1 --json "
                     "--precision bf16";
    ck_assert_msg(run(bf, a, sizeof a) == 0, "%s", a);
    ck_assert_int_eq(run(bf, b, sizeof b), 0);
    ck_assert_ptr_nonnull(strstr(a, "\"diverged\": false"));
    strip_timings(a);
    strip_timings(b);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(run("train --steps 6 --width 32 --batch 16 --seed 3 --threads 1 --json "
                         "--precision fp32", c, sizeof c), 0);
    strip_timings(c);
    ck_assert_str_ne(a, c);
}
END_TEST

/* sweep records bf16 in sweep.cfg, so a rerun at fp32 into the same
 * directory is refused; fp32's file is unchanged (old directories resume). */
START_TEST(test_sweep_records_precision)
{
    char args[1024], buf[8192], path[512];
    snprintf(args, sizeof args,
             "sweep --widths 16 --lrs 0.01 --steps 2 --seeds 1 --precision bf16 --out %s/s",
             tm_dir);
    ck_assert_msg(run(args, buf, sizeof buf) == 0, "%s: %s", args, buf);
    snprintf(path, sizeof path, "%s/s/sweep.cfg", tm_dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    ck_assert_msg(strstr(buf, "precision=bf16\n") != NULL, "%s", buf);
    snprintf(args, sizeof args,
             "sweep --widths 16 --lrs 0.01 --steps 2 --seeds 1 --precision fp32 --out %s/s",
             tm_dir);
    ck_assert_int_ne(run(args, buf, sizeof buf), 0);
    ck_assert_msg(strstr(buf, "precision") != NULL, "%s", buf);
    snprintf(args, sizeof args, "sweep --widths 16 --lrs 0.01 --steps 2 --seeds 1 --out %s/t",
             tm_dir);
    ck_assert_msg(run(args, buf, sizeof buf) == 0, "%s: %s", args, buf);
    snprintf(path, sizeof path, "%s/t/sweep.cfg", tm_dir);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    ck_assert_ptr_null(strstr(buf, "precision"));
}
END_TEST

/* The library's training settings carry the precision: checked, written to
 * the settings text only when bf16, and given to the solver (one step from
 * the same network and gradient moves the weights differently). */
START_TEST(test_train_settings_precision)
{
    mn_train_settings s;
    mn_train_settings_default(&s);
    ck_assert_int_eq(s.polar_precision, MN_PRECISION_FP32);
    char text[1024];
    ck_assert_ok(mn_train_settings_text(&s, text, sizeof text));
    ck_assert_ptr_null(strstr(text, "precision"));
    s.polar_precision = MN_PRECISION_BF16;
    ck_assert_ok(mn_train_settings_check(&s));
    ck_assert_ok(mn_train_settings_text(&s, text, sizeof text));
    ck_assert_ptr_nonnull(strstr(text, "method=polar-express\nprecision=bf16\n"));
    s.polar_precision = (mn_precision)5;
    ck_assert_int_eq(mn_train_settings_check(&s), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "polar_precision"));

    float *after[2];
    int64_t n = 0;
    for (int p = 0; p < 2; p++) {
        mn_train_settings_default(&s);
        s.polar_precision = p ? MN_PRECISION_BF16 : MN_PRECISION_FP32;
        s.threads = 1;
        mn_module *root;
        ck_assert_ok(mn_mlp(&root, 20, 48, 3, 5));
        mn_network *net;
        mn_solver *solver;
        ck_assert_ok(mn_train_build(root, &s, 10, &net, &solver));
        mn_tensor *x, *dy;
        ck_assert_ok(mn_tensor_create(&x, 2, (int64_t[]){8, 20}));
        ck_assert_ok(mn_tensor_create(&dy, 2, (int64_t[]){8, 5}));
        mn_mat xm;
        ck_assert_ok(mn_tensor_as_mat(x, &xm));
        mn_rng r;
        mn_rng_seed(&r, 2);
        mn_rng_fill_normal(&r, &xm);
        int32_t labels[8] = {0, 1, 2, 3, 4, 0, 1, 2};
        const mn_tensor *y;
        double loss;
        ck_assert_ok(mn_network_forward(net, x, &y));
        ck_assert_ok(mn_loss_cross_entropy(y, labels, &loss, dy, NULL));
        mn_network_zero_grad(net);
        ck_assert_ok(mn_network_backward(net, dy));
        ck_assert_ok(mn_solver_step(solver, net));
        n = mn_network_param_count(net);
        after[p] = malloc((size_t)n * sizeof(float));
        memcpy(after[p], mn_network_weights(net), (size_t)n * sizeof(float));
        mn_tensor_destroy(x);
        mn_tensor_destroy(dy);
        mn_solver_destroy(solver);
        mn_network_destroy(net);
    }
    double diff = 0, size = 0;
    for (int64_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)after[0][i] - after[1][i]));
        size = fmax(size, fabs((double)after[0][i]));
    }
    ck_assert_msg(diff > 0 && diff < 0.01 * size, "bf16 step vs fp32: %g (weights up to %g)",
                  diff, size);
    free(after[0]);
    free(after[1]);
}
END_TEST

/* The reference for a Linear in bf16: double products of the operands
 * rounded to bf16 (exact in double), summed in double. */
static double round_bf16(float x) { return mn_bf16_to_f32(mn_bf16_from_f32(x)); }

/* An m x n product C = A·B of k terms, A(i, p) = a[i·ars + p·acs] and
 * B(p, j) = b[p·brs + j·bcs], as computed three ways (got[0] in float32,
 * got[1] and got[2] in bf16; row-major): *worst is the largest bf16 error
 * against the double product of the rounded operands, *off the largest
 * float32-to-bf16 difference, both relative to the sum of the terms' sizes. */
static void rounded_product_errors(int m, int n, int k, const float *a, int ars, int acs,
                                   const float *b, int brs, int bcs, const float *const got[3],
                                   double *worst, double *off)
{
    *worst = *off = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double ref = 0, abs = 0;
            for (int p = 0; p < k; p++) {
                double t = round_bf16(a[i * ars + p * acs]) * round_bf16(b[p * brs + j * bcs]);
                ref += t;
                abs += fabs(t);
            }
            for (int run = 1; run < 3; run++)
                *worst = fmax(*worst, fabs(got[run][i * n + j] - ref) / abs);
            *off = fmax(*off, fabs(got[0][i * n + j] - got[1][i * n + j]) / abs);
        }
}

/* The network's bf16 products: Linear's y, dW and dx are the products of
 * the bf16-rounded x, W and dy (to float32 accumulation, ~1e-6), and differ
 * from the float32 network's by bf16's rounding (~2^-9), so the test fails
 * if either path ran the other's math; oneDNN and the fallback agree. */
START_TEST(test_network_precision_linear)
{
    enum { B = 24, I = 40, O = 36 };
    mn_module *lin;
    ck_assert_ok(mn_linear(&lin, O, I));
    mn_network *net;
    ck_assert_ok(mn_network_create(&net, lin, MN_PARAM_MODULAR, 4));
    mn_network_set_threads(net, 1);
    mn_network_keep_input_grad(net, true);
    ck_assert_int_eq(mn_network_precision(net), MN_PRECISION_FP32);
    ck_assert_int_eq(mn_network_set_precision(net, (mn_precision)3), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "precision 3"));
    ck_assert_int_eq(mn_network_set_precision(NULL, MN_PRECISION_BF16), MN_ERR_ARG);
    ck_assert_int_eq(mn_network_precision(NULL), MN_PRECISION_FP32);
    mn_tensor *x, *dy;
    ck_assert_ok(mn_tensor_create(&x, 2, (int64_t[]){B, I}));
    ck_assert_ok(mn_tensor_create(&dy, 2, (int64_t[]){B, O}));
    mn_rng r;
    mn_rng_seed(&r, 9);
    mn_mat xm, dym;
    ck_assert_ok(mn_tensor_as_mat(x, &xm));
    ck_assert_ok(mn_tensor_as_mat(dy, &dym));
    mn_rng_fill_normal(&r, &xm);
    mn_rng_fill_normal(&r, &dym);
    const float *W = mn_network_weights(net), *X = x->data, *DY = dy->data;
    static float y[3][B * O], g[3][O * I], dx[3][B * I];
    /* runs: 0 fp32, 1 bf16 (oneDNN where it runs), 2 bf16 through the fallback */
    for (int run = 0; run < 3; run++) {
        ck_assert_ok(mn_network_set_precision(net, run ? MN_PRECISION_BF16 : MN_PRECISION_FP32));
        mn_bf16_force_fallback(run == 2);
        const mn_tensor *out;
        ck_assert_ok(mn_network_forward(net, x, &out));
        memcpy(y[run], out->data, sizeof y[run]);
        mn_network_zero_grad(net);
        ck_assert_ok(mn_network_backward(net, dy));
        memcpy(g[run], mn_network_grads(net), sizeof g[run]);
        memcpy(dx[run], mn_network_input_grad(net)->data, sizeof dx[run]);
    }
    mn_bf16_force_fallback(false);
    double worst[3], off[3];
    rounded_product_errors(B, O, I, X, I, 1, W, 1, I, (const float *[]){y[0], y[1], y[2]},
                           &worst[0], &off[0]);
    rounded_product_errors(O, I, B, DY, 1, O, X, I, 1, (const float *[]){g[0], g[1], g[2]},
                           &worst[1], &off[1]);
    rounded_product_errors(B, I, O, DY, O, 1, W, I, 1, (const float *[]){dx[0], dx[1], dx[2]},
                           &worst[2], &off[2]);
    const char *what[3] = {"y", "dW", "dx"};
    for (int q = 0; q < 3; q++) {
        ck_assert_msg(worst[q] < 1e-6, "%s: bf16 vs the rounded operands' product: %g", what[q],
                      worst[q]);
        ck_assert_msg(off[q] > 1e-4 && off[q] < 1e-2, "%s: bf16 vs fp32: %g", what[q], off[q]);
    }
    mn_tensor_destroy(x);
    mn_tensor_destroy(dy);
    mn_network_destroy(net);
}
END_TEST

/* The training settings carry net_precision (checked, in the settings text
 * only when bf16, set on the network mn_train_build makes); train and bench
 * step take --net-precision and say so. */
START_TEST(test_net_precision_settings)
{
    mn_train_settings s;
    mn_train_settings_default(&s);
    ck_assert_int_eq(s.net_precision, MN_PRECISION_FP32);
    char text[1024];
    ck_assert_ok(mn_train_settings_text(&s, text, sizeof text));
    ck_assert_ptr_null(strstr(text, "net_precision"));
    s.net_precision = MN_PRECISION_BF16;
    ck_assert_ok(mn_train_settings_text(&s, text, sizeof text));
    ck_assert_ptr_nonnull(strstr(text, "method=polar-express\nnet_precision=bf16\n"));
    mn_module *root;
    ck_assert_ok(mn_mlp(&root, 20, 48, 3, 5));
    mn_network *net;
    mn_solver *solver;
    ck_assert_ok(mn_train_build(root, &s, 10, &net, &solver));
    ck_assert_int_eq(mn_network_precision(net), MN_PRECISION_BF16);
    mn_solver_destroy(solver);
    mn_network_destroy(net);
    s.net_precision = (mn_precision)7;
    ck_assert_int_eq(mn_train_settings_check(&s), MN_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "net_precision 7"));

    static char a[16384], c[16384];
    const char *bf = "train --steps 6 --width 32 --batch 16 --seed 3 --threads 1 --json "
                     "--net-precision bf16";
    ck_assert_msg(run(bf, a, sizeof a) == 0, "%s", a);
    ck_assert_ptr_nonnull(strstr(a, "\"diverged\": false"));
    ck_assert_int_eq(run("train --steps 6 --width 32 --batch 16 --seed 3 --threads 1 --json", c,
                         sizeof c), 0);
    strip_timings(a);
    strip_timings(c);
    ck_assert_str_ne(a, c);
    char args[1024];
    snprintf(args, sizeof args, "sweep --widths 16 --lrs 0.01 --steps 2 --seeds 1 "
             "--net-precision bf16 --out %s/n", tm_dir);
    ck_assert_msg(run(args, c, sizeof c) == 0, "%s: %s", args, c);
    snprintf(args, sizeof args, "sweep --widths 16 --lrs 0.01 --steps 2 --seeds 1 --out %s/n",
             tm_dir);
    ck_assert_int_ne(run(args, c, sizeof c), 0);
    ck_assert_msg(strstr(c, "net_precision") != NULL, "%s", c);
    /* Options that would change nothing say so. */
    ck_assert_int_eq(run("train --steps 2 --width 16 --threads 1 --opt sgd --precision bf16 "
                         "--atom-norm 0=rms-rms --method ns5", c, sizeof c), 0);
    ck_assert_msg(strstr(c, "note: --precision bf16 has no effect with --opt sgd") &&
                  strstr(c, "note: --atom-norm has no effect with --opt sgd") &&
                  strstr(c, "note: --method has no effect with --opt sgd"), "%s", c);
    ck_assert_int_eq(run("train --steps 2 --width 16 --threads 1 --precision bf16 "
                         "--net-precision bf16", c, sizeof c), 0);
    /* without bf16 hardware or oneDNN the one note names the slower fallback */
    if (mn_bf16_native())
        ck_assert_msg(!strstr(c, "note:"), "%s", c);
    else
        ck_assert_msg(strstr(c, "fallback") && !strstr(c, "has no effect"), "%s", c);
    snprintf(args, sizeof args, "%s/conv.mn", tm_dir);
    FILE *f = fopen(args, "w");
    ck_assert_ptr_nonnull(f);
    fputs("Image(1,28,28) -> Conv2D(10,1,28,1,0) -> Flatten\n", f);
    fclose(f);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "train --steps 2 --threads 1 --net-precision bf16 --graph %s",
             args);
    ck_assert_int_eq(run(cmd, c, sizeof c), 0);
    ck_assert_msg(strstr(c, "note: --net-precision bf16 has no effect: the model has no "
                            "Linear atom"), "%s", c);
    /* oneDNN limited below bf16 (or no oneDNN): the fallback runs, and says so */
    setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE", 1);
    ck_assert_int_eq(run("train --steps 2 --width 16 --threads 1 --net-precision bf16", c,
                         sizeof c), 0);
    unsetenv("ONEDNN_MAX_CPU_ISA");
    ck_assert_msg(strstr(c, "note: bf16 products run through the fallback"), "%s", c);
    ck_assert_int_ne(run("train --steps 2 --net-precision fp16", c, sizeof c), 0);
    ck_assert_msg(strstr(c, "--net-precision") != NULL, "%s", c);
    ck_assert_int_eq(run("bench step --width 32 --batch 8 --steps 2 --threads 1 --json "
                         "--net-precision bf16", c, sizeof c), 0);
    json_t *j = last_json(c);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "net_precision")), "bf16");
    json_decref(j);
}
END_TEST

/* The library's bench (modnorm/bench.h) in bf16: the product, the rate,
 * the polar factor's plan fields, and bf16 gemmt refused. */
START_TEST(test_bench_library_bf16)
{
    mn_bench_times t;
    ck_assert_ok(mn_bench_product_precision(MN_BENCH_GEMM, MN_PRECISION_BF16, 64, 1, 2, &t));
    ck_assert_double_gt(t.min, 0);
    ck_assert_ok(mn_bench_product_precision(MN_BENCH_SYRK, MN_PRECISION_BF16, 64, 1, 2, &t));
    ck_assert_int_eq(mn_bench_product_precision(MN_BENCH_GEMMT, MN_PRECISION_BF16, 64, 1, 2, &t),
                     MN_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "gemmt"));
    ck_assert_int_eq(mn_bench_product_precision(MN_BENCH_GEMM, (mn_precision)4, 64, 1, 2, &t),
                     MN_ERR_ARG);
    double rate = 0;
    ck_assert_ok(mn_bench_bf16_rate(1, &rate));
    ck_assert_double_gt(rate, 0);
    const mn_polar_method *ns5;
    ck_assert_ok(mn_polar_lookup("ns5", &ns5));
    mn_dualize_opts o = {.method = ns5, .threads = 1, .precision = MN_PRECISION_BF16};
    mn_bench_dualize_result r;
    ck_assert_ok(mn_bench_dualize_opts(&o, 48, 80, 2, true, &r));
    ck_assert_int_eq(r.precision, MN_PRECISION_BF16);
    ck_assert_int_eq(r.form, MN_POLAR_DIRECT);
    ck_assert_double_eq(r.bf16_share, 1.0);
    ck_assert_double_eq(r.flops_bf16, r.flops);
    ck_assert_double_gt(r.bf16_rate, 0);
    ck_assert_str_eq(r.impl, mn_polar_bf16_impl());
    ck_assert_msg(r.polar_err > 0 && r.polar_err < 0.3, "polar_err %g", r.polar_err);
    /* roofline: float32 part at the sgemm rate, bf16 part at the bf16 rate */
    ck_assert_double_eq_tol(r.roofline, r.flops / r.bf16_rate, 1e-12 * r.roofline);
    o.precision = MN_PRECISION_FP32;
    ck_assert_ok(mn_bench_dualize_opts(&o, 48, 80, 1, false, &r));
    ck_assert_double_eq(r.bf16_share, 0.0);
    ck_assert(isnan(r.bf16_rate));
    ck_assert_ptr_nonnull(strstr(r.impl, "BLIS"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("precision");
    TCase *tc = tcase_create("precision");
    tcase_add_checked_fixture(tc, setup, tm_dir_remove);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_dualize_precision);
    tcase_add_test(tc, test_bench_reports_precision);
    tcase_add_test(tc, test_train_precision);
    tcase_add_test(tc, test_sweep_records_precision);
    tcase_add_test(tc, test_train_settings_precision);
    tcase_add_test(tc, test_bench_library_bf16);
    tcase_add_test(tc, test_network_precision_linear);
    tcase_add_test(tc, test_net_precision_settings);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
