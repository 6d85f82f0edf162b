/* The bad-input battery (issue 11): every subcommand of the `modnorm` binary
 * (path in $MODNORM) fed bad options, bad numbers and bad files written here.
 *
 * Each case runs the binary by fork/exec (no shell) in a fresh temporary
 * directory, with stdin from /dev/null, a timeout, and stdout/stderr captured,
 * and checks all of:
 *   - it exits normally (no signal, no timeout) with the expected code
 *     (2 bad usage, 1 failure);
 *   - stderr is exactly ONE line, and it holds every expected substring
 *     (compared case-insensitively; '@' stands for the case's directory), so
 *     the message names the offending argument or file and the problem;
 *   - no sanitizer report ("Sanitizer", "runtime error:") on either stream;
 *   - stdout is empty (nothing was done, so nothing is reported);
 *   - nothing in the directory changed: every entry's type, mode, size, mtime
 *     and content hash (regular files) or device number (nodes) is the same
 *     before and after, and no entry appeared or vanished: an existing output
 *     keeps its bytes, a device node stays a node, a failed sweep leaves no
 *     sweep.cfg.
 * A failing case reports everything it saw, not just its first problem.
 *
 * Then value probes that must succeed (issue 11 item 3 and the 1-D promise
 * of `dualize --help`): subnormal float32 input to norm and dualize, and a
 * 1-D (n,) input written back as (n,). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "testutil.h"

enum { TIMEOUT_S = 120 }; /* generous: ASan + UBSan; a correct refusal takes milliseconds */

/* ---- running the binary ------------------------------------------------- */

typedef struct {
    int status;      /* from waitpid */
    bool timed_out;
    char *out, *err; /* NUL-terminated captures (at most CAP bytes kept) */
    size_t n_out, n_err;
} run_result;

enum { CAP = 1 << 20 };

static void append_capture(char **buf, size_t *n, const char *src, size_t len)
{
    if (!*buf) {
        *buf = calloc(CAP + 1, 1);
        ck_assert_ptr_nonnull(*buf);
    }
    size_t room = CAP - *n;
    if (len > room)
        len = room;
    memcpy(*buf + *n, src, len);
    *n += len;
    (*buf)[*n] = '\0';
}

/* fork/exec argv[0] with argv in cwd; capture both streams; kill the process
 * group after TIMEOUT_S. */
static void run_argv(char *const argv[], const char *cwd, run_result *r)
{
    memset(r, 0, sizeof *r);
    append_capture(&r->out, &r->n_out, "", 0);
    append_capture(&r->err, &r->n_err, "", 0);
    int po[2], pe[2];
    ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(pe, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setpgid(0, 0);
        int nul = open("/dev/null", O_RDONLY);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0 ||
            chdir(cwd) != 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: no race with the kill below */
    close(po[1]);
    close(pe[1]);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        double left = TIMEOUT_S - (double)(t.tv_sec - t0.tv_sec) -
                      (double)(t.tv_nsec - t0.tv_nsec) * 1e-9;
        if (left <= 0 && !r->timed_out) {
            r->timed_out = true;
            kill(-pid, SIGKILL);
        }
        int k = poll(fds, 2, r->timed_out ? 1000 : (int)(left * 1000) + 1);
        if (k < 0 && errno == EINTR)
            continue;
        ck_assert_int_ge(k, 0);
        if (k == 0 && r->timed_out)
            break; /* a grandchild outside the group holds a pipe: give up */
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[65536];
            ssize_t got = read(fds[i].fd, buf, sizeof buf);
            if (got > 0) {
                if (i == 0)
                    append_capture(&r->out, &r->n_out, buf, (size_t)got);
                else
                    append_capture(&r->err, &r->n_err, buf, (size_t)got);
            } else if (got == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    while (waitpid(pid, &r->status, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
}

static void free_result(run_result *r)
{
    free(r->out);
    free(r->err);
}

/* ---- a directory's state ------------------------------------------------ */

typedef struct {
    char *path; /* relative to the case directory */
    mode_t mode;
    off_t size;
    struct timespec mtime;
    dev_t rdev;
    uint64_t hash; /* FNV-1a of a regular file's bytes */
} entry;

typedef struct {
    entry *e;
    size_t n, cap;
} snapshot;

static snapshot *walk_into;
static size_t walk_root_len;

static uint64_t hash_file(const char *path)
{
    uint64_t h = 1469598103934665603ull;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return 0;
    unsigned char buf[65536];
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < got; i++)
            h = (h ^ buf[i]) * 1099511628211ull;
    close(fd);
    return h;
}

static int walk_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    snapshot *s = walk_into;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->e = realloc(s->e, s->cap * sizeof *s->e);
        ck_assert_ptr_nonnull(s->e);
    }
    entry *e = &s->e[s->n++];
    e->path = strdup(path[walk_root_len] ? path + walk_root_len + 1 : ".");
    e->mode = sb->st_mode;
    e->size = S_ISDIR(sb->st_mode) ? 0 : sb->st_size;
    e->mtime = sb->st_mtim;
    e->rdev = sb->st_rdev;
    e->hash = S_ISREG(sb->st_mode) ? hash_file(path) : 0;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

static snapshot take_snapshot(const char *dir)
{
    snapshot s = {0};
    walk_into = &s;
    walk_root_len = strlen(dir);
    ck_assert_int_eq(nftw(dir, walk_cb, 16, FTW_PHYS), 0);
    qsort(s.e, s.n, sizeof *s.e, cmp_entry);
    return s;
}

static void free_snapshot(snapshot *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->e[i].path);
    free(s->e);
}

/* ---- accumulating what is wrong with a case ----------------------------- */

typedef struct {
    char text[16384];
    size_t len;
    int faults; /* how many of the notes are problems */
} report;

static void say(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(report *r, const char *fmt, ...)
{
    if (r->len >= sizeof r->text - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(r->text + r->len, sizeof r->text - r->len, fmt, ap);
    va_end(ap);
    if (k > 0)
        r->len += (size_t)k < sizeof r->text - r->len ? (size_t)k : sizeof r->text - 1 - r->len;
}

/* Note a problem: "[what] ". */
#define fault(r, ...) ((r)->faults++, say((r), __VA_ARGS__))

static const char *kind_name(mode_t m)
{
    return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISCHR(m) ? "char device"
           : S_ISFIFO(m) ? "fifo" : S_ISLNK(m) ? "symlink" : "other";
}

/* Everything that appeared, vanished or changed between two snapshots. */
static void compare_snapshots(const snapshot *a, const snapshot *b, report *r)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->e[i].path, b->e[j].path);
        if (c < 0) {
            fault(r, "[removed %s '%.200s'] ", kind_name(a->e[i].mode), a->e[i].path);
            i++;
        } else if (c > 0) {
            fault(r, "[created %s '%.200s'] ", kind_name(b->e[j].mode), b->e[j].path);
            j++;
        } else {
            const entry *x = &a->e[i++], *y = &b->e[j++];
            if (x->mode != y->mode)
                fault(r, "['%.200s' was a %s (mode %o), now a %s (mode %o)] ", x->path,
                    kind_name(x->mode), (unsigned)x->mode, kind_name(y->mode), (unsigned)y->mode);
            else if (S_ISDIR(x->mode))
                continue; /* a directory's mtime moves with a temporary file made and removed */
            else if (x->size != y->size || x->hash != y->hash || x->rdev != y->rdev)
                fault(r, "['%.200s' changed: %lld -> %lld bytes%s] ", x->path, (long long)x->size,
                    (long long)y->size, x->hash != y->hash ? ", other content" : "");
            else if (x->mtime.tv_sec != y->mtime.tv_sec || x->mtime.tv_nsec != y->mtime.tv_nsec)
                fault(r, "['%.200s' rewritten with the same bytes (mtime moved)] ", x->path);
        }
    }
}

/* ---- writing the bad inputs --------------------------------------------- */

/* A version 1.0 .npy: magic, version, u16 header length, `header` padded
 * with spaces and '\n' to a multiple of 64 as NumPy does, then `len` bytes. */
static void write_npy(const char *path, const char *header, const void *data, size_t len)
{
    size_t hl = strlen(header), total = 10 + hl + 1, pad = (64 - total % 64) % 64;
    size_t hlen = hl + pad + 1, n = 10 + hlen + len;
    unsigned char *b = malloc(n);
    ck_assert_ptr_nonnull(b);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hlen & 0xff);
    b[9] = (unsigned char)(hlen >> 8);
    memcpy(b + 10, header, hl);
    memset(b + 10 + hl, ' ', pad);
    b[10 + hl + pad] = '\n';
    if (len)
        memcpy(b + 10 + hlen, data, len);
    tm_write_file(path, b, n);
    free(b);
}

static void npy_f32(const char *dir, const char *name, const char *shape, const float *v,
                    size_t n)
{
    char path[4096], hdr[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
    write_npy(path, hdr, v, n * sizeof *v);
}

static void put_be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* An IDX pair (plain bytes: the reader goes through zlib, which reads an
 * uncompressed file as is) of n 28x28 images with varied pixels. */
static void write_idx_split(const char *dir, const char *prefix, uint32_t n)
{
    char path[4096];
    size_t ilen = 16 + (size_t)n * 784, llen = 8 + n;
    unsigned char *img = malloc(ilen), *lab = malloc(llen);
    ck_assert_ptr_nonnull(img);
    ck_assert_ptr_nonnull(lab);
    put_be32(img, 0x00000803u);
    put_be32(img + 4, n);
    put_be32(img + 8, 28);
    put_be32(img + 12, 28);
    for (size_t i = 0; i < (size_t)n * 784; i++)
        img[16 + i] = (unsigned char)((i * 37 + i / 784 * 11) % 256);
    put_be32(lab, 0x00000801u);
    put_be32(lab + 4, n);
    for (uint32_t i = 0; i < n; i++)
        lab[8 + i] = (unsigned char)(i % 10);
    ck_assert_int_lt(snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix),
                     (int)sizeof path);
    tm_write_file(path, img, ilen);
    ck_assert_int_lt(snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix),
                     (int)sizeof path);
    tm_write_file(path, lab, llen);
    free(img);
    free(lab);
}

/* What a case needs in its directory before it runs. */
enum {
    P_GOOD = 1 << 0,     /* good.npy: float32 (3, 4), entries 1..12 */
    P_BAD_NPY = 1 << 1,  /* every malformed .npy below */
    P_OUT = 1 << 2,      /* out.npy: an existing output that must keep its bytes */
    P_ADIR = 1 << 3,     /* adir/: an empty directory */
    P_NODE = 1 << 4,     /* null: char device 1,3 as root, else a fifo */
    P_FILE = 1 << 5,     /* file: a regular file where a directory is expected */
    P_DATA64 = 1 << 6,   /* data/: valid Fashion-MNIST IDX set, 64 train + 16 test images */
    P_RUNS = 1 << 7,     /* runs/: an existing, empty output directory */
    P_ZERO = 1 << 8,     /* zero.mn: a graph of sensitivity 0 (0 * Linear) */
    P_NARROW = 1 << 9,   /* narrow.mn: Linear(5, 784), 5 logits and no parameter */
};

static void prepare(const char *dir, unsigned what)
{
    char path[4096];
    static const float good[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    if (what & P_GOOD)
        npy_f32(dir, "good.npy", "(3, 4)", good, 12);
    if (what & P_BAD_NPY) {
        /* rows x cols wraps to 0 in 64 bits: 2^32 * 2^32, and 2^62 * 4 elements * 4 bytes */
        npy_f32(dir, "big.npy", "(4294967296, 4294967296)", good, 4);
        npy_f32(dir, "wrap.npy", "(4611686018427387904, 4)", good, 4);
        snprintf(path, sizeof path, "%s/nodict.npy", dir);
        write_npy(path, "'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), ", good,
                  4 * sizeof(float));
        npy_f32(dir, "trunc.npy", "(3, 4)", good, 5);  /* 20 of 48 bytes */
        npy_f32(dir, "extra.npy", "(2, 2)", good, 5);  /* 20 bytes for 16 */
        npy_f32(dir, "3d.npy", "(2, 2, 2)", good, 8);
        npy_f32(dir, "neg.npy", "(-2, 2)", good, 4);
        snprintf(path, sizeof path, "%s/i4.npy", dir);
        static const int32_t ints[4] = {1, 2, 3, 4};
        write_npy(path, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", ints,
                  sizeof ints);
        snprintf(path, sizeof path, "%s/be.npy", dir);
        write_npy(path, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", good,
                  4 * sizeof(float));
        snprintf(path, sizeof path, "%s/fortran.npy", dir);
        static const double d6[6] = {1, 2, 3, 4, 5, 6};
        write_npy(path, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", d6,
                  sizeof d6);
        float nan4[4] = {1, 2, NAN, 4}; /* (1, 0) is NaN */
        npy_f32(dir, "nan.npy", "(2, 2)", nan4, 4);
        float nan1d[4] = {1, 2, NAN, 4}; /* 1-D: entry 2, (0, 2) of the 1 x 4 matrix */
        npy_f32(dir, "nan1d.npy", "(4,)", nan1d, 4);
        double inf6[6] = {1, -INFINITY, 3, 4, 5, 6}; /* (0, 1) is -inf */
        snprintf(path, sizeof path, "%s/inf.npy", dir);
        write_npy(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", inf6,
                  sizeof inf6);
        snprintf(path, sizeof path, "%s/empty.npy", dir);
        tm_write_file(path, "", 0);
    }
    if (what & P_OUT) {
        snprintf(path, sizeof path, "%s/out.npy", dir);
        tm_write_file(path, "precious bytes: must survive a failed run\n", 42);
    }
    if (what & P_ADIR) {
        snprintf(path, sizeof path, "%s/adir", dir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
    }
    if (what & P_NODE) {
        snprintf(path, sizeof path, "%s/null", dir);
        if (geteuid() != 0 || mknod(path, S_IFCHR | 0666, makedev(1, 3)) != 0)
            ck_assert_int_eq(mkfifo(path, 0666), 0);
    }
    if (what & P_FILE) {
        snprintf(path, sizeof path, "%s/file", dir);
        tm_write_file(path, "a regular file\n", 15);
    }
    if (what & P_DATA64) {
        snprintf(path, sizeof path, "%s/data", dir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        write_idx_split(path, "train", 64);
        write_idx_split(path, "t10k", 16);
    }
    if (what & P_RUNS) {
        snprintf(path, sizeof path, "%s/runs", dir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
    }
    if (what & P_ZERO) {
        static const char g[] = "Net = 0 * Linear(10, 784)\nNet\n";
        snprintf(path, sizeof path, "%s/zero.mn", dir);
        tm_write_file(path, g, sizeof g - 1);
    }
    if (what & P_NARROW) {
        static const char g[] = "Linear(5, 784)\n";
        snprintf(path, sizeof path, "%s/narrow.mn", dir);
        tm_write_file(path, g, sizeof g - 1);
    }
}

/* ---- the cases ---------------------------------------------------------- */

/* In argv and want: '@' is the case's directory, '%L' a 3000-character
 * relative path (30 components of 99 'd's), '%X' a 5000-character one. */
typedef struct {
    const char *name;
    unsigned prep;
    const char *argv[24]; /* after the binary; NULL-terminated */
    int code;
    const char *want[4];   /* substrings stderr must hold */
    const char *absent[3]; /* substrings it must not hold */
} bad_case;

#define NPY P_BAD_NPY | P_OUT
#define SP "--norm", "spectral"
#define NODATA "--data-dir", "@/nodata"
#define SMALL "--steps", "1", "--width", "8"
#define SWEEP_SMALL "--widths", "8", "--lrs", "0.1", "--steps", "1"
#define TINY_GPT "--model", "gpt", "--width", "16", "--set", "dhead=8", "--depth", "1", \
    "--context", "8", "--batch", "2", "--steps", "1", "--threads", "1"

/* Trailing fields left out (no `absent`) are empty. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const bad_case cases[] = {
    /* -- top level -- */
    {"top: unknown command", 0, {"frobnicate"}, 2, {"unknown command 'frobnicate'"}, {"usage:"}},
    {"top: unknown option", 0, {"--bogus"}, 2, {"'--bogus'"}, {"usage:"}},
    {"top: empty command", 0, {""}, 2, {"unknown command ''"}, {"usage:"}},
    {"top: stray argument after --version", 0, {"--version", "extra"}, 2,
     {"unexpected argument 'extra'"}},

    /* -- norm: the .npy reader -- */
    /* an empty path named as such, not ": cannot open: ..." */
    {"norm: empty path", 0, {"norm", SP, ""}, 1, {"the path of the .npy file to read is empty"}},
    {"dualize: empty OUT path", P_GOOD, {"dualize", SP, "@/good.npy", ""}, 1,
     {"the path of the .npy file to write is empty"}},
    {"norm: shape (2^32, 2^32)", NPY, {"norm", "--norm", "frobenius", "@/big.npy"}, 1,
     {"@/big.npy", "4294967296"}},
    {"norm: shape (2^62, 4), bytes wrap", NPY, {"norm", "--norm", "frobenius", "@/wrap.npy"}, 1,
     {"@/wrap.npy", "4611686018427387904"}},
    {"norm: header without its {} dict", NPY, {"norm", SP, "@/nodict.npy"}, 1,
     {"@/nodict.npy", "header"}},
    {"norm: truncated data", NPY, {"norm", SP, "@/trunc.npy"}, 1, {"@/trunc.npy", "truncated"}},
    {"norm: extra data after the array", NPY, {"norm", SP, "@/extra.npy"}, 1,
     {"@/extra.npy", "trailing"}},
    {"norm: dtype <i4", NPY, {"norm", SP, "@/i4.npy"}, 1, {"@/i4.npy", "'<i4'"}},
    {"norm: big-endian >f4", NPY, {"norm", SP, "@/be.npy"}, 1, {"@/be.npy", "'>f4'"}},
    {"norm: fortran order", NPY, {"norm", SP, "@/fortran.npy"}, 1, {"@/fortran.npy", "fortran"}},
    {"norm: 3-D array", NPY, {"norm", SP, "@/3d.npy"}, 1, {"@/3d.npy", "3 dimensions"}},
    {"norm: negative size in shape", NPY, {"norm", SP, "@/neg.npy"}, 1, {"@/neg.npy", "shape"}},
    {"norm: NaN element names file and (row, col)", NPY, {"norm", SP, "@/nan.npy"}, 1,
     {"@/nan.npy", "non-finite", "(1, 0)"}},
    {"norm: -inf element names file and (row, col)", NPY, {"norm", "--norm", "l1-linf",
     "@/inf.npy"}, 1, {"@/inf.npy", "non-finite", "(0, 1)"}},
    {"norm: NaN in a 1-D array names file and entry", NPY, {"norm", SP, "@/nan1d.npy"}, 1,
     {"@/nan1d.npy", "non-finite", "(0, 2)", "1 x 4"}},
    {"norm: empty file", NPY, {"norm", SP, "@/empty.npy"}, 1, {"@/empty.npy", "not a .npy"}},
    {"norm: a directory as IN", P_ADIR, {"norm", SP, "@/adir"}, 1, {"@/adir", "directory"}},
    {"norm: missing IN", 0, {"norm", SP, "@/missing.npy"}, 1,
     {"@/missing.npy", "No such file or directory"}},
    {"norm: 3000-char missing path keeps the reason", 0, {"norm", SP, "@/%L/in.npy"}, 1,
     {"No such file or directory"}},
    {"norm: unknown --norm", P_GOOD, {"norm", "--norm", "nope", "@/good.npy"}, 2,
     {"--norm", "unknown norm 'nope'"}},
    {"norm: NP-hard --norm linf-l1", P_GOOD, {"norm", "--norm", "linf-l1", "@/good.npy"}, 2,
     {"linf-l1", "NP-hard"}},
    /* "--norm NAME is required": the metavar between is the help's spelling, not a fault */
    {"norm: --norm missing", P_GOOD, {"norm", "@/good.npy"}, 2, {"--norm", "is required"}},
    {"norm: two inputs", P_GOOD, {"norm", SP, "@/good.npy", "@/good.npy"}, 2,
     {"exactly one", "got 2"}},
    {"norm: --norm given twice", P_GOOD, {"norm", SP, "--norm", "frobenius", "@/good.npy"}, 2,
     {"--norm", "twice"}},

    /* -- dualize -- */
    {"dualize: shape (2^32, 2^32), OUT kept", NPY, {"dualize", SP, "@/big.npy", "@/out.npy"}, 1,
     {"@/big.npy", "4294967296"}},
    {"dualize: header without its {} dict, OUT kept", NPY,
     {"dualize", SP, "@/nodict.npy", "@/out.npy"}, 1, {"@/nodict.npy", "header"}},
    {"dualize: truncated data, OUT kept", NPY, {"dualize", SP, "@/trunc.npy", "@/out.npy"}, 1,
     {"@/trunc.npy", "truncated"}},
    {"dualize: extra data, OUT kept", NPY, {"dualize", SP, "@/extra.npy", "@/out.npy"}, 1,
     {"@/extra.npy", "trailing"}},
    {"dualize: fortran order, OUT kept", NPY, {"dualize", SP, "@/fortran.npy", "@/out.npy"}, 1,
     {"@/fortran.npy", "fortran"}},
    {"dualize: NaN element, OUT kept", NPY, {"dualize", "--norm", "rms-rms", "@/nan.npy",
     "@/out.npy"}, 1, {"@/nan.npy", "non-finite", "(1, 0)"}},
    {"dualize: OUT is a device node", P_GOOD | P_NODE, {"dualize", SP, "@/good.npy", "@/null"},
     1, {"@/null", "regular file"}},
    {"dualize: OUT is a directory", P_GOOD | P_ADIR, {"dualize", SP, "@/good.npy", "@/adir"}, 1,
     {"@/adir", "directory"}},
    {"dualize: OUT in a missing directory", P_GOOD, {"dualize", SP, "@/good.npy",
     "@/nodir/o.npy"}, 1, {"@/nodir/o.npy", "No such file or directory"}},
    {"dualize: NP-hard --norm linf-l1", P_GOOD | P_OUT, {"dualize", "--norm", "linf-l1",
     "@/good.npy", "@/out.npy"}, 2, {"linf-l1", "NP-hard"}},
    {"dualize: unknown --norm", P_GOOD | P_OUT, {"dualize", "--norm", "nope", "@/good.npy",
     "@/out.npy"}, 2, {"--norm", "unknown norm 'nope'"}},
    {"dualize: unknown --method", P_GOOD | P_OUT, {"dualize", SP, "--method", "bogus",
     "@/good.npy", "@/out.npy"}, 2, {"--method", "unknown polar method 'bogus'"}},
    {"dualize: --threads 100000", P_GOOD | P_OUT, {"dualize", SP, "--threads", "100000",
     "@/good.npy", "@/out.npy"}, 2, {"--threads '100000'"}},
    {"dualize: --steps 12abc", P_GOOD | P_OUT, {"dualize", SP, "--steps", "12abc", "@/good.npy",
     "@/out.npy"}, 2, {"--steps '12abc'"}},
    {"dualize: --steps overflow", P_GOOD | P_OUT, {"dualize", SP, "--steps",
     "99999999999999999999", "@/good.npy", "@/out.npy"}, 2,
     {"--steps '99999999999999999999'"}},
    /* dualize's --steps counts polar iterations: the library's cap, a usage error */
    {"dualize: --steps over the polar limit, OUT kept", P_GOOD | P_OUT, {"dualize", SP,
     "--method", "ns5", "--steps", "1001", "@/good.npy", "@/out.npy"}, 2,
     {"--steps '1001' must be an integer in [1, 1000]"}},
    {"dualize: --steps 0, OUT kept", P_GOOD | P_OUT, {"dualize", SP, "--method", "ns5",
     "--steps", "0", "@/good.npy", "@/out.npy"}, 2,
     {"--steps '0' must be an integer in [1, 1000]"}},
    {"dualize: NaN in a 1-D array, OUT kept", NPY, {"dualize", SP, "@/nan1d.npy", "@/out.npy"},
     1, {"@/nan1d.npy", "non-finite", "(0, 2)"}},
    {"dualize: --norm given twice, OUT kept", P_GOOD | P_OUT, {"dualize", SP, "--norm=rms-rms",
     "@/good.npy", "@/out.npy"}, 2, {"--norm", "twice"}},
    {"dualize: OUT missing", P_GOOD, {"dualize", SP, "@/good.npy"}, 2,
     {"exactly two", "got 1", "OUT.npy"}},
    {"dualize: three file arguments", P_GOOD | P_OUT, {"dualize", SP, "@/good.npy", "@/out.npy",
     "@/third.npy"}, 2, {"got 3"}},

    /* -- train -- */
    {"train: --lr 1e-3x", 0, {"train", "--lr", "1e-3x", NODATA}, 2, {"--lr '1e-3x'"}},
    {"train: --steps 12abc", 0, {"train", "--steps", "12abc", NODATA}, 2, {"--steps '12abc'"}},
    {"train: --lr ''", 0, {"train", "--lr", "", NODATA}, 2, {"--lr ''"}},
    {"train: --lr nan", 0, {"train", "--lr", "nan", NODATA}, 2, {"--lr 'nan'"}},
    {"train: --lr inf", 0, {"train", "--lr", "inf", NODATA}, 2, {"--lr 'inf'"}},
    {"train: --lr 1e300", 0, {"train", "--lr", "1e300", NODATA}, 2, {"--lr '1e300'"}},
    /* 2^-201 is positive and below 1e6: the reason is its exponent (review-s12 #8) */
    {"train: --lr 2^-201 names the exponent's bound", 0, {"train", "--lr", "2^-201", NODATA},
     2, {"--lr '2^-201': the E of 2^E must be in [-200, 200]"}, {"positive number"}},
    {"train: --width 0", 0, {"train", "--width", "0", NODATA}, 2, {"--width '0'"}},
    {"train: --steps -5", 0, {"train", "--steps", "-5", NODATA}, 2, {"--steps '-5'"}},
    /* train's --steps counts training steps: not dualize's polar bound */
    {"train: --steps 0", 0, {"train", "--steps", "0", NODATA}, 2,
     {"--steps '0' must be an integer in [1, 1073741824]"}},
    {"train: --steps overflow", 0, {"train", "--steps", "99999999999999999999", NODATA}, 2,
     {"--steps '99999999999999999999'"}},
    {"train: --threads 0", 0, {"train", "--threads", "0", NODATA}, 2, {"--threads '0'"}},
    {"train: unknown --opt", 0, {"train", "--opt", "lion", NODATA}, 2,
     {"--opt", "unknown optimizer 'lion'"}},
    {"train: unknown --method", 0, {"train", "--method", "newton", NODATA}, 2,
     {"--method", "unknown polar method 'newton'"}},
    {"train: unknown option", 0, {"train", "--bogus", NODATA}, 2, {"'--bogus'"}},
    {"train: stray argument", 0, {"train", SMALL, "extra", NODATA}, 2,
     {"unexpected argument 'extra'"}},
    /* exit 1: the data, not the command line, is too small (README: exit codes) */
    {"train: --batch 128 on 64 images says 64", P_DATA64, {"train", "--batch", "128", SMALL,
     "--data-dir", "@/data"}, 1, {"--batch 128", " 64 "}, {" 0 "}},
    {"train: --atom-norm 0=linf-l1 refused before training", P_DATA64, {"train",
     "--atom-norm", "0=linf-l1", SMALL, "--batch", "16", "--data-dir", "@/data"}, 2,
     {"--atom-norm", "NP-hard"}},
    {"train: --atom-norm 0=bogus", P_DATA64, {"train", "--atom-norm", "0=bogus", SMALL,
     "--batch", "16", "--data-dir", "@/data"}, 2, {"--atom-norm", "unknown norm 'bogus'"}},
    /* the Linear's target t/c would be infinite (c = 0): was 'target inf', then a diverged run */
    {"train: a graph of sensitivity 0", P_DATA64 | P_ZERO, {"train", "--graph", "@/zero.mn",
     "--steps", "1", "--batch", "8", "--threads", "1", "--data-dir", "@/data"}, 1,
     {"Mul(0) has sensitivity 0", "Linear(10←784)", "infinite target"}, {"diverged"}},
    /* a norm of another shape: was exit 1 at the first step, without naming --atom-norm */
    {"train: --atom-norm 0=taps-3 on a Linear, before the data", 0, {"train", "--atom-norm",
     "0=taps-3", SMALL, NODATA}, 2, {"--atom-norm", "0=taps-3 does not fit Linear(8←784)",
     "not d_out x (d_in·9)"}},
    {"train: --data-dir missing", 0, {"train", SMALL, NODATA}, 1, {"@/nodata"}},
    {"train: --checkpoint over a file that is not a checkpoint, kept", P_DATA64 | P_OUT,
     {"train", SMALL, "--batch", "16", "--checkpoint", "@/out.npy", "--data-dir", "@/data"}, 1,
     {"--checkpoint", "is not a modnorm checkpoint"}},
    {"train: --checkpoint where no file can be made (/proc), before training", P_DATA64,
     {"train", SMALL, "--batch", "16", "--checkpoint", "/proc/x.st", "--data-dir", "@/data"}, 1,
     {"--checkpoint /proc/x.st", "/proc"}},
    {"train: --data-dir is a file", P_FILE, {"train", SMALL, "--data-dir", "@/file"}, 1,
     {"@/file", "not a directory"}},
    {"train: 3000-char --data-dir keeps the reason", 0, {"train", SMALL, "--data-dir",
     "@/%L"}, 1, {"apt-get install dataset-fashion-mnist"}},
    {"train: --json with a bad --lr prints no JSON", 0, {"train", "--json", "--lr", "nan",
     NODATA}, 2, {"--lr 'nan'"}},
    {"train: --lr given twice", 0, {"train", "--lr", "0.1", "--lr", "0.2", NODATA}, 2,
     {"--lr", "twice"}},

    /* -- inspect -- */
    {"inspect: --width overflow", 0, {"inspect", "--width", "99999999999999999999"}, 2,
     {"--width '99999999999999999999'"}},
    {"inspect: --depth -3", 0, {"inspect", "--depth", "-3"}, 2, {"--depth '-3'"}},
    {"inspect: --graph is a directory, with the reason", P_ADIR, {"inspect", "--graph",
     "@/adir"}, 1, {"cannot read the graph file", "Is a directory"}},
    /* the built-in model refuses a size the command line gave it: usage, as --width 0 */
    /* every digit of a value that is not an integer: %g said 10.000000000000002 was "(10)"
     * (review-s12 #8) */
    {"inspect: --set d_out=2^0.5 reaches the graph as a number", 0, {"inspect", "--set",
     "d_out=2^0.5"}, 2, {"argument 1 (1.4142135623730951) is not a positive integer"}},
    {"inspect: --set d_out=1000.0000001 is not printed as 1000", 0, {"inspect", "--set",
     "d_out=1000.0000001"}, 2, {"argument 1 (1000.0000001) is not a positive integer"}},
    /* --set width= and depth= take --width's and --depth's syntax and range (review-s12 #4) */
    {"inspect: --set width=2^17 as --width 2^17", 0, {"inspect", "--set", "width=2^17"}, 2,
     {"--set 'width=2^17' must be width=W with W an integer in [1, 65536] (as --width)"}},
    {"inspect: --set width=1e3 as --width 1e3", 0, {"inspect", "--set", "width=1e3"}, 2,
     {"--set 'width=1e3'", "an integer in [1, 65536]"}},
    {"inspect: --set width=2^0.5 as --width 2^0.5", 0, {"inspect", "--set", "width=2^0.5"}, 2,
     {"--set 'width=2^0.5'", "an integer in [1, 65536]"}},
    {"inspect: --set depth=1e3 as --depth 1e3", 0, {"inspect", "--set", "depth=1e3"}, 2,
     {"--set 'depth=1e3' must be depth=D with D an integer in [1, 100] (as --depth)"}},
    {"inspect: --set depth=101 as --depth 101", 0, {"inspect", "--set", "depth=101"}, 2,
     {"--set 'depth=101'", "[1, 100]"}},
    {"inspect: --set of one name twice", 0, {"inspect", "--set", "width=3", "--set",
     "width=4"}, 2, {"--set width given twice ('width=3' first)"}},
    {"inspect: --atom-norm of one atom twice, in two spellings", 0, {"inspect", "--width", "8",
     "--atom-norm", "1=frobenius", "--atom-norm", "01=l1-linf"}, 2,
     {"--atom-norm 1 given twice ('1=frobenius' first)"}},
    {"inspect: --set width= and --width both given", 0, {"inspect", "--set", "width=8",
     "--width", "16"}, 2, {"--set width=8", "--width 16", "give one"}},
    {"sweep: --set of the swept width", P_DATA64, {"sweep", "--widths", "8,16", "--set",
     "width=32", "--lrs", "0.1", "--steps", "1", "--out", "@/runs", "--data-dir", "@/data"}, 2,
     {"--set width=32", "the sweep varies width (--widths)"}},
    {"sweep: --set of the swept depth", P_DATA64, {"sweep", "--over", "depth=2,3", "--set",
     "depth=4", "--width", "8", "--lrs", "0.1", "--steps", "1", "--out", "@/runs",
     "--data-dir", "@/data"}, 2, {"--set depth=4", "the sweep varies depth (--over)"}},
    {"coordcheck: --set of the checked width names coordcheck, not a sweep", 0, {"coordcheck",
     "--widths", "8,16", "--set", "width=8", "--out", "@/cc", NODATA}, 2,
     {"--set width=8: the coordinate check varies width (--widths)"}, {"sweep"}},
    {"coordcheck: --widths on a graph without a width names --widths", P_NARROW,
     {"coordcheck", "--graph", "@/narrow.mn", "--widths", "8,16", "--steps", "1", "--out",
     "@/cc", NODATA}, 1, {"--widths: @/narrow.mn declares no parameter 'width'"},
     {"--over"}},
    {"bench step: a model beyond the machine's memory (4.4 TB), before any allocation", 0,
     {"bench", "step", "--width", "65536", "--depth", "64", "--steps", "1"}, 2,
     {"parameters", "more than this machine's"}},
    {"train: a model beyond the machine's memory, before any allocation", P_DATA64, {"train",
     "--width", "65536", "--depth", "64", "--steps", "1", "--batch", "16", "--data-dir",
     "@/data"}, 2,
     {"parameters", "more than this machine's"}},
    {"sweep: one width beyond the machine's memory, refused before any run", P_DATA64,
     {"sweep", "--widths", "8,65536", "--depth", "64", "--lrs", "0.1", "--steps", "1", "--out",
     "@/runs", "--data-dir", "@/data"}, 2, {"parameters", "more than this machine's"}},
    {"inspect: --atom-norm 0=linf-l1", 0, {"inspect", "--atom-norm", "0=linf-l1"}, 2,
     {"--atom-norm", "NP-hard"}},
    {"inspect: --atom-norm K overflows int", 0, {"inspect", "--atom-norm", "4294967296=rms-rms"},
     2, {"--atom-norm '4294967296=rms-rms'"}},
    {"inspect: --atom-norm out of range", 0, {"inspect", "--atom-norm", "7=rms-rms"}, 2,
     {"--atom-norm '7=rms-rms'"}},
    {"inspect: --json with a bad --depth prints no JSON", 0, {"inspect", "--json", "--depth",
     "0"}, 2, {"--depth '0'"}},
    {"inspect: --json given twice", 0, {"inspect", "--json", "--json"}, 2, {"--json", "twice"}},
    /* one of the two silently won, --json or --format by order (review-s12 #6) */
    {"inspect: --json with --format text", 0, {"inspect", "--json", "--format", "text"}, 2,
     {"--json and --format text exclude each other"}},
    {"inspect: --format graph with --json", 0, {"inspect", "--format", "graph", "--json"}, 2,
     {"--json and --format graph exclude each other"}},
    {"inspect: --atom-norm twice is fine, a bad second one is not", 0, {"inspect",
     "--atom-norm", "0=rms-rms", "--atom-norm", "1=bogus"}, 2,
     {"--atom-norm", "unknown norm 'bogus'"}},
    {"inspect: a graph of sensitivity 0", P_ZERO, {"inspect", "--graph", "@/zero.mn"}, 1,
     {"Mul(0) has sensitivity 0", "Linear(10←784)", "infinite target"}, {"target inf"}},
    {"inspect: --atom-norm 2=taps-3 on a Linear", 0, {"inspect", "--atom-norm", "2=taps-3"}, 2,
     {"--atom-norm", "2=taps-3 does not fit Linear(10←512)"}},
    {"inspect: stray argument", 0, {"inspect", "extra"}, 2, {"unexpected argument 'extra'"}},
    /* what the --graph file holds decides these: exit 1, no --help hint (review-s12 #5) */
    {"inspect: --width on a graph without one", P_NARROW, {"inspect", "--graph",
     "@/narrow.mn", "--width", "16"}, 1, {"--width", "declares no parameter 'width'"},
     {"--help"}},
    {"inspect: --set of a parameter the graph lacks", P_NARROW, {"inspect", "--graph",
     "@/narrow.mn", "--set", "nosuch=1"}, 1, {"--set nosuch=1", "declares no parameter"},
     {"--help"}},
    {"inspect: --atom-norm past the graph's atoms", P_NARROW, {"inspect", "--graph",
     "@/narrow.mn", "--atom-norm", "3=rms-rms"}, 1, {"--atom-norm '3=rms-rms'", "[0, 1)"},
     {"--help"}},
    {"train: a graph with too few logits", P_DATA64 | P_NARROW, {"train", "--graph",
     "@/narrow.mn", "--steps", "1", "--batch", "8", "--threads", "1", "--data-dir", "@/data"},
     1, {"outputs 5 logits per example, fewer than the 10 classes"}, {"--help"}},
    {"sweep: --over of a parameter the graph lacks, no --out", P_DATA64 | P_NARROW, {"sweep", "--graph",
     "@/narrow.mn", "--over", "x=1,2", "--lrs", "0.1", "--steps", "1", "--out", "@/runs",
     "--data-dir", "@/data"}, 1, {"--over: @/narrow.mn declares no parameter 'x'"}, {"--help"}},

    /* -- sweep -- */
    {"sweep: bad --data-dir leaves no --out", 0, {"sweep", SWEEP_SMALL, "--out", "@/runs",
     NODATA}, 1, {"@/nodata"}},
    {"sweep: bad --data-dir leaves an existing --out unchanged", P_RUNS, {"sweep", SWEEP_SMALL,
     "--out", "@/runs", NODATA}, 1, {"@/nodata"}},
    {"sweep: --batch 128 on 64 images says 64", P_DATA64, {"sweep", SWEEP_SMALL, "--batch",
     "128", "--out", "@/runs", "--data-dir", "@/data"}, 1, {"--batch 128", " 64 "}, {" 0 "}},
    {"sweep: --lrs 1e300", 0, {"sweep", "--widths", "8", "--lrs", "1e300", "--steps", "1",
     "--out", "@/runs", NODATA}, 2, {"--lrs", "1e300"}},
    {"sweep: --lrs 2^-201 names the exponent's bound", 0, {"sweep", "--widths", "8", "--lrs",
     "0.1,2^-201", "--out", "@/runs", NODATA}, 2,
     {"--lrs '0.1,2^-201': '2^-201': the E of 2^E must be in [-200, 200]"},
     {"positive number"}},
    {"sweep: --lrs A:2^300 names the exponent's bound", 0, {"sweep", "--widths", "8", "--lrs",
     "2^-3:2^300", "--out", "@/runs", NODATA}, 2,
     {"'2^300': the E of 2^E must be in [-200, 200]"}},
    /* the parameter's name, not the option's ("the values of over") */
    {"sweep: --over NAME= with a bad value names NAME", 0, {"sweep", "--no-run", "--over",
     "dhead=2^-1", "--out", "@/runs", NODATA}, 2,
     {"--over 'dhead=2^-1': the values of dhead: '2^-1'"}, {"values of over"}},
    {"sweep: --lrs 1e-3x", 0, {"sweep", "--widths", "8", "--lrs", "1e-3x", "--steps", "1",
     "--out", "@/runs", NODATA}, 2, {"--lrs '1e-3x'"}},
    {"sweep: --widths 0", 0, {"sweep", "--widths", "0", "--lrs", "0.1", "--out", "@/runs",
     NODATA}, 2, {"--widths '0'"}},
    {"sweep: --jobs overflow", 0, {"sweep", SWEEP_SMALL, "--jobs", "99999999999999999999",
     "--out", "@/runs", NODATA}, 2, {"--jobs '99999999999999999999'"}},
    {"sweep: unknown --opt", 0, {"sweep", SWEEP_SMALL, "--opt", "lion", "--out", "@/runs",
     NODATA}, 2, {"--opt", "unknown optimizer 'lion'"}},
    {"sweep: unknown --method", 0, {"sweep", SWEEP_SMALL, "--method", "newton", "--out",
     "@/runs", NODATA}, 2, {"--method", "unknown polar method 'newton'"}},
    {"sweep: --out under a regular file", P_DATA64 | P_FILE, {"sweep", SWEEP_SMALL, "--out",
     "@/file/sub", "--data-dir", "@/data"}, 1, {"@/file/sub", "not a directory"}, {"Success"}},
    {"sweep: --out is a regular file", P_DATA64 | P_FILE, {"sweep", SWEEP_SMALL, "--out",
     "@/file", "--data-dir", "@/data"}, 1, {"@/file", "not a directory"}, {"Success"}},
    /* --out DIR is made as mkdir makes it, not mkdir -p: a mistyped parent is an error */
    {"sweep: --out under a missing folder, nothing made", P_DATA64, {"sweep", SWEEP_SMALL,
     "--out", "@/typo/a/b", "--data-dir", "@/data"}, 1,
     {"--out @/typo/a/b", "@/typo/a: No such file or directory"}},
    /* --no-run summarizes DIR/results.csv: none is an error, not an empty summary */
    {"sweep: --no-run into a DIR without results.csv writes nothing", P_RUNS, {"sweep",
     SWEEP_SMALL, "--no-run", "--out", "@/runs", NODATA}, 1,
     {"--no-run", "@/runs/results.csv", "nothing to summarize"}},
    {"sweep: --no-run into a new DIR creates nothing", 0, {"sweep", SWEEP_SMALL, "--no-run",
     "--out", "@/new", NODATA}, 1, {"--no-run", "@/new/results.csv", "nothing to summarize"}},
    {"sweep: 3000-char --out under a regular file keeps the reason", P_DATA64 | P_FILE,
     {"sweep", SWEEP_SMALL, "--out", "@/file/%L", "--data-dir", "@/data"}, 1,
     {"not a directory"}, {"Success"}},
    {"sweep: 5000-char --out (over PATH_MAX)", P_DATA64, {"sweep", SWEEP_SMALL, "--out", "@/%X",
     "--data-dir", "@/data"}, 1, {"too long"}, {"Success"}},
    {"sweep: --out ''", 0, {"sweep", SWEEP_SMALL, "--out", "", NODATA}, 2, {"--out"},
     {"Success"}},
    {"sweep: --out missing", 0, {"sweep", SWEEP_SMALL, NODATA}, 2, {"--out"}},

    /* -- coordcheck -- */
    {"coordcheck: bad --data-dir leaves no --out", 0, {"coordcheck", "--widths", "8,16", "--steps",
     "1", "--out", "@/cc", NODATA}, 1, {"@/nodata"}},
    {"coordcheck: --batch 128 on 64 images, no --out", P_DATA64, {"coordcheck", "--widths", "8,16",
     "--steps", "1", "--batch", "128", "--out", "@/cc", "--data-dir", "@/data"}, 1,
     {"--batch 128", " 64 "}, {" 0 "}},
    {"coordcheck: --out under a regular file", P_DATA64 | P_FILE, {"coordcheck", "--widths",
     "8,16", "--steps", "1", "--batch", "16", "--out", "@/file/sub", "--data-dir", "@/data"}, 1,
     {"@/file/sub", "not a directory"}, {"Success"}},
    {"coordcheck: --out is a regular file", P_DATA64 | P_FILE, {"coordcheck", "--widths", "8,16",
     "--steps", "1", "--batch", "16", "--out", "@/file", "--data-dir", "@/data"}, 1,
     {"@/file", "not a directory"}, {"Success"}},
    {"coordcheck: --out under a missing folder, nothing made", P_DATA64, {"coordcheck",
     "--widths", "8,16", "--steps", "1", "--batch", "16", "--out", "@/typo/q", "--data-dir",
     "@/data"}, 1, {"--out @/typo/q", "@/typo: No such file or directory"}},
    {"coordcheck: --out ''", 0, {"coordcheck", "--widths", "8,16", "--steps", "1", "--out", "",
     NODATA}, 2, {"--out"}, {"Success"}},
    {"coordcheck: --lr 1e300", 0, {"coordcheck", "--lr", "1e300", "--out", "@/cc", NODATA}, 2,
     {"--lr '1e300'"}},
    {"coordcheck: --tolerance nan", 0, {"coordcheck", "--tolerance", "nan", "--out", "@/cc",
     NODATA}, 2, {"--tolerance 'nan'"}},
    {"coordcheck: --threads 100000", 0, {"coordcheck", "--threads", "100000", "--out", "@/cc",
     NODATA}, 2, {"--threads '100000'"}},
    {"coordcheck: unknown --opt", 0, {"coordcheck", "--opt", "lion", "--out", "@/cc", NODATA},
     2, {"--opt", "unknown optimizer 'lion'"}},
    {"coordcheck: unknown --method", 0, {"coordcheck", "--method", "newton", "--out", "@/cc",
     NODATA}, 2, {"--method", "unknown polar method 'newton'"}},
    /* was refused after training depth 2, exit 1, "modnorm coordcheck: coordcheck: ..." */
    {"coordcheck: --over depth, before any training", P_DATA64, {"coordcheck", "--over",
     "depth=2,3", "--steps", "1", "--batch", "16", "--out", "@/cc", "--data-dir", "@/data"}, 2,
     {"--over: depth 3 gives 5 leaf modules, depth 2 gave 3", "same modules"},
     {"coordcheck: coordcheck:"}},
    {"coordcheck: --widths 8,x", 0, {"coordcheck", "--widths", "8,x", "--out", "@/cc", NODATA},
     2, {"--widths '8,x'"}},

    /* -- bench -- */
    {"bench: unknown benchmark", 0, {"bench", "foo"}, 2, {"unknown benchmark 'foo'"}},
    {"bench gemm: stray argument", 0, {"bench", "gemm", "--n", "8", "4096"}, 2,
     {"unexpected argument '4096'"}},
    {"bench gemm: --n 8x", 0, {"bench", "gemm", "--n", "8x"}, 2, {"--n '8x'"}},
    {"bench gemm: --threads 0", 0, {"bench", "gemm", "--n", "8", "--threads", "0"}, 2,
     {"--threads '0'"}},
    {"bench gemm: unknown --op", 0, {"bench", "gemm", "--n", "8", "--op", "trsm"}, 2,
     {"--op 'trsm'"}},
    {"bench dualize: --shape 8x8x", 0, {"bench", "dualize", "--shape", "8x8x", "--method",
     "ns5"}, 2, {"--shape '8x8x'"}},
    {"bench dualize: --shape 0x5", 0, {"bench", "dualize", "--shape", "0x5", "--method", "ns5"},
     2, {"--shape '0x5'"}},
    {"bench dualize: unknown --method", 0, {"bench", "dualize", "--shape", "8x8", "--method",
     "bogus"}, 2, {"--method", "unknown polar method 'bogus'"}},
    {"bench dualize: stray argument", 0, {"bench", "dualize", "--shape", "8x8", "--method",
     "ns5", "extra"}, 2, {"unexpected argument 'extra'"}},
    {"bench step: unknown --opt", 0, {"bench", "step", "--width", "8", "--opt", "lion"}, 2,
     {"--opt", "unknown optimizer 'lion'"}},
    {"bench step: --width 0", 0, {"bench", "step", "--width", "0"}, 2, {"--width '0'"}},
    {"bench step: --threads 100000", 0, {"bench", "step", "--width", "8", "--threads",
     "100000"}, 2, {"--threads '100000'"}},
    {"bench step: --json with unknown --method prints no JSON", 0, {"bench", "step", "--json",
     "--width", "8", "--method", "bogus"}, 2, {"--method", "unknown polar method 'bogus'"}},
    {"bench step: stray argument", 0, {"bench", "step", "--width", "8", "--steps", "1",
     "extra"}, 2, {"unexpected argument 'extra'"}},
    /* --npy: only a token model writes its batch; never over a file */
    {"bench step: --npy with the mlp creates nothing", 0, {"bench", "step", SMALL, "--npy",
     "@/npy"}, 2, {"--npy", "token model"}},
    {"bench step: --npy is a regular file", P_FILE, {"bench", "step", TINY_GPT, "--npy",
     "@/file"}, 1, {"--npy", "@/file", "not a directory"}},
    {"bench step: --npy under a regular file", P_FILE, {"bench", "step", TINY_GPT, "--npy",
     "@/file/sub"}, 1, {"--npy", "@/file/sub", "not a directory"}},
    {"bench step: --npy under a missing folder, nothing made", 0, {"bench", "step", TINY_GPT,
     "--npy", "@/typo/sub"}, 1, {"--npy @/typo/sub", "@/typo: No such file or directory"}},
    {"bench step: a GPT's vocab above 2^24", 0, {"bench", "step", TINY_GPT, "--set",
     "vocab=16777217"}, 1, {"vocab 16777217", "2^24"}},
};

enum { N_CASES = sizeof cases / sizeof cases[0] };

/* ---- expanding '@', '%L', '%X' ------------------------------------------ */

static char *expand(const char *tmpl, const char *dir)
{
    size_t cap = strlen(tmpl) + 16;
    for (const char *p = tmpl; *p; p++)
        cap += *p == '@' ? strlen(dir) : *p == '%' ? 5100 : 0;
    char *out = malloc(cap), *o = out;
    ck_assert_ptr_nonnull(out);
    for (const char *p = tmpl; *p; p++) {
        if (*p == '@') {
            o += sprintf(o, "%s", dir);
        } else if (*p == '%' && (p[1] == 'L' || p[1] == 'X')) {
            int parts = p[1] == 'L' ? 30 : 50; /* of 100 characters each */
            for (int i = 0; i < parts; i++) {
                memset(o, 'd', 99);
                o[99] = '/';
                o += 100;
            }
            o--; /* no trailing '/' */
            p++;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static const char *modnorm_exe(void)
{
    const char *exe = getenv("MODNORM");
    ck_assert_msg(exe != NULL && exe[0], "MODNORM is not set (meson sets it)");
    return exe;
}

static char *make_dir(void)
{
    char *dir = strdup("/tmp/mn_bad_XXXXXX");
    ck_assert_ptr_nonnull(dir);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void remove_dir(const char *dir)
{
    ck_assert_int_eq(nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static const char *const sanitizer_marks[] = {"Sanitizer", "runtime error:"};

/* A stream's text for a message: its first 700 bytes, newlines shown as \n. */
static void show(report *r, const char *label, const char *s, size_t n)
{
    say(r, "%s (%zu bytes): \"", label, n);
    for (size_t i = 0; i < n && i < 700; i++) {
        if (s[i] == '\n')
            say(r, "\\n");
        else
            say(r, "%c", s[i]);
    }
    say(r, n > 700 ? "…\" " : "\" ");
}

static size_t count_lines(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '\n';
    return k + (n > 0 && s[n - 1] != '\n');
}

START_TEST(test_bad_case)
{
    const bad_case *c = &cases[_i];
    char *dir = make_dir();
    prepare(dir, c->prep);

    char *argv[26];
    int argc = 0;
    argv[argc++] = (char *)modnorm_exe();
    for (int i = 0; c->argv[i]; i++)
        argv[argc++] = expand(c->argv[i], dir);
    argv[argc] = NULL;

    snapshot before = take_snapshot(dir);
    run_result r;
    run_argv(argv, dir, &r);
    snapshot after = take_snapshot(dir);

    report w = {.len = 0};
    if (r.timed_out)
        fault(&w, "[timed out after %d s] ", TIMEOUT_S);
    if (WIFSIGNALED(r.status))
        fault(&w, "[killed by signal %d (%s)] ", WTERMSIG(r.status), strsignal(WTERMSIG(r.status)));
    else if (WIFEXITED(r.status) && WEXITSTATUS(r.status) != c->code)
        fault(&w, "[exit %d, want %d] ", WEXITSTATUS(r.status), c->code);
    for (size_t i = 0; i < sizeof sanitizer_marks / sizeof *sanitizer_marks; i++)
        if (strstr(r.err, sanitizer_marks[i]) || strstr(r.out, sanitizer_marks[i]))
            fault(&w, "[sanitizer report: '%s'] ", sanitizer_marks[i]);
    size_t lines = count_lines(r.err, r.n_err);
    if (lines != 1 || r.err[r.n_err - 1] != '\n') /* lines == 1: n_err > 0 */
        fault(&w, "[stderr has %zu line(s)%s, want exactly one] ", lines,
            r.n_err && r.err[r.n_err - 1] != '\n' ? " without a final newline" : "");
    for (int i = 0; i < 4 && c->want[i]; i++) {
        char *needle = expand(c->want[i], dir);
        if (!strcasestr(r.err, needle))
            fault(&w, "[stderr lacks '%.300s'] ", needle);
        free(needle);
    }
    for (int i = 0; i < 3 && c->absent[i]; i++)
        if (strcasestr(r.err, c->absent[i]))
            fault(&w, "[stderr holds '%s'] ", c->absent[i]);
    if (r.n_out)
        fault(&w, "[stdout not empty] ");
    compare_snapshots(&before, &after, &w);

    bool ok = w.faults == 0;
    report msg = {.len = 0};
    say(&msg, "%s: `modnorm", c->name);
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (n > 90)
            say(&msg, " %.40s…(%zu chars)…%.30s", argv[i], n, argv[i] + n - 30);
        else
            say(&msg, " %s", argv[i]);
    }
    say(&msg, "` -> want exit %d, one stderr line with", c->code);
    for (int i = 0; i < 4 && c->want[i]; i++)
        say(&msg, " '%s'", c->want[i]);
    if (!ok) {
        say(&msg, "; GOT %s; ", w.text);
        if (WIFEXITED(r.status))
            say(&msg, "exit %d; ", WEXITSTATUS(r.status));
        show(&msg, "stderr", r.err, r.n_err);
        if (r.n_out)
            show(&msg, "stdout", r.out, r.n_out);
    }
    printf("[%s] case %d %s\n", ok ? "pass" : "FAIL", _i, msg.text);
    fflush(stdout);

    for (int i = 1; i < argc; i++)
        free(argv[i]);
    free_snapshot(&before);
    free_snapshot(&after);
    free_result(&r);
    remove_dir(dir);
    free(dir);
    ck_assert_msg(ok, "%s", msg.text);
}
END_TEST

/* ---- value probes: these must succeed ----------------------------------- */

/* Run `modnorm ARGS...` (expanded) in dir and note in w what any successful
 * run must not do: time out, die, exit non-zero, trip a sanitizer. */
static void run_ok(const char *dir, const char *const *args, run_result *r, report *w)
{
    char *argv[16];
    int argc = 0;
    argv[argc++] = (char *)modnorm_exe();
    say(w, "`modnorm");
    for (int i = 0; args[i]; i++) {
        argv[argc++] = expand(args[i], dir);
        say(w, " %s", argv[argc - 1]);
    }
    say(w, "`: ");
    argv[argc] = NULL;
    int before = w->faults;
    run_argv(argv, dir, r);
    for (int i = 1; i < argc; i++)
        free(argv[i]);
    if (r->timed_out)
        fault(w, "[timed out] ");
    if (WIFSIGNALED(r->status))
        fault(w, "[killed by signal %d (%s)] ", WTERMSIG(r->status), strsignal(WTERMSIG(r->status)));
    else if (WEXITSTATUS(r->status) != 0)
        fault(w, "[exit %d, want 0] ", WEXITSTATUS(r->status));
    for (size_t i = 0; i < sizeof sanitizer_marks / sizeof *sanitizer_marks; i++)
        if (strstr(r->err, sanitizer_marks[i]) || strstr(r->out, sanitizer_marks[i]))
            fault(w, "[sanitizer report: '%s'] ", sanitizer_marks[i]);
    if (w->faults != before)
        show(w, "stderr", r->err, r->n_err);
}

/* The text after 'key': in a .npy header: a parenthesized tuple whole,
 * anything else up to the next ',' or '}'. */
static bool header_value(const char *header, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "'%s': ", key);
    const char *p = strstr(header, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = *p == '(' ? strcspn(p, ")") + 1 : strcspn(p, ",}");
    snprintf(out, cap, "%.*s", (int)n, p);
    return true;
}

/* Read an output .npy: version 1.0, C order, descr `descr` ('<f4' or '<f8'),
 * the header's shape text exactly `shape`, n elements (as doubles into out).
 * False, with the problems noted in w, when it is not that. */
static bool load_output(const char *path, const char *descr, const char *shape, double *out,
                        size_t n, report *w)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fault(w, "[%s: cannot open: %s] ", path, strerror(errno));
        return false;
    }
    unsigned char pre[10], data[4096];
    char header[1024] = "", v[128];
    size_t hlen = 0, len = 0;
    bool ok = fread(pre, 1, 10, fp) == 10 && memcmp(pre, "\x93NUMPY\x01\x00", 8) == 0;
    if (ok) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        ok = hlen < sizeof header && fread(header, 1, hlen, fp) == hlen;
        header[ok ? hlen : 0] = '\0';
    }
    if (ok)
        len = fread(data, 1, sizeof data, fp);
    fclose(fp);
    for (size_t k = strlen(header); k > 0 && (header[k - 1] == '\n' || header[k - 1] == ' ');)
        header[--k] = '\0'; /* the padding, for messages */
    if (!ok) {
        fault(w, "[%s: not a version 1.0 .npy with a header under 1 KiB] ", path);
        return false;
    }
    int faults = w->faults;
    bool f32 = strcmp(descr, "'<f4'") == 0;
    size_t esz = f32 ? sizeof(float) : sizeof(double);
    if (!header_value(header, "descr", v, sizeof v) || strcmp(v, descr) != 0)
        fault(w, "[%s: descr is not %s: %s] ", path, descr, header);
    if (!header_value(header, "fortran_order", v, sizeof v) || strcmp(v, "False") != 0)
        fault(w, "[%s: fortran_order is not False: %s] ", path, header);
    if (!header_value(header, "shape", v, sizeof v) || strcmp(v, shape) != 0)
        fault(w, "[%s: shape is not %s: %s] ", path, shape, header);
    if (len != n * esz)
        fault(w, "[%s: %zu data bytes, want %zu] ", path, len, n * esz);
    if (w->faults != faults)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (f32) {
            float x;
            memcpy(&x, data + i * esz, esz);
            out[i] = x;
        } else {
            memcpy(&out[i], data + i * esz, esz);
        }
    }
    return true;
}

/* The output holds want[0..n) to within tol, element by element. */
static void check_output(const char *path, const char *descr, const char *shape,
                         const double *want, size_t n, double tol, report *w)
{
    double got[64];
    if (n > 64 || !load_output(path, descr, shape, got, n, w))
        return;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol))
            fault(w, "[%s: element %zu is %.17g, want %.17g (within %g)] ", path, i, got[i],
                  want[i], tol);
}

/* The number after "key": in a JSON object, or NaN. */
static double json_number(const char *s, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(s, pat);
    if (!p)
        return NAN;
    char *end;
    double v = strtod(p + strlen(pat), &end);
    return end == p + strlen(pat) ? NAN : v;
}

static const float subnormal[4] = {3e-40f, 0, 0, 1e-40f};

/* Spectral norm of diag(3e-40, 1e-40) in float32 is 3e-40 and its dual (the
 * nuclear norm) 4e-40: the stored float32 values, not 0 (flush-to-zero). */
START_TEST(test_subnormal_norm)
{
    char *dir = make_dir();
    npy_f32(dir, "sub.npy", "(2, 2)", subnormal, 4);
    run_result r;
    report w = {.len = 0};
    run_ok(dir, (const char *[]){"norm", "--norm", "spectral", "@/sub.npy", NULL}, &r, &w);
    int before = w.faults;
    double a = (double)subnormal[0], b = (double)subnormal[3];
    double v = json_number(r.out, "norm"), d = json_number(r.out, "dual");
    if (!(fabs(v - a) <= 1e-6 * a))
        fault(&w, "[norm %.9g, want %.9g (relative 1e-6)] ", v, a);
    if (!(fabs(d - (a + b)) <= 1e-6 * (a + b)))
        fault(&w, "[dual %.9g, want %.9g (relative 1e-6)] ", d, a + b);
    if (w.faults != before)
        show(&w, "stdout", r.out, r.n_out);
    remove_dir(dir);
    free(dir);
    free_result(&r);
    ck_assert_msg(w.faults == 0, "%s", w.text);
}
END_TEST

/* lmo of diag(3e-40, 1e-40) in the spectral norm is U Vᵀ = the identity. */
START_TEST(test_subnormal_dualize)
{
    char *dir = make_dir(), path[4096];
    npy_f32(dir, "sub.npy", "(2, 2)", subnormal, 4);
    run_result r;
    report w = {.len = 0};
    run_ok(dir, (const char *[]){"dualize", "--norm", "spectral", "@/sub.npy", "@/o.npy", NULL},
           &r, &w);
    snprintf(path, sizeof path, "%s/o.npy", dir);
    static const double eye[4] = {1, 0, 0, 1};
    check_output(path, "'<f4'", "(2, 2)", eye, 4, 1e-6, &w);
    remove_dir(dir);
    free(dir);
    free_result(&r);
    ck_assert_msg(w.faults == 0, "%s", w.text);
}
END_TEST

/* A 1-D (n,) input is dualized as 1 x n and written back as (n,): for a row
 * the spectral lmo is v/‖v‖₂. */
START_TEST(test_1d_round_trip)
{
    char *dir = make_dir(), path[4096];
    static const float v[4] = {1, 2, 3, 4};
    npy_f32(dir, "v.npy", "(4,)", v, 4);
    run_result r;
    report w = {.len = 0};
    run_ok(dir, (const char *[]){"dualize", "--norm", "spectral", "@/v.npy", "@/o.npy", NULL},
           &r, &w);
    snprintf(path, sizeof path, "%s/o.npy", dir);
    double want[4];
    for (int i = 0; i < 4; i++)
        want[i] = v[i] / sqrt(30.0);
    check_output(path, "'<f4'", "(4,)", want, 4, 1e-6, &w);
    free_result(&r);
    /* norm takes it too: the 1 x 4 matrix's spectral norm and its dual (the
     * nuclear norm) are both ‖v‖₂ = √30. */
    say(&w, "; ");
    run_ok(dir, (const char *[]){"norm", "--norm", "spectral", "@/v.npy", NULL}, &r, &w);
    double n = json_number(r.out, "norm"), d = json_number(r.out, "dual"), l2 = sqrt(30.0);
    if (!(fabs(n - l2) <= 1e-6 * l2) || !(fabs(d - l2) <= 1e-6 * l2)) {
        fault(&w, "[norm %.9g, dual %.9g, want both %.9g] ", n, d, l2);
        show(&w, "stdout", r.out, r.n_out);
    }
    remove_dir(dir);
    free(dir);
    free_result(&r);
    ck_assert_msg(w.faults == 0, "%s", w.text);
}
END_TEST


static void npy_f64(const char *dir, const char *name, const char *shape, const double *v,
                    size_t n)
{
    char path[4096], hdr[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(hdr, sizeof hdr, "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", shape);
    write_npy(path, hdr, v, n * sizeof *v);
}

/* float64 subnormals: the spectral norm of diag(3e-310, 1e-310) is 3e-310,
 * its dual 4e-310. */
START_TEST(test_subnormal_norm_f64)
{
    char *dir = make_dir();
    static const double v[4] = {3e-310, 0, 0, 1e-310};
    npy_f64(dir, "sub.npy", "(2, 2)", v, 4);
    run_result r;
    report w = {.len = 0};
    run_ok(dir, (const char *[]){"norm", "--norm", "spectral", "@/sub.npy", NULL}, &r, &w);
    int before = w.faults;
    double got = json_number(r.out, "norm"), dual = json_number(r.out, "dual");
    if (!(fabs(got - 3e-310) <= 1e-6 * 3e-310))
        fault(&w, "[norm %.9g, want 3e-310 (relative 1e-6)] ", got);
    if (!(fabs(dual - 4e-310) <= 1e-6 * 4e-310))
        fault(&w, "[dual %.9g, want 4e-310 (relative 1e-6)] ", dual);
    if (w.faults != before)
        show(&w, "stdout", r.out, r.n_out);
    remove_dir(dir);
    free(dir);
    free_result(&r);
    ck_assert_msg(w.faults == 0, "%s", w.text);
}
END_TEST

/* Values near float64's largest: [[1e308, 1e308]] has Frobenius norm
 * sqrt(2)e308 (finite) and dualizes to [[1/sqrt(2), 1/sqrt(2)]]; a sum of
 * squares overflows unless it is scaled. */
START_TEST(test_near_max_f64)
{
    char *dir = make_dir(), path[4096];
    static const double v[2] = {1e308, 1e308};
    npy_f64(dir, "big.npy", "(1, 2)", v, 2);
    run_result r;
    report w = {.len = 0};
    run_ok(dir, (const char *[]){"norm", "--norm", "frobenius", "@/big.npy", NULL}, &r, &w);
    double want = sqrt(2.0) * 1e308, got = json_number(r.out, "norm");
    if (!(fabs(got - want) <= 1e-12 * want))
        fault(&w, "[norm %.17g, want %.17g] ", got, want);
    if (w.faults)
        show(&w, "stdout", r.out, r.n_out);
    free_result(&r);
    say(&w, "; ");
    run_ok(dir, (const char *[]){"dualize", "--norm", "frobenius", "@/big.npy", "@/o.npy", NULL},
           &r, &w);
    snprintf(path, sizeof path, "%s/o.npy", dir);
    const double unit[2] = {1 / sqrt(2.0), 1 / sqrt(2.0)};
    check_output(path, "'<f8'", "(1, 2)", unit, 2, 1e-12, &w);
    remove_dir(dir);
    free(dir);
    free_result(&r);
    ck_assert_msg(w.faults == 0, "%s", w.text);
}
END_TEST

/* Every polar iteration divides by ||G||_F first, so its output does not
 * depend on the input's scale: float32 diag(3e-40, 1e-40) (subnormal) gives
 * what diag(3, 1) gives, and [[3e38, 3e38], [0, 0]] (near the largest)
 * what [[3, 3], [0, 0]] gives, to within fp32 rounding (2e-3, README). */
static const char *const iterations[] = {"ns5", "polar-express", "you6", "cubic"};

START_TEST(test_polar_scale_invariance)
{
    const char *method = iterations[_i];
    char *dir = make_dir(), path[4096];
    static const float d31[4] = {3, 0, 0, 1}, r33[4] = {3, 3, 0, 0},
                       huge[4] = {3e38f, 3e38f, 0, 0};
    npy_f32(dir, "sub.npy", "(2, 2)", subnormal, 4);
    npy_f32(dir, "d31.npy", "(2, 2)", d31, 4);
    npy_f32(dir, "huge.npy", "(2, 2)", huge, 4);
    npy_f32(dir, "r33.npy", "(2, 2)", r33, 4);
    static const char *const pairs[2][2] = {{"sub", "d31"}, {"huge", "r33"}};
    report w = {.len = 0};
    for (int p = 0; p < 2; p++) {
        double out[2][4];
        bool loaded = true;
        for (int k = 0; k < 2; k++) {
            char in[64], o[64];
            snprintf(in, sizeof in, "@/%s.npy", pairs[p][k]);
            snprintf(o, sizeof o, "@/o_%s.npy", pairs[p][k]);
            run_result r;
            run_ok(dir, (const char *[]){"dualize", "--norm", "spectral", "--method", method, in,
                                         o, NULL}, &r, &w);
            free_result(&r);
            snprintf(path, sizeof path, "%s/o_%s.npy", dir, pairs[p][k]);
            loaded = load_output(path, "'<f4'", "(2, 2)", out[k], 4, &w) && loaded;
        }
        for (int i = 0; loaded && i < 4; i++)
            if (!(fabs(out[0][i] - out[1][i]) <= 2e-3))
                fault(&w, "[--method %s: element %d of lmo(%s) is %.9g, of lmo(%s) %.9g] ",
                      method, i, pairs[p][0], out[0][i], pairs[p][1], out[1][i]);
    }
    remove_dir(dir);
    free(dir);
    ck_assert_msg(w.faults == 0, "%s", w.text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bad_input");
    TCase *tc = tcase_create("bad_input");
    tcase_set_timeout(tc, 2 * TIMEOUT_S + 30);
    tcase_add_loop_test(tc, test_bad_case, 0, N_CASES);
    tcase_add_test(tc, test_subnormal_norm);
    tcase_add_test(tc, test_subnormal_dualize);
    tcase_add_test(tc, test_1d_round_trip);
    tcase_add_test(tc, test_subnormal_norm_f64);
    tcase_add_test(tc, test_near_max_f64);
    tcase_add_loop_test(tc, test_polar_scale_invariance, 0,
                        (int)(sizeof iterations / sizeof *iterations));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
