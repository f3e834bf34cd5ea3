/* test_tz.c - TZif reading and New York offsets around DST switches.
 * Expected instants were computed with Python's zoneinfo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fxpipe/err.h"
#include "fxpipe/time.h"
#include "fxpipe/tz.h"

static struct fxp_tz *ny;

static int setup(void **state)
{
    (void)state;
    char err[256];
    return fxp_tz_load("America/New_York", &ny, err, sizeof err);
}

static int teardown(void **state)
{
    (void)state;
    fxp_tz_free(ny);
    return 0;
}

/* Each row: a DST switch instant (UTC ms) and the offsets before/after. */
static const struct {
    int64_t switch_ms;
    int32_t before_s, after_s;
} switches[] = {
    {9961200000LL, -18000, -14400},     /* 1970-04-26: from the table */
    {25682400000LL, -14400, -18000},    /* 1970-10-25 */
    {1173596400000LL, -18000, -14400},  /* 2007-03-11: new US rules */
    {1194156000000LL, -14400, -18000},  /* 2007-11-04 */
    {1741503600000LL, -18000, -14400},  /* 2025-03-09 */
    {1762063200000LL, -14400, -18000},  /* 2025-11-02 */
    {2530767600000LL, -18000, -14400},  /* 2050: beyond the table: rule */
    {2551327200000LL, -14400, -18000},  /* 2050-11-06 */
    {4108690800000LL, -18000, -14400},  /* 2100-03-14 */
    {4129250400000LL, -14400, -18000},  /* 2100-11-07 */
    {10419778800000LL, -18000, -14400}, /* 2300-03-11 */
    {10440338400000LL, -14400, -18000}, /* 2300-11-04 */
};

static void test_tz__new_york_switches_at_the_exact_millisecond(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof switches / sizeof switches[0]; i++) {
        assert_int_equal(fxp_tz_offset_s(ny, switches[i].switch_ms - 1),
                         switches[i].before_s);
        assert_int_equal(fxp_tz_offset_s(ny, switches[i].switch_ms),
                         switches[i].after_s);
    }
}

static void test_tz__before_1883_new_york_keeps_local_mean_time(void **state)
{
    (void)state;
    struct fxp_civil c = {.year = 1850, .month = 1, .day = 1};
    assert_int_equal(fxp_tz_offset_s(ny, fxp_time_from_civil(&c)), -17762);
}

static void test_tz__local_1700_maps_to_utc_in_both_seasons(void **state)
{
    (void)state;
    struct fxp_civil w = {.year = 2025, .month = 1, .day = 10, .hour = 17};
    struct fxp_civil s = {.year = 2025, .month = 7, .day = 11, .hour = 17};
    int64_t lw = fxp_time_from_civil(&w), ls = fxp_time_from_civil(&s);
    assert_int_equal(fxp_tz_local_to_utc(ny, lw), lw + 5 * FXP_MS_PER_HOUR);
    assert_int_equal(fxp_tz_local_to_utc(ny, ls), ls + 4 * FXP_MS_PER_HOUR);
}

static void test_tz__skipped_and_repeated_wall_times_are_resolved(void **state)
{
    (void)state;
    /* 2025-03-09 02:30 does not exist: pre-jump offset -> 07:30 UTC. */
    struct fxp_civil gap = {
        .year = 2025, .month = 3, .day = 9, .hour = 2, .min = 30};
    int64_t lg = fxp_time_from_civil(&gap);
    assert_int_equal(fxp_tz_local_to_utc(ny, lg), lg + 5 * FXP_MS_PER_HOUR);
    /* 2025-11-02 01:30 happens twice: the earlier (EDT) instant. */
    struct fxp_civil rep = {
        .year = 2025, .month = 11, .day = 2, .hour = 1, .min = 30};
    int64_t lr = fxp_time_from_civil(&rep);
    assert_int_equal(fxp_tz_local_to_utc(ny, lr), lr + 4 * FXP_MS_PER_HOUR);
}

static void test_tz__missing_zone_is_a_clear_error(void **state)
{
    (void)state;
    struct fxp_tz *tz = NULL;
    char err[256] = "";
    assert_int_equal(fxp_tz_load("Mars/Olympus_Mons", &tz, err, sizeof err),
                     FXP_ENOENT);
    assert_null(tz);
    assert_non_null(strstr(err, "Mars/Olympus_Mons"));
    assert_int_equal(fxp_tz_load("../etc/passwd", &tz, err, sizeof err),
                     FXP_EINVAL);
}

static void test_tz__a_file_that_is_not_tzif_is_rejected(void **state)
{
    (void)state;
    char path[] = "/tmp/fxp_tz_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("this is not a zone file\n", f);
    fclose(f);
    struct fxp_tz *tz = NULL;
    char err[256] = "";
    assert_int_equal(fxp_tz_load(path, &tz, err, sizeof err), FXP_EPARSE);
    assert_non_null(strstr(err, "not a valid TZif"));
    unlink(path);
}

static void test_tz__utc_zone_has_zero_offset(void **state)
{
    (void)state;
    struct fxp_tz *utc = NULL;
    char err[256];
    assert_int_equal(fxp_tz_load("UTC", &utc, err, sizeof err), FXP_OK);
    assert_int_equal(fxp_tz_offset_s(utc, 1741503600000LL), 0);
    fxp_tz_free(utc);
    fxp_tz_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tz__new_york_switches_at_the_exact_millisecond),
        cmocka_unit_test(test_tz__before_1883_new_york_keeps_local_mean_time),
        cmocka_unit_test(test_tz__local_1700_maps_to_utc_in_both_seasons),
        cmocka_unit_test(test_tz__skipped_and_repeated_wall_times_are_resolved),
        cmocka_unit_test(test_tz__missing_zone_is_a_clear_error),
        cmocka_unit_test(test_tz__a_file_that_is_not_tzif_is_rejected),
        cmocka_unit_test(test_tz__utc_zone_has_zero_offset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
