/* float32 products of a network's Linear layers, BLIS (skx kernels) against
 * oneDNN's matmul (brgemm), alternating shape by shape in one process: the
 * measurement behind core/onednn.h's choice of oneDNN for mn_mat_gemm's
 * float32 products on AVX-512 CPUs. Best of 7 rounds of 20 calls each.
 *
 *   gcc -O2 -fopenmp bench/onednn_f32.c -o /tmp/onednn_f32 \
 *       -I/usr/include/x86_64-linux-gnu/blis-openmp \
 *       -L/usr/lib/x86_64-linux-gnu/blis-openmp -lblis -ldnnl -lm
 *   BLIS_ARCH_TYPE=0 /tmp/onednn_f32 THREADS [M,N,K,TA,TB ...]
 *
 * BLIS_ARCH_TYPE=0 is skx, the kernels modnorm picks on AVX-512 (blas.c).
 * C (M x N) = A·B; TA: A stored transposed (K x M), TB: B stored transposed
 * (N x K). Without shapes: the GPT's at width 128 (768 tokens: Q/K/V/O,
 * MLP in and out, the head; forward, dW, dx) and a 1024³ product. BLIS
 * runs every shape on THREADS threads; modnorm runs products under 128³
 * multiply-adds on one (blas.h), so small shapes' BLIS rates here are not
 * modnorm's. Times only: the results are checked in tests/test_bf16.c. */
#include <blis.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { ROUNDS = 7, CALLS = 20 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static double time_onednn(int m, int n, int k, int ta, int tb, float *A, float *B, float *C,
                          const char **impl)
{
    dnnl_dims_t da = {m, k}, db = {k, n}, dc = {m, n};
    dnnl_dims_t sa = {ta ? 1 : k, ta ? m : 1}, sb = {tb ? 1 : n, tb ? k : 1}, sc = {n, 1};
    dnnl_memory_desc_t a, b, c;
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    if (dnnl_memory_desc_init_by_strides(&a, 2, da, dnnl_f32, sa) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&b, 2, db, dnnl_f32, sb) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&c, 2, dc, dnnl_f32, sc) != dnnl_success ||
        dnnl_matmul_desc_init(&md, &a, &b, NULL, &c) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL) != dnnl_success ||
        dnnl_primitive_create(&p, pd) != dnnl_success) {
        fprintf(stderr, "onednn_f32: no oneDNN primitive for %dx%dx%d\n", m, n, k);
        exit(1);
    }
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, impl);
    dnnl_memory_t ma, mb, mc;
    dnnl_memory_create(&ma, &a, engine, A);
    dnnl_memory_create(&mb, &b, engine, B);
    dnnl_memory_create(&mc, &c, engine, C);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
    dnnl_primitive_execute(p, stream, 3, args); /* warm-up */
    dnnl_stream_wait(stream);
    double best = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        double t = now();
        for (int i = 0; i < CALLS; i++)
            dnnl_primitive_execute(p, stream, 3, args);
        dnnl_stream_wait(stream);
        t = (now() - t) / CALLS;
        best = t < best ? t : best;
    }
    dnnl_memory_destroy(ma);
    dnnl_memory_destroy(mb);
    dnnl_memory_destroy(mc);
    dnnl_primitive_destroy(p);
    /* impl points into pd: keep pd (a few per run) */
    return best;
}

static double time_blis(int m, int n, int k, int ta, int tb, float *A, float *B, float *C,
                        int threads)
{
    rntm_t r;
    bli_rntm_init(&r);
    bli_rntm_set_num_threads(threads, &r);
    float one = 1, zero = 0;
    inc_t rsa = ta ? 1 : k, csa = ta ? m : 1, rsb = tb ? 1 : n, csb = tb ? k : 1;
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &one, A, rsa, csa, B, rsb, csb,
                 &zero, C, n, 1, NULL, &r); /* warm-up */
    double best = 1e30;
    for (int q = 0; q < ROUNDS; q++) {
        double t = now();
        for (int i = 0; i < CALLS; i++)
            bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &one, A, rsa, csa, B, rsb,
                         csb, &zero, C, n, 1, NULL, &r);
        t = (now() - t) / CALLS;
        best = t < best ? t : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: onednn_f32 THREADS [M,N,K,TA,TB ...]\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    omp_set_num_threads(threads);
    static const int gpt[][5] = {
        {768, 128, 128, 0, 1}, {768, 512, 128, 0, 1}, {768, 128, 512, 0, 1}, {768, 256, 128, 0, 1},
        {128, 128, 768, 1, 0}, {512, 128, 768, 1, 0}, {128, 512, 768, 1, 0}, {768, 128, 128, 0, 0},
        {768, 128, 512, 0, 0}, {768, 512, 128, 0, 0}, {1024, 1024, 1024, 0, 0}};
    int n_shapes = argc > 2 ? argc - 2 : (int)(sizeof gpt / sizeof gpt[0]);
    int(*shapes)[5] = calloc((size_t)n_shapes, sizeof *shapes);
    size_t most = 0;
    for (int s = 0; s < n_shapes; s++) {
        if (argc > 2) {
            if (sscanf(argv[s + 2], "%d,%d,%d,%d,%d", &shapes[s][0], &shapes[s][1], &shapes[s][2],
                       &shapes[s][3], &shapes[s][4]) != 5 || shapes[s][0] < 1 ||
                shapes[s][1] < 1 || shapes[s][2] < 1) {
                fprintf(stderr, "onednn_f32: shape '%s' is not M,N,K,TA,TB\n", argv[s + 2]);
                return 2;
            }
        } else
            for (int i = 0; i < 5; i++)
                shapes[s][i] = gpt[s][i];
        size_t mk = (size_t)shapes[s][0] * (size_t)shapes[s][2];
        size_t kn = (size_t)shapes[s][2] * (size_t)shapes[s][1];
        size_t mn = (size_t)shapes[s][0] * (size_t)shapes[s][1];
        most = mk > most ? mk : most;
        most = kn > most ? kn : most;
        most = mn > most ? mn : most;
    }
    float *A = malloc(most * sizeof *A), *B = malloc(most * sizeof *B), *C = malloc(most * sizeof *C);
    for (size_t i = 0; i < most; i++) {
        A[i] = (float)rand() / (float)RAND_MAX - 0.5f;
        B[i] = 0.5f * A[i];
    }
    dnnl_engine_create(&engine, dnnl_cpu, 0);
    dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    bli_init(); /* before the query, which reads an empty context otherwise */
    printf("BLIS %s kernels, %d threads\n", bli_arch_string(bli_arch_query_id()), threads);
    for (int s = 0; s < n_shapes; s++) {
        int *x = shapes[s];
        double flops = 2.0 * x[0] * x[1] * x[2];
        const char *impl = "?";
        double tb = time_blis(x[0], x[1], x[2], x[3], x[4], A, B, C, threads);
        double td = time_onednn(x[0], x[1], x[2], x[3], x[4], A, B, C, &impl);
        printf("%5d x %5d x %5d  ta %d tb %d   BLIS %6.1f  oneDNN %6.1f GFLOP/s  (%s)  "
               "oneDNN/BLIS %.2fx\n",
               x[0], x[1], x[2], x[3], x[4], 1e-9 * flops / tb, 1e-9 * flops / td, impl, tb / td);
    }
    return 0;
}
