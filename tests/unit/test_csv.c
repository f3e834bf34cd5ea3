/*
 * test_csv.c - the tick CSV reader and its number parsers (csv.h).
 *
 * Files are written to mkstemp() names under $TMPDIR (or /tmp) and removed
 * by the test that made them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fxpipe/csv.h"
#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"

/* ------------------------------------------------------------------------
 * Helpers
 */

#define MAX_BAD 16

struct bad_line {
    uint64_t line_no;
    fxp_reason reason;
    char detail[192];
    char path[256];
};

struct bad_log {
    size_t n;
    struct bad_line b[MAX_BAD];
};

static void on_bad(void *ud, const char *path, uint64_t line_no,
                   fxp_reason reason, const char *detail)
{
    struct bad_log *log = ud;

    if (log->n < MAX_BAD) {
        struct bad_line *b = &log->b[log->n];
        b->line_no = line_no;
        b->reason = reason;
        snprintf(b->detail, sizeof b->detail, "%s", detail);
        snprintf(b->path, sizeof b->path, "%s", path);
    }
    log->n++;
}

/* Write text to a new temporary file; its name goes into path. */
static void write_temp(char *path, size_t len, const char *text, size_t n)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    snprintf(path, len, "%s/fxp_test_csv_XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

/* Read a whole CSV text through a temp file; returns the number of ticks
 * (at most cap) and the open status in *rc. */
static size_t read_text(const char *text, size_t buf_size, const char *symbol,
                        struct fxp_symtab *st, struct bad_log *log,
                        struct fxp_tick *out, size_t cap, int *rc, char *errbuf,
                        size_t errlen)
{
    char path[512];
    struct fxp_csv_opts opts = {symbol, on_bad, log, buf_size};
    struct fxp_csv_reader *r = NULL;
    size_t n = 0;

    write_temp(path, sizeof path, text, strlen(text));
    *rc = fxp_csv_open(path, &opts, st, &r, errbuf, errlen);
    if (*rc == FXP_OK) {
        for (;;) {
            int err;
            /* Small batches so batch edges are exercised too. */
            size_t want = cap - n < 3 ? cap - n : 3;
            size_t got = want ? fxp_csv_read(r, out + n, want, &err) : 0;

            if (want)
                assert_int_equal(err, FXP_OK);
            if (got == 0)
                break;
            n += got;
        }
        fxp_csv_close(r);
    }
    unlink(path);
    return n;
}

static void assert_same_double(double got, double want, const char *text)
{
    if (memcmp(&got, &want, sizeof got) != 0)
        fail_msg("'%s': got %.17g, want %.17g", text, got, want);
}

/* ------------------------------------------------------------------------
 * Numbers
 */

static const char *const good_numbers[] = {
    "0",
    "-0",
    "+0",
    "0.0",
    "1",
    "-3",
    "1.10427",
    "1.1042700",
    "0.1",
    "0.2",
    "0.3",
    ".5",
    "5.",
    "+1.5",
    "-1.5",
    "1e-5",
    "1E5",
    "1e+05",
    "1e0",
    "00001.5000",
    "0.000001",
    "123456.789",
    "145.123",
    "0.30000000000000004",
    "1.2345678901234567",
    "12345678901234567",
    "1.7976931348623157e308",
    "2.2250738585072014e-308",
    "4.9e-324",
    "5e-324",
    "2.4703282292062328e-324",
    "1e22",
    "1e23",
    "1e-22",
    "1e-23",
    "9007199254740992",
    "9007199254740993",
    "9007199254740993.0",
    "18446744073709551615",
    "18446744073709551616",
    "1234567890123456789",
    "12345678901234567890",
    "0.1234567890123456789",
    "123456789012345678901234567890",
    "1.1042700000000000000001",
    "1.00000000000000011102230246251565404236316680908203125",
    "1.00000000000000011102230246251565404236316680908203124",
    "8.98846567431158e307",
    "3.4028234663852886e38",
    "1e308",
    "1e309",
    "-1e309",
    "1e-400",
    "0e999",
    "0.0000000000000000000000000000001e31",
    "100000000000000000000000",
    "1.5e-10",
    "6.02214076e23",
    "9.999999999e-5",
    "0.000000000000000000000000001",
};

static void test_csv__parse_double_matches_strtod(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good_numbers / sizeof good_numbers[0]; i++) {
        const char *s = good_numbers[i];
        double got = -42.0;

        if (fxp_parse_double(s, strlen(s), &got) != FXP_OK)
            fail_msg("'%s': rejected", s);
        assert_same_double(got, strtod(s, NULL), s);
    }
}

static void test_csv__parse_double_rejects_garbage(void **state)
{
    static const char *const bad[] = {
        "",      "-",      "+",     ".",     "-.",    "e5",   ".e5", "1e",
        "1e+",   "1e-",    "1.2.3", "abc",   "0x1p3", "0X10", "1,5", " 1",
        "1 ",    "nan(1)", "infx",  "infin", "1e5x",  "--1",  "+-1", "1..2",
        "1e5.0", "1f",     "na",    "in",    "\t1",
    };
    char longnum[400];
    double d;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (fxp_parse_double(bad[i], strlen(bad[i]), &d) != FXP_EPARSE)
            fail_msg("'%s': accepted", bad[i]);
    /* Only len bytes are read: "1.5" of "1.5x" is fine, "1.5x" is not. */
    assert_int_equal(fxp_parse_double("1.5x", 3, &d), FXP_OK);
    assert_same_double(d, 1.5, "1.5");
    /* Text too long for the slow path is refused, not truncated. */
    memset(longnum, '1', sizeof longnum);
    longnum[1] = '.';
    assert_int_equal(fxp_parse_double(longnum, sizeof longnum, &d), FXP_EPARSE);
}

static void test_csv__parse_double_accepts_nan_and_inf(void **state)
{
    static const struct {
        const char *s;
        int kind; /* 0 nan, 1 +inf, -1 -inf */
    } cases[] = {
        {"nan", 0},      {"NaN", 0},        {"-nan", 0},  {"NAN", 0},
        {"inf", 1},      {"+Inf", 1},       {"-inf", -1}, {"infinity", 1},
        {"INFINITY", 1}, {"-Infinity", -1},
    };
    double d;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(fxp_parse_double(cases[i].s, strlen(cases[i].s), &d),
                         FXP_OK);
        if (cases[i].kind == 0)
            assert_true(isnan(d));
        else
            assert_true(isinf(d) && (d > 0) == (cases[i].kind > 0));
    }
}

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void test_csv__parse_double_random_decimals_match_strtod(void **state)
{
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    char s[64];

    (void)state;
    for (int iter = 0; iter < 300000; iter++) {
        size_t n = 0;
        int digits = 1 + (int)(rng_next(&x) % 22);
        int dot = (int)(rng_next(&x) % (uint64_t)(digits + 2)) - 1;
        double got;

        if (rng_next(&x) % 4 == 0)
            s[n++] = '-';
        for (int k = 0; k < digits; k++) {
            if (k == dot)
                s[n++] = '.';
            s[n++] = (char)('0' + rng_next(&x) % 10);
        }
        if (rng_next(&x) % 3 == 0)
            n += (size_t)snprintf(s + n, sizeof s - n, "e%d",
                                  (int)(rng_next(&x) % 80) - 40);
        s[n] = '\0';
        if (fxp_parse_double(s, n, &got) != FXP_OK)
            fail_msg("'%s': rejected", s);
        assert_same_double(got, strtod(s, NULL), s);
    }
}

static void test_csv__parse_double_prices_round_trip(void **state)
{
    uint64_t x = 12345;
    char s[64];

    (void)state;
    /* Every %.17g and %.5f text of a price reads back as strtod does. */
    for (int iter = 0; iter < 100000; iter++) {
        double px = (double)(rng_next(&x) % 20000000) / 100000.0;
        double got;
        int n = snprintf(s, sizeof s, iter % 2 ? "%.17g" : "%.5f", px);

        assert_int_equal(fxp_parse_double(s, (size_t)n, &got), FXP_OK);
        assert_same_double(got, strtod(s, NULL), s);
    }
}

static void test_csv__parse_int64_table(void **state)
{
    static const struct {
        const char *s;
        int rc;
        int64_t v;
    } cases[] = {
        {"0", FXP_OK, 0},
        {"-1", FXP_OK, -1},
        {"+5", FXP_OK, 5},
        {"1700000000000", FXP_OK, 1700000000000LL},
        {"0001", FXP_OK, 1},
        {"9223372036854775807", FXP_OK, INT64_MAX},
        {"-9223372036854775808", FXP_OK, INT64_MIN},
        {"9223372036854775808", FXP_EPARSE, 0},
        {"-9223372036854775809", FXP_EPARSE, 0},
        {"99999999999999999999999", FXP_EPARSE, 0},
        {"", FXP_EPARSE, 0},
        {"-", FXP_EPARSE, 0},
        {"1a", FXP_EPARSE, 0},
        {"1.0", FXP_EPARSE, 0},
        {" 1", FXP_EPARSE, 0},
        {"2024-01-02", FXP_EPARSE, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = 0;
        int rc = fxp_parse_int64(cases[i].s, strlen(cases[i].s), &v);

        if (rc != cases[i].rc || (rc == FXP_OK && v != cases[i].v))
            fail_msg("'%s': got %d %lld", cases[i].s, rc, (long long)v);
    }
}

/* ------------------------------------------------------------------------
 * Reader
 */

static void test_csv__reads_ticks_with_volume(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct bad_log log = {0};
    struct fxp_tick t[8];
    char errbuf[256];
    int rc;
    size_t n;

    (void)state;
    n = read_text("symbol,ts,bid,ask,volume\n"
                  "EUR/USD,1704067200000,1.10427,1.10429,2.5\n"
                  "C:GBPUSD,1704067200001,1.27,1.2702,\n"
                  "eurusd,1704067200002,1.1043,1.1044,0\n",
                  0, NULL, st, &log, t, 8, &rc, errbuf, sizeof errbuf);
    assert_int_equal(rc, FXP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(log.n, 0);
    assert_int_equal(t[0].ts_ms, 1704067200000LL);
    assert_same_double(t[0].bid, 1.10427, "bid");
    assert_same_double(t[0].ask, 1.10429, "ask");
    assert_same_double(t[0].volume, 2.5, "volume");
    assert_int_equal(t[0].flags, FXP_TICK_HAS_VOLUME);
    assert_int_equal(t[0].sym, 0);
    assert_int_equal(t[1].sym, 1);
    assert_int_equal(t[1].flags, 0); /* empty volume */
    assert_same_double(t[1].volume, 0.0, "volume");
    assert_int_equal(t[2].sym, 0);
    assert_int_equal(t[2].flags, FXP_TICK_HAS_VOLUME);
    assert_string_equal(fxp_symtab_name(st, 1), "GBPUSD");
    fxp_symtab_free(st);
}

static void test_csv__header_variants(void **state)
{
    static const struct {
        const char *text;
        const char *symbol;
    } cases[] = {
        {"Pair,Timestamp,BID,Ask\nEURUSD,1000,1.1,1.2\n", NULL},
        {"ticker,time,bid,ask\nEURUSD,1000,1.1,1.2\n", NULL},
        {"SYMBOL , TS , Bid , ASK\nEURUSD,1000,1.1,1.2\n", NULL},
        {"\"symbol\",\"ts\",\"bid\",\"ask\"\n\"EURUSD\",1000,1.1,1.2\n", NULL},
        {"ask,foo,bid,ts\n1.2,x,1.1,1000\n", "EUR/USD"},
        {"timestamp,bidPrice,askPrice,volume,extra\n1000,1.1,1.2,,z\n",
         "eurusd"},
        {"\n\nts,bid,ask\n1000,1.1,1.2\n", "EURUSD"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fxp_symtab *st = fxp_symtab_new(8);
        struct bad_log log = {0};
        struct fxp_tick t[2];
        char errbuf[256] = "";
        int rc;
        size_t n = read_text(cases[i].text, 0, cases[i].symbol, st, &log, t, 2,
                             &rc, errbuf, sizeof errbuf);

        if (rc != FXP_OK || n != 1 || log.n != 0)
            fail_msg("case %zu: rc %d n %zu bad %zu: %s", i, rc, n, log.n,
                     errbuf);
        assert_int_equal(t[0].ts_ms, 1000);
        assert_same_double(t[0].bid, 1.1, "bid");
        assert_same_double(t[0].ask, 1.2, "ask");
        assert_string_equal(fxp_symtab_name(st, t[0].sym), "EURUSD");
        fxp_symtab_free(st);
    }
}

static void test_csv__missing_column_names_it(void **state)
{
    static const struct {
        const char *text;
        const char *want; /* errbuf prefix, then the path follows */
    } cases[] = {
        {"symbol,ts,ask\nEURUSD,1,2\n", "no 'bid' column in header of '"},
        {"symbol,ts,bid\nEURUSD,1,2\n", "no 'ask' column in header of '"},
        {"symbol,bid,ask\nEURUSD,1,2\n", "no 'ts' column in header of '"},
        {"symbol,ts,bid,bid,ask\n", "duplicate 'bid' column ('bid') in "},
        {"ts,time,bid,ask\n", "duplicate 'ts' column ('time') in "},
        {"", "no header in '"},
        {"\n\r\n\n", "no header in '"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fxp_symtab *st = fxp_symtab_new(8);
        struct bad_log log = {0};
        struct fxp_tick t[2];
        char errbuf[256] = "";
        int rc;

        read_text(cases[i].text, 0, "EURUSD", st, &log, t, 2, &rc, errbuf,
                  sizeof errbuf);
        assert_int_equal(rc, FXP_EPARSE);
        if (strncmp(errbuf, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: '%s'", i, errbuf);
        assert_non_null(strstr(errbuf, "fxp_test_csv_"));
        fxp_symtab_free(st);
    }
}

static void test_csv__exact_missing_bid_message(void **state)
{
    static const char text[] = "symbol,ts,ask\n";
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_csv_reader *r = (struct fxp_csv_reader *)1;
    char errbuf[256];

    (void)state;
    assert_int_equal(fxp_csv_open_mem(text, sizeof text - 1, "ticks.csv", NULL,
                                      st, &r, errbuf, sizeof errbuf),
                     FXP_EPARSE);
    assert_null(r);
    assert_string_equal(errbuf, "no 'bid' column in header of 'ticks.csv'");
    fxp_symtab_free(st);
}

static void test_csv__symbol_required_from_file_or_options(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct bad_log log = {0};
    struct fxp_tick t[2];
    char errbuf[256] = "";
    int rc;

    (void)state;
    read_text("ts,bid,ask\n1,1.1,1.2\n", 0, NULL, st, &log, t, 2, &rc, errbuf,
              sizeof errbuf);
    assert_int_equal(rc, FXP_EINVAL);
    assert_non_null(strstr(errbuf, "no 'symbol' column"));
    read_text("ts,bid,ask\n1,1.1,1.2\n", 0, "EU", st, &log, t, 2, &rc, errbuf,
              sizeof errbuf);
    assert_int_equal(rc, FXP_EINVAL);
    assert_string_equal(errbuf, "unknown symbol format 'EU'");
    assert_int_equal(fxp_symtab_count(st), 0);
    fxp_symtab_free(st);
}

static void test_csv__crlf_and_bom(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct bad_log log = {0};
    struct fxp_tick t[4];
    char errbuf[256];
    int rc;
    size_t n;

    (void)state;
    n = read_text("\xEF\xBB\xBFsymbol,ts,bid,ask,volume\r\n"
                  "EURUSD,1000,1.1,1.2,3\r\n"
                  "\r\n"
                  "EURUSD,2000,1.3,1.4,\r\n"
                  "EURUSD,3000,1.5,1.6,7",
                  0, NULL, st, &log, t, 4, &rc, errbuf, sizeof errbuf);
    assert_int_equal(rc, FXP_OK);
    assert_int_equal(log.n, 0);
    assert_int_equal(n, 3);
    assert_int_equal(t[0].ts_ms, 1000);
    assert_same_double(t[0].volume, 3.0, "volume");
    assert_int_equal(t[1].flags, 0);
    assert_int_equal(t[2].ts_ms, 3000);
    assert_same_double(t[2].volume, 7.0, "volume");
    fxp_symtab_free(st);
}

static void test_csv__lines_cross_a_tiny_buffer(void **state)
{
    enum { N = 200 };
    static char text[N * 64];
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_tick small[N], big[N];
    struct bad_log log = {0};
    char errbuf[256];
    size_t len = 0, n_small, n_big;
    int rc;

    (void)state;
    len += (size_t)snprintf(text, sizeof text, "symbol,ts,bid,ask\n");
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(
            text + len, sizeof text - len, "%s,%d,1.%0*d,2.5\n",
            i % 3 ? "EUR/USD" : "USDJPY", 1000 + i, 1 + i % 17, i);
    n_small = read_text(text, 64, NULL, st, &log, small, N, &rc, errbuf,
                        sizeof errbuf);
    assert_int_equal(rc, FXP_OK);
    n_big =
        read_text(text, 0, NULL, st, &log, big, N, &rc, errbuf, sizeof errbuf);
    assert_int_equal(rc, FXP_OK);
    assert_int_equal(log.n, 0);
    assert_int_equal(n_small, N);
    assert_int_equal(n_big, N);
    assert_memory_equal(small, big, sizeof small);
    for (int i = 0; i < N; i++)
        assert_int_equal(small[i].ts_ms, 1000 + i);
    fxp_symtab_free(st);
}

static void test_csv__overlong_line_is_reported_and_skipped(void **state)
{
    char text[1024];
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct bad_log log = {0};
    struct fxp_tick t[4];
    char errbuf[256];
    char junk[201];
    size_t n;
    int rc;

    (void)state;
    memset(junk, '9', sizeof junk - 1);
    junk[sizeof junk - 1] = '\0';
    snprintf(text, sizeof text,
             "symbol,ts,bid,ask\n"
             "EURUSD,1000,1.1,1.2\n"
             "EURUSD,2000,1.1,1.%s\n"
             "EURUSD,3000,1.1,1.2\n"
             "EURUSD,4000,1.1,1.%s",
             junk, junk);
    n = read_text(text, 64, NULL, st, &log, t, 4, &rc, errbuf, sizeof errbuf);
    assert_int_equal(rc, FXP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(t[0].ts_ms, 1000);
    assert_int_equal(t[1].ts_ms, 3000);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.b[0].line_no, 3);
    assert_int_equal(log.b[0].reason, FXP_R_PARSE);
    assert_string_equal(log.b[0].detail, "line longer than the 64-byte buffer");
    assert_int_equal(log.b[1].line_no, 5);
    fxp_symtab_free(st);
}

static void test_csv__bad_lines_are_reported_with_line_numbers(void **state)
{
    static const char text[] =
        "symbol,ts,bid,ask,volume\n"         /* 1 */
        "EURUSD,1000,1.1,1.2,1\n"            /* 2 good */
        "EURUSD,2000,1.1\n"                  /* 3 field count */
        "EURUSD,3000,abc,1.2,1\n"            /* 4 bid */
        "\n"                                 /* 5 blank */
        "EURUSD,yesterday,1.1,1.2,1\n"       /* 6 ts */
        "EU,5000,1.1,1.2,1\n"                /* 7 symbol */
        "EURUSD,6000,1.1,1.2.3,1\n"          /* 8 ask */
        "EURUSD,7000,1.1,1.2,x\n"            /* 9 volume */
        "EURUSD,2024-13-01T00:00:00Z,1,2,\n" /* 10 ts range */
        "EURUSD,8000,nan,1.2,1\n"            /* 11 good: validator's job */
        "EURUSD,9000,1.1,1.2,1,extra\n"      /* 12 field count */
        "EURUSD,10000,1.1,1.2,1\n";          /* 13 good */
    static const struct {
        uint64_t line;
        fxp_reason reason;
        const char *detail;
    } want[] = {
        {3, FXP_R_PARSE, "expected 5 fields, got 3"},
        {4, FXP_R_PARSE, "column 'bid': not a number 'abc'"},
        {6, FXP_R_PARSE, "column 'ts': bad timestamp 'yesterday'"},
        {7, FXP_R_SYMBOL, "column 'symbol': unknown symbol format 'EU'"},
        {8, FXP_R_PARSE, "column 'ask': not a number '1.2.3'"},
        {9, FXP_R_PARSE, "column 'volume': not a number 'x'"},
        {10, FXP_R_PARSE,
         "column 'ts': timestamp out of range '2024-13-01T00:00:00Z'"},
        {12, FXP_R_PARSE, "expected 5 fields, got 6"},
    };
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_csv_opts opts = {NULL, on_bad, NULL, 0};
    struct fxp_csv_reader *r;
    struct bad_log log = {0};
    struct fxp_tick t[16];
    uint64_t line_nos[16];
    char errbuf[256];
    size_t n;
    int err;

    (void)state;
    opts.ud = &log;
    assert_int_equal(fxp_csv_open_mem(text, sizeof text - 1, "mem.csv", &opts,
                                      st, &r, errbuf, sizeof errbuf),
                     FXP_OK);
    n = fxp_csv_read_lines(r, t, line_nos, 16, &err);
    assert_int_equal(err, FXP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(line_nos[0], 2);
    assert_int_equal(line_nos[1], 11);
    assert_int_equal(line_nos[2], 13);
    assert_int_equal(t[0].ts_ms, 1000);
    assert_int_equal(t[1].ts_ms, 8000);
    assert_true(isnan(t[1].bid));
    assert_int_equal(t[2].ts_ms, 10000);
    assert_int_equal(fxp_csv_read(r, t, 16, &err), 0);
    assert_int_equal(err, FXP_OK);
    assert_int_equal(log.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < log.n; i++) {
        assert_int_equal(log.b[i].line_no, want[i].line);
        assert_int_equal(log.b[i].reason, want[i].reason);
        assert_string_equal(log.b[i].detail, want[i].detail);
        assert_string_equal(log.b[i].path, "mem.csv");
    }
    assert_int_equal(fxp_csv_lines(r), 13);
    assert_int_equal(fxp_csv_bad_lines(r), log.n);
    assert_int_equal(fxp_symtab_count(st), 1); /* "EU" was not added */
    fxp_csv_close(r);
    fxp_symtab_free(st);
}

static void test_csv__iso_timestamps(void **state)
{
    static const char text[] = "symbol,ts,bid,ask\n"
                               "EURUSD,2024-01-02T17:00:00Z,1.1,1.2\n"
                               "EURUSD,2024-01-02 17:00:00.123,1.1,1.2\n"
                               "EURUSD,2024-01-02T12:00:00-05:00,1.1,1.2\n"
                               "EURUSD,1704214800000,1.1,1.2\n";
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct bad_log log = {0};
    struct fxp_tick t[4];
    char errbuf[256];
    int rc;
    size_t n;
    int64_t base;

    (void)state;
    assert_int_equal(fxp_time_parse_str("2024-01-02T17:00:00Z", &base), FXP_OK);
    assert_int_equal(base, 1704214800000LL);
    n = read_text(text, 0, NULL, st, &log, t, 4, &rc, errbuf, sizeof errbuf);
    assert_int_equal(rc, FXP_OK);
    assert_int_equal(log.n, 0);
    assert_int_equal(n, 4);
    assert_int_equal(t[0].ts_ms, base);
    assert_int_equal(t[1].ts_ms, base + 123);
    assert_int_equal(t[2].ts_ms, base);
    assert_int_equal(t[3].ts_ms, base);
    fxp_symtab_free(st);
}

static void test_csv__full_symbol_table_is_a_bad_line(void **state)
{
    static const char text[] = "symbol,ts,bid,ask\n"
                               "EURUSD,1,1.1,1.2\n"
                               "GBPUSD,2,1.1,1.2\n"
                               "USDJPY,3,1.1,1.2\n"
                               "EURUSD,4,1.1,1.2\n";
    struct fxp_symtab *st = fxp_symtab_new(2);
    struct bad_log log = {0};
    struct fxp_tick t[4];
    char errbuf[256];
    int rc;
    size_t n;

    (void)state;
    n = read_text(text, 0, NULL, st, &log, t, 4, &rc, errbuf, sizeof errbuf);
    assert_int_equal(rc, FXP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.b[0].line_no, 4);
    assert_int_equal(log.b[0].reason, FXP_R_SYMBOL);
    assert_string_equal(log.b[0].detail, "column 'symbol': symbol table is "
                                         "full, cannot add 'USDJPY'");
    assert_int_equal(t[2].ts_ms, 4);
    fxp_symtab_free(st);
}

static void test_csv__memory_and_file_give_the_same_ticks(void **state)
{
    static const char text[] = "ts,bid,ask,volume\n"
                               "1,1.10427,1.10429,\n"
                               "2,1.10428,1.1043,4\n"
                               "3,1.10429,1.10431,\n";
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_csv_opts opts = {"EUR/USD", NULL, NULL, 24};
    struct fxp_csv_reader *r;
    struct fxp_tick a[4], b[4];
    struct bad_log log = {0};
    char errbuf[256];
    size_t n = 0, got;
    int rc, err;

    (void)state;
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    assert_int_equal(fxp_csv_open_mem(text, sizeof text - 1, NULL, &opts, st,
                                      &r, errbuf, sizeof errbuf),
                     FXP_OK);
    while ((got = fxp_csv_read(r, a + n, 1, &err)) > 0)
        n += got;
    assert_int_equal(err, FXP_OK);
    assert_int_equal(n, 3);
    fxp_csv_close(r);
    assert_int_equal(read_text(text, 24, "EUR/USD", st, &log, b, 4, &rc, errbuf,
                               sizeof errbuf),
                     3);
    assert_memory_equal(a, b, sizeof a);
    fxp_symtab_free(st);
}

static void test_csv__open_errors(void **state)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_csv_reader *r;
    char errbuf[256];
    const char *dir = getenv("TMPDIR");

    (void)state;
    assert_int_equal(fxp_csv_open("/nonexistent/fxp/ticks.csv", NULL, st, &r,
                                  errbuf, sizeof errbuf),
                     FXP_ENOENT);
    assert_null(r);
    assert_string_equal(errbuf, "cannot open '/nonexistent/fxp/ticks.csv': "
                                "No such file or directory");
    /* A directory opens but cannot be read. */
    assert_int_equal(fxp_csv_open(dir && *dir ? dir : "/tmp", NULL, st, &r,
                                  errbuf, sizeof errbuf),
                     FXP_EIO);
    assert_null(r);
    assert_non_null(strstr(errbuf, "cannot read '"));
    fxp_csv_close(NULL);
    fxp_symtab_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv__parse_double_matches_strtod),
        cmocka_unit_test(test_csv__parse_double_rejects_garbage),
        cmocka_unit_test(test_csv__parse_double_accepts_nan_and_inf),
        cmocka_unit_test(test_csv__parse_double_random_decimals_match_strtod),
        cmocka_unit_test(test_csv__parse_double_prices_round_trip),
        cmocka_unit_test(test_csv__parse_int64_table),
        cmocka_unit_test(test_csv__reads_ticks_with_volume),
        cmocka_unit_test(test_csv__header_variants),
        cmocka_unit_test(test_csv__missing_column_names_it),
        cmocka_unit_test(test_csv__exact_missing_bid_message),
        cmocka_unit_test(test_csv__symbol_required_from_file_or_options),
        cmocka_unit_test(test_csv__crlf_and_bom),
        cmocka_unit_test(test_csv__lines_cross_a_tiny_buffer),
        cmocka_unit_test(test_csv__overlong_line_is_reported_and_skipped),
        cmocka_unit_test(test_csv__bad_lines_are_reported_with_line_numbers),
        cmocka_unit_test(test_csv__iso_timestamps),
        cmocka_unit_test(test_csv__full_symbol_table_is_a_bad_line),
        cmocka_unit_test(test_csv__memory_and_file_give_the_same_ticks),
        cmocka_unit_test(test_csv__open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
