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
} mn_polar_method;

/* By name: the built-in methods, then those the program registered.
 * Thread-safe. */
MN_API mn_status mn_polar_lookup(const char *name, const mn_polar_method **out);
MN_API size_t mn_polar_count(void);
MN_API const mn_polar_method *mn_polar_at(size_t i);
/* A comma-separated list of the names (valid until the next registration). */
MN_API const char *mn_polar_names(void);
/* Make a polynomial iteration known by its name (it must outlive its use: a
 * static). Refuses a taken or malformed name, no coefficients (only "svd" is
 * exact), non-finite coefficients, default_steps < 1, norm_slack < 1, and a
 * band without 0 < band_lo <= band_hi <= sup. tests/test_polar.c checks the
 * stated band of every method it finds. */
MN_API mn_status mn_polar_register(const mn_polar_method *method);
/* The method spectral norms use when none is chosen. */
MN_API const mn_polar_method *mn_polar_default(void);

/* out = polar factor of G by `method` (steps <= 0: the method's default;
 * threads <= 0: BLIS's default). out and G share shape and dtype; float64
 * input is computed in double. A zero G gives zero. */
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

/* How spectral norms get their polar factor. Zero-initialized means the
 * default method, its default steps, BLIS's thread choice and the form AUTO
 * picks. */
typedef struct mn_dualize_opts {
    const mn_polar_method *method; /* NULL: mn_polar_default() */
    int steps;                     /* <= 0: the method's default */
    int threads;                   /* <= 0: BLIS's choice */
    mn_polar_form form;            /* MN_POLAR_AUTO (0): by flop count */
} mn_dualize_opts;

/* mn_polar with an explicit form (benchmarks, tests). */
MN_API mn_status mn_polar_form_run(const mn_polar_method *method, mn_polar_form form, int steps,
                                   int threads, mn_mat *out, const mn_mat *G);

/* The form AUTO uses for a rows x cols input, and the flops a form performs
 * (AUTO: the one it uses; 0 for the exact SVD). */
MN_API mn_polar_form mn_polar_form_for(const mn_polar_method *method, int steps, int64_t rows,
                                       int64_t cols, mn_dtype dt);
MN_API double mn_polar_flops(const mn_polar_method *method, mn_polar_form form, int steps, int64_t rows,
                             int64_t cols, mn_dtype dt);

/* out = lmo(G) of `norm` (opts may be NULL). out may be G itself. */
MN_API mn_status mn_dualize(const mn_norm *norm, const mn_dualize_opts *opts, mn_mat *out,
                            const mn_mat *G);

#ifdef __cplusplus
}
#endif
#endif
