/* test_calendar.c - the forex market calendar: the 17:00 New York edges
 * across DST switches, next_open/next_close, sessions, holidays and early
 * closes, holiday-file errors, and expected bars per timeframe (counts for
 * a normal week, ten years of 1m bars against the count and a brute-force
 * reference). Instants are written with their New York offset, as
 * Python's zoneinfo gives them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/time.h"
#include "fxpipe/timeframe.h"
#include "fxpipe/tz.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static struct fxp_tz *ny;
static struct fxp_calendar *cal_none; /* weekends only */
static struct fxp_calendar *cal_def;  /* built-in data/holidays.txt */
static struct fxp_align al_ny, al_utc;

static int setup(void **state)
{
    (void)state;
    char err[256];
    if (fxp_tz_load("America/New_York", &ny, err, sizeof err) ||
        fxp_cal_new(ny, "none", &cal_none, err, sizeof err) ||
        fxp_cal_new(ny, NULL, &cal_def, err, sizeof err)) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    al_ny = (struct fxp_align){FXP_SESSION_NY_CLOSE, ny};
    al_utc = (struct fxp_align){FXP_SESSION_UTC, ny};
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fxp_cal_free(cal_def);
    fxp_cal_free(cal_none);
    fxp_tz_free(ny);
    return 0;
}

/* An instant from text; the test fails on text the parser rejects. */
static int64_t T(const char *s)
{
    int64_t ts = 0;
    if (fxp_time_parse_str(s, &ts) != FXP_OK)
        fail_msg("cannot parse '%s'", s);
    return ts;
}

/* A calendar from holiday text; the test fails when it does not parse. */
static struct fxp_calendar *cal_text(const char *text)
{
    struct fxp_calendar *cal = NULL;
    char err[256] = "";
    int rc = fxp_cal_new_from_text(ny, text, strlen(text), "test", &cal, err,
                                   sizeof err);
    if (rc)
        fail_msg("holiday text rejected: %s", err);
    return cal;
}

/* ---- is_open at the edges ------------------------------------------ */

struct open_row {
    const char *at;
    bool open;
};

static void check_open_rows(const struct fxp_calendar *cal,
                            const struct open_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fxp_cal_is_open(cal, T(rows[i].at)) != rows[i].open)
            fail_msg("is_open(%s) should be %s", rows[i].at,
                     rows[i].open ? "true" : "false");
}

static void test_calendar__friday_1700_new_york_is_closed(void **state)
{
    (void)state;
    static const struct open_row rows[] = {
        {"2025-01-17T16:59:59.999-05:00", true}, /* winter */
        {"2025-01-17T17:00:00.000-05:00", false},
        {"2025-01-17T22:00:00Z", false},
        {"2025-07-18T16:59:59.999-04:00", true}, /* summer */
        {"2025-07-18T17:00:00.000-04:00", false},
        {"2025-07-18T21:00:00Z", false},
        {"2025-07-18T20:59:59.999Z", true},
    };
    check_open_rows(cal_none, rows, N_OF(rows));
}

static void test_calendar__weekend_is_closed_until_sunday_1700(void **state)
{
    (void)state;
    static const struct open_row rows[] = {
        {"2025-01-18T00:00:00-05:00", false}, /* Saturday */
        {"2025-01-18T12:00:00-05:00", false},
        {"2025-01-18T23:59:59.999-05:00", false},
        {"2025-01-19T09:00:00-05:00", false}, /* Sunday morning */
        {"2025-01-19T16:59:59.999-05:00", false},
        {"2025-01-19T17:00:00.000-05:00", true},
        {"2025-01-19T22:00:00Z", true},
        {"2025-01-19T21:59:59.999Z", false},
    };
    check_open_rows(cal_none, rows, N_OF(rows));
}

static void test_calendar__weekdays_are_open_through_the_1700_roll(void **state)
{
    (void)state;
    static const struct open_row rows[] = {
        {"2025-01-20T00:00:00-05:00", true}, /* Monday */
        {"2025-01-21T16:59:59.999-05:00", true},
        {"2025-01-21T17:00:00-05:00", true}, /* daily roll: still open */
        {"2025-01-22T12:00:00-05:00", true},
        {"2025-01-23T23:59:59.999-05:00", true},
        {"2025-01-24T00:00:00-05:00", true}, /* Friday morning */
    };
    check_open_rows(cal_none, rows, N_OF(rows));
}

/* DST starts 2025-03-09 02:00 and ends 2025-11-02 02:00 New York, both on
 * a Sunday before the 17:00 open: the week before and the week of each
 * switch have different UTC offsets at their edges. */
static void
test_calendar__edges_follow_new_york_across_dst_switches(void **state)
{
    (void)state;
    static const struct open_row rows[] = {
        /* week before the spring switch: EST, 22:00Z */
        {"2025-03-02T16:59:59.999-05:00", false},
        {"2025-03-02T17:00:00.000-05:00", true},
        {"2025-03-07T16:59:59.999-05:00", true},
        {"2025-03-07T17:00:00.000-05:00", false},
        {"2025-03-07T21:30:00Z", true},
        {"2025-03-08T12:00:00-05:00", false},
        /* switch Sunday: opens at 17:00 EDT = 21:00Z, not 22:00Z */
        {"2025-03-09T16:59:59.999-04:00", false},
        {"2025-03-09T20:59:59.999Z", false},
        {"2025-03-09T17:00:00.000-04:00", true},
        {"2025-03-09T21:00:00Z", true},
        {"2025-03-14T16:59:59.999-04:00", true},
        {"2025-03-14T17:00:00.000-04:00", false},
        {"2025-03-14T21:30:00Z", false},
        /* week before the autumn switch: EDT, 21:00Z */
        {"2025-10-26T16:59:59.999-04:00", false},
        {"2025-10-26T17:00:00.000-04:00", true},
        {"2025-10-31T16:59:59.999-04:00", true},
        {"2025-10-31T17:00:00.000-04:00", false},
        /* switch Sunday: opens at 17:00 EST = 22:00Z, not 21:00Z */
        {"2025-11-02T16:59:59.999-05:00", false},
        {"2025-11-02T21:00:00Z", false},
        {"2025-11-02T21:59:59.999Z", false},
        {"2025-11-02T17:00:00.000-05:00", true},
        {"2025-11-07T16:59:59.999-05:00", true},
        {"2025-11-07T17:00:00.000-05:00", false},
        {"2025-11-07T21:30:00Z", true},
    };
    check_open_rows(cal_none, rows, N_OF(rows));
}

/* ---- next_open / next_close --------------------------------------- */

struct next_row {
    const char *at;
    const char *next_open;
    const char *next_close;
};

static void check_next_rows(const struct fxp_calendar *cal,
                            const struct next_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t at = T(rows[i].at);
        if (fxp_cal_next_open(cal, at) != T(rows[i].next_open))
            fail_msg("next_open(%s) should be %s", rows[i].at,
                     rows[i].next_open);
        if (fxp_cal_next_close(cal, at) != T(rows[i].next_close))
            fail_msg("next_close(%s) should be %s", rows[i].at,
                     rows[i].next_close);
    }
}

static void test_calendar__next_open_and_close_skip_the_weekend(void **state)
{
    (void)state;
    static const struct next_row rows[] = {
        /* open: next_open is the instant itself */
        {"2025-01-21T10:00:00-05:00", "2025-01-21T10:00:00-05:00",
         "2025-01-24T17:00:00-05:00"},
        {"2025-01-19T17:00:00-05:00", "2025-01-19T17:00:00-05:00",
         "2025-01-24T17:00:00-05:00"},
        {"2025-01-24T16:59:59.999-05:00", "2025-01-24T16:59:59.999-05:00",
         "2025-01-24T17:00:00-05:00"},
        /* closed: the next session's open and close */
        {"2025-01-24T17:00:00-05:00", "2025-01-26T17:00:00-05:00",
         "2025-01-31T17:00:00-05:00"},
        {"2025-01-25T12:00:00-05:00", "2025-01-26T17:00:00-05:00",
         "2025-01-31T17:00:00-05:00"},
        {"2025-01-26T16:59:59.999-05:00", "2025-01-26T17:00:00-05:00",
         "2025-01-31T17:00:00-05:00"},
        /* across the switches */
        {"2025-03-08T00:00:00Z", "2025-03-09T21:00:00Z",
         "2025-03-14T21:00:00Z"},
        {"2025-03-07T21:59:59.999Z", "2025-03-07T21:59:59.999Z",
         "2025-03-07T22:00:00Z"},
        {"2025-11-01T00:00:00Z", "2025-11-02T22:00:00Z",
         "2025-11-07T22:00:00Z"},
        {"2025-10-31T20:59:59.999Z", "2025-10-31T20:59:59.999Z",
         "2025-10-31T21:00:00Z"},
    };
    check_next_rows(cal_none, rows, N_OF(rows));
}

static void test_calendar__next_open_and_close_skip_holidays(void **state)
{
    (void)state;
    static const struct next_row rows[] = {
        /* Christmas 2025 is a Thursday: Wednesday 17:00 closes */
        {"2025-12-22T10:00:00-05:00", "2025-12-22T10:00:00-05:00",
         "2025-12-24T17:00:00-05:00"},
        {"2025-12-24T17:00:00-05:00", "2025-12-25T17:00:00-05:00",
         "2025-12-26T17:00:00-05:00"},
        {"2025-12-25T12:00:00-05:00", "2025-12-25T17:00:00-05:00",
         "2025-12-26T17:00:00-05:00"},
        /* Christmas 2023 is a Monday: the week opens Monday 17:00 */
        {"2023-12-23T12:00:00-05:00", "2023-12-25T17:00:00-05:00",
         "2023-12-29T17:00:00-05:00"},
        {"2023-12-29T17:00:00-05:00", "2024-01-01T17:00:00-05:00",
         "2024-01-05T17:00:00-05:00"},
    };
    check_next_rows(cal_def, rows, N_OF(rows));
}

/* ---- sessions ---------------------------------------------------------- */

static void check_spans(const struct fxp_calendar *cal, const char *from,
                        const char *to, const char *const *want, size_t n_want)
{
    struct fxp_span sp[16];
    size_t n = fxp_cal_sessions(cal, T(from), T(to), sp, N_OF(sp));
    assert_int_equal(n, n_want / 2);
    assert_int_equal(fxp_cal_sessions(cal, T(from), T(to), NULL, 0), n);
    for (size_t i = 0; i < n; i++) {
        if (sp[i].open_ms != T(want[2 * i]) ||
            sp[i].close_ms != T(want[2 * i + 1]))
            fail_msg("session %zu of [%s, %s) should be [%s, %s)", i, from, to,
                     want[2 * i], want[2 * i + 1]);
    }
}

static void test_calendar__sessions_are_weeks_clipped_to_the_range(void **state)
{
    (void)state;
    /* From a Saturday: whole weeks, then one cut at `to`. */
    static const char *const sat[] = {
        "2025-03-02T22:00:00Z", "2025-03-07T22:00:00Z", /* EST */
        "2025-03-09T21:00:00Z", "2025-03-14T21:00:00Z", /* EDT */
        "2025-03-16T21:00:00Z", "2025-03-19T12:00:00Z", /* clipped */
    };
    check_spans(cal_none, "2025-03-01T00:00:00Z", "2025-03-19T12:00:00Z", sat,
                N_OF(sat));
    /* From inside a week: the first session is clipped at `from`. */
    static const char *const mid[] = {
        "2025-03-05T00:00:00Z",
        "2025-03-07T22:00:00Z",
        "2025-03-09T21:00:00Z",
        "2025-03-14T21:00:00Z",
    };
    check_spans(cal_none, "2025-03-05T00:00:00Z", "2025-03-15T00:00:00Z", mid,
                N_OF(mid));
}

static void test_calendar__sessions_inside_one_session_or_empty(void **state)
{
    (void)state;
    static const char *const one[] = {"2025-01-21T10:00:00Z",
                                      "2025-01-21T11:00:00Z"};
    check_spans(cal_none, one[0], one[1], one, 2);
    check_spans(cal_none, "2025-01-25T00:00:00Z", "2025-01-26T00:00:00Z", NULL,
                0);
    check_spans(cal_none, "2025-01-21T10:00:00Z", "2025-01-21T10:00:00Z", NULL,
                0);
    check_spans(cal_none, "2025-01-22T10:00:00Z", "2025-01-21T10:00:00Z", NULL,
                0);

    /* The count is returned even when cap is smaller. */
    struct fxp_span sp[2];
    assert_int_equal(
        fxp_cal_sessions(cal_none, T("2025-01-01"), T("2025-02-01"), sp, 2), 5);
    assert_int_equal(sp[0].open_ms, T("2025-01-01"));
    assert_int_equal(sp[1].open_ms, T("2025-01-05T17:00:00-05:00"));
}

static void test_calendar__christmas_and_new_year_split_the_weeks(void **state)
{
    (void)state;
    static const char *const want[] = {
        "2025-12-21T17:00:00-05:00", "2025-12-24T17:00:00-05:00",
        "2025-12-25T17:00:00-05:00", "2025-12-26T17:00:00-05:00",
        "2025-12-28T17:00:00-05:00", "2025-12-31T17:00:00-05:00",
        "2026-01-01T17:00:00-05:00", "2026-01-02T17:00:00-05:00",
    };
    check_spans(cal_def, "2025-12-20", "2026-01-03", want, N_OF(want));
    static const char *const plain[] = {
        "2025-12-21T17:00:00-05:00",
        "2025-12-26T17:00:00-05:00",
        "2025-12-28T17:00:00-05:00",
        "2026-01-02T17:00:00-05:00",
    };
    check_spans(cal_none, "2025-12-20", "2026-01-03", plain, N_OF(plain));
}

/* ---- holidays and early closes --------------------------------------- */

static void
test_calendar__holiday_closes_the_trading_day_ending_that_date(void **state)
{
    (void)state;
    static const struct open_row rows[] = {
        {"2025-12-24T16:59:59.999-05:00", true},
        {"2025-12-24T17:00:00-05:00", false},
        {"2025-12-25T00:00:00-05:00", false},
        {"2025-12-25T16:59:59.999-05:00", false},
        {"2025-12-25T17:00:00-05:00", true},
        {"2025-12-31T23:00:00-05:00", false},
        {"2026-01-01T17:00:00-05:00", true},
        /* 2022-01-01 is a Saturday: nothing changes around it */
        {"2021-12-31T16:59:59.999-05:00", true},
        {"2021-12-30T20:00:00-05:00", true},
    };
    check_open_rows(cal_def, rows, N_OF(rows));
    assert_true(fxp_cal_is_open(cal_none, T("2025-12-25T00:00:00-05:00")));
}

static void
test_calendar__early_close_ends_the_day_and_reopens_at_1700(void **state)
{
    (void)state;
    struct fxp_calendar *cal = cal_text("# test calendar\n"
                                        "2025-12-24 close 13:00 # eve\r\n"
                                        "*-12-25 closed\n"
                                        "\n"
                                        "   2025-03-07   close 12:30\t\n");
    static const struct open_row rows[] = {
        {"2025-12-24T12:59:59.999-05:00", true},
        {"2025-12-24T13:00:00-05:00", false},
        {"2025-12-24T18:00:00Z", false},
        {"2025-12-24T17:00:00-05:00", false},
        {"2025-12-25T17:00:00-05:00", true},
        {"2025-03-07T12:29:59.999-05:00", true}, /* a Friday */
        {"2025-03-07T12:30:00-05:00", false},
        {"2025-03-09T17:00:00-04:00", true},
    };
    check_open_rows(cal, rows, N_OF(rows));
    static const struct next_row next[] = {
        {"2025-12-22T10:00:00-05:00", "2025-12-22T10:00:00-05:00",
         "2025-12-24T13:00:00-05:00"},
        {"2025-12-24T13:00:00-05:00", "2025-12-25T17:00:00-05:00",
         "2025-12-26T17:00:00-05:00"},
        {"2025-03-07T13:00:00-05:00", "2025-03-09T17:00:00-04:00",
         "2025-03-14T17:00:00-04:00"},
    };
    check_next_rows(cal, next, N_OF(next));

    /* 1m bars that week: Mon, Tue full, Wed 17:00 -> 13:00, Thu closed,
     * Fri full. */
    size_t n = fxp_cal_count_bars(cal, &al_ny, FXP_TF_1M, T("2025-12-21"),
                                  T("2025-12-28"));
    assert_int_equal(n, 2 * 1440 + 20 * 60 + 1440);
    assert_int_equal(fxp_cal_count_bars(cal, &al_ny, FXP_TF_1D, T("2025-12-21"),
                                        T("2025-12-28")),
                     4);
    fxp_cal_free(cal);
}

static void test_calendar__dated_entry_overrides_every_year_entry(void **state)
{
    (void)state;
    struct fxp_calendar *cal = cal_text("*-12-25 closed\n"
                                        "2025-12-25 close 12:00\n");
    assert_true(fxp_cal_is_open(cal, T("2025-12-25T11:59:59.999-05:00")));
    assert_false(fxp_cal_is_open(cal, T("2025-12-25T12:00:00-05:00")));
    assert_false(fxp_cal_is_open(cal, T("2024-12-25T11:00:00-05:00")));
    fxp_cal_free(cal);
}

static void
test_calendar__weekend_dates_in_the_file_change_nothing(void **state)
{
    (void)state;
    struct fxp_calendar *cal = cal_text("2025-12-27 closed\n"
                                        "2025-12-28 closed\n"
                                        "2025-12-20 close 10:00\n");
    struct fxp_span a[16], b[16];
    size_t na = fxp_cal_sessions(cal, T("2025-12-01"), T("2026-01-31"), a, 16);
    size_t nb =
        fxp_cal_sessions(cal_none, T("2025-12-01"), T("2026-01-31"), b, 16);
    assert_int_equal(na, 9);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof a[0]);
    fxp_cal_free(cal);
}

static void test_calendar__default_file_has_christmas_and_new_year(void **state)
{
    (void)state;
    struct fxp_calendar *cal = NULL;
    char err[128];
    assert_int_equal(fxp_cal_new(ny, "default", &cal, err, sizeof err), FXP_OK);
    /* Every weekday Christmas and New Year's Day of 2000..2035 is shut. */
    for (int y = 2000; y < 2036; y++) {
        char d1[32], d2[32];
        snprintf(d1, sizeof d1, "%04d-12-25T12:00:00Z", y);
        snprintf(d2, sizeof d2, "%04d-01-01T12:00:00Z", y);
        assert_false(fxp_cal_is_open(cal, T(d1)));
        assert_false(fxp_cal_is_open(cal, T(d2)));
    }
    fxp_cal_free(cal);
}

/* ---- holiday file errors ---------------------------------------------- */

static void
test_calendar__bad_holiday_lines_name_file_line_and_reason(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *msg;
    } rows[] = {
        {"# c\n\n2025-12-25 shut\n",
         "bad holiday line 'data/h.txt:3': unknown kind 'shut'"},
        {"2025-13-01 closed\n",
         "bad holiday line 'data/h.txt:1': no such date '2025-13-01'"},
        {"2025-02-29 closed\n",
         "bad holiday line 'data/h.txt:1': no such date '2025-02-29'"},
        {"*-04-31 closed\n",
         "bad holiday line 'data/h.txt:1': no such date '*-04-31'"},
        {"12/25/2025 closed\n",
         "bad holiday line 'data/h.txt:1': bad date '12/25/2025' (expected "
         "YYYY-MM-DD or *-MM-DD)"},
        {"2025-12-25\n", "bad holiday line 'data/h.txt:1': missing kind "
                         "after the date (expected 'closed' or 'close "
                         "HH:MM')"},
        {"2025-12-25 close\n", "bad holiday line 'data/h.txt:1': missing "
                               "time after 'close' (expected HH:MM)"},
        {"2025-12-25 close 1300\n",
         "bad holiday line 'data/h.txt:1': bad time '1300' (expected HH:MM)"},
        {"2025-12-25 close 24:00\n",
         "bad holiday line 'data/h.txt:1': bad time '24:00' (expected HH:MM)"},
        {"2025-12-25 close 17:00\n",
         "bad holiday line 'data/h.txt:1': early close '17:00' is not before "
         "the normal 17:00 close"},
        {"2025-12-25 closed early\n",
         "bad holiday line 'data/h.txt:1': unexpected 'early' after the "
         "entry"},
        {"*-12-25 closed\n*-12-25 close 12:00\n",
         "bad holiday line 'data/h.txt:2': duplicate date '*-12-25' (first "
         "on line 1)"},
        {"2025-12-25 closed\n2025-01-01 closed\n2025-12-25 closed\n",
         "bad holiday line 'data/h.txt:3': duplicate date '2025-12-25' "
         "(first on line 1)"},
    };
    for (size_t i = 0; i < N_OF(rows); i++) {
        struct fxp_calendar *cal = (struct fxp_calendar *)&cal;
        char err[256] = "";
        int rc = fxp_cal_new_from_text(ny, rows[i].text, strlen(rows[i].text),
                                       "data/h.txt", &cal, err, sizeof err);
        assert_int_equal(rc, FXP_EPARSE);
        assert_null(cal);
        assert_string_equal(err, rows[i].msg);
    }
    /* A tiny or absent errbuf is respected. */
    struct fxp_calendar *cal = NULL;
    char tiny[8];
    assert_int_equal(
        fxp_cal_new_from_text(ny, "x", 1, "h", &cal, tiny, sizeof tiny),
        FXP_EPARSE);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_int_equal(fxp_cal_new_from_text(ny, "x", 1, "h", &cal, NULL, 0),
                     FXP_EPARSE);
}

static void
test_calendar__bad_holiday_file_gives_eparse_with_path_and_line(void **state)
{
    (void)state;
    char path[] = "/tmp/fxp_test_holidays_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char text[] = "*-12-25 closed\n2025-07-04 holiday\n";
    assert_int_equal(write(fd, text, sizeof text - 1), sizeof text - 1);
    close(fd);

    struct fxp_calendar *cal = NULL;
    char err[256], want[256];
    assert_int_equal(fxp_cal_new(ny, path, &cal, err, sizeof err), FXP_EPARSE);
    assert_null(cal);
    snprintf(want, sizeof want,
             "bad holiday line '%s:2': unknown kind 'holiday'", path);
    assert_string_equal(err, want);
    unlink(path);
}

static void test_calendar__missing_holiday_file_gives_enoent(void **state)
{
    (void)state;
    struct fxp_calendar *cal = NULL;
    char err[256];
    assert_int_equal(
        fxp_cal_new(ny, "/nonexistent/holidays.txt", &cal, err, sizeof err),
        FXP_ENOENT);
    assert_null(cal);
    assert_non_null(strstr(err, "'/nonexistent/holidays.txt'"));
}

static void test_calendar__shipped_data_file_parses(void **state)
{
    (void)state;
    const char *src = getenv("FXP_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/data/holidays.txt", src ? src : ".");
    struct fxp_calendar *cal = NULL;
    char err[256] = "";
    int rc = fxp_cal_new(ny, path, &cal, err, sizeof err);
    if (rc == FXP_ENOENT && !src)
        skip();
    assert_int_equal(rc, FXP_OK);
    assert_false(fxp_cal_is_open(cal, T("2025-12-25T12:00:00Z")));
    fxp_cal_free(cal);
}

/* ---- expected bars ------------------------------------------------------ */

/* A normal week, Sunday 00:00Z -> Sunday 00:00Z (holds the whole session
 * Sunday 17:00 -> Friday 17:00 New York), in each DST situation. */
static const char *const weeks[] = {
    "2025-01-12", /* winter */
    "2025-03-02", /* the week before spring forward (EST) */
    "2025-03-09", /* spring forward Sunday (EDT) */
    "2025-07-13", /* summer */
    "2025-10-26", /* the week before fall back (EDT) */
    "2025-11-02", /* fall back Sunday (EST) */
};

static void test_calendar__normal_week_has_the_expected_bar_counts(void **state)
{
    (void)state;
    static const size_t ny_close[FXP_TF_COUNT] = {7200, 1440, 480, 240,
                                                  120,  30,   5,   1};
    /* utc: a short Sunday day and a Sunday 4h stub (20:00Z). */
    static const size_t utc[FXP_TF_COUNT] = {7200, 1440, 480, 240,
                                             120,  31,   6,   1};
    for (size_t w = 0; w < N_OF(weeks); w++) {
        int64_t from = T(weeks[w]), to = from + FXP_MS_PER_WEEK;
        for (int tf = 0; tf < FXP_TF_COUNT; tf++) {
            size_t a =
                fxp_cal_count_bars(cal_none, &al_ny, (fxp_tf)tf, from, to);
            size_t b =
                fxp_cal_count_bars(cal_none, &al_utc, (fxp_tf)tf, from, to);
            if (a != ny_close[tf] || b != utc[tf])
                fail_msg("week %s %s: ny-close %zu (want %zu), utc %zu "
                         "(want %zu)",
                         weeks[w], fxp_tf_name((fxp_tf)tf), a, ny_close[tf], b,
                         utc[tf]);
        }
    }
}

static void
test_calendar__ny_close_4h_and_1d_bars_open_at_new_york_hours(void **state)
{
    (void)state;
    int64_t out[40];
    for (size_t w = 0; w < N_OF(weeks); w++) {
        int64_t from = T(weeks[w]), to = from + FXP_MS_PER_WEEK;
        size_t n = fxp_cal_expected_bars(cal_none, &al_ny, FXP_TF_4H, from, to,
                                         out, N_OF(out));
        assert_int_equal(n, 30);
        for (size_t i = 0; i < n; i++) {
            struct fxp_civil c;
            fxp_time_to_civil(fxp_tz_utc_to_local(ny, out[i]), &c);
            static const int hours[] = {17, 21, 1, 5, 9, 13};
            assert_int_equal(c.hour, hours[i % 6]);
            assert_int_equal(c.min, 0);
        }
        n = fxp_cal_expected_bars(cal_none, &al_ny, FXP_TF_1D, from, to, out,
                                  N_OF(out));
        assert_int_equal(n, 5);
        for (size_t i = 0; i < n; i++) {
            struct fxp_civil c;
            fxp_time_to_civil(fxp_tz_utc_to_local(ny, out[i]), &c);
            assert_int_equal(c.hour, 17);
            assert_int_equal(c.wday, (int)i); /* Sunday .. Thursday */
        }
        /* utc days: Sunday 00:00Z (the short one) .. Friday. */
        n = fxp_cal_expected_bars(cal_none, &al_utc, FXP_TF_1D, from, to, out,
                                  N_OF(out));
        assert_int_equal(n, 6);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(out[i], from + (int64_t)i * FXP_MS_PER_DAY);
        /* utc 4h: the Sunday stub opens 20:00Z, before the 21/22Z open. */
        n = fxp_cal_expected_bars(cal_none, &al_utc, FXP_TF_4H, from, to, out,
                                  N_OF(out));
        assert_int_equal(n, 31);
        assert_int_equal(out[0], from + 20 * FXP_MS_PER_HOUR);
    }
}

static void test_calendar__first_and_last_minute_bars_of_a_week(void **state)
{
    (void)state;
    int64_t out[8000];
    int64_t from = T("2025-03-09"), to = from + FXP_MS_PER_WEEK;
    size_t n = fxp_cal_expected_bars(cal_none, &al_ny, FXP_TF_1M, from, to, out,
                                     N_OF(out));
    assert_int_equal(n, 7200);
    assert_int_equal(out[0], T("2025-03-09T17:00:00-04:00"));
    assert_int_equal(out[n - 1], T("2025-03-14T16:59:00-04:00"));
    /* A smaller cap writes a prefix and still returns the count. */
    int64_t few[3];
    assert_int_equal(
        fxp_cal_expected_bars(cal_none, &al_ny, FXP_TF_1M, from, to, few, 3),
        7200);
    assert_memory_equal(few, out, sizeof few);
}

static void
test_calendar__bucket_before_to_overlapping_a_later_session_counts(void **state)
{
    (void)state;
    /* utc 4h bucket 20:00Z opens before `to` = 20:30Z and overlaps the
     * session opening 21:00Z (EDT): it is expected. */
    int64_t out[2];
    size_t n =
        fxp_cal_expected_bars(cal_none, &al_utc, FXP_TF_4H, T("2025-03-09"),
                              T("2025-03-09T20:30:00Z"), out, 2);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], T("2025-03-09T20:00:00Z"));
    /* A bucket opening before `from` is not, even when it overlaps. */
    assert_int_equal(fxp_cal_count_bars(cal_none, &al_utc, FXP_TF_4H,
                                        T("2025-03-09T20:30:00Z"),
                                        T("2025-03-10")),
                     0);
    assert_int_equal(fxp_cal_count_bars(cal_none, &al_ny, FXP_TF_1M,
                                        T("2025-03-09T21:00:30Z"),
                                        T("2025-03-09T21:03:00Z")),
                     2);
    assert_int_equal(fxp_cal_count_bars(cal_none, &al_ny, FXP_TF_1M,
                                        T("2025-03-09T20:00:00Z"),
                                        T("2025-03-09T21:00:00.001Z")),
                     1);
    /* Empty and reversed ranges. */
    assert_int_equal(fxp_cal_count_bars(cal_none, &al_ny, FXP_TF_1H,
                                        T("2025-03-12"), T("2025-03-12")),
                     0);
    assert_int_equal(fxp_cal_count_bars(cal_none, &al_ny, FXP_TF_1H,
                                        T("2025-03-13"), T("2025-03-12")),
                     0);
}

static void test_calendar__holiday_week_has_fewer_bars(void **state)
{
    (void)state;
    int64_t from = T("2025-12-21"), to = T("2025-12-28");
    assert_int_equal(fxp_cal_count_bars(cal_def, &al_ny, FXP_TF_1M, from, to),
                     4 * 1440);
    assert_int_equal(fxp_cal_count_bars(cal_def, &al_ny, FXP_TF_1D, from, to),
                     4);
    assert_int_equal(fxp_cal_count_bars(cal_def, &al_ny, FXP_TF_4H, from, to),
                     24);
    assert_int_equal(fxp_cal_count_bars(cal_def, &al_ny, FXP_TF_1W, from, to),
                     1);
    /* utc: Sunday stub, Mon, Tue, Wed (till 22:00Z), Thu 22:00Z on, Fri. */
    assert_int_equal(fxp_cal_count_bars(cal_def, &al_utc, FXP_TF_1D, from, to),
                     6);
}

static void
test_calendar__extreme_instants_and_a_never_open_file_are_safe(void **state)
{
    (void)state;
    assert_false(fxp_cal_is_open(cal_def, INT64_MIN));
    assert_false(fxp_cal_is_open(cal_def, INT64_MAX));
    assert_int_equal(fxp_cal_next_open(cal_def, INT64_MAX), INT64_MAX);
    assert_int_equal(fxp_cal_next_close(cal_def, INT64_MAX), INT64_MAX);
    int64_t o = fxp_cal_next_open(cal_def, INT64_MIN);
    assert_true(o > INT64_MIN && fxp_cal_is_open(cal_def, o));
    assert_int_equal(fxp_cal_sessions(cal_def, INT64_MIN, o, NULL, 0), 0);
    assert_int_equal(fxp_cal_sessions(cal_def, INT64_MIN, o + 1, NULL, 0), 1);

    /* Every date closed: the market never opens, and nothing loops. */
    char text[8192];
    size_t len = 0;
    static const int dm[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int m = 1; m <= 12; m++)
        for (int d = 1; d <= dm[m - 1]; d++)
            len += (size_t)snprintf(text + len, sizeof text - len,
                                    "*-%02d-%02d closed\n", m, d);
    struct fxp_calendar *cal = cal_text(text);
    int64_t t = T("2025-01-01");
    assert_int_equal(fxp_cal_next_open(cal, t), INT64_MAX);
    assert_int_equal(fxp_cal_next_close(cal, t), INT64_MAX);
    assert_int_equal(
        fxp_cal_sessions(cal, t, t + 52 * FXP_MS_PER_WEEK, NULL, 0), 0);
    assert_int_equal(
        fxp_cal_count_bars(cal, &al_ny, FXP_TF_1M, t, t + 52 * FXP_MS_PER_WEEK),
        0);
    fxp_cal_free(cal);
}

/* ---- ten years -------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
test_calendar__ten_years_of_minute_bars_match_the_count(void **state)
{
    (void)state;
    int64_t from = T("2015-01-01"), to = T("2025-01-01");
    size_t n_sess = fxp_cal_sessions(cal_def, from, to, NULL, 0);
    struct fxp_span *sp = malloc(n_sess * sizeof *sp);
    assert_non_null(sp);
    assert_int_equal(fxp_cal_sessions(cal_def, from, to, sp, n_sess), n_sess);

    double t0 = now_ms();
    size_t count = fxp_cal_count_bars(cal_def, &al_ny, FXP_TF_1M, from, to);
    double t1 = now_ms();
    int64_t *bars = malloc(count * sizeof *bars);
    assert_non_null(bars);
    double t2 = now_ms();
    size_t n = fxp_cal_expected_bars(cal_def, &al_ny, FXP_TF_1M, from, to, bars,
                                     count);
    double t3 = now_ms();
    printf("ten years of 1m bars: %zu bars, %zu sessions; count %.2f ms, "
           "enumerate %.2f ms\n",
           n, n_sess, t1 - t0, t3 - t2);
    assert_int_equal(n, count);
    assert_true(t3 - t2 < 1000.0); /* generous: sanitizer builds */

    /* Sessions are whole minutes, so the count is their total length. */
    int64_t total_ms = 0;
    for (size_t i = 0; i < n_sess; i++)
        total_ms += sp[i].close_ms - sp[i].open_ms;
    assert_int_equal(count, (size_t)(total_ms / FXP_MS_PER_MIN));
    assert_true(count > 3600000 && count < 3800000);

    /* Strictly ascending and each minute inside a session. */
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && bars[i] <= bars[i - 1])
            fail_msg("bar %zu not ascending", i);
        while (j < n_sess && sp[j].close_ms <= bars[i])
            j++;
        if (j == n_sess || bars[i] < sp[j].open_ms ||
            bars[i] + FXP_MS_PER_MIN > sp[j].close_ms)
            fail_msg("bar %zu outside every session", i);
        if (i % 101 == 0 && !fxp_cal_is_open(cal_def, bars[i]))
            fail_msg("bar %zu: market closed at its open", i);
    }

    /* The queries agree with the sessions at every edge. */
    for (size_t i = 0; i < n_sess; i++) {
        int64_t o = sp[i].open_ms, c = sp[i].close_ms;
        assert_true(fxp_cal_is_open(cal_def, o));
        assert_true(fxp_cal_is_open(cal_def, c - 1));
        assert_false(fxp_cal_is_open(cal_def, c));
        assert_int_equal(fxp_cal_next_close(cal_def, o), c);
        if (i > 0) {
            assert_false(fxp_cal_is_open(cal_def, o - 1));
            assert_int_equal(fxp_cal_next_open(cal_def, sp[i - 1].close_ms), o);
        }
    }
    free(bars);
    free(sp);
}

/* Reference: step through every bucket of [from, to) and keep those that
 * overlap a session. Slow and obvious. */
static size_t brute_bars(const struct fxp_calendar *cal,
                         const struct fxp_align *al, fxp_tf tf, int64_t from,
                         int64_t to, int64_t *out, size_t cap)
{
    int64_t s, e, last_e;
    fxp_tf_bucket(al, tf, to - 1, &s, &last_e);
    size_t n_sess = fxp_cal_sessions(cal, from, last_e, NULL, 0);
    struct fxp_span *sp = malloc((n_sess + 1) * sizeof *sp);
    assert_non_null(sp);
    fxp_cal_sessions(cal, from, last_e, sp, n_sess);
    size_t n = 0, j = 0;
    fxp_tf_bucket(al, tf, from, &s, &e);
    if (s < from)
        fxp_tf_bucket(al, tf, e, &s, &e);
    for (; s < to; fxp_tf_bucket(al, tf, e, &s, &e)) {
        while (j < n_sess && sp[j].close_ms <= s)
            j++;
        if (j < n_sess && sp[j].open_ms < e) {
            if (n < cap)
                out[n] = s;
            n++;
        }
    }
    free(sp);
    return n;
}

static void
test_calendar__ten_years_of_every_timeframe_match_brute_force(void **state)
{
    (void)state;
    /* Odd range ends exercise the clipping. */
    int64_t from = T("2015-01-04T20:30:00Z"), to = T("2025-01-01T21:59:00Z");
    const struct fxp_align *als[] = {&al_ny, &al_utc};
    size_t cap = 3800000;
    int64_t *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    for (size_t k = 0; k < N_OF(als); k++) {
        for (int tf = 0; tf < FXP_TF_COUNT; tf++) {
            size_t na = fxp_cal_expected_bars(cal_def, als[k], (fxp_tf)tf, from,
                                              to, a, cap);
            size_t nb =
                brute_bars(cal_def, als[k], (fxp_tf)tf, from, to, b, cap);
            if (na != nb)
                fail_msg("%s %s: %zu bars, brute force %zu",
                         fxp_session_name(als[k]->session),
                         fxp_tf_name((fxp_tf)tf), na, nb);
            assert_true(na <= cap);
            assert_memory_equal(a, b, na * sizeof *a);
            assert_int_equal(
                fxp_cal_count_bars(cal_def, als[k], (fxp_tf)tf, from, to), na);
        }
    }
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calendar__friday_1700_new_york_is_closed),
        cmocka_unit_test(test_calendar__weekend_is_closed_until_sunday_1700),
        cmocka_unit_test(
            test_calendar__weekdays_are_open_through_the_1700_roll),
        cmocka_unit_test(
            test_calendar__edges_follow_new_york_across_dst_switches),
        cmocka_unit_test(test_calendar__next_open_and_close_skip_the_weekend),
        cmocka_unit_test(test_calendar__next_open_and_close_skip_holidays),
        cmocka_unit_test(
            test_calendar__sessions_are_weeks_clipped_to_the_range),
        cmocka_unit_test(test_calendar__sessions_inside_one_session_or_empty),
        cmocka_unit_test(test_calendar__christmas_and_new_year_split_the_weeks),
        cmocka_unit_test(
            test_calendar__holiday_closes_the_trading_day_ending_that_date),
        cmocka_unit_test(
            test_calendar__early_close_ends_the_day_and_reopens_at_1700),
        cmocka_unit_test(test_calendar__dated_entry_overrides_every_year_entry),
        cmocka_unit_test(
            test_calendar__weekend_dates_in_the_file_change_nothing),
        cmocka_unit_test(
            test_calendar__default_file_has_christmas_and_new_year),
        cmocka_unit_test(
            test_calendar__bad_holiday_lines_name_file_line_and_reason),
        cmocka_unit_test(
            test_calendar__bad_holiday_file_gives_eparse_with_path_and_line),
        cmocka_unit_test(test_calendar__missing_holiday_file_gives_enoent),
        cmocka_unit_test(test_calendar__shipped_data_file_parses),
        cmocka_unit_test(
            test_calendar__normal_week_has_the_expected_bar_counts),
        cmocka_unit_test(
            test_calendar__ny_close_4h_and_1d_bars_open_at_new_york_hours),
        cmocka_unit_test(test_calendar__first_and_last_minute_bars_of_a_week),
        cmocka_unit_test(
            test_calendar__bucket_before_to_overlapping_a_later_session_counts),
        cmocka_unit_test(test_calendar__holiday_week_has_fewer_bars),
        cmocka_unit_test(
            test_calendar__extreme_instants_and_a_never_open_file_are_safe),
        cmocka_unit_test(
            test_calendar__ten_years_of_minute_bars_match_the_count),
        cmocka_unit_test(
            test_calendar__ten_years_of_every_timeframe_match_brute_force),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
