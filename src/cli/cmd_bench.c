/* modnorm bench gemm|dualize|step: what modnorm/bench.h measures — the
 * sgemm rate through modnorm's BLIS wrapper and the kernel set in use (the
 * roofline every other timing is compared with; --precision bf16: the bf16
 * rate and the library running it), the polar factor, and one training
 * step — printed as a line or one JSON object. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json_out.h"

int mn_cmd_bench_gemm(mn_cli_args *a)
{
    const char *cmd = "bench gemm";
    mn_bench_op op = (mn_bench_op)a->op;
    int n = (int)a->n, threads = (int)a->threads;
    mn_precision precision = (mn_precision)a->precision;
    bool bf16 = precision == MN_PRECISION_BF16;
    if (bf16 && op == MN_BENCH_GEMMT)
        return mn_cli_usage_error(cmd, "--op gemmt has no bf16 form (gemm, syrk)");
    mn_bench_times t;
    mn_status st = mn_bench_product_precision(op, precision, n, threads, (int)a->repeat, &t);
    if (st != MN_OK)
        return mn_cli_fail(cmd, st);
    mn_bench_blas blas;
    mn_bench_blas_info(&blas);
    const char *name = mn_bench_product_name(op);
    double gflops = mn_bench_product_flops(op, n) / t.median * 1e-9;
    if (a->json)
        return mn_cli_json_print(
            cmd, stdout,
            json_pack("{s:s, s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:s, s:s, s:s, s:s, s:s}", "op", name,
                      "precision", mn_precision_name(precision), "n", n, "threads", threads,
                      "ms_median", mn_cli_json_real(1e3 * t.median), "ms_min",
                      mn_cli_json_real(1e3 * t.min), "ms_max", mn_cli_json_real(1e3 * t.max),
                      "gflops", mn_cli_json_real(gflops), "arch", blas.arch, "arch_reason",
                      blas.arch_reason, "blis", blas.version, "impl",
                      bf16 ? mn_polar_bf16_impl() : "BLIS", "linear_fp32", blas.linear_fp32));
    if (bf16) {
        printf("bf16 %s %dx%dx%d: %.1f GFLOP/s (median %.2f ms of %d, min %.2f, max %.2f); %s\n",
               name, n, n, n, gflops, 1e3 * t.median, t.repeat, 1e3 * t.min, 1e3 * t.max,
               mn_polar_bf16_impl());
        return MN_EXIT_OK;
    }
    printf("s%s %dx%dx%d: %.1f GFLOP/s (median %.2f ms of %d, min %.2f, max %.2f); BLIS %s, "
           "kernels %s (%s); a float32 network's Linear products: %s\n",
           name, n, n, n, gflops, 1e3 * t.median, t.repeat, 1e3 * t.min, 1e3 * t.max,
           blas.version, blas.arch, blas.arch_reason, blas.linear_fp32);
    return MN_EXIT_OK;
}

int mn_cmd_bench_dualize(mn_cli_args *a)
{
    const char *cmd = "bench dualize";
    long rows = (long)a->shape[0], cols = (long)a->shape[1];
    int threads = (int)a->threads;
    bool check = !a->no_error;
    const mn_polar_method *m;
    mn_bench_dualize_result r;
    mn_status st = mn_polar_lookup(a->method, &m); /* the option table accepted it */
    mn_dualize_opts o = {.method = m, .threads = threads, .form = (mn_polar_form)a->form,
                         .precision = (mn_precision)a->precision};
    /* Refused before anything is allocated (Linux overcommits: a shape that
     * cannot fit would be killed part-way by the OOM killer). */
    double need = 0, have = mn_cli_machine_memory();
    if (st == MN_OK)
        st = mn_bench_dualize_memory(&o, rows, cols, check, &need);
    if (st == MN_OK && have > 0 && need > have)
        return mn_cli_usage_error(cmd, "--shape %ldx%ld needs at least %.1f GB (the matrix, "
                                  "its polar factor and the iteration's workspace%s), more "
                                  "than this machine's %.1f GB of memory", rows, cols,
                                  need / 1e9, check ? ", and the exact factor for the error" : "",
                                  have / 1e9);
    if (st == MN_OK)
        st = mn_bench_dualize_opts(&o, rows, cols, (int)a->repeat, check, &r);
    if (st != MN_OK)
        return mn_cli_fail(cmd, st);
    mn_bench_blas blas;
    mn_bench_blas_info(&blas);
    const mn_bench_times *t = &r.times;
    double gflops = r.flops / t->median * 1e-9;
    if (a->json) {
        char shape[64];
        snprintf(shape, sizeof shape, "%ldx%ld", rows, cols);
        /* polar_err is null when --no-error skipped it. */
        return mn_cli_json_print(
            cmd, stdout,
            json_pack("{s:s, s:s, s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s}",
                      "shape", shape, "method", m->name, "threads", threads, "form", r.form_name,
                      "precision", mn_precision_name(r.precision), "ms_median",
                      mn_cli_json_real(1e3 * t->median), "ms_min", mn_cli_json_real(1e3 * t->min),
                      "ms_max", mn_cli_json_real(1e3 * t->max), "gflops",
                      mn_cli_json_real(gflops), "roofline_ms", mn_cli_json_real(1e3 * r.roofline),
                      "bf16_share", mn_cli_json_real(r.bf16_share), "polar_err",
                      mn_cli_json_real(r.polar_err), "impl", r.impl, "arch", blas.arch));
    }
    char err_text[32] = "null";
    if (check)
        snprintf(err_text, sizeof err_text, "%.3g", r.polar_err);
    printf("dualize %ldx%ld with %s, threads %d, %s form, %s: median %.2f ms (min %.2f, max "
           "%.2f), %.1f GFLOP/s, roofline %.2f ms, polar_err %s, %.0f%% of flops in bf16; %s\n",
           rows, cols, m->name, threads, r.form_name, mn_precision_name(r.precision),
           1e3 * t->median, 1e3 * t->min, 1e3 * t->max, gflops, 1e3 * r.roofline, err_text,
           100 * r.bf16_share, r.impl);
    return MN_EXIT_OK;
}

int mn_cmd_bench_step(mn_cli_args *a)
{
    const char *cmd = "bench step";
    mn_mlp_spec spec = mn_cli_mlp(a);
    int batch = (int)a->batch, threads = (int)a->threads;
    mn_train_settings s;
    mn_train_settings_default(&s);
    s.opt = a->opt;
    s.schedule = MN_SCHEDULE_CONSTANT;
    s.polar_method = a->method;
    s.polar_precision = (mn_precision)a->precision;
    s.net_precision = (mn_precision)a->net_precision;
    s.batch = batch;
    s.threads = threads;
    s.serial_atoms = a->serial_atoms;
    mn_module *root;
    mn_bench_step_result r;
    mn_graph_file *g;
    int rc = mn_cli_model_load(cmd, a, &g);
    if (rc != MN_EXIT_OK)
        return rc;
    /* the input and output sizes: the file's d_in and d_out, else Fashion-MNIST's */
    double d_in = (double)spec.d_in, d_out = (double)spec.d_out;
    if (mn_graph_has_param(g, "d_in"))
        mn_graph_param_value(g, "d_in", &d_in);
    if (mn_graph_has_param(g, "d_out"))
        mn_graph_param_value(g, "d_out", &d_out);
    /* width and depth as the model declares them (0 when it has no such parameter) */
    double width = 0, depth = 0;
    if (mn_graph_has_param(g, "width"))
        mn_graph_param_value(g, "width", &width);
    if (mn_graph_has_param(g, "depth"))
        mn_graph_param_value(g, "depth", &depth);
    spec.width = (int64_t)width;
    spec.depth = (int)depth;
    /* a token model (the GPT): (batch, context) token ids in, logits per position out */
    bool tokens = mn_graph_has_param(g, "vocab") && mn_graph_has_param(g, "context");
    double vocab = 0;
    mn_status st = MN_OK;
    if (tokens) {
        mn_graph_param_value(g, "vocab", &vocab);
        st = mn_graph_set(g, "context", (double)a->context);
    } else if (a->npy) {
        mn_graph_destroy(g);
        return mn_cli_usage_error(cmd, "--npy needs a token model (a graph declaring `vocab` "
                                  "and `context`, e.g. --model gpt)");
    }
    if (st == MN_OK)
        st = mn_graph_make(g, &root);
    mn_graph_destroy(g);
    if (st != MN_OK)
        return mn_cli_fail(cmd, st);
    /* --npy keeps a copy of the initial weights to write */
    rc = mn_cli_model_fits(cmd, a, root, tokens && a->npy ? 1 : 0, "the initial weights");
    if (rc != MN_EXIT_OK) {
        mn_module_destroy(root);
        return rc;
    }
    if (a->npy) {
        bool exists;
        int err = 0;
        rc = mn_cli_check_output_dir(cmd, "--npy", a->npy, &exists);
        if (rc == MN_EXIT_OK && !exists && (err = mn_cli_mkdir(a->npy)) != 0)
            rc = mn_cli_error(cmd, "--npy %s: cannot create the directory: %s", a->npy,
                              strerror(err));
        if (rc != MN_EXIT_OK) {
            mn_module_destroy(root);
            return rc;
        }
    }
    if (tokens)
        st = mn_bench_step_tokens(root, &s, (int64_t)a->context, (int64_t)vocab, (int)a->steps,
                                  a->npy, &r);
    else
        st = mn_bench_step(root, &s, (int64_t)d_in, (int64_t)d_out, (int)a->steps, &r);
    if (st != MN_OK)
        return mn_cli_fail(cmd, st);
    double per_s = (tokens ? (double)r.tokens : (double)batch) / r.step.median;
    if (a->json && tokens)
        return mn_cli_json_print(
            cmd, stdout,
            json_pack("{s:s, s:i, s:i, s:i, s:I, s:I, s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, "
                      "s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:i, s:o, s:o, s:o}",
                      "model", a->graph ? a->graph : a->model, "width", (int)spec.width,
                      "depth", spec.depth, "batch", batch, "context", (json_int_t)a->context,
                      "vocab", (json_int_t)vocab, "opt", s.opt, "method",
                      s.polar_method ? s.polar_method : MN_FIT_DEFAULT_POLAR, "precision",
                      mn_precision_name(s.polar_precision), "net_precision",
                      mn_precision_name(s.net_precision), "threads", threads, "ms_per_step",
                      mn_cli_json_real(1e3 * r.step.median), "ms_min",
                      mn_cli_json_real(1e3 * r.step.min), "ms_max",
                      mn_cli_json_real(1e3 * r.step.max), "cpu_ms_per_step",
                      mn_cli_json_real(1e3 * r.cpu.median), "ms_update",
                      mn_cli_json_real(1e3 * r.update.median), "gflop_per_step",
                      mn_cli_json_real(1e-9 * r.flops), "roofline_ms",
                      mn_cli_json_real(1e3 * r.roofline), "tokens_per_s",
                      mn_cli_json_real(per_s), "peak_rss_mb", mn_cli_json_real(r.peak_rss_mb),
                      "atoms", r.atoms, "atoms_side_by_side", r.atoms_side_by_side,
                      "loss_first", mn_cli_json_real(r.loss_first), "loss_last",
                      mn_cli_json_real(r.loss_last), "gflops",
                      mn_cli_json_real(1e-9 * r.flops / r.step.median)));
    if (tokens) {
        printf("step of %s width %d depth %d, %d sequences of %lld tokens, with %s (%s, %s, "
               "network %s), "
               "threads %d: median %.2f ms (min %.2f, max %.2f; CPU %.2f; update %.2f; %.0f tokens/s, "
               "%.2f GFLOP/s), roofline %.2f ms, peak RSS %.1f MB, %d atom%s, %d side by side; "
               "loss %.4f -> %.4f\n",
               a->graph ? a->graph : a->model, (int)spec.width, spec.depth, batch,
               (long long)a->context, s.opt,
               s.polar_method ? s.polar_method : MN_FIT_DEFAULT_POLAR,
               mn_precision_name(s.polar_precision), mn_precision_name(s.net_precision),
               threads, 1e3 * r.step.median, 1e3 * r.step.min, 1e3 * r.step.max,
               1e3 * r.cpu.median, 1e3 * r.update.median,
               per_s, 1e-9 * r.flops / r.step.median, 1e3 * r.roofline, r.peak_rss_mb, r.atoms,
               r.atoms == 1 ? "" : "s", r.atoms_side_by_side, r.loss_first, r.loss_last);
        return MN_EXIT_OK;
    }
    if (a->json)
        return mn_cli_json_print(
            cmd, stdout,
            json_pack("{s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o, "
                      "s:i, s:i, s:o}",
                      "model", a->graph ? a->graph : a->model, "width", (int)spec.width, "depth",
                      spec.depth, "batch", batch, "opt", s.opt, "precision",
                      mn_precision_name(s.polar_precision), "net_precision",
                      mn_precision_name(s.net_precision),
                      "threads", threads, "ms_per_step",
                      mn_cli_json_real(1e3 * r.step.median), "ms_min",
                      mn_cli_json_real(1e3 * r.step.min), "ms_max",
                      mn_cli_json_real(1e3 * r.step.max), "ms_update",
                      mn_cli_json_real(1e3 * r.update.median), "roofline_ms",
                      mn_cli_json_real(1e3 * r.roofline), "peak_rss_mb",
                      mn_cli_json_real(r.peak_rss_mb), "atoms", r.atoms, "atoms_side_by_side",
                      r.atoms_side_by_side, "images_per_s",
                      mn_cli_json_real(batch / r.step.median)));
    char depth_text[32] = ""; /* the cnn has no depth parameter */
    if (spec.depth > 0)
        snprintf(depth_text, sizeof depth_text, " depth %d", spec.depth);
    printf("step of %s width %d%s batch %d with %s (%s, network %s), threads %d: median %.2f ms "
           "(min %.2f, max %.2f; update %.2f; %.0f images/s), roofline %.2f ms, peak RSS %.1f "
           "MB, %d atom%s, %d side by side\n",
           a->graph ? a->graph : a->model, (int)spec.width, depth_text, batch, s.opt,
           mn_precision_name(s.polar_precision), mn_precision_name(s.net_precision), threads,
           1e3 * r.step.median, 1e3 * r.step.min, 1e3 * r.step.max, 1e3 * r.update.median,
           batch / r.step.median,
           1e3 * r.roofline,
           r.peak_rss_mb, r.atoms, r.atoms == 1 ? "" : "s", r.atoms_side_by_side);
    return MN_EXIT_OK;
}
