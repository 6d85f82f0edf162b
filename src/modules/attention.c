/* The attention kernels (attention.h): per-(sequence, head) BLIS products on
 * strided views of the heads tensors, softmax over rows, rotary embeddings;
 * each beside its naive reference. The per-pair products run in registers
 * (small_gemm) up to 2^22 multiply-adds a pair, through BLIS beyond. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/blas.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/scratch.h"
#include "modules/attention.h"
#include "modules/vec16.h"

/* Below this many multiply-adds in all, the pairs run one after another:
 * a fork costs more than it saves. */
#define PAIR_PARALLEL_WORK (1 << 20)

/* Head i of sequence b of a (B, T, h, dh) tensor: T x dh, row stride h·dh. */
static mn_mat head(const float *x, mn_attn_dims d, int64_t b, int64_t i)
{
    return (mn_mat){.dtype = MN_F32, .rows = d.T, .cols = d.dh, .rs = d.h * d.dh, .cs = 1,
                    .data = (void *)(x + (b * d.T * d.h + i) * d.dh)};
}

/* Block (b, i) of a (B, h, T, T) scores tensor. */
static mn_mat block(const float *s, mn_attn_dims d, int64_t b, int64_t i)
{
    return mn_mat_view(MN_F32, (void *)(s + (b * d.h + i) * d.T * d.T), d.T, d.T);
}

static int pair_threads(int threads, mn_attn_dims d)
{
    double work = (double)d.B * (double)d.h * (double)d.T * (double)d.T * (double)d.dh;
    int n = work < PAIR_PARALLEL_WORK ? 1 : mn_threads_resolve(threads);
    return n < 1 ? 1 : n;
}

/* ---- small products in registers --------------------------------------------
 *
 * A head's products are small (T x T x dh: 64 x 64 x 32 in the GPT), and
 * one BLIS call per pair spends as long packing and dispatching as
 * multiplying. Every one of the six is C = α·A·B with B's rows contiguous
 * (after transposing a head into scratch where the product reads Kᵀ or Vᵀ),
 * which the kernel below runs as rows of C kept in registers: for each
 * row block, C[i, :] = α Σ_p A[i, p]·B[p, :], 4 rows x 64 columns (sixteen
 * 16-lane accumulators) per pass over p. Larger products go to BLIS. */

/* Beyond this many multiply-adds per pair BLIS's blocking wins. */
#define SMALL_PRODUCT (1 << 22)

INLINE vec16 load16(const float *p)
{
    vec16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE void store16(float *p, vec16 v) { memcpy(p, &v, sizeof v); }

/* C (m x n, row stride ldc) = alpha·A·B, A[i, p] = a[i·ars + p·acs] (m x k),
 * B[p, j] = b[p·ldb + j] (k x n, rows contiguous). */
CLONES static void small_gemm(float *c, int64_t ldc, const float *a, int64_t ars, int64_t acs,
                              const float *b, int64_t ldb, int64_t m, int64_t n, int64_t k,
                              float alpha)
{
    int64_t j0 = 0;
    for (; j0 + 4 * V16 <= n; j0 += 4 * V16) { /* 64 columns: 4 rows x 4 vectors */
        int64_t i = 0;
        for (; i + 4 <= m; i += 4) {
            vec16 acc[4][4] = {{{0}}};
            for (int64_t p = 0; p < k; p++) {
                const float *bp = b + p * ldb + j0;
                vec16 b0 = load16(bp), b1 = load16(bp + 16), b2 = load16(bp + 32),
                      b3 = load16(bp + 48);
                for (int r = 0; r < 4; r++) {
                    float x = a[(i + r) * ars + p * acs];
                    acc[r][0] += x * b0;
                    acc[r][1] += x * b1;
                    acc[r][2] += x * b2;
                    acc[r][3] += x * b3;
                }
            }
            for (int r = 0; r < 4; r++)
                for (int v = 0; v < 4; v++)
                    store16(c + (i + r) * ldc + j0 + v * V16, alpha * acc[r][v]);
        }
        for (; i < m; i++) {
            vec16 acc[4] = {{0}};
            for (int64_t p = 0; p < k; p++) {
                const float *bp = b + p * ldb + j0;
                float x = a[i * ars + p * acs];
                for (int v = 0; v < 4; v++)
                    acc[v] += x * load16(bp + v * V16);
            }
            for (int v = 0; v < 4; v++)
                store16(c + i * ldc + j0 + v * V16, alpha * acc[v]);
        }
    }
    for (; j0 + V16 <= n; j0 += V16) { /* 16 columns: 8 rows x 1 vector */
        int64_t i = 0;
        for (; i + 8 <= m; i += 8) {
            vec16 acc[8] = {{0}};
            for (int64_t p = 0; p < k; p++) {
                vec16 bv = load16(b + p * ldb + j0);
                for (int r = 0; r < 8; r++)
                    acc[r] += a[(i + r) * ars + p * acs] * bv;
            }
            for (int r = 0; r < 8; r++)
                store16(c + (i + r) * ldc + j0, alpha * acc[r]);
        }
        for (; i < m; i++) {
            vec16 acc = {0};
            for (int64_t p = 0; p < k; p++)
                acc += a[i * ars + p * acs] * load16(b + p * ldb + j0);
            store16(c + i * ldc + j0, alpha * acc);
        }
    }
    for (int64_t i = 0; j0 < n && i < m; i++) /* the last n % 16 columns */
        for (int64_t j = j0; j < n; j++) {
            float s = 0;
            for (int64_t p = 0; p < k; p++)
                s += a[i * ars + p * acs] * b[p * ldb + j];
            c[i * ldc + j] = alpha * s;
        }
}

/* out (cols x rows, contiguous) = the transpose of x (rows x cols, row stride ld). */
static void transpose(float *out, const float *x, int64_t rows, int64_t cols, int64_t ld)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++)
            out[j * rows + r] = x[r * ld + j];
}

/* The products of one kernel, for pair p = b·h + i: C = alpha·A·B. */
typedef enum { SCORES, SCORES_DQ, SCORES_DK, APPLY, APPLY_DA, APPLY_DV } product;

/* The pair's product by small_gemm. */
static mn_status pair_small(product k, float *out, const float *x, const float *y,
                            mn_attn_dims d, double alpha, int64_t p)
{
    int64_t b = p / d.h, i = p % d.h, T = d.T, dh = d.dh, hd = d.h * d.dh;
    int64_t ho = (b * d.T * d.h + i) * d.dh, so = (b * d.h + i) * T * T; /* head, block */
    float a = (float)alpha;
    float *t = NULL;
    if (k == SCORES || k == APPLY_DA) /* the product reads Kᵀ or Vᵀ: dh x T rows */
        MN_TRY(mn_scratch_get(MN_SCRATCH_ATTENTION, (size_t)(T * dh) * sizeof *t,
                              "attention (a head's transpose)", (void **)&t));
    switch (k) {
    case SCORES: /* S = α·Q Kᵀ: x = Q, y = K */
        transpose(t, y + ho, T, dh, hd);
        small_gemm(out + so, T, x + ho, hd, 1, t, T, T, T, dh, a);
        break;
    case SCORES_DQ: /* dQ = α·dS K: x = dS, y = K */
        small_gemm(out + ho, hd, x + so, T, 1, y + ho, hd, T, dh, T, a);
        break;
    case SCORES_DK: /* dK = α·dSᵀ Q: x = dS, y = Q */
        small_gemm(out + ho, hd, x + so, 1, T, y + ho, hd, T, dh, T, a);
        break;
    case APPLY: /* O = A V: x = A, y = V */
        small_gemm(out + ho, hd, x + so, T, 1, y + ho, hd, T, dh, T, a);
        break;
    case APPLY_DA: /* dA = dO Vᵀ: x = dO, y = V */
        transpose(t, y + ho, T, dh, hd);
        small_gemm(out + so, T, x + ho, hd, 1, t, T, T, T, dh, a);
        break;
    default: /* APPLY_DV: dV = Aᵀ dO: x = A, y = dO */
        small_gemm(out + ho, hd, x + so, 1, T, y + ho, hd, T, dh, T, a);
        break;
    }
    return MN_OK;
}

static mn_status pair_product(product k, float *out, const float *x, const float *y,
                              mn_attn_dims d, double alpha, int64_t p)
{
    if ((double)d.T * (double)d.T * (double)d.dh <= SMALL_PRODUCT)
        return pair_small(k, out, x, y, d, alpha, p);
    int64_t b = p / d.h, i = p % d.h;
    mn_mat A, Bm, C;
    switch (k) {
    case SCORES: /* S = α·Q Kᵀ: x = Q, y = K */
        A = head(x, d, b, i);
        Bm = mn_mat_transpose(head(y, d, b, i));
        C = block(out, d, b, i);
        break;
    case SCORES_DQ: /* dQ = α·dS K: x = dS, y = K */
        A = block(x, d, b, i);
        Bm = head(y, d, b, i);
        C = head(out, d, b, i);
        break;
    case SCORES_DK: /* dK = α·dSᵀ Q: x = dS, y = Q */
        A = mn_mat_transpose(block(x, d, b, i));
        Bm = head(y, d, b, i);
        C = head(out, d, b, i);
        break;
    case APPLY: /* O = A V: x = A, y = V */
        A = block(x, d, b, i);
        Bm = head(y, d, b, i);
        C = head(out, d, b, i);
        break;
    case APPLY_DA: /* dA = dO Vᵀ: x = dO, y = V */
        A = head(x, d, b, i);
        Bm = mn_mat_transpose(head(y, d, b, i));
        C = block(out, d, b, i);
        break;
    default: /* APPLY_DV: dV = Aᵀ dO: x = A, y = dO */
        A = mn_mat_transpose(block(x, d, b, i));
        Bm = head(y, d, b, i);
        C = head(out, d, b, i);
        break;
    }
    return mn_blas_gemm(alpha, &A, &Bm, 0.0, &C, 1);
}

/* Every pair's product, shared among threads. */
static mn_status run_pairs(product k, float *out, const float *x, const float *y,
                           mn_attn_dims d, double alpha, int threads)
{
    int64_t pairs = d.B * d.h;
    int nt = pair_threads(threads, d);
    int bad = 0;
    if (nt == 1) {
        for (int64_t p = 0; p < pairs; p++)
            MN_TRY(pair_product(k, out, x, y, d, alpha, p));
        return MN_OK;
    }
    MN_PARALLEL_FOR_TASKS(nt)
    for (int64_t p = 0; p < pairs; p++)
        if (pair_product(k, out, x, y, d, alpha, p) != MN_OK) {
            MN_CRITICAL
            bad = 1;
        }
    return bad ? mn_fail(MN_ERR_SHAPE, "attention: a per-head product failed") : MN_OK;
}

mn_status mn_attn_scores(float *S, const float *Q, const float *K, mn_attn_dims d, double scale,
                         int threads)
{
    return run_pairs(SCORES, S, Q, K, d, scale, threads);
}

mn_status mn_attn_scores_backward(float *dQ, float *dK, const float *dS, const float *Q,
                                  const float *K, mn_attn_dims d, double scale, int threads)
{
    if (dQ)
        MN_TRY(run_pairs(SCORES_DQ, dQ, dS, K, d, scale, threads));
    if (dK)
        MN_TRY(run_pairs(SCORES_DK, dK, dS, Q, d, scale, threads));
    return MN_OK;
}

mn_status mn_attn_apply(float *O, const float *A, const float *V, mn_attn_dims d, int threads)
{
    return run_pairs(APPLY, O, A, V, d, 1.0, threads);
}

mn_status mn_attn_apply_backward(float *dA, float *dV, const float *dO, const float *A,
                                 const float *V, mn_attn_dims d, int threads)
{
    if (dA)
        MN_TRY(run_pairs(APPLY_DA, dA, dO, V, d, 1.0, threads));
    if (dV)
        MN_TRY(run_pairs(APPLY_DV, dV, A, dO, d, 1.0, threads));
    return MN_OK;
}

/* ---- naive references: element by element, in double -------------------- */

/* Offsets of x[b, t, i, k] (heads) and s[b, i, t, u] (scores). */
static int64_t hx(mn_attn_dims d, int64_t b, int64_t t, int64_t i, int64_t k)
{
    return ((b * d.T + t) * d.h + i) * d.dh + k;
}

static int64_t sx(mn_attn_dims d, int64_t b, int64_t i, int64_t t, int64_t u)
{
    return ((b * d.h + i) * d.T + t) * d.T + u;
}

void mn_attn_scores_ref(float *S, const float *Q, const float *K, mn_attn_dims d, double scale)
{
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t i = 0; i < d.h; i++)
            for (int64_t t = 0; t < d.T; t++)
                for (int64_t u = 0; u < d.T; u++) {
                    double s = 0;
                    for (int64_t k = 0; k < d.dh; k++)
                        s += (double)Q[hx(d, b, t, i, k)] * K[hx(d, b, u, i, k)];
                    S[sx(d, b, i, t, u)] = (float)(scale * s);
                }
}

void mn_attn_scores_backward_ref(float *dQ, float *dK, const float *dS, const float *Q,
                                 const float *K, mn_attn_dims d, double scale)
{
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t i = 0; i < d.h; i++)
            for (int64_t t = 0; t < d.T; t++)
                for (int64_t k = 0; k < d.dh; k++) {
                    double gq = 0, gk = 0;
                    for (int64_t u = 0; u < d.T; u++) {
                        gq += (double)dS[sx(d, b, i, t, u)] * K[hx(d, b, u, i, k)];
                        gk += (double)dS[sx(d, b, i, u, t)] * Q[hx(d, b, u, i, k)];
                    }
                    if (dQ)
                        dQ[hx(d, b, t, i, k)] = (float)(scale * gq);
                    if (dK)
                        dK[hx(d, b, t, i, k)] = (float)(scale * gk);
                }
}

void mn_attn_apply_ref(float *O, const float *A, const float *V, mn_attn_dims d)
{
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t i = 0; i < d.h; i++)
            for (int64_t t = 0; t < d.T; t++)
                for (int64_t k = 0; k < d.dh; k++) {
                    double s = 0;
                    for (int64_t u = 0; u < d.T; u++)
                        s += (double)A[sx(d, b, i, t, u)] * V[hx(d, b, u, i, k)];
                    O[hx(d, b, t, i, k)] = (float)s;
                }
}

void mn_attn_apply_backward_ref(float *dA, float *dV, const float *dO, const float *A,
                                const float *V, mn_attn_dims d)
{
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t i = 0; i < d.h; i++) {
            for (int64_t t = 0; t < d.T && dA; t++)
                for (int64_t u = 0; u < d.T; u++) {
                    double s = 0;
                    for (int64_t k = 0; k < d.dh; k++)
                        s += (double)dO[hx(d, b, t, i, k)] * V[hx(d, b, u, i, k)];
                    dA[sx(d, b, i, t, u)] = (float)s;
                }
            for (int64_t u = 0; u < d.T && dV; u++)
                for (int64_t k = 0; k < d.dh; k++) {
                    double s = 0;
                    for (int64_t t = 0; t < d.T; t++)
                        s += (double)A[sx(d, b, i, t, u)] * dO[hx(d, b, t, i, k)];
                    dV[hx(d, b, u, i, k)] = (float)s;
                }
        }
}

/* ---- softmax over rows ---------------------------------------------------- */

/* e^v in 16 lanes for v ≥ −87.33 (about 1 ulp; gelu.c's, Cody–Waite and
 * Cephes' polynomial), exactly 0 below: e^v there is subnormal or 0 in
 * float, which training flushes to 0 anyway, and −∞ (a masked score) must
 * give 0. */
INLINE vec16 vexp16(vec16 v)
{
    veci16 zero = v < -87.33f;
    vec16 c = vselect16(zero, v - v - 87.33f, v); /* NaN stays NaN */
    c = vselect16(c > 88.0f, c - c + 88.0f, c);
    return (vec16)(~zero & (veci16)vexp16_in_range(c));
}

/* One row: y = softmax(a·x), n entries, 16 lanes at a time (the tail padded
 * with −∞, which contributes 0). */
CLONES static void softmax_row(float *y, const float *x, int64_t n, float a)
{
    float m = -INFINITY;
    for (int64_t j = 0; j < n; j++)
        m = x[j] > m ? x[j] : m;
    vec16 acc = {0};
    int64_t j = 0;
    for (; j + V16 <= n; j += V16) {
        vec16 e = vexp16(a * (load16(x + j) - m));
        store16(y + j, e);
        acc += e;
    }
    if (j < n) {
        float t[V16];
        for (int l = 0; l < V16; l++)
            t[l] = j + l < n ? x[j + l] : -INFINITY;
        vec16 e = vexp16(a * (load16(t) - m));
        store16(t, e);
        memcpy(y + j, t, (size_t)(n - j) * sizeof *y);
        acc += e;
    }
    float sum = 0;
    for (int l = 0; l < V16; l++)
        sum += acc[l];
    float inv = 1 / sum;
    for (j = 0; j < n; j++)
        y[j] *= inv;
}

/* One row of the backward: dx = a·y⊙(dy − Σ y⊙dy). */
CLONES static void softmax_row_backward(float *dx, const float *y, const float *dy, int64_t n,
                                        float a)
{
    vec16 acc = {0};
    int64_t j = 0;
    for (; j + V16 <= n; j += V16)
        acc += load16(y + j) * load16(dy + j);
    float s = 0;
    for (int l = 0; l < V16; l++)
        s += acc[l];
    for (; j < n; j++)
        s += y[j] * dy[j];
    for (j = 0; j < n; j++)
        dx[j] = a * y[j] * (dy[j] - s);
}

void mn_softmax_rows(float *y, const float *x, int64_t rows, int64_t n, double scale,
                     int threads)
{
    const float a = (float)scale;
    int nt = mn_elementwise_threads(threads, rows * n);
    (void)nt; /* unused without OpenMP */
    MN_PARALLEL_FOR_BLOCKS(nt)
    for (int64_t r = 0; r < rows; r++)
        softmax_row(y + r * n, x + r * n, n, a);
}

void mn_softmax_rows_backward(float *dx, const float *y, const float *dy, int64_t rows, int64_t n,
                              double scale, int threads)
{
    const float a = (float)scale;
    int nt = mn_elementwise_threads(threads, rows * n);
    (void)nt; /* unused without OpenMP */
    MN_PARALLEL_FOR_BLOCKS(nt)
    for (int64_t r = 0; r < rows; r++)
        softmax_row_backward(dx + r * n, y + r * n, dy + r * n, n, a);
}

void mn_softmax_rows_ref(float *y, const float *x, int64_t rows, int64_t n, double scale)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        double m = -INFINITY, sum = 0;
        for (int64_t j = 0; j < n; j++)
            m = xr[j] > m ? xr[j] : m;
        for (int64_t j = 0; j < n; j++)
            sum += exp(scale * ((double)xr[j] - m));
        for (int64_t j = 0; j < n; j++)
            y[r * n + j] = (float)(exp(scale * ((double)xr[j] - m)) / sum);
    }
}

void mn_softmax_rows_backward_ref(float *dx, const float *y, const float *dy, int64_t rows,
                                  int64_t n, double scale)
{
    for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        for (int64_t j = 0; j < n; j++)
            s += (double)y[r * n + j] * dy[r * n + j];
        for (int64_t j = 0; j < n; j++)
            dx[r * n + j] = (float)(scale * y[r * n + j] * ((double)dy[r * n + j] - s));
    }
}

/* ---- rotary position embedding -------------------------------------------- */

void mn_rope_table(float *table, int64_t T_max, int64_t dh, double base)
{
    int64_t half = dh / 2;
    for (int64_t j = 0; j < half; j++) {
        double freq = pow(base, -2.0 * (double)j / (double)dh);
        for (int64_t t = 0; t < T_max; t++) {
            double theta = (double)t * freq;
            table[t * half + j] = (float)cos(theta);
            table[T_max * half + t * half + j] = (float)sin(theta);
        }
    }
}

void mn_rope_apply(float *y, const float *x, const float *table, int64_t T_max, mn_attn_dims d,
                   bool inverse, int threads)
{
    int64_t half = d.dh / 2;
    const float *cs = table, *sn = table + T_max * half;
    const float sign = inverse ? -1.0f : 1.0f;
    int nt = mn_elementwise_threads(threads, d.B * d.T * d.h * d.dh);
    (void)nt; /* unused without OpenMP */
    MN_PARALLEL_FOR_RANGES(nt)
    for (int64_t r = 0; r < d.B * d.T; r++) { /* position t of sequence b */
        int64_t b = r / d.T, t = r % d.T;
        const float *c = cs + t * half, *s = sn + t * half;
        for (int64_t i = 0; i < d.h; i++) {
            int64_t o = hx(d, b, t, i, 0);
            const float *x1 = x + o, *x2 = x + o + half;
            float *y1 = y + o, *y2 = y + o + half;
            for (int64_t j = 0; j < half; j++) {
                float a = x1[j], bb = x2[j], sj = sign * s[j];
                y1[j] = a * c[j] - bb * sj;
                y2[j] = a * sj + bb * c[j];
            }
        }
    }
}
