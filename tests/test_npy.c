/* .npy reading and writing: NumPy-written fixtures, round trips, refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("npy");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_read_numpy_fixtures);
    tcase_add_test(tc, test_refusals_name_the_problem);
    tcase_add_test(tc, test_round_trip_and_truncation);
    suite_add_tcase(s, tc);
    return tm_run_suite(s);
}
