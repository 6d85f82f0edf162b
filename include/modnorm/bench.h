/* modnorm/bench.h — what `modnorm bench` measures: float32 products through
 * modnorm's BLIS wrapper (their best rate is the roofline every other timing
 * is compared with), bf16 products through the bf16 backend (polar.h's
 * precision bf16: oneDNN, or the fallback), the polar factor (time, flops,
 * the share of them in bf16, error against the exact SVD) and one training
 * step (time, the update's share, matrix-multiply flops).
 *
 * Times are wall-clock seconds (CLOCK_MONOTONIC) of `repeat` runs after one
 * untimed warm-up run; the median of an even count is the upper middle one.
 * Rates are flop/s. The numbers are measurements: they vary from run to run
 * and with the load on the machine; the flop counts and errors do not. */
#ifndef MODNORM_BENCH_H
#define MODNORM_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "modnorm/export.h"
#include "modnorm/module.h"
#include "modnorm/network.h"
#include "modnorm/optim.h"
#include "modnorm/polar.h"
#include "modnorm/status.h"
#include "modnorm/tensor.h"
#include "modnorm/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds of `repeat` timed runs. */
typedef struct mn_bench_times {
    int repeat;
    double median, min, max;
} mn_bench_times;

/* BLIS as modnorm uses it: its version, the kernel set in use ("skx",
 * "haswell", …) and why that set (BLIS's choice, BLIS_ARCH_TYPE, or
 * modnorm's choice of skx on AVX-512 CPUs); and what runs the float32
 * products of mn_mat_gemm (a float32 network's Linear layers): oneDNN
 * ("oneDNN 2.6.3, brg:avx512_core kernels") on CPUs with AVX-512 in builds
 * with it, else "BLIS (oneDNN: why not)". Static strings. */
typedef struct mn_bench_blas {
    const char *version, *arch, *arch_reason, *linear_fp32;
} mn_bench_blas;
MN_API void mn_bench_blas_info(mn_bench_blas *out);

/* ---- products: the roofline ------------------------------------------------ */

/* C = A·B (gemm), the lower triangle of A·Aᵀ (syrk) or of A·B (gemmt), all
 * n x n float32. */
typedef enum mn_bench_op {
    MN_BENCH_GEMM = 0,
    MN_BENCH_SYRK,
    MN_BENCH_GEMMT
} mn_bench_op;

/* "gemm", "syrk", "gemmt"; NULL for a value outside the enum. */
MN_API const char *mn_bench_product_name(mn_bench_op op);
/* The flops of one product: 2n³ for gemm, n³ for syrk and gemmt (one
 * triangle); NAN for a value outside the enum or n < 1. */
MN_API double mn_bench_product_flops(mn_bench_op op, int64_t n);
/* Time `repeat` (>= 1) products of Gaussian n x n matrices (n >= 1) on
 * `threads` BLIS threads (<= 0: BLIS's choice). MN_ERR_ARG for a bad
 * argument, MN_ERR_NOMEM. */
MN_API mn_status mn_bench_product(mn_bench_op op, int64_t n, int threads, int repeat,
                                  mn_bench_times *out);

/* The same with the products' precision: MN_PRECISION_FP32 is
 * mn_bench_product; MN_PRECISION_BF16 rounds A and B to bf16 once and times
 * bf16 x bf16 -> float32 products through the bf16 backend (gemm, and syrk,
 * which it runs as row blocks: more than the n³ flops counted); gemmt has
 * no bf16 form (MN_ERR_UNSUPPORTED). mn_polar_bf16_impl() names the
 * implementation. */
MN_API mn_status mn_bench_product_precision(mn_bench_op op, mn_precision precision, int64_t n,
                                            int threads, int repeat, mn_bench_times *out);

#define MN_BENCH_ROOFLINE_N 1024
#define MN_BENCH_ROOFLINE_REPEAT 10
/* The roofline rate: 2n³ / the fastest of MN_BENCH_ROOFLINE_REPEAT sgemms
 * at n = MN_BENCH_ROOFLINE_N (the best this machine gives, not a typical
 * rate), in flop/s. Where oneDNN runs a float32 network's Linear products
 * (mn_bench_blas.linear_fp32), the fastest of BLIS's and oneDNN's. */
MN_API mn_status mn_bench_gemm_rate(int threads, double *flops_per_second);
/* The same for bf16 gemms (the roofline of bf16 flops). */
MN_API mn_status mn_bench_bf16_rate(int threads, double *flops_per_second);

/* ---- the polar factor ------------------------------------------------------- */

/* ‖X − UVᵀ‖_F / ‖UVᵀ‖_F, UVᵀ the exact polar factor of G (SVD, "svd") in
 * G's dtype; X and G of one shape (X's dtype may differ). 0 when G is 0.
 * MN_ERR_SHAPE when the shapes differ; MN_ERR_ARG, naming it, for a NULL
 * argument or data, or a dtype outside the enum. */
MN_API mn_status mn_bench_polar_error(const mn_mat *X, const mn_mat *G, int threads,
                                      double *err);

typedef struct mn_bench_dualize_result {
    mn_bench_times times;
    mn_polar_form form;    /* the form that ran: AUTO resolved (mn_polar_plan_for) */
    const char *form_name; /* "direct", "gram", or "svd" for the exact method */
    double flops;          /* of that form as it runs (mn_polar_plan_for) */
    double gemm_rate;      /* mn_bench_gemm_rate, flop/s */
    double roofline;       /* seconds: float32 flops / gemm_rate + bf16 flops / bf16_rate */
    double polar_err;      /* mn_bench_polar_error of the result; NAN when not asked */
    mn_precision precision; /* what ran (the exact method: fp32) */
    double flops_bf16;     /* of flops, those with bf16 operands */
    double bf16_share;     /* flops_bf16 / flops (0 for the exact method) */
    double bf16_rate;      /* mn_bench_bf16_rate when flops_bf16 > 0, else NAN */
    const char *impl;      /* the library running the products (mn_polar_plan) */
} mn_bench_dualize_result;

/* Time the polar factor by `method` (its default steps) in `form` of a
 * Gaussian rows x cols float32 matrix (seed 7) on `threads` BLIS threads,
 * `repeat` (>= 1) times; then, when `error`, its polar error (outside the
 * timing; the SVD of a large matrix takes minutes), and the roofline rate. */
MN_API mn_status mn_bench_dualize(const mn_polar_method *method, mn_polar_form form,
                                  int64_t rows, int64_t cols, int threads, int repeat,
                                  bool error, mn_bench_dualize_result *out);
/* The same with every option of `opts` (method, steps, threads, form,
 * precision; NULL: the defaults): mn_polar_run timed. */
MN_API mn_status mn_bench_dualize_opts(const mn_dualize_opts *opts, int64_t rows, int64_t cols,
                                       int repeat, bool error, mn_bench_dualize_result *out);
/* The memory mn_bench_dualize_opts takes for these arguments (bytes),
 * allocating nothing: G and the result (float32), the polar iteration's
 * scratch (mn_polar_plan.workspace_bytes) and, when `error`, the exact
 * factor (float32) and the SVD's float64 copies. A lower bound (LAPACK's
 * workspace and the rate measurements' small matrices are not counted), for
 * refusing a shape that cannot fit before anything is allocated. Errors as
 * mn_polar_plan_for; MN_ERR_ARG for a NULL bytes. */
MN_API mn_status mn_bench_dualize_memory(const mn_dualize_opts *opts, int64_t rows,
                                         int64_t cols, bool error, double *bytes);

/* ---- a training step -------------------------------------------------------------- */

/* The matrix-multiply flops of one training step of `net` at batch `batch`
 * under solver configuration `cfg`: per atom of weight shape d_out x d_in,
 * forward and backward 3 products of 2·batch·P·d_out·d_in (2 for atom 0, the
 * reader of the data, whose input gradient training skips; none for an
 * Embed, a gather and a scatter-add), P the atom's
 * output positions per example in the last forward, whatever its batch
 * (H_out·W_out for a Conv2D; T for a Linear on (B, T, d); 1 for a Linear on
 * (B, d), and before any forward), plus for a
 * steepest-descent solver whose norm for the atom (cfg->norm, else the
 * atom's) is a scaled polar factor, the polar iteration as mn_polar_run would
 * run it under cfg->polar (k² of d_out x d_in/k² for a per-tap taps-K norm;
 * mn_polar_plan_for), plus for each Scores and ApplyScores
 * bond its per-head products, forward and backward, with h, T and dh of
 * the last forward (3 of 2·batch·h·T·T·dh each, the whole T x T blocks the
 * kernels compute; none before any forward). *bf16 (when not NULL)
 * receives the part with bf16 operands: the polar iteration's under
 * cfg->polar.precision bf16, and every Linear's forward and backward products
 * when the network's precision is bf16 (mn_network_set_precision).
 * Element-wise work is left out: this is
 * the step's roofline at the sgemm (and bf16 gemm) rate. NAN for a NULL
 * net or cfg. */
MN_API double mn_bench_step_flops(const mn_network *net, const mn_solver_config *cfg,
                                  int64_t batch);
MN_API double mn_bench_step_flops_bf16(const mn_network *net, const mn_solver_config *cfg,
                                       int64_t batch, double *bf16);

typedef struct mn_bench_step_result {
    mn_bench_times step;    /* forward, loss, backward and the solver step */
    mn_bench_times update;  /* the solver step alone */
    mn_bench_times cpu;     /* the whole step's process CPU time (all threads) */
    double flops;           /* mn_bench_step_flops */
    double flops_bf16;      /* of those, with bf16 operands (s->polar_precision bf16: the
                             * polar iteration's; s->net_precision bf16: Linear's forward
                             * and backward products) */
    double gemm_rate;       /* mn_bench_gemm_rate, flop/s */
    double bf16_rate;       /* mn_bench_bf16_rate when flops_bf16 > 0, else NAN */
    double roofline;        /* seconds: float32 flops / gemm_rate + bf16 flops / bf16_rate */
    int atoms;              /* the network's atoms */
    int atoms_side_by_side; /* mn_solver_atoms_side_by_side */
    double peak_rss_mb;     /* the process's peak resident memory after the steps (MiB) */
    int64_t tokens;         /* positions per step (batch x context) for a token bench, else 0 */
    double loss_first;      /* the warm-up step's loss (at the initial weights) */
    double loss_last;       /* the last timed step's loss (before its update) */
} mn_bench_step_result;

/* Time `steps` (>= 1) training steps of the network `root` (taken, also on
 * failure) built with settings `s` (mn_train_build, total_steps = steps + 1;
 * a benchmark normally sets a constant schedule) on one fixed batch of
 * s->batch rows: Gaussian inputs of `dim` features and labels uniform in
 * [0, classes) (one RNG seeded 5), after one warm-up step; then the roofline
 * rate on s->threads threads. */
MN_API mn_status mn_bench_step(mn_module *root, const mn_train_settings *s, int64_t dim,
                               int64_t classes, int steps, mn_bench_step_result *out);

/* As mn_bench_step for a sequence model that reads token ids and writes
 * logits per position (examples/gpt.mn): one fixed batch of s->batch
 * sequences of `context` token ids uniform in [0, vocab) (floats, as Embed
 * reads them) and a label per position uniform in [0, vocab) (one RNG seeded
 * 5); the loss is the mean over the batch·context positions. With npy_dir
 * (an existing directory; NULL: none) it writes there, after the steps,
 * w0.npy (the initial weights, each atom as its norm sees it, (d_out, d_in)
 * row-major, in atom order, one 1-D float32 array), tokens.npy (batch,
 * context) float32 ids, labels.npy (1-D, batch·context, float32) and
 * losses.npy (1-D, steps + 1, float64: losses[0] is loss_first, the warm-up
 * step's, and losses[steps] is loss_last). Errors: MN_ERR_ARG (NULL settings
 * or out, context or vocab < 1, vocab > 2^24, steps < 1, batch·context
 * overflowing), the network's (e.g. MN_ERR_SHAPE: a context longer than
 * RoPE's; MN_ERR_ARG: ids beyond its Embed's vocabulary), MN_ERR_IO (npy_dir
 * missing or not a directory; MN_ERR_ARG when its files' paths would exceed
 * 4095 bytes). */
MN_API mn_status mn_bench_step_tokens(mn_module *root, const mn_train_settings *s,
                                      int64_t context, int64_t vocab, int steps,
                                      const char *npy_dir, mn_bench_step_result *out);

#ifdef __cplusplus
}
#endif
#endif
