#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <stdlib.h>

#include "core/lapack.h"
#include "core/onednn.h"
#include "testutil.h"

const char *tm_kind_name(tm_kind kind)
{
    static const char *n[] = {"gaussian", "low-rank+noise", "1/k spectrum"};
    return n[kind];
}

/* Gram–Schmidt on the columns of a Gaussian (rows x k) matrix, in double. */
void tm_orthonormal_columns(mn_mat *Q, mn_rng *r)
{
    mn_rng_fill_normal(r, Q);
    for (int64_t j = 0; j < Q->cols; j++) {
        for (int pass = 0; pass < 2; pass++)
            for (int64_t p = 0; p < j; p++) {
                double d = 0;
                for (int64_t i = 0; i < Q->rows; i++)
                    d += mn_mat_get(Q, i, j) * mn_mat_get(Q, i, p);
                for (int64_t i = 0; i < Q->rows; i++)
                    mn_mat_set(Q, i, j, mn_mat_get(Q, i, j) - d * mn_mat_get(Q, i, p));
            }
        double n = 0;
        for (int64_t i = 0; i < Q->rows; i++)
            n += mn_mat_get(Q, i, j) * mn_mat_get(Q, i, j);
        n = sqrt(n);
        for (int64_t i = 0; i < Q->rows; i++)
            mn_mat_set(Q, i, j, mn_mat_get(Q, i, j) / n);
    }
}

mn_mat tm_make(tm_kind kind, mn_dtype dt, int64_t rows, int64_t cols, uint64_t seed)
{
    mn_rng r;
    mn_rng_seed(&r, seed);
    mn_mat A;
    ck_assert_ok(mn_mat_alloc(&A, dt, rows, cols));
    if (kind == TM_GAUSSIAN) {
        mn_rng_fill_normal(&r, &A);
        return A;
    }
    int64_t k = rows < cols ? rows : cols;
    int64_t rank = kind == TM_LOW_RANK_NOISE ? (k < 3 ? k : 3) : k;
    mn_mat U, V;
    ck_assert_ok(mn_mat_alloc(&U, MN_F64, rows, rank));
    ck_assert_ok(mn_mat_alloc(&V, MN_F64, cols, rank));
    if (kind == TM_POWER_LAW) {
        tm_orthonormal_columns(&U, &r);
        tm_orthonormal_columns(&V, &r);
    } else {
        mn_rng_fill_normal(&r, &U);
        mn_rng_fill_normal(&r, &V);
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            double s = 0;
            for (int64_t p = 0; p < rank; p++) {
                double w = kind == TM_POWER_LAW ? 1.0 / (double)(p + 1) : 1.0;
                s += w * mn_mat_get(&U, i, p) * mn_mat_get(&V, j, p);
            }
            if (kind == TM_LOW_RANK_NOISE)
                s += 1e-2 * mn_rng_normal(&r);
            mn_mat_set(&A, i, j, s);
        }
    mn_mat_free(&U);
    mn_mat_free(&V);
    return A;
}

double *tm_singular_values(const mn_mat *A)
{
    int64_t k = A->rows < A->cols ? A->rows : A->cols;
    double *sv = malloc((size_t)k * sizeof(double));
    ck_assert_ptr_nonnull(sv);
    int e;
    ck_assert_ok(mn_lapack_singular_values(A, sv, &e));
    for (int64_t i = 0; i < k; i++)
        sv[i] = ldexp(sv[i], e);
    return sv;
}

double tm_max_abs_diff(const mn_mat *a, const mn_mat *b)
{
    ck_assert_int_eq(a->rows, b->rows);
    ck_assert_int_eq(a->cols, b->cols);
    double m = 0;
    for (int64_t i = 0; i < a->rows; i++)
        for (int64_t j = 0; j < a->cols; j++)
            m = fmax(m, fabs(mn_mat_get(a, i, j) - mn_mat_get(b, i, j)));
    return m;
}

const char *tm_kernel_set(void)
{
    static char set[64];
    mn_bench_blas blas;
    mn_bench_blas_info(&blas);
    snprintf(set, sizeof set, "%s%s", blas.arch,
             mn_onednn_available(MN_ONEDNN_F32) ? "-onednn" : "");
    return set;
}

const char *tm_fixture_dir(const char *name, double other, double *tol, const char **set)
{
    static char dir[1024];
    const char *k = tm_kernel_set();
    struct stat st;
    snprintf(dir, sizeof dir, "%s/study/%s/%s", MN_TEST_DATA, k, name);
    bool own = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (!own)
        snprintf(dir, sizeof dir, "%s/study/%s", MN_TEST_DATA, name);
    *tol = own || strcmp(k, TM_FIXTURE_KERNELS) == 0 ? 1e-12 : other;
    if (set)
        *set = k;
    return dir;
}

int tm_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

mn_mat tm_pow2_copy(const mn_mat *G, int e)
{
    mn_mat S;
    ck_assert_ok(mn_mat_alloc(&S, G->dtype, G->rows, G->cols));
    for (int64_t i = 0; i < G->rows; i++)
        for (int64_t j = 0; j < G->cols; j++)
            mn_mat_set(&S, i, j, ldexp(mn_mat_get(G, i, j), e));
    return S;
}

mn_mat tm_gaussian_at(mn_dtype dt, int64_t rows, int64_t cols, int e, uint64_t seed)
{
    mn_mat B = tm_make(TM_GAUSSIAN, MN_F64, rows, cols, seed);
    double top = 0;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            top = fmax(top, fabs(mn_mat_get(&B, i, j)));
    int te;
    frexp(top, &te); /* top in [2^(te-1), 2^te) */
    mn_mat S;
    ck_assert_ok(mn_mat_alloc(&S, dt, rows, cols));
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            /* two steps: 2^(e - te + 1) alone may not be a double */
            double v = ldexp(mn_mat_get(&B, i, j), 1 - te);
            if (dt == MN_F32)
                v = (double)(float)v; /* round to float32 at a normal scale first */
            mn_mat_set(&S, i, j, ldexp(v, e));
        }
    mn_mat_free(&B);
    return S;
}

int tm_run_shell(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    while (fgetc(p) != EOF) {
    }
    int st = pclose(p);
    ck_assert_msg(!WIFSIGNALED(st), "'%s' died of signal %d", cmd, WTERMSIG(st));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tm_run_modnorm(const char *args, char *out, size_t cap)
{
    const char *exe = getenv("MODNORM");
    ck_assert_msg(exe != NULL, "MODNORM is not set");
    size_t len = strlen(exe) + strlen(args) + 16;
    char *cmd = malloc(len);
    ck_assert_ptr_nonnull(cmd);
    snprintf(cmd, len, "%s %s 2>&1", exe, args);
    int rc = tm_run_shell(cmd, out, cap);
    free(cmd);
    return rc;
}

const char *tm_memory_cap(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return "ASAN_OPTIONS=\"$ASAN_OPTIONS:allocator_may_return_null=1:hard_rss_limit_mb=3000\" ";
#else
    return "ulimit -v 3000000; ";
#endif
}

pid_t tm_dead_pid(void)
{
    pid_t dead = fork();
    ck_assert_int_ge(dead, 0);
    if (dead == 0)
        _exit(0);
    int status;
    ck_assert_int_eq(waitpid(dead, &status, 0), dead);
    return dead;
}

pid_t tm_spawn_until_file(const char *cmd, const char *path, unsigned poll_us)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    struct stat sb;
    while (stat(path, &sb) != 0)
        usleep(poll_us);
    return pid;
}

char tm_dir[64]; /* short, so that "%s/NAME" fits the tests' 256-byte paths */

void tm_dir_make(const char *tag)
{
    snprintf(tm_dir, sizeof tm_dir, "/tmp/mn_%s_XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(tm_dir));
}

void tm_dir_remove(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tm_dir);
    ck_assert_int_eq(system(cmd), 0);
}

const char *tm_at(const char *name)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", tm_dir, name);
    return p;
}

unsigned char *tm_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = '\0';
    *len = (size_t)n;
    return b;
}

const char *tm_text_of(const char *path)
{
    static char buf[1 << 16];
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

void tm_write_file(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

mn_tensor *tm_tensor_new(int ndim, const int64_t *shape)
{
    mn_tensor *t;
    ck_assert_ok(mn_tensor_create(&t, ndim, shape));
    return t;
}

void tm_fill_normal(mn_tensor *t, mn_rng *r, double scale)
{
    for (int64_t i = 0; i < mn_tensor_numel(t); i++)
        t->data[i] = (float)(scale * mn_rng_normal(r));
}

mn_network *tm_network_new(mn_module *root, uint64_t seed)
{
    mn_network *net;
    ck_assert_ok(mn_network_create(&net, root, MN_PARAM_MODULAR, seed));
    return net;
}

mn_module *tm_seq(int n, mn_module *const *children)
{
    mn_module *m;
    ck_assert_ok(mn_sequential(&m, n, children));
    return m;
}

void tm_central_differences(double (*f)(void *ctx), void *ctx, float *v, int64_t n, double eps,
                            double *fd)
{
    for (int64_t i = 0; i < n; i++) {
        float v0 = v[i];
        v[i] = (float)(v0 + eps);
        double hp = v[i], fp = f(ctx);
        v[i] = (float)(v0 - eps);
        double hm = v[i], fm = f(ctx);
        v[i] = v0;
        fd[i] = (fp - fm) / (hp - hm);
    }
}

/* An IDX file through zlib, as Fashion-MNIST ships them: big-endian magic and
 * nd dims, then n bytes of data. */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int nd,
                      const unsigned char *data, size_t n)
{
    gzFile f = gzopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    unsigned char hdr[16];
    for (int i = 0; i <= nd; i++) {
        uint32_t v = i == 0 ? magic : dims[i - 1];
        hdr[4 * i] = (unsigned char)(v >> 24), hdr[4 * i + 1] = (unsigned char)(v >> 16);
        hdr[4 * i + 2] = (unsigned char)(v >> 8), hdr[4 * i + 3] = (unsigned char)v;
    }
    ck_assert_int_eq(gzwrite(f, hdr, 4 * (unsigned)(nd + 1)), 4 * (nd + 1));
    ck_assert_int_eq(gzwrite(f, data, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(f), Z_OK);
}

void tm_write_tiny_fashion(const char *folder, uint32_t n_train, uint32_t n_test)
{
    ck_assert_int_eq(mkdir(folder, 0777), 0);
    const struct {
        const char *prefix;
        uint32_t n;
    } splits[] = {{"train", n_train}, {"t10k", n_test}};
    uint32_t state = 12345;
    for (int s = 0; s < 2; s++) {
        uint32_t n = splits[s].n, dims[3] = {n, 28, 28};
        unsigned char *img = malloc((size_t)n * 784), *lab = malloc(n ? n : 1);
        ck_assert_ptr_nonnull(img);
        ck_assert_ptr_nonnull(lab);
        for (size_t i = 0; i < (size_t)n * 784; i++)
            img[i] = (unsigned char)((state = state * 1103515245u + 12345u) >> 24);
        for (uint32_t i = 0; i < n; i++)
            lab[i] = (unsigned char)(i % 10);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", folder, splits[s].prefix);
        write_idx(path, 0x803, dims, 3, img, (size_t)n * 784);
        snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", folder, splits[s].prefix);
        write_idx(path, 0x801, dims, 1, lab, n);
        free(img);
        free(lab);
    }
}
