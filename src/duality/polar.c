/* Polar factor by odd polynomial iteration, and the dualize entry point.
 *
 * For G (m x n) the iteration runs on the wide orientation X (k x N, k =
 * min(m, n)): a tall G is read through its transpose view, so the Gram
 * matrix A = X Xᵀ is the small k x k one. One step:
 *     A = X Xᵀ               (syrk: half the flops of a gemm)
 *     B = a·I + b·A + c·A²   (gemmt: A² is symmetric; lower half only)
 *     X ← B·X                (symm: reads B's lower half, gemm's flops)
 * or, for wide matrices where it saves flops, the same polynomial on k x k
 * matrices (the Gram form, below).                                        */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "core/blas.h"
#include "core/check.h"
#include "core/error.h"
#include "core/scratch.h"
#include "core/parallel.h"
#include "core/typed.h"
#include "duality/polar_internal.h"
#include "modnorm/polar.h"
#include "norms/spectral.h"
#include "norms/vector.h"

typedef struct {
    mn_mat X, Y; /* k x N scratch: iterates (X₀ itself is the caller's G, or a scaled copy in X) */
    mn_mat A, B; /* k x k: Gram matrix and polynomial */
    mn_mat Q, T; /* k x k: Gram form only (the accumulated polynomial, scratch) */
} workspace;

/* What workspace_get takes, in double (a size past SIZE_MAX still compares). */
static double workspace_bytes(mn_dtype dt, int64_t k, int64_t N)
{
    return (2.0 * (double)k * (double)N + 4.0 * (double)k * (double)k) * (double)mn_dtype_size(dt);
}

static mn_status workspace_get(workspace *w, mn_dtype dt, int64_t k, int64_t N)
{
    size_t es = mn_dtype_size(dt), kn = (size_t)(k * N), kk = (size_t)(k * k);
    size_t need = (size_t)workspace_bytes(dt, k, N); /* X, Y (k x N); A, B, Q, T (k x k) */
    void *buf;
    MN_TRY(mn_scratch_get(MN_SCRATCH_POLAR, need, "polar", &buf));
    char *p = buf;
    w->X = mn_mat_view(dt, p, k, N);
    w->Y = mn_mat_view(dt, p + kn * es, k, N);
    w->A = mn_mat_view(dt, p + 2 * kn * es, k, k);
    w->B = mn_mat_view(dt, p + (2 * kn + kk) * es, k, k);
    w->Q = mn_mat_view(dt, p + (2 * kn + 2 * kk) * es, k, k);
    w->T = mn_mat_view(dt, p + (2 * kn + 3 * kk) * es, k, k);
    return MN_OK;
}

/* Copy the lower triangle of a contiguous square matrix onto its upper one,
 * in tiles so that the column-wise reads stay in cache. */
void mn_polar_symmetrize_lower(mn_mat *C, int threads)
{
    enum { TILE = 32 };
    MN_TYPED_ROWS(C, T, {
        T *c = C->data;
        int64_t n = C->rows;
        MN_PARALLEL_FOR_BLOCKS(mn_elementwise_threads(threads, n * n))
        for (int64_t ib = 0; ib < n; ib += TILE)
            for (int64_t jb = ib; jb < n; jb += TILE) {
                int64_t ie = ib + TILE < n ? ib + TILE : n, je = jb + TILE < n ? jb + TILE : n;
                for (int64_t i = ib; i < ie; i++)
                    for (int64_t j = jb > i + 1 ? jb : i + 1; j < je; j++)
                        c[i * n + j] = c[j * n + i];
            }
    });
}

/* The lower triangle of P = a·I + b·A + c·A² (A symmetric and whole: gemmt
 * reads it so). */
mn_status mn_polar_polynomial_lower(const mn_mat *A, mn_mat *B, const double *abc, int threads)
{
    if (abc[2] != 0.0)
        MN_TRY(mn_blas_gemmt_lower(abc[2], A, A, 0.0, B, threads));
    else
        mn_mat_fill(B, 0.0);
    /* B's lower triangle += b·A's, and a on the diagonal: one pass. */
    MN_TYPED_ROWS(B, T, {
        T *bm = B->data;
        const T *am = A->data, bb = (T)abc[1];
        int64_t n = B->rows;
        MN_PARALLEL_FOR_BLOCKS(mn_elementwise_threads(threads, n * n))
        for (int64_t i = 0; i < n; i++) {
            for (int64_t j = 0; j <= i; j++)
                bm[i * n + j] += bb * am[i * n + j];
            bm[i * n + i] += (T)abc[0];
        }
    });
    return MN_OK;
}

const double *mn_polar_step_coeffs(const mn_polar_method *m, int s)
{
    return m->coeffs[s < m->n_coeffs ? s : m->n_coeffs - 1];
}

/* Both forms start from X₀ = scale·x0, with A = X₀X₀ᵀ already in w->A
 * (whole): x0 is the caller's G itself (or a scaled copy), so the first
 * product that reads X₀ reads G and applies the scale as its alpha. `out`
 * may be x0 itself (in place): a product that would read and write it goes
 * through a workspace buffer instead. */

/* out = scale·src (out may be src itself). */
static mn_status write_scaled(const mn_mat *src, double scale, mn_mat *out)
{
    if (out->data != src->data)
        MN_TRY(mn_mat_copy(out, src));
    mn_mat_scale(out, scale);
    return MN_OK;
}

/* Direct form: X ← (a·I + b·A + c·A²)·X with A = X Xᵀ; the last step writes
 * into `out`. Per step k²N (syrk) + k³ (gemmt) + 2k²N (symm) flops. */
static mn_status iterate_direct(const mn_polar_method *method, int steps, int threads,
                                workspace *w, const mn_mat *x0, double scale, mn_mat *out)
{
    if (steps == 0)
        return write_scaled(x0, scale, out);
    mn_mat X = *x0, spare = w->Y, other = w->X;
    for (int s = 0; s < steps; s++) {
        const double *abc = mn_polar_step_coeffs(method, s);
        if (s > 0) {
            MN_TRY(mn_blas_syrk_lower(1.0, &X, 0.0, &w->A, threads));
            mn_polar_symmetrize_lower(&w->A, threads);
        }
        MN_TRY(mn_polar_polynomial_lower(&w->A, &w->B, abc, threads));
        bool last = s == steps - 1, into_out = last && out->data != X.data;
        mn_mat *dst = into_out ? out : &spare;
        /* reads B's lower half */
        MN_TRY(mn_blas_symm_lower(s == 0 ? scale : 1.0, &w->B, &X, 0.0, dst, threads));
        if (last && !into_out)
            return mn_mat_copy(out, dst);
        /* The buffer X leaves is free unless it is x0 (the caller's G). */
        mn_mat freed = X.data == x0->data ? other : X;
        X = spare;
        spare = freed;
    }
    return MN_OK;
}

/* Gram form. Every iterate is X = Q·X₀ with Q a polynomial in S = X₀X₀ᵀ, and
 * so is A = X Xᵀ = Q²S: with P = a·I + b·A + c·A², one step is
 *     Q ← P·Q,   A ← P·A·P,
 * k x k products of commuting symmetric matrices (gemmt, k³ each), and
 * out = Q·X₀ at the end. In exact arithmetic this is the direct form.
 *
 * In floating point the rounding of A (≈ ε‖A‖) sits on its small
 * eigenvalues, which the recursion multiplies by a² per step: after ns5's
 * five steps the float32 result is up to 5.8e-4 (Frobenius) and 1.3e-3 (of
 * the largest entry) off the direct form on gradient-like 1024 x 4096
 * inputs, growing with k (1.1e-3 Frobenius at 4096 x 16384). So the Gram
 * form restarts: once the product of a² since the last restart would pass
 * RESTART_GAIN/ε it forms X = Q·X₀ explicitly and recomputes A = X Xᵀ from
 * it, which clears the noise. ns5 then restarts once (after three steps) and
 * stays within the two forms' float32 noise of each other (≤ 3.4e-4
 * Frobenius up to 4096 x 16384; tests/test_polar.c,
 * scripts/polar_gram_accuracy.py, scripts/gram_restart_tradeoff.py). */
#define RESTART_GAIN 6e-4

mn_gram_schedule mn_gram_schedule_start(mn_dtype dt)
{
    return (mn_gram_schedule){1.0, RESTART_GAIN / (dt == MN_F64 ? 0x1p-52 : 0x1p-23)};
}

bool mn_gram_schedule_step(mn_gram_schedule *g, const double *abc)
{
    double a2 = abc[0] * abc[0];
    bool restart = g->gain > 1.0 && g->gain * a2 > g->limit;
    g->gain = (restart ? 1.0 : g->gain) * a2;
    return restart;
}

/* C = L·R (both symmetric, commuting: the product is symmetric), full square. */
mn_status mn_polar_symmetric_product(const mn_mat *L, const mn_mat *R, mn_mat *C, int threads)
{
    MN_TRY(mn_blas_gemmt_lower(1.0, L, R, 0.0, C, threads));
    mn_polar_symmetrize_lower(C, threads);
    return MN_OK;
}

static void swap_mats(mn_mat *x, mn_mat *y)
{
    mn_mat t = *x;
    *x = *y;
    *y = t;
}

static mn_status iterate_gram(const mn_polar_method *method, int steps, int threads, workspace *w,
                              const mn_mat *x0, double scale, mn_mat *out)
{
    if (steps == 0)
        return write_scaled(x0, scale, out);
    mn_gram_schedule sched = mn_gram_schedule_start(x0->dtype), ahead = sched;
    bool q_is_identity = true;
    mn_mat X = *x0; /* X₀ = scale·X */
    mn_gram_schedule_step(&ahead, mn_polar_step_coeffs(method, 0));
    for (int s = 0; s < steps; s++) {
        const double *abc = mn_polar_step_coeffs(method, s);
        if (mn_gram_schedule_step(&sched, abc)) { /* X₀ ← Q·X₀, A ← X₀X₀ᵀ, Q ← I */
            mn_mat *dst = X.data == w->Y.data ? &w->X : &w->Y;
            MN_TRY(mn_blas_gemm(scale, &w->Q, &X, 0.0, dst, threads));
            X = *dst;
            scale = 1.0;
            MN_TRY(mn_blas_syrk_lower(1.0, &X, 0.0, &w->A, threads));
            mn_polar_symmetrize_lower(&w->A, threads);
            q_is_identity = true;
        }
        bool next_restarts = s + 1 < steps && mn_gram_schedule_step(&ahead, mn_polar_step_coeffs(method, s + 1));
        /* B = P = a·I + b·A + c·A², whole: gemmt reads it so. (A is whole:
         * symmetrized after syrk, or a symmetric_product.) */
        MN_TRY(mn_polar_polynomial_lower(&w->A, &w->B, abc, threads));
        mn_polar_symmetrize_lower(&w->B, threads);
        if (q_is_identity) {
            swap_mats(&w->Q, &w->B);
            q_is_identity = false;
            if (s + 1 < steps && !next_restarts) { /* A ← P·A·P, with P now in Q */
                MN_TRY(mn_polar_symmetric_product(&w->Q, &w->A, &w->T, threads));
                MN_TRY(mn_polar_symmetric_product(&w->Q, &w->T, &w->A, threads));
            }
            continue;
        }
        MN_TRY(mn_polar_symmetric_product(&w->B, &w->Q, &w->T, threads)); /* Q ← P·Q */
        swap_mats(&w->Q, &w->T);
        if (s + 1 < steps && !next_restarts) {
            MN_TRY(mn_polar_symmetric_product(&w->B, &w->A, &w->T, threads));
            MN_TRY(mn_polar_symmetric_product(&w->B, &w->T, &w->A, threads));
        }
    }
    if (out->data != X.data)
        return mn_blas_gemm(scale, &w->Q, &X, 0.0, out, threads);
    /* In place with no restart: X is still G, and the workspace is free. */
    MN_TRY(mn_blas_gemm(scale, &w->Q, &X, 0.0, &w->Y, threads));
    return mn_mat_copy(out, &w->Y);
}

/* Flops of each form on the wide k x N orientation, following the code above. */
static double direct_flops(const mn_polar_method *m, int steps, double k, double N)
{
    double total = 0;
    for (int s = 0; s < steps; s++)
        total += 3 * k * k * N + (mn_polar_step_coeffs(m, s)[2] != 0 ? k * k * k : 0);
    return total;
}

void mn_polar_gram_split(const mn_polar_method *m, int steps, double k, mn_dtype dt, double *kk,
                         int *restarts)
{
    *kk = 0;
    *restarts = 0;
    mn_gram_schedule sched = mn_gram_schedule_start(dt), ahead = sched;
    mn_gram_schedule_step(&ahead, mn_polar_step_coeffs(m, 0));
    bool q_is_identity = true;
    for (int s = 0; s < steps; s++) {
        const double *abc = mn_polar_step_coeffs(m, s);
        if (mn_gram_schedule_step(&sched, abc)) {
            (*restarts)++;
            q_is_identity = true;
        }
        bool next_restarts = s + 1 < steps && mn_gram_schedule_step(&ahead, mn_polar_step_coeffs(m, s + 1));
        *kk += (abc[2] != 0 ? k * k * k : 0) + (q_is_identity ? 0 : k * k * k) +
               (s + 1 < steps && !next_restarts ? 2 * k * k * k : 0);
        q_is_identity = false;
    }
}

static double gram_flops(const mn_polar_method *m, int steps, double k, double N, mn_dtype dt)
{
    if (steps == 0)
        return 0;
    double kk;
    int restarts;
    mn_polar_gram_split(m, steps, k, dt, &kk, &restarts);
    /* S and the final Q·X₀; per restart Q·X₀ and X₀X₀ᵀ */
    return 3 * k * k * N + restarts * 3 * k * k * N + kk;
}

/* AUTO takes the Gram form when it does at most this share of the direct
 * form's flops: its k x k gemmts and symmetrizations run a little slower
 * than the direct form's large products, the more so when k is small.
 * `modnorm bench dualize --method ns5 --form direct|gram` (ns5, float32,
 * where the Gram form does 0.84-0.89 of the flops): Gram 4-20% slower at
 * 128 x 168 and 200 x 256, 2-3% faster at 400 x 520, 2-9% at 784 x 1024,
 * 6-7% at 1024 x 1536 and 11% at 2048 x 2688. */
#define GRAM_MAX_SHARE 0.9
#define GRAM_MAX_SHARE_SMALL_K 0.8 /* below GRAM_LARGE_K */
#define GRAM_LARGE_K 384

static void wide_shape(int64_t rows, int64_t cols, double *k, double *N)
{
    *k = (double)(rows < cols ? rows : cols);
    *N = (double)(rows < cols ? cols : rows);
}

mn_polar_form mn_polar_form_for(const mn_polar_method *method, int steps, int64_t rows,
                                int64_t cols, mn_dtype dt)
{
    if (!method || method->n_coeffs == 0)
        return MN_POLAR_DIRECT;
    int n = steps > 0 ? steps : method->default_steps;
    double k, N;
    wide_shape(rows, cols, &k, &N);
    double share = k >= GRAM_LARGE_K ? GRAM_MAX_SHARE : GRAM_MAX_SHARE_SMALL_K;
    return gram_flops(method, n, k, N, dt) < share * direct_flops(method, n, k, N)
               ? MN_POLAR_GRAM
               : MN_POLAR_DIRECT;
}

double mn_polar_flops(const mn_polar_method *method, mn_polar_form form, int steps, int64_t rows,
                      int64_t cols, mn_dtype dt)
{
    if (!method || method->n_coeffs == 0)
        return 0;
    int n = steps > 0 ? steps : method->default_steps;
    if (form == MN_POLAR_AUTO)
        form = mn_polar_form_for(method, n, rows, cols, dt);
    double k, N;
    wide_shape(rows, cols, &k, &N);
    return form == MN_POLAR_GRAM ? gram_flops(method, n, k, N, dt) : direct_flops(method, n, k, N);
}

mn_status mn_polar(const mn_polar_method *method, int steps, int threads, mn_mat *out,
                   const mn_mat *G)
{
    return mn_polar_form_run(method, MN_POLAR_AUTO, steps, threads, out, G);
}

const char *mn_polar_bf16_impl(void) { return mn_bf16_impl(); }

static char blis_name[128];

static void name_blis(void)
{
    snprintf(blis_name, sizeof blis_name, "BLIS %s, %s kernels", mn_blas_version(),
             mn_blas_arch());
}

static const char *blis_impl(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, name_blis);
    return blis_name;
}

/* A dtype outside the enum would be read as float64. */
static mn_status check_mats(const mn_mat *out, const mn_mat *G)
{
    MN_TRY(mn_check_mat("mn_polar", "G", G));
    return mn_check_mat("mn_polar", "out", out);
}

/* No real use comes near the bound; without one, INT_MAX steps ran until killed. */
static mn_status check_steps(int steps)
{
    if (steps < 0 || steps > MN_POLAR_MAX_STEPS)
        return mn_fail(MN_ERR_ARG, "mn_polar: steps = %d must be in [0, %d] (0: the method's "
                       "default)", steps, MN_POLAR_MAX_STEPS);
    return MN_OK;
}

/* A method passed without mn_polar_register was never checked: what the
 * iteration reads must be there, and its default steps within the bound. */
static mn_status check_method(const mn_polar_method *m)
{
    if (m->n_coeffs < 0 || (m->n_coeffs > 0 && !m->coeffs))
        return mn_fail(MN_ERR_ARG, "mn_polar: the method '%s' has n_coeffs = %d and coeffs %s",
                       m->name ? m->name : "(null)", m->n_coeffs, m->coeffs ? "set" : "NULL");
    if (m->n_coeffs > 0 && m->default_steps > MN_POLAR_MAX_STEPS)
        return mn_fail(MN_ERR_ARG, "mn_polar: the method '%s' has default_steps = %d, over the "
                       "limit of %d", m->name ? m->name : "(null)", m->default_steps,
                       MN_POLAR_MAX_STEPS);
    return MN_OK;
}

static mn_status check_opts(const mn_dualize_opts *o)
{
    MN_TRY(check_steps(o->steps));
    MN_TRY(check_method(o->method));
    if (!mn_precision_name(o->precision))
        return mn_fail(MN_ERR_ARG, "mn_polar: precision = %d is not fp32 (0) or bf16 (1)",
                       (int)o->precision);
    if (o->form != MN_POLAR_AUTO && o->form != MN_POLAR_DIRECT && o->form != MN_POLAR_GRAM)
        return mn_fail(MN_ERR_ARG, "mn_polar: form = %d is not auto, direct or gram",
                       (int)o->form);
    return MN_OK;
}

/* The form and step count mn_polar_run uses for an iterative method. */
static mn_polar_form form_used(const mn_dualize_opts *o, int n, int64_t rows, int64_t cols,
                               mn_dtype dt)
{
    if (o->form != MN_POLAR_AUTO)
        return o->form;
    return o->precision == MN_PRECISION_BF16 ? MN_POLAR_DIRECT
                                             : mn_polar_form_for(o->method, n, rows, cols, dt);
}

mn_status mn_polar_plan_for(const mn_dualize_opts *opts, int64_t rows, int64_t cols,
                            mn_dtype dt, mn_polar_plan *out)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_polar_plan_for: out is NULL");
    mn_dualize_opts o = opts ? *opts : (mn_dualize_opts){0};
    if (!o.method)
        o.method = mn_polar_default();
    MN_TRY(check_opts(&o));
    if (!mn_dtype_valid(dt))
        return mn_fail(MN_ERR_ARG, "mn_polar_plan_for: dtype %d is neither float32 (%d) nor "
                       "float64 (%d)", (int)dt, (int)MN_F32, (int)MN_F64);
    if (rows < 1 || cols < 1)
        return mn_fail(MN_ERR_SHAPE, "mn_polar_plan_for: %lldx%lld, needs at least one element",
                       (long long)rows, (long long)cols);
    *out = (mn_polar_plan){.form = MN_POLAR_DIRECT, .precision = o.precision};
    int64_t k = rows < cols ? rows : cols, N = rows < cols ? cols : rows;
    if (o.method->n_coeffs == 0) { /* exact, in double, whatever the precision */
        out->precision = MN_PRECISION_FP32;
        out->impl = "LAPACK dgesdd, in double";
        /* G's copy, U, Vᵀ and the singular values (lapack.c), then U·Vᵀ
         * (spectral.c) while U and Vᵀ are held: all float64 */
        out->workspace_bytes = 8.0 * ((double)k * (double)N + (double)k * (double)(k + N) + k);
        return MN_OK;
    }
    if (o.precision == MN_PRECISION_BF16 && dt != MN_F32)
        return mn_fail(MN_ERR_UNSUPPORTED, "mn_polar: precision bf16 takes float32 input, not %s "
                                           "(float64 runs in double with precision fp32)",
                       mn_dtype_name(dt));
    int n = o.steps > 0 ? o.steps : o.method->default_steps;
    out->form = form_used(&o, n, rows, cols, dt);
    if (o.precision == MN_PRECISION_BF16) {
        mn_polar_bf16_flops(o.method, out->form, n, k, N, &out->flops, &out->flops_bf16);
        out->impl = mn_bf16_impl();
        out->workspace_bytes = mn_polar_bf16_workspace_bytes(k, N);
    } else {
        out->flops = mn_polar_flops(o.method, out->form, n, rows, cols, dt);
        out->impl = blis_impl();
        out->workspace_bytes = workspace_bytes(dt, k, N);
    }
    return MN_OK;
}

mn_status mn_polar_run(const mn_dualize_opts *opts, mn_mat *out, const mn_mat *G)
{
    mn_dualize_opts o = opts ? *opts : (mn_dualize_opts){0};
    if (!o.method)
        o.method = mn_polar_default();
    MN_TRY(check_opts(&o));
    if (o.precision == MN_PRECISION_FP32 || o.method->n_coeffs == 0)
        return mn_polar_form_run(o.method, o.form, o.steps, o.threads, out, G);
    MN_TRY(check_mats(out, G));
    if (G->dtype != MN_F32)
        return mn_fail(MN_ERR_UNSUPPORTED, "mn_polar: precision bf16 takes float32 input, G is "
                                           "%s (float64 runs in double with precision fp32)",
                       mn_dtype_name(G->dtype));
    int n = o.steps > 0 ? o.steps : o.method->default_steps;
    if (n == 0 || out->rows != G->rows || out->cols != G->cols || out->dtype != G->dtype ||
        G->rows < 1 || G->cols < 1)
        /* X₀ alone (no product to run), or an argument error: reported there */
        return mn_polar_form_run(o.method, o.form, o.steps, o.threads, out, G);
    return mn_polar_bf16_run(o.method, form_used(&o, n, G->rows, G->cols, G->dtype), n,
                             o.threads, out, G);
}

static double lower_trace(const mn_mat *A)
{
    double t = 0;
    for (int64_t i = 0; i < A->rows; i++)
        t += mn_mat_get(A, i, i);
    return t;
}

/* The least trace of G Gᵀ computed from G unscaled that stays as accurate
 * as from G/‖G‖_F: entries whose squares go subnormal are then below
 * 1e-4·ε² of the trace, where float rounding of the Gram matrix already
 * hides them. */
static double unscaled_trace_min(mn_dtype dt)
{
    return dt == MN_F64 ? DBL_MIN / (DBL_EPSILON * DBL_EPSILON) * 1e4
                        : FLT_MIN / (FLT_EPSILON * FLT_EPSILON) * 1e4;
}

mn_status mn_polar_form_run(const mn_polar_method *method, mn_polar_form form, int steps,
                            int threads, mn_mat *out, const mn_mat *G)
{
    if (!method)
        return mn_fail(MN_ERR_ARG, "mn_polar: the method is NULL");
    MN_TRY(check_mats(out, G));
    if (out->rows != G->rows || out->cols != G->cols || out->dtype != G->dtype)
        return mn_fail(MN_ERR_SHAPE, "mn_polar: out is %lldx%lld %s, G is %lldx%lld %s",
                       (long long)out->rows, (long long)out->cols, mn_dtype_name(out->dtype),
                       (long long)G->rows, (long long)G->cols, mn_dtype_name(G->dtype));
    if (G->rows < 1 || G->cols < 1)
        return mn_fail(MN_ERR_SHAPE, "mn_polar: G is %lldx%lld, needs at least one element",
                       (long long)G->rows, (long long)G->cols);
    MN_TRY(check_steps(steps));
    MN_TRY(check_method(method));
    if (method->n_coeffs == 0) {
        MN_TRY(mn_mat_check_finite(G, "the gradient"));
        return mn_mat_is_zero(G) ? (mn_mat_fill(out, 0), MN_OK) : mn_spectral_polar_exact(out, G);
    }

    /* Work on the wide orientation so that X Xᵀ is the small Gram matrix. */
    bool tall = G->rows > G->cols;
    mn_mat g = tall ? mn_mat_transpose(*G) : *G;
    mn_mat o = tall ? mn_mat_transpose(*out) : *out;
    workspace w;
    MN_TRY(workspace_get(&w, G->dtype, g.rows, g.cols));
    /* X₀ = G / (slack·‖G‖_F). ‖G‖²_F is the trace of G Gᵀ, so the Gram
     * matrix comes first, from G itself, and X₀ stays implicit (x0, scale):
     * no pass over G to measure, copy or scale it. A trace that is not
     * finite (a NaN or Inf, or squares past the dtype's largest value) or so
     * small that squares of entries would have gone subnormal takes the
     * careful path: a copy scaled by the power of two that brings its
     * largest entry into [0.5, 1) (exact, also for subnormal entries and
     * where 1/‖G‖_F is not a number of the dtype), then by 1/(slack·‖copy‖_F). */
    mn_mat x0 = g;
    MN_TRY(mn_blas_syrk_lower(1.0, &x0, 0.0, &w.A, threads));
    double trace = lower_trace(&w.A), scale;
    if (isfinite(trace) && trace >= unscaled_trace_min(G->dtype)) {
        scale = 1.0 / (method->norm_slack * sqrt(trace));
        mn_polar_symmetrize_lower(&w.A, threads);
        /* scale² goes subnormal (so, under FTZ, zero) for traces past
         * 1/FLT_MIN (1/DBL_MIN): apply it in two halves there. */
        double tiny = G->dtype == MN_F32 ? FLT_MIN : DBL_MIN;
        if (scale * scale >= tiny)
            mn_mat_scale(&w.A, scale * scale);
        else {
            mn_mat_scale(&w.A, scale);
            mn_mat_scale(&w.A, scale);
        }
    } else {
        MN_TRY(mn_mat_check_finite(G, "the gradient")); /* names the first bad entry */
        if (mn_mat_is_zero(G)) {
            mn_mat_fill(out, 0);
            return MN_OK;
        }
        x0 = w.X;
        mn_vec_scale_pow2(&x0, &g, -mn_vec_max_exponent(&g));
        double fro = mn_vec_norm(MN_VEC_L2, &x0); /* in [0.5, √(kN)] */
        mn_mat_scale(&x0, 1.0 / (method->norm_slack * fro));
        scale = 1.0;
        MN_TRY(mn_blas_syrk_lower(1.0, &x0, 0.0, &w.A, threads));
        mn_polar_symmetrize_lower(&w.A, threads);
    }
    int n = steps > 0 ? steps : method->default_steps;
    if (form == MN_POLAR_AUTO)
        form = mn_polar_form_for(method, n, g.rows, g.cols, G->dtype);
    return form == MN_POLAR_GRAM ? iterate_gram(method, n, threads, &w, &x0, scale, &o)
                                 : iterate_direct(method, n, threads, &w, &x0, scale, &o);
}

static _Atomic uint64_t polar_calls; /* polar factors mn_dualize has asked for */

uint64_t mn_polar_calls(void) { return polar_calls; }

static mn_status provide_polar(void *ctx, mn_mat *out, const mn_mat *G)
{
    polar_calls++;
    return mn_polar_run(ctx, out, G);
}

static mn_status provide_polar_batch(void *ctx, int64_t n, mn_mat *out, const mn_mat *G)
{
    return mn_polar_batch_run(ctx, n, out, G);
}

mn_status mn_dualize(const mn_norm *norm, const mn_dualize_opts *opts, mn_mat *out,
                     const mn_mat *G)
{
    if (!norm)
        return mn_fail(MN_ERR_ARG, "mn_dualize: norm is NULL");
    mn_dualize_opts o = opts ? *opts : (mn_dualize_opts){0};
    if (!o.method)
        o.method = mn_polar_default();
    MN_TRY(check_opts(&o)); /* also where the norm's lmo needs no polar factor */
    mn_polar_provider provider = {provide_polar, &o, provide_polar_batch};
    return mn_norm_lmo(norm, out, G, &provider);
}
