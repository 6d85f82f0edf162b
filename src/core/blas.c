/* The single file that calls BLIS (see blas.h). */
#include <blis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/blas.h"
#include "core/error.h"

/* With no count given, use every online core unless the user set BLIS's or
 * OpenMP's own variable (BLIS alone would run single-threaded). */
static int default_threads(void)
{
    static int n = 0;
    if (n == 0) {
        if (getenv("BLIS_NUM_THREADS") || getenv("OMP_NUM_THREADS"))
            n = -1;
        else {
            long c = sysconf(_SC_NPROCESSORS_ONLN);
            n = c > 0 ? (int)c : 1;
        }
    }
    return n;
}

/* BLIS 0.9 cannot count the FMA units of some AVX-512 CPUs and falls back to
 * its AVX2 "haswell" kernels; its "skx" kernels, in the same library, are
 * ~1.5x faster there. BLIS reads BLIS_ARCH_TYPE (a number: 0 = skx) once,
 * when it initializes, so the choice is made before the first BLIS call.
 * A BLIS_ARCH_TYPE the user set is left alone. */
static const char *arch_reason = "BLIS's own choice";

static void choose_arch(void)
{
    if (getenv("BLIS_ARCH_TYPE")) {
        arch_reason = "BLIS_ARCH_TYPE set by the user";
        return;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
        char id[8];
        snprintf(id, sizeof id, "%d", (int)BLIS_ARCH_SKX);
        setenv("BLIS_ARCH_TYPE", id, 0);
        arch_reason = "skx chosen by modnorm (the CPU has AVX-512)";
    }
#endif
}

void mn_blas_prepare(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, choose_arch);
}

/* Below this many multiply-adds (a 128³ product, ~30 µs on one core) a
 * product runs on one thread: waking a second costs as much as it saves,
 * and far more when the cores are busy (a sweep's other runs). */
#define MN_BLAS_SERIAL_WORK (128.0 * 128.0 * 128.0)

int mn_blas_threads(int threads, double work)
{
    if (threads <= 0)
        threads = default_threads();
    if (work < MN_BLAS_SERIAL_WORK)
        threads = 1;
    return threads > 0 ? threads : 0;
}

static void set_threads(rntm_t *rntm, int threads, double work)
{
    mn_blas_prepare();
    bli_rntm_init(rntm);
    threads = mn_blas_threads(threads, work);
    if (threads > 0)
        bli_rntm_set_num_threads((dim_t)threads, rntm);
}

static mn_status check_dtypes(const char *op, mn_dtype a, mn_dtype b, mn_dtype c)
{
    if (a != b || a != c)
        return mn_fail(MN_ERR_SHAPE, "%s: operands mix float32 and float64", op);
    return MN_OK;
}

/* The error of a product whose operand shapes do not fit. */
static mn_status shape_error(const char *op, const mn_mat *A, const mn_mat *B, const mn_mat *C)
{
    return mn_fail(MN_ERR_SHAPE, "%s: A is %lldx%lld, B %lldx%lld, C %lldx%lld", op,
                   (long long)A->rows, (long long)A->cols, (long long)B->rows,
                   (long long)B->cols, (long long)C->rows, (long long)C->cols);
}

mn_status mn_blas_gemm(double alpha, const mn_mat *A, const mn_mat *B, double beta, mn_mat *C,
                       int threads)
{
    MN_TRY(check_dtypes("gemm", A->dtype, B->dtype, C->dtype));
    if (A->cols != B->rows || C->rows != A->rows || C->cols != B->cols)
        return shape_error("gemm", A, B, C);
    rntm_t rntm;
    dim_t m = (dim_t)C->rows, n = (dim_t)C->cols, k = (dim_t)A->cols;
    set_threads(&rntm, threads, (double)m * (double)n * (double)k);
    if (C->dtype == MN_F32) {
        float a = (float)alpha, b = (float)beta;
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &a, A->data, A->rs, A->cs,
                     B->data, B->rs, B->cs, &b, C->data, C->rs, C->cs, NULL, &rntm);
    } else {
        bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, A->data, A->rs, A->cs,
                     B->data, B->rs, B->cs, &beta, C->data, C->rs, C->cs, NULL, &rntm);
    }
    return MN_OK;
}

mn_status mn_blas_syrk_lower(double alpha, const mn_mat *A, double beta, mn_mat *C, int threads)
{
    MN_TRY(check_dtypes("syrk", A->dtype, A->dtype, C->dtype));
    if (C->rows != A->rows || C->cols != A->rows)
        return mn_fail(MN_ERR_SHAPE, "syrk: A is %lldx%lld, C %lldx%lld", (long long)A->rows,
                       (long long)A->cols, (long long)C->rows, (long long)C->cols);
    rntm_t rntm;
    dim_t m = (dim_t)A->rows, k = (dim_t)A->cols;
    set_threads(&rntm, threads, 0.5 * (double)m * (double)m * (double)k);
    if (C->dtype == MN_F32) {
        float a = (float)alpha, b = (float)beta;
        bli_ssyrk_ex(BLIS_LOWER, BLIS_NO_TRANSPOSE, m, k, &a, A->data, A->rs, A->cs, &b, C->data,
                     C->rs, C->cs, NULL, &rntm);
    } else {
        bli_dsyrk_ex(BLIS_LOWER, BLIS_NO_TRANSPOSE, m, k, &alpha, A->data, A->rs, A->cs, &beta,
                     C->data, C->rs, C->cs, NULL, &rntm);
    }
    return MN_OK;
}

mn_status mn_blas_gemmt_lower(double alpha, const mn_mat *A, const mn_mat *B, double beta,
                              mn_mat *C, int threads)
{
    MN_TRY(check_dtypes("gemmt", A->dtype, B->dtype, C->dtype));
    if (A->cols != B->rows || C->rows != A->rows || C->cols != B->cols || C->rows != C->cols)
        return shape_error("gemmt", A, B, C);
    rntm_t rntm;
    dim_t m = (dim_t)C->rows, k = (dim_t)A->cols;
    set_threads(&rntm, threads, 0.5 * (double)m * (double)m * (double)k);
    if (C->dtype == MN_F32) {
        float a = (float)alpha, b = (float)beta;
        bli_sgemmt_ex(BLIS_LOWER, BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, k, &a, A->data, A->rs,
                      A->cs, B->data, B->rs, B->cs, &b, C->data, C->rs, C->cs, NULL, &rntm);
    } else {
        bli_dgemmt_ex(BLIS_LOWER, BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, k, &alpha, A->data,
                      A->rs, A->cs, B->data, B->rs, B->cs, &beta, C->data, C->rs, C->cs, NULL,
                      &rntm);
    }
    return MN_OK;
}

mn_status mn_blas_symm_lower(double alpha, const mn_mat *A, const mn_mat *B, double beta,
                             mn_mat *C, int threads)
{
    MN_TRY(check_dtypes("symm", A->dtype, B->dtype, C->dtype));
    if (A->rows != A->cols || A->cols != B->rows || C->rows != A->rows || C->cols != B->cols)
        return shape_error("symm", A, B, C);
    rntm_t rntm;
    dim_t m = (dim_t)C->rows, n = (dim_t)C->cols;
    set_threads(&rntm, threads, (double)m * (double)m * (double)n);
    if (C->dtype == MN_F32) {
        float a = (float)alpha, b = (float)beta;
        bli_ssymm_ex(BLIS_LEFT, BLIS_LOWER, BLIS_NO_CONJUGATE, BLIS_NO_TRANSPOSE, m, n, &a,
                     A->data, A->rs, A->cs, B->data, B->rs, B->cs, &b, C->data, C->rs, C->cs,
                     NULL, &rntm);
    } else {
        bli_dsymm_ex(BLIS_LEFT, BLIS_LOWER, BLIS_NO_CONJUGATE, BLIS_NO_TRANSPOSE, m, n, &alpha,
                     A->data, A->rs, A->cs, B->data, B->rs, B->cs, &beta, C->data, C->rs,
                     C->cs, NULL, &rntm);
    }
    return MN_OK;
}

const char *mn_blas_arch(void)
{
    mn_blas_prepare();
    bli_init(); /* before any other BLIS call, the query reads an empty context and aborts */
    return bli_arch_string(bli_arch_query_id());
}

const char *mn_blas_arch_reason(void)
{
    mn_blas_prepare();
    return arch_reason;
}

const char *mn_blas_version(void) { return bli_info_get_version_str(); }
