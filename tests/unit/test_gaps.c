/*
 * test_gaps.c - gap detection (gaps.h): the in-memory diff as table tests
 * (no gap, one bar, runs, gaps at the edges, a weekend splitting a run,
 * 4h/1d/1w on the New York close across a DST switch), then
 * fxp_gaps_detect against a real SQLite store holding a week of 1m bars
 * with injected gaps: exact ranges, closed periods (weekend, a holiday)
 * never reported, ledger states, per-day cells, partial days, other
 * timeframes and NULL rows that are not present bars.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/gaps.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "fxpipe/timeframe.h"
#include "fxpipe/tz.h"
#include "fxpipe/version.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define MIN     FXP_MS_PER_MIN
#define DAY     FXP_MS_PER_DAY

static struct fxp_tz *ny;
static struct fxp_calendar *cal_none; /* weekends only */
static struct fxp_align al_ny, al_utc;

static int group_setup(void **state)
{
    (void)state;
    char err[256];
    if (fxp_tz_load("America/New_York", &ny, err, sizeof err) ||
        fxp_cal_new(ny, "none", &cal_none, err, sizeof err)) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    al_ny = (struct fxp_align){FXP_SESSION_NY_CLOSE, ny};
    al_utc = (struct fxp_align){FXP_SESSION_UTC, ny};
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
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

static struct fxp_calendar *cal_text(const char *text)
{
    struct fxp_calendar *cal = NULL;
    char err[256] = "";
    if (fxp_cal_new_from_text(ny, text, strlen(text), "test", &cal, err,
                              sizeof err))
        fail_msg("holiday text rejected: %s", err);
    return cal;
}

/* Expected bars of [from, to) on a calendar, heap-allocated. */
static int64_t *expected_bars(const struct fxp_calendar *cal,
                              const struct fxp_align *al, fxp_tf tf,
                              int64_t from, int64_t to, size_t *n)
{
    *n = fxp_cal_expected_bars(cal, al, tf, from, to, NULL, 0);
    int64_t *e = malloc((*n ? *n : 1) * sizeof *e);
    assert_non_null(e);
    assert_int_equal(fxp_cal_expected_bars(cal, al, tf, from, to, e, *n), *n);
    return e;
}

/* `expected` minus the bars whose index is in [lo, hi) of each pair in
 * `drop` (pairs end with lo == hi == 0 when n_drop is 0). */
static int64_t *without(const int64_t *e, size_t n, const size_t (*drop)[2],
                        size_t n_drop, size_t *n_out)
{
    int64_t *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        bool gone = false;
        for (size_t k = 0; k < n_drop; k++)
            if (i >= drop[k][0] && i < drop[k][1])
                gone = true;
        if (!gone)
            p[(*n_out)++] = e[i];
    }
    return p;
}

struct want_range {
    const char *start, *end;
    uint32_t bars;
    fxp_gap_state state;
};

static void check_ranges(const struct fxp_gap_range *got, size_t n_got,
                         const struct want_range *want, size_t n_want)
{
    char a[40], b[40];
    for (size_t i = 0; i < n_got && i < n_want; i++) {
        if (got[i].start != T(want[i].start) || got[i].end != T(want[i].end) ||
            got[i].bars != want[i].bars || got[i].state != want[i].state) {
            fxp_time_format_iso(got[i].start, a, sizeof a);
            fxp_time_format_iso(got[i].end, b, sizeof b);
            fail_msg("range %zu: got [%s, %s) %u %s, want [%s, %s) %u %s", i, a,
                     b, got[i].bars, fxp_gap_state_name(got[i].state),
                     want[i].start, want[i].end, want[i].bars,
                     fxp_gap_state_name(want[i].state));
        }
    }
    if (n_got != n_want) {
        for (size_t i = 0; i < n_got; i++) {
            fxp_time_format_iso(got[i].start, a, sizeof a);
            fxp_time_format_iso(got[i].end, b, sizeof b);
            fprintf(stderr, "  got [%s, %s) %u %s\n", a, b, got[i].bars,
                    fxp_gap_state_name(got[i].state));
        }
        fail_msg("got %zu ranges, want %zu", n_got, n_want);
    }
}

/* ---- fxp_gaps_diff: table tests ---------------------------------- */

struct diff_row {
    const char *name;
    fxp_tf tf;
    const char *from, *to; /* expected bars of the calendar (no holidays) */
    size_t drop[4][2];     /* indexes of expected removed from present */
    size_t n_drop;
    struct want_range want[4];
    size_t n_want;
    uint64_t missing;
};

static const struct diff_row diff_rows[] = {
    {"no gap",
     FXP_TF_1M,
     "2024-03-05T10:00:00Z",
     "2024-03-05T10:10:00Z",
     {{0}},
     0,
     {{0}},
     0,
     0},
    {"one missing bar",
     FXP_TF_1M,
     "2024-03-05T10:00:00Z",
     "2024-03-05T10:10:00Z",
     {{4, 5}},
     1,
     {{"2024-03-05T10:04:00Z", "2024-03-05T10:05:00Z", 1, FXP_GAP_MISSING}},
     1,
     1},
    {"two runs",
     FXP_TF_1M,
     "2024-03-05T10:00:00Z",
     "2024-03-05T10:10:00Z",
     {{2, 4}, {6, 9}},
     2,
     {{"2024-03-05T10:02:00Z", "2024-03-05T10:04:00Z", 2, FXP_GAP_MISSING},
      {"2024-03-05T10:06:00Z", "2024-03-05T10:09:00Z", 3, FXP_GAP_MISSING}},
     2,
     5},
    {"gaps at the start and at the end",
     FXP_TF_5M,
     "2024-03-05T10:00:00Z",
     "2024-03-05T11:00:00Z",
     {{0, 2}, {10, 12}},
     2,
     {{"2024-03-05T10:00:00Z", "2024-03-05T10:10:00Z", 2, FXP_GAP_MISSING},
      {"2024-03-05T10:50:00Z", "2024-03-05T11:00:00Z", 2, FXP_GAP_MISSING}},
     2,
     4},
    {"everything missing is one run",
     FXP_TF_1H,
     "2024-03-05T10:00:00Z",
     "2024-03-05T16:00:00Z",
     {{0, 6}},
     1,
     {{"2024-03-05T10:00:00Z", "2024-03-05T16:00:00Z", 6, FXP_GAP_MISSING}},
     1,
     6},
    /* Friday 16:55..17:00 and Sunday 17:00..17:05 New York are adjacent in
     * the expected bars, but the weekend lies between them. */
    {"a gap across a weekend is two ranges",
     FXP_TF_1M,
     "2024-03-08T16:55:00-05:00",
     "2024-03-10T17:05:00-04:00",
     {{0, 10}},
     1,
     {{"2024-03-08T16:55:00-05:00", "2024-03-08T17:00:00-05:00", 5,
       FXP_GAP_MISSING},
      {"2024-03-10T17:00:00-04:00", "2024-03-10T17:05:00-04:00", 5,
       FXP_GAP_MISSING}},
     2,
     10},
    /* 4h on the New York close across the November switch: Friday's last
     * bars end 17:00 EDT (21:00Z), Monday's first opens 17:00 EST (22:00Z)
     * on Sunday. Index 0 is Thursday 17:00 EDT; 6 bars a day. */
    {"4h ny-close across the november dst switch",
     FXP_TF_4H,
     "2024-10-31T21:00:00Z",
     "2024-11-05T22:00:00Z",
     {{4, 10}, {11, 12}},
     2,
     {{"2024-11-01T09:00:00-04:00", "2024-11-01T17:00:00-04:00", 2,
       FXP_GAP_MISSING},
      {"2024-11-03T17:00:00-05:00", "2024-11-04T09:00:00-05:00", 4,
       FXP_GAP_MISSING},
      {"2024-11-04T13:00:00-05:00", "2024-11-04T17:00:00-05:00", 1,
       FXP_GAP_MISSING}},
     3,
     7},
    {"1d ny-close: friday and monday are two ranges",
     FXP_TF_1D,
     "2024-10-30T00:00:00Z",
     "2024-11-06T00:00:00Z",
     {{1, 3}},
     1,
     {{"2024-10-31T17:00:00-04:00", "2024-11-01T17:00:00-04:00", 1,
       FXP_GAP_MISSING},
      {"2024-11-03T17:00:00-05:00", "2024-11-04T17:00:00-05:00", 1,
       FXP_GAP_MISSING}},
     2,
     2},
    {"1d utc: friday and sunday are two ranges",
     FXP_TF_1D,
     "2024-10-30T00:00:00Z",
     "2024-11-06T00:00:00Z",
     {{2, 4}},
     1,
     {{"2024-11-01T00:00:00Z", "2024-11-02T00:00:00Z", 1, FXP_GAP_MISSING},
      {"2024-11-03T00:00:00Z", "2024-11-04T00:00:00Z", 1, FXP_GAP_MISSING}},
     2,
     2},
    {"1w ny-close: consecutive weeks across dst are one range",
     FXP_TF_1W,
     "2024-10-20T00:00:00Z",
     "2024-11-15T00:00:00Z",
     {{1, 3}},
     1,
     {{"2024-10-27T17:00:00-04:00", "2024-11-10T17:00:00-05:00", 2,
       FXP_GAP_MISSING}},
     1,
     2},
};

static void test_gaps__diff_table(void **state)
{
    (void)state;
    for (size_t r = 0; r < N_OF(diff_rows); r++) {
        const struct diff_row *row = &diff_rows[r];
        const struct fxp_align *al =
            strstr(row->name, "utc") ? &al_utc : &al_ny;
        size_t ne, np;
        int64_t *e =
            expected_bars(cal_none, al, row->tf, T(row->from), T(row->to), &ne);
        int64_t *p = without(e, ne, row->drop, row->n_drop, &np);
        struct fxp_gap_range out[8];
        uint64_t missing = 99;

        print_message("diff: %s (%zu expected)\n", row->name, ne);
        size_t n =
            fxp_gaps_diff(al, row->tf, e, ne, p, np, out, N_OF(out), &missing);
        check_ranges(out, n, row->want, row->n_want);
        assert_int_equal(missing, row->missing);
        free(e);
        free(p);
    }
}

static void test_gaps__diff_ignores_extra_present_bars(void **state)
{
    (void)state;
    int64_t t0 = T("2024-03-05T10:00:00Z");
    int64_t e[] = {t0, t0 + MIN, t0 + 2 * MIN, t0 + 3 * MIN};
    /* Misaligned and out-of-range present times, and a duplicate. */
    int64_t p[] = {t0 - MIN,   t0,           t0 + 30000,
                   t0 + 30000, t0 + 3 * MIN, t0 + 9 * MIN};
    struct fxp_gap_range out[4];
    uint64_t missing = 0;

    size_t n = fxp_gaps_diff(&al_ny, FXP_TF_1M, e, N_OF(e), p, N_OF(p), out,
                             N_OF(out), &missing);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].start, t0 + MIN);
    assert_int_equal(out[0].end, t0 + 3 * MIN);
    assert_int_equal(out[0].bars, 2);
    assert_int_equal(missing, 2);
}

static void test_gaps__diff_counts_ranges_beyond_cap(void **state)
{
    (void)state;
    int64_t t0 = T("2024-03-05T10:00:00Z");
    int64_t e[10], p[5];
    for (int i = 0; i < 10; i++)
        e[i] = t0 + i * MIN;
    for (int i = 0; i < 5; i++)
        p[i] = e[2 * i]; /* every odd bar missing: five ranges */
    struct fxp_gap_range out[2];
    uint64_t missing = 0;

    assert_int_equal(
        fxp_gaps_diff(&al_ny, FXP_TF_1M, e, 10, p, 5, out, 2, &missing), 5);
    assert_int_equal(missing, 5);
    assert_int_equal(out[1].start, e[3]);
    assert_int_equal(
        fxp_gaps_diff(&al_ny, FXP_TF_1M, e, 10, p, 5, NULL, 0, NULL), 5);
    assert_int_equal(
        fxp_gaps_diff(&al_ny, FXP_TF_1M, e, 0, p, 5, out, 2, &missing), 0);
    assert_int_equal(missing, 0);
}

static void test_gaps__names_and_defaults(void **state)
{
    (void)state;
    struct fxp_gaps_opts o;
    assert_string_equal(fxp_gap_state_name(FXP_GAP_MISSING), "missing");
    assert_string_equal(fxp_gap_state_name(FXP_GAP_EMPTY), "confirmed-empty");
    assert_string_equal(fxp_gap_state_name(FXP_GAP_REVIEW), "needs-review");
    fxp_gaps_opts_default(&o);
    assert_true(o.intraday_threshold == 1.0);
    assert_true(o.daily_threshold == 0.8);
    assert_false(o.want_days);
    fxp_gap_report_release(NULL);
}

/* ---- fxp_gaps_detect against a SQLite store ----------------------- */

struct fx {
    char dir[64];
    char db[128];
    struct fxp_store *s;
    struct fxp_symtab *st;
    uint32_t eur, gbp;
};

/* The week of the detect tests: Sunday 2024-03-03 22:00Z (17:00 EST) to
 * Friday 2024-03-08 22:00Z, 7200 1m bars, minus these gaps. */
#define WEEK_FROM "2024-03-03T00:00:00Z"
#define WEEK_TO   "2024-03-10T00:00:00Z"

static const char *const week_gaps[][2] = {
    {"2024-03-03T22:00:00Z", "2024-03-03T22:02:00Z"}, /* session start */
    {"2024-03-04T10:00:00Z", "2024-03-04T10:05:00Z"},
    {"2024-03-05T23:58:00Z", "2024-03-06T00:03:00Z"}, /* across midnight */
    {"2024-03-07T00:00:00Z", "2024-03-08T00:10:00Z"}, /* a day and more */
    {"2024-03-08T21:57:00Z", "2024-03-08T22:00:00Z"}, /* session end */
};

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];

    if (!d)
        return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static struct fxp_bar mkbar(uint32_t sym, fxp_tf tf, int64_t ts)
{
    struct fxp_bar b = {
        .ts_ms = ts,
        .open = 1.1,
        .high = 1.1002,
        .low = 1.0998,
        .close = 1.1001,
        .volume = 3,
        .version = fxp_version_make(FXP_SRC_HISTORICAL, 3),
        .n_ticks = 3,
        .sym = sym,
        .tf = (uint8_t)tf,
        .source = FXP_SRC_HISTORICAL,
    };
    return b;
}

static void write_bars(struct fx *f, uint32_t sym, fxp_tf tf, const int64_t *ts,
                       size_t n)
{
    enum { BATCH = 4096 };
    static struct fxp_bar b[BATCH];
    for (size_t i = 0; i < n; i += BATCH) {
        size_t k = n - i < BATCH ? n - i : BATCH;
        for (size_t j = 0; j < k; j++)
            b[j] = mkbar(sym, tf, ts[i + j]);
        struct fxp_store_batch bt = {.bars = b, .n_bars = k, .symtab = f->st};
        int rc = fxp_store_write(f->s, &bt);
        if (rc)
            fail_msg("write: %s: %s", fxp_err_name(rc), fxp_store_errmsg(f->s));
    }
}

/* Write the expected bars of [from, to) on the weekend-only calendar,
 * except those in the [start, end) pairs of `gaps`. */
static void write_series(struct fx *f, uint32_t sym, fxp_tf tf,
                         const char *from, const char *to,
                         const char *const (*gaps)[2], size_t n_gaps)
{
    size_t ne, np = 0;
    int64_t *e = expected_bars(cal_none, &al_ny, tf, T(from), T(to), &ne);
    int64_t *p = malloc((ne ? ne : 1) * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < ne; i++) {
        bool gone = false;
        for (size_t g = 0; g < n_gaps; g++)
            if (e[i] >= T(gaps[g][0]) && e[i] < T(gaps[g][1]))
                gone = true;
        if (!gone)
            p[np++] = e[i];
    }
    write_bars(f, sym, tf, p, np);
    free(e);
    free(p);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    struct fxp_store_opts o;
    char err[256];

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "%s/fxp_gaps_XXXXXX",
             tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    f->st = fxp_symtab_new(16);
    assert_non_null(f->st);
    assert_int_equal(fxp_symtab_intern(f->st, "EURUSD", 6, &f->eur), FXP_OK);
    assert_int_equal(fxp_symtab_intern(f->st, "GBPUSD", 6, &f->gbp), FXP_OK);
    fxp_store_opts_default(&o);
    if (fxp_store_open(f->db, &o, &f->s, err, sizeof err))
        fail_msg("open: %s", err);
    write_series(f, f->eur, FXP_TF_1M, WEEK_FROM, WEEK_TO, week_gaps,
                 N_OF(week_gaps));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fxp_store_close(f->s);
    rm_tree(f->dir);
    fxp_symtab_free(f->st);
    free(f);
    return 0;
}

static void detect(struct fx *f, const struct fxp_calendar *cal,
                   const char *sym, fxp_tf tf, const char *from, const char *to,
                   bool want_days, struct fxp_gap_report *r)
{
    struct fxp_gaps_opts o;
    char err[256] = "";
    fxp_gaps_opts_default(&o);
    o.want_days = want_days;
    int rc = fxp_gaps_detect(f->s, cal, &al_ny, sym, tf, T(from), T(to), &o, r,
                             err, sizeof err);
    if (rc)
        fail_msg("detect: %s: %s", fxp_err_name(rc), err);
    assert_string_equal(r->symbol, sym);
    assert_int_equal(r->tf, tf);
}

/* No range may contain a closed-market instant. */
static void check_all_open(const struct fxp_calendar *cal,
                           const struct fxp_gap_report *r)
{
    for (size_t i = 0; i < r->n_ranges; i++) {
        assert_true(fxp_cal_is_open(cal, r->ranges[i].start));
        assert_true(fxp_cal_next_close(cal, r->ranges[i].start) >=
                    r->ranges[i].end);
    }
}

static void put_ledger(struct fx *f, const char *day, fxp_ledger_state st)
{
    struct fxp_ledger_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.symbol, sizeof e.symbol, "EURUSD");
    e.tf = FXP_TF_1M;
    e.day_ms = T(day);
    e.state = st;
    e.attempts = 1;
    assert_int_equal(fxp_store_ledger_put(f->s, &e, 1), FXP_OK);
}

static const struct want_range week_want[] = {
    {"2024-03-03T22:00:00Z", "2024-03-03T22:02:00Z", 2, FXP_GAP_MISSING},
    {"2024-03-04T10:00:00Z", "2024-03-04T10:05:00Z", 5, FXP_GAP_MISSING},
    {"2024-03-05T23:58:00Z", "2024-03-06T00:03:00Z", 5, FXP_GAP_MISSING},
    {"2024-03-07T00:00:00Z", "2024-03-08T00:10:00Z", 1450, FXP_GAP_MISSING},
    {"2024-03-08T21:57:00Z", "2024-03-08T22:00:00Z", 3, FXP_GAP_MISSING},
};

static void test_gaps__detect_finds_the_exact_ranges(void **state)
{
    struct fx *f = *state;
    struct fxp_gap_report r;
    /* A bar on Saturday (closed) is stored but never expected. */
    int64_t sat = T("2024-03-09T12:00:00Z");
    write_bars(f, f->eur, FXP_TF_1M, &sat, 1);

    detect(f, cal_none, "EURUSD", FXP_TF_1M, WEEK_FROM, WEEK_TO, true, &r);
    check_ranges(r.ranges, r.n_ranges, week_want, N_OF(week_want));
    check_all_open(cal_none, &r);
    assert_int_equal(r.expected, 7200);
    assert_int_equal(r.present, 7200 - 1465);
    assert_int_equal(r.missing, 1465);
    assert_false(r.complete);
    assert_true(r.completeness > 0.7965 && r.completeness < 0.7966);
    assert_int_equal(r.n_days, 7);
    static const uint32_t exp_d[7] = {120, 1440, 1440, 1440, 1440, 1320, 0};
    static const uint32_t pre_d[7] = {118, 1435, 1438, 1437, 0, 1307, 0};
    for (int k = 0; k < 7; k++) {
        assert_int_equal(r.days[k].day_ms, T(WEEK_FROM) + k * DAY);
        assert_int_equal(r.days[k].expected, exp_d[k]);
        assert_int_equal(r.days[k].present, pre_d[k]);
    }
    fxp_gap_report_release(&r);
    assert_null(r.ranges);
    assert_null(r.days);
}

static void test_gaps__detect_never_reports_a_holiday(void **state)
{
    struct fx *f = *state;
    struct fxp_gap_report r;
    /* Wednesday's trading day (Tuesday 17:00 -> Wednesday 17:00 New York)
     * is a holiday: the gap across Tuesday midnight UTC lies in it. */
    struct fxp_calendar *cal = cal_text("2024-03-06 closed\n");
    static const struct want_range want[] = {
        {"2024-03-03T22:00:00Z", "2024-03-03T22:02:00Z", 2, FXP_GAP_MISSING},
        {"2024-03-04T10:00:00Z", "2024-03-04T10:05:00Z", 5, FXP_GAP_MISSING},
        {"2024-03-07T00:00:00Z", "2024-03-08T00:10:00Z", 1450, FXP_GAP_MISSING},
        {"2024-03-08T21:57:00Z", "2024-03-08T22:00:00Z", 3, FXP_GAP_MISSING},
    };

    detect(f, cal, "EURUSD", FXP_TF_1M, WEEK_FROM, WEEK_TO, false, &r);
    check_ranges(r.ranges, r.n_ranges, want, N_OF(want));
    check_all_open(cal, &r);
    assert_int_equal(r.expected, 7200 - 1440);
    assert_int_equal(r.present, 7200 - 1440 - 1460);
    assert_int_equal(r.missing, 1460);
    assert_null(r.days);
    fxp_gap_report_release(&r);
    fxp_cal_free(cal);
}

static void test_gaps__verified_days_are_confirmed_empty(void **state)
{
    struct fx *f = *state;
    struct fxp_gap_report r;
    struct want_range want[N_OF(week_want)];

    put_ledger(f, "2024-03-03T00:00:00Z", FXP_LEDGER_VERIFIED);
    put_ledger(f, "2024-03-04T00:00:00Z", FXP_LEDGER_EMPTY);
    put_ledger(f, "2024-03-05T00:00:00Z", FXP_LEDGER_VERIFIED);
    put_ledger(f, "2024-03-06T00:00:00Z", FXP_LEDGER_VERIFIED);
    put_ledger(f, "2024-03-07T00:00:00Z", FXP_LEDGER_VERIFIED);
    put_ledger(f, "2024-03-08T00:00:00Z", FXP_LEDGER_EMPTY);
    detect(f, cal_none, "EURUSD", FXP_TF_1M, WEEK_FROM, WEEK_TO, false, &r);
    memcpy(want, week_want, sizeof want);
    for (size_t i = 0; i < N_OF(want); i++)
        want[i].state = FXP_GAP_EMPTY;
    check_ranges(r.ranges, r.n_ranges, want, N_OF(want));
    assert_int_equal(r.missing, 0);
    assert_int_equal(r.present, 7200 - 1465); /* still not stored */
    assert_true(r.completeness < 0.8);
    /* Nothing left that a fill could get: complete (gaps.c note 6). */
    assert_true(r.complete);
    fxp_gap_report_release(&r);

    /* One day back to needs-review: not complete any more. */
    put_ledger(f, "2024-03-04T00:00:00Z", FXP_LEDGER_REVIEW);
    detect(f, cal_none, "EURUSD", FXP_TF_1M, WEEK_FROM, WEEK_TO, false, &r);
    assert_int_equal(r.ranges[1].state, FXP_GAP_REVIEW);
    assert_int_equal(r.missing, 0);
    assert_false(r.complete);
    fxp_gap_report_release(&r);
}

static void test_gaps__ledger_states_split_ranges_at_midnight(void **state)
{
    struct fx *f = *state;
    struct fxp_gap_report r;
    static const struct want_range want[] = {
        {"2024-03-03T22:00:00Z", "2024-03-03T22:02:00Z", 2, FXP_GAP_MISSING},
        {"2024-03-04T10:00:00Z", "2024-03-04T10:05:00Z", 5, FXP_GAP_REVIEW},
        {"2024-03-05T23:58:00Z", "2024-03-06T00:00:00Z", 2, FXP_GAP_MISSING},
        {"2024-03-06T00:00:00Z", "2024-03-06T00:03:00Z", 3, FXP_GAP_EMPTY},
        {"2024-03-07T00:00:00Z", "2024-03-08T00:00:00Z", 1440, FXP_GAP_REVIEW},
        {"2024-03-08T00:00:00Z", "2024-03-08T00:10:00Z", 10, FXP_GAP_MISSING},
        {"2024-03-08T21:57:00Z", "2024-03-08T22:00:00Z", 3, FXP_GAP_MISSING},
    };

    put_ledger(f, "2024-03-04T00:00:00Z", FXP_LEDGER_REVIEW);
    put_ledger(f, "2024-03-05T00:00:00Z", FXP_LEDGER_DOWNLOADED);
    put_ledger(f, "2024-03-06T00:00:00Z", FXP_LEDGER_VERIFIED);
    put_ledger(f, "2024-03-07T00:00:00Z", FXP_LEDGER_REVIEW);
    put_ledger(f, "2024-03-08T00:00:00Z", FXP_LEDGER_MISSING);
    detect(f, cal_none, "EURUSD", FXP_TF_1M, WEEK_FROM, WEEK_TO, false, &r);
    check_ranges(r.ranges, r.n_ranges, want, N_OF(want));
    assert_int_equal(r.missing, 2 + 2 + 10 + 3);
    assert_false(r.complete);
    fxp_gap_report_release(&r);
}

static void test_gaps__partial_days_are_clipped(void **state)
{
    struct fx *f = *state;
    struct fxp_gap_report r;
    static const struct want_range want1[] = {
        {"2024-03-04T10:02:00Z", "2024-03-04T10:05:00Z", 3, FXP_GAP_MISSING},
    };
    static const struct want_range want2[] = {
        {"2024-03-05T23:59:00Z", "2024-03-06T00:01:00Z", 2, FXP_GAP_MISSING},
    };

    detect(f, cal_none, "EURUSD", FXP_TF_1M, "2024-03-04T10:02:00Z",
           "2024-03-04T12:00:00Z", true, &r);
    check_ranges(r.ranges, r.n_ranges, want1, N_OF(want1));
    assert_int_equal(r.expected, 118);
    assert_int_equal(r.present, 115);
    assert_int_equal(r.n_days, 1);
    assert_int_equal(r.days[0].day_ms, T("2024-03-04T00:00:00Z"));
    assert_int_equal(r.days[0].expected, 118);
    fxp_gap_report_release(&r);

    detect(f, cal_none, "EURUSD", FXP_TF_1M, "2024-03-05T23:59:00Z",
           "2024-03-06T00:01:00Z", true, &r);
    check_ranges(r.ranges, r.n_ranges, want2, N_OF(want2));
    assert_int_equal(r.expected, 2);
    assert_int_equal(r.present, 0);
    assert_int_equal(r.n_days, 2);
    fxp_gap_report_release(&r);

    /* An empty interval: nothing expected, complete. */
    detect(f, cal_none, "EURUSD", FXP_TF_1M, "2024-03-05T00:00:00Z",
           "2024-03-05T00:00:00Z", true, &r);
    assert_int_equal(r.expected, 0);
    assert_int_equal(r.n_ranges, 0);
    assert_true(r.completeness == 1.0);
    assert_true(r.complete);
    fxp_gap_report_release(&r);
}

static void
test_gaps__every_timeframe_is_queried_with_its_own_bars(void **state)
{
    struct fx *f = *state;
    struct fxp_gap_report r;
    static const char *const hour_gap[][2] = {
        {"2024-03-06T12:00:00Z", "2024-03-06T13:00:00Z"}};
    static const char *const day_gap[][2] = {
        {"2024-03-05T00:00:00Z", "2024-03-06T00:00:00Z"}};
    static const struct want_range want_1h[] = {
        {"2024-03-06T12:00:00Z", "2024-03-06T13:00:00Z", 1, FXP_GAP_MISSING},
    };
    static const struct want_range want_1d[] = {
        {"2024-03-05T17:00:00-05:00", "2024-03-06T17:00:00-05:00", 1,
         FXP_GAP_MISSING},
    };

    /* GBPUSD 1h and 1d have their own gaps; EURUSD's 1m gaps are not
     * theirs (a hard-coded timeframe would mix them up). */
    write_series(f, f->gbp, FXP_TF_1H, WEEK_FROM, WEEK_TO, hour_gap, 1);
    write_series(f, f->gbp, FXP_TF_1D, WEEK_FROM, WEEK_TO, day_gap, 1);
    detect(f, cal_none, "GBPUSD", FXP_TF_1H, WEEK_FROM, WEEK_TO, false, &r);
    check_ranges(r.ranges, r.n_ranges, want_1h, N_OF(want_1h));
    assert_int_equal(r.expected, 120);
    assert_false(r.complete); /* intraday: 100% or not complete */
    fxp_gap_report_release(&r);

    detect(f, cal_none, "GBPUSD", FXP_TF_1D, WEEK_FROM, WEEK_TO, false, &r);
    check_ranges(r.ranges, r.n_ranges, want_1d, N_OF(want_1d));
    assert_int_equal(r.expected, 5);
    assert_int_equal(r.present, 4);
    assert_true(r.complete); /* daily: 4/5 = 80% */
    fxp_gap_report_release(&r);

    detect(f, cal_none, "GBPUSD", FXP_TF_4H, WEEK_FROM, WEEK_TO, false, &r);
    assert_int_equal(r.expected, 30);
    assert_int_equal(r.present, 0);
    assert_int_equal(r.n_ranges, 1); /* the whole week, one session */
    fxp_gap_report_release(&r);

    detect(f, cal_none, "GBPUSD", FXP_TF_1H, "2024-03-06T13:00:00Z", WEEK_TO,
           false, &r);
    assert_int_equal(r.n_ranges, 0);
    assert_true(r.complete);
    assert_true(r.completeness == 1.0);
    fxp_gap_report_release(&r);
}

static void
test_gaps__a_series_with_no_bars_is_one_range_per_session(void **state)
{
    struct fx *f = *state;
    struct fxp_gap_report r;
    static const struct want_range want[] = {
        {"2024-03-03T22:00:00Z", "2024-03-08T22:00:00Z", 7200, FXP_GAP_MISSING},
        {"2024-03-10T21:00:00Z", "2024-03-11T00:00:00Z", 180, FXP_GAP_MISSING},
    };

    detect(f, cal_none, "XAUUSD", FXP_TF_1M, WEEK_FROM, "2024-03-11T00:00Z",
           false, &r);
    check_ranges(r.ranges, r.n_ranges, want, N_OF(want));
    assert_int_equal(r.missing, 7380);
    assert_int_equal(r.present, 0);
    assert_true(r.completeness == 0.0);
    fxp_gap_report_release(&r);
}

static void exec_sql(struct fx *f, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

/* Original system item 2: a row with a NULL field is not a present bar. */
static void test_gaps__rows_with_null_fields_are_gaps(void **state)
{
    struct fx *f = *state;
    struct fxp_gap_report r;
    static const struct want_range want_gbp[] = {
        {"2024-03-05T12:00:00Z", "2024-03-05T12:01:00Z", 1, FXP_GAP_MISSING},
        {"2024-03-06T03:00:00Z", "2024-03-06T03:01:00Z", 1, FXP_GAP_MISSING},
    };
    static const struct want_range want_eur[] = {
        {"2024-03-05T12:00:00Z", "2024-03-05T12:01:00Z", 1, FXP_GAP_MISSING},
        {"2024-03-05T23:58:00Z", "2024-03-06T00:03:00Z", 5, FXP_GAP_MISSING},
    };

    write_series(f, f->gbp, FXP_TF_1M, WEEK_FROM, WEEK_TO, NULL, 0);
    /* Rows as another tool might leave them (1709640000000 is
     * 2024-03-05T12:00Z, 1709694000000 2024-03-06T03:00Z). */
    exec_sql(f, "UPDATE bars SET close = NULL WHERE timeframe = '1m' AND "
                "ts = 1709640000000;"
                "UPDATE bars SET volume = NULL WHERE symbol = 'GBPUSD' AND "
                "timeframe = '1m' AND ts = 1709694000000;");
    /* The coverage summary still counts the rows; recounting it makes the
     * days incomplete so that they are read. */
    assert_int_equal(fxp_store_rescan_coverage(f->s, "GBPUSD"), FXP_OK);
    detect(f, cal_none, "GBPUSD", FXP_TF_1M, WEEK_FROM, WEEK_TO, false, &r);
    check_ranges(r.ranges, r.n_ranges, want_gbp, N_OF(want_gbp));
    assert_int_equal(r.present, 7198);
    fxp_gap_report_release(&r);

    /* EURUSD's Tuesday has a gap, but its presence bitmap still marks the
     * row another tool blanked: a rescan (which drops the bitmaps) makes
     * detection read the rows and see it. */
    assert_int_equal(fxp_store_rescan_coverage(f->s, "EURUSD"), FXP_OK);
    detect(f, cal_none, "EURUSD", FXP_TF_1M, "2024-03-05T00:00:00Z",
           "2024-03-06T12:00:00Z", false, &r);
    check_ranges(r.ranges, r.n_ranges, want_eur, N_OF(want_eur));
    fxp_gap_report_release(&r);
}

static void test_gaps__rejects_bad_arguments(void **state)
{
    struct fx *f = *state;
    struct fxp_gap_report r;
    char err[128] = "";

    assert_int_equal(fxp_gaps_detect(f->s, cal_none, &al_ny, "EURUSD",
                                     FXP_TF_COUNT, 0, DAY, NULL, &r, err,
                                     sizeof err),
                     FXP_EINVAL);
    assert_int_equal(fxp_gaps_detect(f->s, cal_none, &al_ny,
                                     "A_VERY_LONG_SYMBOL_NAME", FXP_TF_1M, 0,
                                     DAY, NULL, &r, err, sizeof err),
                     FXP_EINVAL);
    assert_non_null(strstr(err, "A_VERY_LONG_SYMBOL_NAME"));
    fxp_gap_report_release(&r);
}

/* Detect over many chunks must equal one diff of the whole range:
 * 100 days of 1m bars with seeded random runs removed, some across
 * midnight, checked against fxp_gaps_diff on the full arrays. The dense
 * first 80 days are more than one chunk of drilled days; the sparse rest
 * has complete days, which are not read. */
static void test_gaps__detect_agrees_with_one_diff_over_100_days(void **state)
{
    struct fx *f = *state;
    int64_t from = T("2024-01-01T00:00:00Z"), to = from + 100 * DAY;
    size_t ne, np = 0;
    int64_t *e = expected_bars(cal_none, &al_ny, FXP_TF_1M, from, to, &ne);
    int64_t *p = malloc(ne * sizeof *p);
    uint32_t seed = 12345;

    assert_non_null(p);
    for (size_t i = 0; i < ne; i++) {
        seed = seed * 1103515245u + 12345u;
        /* Dense runs for 80 days (a drilled stretch longer than one
         * chunk), sparse ones after (complete days between). */
        unsigned per_100k = e[i] < from + 80 * DAY ? 300 : 15;
        if ((seed >> 8) % 100000 < per_100k) { /* a run of 1..400 bars */
            seed = seed * 1103515245u + 12345u;
            i += (seed >> 16) % 400;
            continue;
        }
        if (e[i] % DAY >= DAY - 2 * MIN || e[i] % DAY < 3 * MIN)
            if ((e[i] / DAY) % 7 == 2) /* some midnights */
                continue;
        p[np++] = e[i];
    }
    write_bars(f, f->gbp, FXP_TF_1M, p, np);

    struct fxp_gap_range *want = malloc(ne * sizeof *want);
    uint64_t missing = 0;
    assert_non_null(want);
    size_t n_want =
        fxp_gaps_diff(&al_ny, FXP_TF_1M, e, ne, p, np, want, ne, &missing);
    struct fxp_gap_report r;
    struct fxp_gaps_opts o;
    char err[256];
    fxp_gaps_opts_default(&o);
    assert_int_equal(fxp_gaps_detect(f->s, cal_none, &al_ny, "GBPUSD",
                                     FXP_TF_1M, from, to, &o, &r, err,
                                     sizeof err),
                     FXP_OK);
    /* Trading days without a missing bar (these are never read). */
    bool touched[101] = {false}, trading[101] = {false};
    for (size_t i = 0; i < ne; i++)
        trading[(e[i] - from) / DAY] = true;
    for (size_t i = 0; i < n_want; i++)
        for (int64_t t = want[i].start; t < want[i].end; t += MIN)
            touched[(t - from) / DAY] = true;
    int n_complete = 0;
    for (int k = 0; k < 100; k++)
        n_complete += trading[k] && !touched[k];
    print_message("100 days: %zu expected, %zu present, %zu ranges, "
                  "%d complete days\n",
                  ne, np, n_want, n_complete);
    assert_true(n_want > 50);
    assert_true(n_complete >= 5);
    assert_int_equal(r.n_ranges, n_want);
    for (size_t i = 0; i < n_want; i++) {
        assert_int_equal(r.ranges[i].start, want[i].start);
        assert_int_equal(r.ranges[i].end, want[i].end);
        assert_int_equal(r.ranges[i].bars, want[i].bars);
    }
    assert_int_equal(r.expected, ne);
    assert_int_equal(r.present, np);
    assert_int_equal(r.missing, missing);
    fxp_gap_report_release(&r);
    free(want);
    free(e);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gaps__diff_table),
        cmocka_unit_test(test_gaps__diff_ignores_extra_present_bars),
        cmocka_unit_test(test_gaps__diff_counts_ranges_beyond_cap),
        cmocka_unit_test(test_gaps__names_and_defaults),
        cmocka_unit_test_setup_teardown(
            test_gaps__detect_finds_the_exact_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_gaps__detect_never_reports_a_holiday, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_gaps__verified_days_are_confirmed_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_gaps__ledger_states_split_ranges_at_midnight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gaps__partial_days_are_clipped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_gaps__every_timeframe_is_queried_with_its_own_bars, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_gaps__a_series_with_no_bars_is_one_range_per_session, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_gaps__rows_with_null_fields_are_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gaps__rejects_bad_arguments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_gaps__detect_agrees_with_one_diff_over_100_days, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
