/* test_timeframe.c - bucket alignment for both session conventions.
 * ny-close rows were computed independently with Python's zoneinfo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fxpipe/err.h"
#include "fxpipe/time.h"
#include "fxpipe/timeframe.h"
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

static const struct {
    int64_t ts;
    fxp_tf tf;
    int64_t start, end;
} ny_rows[] = {
    {1709935199999LL, FXP_TF_1D, 1709848800000LL,
     1709935200000LL}, /* Fri 16:59:59.999 EST */
    {1709935200000LL, FXP_TF_1D, 1709935200000LL,
     1710021600000LL}, /* Fri 17:00 EST */
    {1710104400000LL, FXP_TF_1D, 1710104400000LL,
     1710190800000LL}, /* Sun 17:00 EDT, DST day */
    {1710190740000LL, FXP_TF_1D, 1710104400000LL, 1710190800000LL},
    {1710104400000LL, FXP_TF_1W, 1710104400000LL,
     1710709200000LL}, /* week after spring forward */
    {1710104399999LL, FXP_TF_1W, 1709503200000LL,
     1710104400000LL}, /* 167 h week */
    {1710104400000LL, FXP_TF_4H, 1710104400000LL, 1710118800000LL},
    {1710135000000LL, FXP_TF_4H, 1710133200000LL,
     1710147600000LL}, /* 01:00 EDT bar */
    {1730671200000LL, FXP_TF_1W, 1730671200000LL,
     1731276000000LL}, /* after fall back */
    {1730671140000LL, FXP_TF_1W, 1730062800000LL,
     1730671200000LL}, /* 169 h week */
    {1730494740000LL, FXP_TF_1D, 1730408400000LL, 1730494800000LL},
    {1730711400000LL, FXP_TF_4H, 1730700000000LL,
     1730714400000LL}, /* 05:00 EST bar */
    {1710052200000LL, FXP_TF_4H, 1710050400000LL,
     1710061200000LL}, /* 3 h bar over the jump */
    {1730611800000LL, FXP_TF_4H, 1730610000000LL,
     1730628000000LL}, /* 5 h bar, first 01:30 */
    {1730615400000LL, FXP_TF_4H, 1730610000000LL,
     1730628000000LL}, /* second 01:30 */
};

static void test_timeframe__ny_close_buckets_follow_new_york_dst(void **state)
{
    (void)state;
    struct fxp_align al = {FXP_SESSION_NY_CLOSE, ny};
    for (size_t i = 0; i < sizeof ny_rows / sizeof ny_rows[0]; i++) {
        int64_t s, e;
        fxp_tf_bucket(&al, ny_rows[i].tf, ny_rows[i].ts, &s, &e);
        assert_int_equal(s, ny_rows[i].start);
        assert_int_equal(e, ny_rows[i].end);
        assert_true(fxp_tf_is_aligned(&al, ny_rows[i].tf, s));
    }
}

static void
test_timeframe__4h_bars_open_at_17_21_01_05_09_13_new_york(void **state)
{
    (void)state;
    struct fxp_align al = {FXP_SESSION_NY_CLOSE, ny};
    /* Walk a summer and a winter day bucket by bucket. */
    int64_t starts[] = {1720472400000LL /* 2024-07-08 21:00Z = 17 EDT */,
                        1736805600000LL /* 2025-01-13 22:00Z = 17 EST */};
    for (size_t k = 0; k < 2; k++) {
        int64_t t = starts[k];
        static const int hours[] = {17, 21, 1, 5, 9, 13};
        for (int i = 0; i < 6; i++) {
            int64_t s, e;
            fxp_tf_bucket(&al, FXP_TF_4H, t + 1234, &s, &e);
            assert_int_equal(s, t);
            struct fxp_civil c;
            fxp_time_to_civil(fxp_tz_utc_to_local(ny, s), &c);
            assert_int_equal(c.hour, hours[i]);
            assert_int_equal(c.min, 0);
            t = e;
        }
    }
}

static void
test_timeframe__intraday_buckets_align_to_the_utc_epoch(void **state)
{
    (void)state;
    struct fxp_align al = {FXP_SESSION_NY_CLOSE, ny};
    int64_t ts = 1710135012345LL; /* 2024-03-11T05:30:12.345Z */
    static const struct {
        fxp_tf tf;
        int64_t start;
    } rows[] = {
        {FXP_TF_1M, 1710135000000LL},  {FXP_TF_5M, 1710135000000LL},
        {FXP_TF_15M, 1710135000000LL}, {FXP_TF_30M, 1710135000000LL},
        {FXP_TF_1H, 1710133200000LL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int64_t s, e;
        fxp_tf_bucket(&al, rows[i].tf, ts, &s, &e);
        assert_int_equal(s, rows[i].start);
        assert_int_equal(e - s, fxp_tf_ms(rows[i].tf));
    }
    int64_t s, e;
    fxp_tf_bucket(&al, FXP_TF_1M, -1, &s, &e); /* floor, not truncate */
    assert_int_equal(s, -60000);
}

static void
test_timeframe__utc_session_days_at_midnight_weeks_on_monday(void **state)
{
    (void)state;
    struct fxp_align al = {FXP_SESSION_UTC, NULL};
    int64_t s, e;
    /* 2024-03-10 (Sunday) 21:00Z */
    fxp_tf_bucket(&al, FXP_TF_1D, 1710104400000LL, &s, &e);
    assert_int_equal(s, 1710028800000LL); /* 2024-03-10T00:00Z */
    fxp_tf_bucket(&al, FXP_TF_4H, 1710104400000LL, &s, &e);
    assert_int_equal(s, 1710100800000LL); /* 20:00Z */
    fxp_tf_bucket(&al, FXP_TF_1W, 1710104400000LL, &s, &e);
    assert_int_equal(s, 1709510400000LL); /* Monday 2024-03-04T00:00Z */
    assert_int_equal(e, 1710115200000LL); /* Monday 2024-03-11T00:00Z */
}

static void test_timeframe__names_parse_and_bad_ones_are_refused(void **state)
{
    (void)state;
    for (int k = 0; k < FXP_TF_COUNT; k++) {
        fxp_tf tf;
        assert_int_equal(fxp_tf_parse(fxp_tf_name((fxp_tf)k), &tf), FXP_OK);
        assert_int_equal(tf, k);
    }
    fxp_tf tf;
    assert_int_equal(fxp_tf_parse("h4", &tf), FXP_OK);
    assert_int_equal(tf, FXP_TF_4H);
    assert_int_equal(fxp_tf_parse("2m", &tf), FXP_EINVAL);
    unsigned mask;
    const char *bad = NULL;
    assert_int_equal(fxp_tf_parse_list("1m,1h,1w", &mask, &bad), FXP_OK);
    assert_int_equal(mask,
                     (1u << FXP_TF_1M) | (1u << FXP_TF_1H) | (1u << FXP_TF_1W));
    assert_int_equal(fxp_tf_parse_list("1m,7m", &mask, &bad), FXP_EINVAL);
    assert_string_equal(bad, "7m");
    assert_int_equal(fxp_tf_parse_list("all", &mask, NULL), FXP_OK);
    assert_int_equal(mask, FXP_TF_ALL_MASK);
    fxp_session se;
    assert_int_equal(fxp_session_parse("utc", &se), FXP_OK);
    assert_int_equal(fxp_session_parse("tokyo", &se), FXP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeframe__ny_close_buckets_follow_new_york_dst),
        cmocka_unit_test(
            test_timeframe__4h_bars_open_at_17_21_01_05_09_13_new_york),
        cmocka_unit_test(
            test_timeframe__intraday_buckets_align_to_the_utc_epoch),
        cmocka_unit_test(
            test_timeframe__utc_session_days_at_midnight_weeks_on_monday),
        cmocka_unit_test(test_timeframe__names_parse_and_bad_ones_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
