/* oneDNN's matmul primitive, cached (onednn.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"
#include "core/error.h"
#include "core/onednn.h"
#include "core/scratch.h"

#ifdef MN_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#endif

enum { N_TYPES = 2 };

static atomic_bool forced_off[N_TYPES]; /* set by tests while products run */
static bool usable[N_TYPES];
static char description[N_TYPES][192];
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

#ifdef MN_HAVE_ONEDNN

static dnnl_engine_t engine;

static dnnl_data_type_t operand_type(mn_onednn_type t)
{
    return t == MN_ONEDNN_BF16 ? dnnl_bf16 : dnnl_f32;
}

/* The kernel oneDNN picks for a small product of `type` names the ISA it uses. */
static const char *kernel_name(mn_onednn_type type, char *buf, size_t size)
{
    const char *kernel = "unknown";
    dnnl_memory_desc_t a, b, c;
    dnnl_dims_t dims = {64, 64};
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    if (dnnl_memory_desc_init_by_tag(&a, 2, dims, operand_type(type), dnnl_ab) == dnnl_success &&
        dnnl_memory_desc_init_by_tag(&b, 2, dims, operand_type(type), dnnl_ab) == dnnl_success &&
        dnnl_memory_desc_init_by_tag(&c, 2, dims, dnnl_f32, dnnl_ab) == dnnl_success &&
        dnnl_matmul_desc_init(&md, &a, &b, NULL, &c) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL) == dnnl_success)
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &kernel);
    snprintf(buf, size, "%s", kernel);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    return buf;
}

static void probe(void)
{
    const dnnl_version_t *v = dnnl_version();
    char ver[32];
    snprintf(ver, sizeof ver, "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    bool has[N_TYPES] = {
        [MN_ONEDNN_BF16] = (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16,
        [MN_ONEDNN_F32] = (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core};
    static const char *const missing[N_TYPES] = {
        [MN_ONEDNN_BF16] = "found no AVX512-BF16 or AMX-BF16 on this CPU",
        [MN_ONEDNN_F32] = "found no AVX-512 on this CPU"};
    for (int t = 0; t < N_TYPES; t++)
        snprintf(description[t], sizeof description[t], "%s %s", ver, missing[t]);
#ifndef _OPENMP
    /* Without OpenMP a call's thread count cannot reach oneDNN, which would
     * run every product on every core; the float32 products stay on BLIS. */
    if (has[MN_ONEDNN_F32])
        snprintf(description[MN_ONEDNN_F32], sizeof description[MN_ONEDNN_F32],
                 "%s not used for float32: modnorm was built without OpenMP, which sets its "
                 "thread count", ver);
    has[MN_ONEDNN_F32] = false;
#endif
    if ((has[0] || has[1]) && dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) {
        engine = NULL;
        for (int t = 0; t < N_TYPES; t++)
            if (has[t])
                snprintf(description[t], sizeof description[t],
                         "%s could not create its CPU engine", ver);
        return;
    }
    for (int t = 0; t < N_TYPES; t++) {
        char kernel[96];
        if (has[t])
            snprintf(description[t], sizeof description[t], "%s, %s kernels", ver,
                     kernel_name((mn_onednn_type)t, kernel, sizeof kernel));
        usable[t] = has[t];
    }
}

#else

static void probe(void)
{
    for (int t = 0; t < N_TYPES; t++)
        snprintf(description[t], sizeof description[t], "built without oneDNN");
}

#endif

bool mn_onednn_available(mn_onednn_type type)
{
    pthread_once(&probe_once, probe);
    return usable[type] && !atomic_load(&forced_off[type]);
}

const char *mn_onednn_describe(mn_onednn_type type)
{
    pthread_once(&probe_once, probe);
    return description[type];
}

void mn_onednn_force_off(mn_onednn_type type, bool on)
{
    pthread_once(&probe_once, probe);
    atomic_store(&forced_off[type], on);
}

bool mn_onednn_forced_off(mn_onednn_type type) { return atomic_load(&forced_off[type]); }

#ifndef MN_HAVE_ONEDNN

mn_status mn_onednn_matmul(mn_onednn_type type, int64_t k, mn_onednn_operand a,
                           mn_onednn_operand b, bool accumulate, mn_mat *C, int threads)
{
    (void)type, (void)k, (void)a, (void)b, (void)accumulate, (void)C, (void)threads;
    return MN_ERR_UNSUPPORTED;
}

#else

/* ---- per-thread stream --------------------------------------------------------- */

/* A stream may not run on two threads at once: each thread keeps its own,
 * destroyed when the thread ends (its scratchpad is a core/scratch.c slot). */
static pthread_key_t stream_key;
static pthread_once_t stream_once = PTHREAD_ONCE_INIT;

static void stream_free(void *p) { dnnl_stream_destroy(p); }

static void make_stream_key(void) { pthread_key_create(&stream_key, stream_free); }

static dnnl_stream_t stream_get(dnnl_status_t *s)
{
    pthread_once(&stream_once, make_stream_key);
    dnnl_stream_t st = pthread_getspecific(stream_key);
    *s = dnnl_success;
    if (!st) {
        if ((*s = dnnl_stream_create(&st, engine, dnnl_stream_default_flags)) != dnnl_success)
            return NULL;
        if (pthread_setspecific(stream_key, st) != 0) {
            dnnl_stream_destroy(st);
            *s = dnnl_out_of_memory;
            return NULL;
        }
    }
    return st;
}

/* ---- the primitive cache ----------------------------------------------------------- */

/* One cached primitive: C (m x n, strides c_rs, 1) = A·B (+ C); prim is
 * NULL for a layout oneDNN has no kernel for (asked once, remembered). */
typedef struct {
    int64_t m, n, k, a_rs, a_cs, b_rs, b_cs, c_rs;
    int64_t type, beta, threads; /* no padding: keys compare with memcmp */
} prim_key;

typedef struct {
    prim_key key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a, b, c, pad;
    size_t pad_bytes;
} prim_entry;

/* Never evicted (a running call may hold one); past the cap, a primitive is
 * made for the call and destroyed after it. */
#define MAX_PRIMS 1024
static prim_entry prims[MAX_PRIMS];
static int n_prims = 0;
static pthread_mutex_t prims_lock = PTHREAD_MUTEX_INITIALIZER;

static bool key_eq(const prim_key *x, const prim_key *y) { return memcmp(x, y, sizeof *x) == 0; }

static mn_status dnnl_error(const prim_key *key, const char *what, dnnl_status_t s)
{
    return mn_fail(MN_ERR_NUMERIC, "%s product: oneDNN's %s failed (dnnl_status %d)",
                   key->type == (int64_t)MN_ONEDNN_BF16 ? "bf16" : "float32", what, (int)s);
}

/* Build the primitive for `key` (the caller's OpenMP thread count is set);
 * when oneDNN has no kernel for it, an entry with prim NULL (MN_OK). */
static mn_status make_prim(const prim_key *key, prim_entry *e)
{
    dnnl_dims_t da = {key->m, key->k}, db = {key->k, key->n}, dc = {key->m, key->n};
    dnnl_dims_t sa = {key->a_rs, key->a_cs}, sb = {key->b_rs, key->b_cs}, sc = {key->c_rs, 1};
    dnnl_data_type_t in = operand_type((mn_onednn_type)key->type);
    dnnl_memory_desc_t a, b, c;
    dnnl_matmul_desc_t md;
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_strides(&a, 2, da, in, sa)) != dnnl_success ||
        (s = dnnl_memory_desc_init_by_strides(&b, 2, db, in, sb)) != dnnl_success ||
        (s = dnnl_memory_desc_init_by_strides(&c, 2, dc, dnnl_f32, sc)) != dnnl_success ||
        (s = dnnl_matmul_desc_init(&md, &a, &b, NULL, &c)) != dnnl_success)
        return dnnl_error(key, "matmul descriptor", s);
    dnnl_primitive_attr_t attr;
    if ((s = dnnl_primitive_attr_create(&attr)) != dnnl_success)
        return dnnl_error(key, "attribute", s);
    dnnl_post_ops_t po = NULL;
    s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    /* No implicit down-conversion of float32, whatever the process default. */
    if (s == dnnl_success)
        s = dnnl_primitive_attr_set_fpmath_mode(attr, dnnl_fpmath_mode_strict);
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
    if (s == dnnl_unimplemented) { /* no kernel for this layout: the caller falls back */
        e->key = *key;
        e->prim = NULL;
        return MN_OK;
    }
    if (s != dnnl_success)
        return dnnl_error(key, "matmul primitive descriptor", s);
    e->key = *key;
    e->a = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    e->b = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    e->c = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    e->pad = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    e->pad_bytes = dnnl_memory_desc_get_size(&e->pad);
    s = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    return s == dnnl_success ? MN_OK : dnnl_error(key, "matmul primitive", s);
}

static mn_status run_prim(const prim_entry *e, const void *a, const void *b, void *c)
{
    dnnl_status_t s;
    dnnl_stream_t stream = stream_get(&s);
    if (!stream)
        return dnnl_error(&e->key, "stream", s);
    void *pad = NULL;
    if (e->pad_bytes)
        MN_TRY(mn_scratch_get(MN_SCRATCH_ONEDNN_PAD, e->pad_bytes, "oneDNN product (scratchpad)",
                              &pad));
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
        s = dnnl_primitive_execute(e->prim, stream, n, args);
        if (s == dnnl_success)
            s = dnnl_stream_wait(stream);
    }
    for (int i = 0; i < 4; i++)
        if (mem[i])
            dnnl_memory_destroy(mem[i]);
    return s == dnnl_success ? MN_OK : dnnl_error(&e->key, "matmul execution", s);
}

/* The cached primitive for `key` into *out, made (with the calling thread's
 * OpenMP thread count, which the caller has set) when missing; past the
 * cap, made into *own, which the caller destroys after the call. */
static mn_status lookup(const prim_key *key, prim_entry *own, const prim_entry **out)
{
    const prim_entry *hit = NULL;
    mn_status st = MN_OK;
    pthread_mutex_lock(&prims_lock);
    for (int i = 0; i < n_prims && !hit; i++)
        if (key_eq(&prims[i].key, key))
            hit = &prims[i];
    if (!hit) {
        prim_entry made = {0};
        st = make_prim(key, &made);
        if (st == MN_OK && n_prims < MAX_PRIMS) {
            prims[n_prims] = made;
            hit = &prims[n_prims++];
        } else if (st == MN_OK) {
            *own = made;
            hit = own;
        }
    }
    pthread_mutex_unlock(&prims_lock);
    *out = hit;
    return st;
}

/* The calling thread's OpenMP thread count (1 without OpenMP, where only
 * bf16 products come here), and setting it. */
static int omp_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static void set_omp_threads(int t)
{
#ifdef _OPENMP
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

/* ---- float32: small outputs as fixed tiles ------------------------------------------------
 *
 * oneDNN splits a product's long sum (k) among its threads when it judges
 * the output too small or too narrow to keep them busy: the dW of a narrow
 * Linear over thousands of tokens (64 x 64 over 4096 at 2 threads) summed
 * in another order than at 1 thread, so training lost the same bits at
 * every thread count that BLIS, which splits only the output, gives. So a
 * float32 product with an output of at most TILED_OUTPUT entries runs as
 * fixed tiles of C, each one oneDNN call on one thread, where no sum is
 * split: the tiles depend on the shape alone and the threads only share
 * them out (each tile's bits depend on its shape, so the tiles must not
 * depend on the thread count, even at 1). Tiles of such outputs ran in
 * 0.9-1.05x the whole product's time at 2 threads on the GPT's and MLP's
 * dW shapes. Larger outputs run whole on oneDNN's own threads: as tiles
 * they ran 1.3-2x slower (a tile's one-thread dW kernel is slower than the
 * whole product's, at 1 thread too). Their bits can depend on the thread
 * count: oneDNN split the sum of tall, narrow dWs (8192 x 64 over 4096
 * tokens at 2 threads, 4096 x 80 at 4, 512 x 512 over 8192 at 16), though
 * not of the GPT's or the MLP's at 1-3 threads (tests/test_bf16.c). */

#define TILED_OUTPUT (1 << 18) /* entries of C: up to 512 x 512 */
#define TILE_WORK (1 << 23)    /* multiply-adds per tile: at most about this */
#define TILE_EDGE 32           /* edges of at most this are not halved */

/* Halve the rows (then the columns) to multiples of 16 while the tiles are
 * fewer than work / TILE_WORK and the edge is over TILE_EDGE. */
static void tile_shape(int64_t m, int64_t n, int64_t k, int64_t *tm, int64_t *tn)
{
    double want = (double)m * (double)n * (double)k / TILE_WORK;
    *tm = m;
    *tn = n;
    for (;;) {
        double tiles = (double)((m + *tm - 1) / *tm) * (double)((n + *tn - 1) / *tn);
        int64_t *e = *tm > TILE_EDGE ? tm : tn;
        if (tiles >= want || *e <= TILE_EDGE)
            return;
        *e = (*e / 2 + 15) / 16 * 16;
    }
}

/* The tiles' C (m x n) = A·B (+ C), float32: A's rows and B's columns
 * stepped through with their strides. */
static mn_status run_tiles(const prim_key *whole, mn_onednn_operand a, mn_onednn_operand b,
                           mn_mat *C, int threads)
{
    int64_t m = whole->m, n = whole->n, tm, tn;
    tile_shape(m, n, whole->k, &tm, &tn);
    int64_t gm = (m + tm - 1) / tm, gn = (n + tn - 1) / tn, tiles = gm * gn;
    /* The up to four tile shapes (inner, last row, last column, corner),
     * made before any tile runs so that a missing kernel writes nothing. */
    const prim_entry *use[2][2];
    prim_entry own[2][2];
    memset(own, 0, sizeof own);
    mn_status st = MN_OK;
    /* Each tile's primitive is made for one thread and runs on one: oneDNN
     * reads the thread count at both (a primitive made for one thread but
     * run with more spread its copies over them, at twice the time). */
    int saved = omp_threads();
    set_omp_threads(1);
    for (int i = 0; i < 2 && st == MN_OK; i++)
        for (int j = 0; j < 2 && st == MN_OK; j++) {
            prim_key key = *whole;
            key.m = i ? m - (gm - 1) * tm : tm;
            key.n = j ? n - (gn - 1) * tn : tn;
            key.threads = 1;
            st = lookup(&key, &own[i][j], &use[i][j]);
            if (st == MN_OK && !use[i][j]->prim)
                st = MN_ERR_UNSUPPORTED;
        }
    int t = tiles < threads ? (int)tiles : threads;
    char message[1024] = "";
    mn_status failed = MN_OK;
    if (st == MN_OK) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(t) schedule(static) if (t > 1)
#endif
        for (int64_t i = 0; i < tiles; i++) {
            int64_t bi = i / gn, bj = i % gn;
            const prim_entry *e = use[bi == gm - 1][bj == gn - 1];
            const float *pa = (const float *)a.data + bi * tm * a.rs;
            const float *pb = (const float *)b.data + bj * tn * b.cs;
            float *pc = (float *)C->data + bi * tm * C->rs + bj * tn;
            mn_status r = run_prim(e, pa, pb, pc);
            if (r != MN_OK) {
#ifdef _OPENMP
#pragma omp critical
#endif
                if (failed == MN_OK) {
                    failed = r;
                    snprintf(message, sizeof message, "%s", mn_last_error());
                }
            }
        }
        if (failed != MN_OK)
            st = mn_fail(failed, "%s", message);
    }
    set_omp_threads(saved);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (own[i][j].prim)
                dnnl_primitive_destroy(own[i][j].prim);
    return st;
}

/* The OpenMP thread count of the calling thread is set for the call (oneDNN
 * sizes its work split by it when the primitive is made) and put back after. */
mn_status mn_onednn_matmul(mn_onednn_type type, int64_t k, mn_onednn_operand a,
                           mn_onednn_operand b, bool accumulate, mn_mat *C, int threads)
{
    if (!mn_onednn_available(type))
        return MN_ERR_UNSUPPORTED;
    if (C->cs != 1) { /* a column-major C: Cᵀ = Bᵀ·Aᵀ, all views */
        mn_mat ct = mn_mat_transpose(*C);
        mn_onednn_operand at = {.rs = a.cs, .cs = a.rs, .data = a.data};
        mn_onednn_operand bt = {.rs = b.cs, .cs = b.rs, .data = b.data};
        return mn_onednn_matmul(type, k, bt, at, accumulate, &ct, threads);
    }
    double work = (double)C->rows * (double)C->cols * (double)k;
    int t = mn_blas_threads(threads, work);
    int saved = omp_threads();
    if (t <= 0)
        t = saved;
    prim_key key = {.m = C->rows, .n = C->cols, .k = k, .a_rs = a.rs, .a_cs = a.cs,
                    .b_rs = b.rs, .b_cs = b.cs, .c_rs = C->rs, .type = (int64_t)type,
                    .beta = accumulate, .threads = t};
    if (type == MN_ONEDNN_F32 && (double)key.m * (double)key.n <= TILED_OUTPUT)
        return run_tiles(&key, a, b, C, t);
    set_omp_threads(t);
    const prim_entry *hit = NULL;
    prim_entry own = {0};
    mn_status st = lookup(&key, &own, &hit);
    if (st == MN_OK)
        st = hit->prim ? run_prim(hit, a.data, b.data, C->data) : MN_ERR_UNSUPPORTED;
    if (own.prim)
        dnnl_primitive_destroy(own.prim);
    set_omp_threads(saved);
    return st;
}

#endif
