/* .npy reading and writing: NumPy-written fixtures, round trips, refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

START_TEST(test_read_numpy_fixtures)
{
    mn_mat m;
    ck_assert_ok(mn_npy_read(MN_TEST_DATA "/small_f4.npy", &m));
    ck_assert_int_eq(m.dtype, MN_F32);
    ck_assert_int_eq(m.rows, 2);
    ck_assert_int_eq(m.cols, 3);
    ck_assert_double_eq(mn_mat_get(&m, 1, 2), 2.5);
    mn_mat_free(&m);
    ck_assert_ok(mn_npy_read(MN_TEST_DATA "/small_f8.npy", &m));
    ck_assert_int_eq(m.dtype, MN_F64);
    ck_assert_int_eq(m.rows, 3);
    ck_assert_double_eq(mn_mat_get(&m, 2, 1), 5 / 7.0);
    mn_mat_free(&m);
    ck_assert_ok(mn_npy_read(MN_TEST_DATA "/vector_f4.npy", &m));
    ck_assert_int_eq(m.rows, 1);
    ck_assert_int_eq(m.cols, 3);
    mn_mat_free(&m);
}
END_TEST

START_TEST(test_refusals_name_the_problem)
{
    const struct {
        const char *file, *needle;
        mn_status st;
    } cases[] = {
        {"/fortran_f4.npy", "Fortran", MN_ERR_FORMAT},
        {"/bigendian_f4.npy", ">f4", MN_ERR_FORMAT},
        {"/int32.npy", "<i4", MN_ERR_FORMAT},
        {"/cube_f4.npy", "dimensions", MN_ERR_FORMAT},
        {"/missing.npy", "cannot open", MN_ERR_IO},
        {"/../test_npy.c", "not a .npy", MN_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mn_mat m;
        char path[512];
        snprintf(path, sizeof path, "%s%s", MN_TEST_DATA, cases[i].file);
        mn_status st = mn_npy_read(path, &m);
        ck_assert_int_eq(st, cases[i].st);
        ck_assert_msg(strstr(mn_last_error(), cases[i].needle), "%s: message '%s' lacks '%s'",
                      cases[i].file, mn_last_error(), cases[i].needle);
    }
    /* An empty path is named as such (messages start with the path, which
     * gave ": cannot open: ..."), for reading and for every writer. */
    mn_mat m;
    ck_assert_int_eq(mn_npy_read("", &m), MN_ERR_ARG);
    ck_assert_str_eq(mn_last_error(), "the path of the .npy file to read is empty");
    ck_assert_ok(mn_mat_alloc(&m, MN_F32, 2, 2));
    ck_assert_int_eq(mn_npy_write("", &m), MN_ERR_ARG);
    ck_assert_str_eq(mn_last_error(), "the path of the .npy file to write is empty");
    ck_assert_int_eq(mn_npy_write_raw("", "<f4", 2, (const int64_t[]){2, 2}, m.data,
                                      4 * sizeof(float)),
                     MN_ERR_ARG);
    ck_assert_str_eq(mn_last_error(), "the path of the .npy file to write is empty");
    mn_mat_free(&m);
}
END_TEST

/* A FIFO (or a device) is refused at once rather than waited on for a
 * writer (review-s12 #12): opened blocking, the FIFO below would hang
 * until the alarm ends the test. */
START_TEST(test_read_refuses_fifo_at_once)
{
    alarm(10);
    tm_dir_make("npy_fifo");
    ck_assert_int_eq(mkfifo(tm_at("ff"), 0600), 0);
    mn_mat m;
    ck_assert_refused(mn_npy_read(tm_at("ff"), &m), MN_ERR_FORMAT, "ff: not a regular file");
    ck_assert_refused(mn_npy_read("/dev/null", &m), MN_ERR_FORMAT, "not a regular file");
    tm_dir_remove();
    alarm(0);
}
END_TEST

START_TEST(test_round_trip_and_truncation)
{
    char dir[] = "/tmp/mn_npy_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/a.npy", dir);
    for (int dt = MN_F32; dt <= MN_F64; dt++) {
        mn_mat A = tm_make(TM_GAUSSIAN, (mn_dtype)dt, 5, 70, 3), B;
        ck_assert_ok(mn_npy_write(path, &A));
        ck_assert_ok(mn_npy_read(path, &B));
        ck_assert_int_eq(B.dtype, dt);
        ck_assert_double_eq(tm_max_abs_diff(&A, &B), 0);
        mn_mat_free(&B);
        /* A transposed view is written in C order of the view. */
        mn_mat At = mn_mat_transpose(A);
        ck_assert_ok(mn_npy_write(path, &At));
        ck_assert_ok(mn_npy_read(path, &B));
        ck_assert_int_eq(B.rows, 70);
        ck_assert_double_eq(tm_max_abs_diff(&At, &B), 0);
        mn_mat_free(&B);
        mn_mat_free(&A);
    }
    /* The header is 64-byte aligned as NumPy writes it, and a truncated file
     * is refused. */
    FILE *f = fopen(path, "rb");
    char hdr[128];
    ck_assert_int_eq(fread(hdr, 1, 128, f), 128);
    fclose(f);
    size_t hlen = (size_t)(unsigned char)hdr[8] | (size_t)(unsigned char)hdr[9] << 8;
    ck_assert_uint_eq((10 + hlen) % 64, 0);
    ck_assert_int_eq(hdr[10 + hlen - 1], '\n');
    ck_assert_int_eq(truncate(path, 200), 0);
    mn_mat B;
    ck_assert_int_eq(mn_npy_read(path, &B), MN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "truncated"));
    /* A failed write leaves no file and no temporary behind. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.npy", dir);
    mn_mat A = tm_make(TM_GAUSSIAN, MN_F32, 2, 2, 1);
    ck_assert_int_eq(mn_npy_write(bad, &A), MN_ERR_IO);
    mn_mat_free(&A);
    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0); /* empty: no stray temporaries */
}
END_TEST

/* ---- files written byte by byte, good and malformed ---------------------- */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mn_npy_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void) { ck_assert_int_eq(rmdir(tmpdir), 0); }

/* A .npy file of version major.minor whose header is the hlen bytes of
 * `text` exactly (give the padding and the newline yourself), followed by
 * data_len bytes: the float32 values 0, 1, 2, ... (or float64 when f64). */
static void put_npy_n(const char *path, int major, int minor, const char *text, size_t hlen,
                      size_t data_len, bool f64)
{
    size_t pre = major == 1 ? 10 : 12;
    unsigned char *buf = calloc(pre + hlen + data_len + 8, 1);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = (unsigned char)minor;
    for (size_t i = 0; i < pre - 8; i++)
        buf[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + pre, text, hlen);
    size_t esz = f64 ? 8 : 4;
    for (size_t i = 0; (i + 1) * esz <= data_len; i++) {
        double d = (double)i;
        float f = (float)i;
        memcpy(buf + pre + hlen + i * esz, f64 ? (const void *)&d : (const void *)&f, esz);
    }
    tm_write_file(path, buf, pre + hlen + data_len);
    free(buf);
}

static void put_npy(const char *path, int major, int minor, const char *text, size_t data_len,
                    bool f64)
{
    put_npy_n(path, major, minor, text, strlen(text), data_len, f64);
}

/* dict + spaces + '\n', 64-byte aligned as numpy writes it (version 1). */
static const char *padded(const char *dict)
{
    static char buf[512];
    size_t n = strlen(dict), total = 10 + n + 1, pad = (64 - total % 64) % 64;
    ck_assert_uint_lt(n + pad + 2, sizeof buf);
    memcpy(buf, dict, n);
    memset(buf + n, ' ', pad);
    buf[n + pad] = '\n';
    buf[n + pad + 1] = '\0';
    return buf;
}

#define F4_23 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"

/* Each malformed header class is refused with MN_ERR_FORMAT and a one-line
 * message that starts with the path and names the problem; *out is left
 * as it was and nothing leaks (ASan/valgrind runs check that). */
START_TEST(test_malformed_headers_refused)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/bad.npy", tmpdir);
    const struct {
        const char *what;
        int major, minor;
        const char *header; /* exact text; NULL: padded(dict) */
        const char *dict;
        size_t data_len;
        const char *needle;
    } cases[] = {
        /* the preamble */
        {"bad version", 4, 0, NULL, F4_23, 24, "version 4.0"},
        {"bad minor version", 1, 1, NULL, F4_23, 24, "version 1.1"},
        /* the dict */
        {"no dict", 1, 0, NULL, "'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", 24,
         "dict literal"},
        {"unclosed dict", 1, 0, NULL, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)",
         24, "',' or '}'"},
        {"no newline", 1, 0, F4_23 "     ", NULL, 24, "newline"},
        {"text after the dict", 1, 0, NULL, F4_23 " x", 24, "only spaces"},
        {"missing key", 1, 0, NULL, "{'descr': '<f4', 'fortran_order': False, }", 24,
         "lacks the key 'shape'"},
        {"extra key", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24, "key 'x'"},
        {"duplicate key", 1, 0, NULL,
         "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 24,
         "'descr' twice"},
        {"key not a string", 1, 0, NULL, "{descr: '<f4', 'fortran_order': False, 'shape': (2,)}",
         8, "key in quotes"},
        {"missing colon", 1, 0, NULL, "{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}", 8,
         "':'"},
        {"missing comma", 1, 0, NULL, "{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", 8,
         "',' or '}'"},
        {"fortran_order not a bool", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", 24, "True or False"},
        {"fortran_order Falsey", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2, 3)}", 24, "True or False"},
        {"descr not a string", 1, 0, NULL,
         "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", 8, "dtype string"},
        {"unterminated string", 1, 0, NULL, "{'descr': '<f4, 'fortran_order': False}", 0,
         "malformed"},
        /* the shape */
        {"shape not a tuple", 1, 0, NULL, "{'descr': '<f4', 'fortran_order': False, 'shape': 6}",
         24, "tuple"},
        {"shape (n) is an int", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", 24, "written (6,)"},
        {"shape a list", 1, 0, NULL, "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}",
         24, "tuple"},
        {"number with a suffix", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L)}", 24, "whole decimal"},
        {"number with a fraction", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 3)}", 24, "whole decimal"},
        {"hex number", 1, 0, NULL, "{'descr': '<f4', 'fortran_order': False, 'shape': (0x2, 3)}",
         24, "whole decimal"},
        {"two numbers, no comma", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}", 24, "',' or ')'"},
        {"empty dimension", 1, 0, NULL, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,3)}",
         24, "whole decimal"},
        {"negative dimension", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -3)}", 24, "negative"},
        {"negative 1-D", 1, 0, NULL, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 4,
         "negative"},
        {"dimension past int64", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", 4,
         "past the largest"},
        {"shape (2^32, 2^32) wraps to 0", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", 4,
         "more than"},
        {"shape of 2^62 doubles", 1, 0, NULL,
         "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}", 8,
         "more than"},
        {"shape (2^31, 2^31) float32", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648, 2147483648)}", 4,
         "more than"},
        /* 0 elements, but numpy refuses the shape (review-s12 #13) */
        {"shape (0, 2^62) float32", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904)}", 0,
         "which numpy refuses even for 0 elements"},
        {"shape (2^62, 0) float32", 1, 0, NULL,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 0)}", 0,
         "which numpy refuses even for 0 elements"},
        {"0-D scalar", 1, 0, NULL, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", 4,
         "0 dimensions"},
        {"3-D", 1, 0, NULL, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2)}", 32,
         "3 dimensions"},
        /* the dtype and order */
        {"fortran order", 1, 0, NULL, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}",
         24, "Fortran"},
        {"int32", 1, 0, NULL, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3)}", 24,
         "'<i4'"},
        {"big-endian", 1, 0, NULL, "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3)}", 48,
         "'>f8'"},
        {"float16", 1, 0, NULL, "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3)}", 12,
         "'<f2'"},
        {"complex", 1, 0, NULL, "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3)}", 48,
         "'<c8'"},
        {"object", 1, 0, NULL, "{'descr': '|O', 'fortran_order': False, 'shape': (2, 3)}", 48,
         "'|O'"},
        /* the data's length */
        {"data too short", 1, 0, NULL, F4_23, 23, "truncated"},
        {"no data", 2, 0, NULL, F4_23, 0, "needs 24 bytes of data, the file has 0"},
        {"data too long", 1, 0, NULL, F4_23, 28, "4 trailing bytes"},
        {"float64 data for float32 shape", 3, 0, NULL, F4_23, 48, "24 trailing bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *text = cases[i].header ? cases[i].header : padded(cases[i].dict);
        put_npy(path, cases[i].major, cases[i].minor, text, cases[i].data_len, false);
        float sentinel = 7;
        mn_mat m = {.dtype = MN_F64, .rows = -5, .cols = -6, .data = &sentinel};
        int ndim = -1;
        mn_clear_error();
        mn_status st = mn_npy_read_ndim(path, &m, &ndim);
        const char *msg = mn_last_error();
        ck_assert_msg(st == MN_ERR_FORMAT, "%s: status %s (%s)", cases[i].what, mn_status_str(st),
                      msg);
        ck_assert_msg(strncmp(msg, path, strlen(path)) == 0 && strstr(msg, cases[i].needle),
                      "%s: message '%s' does not start with the path and name '%s'",
                      cases[i].what, msg, cases[i].needle);
        ck_assert_msg(!strchr(msg, '\n'), "%s: message has a newline", cases[i].what);
        ck_assert_msg(m.data == &sentinel && m.rows == -5 && ndim == -1, "%s: out was changed",
                      cases[i].what);
    }

    /* Files too short for any header, and bytes that are not .npy at all. */
    const struct {
        const char *what;
        const char *bytes;
        size_t n;
        const char *needle;
    } raw[] = {
        {"empty file", "", 0, "shorter than the 10-byte preamble"},
        {"half a magic", "\x93NUM", 4, "shorter than the 10-byte preamble"},
        {"magic only", "\x93NUMPY\x01\x00", 8, "shorter than the 10-byte preamble"},
        {"v2 preamble cut", "\x93NUMPY\x02\x00\x10\x00", 10, "truncated"},
        {"not npy", "P6 2 2 255 0123456789", 21, "bad magic"},
        {"header length 0", "\x93NUMPY\x01\x00\x00\x00", 10, "newline"},
        {"v2 length 2^32-1", "\x93NUMPY\x02\x00\xff\xff\xff\xff{", 13, "runs past"},
        {"v1 length past the end", "\x93NUMPY\x01\x00\x20\x00{'descr'", 17, "runs past"},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        tm_write_file(path, raw[i].bytes, raw[i].n);
        mn_mat m = {.data = NULL};
        mn_clear_error();
        ck_assert_int_eq(mn_npy_read(path, &m), MN_ERR_FORMAT);
        ck_assert_msg(strstr(mn_last_error(), raw[i].needle) && strstr(mn_last_error(), path),
                      "%s: message '%s' lacks '%s'", raw[i].what, mn_last_error(), raw[i].needle);
        ck_assert_ptr_null(m.data);
    }
    /* A NUL inside the header does not end it early. */
    char nul[256];
    const char *text = padded(F4_23);
    size_t hlen = strlen(text);
    memcpy(nul, text, hlen);
    nul[20] = '\0'; /* inside the key 'fortran_order' */
    put_npy_n(path, 1, 0, nul, hlen, 24, false);
    mn_mat m;
    ck_assert_int_eq(mn_npy_read(path, &m), MN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "not a short plain string"));
    /* A directory is not a file to read. */
    ck_assert_int_eq(mn_npy_read(tmpdir, &m), MN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "is a directory"));
    ck_assert_int_eq(mn_npy_read(NULL, &m), MN_ERR_ARG);
    ck_assert_int_eq(mn_npy_read(path, NULL), MN_ERR_ARG);
    unlink(path);
    remove_tmpdir();
}
END_TEST

/* What the spec allows is read: versions 2.0 and 3.0 (u32 header length),
 * double quotes, keys in any order, no trailing comma, tabs and any
 * padding, 1-D shapes with their ndim, Fortran order where it is the same
 * bytes as C order, and empty arrays. */
START_TEST(test_valid_variants_read)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/ok.npy", tmpdir);
    const struct {
        int major;
        const char *header;
        size_t data_len;
        bool f64;
        int ndim;
        int64_t rows, cols;
    } ok[] = {
        {2, F4_23 "\n", 24, false, 2, 2, 3},
        {3, F4_23 "   \n", 24, false, 2, 2, 3},
        {1, "{\"shape\": (2, 3), \"fortran_order\": False, \"descr\": \"<f8\"}\n", 48, true, 2, 2,
         3},
        {1, "{'descr':'<f4','fortran_order':False,'shape':(6,)}\n", 24, false, 1, 1, 6},
        {1, "{ 'descr' : '<f4' ,\t'fortran_order' : False , 'shape' : ( 6 , ) , }  \n", 24, false,
         1, 1, 6},
        {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (6,), }\n", 24, false, 1, 1, 6},
        {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 6), }\n", 24, false, 2, 1, 6},
        {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (6, 1), }\n", 24, false, 2, 6, 1},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }\n", 0, false, 2, 0, 3},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0,), }\n", 0, true, 1, 1, 0},
        /* 0 elements, and 4 (2^61 - 1) bytes fit numpy's 2^63 - 1 (review-s12 #13) */
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 2305843009213693951), }\n", 0,
         false, 2, 0, 2305843009213693951LL},
        {2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)}\n", 24, false, 2, 3, 2},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        put_npy(path, ok[i].major, 0, ok[i].header, ok[i].data_len, ok[i].f64);
        mn_mat m;
        int ndim = 0;
        mn_status st = mn_npy_read_ndim(path, &m, &ndim);
        ck_assert_msg(st == MN_OK, "case %zu: %s", i, mn_last_error());
        ck_assert_int_eq(ndim, ok[i].ndim);
        ck_assert_int_eq(m.dtype, ok[i].f64 ? MN_F64 : MN_F32);
        ck_assert_int_eq(m.rows, ok[i].rows);
        ck_assert_int_eq(m.cols, ok[i].cols);
        for (int64_t k = 0; k < m.rows * m.cols; k++) /* the values 0, 1, 2, ... in C order */
            ck_assert_double_eq(mn_mat_get(&m, k / m.cols, k % m.cols), (double)k);
        mn_mat_free(&m);
    }
    unlink(path);
    remove_tmpdir();
}
END_TEST

/* A 1-D array reads as 1 x n with ndim 1, and mn_npy_write_ndim writes a
 * vector back as (n,): the header says so, byte for byte as numpy would. */
START_TEST(test_one_d_round_trip)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/v.npy", tmpdir);
    mn_mat v;
    int ndim = 0;
    ck_assert_ok(mn_npy_read_ndim(MN_TEST_DATA "/vector_f4.npy", &v, &ndim));
    ck_assert_int_eq(ndim, 1);
    ck_assert_int_eq(v.rows, 1);
    ck_assert_int_eq(v.cols, 3);
    ck_assert_ok(mn_npy_write_ndim(path, &v, 1));
    FILE *f = fopen(path, "rb");
    char hdr[257] = {0};
    ck_assert_uint_eq(fread(hdr, 1, 256, f), 128 + 3 * 4); /* aligned header, 3 floats */
    fclose(f);
    ck_assert_ptr_nonnull(strstr(hdr + 10, "'shape': (3,), }"));
    mn_mat w;
    ck_assert_ok(mn_npy_read_ndim(path, &w, &ndim));
    ck_assert_int_eq(ndim, 1);
    ck_assert_double_eq(tm_max_abs_diff(&v, &w), 0);
    mn_mat_free(&w);
    /* An n x 1 column is a vector too; a 2 x 3 matrix is not. */
    mn_mat col = mn_mat_transpose(v);
    ck_assert_ok(mn_npy_write_ndim(path, &col, 1));
    ck_assert_ok(mn_npy_read_ndim(path, &w, &ndim));
    ck_assert_int_eq(ndim, 1);
    ck_assert_int_eq(w.cols, 3);
    mn_mat_free(&w);
    mn_mat A = tm_make(TM_GAUSSIAN, MN_F64, 2, 3, 1);
    ck_assert_int_eq(mn_npy_write_ndim(path, &A, 1), MN_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "not a vector"));
    ck_assert_int_eq(mn_npy_write_ndim(path, &A, 3), MN_ERR_ARG);
    ck_assert_ok(mn_npy_write_ndim(path, &A, 2));
    ck_assert_ok(mn_npy_read_ndim(path, &w, &ndim));
    ck_assert_int_eq(ndim, 2);
    mn_mat_free(&w);
    mn_mat_free(&A);
    mn_mat_free(&v);
    unlink(path);
    remove_tmpdir();
}
END_TEST

/* The writers follow numpy's rule for 0-element shapes as the reader does
 * (review-s12 #13): nonzero dimensions times the dtype's size at most
 * 2^63 - 1 bytes, whatever the order and the zeros; nothing is written
 * past it. */
START_TEST(test_write_zero_element_shapes)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/z.npy", tmpdir);
    static const int64_t over[][3] = {{0, INT64_C(1) << 62}, {INT64_C(1) << 62, 0},
                                      {INT64_C(1) << 62, INT64_C(1) << 62, 0}};
    static const int nd[] = {2, 2, 3};
    for (int i = 0; i < 3; i++) {
        ck_assert_refused(mn_npy_write_raw(path, "<f4", nd[i], over[i], NULL, 0), MN_ERR_SHAPE,
                          "which numpy refuses");
        ck_assert_int_ne(access(path, F_OK), 0);
    }
    float one = 1;
    mn_mat m = mn_mat_view(MN_F32, &one, 0, INT64_C(1) << 62);
    ck_assert_refused(mn_npy_write(path, &m), MN_ERR_SHAPE, "which numpy refuses");
    ck_assert_int_ne(access(path, F_OK), 0);
    /* within the rule: written, and read back with its shape */
    const int64_t fits[2] = {0, (INT64_C(1) << 61) - 1};
    ck_assert_ok(mn_npy_write_raw(path, "<f4", 2, fits, NULL, 0));
    mn_mat r;
    ck_assert_ok(mn_npy_read(path, &r));
    ck_assert_int_eq(r.rows, 0);
    ck_assert_int_eq(r.cols, fits[1]);
    mn_mat_free(&r);
    const int64_t bytes[2] = {INT64_C(1) << 62, 0}; /* one byte each: 2^62 fits */
    ck_assert_ok(mn_npy_write_raw(path, "|u1", 2, bytes, NULL, 0));
    unlink(path);
    remove_tmpdir();
}
END_TEST

/* Writing never replaces something that is not a regular file (a device
 * node, a directory); through a symbolic link it writes the link's target
 * and keeps the link; a replaced file keeps its permissions. */
START_TEST(test_write_refuses_non_regular)
{
    make_tmpdir();
    mn_mat A = tm_make(TM_GAUSSIAN, MN_F32, 2, 2, 5), B;
    ck_assert_int_eq(mn_npy_write("/dev/null", &A), MN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "not a regular file (a device)"));
    struct stat sb;
    ck_assert_int_eq(stat("/dev/null", &sb), 0);
    ck_assert(S_ISCHR(sb.st_mode));
    ck_assert_int_eq(mn_npy_write(tmpdir, &A), MN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "a directory"));

    char target[128], link_path[128];
    snprintf(target, sizeof target, "%s/target.npy", tmpdir);
    snprintf(link_path, sizeof link_path, "%s/link.npy", tmpdir);
    ck_assert_ok(mn_npy_write(target, &A));
    ck_assert_int_eq(chmod(target, 0600), 0);
    ck_assert_int_eq(symlink("target.npy", link_path), 0);
    mn_mat_scale(&A, 2.0);
    ck_assert_ok(mn_npy_write(link_path, &A));
    ck_assert_int_eq(lstat(link_path, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode)); /* still a link */
    ck_assert_int_eq(stat(target, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600); /* the target's mode kept */
    ck_assert_ok(mn_npy_read(target, &B));
    ck_assert_double_eq(tm_max_abs_diff(&A, &B), 0);
    mn_mat_free(&B);
    unlink(link_path);
    ck_assert_int_eq(symlink("missing.npy", link_path), 0); /* dangling */
    ck_assert_int_eq(mn_npy_write(link_path, &A), MN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(mn_last_error(), "missing file"));
    unlink(link_path);
    unlink(target);
    mn_mat_free(&A);
    remove_tmpdir(); /* empty: no stray temporaries */
}
END_TEST

/* The .npy writer removes its path's temporaries (PATH.tmpPID.N) left by
 * writers that were killed (review 2, #5a), as the checkpoint writer does
 * (the same code): not a live process's, not another path's, not a name
 * that merely looks alike, not a directory. */
START_TEST(test_write_removes_stale_temporaries)
{
    make_tmpdir();
    pid_t dead = tm_dead_pid();
    char path[128], name[256];
    snprintf(path, sizeof path, "%s/w.npy", tmpdir);
    static const char *const kept[] = {"%s.tmp%ld", "%s.tmp%ld.3x", "%s.tmp%ld.3.4",
                                       "%s.tmpx%ld.3", "%sx.tmp%ld.1"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        snprintf(name, sizeof name, kept[i], path, (long)dead);
        tm_write_file(name, "x", 1);
    }
    snprintf(name, sizeof name, "%s.tmp%ld.9", path, (long)dead);
    ck_assert_int_eq(mkdir(name, 0777), 0);           /* not a regular file: kept */
    snprintf(name, sizeof name, "%s.tmp%ld.0", path, (long)getppid());
    tm_write_file(name, "live", 4);                    /* a live writer's: kept */
    snprintf(name, sizeof name, "%s.tmp%ld.17", path, (long)dead);
    tm_write_file(name, "dead", 4);
    mn_mat A = tm_make(TM_GAUSSIAN, MN_F32, 2, 2, 5);
    ck_assert_ok(mn_npy_write(path, &A));
    ck_assert_int_eq(access(name, F_OK), -1); /* the dead writer's went */
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        snprintf(name, sizeof name, kept[i], path, (long)dead);
        ck_assert_msg(access(name, F_OK) == 0, "%s was removed", name);
        unlink(name);
    }
    snprintf(name, sizeof name, "%s.tmp%ld.0", path, (long)getppid());
    ck_assert_int_eq(unlink(name), 0);
    snprintf(name, sizeof name, "%s.tmp%ld.9", path, (long)dead);
    ck_assert_int_eq(rmdir(name), 0);
    unlink(path);
    mn_mat_free(&A);
    remove_tmpdir(); /* empty: nothing else was left */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("npy");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_read_numpy_fixtures);
    tcase_add_test(tc, test_refusals_name_the_problem);
    tcase_add_test(tc, test_read_refuses_fifo_at_once);
    tcase_add_test(tc, test_round_trip_and_truncation);
    tcase_add_test(tc, test_malformed_headers_refused);
    tcase_add_test(tc, test_valid_variants_read);
    tcase_add_test(tc, test_one_d_round_trip);
    tcase_add_test(tc, test_write_refuses_non_regular);
    tcase_add_test(tc, test_write_zero_element_shapes);
    tcase_add_test(tc, test_write_removes_stale_temporaries);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
