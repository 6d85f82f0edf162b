/* The bfloat16 product backend (see bf16.h): oneDNN's matmul primitive when
 * built with it and the CPU has bf16 units, else BLIS on widened operands. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/bf16.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/simd.h"

#ifdef MN_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

/* ---- conversion and views ---------------------------------------------------- */

/* The AVX-512 clone rounds and narrows 16 lanes in a handful of
 * instructions; the SSE2 baseline needs a dozen shuffles for every 8 (the
 * rounding of Linear's operands took a tenth of a bf16 GPT step that way). */
MN_CLONES static void round_run(mn_bf16 *restrict dst, const float *restrict src, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        dst[j] = mn_bf16_from_f32(src[j]);
}

MN_CLONES static void round_scaled_run(mn_bf16 *restrict dst, const float *restrict src,
                                       int64_t n, float f)
{
    for (int64_t j = 0; j < n; j++)
        dst[j] = mn_bf16_from_f32(f * src[j]);
}

/* Static clones behind plain functions: GCC gives a shared function's
 * clones a resolver of default visibility, which -fvisibility=hidden does
 * not reach, and the library would export it. */
void mn_bf16_round_run(mn_bf16 *restrict dst, const float *restrict src, int64_t n)
{
    round_run(dst, src, n);
}

void mn_bf16_round_scaled_run(mn_bf16 *restrict dst, const float *restrict src, int64_t n,
                              float f)
{
    round_scaled_run(dst, src, n, f);
}

/* Runs of 4096 elements (16 KiB read): as many as threads want, few enough
 * to keep the calls' overhead out of sight. */
enum { ROUND_RUN = 4096 };

void mn_bf16_round(mn_bf16 *dst, const float *src, int64_t n, int threads)
{
    int64_t runs = (n + ROUND_RUN - 1) / ROUND_RUN;
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(threads, n))
    for (int64_t r = 0; r < runs; r++) {
        int64_t lo = r * ROUND_RUN, len = n - lo < ROUND_RUN ? n - lo : ROUND_RUN;
        mn_bf16_round_run(dst + lo, src + lo, len);
    }
}

mn_bf16_mat mn_bf16_view(mn_bf16 *data, int64_t rows, int64_t cols)
{
    return (mn_bf16_mat){.rows = rows, .cols = cols, .rs = cols, .cs = 1, .data = data};
}

mn_bf16_mat mn_bf16_transpose(mn_bf16_mat a)
{
    return (mn_bf16_mat){.rows = a.cols, .cols = a.rows, .rs = a.cs, .cs = a.rs, .data = a.data};
}

/* ---- per-thread scratch ------------------------------------------------------------ */

/* Grow-only buffers of the calling thread (freed when it ends): the
 * fallback's widened operands (0, 1), oneDNN's scratchpad (2) and its stream,
 * mn_bf16_gemm_rounded's rounded operands (3, 4). */
enum { N_SCRATCH = 5 };
typedef struct {
    void *buf[N_SCRATCH];
    size_t bytes[N_SCRATCH];
#ifdef MN_HAVE_ONEDNN
    dnnl_stream_t stream;
#endif
} thread_state;

static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void state_free(void *p)
{
    thread_state *t = p;
    for (int i = 0; i < N_SCRATCH; i++)
        free(t->buf[i]);
#ifdef MN_HAVE_ONEDNN
    if (t->stream)
        dnnl_stream_destroy(t->stream);
#endif
    free(t);
}

static void make_state_key(void) { pthread_key_create(&state_key, state_free); }

static thread_state *state_get(void)
{
    pthread_once(&state_once, make_state_key);
    thread_state *t = pthread_getspecific(state_key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (t && pthread_setspecific(state_key, t) != 0) {
            free(t);
            t = NULL;
        }
    }
    return t;
}

/* Buffer `i` of the calling thread, at least `bytes` long (64-byte aligned). */
static void *scratch(int i, size_t bytes)
{
    thread_state *t = state_get();
    if (!t)
        return NULL;
    if (bytes > t->bytes[i]) {
        size_t rounded = (bytes + 63) / 64 * 64;
        void *p = aligned_alloc(64, rounded);
        if (!p)
            return NULL;
        free(t->buf[i]);
        t->buf[i] = p;
        t->bytes[i] = rounded;
    }
    return t->buf[i];
}

/* ---- which implementation -------------------------------------------------------- */

static bool forced_fallback = false;
static char impl_name[256] = "";
static bool native = false;

#ifdef MN_HAVE_ONEDNN
static dnnl_engine_t engine;
#endif

static void choose_impl(void)
{
#ifdef MN_HAVE_ONEDNN
    const dnnl_version_t *v = dnnl_version();
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    bool has_bf16 = (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
    if (!has_bf16) {
        snprintf(impl_name, sizeof impl_name,
                 "fallback: bf16 operands widened to float32, BLIS sgemm (oneDNN %d.%d.%d found "
                 "no AVX512-BF16 or AMX-BF16 on this CPU)",
                 v->major, v->minor, v->patch);
        return;
    }
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) {
        engine = NULL;
        snprintf(impl_name, sizeof impl_name,
                 "fallback: bf16 operands widened to float32, BLIS sgemm (oneDNN %d.%d.%d could "
                 "not create its CPU engine)",
                 v->major, v->minor, v->patch);
        return;
    }
    /* The kernel oneDNN picks for a small bf16 product names the ISA it uses. */
    const char *kernel = "unknown";
    dnnl_memory_desc_t a, b, c;
    dnnl_dims_t dims = {64, 64};
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    if (dnnl_memory_desc_init_by_tag(&a, 2, dims, dnnl_bf16, dnnl_ab) == dnnl_success &&
        dnnl_memory_desc_init_by_tag(&b, 2, dims, dnnl_bf16, dnnl_ab) == dnnl_success &&
        dnnl_memory_desc_init_by_tag(&c, 2, dims, dnnl_f32, dnnl_ab) == dnnl_success &&
        dnnl_matmul_desc_init(&md, &a, &b, NULL, &c) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL) == dnnl_success)
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &kernel);
    snprintf(impl_name, sizeof impl_name, "oneDNN %d.%d.%d, %s kernels", v->major, v->minor,
             v->patch, kernel);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    native = true;
#else
    snprintf(impl_name, sizeof impl_name,
             "fallback: bf16 operands widened to float32, BLIS sgemm (built without oneDNN)");
#endif
}

static pthread_once_t impl_once = PTHREAD_ONCE_INIT;

static bool use_onednn(void)
{
    pthread_once(&impl_once, choose_impl);
    return native && !forced_fallback;
}

bool mn_bf16_native(void) { return use_onednn(); }

const char *mn_bf16_impl(void)
{
    pthread_once(&impl_once, choose_impl);
    if (native && forced_fallback)
        return "fallback: bf16 operands widened to float32, BLIS sgemm (forced)";
    return impl_name;
}

void mn_bf16_force_fallback(bool on)
{
    pthread_once(&impl_once, choose_impl);
    forced_fallback = on;
}

/* ---- the fallback: widen, then BLIS --------------------------------------------- */

/* A float32 copy of a bf16 view, contiguous row-major, in scratch buffer i. */
static mn_status widen(int i, const mn_bf16_mat *A, mn_mat *out)
{
    float *p = scratch(i, (size_t)(A->rows * A->cols) * sizeof(float) + 1);
    if (!p)
        return mn_fail(MN_ERR_NOMEM, "bf16 product: cannot allocate a %lldx%lld scratch",
                       (long long)A->rows, (long long)A->cols);
    for (int64_t r = 0; r < A->rows; r++) {
        const mn_bf16 *src = A->data + r * A->rs;
        float *dst = p + r * A->cols;
        if (A->cs == 1)
            for (int64_t c = 0; c < A->cols; c++)
                dst[c] = mn_bf16_to_f32(src[c]);
        else
            for (int64_t c = 0; c < A->cols; c++)
                dst[c] = mn_bf16_to_f32(src[c * A->cs]);
    }
    *out = mn_mat_view(MN_F32, p, A->rows, A->cols);
    return MN_OK;
}

static mn_status fallback_gemm(const mn_bf16_mat *A, const mn_bf16_mat *B, double beta, mn_mat *C,
                               int threads)
{
    mn_mat a, b;
    MN_TRY(widen(0, A, &a));
    MN_TRY(widen(1, B, &b));
    return mn_blas_gemm(1.0, &a, &b, beta, C, threads);
}

/* ---- oneDNN ------------------------------------------------------------------------- */

#ifdef MN_HAVE_ONEDNN

/* One cached primitive: C (m x n, strides c_rs, c_cs = 1) = A·B (+ C). */
typedef struct {
    int64_t m, n, k, a_rs, a_cs, b_rs, b_cs, c_rs;
    int beta, threads;
} prim_key;

typedef struct {
    prim_key key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a, b, c, pad;
    size_t pad_bytes;
} prim_entry;

/* Never evicted (a running call may hold one); past the cap, a primitive is
 * made for the call and destroyed after it. A training run uses a few dozen. */
#define MAX_PRIMS 1024
static prim_entry prims[MAX_PRIMS];
static int n_prims = 0;
static pthread_mutex_t prims_lock = PTHREAD_MUTEX_INITIALIZER;

static bool key_eq(const prim_key *x, const prim_key *y) { return memcmp(x, y, sizeof *x) == 0; }

static mn_status dnnl_error(const char *what, dnnl_status_t s)
{
    return mn_fail(MN_ERR_NUMERIC, "bf16 product: oneDNN's %s failed (dnnl_status %d)", what,
                   (int)s);
}

/* Build the primitive for `key` (the caller's OpenMP thread count is set).
 * MN_ERR_UNSUPPORTED, with no message, when oneDNN has no kernel for it. */
static mn_status make_prim(const prim_key *key, prim_entry *e)
{
    dnnl_dims_t da = {key->m, key->k}, db = {key->k, key->n}, dc = {key->m, key->n};
    dnnl_dims_t sa = {key->a_rs, key->a_cs}, sb = {key->b_rs, key->b_cs}, sc = {key->c_rs, 1};
    dnnl_memory_desc_t a, b, c;
    dnnl_matmul_desc_t md;
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_strides(&a, 2, da, dnnl_bf16, sa)) != dnnl_success ||
        (s = dnnl_memory_desc_init_by_strides(&b, 2, db, dnnl_bf16, sb)) != dnnl_success ||
        (s = dnnl_memory_desc_init_by_strides(&c, 2, dc, dnnl_f32, sc)) != dnnl_success ||
        (s = dnnl_matmul_desc_init(&md, &a, &b, NULL, &c)) != dnnl_success)
        return dnnl_error("matmul descriptor", s);
    dnnl_primitive_attr_t attr;
    if ((s = dnnl_primitive_attr_create(&attr)) != dnnl_success)
        return dnnl_error("attribute", s);
    dnnl_post_ops_t po = NULL;
    s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && key->beta) {
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success)
            s = dnnl_post_ops_append_sum(po, 1.0f);
        if (s == dnnl_success)
            s = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(&pd, &md, attr, engine, NULL);
    if (po)
        dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    if (s == dnnl_unimplemented)
        return MN_ERR_UNSUPPORTED; /* no kernel for this layout: the caller falls back, silently */
    if (s != dnnl_success)
        return dnnl_error("matmul primitive descriptor", s);
    e->key = *key;
    e->a = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    e->b = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    e->c = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    e->pad = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    e->pad_bytes = dnnl_memory_desc_get_size(&e->pad);
    s = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    return s == dnnl_success ? MN_OK : dnnl_error("matmul primitive", s);
}

static mn_status run_prim(const prim_entry *e, const void *a, const void *b, void *c)
{
    thread_state *t = state_get();
    if (!t)
        return mn_fail(MN_ERR_NOMEM, "bf16 product: cannot allocate thread state");
    dnnl_status_t s = dnnl_success;
    if (!t->stream && (s = dnnl_stream_create(&t->stream, engine, dnnl_stream_default_flags)) !=
                          dnnl_success) {
        t->stream = NULL;
        return dnnl_error("stream", s);
    }
    void *pad = e->pad_bytes ? scratch(2, e->pad_bytes) : NULL;
    if (e->pad_bytes && !pad)
        return mn_fail(MN_ERR_NOMEM, "bf16 product: cannot allocate a %zu-byte scratchpad",
                       e->pad_bytes);
    dnnl_memory_t mem[4] = {NULL, NULL, NULL, NULL};
    const dnnl_memory_desc_t *mds[4] = {&e->a, &e->b, &e->c, &e->pad};
    void *ptrs[4] = {(void *)a, (void *)b, c, pad};
    int n = e->pad_bytes ? 4 : 3;
    for (int i = 0; i < n && s == dnnl_success; i++)
        s = dnnl_memory_create(&mem[i], mds[i], engine, ptrs[i]);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, mem[0]},
                                   {DNNL_ARG_WEIGHTS, mem[1]},
                                   {DNNL_ARG_DST, mem[2]},
                                   {DNNL_ARG_SCRATCHPAD, mem[3]}};
        s = dnnl_primitive_execute(e->prim, t->stream, n, args);
        if (s == dnnl_success)
            s = dnnl_stream_wait(t->stream);
    }
    for (int i = 0; i < 4; i++)
        if (mem[i])
            dnnl_memory_destroy(mem[i]);
    return s == dnnl_success ? MN_OK : dnnl_error("matmul execution", s);
}

/* C = A·B (+ C); C row-major (cs 1). The OpenMP thread count of the calling
 * thread is set for the call (oneDNN sizes its work split by it when the
 * primitive is made) and put back after. */
static mn_status onednn_gemm(const mn_bf16_mat *A, const mn_bf16_mat *B, bool beta, mn_mat *C,
                             int threads)
{
    double work = (double)C->rows * (double)C->cols * (double)A->cols;
    int t = mn_blas_threads(threads, work);
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    if (t <= 0)
        t = saved;
    omp_set_num_threads(t);
#endif
    prim_key key = {.m = C->rows, .n = C->cols, .k = A->cols, .a_rs = A->rs, .a_cs = A->cs,
                    .b_rs = B->rs, .b_cs = B->cs, .c_rs = C->rs, .beta = beta, .threads = t};
    const prim_entry *hit = NULL;
    prim_entry own = {0};
    mn_status st = MN_OK;
    pthread_mutex_lock(&prims_lock);
    for (int i = 0; i < n_prims && !hit; i++)
        if (key_eq(&prims[i].key, &key))
            hit = &prims[i];
    if (!hit) {
        st = make_prim(&key, &own);
        if (st == MN_OK && n_prims < MAX_PRIMS) {
            prims[n_prims] = own;
            hit = &prims[n_prims++];
            own.prim = NULL;
        } else if (st == MN_OK)
            hit = &own;
    }
    pthread_mutex_unlock(&prims_lock);
    if (st == MN_OK)
        st = run_prim(hit, A->data, B->data, C->data);
    if (own.prim)
        dnnl_primitive_destroy(own.prim);
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    return st;
}
#endif

/* ---- the products ------------------------------------------------------------------- */

static bool unit_stride(int64_t rs, int64_t cs) { return rs == 1 || cs == 1; }

static mn_status check_gemm(const mn_bf16_mat *A, const mn_bf16_mat *B, double beta,
                            const mn_mat *C)
{
    if (!A || !B || !C || (!A->data && A->rows * A->cols != 0) ||
        (!B->data && B->rows * B->cols != 0) || (!C->data && C->rows * C->cols != 0))
        return mn_fail(MN_ERR_ARG, "bf16 product: NULL argument");
    if (C->dtype != MN_F32)
        return mn_fail(MN_ERR_SHAPE, "bf16 product: C is %s, must be float32",
                       mn_dtype_name(C->dtype));
    if (A->cols != B->rows || C->rows != A->rows || C->cols != B->cols)
        return mn_fail(MN_ERR_SHAPE, "bf16 product: A is %lldx%lld, B %lldx%lld, C %lldx%lld",
                       (long long)A->rows, (long long)A->cols, (long long)B->rows,
                       (long long)B->cols, (long long)C->rows, (long long)C->cols);
    if (A->rows < 0 || A->cols < 0 || B->cols < 0)
        return mn_fail(MN_ERR_SHAPE, "bf16 product: negative size");
    if (!unit_stride(A->rs, A->cs) || !unit_stride(B->rs, B->cs) || !unit_stride(C->rs, C->cs))
        return mn_fail(MN_ERR_SHAPE, "bf16 product: every operand needs a unit stride "
                                     "(row-major or a transpose view)");
    if (beta != 0.0 && beta != 1.0)
        return mn_fail(MN_ERR_ARG, "bf16 product: beta = %g, must be 0 or 1", beta);
    return MN_OK;
}

mn_status mn_bf16_gemm(const mn_bf16_mat *A, const mn_bf16_mat *B, double beta, mn_mat *C,
                       int threads)
{
    MN_TRY(check_gemm(A, B, beta, C));
    if (C->rows == 0 || C->cols == 0)
        return MN_OK;
    if (A->cols == 0) {
        if (beta == 0.0)
            mn_mat_fill(C, 0.0);
        return MN_OK;
    }
#ifdef MN_HAVE_ONEDNN
    if (use_onednn()) {
        mn_status st;
        if (C->cs == 1)
            st = onednn_gemm(A, B, beta != 0.0, C, threads);
        else { /* a column-major C: Cᵀ = Bᵀ·Aᵀ, all views */
            mn_bf16_mat at = mn_bf16_transpose(*A), bt = mn_bf16_transpose(*B);
            mn_mat ct = mn_mat_transpose(*C);
            st = onednn_gemm(&bt, &at, beta != 0.0, &ct, threads);
        }
        if (st != MN_ERR_UNSUPPORTED)
            return st;
    }
#endif
    return fallback_gemm(A, B, beta, C, threads);
}

/* A compact bf16 copy of a float32 view with a unit stride, laid out as the
 * view is (rows contiguous, or columns), in scratch buffer i. */
static mn_status round_view(int i, const mn_mat *A, const char *name, int threads,
                            mn_bf16_mat *out)
{
    if (!A || A->dtype != MN_F32 || (!A->data && A->rows * A->cols != 0))
        return mn_fail(MN_ERR_ARG, "bf16 product: %s must be a float32 view with data", name);
    if (!unit_stride(A->rs, A->cs))
        return mn_fail(MN_ERR_SHAPE, "bf16 product: %s needs a unit stride", name);
    bool by_rows = A->cs == 1;
    int64_t lines = by_rows ? A->rows : A->cols, len = by_rows ? A->cols : A->rows;
    int64_t ld = by_rows ? A->rs : A->cs;
    mn_bf16 *p = scratch(i, (size_t)(lines * len) * sizeof(mn_bf16) + 1);
    if (!p)
        return mn_fail(MN_ERR_NOMEM, "bf16 product: cannot allocate a %lldx%lld scratch",
                       (long long)A->rows, (long long)A->cols);
    const float *src = A->data;
    MN_PARALLEL_FOR_RANGES(mn_elementwise_threads(threads, lines * len))
    for (int64_t l = 0; l < lines; l++)
        mn_bf16_round_run(p + l * len, src + l * ld, len);
    mn_bf16_mat v = mn_bf16_view(p, lines, len);
    *out = by_rows ? v : mn_bf16_transpose(v);
    return MN_OK;
}

mn_status mn_bf16_gemm_rounded(const mn_mat *A, const mn_mat *B, double beta, mn_mat *C,
                               int threads)
{
    mn_bf16_mat a, b;
    MN_TRY(round_view(3, A, "A", threads, &a));
    MN_TRY(round_view(4, B, "B", threads, &b));
    return mn_bf16_gemm(&a, &b, beta, C, threads);
}

/* Row blocks of the triangle: about BLOCK_ROWS rows each, a multiple of 16. */
#define BLOCK_ROWS 256

static int64_t syrk_blocks(int64_t m) { return (m + BLOCK_ROWS - 1) / BLOCK_ROWS; }

static int64_t block_start(int64_t m, int64_t nb, int64_t i)
{
    if (i >= nb)
        return m;
    int64_t r = (m * i / nb + 8) / 16 * 16;
    return r < m ? r : m;
}

double mn_bf16_syrk_flops(int64_t m, int64_t k)
{
    if (!use_onednn())
        return (double)m * (double)(m + 1) * (double)k; /* BLIS ssyrk: the triangle */
    int64_t nb = syrk_blocks(m);
    double total = 0;
    for (int64_t i = 0; i < nb; i++) {
        int64_t r0 = block_start(m, nb, i), r1 = block_start(m, nb, i + 1);
        total += 2.0 * (double)(r1 - r0) * (double)r1 * (double)k;
    }
    return total;
}

mn_status mn_bf16_syrk_lower(const mn_bf16_mat *A, mn_mat *C, int threads)
{
    if (!A || !C)
        return mn_fail(MN_ERR_ARG, "bf16 syrk: NULL argument");
    mn_bf16_mat at = mn_bf16_transpose(*A);
    if (C->rows != A->rows || C->cols != A->rows)
        return mn_fail(MN_ERR_SHAPE, "bf16 syrk: A is %lldx%lld, C %lldx%lld",
                       (long long)A->rows, (long long)A->cols, (long long)C->rows,
                       (long long)C->cols);
    MN_TRY(check_gemm(A, &at, 0.0, C));
    int64_t m = A->rows, k = A->cols;
    if (m == 0)
        return MN_OK;
    if (k == 0) {
        mn_mat_fill(C, 0.0);
        return MN_OK;
    }
    if (!use_onednn()) {
        mn_mat a;
        MN_TRY(widen(0, A, &a));
        return mn_blas_syrk_lower(1.0, &a, 0.0, C, threads);
    }
    /* Block i of rows [r0, r1): C[r0:r1, 0:r1] = A[r0:r1, :]·A[0:r1, :]ᵀ. */
    int64_t nb = syrk_blocks(m);
    for (int64_t i = 0; i < nb; i++) {
        int64_t r0 = block_start(m, nb, i), r1 = block_start(m, nb, i + 1);
        mn_bf16_mat rows = {.rows = r1 - r0, .cols = k, .rs = A->rs, .cs = A->cs,
                            .data = A->data + r0 * A->rs};
        mn_bf16_mat top = {.rows = k, .cols = r1, .rs = A->cs, .cs = A->rs, .data = A->data};
        mn_mat c = *C;
        c.rows = r1 - r0;
        c.cols = r1;
        c.data = (float *)C->data + r0 * C->rs;
        MN_TRY(mn_bf16_gemm(&rows, &top, 0.0, &c, threads));
    }
    return MN_OK;
}
