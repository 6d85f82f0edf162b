/* Shared helpers for the Check suites: random test matrices of the kinds the
 * issues name, and small independent references. */
#ifndef MN_TESTUTIL_H
#define MN_TESTUTIL_H

#include <check.h>
#include <string.h>
#include <sys/types.h>

#include "modnorm.h"

/* Fail the test unless expr returns status `want` with a one-line message
 * that holds `part` (the argument it names). */
#define ck_assert_refused(expr, want, part)                                                        \
    do {                                                                                           \
        mn_clear_error();                                                                          \
        mn_status s_ = (expr);                                                                     \
        const char *m_ = mn_last_error();                                                          \
        ck_assert_msg(s_ == (want) && strstr(m_, (part)) && !strchr(m_, '\n'),                     \
                      "%s -> %s: '%s' (want %s, a line with '%s')", #expr, mn_status_str(s_), m_, \
                      mn_status_str(want), (part));                                                \
    } while (0)

/* Fail the test with the library's message when a call does not return OK. */
#define ck_assert_ok(expr)                                                                         \
    do {                                                                                           \
        mn_status s_ = (expr);                                                                     \
        ck_assert_msg(s_ == MN_OK, "%s -> %s: %s", #expr, mn_status_str(s_), mn_last_error());     \
    } while (0)

typedef enum { TM_GAUSSIAN, TM_LOW_RANK_NOISE, TM_POWER_LAW } tm_kind;

/* A rows x cols matrix of the given kind (allocated; free with mn_mat_free):
 *  gaussian: i.i.d. N(0, 1);
 *  low rank + noise: a rank-3 product plus 1e-2 Gaussian noise (gradient-like);
 *  power law: U diag(1/k) Vᵀ with random orthogonal factors (a 1/k spectrum). */
mn_mat tm_make(tm_kind kind, mn_dtype dt, int64_t rows, int64_t cols, uint64_t seed);
const char *tm_kind_name(tm_kind kind);

/* The kernels a run's products use, the key of the training fixtures: BLIS's
 * kernel set ("skx", "haswell", "zen3"), with "-onednn" after it where
 * oneDNN runs the float32 Linear products (core/onednn.h). Static storage. */
const char *tm_kernel_set(void);

/* The folder of training fixture NAME (a sweep's sweep.cfg, results.csv
 * and summary.json, or a coordcheck's coord.csv and stdout.txt) for the
 * kernels in use, and the relative tolerance to check it to:
 * tests/data/study/SET/NAME when scripts/make_sweep_fixtures.sh made one for
 * this kernel set (*tol = 1e-12, bit-identical in practice); else the
 * originals, tests/data/study/NAME, made with BLIS's skx kernels alone
 * (TM_FIXTURE_KERNELS): 1e-12 under those, `other` under any other set.
 * Another set sums products in another order and float32 rounding grows
 * over a run's steps: coordinate checks differed by up to 3.4e-5 (haswell,
 * zen3; pass 1e-3), and 30 Muon steps at rates up to 2 amplify it
 * chaotically (zen3: rows 5.8%, the summary's refined rate 17.7%; pass
 * 0.25), where only a gross error shows. *set, when not NULL, gets
 * tm_kernel_set(). Static storage. */
#define TM_FIXTURE_KERNELS "skx"
const char *tm_fixture_dir(const char *name, double other, double *tol, const char **set);

/* Singular values (descending, computed in double by LAPACK) into a new array. */
double *tm_singular_values(const mn_mat *A);

/* A copy of G with every element times 2^e, computed in double with ldexp
 * and stored in G's dtype: exact wherever the result is a normal number (so
 * tm_pow2_copy(tm_pow2_copy(G, e), -e) is G when the first copy stayed
 * normal or was scaled up). Free with mn_mat_free. */
mn_mat tm_pow2_copy(const mn_mat *G, int e);

/* A rows x cols Gaussian matrix (seeded) scaled by a power of two so that
 * its largest |entry| lies in [2^e, 2^(e+1)), then stored in dt: for e near
 * the bottom of dt's range its entries are subnormal (and some round to 0). */
mn_mat tm_gaussian_at(mn_dtype dt, int64_t rows, int64_t cols, int e, uint64_t seed);

/* max |a - b| over elements. */
double tm_max_abs_diff(const mn_mat *a, const mn_mat *b);

/* A Check runner for one suite: exits 0 when every test passed. */
int tm_run_suite(Suite *s);

/* Orthonormal columns: Gram–Schmidt (twice) on a Gaussian Q, in double. */
void tm_orthonormal_columns(mn_mat *Q, mn_rng *r);

/* FOLDER (created) as a Fashion-MNIST-shaped data folder: gzipped IDX files of
 * n_train and n_test 28x28 images with pseudo-random pixels and labels i % 10. */
void tm_write_tiny_fashion(const char *folder, uint32_t n_train, uint32_t n_test);

/* Run CMD through the shell, capture its stdout (add 2>&1 for stderr) into out
 * (cap bytes, NUL-terminated; the rest is read and dropped), fail the test if
 * it died of a signal; the exit code (-1 when it did not exit). */
int tm_run_shell(const char *cmd, char *out, size_t cap);

/* Run `$MODNORM ARGS` through the shell, capture stdout+stderr into out (cap
 * bytes, NUL-terminated), fail the test if it died of a signal; the exit code. */
int tm_run_modnorm(const char *args, char *out, size_t cap);

/* Start CMD through /bin/sh in a child process (begin CMD with `exec` so that
 * the child is the command itself, for kill) and return once path exists,
 * looking every poll_us microseconds; the child's pid (reap it with waitpid). */
pid_t tm_spawn_until_file(const char *cmd, const char *path, unsigned poll_us);
/* A shell prefix that caps what the command after it may allocate at about
 * 3 GB, so that a memory check that failed to refuse meets the cap, never
 * the machine's OOM killer: `ulimit -v`, or under AddressSanitizer (which
 * reserves terabytes of address space up front) its own options: a huge
 * malloc returns NULL and a resident size past 3 GB ends the process. */
const char *tm_memory_cap(void);

/* The pid of a child that has exited and been reaped: a writer that is gone
 * (for its leftover temporaries). */
pid_t tm_dead_pid(void);

/* A fresh folder for each test. tm_dir_make("text") creates /tmp/mn_text_XXXXXX
 * into tm_dir (call it from a Check setup); tm_dir_remove, a Check teardown,
 * deletes it and everything in it. tm_at(NAME) is tm_dir/NAME in one of 8
 * rotating buffers: a test that holds more paths at once copies them. */
extern char tm_dir[64];
void tm_dir_make(const char *tag);
void tm_dir_remove(void);
const char *tm_at(const char *name);

/* The whole file at path in a new buffer of *len bytes and a NUL after
 * them (free it); fails the test when it cannot be read. */
unsigned char *tm_slurp(const char *path, size_t *len);
/* A text file's first 64 KiB in a static buffer, overwritten by the next
 * call; "" when the file is missing (tests that a file was not written). */
const char *tm_text_of(const char *path);

/* path holding exactly the n bytes at b (created or truncated); fails the test
 * on any error, closing included. */
void tm_write_file(const char *path, const void *b, size_t n);

/* A new float32 tensor of the shape (zeroed); destroy with mn_tensor_destroy. */
mn_tensor *tm_tensor_new(int ndim, const int64_t *shape);

/* Every element of t: scale times a standard normal draw from r, in order. */
void tm_fill_normal(mn_tensor *t, mn_rng *r, double scale);

/* A network of root (owned by it from now on) with the modular parametrization
 * and initial weights from seed; destroy with mn_network_destroy. */
mn_network *tm_network_new(mn_module *root, uint64_t seed);

/* mn_sequential of the n children (the first runs first); SEQ(a, b, ...)
 * counts them. */
mn_module *tm_seq(int n, mn_module *const *children);
#define SEQ(...)                                                                                   \
    tm_seq((int)(sizeof((mn_module *[]){__VA_ARGS__}) / sizeof(mn_module *)),                     \
           (mn_module *[]){__VA_ARGS__})

/* Central differences over the n floats at v (weights or an input, perturbed
 * in place and restored): fd[i] = (f(v + ε·e_i) − f(v − ε·e_i)) / (h₊ − h₋),
 * where h± are the perturbed values as stored in float32, so the quotient
 * divides by the step the forward really saw, not by 2ε. f(ctx) evaluates
 * the objective at the current v. */
void tm_central_differences(double (*f)(void *ctx), void *ctx, float *v, int64_t n, double eps,
                            double *fd);

#endif
