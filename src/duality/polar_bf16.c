/* The polar iteration with bf16 matrix products (precision bf16, polar.h).
 *
 * Direct form, on the wide orientation X (k x N), one step:
 *     X̃ = bf16(X),  A = X̃X̃ᵀ              (bf16 triangle, float32 out; whole
 *                                          when oneDNN makes it in one block)
 *     B = bf16(b·A + c·bf16(A)·bf16(A))   (A² a bf16 triangle too)
 *     X ← a·X + B·X̃                       (bf16 product added onto a·X)
 * X stays float32 and so does the linear term a·X: it is what lifts the
 * small singular values (a gradient's noise), and in float32 it carries them
 * exactly; the polynomial part B·X̃ acts mostly on the large ones, where the
 * 2^-9 rounding of its operands stays a 2^-9-sized error. One pass per step
 * reads X, writes X̃ and a·X (into the buffer the product then adds onto).
 *
 * X₀ = G / (slack·‖G‖_F): G is scaled by the power of two that brings its
 * largest entry into [0.5, 1) before it is rounded (exact, so subnormal and
 * huge inputs work: the bf16 kernels flush bf16 subnormals to zero), ‖G‖_F
 * comes from the trace of the first Gram matrix, and the rest of the scale
 * goes into the first step's B and a (no pass over G to scale it).
 *
 * Gram form (forced only; AUTO never picks it in bf16, see polar.h): the
 * k x k recursion of polar.c in float32, with S = X̃₀X̃₀ᵀ and the products
 * with X₀ (at restarts and at the end) in bf16. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/bf16.h"
#include "core/error.h"
#include "core/scratch.h"
#include "core/simd.h"
#include "core/parallel.h"
#include "duality/polar_internal.h"

/* ---- layouts ------------------------------------------------------------------------ */

/* A view with a unit stride as `lines` runs of `len` contiguous elements,
 * `ld` apart: rows (cs = 1) or columns (rs = 1). */
typedef struct {
    int64_t lines, len, ld;
    bool by_rows;
} lines_t;

static bool layout_of(const mn_mat *v, lines_t *l)
{
    if (v->cs == 1 && (v->rs >= v->cols || v->rows == 1)) {
        *l = (lines_t){v->rows, v->cols, v->rs, true};
        return true;
    }
    if (v->rs == 1 && (v->cs >= v->rows || v->cols == 1)) {
        *l = (lines_t){v->cols, v->rows, v->cs, false};
        return true;
    }
    return false;
}

/* A compact k x N view of `data` laid out like `l` (rows or columns). */
static mn_mat f32_like(float *data, const lines_t *l, int64_t k, int64_t N)
{
    mn_mat v = mn_mat_view(MN_F32, data, k, N);
    if (!l->by_rows) {
        v.rs = 1;
        v.cs = k;
    }
    return v;
}

static mn_bf16_mat bf16_like(mn_bf16 *data, const lines_t *l, int64_t k, int64_t N)
{
    mn_bf16_mat v = mn_bf16_view(data, k, N);
    if (!l->by_rows) {
        v.rs = 1;
        v.cs = k;
    }
    return v;
}

/* ---- workspace -------------------------------------------------------------------------- */

typedef struct {
    mn_mat W;          /* k x N float32: the iterate (G's layout) */
    mn_bf16_mat Xb;    /* k x N bf16: the rounded iterate (G's layout) */
    mn_mat A, P, Q, T; /* k x k float32: Gram matrix, A² or polynomial, Gram form's Q and scratch */
    mn_bf16 *Kb, *Bb;  /* k x k bf16: bf16(A) or bf16(Q), the polynomial */
} workspace;

static size_t aligned(size_t bytes) { return (bytes + 63) / 64 * 64; }

/* One grow-only buffer per thread (as polar.c's). */
/* What workspace_get takes, in double (a size past SIZE_MAX still compares),
 * without the pieces' alignment to 64 bytes. */
double mn_polar_bf16_workspace_bytes(int64_t k, int64_t N)
{
    double kn = (double)k * (double)N, kk = (double)k * (double)k;
    return kn * (4 + 2) + kk * (4 * 4 + 2 * 2);
}

static mn_status workspace_get(workspace *w, const lines_t *l, int64_t k, int64_t N)
{
    size_t kn = (size_t)k * (size_t)N, kk = (size_t)k * (size_t)k;
    size_t need = aligned(kn * 4) + aligned(kn * 2) + 4 * aligned(kk * 4) + 2 * aligned(kk * 2);
    void *buf;
    MN_TRY(mn_scratch_get(MN_SCRATCH_POLAR_BF16, need, "polar (bf16)", &buf));
    char *p = buf;
    w->W = f32_like((float *)p, l, k, N);
    p += aligned(kn * 4);
    w->Xb = bf16_like((mn_bf16 *)p, l, k, N);
    p += aligned(kn * 2);
    mn_mat *sq[4] = {&w->A, &w->P, &w->Q, &w->T};
    for (int i = 0; i < 4; i++) {
        *sq[i] = mn_mat_view(MN_F32, p, k, k);
        p += aligned(kk * 4);
    }
    w->Kb = (mn_bf16 *)p;
    w->Bb = (mn_bf16 *)(p + aligned(kk * 2));
    return MN_OK;
}

/* ---- element passes ---------------------------------------------------------------------- */

/* The largest |x| of g, as float32 bits (>= 0x7f800000: a NaN or an Inf). */
static uint32_t max_abs_bits(const mn_mat *g, const lines_t *l, int threads)
{
    uint32_t top = 0;
    const float *d = g->data;
#ifdef _OPENMP
#pragma omp parallel for reduction(max : top) schedule(static) \
    num_threads(mn_elementwise_threads(threads, l->lines * l->len))
#endif
    for (int64_t i = 0; i < l->lines; i++) {
        const float *x = d + i * l->ld;
        uint32_t t = 0;
        for (int64_t j = 0; j < l->len; j++) {
            uint32_t u;
            memcpy(&u, &x[j], sizeof u);
            u &= 0x7fffffffu;
            t = u > t ? u : t;
        }
        top = t > top ? t : top;
    }
    (void)threads;
    return top;
}

/* Xb = bf16(2^e·g), exact before the rounding wherever 2^e·x is normal. */
static void round_pow2(mn_bf16_mat *xb, const mn_mat *g, const lines_t *l, int e, int threads)
{
    const float *d = g->data;
    mn_bf16 *out = xb->data;
    bool f32_scale = e >= -126 && e <= 127; /* 2^e is a float32 */
    float pf = f32_scale ? ldexpf(1.0f, e) : 1.0f;
    double pd = ldexp(1.0, e);
    MN_PARALLEL_FOR_BLOCKS(mn_elementwise_threads(threads, l->lines * l->len))
    for (int64_t i = 0; i < l->lines; i++) {
        const float *x = d + i * l->ld;
        mn_bf16 *y = out + i * l->len;
        if (f32_scale)
            mn_bf16_round_scaled_run(y, x, l->len, pf);
        else
            for (int64_t j = 0; j < l->len; j++)
                y[j] = mn_bf16_from_f32((float)((double)x[j] * pd));
    }
}

/* dst = f·g (f a double: 2^e·a·x0s may be outside float32's range). */
static void scale_into(mn_mat *dst, const lines_t *dl, const mn_mat *g, const lines_t *gl,
                       double f, int threads)
{
    const float *s = g->data;
    float *d = dst->data;
    MN_PARALLEL_FOR_BLOCKS(mn_elementwise_threads(threads, gl->lines * gl->len))
    for (int64_t i = 0; i < gl->lines; i++) {
        const float *x = s + i * gl->ld;
        float *y = d + i * dl->ld;
        for (int64_t j = 0; j < gl->len; j++)
            y[j] = (float)((double)x[j] * f);
    }
}

/* r = bf16(x) and y = a·x along one line (y may be x). */
MN_CLONES static void round_and_scale_run(mn_bf16 *restrict r, float *y, const float *x,
                                          int64_t n, float a)
{
    for (int64_t j = 0; j < n; j++) {
        float v = x[j];
        r[j] = mn_bf16_from_f32(v);
        y[j] = a * v;
    }
}

/* Xb = bf16(W) and dst = a·W in one pass (dst may be W). */
static void round_and_scale(mn_bf16_mat *xb, const mn_mat *W, const lines_t *wl, mn_mat *dst,
                            const lines_t *dl, float a, int threads)
{
    const float *s = W->data;
    float *d = dst->data;
    mn_bf16 *out = xb->data;
    MN_PARALLEL_FOR_BLOCKS(mn_elementwise_threads(threads, wl->lines * wl->len))
    for (int64_t i = 0; i < wl->lines; i++)
        round_and_scale_run(out + i * wl->len, d + i * dl->ld, s + i * wl->ld, wl->len, a);
}

/* y = bf16(fb·x + fc·x2) along one row (x2 NULL: c = 0, where fb·x + 0
 * turns −0 into +0 as the sum with a zero c·A2 would); not contracted into
 * an FMA (this file keeps C17's -ffp-contract=off), so every clone rounds
 * the same. */
MN_CLONES static void polynomial_run(mn_bf16 *restrict y, const float *x, const float *x2,
                                     int64_t n, float fb, float fc)
{
    if (x2)
        for (int64_t j = 0; j < n; j++)
            y[j] = mn_bf16_from_f32(fb * x[j] + fc * x2[j]);
    else
        for (int64_t j = 0; j < n; j++)
            y[j] = mn_bf16_from_f32(fb * x[j] + 0.0f);
}

/* Bb (whole, k x k) = bf16(f·(b·A + c·A2)), A2 unused when c = 0. When
 * both hold both triangles (`whole`), row by row over whole rows; else from
 * their lower triangles row by row (the rounding vectorizes along a row),
 * then the upper mirrored from it in tiles, which keeps the transposed
 * reads in cache. */
static void polynomial_bf16(mn_bf16 *Bb, const mn_mat *A, const mn_mat *A2, double b, double c,
                            double f, bool whole, int threads)
{
    enum { TILE = 64 };
    int64_t n = A->rows;
    const float *am = A->data, *a2 = c != 0 ? A2->data : NULL;
    float fb = (float)(f * b), fc = (float)(f * c);
    int t = mn_elementwise_threads(threads, n * n);
    if (whole) { /* A and A2 hold both triangles: whole rows, nothing to mirror */
        MN_PARALLEL_FOR_RANGES(t)
        for (int64_t i = 0; i < n; i++)
            polynomial_run(Bb + i * n, am + i * n, a2 ? a2 + i * n : NULL, n, fb, fc);
        return;
    }
    MN_PARALLEL_FOR_BLOCKS(t)
    for (int64_t i = 0; i < n; i++)
        polynomial_run(Bb + i * n, am + i * n, a2 ? a2 + i * n : NULL, i + 1, fb, fc);
    MN_PARALLEL_FOR_BLOCKS(t)
    for (int64_t ib = 0; ib < n; ib += TILE)
        for (int64_t jb = ib; jb < n; jb += TILE) {
            int64_t ie = ib + TILE < n ? ib + TILE : n, je = jb + TILE < n ? jb + TILE : n;
            for (int64_t i = ib; i < ie; i++)
                for (int64_t j = jb > i + 1 ? jb : i + 1; j < je; j++)
                    Bb[i * n + j] = Bb[j * n + i];
        }
}

/* Kb = bf16(f·M), M square and contiguous. */
static void round_scaled(mn_bf16 *Kb, const mn_mat *M, double f, int threads)
{
    const float *m = M->data;
    int64_t cols = M->cols;
    float ff = (float)f;
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(threads, M->rows * cols))
    for (int64_t i = 0; i < M->rows; i++)
        mn_bf16_round_scaled_run(Kb + i * cols, m + i * cols, cols, ff);
}

static double trace(const mn_mat *A)
{
    double t = 0;
    for (int64_t i = 0; i < A->rows; i++)
        t += ((const float *)A->data)[i * A->rs + i];
    return t;
}

/* A = X̃X̃ᵀ, whole, times f². */
static mn_status gram_of(const mn_bf16_mat *xb, mn_mat *A, double f, int threads)
{
    bool whole;
    MN_TRY(mn_bf16_syrk(xb, A, threads, &whole));
    if (!whole)
        mn_polar_symmetrize_lower(A, threads);
    if (f != 1.0)
        mn_mat_scale(A, f * f);
    return MN_OK;
}

/* ---- the two forms -------------------------------------------------------------------------- */

typedef struct {
    const mn_polar_method *m;
    int steps, threads;
    int64_t k, N;
    const mn_mat *g;   /* G, wide orientation */
    lines_t gl, ol, wl;
    mn_mat *o;         /* out, wide orientation */
    double x0s;        /* X₀ = x0s·X̃₀ with X̃₀ = bf16(2^e·G) in w.Xb */
    int e;
    workspace w;
} run;

static mn_status direct_bf16(run *r)
{
    workspace *w = &r->w;
    mn_bf16_mat Kb = mn_bf16_view(w->Kb, r->k, r->k), Bb = mn_bf16_view(w->Bb, r->k, r->k);
    for (int s = 0; s < r->steps; s++) {
        const double *abc = mn_polar_step_coeffs(r->m, s);
        bool last = s == r->steps - 1;
        mn_mat *dst = last ? r->o : &w->W;
        const lines_t *dl = last ? &r->ol : &r->wl;
        if (s == 0) /* a·X₀ = a·x0s·2^e·G, from G itself; A is already X₀X₀ᵀ */
            scale_into(dst, dl, r->g, &r->gl, abc[0] * r->x0s * ldexp(1.0, r->e), r->threads);
        else {
            round_and_scale(&w->Xb, &w->W, &r->wl, dst, dl, (float)abc[0], r->threads);
            MN_TRY(gram_of(&w->Xb, &w->A, 1.0, r->threads));
        }
        bool p_whole = true; /* A is whole here: computed so, or mirrored */
        if (abc[2] != 0) {
            round_scaled(w->Kb, &w->A, 1.0, r->threads);
            MN_TRY(mn_bf16_syrk(&Kb, &w->P, r->threads, &p_whole));
        }
        /* B·X̃ must be B·X: at step 0 X = x0s·X̃₀ */
        polynomial_bf16(w->Bb, &w->A, &w->P, abc[1], abc[2], s == 0 ? r->x0s : 1.0, p_whole,
                        r->threads);
        MN_TRY(mn_bf16_gemm(&Bb, &w->Xb, 1.0, dst, r->threads));
    }
    return MN_OK;
}

static void swap_mats(mn_mat *x, mn_mat *y)
{
    mn_mat t = *x;
    *x = *y;
    *y = t;
}

/* polar.c's iterate_gram with X₀ = x0f·X̃₀ in bf16 (x0f = x0s, then 1 after
 * a restart) and its products with X₀ in bf16. */
static mn_status gram_bf16(run *r)
{
    workspace *w = &r->w;
    mn_bf16_mat Kb = mn_bf16_view(w->Kb, r->k, r->k);
    mn_mat *B = &w->P;
    double x0f = r->x0s;
    mn_gram_schedule sched = mn_gram_schedule_start(MN_F32), ahead = sched;
    bool q_is_identity = true;
    mn_gram_schedule_step(&ahead, mn_polar_step_coeffs(r->m, 0));
    for (int s = 0; s < r->steps; s++) {
        const double *abc = mn_polar_step_coeffs(r->m, s);
        if (mn_gram_schedule_step(&sched, abc)) { /* X₀ ← Q·X₀, A ← X₀X₀ᵀ, Q ← I */
            round_scaled(w->Kb, &w->Q, x0f, r->threads);
            MN_TRY(mn_bf16_gemm(&Kb, &w->Xb, 0.0, &w->W, r->threads));
            mn_bf16_round(w->Xb.data, w->W.data, r->k * r->N, r->threads);
            MN_TRY(gram_of(&w->Xb, &w->A, 1.0, r->threads));
            x0f = 1.0;
            q_is_identity = true;
        }
        bool next_restarts =
            s + 1 < r->steps && mn_gram_schedule_step(&ahead, mn_polar_step_coeffs(r->m, s + 1));
        MN_TRY(mn_polar_polynomial_lower(&w->A, B, abc, r->threads));
        mn_polar_symmetrize_lower(B, r->threads);
        if (q_is_identity) {
            swap_mats(&w->Q, B);
            q_is_identity = false;
            if (s + 1 < r->steps && !next_restarts) { /* A ← P·A·P, with P now in Q */
                MN_TRY(mn_polar_symmetric_product(&w->Q, &w->A, &w->T, r->threads));
                MN_TRY(mn_polar_symmetric_product(&w->Q, &w->T, &w->A, r->threads));
            }
            continue;
        }
        MN_TRY(mn_polar_symmetric_product(B, &w->Q, &w->T, r->threads)); /* Q ← P·Q */
        swap_mats(&w->Q, &w->T);
        if (s + 1 < r->steps && !next_restarts) {
            MN_TRY(mn_polar_symmetric_product(B, &w->A, &w->T, r->threads));
            MN_TRY(mn_polar_symmetric_product(B, &w->T, &w->A, r->threads));
        }
    }
    round_scaled(w->Kb, &w->Q, x0f, r->threads);
    return mn_bf16_gemm(&Kb, &w->Xb, 0.0, r->o, r->threads);
}

/* ---- entry -------------------------------------------------------------------------------- */

/* G and out without a unit stride, or laid out differently: run on
 * contiguous copies. */
static mn_status run_on_copies(const mn_polar_method *m, mn_polar_form form, int steps,
                               int threads, mn_mat *out, const mn_mat *G)
{
    mn_mat g, o;
    MN_TRY(mn_mat_alloc(&g, MN_F32, G->rows, G->cols));
    mn_status st = mn_mat_alloc(&o, MN_F32, G->rows, G->cols);
    if (st == MN_OK)
        st = mn_mat_copy(&g, G);
    if (st == MN_OK)
        st = mn_polar_bf16_run(m, form, steps, threads, &o, &g);
    if (st == MN_OK)
        st = mn_mat_copy(out, &o);
    mn_mat_free(&g);
    mn_mat_free(&o);
    return st;
}

mn_status mn_polar_bf16_run(const mn_polar_method *m, mn_polar_form form, int steps, int threads,
                            mn_mat *out, const mn_mat *G)
{
    bool tall = G->rows > G->cols;
    mn_mat g = tall ? mn_mat_transpose(*G) : *G;
    mn_mat o = tall ? mn_mat_transpose(*out) : *out;
    run r = {.m = m, .steps = steps, .threads = threads, .k = g.rows, .N = g.cols, .g = &g,
             .o = &o};
    if (!layout_of(&g, &r.gl) || !layout_of(&o, &r.ol) || r.gl.by_rows != r.ol.by_rows)
        return run_on_copies(m, form, steps, threads, out, G);
    r.wl = (lines_t){r.gl.lines, r.gl.len, r.gl.len, r.gl.by_rows};
    uint32_t top = max_abs_bits(&g, &r.gl, threads);
    if (top >= 0x7f800000u) {
        mn_status st = mn_mat_check_finite(G, "the gradient"); /* names the first bad entry */
        return st != MN_OK ? st : mn_fail(MN_ERR_NONFINITE, "mn_polar: the gradient is not finite");
    }
    if (top == 0) {
        mn_mat_fill(out, 0);
        return MN_OK;
    }
    float big;
    memcpy(&big, &top, sizeof big);
    int ex;
    frexpf(big, &ex); /* big = f·2^ex, f in [0.5, 1) */
    r.e = -ex;
    MN_TRY(workspace_get(&r.w, &r.gl, r.k, r.N));
    round_pow2(&r.w.Xb, &g, &r.gl, r.e, threads);
    bool whole;
    MN_TRY(mn_bf16_syrk(&r.w.Xb, &r.w.A, threads, &whole));
    double tr = trace(&r.w.A); /* ‖2^e·G‖²_F, of the rounded copy: in [0.25, kN] */
    if (tr == 0) { /* every entry subnormal, read as zero under DAZ (training): G is zero */
        mn_mat_fill(out, 0);
        return MN_OK;
    }
    r.x0s = 1.0 / (m->norm_slack * sqrt(tr));
    if (!whole)
        mn_polar_symmetrize_lower(&r.w.A, threads);
    mn_mat_scale(&r.w.A, r.x0s * r.x0s);
    return form == MN_POLAR_GRAM ? gram_bf16(&r) : direct_bf16(&r);
}

void mn_polar_bf16_flops(const mn_polar_method *m, mn_polar_form form, int steps, int64_t k,
                         int64_t N, double *all, double *bf16)
{
    double kn = mn_bf16_syrk_flops(k, N), prod = 2.0 * (double)k * (double)k * (double)N;
    if (form == MN_POLAR_GRAM) {
        double kk;
        int restarts;
        mn_polar_gram_split(m, steps, (double)k, MN_F32, &kk, &restarts);
        *bf16 = (1 + restarts) * (kn + prod);
        *all = *bf16 + kk;
        return;
    }
    double total = 0, kk = mn_bf16_syrk_flops(k, k);
    for (int s = 0; s < steps; s++)
        total += kn + prod + (mn_polar_step_coeffs(m, s)[2] != 0 ? kk : 0);
    *all = *bf16 = total;
}
