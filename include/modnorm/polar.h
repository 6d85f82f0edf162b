/* modnorm/polar.h — polar-factor methods and the dualize entry point.
 *
 * The polar factor of G = U Σ Vᵀ is U Vᵀ (on the range of G: singular
 * values that are zero map to zero). "svd" computes it exactly in double
 * precision through LAPACK. The other methods run an odd polynomial
 * iteration from X₀ = G / (s·‖G‖_F):
 *     X ← a·X + b·(X Xᵀ) X + c·(X Xᵀ)² X
 * with one (a, b, c) per step, iterating on the smaller Gram side. Any
 * finite G works, subnormal or near the dtype's largest value: X₀ is formed
 * through an exact power-of-two scaling wherever ‖G‖²_F or 1/‖G‖_F would
 * leave the dtype's normal range.
 * A new schedule is one entry of the table in src/duality/polar_methods.c, or
 * a method a program registers with mn_polar_register. */
#ifndef MODNORM_POLAR_H
#define MODNORM_POLAR_H

#include "modnorm/export.h"
#include "modnorm/norm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most steps an iteration runs (explicit or a method's default_steps):
 * far above any real use (the built-in methods take 5 to 20). More is
 * refused with MN_ERR_ARG, not run for hours. */
#define MN_POLAR_MAX_STEPS 1000

typedef struct mn_polar_method {
    const char *name;            /* "svd", "cubic", "ns5", "you6", "polar-express" */
    const char *summary;
    int n_coeffs;                /* 0 for the exact method */
    const double (*coeffs)[3];   /* (a, b, c) per step; the last repeats past the end */
    int default_steps;
    double norm_slack;           /* X₀ = G / (norm_slack·‖G‖_F) */
    /* Measured singular-value band of the output at default_steps for inputs
     * whose singular values satisfy σ/‖G‖_F ≥ band_min_ratio. */
    double band_lo, band_hi, band_min_ratio;
    /* The largest output singular value for any input (σ/‖G‖_F anywhere in
     * (0, 1]): smaller singular values can overshoot band_hi. */
    double sup;
    /* The same with precision bf16: measured on the test matrices of
     * tests/test_polar_bf16.c (2 x 2 to 160 x 48; small matrices reach the
     * edges), not a property of the map. 0 when not measured (a registered
     * method may leave them so). */
    double bf16_lo, bf16_hi, bf16_sup;
} mn_polar_method;

/* By name: the built-in methods, then those the program registered.
 * MN_ERR_ARG for a NULL name or an unknown one (the message lists the known
 * names). Thread-safe. */
MN_API mn_status mn_polar_lookup(const char *name, const mn_polar_method **out);
MN_API size_t mn_polar_count(void);
MN_API const mn_polar_method *mn_polar_at(size_t i);
/* A comma-separated list of the names (valid until the next registration). */
MN_API const char *mn_polar_names(void);
/* Make a polynomial iteration known by its name (it must outlive its use: a
 * static). Refuses a taken or malformed name, no coefficients (only "svd" is
 * exact), non-finite coefficients, default_steps outside [1,
 * MN_POLAR_MAX_STEPS], norm_slack < 1, and a band without
 * 0 < band_lo <= band_hi <= sup. tests/test_polar.c checks the
 * stated band of every method it finds. */
MN_API mn_status mn_polar_register(const mn_polar_method *method);
/* The method spectral norms use when none is chosen. */
MN_API const mn_polar_method *mn_polar_default(void);

/* out = polar factor of G by `method` (steps 0: the method's default;
 * negative or over MN_POLAR_MAX_STEPS: MN_ERR_ARG; threads <= 0: BLIS's
 * default). out and G share shape and dtype; float64
 * input is computed in double. A zero G gives zero. MN_ERR_ARG for a NULL
 * method, matrix or data, and a dtype that is neither MN_F32 nor MN_F64
 * (here and in every function below that takes matrices or a dtype). */
MN_API mn_status mn_polar(const mn_polar_method *method, int steps, int threads,
                          mn_mat *out, const mn_mat *G);

/* How the iteration is evaluated: on the k x N iterate (direct), or on k x k
 * polynomials in X₀X₀ᵀ applied once at the end (Gram; restarted from an
 * explicit iterate whenever rounding would otherwise grow past the direct
 * form's, so both agree to float32 rounding). AUTO picks the Gram form when it
 * does at most 0.9 of the direct form's flops (0.8 for k < 384, where its
 * k x k products are slower): for ns5 in float32, N > 1.27k (N > 1.67k), e.g.
 * 784 x 1024 and 1024 x 4096; never square. */
typedef enum mn_polar_form { MN_POLAR_AUTO = 0, MN_POLAR_DIRECT, MN_POLAR_GRAM } mn_polar_form;

/* The arithmetic of the iteration's matrix products.
 *
 * MN_PRECISION_FP32: the input's own dtype (float32 through BLIS's sgemm
 * family; float64 input runs in double).
 * MN_PRECISION_BF16: float32 input only (float64 input is refused with
 * MN_ERR_UNSUPPORTED: it runs in double under FP32). Every matrix product
 * takes bfloat16 operands (8-bit mantissas, rounded to nearest even) and
 * accumulates in float32, through oneDNN on CPUs with AVX512-BF16 or AMX-BF16
 * (mn_polar_bf16_impl() says which; without them, a slower fallback with the
 * same math). The iterate X and the linear term a·X stay in float32:
 *     X ← a·X + bf16(b·A + c·A²)·bf16(X),   A = bf16(X)·bf16(X)ᵀ,
 * so the small singular values that the linear term lifts (the noise of a
 * gradient) are carried exactly: on rank-3 + 1e-2 noise inputs the result is
 * 1e-3 to 3.5e-3 (Frobenius, relative) from float32's, where rounding X
 * itself each step, as the PyTorch Muon recipe does, ends 0.4-0.6 away
 * (tests/test_polar_bf16.c, scripts/polar_bf16_accuracy.py). X₀ is rounded
 * after an exact power-of-two scaling, so subnormal and huge inputs keep
 * working (the bf16 kernels treat bf16 subnormals as zero). AUTO takes the
 * direct form: the Gram form rounds X₀ once and multiplies it by
 * polynomials that amplify that rounding on the small singular values,
 * ending 0.25-0.3 from float32 on those inputs; it runs only when forced.
 * Output singular-value bands in bf16: README ("Mixed precision"). The
 * exact method ("svd") ignores precision.
 * (mn_precision and mn_precision_name are in tensor.h: the network's products
 * take the same choice, mn_network_set_precision.) */

/* How spectral norms get their polar factor. Zero-initialized means the
 * default method, its default steps, BLIS's thread choice, the form AUTO
 * picks and the input's own precision. */
typedef struct mn_dualize_opts {
    const mn_polar_method *method; /* NULL: mn_polar_default() */
    int steps;                     /* 0: the method's default; at most MN_POLAR_MAX_STEPS */
    int threads;                   /* <= 0: BLIS's choice */
    mn_polar_form form;            /* MN_POLAR_AUTO (0): by flop count (fp32), direct (bf16) */
    mn_precision precision;        /* MN_PRECISION_FP32 (0): the input's dtype */
} mn_dualize_opts;

/* mn_polar with every option of `opts` (NULL: the zero-initialized defaults).
 * Errors as mn_polar, and MN_ERR_UNSUPPORTED for bf16 on float64 input,
 * MN_ERR_ARG for a precision or form outside its enum. */
MN_API mn_status mn_polar_run(const mn_dualize_opts *opts, mn_mat *out, const mn_mat *G);

/* What mn_polar_run does for a rows x cols input of dtype dt: the form it
 * runs, the flops of its matrix products as the backend performs them (a
 * bf16 Gram matrix A·Aᵀ is done in row blocks: ~1.25-1.5x the k²N of
 * float32's syrk) and how many of them take bf16 operands, and the library
 * that runs them (static strings). Zero flops for the exact method. */
typedef struct mn_polar_plan {
    mn_polar_form form;     /* MN_POLAR_DIRECT or MN_POLAR_GRAM */
    mn_precision precision;
    double flops;           /* all matrix products */
    double flops_bf16;      /* those with bf16 operands */
    const char *impl;       /* "BLIS 0.9.0, skx kernels", mn_polar_bf16_impl(), "LAPACK dgesdd" */
    double workspace_bytes; /* the scratch memory a run takes besides G and out: the
                               iteration's buffer (kept for the thread's next run), or
                               the exact method's float64 copies (LAPACK's own
                               workspace not counted) */
} mn_polar_plan;

MN_API mn_status mn_polar_plan_for(const mn_dualize_opts *opts, int64_t rows, int64_t cols,
                                   mn_dtype dt, mn_polar_plan *out);

/* The implementation of bf16 products: "oneDNN 2.6.3, brg:avx512_core_bf16
 * kernels" (or amx), or "fallback: ..." with the reason (built without
 * oneDNN, no bf16 instructions on this CPU). */
MN_API const char *mn_polar_bf16_impl(void);

/* mn_polar with an explicit form (benchmarks, tests), in the input's precision. */
MN_API mn_status mn_polar_form_run(const mn_polar_method *method, mn_polar_form form, int steps,
                                   int threads, mn_mat *out, const mn_mat *G);

/* The form AUTO uses for a rows x cols input in the input's precision, and
 * the flops a form performs there, counting syrk as k²N (AUTO: the one it
 * uses; 0 for the exact SVD). mn_polar_plan_for covers bf16. */
MN_API mn_polar_form mn_polar_form_for(const mn_polar_method *method, int steps, int64_t rows,
                                       int64_t cols, mn_dtype dt);
MN_API double mn_polar_flops(const mn_polar_method *method, mn_polar_form form, int steps, int64_t rows,
                             int64_t cols, mn_dtype dt);

/* The polar factors of n matrices of one shape and dtype as one batch:
 * out[i] = polar(G[i]) (out[i] may be G[i]), each exactly the mn_polar_run
 * of G[i] with these options. One call splits the n matrices over
 * opts->threads (one BLIS thread each, every thread its own workspace); with
 * fewer matrices than threads they run in turn on all threads. Errors as
 * mn_polar_run (the first failing matrix's, with its index), and
 * MN_ERR_SHAPE when the shapes differ. (A Conv2D's per-tap lmo.) */
MN_API mn_status mn_polar_batch_run(const mn_dualize_opts *opts, int64_t n, mn_mat *out,
                                    const mn_mat *G);

/* Polar factors this process has computed for mn_dualize so far (every
 * spectral-norm lmo is one; thread-safe): the data-parallel tests count
 * that each matrix is orthogonalized exactly once per step. */
MN_API uint64_t mn_polar_calls(void);

/* out = lmo(G) of `norm` (opts may be NULL). out may be G itself. Options
 * outside their ranges (steps, form, precision) are refused as by
 * mn_polar_run, also for a norm whose lmo needs no polar factor. */
MN_API mn_status mn_dualize(const mn_norm *norm, const mn_dualize_opts *opts, mn_mat *out,
                            const mn_mat *G);

#ifdef __cplusplus
}
#endif
#endif
