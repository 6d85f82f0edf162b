/* Whether batching the polar iteration of same-shape atoms would pay: NB
 * bf16 products M x N x K (float32 result) as NB oneDNN matmul calls, one
 * after another, against one batched call (NB, M, K) x (NB, K, N), best of
 * 7 rounds of 20. The GPT at width 128 has 16 atoms of 128 x 128 (q, k, v,
 * o of 4 blocks); the solver runs their iterations side by side, one
 * thread each, so the separate calls at 1 thread are what it pays per core.
 *
 *   gcc -O2 bench/onednn_batch.c -o /tmp/onednn_batch -ldnnl
 *   OMP_NUM_THREADS=T /tmp/onednn_batch [NB M N K]      (default 16 128 128 128)
 *
 * Times only (operands are constants): the products are checked in
 * tests/test_bf16.c. */
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { ROUNDS = 7, CALLS = 20 };

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void check(dnnl_status_t s, const char *what)
{
    if (s != dnnl_success) {
        fprintf(stderr, "onednn_batch: %s failed (%d)\n", what, (int)s);
        exit(1);
    }
}

/* A row-major matmul primitive over nb (1: plain 2-D) matrices. */
static dnnl_primitive_t make(int nb, int m, int n, int k, const char **impl)
{
    dnnl_memory_desc_t a, b, c;
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    int nd = nb == 1 ? 2 : 3;
    dnnl_format_tag_t tag = nb == 1 ? dnnl_ab : dnnl_abc;
    dnnl_dims_t da = {nb, m, k}, db = {nb, k, n}, dc = {nb, m, n};
    int s = nb == 1 ? 1 : 0; /* 2-D: drop the batch dimension */
    check(dnnl_memory_desc_init_by_tag(&a, nd, da + s, dnnl_bf16, tag), "A's descriptor");
    check(dnnl_memory_desc_init_by_tag(&b, nd, db + s, dnnl_bf16, tag), "B's descriptor");
    check(dnnl_memory_desc_init_by_tag(&c, nd, dc + s, dnnl_f32, tag), "C's descriptor");
    check(dnnl_matmul_desc_init(&md, &a, &b, NULL, &c), "matmul descriptor");
    check(dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL), "primitive descriptor");
    check(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, impl), "impl query");
    check(dnnl_primitive_create(&p, pd), "primitive");
    return p;
}

static void run(dnnl_primitive_t p, void *A, void *B, void *C)
{
    const_dnnl_primitive_desc_t pd;
    check(dnnl_primitive_get_primitive_desc(p, &pd), "primitive's descriptor");
    dnnl_memory_t ma, mb, mc;
    check(dnnl_memory_create(&ma, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), engine,
                             A), "A");
    check(dnnl_memory_create(&mb, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                             engine, B), "B");
    check(dnnl_memory_create(&mc, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), engine,
                             C), "C");
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
    check(dnnl_primitive_execute(p, stream, 3, args), "execute");
    dnnl_memory_destroy(ma);
    dnnl_memory_destroy(mb);
    dnnl_memory_destroy(mc);
}

int main(int argc, char **argv)
{
    int nb = 16, m = 128, n = 128, k = 128;
    if (argc == 5) {
        nb = atoi(argv[1]), m = atoi(argv[2]), n = atoi(argv[3]), k = atoi(argv[4]);
    } else if (argc != 1) {
        fprintf(stderr, "usage: onednn_batch [NB M N K]\n");
        return 2;
    }
    if (nb < 2 || m < 1 || n < 1 || k < 1 || (double)nb * m * n > 1e9) {
        fprintf(stderr, "onednn_batch: NB >= 2 and M, N, K >= 1 (NB·M·N <= 1e9)\n");
        return 2;
    }
    check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine");
    check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags), "stream");
    size_t sa = (size_t)nb * m * k, sb = (size_t)nb * k * n, sc = (size_t)nb * m * n;
    uint16_t *A = malloc(sa * 2), *B = malloc(sb * 2);
    float *C = malloc(sc * 4);
    if (!A || !B || !C) {
        fprintf(stderr, "onednn_batch: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < sa; i++)
        A[i] = 0x3f80; /* 1.0 in bf16 */
    for (size_t i = 0; i < sb; i++)
        B[i] = 0x3f00; /* 0.5 */
    const char *impl1, *implb;
    dnnl_primitive_t one = make(1, m, n, k, &impl1), batched = make(nb, m, n, k, &implb);
    double separate = 1e30, together = 1e30;
    for (int r = 0; r < ROUNDS; r++) { /* alternating, so both see the same phases */
        double t0 = now();
        for (int c = 0; c < CALLS; c++)
            for (int i = 0; i < nb; i++)
                run(one, A + (size_t)i * m * k, B + (size_t)i * k * n, C + (size_t)i * m * n);
        double t1 = now();
        for (int c = 0; c < CALLS; c++)
            run(batched, A, B, C);
        double t2 = now();
        separate = (t1 - t0) / CALLS < separate ? (t1 - t0) / CALLS : separate;
        together = (t2 - t1) / CALLS < together ? (t2 - t1) / CALLS : together;
    }
    double flops = 2.0 * nb * m * n * k;
    printf("%d x (%d x %d x %d) bf16: %d calls %.1f us (%.0f GFLOP/s, %s), one batched call "
           "%.1f us (%.0f GFLOP/s, %s): batched/separate speed %.2fx\n",
           nb, m, n, k, nb, separate * 1e6, flops / separate / 1e9, impl1, together * 1e6,
           flops / together / 1e9, implb, separate / together);
    return 0;
}
