/* Convolutions and the bonds around them: Conv2D (an atom), Image (a flat
 * batch seen as images), AvgPool, MaxPool and GlobalMean.
 *
 * Image activations are NCHW: a contiguous float32 tensor (B, C, H, W),
 * batch first, then channels, then rows, then columns (PyTorch's layout).
 * A flat batch (B, C·H·W), e.g. Fashion-MNIST's (B, 784), becomes
 * (B, 1, 28, 28) through the Image(C, H, W) bond, a view; Flatten turns
 * (B, C, H, W) back into (B, C·H·W), a view too. The feature check that
 * compounds run before any data (ops->features) does not apply to NCHW
 * tensors, whose last dimension is W: these kinds report -1 (unknown) and
 * check their input shapes in ops->plan instead, naming themselves. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/blas.h"
#include "core/error.h"
#include "core/parallel.h"
#include "modules/conv.h"
#include "modules/kinds.h"
#include "modules/module.h"

/* ---- kernels: im2col and col2im ----------------------------------------- */

/* The output side of a convolution, or -1 when the padded input is smaller
 * than the kernel. */
static int64_t out_side(int64_t in, int64_t k, int64_t stride, int64_t pad)
{
    int64_t span = in + 2 * pad - k;
    return span < 0 ? -1 : span / stride + 1;
}

/* The output columns [*lo, *hi) whose input column ow·s − p + j lies inside
 * [0, w): the rest read padding. */
static void valid_range(const mn_conv_geom *g, int64_t j, int64_t *lo, int64_t *hi)
{
    int64_t off = j - g->pad; /* iw = ow·s + off */
    *lo = off >= 0 ? 0 : (-off + g->stride - 1) / g->stride;
    *hi = g->w - off <= 0 ? 0 : (g->w - off - 1) / g->stride + 1;
    if (*hi > g->wo)
        *hi = g->wo;
    if (*lo > *hi)
        *lo = *hi;
}

void mn_conv_im2col(float *cols, const float *x, const mn_conv_geom *g, int threads)
{
    int64_t P = g->ho * g->wo, BP = g->batch * P, kk = g->k * g->k;
    int64_t rows = g->c_in * kk;
    /* a task per (row of cols, image): a first layer has only k² rows (9 for
     * one channel), too few to share evenly */
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(threads, rows * BP))
    for (int64_t rb = 0; rb < rows * g->batch; rb++) {
        int64_t r = rb / g->batch, b = rb % g->batch;
        int64_t c = r / kk, i = (r % kk) / g->k, j = r % g->k, lo, hi, s = g->stride;
        valid_range(g, j, &lo, &hi);
        const float *plane = x + (b * g->c_in + c) * g->h * g->w;
        float *dst = cols + r * BP + b * P;
        for (int64_t oh = 0; oh < g->ho; oh++) {
            int64_t ih = oh * s - g->pad + i;
            float *row = dst + oh * g->wo;
            if (ih < 0 || ih >= g->h) {
                memset(row, 0, (size_t)g->wo * sizeof(float));
                continue;
            }
            int64_t at = ih * g->w + j - g->pad; /* plane[at + ow·s] */
            for (int64_t ow = 0; ow < lo; ow++)
                row[ow] = 0.0f;
            if (s == 1 && hi > lo)
                memcpy(row + lo, plane + at + lo, (size_t)(hi - lo) * sizeof(float));
            else
                for (int64_t ow = lo; ow < hi; ow++)
                    row[ow] = plane[at + ow * s];
            for (int64_t ow = hi; ow < g->wo; ow++)
                row[ow] = 0.0f;
        }
    }
}

void mn_conv_col2im(float *dx, const float *cols, const mn_conv_geom *g, int threads)
{
    int64_t P = g->ho * g->wo, BP = g->batch * P, kk = g->k * g->k;
    int64_t planes = g->batch * g->c_in;
    /* one (b, c) plane per task: the rows c·k² … c·k² + k² − 1 of cols write
     * only there, so no two tasks touch one element */
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(threads, planes * kk * P))
    for (int64_t bc = 0; bc < planes; bc++) {
        int64_t b = bc / g->c_in, c = bc % g->c_in, s = g->stride;
        float *plane = dx + bc * g->h * g->w;
        memset(plane, 0, (size_t)(g->h * g->w) * sizeof(float));
        for (int64_t t = 0; t < kk; t++) {
            int64_t i = t / g->k, j = t % g->k, lo, hi;
            valid_range(g, j, &lo, &hi);
            const float *src = cols + (c * kk + t) * BP + b * P;
            for (int64_t oh = 0; oh < g->ho; oh++) {
                int64_t ih = oh * s - g->pad + i;
                if (ih < 0 || ih >= g->h)
                    continue;
                int64_t at = ih * g->w + j - g->pad; /* plane[at + ow·s] */
                const float *in = src + oh * g->wo;
                for (int64_t ow = lo; ow < hi; ow++)
                    plane[at + ow * s] += in[ow];
            }
        }
    }
}

/* y (B, C, P) from t (C, B·P), or the reverse: one row of P floats at a time. */
static void cbp_to_bcp(float *y, const float *t, int64_t B, int64_t C, int64_t P, bool to_bcp,
                       int threads)
{
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(threads, B * C * P))
    for (int64_t bc = 0; bc < B * C; bc++) {
        int64_t b = bc / C, c = bc % C;
        float *nchw = y + bc * P;
        float *cbp = (float *)t + (c * B + b) * P;
        if (to_bcp)
            memcpy(nchw, cbp, (size_t)P * sizeof(float));
        else
            memcpy(cbp, nchw, (size_t)P * sizeof(float));
    }
}

/* ---- Conv2D --------------------------------------------------------------
 *
 * y[b, o, oh, ow] = Σ_{c,i,j} W[o, c, i, j]·x[b, c, oh·s − p + i, ow·s − p + j]
 * (zero outside the image), no bias. With cols = im2col(x), the
 * (d_in·k², B·P) matrix of input patches (P = H_out·W_out), this is one GEMM
 * per pass over the batch:
 *   forward   Y' = W·cols                  (d_out, B·P), then NCHW
 *   backward  dW += dY'·colsᵀ,  dcols = Wᵀ·dY',  dx = col2im(dcols)
 * where W is the row-major (d_out, d_in·k²) matrix that the weight
 * (d_out, d_in, k, k) is in memory (and that the norm sees). Forward saves
 * cols and a (d_out, B·P) buffer; backward reuses cols' memory for dcols
 * once dW is formed (so a backward consumes its forward's columns).
 *
 * Norms (norms/conv_taps.c): "taps-K" per tap (the default) and "rms-rms"
 * of the flattened matrix. Mass 1. Sensitivity: with x_t the (d_in, P_out)
 * input that tap t reads (zero where padded) y = Σ_t W_t·x_t, so
 *   ‖y‖_F ≤ Σ_t σ(W_t)‖x_t‖_F ≤ max_t σ(W_t)·k·(Σ_t ‖x_t‖²_F)^½
 *        ≤ max_t σ(W_t)·k·⌈k/s⌉·‖x‖_F
 * (Cauchy–Schwarz; each input element is read by at most ⌈k/s⌉² taps), and
 * in RMS units, with ‖W‖ = k²·max_t √(d_in/d_out)·σ(W_t):
 *   ‖y‖_RMS ≤ ‖W‖·(⌈k/s⌉/k)·√(P_in/P_out)·‖x‖_RMS.
 * The flattened norm gives the same factor (each input sits in at most
 * ⌈k/s⌉² patches: ‖y‖_F ≤ σ(W_flat)·⌈k/s⌉·‖x‖_F). With padding that keeps
 * the size (P_in = s²·P_out: 2p = k − 1 and H, W multiples of s) this is
 * ν = ⌈k/s⌉·s/k, the sensitivity declared: 1 for stride 1 (exact: a constant
 * image and W_t = I/k² reach it away from the border), 1 when s divides k,
 * 4/3 for k = 3, s = 2, s/k when s ≥ k (a strided 1x1 conv is a subsampling,
 * which an image whose energy sits on the stride grid magnifies by s in RMS).
 * Less padding than that shrinks P_out and multiplies the bound by
 * √(P_in/(s²·P_out)), which depends on the image size, unknown when the
 * module is built: it is not in ν. */

typedef struct {
    int64_t d_in, k, stride, pad;
} conv_state;

/* dW = dY'·colsᵀ sums over B·P, which BLIS does not split between threads
 * (it splits the output's rows and columns): a (d_out, d_in·k²) output of a
 * few micro-tiles, such as the CNN's first layer's 32 x 9 over 100352
 * columns, ran on one thread. Such a product is summed in column chunks of
 * a fixed size instead, side by side, then added in chunk order: the same
 * bits on any number of threads. */
#define DW_CHUNK_COLS 8192
#define DW_SPLIT_MAX_OUT 4096 /* floats of dW: about a dozen 32x12 micro-tiles */

/* The chunks dW's product is summed in, or 0 for one BLIS call. */
static int64_t dw_chunks(const mn_conv_geom *g)
{
    int64_t BP = g->batch * g->ho * g->wo, out = g->c_out * g->c_in * g->k * g->k;
    return out <= DW_SPLIT_MAX_OUT && BP >= 2 * DW_CHUNK_COLS
               ? (BP + DW_CHUNK_COLS - 1) / DW_CHUNK_COLS
               : 0;
}

static const conv_state *conv_of(const mn_module *m) { return mn_module_state(m); }

static mn_status conv_geom(const mn_module *m, const mn_shape *in, mn_conv_geom *g)
{
    const conv_state *s = conv_of(m);
    char buf[96];
    /* flat input gets the hint to Image(), 4-D input its channel count */
    if (in->ndim != 4)
        return mn_fail(MN_ERR_SHAPE, "%s takes NCHW images (B, %lld, H, W), receives a %d-D "
                       "tensor (Image(C, H, W) makes images of a flat batch)",
                       mn_module_describe(m, buf, sizeof buf), (long long)s->d_in, in->ndim);
    if (in->dim[1] != s->d_in)
        return mn_fail(MN_ERR_SHAPE, "%s takes NCHW images (B, %lld, H, W), receives a 4-D "
                       "tensor of %lld channels", mn_module_describe(m, buf, sizeof buf),
                       (long long)s->d_in, (long long)in->dim[1]);
    *g = (mn_conv_geom){.batch = in->dim[0], .c_in = s->d_in, .h = in->dim[2], .w = in->dim[3],
                        .c_out = m->d_out, .k = s->k, .stride = s->stride, .pad = s->pad};
    g->ho = out_side(g->h, s->k, s->stride, s->pad);
    g->wo = out_side(g->w, s->k, s->stride, s->pad);
    if (g->ho < 1 || g->wo < 1)
        return mn_fail(MN_ERR_SHAPE, "%s: a %lldx%lld image with padding %lld is smaller than "
                       "the %lldx%lld kernel", mn_module_describe(m, buf, sizeof buf),
                       (long long)g->h, (long long)g->w, (long long)s->pad, (long long)s->k,
                       (long long)s->k);
    return MN_OK;
}

static mn_status conv_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)n;
    mn_conv_geom g = {0};
    MN_TRY(conv_geom(m, &in[0], &g));
    p->out.ndim = 4;
    p->out.dim[1] = g.c_out;
    p->out.dim[2] = g.ho;
    p->out.dim[3] = g.wo;
    double bp = (double)g.batch * (double)(g.ho * g.wo);
    double saved = ((double)(g.c_in * g.k * g.k) + (double)g.c_out) * bp +
                   (double)(dw_chunks(&g) * g.c_out * g.c_in * g.k * g.k);
    if (saved > (double)(INT64_MAX / 8))
        return mn_fail(MN_ERR_SHAPE, "Conv2D: %.3g floats of columns do not fit", saved);
    p->saved = (int64_t)saved;
    return MN_OK;
}

static void conv_buffers(const mn_conv_geom *g, float *saved, mn_mat *cols, mn_mat *t)
{
    int64_t BP = g->batch * g->ho * g->wo, K = g->c_in * g->k * g->k;
    *cols = mn_mat_view(MN_F32, saved, K, BP);
    *t = mn_mat_view(MN_F32, saved + K * BP, g->c_out, BP);
}

static mn_status conv_forward(mn_module *m, const mn_module_call *c)
{
    mn_shape in = {.ndim = c->in[0]->ndim};
    memcpy(in.dim, c->in[0]->shape, sizeof in.dim);
    mn_conv_geom g = {0};
    MN_TRY(conv_geom(m, &in, &g));
    mn_mat cols, t;
    conv_buffers(&g, c->saved, &cols, &t);
    mn_conv_im2col(cols.data, c->in[0]->data, &g, c->threads);
    mn_mat W = mn_module_weight_view(m, m->w);
    MN_TRY(mn_blas_gemm(1.0, &W, &cols, 0.0, &t, c->threads));
    cbp_to_bcp(c->out->data, t.data, g.batch, g.c_out, g.ho * g.wo, true, c->threads);
    return MN_OK;
}

/* G += t·colsᵀ chunk by chunk (see dw_chunks), the partial products in
 * part (chunks x G's size) side by side, one BLIS thread each. */
static mn_status dw_chunked(mn_mat *G, const mn_mat *t, const mn_mat *cols, float *part,
                            int64_t chunks, int threads)
{
    int64_t size = G->rows * G->cols;
    mn_status failed = MN_OK;
    MN_PARALLEL_FOR_TASKS(mn_threads_resolve(threads))
    for (int64_t i = 0; i < chunks; i++) {
        int64_t lo = i * DW_CHUNK_COLS, n = t->cols - lo < DW_CHUNK_COLS ? t->cols - lo
                                                                          : DW_CHUNK_COLS;
        mn_mat ti = mn_mat_view(MN_F32, (float *)t->data + lo, t->rows, n);
        mn_mat ci = mn_mat_view(MN_F32, (float *)cols->data + lo, cols->rows, n);
        ti.rs = t->rs;
        ci.rs = cols->rs;
        mn_mat ciT = mn_mat_transpose(ci);
        mn_mat pi = mn_mat_view(MN_F32, part + i * size, G->rows, G->cols);
        mn_status st = mn_blas_gemm(1.0, &ti, &ciT, 0.0, &pi, 1);
        if (st != MN_OK) {
            MN_CRITICAL
            failed = st;
        }
    }
    if (failed != MN_OK)
        return failed;
    float *g = G->data;
    for (int64_t i = 0; i < chunks; i++)
        for (int64_t e = 0; e < size; e++)
            g[e] += part[i * size + e];
    return MN_OK;
}

static mn_status conv_backward(mn_module *m, const mn_module_call *c)
{
    mn_shape in = {.ndim = c->in[0]->ndim};
    memcpy(in.dim, c->in[0]->shape, sizeof in.dim);
    mn_conv_geom g = {0};
    MN_TRY(conv_geom(m, &in, &g));
    mn_mat cols, t;
    conv_buffers(&g, c->saved, &cols, &t);
    cbp_to_bcp(c->dout->data, t.data, g.batch, g.c_out, g.ho * g.wo, false, c->threads);
    mn_mat G = mn_module_weight_view(m, m->g);
    mn_mat colsT = mn_mat_transpose(cols);
    int64_t chunks = dw_chunks(&g);
    if (chunks > 0)
        MN_TRY(dw_chunked(&G, &t, &cols, (float *)t.data + t.rows * t.cols, chunks, c->threads));
    else
        MN_TRY(mn_blas_gemm(1.0, &t, &colsT, 1.0, &G, c->threads)); /* dW += dY'·colsᵀ */
    if (!c->din[0])
        return MN_OK;
    mn_mat Wt = mn_mat_transpose(mn_module_weight_view(m, m->w));
    MN_TRY(mn_blas_gemm(1.0, &Wt, &t, 0.0, &cols, c->threads)); /* dcols, over cols */
    mn_conv_col2im(c->din[0]->data, cols.data, &g, c->threads);
    return MN_OK;
}

/* Modular: a point of the unit sphere of whatever norm the atom has, the
 * lmo of a Gaussian matrix under it with the exact polar factor (per tap:
 * each tap orthogonal × √(d_out/d_in)/k²; flattened: orthogonal ×
 * √(d_out/(d_in·k²))). SP: PyTorch's nn.Conv2d default, U(±1/√(d_in·k²)). */
static mn_status conv_init(mn_module *m, mn_rng *rng, mn_param param)
{
    mn_mat W = mn_module_weight_view(m, m->w);
    if (param == MN_PARAM_SP) {
        mn_init_uniform_fan_in(&W, rng); /* W.cols = d_in·k² */
        return MN_OK;
    }
    mn_rng_fill_normal(rng, &W);
    return mn_norm_lmo(m->norm, &W, &W, NULL);
}

static int conv_args(const mn_module *m, double *a, int cap)
{
    const conv_state *s = conv_of(m);
    double v[5] = {(double)m->d_out, (double)s->d_in, (double)s->k, (double)s->stride,
                   (double)s->pad};
    for (int i = 0; i < 5 && i < cap; i++)
        a[i] = v[i];
    return 5;
}

static void conv_describe(const mn_module *m, char *buf, size_t cap)
{
    const conv_state *s = conv_of(m);
    snprintf(buf, cap, "Conv2D(%lld←%lld, %lldx%lld, s%lld p%lld)", (long long)m->d_out,
             (long long)s->d_in, (long long)s->k, (long long)s->k, (long long)s->stride,
             (long long)s->pad);
}

/* features: NCHW, the last dimension is W, a size known at run time (so for
 * the pools and GlobalMean's (B, C) too) */
static const mn_module_ops conv_ops = {
    .kind = "Conv2D", .state_size = sizeof(conv_state), .features = mn_features_at_run_time,
    .plan = conv_plan, .forward = conv_forward, .backward = conv_backward, .init = conv_init,
    .args = conv_args, .describe = conv_describe};

mn_status mn_conv2d(mn_module **out, int64_t d_out, int64_t d_in, int64_t k, int64_t stride,
                    int64_t padding)
{
    if (!out)
        return mn_fail(MN_ERR_ARG, "mn_conv2d: out is NULL");
    *out = NULL;
    if (d_out < 1 || d_in < 1 || k < 1 || k > 64 || stride < 1 || padding < 0 || padding >= k)
        return mn_fail(MN_ERR_ARG, "Conv2D(d_out %lld, d_in %lld, k %lld, stride %lld, padding "
                       "%lld): needs d_out, d_in >= 1, 1 <= k <= 64, stride >= 1 and "
                       "0 <= padding < k", (long long)d_out, (long long)d_in, (long long)k,
                       (long long)stride, (long long)padding);
    if (d_in > INT64_MAX / (k * k))
        return mn_fail(MN_ERR_ARG, "Conv2D: d_in·k² overflows");
    char name[32];
    snprintf(name, sizeof name, "taps-%lld", (long long)k);
    const mn_norm *norm;
    MN_TRY(mn_norm_lookup(name, &norm));
    conv_state s = {d_in, k, stride, padding};
    double nu = (double)((k + stride - 1) / stride) * (double)stride / (double)k;
    return mn_atom_create(out, &conv_ops, &s, d_out, d_in * k * k, norm, nu);
}

/* ---- Image(C, H, W): (B, C·H·W) → (B, C, H, W), a view ------------------ */

typedef struct {
    int64_t c, h, w;
} image_state;

static mn_status image_features(const mn_module *m, int n, const int64_t *in, int64_t *out)
{
    const image_state *s = mn_module_state(m);
    if (n > 0 && in[0] >= 0 && in[0] != s->c * s->h * s->w)
        return mn_fail(MN_ERR_SHAPE, "Image(%lld, %lld, %lld) expects %lld input features but "
                       "receives %lld", (long long)s->c, (long long)s->h, (long long)s->w,
                       (long long)(s->c * s->h * s->w), (long long)in[0]);
    *out = s->w;
    return MN_OK;
}

static mn_status image_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    const image_state *s = mn_module_state(m);
    int64_t f = in[0].dim[in[0].ndim - 1];
    MN_TRY(image_features(m, n, &f, &f));
    if (in[0].ndim != 2)
        return mn_fail(MN_ERR_SHAPE, "Image(%lld, %lld, %lld) takes a flat batch (B, %lld), "
                       "receives a %d-D tensor", (long long)s->c, (long long)s->h,
                       (long long)s->w, (long long)(s->c * s->h * s->w), in[0].ndim);
    p->out.ndim = 4;
    p->out.dim[1] = s->c;
    p->out.dim[2] = s->h;
    p->out.dim[3] = s->w;
    p->out_is_view = p->din_is_view = true;
    return MN_OK;
}

static int three_args(const mn_module *m, double *a, int cap)
{
    const int64_t *s = mn_module_state(m);
    for (int i = 0; i < 3 && i < cap; i++)
        a[i] = (double)s[i];
    return 3;
}

static const mn_module_ops image_ops = {.kind = "Image", .state_size = sizeof(image_state),
                                        .features = image_features, .plan = image_plan,
                                        .args = three_args};

mn_status mn_image(mn_module **out, int64_t c, int64_t h, int64_t w)
{
    if (out)
        *out = NULL;
    if (c < 1 || h < 1 || w < 1 || c > INT64_MAX / h || c * h > INT64_MAX / w)
        return mn_fail(MN_ERR_ARG, "Image(%lld, %lld, %lld): sizes must be >= 1 and their "
                       "product must fit", (long long)c, (long long)h, (long long)w);
    image_state s = {c, h, w};
    return mn_bond_create(out, &image_ops, &s, 1);
}

/* ---- pooling: (B, C, H, W) → (B, C, H/k, W/k), k x k windows, stride k ----
 *
 * H and W must be multiples of k (no window is cut, none dropped).
 * AvgPool: ν = 1. Each output is a window's mean, and mean² ≤ mean of
 * squares, so Σ y² ≤ Σ x²/k² while y has k² times fewer entries:
 * ‖y‖_RMS ≤ ‖x‖_RMS (equal for constant windows).
 * MaxPool: ν = k. |max a − max b| ≤ max|a − b|, so Σ (Δy)² ≤ Σ (Δx)² over
 * the window's largest difference only, and dividing by k² times fewer
 * entries gives ‖Δy‖_RMS ≤ k·‖Δx‖_RMS, reached when each window's change
 * sits in its maximum. (In the max-abs norm it would be 1; the modular norm
 * here measures activations in RMS.) */

typedef struct {
    int64_t k;
} pool_state;

static int64_t pool_k(const mn_module *m) { return ((const pool_state *)mn_module_state(m))->k; }

static mn_status pool_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)n;
    int64_t k = pool_k(m);
    if (in[0].ndim != 4)
        return mn_fail(MN_ERR_SHAPE, "%s(%lld) takes NCHW images whose H and W are multiples of "
                       "%lld, receives a %d-D tensor", m->ops->kind, (long long)k, (long long)k,
                       in[0].ndim);
    if (in[0].dim[2] % k != 0 || in[0].dim[3] % k != 0)
        return mn_fail(MN_ERR_SHAPE, "%s(%lld) takes NCHW images whose H and W are multiples of "
                       "%lld, receives %lld x %lld", m->ops->kind, (long long)k, (long long)k,
                       (long long)in[0].dim[2], (long long)in[0].dim[3]);
    p->out.dim[2] = in[0].dim[2] / k;
    p->out.dim[3] = in[0].dim[3] / k;
    return MN_OK;
}

/* MaxPool keeps the window offset of each maximum. */
static mn_status max_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    MN_TRY(pool_plan(m, n, in, p));
    p->saved = p->out.dim[0] * p->out.dim[1] * p->out.dim[2] * p->out.dim[3];
    return MN_OK;
}

/* Visit every output (plane, oh, ow) with its window's first input offset. */
#define POOL_LOOP(x, k, body)                                                                      \
    do {                                                                                           \
        int64_t H = (x)->shape[2], W = (x)->shape[3], Ho = H / (k), Wo = W / (k);                 \
        int64_t planes = (x)->shape[0] * (x)->shape[1];                                            \
        MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(c->threads, planes * H * W))                 \
        for (int64_t pl = 0; pl < planes; pl++)                                                    \
            for (int64_t oh = 0; oh < Ho; oh++)                                                    \
                for (int64_t ow = 0; ow < Wo; ow++) {                                              \
                    int64_t o = (pl * Ho + oh) * Wo + ow;                                          \
                    int64_t base = (pl * H + oh * (k)) * W + ow * (k);                             \
                    body                                                                           \
                }                                                                                  \
    } while (0)

static mn_status avg_forward(mn_module *m, const mn_module_call *c)
{
    int64_t k = pool_k(m);
    const float *x = c->in[0]->data;
    float *y = c->out->data;
    POOL_LOOP(c->in[0], k, {
        double s = 0;
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < k; j++)
                s += x[base + i * W + j];
        y[o] = (float)(s / (double)(k * k));
    });
    return MN_OK;
}

static mn_status avg_backward(mn_module *m, const mn_module_call *c)
{
    int64_t k = pool_k(m);
    const float *dy = c->dout->data;
    float *dx = c->din[0]->data;
    float inv = 1.0f / (float)(k * k);
    POOL_LOOP(c->in[0], k, {
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < k; j++)
                dx[base + i * W + j] = dy[o] * inv;
    });
    return MN_OK;
}

static mn_status max_forward(mn_module *m, const mn_module_call *c)
{
    int64_t k = pool_k(m);
    const float *x = c->in[0]->data;
    float *y = c->out->data, *arg = c->saved;
    POOL_LOOP(c->in[0], k, {
        int64_t best = 0;
        float top = x[base];
        for (int64_t i = 0; i < k; i++) /* the first of equal maxima, row by row */
            for (int64_t j = 0; j < k; j++)
                if (x[base + i * W + j] > top) {
                    top = x[base + i * W + j];
                    best = i * k + j;
                }
        y[o] = top;
        arg[o] = (float)best;
    });
    return MN_OK;
}

/* g where keep holds, else +0, with no branch: the maximum's place in its
 * window is random, and a branch on it mispredicts half the time. */
static inline float keep_if(float g, bool keep)
{
    uint32_t u;
    memcpy(&u, &g, sizeof u);
    u &= -(uint32_t)keep;
    memcpy(&g, &u, sizeof g);
    return g;
}

/* Row by row of dx, each element written once: the window's gradient where
 * its maximum sat, else 0 (zeroing each window's k x k block first cost a
 * memset call per window row). */
static mn_status max_backward(mn_module *m, const mn_module_call *c)
{
    int64_t k = pool_k(m);
    const float *dy = c->dout->data, *arg = c->saved;
    float *dx = c->din[0]->data;
    const mn_tensor *x = c->in[0];
    int64_t H = x->shape[2], W = x->shape[3], Ho = H / k, Wo = W / k;
    int64_t planes = x->shape[0] * x->shape[1];
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(c->threads, planes * H * W))
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t ih = 0; ih < H; ih++) {
            int64_t o = (pl * Ho + ih / k) * Wo;
            float *row = dx + (pl * H + ih) * W;
            int64_t first = (ih % k) * k; /* the offset of (ih, window column 0) */
            for (int64_t ow = 0; ow < Wo; ow++) {
                float g = dy[o + ow];
                int64_t at = (int64_t)arg[o + ow] - first; /* in [0, k) on the maximum's row */
                for (int64_t j = 0; j < k; j++)
                    row[ow * k + j] = keep_if(g, j == at);
            }
        }
    return MN_OK;
}

static int pool_args(const mn_module *m, double *a, int cap)
{
    if (cap >= 1)
        a[0] = (double)pool_k(m);
    return 1;
}

static const mn_module_ops avg_pool_ops = {
    .kind = "AvgPool", .state_size = sizeof(pool_state), .features = mn_features_at_run_time,
    .plan = pool_plan, .forward = avg_forward, .backward = avg_backward, .args = pool_args};
static const mn_module_ops max_pool_ops = {
    .kind = "MaxPool", .state_size = sizeof(pool_state), .features = mn_features_at_run_time,
    .plan = max_plan, .forward = max_forward, .backward = max_backward, .args = pool_args};

static mn_status pool_new(mn_module **out, const mn_module_ops *ops, int64_t k, double nu)
{
    if (out)
        *out = NULL;
    if (k < 1 || k > 64)
        return mn_fail(MN_ERR_ARG, "%s(%lld): the window k must be in [1, 64]", ops->kind,
                       (long long)k);
    pool_state s = {k};
    return mn_bond_create(out, ops, &s, nu);
}

mn_status mn_avg_pool(mn_module **out, int64_t k) { return pool_new(out, &avg_pool_ops, k, 1); }

mn_status mn_max_pool(mn_module **out, int64_t k)
{
    return pool_new(out, &max_pool_ops, k, (double)k);
}

/* ---- GlobalMean: (B, C, H, W) → (B, C), the mean of each plane ----------
 * ν = 1: a plane's mean² is at most the mean of its squares. */

static mn_status gmean_plan(const mn_module *m, int n, const mn_shape *in, mn_module_plan *p)
{
    (void)m;
    (void)n;
    if (in[0].ndim != 4)
        return mn_fail(MN_ERR_SHAPE, "GlobalMean takes NCHW images, receives a %d-D tensor",
                       in[0].ndim);
    p->out.ndim = 2;
    return MN_OK;
}

static mn_status gmean_forward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    const mn_tensor *x = c->in[0];
    int64_t planes = x->shape[0] * x->shape[1], P = x->shape[2] * x->shape[3];
    /* a plane per task: each sum stays in order on one thread */
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(c->threads, planes * P))
    for (int64_t pl = 0; pl < planes; pl++) {
        double s = 0;
        for (int64_t i = 0; i < P; i++)
            s += x->data[pl * P + i];
        c->out->data[pl] = (float)(s / (double)P);
    }
    return MN_OK;
}

static mn_status gmean_backward(mn_module *m, const mn_module_call *c)
{
    (void)m;
    const mn_tensor *x = c->in[0];
    int64_t planes = x->shape[0] * x->shape[1], P = x->shape[2] * x->shape[3];
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(c->threads, planes * P))
    for (int64_t pl = 0; pl < planes; pl++) {
        float g = (float)(c->dout->data[pl] / (double)P);
        for (int64_t i = 0; i < P; i++)
            c->din[0]->data[pl * P + i] = g;
    }
    return MN_OK;
}

static const mn_module_ops gmean_ops = {.kind = "GlobalMean", .features = mn_features_at_run_time,
                                        .plan = gmean_plan, .forward = gmean_forward,
                                        .backward = gmean_backward};

mn_status mn_global_mean(mn_module **out) { return mn_bond_create(out, &gmean_ops, NULL, 1); }

/* ---- makers ------------------------------------------------------------ */

/* args[0..n) as integers in [lo, 2^53]. */
static mn_status int_args(const char *kind, int n, const double *a, int64_t lo, int64_t *v)
{
    for (int i = 0; i < n; i++) {
        if (!(a[i] >= (double)lo && a[i] <= 0x1p53) || a[i] != floor(a[i]))
            return mn_fail(MN_ERR_ARG, "%s: argument %d (%.17g) is not an integer >= %lld", kind,
                           i + 1, a[i], (long long)lo);
        v[i] = (int64_t)a[i];
    }
    return MN_OK;
}

static mn_status make_conv(mn_module **out, int argc, const double *a)
{
    int64_t v[5] = {0, 0, 0, 1, 0};
    MN_TRY(int_args("Conv2D", argc < 3 ? argc : 3, a, 1, v));
    if (argc > 3)
        MN_TRY(int_args("Conv2D", argc - 3, a + 3, 0, v + 3));
    return mn_conv2d(out, v[0], v[1], v[2], v[3], v[4]);
}

static mn_status make_image(mn_module **out, int argc, const double *a)
{
    int64_t v[3];
    MN_TRY(int_args("Image", argc, a, 1, v));
    return mn_image(out, v[0], v[1], v[2]);
}

static mn_status make_avg(mn_module **out, int argc, const double *a)
{
    int64_t k;
    MN_TRY(int_args("AvgPool", argc, a, 1, &k));
    return mn_avg_pool(out, k);
}

static mn_status make_max(mn_module **out, int argc, const double *a)
{
    int64_t k;
    MN_TRY(int_args("MaxPool", argc, a, 1, &k));
    return mn_max_pool(out, k);
}

MN_MAKER_NO_ARGS(make_gmean, mn_global_mean)

const mn_module_maker mn_conv_makers[] = {
    {"Conv2D", "Conv2D(d_out, d_in, k, stride = 1, padding = 0)", 3, 5, make_conv},
    {"Image", "Image(C, H, W)", 3, 3, make_image},
    {"AvgPool", "AvgPool(k)", 1, 1, make_avg},
    {"MaxPool", "MaxPool(k)", 1, 1, make_max},
    {"GlobalMean", "GlobalMean", 0, 0, make_gmean},
};
const size_t mn_conv_maker_count = sizeof mn_conv_makers / sizeof mn_conv_makers[0];
