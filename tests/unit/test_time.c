/* test_time.c - civil conversion and ISO-8601 / Unix-ms text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fxpipe/err.h"
#include "fxpipe/time.h"

static const struct {
    const char *text;
    int rc;
    int64_t ts;
} parse_rows[] = {
    {"0", FXP_OK, 0},
    {"1704236400123", FXP_OK, 1704236400123LL},
    {"-1", FXP_OK, -1},
    {"2024-01-02T17:00:00.123Z", FXP_OK, 1704214800123LL},
    {"2024-01-02 17:00:00", FXP_OK, 1704214800000LL},
    {"2024-01-02T17:00", FXP_OK, 1704214800000LL},
    {"2024-01-02", FXP_OK, 1704153600000LL},
    {"2024-01-02T12:00:00-05:00", FXP_OK, 1704214800000LL},
    {"2024-01-02T19:00:00+0200", FXP_OK, 1704214800000LL},
    {"2024-01-02T17:00:00.5Z", FXP_OK, 1704214800500LL},
    {"2024-01-02T17:00:00.123456Z", FXP_OK, 1704214800123LL},
    {"2024-02-29", FXP_OK, 1709164800000LL},
    {"1969-12-31T23:59:59.999Z", FXP_OK, -1},
    {"2023-02-29", FXP_ERANGE, 0},
    {"2024-13-01", FXP_ERANGE, 0},
    {"2024-01-02T24:00", FXP_ERANGE, 0},
    {"2024-01-02T17:61", FXP_ERANGE, 0},
    {"2024-01-02X", FXP_EPARSE, 0},
    {"2024-01-02T17", FXP_EPARSE, 0},
    {"2024-01-02T17:00:00.Z", FXP_EPARSE, 0},
    {"2024-01-02T17:00:00Zjunk", FXP_EPARSE, 0},
    {"12ab", FXP_EPARSE, 0},
    {"", FXP_EPARSE, 0},
    {"-", FXP_EPARSE, 0},
    {"99999999999999999999", FXP_EPARSE, 0},
};

static void test_time__parse_accepts_unix_ms_and_iso_8601(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof parse_rows / sizeof parse_rows[0]; i++) {
        int64_t ts = 0;
        int rc =
            fxp_time_parse(parse_rows[i].text, strlen(parse_rows[i].text), &ts);
        if (rc != parse_rows[i].rc)
            fail_msg("'%s': rc %d, want %d", parse_rows[i].text, rc,
                     parse_rows[i].rc);
        if (rc == FXP_OK)
            assert_int_equal(ts, parse_rows[i].ts);
    }
}

static void test_time__format_round_trips_through_parse(void **state)
{
    (void)state;
    static const int64_t ts[] = {0,  1704214800000LL, 1704214800123LL,
                                 -1, 4102444799999LL, -62135596800000LL};
    static const char *want[] = {
        "1970-01-01T00:00:00Z",     "2024-01-02T17:00:00Z",
        "2024-01-02T17:00:00.123Z", "1969-12-31T23:59:59.999Z",
        "2099-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        char buf[32];
        fxp_time_format_iso(ts[i], buf, sizeof buf);
        assert_string_equal(buf, want[i]);
        int64_t back;
        assert_int_equal(fxp_time_parse_str(buf, &back), FXP_OK);
        assert_int_equal(back, ts[i]);
    }
}

static void test_time__civil_days_and_weekdays_over_four_centuries(void **state)
{
    (void)state;
    int64_t prev = fxp_days_from_civil(1799, 12, 31);
    for (int y = 1800; y < 2200; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= 31; d++) {
                struct fxp_civil c = {.year = y, .month = m, .day = d};
                int64_t ms = fxp_time_from_civil(&c);
                struct fxp_civil back;
                fxp_time_to_civil(ms, &back);
                if (back.month != m)
                    continue; /* day 31 of a short month rolled over */
                assert_int_equal(back.year, y);
                assert_int_equal(back.day, d);
                int64_t days = fxp_days_from_civil(y, m, d);
                assert_int_equal(days, prev + 1);
                prev = days;
            }
    struct fxp_civil c;
    fxp_time_to_civil(1710104400000LL, &c); /* 2024-03-10 */
    assert_int_equal(c.wday, 0);            /* Sunday */
    fxp_time_to_civil(-1, &c);
    assert_int_equal(c.wday, 3); /* 1969-12-31 was a Wednesday */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time__parse_accepts_unix_ms_and_iso_8601),
        cmocka_unit_test(test_time__format_round_trips_through_parse),
        cmocka_unit_test(
            test_time__civil_days_and_weekdays_over_four_centuries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
